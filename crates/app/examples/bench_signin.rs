//! Sign-in benchmark (not a test): starts `myqcm serve` on a loopback port with a fresh SQLite
//! database and `MYQCM_TRUSTED_PROXIES=127.0.0.1/32`, creates 50 accounts, then signs in for a
//! fixed time from 50 client addresses (`X-Forwarded-For`) while probing `/health/live`.
//! Reports sign-ins/s, sign-in latency, the p99 of `/health/live` during the run and the
//! server's peak RSS. Bounded in time, loopback only.
//!
//! `scripts/bench-signin.sh [seconds] [concurrency]` builds and runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a command-line benchmark"
)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;

const USERS: usize = 50;
const PASSWORD: &str = "benchmark passphrase 2026";

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(20)
        .min(300);
    let concurrency: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(8)
        .clamp(1, 256);
    let binary = std::env::var("MYQCM_BIN").unwrap_or_else(|_| "target/debug/myqcm".into());

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(&binary);
    for (k, _) in std::env::vars() {
        if k.starts_with("MYQCM_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["serve", "--no-worker"])
        .env("MYQCM_LISTEN", format!("127.0.0.1:{port}"))
        .env("MYQCM_PUBLIC_BASE_URL", &base)
        .env("MYQCM_DATA_DIR", dir.path())
        .env("MYQCM_TRUSTED_PROXIES", "127.0.0.1/32")
        .env("MYQCM_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let pid = child.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    let ready_by = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(Instant::now() < ready_by, "server not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ip = |i: usize, net: u8| format!("10.77.{net}.{}", i % USERS + 1);
    for i in 0..USERS {
        let r = client
            .post(format!("{base}/api/v1/auth/sign-up"))
            .header("x-forwarded-for", ip(i, 0))
            .json(&json!({"email": format!("bench{i}@example.dz"), "password": PASSWORD, "display_name": "Bench"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let rss_before = rss_kib(pid, "VmRSS:");

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let ok = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, base) = (client.clone(), base.clone());
        let (ok, limited, failed, latencies, next) = (
            ok.clone(),
            limited.clone(),
            failed.clone(),
            latencies.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(0);
                let t = Instant::now();
                let r = client
                    .post(format!("{base}/api/v1/auth/sign-in"))
                    .header("x-forwarded-for", format!("10.77.1.{}", i % USERS + 1))
                    .json(&json!({"email": format!("bench{}@example.dz", i % USERS), "password": PASSWORD}))
                    .send()
                    .await;
                let dt = t.elapsed().as_secs_f64();
                match r.map(|r| r.status().as_u16()) {
                    Ok(200) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        latencies.lock().await.push(dt);
                    }
                    Ok(429) => {
                        limited.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let probe = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            let mut v = Vec::new();
            let mut peak = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if client
                    .get(format!("{base}/health/live"))
                    .send()
                    .await
                    .is_ok()
                {
                    v.push(t.elapsed().as_secs_f64());
                }
                peak = peak.max(rss_kib(pid, "VmRSS:"));
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            (v, peak)
        })
    };
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (mut live, peak_sampled) = probe.await.unwrap();
    let hwm = rss_kib(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();

    let n = ok.load(Ordering::Relaxed);
    let mut lat = latencies.lock().await.clone();
    println!(
        "sign-in benchmark: {seconds} s, {concurrency} concurrent clients, {USERS} client addresses via X-Forwarded-For"
    );
    println!("server binary: {binary}");
    println!(
        "sign-ins ok: {n}  rate-limited: {}  other failures: {}",
        limited.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    println!("sign-ins/s: {:.1}", n as f64 / elapsed);
    println!(
        "sign-in latency p50 {:.1} ms, p99 {:.1} ms",
        percentile(&mut lat, 0.5) * 1e3,
        percentile(&mut lat, 0.99) * 1e3
    );
    println!(
        "/health/live during the run: {} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        live.len(),
        percentile(&mut live, 0.5) * 1e3,
        percentile(&mut live, 0.99) * 1e3,
        percentile(&mut live, 1.0) * 1e3
    );
    println!(
        "server RSS: before {:.1} MiB, peak sampled {:.1} MiB, peak (VmHWM) {:.1} MiB",
        rss_before as f64 / 1024.0,
        peak_sampled as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
