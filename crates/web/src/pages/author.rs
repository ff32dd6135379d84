//! The author pages (`/author`): the author's items with status filters, search and pages; the
//! item editor for QCS, QCM and QROC (options with key and explanations, KCs picked from the
//! tree grouped by subject, difficulty, source, locale) with a preview through the renderer
//! learners see (a "Preview" button without JavaScript, a live preview with htmx); submitting
//! for review; reviewer comments and the revision history. Staff who have not enrolled
//! two-step sign-in get a page that says so; learners get 403. Every response is `noindex` and
//! `Cache-Control: no-store, private`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use myqcm_domain::catalogue::Transition;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::codes;
use myqcm_domain::permissions::Action;
use myqcm_services::ai::kcs::{self, EditorSuggestions, KcSuggestionView};
use myqcm_services::catalogue::desk::{self, DeskItem, DeskPage, DeskQuery, SubjectChoices};
use myqcm_services::catalogue::images::{self, ImageError};
use myqcm_services::catalogue::views::{RenderedContent, ReviewEventView, RevisionView};
use myqcm_services::catalogue::{self as svc};
use serde::Deserialize;
use uuid::Uuid;

use super::author_form::{EditorForm, OptionSlot, blank, editor_fields, slots, stored};
use super::forms::{Form, page, see_other, to_sign_in};
use super::progress::name_in;
use super::{PageContext, render};
use crate::input::{FormFile, PageFields, PageForm};
use crate::{AppState, WebError};

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/author", get(list))
        .route("/author/items/new", get(new_item).post(create))
        .route("/author/items/{id}", get(show).post(save))
        .route("/author/items/{id}/submit", post(submit))
        .route("/author/items/{id}/withdraw", post(withdraw))
        .route("/author/items/{id}/comments", post(comment))
        .route("/author/preview", post(live_preview))
        .layer(axum::middleware::map_response(staff_headers))
}

/// Staff pages are never indexed nor kept by shared caches.
pub(crate) async fn staff_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    res
}

#[derive(Template)]
#[template(path = "author/enrol.html")]
pub(crate) struct EnrolPage {
    pub(crate) ctx: PageContext,
}

/// A service refusal that may mean "enrol in two-step sign-in first".
pub(crate) trait StaffRefusal: Into<WebError> {
    /// Whether the refusal asks the staff member to enrol first.
    fn enrolment_required(&self) -> bool;
}

impl StaffRefusal for myqcm_services::identity::IdentityError {
    fn enrolment_required(&self) -> bool {
        matches!(self, Self::MfaEnrolmentRequired)
    }
}

impl StaffRefusal for svc::CatalogueError {
    fn enrolment_required(&self) -> bool {
        matches!(self, Self::MfaEnrolmentRequired)
    }
}

impl StaffRefusal for myqcm_services::jobs::JobsError {
    fn enrolment_required(&self) -> bool {
        matches!(self, Self::MfaEnrolmentRequired)
    }
}

/// The page for a refusal before anything is shown, shared by every staff page: the
/// enrolment page, or the error (403, 404).
pub(crate) fn staff_refusal<E: StaffRefusal>(
    ctx: &PageContext,
    e: E,
) -> Result<Response, WebError> {
    if e.enrolment_required() {
        Ok(page(
            StatusCode::FORBIDDEN,
            render(&EnrolPage { ctx: ctx.clone() })?,
        ))
    } else {
        Err(e.into())
    }
}

/// The author behind the page, or where to send the viewer instead: signed out → sign-in;
/// staff without two-step sign-in → the enrolment page; no authoring power → 403.
pub(crate) fn author(ctx: &PageContext, back: &str) -> Result<Actor, Box<Response>> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Err(Box::new(to_sign_in(back)));
    };
    let actor = v.user.actor();
    if actor.enrolment_pending() {
        let html = render(&EnrolPage { ctx: ctx.clone() });
        return Err(Box::new(match html {
            Ok(h) => page(StatusCode::FORBIDDEN, h),
            Err(e) => e.into_response(),
        }));
    }
    if !actor.can(Action::ItemAuthor) && !actor.can(Action::CatalogueManage) {
        return Err(Box::new(WebError::code(codes::FORBIDDEN).into_response()));
    }
    Ok(actor)
}

