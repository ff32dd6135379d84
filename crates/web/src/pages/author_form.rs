//! The item editor's form: what the author typed (kept on a failed submit or a preview), the
//! content it makes for the catalogue, and where each of the catalogue's field errors shows.
//! Options are numbered fields (`option_text_0`, `option_correct_0`, `option_explanation_0`…),
//! so the form works without JavaScript; empty trailing options are dropped.

use myqcm_domain::catalogue::{
    Difficulty, ItemContent, ItemKind, Locale, OptionSpec, QrocSpec, SourceTags,
};
use myqcm_services::catalogue::desk::DeskItem;
use myqcm_services::catalogue::{EditInput, KcInput, NewItemInput};

use super::forms::Form;

/// Most options an item may have (the catalogue's bound).
pub const MAX_OPTIONS: usize = 10;

/// The single-valued fields of the editor.
const FIELDS: [&str; 10] = [
    "kind",
    "locale",
    "course",
    "stem",
    "explanation",
    "difficulty",
    "estimated_seconds",
    "source_kind",
    "source_label",
    "qroc_expected",
];

/// One option row of the editor.
pub struct OptionSlot {
    /// Position (0-based).
    pub i: usize,
    /// Text typed.
    pub text: String,
    /// Ticked as correct.
    pub correct: bool,
    /// Explanation typed.
    pub explanation: String,
}

/// The editor's submitted fields, as name/value pairs (`kcs` repeats).
#[derive(Clone)]
pub struct EditorForm(pub Vec<(String, String)>);

impl EditorForm {
    /// Replaces the value of `name` (adds it when absent).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_owned(), value.to_owned()));
    }

    /// The value of `name` (empty when absent).
    pub fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn kcs(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == "kcs" && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The option rows that hold something.
    pub fn options(&self) -> Vec<OptionSlot> {
        (0..MAX_OPTIONS)
            .map(|i| OptionSlot {
                i,
                text: self.one(&format!("option_text_{i}")).to_owned(),
                correct: !self.one(&format!("option_correct_{i}")).is_empty(),
                explanation: self.one(&format!("option_explanation_{i}")).to_owned(),
            })
            .filter(|o| !o.text.trim().is_empty() || !o.explanation.trim().is_empty() || o.correct)
            .collect()
    }

    /// The content the form describes (validated by the catalogue, not here).
    pub fn content(&self) -> ItemContent {
        let kind = self.one("kind").parse().unwrap_or(ItemKind::Qcm);
        let qroc = kind == ItemKind::Qroc;
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        ItemContent {
            kind,
            locale: self.one("locale").parse().unwrap_or(Locale::Fr),
            stem: self.one("stem").to_owned(),
            options: if qroc {
                vec![]
            } else {
                self.options()
                    .into_iter()
                    .map(|o| OptionSpec {
                        text: o.text,
                        correct: o.correct,
                        explanation: o.explanation,
                    })
                    .collect()
            },
            qroc: qroc.then(|| QrocSpec {
                expected: self.one("qroc_expected").trim().to_owned(),
                variants: vec![],
                keywords: vec![],
                numeric: None,
            }),
            explanation: self.one("explanation").to_owned(),
            references: vec![],
            difficulty: self.one("difficulty").parse().unwrap_or(Difficulty::Medium),
            estimated_seconds: self.one("estimated_seconds").trim().parse().unwrap_or(-1),
            source: SourceTags {
                kind: text(self.one("source_kind")),
                label: text(self.one("source_label")),
                ..SourceTags::default()
            },
        }
    }

    fn kc_inputs(&self) -> Vec<KcInput> {
        self.kcs()
            .into_iter()
            .map(|k| KcInput {
                kc: k.trim().to_owned(),
                weight: 1.0,
            })
            .collect()
    }

    /// A new item from the form.
    pub fn new_item(&self) -> NewItemInput {
        NewItemInput {
            course: self.one("course").trim().to_owned(),
            content: self.content(),
            kcs: self.kc_inputs(),
            translation_of: None,
            external_id: None,
        }
    }

    /// A new revision from the form.
    pub fn edit(&self) -> EditInput {
        EditInput {
            content: self.content(),
            kcs: Some(self.kc_inputs()),
        }
    }

    /// The values to show again (KCs joined by commas, options by their numbered names).
    pub fn kept(&self) -> Form {
        let mut form = Form::new();
        for name in FIELDS {
            form = form.with(name, self.one(name));
        }
        form = form.with("kcs", &self.kcs().join(","));
        for (n, o) in self.options().into_iter().enumerate() {
            form = form
                .with(&format!("option_text_{n}"), &o.text)
                .with(&format!("option_explanation_{n}"), &o.explanation);
            if o.correct {
                form = form.with(&format!("option_correct_{n}"), "on");
            }
        }
        form
    }
}

