//! The HTTP layer of MyQCM (axum): HTML pages at `/…`, the JSON API under `/api/v1/…` and
//! `/health/*` on the public listener; `/metrics` on its own private listener
//! ([`metrics_router`]).
//!
//! Owns the middleware stack (request id, logs, metrics, timeouts, body limits, compression,
//! security headers, panic catching), the one mapping from errors to responses (problem+json
//! under `/api`, an HTML page elsewhere) and the OpenAPI document. Handlers stay thin: they
//! parse, call one use case of `myqcm_services` through [`AppState::services`], and map the
//! result. This crate depends on `services` and `domain` only: no database, no adapter.

pub mod api;
pub mod areas;
pub mod auth;
pub mod error;
pub mod health;
pub mod i18n;
pub mod input;
pub mod middleware;
pub mod observability;
pub mod openapi;
pub mod pages;
mod test_routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use myqcm_services::Services;

pub use areas::Area;
pub use error::WebError;

/// Settings the HTTP layer needs (a projection of the application's configuration).
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `MYQCM_ENV=production`.
    pub production: bool,
    /// `MYQCM_PUBLIC_BASE_URL`.
    pub public_base_url: url::Url,
    /// Whole-request time limit.
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest body of a file upload (question-generation documents, catalogue imports), in
    /// bytes: the 20 MB document limit with room for the form's other fields.
    pub upload_limit: usize,
    /// Mounts routes that exist only for tests (a deliberate panic, a failing query). Never set
    /// by the binary.
    pub test_routes: bool,
    /// `MYQCM_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `MYQCM_EMAIL_VERIFICATION`: the verified-email guard is enforced.
    pub email_verification: bool,
    /// `MYQCM_DISABLED_AREAS`: parts of the product switched off (hidden, their routes 404).
    pub disabled_areas: Vec<Area>,
    /// `MYQCM_CONTACT_EMAIL`: published on `/privacy`, `/terms`, `/security-policy` and in
    /// `/.well-known/security.txt` (which answers 404 without it).
    pub contact_email: Option<String>,
}

impl WebConfig {
    /// Development defaults for `base`.
    pub fn development(base: url::Url) -> Self {
        Self {
            production: false,
            public_base_url: base.clone(),
            request_timeout: Duration::from_secs(30),
            body_limit: 2 * 1024 * 1024,
            upload_limit: 21 * 1024 * 1024,
            test_routes: false,
            trusted_proxies: Vec::new(),
            email_verification: true,
            disabled_areas: Vec::new(),
            contact_email: None,
        }
    }

    /// Whether `area` is switched on.
    pub fn area_enabled(&self, area: Area) -> bool {
        !self.disabled_areas.contains(&area)
    }

    /// Whether the public URL is https (cookies, HSTS).
    pub fn https(&self) -> bool {
        self.public_base_url.scheme() == "https"
    }
}

/// Everything a handler may reach, cheap to clone: the use cases' handle and the HTTP settings.
#[derive(Clone)]
pub struct AppState {
    /// Database, ports and settings of the use cases (handlers pass it to `myqcm_services`).
    pub services: Services,
    /// HTTP settings.
    pub config: Arc<WebConfig>,
}

impl AppState {
    /// State over `services` with `config`.
    pub fn new(services: Services, config: WebConfig) -> Self {
        Self {
            services,
            config: Arc::new(config),
        }
    }

    /// The identity use cases' dependencies.
    pub fn deps(&self) -> myqcm_services::identity::Deps {
        self.services.deps()
    }
}

/// The complete application router with its middleware stack.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let mut api = Router::new().route("/openapi.json", get(openapi::document));
    if config.test_routes {
        api = api.merge(test_routes::router());
    }
    api = api
        .merge(api::auth::router(config.test_routes))
        .merge(api::account::router())
        .merge(api::admin_users::router())
        .merge(api::audit::router())
        .merge(auth::google::router())
        .merge(api::catalogue::router())
        .merge(api::commerce::router())
        .merge(api::jobs::router())
        .merge(api::progress::router())
        .merge(api::training::router())
        .merge(api::payments::router())
        .merge(api::ledger::router())
        .merge(api::ai::router())
        .merge(api::ai_kcs::router())
        .merge(api::ai_grading::router())
        .merge(api::ai_usage::router());
    let mut pages = pages::router();
    if config.test_routes {
        pages = pages.merge(test_routes::pages());
    }
    let app = Router::new()
        .merge(pages)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .nest("/api/v1", api)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::session::prepare,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::csrf::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            areas::gate,
        ))
        .layer(axum::middleware::from_fn(input::reject_control_characters))
        .with_state(state);
    middleware::stack(app, &config)
}

/// The private metrics listener's router: `GET /metrics` (Prometheus text), 404 elsewhere.
/// It is never mounted on the public listener.
pub fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(observability::metrics))
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
