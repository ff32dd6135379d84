//! The catalogue admin console's use cases (`CatalogueManage`: content and super admins,
//! enrolled in TOTP): staff reads of the curriculum, a subject's KC tree, a year's blueprint
//! and the institutions, and one-node changes — add or rename a subject or a course, add,
//! rename or move a KC-tree node, add or edit a university or a faculty. A code names the
//! node: saving an existing code renames (or moves) it. Every change is one transaction with
//! its audit row (`catalogue.<what>_saved`, the acting account, the code as target).

use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::catalogue as repo;
use myqcm_domain::catalogue::ContentError;
use myqcm_domain::catalogue::curriculum::{check_code, check_subject_placement};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use sea_orm::DatabaseTransaction;

use super::curriculum::{
    self, BlueprintView, CurriculumView, KcNodeView, SubjectView, UniversityView,
};
use super::{CatalogueError, Result};
use crate::identity::audit;

/// The console's gate: enrolled in TOTP and `CatalogueManage`.
pub fn require_manage(actor: &Actor) -> Result<()> {
    super::staff_gate(actor)?;
    if actor.can(Action::CatalogueManage) {
        Ok(())
    } else {
        Err(CatalogueError::Forbidden)
    }
}

/// The curriculum as the console shows it (optionally one year).
pub async fn staff_curriculum(
    db: &DatabaseConnection,
    actor: &Actor,
    year: Option<i32>,
) -> Result<CurriculumView> {
    require_manage(actor)?;
    curriculum::tree(db, year).await
}

/// The KC-tree page: every subject (the picker) and the chosen subject's tree.
#[derive(Debug, Clone)]
pub struct KcDesk {
    /// Every subject, by year then code.
    pub subjects: Vec<SubjectView>,
    /// The subject shown (the first one when none or an unknown one was asked for).
    pub subject: Option<String>,
    /// Its tree in depth-first order, each node with its depth (0 = domain).
    pub nodes: Vec<(usize, KcNodeView)>,
}

/// A subject's KC tree as the console shows it, with the subject picker.
pub async fn staff_kc_desk(
    db: &DatabaseConnection,
    actor: &Actor,
    subject: Option<&str>,
) -> Result<KcDesk> {
    require_manage(actor)?;
    let subjects = curriculum::tree(db, None).await?.subjects;
    let subject = subject
        .filter(|c| subjects.iter().any(|s| s.code == *c))
        .or_else(|| subjects.first().map(|s| s.code.as_str()))
        .map(str::to_owned);
    let flat = match &subject {
        Some(code) => curriculum::kc_tree(db, code).await?,
        None => Vec::new(),
    };
    let mut nodes = Vec::with_capacity(flat.len());
    let mut stack: Vec<(usize, Option<uuid::Uuid>)> = vec![(0, None)];
    // Depth-first in sort order; a node whose parent is missing is shown at the top.
    let known: std::collections::HashSet<_> = flat.iter().map(|n| n.id).collect();
    while let Some((depth, parent)) = stack.pop() {
        if nodes.len() > flat.len() {
            break; // a cycle in stored data: show what was reached
        }
        let children: Vec<&KcNodeView> = flat
            .iter()
            .filter(|n| match parent {
                None => n.parent_id.is_none_or(|p| !known.contains(&p)),
                Some(p) => n.parent_id == Some(p),
            })
            .collect();
        if let Some(pid) = parent
            && let Some(n) = flat.iter().find(|n| n.id == pid)
        {
            nodes.push((depth.saturating_sub(1), n.clone()));
        }
        for c in children.into_iter().rev() {
            stack.push((depth + 1, Some(c.id)));
        }
    }
    Ok(KcDesk {
        subjects,
        subject,
        nodes,
    })
}

