//! Training sessions as rules: learning modes (who defines each parameter), practice styles,
//! filters, the resolution of a learner's request into session parameters, statuses, end
//! reasons and the "why this question" texts. Pure; the services store and serve.
//!
//! A **learning mode** is data (admin-editable): for each session parameter a *definer* —
//! the learner (`user`), the engine (`engine`) or, for the time limit only, each item's own
//! estimated time (`item_default`) (domain spec §4.2). Three modes are seeded: `custom` (the
//! learner sets everything), `guided` (the learner sets types and count, the engine the rest)
//! and `intelligent` (the engine sets everything).
//!
//! Engine rules (domain spec §5.6, §12.3), with m the learner's mean KC mastery in the subject
//! and p = logistic(θ̂):
//! * types: QCM always, QCS when m > 0.4, QROC when m > 0.7 (widened to every type when that
//!   leaves nothing to serve);
//! * count: clamp(round(5 + 20 m), 5, 25);
//! * time per item: round(60 (1 − 0.5 p)) seconds, 30–60;
//! * difficulty: no band filter — the selection itself targets θ̂ (item information);
//! * option order: always shuffled.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::content::ContentError;
use crate::catalogue::{Difficulty, ItemKind, Locale, text_enum};

/// Who sets a session parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Definer {
    /// The learner, in the session builder.
    User,
    /// The adaptive engine, from the learner's state.
    Engine,
    /// Each item's own value (time limit only: the item's estimated time).
    ItemDefault,
}
text_enum!(
    Definer,
    "definer",
    User = "user",
    Engine = "engine",
    ItemDefault = "item_default"
);

/// One definer per session parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definers {
    /// Item types (QCS, QCM, QROC).
    pub kinds: Definer,
    /// Difficulty filter.
    pub difficulty: Definer,
    /// Number of items.
    pub item_count: Definer,
    /// Time per item (tutor, review) or for the whole session (exam).
    pub time_limit: Definer,
    /// Whether options are shuffled.
    pub shuffle_options: Definer,
}

impl Definers {
    /// Everything by the learner (`custom`).
    pub const CUSTOM: Self = Self {
        kinds: Definer::User,
        difficulty: Definer::User,
        item_count: Definer::User,
        time_limit: Definer::User,
        shuffle_options: Definer::User,
    };
    /// Types and count by the learner, the rest by the engine (`guided`).
    pub const GUIDED: Self = Self {
        kinds: Definer::User,
        difficulty: Definer::Engine,
        item_count: Definer::User,
        time_limit: Definer::Engine,
        shuffle_options: Definer::Engine,
    };
    /// Everything by the engine (`intelligent`).
    pub const INTELLIGENT: Self = Self {
        kinds: Definer::Engine,
        difficulty: Definer::Engine,
        item_count: Definer::Engine,
        time_limit: Definer::Engine,
        shuffle_options: Definer::Engine,
    };

