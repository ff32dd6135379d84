//! Reads and writes behind item quality: the graded attempts of chosen items with what the
//! analysis needs (the response, the prediction stored when the item was served, the learner's
//! current θ in the item's subject), the items with enough answers to judge, and the
//! `item_alert` rows the scan keeps.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::CHUNK;
use super::entities::item_alert;
use crate::DbError;
use crate::sql::stmt;

/// One graded attempt of an item, for its analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityAttempt {
    /// Item answered.
    pub item_id: Uuid,
    /// Who answered.
    pub learner_id: Uuid,
    /// The label.
    pub correct: bool,
    /// The stored response (JSON of `domain::scoring::Response`).
    pub response: String,
    /// When (epoch ms).
    pub created_at: i64,
    /// P(correct) stored when the item was served.
    pub p_correct: Option<f64>,
    /// The learner's θ in the item's subject today (`None` before any graded answer there).
    pub theta: Option<f64>,
}

/// The graded attempts of `items`, oldest first within each item.
pub async fn quality_attempts<C: ConnectionTrait>(
    c: &C,
    items: &[Uuid],
) -> Result<Vec<QualityAttempt>, DbError> {
    let backend = c.get_database_backend();
    let mut out = Vec::new();
    for chunk in items.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "SELECT a.item_id, a.learner_id, a.correct, a.response, a.created_at, s.p_correct, \
             la.theta FROM attempt a JOIN session_item s ON s.id = a.session_item_id \
             LEFT JOIN learner_ability la ON la.learner_id = a.learner_id \
             AND la.subject_id = s.subject_id \
             WHERE a.correct IS NOT NULL AND a.item_id IN ({}) \
             ORDER BY a.item_id, a.created_at, a.id",
            marks.join(", ")
        );
        let values = chunk.iter().map(|u| (*u).into()).collect();
        for r in c.query_all_raw(stmt(backend, &sql, values)).await? {
            out.push(QualityAttempt {
                item_id: r.try_get("", "item_id")?,
                learner_id: r.try_get("", "learner_id")?,
                correct: r.try_get::<Option<bool>>("", "correct")?.unwrap_or(false),
                response: r.try_get("", "response")?,
                created_at: r.try_get("", "created_at")?,
                p_correct: r.try_get("", "p_correct")?,
                theta: r.try_get("", "theta")?,
            });
        }
    }
    Ok(out)
}

/// An item with enough graded answers to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanItem {
    /// Item.
    pub id: Uuid,
    /// Its translation group (linked translations share it).
    pub group: Uuid,
    /// Its language.
    pub locale: String,
    /// Graded answers.
    pub answers: i64,
}

/// Items with at least `min` graded answers, in id order.
pub async fn items_to_scan<C: ConnectionTrait>(c: &C, min: i64) -> Result<Vec<ScanItem>, DbError> {
    let backend = c.get_database_backend();
    let sql = "SELECT i.id, i.translation_group_id, i.locale, COUNT(a.id) AS answers \
               FROM item i JOIN attempt a ON a.item_id = i.id AND a.correct IS NOT NULL \
               GROUP BY i.id, i.translation_group_id, i.locale HAVING COUNT(a.id) >= $1 \
               ORDER BY i.id";
    let mut out = Vec::new();
    for r in c
        .query_all_raw(stmt(backend, sql, vec![min.into()]))
        .await?
    {
        out.push(ScanItem {
            id: r.try_get("", "id")?,
            group: r.try_get("", "translation_group_id")?,
            locale: r.try_get("", "locale")?,
            answers: r.try_get("", "answers")?,
        });
    }
    Ok(out)
}

