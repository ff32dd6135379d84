//! `/plans`: the plans on offer with their quotas, the viewer's plan in force, and the form to
//! redeem a prepaid activation card (works without JavaScript; the same use cases as
//! `GET /api/v1/plans`, `GET /api/v1/subscription` and `POST /api/v1/cards/redeem`).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_services::commerce::{PlanView, SubscriptionView};
use serde::Deserialize;

use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plans", get(plans))
        .route("/plans/redeem", post(redeem))
}

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    ctx: PageContext,
    form: Form,
    plans: Vec<PlanView>,
    mine: Option<SubscriptionView>,
    /// Online payment is configured (links to `/billing`).
    payments: bool,
}

impl PlansPage {
    fn name(&self, p: &PlanView) -> String {
        p.names.get(self.ctx.locale.tag()).to_owned()
    }

    fn duration(&self, p: &PlanView) -> Option<String> {
        p.duration_days
            .map(|d| self.ctx.tn("plans-days", "count", i64::from(d)))
    }

    fn quota(&self, v: &Option<i32>) -> String {
        match v {
            Some(n) => self.ctx.locale.number(i64::from(*n)),
            None => self.ctx.t("plans-unlimited"),
        }
    }
}

async fn show(s: &AppState, ctx: PageContext, form: Form) -> Result<Response, WebError> {
    let plans = s.services.commerce.listed_plans().await?;
    let mine = match &ctx.viewer {
        Some(v) => Some(
            s.services
                .commerce
                .my_subscription(v.user.caller.id)
                .await?,
        ),
        None => None,
    };
    let status = form.status();
    let html = render(&PlansPage {
        ctx,
        form,
        plans,
        mine,
        payments: s.services.payments.is_some(),
    })?;
    Ok(page(status, html))
}

/// `GET /plans`.
pub async fn plans(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let form = if ctx.path.contains("done=redeemed") {
        Form::new().noticed(ctx.t("plans-redeemed"))
    } else {
        Form::new()
    };
    show(&s, ctx, form).await
}

/// The redeem form.
#[derive(Deserialize)]
pub struct RedeemForm {
    #[serde(default)]
    code: String,
}

/// `POST /plans/redeem`.
pub async fn redeem(
    State(s): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<RedeemForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/plans"));
    };
    let actor = v.user.actor();
    let done = s.services.commerce.redeem(&actor, v.user.meta(), &f.code);
    let form = match done.await {
        Ok(_) => return Ok(see_other("/plans?done=redeemed")),
        Err(e) => Form::new()
            .with("code", &f.code)
            .failure(ctx.locale, "code", e)?,
    };
    show(&s, ctx, form).await
}
