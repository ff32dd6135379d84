//! Imports run as background jobs from the admin API: the upload is stored in the blob store
//! under a random key, an `import_run` row and a `catalogue.import` job are written in one
//! transaction, and the job reads the blob, imports it while recording progress, and stores the
//! report on the run. Re-running the job after a crash is safe: the import is idempotent.
//!
//! A run may be a dry run: every row is checked inside a transaction that is rolled back, and
//! the run ends `checked` (no bad row) or `failed` with the row/column/reason report. A checked
//! run can then be committed: a new run over the same stored file, this time for real. Progress
//! goes to the run row and, through a [`ProgressSink`], to the job's live event stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use myqcm_db::catalogue::{self as repo, import_run};
use myqcm_db::jobs::{NewJob, enqueue};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::ItemStatus;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use myqcm_domain::ports::BlobStore;
use serde::Serialize;
use uuid::Uuid;

use super::{Format, ImportOptions, ImportReport};
use crate::catalogue::{CatalogueError, staff_gate};

/// The job kind.
pub const KIND: &str = "catalogue.import";

/// Largest accepted upload.
pub const MAX_UPLOAD: usize = 20 * 1024 * 1024;

/// An import run as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportRunView {
    /// Run id.
    pub id: Uuid,
    /// `queued`, `running`, `done`, `failed`, or `checked` (a dry run without bad rows).
    pub status: String,
    /// `json`, `csv`, `xlsx`.
    pub format: String,
    /// Partial mode.
    pub partial: bool,
    /// Rows in the file (known once parsing is done).
    pub total: i32,
    /// Rows processed so far.
    pub processed: i32,
    /// The report once finished.
    pub report: Option<ImportReport>,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last progress.
    pub updated_at: DateTime<Utc>,
}

