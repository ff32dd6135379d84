//! Google sign-in routes: `GET /api/v1/auth/google/start` sends the browser to the provider and
//! sets the `myqcm_oidc_tx` cookie naming the server-side transaction; `GET
//! /api/v1/auth/google/callback` hands that transaction and the provider's answer to
//! `myqcm_services::identity::oidc::complete`, sets the session cookies and redirects to a safe
//! path. Every failure is the same generic 400 `oidc_failed`; details go to the log only.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use myqcm_services::identity::oidc::{self, Callback};
use serde::Deserialize;

use super::{ClientContext, cookies};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/google/start", get(start))
        .route("/auth/google/callback", get(callback))
}

fn tx_cookie(https: bool) -> String {
    format!("{}myqcm_oidc_tx", if https { "__Host-" } else { "" })
}

/// `Set-Cookie` for the transaction cookie (`max_age` 0 deletes it).
fn tx_cookie_header(https: bool, value: &str, max_age: u64) -> Result<HeaderValue, WebError> {
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        tx_cookie(https),
        if https { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&cookie).map_err(WebError::internal)
}

fn redirect(mut headers: HeaderMap, to: &str) -> Result<Response, WebError> {
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(to).map_err(WebError::internal)?,
    );
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

/// Query of the start route.
#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// Redirects to the provider.
#[utoipa::path(get, path = "/api/v1/auth/google/start", tag = "auth",
    params(("next" = Option<String>, Query, description = "Same-origin path to return to")),
    responses((status = 303, description = "Redirect to Google"), (status = 404, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn start(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    Query(q): Query<StartQuery>,
) -> Result<Response, WebError> {
    let begun = oidc::begin(&state.services, q.next.as_deref(), &meta).await?;
    let https = state.config.https();
    let mut h = HeaderMap::new();
    let ttl = oidc::TX_TTL.as_secs();
    h.insert(
        header::SET_COOKIE,
        tx_cookie_header(https, &begun.transaction, ttl)?,
    );
    redirect(h, &begun.authorize_url)
}

/// Query of the callback.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Completes the sign-in.
#[utoipa::path(get, path = "/api/v1/auth/google/callback", tag = "auth",
    params(("code" = Option<String>, Query, description = "Authorization code"), ("state" = Option<String>, Query, description = "State")),
    responses((status = 303, description = "Signed in; redirect to the stored path"), (status = 400, body = crate::error::Problem)))]
pub async fn callback(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, WebError> {
    let https = state.config.https();
    let tx = cookies::read(&headers, &tx_cookie(https));
    let answer = Callback {
        code: q.code,
        state: q.state,
        error: q.error,
    };
    let done = oidc::complete(&state.services, tx.as_deref(), answer, &meta).await?;
    let mut h = crate::api::auth::cookie_headers(&state, &done.tokens);
    h.append(header::SET_COOKIE, tx_cookie_header(https, "", 0)?);
    redirect(h, &done.redirect_to)
}