macro_rules! author_or_return {
    ($ctx:expr, $back:expr) => {
        match author(&$ctx, $back) {
            Ok(a) => a,
            Err(r) => return Ok(*r),
        }
    };
}

#[derive(Template)]
#[template(path = "author/list.html")]
struct ListPage {
    ctx: PageContext,
    q: ListQuery,
    data: DeskPage,
    /// AI generation is configured (link to `/author/generate`).
    ai: bool,
}

impl ListPage {
    fn filters(&self) -> [&'static str; 5] {
        desk::STATUS_FILTERS
    }

    fn status_label(&self, s: &str) -> String {
        self.ctx.t(&format!("author-status-{s}"))
    }

    fn kind_label(&self, k: &str) -> String {
        self.ctx.t(&format!("practice-kind-{k}"))
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.ctx.locale.datetime(at)
    }

    fn filter_href(&self, status: &str) -> String {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", status)
            .append_pair("q", &self.q.q)
            .finish();
        format!("/author?{q}")
    }

    fn next_href(&self, next: &Uuid) -> String {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.q.status)
            .append_pair("q", &self.q.q)
            .append_pair("before", &next.to_string())
            .finish();
        format!("/author?{q}")
    }
}

/// `?status=&q=&before=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    before: Option<Uuid>,
}

/// `GET /author`: my items.
pub async fn list(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, "/author");
    let query = DeskQuery {
        status: q.status.clone(),
        q: q.q.clone(),
        before: q.before,
    };
    let data = desk::my_items(&s.services.db, &actor, &query).await?;
    let ai = s.services.llm.is_some();
    Ok(render(&ListPage { ctx, q, data, ai })?.into_response())
}

/// A subject's pickers in the page's language.
pub struct SubjectPick {
    pub(crate) name: String,
    pub(crate) courses: Vec<(String, String)>,
    pub(crate) kcs: Vec<(String, String)>,
}

