//! The clinical-case editor (`/author/cases/new`) and a case's page (`/author/cases/{id}`).
//!
//! A case is written in one form: course, language, title, scenario (Markdown), objectives (one
//! per line) and its ordered steps (2 to 10), each a QCS, QCM or QROC with the item editor's
//! fields under the prefix `s{k}_` (`s0_stem`, `s1_option_text_2`…) and its KCs as codes
//! separated by commas. "Add a step" / "Remove the last step" re-render the form with every
//! value kept (no JavaScript needed); saving creates the case and its steps as drafts in one
//! transaction (`catalogue::create_case`), then the case's page lists the steps, each opened in
//! the full item editor (images, KC pickers, preview) and submitted for review on its own.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use myqcm_services::catalogue::desk;
use myqcm_services::catalogue::{self as svc, NewCaseInput, StaffCaseView};
use uuid::Uuid;

use super::author::{SubjectPick, author, picks, staff_headers};
use super::author_form::{EditorForm, OptionSlot, editor_field, slots};
use super::forms::{Form, page, see_other};
use super::{PageContext, render};
use crate::input::PageFields;
use crate::{AppState, WebError};

/// Fewest and most steps of a case (the catalogue's bounds).
const MIN_STEPS: usize = 2;
const MAX_STEPS: usize = 10;

/// The answer time a step gets (the full editor changes it per step).
const DEFAULT_STEP_SECONDS: &str = "90";

/// The case-level fields kept on a re-render.
const CASE_FIELDS: [&str; 5] = ["course", "locale", "title", "scenario", "objectives"];

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/author/cases/new", get(new_case).post(create))
        .route("/author/cases/{id}", get(show))
        .layer(axum::middleware::map_response(staff_headers))
}

/// The submitted case form, as name/value pairs.
struct CaseForm(Vec<(String, String)>);

impl CaseForm {
    fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// How many steps the form shows.
    fn steps(&self) -> usize {
        self.one("steps")
            .trim()
            .parse()
            .unwrap_or(MIN_STEPS)
            .clamp(MIN_STEPS, MAX_STEPS)
    }

    /// Step `k` as the item editor's form (course and language are the case's; the KC codes
    /// typed with commas become the editor's repeated `kcs`).
    fn step(&self, k: usize) -> EditorForm {
        let prefix = format!("s{k}_");
        let mut pairs = vec![
            ("course".to_owned(), self.one("course").to_owned()),
            ("locale".to_owned(), self.one("locale").to_owned()),
        ];
        for (name, value) in &self.0 {
            let Some(field) = name.strip_prefix(&prefix) else {
                continue;
            };
            if field == "kcs" {
                pairs.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| ("kcs".to_owned(), v.to_owned())),
                );
            } else {
                pairs.push((field.to_owned(), value.clone()));
            }
        }
        let mut step = EditorForm(pairs);
        if step.one("estimated_seconds").trim().is_empty() {
            step.set("estimated_seconds", DEFAULT_STEP_SECONDS);
        }
        step
    }

    fn input(&self) -> NewCaseInput {
        NewCaseInput {
            course: self.one("course").trim().to_owned(),
            locale: self.one("locale").to_owned(),
            title: self.one("title").trim().to_owned(),
            scenario: self.one("scenario").to_owned(),
            objectives: self
                .one("objectives")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            items: (0..self.steps()).map(|k| self.step(k).new_item()).collect(),
            external_id: None,
        }
    }

    /// The values to show again: the case's fields, then each step's under its prefix.
    fn kept(&self, steps: usize) -> Form {
        let mut form = Form::new().with("steps", &steps.to_string());
        for name in CASE_FIELDS {
            form = form.with(name, self.one(name));
        }
        form
    }
}

/// A case's failure fields (`items[1].options[2].text`) pointed at the form's own inputs
/// (`s1_option_text_2`).
fn case_fields(mut form: Form) -> Form {
    for e in &mut form.errors {
        if let Some(rest) = e.field.strip_prefix("items[") {
            let k: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let inner = rest[k.len()..]
                .trim_start_matches(']')
                .trim_start_matches('.');
            let inner = if inner.is_empty() { "stem" } else { inner };
            e.field = format!("s{k}_{}", editor_field(inner));
        } else if e.field == "items" {
            e.field = "steps".to_owned();
        }
    }
    form
}

/// One step of the form, as shown.
struct StepView {
    k: usize,
    form: Form,
    options: Vec<OptionSlot>,
    kcs: String,
}

impl StepView {
    fn of(f: &CaseForm, k: usize) -> Self {
        let step = f.step(k);
        let form = step.kept();
        let options = slots(&form);
        Self {
            k,
            kcs: form.val("kcs").to_owned(),
            form,
            options,
        }
    }

