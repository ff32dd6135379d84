//! What the author pages (`/author`) read in one call each: the author's items with a status
//! filter (including "changes requested": a draft whose last review event is a rejection) and a
//! line of the stem, the choices of the item editor (courses and KCs grouped by subject), an
//! item with its history and revisions, and the preview of content that may not be valid yet
//! (through the one renderer learners see).

use myqcm_db::DatabaseConnection;
use myqcm_db::catalogue::{self as repo, SearchFilter};
use myqcm_domain::catalogue::ItemContent;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use uuid::Uuid;

use super::curriculum::{CourseView, KcNodeView};
use super::views::{Names, RenderedContent, ReviewEventView, RevisionView, StaffItemView};
use super::{CatalogueError, Result, parse_content, staff_gate};

/// Status filters of the author's list.
pub const STATUS_FILTERS: [&str; 5] = [
    "draft",
    "in_review",
    "changes_requested",
    "approved",
    "retired",
];

/// One row of the author's list.
#[derive(Debug, Clone)]
pub struct DeskRow {
    /// Item id.
    pub id: Uuid,
    /// Status, with `changes_requested` for a draft sent back by a reviewer.
    pub status: String,
    /// Kind.
    pub kind: String,
    /// Locale.
    pub locale: String,
    /// The stem's first characters (source text).
    pub excerpt: String,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A page of the author's list.
#[derive(Debug, Clone)]
pub struct DeskPage {
    /// Rows.
    pub rows: Vec<DeskRow>,
    /// Cursor of the next page.
    pub next: Option<Uuid>,
}

/// The filter of the author's list.
#[derive(Debug, Clone, Default)]
pub struct DeskQuery {
    /// One of [`STATUS_FILTERS`], or empty for all.
    pub status: String,
    /// Words to find.
    pub q: String,
    /// Cursor.
    pub before: Option<Uuid>,
}

/// Page size of the author's list.
pub const DESK_PAGE: u64 = 20;

/// Authors (and content staff) only; staff without TOTP are refused by [`staff_gate`].
fn author_gate(actor: &Actor) -> Result<()> {
    staff_gate(actor)?;
    if actor.can(Action::ItemAuthor) || actor.can(Action::CatalogueManage) {
        Ok(())
    } else {
        Err(CatalogueError::Forbidden)
    }
}

/// Whether the page may be shown at all (authors and content staff, enrolled when staff).
pub fn may_author(actor: &Actor) -> Result<()> {
    author_gate(actor)
}

pub(crate) fn excerpt(stem: &str) -> String {
    let line = stem.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = line.chars().take(90).collect();
    if line.chars().count() > 90 {
        out.push('…');
    }
    out
}

/// Whether the last lifecycle move of the item was a rejection (edits and comments since then
/// do not count: the changes stay requested until the author submits again).
async fn sent_back(db: &DatabaseConnection, id: Uuid) -> Result<bool> {
    let events = repo::events(db, id).await?;
    Ok(events
        .iter()
        .rev()
        .find(|e| !matches!(e.kind.as_str(), "comment" | "edit"))
        .is_some_and(|e| e.kind == "reject"))
}

/// The author's own items (every author sees only theirs here, whatever other powers they hold).
pub async fn my_items(db: &DatabaseConnection, actor: &Actor, q: &DeskQuery) -> Result<DeskPage> {
    author_gate(actor)?;
    let wanted = q.status.as_str();
    let store_status = match wanted {
        "changes_requested" => Some("draft"),
        s if STATUS_FILTERS.contains(&s) => Some(s),
        _ => None,
    };
    let f = SearchFilter {
        statuses: store_status.map(|s| vec![s.to_owned()]).unwrap_or_default(),
        author_id: Some(actor.id),
        text: Some(q.q.trim().to_owned()).filter(|t| !t.is_empty()),
        before: q.before,
        limit: DESK_PAGE,
        ..SearchFilter::default()
    };
    let items = repo::search(db, &f).await?;
    let next = (items.len() as u64 >= DESK_PAGE)
        .then(|| items.last().map(|r| r.id))
        .flatten();
    let revs = repo::revisions_by_ids(
        db,
        items.iter().filter_map(|r| r.current_revision_id).collect(),
    )
    .await?;
    let mut rows = Vec::with_capacity(items.len());
    for r in items {
        let back = r.status == "draft" && sent_back(db, r.id).await?;
        if wanted == "draft" && back || wanted == "changes_requested" && !back {
            continue;
        }
        let stem = match revs.iter().find(|v| Some(v.id) == r.current_revision_id) {
            Some(v) => parse_content(v)?.stem,
            None => String::new(),
        };
        rows.push(DeskRow {
            id: r.id,
            status: if back {
                "changes_requested".into()
            } else {
                r.status
            },
            kind: r.kind,
            locale: r.locale,
            excerpt: excerpt(&stem),
            updated_at: r.updated_at,
        });
    }
    Ok(DeskPage { rows, next })
}

/// A subject's courses and KCs, for the editor's pickers.
#[derive(Debug, Clone)]
pub struct SubjectChoices {
    /// Subject code.
    pub code: String,
    /// Names.
    pub names: Names,
    /// Its courses.
    pub courses: Vec<CourseView>,
    /// Its KCs (leaf level).
    pub kcs: Vec<KcNodeView>,
}

/// The editor's choices: every subject with its courses and KCs.
pub async fn editor_choices(db: &DatabaseConnection, actor: &Actor) -> Result<Vec<SubjectChoices>> {
    author_gate(actor)?;
    let tree = super::curriculum::tree(db, None).await?;
    let mut out = Vec::with_capacity(tree.subjects.len());
    for s in tree.subjects {
        let kcs = super::curriculum::kc_tree(db, &s.code)
            .await?
            .into_iter()
            .filter(|k| k.level == "kc")
            .collect();
        out.push(SubjectChoices {
            code: s.code,
            names: s.names,
            courses: s.courses,
            kcs,
        });
    }
    Ok(out)
}

/// An item as its editor page shows it.
#[derive(Debug, Clone)]
pub struct DeskItem {
    /// The item and its current revision.
    pub item: StaffItemView,
    /// Course code (the editor shows it; it cannot change).
    pub course: String,
    /// Sent back by a reviewer and not resubmitted.
    pub changes_requested: bool,
    /// Review history (comments, moves), oldest first.
    pub history: Vec<ReviewEventView>,
    /// Every revision, oldest first.
    pub revisions: Vec<RevisionView>,
    /// The choices of the editor.
    pub choices: Vec<SubjectChoices>,
}

/// One item for its editor page.
pub async fn item(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<DeskItem> {
    author_gate(actor)?;
    let item = super::get_staff(db, actor, id).await?;
    let course = repo::course_by_id(db, item.course_id)
        .await?
        .map(|c| c.code)
        .unwrap_or_default();
    Ok(DeskItem {
        changes_requested: item.status == "draft" && sent_back(db, id).await?,
        history: super::history(db, actor, id).await?,
        revisions: super::revisions(db, actor, id).await?,
        choices: editor_choices(db, actor).await?,
        course,
        item,
    })
}

/// The preview of content being written (valid or not), through the learners' renderer.
pub fn preview(actor: &Actor, content: &ItemContent) -> Result<RenderedContent> {
    author_gate(actor)?;
    Ok(RenderedContent::of(content))
}
