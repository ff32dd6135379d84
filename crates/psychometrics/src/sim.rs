//! Simulated learners and items with known truth, for tests, benchmarks and the demo.
//!
//! * [`simulate_irt`]: sparse 3PL (or 2PL/1PL) responses; each learner answers a random
//!   subset of the bank.
//! * [`simulate_bkt`]: BKT sequences over many KCs, learners practising KCs in random order.
//! * [`simulate_training`]: the joint story — items with several KCs, responses from a 3PL
//!   whose ability is raised by the KCs the learner knows, BKT-style learning after each
//!   attempt and forgetting between attempts.
//!
//! All draws come from the RNG passed in; the same seed gives the same data. Normal draws use
//! the Box–Muller transform (Box & Muller, 1958, *Ann. Math. Stat.* 29); Beta draws use the
//! ratio of Gamma variates with Marsaglia & Tsang's (2000) Gamma sampler.

use rand::{Rng, RngExt};

use crate::bkt::{BktParams, BktSequences};
use crate::irt::{ItemModel, ItemParams, ModelKind};

/// One standard-normal draw by Box–Muller: `√(−2 ln U₁) cos(2π U₂)`.
///
/// ```
/// # use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let z = myqcm_psychometrics::sim::standard_normal(&mut rng);
/// assert!(z.is_finite());
/// ```
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Gamma(shape, 1) draw (Marsaglia & Tsang, 2000), shape > 0.
fn gamma<R: Rng + ?Sized>(shape: f64, rng: &mut R) -> f64 {
    if shape < 1.0 {
        let u: f64 = 1.0 - rng.random::<f64>();
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Beta(α, β) draw as `X / (X + Y)`, `X ~ Γ(α)`, `Y ~ Γ(β)`.
///
/// ```
/// # use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(2);
/// let x = myqcm_psychometrics::sim::beta(2.0, 8.0, &mut rng);
/// assert!((0.0..=1.0).contains(&x));
/// ```
pub fn beta<R: Rng + ?Sized>(alpha: f64, beta: f64, rng: &mut R) -> f64 {
    let x = gamma(alpha, rng);
    let y = gamma(beta, rng);
    x / (x + y)
}

/// One response in long format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Response {
    /// Learner index.
    pub learner: u32,
    /// Item index.
    pub item: u32,
    /// Score in [0, 1] (a label 0/1 here).
    pub score: f64,
}

/// Settings of [`simulate_irt`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IrtSimConfig {
    /// Number of learners.
    pub n_learners: usize,
    /// Number of items.
    pub n_items: usize,
    /// Items answered per learner (distinct, uniformly chosen).
    pub answers_per_learner: usize,
    /// Which model generates the responses.
    pub model: ModelKind,
    /// Mean of `ln a`.
    pub log_a_mean: f64,
    /// `ln a ~ N(log_a_mean, sd²)`.
    pub log_a_sd: f64,
    /// Mean of b.
    pub b_mean: f64,
    /// `b ~ N(b_mean, sd²)`.
    pub b_sd: f64,
    /// `c ~ Beta` with mean `1/k` (k options drawn from `{4, 5}`) and this concentration
    /// `α + β`; ignored unless the model is 3PL.
    pub c_concentration: f64,
}

impl Default for IrtSimConfig {
    /// The benchmark shape: 20,000 learners × 500 items × 50 answers (1,000,000 responses),
    /// 2PL, `ln a ~ N(0, 0.3²)`, `b ~ N(0, 1)`, c concentration 40.
    fn default() -> Self {
        Self {
            n_learners: 20_000,
            n_items: 500,
            answers_per_learner: 50,
            model: ModelKind::TwoPl,
            log_a_mean: 0.0,
            log_a_sd: 0.3,
            b_mean: 0.0,
            b_sd: 1.0,
            c_concentration: 40.0,
        }
    }
}

/// Simulated IRT data with its truth.
#[derive(Debug, Clone, PartialEq)]
pub struct IrtSim {
    /// True item parameters.
    pub items: Vec<ItemParams>,
    /// Number of options of each item (`c`'s prior mean is `1/k`).
    pub options: Vec<u32>,
    /// True abilities, `θ ~ N(0, 1)`.
    pub thetas: Vec<f64>,
    /// Responses, grouped by learner.
    pub responses: Vec<Response>,
}

