//! The reviewer pages (`/review`): the queue of items awaiting review; an item with a
//! side-by-side word diff of its current revision against the one last reviewed (or the
//! previous one), the preview through the renderer learners see, the review history, the
//! learners' reports on it, and the decision forms (approve, request changes, decline with a
//! reason); with a language model configured, the KC suggestions (ask, then add, replace or
//! ignore each); the report triage list (`/review/reports`); the assisted QROC grades are in
//! `review_grades` (`/review/grades`). A reviewer who wrote the item sees why
//! they cannot decide (the service refuses it too). Every decision and triage move is
//! audit-logged by the use case. Staff without two-step sign-in get the enrolment page;
//! learners get 403. Every response is `noindex` and `Cache-Control: no-store, private`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::codes;
use myqcm_services::ai::kcs::{self, KcError, KcSuggestionView, SuggestionsView, Target};
use myqcm_services::catalogue::bench::{self, BenchItem, Blocked, DiffRow, QueuePage};
use myqcm_services::catalogue::views::{RenderedContent, ReportView, ReviewEventView};
use myqcm_services::catalogue::{self as svc, CatalogueError, reports};
use serde::Deserialize;
use uuid::Uuid;

use super::author::{EnrolPage, staff_headers};
use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::input::PageForm;
use crate::{AppState, WebError};

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review", get(queue))
        .route("/review/items/{id}", get(show))
        .route("/review/items/{id}/decision", post(decide))
        .route("/review/items/{id}/kc-suggestions", post(suggest_kcs))
        .route(
            "/review/items/{id}/kc-suggestions/decision",
            post(decide_kc),
        )
        .route("/review/reports", get(report_list))
        .route("/review/reports/{id}", post(triage))
        .layer(axum::middleware::map_response(staff_headers))
}

/// The staff member behind the page, or where to send the viewer instead: signed out →
/// sign-in; staff without two-step sign-in → the enrolment page; without the power `gate`
/// checks → 403.
pub(super) fn staff(
    ctx: &PageContext,
    back: &str,
    gate: fn(&Actor) -> Result<(), CatalogueError>,
) -> Result<Actor, Box<Response>> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Err(Box::new(to_sign_in(back)));
    };
    let actor = v.user.actor();
    match gate(&actor) {
        Ok(()) => Ok(actor),
        Err(CatalogueError::MfaEnrolmentRequired) => {
            let html = render(&EnrolPage { ctx: ctx.clone() });
            Err(Box::new(match html {
                Ok(h) => page(StatusCode::FORBIDDEN, h),
                Err(e) => e.into_response(),
            }))
        }
        Err(_) => Err(Box::new(WebError::code(codes::FORBIDDEN).into_response())),
    }
}

macro_rules! staff_or_return {
    ($ctx:expr, $back:expr, $gate:expr) => {
        match staff(&$ctx, $back, $gate) {
            Ok(a) => a,
            Err(r) => return Ok(*r),
        }
    };
}

#[derive(Template)]
#[template(path = "review/queue.html")]
struct QueuePageView {
    ctx: PageContext,
    data: QueuePage,
    paged: bool,
    /// A language model is configured: link the assisted grading page.
    ai: bool,
}

impl QueuePageView {
    fn kind_label(&self, k: &str) -> String {
        self.ctx.t(&format!("practice-kind-{k}"))
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }
}

/// `?before=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    before: Option<Uuid>,
}

