//! Calibration from the database: graded attempts are streamed in pages (keyset on the attempt
//! id, memory bounded by one page plus the compact response matrix), item parameters are fitted
//! per item type — 3PL for a QCS (a Beta prior on c centred on the item's c in the set in use,
//! 1/k under the priors), 2PL for a QCM or a QROC (c = 0) — by marginal maximum likelihood with
//! `ln a ~ N(0, 0.5²)` and `b ~ N(0, 2²)`, BKT parameters per KC by EM starting from the set in
//! use, and everything is written as a **candidate** parameter set. The set in use is never
//! switched here: publishing is the release gate's decision.
//!
//! Linked translations (one translation group) share one set of parameters: their answers are
//! pooled into one column of the response matrix and every member gets the group's estimate.
//! Groups and KCs with fewer answers than the minimum keep their parameters from the set in use
//! (the candidate starts as a copy of it).

use std::collections::HashMap;
use std::sync::Arc;

use myqcm_db::training::calibration::{self as repo, CalibrationItem};
use myqcm_db::training::{self as training_repo};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::{Difficulty, ItemKind};
use myqcm_domain::learning::prior_item_params;
use myqcm_psychometrics::bkt::{self, BktFitConfig, BktParams, BktSequences};
use myqcm_psychometrics::calibration::{
    CalibrationConfig, NormalPrior, Priors, ResponseMatrix, calibrate,
};
use myqcm_psychometrics::evaluation::{ReleaseKind, Scores, release_gate};
use myqcm_psychometrics::irt::ModelKind;
use serde::Serialize;
use uuid::Uuid;

mod recompute;
pub use recompute::{RECOMPUTE_JOB, RECOMPUTE_PAGE, RecomputeCursor, RecomputeOutcome};

/// The job kind of a calibration run (`calibration.run`).
pub const CALIBRATION_JOB: &str = "calibration.run";

/// Why a calibration failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// There is no graded attempt to learn from.
    #[error("no graded attempt in the database: nothing to calibrate")]
    NoData,
    /// The estimator refused the data or the settings.
    #[error("model: {0}")]
    Model(String),
    /// The progress callback asked to stop (a cancelled job); nothing was written.
    #[error("calibration stopped before writing")]
    Stopped,
    /// No parameter set has this id.
    #[error("no parameter set {0}")]
    UnknownSet(i64),
    /// Only a candidate (or a rejected candidate, judged again) can be judged or published.
    #[error("parameter set {0} is {1}, not a candidate")]
    NotCandidate(i64, String),
    /// Something changed meanwhile.
    #[error("{0}")]
    Conflict(String),
    /// Storage failure.
    #[error("storage: {0}")]
    Store(String),
}

impl From<DbError> for CalibrationError {
    fn from(e: DbError) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<sea_orm::DbErr> for CalibrationError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.to_string())
    }
}

/// Settings of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalibrationOptions {
    /// A translation group with fewer graded answers keeps its current parameters.
    pub min_responses: usize,
    /// A KC with fewer graded observations keeps its current BKT parameters.
    pub min_kc_observations: usize,
    /// Attempts read per page.
    pub page_size: u64,
}

impl Default for CalibrationOptions {
    /// 30 answers per item group, 100 observations per KC, pages of 10,000 attempts.
    fn default() -> Self {
        Self {
            min_responses: 30,
            min_kc_observations: 100,
            page_size: 10_000,
        }
    }
}

/// One model fit in a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FitReport {
    /// `2pl` or `3pl`.
    pub model: &'static str,
    /// Item types fitted with it.
    pub kinds: Vec<&'static str>,
    /// Translation groups fitted.
    pub groups: usize,
    /// Answers used.
    pub responses: usize,
    /// EM iterations.
    pub iterations: usize,
    /// Why EM stopped.
    pub stop: String,
    /// A convergence criterion (not the cap) stopped it.
    pub converged: bool,
    /// Marginal log-likelihood at the estimates.
    pub log_likelihood: f64,
}

/// BKT part of a run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KcFitReport {
    /// KCs fitted.
    pub fitted: usize,
    /// KCs seen with too few observations (kept from the set in use).
    pub skipped: usize,
    /// Fits stopped by a convergence criterion.
    pub converged: usize,
}

/// What a run did; stored as the candidate set's notes (JSON).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CalibrationReport {
    /// The candidate set written.
    pub parameter_set_id: i64,
    /// Always `candidate`.
    pub status: &'static str,
    /// The set in use when the run started (the candidate is a copy of it, refitted).
    pub based_on: i64,
    /// The model family the set is for ([`SERVED_MODEL`]); the release gate judges a
    /// candidate whose model differs from the set in use's as a model change.
    pub model: &'static str,
    /// The item-type policy, in words.
    pub policy: &'static str,
    /// The product version that fitted it.
    pub code_version: &'static str,
    /// Creation time of the oldest graded attempt used (epoch ms).
    pub window_from_ms: i64,
    /// Creation time of the newest graded attempt used (epoch ms).
    pub window_to_ms: i64,
    /// Graded attempts read.
    pub attempts: usize,
    /// Learners among them.
    pub learners: usize,
    /// Items answered.
    pub items_seen: usize,
    /// Translation groups answered.
    pub groups_seen: usize,
    /// Items that got new parameters (every member of a fitted group).
    pub items_fitted: usize,
    /// Groups fitted.
    pub groups_fitted: usize,
    /// Items whose group had fewer than `min_responses` answers.
    pub items_skipped: usize,
    /// Groups with fewer than `min_responses` answers.
    pub groups_skipped: usize,
    /// Minimum answers per group.
    pub min_responses: usize,
    /// One entry per model fitted.
    pub fits: Vec<FitReport>,
    /// BKT fits.
    pub kcs: KcFitReport,
    /// Every fit stopped by a convergence criterion.
    pub converged: bool,
}

