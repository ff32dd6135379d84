//! Honest, time-ordered evaluation of P(correct) predictors on an attempt log.
//!
//! # Protocol
//! The attempts are replayed in time order (ties kept in input order, [`time_order`]). The
//! first `⌊(1 − h) N⌋` attempts are the **training** window and the rest are **held out**
//! ([`split_point`]). Parameters that need a batch fit (item parameters, BKT parameters per
//! KC) are fitted on the training window only ([`fit_irt`], [`fit_bkt`]). Then every model
//! ([`OnlineModel`]) replays the whole log: before each held-out attempt it gives its
//! P(correct) — from the learner's own past answers and, for the item-side models, from the
//! answers of everyone before that moment — and after every attempt it observes the label. A
//! model therefore never sees an answer before predicting it ([`replay`]).
//!
//! # Models
//! * [`ItemMean`] — the item's running success rate, shrunk to the global rate:
//!   `p = (s_i + m ḡ) / (n_i + m)`, `ḡ = (S + 1)/(N + 2)`, m = 2 pseudo-answers.
//! * [`LearnerMean`] — the same per learner.
//! * [`Elo`] — Pelánek's (2016) Elo for learner/item: `p = σ(θ_l − d_i)`,
//!   `θ_l ← θ_l + K(n_l)(y − p)`, `d_i ← d_i − K(n_i)(y − p)`, `K(n) = α / (1 + β n)`,
//!   α = 1, β = 0.05.
//! * [`IrtOnline`] — fixed item parameters (fitted on the training window) and a grid
//!   posterior of θ per (learner, group), N(0, 1) prior, exact Bayes update after each answer;
//!   the prediction is the posterior predictive `Σ_q π_q P(X_q)` ([`AbilityPosterior`]).
//! * [`BktOnline`] — mastery per (learner, KC) with the KC's fitted parameters, observe then
//!   learn; a multi-KC item averages its KCs ([`crate::bkt::p_correct_multi`]).
//! * [`HeuristicRules`] — the earlier system's rules (domain spec §5.4–5.5): heuristic 3PL
//!   parameters from the author's difficulty and one MAP gradient step on θ per answer.
//!
//! # Metrics
//! [`summarize`] gives log-loss, Brier, ECE (equal-width bins) and AUC with percentile
//! bootstrap intervals. Each replicate draws N indices with replacement and computes all four
//! metrics from the multiplicity weights `w_i` in one O(N) pass (the predictions are sorted
//! once; AUC is the weighted Mann–Whitney statistic with mid-ranks for ties), so a replicate
//! costs the same as the point estimate.
//!
//! References: Pelánek, R. (2016) Applications of the Elo rating system in adaptive
//! educational systems, *Computers & Education* 98; Corbett, A. T. & Anderson, J. R. (1995)
//! Knowledge tracing, *UMUAI* 4; Bock, R. D. & Aitkin, M. (1981) *Psychometrika* 46; Efron &
//! Tibshirani (1993) ch. 13 (percentile bootstrap); Naeini et al. (2015) (ECE).

use std::collections::HashMap;

use rand::{Rng, RngExt};
use rayon::prelude::*;

use crate::ability::AbilityPosterior;
use crate::bkt::{BktFitConfig, BktParams, BktSequences, fit_many, p_correct_multi};
use crate::calibration::{CalibrationConfig, NormalPrior, Priors, ResponseMatrix, calibrate};
use crate::error::PsyError;
use crate::irt::{ItemParams, ModelKind, logistic};
use crate::metrics::{ConfidenceInterval, LOG_LOSS_CLIP, ReliabilityBin};
use crate::quadrature::Quadrature;

/// What the models know about an item.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalItem {
    /// Its KCs (indices below [`Dataset::n_kcs`]); may be empty.
    pub kcs: Vec<u32>,
    /// The group θ is kept for (a subject; 0 when there is one scale).
    pub group: u32,
    /// Guessing floor: `1/k` for a single-answer item with k options, 0 otherwise. The
    /// item-type policy ([`IrtPolicy::ByGuess`]) fits a 3PL with this prior mode of c when
    /// it is positive, else a 2PL.
    pub guess: f64,
}

/// One graded attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalAttempt {
    /// Learner index.
    pub learner: u32,
    /// Item index.
    pub item: u32,
    /// The label.
    pub correct: bool,
}

/// Attempts in time order, their items, and where the held-out window starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    items: Vec<EvalItem>,
    attempts: Vec<EvalAttempt>,
    n_learners: usize,
    n_kcs: usize,
    holdout_from: usize,
}

impl Dataset {
    /// Checks the indices. `attempts` must already be in time order; attempts at positions
    /// `holdout_from..` are held out.
    ///
    /// # Errors
    /// [`PsyError::InvalidData`] for an index out of range, no attempt, or an empty held-out
    /// window.
    pub fn new(
        items: Vec<EvalItem>,
        attempts: Vec<EvalAttempt>,
        n_learners: usize,
        n_kcs: usize,
        holdout_from: usize,
    ) -> Result<Self, PsyError> {
        if holdout_from >= attempts.len() {
            return Err(PsyError::InvalidData(format!(
                "the held-out window starting at {holdout_from} of {} attempts is empty",
                attempts.len()
            )));
        }
        if let Some(a) = attempts
            .iter()
            .find(|a| a.learner as usize >= n_learners || a.item as usize >= items.len())
        {
            return Err(PsyError::InvalidData(format!(
                "attempt ({}, {}) outside {n_learners} learners × {} items",
                a.learner,
                a.item,
                items.len()
            )));
        }
        if let Some(k) = items
            .iter()
            .flat_map(|i| &i.kcs)
            .find(|k| **k as usize >= n_kcs)
        {
            return Err(PsyError::InvalidData(format!("KC {k} outside {n_kcs} KCs")));
        }
        if let Some(g) = items
            .iter()
            .map(|i| i.guess)
            .find(|g| !(0.0..0.5).contains(g))
        {
            return Err(PsyError::InvalidData(format!(
                "guessing floor {g} outside [0, 0.5)"
            )));
        }
        Ok(Self {
            items,
            attempts,
            n_learners,
            n_kcs,
            holdout_from,
        })
    }

    /// The items.
    #[must_use]
    pub fn items(&self) -> &[EvalItem] {
        &self.items
    }
    /// The attempts, in time order.
    #[must_use]
    pub fn attempts(&self) -> &[EvalAttempt] {
        &self.attempts
    }
    /// The training window.
    #[must_use]
    pub fn training(&self) -> &[EvalAttempt] {
        &self.attempts[..self.holdout_from]
    }
    /// The held-out window.
    #[must_use]
    pub fn held_out(&self) -> &[EvalAttempt] {
        &self.attempts[self.holdout_from..]
    }
    /// Position of the first held-out attempt.
    #[must_use]
    pub fn holdout_from(&self) -> usize {
        self.holdout_from
    }
    /// Number of learners.
    #[must_use]
    pub fn n_learners(&self) -> usize {
        self.n_learners
    }
    /// Number of KCs.
    #[must_use]
    pub fn n_kcs(&self) -> usize {
        self.n_kcs
    }
}

