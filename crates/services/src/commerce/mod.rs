//! Commerce, first slice (issue 14): plans and their quotas, learners' subscriptions, the
//! plan-backed entitlements the answer transaction calls ([`entitlements`]), and prepaid
//! activation cards ([`cards`]). Rules and numbers: `docs/COMMERCE.md`.
//!
//! Authorisation lives here: plan management and card batches need `FinanceManage` (admin
//! scopes `finance` or `super`) with TOTP enrolled; redeeming a card needs `Train` (a learner
//! with a verified email); so does buying a plan online ([`payments`], Chargily Pay v2).

pub mod cards;
pub mod entitlements;
pub mod ledger;
pub mod payments;
pub mod privacy;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use myqcm_db::commerce::{self as repo, plan};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::entitlements::{Allowance, Feature};
use myqcm_domain::permissions::{Action, allowed};
use myqcm_domain::ports::Cache;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::identity::ClientMeta;
use crate::identity::audit;
pub use entitlements::PlanEntitlements;

/// Why a commerce use case failed.
#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    /// No such plan or batch.
    #[error("not found")]
    NotFound,
    /// The caller lacks the permission.
    #[error("forbidden")]
    Forbidden,
    /// Staff without TOTP enrolment.
    #[error("two-step verification must be set up first")]
    MfaEnrolmentRequired,
    /// A change from the admin console needs a recent password and TOTP proof.
    #[error("confirm your password and code first")]
    StepUpRequired,
    /// A field is invalid.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A plan code is taken, a batch already revoked.
    #[error("{0}")]
    Conflict(String),
    /// Too many redemption attempts from this account or address.
    #[error("too many attempts")]
    RateLimited,
    /// The code is malformed, unknown or from a revoked batch (one answer, so guessing learns
    /// nothing about which).
    #[error("invalid card code")]
    CardInvalid,
    /// The card was redeemed already.
    #[error("card already redeemed")]
    CardUsed,
    /// The card's batch expired.
    #[error("card expired")]
    CardExpired,
    /// The learner holds a plan without end: a card cannot add to it.
    #[error("the current plan never ends")]
    PlanWithoutEnd,
    /// Storage failure.
    #[error(transparent)]
    Store(DbError),
}

impl From<DbError> for CommerceError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            DbError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            other => Self::Store(other),
        }
    }
}

impl From<sea_orm::DbErr> for CommerceError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

/// Result alias.
pub type Result<T, E = CommerceError> = std::result::Result<T, E>;

fn invalid(field: &'static str, message: impl Into<String>) -> CommerceError {
    CommerceError::Invalid {
        field,
        message: message.into(),
    }
}

/// The commerce use cases and their shared state (the entitlement cache, the card key).
/// Cheap to clone.
#[derive(Clone)]
pub struct Commerce {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    cache: Arc<dyn Cache>,
    entitlements: PlanEntitlements,
    card_key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Commerce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Commerce")
    }
}

/// Names of a plan in the three languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanNames {
    /// French.
    pub fr: String,
    /// English.
    pub en: String,
    /// Arabic.
    pub ar: String,
}

impl PlanNames {
    /// The name in `lang` (French for anything else).
    pub fn get(&self, lang: &str) -> &str {
        match lang.get(..2) {
            Some("ar") => &self.ar,
            Some("en") => &self.en,
            _ => &self.fr,
        }
    }
}

/// A plan as the API shows it. Quotas: `null` means unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlanView {
    /// Stable code, e.g. `free`, `premium-month`.
    pub code: String,
    /// Names (fr, en, ar).
    pub names: PlanNames,
    /// Price in whole Algerian dinars.
    pub price_dzd: i64,
    /// Days a subscription lasts; `null`: it never ends.
    pub duration_days: Option<i32>,
    /// Graded QCS/QCM answers per Algerian day.
    pub mcq_per_day: Option<i32>,
    /// Graded QCS/QCM answers per Algerian calendar month.
    pub mcq_per_month: Option<i32>,
    /// Graded QROC answers per Algerian day.
    pub qroc_per_day: Option<i32>,
    /// Graded QROC answers per Algerian calendar month.
    pub qroc_per_month: Option<i32>,
    /// Explanations shown after an attempt.
    pub explanations: bool,
    /// Clinical cases included (sessions of learners without them serve none).
    pub clinical_cases: bool,
    /// QROC grading assistance: a QROC answer the tolerant match is unsure about is judged by
    /// the language model (when one is configured) instead of being marked wrong.
    pub ai_grading: bool,
    /// Devices (recorded; enforced by a later slice, alongside the sign-in session cap).
    pub devices: i32,
    /// The free plan everyone without a subscription is on.
    pub is_default: bool,
    /// Shown on `/plans`.
    pub listed: bool,
    /// Order on `/plans`.
    pub sort_order: i32,
}