/// Calibration use cases.
#[derive(Clone)]
pub struct Calibration {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    min_kc_held_out: usize,
    recompute_page: u64,
}

/// Progress callback: fraction done in [0, 1] and what is happening; returns `false` to stop
/// the run (checked after each page and before fitting and writing).
pub type ProgressFn<'a> = &'a (dyn Fn(f64, &str) -> bool + Send + Sync);

fn report(progress: ProgressFn<'_>, fraction: f64, message: &str) -> Result<(), CalibrationError> {
    if progress(fraction, message) {
        Ok(())
    } else {
        Err(CalibrationError::Stopped)
    }
}

/// One translation group in the matrix.
struct Group {
    kind: ItemKind,
    /// Current c (prior mode of the 3PL fit).
    c: f64,
    items: Vec<Uuid>,
    n: usize,
}

/// One learner's labels on one KC: `(time, attempt id, label)`.
type Observations = Vec<(i64, Uuid, bool)>;

/// Everything read from the attempts.
#[derive(Default)]
struct Collected {
    learners: HashMap<Uuid, u32>,
    /// Group index of each item seen.
    item_group: HashMap<Uuid, u32>,
    groups: Vec<Group>,
    group_ids: HashMap<Uuid, u32>,
    kcs_of: HashMap<Uuid, Vec<u32>>,
    kc_ids: Vec<Uuid>,
    /// Starting values of each KC's fit: its parameters in the set in use, else the defaults.
    kc_init: Vec<BktParams>,
    kc_index: HashMap<Uuid, u32>,
    /// `(learner, group, label)`.
    responses: Vec<(u32, u32, f64)>,
    /// `(learner, kc) -> (time, attempt id, label)`.
    kc_obs: HashMap<(u32, u32), Observations>,
    attempts: usize,
    from: i64,
    to: i64,
}

fn option_count(content: &str) -> usize {
    serde_json::from_str::<serde_json::Value>(content)
        .ok()
        .and_then(|v| v.get("options").and_then(|o| o.as_array()).map(Vec::len))
        .unwrap_or(0)
}

