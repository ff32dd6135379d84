//! `/review/grades` (issue 15, QROC grading assistance): the QROC answers the language model
//! graded, is still grading or failed on, each with the question, the key and accepted
//! wordings, the learner's answer (never who gave it) and the model's verdict; a plain form per
//! answer sets the grade (correct or incorrect) with a reason, audited by the use case. Reviewers
//! only (learners and authors: 403); absent (404) when no language model is configured. Every
//! rule lives in `myqcm_services::ai::grading`, like the JSON API's.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::codes;
use myqcm_services::ai::grading::{self, AssistedAnswerView, GradingError};
use myqcm_services::catalogue::bench;
use serde::Deserialize;
use uuid::Uuid;

use super::author::staff_headers;
use super::forms::{Form, page, see_other};
use super::review::staff;
use super::{PageContext, render};
use crate::input::PageForm;
use crate::{AppState, WebError};

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review/grades", get(list))
        .route("/review/grades/{id}", post(override_grade))
        .layer(axum::middleware::map_response(staff_headers))
}

#[derive(Template)]
#[template(path = "review/grades.html")]
struct GradesPage {
    ctx: PageContext,
    rows: Vec<AssistedAnswerView>,
    form: Form,
}

impl GradesPage {
    /// What the model made of the answer, in the page's language.
    fn verdict(&self, r: &AssistedAnswerView) -> String {
        let key = match (r.ungraded_reason.as_deref(), r.correct) {
            (Some("awaiting_grader"), _) => "review-grades-verdict-waiting",
            (Some(_), _) => "review-grades-verdict-failed",
            (None, Some(true)) => "review-grades-verdict-correct",
            (None, _) => "review-grades-verdict-incorrect",
        };
        self.ctx.t(key)
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn dir(&self, r: &AssistedAnswerView) -> &'static str {
        if r.locale == "ar" { "rtl" } else { "ltr" }
    }

    fn reason_field(&self, r: &AssistedAnswerView) -> String {
        format!("reason-{}", r.attempt_id)
    }
}

/// The viewer as a reviewer, after the 404 for a deployment without a model.
fn reviewer(s: &AppState, ctx: &PageContext) -> Result<Result<Actor, Box<Response>>, WebError> {
    if s.services.llm.is_none() {
        return Err(WebError::code(codes::NOT_FOUND));
    }
    Ok(staff(ctx, "/review/grades", bench::may_review))
}

async fn show(
    s: &AppState,
    ctx: PageContext,
    actor: &Actor,
    form: Form,
) -> Result<Response, WebError> {
    let rows = grading::assisted(&s.services.db, true, actor).await?;
    let code = form.status();
    Ok(page(code, render(&GradesPage { ctx, rows, form })?))
}

/// `GET /review/grades`: the answers the model graded, awaits or failed on, newest first.
pub async fn list(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let actor = match reviewer(&s, &ctx)? {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    show(&s, ctx, &actor, Form::new()).await
}

/// The reviewer's grade: `correct` (`true` or `false`) and the reason.
#[derive(Deserialize)]
pub struct GradeForm {
    #[serde(default)]
    correct: String,
    #[serde(default)]
    reason: String,
}

/// The reviewer's grade through the use case (`correct` must be `true` or `false`).
async fn apply(s: &AppState, actor: &Actor, id: Uuid, f: &GradeForm) -> Result<(), GradingError> {
    let (db, now) = (&s.services.db, s.services.clock.now());
    match f.correct.as_str() {
        v @ ("true" | "false") => {
            grading::override_grade(db, true, actor, id, v == "true", &f.reason, now).await?;
            Ok(())
        }
        _ => Err(GradingError::Invalid {
            field: "correct",
            code: "required",
            message: "choose correct or incorrect".into(),
        }),
    }
}

/// `POST /review/grades/{id}`: sets the grade of the answer with a reason (audited), then back
/// to the list; a missing reason or verdict shows the list again with the error beside that
/// answer's reason (whichever field it is about).
pub async fn override_grade(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(f): PageForm<GradeForm>,
) -> Result<Response, WebError> {
    let actor = match reviewer(&s, &ctx)? {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let msg = match apply(&s, &actor, id, &f).await {
        Ok(()) => return Ok(see_other("/review/grades")),
        Err(GradingError::Invalid {
            field: "correct", ..
        }) => ctx.t("review-grades-choose"),
        Err(GradingError::Invalid { code, .. }) => ctx.locale.t(&format!("field-{code}")),
        Err(e) => return Err(e.into()),
    };
    let field = format!("reason-{id}");
    let form = Form::new().with(&field, &f.reason).error(&field, msg);
    show(&s, ctx, &actor, form).await
}
