//! Document ingestion: the type is sniffed from the content (magic bytes, then the archive's
//! parts), never from the file name; text is extracted in Rust with bounded memory, capped and
//! chunked by section (PDF page, Word heading, slide, sheet, blank-line block of text).
//!
//! Refused with a message the author can act on: files over the size limit, unknown types
//! (executables included), encrypted PDFs and Office files, polyglots (a PDF that is also a zip
//! or carries HTML, a zip that is also a PDF), archives with too many parts, a suspicious
//! compression ratio, more unzipped bytes than allowed (sizes declared in the archive can lie:
//! every part read is counted through `Read::take`), unsafe part names or links. Nothing in a
//! document is executed.

use std::io::{Cursor, Read};

/// Limits of one ingestion.
#[derive(Debug, Clone)]
pub struct IngestLimits {
    /// Largest file accepted (bytes).
    pub max_bytes: usize,
    /// Most parts in an Office archive.
    pub max_entries: usize,
    /// Most bytes unzipped from an Office archive, all parts read together.
    pub max_unzipped: u64,
    /// Largest uncompressed/compressed ratio of one part.
    pub max_ratio: u64,
    /// Extracted text is cut after this many characters.
    pub max_text_chars: usize,
    /// Target size of one chunk (characters).
    pub chunk_chars: usize,
}

/// The production limits: 20 MB files, 1000 parts, 200 MiB unzipped, ratio 100, 200 000
/// characters of text in chunks of about 6000.
pub const LIMITS: IngestLimits = IngestLimits {
    max_bytes: 20 * 1000 * 1000,
    max_entries: 1000,
    max_unzipped: 200 * 1024 * 1024,
    max_ratio: 100,
    max_text_chars: 200_000,
    chunk_chars: 6_000,
};

/// What a document turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// PDF.
    Pdf,
    /// Word (.docx).
    Docx,
    /// PowerPoint (.pptx).
    Pptx,
    /// Excel (.xlsx).
    Xlsx,
    /// UTF-8 text, CSV included.
    Text,
}

impl DocKind {
    /// Stable name (stored, shown).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Docx => "docx",
            Self::Pptx => "pptx",
            Self::Xlsx => "xlsx",
            Self::Text => "text",
        }
    }
}

/// Why a document was refused. The messages are shown to the author.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Over the size limit.
    #[error("the file is larger than {max_mb} MB")]
    TooLarge {
        /// The limit in MB.
        max_mb: usize,
    },
    /// Not one of the accepted types.
    #[error(
        "unsupported file type ({0}); send a PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), CSV or text file"
    )]
    Unsupported(String),
    /// Password-protected.
    #[error("the file is encrypted or password-protected; send an unprotected copy")]
    Encrypted,
    /// Two formats at once.
    #[error("the file is valid as two different formats at once (polyglot) and is refused")]
    Polyglot,
    /// Archive limits.
    #[error("the archive is refused: {0}")]
    Archive(String),
    /// Could not be read.
    #[error("the file could not be read: {0}")]
    Unreadable(String),
    /// Nothing to work from.
    #[error("no text could be extracted from the file (a scanned document needs OCR first)")]
    NoText,
}

/// One section of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Heading, page or sheet label.
    pub title: String,
    /// Its text.
    pub text: String,
}

/// A piece of a document small enough for one model call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    /// Position in the document (0-based), part of the per-chunk idempotency key.
    pub index: usize,
    /// Title of the section it starts in.
    pub title: String,
    /// The text.
    pub text: String,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Identifies `bytes`.
