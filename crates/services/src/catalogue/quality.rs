//! Item quality for authors and reviewers: the classical analysis of an item's graded answers
//! (`psychometrics::quality`: difficulty, point-biserial with θ, distractors by ability band),
//! its parameters in the set in use, and the alerts the scan keeps in `item_alert` — likely
//! miskey, possible leak, drift, and differential functioning of a linked translation
//! (`psychometrics::dif`, Mantel–Haenszel against the group's original item, learners matched
//! on θ). The scan runs as the daily job `quality.scan`; open alerts form a queue on the review
//! pages, where a reviewer dismisses them once looked at.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::catalogue as repo;
use myqcm_db::training::calibration as calib_repo;
use myqcm_db::training::quality::{self as qrepo, QualityAttempt, ScanItem};
use myqcm_db::training::{active_parameter_set, item_alert};
use myqcm_domain::catalogue::ItemContent;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use myqcm_domain::scoring::Response;
use myqcm_psychometrics::dif::{self, DifResponse, Group, MantelHaenszel};
use myqcm_psychometrics::quality::{
    self as q, Alert, AlertRules, ItemAnalysis, ItemResponse, Shift,
};
use serde::Serialize;
use uuid::Uuid;

use super::{CatalogueError, Result, staff_gate, staff_guard};
use crate::identity::audit;

/// The job kind of the scan.
pub const SCAN_JOB: &str = "quality.scan";
/// Ability bands of the distractor table.
pub const BANDS: usize = 3;
/// θ strata matching learners in the DIF test.
pub const DIF_STRATA: usize = 5;
/// Answers in the most recent window compared with the earlier ones (leak, drift).
pub const RECENT_DAYS: i64 = 14;
/// Alert code of a linked translation with large DIF (ETS class C).
pub const DIF_CODE: &str = "dif_translation";
/// Items analysed per batch of the scan (memory stays bounded by their answers).
const SCAN_BATCH: usize = 200;

/// One option's line in the distractor table.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct OptionQuality {
    /// Stable option id (its index).
    pub option: usize,
    /// Whether it is correct.
    pub key: bool,
    /// Share of answers that picked it.
    pub pick_rate: f64,
    /// Share of each ability band (low, middle, high) that picked it; `null` for an empty band.
    pub by_band: Vec<Option<f64>>,
    /// Point-biserial of picking it with θ.
    pub point_biserial: Option<f64>,
}

/// An alert as the review pages show it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AlertView {
    /// Item.
    pub item_id: Uuid,
    /// `likely_miskey`, `possible_leak`, `drift`, `dif_translation`.
    pub code: String,
    /// `open`, `dismissed` or `cleared`.
    pub status: String,
    /// What the scan measured (JSON).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// First raised (epoch ms).
    pub first_seen_at: i64,
    /// Last refreshed (epoch ms).
    pub updated_at: i64,
}

impl From<item_alert::Model> for AlertView {
    fn from(m: item_alert::Model) -> Self {
        Self {
            item_id: m.item_id,
            code: m.code,
            status: m.status,
            detail: serde_json::from_str(&m.detail).unwrap_or(serde_json::Value::Null),
            first_seen_at: m.first_seen_at,
            updated_at: m.updated_at,
        }
    }
}

/// Share correct recently against before (see `psychometrics::quality::Shift`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RecentShift {
    /// Answers before the window.
    pub n_before: usize,
    /// Share correct before.
    pub p_before: f64,
    /// Answers in the window.
    pub n_after: usize,
    /// Share correct in the window.
    pub p_after: f64,
    /// Two-proportion z (positive: easier now).
    pub z: f64,
    /// Standardised residual of the window against the stored predictions.
    pub residual_z: Option<f64>,
}

impl From<Shift> for RecentShift {
    fn from(s: Shift) -> Self {
        Self {
            n_before: s.n_before,
            p_before: s.p_before,
            n_after: s.n_after,
            p_after: s.p_after,
            z: s.z,
            residual_z: s.residual_z,
        }
    }
}

/// Item parameters in a set.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ItemParams {
    /// Discrimination.
    pub a: f64,
    /// Difficulty (logits).
    pub b: f64,
    /// Lower asymptote.
    pub c: f64,
}

