//! `GET /api/v1/review/attempts` (the QROC answers the language model graded, awaits or failed
//! on) and `POST /api/v1/review/attempts/{id}/grade`: a reviewer overrides the grade of a QROC
//! answer (issue 15, QROC grading assistance; audited by the use case). 404 when no language model is
//! configured. Every rule lives in `myqcm_services::ai::grading`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_domain::codes;
use myqcm_services::ai::grading::{self, AssistedAnswerView, GradingError, RegradeView};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::catalogue::{actor, parse_body};
use crate::auth::CurrentUser;
use crate::error::Problem;
use crate::input::ApiJson;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review/attempts", get(assisted))
        .route("/review/attempts/{id}/grade", post(override_grade))
}

impl From<GradingError> for WebError {
    fn from(e: GradingError) -> Self {
        match e {
            GradingError::Unavailable | GradingError::NotFound => Self::code(codes::NOT_FOUND),
            GradingError::Forbidden => Self::code(codes::FORBIDDEN),
            GradingError::MfaEnrolmentRequired => Self::code(codes::MFA_ENROLMENT_REQUIRED),
            GradingError::Invalid {
                field,
                code,
                message,
            } => Self::invalid_field(field, code, message),
            e @ GradingError::Store(_) => Self::internal(e),
        }
    }
}

/// The reviewer's grade.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GradeBody {
    /// Whether the answer is correct.
    pub correct: bool,
    /// Why the grade changes (required, at most 500 characters; kept in the audit log).
    #[serde(default)]
    pub reason: String,
}

/// Overrides the grade of a QROC answer with a reason (reviewers; audited as
/// `training.attempt_regrade`).
#[utoipa::path(post, path = "/api/v1/review/attempts/{id}/grade", tag = "authoring",
    params(("id" = Uuid, Path, description = "Attempt id")), request_body = GradeBody,
    responses((status = 200, body = RegradeView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn override_grade(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<Json<RegradeView>, WebError> {
    let b: GradeBody = parse_body(b)?;
    let (db, now, llm) = (
        &s.services.db,
        s.services.clock.now(),
        s.services.llm.is_some(),
    );
    let v = grading::override_grade(db, llm, &actor(&user), id, b.correct, &b.reason, now).await?;
    Ok(Json(v))
}

/// The newest 100 QROC answers the language model graded, is waiting to grade, or failed on
/// (reviewers), to check and override.
#[utoipa::path(get, path = "/api/v1/review/attempts", tag = "authoring",
    responses((status = 200, body = [AssistedAnswerView]), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn assisted(
    State(s): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<AssistedAnswerView>>, WebError> {
    let llm = s.services.llm.is_some();
    Ok(Json(
        grading::assisted(&s.services.db, llm, &actor(&user)).await?,
    ))
}