///
/// # Errors
/// See [`IngestError`].
pub fn sniff(bytes: &[u8], limits: &IngestLimits) -> Result<DocKind, IngestError> {
    if bytes.len() > limits.max_bytes {
        return Err(IngestError::TooLarge {
            max_mb: limits.max_bytes / 1_000_000,
        });
    }
    let head = &bytes[..bytes.len().min(1024)];
    if infer::is(bytes, "pdf") {
        if contains(bytes, b"PK\x03\x04") || contains(bytes, b"PK\x05\x06") {
            return Err(IngestError::Polyglot);
        }
        if contains_ci(head, b"<html") || contains_ci(head, b"<script") {
            return Err(IngestError::Polyglot);
        }
        return Ok(DocKind::Pdf);
    }
    if infer::archive::is_zip(bytes) {
        // PDF readers accept the header anywhere in the first kilobyte.
        if contains(head, b"%PDF") {
            return Err(IngestError::Polyglot);
        }
        return office_kind(bytes);
    }
    if infer::is(bytes, "doc")
        || infer::is(bytes, "xls")
        || infer::is(bytes, "ppt")
        || bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
    {
        // Encrypted .docx/.xlsx/.pptx are stored in this compound container too.
        return Err(IngestError::Unsupported(
            "an old Office or encrypted Office file: save it as .docx, .pptx or .xlsx without a password".into(),
        ));
    }
    if let Some(t) = infer::get(bytes) {
        return Err(IngestError::Unsupported(t.mime_type().to_owned()));
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !text.contains(&0) && std::str::from_utf8(text).is_ok() {
        return Ok(DocKind::Text);
    }
    Err(IngestError::Unsupported("binary data".into()))
}

fn zip_error(e: &dyn std::fmt::Display) -> IngestError {
    IngestError::Unreadable(format!("damaged archive ({e})"))
}

/// Opens an Office archive after checking every part's name, flags, declared size and ratio.
fn open_zip<'a>(
    bytes: &'a [u8],
    limits: &IngestLimits,
) -> Result<zip::ZipArchive<Cursor<&'a [u8]>>, IngestError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(&e))?;
    if zip.len() > limits.max_entries {
        return Err(IngestError::Archive(format!(
            "{} parts, at most {} allowed",
            zip.len(),
            limits.max_entries
        )));
    }
    let mut declared: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| zip_error(&e))?;
        if part.encrypted() {
            return Err(IngestError::Encrypted);
        }
        if part.enclosed_name().is_none() || part.is_symlink() {
            return Err(IngestError::Archive(
                "a part has an unsafe name or is a link".into(),
            ));
        }
        let ratio = part.size() / part.compressed_size().max(1);
        if part.size() > 1024 * 1024 && ratio > limits.max_ratio {
            return Err(IngestError::Archive(format!(
                "a part is compressed more than {}:1 (zip bomb?)",
                limits.max_ratio
            )));
        }
        declared = declared.saturating_add(part.size());
    }
    if declared > limits.max_unzipped {
        return Err(IngestError::Archive(format!(
            "it unzips to more than {} MiB",
            limits.max_unzipped / (1024 * 1024)
        )));
    }
    Ok(zip)
}

fn office_kind(bytes: &[u8]) -> Result<DocKind, IngestError> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(&e))?;
    let has = |n: &str| zip.index_for_name(n).is_some();
    if has("word/document.xml") {
        Ok(DocKind::Docx)
    } else if has("ppt/presentation.xml") {
        Ok(DocKind::Pptx)
    } else if has("xl/workbook.xml") {
        Ok(DocKind::Xlsx)
    } else {
        Err(IngestError::Unsupported(
            "a zip archive that is not a Word, PowerPoint or Excel file".into(),
        ))
    }
}

/// Reads one part as UTF-8 through the remaining unzip allowance.
fn read_part(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    allowance: &mut u64,
) -> Result<String, IngestError> {
    let part = zip.by_name(name).map_err(|e| zip_error(&e))?;
    let mut out = Vec::new();
    let n = part
        .take(*allowance + 1)
        .read_to_end(&mut out)
        .map_err(|e| zip_error(&e))? as u64;
    if n > *allowance {
        return Err(IngestError::Archive(
            "it unzips to more than allowed (zip bomb?)".into(),
        ));
    }
    *allowance -= n;
    String::from_utf8(out).map_err(|_| IngestError::Unreadable(format!("{name} is not UTF-8")))
}

