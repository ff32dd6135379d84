//! Commerce JSON API: the plans on offer (`GET /plans`), the caller's plan in force with what
//! is left of it (`GET /subscription`), card redemption (`POST /cards/redeem`), and for finance
//! staff the plans (`/admin/plans…`) and card batches (`/admin/card-batches…`). Every rule
//! lives in `myqcm_services::commerce`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use myqcm_domain::codes;
use myqcm_services::commerce::cards::{BatchView, Redeemed};
use myqcm_services::commerce::{
    CommerceError, PlanInput, PlanView, SubscriptionView, require_finance,
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::catalogue::{actor, parse_body};
use crate::auth::{CurrentUser, VerifiedUser};
use crate::error::{ApiJson, Problem};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plans", get(plans))
        .route("/subscription", get(subscription))
        .route("/cards/redeem", post(redeem))
        .route("/admin/plans", get(admin_plans).post(create_plan))
        .route("/admin/plans/{code}", put(update_plan))
        .route("/admin/card-batches", get(batches))
        .route("/admin/card-batches/{id}/revoke", post(revoke))
}

impl From<CommerceError> for WebError {
    fn from(e: CommerceError) -> Self {
        match e {
            CommerceError::NotFound => Self::code(codes::NOT_FOUND),
            CommerceError::Forbidden => Self::code(codes::FORBIDDEN),
            CommerceError::MfaEnrolmentRequired => Self::code(codes::MFA_ENROLMENT_REQUIRED),
            CommerceError::StepUpRequired => Self::code(codes::STEP_UP_REQUIRED),
            CommerceError::Invalid { field, message } => {
                Self::invalid_field(field, "invalid", message)
            }
            CommerceError::Conflict(m) => Self::with_detail(codes::CONFLICT, m),
            CommerceError::RateLimited => Self::code(codes::RATE_LIMITED),
            CommerceError::CardInvalid => Self::code(codes::CARD_INVALID),
            CommerceError::CardUsed => Self::code(codes::CARD_USED),
            CommerceError::CardExpired => Self::code(codes::CARD_EXPIRED),
            CommerceError::PlanWithoutEnd => Self::code(codes::PLAN_WITHOUT_END),
            CommerceError::Store(e) => Self::Internal(anyhow::anyhow!(e)),
        }
    }
}

/// The plans on offer, in display order.
#[utoipa::path(get, path = "/api/v1/plans", tag = "commerce",
    responses((status = 200, body = [PlanView])))]
pub async fn plans(State(s): State<AppState>) -> Result<Json<Vec<PlanView>>, WebError> {
    Ok(Json(s.services.commerce.listed_plans().await?))
}

/// The caller's plan in force (the free plan without a subscription) and what is left today
/// and this month.
#[utoipa::path(get, path = "/api/v1/subscription", tag = "commerce",
    responses((status = 200, body = SubscriptionView), (status = 401, body = Problem)))]
pub async fn subscription(
    State(s): State<AppState>,
    user: CurrentUser,
) -> Result<Json<SubscriptionView>, WebError> {
    Ok(Json(
        s.services.commerce.my_subscription(user.caller.id).await?,
    ))
}

/// A card code as typed or printed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RedeemInput {
    /// `XXXX-XXXX-XXXX-XXXX-C` (case, spaces and dashes do not matter).
    pub code: String,
}

/// Redeems an activation card: the card's plan starts now (or after the paid time, for a
/// renewal). Rate-limited per account and address.
#[utoipa::path(post, path = "/api/v1/cards/redeem", tag = "commerce", request_body = RedeemInput,
    responses((status = 200, body = Redeemed), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 410, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn redeem(
    State(s): State<AppState>,
    user: VerifiedUser,
    ApiJson(input): ApiJson<RedeemInput>,
) -> Result<Json<Redeemed>, WebError> {
    let c = &s.services.commerce;
    Ok(Json(
        c.redeem(&actor(&user), user.meta(), &input.code).await?,
    ))
}

/// Every plan (finance staff).
#[utoipa::path(get, path = "/api/v1/admin/plans", tag = "admin",
    responses((status = 200, body = [PlanView]), (status = 403, body = Problem)))]
pub async fn admin_plans(
    State(s): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<PlanView>>, WebError> {
    Ok(Json(s.services.commerce.plans(&actor(&user)).await?))
}

/// Creates a plan (finance staff); audited.
#[utoipa::path(post, path = "/api/v1/admin/plans", tag = "admin", request_body = PlanInput,
    responses((status = 201, body = PlanView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_plan(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<PlanView>), WebError> {
    require_finance(&actor(&user))?;
    let input: PlanInput = parse_body(body)?;
    let c = &s.services.commerce;
    let view = c.create_plan(&actor(&user), user.meta(), input).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Replaces a plan's names, price, duration and quotas (finance staff); audited.
#[utoipa::path(put, path = "/api/v1/admin/plans/{code}", tag = "admin", request_body = PlanInput,
    params(("code" = String, Path, description = "Plan code")),
    responses((status = 200, body = PlanView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_plan(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<PlanView>, WebError> {
    require_finance(&actor(&user))?;
    let input: PlanInput = parse_body(body)?;
    let c = &s.services.commerce;
    Ok(Json(
        c.update_plan(&actor(&user), user.meta(), &code, input)
            .await?,
    ))
}

/// Card batches, newest first, with their redeemed counts (finance staff).
#[utoipa::path(get, path = "/api/v1/admin/card-batches", tag = "admin",
    responses((status = 200, body = [BatchView]), (status = 403, body = Problem)))]
pub async fn batches(
    State(s): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<BatchView>>, WebError> {
    Ok(Json(s.services.commerce.batches(&actor(&user)).await?))
}

/// Revokes a batch: its unredeemed cards stop working (finance staff); audited.
#[utoipa::path(post, path = "/api/v1/admin/card-batches/{id}/revoke", tag = "admin",
    params(("id" = Uuid, Path, description = "Batch id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn revoke(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, WebError> {
    require_finance(&actor(&user))?;
    let id: Uuid = id.parse().map_err(|_| WebError::code(codes::NOT_FOUND))?;
    let c = &s.services.commerce;
    c.revoke_batch(&actor(&user), user.meta(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
