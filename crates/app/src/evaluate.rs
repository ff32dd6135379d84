//! `myqcm evaluate`: honest, time-ordered comparison of P(correct) models on an attempt log.
//!
//! Research mode (`--input attempts.csv [--items items.csv]`) reads the formats fixed in
//! DECISIONS ("Learning"): `attempts.csv` with columns `learner,item,kc,timestamp,score` and
//! optional `locale,faculty,type,options,difficulty,p_true` (`p_true`: the generator's own
//! P(correct) of a simulated log, scored as the reference model `oracle`); `items.csv` with `item,kcs` (KCs
//! separated by `;`) and optional `subject,type,options,difficulty` (`difficulty`, the author's
//! easy/medium/hard, only feeds the earlier system's heuristic rules). The protocol and the models are in
//! `myqcm_psychometrics::evaluation` (training window fits, replay, metrics) and
//! `myqcm_domain::learning::ServedReplay` (the served model); this module reads the files,
//! builds the [`Log`], and writes the predictions CSV and the report directory (`report.json`,
//! `metrics.csv`, `report.html`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use myqcm_domain::learning::ServedReplay;
use myqcm_psychometrics::evaluation::{
    BktOnline, Dataset, Elo, EvalAttempt, EvalItem, HeuristicDifficulty, HeuristicRules, IrtOnline,
    IrtPolicy, ItemMean, LearnerMean, OnlineModel, Summary, fit_bkt, fit_irt, replay, split_point,
    summarize, time_order,
};
use myqcm_psychometrics::irt::ModelKind;
use myqcm_psychometrics::quadrature::Quadrature;
use rand::SeedableRng;
use serde::Serialize;

/// Arguments of `myqcm evaluate`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvaluateArgs {
    /// Attempt log (CSV: learner,item,kc,timestamp,score[,locale,faculty,type,options,difficulty]).
    /// Without it, the command evaluates the attempts stored in the configured database.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Item table (CSV: item,kcs[,subject,type,options,difficulty]); research mode only.
    #[arg(long, requires = "input")]
    pub items: Option<PathBuf>,
    /// Where to write one row per held-out attempt and model (row,learner,item,timestamp,model,p).
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Directory for report.json, metrics.csv and report.html (created if missing).
    #[arg(long)]
    pub report: PathBuf,
    /// Fraction of the attempts, the most recent, held out.
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// A score at or above this is a correct answer (research mode; the database stores labels).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Bootstrap replicates per interval (0: no intervals).
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Equal-width bins of the ECE and the reliability diagram.
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// No summary on standard output.
    #[arg(long)]
    pub quiet: bool,
}

/// One attempt of the log, with what the slices and the output file need.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAttempt {
    /// 1-based row of the attempt in the input (the attempt id in database mode).
    pub row: u64,
    /// Learner index into [`Log::learners`].
    pub learner: u32,
    /// Item index into [`Log::items`].
    pub item: u32,
    /// Time in epoch milliseconds (ordering).
    pub time_ms: i64,
    /// Time as written in the output.
    pub timestamp: String,
    /// The label.
    pub correct: bool,
    /// Locale slice (empty when unknown).
    pub locale: String,
    /// Faculty slice (empty when unknown).
    pub faculty: String,
    /// The prediction stored with the served item (database mode), if any.
    pub stored_p: Option<f64>,
    /// The generator's own P(correct) (optional column `p_true` of a simulated log), if any.
    pub oracle_p: Option<f64>,
}

/// One item of the log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogItem {
    /// Label.
    pub label: String,
    /// KC labels.
    pub kcs: Vec<String>,
    /// Subject (θ is kept per learner and subject); empty when unknown.
    pub subject: String,
    /// Item type (qcm, qcs, qroc or any label); empty when unknown.
    pub kind: String,
    /// Number of options, when known.
    pub options: Option<u32>,
    /// The author's difficulty label (`easy`, `medium`, `hard`), for the earlier system's
    /// heuristic rules; empty when unknown (read as medium).
    pub difficulty: String,
}

