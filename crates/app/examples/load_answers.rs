//! Answer load driver (not a test): learners answer training items continuously over HTTP
//! against a running `myqcm serve` on loopback. One round trip = one
//! `POST /api/v1/training-sessions/{id}/answers` returning the grade and the next item.
//!
//! ```text
//! load_answers seed   --learners N                      # accounts + profiles, through services
//! load_answers run    --base URL --learners N --seconds S [--rate R] [--ack FILE]
//! load_answers verify --ack FILE                        # every acknowledged answer is stored
//! ```
//!
//! `seed` opens the database of the usual configuration (`MYQCM_DATABASE_URL`, `MYQCM_DATA_DIR`)
//! and creates `load{i}@load.myqcm.local` (verified students, year 3) with one password; it
//! does not load the question bank (`myqcm seed --demo` does). `run` signs each learner in
//! (`POST /api/v1/auth/token`, one `X-Forwarded-For` address per learner, so the server should
//! trust 127.0.0.1), starts a tutor session per learner and answers: in a closed loop (each of
//! the N learners sends its next answer as soon as the previous one returns) or, with
//! `--rate R`, in an open loop (an answer is due every 1/R s whether or not earlier ones
//! returned; latency is measured from when it was due, so queueing is not hidden). A session
//! that ends is replaced by a new one (not counted as a round trip). It prints round trips/s,
//! p50/p95/p99/max latency and errors, and with `--ack FILE` appends the served id of every
//! acknowledged first answer (200, `repeat: false`) to FILE. `verify` reads FILE and checks that
//! each has its attempt in the database (the kill test). Loopback only; `--seconds` is capped
//! at 600.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line benchmark"
)]

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use myqcm_domain::permissions::Role;
use myqcm_services::identity::ClientMeta;
use myqcm_services::identity::accounts::{HashedPassword, NewAccount, Origin, create_account};
use myqcm_services::training::views::ProfileInput;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;

const PASSWORD: &str = "load test passphrase 2026";

fn email(i: usize) -> String {
    format!("load{i}@load.myqcm.local")
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let learners: usize = arg(&args, "--learners").unwrap_or(64).clamp(1, 1024);
    match args.first().map(String::as_str) {
        Some("seed") => seed(learners).await,
        Some("verify") => verify(&arg::<String>(&args, "--ack").context("--ack FILE")?).await,
        Some("run") => {
            let base: String = arg(&args, "--base").context("--base URL")?;
            let url = url::Url::parse(&base)?;
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            if !loopback {
                bail!("the driver only targets loopback addresses");
            }
            let seconds: u64 = arg(&args, "--seconds").unwrap_or(20).clamp(1, 600);
            let rate: Option<f64> = arg(&args, "--rate");
            let ack: Option<String> = arg(&args, "--ack");
            run(base, learners, seconds, rate, ack).await
        }
        _ => bail!("usage: load_answers seed|run|verify (see the source's header)"),
    }
}

async fn services() -> anyhow::Result<myqcm_app::Services> {
    let config = myqcm_app::config::load(None).map_err(|e| anyhow::anyhow!("{e}"))?;
    myqcm_app::build_services(&config).await
}

/// Accounts and profiles of the load learners (existing ones are kept).
async fn seed(n: usize) -> anyhow::Result<()> {
    let services = services().await?;
    let deps = services.deps();
    let mut created = 0;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = match myqcm_db::identity::accounts::find_by_email(&services.db, &email(i)).await? {
            Some(a) => a.id,
            None => {
                let new = NewAccount {
                    display_name: format!("Load {i}"),
                    password: Some(
                        HashedPassword::new(PASSWORD.into(), &[Role::Student], &email(i)).await?,
                    ),
                    email: email(i),
                    roles: vec![Role::Student],
                    admin_scopes: vec![],
                    locale: None,
                    verified: true,
                };
                created += 1;
                create_account(&deps, new, Origin::Seed, &ClientMeta::default())
                    .await?
                    .id
            }
        };
        let actor = myqcm_domain::catalogue::lifecycle::Actor {
            id,
            roles: vec![Role::Student],
            scopes: vec![],
            mfa_enrolled: false,
        };
        ids.push(id);
        let profile = ProfileInput {
            year_of_study: 3,
            ..ProfileInput::default()
        };
        services
            .training
            .set_profile(&actor, profile)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("load learners: {n} ({created} created)");
    load_plan(&services, &ids).await?;
    Ok(())
}

