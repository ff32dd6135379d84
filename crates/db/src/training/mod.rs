//! Learning persistence: learner profiles, learning modes, parameter sets, training sessions,
//! served items, attempts and the learner state, with the queries that build a session's
//! candidate pool. Functions take any `ConnectionTrait` so the services choose the
//! transaction; reads that precede a state update can lock their rows (PostgreSQL
//! `FOR UPDATE`; SQLite write transactions are already exclusive).

pub mod calibration;
pub mod entities;
pub mod progress;
pub mod quality;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    IdenStatic, Iterable, QueryFilter, QueryOrder, QuerySelect, TryIntoModel, Value,
};
use uuid::Uuid;

pub use entities::{
    attempt, item_alert, item_parameter, kc_parameter, learner_ability, learner_kc, learner_memory,
    learner_profile, learning_mode, parameter_set, session_item, training_session,
};

use crate::sql::stmt;
use crate::{DbError, WriteBatch, is_unique_violation};

/// Largest number of bound values per `IN (…)` list; longer lists are sent in chunks.
const CHUNK: usize = 500;

fn is_pg<C: ConnectionTrait>(c: &C) -> bool {
    c.get_database_backend() == DbBackend::Postgres
}

// ---------------------------------------------------------------- profiles and modes

/// A learner's profile.
pub async fn profile<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<Option<learner_profile::Model>, DbError> {
    Ok(learner_profile::Entity::find_by_id(learner).one(c).await?)
}

/// Creates or replaces a learner's profile (`created_at` is kept on replacement).
pub async fn put_profile<C: ConnectionTrait>(
    c: &C,
    m: learner_profile::Model,
) -> Result<learner_profile::Model, DbError> {
    use learner_profile::Column as Col;
    let a: learner_profile::ActiveModel = m.clone().into();
    learner_profile::Entity::insert(a)
        .on_conflict(
            OnConflict::column(Col::LearnerId)
                .update_columns([
                    Col::UniversityId,
                    Col::FacultyId,
                    Col::YearOfStudy,
                    Col::ExamDate,
                    Col::DailyMinutes,
                    Col::Mode,
                    Col::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(c)
        .await?;
    profile(c, m.learner_id).await?.ok_or(DbError::NotFound)
}

/// Every learning mode, in display order.
pub async fn modes<C: ConnectionTrait>(c: &C) -> Result<Vec<learning_mode::Model>, DbError> {
    Ok(learning_mode::Entity::find()
        .order_by_asc(learning_mode::Column::SortOrder)
        .order_by_asc(learning_mode::Column::Code)
        .all(c)
        .await?)
}

/// One learning mode.
pub async fn mode<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<learning_mode::Model>, DbError> {
    Ok(learning_mode::Entity::find_by_id(code.to_owned())
        .one(c)
        .await?)
}

/// Creates or replaces a learning mode.
pub async fn put_mode<C: ConnectionTrait>(
    c: &C,
    m: learning_mode::Model,
) -> Result<learning_mode::Model, DbError> {
    use learning_mode::Column as Col;
    let a: learning_mode::ActiveModel = m.clone().into();
    learning_mode::Entity::insert(a)
        .on_conflict(
            OnConflict::column(Col::Code)
                .update_columns([
                    Col::Names,
                    Col::Definers,
                    Col::SortOrder,
                    Col::UpdatedAt,
                    Col::UpdatedBy,
                ])
                .to_owned(),
        )
        .exec(c)
        .await?;
    mode(c, &m.code).await?.ok_or(DbError::NotFound)
}

// ---------------------------------------------------------------- parameter sets

/// The parameter set in use: the newest `active` one (set 0, the priors, when no other).
pub async fn active_parameter_set<C: ConnectionTrait>(c: &C) -> Result<i64, DbError> {
    Ok(parameter_set::Entity::find()
        .filter(parameter_set::Column::Status.eq("active"))
        .order_by_desc(parameter_set::Column::Id)
        .one(c)
        .await?
        .map_or(0, |s| s.id))
}

/// Every parameter set, newest first.
pub async fn parameter_sets<C: ConnectionTrait>(
    c: &C,
) -> Result<Vec<parameter_set::Model>, DbError> {
    Ok(parameter_set::Entity::find()
        .order_by_desc(parameter_set::Column::Id)
        .all(c)
        .await?)
}

/// Appends a parameter set with the next id.
pub async fn insert_parameter_set<C: ConnectionTrait>(
    c: &C,
    name: &str,
    kind: &str,
    status: &str,
    notes: &str,
    now_ms: i64,
) -> Result<parameter_set::Model, DbError> {
    let next = parameter_set::Entity::find()
        .order_by_desc(parameter_set::Column::Id)
        .one(c)
        .await?
        .map_or(1, |s| s.id + 1);
    parameter_set::ActiveModel {
        id: Set(next),
        name: Set(name.to_owned()),
        kind: Set(kind.to_owned()),
        status: Set(status.to_owned()),
        notes: Set(notes.to_owned()),
        created_at: Set(now_ms),
    }
    .insert(c)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            DbError::Conflict("parameter_set")
        } else {
            e.into()
        }
    })
}

