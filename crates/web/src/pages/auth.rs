//! Account access pages: sign-up, email verification (link or 6-digit code, resend), sign-in
//! (with the TOTP step), sign-out, password reset (request, then a new password from the mail's
//! link) and the language switch. Each form handler calls the same use case as its JSON route in
//! `api::auth`.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_domain::identity::safe_redirect;
use myqcm_services::identity::IdentityError;
use myqcm_services::identity::flows::{self, SignUp, VerifyProof};
use myqcm_services::identity::sessions;
use serde::Deserialize;

use super::forms::{Form, page, see_other, see_other_with};
use super::{PageContext, render};
use crate::auth::{ClientContext, cookies};
use crate::i18n::{LANG_COOKIE, Locale};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-up", get(sign_up_page).post(sign_up))
        .route("/verify-email", get(verify_page).post(verify))
        .route("/verify-email/resend", post(resend))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/password-reset", get(reset_page).post(request_reset))
        .route("/password-reset/confirm", post(confirm_reset))
        .route("/language", post(language))
}

/// Where a signed-in person lands by default.
pub const HOME: &str = "/dashboard";

fn next_or_home(next: Option<&str>) -> String {
    match safe_redirect(next) {
        p if p == "/" => HOME.to_owned(),
        p => p,
    }
}

// ------------------------------------------------------------------------- sign-up

#[derive(Template)]
#[template(path = "auth/sign_up.html")]
struct SignUpPage {
    ctx: PageContext,
    form: Form,
}

/// `GET /sign-up`.
pub async fn sign_up_page(ctx: PageContext) -> Result<Response, WebError> {
    if ctx.signed_in() {
        return Ok(see_other(HOME));
    }
    let form = Form::new();
    Ok(page(form.status(), render(&SignUpPage { ctx, form })?))
}

/// The sign-up form.
#[derive(Deserialize)]
pub struct SignUpForm {
    display_name: String,
    email: String,
    password: String,
}

