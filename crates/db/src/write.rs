//! Write transactions that behave the same on both backends.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryTrait,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};

use crate::DbError;

/// Opens a transaction that will write. On SQLite it is a `BEGIN IMMEDIATE`: the write lock is
/// taken at once, so a concurrent writer waits under the busy timeout instead of failing. (A
/// deferred transaction that reads first and writes later fails with `SQLITE_BUSY` at once
/// when another connection wrote in between.) On PostgreSQL this is a plain `BEGIN`.
///
/// Use it for every use case that reads and then writes in one transaction. On a SQLite file
/// the transaction runs on the file's one-connection writer ([`crate::connect()`]), so write
/// transactions of the process queue for that connection in turn.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    match crate::connect::writer_for(db) {
        Some(writer) => Ok(writer.begin_with_options(options).await?),
        None => Ok(db.begin_with_options(options).await?),
    }
}

/// Several write statements sent to the database in **one round trip**, inside the caller's
/// transaction.
///
/// The answer of a training session writes seven statements (close the served item, the
/// attempt, three learner-state upserts, the next served item, the session); sent one by one,
/// each costs a round trip to the server (PostgreSQL) or to the driver's worker thread
/// (SQLite), and on SQLite the write lock is held across all of them. A batch sends them
/// together:
///
/// - **SQLite**: the statements joined by `;` in one `execute` (the driver binds the `?`
///   placeholders of consecutive statements from one argument list, in order).
/// - **PostgreSQL**: one statement whose data-modifying `WITH` clauses are the batch
///   (placeholders renumbered), ending in `SELECT` of the gate's row count.
///
/// A batch may have one **gate**: a statement that must change exactly one row for the batch
/// to count (the exactly-once close of a served item). [`WriteBatch::run`] answers `false`
/// when it did not, or when a unique constraint refused a row (a concurrent writer got there
/// first); the caller then drops the transaction, so nothing of the batch is kept.
pub struct WriteBatch {
    backend: DbBackend,
    parts: Vec<Part>,
}

struct Part {
    sql: String,
    values: Vec<Value>,
    /// Rows the statement changes when all is well (SQLite's total-change check).
    rows: u64,
    gate: bool,
}

impl WriteBatch {
    /// An empty batch for `backend`.
    #[must_use]
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            parts: Vec::new(),
        }
    }

    /// Adds a statement expected to change `rows` rows (an upsert counts one per row).
    pub fn push<Q: QueryTrait>(&mut self, query: &Q, rows: u64) {
        self.add(query.build(self.backend), rows, false);
    }

    /// Adds the gate: the statement that must change exactly one row. At most one per batch.
    pub fn push_gate<Q: QueryTrait>(&mut self, query: &Q) {
        debug_assert!(!self.parts.iter().any(|p| p.gate), "one gate per batch");
        self.add(query.build(self.backend), 1, true);
    }

    fn add(&mut self, s: Statement, rows: u64, gate: bool) {
        let values = s.values.map(|v| v.0).unwrap_or_default();
        self.parts.push(Part {
            sql: s.sql,
            values,
            rows,
            gate,
        });
    }

    /// Whether nothing was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Sends the batch in one round trip. `Ok(false)`: the gate changed no row, or a unique
    /// constraint refused a row; the caller must not commit.
    ///
    /// # Errors
    /// Any other database error.
    pub async fn run<C: ConnectionTrait>(self, c: &C) -> Result<bool, DbError> {
        if self.parts.is_empty() {
            return Ok(true);
        }
        let gated = self.parts.iter().any(|p| p.gate);
        let backend = self.backend;
        let outcome = match backend {
            DbBackend::Postgres => {
                let statement = self.postgres_statement();
                c.query_one_raw(statement).await.and_then(|row| match row {
                    Some(r) => r.try_get_by::<i64, _>("gate"),
                    None => Ok(0),
                })
            }
            _ => {
                let expected: u64 = self.parts.iter().map(|p| p.rows).sum();
                let (sql, values) = self.joined();
                c.execute_raw(Statement::from_sql_and_values(backend, sql, values))
                    .await
                    .map(|r| if r.rows_affected() == expected { 1 } else { 0 })
            }
        };
        match outcome {
            Ok(n) => Ok(!gated || n == 1),
            Err(e) if gated && crate::is_unique_violation(&e) => Ok(false),
            Err(e) if crate::is_unique_violation(&e) => Err(DbError::Conflict("batch")),
            Err(e) => Err(e.into()),
        }
    }

    /// SQLite: the statements one after the other.
    fn joined(self) -> (String, Vec<Value>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        for p in self.parts {
            sql.push_str(&p.sql);
            sql.push_str(";\n");
            values.extend(p.values);
        }
        (sql, values)
    }

    /// PostgreSQL: `WITH w0 AS (…), w1 AS (…) … SELECT <gate rows> AS gate`.
    fn postgres_statement(self) -> Statement {
        let mut sql = String::from("WITH ");
        let mut values: Vec<Value> = Vec::new();
        let mut gate = None;
        for (i, p) in self.parts.into_iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let body = shift_placeholders(&p.sql, values.len());
            if p.gate {
                gate = Some(i);
                sql.push_str(&format!("w{i} AS ({body} RETURNING 1)"));
            } else {
                sql.push_str(&format!("w{i} AS ({body})"));
            }
            values.extend(p.values);
        }
        match gate {
            Some(i) => sql.push_str(&format!(" SELECT (SELECT count(*) FROM w{i}) AS gate")),
            None => sql.push_str(" SELECT CAST(1 AS BIGINT) AS gate"),
        }
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }
}

/// Adds `offset` to every `$n` placeholder of a statement built by the query builder (which
/// binds every value, so `$` appears in no literal).
fn shift_placeholders(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, ch)) = chars.next() {
        out.push(ch);
        if ch != '$' {
            continue;
        }
        let mut n: usize = 0;
        let mut digits = false;
        while let Some(&(_, d)) = chars.peek() {
            let Some(v) = d.to_digit(10) else { break };
            n = n * 10 + v as usize;
            digits = true;
            chars.next();
        }
        if digits {
            out.push_str(&(n + offset).to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_shifted_past_the_earlier_statements() {
        assert_eq!(
            shift_placeholders("UPDATE t SET a = $1, b = $2 WHERE id = $10", 3),
            "UPDATE t SET a = $4, b = $5 WHERE id = $13"
        );
        assert_eq!(shift_placeholders("SELECT $1", 0), "SELECT $1");
        assert_eq!(shift_placeholders("a $ b", 2), "a $ b");
    }
}