/// Sets a parameter set's status (`active`, `candidate`, `retired`).
pub async fn set_parameter_set_status<C: ConnectionTrait>(
    c: &C,
    id: i64,
    status: &str,
) -> Result<bool, DbError> {
    let r = parameter_set::Entity::update_many()
        .col_expr(parameter_set::Column::Status, Expr::value(status))
        .filter(parameter_set::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Writes item parameters `(item, a, b, c)` into set `set` (replacing existing rows).
pub async fn put_item_parameters<C: ConnectionTrait>(
    c: &C,
    set: i64,
    rows: &[(Uuid, f64, f64, f64)],
) -> Result<(), DbError> {
    use item_parameter::Column as Col;
    for chunk in rows.chunks(CHUNK / 5) {
        let models = chunk
            .iter()
            .map(|(item, a, b, cc)| item_parameter::ActiveModel {
                parameter_set_id: Set(set),
                item_id: Set(*item),
                a: Set(*a),
                b: Set(*b),
                c: Set(*cc),
            });
        item_parameter::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([Col::ParameterSetId, Col::ItemId])
                    .update_columns([Col::A, Col::B, Col::C])
                    .to_owned(),
            )
            .exec(c)
            .await?;
    }
    Ok(())
}

/// Writes BKT parameters `(kc, p_init, p_learn, p_guess, p_slip)` into set `set`.
pub async fn put_kc_parameters<C: ConnectionTrait>(
    c: &C,
    set: i64,
    rows: &[(Uuid, f64, f64, f64, f64)],
) -> Result<(), DbError> {
    use kc_parameter::Column as Col;
    for chunk in rows.chunks(CHUNK / 6) {
        let models = chunk
            .iter()
            .map(|(kc, i, l, g, s)| kc_parameter::ActiveModel {
                parameter_set_id: Set(set),
                kc_id: Set(*kc),
                p_init: Set(*i),
                p_learn: Set(*l),
                p_guess: Set(*g),
                p_slip: Set(*s),
            });
        kc_parameter::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([Col::ParameterSetId, Col::KcId])
                    .update_columns([Col::PInit, Col::PLearn, Col::PGuess, Col::PSlip])
                    .to_owned(),
            )
            .exec(c)
            .await?;
    }
    Ok(())
}

/// BKT parameters of `kcs` in set `set` (KCs without a row are absent: the caller uses the
/// defaults).
pub async fn kc_parameters<C: ConnectionTrait>(
    c: &C,
    set: i64,
    kcs: &[Uuid],
) -> Result<Vec<kc_parameter::Model>, DbError> {
    let mut out = Vec::new();
    for chunk in kcs.chunks(CHUNK) {
        out.extend(
            kc_parameter::Entity::find()
                .filter(kc_parameter::Column::ParameterSetId.eq(set))
                .filter(kc_parameter::Column::KcId.is_in(chunk.to_vec()))
                .all(c)
                .await?,
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------- candidate pools

/// One approved item as the pool needs it (no content: the key stays in the revision).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    /// Item.
    pub item_id: Uuid,
    /// `qcs`, `qcm`, `qroc`.
    pub kind: String,
    /// `easy`, `medium`, `hard`.
    pub difficulty: String,
    /// Course.
    pub course_id: Uuid,
    /// Subject.
    pub subject_id: Uuid,
    /// Source kind.
    pub source_kind: Option<String>,
    /// Clinical case.
    pub case_id: Option<Uuid>,
    /// Position in the case.
    pub case_position: Option<i32>,
    /// Current revision.
    pub revision_id: Uuid,
    /// Number of options of the current revision (0 for a QROC).
    pub n_options: i32,
    /// Calibrated parameters in the requested set, when the item has a row there.
    pub params: Option<(f64, f64, f64)>,
}

fn n_options_expr(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "CAST(COALESCE(json_array_length((r.content::json) -> 'options'), 0) AS BIGINT)"
        }
        // No '$' here: placeholders are rewritten for SQLite.
        _ => "COALESCE(json_array_length(r.content -> 'options'), 0)",
    }
}

fn pool_row(r: &sea_orm::QueryResult) -> Result<PoolRow, DbError> {
    let a: Option<f64> = r.try_get("", "a")?;
    let b: Option<f64> = r.try_get("", "b")?;
    let cc: Option<f64> = r.try_get("", "c")?;
    Ok(PoolRow {
        item_id: r.try_get("", "id")?,
        kind: r.try_get("", "kind")?,
        difficulty: r.try_get("", "difficulty")?,
        course_id: r.try_get("", "course_id")?,
        subject_id: r.try_get("", "subject_id")?,
        source_kind: r.try_get("", "source_kind")?,
        case_id: r.try_get("", "case_id")?,
        case_position: r.try_get("", "case_position")?,
        revision_id: r.try_get("", "current_revision_id")?,
        n_options: r.try_get::<i64>("", "n_options")? as i32,
        params: match (a, b, cc) {
            (Some(a), Some(b), Some(c)) => Some((a, b, c)),
            _ => None,
        },
    })
}

const POOL_SELECT: &str = "SELECT i.id, i.kind, i.difficulty, i.course_id, i.subject_id, \
    i.source_kind, i.case_id, i.case_position, i.current_revision_id, {n_options} AS n_options, \
    p.a, p.b, p.c \
    FROM item i JOIN item_revision r ON r.id = i.current_revision_id \
    LEFT JOIN item_parameter p ON p.item_id = i.id AND p.parameter_set_id = $1 \
    WHERE i.status = 'approved' AND ";

/// Approved items of `subject` (optionally only `courses`), with their parameters in `set`,
/// ordered by id. One indexed scan (`ix_item_course` / `ix_item_subject`).
pub async fn pool_rows<C: ConnectionTrait>(
    c: &C,
    subject: Uuid,
    courses: &[Uuid],
    set: i64,
) -> Result<Vec<PoolRow>, DbError> {
    let backend = c.get_database_backend();
    let mut vals: Vec<Value> = vec![set.into(), subject.into()];
    let mut sql = POOL_SELECT.replace("{n_options}", n_options_expr(backend));
    sql.push_str("i.subject_id = $2");
    if !courses.is_empty() {
        let ph: Vec<String> = courses
            .iter()
            .map(|id| {
                vals.push((*id).into());
                format!("${}", vals.len())
            })
            .collect();
        sql.push_str(&format!(" AND i.course_id IN ({})", ph.join(", ")));
    }
    sql.push_str(" ORDER BY i.id");
    let rows = c.query_all_raw(stmt(backend, &sql, vals)).await?;
    rows.iter().map(pool_row).collect()
}

