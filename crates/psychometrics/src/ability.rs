//! Ability (θ) estimation: EAP with posterior SD, MAP, and an online posterior on a grid.
//!
//! The earlier engine took one gradient step on θ per answer and kept no uncertainty
//! (domain spec §5.4, ADAPT-001). Here the posterior density of θ is carried on the fixed
//! quadrature grid of [`Quadrature`]: after an answer with score u on an item with response
//! function P, every node weight is multiplied by the likelihood of that answer and the
//! weights are renormalised (Bayes' rule on a grid; Bock & Mislevy, 1982):
//!
//! ```text
//! π_q ← π_q · P(X_q)^u (1 − P(X_q))^(1−u) / Σ_r π_r · P(X_r)^u (1 − P(X_r))^(1−u)
//! ```
//!
//! which costs O(Q) per answer and gives the EAP `θ̂ = Σ_q X_q π_q` and posterior SD
//! `√(Σ_q (X_q − θ̂)² π_q)` at any time. Batch functions [`eap`] and [`map_estimate`] work from
//! a whole response vector.
//!
//! References: Bock, R. D. & Mislevy, R. J. (1982) Adaptive EAP estimation of ability in a
//! microcomputer environment, *Applied Psychological Measurement* 6(4); Baker & Kim (2004)
//! ch. 7; Lord (1980) ch. 12 (MAP / Bayesian modal estimation).

use crate::error::PsyError;
use crate::irt::{ItemModel, P_FLOOR};
use crate::quadrature::Quadrature;

/// A point estimate of θ with its standard error (posterior SD for EAP, the inverse square
/// root of the posterior information for MAP).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AbilityEstimate {
    /// Estimated ability on the logit scale.
    pub theta: f64,
    /// Its standard error (same scale).
    pub se: f64,
}

/// The posterior of one learner's θ on a fixed grid, updated answer by answer.
///
/// ```
/// # use myqcm_psychometrics::{ability::AbilityPosterior, irt::ItemParams, quadrature::Quadrature};
/// let mut post = AbilityPosterior::new(&Quadrature::default());
/// let prior = post.eap();
/// post.observe(&ItemParams::two_pl(1.2, 0.0).unwrap(), 1.0).unwrap();
/// let after = post.eap();
/// assert!(after.theta > prior.theta && after.se < prior.se);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AbilityPosterior {
    nodes: Vec<f64>,
    weights: Vec<f64>,
    /// `ln` of the prior predictive probability of all answers seen so far.
    log_evidence: f64,
    answers: u32,
}

impl AbilityPosterior {
    /// The prior: the grid's own weights (for example N(0, 1)).
    #[must_use]
    pub fn new(grid: &Quadrature) -> Self {
        Self {
            nodes: grid.nodes().to_vec(),
            weights: grid.weights().to_vec(),
            log_evidence: 0.0,
            answers: 0,
        }
    }

    /// Bayes update with one answer, in O(Q):
    /// `π_q ← π_q L_q / Σ_r π_r L_r`, `L_q = P(X_q)^u (1 − P(X_q))^(1−u)`.
    /// Returns the predictive probability of the answer, `Σ_q π_q L_q` (for a label u = 1,
    /// the model's P(correct) before the attempt).
    ///
    /// ```
    /// # use myqcm_psychometrics::{ability::AbilityPosterior, irt::ItemParams, quadrature::Quadrature};
    /// let mut post = AbilityPosterior::new(&Quadrature::default());
    /// let p = post.observe(&ItemParams::two_pl(1.0, 0.0).unwrap(), 1.0).unwrap();
    /// assert!((p - 0.5).abs() < 1e-9); // symmetric prior, item at the mean
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidScore`] for a score outside [0, 1]; [`PsyError::InvalidData`] if
    /// the answer has zero likelihood on the whole grid (the posterior is then unchanged).
    pub fn observe<M: ItemModel>(&mut self, item: &M, score: f64) -> Result<f64, PsyError> {
        crate::error::check_score(score)?;
        // Labels use P or 1 − P directly (no exp/ln); fractional scores use e^ℓ.
        let lik = |x: f64| {
            if score == 1.0 {
                item.p_correct(x)
            } else if score == 0.0 {
                1.0 - item.p_correct(x)
            } else {
                item.log_lik(x, score).exp()
            }
        };
        let updated: Vec<f64> = self
            .weights
            .iter()
            .zip(&self.nodes)
            .map(|(w, x)| w * lik(*x))
            .collect();
        let total: f64 = updated.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return Err(PsyError::InvalidData(
                "answer has zero likelihood on the whole grid".into(),
            ));
        }
        for (w, v) in self.weights.iter_mut().zip(updated) {
            *w = v / total;
        }
        self.log_evidence += total.ln();
        self.answers += 1;
        Ok(total)
    }

    /// Posterior predictive `P(correct) = Σ_q π_q P(X_q)`: the probability to score before
    /// the attempt, used for evaluation (never the mastery itself; spec §5.9).
    ///
    /// ```
    /// # use myqcm_psychometrics::{ability::AbilityPosterior, irt::ItemParams, quadrature::Quadrature};
    /// let post = AbilityPosterior::new(&Quadrature::default());
    /// let easy = ItemParams::two_pl(1.0, -2.0).unwrap();
    /// assert!(post.p_correct(&easy) > 0.8);
    /// ```
    #[must_use]
    pub fn p_correct<M: ItemModel>(&self, item: &M) -> f64 {
        self.weights
            .iter()
            .zip(&self.nodes)
            .map(|(w, x)| w * item.p_correct(*x))
            .sum()
    }