impl Calibration {
    /// Over `db`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            min_kc_held_out: JUDGE_MIN_KC_HELD_OUT,
            recompute_page: RECOMPUTE_PAGE,
        }
    }

    /// The same use cases with another number of learners per page of the recomputation after
    /// a publish (default [`RECOMPUTE_PAGE`]).
    #[must_use]
    pub fn with_recompute_page(mut self, n: u64) -> Self {
        self.recompute_page = n.max(1);
        self
    }

    /// The same use cases with another minimum of held-out attempts for a KC to count in a
    /// model change's per-KC rule (default [`JUDGE_MIN_KC_HELD_OUT`]).
    #[must_use]
    pub fn with_min_kc_held_out(mut self, n: usize) -> Self {
        self.min_kc_held_out = n.max(1);
        self
    }

    /// Fits every item group and KC with enough graded answers and writes a candidate set.
    ///
    /// # Errors
    /// [`CalibrationError::NoData`] without graded attempts; storage or estimator failures.
    pub async fn run(
        &self,
        options: CalibrationOptions,
        progress: ProgressFn<'_>,
    ) -> Result<CalibrationReport, CalibrationError> {
        let based_on = training_repo::active_parameter_set(&self.db).await?;
        let total = repo::count_graded_attempts(&self.db).await?;
        if total == 0 {
            return Err(CalibrationError::NoData);
        }
        report(progress, 0.0, "reading graded attempts")?;
        let data = self.collect(based_on, options, total, progress).await?;
        report(progress, 0.6, "fitting item parameters")?;
        let opts = options;
        let (data, fitted) = tokio::task::spawn_blocking(move || fit(data, opts))
            .await
            .map_err(|e| CalibrationError::Model(e.to_string()))??;
        report(progress, 0.9, "writing the candidate set")?;
        let written = self.write(based_on, options, &data, fitted).await?;
        progress(1.0, "candidate set written");
        Ok(written)
    }

    async fn collect(
        &self,
        set: i64,
        options: CalibrationOptions,
        total: u64,
        progress: ProgressFn<'_>,
    ) -> Result<Collected, CalibrationError> {
        let mut d = Collected {
            from: i64::MAX,
            to: i64::MIN,
            ..Collected::default()
        };
        let mut after = None;
        loop {
            let page = repo::graded_attempts_page(&self.db, after, options.page_size).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let new: Vec<Uuid> = page
                .iter()
                .map(|a| a.item_id)
                .filter(|i| !d.item_group.contains_key(i))
                .collect::<std::collections::HashSet<_>>()
                .into_iter()
                .collect();
            self.learn_items(set, &new, &mut d).await?;
            for a in &page {
                let Some(&g) = d.item_group.get(&a.item_id) else {
                    continue; // item deleted since: nothing to attach the answer to
                };
                let next = d.learners.len() as u32;
                let l = *d.learners.entry(a.learner_id).or_insert(next);
                d.responses.push((l, g, if a.correct { 1.0 } else { 0.0 }));
                d.groups[g as usize].n += 1;
                for &k in d.kcs_of.get(&a.item_id).map_or(&[][..], Vec::as_slice) {
                    d.kc_obs
                        .entry((l, k))
                        .or_default()
                        .push((a.created_at, a.id, a.correct));
                }
                d.from = d.from.min(a.created_at);
                d.to = d.to.max(a.created_at);
                d.attempts += 1;
            }
            let done = d.attempts as f64 / total as f64;
            report(
                progress,
                0.6 * done,
                &format!("read {} of {total} attempts", d.attempts),
            )?;
        }
        if d.attempts == 0 {
            return Err(CalibrationError::NoData);
        }
        Ok(d)
    }

    /// Registers `items` (not seen before): their group (created with the current c on first
    /// sight) and KCs.
    async fn learn_items(
        &self,
        set: i64,
        items: &[Uuid],
        d: &mut Collected,
    ) -> Result<(), CalibrationError> {
        if items.is_empty() {
            return Ok(());
        }
        let rows: Vec<CalibrationItem> = repo::calibration_items(&self.db, items).await?;
        let current: HashMap<Uuid, f64> = repo::item_parameters(&self.db, set, items)
            .await?
            .into_iter()
            .map(|(i, _, _, c)| (i, c))
            .collect();
        for r in rows {
            let kind: ItemKind = r.kind.parse().unwrap_or(ItemKind::Qcm);
            let difficulty: Difficulty = r.difficulty.parse().unwrap_or(Difficulty::Medium);
            let c = current.get(&r.id).copied().unwrap_or_else(|| {
                prior_item_params(kind, difficulty, option_count(&r.content)).c()
            });
            let next = d.groups.len() as u32;
            let g = *d.group_ids.entry(r.translation_group_id).or_insert(next);
            if g == next {
                d.groups.push(Group {
                    kind,
                    c,
                    items: Vec::new(),
                    n: 0,
                });
            }
            d.groups[g as usize].items.push(r.id);
            d.item_group.insert(r.id, g);
        }
        let first_new = d.kc_ids.len();
        for (item, kc, _) in training_repo::kc_tags(&self.db, items).await? {
            let next = d.kc_ids.len() as u32;
            let k = *d.kc_index.entry(kc).or_insert(next);
            if k == next {
                d.kc_ids.push(kc);
                d.kc_init.push(BktParams::default());
            }
            d.kcs_of.entry(item).or_default().push(k);
        }
        let new_kcs = &d.kc_ids[first_new..];
        for p in training_repo::kc_parameters(&self.db, set, new_kcs).await? {
            if let Some(&k) = d.kc_index.get(&p.kc_id) {
                d.kc_init[k as usize] =
                    BktParams::clamped(p.p_init, p.p_learn, p.p_guess, p.p_slip);
            }
        }
        Ok(())
    }

    async fn write(
        &self,
        based_on: i64,
        options: CalibrationOptions,
        d: &Collected,
        fitted: Fitted,
    ) -> Result<CalibrationReport, CalibrationError> {
        // BKT starting points and KC counts were settled in `fit`; write in one transaction.
        let txn = myqcm_db::begin_write(&self.db).await?;
        let now = self.clock.now().timestamp_millis();
        let set = training_repo::insert_parameter_set(
            &txn,
            &format!("calibration {}", self.clock.now().format("%Y-%m-%d %H:%M")),
            "calibrated",
            "candidate",
            "{}",
            now,
        )
        .await?;
        repo::copy_parameters(&txn, based_on, set.id).await?;
        let mut rows = Vec::new();
        for (g, p) in &fitted.items {
            for item in &d.groups[*g as usize].items {
                rows.push((*item, p.0, p.1, p.2));
            }
        }
        training_repo::put_item_parameters(&txn, set.id, &rows).await?;
        let kc_rows: Vec<_> = fitted
            .kcs
            .iter()
            .map(|(k, p)| {
                (
                    d.kc_ids[*k as usize],
                    p.p_init(),
                    p.p_learn(),
                    p.p_guess(),
                    p.p_slip(),
                )
            })
            .collect();
        training_repo::put_kc_parameters(&txn, set.id, &kc_rows).await?;
        let groups_skipped = d
            .groups
            .iter()
            .filter(|g| g.n < options.min_responses)
            .count();
        let items_skipped = d
            .groups
            .iter()
            .filter(|g| g.n < options.min_responses)
            .map(|g| g.items.len())
            .sum();
        let report = CalibrationReport {
            parameter_set_id: set.id,
            status: "candidate",
            based_on,
            model: SERVED_MODEL,
            policy: POLICY,
            code_version: env!("CARGO_PKG_VERSION"),
            window_from_ms: d.from,
            window_to_ms: d.to,
            attempts: d.attempts,
            learners: d.learners.len(),
            items_seen: d.item_group.len(),
            groups_seen: d.groups.len(),
            items_fitted: rows.len(),
            groups_fitted: fitted.items.len(),
            items_skipped,
            groups_skipped,
            min_responses: options.min_responses,
            converged: fitted.fits.iter().all(|f| f.converged)
                && fitted.kc_report.converged == fitted.kc_report.fitted,
            fits: fitted.fits,
            kcs: fitted.kc_report,
        };
        let notes =
            serde_json::to_string(&report).map_err(|e| CalibrationError::Store(e.to_string()))?;
        repo::set_parameter_set_notes(&txn, set.id, &notes).await?;
        txn.commit().await?;
        Ok(report)
    }
}

