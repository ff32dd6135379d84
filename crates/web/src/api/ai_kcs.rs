//! `/api/v1/ai/kc-suggestions…` and `/api/v1/ai/kc-suggestion-runs…`: KC suggestions by a
//! language model for one item (saved or being written), the reviewer's decision on a stored
//! suggestion, and bulk runs over a course as the `ai.suggest_kcs` job (issue 15). Every route
//! answers 404 when no language model is configured. Every rule lives in
//! `myqcm_services::ai::kcs`.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_domain::catalogue::ItemContent;
use myqcm_domain::codes;
use myqcm_domain::ports::LlmError;
use myqcm_services::ai::kcs::{self, Decision, KcError, RunView, SuggestionsView, Target};
use myqcm_services::ai::usage::Billing;
use myqcm_services::jobs::JobEvent;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::catalogue::{actor, parse_body};
use crate::auth::CurrentUser;
use crate::error::{FieldError, Problem};
use crate::input::ApiJson;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ai/kc-suggestions", post(suggest))
        .route("/ai/kc-suggestions/{item}", get(stored))
        .route("/ai/kc-suggestions/{item}/decisions", post(decide))
        .route("/ai/kc-suggestion-runs", post(start_run))
        .route("/ai/kc-suggestion-runs/{id}", get(show_run))
        .route("/ai/kc-suggestion-runs/{id}/events", get(run_events))
}

impl From<KcError> for WebError {
    fn from(e: KcError) -> Self {
        match e {
            KcError::Unavailable | KcError::NotFound => Self::code(codes::NOT_FOUND),
            KcError::Forbidden => Self::code(codes::FORBIDDEN),
            KcError::Invalid { field, message } => WebError::Known {
                code: codes::VALIDATION_FAILED,
                detail: Some(message.clone()),
                errors: Some(vec![FieldError {
                    field: field.into(),
                    code: "invalid".into(),
                    message,
                }]),
            },
            KcError::Catalogue(c) => c.into(),
            KcError::Model(LlmError::Timeout) => Self::code(codes::TIMEOUT),
            KcError::Model(m) => Self::with_detail(codes::UNAVAILABLE, m.to_string()),
            KcError::DailyLimit(l) => l.into(),
            e @ KcError::Store(_) => Self::internal(e),
        }
    }
}

/// 404 before the body is read when no model is configured (the routes do not exist then).
fn available(s: &AppState) -> Result<(), WebError> {
    if s.services.llm.is_some() {
        Ok(())
    } else {
        Err(KcError::Unavailable.into())
    }
}

/// What to suggest KCs for: a saved `item`, or a `course` code and the `content` being written.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SuggestBody {
    /// A saved item (its suggestions are stored for the review page).
    #[serde(default)]
    pub item: Option<Uuid>,
    /// Course code of an item being written.
    #[serde(default)]
    pub course: Option<String>,
    /// Content of an item being written (as the authoring API takes it).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub content: Option<ItemContent>,
}

impl SuggestBody {
    fn target(self) -> Result<Target, KcError> {
        match (self.item, self.course, self.content) {
            (Some(id), None, None) => Ok(Target::Item(id)),
            (None, Some(course), Some(content)) => Ok(Target::Draft {
                course,
                content: Box::new(content),
            }),
            _ => Err(KcError::Invalid {
                field: "item",
                message: "give either an item id, or a course and the content".into(),
            }),
        }
    }
}

/// KC suggestions for one item: the best three KCs of the item's course tree, with a score and
/// a confidence level. The model is called during the request.
#[utoipa::path(post, path = "/api/v1/ai/kc-suggestions", tag = "authoring",
    request_body = SuggestBody,
    responses((status = 200, body = SuggestionsView), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "Unknown item, or AI assistance is not configured"),
        (status = 422, body = Problem), (status = 503, body = Problem), (status = 504, body = Problem)))]
