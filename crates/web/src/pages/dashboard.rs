//! `/dashboard`: a placeholder until the learner dashboard lands (it greets the viewer, says
//! why an unverified account cannot train yet, and links to onboarding and practice).

use askama::Template;
use axum::Router;
use axum::response::Response;
use axum::routing::get;

use super::forms::{page, to_sign_in};
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
}

/// `GET /dashboard`.
pub async fn dashboard(ctx: PageContext) -> Result<Response, WebError> {
    if !ctx.signed_in() {
        return Ok(to_sign_in("/dashboard"));
    }
    Ok(page(
        axum::http::StatusCode::OK,
        render(&DashboardPage { ctx })?,
    ))
}
