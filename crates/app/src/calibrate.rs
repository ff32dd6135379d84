//! `myqcm calibrate`: item calibration from the database (no `--input`: graded attempts, a
//! candidate parameter set written, see [`run_database`]) or from a CSV file (research mode).
//!
//! File mode: input is long format `learner,item,score` (header required, columns in any order, extra
//! columns ignored, score in [0, 1]; a blank score is "not answered"). The command fits the
//! chosen model by marginal maximum likelihood (`myqcm_psychometrics::calibration`), prints
//! each item's parameters with standard errors, the marginal log-likelihood, the iteration
//! count, the stop reason and the priors used (or `none`), and each learner's EAP θ with its
//! posterior SD — items and learners in the order they first appear in the input — and writes
//! the same as JSON to `--output`. Bad input is an error naming the line. A closed standard
//! output (`| head`) ends the command quietly.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use myqcm_psychometrics::calibration::{
    Calibration, CalibrationConfig, NormalPrior, Priors, ResponseMatrix, calibrate,
};
use myqcm_psychometrics::irt::ModelKind;
use myqcm_psychometrics::quadrature::Quadrature;
use myqcm_services::calibration::{
    Calibration as DbCalibration, CalibrationOptions, CalibrationReport as DbReport,
};
use serde::Serialize;

/// Arguments of `myqcm calibrate`.
#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// CSV file in long format with columns learner,item,score (score in [0, 1]). Without it,
    /// the command calibrates from the configured database and writes a candidate parameter set.
    #[arg(long, requires = "model")]
    pub input: Option<PathBuf>,
    /// Item response model (file mode; the database mode follows the item-type policy).
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Database mode: print the report as JSON.
    #[arg(long, conflicts_with = "input")]
    pub json: bool,
    /// Database mode: an item group with fewer graded answers keeps its current parameters.
    #[arg(long, default_value_t = 30, conflicts_with = "input")]
    pub min_responses: usize,
    /// Database mode: a KC with fewer graded observations keeps its current BKT parameters.
    #[arg(long, default_value_t = 100, conflicts_with = "input")]
    pub min_kc_observations: usize,
    /// Database mode: no progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where to write the results as JSON.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Number of quadrature nodes on [-6, 6].
    #[arg(long, default_value_t = 41)]
    pub quadrature_points: usize,
    /// Convergence tolerance on the largest parameter change.
    #[arg(long, default_value_t = 1e-4)]
    pub tolerance: f64,
    /// Iteration cap.
    #[arg(long, default_value_t = 500)]
    pub max_iterations: usize,
    /// 3PL only: prior mode of the guessing parameter c (1/k for k options).
    #[arg(long, default_value_t = 0.2)]
    pub guess_prior: f64,
    /// Pure maximum likelihood: no prior on a and b (by default ln a ~ N(0, 0.5²) and
    /// b ~ N(0, 2²), which keep items with few answers finite).
    #[arg(long)]
    pub no_priors: bool,
}

/// The model family on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelArg {
    /// Rasch / one-parameter logistic (a = 1).
    #[value(name = "1pl")]
    OnePl,
    /// Two-parameter logistic.
    #[value(name = "2pl")]
    TwoPl,
    /// Three-parameter logistic with a Beta prior on c.
    #[value(name = "3pl")]
    ThreePl,
}

impl ModelArg {
    fn kind(self) -> ModelKind {
        match self {
            Self::OnePl => ModelKind::OnePl,
            Self::TwoPl => ModelKind::TwoPl,
            Self::ThreePl => ModelKind::ThreePl,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::OnePl => "1pl",
            Self::TwoPl => "2pl",
            Self::ThreePl => "3pl",
        }
    }
}

/// Responses read from the CSV, with learners and items indexed in order of appearance.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedResponses {
    /// Learner labels, by index.
    pub learners: Vec<String>,
    /// Item labels, by index.
    pub items: Vec<String>,
    /// `(learner index, item index, score)` for every answered row.
    pub responses: Vec<(u32, u32, f64)>,
}

