//! `/api/v1/admin/jobs…`: background jobs for operators (scope `operations` or `super`): list,
//! show with progress, retry a dead job, cancel. Retry and cancel need a recent TOTP step-up
//! and are audited. Payloads are never shown. Every rule lives in `myqcm_services::jobs`.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt as _;
use myqcm_domain::codes;
use myqcm_services::identity::flows;
use myqcm_services::jobs::{self, JobEvent, JobQuery, JobView, JobsError, Operator};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::catalogue::actor;
use crate::auth::CurrentUser;
use crate::error::{FieldError, Problem};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/jobs", get(list))
        .route("/admin/jobs/{id}", get(show))
        .route("/admin/jobs/{id}/events", get(events))
        .route("/admin/jobs/{id}/retry", post(retry))
        .route("/admin/jobs/{id}/cancel", post(cancel))
}

/// The caller as the jobs use cases see it.
pub(crate) fn operator(s: &AppState, u: &CurrentUser) -> Operator {
    Operator {
        actor: actor(u),
        mfa_enrolled: u.mfa_enrolled,
        recent_mfa: flows::recent_mfa(&s.services.deps(), u.principal()),
        meta: u.meta().clone(),
    }
}

impl From<JobsError> for WebError {
    fn from(e: JobsError) -> Self {
        jobs_error(e)
    }
}

/// Maps a jobs failure to the API's error vocabulary.
pub(crate) fn jobs_error(e: JobsError) -> WebError {
    match e {
        JobsError::NotFound => WebError::code(codes::NOT_FOUND),
        JobsError::Forbidden => WebError::code(codes::FORBIDDEN),
        JobsError::MfaEnrolmentRequired => WebError::code(codes::MFA_ENROLMENT_REQUIRED),
        JobsError::StepUpRequired => WebError::code(codes::STEP_UP_REQUIRED),
        JobsError::WrongState(m) => WebError::with_detail(codes::CONFLICT, m),
        JobsError::Invalid { field, message } => WebError::Known {
            code: codes::VALIDATION_FAILED,
            detail: None,
            errors: Some(vec![FieldError {
                field: field.into(),
                code: "invalid".into(),
                message,
            }]),
        },
        JobsError::Store(e) => WebError::Internal(anyhow::anyhow!(e)),
    }
}

/// `?status=&kind=&limit=&offset=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsParams {
    /// `queued`, `running`, `done`, `dead` or `cancelled`.
    pub status: Option<String>,
    /// A job kind, e.g. `mail.send`.
    pub kind: Option<String>,
    /// Page size (default 50, at most 200).
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: Option<u64>,
}

/// Lists jobs, newest first.
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin", params(JobsParams),
    responses((status = 200, body = [JobView]), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(p): Query<JobsParams>,
) -> Result<Json<Vec<JobView>>, WebError> {
    let query = JobQuery {
        status: p.status,
        kind: p.kind,
        limit: p.limit,
        offset: p.offset,
    };
    jobs::list(&s.services.db, &operator(&s, &user), &query)
        .await
        .map(Json)
        .map_err(jobs_error)
}

/// One job with its progress.
#[utoipa::path(get, path = "/api/v1/admin/jobs/{id}", tag = "admin",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn show(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<JobView>, WebError> {
    jobs::show(&s.services.db, &operator(&s, &user), &id)
        .await
        .map(Json)
        .map_err(jobs_error)
}

/// Puts a dead job back in the queue with a fresh attempt budget (step-up required).
#[utoipa::path(post, path = "/api/v1/admin/jobs/{id}/retry", tag = "admin",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<JobView>, WebError> {
    jobs::retry(
        &s.services.db,
        s.services.clock.as_ref(),
        &operator(&s, &user),
        &id,
    )
    .await
    .map(Json)
    .map_err(jobs_error)
}

/// Cancels a job (step-up required): a queued job never runs; a running one stops at its next
/// checkpoint and ends `cancelled`.
#[utoipa::path(post, path = "/api/v1/admin/jobs/{id}/cancel", tag = "admin",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<JobView>, WebError> {
    jobs::cancel(
        &s.services.db,
        s.services.clock.as_ref(),
        &operator(&s, &user),
        &id,
    )
    .await
    .map(Json)
    .map_err(jobs_error)
}

/// The job's live progress as server-sent events (`event: job`, data: [`JobEvent`]): its
/// state now, then each change announced by a worker on any instance, until it is done, dead
/// or cancelled (then the stream ends).
#[utoipa::path(get, path = "/api/v1/admin/jobs/{id}/events", tag = "admin",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, content_type = "text/event-stream", body = JobEvent,
        description = "One `job` event per change"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn events(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, WebError> {
    let stream = jobs::watch(
        &s.services.db,
        &*s.services.cache,
        &operator(&s, &user),
        &id,
    )
    .await
    .map_err(jobs_error)?;
    Ok(job_events(stream))
}

/// A job's progress as server-sent events: one `event: job` (data: [`JobEvent`]) per change,
/// kept alive, ending with the stream. Every job-progress route answers with it.
pub(crate) fn job_events<S>(
    stream: S,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>>
where
    S: futures::Stream<Item = JobEvent> + Send + 'static,
{
    Sse::new(stream.map(|e| {
        Ok(Event::default()
            .event("job")
            .json_data(&e)
            .unwrap_or_else(|_| Event::default().event("job")))
    }))
    .keep_alive(KeepAlive::default())
}
