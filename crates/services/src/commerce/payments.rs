//! Online payment through the [`PaymentGateway`] port (Chargily Pay v2): checkout, webhook,
//! status, reconciliation. Rules (docs/COMMERCE.md, "Online payment"):
//!
//! - The amount comes from the plan table, never from the client; the return URLs and the
//!   webhook URL are built from `MYQCM_PUBLIC_BASE_URL` and our intent id only.
//! - Nothing is granted because a browser came back or because a webhook body says "paid":
//!   a webhook is verified (signature, before parsing), deduplicated by event id, then the
//!   checkout is re-read from the provider and its status, amount, currency (`dzd`), mode
//!   (`livemode`) and metadata `intent_id` are compared with the intent. A mismatch quarantines
//!   the intent; a match grants in one transaction: the conditional move to `paid`, the
//!   subscription (the proration rule of the cards, `source = chargily`), the event row and the
//!   audit row.
//! - Intents only move forward: `creating` → `pending` | `unknown` → `paid` | `failed` |
//!   `canceled` | `expired` | `quarantined`.
//! - The reconciliation job settles or expires intents left open without a webhook.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use myqcm_db::DbError;
use myqcm_db::commerce::payments::{self as pay, payment_event, payment_intent, status};
use myqcm_db::commerce::{self as repo, subscription};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::payments::{
    Checkout, CheckoutRequest, CheckoutStatus, GatewayError, PaymentGateway, PaymentMode,
};
use myqcm_domain::permissions::Action;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Commerce, CommerceError, PlanNames, PlanView, at};
use crate::identity::ClientMeta;
use crate::identity::audit;
use crate::identity::crypto::sha256_hex;
use crate::identity::ratelimit::{self, Limit, per};

/// Checkouts a learner may start: 20 an hour.
pub const CHECKOUT_ACCOUNT: Limit = per("checkout-account", 20, 3600);
/// Webhook deliveries per client address: 120 a minute, ample for the provider's retries;
/// counted before the body or its signature is looked at (spec/security.md §1.4 "Webhook DoS").
pub const WEBHOOK_IP: Limit = per("webhook-ip", 120, 60);
/// Largest webhook body read (the provider's events are a few KiB).
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;
/// Open intents untouched for this long are looked at by the reconciliation.
pub const RECONCILE_AFTER_MS: i64 = 5 * 60 * 1000;
/// A checkout still unpaid this long after its intent was made is expired.
pub const CHECKOUT_VALIDITY_MS: i64 = 60 * 60 * 1000;
/// Intents looked at per reconciliation run.
const RECONCILE_BATCH: u64 = 100;
/// The job kind (and schedule name) of the reconciliation.
pub const RECONCILE_JOB: &str = "payments.reconcile";

/// Why a payment use case failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Online payment is not configured (`MYQCM_CHARGILY_MODE` unset).
    #[error("online payment is not available")]
    Disabled,
    /// No such intent (or not the caller's).
    #[error("not found")]
    NotFound,
    /// The caller may not buy (no verified email, staff only account).
    #[error("forbidden")]
    Forbidden,
    /// A field is invalid (unknown plan, the free plan).
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The learner's plan never ends: nothing can be added to it.
    #[error("the current plan never ends")]
    PlanWithoutEnd,
    /// Too many checkouts started.
    #[error("too many attempts")]
    RateLimited,
    /// The provider did not answer (or answered with an error). The intent, if any, stays for
    /// the reconciliation.
    #[error("payment provider unavailable: {0}")]
    Gateway(GatewayError),
    /// A webhook without a valid signature.
    #[error("invalid signature")]
    BadSignature,
    /// A signed webhook whose body is not a valid event.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// A webhook body over [`MAX_WEBHOOK_BODY`].
    #[error("body too large")]
    TooLarge,
    /// Storage failure.
    #[error(transparent)]
    Store(DbError),
}

impl From<DbError> for PaymentError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

impl From<sea_orm::DbErr> for PaymentError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

