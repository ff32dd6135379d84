//! The catalogue admin pages (`CatalogueManage`: content and super admins):
//! `/admin/curriculum` (units, subjects and courses by year; add or rename a subject or a
//! course), `/admin/kc-trees` (a subject's KC tree; add, rename or move a node),
//! `/admin/blueprints` (a year's exam blueprint; save a new version with subject and KC
//! weights) and `/admin/institutions` (universities and faculties; add or edit them). Forms
//! are plain posts that work without JavaScript; an "edit" link fills the form with the row.
//! Every rule and the audit rows live in `myqcm_services::catalogue::manage` and
//! `curriculum`, like the JSON API's. Staff without two-step sign-in get the enrolment page;
//! everyone else without the power gets 403. Every response is `noindex` and
//! `Cache-Control: no-store, private`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_domain::catalogue::blueprint::{BlueprintWeights, KcWeight, SubjectWeight};
use myqcm_services::catalogue::CatalogueError;
use myqcm_services::catalogue::curriculum::{self, CurriculumView, KcNodeView, UniversityView};
use myqcm_services::catalogue::manage::{
    self, BlueprintDesk, CourseInput, FacultyInput, KcDesk, KcInput, NamesInput, SubjectInput,
};
use myqcm_services::catalogue::views::Names;
use serde::Deserialize;

use super::author::{staff_headers, staff_refusal as refusal};
use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::input::PageForm;
use crate::{AppState, WebError};

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/curriculum", get(curriculum_page))
        .route("/admin/curriculum/subjects", post(save_subject))
        .route("/admin/curriculum/courses", post(save_course))
        .route("/admin/kc-trees", get(kc_page).post(save_kc))
        .route("/admin/blueprints", get(blueprint_page))
        .route("/admin/blueprints/{year}", post(save_blueprint))
        .route("/admin/institutions", get(institutions_page))
        .route("/admin/institutions/universities", post(save_university))
        .route("/admin/institutions/faculties", post(save_faculty))
        .layer(axum::middleware::map_response(staff_headers))
}

/// A name in the page's language, else French, else any.
fn local_name(ctx: &PageContext, n: &Names) -> String {
    let pick = |l: &str| n.get(l).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    pick(ctx.lang())
        .or_else(|| pick("fr"))
        .or_else(|| {
            n.as_object()
                .and_then(|m| m.values().find_map(|v| v.as_str()))
        })
        .unwrap_or("")
        .to_owned()
}

/// A name in one language (the form's prefill).
fn name_in(n: &Names, lang: &str) -> String {
    n.get(lang)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned()
}

/// What a change came to: saved, the form again with what was typed, or a refusal page.
enum Outcome {
    Saved,
    Again(Box<Form>),
    Page(Result<Response, WebError>),
}

/// Maps a use case's answer; field errors are renamed to the form's inputs by `rename`.
fn outcome(
    ctx: &PageContext,
    kept: Form,
    done: Result<(), CatalogueError>,
    rename: impl Fn(&str) -> String,
) -> Outcome {
    match done {
        Ok(()) => Outcome::Saved,
        Err(e @ (CatalogueError::Forbidden | CatalogueError::MfaEnrolmentRequired)) => {
            Outcome::Page(refusal(ctx, e))
        }
        Err(e) => match kept.failure(ctx.locale, "", e) {
            Ok(mut form) => {
                for m in &mut form.errors {
                    if !m.field.is_empty() {
                        m.field = rename(&m.field);
                    }
                }
                Outcome::Again(Box::new(form))
            }
            Err(e) => Outcome::Page(Err(e)),
        },
    }
}

/// The notice after a redirect (`?done=saved`).
fn noticed(ctx: &PageContext, done: Option<&str>, form: Form) -> Form {
    if done == Some("saved") {
        form.noticed(ctx.t("admin-catalogue-saved"))
    } else {
        form
    }
}

