//! Job handlers registered by the binary.

use std::sync::Arc;

use async_trait::async_trait;
use myqcm_db::DatabaseConnection;
use myqcm_domain::ports::Mailer;
use myqcm_jobs::{JobContext, JobHandler};
use myqcm_services::identity::mail;

/// `mail.send`: delivers one queued message through the mail port. Enqueued sealed in the same
/// transaction as the change that causes the mail, so a rolled-back change sends nothing; the
/// payload is opened here and replaced by a "delivered" marker once sent
/// (`myqcm_services::identity::mail::deliver`).
pub struct MailJob {
    /// Where mail goes.
    pub mailer: Arc<dyn Mailer>,
    /// Database (to drop the delivered payload).
    pub db: DatabaseConnection,
    /// Key the payloads are sealed under (`seal:mail`).
    pub key: [u8; 32],
}

impl MailJob {
    /// The job kind.
    pub const KIND: &'static str = mail::JOB_KIND;
}

#[async_trait]
impl JobHandler for MailJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        mail::deliver(
            &self.db,
            self.mailer.as_ref(),
            &self.key,
            ctx.job_id,
            &payload,
            ctx.now(),
        )
        .await?;
        Ok(())
    }
}
