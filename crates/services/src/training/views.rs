//! What the training use cases hand out. A served item (`ServedItemView`) is learner-safe: it
//! carries no key, no QROC answer, no explanation and, for a clinical case, only the scenario
//! and the current sub-item. `Feedback` (keys, answers, explanations) is only built from a
//! stored attempt or a closed item.

use chrono::{DateTime, Utc};
use myqcm_domain::training::SessionParams;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A learner's profile (the onboarding answers).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    /// University.
    pub university_id: Option<Uuid>,
    /// Faculty.
    pub faculty_id: Option<Uuid>,
    /// Year of study (1–7).
    pub year_of_study: Option<i32>,
    /// Exam date (`YYYY-MM-DD`).
    pub exam_date: Option<String>,
    /// Daily time budget, in minutes.
    pub daily_minutes: Option<i32>,
    /// Preferred learning mode (code).
    pub mode: String,
    /// Whether onboarding is complete (a year of study is set).
    pub complete: bool,
}

/// What onboarding and the settings page send.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// University.
    #[serde(default)]
    pub university_id: Option<Uuid>,
    /// Faculty (must belong to the university when both are given).
    #[serde(default)]
    pub faculty_id: Option<Uuid>,
    /// Faculty by code (`GET /api/v1/institutions`); sets the university too and wins over
    /// `faculty_id`. An unknown code is refused on `faculty`.
    #[serde(default)]
    pub faculty: Option<String>,
    /// Year of study (1–7).
    pub year_of_study: i32,
    /// Exam date (`YYYY-MM-DD`, today or later).
    #[serde(default)]
    pub exam_date: Option<String>,
    /// Daily time budget, in minutes (5–600).
    #[serde(default)]
    pub daily_minutes: Option<i32>,
    /// Preferred learning mode (code; default `guided`).
    #[serde(default)]
    pub mode: Option<String>,
}

/// A learning mode: names and the definer of each session parameter.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModeView {
    /// Code (`custom`, `guided`, `intelligent`, …).
    pub code: String,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: serde_json::Value,
    /// Definer per parameter (`user`, `engine`, `item_default`).
    #[schema(value_type = Object)]
    pub definers: myqcm_domain::training::Definers,
    /// Display order.
    pub sort_order: i32,
}

/// An admin's edit of a learning mode.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeInput {
    /// Names per locale (`fr`, `en`, `ar`).
    #[schema(value_type = Object)]
    pub names: serde_json::Value,
    /// Definer per parameter.
    #[schema(value_type = Object)]
    pub definers: myqcm_domain::training::Definers,
    /// Display order.
    #[serde(default)]
    pub sort_order: i32,
}

/// A new training session.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSessionInput {
    /// Learning mode code (default: the profile's).
    #[serde(default)]
    pub mode: Option<String>,
    /// `tutor`, `exam` or `review`.
    #[schema(value_type = String)]
    pub style: myqcm_domain::training::Style,
    /// Filters, count, timing.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub request: myqcm_domain::training::SessionRequest,
}

/// An answer to the item currently served.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// The served item answered (`served_id` of the current item).
    pub served_id: Uuid,
    /// Selected option ids (QCS, QCM).
    #[serde(default)]
    pub options: Option<Vec<usize>>,
    /// Text (QROC).
    #[serde(default)]
    pub text: Option<String>,
}

/// One option as a learner sees it before answering.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ServedOption {
    /// Stable option id (send it back to answer).
    pub id: usize,
    /// Letter in display order (`A`, `B`, …).
    pub label: String,
    /// Rendered text.
    pub text_html: String,
}

/// The clinical case an item belongs to: scenario and progress, never later sub-items.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CaseContext {
    /// Case id.
    pub case_id: Uuid,
    /// Title.
    pub title: String,
    /// Rendered scenario.
    pub scenario_html: String,
    /// This sub-item's place (1-based).
    pub step: i32,
    /// Number of sub-items.
    pub size: i32,
}

