//! Test helpers shared by every crate's tests (a dev-dependency only).
//!
//! [`test_db`] gives each test a fresh, migrated database on the backend chosen by
//! `MYQCM_TEST_DATABASE_URL` (unset: a SQLite file in a temporary directory; `postgres://…`:
//! a fresh schema inside that database). [`test_cache`] does the same for the cache with
//! `MYQCM_TEST_REDIS_URL`.

pub mod fake_chargily;
pub mod fake_idp;
pub mod fake_llm;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_domain::FixedClock;
use myqcm_domain::ports::Cache;
use myqcm_integrations::{MemoryCache, RedisCache};
use sea_orm::ConnectionTrait;

/// A migrated database that lives as long as this value.
pub struct TestDb {
    /// The pool.
    pub conn: DatabaseConnection,
    /// The URL it was opened with (without the schema).
    pub url: String,
    /// PostgreSQL schema, when on PostgreSQL.
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestDb {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.conn
    }
}

impl TestDb {
    /// Opens another pool on the same database (e.g. to play a second process).
    pub async fn reconnect(&self) -> anyhow::Result<DatabaseConnection> {
        Ok(myqcm_db::connect(&self.url, self.schema.as_deref()).await?)
    }

    /// Which engine this test runs on.
    pub fn backend(&self) -> sea_orm::DbBackend {
        self.conn.get_database_backend()
    }
}

/// The backend label for test output: `sqlite` or `postgres`.
pub fn backend_name() -> &'static str {
    match std::env::var("MYQCM_TEST_DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => "postgres",
        _ => "sqlite",
    }
}

/// A fresh migrated database for one test.
pub async fn test_db() -> anyhow::Result<TestDb> {
    match std::env::var("MYQCM_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = myqcm_db::connect(&url, None).await?;
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await?;
            admin.close().await?;
            let conn = myqcm_db::connect_migrated(&url, Some(&schema)).await?;
            Ok(TestDb {
                conn,
                url,
                schema: Some(schema),
                _dir: None,
            })
        }
        _ => {
            let dir = tempfile::tempdir()?;
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("test.sqlite").display()
            );
            let conn = myqcm_db::connect_migrated(&url, None).await?;
            Ok(TestDb {
                conn,
                url,
                schema: None,
                _dir: Some(dir),
            })
        }
    }
}

/// A cache for one test: Redis with a unique key prefix when `MYQCM_TEST_REDIS_URL` is set,
/// otherwise the in-process cache.
pub async fn test_cache() -> anyhow::Result<Arc<dyn Cache>> {
    match std::env::var("MYQCM_TEST_REDIS_URL") {
        Ok(url) => {
            let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
            Ok(Arc::new(RedisCache::connect(&url, &prefix).await?))
        }
        Err(_) => Ok(Arc::new(MemoryCache::new(10_000))),
    }
}

/// Two caches of one deployment, as two instances hold them: with `MYQCM_TEST_REDIS_URL`, two
/// Redis connections sharing a unique key prefix (keys and published messages are shared);
/// otherwise one in-process cache, twice.
pub async fn test_cache_pair() -> anyhow::Result<(Arc<dyn Cache>, Arc<dyn Cache>)> {
    match std::env::var("MYQCM_TEST_REDIS_URL") {
        Ok(url) => {
            let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
            Ok((
                Arc::new(RedisCache::connect(&url, &prefix).await?),
                Arc::new(RedisCache::connect(&url, &prefix).await?),
            ))
        }
        Err(_) => {
            let one: Arc<dyn Cache> = Arc::new(MemoryCache::new(10_000));
            Ok((one.clone(), one))
        }
    }
}

/// With `MYQCM_TEST_S3_URL` set (an S3-compatible server on loopback, such as `moto_server`),
/// creates a fresh bucket there and returns `(endpoint, bucket)`; otherwise `None`.
pub async fn test_s3_bucket() -> anyhow::Result<Option<(String, String)>> {
    let Ok(endpoint) = std::env::var("MYQCM_TEST_S3_URL") else {
        return Ok(None);
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let bucket = format!("test-{}", uuid::Uuid::new_v4().simple());
    // object_store does not create buckets; moto accepts an unsigned `PUT /bucket`.
    let res = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await?;
    anyhow::ensure!(
        res.status().is_success(),
        "creating bucket {bucket}: {}",
        res.status()
    );
    Ok(Some((endpoint, bucket)))
}

/// A fixed clock at a round, recognisable instant (2026-01-05 08:00 UTC).
pub fn fixed_clock() -> FixedClock {
    FixedClock::new(epoch())
}

/// The instant [`fixed_clock`] starts at.
pub fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_600_000, 0).unwrap_or_default()
}

/// A loopback TCP port that was free at the time of the call, for a child process to bind.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A command running `program` (a test's `env!("CARGO_BIN_EXE_myqcm")`) without the `MYQCM_*`
/// and `RUST_LOG` variables of the environment running the tests: each test sets what it needs.
pub fn isolated_command(program: &str) -> std::process::Command {
    let mut c = std::process::Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("MYQCM_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}
