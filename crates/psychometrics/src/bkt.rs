//! Bayesian knowledge tracing (Corbett & Anderson, 1995): a two-state hidden Markov model per
//! knowledge component (KC), its online update, and its EM fit (Baum–Welch).
//!
//! States: unknown (U) and known (K). Parameters: `p_init = P(K at first attempt)`,
//! `p_learn = T = P(U → K)` between attempts (no forgetting), `p_guess = g = P(correct | U)`,
//! `p_slip = s = P(wrong | K)`. With mastery L = P(K) before an attempt:
//!
//! ```text
//! P(correct)      = L (1 − s) + (1 − L) g                          (predict, before the attempt)
//! L | correct     = L (1 − s) / P(correct)
//! L | wrong       = L s / (L s + (1 − L)(1 − g))                   (observe: Bayes)
//! L_next          = L|obs + (1 − L|obs) T                          (then learn)
//! ```
//!
//! The order is observe-then-learn (the legacy engine learned first, ADAPT-004), predictions
//! are P(correct), never the mastery (spec §5.9), and a KC seen for the first time starts at
//! its own `p_init`, never from a value that already absorbed the same answer (spec §5.3).
//! Guess and slip are kept below 0.5 (above it the states swap meaning; Baker, Corbett &
//! Aleven, 2008, "model degeneracy") and every parameter is kept in `[ε, 1 − ε]`.
//!
//! References: Corbett, A. T. & Anderson, J. R. (1995) Knowledge tracing, *UMUAI* 4;
//! Baum, L. E. et al. (1970) A maximization technique …, *Ann. Math. Stat.* 41; Rabiner, L. R.
//! (1989) A tutorial on hidden Markov models, *Proc. IEEE* 77(2) (scaled forward–backward).

use rayon::prelude::*;

use crate::error::PsyError;
use crate::stop::StopReason;

/// Lower and upper margin kept between every BKT probability and 0 or 1.
pub const BKT_EPS: f64 = 1e-4;

/// The four BKT parameters of one KC. Invariants: all in `[ε, 1 − ε]`, guess and slip `< 0.5`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BktParams {
    p_init: f64,
    p_learn: f64,
    p_guess: f64,
    p_slip: f64,
}

impl Default for BktParams {
    /// The spec's defaults (§12.3): `p_init = 0.2, T = 0.3, g = 0.2, s = 0.1`.
    fn default() -> Self {
        Self {
            p_init: 0.2,
            p_learn: 0.3,
            p_guess: 0.2,
            p_slip: 0.1,
        }
    }
}

/// The three numbers of one BKT step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BktStep {
    /// `P(correct)` predicted before the attempt (use this for metrics).
    pub p_correct: f64,
    /// Mastery after the evidence, before the learning transition.
    pub posterior: f64,
    /// Mastery carried to the next attempt: `posterior + (1 − posterior) T`.
    pub next: f64,
}

