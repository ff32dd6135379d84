//! The learner's practice pages: `/practice` (session builder, `practice_builder.rs`),
//! `/practice/{id}` (the player: one item at a time, answer, skip, flag, pause and resume,
//! finish, with the exam clock, "why this question", notes and reports) and
//! `/practice/{id}/summary` and `/review` (`practice_review.rs`). Every action is a form (works
//! without JavaScript; `static/practice.js` adds keyboard shortcuts, strike-out and the ticking
//! clock). Same use cases as the training JSON API (`services.training`); ownership,
//! exactly-once answers, the exam clock and what feedback a style may disclose are the service's
//! rules. Item HTML is the service's sanitised rendering.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use fluent_templates::fluent_bundle::FluentValue;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use myqcm_services::training::TrainingError;
use myqcm_services::training::views::{
    AnswerInput, AnswerOutcome, CaseContext, ServedItemView, SessionView,
};
use serde::Deserialize;
use uuid::Uuid;

use super::forms::{page, see_other, to_sign_in};
use super::{PageContext, practice_builder, practice_review, render};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/practice",
            get(practice_builder::builder).post(practice_builder::create),
        )
        .route("/practice/{id}", get(player))
        .route("/practice/{id}/answer", post(answer))
        .route("/practice/{id}/skip", post(skip))
        .route("/practice/{id}/flag", post(flag))
        .route("/practice/{id}/pause", post(pause))
        .route("/practice/{id}/resume", post(resume))
        .route("/practice/{id}/finish", post(finish))
        .route("/practice/{id}/note", post(practice_review::note))
        .route("/practice/{id}/report", post(practice_review::report))
        .route("/practice/{id}/summary", get(practice_review::summary))
        .route("/practice/{id}/review", get(practice_review::review))
}

/// The signed-in, verified learner's actor, or where to send the visitor instead.
pub(super) fn learner(ctx: &PageContext, back: &str) -> Result<Actor, Box<Response>> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Err(Box::new(to_sign_in(back)));
    };
    let actor = v.user.actor();
    if ctx.unverified() || !actor.can(Action::Train) {
        return Err(Box::new(see_other("/dashboard")));
    }
    Ok(actor)
}

/// Where a write the session's state refuses sends the learner: a paused session shows its
/// resume page, one that is over (the exam time ran out, or closed) its summary. Other errors
/// stay errors.
pub(super) fn refused(id: Uuid, e: TrainingError) -> Result<Response, WebError> {
    match e {
        TrainingError::SessionPaused => Ok(see_other(&format!("/practice/{id}"))),
        TrainingError::TimeUp | TrainingError::SessionClosed => {
            Ok(see_other(&format!("/practice/{id}/summary")))
        }
        e => Err(e.into()),
    }
}

/// `m:ss` (or `h:mm:ss`) of a duration in milliseconds.
pub(super) fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// What an ungraded answer's grade says: waiting for the grading assistant, or not graded.
pub(super) fn ungraded_text(ctx: &PageContext, reason: Option<&str>) -> String {
    match reason {
        Some("awaiting_grader") => ctx.t("practice-ungraded-awaiting"),
        _ => ctx.t("practice-ungraded"),
    }
}

/// "Why this question", in the page's language, from the service's reason code.
pub(super) fn reason_text(ctx: &PageContext, code: &str) -> String {
    match code {
        "due_review" => ctx.t("practice-reason-due_review"),
        "weak_kc" => ctx.t("practice-reason-weak_kc"),
        "most_informative" => ctx.t("practice-reason-most_informative"),
        "blueprint_gap" => ctx.t("practice-reason-blueprint_gap"),
        "case_continuation" => ctx.t("practice-reason-case_continuation"),
        _ => ctx.t("practice-reason-exploration"),
    }
}

/// "n of N" (`id` takes `$n` and `$total`).
pub(super) fn of(ctx: &PageContext, id: &str, n: i64, total: i64) -> String {
    ctx.locale.t_args(
        id,
        &[
            ("n", FluentValue::from(n)),
            ("total", FluentValue::from(total)),
        ],
    )
}

/// "Question n of N"; a clinical case begun among the last items runs past the requested
/// count, and its extra steps read "Question n · case continues" instead of "6 of 5".
pub(super) fn progress(ctx: &PageContext, session: &SessionView, item: &ServedItemView) -> String {
    let (n, total) = (
        i64::from(item.position),
        i64::from(session.params.item_count),
    );
    if n > total && item.case.is_some() {
        return ctx.locale.t_args(
            "practice-progress-case-continues",
            &[("n", FluentValue::from(n))],
        );
    }
    of(ctx, "practice-progress", n, total)
}

/// A confirmation named in the query (`?done=note`) after a form's redirect.
#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

impl DoneQuery {
    /// The localised confirmation, if any.
    pub(super) fn notice(&self, ctx: &PageContext) -> Option<String> {
        match self.done.as_str() {
            "note" => Some(ctx.t("practice-note-saved")),
            "report" => Some(ctx.t("practice-report-sent")),
            _ => None,
        }
    }
}

#[derive(Template)]
#[template(path = "practice/player.html")]
struct PlayerPage {
    ctx: PageContext,
    session: SessionView,
    item: ServedItemView,
    outcome: Option<AnswerOutcome>,
    notice: Option<String>,
}

impl PlayerPage {
    fn multiple(&self) -> bool {
        self.item.kind == "qcm"
    }

    fn open(&self) -> bool {
        self.item.kind == "qroc"
    }

