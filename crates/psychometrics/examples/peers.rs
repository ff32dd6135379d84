//! Data export and our side of the peer comparison (`bench/peers.sh`).
//!
//! ```text
//! peers export DIR               simulate the benchmark data sets and write CSVs to DIR
//! peers irt CSV MODEL Q TOL OUT [ITEMS_CSV]
//!                                calibrate (MODEL = 1pl|2pl|3pl|3pl-ml, Q nodes on [−6, 6], param
//!                                tolerance TOL), write item,a,b,c to OUT, print a JSON line
//! peers bkt CSV TOL OUT          fit BKT per KC, write kc,p_init,p_learn,p_guess,p_slip to OUT
//! peers ll CSV PARAMS Q          marginal log-likelihood of item,a,b,c on a Q-node grid
//! peers bktll CSV PARAMS         BKT log-likelihood of kc,p_init,p_learn,p_guess,p_slip
//! ```
//!
//! Data sets (seeds fixed): 2PL and 3PL on 20,000 learners × 500 items × 50 answers; BKT on
//! 20,000 learners × 50 KCs (5 KCs × 10 attempts each per learner), 1,000,000 responses each.
use std::error::Error;
use std::fmt::Write as _;
use std::time::Instant;

use myqcm_psychometrics::bkt::{BktFitConfig, BktParams, BktSequences, fit_many, log_likelihood};
use myqcm_psychometrics::calibration::{
    CalibrationConfig, Priors, ResponseMatrix, calibrate, marginal_log_lik,
};
use myqcm_psychometrics::irt::{ItemParams, ModelKind};
use myqcm_psychometrics::quadrature::Quadrature;
use myqcm_psychometrics::sim::{IrtSimConfig, simulate_bkt, simulate_irt};
use rand::SeedableRng;
use rand::rngs::StdRng;

type Res<T> = Result<T, Box<dyn Error>>;

/// The 3PL benchmark design: items somewhat hard and discriminating (b ~ N(0.75, 1),
/// ln a ~ N(0.26, 0.3²)), c ~ Beta with mean 1/k (k ∈ {4, 5}) and concentration 40.
fn three_pl_design() -> IrtSimConfig {
    IrtSimConfig {
        model: ModelKind::ThreePl,
        b_mean: 0.75,
        log_a_mean: 0.26,
        c_concentration: 40.0,
        ..IrtSimConfig::default()
    }
}

fn export(dir: &str) -> Res<()> {
    std::fs::create_dir_all(dir)?;
    for (name, cfg, seed) in [
        ("irt2pl", IrtSimConfig::default(), 1u64),
        ("irt3pl", three_pl_design(), 2),
    ] {
        let sim = simulate_irt(&cfg, &mut StdRng::seed_from_u64(seed));
        let mut s = String::from("learner,item,score\n");
        for r in &sim.responses {
            writeln!(s, "{},{},{}", r.learner, r.item, r.score)?;
        }
        std::fs::write(format!("{dir}/{name}.csv"), s)?;
        let mut t = String::from("item,a,b,c,options\n");
        for (j, (i, k)) in sim.items.iter().zip(&sim.options).enumerate() {
            writeln!(t, "{j},{},{},{},{k}", i.a(), i.b(), i.c())?;
        }
        std::fs::write(format!("{dir}/{name}_truth.csv"), t)?;
    }
    let sim = simulate_bkt(20_000, 50, 5, 10, &mut StdRng::seed_from_u64(3));
    let mut s = String::from("learner,kc,correct\n");
    for (l, k, y) in &sim.attempts {
        writeln!(s, "{l},{k},{}", u8::from(*y))?;
    }
    std::fs::write(format!("{dir}/bkt.csv"), s)?;
    let mut t = String::from("kc,p_init,p_learn,p_guess,p_slip\n");
    for (k, p) in sim.params.iter().enumerate() {
        writeln!(
            t,
            "{k},{},{},{},{}",
            p.p_init(),
            p.p_learn(),
            p.p_guess(),
            p.p_slip()
        )?;
    }
    std::fs::write(format!("{dir}/bkt_truth.csv"), t)?;
    Ok(())
}

fn read_rows(path: &str) -> Res<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(path)?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        rows.push(
            line.split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(rows)
}

fn irt(args: &[String]) -> Res<()> {
    let [csv, model, q, tol, out, rest @ ..] = args else {
        return Err("usage: peers irt CSV MODEL Q TOL OUT [ITEMS_CSV]".into());
    };
    let ml = model.ends_with("-ml");
    let model = match model.trim_end_matches("-ml") {
        "1pl" => ModelKind::OnePl,
        "2pl" => ModelKind::TwoPl,
        "3pl" => ModelKind::ThreePl,
        other => return Err(format!("unknown model {other}").into()),
    };
    let rows = read_rows(csv)?;
    let triples: Vec<(u32, u32, f64)> = rows
        .iter()
        .map(|r| (r[0] as u32, r[1] as u32, r[2]))
        .collect();
    let n_l = triples.iter().map(|t| t.0).max().unwrap_or(0) as usize + 1;
    let n_i = triples.iter().map(|t| t.1).max().unwrap_or(0) as usize + 1;
    let data = ResponseMatrix::new(n_l, n_i, &triples)?;
    let mut config = CalibrationConfig::new(model);
    config.quadrature = Quadrature::standard_normal(q.parse()?, 6.0)?;
    config.param_tol = tol.parse()?;
    if model == ModelKind::ThreePl {
        // Per-item prior mode of c = 1/k from the number of options (item metadata).
        let mut means = vec![0.2; n_i];
        if let Some(items) = rest.first() {
            for r in read_rows(items)? {
                means[r[0] as usize] = 1.0 / r[4];
            }
        }
        config.priors = Priors::three_pl(means);
        config.priors.c_strength = Some(40.0);
        if ml {
            // Maximum likelihood: 1/k is only the starting value of c.
            config.priors.c_strength = None;
            config.priors.log_a = None;
        }
    }
    let start = Instant::now();
    let fit = calibrate(&data, &config)?;
    let secs = start.elapsed().as_secs_f64();
    let mut s = String::from("item,a,b,c\n");
    for (j, e) in fit.items.iter().enumerate() {
        writeln!(s, "{j},{},{},{}", e.params.a(), e.params.b(), e.params.c())?;
    }
    std::fs::write(out, s)?;
    println!(
        "{{\"time_s\": {secs:.4}, \"log_lik\": {:.4}, \"iterations\": {}, \"stop\": \"{}\"}}",
        fit.log_lik, fit.iterations, fit.stop
    );
    Ok(())
}

