//! Online payment JSON API: start a checkout (`POST /payments/checkout`), the status of one's
//! own payment intent (`GET /payments/{intent}`), and the Chargily webhook
//! (`POST /payments/chargily/webhook`, exempt from CSRF: it is authenticated by its HMAC
//! signature). Without `MYQCM_CHARGILY_MODE` every route answers 404. Every rule lives in
//! `myqcm_services::commerce::payments`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_domain::codes;
use myqcm_services::commerce::payments::{IntentView, Outcome, PaymentError, Payments, Started};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::catalogue::actor;
use crate::auth::{ClientContext, CurrentUser, VerifiedUser};
use crate::error::{ApiJson, Problem};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payments/checkout", post(checkout))
        .route("/payments/chargily/webhook", post(webhook))
        .route("/payments/{intent}", get(intent))
}

impl From<PaymentError> for WebError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Disabled | PaymentError::NotFound => Self::code(codes::NOT_FOUND),
            PaymentError::Forbidden => Self::code(codes::FORBIDDEN),
            PaymentError::Invalid { field, message } => {
                Self::invalid_field(field, "invalid", message)
            }
            PaymentError::PlanWithoutEnd => Self::code(codes::PLAN_WITHOUT_END),
            PaymentError::RateLimited => Self::code(codes::RATE_LIMITED),
            PaymentError::Gateway(e) => {
                tracing::warn!(error = %e, "payment provider");
                Self::code(codes::PAYMENT_UNAVAILABLE)
            }
            PaymentError::BadSignature => Self::code(codes::SIGNATURE_INVALID),
            PaymentError::Malformed(m) => {
                tracing::warn!(error = %m, "signed webhook body does not parse");
                Self::code(codes::INVALID_JSON)
            }
            PaymentError::TooLarge => Self::code(codes::PAYLOAD_TOO_LARGE),
            PaymentError::Store(e) => Self::Internal(anyhow::anyhow!(e)),
        }
    }
}

/// The payment use cases, or 404 when online payment is not configured.
pub(crate) fn payments(s: &AppState) -> Result<&Payments, WebError> {
    Ok(s.services.payments.as_ref().ok_or(PaymentError::Disabled)?)
}

/// The plan to buy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// Plan code (the amount is the plan's price, never the client's).
    pub plan: String,
    /// Checkout page language: `fr` (default), `ar` or `en`.
    #[serde(default)]
    pub locale: Option<String>,
}

/// Starts buying a plan online: a payment intent and a checkout at the provider; send the
/// browser to `checkout_url` (a link or a GET redirect).
#[utoipa::path(post, path = "/api/v1/payments/checkout", tag = "commerce", request_body = CheckoutInput,
    responses((status = 201, body = Started), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem),
        (status = 503, body = Problem)))]
pub async fn checkout(
    State(s): State<AppState>,
    user: VerifiedUser,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> Result<(StatusCode, Json<Started>), WebError> {
    let p = payments(&s)?;
    let locale = input.locale.as_deref().unwrap_or("fr");
    let started = p
        .start_checkout(&actor(&user), user.meta(), &input.plan, locale)
        .await?;
    Ok((StatusCode::CREATED, Json(started)))
}

/// The status of one of the caller's payment intents (another learner's is 404).
#[utoipa::path(get, path = "/api/v1/payments/{intent}", tag = "commerce",
    params(("intent" = Uuid, Path, description = "Payment intent id")),
    responses((status = 200, body = IntentView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn intent(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<IntentView>, WebError> {
    let id: Uuid = id.parse().map_err(|_| WebError::code(codes::NOT_FOUND))?;
    Ok(Json(payments(&s)?.intent_status(user.caller.id, id).await?))
}

/// The Chargily webhook: header `signature` = lowercase hex HMAC-SHA256 of the raw body under
/// the secret key. 200 once handled (duplicates and unknown types included); 429 past 120
/// deliveries a minute from one client address.
#[utoipa::path(post, path = "/api/v1/payments/chargily/webhook", tag = "commerce",
    responses((status = 200, description = "Accepted"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 413, body = Problem), (status = 429, body = Problem),
        (status = 503, body = Problem)))]
pub async fn webhook(
    State(s): State<AppState>,
    ClientContext(meta): ClientContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, WebError> {
    let signature = headers.get("signature").and_then(|v| v.to_str().ok());
    let outcome: Outcome = payments(&s)?
        .handle_webhook(&body, signature, meta.ip.as_deref())
        .await?;
    Ok(Json(json!({"outcome": outcome})))
}