/// Names typed in `{prefix}fr`, `{prefix}en`, `{prefix}ar`.
#[derive(Debug, Default, Deserialize)]
pub struct NamesForm {
    #[serde(default)]
    fr: String,
    #[serde(default)]
    en: String,
    #[serde(default)]
    ar: String,
}

impl NamesForm {
    fn input(&self) -> NamesInput {
        NamesInput {
            fr: self.fr.clone(),
            en: self.en.clone(),
            ar: self.ar.clone(),
        }
    }

    fn kept(&self, form: Form, prefix: &str) -> Form {
        form.with(&format!("{prefix}fr"), &self.fr)
            .with(&format!("{prefix}en"), &self.en)
            .with(&format!("{prefix}ar"), &self.ar)
    }
}

fn names_values(form: Form, prefix: &str, n: &Names) -> Form {
    form.with(&format!("{prefix}fr"), &name_in(n, "fr"))
        .with(&format!("{prefix}en"), &name_in(n, "en"))
        .with(&format!("{prefix}ar"), &name_in(n, "ar"))
}

// ---------------------------------------------------------------------------------------------
// Curriculum

#[derive(Template)]
#[template(path = "admin/curriculum.html")]
struct CurriculumPage {
    ctx: PageContext,
    tree: CurriculumView,
    form: Form,
}

impl CurriculumPage {
    fn name(&self, n: &Names) -> String {
        local_name(&self.ctx, n)
    }

    fn unit_code(&self, id: &Option<uuid::Uuid>) -> String {
        id.and_then(|id| self.tree.units.iter().find(|u| u.id == id))
            .map_or_else(String::new, |u| u.code.clone())
    }
}

/// `?subject=&course=` fill the forms with that row; `?done=saved` after a change.
#[derive(Debug, Default, Deserialize)]
pub struct CurriculumQuery {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    course: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// The forms filled with the rows named in the query.
fn curriculum_values(tree: &CurriculumView, q: &CurriculumQuery) -> Form {
    let mut form = Form::new();
    let subject = q
        .subject
        .as_deref()
        .and_then(|c| tree.subjects.iter().find(|x| x.code == c));
    if let Some(s) = subject {
        let unit = s
            .unit_id
            .and_then(|id| tree.units.iter().find(|u| u.id == id));
        form = form
            .with("s_code", &s.code)
            .with("s_year", &s.year_of_study.to_string())
            .with("s_unit", unit.map_or("", |u| u.code.as_str()));
        form = names_values(form, "s_", &s.names);
    }
    let course = q.course.as_deref().and_then(|c| {
        tree.subjects
            .iter()
            .find_map(|s| s.courses.iter().find(|x| x.code == c).map(|x| (s, x)))
    });
    if let Some((s, c)) = course {
        form = form.with("c_subject", &s.code).with("c_code", &c.code);
        form = names_values(form, "c_", &c.names);
    }
    form
}

async fn curriculum_with(
    s: &AppState,
    ctx: PageContext,
    q: &CurriculumQuery,
    form: Option<Form>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/curriculum"));
    };
    let tree = match manage::staff_curriculum(&s.services.db, &v.user.actor(), None).await {
        Ok(t) => t,
        Err(e) => return refusal(&ctx, e),
    };
    let form = form.unwrap_or_else(|| curriculum_values(&tree, q));
    let form = noticed(&ctx, q.done.as_deref(), form);
    let status = form.status();
    Ok(page(status, render(&CurriculumPage { ctx, tree, form })?))
}

/// `GET /admin/curriculum`: units, subjects and courses, and the forms to change them.
pub async fn curriculum_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<CurriculumQuery>,
) -> Result<Response, WebError> {
    curriculum_with(&s, ctx, &q, None).await
}

