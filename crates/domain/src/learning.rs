//! The learner's state and its update after one graded answer, free of I/O.
//!
//! Three models, all fed the **label** (correct/incorrect from [`crate::scoring`]):
//! * **ability** θ per (learner, subject): a normal approximation N(θ̂, SE²) of the posterior
//!   is stored; each answer rebuilds a quadrature grid from it
//!   ([`Quadrature::normal`], 41 nodes over ±5 SE), applies the exact Bayes update of
//!   [`AbilityPosterior::observe`] and keeps the EAP and posterior SD (Owen's sequential
//!   normal approximation, 1975). Two numbers per row; the grid follows θ̂ and narrows with
//!   the SE, so resolution grows with evidence.
//! * **mastery** per (learner, KC): BKT with the KC's parameters (observe, then learn); a KC met
//!   for the first time starts at its own `p_init`; the evidence count is kept.
//! * **memory** per (learner, item): FSRS through [`MemoryModel`]; the rating comes from
//!   [`rating_for_answer`] with the IRT P(correct) before the answer and the item's guessing
//!   floor `c`, so a probably lucky guess is rated Hard, not Good.
//!
//! [`predict`] gives the model's P(correct) before an attempt: the posterior predictive
//! `Σ_q π_q P(X_q)` of the IRT model (the served prediction), and the BKT prediction beside it.
//!
//! Item parameters come from the active parameter set, else from [`prior_item_params`]
//! (set 0, documented in `docs/ADAPTIVE.md`).

use myqcm_psychometrics::ability::AbilityPosterior;
use myqcm_psychometrics::bkt::{BktParams, p_correct_multi};
use myqcm_psychometrics::irt::ItemParams;
use myqcm_psychometrics::memory::{MemoryModel, MemoryState, Rating, rating_for_answer};
use myqcm_psychometrics::quadrature::Quadrature;

use crate::catalogue::{Difficulty, ItemKind};

/// Quadrature nodes of the per-answer grid.
pub const GRID_NODES: usize = 41;
/// Half-width of the grid, in posterior SDs.
pub const GRID_HALF_WIDTH: f64 = 5.0;
/// Smallest SE kept (the grid needs a positive width; 0.05 logit is far below any real SE).
pub const MIN_SE: f64 = 0.05;
/// Milliseconds in a day (memory intervals are in days).
pub const DAY_MS: i64 = 86_400_000;

/// A failure of the models (invalid stored numbers, FSRS failure).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("learner model: {0}")]
pub struct LearningError(pub String);

impl From<myqcm_psychometrics::PsyError> for LearningError {
    fn from(e: myqcm_psychometrics::PsyError) -> Self {
        Self(e.to_string())
    }
}

/// θ̂ ± SE of one learner in one subject, and the number of answers absorbed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ability {
    /// EAP estimate, logit scale.
    pub theta: f64,
    /// Posterior SD.
    pub se: f64,
    /// Graded answers absorbed.
    pub answers: u32,
}

impl Default for Ability {
    /// The prior N(0, 1).
    fn default() -> Self {
        Self {
            theta: 0.0,
            se: 1.0,
            answers: 0,
        }
    }
}

impl Ability {
    fn posterior(&self) -> Result<AbilityPosterior, LearningError> {
        let theta = if self.theta.is_finite() {
            self.theta
        } else {
            0.0
        };
        let se = if self.se.is_finite() {
            self.se.max(MIN_SE)
        } else {
            1.0
        };
        let grid = Quadrature::normal(GRID_NODES, GRID_HALF_WIDTH, theta, se)?;
        Ok(AbilityPosterior::new(&grid))
    }

    /// Posterior predictive P(correct) on `item`.
    ///
    /// # Errors
    /// [`LearningError`] only if the stored numbers cannot form a grid.
    pub fn p_correct(&self, item: &ItemParams) -> Result<f64, LearningError> {
        Ok(self.posterior()?.p_correct(item))
    }

