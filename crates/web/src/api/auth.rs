//! `/api/v1/auth/…`: sign-up, email verification, sign-in (cookies), the token endpoint
//! (Bearer clients), refresh, sign-out, password reset, and the current session.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
pub use myqcm_services::identity::accounts::AccountView;
use myqcm_services::identity::flows::{self, Grant, SignUp, VerifyProof};
use myqcm_services::identity::sessions::{self, IssuedTokens};
use myqcm_services::identity::{ClientMeta, caller, crypto};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{self, ClientContext, CurrentUser, VerifiedUser, cookies};
use crate::error::ApiJson;
use crate::{AppState, WebError};

/// The routes.
pub fn router(test_routes: bool) -> Router<AppState> {
    let r = Router::new()
        .route("/auth/sign-up", post(sign_up))
        .route("/auth/verify-email", post(verify_email))
        .route("/auth/resend-verification", post(resend_verification))
        .route("/auth/sign-in", post(sign_in))
        .route("/auth/token", post(token))
        .route("/auth/refresh", post(refresh))
        .route("/auth/sign-out", post(sign_out))
        .route("/auth/sign-out-everywhere", post(sign_out_everywhere))
        .route("/auth/step-up", post(step_up))
        .route("/auth/password-reset", post(request_reset))
        .route("/auth/password-reset/confirm", post(confirm_reset))
        .route("/auth/session", get(session));
    if test_routes {
        r.route("/__test/verified-only", get(verified_only))
            .route("/__test/require/{action}", get(require_action))
    } else {
        r
    }
}

/// Generic acceptance: the same for existing and unknown addresses.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
}

fn accepted() -> (StatusCode, Json<Accepted>) {
    (StatusCode::ACCEPTED, Json(Accepted { status: "accepted" }))
}

/// Sign-up body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpBody {
    /// Address.
    pub email: String,
    /// Password (8–128 characters).
    pub password: String,
    /// Name shown.
    pub display_name: String,
    /// `fr`, `ar` or `en`.
    pub locale: Option<String>,
}

/// Creates an account and sends the verification mail (202 whether or not the address has an
/// account already).
#[utoipa::path(post, path = "/api/v1/auth/sign-up", tag = "auth", request_body = SignUpBody,
    responses((status = 202, body = Accepted), (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn sign_up(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ApiJson(b): ApiJson<SignUpBody>,
) -> Result<impl IntoResponse, WebError> {
    let input = SignUp {
        email: b.email,
        password: b.password,
        display_name: b.display_name,
        locale: b.locale,
    };
    flows::sign_up(&state.deps(), input, &meta).await?;
    Ok(accepted())
}

/// Verification: the link's token, or the address and the 6-digit code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The token from the link.
    pub token: Option<String>,
    /// The address (with `code`).
    pub email: Option<String>,
    /// The 6-digit code.
    pub code: Option<String>,
}

/// Status reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// Always `ok`.
    pub status: &'static str,
}

/// The `{"status": "ok"}` reply.
pub fn done() -> Json<Done> {
    Json(Done { status: "ok" })
}

/// Confirms an address (sign-up or email change). Does not sign in.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = VerifyBody,
    responses((status = 200, body = Done), (status = 400, body = crate::error::Problem)))]
pub async fn verify_email(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    headers: HeaderMap,
    ApiJson(b): ApiJson<VerifyBody>,
) -> Result<Json<Done>, WebError> {
    let proof = match (b.token, b.email, b.code) {
        (Some(t), _, _) => VerifyProof::Token(t),
        (None, Some(email), Some(code)) => VerifyProof::Code { email, code },
        _ => return Err(WebError::code(myqcm_domain::codes::INVALID_TOKEN)),
    };
    // The browser's own session (if it is the verified account's) survives the proof.
    let current = cookies::read(&headers, &cookies::access_name(state.config.https()));
    flows::verify_email_keeping(&state.deps(), proof, current.as_deref(), &meta).await?;
    Ok(done())
}

/// An address.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    /// Address.
    pub email: String,
}

/// Sends a new verification mail if the address has an unverified account (always 202).
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "auth", request_body = EmailBody,
    responses((status = 202, body = Accepted), (status = 429, body = crate::error::Problem)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ApiJson(b): ApiJson<EmailBody>,
) -> Result<impl IntoResponse, WebError> {
    flows::resend_verification(&state.deps(), &b.email, &meta).await?;
    Ok(accepted())
}

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    /// Address.
    pub email: String,
    /// Password.
    pub password: String,
    /// TOTP or recovery code, for accounts with two-step verification.
    pub totp_code: Option<String>,
    /// Where the page wants to go next (only same-origin relative paths are honoured).
    pub next: Option<String>,
}