/// The subject form.
#[derive(Debug, Default, Deserialize)]
pub struct SubjectForm {
    #[serde(default)]
    s_code: String,
    #[serde(default)]
    s_year: String,
    #[serde(default)]
    s_unit: String,
    #[serde(default)]
    s_fr: String,
    #[serde(default)]
    s_en: String,
    #[serde(default)]
    s_ar: String,
}

impl SubjectForm {
    fn names(&self) -> NamesForm {
        NamesForm {
            fr: self.s_fr.clone(),
            en: self.s_en.clone(),
            ar: self.s_ar.clone(),
        }
    }

    fn kept(&self) -> Form {
        let form = Form::new()
            .with("s_code", &self.s_code)
            .with("s_year", &self.s_year)
            .with("s_unit", &self.s_unit);
        self.names().kept(form, "s_")
    }

    fn input(&self) -> SubjectInput {
        SubjectInput {
            code: self.s_code.trim().to_owned(),
            year: self.s_year.trim().parse().unwrap_or(0),
            unit: self.s_unit.trim().to_owned(),
            names: self.names().input(),
        }
    }
}

/// `POST /admin/curriculum/subjects`: adds a subject or renames the one with that code.
pub async fn save_subject(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<SubjectForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/curriculum"));
    };
    let (db, now) = (&s.services.db, s.services.clock.now());
    let done = manage::save_subject(db, &v.user.actor(), &f.input(), now).await;
    let rename = |field: &str| match field {
        "year_of_study" => "s_year".to_owned(),
        other => format!("s_{other}"),
    };
    match outcome(&ctx, f.kept(), done, rename) {
        Outcome::Saved => Ok(see_other("/admin/curriculum?done=saved")),
        Outcome::Again(form) => {
            curriculum_with(&s, ctx, &CurriculumQuery::default(), Some(*form)).await
        }
        Outcome::Page(r) => r,
    }
}

/// The course form.
#[derive(Debug, Default, Deserialize)]
pub struct CourseForm {
    #[serde(default)]
    c_subject: String,
    #[serde(default)]
    c_code: String,
    #[serde(default)]
    c_fr: String,
    #[serde(default)]
    c_en: String,
    #[serde(default)]
    c_ar: String,
}

impl CourseForm {
    fn names(&self) -> NamesForm {
        NamesForm {
            fr: self.c_fr.clone(),
            en: self.c_en.clone(),
            ar: self.c_ar.clone(),
        }
    }

    fn kept(&self) -> Form {
        let form = Form::new()
            .with("c_subject", &self.c_subject)
            .with("c_code", &self.c_code);
        self.names().kept(form, "c_")
    }

    fn input(&self) -> CourseInput {
        CourseInput {
            code: self.c_code.trim().to_owned(),
            subject: self.c_subject.trim().to_owned(),
            names: self.names().input(),
        }
    }
}