/// Simulates sparse responses: `θ_l ~ N(0, 1)`, each learner answers `answers_per_learner`
/// distinct random items, `u ~ Bernoulli(P_j(θ_l))` (Lord, 1980, ch. 2).
///
/// ```
/// # use myqcm_psychometrics::sim::{simulate_irt, IrtSimConfig};
/// # use rand::SeedableRng;
/// let cfg = IrtSimConfig { n_learners: 10, n_items: 20, answers_per_learner: 5, ..Default::default() };
/// let sim = simulate_irt(&cfg, &mut rand::rngs::StdRng::seed_from_u64(1));
/// assert_eq!(sim.responses.len(), 50);
/// ```
pub fn simulate_irt<R: Rng + ?Sized>(config: &IrtSimConfig, rng: &mut R) -> IrtSim {
    let mut items = Vec::with_capacity(config.n_items);
    let mut options = Vec::with_capacity(config.n_items);
    for _ in 0..config.n_items {
        let k: u32 = if rng.random::<bool>() { 4 } else { 5 };
        let a = match config.model {
            ModelKind::OnePl => 1.0,
            _ => (config.log_a_mean + config.log_a_sd * standard_normal(rng)).exp(),
        };
        let b = config.b_mean + config.b_sd * standard_normal(rng);
        let c = match config.model {
            ModelKind::ThreePl => {
                let m = 1.0 / f64::from(k);
                beta(
                    m * config.c_concentration,
                    (1.0 - m) * config.c_concentration,
                    rng,
                )
            }
            _ => 0.0,
        };
        // a > 0 and c ∈ [0, 1) hold by construction; fall back to a neutral item otherwise.
        items
            .push(ItemParams::three_pl(a.max(1e-3), b, c.min(0.99)).unwrap_or(ItemParams::DEFAULT));
        options.push(k);
    }
    let thetas: Vec<f64> = (0..config.n_learners)
        .map(|_| standard_normal(rng))
        .collect();
    let per = config.answers_per_learner.min(config.n_items);
    let mut responses = Vec::with_capacity(config.n_learners * per);
    let mut pool: Vec<u32> = (0..config.n_items as u32).collect();
    for (l, theta) in thetas.iter().enumerate() {
        // Partial Fisher–Yates: the first `per` slots become a uniform random subset.
        for k in 0..per {
            let j = rng.random_range(k..pool.len());
            pool.swap(k, j);
            let item = pool[k];
            let p = items[item as usize].p_correct(*theta);
            let score = if rng.random::<f64>() < p { 1.0 } else { 0.0 };
            responses.push(Response {
                learner: l as u32,
                item,
                score,
            });
        }
    }
    IrtSim {
        items,
        options,
        thetas,
        responses,
    }
}

/// Simulated BKT data: per-KC sequences and the same attempts in learner order.
#[derive(Debug, Clone, PartialEq)]
pub struct BktSim {
    /// True parameters of each KC.
    pub params: Vec<BktParams>,
    /// Per KC, one sequence per learner who practised it.
    pub sequences: Vec<BktSequences>,
    /// Every attempt as `(learner, kc, correct)`, in each learner's time order.
    pub attempts: Vec<(u32, u32, bool)>,
}

/// Simulates BKT (Corbett & Anderson, 1995): KC parameters drawn uniformly from
/// `p_init ∈ [0.1, 0.5]`, `T ∈ [0.05, 0.3]`, `g ∈ [0.1, 0.3]`, `s ∈ [0.05, 0.2]`; each learner
/// practises `kcs_per_learner` distinct random KCs, `attempts_per_kc` times each, in a random
/// interleaved order; the answer is correct with probability `1 − s` if the KC is known, `g`
/// otherwise; then the KC is learned with probability T.
///
/// ```
/// # use myqcm_psychometrics::sim::simulate_bkt;
/// # use rand::SeedableRng;
/// let sim = simulate_bkt(100, 8, 4, 5, &mut rand::rngs::StdRng::seed_from_u64(1));
/// assert_eq!(sim.attempts.len(), 2000);
/// assert_eq!(sim.sequences.iter().map(|s| s.n_obs()).sum::<usize>(), 2000);
/// ```
pub fn simulate_bkt<R: Rng + ?Sized>(
    n_learners: usize,
    n_kcs: usize,
    kcs_per_learner: usize,
    attempts_per_kc: usize,
    rng: &mut R,
) -> BktSim {
    let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    let params: Vec<BktParams> = (0..n_kcs)
        .map(|_| BktParams::clamped(u(0.1, 0.5), u(0.05, 0.3), u(0.1, 0.3), u(0.05, 0.2)))
        .collect();
    let per = kcs_per_learner.min(n_kcs);
    let mut sequences = vec![BktSequences::new(); n_kcs];
    let mut attempts = Vec::with_capacity(n_learners * per * attempts_per_kc);
    let mut per_kc: Vec<Vec<bool>> = vec![Vec::new(); n_kcs];
    let mut known = vec![false; n_kcs];
    let mut pool: Vec<usize> = (0..n_kcs).collect();
    let mut order: Vec<usize> = Vec::with_capacity(per * attempts_per_kc);
    for l in 0..n_learners {
        order.clear();
        for k in 0..per {
            let j = rng.random_range(k..n_kcs);
            pool.swap(k, j);
            let kc = pool[k];
            known[kc] = rng.random::<f64>() < params[kc].p_init();
            per_kc[kc].clear();
            order.extend(std::iter::repeat_n(kc, attempts_per_kc));
        }
        for k in (1..order.len()).rev() {
            let j = rng.random_range(0..=k);
            order.swap(k, j);
        }
        for &kc in &order {
            let p = &params[kc];
            let pc = if known[kc] {
                1.0 - p.p_slip()
            } else {
                p.p_guess()
            };
            let y = rng.random::<f64>() < pc;
            per_kc[kc].push(y);
            attempts.push((l as u32, kc as u32, y));
            if !known[kc] && rng.random::<f64>() < p.p_learn() {
                known[kc] = true;
            }
        }
        for &kc in &pool[..per] {
            sequences[kc].push(&per_kc[kc]);
        }
    }
    BktSim {
        params,
        sequences,
        attempts,
    }
}

