//! `llm_call` rows (issue 15, accounting): one per language-model call, with its kind, the
//! author it is billed to (none for QROC grades), its request or job, the model, the tokens and
//! the estimated cost. Totals are summed here from the rows of a day or a request (a day of one
//! author holds at most a few hundred calls under the daily limit).

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::DbError;

/// The entity.
pub mod llm_call {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "llm_call")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Epoch ms.
        pub at: i64,
        /// Africa/Algiers day, `YYYY-MM-DD`.
        pub day: String,
        /// `generation`, `kc_suggestion` or `grading`.
        pub kind: String,
        /// The author billed (none for QROC grades).
        pub author_id: Option<Uuid>,
        /// Generation request, KC run or job the call belongs to.
        pub request_id: Option<String>,
        /// Model that answered.
        pub model: String,
        /// Prompt tokens billed.
        pub prompt_tokens: i64,
        /// Completion tokens billed.
        pub completion_tokens: i64,
        /// Estimated cost, micro-units of the configured currency (0 = unknown price).
        pub cost_micros: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub use llm_call::Model as LlmCallRow;

/// Records one call.
pub async fn insert_call<C: ConnectionTrait>(c: &C, row: &LlmCallRow) -> Result<(), DbError> {
    llm_call::Entity::insert(llm_call::ActiveModel {
        id: Set(row.id),
        at: Set(row.at),
        day: Set(row.day.clone()),
        kind: Set(row.kind.clone()),
        author_id: Set(row.author_id),
        request_id: Set(row
            .request_id
            .as_ref()
            .map(|r| r.chars().take(64).collect())),
        model: Set(row.model.chars().take(120).collect()),
        prompt_tokens: Set(row.prompt_tokens),
        completion_tokens: Set(row.completion_tokens),
        cost_micros: Set(row.cost_micros),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Prompt plus completion tokens billed to `author` on `day`.
pub async fn author_day_tokens<C: ConnectionTrait>(
    c: &C,
    author: Uuid,
    day: &str,
) -> Result<i64, DbError> {
    let rows: Vec<(i64, i64)> = llm_call::Entity::find()
        .select_only()
        .column(llm_call::Column::PromptTokens)
        .column(llm_call::Column::CompletionTokens)
        .filter(llm_call::Column::AuthorId.eq(author))
        .filter(llm_call::Column::Day.eq(day))
        .into_tuple()
        .all(c)
        .await?;
    Ok(rows.iter().map(|(p, q)| p + q).sum())
}

/// The calls of `author` (or, with `None`, of everyone) on days `from..=to`, newest first, at
/// most `limit`.
pub async fn calls_between<C: ConnectionTrait>(
    c: &C,
    author: Option<Uuid>,
    from: &str,
    to: &str,
    limit: u64,
) -> Result<Vec<LlmCallRow>, DbError> {
    let mut q = llm_call::Entity::find()
        .filter(llm_call::Column::Day.gte(from))
        .filter(llm_call::Column::Day.lte(to));
    if let Some(a) = author {
        q = q.filter(llm_call::Column::AuthorId.eq(a));
    }
    Ok(q.order_by_desc(llm_call::Column::At)
        .order_by_desc(llm_call::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// The calls of request `request`, oldest first.
pub async fn calls_of_request<C: ConnectionTrait>(
    c: &C,
    request: &str,
) -> Result<Vec<LlmCallRow>, DbError> {
    Ok(llm_call::Entity::find()
        .filter(llm_call::Column::RequestId.eq(request))
        .order_by_asc(llm_call::Column::At)
        .order_by_asc(llm_call::Column::Id)
        .all(c)
        .await?)
}

/// Every call billed to `author` (account export), oldest first.
pub async fn calls_of_author<C: ConnectionTrait>(
    c: &C,
    author: Uuid,
) -> Result<Vec<LlmCallRow>, DbError> {
    Ok(llm_call::Entity::find()
        .filter(llm_call::Column::AuthorId.eq(author))
        .order_by_asc(llm_call::Column::At)
        .order_by_asc(llm_call::Column::Id)
        .all(c)
        .await?)
}

/// Account erasure: the calls billed to `author` keep their tokens and cost (the platform's
/// spending stays whole) but name no author any more.
pub async fn forget_author<C: ConnectionTrait>(c: &C, author: Uuid) -> Result<u64, DbError> {
    let res = llm_call::Entity::update_many()
        .col_expr(
            llm_call::Column::AuthorId,
            sea_orm::sea_query::Expr::value(Option::<Uuid>::None),
        )
        .filter(llm_call::Column::AuthorId.eq(author))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}