/// A browser sign-in: the tokens are in the cookies, the CSRF token in the body.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    /// The account.
    pub user: AccountView,
    /// Send it back as `X-CSRF-Token` (or `_csrf`) on unsafe requests.
    pub csrf_token: String,
    /// The session id.
    pub session_id: Uuid,
    /// Access cookie expiry.
    pub access_expires_at: DateTime<Utc>,
    /// Where to go now: the requested `next` if safe, else `/`.
    pub redirect_to: String,
}

fn max_age(until: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (until - now).num_seconds().max(0)
}

/// `Set-Cookie` headers for a new pair of tokens.
pub fn cookie_headers(state: &AppState, t: &IssuedTokens) -> HeaderMap {
    let now = state.services.clock.now();
    let mut h = HeaderMap::new();
    cookies::set_pair(
        &mut h,
        state.config.https(),
        &t.access_token,
        max_age(t.access_expires_at, now),
        &t.refresh_token,
        max_age(t.refresh_expires_at, now),
    );
    h
}

/// A browser without a device cookie gets a new device id (set as a cookie after sign-in).
fn adopt_device(meta: &mut ClientMeta) -> Option<String> {
    if meta.device.is_some() {
        return None;
    }
    let d = crypto::new_token();
    meta.device = Some(d.clone());
    Some(d)
}

/// Signs in a browser: new session, new cookies (any cookie sent before is ignored).
#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = "auth", request_body = SignInBody,
    responses((status = 200, body = SignedIn), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientContext(mut meta): ClientContext,
    request_headers: HeaderMap,
    ApiJson(b): ApiJson<SignInBody>,
) -> Result<impl IntoResponse, WebError> {
    let https = state.config.https();
    let previous = cookies::read(&request_headers, &cookies::access_name(https));
    let new_device = adopt_device(&mut meta);
    let (tokens, account) = flows::sign_in_browser(
        &state.deps(),
        &b.email,
        b.password,
        b.totp_code.as_deref(),
        previous.as_deref(),
        &meta,
    )
    .await?;
    let mut headers = cookie_headers(&state, &tokens);
    cookies::set_device(&mut headers, https, new_device.as_deref());
    let body = SignedIn {
        user: AccountView::from(&account),
        csrf_token: tokens.csrf_token.clone(),
        session_id: tokens.session_id,
        access_expires_at: tokens.access_expires_at,
        redirect_to: myqcm_domain::identity::safe_redirect(b.next.as_deref()),
    };
    Ok((headers, Json(body)))
}

/// The token endpoint for non-browser clients (OAuth-style grants).
#[derive(Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenBody {
    /// Email and password.
    Password {
        /// Address (`username` in OAuth terms).
        email: String,
        /// Password.
        password: String,
        /// TOTP or recovery code, for accounts with two-step verification.
        totp_code: Option<String>,
    },
    /// A refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
    },
}

impl From<TokenBody> for Grant {
    fn from(b: TokenBody) -> Self {
        match b {
            TokenBody::Password {
                email,
                password,
                totp_code,
            } => Self::Password {
                email,
                password,
                second_factor: totp_code,
            },
            TokenBody::RefreshToken { refresh_token } => Self::Refresh(refresh_token),
        }
    }
}

/// Tokens for a Bearer client.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Exchange at this endpoint with `grant_type=refresh_token`; rotates on every use.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
    /// The session id.
    pub session_id: Uuid,
}

/// `POST /api/v1/auth/token`: password or refresh grant; tokens in the body.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn token(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ApiJson(b): ApiJson<TokenBody>,
) -> Result<impl IntoResponse, WebError> {
    let tokens = flows::token_grant(&state.deps(), b.into(), &meta).await?;
    let now = state.services.clock.now();
    let no_store = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    Ok((
        no_store,
        Json(TokenResponse {
            expires_in: max_age(tokens.access_expires_at, now),
            refresh_expires_in: max_age(tokens.refresh_expires_at, now),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            token_type: "Bearer",
            session_id: tokens.session_id,
        }),
    ))
}

/// New CSRF token after a refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refreshed {
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Access cookie expiry.
    pub access_expires_at: DateTime<Utc>,
}

