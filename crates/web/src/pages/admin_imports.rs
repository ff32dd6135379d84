//! The catalogue's file pages (`CatalogueImportExport`: `content` and `super` admins):
//! `/admin/imports` uploads a CSV, .xlsx or JSON bank (a plain multipart form), checks it in a
//! dry run or imports it, both as a background job whose progress the run page follows by
//! server-sent events; the run page shows the row / column / reason report and, after a clean
//! dry run, imports the same stored file. `/admin/exports` downloads the catalogue or its
//! taxonomy in an import format. Every rule lives in `myqcm_services::import`, like the JSON
//! API's. Staff without two-step sign-in get the enrolment page; everyone else without the
//! power gets 403. Every response is `noindex` and `Cache-Control: no-store, private`.

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use fluent_templates::fluent_bundle::FluentValue;
use myqcm_services::catalogue::CatalogueError;
use myqcm_services::import::jobs::{self as import_jobs, ImportRequest, ImportRunView};
use myqcm_services::import::{Format, RowError, export};
use serde::Deserialize;
use uuid::Uuid;

use super::author::{staff_headers, staff_refusal as refusal};
use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::i18n::Locale;
use crate::{AppState, WebError};

/// Runs listed on the imports page.
const RECENT: u64 = 20;

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/imports", get(imports_page).post(upload))
        .route("/admin/imports/{id}", get(run_page))
        .route("/admin/imports/{id}/commit", post(commit))
        .route("/admin/exports", get(exports_page))
        .route("/admin/exports/download", get(download))
        .layer(axum::middleware::map_response(staff_headers))
}

/// Localised name of a run status.
fn status_label(ctx: &PageContext, status: &str) -> String {
    ctx.t(&format!("imports-status-{status}"))
}

#[derive(Template)]
#[template(path = "admin/imports.html")]
struct ImportsPage {
    ctx: PageContext,
    runs: Vec<ImportRunView>,
    form: Form,
}

impl ImportsPage {
    fn status_label(&self, s: &str) -> String {
        status_label(&self.ctx, s)
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn dry_run_checked(&self) -> bool {
        self.form.val("mode") != "import"
    }
}

async fn imports_with(s: &AppState, ctx: PageContext, form: Form) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/imports"));
    };
    let runs = match import_jobs::recent(&s.services.db, &v.user.actor(), RECENT).await {
        Ok(r) => r,
        Err(e) => return refusal(&ctx, e),
    };
    let code = form.status();
    Ok(page(code, render(&ImportsPage { ctx, runs, form })?))
}

/// `GET /admin/imports`: the upload form and the latest runs.
pub async fn imports_page(
    State(s): State<AppState>,
    ctx: PageContext,
) -> Result<Response, WebError> {
    imports_with(&s, ctx, Form::new()).await
}

/// The upload form as sent.
#[derive(Debug, Default)]
struct Upload {
    file_name: Option<String>,
    bytes: Bytes,
    mode: String,
    partial: bool,
    course: String,
}

/// Reads the multipart form (`file`, `mode`, `partial`, `course`; `_csrf` was checked before).
async fn read_upload(mut m: Multipart) -> Result<Upload, WebError> {
    let bad = |_| WebError::code(myqcm_domain::codes::VALIDATION_FAILED);
    let mut up = Upload::default();
    while let Some(field) = m.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "file" => {
                up.file_name = field.file_name().map(str::to_owned);
                up.bytes = field.bytes().await.map_err(bad)?;
            }
            "mode" => up.mode = field.text().await.map_err(bad)?,
            "partial" => up.partial = !field.text().await.map_err(bad)?.is_empty(),
            "course" => up.course = field.text().await.map_err(bad)?.trim().to_owned(),
            _ => {}
        }
    }
    Ok(up)
}

/// The request an upload makes, or the form with what is wrong (nothing is stored then).
fn check(up: Upload, locale: Locale) -> Result<(Bytes, ImportRequest), Form> {
    let form = Form::new()
        .with("mode", &up.mode)
        .with("course", &up.course)
        .with("partial", if up.partial { "on" } else { "" });
    let name = up.file_name.unwrap_or_default();
    if name.is_empty() {
        return Err(form.error("file", locale.t("imports-error-no-file")));
    }
    let Some(format) = Format::from_path(&name.to_ascii_lowercase()) else {
        return Err(form.error("file", locale.t("imports-error-type")));
    };
    if up.bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(form.error("file", locale.t("imports-error-empty")));
    }
    if myqcm_domain::text::has_disallowed(&up.course) {
        return Err(form.error("course", locale.t("imports-error-course")));
    }
    let req = ImportRequest {
        format,
        partial: up.partial,
        default_course: Some(up.course).filter(|c| !c.is_empty()),
        dry_run: up.mode != "import",
    };
    Ok((up.bytes, req))
}

