//! What the learner does around an item and after a session: personal notes (`POST
//! /practice/{id}/note`), reports on an item (`POST /practice/{id}/report`, filed with the
//! catalogue's reports use case), the summary and the per-item review (`GET
//! /practice/{id}/review`: the learner's answer, the key, per-option explanations and the note,
//! from the training `review` use case, which holds exam keys back until the session is over).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use myqcm_services::catalogue::reports;
use myqcm_services::training::views::{OptionFeedback, ReviewedItem, SummaryView};
use serde::Deserialize;
use uuid::Uuid;

use super::forms::{Form, page, see_other};
use super::practice::{clock, learner, of, reason_text};
use super::{PageContext, render};
use crate::{AppState, WebError};

/// Where a note or report form came from: the review page (back to that item) or the player.
fn back_to(id: Uuid, back: &str, served_id: Uuid, done: &str) -> String {
    if back == "review" {
        format!("/practice/{id}/review?done={done}#item-{served_id}")
    } else {
        format!("/practice/{id}?done={done}")
    }
}

/// What htmx swaps in after saving a note.
#[derive(Template)]
#[template(source = "<p class=\"note-saved\">{{ text }}</p>", ext = "html")]
struct NoteSaved {
    text: String,
}

/// The note form.
#[derive(Deserialize)]
pub struct NoteForm {
    served_id: Uuid,
    #[serde(default)]
    note: String,
    #[serde(default)]
    back: String,
}

/// `POST /practice/{id}/note`: saves (or, empty, clears) the learner's note on a served item.
/// htmx submits it in place and gets the confirmation alone; a plain form is redirected back.
pub async fn note(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    crate::input::PageForm(f): crate::input::PageForm<NoteForm>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    s.services
        .training
        .note(&actor, id, f.served_id, &f.note)
        .await?;
    if headers.contains_key("hx-request") {
        let text = ctx.t("practice-note-saved");
        return Ok(render(&NoteSaved { text })?.into_response());
    }
    Ok(see_other(&back_to(id, &f.back, f.served_id, "note")))
}

/// The report form.
#[derive(Deserialize)]
pub struct ReportForm {
    served_id: Uuid,
    item_id: Uuid,
    #[serde(default)]
    category: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    back: String,
}

#[derive(Template)]
#[template(path = "practice/report.html")]
struct ReportPage {
    ctx: PageContext,
    form: Form,
    session_id: Uuid,
    served_id: Uuid,
    item_id: Uuid,
    back: String,
}

impl ReportPage {
    fn checked(&self, category: &str) -> bool {
        self.form.val("category") == category
    }
}

/// `POST /practice/{id}/report`: files a report on the item (against the revision in use); a
/// refused report (no category, "other" without a text) shows the report form again.
pub async fn report(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    crate::input::PageForm(f): crate::input::PageForm<ReportForm>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let now = s.services.clock.now();
    let form = Form::new()
        .with("category", &f.category)
        .with("body", &f.body);
    let cache = s.services.cache.as_ref();
    let filed = reports::create(
        &s.services.db,
        cache,
        &actor,
        f.item_id,
        &f.category,
        &f.body,
        now,
    );
    let form = match filed.await {
        Ok(_) => return Ok(see_other(&back_to(id, &f.back, f.served_id, "report"))),
        Err(e) => form.failure(ctx.locale, "category", e)?,
    };
    let (status, served_id, item_id, back) = (form.status(), f.served_id, f.item_id, f.back);
    let html = render(&ReportPage {
        ctx,
        form,
        session_id: id,
        served_id,
        item_id,
        back,
    })?;
    Ok(page(status, html))
}

#[derive(Template)]
#[template(path = "practice/summary.html")]
struct SummaryPage {
    ctx: PageContext,
    s: SummaryView,
}

impl SummaryPage {
    fn pct(&self, x: &Option<f64>) -> String {
        x.map_or_else(|| "—".to_owned(), |v| self.ctx.locale.decimal(v, 0))
    }

