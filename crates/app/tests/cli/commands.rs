//! The `myqcm` binary as an operator uses it: fresh directory, embedded defaults.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::io::Write;
use std::process::Stdio;

use crate::{free_port, myqcm, run_ok};
use std::time::{Duration, Instant};

/// The audit rows named `action` in the SQLite database under `dir`.
fn audit_rows(dir: &std::path::Path, action: &str) -> Vec<serde_json::Value> {
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.join("data/myqcm.sqlite").display()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let db = myqcm_db::connect(&url, None).await.unwrap();
            myqcm_db::identity::audit::recent(&db, Some(action), None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|r| serde_json::from_str(r.detail.as_deref().unwrap()).unwrap())
                .collect()
        })
}

/// One HTTP/1.1 GET on a fresh connection: (status, body), or `None` while nothing listens.
pub(crate) fn http_get(port: u16, path: &str) -> Option<(String, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = String::new();
    std::io::Read::read_to_string(&mut s, &mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.to_owned();
    let body = buf.split_once("\r\n\r\n").map_or("", |x| x.1).to_owned();
    Some((status, body))
}

#[test]
fn serve_with_embedded_defaults_creates_the_sqlite_file_under_data_and_becomes_ready() {
    let dir = tempfile::tempdir().unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let mut child = myqcm()
        .arg("serve")
        .current_dir(dir.path())
        .env("MYQCM_LISTEN", format!("127.0.0.1:{port}"))
        .env("MYQCM_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ready = None;
    while Instant::now() < deadline && ready.is_none() {
        ready = http_get(port, "/health/ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Metrics are on their own listener only: the public one answers 404.
    let public_metrics = http_get(port, "/metrics");
    let metrics = http_get(metrics_port, "/metrics");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ready.map(|r| r.0).as_deref(), Some("200"));
    assert_eq!(public_metrics.map(|r| r.0).as_deref(), Some("404"));
    let (status, text) = metrics.unwrap();
    assert_eq!(status, "200");
    assert!(text.contains("http_requests_total{"), "{text}");
    assert!(
        dir.path().join("data/myqcm.sqlite").is_file(),
        "SQLite file under ./data/"
    );
    assert!(
        dir.path().join("data/mail").is_dir(),
        "mail folder under ./data/"
    );
}

#[test]
fn production_with_a_development_secret_exits_2_naming_the_variable() {
    let out = myqcm()
        .arg("migrate")
        .env("MYQCM_ENV", "production")
        .env("MYQCM_PUBLIC_BASE_URL", "https://myqcm.example")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MYQCM_SECRET_KEY"));
}

#[test]
fn every_command_has_help_and_the_binary_has_a_version() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["worker", "--help"],
        vec!["migrate", "--help"],
        vec!["seed", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create", "--help"],
    ] {
        let out = myqcm().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = myqcm().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("myqcm "));
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_enforces_the_staff_policy() {
    let dir = tempfile::tempdir().unwrap();
    let run = |password: &str| {
        let mut child = myqcm()
            .args([
                "admin",
                "create",
                "--email",
                "Chef@Example.org",
                "--role",
                "admin",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run("short-pass");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let common = run("password123456");
    assert!(!common.status.success());
    assert!(String::from_utf8_lossy(&common.stderr).contains("too common"));
    let ok = run("a-long-enough-passphrase");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("chef@example.org") && stdout.contains("admin"));
    assert!(!stdout.contains("a-long-enough-passphrase"));
    let again = run("a-long-enough-passphrase");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // One account, one audit row saying where it came from.
    let rows = audit_rows(dir.path(), "account.created");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["via"], "cli");
    assert_eq!(rows[0]["roles"], serde_json::json!(["admin"]));
    assert_eq!(rows[0]["admin_scopes"], serde_json::json!(["super"]));
    // An unknown role is refused by the command line itself.
    let out = myqcm()
        .args([
            "admin",
            "create",
            "--email",
            "x@example.org",
            "--role",
            "root",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));
}

#[test]
fn seed_demo_is_refused_in_production_and_creates_one_account_per_role_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let out = myqcm()
        .args(["seed", "--demo"])
        .current_dir(dir.path())
        .env("MYQCM_ENV", "production")
        .env("MYQCM_CONTACT_EMAIL", "contact@myqcm.example")
        .env("MYQCM_PUBLIC_BASE_URL", "https://myqcm.example")
        .env(
            "MYQCM_SECRET_KEY",
            "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU2Nzg5MDEyMzQ1Njc4OTAx",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    let stdout = run_ok(dir.path(), &["seed", "--demo"]);
    for role in ["student", "author", "reviewer", "admin"] {
        assert!(
            stdout.contains(&format!("{role}@demo.myqcm.local")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("Demo bank: 174 items"), "{stdout}");
    let rows = audit_rows(dir.path(), "account.created");
    assert_eq!(rows.len(), 4, "one audit row per demo account: {rows:?}");
    assert!(rows.iter().all(|r| r["via"] == "seed"), "{rows:?}");
    assert!(stdout.contains("Demo student profile: year 3"), "{stdout}");
    let (year, faculty) = demo_student_profile(dir.path());
    assert_eq!(year, Some(3), "the demo student practises at once");
    assert!(faculty.is_some(), "a faculty from the reference list");
    let again = run_ok(dir.path(), &["seed", "--demo"]);
    assert!(!again.contains("Demo student profile"), "{again}");
}

/// The demo student's (year of study, faculty) from the database.
fn demo_student_profile(dir: &std::path::Path) -> (Option<i32>, Option<uuid::Uuid>) {
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.join("data/myqcm.sqlite").display()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let db = myqcm_db::connect(&url, None).await.unwrap();
            let a = myqcm_db::identity::accounts::find_by_email(&db, "student@demo.myqcm.local")
                .await
                .unwrap()
                .unwrap();
            let p = myqcm_db::training::profile(&db, a.id)
                .await
                .unwrap()
                .unwrap();
            (p.year_of_study, p.faculty_id)
        })
}

/// Simulated 2PL responses with a small deterministic generator (no RNG crate needed).
fn simulated_csv(learners: usize, items: &[(f64, f64)]) -> String {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = String::from("learner,item,score\n");
    for l in 0..learners {
        // Box–Muller for a standard normal ability.
        let theta = (-2.0 * uniform().max(1e-12).ln()).sqrt()
            * (2.0 * std::f64::consts::PI * uniform()).cos();
        for (i, (a, b)) in items.iter().enumerate() {
            let p = 1.0 / (1.0 + (-a * (theta - b)).exp());
            out.push_str(&format!("L{l},I{i},{}\n", u8::from(uniform() < p)));
        }
    }
    out
}

#[test]
fn calibrate_recovers_item_order_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<(f64, f64)> = (0..12)
        .map(|i| {
            (
                0.8 + 0.1 * f64::from(i % 5),
                -2.0 + 4.0 * f64::from(i) / 11.0,
            )
        })
        .collect();
    std::fs::write(dir.path().join("r.csv"), simulated_csv(800, &items)).unwrap();
    let stdout = run_ok(
        dir.path(),
        &[
            "calibrate",
            "--input",
            "r.csv",
            "--model",
            "2pl",
            "--output",
            "p.json",
        ],
    );
    assert!(
        stdout.contains("marginal log-likelihood") && stdout.contains("stop:"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap()).unwrap();
    assert!(json["log_likelihood"].as_f64().unwrap() < 0.0);
    assert!(json["iterations"].as_u64().unwrap() > 0);
    assert_eq!(json["learners"].as_array().unwrap().len(), 800);
    let learner = &json["learners"][0];
    assert!(
        learner["sd"]
            .as_f64()
            .is_some_and(|sd| sd > 0.0 && sd < 1.0),
        "{learner}"
    );
    let fitted = json["items"].as_array().unwrap();
    assert_eq!(fitted.len(), 12);
    // Difficulties were generated increasing with the item index: the estimates follow, and
    // stay close to the truth with 800 learners.
    for (i, item) in fitted.iter().enumerate() {
        let name = item["item"].as_str().unwrap();
        let idx: usize = name.trim_start_matches('I').parse().unwrap();
        let b = item["b"].as_f64().unwrap();
        assert!(
            (b - items[idx].1).abs() < 0.45,
            "item {i} ({name}): b {b} vs {}",
            items[idx].1
        );
        assert!(item["a"].as_f64().unwrap() > 0.3);
    }
}

#[test]
fn calibrate_rejects_bad_input_with_the_line_number() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, expect) in [
        ("missing.csv", "learner,item\nA,I1\n", "line 1"),
        (
            "range.csv",
            "learner,item,score\nA,I1,1\nB,I1,1.5\n",
            "line 3",
        ),
        ("text.csv", "learner,item,score\nA,I1,yes\n", "line 2"),
        ("empty.csv", "", "empty"),
        ("nobody.csv", "learner,item,score\nA,I1,1\nA,I2,\n", "I2"),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
        let out = myqcm()
            .args(["calibrate", "--input", name, "--model", "1pl"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{name}: {stderr}");
    }
}

/// Issue 8, item 9: `myqcm calibrate … | head` exits quietly (no error about the closed pipe),
/// items and learners come out in input order (not sorted, not hashed), and the output says
/// whether priors were used.
#[test]
fn calibrate_keeps_input_order_says_which_priors_and_exits_quietly_on_a_closed_pipe() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    // Item names in an order neither sorted nor reverse-sorted; learners likewise.
    let names = ["zeta", "alpha", "mid", "beta", "omega", "delta"];
    let csv = simulated_csv(
        3000,
        &[
            (1.0, -1.0),
            (1.2, 0.0),
            (0.8, 1.0),
            (1.0, 0.5),
            (1.1, -0.5),
            (0.9, 0.2),
        ],
    );
    let csv = names.iter().enumerate().fold(csv, |c, (i, n)| {
        c.replace(&format!(",I{i},"), &format!(",{n},"))
    });
    let csv = csv.replacen("L0,", "Zoe,", 6);
    std::fs::write(dir.path().join("r.csv"), &csv).unwrap();
    for (extra, priors) in [
        (None, "priors: ln a ~ N(0, 0.5²), b ~ N(0, 2²)"),
        (Some("--no-priors"), "priors: none (maximum likelihood)"),
    ] {
        let mut args = vec![
            "calibrate",
            "--input",
            "r.csv",
            "--model",
            "2pl",
            "--output",
            "p.json",
        ];
        args.extend(extra);
        let stdout = run_ok(dir.path(), &args);
        assert!(stdout.contains(priors), "{stdout}");
        let printed: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| names.contains(w))
            .collect();
        assert_eq!(printed, names, "{stdout}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap())
                .unwrap();
        let items: Vec<&str> = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item"].as_str().unwrap())
            .collect();
        assert_eq!(items, names);
        assert_eq!(json["learners"][0]["learner"], "Zoe");
        assert_eq!(json["learners"][1]["learner"], "L1");
        assert_eq!(json["priors_used"], extra.is_none());
    }
    // `| head -1`: read one line, close the pipe; the report is far longer than a pipe holds.
    let mut child = myqcm()
        .args(["calibrate", "--input", "r.csv", "--model", "1pl"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("model 1pl"), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.trim().is_empty(), "{stderr}");
}

/// Learners answering the demo bank's cardiology items through the training use cases, on the
/// SQLite database under `dir` (as the server would); returns the number of answers.
pub(super) fn answer_demo_bank(dir: &std::path::Path, learners: u32, per_session: u32) -> usize {
    use myqcm_domain::catalogue::lifecycle::Actor;
    use myqcm_domain::catalogue::{ItemContent, ItemKind};
    use myqcm_domain::permissions::Role;
    use myqcm_domain::training::{SessionRequest, Style};
    use myqcm_services::training::Training;
    use myqcm_services::training::views::{AnswerInput, NewSessionInput, Next, ProfileInput};
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.join("data/myqcm.sqlite").display()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let db = myqcm_db::connect(&url, None).await.unwrap();
            let training =
                Training::open(db.clone(), std::sync::Arc::new(myqcm_domain::SystemClock)).unwrap();
            let subject = myqcm_db::catalogue::subject_by_code(&db, "cardio")
                .await
                .unwrap()
                .unwrap()
                .id;
            let mut answered = 0;
            for learner in 0..learners {
                let who = Actor {
                    id: uuid::Uuid::now_v7(),
                    roles: vec![Role::Student],
                    scopes: vec![],
                    mfa_enrolled: false,
                };
                let profile = ProfileInput {
                    year_of_study: 3,
                    ..ProfileInput::default()
                };
                training.set_profile(&who, profile).await.unwrap();
                let request = SessionRequest {
                    subject: Some(subject),
                    kinds: vec![ItemKind::Qcs, ItemKind::Qcm],
                    item_count: Some(per_session),
                    ..SessionRequest::default()
                };
                let input = NewSessionInput {
                    mode: Some("custom".into()),
                    style: Style::Tutor,
                    request,
                };
                let s = training.create_session(&who, input).await.unwrap();
                let mut item = s.current.unwrap();
                loop {
                    let rev = myqcm_db::catalogue::revision(&db, item.revision_id)
                        .await
                        .unwrap()
                        .unwrap();
                    let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
                    let right = (learner + u32::from(item.item_id.as_bytes()[15])) % 2 == 0;
                    let options: Vec<usize> = (0..c.options.len())
                        .filter(|i| c.options[*i].correct == right)
                        .take(if right { usize::MAX } else { 1 })
                        .collect();
                    let answer = AnswerInput {
                        served_id: item.served_id,
                        options: Some(options),
                        text: None,
                    };
                    let out = training.answer(&who, s.id, answer).await.unwrap();
                    answered += 1;
                    match out.next {
                        Next::Item(v) => item = *v,
                        Next::End(_) => break,
                    }
                }
            }
            answered
        })
}

#[test]
fn calibrate_without_input_writes_a_candidate_set_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    // A fresh database has nothing to learn from: a clear refusal.
    let out = myqcm()
        .args(["calibrate"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing to calibrate"), "{stderr}");
    // File mode still needs its model.
    let out = myqcm()
        .args(["calibrate", "--input", "r.csv"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model"));

    run_ok(dir.path(), &["seed", "--demo"]);
    let answered = answer_demo_bank(dir.path(), 12, 10);
    let json = run_ok(
        dir.path(),
        &[
            "calibrate",
            "--json",
            "--min-responses",
            "3",
            "--min-kc-observations",
            "10",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["status"], "candidate", "{report}");
    assert_eq!(report["based_on"], 0);
    assert_eq!(report["attempts"].as_u64().unwrap(), answered as u64);
    assert_eq!(report["learners"], 12);
    assert!(report["items_fitted"].as_u64().unwrap() > 0, "{report}");
    assert!(report["fits"][0]["stop"].is_string(), "{report}");
    let first = report["parameter_set_id"].as_i64().unwrap();

    let text = run_ok(dir.path(), &["calibrate", "--quiet"]);
    assert!(
        text.contains(&format!("candidate parameter set {}", first + 1))
            && text.contains("the set in use is unchanged")
            && text.contains("skipped for fewer than 30 answers")
            && text.contains("converged:"),
        "{text}"
    );
}

/// A paid plan `code` (a copy of the free plan's quotas) in the SQLite database under `dir`.
fn add_paid_plan(dir: &std::path::Path, code: &str) {
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.join("data/myqcm.sqlite").display()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let db = myqcm_db::connect(&url, None).await.unwrap();
            let free = myqcm_db::commerce::default_plan(&db).await.unwrap();
            myqcm_db::commerce::insert_plan(
                &db,
                myqcm_db::commerce::plan::Model {
                    id: uuid::Uuid::now_v7(),
                    code: code.into(),
                    price_dzd: 2000,
                    duration_days: Some(30),
                    is_default: false,
                    ..free
                },
            )
            .await
            .unwrap();
        });
}

#[test]
fn admin_cards_import_takes_over_legacy_codes_as_hmacs_and_refuses_bad_files_whole() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["migrate"]);
    add_paid_plan(dir.path(), "premium");
    let codes = [
        "ABCD-EFGH-IJKL-MNOP-QRST-UV01",
        "zzzz 9999 loiu 0000 aaaa b2c3",
    ];
    let file = dir.path().join("codes.txt");
    std::fs::write(
        &file,
        format!(
            "# exported from the earlier system\n{}\n\n{}\n",
            codes[0], codes[1]
        ),
    )
    .unwrap();
    let input = file.to_str().unwrap();
    let stdout = run_ok(
        dir.path(),
        &[
            "admin",
            "cards",
            "import",
            "--plan",
            "premium",
            "--input",
            input,
            "--expires",
            "2999-12-31",
        ],
    );
    assert!(
        stdout.contains("2 cards imported for plan premium"),
        "{stdout}"
    );
    assert!(!stdout.to_uppercase().contains("ABCD"), "no code echoed");
    let rows = audit_rows(dir.path(), "cards.imported");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["count"], 2);
    assert!(!serde_json::to_string(&rows).unwrap().contains("ABCD"));

    // The same file again, a malformed line, or the free plan: refused, nothing stored.
    let again = myqcm()
        .args([
            "admin", "cards", "import", "--plan", "premium", "--input", input,
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already stored"));
    std::fs::write(
        &file,
        "ABCD-EFGH-IJKL-MNOP-QRST-UV02\nABCD-EFGH-IJKL-MNOP-QRST-UV0\n",
    )
    .unwrap();
    let bad = myqcm()
        .args([
            "admin", "cards", "import", "--plan", "premium", "--input", input,
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let free = myqcm()
        .args([
            "admin", "cards", "import", "--plan", "free", "--input", input,
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!free.status.success());
    assert_eq!(audit_rows(dir.path(), "cards.imported").len(), 1);
}

/// The path and body of every request a stand-in received.
type Requests = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A loopback stand-in for an OTLP collector, on its own runtime thread.
fn otlp_collector() -> (String, Requests) {
    let got = Requests::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = got.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(
                move |uri: axum::http::Uri, body: axum::body::Bytes| async move {
                    sink.lock()
                        .unwrap()
                        .push((uri.path().to_owned(), body.to_vec()));
                    ""
                },
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{addr}"), got)
}

/// Serves with `env`, answers one request, stops with SIGTERM (the graceful path, which
/// flushes the exporters) and returns the request's id.
fn serve_one_request(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = myqcm();
    cmd.arg("serve")
        .current_dir(dir.path())
        .env("MYQCM_LISTEN", format!("127.0.0.1:{port}"))
        .env("MYQCM_METRICS_LISTEN", "")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ready = None;
    while Instant::now() < deadline && ready.is_none() {
        ready = http_get(port, "/health/ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ready.map(|r| r.0).as_deref(), Some("200"));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut head = String::new();
    std::io::Read::read_to_string(&mut s, &mut head).unwrap();
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .trim()
        .to_owned();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    id
}

#[test]
fn serve_exports_spans_to_myqcm_otlp_endpoint_and_nowhere_without_it() {
    // Unset: nothing is attempted, even with the OpenTelemetry SDK's own variables pointing at
    // a collector.
    let (quiet, quiet_got) = otlp_collector();
    serve_one_request(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", quiet.as_str()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{quiet}/v1/traces"),
        ),
    ]);
    assert!(
        quiet_got.lock().unwrap().is_empty(),
        "an export was attempted"
    );

    // Set: the spans, flushed on SIGTERM, carry the service name and the request id.
    let (collector, got) = otlp_collector();
    let id = serve_one_request(&[("MYQCM_OTLP_ENDPOINT", collector.as_str())]);
    let got = got.lock().unwrap().clone();
    assert!(!got.is_empty(), "the collector received nothing");
    assert!(got.iter().all(|(path, _)| path == "/v1/traces"));
    let bytes: Vec<u8> = got.into_iter().flat_map(|(_, b)| b).collect();
    let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    assert!(has("service.name") && has("myqcm"));
    assert!(
        has("request_id") && has(&id),
        "request {id} is not among the spans"
    );
}

/// How many `backup.run` schedules the SQLite database under `dir` holds (0 or 1).
fn backup_schedules(dir: &std::path::Path) -> i64 {
    use sea_orm::ConnectionTrait;
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.join("data/myqcm.sqlite").display()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let db = myqcm_db::connect(&url, None).await.unwrap();
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM job_schedule WHERE name = 'backup.run'",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        })
}

/// Starts `myqcm args…` in `dir` with `env`, waits until `ready` holds (30 s at most), then
/// stops it.
fn run_until(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)], ready: impl Fn() -> bool) {
    let mut cmd = myqcm();
    cmd.args(args)
        .current_dir(dir)
        .env("MYQCM_METRICS_LISTEN", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{args:?} never got ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_web_only_server_leaves_the_workers_backup_schedule_alone() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["migrate"]);
    let backups = dir.path().join("backups");
    let backups = backups.to_str().unwrap();
    run_until(
        dir.path(),
        &["worker"],
        &[("MYQCM_BACKUP_DIR", backups)],
        || backup_schedules(dir.path()) == 1,
    );
    // A web pod without the backup settings (as in deploy/k8s) keeps the schedule…
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    run_until(
        dir.path(),
        &["serve", "--no-worker"],
        &[("MYQCM_LISTEN", listen.as_str())],
        || http_get(port, "/health/ready").is_some_and(|r| r.0 == "200"),
    );
    assert_eq!(backup_schedules(dir.path()), 1);
    // …while a process that runs jobs without them still removes it (backups switched off).
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    run_until(
        dir.path(),
        &["serve"],
        &[("MYQCM_LISTEN", listen.as_str())],
        || http_get(port, "/health/ready").is_some_and(|r| r.0 == "200"),
    );
    assert_eq!(backup_schedules(dir.path()), 0);
}
