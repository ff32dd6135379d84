//! The training JSON API: the learner profile (onboarding), learning modes, and training
//! sessions under `/api/v1/training-sessions/…` (create, list, read with the current item,
//! answer, skip, flag, note, pause, resume, finish, summary, review).
//!
//! `POST /training-sessions/{id}/answers` is the round trip of the benchmarks: one request
//! stores the attempt and returns the grade, the feedback the practice style allows and the
//! next item (or the end). Every rule — ownership (another learner's session is 404),
//! exactly-once answers, what may be disclosed when — lives in `myqcm_services::training`;
//! these handlers extract, call one use case and shape the response. Learners need a verified
//! email ([`VerifiedUser`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use myqcm_domain::permissions::Action;
use myqcm_services::training::views::{
    AnswerInput, AnswerOutcome, EndView, ModeInput, ModeView, NewSessionInput, Next, ProfileInput,
    ProfileView, ReviewedItem, SessionListRow, SessionView, SummaryView,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::catalogue::{actor, parse_body};
use crate::auth::{CurrentUser, VerifiedUser};
use crate::error::{ApiJson, Problem};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/learner/profile", get(profile).put(set_profile))
        .route("/learning-modes", get(modes))
        .route("/learning-modes/{code}", put(set_mode))
        .route("/training-sessions", post(create).get(list))
        .route("/training-sessions/{id}", get(show))
        .route("/training-sessions/{id}/current", get(current))
        .route("/training-sessions/{id}/answers", post(answer))
        .route("/training-sessions/{id}/skip", post(skip))
        .route("/training-sessions/{id}/items/{served_id}/flag", put(flag))
        .route("/training-sessions/{id}/items/{served_id}/note", put(note))
        .route("/training-sessions/{id}/pause", post(pause))
        .route("/training-sessions/{id}/resume", post(resume))
        .route("/training-sessions/{id}/finish", post(finish))
        .route("/training-sessions/{id}/summary", get(summary))
        .route("/training-sessions/{id}/review", get(review))
}