/// A year's blueprint with the year's subjects and their KCs (the edit form's rows).
#[derive(Debug, Clone)]
pub struct BlueprintDesk {
    /// The current blueprint (uniform when none is stored).
    pub blueprint: BlueprintView,
    /// The year's subjects, each with its KC codes (level `kc`).
    pub subjects: Vec<(String, Vec<String>)>,
}

/// The national blueprint of `year` (else of the first year with subjects) and what it may
/// weight.
pub async fn staff_blueprint(
    db: &DatabaseConnection,
    actor: &Actor,
    year: Option<i32>,
) -> Result<BlueprintDesk> {
    require_manage(actor)?;
    let year = match year {
        Some(y) => y,
        None => curriculum::tree(db, None)
            .await?
            .subjects
            .iter()
            .map(|s| s.year_of_study)
            .min()
            .unwrap_or(1),
    };
    let blueprint = curriculum::blueprint(db, year, None).await?;
    let mut subjects = Vec::new();
    for s in repo::subjects_of_year(db, year).await? {
        let kcs = repo::kc_tree(db, s.id)
            .await?
            .into_iter()
            .filter(|n| n.level == "kc")
            .map(|n| n.code)
            .collect();
        subjects.push((s.code, kcs));
    }
    Ok(BlueprintDesk {
        blueprint,
        subjects,
    })
}

/// The institutions as the console shows them.
pub async fn staff_institutions(
    db: &DatabaseConnection,
    actor: &Actor,
) -> Result<Vec<UniversityView>> {
    require_manage(actor)?;
    curriculum::institutions(db).await
}

/// Names in fr/en/ar (French required; empty ones left out).
#[derive(Debug, Clone, Default)]
pub struct NamesInput {
    /// French.
    pub fr: String,
    /// English.
    pub en: String,
    /// Arabic.
    pub ar: String,
}

impl NamesInput {
    fn check(&self, errs: &mut Vec<ContentError>) {
        for (field, v) in [("fr", &self.fr), ("en", &self.en), ("ar", &self.ar)] {
            if v.trim().chars().count() > 200 || myqcm_domain::text::has_disallowed(v) {
                errs.push(ContentError::new(
                    field,
                    "too_long",
                    "At most 200 characters.",
                ));
            }
        }
        if self.fr.trim().is_empty() {
            errs.push(ContentError::new("fr", "required", "A French name."));
        }
    }

    fn json(&self) -> String {
        let mut m = serde_json::Map::new();
        for (k, v) in [("fr", &self.fr), ("en", &self.en), ("ar", &self.ar)] {
            if !v.trim().is_empty() {
                m.insert(k.into(), v.trim().into());
            }
        }
        serde_json::Value::Object(m).to_string()
    }
}

fn invalid(field: &str, code: &'static str, message: &str) -> CatalogueError {
    CatalogueError::Invalid(vec![ContentError::new(field, code, message)])
}

fn done(errs: Vec<ContentError>) -> Result<()> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CatalogueError::Invalid(errs))
    }
}

async fn log(
    txn: DatabaseTransaction,
    actor: &Actor,
    action: &'static str,
    target: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let ev = audit::Event::new(action)
        .actor(actor.id)
        .target(target)
        .detail(detail);
    audit::record_at(&txn, now, ev).await?;
    txn.commit().await?;
    Ok(())
}

/// A subject to add or rename.
#[derive(Debug, Clone, Default)]
pub struct SubjectInput {
    /// Code (an existing one is renamed).
    pub code: String,
    /// Year of study (1–7).
    pub year: i32,
    /// Unit code (required after year 1; must exist).
    pub unit: String,
    /// Names.
    pub names: NamesInput,
}

