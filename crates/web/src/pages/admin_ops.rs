//! The admin console's oversight pages: `/admin/audit` (the append-only audit log with filters
//! by actor, action, target and days, newest first, 50 a page; `AuditRead`), `/admin/sessions`
//! (one account's live sign-in sessions, each revocable after a step-up; `UsersManage`) and
//! `/admin/config` (which integrations are on, never a secret; `OperationsManage`) and
//! `/admin/ai-usage` (everyone's language-model calls per day, author and kind, with the
//! estimated cost; `CatalogueManage` or `FinanceManage`, absent without a model). Every rule
//! lives in the services. Staff without two-step sign-in get the enrolment page; everyone else
//! without the power gets 403. Every response is `noindex` and `Cache-Control: no-store,
//! private`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_services::ai::usage::{self, AllUsage, AuthorDay, UsageError};
use myqcm_services::identity::accounts::AdminAccountView;
use myqcm_services::identity::audit::{self, AuditEntry, AuditSearch};
use myqcm_services::identity::flows::{self, SessionView};
use myqcm_services::identity::{IdentityError, admin};
use myqcm_services::overview::{self, Integrations};
use serde::Deserialize;
use uuid::Uuid;

use super::author::{StaffRefusal, staff_headers, staff_refusal as refusal};
use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::input::PageForm;
use crate::{AppState, WebError};

/// Audit entries per page.
const PER_PAGE: u64 = 50;

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit_page))
        .route("/admin/sessions", get(sessions_page))
        .route("/admin/sessions/{id}/revoke", post(revoke))
        .route("/admin/config", get(config_page))
        .route("/admin/ai-usage", get(ai_usage_page))
        .layer(axum::middleware::map_response(staff_headers))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `?action=&actor=&target=&from=&to=&offset=` (dates as `YYYY-MM-DD`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    offset: Option<u64>,
}

impl AuditQuery {
    /// The query string of these filters (paging links keep them).
    fn filters(&self) -> String {
        [
            ("action", &self.action),
            ("actor", &self.actor),
            ("target", &self.target),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: PageContext,
    q: AuditQuery,
    entries: Vec<AuditEntry>,
    offset: u64,
    more: bool,
    form: Form,
}

impl AuditPage {
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn page_href(&self, offset: u64) -> String {
        let f = self.q.filters();
        let sep = if f.is_empty() { "" } else { "&" };
        format!("/admin/audit?{f}{sep}offset={offset}")
    }

    fn prev(&self) -> Option<String> {
        (self.offset > 0).then(|| self.page_href(self.offset.saturating_sub(PER_PAGE)))
    }

    fn next(&self) -> String {
        self.page_href(self.offset + PER_PAGE)
    }
}

/// A typed day, or the form error naming the field.
fn day(ctx: &PageContext, field: &str, v: &str, form: Form) -> (Option<chrono::NaiveDate>, Form) {
    if v.trim().is_empty() {
        return (None, form);
    }
    match chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d") {
        Ok(d) => (Some(d), form),
        Err(_) => (None, form.error(field, ctx.t("audit-error-date"))),
    }
}

/// `GET /admin/audit`: the filtered log, newest first, 50 a page.
pub async fn audit_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/audit"));
    };
    let (from, form) = day(&ctx, "from", &q.from, Form::new());
    let (to, form) = day(&ctx, "to", &q.to, form);
    let offset = q.offset.unwrap_or(0);
    let search = AuditSearch {
        action: q.action.clone(),
        actor: q.actor.clone(),
        target: q.target.clone(),
        from,
        to,
        offset,
        limit: PER_PAGE + 1,
    };
    let mut entries = match audit::search(&s.deps(), &v.user, &search).await {
        Ok(e) => e,
        Err(e) => return refusal(&ctx, e),
    };
    let more = entries.len() as u64 > PER_PAGE;
    entries.truncate(PER_PAGE as usize);
    let code = form.status();
    let html = render(&AuditPage {
        ctx,
        q,
        entries,
        offset,
        more,
        form,
    })?;
    Ok(page(code, html))
}

/// `?email=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionsQuery {
    #[serde(default)]
    email: String,
}

#[derive(Template)]
#[template(path = "admin/sessions.html")]
struct SessionsPage {
    ctx: PageContext,
    email: String,
    account: Option<AdminAccountView>,
    sessions: Vec<SessionView>,
    stepped_up: bool,
    form: Form,
}

impl SessionsPage {
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn here(&self) -> String {
        format!("/admin/sessions?email={}", encode(&self.email))
    }

    fn step_up_href(&self) -> String {
        format!("/admin/step-up?next={}", encode(&self.here()))
    }
}

