//! Learner routes: curriculum, KC trees, blueprints, approved items and clinical cases (without
//! keys or explanations), reports on items, and item images.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_domain::permissions::Action;
use myqcm_services::catalogue::curriculum::{
    self, BlueprintView, CurriculumView, KcNodeView, UniversityView,
};
use myqcm_services::catalogue::views::{LearnerCaseView, LearnerItemView, Page, ReportView};
use myqcm_services::catalogue::{self as svc, ItemQuery, images, reports};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::actor;
use crate::auth::{CurrentUser, MaybeUser};
use crate::error::{ApiJson, Problem};
use crate::{AppState, WebError};

/// Learner routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/curriculum", get(curriculum_tree))
        .route("/institutions", get(institutions))
        .route("/subjects/{code}/kcs", get(kc_tree))
        .route("/blueprints/{year}", get(blueprint))
        .route("/items", get(list_items))
        .route("/items/{id}", get(get_item))
        .route("/items/{id}/reports", post(create_report))
        .route("/clinical-cases", get(list_cases))
        .route("/clinical-cases/{id}", get(get_case))
        .route("/reports/mine", get(my_reports))
        .route("/media/{id}", get(media))
}

/// `?year=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// Year of study (1–7).
    pub year: Option<i32>,
}

/// `GET /api/v1/curriculum`: years → units → subjects → courses.
#[utoipa::path(get, path = "/api/v1/curriculum", tag = "catalogue", params(YearQuery),
    responses((status = 200, body = CurriculumView), (status = 401, body = Problem)))]
pub async fn curriculum_tree(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<YearQuery>,
) -> Result<Json<CurriculumView>, WebError> {
    user.require(Action::CatalogueRead)?;
    Ok(Json(curriculum::tree(&s.services.db, q.year).await?))
}

/// `GET /api/v1/subjects/{code}/kcs`: the subject's KC tree (domain → topic → KC).
#[utoipa::path(get, path = "/api/v1/subjects/{code}/kcs", tag = "catalogue", params(("code" = String, Path)),
    responses((status = 200, body = Vec<KcNodeView>), (status = 404, body = Problem)))]
pub async fn kc_tree(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(code): Path<String>,
) -> Result<Json<Vec<KcNodeView>>, WebError> {
    user.require(Action::CatalogueRead)?;
    Ok(Json(curriculum::kc_tree(&s.services.db, &code).await?))
}

/// `?faculty=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FacultyQuery {
    /// Faculty id (its own blueprint if any, else the national one).
    pub faculty: Option<Uuid>,
}

/// `GET /api/v1/blueprints/{year}`: the current exam blueprint (uniform when none is stored).
#[utoipa::path(get, path = "/api/v1/blueprints/{year}", tag = "catalogue", params(("year" = i32, Path), FacultyQuery),
    responses((status = 200, body = BlueprintView)))]
pub async fn blueprint(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(year): Path<i32>,
    Query(q): Query<FacultyQuery>,
) -> Result<Json<BlueprintView>, WebError> {
    user.require(Action::CatalogueRead)?;
    Ok(Json(
        curriculum::blueprint(&s.services.db, year, q.faculty).await?,
    ))
}

/// `GET /api/v1/items`: approved standalone items, filtered, newest first, keyset-paginated.
#[utoipa::path(get, path = "/api/v1/items", tag = "catalogue", params(ItemQuery),
    responses((status = 200, body = Page<LearnerItemView>), (status = 422, body = Problem)))]
pub async fn list_items(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ItemQuery>,
) -> Result<Json<Page<LearnerItemView>>, WebError> {
    user.require(Action::CatalogueRead)?;
    let f = svc::resolve_query(&s.services.db, &ItemQuery { status: None, ..q }).await?;
    Ok(Json(
        svc::search_learner(&s.services.db, &actor(&user), f).await?,
    ))
}

/// `GET /api/v1/items/{id}`: one approved item, without key or explanations.
#[utoipa::path(get, path = "/api/v1/items/{id}", tag = "catalogue", params(("id" = Uuid, Path)),
    responses((status = 200, body = LearnerItemView), (status = 404, body = Problem)))]