/// Approved items among `ids`, with their parameters in `set`.
pub async fn pool_rows_by_ids<C: ConnectionTrait>(
    c: &C,
    ids: &[Uuid],
    set: i64,
) -> Result<Vec<PoolRow>, DbError> {
    let backend = c.get_database_backend();
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut vals: Vec<Value> = vec![set.into()];
        let ph: Vec<String> = chunk
            .iter()
            .map(|id| {
                vals.push((*id).into());
                format!("${}", vals.len())
            })
            .collect();
        let mut sql = POOL_SELECT.replace("{n_options}", n_options_expr(backend));
        sql.push_str(&format!("i.id IN ({}) ORDER BY i.id", ph.join(", ")));
        let rows = c.query_all_raw(stmt(backend, &sql, vals)).await?;
        for r in &rows {
            out.push(pool_row(r)?);
        }
    }
    Ok(out)
}

/// Approved sub-items of the clinical cases `cases` (to complete case units in a pool).
pub async fn case_rows<C: ConnectionTrait>(
    c: &C,
    cases: &[Uuid],
    set: i64,
) -> Result<Vec<PoolRow>, DbError> {
    let backend = c.get_database_backend();
    let mut out = Vec::new();
    for chunk in cases.chunks(CHUNK) {
        let mut vals: Vec<Value> = vec![set.into()];
        let ph: Vec<String> = chunk
            .iter()
            .map(|id| {
                vals.push((*id).into());
                format!("${}", vals.len())
            })
            .collect();
        let mut sql = POOL_SELECT.replace("{n_options}", n_options_expr(backend));
        sql.push_str(&format!("i.case_id IN ({}) ORDER BY i.id", ph.join(", ")));
        let rows = c.query_all_raw(stmt(backend, &sql, vals)).await?;
        for r in &rows {
            out.push(pool_row(r)?);
        }
    }
    Ok(out)
}

/// Number of items of each clinical case among `cases`, whatever their status (a case is served
/// only when every sub-item is approved).
pub async fn case_sizes<C: ConnectionTrait>(
    c: &C,
    cases: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, DbError> {
    let backend = c.get_database_backend();
    let mut out = Vec::new();
    for chunk in cases.chunks(CHUNK) {
        let mut vals: Vec<Value> = Vec::new();
        let ph: Vec<String> = chunk
            .iter()
            .map(|id| {
                vals.push((*id).into());
                format!("${}", vals.len())
            })
            .collect();
        let sql = format!(
            "SELECT case_id, COUNT(*) AS n FROM item WHERE case_id IN ({}) GROUP BY case_id",
            ph.join(", ")
        );
        for r in c.query_all_raw(stmt(backend, &sql, vals)).await? {
            out.push((r.try_get("", "case_id")?, r.try_get("", "n")?));
        }
    }
    Ok(out)
}

/// KC tags `(item, kc, weight)` of the approved items of `subject`.
pub async fn subject_kc_tags<C: ConnectionTrait>(
    c: &C,
    subject: Uuid,
) -> Result<Vec<(Uuid, Uuid, f64)>, DbError> {
    let backend = c.get_database_backend();
    let sql = "SELECT t.item_id, t.kc_id, t.weight FROM item_kc t JOIN item i ON i.id = t.item_id \
               WHERE i.subject_id = $1 AND i.status = 'approved'";
    let rows = c
        .query_all_raw(stmt(backend, sql, vec![subject.into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("", "item_id")?,
                r.try_get("", "kc_id")?,
                r.try_get("", "weight")?,
            ))
        })
        .collect()
}

/// KC tags `(item, kc, weight)` of `items`.
pub async fn kc_tags<C: ConnectionTrait>(
    c: &C,
    items: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, f64)>, DbError> {
    use crate::catalogue::item_kc;
    let mut out = Vec::new();
    for chunk in items.chunks(CHUNK) {
        out.extend(
            item_kc::Entity::find()
                .filter(item_kc::Column::ItemId.is_in(chunk.to_vec()))
                .all(c)
                .await?
                .into_iter()
                .map(|t| (t.item_id, t.kc_id, t.weight)),
        );
    }
    Ok(out)
}

/// Every item the learner attempted: `(item, label, time)` (label `None` when ungraded), oldest
/// first. Feeds the "unused" and "incorrect" pools (`ix_attempt_learner_item`).
pub async fn attempt_history<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<Vec<(Uuid, Option<bool>, i64)>, DbError> {
    let backend = c.get_database_backend();
    let sql = "SELECT item_id, correct, created_at FROM attempt WHERE learner_id = $1 \
               ORDER BY created_at, id";
    let rows = c
        .query_all_raw(stmt(backend, sql, vec![learner.into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("", "item_id")?,
                r.try_get("", "correct")?,
                r.try_get("", "created_at")?,
            ))
        })
        .collect()
}

/// Items the learner flagged in any session.
pub async fn flagged_items<C: ConnectionTrait>(c: &C, learner: Uuid) -> Result<Vec<Uuid>, DbError> {
    let backend = c.get_database_backend();
    let sql = "SELECT DISTINCT item_id FROM session_item WHERE learner_id = $1 AND flagged = $2";
    let rows = c
        .query_all_raw(stmt(backend, sql, vec![learner.into(), true.into()]))
        .await?;
    rows.iter().map(|r| Ok(r.try_get("", "item_id")?)).collect()
}

