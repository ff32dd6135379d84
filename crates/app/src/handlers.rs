//! Job handlers registered by the binary.

use std::sync::Arc;

use async_trait::async_trait;
use myqcm_domain::ports::{Mailer, OutgoingMail};
use myqcm_jobs::{JobContext, JobHandler};

/// `mail.send`: delivers one rendered message through the mail port. Enqueued in the same
/// transaction as the change that causes the mail, so a rolled-back change sends nothing.
pub struct MailJob {
    /// Where mail goes.
    pub mailer: Arc<dyn Mailer>,
}

impl MailJob {
    /// The job kind.
    pub const KIND: &'static str = "mail.send";
}

#[derive(serde::Deserialize)]
struct Payload {
    to: String,
    subject: String,
    text: String,
    html: Option<String>,
}

#[async_trait]
impl JobHandler for MailJob {
    async fn run(&self, payload: serde_json::Value, _ctx: JobContext) -> anyhow::Result<()> {
        let p: Payload = serde_json::from_value(payload)?;
        self.mailer
            .send(&OutgoingMail {
                to: p.to,
                subject: p.subject,
                text: p.text,
                html: p.html,
            })
            .await?;
        Ok(())
    }
}