/// Why this item was served.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReasonView {
    /// `due_review`, `weak_kc`, `most_informative`, `blueprint_gap`, `exploration`,
    /// `case_continuation`.
    pub code: String,
    /// The sentence, in the item's language.
    pub text: String,
}

/// The item waiting for an answer, as the learner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ServedItemView {
    /// Id of this serving (send it with the answer, skip, flag or note).
    pub served_id: Uuid,
    /// Place in the session (1-based).
    pub position: i32,
    /// Item.
    pub item_id: Uuid,
    /// Revision shown.
    pub revision_id: Uuid,
    /// `qcs`, `qcm`, `qroc`.
    pub kind: String,
    /// Language.
    pub locale: String,
    /// Author's difficulty.
    pub difficulty: String,
    /// The item's estimated time (seconds).
    pub estimated_seconds: i32,
    /// The session's advisory time per item, when it has one.
    pub per_item_seconds: Option<u32>,
    /// Rendered stem.
    pub stem_html: String,
    /// Options in display order (empty for a QROC).
    pub options: Vec<ServedOption>,
    /// Clinical case context.
    pub case: Option<CaseContext>,
    /// Why this item.
    pub reason: ReasonView,
    /// Flagged by the learner.
    pub flagged: bool,
    /// The learner's note.
    pub note: Option<String>,
}

/// One option after the attempt.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OptionFeedback {
    /// Stable option id.
    pub id: usize,
    /// Letter in display order.
    pub label: String,
    /// Rendered text.
    pub text_html: String,
    /// Part of the key.
    pub correct: bool,
    /// Selected by the learner.
    pub selected: bool,
    /// Why it is right or wrong (when explanations are allowed).
    pub explanation_html: Option<String>,
}

/// Keys, answers and explanations: only once the attempt is stored (or the item closed).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Feedback {
    /// Options with the key, in display order.
    pub options: Vec<OptionFeedback>,
    /// QROC: the expected answer, accepted variants and unit.
    pub expected_answer: Option<ExpectedAnswer>,
    /// General explanation (when allowed).
    pub explanation_html: Option<String>,
    /// References.
    pub references: Vec<String>,
}

/// What a QROC expected.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ExpectedAnswer {
    /// Reference answer.
    pub text: String,
    /// Other accepted wordings.
    pub variants: Vec<String>,
    /// Unit of a numeric answer.
    pub unit: Option<String>,
}

/// The stored grade of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GradeView {
    /// Graded (false: an empty QROC answer or an unavailable grader).
    pub graded: bool,
    /// Score in [0, 1].
    pub ratio: Option<f64>,
    /// Label.
    pub correct: Option<bool>,
    /// `exact`, `llm`, `human`.
    pub grader: Option<String>,
    /// Why it is ungraded (`blank`, `grader_unavailable`).
    pub ungraded_reason: Option<String>,
}

/// A wider filter that would give more items.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Widening {
    /// The filter to drop: `pool`, `kinds`, `difficulties`, `sources`, `kcs`, `courses`.
    pub drop: String,
    /// Items (or cases) not yet served that it would add.
    pub available: u64,
}

/// Why there is no next item.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EndView {
    /// `finished`, `pool_exhausted`, `time_up`, `stopped`, `expired`.
    pub reason: String,
    /// When the pool ran dry: wider filters that would help.
    pub widen: Vec<Widening>,
}

/// What follows an answer or a skip.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Next {
    /// The next item.
    Item(Box<ServedItemView>),
    /// The session is over.
    End(EndView),
}

/// The response to an answer: the grade and feedback the style allows, and what comes next.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnswerOutcome {
    /// The served item answered.
    pub served_id: Uuid,
    /// This is the stored result of an earlier identical submission.
    pub repeat: bool,
    /// Grade (absent in exam sessions until the end).
    pub grade: Option<GradeView>,
    /// Keys and explanations (absent in exam sessions until the end).
    pub feedback: Option<Feedback>,
    /// What comes next.
    pub next: Next,
}