impl LogItem {
    /// The guessing floor of the item-type policy: `1/k` for a QCS with k ≥ 2 options
    /// (capped at 0.45), else 0.
    #[must_use]
    pub fn guess(&self) -> f64 {
        match self.options {
            Some(k) if k >= 2 && self.kind.eq_ignore_ascii_case("qcs") => {
                (1.0 / f64::from(k)).min(0.45)
            }
            _ => 0.0,
        }
    }
}

/// An attempt log, from files or from the database.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Log {
    /// Learner labels.
    pub learners: Vec<String>,
    /// Items.
    pub items: Vec<LogItem>,
    /// Attempts, in any order.
    pub attempts: Vec<LogAttempt>,
    /// Where it came from (for the report).
    pub source: String,
}

fn reader(path: &Path) -> anyhow::Result<csv::Reader<std::fs::File>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file))
}

fn header_index(headers: &csv::StringRecord) -> impl Fn(&str) -> Option<usize> + '_ {
    move |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    }
}

/// Parses a timestamp: epoch seconds (integer or decimal), RFC 3339 / ISO-8601 with an
/// offset, or an ISO-8601 date-time or date without one (read as UTC). Epoch milliseconds.
///
/// # Errors
/// A message naming the value.
pub fn parse_timestamp(s: &str) -> anyhow::Result<i64> {
    if let Ok(v) = s.parse::<f64>()
        && v.is_finite()
    {
        return Ok((v * 1000.0).round() as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    bail!("timestamp `{s}` is neither epoch seconds nor ISO-8601")
}

fn split_kcs(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_options(s: &str, line: u64) -> anyhow::Result<Option<u32>> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u32>()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("line {line}: options `{s}` is not a whole number"))
}

/// Reads `attempts.csv` (and `items.csv`). Errors name the file and the line. A row with a
/// blank score is not an attempt (ungraded) and is skipped; its row number is still counted.
/// An item's KCs, subject, type and options come from `items.csv` when it lists the item,
/// else from its attempts (the first non-blank value; the KCs of every row are united).
///
/// # Errors
/// Missing files or columns, bad values, no attempt.
pub fn read_files(input: &Path, items: Option<&Path>, threshold: f64) -> anyhow::Result<Log> {
    let mut log = Log {
        source: input.display().to_string(),
        ..Log::default()
    };
    let mut item_ids: HashMap<String, u32> = HashMap::new();
    let mut listed: Vec<bool> = Vec::new();
    if let Some(path) = items {
        let mut rd = reader(path)?;
        let headers = rd
            .headers()
            .context("items: cannot read the header")?
            .clone();
        let col = header_index(&headers);
        let (Some(ic), Some(kc)) = (col("item"), col("kcs")) else {
            bail!("{}: line 1: expected columns `item,kcs`", path.display());
        };
        let (sc, tc, oc, dc) = (
            col("subject"),
            col("type"),
            col("options"),
            col("difficulty"),
        );
        for rec in rd.records() {
            let rec = rec.with_context(|| format!("cannot read {}", path.display()))?;
            let line = rec.position().map_or(0, csv::Position::line);
            if rec.iter().all(str::is_empty) {
                continue;
            }
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("");
            let label = get(Some(ic));
            if label.is_empty() {
                bail!("{}: line {line}: missing value for `item`", path.display());
            }
            if item_ids.contains_key(label) {
                bail!(
                    "{}: line {line}: item `{label}` listed twice",
                    path.display()
                );
            }
            item_ids.insert(label.to_owned(), log.items.len() as u32);
            listed.push(true);
            log.items.push(LogItem {
                label: label.to_owned(),
                kcs: split_kcs(get(Some(kc))),
                subject: get(sc).to_owned(),
                kind: get(tc).to_ascii_lowercase(),
                options: parse_options(get(oc), line)
                    .with_context(|| path.display().to_string())?,
                difficulty: get(dc).to_ascii_lowercase(),
            });
        }
    }
    let mut rd = reader(input)?;
    let headers = rd
        .headers()
        .context("line 1: cannot read the header")?
        .clone();
    let col = header_index(&headers);
    let required = ["learner", "item", "kc", "timestamp", "score"];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|n| col(n).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "line 1: missing column(s) {} (expected `learner,item,kc,timestamp,score`)",
            missing.join(", ")
        );
    }
    let [lc, ic, kc, tc, sc] = required.map(|n| col(n).unwrap_or(0));
    let (loc, fac, typ, opt, dif, ptrue) = (
        col("locale"),
        col("faculty"),
        col("type"),
        col("options"),
        col("difficulty"),
        col("p_true"),
    );
    let mut learner_ids: HashMap<String, u32> = HashMap::new();
    let mut row = 0u64;
    for rec in rd.records() {
        let rec = rec.context("cannot read the CSV")?;
        let line = rec.position().map_or(0, csv::Position::line);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        row += 1;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("");
        let need = |c: usize, name: &str| -> anyhow::Result<&str> {
            match rec.get(c) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => bail!("line {line}: missing value for `{name}`"),
            }
        };
        let score = get(Some(sc));
        if score.is_empty() {
            continue;
        }
        let u: f64 = score
            .parse()
            .map_err(|_| anyhow::anyhow!("line {line}: score `{score}` is not a number"))?;
        if !(u.is_finite() && (0.0..=1.0).contains(&u)) {
            bail!("line {line}: score {score} is outside [0, 1]");
        }
        let learner = need(lc, "learner")?;
        let item = need(ic, "item")?;
        let ts = need(tc, "timestamp")?;
        let time_ms = parse_timestamp(ts).with_context(|| format!("line {line}"))?;
        let next = learner_ids.len() as u32;
        let l = *learner_ids.entry(learner.to_owned()).or_insert_with(|| {
            log.learners.push(learner.to_owned());
            next
        });
        let next = log.items.len() as u32;
        let j = *item_ids.entry(item.to_owned()).or_insert_with(|| {
            log.items.push(LogItem {
                label: item.to_owned(),
                ..LogItem::default()
            });
            listed.push(false);
            next
        });
        if !listed[j as usize] {
            let it = &mut log.items[j as usize];
            for k in split_kcs(get(Some(kc))) {
                if !it.kcs.contains(&k) {
                    it.kcs.push(k);
                }
            }
            if it.kind.is_empty() {
                it.kind = get(typ).to_ascii_lowercase();
            }
            if it.options.is_none() {
                it.options = parse_options(get(opt), line)?;
            }
            if it.difficulty.is_empty() {
                it.difficulty = get(dif).to_ascii_lowercase();
            }
        }
        let oracle_p = match get(ptrue) {
            "" => None,
            v => {
                let p: f64 = v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("line {line}: p_true `{v}` is not a number"))?;
                if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                    bail!("line {line}: p_true {v} is outside [0, 1]");
                }
                Some(p)
            }
        };
        log.attempts.push(LogAttempt {
            row,
            learner: l,
            item: j,
            time_ms,
            timestamp: ts.to_owned(),
            correct: u >= threshold,
            locale: get(loc).to_owned(),
            faculty: get(fac).to_owned(),
            stored_p: None,
            oracle_p,
        });
    }
    if log.attempts.is_empty() {
        bail!("line 2: the file has no graded attempt (a header, then rows with a score)");
    }
    Ok(log)
}

