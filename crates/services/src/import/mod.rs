//! Import and export of items and the taxonomy: the JSON bank format, CSV and .xlsx (our columns
//! and the earlier system's). An import is idempotent — a row with an `external_id` updates that
//! item, a row without one matches on the content hash — and all-or-nothing unless `partial`,
//! which keeps the good rows and reports the others (row, column, reason).

pub mod bank;
pub mod export;
pub mod jobs;
pub mod tabular;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use myqcm_db::catalogue::{self as repo, RevisionUpdate};
use myqcm_db::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use myqcm_domain::catalogue::blueprint::{BlueprintWeights, SubjectWeight};
use myqcm_domain::catalogue::curriculum::{check_code, check_subject_placement};
use myqcm_domain::catalogue::{ItemContent, ItemStatus, SourceTags};
use serde::Serialize;
use uuid::Uuid;

use crate::catalogue::{CatalogueError, KcInput, new_item_row, resolve_kcs};
use bank::{Bank, BankItem};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Row number (spreadsheet numbering; JSON: 1-based position in `items`, cases after).
    pub row: usize,
    /// Column or field.
    pub column: String,
    /// What is wrong, in English (logs, the CLI, and pages when no translation is known).
    pub reason: String,
    /// Stable machine reason, when the problem is a known one: the pages translate it
    /// (`import-reason-<code>`, else the form message `field-<code>`) instead of showing
    /// `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The value the reason names (an unknown course code, a limit), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl RowError {
    /// An error about row `row`, column `column`.
    pub fn new(row: usize, column: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            row,
            column: column.into(),
            reason: reason.into(),
            code: None,
            value: None,
        }
    }

    /// An error about the whole file (row 0).
    pub fn file(reason: impl Into<String>) -> Self {
        Self::new(0, "", reason)
    }

    /// The same error with its machine reason and, when `value` is not empty, the value it
    /// names.
    #[must_use]
    pub fn coded(mut self, code: &str, value: impl Into<String>) -> Self {
        self.code = Some(code.to_owned());
        let v: String = value.into();
        self.value = (!v.is_empty()).then_some(v);
        self
    }

    /// An error about a cell of the current row (its number is set when it is reported).
    fn cell(
        column: impl Into<String>,
        code: &str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(0, column, reason).coded(code, value)
    }
}

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The JSON bank format.
    Json,
    /// CSV.
    Csv,
    /// Excel workbook.
    Xlsx,
}

impl Format {
    /// Parses `json`, `csv`, `xlsx`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    /// Guesses from a file name.
    pub fn from_path(p: &str) -> Option<Self> {
        Self::parse(p.rsplit('.').next().unwrap_or(""))
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }

    /// The media type of a file in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Keep good rows when some are bad.
    pub partial: bool,
    /// Author recorded on new items and revisions.
    pub author_id: Uuid,
    /// Status of new items (`in_review` for admin imports, `approved` for the demo seed).
    pub status: ItemStatus,
    /// Course for rows without a `course` column (the earlier system's files).
    pub default_course: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Item rows read.
    pub total: usize,
    /// New items.
    pub created: usize,
    /// Items that got a new revision.
    pub updated: usize,
    /// Items already identical.
    pub unchanged: usize,
    /// Rows rejected.
    pub failed: usize,
    /// Whether anything was written.
    pub committed: bool,
    /// A dry run: every row was checked and imported inside a transaction that was then rolled
    /// back, so the counts say what an import would do and nothing was written.
    #[serde(default)]
    pub dry_run: bool,
    /// Rejected rows.
    pub errors: Vec<RowError>,
}

