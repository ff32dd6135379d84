//! `myqcm evaluate` in research mode on a small simulated attempt log.

use super::{myqcm, run_ok};

/// A small log: 150 learners with a normal ability answer 16 items (2PL, difficulties
/// spread, QCS items with four options and a guessing floor), each learner on its own day
/// spread, so time order differs from file order (the file is written item-major). KCs:
/// two, by item parity; locales by learner parity.
fn attempts_csv() -> String {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let thetas: Vec<f64> = (0..150)
        .map(|_| {
            2.0 * (-2.0 * uniform().max(1e-12).ln()).sqrt()
                * (2.0 * std::f64::consts::PI * uniform()).cos()
        })
        .collect();
    let mut out = String::from("learner,item,kc,timestamp,score,locale,type,options\n");
    for i in 0..16u32 {
        let b = -2.0 + 4.0 * f64::from(i) / 15.0;
        let qcs = i % 4 == 0;
        for (l, theta) in thetas.iter().enumerate() {
            let p = 1.0 / (1.0 + (-1.5 * (theta - b)).exp());
            let p = if qcs { 0.25 + 0.75 * p } else { p };
            // Learner l answers item i at day l/10 plus i minutes.
            let t = 1_700_000_000 + (l as i64) * 8_640 + i64::from(i) * 60;
            out.push_str(&format!(
                "L{l},I{i},{},{t},{},{},{},{}\n",
                if i % 2 == 0 { "K-even" } else { "K-odd" },
                u8::from(uniform() < p),
                if l % 2 == 0 { "fr" } else { "ar" },
                if qcs { "qcs" } else { "qcm" },
                if qcs { "4" } else { "5" },
            ));
        }
    }
    out
}

