//! Item quality routes: an item's analysis for its author and reviewers, and the review queue's
//! quality alerts (likely miskey, possible leak, drift, DIF of a translation).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_services::catalogue::quality::{self as svc, AlertView, ItemQuality};
use serde::Deserialize;
use uuid::Uuid;

use super::actor;
use crate::auth::CurrentUser;
use crate::error::Problem;
use crate::{AppState, WebError};

/// Quality routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authoring/items/{id}/quality", get(item_quality))
        .route("/review/alerts", get(alerts))
        .route("/review/alerts/{id}/{code}/dismiss", post(dismiss))
}

/// `GET /api/v1/authoring/items/{id}/quality`: difficulty, point-biserial, distractors by
/// ability band, recent shift, parameters in use and alerts.
#[utoipa::path(get, path = "/api/v1/authoring/items/{id}/quality", tag = "authoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = ItemQuality), (status = 404, body = Problem)))]
pub async fn item_quality(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<ItemQuality>, WebError> {
    Ok(Json(
        svc::item_quality(&s.services.db, &actor(&user), id).await?,
    ))
}

/// `?limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// At most this many (1–500, default 100).
    pub limit: Option<u64>,
}

/// `GET /api/v1/review/alerts`: open quality alerts, newest first (reviewers).
#[utoipa::path(get, path = "/api/v1/review/alerts", tag = "admin", params(AlertsQuery),
    responses((status = 200, body = Vec<AlertView>), (status = 403, body = Problem)))]
pub async fn alerts(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<AlertsQuery>,
) -> Result<Json<Vec<AlertView>>, WebError> {
    let limit = q.limit.unwrap_or(100);
    Ok(Json(
        svc::open_alerts(&s.services.db, &actor(&user), limit).await?,
    ))
}

/// `POST /api/v1/review/alerts/{id}/{code}/dismiss`: a reviewer has looked at the item.
#[utoipa::path(post, path = "/api/v1/review/alerts/{id}/{code}/dismiss", tag = "admin",
    params(("id" = Uuid, Path), ("code" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn dismiss(
    State(s): State<AppState>,
    user: CurrentUser,
    Path((id, code)): Path<(Uuid, String)>,
) -> Result<StatusCode, WebError> {
    let now = s.services.clock.now();
    svc::dismiss_alert(&s.services.db, &actor(&user), id, &code, now).await?;
    Ok(StatusCode::NO_CONTENT)
}
