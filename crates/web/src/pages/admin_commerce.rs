//! The commerce admin console, for finance staff (admin scopes `finance` or `super`, TOTP
//! enrolled): `/admin/plans` (every plan; create and edit names, price, duration — empty for
//! no end —, quotas by window — empty for unlimited —, devices and the active flag),
//! `/admin/cards` (card batches with used and unused counts; mint a batch, whose codes are
//! shown this once with their printing CSV as a download; revoke a batch) and
//! `/admin/payments` (payment intents by status with the webhook events of their checkouts; no
//! hosted-page address, no key, no body). Changes need a recent step-up (`/admin/step-up`) and
//! are audited by the use cases (`myqcm_services::commerce`), like the JSON API's. Staff
//! without two-step sign-in get the enrolment page; everyone else gets 403. Every response is
//! `noindex` and `Cache-Control: no-store, private`; every form works without JavaScript.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_services::commerce::cards::{BatchView, MintInput, Minted, printing_csv};
use myqcm_services::commerce::{
    AdminIntentView, CommerceError, INTENT_STATUSES, PlanInput, PlanNames, PlanView,
    require_step_up,
};
use myqcm_services::identity::flows;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use uuid::Uuid;

use super::author::{StaffRefusal, staff_headers, staff_refusal as refusal};
use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::input::PageForm;
use crate::{AppState, WebError};

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/plans", get(plans_list).post(create_plan))
        .route("/admin/plans/{code}", get(plan_page).post(update_plan))
        .route("/admin/cards", get(cards_list).post(mint))
        .route("/admin/cards/{id}/revoke", post(revoke))
        .route("/admin/payments", get(payments_list))
        .layer(axum::middleware::map_response(staff_headers))
}

impl StaffRefusal for CommerceError {
    fn enrolment_required(&self) -> bool {
        matches!(self, Self::MfaEnrolmentRequired)
    }
}

/// The step-up link back to `here`.
fn step_up_href(here: &str) -> String {
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    format!("/admin/step-up?next={next}")
}

/// Whether the viewer's session holds a recent password and TOTP proof.
fn stepped_up(s: &AppState, ctx: &PageContext) -> bool {
    ctx.viewer
        .as_ref()
        .is_some_and(|v| flows::recent_mfa(&s.deps(), v.user.principal()))
}

// ---------------------------------------------------------------------------------------------
// Plans

#[derive(Template)]
#[template(path = "admin/plans.html")]
struct PlansPage {
    ctx: PageContext,
    plans: Vec<PlanView>,
    stepped_up: bool,
    form: Form,
}

impl PlansPage {
    fn step_up_href(&self) -> String {
        step_up_href("/admin/plans")
    }

    fn name(&self, p: &PlanView) -> String {
        p.names.get(self.ctx.lang()).to_owned()
    }
}

/// A quota or duration as shown: the number, or "unlimited".
fn limit(ctx: &PageContext, v: Option<i32>) -> String {
    v.map_or_else(|| ctx.t("admin-plans-unlimited"), |n| n.to_string())
}

impl PlansPage {
    fn limit(&self, v: &Option<i32>) -> String {
        limit(&self.ctx, *v)
    }
}

async fn plans_with(s: &AppState, ctx: PageContext, form: Form) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/plans"));
    };
    let plans = match s.services.commerce.plans(&v.user.actor()).await {
        Ok(p) => p,
        Err(e) => return refusal(&ctx, e),
    };
    let stepped_up = stepped_up(s, &ctx);
    let code = form.status();
    let html = render(&PlansPage {
        ctx,
        plans,
        stepped_up,
        form: if form.failed() {
            form
        } else {
            form.with("devices", "1").with("listed", "on")
        },
    })?;
    Ok(page(code, html))
}

/// `GET /admin/plans`: every plan and the form to create one.
pub async fn plans_list(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    plans_with(&s, ctx, Form::new()).await
}