#[test]
fn evaluate_research_mode_writes_predictions_json_csv_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let csv = attempts_csv();
    std::fs::write(dir.path().join("attempts.csv"), &csv).unwrap();
    // The item table names the subject and overrides the KC of item I0.
    std::fs::write(
        dir.path().join("items.csv"),
        "item,kcs,subject,difficulty\nI0,K-even;K-first,cardio,easy\n",
    )
    .unwrap();
    let args = [
        "evaluate",
        "--input",
        "attempts.csv",
        "--items",
        "items.csv",
        "--predictions",
        "out.csv",
        "--report",
        "rep",
        "--bootstrap",
        "50",
    ];
    let stdout = run_ok(dir.path(), &args);
    assert!(
        stdout.contains("served") && stdout.contains("held out"),
        "{stdout}"
    );

    // Predictions: one row per held-out attempt (20 % of 2400) and model.
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("row,learner,item,timestamp,model,p"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let models = [
        "item_mean",
        "learner_mean",
        "elo",
        "irt_1pl",
        "irt_2pl",
        "irt_3pl",
        "bkt",
        "heuristic",
        "served",
    ];
    assert_eq!(rows.len(), 480 * models.len());
    let input: Vec<&str> = csv.lines().skip(1).collect();
    let mut held_times = Vec::new();
    for r in &rows {
        assert!(models.contains(&r[4]), "{r:?}");
        let p: f64 = r[5].parse().unwrap();
        assert!(p > 0.0 && p < 1.0);
        // `row` is the attempt's 1-based row in the input: same learner, item and time.
        let source: Vec<&str> = input[r[0].parse::<usize>().unwrap() - 1]
            .split(',')
            .collect();
        assert_eq!((source[0], source[1], source[3]), (r[1], r[2], r[3]));
        held_times.push(r[3].parse::<i64>().unwrap());
    }
    // The held-out attempts are the most recent ones.
    let mut all_times: Vec<i64> = input
        .iter()
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    all_times.sort_unstable();
    assert_eq!(held_times.iter().min(), Some(&all_times[2400 - 480]));

    // report.json: counts, every model, slices per type, KC and locale.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("rep/report.json")).unwrap())
            .unwrap();
    assert_eq!(json["counts"]["held_out"], 480);
    assert_eq!(json["counts"]["training"], 1920);
    assert_eq!(json["models"].as_array().unwrap().len(), models.len());
    let ll = |m: &str| json["overall"][m]["log_loss"]["estimate"].as_f64().unwrap();
    // The learners differ a lot in ability: a model that tracks the learner beats item-mean.
    assert!(ll("irt_2pl") < ll("item_mean"), "{}", json["overall"]);
    // Every item 3PL (c's prior at 1/4 for the QCS items, 0.2 for the others): fitted and
    // replayed like the others, so it tracks the learner too.
    assert!(ll("irt_3pl") < ll("item_mean"), "{}", json["overall"]);
    assert!(ll("served") < ll("item_mean"), "{}", json["overall"]);
    let served = &json["overall"]["served"]["log_loss"];
    assert!(served["lower"].as_f64().unwrap() <= served["estimate"].as_f64().unwrap());
    assert!(served["upper"].as_f64().unwrap() > served["lower"].as_f64().unwrap());
    for dim in ["type", "kc", "locale"] {
        assert!(json["slices"][dim].is_object(), "{dim}: {}", json["slices"]);
    }
    assert!(
        json["slices"]["kc"]["K-first"]["bkt"]["n"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(json["slices"]["type"]["qcs"]["served"]["ece"].is_object());

    let metrics = std::fs::read_to_string(dir.path().join("rep/metrics.csv")).unwrap();
    assert!(metrics.starts_with("model,dimension,slice,n,correct,mean_p,log_loss"));
    assert!(metrics.contains("served,overall,,480,"), "{metrics}");
    assert!(metrics.contains("irt_3pl,overall,,480,"), "{metrics}");
    assert!(metrics.contains("bkt,kc,K-odd,"));
    // The earlier system's heuristic rules sit in the same table.
    assert!(metrics.contains("heuristic,overall,,480,"), "{metrics}");
    assert!(ll("heuristic") > 0.0 && ll("heuristic") < 1.5);

    let html = std::fs::read_to_string(dir.path().join("rep/report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("reliability diagram of served"));
    assert!(html.contains("reliability diagram of heuristic"));
    assert!(html.contains("reliability diagram of irt_3pl"));
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("http://") || !html.contains("src=\"http"));

    // Seeded: a second run gives byte-identical outputs.
    let json_before = std::fs::read(dir.path().join("rep/report.json")).unwrap();
    run_ok(dir.path(), &args);
    assert_eq!(
        std::fs::read(dir.path().join("rep/report.json")).unwrap(),
        json_before
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.csv")).unwrap(),
        out
    );
}

#[test]
fn evaluate_rejects_bad_input_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, expect) in [
        ("cols.csv", "learner,item,score\nA,I1,1\n", "kc, timestamp"),
        (
            "time.csv",
            "learner,item,kc,timestamp,score\nA,I1,K,2026-01-01,1\nA,I2,K,yesterday,1\n",
            "line 3",
        ),
        (
            "score.csv",
            "learner,item,kc,timestamp,score\nA,I1,K,1,2\n",
            "line 2",
        ),
        (
            "one.csv",
            "learner,item,kc,timestamp,score\nA,I1,K,1,1\n",
            "at least 2",
        ),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
        let out = myqcm()
            .args(["evaluate", "--input", name, "--report", "r"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{name}: {stderr}");
    }
}

#[test]
fn evaluate_without_input_scores_the_stored_attempts_and_their_stored_predictions() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["migrate"]);
    let out = myqcm()
        .args(["evaluate", "--report", "rep"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to evaluate"));

    run_ok(dir.path(), &["seed", "--demo"]);
    let answered = super::commands::answer_demo_bank(dir.path(), 12, 10);
    run_ok(
        dir.path(),
        &[
            "evaluate",
            "--report",
            "rep",
            "--predictions",
            "out.csv",
            "--bootstrap",
            "20",
            "--quiet",
        ],
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("rep/report.json")).unwrap())
            .unwrap();
    assert_eq!(json["source"], "database");
    assert_eq!(
        json["counts"]["attempts"].as_u64().unwrap(),
        answered as u64
    );
    let held_out = json["counts"]["held_out"].as_u64().unwrap() as usize;
    assert_eq!(held_out, answered - answered * 4 / 5);
    let models: Vec<&str> = json["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(models.last(), Some(&"stored"), "{models:?}");
    assert!(models.contains(&"irt_3pl"), "{models:?}");
    assert!(json["slices"]["type"].is_object() && json["slices"]["locale"].is_object());
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let stored: Vec<&str> = out.lines().filter(|l| l.contains(",stored,")).collect();
    assert_eq!(stored.len(), held_out);
    assert_eq!(out.lines().count(), 1 + held_out * models.len());
}
