//! Catalogue persistence: curriculum and KC tree upserts (by code), items with immutable
//! revisions, KC tags, review events, reports, blueprints, import runs, images, and the one
//! search method (filters + full text + keyset pagination) on both backends.
//!
//! Functions take any `ConnectionTrait` so the services choose the transaction.

pub mod entities;
pub mod kc_suggestions;
pub mod reference;
pub mod search;

use chrono::{DateTime, Utc};
use myqcm_domain::catalogue::media::media_ids;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

pub use entities::{
    blueprint, clinical_case, course, faculty, import_run, item, item_image, item_kc, item_report,
    item_revision, kc_node, media_use, review_event, subject, unit, university,
};
pub use search::{SearchFilter, search, search_sql};

use crate::{DbError, is_unique_violation};

fn conflict(what: &'static str) -> impl Fn(sea_orm::DbErr) -> DbError {
    move |e| {
        if is_unique_violation(&e) {
            DbError::Conflict(what)
        } else {
            e.into()
        }
    }
}

// ---------------------------------------------------------------- curriculum

/// Inserts or renames a unit by code.
pub async fn upsert_unit<C: ConnectionTrait>(
    c: &C,
    code: &str,
    year: i32,
    names: &str,
) -> Result<unit::Model, DbError> {
    if let Some(u) = unit::Entity::find()
        .filter(unit::Column::Code.eq(code))
        .one(c)
        .await?
    {
        let mut a: unit::ActiveModel = u.into();
        a.names = Set(names.to_owned());
        a.year_of_study = Set(year);
        return Ok(a.update(c).await?);
    }
    unit::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.to_owned()),
        year_of_study: Set(year),
        names: Set(names.to_owned()),
    }
    .insert(c)
    .await
    .map_err(conflict("unit_code_taken"))
}

/// Inserts or updates a subject by code.
pub async fn upsert_subject<C: ConnectionTrait>(
    c: &C,
    code: &str,
    year: i32,
    unit_id: Option<Uuid>,
    names: &str,
) -> Result<subject::Model, DbError> {
    if let Some(s) = subject::Entity::find()
        .filter(subject::Column::Code.eq(code))
        .one(c)
        .await?
    {
        let mut a: subject::ActiveModel = s.into();
        a.names = Set(names.to_owned());
        a.year_of_study = Set(year);
        a.unit_id = Set(unit_id);
        return Ok(a.update(c).await?);
    }
    subject::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.to_owned()),
        year_of_study: Set(year),
        unit_id: Set(unit_id),
        names: Set(names.to_owned()),
    }
    .insert(c)
    .await
    .map_err(conflict("subject_code_taken"))
}

/// Inserts or updates a course by code.
pub async fn upsert_course<C: ConnectionTrait>(
    c: &C,
    code: &str,
    subject_id: Uuid,
    names: &str,
) -> Result<course::Model, DbError> {
    if let Some(s) = course::Entity::find()
        .filter(course::Column::Code.eq(code))
        .one(c)
        .await?
    {
        let mut a: course::ActiveModel = s.into();
        a.names = Set(names.to_owned());
        a.subject_id = Set(subject_id);
        return Ok(a.update(c).await?);
    }
    course::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.to_owned()),
        subject_id: Set(subject_id),
        names: Set(names.to_owned()),
    }
    .insert(c)
    .await
    .map_err(conflict("course_code_taken"))
}

/// Inserts or updates a KC-tree node (domain, topic or kc) by code.
pub async fn upsert_kc<C: ConnectionTrait>(
    c: &C,
    code: &str,
    subject_id: Uuid,
    parent_id: Option<Uuid>,
    level: &str,
    names: &str,
    sort_order: i32,
) -> Result<kc_node::Model, DbError> {
    if let Some(s) = kc_node::Entity::find()
        .filter(kc_node::Column::Code.eq(code))
        .one(c)
        .await?
    {
        let mut a: kc_node::ActiveModel = s.into();
        a.names = Set(names.to_owned());
        a.subject_id = Set(subject_id);
        a.parent_id = Set(parent_id);
        a.level = Set(level.to_owned());
        a.sort_order = Set(sort_order);
        return Ok(a.update(c).await?);
    }
    kc_node::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.to_owned()),
        subject_id: Set(subject_id),
        parent_id: Set(parent_id),
        level: Set(level.to_owned()),
        names: Set(names.to_owned()),
        sort_order: Set(sort_order),
    }
    .insert(c)
    .await
    .map_err(conflict("kc_code_taken"))
}

