//! The middleware stack, outermost first: request id → access log span → error rendering →
//! panic catching → metrics → security headers → compression → timeout → body limit.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{Html, IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::WebConfig;
use crate::error::{ErrorMarker, Problem, code_for_status};
use crate::pages;

/// The request's id: taken from a well-formed incoming `x-request-id`, else generated.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Content-Security-Policy for every response: same-origin only, no inline or eval'd scripts.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; \
                       form-action 'self'; frame-ancestors 'none'";

/// Wraps `app` in the full stack.
pub fn stack(app: Router, config: &WebConfig) -> Router {
    let limits = BodyLimits::from(config);
    let hsts = config
        .https()
        .then(|| HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    let inner = ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn(record_metrics))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            config.request_timeout,
        ))
        .layer(from_fn(move |req, next| limit_body(limits, req, next)))
        // Every body is bounded by `limit_body`, per route; the extractors' own default
        // (2 MB) would otherwise cut uploads short.
        .layer(axum::extract::DefaultBodyLimit::disable());
    app.layer(inner).layer(
        ServiceBuilder::new()
            .layer(from_fn(assign_request_id))
            .layer(from_fn(access_log))
            .layer(from_fn(render_errors)),
    )
}

/// The routes that take a file: documents for question generation (≤ 20 MB) and catalogue
/// imports. Their bodies may reach [`WebConfig::upload_limit`]; every other request keeps
/// [`WebConfig::body_limit`].
const UPLOAD_ROUTES: [&str; 4] = [
    "/api/v1/ai/generations",
    "/author/generate",
    "/api/v1/admin/imports",
    "/admin/imports",
];

/// The largest body accepted for a request to `path` with `method`.
pub(crate) fn body_limit_for(config: &WebConfig, method: &Method, path: &str) -> usize {
    BodyLimits::from(config).for_request(method, path)
}

/// The two body limits of [`WebConfig`], copied into the limiting middleware.
#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    body: usize,
    upload: usize,
}

impl From<&WebConfig> for BodyLimits {
    fn from(c: &WebConfig) -> Self {
        Self {
            body: c.body_limit,
            upload: c.upload_limit.max(c.body_limit),
        }
    }
}

impl BodyLimits {
    fn for_request(self, method: &Method, path: &str) -> usize {
        if method == Method::POST && UPLOAD_ROUTES.contains(&path) {
            self.upload
        } else {
            self.body
        }
    }
}

/// Refuses a body larger than the route's limit: at once when `Content-Length` says so,
/// otherwise when reading passes the limit (the extractors then answer 413).
async fn limit_body(limits: BodyLimits, req: Request, next: Next) -> Response {
    let limit = limits.for_request(req.method(), req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let (parts, body) = req.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, limited)).await
}

fn valid_incoming_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_owned())
}

async fn assign_request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(valid_incoming_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    req.extensions_mut().insert(RequestId(id));
    let mut res = next.run(req).await;
    res.headers_mut().insert(X_REQUEST_ID.clone(), value);
    res
}

async fn access_log(req: Request, next: Next) -> Response {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    // `route` is the matched pattern (`/api/v1/training-sessions/{id}/answers`), which error
    // reports and trace exports group by; the query string is never recorded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
        path = %req.uri().path(),
    );
    async move {
        let started = Instant::now();
        let res = next.run(req).await;
        let status = res.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(status, latency_ms, "request failed");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
        res
    }
    .instrument(span)
    .await
}

fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The panic message may hold internals: it goes to the log only.
    let message = _payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| _payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "handler panicked");
    let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    res.extensions_mut().insert(ErrorMarker {
        code: myqcm_domain::codes::INTERNAL,
        detail: None,
        errors: None,
    });
    res
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let in_flight = metrics::gauge!("http_requests_in_flight");
    in_flight.increment(1.0);
    let res = next.run(req).await;
    in_flight.decrement(1.0);
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

async fn render_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    // What the error page needs to pick its language and keep the language switch working.
    let mut request_headers = axum::http::HeaderMap::new();
    for name in [header::COOKIE, header::ACCEPT_LANGUAGE] {
        for v in req.headers().get_all(&name) {
            request_headers.append(name.clone(), v.clone());
        }
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let mut res = next.run(req).await;
    let marker = res.extensions_mut().remove::<ErrorMarker>();
    let status = res.status();
    // Error statuses from layers and axum's own rejections come bare or as text/plain; our
    // handlers never answer an error in text/plain, so both get the common shape.
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    let bare_error = (status.is_client_error() || status.is_server_error()) && plain;
    let marker = match marker {
        Some(m) => m,
        None if bare_error => ErrorMarker {
            code: code_for_status(status),
            detail: None,
            errors: None,
        },
        None => return res,
    };
    let headers = res.headers().clone();
    let mut out = if path == "/api" || path.starts_with("/api/") {
        let problem = Problem {
            kind: format!("https://myqcm.app/problems/{}", marker.code.code),
            title: marker.code.title.to_owned(),
            status: status.as_u16(),
            code: marker.code.code.to_owned(),
            request_id,
            detail: marker.detail,
            errors: marker.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    } else {
        (
            status,
            Html(pages::error_page(
                status,
                &marker,
                &request_id,
                &request_headers,
            )),
        )
            .into_response()
    };
    // Keep headers set by inner layers (security headers, Allow, Retry-After), not the body's:
    // the new body is neither the old type nor length nor, when the compression layer packed the
    // bare rejection, compressed (copying `Content-Encoding: gzip` made clients fail to decode).
    for (name, value) in &headers {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
        {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
