//! Classical item analysis for authors and reviewers, and the alerts it raises.
//!
//! For one item, from the learners' answers and their ability estimates θ at the time:
//!
//! * **difficulty** `p` — the share of correct labels (higher = easier);
//! * **point-biserial** `r_pb` — the Pearson correlation between the 0/1 label and θ:
//!   `r_pb = (M₁ − M₀) / s_θ · √(p (1 − p))`, with `M₁`, `M₀` the mean θ of correct and incorrect
//!   answers and `s_θ` the population SD of θ. Adaptive practice shows learners different items,
//!   so θ (not a total score) is the matching variable; a good item has `r_pb` ≳ 0.2;
//! * **discrimination index** `D = p_upper − p_lower` over the top and bottom 27 % by θ
//!   (Kelley 1939);
//! * **distractor analysis** — for every option, the share of each ability band that picked it
//!   and its own point-biserial: the key should be picked more as θ rises, a working distractor
//!   less.
//!
//! Alerts (thresholds in [`AlertRules`], documented defaults):
//!
//! * **likely miskey** — `r_pb` below `miskey_r` (default −0.05) or Kelley's index at or below
//!   `miskey_index` (−0.15), with at least `min_n` answers (default 30), or a distractor whose point-biserial exceeds the key's by `0.1` and is positive: the strong
//!   learners prefer another option;
//! * **possible leak** — in the recent window the item became much easier than before:
//!   `p_after − p_before ≥ leak_rise` (0.15) with the two-proportion z ≥ `z` (3), and, when model
//!   predictions are known, the recent answers beat them (standardised residual ≥ `z`);
//! * **drift** — any other change of difficulty with |z| ≥ `z` and |Δp| ≥ `drift_change` (0.10).
//!
//! The two-proportion test pools both windows: `z = (p₂ − p₁) / √(p̄ (1 − p̄) (1/n₁ + 1/n₂))`.
//! The residual test of a window is `Σ (y − P) / √Σ P (1 − P)` with P the model's probability
//! before each answer.

use crate::error::PsyError;

/// One learner's answer to the item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemResponse {
    /// The learner's ability estimate when answering.
    pub theta: f64,
    /// The label of the answer (correct or not).
    pub correct: bool,
    /// Options picked, as a bit mask (bit `i` = option `i`); 0 for open answers.
    pub picked: u64,
    /// When it was answered (any monotonic unit, e.g. Unix seconds).
    pub time: i64,
    /// The model's P(correct) before the answer, `NaN` when unknown.
    pub expected: f64,
}

/// Pick rates of one option by ability band.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OptionAnalysis {
    /// Option index (order of the item's options).
    pub option: usize,
    /// Whether it is a correct option.
    pub key: bool,
    /// Share of all answers that picked it.
    pub pick_rate: f64,
    /// Share of each band (lowest θ first) that picked it; `NaN` for an empty band.
    pub by_band: Vec<f64>,
    /// Point-biserial of picking it with θ; `None` when nobody or everybody picked it.
    pub point_biserial: Option<f64>,
}

/// The classical statistics of one item.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ItemAnalysis {
    /// Answers analysed.
    pub n: usize,
    /// Share correct.
    pub difficulty: f64,
    /// Point-biserial of the label with θ; `None` when θ or the label does not vary.
    pub point_biserial: Option<f64>,
    /// Kelley's upper-minus-lower 27 % index; `None` under 10 answers or when θ does not vary.
    pub discrimination_index: Option<f64>,
    /// Answers per ability band (lowest first).
    pub band_sizes: Vec<usize>,
    /// Options (empty for open answers).
    pub options: Vec<OptionAnalysis>,
}

/// Pearson correlation of a 0/1 variable with `x`; `None` without variance in either.
fn point_biserial(x: &[f64], flag: impl Fn(usize) -> bool) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let (mut s1, mut n1) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        if flag(i) {
            s1 += v;
            n1 += 1.0;
        }
    }
    let n0 = n - n1;
    if n1 == 0.0 || n0 == 0.0 || sd <= 1e-12 {
        return None;
    }
    let m1 = s1 / n1;
    let m0 = (mean * n - s1) / n0;
    let p = n1 / n;
    Some(((m1 - m0) / sd * (p * (1.0 - p)).sqrt()).clamp(-1.0, 1.0))
}