/// Inserts or renames a university by code.
pub async fn upsert_university<C: ConnectionTrait>(
    c: &C,
    code: &str,
    name: &str,
) -> Result<university::Model, DbError> {
    if let Some(u) = university::Entity::find()
        .filter(university::Column::Code.eq(code))
        .one(c)
        .await?
    {
        return Ok(u);
    }
    Ok(university::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.to_owned()),
        name: Set(name.to_owned()),
    }
    .insert(c)
    .await?)
}

/// Inserts a faculty by code (returns the existing one when present).
pub async fn upsert_faculty<C: ConnectionTrait>(
    c: &C,
    code: &str,
    university_id: Uuid,
    name: &str,
    field: &str,
) -> Result<faculty::Model, DbError> {
    if let Some(f) = faculty::Entity::find()
        .filter(faculty::Column::Code.eq(code))
        .one(c)
        .await?
    {
        return Ok(f);
    }
    Ok(faculty::ActiveModel {
        id: Set(Uuid::now_v7()),
        university_id: Set(university_id),
        code: Set(code.to_owned()),
        name: Set(name.to_owned()),
        field: Set(field.to_owned()),
    }
    .insert(c)
    .await?)
}

/// Inserts a university, or renames the one with that code (the admin page's "save").
pub async fn save_university<C: ConnectionTrait>(
    c: &C,
    code: &str,
    name: &str,
) -> Result<university::Model, DbError> {
    if let Some(u) = university::Entity::find()
        .filter(university::Column::Code.eq(code))
        .one(c)
        .await?
    {
        let mut a: university::ActiveModel = u.into();
        a.name = Set(name.to_owned());
        return Ok(a.update(c).await?);
    }
    upsert_university(c, code, name).await
}

/// Inserts a faculty, or updates the name, field and university of the one with that code.
pub async fn save_faculty<C: ConnectionTrait>(
    c: &C,
    code: &str,
    university_id: Uuid,
    name: &str,
    field: &str,
) -> Result<faculty::Model, DbError> {
    if let Some(f) = faculty_by_code(c, code).await? {
        let mut a: faculty::ActiveModel = f.into();
        a.university_id = Set(university_id);
        a.name = Set(name.to_owned());
        a.field = Set(field.to_owned());
        return Ok(a.update(c).await?);
    }
    upsert_faculty(c, code, university_id, name, field).await
}

/// A university by code.
pub async fn university_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<university::Model>, DbError> {
    Ok(university::Entity::find()
        .filter(university::Column::Code.eq(code))
        .one(c)
        .await?)
}

/// A unit by code.
pub async fn unit_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<unit::Model>, DbError> {
    Ok(unit::Entity::find()
        .filter(unit::Column::Code.eq(code))
        .one(c)
        .await?)
}

/// A faculty by code.
pub async fn faculty_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<faculty::Model>, DbError> {
    Ok(faculty::Entity::find()
        .filter(faculty::Column::Code.eq(code))
        .one(c)
        .await?)
}

/// Universities and faculties.
pub async fn list_institutions<C: ConnectionTrait>(
    c: &C,
) -> Result<(Vec<university::Model>, Vec<faculty::Model>), DbError> {
    Ok((
        university::Entity::find()
            .order_by_asc(university::Column::Code)
            .all(c)
            .await?,
        faculty::Entity::find()
            .order_by_asc(faculty::Column::Code)
            .all(c)
            .await?,
    ))
}