/// `POST /admin/curriculum/courses`: adds a course or renames the one with that code.
pub async fn save_course(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<CourseForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/curriculum"));
    };
    let (db, now) = (&s.services.db, s.services.clock.now());
    let done = manage::save_course(db, &v.user.actor(), &f.input(), now).await;
    match outcome(&ctx, f.kept(), done, |field| format!("c_{field}")) {
        Outcome::Saved => Ok(see_other("/admin/curriculum?done=saved")),
        Outcome::Again(form) => {
            curriculum_with(&s, ctx, &CurriculumQuery::default(), Some(*form)).await
        }
        Outcome::Page(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// KC trees

#[derive(Template)]
#[template(path = "admin/kc_trees.html")]
struct KcPage {
    ctx: PageContext,
    desk: KcDesk,
    form: Form,
}

impl KcPage {
    fn name(&self, n: &Names) -> String {
        local_name(&self.ctx, n)
    }

    fn subject_code(&self) -> &str {
        self.desk.subject.as_deref().unwrap_or("")
    }

    fn level_label(&self, level: &str) -> String {
        self.ctx.t(&format!("admin-kc-level-{level}"))
    }

    /// Nodes that may be a parent (domains and topics).
    fn parents(&self) -> Vec<&KcNodeView> {
        self.desk
            .nodes
            .iter()
            .map(|(_, n)| n)
            .filter(|n| n.level != "kc")
            .collect()
    }

    fn parent_code(&self, n: &KcNodeView) -> String {
        n.parent_id
            .and_then(|p| self.desk.nodes.iter().find(|(_, x)| x.id == p))
            .map_or_else(String::new, |(_, x)| x.code.clone())
    }

    fn edit_href(&self, n: &KcNodeView) -> String {
        format!(
            "/admin/kc-trees?subject={}&edit={}#kc-form",
            self.subject_code(),
            n.code
        )
    }
}

/// `?subject=&edit=&done=`.
#[derive(Debug, Default, Deserialize)]
pub struct KcQuery {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    edit: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

fn kc_values(desk: &KcDesk, edit: Option<&str>) -> Form {
    let found = edit.and_then(|c| desk.nodes.iter().find(|(_, n)| n.code == c));
    let Some((_, n)) = found else {
        return Form::new().with("k_level", "kc");
    };
    let parent = n
        .parent_id
        .and_then(|p| desk.nodes.iter().find(|(_, x)| x.id == p))
        .map_or("", |(_, x)| x.code.as_str());
    let form = Form::new()
        .with("k_code", &n.code)
        .with("k_level", &n.level)
        .with("k_parent", parent);
    names_values(form, "k_", &n.names)
}

async fn kc_with(
    s: &AppState,
    ctx: PageContext,
    q: &KcQuery,
    form: Option<Form>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/kc-trees"));
    };
    let subject = q.subject.as_deref();
    let desk = match manage::staff_kc_desk(&s.services.db, &v.user.actor(), subject).await {
        Ok(d) => d,
        Err(e) => return refusal(&ctx, e),
    };
    let form = form.unwrap_or_else(|| kc_values(&desk, q.edit.as_deref()));
    let form = noticed(&ctx, q.done.as_deref(), form);
    let status = form.status();
    Ok(page(status, render(&KcPage { ctx, desk, form })?))
}

/// `GET /admin/kc-trees`: a subject's KC tree and the form to change a node.
pub async fn kc_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<KcQuery>,
) -> Result<Response, WebError> {
    kc_with(&s, ctx, &q, None).await
}

/// The KC node form.
#[derive(Debug, Default, Deserialize)]
pub struct KcForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    k_code: String,
    #[serde(default)]
    k_level: String,
    #[serde(default)]
    k_parent: String,
    #[serde(default)]
    k_fr: String,
    #[serde(default)]
    k_en: String,
    #[serde(default)]
    k_ar: String,
}

impl KcForm {
    fn names(&self) -> NamesForm {
        NamesForm {
            fr: self.k_fr.clone(),
            en: self.k_en.clone(),
            ar: self.k_ar.clone(),
        }
    }

    fn kept(&self) -> Form {
        let form = Form::new()
            .with("k_code", &self.k_code)
            .with("k_level", &self.k_level)
            .with("k_parent", &self.k_parent);
        self.names().kept(form, "k_")
    }

    fn input(&self) -> KcInput {
        KcInput {
            subject: self.subject.trim().to_owned(),
            code: self.k_code.trim().to_owned(),
            level: self.k_level.trim().to_owned(),
            parent: self.k_parent.trim().to_owned(),
            names: self.names().input(),
        }
    }
}