/// Parses `bytes` in `format` into a bank plus the row numbers of its items and the rows that
/// could not even be parsed.
pub fn parse(
    bytes: &[u8],
    format: Format,
    default_course: Option<&str>,
) -> Result<(Bank, Vec<usize>, Vec<RowError>), RowError> {
    match format {
        Format::Json => {
            let bank: Bank = serde_json::from_slice(bytes).map_err(|e| {
                RowError::new(e.line(), "", format!("invalid JSON: {e}")).coded("invalid_json", "")
            })?;
            // Parsed once more as a tree to find text with control characters (the typed parse
            // accepts them; PostgreSQL would then fail the whole import).
            if let Ok(tree) = serde_json::from_slice::<serde_json::Value>(bytes)
                && let Some(column) = first_control_character(&tree, String::new())
            {
                return Err(
                    RowError::new(0, column, myqcm_domain::text::DISALLOWED_MESSAGE)
                        .coded("control_character", ""),
                );
            }
            let rows = (1..=bank.items.len()).collect();
            Ok((bank, rows, vec![]))
        }
        Format::Csv | Format::Xlsx => {
            let parsed = if format == Format::Csv {
                tabular::parse_csv(bytes, default_course)?
            } else {
                tabular::parse_xlsx(bytes, default_course)?
            };
            let rows = parsed.items.iter().map(|(r, _)| *r).collect();
            let bank = Bank {
                items: parsed.items.into_iter().map(|(_, i)| i).collect(),
                knowledge_components: parsed.kcs,
                ..Bank::default()
            };
            Ok((bank, rows, parsed.errors))
        }
    }
}

/// The path (`items[3].options[0].text`) of the first string or key holding a control
/// character.
fn first_control_character(v: &serde_json::Value, path: String) -> Option<String> {
    use myqcm_domain::text::has_disallowed;
    match v {
        serde_json::Value::String(s) => has_disallowed(s).then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| first_control_character(x, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let child = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if has_disallowed(k) {
                Some(child)
            } else {
                first_control_character(x, child)
            }
        }),
        _ => None,
    }
}

/// Progress callback: (rows done, rows in total).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Send + Sync);

/// Imports `bytes`. All-or-nothing unless `opts.partial`.
pub async fn import(
    db: &DatabaseConnection,
    bytes: &[u8],
    format: Format,
    opts: &ImportOptions,
    progress: Progress<'_>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportFailure> {
    import_in_mode(db, bytes, format, opts, progress, now, false).await
}

/// Checks `bytes` as [`import`] would import them, row by row, and writes nothing: the report
/// has the rows' errors and the counts an import would reach (`dry_run`, never `committed`).
pub async fn dry_run(
    db: &DatabaseConnection,
    bytes: &[u8],
    format: Format,
    opts: &ImportOptions,
    progress: Progress<'_>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportFailure> {
    import_in_mode(db, bytes, format, opts, progress, now, true).await
}

async fn import_in_mode(
    db: &DatabaseConnection,
    bytes: &[u8],
    format: Format,
    opts: &ImportOptions,
    progress: Progress<'_>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<ImportReport, ImportFailure> {
    let (bank, rows, parse_errors) = match parse(bytes, format, opts.default_course.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            return Ok(ImportReport {
                failed: 1,
                errors: vec![e],
                dry_run,
                ..ImportReport::default()
            });
        }
    };
    bank_in_mode(db, &bank, &rows, parse_errors, opts, progress, now, dry_run).await
}

/// A failure that is not about a row (the database went away).
#[derive(Debug, thiserror::Error)]
#[error("import failed: {0}")]
pub struct ImportFailure(pub String);

impl From<myqcm_db::DbError> for ImportFailure {
    fn from(e: myqcm_db::DbError) -> Self {
        Self(e.to_string())
    }
}

impl From<sea_orm::DbErr> for ImportFailure {
    fn from(e: sea_orm::DbErr) -> Self {
        Self(e.to_string())
    }
}

/// Imports an already parsed bank (the seed calls this directly).
pub async fn import_bank(
    db: &DatabaseConnection,
    bank: &Bank,
    rows: &[usize],
    errors: Vec<RowError>,
    opts: &ImportOptions,
    progress: Progress<'_>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportFailure> {
    bank_in_mode(db, bank, rows, errors, opts, progress, now, false).await
}

