//! The session builder (`/practice`): subject, style, learning mode, item count, exam time limit
//! and the filters `create_session` accepts (courses, knowledge components, item types,
//! difficulties, candidate pool). Courses and KCs are grouped by subject; without JavaScript
//! every group is shown and a course of another subject is refused by the service (the error
//! names the field), `practice.js` hides the groups of the other subjects.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::training::{SessionRequest, Style};
use myqcm_services::training::views::{BuilderChoices, NewSessionInput};
use serde::Deserialize;

use super::forms::{Form, page, see_other};
use super::practice::learner;
use super::progress::name_in;
use super::{PageContext, render};
use crate::{AppState, WebError};

/// One option of a choice list: value and localised label.
pub struct Opt {
    /// Submitted value.
    pub value: String,
    /// Label in the page's language.
    pub label: String,
}

/// A subject's course and KC checkboxes.
pub struct Group {
    /// Subject id.
    pub subject: String,
    /// Subject name.
    pub name: String,
    /// Its courses.
    pub courses: Vec<Opt>,
    /// Its knowledge components.
    pub kcs: Vec<Opt>,
}

#[derive(Template)]
#[template(path = "practice/builder.html")]
struct BuilderPage {
    ctx: PageContext,
    form: Form,
    groups: Vec<Group>,
    modes: Vec<Opt>,
    preferred: String,
}

impl BuilderPage {
    fn selected(&self, name: &str, value: &str) -> bool {
        self.form.val(name) == value
    }

    /// Whether a multi-valued field had `value` checked.
    fn checked(&self, name: &str, value: &str) -> bool {
        self.form
            .val(name)
            .split(',')
            .any(|v| !v.is_empty() && v == value)
    }

    fn pool_checked(&self, p: &str) -> bool {
        self.form.val("pool") == p || (p == "all" && self.form.val("pool").is_empty())
    }

    fn kind_label(&self, kind: &str) -> String {
        match kind {
            "qcs" => self.ctx.t("practice-kind-qcs"),
            "qcm" => self.ctx.t("practice-kind-qcm"),
            _ => self.ctx.t("practice-kind-qroc"),
        }
    }

    fn difficulty_label(&self, d: &str) -> String {
        match d {
            "easy" => self.ctx.t("practice-difficulty-easy"),
            "medium" => self.ctx.t("practice-difficulty-medium"),
            _ => self.ctx.t("practice-difficulty-hard"),
        }
    }

    fn pool_label(&self, p: &str) -> String {
        match p {
            "unused" => self.ctx.t("practice-pool-unused"),
            "incorrect" => self.ctx.t("practice-pool-incorrect"),
            "flagged" => self.ctx.t("practice-pool-flagged"),
            _ => self.ctx.t("practice-pool-all"),
        }
    }

    fn preferred_text(&self) -> String {
        let name = self
            .modes
            .iter()
            .find(|m| m.value == self.preferred)
            .map_or(self.preferred.as_str(), |m| m.label.as_str());
        self.ctx.t1("practice-mode-default", "mode", name)
    }
}

/// `?style=` preselects a style.
#[derive(Deserialize)]
pub struct BuilderQuery {
    #[serde(default)]
    style: String,
}

/// `GET /practice`: the session builder.
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
    let form = Form::new()
        .with("style", style)
        .with("item_count", "10")
        .with("pool", "all");
    builder_page(&s, ctx, &actor, form).await
}

fn opts(list: &[myqcm_services::training::views::Choice], ctx: &PageContext) -> Vec<Opt> {
    list.iter()
        .map(|c| Opt {
            value: c.id.to_string(),
            label: name_in(&c.names, ctx.locale, &c.code),
        })
        .collect()
}

fn groups(c: &BuilderChoices, ctx: &PageContext) -> Vec<Group> {
    c.subjects
        .iter()
        .map(|s| Group {
            subject: s.subject.id.to_string(),
            name: name_in(&s.subject.names, ctx.locale, &s.subject.code),
            courses: opts(&s.courses, ctx),
            kcs: opts(&s.kcs, ctx),
        })
        .collect()
}

async fn builder_page(
    s: &AppState,
    ctx: PageContext,
    actor: &Actor,
    form: Form,
) -> Result<Response, WebError> {
    let c = s.services.training.builder_choices(actor).await?;
    let modes = c
        .modes
        .iter()
        .map(|m| Opt {
            value: m.code.clone(),
            label: name_in(&m.names, ctx.locale, &m.code),
        })
        .collect();
    let status = form.status();
    let html = render(&BuilderPage {
        groups: groups(&c, &ctx),
        modes,
        preferred: c.preferred_mode,
        ctx,
        form,
    })?;
    Ok(page(status, html))
}

/// The builder form, as name/value pairs (courses, KCs, types and difficulties repeat).
struct BuilderForm(Vec<(String, String)>);

impl BuilderForm {
    fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    fn all<T: std::str::FromStr>(&self, name: &str) -> Vec<T> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.trim().parse().ok())
            .collect()
    }

    /// The values to show again (multi-valued fields joined by commas).
    fn kept(&self) -> Form {
        let mut form = Form::new();
        for name in [
            "subject",
            "style",
            "mode",
            "item_count",
            "time_limit",
            "pool",
        ] {
            form = form.with(name, self.one(name));
        }
        for name in ["courses", "kcs", "kinds", "difficulties"] {
            let joined: Vec<&str> = self
                .0
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect();
            form = form.with(name, &joined.join(","));
        }
        form
    }

    fn input(&self) -> NewSessionInput {
        let minutes: Option<u32> = self.one("time_limit").parse().ok();
        NewSessionInput {
            mode: Some(self.one("mode").to_owned()).filter(|m| !m.is_empty()),
            style: self.one("style").parse().unwrap_or(Style::Tutor),
            request: SessionRequest {
                subject: self.one("subject").parse().ok(),
                item_count: self.one("item_count").parse().ok(),
                courses: self.all("courses"),
                kcs: self.all("kcs"),
                kinds: self.all("kinds"),
                difficulties: self.all("difficulties"),
                pool: self.one("pool").parse().unwrap_or_default(),
                time_limit_seconds: minutes.map(|m| m.saturating_mul(60)),
                ..SessionRequest::default()
            },
        }
    }
}

/// Field errors on `courses[2]` or `time_limit_seconds` point at the form's own fields.
fn form_fields(mut form: Form) -> Form {
    for e in &mut form.errors {
        if let Some(i) = e.field.find('[') {
            e.field.truncate(i);
        }
        if e.field == "time_limit_seconds" {
            "time_limit".clone_into(&mut e.field);
        }
    }
    form
}

/// `POST /practice`: starts the session, then its player.
pub async fn create(
    State(s): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(pairs): crate::input::PageForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let actor = match learner(&ctx, "/practice") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let f = BuilderForm(pairs);
    let form = match s.services.training.create_session(&actor, f.input()).await {
        Ok(v) => return Ok(see_other(&format!("/practice/{}", v.id))),
        Err(e) => form_fields(f.kept().failure(ctx.locale, "subject", e)?),
    };
    builder_page(&s, ctx, &actor, form).await
}