/// Parses the long-format CSV. Errors name the 1-based line: an empty file, a header without
/// `learner`, `item` or `score`, a row missing a value, a non-numeric score, a score outside
/// [0, 1], or an item that appears only with blank scores (nobody answered it).
///
/// # Errors
/// As above, as `anyhow` errors with a message suitable for the terminal.
pub fn parse_responses<R: Read>(reader: R) -> anyhow::Result<ParsedResponses> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv
        .headers()
        .context("line 1: cannot read the header")?
        .clone();
    if headers.iter().all(str::is_empty) {
        bail!("line 1: the file is empty (expected a header `learner,item,score`)");
    }
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let (learner_col, item_col, score_col) = match (col("learner"), col("item"), col("score")) {
        (Some(l), Some(i), Some(s)) => (l, i, s),
        (l, i, s) => {
            let missing: Vec<&str> = [("learner", l), ("item", i), ("score", s)]
                .iter()
                .filter(|(_, c)| c.is_none())
                .map(|(n, _)| *n)
                .collect();
            bail!(
                "line 1: missing column(s) {} (expected a header `learner,item,score`)",
                missing.join(", ")
            );
        }
    };
    let mut learner_ids: HashMap<String, u32> = HashMap::new();
    let mut item_ids: HashMap<String, u32> = HashMap::new();
    let mut parsed = ParsedResponses {
        learners: Vec::new(),
        items: Vec::new(),
        responses: Vec::new(),
    };
    // First line where each item appears, and how many answers it got.
    let mut item_first_line: Vec<u64> = Vec::new();
    let mut item_answers: Vec<usize> = Vec::new();
    let mut rows = 0usize;
    for record in csv.records() {
        let record = record.context("cannot read the CSV")?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        let field = |c: usize, name: &str| -> anyhow::Result<&str> {
            match record.get(c) {
                Some(v) if !v.is_empty() || name == "score" => Ok(v),
                _ => bail!("line {line}: missing value for `{name}`"),
            }
        };
        let learner = field(learner_col, "learner")?;
        let item = field(item_col, "item")?;
        let score = record.get(score_col).unwrap_or("");
        let next_item = item_ids.len() as u32;
        let j = *item_ids.entry(item.to_owned()).or_insert_with(|| {
            parsed.items.push(item.to_owned());
            item_first_line.push(line);
            item_answers.push(0);
            next_item
        });
        if score.is_empty() {
            continue;
        }
        let u: f64 = score
            .parse()
            .map_err(|_| anyhow::anyhow!("line {line}: score `{score}` is not a number"))?;
        if !(u.is_finite() && (0.0..=1.0).contains(&u)) {
            bail!("line {line}: score {score} is outside [0, 1]");
        }
        let next_learner = learner_ids.len() as u32;
        let l = *learner_ids.entry(learner.to_owned()).or_insert_with(|| {
            parsed.learners.push(learner.to_owned());
            next_learner
        });
        item_answers[j as usize] += 1;
        parsed.responses.push((l, j, u));
    }
    if rows == 0 {
        bail!("line 2: the file has a header but no data rows");
    }
    if let Some(j) = item_answers.iter().position(|n| *n == 0) {
        bail!(
            "line {}: item `{}` has no answer (only blank scores); remove it or add responses",
            item_first_line[j],
            parsed.items[j]
        );
    }
    Ok(parsed)
}

/// One item in the report.
#[derive(Debug, Serialize, PartialEq)]
pub struct ItemReport {
    /// Item label from the CSV.
    pub item: String,
    /// Discrimination.
    pub a: f64,
    /// Difficulty.
    pub b: f64,
    /// Lower asymptote.
    pub c: f64,
    /// Standard errors (complete-data approximation), absent for fixed parameters.
    pub se_a: Option<f64>,
    /// SE of b.
    pub se_b: Option<f64>,
    /// SE of c.
    pub se_c: Option<f64>,
    /// Number of answers.
    pub n: usize,
}

/// One learner in the report.
#[derive(Debug, Serialize, PartialEq)]
pub struct LearnerReport {
    /// Learner label from the CSV.
    pub learner: String,
    /// EAP ability.
    pub theta: f64,
    /// Posterior standard deviation.
    pub sd: f64,
}