impl From<&plan::Model> for PlanView {
    fn from(p: &plan::Model) -> Self {
        Self {
            code: p.code.clone(),
            names: serde_json::from_str(&p.names).unwrap_or(PlanNames {
                fr: p.code.clone(),
                en: p.code.clone(),
                ar: p.code.clone(),
            }),
            price_dzd: p.price_dzd,
            duration_days: p.duration_days,
            mcq_per_day: p.mcq_per_day,
            mcq_per_month: p.mcq_per_month,
            qroc_per_day: p.qroc_per_day,
            qroc_per_month: p.qroc_per_month,
            explanations: p.explanations,
            clinical_cases: p.clinical_cases,
            ai_grading: p.ai_grading,
            devices: p.devices,
            is_default: p.is_default,
            listed: p.listed,
            sort_order: p.sort_order,
        }
    }
}

/// A plan as an administrator writes it (create, or replace by code).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Stable code: 1–32 of `a-z`, `0-9`, `-` (ignored on replace).
    pub code: String,
    /// Names (fr, en, ar), 1–80 characters each.
    pub names: PlanNames,
    /// Price in whole dinars (0–10 000 000).
    pub price_dzd: i64,
    /// 1–3660 days; `null`: never ends.
    #[serde(default)]
    pub duration_days: Option<i32>,
    /// `null`: unlimited (0–1 000 000).
    #[serde(default)]
    pub mcq_per_day: Option<i32>,
    /// `null`: unlimited.
    #[serde(default)]
    pub mcq_per_month: Option<i32>,
    /// `null`: unlimited.
    #[serde(default)]
    pub qroc_per_day: Option<i32>,
    /// `null`: unlimited.
    #[serde(default)]
    pub qroc_per_month: Option<i32>,
    /// Explanations after an attempt.
    pub explanations: bool,
    /// Clinical cases included.
    #[serde(default)]
    pub clinical_cases: bool,
    /// QROC grading assistance included.
    #[serde(default)]
    pub ai_grading: bool,
    /// Devices, 1–10.
    #[serde(default = "one")]
    pub devices: i32,
    /// Shown on `/plans` (default true).
    #[serde(default = "yes")]
    pub listed: bool,
    /// Order on `/plans`.
    #[serde(default)]
    pub sort_order: i32,
}

fn one() -> i32 {
    1
}

fn yes() -> bool {
    true
}

fn check_code(code: &str) -> Result<()> {
    if code.is_empty()
        || code.len() > 32
        || !code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid("code", "1–32 characters among a-z, 0-9 and -"));
    }
    Ok(())
}

impl PlanInput {
    fn validate(&self) -> Result<()> {
        check_code(&self.code)?;
        for (field, v) in [
            ("names.fr", &self.names.fr),
            ("names.en", &self.names.en),
            ("names.ar", &self.names.ar),
        ] {
            let n = v.trim().chars().count();
            if n == 0 || n > 80 {
                return Err(invalid(field, "1–80 characters"));
            }
        }
        if !(0..=10_000_000).contains(&self.price_dzd) {
            return Err(invalid("price_dzd", "0 to 10 000 000 dinars"));
        }
        if self.duration_days.is_some_and(|d| !(1..=3660).contains(&d)) {
            return Err(invalid(
                "duration_days",
                "1 to 3660 days, or null for no end",
            ));
        }
        for (field, v) in [
            ("mcq_per_day", self.mcq_per_day),
            ("mcq_per_month", self.mcq_per_month),
            ("qroc_per_day", self.qroc_per_day),
            ("qroc_per_month", self.qroc_per_month),
        ] {
            if v.is_some_and(|q| !(0..=1_000_000).contains(&q)) {
                return Err(invalid(field, "0 to 1 000 000, or null for unlimited"));
            }
        }
        if !(1..=10).contains(&self.devices) {
            return Err(invalid("devices", "1 to 10"));
        }
        Ok(())
    }

