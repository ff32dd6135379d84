//! Unidimensional logistic item response models: 1PL, 2PL and 3PL (Lord, 1980).
//!
//! All three are the 3PL response function
//!
//! ```text
//! σ(z) = 1 / (1 + e^(−z)),   z = a(θ − b)
//! P(θ) = c + (1 − c) σ(z)
//! ```
//!
//! with `a = 1, c = 0` for the 1PL (Rasch, logistic metric) and `c = 0` for the 2PL. θ and b
//! are on the logit scale (no 1.702 constant); a is a slope per logit; c is a probability.
//! Scores `u` are labels in {0, 1} by default; fractional scores in [0, 1] enter through the
//! Bernoulli quasi-likelihood `ℓ(θ; u) = u ln P + (1 − u) ln(1 − P)`, which equals the exact
//! log-likelihood for labels. Depends on nothing but `std`.
//!
//! References: Lord, F. M. (1980) *Applications of Item Response Theory to Practical Testing
//! Problems*, ch. 4–5; Baker, F. B. & Kim, S.-H. (2004) *Item Response Theory: Parameter
//! Estimation Techniques*, 2nd ed., ch. 2 and 6.

use crate::error::{PsyError, check_range};

/// Which member of the logistic family an item (or a calibration) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ModelKind {
    /// Rasch / 1PL: only b is free, `a = 1`, `c = 0`.
    OnePl,
    /// 2PL: a and b free, `c = 0`.
    TwoPl,
    /// 3PL: a, b and the lower asymptote c free.
    ThreePl,
}

