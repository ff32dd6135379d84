//! `jobs.purge`: deletes finished jobs (`done`, `cancelled`, `dead`) some days after they
//! finished, so payloads, which may hold personal data (addresses, names in mail), do not stay
//! in the table for ever. Runs hourly from a schedule whose payload carries the retention,
//! written from the configuration at start.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use myqcm_db::jobs;
use myqcm_db::{DatabaseConnection, DbError};

use crate::{JobContext, JobHandler};

/// The handler.
pub struct PurgeJob {
    /// Database.
    pub db: DatabaseConnection,
}

impl PurgeJob {
    /// The job kind (and schedule name).
    pub const KIND: &'static str = "jobs.purge";

    /// Rows deleted per statement; the handler checkpoints between batches.
    pub const BATCH: u64 = 1000;

    /// Retention used when the payload does not say.
    pub const DEFAULT_RETENTION_DAYS: u32 = 14;

    /// The handler over `db`, ready to register.
    pub fn handler(db: DatabaseConnection) -> Arc<dyn JobHandler> {
        Arc::new(Self { db })
    }

    /// The schedule payload for a retention of `retention_days`.
    pub fn payload(retention_days: u32) -> serde_json::Value {
        serde_json::json!({ "retention_days": retention_days })
    }

    /// Declares (or updates) the hourly schedule, first run at `now`.
    pub async fn schedule(
        db: &DatabaseConnection,
        retention_days: u32,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        jobs::upsert_schedule(
            db,
            Self::KIND,
            Self::KIND,
            &Self::payload(retention_days),
            Duration::hours(1),
            now,
        )
        .await
    }
}

#[async_trait]
impl JobHandler for PurgeJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let days = payload["retention_days"]
            .as_u64()
            .and_then(|d| i64::try_from(d).ok())
            .unwrap_or(i64::from(Self::DEFAULT_RETENTION_DAYS))
            .max(1);
        let before = ctx.now() - Duration::days(days);
        let mut purged = 0;
        loop {
            let n = jobs::purge_finished(&self.db, before, Self::BATCH).await?;
            purged += n;
            if n < Self::BATCH {
                break;
            }
            ctx.checkpoint().await?;
        }
        tracing::info!(purged, retention_days = days, "finished jobs purged");
        Ok(())
    }
}
