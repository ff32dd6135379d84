//! Google sign-in routes: `GET /api/v1/auth/google/start` sends the browser to the provider with
//! state, nonce and PKCE S256 kept server-side (cache, 10 minutes) under a random id in the
//! `myqcm_oidc_tx` cookie; `GET /api/v1/auth/google/callback` checks and consumes that
//! transaction, exchanges the code, validates the ID token, resolves the account (linking
//! rules in `services::identity::oidc`), opens a new session and redirects to a safe path.
//! Every failure is the same generic 400 `oidc_failed`; details go to the log only.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use myqcm_domain::codes;
use myqcm_services::identity::crypto;
use myqcm_services::identity::oidc::{self, ExternalIdentity};
use myqcm_services::identity::sessions::{self, Via};
use serde::{Deserialize, Serialize};

use super::{ClientContext, cookies, deps};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/google/start", get(start))
        .route("/auth/google/callback", get(callback))
}

const TX_TTL: Duration = Duration::from_secs(600);

fn tx_cookie(https: bool) -> String {
    format!("{}myqcm_oidc_tx", if https { "__Host-" } else { "" })
}

fn tx_key(id: &str) -> String {
    format!("oidc:tx:{}", crypto::sha256_hex(id.as_bytes()))
}

#[derive(Serialize, Deserialize)]
struct LoginTx {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

/// Query of the start route.
#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

fn failed() -> WebError {
    WebError::code(codes::OIDC_FAILED)
}

/// Redirects to the provider.
#[utoipa::path(get, path = "/api/v1/auth/google/start", tag = "auth",
    params(("next" = Option<String>, Query, description = "Same-origin path to return to")),
    responses((status = 303, description = "Redirect to Google"), (status = 404, body = crate::error::Problem)))]
pub async fn start(
    State(state): State<AppState>,
    Query(q): Query<StartQuery>,
) -> Result<Response, WebError> {
    let Some(google) = state.config.google.clone() else {
        return Err(WebError::code(codes::NOT_FOUND));
    };
    let started = google.start().await.map_err(|e| {
        tracing::warn!(error = %e, "google sign-in could not start");
        failed()
    })?;
    let id = crypto::new_token();
    let tx = LoginTx {
        state: started.state,
        nonce: started.nonce,
        verifier: started.pkce_verifier,
        next: myqcm_domain::identity::safe_redirect(q.next.as_deref()),
    };
    let bytes = serde_json::to_vec(&tx).map_err(WebError::internal)?;
    state
        .cache
        .set(&tx_key(&id), &bytes, TX_TTL)
        .await
        .map_err(WebError::internal)?;
    let https = state.config.https();
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600{}",
        tx_cookie(https),
        if https { "; Secure" } else { "" }
    );
    let mut h = HeaderMap::new();
    h.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(WebError::internal)?,
    );
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&started.authorize_url).map_err(WebError::internal)?,
    );
    Ok((StatusCode::SEE_OTHER, h).into_response())
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
    let Some(google) = state.config.google.clone() else {
        return Err(WebError::code(codes::NOT_FOUND));
    };
    let https = state.config.https();
    // The transaction is single use: loaded and deleted before anything else.
    let tx_id = cookies::read(&headers, &tx_cookie(https)).ok_or_else(failed)?;
    let key = tx_key(&tx_id);
    let raw = state.cache.get(&key).await.map_err(WebError::internal)?;
    state.cache.delete(&key).await.map_err(WebError::internal)?;
    let tx: LoginTx = raw
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(failed)?;
    if let Some(e) = q.error {
        tracing::info!(provider_error = %e.chars().take(64).collect::<String>(), "google sign-in refused by the provider");
        return Err(failed());
    }
    let returned = q.state.unwrap_or_default();
    if !crypto::ct_eq(returned.as_bytes(), tx.state.as_bytes()) {
        return Err(failed());
    }
    let code = q.code.ok_or_else(failed)?;
    let id = google
        .finish(&code, &tx.verifier, &tx.nonce, state.clock.now())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "google sign-in failed");
            failed()
        })?;
    let d = deps(&state);
    let ext = ExternalIdentity {
        issuer: id.issuer,
        subject: id.subject,
        email: id.email,
        email_verified: id.email_verified,
    };
    let account = oidc::resolve(&d, &ext, &meta).await.map_err(|e| {
        tracing::warn!(error = %e, "google sign-in refused by policy");
        failed()
    })?;
    let tokens = sessions::issue(&d, account.id, Via::Cookie, &meta, false).await?;
    let now = state.clock.now();
    let mut h = HeaderMap::new();
    cookies::set_pair(
        &mut h,
        https,
        &tokens.access_token,
        (tokens.access_expires_at - now).num_seconds().max(0),
        &tokens.refresh_token,
        (tokens.refresh_expires_at - now).num_seconds().max(0),
    );
    let clear = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        tx_cookie(https),
        if https { "; Secure" } else { "" }
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear).map_err(WebError::internal)?,
    );
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&tx.next).map_err(WebError::internal)?,
    );
    Ok((StatusCode::SEE_OTHER, h).into_response())
}
