//! Curriculum reads (year → unit → subject → course), KC trees and exam blueprints (versioned;
//! uniform over the year's subjects when none is stored). Every change is audit-logged with
//! the acting account.

use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::catalogue as repo;
use myqcm_domain::catalogue::ContentError;
use myqcm_domain::catalogue::blueprint::BlueprintWeights;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use serde::Serialize;
use uuid::Uuid;

use super::views::Names;
use super::{CatalogueError, Result};
use crate::identity::audit;

/// A course.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CourseView {
    /// Id.
    pub id: Uuid,
    /// Code.
    pub code: String,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: Names,
}

/// A subject with its courses.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectView {
    /// Id.
    pub id: Uuid,
    /// Code.
    pub code: String,
    /// Year of study.
    pub year_of_study: i32,
    /// Unit (optional in year 1).
    pub unit_id: Option<Uuid>,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: Names,
    /// Courses.
    pub courses: Vec<CourseView>,
}

/// A unit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitView {
    /// Id.
    pub id: Uuid,
    /// Code.
    pub code: String,
    /// Year of study.
    pub year_of_study: i32,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: Names,
}

/// The curriculum.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CurriculumView {
    /// Units.
    pub units: Vec<UnitView>,
    /// Subjects with their courses.
    pub subjects: Vec<SubjectView>,
}

fn names(s: &str) -> Names {
    serde_json::from_str(s).unwrap_or(serde_json::Value::Null)
}

/// The whole curriculum, optionally for one year.
pub async fn tree(db: &DatabaseConnection, year: Option<i32>) -> Result<CurriculumView> {
    let (units, subjects, courses) = repo::curriculum(db).await?;
    Ok(CurriculumView {
        units: units
            .into_iter()
            .filter(|u| year.is_none_or(|y| u.year_of_study == y))
            .map(|u| UnitView {
                id: u.id,
                code: u.code,
                year_of_study: u.year_of_study,
                names: names(&u.names),
            })
            .collect(),
        subjects: subjects
            .into_iter()
            .filter(|s| year.is_none_or(|y| s.year_of_study == y))
            .map(|s| SubjectView {
                courses: courses
                    .iter()
                    .filter(|c| c.subject_id == s.id)
                    .map(|c| CourseView {
                        id: c.id,
                        code: c.code.clone(),
                        names: names(&c.names),
                    })
                    .collect(),
                id: s.id,
                code: s.code,
                year_of_study: s.year_of_study,
                unit_id: s.unit_id,
                names: names(&s.names),
            })
            .collect(),
    })
}

/// A KC-tree node.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KcNodeView {
    /// Id.
    pub id: Uuid,
    /// Code.
    pub code: String,
    /// `domain`, `topic` or `kc`.
    pub level: String,
    /// Parent node.
    pub parent_id: Option<Uuid>,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: Names,
}

/// The KC tree of a subject (flat; `parent_id` gives the shape).
pub async fn kc_tree(db: &DatabaseConnection, subject_code: &str) -> Result<Vec<KcNodeView>> {
    let s = repo::subject_by_code(db, subject_code)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    Ok(repo::kc_tree(db, s.id)
        .await?
        .into_iter()
        .map(|n| KcNodeView {
            id: n.id,
            code: n.code,
            level: n.level,
            parent_id: n.parent_id,
            names: names(&n.names),
        })
        .collect())
}

/// A blueprint version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BlueprintView {
    /// Year of study.
    pub year_of_study: i32,
    /// Faculty, when specific.
    pub faculty_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Version (0 = the implicit uniform default).
    pub version: i32,
    /// Weights.
    #[schema(value_type = Object)]
    pub weights: BlueprintWeights,
}