/// `POST /admin/kc-trees`: adds a node, or renames / moves the one with that code.
pub async fn save_kc(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<KcForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/kc-trees"));
    };
    let (db, now) = (&s.services.db, s.services.clock.now());
    let done = manage::save_kc(db, &v.user.actor(), &f.input(), now).await;
    let subject: String = url::form_urlencoded::byte_serialize(f.subject.as_bytes()).collect();
    let rename = |field: &str| match field {
        "subject" => "k_code".to_owned(),
        other => format!("k_{other}"),
    };
    let q = KcQuery {
        subject: Some(f.subject.clone()),
        ..KcQuery::default()
    };
    match outcome(&ctx, f.kept(), done, rename) {
        Outcome::Saved => Ok(see_other(&format!(
            "/admin/kc-trees?subject={subject}&done=saved"
        ))),
        Outcome::Again(form) => kc_with(&s, ctx, &q, Some(*form)).await,
        Outcome::Page(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Blueprints

#[derive(Template)]
#[template(path = "admin/blueprints.html")]
struct BlueprintPage {
    ctx: PageContext,
    desk: BlueprintDesk,
    form: Form,
}

impl BlueprintPage {
    fn weight_field(&self, subject: &str) -> String {
        format!("w-{subject}")
    }

    fn kcs_field(&self, subject: &str) -> String {
        format!("kcs-{subject}")
    }

    fn percent(&self, w: &f64) -> String {
        format!("{:.1}", w * 100.0)
    }

    fn years(&self) -> std::ops::RangeInclusive<i32> {
        1..=7
    }
}

/// `?year=&done=`.
#[derive(Debug, Default, Deserialize)]
pub struct BlueprintQuery {
    #[serde(default)]
    year: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// The form filled with the current blueprint: one weight per subject and its KC weights,
/// one `code = weight` per line.
fn blueprint_values(desk: &BlueprintDesk) -> Form {
    let bp = &desk.blueprint;
    let mut form = Form::new().with("name", &bp.name);
    for (code, _) in &desk.subjects {
        let w = bp.weights.subjects.iter().find(|s| &s.subject == code);
        let weight = w.map_or_else(String::new, |w| format!("{}", w.weight));
        let kcs = w.map_or_else(String::new, |w| {
            w.kcs
                .iter()
                .map(|k| format!("{} = {}", k.kc, k.weight))
                .collect::<Vec<_>>()
                .join("\n")
        });
        form = form
            .with(&format!("w-{code}"), &weight)
            .with(&format!("kcs-{code}"), &kcs);
    }
    form
}

async fn blueprint_with(
    s: &AppState,
    ctx: PageContext,
    year: Option<i32>,
    form: Option<Form>,
    done: Option<&str>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/blueprints"));
    };
    let desk = match manage::staff_blueprint(&s.services.db, &v.user.actor(), year).await {
        Ok(d) => d,
        Err(e) => return refusal(&ctx, e),
    };
    let form = form.unwrap_or_else(|| blueprint_values(&desk));
    let form = noticed(&ctx, done, form);
    let status = form.status();
    Ok(page(status, render(&BlueprintPage { ctx, desk, form })?))
}

/// `GET /admin/blueprints?year=`: the year's current blueprint and the form for a new version
/// (the first year with subjects when none is asked for).
pub async fn blueprint_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<BlueprintQuery>,
) -> Result<Response, WebError> {
    let year = q.year.as_deref().and_then(|y| y.trim().parse().ok());
    blueprint_with(&s, ctx, year, None, q.done.as_deref()).await
}

/// The blueprint form as typed: the fields in order (`name`, `w-<subject>`, `kcs-<subject>`).
type BlueprintFields = Vec<(String, String)>;

/// The weights typed, or the first field that does not read as numbers.
fn parse_weights(fields: &BlueprintFields) -> Result<BlueprintWeights, String> {
    let mut subjects = Vec::new();
    for (k, v) in fields {
        let Some(code) = k.strip_prefix("w-") else {
            continue;
        };
        if v.trim().is_empty() {
            continue;
        }
        let weight = v.trim().replace(',', ".").parse().map_err(|_| k.clone())?;
        let lines = fields
            .iter()
            .find(|(n, _)| n.strip_prefix("kcs-") == Some(code))
            .map_or("", |(_, t)| t.as_str());
        let mut kcs = Vec::new();
        for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let bad = || format!("kcs-{code}");
            let (kc, w) = line.split_once('=').ok_or_else(bad)?;
            let weight = w.trim().replace(',', ".").parse().map_err(|_| bad())?;
            kcs.push(KcWeight {
                kc: kc.trim().to_owned(),
                weight,
            });
        }
        subjects.push(SubjectWeight {
            subject: code.to_owned(),
            weight,
            kcs,
        });
    }
    Ok(BlueprintWeights { subjects })
}

