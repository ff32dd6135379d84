//! The catalogue JSON API: learner reads (approved items only, never the key), authoring and
//! review, reports and their triage, curriculum, KC trees, blueprints, images, imports and
//! exports. Handlers only extract, call `myqcm_services::catalogue`/`import` and shape the
//! response; every rule lives in the services and the domain.
//!
//! Staff without TOTP enrolment are refused by the services themselves (403
//! `mfa_enrolment_required`, `myqcm_services::catalogue::staff_gate`) on every staff use case;
//! admin routes also call `CurrentUser::require` first so they answer 403 before judging a body.

pub mod admin;
pub mod authoring;
pub mod learner;
pub mod quality;

use axum::Router;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::codes;

use crate::AppState;
use crate::WebError;
use crate::auth::CurrentUser;
use crate::error::FieldError;

/// Every catalogue route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(learner::router())
        .merge(authoring::router())
        .merge(admin::router())
        .merge(quality::router())
}

/// The catalogue's view of the caller.
pub(crate) fn actor(u: &CurrentUser) -> Actor {
    u.caller.actor()
}

/// Reads a JSON body after the permission check (admin routes answer 403 before they judge the
/// body, so their shape is not disclosed to callers who may not use them).
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, WebError> {
    serde_json::from_value(v).map_err(|e| WebError::Known {
        code: codes::VALIDATION_FAILED,
        detail: Some("The JSON does not have the expected shape.".into()),
        errors: Some(vec![FieldError {
            field: String::new(),
            code: "invalid".into(),
            message: e.to_string(),
        }]),
    })
}
