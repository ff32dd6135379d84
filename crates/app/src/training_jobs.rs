//! `training.expire_abandoned`: the hourly close of training sessions left open and idle for
//! longer than the training settings allow (their open item counts as skipped).

use async_trait::async_trait;
use myqcm_jobs::{JobContext, JobHandler};
use myqcm_services::training::{EXPIRE_JOB, Training};

/// The handler.
pub struct ExpireSessionsJob {
    /// The training use cases.
    pub training: Training,
}

impl ExpireSessionsJob {
    /// The job kind (and schedule name).
    pub const KIND: &'static str = EXPIRE_JOB;
}

#[async_trait]
impl JobHandler for ExpireSessionsJob {
    async fn run(&self, _payload: serde_json::Value, _ctx: JobContext) -> anyhow::Result<()> {
        let expired = self.training.expire_abandoned().await?;
        tracing::info!(expired, "abandoned training sessions expired");
        Ok(())
    }
}
