//! Raw SQL written once for both backends: placeholders are written `$1, $2…` (PostgreSQL's
//! form) and rewritten to SQLite's numbered `?1, ?2…` form here.

use sea_orm::{DbBackend, Statement, Value};

/// Builds a statement for `backend` from SQL using `$n` placeholders.
pub fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let s = stmt(DbBackend::Sqlite, "SELECT $1, $2", vec![1.into(), 2.into()]);
        assert_eq!(s.sql, "SELECT ?1, ?2");
        let p = stmt(
            DbBackend::Postgres,
            "SELECT $1, $2",
            vec![1.into(), 2.into()],
        );
        assert_eq!(p.sql, "SELECT $1, $2");
    }
}
