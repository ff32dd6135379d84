//! Parser fuzzing with proptest (a stable toolchain has no `cargo fuzz`): every parser that reads
//! what a user or a file supplies is fed random input and random mutations of valid input, and
//! must answer (accept or refuse with an error) without panicking, with the invariants below.
//!
//! The normal test run uses proptest's default case count; CI's `parser-fuzz` stage runs the
//! same harnesses with `PROPTEST_CASES` in the thousands, bounded by a timeout. A failing case
//! is shrunk and saved by proptest under `proptest-regressions/`: commit it so it runs forever.
//!
//! Covered: the import parsers (JSON bank, CSV, XLSX), the QROC normaliser and matcher, the
//! Markdown renderer and HTML sanitiser.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::OnceLock;

use myqcm_domain::catalogue::qroc::{self, QrocMatch};
use myqcm_domain::catalogue::{Locale, NumericSpec, QrocSpec};
use myqcm_services::import::{self, Format, bank::Bank};
use myqcm_services::markdown;
use proptest::prelude::*;

/// The demo bank in each import format: the seeds the mutations start from.
fn seeds() -> &'static [(Format, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(Format, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let bank: Bank = serde_json::from_str(import::DEMO_BANK).unwrap();
        [Format::Json, Format::Csv, Format::Xlsx]
            .into_iter()
            .map(|f| (f, import::export::write(&bank, f).unwrap()))
            .collect()
    })
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                proptest::sample::select(vec![
                    b"\"".to_vec(),
                    b",".to_vec(),
                    b"\n".to_vec(),
                    b"\r\n".to_vec(),
                    b"\0".to_vec(),
                    b"=cmd|' /C calc'!A0".to_vec(),
                    b"{".to_vec(),
                    b"]".to_vec(),
                    b"\xef\xbb\xbf".to_vec(),
                    "é\u{202e}".as_bytes().to_vec(),
                    b"-1e999".to_vec(),
                ])
            ]
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    proptest::collection::vec(edit, 1..6)
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len().max(1);
        match e {
            Edit::Flip(i, b) => {
                if !bytes.is_empty() {
                    let i = i % bytes.len();
                    bytes[i] ^= b | 1;
                }
            }
            Edit::Insert(i, b) => {
                let i = i % (bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            Edit::Delete(i, k) => {
                let i = i % n;
                let end = (i + k).min(bytes.len());
                if i < end {
                    bytes.drain(i..end);
                }
            }
            Edit::Truncate(i) => bytes.truncate(i % n),
        }
    }
    bytes
}

/// The parse answers; when it accepts the file, every item has its row number and every
/// rejected row names a reason.
fn parse_holds(bytes: &[u8], format: Format) -> Result<(), TestCaseError> {
    if let Ok((bank, rows, rejected)) = import::parse(bytes, format, Some("fuzz-course")) {
        prop_assert_eq!(rows.len(), bank.items.len(), "one row number per item");
        for r in rejected {
            prop_assert!(!r.reason.is_empty());
        }
    }
    Ok(())
}

/// No script, event handler, frame or `javascript:` survives the sanitiser.
fn inert(html: &str) -> Result<(), TestCaseError> {
    let l = html.to_lowercase();
    for bad in [
        "<script",
        "javascript:",
        "onerror",
        "onload",
        "<iframe",
        "<svg",
        "<math",
        "<style",
        "<object",
        "<embed",
        "srcdoc",
    ] {
        // Text that merely mentions a word is escaped: `&lt;script` is fine, `<script` is not,
        // and attribute names only appear inside a tag.
        if bad.starts_with('<') || bad.ends_with(':') {
            prop_assert!(!l.contains(bad), "{bad} in {html}");
        } else {
            for tag in l.split('<').skip(1) {
                let inside = tag.split('>').next().unwrap_or_default();
                prop_assert!(!inside.contains(&format!(" {bad}")), "{bad} in {html}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: Some(Box::new(
        proptest::test_runner::FileFailurePersistence::WithSource("regressions"))), ..ProptestConfig::default() })]

    #[test]
    fn import_parsers_survive_mutations_of_a_valid_file(which in 0usize..3, e in edits()) {
        let (format, seed) = &seeds()[which];
        parse_holds(&apply(seed.clone(), &e), *format)?;
    }

    #[test]
    fn import_parsers_survive_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in [Format::Json, Format::Csv, Format::Xlsx] {
            parse_holds(&bytes, format)?;
        }
    }

    #[test]
    fn csv_parser_survives_random_text_rows(text in "(([^\\n]{0,40})(,|;|\t|\"|\n)){0,40}") {
        let header = String::from_utf8(seeds()[1].1.split(|b| *b == b'\n').next().unwrap().to_vec()).unwrap();
        parse_holds(format!("{header}\n{text}").as_bytes(), Format::Csv)?;
    }

    #[test]
    fn the_qroc_normaliser_is_idempotent_and_the_matcher_total(s in "\\PC{0,60}", answer in "\\PC{0,60}", value in -1e6f64..1e6, tol in 0f64..10.0) {
        let once = qroc::normalise(&s);
        prop_assert_eq!(qroc::normalise(&once), once.clone());
        let loose = qroc::normalise_loose(&s);
        prop_assert_eq!(qroc::normalise_loose(&loose), loose.clone());
        for l in [Locale::Fr, Locale::Ar, Locale::En] {
            if let Some(x) = qroc::parse_number(&answer, l) {
                prop_assert!(x.is_finite() || x.is_infinite(), "{x}");
            }
            let spec = QrocSpec {
                expected: s.clone(),
                variants: vec![answer.chars().rev().collect()],
                keywords: vec![s.chars().take(5).collect()],
                numeric: Some(NumericSpec { value, tolerance: tol, unit: None }),
            };
            let m = qroc::match_answer(&spec, &answer, l);
            // The expected answer itself, typed back, is always accepted unless it is blank.
            let own = qroc::match_answer(&spec, &s, l);
            prop_assert!(own.accepted() || own == QrocMatch::Blank, "{own:?} for {s:?}");
            if qroc::normalise_loose(&answer).is_empty() {
                prop_assert_eq!(m, QrocMatch::Blank);
            }
        }
    }

    #[test]
    fn markdown_renders_anything_into_inert_stable_html(s in "\\PC{0,200}", raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let lossy = String::from_utf8_lossy(&raw).into_owned();
        for input in [s, lossy] {
            let html = markdown::render(&input);
            inert(&html)?;
            prop_assert_eq!(markdown::sanitize(&html), html.clone());
            let clean = markdown::sanitize(&input);
            inert(&clean)?;
        }
    }
}