    fn apply(&self, m: &mut plan::Model) -> Result<()> {
        m.names = serde_json::to_string(&PlanNames {
            fr: self.names.fr.trim().to_owned(),
            en: self.names.en.trim().to_owned(),
            ar: self.names.ar.trim().to_owned(),
        })
        .map_err(|e| CommerceError::Store(DbError::Backend(e.to_string())))?;
        m.price_dzd = self.price_dzd;
        m.duration_days = self.duration_days;
        m.mcq_per_day = self.mcq_per_day;
        m.mcq_per_month = self.mcq_per_month;
        m.qroc_per_day = self.qroc_per_day;
        m.qroc_per_month = self.qroc_per_month;
        m.explanations = self.explanations;
        m.clinical_cases = self.clinical_cases;
        m.ai_grading = self.ai_grading;
        m.devices = self.devices;
        m.listed = self.listed;
        m.sort_order = self.sort_order;
        Ok(())
    }
}

/// What is left of one answer feature.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AllowanceView {
    /// `mcq_answer` or `qroc_answer`.
    pub feature: String,
    /// Uses left in the binding window; `null`: unlimited.
    pub remaining: Option<u64>,
    /// When an exhausted window starts afresh.
    pub resets_at: Option<DateTime<Utc>>,
}

/// A learner's plan in force.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The plan.
    pub plan: PlanView,
    /// Start of the subscription (`null` on the free plan).
    pub starts_at: Option<DateTime<Utc>>,
    /// End of the subscription; `null`: it never ends (or the free plan).
    pub ends_at: Option<DateTime<Utc>>,
    /// How it was obtained: `card`, or `default` on the free plan.
    pub source: String,
    /// Renewals already paid for that start later (their ends), in order.
    pub queued_until: Option<DateTime<Utc>>,
    /// What is left today and this month.
    pub allowances: Vec<AllowanceView>,
}

pub(crate) fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Staff who manage plans and cards: the permission, then TOTP enrolment.
pub fn require_finance(actor: &Actor) -> Result<()> {
    if !allowed(&actor.roles, &actor.scopes, Action::FinanceManage) {
        Err(CommerceError::Forbidden)
    } else if !actor.mfa_enrolled {
        Err(CommerceError::MfaEnrolmentRequired)
    } else {
        Ok(())
    }
}

/// Staff changing plans or cards from the admin console: the permission, TOTP enrolment, then
/// a recent step-up (`recent_mfa`: the session holds a password and TOTP proof within the
/// step-up window, as `myqcm_services::identity::flows::recent_mfa` says).
///
/// # Errors
/// [`CommerceError::Forbidden`], [`CommerceError::MfaEnrolmentRequired`],
/// [`CommerceError::StepUpRequired`].
pub fn require_step_up(actor: &Actor, recent_mfa: bool) -> Result<()> {
    require_finance(actor)?;
    if recent_mfa {
        Ok(())
    } else {
        Err(CommerceError::StepUpRequired)
    }
}