/// Numerically stable logistic function `σ(z) = 1 / (1 + e^(−z))`.
///
/// ```
/// # use myqcm_psychometrics::irt::logistic;
/// assert!((logistic(0.0) - 0.5).abs() < 1e-15);
/// assert!(logistic(-800.0) >= 0.0 && logistic(800.0) <= 1.0);
/// ```
#[inline]
#[must_use]
pub fn logistic(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln σ(z) = −ln(1 + e^(−z))`, computed without overflow (the negative softplus of −z).
#[inline]
#[must_use]
pub fn ln_logistic(z: f64) -> f64 {
    if z >= 0.0 {
        -(-z).exp().ln_1p()
    } else {
        z - z.exp().ln_1p()
    }
}

/// Smallest probability used inside logarithms, so that `ln` never sees 0.
pub const P_FLOOR: f64 = 1e-12;

/// The behaviour shared by every item response model: a response function of θ, its
/// log-likelihood and first derivative, and the Fisher information (Lord, 1980, eq. 5-6).
pub trait ItemModel {
    /// `P(θ)`: probability of a correct answer at ability θ.
    fn p_correct(&self, theta: f64) -> f64;
    /// `ℓ(θ; u) = u ln P(θ) + (1 − u) ln(1 − P(θ))` for a score `u` in [0, 1].
    fn log_lik(&self, theta: f64, score: f64) -> f64;
    /// `∂ℓ/∂θ = (u − P) P′ / (P (1 − P))`.
    fn dlog_lik(&self, theta: f64, score: f64) -> f64;
    /// Fisher information `I(θ) = P′(θ)² / (P(θ)(1 − P(θ)))`.
    fn information(&self, theta: f64) -> f64;
}

/// Parameters of one item in the 3PL family (a 1PL or 2PL item simply has `c = 0`).
///
/// Invariants enforced by the constructors: `a > 0` finite, `b` finite, `0 ≤ c < 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ItemParams {
    a: f64,
    b: f64,
    c: f64,
}

impl ItemParams {
    /// The neutral item `a = 1, b = 0, c = 0` (P(0) = 0.5).
    pub const DEFAULT: Self = Self {
        a: 1.0,
        b: 0.0,
        c: 0.0,
    };

    /// A Rasch (1PL) item with difficulty b: `P(θ) = σ(θ − b)`.
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::{ItemModel, ItemParams};
    /// let item = ItemParams::one_pl(0.5).unwrap();
    /// assert!((item.p_correct(0.5) - 0.5).abs() < 1e-12);
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidParameter`] if b is not finite.
    pub fn one_pl(b: f64) -> Result<Self, PsyError> {
        Self::three_pl(1.0, b, 0.0)
    }

    /// A 2PL item: `P(θ) = σ(a(θ − b))` (Birnbaum, in Lord & Novick, 1968).
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::{ItemModel, ItemParams};
    /// let item = ItemParams::two_pl(1.0, 0.0).unwrap();
    /// assert!((item.p_correct(0.0) - 0.5).abs() < 1e-12);
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidParameter`] if `a ≤ 0` or a parameter is not finite.
    pub fn two_pl(a: f64, b: f64) -> Result<Self, PsyError> {
        Self::three_pl(a, b, 0.0)
    }

    /// A 3PL item: `P(θ) = c + (1 − c) σ(a(θ − b))` (Lord, 1980, eq. 2-1).
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::{ItemModel, ItemParams};
    /// let item = ItemParams::three_pl(1.2, 0.0, 0.2).unwrap();
    /// assert!((item.p_correct(0.0) - 0.6).abs() < 1e-12);
    /// assert!(ItemParams::three_pl(1.0, 0.0, 1.0).is_err());
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidParameter`] if `a ≤ 0`, `c ∉ [0, 1)` or a value is not finite.
    pub fn three_pl(a: f64, b: f64, c: f64) -> Result<Self, PsyError> {
        if !(a.is_finite() && a > 0.0) {
            return Err(PsyError::InvalidParameter {
                name: "a",
                value: a,
                expected: "a finite discrimination > 0",
            });
        }
        check_range("b", b, f64::MIN, f64::MAX, "a finite difficulty")?;
        if !(c.is_finite() && (0.0..1.0).contains(&c)) {
            return Err(PsyError::InvalidParameter {
                name: "c",
                value: c,
                expected: "a lower asymptote in [0, 1)",
            });
        }
        Ok(Self { a, b, c })
    }

    /// Discrimination a (slope per logit).
    #[must_use]
    pub fn a(&self) -> f64 {
        self.a
    }
    /// Difficulty b (logit scale).
    #[must_use]
    pub fn b(&self) -> f64 {
        self.b
    }
    /// Lower asymptote ("guessing") c.
    #[must_use]
    pub fn c(&self) -> f64 {
        self.c
    }

    /// The smallest member of the family that represents this item.
    #[must_use]
    pub fn kind(&self) -> ModelKind {
        if self.c > 0.0 {
            ModelKind::ThreePl
        } else if (self.a - 1.0).abs() > 0.0 {
            ModelKind::TwoPl
        } else {
            ModelKind::OnePl
        }
    }

    /// Gradient of `ℓ(θ; u)` with respect to the item parameters `(a, b, c)`
    /// (Baker & Kim, 2004, §6.2):
    ///
    /// ```text
    /// w = (u − P) / (P (1 − P)),   s = σ(a(θ − b))
    /// ∂ℓ/∂a = w (1 − c) s (1 − s) (θ − b)
    /// ∂ℓ/∂b = −w (1 − c) s (1 − s) a
    /// ∂ℓ/∂c = w (1 − s)
    /// ```
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::ItemParams;
    /// let g = ItemParams::two_pl(1.0, 0.0).unwrap().param_gradient(0.0, 1.0);
    /// assert!((g[1] + 0.5).abs() < 1e-12); // ∂ℓ/∂b = −a(u − P) = −0.5
    /// ```
    #[must_use]
    pub fn param_gradient(&self, theta: f64, score: f64) -> [f64; 3] {
        let s = logistic(self.a * (theta - self.b));
        let p = (self.c + (1.0 - self.c) * s).clamp(P_FLOOR, 1.0 - P_FLOOR);
        let w = (score - p) / (p * (1.0 - p));
        let ds = (1.0 - self.c) * s * (1.0 - s);
        [w * ds * (theta - self.b), -w * ds * self.a, w * (1.0 - s)]
    }
}

impl ItemModel for ItemParams {
    /// `P(θ) = c + (1 − c) σ(a(θ − b))`.
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::{ItemModel, ItemParams};
    /// let item = ItemParams::two_pl(2.0, 1.0).unwrap();
    /// assert!(item.p_correct(0.0) < item.p_correct(2.0));
    /// ```
    #[inline]
    fn p_correct(&self, theta: f64) -> f64 {
        self.c + (1.0 - self.c) * logistic(self.a * (theta - self.b))
    }

