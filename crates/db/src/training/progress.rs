//! Aggregates behind the learner's progress: answers per local day, XP counts, reviews due per
//! day, accuracy per subject. Every query groups in SQL (nothing loads a learner's history
//! row by row) and reads one learner through `ix_attempt_learner_item` /
//! `ix_learner_memory_due`, except [`xp_counts_all`], which feeds the cached rank table.
//!
//! Days are local days: `(epoch_ms + offset_ms) / 86 400 000`, so the caller's time zone
//! offset decides where a day starts.

use sea_orm::{ConnectionTrait, DbBackend, Value};
use uuid::Uuid;

use crate::DbError;
use crate::sql::stmt;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Graded answers of one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    /// Local day number (days since 1970-01-01 in the offset's time zone).
    pub day: i64,
    /// Graded answers.
    pub graded: i64,
    /// Of which labelled correct.
    pub correct: i64,
}

/// Correct answers of one (item kind, difficulty of the revision answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XpCount {
    /// Learner.
    pub learner_id: Uuid,
    /// `qcs`, `qcm`, `qroc`.
    pub kind: String,
    /// `easy`, `medium`, `hard`.
    pub difficulty: String,
    /// Correct answers.
    pub n: i64,
}

/// Graded answers in one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectCount {
    /// Subject.
    pub subject_id: Uuid,
    /// Graded answers.
    pub graded: i64,
    /// Of which labelled correct.
    pub correct: i64,
}

fn difficulty_expr(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "((r.content::json) ->> 'difficulty')",
        _ => "(r.content ->> 'difficulty')",
    }
}

/// The local days on which the learner answered at least once, oldest first.
pub async fn activity_days<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    offset_ms: i64,
) -> Result<Vec<i64>, DbError> {
    let sql = "SELECT DISTINCT (created_at + $2) / $3 AS d FROM attempt WHERE learner_id = $1 \
               ORDER BY d";
    let rows = c
        .query_all_raw(stmt(
            c.get_database_backend(),
            sql,
            vec![learner.into(), offset_ms.into(), DAY_MS.into()],
        ))
        .await?;
    rows.iter().map(|r| Ok(r.try_get("", "d")?)).collect()
}

/// Graded answers per local day since `since_ms` (only days with answers), optionally in one
/// subject.
pub async fn daily_accuracy<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    offset_ms: i64,
    since_ms: i64,
    subject: Option<Uuid>,
) -> Result<Vec<DayCount>, DbError> {
    let mut vals: Vec<Value> = vec![
        learner.into(),
        offset_ms.into(),
        DAY_MS.into(),
        since_ms.into(),
    ];
    let mut sql = String::from(
        "SELECT (a.created_at + $2) / $3 AS d, COUNT(*) AS graded, \
         SUM(CASE WHEN a.correct THEN 1 ELSE 0 END) AS right_n \
         FROM attempt a ",
    );
    if let Some(s) = subject {
        vals.push(s.into());
        sql.push_str("JOIN item i ON i.id = a.item_id AND i.subject_id = $5 ");
    }
    sql.push_str(
        "WHERE a.learner_id = $1 AND a.correct IS NOT NULL AND a.created_at >= $4 \
         GROUP BY d ORDER BY d",
    );
    let rows = c
        .query_all_raw(stmt(c.get_database_backend(), &sql, vals))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DayCount {
                day: r.try_get("", "d")?,
                graded: r.try_get("", "graded")?,
                correct: r.try_get::<Option<i64>>("", "right_n")?.unwrap_or(0),
            })
        })
        .collect()
}

/// Graded and correct answers of the learner per subject.
pub async fn subject_accuracy<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<Vec<SubjectCount>, DbError> {
    let sql = "SELECT i.subject_id, COUNT(*) AS graded, \
               SUM(CASE WHEN a.correct THEN 1 ELSE 0 END) AS right_n \
               FROM attempt a JOIN item i ON i.id = a.item_id \
               WHERE a.learner_id = $1 AND a.correct IS NOT NULL GROUP BY i.subject_id";
    let rows = c
        .query_all_raw(stmt(c.get_database_backend(), sql, vec![learner.into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SubjectCount {
                subject_id: r.try_get("", "subject_id")?,
                graded: r.try_get("", "graded")?,
                correct: r.try_get::<Option<i64>>("", "right_n")?.unwrap_or(0),
            })
        })
        .collect()
}

const XP_SELECT: &str = "SELECT a.learner_id, i.kind, {difficulty} AS difficulty, COUNT(*) AS n \
    FROM attempt a JOIN item i ON i.id = a.item_id JOIN item_revision r ON r.id = a.revision_id \
    WHERE a.correct = $1";

async fn xp_counts_where<C: ConnectionTrait>(
    c: &C,
    learner: Option<Uuid>,
) -> Result<Vec<XpCount>, DbError> {
    let backend = c.get_database_backend();
    let mut vals: Vec<Value> = vec![true.into()];
    let mut sql = XP_SELECT.replace("{difficulty}", difficulty_expr(backend));
    if let Some(l) = learner {
        vals.push(l.into());
        sql.push_str(" AND a.learner_id = $2");
    }
    // Positions, not the alias: PostgreSQL would read `difficulty` as `i.difficulty`.
    sql.push_str(" GROUP BY 1, 2, 3");
    let rows = c.query_all_raw(stmt(backend, &sql, vals)).await?;
    rows.iter()
        .map(|r| {
            Ok(XpCount {
                learner_id: r.try_get("", "learner_id")?,
                kind: r.try_get("", "kind")?,
                difficulty: r
                    .try_get::<Option<String>>("", "difficulty")?
                    .unwrap_or_else(|| "medium".into()),
                n: r.try_get("", "n")?,
            })
        })
        .collect()
}

/// The learner's correct answers per (kind, difficulty of the revision answered): what XP is
/// computed from.
pub async fn xp_counts<C: ConnectionTrait>(c: &C, learner: Uuid) -> Result<Vec<XpCount>, DbError> {
    xp_counts_where(c, Some(learner)).await
}

/// The same counts for every learner (the rank table; a scan of the correct attempts, so its
/// result is cached by the caller).
pub async fn xp_counts_all<C: ConnectionTrait>(c: &C) -> Result<Vec<XpCount>, DbError> {
    xp_counts_where(c, None).await
}

/// Reviews falling due per local day before `until_ms` (overdue ones under their own past
/// days), over approved items only (what a review session can serve).
pub async fn due_per_day<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    offset_ms: i64,
    until_ms: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    let sql = "SELECT (m.due_at + $2) / $3 AS d, COUNT(*) AS n FROM learner_memory m \
               JOIN item i ON i.id = m.item_id \
               WHERE m.learner_id = $1 AND m.due_at < $4 AND i.status = 'approved' \
               GROUP BY d ORDER BY d";
    let rows = c
        .query_all_raw(stmt(
            c.get_database_backend(),
            sql,
            vec![
                learner.into(),
                offset_ms.into(),
                DAY_MS.into(),
                until_ms.into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "d")?, r.try_get("", "n")?)))
        .collect()
}

/// Reviews due at `now_ms` (approved items only).
pub async fn due_count<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    now_ms: i64,
) -> Result<i64, DbError> {
    let sql = "SELECT COUNT(*) AS n FROM learner_memory m JOIN item i ON i.id = m.item_id \
               WHERE m.learner_id = $1 AND m.due_at <= $2 AND i.status = 'approved'";
    let row = c
        .query_one_raw(stmt(
            c.get_database_backend(),
            sql,
            vec![learner.into(), now_ms.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}
