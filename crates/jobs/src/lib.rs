//! The background worker: handlers registered by kind, a claim–run–record loop over the job
//! table, several jobs at once with a per-kind limit, lease heartbeats, progress, cancellation
//! at checkpoints, retries with exponential backoff and jitter, recurring schedules, the lease
//! reaper, the `myqcm_jobs{status}` gauge and the purge of finished jobs.
//!
//! Time comes from the `Clock` port. Tests call [`Worker::tick`], [`Worker::drain`] or
//! [`Worker::start`] and move a fixed clock; only the production loop ([`Worker::run`]) and the
//! background heartbeat wait on the real clock.

mod context;
pub mod purge;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::jobs::{self, FailOutcome, JobRow, JobStatus};
use myqcm_domain::Clock;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

pub use context::{Interrupted, JobContext};
pub use myqcm_db::jobs::Progress;
pub use purge::PurgeJob;

/// Code that runs one kind of job. Handlers must be safe to run twice: a worker may die after
/// the work but before recording success, and the job then runs again.
///
/// A long handler reports progress and checks for cancellation through its [`JobContext`]
/// (`ctx.progress(f, msg).await?` or `ctx.checkpoint().await?` between units of work).
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Does the work; an error schedules a retry (or buries the job after its last attempt).
    /// Returning [`Interrupted::Cancelled`] (from a checkpoint) ends the job `cancelled`.
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()>;
}

/// Handlers by kind, and how many jobs of a kind one worker may run at once.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    limits: HashMap<String, usize>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `kind`, replacing any previous one. Without a limit, jobs of the
    /// kind may take every slot of the worker (fine for short jobs such as `mail.send`).
    pub fn register(&mut self, kind: &str, handler: Arc<dyn JobHandler>) -> &mut Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// At most `max_running` jobs of `kind` run at once in one worker; while that many run,
    /// claiming passes over the kind, so other kinds keep moving. Give long kinds (imports,
    /// calibration, AI generation) a limit of 1.
    pub fn limit(&mut self, kind: &str, max_running: usize) -> &mut Self {
        self.limits.insert(kind.to_owned(), max_running.max(1));
        self
    }

    /// The limit of `kind`, if any.
    pub fn limit_of(&self, kind: &str) -> Option<usize> {
        self.limits.get(kind).copied()
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
    /// How long a claim is held without a heartbeat before the reaper may give the job to
    /// someone else.
    pub lease: Duration,
    /// Real time between background heartbeats of a running job (well under `lease`).
    pub heartbeat_every: StdDuration,
    /// Clock time a checkpoint waits after the last write before it writes again; checkpoints
    /// in between answer from what is already known.
    pub checkpoint_every: Duration,
    /// First retry delay; doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// Pause between polls when the queue is empty (production loop only).
    pub poll_interval: StdDuration,
    /// On shutdown, how long a running job may take to finish before it is released.
    pub shutdown_grace: StdDuration,
    /// Jobs one worker runs at once (the production loop; `tick` runs one at a time).
    pub concurrency: usize,
    /// Clock time between refreshes of the `myqcm_jobs{status}` gauge.
    pub gauges_every: Duration,
    /// Where progress and ends are announced live (the cache port's publish/subscribe, on
    /// [`myqcm_db::jobs::events_channel`]); `None` announces nothing.
    pub events: Option<Arc<dyn myqcm_domain::ports::Cache>>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            heartbeat_every: StdDuration::from_secs(60),
            checkpoint_every: Duration::seconds(1),
            backoff_base: Duration::seconds(10),
            backoff_cap: Duration::hours(1),
            poll_interval: StdDuration::from_secs(1),
            shutdown_grace: StdDuration::from_secs(20),
            concurrency: 4,
            gauges_every: Duration::seconds(15),
            events: None,
        }
    }
}

/// What one step of the worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// Nothing was due (or every slot, or every due kind, was busy).
    Idle,
    /// A job ran and succeeded.
    Done(i64),
    /// A job failed and will be retried at the given time.
    Retry(i64, DateTime<Utc>),
    /// A job failed for the last time.
    Dead(i64),
    /// A job stopped because an admin cancelled it.
    Cancelled(i64),
    /// The job's lease was lost while it ran (another worker may have it now).
    LeaseLost(i64),
    /// Shutdown arrived and the job did not finish within the grace period; it was released.
    Released(i64),
}

