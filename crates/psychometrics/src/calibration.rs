//! Item calibration by marginal maximum likelihood with the EM algorithm over a fixed
//! quadrature grid (Bock & Aitkin, 1981), for the 1PL (Rasch, `a = 1`), 2PL and 3PL, with
//! optional priors (then the estimate is the marginal MAP; Mislevy, 1986).
//!
//! With learners l, items j, scores `u_lj ∈ [0, 1]` (sparse), nodes `X_q` with prior weights
//! `A_q` (θ ~ N(0, 1) fixes the scale):
//!
//! ```text
//! E-step:  L_l(X_q) = Π_{j ∈ l} P_j(X_q)^u (1 − P_j(X_q))^(1−u)
//!          π_lq = L_l(X_q) A_q / Σ_r L_l(X_r) A_r                 (posterior of learner l)
//!          n̄_jq = Σ_{l answered j} π_lq,   r̄_jq = Σ_{l answered j} u_lj π_lq
//!          ln L = Σ_l ln Σ_q L_l(X_q) A_q                          (marginal log-likelihood)
//! M-step:  for each item, maximise Σ_q [r̄_jq ln P_j(X_q) + (n̄_jq − r̄_jq) ln(1 − P_j(X_q))]
//!          + ln prior(a_j, b_j, c_j) by Fisher scoring with step halving.
//! ```
//!
//! Priors: `ln a ~ N(μ_a, σ_a²)` (log-normal a), `b ~ N(μ_b, σ_b²)`, and
//! `c ~ Beta(κ m_j + 1, κ (1 − m_j) + 1)` whose mode is the item's own prior mean `m_j` (for a
//! QCS with k options, `m_j = 1/k`) and κ acts as a prior sample size. Items with few responses
//! are thereby shrunk toward their priors.
//!
//! Stopping: the largest absolute parameter change below `param_tol`, or the relative change
//! of the log-likelihood (log-posterior with priors) below `ll_tol`, or the iteration cap; the
//! reason is returned as a [`StopReason`]. Optional acceleration: SQUAREM (Varadhan &
//! Roland, 2008) on the item-parameter vector, guarded so the objective never falls.
//!
//! Layout and speed: responses are stored learner-major (CSR). Per-node `ln P` and
//! `ln(1 − P)` tables (f32) make the E-step additions only; each learner's posterior row is
//! added to its block's expected-count table while still in cache, then dropped. Blocks of
//! learners are fixed by the data size alone and reduced in index order (in f64), the M-step
//! runs per item; so results are bit-identical for any number of threads (rayon or one core).
//!
//! References: Bock, R. D. & Aitkin, M. (1981) Marginal maximum likelihood estimation of item
//! parameters: application of an EM algorithm, *Psychometrika* 46(4); Baker & Kim (2004)
//! ch. 6–7; Mislevy, R. J. (1986) Bayes modal estimation in item response models,
//! *Psychometrika* 51(2); Varadhan, R. & Roland, C. (2008) Simple and globally convergent
//! methods for accelerating the convergence of any EM algorithm, *Scand. J. Stat.* 35(2).

use rayon::prelude::*;

use crate::ability::AbilityEstimate;
use crate::error::{PsyError, check_score};
use crate::irt::{ItemParams, ModelKind, P_FLOOR, ln_logistic, logistic};
use crate::quadrature::Quadrature;
use crate::stop::StopReason;

/// Sparse responses, stored learner-major (CSR), with per-item counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseMatrix {
    n_learners: usize,
    n_items: usize,
    /// CSR by learner: responses of learner l are `l_offsets[l]..l_offsets[l + 1]`.
    l_offsets: Vec<usize>,
    l_items: Vec<u32>,
    l_scores: Vec<f64>,
    /// Number of responses and sum of scores of each item.
    item_n: Vec<usize>,
    item_sum: Vec<f64>,
    binary: bool,
}

