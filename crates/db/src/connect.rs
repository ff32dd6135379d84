//! Opening the database: the backend is chosen by the URL scheme, nothing else changes.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;

use crate::DbError;
use crate::migration::Migrator;

/// Which engine a connection talks to.
pub type Backend = DbBackend;

/// How long a query waits for a pooled connection (and a new connection for its handshake)
/// before failing with [`DbError::Unavailable`], in milliseconds. 10 s unless the process sets
/// it: the server sets a short wait so that a lost database answers 503 at once instead of
/// holding every request (see [`set_connection_wait`]).
static CONNECTION_WAIT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(10_000);

/// Sets the wait of pools opened afterwards (see [`CONNECTION_WAIT_MS`]).
pub fn set_connection_wait(wait: Duration) {
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    CONNECTION_WAIT_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// A pooled connection idle for longer is pinged before it is handed out. sqlx pings by
/// default on **every** acquire: a round trip to the server (PostgreSQL) or to the driver's
/// worker thread (SQLite) on each checkout, and on SQLite inside the write lock of a training
/// write (docs/PERFORMANCE.md). A connection in steady use has just been pinged when it was
/// released (sqlx does that on every release), so only one that sat idle long enough for the
/// server or a proxy to drop it is checked again; a connection broken meanwhile fails its
/// statement (503), is discarded on release, and the pool opens a fresh one.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Opens a pool for `url` (`sqlite://…` or `postgres://…`). SQLite files are created if
/// missing and opened in WAL mode with foreign keys on and a 5 s busy timeout on every pooled
/// connection. `schema` (PostgreSQL only) sets the search path, used by tests to isolate
/// themselves inside one database.
///
/// A SQLite file also gets its **writer**: a pool of one connection that every write
/// transaction of the process on that file uses ([`crate::begin_write`]), registered by file
/// name (the newest pool opened on a file replaces an earlier one). SQLite has one writer
/// anyway; on one connection its page cache stays warm from one write to the next (in WAL mode a
/// connection drops its cache whenever another connection commits) and the driver wakes one
/// worker thread instead of any of eight: +5 to +17 % answers per second in the load test
/// (docs/PERFORMANCE.md). Reads outside write transactions keep the pool.
pub async fn connect(url: &str, schema: Option<&str>) -> Result<DatabaseConnection, DbError> {
    let db = connect_sized(url, schema, None).await?;
    if db.get_database_backend() == DbBackend::Sqlite && !in_memory(url) {
        let writer = connect_sized(url, schema, Some(1)).await?;
        let file = file_of(&db);
        if let Ok(mut w) = WRITERS.lock() {
            w.retain(|(f, _)| *f != file);
            w.push((file, writer));
        }
    }
    Ok(db)
}

/// The writers of SQLite files, by file name (see [`connect`]).
static WRITERS: std::sync::Mutex<Vec<(std::path::PathBuf, DatabaseConnection)>> =
    std::sync::Mutex::new(Vec::new());

fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

fn file_of(db: &DatabaseConnection) -> std::path::PathBuf {
    db.get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf()
}

/// The writer of `db`'s SQLite file, if [`connect`] opened one (none on PostgreSQL, for an
/// in-memory database, or for a pool opened another way).
pub(crate) fn writer_for(db: &DatabaseConnection) -> Option<DatabaseConnection> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    let writers = WRITERS.lock().ok()?;
    writers
        .iter()
        .find(|(f, _)| f.as_path() == file)
        .map(|(_, w)| w.clone())
}

/// [`connect`] with at most `max` pooled connections when given.
async fn connect_sized(
    url: &str,
    schema: Option<&str>,
    max: Option<u32>,
) -> Result<DatabaseConnection, DbError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    let wait = Duration::from_millis(CONNECTION_WAIT_MS.load(std::sync::atomic::Ordering::Relaxed));
    opts.sqlx_logging(false)
        .connect_timeout(wait)
        .acquire_timeout(wait)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    if url.starts_with("sqlite:") {
        let in_memory = in_memory(url);
        // Every pooled connection of an in-memory database would get its own empty database.
        opts.max_connections(if in_memory { 1 } else { max.unwrap_or(8) })
            .min_connections(1);
        opts.map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        })
        .map_sqlx_sqlite_before_acquire(|conn, _| {
            Box::pin(async move { Ok(outside_any_transaction(conn)) })
        });
    } else {
        opts.max_connections(max.unwrap_or(20)).min_connections(1);
        if let Some(schema) = schema {
            opts.set_schema_search_path(schema.to_owned());
        }
    }
    Database::connect(opts).await.map_err(DbError::from)
}

/// Whether a pooled SQLite connection may be handed out: the driver counts no transaction open
/// on it. A connection leaves a transaction with that count above zero only when its
/// `ROLLBACK` failed — after SQLite rolled the transaction back by itself on a full disk or
/// an I/O error. Kept, it would run the next `BEGIN` as a savepoint: a later abandoned
/// transaction then leaves a real one open (`ROLLBACK TO` does not end it) and every
/// "commit" after it only releases a savepoint, so acknowledged writes would never reach the
/// file. Such a connection is closed instead and the pool opens a fresh one. (The pool pings
/// a connection on release, which runs any queued rollback before this check.)
fn outside_any_transaction(conn: &mut sea_orm::sqlx::SqliteConnection) -> bool {
    use sea_orm::sqlx::Connection as _;
    let inside = conn.is_in_transaction();
    if inside {
        tracing::warn!(
            "discarding a SQLite connection left inside a transaction (full disk or I/O error)"
        );
    }
    !inside
}

/// Applies every pending migration (idempotent).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbError> {
    Migrator::up(db, None).await.map_err(DbError::from)
}

/// Applies pending migrations through a short-lived connection, then opens the pool the
/// application uses. Connections that existed during a schema change can keep a stale copy of
/// the schema on SQLite, so the working pool is only opened once the schema is final.
///
/// Several instances may start at once (a rolling deploy, replicas scaled out, a migrate job
/// racing the pods). On PostgreSQL the migrations run on one connection holding a session
/// advisory lock keyed by the schema, so one instance migrates and the others wait, then find
/// nothing pending. (A deployment has one SQLite instance.)
pub async fn connect_migrated(
    url: &str,
    schema: Option<&str>,
) -> Result<DatabaseConnection, DbError> {
    let setup = connect_sized(url, schema, Some(1)).await?;
    let postgres = setup.get_database_backend() == DbBackend::Postgres;
    if postgres {
        setup.execute_unprepared(MIGRATION_LOCK).await?;
    }
    let migrated = migrate(&setup).await;
    if postgres && migrated.is_ok() {
        setup.execute_unprepared(MIGRATION_UNLOCK).await?;
    }
    // Closing the only connection also releases the lock when the migration failed.
    setup.close().await?;
    migrated?;
    connect(url, schema).await
}

/// Session advisory lock serialising the migrations of one schema across instances (the first
/// key is the application's, the second the schema's).
const MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7360291, hashtext(current_schema()))";
const MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7360291, hashtext(current_schema()))";

/// Connections of the pool: `(open, idle)`.
#[must_use]
pub fn pool_connections(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (p.size(), p.num_idle())
        }
        DbBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), p.num_idle())
        }
        _ => (0, 0),
    }
}

/// Runs a trivial query (readiness probe).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbError> {
    db.execute_unprepared("SELECT 1")
        .await
        .map(|_| ())
        .map_err(DbError::from)
}