/// Opens alert `code` on `item` with `detail`, or refreshes its detail when it is open; a
/// dismissed alert keeps its status (its detail is refreshed); a cleared one opens again.
pub async fn raise_alert<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
    code: &str,
    detail: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    use item_alert::Column as Col;
    let existing = item_alert::Entity::find_by_id((item, code.to_owned()))
        .one(c)
        .await?;
    match existing {
        None => {
            item_alert::Entity::insert(item_alert::ActiveModel {
                item_id: Set(item),
                code: Set(code.to_owned()),
                status: Set("open".into()),
                detail: Set(detail.to_owned()),
                first_seen_at: Set(now_ms),
                updated_at: Set(now_ms),
                decided_by: Set(None),
            })
            .on_conflict(
                OnConflict::columns([Col::ItemId, Col::Code])
                    .update_columns([Col::Detail, Col::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(c)
            .await?;
        }
        Some(row) => {
            let reopen = row.status == "cleared";
            let mut q = item_alert::Entity::update_many()
                .col_expr(Col::Detail, Expr::value(detail))
                .col_expr(Col::UpdatedAt, Expr::value(now_ms));
            if reopen {
                q = q
                    .col_expr(Col::Status, Expr::value("open"))
                    .col_expr(Col::FirstSeenAt, Expr::value(now_ms))
                    .col_expr(Col::DecidedBy, Expr::value(Option::<Uuid>::None));
            }
            q.filter(Col::ItemId.eq(item))
                .filter(Col::Code.eq(code))
                .exec(c)
                .await?;
        }
    }
    Ok(())
}

/// Marks `cleared` the open or dismissed alerts of `item` whose code is not in `seen`.
pub async fn clear_alerts_except<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
    seen: &[&str],
    now_ms: i64,
) -> Result<u64, DbError> {
    use item_alert::Column as Col;
    let r = item_alert::Entity::update_many()
        .col_expr(Col::Status, Expr::value("cleared"))
        .col_expr(Col::UpdatedAt, Expr::value(now_ms))
        .filter(Col::ItemId.eq(item))
        .filter(Col::Status.is_in(["open", "dismissed"]))
        .filter(Col::Code.is_not_in(seen.iter().map(|s| (*s).to_owned())))
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}

/// Open alerts, most recently updated first, at most `limit`.
pub async fn open_alerts<C: ConnectionTrait>(
    c: &C,
    limit: u64,
) -> Result<Vec<item_alert::Model>, DbError> {
    use item_alert::Column as Col;
    Ok(item_alert::Entity::find()
        .filter(Col::Status.eq("open"))
        .order_by_desc(Col::UpdatedAt)
        .limit(limit)
        .all(c)
        .await?)
}

/// Every alert row of `item`.
pub async fn alerts_of<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
) -> Result<Vec<item_alert::Model>, DbError> {
    use item_alert::Column as Col;
    Ok(item_alert::Entity::find()
        .filter(Col::ItemId.eq(item))
        .order_by_asc(Col::Code)
        .all(c)
        .await?)
}

/// Dismisses an open alert; `false` when there is no open alert `code` on `item`.
pub async fn dismiss_alert<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
    code: &str,
    by: Uuid,
    now_ms: i64,
) -> Result<bool, DbError> {
    use item_alert::Column as Col;
    let r = item_alert::Entity::update_many()
        .col_expr(Col::Status, Expr::value("dismissed"))
        .col_expr(Col::DecidedBy, Expr::value(by))
        .col_expr(Col::UpdatedAt, Expr::value(now_ms))
        .filter(Col::ItemId.eq(item))
        .filter(Col::Code.eq(code))
        .filter(Col::Status.eq("open"))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Removes `account` from the alerts it dismissed (account erasure): the decision and its date
/// stay, the name goes.
pub async fn forget_decider<C: ConnectionTrait>(c: &C, account: Uuid) -> Result<(), DbError> {
    use item_alert::Column as Col;
    item_alert::Entity::update_many()
        .col_expr(Col::DecidedBy, Expr::value(Option::<Uuid>::None))
        .filter(Col::DecidedBy.eq(account))
        .exec(c)
        .await?;
    Ok(())
}