/// A service error's field (`subjects[2].kcs[0].kc`) as the form's input (`kcs-<subject>`).
fn blueprint_field(w: &BlueprintWeights, field: &str) -> String {
    let first = w
        .subjects
        .first()
        .map_or("name".to_owned(), |s| format!("w-{}", s.subject));
    let Some(rest) = field.strip_prefix("subjects[") else {
        return if field == "subjects" {
            first
        } else {
            field.to_owned()
        };
    };
    let (i, tail) = rest.split_once(']').unwrap_or((rest, ""));
    let code = i.parse::<usize>().ok().and_then(|i| w.subjects.get(i));
    match code {
        Some(s) if tail.starts_with(".kcs") => format!("kcs-{}", s.subject),
        Some(s) => format!("w-{}", s.subject),
        None => first,
    }
}

/// The blueprint form's values to show again, and the name typed.
fn typed(f: &BlueprintFields) -> (Form, &str) {
    let kept = f.iter().fold(Form::new(), |form, (k, v)| form.with(k, v));
    let name = f.iter().find(|(k, _)| k == "name");
    (kept, name.map_or("", |(_, v)| v.as_str()))
}

/// `POST /admin/blueprints/{year}`: stores a new version (earlier versions are kept).
pub async fn save_blueprint(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(year): Path<i32>,
    PageForm(f): PageForm<BlueprintFields>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/blueprints"));
    };
    let (kept, name) = typed(&f);
    let weights = match parse_weights(&f) {
        Ok(w) => w,
        Err(field) => {
            let form = kept.error(&field, ctx.t("admin-blueprint-error-number"));
            return blueprint_with(&s, ctx, Some(year), Some(form), None).await;
        }
    };
    let (db, now, actor) = (&s.services.db, s.services.clock.now(), v.user.actor());
    let done = curriculum::put_blueprint(db, Some(&actor), year, None, name, &weights, now).await;
    let done = done.map(|_| ());
    match outcome(&ctx, kept, done, |field| blueprint_field(&weights, field)) {
        Outcome::Saved => Ok(see_other(&format!(
            "/admin/blueprints?year={year}&done=saved"
        ))),
        Outcome::Again(form) => blueprint_with(&s, ctx, Some(year), Some(*form), None).await,
        Outcome::Page(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Institutions

#[derive(Template)]
#[template(path = "admin/institutions.html")]
struct InstitutionsPage {
    ctx: PageContext,
    list: Vec<UniversityView>,
    form: Form,
}

impl InstitutionsPage {
    fn fields(&self) -> [&'static str; 3] {
        ["general_medicine", "dentistry", "pharmacy"]
    }

    fn field_label(&self, f: &str) -> String {
        self.ctx.t(&format!("admin-institutions-field-{f}"))
    }
}

/// `?university=&faculty=` fill the forms with that row; `?done=saved` after a change.
#[derive(Debug, Default, Deserialize)]
pub struct InstitutionsQuery {
    #[serde(default)]
    university: Option<String>,
    #[serde(default)]
    faculty: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

fn institution_values(list: &[UniversityView], q: &InstitutionsQuery) -> Form {
    let mut form = Form::new().with("f_field", "general_medicine");
    if let Some(u) = list.iter().find(|u| Some(&u.code) == q.university.as_ref()) {
        form = form.with("u_code", &u.code).with("u_name", &u.name);
    }
    let faculty = list.iter().find_map(|u| {
        u.faculties
            .iter()
            .find(|f| Some(&f.code) == q.faculty.as_ref())
            .map(|f| (u, f))
    });
    if let Some((u, f)) = faculty {
        form = Form::new()
            .with("u_code", form.val("u_code"))
            .with("u_name", form.val("u_name"))
            .with("f_university", &u.code)
            .with("f_code", &f.code)
            .with("f_name", &f.name)
            .with("f_field", &f.field);
    }
    form
}

async fn institutions_with(
    s: &AppState,
    ctx: PageContext,
    q: &InstitutionsQuery,
    form: Option<Form>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/institutions"));
    };
    let list = match manage::staff_institutions(&s.services.db, &v.user.actor()).await {
        Ok(l) => l,
        Err(e) => return refusal(&ctx, e),
    };
    let form = form.unwrap_or_else(|| institution_values(&list, q));
    let form = noticed(&ctx, q.done.as_deref(), form);
    let status = form.status();
    Ok(page(status, render(&InstitutionsPage { ctx, list, form })?))
}

/// `GET /admin/institutions`: universities with their faculties, and the forms to change them.
pub async fn institutions_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<InstitutionsQuery>,
) -> Result<Response, WebError> {
    institutions_with(&s, ctx, &q, None).await
}

/// The university form.
#[derive(Debug, Default, Deserialize)]
pub struct UniversityForm {
    #[serde(default)]
    u_code: String,
    #[serde(default)]
    u_name: String,
}

/// `POST /admin/institutions/universities`: adds a university or renames the one with that
/// code.
pub async fn save_university(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<UniversityForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/institutions"));
    };
    let (db, now, code) = (&s.services.db, s.services.clock.now(), f.u_code.trim());
    let done = manage::save_university(db, &v.user.actor(), code, &f.u_name, now).await;
    let kept = Form::new()
        .with("u_code", &f.u_code)
        .with("u_name", &f.u_name)
        .with("f_field", "general_medicine");
    match outcome(&ctx, kept, done, |field| format!("u_{field}")) {
        Outcome::Saved => Ok(see_other("/admin/institutions?done=saved")),
        Outcome::Again(form) => {
            let q = InstitutionsQuery::default();
            institutions_with(&s, ctx, &q, Some(*form)).await
        }
        Outcome::Page(r) => r,
    }
}