/// Settings of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Protocol {
    /// Held-out fraction (most recent attempts).
    pub holdout: f64,
    /// Bootstrap replicates.
    pub bootstrap: usize,
    /// Interval level.
    pub level: f64,
    /// Bootstrap seed.
    pub seed: u64,
    /// ECE bins.
    pub bins: usize,
}

/// Counts of the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Counts {
    /// Graded attempts read.
    pub attempts: usize,
    /// Attempts in the training window.
    pub training: usize,
    /// Held-out attempts.
    pub held_out: usize,
    /// Learners.
    pub learners: usize,
    /// Items.
    pub items: usize,
    /// KCs (attempts without KC are traced under one catch-all KC, `(none)`).
    pub kcs: usize,
    /// Time of the first held-out attempt (as written in the input).
    pub held_out_from: String,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    /// Where the attempts came from.
    pub source: String,
    /// Settings.
    pub protocol: Protocol,
    /// Counts.
    pub counts: Counts,
    /// Model names, in column order.
    pub models: Vec<String>,
    /// Per model, over every held-out attempt.
    pub overall: BTreeMap<String, Summary>,
    /// Per dimension (`type`, `kc`, `locale`, `faculty`), per slice value, per model.
    pub slices: BTreeMap<String, BTreeMap<String, BTreeMap<String, Summary>>>,
    /// Held-out attempts, in time order: index into the log's attempts.
    #[serde(skip)]
    pub held_out: Vec<usize>,
    /// Per model, its prediction for each held-out attempt (same order).
    #[serde(skip)]
    pub predictions: Vec<Vec<f64>>,
}

