//! Persistence of commerce: plans, subscriptions, quota usage, activation cards and their
//! batches. The use cases (`myqcm_services::commerce`) hold the rules; this module holds the
//! statements, among them the two that must be single statements: the quota upsert (consumes
//! only while under the limit) and the card redemption (a conditional update, so one card is
//! redeemed once however many requests race).

pub mod entities;
pub mod ledger;
pub mod payments;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder, Value};

use crate::DbError;
pub use crate::migration::m20261202_900001_commerce::FREE_PLAN_ID;
use crate::sql::stmt;
pub use entities::{activation_card, card_batch, plan, quota_usage, subscription};

/// Every plan, in display order.
pub async fn plans<C: ConnectionTrait>(c: &C) -> Result<Vec<plan::Model>, DbError> {
    Ok(plan::Entity::find()
        .order_by_asc(plan::Column::SortOrder)
        .order_by_asc(plan::Column::PriceDzd)
        .order_by_asc(plan::Column::Code)
        .all(c)
        .await?)
}

/// The plan with this code.
pub async fn plan_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<plan::Model>, DbError> {
    Ok(plan::Entity::find()
        .filter(plan::Column::Code.eq(code))
        .one(c)
        .await?)
}

/// The plan with this id.
pub async fn plan<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<Option<plan::Model>, DbError> {
    Ok(plan::Entity::find_by_id(id).one(c).await?)
}

/// The default (free) plan: the one flagged default (the migration seeds it).
pub async fn default_plan<C: ConnectionTrait>(c: &C) -> Result<plan::Model, DbError> {
    plan::Entity::find()
        .filter(plan::Column::IsDefault.eq(true))
        .order_by_asc(plan::Column::CreatedAt)
        .one(c)
        .await?
        .ok_or(DbError::NotFound)
}

/// Inserts a plan; [`DbError::Conflict`] when its code is taken.
pub async fn insert_plan<C: ConnectionTrait>(
    c: &C,
    m: plan::Model,
) -> Result<plan::Model, DbError> {
    let am: plan::ActiveModel = m.clone().into();
    match plan::Entity::insert(am).exec_without_returning(c).await {
        Ok(_) => Ok(m),
        Err(e) if crate::is_unique_violation(&e) => Err(DbError::Conflict("plan code")),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a plan's row (same id).
pub async fn update_plan<C: ConnectionTrait>(
    c: &C,
    m: plan::Model,
) -> Result<plan::Model, DbError> {
    let mut am: plan::ActiveModel = m.clone().into();
    am = am.reset_all();
    am.id = sea_orm::ActiveValue::Unchanged(m.id);
    am.update(c).await?;
    Ok(m)
}

/// The subscription in force for `learner` at `now` (started, not ended; the latest started
/// wins) with its plan.
pub async fn current_subscription<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    now: i64,
) -> Result<Option<(subscription::Model, plan::Model)>, DbError> {
    let row = subscription::Entity::find()
        .filter(subscription::Column::LearnerId.eq(learner))
        .filter(subscription::Column::StartsAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(subscription::Column::EndsAt.is_null())
                .add(subscription::Column::EndsAt.gt(now)),
        )
        .order_by_desc(subscription::Column::StartsAt)
        .order_by_desc(subscription::Column::CreatedAt)
        .one(c)
        .await?;
    let Some(sub) = row else { return Ok(None) };
    let p = plan(c, sub.plan_id).await?.ok_or(DbError::NotFound)?;
    Ok(Some((sub, p)))
}

/// Subscriptions of `learner` that have not ended at `now` (current and queued renewals), in
/// start order.
pub async fn open_subscriptions<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    now: i64,
) -> Result<Vec<subscription::Model>, DbError> {
    Ok(subscription::Entity::find()
        .filter(subscription::Column::LearnerId.eq(learner))
        .filter(
            sea_orm::Condition::any()
                .add(subscription::Column::EndsAt.is_null())
                .add(subscription::Column::EndsAt.gt(now)),
        )
        .order_by_asc(subscription::Column::StartsAt)
        .all(c)
        .await?)
}

/// Every subscription of `learner` (account export), oldest first.
pub async fn subscriptions_of<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<Vec<subscription::Model>, DbError> {
    Ok(subscription::Entity::find()
        .filter(subscription::Column::LearnerId.eq(learner))
        .order_by_asc(subscription::Column::StartsAt)
        .order_by_asc(subscription::Column::Id)
        .all(c)
        .await?)
}