/// One attempt of [`simulate_training`], with the hidden truth at that moment.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingAttempt {
    /// Learner index.
    pub learner: u32,
    /// Item index.
    pub item: u32,
    /// Whether the answer was correct.
    pub correct: bool,
    /// True probability of a correct answer before the attempt.
    pub p_true: f64,
    /// Days since the learner's previous attempt.
    pub days_elapsed: u32,
}

/// Settings of [`simulate_training`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingSimConfig {
    /// Number of learners.
    pub n_learners: usize,
    /// Number of items.
    pub n_items: usize,
    /// Number of KCs.
    pub n_kcs: usize,
    /// Maximum KCs per item (each item gets 1..=this many).
    pub max_kcs_per_item: usize,
    /// Attempts per learner.
    pub attempts_per_learner: usize,
    /// Logit boost per fully known item KC set (`θ_eff = θ + boost · share known`).
    pub knowledge_boost: f64,
    /// Per-day probability that a known KC is forgotten.
    pub forget_per_day: f64,
}

impl Default for TrainingSimConfig {
    /// 200 learners, 300 items, 20 KCs, up to 3 KCs per item, 60 attempts, boost 1.5 logits,
    /// 1 % forgetting per day.
    fn default() -> Self {
        Self {
            n_learners: 200,
            n_items: 300,
            n_kcs: 20,
            max_kcs_per_item: 3,
            attempts_per_learner: 60,
            knowledge_boost: 1.5,
            forget_per_day: 0.01,
        }
    }
}

/// The joint simulation with its truth.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSim {
    /// Item parameters (3PL).
    pub items: Vec<ItemParams>,
    /// KCs of each item.
    pub item_kcs: Vec<Vec<usize>>,
    /// BKT parameters of each KC (T drives learning; guess/slip are implied by the 3PL).
    pub kc_params: Vec<BktParams>,
    /// True base abilities.
    pub thetas: Vec<f64>,
    /// Attempts in time order per learner.
    pub attempts: Vec<TrainingAttempt>,
}