/// The quality report of one item.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ItemQuality {
    /// Item.
    pub item_id: Uuid,
    /// Graded answers analysed (those of learners with an ability estimate).
    pub answers: usize,
    /// Share correct; `null` without answers.
    pub difficulty: Option<f64>,
    /// Point-biserial of the label with θ.
    pub point_biserial: Option<f64>,
    /// Upper-minus-lower 27 % index.
    pub discrimination_index: Option<f64>,
    /// Answers per ability band.
    pub band_sizes: Vec<usize>,
    /// The distractor table (empty for a QROC).
    pub options: Vec<OptionQuality>,
    /// Share correct in the last [`RECENT_DAYS`] days against before.
    pub recent: Option<RecentShift>,
    /// `(a, b, c)` in the parameter set in use, when it has the item.
    pub parameters: Option<ItemParams>,
    /// The set in use.
    pub parameter_set_id: i64,
    /// Every alert row of the item.
    pub alerts: Vec<AlertView>,
}

/// What a scan did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ScanReport {
    /// Items with enough answers that were analysed.
    pub items: usize,
    /// Alerts raised or refreshed, by code.
    pub raised: BTreeMap<String, usize>,
    /// Alerts the scan no longer sees, now cleared.
    pub cleared: u64,
    /// Linked translations tested for DIF.
    pub dif_tested: usize,
}

fn keys_of(content: &ItemContent) -> u64 {
    content
        .options
        .iter()
        .enumerate()
        .filter(|(i, o)| o.correct && *i < 64)
        .fold(0, |m, (i, _)| m | (1u64 << i))
}

fn responses(rows: &[&QualityAttempt]) -> Vec<ItemResponse> {
    rows.iter()
        .filter_map(|a| {
            let theta = a.theta.filter(|t| t.is_finite())?;
            let picked = match serde_json::from_str::<Response>(&a.response) {
                Ok(Response::Options(ids)) => ids
                    .iter()
                    .filter(|&&i| i < 64)
                    .fold(0u64, |m, &i| m | (1u64 << i)),
                _ => 0,
            };
            Some(ItemResponse {
                theta,
                correct: a.correct,
                picked,
                time: a.created_at,
                expected: a.p_correct.unwrap_or(f64::NAN),
            })
        })
        .collect()
}

/// The analysis, the recent shift and the alerts of one item's responses.
fn judge(
    r: &[ItemResponse],
    content: &ItemContent,
    rules: &AlertRules,
) -> Option<(ItemAnalysis, Option<Shift>, Vec<Alert>)> {
    let analysis = q::analyse(r, content.options.len().min(64), keys_of(content), BANDS).ok()?;
    let last = r.iter().map(|x| x.time).max()?;
    let shift = q::shift(r, last - Duration::days(RECENT_DAYS).num_milliseconds());
    let alerts = q::alerts(&analysis, shift.as_ref(), rules);
    Some((analysis, shift, alerts))
}

fn alert_detail(a: &Alert) -> serde_json::Value {
    match a {
        Alert::LikelyMiskey {
            point_biserial,
            option,
        } => serde_json::json!({ "point_biserial": point_biserial, "preferred_option": option }),
        Alert::PossibleLeak(s) | Alert::Drift(s) => serde_json::json!({
            "n_before": s.n_before, "p_before": s.p_before,
            "n_after": s.n_after, "p_after": s.p_after,
            "z": s.z, "residual_z": s.residual_z,
        }),
    }
}

