//! The background worker: handlers registered by kind, a claim–run–record loop over the job
//! table, retries with exponential backoff and jitter, recurring schedules and the lease reaper.
//!
//! Time comes from the `Clock` port. Tests call [`Worker::tick`] or [`Worker::drain`] and move a
//! fixed clock; only the production loop ([`Worker::run`]) waits between polls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::jobs::{self, FailOutcome, JobRow};
use myqcm_domain::Clock;
use tokio::sync::watch;
use tracing::Instrument;

/// What a handler is given besides its payload.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job's id.
    pub job_id: i64,
    /// Which attempt this is (1 for the first).
    pub attempt: i32,
}

/// Code that runs one kind of job. Handlers must be safe to run twice: a worker may die after
/// the work but before recording success, and the job then runs again.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Does the work; an error schedules a retry (or buries the job after its last attempt).
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()>;
}

/// Handlers by kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `kind`, replacing any previous one.
    pub fn register(&mut self, kind: &str, handler: Arc<dyn JobHandler>) -> &mut Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }
}

/// Worker tuning.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a claim is held before the reaper may give the job to someone else.
    pub lease: Duration,
    /// First retry delay; doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// Pause between polls when the queue is empty (production loop only).
    pub poll_interval: StdDuration,
    /// On shutdown, how long a running job may take to finish before it is released.
    pub shutdown_grace: StdDuration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            backoff_base: Duration::seconds(10),
            backoff_cap: Duration::hours(1),
            poll_interval: StdDuration::from_secs(1),
            shutdown_grace: StdDuration::from_secs(20),
        }
    }
}

/// What one step of the worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// Nothing was due.
    Idle,
    /// A job ran and succeeded.
    Done(i64),
    /// A job failed and will be retried at the given time.
    Retry(i64, DateTime<Utc>),
    /// A job failed for the last time.
    Dead(i64),
    /// The job's lease was lost while it ran (another worker may have it now).
    LeaseLost(i64),
    /// Shutdown arrived and the job did not finish within the grace period; it was released.
    Released(i64),
}

/// One worker identity polling the shared job table.
pub struct Worker {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    registry: Arc<Registry>,
    config: WorkerConfig,
    id: String,
}

/// Delay before retry number `attempt` (1-based): `min(cap, base · 2^(attempt−1))`, scaled by a
/// jitter factor in [0.5, 1.0) drawn deterministically from the job id and attempt, so
/// simultaneous failures do not retry in lockstep.
pub fn backoff(config: &WorkerConfig, job_id: i64, attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base_ms = config.backoff_base.num_milliseconds().max(1);
    let raw = base_ms
        .saturating_mul(1_i64 << exp)
        .min(config.backoff_cap.num_milliseconds());
    let seed = (job_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (attempt as u64);
    let u = (splitmix64(seed) >> 11) as f64 / (1u64 << 53) as f64;
    #[expect(
        clippy::cast_possible_truncation,
        reason = "bounded by the cap, far below i64::MAX"
    )]
    let ms = (raw as f64 * (0.5 + 0.5 * u)) as i64;
    Duration::milliseconds(ms.max(1))
}