/// The whole curriculum (small: a few hundred rows).
pub async fn curriculum<C: ConnectionTrait>(
    c: &C,
) -> Result<(Vec<unit::Model>, Vec<subject::Model>, Vec<course::Model>), DbError> {
    Ok((
        unit::Entity::find()
            .order_by_asc(unit::Column::YearOfStudy)
            .order_by_asc(unit::Column::Code)
            .all(c)
            .await?,
        subject::Entity::find()
            .order_by_asc(subject::Column::YearOfStudy)
            .order_by_asc(subject::Column::Code)
            .all(c)
            .await?,
        course::Entity::find()
            .order_by_asc(course::Column::Code)
            .all(c)
            .await?,
    ))
}

/// A course by code.
pub async fn course_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<course::Model>, DbError> {
    Ok(course::Entity::find()
        .filter(course::Column::Code.eq(code))
        .one(c)
        .await?)
}

/// A course by id.
pub async fn course_by_id<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<course::Model>, DbError> {
    Ok(course::Entity::find_by_id(id).one(c).await?)
}

/// A subject by code.
pub async fn subject_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<subject::Model>, DbError> {
    Ok(subject::Entity::find()
        .filter(subject::Column::Code.eq(code))
        .one(c)
        .await?)
}

/// Subjects of a year of study.
pub async fn subjects_of_year<C: ConnectionTrait>(
    c: &C,
    year: i32,
) -> Result<Vec<subject::Model>, DbError> {
    Ok(subject::Entity::find()
        .filter(subject::Column::YearOfStudy.eq(year))
        .order_by_asc(subject::Column::Code)
        .all(c)
        .await?)
}

/// The KC tree of a subject (flat, in sort order; `parent_id` gives the shape).
pub async fn kc_tree<C: ConnectionTrait>(
    c: &C,
    subject_id: Uuid,
) -> Result<Vec<kc_node::Model>, DbError> {
    Ok(kc_node::Entity::find()
        .filter(kc_node::Column::SubjectId.eq(subject_id))
        .order_by_asc(kc_node::Column::SortOrder)
        .all(c)
        .await?)
}

/// Every KC node (for export).
pub async fn all_kcs<C: ConnectionTrait>(c: &C) -> Result<Vec<kc_node::Model>, DbError> {
    Ok(kc_node::Entity::find()
        .order_by_asc(kc_node::Column::SortOrder)
        .all(c)
        .await?)
}

/// A KC node by code.
pub async fn kc_by_code<C: ConnectionTrait>(
    c: &C,
    code: &str,
) -> Result<Option<kc_node::Model>, DbError> {
    Ok(kc_node::Entity::find()
        .filter(kc_node::Column::Code.eq(code))
        .one(c)
        .await?)
}

// ---------------------------------------------------------------- items

/// A new item with its first revision.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// `qcs`, `qcm`, `qroc`.
    pub kind: String,
    /// Course.
    pub course_id: Uuid,
    /// The course's subject (denormalised for filters).
    pub subject_id: Uuid,
    /// Initial status.
    pub status: String,
    /// Author.
    pub author_id: Uuid,
    /// `fr`, `ar`, `en`.
    pub locale: String,
    /// Shared by the translations of one question (its own id for an original).
    pub translation_group_id: Option<Uuid>,
    /// Stable import id.
    pub external_id: Option<String>,
    /// Fingerprint of the content.
    pub content_hash: String,
    /// `easy`, `medium`, `hard`.
    pub difficulty: String,
    /// Provenance kind.
    pub source_kind: Option<String>,
    /// Clinical case and position in it.
    pub case: Option<(Uuid, i32)>,
    /// Indexed text.
    pub search_text: String,
    /// Serialised `ItemContent`.
    pub content_json: String,
    /// KC ids and weights.
    pub kcs: Vec<(Uuid, f64)>,
}

