//! Choosing the next unit (a single item or a clinical case served as one block).
//!
//! Each eligible unit u gets a score that adds weighted, [0, 1]-scaled components:
//!
//! ```text
//! info_u   = Σ_{j ∈ u} I_j(θ̂) / max_v Σ_{j ∈ v} I_j(θ̂)        (most informative; Lord, 1980, ch. 10)
//! weak_u   = mean_{k ∈ KC(u)} (1 − m_k)                          (weak KCs)
//! unsure_u = mean_{k ∈ KC(u)} 4 m_k (1 − m_k)                    (uncertain KCs)
//! due_u    ∈ [0, 1], e.g. 1 − R from the memory model           (due reviews)
//! gap_u    ∈ [0, 1], blueprint target share minus achieved       (blueprint gaps)
//! score_u  = w_i info_u + w_w weak_u + w_n unsure_u + w_d due_u + w_b gap_u
//! ```
//!
//! Units administered inside the no-repeat window are never eligible. A clinical case's
//! information is the sum over its sub-items (DECISIONS: "selection treats a case as one unit").
//! With probability ε a uniformly random eligible unit is served (exploration); otherwise
//! exposure control picks among the best: randomesque (uniform among the top n; Kingsbury &
//! Zara, 1989) or Sympson–Hetter (walk down the ranking and administer unit u with
//! probability k_u; Sympson & Hetter, 1985). Every choice carries a [`ReasonCode`]: the
//! component by which the unit exceeds the candidates' mean the most (else its largest
//! component), or `Exploration`.
//!
//! All randomness comes from the RNG passed in; with a seeded RNG the choice is reproducible.

use rand::{Rng, RngExt};

use crate::irt::{ItemModel, ItemParams};

/// Why a unit was served (shown to the learner as "why this question").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReasonCode {
    /// A spaced-repetition review is due.
    DueReview,
    /// The unit targets weak or uncertain knowledge components.
    WeakKc,
    /// The unit is the most informative about the learner's θ.
    MostInformative,
    /// The unit fills a gap in the exam blueprint.
    BlueprintGap,
    /// Chosen at random to explore (ε-greedy).
    Exploration,
}

/// A candidate unit: one item, or a clinical case whose sub-items are served together.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Caller's identifier (item or case id), used by the no-repeat window.
    pub id: u64,
    /// IRT parameters of the unit's items (one for a single item).
    pub items: Vec<ItemParams>,
    /// Indices of the unit's knowledge components into [`LearnerView::kc_mastery`].
    pub kcs: Vec<usize>,
    /// How due a review of this unit is, in [0, 1] (0 = not due).
    pub due: f64,
    /// Blueprint gap of the unit's subject or KC, in [0, 1].
    pub blueprint_gap: f64,
    /// Sympson–Hetter exposure parameter k_u in (0, 1]: probability of administering the unit
    /// once selected (1 = no restriction).
    pub exposure_k: f64,
}

/// What selection needs to know about the learner.
#[derive(Debug, Clone, Copy)]
pub struct LearnerView<'a> {
    /// Current ability estimate θ̂ (EAP).
    pub theta: f64,
    /// BKT mastery per KC index; KCs beyond the slice count as mastery 0.5.
    pub kc_mastery: &'a [f64],
    /// Ids served inside the no-repeat window (never eligible).
    pub recent: &'a [u64],
}

/// Exposure-control method.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Exposure {
    /// Always the top-scored unit.
    None,
    /// Uniform choice among the `top_n` best units (Kingsbury & Zara, 1989).
    Randomesque {
        /// How many of the best units share the draw.
        top_n: usize,
    },
    /// Sympson–Hetter: administer the k-th best with probability `exposure_k`, else go on.
    SympsonHetter,
}

/// Weights of the score components and the exploration rate.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SelectionPolicy {
    /// Weight of scaled information.
    pub w_info: f64,
    /// Weight of KC weakness `1 − m`.
    pub w_weak: f64,
    /// Weight of KC uncertainty `4m(1 − m)`.
    pub w_uncertain: f64,
    /// Weight of due reviews.
    pub w_due: f64,
    /// Weight of blueprint gaps.
    pub w_blueprint: f64,
    /// Probability ε of a uniformly random eligible unit.
    pub epsilon: f64,
    /// Exposure control among the best units.
    pub exposure: Exposure,
}