pub(crate) fn picks(choices: &[SubjectChoices], ctx: &PageContext) -> Vec<SubjectPick> {
    choices
        .iter()
        .map(|s| SubjectPick {
            name: name_in(&s.names, ctx.locale, &s.code),
            courses: s
                .courses
                .iter()
                .map(|c| (c.code.clone(), name_in(&c.names, ctx.locale, &c.code)))
                .collect(),
            kcs: s
                .kcs
                .iter()
                .map(|k| (k.code.clone(), name_in(&k.names, ctx.locale, &k.code)))
                .collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "author/editor.html")]
struct EditorPage {
    ctx: PageContext,
    form: Form,
    subjects: Vec<SubjectPick>,
    preview: Option<RenderedContent>,
    item: Option<DeskItem>,
    comment: Form,
    /// KC suggestions of a saved item (only when a language model is configured).
    kc: Option<EditorSuggestions>,
}

impl EditorPage {
    fn selected(&self, name: &str, value: &str) -> bool {
        self.form.val(name) == value
    }

    fn checked(&self, name: &str, value: &str) -> bool {
        self.form.val(name).split(',').any(|v| v == value)
    }

    fn slots(&self) -> Vec<OptionSlot> {
        slots(&self.form)
    }

    fn label(&self, prefix: &str, value: &str) -> String {
        self.ctx.t(&format!("{prefix}-{value}"))
    }

    fn action(&self) -> String {
        self.item.as_ref().map_or_else(
            || "/author/items/new".to_owned(),
            |d| format!("/author/items/{}", d.item.id),
        )
    }

    /// Item text keeps its own direction (an Arabic item on a French page reads right to left).
    fn item_dir(&self) -> &'static str {
        if self.form.val("locale") == "ar" {
            "rtl"
        } else {
            "ltr"
        }
    }

    fn editable(&self) -> bool {
        self.item.as_ref().is_none_or(|d| d.item.status == "draft")
    }

    fn status(&self) -> String {
        self.item.as_ref().map_or_else(String::new, |d| {
            let s = if d.changes_requested {
                "changes_requested"
            } else {
                d.item.status.as_str()
            };
            self.ctx.t(&format!("author-status-{s}"))
        })
    }

    fn who(&self, e: &ReviewEventView) -> String {
        let mine = self
            .ctx
            .viewer
            .as_ref()
            .is_some_and(|v| v.user.caller.id == e.actor_id);
        self.ctx.t(if mine {
            "author-you"
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

    fn revision_title(&self, r: &RevisionView) -> String {
        self.ctx
            .tn("author-revision-number", "number", i64::from(r.number))
    }

    fn confidence_label(&self, k: &KcSuggestionView) -> String {
        self.ctx
            .t(&format!("review-kcs-confidence-{}", k.confidence))
    }

    fn score(&self, k: &KcSuggestionView) -> String {
        format!("{:.2}", k.score)
    }
}

async fn editor(
    s: &AppState,
    ctx: PageContext,
    actor: &Actor,
    form: Form,
    preview: Option<RenderedContent>,
) -> Result<Response, WebError> {
    let subjects = picks(&desk::editor_choices(&s.services.db, actor).await?, &ctx);
    let status = form.status();
    let comment = Form::new();
    let html = render(&EditorPage {
        ctx,
        form,
        subjects,
        preview,
        item: None,
        comment,
        kc: None,
    })?;
    Ok(page(status, html))
}

/// `GET /author/items/new`: an empty editor.
pub async fn new_item(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, "/author/items/new");
    editor(&s, ctx, &actor, blank(), None).await
}

/// `POST /author/items/new`: preview (`intent=preview`), add an image (`intent=image`) or
/// create the draft.
pub async fn create(
    State(s): State<AppState>,
    ctx: PageContext,
    fields: PageFields,
) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, "/author/items/new");
    let f = EditorForm(fields.pairs);
    match f.one("intent") {
        "preview" => {
            let p = desk::preview(&actor, &f.content())?;
            return editor(&s, ctx, &actor, f.kept(), Some(p)).await;
        }
        "image" => {
            let (form, p) = with_image(&s, &ctx, &actor, f, fields.file).await?;
            return editor(&s, ctx, &actor, form, Some(p)).await;
        }
        _ => {}
    }
    let now = s.services.clock.now();
    let form = match svc::create_item(&s.services.db, &actor, f.new_item(), now).await {
        Ok(v) => return Ok(see_other(&format!("/author/items/{}", v.id))),
        Err(e) => editor_fields(f.kept().failure(ctx.locale, "stem", e)?),
    };
    editor(&s, ctx, &actor, form, None).await
}

/// What an item page shows besides the stored item: the form as typed, a preview of it, the
/// comment form's state.
#[derive(Default)]
struct Extras {
    form: Option<Form>,
    preview: Option<RenderedContent>,
    comment: Form,
}

async fn item_page(
    s: &AppState,
    ctx: PageContext,
    actor: &Actor,
    id: Uuid,
    x: Extras,
) -> Result<Response, WebError> {
    let d = desk::item(&s.services.db, actor, id).await?;
    let form = x.form.unwrap_or_else(|| stored(&d));
    let subjects = picks(&d.choices, &ctx);
    let status = if x.comment.failed() {
        x.comment.status()
    } else {
        form.status()
    };
    let preview = x.preview.or_else(|| Some(d.item.revision.rendered.clone()));
    let comment = x.comment;
    let kc = match s.services.llm {
        Some(_) => Some(kcs::for_editor(&s.services.db, true, actor, id).await?),
        None => None,
    };
    let html = render(&EditorPage {
        ctx,
        form,
        subjects,
        preview,
        item: Some(d),
        comment,
        kc,
    })?;
    Ok(page(status, html))
}

