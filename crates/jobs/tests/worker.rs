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

// ---------------------------------------------------------------------------------------------
// Long jobs: heartbeats, progress, cancellation, per-kind limits, purge, gauges.

use myqcm_jobs::{Interrupted, PurgeJob};
use tokio::sync::mpsc;

/// What the test tells a [`Scripted`] handler to do next.
#[derive(Debug)]
enum Step {
    Progress(f64, &'static str),
    Checkpoint,
    Finish,
}

/// A handler the test drives step by step: each step is acknowledged with the result of the
/// checkpoint it made, so the test knows exactly where the handler is without sleeping.
struct Scripted {
    steps: tokio::sync::Mutex<mpsc::UnboundedReceiver<Step>>,
    acks: mpsc::UnboundedSender<Result<(), Interrupted>>,
    runs: std::sync::atomic::AtomicU32,
}

struct Script {
    steps: mpsc::UnboundedSender<Step>,
    acks: mpsc::UnboundedReceiver<Result<(), Interrupted>>,
}

impl Script {
    async fn step(&mut self, s: Step) -> Result<(), Interrupted> {
        self.steps.send(s).unwrap();
        self.acks.recv().await.unwrap()
    }
}

fn scripted() -> (Arc<Scripted>, Script) {
    let (steps_tx, steps_rx) = mpsc::unbounded_channel();
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    (
        Arc::new(Scripted {
            steps: tokio::sync::Mutex::new(steps_rx),
            acks: acks_tx,
            runs: std::sync::atomic::AtomicU32::new(0),
        }),
        Script {
            steps: steps_tx,
            acks: acks_rx,
        },
    )
}

#[async_trait]
impl JobHandler for Scripted {
    async fn run(&self, _payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut steps = self.steps.lock().await;
        while let Some(step) = steps.recv().await {
            let r = match step {
                Step::Progress(f, m) => ctx.progress(f, m).await,
                Step::Checkpoint => ctx.checkpoint().await,
                Step::Finish => return Ok(()),
            };
            let _ = self.acks.send(r);
            r?;
        }
        Ok(())
    }
}

async fn enqueue(db: &myqcm_testkit::TestDb, kind: &str, at: chrono::DateTime<chrono::Utc>) -> i64 {
    jobs::enqueue(&**db, &NewJob::new(kind, json!({}), at), at)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_running_past_its_lease_with_heartbeats_is_neither_reaped_nor_run_twice() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = enqueue(&db, "long", clock.now_utc()).await;
    let (handler, mut script) = scripted();
    let mut registry = Registry::new();
    registry.register("long", handler.clone());
    let registry = Arc::new(registry);
    let lease = Duration::minutes(5);
    let config = WorkerConfig {
        lease,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        registry.clone(),
        config.clone(),
    );
    // A second worker plays the reaper (its maintenance reaps expired leases of everyone).
    let other = Worker::new(
        db.reconnect().await.unwrap(),
        clock.clone(),
        registry,
        config,
    );
    let handle = worker.start().await.unwrap().expect("the job is due");
    assert_eq!(handle.id, id);
    let started = clock.now_utc();
    for (i, message) in [(1, "a third"), (2, "two thirds"), (3, "all rows")] {
        // Four minutes of work between checkpoints; twelve in all, well past one lease.
        clock.advance(Duration::minutes(4));
        script
            .step(Step::Progress(f64::from(i) / 3.0, message))
            .await
            .unwrap();
        let row = jobs::get(&*db, id).await.unwrap();
        assert_eq!(
            row.locked_until,
            Some(clock.now_utc() + lease),
            "lease extended"
        );
        assert_eq!(row.progress_message.as_deref(), Some(message));
        assert_eq!(
            other.tick().await.unwrap(),
            Tick::Idle,
            "not reaped, not claimed"
        );
    }
    assert!(clock.now_utc() - started > lease);
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!(row.status, JobStatus::Running);
    assert!((row.progress.unwrap() - 1.0).abs() < 1e-9);
    script.steps.send(Step::Finish).unwrap();
    assert_eq!(handle.wait().await.unwrap(), Tick::Done(id));
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!((row.status, row.attempts), (JobStatus::Done, 1));
    assert_eq!(row.finished_at, Some(clock.now_utc()));
    assert_eq!(handler.runs.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_heartbeats_keep_the_lease_of_a_handler_that_never_checkpoints() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = enqueue(&db, "block", clock.now_utc()).await;
    let blocker = Arc::new(Blocks(tokio::sync::Notify::new()));
    let mut registry = Registry::new();
    registry.register("block", blocker.clone());
    let registry = Arc::new(registry);
    let lease = Duration::minutes(5);
    let config = WorkerConfig {
        lease,
        heartbeat_every: StdDuration::from_millis(1),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        registry.clone(),
        config.clone(),
    );
    let other = Worker::new(
        db.reconnect().await.unwrap(),
        clock.clone(),
        registry,
        config,
    );
    let handle = worker.start().await.unwrap().unwrap();
    for _ in 0..3 {
        clock.advance(Duration::minutes(4));
        let target = clock.now_utc() + lease;
        // Wait for the next background heartbeat to carry the lease past the moved clock.
        while jobs::get(&*db, id).await.unwrap().locked_until < Some(target) {
            tokio::task::yield_now().await;
        }
        assert_eq!(other.tick().await.unwrap(), Tick::Idle, "not reaped");
    }
    blocker.0.notify_one();
    assert_eq!(handle.wait().await.unwrap(), Tick::Done(id));
    assert_eq!(jobs::get(&*db, id).await.unwrap().attempts, 1);
}

#[tokio::test]
async fn without_heartbeats_the_same_wait_would_have_been_reaped() {
    // The control for the two tests above: a claim nobody extends is taken back after the
    // lease, so "not reaped" there is the heartbeat's doing.
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = enqueue(&db, "count", clock.now_utc()).await;
    let lease = Duration::minutes(5);
    jobs::claim(&*db, "silent-worker", clock.now_utc(), lease)
        .await
        .unwrap()
        .unwrap();
    clock.advance(Duration::minutes(8));
    let mut registry = Registry::new();
    registry.register("count", Arc::new(Counting::default()));
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        WorkerConfig::default(),
    );
    assert_eq!(worker.tick().await.unwrap(), Tick::Done(id));
    assert_eq!(jobs::get(&*db, id).await.unwrap().attempts, 2);
}

#[tokio::test]
async fn a_cancelled_running_job_stops_at_its_next_checkpoint_and_ends_cancelled() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = enqueue(&db, "long", clock.now_utc()).await;
    let (handler, mut script) = scripted();
    let mut registry = Registry::new();
    registry.register("long", handler.clone());
    let config = WorkerConfig {
        checkpoint_every: Duration::seconds(1),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(db.conn.clone(), clock.clone(), Arc::new(registry), config);
    let handle = worker.start().await.unwrap().unwrap();
    script.step(Step::Progress(0.1, "started")).await.unwrap();
    assert_eq!(
        jobs::request_cancel(&*db, id, clock.now_utc())
            .await
            .unwrap(),
        jobs::CancelOutcome::Requested
    );
    // Within `checkpoint_every` of the last write, a checkpoint answers from what it knows.
    script.step(Step::Checkpoint).await.unwrap();
    clock.advance(Duration::seconds(1));
    assert_eq!(
        script.step(Step::Progress(0.2, "more")).await,
        Err(Interrupted::Cancelled)
    );
    assert_eq!(handle.wait().await.unwrap(), Tick::Cancelled(id));
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!(row.status, JobStatus::Cancelled);
    assert_eq!(row.finished_at, Some(clock.now_utc()));
    assert_eq!(row.locked_by, None);
    assert_eq!(row.progress_message.as_deref(), Some("more"));
    clock.advance(Duration::days(1));
    assert_eq!(worker.tick().await.unwrap(), Tick::Idle, "never retried");
    assert_eq!(handler.runs.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_queued_job_that_is_cancelled_never_runs() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let id = enqueue(&db, "count", clock.now_utc()).await;
    let kept = enqueue(&db, "count", clock.now_utc()).await;
    assert_eq!(
        jobs::request_cancel(&*db, id, clock.now_utc())
            .await
            .unwrap(),
        jobs::CancelOutcome::Cancelled
    );
    let handler = Arc::new(Counting::default());
    let mut registry = Registry::new();
    registry.register("count", handler.clone());
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        WorkerConfig::default(),
    );
    assert_eq!(worker.drain().await.unwrap(), vec![Tick::Done(kept)]);
    assert_eq!(handler.runs.lock().unwrap().get(&id), None);
    let row = jobs::get(&*db, id).await.unwrap();
    assert_eq!((row.status, row.attempts), (JobStatus::Cancelled, 0));
    assert_eq!(
        jobs::request_cancel(&*db, id, clock.now_utc())
            .await
            .unwrap(),
        jobs::CancelOutcome::Finished(JobStatus::Cancelled)
    );
}

#[tokio::test]
async fn a_long_job_does_not_delay_mail_enqueued_after_it() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let now = clock.now_utc();
    let first = enqueue(&db, "calibrate", now).await;
    let second = enqueue(&db, "calibrate", now).await;
    let mail = enqueue(&db, "mail.send", now).await;
    let (long, mut script) = scripted();
    let mailer = Arc::new(Counting::default());
    let mut registry = Registry::new();
    registry
        .register("calibrate", long.clone())
        .register("mail.send", mailer.clone())
        .limit("calibrate", 1);
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        WorkerConfig::default(),
    );
    let running = worker.start().await.unwrap().unwrap();
    assert_eq!(running.id, first, "oldest first");
    script.step(Step::Progress(0.01, "fitting")).await.unwrap();
    assert_eq!(worker.running(), 1);
    // The second calibration is older than the mail, but its kind is at its limit.
    assert_eq!(worker.tick().await.unwrap(), Tick::Done(mail));
    assert_eq!(mailer.runs.lock().unwrap().get(&mail), Some(&1));
    assert_eq!(
        worker.tick().await.unwrap(),
        Tick::Idle,
        "calibrate is at its limit"
    );
    assert_eq!(
        jobs::get(&*db, second).await.unwrap().status,
        JobStatus::Queued
    );
    script.steps.send(Step::Finish).unwrap();
    assert_eq!(running.wait().await.unwrap(), Tick::Done(first));
    assert_eq!(worker.running(), 0);
    let next = worker.start().await.unwrap().unwrap();
    assert_eq!(next.id, second, "the slot is free again");
    script.steps.send(Step::Finish).unwrap();
    assert_eq!(next.wait().await.unwrap(), Tick::Done(second));
}