impl Commerce {
    /// The use cases over `db`; `card_key` is the activation-card HMAC key derived from
    /// `MYQCM_SECRET_KEY`; `cache` holds the redemption rate limits.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        cache: Arc<dyn Cache>,
        card_key: [u8; 32],
    ) -> Self {
        Self {
            entitlements: PlanEntitlements::new(db.clone(), clock.clone()),
            db,
            clock,
            cache,
            card_key: Arc::new(card_key),
        }
    }

    /// The entitlements the training use cases consume through.
    pub fn entitlements(&self) -> PlanEntitlements {
        self.entitlements.clone()
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// The plans learners may choose (listed), in display order.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn listed_plans(&self) -> Result<Vec<PlanView>> {
        Ok(repo::plans(&self.db)
            .await?
            .iter()
            .filter(|p| p.listed)
            .map(PlanView::from)
            .collect())
    }

    /// Every plan (staff).
    ///
    /// # Errors
    /// [`CommerceError::Forbidden`], [`CommerceError::MfaEnrolmentRequired`], storage.
    pub async fn plans(&self, actor: &Actor) -> Result<Vec<PlanView>> {
        require_finance(actor)?;
        Ok(repo::plans(&self.db)
            .await?
            .iter()
            .map(PlanView::from)
            .collect())
    }

    /// Creates a plan (never the default one: the free plan is seeded). Audited.
    ///
    /// # Errors
    /// Permission, [`CommerceError::Invalid`], [`CommerceError::Conflict`] on a taken code.
    pub async fn create_plan(
        &self,
        actor: &Actor,
        meta: &ClientMeta,
        input: PlanInput,
    ) -> Result<PlanView> {
        require_finance(actor)?;
        input.validate()?;
        let now = self.now_ms();
        let mut m = plan::Model {
            id: Uuid::now_v7(),
            code: input.code.clone(),
            names: String::new(),
            price_dzd: 0,
            duration_days: None,
            mcq_per_day: None,
            mcq_per_month: None,
            qroc_per_day: None,
            qroc_per_month: None,
            explanations: false,
            clinical_cases: false,
            ai_grading: false,
            devices: 1,
            is_default: false,
            listed: true,
            sort_order: 0,
            created_at: now,
            updated_at: now,
        };
        input.apply(&mut m)?;
        let txn = myqcm_db::begin_write(&self.db).await?;
        let m = repo::insert_plan(&txn, m).await?;
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new("plan.created")
                .actor(actor.id)
                .target(m.code.clone())
                .meta(meta)
                .detail(serde_json::json!(PlanView::from(&m))),
        )
        .await?;
        txn.commit().await?;
        Ok(PlanView::from(&m))
    }

    /// Replaces the plan `code`'s names, price, duration and quotas (the code and the default
    /// flag stay). Subscriptions keep their dates; the new quotas apply from the next answer.
    /// Audited.
    ///
    /// # Errors
    /// Permission, [`CommerceError::NotFound`], [`CommerceError::Invalid`].
    pub async fn update_plan(
        &self,
        actor: &Actor,
        meta: &ClientMeta,
        code: &str,
        mut input: PlanInput,
    ) -> Result<PlanView> {
        require_finance(actor)?;
        code.clone_into(&mut input.code);
        input.validate()?;
        let txn = myqcm_db::begin_write(&self.db).await?;
        let mut m = repo::plan_by_code(&txn, code)
            .await?
            .ok_or(CommerceError::NotFound)?;
        if m.is_default && input.duration_days.is_some() {
            return Err(invalid("duration_days", "the free plan never ends"));
        }
        input.apply(&mut m)?;
        m.updated_at = self.now_ms();
        let m = repo::update_plan(&txn, m).await?;
        audit::record(
            &txn,
            self.clock.as_ref(),
            audit::Event::new("plan.updated")
                .actor(actor.id)
                .target(m.code.clone())
                .meta(meta)
                .detail(serde_json::json!(PlanView::from(&m))),
        )
        .await?;
        txn.commit().await?;
        self.entitlements.invalidate_all();
        Ok(PlanView::from(&m))
    }

    /// The caller's plan in force, its dates and what is left of it.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn my_subscription(&self, learner: Uuid) -> Result<SubscriptionView> {
        let now = self.now_ms();
        let (plan, sub, _) = entitlements::plan_in_force(&self.db, learner, now).await?;
        let queued_until = repo::open_subscriptions(&self.db, learner, now)
            .await?
            .iter()
            .filter(|s| s.starts_at > now)
            .filter_map(|s| s.ends_at)
            .max()
            .map(at);
        let mut allowances = Vec::new();
        for feature in [Feature::McqAnswer, Feature::QrocAnswer] {
            let (allowance, resets_at) = self
                .entitlements
                .status(learner, feature)
                .await
                .map_err(|e| CommerceError::Store(DbError::Backend(e.to_string())))?;
            allowances.push(AllowanceView {
                feature: feature.as_str().into(),
                remaining: match allowance {
                    Allowance::Unlimited => None,
                    Allowance::Remaining(n) => Some(n),
                    Allowance::Denied => Some(0),
                },
                resets_at,
            });
        }
        Ok(SubscriptionView {
            plan: PlanView::from(&plan),
            starts_at: sub.as_ref().map(|s| at(s.starts_at)),
            ends_at: sub.as_ref().and_then(|s| s.ends_at).map(at),
            source: sub.map_or_else(|| "default".into(), |s| s.source),
            queued_until,
            allowances,
        })
    }
}

