//! Worker behaviour on the real job table (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`). Nothing sleeps: tests step workers and move a fixed clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::Duration;
use myqcm_db::jobs::{self, JobStatus, NewJob};
use myqcm_jobs::{JobContext, JobHandler, Registry, Tick, Worker, WorkerConfig};
use myqcm_testkit::{fixed_clock, test_db};
use serde_json::json;

#[derive(Default)]
struct Counting {
    runs: Mutex<HashMap<i64, u32>>,
}

#[async_trait]
impl JobHandler for Counting {
    async fn run(&self, _payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        *self.runs.lock().unwrap().entry(ctx.job_id).or_default() += 1;
        tokio::task::yield_now().await;
        Ok(())
    }
}

struct AlwaysFails;

#[async_trait]
impl JobHandler for AlwaysFails {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        anyhow::bail!("cannot reach {} (attempt {})", payload["host"], ctx.attempt)
    }
}

struct Blocks(tokio::sync::Notify);

#[async_trait]
impl JobHandler for Blocks {
    async fn run(&self, _payload: serde_json::Value, _ctx: JobContext) -> anyhow::Result<()> {
        self.0.notified().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_drain_1000_jobs_each_exactly_once() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let now = clock.now_utc();
    for i in 0..1000 {
        jobs::enqueue(&*db, &NewJob::new("count", json!({ "i": i }), now), now)
            .await
            .unwrap();
    }
    let handler = Arc::new(Counting::default());
    let mut registry = Registry::new();
    registry.register("count", handler.clone());
    let registry = Arc::new(registry);
    let w1 = Worker::new(
        db.conn.clone(),
        clock.clone(),
        registry.clone(),
        WorkerConfig::default(),
    );
    let w2 = Worker::new(
        db.reconnect().await.unwrap(),
        clock.clone(),
        registry,
        WorkerConfig::default(),
    );
    let (a, b) = tokio::join!(
        tokio::spawn(async move { w1.drain().await.unwrap() }),
        tokio::spawn(async move { w2.drain().await.unwrap() }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1000);
    assert!(a.iter().chain(&b).all(|t| matches!(t, Tick::Done(_))));
    {
        let runs = handler.runs.lock().unwrap();
        assert_eq!(runs.len(), 1000);
        assert!(runs.values().all(|&n| n == 1), "a job ran twice");
    }
    assert_eq!(
        jobs::counts(&*db).await.unwrap(),
        vec![(JobStatus::Done, 1000)]
    );
    eprintln!(
        "backend {}: worker A ran {}, worker B ran {}",
        myqcm_testkit::backend_name(),
        a.len(),
        b.len()
    );
}

#[tokio::test]
async fn a_job_that_always_fails_ends_dead_with_its_error_after_max_attempts() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let mut job = NewJob::new("ping", json!({"host": "smtp.example"}), clock.now_utc());
    job.max_attempts = 4;
    let id = jobs::enqueue(&*db, &job, clock.now_utc()).await.unwrap();
    let mut registry = Registry::new();
    registry.register("ping", Arc::new(AlwaysFails));
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        WorkerConfig::default(),
    );

    let mut last_delay = Duration::zero();
    for attempt in 1..=3 {
        let Tick::Retry(got, at) = worker.tick().await.unwrap() else {
            panic!("expected a retry")
        };
        assert_eq!(got, id);
        let delay = at - clock.now_utc();
        assert!(
            delay > last_delay / 2,
            "attempt {attempt}: backoff must grow"
        );
        last_delay = delay;
        assert_eq!(
            worker.tick().await.unwrap(),
            Tick::Idle,
            "not due before its backoff"
        );
        clock.advance(delay);
    }
    assert_eq!(worker.tick().await.unwrap(), Tick::Dead(id));
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!(row.status, JobStatus::Dead);
    assert_eq!(row.attempts, 4);
    assert_eq!(
        row.last_error.as_deref(),
        Some("cannot reach \"smtp.example\" (attempt 4)")
    );
    clock.advance(Duration::days(1));
    assert_eq!(
        worker.tick().await.unwrap(),
        Tick::Idle,
        "dead jobs stay dead"
    );
}

