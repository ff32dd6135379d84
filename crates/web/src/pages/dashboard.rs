//! `/dashboard`: today for the learner — reviews due with the 7-day forecast, weakest KCs with
//! their mastery bands, the predicted exam score with its band and the exam countdown, the
//! streak, a suggested session and the last sessions. A newcomer (no profile yet) is sent
//! through onboarding and offered a first diagnostic session; an unverified account is told
//! why it cannot train yet. Same use cases as `GET /api/v1/progress` and the sessions list.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use myqcm_domain::permissions::Action;
use myqcm_services::training::progress::ProgressView;
use myqcm_services::training::views::SessionListRow;

use super::forms::{page, to_sign_in};
use super::progress::{kc_text, name_in, percent, range};
use super::progress_charts::{BandChart, BandInput, ColumnChart};
use super::{PageContext, render};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard", get(dashboard))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ctx: PageContext,
    data: Option<Today>,
    /// The name of the viewer's plan in force (links to `/plans`).
    plan: Option<String>,
}

impl DashboardPage {
    /// A session's style in words (the code when the catalogue has no name for it).
    fn style_name(&self, style: &str) -> String {
        self.ctx
            .locale
            .try_t(&format!("dashboard-style-{style}"))
            .unwrap_or_else(|| style.to_owned())
    }
}

/// What the dashboard shows to a verified learner.
struct Today {
    p: ProgressView,
    sessions: Vec<SessionListRow>,
    score: Option<String>,
    weakest: String,
    due: String,
    streak: i64,
    due_now: i64,
    days_to_exam: Option<i64>,
}

/// `GET /dashboard`.
pub async fn dashboard(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/dashboard"));
    };
    let actor = crate::api::catalogue::actor(&v.user);
    let data = if ctx.unverified() || !actor.can(Action::Train) {
        None
    } else {
        let p = s.services.progress().overview(&actor).await?;
        let sessions = s.services.training.sessions(&actor, None, 5).await?;
        Some(today(&ctx, p, sessions)?)
    };
    let mine = s
        .services
        .commerce
        .my_subscription(v.user.caller.id)
        .await?;
    let plan = Some(mine.plan.names.get(ctx.locale.tag()).to_owned());
    let html = render(&DashboardPage { ctx, data, plan })?;
    Ok(page(axum::http::StatusCode::OK, html))
}

fn today(
    ctx: &PageContext,
    p: ProgressView,
    sessions: Vec<SessionListRow>,
) -> Result<Today, WebError> {
    let weakest: Vec<BandInput> = p
        .weakest_kcs
        .iter()
        .map(|k| BandInput {
            label: name_in(&k.names, ctx.locale, &k.code),
            value: k.mastery,
            low: k.band.low,
            high: k.band.high,
            text: kc_text(ctx, k),
        })
        .collect();
    let due: Vec<(String, i64)> = p
        .reviews
        .forecast
        .iter()
        .map(|d| (ctx.locale.iso_day_month(&d.date), d.due))
        .collect();
    let weakest = BandChart::new(
        "dash-weakest",
        ctx.t("progress-weakest-title"),
        ctx.t("progress-weakest-desc"),
        &weakest,
    );
    let due = ColumnChart::new(
        "dash-due",
        ctx.t("progress-due-title"),
        ctx.t("progress-due-desc"),
        &due,
    );
    let score = p.prediction.as_ref().map(|pr| {
        format!(
            "{} ({})",
            percent(ctx, pr.score.value),
            range(ctx, pr.score.low, pr.score.high)
        )
    });
    Ok(Today {
        score,
        weakest: weakest.render().map_err(WebError::internal)?,
        due: due.render().map_err(WebError::internal)?,
        streak: i64::from(p.streak.current),
        due_now: p.reviews.due_now,
        days_to_exam: p.prediction.as_ref().and_then(|pr| pr.days_to_exam),
        sessions,
        p,
    })
}