impl Default for SelectionPolicy {
    /// Information 1, weakness 0.6, uncertainty 0.3, due 1.2, blueprint 0.5, ε = 0.05,
    /// randomesque among the top 3.
    fn default() -> Self {
        Self {
            w_info: 1.0,
            w_weak: 0.6,
            w_uncertain: 0.3,
            w_due: 1.2,
            w_blueprint: 0.5,
            epsilon: 0.05,
            exposure: Exposure::Randomesque { top_n: 3 },
        }
    }
}

/// The chosen unit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Selection {
    /// Index into the candidate slice.
    pub index: usize,
    /// The unit's id.
    pub id: u64,
    /// Why it was chosen.
    pub reason: ReasonCode,
    /// Its total score (reported for exploration picks too).
    pub score: f64,
}

const REASONS: [ReasonCode; 4] = [
    ReasonCode::MostInformative,
    ReasonCode::WeakKc,
    ReasonCode::DueReview,
    ReasonCode::BlueprintGap,
];

/// Summed Fisher information of a unit at θ: `Σ_{j ∈ u} I_j(θ)`.
///
/// ```
/// # use myqcm_psychometrics::{irt::ItemParams, selection::unit_information};
/// let i = ItemParams::two_pl(2.0, 0.0).unwrap();
/// assert!((unit_information(&[i, i], 0.0) - 2.0).abs() < 1e-12);
/// ```
#[must_use]
pub fn unit_information(items: &[ItemParams], theta: f64) -> f64 {
    items.iter().map(|i| i.information(theta)).sum()
}