// ---------------------------------------------------------------- sessions

/// Inserts a session.
pub async fn insert_session<C: ConnectionTrait>(
    c: &C,
    m: training_session::Model,
) -> Result<training_session::Model, DbError> {
    let a: training_session::ActiveModel = m.into();
    Ok(a.insert(c).await?)
}

/// A session, only if it belongs to `learner` (another learner's session is simply absent).
/// `lock` takes the row lock on PostgreSQL.
pub async fn session_of<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    learner: Uuid,
    lock: bool,
) -> Result<Option<training_session::Model>, DbError> {
    let mut q = training_session::Entity::find()
        .filter(training_session::Column::Id.eq(id))
        .filter(training_session::Column::LearnerId.eq(learner));
    if lock && is_pg(c) {
        q = q.lock_exclusive();
    }
    Ok(q.one(c).await?)
}

/// Saves the changed columns of a session. One `UPDATE` on both backends (an
/// `ActiveModel::update` reads the row back on SQLite, one more statement on the answer path);
/// the returned model is the saved one. `a` must come from a loaded row (every column set).
pub async fn update_session<C: ConnectionTrait>(
    c: &C,
    a: training_session::ActiveModel,
) -> Result<training_session::Model, DbError> {
    let id = match &a.id {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => *v,
        sea_orm::ActiveValue::NotSet => return Err(DbError::NotFound),
    };
    let r = training_session::Entity::update_many()
        .set(a.clone())
        .filter(training_session::Column::Id.eq(id))
        .exec(c)
        .await?;
    if r.rows_affected != 1 {
        return Err(DbError::NotFound);
    }
    Ok(a.try_into_model()?)
}

/// A learner's sessions, newest first (`before`: only sessions created strictly earlier).
pub async fn sessions_of<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<training_session::Model>, DbError> {
    let mut q =
        training_session::Entity::find().filter(training_session::Column::LearnerId.eq(learner));
    if let Some(b) = before {
        q = q.filter(training_session::Column::CreatedAt.lt(b));
    }
    Ok(q.order_by_desc(training_session::Column::CreatedAt)
        .order_by_desc(training_session::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// Closes open sessions (active or paused) idle since before `cutoff_ms`: status `expired`,
/// end reason `expired`. Returns how many.
pub async fn expire_idle<C: ConnectionTrait>(
    c: &C,
    cutoff_ms: i64,
    now_ms: i64,
) -> Result<u64, DbError> {
    use training_session::Column as Col;
    let r = training_session::Entity::update_many()
        .col_expr(Col::Status, Expr::value("expired"))
        .col_expr(Col::EndReason, Expr::value("expired"))
        .col_expr(Col::CompletedAt, Expr::value(now_ms))
        .col_expr(Col::UpdatedAt, Expr::value(now_ms))
        .filter(Col::Status.is_in(["active", "paused"]))
        .filter(Col::UpdatedAt.lt(cutoff_ms))
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}

// ---------------------------------------------------------------- served items

/// Records a served item.
pub async fn insert_session_item<C: ConnectionTrait>(
    c: &C,
    m: session_item::Model,
) -> Result<session_item::Model, DbError> {
    // Without RETURNING: the row is `m` (SQLite would read it back otherwise).
    let a: session_item::ActiveModel = m.clone().into();
    session_item::Entity::insert(a)
        .exec_without_returning(c)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                DbError::Conflict("session_item")
            } else {
                e.into()
            }
        })?;
    Ok(m)
}

/// Every item served in a session, in order.
pub async fn session_items<C: ConnectionTrait>(
    c: &C,
    session: Uuid,
) -> Result<Vec<session_item::Model>, DbError> {
    Ok(session_item::Entity::find()
        .filter(session_item::Column::SessionId.eq(session))
        .order_by_asc(session_item::Column::Position)
        .all(c)
        .await?)
}

/// One served item of a session.
pub async fn session_item<C: ConnectionTrait>(
    c: &C,
    session: Uuid,
    id: Uuid,
) -> Result<Option<session_item::Model>, DbError> {
    Ok(session_item::Entity::find()
        .filter(session_item::Column::Id.eq(id))
        .filter(session_item::Column::SessionId.eq(session))
        .one(c)
        .await?)
}

/// The item currently waiting for an answer in a session (state `served`), if any.
pub async fn current_item<C: ConnectionTrait>(
    c: &C,
    session: Uuid,
) -> Result<Option<session_item::Model>, DbError> {
    Ok(session_item::Entity::find()
        .filter(session_item::Column::SessionId.eq(session))
        .filter(session_item::Column::State.eq("served"))
        .order_by_desc(session_item::Column::Position)
        .one(c)
        .await?)
}

/// Moves a served item to `state` (`answered` or `skipped`) if it is still `served`: the gate
/// that makes answers exactly-once. Returns whether this call made the change.
pub async fn close_item<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    state: &str,
    now_ms: i64,
) -> Result<bool, DbError> {
    let r = close_item_query(id, state, now_ms).exec(c).await?;
    Ok(r.rows_affected == 1)
}

fn close_item_query(
    id: Uuid,
    state: &str,
    now_ms: i64,
) -> sea_orm::UpdateMany<session_item::Entity> {
    session_item::Entity::update_many()
        .col_expr(session_item::Column::State, Expr::value(state))
        .col_expr(session_item::Column::ClosedAt, Expr::value(now_ms))
        .filter(session_item::Column::Id.eq(id))
        .filter(session_item::Column::State.eq("served"))
}