impl BktParams {
    /// Validated constructor (C3): every value in `[ε, 1 − ε]` and `g, s < 0.5`.
    ///
    /// ```
    /// # use myqcm_psychometrics::bkt::BktParams;
    /// assert!(BktParams::new(0.2, 0.3, 0.2, 0.1).is_ok());
    /// assert!(BktParams::new(0.2, 0.3, 0.6, 0.1).is_err()); // guess ≥ 0.5
    /// assert!(BktParams::new(0.0, 0.3, 0.2, 0.1).is_err()); // not away from 0
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidParameter`] naming the first offending parameter.
    pub fn new(p_init: f64, p_learn: f64, p_guess: f64, p_slip: f64) -> Result<Self, PsyError> {
        use crate::error::check_range;
        let hi = 1.0 - BKT_EPS;
        check_range("p_init", p_init, BKT_EPS, hi, "[1e-4, 1 − 1e-4]")?;
        check_range("p_learn", p_learn, BKT_EPS, hi, "[1e-4, 1 − 1e-4]")?;
        check_range(
            "p_guess",
            p_guess,
            BKT_EPS,
            0.5 - BKT_EPS,
            "[1e-4, 0.5 − 1e-4]",
        )?;
        check_range(
            "p_slip",
            p_slip,
            BKT_EPS,
            0.5 - BKT_EPS,
            "[1e-4, 0.5 − 1e-4]",
        )?;
        Ok(Self {
            p_init,
            p_learn,
            p_guess,
            p_slip,
        })
    }

    /// Projects arbitrary numbers onto the valid set: NaN → the default, then clamp to
    /// `[ε, 1 − ε]` (guess and slip to `[ε, 0.5 − ε]`).
    ///
    /// ```
    /// # use myqcm_psychometrics::bkt::BktParams;
    /// let p = BktParams::clamped(f64::NAN, 1.0, 0.9, 0.0);
    /// assert_eq!(p.p_init(), 0.2);
    /// assert!(p.p_learn() < 1.0 && p.p_guess() < 0.5 && p.p_slip() > 0.0);
    /// ```
    #[must_use]
    pub fn clamped(p_init: f64, p_learn: f64, p_guess: f64, p_slip: f64) -> Self {
        let d = Self::default();
        let fix = |v: f64, def: f64, hi: f64| {
            if v.is_finite() {
                v.clamp(BKT_EPS, hi)
            } else {
                def
            }
        };
        Self {
            p_init: fix(p_init, d.p_init, 1.0 - BKT_EPS),
            p_learn: fix(p_learn, d.p_learn, 1.0 - BKT_EPS),
            p_guess: fix(p_guess, d.p_guess, 0.5 - BKT_EPS),
            p_slip: fix(p_slip, d.p_slip, 0.5 - BKT_EPS),
        }
    }

    /// `P(K)` before the first attempt.
    #[must_use]
    pub fn p_init(&self) -> f64 {
        self.p_init
    }
    /// `T = P(U → K)` after each attempt.
    #[must_use]
    pub fn p_learn(&self) -> f64 {
        self.p_learn
    }
    /// `g = P(correct | U)`.
    #[must_use]
    pub fn p_guess(&self) -> f64 {
        self.p_guess
    }
    /// `s = P(wrong | K)`.
    #[must_use]
    pub fn p_slip(&self) -> f64 {
        self.p_slip
    }

    /// `P(correct) = L (1 − s) + (1 − L) g` (Corbett & Anderson, 1995, eq. 4).
    ///
    /// ```
    /// # use myqcm_psychometrics::bkt::BktParams;
    /// let p = BktParams::default();
    /// assert!((p.p_correct(0.2) - (0.2 * 0.9 + 0.8 * 0.2)).abs() < 1e-12);
    /// ```
    #[must_use]
    pub fn p_correct(&self, mastery: f64) -> f64 {
        let l = mastery.clamp(0.0, 1.0);
        l * (1.0 - self.p_slip) + (1.0 - l) * self.p_guess
    }

    /// Bayes' rule on one observation (no learning): `L(1 − s)/P(correct)` if correct,
    /// `L s / (L s + (1 − L)(1 − g))` if wrong.
    ///
    /// ```
    /// # use myqcm_psychometrics::bkt::BktParams;
    /// let p = BktParams::default();
    /// assert!(p.posterior(0.5, true) > 0.5 && p.posterior(0.5, false) < 0.5);
    /// ```
    #[must_use]
    pub fn posterior(&self, mastery: f64, correct: bool) -> f64 {
        let l = mastery.clamp(0.0, 1.0);
        let (known, unknown) = if correct {
            (l * (1.0 - self.p_slip), (1.0 - l) * self.p_guess)
        } else {
            (l * self.p_slip, (1.0 - l) * (1.0 - self.p_guess))
        };
        // Both factors are ≥ ε > 0 by construction, so the denominator is positive.
        known / (known + unknown)
    }

    /// The learning transition `L + (1 − L) T`.
    #[must_use]
    pub fn learn(&self, mastery: f64) -> f64 {
        let l = mastery.clamp(0.0, 1.0);
        l + (1.0 - l) * self.p_learn
    }