/// Rotates the browser's refresh cookie (needs `X-CSRF-Token`). Reusing a rotated refresh
/// token after the 10 s grace revokes the session family.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    responses((status = 200, body = Refreshed), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    headers: HeaderMap,
    ext: Option<axum::Extension<auth::csrf::FormToken>>,
) -> Result<impl IntoResponse, WebError> {
    let presented = cookies::read(&headers, &cookies::refresh_name(state.config.https()));
    let csrf = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| ext.map(|e| e.0.0.clone()));
    let tokens =
        flows::refresh_browser(&state.deps(), presented.as_deref(), csrf.as_deref(), &meta).await?;
    let out = cookie_headers(&state, &tokens);
    Ok((
        out,
        Json(Refreshed {
            csrf_token: tokens.csrf_token.clone(),
            access_expires_at: tokens.access_expires_at,
        }),
    ))
}

/// Ends the current session and clears the cookies.
#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = "auth",
    responses((status = 200, body = Done), (status = 401, body = crate::error::Problem)))]
pub async fn sign_out(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<impl IntoResponse, WebError> {
    let deps = state.deps();
    sessions::revoke(&deps, user.id, user.session_id, "sign_out").await?;
    let mut h = HeaderMap::new();
    cookies::clear_pair(&mut h, state.config.https());
    Ok((h, done()))
}

/// Optional password for a step-up.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SignOutEverywhereBody {
    /// The current password (needed unless a step-up happened in the last 10 minutes).
    pub password: Option<String>,
    /// Keep the session making this request.
    #[serde(default)]
    pub keep_current: bool,
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// Count.
    pub revoked: usize,
}

/// Ends every session of the account (step-up required).
#[utoipa::path(post, path = "/api/v1/auth/sign-out-everywhere", tag = "auth", request_body = SignOutEverywhereBody,
    responses((status = 200, body = Revoked), (status = 401, body = crate::error::Problem)))]
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<SignOutEverywhereBody>,
) -> Result<impl IntoResponse, WebError> {
    let n = flows::sign_out_everywhere(
        &state.deps(),
        user.principal(),
        b.password,
        b.keep_current,
        user.meta(),
    )
    .await?;
    let mut h = HeaderMap::new();
    if !b.keep_current {
        cookies::clear_pair(&mut h, state.config.https());
    }
    Ok((h, Json(Revoked { revoked: n })))
}

/// A password (and second factor) for re-authentication.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// Current password.
    pub password: String,
    /// TOTP or recovery code (required when two-step verification is on).
    pub totp_code: Option<String>,
}

/// Re-authenticates inside the current session (step-up, valid 10 minutes).
#[utoipa::path(post, path = "/api/v1/auth/step-up", tag = "auth", request_body = PasswordBody,
    responses((status = 200, body = Done), (status = 401, body = crate::error::Problem)))]
pub async fn step_up(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<Json<Done>, WebError> {
    flows::step_up(
        &state.deps(),
        user.principal(),
        b.password,
        b.totp_code.as_deref(),
        user.meta(),
    )
    .await?;
    Ok(done())
}

/// Sends a reset link if the address has an account (always 202).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = EmailBody,
    responses((status = 202, body = Accepted), (status = 429, body = crate::error::Problem)))]
pub async fn request_reset(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ApiJson(b): ApiJson<EmailBody>,
) -> Result<impl IntoResponse, WebError> {
    flows::request_reset(&state.deps(), &b.email, &meta).await?;
    Ok(accepted())
}

/// A reset token and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// From the link.
    pub token: String,
    /// New password.
    pub new_password: String,
}

/// Sets a new password from a reset link; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetBody,
    responses((status = 200, body = Done), (status = 400, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    ClientContext(meta): ClientContext,
    ApiJson(b): ApiJson<ResetBody>,
) -> Result<Json<Done>, WebError> {
    flows::confirm_reset(&state.deps(), &b.token, b.new_password, &meta).await?;
    Ok(done())
}

/// The current session.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CurrentSignIn)]
pub struct SessionView {
    /// The account.
    pub user: AccountView,
    /// Session id.
    pub session_id: Uuid,
    /// CSRF token of this session.
    pub csrf_token: String,
}

/// Who is signed in, with the session's CSRF token.
#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 200, body = SessionView), (status = 401, body = crate::error::Problem)))]
pub async fn session(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<SessionView>, WebError> {
    let (account, csrf_token) = caller::current_session(&state.deps(), &user).await?;
    Ok(Json(SessionView {
        user: account,
        session_id: user.session_id,
        csrf_token,
    }))
}

async fn verified_only(user: VerifiedUser) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user_id": user.id }))
}

async fn require_action(
    user: CurrentUser,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, WebError> {
    let action = myqcm_domain::permissions::Action::ALL
        .into_iter()
        .find(|a| format!("{a:?}") == name)
        .ok_or_else(|| WebError::code(myqcm_domain::codes::NOT_FOUND))?;
    user.require(action)?;
    Ok(Json(serde_json::json!({ "allowed": name })))
}