    /// EAP `θ̂ = Σ_q X_q π_q` with posterior SD `√(Σ_q (X_q − θ̂)² π_q)` (Bock & Mislevy, 1982).
    #[must_use]
    pub fn eap(&self) -> AbilityEstimate {
        moments(&self.nodes, &self.weights)
    }

    /// MAP on the grid: the mode node refined by a parabola through the log posterior at the
    /// mode and its two neighbours (vertex `X_m − h (ℓ₊ − ℓ₋) / (2(ℓ₊ − 2ℓ₀ + ℓ₋))`); the SE is
    /// `√(−1/ℓ″)` from the same parabola. For an exact MAP from the responses use
    /// [`map_estimate`].
    ///
    /// ```
    /// # use myqcm_psychometrics::{ability::AbilityPosterior, quadrature::Quadrature};
    /// let post = AbilityPosterior::new(&Quadrature::default());
    /// assert!(post.map().theta.abs() < 1e-9);
    /// assert!((post.map().se - 1.0).abs() < 1e-6);
    /// ```
    #[must_use]
    pub fn map(&self) -> AbilityEstimate {
        let mut m = 0;
        for (q, w) in self.weights.iter().enumerate() {
            if *w > self.weights[m] {
                m = q;
            }
        }
        let n = self.nodes.len();
        if m == 0 || m + 1 == n {
            return AbilityEstimate {
                theta: self.nodes[m],
                se: self.eap().se,
            };
        }
        let h = self.nodes[m + 1] - self.nodes[m];
        let l = |q: usize| self.weights[q].max(f64::MIN_POSITIVE).ln();
        let (lm, l0, lp) = (l(m - 1), l(m), l(m + 1));
        let curv = (lp - 2.0 * l0 + lm) / (h * h);
        if curv >= 0.0 {
            return AbilityEstimate {
                theta: self.nodes[m],
                se: self.eap().se,
            };
        }
        let shift = -((lp - lm) / (2.0 * h)) / curv;
        AbilityEstimate {
            theta: self.nodes[m] + shift.clamp(-h, h),
            se: (-1.0 / curv).sqrt(),
        }
    }

    /// `ln` of the prior predictive probability of every answer observed so far
    /// (`Σ_t ln Σ_q π_q^(t−1) L_q^(t)`), the learner's marginal log-likelihood.
    #[must_use]
    pub fn log_evidence(&self) -> f64 {
        self.log_evidence
    }

    /// Number of answers absorbed.
    #[must_use]
    pub fn answers(&self) -> u32 {
        self.answers
    }