impl ResponseMatrix {
    /// Builds the matrix from `(learner, item, score)` triples (any order; a learner's
    /// responses keep their input order). Counting sort, O(N + L + J).
    ///
    /// ```
    /// # use myqcm_psychometrics::calibration::ResponseMatrix;
    /// let m = ResponseMatrix::new(2, 2, &[(0, 0, 1.0), (1, 1, 0.0), (1, 0, 0.5)]).unwrap();
    /// assert_eq!((m.n_responses(), m.item_count(0)), (3, 2));
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidData`] for an index out of range or an item without responses;
    /// [`PsyError::InvalidScore`] for a score outside [0, 1].
    pub fn new(
        n_learners: usize,
        n_items: usize,
        triples: &[(u32, u32, f64)],
    ) -> Result<Self, PsyError> {
        let mut l_count = vec![0usize; n_learners + 1];
        let mut item_n = vec![0usize; n_items];
        let mut item_sum = vec![0.0; n_items];
        let mut binary = true;
        for (l, j, u) in triples {
            let (l, j) = (*l as usize, *j as usize);
            if l >= n_learners || j >= n_items {
                return Err(PsyError::InvalidData(format!(
                    "response ({l}, {j}) outside {n_learners} learners × {n_items} items"
                )));
            }
            check_score(*u)?;
            binary &= *u == 0.0 || *u == 1.0;
            l_count[l + 1] += 1;
            item_n[j] += 1;
            item_sum[j] += u;
        }
        if let Some(j) = (0..n_items).find(|j| item_n[*j] == 0) {
            return Err(PsyError::InvalidData(format!("item {j} has no response")));
        }
        for k in 1..l_count.len() {
            l_count[k] += l_count[k - 1];
        }
        let n = triples.len();
        let mut l_items = vec![0u32; n];
        let mut l_scores = vec![0.0; n];
        let mut fill = l_count.clone();
        for (l, j, u) in triples {
            let p = &mut fill[*l as usize];
            l_items[*p] = *j;
            l_scores[*p] = *u;
            *p += 1;
        }
        Ok(Self {
            n_learners,
            n_items,
            l_offsets: l_count,
            l_items,
            l_scores,
            item_n,
            item_sum,
            binary,
        })
    }

    /// Number of learners.
    #[must_use]
    pub fn n_learners(&self) -> usize {
        self.n_learners
    }
    /// Number of items.
    #[must_use]
    pub fn n_items(&self) -> usize {
        self.n_items
    }
    /// Number of responses.
    #[must_use]
    pub fn n_responses(&self) -> usize {
        self.l_items.len()
    }
    /// Number of responses to item `j`.
    #[must_use]
    pub fn item_count(&self, j: usize) -> usize {
        self.item_n[j]
    }
    /// True when every score is 0 or 1.
    #[must_use]
    pub fn is_binary(&self) -> bool {
        self.binary
    }
    /// Items and scores of learner `l`.
    #[must_use]
    pub fn learner(&self, l: usize) -> (&[u32], &[f64]) {
        let r = self.l_offsets[l]..self.l_offsets[l + 1];
        (&self.l_items[r.clone()], &self.l_scores[r])
    }
    /// Mean score of item `j`.
    fn item_mean(&self, j: usize) -> f64 {
        self.item_sum[j] / self.item_n[j] as f64
    }
}

/// A normal prior `N(mean, sd²)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NormalPrior {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (> 0).
    pub sd: f64,
}

/// Priors on the item parameters; `None` means flat (maximum likelihood).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Priors {
    /// Normal prior on `ln a` (log-normal on a).
    pub log_a: Option<NormalPrior>,
    /// Normal prior on b.
    pub b: Option<NormalPrior>,
    /// Beta prior on c: prior sample size κ; the mode is the item's prior mean.
    pub c_strength: Option<f64>,
    /// Per-item prior mean (mode) of c, e.g. `1/k` for a QCS with k options. When empty,
    /// `c_default_mean` is used for every item. Also the starting value of c.
    pub c_mean: Vec<f64>,
    /// Prior mean of c for items not in `c_mean`.
    pub c_default_mean: f64,
}

impl Priors {
    /// The usual 3PL priors: `ln a ~ N(0, 0.5²)`, flat b, `c ~ Beta` with mode `c_mean` and
    /// strength κ = 20 (BILOG's default for four options is Beta(5, 17), i.e. mode 0.2, κ = 20).
    ///
    /// ```
    /// # use myqcm_psychometrics::calibration::Priors;
    /// let p = Priors::three_pl(vec![0.25, 0.2]);
    /// assert_eq!(p.c_strength, Some(20.0));
    /// ```
    #[must_use]
    pub fn three_pl(c_mean: Vec<f64>) -> Self {
        Self {
            log_a: Some(NormalPrior { mean: 0.0, sd: 0.5 }),
            b: None,
            c_strength: Some(20.0),
            c_mean,
            c_default_mean: 0.2,
        }
    }

    fn c_mode(&self, j: usize) -> f64 {
        self.c_mean.get(j).copied().unwrap_or(self.c_default_mean)
    }
}

/// Settings of [`calibrate`].
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationConfig {
    /// Model family.
    pub model: ModelKind,
    /// θ grid and prior weights.
    pub quadrature: Quadrature,
    /// Iteration cap.
    pub max_iter: usize,
    /// Stop when the largest absolute item-parameter change is below this.
    pub param_tol: f64,
    /// Stop when `|Δ ln L| / (1 + |ln L|)` is below this.
    pub ll_tol: f64,
    /// Priors (flat by default).
    pub priors: Priors,
    /// SQUAREM acceleration.
    pub accelerate: bool,
}

impl CalibrationConfig {
    /// Defaults for a model: 41 nodes on [−6, 6] with N(0, 1) weights, 500 iterations,
    /// `param_tol = 1e−4`, `ll_tol = 1e−9`, flat priors for 1PL/2PL and
    /// [`Priors::three_pl`] for 3PL, acceleration on.
    ///
    /// ```
    /// # use myqcm_psychometrics::{calibration::CalibrationConfig, irt::ModelKind};
    /// let c = CalibrationConfig::new(ModelKind::ThreePl);
    /// assert!(c.priors.c_strength.is_some());
    /// ```
    #[must_use]
    pub fn new(model: ModelKind) -> Self {
        Self {
            model,
            quadrature: Quadrature::default(),
            max_iter: 500,
            param_tol: 1e-4,
            ll_tol: 1e-9,
            priors: if model == ModelKind::ThreePl {
                Priors::three_pl(Vec::new())
            } else {
                Priors::default()
            },
            accelerate: true,
        }
    }
}

/// One calibrated item.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ItemEstimate {
    /// Estimated parameters.
    pub params: ItemParams,
    /// Standard errors of (a, b, c); `None` for a fixed parameter. They come from the
    /// complete-data information of the last M-step (Bock & Aitkin, 1981), which ignores the
    /// missing information about θ and so understates the uncertainty.
    pub se: [Option<f64>; 3],
    /// Number of responses to the item.
    pub n_responses: usize,
}