/// Positions `0..n` sorted by time, ties in input order (a stable sort).
///
/// ```
/// # use myqcm_psychometrics::evaluation::time_order;
/// assert_eq!(time_order(&[30, 10, 30, 20]), vec![1, 3, 0, 2]);
/// ```
#[must_use]
pub fn time_order(times: &[i64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..times.len()).collect();
    idx.sort_by_key(|i| times[*i]);
    idx
}

/// First held-out position when the last fraction `holdout` of `n` attempts is held out:
/// `⌊(1 − h) n⌋`, at least 0 and at most `n − 1` (so at least one attempt is held out).
///
/// ```
/// # use myqcm_psychometrics::evaluation::split_point;
/// assert_eq!(split_point(10, 0.2), 8);
/// assert_eq!(split_point(10, 1.0), 0);
/// assert_eq!(split_point(10, 0.0), 9);
/// ```
#[must_use]
pub fn split_point(n: usize, holdout: f64) -> usize {
    let h = if holdout.is_finite() {
        holdout.clamp(0.0, 1.0)
    } else {
        0.2
    };
    (((1.0 - h) * n as f64).floor() as usize).min(n.saturating_sub(1))
}

/// A predictor replayed over the log: [`OnlineModel::predict`] before an attempt, then
/// [`OnlineModel::observe`] after it.
pub trait OnlineModel: Send {
    /// The name written in the predictions file (`item_mean`, `irt_2pl`, `served`, …).
    fn name(&self) -> &str;
    /// P(correct) before `attempt` (its label is not to be read).
    fn predict(&self, attempt: &EvalAttempt, item: &EvalItem) -> f64;
    /// Absorbs the answer.
    fn observe(&mut self, attempt: &EvalAttempt, item: &EvalItem);
}

/// Replays the log through every model (each on its own thread); returns, per model, the
/// predictions for the held-out attempts in time order. A prediction is clamped to
/// `[1e−6, 1 − 1e−6]`, and a non-finite one becomes 0.5.
#[must_use]
pub fn replay(data: &Dataset, models: &mut [Box<dyn OnlineModel>]) -> Vec<Vec<f64>> {
    models
        .par_iter_mut()
        .map(|model| {
            let mut out = Vec::with_capacity(data.held_out().len());
            for (k, a) in data.attempts.iter().enumerate() {
                let item = &data.items[a.item as usize];
                if k >= data.holdout_from {
                    let p = model.predict(a, item);
                    out.push(if p.is_finite() {
                        p.clamp(1e-6, 1.0 - 1e-6)
                    } else {
                        0.5
                    });
                }
                model.observe(a, item);
            }
            out
        })
        .collect()
}

/// Shrunk running mean `(s + m ḡ)/(n + m)` with m = 2.
fn shrunk(successes: f64, n: f64, global: f64) -> f64 {
    const M: f64 = 2.0;
    (successes + M * global) / (n + M)
}

/// Global rate with a uniform prior: `(S + 1)/(N + 2)`.
fn global_rate(successes: f64, n: f64) -> f64 {
    (successes + 1.0) / (n + 2.0)
}

/// The item's running success rate, shrunk to the global rate (see the module docs).
#[derive(Debug, Clone)]
pub struct ItemMean {
    per: Vec<(f64, f64)>,
    all: (f64, f64),
}

impl ItemMean {
    /// A model for `n_items` items, no answer seen.
    #[must_use]
    pub fn new(n_items: usize) -> Self {
        Self {
            per: vec![(0.0, 0.0); n_items],
            all: (0.0, 0.0),
        }
    }
}

impl OnlineModel for ItemMean {
    fn name(&self) -> &str {
        "item_mean"
    }
    fn predict(&self, a: &EvalAttempt, _: &EvalItem) -> f64 {
        let (s, n) = self.per[a.item as usize];
        shrunk(s, n, global_rate(self.all.0, self.all.1))
    }
    fn observe(&mut self, a: &EvalAttempt, _: &EvalItem) {
        let y = f64::from(u8::from(a.correct));
        let e = &mut self.per[a.item as usize];
        e.0 += y;
        e.1 += 1.0;
        self.all.0 += y;
        self.all.1 += 1.0;
    }
}

/// The learner's running success rate, shrunk to the global rate.
#[derive(Debug, Clone)]
pub struct LearnerMean {
    per: Vec<(f64, f64)>,
    all: (f64, f64),
}

impl LearnerMean {
    /// A model for `n_learners` learners, no answer seen.
    #[must_use]
    pub fn new(n_learners: usize) -> Self {
        Self {
            per: vec![(0.0, 0.0); n_learners],
            all: (0.0, 0.0),
        }
    }
}

impl OnlineModel for LearnerMean {
    fn name(&self) -> &str {
        "learner_mean"
    }
    fn predict(&self, a: &EvalAttempt, _: &EvalItem) -> f64 {
        let (s, n) = self.per[a.learner as usize];
        shrunk(s, n, global_rate(self.all.0, self.all.1))
    }
    fn observe(&mut self, a: &EvalAttempt, _: &EvalItem) {
        let y = f64::from(u8::from(a.correct));
        let e = &mut self.per[a.learner as usize];
        e.0 += y;
        e.1 += 1.0;
        self.all.0 += y;
        self.all.1 += 1.0;
    }
}

/// Elo for learners and items with the uncertainty function `K(n) = α/(1 + β n)`.
#[derive(Debug, Clone)]
pub struct Elo {
    learners: Vec<(f64, u32)>,
    items: Vec<(f64, u32)>,
    alpha: f64,
    beta: f64,
}

impl Elo {
    /// Pelánek's defaults α = 1, β = 0.05; every rating starts at 0.
    #[must_use]
    pub fn new(n_learners: usize, n_items: usize) -> Self {
        Self {
            learners: vec![(0.0, 0); n_learners],
            items: vec![(0.0, 0); n_items],
            alpha: 1.0,
            beta: 0.05,
        }
    }
    fn k(&self, n: u32) -> f64 {
        self.alpha / (1.0 + self.beta * f64::from(n))
    }
}

impl OnlineModel for Elo {
    fn name(&self) -> &str {
        "elo"
    }
    fn predict(&self, a: &EvalAttempt, _: &EvalItem) -> f64 {
        logistic(self.learners[a.learner as usize].0 - self.items[a.item as usize].0)
    }
    fn observe(&mut self, a: &EvalAttempt, item: &EvalItem) {
        let r = f64::from(u8::from(a.correct)) - self.predict(a, item);
        let (kl, ki) = (
            self.k(self.learners[a.learner as usize].1),
            self.k(self.items[a.item as usize].1),
        );
        let l = &mut self.learners[a.learner as usize];
        l.0 += kl * r;
        l.1 += 1;
        let i = &mut self.items[a.item as usize];
        i.0 -= ki * r;
        i.1 += 1;
    }
}

/// IRT with fixed item parameters and a grid posterior of θ per (learner, group).
#[derive(Debug, Clone)]
pub struct IrtOnline {
    name: String,
    params: Vec<ItemParams>,
    prior: AbilityPosterior,
    learners: HashMap<(u32, u32), AbilityPosterior>,
}

