//! Scoring: one versioned rule set per training session turns a response into a ratio in
//! [0, 1], and one labelling function turns the ratio into correct/incorrect.
//!
//! # QCM rules (C = correct options, S = selected, N = number of options)
//! * `partial_penalized`: `|C ∩ S| / |C| − |S \ C| / N`, floored at 0 (domain spec §3.2);
//! * `all_or_nothing`: 1 when `S = C`, else 0;
//! * `discordance`: credit by the number of discordant options `|C Δ S|` (a ticked wrong option
//!   or an unticked right one) from a table, e.g. 0 → 1, 1 → 0.5, 2 → 0.2, ≥ 3 → 0.
//!
//! Every rule gives the full correct selection 1, and adding a wrong option never raises the
//! score (the discordance table must start at 1 and never increase; [`RuleSet::validate`]).
//!
//! # QCS and QROC
//! A QCS is binary (the one right option, or 0). A QROC is matched by
//! [`crate::catalogue::qroc::match_answer`] (1 or 0). A QROC answer that is empty once
//! normalised is **ungraded**: it has no ratio and no label, and feeds no model.
//!
//! # Labels
//! [`Thresholds::label`] is the only place where a ratio becomes correct/incorrect:
//! `ratio ≥ threshold(kind, difficulty)` with the defaults of domain spec §12.3.

use serde::{Deserialize, Serialize};

use crate::catalogue::qroc::{QrocMatch, match_answer};
use crate::catalogue::{Difficulty, ItemContent, ItemKind};

/// Version label of the default rule set, stored on every session and attempt.
pub const DEFAULT_RULE_VERSION: &str = "2026.1";

/// Largest QROC answer accepted, in characters.
pub const MAX_TEXT_ANSWER: usize = 2_000;

/// How a QCM is scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum QcmRule {
    /// `|C ∩ S| / |C| − |S \ C| / N`, floored at 0.
    PartialPenalized,
    /// 1 when the selection equals the key, else 0.
    AllOrNothing,
    /// Credit by number of discordant options: `credits[k]` for k discordances, 0 beyond the
    /// table.
    Discordance {
        /// Credit for 0, 1, 2… discordant options (starts at 1, never increases).
        credits: Vec<f64>,
    },
}

impl QcmRule {
    /// The discordance table `0 → 1, 1 → 0.5, 2 → 0.2, ≥ 3 → 0`.
    pub fn discordance_default() -> Self {
        Self::Discordance {
            credits: vec![1.0, 0.5, 0.2],
        }
    }
}

/// Thresholds of one item kind, by author difficulty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ByDifficulty {
    /// Easy items.
    pub easy: f64,
    /// Medium items.
    pub medium: f64,
    /// Hard items.
    pub hard: f64,
}

impl ByDifficulty {
    fn get(&self, d: Difficulty) -> f64 {
        match d {
            Difficulty::Easy => self.easy,
            Difficulty::Medium => self.medium,
            Difficulty::Hard => self.hard,
        }
    }
}

/// The ratio a learner needs for an answer to count as correct, per kind × difficulty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// QCS thresholds.
    pub qcs: ByDifficulty,
    /// QCM thresholds.
    pub qcm: ByDifficulty,
    /// QROC thresholds.
    pub qroc: ByDifficulty,
}

impl Default for Thresholds {
    /// Domain spec §12.3: QCM .75/.80/.85, QCS .80/.85/.90, QROC .75/.80/.85.
    fn default() -> Self {
        Self {
            qcm: ByDifficulty {
                easy: 0.75,
                medium: 0.80,
                hard: 0.85,
            },
            qcs: ByDifficulty {
                easy: 0.80,
                medium: 0.85,
                hard: 0.90,
            },
            qroc: ByDifficulty {
                easy: 0.75,
                medium: 0.80,
                hard: 0.85,
            },
        }
    }
}

impl Thresholds {
    /// The threshold for `kind` at `difficulty`.
    pub fn threshold(&self, kind: ItemKind, difficulty: Difficulty) -> f64 {
        match kind {
            ItemKind::Qcs => self.qcs.get(difficulty),
            ItemKind::Qcm => self.qcm.get(difficulty),
            ItemKind::Qroc => self.qroc.get(difficulty),
        }
    }

