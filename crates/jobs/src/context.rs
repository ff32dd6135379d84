//! What a running handler is given: its job id and attempt, progress reporting, and checkpoints
//! that keep the lease alive and notice cancellation.
//!
//! A long handler calls [`JobContext::progress`] or [`JobContext::checkpoint`] between units of
//! work and returns (with `?`) the [`Interrupted`] error they give once an admin cancelled the
//! job or the lease was lost. Besides, while the handler runs, the worker extends the lease in
//! the background every `heartbeat_every`, so a handler that never checkpoints keeps its lease
//! too; it just cannot be stopped before it ends.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::jobs::{self, Beat, Progress};
use myqcm_domain::Clock;
use myqcm_domain::ports::Cache;
use tokio::sync::watch;

/// Why a handler should stop now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Interrupted {
    /// An admin cancelled the job; it ends `cancelled` and is not retried.
    #[error("cancelled at an administrator's request")]
    Cancelled,
    /// This worker no longer holds the job (its lease ran out and it was reaped, maybe
    /// claimed by another worker); whatever this attempt does next is not recorded.
    #[error("the job's lease was lost")]
    LeaseLost,
}

/// The lease the context keeps alive.
struct Holder {
    db: DatabaseConnection,
    worker: String,
    lease: Duration,
    events: Option<Arc<dyn Cache>>,
}

/// Live announcements are sent at most this often (the last report before the end may be
/// skipped; the end itself is always announced).
const ANNOUNCE_GAP: StdDuration = StdDuration::from_millis(100);

#[derive(Default)]
struct State {
    progress: Option<Progress>,
    /// Bumped on every progress report; `saved` is the last one written.
    version: u64,
    saved: u64,
    last_write: Option<DateTime<Utc>>,
    cancelled: bool,
    lost: bool,
    announced_at: Option<std::time::Instant>,
}

struct Shared {
    holder: Option<Holder>,
    clock: Arc<dyn Clock>,
    min_gap: Duration,
    state: Mutex<State>,
    stop: watch::Sender<bool>,
}

