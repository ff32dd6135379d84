//! What the reviewer pages (`/review`) read in one call each: the queue of items awaiting
//! review, and one item with its current revision, a word diff of that revision against the one
//! the reviewer compares it with, why this reviewer may not decide (their own item, or not in
//! review), the review history and the learners' reports on it. Decisions themselves go through
//! [`super::transition`] and report triage through [`super::reports::triage`], like the API.

use std::time::Duration;

use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::catalogue::{self as repo, SearchFilter};
use myqcm_domain::catalogue::ItemContent;
use myqcm_domain::catalogue::lifecycle::{Actor, ItemFacts, decide};
use myqcm_domain::catalogue::{ItemStatus, LifecycleError, Transition};
use myqcm_domain::permissions::Action;
use similar::{ChangeTag, TextDiff};
use uuid::Uuid;

use super::views::{ReportView, ReviewEventView, RevisionView, StaffItemView};
use super::{CatalogueError, Result, parse_content, staff_gate};

/// Page size of the review queue.
pub const QUEUE_PAGE: u64 = 30;

/// Reviewers (and content staff), enrolled; others are refused.
fn reviewer_gate(actor: &Actor) -> Result<()> {
    staff_gate(actor)?;
    if actor.can(Action::ItemReview) {
        Ok(())
    } else {
        Err(CatalogueError::Forbidden)
    }
}

/// Whether the review pages may be shown at all.
pub fn may_review(actor: &Actor) -> Result<()> {
    reviewer_gate(actor)
}

/// Whether the report triage page may be shown at all.
pub fn may_triage(actor: &Actor) -> Result<()> {
    staff_gate(actor)?;
    if actor.can(Action::ReportTriage) {
        Ok(())
    } else {
        Err(CatalogueError::Forbidden)
    }
}

/// One row of the review queue.
#[derive(Debug, Clone)]
pub struct QueueRow {
    /// Item id.
    pub id: Uuid,
    /// Kind.
    pub kind: String,
    /// Locale.
    pub locale: String,
    /// The stem's first characters (source text).
    pub excerpt: String,
    /// Submitted (last change).
    pub updated_at: DateTime<Utc>,
    /// The viewer wrote the item or its current revision: someone else must review it.
    pub own: bool,
}

/// A page of the review queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    /// Rows, newest first.
    pub rows: Vec<QueueRow>,
    /// Cursor of the next page.
    pub next: Option<Uuid>,
}

/// Items awaiting review (every author's), newest first.
pub async fn queue(
    db: &DatabaseConnection,
    actor: &Actor,
    before: Option<Uuid>,
) -> Result<QueuePage> {
    reviewer_gate(actor)?;
    let f = SearchFilter {
        statuses: vec![ItemStatus::InReview.as_str().into()],
        before,
        limit: QUEUE_PAGE,
        ..SearchFilter::default()
    };
    let items = repo::search(db, &f).await?;
    let next = (items.len() as u64 >= QUEUE_PAGE)
        .then(|| items.last().map(|r| r.id))
        .flatten();
    let revs = repo::revisions_by_ids(
        db,
        items.iter().filter_map(|r| r.current_revision_id).collect(),
    )
    .await?;
    let mut rows = Vec::with_capacity(items.len());
    for r in items {
        let rev = revs.iter().find(|v| Some(v.id) == r.current_revision_id);
        let stem = match rev {
            Some(v) => parse_content(v)?.stem,
            None => String::new(),
        };
        rows.push(QueueRow {
            own: r.author_id == actor.id || rev.is_some_and(|v| v.created_by == actor.id),
            id: r.id,
            kind: r.kind,
            locale: r.locale,
            excerpt: super::desk::excerpt(&stem),
            updated_at: r.updated_at,
        });
    }
    Ok(QueuePage { rows, next })
}

/// How a piece of text fares between two revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffMark {
    /// In both.
    Same,
    /// Only in the older revision.
    Removed,
    /// Only in the newer revision.
    Added,
}

/// A run of text with its mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffSpan {
    /// Source text (markdown, shown as text).
    pub text: String,
    /// Same, removed or added.
    pub mark: DiffMark,
}

impl DiffSpan {
    /// Whether the span was removed (older side).
    pub fn removed(&self) -> bool {
        self.mark == DiffMark::Removed
    }

    /// Whether the span was added (newer side).
    pub fn added(&self) -> bool {
        self.mark == DiffMark::Added
    }
}