/// Runs the protocol of `myqcm_psychometrics::evaluation` on a log: time order, training
/// fits (1PL, 2PL, 3PL, the item-type policy, BKT per KC), the replay of every model, then the
/// metrics overall and per slice with seeded bootstrap intervals. When every held-out attempt
/// carries a stored prediction (database mode), it is scored as the model `stored`; when every
/// held-out attempt carries the generator's probability (`p_true`, a simulated log), it is
/// scored as the reference `oracle`: the ceiling no model of the data can beat on average.
///
/// # Errors
/// A log too small to split, or a failed fit.
pub fn evaluate(log: &Log, protocol: Protocol) -> anyhow::Result<Evaluation> {
    if log.attempts.len() < 2 {
        bail!(
            "{} graded attempt(s): at least 2 are needed (one to learn from, one to hold out)",
            log.attempts.len()
        );
    }
    let order = time_order(&log.attempts.iter().map(|a| a.time_ms).collect::<Vec<_>>());
    let holdout_from = split_point(order.len(), protocol.holdout);
    // KC and subject indices; an item without KC gets the catch-all KC `(none)`.
    let mut kc_ids: HashMap<&str, u32> = HashMap::new();
    let mut kc_labels: Vec<String> = Vec::new();
    let mut subject_ids: HashMap<&str, u32> = HashMap::new();
    let mut items = Vec::with_capacity(log.items.len());
    for it in &log.items {
        let labels: Vec<&str> = if it.kcs.is_empty() {
            vec!["(none)"]
        } else {
            it.kcs.iter().map(String::as_str).collect()
        };
        let kcs = labels
            .into_iter()
            .map(|k| {
                let next = kc_ids.len() as u32;
                *kc_ids.entry(k).or_insert_with(|| {
                    kc_labels.push(k.to_owned());
                    next
                })
            })
            .collect();
        let next = subject_ids.len() as u32;
        let group = *subject_ids.entry(it.subject.as_str()).or_insert(next);
        items.push(EvalItem {
            kcs,
            group,
            guess: it.guess(),
        });
    }
    let attempts: Vec<EvalAttempt> = order
        .iter()
        .map(|i| {
            let a = &log.attempts[*i];
            EvalAttempt {
                learner: a.learner,
                item: a.item,
                correct: a.correct,
            }
        })
        .collect();
    let data = Dataset::new(
        items,
        attempts,
        log.learners.len(),
        kc_labels.len(),
        holdout_from,
    )?;
    let grid = Quadrature::default();
    let one = fit_irt(&data, IrtPolicy::Fixed(ModelKind::OnePl)).context("1PL fit")?;
    let two = fit_irt(&data, IrtPolicy::Fixed(ModelKind::TwoPl)).context("2PL fit")?;
    let policy = fit_irt(&data, IrtPolicy::ByGuess).context("item-type policy fit")?;
    // Every item 3PL, c's prior mode the item's guess (0.2 for an item without one). When
    // every item has a guess the item-type policy is already that fit: reuse it.
    let three = if data.items().iter().all(|i| i.guess > 0.0) {
        policy.clone()
    } else {
        fit_irt(&data, IrtPolicy::Fixed(ModelKind::ThreePl)).context("3PL fit")?
    };
    let mut models: Vec<Box<dyn OnlineModel>> = vec![
        Box::new(ItemMean::new(log.items.len())),
        Box::new(LearnerMean::new(log.learners.len())),
        Box::new(Elo::new(log.learners.len(), log.items.len())),
        Box::new(IrtOnline::new("irt_1pl", one, &grid)),
        Box::new(IrtOnline::new("irt_2pl", two, &grid)),
        Box::new(IrtOnline::new("irt_3pl", three, &grid)),
        Box::new(BktOnline::new(fit_bkt(&data, 20))),
        Box::new(HeuristicRules::new(
            log.items
                .iter()
                .map(|it| {
                    (
                        HeuristicDifficulty::from_label(&it.difficulty),
                        it.kind == "qcm",
                    )
                })
                .collect(),
        )),
        Box::new(ServedReplay::new(policy)),
    ];
    let mut names: Vec<String> = models.iter().map(|m| m.name().to_owned()).collect();
    let mut predictions = replay(&data, &mut models);
    let held_out: Vec<usize> = order[holdout_from..].to_vec();
    let stored: Option<Vec<f64>> = held_out.iter().map(|i| log.attempts[*i].stored_p).collect();
    if let Some(stored) = stored {
        names.push("stored".to_owned());
        predictions.push(stored.iter().map(|p| p.clamp(1e-6, 1.0 - 1e-6)).collect());
    }
    let oracle: Option<Vec<f64>> = held_out.iter().map(|i| log.attempts[*i].oracle_p).collect();
    if let Some(oracle) = oracle {
        names.push("oracle".to_owned());
        predictions.push(oracle);
    }
    let labels: Vec<bool> = held_out.iter().map(|i| log.attempts[*i].correct).collect();

    // Slices: positions in the held-out window per (dimension, value).
    let mut dims: BTreeMap<String, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
    for (k, i) in held_out.iter().enumerate() {
        let a = &log.attempts[*i];
        let it = &log.items[a.item as usize];
        let mut add = |dim: &str, v: &str| {
            if !v.is_empty() {
                dims.entry(dim.to_owned())
                    .or_default()
                    .entry(v.to_owned())
                    .or_default()
                    .push(k);
            }
        };
        add("type", &it.kind);
        add("locale", &a.locale);
        add("faculty", &a.faculty);
        for kc in &data.items()[a.item as usize].kcs {
            add("kc", &kc_labels[*kc as usize]);
        }
    }
    let level = protocol.level;
    let summaries: Vec<anyhow::Result<(Summary, Vec<Vec<Summary>>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = predictions
            .iter()
            .enumerate()
            .map(|(m, pred)| {
                let (labels, dims) = (&labels, &dims);
                s.spawn(move || -> anyhow::Result<(Summary, Vec<Vec<Summary>>)> {
                    // One seeded generator per (model, slice), in a fixed enumeration order.
                    let mut stream = 0u64;
                    let rng = |stream: &mut u64| {
                        *stream += 1;
                        rand::rngs::StdRng::seed_from_u64(
                            protocol
                                .seed
                                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                                .wrapping_add((m as u64) << 32 | *stream),
                        )
                    };
                    let all = summarize(
                        pred,
                        labels,
                        protocol.bins,
                        protocol.bootstrap,
                        level,
                        &mut rng(&mut stream),
                    )?;
                    let mut per_dim = Vec::new();
                    for slices in dims.values() {
                        let mut v = Vec::new();
                        for idx in slices.values() {
                            let p: Vec<f64> = idx.iter().map(|k| pred[*k]).collect();
                            let y: Vec<bool> = idx.iter().map(|k| labels[*k]).collect();
                            v.push(summarize(
                                &p,
                                &y,
                                protocol.bins,
                                protocol.bootstrap,
                                level,
                                &mut rng(&mut stream),
                            )?);
                        }
                        per_dim.push(v);
                    }
                    Ok((all, per_dim))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("metrics thread panicked")))
            })
            .collect()
    });
    let mut overall = BTreeMap::new();
    let mut slices: BTreeMap<String, BTreeMap<String, BTreeMap<String, Summary>>> = BTreeMap::new();
    for (name, res) in names.iter().zip(summaries) {
        let (all, per_dim) = res?;
        overall.insert(name.clone(), all);
        for ((dim, values), sums) in dims.iter().zip(per_dim) {
            for (value, summary) in values.keys().zip(sums) {
                slices
                    .entry(dim.clone())
                    .or_default()
                    .entry(value.clone())
                    .or_default()
                    .insert(name.clone(), summary);
            }
        }
    }
    Ok(Evaluation {
        source: log.source.clone(),
        protocol,
        counts: Counts {
            attempts: log.attempts.len(),
            training: holdout_from,
            held_out: held_out.len(),
            learners: log.learners.len(),
            items: log.items.len(),
            kcs: kc_labels.len(),
            held_out_from: log.attempts[held_out[0]].timestamp.clone(),
        },
        models: names,
        overall,
        slices,
        held_out,
        predictions,
    })
}