/// Analyses one item. `keys` is the bit mask of correct options, `n_options` their number (0
/// for an open answer), `bands` the number of ability bands (≥ 1) for the distractor table.
///
/// # Errors
/// [`PsyError::InvalidData`] without responses, with a non-finite θ, or more than 64 options.
pub fn analyse(
    responses: &[ItemResponse],
    n_options: usize,
    keys: u64,
    bands: usize,
) -> Result<ItemAnalysis, PsyError> {
    if responses.is_empty() {
        return Err(PsyError::InvalidData("no responses".into()));
    }
    if n_options > 64 {
        return Err(PsyError::InvalidData("more than 64 options".into()));
    }
    if responses.iter().any(|r| !r.theta.is_finite()) {
        return Err(PsyError::InvalidData("a non-finite ability".into()));
    }
    let n = responses.len();
    let theta: Vec<f64> = responses.iter().map(|r| r.theta).collect();
    let band_of = crate::dif::quantile_bands(&theta, bands);
    let bands = bands.max(1);
    let mut band_sizes = vec![0usize; bands];
    for &b in &band_of {
        band_sizes[b] += 1;
    }
    let correct = responses.iter().filter(|r| r.correct).count();
    let difficulty = correct as f64 / n as f64;
    let rpb = point_biserial(&theta, |i| responses[i].correct);

    // Kelley's index needs an upper and a lower group that differ in ability.
    let varies = theta.iter().any(|t| *t != theta[0]);
    let discrimination_index = (n >= 10 && varies).then(|| {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| theta[i].total_cmp(&theta[j]));
        let g = ((n as f64) * 0.27).round().max(1.0) as usize;
        let share = |idx: &[usize]| {
            idx.iter().filter(|&&i| responses[i].correct).count() as f64 / idx.len() as f64
        };
        share(&order[n - g..]) - share(&order[..g])
    });

    let options = (0..n_options)
        .map(|o| {
            let bit = 1u64 << o;
            let picked = |i: usize| responses[i].picked & bit != 0;
            let mut per_band = vec![0usize; bands];
            let mut total = 0usize;
            for (i, &b) in band_of.iter().enumerate() {
                if picked(i) {
                    per_band[b] += 1;
                    total += 1;
                }
            }
            OptionAnalysis {
                option: o,
                key: keys & bit != 0,
                pick_rate: total as f64 / n as f64,
                by_band: per_band
                    .iter()
                    .zip(&band_sizes)
                    .map(|(&k, &m)| {
                        if m == 0 {
                            f64::NAN
                        } else {
                            k as f64 / m as f64
                        }
                    })
                    .collect(),
                point_biserial: point_biserial(&theta, picked),
            }
        })
        .collect();

    Ok(ItemAnalysis {
        n,
        difficulty,
        point_biserial: rpb,
        discrimination_index,
        band_sizes,
        options,
    })
}

/// Difficulty before and after a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Shift {
    /// Answers before.
    pub n_before: usize,
    /// Share correct before.
    pub p_before: f64,
    /// Answers from the moment on.
    pub n_after: usize,
    /// Share correct from the moment on.
    pub p_after: f64,
    /// Two-proportion z of the change (positive: easier now).
    pub z: f64,
    /// Standardised residual of the recent answers against the model's predictions, when every
    /// recent answer has one.
    pub residual_z: Option<f64>,
}

/// Compares answers before `since` with answers at or after it; `None` when either side is
/// empty or nobody/everybody was right on both sides (no variance to test).
pub fn shift(responses: &[ItemResponse], since: i64) -> Option<Shift> {
    let (mut n1, mut k1, mut n2, mut k2) = (0usize, 0usize, 0usize, 0usize);
    let (mut resid, mut var, mut known) = (0.0, 0.0, true);
    for r in responses {
        if r.time < since {
            n1 += 1;
            k1 += usize::from(r.correct);
        } else {
            n2 += 1;
            k2 += usize::from(r.correct);
            if r.expected.is_finite() && (0.0..=1.0).contains(&r.expected) {
                resid += f64::from(u8::from(r.correct)) - r.expected;
                var += r.expected * (1.0 - r.expected);
            } else {
                known = false;
            }
        }
    }
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let pooled = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se <= 0.0 {
        return None;
    }
    Some(Shift {
        n_before: n1,
        p_before: p1,
        n_after: n2,
        p_after: p2,
        z: (p2 - p1) / se,
        residual_z: (known && var > 0.0).then(|| resid / var.sqrt()),
    })
}

/// Thresholds of the alerts (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertRules {
    /// Fewest answers before any alert.
    pub min_n: usize,
    /// Point-biserial below which the key is suspect.
    pub miskey_r: f64,
    /// Upper-minus-lower index at or below which the key is suspect.
    pub miskey_index: f64,
    /// |z| of a significant change.
    pub z: f64,
    /// Smallest rise of the share correct that suggests a leak.
    pub leak_rise: f64,
    /// Smallest change of the share correct called drift.
    pub drift_change: f64,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            min_n: 30,
            miskey_r: -0.05,
            miskey_index: -0.15,
            z: 3.0,
            leak_rise: 0.15,
            drift_change: 0.10,
        }
    }
}

