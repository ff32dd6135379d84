//! The signed-in person's own pages: settings (profile, language, sign-in sessions with
//! revoke, password, two-step verification, data export, account deletion on a confirmation
//! page) and onboarding (the learner profile). Each form calls the same use case as its JSON
//! route in `api::account` (or `api::training` for the profile).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use myqcm_services::identity::flows::{self, SessionView};
use myqcm_services::identity::{mfa, privacy, sessions};
use serde::Deserialize;
use uuid::Uuid;

use super::forms::{Form, page, see_other, see_other_with, to_sign_in};
use super::onboarding::faculty_code;
use super::{PageContext, Viewer, render};
use crate::auth::cookies;
use crate::{AppState, WebError};
use myqcm_services::catalogue::curriculum::UniversityChoice;
use myqcm_services::training::TrainingError;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(settings))
        .route("/settings/profile", post(save_profile))
        .route("/settings/faculty", post(save_faculty))
        .route("/settings/password", post(change_password))
        .route("/settings/sessions/{id}/revoke", post(revoke_session))
        .route("/settings/mfa", post(mfa_start))
        .route("/settings/mfa/confirm", post(mfa_confirm))
        .route("/settings/mfa/disable", post(mfa_disable))
        .route("/settings/mfa/recovery-codes", post(mfa_recovery_codes))
        .route("/settings/delete", get(delete_page).post(delete))
        .merge(super::onboarding::router())
}

/// Extra content of the settings page after an MFA step.
#[derive(Default)]
struct MfaState {
    secret: Option<mfa::Enrolment>,
    recovery_codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings/settings.html")]
struct SettingsPage {
    ctx: PageContext,
    form: Form,
    sessions: Vec<SessionView>,
    mfa: MfaState,
    /// The faculty picker, for accounts with a learner profile.
    institutions: Option<Vec<UniversityChoice>>,
}

impl SettingsPage {
    fn viewer(&self) -> Option<&Viewer> {
        self.ctx.viewer.as_ref()
    }

    fn mfa_enabled(&self) -> bool {
        self.viewer().is_some_and(|v| v.account.mfa_enabled)
    }

