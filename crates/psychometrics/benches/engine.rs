//! Benchmarks of the engine (divan): `cargo bench -p myqcm-psychometrics`.
//!
//! * calibration: 2PL and 3PL (prior on c) on 20,000 learners × 500 items × 50 answers
//!   (1,000,000 responses), 41 nodes, tolerance 1e-4;
//! * BKT EM fit on 50 KCs × 1,000,000 responses;
//! * EAP of one learner (50 answers), the online posterior update, one BKT step;
//! * one selection over 5,000 single-item units.
#![expect(
    clippy::expect_used,
    reason = "benchmarks run on fixed, valid inputs and should abort loudly otherwise"
)]

use std::hint::black_box;
use std::sync::LazyLock;

use myqcm_psychometrics::ability::{AbilityPosterior, eap};
use myqcm_psychometrics::bkt::{BktFitConfig, BktParams, fit_many};
use myqcm_psychometrics::calibration::{CalibrationConfig, Priors, ResponseMatrix, calibrate};
use myqcm_psychometrics::irt::{ItemParams, ModelKind};
use myqcm_psychometrics::quadrature::Quadrature;
use myqcm_psychometrics::selection::{LearnerView, SelectionPolicy, Unit, select_next};
use myqcm_psychometrics::sim::{BktSim, IrtSim, IrtSimConfig, simulate_bkt, simulate_irt};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn main() {
    divan::main();
}

fn matrix(sim: &IrtSim, cfg: &IrtSimConfig) -> ResponseMatrix {
    let t: Vec<_> = sim
        .responses
        .iter()
        .map(|r| (r.learner, r.item, r.score))
        .collect();
    ResponseMatrix::new(cfg.n_learners, cfg.n_items, &t).expect("simulated data are valid")
}

static TWO_PL: LazyLock<(IrtSim, ResponseMatrix)> = LazyLock::new(|| {
    let cfg = IrtSimConfig::default();
    let sim = simulate_irt(&cfg, &mut StdRng::seed_from_u64(1));
    let m = matrix(&sim, &cfg);
    (sim, m)
});

static THREE_PL: LazyLock<(IrtSim, ResponseMatrix)> = LazyLock::new(|| {
    let cfg = IrtSimConfig {
        model: ModelKind::ThreePl,
        b_mean: 0.75,
        log_a_mean: 0.26,
        ..IrtSimConfig::default()
    };
    let sim = simulate_irt(&cfg, &mut StdRng::seed_from_u64(2));
    let m = matrix(&sim, &cfg);
    (sim, m)
});

static BKT: LazyLock<BktSim> =
    LazyLock::new(|| simulate_bkt(20_000, 50, 5, 10, &mut StdRng::seed_from_u64(3)));

#[divan::bench(sample_count = 5, sample_size = 1)]
fn calibrate_2pl_1m_responses() {
    let (_, m) = &*TWO_PL;
    black_box(calibrate(m, &CalibrationConfig::new(ModelKind::TwoPl)).expect("fit"));
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn calibrate_3pl_with_prior_1m_responses() {
    let (sim, m) = &*THREE_PL;
    let mut config = CalibrationConfig::new(ModelKind::ThreePl);
    config.priors = Priors::three_pl(sim.options.iter().map(|k| 1.0 / f64::from(*k)).collect());
    config.priors.c_strength = Some(40.0);
    black_box(calibrate(m, &config).expect("fit"));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn bkt_fit_50_kcs_1m_responses() {
    black_box(fit_many(&BKT.sequences, &BktFitConfig::default()));
}

fn fifty_answers() -> Vec<(ItemParams, f64)> {
    (0..50)
        .map(|k| {
            let b = -2.0 + 0.08 * f64::from(k);
            let item = ItemParams::three_pl(1.2, b, 0.2).expect("valid");
            (item, if k % 3 == 0 { 0.0 } else { 1.0 })
        })
        .collect()
}

#[divan::bench]
fn eap_one_learner_50_answers(bencher: divan::Bencher) {
    let answers = fifty_answers();
    let grid = Quadrature::default();
    bencher.bench(|| black_box(eap(black_box(&answers), &grid).expect("eap")));
}

#[divan::bench]
fn online_update_one_answer(bencher: divan::Bencher) {
    let grid = Quadrature::default();
    let item = ItemParams::three_pl(1.3, 0.4, 0.2).expect("valid");
    bencher
        .with_inputs(|| AbilityPosterior::new(&grid))
        .bench_local_refs(|post| {
            black_box(post.observe(black_box(&item), 1.0).expect("update"));
            black_box(post.eap());
        });
}

#[divan::bench]
fn bkt_update_one_answer(bencher: divan::Bencher) {
    let p = BktParams::default();
    bencher.bench(|| black_box(p.update(black_box(0.4), black_box(true))));
}

#[divan::bench]
fn select_one_over_5000_items(bencher: divan::Bencher) {
    let mut rng = StdRng::seed_from_u64(9);
    let units: Vec<Unit> = (0..5000u64)
        .map(|i| Unit {
            id: i,
            items: vec![
                ItemParams::three_pl(
                    0.5 + (i % 7) as f64 * 0.2,
                    -3.0 + (i % 61) as f64 * 0.1,
                    0.2,
                )
                .expect("valid"),
            ],
            kcs: vec![(i % 50) as usize, ((i * 7) % 50) as usize],
            due: if i % 97 == 0 { 0.8 } else { 0.0 },
            blueprint_gap: (i % 5) as f64 * 0.05,
            exposure_k: 1.0,
        })
        .collect();
    let mastery: Vec<f64> = (0..50).map(|k| f64::from(k) / 50.0).collect();
    let recent: Vec<u64> = (0..30).map(|k| k * 11).collect();
    let learner = LearnerView {
        theta: 0.3,
        kc_mastery: &mastery,
        recent: &recent,
    };
    let policy = SelectionPolicy::default();
    bencher.bench_local(|| black_box(select_next(&units, &learner, &policy, &mut rng)));
}