/// Inserts an item, its revision 1 and its KC tags. Returns (item, revision).
pub async fn insert_item<C: ConnectionTrait>(
    c: &C,
    n: NewItem,
    now: DateTime<Utc>,
) -> Result<(item::Model, item_revision::Model), DbError> {
    let id = Uuid::now_v7();
    let rev_id = Uuid::now_v7();
    // current_revision_id has no foreign key (the two rows point at each other), so the item
    // is written once with the id of the revision inserted right after it.
    let row = item::ActiveModel {
        id: Set(id),
        kind: Set(n.kind),
        course_id: Set(n.course_id),
        subject_id: Set(n.subject_id),
        status: Set(n.status),
        author_id: Set(n.author_id),
        locale: Set(n.locale),
        translation_group_id: Set(n.translation_group_id.unwrap_or(id)),
        external_id: Set(n.external_id),
        content_hash: Set(n.content_hash),
        current_revision_id: Set(Some(rev_id)),
        difficulty: Set(n.difficulty),
        source_kind: Set(n.source_kind),
        case_id: Set(n.case.map(|x| x.0)),
        case_position: Set(n.case.map(|x| x.1)),
        search_text: Set(n.search_text),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await
    .map_err(conflict("external_id_taken"))?;
    set_media_uses(c, MEDIA_OF_ITEM, id, &media_ids(&n.content_json)).await?;
    let rev = item_revision::ActiveModel {
        id: Set(rev_id),
        item_id: Set(id),
        number: Set(1),
        content: Set(n.content_json),
        created_by: Set(n.author_id),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    if !n.kcs.is_empty() {
        item_kc::Entity::insert_many(n.kcs.iter().map(|(kc, w)| item_kc::ActiveModel {
            item_id: Set(id),
            kc_id: Set(*kc),
            weight: Set(*w),
        }))
        .exec(c)
        .await?;
    }
    Ok((row, rev))
}

/// What a new revision changes on the item row.
#[derive(Debug, Clone)]
pub struct RevisionUpdate {
    /// Serialised `ItemContent`.
    pub content_json: String,
    /// New fingerprint.
    pub content_hash: String,
    /// New indexed text.
    pub search_text: String,
    /// New difficulty.
    pub difficulty: String,
    /// New kind.
    pub kind: String,
    /// New source kind.
    pub source_kind: Option<String>,
    /// Status after the edit.
    pub status: String,
    /// Author of the revision.
    pub created_by: Uuid,
}

/// Appends revision n+1 and points the item at it. Earlier revisions are never touched.
pub async fn add_revision<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
    u: RevisionUpdate,
    now: DateTime<Utc>,
) -> Result<(item::Model, item_revision::Model), DbError> {
    let row = item::Entity::find_by_id(item_id)
        .one(c)
        .await?
        .ok_or(DbError::NotFound)?;
    let last = item_revision::Entity::find()
        .filter(item_revision::Column::ItemId.eq(item_id))
        .order_by_desc(item_revision::Column::Number)
        .one(c)
        .await?
        .map_or(0, |r| r.number);
    set_media_uses(c, MEDIA_OF_ITEM, item_id, &media_ids(&u.content_json)).await?;
    let rev = item_revision::ActiveModel {
        id: Set(Uuid::now_v7()),
        item_id: Set(item_id),
        number: Set(last + 1),
        content: Set(u.content_json),
        created_by: Set(u.created_by),
        created_at: Set(now),
    }
    .insert(c)
    .await
    .map_err(conflict("concurrent_edit"))?;
    let mut a: item::ActiveModel = row.into();
    a.current_revision_id = Set(Some(rev.id));
    a.content_hash = Set(u.content_hash);
    a.search_text = Set(u.search_text);
    a.difficulty = Set(u.difficulty);
    a.kind = Set(u.kind);
    a.source_kind = Set(u.source_kind);
    a.status = Set(u.status);
    a.updated_at = Set(now);
    Ok((a.update(c).await?, rev))
}

/// Changes an item's status.
pub async fn set_status<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
    status: &str,
    now: DateTime<Utc>,
) -> Result<item::Model, DbError> {
    let row = item::Entity::find_by_id(item_id)
        .one(c)
        .await?
        .ok_or(DbError::NotFound)?;
    let mut a: item::ActiveModel = row.into();
    a.status = Set(status.to_owned());
    a.updated_at = Set(now);
    Ok(a.update(c).await?)
}

