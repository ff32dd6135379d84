//! Spreadsheet rows (CSV and .xlsx) to bank items. Header names are normalised (lower-case,
//! non-alphanumerics removed), so both our export columns and the earlier system's columns
//! (domain spec §2.6: `Question Text`, `Question Type`, `Option1..5`, `Correct Options`,
//! `Answer Text`, `Explanation`, `Difficulty`, `Tag`, `Promo`, `Time (sec)`,
//! `Knowledge Components`) are read by the same code.

use std::collections::HashMap;
use std::io::Cursor;

use myqcm_domain::catalogue::{NumericSpec, OptionSpec, QrocSpec};
use myqcm_domain::text::{DISALLOWED_MESSAGE, has_disallowed};

use super::RowError;
use super::bank::{BankItem, BankKcDomain, BankKcTag, BankNode, BankSource, BankTopic, Names};

/// Most options a row may have.
pub const MAX_OPTIONS: usize = 10;

/// Our export columns, in order.
pub fn export_headers() -> Vec<String> {
    let mut h: Vec<String> = [
        "external_id",
        "type",
        "course",
        "locale",
        "translation_of",
        "stem",
    ]
    .map(String::from)
    .to_vec();
    for i in 1..=6 {
        h.push(format!("option{i}"));
        h.push(format!("option{i}_explanation"));
    }
    h.extend(
        [
            "correct",
            "expected",
            "variants",
            "keywords",
            "numeric_value",
            "numeric_tolerance",
            "numeric_unit",
            "explanation",
            "references",
            "difficulty",
            "estimated_seconds",
            "kcs",
            "source_kind",
            "source_label",
            "source_faculty",
            "exam_year",
            "session",
            "source_original",
        ]
        .map(String::from),
    );
    h
}

