//! Two instances of the application sharing the database and the cache: signing out on one is
//! immediately effective on the other, for the cookie and for a Bearer token.
//!
//! `two_processes_sharing_redis…` runs two real `myqcm serve` processes and needs Redis
//! (`MYQCM_TEST_REDIS_URL`); without it the test says so and passes vacuously, and the
//! in-process variant below still checks the logic with a shared cache.
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
    let port = myqcm_testkit::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let child = myqcm_testkit::isolated_command(env!("CARGO_BIN_EXE_myqcm"))
        .args(["serve", "--no-worker"])
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
