//! Persistence of online payment: payment intents and the webhook events received (see the
//! `m20261203_100001_payments` migration). Every status change is one conditional update
//! (`… WHERE status IN (…)`), so the state machine only moves forward and, of racing requests,
//! exactly one makes a given move; [`mark_paid`] is the move that grants.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Value};

use crate::DbError;
use crate::sql::stmt;

/// The intent's statuses, as stored.
pub mod status {
    /// The row exists; the checkout is being created.
    pub const CREATING: &str = "creating";
    /// The checkout exists and awaits payment.
    pub const PENDING: &str = "pending";
    /// The create call did not answer: a checkout may exist.
    pub const UNKNOWN: &str = "unknown";
    /// Paid and granted.
    pub const PAID: &str = "paid";
    /// The payment failed.
    pub const FAILED: &str = "failed";
    /// The payer canceled.
    pub const CANCELED: &str = "canceled";
    /// Expired without payment.
    pub const EXPIRED: &str = "expired";
    /// The provider's checkout disagrees with the intent (amount, currency, mode, intent id):
    /// nothing granted, staff look at it.
    pub const QUARANTINED: &str = "quarantined";
    /// The statuses a payment may still settle from.
    pub const OPEN: &[&str] = &[CREATING, PENDING, UNKNOWN];
}

/// A payment intent.
pub mod payment_intent {
    use sea_orm::entity::prelude::*;

    /// One row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_intent")]
    pub struct Model {
        /// Id (also the provider's metadata `intent_id`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The learner paying.
        pub learner_id: Uuid,
        /// The plan bought.
        pub plan_id: Uuid,
        /// Price when the intent was made (whole dinars).
        pub amount_dzd: i64,
        /// `dzd`.
        pub currency: String,
        /// `test` or `live`.
        pub mode: String,
        /// See [`super::status`].
        pub status: String,
        /// The provider's checkout.
        pub checkout_id: Option<String>,
        /// The hosted page.
        pub checkout_url: Option<String>,
        /// The subscription granted.
        pub subscription_id: Option<Uuid>,
        /// Why it was quarantined or how it settled.
        pub note: Option<String>,
        /// Created (ms).
        pub created_at: i64,
        /// Last change (ms).
        pub updated_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A webhook event received.
pub mod payment_event {
    use sea_orm::entity::prelude::*;

