//! Item quality pages: `/review/alerts`, the open quality alerts (likely miskey, possible leak,
//! drift, DIF of a translation) a reviewer looks at and dismisses; and
//! `/review/items/{id}/quality`, an item's analysis (difficulty, point-biserial, the distractor
//! table by ability band, the recent shift, its parameters in use) for its author and the
//! reviewers. Staff headers and gates as on the other review pages.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_services::catalogue::quality::{self as svc, AlertView, ItemQuality};
use myqcm_services::catalogue::{CatalogueError, bench, desk};
use uuid::Uuid;

use super::author::staff_headers;
use super::forms::see_other;
use super::review::staff;
use super::{PageContext, render};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review/alerts", get(alerts))
        .route("/review/alerts/{id}/{code}", post(dismiss))
        .route("/review/items/{id}/quality", get(item))
        .layer(axum::middleware::map_response(staff_headers))
}

fn author_or_reviewer(a: &Actor) -> Result<(), CatalogueError> {
    bench::may_review(a).or_else(|_| desk::may_author(a))
}

fn decimal(ctx: &PageContext, x: Option<f64>, places: usize) -> String {
    x.filter(|v| v.is_finite())
        .map_or_else(|| "—".to_owned(), |v| ctx.locale.decimal(v, places))
}

fn percent(ctx: &PageContext, x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or_else(|| "—".to_owned(), |v| super::progress::percent(ctx, v))
}

#[derive(Template)]
#[template(path = "review/alerts.html")]
struct AlertsPage {
    ctx: PageContext,
    rows: Vec<AlertView>,
}

impl AlertsPage {
    fn label(&self, a: &AlertView) -> String {
        self.ctx.t(&format!("quality-alert-{}", a.code))
    }
    fn when(&self, ms: &i64) -> String {
        chrono::DateTime::from_timestamp_millis(*ms)
            .map(|t| self.ctx.locale.datetime(&t))
            .unwrap_or_default()
    }
}

/// `GET /review/alerts`: open quality alerts, newest first.
pub async fn alerts(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let actor = match staff(&ctx, "/review/alerts", bench::may_review) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let rows = svc::open_alerts(&s.services.db, &actor, 200).await?;
    Ok(render(&AlertsPage { ctx, rows })?.into_response())
}

/// `POST /review/alerts/{id}/{code}`: dismiss an alert after looking at the item.
pub async fn dismiss(
    State(s): State<AppState>,
    ctx: PageContext,
    Path((id, code)): Path<(Uuid, String)>,
    crate::input::PageForm(_): crate::input::PageForm<std::collections::HashMap<String, String>>,
) -> Result<Response, WebError> {
    let actor = match staff(&ctx, "/review/alerts", bench::may_review) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let now = s.services.clock.now();
    svc::dismiss_alert(&s.services.db, &actor, id, &code, now).await?;
    Ok(see_other("/review/alerts"))
}

#[derive(Template)]
#[template(path = "review/quality.html")]
struct ItemPage {
    ctx: PageContext,
    q: ItemQuality,
    /// The item's page this viewer may open (review page for reviewers, editor for its author).
    back: String,
}

impl ItemPage {
    fn dec(&self, x: &Option<f64>) -> String {
        decimal(&self.ctx, *x, 2)
    }
    fn pct(&self, x: &Option<f64>) -> String {
        percent(&self.ctx, *x)
    }
    fn num(&self, x: &f64) -> String {
        decimal(&self.ctx, Some(*x), 2)
    }
    fn pct1(&self, x: &f64) -> String {
        percent(&self.ctx, Some(*x))
    }
    fn option_label(&self, o: &usize) -> String {
        self.ctx.tn(
            "quality-option",
            "number",
            i64::try_from(*o + 1).unwrap_or(i64::MAX),
        )
    }
    fn label(&self, a: &AlertView) -> String {
        self.ctx.t(&format!("quality-alert-{}", a.code))
    }
    fn status(&self, a: &AlertView) -> String {
        self.ctx.t(&format!("quality-status-{}", a.status))
    }
}

/// `GET /review/items/{id}/quality`: the item's analysis.
pub async fn item(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let back = format!("/review/items/{id}/quality");
    let actor = match staff(&ctx, &back, author_or_reviewer) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let q = svc::item_quality(&s.services.db, &actor, id).await?;
    let back = if bench::may_review(&actor).is_ok() {
        format!("/review/items/{id}")
    } else {
        format!("/author/items/{id}")
    };
    Ok(render(&ItemPage { ctx, q, back })?.into_response())
}
