//! Reads behind calibration from the database: graded attempts streamed in pages (keyset on the
//! attempt id, so memory stays bounded by one page whatever the table's size), the items they
//! refer to (type, author's difficulty, translation group, current content for the option
//! count) and the parameters of a set for those items.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{CHUNK, attempt, item_parameter, kc_parameter};
use crate::DbError;
use crate::sql::stmt;

/// One graded attempt, as calibration needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradedAttempt {
    /// Attempt id (the page key).
    pub id: Uuid,
    /// Learner.
    pub learner_id: Uuid,
    /// Item answered.
    pub item_id: Uuid,
    /// The label (what the models learn from).
    pub correct: bool,
    /// Score ratio in [0, 1].
    pub ratio: f64,
    /// When (epoch ms).
    pub created_at: i64,
}

/// `(id, learner, item, label, ratio, created_at)` as selected.
type AttemptTuple = (Uuid, Uuid, Uuid, Option<bool>, Option<f64>, i64);

/// The next page of graded attempts (label not null) after `after` in id order, at most
/// `limit` rows. Pass the last id of a page to get the next one; an empty page is the end.
/// Ungraded answers are skipped: they feed no model.
pub async fn graded_attempts_page<C: ConnectionTrait>(
    c: &C,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<GradedAttempt>, DbError> {
    use attempt::Column as Col;
    let mut q = attempt::Entity::find()
        .select_only()
        .columns([
            Col::Id,
            Col::LearnerId,
            Col::ItemId,
            Col::Correct,
            Col::Ratio,
            Col::CreatedAt,
        ])
        .filter(Col::Correct.is_not_null());
    if let Some(after) = after {
        q = q.filter(Col::Id.gt(after));
    }
    let rows: Vec<AttemptTuple> = q
        .order_by_asc(Col::Id)
        .limit(limit)
        .into_tuple()
        .all(c)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, learner_id, item_id, correct, ratio, created_at)| GradedAttempt {
                id,
                learner_id,
                item_id,
                correct: correct.unwrap_or(false),
                ratio: ratio.unwrap_or(0.0).clamp(0.0, 1.0),
                created_at,
            },
        )
        .collect())
}

/// What calibration needs to know about an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationItem {
    /// Item.
    pub id: Uuid,
    /// `qcs`, `qcm`, `qroc`.
    pub kind: String,
    /// Author's difficulty: `easy`, `medium`, `hard`.
    pub difficulty: String,
    /// Linked translations share this id.
    pub translation_group_id: Uuid,
    /// Content of the current revision (JSON), for the option count.
    pub content: String,
}

/// The items among `ids` (unknown ids are absent).
pub async fn calibration_items<C: ConnectionTrait>(
    c: &C,
    ids: &[Uuid],
) -> Result<Vec<CalibrationItem>, DbError> {
    let backend = c.get_database_backend();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "SELECT i.id, i.kind, i.difficulty, i.translation_group_id, r.content \
             FROM item i JOIN item_revision r ON r.id = i.current_revision_id \
             WHERE i.id IN ({})",
            marks.join(", ")
        );
        let values = chunk.iter().map(|u| (*u).into()).collect();
        for r in c.query_all_raw(stmt(backend, &sql, values)).await? {
            out.push(CalibrationItem {
                id: r.try_get("", "id")?,
                kind: r.try_get("", "kind")?,
                difficulty: r.try_get("", "difficulty")?,
                translation_group_id: r.try_get("", "translation_group_id")?,
                content: r.try_get("", "content")?,
            });
        }
    }
    Ok(out)
}

/// Item parameters `(item, a, b, c)` of `items` in set `set` (items without a row are absent).
pub async fn item_parameters<C: ConnectionTrait>(
    c: &C,
    set: i64,
    items: &[Uuid],
) -> Result<Vec<(Uuid, f64, f64, f64)>, DbError> {
    let mut out = Vec::new();
    for chunk in items.chunks(CHUNK) {
        out.extend(
            item_parameter::Entity::find()
                .filter(item_parameter::Column::ParameterSetId.eq(set))
                .filter(item_parameter::Column::ItemId.is_in(chunk.to_vec()))
                .all(c)
                .await?
                .into_iter()
                .map(|p| (p.item_id, p.a, p.b, p.c)),
        );
    }
    Ok(out)
}