/// `POST /admin/imports`: stores the file and queues a dry run (default) or an import, then
/// shows the run; a missing, empty or unsupported file comes back on the form.
pub async fn upload(
    State(s): State<AppState>,
    ctx: PageContext,
    m: Multipart,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/imports"));
    };
    let actor = v.user.actor();
    let (bytes, req) = match check(read_upload(m).await?, ctx.locale) {
        Ok(x) => x,
        Err(form) => return imports_with(&s, ctx, form).await,
    };
    let (db, blobs) = (&s.services.db, s.services.blobs.as_ref());
    let now = s.services.clock.now();
    match import_jobs::start(db, blobs, &actor, bytes, req, now).await {
        Ok(run) => Ok(see_other(&format!("/admin/imports/{}", run.id))),
        Err(e) => refusal(&ctx, e),
    }
}

#[derive(Template)]
#[template(path = "admin/import.html")]
struct RunPage {
    ctx: PageContext,
    run: ImportRunView,
    form: Form,
}

impl RunPage {
    fn status_label(&self) -> String {
        status_label(&self.ctx, &self.run.status)
    }

    fn running(&self) -> bool {
        matches!(self.run.status.as_str(), "queued" | "running")
    }

    fn percent(&self) -> i64 {
        if self.run.total <= 0 {
            0
        } else {
            i64::from(self.run.processed.clamp(0, self.run.total)) * 100 / i64::from(self.run.total)
        }
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn n(&self, id: &str, n: &usize) -> String {
        self.ctx.tn(id, "n", i64::try_from(*n).unwrap_or(i64::MAX))
    }

    /// A report line's reason in the page's language: the import message of its code, else
    /// the form message of that code, else the English text the import wrote.
    fn reason(&self, e: &RowError) -> String {
        let locale = self.ctx.locale;
        let Some(code) = e.code.as_deref() else {
            return e.reason.clone();
        };
        let value = FluentValue::from(e.value.clone().unwrap_or_default());
        locale
            .try_t_args(&format!("import-reason-{code}"), &[("value", value)])
            .or_else(|| locale.try_t(&format!("field-{code}")))
            .unwrap_or_else(|| e.reason.clone())
    }
}

async fn run_with(
    s: &AppState,
    ctx: PageContext,
    id: Uuid,
    form: Form,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/imports"));
    };
    let run = match import_jobs::get(&s.services.db, &v.user.actor(), id).await {
        Ok(r) => r,
        Err(e) => return refusal(&ctx, e),
    };
    let code = form.status();
    Ok(page(code, render(&RunPage { ctx, run, form })?))
}

/// `GET /admin/imports/{id}`: one run, its progress (live by SSE with JavaScript) and, once
/// ended, its report.
pub async fn run_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    run_with(&s, ctx, id, Form::new()).await
}

/// `POST /admin/imports/{id}/commit`: imports the file of a clean dry run.
pub async fn commit(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/imports"));
    };
    let now = s.services.clock.now();
    let form = match import_jobs::commit(&s.services.db, &v.user.actor(), id, now).await {
        Ok(run) => return Ok(see_other(&format!("/admin/imports/{}", run.id))),
        Err(e @ (CatalogueError::MfaEnrolmentRequired | CatalogueError::NotFound)) => {
            return refusal(&ctx, e);
        }
        Err(e) => Form::new().failure(ctx.locale, "", e)?,
    };
    run_with(&s, ctx, id, form).await
}

#[derive(Template)]
#[template(path = "admin/exports.html")]
struct ExportsPage {
    ctx: PageContext,
    form: Form,
}

impl ExportsPage {
    fn formats(&self) -> [&'static str; 3] {
        ["csv", "xlsx", "json"]
    }
}

/// `?scope=&format=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    format: String,
}

/// `GET /admin/exports`: what to download.
pub async fn exports_page(ctx: PageContext) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/exports"));
    };
    // The same permission as the download: refused before a form is shown.
    if let Err(e) = import_jobs::may_import(&v.user.actor()) {
        return refusal(&ctx, e);
    }
    Ok(page(
        StatusCode::OK,
        render(&ExportsPage {
            ctx,
            form: Form::new(),
        })?,
    ))
}

/// `GET /admin/exports/download`: the file (`scope` `catalogue` or `taxonomy`).
pub async fn download(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/exports"));
    };
    let taxonomy = q.scope == "taxonomy";
    let Some(format) = Format::parse(&q.format) else {
        let form = Form::new().error("format", ctx.t("exports-error-format"));
        return Ok(page(form.status(), render(&ExportsPage { ctx, form })?));
    };
    let bytes = match export::for_staff(&s.services.db, &v.user.actor(), format, taxonomy).await {
        Ok(b) => b,
        Err(e) => return refusal(&ctx, e),
    };
    let name = if taxonomy { "taxonomy" } else { "catalogue" };
    let disposition = format!("attachment; filename=\"myqcm-{name}.{}\"", format.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