/// Inserts a subscription.
pub async fn insert_subscription<C: ConnectionTrait>(
    c: &C,
    m: subscription::Model,
) -> Result<subscription::Model, DbError> {
    let am: subscription::ActiveModel = m.clone().into();
    subscription::Entity::insert(am)
        .exec_without_returning(c)
        .await?;
    Ok(m)
}

/// Sets the end of a subscription (a switch of plan ends the old one now).
pub async fn end_subscription<C: ConnectionTrait>(c: &C, id: Uuid, at: i64) -> Result<(), DbError> {
    subscription::Entity::update_many()
        .col_expr(subscription::Column::EndsAt, Expr::value(Some(at)))
        .filter(subscription::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Deletes a queued (not yet started) subscription.
pub async fn delete_subscription<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<(), DbError> {
    subscription::Entity::delete_by_id(id).exec(c).await?;
    Ok(())
}

/// Usage counters of `learner`, one row per feature used.
pub async fn usage_of<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<Vec<quota_usage::Model>, DbError> {
    Ok(quota_usage::Entity::find()
        .filter(quota_usage::Column::LearnerId.eq(learner))
        .order_by_asc(quota_usage::Column::Feature)
        .all(c)
        .await?)
}

/// One consumption to record.
#[derive(Debug, Clone, Copy)]
pub struct Consumption<'a> {
    /// The learner.
    pub learner: Uuid,
    /// Stored feature name.
    pub feature: &'a str,
    /// Current day window (Algerian date as `yyyymmdd`).
    pub day_key: i32,
    /// Current month window (`yyyymm`).
    pub month_key: i32,
    /// Uses to add.
    pub n: i32,
    /// The day's limit (`i32::MAX` when unlimited).
    pub day_limit: i32,
    /// The month's limit (`i32::MAX` when unlimited).
    pub month_limit: i32,
    /// Now (ms).
    pub now: i64,
}

/// Adds `n` uses in one statement, only if both windows stay within their limits: an upsert
/// that starts a window afresh when its key changed. Returns the new (day, month) counts, or
/// `None` when a limit would be passed (nothing written). The caller checks that `n` alone
/// fits the limits (a first row is inserted unconditionally).
pub async fn consume<C: ConnectionTrait>(
    c: &C,
    u: Consumption<'_>,
) -> Result<Option<(i32, i32)>, DbError> {
    let sql = "INSERT INTO quota_usage (learner_id, feature, day_key, day_used, month_key, \
               month_used, updated_at) VALUES ($1, $2, $3, $5, $4, $5, $8) \
               ON CONFLICT (learner_id, feature) DO UPDATE SET \
               day_used = (CASE WHEN quota_usage.day_key = excluded.day_key \
                 THEN quota_usage.day_used ELSE 0 END) + excluded.day_used, \
               day_key = excluded.day_key, \
               month_used = (CASE WHEN quota_usage.month_key = excluded.month_key \
                 THEN quota_usage.month_used ELSE 0 END) + excluded.month_used, \
               month_key = excluded.month_key, \
               updated_at = excluded.updated_at \
               WHERE (CASE WHEN quota_usage.day_key = excluded.day_key \
                 THEN quota_usage.day_used ELSE 0 END) + excluded.day_used <= $6 \
               AND (CASE WHEN quota_usage.month_key = excluded.month_key \
                 THEN quota_usage.month_used ELSE 0 END) + excluded.month_used <= $7 \
               RETURNING day_used, month_used";
    let values: Vec<Value> = vec![
        u.learner.into(),
        u.feature.to_owned().into(),
        u.day_key.into(),
        u.month_key.into(),
        u.n.into(),
        u.day_limit.into(),
        u.month_limit.into(),
        u.now.into(),
    ];
    let backend = c.get_database_backend();
    Ok(match c.query_one_raw(stmt(backend, sql, values)).await? {
        Some(r) => Some((r.try_get("", "day_used")?, r.try_get("", "month_used")?)),
        None => None,
    })
}

/// Inserts a batch and its cards (by HMAC).
pub async fn insert_batch<C: ConnectionTrait>(
    c: &C,
    batch: card_batch::Model,
    hmacs: &[String],
) -> Result<(), DbError> {
    let am: card_batch::ActiveModel = batch.clone().into();
    card_batch::Entity::insert(am)
        .exec_without_returning(c)
        .await?;
    for chunk in hmacs.chunks(500) {
        let rows = chunk.iter().map(|h| activation_card::ActiveModel {
            id: Set(Uuid::now_v7()),
            batch_id: Set(batch.id),
            code_hmac: Set(h.clone()),
            redeemed_at: Set(None),
            redeemed_by: Set(None),
            subscription_id: Set(None),
        });
        match activation_card::Entity::insert_many(rows)
            .exec_without_returning(c)
            .await
        {
            Ok(_) => {}
            Err(e) if crate::is_unique_violation(&e) => {
                return Err(DbError::Conflict("activation card code"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The card with this HMAC and its batch.
pub async fn card_by_hmac<C: ConnectionTrait>(
    c: &C,
    hmac: &str,
) -> Result<Option<(activation_card::Model, card_batch::Model)>, DbError> {
    let Some(card) = activation_card::Entity::find()
        .filter(activation_card::Column::CodeHmac.eq(hmac))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let batch = card_batch::Entity::find_by_id(card.batch_id)
        .one(c)
        .await?
        .ok_or(DbError::NotFound)?;
    Ok(Some((card, batch)))
}

/// Marks a card redeemed if nobody did first (one conditional update: of racing requests,
/// exactly one sees `true`).
pub async fn redeem_card<C: ConnectionTrait>(
    c: &C,
    card: Uuid,
    learner: Uuid,
    subscription: Uuid,
    now: i64,
) -> Result<bool, DbError> {
    let res = activation_card::Entity::update_many()
        .col_expr(activation_card::Column::RedeemedAt, Expr::value(Some(now)))
        .col_expr(
            activation_card::Column::RedeemedBy,
            Expr::value(Some(learner)),
        )
        .col_expr(
            activation_card::Column::SubscriptionId,
            Expr::value(Some(subscription)),
        )
        .filter(activation_card::Column::Id.eq(card))
        .filter(activation_card::Column::RedeemedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A batch with its counts.
#[derive(Debug, Clone)]
pub struct BatchRow {
    /// The batch.
    pub batch: card_batch::Model,
    /// Cards redeemed so far.
    pub redeemed: u64,
}

/// Every batch, newest first, with its redeemed count.
pub async fn batches<C: ConnectionTrait>(c: &C) -> Result<Vec<BatchRow>, DbError> {
    let all = card_batch::Entity::find()
        .order_by_desc(card_batch::Column::CreatedAt)
        .order_by_desc(card_batch::Column::Id)
        .all(c)
        .await?;
    let mut out = Vec::with_capacity(all.len());
    for batch in all {
        let redeemed = activation_card::Entity::find()
            .filter(activation_card::Column::BatchId.eq(batch.id))
            .filter(activation_card::Column::RedeemedAt.is_not_null())
            .count(c)
            .await?;
        out.push(BatchRow { batch, redeemed });
    }
    Ok(out)
}

/// Revokes a batch (its unredeemed cards stop working); false when already revoked.
pub async fn revoke_batch<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    by: Uuid,
    now: i64,
) -> Result<bool, DbError> {
    let res = card_batch::Entity::update_many()
        .col_expr(card_batch::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(card_batch::Column::RevokedBy, Expr::value(Some(by)))
        .filter(card_batch::Column::Id.eq(id))
        .filter(card_batch::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The cards `learner` redeemed (account export).
pub async fn cards_redeemed_by<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<Vec<activation_card::Model>, DbError> {
    Ok(activation_card::Entity::find()
        .filter(activation_card::Column::RedeemedBy.eq(learner))
        .order_by_asc(activation_card::Column::RedeemedAt)
        .all(c)
        .await?)
}

/// Erases a learner's commerce rows: subscriptions and usage are deleted; redeemed cards stay
/// redeemed (a card is never spendable twice) but no longer name the learner.
pub async fn erase_learner<C: ConnectionTrait>(c: &C, learner: Uuid) -> Result<(), DbError> {
    activation_card::Entity::update_many()
        .col_expr(
            activation_card::Column::RedeemedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            activation_card::Column::SubscriptionId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(activation_card::Column::RedeemedBy.eq(learner))
        .exec(c)
        .await?;
    subscription::Entity::delete_many()
        .filter(subscription::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    quota_usage::Entity::delete_many()
        .filter(quota_usage::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    Ok(())
}
