//! Catalogue use cases: authoring with immutable revisions, the review workflow, learner reads
//! (approved items only, no key before an attempt), reports triage, curriculum, KC trees and
//! blueprints. Each public function is one transaction; authorisation is decided here with the
//! domain's rules, so the HTTP layer and the command line get the same answers.

pub mod bench;
pub mod curriculum;
pub mod desk;
pub mod images;
pub mod manage;
pub mod quality;
pub mod reports;
pub mod views;

use chrono::{DateTime, Utc};
use myqcm_db::catalogue::{
    self as repo, NewItem, RevisionUpdate, SearchFilter, item, item_revision,
};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::catalogue::lifecycle::{Actor, ItemFacts, decide, may_read};
use myqcm_domain::catalogue::{ContentError, ItemContent, ItemStatus, LifecycleError, Transition};
use myqcm_domain::permissions::Action;
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use uuid::Uuid;

use views::{
    KcTag, LearnerCaseView, LearnerItemView, Page, ReviewEventView, RevisionView, StaffItemSummary,
    StaffItemView, TranslationLink,
};

/// Why a catalogue request failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Unknown, or not visible to this actor (same answer, so existence does not leak).
    #[error("not found")]
    NotFound,
    /// The actor lacks the permission.
    #[error("forbidden")]
    Forbidden,
    /// Staff (reviewers, admins) must enrol TOTP before any staff action.
    #[error("staff must enrol two-step verification first")]
    MfaEnrolmentRequired,
    /// A reviewer tried to review their own item.
    #[error("reviewers cannot review their own items")]
    OwnItem,
    /// The item's state does not allow this.
    #[error("{0}")]
    WrongState(String),
    /// Invalid input.
    #[error("invalid input")]
    Invalid(Vec<ContentError>),
    /// A uniqueness rule.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Too many requests of this kind in the window (item reports).
    #[error("rate limited: {0}")]
    RateLimited(&'static str),
    /// Storage failure.
    #[error(transparent)]
    Store(DbError),
}

impl From<DbError> for CatalogueError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            DbError::Conflict(c) => Self::Conflict(c),
            other => Self::Store(other),
        }
    }
}

impl From<sea_orm::DbErr> for CatalogueError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

impl From<LifecycleError> for CatalogueError {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::Forbidden => Self::Forbidden,
            LifecycleError::OwnItem => Self::OwnItem,
            LifecycleError::ReasonRequired => Self::Invalid(vec![ContentError::new(
                "reason",
                "required",
                "A reason is required.",
            )]),
            w @ LifecycleError::WrongState { .. } => Self::WrongState(w.to_string()),
        }
    }
}

/// Result alias.
pub type Result<T, E = CatalogueError> = std::result::Result<T, E>;

/// A lifecycle move named in a request: `submit`, `withdraw`, `approve`, `reject` (changes
/// requested), `decline` (refused for good), `retire`.
pub fn parse_transition(action: &str) -> Result<Transition> {
    match action {
        "submit" => Ok(Transition::Submit),
        "withdraw" => Ok(Transition::Withdraw),
        "approve" => Ok(Transition::Approve),
        "reject" => Ok(Transition::Reject),
        "decline" => Ok(Transition::Decline),
        "retire" => Ok(Transition::Retire),
        other => Err(CatalogueError::Invalid(vec![ContentError::new(
            "action",
            "unknown",
            format!("{other:?} is not submit, withdraw, approve, reject, decline or retire"),
        )])),
    }
}

/// The staff permission a move needs, if any (the caller's TOTP enrolment is checked with it).
pub fn transition_permission(t: Transition) -> Option<Action> {
    match t {
        Transition::Approve | Transition::Reject | Transition::Decline => Some(Action::ItemReview),
        Transition::Retire => Some(Action::CatalogueManage),
        Transition::Edit | Transition::Submit | Transition::Withdraw => None,
    }
}

fn require(actor: &Actor, action: Action) -> Result<()> {
    if actor.can(action) {
        Ok(())
    } else {
        Err(CatalogueError::Forbidden)
    }
}

/// The one enrolment guard of the staff use cases (authoring, review, reports triage,
/// curriculum, blueprints, images, imports, exports): an account holding a staff power
/// (reviewer, admin scope) is refused until it has enrolled TOTP, whatever it asks for, so no
/// staff route can serve drafts, keys or history to an account protected by a password only.
/// Learner use cases do not call it.
pub fn staff_gate(actor: &Actor) -> Result<()> {
    if actor.enrolment_pending() {
        Err(CatalogueError::MfaEnrolmentRequired)
    } else {
        Ok(())
    }
}

