//! Opening the database: the backend is chosen by the URL scheme, nothing else changes.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;

use crate::DbError;
use crate::migration::Migrator;

/// Which engine a connection talks to.
pub type Backend = DbBackend;

/// Opens a pool for `url` (`sqlite://…` or `postgres://…`). SQLite files are created if
/// missing and opened in WAL mode with foreign keys on and a 5 s busy timeout on every pooled
/// connection. `schema` (PostgreSQL only) sets the search path, used by tests to isolate
/// themselves inside one database.
pub async fn connect(url: &str, schema: Option<&str>) -> Result<DatabaseConnection, DbError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // Every pooled connection of an in-memory database would get its own empty database.
        opts.max_connections(if in_memory { 1 } else { 8 })
            .min_connections(1);
        opts.map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    } else {
        opts.max_connections(20).min_connections(1);
        if let Some(schema) = schema {
            opts.set_schema_search_path(schema.to_owned());
        }
    }
    Database::connect(opts).await.map_err(DbError::from)
}

/// Applies every pending migration (idempotent).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbError> {
    Migrator::up(db, None).await.map_err(DbError::from)
}

/// Applies pending migrations through a short-lived connection, then opens the pool the
/// application uses. Connections that existed during a schema change can keep a stale copy of
/// the schema on SQLite, so the working pool is only opened once the schema is final.
pub async fn connect_migrated(
    url: &str,
    schema: Option<&str>,
) -> Result<DatabaseConnection, DbError> {
    let setup = connect(url, schema).await?;
    migrate(&setup).await?;
    setup.close().await?;
    connect(url, schema).await
}

/// Runs a trivial query (readiness probe).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbError> {
    db.execute_unprepared("SELECT 1")
        .await
        .map(|_| ())
        .map_err(DbError::from)
}