fn norm(h: &str) -> String {
    h.chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Canonical column for a normalised header (aliases of the earlier system included).
fn canonical(h: &str) -> Option<String> {
    let c = match h {
        "externalid" | "id" => "external_id",
        "type" | "questiontype" | "kind" => "type",
        "course" | "coursecode" => "course",
        "locale" | "language" | "langue" | "lang" => "locale",
        "translationof" => "translation_of",
        "stem" | "questiontext" | "question" => "stem",
        "correct" | "correctoptions" | "correctanswers" => "correct",
        "expected" | "answertext" | "answer" => "expected",
        "variants" => "variants",
        "keywords" => "keywords",
        "numericvalue" => "numeric_value",
        "numerictolerance" => "numeric_tolerance",
        "numericunit" | "unit" => "numeric_unit",
        "explanation" => "explanation",
        "references" => "references",
        "difficulty" => "difficulty",
        "estimatedseconds" | "timesec" | "time" | "seconds" => "estimated_seconds",
        "kcs" | "knowledgecomponents" => "kcs",
        "sourcekind" | "tag" => "source_kind",
        "sourcelabel" => "source_label",
        "sourcefaculty" | "faculty" => "source_faculty",
        "examyear" | "promo" => "exam_year",
        "session" => "session",
        "sourceoriginal" | "original" => "source_original",
        "quiztype" => "quiz_type",
        other => {
            for i in 1..=MAX_OPTIONS {
                if other == format!("option{i}") {
                    return Some(format!("option{i}"));
                }
                if other == format!("option{i}explanation") {
                    return Some(format!("option{i}_explanation"));
                }
            }
            return None;
        }
    };
    Some(c.to_owned())
}

/// Parsed rows: `(row number, item)` for good rows, errors for the others. Row numbers count
/// the header as row 1, like a spreadsheet.
pub struct Parsed {
    /// Good rows.
    pub items: Vec<(usize, BankItem)>,
    /// Bad rows.
    pub errors: Vec<RowError>,
    /// KC tree read from a taxonomy sheet (a sheet with KC columns and no stem).
    pub kcs: Vec<BankKcDomain>,
}

/// Bounds on what a spreadsheet may make the importer do, checked while reading, before
/// memory is spent: a crafted workbook (a zip bomb, or cells at A1 and XFD1048576, which a
/// reader that fills the rectangle between would allocate) is refused with a clear message.
#[derive(Debug, Clone, Copy)]
pub struct SheetLimits {
    /// Bytes an .xlsx may hold once unzipped (all parts together).
    pub max_unzipped_bytes: u64,
    /// Parts in the .xlsx archive.
    pub max_parts: usize,
    /// Rows read, the header included (CSV records or sheet rows).
    pub max_rows: usize,
    /// Columns read.
    pub max_columns: usize,
}

/// The limits imports use: 64 MiB unzipped, 1 000 parts, 100 000 rows, 200 columns. Bigger
/// banks go in several files, or as JSON.
pub const LIMITS: SheetLimits = SheetLimits {
    max_unzipped_bytes: 64 * 1024 * 1024,
    max_parts: 1_000,
    max_rows: 100_000,
    max_columns: 200,
};

/// One line of a sheet as the reader hands it over: its cells, or why the line is unreadable.
enum Line {
    Cells(usize, Vec<String>),
    Bad(RowError),
}

/// Reads CSV bytes (UTF-8, optional BOM; `,` or `;` separator detected from the header).
pub fn parse_csv(bytes: &[u8], default_course: Option<&str>) -> Result<Parsed, RowError> {
    parse_csv_within(bytes, default_course, &LIMITS)
}

/// [`parse_csv`] with explicit limits.
pub fn parse_csv_within(
    bytes: &[u8],
    default_course: Option<&str>,
    limits: &SheetLimits,
) -> Result<Parsed, RowError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delim = if first_line.iter().filter(|b| **b == b';').count()
        > first_line.iter().filter(|b| **b == b',').count()
    {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| RowError::file(format!("unreadable header: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.len() > limits.max_columns {
        return Err(too_wide(limits));
    }
    let lines = rdr.into_records().enumerate().map(|(i, rec)| {
        let row = i + 2;
        if row > limits.max_rows {
            return Err(too_long(limits));
        }
        Ok(match rec {
            Ok(r) if r.len() > limits.max_columns => return Err(too_wide(limits)),
            Ok(r) => Line::Cells(row, r.iter().map(str::to_owned).collect()),
            Err(e) => Line::Bad(
                RowError::new(row, "", format!("malformed CSV line: {e}"))
                    .coded("malformed_line", ""),
            ),
        })
    });
    from_rows(&headers, lines, default_course)
}

fn too_long(limits: &SheetLimits) -> RowError {
    RowError::file(format!(
        "the sheet has more than {} rows; split it into several files",
        limits.max_rows
    ))
    .coded("too_many_rows", limits.max_rows.to_string())
}

fn too_wide(limits: &SheetLimits) -> RowError {
    RowError::file(format!(
        "the sheet has more than {} columns",
        limits.max_columns
    ))
    .coded("too_many_columns", limits.max_columns.to_string())
}

/// Spreadsheet name of a cell: `(0, 0)` is `A1`.
fn cell_name(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut c = col + 1;
    while c > 0 {
        let rem = u8::try_from((c - 1) % 26).unwrap_or(0);
        letters.push(char::from(b'A' + rem));
        c = (c - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(u64::from(row) + 1).to_string()
}

/// Unzips every part of an .xlsx into the void, counting, so that the reader that follows
/// never meets more than `limits` allow (sizes declared in the archive can lie; the count
/// cannot).
fn check_archive(bytes: &[u8], limits: &SheetLimits) -> Result<(), RowError> {
    use std::io::Read;
    let unreadable = |e: &dyn std::fmt::Display| {
        RowError::file(format!("not a readable .xlsx file: {e}")).coded("unreadable_file", "")
    };
    let bomb = || {
        RowError::file(format!(
            "the workbook unzips to more than {} MiB; split it into several files",
            limits.max_unzipped_bytes / (1024 * 1024)
        ))
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    if zip.len() > limits.max_parts {
        return Err(RowError::file(format!(
            "the workbook has {} parts; at most {} are read",
            zip.len(),
            limits.max_parts
        )));
    }
    let mut declared: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| unreadable(&e))?;
        declared = declared.saturating_add(part.size());
    }
    if declared > limits.max_unzipped_bytes {
        return Err(bomb());
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index(i).map_err(|e| unreadable(&e))?;
        let allowance = limits.max_unzipped_bytes - total;
        let n = std::io::copy(&mut part.take(allowance + 1), &mut std::io::sink())
            .map_err(|e| unreadable(&e))?;
        if n > allowance {
            return Err(bomb());
        }
        total += n;
    }
    Ok(())
}

/// Reads the first sheet of an .xlsx workbook.
pub fn parse_xlsx(bytes: &[u8], default_course: Option<&str>) -> Result<Parsed, RowError> {
    parse_xlsx_within(bytes, default_course, &LIMITS)
}

/// [`parse_xlsx`] with explicit limits. The archive is measured first; the sheet is then read
/// cell by cell in file order and handed on row by row, so nothing is allocated for the empty
/// space between cells, and a cell beyond the limits ends the read.
pub fn parse_xlsx_within(
    bytes: &[u8],
    default_course: Option<&str>,
    limits: &SheetLimits,
) -> Result<Parsed, RowError> {
    use calamine::{Reader, Xlsx};
    check_archive(bytes, limits)?;
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        RowError::file(format!("not a readable .xlsx file: {e}")).coded("unreadable_file", "")
    })?;
    let first = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| RowError::file("the workbook has no sheet").coded("empty_file", ""))?;
    let mut cells = wb
        .worksheet_cells_reader(&first)
        .map_err(|e| RowError::file(format!("unreadable sheet: {e}")))?;
    let mut rows = SheetRows {
        limits,
        current: None,
        done: false,
        next: move || {
            cells
                .next_cell()
                .map(|c| {
                    c.map(|c| {
                        let (row, col) = c.get_position();
                        (row, col, cell(&calamine::Data::from(c.get_value().clone())))
                    })
                })
                .map_err(|e| RowError::file(format!("unreadable sheet: {e}")))
        },
    };
    // The header is the first row holding anything; rows are numbered as the sheet numbers
    // them.
    let headers = loop {
        match rows.next() {
            None => return Err(RowError::file("the sheet is empty").coded("empty_file", "")),
            Some(Err(e)) => return Err(e),
            Some(Ok(Line::Cells(_, h))) if h.iter().all(|c| c.trim().is_empty()) => {}
            Some(Ok(Line::Cells(_, h))) => break h,
            Some(Ok(Line::Bad(e))) => return Err(e),
        }
    };
    from_rows(&headers, rows, default_course)
}