/// The joint story: `P(correct) = c + (1 − c) σ(a(θ + δ·κ − b))` where κ is the share of the
/// item's KCs the learner knows; after each attempt every unknown KC of the item is learned
/// with its probability T; between attempts (0–3 days) each known KC is forgotten with
/// probability `1 − (1 − f)^days` (exponential forgetting; Ebbinghaus, 1885).
///
/// ```
/// # use myqcm_psychometrics::sim::{simulate_training, TrainingSimConfig};
/// # use rand::SeedableRng;
/// let cfg = TrainingSimConfig { n_learners: 5, ..Default::default() };
/// let sim = simulate_training(&cfg, &mut rand::rngs::StdRng::seed_from_u64(3));
/// assert_eq!(sim.attempts.len(), 5 * 60);
/// ```
pub fn simulate_training<R: Rng + ?Sized>(config: &TrainingSimConfig, rng: &mut R) -> TrainingSim {
    let irt = simulate_irt(
        &IrtSimConfig {
            n_learners: 0,
            n_items: config.n_items,
            answers_per_learner: 0,
            model: ModelKind::ThreePl,
            ..IrtSimConfig::default()
        },
        rng,
    );
    let n_kcs = config.n_kcs.max(1);
    let item_kcs: Vec<Vec<usize>> = (0..config.n_items)
        .map(|_| {
            let n = rng.random_range(1..=config.max_kcs_per_item.clamp(1, n_kcs));
            let mut v: Vec<usize> = Vec::with_capacity(n);
            while v.len() < n {
                let k = rng.random_range(0..n_kcs);
                if !v.contains(&k) {
                    v.push(k);
                }
            }
            v
        })
        .collect();
    let kc_params: Vec<BktParams> = (0..n_kcs)
        .map(|_| {
            let init = 0.1 + 0.4 * rng.random::<f64>();
            let learn = 0.05 + 0.25 * rng.random::<f64>();
            BktParams::clamped(init, learn, 0.2, 0.1)
        })
        .collect();
    let thetas: Vec<f64> = (0..config.n_learners)
        .map(|_| standard_normal(rng))
        .collect();
    let mut attempts = Vec::with_capacity(config.n_learners * config.attempts_per_learner);
    let mut known = vec![false; n_kcs];
    for (l, theta) in thetas.iter().enumerate() {
        for (k, p) in kc_params.iter().enumerate() {
            known[k] = rng.random::<f64>() < p.p_init();
        }
        for t in 0..config.attempts_per_learner {
            let days: u32 = if t == 0 { 0 } else { rng.random_range(0..=3) };
            let forget = 1.0 - (1.0 - config.forget_per_day).powi(days as i32);
            for k in known.iter_mut() {
                if *k && rng.random::<f64>() < forget {
                    *k = false;
                }
            }
            let item = rng.random_range(0..config.n_items);
            let kcs = &item_kcs[item];
            let share = kcs.iter().filter(|k| known[**k]).count() as f64 / kcs.len() as f64;
            let p = irt.items[item].p_correct(theta + config.knowledge_boost * share);
            let correct = rng.random::<f64>() < p;
            attempts.push(TrainingAttempt {
                learner: l as u32,
                item: item as u32,
                correct,
                p_true: p,
                days_elapsed: days,
            });
            for k in kcs {
                if !known[*k] && rng.random::<f64>() < kc_params[*k].p_learn() {
                    known[*k] = true;
                }
            }
        }
    }
    TrainingSim {
        items: irt.items,
        item_kcs,
        kc_params,
        thetas,
        attempts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn samplers_have_the_right_moments() {
        let mut rng = StdRng::seed_from_u64(42);
        let n = 20_000;
        let z: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05);
        let b: Vec<f64> = (0..n).map(|_| beta(2.0, 6.0, &mut rng)).collect();
        let mb = b.iter().sum::<f64>() / n as f64;
        assert!((mb - 0.25).abs() < 0.01);
        let g: f64 = (0..n).map(|_| gamma(0.5, &mut rng)).sum::<f64>() / n as f64;
        assert!((g - 0.5).abs() < 0.03);
    }

    #[test]
    fn same_seed_same_data_and_distinct_items_per_learner() {
        let cfg = IrtSimConfig {
            n_learners: 30,
            n_items: 40,
            answers_per_learner: 10,
            model: ModelKind::ThreePl,
            ..IrtSimConfig::default()
        };
        let a = simulate_irt(&cfg, &mut StdRng::seed_from_u64(5));
        let b = simulate_irt(&cfg, &mut StdRng::seed_from_u64(5));
        assert_eq!(a, b);
        for l in 0..30u32 {
            let mut items: Vec<u32> = a
                .responses
                .iter()
                .filter(|r| r.learner == l)
                .map(|r| r.item)
                .collect();
            items.sort_unstable();
            items.dedup();
            assert_eq!(items.len(), 10);
        }
        assert!(a.items.iter().all(|i| i.c() > 0.0 && i.c() < 0.6));
    }

    #[test]
    fn training_learners_improve_over_time() {
        let cfg = TrainingSimConfig {
            n_learners: 100,
            forget_per_day: 0.0,
            ..Default::default()
        };
        let sim = simulate_training(&cfg, &mut StdRng::seed_from_u64(8));
        let mean_p = |range: std::ops::Range<usize>| {
            let v: Vec<f64> = sim
                .attempts
                .chunks(cfg.attempts_per_learner)
                .flat_map(|c| c[range.clone()].iter().map(|a| a.p_true))
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        assert!(mean_p(50..60) > mean_p(0..10));
        assert!(sim.item_kcs.iter().all(|k| !k.is_empty() && k.len() <= 3));
    }
}
