//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`; every API route adds itself here.

use axum::Json;
use utoipa::OpenApi;

use crate::error::{FieldError, Problem};
use crate::health::{Checks, Health};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "MyQCM API", description = "Adaptive MCQ training for medical students."),
    paths(crate::health::live, crate::health::ready),
    components(schemas(Problem, FieldError, Health, Checks)),
    tags((name = "health", description = "Probes"))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