/// What `myqcm calibrate` prints and writes.
#[derive(Debug, Serialize, PartialEq)]
pub struct CalibrationReport {
    /// Model name (1pl, 2pl, 3pl).
    pub model: &'static str,
    /// Marginal log-likelihood at the estimates.
    pub log_likelihood: f64,
    /// EM iterations.
    pub iterations: usize,
    /// Why the EM loop stopped.
    pub stop_reason: String,
    /// Whether a convergence criterion (not the cap) stopped it.
    pub converged: bool,
    /// Whether priors entered the fit (maximum a posteriori) or not (maximum likelihood).
    pub priors_used: bool,
    /// The priors, in words (`none` for pure maximum likelihood).
    pub priors: String,
    /// Items, in the order they first appear in the input.
    pub items: Vec<ItemReport>,
    /// Learners, in the order they first appear in the input.
    pub learners: Vec<LearnerReport>,
}

/// The priors of a fit in words, e.g. `ln a ~ N(0, 0.5²), b ~ N(0, 2²)`; `None` when there are
/// none.
fn describe_priors(p: &Priors) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(n) = &p.log_a {
        parts.push(format!("ln a ~ N({}, {}²)", n.mean, n.sd));
    }
    if let Some(n) = &p.b {
        parts.push(format!("b ~ N({}, {}²)", n.mean, n.sd));
    }
    if let Some(k) = p.c_strength {
        parts.push(format!("c ~ Beta(mode {}, strength {k})", p.c_default_mean));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Calibrates parsed responses with the command's settings.
///
/// # Errors
/// Invalid settings or data rejected by the estimator.
pub fn calibrate_parsed(
    parsed: &ParsedResponses,
    args: &CalibrateArgs,
) -> anyhow::Result<CalibrationReport> {
    let model = args
        .model
        .ok_or_else(|| anyhow::anyhow!("--model is required with --input"))?;
    let data = ResponseMatrix::new(parsed.learners.len(), parsed.items.len(), &parsed.responses)?;
    let mut config = CalibrationConfig::new(model.kind());
    config.quadrature = Quadrature::standard_normal(args.quadrature_points, 6.0)?;
    config.param_tol = args.tolerance;
    config.max_iter = args.max_iterations;
    if model == ModelArg::ThreePl {
        if !(args.guess_prior > 0.0 && args.guess_prior < 0.5) {
            bail!(
                "--guess-prior must be in (0, 0.5), got {}",
                args.guess_prior
            );
        }
        config.priors = Priors {
            c_default_mean: args.guess_prior,
            ..Priors::three_pl(Vec::new())
        };
    }
    if args.no_priors {
        config.priors.log_a = None;
        config.priors.b = None;
    } else {
        if model != ModelArg::OnePl {
            config.priors.log_a = Some(NormalPrior { mean: 0.0, sd: 0.5 });
        }
        config.priors.b = Some(NormalPrior { mean: 0.0, sd: 2.0 });
    }
    let priors = describe_priors(&config.priors);
    let fit: Calibration = calibrate(&data, &config)?;
    Ok(CalibrationReport {
        priors_used: priors.is_some(),
        priors: priors.unwrap_or_else(|| "none (maximum likelihood)".to_owned()),
        model: model.name(),
        log_likelihood: fit.log_lik,
        iterations: fit.iterations,
        stop_reason: fit.stop.to_string(),
        converged: fit.stop.converged(),
        items: fit
            .items
            .iter()
            .zip(&parsed.items)
            .map(|(e, name)| ItemReport {
                item: name.clone(),
                a: e.params.a(),
                b: e.params.b(),
                c: e.params.c(),
                se_a: e.se[0],
                se_b: e.se[1],
                se_c: e.se[2],
                n: e.n_responses,
            })
            .collect(),
        learners: fit
            .abilities
            .iter()
            .zip(&parsed.learners)
            .map(|(a, name)| LearnerReport {
                learner: name.clone(),
                theta: a.theta,
                sd: a.se,
            })
            .collect(),
    })
}

/// Runs `myqcm calibrate` without `--input`: graded attempts from the database, a candidate
/// parameter set written (never made active), the report printed (as JSON with `--json`).
///
/// # Errors
/// No graded attempt, storage or estimator failures.
pub async fn run_database(services: &crate::Services, args: &CalibrateArgs) -> anyhow::Result<()> {
    let bar = if args.quiet || args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(1000)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress_bar = bar.clone();
    let progress = move |fraction: f64, message: &str| {
        progress_bar.set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
        progress_bar.set_message(message.to_owned());
        true
    };
    let options = CalibrationOptions {
        min_responses: args.min_responses,
        min_kc_observations: args.min_kc_observations,
        ..CalibrationOptions::default()
    };
    let calibration = DbCalibration::new(services.db.clone(), services.clock.clone());
    let report = calibration.run(options, &progress).await;
    bar.finish_and_clear();
    let report = report?;
    let text = if args.json {
        serde_json::to_string_pretty(&report)?
    } else {
        describe_database_report(&report)
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("cannot print the report")?),
    }
}