/// The plan form as sent: numbers as typed (empty quota or duration: unlimited).
#[derive(Debug, Default, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    code: String,
    #[serde(default, rename = "names.fr")]
    name_fr: String,
    #[serde(default, rename = "names.en")]
    name_en: String,
    #[serde(default, rename = "names.ar")]
    name_ar: String,
    #[serde(default)]
    price_dzd: String,
    #[serde(default)]
    duration_days: String,
    #[serde(default)]
    mcq_per_day: String,
    #[serde(default)]
    mcq_per_month: String,
    #[serde(default)]
    qroc_per_day: String,
    #[serde(default)]
    qroc_per_month: String,
    #[serde(default)]
    explanations: Option<String>,
    #[serde(default)]
    clinical_cases: Option<String>,
    #[serde(default)]
    ai_grading: Option<String>,
    #[serde(default)]
    devices: String,
    #[serde(default)]
    listed: Option<String>,
    #[serde(default)]
    sort_order: String,
}

impl PlanForm {
    /// The typed values, to show again after a refusal.
    fn kept(&self) -> Form {
        let flag = |b: &Option<String>| if b.is_some() { "on" } else { "" };
        Form::new()
            .with("code", &self.code)
            .with("names.fr", &self.name_fr)
            .with("names.en", &self.name_en)
            .with("names.ar", &self.name_ar)
            .with("price_dzd", &self.price_dzd)
            .with("duration_days", &self.duration_days)
            .with("mcq_per_day", &self.mcq_per_day)
            .with("mcq_per_month", &self.mcq_per_month)
            .with("qroc_per_day", &self.qroc_per_day)
            .with("qroc_per_month", &self.qroc_per_month)
            .with("explanations", flag(&self.explanations))
            .with("clinical_cases", flag(&self.clinical_cases))
            .with("ai_grading", flag(&self.ai_grading))
            .with("devices", &self.devices)
            .with("listed", flag(&self.listed))
            .with("sort_order", &self.sort_order)
    }

    /// The use case's input, or the first field that is not a whole number.
    fn input(&self) -> Result<PlanInput, &'static str> {
        fn opt(v: &str, field: &'static str) -> Result<Option<i32>, &'static str> {
            let v = v.trim();
            if v.is_empty() {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| field)
            }
        }
        let num = |v: &str, field: &'static str, empty: i32| -> Result<i32, &'static str> {
            opt(v, field).map(|n| n.unwrap_or(empty))
        };
        let price = self.price_dzd.trim();
        Ok(PlanInput {
            code: self.code.trim().to_owned(),
            names: PlanNames {
                fr: self.name_fr.clone(),
                en: self.name_en.clone(),
                ar: self.name_ar.clone(),
            },
            price_dzd: price.parse().map_err(|_| "price_dzd")?,
            duration_days: opt(&self.duration_days, "duration_days")?,
            mcq_per_day: opt(&self.mcq_per_day, "mcq_per_day")?,
            mcq_per_month: opt(&self.mcq_per_month, "mcq_per_month")?,
            qroc_per_day: opt(&self.qroc_per_day, "qroc_per_day")?,
            qroc_per_month: opt(&self.qroc_per_month, "qroc_per_month")?,
            explanations: self.explanations.is_some(),
            clinical_cases: self.clinical_cases.is_some(),
            ai_grading: self.ai_grading.is_some(),
            devices: num(&self.devices, "devices", 1)?,
            listed: self.listed.is_some(),
            sort_order: num(&self.sort_order, "sort_order", 0)?,
        })
    }
}