/// `GET /author/items/{id}`: the editor of an item, its preview, comments and revisions.
pub async fn show(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, &format!("/author/items/{id}"));
    item_page(&s, ctx, &actor, id, Extras::default()).await
}

/// `POST /author/items/{id}`: preview, add an image, or save a new revision.
pub async fn save(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    fields: PageFields,
) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, &format!("/author/items/{id}"));
    let f = EditorForm(fields.pairs);
    if let Some(x) = not_saving(&s, &ctx, &actor, id, &f, fields.file).await? {
        return item_page(&s, ctx, &actor, id, x).await;
    }
    let now = s.services.clock.now();
    let llm = s.services.llm.is_some();
    // With a model, the suggestions this save applies are accepted once it is saved.
    let before = if llm {
        Some(kcs::tags_before_save(&s.services.db, &actor, id).await?)
    } else {
        None
    };
    let form = match svc::edit_item(&s.services.db, &actor, id, f.edit(), now).await {
        Ok(_) => {
            if let Some(before) = before {
                kcs::accept_applied(&s.services.db, llm, &actor, id, &before, now).await?;
            }
            return Ok(see_other(&format!("/author/items/{id}")));
        }
        Err(e) => editor_fields(f.kept().failure(ctx.locale, "stem", e)?),
    };
    let x = Extras {
        form: Some(form),
        ..Extras::default()
    };
    item_page(&s, ctx, &actor, id, x).await
}

/// The editor's buttons that show the form again instead of saving it, everything as typed:
/// `preview`, `image` (add an image), `kc-add:<code>` (tick a suggested KC; nothing saved) and
/// `suggest-kcs` (queue the one-item KC suggestion run for the saved revision). The last two
/// exist only with a language model configured (404 otherwise, like every AI route).
async fn not_saving(
    s: &AppState,
    ctx: &PageContext,
    actor: &Actor,
    id: Uuid,
    f: &EditorForm,
    file: Option<FormFile>,
) -> Result<Option<Extras>, WebError> {
    let intent = f.one("intent");
    let form = match intent {
        "preview" => f.kept(),
        "image" => {
            let (form, p) = with_image(s, ctx, actor, f.clone(), file).await?;
            return Ok(Some(Extras {
                form: Some(form),
                preview: Some(p),
                ..Extras::default()
            }));
        }
        "suggest-kcs" => {
            let now = s.services.clock.now();
            let llm = s.services.llm.is_some();
            kcs::queue_for_item(&s.services.db, llm, actor, id, now).await?;
            f.kept().noticed(ctx.t("author-kcs-queued"))
        }
        _ => match intent.strip_prefix("kc-add:") {
            Some(code) => with_kc(s, actor, id, f, code).await?,
            None => return Ok(None),
        },
    };
    Ok(Some(Extras {
        form: Some(form),
        preview: Some(desk::preview(actor, &f.content())?),
        ..Extras::default()
    }))
}

/// The form with suggested KC `code` ticked (only a stored suggestion of the item).
async fn with_kc(
    s: &AppState,
    actor: &Actor,
    id: Uuid,
    f: &EditorForm,
    code: &str,
) -> Result<Form, WebError> {
    let llm = s.services.llm.is_some();
    let k = kcs::for_editor(&s.services.db, llm, actor, id).await?;
    if !k.suggestions.iter().any(|x| x.kc == code) {
        return Err(WebError::code(codes::NOT_FOUND));
    }
    let mut f = f.clone();
    if !f.0.iter().any(|(n, v)| n == "kcs" && v == code) {
        f.0.push(("kcs".to_owned(), code.to_owned()));
    }
    Ok(f.kept())
}

