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
        crate::api::catalogue::learner::curriculum_tree,
        crate::api::catalogue::learner::institutions,
        crate::api::catalogue::admin::put_institutions,
        crate::api::catalogue::admin::put_taxonomy,
        crate::api::catalogue::learner::kc_tree,
        crate::api::catalogue::learner::blueprint,
        crate::api::catalogue::learner::list_items,
        crate::api::catalogue::learner::get_item,
        crate::api::catalogue::learner::list_cases,
        crate::api::catalogue::learner::get_case,
        crate::api::catalogue::learner::create_report,
        crate::api::catalogue::learner::my_reports,
        crate::api::catalogue::learner::media,
        crate::api::catalogue::authoring::list,
        crate::api::catalogue::authoring::create,
        crate::api::catalogue::authoring::show,
        crate::api::catalogue::authoring::edit,
        crate::api::catalogue::authoring::move_item,
        crate::api::catalogue::authoring::revisions,
        crate::api::catalogue::authoring::revision,
        crate::api::catalogue::authoring::history,
        crate::api::catalogue::authoring::comment,
        crate::api::catalogue::authoring::create_case,
        crate::api::catalogue::authoring::show_case,
        crate::api::catalogue::authoring::preview,
        crate::api::catalogue::authoring::upload_image,
        crate::api::catalogue::admin::report_queue,
        crate::api::catalogue::admin::triage,
        crate::api::catalogue::admin::put_blueprint,
        crate::api::catalogue::admin::start_import,
        crate::api::catalogue::admin::import_status,
        crate::api::catalogue::admin::export_catalogue,
        crate::api::jobs::list,
        crate::api::jobs::show,
        crate::api::jobs::retry,
        crate::api::jobs::cancel,
        crate::api::progress::overview,
        crate::api::progress::subject,
    ),
    components(schemas(Problem, FieldError, Health, Checks)),
    tags(
        (name = "health", description = "Probes"),
        (name = "auth", description = "Sign-up, sign-in, tokens, sessions"),
        (name = "account", description = "The signed-in user's own account"),
        (name = "admin", description = "Staff administration"),
        (name = "catalogue", description = "Curriculum, KC trees, blueprints, approved items for learners, reports"),
        (name = "authoring", description = "Drafts, revisions, review workflow, preview, images"),
        (name = "progress", description = "The learner's progress: mastery, trend, streak, reviews, predicted score, XP"),
    )
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
