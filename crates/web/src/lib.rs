//! The HTTP layer of MyQCM (axum): HTML pages at `/…`, the JSON API under `/api/v1/…`,
//! `/health/*` and `/metrics`.
//!
//! Owns the middleware stack (request id, logs, metrics, timeouts, body limits, compression,
//! security headers, panic catching), the one mapping from errors to responses (problem+json
//! under `/api`, an HTML page elsewhere) and the OpenAPI document. Handlers stay thin: they
//! extract, call `services`/`db`, and shape the response.

pub mod api;
pub mod auth;
pub mod error;
pub mod health;
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
use myqcm_db::DatabaseConnection;
use myqcm_domain::Clock;
use myqcm_domain::ports::{BlobStore, Cache};

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
    /// Mounts routes that exist only for tests (a deliberate panic, a failing query). Never set
    /// by the binary.
    pub test_routes: bool,
    /// Identity settings (token lifetimes, CSRF key derived from `MYQCM_SECRET_KEY`).
    pub identity: auth::IdentitySettings,
    /// `MYQCM_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `MYQCM_EMAIL_VERIFICATION`: the verified-email guard is enforced.
    pub email_verification: bool,
    /// Google sign-in, when `MYQCM_GOOGLE_CLIENT_ID` is set.
    pub google: Option<Arc<myqcm_integrations::oidc::GoogleOidc>>,
}

impl WebConfig {
    /// Development defaults for `base`.
    pub fn development(base: url::Url) -> Self {
        Self {
            production: false,
            public_base_url: base.clone(),
            request_timeout: Duration::from_secs(30),
            body_limit: 2 * 1024 * 1024,
            test_routes: false,
            identity: Arc::new(myqcm_services::identity::IdentityConfig::new(
                myqcm_services::identity::testing::TEST_MASTER_SECRET,
                base.clone(),
            )),
            trusted_proxies: Vec::new(),
            email_verification: true,
            google: None,
        }
    }

    /// Whether the public URL is https (cookies, HSTS).
    pub fn https(&self) -> bool {
        self.public_base_url.scheme() == "https"
    }
}

/// Everything a handler may reach, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// Cache port.
    pub cache: Arc<dyn Cache>,
    /// Blob store port.
    pub blobs: Arc<dyn BlobStore>,
    /// Clock port.
    pub clock: Arc<dyn Clock>,
    /// HTTP settings.
    pub config: Arc<WebConfig>,
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
        .merge(api::jobs::router());
    let app = Router::new()
        .route("/", get(pages::landing))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(observability::metrics))
        .route("/static/{*path}", get(pages::asset))
        .route("/favicon.ico", get(pages::favicon))
        .nest("/api/v1", api)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::csrf::guard,
        ))
        .with_state(state);
    middleware::stack(app, &config)
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