/// Stores the chosen image through the catalogue's image use case and appends its Markdown
/// reference (`![alt](/api/v1/media/…)`) to the stem; the editor comes back with everything as
/// typed, the reference shown and the preview (nothing is saved until the author saves). A
/// missing file or description, or a refused image, is shown next to the file input.
async fn with_image(
    s: &AppState,
    ctx: &PageContext,
    actor: &Actor,
    mut f: EditorForm,
    file: Option<FormFile>,
) -> Result<(Form, RenderedContent), WebError> {
    let alt = image_alt(f.one("image_alt"));
    let failed = |f: &EditorForm, id: &str| -> Result<(Form, RenderedContent), WebError> {
        let form = f.kept().with("image_alt", &alt).error("image", ctx.t(id));
        Ok((form, desk::preview(actor, &f.content())?))
    };
    let Some(file) = file.filter(|x| !x.bytes.is_empty()) else {
        return failed(&f, "author-image-error-none");
    };
    if alt.is_empty() {
        return failed(&f, "author-image-error-alt");
    }
    let (db, blobs) = (&s.services.db, s.services.blobs.as_ref());
    let now = s.services.clock.now();
    let v = match images::upload(db, blobs, actor, file.bytes, now).await {
        Ok(v) => v,
        Err(ImageError::UnsupportedType) => return failed(&f, "author-image-error-type"),
        Err(ImageError::TooLarge) => return failed(&f, "author-image-error-size"),
        Err(e) => return Err(e.into()),
    };
    let reference = format!("![{alt}]({})", v.url);
    let stem = format!("{}\n\n{reference}", f.one("stem").trim_end());
    f.set("stem", &stem);
    let form = f
        .kept()
        .with("image_ref", &reference)
        .noticed(ctx.t("author-image-added"));
    Ok((form, desk::preview(actor, &f.content())?))
}

/// An image description usable inside `![…]`: one line, without the brackets and backslashes
/// that would end or escape it.
fn image_alt(typed: &str) -> String {
    typed
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !matches!(c, '[' | ']' | '\\'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `POST /author/items/{id}/submit`: send the draft to review.
pub async fn submit(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, &format!("/author/items/{id}"));
    let now = s.services.clock.now();
    svc::transition(&s.services.db, &actor, id, Transition::Submit, None, now).await?;
    Ok(see_other(&format!("/author/items/{id}")))
}

/// `POST /author/items/{id}/withdraw`: back from review to draft (to change it before a
/// reviewer decides); `303` back.
pub async fn withdraw(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, &format!("/author/items/{id}"));
    let now = s.services.clock.now();
    svc::transition(&s.services.db, &actor, id, Transition::Withdraw, None, now).await?;
    Ok(see_other(&format!("/author/items/{id}")))
}

/// The comment form.
#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    body: String,
}

/// `POST /author/items/{id}/comments`: answer the reviewer.
pub async fn comment(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(c): PageForm<CommentForm>,
) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, &format!("/author/items/{id}"));
    let now = s.services.clock.now();
    let form = match svc::comment(&s.services.db, &actor, id, &c.body, now).await {
        Ok(_) => return Ok(see_other(&format!("/author/items/{id}#history"))),
        Err(e) => Form::new()
            .with("body", &c.body)
            .failure(ctx.locale, "body", e)?,
    };
    let extras = Extras {
        comment: form,
        ..Extras::default()
    };
    item_page(&s, ctx, &actor, id, extras).await
}

#[derive(Template)]
#[template(path = "author/preview.html")]
struct PreviewPart {
    ctx: PageContext,
    preview: Option<RenderedContent>,
}

/// `POST /author/preview`: the preview fragment the editor's htmx live preview swaps in.
pub async fn live_preview(ctx: PageContext, fields: PageFields) -> Result<Response, WebError> {
    let actor = author_or_return!(ctx, "/author");
    let preview = Some(desk::preview(&actor, &EditorForm(fields.pairs).content())?);
    Ok(render(&PreviewPart { ctx, preview })?.into_response())
}