/// Text of Office XML: `text_tag` elements (`t`), paragraphs (`p`) end lines; in Word, a
/// paragraph styled as a heading starts a new section.
fn office_xml(xml: &str, first_title: &str, out: &mut Vec<Section>) -> Result<(), IngestError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut in_text, mut heading) = (false, false);
    let mut para = String::new();
    out.push(Section {
        title: first_title.to_owned(),
        text: String::new(),
    });
    loop {
        let event = reader
            .read_event()
            .map_err(|e| IngestError::Unreadable(format!("bad XML ({e})")))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "t" => in_text = true,
                "tab" => para.push(' '),
                "br" => para.push('\n'),
                "pStyle" => {
                    heading = e.attributes().flatten().any(|a| {
                        a.key.local_name().as_ref() == "val"
                            && (a.value.starts_with("Heading")
                                || a.value.starts_with("Titre")
                                || a.value == "Title")
                    });
                }
                _ => {}
            },
            Event::Text(t) if in_text => para.push_str(&t),
            Event::GeneralRef(r) if in_text => match r.resolve_char_ref() {
                Ok(Some(c)) => para.push(c),
                _ => para.push_str(match &*r {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                }),
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    let line = para.trim().to_owned();
                    para.clear();
                    if heading && !line.is_empty() {
                        out.push(Section {
                            title: line,
                            text: String::new(),
                        });
                    } else if !line.is_empty()
                        && let Some(s) = out.last_mut()
                    {
                        s.text.push_str(&line);
                        s.text.push('\n');
                    }
                    heading = false;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

fn docx(bytes: &[u8], limits: &IngestLimits) -> Result<Vec<Section>, IngestError> {
    let mut zip = open_zip(bytes, limits)?;
    let mut allowance = limits.max_unzipped;
    let xml = read_part(&mut zip, "word/document.xml", &mut allowance)?;
    let mut out = Vec::new();
    office_xml(&xml, "Document", &mut out)?;
    Ok(out)
}

fn pptx(bytes: &[u8], limits: &IngestLimits) -> Result<Vec<Section>, IngestError> {
    let mut zip = open_zip(bytes, limits)?;
    let mut slides: Vec<(u32, String)> = zip
        .file_names()
        .flatten()
        .filter_map(|n| {
            let n: &str = &n;
            let num = n.strip_prefix("ppt/slides/slide")?.strip_suffix(".xml")?;
            Some((num.parse().ok()?, n.to_owned()))
        })
        .collect();
    slides.sort();
    let mut allowance = limits.max_unzipped;
    let mut out = Vec::new();
    for (num, name) in slides {
        let xml = read_part(&mut zip, &name, &mut allowance)?;
        office_xml(&xml, &format!("Slide {num}"), &mut out)?;
    }
    Ok(out)
}

fn xlsx(bytes: &[u8], limits: &IngestLimits) -> Result<Vec<Section>, IngestError> {
    use calamine::{Reader, Xlsx};
    // Measures every part first (the same limits as Word and PowerPoint files).
    let mut zip = open_zip(bytes, limits)?;
    let mut allowance = limits.max_unzipped;
    for i in 0..zip.len() {
        let part = zip.by_index(i).map_err(|e| zip_error(&e))?;
        let n = std::io::copy(&mut part.take(allowance + 1), &mut std::io::sink())
            .map_err(|e| zip_error(&e))?;
        if n > allowance {
            return Err(IngestError::Archive(
                "it unzips to more than allowed (zip bomb?)".into(),
            ));
        }
        allowance -= n;
    }
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| IngestError::Unreadable(format!("workbook ({e})")))?;
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| IngestError::Unreadable(format!("sheet ({e})")))?;
        let mut text = String::new();
        for row in range.rows() {
            let cells: Vec<String> = row
                .iter()
                .map(ToString::to_string)
                .filter(|c| !c.trim().is_empty())
                .collect();
            if !cells.is_empty() {
                text.push_str(&cells.join(" | "));
                text.push('\n');
            }
            if text.len() > limits.max_text_chars * 4 {
                break;
            }
        }
        out.push(Section { title: name, text });
    }
    Ok(out)
}

