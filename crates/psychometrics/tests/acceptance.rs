//! Acceptance checks on the full benchmark data (1,000,000 responses each). Ignored by default
//! because they need a release build to be quick:
//! `cargo test --release -p myqcm-psychometrics --test acceptance -- --ignored`.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort on invalid simulated data"
)]

use myqcm_psychometrics::bkt::{BktFitConfig, fit_many, log_likelihood};
use myqcm_psychometrics::calibration::{CalibrationConfig, Priors, ResponseMatrix, calibrate};
use myqcm_psychometrics::irt::{ItemParams, ModelKind};
use myqcm_psychometrics::sim::{IrtSim, IrtSimConfig, simulate_bkt, simulate_irt};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn fit_data(cfg: &IrtSimConfig, seed: u64) -> (IrtSim, ResponseMatrix) {
    let sim = simulate_irt(cfg, &mut StdRng::seed_from_u64(seed));
    let t: Vec<_> = sim
        .responses
        .iter()
        .map(|r| (r.learner, r.item, r.score))
        .collect();
    let m = ResponseMatrix::new(cfg.n_learners, cfg.n_items, &t).unwrap();
    (sim, m)
}

fn rmse(est: &[ItemParams], truth: &[ItemParams], f: fn(&ItemParams) -> f64) -> f64 {
    let s: f64 = est
        .iter()
        .zip(truth)
        .map(|(e, t)| (f(e) - f(t)).powi(2))
        .sum();
    (s / est.len() as f64).sqrt()
}

#[test]
#[ignore = "1M responses: run in release"]
fn twopl_on_a_million_responses_recovers_the_truth_and_beats_it_in_likelihood() {
    let (sim, m) = fit_data(&IrtSimConfig::default(), 1);
    let fit = calibrate(&m, &CalibrationConfig::new(ModelKind::TwoPl)).unwrap();
    let est: Vec<ItemParams> = fit.items.iter().map(|i| i.params).collect();
    assert!(rmse(&est, &sim.items, ItemParams::a) < 0.1);
    assert!(rmse(&est, &sim.items, ItemParams::b) < 0.1);
    let truth_ll = myqcm_psychometrics::calibration::marginal_log_lik(
        &m,
        &sim.items,
        &CalibrationConfig::new(ModelKind::TwoPl).quadrature,
    )
    .unwrap();
    assert!(fit.log_lik > truth_ll);
}

#[test]
#[ignore = "1M responses: run in release"]
fn threepl_with_prior_beats_the_prior_mean_by_thirty_percent() {
    let cfg = IrtSimConfig {
        model: ModelKind::ThreePl,
        b_mean: 0.75,
        log_a_mean: 0.26,
        ..IrtSimConfig::default()
    };
    let (sim, m) = fit_data(&cfg, 2);
    let means: Vec<f64> = sim.options.iter().map(|k| 1.0 / f64::from(*k)).collect();
    let mut config = CalibrationConfig::new(ModelKind::ThreePl);
    config.priors = Priors::three_pl(means.clone());
    config.priors.c_strength = Some(40.0);
    let fit = calibrate(&m, &config).unwrap();
    let est: Vec<ItemParams> = fit.items.iter().map(|i| i.params).collect();
    let rc = rmse(&est, &sim.items, ItemParams::c);
    let prior: f64 = (sim
        .items
        .iter()
        .zip(&means)
        .map(|(t, m)| (t.c() - m).powi(2))
        .sum::<f64>()
        / means.len() as f64)
        .sqrt();
    assert!(rc < 0.7 * prior, "c rmse {rc} vs prior {prior}");
    assert!(rmse(&est, &sim.items, ItemParams::b) <= 0.30);
}

#[test]
#[ignore = "1M responses: run in release"]
fn bkt_on_a_million_responses_is_within_005_of_the_truth() {
    let sim = simulate_bkt(20_000, 50, 5, 10, &mut StdRng::seed_from_u64(3));
    let fits = fit_many(&sim.sequences, &BktFitConfig::default());
    let mut mae = [0.0; 4];
    for ((f, t), seqs) in fits.iter().zip(&sim.params).zip(&sim.sequences) {
        let f = f.as_ref().unwrap();
        let p = f.params;
        for (m, d) in mae.iter_mut().zip([
            p.p_init() - t.p_init(),
            p.p_learn() - t.p_learn(),
            p.p_guess() - t.p_guess(),
            p.p_slip() - t.p_slip(),
        ]) {
            *m += d.abs() / 50.0;
        }
        assert!(f.log_lik >= log_likelihood(t, seqs) - 1e-6);
    }
    assert!(mae.iter().all(|m| *m < 0.05), "{mae:?}");
}
