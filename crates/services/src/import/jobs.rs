//! Imports run as background jobs from the admin API: the upload is stored in the blob store
//! under a random key, an `import_run` row and a `catalogue.import` job are written in one
//! transaction, and the job reads the blob, imports it while recording progress, and stores the
//! report on the run. Re-running the job after a crash is safe: the import is idempotent.

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
    /// `queued`, `running`, `done`, `failed`.
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
}

/// Import/export staff only, enrolled in TOTP.
fn may_import(actor: &Actor) -> Result<(), CatalogueError> {
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

/// Stores the upload and queues the job (import/export staff, enrolled in TOTP).
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, each argument is a distinct request field"
)]
pub async fn start(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    actor: &Actor,
    bytes: Bytes,
    format: Format,
    partial: bool,
    default_course: Option<String>,
    now: DateTime<Utc>,
) -> Result<ImportRunView, CatalogueError> {
    may_import(actor)?;
    let id = Uuid::now_v7();
    let key = format!("imports/{}.{}", Uuid::new_v4().simple(), format.as_str());
    blobs.put(&key, bytes).await.map_err(internal)?;
    let txn = repo::begin_write(db).await?;
    let run = repo::insert_import_run(
        &txn,
        import_run::Model {
            id,
            format: format.as_str().into(),
            partial,
            blob_key: key,
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
            default_course,
        })
        .map_err(internal)?,
        now,
    );
    job.max_attempts = 3;
    job.idempotency_key = Some(format!("{KIND}:{id}"));
    enqueue(&txn, &job, now).await?;
    txn.commit().await?;
    Ok(run.into())
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
) -> anyhow::Result<()> {
    let Some(mut run) = repo::import_run_by_id(db, payload.run_id).await? else {
        return Ok(());
    };
    if run.status == "done" {
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
                    let mut r = run.clone();
                    r.processed = i32::try_from(now_done).unwrap_or(i32::MAX);
                    r.total = i32::try_from(total.load(Ordering::Relaxed)).unwrap_or(i32::MAX);
                    let _ = repo::update_import_run(&db, r).await;
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
    let outcome = super::import(db, &bytes, format, &opts, &progress, clock.now()).await;
    let _ = stop_tx.send(true);
    let _ = reporter.await;
    let mut run = run;
    run.updated_at = clock.now();
    match outcome {
        Ok(report) => {
            run.status = if report.committed {
                "done".into()
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