/// Sets or clears the flag of a served item. Returns whether the row exists in that session.
pub async fn set_flag<C: ConnectionTrait>(
    c: &C,
    session: Uuid,
    id: Uuid,
    flagged: bool,
) -> Result<bool, DbError> {
    let r = session_item::Entity::update_many()
        .col_expr(session_item::Column::Flagged, Expr::value(flagged))
        .filter(session_item::Column::Id.eq(id))
        .filter(session_item::Column::SessionId.eq(session))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Sets (or clears, with `None`) the personal note of a served item.
pub async fn set_note<C: ConnectionTrait>(
    c: &C,
    session: Uuid,
    id: Uuid,
    note: Option<String>,
) -> Result<bool, DbError> {
    let r = session_item::Entity::update_many()
        .col_expr(session_item::Column::Note, Expr::value(note))
        .filter(session_item::Column::Id.eq(id))
        .filter(session_item::Column::SessionId.eq(session))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Moves the serving time of the open item of a session forward by `by_ms` (after a pause, so
/// the paused time is not counted as answering time).
pub async fn shift_open_item<C: ConnectionTrait>(
    c: &C,
    session: Uuid,
    by_ms: i64,
) -> Result<(), DbError> {
    session_item::Entity::update_many()
        .col_expr(
            session_item::Column::ServedAt,
            Expr::col(session_item::Column::ServedAt).add(by_ms),
        )
        .filter(session_item::Column::SessionId.eq(session))
        .filter(session_item::Column::State.eq("served"))
        .exec(c)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- attempts

/// Stores an attempt; a second attempt for the same served item is a
/// [`DbError::Conflict`]`("attempt")`.
pub async fn insert_attempt<C: ConnectionTrait>(
    c: &C,
    m: attempt::Model,
) -> Result<attempt::Model, DbError> {
    // Without RETURNING: the row is `m` (SQLite would read it back otherwise).
    let a: attempt::ActiveModel = m.clone().into();
    attempt::Entity::insert(a)
        .exec_without_returning(c)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                DbError::Conflict("attempt")
            } else {
                e.into()
            }
        })?;
    Ok(m)
}

/// The attempt stored for a served item.
pub async fn attempt_for<C: ConnectionTrait>(
    c: &C,
    session_item: Uuid,
) -> Result<Option<attempt::Model>, DbError> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::SessionItemId.eq(session_item))
        .one(c)
        .await?)
}

/// An attempt by id.
pub async fn attempt_by_id<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<attempt::Model>, DbError> {
    Ok(attempt::Entity::find_by_id(id).one(c).await?)
}

/// A later grade of attempt `id` (second grader or reviewer): ratio, label, grader and
/// ungraded reason replaced; the response and everything else stay.
pub async fn regrade_attempt<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    ratio: Option<f64>,
    correct: Option<bool>,
    grader: Option<&str>,
    ungraded_reason: Option<&str>,
) -> Result<(), DbError> {
    let res = attempt::Entity::update_many()
        .col_expr(attempt::Column::Ratio, Expr::value(ratio))
        .col_expr(attempt::Column::Correct, Expr::value(correct))
        .col_expr(
            attempt::Column::Grader,
            Expr::value(grader.map(str::to_owned)),
        )
        .col_expr(
            attempt::Column::UngradedReason,
            Expr::value(ungraded_reason.map(str::to_owned)),
        )
        .filter(attempt::Column::Id.eq(id))
        .exec(c)
        .await?;
    if res.rows_affected == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// The newest attempts a second grader is or was involved in: graded by the language model,
/// waiting for it, or left ungraded because it failed (reviewers check and override them).
pub async fn assisted_attempts<C: ConnectionTrait>(
    c: &C,
    limit: u64,
) -> Result<Vec<attempt::Model>, DbError> {
    use sea_orm::Condition;
    Ok(attempt::Entity::find()
        .filter(
            Condition::any().add(attempt::Column::Grader.eq("llm")).add(
                attempt::Column::UngradedReason.is_in(["awaiting_grader", "grader_unavailable"]),
            ),
        )
        .order_by_desc(attempt::Column::CreatedAt)
        .limit(limit)
        .all(c)
        .await?)
}

/// Which of `session_items` have their attempt stored (the kill test's check).
pub async fn attempted_served_items<C: ConnectionTrait>(
    c: &C,
    session_items: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, DbError> {
    if session_items.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    Ok(attempt::Entity::find()
        .filter(attempt::Column::SessionItemId.is_in(session_items.to_vec()))
        .all(c)
        .await?
        .into_iter()
        .map(|a| a.session_item_id)
        .collect())
}

/// Every attempt of a session.
pub async fn attempts_of_session<C: ConnectionTrait>(
    c: &C,
    session: Uuid,
) -> Result<Vec<attempt::Model>, DbError> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::SessionId.eq(session))
        .order_by_asc(attempt::Column::CreatedAt)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- learner state

/// Abilities of a learner in `subjects` (all subjects when empty), locked on PostgreSQL when
/// `lock`.
pub async fn abilities<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    subjects: &[Uuid],
    lock: bool,
) -> Result<Vec<learner_ability::Model>, DbError> {
    let mut q =
        learner_ability::Entity::find().filter(learner_ability::Column::LearnerId.eq(learner));
    if !subjects.is_empty() {
        q = q.filter(learner_ability::Column::SubjectId.is_in(subjects.to_vec()));
    }
    if lock && is_pg(c) {
        q = q
            .order_by_asc(learner_ability::Column::SubjectId)
            .lock_exclusive();
    }
    Ok(q.all(c).await?)
}

