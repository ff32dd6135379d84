//! Authors' earnings JSON API: the caller's wallet (`GET /earnings`), a withdrawal request
//! (`POST /earnings/withdrawals`), and for finance staff the withdrawals
//! (`/admin/withdrawals…`, settling and opening a postal account need the step-up) and the pay
//! per first approval (`/admin/earnings/rate`). Every rule lives in
//! `myqcm_services::commerce::ledger`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_domain::codes;
use myqcm_services::commerce::ledger::{
    AdminWithdrawalView, CcpRevealed, EarningsView, Finance, LedgerError, Outcome, WithdrawalView,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::catalogue::{actor, parse_body};
use crate::auth::CurrentUser;
use crate::error::{ApiJson, Problem};
use crate::{AppState, WebError};
use serde_json::Value;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/earnings", get(earnings))
        .route("/earnings/withdrawals", post(request_withdrawal))
        .route("/admin/withdrawals", get(withdrawals))
        .route("/admin/withdrawals/{id}/settle", post(settle))
        .route("/admin/withdrawals/{id}/ccp", post(reveal_ccp))
        .route("/admin/earnings/rate", get(rate).put(set_rate))
}

impl From<LedgerError> for WebError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::NotFound => Self::code(codes::NOT_FOUND),
            LedgerError::Forbidden => Self::code(codes::FORBIDDEN),
            LedgerError::MfaEnrolmentRequired => Self::code(codes::MFA_ENROLMENT_REQUIRED),
            LedgerError::StepUpRequired => Self::code(codes::STEP_UP_REQUIRED),
            LedgerError::Invalid { field, message } => {
                Self::invalid_field(field, "invalid", message)
            }
            LedgerError::InsufficientFunds => Self::code(codes::INSUFFICIENT_FUNDS),
            LedgerError::AlreadySettled => {
                Self::with_detail(codes::CONFLICT, "This withdrawal was settled already.")
            }
            LedgerError::Store(e) => Self::Internal(anyhow::anyhow!(e)),
        }
    }
}

fn finance(s: &AppState, user: &CurrentUser) -> Finance {
    Finance::of(&s.services.deps(), &user.caller)
}

/// Paging of the wallet's entries.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EntriesPage {
    /// Entries older than this entry id (the `next_before` of the previous page).
    pub before: Option<Uuid>,
    /// At most 200 (default 50).
    pub limit: Option<u64>,
}

/// The caller's wallet (authors): balance, pay rule, a page of entries, withdrawals.
#[utoipa::path(get, path = "/api/v1/earnings", tag = "commerce", params(EntriesPage),
    responses((status = 200, body = EarningsView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn earnings(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(page): Query<EntriesPage>,
) -> Result<Json<EarningsView>, WebError> {
    let l = &s.services.ledger;
    Ok(Json(
        l.earnings(&actor(&user), page.before, page.limit).await?,
    ))
}

/// A withdrawal request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalInput {
    /// Centimes (100 DZD at least).
    pub amount: i64,
    /// The Algérie Poste account: `number key` (e.g. `12345678 90`) or the 20-digit RIP.
    pub ccp: String,
}

/// Asks for a payout of `amount` centimes to a postal account (authors); the amount leaves the
/// wallet at once and returns if the payout fails.
#[utoipa::path(post, path = "/api/v1/earnings/withdrawals", tag = "commerce", request_body = WithdrawalInput,
    responses((status = 201, body = WithdrawalView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn request_withdrawal(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<WithdrawalInput>,
) -> Result<(StatusCode, Json<WithdrawalView>), WebError> {
    let l = &s.services.ledger;
    let w = l
        .request_withdrawal(&actor(&user), user.meta(), b.amount, &b.ccp)
        .await?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// Filter of the withdrawals list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct WithdrawalFilter {
    /// `requested` (default), `paid`, `failed` or `all`.
    pub status: Option<String>,
}

/// Withdrawals, oldest request first (finance staff); postal accounts masked.
#[utoipa::path(get, path = "/api/v1/admin/withdrawals", tag = "admin", params(WithdrawalFilter),
    responses((status = 200, body = [AdminWithdrawalView]), (status = 403, body = Problem)))]
pub async fn withdrawals(
    State(s): State<AppState>,
    user: CurrentUser,
    Query(f): Query<WithdrawalFilter>,
) -> Result<Json<Vec<AdminWithdrawalView>>, WebError> {
    let status = f.status.as_deref().unwrap_or("requested");
    let l = &s.services.ledger;
    Ok(Json(
        l.withdrawals(&finance(&s, &user), Some(status)).await?,
    ))
}

/// A settlement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleInput {
    /// `paid` or `failed`.
    pub outcome: String,
    /// Up to 500 characters, shown to the author.
    #[serde(default)]
    pub note: String,
}

/// Settles a requested withdrawal as paid or failed (finance staff, step-up); a failed payout
/// returns the amount to the author's wallet. Audited.
#[utoipa::path(post, path = "/api/v1/admin/withdrawals/{id}/settle", tag = "admin", request_body = SettleInput,
    params(("id" = Uuid, Path, description = "Withdrawal id")),
    responses((status = 200, body = AdminWithdrawalView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn settle(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<AdminWithdrawalView>, WebError> {
    let fin = finance(&s, &user);
    fin.require()?;
    let b: SettleInput = parse_body(body)?;
    let outcome = Outcome::parse(&b.outcome)?;
    Ok(Json(
        s.services.ledger.settle(&fin, id, outcome, &b.note).await?,
    ))
}

/// The postal account of a withdrawal in full, to pay it (finance staff, step-up); audited.
#[utoipa::path(post, path = "/api/v1/admin/withdrawals/{id}/ccp", tag = "admin",
    params(("id" = Uuid, Path, description = "Withdrawal id")),
    responses((status = 200, body = CcpRevealed), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn reveal_ccp(
    State(s): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<CcpRevealed>, WebError> {
    let l = &s.services.ledger;
    Ok(Json(l.reveal_ccp(&finance(&s, &user), id).await?))
}

/// The pay per item's first approval.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Centimes (0 stops paying).
    pub amount: i64,
}

/// The pay per item's first approval (finance staff).
#[utoipa::path(get, path = "/api/v1/admin/earnings/rate", tag = "admin",
    responses((status = 200, body = Rate), (status = 403, body = Problem)))]
pub async fn rate(State(s): State<AppState>, user: CurrentUser) -> Result<Json<Rate>, WebError> {
    let amount = s.services.ledger.rate(&finance(&s, &user)).await?;
    Ok(Json(Rate { amount }))
}

/// Sets the pay per item's first approval (finance staff, step-up); audited.
#[utoipa::path(put, path = "/api/v1/admin/earnings/rate", tag = "admin", request_body = Rate,
    responses((status = 200, body = Rate), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_rate(
    State(s): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Rate>, WebError> {
    let fin = finance(&s, &user);
    fin.require()?;
    let b: Rate = parse_body(body)?;
    let amount = s.services.ledger.set_rate(&fin, b.amount).await?;
    Ok(Json(Rate { amount }))
}