/// The result of a calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Items in input order.
    pub items: Vec<ItemEstimate>,
    /// Marginal log-likelihood at the returned parameters.
    pub log_lik: f64,
    /// Log-prior of the returned parameters (0 without priors).
    pub log_prior: f64,
    /// EM iterations (M-steps) run.
    pub iterations: usize,
    /// Why it stopped.
    pub stop: StopReason,
    /// EAP θ and posterior SD of each learner at the returned parameters.
    pub abilities: Vec<AbilityEstimate>,
}

/// Item parameters as a flat vector `[a_0, b_0, c_0, a_1, …]`.
type Params = Vec<f64>;

fn lo_hi(model: ModelKind) -> ([f64; 3], [f64; 3]) {
    let a = if model == ModelKind::OnePl {
        (1.0, 1.0)
    } else {
        (0.02, 20.0)
    };
    let c_hi = if model == ModelKind::ThreePl {
        0.9
    } else {
        0.0
    };
    ([a.0, -20.0, 0.0], [a.1, 20.0, c_hi])
}

fn free(model: ModelKind) -> &'static [usize] {
    match model {
        ModelKind::OnePl => &[1],
        ModelKind::TwoPl => &[0, 1],
        ModelKind::ThreePl => &[0, 1, 2],
    }
}

/// Per-node log-probability tables: `tab[(j·2 + u)·Q + q] = ln P_j(X_q)` for u = 1 and
/// `ln(1 − P_j(X_q))` for u = 0. Stored in `f32`: the E-step's inner loops are then twice as
/// wide per SIMD lane and read half the memory; every sum over learners is carried in `f64`.
fn log_tables(params: &[f64], nodes: &[f64]) -> Vec<f32> {
    let q_n = nodes.len();
    let n_items = params.len() / 3;
    let mut tab = vec![0.0f32; n_items * 2 * q_n];
    tab.par_chunks_mut(2 * q_n)
        .enumerate()
        .for_each(|(j, rows)| {
            let (a, b, c) = (params[3 * j], params[3 * j + 1], params[3 * j + 2]);
            let (lq, lp) = rows.split_at_mut(q_n);
            for ((x, lp), lq) in nodes.iter().zip(lp).zip(lq) {
                let z = a * (x - b);
                let (p, q) = if c == 0.0 {
                    (ln_logistic(z), ln_logistic(-z))
                } else {
                    (
                        (c + (1.0 - c) * logistic(z)).max(P_FLOOR).ln(),
                        (1.0 - c).ln() + ln_logistic(-z),
                    )
                };
                *lp = p as f32;
                *lq = q as f32;
            }
        });
    tab
}

/// Result of one E-step: expected counts `counts[(j·2 + y)·Q + q]` (y = 1: Σ u π, y = 0:
/// Σ (1 − u) π, so `r̄ = counts[1]` and `n̄ = counts[0] + counts[1]`), the marginal
/// log-likelihood and, on request, every learner's EAP and posterior SD.
struct EStep {
    counts: Vec<f64>,
    log_lik: f64,
    abilities: Vec<AbilityEstimate>,
}

/// Learners per E-step block. Blocks depend only on the data size (never on the number of
/// threads) and are reduced in index order, which makes the sums bit-reproducible.
/// At most 16 blocks keep the blocks' count tables (items × 2 × Q each) small enough to stay
/// in cache while they are reduced.
fn block_size(n_learners: usize) -> usize {
    n_learners.div_ceil(16).max(1024)
}

