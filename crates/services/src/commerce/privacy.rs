//! The commerce part of the account export and erasure, called by the identity area's privacy
//! use cases inside their own transaction.

use myqcm_db::DbError;
use myqcm_db::commerce as repo;
use myqcm_db::commerce::payments as pay;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::at;

/// Subscriptions (with plan codes), usage counters, redeemed cards, payment intents (no
/// checkout address or provider note) and earnings of `learner`.
pub async fn export<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<serde_json::Value, DbError> {
    let plans: std::collections::BTreeMap<Uuid, String> = repo::plans(c)
        .await?
        .into_iter()
        .map(|p| (p.id, p.code))
        .collect();
    let subs = repo::subscriptions_of(c, learner).await?;
    let usage = repo::usage_of(c, learner).await?;
    let cards = repo::cards_redeemed_by(c, learner).await?;
    let intents = pay::all_intents_of(c, learner).await?;
    let earnings = super::ledger::export(c, learner).await?;
    Ok(serde_json::json!({
        "subscriptions": subs.iter().map(|s| serde_json::json!({
            "id": s.id,
            "plan": plans.get(&s.plan_id),
            "starts_at": at(s.starts_at),
            "ends_at": s.ends_at.map(at),
            "source": s.source,
            "created_at": at(s.created_at),
        })).collect::<Vec<_>>(),
        "quota_usage": usage.iter().map(|u| serde_json::json!({
            "feature": u.feature,
            "day": u.day_key,
            "used_that_day": u.day_used,
            "month": u.month_key,
            "used_that_month": u.month_used,
        })).collect::<Vec<_>>(),
        "activation_cards": cards.iter().map(|k| serde_json::json!({
            "card_id": k.id,
            "batch_id": k.batch_id,
            "redeemed_at": k.redeemed_at.map(at),
            "subscription_id": k.subscription_id,
        })).collect::<Vec<_>>(),
        "payments": intents.iter().map(|i| serde_json::json!({
            "id": i.id,
            "plan": plans.get(&i.plan_id),
            "amount_dzd": i.amount_dzd,
            "currency": i.currency,
            "status": i.status,
            "subscription_id": i.subscription_id,
            "created_at": at(i.created_at),
            "updated_at": at(i.updated_at),
        })).collect::<Vec<_>>(),
        "earnings": earnings,
    }))
}

/// The note an intent expired by erasure carries.
pub const ERASED_NOTE: &str = "account erased";

/// Deletes the learner's subscriptions and counters; redeemed cards stay spent but no longer
/// name them; payment intents stay as financial records without their free text, and the open
/// ones (creating, pending, unknown) expire now (`now_ms`), in the caller's transaction, so a
/// reconciliation or a late webhook never grants to the anonymised account.
pub async fn erase<C: ConnectionTrait>(c: &C, learner: Uuid, now_ms: i64) -> Result<(), DbError> {
    repo::erase_learner(c, learner).await?;
    pay::scrub_learner(c, learner).await?;
    pay::expire_open_of(c, learner, ERASED_NOTE, now_ms).await?;
    super::ledger::erase(c, learner).await
}