/// The model family this code fits and serves, recorded in every candidate set's notes
/// (`model`). Change it when the model changes (a new family, new features): the release gate
/// then judges the next candidate by the model-change rule instead of the routine refresh.
pub const SERVED_MODEL: &str = "irt-by-item-type+bkt-per-kc/1";

const POLICY: &str = "qcs: 3pl, c ~ Beta(mode = c in use, strength 20); qcm, qroc: 2pl (c = 0); \
                      ln a ~ N(0, 0.5²), b ~ N(0, 2²); linked translations share parameters";

/// The estimates of one run.
struct Fitted {
    /// `(group, (a, b, c))`.
    items: Vec<(u32, (f64, f64, f64))>,
    fits: Vec<FitReport>,
    kcs: Vec<(u32, BktParams)>,
    kc_report: KcFitReport,
}

fn fit(d: Collected, options: CalibrationOptions) -> Result<(Collected, Fitted), CalibrationError> {
    let mut items = Vec::new();
    let mut fits = Vec::new();
    let policies: [(ModelKind, &'static str, &[ItemKind]); 2] = [
        (ModelKind::TwoPl, "2pl", &[ItemKind::Qcm, ItemKind::Qroc]),
        (ModelKind::ThreePl, "3pl", &[ItemKind::Qcs]),
    ];
    for (model, name, kinds) in policies {
        // Columns: the groups of these kinds with enough answers, renumbered.
        let mut column: HashMap<u32, u32> = HashMap::new();
        let mut order = Vec::new();
        for (g, group) in d.groups.iter().enumerate() {
            if kinds.contains(&group.kind) && group.n >= options.min_responses {
                column.insert(g as u32, order.len() as u32);
                order.push(g as u32);
            }
        }
        if order.is_empty() {
            continue;
        }
        let triples: Vec<(u32, u32, f64)> = d
            .responses
            .iter()
            .filter_map(|(l, g, u)| column.get(g).map(|j| (*l, *j, *u)))
            .collect();
        let matrix = ResponseMatrix::new(d.learners.len(), order.len(), &triples)
            .map_err(|e| CalibrationError::Model(e.to_string()))?;
        let mut config = CalibrationConfig::new(model);
        config.priors = if model == ModelKind::ThreePl {
            Priors::three_pl(
                order
                    .iter()
                    .map(|g| d.groups[*g as usize].c.clamp(0.01, 0.45))
                    .collect(),
            )
        } else {
            Priors::default()
        };
        config.priors.log_a = Some(NormalPrior { mean: 0.0, sd: 0.5 });
        config.priors.b = Some(NormalPrior { mean: 0.0, sd: 2.0 });
        let out =
            calibrate(&matrix, &config).map_err(|e| CalibrationError::Model(e.to_string()))?;
        for (g, e) in order.iter().zip(&out.items) {
            items.push((*g, (e.params.a(), e.params.b(), e.params.c())));
        }
        fits.push(FitReport {
            model: name,
            kinds: kinds.iter().map(|k| k.as_str()).collect(),
            groups: order.len(),
            responses: triples.len(),
            iterations: out.iterations,
            stop: out.stop.to_string(),
            converged: out.stop.converged(),
            log_likelihood: out.log_lik,
        });
    }
    let (kcs, kc_report) = fit_kcs(&d, options)?;
    Ok((
        d,
        Fitted {
            items,
            fits,
            kcs,
            kc_report,
        },
    ))
}

/// BKT per KC: each learner's labels on the KC's items in time order, EM starting from the
/// KC's parameters in the set in use (the defaults when it has none).
fn fit_kcs(
    d: &Collected,
    options: CalibrationOptions,
) -> Result<(Vec<(u32, BktParams)>, KcFitReport), CalibrationError> {
    let mut per_kc: Vec<Vec<(u32, &Observations)>> = vec![Vec::new(); d.kc_ids.len()];
    for ((l, k), obs) in &d.kc_obs {
        per_kc[*k as usize].push((*l, obs));
    }
    let mut out = Vec::new();
    let mut report = KcFitReport {
        fitted: 0,
        skipped: 0,
        converged: 0,
    };
    for (k, mut seqs) in per_kc.into_iter().enumerate() {
        let n: usize = seqs.iter().map(|(_, o)| o.len()).sum();
        if n == 0 {
            continue;
        }
        if n < options.min_kc_observations {
            report.skipped += 1;
            continue;
        }
        seqs.sort_by_key(|(l, _)| *l);
        let mut s = BktSequences::new();
        for (_, obs) in seqs {
            let mut obs = obs.clone();
            obs.sort_unstable();
            let labels: Vec<bool> = obs.iter().map(|(_, _, y)| *y).collect();
            s.push(&labels);
        }
        let config = BktFitConfig {
            init: d.kc_init[k],
            ..BktFitConfig::default()
        };
        let f = bkt::fit(&s, &config).map_err(|e| CalibrationError::Model(e.to_string()))?;
        report.fitted += 1;
        if f.stop.converged() {
            report.converged += 1;
        }
        out.push((k as u32, f.params));
    }
    Ok((out, report))
}

/// One graded attempt for `myqcm evaluate` (database mode).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedAttempt {
    /// Attempt id.
    pub id: Uuid,
    /// Learner.
    pub learner: Uuid,
    /// Item.
    pub item: Uuid,
    /// The label.
    pub correct: bool,
    /// When (epoch ms).
    pub created_at: i64,
    /// The P(correct) stored with the served item.
    pub p_correct: Option<f64>,
    /// The item's locale.
    pub locale: String,
    /// The learner's faculty.
    pub faculty: Option<Uuid>,
}

