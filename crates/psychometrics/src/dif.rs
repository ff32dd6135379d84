//! Differential item functioning (DIF) by the Mantel–Haenszel procedure.
//!
//! An item shows DIF when learners of equal ability but of different groups (a locale, a
//! faculty, or the language of a linked translation) have different chances of answering it
//! correctly. Learners are matched on ability: the caller assigns every response a stratum
//! (for adaptive data, where learners see different items, a band of the ability estimate θ;
//! for fixed forms, the total score). Within stratum `k` the responses form a 2×2 table:
//!
//! | | correct | incorrect | total |
//! | --- | --- | --- | --- |
//! | reference group | `A_k` | `B_k` | `n_Rk` |
//! | focal group | `C_k` | `D_k` | `n_Fk` |
//! | total | `m_1k` | `m_0k` | `T_k` |
//!
//! The common odds ratio (Mantel & Haenszel 1959) is
//! `α_MH = Σ_k (A_k D_k / T_k) / Σ_k (B_k C_k / T_k)`; > 1 means the item favours the reference
//! group. On the ETS delta scale `Δ_MH = −2.35 ln α_MH` (negative: harder for the focal group).
//! Its standard error uses the Robins–Breslow–Greenland (1986) variance of `ln α_MH`:
//!
//! ```text
//! R_k = A_k D_k / T_k, S_k = B_k C_k / T_k, P_k = (A_k + D_k) / T_k, Q_k = (B_k + C_k) / T_k
//! Var(ln α) = Σ P_k R_k / (2 R²) + Σ (P_k S_k + Q_k R_k) / (2 R S) + Σ Q_k S_k / (2 S²)
//! ```
//!
//! and the test of no DIF is the Mantel–Haenszel chi-square with continuity correction,
//! `χ² = (|Σ A_k − Σ E(A_k)| − ½)² / Σ Var(A_k)` with `E(A_k) = n_Rk m_1k / T_k` and
//! `Var(A_k) = n_Rk n_Fk m_1k m_0k / (T_k² (T_k − 1))`, one degree of freedom.
//!
//! Classification (the ETS rule as described by Zwick 2012, ETS RR-12-08):
//! * **C** (large): `|Δ| ≥ 1.5` and `|Δ|` significantly above 1 (`(|Δ| − 1) / SE > 1.645`);
//! * **A** (negligible): `|Δ| < 1` or the chi-square is not significant at 0.05;
//! * **B** (moderate): otherwise.
//!
//! Strata where one group or one outcome is absent carry no information and are skipped.

use crate::error::PsyError;

/// Which group a response belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The reference group (e.g. the item's original language).
    Reference,
    /// The focal group (e.g. a translation, or learners of another locale).
    Focal,
}

/// One response: its group, its ability stratum and whether it was correct.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DifResponse {
    /// The learner's group.
    pub group: Group,
    /// The matching stratum (0-based band of ability or total score).
    pub stratum: usize,
    /// The label of the answer.
    pub correct: bool,
}

/// ETS size class of an item's DIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DifClass {
    /// Negligible.
    A,
    /// Moderate.
    B,
    /// Large.
    C,
}

impl DifClass {
    /// `"A"`, `"B"` or `"C"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
        }
    }
}

/// The Mantel–Haenszel statistics of one item.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MantelHaenszel {
    /// Responses in informative strata.
    pub n: usize,
    /// Informative strata (both groups and both outcomes present).
    pub strata: usize,
    /// Common odds ratio α_MH (reference over focal).
    pub alpha: f64,
    /// ETS delta, `−2.35 ln α`.
    pub delta: f64,
    /// Standard error of delta (Robins–Breslow–Greenland).
    pub delta_se: f64,
    /// Mantel–Haenszel chi-square with continuity correction (1 df).
    pub chi2: f64,
    /// Its p-value.
    pub p_value: f64,
    /// ETS class.
    pub class: DifClass,
}

/// Cells of one stratum: reference correct/incorrect, focal correct/incorrect.
#[derive(Debug, Clone, Copy, Default)]
struct Cells {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
}