#[tokio::test]
async fn a_job_whose_worker_died_runs_again_once_its_lease_expires() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = jobs::enqueue(
        &*db,
        &NewJob::new("count", json!({}), clock.now_utc()),
        clock.now_utc(),
    )
    .await
    .unwrap();
    // The first worker claims the job and "dies": it never reports back.
    let lease = Duration::minutes(5);
    jobs::claim(&*db, "worker-that-died", clock.now_utc(), lease)
        .await
        .unwrap()
        .unwrap();

    let handler = Arc::new(Counting::default());
    let mut registry = Registry::new();
    registry.register("count", handler.clone());
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        WorkerConfig::default(),
    );
    assert_eq!(worker.tick().await.unwrap(), Tick::Idle, "lease still held");
    clock.advance(lease - Duration::seconds(1));
    assert_eq!(worker.tick().await.unwrap(), Tick::Idle, "lease still held");
    clock.advance(Duration::seconds(2));
    assert_eq!(worker.tick().await.unwrap(), Tick::Done(id));
    assert_eq!(handler.runs.lock().unwrap().get(&id), Some(&1));
    assert_eq!(jobs::get(&*db, id).await.unwrap().attempts, 2);
}

#[tokio::test]
async fn unknown_kinds_fail_instead_of_vanishing() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = jobs::enqueue(
        &*db,
        &NewJob::new("nobody", json!({}), clock.now_utc()),
        clock.now_utc(),
    )
    .await
    .unwrap();
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(Registry::new()),
        WorkerConfig::default(),
    );
    assert!(matches!(worker.tick().await.unwrap(), Tick::Retry(got, _) if got == id));
    let row = jobs::get(&*db, id).await.unwrap();
    assert!(row.last_error.unwrap().contains("no handler registered"));
}

#[tokio::test]
async fn recurring_schedules_produce_jobs_the_worker_runs() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    jobs::upsert_schedule(
        &*db,
        "tick",
        "count",
        &json!({}),
        Duration::hours(1),
        clock.now_utc(),
    )
    .await
    .unwrap();
    let handler = Arc::new(Counting::default());
    let mut registry = Registry::new();
    registry.register("count", handler.clone());
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        WorkerConfig::default(),
    );
    assert_eq!(worker.drain().await.unwrap().len(), 1);
    assert_eq!(worker.drain().await.unwrap().len(), 0);
    clock.advance(Duration::hours(1));
    assert_eq!(worker.drain().await.unwrap().len(), 1);
    assert_eq!(handler.runs.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn graceful_stop_releases_an_unfinished_job_without_counting_the_attempt() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = jobs::enqueue(
        &*db,
        &NewJob::new("block", json!({}), clock.now_utc()),
        clock.now_utc(),
    )
    .await
    .unwrap();
    let mut registry = Registry::new();
    registry.register("block", Arc::new(Blocks(tokio::sync::Notify::new())));
    let config = WorkerConfig {
        shutdown_grace: StdDuration::from_millis(10),
        ..WorkerConfig::default()
    };
    let worker = Arc::new(Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        config,
    ));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let w = worker.clone();
    let handle = tokio::spawn(async move { w.run(rx).await });
    // Wait until the worker holds the job, then ask it to stop.
    loop {
        if jobs::get(&*db, id).await.unwrap().status == JobStatus::Running {
            break;
        }
        tokio::task::yield_now().await;
    }
    stop.send(true).unwrap();
    handle.await.unwrap();
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!(row.status, JobStatus::Queued);
    assert_eq!(row.attempts, 0);
    assert_eq!(row.locked_by, None);
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc>;
}

impl NowUtc for myqcm_domain::FixedClock {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        myqcm_domain::Clock::now(self)
    }
}
