//! How much of the simulated cohort's log-loss gain can a forecast reach at all, and what the
//! KC-aware hybrids of the IRT model add (`docs/ADAPTIVE.md`, "Hybrid candidates and the
//! forecast ceiling").
//!
//! ```text
//! forecast_ceiling [LEARNERS] [ATTEMPTS_PER_LEARNER] [SEED] [PARTICLES]
//!                                                      (default 30000 50 13 0)
//! ```
//!
//! The cohort is `attempt_log`'s (same configuration, seed and timestamps, so the same time
//! order and held-out window as `myqcm evaluate --input` on that file): [`simulate_training`]
//! with 2,000 items and 40 KCs, the last 20 % of attempts in time held out. Every model sees
//! only the past (the protocol of `myqcm_psychometrics::evaluation`); every fitted number comes
//! from the training window. Printed: held-out log-loss, gain over `item_mean`, ECE (10 bins).
//!
//! **Models** (fitted on the training window):
//! * `irt_policy` — fitted items under the item-type policy, θ grid posterior per learner: the
//!   served model's numbers.
//! * `hybrid_bkt`, `hybrid_pfa`, `hybrid_all` — the same, with the item's 2PL logit shifted by
//!   `z = w·x`, `P = c + (1 − c) σ(a(θ − b) + z)`, θ updated under the shifted item. Features
//!   `x`, each averaged over the item's KCs from the learner's past on that KC: 1; BKT mastery
//!   minus the KC's `p_init` (fitted BKT, Corbett & Anderson, 1995); `ln(1 + successes)` and
//!   `ln(1 + failures)` (performance factors analysis, Pavlik, Cen & Koedinger, 2009); for
//!   `_all` also `ln(1 + days since the KC was last practised)` and "practised before". `w` is
//!   the logistic regression of the labels on `x` with the plain IRT logit as offset (IRLS,
//!   ridge 1e−3), fitted on the training window.
//! * `kc_filter` — θ × KC-state filter (a latent-factor knowledge-tracing model; Khajah, Wing,
//!   Lindsey & Mozer, 2014): `P = c + (1 − c) σ(a(θ + δκ − b'))` with κ the share of the item's
//!   KCs known, the KC states tracked by an assumed-density Bayes filter (exact update of the
//!   joint over θ nodes × the item's 2^|K| KC states, then kept as a θ posterior and one
//!   marginal per KC; learning with the fitted BKT `T` after each attempt; forgetting
//!   `(1 − f)^days`), items from the policy fit with `b' = b + δ·mean p_init`; δ and f picked
//!   among {0.75, 1.5, 2.25} × {0, 0.01} by training-window log-loss.
//!
//! **References** (use the generator's hidden truth; not forecasts a product could make):
//! * `truth_mean_kc` — true item parameters and true θ, κ replaced by its cohort mean.
//! * `truth_items_online_theta` — true item parameters, κ at its cohort mean, θ learned online
//!   from N(0, 1): the policy model without item-estimation error.
//! * `truth_filter_online_theta` — the same filter as `kc_filter` with every generator
//!   parameter true (items, δ = 1.5, each KC's `p_init` and `T`, f = 0.01) and θ learned
//!   online from N(0, 1): the best forecast from a learner's past when the model family and
//!   its parameters are exactly right.
//! * `truth_filter_known_theta` — the same with each learner's true θ given.
//! * `truth_particles_known_theta` (when PARTICLES > 0) — the exact Bayes forecast of the
//!   previous line, without the assumed-density approximation: a bootstrap particle filter
//!   over the learner's joint KC states (Gordon, Salmond & Smith, 1993; systematic resampling
//!   after each answer, a KC's state drawn at its first attempt from its initial probability
//!   and the forgetting since the learner's first day), consistent as
//!   PARTICLES grows. No forecast from the past can beat it on average: it knows more (θ) and
//!   uses it exactly.
//! * `oracle` — the generator's `p_true` (it knows the hidden KC states).
use std::error::Error;

use myqcm_psychometrics::ability::AbilityPosterior;
use myqcm_psychometrics::bkt::BktParams;
use myqcm_psychometrics::evaluation::{
    Dataset, EvalAttempt, EvalItem, IrtPolicy, ItemMean, OnlineModel, fit_bkt, fit_irt, replay,
    split_point, time_order,
};
use myqcm_psychometrics::irt::{ItemModel, ItemParams, logistic};
use myqcm_psychometrics::quadrature::Quadrature;
use myqcm_psychometrics::sim::{TrainingSim, TrainingSimConfig, simulate_training};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const N_KCS: usize = 40;
const NF: usize = 6;