/// E-step (see the module documentation), fused: each block of learners computes each
/// posterior row, adds it to the block's own expected-count table, and forgets it.
fn e_step(data: &ResponseMatrix, tab: &[f32], quad: &Quadrature, abilities: bool) -> EStep {
    let q_n = quad.len();
    let width = data.n_items * 2 * q_n;
    // Prior weights below e^-80 are dropped in f32; they carry no mass anyway.
    let log_prior: Vec<f32> = quad
        .weights()
        .iter()
        .map(|w| w.max(1e-300).ln().max(-80.0) as f32)
        .collect();
    let nodes = quad.nodes();
    let bs = block_size(data.n_learners);
    let n_blocks = data.n_learners.div_ceil(bs);
    let blocks: Vec<(Vec<f32>, f64, Vec<AbilityEstimate>)> = (0..n_blocks)
        .into_par_iter()
        .map(|bi| {
            let mut acc = vec![0.0f32; width];
            let mut row = vec![0.0f32; q_n];
            let mut ll = 0.0;
            let mut abil = Vec::new();
            for l in bi * bs..((bi + 1) * bs).min(data.n_learners) {
                row.copy_from_slice(&log_prior);
                let (items, scores) = data.learner(l);
                for (j, u) in items.iter().zip(scores) {
                    let base = *j as usize * 2 * q_n;
                    if *u == 1.0 || *u == 0.0 {
                        let off = base + if *u == 1.0 { q_n } else { 0 };
                        for (r, t) in row.iter_mut().zip(&tab[off..off + q_n]) {
                            *r += t;
                        }
                    } else {
                        let (lq, lp) = tab[base..base + 2 * q_n].split_at(q_n);
                        let u = *u as f32;
                        for ((r, p), q) in row.iter_mut().zip(lp).zip(lq) {
                            *r += u * p + (1.0 - u) * q;
                        }
                    }
                }
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut total = 0.0f64;
                for r in row.iter_mut() {
                    *r = (*r - max).exp();
                    total += f64::from(*r);
                }
                let inv = (1.0 / total) as f32;
                for r in row.iter_mut() {
                    *r *= inv;
                }
                ll += f64::from(max) + total.ln();
                // Accumulate only over the nodes that hold posterior mass (weights below 1e-9
                // change an expected count by less than its f32 rounding): with tens of
                // answers the posterior covers a third of the grid.
                let lo = row.iter().position(|w| *w > 1e-9).unwrap_or(0);
                let hi = row.iter().rposition(|w| *w > 1e-9).map_or(q_n, |h| h + 1);
                let span = &row[lo..hi];
                for (j, u) in items.iter().zip(scores) {
                    let base = *j as usize * 2 * q_n + lo;
                    let w = hi - lo;
                    if *u == 1.0 || *u == 0.0 {
                        let off = base + if *u == 1.0 { q_n } else { 0 };
                        for (a, r) in acc[off..off + w].iter_mut().zip(span) {
                            *a += r;
                        }
                    } else {
                        let (a0, a1) = acc[base..base + q_n + w].split_at_mut(q_n);
                        let u = *u as f32;
                        for ((x0, x1), r) in a0[..w].iter_mut().zip(a1.iter_mut()).zip(span) {
                            *x1 += u * r;
                            *x0 += (1.0 - u) * r;
                        }
                    }
                }
                if abilities {
                    let mean: f64 = nodes.iter().zip(&row).map(|(x, w)| x * f64::from(*w)).sum();
                    let var: f64 = nodes
                        .iter()
                        .zip(&row)
                        .map(|(x, w)| (x - mean) * (x - mean) * f64::from(*w))
                        .sum();
                    abil.push(AbilityEstimate {
                        theta: mean,
                        se: var.max(0.0).sqrt(),
                    });
                }
            }
            (acc, ll, abil)
        })
        .collect();
    // Reduce the blocks in index order, in parallel over disjoint slices of the table.
    let mut counts = vec![0.0; width];
    counts
        .par_chunks_mut(2 * q_n)
        .enumerate()
        .for_each(|(j, out)| {
            for (acc, _, _) in &blocks {
                for (o, a) in out.iter_mut().zip(&acc[j * 2 * q_n..(j + 1) * 2 * q_n]) {
                    *o += f64::from(*a);
                }
            }
        });
    let log_lik = blocks.iter().map(|b| b.1).sum();
    let abilities = blocks.into_iter().flat_map(|b| b.2).collect();
    EStep {
        counts,
        log_lik,
        abilities,
    }
}

/// Expected counts of item j from the E-step table: `n̄_q` and `r̄_q`.
fn item_counts(counts: &[f64], q_n: usize, j: usize, n: &mut [f64], r: &mut [f64]) {
    let (c0, c1) = counts[j * 2 * q_n..(j + 1) * 2 * q_n].split_at(q_n);
    for (((n, r), x0), x1) in n.iter_mut().zip(r.iter_mut()).zip(c0).zip(c1) {
        *n = x0 + x1;
        *r = *x1;
    }
}

/// The M-step objective of one item and its gradient and (positive-definite) scoring matrix.
struct ItemProblem<'a> {
    nodes: &'a [f64],
    n: &'a [f64],
    r: &'a [f64],
    priors: &'a Priors,
    c_mode: f64,
}

impl ItemProblem<'_> {
    fn objective(&self, p: [f64; 3]) -> f64 {
        let [a, b, c] = p;
        let mut f = 0.0;
        for ((x, n), r) in self.nodes.iter().zip(self.n).zip(self.r) {
            let z = a * (x - b);
            let (lp, lq) = if c == 0.0 {
                (ln_logistic(z), ln_logistic(-z))
            } else {
                (
                    (c + (1.0 - c) * logistic(z)).max(P_FLOOR).ln(),
                    (1.0 - c).ln() + ln_logistic(-z),
                )
            };
            f += r * lp + (n - r) * lq;
        }
        f + self.log_prior(p)
    }

    fn log_prior(&self, [a, b, c]: [f64; 3]) -> f64 {
        let mut f = 0.0;
        if let Some(pa) = self.priors.log_a {
            let z = (a.ln() - pa.mean) / pa.sd;
            f += -0.5 * z * z - a.ln();
        }
        if let Some(pb) = self.priors.b {
            let z = (b - pb.mean) / pb.sd;
            f += -0.5 * z * z;
        }
        if let Some(k) = self.priors.c_strength {
            let (al, be) = (k * self.c_mode, k * (1.0 - self.c_mode));
            f += al * c.max(1e-12).ln() + be * (1.0 - c).ln();
        }
        f
    }

    /// Gradient of the objective and the expected (Fisher) information plus the prior's
    /// curvature, Σ_q n̄_q ∇P ∇Pᵀ / (P(1 − P)) (Baker & Kim, 2004, §6.2).
    fn grad_info(&self, [a, b, c]: [f64; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
        let mut g = [0.0; 3];
        let mut h = [[0.0; 3]; 3];
        for ((x, n), r) in self.nodes.iter().zip(self.n).zip(self.r) {
            let s = logistic(a * (x - b));
            let p = (c + (1.0 - c) * s).clamp(P_FLOOR, 1.0 - P_FLOOR);
            let ds = (1.0 - c) * s * (1.0 - s);
            let dp = [ds * (x - b), -ds * a, 1.0 - s];
            let pq = p * (1.0 - p);
            let w = (r - n * p) / pq;
            let v = n / pq;
            for i in 0..3 {
                g[i] += w * dp[i];
                for k in 0..3 {
                    h[i][k] += v * dp[i] * dp[k];
                }
            }
        }
        if let Some(pa) = self.priors.log_a {
            let s2 = pa.sd * pa.sd;
            g[0] += -(a.ln() - pa.mean) / (s2 * a) - 1.0 / a;
            h[0][0] += 1.0 / (s2 * a * a);
        }
        if let Some(pb) = self.priors.b {
            g[1] += -(b - pb.mean) / (pb.sd * pb.sd);
            h[1][1] += 1.0 / (pb.sd * pb.sd);
        }
        if let Some(k) = self.priors.c_strength {
            let (al, be) = (k * self.c_mode, k * (1.0 - self.c_mode));
            let cc = c.max(1e-12);
            g[2] += al / cc - be / (1.0 - c);
            h[2][2] += al / (cc * cc) + be / ((1.0 - c) * (1.0 - c));
        }
        (g, h)
    }
}

