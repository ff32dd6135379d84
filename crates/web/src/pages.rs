//! Server-rendered pages (askama, auto-escaped), their form handlers and the embedded static
//! assets. Every page gets a [`PageContext`] (language, signed-in viewer, CSRF token, request
//! id) and extends `templates/base.html`; every string comes from Fluent ([`crate::i18n`]).
//! Forms post to handlers here that call the same use cases as the JSON API and carry `_csrf`
//! (the session's token when signed in, the pre-session cookie's otherwise). Pages work without
//! JavaScript; htmx (vendored) and `app.js` only make them smoother.
//!
//! Adding a page: see `docs/PAGES.md`.

pub mod account;
pub mod admin;
pub mod admin_users;
pub mod assets;
pub mod auth;
pub mod author;
pub mod author_case;
pub mod author_form;
pub mod author_generate;
pub mod context;
pub mod dashboard;
pub mod earnings;
pub mod forms;
pub mod onboarding;
pub mod plans;
pub mod practice;
pub mod practice_builder;
pub mod practice_review;
pub mod progress;
pub mod quality;
pub mod review;
pub mod review_grades;
pub mod session;

pub mod admin_imports;
pub mod admin_ops;
pub mod progress_charts;

pub mod billing;

pub mod admin_commerce;

pub mod admin_catalogue;
pub mod legal;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::get;

pub use context::{PageContext, Viewer};
pub use forms::Form;

use crate::error::ErrorMarker;
use crate::i18n::Locale;
use crate::{AppState, WebError};

/// The page routes (mounted at the root by [`crate::router`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/static/{*path}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
        .merge(auth::router())
        .merge(account::router())
        .merge(dashboard::router())
        .merge(plans::router())
        .merge(progress::router())
        .merge(practice::router())
        .merge(author::router())
        .merge(author_case::router())
        .merge(author_generate::router())
        .merge(review::router())
        .merge(review_grades::router())
        .merge(quality::router())
        .merge(admin::router())
        .merge(admin_users::router())
        .merge(billing::router())
        .merge(admin_imports::router())
        .merge(admin_ops::router())
        .merge(earnings::router())
        .merge(admin_commerce::router())
        .merge(legal::router())
        .merge(admin_catalogue::router())
}

/// Renders a template into an HTML response.
pub fn render(t: &impl Template) -> Result<Html<String>, WebError> {
    Ok(Html(t.render().map_err(WebError::internal)?))
}

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    ctx: PageContext,
}

/// `GET /`: the landing page.
pub async fn landing(ctx: PageContext) -> Result<Html<String>, WebError> {
    render(&LandingPage { ctx })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: PageContext,
    status: u16,
    title: String,
}

/// Renders the HTML error page (used by the error middleware): localised title, the request id
/// to quote, and a way back.
pub fn error_page(
    status: StatusCode,
    marker: &ErrorMarker,
    request_id: &str,
    headers: &HeaderMap,
) -> String {
    let ctx = PageContext::bare(Locale::negotiate(headers), request_id, headers);
    let locale = ctx.locale;
    let page = ErrorPage {
        title: locale.error_title(&marker.code),
        ctx,
        // API details are English sentences: pages show the localised title only.
        status: status.as_u16(),
    };
    page.render().unwrap_or_else(|_| {
        format!(
            "Error {} — request {}",
            status.as_u16(),
            request_id.replace('<', "")
        )
    })
}