/// Reads `learner,kc,correct` rows grouped by learner in time order into per-KC sequences
/// (one sequence per learner × KC).
fn read_bkt(csv: &str) -> Res<Vec<BktSequences>> {
    let rows = read_rows(csv)?;
    let n_kcs = rows.iter().map(|r| r[1] as usize).max().unwrap_or(0) + 1;
    let mut kcs = vec![BktSequences::new(); n_kcs];
    let mut current: Vec<Vec<bool>> = vec![Vec::new(); n_kcs];
    let mut touched: Vec<usize> = Vec::new();
    let mut learner = f64::NAN;
    let mut flush = |current: &mut Vec<Vec<bool>>, touched: &mut Vec<usize>| {
        for k in touched.drain(..) {
            kcs[k].push(&current[k]);
            current[k].clear();
        }
    };
    for r in &rows {
        if r[0] != learner {
            flush(&mut current, &mut touched);
            learner = r[0];
        }
        let k = r[1] as usize;
        if current[k].is_empty() {
            touched.push(k);
        }
        current[k].push(r[2] > 0.5);
    }
    flush(&mut current, &mut touched);
    Ok(kcs)
}

fn bkt(args: &[String]) -> Res<()> {
    let [csv, tol, out, ..] = args else {
        return Err("usage: peers bkt CSV TOL OUT".into());
    };
    let kcs = read_bkt(csv)?;
    let config = BktFitConfig {
        ll_tol: tol.parse()?,
        ..BktFitConfig::default()
    };
    let start = Instant::now();
    let fits = fit_many(&kcs, &config);
    let secs = start.elapsed().as_secs_f64();
    let mut s = String::from("kc,p_init,p_learn,p_guess,p_slip\n");
    let mut ll = 0.0;
    let mut iters = 0;
    for (k, f) in fits.into_iter().enumerate() {
        let f = f?;
        ll += f.log_lik;
        iters = iters.max(f.iterations);
        let p = f.params;
        writeln!(
            s,
            "{k},{},{},{},{}",
            p.p_init(),
            p.p_learn(),
            p.p_guess(),
            p.p_slip()
        )?;
    }
    std::fs::write(out, s)?;
    println!("{{\"time_s\": {secs:.4}, \"log_lik\": {ll:.4}, \"iterations\": {iters}}}");
    Ok(())
}

fn ll(args: &[String]) -> Res<()> {
    let [csv, params, q, ..] = args else {
        return Err("usage: peers ll CSV PARAMS_CSV Q".into());
    };
    let rows = read_rows(csv)?;
    let triples: Vec<(u32, u32, f64)> = rows
        .iter()
        .map(|r| (r[0] as u32, r[1] as u32, r[2]))
        .collect();
    let n_l = triples.iter().map(|t| t.0).max().unwrap_or(0) as usize + 1;
    let n_i = triples.iter().map(|t| t.1).max().unwrap_or(0) as usize + 1;
    let data = ResponseMatrix::new(n_l, n_i, &triples)?;
    let items = read_rows(params)?
        .iter()
        .map(|r| ItemParams::three_pl(r[1].max(1e-6), r[2], r[3].clamp(0.0, 0.999)))
        .collect::<Result<Vec<_>, _>>()?;
    let grid = Quadrature::standard_normal(q.parse()?, 6.0)?;
    println!(
        "{{\"log_lik\": {:.4}}}",
        marginal_log_lik(&data, &items, &grid)?
    );
    Ok(())
}

fn bkt_ll(args: &[String]) -> Res<()> {
    let [csv, params, ..] = args else {
        return Err("usage: peers bktll CSV PARAMS_CSV".into());
    };
    let kcs = read_bkt(csv)?;
    let mut total = 0.0;
    for (r, seqs) in read_rows(params)?.iter().zip(&kcs) {
        let p = BktParams::clamped(r[1], r[2], r[3], r[4]);
        total += log_likelihood(&p, seqs);
    }
    println!("{{\"log_lik\": {total:.4}}}");
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("export") => export(args.get(1).map_or("bench/out", String::as_str)),
        Some("irt") => irt(&args[1..]),
        Some("bkt") => bkt(&args[1..]),
        Some("ll") => ll(&args[1..]),
        Some("bktll") => bkt_ll(&args[1..]),
        _ => Err("usage: peers export DIR | irt ... | bkt ...".into()),
    }
}