fn log_loss(p: &[f64], y: &[bool]) -> f64 {
    let s: f64 = p
        .iter()
        .zip(y)
        .map(|(p, y)| {
            let p = p.clamp(1e-12, 1.0 - 1e-12);
            if *y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    s / p.len() as f64
}

fn ece(p: &[f64], y: &[bool]) -> f64 {
    let mut bins = [(0.0, 0.0); 10];
    for (p, y) in p.iter().zip(y) {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += p;
        bins[b].1 += f64::from(u8::from(*y));
    }
    bins.iter().map(|(s, k)| (s - k).abs()).sum::<f64>() / p.len() as f64
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

/// The item with its 2PL logit shifted by `z`: `b → b − z/a`.
fn shifted(p: &ItemParams, z: f64) -> ItemParams {
    ItemParams::three_pl(p.a(), p.b() - z / p.a(), p.c()).unwrap_or(*p)
}

/// One learner's past on one KC.
#[derive(Clone, Copy, Default)]
struct KcPast {
    mastery: Option<f64>,
    successes: f64,
    failures: f64,
    last_day: f64,
}

/// IRT plus the shift `w·x` (see the module docs); `w = 0` is the plain policy model.
struct Hybrid {
    name: &'static str,
    params: Vec<ItemParams>,
    bkt: Vec<BktParams>,
    prior: AbilityPosterior,
    theta: Vec<Option<AbilityPosterior>>,
    kcs: Vec<KcPast>,
    w: [f64; NF],
    mask: [bool; NF],
    days: Vec<f64>,
    step: usize,
    /// Training rows `(x, plain IRT logit, label)` when collecting.
    rows: Option<Vec<([f64; NF], f64, bool)>>,
}

impl Hybrid {
    fn new(name: &'static str, mask: [bool; NF], w: [f64; NF], ctx: &Ctx) -> Self {
        Self {
            name,
            params: ctx.params.clone(),
            bkt: ctx.bkt.clone(),
            prior: AbilityPosterior::new(&Quadrature::default()),
            theta: vec![None; ctx.learners],
            kcs: vec![KcPast::default(); ctx.learners * N_KCS],
            w,
            mask,
            days: ctx.days.clone(),
            step: 0,
            rows: None,
        }
    }
    fn features(&self, a: &EvalAttempt, item: &EvalItem) -> [f64; NF] {
        let day = self.days[self.step];
        let n = item.kcs.len().max(1) as f64;
        let mut x = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        for k in &item.kcs {
            let s = self.kcs[a.learner as usize * N_KCS + *k as usize];
            let init = self.bkt[*k as usize].p_init();
            x[1] += (s.mastery.unwrap_or(init) - init) / n;
            x[2] += s.successes.ln_1p() / n;
            x[3] += s.failures.ln_1p() / n;
            if s.mastery.is_some() {
                x[4] += (day - s.last_day).max(0.0).ln_1p() / n;
                x[5] += 1.0 / n;
            }
        }
        for (v, on) in x.iter_mut().zip(self.mask) {
            if !on {
                *v = 0.0;
            }
        }
        x
    }
    fn item(&self, a: &EvalAttempt, item: &EvalItem) -> ItemParams {
        let z: f64 = self
            .features(a, item)
            .iter()
            .zip(&self.w)
            .map(|(x, w)| x * w)
            .sum();
        shifted(&self.params[a.item as usize], z)
    }
    fn posterior(&self, learner: u32) -> &AbilityPosterior {
        self.theta[learner as usize].as_ref().unwrap_or(&self.prior)
    }
}

impl OnlineModel for Hybrid {
    fn name(&self) -> &str {
        self.name
    }
    fn predict(&self, a: &EvalAttempt, item: &EvalItem) -> f64 {
        self.posterior(a.learner).p_correct(&self.item(a, item))
    }
    fn observe(&mut self, a: &EvalAttempt, item: &EvalItem) {
        let ip = self.item(a, item);
        if self.rows.is_some() {
            let x = self.features(a, item);
            let base = logit(
                self.posterior(a.learner)
                    .p_correct(&self.params[a.item as usize]),
            );
            if let Some(rows) = self.rows.as_mut() {
                rows.push((x, base, a.correct));
            }
        }
        let post = self.theta[a.learner as usize].get_or_insert_with(|| self.prior.clone());
        // A zero-likelihood answer leaves the posterior unchanged.
        let _ = post.observe(&ip, f64::from(u8::from(a.correct)));
        let day = self.days[self.step];
        for k in &item.kcs {
            let params = self.bkt[*k as usize];
            let s = &mut self.kcs[a.learner as usize * N_KCS + *k as usize];
            let m = s.mastery.unwrap_or(params.p_init());
            s.mastery = Some(params.update(m, a.correct).next);
            if a.correct {
                s.successes += 1.0;
            } else {
                s.failures += 1.0;
            }
            s.last_day = day;
        }
        self.step += 1;
    }
}

/// Logistic regression with offset by IRLS (ridge 1e−3); masked-out features stay at 0.
fn fit_shift(rows: &[([f64; NF], f64, bool)], mask: [bool; NF]) -> [f64; NF] {
    let mut w = [0.0; NF];
    for _ in 0..30 {
        let mut g = [0.0; NF];
        let mut h = [[0.0; NF]; NF];
        for (x, offset, y) in rows {
            let z: f64 = offset + x.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>();
            let p = logistic(z);
            let (r, v) = (f64::from(u8::from(*y)) - p, p * (1.0 - p));
            for i in (0..NF).filter(|i| mask[*i]) {
                g[i] += r * x[i];
                for j in (0..NF).filter(|j| mask[*j]) {
                    h[i][j] += v * x[i] * x[j];
                }
            }
        }
        for i in 0..NF {
            h[i][i] += 1e-3 + if mask[i] { 0.0 } else { 1.0 };
            g[i] -= 1e-3 * w[i];
        }
        let d = solve(h, g);
        let step = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (w, d) in w.iter_mut().zip(d) {
            *w += d;
        }
        if step < 1e-8 {
            break;
        }
    }
    w
}

/// Gaussian elimination without pivoting (the matrix is symmetric positive definite).
fn solve(mut a: [[f64; NF]; NF], mut b: [f64; NF]) -> [f64; NF] {
    for c in 0..NF {
        for r in c + 1..NF {
            let f = a[r][c] / a[c][c];
            let pivot = a[c];
            for (v, p) in a[r].iter_mut().zip(pivot).skip(c) {
                *v -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0.0; NF];
    for c in (0..NF).rev() {
        let s: f64 = (c + 1..NF).map(|k| a[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / a[c][c];
    }
    x
}

/// The θ × KC-state filter (see the module docs) over the whole log; returns the held-out
/// predictions and the training-window log-loss. `theta`: each learner's known θ, or `None`
/// to learn it online from N(0, 1).
struct Filter<'a> {
    items: &'a [ItemParams],
    kcs: &'a [Vec<usize>],
    p_init: Vec<f64>,
    p_learn: Vec<f64>,
    delta: f64,
    forget: f64,
    theta: Option<&'a [f64]>,
}

impl Filter<'_> {
    fn run(&self, data: &Dataset, days: &[f64]) -> (Vec<f64>, f64) {
        let grid = Quadrature::default();
        let n = data.n_learners();
        let mut post: Vec<Vec<f64>> = if self.theta.is_some() {
            vec![vec![1.0]; n]
        } else {
            vec![grid.weights().to_vec(); n]
        };
        let mut mastery: Vec<f64> = (0..n * N_KCS).map(|i| self.p_init[i % N_KCS]).collect();
        let mut last = vec![0.0f64; n * N_KCS];
        let (mut out, mut train) = (Vec::new(), 0.0);
        for (t, a) in data.attempts().iter().enumerate() {
            let l = a.learner as usize;
            let item = &self.items[a.item as usize];
            let ks = &self.kcs[a.item as usize];
            for k in ks {
                let i = l * N_KCS + k;
                mastery[i] *= (1.0 - self.forget).powf(days[t] - last[i]);
                last[i] = days[t];
            }
            let nodes: Vec<f64> = match self.theta {
                Some(th) => vec![th[l]],
                None => grid.nodes().to_vec(),
            };
            let nk = ks.len();
            let mut joint = vec![0.0; nodes.len() << nk];
            let mut p = 0.0;
            for s in 0..(1usize << nk) {
                let mut ws = 1.0;
                for (j, k) in ks.iter().enumerate() {
                    let m = mastery[l * N_KCS + k];
                    ws *= if s >> j & 1 == 1 { m } else { 1.0 - m };
                }
                let share = f64::from(s.count_ones()) / nk as f64;
                for (q, x) in nodes.iter().enumerate() {
                    let pc = item.p_correct(x + self.delta * share);
                    let w = post[l][q] * ws;
                    p += w * pc;
                    joint[(q << nk) | s] = w * if a.correct { pc } else { 1.0 - pc };
                }
            }
            if t >= data.holdout_from() {
                out.push(p);
            } else {
                train -= if a.correct { p.ln() } else { (1.0 - p).ln() };
            }
            let total: f64 = joint.iter().sum();
            if self.theta.is_none() {
                for (q, w) in post[l].iter_mut().enumerate() {
                    *w = (0..(1usize << nk))
                        .map(|s| joint[(q << nk) | s])
                        .sum::<f64>()
                        / total;
                }
            }
            for (j, k) in ks.iter().enumerate() {
                let known: f64 = joint
                    .iter()
                    .enumerate()
                    .filter(|(idx, _)| idx >> j & 1 == 1)
                    .map(|(_, v)| v)
                    .sum::<f64>()
                    / total;
                mastery[l * N_KCS + k] = known + (1.0 - known) * self.p_learn[*k];
            }
        }
        (out, train / data.holdout_from() as f64)
    }
}

/// The exact forecast with θ and every generator parameter known (see the module docs).
fn particles_known_theta(
    sim: &TrainingSim,
    data: &Dataset,
    days: &[f64],
    n: usize,
    rng: &mut StdRng,
) -> Vec<f64> {
    let learners = data.n_learners();
    let mut parts: Vec<Vec<u64>> = vec![vec![0; n]; learners];
    let mut touched = vec![0u64; learners];
    let mut last = vec![0.0f64; learners * N_KCS];
    let (mut out, mut lik, mut next) = (Vec::new(), vec![0.0; n], Vec::with_capacity(n));
    for (t, a) in data.attempts().iter().enumerate() {
        let l = a.learner as usize;
        let ks = &sim.item_kcs[a.item as usize];
        let mask: u64 = ks.iter().fold(0, |m, k| m | 1 << k);
        for k in ks {
            let bit = 1u64 << k;
            if touched[l] & bit == 0 {
                touched[l] |= bit;
                // Known at the start and not forgotten since (the learner's day 0).
                let known = sim.kc_params[*k].p_init() * 0.99f64.powf(days[t]);
                for s in &mut parts[l] {
                    if rng.random::<f64>() < known {
                        *s |= bit;
                    }
                }
            } else {
                let i = l * N_KCS + k;
                let forget = 1.0 - 0.99f64.powf(days[t] - last[i]);
                for s in &mut parts[l] {
                    if *s & bit != 0 && rng.random::<f64>() < forget {
                        *s &= !bit;
                    }
                }
            }
            last[l * N_KCS + k] = days[t];
        }
        let item = &sim.items[a.item as usize];
        let by_known: Vec<f64> = (0..=ks.len())
            .map(|c| item.p_correct(sim.thetas[l] + 1.5 * c as f64 / ks.len() as f64))
            .collect();
        let mut p = 0.0;
        for (s, w) in parts[l].iter().zip(lik.iter_mut()) {
            let pc = by_known[(s & mask).count_ones() as usize];
            p += pc;
            *w = if a.correct { pc } else { 1.0 - pc };
        }
        if t >= data.holdout_from() {
            out.push(p / n as f64);
        }
        // Systematic resampling, then learning on the item's unknown KCs.
        let total: f64 = lik.iter().sum();
        let start: f64 = rng.random::<f64>() / n as f64;
        let (mut cum, mut j) = (lik[0] / total, 0);
        next.clear();
        for i in 0..n {
            let u = start + i as f64 / n as f64;
            while cum < u && j + 1 < n {
                j += 1;
                cum += lik[j] / total;
            }
            next.push(parts[l][j]);
        }
        for s in &mut next {
            for k in ks {
                if *s >> k & 1 == 0 && rng.random::<f64>() < sim.kc_params[*k].p_learn() {
                    *s |= 1 << k;
                }
            }
        }
        std::mem::swap(&mut parts[l], &mut next);
    }
    out
}

/// What the fitted models share.
struct Ctx {
    learners: usize,
    params: Vec<ItemParams>,
    bkt: Vec<BktParams>,
    days: Vec<f64>,
}

/// The simulation and its log in time order.
struct Cohort {
    sim: TrainingSim,
    data: Dataset,
    /// The learner's day of each attempt, in time order.
    days: Vec<f64>,
    /// The simulation's index of each attempt, in time order.
    order: Vec<usize>,
}

fn cohort(learners: usize, per: usize, seed: u64) -> Result<Cohort, Box<dyn Error>> {
    let cfg = TrainingSimConfig {
        n_learners: learners,
        n_items: 2_000,
        n_kcs: N_KCS,
        attempts_per_learner: per,
        ..TrainingSimConfig::default()
    };
    let sim = simulate_training(&cfg, &mut StdRng::seed_from_u64(seed));
    // attempt_log's clock: learner l starts on day l mod 90, answers a minute apart.
    let (mut day, mut seen) = (vec![0u64; learners], vec![0u64; learners]);
    let (mut times, mut ldays) = (Vec::new(), Vec::new());
    for a in &sim.attempts {
        let l = a.learner as usize;
        day[l] += u64::from(a.days_elapsed);
        seen[l] += 1;
        times.push((1_700_000_000 + (l as u64 % 90 + day[l]) * 86_400 + seen[l] * 60) as i64);
        ldays.push(day[l] as f64);
    }
    let order = time_order(&times);
    let items = sim
        .items
        .iter()
        .enumerate()
        .map(|(j, it)| EvalItem {
            kcs: sim.item_kcs[j].iter().map(|k| *k as u32).collect(),
            group: 0,
            guess: match (it.c() > 0.0, j % 2 == 0) {
                (false, _) => 0.0,
                (true, true) => 0.25,
                (true, false) => 0.2,
            },
        })
        .collect();
    let attempts = order
        .iter()
        .map(|i| {
            let a = &sim.attempts[*i];
            EvalAttempt {
                learner: a.learner,
                item: a.item,
                correct: a.correct,
            }
        })
        .collect();
    let days = order.iter().map(|i| ldays[*i]).collect();
    let holdout = split_point(order.len(), 0.2);
    let data = Dataset::new(items, attempts, learners, N_KCS, holdout)?;
    Ok(Cohort {
        sim,
        data,
        days,
        order,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |k: usize, d: u64| -> Result<u64, Box<dyn Error>> {
        Ok(args.get(k).map(|s| s.parse()).transpose()?.unwrap_or(d))
    };
    let learners = usize::try_from(arg(0, 30_000)?)?;
    let per = usize::try_from(arg(1, 50)?)?;
    if learners < 10 || per < 2 || learners.saturating_mul(per) > 5_000_000 {
        return Err("between 10 learners × 2 attempts and 5,000,000 attempts".into());
    }
    let Cohort {
        sim,
        data,
        days,
        order,
    } = cohort(learners, per, arg(2, 13)?)?;
    let hf = data.holdout_from();
    let labels: Vec<bool> = data.held_out().iter().map(|a| a.correct).collect();
    let ctx = Ctx {
        learners,
        params: fit_irt(&data, IrtPolicy::ByGuess)?,
        bkt: fit_bkt(&data, 20),
        days,
    };

    // Hybrid weights: one training-window pass of the plain model collects the rows.
    let mut collector = Hybrid::new("collect", [true; NF], [0.0; NF], &ctx);
    collector.rows = Some(Vec::with_capacity(hf));
    for a in data.training() {
        collector.observe(a, &data.items()[a.item as usize]);
    }
    let rows = collector.rows.take().unwrap_or_default();
    let specs: [(&'static str, [bool; NF]); 3] = [
        ("hybrid_bkt", [true, true, false, false, false, false]),
        ("hybrid_pfa", [true, false, true, true, false, false]),
        ("hybrid_all", [true; NF]),
    ];
    let mut models: Vec<Box<dyn OnlineModel>> = vec![
        Box::new(ItemMean::new(data.items().len())),
        Box::new(Hybrid::new("irt_policy", [false; NF], [0.0; NF], &ctx)),
    ];
    for (name, mask) in specs {
        let w = fit_shift(&rows, mask);
        eprintln!("{name}: w = {w:.4?}");
        models.push(Box::new(Hybrid::new(name, mask, w, &ctx)));
    }
    let names: Vec<String> = models.iter().map(|m| m.name().to_owned()).collect();
    let mut table: Vec<(String, Vec<f64>)> =
        names.into_iter().zip(replay(&data, &mut models)).collect();

    // The fitted filter: δ and f chosen by training-window log-loss.
    let kb = |j: usize| {
        let ks = &sim.item_kcs[j];
        ks.iter().map(|k| ctx.bkt[*k].p_init()).sum::<f64>() / ks.len() as f64
    };
    let mut best: Option<(f64, f64, f64, Vec<f64>)> = None;
    for delta in [0.75, 1.5, 2.25] {
        let items: Vec<ItemParams> = ctx
            .params
            .iter()
            .enumerate()
            .map(|(j, p)| shifted(p, -delta * p.a() * kb(j)))
            .collect();
        for forget in [0.0, 0.01] {
            let (out, train) = Filter {
                items: &items,
                kcs: &sim.item_kcs,
                p_init: ctx.bkt.iter().map(BktParams::p_init).collect(),
                p_learn: ctx.bkt.iter().map(BktParams::p_learn).collect(),
                delta,
                forget,
                theta: None,
            }
            .run(&data, &ctx.days);
            eprintln!("kc_filter δ = {delta}, f = {forget}: training log-loss {train:.4}");
            if best.as_ref().is_none_or(|b| train < b.0) {
                best = Some((train, delta, forget, out));
            }
        }
    }
    if let Some((_, delta, forget, out)) = best {
        eprintln!("kc_filter: δ = {delta}, f = {forget}");
        table.push(("kc_filter".to_owned(), out));
    }

    // References from the generator's truth.
    let kappa = |i: usize| {
        let a = &sim.attempts[i];
        let it = sim.items[a.item as usize];
        let q = ((a.p_true - it.c()) / (1.0 - it.c())).clamp(1e-12, 1.0 - 1e-12);
        (logit(q) / it.a() + it.b() - sim.thetas[a.learner as usize]) / 1.5
    };
    let mean_kappa = order[hf..].iter().map(|i| kappa(*i)).sum::<f64>() / (order.len() - hf) as f64;
    table.push((
        "truth_mean_kc".to_owned(),
        order[hf..]
            .iter()
            .map(|i| {
                let a = &sim.attempts[*i];
                sim.items[a.item as usize]
                    .p_correct(sim.thetas[a.learner as usize] + 1.5 * mean_kappa)
            })
            .collect(),
    ));
    // True items shifted by the mean knowledge boost, θ learned online: the IRT model with its
    // item-estimation error removed.
    let mut posteriors = vec![AbilityPosterior::new(&Quadrature::default()); learners];
    let mut truth_items = Vec::with_capacity(order.len() - hf);
    for (t, a) in data.attempts().iter().enumerate() {
        let item = shifted(
            &sim.items[a.item as usize],
            1.5 * mean_kappa * sim.items[a.item as usize].a(),
        );
        let post = &mut posteriors[a.learner as usize];
        if t >= hf {
            truth_items.push(post.p_correct(&item));
        }
        let _ = post.observe(&item, f64::from(u8::from(a.correct)));
    }
    table.push(("truth_items_online_theta".to_owned(), truth_items));
    for (name, theta) in [
        ("truth_filter_online_theta", None),
        ("truth_filter_known_theta", Some(sim.thetas.as_slice())),
    ] {
        let filter = Filter {
            items: &sim.items,
            kcs: &sim.item_kcs,
            p_init: sim.kc_params.iter().map(BktParams::p_init).collect(),
            p_learn: sim.kc_params.iter().map(BktParams::p_learn).collect(),
            delta: 1.5,
            forget: 0.01,
            theta,
        };
        table.push((name.to_owned(), filter.run(&data, &ctx.days).0));
    }
    let particles = usize::try_from(arg(3, 0)?)?;
    if particles > 0 {
        let mut rng = StdRng::seed_from_u64(arg(2, 13)?.wrapping_add(1));
        table.push((
            "truth_particles_known_theta".to_owned(),
            particles_known_theta(&sim, &data, &ctx.days, particles, &mut rng),
        ));
    }
    table.push((
        "oracle".to_owned(),
        order[hf..]
            .iter()
            .map(|i| sim.attempts[*i].p_true)
            .collect(),
    ));

    let base = log_loss(&table[0].1, &labels);
    println!(
        "{} attempts, {} held out (seed {})",
        order.len(),
        labels.len(),
        arg(2, 13)?
    );
    println!("| model | log-loss | gain over item_mean | ECE |");
    println!("| --- | --- | --- | --- |");
    for (name, p) in &table {
        let l = log_loss(p, &labels);
        println!(
            "| `{name}` | {l:.4} | {:.1} % | {:.4} |",
            100.0 * (1.0 - l / base),
            ece(p, &labels)
        );
    }
    Ok(())
}