impl IrtOnline {
    /// A model named `name` with one parameter triple per item and the prior `grid`.
    #[must_use]
    pub fn new(name: impl Into<String>, params: Vec<ItemParams>, grid: &Quadrature) -> Self {
        Self {
            name: name.into(),
            params,
            prior: AbilityPosterior::new(grid),
            learners: HashMap::new(),
        }
    }
}

impl OnlineModel for IrtOnline {
    fn name(&self) -> &str {
        &self.name
    }
    fn predict(&self, a: &EvalAttempt, item: &EvalItem) -> f64 {
        let post = self
            .learners
            .get(&(a.learner, item.group))
            .unwrap_or(&self.prior);
        post.p_correct(&self.params[a.item as usize])
    }
    fn observe(&mut self, a: &EvalAttempt, item: &EvalItem) {
        let post = self
            .learners
            .entry((a.learner, item.group))
            .or_insert_with(|| self.prior.clone());
        // A zero-likelihood answer leaves the posterior unchanged (documented on observe).
        let _ = post.observe(
            &self.params[a.item as usize],
            f64::from(u8::from(a.correct)),
        );
    }
}

/// BKT with one parameter set per KC and a mastery per (learner, KC).
#[derive(Debug, Clone)]
pub struct BktOnline {
    params: Vec<BktParams>,
    mastery: HashMap<(u32, u32), f64>,
}

impl BktOnline {
    /// A model with the parameters of each KC (index = KC).
    #[must_use]
    pub fn new(params: Vec<BktParams>) -> Self {
        Self {
            params,
            mastery: HashMap::new(),
        }
    }
    fn state(&self, learner: u32, kc: u32) -> f64 {
        self.mastery
            .get(&(learner, kc))
            .copied()
            .unwrap_or_else(|| self.params[kc as usize].p_init())
    }
}

impl OnlineModel for BktOnline {
    fn name(&self) -> &str {
        "bkt"
    }
    fn predict(&self, a: &EvalAttempt, item: &EvalItem) -> f64 {
        let m: Vec<f64> = item.kcs.iter().map(|k| self.state(a.learner, *k)).collect();
        let p: Vec<BktParams> = item.kcs.iter().map(|k| self.params[*k as usize]).collect();
        p_correct_multi(&m, &p).unwrap_or_else(|| {
            let d = BktParams::default();
            d.p_correct(d.p_init())
        })
    }
    fn observe(&mut self, a: &EvalAttempt, item: &EvalItem) {
        for k in &item.kcs {
            let next = self.params[*k as usize]
                .update(self.state(a.learner, *k), a.correct)
                .next;
            self.mastery.insert((a.learner, *k), next);
        }
    }
}

/// What the earlier system's heuristic rules know about an item (domain spec §5.4): the
/// author's difficulty label and whether the item is a multiple-answer QCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeuristicDifficulty {
    /// `easy`: b = −1.
    Easy,
    /// `medium`, and any unknown label: b = 0.
    #[default]
    Medium,
    /// `hard`: b = +1.
    Hard,
}

impl HeuristicDifficulty {
    /// `easy` / `hard` (any case); anything else is medium, the earlier system's default.
    #[must_use]
    pub fn from_label(s: &str) -> Self {
        if s.eq_ignore_ascii_case("easy") {
            Self::Easy
        } else if s.eq_ignore_ascii_case("hard") {
            Self::Hard
        } else {
            Self::Medium
        }
    }
    /// The heuristic difficulty parameter b.
    #[must_use]
    pub fn b(self) -> f64 {
        match self {
            Self::Easy => -1.0,
            Self::Medium => 0.0,
            Self::Hard => 1.0,
        }
    }
}

/// The earlier system's rules (domain spec §5.4–5.5), re-implemented for comparison only.
///
/// Per item, the heuristic 3PL parameters: `b` = −1 / 0 / +1 for easy / medium / hard,
/// `a` = 0.8 for a QCM (baseline 1 × 0.8) and 1 otherwise, `c` = 0.35. (The earlier system
/// lowered c to 0.25 or 0.15 when the time spent on *this* answer was long — a
/// response-dependent parameter the spec marks as a bug, and unknowable before the answer —
/// so a prediction made before the attempt uses the default 0.35.) One θ per (learner,
/// group) starting at 0 (the earlier system kept it per course; here per subject).
///
/// Prediction: `P = c + (1 − c) σ(a(θ − b))`, clipped to `[1e−9, 1 − 1e−9]`. After the answer,
/// one MAP gradient-ascent step with a N(0, 4) prior and step 0.75, no standard error:
///
/// ```text
/// dP = (1 − c) a σ (1 − σ)
/// θ' = θ + 0.75 · ((y − P) dP / (P (1 − P)) − θ / 4)     (θ kept if θ' is not finite)
/// ```
///
/// The selection bands of §5.5 (`logistic(θ)` below 0.3 easy, below 0.7 medium, else hard)
/// choose items, not probabilities, so they do not enter the prediction.
///
/// ```
/// # use myqcm_psychometrics::evaluation::*;
/// let item = EvalItem { kcs: vec![], group: 0, guess: 0.0 };
/// let mut m = HeuristicRules::new(vec![(HeuristicDifficulty::Medium, false)]);
/// let a = EvalAttempt { learner: 0, item: 0, correct: true };
/// assert!((m.predict(&a, &item) - 0.675).abs() < 1e-12); // 0.35 + 0.65 · 0.5
/// m.observe(&a, &item);
/// assert!(m.predict(&a, &item) > 0.675);
/// ```
#[derive(Debug, Clone)]
pub struct HeuristicRules {
    items: Vec<(f64, f64, f64)>,
    theta: HashMap<(u32, u32), f64>,
}

/// Guessing parameter of the earlier system's heuristic items.
pub const HEURISTIC_C: f64 = 0.35;
/// Gradient step of the earlier system's θ update.
pub const HEURISTIC_STEP: f64 = 0.75;
/// Prior variance of θ in the earlier system's update.
pub const HEURISTIC_PRIOR_VARIANCE: f64 = 4.0;

impl HeuristicRules {
    /// A model with, per item (index = item), its difficulty label and whether it is a
    /// multiple-answer QCM.
    #[must_use]
    pub fn new(items: Vec<(HeuristicDifficulty, bool)>) -> Self {
        Self {
            items: items
                .into_iter()
                .map(|(d, qcm)| {
                    let a: f64 = if qcm { 0.8 } else { 1.0 };
                    (a.clamp(0.1, 4.0), d.b(), HEURISTIC_C)
                })
                .collect(),
            theta: HashMap::new(),
        }
    }
    fn theta(&self, a: &EvalAttempt, item: &EvalItem) -> f64 {
        self.theta
            .get(&(a.learner, item.group))
            .copied()
            .unwrap_or(0.0)
    }
    /// `(P, dP/dθ)` at θ for item `j`.
    fn p(&self, j: u32, theta: f64) -> (f64, f64) {
        let (a, b, c) = self
            .items
            .get(j as usize)
            .copied()
            .unwrap_or((1.0, 0.0, HEURISTIC_C));
        let s = logistic(a * (theta - b));
        let p = (c + (1.0 - c) * s).clamp(1e-9, 1.0 - 1e-9);
        (p, (1.0 - c) * a * s * (1.0 - s))
    }
}

