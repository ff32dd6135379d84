//! `/billing`: buying a plan online (Chargily Pay). The learner picks a plan; the form posts
//! to `/billing/checkout`, which creates the payment intent and redirects (303, same origin) to
//! `/billing/pay/{intent}`, a page with a plain link to the provider's checkout page (a form
//! POST redirected off-site would be blocked by `form-action 'self'`). The provider sends the
//! browser back to `/billing/return?intent=…`, which only shows the intent's status (polled
//! with htmx; a link refreshes it without JavaScript) and grants nothing: the webhook does.
//! Without `MYQCM_CHARGILY_MODE` every route answers 404. Same use cases as the payments API.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_services::commerce::PlanView;
use myqcm_services::commerce::payments::IntentView;
use serde::Deserialize;
use uuid::Uuid;

use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::api::payments::payments;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/billing", get(billing))
        .route("/billing/checkout", post(checkout))
        .route("/billing/pay/{intent}", get(pay))
        .route("/billing/return", get(back))
        .route("/billing/return/status", get(status))
}

/// Text of an intent's status and whether it may still change.
fn status_text(ctx: &PageContext, status: &str) -> String {
    ctx.locale
        .try_t(&format!("billing-status-{status}"))
        .unwrap_or_else(|| ctx.t("billing-status-pending"))
}

fn open(status: &str) -> bool {
    matches!(status, "creating" | "pending" | "unknown")
}

#[derive(Template)]
#[template(path = "billing/index.html")]
struct BillingPage {
    ctx: PageContext,
    form: Form,
    plans: Vec<PlanView>,
    history: Vec<IntentView>,
}

impl BillingPage {
    fn plan_name(&self, p: &PlanView) -> String {
        p.names.get(self.ctx.locale.tag()).to_owned()
    }

    fn intent_name(&self, i: &IntentView) -> String {
        i.plan_names.get(self.ctx.locale.tag()).to_owned()
    }

    fn state(&self, i: &IntentView) -> String {
        self.ctx
            .locale
            .try_t(&format!("billing-state-{}", i.status))
            .unwrap_or_else(|| i.status.clone())
    }
}

async fn show(s: &AppState, ctx: PageContext, form: Form) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/billing"));
    };
    let history = payments(s)?.my_intents(v.user.caller.id).await?;
    let plans = s.services.commerce.listed_plans().await?;
    let plans = plans.into_iter().filter(|p| p.price_dzd > 0).collect();
    let status = form.status();
    let html = render(&BillingPage {
        ctx,
        form,
        plans,
        history,
    })?;
    Ok(page(status, html))
}

/// `GET /billing`.
pub async fn billing(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    payments(&s)?;
    show(&s, ctx, Form::new()).await
}

/// The plan chosen.
#[derive(Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    plan: String,
}

/// `POST /billing/checkout`.
pub async fn checkout(
    State(s): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<CheckoutForm>,
) -> Result<Response, WebError> {
    let p = payments(&s)?;
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/billing"));
    };
    let (actor, tag) = (v.user.actor(), ctx.locale.tag());
    let form = match p.start_checkout(&actor, v.user.meta(), &f.plan, tag).await {
        Ok(started) => return Ok(see_other(&format!("/billing/pay/{}", started.intent.id))),
        Err(e) => Form::new().failure(ctx.locale, "plan", e)?,
    };
    show(&s, ctx, form).await
}

#[derive(Template)]
#[template(path = "billing/pay.html")]
struct PayPage {
    ctx: PageContext,
    intent: IntentView,
    url: String,
}

/// `GET /billing/pay/{intent}`: the link to the provider's page (the owner's pending intent).
pub async fn pay(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let p = payments(&s)?;
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/billing"));
    };
    let me = v.user.caller.id;
    let url = p.checkout_url(me, id).await?;
    let intent = p.intent_status(me, id).await?;
    let html = render(&PayPage { ctx, intent, url })?;
    Ok(page(axum::http::StatusCode::OK, html))
}

/// `?intent=…`.
#[derive(Deserialize)]
pub struct IntentQuery {
    intent: Uuid,
}

#[derive(Template)]
#[template(path = "billing/return.html")]
struct ReturnPage {
    ctx: PageContext,
    intent: IntentView,
    text: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "billing/status.html")]
struct StatusFragment {
    ctx: PageContext,
    intent: IntentView,
    text: String,
    open: bool,
}

/// `GET /billing/return?intent=…`: shows the status; grants nothing.
pub async fn back(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<IntentQuery>,
) -> Result<Response, WebError> {
    let p = payments(&s)?;
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in(&format!("/billing/return?intent={}", q.intent)));
    };
    let intent = p.intent_status(v.user.caller.id, q.intent).await?;
    let (text, open) = (status_text(&ctx, &intent.status), open(&intent.status));
    let html = render(&ReturnPage {
        ctx,
        intent,
        text,
        open,
    })?;
    Ok(page(axum::http::StatusCode::OK, html))
}

/// `GET /billing/return/status?intent=…`: the status fragment htmx polls.
pub async fn status(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<IntentQuery>,
) -> Result<Response, WebError> {
    let p = payments(&s)?;
    let Some(v) = &ctx.viewer else {
        return Err(WebError::code(myqcm_domain::codes::UNAUTHENTICATED));
    };
    let intent = p.intent_status(v.user.caller.id, q.intent).await?;
    let (text, open) = (status_text(&ctx, &intent.status), open(&intent.status));
    let html = render(&StatusFragment {
        ctx,
        intent,
        text,
        open,
    })?;
    Ok(page(axum::http::StatusCode::OK, html))
}