/// The form values of an existing plan (the edit form).
fn plan_values(p: &PlanView) -> Form {
    let n = |v: Option<i32>| v.map(|x| x.to_string()).unwrap_or_default();
    let flag = |b: bool| if b { "on" } else { "" };
    Form::new()
        .with("code", &p.code)
        .with("names.fr", &p.names.fr)
        .with("names.en", &p.names.en)
        .with("names.ar", &p.names.ar)
        .with("price_dzd", &p.price_dzd.to_string())
        .with("duration_days", &n(p.duration_days))
        .with("mcq_per_day", &n(p.mcq_per_day))
        .with("mcq_per_month", &n(p.mcq_per_month))
        .with("qroc_per_day", &n(p.qroc_per_day))
        .with("qroc_per_month", &n(p.qroc_per_month))
        .with("explanations", flag(p.explanations))
        .with("clinical_cases", flag(p.clinical_cases))
        .with("ai_grading", flag(p.ai_grading))
        .with("devices", &p.devices.to_string())
        .with("listed", flag(p.listed))
        .with("sort_order", &p.sort_order.to_string())
}

/// A plan form refused: the typed values with the refusal, or the refusal page.
enum Refused {
    Form(Box<Form>),
    Page(Result<Response, WebError>),
}

/// Step-up, parsing, then the use case `run`; what to show when it is refused.
async fn plan_change<Fut>(
    s: &AppState,
    ctx: &PageContext,
    f: &PlanForm,
    run: impl FnOnce(PlanInput) -> Fut,
) -> Result<(), Refused>
where
    Fut: std::future::Future<Output = Result<PlanView, CommerceError>>,
{
    let actor = ctx.viewer.as_ref().map(|v| v.user.actor());
    let step = actor.map_or(Err(CommerceError::Forbidden), |a| {
        require_step_up(&a, stepped_up(s, ctx))
    });
    let done = match (step, f.input()) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(field)) => {
            let msg = ctx.t("admin-plans-error-number");
            return Err(Refused::Form(Box::new(f.kept().error(field, msg))));
        }
        (Ok(()), Ok(input)) => run(input).await.map(|_| ()),
    };
    match done {
        Ok(()) => Ok(()),
        Err(e @ (CommerceError::Forbidden | CommerceError::MfaEnrolmentRequired)) => {
            Err(Refused::Page(refusal(ctx, e)))
        }
        Err(e) => match f.kept().failure(ctx.locale, "", e) {
            Ok(form) => Err(Refused::Form(Box::new(form))),
            Err(e) => Err(Refused::Page(Err(e))),
        },
    }
}

/// `POST /admin/plans`: creates a plan (step-up required; audited).
pub async fn create_plan(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<PlanForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/plans"));
    };
    let (actor, meta) = (v.user.actor(), v.user.meta().clone());
    let c = &s.services.commerce;
    let done = plan_change(&s, &ctx, &f, |input| c.create_plan(&actor, &meta, input)).await;
    match done {
        Ok(()) => Ok(see_other("/admin/plans")),
        Err(Refused::Form(form)) => plans_with(&s, ctx, *form).await,
        Err(Refused::Page(r)) => r,
    }
}

#[derive(Template)]
#[template(path = "admin/plan.html")]
struct PlanPage {
    ctx: PageContext,
    plan: PlanView,
    stepped_up: bool,
    form: Form,
}

impl PlanPage {
    fn step_up_href(&self) -> String {
        step_up_href(&format!("/admin/plans/{}", self.plan.code))
    }
}

async fn plan_with(
    s: &AppState,
    ctx: PageContext,
    code: &str,
    form: Option<Form>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/plans"));
    };
    let plan = match s.services.commerce.plan(&v.user.actor(), code).await {
        Ok(p) => p,
        Err(e) => return refusal(&ctx, e),
    };
    let mut form = form.unwrap_or_else(|| plan_values(&plan));
    if let Some(n) = notice {
        form = form.noticed(n);
    }
    let stepped_up = stepped_up(s, &ctx);
    let status = form.status();
    let html = render(&PlanPage {
        ctx,
        plan,
        stepped_up,
        form,
    })?;
    Ok(page(status, html))
}