impl OnlineModel for HeuristicRules {
    fn name(&self) -> &str {
        "heuristic"
    }
    fn predict(&self, a: &EvalAttempt, item: &EvalItem) -> f64 {
        self.p(a.item, self.theta(a, item)).0
    }
    fn observe(&mut self, a: &EvalAttempt, item: &EvalItem) {
        let theta = self.theta(a, item);
        let (p, dp) = self.p(a.item, theta);
        let y = f64::from(u8::from(a.correct));
        let grad = (y - p) * dp / (p * (1.0 - p)) - theta / HEURISTIC_PRIOR_VARIANCE;
        let next = theta + HEURISTIC_STEP * grad;
        if next.is_finite() {
            self.theta.insert((a.learner, item.group), next);
        }
    }
}

/// Which item model [`fit_irt`] fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrtPolicy {
    /// The same family for every item (for a 3PL, c's prior mode is each item's guess, else
    /// 0.2).
    Fixed(ModelKind),
    /// The product's item-type policy: 3PL (c prior mode = the item's guess) for an item with
    /// a positive guessing floor, 2PL for the others; two separate fits.
    ByGuess,
}

/// Priors of every fit here, as in the product's calibration: `ln a ~ N(0, 0.5²)`,
/// `b ~ N(0, 2²)`, and for a 3PL c ~ Beta with strength 20 and mode the item's guess,
/// clamped to [0.01, 0.45].
fn priors(model: ModelKind, guesses: &[f64]) -> Priors {
    let mut p = if model == ModelKind::ThreePl {
        Priors::three_pl(
            guesses
                .iter()
                .map(|g| if *g > 0.0 { *g } else { 0.2 }.clamp(0.01, 0.45))
                .collect(),
        )
    } else {
        Priors::default()
    };
    p.log_a = Some(NormalPrior { mean: 0.0, sd: 0.5 });
    p.b = Some(NormalPrior { mean: 0.0, sd: 2.0 });
    p
}

/// Item parameters fitted by MML-EM ([`calibrate`]) on the training window, one per item.
/// An item without a training answer gets `a = 1, b = 0` and `c` = its guess under a 3PL
/// (0 otherwise). Learners are the training learners; θ ~ N(0, 1).
///
/// # Errors
/// [`PsyError`] from the calibration (for example no training answer at all).
pub fn fit_irt(data: &Dataset, policy: IrtPolicy) -> Result<Vec<ItemParams>, PsyError> {
    let families: Vec<(ModelKind, Vec<bool>)> = match policy {
        IrtPolicy::Fixed(m) => vec![(m, vec![true; data.items.len()])],
        IrtPolicy::ByGuess => vec![
            (
                ModelKind::ThreePl,
                data.items.iter().map(|i| i.guess > 0.0).collect(),
            ),
            (
                ModelKind::TwoPl,
                data.items.iter().map(|i| i.guess <= 0.0).collect(),
            ),
        ],
    };
    let mut out: Vec<ItemParams> = data
        .items
        .iter()
        .map(|i| {
            let c = match policy {
                IrtPolicy::Fixed(ModelKind::ThreePl) | IrtPolicy::ByGuess => i.guess,
                IrtPolicy::Fixed(_) => 0.0,
            };
            ItemParams::three_pl(1.0, 0.0, c).unwrap_or(ItemParams::DEFAULT)
        })
        .collect();
    for (model, member) in families {
        // Columns: the family's items with at least one training answer, in item order.
        let mut column = vec![u32::MAX; data.items.len()];
        let mut items = Vec::new();
        for a in data.training() {
            let j = a.item as usize;
            if member[j] && column[j] == u32::MAX {
                column[j] = 0;
            }
        }
        for (j, c) in column.iter_mut().enumerate() {
            if *c == 0 {
                *c = items.len() as u32;
                items.push(j);
            }
        }
        if items.is_empty() {
            continue;
        }
        let triples: Vec<(u32, u32, f64)> = data
            .training()
            .iter()
            .filter(|a| member[a.item as usize])
            .map(|a| {
                (
                    a.learner,
                    column[a.item as usize],
                    f64::from(u8::from(a.correct)),
                )
            })
            .collect();
        let matrix = ResponseMatrix::new(data.n_learners, items.len(), &triples)?;
        let mut config = CalibrationConfig::new(model);
        let guesses: Vec<f64> = items.iter().map(|j| data.items[*j].guess).collect();
        config.priors = priors(model, &guesses);
        let fit = calibrate(&matrix, &config)?;
        for (col, j) in items.iter().enumerate() {
            out[*j] = fit.items[col].params;
        }
    }
    Ok(out)
}

/// BKT parameters per KC fitted by Baum–Welch ([`fit_many`]) on the training window: one
/// sequence per learner, in time order; an item with several KCs adds its label to each. A
/// KC with fewer than `min_observations` training observations, or whose fit fails, keeps
/// the defaults ([`BktParams::default`]).
#[must_use]
pub fn fit_bkt(data: &Dataset, min_observations: usize) -> Vec<BktParams> {
    let mut per_kc: Vec<HashMap<u32, Vec<bool>>> = vec![HashMap::new(); data.n_kcs];
    for a in data.training() {
        for k in &data.items[a.item as usize].kcs {
            per_kc[*k as usize]
                .entry(a.learner)
                .or_default()
                .push(a.correct);
        }
    }
    let seqs: Vec<BktSequences> = per_kc
        .into_iter()
        .map(|m| {
            let mut learners: Vec<(u32, Vec<bool>)> = m.into_iter().collect();
            learners.sort_by_key(|(l, _)| *l);
            let mut s = BktSequences::new();
            for (_, seq) in &learners {
                s.push(seq);
            }
            s
        })
        .collect();
    let fits = fit_many(&seqs, &BktFitConfig::default());
    seqs.iter()
        .zip(fits)
        .map(|(s, f)| match f {
            Ok(f) if s.n_obs() >= min_observations => f.params,
            _ => BktParams::default(),
        })
        .collect()
}

/// Log-loss, Brier, ECE and AUC of one slice, with bootstrap intervals, and its reliability
/// bins.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Summary {
    /// Attempts in the slice.
    pub n: usize,
    /// Correct answers in the slice.
    pub correct: usize,
    /// Mean prediction.
    pub mean_p: f64,
    /// Log-loss (p clipped to `[1e−12, 1 − 1e−12]`).
    pub log_loss: ConfidenceInterval,
    /// Brier score.
    pub brier: ConfidenceInterval,
    /// Expected calibration error over equal-width bins.
    pub ece: ConfidenceInterval,
    /// AUC; `None` when one class is absent.
    pub auc: Option<ConfidenceInterval>,
    /// Reliability bins (equal width; empty bins omitted).
    pub reliability: Vec<ReliabilityBin>,
}

/// One slice's predictions sorted once by value, with everything a replicate reads
/// precomputed per position, so that a replicate is one sequential pass with no logarithm.
struct Sorted {
    /// Predictions, ascending.
    p: Vec<f64>,
    /// Labels, same order.
    y: Vec<bool>,
    /// `ln p` for a correct answer, `ln(1 − p)` otherwise (p clipped to the log-loss clip).
    ln: Vec<f64>,
    /// `p − y`.
    diff: Vec<f64>,
    /// Equal-width bin of `p`.
    bin: Vec<usize>,
    /// Sorted position of each input index.
    position: Vec<usize>,
}