/// One field of the side-by-side comparison.
#[derive(Debug, Clone)]
pub struct DiffRow {
    /// `stem`, `option`, `option_key`, `option_explanation`, `qroc`, `explanation`,
    /// `references`, `difficulty`, `seconds`, `source`. Key rows hold `correct`/`incorrect`.
    pub field: &'static str,
    /// The option's position (0-based) for option rows.
    pub index: Option<usize>,
    /// The older side: unchanged and removed runs.
    pub old: Vec<DiffSpan>,
    /// The newer side: unchanged and added runs.
    pub new: Vec<DiffSpan>,
    /// Whether anything differs.
    pub changed: bool,
}

/// The revision under review compared with an earlier one.
#[derive(Debug, Clone)]
pub struct RevisionDiff {
    /// The earlier revision.
    pub base: RevisionView,
    /// Every field, changed or not, in reading order.
    pub rows: Vec<DiffRow>,
}

impl RevisionDiff {
    /// Whether any field changed.
    pub fn any_change(&self) -> bool {
        self.rows.iter().any(|r| r.changed)
    }
}

/// Word diff of one field: the old side keeps equal and deleted words, the new side equal and
/// inserted ones. A pathological input gives up after 200 ms and is shown as a whole change.
fn word_diff(field: &'static str, index: Option<usize>, old: &str, new: &str) -> DiffRow {
    let diff = TextDiff::configure()
        .timeout(Duration::from_millis(200))
        .diff_words(old, new);
    let (mut o, mut n) = (Vec::<DiffSpan>::new(), Vec::<DiffSpan>::new());
    fn push(side: &mut Vec<DiffSpan>, text: &str, mark: DiffMark) {
        match side.last_mut() {
            Some(last) if last.mark == mark => last.text.push_str(text),
            _ => side.push(DiffSpan {
                text: text.to_owned(),
                mark,
            }),
        }
    }
    for c in diff.iter_all_changes() {
        match c.tag() {
            ChangeTag::Equal => {
                push(&mut o, c.value(), DiffMark::Same);
                push(&mut n, c.value(), DiffMark::Same);
            }
            ChangeTag::Delete => push(&mut o, c.value(), DiffMark::Removed),
            ChangeTag::Insert => push(&mut n, c.value(), DiffMark::Added),
        }
    }
    DiffRow {
        field,
        index,
        changed: old != new,
        old: o,
        new: n,
    }
}

fn key(correct: Option<bool>) -> &'static str {
    match correct {
        Some(true) => "correct",
        Some(false) => "incorrect",
        None => "",
    }
}

/// Compares two contents field by field (stem, each option's text, key and explanation, the
/// QROC answer, the explanation, references, difficulty, time, source), in reading order.
pub fn diff(old: &ItemContent, new: &ItemContent) -> Vec<DiffRow> {
    let mut rows = vec![word_diff("stem", None, &old.stem, &new.stem)];
    for i in 0..old.options.len().max(new.options.len()) {
        let (a, b) = (old.options.get(i), new.options.get(i));
        let text = |o: Option<&myqcm_domain::catalogue::OptionSpec>| {
            o.map(|o| o.text.clone()).unwrap_or_default()
        };
        let why = |o: Option<&myqcm_domain::catalogue::OptionSpec>| {
            o.map(|o| o.explanation.clone()).unwrap_or_default()
        };
        rows.push(word_diff("option", Some(i), &text(a), &text(b)));
        rows.push(word_diff(
            "option_key",
            Some(i),
            key(a.map(|o| o.correct)),
            key(b.map(|o| o.correct)),
        ));
        rows.push(word_diff("option_explanation", Some(i), &why(a), &why(b)));
    }
    let qroc = |c: &ItemContent| {
        c.qroc.as_ref().map_or_else(String::new, |q| {
            std::iter::once(q.expected.as_str())
                .chain(q.variants.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" | ")
        })
    };
    if old.qroc.is_some() || new.qroc.is_some() {
        rows.push(word_diff("qroc", None, &qroc(old), &qroc(new)));
    }
    rows.push(word_diff(
        "explanation",
        None,
        &old.explanation,
        &new.explanation,
    ));
    rows.push(word_diff(
        "references",
        None,
        &old.references.join("\n"),
        &new.references.join("\n"),
    ));
    rows.push(word_diff(
        "difficulty",
        None,
        old.difficulty.as_str(),
        new.difficulty.as_str(),
    ));
    rows.push(word_diff(
        "seconds",
        None,
        &old.estimated_seconds.to_string(),
        &new.estimated_seconds.to_string(),
    ));
    let source = |c: &ItemContent| {
        [c.source.kind.as_deref(), c.source.label.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ")
    };
    rows.push(word_diff("source", None, &source(old), &source(new)));
    rows
}

/// Why the viewer may not approve, reject or decline the item now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// They wrote the item or its current revision.
    OwnItem,
    /// The item is not waiting for review.
    NotInReview,
}

