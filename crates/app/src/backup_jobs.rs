//! `backup.run`: the recurring backup. With `MYQCM_BACKUP_DIR` set, a job every
//! `MYQCM_BACKUP_EVERY_HOURS` writes `myqcm-backup-<UTC time>.zip` there (the archive of
//! `myqcm backup`), then deletes the oldest archives beyond `MYQCM_BACKUP_KEEP`, and sets the
//! gauge [`LAST_SUCCESS_METRIC`]. A failure leaves no new file, deletes nothing, and fails the
//! job (retried with backoff, then `dead`, which the dead-jobs alert reports; the backup-age
//! alert fires when no backup succeeded for a day).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_domain::ports::BlobStore;
use myqcm_jobs::{JobContext, JobHandler};

/// Unix time of the newest archive the recurring backup wrote (0 while there is none).
pub const LAST_SUCCESS_METRIC: &str = "myqcm_backup_last_success_timestamp_seconds";

const PREFIX: &str = "myqcm-backup-";
const SUFFIX: &str = ".zip";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// The handler.
pub struct BackupJob {
    /// Database to copy.
    pub db: DatabaseConnection,
    /// Its URL (`pg_dump` needs it on PostgreSQL).
    pub database_url: String,
    /// The blob store to include.
    pub blobs: Arc<dyn BlobStore>,
    /// Where archives go (`MYQCM_BACKUP_DIR`).
    pub dir: PathBuf,
    /// How many archives to keep (`MYQCM_BACKUP_KEEP`, at least 1).
    pub keep: usize,
}

impl BackupJob {
    /// The job kind (and schedule name).
    pub const KIND: &'static str = "backup.run";

    /// The archive name for a backup taken at `at`: names sort in time order.
    pub fn archive_name(at: DateTime<Utc>) -> String {
        format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
    }
}

