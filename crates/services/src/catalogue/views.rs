//! What the catalogue hands out. Learner views (`Learner*`) are built from the revision content
//! field by field and never carry correctness, option explanations, the general explanation or
//! the QROC answer; staff views carry everything plus the rendered preview.

use chrono::{DateTime, Utc};
use myqcm_db::catalogue::{item, item_revision};
use myqcm_domain::catalogue::ItemContent;
use serde::Serialize;
use uuid::Uuid;

use crate::markdown::render;

/// A name in the three interface languages.
pub type Names = serde_json::Value;

/// An option as a learner sees it before answering.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LearnerOptionView {
    /// Position (0-based), used to answer.
    pub index: usize,
    /// Rendered, sanitized text.
    pub text_html: String,
}

/// An item as a learner sees it before answering.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LearnerItemView {
    /// Item id.
    pub id: Uuid,
    /// The revision shown (attempts reference it).
    pub revision_id: Uuid,
    /// `qcs`, `qcm`, `qroc`.
    pub kind: String,
    /// Language.
    pub locale: String,
    /// Course.
    pub course_id: Uuid,
    /// Subject.
    pub subject_id: Uuid,
    /// Author's difficulty.
    pub difficulty: String,
    /// Expected time.
    pub estimated_seconds: i32,
    /// Rendered stem.
    pub stem_html: String,
    /// Options (empty for QROC).
    pub options: Vec<LearnerOptionView>,
    /// Clinical case and position, for case sub-items.
    pub case_id: Option<Uuid>,
    /// Position in the case (1-based).
    pub case_position: Option<i32>,
    /// Linked translations (approved ones): locale and item id.
    pub translations: Vec<TranslationLink>,
}

/// A link to a translation of the same question.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TranslationLink {
    /// Item id.
    pub id: Uuid,
    /// Its language.
    pub locale: String,
}

impl LearnerItemView {
    /// Builds the learner view of `row` at revision `rev`.
    pub fn build(
        row: &item::Model,
        rev: &item_revision::Model,
        content: &ItemContent,
        translations: Vec<TranslationLink>,
    ) -> Self {
        Self {
            id: row.id,
            revision_id: rev.id,
            kind: row.kind.clone(),
            locale: row.locale.clone(),
            course_id: row.course_id,
            subject_id: row.subject_id,
            difficulty: row.difficulty.clone(),
            estimated_seconds: content.estimated_seconds,
            stem_html: render(&content.stem),
            options: content
                .options
                .iter()
                .enumerate()
                .map(|(index, o)| LearnerOptionView {
                    index,
                    text_html: render(&o.text),
                })
                .collect(),
            case_id: row.case_id,
            case_position: row.case_position,
            translations,
        }
    }
}

/// A clinical case as a learner sees it: scenario, objectives and the ordered sub-items.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LearnerCaseView {
    /// Case id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Rendered scenario.
    pub scenario_html: String,
    /// Learning objectives.
    pub objectives: Vec<String>,
    /// Sub-items in order.
    pub items: Vec<LearnerItemView>,
}

/// Rendered content for the reviewer preview (same renderer as learners).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RenderedContent {
    /// Stem.
    pub stem_html: String,
    /// Option texts.
    pub options_html: Vec<String>,
    /// Option explanations.
    pub option_explanations_html: Vec<String>,
    /// General explanation.
    pub explanation_html: String,
}

impl RenderedContent {
    /// Renders every markdown field of `c`.
    pub fn of(c: &ItemContent) -> Self {
        Self {
            stem_html: render(&c.stem),
            options_html: c.options.iter().map(|o| render(&o.text)).collect(),
            option_explanations_html: c.options.iter().map(|o| render(&o.explanation)).collect(),
            explanation_html: render(&c.explanation),
        }
    }
}

/// One immutable revision, with its content and the preview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RevisionView {
    /// Revision id.
    pub id: Uuid,
    /// 1, 2, …
    pub number: i32,
    /// Who wrote it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Source content (markdown), including the key.
    #[schema(value_type = Object)]
    pub content: ItemContent,
    /// The same content rendered.
    pub rendered: RenderedContent,
}

impl RevisionView {
    /// Builds the view.
    pub fn build(rev: &item_revision::Model, content: ItemContent) -> Self {
        Self {
            id: rev.id,
            number: rev.number,
            created_by: rev.created_by,
            created_at: rev.created_at,
            rendered: RenderedContent::of(&content),
            content,
        }
    }
}

/// A KC tag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KcTag {
    /// KC id.
    pub id: Uuid,
    /// KC code.
    pub code: String,
    /// Weight (tags of an item add up to 1).
    pub weight: f64,
}

/// An item as staff (its author, reviewers, content admins) see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffItemView {
    /// Item id.
    pub id: Uuid,
    /// Lifecycle status.
    pub status: String,
    /// Kind.
    pub kind: String,
    /// Locale.
    pub locale: String,
    /// Course.
    pub course_id: Uuid,
    /// Subject.
    pub subject_id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Import id.
    pub external_id: Option<String>,
    /// Translation group.
    pub translation_group_id: Uuid,
    /// Clinical case.
    pub case_id: Option<Uuid>,
    /// Position in the case.
    pub case_position: Option<i32>,
    /// Current revision.
    pub revision: RevisionView,
    /// KC tags.
    pub kcs: Vec<KcTag>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A row of a staff listing (no content).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffItemSummary {
    /// Item id.
    pub id: Uuid,
    /// Status.
    pub status: String,
    /// Kind.
    pub kind: String,
    /// Locale.
    pub locale: String,
    /// Course.
    pub course_id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Difficulty.
    pub difficulty: String,
    /// Import id.
    pub external_id: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&item::Model> for StaffItemSummary {
    fn from(r: &item::Model) -> Self {
        Self {
            id: r.id,
            status: r.status.clone(),
            kind: r.kind.clone(),
            locale: r.locale.clone(),
            course_id: r.course_id,
            author_id: r.author_id,
            difficulty: r.difficulty.clone(),
            external_id: r.external_id.clone(),
            updated_at: r.updated_at,
        }
    }
}

/// One page of results and the cursor for the next one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `before` to get the next page; absent on the last page.
    pub next: Option<Uuid>,
}

/// One entry of an item's review history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewEventView {
    /// Event id.
    pub id: Uuid,
    /// Revision concerned.
    pub revision_id: Option<Uuid>,
    /// Who.
    pub actor_id: Uuid,
    /// `submit`, `withdraw`, `approve`, `reject`, `edit`, `retire`, `comment`.
    pub kind: String,
    /// Comment or reason.
    pub body: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A report as its reporter or triage sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportView {
    /// Report id.
    pub id: Uuid,
    /// Item reported.
    pub item_id: Uuid,
    /// Revision the learner saw.
    pub revision_id: Uuid,
    /// `wrong_key`, `typo`, `outdated`, `other`.
    pub category: String,
    /// Learner's text.
    pub body: String,
    /// `open`, `accepted`, `rejected`, `fixed`.
    pub status: String,
    /// Triage's answer, shown to the reporter.
    pub resolution: Option<String>,
    /// Filed.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<myqcm_db::catalogue::item_report::Model> for ReportView {
    fn from(r: myqcm_db::catalogue::item_report::Model) -> Self {
        Self {
            id: r.id,
            item_id: r.item_id,
            revision_id: r.revision_id,
            category: r.category,
            body: r.body,
            status: r.status,
            resolution: r.resolution,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