    fn id(&self, name: &str) -> String {
        format!("s{}_{name}", self.k)
    }
}

#[derive(Template)]
#[template(path = "author/case_editor.html")]
struct CaseEditorPage {
    ctx: PageContext,
    form: Form,
    subjects: Vec<SubjectPick>,
    steps: Vec<StepView>,
}

impl CaseEditorPage {
    fn selected(&self, name: &str, value: &str) -> bool {
        self.form.val(name) == value
    }

    fn step_selected(&self, s: &StepView, name: &str, value: &str) -> bool {
        s.form.val(name) == value
    }

    /// The step's difficulty, medium when none was chosen.
    fn difficulty_selected(&self, s: &StepView, value: &str) -> bool {
        match s.form.val("difficulty") {
            "" => value == "medium",
            d => d == value,
        }
    }

    fn err(&self, s: &StepView, name: &str) -> Option<&str> {
        self.form.err(&s.id(name))
    }

    fn label(&self, prefix: &str, value: &str) -> String {
        self.ctx.t(&format!("{prefix}-{value}"))
    }

    fn step_title(&self, s: &StepView) -> String {
        self.ctx.tn("case-step-n", "number", (s.k + 1) as i64)
    }

    fn option_label(&self, o: &OptionSlot) -> String {
        self.ctx.tn("author-option-n", "number", (o.i + 1) as i64)
    }

    fn can_add(&self) -> bool {
        self.steps.len() < MAX_STEPS
    }

    fn can_remove(&self) -> bool {
        self.steps.len() > MIN_STEPS
    }

    /// Case text keeps its own direction.
    fn case_dir(&self) -> &'static str {
        if self.form.val("locale") == "ar" {
            "rtl"
        } else {
            "ltr"
        }
    }
}

async fn editor(
    s: &AppState,
    ctx: PageContext,
    actor: &myqcm_domain::catalogue::lifecycle::Actor,
    f: &CaseForm,
    form: Form,
) -> Result<Response, WebError> {
    let subjects = picks(&desk::editor_choices(&s.services.db, actor).await?, &ctx);
    let steps = form.val("steps").parse().unwrap_or(MIN_STEPS);
    let steps = (0..steps).map(|k| StepView::of(f, k)).collect();
    let status = form.status();
    let html = render(&CaseEditorPage {
        ctx,
        form,
        subjects,
        steps,
    })?;
    Ok(page(status, html))
}

/// `GET /author/cases/new`: an empty case with two steps.
pub async fn new_case(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let actor = match author(&ctx, "/author/cases/new") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let f = CaseForm(vec![
        ("locale".to_owned(), "fr".to_owned()),
        ("s0_kind".to_owned(), "qcm".to_owned()),
        ("s1_kind".to_owned(), "qcm".to_owned()),
    ]);
    let form = f.kept(MIN_STEPS);
    editor(&s, ctx, &actor, &f, form).await
}

/// `POST /author/cases/new`: add a step (`intent=add_step`), remove the last one
/// (`intent=remove_step`), or create the case and its steps as drafts.
pub async fn create(
    State(s): State<AppState>,
    ctx: PageContext,
    fields: PageFields,
) -> Result<Response, WebError> {
    let actor = match author(&ctx, "/author/cases/new") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let f = CaseForm(fields.pairs);
    let steps = match f.one("intent") {
        "add_step" => (f.steps() + 1).min(MAX_STEPS),
        "remove_step" => (f.steps() - 1).max(MIN_STEPS),
        _ => {
            let now = s.services.clock.now();
            let form = match svc::create_case(&s.services.db, &actor, f.input(), now).await {
                Ok(v) => return Ok(see_other(&format!("/author/cases/{}", v.id))),
                Err(e) => case_fields(f.kept(f.steps()).failure(ctx.locale, "title", e)?),
            };
            return editor(&s, ctx, &actor, &f, form).await;
        }
    };
    editor(&s, ctx, &actor, &f, f.kept(steps)).await
}

#[derive(Template)]
#[template(path = "author/case.html")]
struct CasePage {
    ctx: PageContext,
    case: StaffCaseView,
}

impl CasePage {
    fn status(&self, s: &str) -> String {
        self.ctx.t(&format!("author-status-{s}"))
    }

    fn kind(&self, k: &str) -> String {
        self.ctx.t(&format!("practice-kind-{k}"))
    }

    fn step_title(&self, k: &usize) -> String {
        self.ctx.tn("case-step-n", "number", (*k + 1) as i64)
    }
}

/// `GET /author/cases/{id}`: the case, its scenario as learners see it, and its steps.
pub async fn show(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = match author(&ctx, &format!("/author/cases/{id}")) {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let case = svc::get_case_staff(&s.services.db, &actor, id).await?;
    Ok(render(&CasePage { ctx, case })?.into_response())
}
