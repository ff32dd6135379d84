//! `kc_suggestion` rows: the KCs a language model proposed for an item (issue 15) and what a
//! reviewer did with each. A new run replaces the item's rows; deciding one marks it.

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::DbError;

/// The entity (composite key: item, KC).
pub mod kc_suggestion {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kc_suggestion")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kc_id: Uuid,
        /// 1 = best.
        pub rank: i32,
        /// The model's score in [0, 1].
        pub score: f64,
        /// `high`, `medium` or `low`.
        pub confidence: String,
        /// Model that proposed it.
        pub model: String,
        /// Prompt version.
        pub prompt_version: String,
        /// `pending`, `accepted` or `ignored`.
        pub status: String,
        /// Epoch ms.
        pub created_at: i64,
        /// Who accepted or ignored it.
        pub decided_by: Option<Uuid>,
        /// When (epoch ms).
        pub decided_at: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// One suggestion to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSuggestion {
    /// KC node.
    pub kc_id: Uuid,
    /// 1 = best.
    pub rank: i32,
    /// Score in [0, 1].
    pub score: f64,
    /// `high`, `medium` or `low`.
    pub confidence: String,
}

/// Replaces the suggestions of `item` with `rows` (from `model` under `prompt_version`).
pub async fn replace<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
    rows: &[NewSuggestion],
    model: &str,
    prompt_version: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    kc_suggestion::Entity::delete_many()
        .filter(kc_suggestion::Column::ItemId.eq(item))
        .exec(c)
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    kc_suggestion::Entity::insert_many(rows.iter().map(|r| kc_suggestion::ActiveModel {
        item_id: Set(item),
        kc_id: Set(r.kc_id),
        rank: Set(r.rank),
        score: Set(r.score),
        confidence: Set(r.confidence.clone()),
        model: Set(model.chars().take(120).collect()),
        prompt_version: Set(prompt_version.to_owned()),
        status: Set("pending".into()),
        created_at: Set(now_ms),
        decided_by: Set(None),
        decided_at: Set(None),
    }))
    .exec(c)
    .await?;
    Ok(())
}

/// The suggestions of `item`, best first.
pub async fn of_item<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
) -> Result<Vec<kc_suggestion::Model>, DbError> {
    Ok(kc_suggestion::Entity::find()
        .filter(kc_suggestion::Column::ItemId.eq(item))
        .order_by_asc(kc_suggestion::Column::Rank)
        .all(c)
        .await?)
}

/// Marks suggestion (`item`, `kc`) `status` by `actor`; [`DbError::NotFound`] when there is none.
pub async fn decide<C: ConnectionTrait>(
    c: &C,
    item: Uuid,
    kc: Uuid,
    status: &str,
    actor: Uuid,
    now_ms: i64,
) -> Result<(), DbError> {
    let res = kc_suggestion::Entity::update_many()
        .col_expr(
            kc_suggestion::Column::Status,
            sea_orm::sea_query::Expr::value(status),
        )
        .col_expr(
            kc_suggestion::Column::DecidedBy,
            sea_orm::sea_query::Expr::value(actor),
        )
        .col_expr(
            kc_suggestion::Column::DecidedAt,
            sea_orm::sea_query::Expr::value(now_ms),
        )
        .filter(kc_suggestion::Column::ItemId.eq(item))
        .filter(kc_suggestion::Column::KcId.eq(kc))
        .exec(c)
        .await?;
    if res.rows_affected == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Forgets who decided: every suggestion decided by `account` keeps its status and date but no
/// longer names them (account erasure). Returns the rows changed.
pub async fn forget_decider<C: ConnectionTrait>(c: &C, account: Uuid) -> Result<u64, DbError> {
    let res = kc_suggestion::Entity::update_many()
        .col_expr(
            kc_suggestion::Column::DecidedBy,
            sea_orm::sea_query::Expr::value(Option::<Uuid>::None),
        )
        .filter(kc_suggestion::Column::DecidedBy.eq(account))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// Ids of the items of `course` (every status, retired ones left out), oldest first.
pub async fn course_item_ids<C: ConnectionTrait>(
    c: &C,
    course: Uuid,
) -> Result<Vec<Uuid>, DbError> {
    use super::item;
    Ok(item::Entity::find()
        .filter(item::Column::CourseId.eq(course))
        .filter(item::Column::Status.ne("retired"))
        .order_by_asc(item::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect())
}