/// A job started by [`Worker::start`], running on its own task.
#[derive(Debug)]
pub struct JobHandle {
    /// The job's id.
    pub id: i64,
    /// Its kind.
    pub kind: String,
    task: tokio::task::JoinHandle<anyhow::Result<Tick>>,
}

impl JobHandle {
    /// Waits for the job to end and returns what happened.
    pub async fn wait(self) -> anyhow::Result<Tick> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!(
                "job {} task ended abnormally: {e}",
                self.id
            )),
        }
    }

    /// Whether the job's task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// One worker identity polling the shared job table. Cheap to clone (clones are the same
/// worker: same identity, same slots).
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    registry: Arc<Registry>,
    config: WorkerConfig,
    id: String,
    /// Jobs running now, by kind.
    running: Mutex<HashMap<String, usize>>,
    /// Serialises "look at the free slots, claim, take a slot".
    claiming: tokio::sync::Mutex<()>,
    /// Signalled whenever a job ends (a slot frees up).
    finished: Notify,
    gauges_at: Mutex<Option<DateTime<Utc>>>,
}

impl Inner {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A taken slot; dropping it (the job ended, or its task panicked) frees the slot.
struct Slot {
    inner: Arc<Inner>,
    kind: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut running = self.inner.running();
            if let Some(n) = running.get_mut(&self.kind) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    running.remove(&self.kind);
                }
            }
        }
        self.inner.finished.notify_one();
    }
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
            inner: Arc::new(Inner {
                db,
                clock,
                registry,
                config,
                id,
                running: Mutex::new(HashMap::new()),
                claiming: tokio::sync::Mutex::new(()),
                finished: Notify::new(),
                gauges_at: Mutex::new(None),
            }),
        }
    }

    /// This worker's identity (stored in `locked_by`).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// How many jobs this worker runs now.
    pub fn running(&self) -> usize {
        self.inner.running().values().sum()
    }

    /// Reaps expired leases, enqueues due schedules and refreshes the gauges when due, then
    /// claims and runs at most one job to its end.
    pub async fn tick(&self) -> anyhow::Result<Tick> {
        self.maintain().await?;
        match self.claim().await? {
            None => Ok(Tick::Idle),
            Some((job, slot)) => self.execute(job, slot, None).await,
        }
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

    /// Like [`Worker::tick`], but the claimed job runs on its own task and this returns at
    /// once with its handle (`None` when nothing could be claimed). While it runs, its slot
    /// counts against the worker's concurrency and its kind's limit.
    pub async fn start(&self) -> anyhow::Result<Option<JobHandle>> {
        self.maintain().await?;
        self.spawn_next(None).await
    }

    /// Reaps expired leases, enqueues due schedules, refreshes the gauges when due.
    pub async fn maintain(&self) -> anyhow::Result<()> {
        let now = self.inner.clock.now();
        let reaped = jobs::reap_expired(&self.inner.db, now).await?;
        if reaped > 0 {
            tracing::warn!(reaped, "re-queued jobs whose lease expired");
            metrics::counter!("myqcm_jobs_reaped_total").increment(reaped);
        }
        jobs::enqueue_due_schedules(&self.inner.db, now).await?;
        let due = {
            let at = self
                .inner
                .gauges_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            at.is_none_or(|t| now - t >= self.inner.config.gauges_every)
        };
        if due {
            self.refresh_gauges().await?;
        }
        Ok(())
    }

    /// Sets the gauge `myqcm_jobs{status}` to the number of jobs in each status (zero for
    /// statuses without any) and returns those numbers. The worker calls it every
    /// `gauges_every`, so a metrics scrape never counts the table.
    pub async fn refresh_gauges(&self) -> anyhow::Result<Vec<(JobStatus, i64)>> {
        let counts = jobs::counts(&self.inner.db).await?;
        let all: Vec<(JobStatus, i64)> = JobStatus::ALL
            .iter()
            .map(|s| {
                let n = counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n);
                (*s, n)
            })
            .collect();
        for (status, n) in &all {
            #[expect(clippy::cast_precision_loss, reason = "a count of jobs")]
            metrics::gauge!("myqcm_jobs", "status" => status.as_str()).set(*n as f64);
        }
        *self
            .inner
            .gauges_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(self.inner.clock.now());
        Ok(all)
    }

    /// Claims the most urgent due job whose kind is below its limit, if a slot is free.
    async fn claim(&self) -> anyhow::Result<Option<(JobRow, Slot)>> {
        let _one_at_a_time = self.inner.claiming.lock().await;
        let skip: Vec<String> = {
            let running = self.inner.running();
            if running.values().sum::<usize>() >= self.inner.config.concurrency.max(1) {
                return Ok(None);
            }
            running
                .iter()
                .filter(|(kind, n)| {
                    self.inner
                        .registry
                        .limit_of(kind)
                        .is_some_and(|limit| **n >= limit)
                })
                .map(|(kind, _)| kind.clone())
                .collect()
        };
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        let now = self.inner.clock.now();
        let Some(job) = jobs::claim_skipping(
            &self.inner.db,
            &self.inner.id,
            now,
            self.inner.config.lease,
            &skip,
        )
        .await?
        else {
            return Ok(None);
        };
        *self.inner.running().entry(job.kind.clone()).or_default() += 1;
        let slot = Slot {
            inner: self.inner.clone(),
            kind: job.kind.clone(),
        };
        Ok(Some((job, slot)))
    }

    async fn spawn_next(
        &self,
        shutdown: Option<watch::Receiver<bool>>,
    ) -> anyhow::Result<Option<JobHandle>> {
        let Some((job, slot)) = self.claim().await? else {
            return Ok(None);
        };
        let (id, kind) = (job.id, job.kind.clone());
        let worker = self.clone();
        let task = tokio::spawn(async move { worker.execute(job, slot, shutdown).await });
        Ok(Some(JobHandle { id, kind, task }))
    }

    async fn execute(
        &self,
        job: JobRow,
        slot: Slot,
        shutdown: Option<watch::Receiver<bool>>,
    ) -> anyhow::Result<Tick> {
        let span =
            tracing::info_span!("job", job_id = job.id, kind = %job.kind, attempt = job.attempts);
        let tick = self.execute_in_span(job, shutdown).instrument(span).await;
        drop(slot);
        tick
    }

    /// Runs the handler with a background heartbeat, and the shutdown grace when asked to stop.
    /// `None` when the job was released unfinished at shutdown.
    async fn run_handler(
        &self,
        handler: Arc<dyn JobHandler>,
        payload: serde_json::Value,
        ctx: &JobContext,
        shutdown: Option<watch::Receiver<bool>>,
    ) -> Option<anyhow::Result<()>> {
        let (stop_beats, beats_stopped) = watch::channel(false);
        let beats = tokio::spawn(
            ctx.clone()
                .keep_alive(self.inner.config.heartbeat_every, beats_stopped),
        );
        let run = handler.run(payload, ctx.clone());
        tokio::pin!(run);
        let result = match shutdown {
            None => Some(run.await),
            Some(mut shutdown) => tokio::select! {
                r = &mut run => Some(r),
                () = stopped(&mut shutdown) => {
                    tokio::time::timeout(self.inner.config.shutdown_grace, &mut run).await.ok()
                }
            },
        };
        let _ = stop_beats.send(true);
        let _ = beats.await;
        result
    }

    async fn execute_in_span(
        &self,
        job: JobRow,
        shutdown: Option<watch::Receiver<bool>>,
    ) -> anyhow::Result<Tick> {
        let inner = &self.inner;
        let id = job.id;
        let kind = job.kind.clone();
        let ctx = JobContext::leased(
            id,
            job.attempts,
            inner.db.clone(),
            inner.id.clone(),
            inner.config.lease,
            inner.clock.clone(),
            inner.config.checkpoint_every,
        )
        .announcing_to(inner.config.events.clone());
        let started = std::time::Instant::now();
        let result = match inner.registry.handlers.get(&kind).cloned() {
            None => Err(anyhow::anyhow!(
                "no handler registered for job kind {kind:?}"
            )),
            Some(handler) => match self.run_handler(handler, job.payload, &ctx, shutdown).await {
                Some(r) => r,
                None => {
                    ctx.flush().await;
                    jobs::release(&inner.db, id, &inner.id, inner.clock.now()).await?;
                    tracing::warn!("shutdown: job released unfinished");
                    return Ok(Tick::Released(id));
                }
            },
        };
        metrics::histogram!("myqcm_job_duration_seconds", "kind" => kind.clone())
            .record(started.elapsed().as_secs_f64());
        ctx.flush().await;
        if ctx.lease_lost() {
            tracing::warn!("job lease lost while it ran; outcome not recorded");
            return Ok(Tick::LeaseLost(id));
        }
        let now = inner.clock.now();
        let tick = self
            .record_outcome(id, &kind, job.attempts, result, now)
            .await;
        if let Ok(t) = &tick {
            ctx.announce_end(t).await;
        }
        tick
    }

    async fn record_outcome(
        &self,
        id: i64,
        kind: &str,
        attempts: i32,
        result: anyhow::Result<()>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Tick> {
        let inner = &self.inner;
        let kind = kind.to_owned();
        match result {
            Ok(()) => {
                if jobs::complete(&inner.db, id, &inner.id, now).await? {
                    metrics::counter!("myqcm_jobs_completed_total", "kind" => kind).increment(1);
                    Ok(Tick::Done(id))
                } else {
                    Ok(Tick::LeaseLost(id))
                }
            }
            Err(e) => {
                let message = format!("{e:#}");
                let retry_at = now + backoff(&inner.config, id, attempts);
                match jobs::fail(&inner.db, id, &inner.id, &message, retry_at, now).await? {
                    FailOutcome::Retry(at) => {
                        metrics::counter!("myqcm_jobs_failed_total", "kind" => kind).increment(1);
                        tracing::warn!(error = %message, retry_at = %at, "job failed; will retry");
                        Ok(Tick::Retry(id, at))
                    }
                    FailOutcome::Dead => {
                        metrics::counter!("myqcm_jobs_failed_total", "kind" => kind).increment(1);
                        tracing::error!(error = %message, "job failed for the last time");
                        metrics::counter!("myqcm_jobs_dead_total").increment(1);
                        Ok(Tick::Dead(id))
                    }
                    FailOutcome::Cancelled => {
                        metrics::counter!("myqcm_jobs_cancelled_total", "kind" => kind)
                            .increment(1);
                        tracing::info!("job cancelled");
                        Ok(Tick::Cancelled(id))
                    }
                    FailOutcome::LeaseLost => Ok(Tick::LeaseLost(id)),
                }
            }
        }
    }

    /// The production loop: keeps up to `concurrency` jobs running (each kind within its
    /// limit), maintains the table (reaper, schedules, gauges), and pauses `poll_interval`
    /// when nothing more can start, until `shutdown` turns true. Jobs running at shutdown get
    /// `shutdown_grace` to finish and are otherwise released for another worker.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let inner = &self.inner;
        let limited: usize = inner
            .registry
            .kinds()
            .iter()
            .filter_map(|k| inner.registry.limit_of(k))
            .sum();
        if limited >= inner.config.concurrency {
            tracing::warn!(
                concurrency = inner.config.concurrency,
                limited,
                "long job kinds can fill every slot; short jobs may wait behind them"
            );
        }
        tracing::info!(worker = %inner.id, kinds = ?inner.registry.kinds(),
            concurrency = inner.config.concurrency, "worker started");
        let mut handles: Vec<JobHandle> = Vec::new();
        while !*shutdown.borrow() {
            collect_finished(&mut handles).await;
            let pause = match self.maintain().await {
                Ok(()) => inner.config.poll_interval,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "worker maintenance failed");
                    inner.config.poll_interval * 5
                }
            };
            loop {
                match self.spawn_next(Some(shutdown.clone())).await {
                    Ok(Some(h)) => handles.push(h),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "claiming a job failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = inner.finished.notified() => {}
                () = stopped(&mut shutdown) => {}
            }
        }
        for h in handles {
            log_outcome(h.id, h.wait().await);
        }
        tracing::info!(worker = %inner.id, "worker stopped");
    }
}

async fn collect_finished(handles: &mut Vec<JobHandle>) {
    let (done, running): (Vec<JobHandle>, Vec<JobHandle>) = std::mem::take(handles)
        .into_iter()
        .partition(JobHandle::is_finished);
    *handles = running;
    for h in done {
        log_outcome(h.id, h.wait().await);
    }
}

fn log_outcome(id: i64, outcome: anyhow::Result<Tick>) {
    if let Err(e) = outcome {
        tracing::error!(job_id = id, error = %format!("{e:#}"), "recording a job's outcome failed");
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