impl Sorted {
    fn new(pred: &[f64], labels: &[bool], bins: usize) -> Self {
        let mut order: Vec<usize> = (0..pred.len()).collect();
        order.sort_by(|a, b| pred[*a].total_cmp(&pred[*b]));
        let mut position = vec![0; pred.len()];
        for (k, i) in order.iter().enumerate() {
            position[*i] = k;
        }
        let p: Vec<f64> = order.iter().map(|i| pred[*i]).collect();
        let y: Vec<bool> = order.iter().map(|i| labels[*i]).collect();
        let ln = p
            .iter()
            .zip(&y)
            .map(|(p, y)| {
                let pc = p.clamp(LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP);
                if *y { pc.ln() } else { (1.0 - pc).ln() }
            })
            .collect();
        let diff = p
            .iter()
            .zip(&y)
            .map(|(p, y)| p - f64::from(u8::from(*y)))
            .collect();
        let bin = p
            .iter()
            .map(|p| ((p * bins as f64) as usize).min(bins - 1))
            .collect();
        Self {
            p,
            y,
            ln,
            diff,
            bin,
            position,
        }
    }

    /// The four metrics (log-loss, Brier, ECE, AUC) from multiplicity weights given by sorted
    /// position, in one pass in ascending order of the predictions.
    fn weighted(&self, w: &[u32], bins: usize) -> [f64; 4] {
        let (mut n, mut ll, mut br) = (0.0, 0.0, 0.0);
        let mut bin_n = vec![0.0; bins];
        let mut bin_p = vec![0.0; bins];
        let mut bin_y = vec![0.0; bins];
        let (mut pos, mut neg, mut num) = (0.0, 0.0, 0.0);
        let len = self.p.len();
        let mut k = 0;
        while k < len {
            // One group of tied predictions.
            let p0 = self.p[k];
            let (mut gp, mut gn) = (0.0, 0.0);
            while k < len && self.p[k] == p0 {
                let wi = f64::from(w[k]);
                if wi > 0.0 {
                    let (p, y, d) = (self.p[k], self.y[k], self.diff[k]);
                    n += wi;
                    ll -= wi * self.ln[k];
                    br += wi * d * d;
                    let b = self.bin[k];
                    bin_n[b] += wi;
                    bin_p[b] += wi * p;
                    if y {
                        bin_y[b] += wi;
                        gp += wi;
                    } else {
                        gn += wi;
                    }
                }
                k += 1;
            }
            // Positives of this group beat every negative below it and tie with its own.
            num += gp * neg + 0.5 * gp * gn;
            pos += gp;
            neg += gn;
        }
        let ece = (0..bins)
            .filter(|b| bin_n[*b] > 0.0)
            .map(|b| (bin_y[b] - bin_p[b]).abs())
            .sum::<f64>()
            / n;
        let auc = if pos > 0.0 && neg > 0.0 {
            num / (pos * neg)
        } else {
            f64::NAN
        };
        [ll / n, br / n, ece, auc]
    }
}

/// Metrics of one slice with `n_boot` percentile-bootstrap replicates at `level` (0 replicates:
/// the interval is the point estimate). ECE and the reliability bins use `bins` equal-width
/// bins. The point estimates equal [`crate::metrics::log_loss`], [`crate::metrics::brier`],
/// [`crate::metrics::ece`] and [`crate::metrics::auc`].
///
/// ```
/// # use myqcm_psychometrics::evaluation::summarize;
/// # use rand::SeedableRng;
/// let p = [0.9, 0.7, 0.6, 0.2, 0.1];
/// let y = [true, false, true, false, true];
/// let s = summarize(&p, &y, 10, 0, 0.95, &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
/// assert_eq!(s.auc.unwrap().estimate, 0.5);
/// ```
///
/// # Errors
/// [`PsyError::InvalidData`] for empty or mismatched inputs or a prediction outside [0, 1];
/// [`PsyError::InvalidParameter`] for `bins == 0` or a level outside (0, 1).
pub fn summarize<R: Rng + ?Sized>(
    pred: &[f64],
    labels: &[bool],
    bins: usize,
    n_boot: usize,
    level: f64,
    rng: &mut R,
) -> Result<Summary, PsyError> {
    let reliability =
        crate::metrics::reliability_bins(pred, labels, bins, crate::metrics::Binning::EqualWidth)?;
    if !(level > 0.0 && level < 1.0) {
        return Err(PsyError::InvalidParameter {
            name: "level",
            value: level,
            expected: "a level in (0, 1)",
        });
    }
    let n = pred.len();
    let sorted = Sorted::new(pred, labels, bins);
    let point = sorted.weighted(&vec![1u32; n], bins);
    let mut reps: [Vec<f64>; 4] = Default::default();
    // Weights by sorted position: the draw of input index i counts at `position[i]`.
    let mut w = vec![0u32; n];
    for _ in 0..n_boot {
        w.iter_mut().for_each(|x| *x = 0);
        for _ in 0..n {
            w[sorted.position[rng.random_range(0..n)]] += 1;
        }
        let m = sorted.weighted(&w, bins);
        for (r, v) in reps.iter_mut().zip(m) {
            if v.is_finite() {
                r.push(v);
            }
        }
    }
    let ci = |k: usize| -> ConfidenceInterval {
        let mut s = reps[k].clone();
        if s.is_empty() {
            return ConfidenceInterval {
                estimate: point[k],
                lower: point[k],
                upper: point[k],
            };
        }
        s.sort_by(f64::total_cmp);
        let q = |f: f64| s[((f * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)];
        ConfidenceInterval {
            estimate: point[k],
            lower: q((1.0 - level) / 2.0),
            upper: q((1.0 + level) / 2.0),
        }
    };
    Ok(Summary {
        n,
        correct: labels.iter().filter(|y| **y).count(),
        mean_p: pred.iter().sum::<f64>() / n as f64,
        log_loss: ci(0),
        brier: ci(1),
        ece: ci(2),
        auc: point[3].is_finite().then(|| ci(3)),
        reliability,
    })
}

/// Which release rule applies to a candidate parameter set (DECISIONS, "Calibration gates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReleaseKind {
    /// Same model, newer data: published when the held-out log-loss is not worse than the set
    /// in use by more than 0.5 % (relative) and the ECE not worse by more than 0.005.
    Refresh,
    /// New model family or features: at least a 2 % relative log-loss gain overall, and the
    /// ECE no worse on at least 70 % of the KCs.
    ModelChange,
}

/// Held-out log-loss and ECE of one model on one slice.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Scores {
    /// Log-loss.
    pub log_loss: f64,
    /// Expected calibration error.
    pub ece: f64,
}

/// The gate's verdict with the numbers it used.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GateVerdict {
    /// Publish the candidate.
    pub accept: bool,
    /// Relative log-loss change `(candidate − current)/current` (negative = better).
    pub log_loss_change: f64,
    /// ECE change `candidate − current` (negative = better).
    pub ece_change: f64,
    /// Share of the KCs whose ECE is no worse (model change only; `None` for a refresh or
    /// without KCs).
    pub kcs_no_worse: Option<f64>,
    /// Why, in words.
    pub reason: String,
}