    /// The state after one answer scored `score` (a label: 0 or 1) on `item`.
    ///
    /// # Errors
    /// [`LearningError`] for a score outside [0, 1] or an answer of zero likelihood.
    pub fn observe(&self, item: &ItemParams, score: f64) -> Result<Self, LearningError> {
        let mut post = self.posterior()?;
        post.observe(item, score)?;
        let est = post.eap();
        Ok(Self {
            theta: est.theta,
            se: est.se.max(MIN_SE),
            answers: self.answers.saturating_add(1),
        })
    }
}

/// BKT mastery of one KC: P(known) before the next attempt, and the evidence count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KcState {
    /// P(known).
    pub mastery: f64,
    /// Graded answers on items tagged with this KC.
    pub evidence: u32,
}

impl KcState {
    /// A KC never met: its own `p_init`, no evidence.
    pub fn start(params: &BktParams) -> Self {
        Self {
            mastery: params.p_init(),
            evidence: 0,
        }
    }
}

/// FSRS memory of one item for one learner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// Stability (days).
    pub stability: f64,
    /// FSRS difficulty (1–10).
    pub difficulty: f64,
    /// Reviews so far.
    pub reviews: u32,
    /// Reviews rated Again after the first.
    pub lapses: u32,
    /// Last review (epoch ms).
    pub last_review_ms: i64,
    /// When recall is expected to fall to the target retention (epoch ms).
    pub due_ms: i64,
}

impl Memory {
    /// How due a review is at `now_ms`, in [0, 1] (0 while recall is above the target).
    pub fn due_score(&self, model: &MemoryModel, now_ms: i64) -> f64 {
        let days = ((now_ms - self.last_review_ms).max(0) as f64 / DAY_MS as f64) as f32;
        model.due_score(
            MemoryState {
                stability: self.stability as f32,
                difficulty: self.difficulty as f32,
            },
            days,
        )
    }
}

/// The model's predictions before an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// IRT posterior predictive (the served prediction).
    pub p_irt: f64,
    /// BKT prediction (mean over the item's KCs), when the item has KCs.
    pub p_bkt: Option<f64>,
}

/// Predictions for `item` from `ability` and the masteries of the item's KCs (with their
/// parameters).
///
/// # Errors
/// [`LearningError`] if the stored ability cannot form a grid.
pub fn predict(
    ability: &Ability,
    kcs: &[(KcState, BktParams)],
    item: &ItemParams,
) -> Result<Prediction, LearningError> {
    let masteries: Vec<f64> = kcs.iter().map(|(s, _)| s.mastery).collect();
    let params: Vec<BktParams> = kcs.iter().map(|(_, p)| *p).collect();
    Ok(Prediction {
        p_irt: ability.p_correct(item)?,
        p_bkt: p_correct_multi(&masteries, &params),
    })
}

/// Everything one graded answer changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// New ability in the item's subject.
    pub ability: Ability,
    /// New KC states, in the order given.
    pub kcs: Vec<KcState>,
    /// New memory of the item.
    pub memory: Memory,
    /// The FSRS rating used.
    pub rating: Rating,
    /// Predictions before the answer (from the same state).
    pub before: Prediction,
}

/// The state after one graded answer labelled `correct` at `now_ms` on an item with IRT
/// parameters `item` (its `c` is the guessing floor for the memory rating).
///
/// # Errors
/// [`LearningError`] for unusable stored numbers or an FSRS failure; the caller then stores
/// the attempt without touching the state.
pub fn update(
    memory_model: &MemoryModel,
    ability: &Ability,
    kcs: &[(KcState, BktParams)],
    memory: Option<&Memory>,
    item: &ItemParams,
    correct: bool,
    now_ms: i64,
) -> Result<Updated, LearningError> {
    let before = predict(ability, kcs, item)?;
    let score = if correct { 1.0 } else { 0.0 };
    let new_ability = ability.observe(item, score)?;
    let new_kcs = kcs
        .iter()
        .map(|(s, p)| KcState {
            mastery: p.update(s.mastery, correct).next,
            evidence: s.evidence.saturating_add(1),
        })
        .collect();
    let rating = rating_for_answer(score, before.p_irt, item.c());
    let (state, days) = match memory {
        Some(m) => (
            Some(MemoryState {
                stability: m.stability as f32,
                difficulty: m.difficulty as f32,
            }),
            u32::try_from((now_ms - m.last_review_ms).max(0) / DAY_MS).unwrap_or(u32::MAX),
        ),
        None => (None, 0),
    };
    let next = memory_model.review(state, days, rating)?;
    let reviews = memory.map_or(0, |m| m.reviews);
    let lapses = memory.map_or(0, |m| m.lapses) + u32::from(rating == Rating::Again && reviews > 0);
    let interval_ms = (f64::from(next.interval_days.max(0.0)) * DAY_MS as f64).round() as i64;
    Ok(Updated {
        ability: new_ability,
        kcs: new_kcs,
        memory: Memory {
            stability: f64::from(next.memory.stability),
            difficulty: f64::from(next.memory.difficulty),
            reviews: reviews.saturating_add(1),
            lapses,
            last_review_ms: now_ms,
            due_ms: now_ms.saturating_add(interval_ms),
        },
        rating,
        before,
    })
}

