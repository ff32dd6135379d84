//! `payments.reconcile`: every five minutes, online payment intents left open without a
//! webhook are re-read from the payment provider and settled, or expired once their checkout
//! is too old (`myqcm_services::commerce::payments::Payments::reconcile`). Registered and
//! scheduled only when `MYQCM_CHARGILY_MODE` is set.

use std::sync::Arc;

use async_trait::async_trait;
use myqcm_domain::payments::PaymentMode;
use myqcm_integrations::chargily::{Chargily, ChargilySettings};
use myqcm_jobs::{JobContext, JobHandler};
use myqcm_services::commerce::payments::{Payments, RECONCILE_JOB};

use crate::Config;

/// The handler.
pub struct ReconcilePaymentsJob {
    /// The payment use cases.
    pub payments: Payments,
}

impl ReconcilePaymentsJob {
    /// The job kind (and schedule name).
    pub const KIND: &'static str = RECONCILE_JOB;
    /// How often it runs.
    pub const EVERY_MINUTES: i64 = 5;
}

#[async_trait]
impl JobHandler for ReconcilePaymentsJob {
    async fn run(&self, _payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let r = self.payments.reconcile().await?;
        ctx.progress(
            1.0,
            format!(
                "{} looked at, {} granted, {} closed, {} quarantined, {} provider errors",
                r.looked_at, r.granted, r.closed, r.quarantined, r.errors
            ),
        )
        .await?;
        Ok(())
    }
}

/// The Chargily client and mode when `MYQCM_CHARGILY_MODE` is set.
///
/// # Errors
/// When the HTTP client cannot be built.
pub fn chargily(config: &Config) -> anyhow::Result<Option<(Arc<Chargily>, PaymentMode)>> {
    let Some(mode) = config
        .settings
        .chargily_mode
        .as_deref()
        .and_then(PaymentMode::parse)
    else {
        return Ok(None);
    };
    let settings = ChargilySettings::new(
        mode,
        config
            .settings
            .chargily_secret_key
            .expose()
            .trim()
            .to_owned(),
        config.settings.chargily_api_base.clone(),
    );
    let client = Chargily::new(settings).map_err(|e| anyhow::anyhow!("Chargily client: {e}"))?;
    Ok(Some((Arc::new(client), mode)))
}
