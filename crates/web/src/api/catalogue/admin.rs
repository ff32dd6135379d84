//! Admin routes: report triage, blueprints, imports (as jobs) and exports.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use myqcm_domain::catalogue::blueprint::BlueprintWeights;
use myqcm_domain::codes;
use myqcm_domain::permissions::Action;
use myqcm_services::catalogue::curriculum::{self, BlueprintView, UniversityView};
use myqcm_services::catalogue::reports;
use myqcm_services::catalogue::views::ReportView;
use myqcm_services::import::jobs::{self as import_jobs, ImportRunView};
use myqcm_services::import::{Format, export};
use serde::Deserialize;
use uuid::Uuid;

use super::{actor, parse_body};
use crate::auth::CurrentUser;
use crate::error::{ApiJson, Problem};
use crate::{AppState, WebError};

/// Admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review/reports", get(report_queue))
        .route("/review/reports/{id}", post(triage))
        .route("/admin/blueprints/{year}", put(put_blueprint))
        .route("/admin/institutions", put(put_institutions))
        .route("/admin/taxonomy", put(put_taxonomy))
        .route("/admin/imports", post(start_import))
        .route("/admin/imports/{id}", get(import_status))
        .route("/admin/export", get(export_catalogue))
        .route("/admin/imports/{id}/events", get(import_events))
}

/// `?status=&before=&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `open` (default), `accepted`, `rejected`, `fixed`.
    pub status: Option<String>,
    /// Cursor.
    pub before: Option<Uuid>,
    /// Page size.
    pub limit: Option<u64>,
}

/// `GET /api/v1/review/reports`: the triage queue.
#[utoipa::path(get, path = "/api/v1/review/reports", tag = "admin", params(QueueQuery),
    responses((status = 200, body = Vec<ReportView>), (status = 403, body = Problem)))]
pub async fn report_queue(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<QueueQuery>,
) -> Result<Json<Vec<ReportView>>, WebError> {
    user.require(Action::ReportTriage)?;
    Ok(Json(
        reports::queue(
            &s.services.db,
            &actor(&user),
            q.status.as_deref(),
            q.before,
            q.limit.unwrap_or(50),
        )
        .await?,
    ))
}

/// A triage decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TriageInput {
    /// `accepted`, `rejected`, `fixed`.
    pub status: String,
    /// Answer shown to the reporter (required when rejecting).
    #[serde(default)]
    pub resolution: Option<String>,
}

/// `POST /api/v1/review/reports/{id}`: move a report along triage.
#[utoipa::path(post, path = "/api/v1/review/reports/{id}", tag = "admin", params(("id" = Uuid, Path)), request_body = TriageInput,
    responses((status = 200, body = ReportView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn triage(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<Json<ReportView>, WebError> {
    user.require(Action::ReportTriage)?;
    let b: TriageInput = parse_body(b)?;
    Ok(Json(
        reports::triage(
            &s.services.db,
            &actor(&user),
            id,
            &b.status,
            b.resolution.as_deref(),
            s.services.clock.now(),
        )
        .await?,
    ))
}

/// A new blueprint version.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BlueprintInput {
    /// Display name.
    pub name: String,
    /// Faculty-specific blueprint.
    #[serde(default)]
    pub faculty_id: Option<Uuid>,
    /// Weights over subjects (and KCs within them).
    #[schema(value_type = Object)]
    pub weights: BlueprintWeights,
}

/// `PUT /api/v1/admin/blueprints/{year}`: store a new version (earlier versions are kept).
#[utoipa::path(put, path = "/api/v1/admin/blueprints/{year}", tag = "admin", params(("year" = i32, Path)), request_body = BlueprintInput,
    responses((status = 200, body = BlueprintView), (status = 422, body = Problem)))]