/// Copies every item and KC row of set `from` into set `to` (rows already in `to` are left
/// alone), so a candidate set starts as a complete copy of the set in use.
pub async fn copy_parameters<C: ConnectionTrait>(c: &C, from: i64, to: i64) -> Result<(), DbError> {
    let backend = c.get_database_backend();
    for sql in [
        "INSERT INTO item_parameter (parameter_set_id, item_id, a, b, c) \
         SELECT $2, item_id, a, b, c FROM item_parameter WHERE parameter_set_id = $1 \
         ON CONFLICT DO NOTHING",
        "INSERT INTO kc_parameter (parameter_set_id, kc_id, p_init, p_learn, p_guess, p_slip) \
         SELECT $2, kc_id, p_init, p_learn, p_guess, p_slip FROM kc_parameter \
         WHERE parameter_set_id = $1 ON CONFLICT DO NOTHING",
    ] {
        c.execute_raw(stmt(backend, sql, vec![from.into(), to.into()]))
            .await?;
    }
    Ok(())
}

/// Number of item and KC rows in set `set`.
pub async fn parameter_counts<C: ConnectionTrait>(c: &C, set: i64) -> Result<(u64, u64), DbError> {
    use sea_orm::PaginatorTrait;
    let items = item_parameter::Entity::find()
        .filter(item_parameter::Column::ParameterSetId.eq(set))
        .count(c)
        .await?;
    let kcs = kc_parameter::Entity::find()
        .filter(kc_parameter::Column::ParameterSetId.eq(set))
        .count(c)
        .await?;
    Ok((items, kcs))
}

/// Number of graded attempts (label not null), for progress.
pub async fn count_graded_attempts<C: ConnectionTrait>(c: &C) -> Result<u64, DbError> {
    use sea_orm::PaginatorTrait;
    Ok(attempt::Entity::find()
        .filter(attempt::Column::Correct.is_not_null())
        .count(c)
        .await?)
}