/// Difficulty b of the priors (set 0) from the author's estimate: easy −1, medium 0, hard +1.
pub fn prior_b(difficulty: Difficulty) -> f64 {
    match difficulty {
        Difficulty::Easy => -1.0,
        Difficulty::Medium => 0.0,
        Difficulty::Hard => 1.0,
    }
}

/// The guessing floor c of the priors: `1/k` for a single-answer QCS with k options; 0 for a
/// QCM (judged by threshold, a blind guess almost never reaches it) and a QROC. Never derived
/// from response time.
pub fn prior_c(kind: ItemKind, n_options: usize) -> f64 {
    match kind {
        ItemKind::Qcs if n_options >= 2 => 1.0 / n_options as f64,
        _ => 0.0,
    }
}

/// Set 0 (the documented priors): `a = 1`, [`prior_b`], [`prior_c`].
///
/// ```
/// # use myqcm_domain::learning::prior_item_params;
/// # use myqcm_domain::catalogue::{ItemKind, Difficulty};
/// let p = prior_item_params(ItemKind::Qcs, Difficulty::Hard, 4);
/// assert_eq!((p.a(), p.b(), p.c()), (1.0, 1.0, 0.25));
/// assert_eq!(prior_item_params(ItemKind::Qcm, Difficulty::Easy, 5).c(), 0.0);
/// ```
pub fn prior_item_params(kind: ItemKind, difficulty: Difficulty, n_options: usize) -> ItemParams {
    ItemParams::three_pl(1.0, prior_b(difficulty), prior_c(kind, n_options))
        .unwrap_or(ItemParams::DEFAULT)
}

/// The product's served prediction replayed over an attempt log (`myqcm evaluate`, model
/// `served`): the IRT posterior predictive of [`Ability::p_correct`] with θ per (learner,
/// group), updated after each answer by [`Ability::observe`] — the same numbers the answer
/// transaction stores with each served item — and item parameters fitted under the item-type
/// policy ([`myqcm_psychometrics::evaluation::IrtPolicy::ByGuess`]: 3PL where a guessing floor
/// exists, else 2PL).
#[derive(Debug, Clone)]
pub struct ServedReplay {
    params: Vec<ItemParams>,
    abilities: std::collections::HashMap<(u32, u32), Ability>,
}

impl ServedReplay {
    /// A replay with one parameter triple per item; every learner starts at N(0, 1).
    #[must_use]
    pub fn new(params: Vec<ItemParams>) -> Self {
        Self {
            params,
            abilities: std::collections::HashMap::new(),
        }
    }
}

impl myqcm_psychometrics::evaluation::OnlineModel for ServedReplay {
    fn name(&self) -> &str {
        "served"
    }
    fn predict(
        &self,
        a: &myqcm_psychometrics::evaluation::EvalAttempt,
        item: &myqcm_psychometrics::evaluation::EvalItem,
    ) -> f64 {
        self.abilities
            .get(&(a.learner, item.group))
            .copied()
            .unwrap_or_default()
            .p_correct(&self.params[a.item as usize])
            .unwrap_or(f64::NAN)
    }
    fn observe(
        &mut self,
        a: &myqcm_psychometrics::evaluation::EvalAttempt,
        item: &myqcm_psychometrics::evaluation::EvalItem,
    ) {
        let entry = self.abilities.entry((a.learner, item.group)).or_default();
        // As in the answer transaction: an unusable update leaves the state unchanged.
        if let Ok(next) = entry.observe(
            &self.params[a.item as usize],
            f64::from(u8::from(a.correct)),
        ) {
            *entry = next;
        }
    }
}