/// One item of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedItem {
    /// `qcm`, `qcs`, `qroc`.
    pub kind: String,
    /// Subject (θ is per learner and subject).
    pub subject: Uuid,
    /// Options of its current revision.
    pub options: usize,
    /// Its KCs.
    pub kcs: Vec<Uuid>,
    /// The author's difficulty (`easy`, `medium`, `hard`).
    pub difficulty: String,
}

/// Every graded attempt in id order, with the items they refer to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttemptLog {
    /// Attempts, in id order.
    pub attempts: Vec<LoggedAttempt>,
    /// Items by id.
    pub items: HashMap<Uuid, LoggedItem>,
}

impl Calibration {
    /// Reads every graded attempt (pages of `page_size` in id order) with its stored
    /// prediction, and each item once (type, option count, KCs), for `myqcm evaluate`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn attempt_log(&self, page_size: u64) -> Result<AttemptLog, CalibrationError> {
        let mut log = AttemptLog::default();
        let mut after = None;
        loop {
            let page = repo::evaluation_attempts_page(&self.db, after, page_size.max(1)).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let new: Vec<Uuid> = page
                .iter()
                .map(|a| a.item_id)
                .filter(|i| !log.items.contains_key(i))
                .collect::<std::collections::HashSet<_>>()
                .into_iter()
                .collect();
            if !new.is_empty() {
                let subjects: HashMap<Uuid, Uuid> =
                    page.iter().map(|a| (a.item_id, a.subject_id)).collect();
                let mut kcs: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
                for (item, kc, _) in training_repo::kc_tags(&self.db, &new).await? {
                    kcs.entry(item).or_default().push(kc);
                }
                for r in repo::calibration_items(&self.db, &new).await? {
                    log.items.insert(
                        r.id,
                        LoggedItem {
                            options: option_count(&r.content),
                            subject: subjects.get(&r.id).copied().unwrap_or_default(),
                            kcs: kcs.remove(&r.id).unwrap_or_default(),
                            kind: r.kind,
                            difficulty: r.difficulty,
                        },
                    );
                }
            }
            log.attempts.extend(
                page.into_iter()
                    .filter(|a| log.items.contains_key(&a.item_id))
                    .map(|a| LoggedAttempt {
                        id: a.id,
                        learner: a.learner_id,
                        item: a.item_id,
                        correct: a.correct,
                        created_at: a.created_at,
                        p_correct: a.p_correct,
                        locale: a.locale,
                        faculty: a.faculty_id,
                    }),
            );
        }
        Ok(log)
    }
}

// ---------------------------------------------------------------- the release gate

/// Share of the most recent graded attempts held out to judge a candidate (the evaluation's).
pub const JUDGE_HOLDOUT: f64 = 0.2;
/// ECE bins of the judgement (the evaluation's default).
pub const JUDGE_BINS: usize = 10;
/// Held-out attempts a KC needs to count in a model change's per-KC ECE rule.
pub const JUDGE_MIN_KC_HELD_OUT: usize = 200;

/// The model a parameter set records in its notes (`model`), if any. The priors (set 0) and
/// sets written before models were recorded have none.
fn recorded_model(notes: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(notes)
        .ok()?
        .get("model")?
        .as_str()
        .map(str::to_owned)
}

/// Held-out scores of the set in use and of the candidate on one KC.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KcScores {
    /// The KC.
    pub kc: Uuid,
    /// Held-out attempts on it.
    pub held_out: usize,
    /// The set in use's log-loss and ECE.
    pub current: (f64, f64),
    /// The candidate's.
    pub candidate: (f64, f64),
}