/// An item as the reviewer's page shows it.
#[derive(Debug, Clone)]
pub struct BenchItem {
    /// The item and its current revision (with the rendered preview).
    pub item: StaffItemView,
    /// Course code.
    pub course: String,
    /// The current revision against the base revision; `None` for a first revision.
    pub diff: Option<RevisionDiff>,
    /// Why the viewer may not decide, if so.
    pub blocked: Option<Blocked>,
    /// Review history (comments, moves), oldest first.
    pub history: Vec<ReviewEventView>,
    /// Learners' reports on the item, newest first (empty without triage power).
    pub reports: Vec<ReportView>,
}

/// Review moves compared against.
const DECISIONS: [&str; 3] = ["approve", "reject", "decline"];

/// One item for the reviewer. The base of the comparison is the revision of the last review
/// decision (what a reviewer last saw) when the item changed since, else the revision before
/// the current one.
pub async fn item(db: &DatabaseConnection, actor: &Actor, id: Uuid) -> Result<BenchItem> {
    reviewer_gate(actor)?;
    let item = super::get_staff(db, actor, id).await?;
    let history = super::history(db, actor, id).await?;
    let revisions = super::revisions(db, actor, id).await?;
    let current = &item.revision;
    let reviewed = history
        .iter()
        .rev()
        .find(|e| DECISIONS.contains(&e.kind.as_str()))
        .and_then(|e| e.revision_id)
        .filter(|r| *r != current.id);
    let base = reviewed
        .and_then(|r| revisions.iter().find(|v| v.id == r))
        .or_else(|| revisions.iter().rev().find(|v| v.number < current.number));
    let diff = base.map(|b| RevisionDiff {
        rows: diff(&b.content, &current.content),
        base: b.clone(),
    });
    let facts = ItemFacts {
        status: item
            .status
            .parse()
            .map_err(|_| CatalogueError::WrongState("unknown stored status".into()))?,
        author_id: item.author_id,
        revision_author_id: current.created_by,
    };
    let blocked = match decide(actor, facts, Transition::Approve, None) {
        Ok(_) => None,
        Err(LifecycleError::OwnItem) => Some(Blocked::OwnItem),
        Err(LifecycleError::WrongState { .. }) => Some(Blocked::NotInReview),
        Err(e) => return Err(e.into()),
    };
    let reports = if actor.can(Action::ReportTriage) {
        repo::reports_for_item(db, id, 100)
            .await?
            .into_iter()
            .map(Into::into)
            .collect()
    } else {
        Vec::new()
    };
    let course = repo::course_by_id(db, item.course_id)
        .await?
        .map(|c| c.code)
        .unwrap_or_default();
    Ok(BenchItem {
        item,
        course,
        diff,
        blocked,
        history,
        reports,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn content(stem: &str, key: [bool; 2]) -> ItemContent {
        serde_json::from_value(serde_json::json!({
            "kind": "qcm", "locale": "fr", "difficulty": "easy", "estimated_seconds": 40,
            "stem": stem,
            "options": [{"text": "MAPA", "correct": key[0]}, {"text": "Écho", "correct": key[1]}]
        }))
        .unwrap()
    }

    #[test]
    fn a_changed_word_is_removed_on_one_side_and_added_on_the_other() {
        let rows = diff(
            &content("Quel examen confirme une HTA ?", [true, false]),
            &content("Quel examen affirme une HTA ?", [true, true]),
        );
        let stem = &rows[0];
        assert!(stem.changed);
        let removed: Vec<_> = stem.old.iter().filter(|s| s.removed()).collect();
        let added: Vec<_> = stem.new.iter().filter(|s| s.added()).collect();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].text, "confirme");
        assert_eq!(added[0].text, "affirme");
        assert!(stem.new.iter().any(|s| s.text.contains("HTA")));
        let key = rows
            .iter()
            .find(|r| r.field == "option_key" && r.index == Some(1))
            .unwrap();
        assert!(key.changed);
        assert_eq!(key.new[0].text, "correct");
        assert!(
            !rows
                .iter()
                .find(|r| r.field == "option" && r.index == Some(0))
                .unwrap()
                .changed
        );
    }

    #[test]
    fn an_added_option_shows_as_added_text() {
        let mut b = content("S", [true, false]);
        b.options.push(b.options[0].clone());
        let rows = diff(&content("S", [true, false]), &b);
        let third = rows
            .iter()
            .find(|r| r.field == "option" && r.index == Some(2))
            .unwrap();
        assert!(third.changed && third.old.is_empty());
        assert!(third.new.iter().all(DiffSpan::added));
    }
}
