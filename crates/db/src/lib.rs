//! Persistence for MyQCM on SQLite and PostgreSQL through one code path (SeaORM).
//!
//! Owns the connection set-up (SQLite pragmas), the migrations, the repositories grouped by
//! aggregate and the job table. Driver errors are translated into [`DbError`] here; nothing
//! above this crate sees a `sqlx` or `sea_orm` error.

pub mod ai;
pub mod catalogue;
pub mod commerce;
pub mod connect;
pub mod identity;
pub mod jobs;
pub mod maintenance;
pub mod migration;
pub mod sql;
pub mod training;
mod write;

pub use connect::{
    Backend, connect, connect_migrated, migrate, ping, pool_connections, set_connection_wait,
};
pub use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
pub use write::{WriteBatch, begin_write};

/// A persistence failure, in the vocabulary of the layers above.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A uniqueness rule was violated (the constraint's meaning is given by the caller).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// The database cannot be reached right now (connection refused or lost, pool exhausted
    /// past its wait, server shutting down or starting): a request may be retried shortly, and
    /// the HTTP layer answers 503 rather than 500.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else from the driver; logged, never shown to a client.
    #[error("database error: {0}")]
    Backend(String),
}

impl From<sea_orm::DbErr> for DbError {
    fn from(e: sea_orm::DbErr) -> Self {
        if is_unavailable(&e) {
            return Self::Unavailable(e.to_string());
        }
        match e {
            sea_orm::DbErr::RecordNotFound(_) => Self::NotFound,
            other => Self::Backend(other.to_string()),
        }
    }
}

/// SQLite's primary result codes: the database is busy or locked (another writer held it past
/// the busy timeout, or a read snapshot went stale before its write), an I/O failure, a full
/// disk.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;

/// Whether a driver error means "the database is not reachable now" rather than "this query is
/// wrong": no connection could be had, the connection broke, PostgreSQL refused it while
/// shutting down or starting (SQLSTATE class 08, 57P01–57P03) or lacks resources (class 53:
/// disk full, out of memory, too many connections), or SQLite could not write now (`SQLITE_BUSY`
/// and `SQLITE_LOCKED`: contention past the busy timeout; `SQLITE_FULL`, `SQLITE_IOERR`: the
/// data directory's disk is full or failing).
fn is_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x)) => {
            match x.as_ref() {
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
                Sqlx::Database(d) => {
                    if d.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                        .is_some()
                    {
                        // The primary result code (the low byte of the extended one).
                        let primary = d
                            .code()
                            .and_then(|c| c.parse::<i32>().ok())
                            .map_or(0, |c| c & 0xff);
                        return matches!(
                            primary,
                            SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL
                        );
                    }
                    d.code().is_some_and(|c| {
                        c.starts_with("08")
                            || c.starts_with("53")
                            || matches!(&*c, "57P01" | "57P02" | "57P03")
                    })
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// True when the error is a unique-constraint violation on either backend.
pub(crate) fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
