//! `/api/v1/ai/generations…`: an author uploads a document and asks for drafts (issue 15). The
//! request runs as the `ai.generate` job; its requester follows it by polling or by server-sent
//! events. Answers 404 when no language model is configured. Every rule lives in
//! `myqcm_services::ai::requests`.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_domain::codes;
use myqcm_services::ai::requests::{self, GenerationRequest, GenerationView, RequestError};
use myqcm_services::jobs::JobEvent;
use uuid::Uuid;

use crate::api::catalogue::actor;
use crate::auth::CurrentUser;
use crate::error::{FieldError, Problem};
use crate::input::PageFields;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ai/generations", post(start))
        .route("/ai/generations/{id}", get(show))
        .route("/ai/generations/{id}/events", get(events))
}

impl From<RequestError> for WebError {
    fn from(e: RequestError) -> Self {
        let field = |field: &str, message: String| WebError::Known {
            code: codes::VALIDATION_FAILED,
            detail: Some(message.clone()),
            errors: Some(vec![FieldError {
                field: field.into(),
                code: "invalid".into(),
                message,
            }]),
        };
        match e {
            RequestError::Unavailable | RequestError::NotFound => Self::code(codes::NOT_FOUND),
            RequestError::Forbidden => Self::code(codes::FORBIDDEN),
            RequestError::Invalid { field: f, message } => field(f, message),
            RequestError::Document(d) => field("file", d.to_string()),
            RequestError::DailyLimit(l) => l.into(),
            e @ (RequestError::Store(_) | RequestError::Blob(_)) => Self::internal(e),
        }
    }
}

/// Every value of field `name`.
fn all<'a>(fields: &'a PageFields, name: &'a str) -> impl Iterator<Item = &'a str> {
    fields
        .pairs
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The first value of field `name`.
fn one<'a>(fields: &'a PageFields, name: &'a str) -> Option<&'a str> {
    all(fields, name).next()
}

/// A count field: empty is 0.
fn count(fields: &PageFields, name: &'static str) -> Result<u32, RequestError> {
    let v = one(fields, name).unwrap_or("").trim();
    if v.is_empty() {
        return Ok(0);
    }
    v.parse().map_err(|_| RequestError::Invalid {
        field: name,
        message: format!("{name} is a whole number from 0 to 100"),
    })
}

/// The form's fields as a request (KCs: repeated `kcs` fields or one comma-separated list).
pub(crate) fn request_of(fields: &PageFields) -> Result<GenerationRequest, RequestError> {
    let kcs = all(fields, "kcs")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(GenerationRequest {
        course: one(fields, "course").unwrap_or("").to_owned(),
        kcs,
        qcs: count(fields, "qcs")?,
        qcm: count(fields, "qcm")?,
        qroc: count(fields, "qroc")?,
        difficulty: one(fields, "difficulty").unwrap_or("medium").to_owned(),
        language: one(fields, "language").unwrap_or("").to_owned(),
    })
}

/// Asks for drafts from a document (`multipart/form-data`: `file`, `course`, `kcs`, `qcs`,
/// `qcm`, `qroc`, `difficulty`, `language`); the work runs as a background job.
#[utoipa::path(post, path = "/api/v1/ai/generations", tag = "authoring",
    request_body(content_type = "multipart/form-data", description = "file, course, kcs, qcs, qcm, qroc, difficulty (easy|medium|hard), language (fr|ar|en)"),
    responses((status = 202, body = GenerationView),
        (status = 403, body = Problem, description = "not an author, or `quota_exhausted`: the daily token limit is reached"),
        (status = 404, body = Problem, description = "AI generation is not configured"),
        (status = 422, body = Problem)))]
pub async fn start(
    State(s): State<AppState>,
    user: CurrentUser,
    fields: PageFields,
) -> Result<(StatusCode, Json<GenerationView>), WebError> {
    let req = request_of(&fields)?;
    let document = fields.file.map(|f| f.bytes).unwrap_or_default();
    let view = requests::start(
        &s.services.db,
        s.services.blobs.as_ref(),
        s.services.llm.is_some(),
        s.services.llm_usage,
        &actor(&user),
        document,
        req,
        s.services.clock.now(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// A generation request: status, progress and, once done, the summary.
#[utoipa::path(get, path = "/api/v1/ai/generations/{id}", tag = "authoring",
    params(("id" = Uuid, Path, description = "Request id")),
    responses((status = 200, body = GenerationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn show(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<GenerationView>, WebError> {
    let llm = s.services.llm.is_some();
    Ok(Json(
        requests::get(&s.services.db, llm, &actor(&user), id).await?,
    ))
}

/// The request's live progress as server-sent events (`event: job`, data: [`JobEvent`]), until
/// the job ends.
#[utoipa::path(get, path = "/api/v1/ai/generations/{id}/events", tag = "authoring",
    params(("id" = Uuid, Path, description = "Request id")),
    responses((status = 200, content_type = "text/event-stream", body = JobEvent,
        description = "One `job` event per change"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn events(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, WebError> {
    let (db, cache) = (&s.services.db, &*s.services.cache);
    let llm = s.services.llm.is_some();
    let stream = requests::watch(db, cache, llm, &actor(&user), id).await?;
    Ok(crate::api::jobs::job_events(stream))
}
