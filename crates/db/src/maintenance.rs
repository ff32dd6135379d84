//! What backups and restores ask of the database: a consistent SQLite copy, the migration
//! level, row counts, whether a target is empty, the PostgreSQL server's major version.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::MigratorTrait as _;

use crate::DbError;
use crate::migration::Migrator;

async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> Result<i64, DbError> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or(DbError::NotFound)?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// Copies a SQLite database into a new file at `path` (`VACUUM INTO`): consistent while other
/// connections write.
pub async fn vacuum_into(db: &DatabaseConnection, path: &str) -> Result<(), DbError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Err(DbError::Backend("VACUUM INTO is for SQLite".into()));
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [path.into()],
    ))
    .await?;
    Ok(())
}

/// Name of the last migration applied.
pub async fn last_migration(db: &DatabaseConnection) -> Result<String, DbError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1",
        ))
        .await?
        .ok_or(DbError::NotFound)?;
    Ok(row.try_get_by_index::<String>(0)?)
}

/// Names of the migrations this binary carries, oldest first.
pub fn known_migrations() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// Tables whose rows a backup counts.
pub const COUNTED_TABLES: &[&str] = &[
    "user_account",
    "item",
    "item_revision",
    "training_session",
    "attempt",
    "audit_log",
];

/// Rows of each of [`COUNTED_TABLES`].
pub async fn row_counts(db: &DatabaseConnection) -> Result<Vec<(String, i64)>, DbError> {
    let mut out = Vec::with_capacity(COUNTED_TABLES.len());
    for t in COUNTED_TABLES {
        out.push((
            (*t).to_owned(),
            scalar_i64(db, &format!("SELECT COUNT(*) FROM {t}")).await?,
        ));
    }
    Ok(out)
}

/// Tables in the connection's schema (0: an empty target).
pub async fn table_count(db: &DatabaseConnection) -> Result<i64, DbError> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        _ => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    scalar_i64(db, sql).await
}

/// Major version of the PostgreSQL server (e.g. 15).
pub async fn server_major(db: &DatabaseConnection) -> Result<i64, DbError> {
    Ok(scalar_i64(
        db,
        "SELECT CAST(current_setting('server_version_num') AS BIGINT)",
    )
    .await?
        / 10_000)
}

fn plain_name(name: &str) -> Result<&str, DbError> {
    if !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(name)
    } else {
        Err(DbError::Backend(format!(
            "not a plain database name: {name:?}"
        )))
    }
}

/// Creates PostgreSQL database `name` (lower-case letters, digits and `_` only): restore
/// targets in tests and drills.
pub async fn create_database(db: &DatabaseConnection, name: &str) -> Result<(), DbError> {
    db.execute_unprepared(&format!("CREATE DATABASE {}", plain_name(name)?))
        .await?;
    Ok(())
}

/// Drops PostgreSQL database `name` if it exists.
pub async fn drop_database(db: &DatabaseConnection, name: &str) -> Result<(), DbError> {
    db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {}", plain_name(name)?))
        .await?;
    Ok(())
}