/// The database report in words.
pub fn describe_database_report(r: &DbReport) -> String {
    let mut s = format!(
        "candidate parameter set {} (based on set {}; the set in use is unchanged)\n\
         attempts {}  learners {}  items answered {} in {} groups\n\
         items fitted {} ({} groups); skipped for fewer than {} answers: {} items ({} groups)\n",
        r.parameter_set_id,
        r.based_on,
        r.attempts,
        r.learners,
        r.items_seen,
        r.groups_seen,
        r.items_fitted,
        r.groups_fitted,
        r.min_responses,
        r.items_skipped,
        r.groups_skipped,
    );
    for f in &r.fits {
        s.push_str(&format!(
            "{} ({}): {} groups, {} answers, {} iterations, stop: {}, log-likelihood {:.4}\n",
            f.model,
            f.kinds.join(", "),
            f.groups,
            f.responses,
            f.iterations,
            f.stop,
            f.log_likelihood
        ));
    }
    s.push_str(&format!(
        "KCs: {} fitted ({} converged), {} skipped\nconverged: {}",
        r.kcs.fitted,
        r.kcs.converged,
        r.kcs.skipped,
        if r.converged { "yes" } else { "no" }
    ));
    s
}

fn fmt_se(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

/// Runs `myqcm calibrate`: read, fit, print, and write JSON if `--output` is given.
///
/// # Errors
/// Unreadable input, bad rows (with the line number), estimator failures, or an unwritable
/// output file.
pub fn run(args: &CalibrateArgs) -> anyhow::Result<()> {
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("--input is required in file mode"))?;
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let parsed = parse_responses(std::io::BufReader::new(file))
        .with_context(|| format!("invalid input {}", input.display()))?;
    let report = calibrate_parsed(&parsed, args)?;
    if let Some(path) = &args.output {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    match print_report(
        &report,
        parsed.responses.len(),
        &mut std::io::stdout().lock(),
    ) {
        // The reader went away (`myqcm calibrate … | head`): what it wanted was printed.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other.context("cannot print the results")?,
    }
    if let Some(path) = &args.output {
        eprintln!("results written to {}", path.display());
    }
    Ok(())
}

fn print_report(
    report: &CalibrationReport,
    n_responses: usize,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "model {}  responses {}  learners {}  items {}",
        report.model,
        n_responses,
        report.learners.len(),
        report.items.len()
    )?;
    writeln!(
        out,
        "marginal log-likelihood {:.4}  iterations {}  stop: {}",
        report.log_likelihood, report.iterations, report.stop_reason
    )?;
    writeln!(out, "priors: {}", report.priors)?;
    writeln!(
        out,
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "item", "a", "b", "c", "se_a", "se_b", "se_c", "n"
    )?;
    for i in &report.items {
        writeln!(
            out,
            "{:<20} {:>8.4} {:>8.4} {:>8.4} {:>8} {:>8} {:>8} {:>7}",
            i.item,
            i.a,
            i.b,
            i.c,
            fmt_se(i.se_a),
            fmt_se(i.se_b),
            fmt_se(i.se_c),
            i.n
        )?;
    }
    writeln!(out, "{:<20} {:>8} {:>8}", "learner", "theta", "sd")?;
    for l in &report.learners {
        writeln!(out, "{:<20} {:>8.4} {:>8.4}", l.learner, l.theta, l.sd)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> anyhow::Result<ParsedResponses> {
        parse_responses(s.as_bytes())
    }

    fn err(s: &str) -> String {
        format!("{:#}", parse(s).unwrap_err())
    }

    fn args(model: ModelArg) -> CalibrateArgs {
        CalibrateArgs {
            input: Some(PathBuf::from("unused.csv")),
            model: Some(model),
            json: false,
            min_responses: 30,
            min_kc_observations: 100,
            quiet: true,
            output: None,
            quadrature_points: 21,
            tolerance: 1e-4,
            max_iterations: 200,
            guess_prior: 0.2,
            no_priors: false,
        }
    }

    #[test]
    fn parses_columns_in_any_order_and_skips_blank_scores() {
        let p = parse(
            "score,item,learner,extra\n1,q1,alice,x\n0.5,q2,alice,y\n,q2,bob,z\n0,q1,bob,w\n",
        )
        .unwrap();
        assert_eq!(p.items, ["q1", "q2"]);
        assert_eq!(p.learners, ["alice", "bob"]);
        assert_eq!(p.responses, [(0, 0, 1.0), (0, 1, 0.5), (1, 0, 0.0)]);
    }

    #[test]
    fn bad_input_names_the_line() {
        assert!(err("").contains("line 1"), "{}", err(""));
        assert!(err("learner,item,score\n").contains("no data rows"));
        assert!(err("learner,item\na,q,1\n").contains("line 1: missing column(s) score"));
        assert!(
            err("learner,item,score\na,q,1\nb,q,1.5\n")
                .contains("line 3: score 1.5 is outside [0, 1]")
        );
        assert!(
            err("learner,item,score\na,q,yes\n").contains("line 2: score `yes` is not a number")
        );
        assert!(err("learner,item,score\na,q,1\nb\n").contains("line 3: missing value for `item`"));
        let e = err("learner,item,score\na,q1,1\nb,q2,\nc,q2,\na,q1,0\n");
        assert!(e.contains("line 3: item `q2` has no answer"), "{e}");
        assert!(err("learner,item,score\na,q,-0.1\n").contains("line 2"));
    }

    #[test]
    fn calibrates_a_small_file_for_every_model() {
        let mut s = String::from("learner,item,score\n");
        for l in 0..60 {
            for j in 0..4 {
                let y = u8::from((l * 7 + j * 13) % 10 >= 3 + j);
                s.push_str(&format!("l{l},q{j},{y}\n"));
            }
        }
        let parsed = parse(&s).unwrap();
        for m in [ModelArg::OnePl, ModelArg::TwoPl, ModelArg::ThreePl] {
            let r = calibrate_parsed(&parsed, &args(m)).unwrap();
            assert_eq!((r.items.len(), r.learners.len()), (4, 60));
            assert!(r.log_likelihood < 0.0 && r.iterations > 0);
            let json = serde_json::to_value(&r).unwrap();
            assert!(json["items"][0]["b"].is_number());
            assert!(json["stop_reason"].is_string());
        }
        let bad = CalibrateArgs {
            guess_prior: 0.9,
            ..args(ModelArg::ThreePl)
        };
        assert!(calibrate_parsed(&parsed, &bad).is_err());
        let ml = CalibrateArgs {
            no_priors: true,
            ..args(ModelArg::TwoPl)
        };
        let r = calibrate_parsed(&parsed, &ml).unwrap();
        let mut text = Vec::new();
        print_report(&r, parsed.responses.len(), &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("marginal log-likelihood") && text.contains("l59"));
        assert!(!r.priors_used && text.contains("priors: none (maximum likelihood)"));
        let map = calibrate_parsed(&parsed, &args(ModelArg::TwoPl)).unwrap();
        assert!(map.priors_used);
        assert_eq!(map.priors, "ln a ~ N(0, 0.5²), b ~ N(0, 2²)");
        let three = calibrate_parsed(&parsed, &args(ModelArg::ThreePl)).unwrap();
        assert!(
            three.priors.contains("c ~ Beta(mode 0.2, strength 20)"),
            "{}",
            three.priors
        );
    }

    #[test]
    fn a_closed_output_is_not_an_error() {
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let parsed = parse("learner,item,score\na,q,1\nb,q,0\n").unwrap();
        let r = calibrate_parsed(&parsed, &args(ModelArg::OnePl)).unwrap();
        let e = print_report(&r, 2, &mut Closed).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    }
}