pub(crate) fn parse_content(rev: &item_revision::Model) -> Result<ItemContent> {
    serde_json::from_str(&rev.content)
        .map_err(|e| CatalogueError::Store(DbError::Backend(format!("revision {}: {e}", rev.id))))
}

/// A KC tag in a request: by id or by code.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct KcInput {
    /// KC code (e.g. `kc-cardio-hta-def`).
    pub kc: String,
    /// Weight; the item's weights are normalised to add up to 1.
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// What an author submits to create an item.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewItemInput {
    /// Course code.
    pub course: String,
    /// Content (markdown fields, options with key and explanations, QROC spec…).
    #[schema(value_type = Object)]
    pub content: ItemContent,
    /// KC tags (at least one).
    #[serde(default)]
    pub kcs: Vec<KcInput>,
    /// Make this a translation of that item (same question, other locale).
    #[serde(default)]
    pub translation_of: Option<Uuid>,
    /// Stable import id.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// Resolves KC codes and normalises weights; KCs must belong to the subject.
pub(crate) async fn resolve_kcs<C: ConnectionTrait>(
    c: &C,
    subject_id: Uuid,
    kcs: &[KcInput],
) -> Result<Vec<(Uuid, f64)>, ContentError> {
    if kcs.is_empty() {
        return Err(ContentError::new(
            "kcs",
            "required",
            "Tag at least one knowledge component.",
        ));
    }
    let mut out = Vec::with_capacity(kcs.len());
    for (i, k) in kcs.iter().enumerate() {
        let node = repo::kc_by_code(c, k.kc.trim())
            .await
            .map_err(|e| ContentError::new("kcs", "store", e.to_string()))?;
        match node {
            Some(n) if n.subject_id == subject_id && n.level == "kc" => {
                if !(k.weight > 0.0 && k.weight.is_finite()) {
                    return Err(ContentError::new(
                        format!("kcs[{i}].weight"),
                        "not_positive",
                        "Weights are > 0.",
                    ));
                }
                if out.iter().any(|(id, _)| *id == n.id) {
                    return Err(ContentError::new(
                        format!("kcs[{i}].kc"),
                        "duplicate",
                        "KC listed twice.",
                    ));
                }
                out.push((n.id, k.weight));
            }
            Some(_) => {
                return Err(ContentError::new(
                    format!("kcs[{i}].kc"),
                    "wrong_subject",
                    format!("{} is not a KC of this course's subject.", k.kc),
                ));
            }
            None => {
                return Err(ContentError::new(
                    format!("kcs[{i}].kc"),
                    "unknown",
                    format!("Unknown KC {}.", k.kc),
                ));
            }
        }
    }
    let total: f64 = out.iter().map(|x| x.1).sum();
    Ok(out.into_iter().map(|(id, w)| (id, w / total)).collect())
}

/// Builds the row for a new item (shared by the editor and the importer).
pub(crate) fn new_item_row(
    content: &ItemContent,
    course: &repo::course::Model,
    status: ItemStatus,
    author: Uuid,
    kcs: Vec<(Uuid, f64)>,
) -> NewItem {
    NewItem {
        kind: content.kind.as_str().into(),
        course_id: course.id,
        subject_id: course.subject_id,
        status: status.as_str().into(),
        author_id: author,
        locale: content.locale.as_str().into(),
        translation_group_id: None,
        external_id: None,
        content_hash: content.content_hash(),
        difficulty: content.difficulty.as_str().into(),
        source_kind: content.source.kind.clone(),
        case: None,
        search_text: content.search_text(),
        content_json: serde_json::to_string(content).unwrap_or_default(),
        kcs,
    }
}

/// The external id a caller may give an item or case through the API: external ids are the
/// keys imports update by, so only import/export staff may set one (an author who could pick
/// one could pre-claim the id of a row an admin imports later and take over its content).
fn external_id_of(actor: &Actor, given: Option<&str>, field: &str) -> Result<Option<String>> {
    let Some(e) = given.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    if !actor.can(Action::CatalogueImportExport) {
        return Err(CatalogueError::Invalid(vec![ContentError::new(
            field,
            "not_allowed",
            "External ids are assigned by imports.",
        )]));
    }
    Ok(Some(e.to_owned()))
}