/// `GET /review`: items awaiting review.
pub async fn queue(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let actor = staff_or_return!(ctx, "/review", bench::may_review);
    let data = bench::queue(&s.services.db, &actor, q.before).await?;
    let paged = q.before.is_some();
    let ai = s.services.llm.is_some();
    Ok(render(&QueuePageView {
        ctx,
        data,
        paged,
        ai,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "review/item.html")]
struct ItemPage {
    ctx: PageContext,
    d: BenchItem,
    preview: Option<RenderedContent>,
    form: Form,
    /// KC suggestions (only when a language model is configured).
    kc: Option<SuggestionsView>,
}

impl ItemPage {
    fn field_label(&self, r: &DiffRow) -> String {
        match r.index {
            Some(i) => self.ctx.tn(
                &format!("review-field-{}", r.field),
                "number",
                i64::try_from(i + 1).unwrap_or(i64::MAX),
            ),
            None => self.ctx.t(&format!("review-field-{}", r.field)),
        }
    }

    /// Key rows hold `correct`/`incorrect`: shown as words in the page's language.
    fn span_text(&self, r: &DiffRow, text: &str) -> String {
        if r.field == "option_key" && !text.is_empty() {
            self.ctx.t(&format!("review-key-{text}"))
        } else {
            text.to_owned()
        }
    }

    fn blocked_reason(&self) -> Option<String> {
        self.d.blocked.map(|b| {
            self.ctx.t(match b {
                Blocked::OwnItem => "review-blocked-own",
                Blocked::NotInReview => "review-blocked-state",
            })
        })
    }

    fn status_label(&self) -> String {
        self.ctx.t(&format!("author-status-{}", self.d.item.status))
    }

    fn kind_label(&self) -> String {
        self.ctx.t(&format!("practice-kind-{}", self.d.item.kind))
    }

    fn item_dir(&self) -> &'static str {
        if self.d.item.locale == "ar" {
            "rtl"
        } else {
            "ltr"
        }
    }

    fn who(&self, e: &ReviewEventView) -> String {
        let me = self
            .ctx
            .viewer
            .as_ref()
            .is_some_and(|v| v.user.caller.id == e.actor_id);
        self.ctx.t(if me {
            "author-you"
        } else if e.actor_id == self.d.item.author_id {
            "review-author"
        } else {
            "author-reviewer"
        })
    }

    fn event_label(&self, e: &ReviewEventView) -> String {
        self.ctx.t(&format!("author-event-{}", e.kind))
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn revision_title(&self, n: impl std::borrow::Borrow<i32>) -> String {
        self.ctx
            .tn("author-revision-number", "number", i64::from(*n.borrow()))
    }

    fn report_category(&self, r: &ReportView) -> String {
        self.ctx
            .t(&format!("review-report-category-{}", r.category))
    }

    fn report_status(&self, r: &ReportView) -> String {
        self.ctx.t(&format!("review-report-status-{}", r.status))
    }

    fn back_here(&self) -> String {
        format!("/review/items/{}#reports", self.d.item.id)
    }

    fn confidence_label(&self, s: &KcSuggestionView) -> String {
        self.ctx
            .t(&format!("review-kcs-confidence-{}", s.confidence))
    }

    fn kc_status_label(&self, s: &KcSuggestionView) -> String {
        self.ctx.t(&format!("review-kcs-status-{}", s.status))
    }

    fn score(&self, s: &KcSuggestionView) -> String {
        format!("{:.2}", s.score)
    }
}

async fn item_page(
    s: &AppState,
    ctx: PageContext,
    actor: &Actor,
    id: Uuid,
    form: Form,
) -> Result<Response, WebError> {
    let d = bench::item(&s.services.db, actor, id).await?;
    let preview = Some(d.item.revision.rendered.clone());
    let status = form.status();
    let kc = match s.services.llm {
        Some(_) => Some(kcs::stored_for(&s.services.db, true, actor, id).await?),
        None => None,
    };
    Ok(page(
        status,
        render(&ItemPage {
            ctx,
            d,
            preview,
            form,
            kc,
        })?,
    ))
}

/// `GET /review/items/{id}`: the item with its diff, preview, history, reports and decisions.
pub async fn show(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = staff_or_return!(ctx, &format!("/review/items/{id}"), bench::may_review);
    item_page(&s, ctx, &actor, id, Form::new()).await
}

/// The decision form: `decision` = `approve`, `reject` (request changes) or `decline`.
#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /review/items/{id}/decision`: approve, request changes or decline with a reason.
pub async fn decide(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(f): PageForm<DecisionForm>,
) -> Result<Response, WebError> {
    let actor = staff_or_return!(ctx, &format!("/review/items/{id}"), bench::may_review);
    let reason = Some(f.reason.as_str()).filter(|r| !r.trim().is_empty());
    let now = s.services.clock.now();
    let moved = match svc::parse_transition(&f.decision) {
        Ok(
            t @ (myqcm_domain::catalogue::Transition::Approve
            | myqcm_domain::catalogue::Transition::Reject
            | myqcm_domain::catalogue::Transition::Decline),
        ) => svc::transition(&s.services.db, &actor, id, t, reason, now).await,
        Ok(_) => Err(CatalogueError::Forbidden),
        Err(e) => Err(e),
    };
    let form = match moved {
        Ok(_) => return Ok(see_other(&format!("/review/items/{id}"))),
        Err(e) => Form::new()
            .with("reason", &f.reason)
            .failure(ctx.locale, "reason", e)?,
    };
    item_page(&s, ctx, &actor, id, form).await
}

/// `POST /review/items/{id}/kc-suggestions`: asks the model for KC suggestions (stored, then
/// shown in the page's KC section). 404 without a configured model.
pub async fn suggest_kcs(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(_): PageForm<KcForm>,
) -> Result<Response, WebError> {
    let actor = staff_or_return!(ctx, &format!("/review/items/{id}"), bench::may_review);
    let (llm, now) = (s.services.llm.as_deref(), s.services.clock.now());
    let billing = myqcm_services::ai::usage::Billing {
        clock: s.services.clock.as_ref(),
        policy: s.services.llm_usage,
    };
    let asked = kcs::suggest(&s.services.db, llm, billing, &actor, Target::Item(id), now).await;
    let form = match asked {
        Ok(_) => return Ok(see_other(&format!("/review/items/{id}#kcs"))),
        Err(e @ (KcError::Unavailable | KcError::NotFound)) => return Err(e.into()),
        Err(e) => Form::new().failure(ctx.locale, "kcs", e)?,
    };
    item_page(&s, ctx, &actor, id, form).await
}

/// A decision on a suggestion: `kc` and `decision` (`add`, `replace` or `ignore`).
#[derive(Deserialize)]
pub struct KcForm {
    #[serde(default)]
    kc: String,
    #[serde(default)]
    decision: String,
}

/// `POST /review/items/{id}/kc-suggestions/decision`: adds the suggested KC to the item's
/// tags, makes it the only tag, or ignores it (the use case audits a tag change).
pub async fn decide_kc(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(f): PageForm<KcForm>,
) -> Result<Response, WebError> {
    let actor = staff_or_return!(ctx, &format!("/review/items/{id}"), bench::may_review);
    let (db, llm, now) = (
        &s.services.db,
        s.services.llm.is_some(),
        s.services.clock.now(),
    );
    let decided = match crate::api::ai_kcs::parse_decision(&f.decision) {
        Ok(d) => kcs::decide(db, llm, &actor, id, &f.kc, d, now).await,
        Err(e) => Err(e),
    };
    let form = match decided {
        Ok(_) => return Ok(see_other(&format!("/review/items/{id}#kcs"))),
        Err(e @ (KcError::Unavailable | KcError::NotFound)) => return Err(e.into()),
        Err(e) => Form::new().failure(ctx.locale, "kcs", e)?,
    };
    item_page(&s, ctx, &actor, id, form).await
}

#[derive(Template)]
#[template(path = "review/reports.html")]
struct ReportsPage {
    ctx: PageContext,
    status: String,
    rows: Vec<ReportView>,
    form: Form,
}

impl ReportsPage {
    fn filters(&self) -> [&'static str; 4] {
        ["open", "accepted", "rejected", "fixed"]
    }

    fn category(&self, r: &ReportView) -> String {
        self.ctx
            .t(&format!("review-report-category-{}", r.category))
    }

    fn status_label(&self, s: &str) -> String {
        self.ctx.t(&format!("review-report-status-{s}"))
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn back_here(&self) -> String {
        format!("/review/reports?status={}", self.status)
    }
}

/// `?status=` (default `open`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportsQuery {
    #[serde(default)]
    status: Option<String>,
}

async fn reports_page(
    s: &AppState,
    ctx: PageContext,
    actor: &Actor,
    status: Option<String>,
    form: Form,
) -> Result<Response, WebError> {
    let status = status
        .filter(|st| !st.is_empty())
        .unwrap_or_else(|| "open".into());
    let rows = reports::queue(&s.services.db, actor, Some(&status), None, 100).await?;
    let code = form.status();
    let html = render(&ReportsPage {
        ctx,
        status,
        rows,
        form,
    })?;
    Ok(page(code, html))
}

/// `GET /review/reports`: reports by triage status, open ones first.
pub async fn report_list(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<ReportsQuery>,
) -> Result<Response, WebError> {
    let actor = staff_or_return!(ctx, "/review/reports", bench::may_triage);
    reports_page(&s, ctx, &actor, q.status, Form::new()).await
}

/// A triage decision: the new status, the note for the reporter, where to come back to.
#[derive(Deserialize)]
pub struct TriageForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    next: String,
}

/// Only our own review pages are places to come back to.
fn back_to(next: &str) -> &str {
    if next.starts_with("/review/") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/review/reports"
    }
}

/// `POST /review/reports/{id}`: accept, mark fixed or dismiss a report (a dismissal needs a note
/// for the reporter).
pub async fn triage(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(f): PageForm<TriageForm>,
) -> Result<Response, WebError> {
    let actor = staff_or_return!(ctx, "/review/reports", bench::may_triage);
    let now = s.services.clock.now();
    let note = Some(f.resolution.as_str());
    let form = match reports::triage(&s.services.db, &actor, id, &f.status, note, now).await {
        Ok(_) => return Ok(see_other(back_to(&f.next))),
        Err(e) => Form::new()
            .with("resolution", &f.resolution)
            .with("report", &id.to_string())
            .failure(ctx.locale, &format!("resolution-{id}"), e)?,
    };
    reports_page(&s, ctx, &actor, Some("open".into()), form).await
}
