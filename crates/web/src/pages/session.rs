//! The page middleware, run on every page request (not `/api`, `/static`, `/health`):
//!
//! - **Pre-session CSRF cookie.** Signed-out forms (sign-up, sign-in, reset, language) carry
//!   `_csrf` equal to the `myqcm_csrf` cookie (double submit; `__Host-` prefixed on https, so a
//!   sibling domain cannot plant it). The cookie is created on the first page view.
//! - **Session renewal.** When the access cookie has expired (the browser dropped it) but the
//!   refresh cookie is still there, the refresh token is rotated and the request proceeds signed
//!   in, with the new cookies on the response. The refresh cookie is `SameSite=Strict`, so only
//!   same-site navigations present it; unsafe requests are still CSRF-checked against the session
//!   afterwards.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use myqcm_services::identity::{IdentityError, crypto, sessions};

use crate::AppState;
use crate::auth::{ClientContext, cookies};

/// The pre-session token of this request (from its cookie, or freshly made).
#[derive(Debug, Clone)]
pub struct PreSessionCsrf(pub String);

fn csrf_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-myqcm_csrf"
    } else {
        "myqcm_csrf"
    }
}

/// The pre-session token the request carries, whichever cookie name it uses.
pub fn pre_session_token(headers: &HeaderMap) -> Option<String> {
    cookies::read(headers, csrf_cookie_name(true))
        .or_else(|| cookies::read(headers, csrf_cookie_name(false)))
        .filter(|t| well_formed(t))
}

fn well_formed(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `path` is a page (the middleware leaves the API and assets alone).
pub fn is_page(path: &str) -> bool {
    !["/api/", "/static/", "/health/"]
        .iter()
        .any(|p| path.starts_with(p))
        && path != "/api"
        && path != "/favicon.ico"
}

/// A `Set-Cookie` value for a plain (non-session) cookie of ours.
pub fn plain_cookie(name: &str, value: &str, max_age: i64, https: bool) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// The middleware (see the module documentation).
pub async fn prepare(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !is_page(req.uri().path()) {
        return next.run(req).await;
    }
    let https = state.config.https();
    let mut out = HeaderMap::new();
    let (mut parts, body) = req.into_parts();
    let token =
        match cookies::read(&parts.headers, csrf_cookie_name(https)).filter(|t| well_formed(t)) {
            Some(t) => t,
            None => {
                let t = crypto::new_token();
                let year = 365 * 24 * 3600;
                if let Some(v) = plain_cookie(csrf_cookie_name(https), &t, year, https) {
                    out.append(header::SET_COOKIE, v);
                }
                t
            }
        };
    parts.extensions.insert(PreSessionCsrf(token));
    renew(&state, &mut parts, &mut out).await;
    let mut res = next.run(Request::from_parts(parts, body)).await;
    for (name, value) in &out {
        res.headers_mut().append(name.clone(), value.clone());
    }
    res
}

/// Rotates the refresh cookie when the access cookie is gone.
async fn renew(state: &AppState, parts: &mut axum::http::request::Parts, out: &mut HeaderMap) {
    let https = state.config.https();
    let has_access = cookies::read(&parts.headers, &cookies::access_name(https)).is_some();
    let refresh = cookies::read(&parts.headers, &cookies::refresh_name(https));
    let (false, Some(refresh)) = (has_access, refresh) else {
        return;
    };
    let Ok(ClientContext(meta)) = ClientContext::from_request_parts(parts, state).await else {
        return;
    };
    match sessions::refresh(&state.deps(), &refresh, &meta).await {
        Ok(tokens) => {
            let cookie = format!("{}={}", cookies::access_name(https), tokens.access_token);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                parts.headers.append(header::COOKIE, v);
            }
            for v in crate::api::auth::cookie_headers(state, &tokens).get_all(header::SET_COOKIE) {
                out.append(header::SET_COOKIE, v.clone());
            }
        }
        Err(
            IdentityError::Unauthenticated
            | IdentityError::InvalidToken
            | IdentityError::InvalidCredentials,
        ) => cookies::clear_pair(out, https),
        Err(e) => tracing::warn!(error = %e, "session renewal failed"),
    }
}