/// The Mantel–Haenszel DIF statistics of one item from its responses.
///
/// Returns `Ok(None)` when no stratum is informative or the odds ratio is 0 or infinite (one
/// group always right or always wrong given ability): there is nothing to estimate.
///
/// ```
/// # use myqcm_psychometrics::dif::{mantel_haenszel, DifResponse, Group, DifClass};
/// // Two strata, the same odds in both groups: no DIF.
/// let mut r = Vec::new();
/// for (stratum, ok, ko) in [(0, 10, 30), (1, 30, 10)] {
///     for g in [Group::Reference, Group::Focal] {
///         r.extend(std::iter::repeat(DifResponse { group: g, stratum, correct: true }).take(ok));
///         r.extend(std::iter::repeat(DifResponse { group: g, stratum, correct: false }).take(ko));
///     }
/// }
/// let mh = mantel_haenszel(&r).unwrap().unwrap();
/// assert!((mh.alpha - 1.0).abs() < 1e-12);
/// assert_eq!(mh.class, DifClass::A);
/// ```
///
/// # Errors
/// [`PsyError::InvalidData`] when `responses` is empty.
pub fn mantel_haenszel(responses: &[DifResponse]) -> Result<Option<MantelHaenszel>, PsyError> {
    if responses.is_empty() {
        return Err(PsyError::InvalidData("no responses".into()));
    }
    let n_strata = responses.iter().map(|r| r.stratum).max().unwrap_or(0) + 1;
    let mut cells = vec![Cells::default(); n_strata];
    for r in responses {
        let c = &mut cells[r.stratum];
        match (r.group, r.correct) {
            (Group::Reference, true) => c.a += 1.0,
            (Group::Reference, false) => c.b += 1.0,
            (Group::Focal, true) => c.c += 1.0,
            (Group::Focal, false) => c.d += 1.0,
        }
    }
    let (mut r_sum, mut s_sum) = (0.0, 0.0);
    let (mut pr, mut ps_qr, mut qs) = (0.0, 0.0, 0.0);
    let (mut a_sum, mut e_sum, mut v_sum) = (0.0, 0.0, 0.0);
    let (mut n, mut strata) = (0usize, 0usize);
    for k in &cells {
        let (n_r, n_f) = (k.a + k.b, k.c + k.d);
        let (m1, m0) = (k.a + k.c, k.b + k.d);
        let t = n_r + n_f;
        if n_r == 0.0 || n_f == 0.0 || m1 == 0.0 || m0 == 0.0 || t < 2.0 {
            continue;
        }
        strata += 1;
        n += t as usize;
        let rk = k.a * k.d / t;
        let sk = k.b * k.c / t;
        let pk = (k.a + k.d) / t;
        let qk = (k.b + k.c) / t;
        r_sum += rk;
        s_sum += sk;
        pr += pk * rk;
        ps_qr += pk * sk + qk * rk;
        qs += qk * sk;
        a_sum += k.a;
        e_sum += n_r * m1 / t;
        v_sum += n_r * n_f * m1 * m0 / (t * t * (t - 1.0));
    }
    if strata == 0 || r_sum == 0.0 || s_sum == 0.0 || v_sum == 0.0 {
        return Ok(None);
    }
    let alpha = r_sum / s_sum;
    let var_ln =
        pr / (2.0 * r_sum * r_sum) + ps_qr / (2.0 * r_sum * s_sum) + qs / (2.0 * s_sum * s_sum);
    let delta = -2.35 * alpha.ln();
    let delta_se = 2.35 * var_ln.sqrt();
    let dev = ((a_sum - e_sum).abs() - 0.5).max(0.0);
    let chi2 = dev * dev / v_sum;
    let p_value = chi2_1df_sf(chi2);
    Ok(Some(MantelHaenszel {
        n,
        strata,
        alpha,
        delta,
        delta_se,
        chi2,
        p_value,
        class: classify(delta, delta_se, p_value),
    }))
}

/// The ETS class from delta, its standard error and the chi-square p-value (module docs).
pub fn classify(delta: f64, delta_se: f64, p_value: f64) -> DifClass {
    let size = delta.abs();
    if size < 1.0 || p_value >= 0.05 {
        DifClass::A
    } else if size >= 1.5 && delta_se > 0.0 && (size - 1.0) / delta_se > 1.645 {
        DifClass::C
    } else {
        DifClass::B
    }
}

/// Survival function of the chi-square distribution with one degree of freedom:
/// `P(X ≥ x) = erfc(√(x/2))`.
pub fn chi2_1df_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    libm::erfc((x / 2.0).sqrt())
}