pub async fn get_item(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<LearnerItemView>, WebError> {
    user.require(Action::CatalogueRead)?;
    Ok(Json(
        svc::get_learner(&s.services.db, &actor(&user), id).await?,
    ))
}

/// A clinical case in a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
}

/// `GET /api/v1/clinical-cases`: cases whose items are all approved.
#[utoipa::path(get, path = "/api/v1/clinical-cases", tag = "catalogue", responses((status = 200, body = Vec<CaseSummary>)))]
pub async fn list_cases(
    State(s): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<CaseSummary>>, WebError> {
    user.require(Action::CatalogueRead)?;
    let cases = svc::list_cases_learner(&s.services.db, &actor(&user)).await?;
    Ok(Json(
        cases
            .into_iter()
            .map(|(id, title)| CaseSummary { id, title })
            .collect(),
    ))
}

/// `GET /api/v1/clinical-cases/{id}`: scenario, objectives and ordered sub-items (no keys).
#[utoipa::path(get, path = "/api/v1/clinical-cases/{id}", tag = "catalogue", params(("id" = Uuid, Path)),
    responses((status = 200, body = LearnerCaseView), (status = 404, body = Problem)))]
pub async fn get_case(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<LearnerCaseView>, WebError> {
    user.require(Action::CatalogueRead)?;
    Ok(Json(
        svc::get_case_learner(&s.services.db, &actor(&user), id).await?,
    ))
}

/// A learner's report.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewReport {
    /// `wrong_key`, `typo`, `outdated`, `other`.
    pub category: String,
    /// What is wrong (required for `other`).
    #[serde(default)]
    pub body: String,
}

/// `POST /api/v1/items/{id}/reports`: report a problem on an approved item.
#[utoipa::path(post, path = "/api/v1/items/{id}/reports", tag = "catalogue", params(("id" = Uuid, Path)), request_body = NewReport,
    responses((status = 201, body = ReportView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_report(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<ReportView>), WebError> {
    user.require(Action::ReportCreate)?;
    let r = reports::create(
        &s.services.db,
        s.services.cache.as_ref(),
        &actor(&user),
        id,
        &b.category,
        &b.body,
        s.services.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// `?before=&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Cursor (id of the last row of the previous page).
    pub before: Option<Uuid>,
    /// Page size.
    pub limit: Option<u64>,
}

/// `GET /api/v1/reports/mine`: the caller's reports with their outcome.
#[utoipa::path(get, path = "/api/v1/reports/mine", tag = "catalogue", params(PageQuery), responses((status = 200, body = Vec<ReportView>)))]
pub async fn my_reports(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> Result<Json<Vec<ReportView>>, WebError> {
    Ok(Json(
        reports::mine(
            &s.services.db,
            &actor(&user),
            q.before,
            q.limit.unwrap_or(20),
        )
        .await?,
    ))
}

/// `GET /api/v1/media/{id}`: an item image, with our validated type and `nosniff`; only for
/// callers who may read an item or clinical case that uses it (404 for anyone else, signed out
/// included).
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "catalogue", params(("id" = Uuid, Path)),
    responses((status = 200, description = "PNG, JPEG or WebP"), (status = 404, body = Problem)))]
pub async fn media(
    State(s): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = user.as_ref().map(actor);
    let (ct, data) = images::read(
        &s.services.db,
        s.services.blobs.as_ref(),
        actor.as_ref(),
        id,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_owned(),
            ),
            (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
        ],
        data,
    )
        .into_response())
}

/// `GET /api/v1/institutions`: universities and their faculties.
#[utoipa::path(get, path = "/api/v1/institutions", tag = "catalogue", responses((status = 200, body = Vec<UniversityView>)))]
pub async fn institutions(
    State(s): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<UniversityView>>, WebError> {
    user.require(Action::CatalogueRead)?;
    Ok(Json(curriculum::institutions(&s.services.db).await?))
}
