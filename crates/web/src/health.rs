//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::AppState;

/// Probe answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Per-dependency state (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
}

/// Dependencies checked by readiness.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Checks {
    /// `ok` or `unavailable`.
    pub database: &'static str,
    /// `ok` or `unavailable`.
    pub cache: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "The process answers", body = Health)))]
pub async fn live() -> Json<Health> {
    Json(Health {
        status: "ok",
        checks: None,
    })
}

/// The process can serve traffic: the database and the cache answer.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "A dependency is unreachable", body = Health)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let r = state.services.readiness().await;
    let label = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = Health {
        status: label(r.ok()),
        checks: Some(Checks {
            database: label(r.database),
            cache: label(r.cache),
        }),
    };
    let status = if r.ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