/// `POST /sign-up`: creates the account (in the page's language) and sends the verification
/// mail, then shows the verification page.
pub async fn sign_up(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<SignUpForm>,
) -> Result<Response, WebError> {
    let input = SignUp {
        email: f.email.clone(),
        password: f.password,
        display_name: f.display_name.clone(),
        locale: Some(ctx.locale.tag().to_owned()),
    };
    match flows::sign_up(&state.deps(), input, &meta).await {
        Ok(()) => Ok(see_other(&format!(
            "/verify-email?sent=1&email={}",
            enc(&f.email)
        ))),
        Err(e) => {
            let form = Form::new()
                .with("display_name", &f.display_name)
                .with("email", &f.email)
                .failure(ctx.locale, "email", e)?;
            Ok(page(form.status(), render(&SignUpPage { ctx, form })?))
        }
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ------------------------------------------------------------------------- verification

#[derive(Template)]
#[template(path = "auth/verify.html")]
struct VerifyPage {
    ctx: PageContext,
    form: Form,
}

/// Query of the verification page.
#[derive(Deserialize, Default)]
pub struct VerifyQuery {
    sent: Option<String>,
    email: Option<String>,
}

/// `GET /verify-email`: the code form (the mail's link carries its token in the fragment; the
/// page's script posts it, and the code form works without JavaScript), and a resend form.
pub async fn verify_page(
    ctx: PageContext,
    Query(q): Query<VerifyQuery>,
) -> Result<Response, WebError> {
    let email = q
        .email
        .or_else(|| ctx.viewer.as_ref().map(|v| v.account.email.clone()))
        .unwrap_or_default();
    let mut form = Form::new().with("email", &email);
    if q.sent.is_some() {
        form = form.noticed(ctx.t("verify-sent"));
    }
    Ok(page(form.status(), render(&VerifyPage { ctx, form })?))
}

/// The verification form: the link's token, or the address and code.
#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
}

/// `POST /verify-email`: confirms the address, then on to sign-in (or onboarding when the
/// viewer is already signed in).
pub async fn verify(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<VerifyForm>,
) -> Result<Response, WebError> {
    let proof = if f.token.trim().is_empty() {
        VerifyProof::Code {
            email: f.email.clone(),
            code: f.code.trim().to_owned(),
        }
    } else {
        VerifyProof::Token(f.token.trim().to_owned())
    };
    let current = ctx.viewer.as_ref().map(|v| v.user.principal());
    match flows::verify_email_in_session(&state.deps(), proof, current, &meta).await {
        Ok(()) if ctx.signed_in() => Ok(see_other("/onboarding")),
        Ok(()) => Ok(see_other("/sign-in?verified=1&next=%2Fonboarding")),
        Err(e) => {
            let form = Form::new()
                .with("email", &f.email)
                .failure(ctx.locale, "code", e)?;
            Ok(page(form.status(), render(&VerifyPage { ctx, form })?))
        }
    }
}

/// An address.
#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

/// `POST /verify-email/resend`: a new mail when the address has an unverified account (the
/// answer is the same either way).
pub async fn resend(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<EmailForm>,
) -> Result<Response, WebError> {
    let form = Form::new().with("email", &f.email);
    let form = match flows::resend_verification(&state.deps(), &f.email, &meta).await {
        Ok(()) => form.noticed(ctx.t("verify-resent")),
        Err(e) => form.failure(ctx.locale, "resend_email", e)?,
    };
    Ok(page(form.status(), render(&VerifyPage { ctx, form })?))
}

// ------------------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
struct SignInPage {
    ctx: PageContext,
    form: Form,
    /// The TOTP step: email and password travel again in hidden fields.
    totp_step: bool,
}

/// Query of the sign-in page.
#[derive(Deserialize, Default)]
pub struct SignInQuery {
    next: Option<String>,
    verified: Option<String>,
    reset: Option<String>,
}

/// `GET /sign-in`.
pub async fn sign_in_page(
    ctx: PageContext,
    Query(q): Query<SignInQuery>,
) -> Result<Response, WebError> {
    if ctx.signed_in() {
        return Ok(see_other(&next_or_home(q.next.as_deref())));
    }
    let mut form = Form::new().with("next", q.next.as_deref().unwrap_or(""));
    if q.verified.is_some() {
        form = form.noticed(ctx.t("sign-in-verified"));
    } else if q.reset.is_some() {
        form = form.noticed(ctx.t("sign-in-after-reset"));
    }
    let p = SignInPage {
        ctx,
        form,
        totp_step: false,
    };
    Ok(page(p.form.status(), render(&p)?))
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /sign-in`: new session and cookies, then the requested page; accounts with two-step
/// verification get the code step first.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    headers: HeaderMap,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<SignInForm>,
) -> Result<Response, WebError> {
    let previous = cookies::read(&headers, &cookies::access_name(state.config.https()));
    let code = f.totp_code.as_deref().filter(|c| !c.trim().is_empty());
    let result = flows::sign_in_browser(
        &state.deps(),
        &f.email,
        f.password.clone(),
        code,
        previous.as_deref(),
        &meta,
    )
    .await;
    match result {
        Ok((tokens, _)) => {
            let h = crate::api::auth::cookie_headers(&state, &tokens);
            Ok(see_other_with(h, &next_or_home(f.next.as_deref())))
        }
        Err(e) => sign_in_again(ctx, &f, code.is_some(), e),
    }
}

/// The sign-in page again after a refused attempt: the code step when two-step verification
/// asks for it (or the code was wrong), else the error on the address.
fn sign_in_again(
    ctx: PageContext,
    f: &SignInForm,
    code_sent: bool,
    e: IdentityError,
) -> Result<Response, WebError> {
    let form = Form::new()
        .with("email", &f.email)
        .with("next", f.next.as_deref().unwrap_or(""));
    let (form, totp_step) = match e {
        IdentityError::MfaRequired => (form.with("password", &f.password), true),
        e if code_sent => (
            form.with("password", &f.password)
                .failure(ctx.locale, "totp_code", e)?,
            true,
        ),
        e => (form.failure(ctx.locale, "email", e)?, false),
    };
    let p = SignInPage {
        ctx,
        form,
        totp_step,
    };
    Ok(page(p.form.status(), render(&p)?))
}

/// `POST /sign-out`: ends the session, clears the cookies and the browser's cached pages.
pub async fn sign_out(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Response, WebError> {
    let mut h = HeaderMap::new();
    if let Some(v) = &ctx.viewer {
        sessions::revoke(&state.deps(), v.user.id, v.user.session_id, "sign_out").await?;
    }
    cookies::clear_pair(&mut h, state.config.https());
    h.insert("clear-site-data", HeaderValue::from_static("\"cache\""));
    Ok(see_other_with(h, "/"))
}

// ------------------------------------------------------------------------- password reset

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    ctx: PageContext,
    form: Form,
}

/// `GET /password-reset`: the request form, and the new-password form the mail's link opens
/// (its token comes from the fragment through the page's script, or is pasted).
pub async fn reset_page(ctx: PageContext) -> Result<Response, WebError> {
    let form = Form::new();
    Ok(page(form.status(), render(&ResetPage { ctx, form })?))
}

/// `POST /password-reset`: sends the link when the address has an account (same answer
/// either way).
pub async fn request_reset(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<EmailForm>,
) -> Result<Response, WebError> {
    let form = Form::new().with("email", &f.email);
    let form = match flows::request_reset(&state.deps(), &f.email, &meta).await {
        Ok(()) => form.noticed(ctx.t("reset-sent")),
        Err(e) => form.failure(ctx.locale, "email", e)?,
    };
    Ok(page(form.status(), render(&ResetPage { ctx, form })?))
}

/// The new password with the link's token.
#[derive(Deserialize)]
pub struct ConfirmResetForm {
    token: String,
    new_password: String,
}

/// `POST /password-reset/confirm`: sets the password (every session ends), then sign-in.
pub async fn confirm_reset(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<ConfirmResetForm>,
) -> Result<Response, WebError> {
    let token = f.token.trim();
    match flows::confirm_reset(&state.deps(), token, f.new_password, &meta).await {
        Ok(()) => Ok(see_other("/sign-in?reset=1")),
        Err(e) => {
            let form = Form::new()
                .with("token", token)
                .failure(ctx.locale, "new_password", e)?;
            Ok(page(form.status(), render(&ResetPage { ctx, form })?))
        }
    }
}

// ------------------------------------------------------------------------- language

/// The language switch.
#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /language`: remembered on the account when signed in, and in the `lang` cookie (which
/// also serves pages rendered before sign-in and error pages).
pub async fn language(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<LanguageForm>,
) -> Result<Response, WebError> {
    let locale = Locale::parse(&f.lang)
        .ok_or_else(|| WebError::invalid_field("lang", "invalid", "unknown language"))?;
    if let Some(v) = &ctx.viewer {
        flows::update_profile(
            &state.deps(),
            v.user.id,
            None,
            Some(locale.tag().to_owned()),
        )
        .await?;
    }
    let mut h = HeaderMap::new();
    let year = 365 * 24 * 3600;
    if let Some(c) =
        super::session::plain_cookie(LANG_COOKIE, locale.tag(), year, state.config.https())
    {
        h.append(header::SET_COOKIE, c);
    }
    Ok(see_other_with(h, &safe_redirect(f.next.as_deref())))
}
