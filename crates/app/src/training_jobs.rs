//! `training.expire_abandoned`: the hourly close of training sessions left open and idle for
//! longer than the training settings allow (their open item counts as skipped);
//! `calibration.run`: calibration from the database into a candidate parameter set;
//! `calibration.recompute`: learner θ and mastery recomputed under a newly published set.

use async_trait::async_trait;
use myqcm_jobs::{JobContext, JobHandler};
use myqcm_services::calibration::{
    CALIBRATION_JOB, Calibration, CalibrationError, CalibrationOptions, RECOMPUTE_JOB,
    RecomputeOutcome,
};
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

/// `calibration.run`: calibration from the graded attempts into a candidate parameter set
/// (never made active), reporting its progress through the job. Recurring every
/// `MYQCM_CALIBRATION_EVERY_HOURS` when that is set (off by default). The payload may carry
/// `min_responses` and `min_kc_observations`.
pub struct CalibrationJob {
    /// The calibration use case.
    pub calibration: Calibration,
}

impl CalibrationJob {
    /// The job kind (and schedule name).
    pub const KIND: &'static str = CALIBRATION_JOB;

    fn options(payload: &serde_json::Value) -> CalibrationOptions {
        let d = CalibrationOptions::default();
        let get = |k: &str, v: usize| {
            payload
                .get(k)
                .and_then(serde_json::Value::as_u64)
                .map_or(v, |n| usize::try_from(n).unwrap_or(v))
        };
        CalibrationOptions {
            min_responses: get("min_responses", d.min_responses),
            min_kc_observations: get("min_kc_observations", d.min_kc_observations),
            ..d
        }
    }
}

#[async_trait]
impl JobHandler for CalibrationJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let progress_ctx = ctx.clone();
        let progress = move |fraction: f64, message: &str| {
            progress_ctx.set_progress(fraction, message);
            !progress_ctx.is_cancelled()
        };
        match self
            .calibration
            .run(Self::options(&payload), &progress)
            .await
        {
            Ok(r) => {
                ctx.progress(
                    1.0,
                    format!("candidate parameter set {}", r.parameter_set_id),
                )
                .await?;
                tracing::info!(
                    set = r.parameter_set_id,
                    attempts = r.attempts,
                    items_fitted = r.items_fitted,
                    converged = r.converged,
                    "calibration candidate written"
                );
                Ok(())
            }
            // Nothing answered yet: a quiet night, not a failure to retry.
            Err(CalibrationError::NoData) => {
                ctx.progress(1.0, "no graded attempt: nothing to calibrate")
                    .await?;
                Ok(())
            }
            // Cancelled by an admin: the checkpoint reports it to the worker.
            Err(CalibrationError::Stopped) => {
                ctx.checkpoint().await?;
                anyhow::bail!("calibration stopped")
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// `calibration.recompute`: after `myqcm params publish`, every learner's θ and KC mastery
/// replayed under the published set (payload `{"parameter_set_id": id}`), page by page with the
/// cursor in the set's notes, so a retry after a crash or a lost lease continues where the last
/// page ended; progress and cancellation through the job.
pub struct RecomputeJob {
    /// The calibration use cases.
    pub calibration: Calibration,
}

impl RecomputeJob {
    /// The job kind.
    pub const KIND: &'static str = RECOMPUTE_JOB;
}

#[async_trait]
impl JobHandler for RecomputeJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let set = payload
            .get("parameter_set_id")
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| anyhow::anyhow!("payload without parameter_set_id"))?;
        let progress_ctx = ctx.clone();
        let progress = move |fraction: f64, message: &str| {
            progress_ctx.set_progress(fraction, message);
            !progress_ctx.is_cancelled()
        };
        match self.calibration.recompute(set, &progress).await {
            Ok(RecomputeOutcome::Done { learners, .. }) => {
                ctx.progress(
                    1.0,
                    format!("{learners} learners recomputed under set {set}"),
                )
                .await?;
                tracing::info!(set, learners, "learner state recomputed");
                Ok(())
            }
            Ok(RecomputeOutcome::Superseded { active, .. }) => {
                ctx.progress(
                    1.0,
                    format!("set {set} is no longer in use (set {active} is): nothing to do"),
                )
                .await?;
                Ok(())
            }
            Err(CalibrationError::Stopped) => {
                ctx.checkpoint().await?;
                anyhow::bail!("recomputation stopped")
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// `quality.scan`: the daily item-quality scan (likely miskeys, possible leaks, drift, DIF of
/// linked translations) that keeps the review queue's alerts, with progress through the job.
/// The payload may carry `min_n` (fewest graded answers before an item is judged).
pub struct QualityScanJob {
    /// The database.
    pub db: myqcm_db::DatabaseConnection,
    /// The clock.
    pub clock: std::sync::Arc<dyn myqcm_domain::Clock>,
}

impl QualityScanJob {
    /// The job kind (and schedule name).
    pub const KIND: &'static str = myqcm_services::catalogue::quality::SCAN_JOB;
}

#[async_trait]
impl JobHandler for QualityScanJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let mut rules = myqcm_psychometrics::quality::AlertRules::default();
        if let Some(n) = payload.get("min_n").and_then(serde_json::Value::as_u64) {
            rules.min_n = usize::try_from(n.max(2)).unwrap_or(rules.min_n);
        }
        let progress_ctx = ctx.clone();
        let progress = move |fraction: f64, message: &str| {
            progress_ctx.set_progress(fraction, message);
            !progress_ctx.is_cancelled()
        };
        let report =
            myqcm_services::catalogue::quality::scan(&self.db, &rules, self.clock.now(), &progress)
                .await;
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                ctx.checkpoint().await?;
                return Err(e.into());
            }
        };
        ctx.progress(
            1.0,
            format!(
                "{} items analysed, {} alerts raised, {} cleared",
                report.items,
                report.raised.values().sum::<usize>(),
                report.cleared
            ),
        )
        .await?;
        tracing::info!(items = report.items, cleared = report.cleared, raised = ?report.raised, "item quality scanned");
        Ok(())
    }
}
