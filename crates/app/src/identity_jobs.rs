//! `identity.maintenance`: hourly erasure of accounts whose deletion grace period ended, and
//! the retention purge of old sign-in sessions (with their IPs) and audit rows. The periods
//! travel in the schedule's payload, written from the configuration at start.

use std::sync::Arc;

use async_trait::async_trait;
use myqcm_db::DatabaseConnection;
use myqcm_domain::Clock;
use myqcm_domain::ports::Cache;
use myqcm_jobs::{JobContext, JobHandler};
use myqcm_services::identity::{Deps, IdentityConfig, privacy};

/// The handler.
pub struct IdentityMaintenanceJob {
    /// Database.
    pub db: DatabaseConnection,
    /// Cache (sessions dropped by erasure).
    pub cache: Arc<dyn Cache>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

impl IdentityMaintenanceJob {
    /// The job kind (and schedule name).
    pub const KIND: &'static str = "identity.maintenance";

    /// The schedule payload for `config`.
    pub fn payload(config: &IdentityConfig) -> serde_json::Value {
        serde_json::json!({
            "deletion_grace_days": config.deletion_grace_days,
            "session_retention_days": config.session_retention_days,
            "audit_retention_days": config.audit_retention_days,
        })
    }
}

fn days(v: &serde_json::Value, key: &str, default: u32) -> u32 {
    v[key]
        .as_u64()
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(default)
}

#[async_trait]
impl JobHandler for IdentityMaintenanceJob {
    async fn run(&self, payload: serde_json::Value, _ctx: JobContext) -> anyhow::Result<()> {
        let mut config = IdentityConfig::new(b"maintenance", url::Url::parse("http://localhost/")?);
        config.deletion_grace_days =
            days(&payload, "deletion_grace_days", config.deletion_grace_days);
        config.session_retention_days = days(
            &payload,
            "session_retention_days",
            config.session_retention_days,
        );
        config.audit_retention_days = days(
            &payload,
            "audit_retention_days",
            config.audit_retention_days,
        );
        let deps = Deps {
            db: self.db.clone(),
            cache: self.cache.clone(),
            clock: self.clock.clone(),
            config: Arc::new(config),
        };
        let erased = privacy::erase_due(&deps).await?;
        let (sessions, audit) = privacy::apply_retention(&deps).await?;
        tracing::info!(erased, sessions, audit, "identity maintenance done");
        Ok(())
    }
}

/// `identity.mail_request`: carries out a password reset or verification resend request
/// (looks the address up, issues the token, queues the mail), so the request itself does the
/// same work for known and unknown addresses.
pub struct MailRequestJob {
    /// What the identity use cases need.
    pub deps: Deps,
}

impl MailRequestJob {
    /// The job kind.
    pub const KIND: &'static str = myqcm_services::identity::flows::MAIL_REQUEST_JOB;
}

#[async_trait]
impl JobHandler for MailRequestJob {
    async fn run(&self, payload: serde_json::Value, _ctx: JobContext) -> anyhow::Result<()> {
        myqcm_services::identity::flows::run_mail_request(&self.deps, &payload).await?;
        Ok(())
    }
}