    /// `ℓ = u ln P + (1 − u) ln(1 − P)`, computed in log space:
    /// for `c = 0`, `ln P = ln σ(z)` and `ln(1 − P) = ln σ(−z)`; for `c > 0`,
    /// `ln(1 − P) = ln(1 − c) + ln σ(−z)`.
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::{ItemModel, ItemParams};
    /// let item = ItemParams::two_pl(1.0, 0.0).unwrap();
    /// assert!((item.log_lik(0.0, 1.0) - 0.5f64.ln()).abs() < 1e-12);
    /// ```
    #[inline]
    fn log_lik(&self, theta: f64, score: f64) -> f64 {
        let z = self.a * (theta - self.b);
        let (lp, lq) = if self.c == 0.0 {
            (ln_logistic(z), ln_logistic(-z))
        } else {
            let p = self.c + (1.0 - self.c) * logistic(z);
            (p.max(P_FLOOR).ln(), (1.0 - self.c).ln() + ln_logistic(-z))
        };
        let mut ll = 0.0;
        if score > 0.0 {
            ll += score * lp;
        }
        if score < 1.0 {
            ll += (1.0 - score) * lq;
        }
        ll
    }

    /// `∂ℓ/∂θ = (u − P) P′ / (P (1 − P))` with `P′ = (1 − c) a σ (1 − σ)`; for the 2PL this is
    /// `a (u − P)`.
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::{ItemModel, ItemParams};
    /// let item = ItemParams::two_pl(1.5, 0.0).unwrap();
    /// assert!((item.dlog_lik(0.0, 1.0) - 0.75).abs() < 1e-12);
    /// ```
    #[inline]
    fn dlog_lik(&self, theta: f64, score: f64) -> f64 {
        let s = logistic(self.a * (theta - self.b));
        if self.c == 0.0 {
            return self.a * (score - s);
        }
        let p = (self.c + (1.0 - self.c) * s).clamp(P_FLOOR, 1.0 - P_FLOOR);
        let dp = (1.0 - self.c) * self.a * s * (1.0 - s);
        (score - p) * dp / (p * (1.0 - p))
    }