    /// One full step in the right order: predict P(correct), observe (Bayes), then learn.
    ///
    /// ```
    /// # use myqcm_psychometrics::bkt::BktParams;
    /// let p = BktParams::default();
    /// let step = p.update(p.p_init(), true);
    /// assert!((step.p_correct - p.p_correct(0.2)).abs() < 1e-12);
    /// assert!((step.next - p.learn(step.posterior)).abs() < 1e-12);
    /// ```
    #[must_use]
    pub fn update(&self, mastery: f64, correct: bool) -> BktStep {
        let p_correct = self.p_correct(mastery);
        let posterior = self.posterior(mastery, correct);
        BktStep {
            p_correct,
            posterior,
            next: self.learn(posterior),
        }
    }
}

/// P(correct) for an item tagged with several KCs: the mean of the per-KC predictions,
/// `(1/K) Σ_k [L_k (1 − s_k) + (1 − L_k) g_k]` (an averaging, compensatory combination;
/// Pardos, Beck, Ruiz & Heffernan, 2008, "The composition effect"). Returns `None` for an item
/// without KCs or mismatched slices.
///
/// ```
/// # use myqcm_psychometrics::bkt::{p_correct_multi, BktParams};
/// let p = BktParams::default();
/// let m = p_correct_multi(&[0.2, 0.8], &[p, p]).unwrap();
/// assert!((m - 0.5 * (p.p_correct(0.2) + p.p_correct(0.8))).abs() < 1e-12);
/// ```
#[must_use]
pub fn p_correct_multi(masteries: &[f64], params: &[BktParams]) -> Option<f64> {
    if masteries.is_empty() || masteries.len() != params.len() {
        return None;
    }
    let sum: f64 = masteries
        .iter()
        .zip(params)
        .map(|(l, p)| p.p_correct(*l))
        .sum();
    Some(sum / masteries.len() as f64)
}

/// Updates every KC of a multi-KC item with the same observation, each with its own
/// parameters, in place; returns the item's P(correct) before the attempt
/// ([`p_correct_multi`]). Each KC is updated exactly once per attempt: a KC the learner never
/// met must be seeded by the caller with its `p_init`, not with another KC's updated mastery.
///
/// ```
/// # use myqcm_psychometrics::bkt::{update_multi, BktParams};
/// let p = BktParams::default();
/// let mut m = [p.p_init(), 0.9];
/// let before = update_multi(&mut m, &[p, p], true).unwrap();
/// assert!(m[0] > 0.2 && m[1] > 0.9 && before > 0.0);
/// ```
pub fn update_multi(masteries: &mut [f64], params: &[BktParams], correct: bool) -> Option<f64> {
    let before = p_correct_multi(masteries, params)?;
    for (l, p) in masteries.iter_mut().zip(params) {
        *l = p.update(*l, correct).next;
    }
    Some(before)
}

/// Observation sequences of one KC in a compact layout: the attempts of sequence `k` are
/// `obs[offsets[k]..offsets[k + 1]]`, in time order (one sequence per learner).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BktSequences {
    offsets: Vec<usize>,
    obs: Vec<bool>,
}

impl BktSequences {
    /// An empty set of sequences.
    #[must_use]
    pub fn new() -> Self {
        Self {
            offsets: vec![0],
            obs: Vec::new(),
        }
    }

    /// Appends one learner's attempts (ignored if empty).
    pub fn push(&mut self, seq: &[bool]) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        if seq.is_empty() {
            return;
        }
        self.obs.extend_from_slice(seq);
        self.offsets.push(self.obs.len());
    }

    /// Number of sequences.
    #[must_use]
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when there is no sequence.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of observations.
    #[must_use]
    pub fn n_obs(&self) -> usize {
        self.obs.len()
    }

    /// The `k`-th sequence.
    #[must_use]
    pub fn get(&self, k: usize) -> &[bool] {
        &self.obs[self.offsets[k]..self.offsets[k + 1]]
    }

    fn iter(&self) -> impl Iterator<Item = &[bool]> {
        self.offsets.windows(2).map(|w| &self.obs[w[0]..w[1]])
    }
}

/// Settings of the Baum–Welch fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BktFitConfig {
    /// Starting values.
    pub init: BktParams,
    /// Iteration cap.
    pub max_iter: usize,
    /// Stop when every parameter moved less than this in one iteration.
    pub param_tol: f64,
    /// Stop when `|ΔLL| / (1 + |LL|)` is below this.
    pub ll_tol: f64,
}

