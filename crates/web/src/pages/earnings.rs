//! `/earnings` (an author's wallet, movements and the withdrawal form) and
//! `/admin/withdrawals` (finance staff: show an account, settle as paid or failed). Plain forms
//! that work without JavaScript, over the same use cases as the earnings API
//! (`myqcm_services::commerce::ledger`).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_domain::ledger::parse_dzd;
use myqcm_services::commerce::ledger::{
    AdminWithdrawalView, CcpRevealed, EarningsView, Finance, LedgerError, Outcome,
};
use serde::Deserialize;
use uuid::Uuid;

use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::input::PageForm;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/earnings", get(earnings))
        .route("/earnings/withdrawals", post(withdraw))
        .route("/admin/withdrawals", get(withdrawals))
        .route("/admin/withdrawals/{id}/ccp", post(reveal))
        .route("/admin/withdrawals/{id}/settle", post(settle))
}

#[derive(Template)]
#[template(path = "earnings/wallet.html")]
struct WalletPage {
    ctx: PageContext,
    form: Form,
    wallet: EarningsView,
}

impl WalletPage {
    fn kind(&self, k: &str) -> String {
        self.ctx.t(&format!("earnings-kind-{k}"))
    }

    fn status(&self, s: &str) -> String {
        self.ctx.t(&format!("earnings-status-{s}"))
    }
}

/// Paging of the movements.
#[derive(Debug, Deserialize)]
pub struct WalletQuery {
    before: Option<Uuid>,
    done: Option<String>,
}

async fn wallet(
    s: &AppState,
    ctx: PageContext,
    before: Option<Uuid>,
    form: Form,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/earnings"));
    };
    let actor = v.user.actor();
    let wallet = s.services.ledger.earnings(&actor, before, None).await?;
    let status = form.status();
    Ok(page(status, render(&WalletPage { ctx, form, wallet })?))
}

/// `GET /earnings`.
pub async fn earnings(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<WalletQuery>,
) -> Result<Response, WebError> {
    let form = match q.done.as_deref() {
        Some("requested") => Form::new().noticed(ctx.t("earnings-requested")),
        _ => Form::new(),
    };
    wallet(&s, ctx, q.before, form).await
}

/// The withdrawal form: an amount in dinars as typed, the postal account.
#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    ccp: String,
}

/// `POST /earnings/withdrawals`.
pub async fn withdraw(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<WithdrawForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/earnings"));
    };
    let done = match parse_dzd(&f.amount) {
        Some(amount) => {
            let l = &s.services.ledger;
            l.request_withdrawal(&v.user.actor(), v.user.meta(), amount, &f.ccp)
                .await
        }
        None => Err(LedgerError::Invalid {
            field: "amount",
            message: "amount".into(),
        }),
    };
    let form = match done {
        Ok(_) => return Ok(see_other("/earnings?done=requested")),
        Err(LedgerError::Forbidden) => return Err(WebError::from(LedgerError::Forbidden)),
        // The account is never echoed back into the page.
        Err(e) => Form::new()
            .with("amount", &f.amount)
            .failure(ctx.locale, "amount", e)?,
    };
    wallet(&s, ctx, None, form).await
}

#[derive(Template)]
#[template(path = "earnings/withdrawals.html")]
struct WithdrawalsPage {
    ctx: PageContext,
    form: Form,
    status: String,
    rows: Vec<AdminWithdrawalView>,
    stepped_up: bool,
    revealed: Option<CcpRevealed>,
}

impl WithdrawalsPage {
    fn filters(&self) -> [&'static str; 4] {
        ["requested", "paid", "failed", "all"]
    }

    fn filter_name(&self, f: &str) -> String {
        match f {
            "all" => self.ctx.t("jobs-status-all"),
            other => self.ctx.t(&format!("earnings-status-{other}")),
        }
    }

    fn status_name(&self, s: &str) -> String {
        self.ctx.t(&format!("earnings-status-{s}"))
    }

    fn is_revealed(&self, id: &Uuid) -> bool {
        self.revealed
            .as_ref()
            .is_some_and(|r| r.withdrawal_id == *id)
    }
}

/// The state filter.
#[derive(Debug, Deserialize)]
pub struct WithdrawalsQuery {
    status: Option<String>,
}

async fn list(
    s: &AppState,
    ctx: PageContext,
    status: Option<String>,
    form: Form,
    revealed: Option<CcpRevealed>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/admin/withdrawals"));
    };
    let fin = Finance::of(&s.services.deps(), &v.user.caller);
    let status = status.unwrap_or_else(|| "requested".into());
    let rows = s.services.ledger.withdrawals(&fin, Some(&status)).await?;
    let code = form.status();
    let html = render(&WithdrawalsPage {
        stepped_up: fin.recent_mfa,
        ctx,
        form,
        status,
        rows,
        revealed,
    })?;
    Ok(page(code, html))
}

/// `GET /admin/withdrawals`.
pub async fn withdrawals(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<WithdrawalsQuery>,
) -> Result<Response, WebError> {
    list(&s, ctx, q.status, Form::new(), None).await
}

/// What a staff action ended in: the list again, or the step-up page when it asked for one.
async fn after(s: &AppState, ctx: PageContext, e: LedgerError) -> Result<Response, WebError> {
    match e {
        LedgerError::StepUpRequired => Ok(see_other("/admin/step-up?next=/admin/withdrawals")),
        e @ (LedgerError::Forbidden | LedgerError::MfaEnrolmentRequired) => Err(e.into()),
        e => {
            let form = Form::new().failure(ctx.locale, "", e)?;
            list(s, ctx, None, form, None).await
        }
    }
}

/// `POST /admin/withdrawals/{id}/ccp`: the list with that withdrawal's account shown.
pub async fn reveal(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/admin/withdrawals"));
    };
    let fin = Finance::of(&s.services.deps(), &v.user.caller);
    match s.services.ledger.reveal_ccp(&fin, id).await {
        Ok(r) => list(&s, ctx, None, Form::new(), Some(r)).await,
        Err(e) => after(&s, ctx, e).await,
    }
}

/// The settlement form.
#[derive(Deserialize)]
pub struct SettleForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

/// `POST /admin/withdrawals/{id}/settle`.
pub async fn settle(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(f): PageForm<SettleForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/admin/withdrawals"));
    };
    let fin = Finance::of(&s.services.deps(), &v.user.caller);
    let done = match Outcome::parse(&f.outcome) {
        Ok(o) => s.services.ledger.settle(&fin, id, o, &f.note).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(see_other("/admin/withdrawals")),
        Err(e) => after(&s, ctx, e).await,
    }
}