    /// Writing direction of the item's own language (a French item on an Arabic page is LTR).
    fn item_dir(&self) -> &'static str {
        crate::i18n::Locale::parse(&self.item.locale).map_or("auto", crate::i18n::Locale::dir)
    }

    fn progress_text(&self) -> String {
        progress(&self.ctx, &self.session, &self.item)
    }

    fn case_step(&self, c: &CaseContext) -> String {
        of(
            &self.ctx,
            "practice-case-step",
            i64::from(c.step),
            i64::from(c.size),
        )
    }

    fn reason(&self) -> String {
        reason_text(&self.ctx, &self.item.reason.code)
    }

    fn clock(&self, ms: &i64) -> String {
        clock(*ms)
    }

    fn note(&self) -> &str {
        self.item.note.as_deref().unwrap_or("")
    }

    fn grade_text(&self) -> String {
        let Some(g) = self.outcome.as_ref().and_then(|o| o.grade.as_ref()) else {
            return String::new();
        };
        match (g.graded, g.correct) {
            (true, Some(true)) => self.ctx.t("practice-correct"),
            (true, _) => self.ctx.t("practice-incorrect"),
            (false, _) => ungraded_text(&self.ctx, g.ungraded_reason.as_deref()),
        }
    }

    fn score(&self) -> String {
        let r = self.outcome.as_ref().and_then(|o| o.grade.as_ref()?.ratio);
        r.map(|r| format!("{:.0}", r * 100.0)).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "practice/paused.html")]
struct PausedPage {
    ctx: PageContext,
    session: SessionView,
    item: ServedItemView,
}

impl PausedPage {
    fn progress_text(&self) -> String {
        progress(&self.ctx, &self.session, &self.item)
    }

    fn clock(&self, ms: &i64) -> String {
        clock(*ms)
    }
}

/// `GET /practice/{id}`: the item waiting for an answer (a paused session shows its resume
/// page); a finished session shows its summary.
pub async fn player(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let mut session = s.services.training.session(&actor, id).await?;
    let Some(item) = session.current.take() else {
        return Ok(see_other(&format!("/practice/{id}/summary")));
    };
    let html = if session.status == "paused" {
        render(&PausedPage { ctx, session, item })?
    } else {
        let notice = q.notice(&ctx);
        render(&PlayerPage {
            ctx,
            session,
            item,
            outcome: None,
            notice,
        })?
    };
    Ok(page(StatusCode::OK, html))
}

/// Reads the answer form: `served_id`, every `option` checked, `text`.
fn answer_input(pairs: &[(String, String)]) -> Result<AnswerInput, WebError> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let served_id = get("served_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| WebError::code(myqcm_domain::codes::NOT_FOUND))?;
    let options: Vec<usize> = pairs
        .iter()
        .filter(|(n, _)| n == "option")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let text = get("text");
    Ok(AnswerInput {
        served_id,
        options: text.is_none().then_some(options),
        text,
    })
}

/// `POST /practice/{id}/answer`: stores the answer; tutor sessions show the grade and feedback
/// with a "Next" link, exam sessions go straight to the next item. An answer after the exam
/// time is refused by the service, which ends the session: the summary follows.
pub async fn answer(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    crate::input::PageForm(pairs): crate::input::PageForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let t = &s.services.training;
    let session = t.session(&actor, id).await?;
    let outcome = match t.answer(&actor, id, answer_input(&pairs)?).await {
        Ok(o) => o,
        Err(e) => return refused(id, e),
    };
    let Some(item) = (session.current.clone()).filter(|_| outcome.feedback.is_some()) else {
        return Ok(see_other(&format!("/practice/{id}")));
    };
    let (outcome, notice) = (Some(outcome), None);
    let html = render(&PlayerPage {
        ctx,
        session,
        item,
        outcome,
        notice,
    })?;
    Ok(page(StatusCode::OK, html))
}

/// The served item a skip or flag is about.
#[derive(Deserialize)]
pub struct ServedForm {
    served_id: Uuid,
    #[serde(default)]
    flagged: String,
}

/// `POST /practice/{id}/skip`: skips the current item.
pub async fn skip(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    crate::input::PageForm(f): crate::input::PageForm<ServedForm>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    match s.services.training.skip(&actor, id, f.served_id).await {
        Ok(_) => Ok(see_other(&format!("/practice/{id}"))),
        Err(e) => refused(id, e),
    }
}

/// `POST /practice/{id}/flag`: flags (or unflags) the current item.
pub async fn flag(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    crate::input::PageForm(f): crate::input::PageForm<ServedForm>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let on = f.flagged == "true";
    s.services
        .training
        .flag(&actor, id, f.served_id, on)
        .await?;
    Ok(see_other(&format!("/practice/{id}")))
}

/// `POST /practice/{id}/pause`: stops the clock; the player then shows the resume page.
pub async fn pause(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    match s.services.training.pause(&actor, id).await {
        Ok(_) => Ok(see_other(&format!("/practice/{id}"))),
        Err(e) => refused(id, e),
    }
}

/// `POST /practice/{id}/resume`: restarts the clock where it stopped, back to the item.
pub async fn resume(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    match s.services.training.resume(&actor, id).await {
        Ok(_) => Ok(see_other(&format!("/practice/{id}"))),
        Err(e) => refused(id, e),
    }
}

/// `POST /practice/{id}/finish`: ends the session now, then its summary.
pub async fn finish(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    s.services.training.finish(&actor, id).await?;
    Ok(see_other(&format!("/practice/{id}/summary")))
}
