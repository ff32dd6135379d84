//! `/author/generate` (issue 15): an author uploads a document and asks for drafts (a plain
//! multipart form, works without JavaScript); the request page follows the job live by
//! server-sent events with JavaScript (a refresh link without; no timed refresh, which WCAG
//! 2.2.1 forbids) until the job ends, then lists the drafts this request made (found by the request marker of their provenance label).
//! Absent (404) when no language model is configured. Every rule lives in
//! `myqcm_services::ai::requests`, like the JSON API's.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::codes;
use myqcm_services::ai::generate::Rejection;
use myqcm_services::ai::requests::{self, GenerationView, RequestDraft, RequestError};
use myqcm_services::ai::usage::{self, MyUsage};
use uuid::Uuid;

use super::author::{author, staff_headers};
use super::forms::{Form, page, see_other};
use super::{PageContext, render};
use crate::api::ai::request_of;
use crate::input::PageFields;
use crate::{AppState, WebError};

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/author/generate", get(form_page).post(submit))
        .route("/author/generate/{id}", get(status_page))
        .layer(axum::middleware::map_response(staff_headers))
}

#[derive(Template)]
#[template(path = "author/generate.html")]
struct GeneratePage {
    ctx: PageContext,
    form: Form,
    /// The viewer's model usage (today against the daily limit, the last days).
    usage: Option<MyUsage>,
}

impl GeneratePage {
    fn val_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        let v = self.form.val(name);
        if v.is_empty() { default } else { v }
    }
}

async fn show_form(
    s: &AppState,
    actor: &Actor,
    ctx: PageContext,
    form: Form,
    code: StatusCode,
) -> Result<Response, WebError> {
    let sv = &s.services;
    let usage = usage::mine(
        &sv.db,
        sv.llm_usage,
        sv.llm.is_some(),
        actor,
        sv.clock.now(),
    )
    .await
    .ok();
    Ok(page(code, render(&GeneratePage { ctx, form, usage })?))
}

/// `GET /author/generate`: the upload form.
pub async fn form_page(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    if s.services.llm.is_none() {
        return Err(WebError::code(codes::NOT_FOUND));
    }
    let actor = match author(&ctx, "/author/generate") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    show_form(&s, &actor, ctx, Form::new(), StatusCode::OK).await
}

/// The form as sent, for showing it again with an error.
fn refill(fields: &PageFields) -> Form {
    let mut form = Form::new();
    for (k, v) in &fields.pairs {
        if k != "_csrf" {
            form = form.with(k, v);
        }
    }
    form
}

/// The request the form makes, queued.
async fn start(
    s: &AppState,
    actor: &Actor,
    fields: &PageFields,
) -> Result<GenerationView, RequestError> {
    let req = request_of(fields)?;
    let document = fields.file.as_ref().map(|f| f.bytes.clone());
    let sv = &s.services;
    let llm = sv.llm.is_some();
    let now = sv.clock.now();
    let blobs = sv.blobs.as_ref();
    requests::start(
        &sv.db,
        blobs,
        llm,
        sv.llm_usage,
        actor,
        document.unwrap_or_default(),
        req,
        now,
    )
    .await
}

/// `POST /author/generate`: stores the document, queues the job and shows the request; what is
/// wrong comes back on the form.
pub async fn submit(
    State(s): State<AppState>,
    ctx: PageContext,
    fields: PageFields,
) -> Result<Response, WebError> {
    let actor = match author(&ctx, "/author/generate") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let form = refill(&fields);
    let started = start(&s, &actor, &fields).await;
    match started {
        Ok(v) => Ok(see_other(&format!("/author/generate/{}", v.id))),
        Err(RequestError::Invalid { field, message }) => {
            let form = form.error(field, message);
            let code = form.status();
            show_form(&s, &actor, ctx, form, code).await
        }
        Err(RequestError::Document(d)) => {
            let form = form.error("file", d.to_string());
            let code = form.status();
            show_form(&s, &actor, ctx, form, code).await
        }
        Err(RequestError::DailyLimit(l)) => {
            let limit = i64::try_from(l.limit).unwrap_or(i64::MAX);
            let form = form.error("", ctx.tn("generate-daily-limit", "limit", limit));
            show_form(&s, &actor, ctx, form, StatusCode::FORBIDDEN).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "author/generation.html")]
struct StatusPage {
    ctx: PageContext,
    req: GenerationView,
    /// Once done: the drafts this request made.
    drafts: Vec<RequestDraft>,
}

impl StatusPage {
    fn percent(&self) -> i64 {
        #[allow(clippy::cast_possible_truncation, reason = "a percentage")]
        let p = (self.req.progress.unwrap_or(0.0).clamp(0.0, 1.0) * 100.0).round() as i64;
        p
    }

    fn status_label(&self) -> String {
        self.ctx.t(&format!("generate-status-{}", self.req.status))
    }

    /// A refused item's reason in the page's language: the generation message of its code,
    /// else the form message of that code (catalogue rules), else the English text.
    fn reason(&self, r: &Rejection) -> String {
        let locale = self.ctx.locale;
        locale
            .try_t(&format!("generate-reason-{}", r.code))
            .or_else(|| locale.try_t(&format!("field-{}", r.code)))
            .unwrap_or_else(|| r.message.clone())
    }
}

/// `GET /author/generate/{id}`: the request's progress, then its outcome.
pub async fn status_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = match author(&ctx, "/author/generate") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let llm = s.services.llm.is_some();
    let req = requests::get(&s.services.db, llm, &actor, id).await?;
    let drafts = if req.status == "done" {
        requests::drafts_of(&s.services.db, llm, &actor, id).await?
    } else {
        vec![]
    };
    let html = render(&StatusPage { ctx, req, drafts })?;
    Ok(page(axum::http::StatusCode::OK, html))
}
