//! The learner's practice pages: `/practice` (session builder), `/practice/{id}` (the player:
//! one item at a time, answer, skip, flag, finish) and `/practice/{id}/summary`. Every action
//! is a form (works without JavaScript; `static/practice.js` adds keyboard shortcuts). Same
//! use cases as the training JSON API (`services.training`); ownership, exactly-once answers
//! and what feedback a style may disclose are the service's rules. Item HTML is the service's
//! sanitised rendering.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use fluent_templates::fluent_bundle::FluentValue;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use myqcm_domain::training::{SessionRequest, Style};
use myqcm_services::training::progress::SubjectProgress;
use myqcm_services::training::views::{
    AnswerInput, AnswerOutcome, CaseContext, NewSessionInput, ServedItemView, SessionView,
    SummaryView,
};
use serde::Deserialize;
use uuid::Uuid;

use super::forms::{Form, page, see_other, to_sign_in};
use super::progress::name_in;
use super::{PageContext, render};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/practice", get(builder).post(create))
        .route("/practice/{id}", get(player))
        .route("/practice/{id}/answer", post(answer))
        .route("/practice/{id}/skip", post(skip))
        .route("/practice/{id}/flag", post(flag))
        .route("/practice/{id}/finish", post(finish))
        .route("/practice/{id}/summary", get(summary))
}

/// The signed-in, verified learner's actor, or where to send the visitor instead.
fn learner(ctx: &PageContext, back: &str) -> Result<Actor, Box<Response>> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Err(Box::new(to_sign_in(back)));
    };
    let actor = v.user.actor();
    if ctx.unverified() || !actor.can(Action::Train) {
        return Err(Box::new(see_other("/dashboard")));
    }
    Ok(actor)
}

#[derive(Template)]
#[template(path = "practice/builder.html")]
struct BuilderPage {
    ctx: PageContext,
    form: Form,
    subjects: Vec<(String, String)>,
}

impl BuilderPage {
    fn selected(&self, name: &str, value: &str) -> bool {
        self.form.val(name) == value
    }
}

/// `?style=` preselects a style.
#[derive(Deserialize)]
pub struct BuilderQuery {
    #[serde(default)]
    style: String,
}

/// `GET /practice`: the session builder (subject, style, item count).
pub async fn builder(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<BuilderQuery>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, "/practice") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let style = if q.style.is_empty() {
        "tutor"
    } else {
        &q.style
    };
    let form = Form::new().with("style", style).with("item_count", "10");
    builder_page(&s, ctx, &actor, form).await
}

async fn builder_page(
    s: &AppState,
    ctx: PageContext,
    actor: &Actor,
    form: Form,
) -> Result<Response, WebError> {
    let p = s.services.progress().overview(actor).await?;
    let subjects = p
        .subjects
        .iter()
        .map(|x: &SubjectProgress| {
            (
                x.subject_id.to_string(),
                name_in(&x.names, ctx.locale, &x.code),
            )
        })
        .collect();
    let status = form.status();
    let html = render(&BuilderPage {
        ctx,
        form,
        subjects,
    })?;
    Ok(page(status, html))
}

/// The builder form.
#[derive(Deserialize)]
pub struct BuilderForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    style: String,
    #[serde(default)]
    item_count: String,
}

fn new_session(f: &BuilderForm) -> NewSessionInput {
    let style = f.style.parse().unwrap_or(Style::Tutor);
    NewSessionInput {
        mode: None,
        style,
        request: SessionRequest {
            subject: f.subject.trim().parse().ok(),
            item_count: f.item_count.trim().parse().ok(),
            ..SessionRequest::default()
        },
    }
}

/// `POST /practice`: starts the session, then its player.
pub async fn create(
    State(s): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<BuilderForm>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, "/practice") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let form = Form::new()
        .with("subject", &f.subject)
        .with("style", &f.style)
        .with("item_count", &f.item_count);
    let form = match s
        .services
        .training
        .create_session(&actor, new_session(&f))
        .await
    {
        Ok(v) => return Ok(see_other(&format!("/practice/{}", v.id))),
        Err(e) => form.failure(ctx.locale, "subject", e)?,
    };
    builder_page(&s, ctx, &actor, form).await
}

#[derive(Template)]
#[template(path = "practice/player.html")]
struct PlayerPage {
    ctx: PageContext,
    session: SessionView,
    item: ServedItemView,
    outcome: Option<AnswerOutcome>,
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

    fn total(&self) -> i64 {
        i64::from(self.session.params.item_count)
    }

    /// `position` is already 1-based.
    fn position(&self) -> i64 {
        i64::from(self.item.position)
    }

    /// "n of N" (`id` takes `$n` and `$total`).
    fn of(&self, id: &str, n: i64, total: i64) -> String {
        self.ctx.locale.t_args(
            id,
            &[
                ("n", FluentValue::from(n)),
                ("total", FluentValue::from(total)),
            ],
        )
    }

    fn progress_text(&self) -> String {
        self.of("practice-progress", self.position(), self.total())
    }

    fn case_step(&self, c: &CaseContext) -> String {
        self.of("practice-case-step", i64::from(c.step), i64::from(c.size))
    }

    fn grade_text(&self) -> String {
        let Some(g) = self.outcome.as_ref().and_then(|o| o.grade.as_ref()) else {
            return String::new();
        };
        match (g.graded, g.correct) {
            (true, Some(true)) => self.ctx.t("practice-correct"),
            (true, _) => self.ctx.t("practice-incorrect"),
            (false, _) => self.ctx.t("practice-ungraded"),
        }
    }

    fn score(&self) -> String {
        let r = self.outcome.as_ref().and_then(|o| o.grade.as_ref()?.ratio);
        r.map(|r| format!("{:.0}", r * 100.0)).unwrap_or_default()
    }
}

/// `GET /practice/{id}`: the item waiting for an answer; a finished session shows its summary.
pub async fn player(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, &format!("/practice/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let mut session = s.services.training.session(&actor, id).await?;
    let Some(item) = session.current.take() else {
        return Ok(see_other(&format!("/practice/{id}/summary")));
    };
    let html = render(&PlayerPage {
        ctx,
        session,
        item,
        outcome: None,
    })?;
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
/// with a "Next" link, exam sessions go straight to the next item.
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
    let outcome = t.answer(&actor, id, answer_input(&pairs)?).await?;
    let Some(item) = session
        .current
        .clone()
        .filter(|_| outcome.feedback.is_some() || outcome.grade.is_some())
    else {
        return Ok(see_other(&format!("/practice/{id}")));
    };
    let html = render(&PlayerPage {
        ctx,
        session,
        item,
        outcome: Some(outcome),
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
    s.services.training.skip(&actor, id, f.served_id).await?;
    Ok(see_other(&format!("/practice/{id}")))
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

#[derive(Template)]
#[template(path = "practice/summary.html")]
struct SummaryPage {
    ctx: PageContext,
    s: SummaryView,
}

impl SummaryPage {
    fn pct(&self, x: &Option<f64>) -> String {
        x.map_or_else(|| "—".to_owned(), |v| format!("{:.0}", v * 100.0))
    }

    fn kc_pct(&self, v: &f64) -> String {
        format!("{:.0}", v * 100.0)
    }

    fn minutes(&self) -> String {
        let secs = self.s.time_spent_ms / 1000;
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// `GET /practice/{id}/summary`: % correct, mean score, time, per-KC breakdown.
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