/// `GET /admin/plans/{code}`: the edit form (`?done=saved` after a change).
pub async fn plan_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(code): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let saved = q.done.as_deref() == Some("saved");
    let notice = saved.then(|| ctx.t("admin-plans-saved"));
    plan_with(&s, ctx, &code, None, notice).await
}

/// `POST /admin/plans/{code}`: replaces the plan's names, price, duration, quotas and flags
/// (step-up required; audited).
pub async fn update_plan(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(code): Path<String>,
    PageForm(f): PageForm<PlanForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/plans"));
    };
    let (actor, meta) = (v.user.actor(), v.user.meta().clone());
    let c = &s.services.commerce;
    let run = |input| c.update_plan(&actor, &meta, &code, input);
    match plan_change(&s, &ctx, &f, run).await {
        Ok(()) => Ok(see_other(&format!("/admin/plans/{code}?done=saved"))),
        Err(Refused::Form(form)) => plan_with(&s, ctx, &code, Some(*form), None).await,
        Err(Refused::Page(r)) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Cards

#[derive(Template)]
#[template(path = "admin/cards.html")]
struct CardsPage {
    ctx: PageContext,
    batches: Vec<BatchView>,
    plans: Vec<PlanView>,
    minted: Option<Minted>,
    stepped_up: bool,
    form: Form,
}

impl CardsPage {
    fn step_up_href(&self) -> String {
        step_up_href("/admin/cards")
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn unused(&self, b: &BatchView) -> u64 {
        u64::try_from(b.size)
            .unwrap_or(0)
            .saturating_sub(b.redeemed)
    }

    /// The printing CSV of the batch just minted, as a `data:` link (the codes exist nowhere
    /// else: the server keeps only their HMACs).
    fn csv_href(&self) -> String {
        self.minted.as_ref().map_or_else(String::new, |m| {
            let csv = printing_csv(m);
            format!(
                "data:text/csv;charset=utf-8,{}",
                utf8_percent_encode(&csv, NON_ALPHANUMERIC)
            )
        })
    }

    fn csv_name(&self) -> String {
        self.minted
            .as_ref()
            .map_or_else(String::new, |m| format!("myqcm-cards-{}.csv", m.batch.id))
    }
}

async fn cards_with(
    s: &AppState,
    ctx: PageContext,
    minted: Option<Minted>,
    form: Form,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/cards"));
    };
    let actor = v.user.actor();
    let c = &s.services.commerce;
    let (batches, plans) = match (c.batches(&actor).await, c.plans(&actor).await) {
        (Ok(b), Ok(p)) => (b, p),
        (Err(e), _) | (_, Err(e)) => return refusal(&ctx, e),
    };
    let plans = plans.into_iter().filter(|p| !p.is_default).collect();
    let stepped_up = stepped_up(s, &ctx);
    let status = form.status();
    let html = render(&CardsPage {
        ctx,
        batches,
        plans,
        minted,
        stepped_up,
        form,
    })?;
    Ok(page(status, html))
}

/// `?done=`.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /admin/cards`: batches, newest first, and the mint form.
pub async fn cards_list(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let form = match q.done.as_deref() {
        Some("revoked") => Form::new().noticed(ctx.t("admin-cards-revoked")),
        _ => Form::new(),
    };
    cards_with(&s, ctx, None, form).await
}

/// The mint form: plan code, count, optional expiry date (`YYYY-MM-DD`, the end of that
/// Algerian day)
/// and label.
#[derive(Debug, Default, Deserialize)]
pub struct MintForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    count: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    label: String,
}

impl MintForm {
    fn kept(&self) -> Form {
        Form::new()
            .with("plan", &self.plan)
            .with("count", &self.count)
            .with("expires", &self.expires)
            .with("label", &self.label)
    }