/// Creates a draft (authors and content admins).
pub async fn create_item(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewItemInput,
    now: DateTime<Utc>,
) -> Result<StaffItemView> {
    staff_gate(actor)?;
    if !actor.can(Action::ItemAuthor) && !actor.can(Action::CatalogueManage) {
        return Err(CatalogueError::Forbidden);
    }
    input.content.validate().map_err(CatalogueError::Invalid)?;
    let external_id = external_id_of(actor, input.external_id.as_deref(), "external_id")?;
    let txn = repo::begin_write(db).await?;
    let course = repo::course_by_code(&txn, input.course.trim())
        .await?
        .ok_or_else(|| {
            CatalogueError::Invalid(vec![ContentError::new(
                "course",
                "unknown",
                "Unknown course.",
            )])
        })?;
    let kcs = resolve_kcs(&txn, course.subject_id, &input.kcs)
        .await
        .map_err(|e| CatalogueError::Invalid(vec![e]))?;
    let mut row = new_item_row(&input.content, &course, ItemStatus::Draft, actor.id, kcs);
    row.external_id = external_id;
    if let Some(orig) = input.translation_of {
        // The original must be an item the caller may read: otherwise the answer is the same
        // 404 as for an unknown id, so drafts of other authors can be neither probed nor joined.
        let o = repo::item_by_id(&txn, orig)
            .await?
            .filter(|o| status(o).is_ok_and(|st| may_read(actor, st, o.author_id)))
            .ok_or(CatalogueError::NotFound)?;
        if o.locale == row.locale {
            return Err(CatalogueError::Invalid(vec![ContentError::new(
                "translation_of",
                "same_locale",
                "A translation has another locale.",
            )]));
        }
        row.translation_group_id = Some(o.translation_group_id);
    }
    let (item, rev) = repo::insert_item(&txn, row, now).await?;
    repo::add_event(
        &txn,
        item.id,
        Some(rev.id),
        actor.id,
        "edit",
        "created",
        now,
    )
    .await?;
    let view = staff_view(&txn, &item).await?;
    txn.commit().await?;
    Ok(view)
}

/// An edit: new content and optionally new KC tags.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct EditInput {
    /// Full new content.
    #[schema(value_type = Object)]
    pub content: ItemContent,
    /// New KC tags (unchanged when absent).
    #[serde(default)]
    pub kcs: Option<Vec<KcInput>>,
}

/// Writes a new revision (own drafts for authors; approved items for reviewers and content
/// admins, which sends them back to review). Old revisions stay readable and unchanged.
pub async fn edit_item(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: EditInput,
    now: DateTime<Utc>,
) -> Result<StaffItemView> {
    staff_gate(actor)?;
    input.content.validate().map_err(CatalogueError::Invalid)?;
    let txn = repo::begin_write(db).await?;
    let (row, rev) = load(&txn, id).await?;
    if !may_read(actor, status(&row)?, row.author_id) {
        return Err(CatalogueError::NotFound);
    }
    let next = decide(actor, facts(&row, &rev)?, Transition::Edit, None)?;
    if input.content.locale.as_str() != row.locale {
        return Err(CatalogueError::Invalid(vec![ContentError::new(
            "content.locale",
            "immutable",
            "Create a translation instead of changing the locale.",
        )]));
    }
    if let Some(kcs) = &input.kcs {
        let kcs = resolve_kcs(&txn, row.subject_id, kcs)
            .await
            .map_err(|e| CatalogueError::Invalid(vec![e]))?;
        repo::set_kcs(&txn, id, &kcs).await?;
    }
    let c = &input.content;
    let (item, new_rev) = repo::add_revision(
        &txn,
        id,
        RevisionUpdate {
            content_json: serde_json::to_string(c).unwrap_or_default(),
            content_hash: c.content_hash(),
            search_text: c.search_text(),
            difficulty: c.difficulty.as_str().into(),
            kind: c.kind.as_str().into(),
            source_kind: c.source.kind.clone(),
            status: next.as_str().into(),
            created_by: actor.id,
        },
        now,
    )
    .await?;
    repo::add_event(
        &txn,
        id,
        Some(new_rev.id),
        actor.id,
        "edit",
        &format!("revision {}", new_rev.number),
        now,
    )
    .await?;
    let view = staff_view(&txn, &item).await?;
    txn.commit().await?;
    Ok(view)
}