/// The form's values for a stored item (its current revision).
pub fn stored(d: &DeskItem) -> Form {
    let c = &d.item.revision.content;
    let mut pairs = vec![
        ("kind".to_owned(), c.kind.as_str().to_owned()),
        ("locale".to_owned(), c.locale.as_str().to_owned()),
        ("course".to_owned(), d.course.clone()),
        ("stem".to_owned(), c.stem.clone()),
        ("explanation".to_owned(), c.explanation.clone()),
        ("difficulty".to_owned(), c.difficulty.as_str().to_owned()),
        (
            "estimated_seconds".to_owned(),
            c.estimated_seconds.to_string(),
        ),
        (
            "source_kind".to_owned(),
            c.source.kind.clone().unwrap_or_default(),
        ),
        (
            "source_label".to_owned(),
            c.source.label.clone().unwrap_or_default(),
        ),
        (
            "qroc_expected".to_owned(),
            c.qroc
                .as_ref()
                .map(|q| q.expected.clone())
                .unwrap_or_default(),
        ),
    ];
    for k in &d.item.kcs {
        pairs.push(("kcs".to_owned(), k.code.clone()));
    }
    for (i, o) in c.options.iter().enumerate() {
        pairs.push((format!("option_text_{i}"), o.text.clone()));
        pairs.push((format!("option_explanation_{i}"), o.explanation.clone()));
        if o.correct {
            pairs.push((format!("option_correct_{i}"), "on".to_owned()));
        }
    }
    EditorForm(pairs).kept()
}

/// The option rows the editor shows: those typed, plus empty ones up to four (or one more).
pub fn slots(form: &Form) -> Vec<OptionSlot> {
    let filled = (0..MAX_OPTIONS)
        .rev()
        .find(|i| {
            !form.val(&format!("option_text_{i}")).is_empty()
                || !form.val(&format!("option_explanation_{i}")).is_empty()
                || !form.val(&format!("option_correct_{i}")).is_empty()
        })
        .map_or(0, |i| i + 1);
    (0..(filled + 1).clamp(4, MAX_OPTIONS))
        .map(|i| OptionSlot {
            i,
            text: form.val(&format!("option_text_{i}")).to_owned(),
            correct: !form.val(&format!("option_correct_{i}")).is_empty(),
            explanation: form.val(&format!("option_explanation_{i}")).to_owned(),
        })
        .collect()
}

/// Points the catalogue's field paths (`options[2].text`, `kcs[0].kc`, `qroc.expected`,
/// `content.locale`) at the editor's own fields.
pub fn editor_fields(mut form: Form) -> Form {
    for e in &mut form.errors {
        e.field = editor_field(&e.field);
    }
    form
}

/// The editor's input for one catalogue field path.
pub fn editor_field(path: &str) -> String {
    let f = path.trim_start_matches("content.");
    if let Some(rest) = f.strip_prefix("options[") {
        let i: String = rest.chars().take_while(char::is_ascii_digit).collect();
        format!("option_text_{i}")
    } else if f.starts_with("kcs") {
        "kcs".to_owned()
    } else if f.starts_with("qroc") {
        "qroc_expected".to_owned()
    } else {
        f.to_owned()
    }
}

/// Default values of a new item.
pub fn blank() -> Form {
    Form::new()
        .with("kind", "qcm")
        .with("locale", "fr")
        .with("difficulty", "medium")
        .with("estimated_seconds", "60")
}