    /// Staff keep two-step verification: no form to turn it off.
    fn mfa_kept(&self) -> bool {
        self.viewer()
            .is_some_and(|v| mfa::view_keeps_mfa(&v.account))
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }
}

async fn settings_page(
    state: &AppState,
    ctx: PageContext,
    form: Form,
    mfa: MfaState,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let sessions = flows::list_sessions(&state.deps(), v.user.principal()).await?;
    let (form, institutions) = faculty_picker(state, &ctx, v, form).await?;
    let status = form.status();
    let p = SettingsPage {
        form,
        sessions,
        mfa,
        ctx,
        institutions,
    };
    Ok(page(status, render(&p)?))
}

/// The faculty picker with the saved faculty selected (unless the form already holds a
/// value); none for an account without a learner profile (staff only).
async fn faculty_picker(
    state: &AppState,
    ctx: &PageContext,
    v: &Viewer,
    form: Form,
) -> Result<(Form, Option<Vec<UniversityChoice>>), WebError> {
    let profile = match state.services.training.profile(&v.user.actor()).await {
        Ok(p) => p,
        Err(TrainingError::Forbidden) => return Ok((form, None)),
        Err(e) => return Err(e.into()),
    };
    let list = super::onboarding::choices(state, ctx).await?;
    let form = if form.val("faculty").is_empty() {
        form.with("faculty", faculty_code(&list, profile.faculty_id))
    } else {
        form
    };
    Ok((form, Some(list)))
}

/// `GET /settings`.
pub async fn settings(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Response, WebError> {
    let form = Form::new().with("display_name", ctx.display_name());
    settings_page(&state, ctx, form, MfaState::default()).await
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    display_name: String,
}

/// `POST /settings/profile`: the display name.
pub async fn save_profile(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<ProfileForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let form = Form::new().with("display_name", &f.display_name);
    let deps = state.deps();
    let done = flows::update_profile(&deps, v.user.id, Some(f.display_name.clone()), None);
    let form = match done.await {
        Ok(_) => return Ok(see_other("/settings")),
        Err(e) => form.failure(ctx.locale, "display_name", e)?,
    };
    settings_page(&state, ctx, form, MfaState::default()).await
}

/// The faculty form.
#[derive(Deserialize)]
pub struct FacultyForm {
    #[serde(default)]
    faculty: String,
}

/// `POST /settings/faculty`: the faculty (and so university) from the list.
pub async fn save_faculty(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<FacultyForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let actor = v.user.actor();
    let form = match state
        .services
        .training
        .set_faculty(&actor, &f.faculty)
        .await
    {
        Ok(_) => Form::new().noticed(ctx.t("profile-faculty-saved")),
        Err(e) => Form::new()
            .with("faculty", &f.faculty)
            .failure(ctx.locale, "faculty", e)?,
    };
    settings_page(&state, ctx, form, MfaState::default()).await
}

/// The password change form.
#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// `POST /settings/password`: other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<PasswordForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let user = &v.user;
    let done = flows::change_password(
        &state.deps(),
        user.principal(),
        f.current_password,
        f.new_password,
        user.meta(),
    )
    .await;
    let form = match done {
        Ok(()) => Form::new().noticed(ctx.t("settings-password-changed")),
        Err(e) => Form::new().failure(ctx.locale, "new_password", e)?,
    };
    settings_page(&state, ctx, form, MfaState::default()).await
}

/// `POST /settings/sessions/{id}/revoke`: ends one of the viewer's sessions (their current one
/// signs them out).
pub async fn revoke_session(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    sessions::revoke(&state.deps(), v.user.id, id, "revoked_by_user").await?;
    if id == v.user.session_id {
        let mut h = HeaderMap::new();
        cookies::clear_pair(&mut h, state.config.https());
        return Ok(see_other_with(h, "/sign-in"));
    }
    Ok(see_other("/settings#sessions"))
}

/// A password (and, when enrolled, a second factor).
#[derive(Deserialize)]
pub struct PasswordOnly {
    password: String,
    #[serde(default)]
    totp_code: Option<String>,
}

/// The settings form that starts TOTP enrolment (`mfa_password`: the settings page holds
/// several password fields, each with its own id).
#[derive(Deserialize)]
pub struct MfaStartForm {
    mfa_password: String,
}

/// `POST /settings/mfa`: a new TOTP secret to add to an authenticator app.
pub async fn mfa_start(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<MfaStartForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let user = &v.user;
    let mut m = MfaState::default();
    let deps = state.deps();
    let started = mfa::start(&deps, user.principal(), f.mfa_password, user.meta());
    let form = match started.await {
        Ok(e) => {
            m.secret = Some(e);
            Form::new()
        }
        Err(e) => Form::new().failure(ctx.locale, "mfa_password", e)?,
    };
    settings_page(&state, ctx, form, m).await
}

/// A code from the authenticator app (the settings form's `mfa_code`).
#[derive(Deserialize)]
pub struct CodeForm {
    mfa_code: String,
}

/// `POST /settings/mfa/confirm`: turns two-step verification on and shows the recovery codes
/// once.
pub async fn mfa_confirm(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<CodeForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let user = &v.user;
    let mut m = MfaState::default();
    let form = match mfa::confirm(
        &state.deps(),
        user.principal(),
        f.mfa_code.trim(),
        user.meta(),
    )
    .await
    {
        Ok(codes) => {
            m.recovery_codes = codes;
            Form::new().noticed(ctx.t("settings-mfa-enabled"))
        }
        Err(e) => Form::new().failure(ctx.locale, "mfa_code", e)?,
    };
    settings_page(&state, ctx, form, m).await
}

/// The step-up for turning two-step verification off.
#[derive(Deserialize)]
pub struct MfaDisableForm {
    disable_password: String,
    disable_code: String,
}

/// `POST /settings/mfa/disable`: turns two-step verification off (password and a current
/// code or a recovery code); staff accounts are refused.
pub async fn mfa_disable(
    State(state): State<AppState>,
    mut ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<MfaDisableForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let user = &v.user;
    let (pw, code) = (f.disable_password, f.disable_code.trim().to_owned());
    let form = match mfa::disable(&state.deps(), user.principal(), pw, &code, user.meta()).await {
        Ok(()) => {
            if let Some(v) = ctx.viewer.as_mut() {
                v.account.mfa_enabled = false;
            }
            Form::new().noticed(ctx.t("settings-mfa-disabled"))
        }
        Err(e) => Form::new().failure(ctx.locale, "disable_password", e)?,
    };
    settings_page(&state, ctx, form, MfaState::default()).await
}

/// The step-up for new recovery codes.
#[derive(Deserialize)]
pub struct RecoveryCodesForm {
    codes_password: String,
    codes_code: String,
}

/// `POST /settings/mfa/recovery-codes`: ten new recovery codes, shown once (the old ones stop
/// working).
pub async fn mfa_recovery_codes(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<RecoveryCodesForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings"));
    };
    let user = &v.user;
    let (pw, code) = (f.codes_password, f.codes_code.trim().to_owned());
    let deps = state.deps();
    let mut m = MfaState::default();
    let form = match mfa::regenerate_recovery_codes(&deps, user.principal(), pw, &code, user.meta())
        .await
    {
        Ok(codes) => {
            m.recovery_codes = codes;
            Form::new().noticed(ctx.t("settings-mfa-codes-replaced"))
        }
        Err(e) => Form::new().failure(ctx.locale, "codes_password", e)?,
    };
    settings_page(&state, ctx, form, m).await
}