/// Cuts `values` into `bands` groups of about equal size by their rank (ties share a band) and
/// returns each value's band, 0 = lowest. Used to match learners on θ.
pub fn quantile_bands(values: &[f64], bands: usize) -> Vec<usize> {
    let n = values.len();
    let bands = bands.max(1);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut out = vec![0; n];
    let mut k = 0;
    while k < n {
        let v = values[order[k]];
        let start = k;
        while k < n && values[order[k]] == v {
            k += 1;
        }
        // The band of a tie group is that of its first member's rank.
        let band = (start * bands / n).min(bands - 1);
        for &i in &order[start..k] {
            out[i] = band;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(strata: &[[usize; 4]]) -> Vec<DifResponse> {
        let mut out = Vec::new();
        for (s, cells) in strata.iter().enumerate() {
            let groups = [
                (Group::Reference, true),
                (Group::Reference, false),
                (Group::Focal, true),
                (Group::Focal, false),
            ];
            for ((group, correct), n) in groups.into_iter().zip(cells) {
                out.extend(std::iter::repeat_n(
                    DifResponse {
                        group,
                        stratum: s,
                        correct,
                    },
                    *n,
                ));
            }
        }
        out
    }

    #[test]
    fn golden_two_strata() {
        // Stratum 1: A=20 B=10 C=10 D=20 (T=60); stratum 2: A=30 B=5 C=20 D=15 (T=70).
        // R = 20·20/60 + 30·15/70 = 6.6667 + 6.4286 = 13.0952
        // S = 10·10/60 + 5·20/70  = 1.6667 + 1.4286 = 3.0952
        // α = 4.2308, Δ = −2.35 ln α = −3.3894
        let mh = mantel_haenszel(&table(&[[20, 10, 10, 20], [30, 5, 20, 15]]))
            .unwrap()
            .unwrap();
        assert!(
            (mh.alpha - 13.095_238 / 3.095_238).abs() < 1e-5,
            "{}",
            mh.alpha
        );
        assert!((mh.delta - (-2.35 * (13.095_238_f64 / 3.095_238).ln())).abs() < 1e-5);
        // ΣA = 50; E = 30·30/60 + 35·50/70 = 15 + 25 = 40;
        // V = 30·30·30·30/(3600·59) + 35·35·50·20/(4900·69) = 3.8136 + 3.6232 = 7.4368
        // χ² = (10 − 0.5)² / 7.4368 = 12.1357
        assert!((mh.chi2 - 90.25 / (810_000.0 / 212_400.0 + 1_225_000.0 / 338_100.0)).abs() < 1e-9);
        assert!(mh.p_value < 0.001);
        assert_eq!(mh.class, DifClass::C);
        assert_eq!(mh.strata, 2);
        assert_eq!(mh.n, 130);
    }

    #[test]
    fn chi_square_tail_matches_tables() {
        // 3.841 is the 0.95 quantile of χ²(1); 6.635 the 0.99 one.
        assert!((chi2_1df_sf(3.841_459) - 0.05).abs() < 1e-6);
        assert!((chi2_1df_sf(6.634_897) - 0.01).abs() < 1e-6);
        assert_eq!(chi2_1df_sf(0.0), 1.0);
    }

    #[test]
    fn uninformative_strata_are_skipped_and_nothing_left_is_none() {
        // Only the reference group answered: nothing to compare.
        assert_eq!(mantel_haenszel(&table(&[[5, 5, 0, 0]])).unwrap(), None);
        // A stratum without the focal group does not change the result.
        let with = mantel_haenszel(&table(&[[20, 10, 10, 20], [7, 3, 0, 0]]))
            .unwrap()
            .unwrap();
        let without = mantel_haenszel(&table(&[[20, 10, 10, 20]]))
            .unwrap()
            .unwrap();
        assert_eq!(with.alpha, without.alpha);
        assert_eq!(with.strata, 1);
        assert!(mantel_haenszel(&[]).is_err());
    }

    #[test]
    fn classes_follow_the_ets_rule() {
        assert_eq!(classify(-0.9, 0.1, 0.0001), DifClass::A);
        assert_eq!(classify(-2.0, 0.1, 0.2), DifClass::A);
        assert_eq!(classify(-1.2, 0.1, 0.001), DifClass::B);
        assert_eq!(
            classify(1.6, 0.5, 0.001),
            DifClass::B,
            "not significantly above 1"
        );
        assert_eq!(classify(1.6, 0.2, 0.001), DifClass::C);
    }

    #[test]
    fn bands_are_balanced_and_keep_ties_together() {
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let b = quantile_bands(&v, 4);
        for band in 0..4 {
            assert_eq!(b.iter().filter(|&&x| x == band).count(), 25);
        }
        let t = quantile_bands(&[1.0, 1.0, 1.0, 2.0], 2);
        assert_eq!(t, vec![0, 0, 0, 1]);
    }

    proptest! {
        #[test]
        fn swapping_groups_inverts_the_odds_ratio(
            cells in proptest::collection::vec(proptest::array::uniform4(1usize..40), 1..6)
        ) {
            let a = mantel_haenszel(&table(&cells)).unwrap().unwrap();
            let swapped: Vec<[usize; 4]> = cells.iter().map(|c| [c[2], c[3], c[0], c[1]]).collect();
            let b = mantel_haenszel(&table(&swapped)).unwrap().unwrap();
            prop_assert!((a.alpha * b.alpha - 1.0).abs() < 1e-9);
            prop_assert!((a.delta + b.delta).abs() < 1e-9);
            prop_assert!((a.chi2 - b.chi2).abs() < 1e-9);
            prop_assert!((a.delta_se - b.delta_se).abs() < 1e-9);
            prop_assert!((0.0..=1.0).contains(&a.p_value));
        }

        #[test]
        fn identical_groups_show_no_dif(
            cells in proptest::collection::vec(proptest::array::uniform2(1usize..40), 1..6)
        ) {
            let same: Vec<[usize; 4]> = cells.iter().map(|c| [c[0], c[1], c[0], c[1]]).collect();
            let mh = mantel_haenszel(&table(&same)).unwrap().unwrap();
            prop_assert!((mh.alpha - 1.0).abs() < 1e-9);
            prop_assert_eq!(mh.class, DifClass::A);
        }
    }
}