/// A webhook event as the admin console shows it (no body: only its digest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminEventView {
    /// The provider's event id.
    pub event_id: String,
    /// Its type.
    pub kind: String,
    /// Received.
    pub received_at: DateTime<Utc>,
}

/// A payment intent as the admin console shows it: no hosted-page address, no key, no body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminIntentView {
    /// Intent id.
    pub id: Uuid,
    /// The learner (account id).
    pub learner_id: Uuid,
    /// Plan code.
    pub plan: String,
    /// Whole dinars.
    pub amount_dzd: i64,
    /// `dzd`.
    pub currency: String,
    /// `test` or `live`.
    pub mode: String,
    /// `creating`, `pending`, `unknown`, `paid`, `failed`, `canceled`, `expired`,
    /// `quarantined`.
    pub status: String,
    /// The provider's checkout id.
    pub checkout_id: Option<String>,
    /// Why it was quarantined or how it settled.
    pub note: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Webhook events received about its checkout, oldest first.
    pub events: Vec<AdminEventView>,
}

/// The statuses the admin payments page filters by.
pub const INTENT_STATUSES: [&str; 8] = [
    "pending",
    "unknown",
    "creating",
    "quarantined",
    "paid",
    "failed",
    "canceled",
    "expired",
];

impl Commerce {
    /// The 200 newest payment intents (of one `status`, when it is one of
    /// [`INTENT_STATUSES`]) with the webhook events of their checkouts (finance staff).
    ///
    /// # Errors
    /// Permission, storage.
    pub async fn payment_intents(
        &self,
        actor: &Actor,
        status: Option<&str>,
    ) -> Result<Vec<AdminIntentView>> {
        use myqcm_db::commerce::payments as pay;
        require_finance(actor)?;
        let status = status.filter(|s| INTENT_STATUSES.contains(s));
        let plans = plan_codes(&self.db).await?;
        let intents = pay::recent_intents(&self.db, status, 200).await?;
        let checkouts = intents
            .iter()
            .filter_map(|i| i.checkout_id.clone())
            .collect();
        let events = pay::events_of_checkouts(&self.db, checkouts).await?;
        Ok(intents
            .into_iter()
            .map(|i| AdminIntentView {
                events: events
                    .iter()
                    .filter(|e| e.checkout_id.is_some() && e.checkout_id == i.checkout_id)
                    .map(|e| AdminEventView {
                        event_id: e.event_id.clone(),
                        kind: e.kind.clone(),
                        received_at: at(e.received_at),
                    })
                    .collect(),
                id: i.id,
                learner_id: i.learner_id,
                plan: plans.get(&i.plan_id).cloned().unwrap_or_default(),
                amount_dzd: i.amount_dzd,
                currency: i.currency,
                mode: i.mode,
                status: i.status,
                checkout_id: i.checkout_id,
                note: i.note,
                created_at: at(i.created_at),
                updated_at: at(i.updated_at),
            })
            .collect())
    }

    /// One plan by code (finance staff, for the edit form).
    ///
    /// # Errors
    /// Permission, [`CommerceError::NotFound`], storage.
    pub async fn plan(&self, actor: &Actor, code: &str) -> Result<PlanView> {
        require_finance(actor)?;
        repo::plan_by_code(&self.db, code)
            .await?
            .map(|p| PlanView::from(&p))
            .ok_or(CommerceError::NotFound)
    }
}

/// Plans by id (for batch listings).
pub(crate) async fn plan_codes(db: &DatabaseConnection) -> Result<BTreeMap<Uuid, String>> {
    Ok(repo::plans(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.code))
        .collect())
}