/// A session as its learner sees it (builder result, resume, player state).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// Learning mode code.
    pub mode: String,
    /// `tutor`, `exam`, `review`.
    pub style: String,
    /// `active`, `paused`, `completed`, `expired`.
    pub status: String,
    /// Subject (none for review sessions).
    pub subject_id: Option<Uuid>,
    /// Resolved parameters.
    #[schema(value_type = Object)]
    pub params: SessionParams,
    /// Items served so far.
    pub served: i32,
    /// Scoring rule version.
    pub rule_version: String,
    /// Exam deadline.
    pub deadline_at: Option<DateTime<Utc>>,
    /// Exam time left (ms), frozen while paused.
    pub remaining_ms: Option<i64>,
    /// The exam time is over (the next action ends the session).
    pub time_up: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The item waiting for an answer.
    pub current: Option<ServedItemView>,
    /// Why it ended.
    pub end: Option<EndView>,
}

/// A row of the learner's session list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionListRow {
    /// Session id.
    pub id: Uuid,
    /// Mode.
    pub mode: String,
    /// Style.
    pub style: String,
    /// Status.
    pub status: String,
    /// End reason.
    pub end_reason: Option<String>,
    /// Subject.
    pub subject_id: Option<Uuid>,
    /// Items served.
    pub served: i32,
    /// Requested count.
    pub item_count: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Per-KC results of a session.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KcBreakdown {
    /// KC id.
    pub kc_id: Uuid,
    /// KC code.
    pub code: String,
    /// Graded answers on items tagged with it.
    pub graded: u32,
    /// Of which correct.
    pub correct: u32,
    /// Mean score.
    pub mean_score: f64,
}

/// The completion summary.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SummaryView {
    /// Session id.
    pub id: Uuid,
    /// Style.
    pub style: String,
    /// Status.
    pub status: String,
    /// End reason.
    pub end_reason: Option<String>,
    /// Items served.
    pub served: u32,
    /// Answers stored (graded or not).
    pub answered: u32,
    /// Graded answers.
    pub graded: u32,
    /// Correct (by label).
    pub correct: u32,
    /// Incorrect (by label).
    pub incorrect: u32,
    /// Stored without a grade.
    pub ungraded: u32,
    /// Skipped.
    pub skipped: u32,
    /// Flagged.
    pub flagged: u32,
    /// % correct among graded answers (labels).
    pub percent_correct: Option<f64>,
    /// Mean score among graded answers.
    pub mean_score: Option<f64>,
    /// Total answering time (ms).
    pub time_spent_ms: i64,
    /// Per-KC breakdown.
    pub per_kc: Vec<KcBreakdown>,
}

/// One served item in the replay of a session, with the learner's answer and the key.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReviewedItem {
    /// The item as served.
    pub item: ServedItemView,
    /// `answered`, `skipped` or `served` (still open).
    pub state: String,
    /// The learner's options (ids).
    pub selected: Vec<usize>,
    /// The learner's text.
    pub text: Option<String>,
    /// Grade.
    pub grade: Option<GradeView>,
    /// Key and explanations (closed items only; exam sessions once ended).
    pub feedback: Option<Feedback>,
    /// Answering time (ms).
    pub time_spent_ms: Option<i64>,
}

/// A subject, course or knowledge component the builder offers.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Choice {
    /// Id (what the session request takes).
    pub id: Uuid,
    /// Code.
    pub code: String,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: serde_json::Value,
}

/// A subject with the filters that narrow it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SubjectChoice {
    /// The subject.
    pub subject: Choice,
    /// Its courses.
    pub courses: Vec<Choice>,
    /// Its knowledge components (leaves of the KC tree).
    pub kcs: Vec<Choice>,
}

/// What the session builder offers.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BuilderChoices {
    /// Subjects of the learner's year of study.
    pub subjects: Vec<SubjectChoice>,
    /// Learning modes.
    pub modes: Vec<ModeView>,
    /// The mode the learner's profile prefers.
    pub preferred_mode: String,
}