/// The current blueprint for a year (faculty-specific first, then national, then uniform).
pub async fn blueprint(
    db: &DatabaseConnection,
    year: i32,
    faculty: Option<Uuid>,
) -> Result<BlueprintView> {
    let mut found = None;
    if faculty.is_some() {
        found = repo::current_blueprint(db, year, faculty).await?;
    }
    if found.is_none() {
        found = repo::current_blueprint(db, year, None).await?;
    }
    if let Some(b) = found {
        let weights = serde_json::from_str(&b.weights)
            .map_err(|e| CatalogueError::Store(myqcm_db::DbError::Backend(e.to_string())))?;
        return Ok(BlueprintView {
            year_of_study: b.year_of_study,
            faculty_id: b.faculty_id,
            name: b.name,
            version: b.version,
            weights,
        });
    }
    let subjects: Vec<String> = repo::subjects_of_year(db, year)
        .await?
        .into_iter()
        .map(|s| s.code)
        .collect();
    Ok(BlueprintView {
        year_of_study: year,
        faculty_id: None,
        name: "Uniform".into(),
        version: 0,
        weights: BlueprintWeights::uniform(&subjects),
    })
}

/// Stores a new blueprint version after checking weights, subjects (of that year) and KCs.
pub async fn put_blueprint(
    db: &DatabaseConnection,
    actor: Option<&Actor>,
    year: i32,
    faculty: Option<Uuid>,
    name: &str,
    weights: &BlueprintWeights,
    now: DateTime<Utc>,
) -> Result<BlueprintView> {
    if let Some(a) = actor {
        super::staff_gate(a)?;
        if !a.can(Action::CatalogueManage) {
            return Err(CatalogueError::Forbidden);
        }
    }
    let mut errs = weights.validate().err().unwrap_or_default();
    if name.trim().is_empty() || name.chars().count() > 200 {
        errs.push(ContentError::new(
            "name",
            "required",
            "A name of 1 to 200 characters.",
        ));
    }
    // Unknown subjects and KCs are reported with the weights' own errors, all at once.
    for (i, s) in weights.subjects.iter().enumerate() {
        match repo::subject_by_code(db, &s.subject).await? {
            Some(subj) if subj.year_of_study == year => {
                for (j, k) in s.kcs.iter().enumerate() {
                    if repo::kc_by_code(db, &k.kc)
                        .await?
                        .is_none_or(|n| n.subject_id != subj.id)
                    {
                        errs.push(ContentError::new(
                            format!("subjects[{i}].kcs[{j}].kc"),
                            "unknown",
                            format!("{} is not a KC of {}.", k.kc, s.subject),
                        ));
                    }
                }
            }
            _ => errs.push(ContentError::new(
                format!("subjects[{i}].subject"),
                "unknown",
                format!("{} is not a subject of year {year}.", s.subject),
            )),
        }
    }
    if !errs.is_empty() {
        return Err(CatalogueError::Invalid(errs));
    }
    let json = serde_json::to_string(weights).unwrap_or_default();
    let txn = repo::begin_write(db).await?;
    let b =
        repo::insert_blueprint(&txn, year, faculty, name, &json, actor.map(|a| a.id), now).await?;
    let mut ev = audit::Event::new("catalogue.blueprint_saved")
        .target(format!("blueprint:{year}"))
        .detail(serde_json::json!({
            "version": b.version,
            "faculty": faculty,
            "subjects": weights.subjects.len(),
        }));
    if let Some(a) = actor {
        ev = ev.actor(a.id);
    }
    audit::record_at(&txn, now, ev).await?;
    txn.commit().await?;
    Ok(BlueprintView {
        year_of_study: b.year_of_study,
        faculty_id: b.faculty_id,
        name: b.name,
        version: b.version,
        weights: weights.clone(),
    })
}

/// A faculty (scopes users, cohorts and item sources).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FacultyView {
    /// Code (used in item source tags).
    pub code: String,
    /// Name.
    pub name: String,
    /// `general_medicine`, `dentistry`, `pharmacy`.
    pub field: String,
}

/// A university and its faculties.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UniversityView {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Faculties.
    #[serde(default)]
    pub faculties: Vec<FacultyView>,
}

