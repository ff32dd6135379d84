//! What an item says: kind, stem, options, QROC answer specification, explanations and metadata,
//! with the validation every channel (editor, import, seed) goes through, and the content hash
//! used to make imports idempotent when no `external_id` is given.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::text_enum;

/// The three answer formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// Single correct option.
    Qcs,
    /// Several correct options.
    Qcm,
    /// Short open answer.
    Qroc,
}
text_enum!(
    ItemKind,
    "item kind",
    Qcs = "qcs",
    Qcm = "qcm",
    Qroc = "qroc"
);

/// Languages items are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// French (the reference language of the curriculum).
    Fr,
    /// Arabic.
    Ar,
    /// English.
    En,
}
text_enum!(Locale, "locale", Fr = "fr", Ar = "ar", En = "en");

/// The author's estimate of difficulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Difficulty {
    /// Easy.
    Easy,
    /// Medium (the default).
    Medium,
    /// Hard.
    Hard,
}
text_enum!(
    Difficulty,
    "difficulty",
    Easy = "easy",
    Medium = "medium",
    Hard = "hard"
);

/// One option of a QCS/QCM item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionSpec {
    /// Markdown text of the option.
    pub text: String,
    /// Whether ticking it is right.
    pub correct: bool,
    /// Why it is right or wrong (markdown, may be empty).
    #[serde(default)]
    pub explanation: String,
}

/// A numeric expected answer: accepted when `|answer - value| <= tolerance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSpec {
    /// Reference value.
    pub value: f64,
    /// Accepted absolute deviation (≥ 0).
    #[serde(default)]
    pub tolerance: f64,
    /// Unit shown to the learner after the attempt.
    #[serde(default)]
    pub unit: Option<String>,
}

/// What a QROC accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QrocSpec {
    /// The reference answer.
    pub expected: String,
    /// Other accepted wordings.
    #[serde(default)]
    pub variants: Vec<String>,
    /// Keywords for lenient matching.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Numeric reading, when the answer is a number.
    #[serde(default)]
    pub numeric: Option<NumericSpec>,
}

/// Provenance of an item (all optional): faculty, exam year, session, book, series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTags {
    /// `book`, `series`, `exam_style`, `td`, `exam`, `other`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Free label (book title, series name…).
    #[serde(default)]
    pub label: Option<String>,
    /// Faculty code the item comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faculty: Option<String>,
    /// Exam year ("promo").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exam_year: Option<i32>,
    /// `emd`, `rattrapage`, `residanat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Written for MyQCM (not copied).
    #[serde(default)]
    pub original: bool,
}

/// Everything a revision of an item holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemContent {
    /// Answer format.
    pub kind: ItemKind,
    /// Language.
    pub locale: Locale,
    /// The question (markdown).
    pub stem: String,
    /// Options (QCS/QCM), empty for QROC.
    #[serde(default)]
    pub options: Vec<OptionSpec>,
    /// Expected answer (QROC only).
    #[serde(default)]
    pub qroc: Option<QrocSpec>,
    /// General explanation (markdown).
    #[serde(default)]
    pub explanation: String,
    /// Guidelines or textbooks.
    #[serde(default)]
    pub references: Vec<String>,
    /// Author's difficulty.
    pub difficulty: Difficulty,
    /// Expected answering time in seconds.
    pub estimated_seconds: i32,
    /// Provenance.
    #[serde(default)]
    pub source: SourceTags,
}

/// One problem with submitted content, tied to a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentError {
    /// Field path, e.g. `options[2].text`.
    pub field: String,
    /// Stable machine reason.
    pub code: &'static str,
    /// Human explanation.
    pub message: String,
}