impl Default for BktFitConfig {
    /// Spec defaults as the start, 500 iterations, tolerances 1e-5 (parameters) and 1e-9
    /// (relative log-likelihood).
    fn default() -> Self {
        Self {
            init: BktParams::default(),
            max_iter: 500,
            param_tol: 1e-5,
            ll_tol: 1e-9,
        }
    }
}

/// Result of a BKT fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BktFit {
    /// Fitted parameters.
    pub params: BktParams,
    /// Log-likelihood of the data at `params`.
    pub log_lik: f64,
    /// EM iterations run.
    pub iterations: usize,
    /// Why the loop stopped.
    pub stop: StopReason,
}

/// Expected sufficient statistics of one E-step.
#[derive(Default, Clone, Copy)]
struct Suff {
    init_known: f64,
    n_seq: f64,
    learn_num: f64,
    learn_den: f64,
    guess_num: f64,
    unknown: f64,
    slip_num: f64,
    known: f64,
    ll: f64,
}

/// Scaled forward–backward over one sequence (Rabiner, 1989, §V.A), adding the expected
/// counts to `acc`. `buf` holds the scaled forward probabilities of "known" and the scales.
fn forward_backward(p: &BktParams, seq: &[bool], buf: &mut Vec<[f64; 3]>, acc: &mut Suff) {
    let (t_, g, s) = (p.p_learn, p.p_guess, p.p_slip);
    let emit = |y: bool| if y { (1.0 - s, g) } else { (s, 1.0 - g) };
    buf.clear();
    // Forward: α̂_t(K), α̂_t(U) normalised; c_t the scale.
    let (mut ak, mut au) = (p.p_init, 1.0 - p.p_init);
    // Scales are multiplied and their logarithm taken only when the product gets small,
    // which saves one `ln` per observation.
    let mut scale_prod = 1.0f64;
    for (t, &y) in seq.iter().enumerate() {
        if t > 0 {
            let k = ak + au * t_;
            au *= 1.0 - t_;
            ak = k;
        }
        let (ek, eu) = emit(y);
        ak *= ek;
        au *= eu;
        let c = ak + au;
        ak /= c;
        au /= c;
        scale_prod *= c;
        if scale_prod < 1e-250 {
            acc.ll += scale_prod.ln();
            scale_prod = 1.0;
        }
        buf.push([ak, au, c]);
    }
    acc.ll += scale_prod.ln();
    // Backward with the same scales: β̂_T = 1.
    let (mut bk, mut bu) = (1.0, 1.0);
    let n = seq.len();
    for t in (0..n).rev() {
        let [ak, au, _] = buf[t];
        let (gk, gu) = (ak * bk, au * bu);
        let y = seq[t];
        if y {
            acc.guess_num += gu;
        } else {
            acc.slip_num += gk;
        }
        acc.known += gk;
        acc.unknown += gu;
        if t == 0 {
            acc.init_known += gk;
        }
        if t > 0 {
            // ξ_{t−1}(U → K) and the new β̂_{t−1}.
            let c = buf[t][2];
            let (ek, eu) = emit(y);
            let pu = buf[t - 1][1];
            acc.learn_num += pu * t_ * ek * bk / c;
            let nbk = ek * bk / c;
            let nbu = (t_ * ek * bk + (1.0 - t_) * eu * bu) / c;
            // γ_{t−1}(U) = α̂_{t−1}(U) β̂_{t−1}(U): the time spent unknown before a transition.
            acc.learn_den += pu * nbu;
            bk = nbk;
            bu = nbu;
        }
    }
    acc.n_seq += 1.0;
}

/// Log-likelihood `Σ_sequences ln P(y_1..y_n)` by the scaled forward pass.
///
/// ```
/// # use myqcm_psychometrics::bkt::{log_likelihood, BktParams, BktSequences};
/// let p = BktParams::default();
/// let mut seqs = BktSequences::new();
/// seqs.push(&[true]);
/// assert!((log_likelihood(&p, &seqs) - p.p_correct(p.p_init()).ln()).abs() < 1e-12);
/// ```
#[must_use]
pub fn log_likelihood(params: &BktParams, seqs: &BktSequences) -> f64 {
    let mut ll = 0.0;
    for seq in seqs.iter() {
        let mut l = params.p_init;
        for &y in seq {
            let p = params.p_correct(l);
            ll += if y { p.ln() } else { (1.0 - p).ln() };
            l = params.learn(params.posterior(l, y));
        }
    }
    ll
}