/// Resolves once the shutdown flag turns true (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await.map(|_| ());
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Worker {
    /// A worker with a fresh random identity.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        registry: Arc<Registry>,
        config: WorkerConfig,
    ) -> Self {
        let id = format!("worker-{}", uuid::Uuid::new_v4().simple());
        Self {
            db,
            clock,
            registry,
            config,
            id,
        }
    }

    /// This worker's identity (stored in `locked_by`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reaps expired leases, enqueues due schedules, then claims and runs at most one job.
    pub async fn tick(&self) -> anyhow::Result<Tick> {
        let (_tx, rx) = watch::channel(false);
        self.tick_with_shutdown(rx).await
    }

    /// Ticks until nothing is due (tests and one-shot runs). Returns the ticks that did work.
    pub async fn drain(&self) -> anyhow::Result<Vec<Tick>> {
        let mut out = Vec::new();
        loop {
            match self.tick().await? {
                Tick::Idle => return Ok(out),
                t => out.push(t),
            }
        }
    }

    async fn tick_with_shutdown(&self, shutdown: watch::Receiver<bool>) -> anyhow::Result<Tick> {
        let now = self.clock.now();
        let reaped = jobs::reap_expired(&self.db, now).await?;
        if reaped > 0 {
            tracing::warn!(reaped, "re-queued jobs whose lease expired");
            metrics::counter!("myqcm_jobs_reaped_total").increment(reaped);
        }
        jobs::enqueue_due_schedules(&self.db, now).await?;
        let Some(job) = jobs::claim(&self.db, &self.id, now, self.config.lease).await? else {
            return Ok(Tick::Idle);
        };
        self.execute(job, shutdown).await
    }

    async fn execute(&self, job: JobRow, shutdown: watch::Receiver<bool>) -> anyhow::Result<Tick> {
        let span =
            tracing::info_span!("job", job_id = job.id, kind = %job.kind, attempt = job.attempts);
        self.execute_in_span(job, shutdown).instrument(span).await
    }

    async fn execute_in_span(
        &self,
        job: JobRow,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Tick> {
        let id = job.id;
        let kind = job.kind.clone();
        let ctx = JobContext {
            job_id: id,
            attempt: job.attempts,
        };
        let started = std::time::Instant::now();
        let result = match self.registry.handlers.get(&kind).cloned() {
            None => Err(anyhow::anyhow!(
                "no handler registered for job kind {kind:?}"
            )),
            Some(handler) => {
                let run = handler.run(job.payload.clone(), ctx);
                tokio::pin!(run);
                tokio::select! {
                    r = &mut run => r,
                    _ = stopped(&mut shutdown) => {
                        match tokio::time::timeout(self.config.shutdown_grace, &mut run).await {
                            Ok(r) => r,
                            Err(_) => {
                                jobs::release(&self.db, id, &self.id, self.clock.now()).await?;
                                tracing::warn!("shutdown: job released unfinished");
                                return Ok(Tick::Released(id));
                            }
                        }
                    }
                }
            }
        };
        metrics::histogram!("myqcm_job_duration_seconds", "kind" => kind.clone())
            .record(started.elapsed().as_secs_f64());
        let now = self.clock.now();
        match result {
            Ok(()) => {
                metrics::counter!("myqcm_jobs_completed_total", "kind" => kind).increment(1);
                if jobs::complete(&self.db, id, &self.id, now).await? {
                    Ok(Tick::Done(id))
                } else {
                    Ok(Tick::LeaseLost(id))
                }
            }
            Err(e) => {
                let message = format!("{e:#}");
                metrics::counter!("myqcm_jobs_failed_total", "kind" => kind).increment(1);
                let retry_at = now + backoff(&self.config, id, job.attempts);
                match jobs::fail(&self.db, id, &self.id, &message, retry_at, now).await? {
                    FailOutcome::Retry(at) => {
                        tracing::warn!(error = %message, retry_at = %at, "job failed; will retry");
                        Ok(Tick::Retry(id, at))
                    }
                    FailOutcome::Dead => {
                        tracing::error!(error = %message, "job failed for the last time");
                        metrics::counter!("myqcm_jobs_dead_total").increment(1);
                        Ok(Tick::Dead(id))
                    }
                    FailOutcome::LeaseLost => Ok(Tick::LeaseLost(id)),
                }
            }
        }
    }

    /// The production loop: tick, and pause `poll_interval` whenever the queue is idle, until
    /// `shutdown` turns true. A job running at shutdown gets `shutdown_grace` to finish and is
    /// otherwise released for another worker.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, kinds = ?self.registry.kinds(), "worker started");
        while !*shutdown.borrow() {
            match self.tick_with_shutdown(shutdown.clone()).await {
                Ok(Tick::Idle) => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                        _ = stopped(&mut shutdown) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "worker tick failed");
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll_interval * 5) => {}
                        _ = stopped(&mut shutdown) => {}
                    }
                }
            }
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let c = WorkerConfig::default();
        for attempt in 1..=12 {
            let d = backoff(&c, 7, attempt).num_milliseconds();
            let nominal = (10_000_i64 << (attempt - 1)).min(3_600_000);
            assert!(
                d >= nominal / 2 && d < nominal,
                "attempt {attempt}: {d} vs {nominal}"
            );
        }
        // Different jobs failing together spread out.
        let spread: std::collections::HashSet<i64> = (0..20)
            .map(|id| backoff(&c, id, 3).num_milliseconds())
            .collect();
        assert!(spread.len() > 15);
    }
}