/// Replaces an item's KC tags without writing a revision (tags are not part of the content
/// learners see, so an approved item stays approved). Allowed to reviewers and content admins
/// on any item they see that is not retired, and to an author on their own draft. The change
/// goes to the review history (`kcs`) and to the audit log (`catalogue.item_kcs`, with the codes
/// before and after and `source`, e.g. `manual` or `ai_suggestion`), in the caller's
/// transaction.
pub async fn retag_in<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    id: Uuid,
    kcs: &[KcInput],
    source: &str,
    now: DateTime<Utc>,
) -> Result<StaffItemView> {
    staff_gate(actor)?;
    let (row, rev) = load(txn, id).await?;
    staff_guard(actor, &row)?;
    let st = status(&row)?;
    let staff = actor.can(Action::ItemReview) || actor.can(Action::CatalogueManage);
    let own_draft =
        row.author_id == actor.id && actor.can(Action::ItemAuthor) && st == ItemStatus::Draft;
    if st == ItemStatus::Retired {
        return Err(CatalogueError::WrongState(
            "a retired item keeps its tags".into(),
        ));
    }
    if !(staff || own_draft) {
        return Err(CatalogueError::Forbidden);
    }
    let before: Vec<String> = repo::item_kcs(txn, id)
        .await?
        .into_iter()
        .map(|(n, _)| n.code)
        .collect();
    let tags = resolve_kcs(txn, row.subject_id, kcs)
        .await
        .map_err(|e| CatalogueError::Invalid(vec![e]))?;
    repo::set_kcs(txn, id, &tags).await?;
    let after: Vec<String> = kcs.iter().map(|k| k.kc.trim().to_owned()).collect();
    repo::add_event(
        txn,
        id,
        Some(rev.id),
        actor.id,
        "kcs",
        &after.join(", "),
        now,
    )
    .await?;
    let ev = crate::identity::audit::Event::new("catalogue.item_kcs")
        .actor(actor.id)
        .target(id.to_string())
        .detail(serde_json::json!({"from": before, "to": after, "source": source}));
    crate::identity::audit::record_at(txn, now, ev).await?;
    staff_view(txn, &row).await
}