/// Chooses the next unit (see the module documentation for the score). Returns `None` when no
/// unit is eligible (all in the window or the slice is empty).
///
/// ```
/// # use myqcm_psychometrics::{irt::ItemParams, selection::*};
/// # use rand::SeedableRng;
/// let unit = |id, b| Unit { id, items: vec![ItemParams::two_pl(1.5, b).unwrap()], kcs: vec![],
///     due: 0.0, blueprint_gap: 0.0, exposure_k: 1.0 };
/// let units = [unit(1, -2.0), unit(2, 0.1), unit(3, 2.5)];
/// let learner = LearnerView { theta: 0.0, kc_mastery: &[], recent: &[] };
/// let policy = SelectionPolicy { epsilon: 0.0, exposure: Exposure::None, ..Default::default() };
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let s = select_next(&units, &learner, &policy, &mut rng).unwrap();
/// assert_eq!((s.id, s.reason), (2, ReasonCode::MostInformative));
/// ```
pub fn select_next<R: Rng + ?Sized>(
    units: &[Unit],
    learner: &LearnerView<'_>,
    policy: &SelectionPolicy,
    rng: &mut R,
) -> Option<Selection> {
    let mut recent = learner.recent.to_vec();
    recent.sort_unstable();
    let eligible: Vec<usize> = (0..units.len())
        .filter(|i| recent.binary_search(&units[*i].id).is_err())
        .collect();
    if eligible.is_empty() {
        return None;
    }
    let infos: Vec<f64> = eligible
        .iter()
        .map(|i| unit_information(&units[*i].items, learner.theta))
        .collect();
    let max_info = infos.iter().copied().fold(0.0f64, f64::max);
    let mastery = |k: usize| {
        learner
            .kc_mastery
            .get(k)
            .copied()
            .unwrap_or(0.5)
            .clamp(0.0, 1.0)
    };
    // Per eligible unit: the four weighted components, in REASONS order.
    let parts: Vec<[f64; 4]> = eligible
        .iter()
        .zip(&infos)
        .map(|(i, info)| {
            let u = &units[*i];
            let info_n = if max_info > 0.0 { info / max_info } else { 0.0 };
            let (weak, unsure) = if u.kcs.is_empty() {
                (0.0, 0.0)
            } else {
                let n = u.kcs.len() as f64;
                let w = u.kcs.iter().map(|k| 1.0 - mastery(*k)).sum::<f64>() / n;
                let s = u
                    .kcs
                    .iter()
                    .map(|k| 4.0 * mastery(*k) * (1.0 - mastery(*k)))
                    .sum::<f64>()
                    / n;
                (w, s)
            };
            [
                policy.w_info * info_n,
                policy.w_weak * weak + policy.w_uncertain * unsure,
                policy.w_due * u.due.clamp(0.0, 1.0),
                policy.w_blueprint * u.blueprint_gap.clamp(0.0, 1.0),
            ]
        })
        .collect();
    let mut mean = [0.0; 4];
    for p in &parts {
        for (m, v) in mean.iter_mut().zip(p) {
            *m += v / parts.len() as f64;
        }
    }
    // The reason is the component by which the unit stands out most above the candidates'
    // mean ("why this one rather than the others"); with no contrast, the largest component.
    let scored: Vec<(f64, ReasonCode)> = parts
        .iter()
        .map(|p| {
            let argmax = |f: &dyn Fn(usize) -> f64| {
                (1..4).fold(0, |best, k| if f(k) > f(best) { k } else { best })
            };
            let k = argmax(&|k| p[k] - mean[k]);
            let k = if p[k] - mean[k] > 1e-12 {
                k
            } else {
                argmax(&|k| p[k])
            };
            (p.iter().sum(), REASONS[k])
        })
        .collect();
    let pick = |pos: usize, reason: ReasonCode| Selection {
        index: eligible[pos],
        id: units[eligible[pos]].id,
        reason,
        score: scored[pos].0,
    };
    if policy.epsilon > 0.0 && rng.random::<f64>() < policy.epsilon {
        let pos = rng.random_range(0..eligible.len());
        return Some(pick(pos, ReasonCode::Exploration));
    }
    // Ranking: score descending, ties by position (stable, so deterministic).
    let by_score = |a: &usize, b: &usize| scored[*b].0.total_cmp(&scored[*a].0).then(a.cmp(b));
    let pos = match policy.exposure {
        Exposure::None => (0..eligible.len()).min_by(by_score)?,
        Exposure::Randomesque { top_n } => {
            let n = top_n.clamp(1, eligible.len());
            let mut order: Vec<usize> = (0..eligible.len()).collect();
            if n < order.len() {
                order.select_nth_unstable_by(n - 1, by_score);
                order.truncate(n);
            }
            order.sort_by(by_score);
            order[rng.random_range(0..n)]
        }
        Exposure::SympsonHetter => {
            let mut order: Vec<usize> = (0..eligible.len()).collect();
            order.sort_by(by_score);
            let mut chosen = order[order.len() - 1];
            for p in &order {
                let k = units[eligible[*p]].exposure_k.clamp(0.0, 1.0);
                if rng.random::<f64>() < k {
                    chosen = *p;
                    break;
                }
            }
            chosen
        }
    };
    Some(pick(pos, scored[pos].1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{SeedableRng, rngs::StdRng};

    fn unit(id: u64, b: f64) -> Unit {
        Unit {
            id,
            items: vec![ItemParams::two_pl(1.2, b).unwrap()],
            kcs: vec![],
            due: 0.0,
            blueprint_gap: 0.0,
            exposure_k: 1.0,
        }
    }

    fn greedy() -> SelectionPolicy {
        SelectionPolicy {
            epsilon: 0.0,
            exposure: Exposure::None,
            ..SelectionPolicy::default()
        }
    }

    proptest! {
        #[test]
        fn never_serves_a_unit_inside_the_no_repeat_window(
            bs in prop::collection::vec(-3.0..3.0f64, 1..30),
            window in prop::collection::vec(0u64..30, 0..30),
            seed in 0u64..1000, theta in -3.0..3.0f64,
        ) {
            let units: Vec<Unit> = bs.iter().enumerate().map(|(i, b)| unit(i as u64, *b)).collect();
            let learner = LearnerView { theta, kc_mastery: &[], recent: &window };
            let mut rng = StdRng::seed_from_u64(seed);
            for exposure in [Exposure::None, Exposure::Randomesque { top_n: 4 }, Exposure::SympsonHetter] {
                let policy = SelectionPolicy { epsilon: 0.2, exposure, ..SelectionPolicy::default() };
                match select_next(&units, &learner, &policy, &mut rng) {
                    Some(s) => prop_assert!(!window.contains(&s.id)),
                    None => prop_assert!(units.iter().all(|u| window.contains(&u.id))),
                }
            }
        }
    }

    #[test]
    fn reason_codes_follow_the_dominant_component() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut due = unit(10, 3.0);
        due.due = 1.0;
        let mut weak = unit(11, 3.0);
        weak.kcs = vec![0];
        let mut gap = unit(12, 3.0);
        gap.blueprint_gap = 1.0;
        let learner = LearnerView {
            theta: 0.0,
            kc_mastery: &[0.05],
            recent: &[],
        };
        let s = select_next(&[due.clone(), unit(1, 0.0)], &learner, &greedy(), &mut rng).unwrap();
        assert_eq!((s.id, s.reason), (10, ReasonCode::DueReview));
        let s = select_next(&[weak, unit(1, 3.0)], &learner, &greedy(), &mut rng).unwrap();
        assert_eq!((s.id, s.reason), (11, ReasonCode::WeakKc));
        let policy = SelectionPolicy {
            w_blueprint: 2.0,
            ..greedy()
        };
        let s = select_next(&[gap, unit(1, 0.0)], &learner, &policy, &mut rng).unwrap();
        assert_eq!((s.id, s.reason), (12, ReasonCode::BlueprintGap));
        let explore = SelectionPolicy {
            epsilon: 1.0,
            ..greedy()
        };
        let s = select_next(&[due], &learner, &explore, &mut rng).unwrap();
        assert_eq!(s.reason, ReasonCode::Exploration);
    }

    #[test]
    fn a_clinical_case_counts_its_summed_information() {
        let case = Unit {
            items: vec![ItemParams::two_pl(1.0, 0.5).unwrap(); 3],
            ..unit(7, 0.0)
        };
        let single = Unit {
            items: vec![ItemParams::two_pl(1.5, 0.0).unwrap()],
            ..unit(8, 0.0)
        };
        let learner = LearnerView {
            theta: 0.0,
            kc_mastery: &[],
            recent: &[],
        };
        let mut rng = StdRng::seed_from_u64(3);
        let s = select_next(&[single, case], &learner, &greedy(), &mut rng).unwrap();
        assert_eq!(s.id, 7);
    }

    #[test]
    fn seeded_choices_are_reproducible_and_exposure_spreads_them() {
        let units: Vec<Unit> = (0..50).map(|i| unit(i, -1.0 + 0.04 * i as f64)).collect();
        let learner = LearnerView {
            theta: 0.0,
            kc_mastery: &[],
            recent: &[],
        };
        let policy = SelectionPolicy::default();
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..40)
                .map(|_| select_next(&units, &learner, &policy, &mut rng).unwrap().id)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        let mut ids = run(9);
        ids.sort_unstable();
        ids.dedup();
        assert!(ids.len() >= 3);
        // Sympson–Hetter with k = 0 for the best unit never serves it.
        let mut sh_units = units.clone();
        let best = select_next(&units, &learner, &greedy(), &mut StdRng::seed_from_u64(0)).unwrap();
        sh_units[best.index].exposure_k = 0.0;
        let sh = SelectionPolicy {
            exposure: Exposure::SympsonHetter,
            ..greedy()
        };
        let mut rng = StdRng::seed_from_u64(4);
        for _ in 0..50 {
            assert_ne!(
                select_next(&sh_units, &learner, &sh, &mut rng).unwrap().id,
                best.id
            );
        }
        assert!(select_next(&[], &learner, &sh, &mut rng).is_none());
    }
}