impl From<CommerceError> for PaymentError {
    fn from(e: CommerceError) -> Self {
        match e {
            CommerceError::PlanWithoutEnd => Self::PlanWithoutEnd,
            CommerceError::NotFound => Self::NotFound,
            CommerceError::Forbidden => Self::Forbidden,
            CommerceError::RateLimited => Self::RateLimited,
            CommerceError::Invalid { field, message } => Self::Invalid { field, message },
            CommerceError::Store(e) => Self::Store(e),
            other => Self::Store(DbError::Backend(other.to_string())),
        }
    }
}

type Result<T, E = PaymentError> = std::result::Result<T, E>;

/// A payment intent as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IntentView {
    /// Intent id.
    pub id: Uuid,
    /// Plan code.
    pub plan: String,
    /// Plan names.
    pub plan_names: PlanNames,
    /// Amount in whole dinars (the plan's price when the intent was made).
    pub amount_dzd: i64,
    /// `dzd`.
    pub currency: String,
    /// `creating`, `pending`, `unknown`, `paid`, `failed`, `canceled`, `expired`,
    /// `quarantined`.
    pub status: String,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A started checkout: the intent and where to send the browser.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Started {
    /// The intent.
    pub intent: IntentView,
    /// The provider's hosted page.
    pub checkout_url: String,
}

/// What a webhook delivery (or a reconciliation step) did; the HTTP answer is 200 for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The event id was seen before.
    Duplicate,
    /// Not a checkout event: recorded, nothing changed.
    Ignored,
    /// The intent was paid and the subscription granted.
    Granted,
    /// The intent moved to failed, canceled or expired.
    Closed,
    /// The checkout disagrees with the intent: quarantined, nothing granted.
    Quarantined,
    /// The intent had already settled: nothing changed.
    NoChange,
    /// The provider does not report a final status yet: nothing recorded, retried later.
    NotYet,
    /// No intent of ours matches the checkout.
    Unmatched,
}

/// What one reconciliation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Intents looked at.
    pub looked_at: u32,
    /// Granted.
    pub granted: u32,
    /// Moved to failed, canceled or expired.
    pub closed: u32,
    /// Quarantined.
    pub quarantined: u32,
    /// Provider errors (left for the next run).
    pub errors: u32,
}

/// The online payment use cases. Cheap to clone.
#[derive(Clone)]
pub struct Payments {
    commerce: Commerce,
    gateway: Arc<dyn PaymentGateway>,
    mode: PaymentMode,
    public_base: url::Url,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> PaymentError {
    PaymentError::Invalid {
        field,
        message: message.into(),
    }
}

impl Payments {
    /// Payments through `gateway` in `mode`; URLs under `public_base`.
    pub fn new(
        commerce: Commerce,
        gateway: Arc<dyn PaymentGateway>,
        mode: PaymentMode,
        public_base: url::Url,
    ) -> Self {
        Self {
            commerce,
            gateway,
            mode,
            public_base,
        }
    }

    /// The configured mode.
    pub fn mode(&self) -> PaymentMode {
        self.mode
    }

    fn now_ms(&self) -> i64 {
        self.commerce.now_ms()
    }

    fn url(&self, path: &str, intent: Option<Uuid>) -> String {
        let mut u = self.public_base.clone();
        u.set_path(path);
        u.set_query(None);
        if let Some(id) = intent {
            u.query_pairs_mut().append_pair("intent", &id.to_string());
        }
        u.to_string()
    }

    async fn view(&self, i: &payment_intent::Model) -> Result<IntentView> {
        let plan = repo::plan(&self.commerce.db, i.plan_id)
            .await?
            .ok_or(PaymentError::NotFound)?;
        let p = PlanView::from(&plan);
        Ok(IntentView {
            id: i.id,
            plan: p.code,
            plan_names: p.names,
            amount_dzd: i.amount_dzd,
            currency: i.currency.clone(),
            status: i.status.clone(),
            created_at: at(i.created_at),
            updated_at: at(i.updated_at),
        })
    }