/// Held-out scores of one parameter set.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct SetScores {
    /// The set.
    pub parameter_set_id: i64,
    /// Log-loss on the held-out attempts.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
    /// Expected calibration error (10 equal-width bins).
    pub ece: f64,
    /// Mean prediction.
    pub mean_p: f64,
}

/// The release gate's verdict on a candidate, with the report it rests on; stored under
/// `judgement` in the candidate's notes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Judgement {
    /// The candidate judged.
    pub candidate: i64,
    /// The rule applied: `refresh` (same model, newer data) or `model_change` (the
    /// candidate records another model than the set in use).
    pub rule: &'static str,
    /// The set in use's recorded model (`None`: the priors or a set without one).
    pub current_model: Option<String>,
    /// The candidate's recorded model.
    pub candidate_model: Option<String>,
    /// Model change: share of the judged KCs whose ECE is no worse.
    pub kcs_no_worse: Option<f64>,
    /// Per KC with at least the minimum of held-out attempts (scored for both rules; used by
    /// the model-change rule).
    pub per_kc: Vec<KcScores>,
    /// Publish it.
    pub accept: bool,
    /// Why, in words.
    pub reason: String,
    /// Relative log-loss change, candidate against the set in use (negative = better).
    pub log_loss_change: f64,
    /// ECE change (negative = better).
    pub ece_change: f64,
    /// Held-out attempts scored.
    pub held_out: usize,
    /// Attempts replayed before the held-out window (θ is learned on them, not scored).
    pub warm_up: usize,
    /// The set in use.
    pub current: SetScores,
    /// The candidate.
    pub candidate_scores: SetScores,
    /// When (epoch ms).
    pub judged_at_ms: i64,
}

/// One parameter set as `myqcm params list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParameterSetView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// `active`, `candidate`, `rejected` or `retired`.
    pub status: String,
    /// Created (epoch ms).
    pub created_at: i64,
    /// The gate's last verdict: `accepted` or `rejected`, with its reason; `None` when never
    /// judged.
    pub verdict: Option<(bool, String)>,
}

/// What `publish` did.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishOutcome {
    /// The candidate is now the set in use; the previous one is retired.
    Published {
        /// The gate's report.
        judgement: Judgement,
        /// The set retired.
        retired: i64,
        /// The job recomputing every learner's θ and mastery under the new set
        /// ([`RECOMPUTE_JOB`]), queued in the publishing transaction.
        recompute_job: i64,
    },
    /// The gate refused it: it is kept as `rejected` with the report.
    Rejected(Judgement),
}