/// Solves the small symmetric positive-definite system `H[idx] δ = g[idx]` by Cholesky.
#[expect(
    clippy::needless_range_loop,
    reason = "index notation mirrors the Cholesky formulas"
)]
fn solve(h: &[[f64; 3]; 3], g: &[f64; 3], idx: &[usize]) -> Option<[f64; 3]> {
    let m = idx.len();
    let mut l = [[0.0; 3]; 3];
    for i in 0..m {
        for k in 0..=i {
            let mut s = h[idx[i]][idx[k]];
            for t in 0..k {
                s -= l[i][t] * l[k][t];
            }
            if i == k {
                if s <= 0.0 {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][k] = s / l[k][k];
            }
        }
    }
    let mut y = [0.0; 3];
    for i in 0..m {
        let mut s = g[idx[i]];
        for t in 0..i {
            s -= l[i][t] * y[t];
        }
        y[i] = s / l[i][i];
    }
    let mut x = [0.0; 3];
    for i in (0..m).rev() {
        let mut s = y[i];
        for t in i + 1..m {
            s -= l[t][i] * x[t];
        }
        x[i] = s / l[i][i];
    }
    let mut out = [0.0; 3];
    for (i, k) in idx.iter().enumerate() {
        out[*k] = x[i];
    }
    Some(out)
}