/// Points an item at another translation group.
pub async fn set_translation_group<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
    group: Uuid,
) -> Result<(), DbError> {
    item::Entity::update_many()
        .col_expr(
            item::Column::TranslationGroupId,
            sea_orm::sea_query::Expr::value(group),
        )
        .filter(item::Column::Id.eq(item_id))
        .exec(c)
        .await?;
    Ok(())
}

/// Replaces an item's KC tags.
pub async fn set_kcs<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
    kcs: &[(Uuid, f64)],
) -> Result<(), DbError> {
    item_kc::Entity::delete_many()
        .filter(item_kc::Column::ItemId.eq(item_id))
        .exec(c)
        .await?;
    if !kcs.is_empty() {
        item_kc::Entity::insert_many(kcs.iter().map(|(kc, w)| item_kc::ActiveModel {
            item_id: Set(item_id),
            kc_id: Set(*kc),
            weight: Set(*w),
        }))
        .exec(c)
        .await?;
    }
    Ok(())
}

/// KC tags of an item (KC node, weight).
pub async fn item_kcs<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
) -> Result<Vec<(kc_node::Model, f64)>, DbError> {
    let tags = item_kc::Entity::find()
        .filter(item_kc::Column::ItemId.eq(item_id))
        .all(c)
        .await?;
    let ids: Vec<Uuid> = tags.iter().map(|t| t.kc_id).collect();
    let nodes = kc_node::Entity::find()
        .filter(kc_node::Column::Id.is_in(ids))
        .all(c)
        .await?;
    Ok(tags
        .into_iter()
        .filter_map(|t| {
            nodes
                .iter()
                .find(|n| n.id == t.kc_id)
                .map(|n| (n.clone(), t.weight))
        })
        .collect())
}

/// An item by id.
pub async fn item_by_id<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<item::Model>, DbError> {
    Ok(item::Entity::find_by_id(id).one(c).await?)
}

/// Items by ids (any order).
pub async fn items_by_ids<C: ConnectionTrait>(
    c: &C,
    ids: Vec<Uuid>,
) -> Result<Vec<item::Model>, DbError> {
    Ok(item::Entity::find()
        .filter(item::Column::Id.is_in(ids))
        .all(c)
        .await?)
}

/// An item by external id.
pub async fn item_by_external_id<C: ConnectionTrait>(
    c: &C,
    ext: &str,
) -> Result<Option<item::Model>, DbError> {
    Ok(item::Entity::find()
        .filter(item::Column::ExternalId.eq(ext))
        .one(c)
        .await?)
}

/// An item by content hash (the oldest when several).
pub async fn item_by_hash<C: ConnectionTrait>(
    c: &C,
    hash: &str,
) -> Result<Option<item::Model>, DbError> {
    Ok(item::Entity::find()
        .filter(item::Column::ContentHash.eq(hash))
        .order_by_asc(item::Column::Id)
        .one(c)
        .await?)
}

/// Items of one translation group.
pub async fn translations<C: ConnectionTrait>(
    c: &C,
    group: Uuid,
) -> Result<Vec<item::Model>, DbError> {
    Ok(item::Entity::find()
        .filter(item::Column::TranslationGroupId.eq(group))
        .order_by_asc(item::Column::Id)
        .all(c)
        .await?)
}

/// A revision by id.
pub async fn revision<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<item_revision::Model>, DbError> {
    Ok(item_revision::Entity::find_by_id(id).one(c).await?)
}