/// Writes `row,learner,item,timestamp,model,p`: one row per held-out attempt and model, by
/// row, models in column order.
///
/// # Errors
/// I/O errors.
pub fn write_predictions<W: Write>(out: W, log: &Log, ev: &Evaluation) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["row", "learner", "item", "timestamp", "model", "p"])?;
    let mut by_row: Vec<usize> = (0..ev.held_out.len()).collect();
    by_row.sort_by_key(|k| log.attempts[ev.held_out[*k]].row);
    for k in by_row {
        let a = &log.attempts[ev.held_out[k]];
        for (m, name) in ev.models.iter().enumerate() {
            w.write_record([
                a.row.to_string().as_str(),
                &log.learners[a.learner as usize],
                &log.items[a.item as usize].label,
                &a.timestamp,
                name,
                &format!("{:.6}", ev.predictions[m][k]),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

fn metric_cells(s: &Summary) -> Vec<String> {
    let f = |v: f64| format!("{v:.6}");
    let mut c = vec![s.n.to_string(), s.correct.to_string(), f(s.mean_p)];
    for ci in [s.log_loss, s.brier, s.ece] {
        c.extend([f(ci.estimate), f(ci.lower), f(ci.upper)]);
    }
    match s.auc {
        Some(ci) => c.extend([f(ci.estimate), f(ci.lower), f(ci.upper)]),
        None => c.extend([String::new(), String::new(), String::new()]),
    }
    c
}

/// Writes `metrics.csv`: one row per (model, dimension, slice), `overall` first.
///
/// # Errors
/// I/O errors.
pub fn write_metrics<W: Write>(out: W, ev: &Evaluation) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "model",
        "dimension",
        "slice",
        "n",
        "correct",
        "mean_p",
        "log_loss",
        "log_loss_lower",
        "log_loss_upper",
        "brier",
        "brier_lower",
        "brier_upper",
        "ece",
        "ece_lower",
        "ece_upper",
        "auc",
        "auc_lower",
        "auc_upper",
    ])?;
    for m in &ev.models {
        let mut row = vec![m.clone(), "overall".into(), String::new()];
        row.extend(metric_cells(&ev.overall[m]));
        w.write_record(&row)?;
        for (dim, values) in &ev.slices {
            for (value, per_model) in values {
                if let Some(s) = per_model.get(m) {
                    let mut row = vec![m.clone(), dim.clone(), value.clone()];
                    row.extend(metric_cells(s));
                    w.write_record(&row)?;
                }
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes the report directory: `report.json`, `metrics.csv`, `report.html`.
///
/// # Errors
/// I/O errors.
pub fn write_report(dir: &Path, ev: &Evaluation) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_vec_pretty(ev)?;
    std::fs::write(dir.join("report.json"), json)?;
    write_metrics(std::fs::File::create(dir.join("metrics.csv"))?, ev)?;
    std::fs::write(dir.join("report.html"), crate::evaluate_html::render(ev))?;
    Ok(())
}

/// A short table for the terminal: overall metrics per model.
#[must_use]
pub fn describe(ev: &Evaluation) -> String {
    let mut s = format!(
        "{} attempts ({} training, {} held out from {}), {} learners, {} items, {} KCs\n",
        ev.counts.attempts,
        ev.counts.training,
        ev.counts.held_out,
        ev.counts.held_out_from,
        ev.counts.learners,
        ev.counts.items,
        ev.counts.kcs
    );
    s.push_str("model           log-loss   Brier      ECE        AUC\n");
    for m in &ev.models {
        let o = &ev.overall[m];
        let auc = o
            .auc
            .map_or("-".to_owned(), |a| format!("{:.4}", a.estimate));
        s.push_str(&format!(
            "{m:<15} {:<10.4} {:<10.4} {:<10.4} {auc}\n",
            o.log_loss.estimate, o.brier.estimate, o.ece.estimate
        ));
    }
    s
}

/// The protocol from the arguments.
#[must_use]
pub fn protocol(args: &EvaluateArgs) -> Protocol {
    Protocol {
        holdout: args.holdout,
        bootstrap: args.bootstrap,
        level: 0.95,
        seed: args.seed,
        bins: args.bins.max(1),
    }
}

/// Evaluates a log and writes every output the arguments ask for.
///
/// # Errors
/// As [`evaluate`], and I/O errors.
pub fn evaluate_and_write(log: &Log, args: &EvaluateArgs) -> anyhow::Result<Evaluation> {
    if !(0.0..1.0).contains(&args.holdout) || args.holdout <= 0.0 {
        bail!("--holdout must be in (0, 1) (got {})", args.holdout);
    }
    let ev = evaluate(log, protocol(args))?;
    if let Some(path) = &args.predictions {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        write_predictions(std::io::BufWriter::new(file), log, &ev)?;
    }
    write_report(&args.report, &ev)?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        match out.write_all(describe(&ev).as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r?,
        }
    }
    Ok(ev)
}

/// Database mode: the graded attempts stored, each with the P(correct) stored when its item
/// was served (scored as the model `stored`, beside the replayed ones). `row` is the attempt's
/// 1-based position in attempt-id order; learners, items, subjects, KCs and faculties are
/// named by their ids; the type is the item's, the locale the item's, the faculty the
/// learner's profile's.
///
/// # Errors
/// Storage failures, too few attempts, I/O errors.
pub async fn run_database(services: &crate::Services, args: &EvaluateArgs) -> anyhow::Result<()> {
    let stored =
        myqcm_services::calibration::Calibration::new(services.db.clone(), services.clock.clone())
            .attempt_log(10_000)
            .await?;
    let mut log = Log {
        source: "database".to_owned(),
        ..Log::default()
    };
    let mut learners: HashMap<uuid::Uuid, u32> = HashMap::new();
    let mut items: HashMap<uuid::Uuid, u32> = HashMap::new();
    for (k, a) in stored.attempts.iter().enumerate() {
        let Some(info) = stored.items.get(&a.item) else {
            continue;
        };
        let next = learners.len() as u32;
        let l = *learners.entry(a.learner).or_insert_with(|| {
            log.learners.push(a.learner.to_string());
            next
        });
        let next = log.items.len() as u32;
        let j = *items.entry(a.item).or_insert_with(|| {
            log.items.push(LogItem {
                label: a.item.to_string(),
                kcs: info.kcs.iter().map(ToString::to_string).collect(),
                subject: info.subject.to_string(),
                kind: info.kind.clone(),
                options: u32::try_from(info.options).ok(),
                difficulty: info.difficulty.clone(),
            });
            next
        });
        log.attempts.push(LogAttempt {
            row: k as u64 + 1,
            learner: l,
            item: j,
            time_ms: a.created_at,
            timestamp: chrono::DateTime::from_timestamp_millis(a.created_at)
                .map_or_else(|| a.created_at.to_string(), |t| t.to_rfc3339()),
            correct: a.correct,
            locale: a.locale.clone(),
            faculty: a.faculty.map(|f| f.to_string()).unwrap_or_default(),
            stored_p: a.p_correct,
            oracle_p: None,
        });
    }
    if log.attempts.is_empty() {
        bail!("nothing to evaluate: no graded attempt in the database");
    }
    let args = args.clone();
    tokio::task::spawn_blocking(move || evaluate_and_write(&log, &args).map(|_| ())).await?
}

/// Research mode: `--input attempts.csv [--items items.csv]`.
///
/// # Errors
/// Bad files (the message names the line), a log too small, I/O errors.
pub fn run(args: &EvaluateArgs) -> anyhow::Result<()> {
    let Some(input) = &args.input else {
        bail!("--input is required in research mode");
    };
    if !(0.0..=1.0).contains(&args.threshold) {
        bail!("--threshold must be in [0, 1]");
    }
    let log = read_files(input, args.items.as_deref(), args.threshold)?;
    evaluate_and_write(&log, args).map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use myqcm_psychometrics::sim::{TrainingSimConfig, simulate_training};

    use super::*;

    /// A simulated log as the example `attempt_log` writes it (the `simulate_training` story,
    /// learners starting on different days, QCS items with 4 or 5 options), with the
    /// generator's probabilities as `p_true`.
    fn simulated(cfg: &TrainingSimConfig, seed: u64) -> Log {
        let sim = simulate_training(cfg, &mut rand::rngs::StdRng::seed_from_u64(seed));
        let mut log = Log {
            learners: (0..cfg.n_learners).map(|l| format!("L{l}")).collect(),
            items: sim
                .items
                .iter()
                .enumerate()
                .map(|(i, it)| LogItem {
                    label: format!("I{i}"),
                    kcs: sim.item_kcs[i].iter().map(|k| format!("K{k}")).collect(),
                    subject: String::new(),
                    kind: if it.c() > 0.0 { "qcs" } else { "qcm" }.to_owned(),
                    options: Some(if it.c() > 0.0 && i % 2 == 0 { 4 } else { 5 }),
                    difficulty: String::new(),
                })
                .collect(),
            attempts: Vec::new(),
            source: "simulated".into(),
        };
        let mut day = vec![0i64; cfg.n_learners];
        let mut seen = vec![0i64; cfg.n_learners];
        for (row, a) in sim.attempts.iter().enumerate() {
            let l = a.learner as usize;
            day[l] += i64::from(a.days_elapsed);
            seen[l] += 1;
            let t = 1_700_000_000 + (l as i64 % 90 + day[l]) * 86_400 + seen[l] * 60;
            log.attempts.push(LogAttempt {
                row: row as u64 + 1,
                learner: a.learner,
                item: a.item,
                time_ms: t * 1000,
                timestamp: t.to_string(),
                correct: a.correct,
                locale: String::new(),
                faculty: String::new(),
                stored_p: None,
                oracle_p: Some(a.p_true),
            });
        }
        log
    }

    #[test]
    fn the_p_true_column_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(
            &path,
            "learner,item,kc,timestamp,score,p_true\nL1,I1,K,1,1,0.75\nL2,I1,K,2,0,\n",
        )
        .unwrap();
        let log = read_files(&path, None, 0.5).unwrap();
        assert_eq!(log.attempts[0].oracle_p, Some(0.75));
        assert_eq!(log.attempts[1].oracle_p, None);
        std::fs::write(
            &path,
            "learner,item,kc,timestamp,score,p_true\nL1,I1,K,1,1,1.5\n",
        )
        .unwrap();
        let e = format!("{:#}", read_files(&path, None, 0.5).unwrap_err());
        assert!(e.contains("line 2: p_true 1.5 is outside [0, 1]"), "{e}");
    }

    /// The acceptance's per-KC condition on a small seeded cohort: for every KC with at least
    /// 1,000 held-out attempts, the served model's ECE is within 0.02 of the ECE of the
    /// generator's own probabilities on the same attempts; and the oracle column is there.
    #[test]
    fn served_per_kc_ece_is_within_two_points_of_the_oracle_on_a_simulated_cohort() {
        let cfg = TrainingSimConfig {
            n_learners: 1_500,
            n_items: 300,
            n_kcs: 8,
            attempts_per_learner: 60,
            ..TrainingSimConfig::default()
        };
        let log = simulated(&cfg, 21);
        let ev = evaluate(
            &log,
            Protocol {
                holdout: 0.2,
                bootstrap: 0,
                level: 0.95,
                seed: 1,
                bins: 10,
            },
        )
        .unwrap();
        assert!(ev.models.iter().any(|m| m == "oracle"), "{:?}", ev.models);
        let ll = |m: &str| ev.overall[m].log_loss.estimate;
        // The generator's probabilities are the best possible forecast on average.
        assert!(
            ll("oracle") < ll("served"),
            "{} {}",
            ll("oracle"),
            ll("served")
        );
        let mut judged = 0;
        for (kc, by_model) in &ev.slices["kc"] {
            let oracle = &by_model["oracle"];
            if oracle.n < 1_000 {
                continue;
            }
            judged += 1;
            let served = by_model["served"].ece.estimate;
            assert!(
                (served - oracle.ece.estimate).abs() <= 0.02,
                "{kc}: served ECE {served:.4}, oracle {:.4} on {} attempts",
                oracle.ece.estimate,
                oracle.n
            );
        }
        assert_eq!(judged, 8, "every KC has ≥ 1,000 held-out attempts");
    }
}