/// Why an item needs a reviewer's look.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Alert {
    /// Strong learners get it wrong more than weak ones, or prefer a distractor.
    LikelyMiskey {
        /// The item's point-biserial.
        point_biserial: Option<f64>,
        /// The distractor the strong learners prefer, if one does.
        option: Option<usize>,
    },
    /// Much easier recently than before.
    PossibleLeak(Shift),
    /// Difficulty changed.
    Drift(Shift),
}

impl Alert {
    /// A stable code: `likely_miskey`, `possible_leak`, `drift`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LikelyMiskey { .. } => "likely_miskey",
            Self::PossibleLeak(_) => "possible_leak",
            Self::Drift(_) => "drift",
        }
    }
}

/// The alerts of an item from its analysis and, optionally, its shift around a recent moment.
pub fn alerts(analysis: &ItemAnalysis, shift: Option<&Shift>, rules: &AlertRules) -> Vec<Alert> {
    let mut out = Vec::new();
    if analysis.n < rules.min_n {
        return out;
    }
    let negative = analysis.point_biserial.is_some_and(|r| r < rules.miskey_r)
        || analysis
            .discrimination_index
            .is_some_and(|d| d <= rules.miskey_index);
    let key_r = analysis
        .options
        .iter()
        .filter(|o| o.key)
        .filter_map(|o| o.point_biserial)
        .fold(f64::NEG_INFINITY, f64::max);
    let preferred = analysis
        .options
        .iter()
        .filter(|o| !o.key)
        .filter_map(|o| o.point_biserial.map(|r| (o.option, r)))
        .filter(|&(_, r)| r > 0.0 && r > key_r + 0.1)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(o, _)| o);
    if negative || preferred.is_some() {
        out.push(Alert::LikelyMiskey {
            point_biserial: analysis.point_biserial,
            option: preferred,
        });
    }
    if let Some(s) = shift.filter(|s| s.n_before.min(s.n_after) >= rules.min_n / 2) {
        let rise = s.p_after - s.p_before;
        let beats_model = s.residual_z.is_none_or(|r| r >= rules.z);
        if rise >= rules.leak_rise && s.z >= rules.z && beats_model {
            out.push(Alert::PossibleLeak(*s));
        } else if rise.abs() >= rules.drift_change && s.z.abs() >= rules.z {
            out.push(Alert::Drift(*s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};

    fn resp(theta: f64, correct: bool, picked: u64) -> ItemResponse {
        ItemResponse {
            theta,
            correct,
            picked,
            time: 0,
            expected: f64::NAN,
        }
    }

    /// A QCS with key option 0 and distractors 1, 2; learners pick by a logistic rule.
    fn simulate(n: usize, key: usize, seed: u64) -> Vec<ItemResponse> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let theta: f64 = rng.random_range(-3.0..3.0);
                let p = 1.0 / (1.0 + (-(1.5 * theta)).exp());
                let pick = if rng.random::<f64>() < p {
                    0
                } else if rng.random::<f64>() < 0.5 {
                    1
                } else {
                    2
                };
                resp(theta, pick == key, 1 << pick)
            })
            .collect()
    }

    #[test]
    fn golden_small_item() {
        // θ = 1, 2, 3, 4 with labels 0, 0, 1, 1: M1 = 3.5, M0 = 1.5, s = √1.25, p = ½
        // r_pb = 2 / 1.1180 · 0.5 = 0.8944
        let r = [
            resp(1.0, false, 0b10),
            resp(2.0, false, 0b10),
            resp(3.0, true, 0b01),
            resp(4.0, true, 0b01),
        ];
        let a = analyse(&r, 2, 0b01, 2).unwrap();
        assert_eq!(a.n, 4);
        assert_eq!(a.difficulty, 0.5);
        assert!((a.point_biserial.unwrap() - 2.0 / 1.25_f64.sqrt() * 0.5).abs() < 1e-12);
        assert_eq!(a.band_sizes, vec![2, 2]);
        assert_eq!(a.options[0].by_band, vec![0.0, 1.0]);
        assert_eq!(a.options[1].by_band, vec![1.0, 0.0]);
        assert!(a.options[0].key && !a.options[1].key);
        assert_eq!(a.discrimination_index, None, "fewer than 10 answers");
    }

    #[test]
    fn a_good_item_raises_no_alert_and_a_miskeyed_one_does() {
        let good = simulate(600, 0, 7);
        let a = analyse(&good, 3, 0b001, 3).unwrap();
        assert!(a.point_biserial.unwrap() > 0.3, "{:?}", a.point_biserial);
        assert!(a.discrimination_index.unwrap() > 0.3);
        assert!(
            a.options[0].by_band[2] > a.options[0].by_band[0],
            "the key rises with θ"
        );
        assert!(alerts(&a, None, &AlertRules::default()).is_empty());

        // Same learners, but the stored key is option 1.
        let miskeyed = simulate(600, 1, 7);
        let m = analyse(&miskeyed, 3, 0b010, 3).unwrap();
        assert!(m.point_biserial.unwrap() < -0.05);
        let al = alerts(&m, None, &AlertRules::default());
        assert_eq!(
            al,
            vec![Alert::LikelyMiskey {
                point_biserial: m.point_biserial,
                option: Some(0)
            }]
        );
        assert_eq!(al[0].code(), "likely_miskey");
    }

    #[test]
    fn few_answers_raise_nothing() {
        let m = analyse(&simulate(20, 1, 3), 3, 0b010, 3).unwrap();
        assert!(alerts(&m, None, &AlertRules::default()).is_empty());
    }

    #[test]
    fn a_sudden_rise_is_a_leak_and_a_fall_is_drift() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut r = Vec::new();
        for t in 0..800 {
            let p = if t < 500 { 0.4 } else { 0.8 };
            let mut x = resp(0.0, rng.random::<f64>() < p, 0);
            x.time = t;
            x.expected = 0.4;
            r.push(x);
        }
        let a = analyse(&r, 0, 0, 3).unwrap();
        let s = shift(&r, 500).unwrap();
        assert_eq!((s.n_before, s.n_after), (500, 300));
        assert!(s.z > 3.0 && s.residual_z.unwrap() > 3.0);
        let al = alerts(&a, Some(&s), &AlertRules::default());
        assert!(matches!(al.as_slice(), [Alert::PossibleLeak(_)]), "{al:?}");

        // If the model expected the rise (stronger learners now), it is not a leak but drift.
        for x in r.iter_mut().filter(|x| x.time >= 500) {
            x.expected = 0.8;
        }
        let s = shift(&r, 500).unwrap();
        let al = alerts(&a, Some(&s), &AlertRules::default());
        assert!(matches!(al.as_slice(), [Alert::Drift(_)]), "{al:?}");

        // A fall is drift.
        for x in &mut r {
            x.correct = !x.correct;
        }
        let s = shift(&r, 500).unwrap();
        assert!(s.z < -3.0);
        let al = alerts(
            &analyse(&r, 0, 0, 3).unwrap(),
            Some(&s),
            &AlertRules::default(),
        );
        assert!(matches!(al.as_slice(), [Alert::Drift(_)]), "{al:?}");
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(analyse(&[], 2, 1, 3).is_err());
        assert!(analyse(&[resp(f64::NAN, true, 1)], 2, 1, 3).is_err());
        assert!(analyse(&[resp(0.0, true, 1)], 65, 1, 3).is_err());
        assert!(shift(&[resp(0.0, true, 1)], 10).is_none(), "nothing after");
    }

    proptest! {
        #[test]
        fn statistics_stay_in_range(
            rows in proptest::collection::vec((-4.0f64..4.0, any::<bool>(), 0u64..16), 1..200),
            bands in 1usize..6
        ) {
            let r: Vec<ItemResponse> = rows.iter().map(|&(t, c, p)| resp(t, c, p)).collect();
            let a = analyse(&r, 4, 0b0001, bands).unwrap();
            prop_assert!((0.0..=1.0).contains(&a.difficulty));
            prop_assert_eq!(a.band_sizes.iter().sum::<usize>(), r.len());
            if let Some(x) = a.point_biserial { prop_assert!((-1.0..=1.0).contains(&x)); }
            if let Some(d) = a.discrimination_index { prop_assert!((-1.0..=1.0).contains(&d)); }
            for o in &a.options {
                prop_assert!((0.0..=1.0).contains(&o.pick_rate));
                for v in &o.by_band { prop_assert!(v.is_nan() || (0.0..=1.0).contains(v)); }
            }
        }

        #[test]
        fn flipping_every_label_flips_the_point_biserial(
            rows in proptest::collection::vec((-4.0f64..4.0, any::<bool>()), 2..100)
        ) {
            let r: Vec<ItemResponse> = rows.iter().map(|&(t, c)| resp(t, c, 0)).collect();
            let f: Vec<ItemResponse> = rows.iter().map(|&(t, c)| resp(t, !c, 0)).collect();
            let (a, b) = (analyse(&r, 0, 0, 3).unwrap(), analyse(&f, 0, 0, 3).unwrap());
            match (a.point_biserial, b.point_biserial) {
                (Some(x), Some(y)) => prop_assert!((x + y).abs() < 1e-9),
                (None, None) => {}
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