    fn input(&self) -> Result<MintInput, &'static str> {
        let count = self.count.trim().parse().map_err(|_| "count")?;
        let expires = self.expires.trim();
        let expires_at = if expires.is_empty() {
            None
        } else {
            // Like `myqcm admin cards mint --expires`: the end of that Algerian day.
            use chrono::TimeZone;
            let day =
                chrono::NaiveDate::parse_from_str(expires, "%Y-%m-%d").map_err(|_| "expires")?;
            let next = day.succ_opt().ok_or("expires")?;
            let end = myqcm_domain::localtime::algeria()
                .from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
                .single()
                .ok_or("expires")?;
            Some(end.with_timezone(&chrono::Utc))
        };
        Ok(MintInput {
            plan: self.plan.clone(),
            count,
            expires_at,
            label: self.label.trim().to_owned(),
        })
    }
}

/// `POST /admin/cards`: mints a batch (step-up required; audited) and shows its codes once,
/// with the printing CSV.
pub async fn mint(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<MintForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/cards"));
    };
    let actor = v.user.actor();
    let done = match (require_step_up(&actor, stepped_up(&s, &ctx)), f.input()) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(field)) => {
            let form = f.kept().error(field, ctx.t("admin-cards-error-input"));
            return cards_with(&s, ctx, None, form).await;
        }
        (Ok(()), Ok(input)) => {
            s.services
                .commerce
                .mint(Some(&actor), v.user.meta(), input)
                .await
        }
    };
    match done {
        Ok(m) => {
            let form = Form::new().noticed(ctx.t("admin-cards-minted"));
            cards_with(&s, ctx, Some(m), form).await
        }
        Err(e @ (CommerceError::Forbidden | CommerceError::MfaEnrolmentRequired)) => {
            refusal(&ctx, e)
        }
        Err(e) => {
            let form = f.kept().failure(ctx.locale, "plan", e)?;
            cards_with(&s, ctx, None, form).await
        }
    }
}

/// `POST /admin/cards/{id}/revoke`: the batch's unredeemed cards stop working (step-up
/// required; audited).
pub async fn revoke(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/cards"));
    };
    let actor = v.user.actor();
    let done = match require_step_up(&actor, stepped_up(&s, &ctx)) {
        Ok(()) => {
            s.services
                .commerce
                .revoke_batch(&actor, v.user.meta(), id)
                .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(see_other("/admin/cards?done=revoked")),
        Err(
            e @ (CommerceError::Forbidden
            | CommerceError::MfaEnrolmentRequired
            | CommerceError::NotFound),
        ) => refusal(&ctx, e),
        Err(e) => {
            let form = Form::new().failure(ctx.locale, "", e)?;
            cards_with(&s, ctx, None, form).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Payments

#[derive(Template)]
#[template(path = "admin/payments.html")]
struct PaymentsPage {
    ctx: PageContext,
    status: String,
    intents: Vec<AdminIntentView>,
}

impl PaymentsPage {
    fn filters(&self) -> [&'static str; 8] {
        INTENT_STATUSES
    }

    fn status_label(&self, s: &str) -> String {
        self.ctx.t(&format!("admin-payments-status-{s}"))
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }
}

/// `?status=`.
#[derive(Debug, Default, Deserialize)]
pub struct PaymentsQuery {
    #[serde(default)]
    status: Option<String>,
}

/// `GET /admin/payments`: the newest intents (of one status) and their webhook events.
pub async fn payments_list(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<PaymentsQuery>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/payments"));
    };
    let status = q
        .status
        .filter(|st| INTENT_STATUSES.contains(&st.as_str()))
        .unwrap_or_default();
    let filter = Some(status.as_str()).filter(|st| !st.is_empty());
    let c = &s.services.commerce;
    let intents = match c.payment_intents(&v.user.actor(), filter).await {
        Ok(i) => i,
        Err(e) => return refusal(&ctx, e),
    };
    let html = render(&PaymentsPage {
        ctx,
        status,
        intents,
    })?;
    Ok(page(axum::http::StatusCode::OK, html))
}