/// Puts the load learners on a plan with quotas no run reaches (a million graded answers a day
/// and a month), so the free plan's daily quota does not end the run while every answer still
/// pays for the quota upsert, as in production (docs/COMMERCE.md).
async fn load_plan(services: &myqcm_app::Services, ids: &[Uuid]) -> anyhow::Result<()> {
    use myqcm_db::commerce as repo;
    let now = chrono::Utc::now().timestamp_millis();
    let plan = match repo::plan_by_code(&services.db, "load-test").await? {
        Some(p) => p,
        None => {
            repo::insert_plan(
                &services.db,
                repo::plan::Model {
                    id: Uuid::now_v7(),
                    code: "load-test".into(),
                    names: r#"{"fr":"Charge","en":"Load test","ar":"اختبار الحمل"}"#.into(),
                    price_dzd: 0,
                    duration_days: None,
                    mcq_per_day: Some(1_000_000),
                    mcq_per_month: Some(1_000_000),
                    qroc_per_day: Some(1_000_000),
                    qroc_per_month: Some(1_000_000),
                    explanations: true,
                    clinical_cases: true,
                    ai_grading: false,
                    devices: 1,
                    is_default: false,
                    listed: false,
                    sort_order: 99,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?
        }
    };
    for id in ids {
        if repo::current_subscription(&services.db, *id, now)
            .await?
            .is_none()
        {
            repo::insert_subscription(
                &services.db,
                repo::subscription::Model {
                    id: Uuid::now_v7(),
                    learner_id: *id,
                    plan_id: plan.id,
                    starts_at: now,
                    ends_at: None,
                    source: "admin".into(),
                    card_id: None,
                    created_at: now,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Checks that every acknowledged answer in `file` has its attempt stored.
async fn verify(file: &str) -> anyhow::Result<()> {
    let services = services().await?;
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let ids: Vec<Uuid> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse())
        .collect::<Result<_, _>>()?;
    let mut missing = 0usize;
    for chunk in ids.chunks(500) {
        let found = myqcm_db::training::attempted_served_items(&services.db, chunk).await?;
        missing += chunk.iter().filter(|id| !found.contains(id)).count();
    }
    println!(
        "acknowledged answers: {}, stored: {}, missing: {missing}",
        ids.len(),
        ids.len() - missing
    );
    if missing > 0 {
        bail!("{missing} acknowledged answers are not in the database");
    }
    if ids.is_empty() {
        bail!("no answer was acknowledged: the check proves nothing");
    }
    Ok(())
}

/// One learner's state between requests.
struct Learner {
    index: usize,
    token: String,
    session: Option<String>,
    current: Value,
}

/// A response with an unexpected status (kept apart from transport failures in the counts).
#[derive(Debug)]
struct HttpStatus(u16);

impl std::fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.0)
    }
}

impl std::error::Error for HttpStatus {}

/// Failed round trips by kind: 503, another 5xx, a 4xx, no response (connection refused,
/// reset or timed out) — the fault tests read these.
#[derive(Default)]
struct ErrorCounts {
    unavailable: AtomicU64,
    server: AtomicU64,
    client: AtomicU64,
    transport: AtomicU64,
    /// Slowest failed round trip, in microseconds (a failure must come fast, not hang).
    slowest_us: AtomicU64,
}

struct Shared {
    client: reqwest::Client,
    base: String,
    subjects: Vec<String>,
    ok: AtomicU64,
    errors: AtomicU64,
    kinds: ErrorCounts,
    sessions: AtomicU64,
    latencies: Mutex<Vec<f64>>,
    ack: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
}

impl Shared {
    fn url(&self, p: &str) -> String {
        format!("{}/api/v1{p}", self.base)
    }

    async fn sign_in(&self, index: usize) -> anyhow::Result<String> {
        let r = self
            .client
            .post(self.url("/auth/token"))
            .header(
                "x-forwarded-for",
                format!("10.88.{}.{}", index / 250, index % 250 + 1),
            )
            .json(&json!({"grant_type": "password", "email": email(index), "password": PASSWORD}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("sign-in of {} failed: {}", email(index), r.status());
        }
        let v: Value = r.json().await?;
        Ok(v["access_token"].as_str().context("no token")?.to_owned())
    }

    /// Starts a new tutor session for `l`.
    async fn start(&self, l: &mut Learner) -> anyhow::Result<()> {
        let subject = &self.subjects[l.index % self.subjects.len()];
        let r = self
            .client
            .post(self.url("/training-sessions"))
            .bearer_auth(&l.token)
            .json(
                &json!({"mode": "custom", "style": "tutor", "subject": subject, "item_count": 200}),
            )
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status.as_u16() != 201 {
            return Err(anyhow::Error::new(HttpStatus(status.as_u16()))
                .context(format!("session start: {v}")));
        }
        self.sessions.fetch_add(1, Ordering::Relaxed);
        l.session = v["id"].as_str().map(str::to_owned);
        l.current = v["current"].clone();
        Ok(())
    }

    /// One round trip: answers the current item (the first option, or a short text).
    async fn answer(&self, l: &mut Learner) -> anyhow::Result<()> {
        if l.session.is_none() || l.current.is_null() {
            self.start(l).await?;
        }
        let id = l.session.clone().context("no session")?;
        let item = &l.current;
        let body = if item["kind"] == "qroc" {
            json!({"served_id": item["served_id"], "text": "x"})
        } else {
            json!({"served_id": item["served_id"], "options": [item["options"][0]["id"]]})
        };
        let r = self
            .client
            .post(self.url(&format!("/training-sessions/{id}/answers")))
            .bearer_auth(&l.token)
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status.as_u16() != 200 {
            l.current = Value::Null;
            l.session = None;
            return Err(
                anyhow::Error::new(HttpStatus(status.as_u16())).context(format!("answer: {v}"))
            );
        }
        if v["repeat"] == false
            && let (Some(ack), Some(s)) = (&self.ack, v["served_id"].as_str())
        {
            // Written through at once: the kill test watches the file during the run.
            let mut f = ack.lock().await;
            writeln!(f, "{s}")?;
            f.flush()?;
        }
        if v["next"]["type"] == "item" {
            l.current = v["next"].clone();
        } else {
            l.current = Value::Null;
            l.session = None;
        }
        Ok(())
    }

    async fn record(&self, result: anyhow::Result<()>, seconds: f64) {
        match result {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.latencies.lock().await.push(seconds);
            }
            Err(e) => {
                let k = &self.kinds;
                let counter = match e.downcast_ref::<HttpStatus>().map(|s| s.0) {
                    Some(503) => &k.unavailable,
                    Some(s) if s >= 500 => &k.server,
                    Some(_) => &k.client,
                    None => &k.transport,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                k.slowest_us
                    .fetch_max((seconds * 1e6) as u64, Ordering::Relaxed);
                if self.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("error: {e:#}");
                }
            }
        }
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

async fn subjects(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<Vec<String>> {
    let v: Value = client
        .get(format!("{base}/api/v1/curriculum?year=3"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let mut out = Vec::new();
    collect_subjects(&v, &mut out);
    out.sort();
    out.dedup();
    if out.is_empty() {
        bail!("no subject in year 3: load the demo bank first (myqcm seed --demo)");
    }
    Ok(out)
}

fn collect_subjects(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(subjects)) = m.get("subjects") {
                for s in subjects {
                    if let Some(id) = s["id"].as_str() {
                        out.push(id.to_owned());
                    }
                }
            }
            for (k, x) in m {
                if k != "subjects" {
                    collect_subjects(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_subjects(x, out)),
        _ => {}
    }
}

async fn run(
    base: String,
    n: usize,
    seconds: u64,
    rate: Option<f64>,
    ack: Option<String>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(2048)
        .timeout(Duration::from_secs(10))
        .build()?;
    let ack = match ack {
        Some(path) => Some(Mutex::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {path}"))?,
        ))),
        None => None,
    };
    let mut shared = Shared {
        client,
        base: base.trim_end_matches('/').to_owned(),
        subjects: vec![],
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        kinds: ErrorCounts::default(),
        sessions: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
        ack,
    };
    // Sign in and start a session for every learner (not measured).
    let mut learners = Vec::with_capacity(n);
    for i in 0..n {
        let token = shared.sign_in(i).await?;
        if i == 0 {
            shared.subjects = subjects(&shared.client, &shared.base, &token).await?;
        }
        learners.push(Learner {
            index: i,
            token,
            session: None,
            current: Value::Null,
        });
    }
    for l in &mut learners {
        shared.start(l).await?;
    }
    let shared = Arc::new(shared);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    match rate {
        None => closed_loop(&shared, learners, deadline).await,
        Some(r) => open_loop(&shared, learners, deadline, r).await,
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(ack) = &shared.ack {
        ack.lock().await.flush()?;
    }
    let mut lat = shared.latencies.lock().await.clone();
    lat.sort_by(f64::total_cmp);
    let ok = shared.ok.load(Ordering::Relaxed);
    let ms = |x: f64| x * 1000.0;
    let k = &shared.kinds;
    println!(
        "{} loop, {n} learners{}, {seconds} s: {ok} round trips, {:.0}/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}; errors {} (503 {}, other 5xx {}, 4xx {}, no response {}; slowest failure {:.0} ms); sessions started {}",
        if rate.is_some() { "open" } else { "closed" },
        rate.map(|r| format!(", {r}/s offered")).unwrap_or_default(),
        ok as f64 / elapsed,
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.95)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or(f64::NAN)),
        shared.errors.load(Ordering::Relaxed),
        k.unavailable.load(Ordering::Relaxed),
        k.server.load(Ordering::Relaxed),
        k.client.load(Ordering::Relaxed),
        k.transport.load(Ordering::Relaxed),
        k.slowest_us.load(Ordering::Relaxed) as f64 / 1000.0,
        shared.sessions.load(Ordering::Relaxed),
    );
    Ok(())
}

/// Every learner sends its next answer as soon as the previous one returned.
async fn closed_loop(shared: &Arc<Shared>, learners: Vec<Learner>, deadline: Instant) {
    let mut tasks = Vec::new();
    for mut l in learners {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = shared.answer(&mut l).await;
                let failed = r.is_err();
                shared.record(r, t.elapsed().as_secs_f64()).await;
                if failed {
                    // Back off briefly (e.g. the server is down during the kill test).
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// An answer is due every `1/rate` s, sent by whichever learner is free; latency counts from
/// the moment it was due.
async fn open_loop(shared: &Arc<Shared>, learners: Vec<Learner>, deadline: Instant, rate: f64) {
    let (tx, mut rx) = mpsc::channel::<Learner>(learners.len());
    for l in learners {
        let _ = tx.send(l).await;
    }
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let start = Instant::now();
    let mut k: u32 = 0;
    let mut tasks = Vec::new();
    loop {
        let due = start + interval * k;
        if due >= deadline {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let Some(mut l) = rx.recv().await else { break };
        let (shared, tx) = (shared.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let r = shared.answer(&mut l).await;
            shared.record(r, due.elapsed().as_secs_f64()).await;
            let _ = tx.send(l).await;
        }));
        k += 1;
    }
    for t in tasks {
        let _ = t.await;
    }
}
