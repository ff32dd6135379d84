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
        crate::api::account::totp_disable,
        crate::api::account::recovery_codes,
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
        crate::api::catalogue::quality::item_quality,
        crate::api::catalogue::quality::alerts,
        crate::api::catalogue::quality::dismiss,
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
        crate::api::jobs::events,
        crate::api::jobs::retry,
        crate::api::jobs::cancel,
        crate::api::commerce::plans,
        crate::api::commerce::subscription,
        crate::api::commerce::redeem,
        crate::api::commerce::admin_plans,
        crate::api::commerce::create_plan,
        crate::api::commerce::update_plan,
        crate::api::commerce::batches,
        crate::api::commerce::revoke,
        crate::api::payments::checkout,
        crate::api::payments::intent,
        crate::api::payments::webhook,
        crate::api::progress::overview,
        crate::api::progress::subject,
        crate::api::training::profile,
        crate::api::training::set_profile,
        crate::api::training::modes,
        crate::api::training::set_mode,
        crate::api::training::create,
        crate::api::training::list,
        crate::api::training::show,
        crate::api::training::current,
        crate::api::training::answer,
        crate::api::training::skip,
        crate::api::training::flag,
        crate::api::training::note,
        crate::api::training::pause,
        crate::api::training::resume,
        crate::api::training::finish,
        crate::api::training::summary,
        crate::api::training::review,
        crate::api::ledger::earnings,
        crate::api::ledger::request_withdrawal,
        crate::api::ledger::withdrawals,
        crate::api::ledger::settle,
        crate::api::ledger::reveal_ccp,
        crate::api::ledger::rate,
        crate::api::ledger::set_rate,
        crate::api::catalogue::admin::import_events,
        crate::api::ai::start,
        crate::api::ai::show,
        crate::api::ai::events,
        crate::api::ai_kcs::suggest,
        crate::api::ai_kcs::stored,
        crate::api::ai_kcs::decide,
        crate::api::ai_kcs::start_run,
        crate::api::ai_kcs::show_run,
        crate::api::ai_kcs::run_events,
        crate::api::ai_grading::override_grade,
        crate::api::ai_grading::assisted,
        crate::api::ai_usage::mine,
        crate::api::ai_usage::all,
    ),
    components(schemas(Problem, FieldError, Health, Checks)),
    tags(
        (name = "health", description = "Probes"),
        (name = "auth", description = "Sign-up, sign-in, tokens, sessions"),
        (name = "account", description = "The signed-in user's own account"),
        (name = "admin", description = "Staff administration"),
        (name = "catalogue", description = "Curriculum, KC trees, blueprints, approved items for learners, reports"),
        (name = "authoring", description = "Drafts, revisions, review workflow, preview, images"),
        (name = "commerce", description = "Plans, the learner's subscription and quotas, activation cards"),
        (name = "progress", description = "The learner's progress: mastery, trend, streak, reviews, predicted score, XP"),
        (name = "training", description = "Learner profile, learning modes, training sessions and the answer round trip"),
    )
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(described())
}

/// The document with the error contract every operation shares: any error status is an RFC 9457
/// problem (`application/problem+json`, schema `Problem`). Error responses the handlers list
/// keep their descriptions but get that media type, and each operation gains a `default`
/// response for the statuses any route may answer without listing them (400 for a malformed
/// body or path, 401, 403, 404, 413, 422, 429, 503 when the database is away, 500).
pub fn described() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let mut doc = ApiDoc::openapi();
    let problem = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build()
    };
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            for (status, response) in &mut op.responses.responses {
                let error = status.starts_with('4') || status.starts_with('5');
                if let (true, RefOr::T(r)) = (error, response) {
                    r.content.clear();
                    r.content
                        .insert("application/problem+json".into(), RefOr::T(problem()));
                }
            }
            op.responses.responses.insert(
                "default".into(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description("Any other error, as an RFC 9457 problem")
                        .content("application/problem+json", problem())
                        .build(),
                ),
            );
        }
    }
    doc
}