/// The ability row of (learner, subject), locked on PostgreSQL when `lock`.
pub async fn ability<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    subject: Uuid,
    lock: bool,
) -> Result<Option<learner_ability::Model>, DbError> {
    let mut q = learner_ability::Entity::find()
        .filter(learner_ability::Column::LearnerId.eq(learner))
        .filter(learner_ability::Column::SubjectId.eq(subject));
    if lock && is_pg(c) {
        q = q.lock_exclusive();
    }
    Ok(q.one(c).await?)
}

/// Inserts or replaces an ability row.
pub async fn put_ability<C: ConnectionTrait>(
    c: &C,
    m: learner_ability::Model,
) -> Result<(), DbError> {
    ability_upsert(m).exec(c).await?;
    Ok(())
}

fn ability_upsert(m: learner_ability::Model) -> sea_orm::Insert<learner_ability::ActiveModel> {
    use learner_ability::Column as Col;
    let a: learner_ability::ActiveModel = m.into();
    learner_ability::Entity::insert(a).on_conflict(
        OnConflict::columns([Col::LearnerId, Col::SubjectId])
            .update_columns([Col::Theta, Col::Se, Col::Answers, Col::UpdatedAt])
            .to_owned(),
    )
}

/// KC states of a learner (only `kcs` when not empty), locked on PostgreSQL when `lock`.
pub async fn kc_states<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    kcs: &[Uuid],
    lock: bool,
) -> Result<Vec<learner_kc::Model>, DbError> {
    let mut q = learner_kc::Entity::find().filter(learner_kc::Column::LearnerId.eq(learner));
    if !kcs.is_empty() {
        q = q.filter(learner_kc::Column::KcId.is_in(kcs.to_vec()));
    }
    if lock && is_pg(c) {
        q = q.order_by_asc(learner_kc::Column::KcId).lock_exclusive();
    }
    Ok(q.all(c).await?)
}

/// Inserts or replaces KC states (one statement).
pub async fn put_kc_states<C: ConnectionTrait>(
    c: &C,
    rows: Vec<learner_kc::Model>,
) -> Result<(), DbError> {
    if let Some(q) = kc_upsert(rows) {
        q.exec(c).await?;
    }
    Ok(())
}

fn kc_upsert(rows: Vec<learner_kc::Model>) -> Option<sea_orm::InsertMany<learner_kc::ActiveModel>> {
    use learner_kc::Column as Col;
    if rows.is_empty() {
        return None;
    }
    let models: Vec<learner_kc::ActiveModel> = rows.into_iter().map(Into::into).collect();
    Some(
        learner_kc::Entity::insert_many(models).on_conflict(
            OnConflict::columns([Col::LearnerId, Col::KcId])
                .update_columns([Col::Mastery, Col::Evidence, Col::UpdatedAt])
                .to_owned(),
        ),
    )
}

/// The memory of (learner, item), locked on PostgreSQL when `lock`.
pub async fn memory<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    item: Uuid,
    lock: bool,
) -> Result<Option<learner_memory::Model>, DbError> {
    let mut q = learner_memory::Entity::find()
        .filter(learner_memory::Column::LearnerId.eq(learner))
        .filter(learner_memory::Column::ItemId.eq(item));
    if lock && is_pg(c) {
        q = q.lock_exclusive();
    }
    Ok(q.one(c).await?)
}

/// Inserts or replaces a memory row.
pub async fn put_memory<C: ConnectionTrait>(
    c: &C,
    m: learner_memory::Model,
) -> Result<(), DbError> {
    memory_upsert(m).exec(c).await?;
    Ok(())
}

fn memory_upsert(m: learner_memory::Model) -> sea_orm::Insert<learner_memory::ActiveModel> {
    use learner_memory::Column as Col;
    let a: learner_memory::ActiveModel = m.into();
    learner_memory::Entity::insert(a).on_conflict(
        OnConflict::columns([Col::LearnerId, Col::ItemId])
            .update_columns([
                Col::SubjectId,
                Col::Stability,
                Col::Difficulty,
                Col::Reviews,
                Col::Lapses,
                Col::LastReviewAt,
                Col::DueAt,
            ])
            .to_owned(),
    )
}

/// Memories of a learner in `subjects` (due scores of a pool; `ix_learner_memory_subject`).
pub async fn memories_in<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    subjects: &[Uuid],
) -> Result<Vec<learner_memory::Model>, DbError> {
    Ok(learner_memory::Entity::find()
        .filter(learner_memory::Column::LearnerId.eq(learner))
        .filter(learner_memory::Column::SubjectId.is_in(subjects.to_vec()))
        .all(c)
        .await?)
}

