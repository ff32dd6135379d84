//! Background jobs as operators see them: list by status and kind with paging, show one with
//! its progress, retry a dead job, cancel a queued or running one.
//!
//! Authorisation is decided here: every use case needs `OperationsManage` (admin scopes
//! `operations` or `super`) and TOTP enrolment; retry and cancel also need a recent TOTP proof
//! (step-up) and leave an audit row, refused attempts included. Payloads are never returned:
//! they may hold personal data (a mail's address and text).

use chrono::{DateTime, Utc};
use myqcm_db::jobs::{self as repo, CancelOutcome, JobFilter, JobRow, JobStatus};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use serde::Serialize;

use crate::identity::ClientMeta;
use crate::identity::audit;

/// Why a jobs use case failed.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// No such job.
    #[error("not found")]
    NotFound,
    /// The caller lacks `OperationsManage`.
    #[error("forbidden")]
    Forbidden,
    /// The caller is staff without TOTP enrolment.
    #[error("two-step verification must be set up first")]
    MfaEnrolmentRequired,
    /// A change without a recent TOTP proof.
    #[error("a recent second-factor proof is required")]
    StepUpRequired,
    /// The job's status does not allow this (e.g. retrying a job that is not dead).
    #[error("{0}")]
    WrongState(String),
    /// A query parameter is invalid.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Storage failure.
    #[error(transparent)]
    Store(DbError),
}

impl From<DbError> for JobsError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

/// Result alias.
pub type Result<T, E = JobsError> = std::result::Result<T, E>;

/// A job id as it arrives in a path. Anything but a number names no job; it is parsed only
/// after the permission check, so callers without the permission learn nothing from it.
fn job_id(id: &str) -> Result<i64> {
    id.trim().parse().map_err(|_| JobsError::NotFound)
}

/// Who calls, as the web layer established it.
#[derive(Debug, Clone)]
pub struct Operator {
    /// Account, roles and scopes.
    pub actor: Actor,
    /// TOTP enrolled.
    pub mfa_enrolled: bool,
    /// The session holds a TOTP proof within the step-up window.
    pub recent_mfa: bool,
    /// Where the request came from (audit log).
    pub meta: ClientMeta,
}

impl Operator {
    fn may_read(&self) -> Result<()> {
        // The permission table itself: `Actor::can` also refuses unenrolled staff, and those
        // must hear that they need to enrol, not that they lack the permission.
        if !myqcm_domain::permissions::allowed(
            &self.actor.roles,
            &self.actor.scopes,
            Action::OperationsManage,
        ) {
            Err(JobsError::Forbidden)
        } else if !self.mfa_enrolled {
            Err(JobsError::MfaEnrolmentRequired)
        } else {
            Ok(())
        }
    }

    fn may_change(&self) -> Result<()> {
        self.may_read()?;
        if self.recent_mfa {
            Ok(())
        } else {
            Err(JobsError::StepUpRequired)
        }
    }
}

/// A job as operators see it: no payload.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: i64,
    /// Handler name, e.g. `mail.send`, `catalogue.import`.
    pub kind: String,
    /// `queued`, `running`, `done`, `dead` or `cancelled`.
    pub status: String,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts before the job is declared dead.
    pub max_attempts: i32,
    /// Fraction done in [0, 1], as last reported by the running attempt.
    pub progress: Option<f64>,
    /// What the job last said it was doing.
    pub message: Option<String>,
    /// An operator asked it to stop (a running job stops at its next checkpoint).
    pub cancel_requested: bool,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Due time (next attempt when queued).
    pub run_at: DateTime<Utc>,
    /// Enqueued.
    pub created_at: DateTime<Utc>,
    /// Last change (heartbeats included).
    pub updated_at: DateTime<Utc>,
    /// The current or last attempt began.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended (`done`, `dead`, `cancelled`).
    pub finished_at: Option<DateTime<Utc>>,
    /// While running: the lease end, pushed forward by heartbeats.
    pub lease_until: Option<DateTime<Utc>>,
}

