//! CSRF, first layer: unsafe requests (POST, PUT, PATCH, DELETE) announced by the browser as
//! cross-site (`Sec-Fetch-Site: cross-site`) or carrying a foreign `Origin` are refused before
//! any handler runs. Second layer, in [`super::CurrentUser`]: the synchronizer token. This
//! middleware also lifts a `_csrf` field out of url-encoded form bodies so forms work without
//! JavaScript. Bearer requests without cookies are exempt; so are the Chargily webhook (HMAC)
//! and the OIDC callback (a GET, protected by state + PKCE + nonce).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use myqcm_domain::codes;

use crate::{AppState, WebError};

/// The `_csrf` field of a form body.
#[derive(Debug, Clone)]
pub struct FormToken(pub String);

const EXEMPT: &[&str] = &["/api/v1/payments/chargily/webhook"];

/// Largest form body scanned for `_csrf`.
const FORM_LIMIT: usize = 64 * 1024;

fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

fn multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"))
}

/// The `_csrf` part of a `multipart/form-data` body, if any.
async fn multipart_token(headers: &axum::http::HeaderMap, bytes: bytes::Bytes) -> Option<String> {
    use axum::extract::FromRequest as _;
    let ct = headers.get(header::CONTENT_TYPE)?.clone();
    let mut req = Request::new(Body::from(bytes));
    req.headers_mut().insert(header::CONTENT_TYPE, ct);
    let mut form = axum::extract::Multipart::from_request(req, &())
        .await
        .ok()?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("_csrf") {
            return field.text().await.ok();
        }
    }
    None
}

/// The middleware.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let credentialed = req.headers().contains_key(header::COOKIE)
        || req.headers().contains_key(header::AUTHORIZATION);
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let exempt = EXEMPT.contains(&req.uri().path());
    let bearer_only = req.headers().contains_key(header::AUTHORIZATION)
        && !req.headers().contains_key(header::COOKIE);
    let mut req = req;
    if unsafe_method && !exempt && !bearer_only {
        let cross_site = req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        let foreign_origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|o| o != origin_of(&state.config.public_base_url));
        if cross_site || foreign_origin {
            return WebError::code(codes::CSRF_FAILED).into_response();
        }
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form && req.headers().contains_key(header::COOKIE) {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
                return WebError::code(codes::PAYLOAD_TOO_LARGE).into_response();
            };
            let token = url::form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "_csrf")
                .map(|(_, v)| v.into_owned());
            req = Request::from_parts(parts, Body::from(bytes));
            if let Some(t) = token {
                req.extensions_mut().insert(FormToken(t));
            }
        } else if multipart(&req) && req.headers().contains_key(header::COOKIE) {
            // File uploads from pages (imports): the token travels as a form part.
            let limit =
                crate::middleware::body_limit_for(&state.config, req.method(), req.uri().path());
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
                return WebError::code(codes::PAYLOAD_TOO_LARGE).into_response();
            };
            let token = multipart_token(&parts.headers, bytes.clone()).await;
            req = Request::from_parts(parts, Body::from(bytes));
            if let Some(t) = token {
                req.extensions_mut().insert(FormToken(t));
            }
        }
    }
    let mut res = next.run(req).await;
    if credentialed && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