/// Applies a lifecycle move (submit, withdraw, approve, reject or decline with a reason,
/// retire). Every move also goes to the audit log (`catalogue.item_<move>`) with the acting
/// account, in the same transaction.
pub async fn transition(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    t: Transition,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<StaffItemView> {
    staff_gate(actor)?;
    let txn = repo::begin_write(db).await?;
    let (row, rev) = load(&txn, id).await?;
    if !may_read(actor, status(&row)?, row.author_id) {
        return Err(CatalogueError::NotFound);
    }
    let next = decide(actor, facts(&row, &rev)?, t, reason)?;
    let item = repo::set_status(&txn, id, next.as_str(), now).await?;
    let kind = match t {
        Transition::Submit => "submit",
        Transition::Withdraw => "withdraw",
        Transition::Approve => "approve",
        Transition::Reject => "reject",
        Transition::Decline => "decline",
        Transition::Retire => "retire",
        Transition::Edit => "edit",
    };
    repo::add_event(
        &txn,
        id,
        Some(rev.id),
        actor.id,
        kind,
        reason.unwrap_or(""),
        now,
    )
    .await?;
    let audit_action = match t {
        Transition::Submit => "catalogue.item_submit",
        Transition::Withdraw => "catalogue.item_withdraw",
        Transition::Approve => "catalogue.item_approve",
        Transition::Reject => "catalogue.item_reject",
        Transition::Decline => "catalogue.item_decline",
        Transition::Retire => "catalogue.item_retire",
        Transition::Edit => "catalogue.item_edit",
    };
    // The reason is the reviewer's text for the author, kept in the review history; the audit
    // row names the move, the item, the revision and the status change only.
    let ev = crate::identity::audit::Event::new(audit_action)
        .actor(actor.id)
        .target(id.to_string())
        .detail(serde_json::json!({
            "revision": rev.number,
            "from": row.status,
            "to": next.as_str(),
        }));
    crate::identity::audit::record_at(&txn, now, ev).await?;
    if matches!(t, Transition::Approve) {
        // Pays the author for the item's first approval only (exactly once, same transaction).
        crate::commerce::ledger::credit_first_approval(&txn, id, row.author_id, actor.id, now)
            .await?;
    }
    let view = staff_view(&txn, &item).await?;
    txn.commit().await?;
    Ok(view)
}

/// Adds a review comment (the author or staff who may see the item).
pub async fn comment(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    body: &str,
    now: DateTime<Utc>,
) -> Result<ReviewEventView> {
    staff_gate(actor)?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 4000 {
        return Err(CatalogueError::Invalid(vec![ContentError::new(
            "body",
            "length",
            "1 to 4000 characters.",
        )]));
    }
    let (row, rev) = load(db, id).await?;
    let own = row.author_id == actor.id && actor.can(Action::ItemAuthor);
    if !(own || actor.sees_all_items()) {
        return Err(CatalogueError::NotFound);
    }
    let e = repo::add_event(db, id, Some(rev.id), actor.id, "comment", body, now).await?;
    Ok(event_view(e))
}

/// The review history of an item.
pub async fn history(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<ReviewEventView>> {
    let (row, _) = load(db, id).await?;
    staff_guard(actor, &row)?;
    Ok(repo::events(db, id)
        .await?
        .into_iter()
        .map(event_view)
        .collect())
}

fn event_view(e: repo::review_event::Model) -> ReviewEventView {
    ReviewEventView {
        id: e.id,
        revision_id: e.revision_id,
        actor_id: e.actor_id,
        kind: e.kind,
        body: e.body,
        created_at: e.created_at,
    }
}

fn staff_guard(actor: &Actor, row: &item::Model) -> Result<()> {
    // Staff reads: the author (own items), reviewers and content admins. Other authors and
    // learners get a 404, so drafts do not leak.
    staff_gate(actor)?;
    let own = row.author_id == actor.id && actor.can(Action::ItemAuthor);
    if own || actor.sees_all_items() {
        Ok(())
    } else {
        Err(CatalogueError::NotFound)
    }
}

/// The staff view of an item (author, reviewers, content admins).
pub async fn get_staff(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<StaffItemView> {
    let (row, _) = load(db, id).await?;
    staff_guard(actor, &row)?;
    staff_view(db, &row).await
}

/// Every revision of an item, oldest first (staff).
pub async fn revisions(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<RevisionView>> {
    let (row, _) = load(db, id).await?;
    staff_guard(actor, &row)?;
    repo::revisions(db, id)
        .await?
        .iter()
        .map(|r| Ok(RevisionView::build(r, parse_content(r)?)))
        .collect()
}

/// One revision (staff).
pub async fn revision(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    rev_id: Uuid,
) -> Result<RevisionView> {
    let (row, _) = load(db, id).await?;
    staff_guard(actor, &row)?;
    let r = repo::revision(db, rev_id)
        .await?
        .filter(|r| r.item_id == id)
        .ok_or(CatalogueError::NotFound)?;
    Ok(RevisionView::build(&r, parse_content(&r)?))
}

/// Staff listing with filters (authors see only their own items).
pub async fn search_staff(
    db: &DatabaseConnection,
    actor: &Actor,
    mut f: SearchFilter,
) -> Result<Page<StaffItemSummary>> {
    staff_gate(actor)?;
    if !actor.sees_all_items() {
        require(actor, Action::ItemAuthor)?;
        f.author_id = Some(actor.id);
    }
    let rows = repo::search(db, &f).await?;
    let next = page_cursor(&rows, f.limit);
    Ok(Page {
        items: rows.iter().map(StaffItemSummary::from).collect(),
        next,
    })
}

fn page_cursor(rows: &[item::Model], limit: u64) -> Option<Uuid> {
    (rows.len() as u64 >= limit.clamp(1, 200))
        .then(|| rows.last().map(|r| r.id))
        .flatten()
}

/// Learner listing: approved items only, standalone (cases are read as blocks).
pub async fn search_learner(
    db: &DatabaseConnection,
    actor: &Actor,
    mut f: SearchFilter,
) -> Result<Page<LearnerItemView>> {
    require(actor, Action::CatalogueRead)?;
    f.statuses = vec![ItemStatus::Approved.as_str().into()];
    f.author_id = None;
    f.standalone_only = true;
    let rows = repo::search(db, &f).await?;
    let next = page_cursor(&rows, f.limit);
    let revs = repo::revisions_by_ids(
        db,
        rows.iter().filter_map(|r| r.current_revision_id).collect(),
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(rev) = revs.iter().find(|r| Some(r.id) == row.current_revision_id) {
            items.push(LearnerItemView::build(
                row,
                rev,
                &parse_content(rev)?,
                vec![],
            ));
        }
    }
    Ok(Page { items, next })
}

/// One approved item as a learner sees it before answering.
pub async fn get_learner(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<LearnerItemView> {
    require(actor, Action::CatalogueRead)?;
    let (row, rev) = load(db, id).await?;
    if row.status != ItemStatus::Approved.as_str() {
        return Err(CatalogueError::NotFound);
    }
    let links = repo::translations(db, row.translation_group_id)
        .await?
        .into_iter()
        .filter(|t| t.id != row.id && t.status == ItemStatus::Approved.as_str())
        .map(|t| TranslationLink {
            id: t.id,
            locale: t.locale,
        })
        .collect();
    Ok(LearnerItemView::build(
        &row,
        &rev,
        &parse_content(&rev)?,
        links,
    ))
}

/// A clinical case as a learner sees it: only when every sub-item is approved.
pub async fn get_case_learner(
    db: &DatabaseConnection,
    actor: &Actor,
    case_id: Uuid,
) -> Result<LearnerCaseView> {
    require(actor, Action::CatalogueRead)?;
    let case = repo::case_by_id(db, case_id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    let rows = repo::case_items(db, case_id).await?;
    if rows.is_empty()
        || rows
            .iter()
            .any(|r| r.status != ItemStatus::Approved.as_str())
    {
        return Err(CatalogueError::NotFound);
    }
    let revs = repo::revisions_by_ids(
        db,
        rows.iter().filter_map(|r| r.current_revision_id).collect(),
    )
    .await?;
    let mut items = Vec::new();
    for row in &rows {
        let rev = revs
            .iter()
            .find(|r| Some(r.id) == row.current_revision_id)
            .ok_or(CatalogueError::NotFound)?;
        items.push(LearnerItemView::build(
            row,
            rev,
            &parse_content(rev)?,
            vec![],
        ));
    }
    Ok(LearnerCaseView {
        id: case.id,
        title: case.title,
        scenario_html: crate::markdown::render(&case.scenario),
        objectives: serde_json::from_str(&case.objectives).unwrap_or_default(),
        items,
    })
}

/// Clinical cases whose sub-items are all approved (id and title).
pub async fn list_cases_learner(
    db: &DatabaseConnection,
    actor: &Actor,
) -> Result<Vec<(Uuid, String)>> {
    require(actor, Action::CatalogueRead)?;
    let mut out = Vec::new();
    for c in repo::cases(db).await? {
        let rows = repo::case_items(db, c.id).await?;
        if !rows.is_empty()
            && rows
                .iter()
                .all(|r| r.status == ItemStatus::Approved.as_str())
        {
            out.push((c.id, c.title));
        }
    }
    Ok(out)
}

async fn load<C: ConnectionTrait>(c: &C, id: Uuid) -> Result<(item::Model, item_revision::Model)> {
    let row = repo::item_by_id(c, id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    let rev_id = row.current_revision_id.ok_or(CatalogueError::NotFound)?;
    let rev = repo::revision(c, rev_id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    Ok((row, rev))
}

fn status(row: &item::Model) -> Result<ItemStatus> {
    row.status
        .parse()
        .map_err(|e: myqcm_domain::catalogue::UnknownValue| {
            CatalogueError::Store(DbError::Backend(e.to_string()))
        })
}

fn facts(row: &item::Model, rev: &item_revision::Model) -> Result<ItemFacts> {
    Ok(ItemFacts {
        status: status(row)?,
        author_id: row.author_id,
        revision_author_id: rev.created_by,
    })
}

async fn staff_view<C: ConnectionTrait>(c: &C, row: &item::Model) -> Result<StaffItemView> {
    let (_, rev) = load(c, row.id).await?;
    let kcs = repo::item_kcs(c, row.id)
        .await?
        .into_iter()
        .map(|(n, w)| KcTag {
            id: n.id,
            code: n.code,
            weight: w,
        })
        .collect();
    Ok(StaffItemView {
        id: row.id,
        status: row.status.clone(),
        kind: row.kind.clone(),
        locale: row.locale.clone(),
        course_id: row.course_id,
        subject_id: row.subject_id,
        author_id: row.author_id,
        external_id: row.external_id.clone(),
        translation_group_id: row.translation_group_id,
        case_id: row.case_id,
        case_position: row.case_position,
        revision: RevisionView::build(&rev, parse_content(&rev)?),
        kcs,
        updated_at: row.updated_at,
    })
}

/// Search parameters as clients send them (codes, not ids).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// Subject code.
    pub subject: Option<String>,
    /// Course code.
    pub course: Option<String>,
    /// KC code.
    pub kc: Option<String>,
    /// `qcs`, `qcm`, `qroc`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// `easy`, `medium`, `hard`.
    pub difficulty: Option<String>,
    /// `fr`, `ar`, `en`.
    pub locale: Option<String>,
    /// Source kind (`book`, `series`, `exam`, `exam_style`, `td`…).
    pub source: Option<String>,
    /// Full-text words (all required).
    pub q: Option<String>,
    /// Status (staff listings only; comma-separated).
    pub status: Option<String>,
    /// Cursor: the `next` of the previous page.
    pub before: Option<Uuid>,
    /// Page size (1–100, default 20).
    pub limit: Option<u64>,
}

/// Turns client parameters into a repository filter; unknown codes or values are a 422.
pub async fn resolve_query(db: &DatabaseConnection, q: &ItemQuery) -> Result<SearchFilter> {
    let bad =
        |f: &str, m: String| CatalogueError::Invalid(vec![ContentError::new(f, "unknown", m)]);
    let mut f = SearchFilter {
        before: q.before,
        limit: q.limit.unwrap_or(20).clamp(1, 100),
        text: q.q.clone(),
        ..SearchFilter::default()
    };
    if let Some(s) = &q.subject {
        f.subject_id = Some(
            repo::subject_by_code(db, s)
                .await?
                .ok_or_else(|| bad("subject", format!("unknown subject {s}")))?
                .id,
        );
    }
    if let Some(c) = &q.course {
        f.course_id = Some(
            repo::course_by_code(db, c)
                .await?
                .ok_or_else(|| bad("course", format!("unknown course {c}")))?
                .id,
        );
    }
    if let Some(k) = &q.kc {
        f.kc_id = Some(
            repo::kc_by_code(db, k)
                .await?
                .ok_or_else(|| bad("kc", format!("unknown KC {k}")))?
                .id,
        );
    }
    if let Some(k) = &q.kind {
        f.kind = Some(
            k.parse::<myqcm_domain::catalogue::ItemKind>()
                .map_err(|e| bad("type", e.to_string()))?
                .as_str()
                .into(),
        );
    }
    if let Some(d) = &q.difficulty {
        f.difficulty = Some(
            d.parse::<myqcm_domain::catalogue::Difficulty>()
                .map_err(|e| bad("difficulty", e.to_string()))?
                .as_str()
                .into(),
        );
    }
    if let Some(l) = &q.locale {
        f.locale = Some(
            l.parse::<myqcm_domain::catalogue::Locale>()
                .map_err(|e| bad("locale", e.to_string()))?
                .as_str()
                .into(),
        );
    }
    f.source_kind = q.source.clone();
    if let Some(st) = &q.status {
        for s in st.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            f.statuses.push(
                s.parse::<ItemStatus>()
                    .map_err(|e| bad("status", e.to_string()))?
                    .as_str()
                    .into(),
            );
        }
    }
    Ok(f)
}

/// A new clinical case with its ordered sub-items (all created as drafts of the case's course).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewCaseInput {
    /// Course code.
    pub course: String,
    /// Locale of the case and its items.
    pub locale: String,
    /// Title.
    pub title: String,
    /// Scenario (markdown).
    pub scenario: String,
    /// Learning objectives.
    #[serde(default)]
    pub objectives: Vec<String>,
    /// Ordered sub-items (2 to 10); their `course` must be the case's.
    pub items: Vec<NewItemInput>,
    /// Stable import id.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A clinical case as staff see it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StaffCaseView {
    /// Case id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Scenario (markdown source).
    pub scenario: String,
    /// Rendered scenario (same renderer as learners).
    pub scenario_html: String,
    /// Objectives.
    pub objectives: Vec<String>,
    /// Sub-items in order (each goes through review on its own).
    pub items: Vec<StaffItemSummary>,
}

/// Creates a clinical case and its sub-items as drafts, in one transaction.
pub async fn create_case(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewCaseInput,
    now: DateTime<Utc>,
) -> Result<StaffCaseView> {
    staff_gate(actor)?;
    if !actor.can(Action::ItemAuthor) && !actor.can(Action::CatalogueManage) {
        return Err(CatalogueError::Forbidden);
    }
    let case_external_id = external_id_of(actor, input.external_id.as_deref(), "external_id")?;
    let item_external_ids = input
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            external_id_of(
                actor,
                it.external_id.as_deref(),
                &format!("items[{i}].external_id"),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut errs = Vec::new();
    if input.title.trim().is_empty() || input.scenario.trim().is_empty() {
        errs.push(ContentError::new(
            "scenario",
            "required",
            "A case has a title and a scenario.",
        ));
    }
    if !(2..=10).contains(&input.items.len()) {
        errs.push(ContentError::new(
            "items",
            "item_count",
            "A case has 2 to 10 items.",
        ));
    }
    for (i, it) in input.items.iter().enumerate() {
        if let Err(e) = it.content.validate() {
            errs.extend(e.into_iter().map(|x| ContentError {
                field: format!("items[{i}].{}", x.field),
                ..x
            }));
        }
        if it.course != input.course || it.content.locale.as_str() != input.locale {
            errs.push(ContentError::new(
                format!("items[{i}]"),
                "mismatch",
                "Sub-items share the case's course and locale.",
            ));
        }
    }
    if !errs.is_empty() {
        return Err(CatalogueError::Invalid(errs));
    }
    let txn = repo::begin_write(db).await?;
    let course = repo::course_by_code(&txn, input.course.trim())
        .await?
        .ok_or_else(|| {
            CatalogueError::Invalid(vec![ContentError::new(
                "course",
                "unknown",
                "Unknown course.",
            )])
        })?;
    let case = repo::upsert_case(
        &txn,
        repo::clinical_case::Model {
            id: Uuid::now_v7(),
            external_id: case_external_id,
            course_id: course.id,
            locale: input.locale.clone(),
            title: input.title.clone(),
            scenario: input.scenario.clone(),
            objectives: serde_json::to_string(&input.objectives).unwrap_or_default(),
            author_id: actor.id,
            created_at: now,
        },
    )
    .await?;
    for (pos, (it, external_id)) in input.items.into_iter().zip(item_external_ids).enumerate() {
        let kcs = resolve_kcs(&txn, course.subject_id, &it.kcs)
            .await
            .map_err(|e| {
                CatalogueError::Invalid(vec![ContentError {
                    field: format!("items[{pos}].{}", e.field),
                    ..e
                }])
            })?;
        let mut row = new_item_row(&it.content, &course, ItemStatus::Draft, actor.id, kcs);
        row.external_id = external_id;
        row.case = Some((case.id, i32::try_from(pos + 1).unwrap_or(i32::MAX)));
        let (item, rev) = repo::insert_item(&txn, row, now).await?;
        repo::add_event(
            &txn,
            item.id,
            Some(rev.id),
            actor.id,
            "edit",
            "created",
            now,
        )
        .await?;
    }
    let view = staff_case(&txn, actor, case.id).await?;
    txn.commit().await?;
    Ok(view)
}

/// A clinical case for staff (its author, reviewers, content admins).
pub async fn get_case_staff(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<StaffCaseView> {
    staff_case(db, actor, id).await
}

async fn staff_case<C: ConnectionTrait>(c: &C, actor: &Actor, id: Uuid) -> Result<StaffCaseView> {
    staff_gate(actor)?;
    let case = repo::case_by_id(c, id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    let own = case.author_id == actor.id && actor.can(Action::ItemAuthor);
    if !(own || actor.sees_all_items()) {
        return Err(CatalogueError::NotFound);
    }
    let items = repo::case_items(c, id).await?;
    Ok(StaffCaseView {
        id: case.id,
        scenario_html: crate::markdown::render(&case.scenario),
        title: case.title,
        scenario: case.scenario,
        objectives: serde_json::from_str(&case.objectives).unwrap_or_default(),
        items: items.iter().map(StaffItemSummary::from).collect(),
    })
}