impl From<import_run::Model> for ImportRunView {
    fn from(m: import_run::Model) -> Self {
        Self {
            id: m.id,
            status: m.status,
            format: m.format,
            partial: m.partial,
            total: m.total,
            processed: m.processed,
            report: m.report.and_then(|r| serde_json::from_str(&r).ok()),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// What the job needs besides the run id.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JobPayload {
    /// The run.
    pub run_id: Uuid,
    /// Course for rows without one.
    pub default_course: Option<String>,
    /// Check only: nothing is written.
    #[serde(default)]
    pub dry_run: bool,
}

/// Where a running import reports its progress besides the run row (the job's live events):
/// called with the fraction done and a short message, at most twice a second.
pub type ProgressSink =
    Arc<dyn Fn(f64, String) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// The idempotency key of the job of run `id` (one job per run).
fn job_key(id: Uuid) -> String {
    format!("{KIND}:{id}")
}

/// Import/export staff only, enrolled in TOTP (the pages check it before showing a form).
pub fn may_import(actor: &Actor) -> Result<(), CatalogueError> {
    staff_gate(actor)?;
    if actor.can(Action::CatalogueImportExport) {
        Ok(())
    } else {
        Err(CatalogueError::Forbidden)
    }
}

fn internal(e: impl std::fmt::Display) -> CatalogueError {
    CatalogueError::Store(DbError::Backend(e.to_string()))
}

/// What an upload asks for.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The file's format.
    pub format: Format,
    /// Keep good rows when some are bad.
    pub partial: bool,
    /// Course for rows without one.
    pub default_course: Option<String>,
    /// Check only (see the module documentation).
    pub dry_run: bool,
}

/// Stores the upload and queues the job (import/export staff, enrolled in TOTP); the audit
/// log gets `catalogue.import_start` with the run as target.
pub async fn start(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    actor: &Actor,
    bytes: Bytes,
    req: ImportRequest,
    now: DateTime<Utc>,
) -> Result<ImportRunView, CatalogueError> {
    may_import(actor)?;
    let key = format!(
        "imports/{}.{}",
        Uuid::new_v4().simple(),
        req.format.as_str()
    );
    blobs.put(&key, bytes).await.map_err(internal)?;
    queue(db, actor, key, &req, "catalogue.import_start", now).await
}

/// Imports the file of run `id` for real, after a dry run that found no bad row: a new run over
/// the same stored file (`WrongState` unless the run is `checked`). Audited as
/// `catalogue.import_commit`.
pub async fn commit(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<ImportRunView, CatalogueError> {
    may_import(actor)?;
    let checked = repo::import_run_by_id(db, id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    if checked.status != "checked" {
        return Err(CatalogueError::WrongState(
            "only a dry run without errors can be imported; upload the corrected file".into(),
        ));
    }
    let format = Format::parse(&checked.format).ok_or_else(|| internal("stored format"))?;
    // The course for rows without one, as the dry run had it (kept in its job's payload).
    let default_course = match myqcm_db::jobs::id_by_idempotency_key(db, &job_key(id)).await? {
        Some(job) => {
            serde_json::from_value::<JobPayload>(myqcm_db::jobs::get(db, job).await?.payload)
                .ok()
                .and_then(|p| p.default_course)
        }
        None => None,
    };
    let req = ImportRequest {
        format,
        partial: checked.partial,
        default_course,
        dry_run: false,
    };
    queue(
        db,
        actor,
        checked.blob_key,
        &req,
        "catalogue.import_commit",
        now,
    )
    .await
}

/// One run row, its job and its audit row, in one transaction.
async fn queue(
    db: &DatabaseConnection,
    actor: &Actor,
    blob_key: String,
    req: &ImportRequest,
    action: &'static str,
    now: DateTime<Utc>,
) -> Result<ImportRunView, CatalogueError> {
    let id = Uuid::now_v7();
    let txn = repo::begin_write(db).await?;
    let run = repo::insert_import_run(
        &txn,
        import_run::Model {
            id,
            format: req.format.as_str().into(),
            partial: req.partial,
            blob_key,
            status: "queued".into(),
            total: 0,
            processed: 0,
            report: None,
            created_by: actor.id,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    let mut job = NewJob::new(
        KIND,
        serde_json::to_value(JobPayload {
            run_id: id,
            default_course: req.default_course.clone(),
            dry_run: req.dry_run,
        })
        .map_err(internal)?,
        now,
    );
    job.max_attempts = 3;
    job.idempotency_key = Some(job_key(id));
    enqueue(&txn, &job, now).await?;
    let event = crate::identity::audit::Event::new(action)
        .actor(actor.id)
        .target(id.to_string())
        .detail(serde_json::json!({
            "format": req.format.as_str(),
            "partial": req.partial,
            "dry_run": req.dry_run,
        }));
    crate::identity::audit::record_at(&txn, now, event).await?;
    txn.commit().await?;
    Ok(run.into())
}

/// The newest runs (import/export staff, enrolled in TOTP), at most `limit` (≤ 100).
pub async fn recent(
    db: &DatabaseConnection,
    actor: &Actor,
    limit: u64,
) -> Result<Vec<ImportRunView>, CatalogueError> {
    may_import(actor)?;
    Ok(repo::recent_import_runs(db, limit.min(100))
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The live events of run `id`'s job (import/export staff, enrolled in TOTP), as the jobs
/// stream gives them: the state now, then each change, until the job ends.
pub async fn watch(
    db: &DatabaseConnection,
    cache: &dyn myqcm_domain::ports::Cache,
    actor: &Actor,
    id: Uuid,
) -> Result<futures::stream::BoxStream<'static, crate::jobs::JobEvent>, CatalogueError> {
    may_import(actor)?;
    repo::import_run_by_id(db, id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    let job = myqcm_db::jobs::id_by_idempotency_key(db, &job_key(id))
        .await?
        .ok_or(CatalogueError::NotFound)?;
    crate::jobs::stream(db, cache, job)
        .await
        .map_err(|e| internal(e.to_string()))
}

/// A run by id (import/export staff, enrolled in TOTP).
pub async fn get(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<ImportRunView, CatalogueError> {
    may_import(actor)?;
    repo::import_run_by_id(db, id)
        .await?
        .map(Into::into)
        .ok_or(CatalogueError::NotFound)
}

/// The job body.
pub async fn run(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    clock: &dyn Clock,
    payload: JobPayload,
    sink: Option<ProgressSink>,
) -> anyhow::Result<()> {
    let Some(mut run) = repo::import_run_by_id(db, payload.run_id).await? else {
        return Ok(());
    };
    if run.status == "done" || run.status == "checked" {
        return Ok(());
    }
    let format =
        Format::parse(&run.format).ok_or_else(|| anyhow::anyhow!("bad format {}", run.format))?;
    let bytes = blobs.get(&run.blob_key).await?;
    run.status = "running".into();
    run.updated_at = clock.now();
    let run = repo::update_import_run(db, run).await?;
    let done = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let (d, t) = (done.clone(), total.clone());
    let progress = move |x: usize, n: usize| {
        d.store(x, Ordering::Relaxed);
        t.store(n, Ordering::Relaxed);
    };
    // Progress is written by a side task on its own connection while the import's transaction
    // is open, so a GET shows it moving.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let reporter = {
        let db = db.clone();
        let run = run.clone();
        let (done, total) = (done.clone(), total.clone());
        tokio::spawn(async move {
            let mut last = usize::MAX;
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => break,
                    () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                }
                let now_done = done.load(Ordering::Relaxed);
                if now_done != last {
                    last = now_done;
                    let all = total.load(Ordering::Relaxed);
                    let mut r = run.clone();
                    r.processed = i32::try_from(now_done).unwrap_or(i32::MAX);
                    r.total = i32::try_from(all).unwrap_or(i32::MAX);
                    let _ = repo::update_import_run(&db, r).await;
                    if let Some(sink) = &sink
                        && all > 0
                    {
                        #[allow(clippy::cast_precision_loss, reason = "row counts are small")]
                        let fraction = now_done as f64 / all as f64;
                        sink(fraction, format!("{now_done} / {all}")).await;
                    }
                }
            }
        })
    };
    let opts = ImportOptions {
        partial: run.partial,
        author_id: run.created_by,
        status: ItemStatus::InReview,
        default_course: payload.default_course,
    };
    let outcome = if payload.dry_run {
        super::dry_run(db, &bytes, format, &opts, &progress, clock.now()).await
    } else {
        super::import(db, &bytes, format, &opts, &progress, clock.now()).await
    };
    let _ = stop_tx.send(true);
    let _ = reporter.await;
    let mut run = run;
    run.updated_at = clock.now();
    match outcome {
        Ok(report) => {
            run.status = if report.committed {
                "done".into()
            } else if report.dry_run && report.failed == 0 {
                "checked".into()
            } else {
                "failed".into()
            };
            run.total = i32::try_from(report.total).unwrap_or(i32::MAX);
            run.processed = run.total;
            run.report = Some(serde_json::to_string(&report)?);
            repo::update_import_run(db, run).await?;
            Ok(())
        }
        Err(e) => {
            run.status = "queued".into();
            repo::update_import_run(db, run).await?;
            Err(anyhow::anyhow!("{e}"))
        }
    }
}
