//! QROC answers: one normalisation (trim, lower-case, NFD, combining marks removed, inner
//! whitespace collapsed) used for stored variants and learner answers alike, and a matcher that
//! accepts the expected answer, a variant, or a number within the tolerance.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::content::QrocSpec;

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

/// Reads the first number in an answer (`"135 mmHg"`, `"1,5"`, `"-3.2"`).
pub fn first_number(s: &str) -> Option<f64> {
    let s = s.replace(',', ".");
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|b| b.is_ascii_digit())?;
    let begin = if start > 0 && bytes[start - 1] == b'-' {
        start - 1
    } else {
        start
    };
    let mut end = start;
    let mut dot = false;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || (bytes[end] == b'.' && !dot)) {
        dot |= bytes[end] == b'.';
        end += 1;
    }
    s[begin..end].trim_end_matches('.').parse().ok()
}

/// Whether `answer` is accepted outright by `spec` (exact match after normalisation, a variant,
/// or a number within the tolerance). Lenient grading on keywords belongs to the grader.
pub fn accepts(spec: &QrocSpec, answer: &str) -> bool {
    let a = normalise(answer);
    if a.is_empty() {
        return false;
    }
    if normalise(&spec.expected) == a || spec.variants.iter().any(|v| normalise(v) == a) {
        return true;
    }
    match (&spec.numeric, first_number(&a)) {
        (Some(n), Some(x)) => (x - n.value).abs() <= n.tolerance + 1e-9,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::content::NumericSpec;

    #[test]
    fn normalisation_folds_case_accents_and_spaces() {
        assert_eq!(normalise("  Évaluation   Clinique "), "evaluation clinique");
        assert_eq!(normalise(&normalise("Ça")), normalise("Ça"));
    }

    #[test]
    fn numbers_are_accepted_within_the_tolerance() {
        let spec = QrocSpec {
            expected: "12 mEq/L".into(),
            variants: vec!["douze".into()],
            keywords: vec![],
            numeric: Some(NumericSpec {
                value: 12.0,
                tolerance: 1.0,
                unit: None,
            }),
        };
        assert!(accepts(&spec, "12 mEq/L"));
        assert!(accepts(&spec, "DOUZE"));
        assert!(accepts(&spec, "11,5"));
        assert!(!accepts(&spec, "14"));
        assert!(!accepts(&spec, "   "));
        assert_eq!(first_number("environ -3.5 kPa"), Some(-3.5));
    }
}