/// Assembles streamed cells into rows (cells of one row arrive together in a sheet's XML).
struct SheetRows<'l, F> {
    limits: &'l SheetLimits,
    /// The row being assembled: its index and its cells.
    current: Option<(u32, Vec<String>)>,
    /// The reader reached the end of the sheet or failed: it is not called again.
    done: bool,
    next: F,
}

impl<F> Iterator for SheetRows<'_, F>
where
    F: FnMut() -> Result<Option<(u32, u32, String)>, RowError>,
{
    type Item = Result<Line, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let (row, col, value) = match (self.next)() {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(None) => {
                    self.done = true;
                    let (r, cells) = self.current.take()?;
                    return Some(Ok(Line::Cells(r as usize + 1, cells)));
                }
                Ok(Some(c)) => c,
            };
            if value.is_empty() {
                // Formatting without content, wherever it sits, is not data.
                continue;
            }
            if row as usize >= self.limits.max_rows || col as usize >= self.limits.max_columns {
                self.done = true;
                return Some(Err(RowError::file(format!(
                    "cell {} lies outside the area read (at most {} rows and {} columns); \
                     split the sheet or remove stray cells",
                    cell_name(row, col),
                    self.limits.max_rows,
                    self.limits.max_columns
                ))));
            }
            let done = match &mut self.current {
                Some((r, cells)) if *r == row => {
                    if cells.len() <= col as usize {
                        cells.resize(col as usize + 1, String::new());
                    }
                    cells[col as usize] = value;
                    continue;
                }
                other => other.take(),
            };
            let mut cells = vec![String::new(); col as usize + 1];
            cells[col as usize] = value;
            self.current = Some((row, cells));
            if let Some((r, cells)) = done {
                return Some(Ok(Line::Cells(r as usize + 1, cells)));
            }
        }
    }
}