    fn mean(&self, x: &Option<f64>) -> String {
        x.map_or_else(|| "—".to_owned(), |v| self.ctx.locale.decimal(v * 100.0, 0))
    }

    fn kc_pct(&self, v: &f64) -> String {
        self.ctx.locale.decimal(v * 100.0, 0)
    }

    fn minutes(&self) -> String {
        clock(self.s.time_spent_ms)
    }

    fn end_text(&self) -> String {
        match self.s.end_reason.as_deref() {
            Some("time_up") => self.ctx.t("practice-end-time_up"),
            Some("pool_exhausted") => self.ctx.t("practice-end-pool_exhausted"),
            Some("stopped") => self.ctx.t("practice-end-stopped"),
            Some("expired") => self.ctx.t("practice-end-expired"),
            Some(_) => self.ctx.t("practice-end-finished"),
            None => String::new(),
        }
    }
}

/// `GET /practice/{id}/summary`: % correct, mean score, time, per-KC breakdown, and the way to
/// the review.
pub async fn summary(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}/summary")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let view = s.services.training.summary(&actor, id).await?;
    let html = render(&SummaryPage { ctx, s: view })?;
    Ok(page(StatusCode::OK, html))
}

#[derive(Template)]
#[template(path = "practice/review.html")]
struct ReviewPage {
    ctx: PageContext,
    id: Uuid,
    items: Vec<ReviewedItem>,
    notice: Option<String>,
}

impl ReviewPage {
    fn heading(&self, r: &ReviewedItem) -> String {
        let total = i64::try_from(self.items.len()).unwrap_or(i64::MAX);
        of(
            &self.ctx,
            "practice-progress",
            i64::from(r.item.position),
            total,
        )
    }

    fn state_text(&self, r: &ReviewedItem) -> String {
        match (r.state.as_str(), r.grade.as_ref()) {
            ("skipped", _) => self.ctx.t("practice-review-skipped"),
            ("served", _) => self.ctx.t("practice-review-open"),
            (_, Some(g)) if g.correct == Some(true) => self.ctx.t("practice-correct"),
            (_, Some(g)) if g.graded => self.ctx.t("practice-incorrect"),
            (_, Some(g)) => super::practice::ungraded_text(&self.ctx, g.ungraded_reason.as_deref()),
            (_, None) => self.ctx.t("practice-review-answered"),
        }
    }

    fn reason(&self, r: &ReviewedItem) -> String {
        reason_text(&self.ctx, &r.item.reason.code)
    }

    /// Writing direction of the item's own language (a French item on an Arabic page is LTR).
    fn item_dir(&self, r: &ReviewedItem) -> &'static str {
        crate::i18n::Locale::parse(&r.item.locale).map_or("auto", crate::i18n::Locale::dir)
    }

    /// The case scenario is shown above its first sub-item in the list.
    fn case_starts(&self, i: &usize) -> bool {
        let here = self.items[*i].item.case.as_ref().map(|c| c.case_id);
        here.is_some()
            && (*i == 0 || self.items[*i - 1].item.case.as_ref().map(|c| c.case_id) != here)
    }

    fn selected(&self, r: &ReviewedItem, id: &usize) -> bool {
        r.selected.contains(id)
    }

    fn option_class(&self, o: &OptionFeedback) -> &'static str {
        if o.correct {
            "option-correct"
        } else {
            "option-wrong"
        }
    }

    fn note<'a>(&self, r: &'a ReviewedItem) -> &'a str {
        r.item.note.as_deref().unwrap_or("")
    }
}

/// `GET /practice/{id}/review`: every served item with the learner's answer, the key, the
/// explanations and the note.
pub async fn review(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    axum::extract::Query(q): axum::extract::Query<super::practice::DoneQuery>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}/review")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let items = s.services.training.review(&actor, id).await?;
    let notice = q.notice(&ctx);
    let html = render(&ReviewPage {
        ctx,
        id,
        items,
        notice,
    })?;
    Ok(page(StatusCode::OK, html))
}