/// Replaces a parameter set's notes (a calibration stores its report there, as JSON).
pub async fn set_parameter_set_notes<C: ConnectionTrait>(
    c: &C,
    id: i64,
    notes: &str,
) -> Result<bool, DbError> {
    use sea_orm::sea_query::Expr;
    let r = super::parameter_set::Entity::update_many()
        .col_expr(super::parameter_set::Column::Notes, Expr::value(notes))
        .filter(super::parameter_set::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// One graded attempt with what evaluation needs beside the label: the prediction stored with
/// its served item, the subject it was served in, the item's locale and the learner's faculty.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationAttempt {
    /// Attempt id (the page key).
    pub id: Uuid,
    /// Learner.
    pub learner_id: Uuid,
    /// Item answered.
    pub item_id: Uuid,
    /// The label.
    pub correct: bool,
    /// When (epoch ms).
    pub created_at: i64,
    /// `session_item.p_correct`: the model's P(correct) stored when the item was served.
    pub p_correct: Option<f64>,
    /// Subject of the served item (θ is per learner and subject).
    pub subject_id: Uuid,
    /// The item's locale.
    pub locale: String,
    /// The learner's faculty, when the profile names one.
    pub faculty_id: Option<Uuid>,
}

/// The next page of graded attempts after `after` in id order (at most `limit`), each with its
/// served item's stored prediction, subject, the item's locale and the learner's faculty.
pub async fn evaluation_attempts_page<C: ConnectionTrait>(
    c: &C,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<EvaluationAttempt>, DbError> {
    let backend = c.get_database_backend();
    let (filter, values) = match after {
        Some(after) => ("AND a.id > $1 ", vec![after.into()]),
        None => ("", vec![]),
    };
    let sql = format!(
        "SELECT a.id, a.learner_id, a.item_id, a.correct, a.created_at, s.p_correct, \
         s.subject_id, i.locale, lp.faculty_id \
         FROM attempt a JOIN session_item s ON s.id = a.session_item_id \
         JOIN item i ON i.id = a.item_id \
         LEFT JOIN learner_profile lp ON lp.learner_id = a.learner_id \
         WHERE a.correct IS NOT NULL {filter}ORDER BY a.id LIMIT {limit}"
    );
    let mut out = Vec::new();
    for r in c.query_all_raw(stmt(backend, &sql, values)).await? {
        out.push(EvaluationAttempt {
            id: r.try_get("", "id")?,
            learner_id: r.try_get("", "learner_id")?,
            item_id: r.try_get("", "item_id")?,
            correct: r.try_get::<Option<bool>>("", "correct")?.unwrap_or(false),
            created_at: r.try_get("", "created_at")?,
            p_correct: r.try_get("", "p_correct")?,
            subject_id: r.try_get("", "subject_id")?,
            locale: r.try_get("", "locale")?,
            faculty_id: r.try_get("", "faculty_id")?,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- recomputation after a publish

/// Learners with at least one graded attempt, after `after` in id order (at most `limit`): the
/// pages of the recomputation of learner state under a newly published set.
pub async fn graded_learners_page<C: ConnectionTrait>(
    c: &C,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Uuid>, DbError> {
    let backend = c.get_database_backend();
    let (filter, values) = match after {
        Some(after) => ("AND learner_id > $1 ", vec![after.into()]),
        None => ("", vec![]),
    };
    let sql = format!(
        "SELECT DISTINCT learner_id FROM attempt WHERE correct IS NOT NULL {filter}\
         ORDER BY learner_id LIMIT {limit}"
    );
    let mut out = Vec::new();
    for r in c.query_all_raw(stmt(backend, &sql, values)).await? {
        out.push(r.try_get("", "learner_id")?);
    }
    Ok(out)
}

/// Number of learners with a graded attempt (progress of the recomputation).
pub async fn count_graded_learners<C: ConnectionTrait>(c: &C) -> Result<u64, DbError> {
    let backend = c.get_database_backend();
    let row = c
        .query_one_raw(stmt(
            backend,
            "SELECT COUNT(DISTINCT learner_id) AS n FROM attempt WHERE correct IS NOT NULL",
            vec![],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// One graded attempt of a learner's history: what the learner state is replayed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryAttempt {
    /// Learner.
    pub learner_id: Uuid,
    /// Item answered.
    pub item_id: Uuid,
    /// Subject of the served item (θ is per learner and subject).
    pub subject_id: Uuid,
    /// The label.
    pub correct: bool,
}

/// Every graded attempt of `learners`, by learner, then in the order the answer transactions
/// applied them (creation time, then attempt id, a UUIDv7).
pub async fn learner_histories<C: ConnectionTrait>(
    c: &C,
    learners: &[Uuid],
) -> Result<Vec<HistoryAttempt>, DbError> {
    let backend = c.get_database_backend();
    let mut out = Vec::new();
    for chunk in learners.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "SELECT a.learner_id, a.item_id, s.subject_id, a.correct \
             FROM attempt a JOIN session_item s ON s.id = a.session_item_id \
             WHERE a.correct IS NOT NULL AND a.learner_id IN ({}) \
             ORDER BY a.learner_id, a.created_at, a.id",
            marks.join(", ")
        );
        let values = chunk.iter().map(|u| (*u).into()).collect();
        for r in c.query_all_raw(stmt(backend, &sql, values)).await? {
            out.push(HistoryAttempt {
                learner_id: r.try_get("", "learner_id")?,
                item_id: r.try_get("", "item_id")?,
                subject_id: r.try_get("", "subject_id")?,
                correct: r.try_get::<Option<bool>>("", "correct")?.unwrap_or(false),
            });
        }
    }
    Ok(out)
}

/// On PostgreSQL, locks the open training sessions of `learners` (`FOR UPDATE`, in id order)
/// until the end of the transaction: an answer transaction locks its session first, so while
/// these locks are held no answer of these learners can read or write their state, and one
/// that committed before is visible to the statements that follow. SQLite needs nothing: a
/// write transaction already excludes every other writer.
pub async fn lock_open_sessions<C: ConnectionTrait>(
    c: &C,
    learners: &[Uuid],
) -> Result<(), DbError> {
    if c.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    for chunk in learners.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "SELECT id FROM training_session WHERE learner_id IN ({}) \
             AND status IN ('active', 'paused') ORDER BY id FOR UPDATE",
            marks.join(", ")
        );
        let values = chunk.iter().map(|u| (*u).into()).collect();
        c.query_all_raw(stmt(sea_orm::DbBackend::Postgres, &sql, values))
            .await?;
    }
    Ok(())
}