/// Adds a subject or renames (and re-places) the one with that code.
pub async fn save_subject(
    db: &DatabaseConnection,
    actor: &Actor,
    s: &SubjectInput,
    now: DateTime<Utc>,
) -> Result<()> {
    require_manage(actor)?;
    let mut errs = Vec::new();
    if let Err(e) = check_code("code", &s.code) {
        errs.push(e);
    }
    s.names.check(&mut errs);
    let unit = match s.unit.trim() {
        "" => None,
        code => match repo::unit_by_code(db, code).await? {
            Some(u) if u.year_of_study == s.year => Some(u.id),
            _ => {
                errs.push(ContentError::new(
                    "unit",
                    "unknown",
                    "Not a unit of that year.",
                ));
                None
            }
        },
    };
    if errs.is_empty()
        && let Err(e) = check_subject_placement(s.year, unit.is_some())
    {
        errs.push(e);
    }
    done(errs)?;
    let txn = repo::begin_write(db).await?;
    repo::upsert_subject(&txn, &s.code, s.year, unit, &s.names.json()).await?;
    let detail = serde_json::json!({ "year_of_study": s.year, "unit": s.unit.trim() });
    log(txn, actor, "catalogue.subject_saved", &s.code, detail, now).await
}

/// A course to add or rename.
#[derive(Debug, Clone, Default)]
pub struct CourseInput {
    /// Code (an existing one is renamed, or moved to `subject`).
    pub code: String,
    /// Subject code.
    pub subject: String,
    /// Names.
    pub names: NamesInput,
}

/// Adds a course or renames the one with that code.
pub async fn save_course(
    db: &DatabaseConnection,
    actor: &Actor,
    c: &CourseInput,
    now: DateTime<Utc>,
) -> Result<()> {
    require_manage(actor)?;
    let mut errs = Vec::new();
    if let Err(e) = check_code("code", &c.code) {
        errs.push(e);
    }
    c.names.check(&mut errs);
    let subject = repo::subject_by_code(db, c.subject.trim()).await?;
    if subject.is_none() {
        errs.push(ContentError::new("subject", "unknown", "Not a subject."));
    }
    done(errs)?;
    let subject = subject.ok_or(CatalogueError::NotFound)?;
    let txn = repo::begin_write(db).await?;
    repo::upsert_course(&txn, &c.code, subject.id, &c.names.json()).await?;
    let detail = serde_json::json!({ "subject": subject.code });
    log(txn, actor, "catalogue.course_saved", &c.code, detail, now).await
}

/// A KC-tree node to add, rename or move.
#[derive(Debug, Clone, Default)]
pub struct KcInput {
    /// Subject code.
    pub subject: String,
    /// Code (an existing one is renamed and moved under `parent`).
    pub code: String,
    /// `domain`, `topic` or `kc`.
    pub level: String,
    /// Parent code: none for a domain, a domain for a topic, a topic for a KC.
    pub parent: String,
    /// Names.
    pub names: NamesInput,
}

/// Adds a KC-tree node, or renames / moves the one with that code (within its subject; the
/// level must fit the parent: domain → topic → kc). A new node goes last.
pub async fn save_kc(
    db: &DatabaseConnection,
    actor: &Actor,
    k: &KcInput,
    now: DateTime<Utc>,
) -> Result<()> {
    require_manage(actor)?;
    let subject = repo::subject_by_code(db, k.subject.trim())
        .await?
        .ok_or_else(|| invalid("subject", "unknown", "Not a subject."))?;
    let tree = repo::kc_tree(db, subject.id).await?;
    let mut errs = Vec::new();
    if let Err(e) = check_code("code", &k.code) {
        errs.push(e);
    }
    k.names.check(&mut errs);
    let parent_level = match k.level.as_str() {
        "domain" => None,
        "topic" => Some("domain"),
        "kc" => Some("topic"),
        _ => {
            errs.push(ContentError::new(
                "level",
                "unknown",
                "domain, topic or kc.",
            ));
            None
        }
    };
    let parent = match (parent_level, k.parent.trim()) {
        (None, _) => None,
        (Some(want), code) => match tree.iter().find(|n| n.code == code) {
            Some(p) if p.level == want && p.code != k.code => Some(p.id),
            _ => {
                errs.push(ContentError::new(
                    "parent",
                    "unknown",
                    "Not a node of this subject one level up.",
                ));
                None
            }
        },
    };
    let existing = repo::kc_by_code(db, &k.code).await?;
    if let Some(n) = &existing {
        if n.subject_id != subject.id {
            errs.push(ContentError::new(
                "code",
                "taken",
                "Code used in another subject.",
            ));
        } else if n.level != k.level && tree.iter().any(|c| c.parent_id == Some(n.id)) {
            errs.push(ContentError::new(
                "level",
                "has_children",
                "The node has children.",
            ));
        }
    }
    done(errs)?;
    let order = match &existing {
        Some(n) => n.sort_order,
        None => tree.iter().map(|n| n.sort_order).max().unwrap_or(0) + 1,
    };
    let txn = repo::begin_write(db).await?;
    let names = k.names.json();
    repo::upsert_kc(&txn, &k.code, subject.id, parent, &k.level, &names, order).await?;
    let detail = serde_json::json!({
        "subject": subject.code,
        "level": k.level,
        "parent": k.parent.trim(),
        "created": existing.is_none(),
    });
    log(txn, actor, "catalogue.kc_saved", &k.code, detail, now).await
}