#[tokio::test]
async fn the_worker_runs_no_more_jobs_at_once_than_its_concurrency() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let now = clock.now_utc();
    let a = enqueue(&db, "long", now).await;
    let mail = enqueue(&db, "mail.send", now).await;
    let (long, script) = scripted();
    let mut registry = Registry::new();
    registry
        .register("long", long)
        .register("mail.send", Arc::new(Counting::default()));
    let config = WorkerConfig {
        concurrency: 1,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(db.conn.clone(), clock.clone(), Arc::new(registry), config);
    let running = worker.start().await.unwrap().unwrap();
    assert_eq!(running.id, a);
    assert_eq!(
        worker.tick().await.unwrap(),
        Tick::Idle,
        "the one slot is taken"
    );
    script.steps.send(Step::Finish).unwrap();
    assert_eq!(running.wait().await.unwrap(), Tick::Done(a));
    assert_eq!(worker.tick().await.unwrap(), Tick::Done(mail));
}

#[tokio::test]
async fn the_purge_deletes_old_finished_jobs_and_keeps_recent_queued_and_running_ones() {
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    let t0 = clock.now_utc();
    let lease = Duration::days(60);
    // Finished 20 days before the purge: done, dead and cancelled.
    let old_done = enqueue(&db, "x", t0).await;
    jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    assert!(jobs::complete(&*db, old_done, "w", t0).await.unwrap());
    let mut dying = NewJob::new("x", json!({}), t0);
    dying.max_attempts = 1;
    let old_dead = jobs::enqueue(&*db, &dying, t0).await.unwrap();
    jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    jobs::fail(&*db, old_dead, "w", "boom", t0, t0)
        .await
        .unwrap();
    let old_cancelled = enqueue(&db, "x", t0).await;
    jobs::request_cancel(&*db, old_cancelled, t0).await.unwrap();
    // Old but not finished: waiting for a far run time, and running under a long lease.
    let waiting = enqueue(&db, "x", t0 + Duration::days(90)).await;
    let running = enqueue(&db, "x", t0).await;
    jobs::claim(&*db, "w", t0, lease).await.unwrap().unwrap();
    // Finished one day before the purge.
    clock.advance(Duration::days(19));
    let recent = enqueue(&db, "x", clock.now_utc()).await;
    jobs::claim(&*db, "w", clock.now_utc(), lease)
        .await
        .unwrap()
        .unwrap();
    assert!(
        jobs::complete(&*db, recent, "w", clock.now_utc())
            .await
            .unwrap()
    );
    clock.advance(Duration::days(1));

    PurgeJob::schedule(&db, 14, clock.now_utc()).await.unwrap();
    let mut registry = Registry::new();
    registry.register(PurgeJob::KIND, PurgeJob::handler(db.conn.clone()));
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(registry),
        WorkerConfig::default(),
    );
    let ticks = worker.drain().await.unwrap();
    assert_eq!(ticks.len(), 1);
    let exists = |id| {
        let db = &db;
        async move { jobs::get(&**db, id).await.is_ok() }
    };
    for gone in [old_done, old_dead, old_cancelled] {
        assert!(!exists(gone).await, "job {gone} should be purged");
    }
    for kept in [waiting, running, recent] {
        assert!(exists(kept).await, "job {kept} should be kept");
    }
    assert_eq!(
        jobs::get(&*db, running).await.unwrap().status,
        JobStatus::Running
    );
}