fn pdf(bytes: &[u8]) -> Result<Vec<Section>, IngestError> {
    if contains(bytes, b"/Encrypt") {
        return Err(IngestError::Encrypted);
    }
    let doc = lopdf::Document::load_mem(bytes)
        .map_err(|e| IngestError::Unreadable(format!("PDF ({e})")))?;
    if doc.is_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
        return Err(IngestError::Encrypted);
    }
    let mut out = Vec::new();
    for page in doc.get_pages().keys() {
        // A page whose text cannot be decoded is skipped, not fatal.
        let text = doc.extract_text(&[*page]).unwrap_or_default();
        out.push(Section {
            title: format!("Page {page}"),
            text,
        });
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Vec<Section> {
    let s = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
    vec![Section {
        title: "Text".into(),
        text: s.replace("\r\n", "\n"),
    }]
}

/// Sniffs, extracts and caps the text of a document.
///
/// # Errors
/// See [`IngestError`].
pub fn extract(
    bytes: &[u8],
    limits: &IngestLimits,
) -> Result<(DocKind, Vec<Section>), IngestError> {
    let kind = sniff(bytes, limits)?;
    let sections = match kind {
        DocKind::Pdf => pdf(bytes)?,
        DocKind::Docx => docx(bytes, limits)?,
        DocKind::Pptx => pptx(bytes, limits)?,
        DocKind::Xlsx => xlsx(bytes, limits)?,
        DocKind::Text => text(bytes),
    };
    let mut budget = limits.max_text_chars;
    let mut capped = Vec::new();
    for mut s in sections {
        s.text = s
            .text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if s.text.is_empty() || budget == 0 {
            continue;
        }
        let n = s.text.chars().count();
        if n > budget {
            s.text = s.text.chars().take(budget).collect();
        }
        budget = budget.saturating_sub(n);
        capped.push(s);
    }
    if capped.is_empty() {
        return Err(IngestError::NoText);
    }
    Ok((kind, capped))
}

/// Splits sections into chunks of about `max_chars`: small consecutive sections are packed
/// together, a long one is cut at paragraph (line) boundaries, a single over-long line at
/// `max_chars`.
pub fn chunk(sections: &[Section], max_chars: usize) -> Vec<Chunk> {
    let max_chars = max_chars.max(100);
    let mut out: Vec<Chunk> = Vec::new();
    let mut cur = Chunk {
        index: 0,
        title: String::new(),
        text: String::new(),
    };
    let mut cur_len = 0usize;
    let flush = |cur: &mut Chunk, cur_len: &mut usize, out: &mut Vec<Chunk>| {
        if *cur_len > 0 {
            let mut done = std::mem::take(cur);
            done.index = out.len();
            out.push(done);
            *cur_len = 0;
        }
    };
    for s in sections {
        for line in s.text.lines() {
            let chars: Vec<char> = line.chars().collect();
            for piece in chars.chunks(max_chars - 1) {
                if cur_len + piece.len() + 1 > max_chars {
                    flush(&mut cur, &mut cur_len, &mut out);
                }
                if cur_len == 0 {
                    cur.title.clone_from(&s.title);
                }
                cur.text.extend(piece.iter());
                cur.text.push('\n');
                cur_len += piece.len() + 1;
            }
        }
    }
    flush(&mut cur, &mut cur_len, &mut out);
    out
}

/// A small text PDF with one page per entry of `pages` (for tests and demos).
///
/// # Errors
/// When lopdf cannot write it.
pub fn sample_pdf(pages: &[&str]) -> Result<Vec<u8>, String> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for text in pages {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("TL", vec![14.into()]),
            Operation::new("Td", vec![50.into(), 780.into()]),
        ];
        for line in text.lines() {
            ops.push(Operation::new("Tj", vec![Object::string_literal(line)]));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops }
            .encode()
            .map_err(|e| e.to_string())?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(Object::from(page_id));
    }
    let count = i64::try_from(kids.len()).unwrap_or(0);
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut buf = Vec::new();
    doc.save_to(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_with(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in parts {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const DOCX_XML: &str = r#"<?xml version="1.0"?><w:document xmlns:w="w"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Cardiac cycle</w:t></w:r></w:p>
<w:p><w:r><w:t>The heart has four chambers &amp; two valves.</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Vessels</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">The aorta leaves </w:t></w:r><w:r><w:t>the left ventricle.</w:t></w:r></w:p>
</w:body></w:document>"#;

    #[test]
    fn a_pdf_gives_one_section_per_page() {
        let pdf = sample_pdf(&["The heart has four chambers.", "The aorta is an artery."]).unwrap();
        let (kind, sections) = extract(&pdf, &LIMITS).unwrap();
        assert_eq!(kind, DocKind::Pdf);
        assert_eq!(sections.len(), 2);
        assert!(sections[0].text.contains("four chambers"), "{sections:?}");
        assert!(sections[1].text.contains("aorta"), "{sections:?}");
    }

    #[test]
    fn a_docx_is_split_at_its_headings() {
        let docx = zip_with(&[("word/document.xml", DOCX_XML.as_bytes())]);
        let (kind, sections) = extract(&docx, &LIMITS).unwrap();
        assert_eq!(kind, DocKind::Docx);
        let titles: Vec<&str> = sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Cardiac cycle", "Vessels"]);
        assert_eq!(
            sections[0].text,
            "The heart has four chambers & two valves."
        );
        assert_eq!(sections[1].text, "The aorta leaves the left ventricle.");
    }

    #[test]
    fn a_pptx_gives_one_section_per_slide_in_order() {
        let slide = |t: &str| {
            format!(
                r#"<p:sld xmlns:a="a" xmlns:p="p"><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:sld>"#
            )
        };
        let (s2, s10) = (slide("second"), slide("tenth"));
        let pptx = zip_with(&[
            ("ppt/presentation.xml", b"<p:presentation xmlns:p=\"p\"/>"),
            ("ppt/slides/slide10.xml", s10.as_bytes()),
            ("ppt/slides/slide2.xml", s2.as_bytes()),
        ]);
        let (kind, sections) = extract(&pptx, &LIMITS).unwrap();
        assert_eq!(kind, DocKind::Pptx);
        assert_eq!(sections[0].title, "Slide 2");
        assert_eq!(sections[1].text, "tenth");
    }

    #[test]
    fn text_and_csv_are_sniffed_from_content_and_executables_refused() {
        let (kind, s) = extract("a,b\n1,2\n".as_bytes(), &LIMITS).unwrap();
        assert_eq!((kind, s[0].text.as_str()), (DocKind::Text, "a,b\n1,2"));
        let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
        elf.extend([0u8; 64]);
        assert!(matches!(
            sniff(&elf, &LIMITS),
            Err(IngestError::Unsupported(_))
        ));
        let mut mz = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
        mz.extend([0u8; 64]);
        assert!(matches!(
            sniff(&mz, &LIMITS),
            Err(IngestError::Unsupported(_))
        ));
        let junk = [0u8, 159, 146, 150, 1, 2];
        assert!(matches!(
            sniff(&junk, &LIMITS),
            Err(IngestError::Unsupported(_))
        ));
        let plain_zip = zip_with(&[("a.txt", b"hello")]);
        assert!(matches!(
            sniff(&plain_zip, &LIMITS),
            Err(IngestError::Unsupported(_))
        ));
    }

    #[test]
    fn files_over_the_limit_are_refused_before_parsing() {
        let limits = IngestLimits {
            max_bytes: 1_000_000,
            ..LIMITS
        };
        let big = vec![b'a'; 1_000_001];
        assert_eq!(
            sniff(&big, &limits),
            Err(IngestError::TooLarge { max_mb: 1 })
        );
    }

    #[test]
    fn a_zip_bomb_docx_is_refused() {
        // 8 MiB of zeros compress to a few KB: the ratio check trips.
        let zeros = vec![0u8; 8 * 1024 * 1024];
        let bomb = zip_with(&[("word/document.xml", &zeros)]);
        assert!(bomb.len() < 100_000);
        let err = extract(&bomb, &LIMITS).unwrap_err();
        assert!(matches!(err, IngestError::Archive(_)), "{err:?}");
        // Below the ratio check, the unzipped total is enforced while reading.
        let small = IngestLimits {
            max_unzipped: 64 * 1024,
            ..LIMITS
        };
        let text = format!(
            r#"<w:document xmlns:w="w"><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:document>"#,
            "ab".repeat(50_000)
        );
        let docx = zip_with(&[("word/document.xml", text.as_bytes())]);
        assert!(matches!(
            extract(&docx, &small),
            Err(IngestError::Archive(_))
        ));
        // And too many parts.
        let names: Vec<String> = (0..20).map(|i| format!("p{i}.xml")).collect();
        let mut parts: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        parts.push(("word/document.xml", DOCX_XML.as_bytes()));
        let many = zip_with(&parts);
        let few = IngestLimits {
            max_entries: 10,
            ..LIMITS
        };
        assert!(matches!(extract(&many, &few), Err(IngestError::Archive(_))));
    }

    #[test]
    fn encrypted_files_are_refused() {
        // An /Encrypt entry in the trailer, as a password-protected PDF has.
        let mut doc = lopdf::Document::load_mem(&sample_pdf(&["Secret."]).unwrap()).unwrap();
        doc.trailer
            .set("Encrypt", lopdf::Object::Reference((99, 0)));
        let mut pdf = Vec::new();
        doc.save_to(&mut pdf).unwrap();
        assert_eq!(extract(&pdf, &LIMITS), Err(IngestError::Encrypted));
        // An encrypted Office file is a compound (OLE) container, refused with advice.
        let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        ole.extend([0u8; 512]);
        assert!(
            matches!(sniff(&ole, &LIMITS), Err(IngestError::Unsupported(m)) if m.contains("password"))
        );
    }

    #[test]
    fn polyglots_are_refused() {
        let mut pdf_zip = sample_pdf(&["x"]).unwrap();
        pdf_zip.extend(zip_with(&[("word/document.xml", DOCX_XML.as_bytes())]));
        assert_eq!(sniff(&pdf_zip, &LIMITS), Err(IngestError::Polyglot));
        let html = b"%PDF-1.4\n<html><script>alert(1)</script></html>";
        assert_eq!(sniff(html, &LIMITS), Err(IngestError::Polyglot));
    }

    #[test]
    fn chunks_respect_the_size_and_keep_section_titles() {
        let sections = vec![
            Section {
                title: "A".into(),
                text: "one two three\n".repeat(30).trim_end().to_owned(),
            },
            Section {
                title: "B".into(),
                text: "x".repeat(450),
            },
        ];
        let chunks = chunk(&sections, 200);
        assert!(
            chunks.iter().all(|c| c.text.chars().count() <= 200),
            "{chunks:?}"
        );
        assert_eq!(chunks[0].title, "A");
        assert_eq!(chunks.last().map(|c| c.title.as_str()), Some("B"));
        let indexes: Vec<usize> = chunks.iter().map(|c| c.index).collect();
        assert_eq!(indexes, (0..chunks.len()).collect::<Vec<_>>());
        let total: usize = chunks.iter().map(|c| c.text.replace('\n', "").len()).sum();
        assert_eq!(total, 30 * 13 + 450);
    }
}