/// Memories due at `now_ms` (most overdue first, at most `limit`; `ix_learner_memory_due`).
pub async fn due_memories<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    now_ms: i64,
    limit: u64,
) -> Result<Vec<learner_memory::Model>, DbError> {
    Ok(learner_memory::Entity::find()
        .filter(learner_memory::Column::LearnerId.eq(learner))
        .filter(learner_memory::Column::DueAt.lte(now_ms))
        .order_by_asc(learner_memory::Column::DueAt)
        .limit(limit)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- privacy

/// Everything stored about a learner's learning, for the account export.
#[derive(Debug, Clone, Default)]
pub struct LearnerData {
    /// Profile.
    pub profile: Option<learner_profile::Model>,
    /// Sessions.
    pub sessions: Vec<training_session::Model>,
    /// Served items (with flags and notes).
    pub items: Vec<session_item::Model>,
    /// Attempts.
    pub attempts: Vec<attempt::Model>,
    /// Abilities.
    pub abilities: Vec<learner_ability::Model>,
    /// KC masteries.
    pub kcs: Vec<learner_kc::Model>,
    /// Memories.
    pub memories: Vec<learner_memory::Model>,
}

/// Reads every learning row of `learner`.
pub async fn learner_data<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<LearnerData, DbError> {
    Ok(LearnerData {
        profile: profile(c, learner).await?,
        sessions: training_session::Entity::find()
            .filter(training_session::Column::LearnerId.eq(learner))
            .order_by_asc(training_session::Column::CreatedAt)
            .order_by_asc(training_session::Column::Id)
            .all(c)
            .await?,
        // Ties (items served in the same millisecond) in session order, the same on every
        // backend.
        items: session_item::Entity::find()
            .filter(session_item::Column::LearnerId.eq(learner))
            .order_by_asc(session_item::Column::ServedAt)
            .order_by_asc(session_item::Column::SessionId)
            .order_by_asc(session_item::Column::Position)
            .all(c)
            .await?,
        attempts: attempt::Entity::find()
            .filter(attempt::Column::LearnerId.eq(learner))
            .order_by_asc(attempt::Column::CreatedAt)
            .order_by_asc(attempt::Column::Id)
            .all(c)
            .await?,
        abilities: abilities(c, learner, &[], false).await?,
        kcs: kc_states(c, learner, &[], false).await?,
        memories: learner_memory::Entity::find()
            .filter(learner_memory::Column::LearnerId.eq(learner))
            .all(c)
            .await?,
    })
}

/// Erases what is personal in a learner's learning data: the profile, the learner state
/// (ability, masteries, memories), personal notes, flags and free-text answers. Sessions,
/// served items and graded attempts stay, tied to the anonymised account, as anonymous
/// statistics for calibration (the account row itself is anonymised, not deleted).
pub async fn erase_learner<C: ConnectionTrait>(c: &C, learner: Uuid) -> Result<(), DbError> {
    learner_profile::Entity::delete_many()
        .filter(learner_profile::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    learner_ability::Entity::delete_many()
        .filter(learner_ability::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    learner_kc::Entity::delete_many()
        .filter(learner_kc::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    learner_memory::Entity::delete_many()
        .filter(learner_memory::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    session_item::Entity::update_many()
        .col_expr(
            session_item::Column::Note,
            Expr::value(Option::<String>::None),
        )
        .col_expr(session_item::Column::Flagged, Expr::value(false))
        .filter(session_item::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    // Free text may hold anything; option selections are kept (they are not personal).
    let backend = c.get_database_backend();
    c.execute_raw(stmt(
        backend,
        "UPDATE attempt SET response = $2 WHERE learner_id = $1 AND response LIKE $3",
        vec![
            learner.into(),
            r#"{"text":""}"#.into(),
            r#"{"text":%"#.into(),
        ],
    ))
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- the answer path, batched
//
// An answer reads in two statements (the session with its served items; the learner state)
// and writes in one batch ([`crate::WriteBatch`]): five round trips with `BEGIN`/`COMMIT`
// instead of fifteen. See docs/PERFORMANCE.md.

/// `s.col AS s_col, …` for every column of `E`, aliased with `prefix`.
fn prefixed_columns<E: EntityTrait>(table: &str, prefix: &str) -> String {
    E::Column::iter()
        .map(|c| {
            let name = c.as_str();
            format!("{table}.{name} AS {prefix}{name}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A 64-bit key for the learner's advisory lock (both halves of the UUID folded together).
fn learner_lock_key(learner: Uuid) -> i64 {
    let (hi, lo) = learner.as_u64_pair();
    i64::from_ne_bytes((hi ^ lo).to_ne_bytes())
}

/// A session of `learner` with every item served in it, in order, and the parameter set in
/// use, in one statement.
///
/// With `lock` on PostgreSQL the session row is locked (`FOR UPDATE`) and then the
/// transaction takes the learner's advisory lock (`pg_advisory_xact_lock`), which every
/// writer of the learner state holds: the statements that follow see the state as the last
/// answer of this learner, in any session, left it. (SQLite write transactions are exclusive.)
/// The served items are read under the statement's snapshot; a concurrent answer to the same
/// session is caught by the exactly-once gate of the write batch.
pub async fn session_with_items<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    learner: Uuid,
    lock: bool,
) -> Result<Option<SessionRows>, DbError> {
    let backend = c.get_database_backend();
    let s_cols = prefixed_columns::<training_session::Entity>("s", "s_");
    let i_cols = prefixed_columns::<session_item::Entity>("i", "i_");
    let mut values: Vec<Value> = vec![id.into(), learner.into()];
    let sql = if lock && backend == DbBackend::Postgres {
        values.push(learner_lock_key(learner).into());
        format!(
            "SELECT {s_cols}, {i_cols}, {ACTIVE_SET}, pg_advisory_xact_lock($3) IS NULL AS locked \
             FROM (SELECT * FROM training_session WHERE id = $1 AND learner_id = $2 FOR UPDATE) s \
             LEFT JOIN session_item i ON i.session_id = s.id ORDER BY i.position"
        )
    } else {
        format!(
            "SELECT {s_cols}, {i_cols}, {ACTIVE_SET} FROM training_session s \
             LEFT JOIN session_item i ON i.session_id = s.id \
             WHERE s.id = $1 AND s.learner_id = $2 ORDER BY i.position"
        )
    };
    let rows = c.query_all_raw(stmt(backend, &sql, values)).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let session = training_session::Model::from_query_result(first, "s_")?;
    let active_set: i64 = first.try_get("", "active_set")?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        if r.try_get::<Option<Uuid>>("i_", "id")?.is_some() {
            items.push(session_item::Model::from_query_result(r, "i_")?);
        }
    }
    Ok(Some(SessionRows {
        session,
        items,
        active_set,
    }))
}

/// The id of the parameter set in use as a column of [`session_with_items`] (the same rule as
/// [`active_parameter_set`]: the newest `active` set, 0 when none).
const ACTIVE_SET: &str = "(SELECT COALESCE(MAX(p.id), 0) FROM parameter_set p \
     WHERE p.status = 'active') AS active_set";

/// What [`session_with_items`] reads.
#[derive(Debug)]
pub struct SessionRows {
    /// The session.
    pub session: training_session::Model,
    /// Every item served in it, by position.
    pub items: Vec<session_item::Model>,
    /// The parameter set in use when the statement ran (a cached pool built under another set
    /// is stale).
    pub active_set: i64,
}

/// The learner state an answer reads: every ability and KC state of the learner, and the
/// memory of `item` (when given), in one statement.
#[derive(Debug, Default)]
pub struct LearnerStateRows {
    /// One row per subject with an ability.
    pub abilities: Vec<learner_ability::Model>,
    /// One row per KC with evidence.
    pub kcs: Vec<learner_kc::Model>,
    /// The memory of the item asked for.
    pub memory: Option<learner_memory::Model>,
}

/// Reads [`LearnerStateRows`] in one `UNION ALL`.
pub async fn learner_state<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    item: Option<Uuid>,
) -> Result<LearnerStateRows, DbError> {
    const Z: &str = "CAST(0 AS BIGINT)";
    const F: &str = "CAST(0 AS DOUBLE PRECISION)";
    let backend = c.get_database_backend();
    let mut sql = format!(
        "SELECT 'a' AS k, subject_id AS id, CAST(NULL AS {u}) AS subject, theta AS x, se AS y, \
         CAST(answers AS BIGINT) AS n1, {Z} AS n2, updated_at AS n3, {Z} AS n4 \
         FROM learner_ability WHERE learner_id = $1 \
         UNION ALL SELECT 'k', kc_id, NULL, mastery, {F}, CAST(evidence AS BIGINT), {Z}, \
         updated_at, {Z} FROM learner_kc WHERE learner_id = $1",
        u = if backend == DbBackend::Postgres {
            "uuid"
        } else {
            "BLOB"
        },
    );
    let mut values: Vec<Value> = vec![learner.into()];
    if let Some(item) = item {
        values.push(item.into());
        sql.push_str(
            " UNION ALL SELECT 'm', item_id, subject_id, stability, difficulty, \
             CAST(reviews AS BIGINT), CAST(lapses AS BIGINT), last_review_at, due_at \
             FROM learner_memory WHERE learner_id = $1 AND item_id = $2",
        );
    }
    let rows = c.query_all_raw(stmt(backend, &sql, values)).await?;
    let mut out = LearnerStateRows::default();
    let int = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    for r in &rows {
        let kind: String = r.try_get("", "k")?;
        let id: Uuid = r.try_get("", "id")?;
        let x: f64 = r.try_get("", "x")?;
        let y: f64 = r.try_get("", "y")?;
        let n1: i64 = r.try_get("", "n1")?;
        let n2: i64 = r.try_get("", "n2")?;
        let n3: i64 = r.try_get("", "n3")?;
        let n4: i64 = r.try_get("", "n4")?;
        match kind.as_str() {
            "a" => out.abilities.push(learner_ability::Model {
                learner_id: learner,
                subject_id: id,
                theta: x,
                se: y,
                answers: int(n1),
                updated_at: n3,
            }),
            "k" => out.kcs.push(learner_kc::Model {
                learner_id: learner,
                kc_id: id,
                mastery: x,
                evidence: int(n1),
                updated_at: n3,
            }),
            _ => {
                out.memory = Some(learner_memory::Model {
                    learner_id: learner,
                    item_id: id,
                    subject_id: r.try_get("", "subject")?,
                    stability: x,
                    difficulty: y,
                    reviews: int(n1),
                    lapses: int(n2),
                    last_review_at: n3,
                    due_at: n4,
                });
            }
        }
    }
    Ok(out)
}

/// Queues the exactly-once close of a served item (the batch's gate).
pub fn queue_close_item(batch: &mut WriteBatch, id: Uuid, state: &str, now_ms: i64) {
    batch.push_gate(&close_item_query(id, state, now_ms));
}

/// Queues an attempt.
pub fn queue_attempt(batch: &mut WriteBatch, m: attempt::Model) {
    let a: attempt::ActiveModel = m.into();
    batch.push(&attempt::Entity::insert(a), 1);
}

/// Queues a served item.
pub fn queue_session_item(batch: &mut WriteBatch, m: session_item::Model) {
    let a: session_item::ActiveModel = m.into();
    batch.push(&session_item::Entity::insert(a), 1);
}

/// Queues the changed columns of a loaded session.
///
/// # Errors
/// [`DbError::NotFound`] when `a` has no id.
pub fn queue_session_update(
    batch: &mut WriteBatch,
    a: training_session::ActiveModel,
) -> Result<training_session::Model, DbError> {
    let id = match &a.id {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => *v,
        sea_orm::ActiveValue::NotSet => return Err(DbError::NotFound),
    };
    batch.push(
        &training_session::Entity::update_many()
            .set(a.clone())
            .filter(training_session::Column::Id.eq(id)),
        1,
    );
    Ok(a.try_into_model()?)
}

/// Queues the learner-state upserts of one graded answer.
pub fn queue_learner_state(
    batch: &mut WriteBatch,
    ability: learner_ability::Model,
    kcs: Vec<learner_kc::Model>,
    memory: learner_memory::Model,
) {
    batch.push(&ability_upsert(ability), 1);
    let n = kcs.len() as u64;
    if let Some(q) = kc_upsert(kcs) {
        batch.push(&q, n);
    }
    batch.push(&memory_upsert(memory), 1);
}