impl Calibration {
    /// Every parameter set, newest first, with the gate's verdict when judged.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn parameter_sets(&self) -> Result<Vec<ParameterSetView>, CalibrationError> {
        Ok(training_repo::parameter_sets(&self.db)
            .await?
            .into_iter()
            .map(|s| {
                let verdict = serde_json::from_str::<serde_json::Value>(&s.notes)
                    .ok()
                    .and_then(|n| {
                        let j = n.get("judgement")?;
                        Some((
                            j.get("accept")?.as_bool()?,
                            j.get("reason")?.as_str()?.to_owned(),
                        ))
                    });
                ParameterSetView {
                    id: s.id,
                    name: s.name,
                    status: s.status,
                    created_at: s.created_at,
                    verdict,
                }
            })
            .collect())
    }

    /// Scores the candidate and the set in use on the most recent held-out graded attempts
    /// (the last [`JUDGE_HOLDOUT`] in time; each learner's θ per subject is replayed from their
    /// earlier answers under each set's item parameters), applies the release gate (routine
    /// refresh: DECISIONS "Calibration gates") and records the verdict and both sets' scores in
    /// the candidate's notes (`judgement`). A refused candidate becomes `rejected`.
    ///
    /// # Errors
    /// [`CalibrationError::UnknownSet`], [`CalibrationError::NotCandidate`],
    /// [`CalibrationError::NoData`] with fewer than two graded attempts; storage failures.
    pub async fn judge(&self, candidate: i64) -> Result<Judgement, CalibrationError> {
        let set = self.candidate(candidate).await?;
        let current = training_repo::active_parameter_set(&self.db).await?;
        let current_model = training_repo::parameter_sets(&self.db)
            .await?
            .into_iter()
            .find(|s| s.id == current)
            .and_then(|s| recorded_model(&s.notes));
        let candidate_model = recorded_model(&set.notes);
        let kind = match (&current_model, &candidate_model) {
            (Some(c), Some(n)) if c != n => ReleaseKind::ModelChange,
            _ => ReleaseKind::Refresh,
        };
        let log = self.attempt_log(10_000).await?;
        if log.attempts.len() < 2 {
            return Err(CalibrationError::NoData);
        }
        let item_ids: Vec<Uuid> = log.items.keys().copied().collect();
        let rows = repo::calibration_items(&self.db, &item_ids).await?;
        let priors: HashMap<Uuid, myqcm_psychometrics::irt::ItemParams> = rows
            .iter()
            .map(|r| {
                let kind: ItemKind = r.kind.parse().unwrap_or(ItemKind::Qcm);
                let difficulty: Difficulty = r.difficulty.parse().unwrap_or(Difficulty::Medium);
                (
                    r.id,
                    prior_item_params(kind, difficulty, option_count(&r.content)),
                )
            })
            .collect();
        let cur_params = self.params_of(current, &item_ids, &priors).await?;
        let cand_params = self.params_of(candidate, &item_ids, &priors).await?;
        let now = self.clock.now().timestamp_millis();
        let min_kc = self.min_kc_held_out;
        let j = tokio::task::spawn_blocking(move || {
            score_sets(
                &log,
                &item_ids,
                [(current, cur_params), (candidate, cand_params)],
                min_kc,
            )
        })
        .await
        .map_err(|e| CalibrationError::Model(e.to_string()))??;
        let (cur, cand, held_out, warm_up, per_kc) = j;
        let pairs: Vec<(Scores, Scores)> = per_kc
            .iter()
            .map(|k| {
                (
                    Scores {
                        log_loss: k.current.0,
                        ece: k.current.1,
                    },
                    Scores {
                        log_loss: k.candidate.0,
                        ece: k.candidate.1,
                    },
                )
            })
            .collect();
        let verdict = release_gate(
            kind,
            Scores {
                log_loss: cur.log_loss,
                ece: cur.ece,
            },
            Scores {
                log_loss: cand.log_loss,
                ece: cand.ece,
            },
            &pairs,
        );
        let judgement = Judgement {
            candidate,
            rule: match kind {
                ReleaseKind::Refresh => "refresh",
                ReleaseKind::ModelChange => "model_change",
            },
            current_model,
            candidate_model,
            kcs_no_worse: verdict.kcs_no_worse,
            per_kc,
            accept: verdict.accept,
            reason: verdict.reason,
            log_loss_change: verdict.log_loss_change,
            ece_change: verdict.ece_change,
            held_out,
            warm_up,
            current: cur,
            candidate_scores: cand,
            judged_at_ms: now,
        };
        let mut notes: serde_json::Value =
            serde_json::from_str(&set.notes).unwrap_or_else(|_| serde_json::json!({}));
        if !notes.is_object() {
            notes = serde_json::json!({ "previous_notes": set.notes });
        }
        notes["judgement"] =
            serde_json::to_value(&judgement).map_err(|e| CalibrationError::Store(e.to_string()))?;
        let txn = myqcm_db::begin_write(&self.db).await?;
        repo::set_parameter_set_notes(&txn, candidate, &notes.to_string()).await?;
        training_repo::set_parameter_set_status(
            &txn,
            candidate,
            if judgement.accept {
                "candidate"
            } else {
                "rejected"
            },
        )
        .await?;
        txn.commit().await?;
        Ok(judgement)
    }

    /// Judges the candidate ([`Self::judge`]) and, when the gate passes, publishes it in one
    /// transaction: the candidate becomes `active`, the set in use `retired`, and the job
    /// [`RECOMPUTE_JOB`] is queued to recompute every learner's θ and mastery under it. Pools
    /// are cached per (session, set), so the next answer in any session, open or new, is
    /// served under the new set.
    ///
    /// # Errors
    /// As [`Self::judge`]; [`CalibrationError::Conflict`] when the set in use changed meanwhile.
    pub async fn publish(&self, candidate: i64) -> Result<PublishOutcome, CalibrationError> {
        let judgement = self.judge(candidate).await?;
        if !judgement.accept {
            return Ok(PublishOutcome::Rejected(judgement));
        }
        let txn = myqcm_db::begin_write(&self.db).await?;
        let current = training_repo::active_parameter_set(&txn).await?;
        if current != judgement.current.parameter_set_id {
            return Err(CalibrationError::Conflict(
                "the set in use changed while the candidate was judged; judge it again".into(),
            ));
        }
        training_repo::set_parameter_set_status(&txn, current, "retired").await?;
        training_repo::set_parameter_set_status(&txn, candidate, "active").await?;
        let recompute_job = recompute::enqueue(&txn, candidate, self.clock.now()).await?;
        txn.commit().await?;
        Ok(PublishOutcome::Published {
            judgement,
            retired: current,
            recompute_job,
        })
    }

    async fn candidate(
        &self,
        id: i64,
    ) -> Result<training_repo::parameter_set::Model, CalibrationError> {
        let set = training_repo::parameter_sets(&self.db)
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or(CalibrationError::UnknownSet(id))?;
        if set.status != "candidate" && set.status != "rejected" {
            return Err(CalibrationError::NotCandidate(id, set.status));
        }
        Ok(set)
    }

    /// Item parameters of `set` for `items` in that order, the documented priors for an item
    /// the set has no row for.
    async fn params_of(
        &self,
        set: i64,
        items: &[Uuid],
        priors: &HashMap<Uuid, myqcm_psychometrics::irt::ItemParams>,
    ) -> Result<Vec<myqcm_psychometrics::irt::ItemParams>, CalibrationError> {
        let stored: HashMap<Uuid, (f64, f64, f64)> = repo::item_parameters(&self.db, set, items)
            .await?
            .into_iter()
            .map(|(i, a, b, c)| (i, (a, b, c)))
            .collect();
        Ok(items
            .iter()
            .map(|i| {
                stored
                    .get(i)
                    .and_then(|(a, b, c)| {
                        myqcm_psychometrics::irt::ItemParams::three_pl(*a, *b, *c).ok()
                    })
                    .or_else(|| priors.get(i).copied())
                    .unwrap_or_else(|| prior_item_params(ItemKind::Qcm, Difficulty::Medium, 0))
            })
            .collect())
    }
}