/// One graded answer of a learner's history, with the parameters of the set it is replayed
/// under: what [`replay_history`] consumes.
#[derive(Debug, Clone, Copy)]
pub struct HistoryStep<'a, S, K> {
    /// Subject the item was served in (θ is per learner and subject).
    pub subject: S,
    /// The item's IRT parameters in the set.
    pub item: &'a ItemParams,
    /// The item's KCs with their BKT parameters in the set.
    pub kcs: &'a [(K, BktParams)],
    /// The label.
    pub correct: bool,
}

/// A learner's ability per subject and mastery per KC, replayed from their graded answers in
/// the order the answer transactions applied them.
pub type Replayed<S, K> = (
    std::collections::HashMap<S, Ability>,
    std::collections::HashMap<K, KcState>,
);

/// Rebuilds one learner's state from scratch under one parameter set: every subject starts at
/// the prior N(0, 1) and every KC at its own `p_init`, then each answer applies exactly the
/// update of the answer transaction ([`Ability::observe`] with the label, BKT observe-then-learn,
/// evidence + 1). Used after a parameter set is published, so θ and mastery are on the new
/// set's scale. An update the model refuses leaves that part of the state unchanged, as in the
/// answer transaction.
pub fn replay_history<'a, S, K>(
    steps: impl IntoIterator<Item = HistoryStep<'a, S, K>>,
) -> Replayed<S, K>
where
    S: std::hash::Hash + Eq + Copy,
    K: std::hash::Hash + Eq + Copy + 'a,
{
    let mut abilities: std::collections::HashMap<S, Ability> = std::collections::HashMap::new();
    let mut kcs: std::collections::HashMap<K, KcState> = std::collections::HashMap::new();
    for step in steps {
        let ability = abilities.entry(step.subject).or_default();
        if let Ok(next) = ability.observe(step.item, f64::from(u8::from(step.correct))) {
            *ability = next;
        }
        for (kc, p) in step.kcs {
            let state = kcs.entry(*kc).or_insert_with(|| KcState::start(p));
            *state = KcState {
                mastery: p.update(state.mastery, step.correct).next,
                evidence: state.evidence.saturating_add(1),
            };
        }
    }
    (abilities, kcs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use myqcm_psychometrics::ability::eap;
    use proptest::prelude::*;

    use super::*;

    fn model() -> MemoryModel {
        MemoryModel::new(&[], 0.9).unwrap()
    }

    #[test]
    fn a_replayed_history_equals_the_answer_by_answer_updates() {
        let m = model();
        let easy = ItemParams::three_pl(1.2, -1.0, 0.2).unwrap();
        let hard = ItemParams::two_pl(0.8, 1.5).unwrap();
        let p = BktParams::clamped(0.3, 0.2, 0.2, 0.1);
        let kcs = [(7u8, p)];
        let answers = [
            (1u8, &easy, true),
            (1, &hard, false),
            (2, &hard, true),
            (1, &easy, true),
        ];
        // Answer by answer, as the answer transaction does.
        let mut abilities: std::collections::HashMap<u8, Ability> = Default::default();
        let mut kc = KcState::start(&p);
        for (s, item, y) in answers {
            let a = abilities.get(&s).copied().unwrap_or_default();
            let u = update(&m, &a, &[(kc, p)], None, item, y, 0).unwrap();
            abilities.insert(s, u.ability);
            kc = u.kcs[0];
        }
        let (got, got_kc) = replay_history(answers.iter().map(|(s, item, y)| HistoryStep {
            subject: *s,
            item,
            kcs: &kcs,
            correct: *y,
        }));
        assert_eq!(got, abilities);
        assert_eq!(got_kc[&7], kc);
        assert_eq!(got_kc[&7].evidence, 4);
        // Under other parameters the same answers give another θ.
        let shifted = ItemParams::two_pl(1.0, 3.0).unwrap();
        let (other, _) = replay_history(answers.iter().map(|(s, _, y)| HistoryStep {
            subject: *s,
            item: &shifted,
            kcs: &kcs,
            correct: *y,
        }));
        assert!(
            (other[&1].theta - got[&1].theta).abs() > 0.1,
            "{other:?} {got:?}"
        );
    }

    #[test]
    fn golden_first_answer_on_a_neutral_item() {
        // Prior N(0, 1), 2PL a = 1, b = 0: P(correct) = 0.5 by symmetry; a correct answer
        // moves θ up by E[θ | correct] = 2 ∫ θ φ(θ) σ(θ) dθ ≈ 0.4132 (numerical integration)
        // and shrinks the SD to ≈ 0.9107.
        let item = ItemParams::two_pl(1.0, 0.0).unwrap();
        let a = Ability::default();
        assert!((a.p_correct(&item).unwrap() - 0.5).abs() < 1e-9);
        let up = a.observe(&item, 1.0).unwrap();
        let down = a.observe(&item, 0.0).unwrap();
        assert!((up.theta - 0.4132).abs() < 2e-3, "{up:?}");
        assert!((up.se - 0.9107).abs() < 2e-3, "{up:?}");
        assert!((up.theta + down.theta).abs() < 1e-9, "symmetric");
        assert_eq!(up.answers, 1);
    }

    #[test]
    fn the_normal_approximation_tracks_the_exact_posterior() {
        // 40 answers on varied 3PL items: the stored (θ, SE) stays close to the batch EAP over
        // the same answers with the same N(0, 1) prior.
        let grid = Quadrature::standard_normal(161, 7.0).unwrap();
        let mut resp = Vec::new();
        let mut a = Ability::default();
        for k in 0..40u32 {
            let b = -2.0 + 0.1 * f64::from(k);
            let item = ItemParams::three_pl(0.8 + 0.03 * f64::from(k % 7), b, 0.2).unwrap();
            let y = if k % 3 == 0 { 0.0 } else { 1.0 };
            a = a.observe(&item, y).unwrap();
            resp.push((item, y));
            let exact = eap(&resp, &grid).unwrap();
            assert!((a.theta - exact.theta).abs() < 0.05, "{k}: {a:?} {exact:?}");
            assert!((a.se - exact.se).abs() < 0.03, "{k}: {a:?} {exact:?}");
        }
        assert!(a.se < 0.6, "{a:?}"); // from 1.0 after 40 answers
    }

    #[test]
    fn bkt_and_memory_move_the_right_way() {
        let m = model();
        let p = BktParams::default();
        let item = prior_item_params(ItemKind::Qcs, Difficulty::Medium, 4);
        let kcs = [
            (KcState::start(&p), p),
            (
                KcState {
                    mastery: 0.9,
                    evidence: 12,
                },
                p,
            ),
        ];
        let right = update(&m, &Ability::default(), &kcs, None, &item, true, 0).unwrap();
        let wrong = update(&m, &Ability::default(), &kcs, None, &item, false, 0).unwrap();
        assert!(right.kcs[0].mastery > 0.2 && wrong.kcs[0].mastery < right.kcs[0].mastery);
        assert_eq!(right.kcs[1].evidence, 13);
        assert!(right.ability.theta > 0.0 && wrong.ability.theta < 0.0);
        // P(correct) before is the same for both, and the BKT one is the mean of the two KCs.
        assert_eq!(right.before, wrong.before);
        let want = 0.5 * (p.p_correct(0.2) + p.p_correct(0.9));
        assert!((right.before.p_bkt.unwrap() - want).abs() < 1e-12);
        assert_eq!(wrong.rating, Rating::Again);
        assert!(right.memory.due_ms > wrong.memory.due_ms);
        assert_eq!((right.memory.reviews, right.memory.lapses), (1, 0));
        // A later lapse is counted; the elapsed days reach FSRS.
        let later = update(
            &m,
            &right.ability,
            &kcs,
            Some(&right.memory),
            &item,
            false,
            10 * DAY_MS,
        )
        .unwrap();
        assert_eq!((later.memory.reviews, later.memory.lapses), (2, 1));
        assert_eq!(later.memory.last_review_ms, 10 * DAY_MS);
    }

    #[test]
    fn a_likely_guess_on_a_qcs_is_rated_hard() {
        let m = model();
        // A very hard 4-option QCS: P(correct) is near the floor 0.25, so a right answer is
        // probably a lucky guess.
        let item = ItemParams::three_pl(1.5, 4.0, 0.25).unwrap();
        let u = update(&m, &Ability::default(), &[], None, &item, true, 0).unwrap();
        assert_eq!(u.rating, Rating::Hard);
        assert_eq!(u.before.p_bkt, None);
        let easy = prior_item_params(ItemKind::Qroc, Difficulty::Easy, 0);
        let u = update(&m, &Ability::default(), &[], None, &easy, true, 0).unwrap();
        assert_eq!(u.rating, Rating::Good);
    }

    #[test]
    fn priors_follow_the_documented_table() {
        for (d, b) in [
            (Difficulty::Easy, -1.0),
            (Difficulty::Medium, 0.0),
            (Difficulty::Hard, 1.0),
        ] {
            let p = prior_item_params(ItemKind::Qcm, d, 5);
            assert_eq!((p.a(), p.b(), p.c()), (1.0, b, 0.0));
        }
        assert_eq!(prior_c(ItemKind::Qcs, 5), 0.2);
        assert_eq!(prior_c(ItemKind::Qcs, 2), 0.5);
        assert_eq!(prior_c(ItemKind::Qroc, 0), 0.0);
    }

    #[test]
    fn unusable_stored_numbers_fall_back_to_the_prior_grid() {
        let item = ItemParams::DEFAULT;
        let odd = Ability {
            theta: f64::NAN,
            se: 0.0,
            answers: 3,
        };
        let p = odd.p_correct(&item).unwrap();
        assert!((p - 0.5).abs() < 1e-9);
        assert!(odd.observe(&item, 1.0).unwrap().theta.is_finite());
    }

    proptest! {
        #[test]
        fn state_stays_in_range(
            answers in prop::collection::vec((any::<bool>(), -3.0..3.0f64, 0.0..0.4f64), 1..30),
        ) {
            let m = model();
            let p = BktParams::default();
            let mut ab = Ability::default();
            let mut kc = KcState::start(&p);
            let mut mem: Option<Memory> = None;
            for (k, (y, b, c)) in answers.into_iter().enumerate() {
                let item = ItemParams::three_pl(1.0, b, c).unwrap();
                let u = update(&m, &ab, &[(kc, p)], mem.as_ref(), &item, y, k as i64 * DAY_MS)
                    .unwrap();
                prop_assert!((0.0..=1.0).contains(&u.before.p_irt));
                prop_assert!(u.ability.theta.is_finite() && u.ability.se >= MIN_SE);
                prop_assert!(u.ability.se < 1.5);
                prop_assert!((0.0..=1.0).contains(&u.kcs[0].mastery));
                prop_assert!(u.memory.due_ms >= u.memory.last_review_ms);
                ab = u.ability;
                kc = u.kcs[0];
                mem = Some(u.memory);
            }
        }
    }

    #[test]
    fn served_replay_predicts_what_the_stored_ability_predicts() {
        use myqcm_psychometrics::evaluation::{EvalAttempt, EvalItem, OnlineModel};
        let item = ItemParams::three_pl(1.0, 0.0, 0.0).unwrap();
        let mut served = ServedReplay::new(vec![item]);
        let it = EvalItem {
            kcs: vec![],
            group: 0,
            guess: 0.0,
        };
        let a = EvalAttempt {
            learner: 0,
            item: 0,
            correct: true,
        };
        assert!((served.predict(&a, &it) - 0.5).abs() < 1e-9);
        served.observe(&a, &it);
        let stored = Ability::default().observe(&item, 1.0).unwrap();
        assert!((served.predict(&a, &it) - stored.p_correct(&item).unwrap()).abs() < 1e-12);
        // Another learner still starts at the prior.
        let b = EvalAttempt { learner: 1, ..a };
        assert!((served.predict(&b, &it) - 0.5).abs() < 1e-9);
    }
}
