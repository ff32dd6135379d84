//! The learner's progress (`/api/v1/progress…`): mastery per subject and KC with confidence,
//! accuracy trend, streak, reviews due and their forecast, predicted exam score, XP, level and
//! rank. Read-only; the use cases are in `myqcm_services::training::progress`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use myqcm_domain::codes;
use myqcm_services::training::progress::{ProgressError, ProgressView, SubjectDetail};
use uuid::Uuid;

use super::catalogue::actor;
use crate::auth::VerifiedUser;
use crate::error::Problem;
use crate::{AppState, WebError};

/// Progress routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/progress", get(overview))
        .route("/progress/subjects/{id}", get(subject))
}

impl From<ProgressError> for WebError {
    fn from(e: ProgressError) -> Self {
        match e {
            ProgressError::NotFound => Self::code(codes::NOT_FOUND),
            ProgressError::Forbidden => Self::code(codes::FORBIDDEN),
            e @ ProgressError::Store(_) => Self::internal(e),
            e @ ProgressError::Unavailable(_) => {
                tracing::warn!(error = %e, "backend unavailable");
                Self::code(codes::UNAVAILABLE)
            }
        }
    }
}

/// `GET /api/v1/progress`: the caller's progress overview.
#[utoipa::path(get, path = "/api/v1/progress", tag = "progress",
    responses((status = 200, body = ProgressView), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn overview(
    State(s): State<AppState>,
    user: VerifiedUser,
) -> Result<Json<ProgressView>, WebError> {
    Ok(Json(s.services.progress().overview(&actor(&user)).await?))
}

/// `GET /api/v1/progress/subjects/{id}`: one subject, every KC with its mastery band.
#[utoipa::path(get, path = "/api/v1/progress/subjects/{id}", tag = "progress",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SubjectDetail), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn subject(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<SubjectDetail>, WebError> {
    Ok(Json(
        s.services.progress().subject(&actor(&user), id).await?,
    ))
}