    /// Starts buying `plan_code` online: an intent (amount from the plan), then a checkout at
    /// the provider whose hosted page the browser is sent to. On a timeout the intent becomes
    /// `unknown` (a checkout may exist; the reconciliation finds and settles or expires it).
    ///
    /// # Errors
    /// [`PaymentError::Forbidden`] without `Train` (verified email), `RateLimited`,
    /// `Invalid` (unknown plan, free plan), `PlanWithoutEnd`, `Gateway`, storage.
    pub async fn start_checkout(
        &self,
        actor: &Actor,
        meta: &ClientMeta,
        plan_code: &str,
        locale: &str,
    ) -> Result<Started> {
        if !actor.can(Action::Train) {
            return Err(PaymentError::Forbidden);
        }
        let over = ratelimit::over(
            self.commerce.cache.as_ref(),
            CHECKOUT_ACCOUNT,
            &actor.id.to_string(),
        )
        .await
        .map_err(|e| PaymentError::Store(DbError::Backend(e.to_string())))?;
        if over {
            return Err(PaymentError::RateLimited);
        }
        let db = &self.commerce.db;
        let plan = repo::plan_by_code(db, plan_code)
            .await?
            .ok_or_else(|| invalid("plan", "no plan has this code"))?;
        if plan.is_default || plan.price_dzd <= 0 {
            return Err(invalid("plan", "the free plan needs no payment"));
        }
        let now = self.now_ms();
        if repo::open_subscriptions(db, actor.id, now)
            .await?
            .iter()
            .any(|s| s.ends_at.is_none())
        {
            return Err(PaymentError::PlanWithoutEnd);
        }
        let intent = pay::insert_intent(
            db,
            payment_intent::Model {
                id: Uuid::now_v7(),
                learner_id: actor.id,
                plan_id: plan.id,
                amount_dzd: plan.price_dzd,
                currency: "dzd".into(),
                mode: self.mode.as_str().into(),
                status: status::CREATING.into(),
                checkout_id: None,
                checkout_url: None,
                subscription_id: None,
                note: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        audit::record(
            db,
            self.commerce.clock.as_ref(),
            audit::Event::new("payment.started")
                .actor(actor.id)
                .target(intent.id.to_string())
                .meta(meta)
                .detail(serde_json::json!({"plan": plan.code, "amount_dzd": plan.price_dzd})),
        )
        .await?;
        let names = PlanView::from(&plan).names;
        let return_url = self.url("/billing/return", Some(intent.id));
        let req = CheckoutRequest {
            amount: plan.price_dzd,
            currency: "dzd".into(),
            success_url: return_url.clone(),
            failure_url: return_url,
            webhook_endpoint: self.url("/api/v1/payments/chargily/webhook", None),
            locale: match locale.get(..2) {
                Some(l @ ("ar" | "en" | "fr")) => l.to_owned(),
                _ => "fr".into(),
            },
            description: names.get(locale).to_owned(),
            intent_id: intent.id,
        };
        match self.gateway.create_checkout(&req).await {
            Ok(c) => {
                let url = c.checkout_url.clone().unwrap_or_default();
                let now = self.now_ms();
                pay::set_pending(db, intent.id, &c.id, Some(&url), now).await?;
                let intent = pay::intent(db, intent.id)
                    .await?
                    .ok_or(PaymentError::NotFound)?;
                Ok(Started {
                    intent: self.view(&intent).await?,
                    checkout_url: url,
                })
            }
            Err(e) => {
                // Whatever happened, a checkout may exist: the intent waits for the
                // reconciliation, which finds it by its metadata or expires the intent.
                let note = format!("create checkout: {e}");
                pay::move_status(
                    db,
                    intent.id,
                    &[status::CREATING],
                    status::UNKNOWN,
                    Some(&note),
                    self.now_ms(),
                )
                .await?;
                tracing::warn!(intent = %intent.id, error = %e, "checkout creation failed");
                Err(PaymentError::Gateway(e))
            }
        }
    }

    async fn owned(&self, learner: Uuid, id: Uuid) -> Result<payment_intent::Model> {
        match pay::intent(&self.commerce.db, id).await? {
            Some(i) if i.learner_id == learner => Ok(i),
            _ => Err(PaymentError::NotFound),
        }
    }

    /// The status of the caller's intent (another learner's intent is not found).
    ///
    /// # Errors
    /// [`PaymentError::NotFound`], storage.
    pub async fn intent_status(&self, learner: Uuid, id: Uuid) -> Result<IntentView> {
        let i = self.owned(learner, id).await?;
        self.view(&i).await
    }

    /// Where to send the caller's browser to pay `id`: its checkout page while it is pending.
    ///
    /// # Errors
    /// [`PaymentError::NotFound`] (not the caller's, not pending, no page), storage.
    pub async fn checkout_url(&self, learner: Uuid, id: Uuid) -> Result<String> {
        let i = self.owned(learner, id).await?;
        match (i.status.as_str(), i.checkout_url) {
            (status::PENDING, Some(url)) if !url.is_empty() => Ok(url),
            _ => Err(PaymentError::NotFound),
        }
    }

    /// The caller's last 20 intents, newest first (billing history).
    ///
    /// # Errors
    /// Storage.
    pub async fn my_intents(&self, learner: Uuid) -> Result<Vec<IntentView>> {
        let mut out = Vec::new();
        for i in pay::intents_of(&self.commerce.db, learner, 20).await? {
            out.push(self.view(&i).await?);
        }
        Ok(out)
    }

    /// Handles one webhook delivery from client address `ip`: the per-address limit
    /// ([`WEBHOOK_IP`]), signature (before parsing), event dedupe, fetch-back of the checkout,
    /// then grant, close, quarantine or nothing. Any `Ok` answers 200.
    ///
    /// # Errors
    /// [`PaymentError::RateLimited`] (before any other work), [`PaymentError::TooLarge`], [`PaymentError::BadSignature`] (401),
    /// [`PaymentError::Malformed`] (400), [`PaymentError::Gateway`] when the fetch-back fails
    /// (503: the provider retries), storage.
    pub async fn handle_webhook(
        &self,
        body: &[u8],
        signature: Option<&str>,
        ip: Option<&str>,
    ) -> Result<Outcome> {
        let over = ratelimit::over(
            self.commerce.cache.as_ref(),
            WEBHOOK_IP,
            &ratelimit::client_subject(ip),
        )
        .await
        .map_err(|e| PaymentError::Store(DbError::Backend(e.to_string())))?;
        if over {
            return Err(PaymentError::RateLimited);
        }
        if body.len() > MAX_WEBHOOK_BODY {
            return Err(PaymentError::TooLarge);
        }
        if !self.gateway.verify_signature(body, signature) {
            // Security log: no body, no header value.
            audit::record(
                &self.commerce.db,
                self.commerce.clock.as_ref(),
                audit::Event::new("payment.webhook_rejected").detail(serde_json::json!({
                    "reason": if signature.is_some() { "bad_signature" } else { "no_signature" },
                    "bytes": body.len(),
                })),
            )
            .await?;
            return Err(PaymentError::BadSignature);
        }
        let event = self
            .gateway
            .parse_event(body)
            .map_err(|e| PaymentError::Malformed(e.to_string()))?;
        let db = &self.commerce.db;
        if pay::event_seen(db, &event.id).await? {
            tracing::info!(event = %event.id, "webhook event seen before");
            return Ok(Outcome::Duplicate);
        }
        let row = payment_event::Model {
            event_id: event.id.chars().take(64).collect(),
            checkout_id: event.checkout.as_ref().map(|c| c.id.clone()),
            kind: event.kind.chars().take(64).collect(),
            body_sha256: sha256_hex(body),
            received_at: self.now_ms(),
        };
        let Some(carried) = event.checkout else {
            tracing::info!(event = %event.id, kind = %event.kind, "webhook type ignored");
            pay::record_event(db, &row).await?;
            return Ok(Outcome::Ignored);
        };
        let checkout = self
            .gateway
            .retrieve_checkout(&carried.id)
            .await
            .map_err(PaymentError::Gateway)?;
        let intent = match pay::intent_by_checkout(db, &checkout.id).await? {
            Some(i) => Some(i),
            // A checkout whose create call timed out: the intent does not know its id yet.
            None => match checkout.intent_id.as_deref().map(Uuid::parse_str) {
                Some(Ok(id)) => pay::intent(db, id)
                    .await?
                    .filter(|i| i.checkout_id.is_none()),
                _ => None,
            },
        };
        let Some(intent) = intent else {
            if pay::record_event(db, &row).await? {
                audit::record(
                    db,
                    self.commerce.clock.as_ref(),
                    audit::Event::new("payment.unmatched")
                        .target(checkout.id.clone())
                        .detail(serde_json::json!({"event": row.event_id, "kind": row.kind})),
                )
                .await?;
            }
            tracing::warn!(checkout = %checkout.id, "webhook for a checkout of no intent");
            return Ok(Outcome::Unmatched);
        };
        self.settle(&intent, &checkout, Some((&row, event.livemode)))
            .await
    }

    /// What disagrees between the provider's checkout and our intent.
    fn mismatches(
        &self,
        intent: &payment_intent::Model,
        c: &Checkout,
        event_livemode: Option<bool>,
    ) -> Vec<&'static str> {
        let mut out = Vec::new();
        if c.amount != intent.amount_dzd {
            out.push("amount");
        }
        if c.currency != "dzd" || c.currency != intent.currency {
            out.push("currency");
        }
        if !self.mode.matches(c.livemode) || event_livemode.is_some_and(|l| !self.mode.matches(l)) {
            out.push("livemode");
        }
        if c.intent_id.as_deref() != Some(intent.id.to_string().as_str()) {
            out.push("intent_id");
        }
        if intent.checkout_id.as_deref().is_some_and(|id| id != c.id) {
            out.push("checkout_id");
        }
        out
    }

    /// Applies the provider's checkout to the intent. `event` is the webhook's row (recorded in
    /// the same transaction as the move) and its `livemode`.
    async fn settle(
        &self,
        intent: &payment_intent::Model,
        checkout: &Checkout,
        event: Option<(&payment_event::Model, bool)>,
    ) -> Result<Outcome> {
        let closed_to = match checkout.status {
            CheckoutStatus::Paid => None,
            CheckoutStatus::Failed => Some(status::FAILED),
            CheckoutStatus::Canceled => Some(status::CANCELED),
            CheckoutStatus::Expired => Some(status::EXPIRED),
            CheckoutStatus::Pending | CheckoutStatus::Processing | CheckoutStatus::Other(_) => {
                return Ok(Outcome::NotYet);
            }
        };
        let misses = self.mismatches(intent, checkout, event.map(|e| e.1));
        let db = &self.commerce.db;
        let now = self.now_ms();
        let txn = myqcm_db::begin_write(db).await?;
        if let Some((row, _)) = event
            && !pay::record_event(&txn, row).await?
        {
            return Ok(Outcome::Duplicate);
        }
        // A checkout found by its metadata: remember its id (the intent leaves `unknown`).
        if intent.checkout_id.is_none() && misses.is_empty() {
            pay::set_pending(&txn, intent.id, &checkout.id, None, now).await?;
        }
        let outcome = if !misses.is_empty() && closed_to.is_none() {
            self.quarantine(&txn, intent, checkout, &misses.join(","), now)
                .await?
        } else if let Some(to) = closed_to {
            let note = format!("provider status {to}");
            if pay::move_status(&txn, intent.id, status::OPEN, to, Some(&note), now).await? {
                Outcome::Closed
            } else {
                tracing::info!(intent = %intent.id, to, "late status for a settled intent");
                Outcome::NoChange
            }
        } else {
            self.grant(&txn, intent, checkout, now).await?
        };
        txn.commit().await?;
        if outcome == Outcome::Granted {
            self.commerce.entitlements.invalidate(intent.learner_id);
        }
        Ok(outcome)
    }

    async fn quarantine(
        &self,
        txn: &myqcm_db::DatabaseTransaction,
        intent: &payment_intent::Model,
        checkout: &Checkout,
        why: &str,
        now: i64,
    ) -> Result<Outcome> {
        let note = format!("mismatch: {why}");
        if !pay::move_status(
            txn,
            intent.id,
            status::OPEN,
            status::QUARANTINED,
            Some(&note),
            now,
        )
        .await?
        {
            return Ok(Outcome::NoChange);
        }
        tracing::error!(
            intent = %intent.id,
            checkout = %checkout.id,
            mismatch = why,
            "payment quarantined: the provider's checkout disagrees with the intent"
        );
        audit::record(
            txn,
            self.commerce.clock.as_ref(),
            audit::Event::new("payment.quarantined")
                .actor(intent.learner_id)
                .target(intent.id.to_string())
                .detail(serde_json::json!({
                    "checkout": checkout.id,
                    "mismatch": why,
                    "amount": checkout.amount,
                    "expected_amount": intent.amount_dzd,
                })),
        )
        .await?;
        Ok(Outcome::Quarantined)
    }

    async fn grant(
        &self,
        txn: &myqcm_db::DatabaseTransaction,
        intent: &payment_intent::Model,
        checkout: &Checkout,
        now: i64,
    ) -> Result<Outcome> {
        let sub_id = Uuid::now_v7();
        // The conditional move first: of racing deliveries one passes, the others stop here.
        if !pay::mark_paid(txn, intent.id, sub_id, now).await? {
            // Paid at the provider for an intent expired here (its account was erased, or it
            // outlived its checkout): money taken, nothing to grant; staff refund it.
            let note = "paid after the intent expired";
            if pay::move_status(
                txn,
                intent.id,
                &[status::EXPIRED],
                status::QUARANTINED,
                Some(note),
                now,
            )
            .await?
            {
                return self
                    .quarantine_audit(txn, intent, checkout, "paid_after_expiry")
                    .await;
            }
            return Ok(Outcome::NoChange);
        }
        let plan = repo::plan(txn, intent.plan_id)
            .await?
            .ok_or(PaymentError::NotFound)?;
        let (starts_at, ends_at) = match self
            .commerce
            .schedule(txn, intent.learner_id, &plan, now)
            .await
        {
            Ok(span) => span,
            // Paid while holding a plan that never ends (bought elsewhere meanwhile): nothing
            // can be added; staff refund it.
            Err(CommerceError::PlanWithoutEnd) => {
                pay::move_status(
                    txn,
                    intent.id,
                    &[status::PAID],
                    status::QUARANTINED,
                    Some("paid while a plan without end is in force"),
                    now,
                )
                .await?;
                return self
                    .quarantine_audit(txn, intent, checkout, "plan_without_end")
                    .await;
            }
            Err(e) => return Err(e.into()),
        };
        repo::insert_subscription(
            txn,
            subscription::Model {
                id: sub_id,
                learner_id: intent.learner_id,
                plan_id: plan.id,
                starts_at,
                ends_at,
                source: "chargily".into(),
                card_id: None,
                created_at: now,
            },
        )
        .await?;
        audit::record(
            txn,
            self.commerce.clock.as_ref(),
            audit::Event::new("payment.paid")
                .actor(intent.learner_id)
                .target(intent.id.to_string())
                .detail(serde_json::json!({
                    "plan": plan.code,
                    "amount_dzd": intent.amount_dzd,
                    "checkout": checkout.id,
                    "subscription": sub_id,
                })),
        )
        .await?;
        tracing::info!(intent = %intent.id, plan = %plan.code, "payment granted");
        Ok(Outcome::Granted)
    }

    async fn quarantine_audit(
        &self,
        txn: &myqcm_db::DatabaseTransaction,
        intent: &payment_intent::Model,
        checkout: &Checkout,
        why: &str,
    ) -> Result<Outcome> {
        tracing::error!(intent = %intent.id, checkout = %checkout.id, why, "payment quarantined");
        audit::record(
            txn,
            self.commerce.clock.as_ref(),
            audit::Event::new("payment.quarantined")
                .actor(intent.learner_id)
                .target(intent.id.to_string())
                .detail(serde_json::json!({"checkout": checkout.id, "mismatch": why})),
        )
        .await?;
        Ok(Outcome::Quarantined)
    }

    /// One reconciliation run: each open intent untouched for [`RECONCILE_AFTER_MS`] is
    /// re-read from the provider (found by its metadata when its create call timed out) and
    /// settled like a webhook would; one still unpaid [`CHECKOUT_VALIDITY_MS`] after it was
    /// made is expired at the provider, then here. Provider errors leave it for the next run.
    ///
    /// # Errors
    /// Storage.
    pub async fn reconcile(&self) -> Result<ReconcileReport> {
        let db = &self.commerce.db;
        let now = self.now_ms();
        let mut report = ReconcileReport::default();
        for intent in
            pay::open_intents_before(db, now - RECONCILE_AFTER_MS, RECONCILE_BATCH).await?
        {
            report.looked_at += 1;
            let outcome = match self.reconcile_one(&intent, now).await {
                Ok(o) => o,
                Err(PaymentError::Gateway(e)) => {
                    tracing::warn!(intent = %intent.id, error = %e, "reconciliation: provider error");
                    report.errors += 1;
                    pay::touch(db, intent.id, now).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match outcome {
                Outcome::Granted => report.granted += 1,
                Outcome::Closed => report.closed += 1,
                Outcome::Quarantined => report.quarantined += 1,
                _ => pay::touch(db, intent.id, now).await?,
            }
        }
        if report.looked_at > 0 {
            tracing::info!(?report, "payments reconciled");
        }
        Ok(report)
    }

    async fn reconcile_one(&self, intent: &payment_intent::Model, now: i64) -> Result<Outcome> {
        let db = &self.commerce.db;
        let stale = now - intent.created_at >= CHECKOUT_VALIDITY_MS;
        let checkout = match &intent.checkout_id {
            Some(id) => self.gateway.retrieve_checkout(id).await,
            None => match self.gateway.find_checkout(intent.id).await {
                Ok(Some(c)) => {
                    // Remember it (the intent leaves `unknown`); the metadata named it.
                    if c.intent_id.as_deref() == Some(intent.id.to_string().as_str()) {
                        pay::set_pending(db, intent.id, &c.id, c.checkout_url.as_deref(), now)
                            .await?;
                    }
                    Ok(c)
                }
                Ok(None) if stale => {
                    // No checkout was ever made for it: nobody can pay it.
                    let moved = pay::move_status(
                        db,
                        intent.id,
                        status::OPEN,
                        status::EXPIRED,
                        Some("no checkout at the provider"),
                        now,
                    )
                    .await?;
                    return Ok(if moved {
                        Outcome::Closed
                    } else {
                        Outcome::NoChange
                    });
                }
                Ok(None) => return Ok(Outcome::NotYet),
                Err(e) => Err(e),
            },
        }
        .map_err(PaymentError::Gateway)?;
        let outcome = self.settle(intent, &checkout, None).await?;
        if outcome != Outcome::NotYet || !stale {
            return Ok(outcome);
        }
        // Unpaid for too long: expire it at the provider first, so it cannot be paid later,
        // then settle with what the provider says now (it may have been paid meanwhile).
        let after = self
            .gateway
            .expire_checkout(&checkout.id)
            .await
            .map_err(PaymentError::Gateway)?;
        let intent = pay::intent(db, intent.id)
            .await?
            .ok_or(PaymentError::NotFound)?;
        self.settle(&intent, &after, None).await
    }
}