/// Fits the four parameters of one KC by EM (Baum–Welch) on its sequences:
///
/// ```text
/// E: γ_t(·), ξ_t(U→K) by scaled forward–backward
/// M: p_init = mean γ_1(K);  T = Σ ξ_t(U→K) / Σ_{t<n} γ_t(U)
///    g = Σ_{y_t=1} γ_t(U) / Σ γ_t(U);  s = Σ_{y_t=0} γ_t(K) / Σ γ_t(K)
/// ```
///
/// then projects onto the valid set ([`BktParams::clamped`]). Each iteration is O(n_obs).
///
/// ```
/// # use myqcm_psychometrics::bkt::{fit, BktFitConfig, BktSequences};
/// let mut seqs = BktSequences::new();
/// for _ in 0..50 { seqs.push(&[false, false, true, true, true]); }
/// let f = fit(&seqs, &BktFitConfig::default()).unwrap();
/// assert!(f.params.p_learn() > 0.3);
/// ```
///
/// # Errors
/// [`PsyError::InvalidData`] when there is no observation.
pub fn fit(seqs: &BktSequences, config: &BktFitConfig) -> Result<BktFit, PsyError> {
    if seqs.n_obs() == 0 {
        return Err(PsyError::InvalidData("no BKT observation to fit".into()));
    }
    let mut p = config.init;
    let mut buf = Vec::new();
    let mut prev_ll = f64::NEG_INFINITY;
    let mut stop = StopReason::MaxIterations;
    let mut iterations = 0;
    for it in 1..=config.max_iter {
        iterations = it;
        let mut acc = Suff::default();
        for seq in seqs.iter() {
            forward_backward(&p, seq, &mut buf, &mut acc);
        }
        let ll = acc.ll;
        let ratio = |n: f64, d: f64, old: f64| if d > 0.0 { n / d } else { old };
        let next = BktParams::clamped(
            ratio(acc.init_known, acc.n_seq, p.p_init),
            ratio(acc.learn_num, acc.learn_den, p.p_learn),
            ratio(acc.guess_num, acc.unknown, p.p_guess),
            ratio(acc.slip_num, acc.known, p.p_slip),
        );
        let change = [
            next.p_init - p.p_init,
            next.p_learn - p.p_learn,
            next.p_guess - p.p_guess,
            next.p_slip - p.p_slip,
        ]
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
        let rel = (ll - prev_ll).abs() / (1.0 + ll.abs());
        p = next;
        if change < config.param_tol {
            stop = StopReason::ParameterChange { max_change: change };
            break;
        }
        if rel < config.ll_tol {
            stop = StopReason::LogLikChange { rel_change: rel };
            break;
        }
        prev_ll = ll;
    }
    // Report the likelihood at the returned parameters (the E-step saw the previous ones).
    let log_lik = log_likelihood(&p, seqs);
    Ok(BktFit {
        params: p,
        log_lik,
        iterations,
        stop,
    })
}