/// The archives of the recurring backup in `dir` (other files are ignored), oldest first.
///
/// # Errors
/// The directory cannot be read (a missing directory is empty).
pub fn archives(dir: &Path) -> std::io::Result<Vec<(DateTime<Utc>, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stamp) = name
            .strip_prefix(PREFIX)
            .and_then(|n| n.strip_suffix(SUFFIX))
        else {
            continue;
        };
        if let Ok(t) = NaiveDateTime::parse_from_str(stamp, STAMP)
            && entry.file_type()?.is_file()
        {
            out.push((t.and_utc(), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the oldest archives in `dir` so that at most `keep` remain; returns those deleted.
///
/// # Errors
/// The directory cannot be read or a file cannot be deleted.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let all = archives(dir)?;
    let excess = all.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for (_, path) in all.into_iter().take(excess) {
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

/// Sets [`LAST_SUCCESS_METRIC`] from the newest archive in `dir` (0 when there is none, so the
/// backup-age alert fires if backups are on but none ever succeeded). Returns that time.
pub fn publish_last_success(dir: &Path) -> Option<DateTime<Utc>> {
    let newest = archives(dir).ok().and_then(|a| a.last().map(|(t, _)| *t));
    set_gauge(newest);
    newest
}

fn set_gauge(at: Option<DateTime<Utc>>) {
    #[expect(clippy::cast_precision_loss, reason = "seconds since 1970 fit in f64")]
    let secs = at.map_or(0.0, |t| t.timestamp() as f64);
    metrics::gauge!(LAST_SUCCESS_METRIC).set(secs);
}

#[async_trait]
impl JobHandler for BackupJob {
    async fn run(&self, _payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let now = ctx.now();
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {} (MYQCM_BACKUP_DIR)", self.dir.display()))?;
        let target = self.dir.join(BackupJob::archive_name(now));
        let manifest = crate::backup::backup(&self.db, &self.database_url, &*self.blobs, &target)
            .await
            .with_context(|| format!("backup into {}", target.display()))?;
        let removed = prune(&self.dir, self.keep).context("deleting old backups")?;
        set_gauge(Some(now));
        tracing::info!(
            archive = %target.display(),
            parts = manifest.parts.len(),
            removed = removed.len(),
            "backup written"
        );
        Ok(())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use myqcm_domain::ports::PortError;
    use myqcm_domain::{Clock, FixedClock};
    use myqcm_jobs::{Registry, Tick, Worker, WorkerConfig};

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    /// A blob store whose listing always fails (a bucket gone, an expired key).
    #[derive(Debug)]
    struct BrokenBlobs;

    #[async_trait]
    impl BlobStore for BrokenBlobs {
        async fn put(&self, _: &str, _: Bytes) -> Result<(), PortError> {
            Err(PortError::Unavailable("broken".into()))
        }
        async fn get(&self, _: &str) -> Result<Bytes, PortError> {
            Err(PortError::Unavailable("broken".into()))
        }
        async fn delete(&self, _: &str) -> Result<(), PortError> {
            Err(PortError::Unavailable("broken".into()))
        }
        async fn exists(&self, _: &str) -> Result<bool, PortError> {
            Err(PortError::Unavailable("broken".into()))
        }
        async fn keys(&self) -> Result<Vec<String>, PortError> {
            Err(PortError::Unavailable("bucket unreachable".into()))
        }
    }

    /// A migrated SQLite database in `dir` (the backup reads a real file, whatever backend
    /// the other tests use; PostgreSQL backups are covered by the command-line tests).
    async fn sqlite(dir: &Path) -> (DatabaseConnection, String) {
        let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
        (myqcm_db::connect_migrated(&url, None).await.unwrap(), url)
    }

    #[test]
    fn retention_deletes_the_oldest_archives_beyond_keep_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=5 {
            std::fs::write(
                dir.path()
                    .join(format!("myqcm-backup-2026120{day}T020000Z.zip")),
                b"x",
            )
            .unwrap();
        }
        for other in [
            "notes.txt",
            "myqcm-backup-latest.zip",
            "myqcm-backup-20261209T020000Z.partial",
        ] {
            std::fs::write(dir.path().join(other), b"y").unwrap();
        }
        let removed = prune(dir.path(), 2).unwrap();
        assert_eq!(removed.len(), 3);
        assert_eq!(
            names(dir.path()),
            [
                "myqcm-backup-20261204T020000Z.zip",
                "myqcm-backup-20261205T020000Z.zip",
                "myqcm-backup-20261209T020000Z.partial",
                "myqcm-backup-latest.zip",
                "notes.txt",
            ]
        );
        // keep = 0 is read as 1: the newest archive is never deleted.
        prune(dir.path(), 0).unwrap();
        assert_eq!(archives(dir.path()).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_job_writes_verified_archives_and_keeps_the_newest() {
        let work = tempfile::tempdir().unwrap();
        let (db, url) = sqlite(work.path()).await;
        let blobs = Arc::new(myqcm_integrations::FsBlobStore::new(
            work.path().join("blobs"),
        ));
        blobs
            .put("media/a.png", Bytes::from_static(b"png"))
            .await
            .unwrap();
        let job = BackupJob {
            db,
            database_url: url,
            blobs,
            dir: work.path().join("backups"),
            keep: 2,
        };
        let clock = Arc::new(FixedClock::new(myqcm_testkit::epoch()));
        for _ in 0..3 {
            let ctx = JobContext::detached(1, 1, clock.clone());
            job.run(serde_json::json!({}), ctx).await.unwrap();
            clock.advance(chrono::Duration::hours(24));
        }
        let kept = archives(&job.dir).unwrap();
        let start = myqcm_testkit::epoch();
        assert_eq!(
            kept.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            [
                start + chrono::Duration::hours(24),
                start + chrono::Duration::hours(48)
            ]
        );
        let manifest = crate::backup::verify(&kept[1].1).unwrap();
        assert!(manifest.parts.iter().any(|p| p.path == "blobs/media/a.png"));
        assert_eq!(publish_last_success(&job.dir), Some(kept[1].0));
    }

    #[tokio::test]
    async fn a_failed_backup_fails_the_job_and_keeps_the_older_archives() {
        let work = tempfile::tempdir().unwrap();
        let (db, url) = sqlite(work.path()).await;
        let dir = work.path().join("backups");
        std::fs::create_dir_all(&dir).unwrap();
        for day in 1..=3 {
            std::fs::write(
                dir.join(format!("myqcm-backup-2026010{day}T000000Z.zip")),
                b"old",
            )
            .unwrap();
        }
        let before = names(&dir);
        let clock = Arc::new(FixedClock::new(myqcm_testkit::epoch()));
        let mut registry = Registry::new();
        registry.register(
            BackupJob::KIND,
            Arc::new(BackupJob {
                db: db.clone(),
                database_url: url,
                blobs: Arc::new(BrokenBlobs),
                dir: dir.clone(),
                keep: 1,
            }),
        );
        let id = myqcm_db::jobs::enqueue(
            &db,
            &myqcm_db::jobs::NewJob::new(BackupJob::KIND, serde_json::json!({}), clock.now()),
            clock.now(),
        )
        .await
        .unwrap();
        let worker = Worker::new(
            db.clone(),
            clock.clone(),
            Arc::new(registry),
            WorkerConfig::default(),
        );
        let ticks = worker.drain().await.unwrap();
        assert!(
            matches!(ticks.as_slice(), [Tick::Retry(j, _), ..] if *j == id),
            "{ticks:?}"
        );
        let row = myqcm_db::jobs::get(&db, id).await.unwrap();
        let error = row.last_error.unwrap_or_default();
        assert!(error.contains("bucket unreachable"), "{error}");
        // Nothing deleted (retention runs only after a success), no half-written file.
        assert_eq!(names(&dir), before);
    }
}