impl From<JobRow> for JobView {
    fn from(j: JobRow) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            status: j.status.as_str().to_owned(),
            priority: j.priority,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            progress: j.progress,
            message: j.progress_message,
            cancel_requested: j.cancel_requested_at.is_some(),
            last_error: j.last_error,
            run_at: j.run_at,
            created_at: j.created_at,
            updated_at: j.updated_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            lease_until: j.locked_until,
        }
    }
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    /// Only this status (`queued`, `running`, `done`, `dead`, `cancelled`).
    pub status: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Page size (default 50, at most 200).
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: Option<u64>,
}

/// Jobs matching `query`, newest first.
pub async fn list(
    db: &DatabaseConnection,
    op: &Operator,
    query: &JobQuery,
) -> Result<Vec<JobView>> {
    op.may_read()?;
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(JobStatus::from_name(s).ok_or_else(|| JobsError::Invalid {
            field: "status",
            message: "expected queued, running, done, dead or cancelled".into(),
        })?),
    };
    let filter = JobFilter {
        status,
        kind: query
            .kind
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
        limit: query.limit.unwrap_or(50).clamp(1, 200),
        offset: query.offset.unwrap_or(0),
    };
    Ok(repo::search(db, &filter)
        .await?
        .into_iter()
        .map(JobView::from)
        .collect())
}

/// One job with its progress.
pub async fn show(db: &DatabaseConnection, op: &Operator, id: &str) -> Result<JobView> {
    op.may_read()?;
    Ok(repo::get(db, job_id(id)?).await?.into())
}

async fn refused(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    op: &Operator,
    action: &'static str,
    id: &str,
    why: &JobsError,
) {
    let ev = audit::Event::new(action)
        .actor(op.actor.id)
        .target(id.chars().take(32).collect::<String>())
        .meta(&op.meta)
        .detail(serde_json::json!({ "outcome": "refused", "reason": why.to_string() }));
    if let Err(e) = audit::record(db, clock, ev).await {
        tracing::error!(error = %e, "audit write failed");
    }
}

/// Puts a dead job back in the queue with a fresh attempt budget (step-up required, audited).
pub async fn retry(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    op: &Operator,
    id: &str,
) -> Result<JobView> {
    const ACTION: &str = "admin.job_retry";
    if let Err(e) = op.may_change() {
        refused(db, clock, op, ACTION, id, &e).await;
        return Err(e);
    }
    let id = job_id(id)?;
    let txn = myqcm_db::begin_write(db).await?;
    let job = repo::get(&txn, id).await?;
    if !repo::retry_dead(&txn, id, clock.now()).await? {
        return Err(JobsError::WrongState(format!(
            "only a dead job can be retried; this one is {}",
            job.status.as_str()
        )));
    }
    let ev = audit::Event::new(ACTION)
        .actor(op.actor.id)
        .target(id.to_string())
        .meta(&op.meta)
        .detail(serde_json::json!({ "outcome": "done", "kind": job.kind }));
    audit::record(&txn, clock, ev).await?;
    let view = repo::get(&txn, id).await?.into();
    txn.commit().await.map_err(DbError::from)?;
    Ok(view)
}

/// Cancels a job (step-up required, audited): a queued job never runs; a running one stops at
/// its next checkpoint and then ends `cancelled`.
pub async fn cancel(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    op: &Operator,
    id: &str,
) -> Result<JobView> {
    const ACTION: &str = "admin.job_cancel";
    if let Err(e) = op.may_change() {
        refused(db, clock, op, ACTION, id, &e).await;
        return Err(e);
    }
    let id = job_id(id)?;
    let txn = myqcm_db::begin_write(db).await?;
    let outcome = repo::request_cancel(&txn, id, clock.now()).await?;
    let job = repo::get(&txn, id).await?;
    let outcome = match outcome {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => "requested",
        CancelOutcome::Finished(status) => {
            return Err(JobsError::WrongState(format!(
                "the job has already ended ({})",
                status.as_str()
            )));
        }
    };
    let ev = audit::Event::new(ACTION)
        .actor(op.actor.id)
        .target(id.to_string())
        .meta(&op.meta)
        .detail(serde_json::json!({ "outcome": outcome, "kind": job.kind }));
    audit::record(&txn, clock, ev).await?;
    txn.commit().await.map_err(DbError::from)?;
    Ok(job.into())
}