/// Fits many KCs independently and in parallel (rayon); the result for KC k depends only on
/// its own data, so it is identical on any number of threads.
///
/// ```
/// # use myqcm_psychometrics::bkt::{fit_many, BktFitConfig, BktSequences};
/// let mut s = BktSequences::new();
/// s.push(&[false, true, true]);
/// let fits = fit_many(&[s.clone(), s], &BktFitConfig::default());
/// assert_eq!(fits.len(), 2);
/// ```
#[must_use]
pub fn fit_many(kcs: &[BktSequences], config: &BktFitConfig) -> Vec<Result<BktFit, PsyError>> {
    kcs.par_iter().map(|s| fit(s, config)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    fn simulate(p: &BktParams, n_seq: usize, len: usize, seed: u64) -> BktSequences {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = BktSequences::new();
        let mut seq = Vec::with_capacity(len);
        for _ in 0..n_seq {
            seq.clear();
            let mut known = rng.random::<f64>() < p.p_init();
            for _ in 0..len {
                let pc = if known { 1.0 - p.p_slip() } else { p.p_guess() };
                seq.push(rng.random::<f64>() < pc);
                if !known && rng.random::<f64>() < p.p_learn() {
                    known = true;
                }
            }
            out.push(&seq);
        }
        out
    }

    proptest! {
        #[test]
        fn posterior_and_next_stay_in_unit_interval(
            l in 0.0..=1.0f64, i in 0.0..1.0f64, t in 0.0..1.0f64,
            g in 0.0..0.6f64, s in 0.0..0.6f64, y in prop::bool::ANY,
        ) {
            let p = BktParams::clamped(i, t, g, s);
            let step = p.update(l, y);
            for v in [step.p_correct, step.posterior, step.next] {
                prop_assert!((0.0..=1.0).contains(&v));
            }
            prop_assert!(step.next >= step.posterior);
        }
    }

    #[test]
    fn update_observes_before_learning() {
        // Hand-computed: L = 0.2, correct, s = 0.1, g = 0.2, T = 0.3.
        let p = BktParams::default();
        let step = p.update(0.2, true);
        let post = 0.2 * 0.9 / (0.2 * 0.9 + 0.8 * 0.2);
        assert!((step.posterior - post).abs() < 1e-12);
        assert!((step.next - (post + (1.0 - post) * 0.3)).abs() < 1e-12);
        // Learning first would give a different (wrong) number.
        let wrong_order = p.posterior(p.learn(0.2), true);
        assert!((wrong_order - step.next).abs() > 1e-3);
    }

    #[test]
    fn multi_kc_rejects_mismatched_inputs() {
        let p = BktParams::default();
        assert!(p_correct_multi(&[], &[]).is_none());
        assert!(update_multi(&mut [0.2], &[p, p], true).is_none());
    }

    #[test]
    fn forward_backward_likelihood_matches_the_online_filter() {
        let p = BktParams::new(0.3, 0.2, 0.25, 0.15).unwrap();
        let seqs = simulate(&p, 50, 8, 3);
        let mut acc = Suff::default();
        let mut buf = Vec::new();
        for s in seqs.iter() {
            forward_backward(&p, s, &mut buf, &mut acc);
        }
        assert!((acc.ll - log_likelihood(&p, &seqs)).abs() < 1e-9);
        // Expected counts add up: Σ γ(K) + Σ γ(U) = number of observations.
        assert!((acc.known + acc.unknown - seqs.n_obs() as f64).abs() < 1e-9);
    }

    #[test]
    fn em_recovers_parameters_on_simulated_sequences() {
        let truth = BktParams::new(0.35, 0.15, 0.22, 0.08).unwrap();
        let seqs = simulate(&truth, 3000, 12, 7);
        let f = fit(&seqs, &BktFitConfig::default()).unwrap();
        let e = f.params;
        for (x, y) in [
            (e.p_init(), truth.p_init()),
            (e.p_learn(), truth.p_learn()),
            (e.p_guess(), truth.p_guess()),
            (e.p_slip(), truth.p_slip()),
        ] {
            assert!((x - y).abs() < 0.05, "{e:?} vs {truth:?}");
        }
        assert!(f.log_lik >= log_likelihood(&truth, &seqs) - 1.0);
        assert!(f.stop.converged());
    }

    #[test]
    fn em_never_decreases_the_likelihood() {
        let truth = BktParams::new(0.3, 0.2, 0.2, 0.1).unwrap();
        let seqs = simulate(&truth, 300, 10, 11);
        let mut prev = f64::NEG_INFINITY;
        for iters in 1..15 {
            let cfg = BktFitConfig {
                max_iter: iters,
                param_tol: 0.0,
                ll_tol: 0.0,
                ..BktFitConfig::default()
            };
            let f = fit(&seqs, &cfg).unwrap();
            assert!(f.log_lik >= prev - 1e-9);
            prev = f.log_lik;
        }
        assert!(fit(&BktSequences::new(), &BktFitConfig::default()).is_err());
    }
}