    /// `item_default` is meaningful for the time limit only.
    pub fn validate(&self) -> Result<(), Vec<ContentError>> {
        let mut errs = Vec::new();
        for (field, d) in [
            ("kinds", self.kinds),
            ("difficulty", self.difficulty),
            ("item_count", self.item_count),
            ("shuffle_options", self.shuffle_options),
        ] {
            if d == Definer::ItemDefault {
                errs.push(ContentError::new(
                    format!("definers.{field}"),
                    "invalid",
                    "Only the time limit can follow each item's default.",
                ));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// How a session gives feedback and keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// Feedback after each item.
    Tutor,
    /// Timed; feedback at the end; optionally a full mock exam.
    Exam,
    /// Items due for review (memory model), across the subjects of the learner's year.
    Review,
}
text_enum!(
    Style,
    "practice style",
    Tutor = "tutor",
    Exam = "exam",
    Review = "review"
);

/// Which items of the filtered bank are candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PoolFilter {
    /// Every matching item.
    #[default]
    All,
    /// Items the learner never answered.
    Unused,
    /// Items whose latest graded answer was incorrect.
    Incorrect,
    /// Items the learner flagged.
    Flagged,
}
text_enum!(
    PoolFilter,
    "pool",
    All = "all",
    Unused = "unused",
    Incorrect = "incorrect",
    Flagged = "flagged"
);

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Serving items.
    Active,
    /// Paused by the learner (the clock is stopped).
    Paused,
    /// Ended (see [`EndReason`]).
    Completed,
    /// Abandoned and closed by the expiry job.
    Expired,
}
text_enum!(
    Status,
    "session status",
    Active = "active",
    Paused = "paused",
    Completed = "completed",
    Expired = "expired"
);

impl Status {
    /// Whether the session still accepts answers, skips and pauses.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Active | Self::Paused)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The requested number of items was served and answered or skipped.
    Finished,
    /// No candidate left under the filters.
    PoolExhausted,
    /// The exam time ran out.
    TimeUp,
    /// The learner ended it.
    Stopped,
    /// Abandoned (closed by the expiry job).
    Expired,
}
text_enum!(
    EndReason,
    "end reason",
    Finished = "finished",
    PoolExhausted = "pool_exhausted",
    TimeUp = "time_up",
    Stopped = "stopped",
    Expired = "expired"
);

/// Why an item was served ("why this question").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A spaced-repetition review is due.
    DueReview,
    /// It targets weak or uncertain knowledge components.
    WeakKc,
    /// It is the most informative about the learner's level.
    MostInformative,
    /// It fills a gap in the exam blueprint.
    BlueprintGap,
    /// Chosen at random to explore.
    Exploration,
    /// The next part of the clinical case in progress.
    CaseContinuation,
}
text_enum!(
    Reason,
    "reason",
    DueReview = "due_review",
    WeakKc = "weak_kc",
    MostInformative = "most_informative",
    BlueprintGap = "blueprint_gap",
    Exploration = "exploration",
    CaseContinuation = "case_continuation"
);

impl Reason {
    /// The sentence shown to the learner.
    pub fn text(self, locale: Locale) -> &'static str {
        use Reason::*;
        match (locale, self) {
            (Locale::Fr, DueReview) => "À revoir : votre mémoire de cette question s'estompe.",
            (Locale::Fr, WeakKc) => "Cible une notion que vous ne maîtrisez pas encore.",
            (Locale::Fr, MostInformative) => "Adaptée à votre niveau actuel.",
            (Locale::Fr, BlueprintGap) => {
                "Couvre une partie du programme d'examen encore peu travaillée."
            }
            (Locale::Fr, Exploration) => "Choisie au hasard pour varier l'entraînement.",
            (Locale::Fr, CaseContinuation) => "Suite du cas clinique en cours.",
            (Locale::En, DueReview) => "Due for review: your memory of it is fading.",
            (Locale::En, WeakKc) => "Targets a topic you have not mastered yet.",
            (Locale::En, MostInformative) => "Matched to your current level.",
            (Locale::En, BlueprintGap) => {
                "Covers a part of the exam blueprint you have practised little."
            }
            (Locale::En, Exploration) => "Picked at random to vary your practice.",
            (Locale::En, CaseContinuation) => "Next part of the clinical case in progress.",
            (Locale::Ar, DueReview) => "للمراجعة: بدأت ذاكرتك لهذا السؤال تضعف.",
            (Locale::Ar, WeakKc) => "يستهدف مفهوما لم تتقنه بعد.",
            (Locale::Ar, MostInformative) => "مناسب لمستواك الحالي.",
            (Locale::Ar, BlueprintGap) => "يغطي جزءا من برنامج الامتحان تدربت عليه قليلا.",
            (Locale::Ar, Exploration) => "اختير عشوائيا لتنويع التدريب.",
            (Locale::Ar, CaseContinuation) => "الجزء التالي من الحالة السريرية الجارية.",
        }
    }
}

