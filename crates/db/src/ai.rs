//! `llm_call` rows (issue 15, accounting): one per language-model call, with its kind, the
//! author it is billed to (none for QROC grades), its request or job, the model, the tokens,
//! the estimated cost and whether the reply was usable (`outcome`). Totals are summed here from
//! the rows of a day or a request (a day of one author holds at most a few hundred calls under
//! the daily limit).

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::DbError;
use crate::sql::stmt;

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
        /// `ok` (the reply was used) or `malformed` (the reply was billed but unusable).
        pub outcome: String,
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
        outcome: Set(row.outcome.clone()),
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

/// Totals of the calls of one day, author and kind (`usage_per_author_day`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorDayRow {
    /// Africa/Algiers day.
    pub day: String,
    /// The author billed (none for QROC grades and erased accounts).
    pub author_id: Option<Uuid>,
    /// Kind of call.
    pub kind: String,
    /// Calls.
    pub calls: i64,
    /// Calls whose reply was billed but unusable (outcome other than `ok`).
    pub failed_calls: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Estimated cost (micro-units).
    pub cost_micros: i64,
}

/// Everyone's calls on days `from..=to` summed per day, author and kind by the database (the
/// admin view covers up to 90 days of every author's calls, too many rows to sum in memory),
/// newest day first, then most tokens first.
pub async fn usage_per_author_day<C: ConnectionTrait>(
    c: &C,
    from: &str,
    to: &str,
) -> Result<Vec<AuthorDayRow>, DbError> {
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back so both backends give an integer.
    let sql = "SELECT day, author_id, kind, COUNT(*) AS calls, \
               CAST(SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) AS BIGINT) AS failed, \
               CAST(SUM(prompt_tokens) AS BIGINT) AS p, \
               CAST(SUM(completion_tokens) AS BIGINT) AS q, \
               CAST(SUM(cost_micros) AS BIGINT) AS cost \
               FROM llm_call WHERE day >= $1 AND day <= $2 \
               GROUP BY day, author_id, kind \
               ORDER BY day DESC, SUM(prompt_tokens + completion_tokens) DESC, kind";
    let rows = c
        .query_all_raw(stmt(
            c.get_database_backend(),
            sql,
            vec![from.into(), to.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuthorDayRow {
                day: r.try_get("", "day")?,
                author_id: r.try_get("", "author_id")?,
                kind: r.try_get("", "kind")?,
                calls: r.try_get("", "calls")?,
                failed_calls: r.try_get("", "failed")?,
                prompt_tokens: r.try_get("", "p")?,
                completion_tokens: r.try_get("", "q")?,
                cost_micros: r.try_get("", "cost")?,
            })
        })
        .collect()
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

/// The `generation_request` entity (one row per AI generation request).
pub mod generation_request {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "generation_request")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Who asked.
        pub requester_id: Uuid,
        /// Course code.
        pub course: String,
        /// KC codes, JSON array.
        pub kcs: String,
        /// QCS wanted.
        pub qcs: i32,
        /// QCM wanted.
        pub qcm: i32,
        /// QROC wanted.
        pub qroc: i32,
        /// `easy`, `medium`, `hard`.
        pub difficulty: String,
        /// `fr`, `ar`, `en`.
        pub language: String,
        /// `queued`, `running`, `done`, `failed`, `cancelled`.
        pub status: String,
        /// Epoch ms.
        pub created_at: i64,
        /// Epoch ms, once finished.
        pub finished_at: Option<i64>,
        /// Drafts created.
        pub drafts_created: i32,
        /// Tokens used.
        pub tokens: i64,
        /// Refused items, JSON array.
        pub refusals: String,
        /// Why a failed request failed.
        pub error: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

pub use generation_request::Model as GenerationRequestRow;

/// Records a new request.
pub async fn insert_request<C: ConnectionTrait>(
    c: &C,
    row: &GenerationRequestRow,
) -> Result<(), DbError> {
    use generation_request::ActiveModel;
    generation_request::Entity::insert(ActiveModel {
        id: Set(row.id),
        requester_id: Set(row.requester_id),
        course: Set(row.course.clone()),
        kcs: Set(row.kcs.clone()),
        qcs: Set(row.qcs),
        qcm: Set(row.qcm),
        qroc: Set(row.qroc),
        difficulty: Set(row.difficulty.clone()),
        language: Set(row.language.clone()),
        status: Set(row.status.clone()),
        created_at: Set(row.created_at),
        finished_at: Set(row.finished_at),
        drafts_created: Set(row.drafts_created),
        tokens: Set(row.tokens),
        refusals: Set(row.refusals.clone()),
        error: Set(row.error.clone()),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Request `id`, if recorded.
pub async fn request<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<GenerationRequestRow>, DbError> {
    Ok(generation_request::Entity::find_by_id(id).one(c).await?)
}

/// What a finished (or started) request leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOutcome {
    /// `running`, `done`, `failed` or `cancelled`.
    pub status: String,
    /// Epoch ms when finished (none while running).
    pub finished_at: Option<i64>,
    /// Drafts created.
    pub drafts_created: i32,
    /// Tokens used.
    pub tokens: i64,
    /// Refused items, JSON array.
    pub refusals: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// Sets the outcome of request `id` (nothing when it is not recorded).
pub async fn set_request_outcome<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    o: &RequestOutcome,
) -> Result<(), DbError> {
    use sea_orm::sea_query::Expr;
    generation_request::Entity::update_many()
        .col_expr(
            generation_request::Column::Status,
            Expr::value(o.status.clone()),
        )
        .col_expr(
            generation_request::Column::FinishedAt,
            Expr::value(o.finished_at),
        )
        .col_expr(
            generation_request::Column::DraftsCreated,
            Expr::value(o.drafts_created),
        )
        .col_expr(generation_request::Column::Tokens, Expr::value(o.tokens))
        .col_expr(
            generation_request::Column::Refusals,
            Expr::value(o.refusals.clone()),
        )
        .col_expr(
            generation_request::Column::Error,
            Expr::value(o.error.clone()),
        )
        .filter(generation_request::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Every request of `requester` (account export), oldest first.
pub async fn requests_of<C: ConnectionTrait>(
    c: &C,
    requester: Uuid,
) -> Result<Vec<GenerationRequestRow>, DbError> {
    Ok(generation_request::Entity::find()
        .filter(generation_request::Column::RequesterId.eq(requester))
        .order_by_asc(generation_request::Column::CreatedAt)
        .all(c)
        .await?)
}

/// Account erasure: the requests of `requester` are deleted (their drafts are catalogue items,
/// handled with the catalogue).
pub async fn delete_requests_of<C: ConnectionTrait>(
    c: &C,
    requester: Uuid,
) -> Result<u64, DbError> {
    let res = generation_request::Entity::delete_many()
        .filter(generation_request::Column::RequesterId.eq(requester))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// The `qroc_grade_rationale` entity: the model's rationale of a QROC grade.
pub mod qroc_grade_rationale {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "qroc_grade_rationale")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub attempt_id: Uuid,
        /// What the model said (at most 1000 characters).
        pub rationale: String,
        /// Model that graded.
        pub model: String,
        /// Epoch ms.
        pub created_at: i64,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// Stores (or replaces) the rationale of attempt `attempt`'s grade.
pub async fn put_rationale<C: ConnectionTrait>(
    c: &C,
    attempt: Uuid,
    rationale: &str,
    model: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    use qroc_grade_rationale::{ActiveModel, Column, Entity};
    Entity::delete_many()
        .filter(Column::AttemptId.eq(attempt))
        .exec(c)
        .await?;
    Entity::insert(ActiveModel {
        attempt_id: Set(attempt),
        rationale: Set(rationale.chars().take(1000).collect()),
        model: Set(model.chars().take(120).collect()),
        created_at: Set(now_ms),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// The rationales of `attempts`, by attempt.
pub async fn rationales<C: ConnectionTrait>(
    c: &C,
    attempts: Vec<Uuid>,
) -> Result<std::collections::HashMap<Uuid, String>, DbError> {
    use qroc_grade_rationale::{Column, Entity};
    if attempts.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    Ok(Entity::find()
        .filter(Column::AttemptId.is_in(attempts))
        .all(c)
        .await?
        .into_iter()
        .map(|r| (r.attempt_id, r.rationale))
        .collect())
}

/// Account erasure of a learner: the rationales of their attempts' grades go with their
/// free-text answers (a rationale may quote the answer).
pub async fn delete_rationales_of_learner<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<u64, DbError> {
    use qroc_grade_rationale::{Column, Entity};
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let attempts = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("attempt"))
        .and_where(Expr::col(Alias::new("learner_id")).eq(learner))
        .to_owned();
    let res = Entity::delete_many()
        .filter(Column::AttemptId.in_subquery(attempts))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}