/// Given to a handler for one attempt of one job. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct JobContext {
    /// The job's id.
    pub job_id: i64,
    /// Which attempt this is (1 for the first).
    pub attempt: i32,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("job_id", &self.job_id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl JobContext {
    /// The context of a claimed job: checkpoints write through `db` while `worker` holds the
    /// lease, at most once per `min_gap` of clock time.
    pub(crate) fn leased(
        job_id: i64,
        attempt: i32,
        db: DatabaseConnection,
        worker: String,
        lease: Duration,
        clock: Arc<dyn Clock>,
        min_gap: Duration,
    ) -> Self {
        Self::build(
            job_id,
            attempt,
            Some(Holder {
                db,
                worker,
                lease,
                events: None,
            }),
            clock,
            min_gap,
        )
    }

    /// A context bound to no job row, for calling a handler directly (tests, one-off runs):
    /// progress is kept in memory ([`JobContext::last_progress`]) and checkpoints always pass.
    pub fn detached(job_id: i64, attempt: i32, clock: Arc<dyn Clock>) -> Self {
        Self::build(job_id, attempt, None, clock, Duration::zero())
    }

    fn build(
        job_id: i64,
        attempt: i32,
        holder: Option<Holder>,
        clock: Arc<dyn Clock>,
        min_gap: Duration,
    ) -> Self {
        Self {
            job_id,
            attempt,
            shared: Arc::new(Shared {
                holder,
                clock,
                min_gap,
                state: Mutex::new(State::default()),
                stop: watch::Sender::new(false),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// "Now" from the worker's clock (use it rather than the system clock, so tests control
    /// time).
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Reports progress: `fraction` done in [0, 1] (clamped) and what is happening. Also a
    /// checkpoint: it extends the lease, saves the progress where the admin API shows it, and
    /// returns [`Interrupted`] when the job must stop. Writes are spaced by the worker's
    /// `checkpoint_every`; a report that falls between writes is saved by the next one (or the
    /// background heartbeat, or the end of the attempt).
    pub async fn progress(
        &self,
        fraction: f64,
        message: impl Into<String>,
    ) -> Result<(), Interrupted> {
        self.set_progress(fraction, message);
        self.announce_progress().await;
        self.checkpoint().await
    }

    /// Announces progress and the end of this job on `events` (see [`crate::WorkerConfig`]).
    pub(crate) fn announcing_to(mut self, events: Option<Arc<dyn Cache>>) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared)
            && let Some(holder) = shared.holder.as_mut()
        {
            holder.events = events;
        }
        self
    }

    async fn announce(&self, event: serde_json::Value) {
        let Some(events) = self.shared.holder.as_ref().and_then(|h| h.events.as_ref()) else {
            return;
        };
        let channel = myqcm_db::jobs::events_channel(self.job_id);
        if let Err(e) = events.publish(&channel, event.to_string().as_bytes()).await {
            tracing::debug!(error = %e, job_id = self.job_id, "job event not announced");
        }
    }

    async fn announce_progress(&self) {
        let progress = {
            let mut st = self.state();
            let now = std::time::Instant::now();
            let done = st.progress.as_ref().is_some_and(|p| p.fraction >= 1.0);
            if !done && st.announced_at.is_some_and(|t| now - t < ANNOUNCE_GAP) {
                return;
            }
            st.announced_at = Some(now);
            st.progress.clone()
        };
        if let Some(p) = progress {
            self.announce(serde_json::json!({
                "status": "running",
                "progress": p.fraction,
                "message": p.message,
            }))
            .await;
        }
    }

    /// Announces how the attempt ended.
    pub(crate) async fn announce_end(&self, tick: &crate::Tick) {
        let status = match tick {
            crate::Tick::Done(_) => "done",
            crate::Tick::Retry(..) => "queued",
            crate::Tick::Dead(_) => "dead",
            crate::Tick::Cancelled(_) => "cancelled",
            _ => return,
        };
        let progress = self.last_progress();
        self.announce(serde_json::json!({
            "status": status,
            "progress": progress.as_ref().map(|p| p.fraction),
            "message": progress.and_then(|p| p.message),
        }))
        .await;
    }

    /// Records progress without waiting (for synchronous callbacks); saved by the next
    /// checkpoint, heartbeat or the end of the attempt.
    pub fn set_progress(&self, fraction: f64, message: impl Into<String>) {
        let message = message.into();
        let mut st = self.state();
        st.progress = Some(Progress {
            fraction: if fraction.is_finite() {
                fraction.clamp(0.0, 1.0)
            } else {
                0.0
            },
            message: (!message.is_empty()).then_some(message),
        });
        st.version += 1;
    }

    /// The progress last reported in this attempt.
    pub fn last_progress(&self) -> Option<Progress> {
        self.state().progress.clone()
    }

    /// A point where the handler may be stopped: extends the lease, saves pending progress, and
    /// learns whether an admin cancelled the job. Returns `Err` when the handler must stop (pass
    /// it on with `?`); the worker then records the job as `cancelled`, or nothing at all when
    /// the lease was lost. Cheap to call often: it touches the database at most once per
    /// `checkpoint_every`, and answers from what it already knows in between.
    pub async fn checkpoint(&self) -> Result<(), Interrupted> {
        self.known()?;
        let due = {
            let st = self.state();
            st.last_write
                .is_none_or(|t| self.shared.clock.now() - t >= self.shared.min_gap)
        };
        if due { self.beat().await } else { Ok(()) }
    }

    /// Whether an admin asked this job to stop (as far as the last heartbeat or checkpoint
    /// knows).
    pub fn is_cancelled(&self) -> bool {
        self.state().cancelled
    }

    /// Resolves once the job must stop: a cancellation was seen, or the lease was lost. For
    /// handlers that wait on something long (a remote call) and want to give up early:
    /// `tokio::select! { r = call => r?, _ = ctx.interrupted() => return Err(..) }`.
    pub async fn interrupted(&self) -> Interrupted {
        let mut rx = self.shared.stop.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
        self.known().err().unwrap_or(Interrupted::LeaseLost)
    }

    fn known(&self) -> Result<(), Interrupted> {
        let st = self.state();
        if st.lost {
            Err(Interrupted::LeaseLost)
        } else if st.cancelled {
            Err(Interrupted::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Whether the lease was lost.
    pub(crate) fn lease_lost(&self) -> bool {
        self.state().lost
    }

    /// Writes a heartbeat now (lease, pending progress) and reads the cancellation flag. A
    /// database error is logged and treated as "nothing learnt": the next beat tries again.
    async fn beat(&self) -> Result<(), Interrupted> {
        let Some(holder) = &self.shared.holder else {
            return self.known();
        };
        let (pending, version) = {
            let st = self.state();
            let pending = (st.version != st.saved)
                .then(|| st.progress.clone())
                .flatten();
            (pending, st.version)
        };
        let now = self.shared.clock.now();
        let beat = jobs::heartbeat(
            &holder.db,
            self.job_id,
            &holder.worker,
            now,
            holder.lease,
            pending.as_ref(),
        )
        .await;
        let stop = {
            let mut st = self.state();
            match beat {
                Ok(Beat::Held { cancel_requested }) => {
                    st.last_write = Some(now);
                    st.saved = st.saved.max(version);
                    st.cancelled |= cancel_requested;
                }
                Ok(Beat::Lost) => st.lost = true,
                Err(e) => {
                    tracing::warn!(error = %e, job_id = self.job_id, "job heartbeat failed");
                }
            }
            st.cancelled || st.lost
        };
        if stop {
            self.shared.stop.send_replace(true);
        }
        self.known()
    }

    /// Saves progress reported since the last write (end of an attempt).
    pub(crate) async fn flush(&self) {
        let pending = {
            let st = self.state();
            st.version != st.saved
        };
        if pending {
            let _ = self.beat().await;
        }
    }

    /// Keeps the lease alive every `every` until `stop` turns true or the lease is lost.
    pub(crate) async fn keep_alive(self, every: StdDuration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {
                    if self.beat().await == Err(Interrupted::LeaseLost) {
                        return;
                    }
                }
                () = async { let _ = stop.wait_for(|s| *s).await; } => return,
            }
        }
    }
}