/// Fisher scoring with step halving and box constraints on one item.
fn m_step_item(prob: &ItemProblem<'_>, start: [f64; 3], model: ModelKind) -> [f64; 3] {
    let (lo, hi) = lo_hi(model);
    let idx = free(model);
    let mut p = start;
    let mut f = prob.objective(p);
    // A few scoring steps per EM iteration suffice (a generalised EM step: the objective
    // rises, the fixed point is the same); warm starts make later M-steps nearly exact.
    for _ in 0..6 {
        let (g, h) = prob.grad_info(p);
        // Active set: a parameter held at a bound by its gradient is fixed for this step, so
        // the others still move to their own optimum (e.g. c = 0 in a maximum-likelihood 3PL).
        let mut active = [0usize; 3];
        let mut m = 0;
        for k in idx {
            let held = (p[*k] <= lo[*k] && g[*k] < 0.0) || (p[*k] >= hi[*k] && g[*k] > 0.0);
            if !held {
                active[m] = *k;
                m += 1;
            }
        }
        let active = &active[..m];
        let Some(step) = solve(&h, &g, active) else {
            break;
        };
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let mut q = p;
            for k in active {
                q[*k] = (p[*k] + t * step[*k]).clamp(lo[*k], hi[*k]);
            }
            let fq = prob.objective(q);
            if fq >= f {
                let moved = active
                    .iter()
                    .fold(0.0f64, |acc, k| acc.max((q[*k] - p[*k]).abs()));
                p = q;
                f = fq;
                improved = moved > 1e-9;
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    p
}

fn m_step(counts: &[f64], config: &CalibrationConfig, current: &[f64]) -> Params {
    let q_n = config.quadrature.len();
    let nodes = config.quadrature.nodes();
    let mut next = vec![0.0; current.len()];
    next.par_chunks_mut(3).enumerate().for_each_init(
        || (vec![0.0; q_n], vec![0.0; q_n]),
        |(n, r), (j, out)| {
            item_counts(counts, q_n, j, n, r);
            let prob = ItemProblem {
                nodes,
                n,
                r,
                priors: &config.priors,
                c_mode: config.priors.c_mode(j),
            };
            let start = [current[3 * j], current[3 * j + 1], current[3 * j + 2]];
            out.copy_from_slice(&m_step_item(&prob, start, config.model));
        },
    );
    next
}

fn total_log_prior(params: &[f64], config: &CalibrationConfig) -> f64 {
    let empty: [f64; 0] = [];
    params
        .chunks(3)
        .enumerate()
        .map(|(j, p)| {
            ItemProblem {
                nodes: &[],
                n: &empty,
                r: &empty,
                priors: &config.priors,
                c_mode: config.priors.c_mode(j),
            }
            .log_prior([p[0], p[1], p[2]])
        })
        .sum()
}

fn start_values(data: &ResponseMatrix, config: &CalibrationConfig) -> Params {
    let (lo, hi) = lo_hi(config.model);
    let mut p = Vec::with_capacity(3 * data.n_items);
    for j in 0..data.n_items {
        let c = if config.model == ModelKind::ThreePl {
            config.priors.c_mode(j).clamp(lo[2], hi[2])
        } else {
            0.0
        };
        let m = ((data.item_mean(j) - c) / (1.0 - c)).clamp(0.02, 0.98);
        // With θ ~ N(0, 1) and a = 1, the p-value of σ(θ − b) is about σ(−b / 1.2).
        let b = (-1.2 * (m / (1.0 - m)).ln()).clamp(lo[1], hi[1]);
        p.extend_from_slice(&[1.0, b, c]);
    }
    p
}

fn max_change(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}

fn project(p: &mut [f64], model: ModelKind) {
    let (lo, hi) = lo_hi(model);
    for chunk in p.chunks_mut(3) {
        for k in 0..3 {
            chunk[k] = chunk[k].clamp(lo[k], hi[k]);
        }
    }
}

/// Marginal log-likelihood of given item parameters on a grid,
/// `ln L = Σ_l ln Σ_q A_q Π_{j ∈ l} P_j(X_q)^u (1 − P_j(X_q))^(1−u)` (Bock & Aitkin, 1981,
/// eq. 4), for comparing estimates from different programs on the same rule.
///
/// ```
/// # use myqcm_psychometrics::{calibration::*, irt::ItemParams, quadrature::Quadrature};
/// let data = ResponseMatrix::new(1, 1, &[(0, 0, 1.0)]).unwrap();
/// let ll = marginal_log_lik(&data, &[ItemParams::two_pl(1.0, 0.0).unwrap()], &Quadrature::default()).unwrap();
/// assert!((ll - 0.5f64.ln()).abs() < 1e-6); // the E-step sums in f32 per learner
/// ```
///
/// # Errors
/// [`PsyError::InvalidData`] if the number of items differs from the data's.
pub fn marginal_log_lik(
    data: &ResponseMatrix,
    items: &[ItemParams],
    quadrature: &Quadrature,
) -> Result<f64, PsyError> {
    if items.len() != data.n_items {
        return Err(PsyError::InvalidData(format!(
            "{} item parameter sets for {} items",
            items.len(),
            data.n_items
        )));
    }
    let params: Vec<f64> = items.iter().flat_map(|i| [i.a(), i.b(), i.c()]).collect();
    Ok(e_step(
        data,
        &log_tables(&params, quadrature.nodes()),
        quadrature,
        false,
    )
    .log_lik)
}

/// Calibrates item parameters by MML-EM (Bock & Aitkin, 1981); see the module documentation
/// for the formulas, priors, stopping rule and determinism.
///
/// ```
/// # use myqcm_psychometrics::{calibration::*, irt::ModelKind, sim::*};
/// # use rand::SeedableRng;
/// let cfg = IrtSimConfig { n_learners: 400, n_items: 10, answers_per_learner: 10, ..Default::default() };
/// let sim = simulate_irt(&cfg, &mut rand::rngs::StdRng::seed_from_u64(1));
/// let triples: Vec<_> = sim.responses.iter().map(|r| (r.learner, r.item, r.score)).collect();
/// let data = ResponseMatrix::new(400, 10, &triples).unwrap();
/// let fit = calibrate(&data, &CalibrationConfig::new(ModelKind::TwoPl)).unwrap();
/// assert!(fit.stop.converged());
/// assert_eq!(fit.abilities.len(), 400);
/// ```
///
/// # Errors
/// [`PsyError::InvalidData`] if a per-item prior list has the wrong length or the data are
/// empty; [`PsyError::InvalidParameter`] for a tolerance that is negative or NaN.
pub fn calibrate(
    data: &ResponseMatrix,
    config: &CalibrationConfig,
) -> Result<Calibration, PsyError> {
    if data.n_items == 0 || data.n_responses() == 0 {
        return Err(PsyError::InvalidData("no response to calibrate".into()));
    }
    if !config.priors.c_mean.is_empty() && config.priors.c_mean.len() != data.n_items {
        return Err(PsyError::InvalidData(format!(
            "{} prior means of c for {} items",
            config.priors.c_mean.len(),
            data.n_items
        )));
    }
    if !(config.param_tol >= 0.0 && config.ll_tol >= 0.0) {
        return Err(PsyError::InvalidParameter {
            name: "param_tol",
            value: config.param_tol,
            expected: "non-negative tolerances",
        });
    }
    let q_n = config.quadrature.len();
    let mut params = start_values(data, config);
    // One EM map: ψ ↦ M(E(ψ)); also returns the objective at ψ (ln L + ln prior).
    let em = |p: &[f64]| {
        let tab = log_tables(p, config.quadrature.nodes());
        let e = e_step(data, &tab, &config.quadrature, false);
        let obj = e.log_lik + total_log_prior(p, config);
        (m_step(&e.counts, config, p), obj)
    };
    let mut prev_obj = f64::NEG_INFINITY;
    let mut stop = StopReason::MaxIterations;
    let mut iterations = 0;
    let check = |old: &[f64], new: &[f64], obj: f64, prev: f64| {
        let change = max_change(old, new);
        let rel = (obj - prev).abs() / (1.0 + obj.abs());
        if change < config.param_tol {
            Some(StopReason::ParameterChange { max_change: change })
        } else if rel < config.ll_tol {
            Some(StopReason::LogLikChange { rel_change: rel })
        } else {
            None
        }
    };
    while iterations < config.max_iter {
        let (p1, obj0) = em(&params);
        iterations += 1;
        // The residual of one EM step, ‖M(E(ψ)) − ψ‖∞, is the convergence test (as in
        // SQUAREM), checked at the start of every cycle.
        if let Some(s) = check(&params, &p1, obj0, prev_obj) {
            params = p1;
            stop = s;
            break;
        }
        prev_obj = obj0;
        if !config.accelerate || iterations + 2 > config.max_iter {
            params = p1;
            continue;
        }
        let (p2, obj1) = em(&p1);
        iterations += 1;
        // SQUAREM step (Varadhan & Roland, 2008, scheme S3): r = ψ1 − ψ0, v = ψ2 − 2ψ1 + ψ0,
        // α = −‖r‖/‖v‖ ≤ −1, ψ′ = ψ0 − 2αr + α²v, then one EM step from ψ′ for stability.
        let (mut rr, mut vv) = (0.0, 0.0);
        for k in 0..params.len() {
            let r = p1[k] - params[k];
            let v = p2[k] - 2.0 * p1[k] + params[k];
            rr += r * r;
            vv += v * v;
        }
        let alpha = if vv > 0.0 {
            (-(rr / vv).sqrt()).min(-1.0)
        } else {
            -1.0
        };
        let mut ext: Params = (0..params.len())
            .map(|k| {
                let r = p1[k] - params[k];
                let v = p2[k] - 2.0 * p1[k] + params[k];
                params[k] - 2.0 * alpha * r + alpha * alpha * v
            })
            .collect();
        project(&mut ext, config.model);
        let (p3, obj_ext) = em(&ext);
        iterations += 1;
        // Keep the extrapolation only if it did not lower the objective.
        let (next, obj_next) = if obj_ext.is_finite() && obj_ext >= obj1 {
            (p3, obj_ext)
        } else {
            (p2, obj1)
        };
        params = next;
        prev_obj = obj_next;
    }
    // Final E-step at the returned parameters: log-likelihood, abilities, SEs.
    let tab = log_tables(&params, config.quadrature.nodes());
    let last = e_step(data, &tab, &config.quadrature, true);
    let log_lik = last.log_lik;
    let log_prior = total_log_prior(&params, config);
    let nodes = config.quadrature.nodes();
    let abilities = last.abilities;
    let idx = free(config.model);
    let items: Result<Vec<ItemEstimate>, PsyError> = (0..data.n_items)
        .into_par_iter()
        .map(|j| {
            let (mut n, mut r) = (vec![0.0; q_n], vec![0.0; q_n]);
            item_counts(&last.counts, q_n, j, &mut n, &mut r);
            let p = [params[3 * j], params[3 * j + 1], params[3 * j + 2]];
            let prob = ItemProblem {
                nodes,
                n: &n,
                r: &r,
                priors: &config.priors,
                c_mode: config.priors.c_mode(j),
            };
            let (_, h) = prob.grad_info(p);
            let mut se = [None; 3];
            for k in idx {
                let mut e = [0.0; 3];
                e[*k] = 1.0;
                if let Some(x) = solve(&h, &e, idx) {
                    se[*k] = Some(x[*k].max(0.0).sqrt());
                }
            }
            Ok(ItemEstimate {
                params: ItemParams::three_pl(p[0], p[1], p[2])?,
                se,
                n_responses: data.item_count(j),
            })
        })
        .collect();
    Ok(Calibration {
        items: items?,
        log_lik,
        log_prior,
        iterations,
        stop,
        abilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{IrtSimConfig, simulate_irt};
    use rand::{SeedableRng, rngs::StdRng};

    fn data(cfg: &IrtSimConfig, seed: u64) -> (crate::sim::IrtSim, ResponseMatrix) {
        let sim = simulate_irt(cfg, &mut StdRng::seed_from_u64(seed));
        let t: Vec<_> = sim
            .responses
            .iter()
            .map(|r| (r.learner, r.item, r.score))
            .collect();
        let m = ResponseMatrix::new(cfg.n_learners, cfg.n_items, &t).unwrap();
        (sim, m)
    }

    fn rmse(x: impl Iterator<Item = (f64, f64)>) -> f64 {
        let v: Vec<f64> = x.map(|(a, b)| (a - b) * (a - b)).collect();
        (v.iter().sum::<f64>() / v.len() as f64).sqrt()
    }

    #[test]
    fn response_matrix_rejects_bad_input() {
        assert!(ResponseMatrix::new(1, 1, &[(0, 0, 1.5)]).is_err());
        assert!(ResponseMatrix::new(1, 1, &[(1, 0, 1.0)]).is_err());
        assert!(ResponseMatrix::new(1, 2, &[(0, 0, 1.0)]).is_err());
        let m = ResponseMatrix::new(2, 1, &[(1, 0, 1.0), (0, 0, 0.25)]).unwrap();
        assert!(!m.is_binary());
        assert_eq!(m.learner(1), (&[0u32][..], &[1.0][..]));
    }

    #[test]
    fn em_log_likelihood_equals_a_direct_sum() {
        let cfg = IrtSimConfig {
            n_learners: 50,
            n_items: 8,
            answers_per_learner: 5,
            ..Default::default()
        };
        let (sim, m) = data(&cfg, 2);
        let quad = Quadrature::default();
        let params: Vec<f64> = sim
            .items
            .iter()
            .flat_map(|i| [i.a(), i.b(), i.c()])
            .collect();
        let ll = e_step(&m, &log_tables(&params, quad.nodes()), &quad, false).log_lik;
        let mut direct = 0.0;
        for l in 0..50 {
            let (items, scores) = m.learner(l);
            let mut s = 0.0;
            for (x, w) in quad.nodes().iter().zip(quad.weights()) {
                let mut lik = 1.0;
                for (j, u) in items.iter().zip(scores) {
                    lik *= crate::irt::ItemModel::log_lik(&sim.items[*j as usize], *x, *u).exp();
                }
                s += w * lik;
            }
            direct += s.ln();
        }
        assert!((ll - direct).abs() < 1e-3, "{ll} vs {direct}");
    }

    #[test]
    fn twopl_recovers_parameters_and_is_thread_count_invariant() {
        let cfg = IrtSimConfig {
            n_learners: 3000,
            n_items: 20,
            answers_per_learner: 12,
            ..Default::default()
        };
        let (sim, m) = data(&cfg, 3);
        let config = CalibrationConfig::new(ModelKind::TwoPl);
        let fit = calibrate(&m, &config).unwrap();
        assert!(fit.stop.converged(), "{:?}", fit.stop);
        let rb = rmse(
            fit.items
                .iter()
                .zip(&sim.items)
                .map(|(e, t)| (e.params.b(), t.b())),
        );
        let ra = rmse(
            fit.items
                .iter()
                .zip(&sim.items)
                .map(|(e, t)| (e.params.a(), t.a())),
        );
        assert!(rb < 0.15 && ra < 0.15, "rmse a {ra} b {rb}");
        // Same result on one thread.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let fit1 = one.install(|| calibrate(&m, &config)).unwrap();
        assert_eq!(fit, fit1);
        // The truth is not a better optimum than ours.
        assert!(
            fit.items
                .iter()
                .all(|i| i.se[0].is_some() && i.se[2].is_none())
        );
        let plain = calibrate(
            &m,
            &CalibrationConfig {
                accelerate: false,
                ..config.clone()
            },
        )
        .unwrap();
        assert!(
            (plain.log_lik - fit.log_lik).abs() < 0.05,
            "{} {}",
            plain.log_lik,
            fit.log_lik
        );
    }

    #[test]
    fn items_with_few_responses_are_shrunk_toward_their_priors() {
        // Item 1 has three answers, all correct: ML sends b to its bound, the prior keeps it near 0.
        let cfg = IrtSimConfig {
            n_learners: 400,
            n_items: 6,
            answers_per_learner: 6,
            ..Default::default()
        };
        let sim = simulate_irt(&cfg, &mut StdRng::seed_from_u64(6));
        let mut t: Vec<_> = sim
            .responses
            .iter()
            .map(|r| (r.learner, r.item, r.score))
            .collect();
        t.extend([(0, 6, 1.0), (1, 6, 1.0), (2, 6, 1.0)]);
        let m = ResponseMatrix::new(400, 7, &t).unwrap();
        let ml = calibrate(&m, &CalibrationConfig::new(ModelKind::TwoPl)).unwrap();
        let mut config = CalibrationConfig::new(ModelKind::TwoPl);
        config.priors.b = Some(NormalPrior { mean: 0.0, sd: 1.0 });
        config.priors.log_a = Some(NormalPrior { mean: 0.0, sd: 0.5 });
        let map = calibrate(&m, &config).unwrap();
        let (b_ml, b_map) = (ml.items[6].params.b(), map.items[6].params.b());
        assert!(b_ml < -5.0 && b_map > -2.0 && b_map < 0.0, "{b_ml} {b_map}");
        // Well-answered items barely move.
        assert!((ml.items[0].params.b() - map.items[0].params.b()).abs() < 0.2);
    }

    #[test]
    fn rasch_and_three_pl_with_prior_run_and_shrink() {
        let cfg = IrtSimConfig {
            n_learners: 1500,
            n_items: 12,
            answers_per_learner: 12,
            model: ModelKind::ThreePl,
            ..Default::default()
        };
        let (sim, m) = data(&cfg, 4);
        let prior_means: Vec<f64> = sim.options.iter().map(|k| 1.0 / f64::from(*k)).collect();
        let mut config = CalibrationConfig::new(ModelKind::ThreePl);
        config.priors = Priors::three_pl(prior_means);
        let fit = calibrate(&m, &config).unwrap();
        assert!(
            fit.items
                .iter()
                .all(|i| i.params.c() > 0.05 && i.params.c() < 0.5)
        );
        let rb = rmse(
            fit.items
                .iter()
                .zip(&sim.items)
                .map(|(e, t)| (e.params.b(), t.b())),
        );
        assert!(rb < 0.35, "rmse b {rb}");
        let rasch = calibrate(&m, &CalibrationConfig::new(ModelKind::OnePl)).unwrap();
        assert!(
            rasch
                .items
                .iter()
                .all(|i| i.params.a() == 1.0 && i.params.c() == 0.0)
        );
        assert!(rasch.log_lik < fit.log_lik + fit.log_prior.abs() + 50.0);
        let bad = CalibrationConfig {
            priors: Priors::three_pl(vec![0.2]),
            ..config
        };
        assert!(calibrate(&m, &bad).is_err());
    }
}
