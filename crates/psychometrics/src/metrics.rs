//! Evaluation metrics for predicted probabilities of a correct answer against labels.
//!
//! The inputs are the model's P(correct) *before* each attempt and the observed label; never
//! a mastery value (spec §5.9). All functions are pure; the bootstrap takes its RNG.
//!
//! References: Brier, G. W. (1950) *Monthly Weather Review* 78(1); Hanley, J. A. & McNeil,
//! B. J. (1982) *Radiology* 143 (AUC as the Mann–Whitney statistic); Naeini, M. P., Cooper,
//! G. F. & Hauskrecht, M. (2015) Obtaining well calibrated probabilities using Bayesian
//! binning, *AAAI* (ECE); DeGroot, M. H. & Fienberg, S. E. (1983) *The Statistician* 32
//! (reliability diagrams); Efron, B. & Tibshirani, R. J. (1993) *An Introduction to the
//! Bootstrap*, ch. 13 (percentile intervals).

use rand::{Rng, RngExt};

use crate::error::PsyError;

/// Probabilities are clipped to `[1e−12, 1 − 1e−12]` inside logarithms (spec §5.9).
pub const LOG_LOSS_CLIP: f64 = 1e-12;

fn check(pred: &[f64], labels: &[bool]) -> Result<(), PsyError> {
    if pred.is_empty() || pred.len() != labels.len() {
        return Err(PsyError::InvalidData(format!(
            "need as many predictions as labels, and at least one (got {} and {})",
            pred.len(),
            labels.len()
        )));
    }
    if let Some(p) = pred
        .iter()
        .find(|p| !(p.is_finite() && (0.0..=1.0).contains(*p)))
    {
        return Err(PsyError::InvalidData(format!(
            "prediction {p} is not a probability"
        )));
    }
    Ok(())
}

