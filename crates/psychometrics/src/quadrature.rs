//! A fixed quadrature grid over θ with normalised prior weights.
//!
//! Bock & Aitkin (1981) replace the integral over the ability distribution by a sum over
//! fixed nodes `X_q` with weights `A(X_q)`:
//!
//! ```text
//! ∫ f(θ) g(θ) dθ ≈ Σ_q f(X_q) A(X_q),   Σ_q A(X_q) = 1
//! ```
//!
//! We use equally spaced nodes on `[μ − wσ, μ + wσ]` and `A(X_q) ∝ φ((X_q − μ)/σ)`, the
//! rectangle rule on a normal density, which converges geometrically for smooth integrands
//! with Gaussian tails (Baker & Kim, 2004, §6.3). The same grid serves EAP scoring
//! ([`crate::ability`]) and calibration ([`crate::calibration`]).

use crate::error::PsyError;

/// Nodes and normalised weights of a quadrature rule over θ.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Quadrature {
    nodes: Vec<f64>,
    weights: Vec<f64>,
}

impl Quadrature {
    /// `n` equally spaced nodes on `[−w, w]` with standard-normal weights
    /// `A_q = φ(X_q) / Σ_r φ(X_r)`.
    ///
    /// ```
    /// # use myqcm_psychometrics::quadrature::Quadrature;
    /// let q = Quadrature::standard_normal(41, 6.0).unwrap();
    /// let mean: f64 = q.nodes().iter().zip(q.weights()).map(|(x, w)| x * w).sum();
    /// let var: f64 = q.nodes().iter().zip(q.weights()).map(|(x, w)| x * x * w).sum();
    /// assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-6);
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidParameter`] if `n < 3` or `w ≤ 0`.
    pub fn standard_normal(n: usize, half_width: f64) -> Result<Self, PsyError> {
        Self::normal(n, half_width, 0.0, 1.0)
    }

    /// `n` equally spaced nodes on `[μ − wσ, μ + wσ]`, weights proportional to the
    /// `N(μ, σ²)` density at the nodes.
    ///
    /// ```
    /// # use myqcm_psychometrics::quadrature::Quadrature;
    /// let q = Quadrature::normal(21, 5.0, 1.0, 2.0).unwrap();
    /// assert!((q.nodes()[0] + 9.0).abs() < 1e-12);
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidParameter`] if `n < 3`, `w ≤ 0` or `σ ≤ 0`.
    pub fn normal(n: usize, half_width: f64, mean: f64, sd: f64) -> Result<Self, PsyError> {
        if n < 3 {
            return Err(PsyError::InvalidParameter {
                name: "n",
                value: n as f64,
                expected: "at least 3 quadrature nodes",
            });
        }
        if !(half_width.is_finite() && half_width > 0.0) {
            return Err(PsyError::InvalidParameter {
                name: "half_width",
                value: half_width,
                expected: "a finite half-width > 0",
            });
        }
        if !(sd.is_finite() && sd > 0.0 && mean.is_finite()) {
            return Err(PsyError::InvalidParameter {
                name: "sd",
                value: sd,
                expected: "a finite standard deviation > 0 and a finite mean",
            });
        }
        let step = 2.0 * half_width / (n - 1) as f64;
        let z: Vec<f64> = (0..n).map(|q| -half_width + step * q as f64).collect();
        let nodes = z.iter().map(|z| mean + sd * z).collect();
        let weights = z.iter().map(|z| (-0.5 * z * z).exp()).collect();
        Self::new(nodes, weights)
    }

    /// A rule from explicit nodes and non-negative weights (normalised here to sum to 1).
    ///
    /// ```
    /// # use myqcm_psychometrics::quadrature::Quadrature;
    /// let q = Quadrature::new(vec![-1.0, 0.0, 1.0], vec![1.0, 2.0, 1.0]).unwrap();
    /// assert_eq!(q.weights(), &[0.25, 0.5, 0.25]);
    /// ```
    ///
    /// # Errors
    /// [`PsyError::InvalidData`] on length mismatch, fewer than 3 nodes, unsorted or
    /// non-finite nodes, or weights that are negative or sum to 0.
    pub fn new(nodes: Vec<f64>, weights: Vec<f64>) -> Result<Self, PsyError> {
        if nodes.len() != weights.len() || nodes.len() < 3 {
            return Err(PsyError::InvalidData(
                "quadrature needs at least 3 nodes and one weight per node".into(),
            ));
        }
        if nodes.iter().any(|x| !x.is_finite()) || nodes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(PsyError::InvalidData(
                "quadrature nodes must be finite and increasing".into(),
            ));
        }
        let total: f64 = weights.iter().sum();
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || total <= 0.0 {
            return Err(PsyError::InvalidData(
                "quadrature weights must be non-negative with a positive sum".into(),
            ));
        }
        let weights = weights.into_iter().map(|w| w / total).collect();
        Ok(Self { nodes, weights })
    }

    /// The nodes `X_q`, increasing.
    #[must_use]
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    /// The normalised weights `A(X_q)`.
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Number of nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a rule has at least 3 nodes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl Default for Quadrature {
    /// 41 nodes on [−6, 6] with N(0, 1) weights (spacing 0.3 logit).
    fn default() -> Self {
        let step = 0.3;
        let nodes: Vec<f64> = (0..41).map(|q| -6.0 + step * f64::from(q)).collect();
        let raw: Vec<f64> = nodes.iter().map(|z| (-0.5 * z * z).exp()).collect();
        let total: f64 = raw.iter().sum();
        Self {
            nodes,
            weights: raw.into_iter().map(|w| w / total).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matches_the_constructor() {
        let q = Quadrature::standard_normal(41, 6.0).unwrap();
        let d = Quadrature::default();
        for (x, y) in q.nodes().iter().zip(d.nodes()) {
            assert!((x - y).abs() < 1e-12);
        }
        for (x, y) in q.weights().iter().zip(d.weights()) {
            assert!((x - y).abs() < 1e-12);
        }
        assert_eq!(d.len(), 41);
        assert!(!d.is_empty());
    }

    #[test]
    fn invalid_rules_are_rejected() {
        assert!(Quadrature::standard_normal(2, 6.0).is_err());
        assert!(Quadrature::standard_normal(11, 0.0).is_err());
        assert!(Quadrature::normal(11, 4.0, 0.0, -1.0).is_err());
        assert!(Quadrature::new(vec![0.0, 0.0, 1.0], vec![1.0; 3]).is_err());
        assert!(Quadrature::new(vec![0.0, 1.0, 2.0], vec![0.0; 3]).is_err());
    }
}
