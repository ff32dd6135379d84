//! `/api/v1/account…`: the signed-in user's own account: profile, password, email change and
//! the list of sign-in sessions with revoke. Every route acts on the caller's own data only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use myqcm_services::identity::flows::{self, SessionView};
use myqcm_services::identity::{caller, sessions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::auth::{Accepted, AccountView, Done, done};
use crate::auth::CurrentUser;
use crate::error::ApiJson;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(me).patch(update))
        .route("/account/password", post(change_password))
        .route("/account/email", post(change_email))
        .route("/account/sessions", get(list_sessions))
        .route("/account/sessions/{id}", delete(revoke_session))
        .route("/account/export", get(export))
        .route("/account/delete", post(request_deletion))
        .route("/account/mfa/totp", post(totp_start).delete(totp_disable))
        .route("/account/mfa/totp/confirm", post(totp_confirm))
        .route("/account/mfa/recovery-codes", post(recovery_codes))
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/account", tag = "account",
    responses((status = 200, body = AccountView), (status = 401, body = crate::error::Problem)))]
pub async fn me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<AccountView>, WebError> {
    Ok(Json(caller::own_account(&state.deps(), &user).await?))
}

/// The fields a user may change on their own account; anything else (roles, verification,
/// subscription…) is refused as an unknown field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New interface language.
    pub locale: Option<String>,
}

/// Changes the display name or language.
#[utoipa::path(patch, path = "/api/v1/account", tag = "account", request_body = ProfilePatch,
    responses((status = 200, body = AccountView), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ProfilePatch>,
) -> Result<Json<AccountView>, WebError> {
    let a = flows::update_profile(&state.deps(), user.id, b.display_name, b.locale).await?;
    Ok(Json(AccountView::from(&a)))
}

/// Password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Required: the current password.
    pub current_password: Option<String>,
    /// The new password.
    pub new_password: String,
}

/// Changes the password (the current one is required); other sessions end.
#[utoipa::path(post, path = "/api/v1/account/password", tag = "account", request_body = PasswordChange,
    responses((status = 200, body = Done), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<PasswordChange>,
) -> Result<Json<Done>, WebError> {
    let Some(current) = b.current_password.filter(|p| !p.is_empty()) else {
        return Err(WebError::with_detail(
            myqcm_domain::codes::BAD_REQUEST,
            "The current password is required.",
        ));
    };
    flows::change_password(
        &state.deps(),
        user.principal(),
        current,
        b.new_password,
        user.meta(),
    )
    .await?;
    Ok(done())
}

/// Email change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    /// The new address (receives a confirmation link and code).
    pub new_email: String,
    /// The current password.
    pub password: String,
}

/// Starts an email change; the new address must be confirmed through `/auth/verify-email`.
#[utoipa::path(post, path = "/api/v1/account/email", tag = "account", request_body = EmailChange,
    responses((status = 202, body = Accepted), (status = 401, body = crate::error::Problem)))]
pub async fn change_email(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<EmailChange>,
) -> Result<impl IntoResponse, WebError> {
    flows::request_email_change(
        &state.deps(),
        user.principal(),
        &b.new_email,
        b.password,
        user.meta(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { status: "accepted" })))
}

/// The caller's live sign-in sessions.
#[utoipa::path(get, path = "/api/v1/account/sessions", tag = "account",
    responses((status = 200, body = [SessionView]), (status = 401, body = crate::error::Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<SessionView>>, WebError> {
    Ok(Json(
        flows::list_sessions(&state.deps(), user.principal()).await?,
    ))
}

/// Revokes one of the caller's sessions (404 for anyone else's).
#[utoipa::path(delete, path = "/api/v1/account/sessions/{id}", tag = "account",
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = Done), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Done>, WebError> {
    sessions::revoke(&state.deps(), user.id, id, "revoked_by_user").await?;
    Ok(done())
}

/// The password, to start TOTP enrolment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpStart {
    /// Current password.
    pub password: String,
}

/// The new TOTP secret (shown once).
#[derive(Serialize, ToSchema)]
pub struct TotpSecret {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI for a QR code.
    pub otpauth_uri: String,
}