#[allow(
    clippy::too_many_arguments,
    reason = "the public entry points' arguments plus the mode"
)]
async fn bank_in_mode(
    db: &DatabaseConnection,
    bank: &Bank,
    rows: &[usize],
    mut errors: Vec<RowError>,
    opts: &ImportOptions,
    progress: Progress<'_>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<ImportReport, ImportFailure> {
    let case_items: usize = bank.clinical_cases.iter().map(|c| c.items.len()).sum();
    let total = bank.items.len() + case_items;
    let mut report = ImportReport {
        total: total + errors.len(),
        failed: errors.len(),
        ..ImportReport::default()
    };
    let txn = repo::begin_write(db).await?;
    if let Err(e) = taxonomy(&txn, bank, now).await {
        errors.push(e);
        report.failed += 1;
    }
    let mut ctx = Ctx {
        courses: HashMap::new(),
        opts,
        now,
    };
    let mut done = 0;
    for (k, item) in bank.items.iter().enumerate() {
        let row = rows.get(k).copied().unwrap_or(k + 1);
        ctx.row(&txn, row, item, None, &mut report, &mut errors)
            .await?;
        done += 1;
        if done % 250 == 0 || done == total {
            progress(done, total);
        }
    }
    let mut row = bank.items.len();
    for case in &bank.clinical_cases {
        let course = match ctx.course(&txn, &case.course).await? {
            Some(c) => c,
            None => {
                for _ in &case.items {
                    row += 1;
                    errors.push(
                        RowError::new(row, "course", format!("unknown course {}", case.course))
                            .coded("unknown_course", case.course.trim()),
                    );
                    report.failed += 1;
                }
                continue;
            }
        };
        let stored = repo::upsert_case(
            &txn,
            repo::clinical_case::Model {
                id: Uuid::now_v7(),
                external_id: Some(case.external_id.clone()),
                course_id: course.id,
                locale: case.locale.clone(),
                title: case.title.clone(),
                scenario: case.scenario.clone(),
                objectives: serde_json::to_string(&case.objectives).unwrap_or_default(),
                author_id: opts.author_id,
                created_at: now,
            },
        )
        .await?;
        for (pos, item) in case.items.iter().enumerate() {
            row += 1;
            ctx.row(
                &txn,
                row,
                item,
                Some((stored.id, i32::try_from(pos + 1).unwrap_or(i32::MAX))),
                &mut report,
                &mut errors,
            )
            .await?;
            done += 1;
            progress(done, total);
        }
    }
    errors.sort_by_key(|e| e.row);
    report.errors = errors;
    if dry_run {
        // Every row ran against the real tables (unknown courses, duplicates within the
        // file), and none of it stays.
        txn.rollback().await?;
        report.dry_run = true;
        report.committed = false;
        return Ok(report);
    }
    if report.failed > 0 && !opts.partial {
        txn.rollback().await?;
        report.created = 0;
        report.updated = 0;
        report.unchanged = 0;
        report.committed = false;
        return Ok(report);
    }
    txn.commit().await?;
    report.committed = true;
    Ok(report)
}