/// Log-loss `−(1/N) Σ [y ln p + (1 − y) ln(1 − p)]`, p clipped to `[1e−12, 1 − 1e−12]`.
///
/// ```
/// # use myqcm_psychometrics::metrics::log_loss;
/// let v = log_loss(&[0.8, 0.4], &[true, false]).unwrap();
/// assert!((v - (-(0.8f64.ln() + 0.6f64.ln()) / 2.0)).abs() < 1e-12);
/// ```
///
/// # Errors
/// [`PsyError::InvalidData`] for empty or mismatched inputs or a prediction outside [0, 1].
pub fn log_loss(pred: &[f64], labels: &[bool]) -> Result<f64, PsyError> {
    check(pred, labels)?;
    let s: f64 = pred
        .iter()
        .zip(labels)
        .map(|(p, y)| {
            let p = p.clamp(LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP);
            if *y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Ok(s / pred.len() as f64)
}

/// Brier score `(1/N) Σ (p − y)²` (Brier, 1950).
///
/// ```
/// # use myqcm_psychometrics::metrics::brier;
/// assert!((brier(&[0.8, 0.4], &[true, false]).unwrap() - 0.1).abs() < 1e-12);
/// ```
///
/// # Errors
/// As [`log_loss`].
pub fn brier(pred: &[f64], labels: &[bool]) -> Result<f64, PsyError> {
    check(pred, labels)?;
    let s: f64 = pred
        .iter()
        .zip(labels)
        .map(|(p, y)| {
            let d = p - f64::from(u8::from(*y));
            d * d
        })
        .sum();
    Ok(s / pred.len() as f64)
}

/// Area under the ROC curve as the Mann–Whitney statistic with mid-ranks for ties
/// (Hanley & McNeil, 1982): `AUC = (R₁ − n₁(n₁ + 1)/2) / (n₁ n₀)`, R₁ the rank sum of the
/// positives. `None` if one class is absent.
///
/// ```
/// # use myqcm_psychometrics::metrics::auc;
/// assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap(), Some(0.75));
/// ```
///
/// # Errors
/// As [`log_loss`].
pub fn auc(pred: &[f64], labels: &[bool]) -> Result<Option<f64>, PsyError> {
    check(pred, labels)?;
    let n1 = labels.iter().filter(|y| **y).count();
    let n0 = labels.len() - n1;
    if n1 == 0 || n0 == 0 {
        return Ok(None);
    }
    let mut idx: Vec<usize> = (0..pred.len()).collect();
    idx.sort_by(|a, b| pred[*a].total_cmp(&pred[*b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && pred[idx[j + 1]] == pred[idx[i]] {
            j += 1;
        }
        // Mid-rank of the tie block i..=j (ranks are 1-based).
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * idx[i..=j].iter().filter(|k| labels[**k]).count() as f64;
        i = j + 1;
    }
    let (n1, n0) = (n1 as f64, n0 as f64);
    Ok(Some((rank_sum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)))
}

/// How the probability axis is cut into bins for calibration metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Binning {
    /// `B` bins of width `1/B` on [0, 1]; a prediction p goes to bin `min(⌊pB⌋, B − 1)`.
    EqualWidth,
    /// `B` bins with (as nearly as possible) equal counts after sorting the predictions; bin k
    /// holds sorted positions `⌊kN/B⌋ .. ⌊(k+1)N/B⌋` (ties may straddle a boundary).
    EqualMass,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReliabilityBin {
    /// Smallest prediction in the bin (or the bin's lower edge for equal width).
    pub lower: f64,
    /// Largest prediction in the bin (or the bin's upper edge for equal width).
    pub upper: f64,
    /// Number of predictions in the bin.
    pub count: usize,
    /// Mean prediction in the bin.
    pub mean_pred: f64,
    /// Observed frequency of correct answers in the bin.
    pub mean_obs: f64,
}

/// Reliability-diagram bins (DeGroot & Fienberg, 1983): per bin, the mean prediction and the
/// observed frequency. Empty bins are omitted.
///
/// ```
/// # use myqcm_psychometrics::metrics::{reliability_bins, Binning};
/// let bins = reliability_bins(&[0.1, 0.2, 0.9], &[false, true, true], 2, Binning::EqualWidth).unwrap();
/// assert_eq!(bins.len(), 2);
/// assert_eq!(bins[0].count, 2);
/// assert!((bins[0].mean_obs - 0.5).abs() < 1e-12);
/// ```
///
/// # Errors
/// As [`log_loss`], and [`PsyError::InvalidParameter`] for `bins == 0`.
pub fn reliability_bins(
    pred: &[f64],
    labels: &[bool],
    bins: usize,
    binning: Binning,
) -> Result<Vec<ReliabilityBin>, PsyError> {
    check(pred, labels)?;
    if bins == 0 {
        return Err(PsyError::InvalidParameter {
            name: "bins",
            value: 0.0,
            expected: "at least one bin",
        });
    }
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); bins];
    match binning {
        Binning::EqualWidth => {
            for (i, p) in pred.iter().enumerate() {
                let k = ((p * bins as f64) as usize).min(bins - 1);
                groups[k].push(i);
            }
        }
        Binning::EqualMass => {
            let mut idx: Vec<usize> = (0..pred.len()).collect();
            idx.sort_by(|a, b| pred[*a].total_cmp(&pred[*b]));
            let n = idx.len();
            for (k, g) in groups.iter_mut().enumerate() {
                g.extend_from_slice(&idx[k * n / bins..(k + 1) * n / bins]);
            }
        }
    }
    let out = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| !g.is_empty())
        .map(|(k, g)| {
            let count = g.len();
            let mean_pred = g.iter().map(|i| pred[*i]).sum::<f64>() / count as f64;
            let mean_obs = g.iter().filter(|i| labels[**i]).count() as f64 / count as f64;
            let (lower, upper) = match binning {
                Binning::EqualWidth => (k as f64 / bins as f64, (k + 1) as f64 / bins as f64),
                Binning::EqualMass => (
                    g.iter().map(|i| pred[*i]).fold(f64::INFINITY, f64::min),
                    g.iter().map(|i| pred[*i]).fold(f64::NEG_INFINITY, f64::max),
                ),
            };
            ReliabilityBin {
                lower,
                upper,
                count,
                mean_pred,
                mean_obs,
            }
        })
        .collect();
    Ok(out)
}

/// Expected calibration error `ECE = Σ_b (n_b / N) |ȳ_b − p̄_b|` over `bins` bins
/// (Naeini et al., 2015), equal-width or equal-mass.
///
/// ```
/// # use myqcm_psychometrics::metrics::{ece, Binning};
/// // Two bins: {0.1, 0.2} with ȳ = 0.5, p̄ = 0.15; {0.9} with ȳ = 1.
/// let v = ece(&[0.1, 0.2, 0.9], &[false, true, true], 2, Binning::EqualWidth).unwrap();
/// assert!((v - (2.0 / 3.0 * 0.35 + 1.0 / 3.0 * 0.1)).abs() < 1e-12);
/// ```
///
/// # Errors
/// As [`reliability_bins`].
pub fn ece(pred: &[f64], labels: &[bool], bins: usize, binning: Binning) -> Result<f64, PsyError> {
    let n = pred.len() as f64;
    Ok(reliability_bins(pred, labels, bins, binning)?
        .iter()
        .map(|b| b.count as f64 / n * (b.mean_obs - b.mean_pred).abs())
        .sum())
}

/// A point estimate with a two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConfidenceInterval {
    /// The metric on the full sample.
    pub estimate: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// Percentile bootstrap interval (Efron & Tibshirani, 1993, §13.3): resample the N
/// (prediction, label) pairs with replacement `n_boot` times, compute the metric on each
/// replicate, and take the `(1 − level)/2` and `(1 + level)/2` empirical quantiles. Replicates
/// where the metric is not finite (for example AUC with one class) are skipped.
///
/// ```
/// # use myqcm_psychometrics::metrics::{bootstrap_ci, brier};
/// # use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let p = [0.9, 0.8, 0.3, 0.2, 0.6, 0.4];
/// let y = [true, true, false, false, true, false];
/// let ci = bootstrap_ci(&p, &y, |p, y| brier(p, y).unwrap_or(f64::NAN), 200, 0.95, &mut rng).unwrap();
/// assert!(ci.lower <= ci.estimate && ci.estimate <= ci.upper);
/// ```
///
/// # Errors
/// As [`log_loss`]; [`PsyError::InvalidParameter`] if `level ∉ (0, 1)` or `n_boot == 0`;
/// [`PsyError::InvalidData`] if no replicate gave a finite value.
pub fn bootstrap_ci<R, F>(
    pred: &[f64],
    labels: &[bool],
    metric: F,
    n_boot: usize,
    level: f64,
    rng: &mut R,
) -> Result<ConfidenceInterval, PsyError>
where
    R: Rng + ?Sized,
    F: Fn(&[f64], &[bool]) -> f64,
{
    check(pred, labels)?;
    if !(level > 0.0 && level < 1.0) || n_boot == 0 {
        return Err(PsyError::InvalidParameter {
            name: "level",
            value: level,
            expected: "a level in (0, 1) and at least one replicate",
        });
    }
    let n = pred.len();
    let mut bp = vec![0.0; n];
    let mut by = vec![false; n];
    let mut stats = Vec::with_capacity(n_boot);
    for _ in 0..n_boot {
        for k in 0..n {
            let i = rng.random_range(0..n);
            bp[k] = pred[i];
            by[k] = labels[i];
        }
        let v = metric(&bp, &by);
        if v.is_finite() {
            stats.push(v);
        }
    }
    if stats.is_empty() {
        return Err(PsyError::InvalidData(
            "no bootstrap replicate gave a finite metric".into(),
        ));
    }
    stats.sort_by(f64::total_cmp);
    let q = |f: f64| {
        let pos = (f * (stats.len() - 1) as f64).round() as usize;
        stats[pos.min(stats.len() - 1)]
    };
    Ok(ConfidenceInterval {
        estimate: metric(pred, labels),
        lower: q((1.0 - level) / 2.0),
        upper: q((1.0 + level) / 2.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    #[test]
    fn hand_computed_small_case() {
        let p = [0.9, 0.7, 0.6, 0.2, 0.1];
        let y = [true, false, true, false, true];
        let ll = -(0.9f64.ln() + 0.3f64.ln() + 0.6f64.ln() + 0.8f64.ln() + 0.1f64.ln()) / 5.0;
        assert!((log_loss(&p, &y).unwrap() - ll).abs() < 1e-12);
        let br = (0.01 + 0.49 + 0.16 + 0.04 + 0.81) / 5.0;
        assert!((brier(&p, &y).unwrap() - br).abs() < 1e-12);
        // Positives 0.9, 0.6, 0.1 against negatives 0.7, 0.2: wins 2 + 1 + 0 = 3 of 6.
        assert_eq!(auc(&p, &y).unwrap(), Some(0.5));
        // Equal mass, 2 bins: sorted [0.1, 0.2] | [0.6, 0.7, 0.9].
        let e = ece(&p, &y, 2, Binning::EqualMass).unwrap();
        let hand = 2.0 / 5.0 * (0.5f64 - 0.15).abs() + 3.0 / 5.0 * (2.0f64 / 3.0 - 2.2 / 3.0).abs();
        assert!((e - hand).abs() < 1e-12);
    }

    #[test]
    fn auc_handles_ties_and_single_class() {
        assert_eq!(auc(&[0.5, 0.5], &[true, false]).unwrap(), Some(0.5));
        assert_eq!(auc(&[0.5, 0.7], &[true, true]).unwrap(), None);
        assert!(auc(&[0.5], &[true, false]).is_err());
        assert!(log_loss(&[1.5], &[true]).is_err());
        assert!(ece(&[0.5], &[true], 0, Binning::EqualWidth).is_err());
    }

    #[test]
    fn log_loss_clips_certain_mistakes() {
        let v = log_loss(&[1.0], &[false]).unwrap();
        assert!((v + LOG_LOSS_CLIP.ln()).abs() < 1e-3);
    }

    #[test]
    fn bootstrap_interval_covers_the_estimate_and_is_reproducible() {
        let p: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let y: Vec<bool> = (0..100).map(|i| i % 3 != 0).collect();
        let f = |p: &[f64], y: &[bool]| auc(p, y).ok().flatten().unwrap_or(f64::NAN);
        let a = bootstrap_ci(
            &p,
            &y,
            f,
            300,
            0.9,
            &mut rand::rngs::StdRng::seed_from_u64(5),
        )
        .unwrap();
        let b = bootstrap_ci(
            &p,
            &y,
            f,
            300,
            0.9,
            &mut rand::rngs::StdRng::seed_from_u64(5),
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(a.lower <= a.estimate && a.estimate <= a.upper);
        assert!(
            bootstrap_ci(
                &p,
                &y,
                f,
                10,
                1.0,
                &mut rand::rngs::StdRng::seed_from_u64(5)
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn perfectly_calibrated_bins_have_zero_ece(k in 1usize..6, reps in 1usize..5) {
            // In every bin the frequency equals the prediction exactly.
            let mut p = Vec::new();
            let mut y = Vec::new();
            for _ in 0..reps {
                p.extend_from_slice(&[0.25; 4]);
                y.extend_from_slice(&[true, false, false, false]);
                p.extend_from_slice(&[0.75; 4]);
                y.extend_from_slice(&[true, true, true, false]);
            }
            let e = ece(&p, &y, 2, Binning::EqualWidth).unwrap();
            prop_assert!(e.abs() < 1e-12);
            let bins = reliability_bins(&p, &y, k, Binning::EqualMass).unwrap();
            prop_assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), p.len());
        }

        #[test]
        fn auc_is_invariant_to_monotone_transforms(v in prop::collection::vec((0.0..1.0f64, prop::bool::ANY), 2..40)) {
            let p: Vec<f64> = v.iter().map(|x| x.0).collect();
            let y: Vec<bool> = v.iter().map(|x| x.1).collect();
            let q: Vec<f64> = p.iter().map(|x| x * x).collect();
            prop_assert_eq!(auc(&p, &y).unwrap(), auc(&q, &y).unwrap());
        }
    }
}