fn cell(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

fn from_rows(
    headers: &[String],
    rows: impl Iterator<Item = Result<Line, RowError>>,
    default_course: Option<&str>,
) -> Result<Parsed, RowError> {
    let normalised: Vec<String> = headers.iter().map(|h| norm(h)).collect();
    if normalised.iter().any(|h| h == "kccode" || h == "kcslug")
        && !normalised
            .iter()
            .any(|h| h == "stem" || h == "questiontext")
    {
        return kc_rows(&normalised, rows);
    }
    let cols: Vec<Option<String>> = headers.iter().map(|h| canonical(&norm(h))).collect();
    if !cols.iter().any(|c| c.as_deref() == Some("stem")) {
        return Err(RowError::file(
            "no stem column (expected `stem` or `Question Text`)",
        ));
    }
    let mut out = Parsed {
        items: Vec::new(),
        errors: Vec::new(),
        kcs: Vec::new(),
    };
    for line in rows {
        let (row, values) = match line? {
            Line::Cells(row, values) => (
                row,
                values.into_iter().map(unescape_cell).collect::<Vec<_>>(),
            ),
            Line::Bad(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if values.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        if let Some(e) = control_characters(row, headers, &values) {
            out.errors.push(e);
            continue;
        }
        let map: HashMap<&str, &str> = cols
            .iter()
            .zip(values.iter())
            .filter_map(|(c, v)| c.as_deref().map(|c| (c, v.trim())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        match row_to_item(&map, default_course) {
            Ok(item) => out.items.push((row, item)),
            Err(e) => out.errors.push(RowError { row, ..e }),
        }
    }
    Ok(out)
}

/// The first cell of a row holding a control character, as a row error naming its column.
fn control_characters(row: usize, headers: &[String], values: &[String]) -> Option<RowError> {
    let i = values.iter().position(|v| has_disallowed(v))?;
    Some(
        RowError::new(
            row,
            headers.get(i).cloned().unwrap_or_default(),
            DISALLOWED_MESSAGE,
        )
        .coded("control_character", ""),
    )
}

fn split_list(s: &str) -> Vec<String> {
    s.split(['|', ';'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What is wrong with a cell: its column, the machine reason, the value named, the English text.
type CellError = RowError;

fn bad_cell(
    column: &str,
    code: &str,
    value: impl ToString,
    reason: impl Into<String>,
) -> CellError {
    RowError::new(0, column, reason).coded(code, value.to_string())
}

fn row_to_item(
    m: &HashMap<&str, &str>,
    default_course: Option<&str>,
) -> Result<BankItem, CellError> {
    let get = |k: &str| m.get(k).copied();
    let stem = get("stem")
        .ok_or_else(|| bad_cell("stem", "required", "", "required"))?
        .to_owned();
    let course = get("course")
        .or(default_course)
        .ok_or_else(|| {
            bad_cell(
                "course",
                "required",
                "",
                "required (column `course` or --course)",
            )
        })?
        .to_owned();
    let mut options = Vec::new();
    for i in 1..=MAX_OPTIONS {
        if let Some(t) = get(&format!("option{i}")) {
            if options.len() != i - 1 {
                return Err(bad_cell(
                    "options",
                    "option_gap",
                    i,
                    format!("option{i} follows an empty option"),
                ));
            }
            options.push(OptionSpec {
                text: t.to_owned(),
                correct: false,
                explanation: get(&format!("option{i}_explanation"))
                    .unwrap_or("")
                    .to_owned(),
            });
        }
    }
    let correct: Vec<usize> = match get("correct") {
        None => vec![],
        Some(c) => c
            .split(|ch: char| !ch.is_ascii_alphanumeric())
            .filter(|x| !x.is_empty())
            .map(|x| {
                if let Ok(n) = x.parse::<usize>() {
                    Ok(n)
                } else if x.len() == 1 && x.as_bytes()[0].is_ascii_alphabetic() {
                    Ok(usize::from(x.to_ascii_lowercase().as_bytes()[0] - b'a') + 1)
                } else {
                    Err(bad_cell(
                        "correct",
                        "not_option_number",
                        x,
                        format!("{x:?} is not an option number"),
                    ))
                }
            })
            .collect::<Result<_, _>>()?,
    };
    for n in &correct {
        let o = options.get_mut(n.wrapping_sub(1)).ok_or_else(|| {
            bad_cell(
                "correct",
                "no_such_option",
                n,
                format!("option {n} does not exist"),
            )
        })?;
        o.correct = true;
    }
    let type_text = get("type").unwrap_or("").to_lowercase();
    let kind = if ["qroc", "qro", "short", "ouverte", "open"]
        .iter()
        .any(|k| type_text.contains(k))
        || (options.is_empty() && get("expected").is_some())
    {
        "qroc"
    } else if type_text == "qcs" || type_text == "qcm" {
        if type_text == "qcs" { "qcs" } else { "qcm" }
    } else if correct.len() == 1 {
        "qcs"
    } else {
        "qcm"
    };
    let qroc = if kind == "qroc" {
        let numeric = match get("numeric_value") {
            None => None,
            Some(v) => Some(NumericSpec {
                value: v.replace(',', ".").parse().map_err(|_| {
                    bad_cell(
                        "numeric_value",
                        "not_a_number",
                        v,
                        format!("{v:?} is not a number"),
                    )
                })?,
                tolerance: match get("numeric_tolerance") {
                    None => 0.0,
                    Some(t) => t.replace(',', ".").parse().map_err(|_| {
                        bad_cell(
                            "numeric_tolerance",
                            "not_a_number",
                            t,
                            format!("{t:?} is not a number"),
                        )
                    })?,
                },
                unit: get("numeric_unit").map(str::to_owned),
            }),
        };
        Some(QrocSpec {
            expected: get("expected")
                .ok_or_else(|| bad_cell("expected", "required", "", "required for a QROC"))?
                .to_owned(),
            variants: get("variants").map(split_list).unwrap_or_default(),
            keywords: get("keywords").map(split_list).unwrap_or_default(),
            numeric,
        })
    } else {
        None
    };
    let difficulty = match get("difficulty").map(str::to_lowercase).as_deref() {
        None | Some("medium" | "moyen" | "moyenne") => "medium",
        Some("easy" | "facile") => "easy",
        Some("hard" | "difficile") => "hard",
        Some(other) => {
            return Err(bad_cell(
                "difficulty",
                "unknown_difficulty",
                other,
                format!("{other:?} is not easy/medium/hard"),
            ));
        }
    };
    let estimated_seconds = match get("estimated_seconds") {
        None => 60,
        Some(s) => s.parse().map_err(|_| {
            bad_cell(
                "estimated_seconds",
                "not_whole_seconds",
                s,
                format!("{s:?} is not a whole number of seconds"),
            )
        })?,
    };
    let kcs = match get("kcs") {
        None => vec![],
        Some(s) => s
            .split(['|', ';', ','])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|part| match part.split_once(':') {
                Some((kc, w)) => w
                    .trim()
                    .parse()
                    .map(|weight| BankKcTag {
                        kc: kc.trim().to_owned(),
                        weight,
                    })
                    .map_err(|_| {
                        bad_cell("kcs", "bad_weight", part, format!("bad weight in {part:?}"))
                    }),
                None => Ok(BankKcTag {
                    kc: part.to_owned(),
                    weight: 1.0,
                }),
            })
            .collect::<Result<_, _>>()?,
    };
    let source_kind = get("source_kind").map(|t| match t.to_lowercase().as_str() {
        "book" | "livre" => "book".to_owned(),
        "serie" | "series" | "séries" | "série" => "series".to_owned(),
        "exam" | "examen" => "exam".to_owned(),
        "td/tp" | "td" | "tp" => "td".to_owned(),
        "others" | "other" | "autre" | "autres" => "other".to_owned(),
        other => other.to_owned(),
    });
    let exam_year = match get("exam_year") {
        None => None,
        Some(y) => Some(
            y.parse::<i32>()
                .ok()
                .filter(|y| (1950..=2100).contains(y))
                .ok_or_else(|| {
                    bad_cell("exam_year", "not_a_year", y, format!("{y:?} is not a year"))
                })?,
        ),
    };
    let original = get("source_original")
        .is_some_and(|v| matches!(v.to_lowercase().as_str(), "true" | "1" | "yes" | "oui"));
    let any_source = original
        || source_kind.is_some()
        || get("source_label").is_some()
        || exam_year.is_some()
        || get("session").is_some()
        || get("source_faculty").is_some();
    Ok(BankItem {
        external_id: get("external_id").map(str::to_owned),
        kind: kind.into(),
        course,
        locale: get("locale").unwrap_or("fr").to_lowercase(),
        translation_of: get("translation_of").map(str::to_owned),
        stem,
        options,
        qroc,
        explanation: get("explanation").unwrap_or("").to_owned(),
        references: get("references").map(split_list).unwrap_or_default(),
        difficulty: difficulty.into(),
        estimated_seconds,
        kcs,
        source: any_source.then(|| BankSource {
            kind: source_kind,
            label: get("source_label").map(str::to_owned),
            faculty: get("source_faculty").map(str::to_owned),
            exam_year,
            session: get("session").map(str::to_lowercase),
            original,
        }),
    })
}

/// Characters that make a spreadsheet program read a cell as a formula (CSV injection).
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Neutralises a cell for export: one that would start a formula, or that starts with the
/// quote itself, gets a leading `'`, which spreadsheet programs show as text and
/// [`unescape_cell`] removes on import, so an export re-imports unchanged.
pub fn escape_cell(v: String) -> String {
    match v.chars().next() {
        Some(c) if FORMULA_LEADS.contains(&c) || c == '\'' => format!("'{v}"),
        _ => v,
    }
}

/// Undoes [`escape_cell`]: drops one leading `'` when a formula character or another `'`
/// follows (any other leading quote is content and stays).
pub fn unescape_cell(v: String) -> String {
    let mut chars = v.chars();
    match (chars.next(), chars.next()) {
        (Some('\''), Some(c)) if FORMULA_LEADS.contains(&c) || c == '\'' => v[1..].to_owned(),
        _ => v,
    }
}

/// One export row for an item, in [`export_headers`] order.
pub fn export_row(i: &BankItem) -> Vec<String> {
    let mut r = vec![
        i.external_id.clone().unwrap_or_default(),
        i.kind.clone(),
        i.course.clone(),
        i.locale.clone(),
        i.translation_of.clone().unwrap_or_default(),
        i.stem.clone(),
    ];
    for k in 0..6 {
        let o = i.options.get(k);
        r.push(o.map(|o| o.text.clone()).unwrap_or_default());
        r.push(o.map(|o| o.explanation.clone()).unwrap_or_default());
    }
    let correct: Vec<String> = i
        .options
        .iter()
        .enumerate()
        .filter(|(_, o)| o.correct)
        .map(|(k, _)| (k + 1).to_string())
        .collect();
    let q = i.qroc.as_ref();
    let n = q.and_then(|q| q.numeric.as_ref());
    let s = i.source.clone().unwrap_or_default();
    r.extend([
        correct.join(";"),
        q.map(|q| q.expected.clone()).unwrap_or_default(),
        q.map(|q| q.variants.join("|")).unwrap_or_default(),
        q.map(|q| q.keywords.join("|")).unwrap_or_default(),
        n.map(|n| n.value.to_string()).unwrap_or_default(),
        n.map(|n| n.tolerance.to_string()).unwrap_or_default(),
        n.and_then(|n| n.unit.clone()).unwrap_or_default(),
        i.explanation.clone(),
        i.references.join("|"),
        i.difficulty.clone(),
        i.estimated_seconds.to_string(),
        i.kcs
            .iter()
            .map(|k| format!("{}:{}", k.kc, k.weight))
            .collect::<Vec<_>>()
            .join("|"),
        s.kind.unwrap_or_default(),
        s.label.unwrap_or_default(),
        s.faculty.unwrap_or_default(),
        s.exam_year.map(|y| y.to_string()).unwrap_or_default(),
        s.session.unwrap_or_default(),
        if s.original {
            "true".into()
        } else {
            String::new()
        },
    ]);
    r.into_iter().map(escape_cell).collect()
}

/// Columns of the taxonomy sheet, in order.
pub fn kc_headers() -> Vec<&'static str> {
    vec![
        "subject",
        "domain_code",
        "domain_name_fr",
        "domain_name_en",
        "domain_name_ar",
        "topic_code",
        "topic_name_fr",
        "topic_name_en",
        "topic_name_ar",
        "kc_code",
        "kc_name_fr",
        "kc_name_en",
        "kc_name_ar",
    ]
}

fn names_of(get: &dyn Fn(&str) -> Option<String>, prefix: &str) -> Names {
    let mut n = Names::new();
    for (locale, keys) in [
        (
            "fr",
            vec![format!("{prefix}namefr"), format!("{prefix}name")],
        ),
        ("en", vec![format!("{prefix}nameen")]),
        ("ar", vec![format!("{prefix}namear")]),
    ] {
        if let Some(v) = keys.iter().find_map(|k| get(k)) {
            n.insert(locale.into(), serde_json::Value::String(v));
        }
    }
    n
}

/// Reads a taxonomy sheet: one row per KC with its subject, domain and topic (our export), or
/// the earlier system's columns (`domain_slug`, `domain_name`, `kc_slug`, `kc_name`,
/// `parent_slug`), where a KC without a parent hangs under a topic named after its domain.
fn kc_rows(
    headers: &[String],
    rows: impl Iterator<Item = Result<Line, RowError>>,
) -> Result<Parsed, RowError> {
    let mut out = Parsed {
        items: vec![],
        errors: vec![],
        kcs: vec![],
    };
    for line in rows {
        let (row, values) = match line? {
            Line::Cells(row, values) => (
                row,
                values.into_iter().map(unescape_cell).collect::<Vec<_>>(),
            ),
            Line::Bad(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if values.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        if let Some(e) = control_characters(row, headers, &values) {
            out.errors.push(e);
            continue;
        }
        let cell = |k: &str| {
            headers
                .iter()
                .position(|h| h == k)
                .and_then(|i| values.get(i))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let get = |k: &str| cell(k);
        let first = |ks: &[&str]| ks.iter().find_map(|k| cell(k));
        let (Some(subject), Some(domain), Some(kc)) = (
            first(&["subject", "subjectcode"]),
            first(&["domaincode", "domainslug", "domain"]),
            first(&["kccode", "kcslug", "kc"]),
        ) else {
            out.errors.push(
                RowError::new(row, "subject/domain_code/kc_code", "required").coded("required", ""),
            );
            continue;
        };
        let topic = first(&["topiccode", "topicslug", "topic", "parentslug"])
            .unwrap_or_else(|| format!("{domain}-general"));
        let d = match out.kcs.iter().position(|d| d.domain.code == domain) {
            Some(i) => i,
            None => {
                let mut names = names_of(&get, "domain");
                if names.is_empty() {
                    names.insert("fr".into(), serde_json::Value::String(domain.clone()));
                }
                out.kcs.push(BankKcDomain {
                    subject: subject.clone(),
                    domain: BankNode {
                        code: domain.clone(),
                        name: names,
                    },
                    topics: vec![],
                });
                out.kcs.len() - 1
            }
        };
        if out.kcs[d].subject != subject {
            out.errors.push(RowError::new(
                row,
                "subject",
                format!("domain {domain} already belongs to {}", out.kcs[d].subject),
            ));
            continue;
        }
        let topics = &mut out.kcs[d].topics;
        let t = match topics.iter().position(|t| t.code == topic) {
            Some(i) => i,
            None => {
                let mut names = names_of(&get, "topic");
                if names.is_empty() {
                    names = out.kcs[d].domain.name.clone();
                }
                out.kcs[d].topics.push(BankTopic {
                    code: topic.clone(),
                    name: names,
                    kcs: vec![],
                });
                out.kcs[d].topics.len() - 1
            }
        };
        let mut names = names_of(&get, "kc");
        if names.is_empty() {
            names.insert("fr".into(), serde_json::Value::String(kc.clone()));
        }
        out.kcs[d].topics[t].kcs.push(BankNode {
            code: kc,
            name: names,
        });
    }
    Ok(out)
}

/// Taxonomy rows for export, in [`kc_headers`] order.
pub fn kc_export_rows(domains: &[BankKcDomain]) -> Vec<Vec<String>> {
    let n = |m: &Names, l: &str| m.get(l).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let mut out = Vec::new();
    for d in domains {
        for t in &d.topics {
            for k in &t.kcs {
                out.push(
                    vec![
                        d.subject.clone(),
                        d.domain.code.clone(),
                        n(&d.domain.name, "fr"),
                        n(&d.domain.name, "en"),
                        n(&d.domain.name, "ar"),
                        t.code.clone(),
                        n(&t.name, "fr"),
                        n(&t.name, "en"),
                        n(&t.name, "ar"),
                        k.code.clone(),
                        n(&k.name, "fr"),
                        n(&k.name, "en"),
                        n(&k.name, "ar"),
                    ]
                    .into_iter()
                    .map(escape_cell)
                    .collect(),
                );
            }
        }
    }
    out
}