pub async fn suggest(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<Json<SuggestionsView>, WebError> {
    available(&s)?;
    let llm = s.services.llm.as_deref();
    let target = parse_body::<SuggestBody>(b)?.target()?;
    let now = s.services.clock.now();
    let billing = Billing {
        clock: s.services.clock.as_ref(),
        policy: s.services.llm_usage,
    };
    let v = kcs::suggest(&s.services.db, llm, billing, &actor(&user), target, now).await?;
    Ok(Json(v))
}

/// The stored suggestions of a saved item, with what reviewers decided.
#[utoipa::path(get, path = "/api/v1/ai/kc-suggestions/{item}", tag = "authoring",
    params(("item" = Uuid, Path, description = "Item id")),
    responses((status = 200, body = SuggestionsView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn stored(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(item): Path<Uuid>,
) -> Result<Json<SuggestionsView>, WebError> {
    let llm = s.services.llm.is_some();
    Ok(Json(
        kcs::stored_for(&s.services.db, llm, &actor(&user), item).await?,
    ))
}

/// A decision on a stored suggestion.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    /// KC code of the suggestion.
    pub kc: String,
    /// `add` (to the item's tags), `replace` (the item's only tag) or `ignore`.
    pub decision: String,
}

/// The decision named in a form or a body.
pub(crate) fn parse_decision(d: &str) -> Result<Decision, KcError> {
    match d {
        "add" | "accept" => Ok(Decision::Add),
        "replace" => Ok(Decision::Replace),
        "ignore" => Ok(Decision::Ignore),
        _ => Err(KcError::Invalid {
            field: "decision",
            message: "decision is add, replace or ignore".into(),
        }),
    }
}

/// Accepts (the KC is set on the item, audited) or ignores a stored suggestion.
#[utoipa::path(post, path = "/api/v1/ai/kc-suggestions/{item}/decisions", tag = "authoring",
    params(("item" = Uuid, Path, description = "Item id")), request_body = DecisionBody,
    responses((status = 200, body = SuggestionsView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn decide(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(item): Path<Uuid>,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<Json<SuggestionsView>, WebError> {
    available(&s)?;
    let b: DecisionBody = parse_body(b)?;
    let decision = parse_decision(&b.decision)?;
    let (db, now, llm) = (
        &s.services.db,
        s.services.clock.now(),
        s.services.llm.is_some(),
    );
    let v = kcs::decide(db, llm, &actor(&user), item, &b.kc, decision, now).await?;
    Ok(Json(v))
}

/// A bulk run over a course.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RunBody {
    /// Course code.
    pub course: String,
}

/// Suggests KCs for every item of a course as a background job (reviewers, content admins).
#[utoipa::path(post, path = "/api/v1/ai/kc-suggestion-runs", tag = "authoring",
    request_body = RunBody,
    responses((status = 202, body = RunView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn start_run(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<RunView>), WebError> {
    available(&s)?;
    let b: RunBody = parse_body(b)?;
    let (db, now, llm) = (
        &s.services.db,
        s.services.clock.now(),
        s.services.llm.is_some(),
    );
    let v = kcs::start_run(db, llm, &actor(&user), &b.course, now).await?;
    Ok((StatusCode::ACCEPTED, Json(v)))
}

/// A bulk run: status, progress and, once done, the summary.
#[utoipa::path(get, path = "/api/v1/ai/kc-suggestion-runs/{id}", tag = "authoring",
    params(("id" = Uuid, Path, description = "Run id")),
    responses((status = 200, body = RunView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn show_run(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<RunView>, WebError> {
    let llm = s.services.llm.is_some();
    Ok(Json(
        kcs::get_run(&s.services.db, llm, &actor(&user), id).await?,
    ))
}

/// The run's live progress as server-sent events (`event: job`), until the job ends.
#[utoipa::path(get, path = "/api/v1/ai/kc-suggestion-runs/{id}/events", tag = "authoring",
    params(("id" = Uuid, Path, description = "Run id")),
    responses((status = 200, content_type = "text/event-stream", body = JobEvent,
        description = "One `job` event per change"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn run_events(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, WebError> {
    let (db, cache) = (&s.services.db, &*s.services.cache);
    let llm = s.services.llm.is_some();
    let stream = kcs::watch_run(db, cache, llm, &actor(&user), id).await?;
    Ok(crate::api::jobs::job_events(stream))
}
