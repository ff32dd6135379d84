//! Authoring and review routes (`/api/v1/authoring/…`): drafts, revisions, lifecycle moves,
//! review comments, the reviewer preview (same renderer as learners) and image uploads.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use myqcm_domain::permissions::Action;
use myqcm_services::catalogue::images::{self, ImageView};
use myqcm_services::catalogue::views::{
    Page, ReviewEventView, RevisionView, StaffItemSummary, StaffItemView,
};
use myqcm_services::catalogue::{
    self as svc, EditInput, ItemQuery, NewCaseInput, NewItemInput, StaffCaseView,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::actor;
use crate::auth::CurrentUser;
use crate::error::{ApiJson, Problem};
use crate::{AppState, WebError};

/// Authoring routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authoring/items", get(list).post(create))
        .route("/authoring/items/{id}", get(show).put(edit))
        .route("/authoring/items/{id}/transitions", post(move_item))
        .route("/authoring/items/{id}/revisions", get(revisions))
        .route("/authoring/items/{id}/revisions/{rev}", get(revision))
        .route("/authoring/items/{id}/history", get(history))
        .route("/authoring/items/{id}/comments", post(comment))
        .route("/authoring/cases", post(create_case))
        .route("/authoring/cases/{id}", get(show_case))
        .route("/authoring/preview", post(preview))
        .route("/authoring/images", post(upload_image))
}