    /// The one labelling function: correct when `ratio ≥ threshold(kind, difficulty)` (with a
    /// 1e-9 allowance for rounding, so 1 − 1/5 reaches a 0.8 threshold).
    ///
    /// ```
    /// # use myqcm_domain::scoring::Thresholds;
    /// # use myqcm_domain::catalogue::{ItemKind, Difficulty};
    /// let t = Thresholds::default();
    /// assert!(t.label(ItemKind::Qcm, Difficulty::Medium, 0.8));
    /// assert!(!t.label(ItemKind::Qcm, Difficulty::Hard, 0.8));
    /// ```
    pub fn label(&self, kind: ItemKind, difficulty: Difficulty, ratio: f64) -> bool {
        ratio + 1e-9 >= self.threshold(kind, difficulty)
    }
}

/// The rules a session is scored with, stored on the session (and its version on each attempt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSet {
    /// Version label (attempts store it).
    pub version: String,
    /// QCM rule.
    pub qcm: QcmRule,
    /// Labelling thresholds.
    pub thresholds: Thresholds,
}

impl Default for RuleSet {
    /// Version [`DEFAULT_RULE_VERSION`]: `partial_penalized` and the default thresholds.
    fn default() -> Self {
        Self {
            version: DEFAULT_RULE_VERSION.into(),
            qcm: QcmRule::PartialPenalized,
            thresholds: Thresholds::default(),
        }
    }
}

/// A rule set that breaks an invariant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule set: {0}")]
pub struct InvalidRuleSet(pub &'static str);

impl RuleSet {
    /// Checks: a version label; thresholds in (0, 1]; a discordance table that starts at 1,
    /// stays in [0, 1] and never increases.
    pub fn validate(&self) -> Result<(), InvalidRuleSet> {
        if self.version.trim().is_empty() || self.version.len() > 32 {
            return Err(InvalidRuleSet("version label of 1 to 32 characters"));
        }
        let t = &self.thresholds;
        for by in [t.qcs, t.qcm, t.qroc] {
            for v in [by.easy, by.medium, by.hard] {
                if !(v > 0.0 && v <= 1.0) {
                    return Err(InvalidRuleSet("thresholds lie in (0, 1]"));
                }
            }
        }
        if let QcmRule::Discordance { credits } = &self.qcm {
            if credits.first() != Some(&1.0) {
                return Err(InvalidRuleSet("the discordance table starts at 1"));
            }
            if credits.iter().any(|c| !(0.0..=1.0).contains(c)) {
                return Err(InvalidRuleSet("discordance credits lie in [0, 1]"));
            }
            if credits.windows(2).any(|w| w[1] > w[0]) {
                return Err(InvalidRuleSet("discordance credits never increase"));
            }
        }
        Ok(())
    }
}

/// What a learner submitted: stable option ids (the option's index in the revision) or text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Selected options, by stable id.
    Options(Vec<usize>),
    /// A QROC answer.
    Text(String),
}

/// Who (or what) graded an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grader {
    /// A deterministic rule of the rule set (option scoring, QROC matching).
    Exact,
    /// A language model.
    Llm,
    /// A person.
    Human,
}

impl Grader {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Llm => "llm",
            Self::Human => "human",
        }
    }
}

/// Why an answer has no grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UngradedReason {
    /// A QROC answer that is empty once normalised.
    Blank,
    /// The grader could not give a grade (unavailable, or the item has no answer key).
    GraderUnavailable,
    /// The tolerant match was unsure ([`crate::catalogue::qroc::is_unsure`]); a second grader
    /// (the language model) will judge the answer after it was stored.
    AwaitingGrader,
}

impl UngradedReason {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blank => "blank",
            Self::GraderUnavailable => "grader_unavailable",
            Self::AwaitingGrader => "awaiting_grader",
        }
    }
}

/// The result of grading one response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// A ratio in [0, 1] and its label.
    Graded {
        /// Score in [0, 1].
        ratio: f64,
        /// Label from [`Thresholds::label`].
        correct: bool,
        /// Who graded.
        grader: Grader,
    },
    /// Stored, but with no ratio and no label; feeds no model and consumes no allowance.
    Ungraded {
        /// Why.
        reason: UngradedReason,
    },
}