/// A job's state as its live stream sends it (`GET /api/v1/admin/jobs/{id}/events`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobEvent {
    /// The job.
    pub id: i64,
    /// `queued`, `running`, `done`, `dead` or `cancelled`.
    pub status: String,
    /// Fraction done, when reported.
    pub progress: Option<f64>,
    /// What it is doing, when reported.
    pub message: Option<String>,
    /// True on the last event of the stream (done, dead or cancelled).
    pub finished: bool,
}

impl JobEvent {
    fn of_row(j: &JobRow) -> Self {
        let status = j.status.as_str().to_owned();
        Self {
            id: j.id,
            finished: is_final(&status),
            status,
            progress: j.progress,
            message: j.progress_message.clone(),
        }
    }

    /// An announcement of the worker (`{"status", "progress", "message"}`).
    fn of_announcement(id: i64, bytes: &[u8]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Announced {
            status: String,
            progress: Option<f64>,
            message: Option<String>,
        }
        let a: Announced = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            id,
            finished: is_final(&a.status),
            status: a.status,
            progress: a.progress,
            message: a.message,
        })
    }
}

fn is_final(status: &str) -> bool {
    matches!(status, "done" | "dead" | "cancelled")
}

/// How often the stream re-reads the job row while it waits (a worker that died, or
/// announcements lost with a Redis outage, must not leave a page waiting forever).
const REREAD_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The live stream of a job: its state now, then every change the workers announce (on any
/// instance, through the cache port's publish/subscribe), until it is done, dead or
/// cancelled. A job that is already over gives one event.
///
/// # Errors
/// As [`show`]; [`JobsError::Store`] when the cache cannot subscribe.
pub async fn watch(
    db: &DatabaseConnection,
    cache: &dyn myqcm_domain::ports::Cache,
    op: &Operator,
    id: &str,
) -> Result<futures::stream::BoxStream<'static, JobEvent>> {
    op.may_read()?;
    let id = job_id(id)?;
    stream(db, cache, id).await
}

/// The live stream of job `id`, without any permission check (callers check their own: the
/// operators' [`watch`], the import pages' `import::jobs::watch`).
pub(crate) async fn stream(
    db: &DatabaseConnection,
    cache: &dyn myqcm_domain::ports::Cache,
    id: i64,
) -> Result<futures::stream::BoxStream<'static, JobEvent>> {
    use futures::StreamExt as _;
    // Subscribe before reading, so nothing announced in between is missed.
    let live = cache
        .subscribe(&repo::events_channel(id))
        .await
        .map_err(|e| JobsError::Store(DbError::Backend(format!("cache subscribe: {e}"))))?;
    let first = JobEvent::of_row(&repo::get(db, id).await?);
    if first.finished {
        return Ok(futures::stream::once(std::future::ready(first)).boxed());
    }
    struct Watch {
        live: myqcm_domain::ports::Subscription,
        db: DatabaseConnection,
        id: i64,
    }
    let rest = futures::stream::unfold(
        Some(Watch {
            live,
            db: db.clone(),
            id,
        }),
        |state| async move {
            let mut w = state?;
            let event = loop {
                tokio::select! {
                    m = w.live.next() => match m {
                        Some(bytes) => {
                            if let Some(e) = JobEvent::of_announcement(w.id, &bytes) {
                                break e;
                            }
                        }
                        // The backend went away: keep to the re-reads.
                        None => w.live = futures::stream::pending().boxed(),
                    },
                    () = tokio::time::sleep(REREAD_EVERY) => {
                        if let Ok(row) = repo::get(&w.db, w.id).await {
                            break JobEvent::of_row(&row);
                        }
                    }
                }
            };
            let next = if event.finished { None } else { Some(w) };
            Some((event, next))
        },
    );
    Ok(futures::stream::once(std::future::ready(first))
        .chain(rest)
        .boxed())
}
