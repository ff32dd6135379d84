//! `GET /api/v1/ai/usage` (the caller's own language-model usage: today against the daily
//! limit, the last 30 days, the newest calls and their requests) and `GET /api/v1/ai/usage/all`
//! (everyone's, per day, author and kind; content and finance admins). 404 when no language
//! model is configured. Every rule lives in `myqcm_services::ai::usage`; a call refused by the
//! daily limit answers 403 `quota_exhausted` with `feature` = `llm_daily_tokens`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use myqcm_domain::codes;
use myqcm_services::ai::usage::{self, AllUsage, DailyLimit, MyUsage, UsageError};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::catalogue::actor;
use crate::auth::CurrentUser;
use crate::error::{FieldError, Problem};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ai/usage", get(mine))
        .route("/ai/usage/all", get(all))
}

/// The `feature` named by a daily-limit refusal.
pub const FEATURE: &str = "llm_daily_tokens";

impl From<DailyLimit> for WebError {
    fn from(l: DailyLimit) -> Self {
        let resets = l
            .resets_at
            .with_timezone(&myqcm_domain::localtime::algeria())
            .to_rfc3339();
        WebError::Known {
            code: codes::QUOTA_EXHAUSTED,
            detail: Some(format!(
                "feature: {FEATURE}; {} of {} tokens used today; resets at {resets}",
                l.used, l.limit
            )),
            errors: Some(vec![
                FieldError {
                    field: "feature".into(),
                    code: "quota_exhausted".into(),
                    message: FEATURE.into(),
                },
                FieldError {
                    field: "resets_at".into(),
                    code: "resets_at".into(),
                    message: resets,
                },
            ]),
        }
    }
}

impl From<UsageError> for WebError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Unavailable => Self::code(codes::NOT_FOUND),
            UsageError::Forbidden => Self::code(codes::FORBIDDEN),
            UsageError::Limit(l) => l.into(),
            e @ UsageError::Store(_) => Self::internal(e),
        }
    }
}

/// The caller's own language-model usage (authors, reviewers, content admins).
#[utoipa::path(get, path = "/api/v1/ai/usage", tag = "authoring",
    responses((status = 200, body = MyUsage), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "AI assistance is not configured")))]
pub async fn mine(State(s): State<AppState>, user: CurrentUser) -> Result<Json<MyUsage>, WebError> {
    let sv = &s.services;
    Ok(Json(
        usage::mine(
            &sv.db,
            sv.llm_usage,
            sv.llm.is_some(),
            &actor(&user),
            sv.clock.now(),
        )
        .await?,
    ))
}

/// Query of [`all`].
#[derive(Debug, Deserialize, IntoParams)]
pub struct DaysQuery {
    /// Days back from today, 1 to 90 (default 30).
    pub days: Option<i64>,
}

/// Everyone's language-model usage per day, author and kind (content and finance admins);
/// calls billed to no author (QROC grades, erased accounts) have no `author_id`.
#[utoipa::path(get, path = "/api/v1/ai/usage/all", tag = "authoring", params(DaysQuery),
    responses((status = 200, body = AllUsage), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn all(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<DaysQuery>,
) -> Result<Json<AllUsage>, WebError> {
    let sv = &s.services;
    Ok(Json(
        usage::all(
            &sv.db,
            sv.llm_usage,
            sv.llm.is_some(),
            &actor(&user),
            q.days.unwrap_or(30),
            sv.clock.now(),
        )
        .await?,
    ))
}