struct Ctx<'a> {
    courses: HashMap<String, Option<repo::course::Model>>,
    opts: &'a ImportOptions,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    async fn course(
        &mut self,
        txn: &DatabaseTransaction,
        code: &str,
    ) -> Result<Option<repo::course::Model>, ImportFailure> {
        if let Some(c) = self.courses.get(code) {
            return Ok(c.clone());
        }
        let c = repo::course_by_code(txn, code).await?;
        self.courses.insert(code.to_owned(), c.clone());
        Ok(c)
    }

    /// Imports one row; row-level problems go to `errors`, only database failures return `Err`.
    /// In partial mode each row runs in a savepoint so a failing row leaves no trace.
    async fn row(
        &mut self,
        txn: &DatabaseTransaction,
        row: usize,
        item: &BankItem,
        case: Option<(Uuid, i32)>,
        report: &mut ImportReport,
        errors: &mut Vec<RowError>,
    ) -> Result<(), ImportFailure> {
        let outcome = if self.opts.partial {
            let sp = txn.begin().await?;
            let r = self.write(&sp, item, case).await;
            if r.is_ok() {
                sp.commit().await?;
            } else {
                sp.rollback().await?;
            }
            r
        } else {
            self.write(txn, item, case).await
        };
        match outcome {
            Ok(Outcome::Created) => report.created += 1,
            Ok(Outcome::Updated) => report.updated += 1,
            Ok(Outcome::Unchanged) => report.unchanged += 1,
            Err(RowFail::Row(list)) => {
                report.failed += 1;
                errors.extend(list.into_iter().map(|e| RowError { row, ..e }));
            }
            Err(RowFail::Db(e)) => return Err(e),
        }
        Ok(())
    }

    async fn write(
        &mut self,
        txn: &DatabaseTransaction,
        item: &BankItem,
        case: Option<(Uuid, i32)>,
    ) -> Result<Outcome, RowFail> {
        let content = to_content(item)?;
        content.validate().map_err(|e| {
            RowFail::Row(
                e.into_iter()
                    .map(|x| RowError::cell(x.field, x.code, "", x.message))
                    .collect(),
            )
        })?;
        let course = self.course(txn, item.course.trim()).await?.ok_or_else(|| {
            RowFail::one(
                "course",
                "unknown_course",
                item.course.trim(),
                format!("unknown course {}", item.course),
            )
        })?;
        let kcs: Vec<KcInput> = item
            .kcs
            .iter()
            .map(|k| KcInput {
                kc: k.kc.clone(),
                weight: k.weight,
            })
            .collect();
        let kcs = resolve_kcs(txn, course.subject_id, &kcs)
            .await
            .map_err(|e| {
                // `kcs[i].…` names the KC the error is about.
                let named = e
                    .field
                    .strip_prefix("kcs[")
                    .and_then(|r| r.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| item.kcs.get(i))
                    .map(|k| k.kc.trim().to_owned())
                    .unwrap_or_default();
                let code = if e.code == "unknown" {
                    "unknown_kc"
                } else {
                    e.code
                };
                RowFail::one("kcs", code, &named, e.message)
            })?;
        let ext = item
            .external_id
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let existing = match ext {
            Some(e) => repo::item_by_external_id(txn, e).await?,
            None => repo::item_by_hash(txn, &content.content_hash()).await?,
        };
        let json = serde_json::to_string(&content).unwrap_or_default();
        if let Some(found) = existing {
            if found.course_id != course.id {
                return Err(RowFail::one(
                    "course",
                    "moves_course",
                    "",
                    "an item cannot move to another course",
                ));
            }
            let rev_id = found
                .current_revision_id
                .ok_or_else(|| RowFail::Row(vec![RowError::file("item without revision")]))?;
            let current = repo::revision(txn, rev_id)
                .await?
                .ok_or_else(|| RowFail::Row(vec![RowError::file("item without revision")]))?;
            let same_content =
                serde_json::from_str::<ItemContent>(&current.content).is_ok_and(|c| c == content);
            let tags = repo::item_kcs(txn, found.id).await?;
            let same_tags = tags.len() == kcs.len()
                && kcs.iter().all(|(id, w)| {
                    tags.iter()
                        .any(|(n, tw)| n.id == *id && (tw - w).abs() < 1e-9)
                });
            if same_content && same_tags {
                return Ok(Outcome::Unchanged);
            }
            if !same_tags {
                repo::set_kcs(txn, found.id, &kcs).await?;
            }
            if !same_content {
                repo::add_revision(
                    txn,
                    found.id,
                    RevisionUpdate {
                        content_json: json,
                        content_hash: content.content_hash(),
                        search_text: content.search_text(),
                        difficulty: content.difficulty.as_str().into(),
                        kind: content.kind.as_str().into(),
                        source_kind: content.source.kind.clone(),
                        status: found.status.clone(),
                        created_by: self.opts.author_id,
                    },
                    self.now,
                )
                .await?;
            }
            return Ok(Outcome::Updated);
        }
        let mut row = new_item_row(
            &content,
            &course,
            self.opts.status,
            self.opts.author_id,
            kcs,
        );
        row.external_id = ext.map(str::to_owned);
        row.case = case;
        if let Some(orig) = item
            .translation_of
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let o = repo::item_by_external_id(txn, orig).await?.ok_or_else(|| {
                RowFail::one(
                    "translation_of",
                    "unknown_item",
                    orig,
                    format!("unknown item {orig}"),
                )
            })?;
            if o.locale == row.locale {
                return Err(RowFail::one(
                    "translation_of",
                    "same_locale",
                    "",
                    "a translation has another locale",
                ));
            }
            row.translation_group_id = Some(o.translation_group_id);
        }
        repo::insert_item(txn, row, self.now)
            .await
            .map_err(|e| match e {
                myqcm_db::DbError::Conflict(c) => RowFail::one("external_id", "taken", "", c),
                other => RowFail::Db(other.into()),
            })?;
        Ok(Outcome::Created)
    }
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

enum RowFail {
    /// The row's problems (row numbers are set when they are reported).
    Row(Vec<RowError>),
    Db(ImportFailure),
}

impl RowFail {
    fn one(column: &str, code: &str, value: &str, reason: impl Into<String>) -> Self {
        Self::Row(vec![RowError::cell(column, code, value, reason)])
    }
}