/// Revisions by ids.
pub async fn revisions_by_ids<C: ConnectionTrait>(
    c: &C,
    ids: Vec<Uuid>,
) -> Result<Vec<item_revision::Model>, DbError> {
    Ok(item_revision::Entity::find()
        .filter(item_revision::Column::Id.is_in(ids))
        .all(c)
        .await?)
}

/// The first revisions written by `author` whose content contains `marker` (a generation
/// request's provenance marker), oldest first, at most `limit`.
pub async fn first_revisions_marked<C: ConnectionTrait>(
    c: &C,
    author: Uuid,
    marker: &str,
    limit: u64,
) -> Result<Vec<item_revision::Model>, DbError> {
    Ok(item_revision::Entity::find()
        .filter(item_revision::Column::CreatedBy.eq(author))
        .filter(item_revision::Column::Number.eq(1))
        .filter(item_revision::Column::Content.contains(marker))
        .order_by_asc(item_revision::Column::CreatedAt)
        .order_by_asc(item_revision::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// The current revisions of every item of a course (any status), for duplicate checks.
pub async fn current_revisions_of_course<C: ConnectionTrait>(
    c: &C,
    course_id: Uuid,
) -> Result<Vec<item_revision::Model>, DbError> {
    let ids: Vec<Uuid> = item::Entity::find()
        .filter(item::Column::CourseId.eq(course_id))
        .all(c)
        .await?
        .into_iter()
        .filter_map(|i| i.current_revision_id)
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for batch in ids.chunks(500) {
        out.extend(revisions_by_ids(c, batch.to_vec()).await?);
    }
    Ok(out)
}

/// Every revision of an item, oldest first.
pub async fn revisions<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
) -> Result<Vec<item_revision::Model>, DbError> {
    Ok(item_revision::Entity::find()
        .filter(item_revision::Column::ItemId.eq(item_id))
        .order_by_asc(item_revision::Column::Number)
        .all(c)
        .await?)
}

/// Count of items (all statuses).
pub async fn count_items<C: ConnectionTrait>(c: &C) -> Result<u64, DbError> {
    use sea_orm::PaginatorTrait;
    Ok(item::Entity::find().count(c).await?)
}

// ---------------------------------------------------------------- clinical cases

/// Inserts a clinical case or returns the one with the same external id.
pub async fn upsert_case<C: ConnectionTrait>(
    c: &C,
    m: clinical_case::Model,
) -> Result<clinical_case::Model, DbError> {
    if let Some(ext) = &m.external_id
        && let Some(found) = clinical_case::Entity::find()
            .filter(clinical_case::Column::ExternalId.eq(ext.as_str()))
            .one(c)
            .await?
    {
        let images = case_media(&m);
        let mut a: clinical_case::ActiveModel = found.into();
        a.title = Set(m.title);
        a.scenario = Set(m.scenario);
        a.objectives = Set(m.objectives);
        let saved = a.update(c).await?;
        set_media_uses(c, MEDIA_OF_CASE, saved.id, &images).await?;
        return Ok(saved);
    }
    let images = case_media(&m);
    let a: clinical_case::ActiveModel = m.into();
    let saved = a.insert(c).await?;
    set_media_uses(c, MEDIA_OF_CASE, saved.id, &images).await?;
    Ok(saved)
}

fn case_media(m: &clinical_case::Model) -> Vec<Uuid> {
    media_ids(&format!("{}\n{}", m.scenario, m.objectives))
}

/// A clinical case by id.
pub async fn case_by_id<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<clinical_case::Model>, DbError> {
    Ok(clinical_case::Entity::find_by_id(id).one(c).await?)
}

/// The items of a case, in order.
pub async fn case_items<C: ConnectionTrait>(
    c: &C,
    case_id: Uuid,
) -> Result<Vec<item::Model>, DbError> {
    Ok(item::Entity::find()
        .filter(item::Column::CaseId.eq(case_id))
        .order_by_asc(item::Column::CasePosition)
        .all(c)
        .await?)
}

/// All clinical cases (small).
pub async fn cases<C: ConnectionTrait>(c: &C) -> Result<Vec<clinical_case::Model>, DbError> {
    Ok(clinical_case::Entity::find()
        .order_by_asc(clinical_case::Column::Id)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- review events

/// Records a review event (`submit`, `withdraw`, `approve`, `reject`, `edit`, `retire`, `comment`).
pub async fn add_event<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
    revision_id: Option<Uuid>,
    actor: Uuid,
    kind: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<review_event::Model, DbError> {
    Ok(review_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        item_id: Set(item_id),
        revision_id: Set(revision_id),
        actor_id: Set(actor),
        kind: Set(kind.to_owned()),
        body: Set(body.to_owned()),
        created_at: Set(now),
    }
    .insert(c)
    .await?)
}

/// The review history of an item, oldest first.
pub async fn events<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
) -> Result<Vec<review_event::Model>, DbError> {
    Ok(review_event::Entity::find()
        .filter(review_event::Column::ItemId.eq(item_id))
        .order_by_asc(review_event::Column::Id)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- reports

/// Inserts a report.
pub async fn insert_report<C: ConnectionTrait>(
    c: &C,
    m: item_report::Model,
) -> Result<item_report::Model, DbError> {
    let a: item_report::ActiveModel = m.into();
    Ok(a.insert(c).await?)
}

/// A report by id.
pub async fn report<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<item_report::Model>, DbError> {
    Ok(item_report::Entity::find_by_id(id).one(c).await?)
}

/// Saves a triaged report.
pub async fn update_report<C: ConnectionTrait>(
    c: &C,
    m: item_report::Model,
) -> Result<item_report::Model, DbError> {
    let a: item_report::ActiveModel = m.into();
    Ok(a.reset_all().update(c).await?)
}

/// Reports, newest first, filtered by status and/or reporter, after the cursor `before`.
pub async fn list_reports<C: ConnectionTrait>(
    c: &C,
    status: Option<&str>,
    reporter: Option<Uuid>,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<item_report::Model>, DbError> {
    let mut q = item_report::Entity::find();
    if let Some(s) = status {
        q = q.filter(item_report::Column::Status.eq(s));
    }
    if let Some(r) = reporter {
        q = q.filter(item_report::Column::ReporterId.eq(r));
    }
    if let Some(b) = before {
        q = q.filter(item_report::Column::Id.lt(b));
    }
    Ok(q.order_by_desc(item_report::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// Every report on one item, newest first (the reviewer's item page shows them all).
pub async fn reports_for_item<C: ConnectionTrait>(
    c: &C,
    item_id: Uuid,
    limit: u64,
) -> Result<Vec<item_report::Model>, DbError> {
    Ok(item_report::Entity::find()
        .filter(item_report::Column::ItemId.eq(item_id))
        .order_by_desc(item_report::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

// ---------------------------------------------------------------- blueprints

/// The latest version of the blueprint for a year (and faculty, when given).
pub async fn current_blueprint<C: ConnectionTrait>(
    c: &C,
    year: i32,
    faculty: Option<Uuid>,
) -> Result<Option<blueprint::Model>, DbError> {
    let mut q = blueprint::Entity::find().filter(blueprint::Column::YearOfStudy.eq(year));
    q = match faculty {
        Some(f) => q.filter(blueprint::Column::FacultyId.eq(f)),
        None => q.filter(blueprint::Column::FacultyId.is_null()),
    };
    Ok(q.order_by_desc(blueprint::Column::Version).one(c).await?)
}

/// Every version of a blueprint, newest first.
pub async fn blueprint_versions<C: ConnectionTrait>(
    c: &C,
    year: i32,
    faculty: Option<Uuid>,
) -> Result<Vec<blueprint::Model>, DbError> {
    let mut q = blueprint::Entity::find().filter(blueprint::Column::YearOfStudy.eq(year));
    q = match faculty {
        Some(f) => q.filter(blueprint::Column::FacultyId.eq(f)),
        None => q.filter(blueprint::Column::FacultyId.is_null()),
    };
    Ok(q.order_by_desc(blueprint::Column::Version).all(c).await?)
}

/// Appends a new blueprint version (previous versions stay).
pub async fn insert_blueprint<C: ConnectionTrait>(
    c: &C,
    year: i32,
    faculty: Option<Uuid>,
    name: &str,
    weights: &str,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<blueprint::Model, DbError> {
    let version = current_blueprint(c, year, faculty)
        .await?
        .map_or(1, |b| b.version + 1);
    Ok(blueprint::ActiveModel {
        id: Set(Uuid::now_v7()),
        year_of_study: Set(year),
        faculty_id: Set(faculty),
        name: Set(name.to_owned()),
        version: Set(version),
        weights: Set(weights.to_owned()),
        created_by: Set(by),
        created_at: Set(now),
    }
    .insert(c)
    .await?)
}

// ---------------------------------------------------------------- import runs and images

/// Inserts an import run.
pub async fn insert_import_run<C: ConnectionTrait>(
    c: &C,
    m: import_run::Model,
) -> Result<import_run::Model, DbError> {
    let a: import_run::ActiveModel = m.into();
    Ok(a.insert(c).await?)
}

/// An import run by id.
pub async fn import_run_by_id<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<import_run::Model>, DbError> {
    Ok(import_run::Entity::find_by_id(id).one(c).await?)
}

/// Saves an import run's progress or outcome.
pub async fn update_import_run<C: ConnectionTrait>(
    c: &C,
    m: import_run::Model,
) -> Result<import_run::Model, DbError> {
    let a: import_run::ActiveModel = m.into();
    Ok(a.reset_all().update(c).await?)
}

/// The newest import runs.
pub async fn recent_import_runs<C: ConnectionTrait>(
    c: &C,
    limit: u64,
) -> Result<Vec<import_run::Model>, DbError> {
    Ok(import_run::Entity::find()
        .order_by_desc(import_run::Column::CreatedAt)
        .order_by_desc(import_run::Column::Id)
        .limit(limit)
        .all(c)
        .await?)
}

/// Records an uploaded image.
pub async fn insert_image<C: ConnectionTrait>(
    c: &C,
    m: item_image::Model,
) -> Result<item_image::Model, DbError> {
    let a: item_image::ActiveModel = m.into();
    Ok(a.insert(c).await?)
}

/// An image by id.
pub async fn image<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Option<item_image::Model>, DbError> {
    Ok(item_image::Entity::find_by_id(id).one(c).await?)
}

/// `media_use.owner_kind` of an item.
pub const MEDIA_OF_ITEM: &str = "item";
/// `media_use.owner_kind` of a clinical case.
pub const MEDIA_OF_CASE: &str = "case";

/// Records that `owner` names exactly `images` now (earlier uses are dropped).
pub async fn set_media_uses<C: ConnectionTrait>(
    c: &C,
    kind: &str,
    owner: Uuid,
    images: &[Uuid],
) -> Result<(), DbError> {
    media_use::Entity::delete_many()
        .filter(media_use::Column::OwnerKind.eq(kind))
        .filter(media_use::Column::OwnerId.eq(owner))
        .exec(c)
        .await?;
    if !images.is_empty() {
        media_use::Entity::insert_many(images.iter().map(|image| media_use::ActiveModel {
            image_id: Set(*image),
            owner_kind: Set(kind.to_owned()),
            owner_id: Set(owner),
        }))
        .exec(c)
        .await?;
    }
    Ok(())
}

/// The items and cases naming image `id`: (`owner_kind`, owner id).
pub async fn media_uses<C: ConnectionTrait>(
    c: &C,
    id: Uuid,
) -> Result<Vec<(String, Uuid)>, DbError> {
    Ok(media_use::Entity::find()
        .filter(media_use::Column::ImageId.eq(id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.owner_kind, m.owner_id))
        .collect())
}

/// Opens a transaction that will write (the crate-wide [`crate::begin_write`]).
pub use crate::begin_write;
