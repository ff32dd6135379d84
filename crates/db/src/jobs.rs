//! The job table: enqueue inside the caller's transaction, claim with a lease, heartbeat with
//! progress, finish, retry, bury, cancel, reap expired leases, purge finished rows, and
//! recurring schedules.
//!
//! "Now" is always a parameter taken from the `Clock` port, never the database's clock, so tests
//! move a fixed clock instead of sleeping. Times are epoch milliseconds.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};

use crate::DbError;
use crate::sql::stmt;

/// Lifecycle of a job row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker whose lease runs until `locked_until`.
    Running,
    /// Finished successfully.
    Done,
    /// Failed `max_attempts` times; kept with its last error for an admin to inspect or retry.
    Dead,
    /// Stopped on an admin's request (before it ran, or at a checkpoint while it ran).
    Cancelled,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Done,
        Self::Dead,
        Self::Cancelled,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status stored as `s`, if any.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    fn parse(s: &str) -> Result<Self, DbError> {
        Self::from_name(s).ok_or_else(|| DbError::Backend(format!("unknown job status {s:?}")))
    }
}

/// What to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Handler name, e.g. `mail.send`.
    pub kind: String,
    /// JSON payload given to the handler.
    pub payload: serde_json::Value,
    /// Earliest time to run.
    pub run_at: DateTime<Utc>,
    /// Higher runs first among due jobs.
    pub priority: i32,
    /// Attempts before the job is declared dead.
    pub max_attempts: i32,
    /// When set, enqueueing the same key again returns the existing job instead of a new one.
    pub idempotency_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` due at `run_at`, priority 0, 5 attempts, no idempotency key.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value, run_at: DateTime<Utc>) -> Self {
        Self {
            kind: kind.into(),
            payload,
            run_at,
            priority: 0,
            max_attempts: 5,
            idempotency_key: None,
        }
    }
}

/// A job as read back from the table.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Row id.
    pub id: i64,
    /// Handler name.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Current state.
    pub status: JobStatus,
    /// Attempts started so far (including a running one).
    pub attempts: i32,
    /// Limit before `dead`.
    pub max_attempts: i32,
    /// Next due time.
    pub run_at: DateTime<Utc>,
    /// Worker holding the lease.
    pub locked_by: Option<String>,
    /// Lease end.
    pub locked_until: Option<DateTime<Utc>>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Deduplication key.
    pub idempotency_key: Option<String>,
    /// Higher runs first among due jobs.
    pub priority: i32,
    /// Fraction done in [0, 1], as last reported by the handler.
    pub progress: Option<f64>,
    /// What the handler last said it was doing.
    pub progress_message: Option<String>,
    /// When an admin asked for cancellation (the job stops at its next checkpoint).
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// When the current (or last) attempt was claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job became `done`, `dead` or `cancelled`.
    pub finished_at: Option<DateTime<Utc>>,
    /// Enqueued.
    pub created_at: DateTime<Utc>,
    /// Last change to the row (heartbeats included).
    pub updated_at: DateTime<Utc>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

const COLUMNS: &str = "id, kind, payload, status, attempts, max_attempts, run_at, locked_by, \
                       locked_until, last_error, idempotency_key, priority, progress, \
                       progress_message, cancel_requested_at, started_at, finished_at, \
                       created_at, updated_at";

/// Longest progress message kept.
pub const MAX_PROGRESS_MESSAGE: usize = 500;

fn row(r: &QueryResult) -> Result<JobRow, DbError> {
    let payload: String = r.try_get("", "payload")?;
    let status: String = r.try_get("", "status")?;
    Ok(JobRow {
        id: r.try_get("", "id")?,
        kind: r.try_get("", "kind")?,
        payload: serde_json::from_str(&payload).map_err(|e| DbError::Backend(e.to_string()))?,
        status: JobStatus::parse(&status)?,
        attempts: r.try_get("", "attempts")?,
        max_attempts: r.try_get("", "max_attempts")?,
        run_at: from_ms(r.try_get("", "run_at")?),
        locked_by: r.try_get("", "locked_by")?,
        locked_until: r.try_get::<Option<i64>>("", "locked_until")?.map(from_ms),
        last_error: r.try_get("", "last_error")?,
        idempotency_key: r.try_get("", "idempotency_key")?,
        priority: r.try_get("", "priority")?,
        progress: r.try_get("", "progress")?,
        progress_message: r.try_get("", "progress_message")?,
        cancel_requested_at: r
            .try_get::<Option<i64>>("", "cancel_requested_at")?
            .map(from_ms),
        started_at: r.try_get::<Option<i64>>("", "started_at")?.map(from_ms),
        finished_at: r.try_get::<Option<i64>>("", "finished_at")?.map(from_ms),
        created_at: from_ms(r.try_get("", "created_at")?),
        updated_at: from_ms(r.try_get("", "updated_at")?),
    })
}

/// Inserts a job using `conn`, which may be the caller's open transaction: the job then commits
/// or rolls back with the business rows. Returns the job id (the existing one when the
/// idempotency key was already used).
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    let backend = conn.get_database_backend();
    let payload = job.payload.to_string();
    let sql = "INSERT INTO job (queue, kind, payload, status, priority, run_at, attempts, \
               max_attempts, idempotency_key, created_at, updated_at) \
               VALUES ('default', $1, $2, 'queued', $3, $4, 0, $5, $6, $7, $7) \
               ON CONFLICT DO NOTHING RETURNING id";
    let values: Vec<Value> = vec![
        job.kind.clone().into(),
        payload.into(),
        job.priority.into(),
        ms(job.run_at).into(),
        job.max_attempts.into(),
        job.idempotency_key.clone().into(),
        ms(now).into(),
    ];
    if let Some(r) = conn.query_one_raw(stmt(backend, sql, values)).await? {
        return Ok(r.try_get("", "id")?);
    }
    let key = job
        .idempotency_key
        .clone()
        .ok_or(DbError::Conflict("job"))?;
    let existing = conn
        .query_one_raw(stmt(
            backend,
            "SELECT id FROM job WHERE idempotency_key = $1",
            vec![key.into()],
        ))
        .await?
        .ok_or(DbError::Conflict("job idempotency key"))?;
    Ok(existing.try_get("", "id")?)
}

/// The id of the job enqueued under `key`, if any.
pub async fn id_by_idempotency_key<C: ConnectionTrait>(
    conn: &C,
    key: &str,
) -> Result<Option<i64>, DbError> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(stmt(
            backend,
            "SELECT id FROM job WHERE idempotency_key = $1",
            vec![key.to_owned().into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("", "id")?),
        None => None,
    })
}

/// Claims the most urgent due job for `worker` until `now + lease`, counting one attempt.
/// One statement: atomic on SQLite (single writer) and, with `FOR UPDATE SKIP LOCKED`, free of
/// double claims between concurrent workers on PostgreSQL.
pub async fn claim<C: ConnectionTrait>(
    conn: &C,
    worker: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Option<JobRow>, DbError> {
    claim_skipping(conn, worker, now, lease, &[]).await
}

/// [`claim`], passing over jobs whose kind is in `skip` (kinds the worker already runs as many
/// of as it allows), so a long job of one kind never holds back the others. The claim resets
/// the progress of an earlier attempt and records when this attempt started.
pub async fn claim_skipping<C: ConnectionTrait>(
    conn: &C,
    worker: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    skip: &[&str],
) -> Result<Option<JobRow>, DbError> {
    let backend = conn.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let mut values: Vec<Value> = vec![worker.into(), ms(now + lease).into(), ms(now).into()];
    let skip_clause = if skip.is_empty() {
        String::new()
    } else {
        let placeholders: Vec<String> = skip
            .iter()
            .map(|k| {
                values.push((*k).into());
                format!("${}", values.len())
            })
            .collect();
        format!("AND kind NOT IN ({}) ", placeholders.join(", "))
    };
    let sql = format!(
        "UPDATE job SET status = 'running', locked_by = $1, locked_until = $2, \
         attempts = attempts + 1, started_at = $3, progress = NULL, progress_message = NULL, \
         updated_at = $3 \
         WHERE status = 'queued' AND id = (SELECT id FROM job WHERE status = 'queued' \
         AND run_at <= $3 {skip_clause}ORDER BY priority DESC, run_at, id LIMIT 1 {lock}) \
         RETURNING {COLUMNS}"
    );
    conn.query_one_raw(stmt(backend, &sql, values))
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

/// What a heartbeat learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// The lease was extended; `cancel_requested` tells whether an admin asked to stop.
    Held {
        /// An admin asked for cancellation.
        cancel_requested: bool,
    },
    /// The worker no longer holds the job (its lease ran out and it was reaped, or it was
    /// claimed again); nothing changed and the work should stop.
    Lost,
}

/// Progress as a handler reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Fraction done, clamped to [0, 1].
    pub fraction: f64,
    /// What it is doing (at most [`MAX_PROGRESS_MESSAGE`] characters are kept).
    pub message: Option<String>,
}

/// Extends the lease of a running job to `now + lease` while `worker` holds it, saving
/// `progress` when given, and reads whether cancellation was requested.
pub async fn heartbeat<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    worker: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    progress: Option<&Progress>,
) -> Result<Beat, DbError> {
    let backend = conn.get_database_backend();
    let mut values: Vec<Value> = vec![
        id.into(),
        worker.into(),
        ms(now + lease).into(),
        ms(now).into(),
    ];
    let set_progress = match progress {
        None => "",
        Some(p) => {
            let fraction = if p.fraction.is_finite() {
                p.fraction.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let message: Option<String> = p
                .message
                .as_ref()
                .map(|m| m.chars().take(MAX_PROGRESS_MESSAGE).collect());
            values.push(fraction.into());
            values.push(message.into());
            ", progress = $5, progress_message = $6"
        }
    };
    let sql = format!(
        "UPDATE job SET locked_until = $3, updated_at = $4{set_progress} \
         WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING cancel_requested_at"
    );
    Ok(
        match conn.query_one_raw(stmt(backend, &sql, values)).await? {
            None => Beat::Lost,
            Some(r) => Beat::Held {
                cancel_requested: r
                    .try_get::<Option<i64>>("", "cancel_requested_at")?
                    .is_some(),
            },
        },
    )
}

/// Marks a job done, if `worker` still holds it. Returns false when the lease was lost (the job
/// was reaped and possibly claimed by another worker), in which case nothing changes.
pub async fn complete<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let backend = conn.get_database_backend();
    let sql = "UPDATE job SET status = 'done', locked_by = NULL, locked_until = NULL, \
               finished_at = $3, updated_at = $3 \
               WHERE id = $1 AND locked_by = $2 AND status = 'running'";
    let r = conn
        .execute_raw(stmt(
            backend,
            sql,
            vec![id.into(), worker.into(), ms(now).into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Outcome of recording a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Will run again at the given time.
    Retry(DateTime<Utc>),
    /// Out of attempts.
    Dead,
    /// Cancellation had been requested: the job ends `cancelled`, without a retry.
    Cancelled,
    /// The worker no longer held the job; nothing changed.
    LeaseLost,
}

/// The status a job leaves `running` for when its attempt ends without success: `cancelled`
/// when an admin asked for it, `dead` when out of attempts, otherwise back to `queued`.
const END_STATUS: &str = "CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' \
                          WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END";

/// Records a failed attempt: back to `queued` at `retry_at`, `dead` once attempts are used up,
/// or `cancelled` when cancellation was requested. The error text is kept either way.
pub async fn fail<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    worker: &str,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<FailOutcome, DbError> {
    let backend = conn.get_database_backend();
    let error: String = error.chars().take(4000).collect();
    let sql = format!(
        "UPDATE job SET status = {END_STATUS}, \
         run_at = CASE WHEN {END_STATUS} = 'queued' THEN $4 ELSE run_at END, \
         finished_at = CASE WHEN {END_STATUS} = 'queued' THEN NULL ELSE $5 END, \
         last_error = $3, locked_by = NULL, locked_until = NULL, updated_at = $5 \
         WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING status"
    );
    let values: Vec<Value> = vec![
        id.into(),
        worker.into(),
        error.into(),
        ms(retry_at).into(),
        ms(now).into(),
    ];
    match conn.query_one_raw(stmt(backend, &sql, values)).await? {
        None => Ok(FailOutcome::LeaseLost),
        Some(r) => {
            let status: String = r.try_get("", "status")?;
            Ok(match JobStatus::parse(&status)? {
                JobStatus::Dead => FailOutcome::Dead,
                JobStatus::Cancelled => FailOutcome::Cancelled,
                _ => FailOutcome::Retry(retry_at),
            })
        }
    }
}

/// Gives a claimed job back without counting the attempt (graceful stop before it finished).
/// A job whose cancellation was requested ends `cancelled` instead.
pub async fn release<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let backend = conn.get_database_backend();
    let sql = "UPDATE job SET \
               status = CASE WHEN cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END, \
               finished_at = CASE WHEN cancel_requested_at IS NULL THEN NULL ELSE $3 END, \
               attempts = attempts - 1, locked_by = NULL, \
               locked_until = NULL, run_at = $3, updated_at = $3 \
               WHERE id = $1 AND locked_by = $2 AND status = 'running'";
    let r = conn
        .execute_raw(stmt(
            backend,
            sql,
            vec![id.into(), worker.into(), ms(now).into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Re-queues (or buries, when out of attempts, or ends as cancelled, when that was requested)
/// every running job whose lease ended before `now`: its worker died or hung. A worker that is
/// alive keeps extending its lease by heartbeats, so a long job is never reaped while it runs.
/// Returns how many rows changed.
pub async fn reap_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    let backend = conn.get_database_backend();
    let sql = format!(
        "UPDATE job SET status = {END_STATUS}, \
         finished_at = CASE WHEN {END_STATUS} = 'queued' THEN NULL ELSE $1 END, \
         last_error = 'lease expired: the worker stopped before finishing', \
         locked_by = NULL, locked_until = NULL, run_at = $1, updated_at = $1 \
         WHERE status = 'running' AND locked_until < $1"
    );
    let r = conn
        .execute_raw(stmt(backend, &sql, vec![ms(now).into()]))
        .await?;
    Ok(r.rows_affected())
}

/// Reads one job.
pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> Result<JobRow, DbError> {
    let backend = conn.get_database_backend();
    let sql = format!("SELECT {COLUMNS} FROM job WHERE id = $1");
    let r = conn
        .query_one_raw(stmt(backend, &sql, vec![id.into()]))
        .await?;
    row(&r.ok_or(DbError::NotFound)?)
}

/// Lists jobs in a status, oldest first (admin views and tests).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    status: JobStatus,
    limit: u64,
) -> Result<Vec<JobRow>, DbError> {
    let backend = conn.get_database_backend();
    let sql = format!("SELECT {COLUMNS} FROM job WHERE status = $1 ORDER BY id LIMIT $2");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .query_all_raw(stmt(
            backend,
            &sql,
            vec![status.as_str().into(), limit.into()],
        ))
        .await?;
    rows.iter().map(row).collect()
}

/// Which jobs to list (admin view).
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Page size.
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
}

/// Lists jobs matching `filter`, newest first.
pub async fn search<C: ConnectionTrait>(
    conn: &C,
    filter: &JobFilter,
) -> Result<Vec<JobRow>, DbError> {
    let backend = conn.get_database_backend();
    let mut values: Vec<Value> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    if let Some(status) = filter.status {
        values.push(status.as_str().into());
        conditions.push(format!("status = ${}", values.len()));
    }
    if let Some(kind) = &filter.kind {
        values.push(kind.clone().into());
        conditions.push(format!("kind = ${}", values.len()));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {} ", conditions.join(" AND "))
    };
    values.push(i64::try_from(filter.limit).unwrap_or(i64::MAX).into());
    let limit = values.len();
    values.push(i64::try_from(filter.offset).unwrap_or(i64::MAX).into());
    let offset = values.len();
    let sql = format!(
        "SELECT {COLUMNS} FROM job {where_clause}ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}"
    );
    let rows = conn.query_all_raw(stmt(backend, &sql, values)).await?;
    rows.iter().map(row).collect()
}

/// Puts a dead job back in the queue with a fresh attempt budget (admin "retry"). The last
/// error stays for reference until the job runs again. Returns false when the job is not dead.
pub async fn retry_dead<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let backend = conn.get_database_backend();
    let sql = "UPDATE job SET status = 'queued', attempts = 0, run_at = $2, updated_at = $2, \
               progress = NULL, progress_message = NULL, cancel_requested_at = NULL, \
               started_at = NULL, finished_at = NULL \
               WHERE id = $1 AND status = 'dead'";
    let r = conn
        .execute_raw(stmt(backend, sql, vec![id.into(), ms(now).into()]))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Outcome of a cancellation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The job had not started: it is `cancelled` now and will never run.
    Cancelled,
    /// The job is running: it stops at its next checkpoint and then ends `cancelled`.
    Requested,
    /// The job had already ended (`done`, `dead` or `cancelled`); nothing changed.
    Finished(JobStatus),
}

/// Asks a job to stop. A queued job is cancelled at once; a running one is flagged and its
/// handler stops at its next checkpoint. Repeating the request changes nothing.
pub async fn request_cancel<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<CancelOutcome, DbError> {
    let backend = conn.get_database_backend();
    // Every expression on the right sees the row as it was before this statement.
    let sql = "UPDATE job SET \
               cancel_requested_at = COALESCE(cancel_requested_at, $2), \
               status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, \
               finished_at = CASE WHEN status = 'queued' THEN $2 ELSE finished_at END, \
               updated_at = $2 \
               WHERE id = $1 AND status IN ('queued', 'running') RETURNING status";
    match conn
        .query_one_raw(stmt(backend, sql, vec![id.into(), ms(now).into()]))
        .await?
    {
        Some(r) => {
            let status: String = r.try_get("", "status")?;
            Ok(if JobStatus::parse(&status)? == JobStatus::Cancelled {
                CancelOutcome::Cancelled
            } else {
                CancelOutcome::Requested
            })
        }
        None => Ok(CancelOutcome::Finished(get(conn, id).await?.status)),
    }
}

/// Deletes up to `batch` finished jobs (`done`, `cancelled`, `dead`) that finished before
/// `before`, oldest first; their payloads may hold personal data. Queued and running jobs are
/// never touched. Returns how many rows were deleted; call again while it returns `batch`.
pub async fn purge_finished<C: ConnectionTrait>(
    conn: &C,
    before: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DbError> {
    let backend = conn.get_database_backend();
    let sql = "DELETE FROM job WHERE id IN (SELECT id FROM job \
               WHERE status IN ('done', 'cancelled', 'dead') \
               AND COALESCE(finished_at, updated_at) < $1 ORDER BY id LIMIT $2)";
    let batch = i64::try_from(batch).unwrap_or(i64::MAX);
    let r = conn
        .execute_raw(stmt(backend, sql, vec![ms(before).into(), batch.into()]))
        .await?;
    Ok(r.rows_affected())
}

/// Replaces the payload of job `id`, e.g. a delivered mail's sealed content by a marker, so a
/// finished job keeps no personal data. Returns whether the row exists.
pub async fn replace_payload<C: ConnectionTrait>(
    conn: &C,
    id: i64,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let backend = conn.get_database_backend();
    let sql = "UPDATE job SET payload = $2, updated_at = $3 WHERE id = $1";
    let r = conn
        .execute_raw(stmt(
            backend,
            sql,
            vec![id.into(), payload.to_string().into(), ms(now).into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes the finished jobs (`done`, `dead`, `cancelled`) of `kind` whose idempotency key
/// starts with `prefix`, e.g. every past mail about an erased account. Queued and running jobs
/// stay (a queued mail is still owed to its recipient). Returns how many rows were deleted.
pub async fn delete_finished_by_key_prefix<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    prefix: &str,
) -> Result<u64, DbError> {
    let backend = conn.get_database_backend();
    let len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    let sql = "DELETE FROM job WHERE kind = $1 AND status IN ('done', 'dead', 'cancelled') \
               AND idempotency_key IS NOT NULL AND SUBSTR(idempotency_key, 1, $3) = $2";
    let r = conn
        .execute_raw(stmt(
            backend,
            sql,
            vec![kind.into(), prefix.into(), len.into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

/// The jobs of `kind` (any status) whose payload text holds `needle`, oldest first: the
/// candidates for "the jobs naming this account" (the caller checks the parsed payload).
/// `needle` is matched literally and must not hold `%`, `_` or a backslash (a UUID is fine).
pub async fn of_kind_mentioning<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    needle: &str,
) -> Result<Vec<JobRow>, DbError> {
    let backend = conn.get_database_backend();
    let sql = format!("SELECT {COLUMNS} FROM job WHERE kind = $1 AND payload LIKE $2 ORDER BY id");
    let rows = conn
        .query_all_raw(stmt(
            backend,
            &sql,
            vec![kind.into(), format!("%{needle}%").into()],
        ))
        .await?;
    rows.iter().map(row).collect()
}

/// Deletes job `id` unless a worker holds it (`running`): a queued job will then never run,
/// a finished one is forgotten. Returns whether the row was deleted.
pub async fn delete_unless_running<C: ConnectionTrait>(conn: &C, id: i64) -> Result<bool, DbError> {
    let backend = conn.get_database_backend();
    let sql = "DELETE FROM job WHERE id = $1 AND status <> 'running'";
    let r = conn
        .execute_raw(stmt(backend, sql, vec![id.into()]))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Number of jobs in each status that has any (metrics).
pub async fn counts<C: ConnectionTrait>(conn: &C) -> Result<Vec<(JobStatus, i64)>, DbError> {
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(stmt(
            backend,
            "SELECT status, COUNT(*) AS n FROM job GROUP BY status ORDER BY status",
            vec![],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let s: String = r.try_get("", "status")?;
            Ok((JobStatus::parse(&s)?, r.try_get::<i64>("", "n")?))
        })
        .collect()
}

/// Creates or updates a recurring schedule: a job of `kind` every `every`, first at `first_run`.
/// Re-declaring an existing schedule keeps its next run time.
pub async fn upsert_schedule<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    kind: &str,
    payload: &serde_json::Value,
    every: chrono::Duration,
    first_run: DateTime<Utc>,
) -> Result<(), DbError> {
    let backend = conn.get_database_backend();
    let sql = "INSERT INTO job_schedule (name, kind, payload, every_seconds, next_run_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
               kind = excluded.kind, payload = excluded.payload, every_seconds = excluded.every_seconds";
    let values: Vec<Value> = vec![
        name.into(),
        kind.into(),
        payload.to_string().into(),
        every.num_seconds().max(1).into(),
        ms(first_run).into(),
    ];
    conn.execute_raw(stmt(backend, sql, values)).await?;
    Ok(())
}

/// Removes the schedule named `name` (nothing when there is none); returns whether one was
/// removed.
pub async fn delete_schedule<C: ConnectionTrait>(conn: &C, name: &str) -> Result<bool, DbError> {
    let backend = conn.get_database_backend();
    let r = conn
        .execute_raw(stmt(
            backend,
            "DELETE FROM job_schedule WHERE name = $1",
            vec![name.into()],
        ))
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Enqueues one job for each schedule that is due at `now` and moves the schedule forward.
/// Safe with several workers: the schedule row is advanced with a compare-and-set on its old
/// next-run time, and the job carries an idempotency key derived from it. Returns the number of
/// jobs enqueued.
pub async fn enqueue_due_schedules<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    let backend = conn.get_database_backend();
    let due = conn
        .query_all_raw(stmt(
            backend,
            "SELECT name, kind, payload, every_seconds, next_run_at FROM job_schedule \
             WHERE next_run_at <= $1 ORDER BY name",
            vec![ms(now).into()],
        ))
        .await?;
    let mut enqueued = 0;
    for r in due {
        let name: String = r.try_get("", "name")?;
        let kind: String = r.try_get("", "kind")?;
        let payload: String = r.try_get("", "payload")?;
        let every: i64 = r.try_get("", "every_seconds")?;
        let next: i64 = r.try_get("", "next_run_at")?;
        // Skip missed periods rather than running a burst of catch-up jobs.
        let period = every.max(1) * 1000;
        let periods_passed = (ms(now) - next) / period + 1;
        let new_next = next + periods_passed * period;
        let moved = conn
            .execute_raw(stmt(
                backend,
                "UPDATE job_schedule SET next_run_at = $1 WHERE name = $2 AND next_run_at = $3",
                vec![new_next.into(), name.clone().into(), next.into()],
            ))
            .await?;
        if moved.rows_affected() != 1 {
            continue;
        }
        let mut job = NewJob::new(
            kind,
            serde_json::from_str(&payload).map_err(|e| DbError::Backend(e.to_string()))?,
            now,
        );
        job.idempotency_key = Some(format!("schedule:{name}:{next}"));
        enqueue(conn, &job, now).await?;
        enqueued += 1;
    }
    Ok(enqueued)
}

/// The publish/subscribe channel on which a worker announces a job's progress and end
/// (`{"status", "progress", "message"}` as JSON); the server-sent events of the job read it.
pub fn events_channel(id: i64) -> String {
    format!("job:{id}")
}