impl From<myqcm_db::DbError> for RowFail {
    fn from(e: myqcm_db::DbError) -> Self {
        Self::Db(e.into())
    }
}

impl From<ImportFailure> for RowFail {
    fn from(e: ImportFailure) -> Self {
        Self::Db(e)
    }
}

fn to_content(i: &BankItem) -> Result<ItemContent, RowFail> {
    let bad = |col: &str, value: &str, e: myqcm_domain::catalogue::UnknownValue| {
        RowFail::one(col, "unknown", value.trim(), e.to_string())
    };
    let s = i.source.clone().unwrap_or_default();
    Ok(ItemContent {
        kind: i.kind.parse().map_err(|e| bad("type", &i.kind, e))?,
        locale: i.locale.parse().map_err(|e| bad("locale", &i.locale, e))?,
        stem: i.stem.clone(),
        options: i.options.clone(),
        qroc: i.qroc.clone(),
        explanation: i.explanation.clone(),
        references: i.references.clone(),
        difficulty: i
            .difficulty
            .parse()
            .map_err(|e| bad("difficulty", &i.difficulty, e))?,
        estimated_seconds: i.estimated_seconds,
        source: SourceTags {
            kind: s.kind,
            label: s.label,
            faculty: s.faculty,
            exam_year: s.exam_year,
            session: s.session,
            original: s.original,
        },
    })
}

fn names_json(n: &bank::Names) -> String {
    serde_json::to_string(n).unwrap_or_else(|_| "{}".into())
}