/// `GET /api/v1/learner/profile`: the caller's onboarding answers (defaults before onboarding).
#[utoipa::path(get, path = "/api/v1/learner/profile", tag = "training",
    responses((status = 200, body = ProfileView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn profile(
    State(s): State<AppState>,
    user: VerifiedUser,
) -> Result<Json<ProfileView>, WebError> {
    Ok(Json(s.services.training.profile(&actor(&user)).await?))
}

/// `PUT /api/v1/learner/profile`: sets university, faculty, year, exam date, daily budget and
/// preferred mode.
#[utoipa::path(put, path = "/api/v1/learner/profile", tag = "training", request_body = ProfileInput,
    responses((status = 200, body = ProfileView), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn set_profile(
    State(s): State<AppState>,
    user: VerifiedUser,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<Json<ProfileView>, WebError> {
    let t = &s.services.training;
    Ok(Json(t.set_profile(&actor(&user), input).await?))
}

/// `GET /api/v1/learning-modes`: the modes (custom, guided, intelligent…) with their definers.
#[utoipa::path(get, path = "/api/v1/learning-modes", tag = "training",
    responses((status = 200, body = [ModeView]), (status = 401, body = Problem)))]
pub async fn modes(
    State(s): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<Vec<ModeView>>, WebError> {
    Ok(Json(s.services.training.modes().await?))
}

/// `PUT /api/v1/learning-modes/{code}`: creates or edits a mode (content admins).
#[utoipa::path(put, path = "/api/v1/learning-modes/{code}", tag = "training",
    params(("code" = String, Path)), request_body = ModeInput,
    responses((status = 200, body = ModeView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_mode(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<ModeView>, WebError> {
    // 403 before the body is judged, so its shape is not disclosed to learners.
    user.require(Action::CatalogueManage)?;
    let input: ModeInput = parse_body(body)?;
    let t = &s.services.training;
    Ok(Json(t.set_mode(&actor(&user), &code, input).await?))
}

/// `POST /api/v1/training-sessions`: starts a session (mode, style, filters, count, timing)
/// and serves its first item. 422 `nothing_to_serve` lists the filters worth widening.
#[utoipa::path(post, path = "/api/v1/training-sessions", tag = "training", request_body = NewSessionInput,
    responses((status = 201, body = SessionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    user: VerifiedUser,
    ApiJson(input): ApiJson<NewSessionInput>,
) -> Result<(StatusCode, Json<SessionView>), WebError> {
    let view = s
        .services
        .training
        .create_session(&actor(&user), input)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `?before=&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only sessions created strictly before this instant (RFC 3339), for paging.
    pub before: Option<DateTime<Utc>>,
    /// Page size (default 20, at most 100).
    pub limit: Option<u64>,
}

/// `GET /api/v1/training-sessions`: the caller's sessions, newest first.
#[utoipa::path(get, path = "/api/v1/training-sessions", tag = "training", params(ListQuery),
    responses((status = 200, body = [SessionListRow]), (status = 401, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    user: VerifiedUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<SessionListRow>>, WebError> {
    let t = &s.services.training;
    let rows = t
        .sessions(&actor(&user), q.before, q.limit.unwrap_or(20))
        .await?;
    Ok(Json(rows))
}

/// `GET /api/v1/training-sessions/{id}`: the session with the item waiting for an answer
/// (resume) or why it ended.
#[utoipa::path(get, path = "/api/v1/training-sessions/{id}", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = Problem)))]
pub async fn show(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, WebError> {
    Ok(Json(s.services.training.session(&actor(&user), id).await?))
}

/// `GET /api/v1/training-sessions/{id}/current`: only the item waiting for an answer, or the end.
#[utoipa::path(get, path = "/api/v1/training-sessions/{id}/current", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = Next), (status = 404, body = Problem)))]
pub async fn current(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Next>, WebError> {
    let view = s.services.training.session(&actor(&user), id).await?;
    Ok(Json(match (view.current, view.end) {
        (Some(item), _) => Next::Item(Box::new(item)),
        (None, end) => Next::End(end.unwrap_or(EndView {
            reason: view.status,
            widen: vec![],
        })),
    }))
}

/// `POST /api/v1/training-sessions/{id}/answers`: stores the answer to the current item (once:
/// a repeat returns the stored result with `repeat: true`) and returns the grade, the feedback
/// the style allows (none in exams until the end) and the next item or the end.
#[utoipa::path(post, path = "/api/v1/training-sessions/{id}/answers", tag = "training",
    params(("id" = Uuid, Path)), request_body = AnswerInput,
    responses((status = 200, body = AnswerOutcome), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn answer(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<AnswerInput>,
) -> Result<Json<AnswerOutcome>, WebError> {
    let t = &s.services.training;
    Ok(Json(t.answer(&actor(&user), id, input).await?))
}

/// The served item a skip, flag or note is about.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipInput {
    /// `served_id` of the current item.
    pub served_id: Uuid,
}

/// `POST /api/v1/training-sessions/{id}/skip`: skips the current item; returns the next one.
#[utoipa::path(post, path = "/api/v1/training-sessions/{id}/skip", tag = "training",
    params(("id" = Uuid, Path)), request_body = SkipInput,
    responses((status = 200, body = Next), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn skip(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<SkipInput>,
) -> Result<Json<Next>, WebError> {
    let t = &s.services.training;
    Ok(Json(t.skip(&actor(&user), id, input.served_id).await?))
}

/// Flag or unflag.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagInput {
    /// Flagged.
    pub flagged: bool,
}

/// `PUT /api/v1/training-sessions/{id}/items/{served_id}/flag`.
#[utoipa::path(put, path = "/api/v1/training-sessions/{id}/items/{served_id}/flag", tag = "training",
    params(("id" = Uuid, Path), ("served_id" = Uuid, Path)), request_body = FlagInput,
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn flag(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path((id, served)): Path<(Uuid, Uuid)>,
    ApiJson(input): ApiJson<FlagInput>,
) -> Result<StatusCode, WebError> {
    let t = &s.services.training;
    t.flag(&actor(&user), id, served, input.flagged).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A personal note (empty clears it).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// Text, at most 5,000 characters.
    pub text: String,
}

/// `PUT /api/v1/training-sessions/{id}/items/{served_id}/note`.
#[utoipa::path(put, path = "/api/v1/training-sessions/{id}/items/{served_id}/note", tag = "training",
    params(("id" = Uuid, Path), ("served_id" = Uuid, Path)), request_body = NoteInput,
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn note(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path((id, served)): Path<(Uuid, Uuid)>,
    ApiJson(input): ApiJson<NoteInput>,
) -> Result<StatusCode, WebError> {
    let t = &s.services.training;
    t.note(&actor(&user), id, served, &input.text).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/training-sessions/{id}/pause` (409 `no_pause` for full mocks).
#[utoipa::path(post, path = "/api/v1/training-sessions/{id}/pause", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn pause(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, WebError> {
    Ok(Json(s.services.training.pause(&actor(&user), id).await?))
}

/// `POST /api/v1/training-sessions/{id}/resume`: the paused time is not counted.
#[utoipa::path(post, path = "/api/v1/training-sessions/{id}/resume", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn resume(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, WebError> {
    Ok(Json(s.services.training.resume(&actor(&user), id).await?))
}

/// `POST /api/v1/training-sessions/{id}/finish`: ends the session now; returns the summary.
#[utoipa::path(post, path = "/api/v1/training-sessions/{id}/finish", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = SummaryView), (status = 404, body = Problem)))]
pub async fn finish(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<SummaryView>, WebError> {
    Ok(Json(s.services.training.finish(&actor(&user), id).await?))
}

/// `GET /api/v1/training-sessions/{id}/summary`: % correct, mean score, time, per-KC results.
#[utoipa::path(get, path = "/api/v1/training-sessions/{id}/summary", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = SummaryView), (status = 404, body = Problem)))]
pub async fn summary(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<SummaryView>, WebError> {
    Ok(Json(s.services.training.summary(&actor(&user), id).await?))
}

/// `GET /api/v1/training-sessions/{id}/review`: every served item with the learner's answer,
/// and keys and explanations for closed items (exam sessions: once over).
#[utoipa::path(get, path = "/api/v1/training-sessions/{id}/review", tag = "training", params(("id" = Uuid, Path)),
    responses((status = 200, body = [ReviewedItem]), (status = 404, body = Problem)))]
pub async fn review(
    State(s): State<AppState>,
    user: VerifiedUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<ReviewedItem>>, WebError> {
    Ok(Json(s.services.training.review(&actor(&user), id).await?))
}