/// Both sets' held-out scores, the held-out and warm-up counts, and the per-KC scores.
type Scored = (SetScores, SetScores, usize, usize, Vec<KcScores>);

/// Replays the log (time order) under each set's item parameters with an online θ per
/// (learner, subject) and scores the held-out window, overall and per KC with at least
/// `min_kc` held-out attempts (an attempt counts for each KC of its item). Returns both
/// scores, the held-out count, the warm-up count and the per-KC scores (KCs in id order).
fn score_sets(
    log: &AttemptLog,
    item_ids: &[Uuid],
    sets: [(i64, Vec<myqcm_psychometrics::irt::ItemParams>); 2],
    min_kc: usize,
) -> Result<Scored, CalibrationError> {
    use myqcm_psychometrics::evaluation::{
        Dataset, EvalAttempt, EvalItem, IrtOnline, OnlineModel, replay, split_point, summarize,
        time_order,
    };
    use rand::SeedableRng;
    let model = |e: myqcm_psychometrics::PsyError| CalibrationError::Model(e.to_string());
    let index: HashMap<Uuid, u32> = item_ids
        .iter()
        .enumerate()
        .map(|(k, i)| (*i, k as u32))
        .collect();
    let mut subjects: HashMap<Uuid, u32> = HashMap::new();
    let items: Vec<EvalItem> = item_ids
        .iter()
        .map(|i| {
            let next = subjects.len() as u32;
            let group = *subjects.entry(log.items[i].subject).or_insert(next);
            EvalItem {
                kcs: Vec::new(),
                group,
                guess: 0.0,
            }
        })
        .collect();
    let times: Vec<i64> = log.attempts.iter().map(|a| a.created_at).collect();
    let order = time_order(&times);
    let mut learners: HashMap<Uuid, u32> = HashMap::new();
    let attempts: Vec<EvalAttempt> = order
        .iter()
        .map(|k| {
            let a = &log.attempts[*k];
            let next = learners.len() as u32;
            EvalAttempt {
                learner: *learners.entry(a.learner).or_insert(next),
                item: index[&a.item],
                correct: a.correct,
            }
        })
        .collect();
    let labels: Vec<bool> = attempts.iter().map(|a| a.correct).collect();
    let from = split_point(attempts.len(), JUDGE_HOLDOUT);
    let data = Dataset::new(items, attempts, learners.len(), 0, from).map_err(model)?;
    let grid = myqcm_psychometrics::quadrature::Quadrature::default();
    let ids = [sets[0].0, sets[1].0];
    let mut models: Vec<Box<dyn OnlineModel>> = sets
        .into_iter()
        .map(|(id, p)| {
            Box::new(IrtOnline::new(format!("set {id}"), p, &grid)) as Box<dyn OnlineModel>
        })
        .collect();
    let preds = replay(&data, &mut models);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut score = |k: usize| -> Result<SetScores, CalibrationError> {
        let s =
            summarize(&preds[k], &labels[from..], JUDGE_BINS, 0, 0.95, &mut rng).map_err(model)?;
        Ok(SetScores {
            parameter_set_id: ids[k],
            log_loss: s.log_loss.estimate,
            brier: s.brier.estimate,
            ece: s.ece.estimate,
            mean_p: s.mean_p,
        })
    };
    let cur = score(0)?;
    let cand = score(1)?;
    // Held-out positions per KC.
    let mut by_kc: std::collections::BTreeMap<Uuid, Vec<usize>> = Default::default();
    for (k, i) in order[from..].iter().enumerate() {
        if let Some(it) = log.items.get(&log.attempts[*i].item) {
            for kc in &it.kcs {
                by_kc.entry(*kc).or_default().push(k);
            }
        }
    }
    let held = &labels[from..];
    let mut per_kc = Vec::new();
    for (kc, idx) in by_kc.into_iter().filter(|(_, v)| v.len() >= min_kc) {
        let y: Vec<bool> = idx.iter().map(|k| held[*k]).collect();
        let mut pair = [(0.0, 0.0); 2];
        for (m, out) in pair.iter_mut().enumerate() {
            let p: Vec<f64> = idx.iter().map(|k| preds[m][*k]).collect();
            let s = summarize(&p, &y, JUDGE_BINS, 0, 0.95, &mut rng).map_err(model)?;
            *out = (s.log_loss.estimate, s.ece.estimate);
        }
        per_kc.push(KcScores {
            kc,
            held_out: idx.len(),
            current: pair[0],
            candidate: pair[1],
        });
    }
    Ok((cur, cand, labels.len() - from, from, per_kc))
}