impl Outcome {
    /// The ratio, when graded.
    pub fn ratio(&self) -> Option<f64> {
        match self {
            Self::Graded { ratio, .. } => Some(*ratio),
            Self::Ungraded { .. } => None,
        }
    }
    /// The label, when graded.
    pub fn correct(&self) -> Option<bool> {
        match self {
            Self::Graded { correct, .. } => Some(*correct),
            Self::Ungraded { .. } => None,
        }
    }
}

/// A response that does not fit the item (rejected before anything is stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Options for a QROC, or text for a QCS/QCM.
    #[error("this item expects {expected}")]
    WrongShape {
        /// `options` or `text`.
        expected: &'static str,
    },
    /// No option selected.
    #[error("select at least one option (or skip)")]
    NoOption,
    /// An option id the item does not have.
    #[error("unknown option {0}")]
    UnknownOption(usize),
    /// The same option twice.
    #[error("option {0} selected twice")]
    DuplicateOption(usize),
    /// More than one option on a single-answer item.
    #[error("a single-answer item takes one option")]
    TooManyOptions,
    /// A QROC answer over [`MAX_TEXT_ANSWER`] characters.
    #[error("answer too long")]
    TooLong,
}

/// Score of a QCM selection under `rule`; `key[i]` tells whether option `i` is correct and
/// `selected` holds distinct, valid ids (checked by [`grade`]).
///
/// ```
/// # use myqcm_domain::scoring::{qcm_ratio, QcmRule};
/// let key = [true, true, false, false, false];
/// assert!((qcm_ratio(&QcmRule::PartialPenalized, &key, &[0, 2]) - 0.3).abs() < 1e-12);
/// ```
pub fn qcm_ratio(rule: &QcmRule, key: &[bool], selected: &[usize]) -> f64 {
    let n = key.len();
    let is_sel = |i: usize| selected.contains(&i);
    let n_correct = key.iter().filter(|k| **k).count();
    let hits = (0..n).filter(|i| key[*i] && is_sel(*i)).count();
    let false_ticks = (0..n).filter(|i| !key[*i] && is_sel(*i)).count();
    let ratio = match rule {
        QcmRule::PartialPenalized => {
            if n_correct == 0 || n == 0 {
                return 0.0;
            }
            hits as f64 / n_correct as f64 - false_ticks as f64 / n as f64
        }
        QcmRule::AllOrNothing => {
            if hits == n_correct && false_ticks == 0 {
                1.0
            } else {
                0.0
            }
        }
        QcmRule::Discordance { credits } => {
            let discordant = (n_correct - hits) + false_ticks;
            credits.get(discordant).copied().unwrap_or(0.0)
        }
    };
    ratio.clamp(0.0, 1.0)
}

fn check_selection(n_options: usize, selected: &[usize]) -> Result<(), ResponseError> {
    if selected.is_empty() {
        return Err(ResponseError::NoOption);
    }
    for (k, id) in selected.iter().enumerate() {
        if *id >= n_options {
            return Err(ResponseError::UnknownOption(*id));
        }
        if selected[..k].contains(id) {
            return Err(ResponseError::DuplicateOption(*id));
        }
    }
    Ok(())
}

/// Checks `response` against the item without grading it (shape, option ids, length).
pub fn check_response(content: &ItemContent, response: &Response) -> Result<(), ResponseError> {
    match (content.kind, response) {
        (ItemKind::Qcs | ItemKind::Qcm, Response::Options(sel)) => {
            check_selection(content.options.len(), sel)?;
            if content.kind == ItemKind::Qcs && sel.len() > 1 {
                return Err(ResponseError::TooManyOptions);
            }
            Ok(())
        }
        (ItemKind::Qroc, Response::Text(t)) => {
            if t.chars().count() > MAX_TEXT_ANSWER {
                Err(ResponseError::TooLong)
            } else {
                Ok(())
            }
        }
        (ItemKind::Qroc, Response::Options(_)) => {
            Err(ResponseError::WrongShape { expected: "text" })
        }
        (_, Response::Text(_)) => Err(ResponseError::WrongShape {
            expected: "options",
        }),
    }
}

