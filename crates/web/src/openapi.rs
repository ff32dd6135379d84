//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`; every API route adds itself here.

use axum::Json;
use utoipa::OpenApi;

use crate::error::{FieldError, Problem};
use crate::health::{Checks, Health};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "MyQCM API", description = "Adaptive MCQ training for medical students."),
    paths(
        crate::health::live,
        crate::health::ready,
        crate::api::auth::sign_up,
        crate::api::auth::verify_email,
        crate::api::auth::resend_verification,
        crate::api::auth::sign_in,
        crate::api::auth::token,
        crate::api::auth::refresh,
        crate::api::auth::sign_out,
        crate::api::auth::sign_out_everywhere,
        crate::api::auth::step_up,
        crate::api::auth::request_reset,
        crate::api::auth::confirm_reset,
        crate::api::auth::session,
        crate::auth::google::start,
        crate::auth::google::callback,
        crate::api::account::me,
        crate::api::account::update,
        crate::api::account::change_password,
        crate::api::account::change_email,
        crate::api::account::list_sessions,
        crate::api::account::revoke_session,
        crate::api::account::export,
        crate::api::account::request_deletion,
        crate::api::account::totp_start,
        crate::api::account::totp_confirm,
        crate::api::admin_users::list,
        crate::api::admin_users::show,
        crate::api::admin_users::update,
        crate::api::admin_users::revoke_sessions,
        crate::api::audit::list,
    ),
    components(schemas(Problem, FieldError, Health, Checks)),
    tags(
        (name = "health", description = "Probes"),
        (name = "auth", description = "Sign-up, sign-in, tokens, sessions"),
        (name = "account", description = "The signed-in user's own account"),
        (name = "admin", description = "Staff administration"),
    )
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