/// Relative log-loss tolerance of a routine refresh (0.5 %).
pub const REFRESH_LOG_LOSS_TOLERANCE: f64 = 0.005;
/// Absolute ECE tolerance of a routine refresh.
pub const REFRESH_ECE_TOLERANCE: f64 = 0.005;
/// Relative log-loss gain a model change needs (2 %).
pub const MODEL_CHANGE_GAIN: f64 = 0.02;
/// Share of KCs whose ECE must not get worse under a model change (70 %).
pub const MODEL_CHANGE_KC_SHARE: f64 = 0.7;

/// The release gate of DECISIONS on held-out scores of the set in use (`current`) and of the
/// candidate, overall and per KC (pairs `(current, candidate)`; used by a model change only).
///
/// * Refresh: accept iff `(L_cand − L_cur)/L_cur ≤ 0.005` and `ECE_cand − ECE_cur ≤ 0.005`.
/// * Model change: accept iff `(L_cur − L_cand)/L_cur ≥ 0.02` and
///   `#{k : ECE_cand,k ≤ ECE_cur,k} ≥ 0.7 · #KCs` (vacuously true without KCs).
///
/// ```
/// # use myqcm_psychometrics::evaluation::{release_gate, ReleaseKind, Scores};
/// let cur = Scores { log_loss: 0.60, ece: 0.020 };
/// let ok = Scores { log_loss: 0.602, ece: 0.024 }; // +0.33 %, +0.004
/// assert!(release_gate(ReleaseKind::Refresh, cur, ok, &[]).accept);
/// let bad = Scores { log_loss: 0.61, ece: 0.020 }; // +1.7 %
/// assert!(!release_gate(ReleaseKind::Refresh, cur, bad, &[]).accept);
/// ```
#[must_use]
pub fn release_gate(
    kind: ReleaseKind,
    current: Scores,
    candidate: Scores,
    per_kc: &[(Scores, Scores)],
) -> GateVerdict {
    let change = if current.log_loss > 0.0 {
        (candidate.log_loss - current.log_loss) / current.log_loss
    } else {
        candidate.log_loss - current.log_loss
    };
    let ece_change = candidate.ece - current.ece;
    if !(change.is_finite() && ece_change.is_finite()) {
        return GateVerdict {
            accept: false,
            log_loss_change: change,
            ece_change,
            kcs_no_worse: None,
            reason: "a score is not a number".into(),
        };
    }
    match kind {
        ReleaseKind::Refresh => {
            let ll_ok = change <= REFRESH_LOG_LOSS_TOLERANCE;
            let ece_ok = ece_change <= REFRESH_ECE_TOLERANCE;
            let reason = match (ll_ok, ece_ok) {
                (true, true) => "not worse than the set in use beyond the tolerances".to_owned(),
                (false, _) => format!(
                    "log-loss {:+.2} % is worse than the 0.5 % tolerance",
                    change * 100.0
                ),
                (true, false) => {
                    format!("ECE {ece_change:+.4} is worse than the 0.005 tolerance")
                }
            };
            GateVerdict {
                accept: ll_ok && ece_ok,
                log_loss_change: change,
                ece_change,
                kcs_no_worse: None,
                reason,
            }
        }
        ReleaseKind::ModelChange => {
            let share = (!per_kc.is_empty()).then(|| {
                per_kc.iter().filter(|(c, n)| n.ece <= c.ece).count() as f64 / per_kc.len() as f64
            });
            let gain_ok = -change >= MODEL_CHANGE_GAIN;
            let kc_ok = share.is_none_or(|s| s >= MODEL_CHANGE_KC_SHARE);
            let reason = match (gain_ok, kc_ok) {
                (true, true) => "at least 2 % better and calibrated on enough KCs".to_owned(),
                (false, _) => format!(
                    "log-loss gain {:.2} % is below the 2 % a model change needs",
                    -change * 100.0
                ),
                (true, false) => format!(
                    "ECE no worse on {:.0} % of KCs, below 70 %",
                    share.unwrap_or(0.0) * 100.0
                ),
            };
            GateVerdict {
                accept: gain_ok && kc_ok,
                log_loss_change: change,
                ece_change,
                kcs_no_worse: share,
                reason,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::metrics::{Binning, auc, brier, ece, log_loss};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn item(kcs: &[u32]) -> EvalItem {
        EvalItem {
            kcs: kcs.to_vec(),
            group: 0,
            guess: 0.0,
        }
    }

    /// Simulated log: learners with θ ~ N(0, 1) answering 2PL items in random order.
    fn simulated(learners: u32, items: u32, per: u32, seed: u64) -> Dataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let b: Vec<f64> = (0..items)
            .map(|j| -2.0 + 4.0 * f64::from(j) / f64::from(items))
            .collect();
        let mut att = Vec::new();
        for _ in 0..per {
            for l in 0..learners {
                let theta = -1.5 + 3.0 * f64::from(l) / f64::from(learners);
                let j = rng.random_range(0..items);
                let p = logistic(1.3 * (theta - b[j as usize]));
                att.push(EvalAttempt {
                    learner: l,
                    item: j,
                    correct: rng.random::<f64>() < p,
                });
            }
        }
        let n = att.len();
        Dataset::new(
            (0..items).map(|j| item(&[j % 3])).collect(),
            att,
            learners as usize,
            3,
            split_point(n, 0.3),
        )
        .unwrap()
    }

    #[test]
    fn summary_point_estimates_equal_the_metrics_functions() {
        let p = [0.9, 0.7, 0.6, 0.2, 0.1, 0.6, 0.35];
        let y = [true, false, true, false, true, false, true];
        let s = summarize(&p, &y, 10, 50, 0.9, &mut StdRng::seed_from_u64(3)).unwrap();
        assert!((s.log_loss.estimate - log_loss(&p, &y).unwrap()).abs() < 1e-12);
        assert!((s.brier.estimate - brier(&p, &y).unwrap()).abs() < 1e-12);
        assert!((s.ece.estimate - ece(&p, &y, 10, Binning::EqualWidth).unwrap()).abs() < 1e-12);
        assert!((s.auc.unwrap().estimate - auc(&p, &y).unwrap().unwrap()).abs() < 1e-12);
        assert_eq!((s.n, s.correct), (7, 4));
        assert!(s.log_loss.lower <= s.log_loss.estimate && s.log_loss.estimate <= s.log_loss.upper);
        // Seeded: the same intervals twice.
        let t = summarize(&p, &y, 10, 50, 0.9, &mut StdRng::seed_from_u64(3)).unwrap();
        assert_eq!(s, t);
        assert!(summarize(&p, &y, 0, 0, 0.9, &mut StdRng::seed_from_u64(3)).is_err());
        assert!(summarize(&p, &y, 10, 0, 1.0, &mut StdRng::seed_from_u64(3)).is_err());
    }

    /// The bootstrap replicates of [`summarize`], recomputed the plain way: for each replicate
    /// the same draws (input indices), then every metric from the metrics module on the
    /// resampled predictions. The fast pass must give the same intervals.
    #[test]
    fn bootstrap_intervals_equal_plain_resampling() {
        let mut rng = StdRng::seed_from_u64(11);
        let n: usize = 300;
        // Coarse predictions, so that many tie (the AUC's mid-ranks are exercised).
        let p: Vec<f64> = (0..n)
            .map(|_| f64::from(rng.random_range(1..20u32)) / 20.0)
            .collect();
        let y: Vec<bool> = p.iter().map(|p| rng.random::<f64>() < *p).collect();
        let (boot, level) = (40, 0.9);
        let s = summarize(&p, &y, 10, boot, level, &mut StdRng::seed_from_u64(5)).unwrap();
        let mut draws = StdRng::seed_from_u64(5);
        let mut reps: [Vec<f64>; 4] = Default::default();
        for _ in 0..boot {
            let idx: Vec<usize> = (0..n).map(|_| draws.random_range(0..n)).collect();
            let rp: Vec<f64> = idx.iter().map(|i| p[*i]).collect();
            let ry: Vec<bool> = idx.iter().map(|i| y[*i]).collect();
            reps[0].push(log_loss(&rp, &ry).unwrap());
            reps[1].push(brier(&rp, &ry).unwrap());
            reps[2].push(ece(&rp, &ry, 10, Binning::EqualWidth).unwrap());
            reps[3].push(auc(&rp, &ry).unwrap().unwrap());
        }
        let ci = |k: usize| {
            let mut v = reps[k].clone();
            v.sort_by(f64::total_cmp);
            let q = |f: f64| v[(f * (v.len() - 1) as f64).round() as usize];
            (q((1.0 - level) / 2.0), q((1.0 + level) / 2.0))
        };
        let got = [s.log_loss, s.brier, s.ece, s.auc.unwrap()];
        for (k, c) in got.iter().enumerate() {
            let (lo, hi) = ci(k);
            assert!(
                (c.lower - lo).abs() < 1e-12 && (c.upper - hi).abs() < 1e-12,
                "metric {k}: [{}, {}] against [{lo}, {hi}]",
                c.lower,
                c.upper
            );
        }
    }

    #[test]
    fn golden_small_case() {
        // Hand-computed: log-loss of (0.8 ✓, 0.4 ✗) = −(ln 0.8 + ln 0.6)/2, Brier 0.1, AUC 1.
        let s = summarize(
            &[0.8, 0.4],
            &[true, false],
            10,
            0,
            0.95,
            &mut StdRng::seed_from_u64(0),
        )
        .unwrap();
        assert!((s.log_loss.estimate - 0.366_984_587_540_100_2).abs() < 1e-12);
        assert!((s.brier.estimate - 0.1).abs() < 1e-12);
        assert!((s.ece.estimate - 0.3).abs() < 1e-12);
        assert_eq!(s.auc.unwrap().estimate, 1.0);
        assert_eq!(s.log_loss.lower, s.log_loss.upper);
    }

    #[test]
    fn baselines_follow_their_formulas() {
        let items = [item(&[0]), item(&[0])];
        let a = |l, i, c| EvalAttempt {
            learner: l,
            item: i,
            correct: c,
        };
        let mut m = ItemMean::new(2);
        assert!((m.predict(&a(0, 0, true), &items[0]) - 0.5).abs() < 1e-12);
        m.observe(&a(0, 0, true), &items[0]);
        // Item 0: (1 + 2·2/3)/(1 + 2) = 7/9; item 1: ḡ = 2/3.
        assert!((m.predict(&a(1, 0, true), &items[0]) - 7.0 / 9.0).abs() < 1e-12);
        assert!((m.predict(&a(1, 1, true), &items[1]) - 2.0 / 3.0).abs() < 1e-12);
        let mut e = Elo::new(2, 2);
        e.observe(&a(0, 0, true), &items[0]);
        // K(0) = 1, residual 0.5: θ₀ = 0.5, d₀ = −0.5, p = σ(1).
        assert!((e.predict(&a(0, 0, true), &items[0]) - logistic(1.0)).abs() < 1e-12);
        let mut l = LearnerMean::new(2);
        l.observe(&a(0, 1, false), &items[1]);
        assert!((l.predict(&a(0, 0, true), &items[0]) - (2.0 / 3.0) / 3.0).abs() < 1e-12);
        let bkt = BktOnline::new(vec![BktParams::default()]);
        let d = BktParams::default();
        assert!((bkt.predict(&a(0, 0, true), &items[0]) - d.p_correct(d.p_init())).abs() < 1e-12);
    }

    #[test]
    fn replay_predicts_only_held_out_attempts_from_the_past() {
        let data = simulated(200, 30, 20, 7);
        let mut models: Vec<Box<dyn OnlineModel>> = vec![Box::new(ItemMean::new(30))];
        let preds = replay(&data, &mut models);
        assert_eq!(preds[0].len(), data.held_out().len());
        // The first held-out prediction uses exactly the training answers of its item.
        let first = data.held_out()[0];
        let (s, n) = data
            .training()
            .iter()
            .filter(|a| a.item == first.item)
            .fold((0.0, 0.0), |(s, n), a| {
                (s + f64::from(u8::from(a.correct)), n + 1.0)
            });
        let all = data.training();
        let g = global_rate(
            all.iter().filter(|a| a.correct).count() as f64,
            all.len() as f64,
        );
        assert!((preds[0][0] - shrunk(s, n, g)).abs() < 1e-12);
    }

    #[test]
    fn irt_beats_item_mean_on_irt_data_and_everything_beats_a_coin() {
        let data = simulated(400, 40, 40, 11);
        let p1 = fit_irt(&data, IrtPolicy::Fixed(ModelKind::OnePl)).unwrap();
        let p2 = fit_irt(&data, IrtPolicy::Fixed(ModelKind::TwoPl)).unwrap();
        let grid = Quadrature::default();
        let mut models: Vec<Box<dyn OnlineModel>> = vec![
            Box::new(ItemMean::new(40)),
            Box::new(LearnerMean::new(400)),
            Box::new(Elo::new(400, 40)),
            Box::new(IrtOnline::new("irt_1pl", p1, &grid)),
            Box::new(IrtOnline::new("irt_2pl", p2, &grid)),
            Box::new(BktOnline::new(fit_bkt(&data, 20))),
        ];
        let preds = replay(&data, &mut models);
        let y: Vec<bool> = data.held_out().iter().map(|a| a.correct).collect();
        let ll: Vec<f64> = preds.iter().map(|p| log_loss(p, &y).unwrap()).collect();
        for v in &ll {
            assert!(*v < std::f64::consts::LN_2, "{ll:?}");
        }
        assert!(ll[4] < ll[0] * 0.9, "2PL {} vs item mean {}", ll[4], ll[0]);
        assert!(ll[3] < ll[0], "{ll:?}");
        assert!(ll[2] < ll[0], "{ll:?}");
    }

    #[test]
    fn by_guess_policy_fits_c_only_where_there_is_a_guessing_floor() {
        let mut data = simulated(300, 20, 20, 5);
        for (j, it) in data.items.iter_mut().enumerate() {
            it.guess = if j % 2 == 0 { 0.25 } else { 0.0 };
        }
        let p = fit_irt(&data, IrtPolicy::ByGuess).unwrap();
        for (j, ip) in p.iter().enumerate() {
            if j % 2 == 0 {
                assert!(ip.c() > 0.0);
            } else {
                assert_eq!(ip.c(), 0.0);
            }
        }
    }

    /// `myqcm evaluate` reuses the policy's fit as its every-item 3PL when every item has a
    /// guessing floor: the two fits are then the same.
    #[test]
    fn every_item_3pl_is_the_policy_when_every_item_has_a_guess() {
        let mut data = simulated(300, 20, 20, 6);
        for (j, it) in data.items.iter_mut().enumerate() {
            it.guess = if j % 2 == 0 { 0.25 } else { 0.2 };
        }
        let three = fit_irt(&data, IrtPolicy::Fixed(ModelKind::ThreePl)).unwrap();
        assert_eq!(three, fit_irt(&data, IrtPolicy::ByGuess).unwrap());
        assert!(three.iter().all(|ip| ip.c() > 0.0));
        // With a QCM among them the families differ, and so do the fits.
        data.items[1].guess = 0.0;
        assert_ne!(
            fit_irt(&data, IrtPolicy::Fixed(ModelKind::ThreePl)).unwrap(),
            fit_irt(&data, IrtPolicy::ByGuess).unwrap()
        );
    }

    #[test]
    fn heuristic_rules_golden_values() {
        // Hand-computed from domain spec §5.4: medium QCS (a 1, b 0, c 0.35), θ 0.
        let it = item(&[0]);
        let at = |l, i, c| EvalAttempt {
            learner: l,
            item: i,
            correct: c,
        };
        let mut m = HeuristicRules::new(vec![
            (HeuristicDifficulty::Medium, false),
            (HeuristicDifficulty::Hard, true),
            (HeuristicDifficulty::from_label("EASY"), false),
        ]);
        assert!((m.predict(&at(0, 0, true), &it) - 0.675).abs() < 1e-12);
        // Hard QCM: 0.35 + 0.65 σ(0.8 · (0 − 1)).
        let hard = 0.35 + 0.65 * logistic(-0.8);
        assert!((m.predict(&at(0, 1, true), &it) - hard).abs() < 1e-12);
        assert!((m.predict(&at(0, 2, true), &it) - (0.35 + 0.65 * logistic(1.0))).abs() < 1e-12);
        // Correct on the medium item: dP = 0.65 · 0.25 = 0.1625, P = 0.675,
        // θ' = 0.75 · 0.325 · 0.1625 / (0.675 · 0.325) = 0.180 555…
        m.observe(&at(0, 0, true), &it);
        let theta: f64 = 0.75 * 0.325 * 0.1625 / (0.675 * 0.325);
        assert!((theta - 0.180_555_555_555_555_5).abs() < 1e-12);
        let p = 0.35 + 0.65 * logistic(theta);
        assert!((m.predict(&at(0, 0, true), &it) - p).abs() < 1e-12);
        // Another learner and another group are untouched.
        assert!((m.predict(&at(1, 0, true), &it) - 0.675).abs() < 1e-12);
        let other = EvalItem {
            group: 1,
            ..item(&[0])
        };
        assert!((m.predict(&at(0, 0, true), &other) - 0.675).abs() < 1e-12);
        // A wrong answer then: the prior pulls too. θ'' = θ' + 0.75 (g_ll − θ'/4).
        let (pp, s) = (p, logistic(theta));
        let g = (0.0 - pp) * 0.65 * s * (1.0 - s) / (pp * (1.0 - pp)) - theta / 4.0;
        m.observe(&at(0, 0, false), &it);
        let t2 = theta + 0.75 * g;
        assert!((m.predict(&at(0, 0, true), &it) - (0.35 + 0.65 * logistic(t2))).abs() < 1e-12);
        assert_eq!(m.name(), "heuristic");
    }

    #[test]
    fn dataset_rejects_bad_indices_and_an_empty_holdout() {
        let a = vec![EvalAttempt {
            learner: 0,
            item: 0,
            correct: true,
        }];
        assert!(Dataset::new(vec![item(&[0])], a.clone(), 1, 1, 1).is_err());
        assert!(Dataset::new(vec![item(&[1])], a.clone(), 1, 1, 0).is_err());
        assert!(Dataset::new(vec![item(&[0])], a.clone(), 0, 1, 0).is_err());
        assert!(Dataset::new(vec![item(&[0])], a, 1, 1, 0).is_ok());
    }

    proptest! {
        #[test]
        fn weighted_point_estimates_match_on_random_data(v in prop::collection::vec((0.0..1.0f64, prop::bool::ANY), 2..60)) {
            let p: Vec<f64> = v.iter().map(|x| (x.0 * 20.0).round() / 20.0).collect();
            let y: Vec<bool> = v.iter().map(|x| x.1).collect();
            let s = summarize(&p, &y, 10, 0, 0.95, &mut StdRng::seed_from_u64(0)).unwrap();
            prop_assert!((s.log_loss.estimate - log_loss(&p, &y).unwrap()).abs() < 1e-9);
            prop_assert!((s.ece.estimate - ece(&p, &y, 10, Binning::EqualWidth).unwrap()).abs() < 1e-9);
            prop_assert_eq!(s.auc.map(|c| (c.estimate * 1e9).round()), auc(&p, &y).unwrap().map(|a| (a * 1e9).round()));
        }

        #[test]
        fn split_holds_out_at_least_one(n in 1usize..500, h in 0.0..1.0f64) {
            let k = split_point(n, h);
            prop_assert!(k < n);
        }
    }

    #[test]
    fn release_gate_applies_the_decisions_tolerances() {
        let s = |log_loss, ece| Scores { log_loss, ece };
        let cur = s(0.5, 0.01);
        // Refresh: at the edge of both tolerances is accepted, past either is refused.
        assert!(release_gate(ReleaseKind::Refresh, cur, s(0.5025, 0.015), &[]).accept);
        let v = release_gate(ReleaseKind::Refresh, cur, s(0.503, 0.01), &[]);
        assert!(!v.accept && v.reason.contains("log-loss"), "{v:?}");
        let v = release_gate(ReleaseKind::Refresh, cur, s(0.49, 0.016), &[]);
        assert!(!v.accept && v.reason.contains("ECE"), "{v:?}");
        assert!(!release_gate(ReleaseKind::Refresh, cur, s(f64::NAN, 0.0), &[]).accept);
        // Model change: 2 % gain needed, and ECE no worse on 70 % of KCs.
        let kcs = |worse: usize| -> Vec<(Scores, Scores)> {
            (0..10)
                .map(|k| (s(0.5, 0.02), s(0.5, if k < worse { 0.03 } else { 0.02 })))
                .collect()
        };
        assert!(release_gate(ReleaseKind::ModelChange, cur, s(0.49, 0.01), &kcs(3)).accept);
        let v = release_gate(ReleaseKind::ModelChange, cur, s(0.49, 0.01), &kcs(4));
        assert!(!v.accept && v.kcs_no_worse == Some(0.6), "{v:?}");
        assert!(!release_gate(ReleaseKind::ModelChange, cur, s(0.495, 0.0), &kcs(0)).accept);
    }
}