#[derive(Template)]
#[template(path = "settings/delete.html")]
struct DeletePage {
    ctx: PageContext,
    form: Form,
    mfa: bool,
    /// Set once the deletion is scheduled.
    erase_after: Option<String>,
}

/// `GET /settings/delete`: the confirmation page (a second page, not a script dialog).
pub async fn delete_page(ctx: PageContext) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings/delete"));
    };
    let mfa = v.account.mfa_enabled;
    let p = DeletePage {
        ctx,
        form: Form::new(),
        mfa,
        erase_after: None,
    };
    Ok(page(p.form.status(), render(&p)?))
}

/// `POST /settings/delete`: schedules the erasure (signing in again during the grace period
/// cancels it); every session ends now.
pub async fn delete(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<PasswordOnly>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/settings/delete"));
    };
    let (user, mfa) = (&v.user, v.account.mfa_enabled);
    let code = f.totp_code.as_deref().filter(|c| !c.trim().is_empty());
    let deps = state.deps();
    let password = Some(f.password).filter(|p| !p.is_empty());
    let done = privacy::request_deletion(&deps, user.principal(), password, code, user.meta());
    match done.await {
        Ok(at) => Ok(deletion_scheduled(&state, ctx, mfa, at)?),
        Err(e) => {
            let form = Form::new().failure(ctx.locale, "password", e)?;
            let p = DeletePage {
                ctx,
                form,
                mfa,
                erase_after: None,
            };
            Ok(page(p.form.status(), render(&p)?))
        }
    }
}

/// The page that confirms a scheduled erasure, signed out (cookies cleared).
fn deletion_scheduled(
    state: &AppState,
    ctx: PageContext,
    mfa: bool,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Response, WebError> {
    let mut h = HeaderMap::new();
    cookies::clear_pair(&mut h, state.config.https());
    let erase_after = Some(ctx.locale.local_date(&at));
    let ctx = PageContext {
        viewer: None,
        csrf: String::new(),
        ..ctx
    };
    let p = DeletePage {
        ctx,
        form: Form::new(),
        mfa,
        erase_after,
    };
    Ok((h, render(&p)?).into_response())
}