/// What a learner asks for in the session builder (fields a mode gives to the engine are
/// ignored).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionRequest {
    /// Subject (required except for review sessions).
    #[serde(default)]
    pub subject: Option<Uuid>,
    /// Courses of that subject (empty: all).
    #[serde(default)]
    pub courses: Vec<Uuid>,
    /// KCs (empty: all).
    #[serde(default)]
    pub kcs: Vec<Uuid>,
    /// Item types (empty: all).
    #[serde(default)]
    pub kinds: Vec<ItemKind>,
    /// Difficulties (empty: all).
    #[serde(default)]
    pub difficulties: Vec<Difficulty>,
    /// Source kinds (`exam`, `book`…; empty: all).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Candidate pool.
    #[serde(default)]
    pub pool: PoolFilter,
    /// Number of items.
    #[serde(default)]
    pub item_count: Option<u32>,
    /// Seconds per item (tutor, review), advisory.
    #[serde(default)]
    pub per_item_seconds: Option<u32>,
    /// Seconds for the whole session (exam).
    #[serde(default)]
    pub time_limit_seconds: Option<u32>,
    /// Shuffle options.
    #[serde(default)]
    pub shuffle_options: Option<bool>,
    /// Exam only: a full mock (whole subject, blueprint-weighted, no pause).
    #[serde(default)]
    pub full_mock: bool,
    /// Leave clinical cases out (set by the server when the learner's plan does not include
    /// them; a learner may also ask for it). Never relaxed to fill a session.
    #[serde(default)]
    pub without_cases: bool,
}

/// Largest item count of one session.
pub const MAX_ITEMS: u32 = 200;
/// Default item count when the learner leaves it open.
pub const DEFAULT_ITEMS: u32 = 20;
/// Default exam seconds per item (full mock, or no time given).
pub const EXAM_SECONDS_PER_ITEM: u32 = 90;
/// Per-item timer bounds (seconds).
pub const PER_ITEM_SECONDS: std::ops::RangeInclusive<u32> = 5..=1800;
/// Exam time bounds (seconds).
pub const EXAM_SECONDS: std::ops::RangeInclusive<u32> = 60..=6 * 3600;

/// What the engine knows about the learner when resolving a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnerSummary {
    /// Mean BKT mastery over the subject's KCs (their `p_init` when never met).
    pub mean_mastery: f64,
    /// θ̂ in the subject.
    pub theta: f64,
}

/// The parameters a session runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionParams {
    /// Item types (never empty).
    pub kinds: Vec<ItemKind>,
    /// Difficulty filter (empty: any).
    pub difficulties: Vec<Difficulty>,
    /// Whether the engine chose the types (so they may be widened when nothing matches).
    pub engine_kinds: bool,
    /// Number of items.
    pub item_count: u32,
    /// Advisory seconds per item (`None`: each item's estimated time).
    pub per_item_seconds: Option<u32>,
    /// Exam: seconds for the whole session.
    pub time_limit_seconds: Option<u32>,
    /// Shuffle options.
    pub shuffle_options: bool,
}