/// Grades `response` to `content` under `rules`: the ratio, its label and the grader, or
/// "ungraded" for a blank QROC answer (module documentation).
///
/// # Errors
/// [`ResponseError`] when the response does not fit the item; nothing should be stored then.
pub fn grade(
    rules: &RuleSet,
    content: &ItemContent,
    response: &Response,
) -> Result<Outcome, ResponseError> {
    check_response(content, response)?;
    let ratio = match (content.kind, response) {
        (ItemKind::Qcs, Response::Options(sel)) => {
            if sel.len() == 1 && content.options[sel[0]].correct {
                1.0
            } else {
                0.0
            }
        }
        (ItemKind::Qcm, Response::Options(sel)) => {
            let key: Vec<bool> = content.options.iter().map(|o| o.correct).collect();
            qcm_ratio(&rules.qcm, &key, sel)
        }
        (ItemKind::Qroc, Response::Text(t)) => {
            let Some(spec) = &content.qroc else {
                return Ok(Outcome::Ungraded {
                    reason: UngradedReason::GraderUnavailable,
                });
            };
            match match_answer(spec, t, content.locale) {
                QrocMatch::Blank => {
                    return Ok(Outcome::Ungraded {
                        reason: UngradedReason::Blank,
                    });
                }
                m if m.accepted() => 1.0,
                _ => 0.0,
            }
        }
        // check_response refused every other combination.
        _ => {
            return Err(ResponseError::WrongShape {
                expected: "options",
            });
        }
    };
    Ok(Outcome::Graded {
        ratio,
        correct: rules
            .thresholds
            .label(content.kind, content.difficulty, ratio),
        grader: Grader::Exact,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;
    use crate::catalogue::{Locale, NumericSpec, OptionSpec, QrocSpec, SourceTags};

    fn item(kind: ItemKind, key: &[bool]) -> ItemContent {
        ItemContent {
            kind,
            locale: Locale::Fr,
            stem: "?".into(),
            options: key
                .iter()
                .map(|c| OptionSpec {
                    text: "o".into(),
                    correct: *c,
                    explanation: String::new(),
                })
                .collect(),
            qroc: None,
            explanation: String::new(),
            references: vec![],
            difficulty: Difficulty::Medium,
            estimated_seconds: 30,
            source: SourceTags::default(),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn worked_examples_of_the_domain_spec() {
        // §3.2, N = 5, |C| = 2.
        let key = [true, true, false, false, false];
        let r = |sel: &[usize]| qcm_ratio(&QcmRule::PartialPenalized, &key, sel);
        assert!(close(r(&[0, 1]), 1.0), "both right");
        assert!(close(r(&[0, 1, 2]), 0.8), "both right + one wrong");
        assert!(close(r(&[0]), 0.5), "one right");
        assert!(close(r(&[0, 2]), 0.3), "one right + one wrong");
        assert!(close(r(&[0, 1, 2, 3, 4]), 0.4), "all five");
        assert!(close(r(&[2, 3, 4]), 0.0), "floored at 0");
    }

    #[test]
    fn all_or_nothing_and_discordance_tables() {
        let key = [true, true, false, false, false];
        let aon = |sel: &[usize]| qcm_ratio(&QcmRule::AllOrNothing, &key, sel);
        assert_eq!(aon(&[0, 1]), 1.0);
        assert_eq!(aon(&[1, 0]), 1.0);
        assert_eq!(aon(&[0]), 0.0);
        assert_eq!(aon(&[0, 1, 4]), 0.0);
        let d = QcmRule::discordance_default();
        let disc = |sel: &[usize]| qcm_ratio(&d, &key, sel);
        assert_eq!(disc(&[0, 1]), 1.0, "0 discordant");
        assert_eq!(disc(&[0]), 0.5, "1 missed");
        assert_eq!(disc(&[0, 1, 2]), 0.5, "1 false tick");
        assert_eq!(disc(&[0, 2]), 0.2, "1 missed + 1 false tick");
        assert_eq!(disc(&[0, 2, 3]), 0.0, "3 discordant");
        assert_eq!(disc(&[2, 3, 4]), 0.0, "5 discordant");
        let custom = QcmRule::Discordance {
            credits: vec![1.0, 0.7, 0.4, 0.1],
        };
        assert_eq!(qcm_ratio(&custom, &key, &[0, 2, 3]), 0.1);
    }

    #[test]
    fn qcs_is_binary_and_labels_use_the_threshold_table() {
        let rules = RuleSet::default();
        let qcs = item(ItemKind::Qcs, &[false, true, false, false]);
        let right = grade(&rules, &qcs, &Response::Options(vec![1])).unwrap();
        assert_eq!(
            right,
            Outcome::Graded {
                ratio: 1.0,
                correct: true,
                grader: Grader::Exact
            }
        );
        let wrong = grade(&rules, &qcs, &Response::Options(vec![0])).unwrap();
        assert_eq!((wrong.ratio(), wrong.correct()), (Some(0.0), Some(false)));
        assert_eq!(
            grade(&rules, &qcs, &Response::Options(vec![0, 1])),
            Err(ResponseError::TooManyOptions)
        );
        // QCM medium: 0.8 is correct, 0.5 is not; hard needs 0.85.
        let mut qcm = item(ItemKind::Qcm, &[true, true, false, false, false]);
        let g = grade(&rules, &qcm, &Response::Options(vec![0, 1, 2])).unwrap();
        assert_eq!(g.correct(), Some(true));
        qcm.difficulty = Difficulty::Hard;
        let g = grade(&rules, &qcm, &Response::Options(vec![0, 1, 2])).unwrap();
        assert_eq!(g.correct(), Some(false));
        let t = Thresholds::default();
        let table = [
            (ItemKind::Qcm, [0.75, 0.80, 0.85]),
            (ItemKind::Qcs, [0.80, 0.85, 0.90]),
            (ItemKind::Qroc, [0.75, 0.80, 0.85]),
        ];
        for (kind, ths) in table {
            for (d, th) in [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard]
                .into_iter()
                .zip(ths)
            {
                assert_eq!(t.threshold(kind, d), th);
                assert!(t.label(kind, d, th));
                assert!(!t.label(kind, d, th - 0.001));
            }
        }
    }

    #[test]
    fn qroc_blank_is_ungraded_never_zero() {
        let rules = RuleSet::default();
        let mut q = item(ItemKind::Qroc, &[]);
        q.qroc = Some(QrocSpec {
            expected: "1 500 mL".into(),
            variants: vec![],
            keywords: vec![],
            numeric: Some(NumericSpec {
                value: 1500.0,
                tolerance: 50.0,
                unit: Some("mL".into()),
            }),
        });
        let g = |t: &str| grade(&rules, &q, &Response::Text(t.into())).unwrap();
        assert_eq!(
            g("  "),
            Outcome::Ungraded {
                reason: UngradedReason::Blank
            }
        );
        assert_eq!(g(" ?! ").ratio(), None);
        assert_eq!(g("1 520").ratio(), Some(1.0));
        assert_eq!(
            g("1,5").ratio(),
            Some(0.0),
            "1,5 is 1.5 in French, not 1500"
        );
        assert_eq!(
            grade(&rules, &q, &Response::Options(vec![0])),
            Err(ResponseError::WrongShape { expected: "text" })
        );
        assert_eq!(
            grade(&rules, &q, &Response::Text("x".repeat(MAX_TEXT_ANSWER + 1))),
            Err(ResponseError::TooLong)
        );
        let mut q = q.clone();
        q.qroc = None;
        assert_eq!(
            grade(&rules, &q, &Response::Text("1500".into())).unwrap(),
            Outcome::Ungraded {
                reason: UngradedReason::GraderUnavailable
            }
        );
    }

    #[test]
    fn malformed_selections_are_refused() {
        let rules = RuleSet::default();
        let qcm = item(ItemKind::Qcm, &[true, false, true]);
        for (sel, err) in [
            (vec![], ResponseError::NoOption),
            (vec![3], ResponseError::UnknownOption(3)),
            (vec![0, 0], ResponseError::DuplicateOption(0)),
        ] {
            assert_eq!(grade(&rules, &qcm, &Response::Options(sel)), Err(err));
        }
        assert_eq!(
            grade(&rules, &qcm, &Response::Text("a".into())),
            Err(ResponseError::WrongShape {
                expected: "options"
            })
        );
    }

    #[test]
    fn rule_sets_are_validated() {
        assert!(RuleSet::default().validate().is_ok());
        let with = |qcm| RuleSet {
            qcm,
            ..RuleSet::default()
        };
        assert!(with(QcmRule::discordance_default()).validate().is_ok());
        for credits in [vec![0.9, 0.5], vec![1.0, 0.2, 0.5], vec![1.0, -0.1], vec![]] {
            assert!(
                with(QcmRule::Discordance {
                    credits: credits.clone()
                })
                .validate()
                .is_err(),
                "{credits:?}"
            );
        }
        let mut bad = RuleSet::default();
        bad.thresholds.qcm.hard = 1.2;
        assert!(bad.validate().is_err());
        // The stored form round-trips.
        let json = serde_json::to_string(&with(QcmRule::discordance_default())).unwrap();
        assert!(json.contains("\"rule\":\"discordance\""));
        let back: RuleSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, with(QcmRule::discordance_default()));
    }

    fn rules() -> impl Strategy<Value = QcmRule> {
        prop_oneof![
            Just(QcmRule::PartialPenalized),
            Just(QcmRule::AllOrNothing),
            prop::collection::vec(0.0..=1.0f64, 0..6).prop_map(|mut tail| {
                // A valid table: 1, then non-increasing values in [0, 1].
                tail.sort_by(|a, b| b.total_cmp(a));
                let mut credits = vec![1.0];
                credits.extend(tail);
                QcmRule::Discordance { credits }
            }),
        ]
    }

    /// A key with at least one correct option and a selection (as a mask).
    fn key_and_selection() -> impl Strategy<Value = (Vec<bool>, Vec<bool>)> {
        (2usize..=10).prop_flat_map(|n| {
            (
                prop::collection::vec(any::<bool>(), n)
                    .prop_filter("one correct", |k| k.iter().any(|c| *c)),
                prop::collection::vec(any::<bool>(), n),
            )
        })
    }

    fn ids(mask: &[bool]) -> Vec<usize> {
        (0..mask.len()).filter(|i| mask[*i]).collect()
    }

    proptest! {
        #[test]
        fn ratios_lie_in_the_unit_interval((key, sel) in key_and_selection(), rule in rules()) {
            let r = qcm_ratio(&rule, &key, &ids(&sel));
            prop_assert!((0.0..=1.0).contains(&r), "{r}");
        }

        #[test]
        fn the_key_scores_one_under_every_rule((key, _) in key_and_selection(), rule in rules()) {
            prop_assert_eq!(qcm_ratio(&rule, &key, &ids(&key)), 1.0);
            let rs = RuleSet { qcm: rule, ..RuleSet::default() };
            prop_assert!(rs.validate().is_ok());
            let content = item(ItemKind::Qcm, &key);
            let g = grade(&rs, &content, &Response::Options(ids(&key))).unwrap();
            prop_assert_eq!(g.correct(), Some(true));
        }

        #[test]
        fn adding_a_wrong_option_never_raises_the_score(
            (key, sel) in key_and_selection(),
            rule in rules(),
            pick in any::<prop::sample::Index>(),
        ) {
            let wrong_unticked: Vec<usize> =
                (0..key.len()).filter(|i| !key[*i] && !sel[*i]).collect();
            prop_assume!(!wrong_unticked.is_empty());
            let add = wrong_unticked[pick.index(wrong_unticked.len())];
            let before = qcm_ratio(&rule, &key, &ids(&sel));
            let mut more = sel.clone();
            more[add] = true;
            let after = qcm_ratio(&rule, &key, &ids(&more));
            prop_assert!(after <= before + 1e-12, "{before} -> {after}");
        }

        #[test]
        fn the_selection_order_does_not_matter((key, sel) in key_and_selection(), rule in rules()) {
            let mut s = ids(&sel);
            let a = qcm_ratio(&rule, &key, &s);
            s.reverse();
            prop_assert_eq!(a, qcm_ratio(&rule, &key, &s));
        }
    }
}