#[tokio::test]
async fn the_jobs_gauge_is_refreshed_by_the_worker_not_by_the_scrape() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    // Local to this test's thread (the current-thread runtime runs the worker here).
    let _guard = metrics::set_default_local_recorder(&recorder);
    let gauge = |status: &str| -> Option<f64> {
        let text = prometheus.render();
        let prefix = format!("myqcm_jobs{{status=\"{status}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().parse().unwrap())
    };
    let db = test_db().await.unwrap();
    let clock = Arc::new(fixed_clock());
    enqueue(&db, "x", clock.now_utc()).await;
    enqueue(&db, "x", clock.now_utc()).await;
    let worker = Worker::new(
        db.conn.clone(),
        clock.clone(),
        Arc::new(Registry::new()),
        WorkerConfig::default(),
    );
    worker.maintain().await.unwrap();
    assert_eq!(gauge("queued"), Some(2.0));
    assert_eq!(gauge("dead"), Some(0.0), "every status is exported");
    enqueue(&db, "x", clock.now_utc()).await;
    worker.maintain().await.unwrap();
    assert_eq!(
        gauge("queued"),
        Some(2.0),
        "not refreshed before gauges_every"
    );
    clock.advance(WorkerConfig::default().gauges_every);
    worker.maintain().await.unwrap();
    assert_eq!(gauge("queued"), Some(3.0));
}
