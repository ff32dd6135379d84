//! Export of the catalogue in the import formats (JSON bank with taxonomy, CSV, .xlsx), so an
//! export re-imports as "unchanged".

use std::collections::HashMap;

use myqcm_db::catalogue::{self as repo, SearchFilter};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::catalogue::ItemContent;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use uuid::Uuid;

use super::bank::{
    Bank, BankCase, BankCourse, BankItem, BankKcDomain, BankKcTag, BankNode, BankSource,
    BankSubject, BankTopic, BankUnit, Names,
};
use super::{Format, ImportFailure, tabular};
use crate::catalogue::{CatalogueError, staff_gate};

fn names(s: &str) -> Names {
    serde_json::from_str(s).unwrap_or_default()
}

/// Builds a bank of every item (all statuses but retired) and the whole taxonomy.
pub async fn bank(db: &DatabaseConnection) -> Result<Bank, ImportFailure> {
    let (units, subjects, courses) = repo::curriculum(db).await?;
    let kcs = repo::all_kcs(db).await?;
    let course_code: HashMap<Uuid, String> =
        courses.iter().map(|c| (c.id, c.code.clone())).collect();
    let kc_code: HashMap<Uuid, String> = kcs.iter().map(|k| (k.id, k.code.clone())).collect();
    let unit_code: HashMap<Uuid, String> = units.iter().map(|u| (u.id, u.code.clone())).collect();
    let mut out = Bank {
        version: 1,
        year_of_study: subjects.first().map(|s| s.year_of_study),
        ..Bank::default()
    };
    out.units = units
        .iter()
        .map(|u| BankUnit {
            code: u.code.clone(),
            name: names(&u.names),
        })
        .collect();
    for s in &subjects {
        out.subjects.push(BankSubject {
            code: s.code.clone(),
            name: names(&s.names),
            unit: s.unit_id.and_then(|u| unit_code.get(&u).cloned()),
            courses: courses
                .iter()
                .filter(|c| c.subject_id == s.id)
                .map(|c| BankCourse {
                    code: c.code.clone(),
                    name: names(&c.names),
                })
                .collect(),
        });
        for d in kcs
            .iter()
            .filter(|k| k.subject_id == s.id && k.level == "domain")
        {
            out.knowledge_components.push(BankKcDomain {
                subject: s.code.clone(),
                domain: BankNode {
                    code: d.code.clone(),
                    name: names(&d.names),
                },
                topics: kcs
                    .iter()
                    .filter(|t| t.parent_id == Some(d.id))
                    .map(|t| BankTopic {
                        code: t.code.clone(),
                        name: names(&t.names),
                        kcs: kcs
                            .iter()
                            .filter(|k| k.parent_id == Some(t.id))
                            .map(|k| BankNode {
                                code: k.code.clone(),
                                name: names(&k.names),
                            })
                            .collect(),
                    })
                    .collect(),
            });
        }
    }
    // Walk every item page by page (keyset), oldest last.
    let mut rows = Vec::new();
    let mut before = None;
    loop {
        let page = repo::search(
            db,
            &SearchFilter {
                statuses: vec!["draft".into(), "in_review".into(), "approved".into()],
                before,
                limit: 200,
                ..SearchFilter::default()
            },
        )
        .await?;
        let done = page.len() < 200;
        before = page.last().map(|r| r.id);
        rows.extend(page);
        if done {
            break;
        }
    }
    rows.reverse();
    let ext: HashMap<Uuid, Option<String>> =
        rows.iter().map(|r| (r.id, r.external_id.clone())).collect();
    // The original of a translation group is its first member (translation_group_id = its id).
    let mut cases: HashMap<Uuid, BankCase> = HashMap::new();
    for chunk in rows.chunks(500) {
        let revs = repo::revisions_by_ids(
            db,
            chunk.iter().filter_map(|r| r.current_revision_id).collect(),
        )
        .await?;
        for r in chunk {
            let Some(rev) = revs.iter().find(|v| Some(v.id) == r.current_revision_id) else {
                continue;
            };
            let Ok(c) = serde_json::from_str::<ItemContent>(&rev.content) else {
                continue;
            };
            let tags = repo::item_kcs(db, r.id).await?;
            let item = BankItem {
                external_id: r.external_id.clone(),
                kind: c.kind.as_str().into(),
                course: course_code.get(&r.course_id).cloned().unwrap_or_default(),
                locale: c.locale.as_str().into(),
                translation_of: (r.translation_group_id != r.id)
                    .then(|| ext.get(&r.translation_group_id).cloned().flatten())
                    .flatten(),
                stem: c.stem,
                options: c.options,
                qroc: c.qroc,
                explanation: c.explanation,
                references: c.references,
                difficulty: c.difficulty.as_str().into(),
                estimated_seconds: c.estimated_seconds,
                kcs: tags
                    .iter()
                    .map(|(n, w)| BankKcTag {
                        kc: kc_code.get(&n.id).cloned().unwrap_or_default(),
                        weight: *w,
                    })
                    .collect(),
                source: Some(BankSource {
                    kind: c.source.kind,
                    label: c.source.label,
                    original: c.source.original,
                    faculty: c.source.faculty,
                    exam_year: c.source.exam_year,
                    session: c.source.session,
                }),
            };
            match r.case_id {
                None => out.items.push(item),
                Some(case_id) => {
                    if let std::collections::hash_map::Entry::Vacant(slot) = cases.entry(case_id)
                        && let Some(cm) = repo::case_by_id(db, case_id).await?
                    {
                        slot.insert(BankCase {
                            external_id: cm.external_id.unwrap_or_else(|| cm.id.to_string()),
                            course: course_code.get(&cm.course_id).cloned().unwrap_or_default(),
                            locale: cm.locale,
                            title: cm.title,
                            scenario: cm.scenario,
                            objectives: serde_json::from_str(&cm.objectives).unwrap_or_default(),
                            items: vec![],
                        });
                    }
                    if let Some(bc) = cases.get_mut(&case_id) {
                        bc.items.push(item);
                    }
                }
            }
        }
    }
    let mut cases: Vec<BankCase> = cases.into_values().collect();
    cases.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    out.clinical_cases = cases;
    if let Some(year) = out.year_of_study
        && let Some(b) = repo::current_blueprint(db, year, None).await?
        && let Ok(w) =
            serde_json::from_str::<myqcm_domain::catalogue::blueprint::BlueprintWeights>(&b.weights)
    {
        out.blueprint = Some(super::bank::BankBlueprint {
            name: b.name,
            subjects: w
                .subjects
                .into_iter()
                .map(|s| super::bank::BankBlueprintSubject {
                    subject: s.subject,
                    weight: s.weight,
                    kcs: s.kcs,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The export as the admin API serves it: the whole catalogue in `format`, or only the
/// taxonomy. Import/export staff only, enrolled in TOTP.
pub async fn for_staff(
    db: &DatabaseConnection,
    actor: &Actor,
    format: Format,
    taxonomy_only: bool,
) -> Result<Vec<u8>, CatalogueError> {
    staff_gate(actor)?;
    if !actor.can(Action::CatalogueImportExport) {
        return Err(CatalogueError::Forbidden);
    }
    let fail = |e: ImportFailure| CatalogueError::Store(DbError::Backend(e.0));
    let bank = bank(db).await.map_err(fail)?;
    if taxonomy_only {
        write_taxonomy(&bank, format)
    } else {
        write(&bank, format)
    }
    .map_err(fail)
}

/// Serialises a bank in `format` (CSV/XLSX carry items only; case sub-items are left out since
/// a flat row cannot say which case they belong to).
pub fn write(bank: &Bank, format: Format) -> Result<Vec<u8>, ImportFailure> {
    match format {
        Format::Json => serde_json::to_vec_pretty(bank).map_err(|e| ImportFailure(e.to_string())),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(tabular::export_headers())
                .map_err(|e| ImportFailure(e.to_string()))?;
            for i in &bank.items {
                w.write_record(tabular::export_row(i))
                    .map_err(|e| ImportFailure(e.to_string()))?;
            }
            w.into_inner().map_err(|e| ImportFailure(e.to_string()))
        }
        Format::Xlsx => {
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            let err = |e: rust_xlsxwriter::XlsxError| ImportFailure(e.to_string());
            for (c, h) in tabular::export_headers().iter().enumerate() {
                ws.write_string(0, u16::try_from(c).unwrap_or(u16::MAX), h)
                    .map_err(err)?;
            }
            for (r, i) in bank.items.iter().enumerate() {
                for (c, v) in tabular::export_row(i).iter().enumerate() {
                    ws.write_string(
                        u32::try_from(r + 1).unwrap_or(u32::MAX),
                        u16::try_from(c).unwrap_or(u16::MAX),
                        v,
                    )
                    .map_err(err)?;
                }
            }
            wb.save_to_buffer().map_err(err)
        }
    }
}

/// Writes the KC tree as a taxonomy sheet (CSV or .xlsx) that `myqcm import` reads back.
pub fn write_taxonomy(bank: &Bank, format: Format) -> Result<Vec<u8>, ImportFailure> {
    let rows = tabular::kc_export_rows(&bank.knowledge_components);
    match format {
        Format::Json => {
            let only = Bank {
                version: 1,
                year_of_study: bank.year_of_study,
                units: bank.units.clone(),
                subjects: bank.subjects.clone(),
                knowledge_components: bank.knowledge_components.clone(),
                blueprint: bank.blueprint.clone(),
                ..Bank::default()
            };
            serde_json::to_vec_pretty(&only).map_err(|e| ImportFailure(e.to_string()))
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(tabular::kc_headers())
                .map_err(|e| ImportFailure(e.to_string()))?;
            for r in rows {
                w.write_record(r)
                    .map_err(|e| ImportFailure(e.to_string()))?;
            }
            w.into_inner().map_err(|e| ImportFailure(e.to_string()))
        }
        Format::Xlsx => {
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            let err = |e: rust_xlsxwriter::XlsxError| ImportFailure(e.to_string());
            let all = std::iter::once(
                tabular::kc_headers()
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )
            .chain(rows);
            for (r, row) in all.enumerate() {
                for (c, v) in row.iter().enumerate() {
                    ws.write_string(
                        u32::try_from(r).unwrap_or(u32::MAX),
                        u16::try_from(c).unwrap_or(u16::MAX),
                        v,
                    )
                    .map_err(err)?;
                }
            }
            wb.save_to_buffer().map_err(err)
        }
    }
}
