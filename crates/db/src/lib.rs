//! Persistence for MyQCM on SQLite and PostgreSQL through one code path (SeaORM).
//!
//! Owns the connection set-up (SQLite pragmas), the migrations, the repositories grouped by
//! aggregate and the job table. Driver errors are translated into [`DbError`] here; nothing
//! above this crate sees a `sqlx` or `sea_orm` error.

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

pub use connect::{Backend, connect, connect_migrated, migrate, ping, pool_connections};
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
    /// Anything else from the driver; logged, never shown to a client.
    #[error("database error: {0}")]
    Backend(String),
}

impl From<sea_orm::DbErr> for DbError {
    fn from(e: sea_orm::DbErr) -> Self {
        match e {
            sea_orm::DbErr::RecordNotFound(_) => Self::NotFound,
            other => Self::Backend(other.to_string()),
        }
    }
}

/// True when the error is a unique-constraint violation on either backend.
pub(crate) fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
