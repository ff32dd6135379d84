//! The admin pages (`/admin`): background jobs by status with their progress, retry of a dead
//! job and cancellation of a queued or running one (`/admin/jobs`), and the step-up page those
//! changes need (`/admin/step-up`: password and a current two-step code, a plain form). Every
//! rule — who may read, the recent second-factor proof, the audit rows, refused attempts
//! included — lives in `myqcm_services::jobs`, like the JSON API's. Staff without two-step
//! sign-in get the enrolment page; everyone else without the power gets 403. Every response is
//! `noindex` and `Cache-Control: no-store, private`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use myqcm_domain::codes;
use myqcm_services::identity::flows;
use myqcm_services::jobs::{self, JobQuery, JobView, JobsError, Operator};
use serde::Deserialize;

use super::author::{staff_headers, staff_refusal as refusal};
use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::api::jobs::operator;
use crate::input::PageForm;
use crate::{AppState, WebError};

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/jobs", get(jobs_list))
        .route("/admin/jobs/{id}/retry", post(retry))
        .route("/admin/jobs/{id}/cancel", post(cancel))
        .route("/admin/step-up", get(step_up_page).post(step_up))
        .layer(axum::middleware::map_response(staff_headers))
}

/// The statuses the jobs page filters by, in the order an operator looks at them.
const STATUSES: [&str; 5] = ["running", "queued", "dead", "done", "cancelled"];

/// Where a form may send the operator back to: our own admin pages only.
fn back_to(next: &str) -> &str {
    if next.starts_with("/admin/") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/admin/jobs"
    }
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct JobsPage {
    ctx: PageContext,
    status: String,
    jobs: Vec<JobView>,
    stepped_up: bool,
    form: Form,
}

impl JobsPage {
    fn filters(&self) -> [&'static str; 5] {
        STATUSES
    }

    fn status_label(&self, s: &str) -> String {
        self.ctx.t(&format!("jobs-status-{s}"))
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    /// Progress as a whole percentage (0–100).
    fn percent(&self, p: &f64) -> String {
        format!("{:.0}", p.clamp(0.0, 1.0) * 100.0)
    }

    fn here(&self) -> String {
        if self.status.is_empty() {
            "/admin/jobs".to_owned()
        } else {
            format!("/admin/jobs?status={}", self.status)
        }
    }

    fn step_up_href(&self) -> String {
        let next: String = url::form_urlencoded::byte_serialize(self.here().as_bytes()).collect();
        format!("/admin/step-up?next={next}")
    }
}

/// `?status=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobsQuery {
    #[serde(default)]
    status: Option<String>,
}

async fn jobs_page(
    s: &AppState,
    ctx: PageContext,
    op: &Operator,
    status: Option<String>,
    form: Form,
) -> Result<Response, WebError> {
    let status = status
        .filter(|st| STATUSES.contains(&st.as_str()))
        .unwrap_or_default();
    let query = JobQuery {
        status: Some(status.clone()).filter(|st| !st.is_empty()),
        limit: Some(100),
        ..JobQuery::default()
    };
    let jobs = match jobs::list(&s.services.db, op, &query).await {
        Ok(j) => j,
        Err(e) => return refusal(&ctx, e),
    };
    let code = form.status();
    let html = render(&JobsPage {
        ctx,
        status,
        jobs,
        stepped_up: op.recent_mfa,
        form,
    })?;
    Ok(page(code, html))
}

/// `GET /admin/jobs`: jobs by status with their progress.
pub async fn jobs_list(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<JobsQuery>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/jobs"));
    };
    let op = operator(&s, &v.user);
    jobs_page(&s, ctx, &op, q.status, Form::new()).await
}

/// A retry or cancel form: where to come back to.
#[derive(Deserialize)]
pub struct JobForm {
    #[serde(default)]
    next: String,
}

/// Runs `retry` or `cancel` and comes back to the list, or shows the list with the refusal.
async fn change(
    s: &AppState,
    ctx: PageContext,
    id: &str,
    next: &str,
    retrying: bool,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/jobs"));
    };
    let op = operator(s, &v.user);
    let (db, clock) = (&s.services.db, s.services.clock.as_ref());
    let done = if retrying {
        jobs::retry(db, clock, &op, id).await
    } else {
        jobs::cancel(db, clock, &op, id).await
    };
    let form = match done {
        Ok(_) => return Ok(see_other(back_to(next))),
        Err(e @ (JobsError::Forbidden | JobsError::MfaEnrolmentRequired)) => {
            return refusal(&ctx, e);
        }
        Err(e) => Form::new().failure(ctx.locale, "", e)?,
    };
    let status = next
        .split_once("status=")
        .map(|(_, st)| st.to_owned())
        .filter(|st| !st.is_empty());
    jobs_page(s, ctx, &op, status, form).await
}

/// `POST /admin/jobs/{id}/retry`: puts a dead job back in the queue (step-up required).
pub async fn retry(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
    PageForm(f): PageForm<JobForm>,
) -> Result<Response, WebError> {
    change(&s, ctx, &id, &f.next, true).await
}

/// `POST /admin/jobs/{id}/cancel`: cancels a queued or running job (step-up required).
pub async fn cancel(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
    PageForm(f): PageForm<JobForm>,
) -> Result<Response, WebError> {
    change(&s, ctx, &id, &f.next, false).await
}

#[derive(Template)]
#[template(path = "admin/step_up.html")]
struct StepUpPage {
    ctx: PageContext,
    form: Form,
    next: String,
}

/// `?next=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// `GET /admin/step-up`: password and a current two-step code, then back to `next` (staff
/// only: learners have no admin change to confirm).
pub async fn step_up_page(
    ctx: PageContext,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/jobs"));
    };
    if !v.user.actor().holds_staff_power() {
        return Err(WebError::code(codes::FORBIDDEN));
    }
    let next = back_to(&q.next).to_owned();
    Ok(render(&StepUpPage {
        ctx,
        form: Form::new(),
        next,
    })?
    .into_response())
}

/// The step-up form.
#[derive(Deserialize)]
pub struct StepUpForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp_code: String,
    #[serde(default)]
    next: String,
}

/// `POST /admin/step-up`: re-authenticates inside the session (valid for the step-up window).
pub async fn step_up(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<StepUpForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/jobs"));
    };
    if !v.user.actor().holds_staff_power() {
        return Err(WebError::code(codes::FORBIDDEN));
    }
    let next = back_to(&f.next).to_owned();
    let u = &v.user;
    let code = Some(f.totp_code.trim()).filter(|c| !c.is_empty());
    let form = match flows::step_up(&s.deps(), u.principal(), f.password, code, u.meta()).await {
        Ok(()) => return Ok(see_other(&next)),
        Err(e) => Form::new().failure(ctx.locale, "password", e)?,
    };
    let status = form.status();
    Ok(page(status, render(&StepUpPage { ctx, form, next })?))
}