/// Checks a request on its own (the services check that ids exist and belong together).
pub fn validate_request(style: Style, r: &SessionRequest) -> Result<(), Vec<ContentError>> {
    let mut errs = Vec::new();
    if style != Style::Review && r.subject.is_none() {
        errs.push(ContentError::new(
            "subject",
            "required",
            "Choose a subject.",
        ));
    }
    if r.full_mock && style != Style::Exam {
        errs.push(ContentError::new(
            "full_mock",
            "invalid",
            "Only exam sessions can be full mocks.",
        ));
    }
    if let Some(n) = r.item_count
        && !(1..=MAX_ITEMS).contains(&n)
    {
        errs.push(ContentError::new(
            "item_count",
            "out_of_range",
            format!("Between 1 and {MAX_ITEMS} items."),
        ));
    }
    if let Some(s) = r.per_item_seconds
        && !PER_ITEM_SECONDS.contains(&s)
    {
        errs.push(ContentError::new(
            "per_item_seconds",
            "out_of_range",
            "Between 5 and 1800 seconds per item.",
        ));
    }
    if let Some(s) = r.time_limit_seconds {
        if style != Style::Exam {
            errs.push(ContentError::new(
                "time_limit_seconds",
                "invalid",
                "Only exam sessions have a total time limit.",
            ));
        } else if !EXAM_SECONDS.contains(&s) {
            errs.push(ContentError::new(
                "time_limit_seconds",
                "out_of_range",
                "Between 1 minute and 6 hours.",
            ));
        }
    }
    for (field, n) in [
        ("courses", r.courses.len()),
        ("kcs", r.kcs.len()),
        ("sources", r.sources.len()),
    ] {
        if n > 50 {
            errs.push(ContentError::new(field, "too_many", "At most 50 values."));
        }
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Resolves a (validated) request under a mode's definers (module documentation).
pub fn resolve(
    definers: &Definers,
    style: Style,
    r: &SessionRequest,
    learner: &LearnerSummary,
) -> SessionParams {
    let m = learner.mean_mastery.clamp(0.0, 1.0);
    let p = logistic(if learner.theta.is_finite() {
        learner.theta
    } else {
        0.0
    });
    let mock = r.full_mock && style == Style::Exam;
    let all_kinds = || ItemKind::ALL.to_vec();
    let (kinds, engine_kinds) = if mock {
        (all_kinds(), false)
    } else {
        match definers.kinds {
            Definer::User if !r.kinds.is_empty() => {
                let mut k = r.kinds.clone();
                k.sort_by_key(|k| k.as_str());
                k.dedup();
                (k, false)
            }
            Definer::User | Definer::ItemDefault => (all_kinds(), false),
            Definer::Engine => {
                let mut k = vec![ItemKind::Qcm];
                if m > 0.4 {
                    k.push(ItemKind::Qcs);
                }
                if m > 0.7 {
                    k.push(ItemKind::Qroc);
                }
                (k, true)
            }
        }
    };
    let difficulties = if mock || definers.difficulty != Definer::User {
        vec![]
    } else {
        r.difficulties.clone()
    };
    let item_count = match definers.item_count {
        Definer::Engine if !mock => (5.0 + 20.0 * m).round().clamp(5.0, 25.0) as u32,
        _ => r.item_count.unwrap_or(DEFAULT_ITEMS),
    };
    let engine_seconds = (60.0 * (1.0 - 0.5 * p)).round() as u32;
    let per_item_seconds = match (style, definers.time_limit) {
        (Style::Exam, _) => None,
        (_, Definer::User) => r.per_item_seconds,
        (_, Definer::Engine) => Some(engine_seconds),
        (_, Definer::ItemDefault) => None,
    };
    let time_limit_seconds = (style == Style::Exam).then(|| {
        let by_items = item_count.saturating_mul(if definers.time_limit == Definer::Engine {
            engine_seconds
        } else {
            EXAM_SECONDS_PER_ITEM
        });
        match (definers.time_limit, r.time_limit_seconds) {
            (Definer::User, Some(s)) if !mock => s,
            _ => by_items.clamp(*EXAM_SECONDS.start(), *EXAM_SECONDS.end()),
        }
    });
    let shuffle_options = match definers.shuffle_options {
        Definer::User => r.shuffle_options.unwrap_or(true),
        _ => true,
    };
    SessionParams {
        kinds,
        difficulties,
        engine_kinds,
        item_count,
        per_item_seconds,
        time_limit_seconds,
        shuffle_options,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn novice() -> LearnerSummary {
        LearnerSummary {
            mean_mastery: 0.2,
            theta: 0.0,
        }
    }

    #[test]
    fn custom_mode_takes_the_learners_choices() {
        let r = SessionRequest {
            subject: Some(Uuid::nil()),
            kinds: vec![ItemKind::Qroc, ItemKind::Qcs, ItemKind::Qcs],
            difficulties: vec![Difficulty::Hard],
            item_count: Some(7),
            per_item_seconds: Some(45),
            shuffle_options: Some(false),
            ..Default::default()
        };
        let p = resolve(&Definers::CUSTOM, Style::Tutor, &r, &novice());
        assert_eq!(p.kinds, vec![ItemKind::Qcs, ItemKind::Qroc]);
        assert_eq!(p.difficulties, vec![Difficulty::Hard]);
        assert_eq!(
            (p.item_count, p.per_item_seconds, p.shuffle_options),
            (7, Some(45), false)
        );
        assert_eq!(p.time_limit_seconds, None);
        assert!(!p.engine_kinds);
    }

    #[test]
    fn the_engine_follows_the_carried_over_rules() {
        let r = SessionRequest {
            subject: Some(Uuid::nil()),
            kinds: vec![ItemKind::Qroc],
            item_count: Some(100),
            ..Default::default()
        };
        let p = resolve(&Definers::INTELLIGENT, Style::Tutor, &r, &novice());
        assert_eq!(p.kinds, vec![ItemKind::Qcm]);
        assert!(p.engine_kinds);
        assert_eq!(p.item_count, 9); // round(5 + 20 × 0.2)
        assert_eq!(p.per_item_seconds, Some(45)); // round(60 (1 − 0.25))
        let strong = LearnerSummary {
            mean_mastery: 0.95,
            theta: 3.0,
        };
        let p = resolve(&Definers::INTELLIGENT, Style::Tutor, &r, &strong);
        assert_eq!(p.kinds, vec![ItemKind::Qcm, ItemKind::Qcs, ItemKind::Qroc]);
        assert_eq!(p.item_count, 24);
        assert_eq!(p.per_item_seconds, Some(31));
        // Guided: learner's types and count, engine's time.
        let p = resolve(&Definers::GUIDED, Style::Tutor, &r, &novice());
        assert_eq!((p.kinds.clone(), p.item_count), (vec![ItemKind::Qroc], 100));
        assert_eq!(p.per_item_seconds, Some(45));
    }

    #[test]
    fn exams_have_a_total_time_and_full_mocks_ignore_filters() {
        let r = SessionRequest {
            subject: Some(Uuid::nil()),
            kinds: vec![ItemKind::Qcs],
            item_count: Some(40),
            time_limit_seconds: Some(1200),
            ..Default::default()
        };
        let p = resolve(&Definers::CUSTOM, Style::Exam, &r, &novice());
        assert_eq!(
            (p.time_limit_seconds, p.per_item_seconds),
            (Some(1200), None)
        );
        let mock = SessionRequest {
            full_mock: true,
            ..r.clone()
        };
        let p = resolve(&Definers::CUSTOM, Style::Exam, &mock, &novice());
        assert_eq!(p.kinds.len(), 3);
        assert_eq!(p.time_limit_seconds, Some(40 * EXAM_SECONDS_PER_ITEM));
        let item_default = Definers {
            time_limit: Definer::ItemDefault,
            ..Definers::CUSTOM
        };
        let p = resolve(&item_default, Style::Tutor, &r, &novice());
        assert_eq!(p.per_item_seconds, None);
    }

    #[test]
    fn requests_and_definers_are_validated() {
        let bad = SessionRequest {
            item_count: Some(0),
            time_limit_seconds: Some(600),
            full_mock: true,
            ..Default::default()
        };
        let errs = validate_request(Style::Tutor, &bad).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["subject", "full_mock", "item_count", "time_limit_seconds"]
        );
        assert!(validate_request(Style::Review, &SessionRequest::default()).is_ok());
        assert!(Definers::GUIDED.validate().is_ok());
        let wrong = Definers {
            kinds: Definer::ItemDefault,
            ..Definers::CUSTOM
        };
        assert_eq!(wrong.validate().unwrap_err()[0].field, "definers.kinds");
    }

    #[test]
    fn every_reason_has_a_text_in_every_locale() {
        for r in Reason::ALL {
            for l in Locale::ALL {
                assert!(!r.text(*l).is_empty());
            }
            assert_eq!(r.as_str().parse::<Reason>().ok(), Some(*r));
        }
    }
}