/// Universities with their faculties.
pub async fn institutions(db: &DatabaseConnection) -> Result<Vec<UniversityView>> {
    let (unis, facs) = repo::list_institutions(db).await?;
    Ok(unis
        .into_iter()
        .map(|u| UniversityView {
            faculties: facs
                .iter()
                .filter(|f| f.university_id == u.id)
                .map(|f| FacultyView {
                    code: f.code.clone(),
                    name: f.name.clone(),
                    field: f.field.clone(),
                })
                .collect(),
            code: u.code,
            name: u.name,
        })
        .collect())
}

/// A faculty offered by the pickers, named in the page's language.
#[derive(Debug, Clone)]
pub struct FacultyChoice {
    /// Id (matches a profile's `faculty_id`).
    pub id: Uuid,
    /// Code (the form value).
    pub code: String,
    /// Name.
    pub name: String,
}

/// A university and its faculties, named in the page's language.
#[derive(Debug, Clone)]
pub struct UniversityChoice {
    /// Name.
    pub name: String,
    /// Faculties.
    pub faculties: Vec<FacultyChoice>,
}

/// Universities with their faculties for a picker in language `lang`: names from the
/// reference list when it has the code, else the stored name; sorted by name.
pub async fn institution_choices(
    db: &DatabaseConnection,
    lang: &str,
) -> Result<Vec<UniversityChoice>> {
    let (unis, facs) = repo::list_institutions(db).await?;
    let name = |code: &str, stored: &str| {
        repo::reference::names_of(code)
            .map_or_else(|| stored.to_owned(), |n| n.get(lang).to_owned())
    };
    let mut out: Vec<UniversityChoice> = unis
        .iter()
        .map(|u| {
            let mut faculties: Vec<FacultyChoice> = facs
                .iter()
                .filter(|f| f.university_id == u.id)
                .map(|f| FacultyChoice {
                    id: f.id,
                    code: f.code.clone(),
                    name: name(&f.code, &f.name),
                })
                .collect();
            faculties.sort_by(|a, b| a.name.cmp(&b.name));
            UniversityChoice {
                name: name(&u.code, &u.name),
                faculties,
            }
        })
        .filter(|u| !u.faculties.is_empty())
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Adds universities and faculties (existing codes are kept as they are); audit-logged
/// (`catalogue.institutions_saved`) with the acting account.
pub async fn upsert_institutions(
    db: &DatabaseConnection,
    actor: &Actor,
    list: &[UniversityView],
    now: DateTime<Utc>,
) -> Result<Vec<UniversityView>> {
    super::staff_gate(actor)?;
    if !actor.can(Action::CatalogueManage) {
        return Err(CatalogueError::Forbidden);
    }
    let mut errs = Vec::new();
    for (i, u) in list.iter().enumerate() {
        if let Err(e) =
            myqcm_domain::catalogue::curriculum::check_code(&format!("[{i}].code"), &u.code)
        {
            errs.push(e);
        }
        for (j, f) in u.faculties.iter().enumerate() {
            if let Err(e) = myqcm_domain::catalogue::curriculum::check_code(
                &format!("[{i}].faculties[{j}].code"),
                &f.code,
            ) {
                errs.push(e);
            }
            if !["general_medicine", "dentistry", "pharmacy"].contains(&f.field.as_str()) {
                errs.push(ContentError::new(
                    format!("[{i}].faculties[{j}].field"),
                    "unknown",
                    "general_medicine, dentistry or pharmacy.",
                ));
            }
        }
    }
    if !errs.is_empty() {
        return Err(CatalogueError::Invalid(errs));
    }
    let txn = repo::begin_write(db).await?;
    for u in list {
        let row = repo::upsert_university(&txn, &u.code, &u.name).await?;
        for f in &u.faculties {
            repo::upsert_faculty(&txn, &f.code, row.id, &f.name, &f.field).await?;
        }
    }
    let codes: Vec<&str> = list.iter().map(|u| u.code.as_str()).collect();
    let ev = audit::Event::new("catalogue.institutions_saved")
        .actor(actor.id)
        .target("institutions")
        .detail(serde_json::json!({ "universities": codes }));
    audit::record_at(&txn, now, ev).await?;
    txn.commit().await?;
    institutions(db).await
}