/// Upserts units, subjects, courses, the KC tree and the blueprint of a bank.
async fn taxonomy(
    txn: &DatabaseTransaction,
    bank: &Bank,
    now: DateTime<Utc>,
) -> Result<(), RowError> {
    let db_err = |e: myqcm_db::DbError| RowError::file(format!("taxonomy: {e}"));
    let tax = |field: &str, reason: String| RowError::new(0, field, reason);
    let year = bank.year_of_study.unwrap_or(1);
    let mut units = HashMap::new();
    for u in &bank.units {
        check_code("units.code", &u.code).map_err(|e| tax("units.code", e.message))?;
        let row = repo::upsert_unit(txn, &u.code, year, &names_json(&u.name))
            .await
            .map_err(db_err)?;
        units.insert(u.code.clone(), row.id);
    }
    let mut subjects = HashMap::new();
    for s in &bank.subjects {
        check_code("subjects.code", &s.code).map_err(|e| tax("subjects.code", e.message))?;
        // A subject after the first year needs a unit; a file without units gets one unit per
        // subject, named like it, which an admin can regroup later.
        let unit_id = match &s.unit {
            Some(code) => Some(
                *units
                    .get(code)
                    .ok_or_else(|| tax("subjects.unit", format!("unknown unit {code}")))?,
            ),
            None if year > 1 => Some(
                repo::upsert_unit(txn, &format!("u-{}", s.code), year, &names_json(&s.name))
                    .await
                    .map_err(db_err)?
                    .id,
            ),
            None => None,
        };
        check_subject_placement(year, unit_id.is_some()).map_err(|e| tax("subjects", e.message))?;
        let row = repo::upsert_subject(txn, &s.code, year, unit_id, &names_json(&s.name))
            .await
            .map_err(db_err)?;
        subjects.insert(s.code.clone(), row.id);
        for c in &s.courses {
            check_code("courses.code", &c.code).map_err(|e| tax("courses.code", e.message))?;
            repo::upsert_course(txn, &c.code, row.id, &names_json(&c.name))
                .await
                .map_err(db_err)?;
        }
    }
    let mut order = 0;
    for d in &bank.knowledge_components {
        let subject_id = match subjects.get(&d.subject) {
            Some(id) => *id,
            None => {
                repo::subject_by_code(txn, &d.subject)
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| {
                        tax(
                            "knowledge_components.subject",
                            format!("unknown subject {}", d.subject),
                        )
                    })?
                    .id
            }
        };
        order += 1;
        let dom = repo::upsert_kc(
            txn,
            &d.domain.code,
            subject_id,
            None,
            "domain",
            &names_json(&d.domain.name),
            order,
        )
        .await
        .map_err(db_err)?;
        for t in &d.topics {
            order += 1;
            let top = repo::upsert_kc(
                txn,
                &t.code,
                subject_id,
                Some(dom.id),
                "topic",
                &names_json(&t.name),
                order,
            )
            .await
            .map_err(db_err)?;
            for k in &t.kcs {
                order += 1;
                repo::upsert_kc(
                    txn,
                    &k.code,
                    subject_id,
                    Some(top.id),
                    "kc",
                    &names_json(&k.name),
                    order,
                )
                .await
                .map_err(db_err)?;
            }
        }
    }
    if let Some(bp) = &bank.blueprint {
        let weights = BlueprintWeights {
            subjects: bp
                .subjects
                .iter()
                .map(|s| SubjectWeight {
                    subject: s.subject.clone(),
                    weight: s.weight,
                    kcs: s.kcs.clone(),
                })
                .collect(),
        };
        weights.validate().map_err(|e| {
            tax(
                "blueprint",
                e.iter()
                    .map(|x| x.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let json = serde_json::to_string(&weights).unwrap_or_default();
        let same = repo::current_blueprint(txn, year, None)
            .await
            .map_err(db_err)?
            .is_some_and(|b| b.weights == json && b.name == bp.name);
        if !same {
            repo::insert_blueprint(txn, year, None, &bp.name, &json, None, now)
                .await
                .map_err(db_err)?;
        }
    }
    Ok(())
}

/// The demo bank written for MyQCM (`crates/services/seed/demo_bank.json`).
pub const DEMO_BANK: &str = include_str!("../../seed/demo_bank.json");

/// Loads the demo bank, approved, authored by `author_id` (idempotent: a second run reports
/// everything unchanged).
pub async fn load_demo_bank(
    db: &DatabaseConnection,
    author_id: Uuid,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportFailure> {
    let bank: Bank =
        serde_json::from_str(DEMO_BANK).map_err(|e| ImportFailure(format!("demo bank: {e}")))?;
    let rows: Vec<usize> = (1..=bank.items.len()).collect();
    let opts = ImportOptions {
        partial: false,
        author_id,
        status: ItemStatus::Approved,
        default_course: None,
    };
    import_bank(db, &bank, &rows, vec![], &opts, &|_, _| {}, now).await
}

/// The demo bank's accounts.
pub fn demo_accounts() -> Vec<bank::BankAccount> {
    serde_json::from_str::<Bank>(DEMO_BANK)
        .map(|b| b.accounts)
        .unwrap_or_default()
}

/// Applies a taxonomy document (units, subjects, courses, KC tree, blueprint) synchronously;
/// items and cases are refused here (they go through the import job). Content admins only,
/// enrolled in TOTP.
pub async fn apply_taxonomy(
    db: &DatabaseConnection,
    actor: &Actor,
    bank: &Bank,
    now: DateTime<Utc>,
) -> Result<ImportReport, CatalogueError> {
    crate::catalogue::staff_gate(actor)?;
    if !actor.can(Action::CatalogueManage) {
        return Err(CatalogueError::Forbidden);
    }
    if !bank.items.is_empty() || !bank.clinical_cases.is_empty() {
        return Ok(ImportReport {
            failed: 1,
            errors: vec![RowError::new(
                0,
                "items",
                "the taxonomy document carries no items; use an import",
            )],
            ..ImportReport::default()
        });
    }
    let opts = ImportOptions {
        partial: false,
        author_id: Uuid::nil(),
        status: ItemStatus::Draft,
        default_course: None,
    };
    let report = import_bank(db, bank, &[], vec![], &opts, &|_, _| {}, now)
        .await
        .map_err(|e| CatalogueError::Store(myqcm_db::DbError::Backend(e.0)))?;
    if report.committed {
        // After the import's own transaction: a refused document changed nothing to log.
        let ev = crate::identity::audit::Event::new("catalogue.taxonomy_applied")
            .actor(actor.id)
            .target("taxonomy")
            .detail(serde_json::json!({
                "year_of_study": bank.year_of_study,
                "subjects": bank.subjects.iter().map(|s| s.code.as_str()).collect::<Vec<_>>(),
                "kc_domains": bank.knowledge_components.len(),
                "blueprint": bank.blueprint.is_some(),
            }));
        crate::identity::audit::record_at(db, now, ev).await?;
    }
    Ok(report)
}