impl ContentError {
    /// Builds an error.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Largest stem, option or explanation accepted (characters).
pub const MAX_TEXT: usize = 20_000;
/// Bounds of the estimated answering time.
pub const SECONDS_RANGE: std::ops::RangeInclusive<i32> = 5..=1800;

impl ItemContent {
    /// Checks the kind rules (QCS: ≥ 2 options, exactly one correct; QCM: ≥ 2 options, ≥ 1
    /// correct; QROC: no options and a non-empty expected answer) and the field bounds. Returns
    /// every problem at once.
    pub fn validate(&self) -> Result<(), Vec<ContentError>> {
        let mut errs = Vec::new();
        if self.stem.trim().is_empty() {
            errs.push(ContentError::new("stem", "required", "The stem is empty."));
        }
        for (field, text) in [("stem", &self.stem), ("explanation", &self.explanation)] {
            if text.chars().count() > MAX_TEXT {
                errs.push(ContentError::new(
                    field,
                    "too_long",
                    format!("At most {MAX_TEXT} characters."),
                ));
            }
        }
        if !SECONDS_RANGE.contains(&self.estimated_seconds) {
            errs.push(ContentError::new(
                "estimated_seconds",
                "out_of_range",
                format!(
                    "Between {} and {} seconds.",
                    SECONDS_RANGE.start(),
                    SECONDS_RANGE.end()
                ),
            ));
        }
        let correct = self.options.iter().filter(|o| o.correct).count();
        match self.kind {
            ItemKind::Qcs | ItemKind::Qcm => {
                if self.options.len() < 2 || self.options.len() > 10 {
                    errs.push(ContentError::new(
                        "options",
                        "option_count",
                        "Between 2 and 10 options.",
                    ));
                }
                for (i, o) in self.options.iter().enumerate() {
                    if o.text.trim().is_empty() {
                        errs.push(ContentError::new(
                            format!("options[{i}].text"),
                            "required",
                            "The option is empty.",
                        ));
                    }
                    if o.text.chars().count() > MAX_TEXT || o.explanation.chars().count() > MAX_TEXT
                    {
                        errs.push(ContentError::new(
                            format!("options[{i}]"),
                            "too_long",
                            "Option too long.",
                        ));
                    }
                }
                if self.kind == ItemKind::Qcs && correct != 1 {
                    errs.push(ContentError::new(
                        "options",
                        "qcs_one_correct",
                        "A QCS has exactly one correct option.",
                    ));
                }
                if self.kind == ItemKind::Qcm && correct == 0 {
                    errs.push(ContentError::new(
                        "options",
                        "qcm_needs_correct",
                        "A QCM has at least one correct option.",
                    ));
                }
                if self.qroc.is_some() {
                    errs.push(ContentError::new(
                        "qroc",
                        "forbidden",
                        "Only QROC items have an expected answer.",
                    ));
                }
            }
            ItemKind::Qroc => {
                if !self.options.is_empty() {
                    errs.push(ContentError::new(
                        "options",
                        "forbidden",
                        "A QROC has no options.",
                    ));
                }
                match &self.qroc {
                    None => errs.push(ContentError::new(
                        "qroc.expected",
                        "required",
                        "A QROC needs an expected answer.",
                    )),
                    Some(q) => {
                        if q.expected.trim().is_empty() {
                            errs.push(ContentError::new(
                                "qroc.expected",
                                "required",
                                "A QROC needs an expected answer.",
                            ));
                        }
                        if let Some(n) = &q.numeric
                            && (!n.value.is_finite()
                                || !n.tolerance.is_finite()
                                || n.tolerance < 0.0)
                        {
                            errs.push(ContentError::new(
                                "qroc.numeric",
                                "invalid",
                                "Value and tolerance must be finite, tolerance ≥ 0.",
                            ));
                        }
                    }
                }
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// A stable fingerprint of what makes two items "the same question": kind, locale, stem,
    /// options (text and key) and the QROC answer, whitespace-normalised. Explanations and
    /// metadata are left out so that an import that only improves an explanation updates the
    /// existing item instead of duplicating it.
    pub fn content_hash(&self) -> String {
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut h = Sha256::new();
        h.update(self.kind.as_str());
        h.update([0]);
        h.update(self.locale.as_str());
        h.update([0]);
        h.update(norm(&self.stem));
        for o in &self.options {
            h.update([1]);
            h.update(norm(&o.text));
            h.update([u8::from(o.correct)]);
        }
        if let Some(q) = &self.qroc {
            h.update([2]);
            h.update(norm(&q.expected));
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Text indexed by full-text search: stem and option texts (never the key or explanations,
    /// so a search cannot be used to find which option is correct).
    pub fn search_text(&self) -> String {
        let mut s = self.stem.clone();
        for o in &self.options {
            s.push('\n');
            s.push_str(&o.text);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn qcs() -> ItemContent {
        ItemContent {
            kind: ItemKind::Qcs,
            locale: Locale::Fr,
            stem: "Quel est le seuil de l'HTA en consultation ?".into(),
            options: vec![
                OptionSpec {
                    text: "140/90".into(),
                    correct: true,
                    explanation: String::new(),
                },
                OptionSpec {
                    text: "130/80".into(),
                    correct: false,
                    explanation: String::new(),
                },
            ],
            qroc: None,
            explanation: String::new(),
            references: vec![],
            difficulty: Difficulty::Easy,
            estimated_seconds: 30,
            source: SourceTags::default(),
        }
    }

    #[test]
    fn a_qcs_needs_exactly_one_correct_option() {
        assert!(qcs().validate().is_ok());
        let mut two = qcs();
        two.options[1].correct = true;
        let errs = two.validate().unwrap_err();
        assert_eq!(errs[0].code, "qcs_one_correct");
        two.kind = ItemKind::Qcm;
        assert!(two.validate().is_ok());
    }

    #[test]
    fn a_qroc_has_no_options_and_an_expected_answer() {
        let mut q = qcs();
        q.kind = ItemKind::Qroc;
        let codes: Vec<_> = q.validate().unwrap_err().iter().map(|e| e.code).collect();
        assert!(codes.contains(&"forbidden") && codes.contains(&"required"));
        q.options.clear();
        q.qroc = Some(QrocSpec {
            expected: "135".into(),
            variants: vec![],
            keywords: vec![],
            numeric: None,
        });
        assert!(q.validate().is_ok());
    }

    #[test]
    fn the_hash_ignores_whitespace_and_explanations_but_not_the_key() {
        let a = qcs();
        let mut b = qcs();
        b.stem = format!("  {}  ", a.stem.replace(' ', "   "));
        b.explanation = "better".into();
        assert_eq!(a.content_hash(), b.content_hash());
        b.options[0].correct = false;
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