    /// `I(θ) = P′² / (P (1 − P))`, which for the 3PL equals
    /// `a² ((1 − P)/P) ((P − c)/(1 − c))²` (Lord, 1980, eq. 5-6) and for the 2PL `a² P (1 − P)`.
    ///
    /// ```
    /// # use myqcm_psychometrics::irt::{ItemModel, ItemParams};
    /// let item = ItemParams::two_pl(2.0, 0.0).unwrap();
    /// assert!((item.information(0.0) - 1.0).abs() < 1e-12);
    /// ```
    #[inline]
    fn information(&self, theta: f64) -> f64 {
        let s = logistic(self.a * (theta - self.b));
        if self.c == 0.0 {
            return self.a * self.a * s * (1.0 - s);
        }
        let p = (self.c + (1.0 - self.c) * s).clamp(P_FLOOR, 1.0 - P_FLOOR);
        let dp = (1.0 - self.c) * self.a * s * (1.0 - s);
        dp * dp / (p * (1.0 - p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn constructors_reject_out_of_domain_values() {
        assert!(ItemParams::two_pl(0.0, 0.0).is_err());
        assert!(ItemParams::two_pl(f64::NAN, 0.0).is_err());
        assert!(ItemParams::two_pl(1.0, f64::INFINITY).is_err());
        assert!(ItemParams::three_pl(1.0, 0.0, -0.1).is_err());
        assert!(ItemParams::three_pl(1.0, 0.0, 0.25).is_ok());
    }

    #[test]
    fn kind_reports_the_smallest_family() {
        assert_eq!(ItemParams::one_pl(0.3).unwrap().kind(), ModelKind::OnePl);
        assert_eq!(
            ItemParams::two_pl(1.3, 0.3).unwrap().kind(),
            ModelKind::TwoPl
        );
        assert_eq!(
            ItemParams::three_pl(1.3, 0.3, 0.2).unwrap().kind(),
            ModelKind::ThreePl
        );
    }

    #[test]
    fn log_lik_is_stable_far_from_the_item() {
        let item = ItemParams::two_pl(3.0, 0.0).unwrap();
        let ll = item.log_lik(-300.0, 1.0);
        assert!(ll.is_finite() && ll < -800.0);
        assert!(item.log_lik(300.0, 1.0).abs() < 1e-300 + 1e-12);
    }

    fn numeric_d(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-5;
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    proptest! {
        /// Fisher information is minus the expected curvature of ℓ. ℓ is linear in u, so the
        /// expectation over the response equals the curvature at the fractional score u = P(θ₀).
        #[test]
        fn information_is_minus_the_expected_curvature(
            a in 0.2..3.0f64, b in -3.0..3.0f64, c in 0.0..0.4f64, t in -4.0..4.0f64,
        ) {
            let item = ItemParams::three_pl(a, b, c).unwrap();
            let u = item.p_correct(t);
            let h = 1e-4;
            let ll = |x: f64| item.log_lik(x, u);
            let curvature = (ll(t + h) - 2.0 * ll(t) + ll(t - h)) / (h * h);
            let info = item.information(t);
            prop_assert!((curvature + info).abs() < 1e-5 * (1.0 + info), "{curvature} vs {info}");
        }

        /// For the 2PL the observed and expected information coincide for every response.
        #[test]
        fn twopl_information_is_negative_curvature(
            a in 0.2..3.0f64, b in -3.0..3.0f64, t in -4.0..4.0f64, u in 0.0..=1.0f64,
        ) {
            let item = ItemParams::two_pl(a, b).unwrap();
            let h = 1e-4;
            let ll = |x: f64| item.log_lik(x, u);
            let curvature = (ll(t + h) - 2.0 * ll(t) + ll(t - h)) / (h * h);
            prop_assert!((curvature + item.information(t)).abs() < 1e-5);
        }

        #[test]
        fn p_is_monotone_in_theta(
            a in 0.05..4.0f64, b in -4.0..4.0f64, c in 0.0..0.5f64,
            t in -6.0..6.0f64, dt in 0.001..3.0f64,
        ) {
            let item = ItemParams::three_pl(a, b, c).unwrap();
            prop_assert!(item.p_correct(t + dt) >= item.p_correct(t));
            prop_assert!(item.p_correct(t) >= c && item.p_correct(t) <= 1.0);
        }

        #[test]
        fn theta_derivative_matches_finite_difference(
            a in 0.2..3.0f64, b in -3.0..3.0f64, c in 0.0..0.4f64,
            t in -4.0..4.0f64, u in 0.0..=1.0f64,
        ) {
            let item = ItemParams::three_pl(a, b, c).unwrap();
            let num = numeric_d(|x| item.log_lik(x, u), t);
            prop_assert!((num - item.dlog_lik(t, u)).abs() < 1e-6);
        }

        #[test]
        fn parameter_gradient_matches_finite_difference(
            a in 0.3..3.0f64, b in -3.0..3.0f64, c in 0.01..0.4f64,
            t in -4.0..4.0f64, u in 0.0..=1.0f64,
        ) {
            let g = ItemParams::three_pl(a, b, c).unwrap().param_gradient(t, u);
            let ll = |a: f64, b: f64, c: f64| ItemParams::three_pl(a, b, c).unwrap().log_lik(t, u);
            let ga = numeric_d(|x| ll(x, b, c), a);
            let gb = numeric_d(|x| ll(a, x, c), b);
            let gc = numeric_d(|x| ll(a, b, x), c);
            // Relative tolerance: near c → 0 with θ far below b, ∂ℓ/∂c ≈ u/P is large (~90)
            // and the central difference's own error, h²·f'''/6, exceeds any fixed 1e-5.
            let close = |x: f64, y: f64| (x - y).abs() < 1e-5 * y.abs().max(1.0);
            prop_assert!(close(g[0], ga) && close(g[1], gb) && close(g[2], gc), "{g:?} vs {ga} {gb} {gc}");
        }
    }
}