/// The quality report of an item, for its author, reviewers and content admins (others: 404).
///
/// # Errors
/// [`CatalogueError::NotFound`] for an unknown or invisible item; staff without TOTP are refused.
pub async fn item_quality(
    db: &DatabaseConnection,
    actor: &Actor,
    item_id: Uuid,
) -> Result<ItemQuality> {
    let row = repo::item_by_id(db, item_id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    staff_guard(actor, &row)?;
    let content = match row.current_revision_id {
        Some(rev) => repo::revision(db, rev)
            .await?
            .map(|r| super::parse_content(&r))
            .transpose()?,
        None => None,
    }
    .ok_or(CatalogueError::NotFound)?;
    let attempts = qrepo::quality_attempts(db, &[item_id]).await?;
    let r = responses(&attempts.iter().collect::<Vec<_>>());
    let judged = judge(&r, &content, &AlertRules::default());
    let set = active_parameter_set(db).await?;
    let parameters = calib_repo::item_parameters(db, set, &[item_id])
        .await?
        .into_iter()
        .next()
        .map(|(_, a, b, c)| ItemParams { a, b, c });
    let alerts = qrepo::alerts_of(db, item_id)
        .await?
        .into_iter()
        .map(AlertView::from)
        .collect();
    let (analysis, recent) = match judged {
        Some((a, s, _)) => (Some(a), s),
        None => (None, None),
    };
    Ok(ItemQuality {
        item_id,
        answers: analysis.as_ref().map_or(0, |a| a.n),
        difficulty: analysis.as_ref().map(|a| a.difficulty),
        point_biserial: analysis.as_ref().and_then(|a| a.point_biserial),
        discrimination_index: analysis.as_ref().and_then(|a| a.discrimination_index),
        band_sizes: analysis
            .as_ref()
            .map(|a| a.band_sizes.clone())
            .unwrap_or_default(),
        options: analysis
            .map(|a| {
                a.options
                    .into_iter()
                    .map(|o| OptionQuality {
                        option: o.option,
                        key: o.key,
                        pick_rate: o.pick_rate,
                        by_band: o
                            .by_band
                            .iter()
                            .map(|v| v.is_finite().then_some(*v))
                            .collect(),
                        point_biserial: o.point_biserial,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        recent: recent.map(RecentShift::from),
        parameters,
        parameter_set_id: set,
        alerts,
    })
}

/// Open alerts for the review queue (reviewers and content admins), newest first.
///
/// # Errors
/// [`CatalogueError::Forbidden`] without the review power.
pub async fn open_alerts(
    db: &DatabaseConnection,
    actor: &Actor,
    limit: u64,
) -> Result<Vec<AlertView>> {
    staff_gate(actor)?;
    if !actor.can(Action::ItemReview) {
        return Err(CatalogueError::Forbidden);
    }
    Ok(qrepo::open_alerts(db, limit.clamp(1, 500))
        .await?
        .into_iter()
        .map(AlertView::from)
        .collect())
}

/// A reviewer dismisses an open alert after looking at the item (audit-logged).
///
/// # Errors
/// [`CatalogueError::Forbidden`] without the review power; [`CatalogueError::NotFound`] when
/// no such alert is open.
pub async fn dismiss_alert(
    db: &DatabaseConnection,
    actor: &Actor,
    item_id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    staff_gate(actor)?;
    if !actor.can(Action::ItemReview) {
        return Err(CatalogueError::Forbidden);
    }
    if !qrepo::dismiss_alert(db, item_id, code, actor.id, now.timestamp_millis()).await? {
        return Err(CatalogueError::NotFound);
    }
    let ev = audit::Event::new("item.alert_dismissed")
        .actor(actor.id)
        .target(item_id.to_string())
        .detail(serde_json::json!({ "code": code }));
    audit::record_at(db, now, ev).await?;
    Ok(())
}

/// Scans every item with at least `rules.min_n` graded answers: raises, refreshes or clears
/// its alerts, then tests each linked translation against its group's original for DIF.
/// `progress(fraction, message)` returns `false` to stop (a cancelled job); what was written
/// so far stays, a later scan finishes the work.
///
/// # Errors
/// Storage failures.
pub async fn scan(
    db: &DatabaseConnection,
    rules: &AlertRules,
    now: DateTime<Utc>,
    progress: &(dyn Fn(f64, &str) -> bool + Send + Sync),
) -> Result<ScanReport> {
    let now_ms = now.timestamp_millis();
    let min = i64::try_from(rules.min_n).unwrap_or(i64::MAX);
    let items = qrepo::items_to_scan(db, min).await?;
    let mut report = ScanReport::default();
    let total = items.len().max(1) as f64;
    // Per item: the codes raised, so DIF adds to them and the rest is cleared at the end.
    let mut seen: HashMap<Uuid, Vec<&'static str>> = HashMap::new();
    for (k, batch) in items.chunks(SCAN_BATCH).enumerate() {
        let ids: Vec<Uuid> = batch.iter().map(|i| i.id).collect();
        let contents = contents_of(db, &ids).await?;
        let attempts = qrepo::quality_attempts(db, &ids).await?;
        let mut by_item: HashMap<Uuid, Vec<&QualityAttempt>> = HashMap::new();
        for a in &attempts {
            by_item.entry(a.item_id).or_default().push(a);
        }
        for id in &ids {
            let codes = seen.entry(*id).or_default();
            let (Some(content), Some(rows)) = (contents.get(id), by_item.get(id)) else {
                continue;
            };
            let Some((_, _, alerts)) = judge(&responses(rows), content, rules) else {
                continue;
            };
            report.items += 1;
            for a in alerts {
                qrepo::raise_alert(db, *id, a.code(), &alert_detail(&a).to_string(), now_ms)
                    .await?;
                *report.raised.entry(a.code().to_owned()).or_default() += 1;
                codes.push(a.code());
            }
        }
        let done = ((k + 1) * SCAN_BATCH).min(items.len());
        if !progress(0.8 * done as f64 / total, &format!("{done} items analysed")) {
            return Err(CatalogueError::WrongState("stopped".into()));
        }
    }
    dif_pass(db, &items, rules, now_ms, &mut seen, &mut report).await?;
    for item in &items {
        let codes = seen.get(&item.id).cloned().unwrap_or_default();
        report.cleared += qrepo::clear_alerts_except(db, item.id, &codes, now_ms).await?;
    }
    progress(1.0, &format!("{} items analysed", report.items));
    Ok(report)
}

async fn contents_of(db: &DatabaseConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, ItemContent>> {
    Ok(calib_repo::calibration_items(db, ids)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.id, serde_json::from_str(&r.content).ok()?)))
        .collect())
}

/// Mantel–Haenszel DIF of every linked translation against its group's original (the oldest
/// item of the group: item ids are time-ordered), learners matched on θ strata.
async fn dif_pass(
    db: &DatabaseConnection,
    items: &[ScanItem],
    rules: &AlertRules,
    now_ms: i64,
    seen: &mut HashMap<Uuid, Vec<&'static str>>,
    report: &mut ScanReport,
) -> Result<()> {
    let mut groups: HashMap<Uuid, Vec<&ScanItem>> = HashMap::new();
    for i in items {
        groups.entry(i.group).or_default().push(i);
    }
    for members in groups.values_mut().filter(|m| m.len() > 1) {
        members.sort_by_key(|m| m.id);
        let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
        let attempts = qrepo::quality_attempts(db, &ids).await?;
        let reference = ids[0];
        for focal in &ids[1..] {
            let Some(mh) = translation_dif(&attempts, reference, *focal, rules) else {
                continue;
            };
            report.dif_tested += 1;
            if mh.class == dif::DifClass::C {
                let detail = serde_json::json!({
                    "reference_item": reference, "delta": mh.delta, "delta_se": mh.delta_se,
                    "alpha": mh.alpha, "chi2": mh.chi2, "p_value": mh.p_value,
                    "class": mh.class.as_str(), "n": mh.n,
                });
                qrepo::raise_alert(db, *focal, DIF_CODE, &detail.to_string(), now_ms).await?;
                *report.raised.entry(DIF_CODE.to_owned()).or_default() += 1;
                seen.entry(*focal).or_default().push(DIF_CODE);
            }
        }
    }
    Ok(())
}

/// The DIF statistics of `focal` against `reference`, or `None` with too few answers.
fn translation_dif(
    attempts: &[QualityAttempt],
    reference: Uuid,
    focal: Uuid,
    rules: &AlertRules,
) -> Option<MantelHaenszel> {
    let rows: Vec<(&QualityAttempt, f64)> = attempts
        .iter()
        .filter(|a| a.item_id == reference || a.item_id == focal)
        .filter_map(|a| Some((a, a.theta.filter(|t| t.is_finite())?)))
        .collect();
    let n_focal = rows.iter().filter(|(a, _)| a.item_id == focal).count();
    if n_focal < rules.min_n || rows.len() - n_focal < rules.min_n {
        return None;
    }
    let thetas: Vec<f64> = rows.iter().map(|(_, t)| *t).collect();
    let strata = dif::quantile_bands(&thetas, DIF_STRATA);
    let responses: Vec<DifResponse> = rows
        .iter()
        .zip(strata)
        .map(|((a, _), stratum)| DifResponse {
            group: if a.item_id == reference {
                Group::Reference
            } else {
                Group::Focal
            },
            stratum,
            correct: a.correct,
        })
        .collect();
    dif::mantel_haenszel(&responses).ok().flatten()
}