async fn sessions_with(
    s: &AppState,
    ctx: PageContext,
    email: String,
    form: Form,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/sessions"));
    };
    let deps = s.deps();
    let found = if email.trim().is_empty() {
        // Nothing asked yet: the permission still decides whether the form is shown.
        v.user
            .caller
            .require(myqcm_domain::permissions::Action::UsersManage)
            .map(|()| None)
    } else {
        admin::sessions_by_email(&deps, &v.user, &email)
            .await
            .map(Some)
    };
    let (account, sessions, form) = match found {
        Ok(Some((a, list))) => (Some(a), list, form),
        Ok(None) => (None, Vec::new(), form),
        Err(IdentityError::NotFound) => (
            None,
            Vec::new(),
            form.error("email", ctx.t("sessions-not-found")),
        ),
        Err(e) => return refusal(&ctx, e),
    };
    let stepped_up = flows::recent_mfa(&deps, v.user.principal());
    let code = form.status();
    let html = render(&SessionsPage {
        ctx,
        email,
        account,
        sessions,
        stepped_up,
        form,
    })?;
    Ok(page(code, html))
}

/// `GET /admin/sessions?email=`: one account's live sign-in sessions.
pub async fn sessions_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<SessionsQuery>,
) -> Result<Response, WebError> {
    sessions_with(&s, ctx, q.email, Form::new()).await
}

/// The revoke form: whose session, and the address to come back to.
#[derive(Deserialize)]
pub struct RevokeForm {
    account: Uuid,
    #[serde(default)]
    email: String,
}

/// `POST /admin/sessions/{id}/revoke`: ends one session (step-up required, audited).
pub async fn revoke(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(f): PageForm<RevokeForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/sessions"));
    };
    let form = match admin::revoke_session(&s.deps(), &v.user, f.account, id).await {
        Ok(()) => {
            let back = format!("/admin/sessions?email={}", encode(&f.email));
            return Ok(see_other(&back));
        }
        Err(e @ (IdentityError::MfaEnrolmentRequired | IdentityError::NotFound)) => {
            return refusal(&ctx, e);
        }
        Err(e) => Form::new().failure(ctx.locale, "", e)?,
    };
    sessions_with(&s, ctx, f.email, form).await
}

#[derive(Template)]
#[template(path = "admin/config.html")]
struct ConfigPage {
    ctx: PageContext,
    on: Integrations,
}

impl ConfigPage {
    fn yes_no(&self, on: &bool) -> String {
        self.ctx.t(if *on { "config-on" } else { "config-off" })
    }

    fn kind(&self, k: &str) -> String {
        self.ctx.t(&format!("config-kind-{k}"))
    }
}

/// `GET /admin/config`: which integrations are on.
pub async fn config_page(
    State(s): State<AppState>,
    ctx: PageContext,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/config"));
    };
    let on = match overview::integrations(&v.user, &s.services.integrations) {
        Ok(i) => i,
        Err(e) => return refusal(&ctx, e),
    };
    Ok(page(StatusCode::OK, render(&ConfigPage { ctx, on })?))
}

impl StaffRefusal for UsageError {
    fn enrolment_required(&self) -> bool {
        false
    }
}

/// `?days=` of the usage page (1 to 90, default 30).
#[derive(Debug, Deserialize)]
pub struct UsageQuery {
    days: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/ai_usage.html")]
struct AiUsagePage {
    ctx: PageContext,
    u: AllUsage,
    /// A price per token is configured (otherwise every cost is 0 and says so).
    priced: bool,
}

impl AiUsagePage {
    fn n(&self, v: &u64) -> String {
        self.ctx
            .locale
            .number(i64::try_from(*v).unwrap_or(i64::MAX))
    }

    /// Micro-units as units with four decimals.
    fn cost(&self, micros: &u64) -> String {
        #[allow(clippy::cast_precision_loss, reason = "display only")]
        let units = *micros as f64 / 1_000_000.0;
        self.ctx.locale.decimal(units, 4)
    }

    fn kind(&self, k: &str) -> String {
        self.ctx.t(&format!("ai-usage-kind-{k}"))
    }

    /// Who was billed: the author's name and address, or why there is none.
    fn who(&self, r: &AuthorDay) -> String {
        match (&r.author_name, &r.author_email, r.author_id) {
            (Some(name), Some(email), _) => format!("{name} <{email}>"),
            (_, _, Some(_)) => self.ctx.t("ai-usage-erased"),
            _ if r.kind == "grading" => self.ctx.t("ai-usage-no-author-grading"),
            _ => self.ctx.t("ai-usage-erased"),
        }
    }
}

/// `GET /admin/ai-usage?days=`: everyone's model calls per day, author and kind over the last
/// 7, 30 or 90 days, with the period's totals and the daily limit per author.
pub async fn ai_usage_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<UsageQuery>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/ai-usage"));
    };
    let actor = v.user.actor();
    if actor.enrolment_pending() && s.services.llm.is_some() {
        return refusal(&ctx, IdentityError::MfaEnrolmentRequired);
    }
    let sv = &s.services;
    let days = q.days.unwrap_or(30);
    let llm = sv.llm.is_some();
    let u = match usage::all(&sv.db, sv.llm_usage, llm, &actor, days, sv.clock.now()).await {
        Ok(u) => u,
        Err(e) => return refusal(&ctx, e),
    };
    let p = sv.llm_usage;
    let priced = p.price_prompt_per_1k > 0 || p.price_completion_per_1k > 0;
    Ok(page(
        StatusCode::OK,
        render(&AiUsagePage { ctx, u, priced })?,
    ))
}