/// Starts TOTP enrolment: a fresh secret, active once confirmed with a code.
#[utoipa::path(post, path = "/api/v1/account/mfa/totp", tag = "account", request_body = TotpStart,
    responses((status = 200, body = TotpSecret), (status = 401, body = crate::error::Problem)))]
pub async fn totp_start(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<TotpStart>,
) -> Result<Json<TotpSecret>, WebError> {
    let e = myqcm_services::identity::mfa::start(
        &state.deps(),
        user.principal(),
        b.password,
        user.meta(),
    )
    .await?;
    Ok(Json(TotpSecret {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
    }))
}

/// A code from the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// 6 digits.
    pub code: String,
}

/// Single-use recovery codes (shown once).
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes; each works once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// Confirms TOTP enrolment with a first code; returns the recovery codes.
#[utoipa::path(post, path = "/api/v1/account/mfa/totp/confirm", tag = "account", request_body = TotpCode,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = crate::error::Problem)))]
pub async fn totp_confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<TotpCode>,
) -> Result<Json<RecoveryCodes>, WebError> {
    let codes = myqcm_services::identity::mfa::confirm(
        &state.deps(),
        user.principal(),
        &b.code,
        user.meta(),
    )
    .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// The step-up that turning off or renewing the second factor needs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpStepUp {
    /// Current password.
    pub password: String,
    /// A current TOTP code or an unused recovery code.
    pub code: String,
}

/// Turns two-step verification off (password and a current code; a notice mail goes out).
/// Staff accounts (author, reviewer, admin) keep it: 403.
#[utoipa::path(delete, path = "/api/v1/account/mfa/totp", tag = "account", request_body = TotpStepUp,
    responses((status = 200, body = Done), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn totp_disable(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<TotpStepUp>,
) -> Result<Json<Done>, WebError> {
    let deps = state.deps();
    myqcm_services::identity::mfa::disable(
        &deps,
        user.principal(),
        b.password,
        &b.code,
        user.meta(),
    )
    .await?;
    Ok(done())
}

/// Replaces the recovery codes (password and a current code); the new ones are shown once.
#[utoipa::path(post, path = "/api/v1/account/mfa/recovery-codes", tag = "account", request_body = TotpStepUp,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn recovery_codes(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<TotpStepUp>,
) -> Result<Json<RecoveryCodes>, WebError> {
    let deps = state.deps();
    let codes = myqcm_services::identity::mfa::regenerate_recovery_codes(
        &deps,
        user.principal(),
        b.password,
        &b.code,
        user.meta(),
    )
    .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Downloads everything personal the platform holds about the caller (JSON).
#[utoipa::path(get, path = "/api/v1/account/export", tag = "account",
    responses((status = 200, description = "The export", body = serde_json::Value), (status = 401, body = crate::error::Problem)))]
pub async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<impl IntoResponse, WebError> {
    let v = myqcm_services::identity::privacy::export(&state.deps(), user.id).await?;
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"myqcm-data.json\""),
    );
    Ok((h, Json(v)))
}

/// Re-authentication for account deletion.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionRequest {
    /// Current password (accounts without one, signed in with Google in the last 10 minutes,
    /// leave it out).
    pub password: Option<String>,
    /// TOTP or recovery code when two-step verification is on.
    pub totp_code: Option<String>,
}

/// When the erasure happens.
#[derive(Serialize, ToSchema)]
pub struct DeletionScheduled {
    /// Personal data is erased at this time unless the user signs in before.
    pub erase_after: DateTime<Utc>,
}

/// Schedules the deletion of the caller's account (every session ends now).
#[utoipa::path(post, path = "/api/v1/account/delete", tag = "account", request_body = DeletionRequest,
    responses((status = 202, body = DeletionScheduled), (status = 401, body = crate::error::Problem)))]
pub async fn request_deletion(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<DeletionRequest>,
) -> Result<impl IntoResponse, WebError> {
    let at = myqcm_services::identity::privacy::request_deletion(
        &state.deps(),
        user.principal(),
        b.password,
        b.totp_code.as_deref(),
        user.meta(),
    )
    .await?;
    let mut h = axum::http::HeaderMap::new();
    crate::auth::cookies::clear_pair(&mut h, state.config.https());
    Ok((
        StatusCode::ACCEPTED,
        h,
        Json(DeletionScheduled { erase_after: at }),
    ))
}