    /// The grid nodes.
    #[must_use]
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    /// The posterior weights, summing to 1.
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

fn moments(nodes: &[f64], weights: &[f64]) -> AbilityEstimate {
    let mean: f64 = nodes.iter().zip(weights).map(|(x, w)| x * w).sum();
    let var: f64 = nodes
        .iter()
        .zip(weights)
        .map(|(x, w)| (x - mean) * (x - mean) * w)
        .sum();
    AbilityEstimate {
        theta: mean,
        se: var.max(0.0).sqrt(),
    }
}

/// EAP from a whole response vector on a grid, in log space (no underflow for long tests):
///
/// ```text
/// ℓ_q = ln A(X_q) + Σ_j ℓ_j(X_q; u_j),   π_q = e^(ℓ_q − max ℓ) / Σ_r e^(ℓ_r − max ℓ)
/// θ̂ = Σ_q X_q π_q,   SD = √(Σ_q (X_q − θ̂)² π_q)
/// ```
///
/// (Bock & Mislevy, 1982; Baker & Kim, 2004, §7.4.)
///
/// ```
/// # use myqcm_psychometrics::{ability::eap, irt::ItemParams, quadrature::Quadrature};
/// let item = ItemParams::two_pl(1.0, 0.0).unwrap();
/// let est = eap(&[(item, 1.0), (item, 0.0)], &Quadrature::default()).unwrap();
/// assert!(est.theta.abs() < 1e-9);
/// ```
///
/// # Errors
/// [`PsyError::InvalidScore`] for a score outside [0, 1].
pub fn eap<M: ItemModel>(
    responses: &[(M, f64)],
    grid: &Quadrature,
) -> Result<AbilityEstimate, PsyError> {
    let mut ll: Vec<f64> = grid.weights().iter().map(|w| w.max(1e-300).ln()).collect();
    for (item, u) in responses {
        crate::error::check_score(*u)?;
        for (l, x) in ll.iter_mut().zip(grid.nodes()) {
            *l += item.log_lik(*x, *u);
        }
    }
    let max = ll.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = ll.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = w.iter().sum();
    let w: Vec<f64> = w.into_iter().map(|x| x / total).collect();
    Ok(moments(grid.nodes(), &w))
}

/// MAP (Bayes modal) estimate with a `N(μ, σ²)` prior, by Fisher scoring on the log posterior
/// (Lord, 1980, §12.1; Baker & Kim, 2004, §7.3):
///
/// ```text
/// θ ← θ + [Σ_j ∂ℓ_j/∂θ − (θ − μ)/σ²] / [Σ_j I_j(θ) + 1/σ²]
/// SE = 1 / √(Σ_j I_j(θ̂) + 1/σ²)
/// ```
///
/// Steps are limited to one logit; stops when a step is below 1e-9 or after 100 steps.
///
/// ```
/// # use myqcm_psychometrics::{ability::map_estimate, irt::ItemParams};
/// let item = ItemParams::two_pl(1.0, 0.0).unwrap();
/// let est = map_estimate(&[(item, 1.0)], 0.0, 1.0).unwrap();
/// assert!(est.theta > 0.0 && est.theta < 1.0);
/// ```
///
/// # Errors
/// [`PsyError::InvalidScore`] for a score outside [0, 1]; [`PsyError::InvalidParameter`]
/// for a non-positive prior SD.
pub fn map_estimate<M: ItemModel>(
    responses: &[(M, f64)],
    prior_mean: f64,
    prior_sd: f64,
) -> Result<AbilityEstimate, PsyError> {
    if !(prior_sd.is_finite() && prior_sd > 0.0 && prior_mean.is_finite()) {
        return Err(PsyError::InvalidParameter {
            name: "prior_sd",
            value: prior_sd,
            expected: "a finite prior SD > 0 and a finite prior mean",
        });
    }
    for (_, u) in responses {
        crate::error::check_score(*u)?;
    }
    let prec = 1.0 / (prior_sd * prior_sd);
    let mut theta = prior_mean;
    for _ in 0..100 {
        let mut grad = -(theta - prior_mean) * prec;
        let mut info = prec;
        for (item, u) in responses {
            grad += item.dlog_lik(theta, *u);
            info += item.information(theta).max(P_FLOOR);
        }
        let step = (grad / info).clamp(-1.0, 1.0);
        theta += step;
        if step.abs() < 1e-9 {
            break;
        }
    }
    let info: f64 = prec
        + responses
            .iter()
            .map(|(item, _)| item.information(theta))
            .sum::<f64>();
    Ok(AbilityEstimate {
        theta,
        se: 1.0 / info.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irt::ItemParams;
    use proptest::prelude::*;

    fn brute_force_eap(responses: &[(ItemParams, f64)]) -> (f64, f64) {
        // Trapezoid rule on [−10, 10] with 20,001 points against the N(0, 1) density.
        let n = 20_001;
        let h = 20.0 / (n - 1) as f64;
        let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
        for k in 0..n {
            let t = -10.0 + h * k as f64;
            let mut l = -0.5 * t * t;
            for (item, u) in responses {
                l += item.log_lik(t, *u);
            }
            let w = if k == 0 || k == n - 1 { 0.5 } else { 1.0 } * l.exp();
            z += w;
            m1 += w * t;
            m2 += w * t * t;
        }
        let mean = m1 / z;
        (mean, (m2 / z - mean * mean).sqrt())
    }

    fn items() -> impl Strategy<Value = Vec<(ItemParams, f64)>> {
        prop::collection::vec(
            (0.3..2.5f64, -2.5..2.5f64, 0.0..0.3f64, prop::bool::ANY).prop_map(|(a, b, c, y)| {
                (
                    ItemParams::three_pl(a, b, c).unwrap(),
                    if y { 1.0 } else { 0.0 },
                )
            }),
            0..12,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn eap_equals_brute_force_integration(resp in items()) {
            let grid = Quadrature::standard_normal(81, 8.0).unwrap();
            let est = eap(&resp, &grid).unwrap();
            let (mean, sd) = brute_force_eap(&resp);
            prop_assert!((est.theta - mean).abs() < 1e-4, "{} vs {}", est.theta, mean);
            prop_assert!((est.se - sd).abs() < 1e-4, "{} vs {}", est.se, sd);
        }

        #[test]
        fn online_updates_equal_the_batch_eap(resp in items()) {
            let grid = Quadrature::default();
            let mut post = AbilityPosterior::new(&grid);
            for (item, u) in &resp {
                post.observe(item, *u).unwrap();
            }
            let batch = eap(&resp, &grid).unwrap();
            prop_assert!((post.eap().theta - batch.theta).abs() < 1e-9);
            prop_assert!((post.eap().se - batch.se).abs() < 1e-9);
            prop_assert!((post.weights().iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn fractional_scores_sit_between_the_labels() {
        let grid = Quadrature::default();
        let item = ItemParams::two_pl(1.5, 0.3).unwrap();
        let th = |u: f64| {
            let mut p = AbilityPosterior::new(&grid);
            p.observe(&item, u).unwrap();
            p.eap().theta
        };
        assert!(th(0.0) < th(0.5) && th(0.5) < th(1.0));
        assert!(AbilityPosterior::new(&grid).observe(&item, 1.5).is_err());
    }

    #[test]
    fn log_evidence_is_the_sum_of_predictive_logs() {
        let grid = Quadrature::default();
        let a = ItemParams::two_pl(1.0, 0.0).unwrap();
        let b = ItemParams::two_pl(2.0, 1.0).unwrap();
        let mut post = AbilityPosterior::new(&grid);
        let p1 = post.observe(&a, 1.0).unwrap();
        let p2 = post.p_correct(&b);
        let q2 = post.observe(&b, 0.0).unwrap();
        assert!((q2 - (1.0 - p2)).abs() < 1e-12);
        assert!((post.log_evidence() - (p1.ln() + q2.ln())).abs() < 1e-12);
        assert_eq!(post.answers(), 2);
    }

    #[test]
    fn map_matches_grid_mode_and_newton() {
        let items: Vec<(ItemParams, f64)> = (0..20)
            .map(|k| {
                let b = -2.0 + 0.2 * f64::from(k);
                (
                    ItemParams::two_pl(1.3, b).unwrap(),
                    if k % 3 == 0 { 0.0 } else { 1.0 },
                )
            })
            .collect();
        let exact = map_estimate(&items, 0.0, 1.0).unwrap();
        let grid = Quadrature::standard_normal(241, 6.0).unwrap();
        let mut post = AbilityPosterior::new(&grid);
        for (item, u) in &items {
            post.observe(item, *u).unwrap();
        }
        let approx = post.map();
        assert!(
            (exact.theta - approx.theta).abs() < 5e-3,
            "{exact:?} {approx:?}"
        );
        assert!((exact.se - approx.se).abs() < 5e-3);
        // The gradient of the log posterior vanishes at the exact MAP.
        let g: f64 = items
            .iter()
            .map(|(i, u)| i.dlog_lik(exact.theta, *u))
            .sum::<f64>()
            - exact.theta;
        assert!(g.abs() < 1e-7);
        assert!(map_estimate(&items, 0.0, 0.0).is_err());
    }
}