/// Adds a university or renames the one with that code.
pub async fn save_university(
    db: &DatabaseConnection,
    actor: &Actor,
    code: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    require_manage(actor)?;
    let mut errs = Vec::new();
    if let Err(e) = check_code("code", code) {
        errs.push(e);
    }
    check_name("name", name, &mut errs);
    done(errs)?;
    let txn = repo::begin_write(db).await?;
    repo::save_university(&txn, code, name.trim()).await?;
    let detail = serde_json::json!({ "name": name.trim() });
    log(txn, actor, "catalogue.university_saved", code, detail, now).await
}

fn check_name(field: &str, name: &str, errs: &mut Vec<ContentError>) {
    let n = name.trim();
    if n.is_empty() {
        errs.push(ContentError::new(field, "required", "A name."));
    } else if n.chars().count() > 200 || myqcm_domain::text::has_disallowed(n) {
        errs.push(ContentError::new(
            field,
            "too_long",
            "At most 200 characters.",
        ));
    }
}

/// A faculty to add or edit.
#[derive(Debug, Clone, Default)]
pub struct FacultyInput {
    /// University code (must exist).
    pub university: String,
    /// Code (an existing one is edited).
    pub code: String,
    /// Name.
    pub name: String,
    /// `general_medicine`, `dentistry` or `pharmacy`.
    pub field: String,
}

/// Adds a faculty or edits the name, field and university of the one with that code.
pub async fn save_faculty(
    db: &DatabaseConnection,
    actor: &Actor,
    f: &FacultyInput,
    now: DateTime<Utc>,
) -> Result<()> {
    require_manage(actor)?;
    let mut errs = Vec::new();
    if let Err(e) = check_code("code", &f.code) {
        errs.push(e);
    }
    check_name("name", &f.name, &mut errs);
    if !["general_medicine", "dentistry", "pharmacy"].contains(&f.field.as_str()) {
        errs.push(ContentError::new(
            "field",
            "unknown",
            "general_medicine, dentistry or pharmacy.",
        ));
    }
    let uni = repo::university_by_code(db, f.university.trim()).await?;
    if uni.is_none() {
        errs.push(ContentError::new(
            "university",
            "unknown",
            "Not a university.",
        ));
    }
    done(errs)?;
    let uni = uni.ok_or(CatalogueError::NotFound)?;
    let txn = repo::begin_write(db).await?;
    repo::save_faculty(&txn, &f.code, uni.id, f.name.trim(), &f.field).await?;
    let detail = serde_json::json!({ "university": uni.code, "field": f.field });
    log(txn, actor, "catalogue.faculty_saved", &f.code, detail, now).await
}