/// The faculty form.
#[derive(Debug, Default, Deserialize)]
pub struct FacultyForm {
    #[serde(default)]
    f_university: String,
    #[serde(default)]
    f_code: String,
    #[serde(default)]
    f_name: String,
    #[serde(default)]
    f_field: String,
}

impl FacultyForm {
    fn kept(&self) -> Form {
        Form::new()
            .with("f_university", &self.f_university)
            .with("f_code", &self.f_code)
            .with("f_name", &self.f_name)
            .with("f_field", &self.f_field)
    }

    fn input(&self) -> FacultyInput {
        FacultyInput {
            university: self.f_university.trim().to_owned(),
            code: self.f_code.trim().to_owned(),
            name: self.f_name.clone(),
            field: self.f_field.trim().to_owned(),
        }
    }
}

/// `POST /admin/institutions/faculties`: adds a faculty or edits the one with that code.
pub async fn save_faculty(
    State(s): State<AppState>,
    ctx: PageContext,
    PageForm(f): PageForm<FacultyForm>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/institutions"));
    };
    let (db, now) = (&s.services.db, s.services.clock.now());
    let done = manage::save_faculty(db, &v.user.actor(), &f.input(), now).await;
    match outcome(&ctx, f.kept(), done, |field| format!("f_{field}")) {
        Outcome::Saved => Ok(see_other("/admin/institutions?done=saved")),
        Outcome::Again(form) => {
            let q = InstitutionsQuery::default();
            institutions_with(&s, ctx, &q, Some(*form)).await
        }
        Outcome::Page(r) => r,
    }
}