    /// One row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_event")]
    pub struct Model {
        /// The provider's event id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        /// The checkout it is about.
        pub checkout_id: Option<String>,
        /// Its type.
        pub kind: String,
        /// SHA-256 of the body (hex).
        pub body_sha256: String,
        /// Received (ms).
        pub received_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Inserts an intent.
pub async fn insert_intent<C: ConnectionTrait>(
    c: &C,
    m: payment_intent::Model,
) -> Result<payment_intent::Model, DbError> {
    let am: payment_intent::ActiveModel = m.clone().into();
    payment_intent::Entity::insert(am)
        .exec_without_returning(c)
        .await?;
    Ok(m)
}

/// The intent with this id.
pub async fn intent<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<payment_intent::Model>, DbError> {
    Ok(payment_intent::Entity::find_by_id(id).one(c).await?)
}

/// The intent of this provider checkout.
pub async fn intent_by_checkout<C: ConnectionTrait>(
    c: &C,
    checkout_id: &str,
) -> Result<Option<payment_intent::Model>, DbError> {
    Ok(payment_intent::Entity::find()
        .filter(payment_intent::Column::CheckoutId.eq(checkout_id))
        .one(c)
        .await?)
}

/// The learner's intents, newest first.
pub async fn intents_of<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    limit: u64,
) -> Result<Vec<payment_intent::Model>, DbError> {
    Ok(payment_intent::Entity::find()
        .filter(payment_intent::Column::LearnerId.eq(learner))
        .order_by_desc(payment_intent::Column::CreatedAt)
        .order_by_desc(payment_intent::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// Open intents (creating, pending, unknown) not changed since `before`, oldest first.
pub async fn open_intents_before<C: ConnectionTrait>(
    c: &C,
    before: i64,
    limit: u64,
) -> Result<Vec<payment_intent::Model>, DbError> {
    Ok(payment_intent::Entity::find()
        .filter(payment_intent::Column::Status.is_in(status::OPEN.iter().copied()))
        .filter(payment_intent::Column::UpdatedAt.lt(before))
        .order_by_asc(payment_intent::Column::UpdatedAt)
        .limit(limit)
        .all(c)
        .await?)
}

/// Records the checkout of a `creating` (or `unknown`) intent and makes it `pending`; false
/// when the intent already moved on.
pub async fn set_pending<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    checkout_id: &str,
    checkout_url: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    let res = payment_intent::Entity::update_many()
        .col_expr(
            payment_intent::Column::CheckoutId,
            Expr::value(Some(checkout_id.to_owned())),
        )
        .col_expr(
            payment_intent::Column::CheckoutUrl,
            Expr::value(checkout_url.map(str::to_owned)),
        )
        .col_expr(payment_intent::Column::Status, Expr::value(status::PENDING))
        .col_expr(payment_intent::Column::UpdatedAt, Expr::value(now))
        .filter(payment_intent::Column::Id.eq(id))
        .filter(payment_intent::Column::Status.is_in([status::CREATING, status::UNKNOWN]))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Moves an intent from one of `from` to `to` (with a note); false when it was not in `from`.
pub async fn move_status<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    from: &[&str],
    to: &str,
    note: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    let mut q = payment_intent::Entity::update_many()
        .col_expr(payment_intent::Column::Status, Expr::value(to))
        .col_expr(payment_intent::Column::UpdatedAt, Expr::value(now));
    if let Some(n) = note {
        q = q.col_expr(
            payment_intent::Column::Note,
            Expr::value(Some(n.to_owned())),
        );
    }
    let res = q
        .filter(payment_intent::Column::Id.eq(id))
        .filter(payment_intent::Column::Status.is_in(from.iter().copied()))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The granting move: `pending`/`unknown` → `paid`, linking the subscription. Of any number of
/// racing deliveries exactly one sees `true`; the others must roll back their subscription.
pub async fn mark_paid<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
    subscription: Uuid,
    now: i64,
) -> Result<bool, DbError> {
    let res = payment_intent::Entity::update_many()
        .col_expr(payment_intent::Column::Status, Expr::value(status::PAID))
        .col_expr(
            payment_intent::Column::SubscriptionId,
            Expr::value(Some(subscription)),
        )
        .col_expr(payment_intent::Column::UpdatedAt, Expr::value(now))
        .filter(payment_intent::Column::Id.eq(id))
        .filter(payment_intent::Column::Status.is_in([status::PENDING, status::UNKNOWN]))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Touches an open intent (the reconciliation looked at it), so it is not looked at again at
/// once.
pub async fn touch<C: ConnectionTrait>(c: &C, id: Uuid, now: i64) -> Result<(), DbError> {
    payment_intent::Entity::update_many()
        .col_expr(payment_intent::Column::UpdatedAt, Expr::value(now))
        .filter(payment_intent::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Whether an event with this id was recorded.
pub async fn event_seen<C: ConnectionTrait>(c: &C, event_id: &str) -> Result<bool, DbError> {
    Ok(payment_event::Entity::find_by_id(event_id.to_owned())
        .one(c)
        .await?
        .is_some())
}

/// Records an event unless its id was recorded before (`INSERT … ON CONFLICT DO NOTHING`);
/// false for a replay.
pub async fn record_event<C: ConnectionTrait>(
    c: &C,
    e: &payment_event::Model,
) -> Result<bool, DbError> {
    let sql = "INSERT INTO payment_event (event_id, checkout_id, kind, body_sha256, received_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING";
    let values: Vec<Value> = vec![
        e.event_id.clone().into(),
        e.checkout_id.clone().into(),
        e.kind.clone().into(),
        e.body_sha256.clone().into(),
        e.received_at.into(),
    ];
    let r = c
        .execute_raw(stmt(c.get_database_backend(), sql, values))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Every event recorded about a checkout, oldest first.
pub async fn events_of_checkout<C: ConnectionTrait>(
    c: &C,
    checkout_id: &str,
) -> Result<Vec<payment_event::Model>, DbError> {
    Ok(payment_event::Entity::find()
        .filter(payment_event::Column::CheckoutId.eq(checkout_id))
        .order_by_asc(payment_event::Column::ReceivedAt)
        .all(c)
        .await?)
}

/// Every payment intent of `learner`, oldest first (the account export).
pub async fn all_intents_of<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<Vec<payment_intent::Model>, DbError> {
    Ok(payment_intent::Entity::find()
        .filter(payment_intent::Column::LearnerId.eq(learner))
        .order_by_asc(payment_intent::Column::CreatedAt)
        .order_by_asc(payment_intent::Column::Id)
        .all(c)
        .await?)
}

/// Erasure: the learner's intents stay as financial records (plan, amount, status, dates,
/// checkout id, the anonymised account id) but lose their free text (the note, which may quote
/// the provider), the hosted page address and the link to the erased subscription.
pub async fn scrub_learner<C: ConnectionTrait>(c: &C, learner: Uuid) -> Result<u64, DbError> {
    let res = payment_intent::Entity::update_many()
        .col_expr(
            payment_intent::Column::Note,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            payment_intent::Column::CheckoutUrl,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            payment_intent::Column::SubscriptionId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(payment_intent::Column::LearnerId.eq(learner))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// Erasure: expires the learner's open intents (creating, pending, unknown) with `note`, so
/// neither the reconciliation nor a late webhook can grant anything to the anonymised account
/// (a late `paid` finds the intent expired and quarantines it for a refund). Returns how many.
pub async fn expire_open_of<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    note: &str,
    now: i64,
) -> Result<u64, DbError> {
    let res = payment_intent::Entity::update_many()
        .col_expr(payment_intent::Column::Status, Expr::value(status::EXPIRED))
        .col_expr(
            payment_intent::Column::Note,
            Expr::value(Some(note.to_owned())),
        )
        .col_expr(payment_intent::Column::UpdatedAt, Expr::value(now))
        .filter(payment_intent::Column::LearnerId.eq(learner))
        .filter(payment_intent::Column::Status.is_in(status::OPEN.iter().copied()))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// Intents for the admin console, newest first, optionally of one status.
pub async fn recent_intents<C: ConnectionTrait>(
    c: &C,
    status: Option<&str>,
    limit: u64,
) -> Result<Vec<payment_intent::Model>, DbError> {
    let mut q = payment_intent::Entity::find();
    if let Some(st) = status {
        q = q.filter(payment_intent::Column::Status.eq(st));
    }
    Ok(q.order_by_desc(payment_intent::Column::CreatedAt)
        .order_by_desc(payment_intent::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// The events received about any of `checkouts`, oldest first.
pub async fn events_of_checkouts<C: ConnectionTrait>(
    c: &C,
    checkouts: Vec<String>,
) -> Result<Vec<payment_event::Model>, DbError> {
    if checkouts.is_empty() {
        return Ok(Vec::new());
    }
    Ok(payment_event::Entity::find()
        .filter(payment_event::Column::CheckoutId.is_in(checkouts))
        .order_by_asc(payment_event::Column::ReceivedAt)
        .all(c)
        .await?)
}