pub async fn put_blueprint(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(year): Path<String>,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<Json<BlueprintView>, WebError> {
    user.require(Action::CatalogueManage)?;
    let year: i32 = year.parse().map_err(|_| WebError::code(codes::NOT_FOUND))?;
    let b: BlueprintInput = parse_body(b)?;
    let a = actor(&user);
    Ok(Json(
        curriculum::put_blueprint(
            &s.services.db,
            Some(&a),
            year,
            b.faculty_id,
            &b.name,
            &b.weights,
            s.services.clock.now(),
        )
        .await?,
    ))
}

/// `?format=&partial=&course=&dry_run=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `json`, `csv`, `xlsx` (required).
    pub format: Option<String>,
    /// Keep good rows when some are bad.
    #[serde(default)]
    pub partial: bool,
    /// Course for rows without one.
    pub course: Option<String>,
    /// Check every row and write nothing: the run ends `checked` or `failed` with its report.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/v1/admin/imports`: the raw file as the body; runs as a background job.
#[utoipa::path(post, path = "/api/v1/admin/imports", tag = "admin", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = ImportRunView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn start_import(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportRunView>), WebError> {
    user.require(Action::CatalogueImportExport)?;
    let format = Format::parse(q.format.as_deref().unwrap_or("")).ok_or_else(|| {
        WebError::with_detail(codes::VALIDATION_FAILED, "format is json, csv or xlsx")
    })?;
    if body.is_empty() {
        return Err(WebError::with_detail(
            codes::VALIDATION_FAILED,
            "the body is empty",
        ));
    }
    let run = import_jobs::start(
        &s.services.db,
        s.services.blobs.as_ref(),
        &actor(&user),
        body,
        import_jobs::ImportRequest {
            format,
            partial: q.partial,
            default_course: q.course,
            dry_run: q.dry_run,
        },
        s.services.clock.now(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// `GET /api/v1/admin/imports/{id}`: progress and, once finished, the row-level report.
#[utoipa::path(get, path = "/api/v1/admin/imports/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportRunView), (status = 404, body = Problem)))]
pub async fn import_status(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<ImportRunView>, WebError> {
    user.require(Action::CatalogueImportExport)?;
    Ok(Json(
        import_jobs::get(&s.services.db, &actor(&user), id).await?,
    ))
}

/// `?format=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default), `csv`, `xlsx`.
    pub format: Option<String>,
    /// Only the taxonomy (KC trees; JSON adds the curriculum and blueprint).
    #[serde(default)]
    pub taxonomy: bool,
}

/// `GET /api/v1/admin/export`: the catalogue in an import format.
#[utoipa::path(get, path = "/api/v1/admin/export", tag = "admin", params(ExportQuery),
    responses((status = 200, description = "The file"), (status = 403, body = Problem)))]
pub async fn export_catalogue(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    user.require(Action::CatalogueImportExport)?;
    let format = Format::parse(q.format.as_deref().unwrap_or("json")).ok_or_else(|| {
        WebError::with_detail(codes::VALIDATION_FAILED, "format is json, csv or xlsx")
    })?;
    let bytes = export::for_staff(&s.services.db, &actor(&user), format, q.taxonomy).await?;
    let file_name = format!(
        "attachment; filename=\"myqcm-catalogue.{}\"",
        format.as_str()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, file_name),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `PUT /api/v1/admin/institutions`: add universities and faculties (by code).
#[utoipa::path(put, path = "/api/v1/admin/institutions", tag = "admin", request_body = Vec<UniversityView>,
    responses((status = 200, body = Vec<UniversityView>), (status = 422, body = Problem)))]
pub async fn put_institutions(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<Json<Vec<UniversityView>>, WebError> {
    user.require(Action::CatalogueManage)?;
    let b: Vec<UniversityView> = parse_body(b)?;
    Ok(Json(
        curriculum::upsert_institutions(&s.services.db, &actor(&user), &b, s.services.clock.now())
            .await?,
    ))
}

/// A taxonomy document that changed nothing: 422 with one field error per refused place.
fn taxonomy_rejected(report: myqcm_services::import::ImportReport) -> WebError {
    WebError::Known {
        code: codes::IMPORT_REJECTED,
        detail: Some("Nothing was changed.".into()),
        errors: Some(
            report
                .errors
                .into_iter()
                .map(|e| crate::error::FieldError {
                    field: e.column,
                    code: "invalid".into(),
                    message: e.reason,
                })
                .collect(),
        ),
    }
}

/// `PUT /api/v1/admin/taxonomy`: add or rename units, subjects, courses, KC-tree nodes and the
/// year's blueprint from a bank document without items (all-or-nothing).
#[utoipa::path(put, path = "/api/v1/admin/taxonomy", tag = "admin",
    request_body(content = String, content_type = "application/json",
        description = "A bank document: `year_of_study`, `units`, `subjects` with `courses`, `knowledge_components`, `blueprint` (schema in crates/services/seed/README.md)"),
    responses((status = 200, body = myqcm_services::import::ImportReport), (status = 422, body = Problem)))]
pub async fn put_taxonomy(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> Result<Json<myqcm_services::import::ImportReport>, WebError> {
    user.require(Action::CatalogueManage)?;
    let b: myqcm_services::import::bank::Bank = parse_body(b)?;
    let report = myqcm_services::import::apply_taxonomy(
        &s.services.db,
        &actor(&user),
        &b,
        s.services.clock.now(),
    )
    .await?;
    if !report.committed {
        return Err(taxonomy_rejected(report));
    }
    Ok(Json(report))
}

/// `GET /api/v1/admin/imports/{id}/events`: the live progress of an import run's job as
/// server-sent events (`event: job`, the same data as the jobs stream), for the import pages:
/// import/export staff may follow their runs without the operators' jobs permission.
#[utoipa::path(get, path = "/api/v1/admin/imports/{id}/events", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/event-stream", body = myqcm_services::jobs::JobEvent,
        description = "One `job` event per change"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn import_events(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<
    axum::response::sse::Sse<
        impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    WebError,
> {
    let stream = import_jobs::watch(&s.services.db, &*s.services.cache, &actor(&user), id).await?;
    Ok(crate::api::jobs::job_events(stream))
}
