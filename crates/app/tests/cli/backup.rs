//! `myqcm backup` / `myqcm restore`: a round trip keeps every row and blob (directory or
//! S3-compatible store); a damaged archive, a non-empty target and a schema from the future are
//! refused before anything is written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::io::{Read, Write};
use std::path::Path;

use crate::myqcm;

fn fail(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = myqcm();
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = myqcm();
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `table: n` lines of a backup or restore report.
fn counts(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(str::to_owned)
        .collect()
}

/// A copy of `from` with the content of entry `name` replaced (its manifest entry kept).
fn tamper(from: &Path, to: &Path, name: &str) {
    let mut src = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..src.len() {
        let mut e = src.by_index(i).unwrap();
        let entry_name = e.name().unwrap().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if entry_name == name {
            data[0] ^= 0xff;
        }
        out.start_file(entry_name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap();
}

fn round_trip(env_a: &[(&str, &str)], env_b: &[(&str, &str)], env_c: &[(&str, &str)]) {
    let a = tempfile::tempdir().unwrap();
    run_env(a.path(), &["seed", "--demo"], env_a);
    let blob_dir = a.path().join("data/blobs/media/2026");
    std::fs::create_dir_all(&blob_dir).unwrap();
    std::fs::write(blob_dir.join("figure.png"), b"\x89PNG fake image bytes").unwrap();
    let archive = a.path().join("backup.zip");
    let written = run_env(
        a.path(),
        &["backup", "--output", archive.to_str().unwrap()],
        env_a,
    );
    assert!(written.starts_with("backup written"), "{written}");
    let before = counts(&written);
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("  user_account: ") && !l.ends_with(": 0")),
        "{written}"
    );
    // An existing archive is never overwritten.
    assert!(
        fail(
            a.path(),
            &["backup", "--output", archive.to_str().unwrap()],
            env_a
        )
        .contains("exists already")
    );

    // Restore into an empty place: same counts, same blob.
    let b = tempfile::tempdir().unwrap();
    let restored = run_env(b.path(), &["restore", archive.to_str().unwrap()], env_b);
    assert_eq!(counts(&restored), before, "{restored}");
    assert_eq!(
        std::fs::read(b.path().join("data/blobs/media/2026/figure.png")).unwrap(),
        b"\x89PNG fake image bytes"
    );
    // A second restore into the same place is refused.
    let again = fail(b.path(), &["restore", archive.to_str().unwrap()], env_b);
    assert!(again.contains("not empty"), "{again}");

    // A damaged part is refused before anything is written.
    let c = tempfile::tempdir().unwrap();
    let damaged = a.path().join("damaged.zip");
    tamper(&archive, &damaged, "blobs/media/2026/figure.png");
    let err = fail(c.path(), &["restore", damaged.to_str().unwrap()], env_c);
    assert!(err.contains("does not match its checksum"), "{err}");
    assert!(!c.path().join("data/blobs").exists());
    assert!(!c.path().join("data/myqcm.sqlite").exists());
}

#[test]
fn backup_and_restore_round_trip_and_refuse_damage_on_sqlite() {
    round_trip(&[], &[], &[]);
}

/// The same on PostgreSQL, with a fresh database per instance, when
/// `MYQCM_TEST_DATABASE_URL` is set (CI's PostgreSQL run).
#[test]
fn backup_and_restore_round_trip_and_refuse_damage_on_postgres() {
    let Ok(url) = std::env::var("MYQCM_TEST_DATABASE_URL") else {
        eprintln!("MYQCM_TEST_DATABASE_URL unset: the PostgreSQL round trip is skipped");
        return;
    };
    let base = url
        .rsplit_once('/')
        .map_or(url.as_str(), |(b, _)| b)
        .to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let names: Vec<String> = (0..3)
        .map(|i| format!("backup_{}_{i}", uuid::Uuid::new_v4().simple()))
        .collect();
    rt.block_on(async {
        let admin = myqcm_db::connect(&url, None).await.unwrap();
        for n in &names {
            myqcm_db::maintenance::create_database(&admin, n)
                .await
                .unwrap();
        }
    });
    let urls: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
    round_trip(
        &[("MYQCM_DATABASE_URL", &urls[0])],
        &[("MYQCM_DATABASE_URL", &urls[1])],
        &[("MYQCM_DATABASE_URL", &urls[2])],
    );
    rt.block_on(async {
        let admin = myqcm_db::connect(&url, None).await.unwrap();
        for n in &names {
            let _ = myqcm_db::maintenance::drop_database(&admin, n).await;
        }
    });
}

/// The blobs of an S3-compatible store (`MYQCM_BLOB_S3_*`) go into the archive through the
/// port and come back into another bucket, when `MYQCM_TEST_S3_URL` names a server (CI starts
/// moto on loopback).
#[test]
fn backup_and_restore_carry_the_blobs_of_an_s3_store() {
    use myqcm_domain::ports::BlobStore as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let buckets: Option<Vec<(String, String)>> = rt.block_on(async {
        let mut out = Vec::new();
        for _ in 0..2 {
            out.push(myqcm_testkit::test_s3_bucket().await.unwrap()?);
        }
        Some(out)
    });
    let Some(buckets) = buckets else {
        eprintln!("MYQCM_TEST_S3_URL unset: the S3 backup round trip is skipped");
        return;
    };
    let env = |(endpoint, bucket): &(String, String)| {
        vec![
            ("MYQCM_BLOB_S3_BUCKET", bucket.clone()),
            ("MYQCM_BLOB_S3_ENDPOINT", endpoint.clone()),
            ("MYQCM_BLOB_S3_ACCESS_KEY_ID", "test-key".to_owned()),
            ("MYQCM_BLOB_S3_SECRET_ACCESS_KEY", "test-secret".to_owned()),
        ]
    };
    let store = |(endpoint, bucket): &(String, String)| {
        myqcm_integrations::S3BlobStore::new(&myqcm_integrations::S3Settings {
            bucket: bucket.clone(),
            endpoint: Some(endpoint.clone()),
            region: "us-east-1".into(),
            access_key_id: Some("test-key".into()),
            secret_access_key: Some("test-secret".into()),
        })
        .unwrap()
    };
    let (env_a, env_b) = (env(&buckets[0]), env(&buckets[1]));
    rt.block_on(store(&buckets[0]).put("media/2026/figure.png", b"\x89PNG in a bucket"[..].into()))
        .unwrap();

    let a = tempfile::tempdir().unwrap();
    run_env(a.path(), &["seed", "--demo"], &refs(&env_a));
    let archive = a.path().join("backup.zip");
    let written = run_env(
        a.path(),
        &["backup", "--output", archive.to_str().unwrap()],
        &refs(&env_a),
    );
    assert!(
        written.contains("2 parts"),
        "database and one blob: {written}"
    );
    assert!(
        !a.path().join("data/blobs").exists(),
        "the directory store was not used"
    );

    let b = tempfile::tempdir().unwrap();
    let restored = run_env(
        b.path(),
        &["restore", archive.to_str().unwrap()],
        &refs(&env_b),
    );
    assert_eq!(counts(&restored), counts(&written), "{restored}");
    let target = store(&buckets[1]);
    assert_eq!(
        rt.block_on(target.keys()).unwrap(),
        ["media/2026/figure.png"]
    );
    assert_eq!(
        rt.block_on(target.get("media/2026/figure.png")).unwrap(),
        &b"\x89PNG in a bucket"[..]
    );
    // The bucket now holds objects: a second restore (into a fresh database) is refused.
    let c = tempfile::tempdir().unwrap();
    let again = fail(
        c.path(),
        &["restore", archive.to_str().unwrap()],
        &refs(&env_b),
    );
    assert!(
        again.contains("blob store") && again.contains("not empty"),
        "{again}"
    );
}

fn refs<'a>(e: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    e.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The recurring backup (`MYQCM_BACKUP_DIR`) of a running `myqcm worker`: with no archive yet
/// the first one is written at start, `myqcm restore` accepts it with the same counts as a
/// manual backup, and `/metrics` reports its time.
#[test]
fn the_recurring_backup_job_writes_an_archive_that_restore_accepts() {
    recurring_backup(&[], &[]);
}

/// The same on PostgreSQL (`pg_dump` from the job), with fresh databases, when
/// `MYQCM_TEST_DATABASE_URL` is set.
#[test]
fn the_recurring_backup_job_writes_an_archive_that_restore_accepts_on_postgres() {
    let Ok(url) = std::env::var("MYQCM_TEST_DATABASE_URL") else {
        eprintln!("MYQCM_TEST_DATABASE_URL unset: the PostgreSQL recurring backup is skipped");
        return;
    };
    let base = url
        .rsplit_once('/')
        .map_or(url.as_str(), |(b, _)| b)
        .to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let names: Vec<String> = (0..2)
        .map(|i| format!("backup_job_{}_{i}", uuid::Uuid::new_v4().simple()))
        .collect();
    rt.block_on(async {
        let admin = myqcm_db::connect(&url, None).await.unwrap();
        for n in &names {
            myqcm_db::maintenance::create_database(&admin, n)
                .await
                .unwrap();
        }
    });
    let urls: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
    recurring_backup(
        &[("MYQCM_DATABASE_URL", &urls[0])],
        &[("MYQCM_DATABASE_URL", &urls[1])],
    );
    rt.block_on(async {
        let admin = myqcm_db::connect(&url, None).await.unwrap();
        for n in &names {
            let _ = myqcm_db::maintenance::drop_database(&admin, n).await;
        }
    });
}

fn recurring_backup(env_a: &[(&str, &str)], env_b: &[(&str, &str)]) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let a = tempfile::tempdir().unwrap();
    run_env(a.path(), &["seed", "--demo"], env_a);
    let backups = a.path().join("backups");
    // Files that are not archives of the job are never touched.
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::write(backups.join("notes.txt"), b"keep me").unwrap();
    let metrics_port = crate::free_port();
    let mut worker = myqcm();
    for (k, v) in env_a {
        worker.env(k, v);
    }
    let mut child = worker
        .arg("worker")
        .current_dir(a.path())
        .env("MYQCM_BACKUP_DIR", &backups)
        .env("MYQCM_BACKUP_KEEP", "3")
        .env("MYQCM_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut archive = None;
    while Instant::now() < deadline && archive.is_none() {
        std::thread::sleep(Duration::from_millis(200));
        archive = myqcm_app::backup_jobs::archives(&backups)
            .unwrap()
            .pop()
            .map(|(_, p)| p);
    }
    let mut gauge = None;
    while Instant::now() < deadline {
        let text = crate::commands::http_get(metrics_port, "/metrics").map(|r| r.1);
        gauge = text.as_deref().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("myqcm_backup_last_success_timestamp_seconds "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if gauge.is_some_and(|g| g > 0.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let archive = archive.expect("the worker wrote an archive");
    let recent = chrono::Utc::now().timestamp() as f64 - 600.0;
    assert!(gauge.is_some_and(|g| g > recent), "gauge {gauge:?}");
    assert_eq!(
        std::fs::read(backups.join("notes.txt")).unwrap(),
        b"keep me"
    );

    let manual = a.path().join("manual.zip");
    let written = run_env(
        a.path(),
        &["backup", "--output", manual.to_str().unwrap()],
        env_a,
    );
    let b = tempfile::tempdir().unwrap();
    let restored = run_env(b.path(), &["restore", archive.to_str().unwrap()], env_b);
    assert_eq!(counts(&restored), counts(&written), "{restored}");
}
