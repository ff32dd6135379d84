//! Parser fuzzing with proptest (a stable toolchain has no `cargo fuzz`): every parser that reads
//! what a user or a file supplies is fed random input and random mutations of valid input, and
//! must answer (accept or refuse with an error) without panicking, with the invariants below.
//!
//! The normal test run uses proptest's default case count; CI's `parser-fuzz` stage runs the
//! same harnesses with `PROPTEST_CASES` in the thousands, bounded by a timeout. A failing case
//! is shrunk and saved by proptest under `proptest-regressions/`: commit it so it runs forever.
//!
//! Covered: the import parsers (JSON bank, CSV, XLSX), the QROC normaliser and matcher, the
//! Markdown renderer and HTML sanitiser, and the document extractors of question generation
//! (PDF, DOCX, PPTX, XLSX, text: sniffing, unzipping within limits, text capping, chunking).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::OnceLock;

use myqcm_domain::catalogue::qroc::{self, QrocMatch};
use myqcm_domain::catalogue::{Locale, NumericSpec, QrocSpec};
use myqcm_services::ai::ingest::{self, IngestLimits, LIMITS};
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

/// A zip of `parts`, stored uncompressed (so mutations reach the XML, not only the deflate
/// stream).
fn zip_of(parts: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in parts {
        w.start_file(*name, opts).unwrap();
        w.write_all(data.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// One document of each kind the generation accepts: the extractors' seeds.
fn documents() -> &'static [Vec<u8>] {
    static DOCS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let docx = r#"<w:document xmlns:w="w"><w:body><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>HTA</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">La MAPA &amp; l'automesure </w:t></w:r><w:r><w:t>confirment.</w:t></w:r></w:p></w:body></w:document>"#;
        let slide = r#"<p:sld xmlns:a="a" xmlns:p="p"><a:p><a:r><a:t>Insuffisance cardiaque</a:t></a:r></a:p></p:sld>"#;
        vec![
            ingest::sample_pdf(&["Hypertension artérielle", "Traitement : IEC, ARA2"]).unwrap(),
            zip_of(&[("word/document.xml", docx)]),
            zip_of(&[
                ("ppt/presentation.xml", r#"<p:presentation xmlns:p="p"/>"#),
                ("ppt/slides/slide1.xml", slide),
                ("ppt/slides/slide2.xml", slide),
            ]),
            seeds()[2].1.clone(),
            "Cours de cardiologie\n\nL'HTA se définit par une PA ≥ 140/90.\n".as_bytes().to_vec(),
        ]
    })
}

/// The seeds themselves are read (the mutations start from documents that work).
#[test]
fn every_document_seed_is_extracted() {
    for (i, doc) in documents().iter().enumerate() {
        let (_, sections) =
            ingest::extract(doc, &FUZZ_LIMITS).unwrap_or_else(|e| panic!("{i}: {e}"));
        assert!(!sections.is_empty(), "{i}");
    }
}

/// Small limits, so that capping and chunking are exercised on small inputs.
const FUZZ_LIMITS: IngestLimits = IngestLimits {
    max_bytes: 1 << 20,
    max_text_chars: 4_000,
    chunk_chars: 300,
    ..LIMITS
};

/// An extraction either refuses with an error or gives non-empty sections within the text cap,
/// which chunk into pieces within the chunk size that keep every character.
fn extract_holds(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok((_, sections)) = ingest::extract(bytes, &FUZZ_LIMITS) else {
        return Ok(());
    };
    prop_assert!(!sections.is_empty());
    let total: usize = sections.iter().map(|s| s.text.chars().count()).sum();
    prop_assert!(
        total <= FUZZ_LIMITS.max_text_chars,
        "{total} characters kept"
    );
    prop_assert!(sections.iter().all(|s| !s.text.is_empty()));
    let chunks = ingest::chunk(&sections, FUZZ_LIMITS.chunk_chars);
    prop_assert!(
        chunks
            .iter()
            .all(|c| c.text.chars().count() <= FUZZ_LIMITS.chunk_chars)
    );
    let kept = |t: &str| t.chars().filter(|c| !c.is_whitespace()).count();
    let in_chunks: usize = chunks.iter().map(|c| kept(&c.text)).sum();
    let in_sections: usize = sections.iter().map(|s| kept(&s.text)).sum();
    prop_assert_eq!(in_chunks, in_sections, "chunking keeps every character");
    Ok(())
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
    fn document_extractors_survive_mutations_of_valid_documents(which in 0usize..5, e in edits()) {
        extract_holds(&apply(documents()[which].clone(), &e))?;
    }

    #[test]
    fn document_extractors_survive_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096), prefix in 0usize..6) {
        // Random bytes behind each kind's magic number, and alone.
        let magic: [&[u8]; 6] = [b"", b"%PDF-1.5\n", b"PK\x03\x04", b"\xEF\xBB\xBF", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", b"{\\rtf1"];
        let mut doc = magic[prefix].to_vec();
        doc.extend(bytes);
        extract_holds(&doc)?;
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
