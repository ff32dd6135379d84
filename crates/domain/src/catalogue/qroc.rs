//! QROC answers: one normalisation (trim, lower-case, NFD, combining marks removed, inner
//! whitespace collapsed) used for stored variants and learner answers alike, and a matcher that
//! accepts the expected answer, a variant, every keyword, or a number within the tolerance.
//!
//! Matching is tolerant but deterministic:
//! * text is compared after [`normalise_loose`]: [`normalise`], then punctuation turned into
//!   spaces (so `"l'HTA."` equals `"l hta"`), Arabic tatweel removed and `ى` read as `ي`;
//! * numbers are read by [`parse_number`] with the item's locale: in French and Arabic `1,5` is
//!   1.5 and `1 500` (space, no-break space or narrow no-break space before a group of three
//!   digits) is 1500; in English `1,500` is 1500 and `1.5` is 1.5; Arabic-Indic digits are read;
//! * keywords, when the item has some, accept an answer that contains **all** of them as whole
//!   words (a lenient reading for multi-word answers; it cannot detect a negation, which is why
//!   it is opt-in per item).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::content::{Locale, QrocSpec};

/// Normalises a free-text answer so that `"  Évaluation "` equals `"evaluation"`.
pub fn normalise(s: &str) -> String {
    let folded: String = s
        .trim()
        .to_lowercase()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// [`normalise`], then every punctuation or symbol character becomes a space, the ligatures
/// `œ`/`æ` are spelt out, Arabic tatweel is dropped and `ى` (alef maksura) is read as `ي`;
/// whitespace is collapsed again.
///
/// ```
/// # use myqcm_domain::catalogue::qroc::normalise_loose;
/// assert_eq!(normalise_loose("  L'Hypertension-artérielle ! "), "l hypertension arterielle");
/// ```
pub fn normalise_loose(s: &str) -> String {
    let mut mapped = String::with_capacity(s.len());
    for c in normalise(s).chars() {
        match c {
            '\u{0640}' => {}
            '\u{0649}' => mapped.push('\u{064A}'),
            'œ' => mapped.push_str("oe"),
            'æ' => mapped.push_str("ae"),
            c if c.is_alphanumeric() || c.is_whitespace() => mapped.push(c),
            _ => mapped.push(' '),
        }
    }
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the first number in an answer (`"135 mmHg"`, `"1,5"`, `"-3.2"`), reading a comma as
/// a decimal separator. Prefer [`parse_number`], which knows the locale.
pub fn first_number(s: &str) -> Option<f64> {
    parse_number(s, Locale::Fr)
}

/// Spaces that may separate groups of three digits.
fn is_group_space(c: char) -> bool {
    matches!(c, ' ' | '\u{00A0}' | '\u{202F}' | '\u{2009}')
}

/// ASCII digit for Arabic-Indic and extended Arabic-Indic digits; other characters unchanged.
fn fold_digit(c: char) -> char {
    match c {
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        '\u{066B}' => ',',
        '\u{066C}' => '\u{202F}',
        '\u{2212}' => '-',
        c => c,
    }
}

/// Reads the first number of `s` as a speaker of `locale` writes it.
///
/// * French and Arabic: `,` is the decimal separator (`1,5` = 1.5); a single `.` is read as a
///   decimal point too (`0.5`), several as thousands (`1.000.000`).
/// * English: `.` is the decimal point; `,` followed by exactly three digits groups thousands
///   (`1,500` = 1500), otherwise it is read as a decimal comma (`1,5` = 1.5).
/// * Everywhere: a space, no-break space or narrow no-break space between a digit and exactly
///   three digits groups thousands (`1 500` = 1500, but `2 3` is 2); with both `,` and `.` the
///   last one is the decimal separator (`1.500,5` = 1500.5); `-` or `−` right before the digits
///   makes the number negative.
///
/// ```
/// # use myqcm_domain::catalogue::{Locale, qroc::parse_number};
/// assert_eq!(parse_number("1,5 g/L", Locale::Fr), Some(1.5));
/// assert_eq!(parse_number("1 500 mL", Locale::Fr), Some(1500.0));
/// assert_eq!(parse_number("1,500 mL", Locale::En), Some(1500.0));
/// assert_eq!(parse_number("environ −3,2", Locale::Fr), Some(-3.2));
/// ```
pub fn parse_number(s: &str, locale: Locale) -> Option<f64> {
    let chars: Vec<char> = s.chars().map(fold_digit).collect();
    let start = chars.iter().position(char::is_ascii_digit)?;
    let negative = start > 0 && chars[start - 1] == '-';
    // Digits of the whole run, with separators kept for interpretation.
    let mut token = String::new();
    let mut i = start;
    let digits_after = |j: usize| chars[j..].iter().take_while(|c| c.is_ascii_digit()).count();
    while i < chars.len() {
        let c = chars[i];
        let separator_then_digit =
            (c == ',' || c == '.') && i + 1 < chars.len() && chars[i + 1].is_ascii_digit();
        if c.is_ascii_digit() || separator_then_digit {
            token.push(c);
            i += 1;
        } else if is_group_space(c)
            && i + 1 < chars.len()
            && chars[i - 1].is_ascii_digit()
            && digits_after(i + 1) == 3
            && !token.contains([',', '.'])
        {
            i += 1; // a thousands group follows: drop the space
        } else {
            break;
        }
    }
    let commas = token.matches(',').count();
    let dots = token.matches('.').count();
    let plain: String = match (commas, dots) {
        (0, 0) => token,
        (c, d) if c > 0 && d > 0 => {
            // The last separator is the decimal one; the other kind groups thousands.
            let last = token.rfind([',', '.'])?;
            let (int, frac) = token.split_at(last);
            let int: String = int.chars().filter(char::is_ascii_digit).collect();
            format!("{int}.{}", &frac[1..])
        }
        (1, 0) => {
            let frac_len = token.len() - token.find(',')? - 1;
            if locale == Locale::En && frac_len == 3 {
                token.replace(',', "")
            } else {
                token.replace(',', ".")
            }
        }
        (0, 1) => token,
        // Several of one kind: thousands groups.
        _ => token.replace([',', '.'], ""),
    };
    let value: f64 = plain.parse().ok()?;
    Some(if negative { -value } else { value })
}

/// A loosely normalised text without its spaces, so `"O.A.P"`, `"o a p"` and `"OAP"` compare
/// equal.
fn compact(loose: &str) -> String {
    loose.chars().filter(|c| !c.is_whitespace()).collect()
}

/// How a QROC answer was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrocMatch {
    /// The answer is empty once normalised: nothing to grade.
    Blank,
    /// Equal to the expected answer or a variant (after [`normalise_loose`]).
    Text,
    /// Contains every keyword of the item.
    Keywords,
    /// A number within the tolerance.
    Number,
    /// Not accepted.
    None,
}

impl QrocMatch {
    /// Whether the answer is accepted.
    pub fn accepted(self) -> bool {
        matches!(self, Self::Text | Self::Keywords | Self::Number)
    }
}

/// Matches `answer` against `spec` for an item written in `locale` (module documentation).
///
/// ```
/// # use myqcm_domain::catalogue::{Locale, QrocSpec, NumericSpec, qroc::{match_answer, QrocMatch}};
/// let spec = QrocSpec { expected: "1,5 g/L".into(), variants: vec![], keywords: vec![],
///     numeric: Some(NumericSpec { value: 1.5, tolerance: 0.05, unit: None }) };
/// assert_eq!(match_answer(&spec, "1,5 g/l.", Locale::Fr), QrocMatch::Text);
/// assert_eq!(match_answer(&spec, "1.52", Locale::Fr), QrocMatch::Number);
/// assert_eq!(match_answer(&spec, "  ", Locale::Fr), QrocMatch::Blank);
/// ```
pub fn match_answer(spec: &QrocSpec, answer: &str, locale: Locale) -> QrocMatch {
    let a = normalise_loose(answer);
    if a.is_empty() {
        return QrocMatch::Blank;
    }
    let compact_answer = compact(&a);
    if compact(&normalise_loose(&spec.expected)) == compact_answer
        || spec
            .variants
            .iter()
            .any(|v| compact(&normalise_loose(v)) == compact_answer)
    {
        return QrocMatch::Text;
    }
    if let (Some(n), Some(x)) = (&spec.numeric, parse_number(answer, locale))
        && (x - n.value).abs() <= n.tolerance + 1e-9 * n.value.abs().max(1.0)
    {
        return QrocMatch::Number;
    }
    let keywords: Vec<String> = spec
        .keywords
        .iter()
        .map(|k| normalise_loose(k))
        .filter(|k| !k.is_empty())
        .collect();
    let padded = format!(" {a} ");
    if !keywords.is_empty() && keywords.iter().all(|k| padded.contains(&format!(" {k} "))) {
        return QrocMatch::Keywords;
    }
    QrocMatch::None
}

/// Normalised Levenshtein similarity (0 = nothing in common, 1 = equal) from which a refused
/// answer counts as near the key (see [`is_unsure`]).
pub const NEAR_SIMILARITY: f64 = 0.6;

/// Whether the tolerant match is **unsure** about `answer`: it refused it (neither blank nor
/// accepted by [`match_answer`]), yet the answer is near the key, so a second grader (the
/// language model, then a reviewer) should judge it. Precisely, the match is
/// [`QrocMatch::None`], the answer is not a number on an item with a numeric key (numbers are
/// read crisply: outside the tolerance is wrong), and at least one of:
///
/// 1. the item has keywords and the answer holds some of them, but not all;
/// 2. the normalised Levenshtein similarity `1 − d(a, k) / max(|a|, |k|)` between the
///    loose-normalised, space-free answer `a` and the expected answer or a variant `k` is at
///    least [`NEAR_SIMILARITY`] (a misspelling, a transposition, a missing letter);
/// 3. the expected answer or a variant appears as whole words inside a longer answer, or the
///    answer (at least 4 characters) appears as whole words inside one of them.
///
/// ```
/// # use myqcm_domain::catalogue::{Locale, QrocSpec, qroc::is_unsure};
/// let spec = QrocSpec { expected: "Hyperkaliémie".into(), variants: vec![],
///     keywords: vec![], numeric: None };
/// assert!(is_unsure(&spec, "hyperkaliemie sévère", Locale::Fr));
/// assert!(is_unsure(&spec, "hyperkalémie", Locale::Fr));
/// assert!(!is_unsure(&spec, "hyponatrémie chronique", Locale::Fr));
/// assert!(!is_unsure(&spec, "hyperkaliémie", Locale::Fr), "accepted, so sure");
/// ```
pub fn is_unsure(spec: &QrocSpec, answer: &str, locale: Locale) -> bool {
    if match_answer(spec, answer, locale) != QrocMatch::None {
        return false;
    }
    if spec.numeric.is_some() && parse_number(answer, locale).is_some() {
        return false;
    }
    let a = normalise_loose(answer);
    let keywords: Vec<String> = spec
        .keywords
        .iter()
        .map(|k| normalise_loose(k))
        .filter(|k| !k.is_empty())
        .collect();
    let padded = format!(" {a} ");
    if keywords.iter().any(|k| padded.contains(&format!(" {k} "))) {
        return true;
    }
    let keys: Vec<String> = std::iter::once(&spec.expected)
        .chain(&spec.variants)
        .map(|k| normalise_loose(k))
        .filter(|k| !k.is_empty())
        .collect();
    keys.iter().any(|k| {
        strsim::normalized_levenshtein(&compact(&a), &compact(k)) >= NEAR_SIMILARITY
            || padded.contains(&format!(" {k} "))
            || (a.chars().count() >= 4 && format!(" {k} ").contains(&format!(" {a} ")))
    })
}

/// Whether `answer` is accepted outright by `spec` (expected answer, variant, keywords or a
/// number within the tolerance), reading numbers the French way.
pub fn accepts(spec: &QrocSpec, answer: &str) -> bool {
    match_answer(spec, answer, Locale::Fr).accepted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::content::NumericSpec;

    #[test]
    fn unsure_means_refused_yet_near_the_key_by_one_of_the_three_rules() {
        let spec = QrocSpec {
            expected: "Galop protodiastolique".into(),
            variants: vec!["troisième bruit".into()],
            keywords: vec!["galop".into(), "protodiastolique".into()],
            numeric: None,
        };
        let fr = Locale::Fr;
        // Accepted or blank: never unsure.
        assert!(!is_unsure(&spec, "galop protodiastolique", fr));
        assert!(!is_unsure(&spec, " ", fr));
        // 1. Some keywords but not all.
        assert!(is_unsure(&spec, "un galop", fr));
        // 2. A misspelling of a variant.
        assert!(is_unsure(&spec, "troisieme bruits", fr));
        // 3. The answer is part of a key.
        assert!(is_unsure(&spec, "troisième", fr));
        // Far from every key.
        assert!(!is_unsure(&spec, "souffle systolique", fr));
        // Numbers are crisp: a wrong number is wrong, not unsure.
        let n = numeric("135 mmHg", 135.0, 0.0);
        assert!(!is_unsure(&n, "136 mmHg", fr));
    }

    fn numeric(expected: &str, value: f64, tolerance: f64) -> QrocSpec {
        QrocSpec {
            expected: expected.into(),
            variants: vec![],
            keywords: vec![],
            numeric: Some(NumericSpec {
                value,
                tolerance,
                unit: None,
            }),
        }
    }

    #[test]
    fn normalisation_folds_case_accents_and_spaces() {
        assert_eq!(normalise("  Évaluation   Clinique "), "evaluation clinique");
        assert_eq!(normalise(&normalise("Ça")), normalise("Ça"));
        assert_eq!(
            normalise_loose("«Œdème» aigu, du poumon."),
            "oedeme aigu du poumon"
        );
        // Hamza and madda are combining marks after NFD; tatweel goes, alef maksura is ya.
        assert_eq!(normalise_loose("أنسولين"), normalise_loose("انسولين"));
        assert_eq!(normalise_loose("مـرض"), "مرض");
        assert_eq!(normalise_loose("حمى"), "حمي");
    }

    #[test]
    fn numbers_are_accepted_within_the_tolerance() {
        let mut spec = numeric("12 mEq/L", 12.0, 1.0);
        spec.variants = vec!["douze".into()];
        assert!(accepts(&spec, "12 mEq/L"));
        assert!(accepts(&spec, "DOUZE"));
        assert!(accepts(&spec, "11,5"));
        assert!(!accepts(&spec, "14"));
        assert!(!accepts(&spec, "   "));
        assert_eq!(first_number("environ -3.5 kPa"), Some(-3.5));
    }

    #[test]
    fn numbers_follow_the_locale() {
        use Locale::{Ar, En, Fr};
        let cases: &[(&str, Locale, Option<f64>)] = &[
            ("1,5", Fr, Some(1.5)),
            ("1 500", Fr, Some(1500.0)),
            ("1\u{00A0}500", Fr, Some(1500.0)),
            ("1\u{202F}500,25 g", Fr, Some(1500.25)),
            ("2 3", Fr, Some(2.0)),
            ("135 mmHg", Fr, Some(135.0)),
            ("12 345 678", Fr, Some(12_345_678.0)),
            ("0.5", Fr, Some(0.5)),
            ("1.000.000", Fr, Some(1_000_000.0)),
            ("1.500,5", Fr, Some(1500.5)),
            ("1,500", En, Some(1500.0)),
            ("1,5", En, Some(1.5)),
            ("1,500.25", En, Some(1500.25)),
            ("1 500", En, Some(1500.0)),
            ("pH −7,4", Fr, Some(-7.4)),
            ("T-3", Fr, Some(-3.0)),
            ("١٫٥", Ar, Some(1.5)),
            ("٣٥", Ar, Some(35.0)),
            ("no number", Fr, None),
            ("1,", Fr, Some(1.0)),
        ];
        for (s, loc, want) in cases {
            assert_eq!(parse_number(s, *loc), *want, "{s:?} in {loc}");
        }
    }

    #[test]
    fn text_keywords_and_blank_answers() {
        let spec = QrocSpec {
            expected: "Œdème aigu du poumon".into(),
            variants: vec!["OAP".into()],
            keywords: vec!["oedeme".into(), "poumon".into()],
            numeric: None,
        };
        use QrocMatch::{Blank, Keywords, Text};
        for (answer, want) in [
            ("oedeme aigu du poumon !", Text),
            ("œdème aigu du poumon", Text),
            ("O.A.P", Text), // spacing and punctuation do not matter
            ("oap.", Text),
            ("un oedeme du poumon cardiogenique", Keywords),
            ("oedemes pulmonaires", QrocMatch::None),
            ("", Blank),
            (" ... ", Blank),
            ("pneumonie", QrocMatch::None),
        ] {
            assert_eq!(match_answer(&spec, answer, Locale::Fr), want, "{answer:?}");
        }
    }

    #[test]
    fn the_french_thousands_space_is_not_a_decimal_comma() {
        let spec = numeric("1500 mL", 1500.0, 0.0);
        assert!(match_answer(&spec, "1 500 mL", Locale::Fr).accepted());
        assert!(!match_answer(&spec, "1,5 L", Locale::Fr).accepted());
        let spec = numeric("1,5", 1.5, 0.0);
        assert!(match_answer(&spec, "1,5", Locale::Fr).accepted());
        assert!(match_answer(&spec, "1.5", Locale::En).accepted());
        assert!(!match_answer(&spec, "1,500", Locale::En).accepted());
    }
}
