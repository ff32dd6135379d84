//! Write transactions that behave the same on both backends.

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::DbError;

/// Opens a transaction that will write. On SQLite it is a `BEGIN IMMEDIATE`: the write lock is
/// taken at once, so a concurrent writer waits under the busy timeout instead of failing. (A
/// deferred transaction that reads first and writes later fails with `SQLITE_BUSY` at once
/// when another connection wrote in between.) On PostgreSQL this is a plain `BEGIN`.
///
/// Use it for every use case that reads and then writes in one transaction.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(db.begin_with_options(options).await?)
}