/// `GET /api/v1/authoring/items`: authors see their own items; reviewers and content admins
/// see all (filter `status=in_review` for the review queue).
#[utoipa::path(get, path = "/api/v1/authoring/items", tag = "authoring", params(ItemQuery),
    responses((status = 200, body = Page<StaffItemSummary>), (status = 403, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ItemQuery>,
) -> Result<Json<Page<StaffItemSummary>>, WebError> {
    let a = actor(&user);
    let f = svc::resolve_query(&s.services.db, &q).await?;
    Ok(Json(svc::search_staff(&s.services.db, &a, f).await?))
}

/// `POST /api/v1/authoring/items`: create a draft.
#[utoipa::path(post, path = "/api/v1/authoring/items", tag = "authoring", request_body = NewItemInput,
    responses((status = 201, body = StaffItemView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<NewItemInput>,
) -> Result<(StatusCode, Json<StaffItemView>), WebError> {
    let v = svc::create_item(&s.services.db, &actor(&user), b, s.services.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /api/v1/authoring/items/{id}`: the full item with key, explanations and preview.
#[utoipa::path(get, path = "/api/v1/authoring/items/{id}", tag = "authoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = StaffItemView), (status = 404, body = Problem)))]
pub async fn show(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<StaffItemView>, WebError> {
    Ok(Json(
        svc::get_staff(&s.services.db, &actor(&user), id).await?,
    ))
}

/// `PUT /api/v1/authoring/items/{id}`: write a new revision (own drafts; approved items for
/// reviewers and content admins, which sends them back to review).
#[utoipa::path(put, path = "/api/v1/authoring/items/{id}", tag = "authoring", params(("id" = Uuid, Path)), request_body = EditInput,
    responses((status = 200, body = StaffItemView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn edit(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<EditInput>,
) -> Result<Json<StaffItemView>, WebError> {
    Ok(Json(
        svc::edit_item(&s.services.db, &actor(&user), id, b, s.services.clock.now()).await?,
    ))
}

/// A lifecycle move.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MoveInput {
    /// `submit`, `withdraw`, `approve`, `reject` (changes requested), `decline` (refused for
    /// good), `retire`.
    pub action: String,
    /// Required for `reject` and `decline`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/v1/authoring/items/{id}/transitions`.
#[utoipa::path(post, path = "/api/v1/authoring/items/{id}/transitions", tag = "authoring", params(("id" = Uuid, Path)), request_body = MoveInput,
    responses((status = 200, body = StaffItemView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn move_item(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<MoveInput>,
) -> Result<Json<StaffItemView>, WebError> {
    let t = svc::parse_transition(&b.action)?;
    if let Some(action) = svc::transition_permission(t) {
        user.require(action)?;
    }
    Ok(Json(
        svc::transition(
            &s.services.db,
            &actor(&user),
            id,
            t,
            b.reason.as_deref(),
            s.services.clock.now(),
        )
        .await?,
    ))
}

/// `GET /api/v1/authoring/items/{id}/revisions`: every revision, oldest first.
#[utoipa::path(get, path = "/api/v1/authoring/items/{id}/revisions", tag = "authoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<RevisionView>), (status = 404, body = Problem)))]
pub async fn revisions(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<RevisionView>>, WebError> {
    Ok(Json(
        svc::revisions(&s.services.db, &actor(&user), id).await?,
    ))
}

/// `GET /api/v1/authoring/items/{id}/revisions/{rev}`: one revision, unchanged forever.
#[utoipa::path(get, path = "/api/v1/authoring/items/{id}/revisions/{rev}", tag = "authoring", params(("id" = Uuid, Path), ("rev" = Uuid, Path)),
    responses((status = 200, body = RevisionView), (status = 404, body = Problem)))]
pub async fn revision(
    State(s): State<AppState>,
    user: CurrentUser,
    Path((id, rev)): Path<(Uuid, Uuid)>,
) -> Result<Json<RevisionView>, WebError> {
    Ok(Json(
        svc::revision(&s.services.db, &actor(&user), id, rev).await?,
    ))
}

/// `GET /api/v1/authoring/items/{id}/history`: submissions, decisions with reasons, comments.
#[utoipa::path(get, path = "/api/v1/authoring/items/{id}/history", tag = "authoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<ReviewEventView>), (status = 404, body = Problem)))]
pub async fn history(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<ReviewEventView>>, WebError> {
    Ok(Json(svc::history(&s.services.db, &actor(&user), id).await?))
}

/// A review comment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CommentInput {
    /// Text (1–4000 characters).
    pub body: String,
}

/// `POST /api/v1/authoring/items/{id}/comments`.
#[utoipa::path(post, path = "/api/v1/authoring/items/{id}/comments", tag = "authoring", params(("id" = Uuid, Path)), request_body = CommentInput,
    responses((status = 201, body = ReviewEventView), (status = 404, body = Problem)))]
pub async fn comment(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<CommentInput>,
) -> Result<(StatusCode, Json<ReviewEventView>), WebError> {
    let e = svc::comment(
        &s.services.db,
        &actor(&user),
        id,
        &b.body,
        s.services.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// Markdown to preview.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PreviewInput {
    /// Markdown source.
    pub markdown: String,
}

/// Rendered, sanitized HTML.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewOutput {
    /// HTML (same renderer as learner pages).
    pub html: String,
}

/// `POST /api/v1/authoring/preview`: the reviewer/author preview, through the one renderer.
#[utoipa::path(post, path = "/api/v1/authoring/preview", tag = "authoring", request_body = PreviewInput, responses((status = 200, body = PreviewOutput)))]
pub async fn preview(
    user: CurrentUser,
    ApiJson(b): ApiJson<PreviewInput>,
) -> Result<Json<PreviewOutput>, WebError> {
    let a = actor(&user);
    if !a.can(Action::ItemAuthor) && !a.sees_all_items() {
        return Err(WebError::code(myqcm_domain::codes::FORBIDDEN));
    }
    Ok(Json(PreviewOutput {
        html: myqcm_services::markdown::render(&b.markdown),
    }))
}

/// `POST /api/v1/authoring/images`: raw PNG/JPEG/WebP body (type read from the content, ≤ 2 MiB).
#[utoipa::path(post, path = "/api/v1/authoring/images", tag = "authoring", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = ImageView), (status = 413, body = Problem), (status = 415, body = Problem)))]
pub async fn upload_image(
    State(s): State<AppState>,
    user: CurrentUser,
    body: Bytes,
) -> Result<(StatusCode, Json<ImageView>), WebError> {
    let v = images::upload(
        &s.services.db,
        s.services.blobs.as_ref(),
        &actor(&user),
        body,
        s.services.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `POST /api/v1/authoring/cases`: a clinical case with its ordered sub-items, as drafts.
#[utoipa::path(post, path = "/api/v1/authoring/cases", tag = "authoring", request_body = NewCaseInput,
    responses((status = 201, body = StaffCaseView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_case(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<NewCaseInput>,
) -> Result<(StatusCode, Json<StaffCaseView>), WebError> {
    let v = svc::create_case(&s.services.db, &actor(&user), b, s.services.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /api/v1/authoring/cases/{id}`: the case with its sub-items' statuses.
#[utoipa::path(get, path = "/api/v1/authoring/cases/{id}", tag = "authoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = StaffCaseView), (status = 404, body = Problem)))]
pub async fn show_case(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<StaffCaseView>, WebError> {
    Ok(Json(
        svc::get_case_staff(&s.services.db, &actor(&user), id).await?,
    ))
}
