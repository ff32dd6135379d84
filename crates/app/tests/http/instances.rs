//! Two instances of the application sharing the database and the cache: signing out on one is
//! immediately effective on the other, for the cookie and for a Bearer token.
//!
//! `two_processes_sharing_redis…` runs two real `myqcm serve` processes and needs Redis
//! (`MYQCM_TEST_REDIS_URL`); without it the test says so and passes vacuously, and the
//! in-process variant below still checks the logic with a shared cache.
//!
//! `an_import_run_by_one_process…` is the staff console's two-instance acceptance: two `myqcm
//! serve` processes on one PostgreSQL database and Redis, only the second with its worker; an
//! SSE client on the first follows an import the second runs. It needs both
//! `MYQCM_TEST_DATABASE_URL` (PostgreSQL) and `MYQCM_TEST_REDIS_URL`, and is skipped otherwise
//! (the in-process variant in `admin_console.rs` runs on every backend).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

async fn check_sign_out_propagates(a: &str, b: &str, client: &reqwest::Client) {
    let post = |base: &str, path: &str, body: Value| {
        client.post(format!("{base}{path}")).json(&body).send()
    };
    assert_eq!(
        post(
            a,
            "/api/v1/auth/sign-up",
            json!({"email": "two@example.dz", "password": PW, "display_name": "Two"})
        )
        .await
        .unwrap()
        .status(),
        202
    );
    let res = post(
        a,
        "/api/v1/auth/sign-in",
        json!({"email": "two@example.dz", "password": PW}),
    )
    .await
    .unwrap();
    let browser = Browser::from_response(res).await;
    let t: Value = post(
        a,
        "/api/v1/auth/token",
        json!({"grant_type": "password", "email": "two@example.dz", "password": PW}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let bearer = t["access_token"].as_str().unwrap().to_owned();
    let on_b_cookie = || {
        client
            .get(format!("{b}/api/v1/account"))
            .header("cookie", browser.cookie_header())
            .send()
    };
    let on_b_bearer = || {
        client
            .get(format!("{b}/api/v1/account"))
            .bearer_auth(&bearer)
            .send()
    };
    // Instance B knows (and caches) both sessions.
    assert_eq!(on_b_cookie().await.unwrap().status(), 200);
    assert_eq!(on_b_bearer().await.unwrap().status(), 200);
    // Sign out both on A.
    let res = client
        .post(format!("{a}/api/v1/auth/sign-out"))
        .header("cookie", browser.cookie_header())
        .header("x-csrf-token", &browser.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .post(format!("{a}/api/v1/auth/sign-out"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // B refuses both at once.
    assert_eq!(on_b_cookie().await.unwrap().status(), 401);
    assert_eq!(on_b_bearer().await.unwrap().status(), 401);
}

#[tokio::test]
async fn two_instances_sharing_database_and_cache_see_sign_out_immediately() {
    let first = spawn().await;
    let second = spawn_sharing(
        Some(first.db.clone()),
        first.cache.clone(),
        first.clock.clone(),
        |_, _| {},
    )
    .await;
    check_sign_out_propagates(&first.base, &second.base, &first.client).await;
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(dir: &std::path::Path, db_url: &str, redis: &str, prefix: &str) -> (Server, String) {
    start_serving(dir, db_url, redis, prefix, false).await
}

/// `myqcm serve` on a free port (with its job worker when `worker`), once it is ready.
async fn start_serving(
    dir: &std::path::Path,
    db_url: &str,
    redis: &str,
    prefix: &str,
    worker: bool,
) -> (Server, String) {
    let port = myqcm_testkit::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let args: &[&str] = if worker {
        &["serve"]
    } else {
        &["serve", "--no-worker"]
    };
    let child = myqcm_testkit::isolated_command(env!("CARGO_BIN_EXE_myqcm"))
        .args(args)
        .env("MYQCM_LISTEN", format!("127.0.0.1:{port}"))
        .env("MYQCM_METRICS_LISTEN", "")
        .env("MYQCM_PUBLIC_BASE_URL", &base)
        .env("MYQCM_DATA_DIR", dir)
        .env("MYQCM_DATABASE_URL", db_url)
        .env("MYQCM_REDIS_URL", redis)
        // Both processes share this run's keys; earlier runs' rate-limit counters stay apart.
        .env("MYQCM_REDIS_PREFIX", prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "instance on {base} did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, base)
}

#[tokio::test]
async fn two_processes_sharing_redis_see_sign_out_immediately() {
    let Ok(redis) = std::env::var("MYQCM_TEST_REDIS_URL") else {
        eprintln!("MYQCM_TEST_REDIS_URL unset: the two-process check needs Redis; skipped");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("shared.sqlite").display()
    );
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let (_a, a) = start(dir.path(), &db_url, &redis, &prefix).await;
    let (_b, b) = start(dir.path(), &db_url, &redis, &prefix).await;
    check_sign_out_propagates(&a, &b, &reqwest::Client::new()).await;
}

/// `myqcm args…` on the shared database and data directory; its standard output.
fn run_cli(dir: &std::path::Path, db_url: &str, args: &[&str]) -> String {
    let out = myqcm_testkit::isolated_command(env!("CARGO_BIN_EXE_myqcm"))
        .args(args)
        .env("MYQCM_DATA_DIR", dir)
        .env("MYQCM_DATABASE_URL", db_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "myqcm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The word after `label` on the seed's line for `email`.
fn seed_value(seed: &str, email: &str, label: &str) -> String {
    let line = seed
        .lines()
        .find(|l| l.contains(email) && l.contains(label))
        .unwrap_or_else(|| panic!("no {label} for {email} in:\n{seed}"));
    line.rsplit(label)
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A CSV of `n` new questions of the demo bank's `cardio-hta` course.
fn import_csv(n: usize) -> String {
    let mut csv = String::from("external_id,type,course,stem,option1,option2,correct,kcs\n");
    for i in 0..n {
        csv.push_str(&format!(
            "two-{i},qcs,cardio-hta,Question {i} importée par l’autre instance ?,A,B,1,kc-cardio-hta-def\n"
        ));
    }
    csv
}

#[tokio::test]
async fn an_import_run_by_one_process_streams_its_progress_to_an_sse_client_of_the_other() {
    let (Ok(url), Ok(redis)) = (
        std::env::var("MYQCM_TEST_DATABASE_URL"),
        std::env::var("MYQCM_TEST_REDIS_URL"),
    ) else {
        eprintln!("MYQCM_TEST_DATABASE_URL or MYQCM_TEST_REDIS_URL unset: skipped");
        return;
    };
    if !url.starts_with("postgres") {
        eprintln!("MYQCM_TEST_DATABASE_URL is not PostgreSQL: skipped");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A fresh database of its own: both processes and the CLI connect to it by URL.
    let name = format!("two_{}", uuid::Uuid::new_v4().simple());
    let admin_db = myqcm_db::connect(&url, None).await.unwrap();
    myqcm_db::maintenance::create_database(&admin_db, &name)
        .await
        .unwrap();
    let db_url = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();
    run_cli(dir.path(), &db_url, &["migrate"]);
    let seed = run_cli(dir.path(), &db_url, &["seed", "--demo"]);
    let email = "admin@demo.myqcm.local";
    let password = seed_value(&seed, email, "password:");
    let secret = seed_value(&seed, email, "(base32, shown once):");
    let secret = myqcm_services::identity::totp::base32_decode(&secret).unwrap();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());

    // Instance A serves without a worker: nothing it holds can run the import.
    let (a_server, a) = start_serving(dir.path(), &db_url, &redis, &prefix, false).await;
    let client = reqwest::Client::new();
    let t: Value = client
        .post(format!("{a}/api/v1/auth/token"))
        .json(&json!({
            "grant_type": "password", "email": email, "password": password,
            "totp_code": myqcm_services::identity::totp::code_at(
                &secret, chrono::Utc::now().timestamp()),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = t["access_token"].as_str().unwrap_or_else(|| panic!("{t}"));
    let rows = 1500;
    let res = client
        .post(format!("{a}/api/v1/admin/imports?format=csv"))
        .bearer_auth(bearer)
        .body(import_csv(rows))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let run: Value = res.json().await.unwrap();
    let id = run["id"].as_str().unwrap().to_owned();
    let mut events = client
        .get(format!("{a}/api/v1/admin/imports/{id}/events"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut buf = String::new();
    let first = crate::jobs::next_event(&mut events, &mut buf, |_| true)
        .await
        .unwrap();
    assert_eq!(
        (first["status"].as_str(), first["finished"].as_bool()),
        (Some("queued"), Some(false))
    );

    // Instance B starts with its worker and runs the queued import.
    let (_b_server, _b) = start_serving(dir.path(), &db_url, &redis, &prefix, true).await;
    let mut seen: Vec<(Value, Instant)> = Vec::new();
    loop {
        let Some(e) = next_event_within(&mut events, &mut buf, Duration::from_secs(60)).await
        else {
            break;
        };
        seen.push((e, Instant::now()));
    }
    let statuses: Vec<&str> = seen
        .iter()
        .map(|(e, _)| e["status"].as_str().unwrap())
        .collect();
    // Progress while it runs (the import's own "rows done / rows" reports), then the end.
    let progress: Vec<&Value> = seen
        .iter()
        .map(|(e, _)| e)
        .filter(|e| e["status"] == "running")
        .collect();
    assert!(
        progress.iter().any(|e| {
            let f = e["progress"].as_f64().unwrap_or(0.0);
            f > 0.0
                && f < 1.0
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.ends_with(&format!(" / {rows}")))
        }),
        "a partial progress report reaches A: {statuses:?} {seen:?}"
    );
    let (last, last_at) = seen.last().unwrap();
    assert_eq!(
        (last["status"].as_str(), last["finished"].as_bool()),
        (Some("done"), Some(true)),
        "{seen:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "done").count(),
        1,
        "the stream ends with the job: {statuses:?}"
    );
    let first_running = statuses.iter().position(|s| *s == "running").unwrap();
    assert!(
        first_running < statuses.len() - 1,
        "progress comes before the end: {statuses:?}"
    );
    // A's stream re-reads the job row only every 5 s while nothing is announced; the end
    // reaching it sooner than that after the last progress report came by publish/subscribe.
    let (_, before_end) = &seen[seen.len() - 2];
    assert!(
        last_at.duration_since(*before_end) < Duration::from_millis(4500),
        "the end came by Redis, not by a re-read"
    );
    // The import really happened, as A reads it from the shared database.
    let status: Value = client
        .get(format!("{a}/api/v1/admin/imports/{id}"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "done", "{status}");
    drop(a_server);
    drop(_b_server);
    let _ = myqcm_db::maintenance::drop_database(&admin_db, &name).await;
}

/// The next `job` event of `res`, or `None` when the stream ends; panics after `limit`.
async fn next_event_within(
    res: &mut reqwest::Response,
    buf: &mut String,
    limit: Duration,
) -> Option<Value> {
    tokio::time::timeout(limit, crate::jobs::next_event(res, buf, |_| true))
        .await
        .expect("an event or the end in time")
}
