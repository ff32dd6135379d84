//! The admin jobs API over HTTP: progress of a running job, cancellation reaching the handler at
//! its next checkpoint, retry of a dead job, step-up, scopes, no payload in any answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;

use crate::support::*;
use async_trait::async_trait;
use myqcm_db::jobs::{self, FailOutcome, NewJob};
use myqcm_domain::Clock;
use myqcm_jobs::{Interrupted, JobContext, JobHandler, Registry, Tick, Worker, WorkerConfig};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A handler the test drives: each message makes it report progress (a checkpoint), and the
/// checkpoint's answer is sent back.
struct Driven {
    steps: tokio::sync::Mutex<mpsc::UnboundedReceiver<(f64, &'static str)>>,
    acks: mpsc::UnboundedSender<Result<(), Interrupted>>,
}

#[async_trait]
impl JobHandler for Driven {
    async fn run(&self, _payload: Value, ctx: JobContext) -> anyhow::Result<()> {
        let mut steps = self.steps.lock().await;
        while let Some((fraction, message)) = steps.recv().await {
            let r = ctx.progress(fraction, message).await;
            let _ = self.acks.send(r);
            r?;
        }
        Ok(())
    }
}

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("student@example.dz") && !text.contains("payload"),
        "a payload leaked: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn operators_see_progress_cancel_a_running_job_and_retry_a_dead_one() {
    let app = spawn().await;
    let (ops, secret) = app.staff("ops@example.dz", "admin", "operations").await;
    // The enrolment's proof goes stale: changes will need a step-up.
    app.clock.advance(chrono::Duration::minutes(11));
    let now = app.clock.now();
    let personal = json!({"to": "student@example.dz", "text": "Bonjour"});
    // Sign-up mail is queued too; priorities put these two first.
    let mut report = NewJob::new("report.build", personal.clone(), now);
    report.priority = 100;
    let long = jobs::enqueue(&app.db.conn, &report, now).await.unwrap();
    let mut dying = NewJob::new("export.send", personal, now);
    dying.priority = 50;
    dying.max_attempts = 1;
    let dead = jobs::enqueue(&app.db.conn, &dying, now).await.unwrap();

    let (steps, steps_rx) = mpsc::unbounded_channel();
    let (acks_tx, mut acks) = mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register(
        "report.build",
        Arc::new(Driven {
            steps: tokio::sync::Mutex::new(steps_rx),
            acks: acks_tx,
        }),
    );
    let worker = Worker::new(
        app.db.conn.clone(),
        Arc::new(app.clock.clone()),
        Arc::new(registry),
        WorkerConfig::default(),
    );
    let running = worker.start().await.unwrap().expect("the long job is due");
    assert_eq!(running.id, long);
    steps.send((0.5, "halfway through")).unwrap();
    acks.recv().await.unwrap().unwrap();
    // The export job dies (claimed by another worker, failed for the last time).
    jobs::claim(&app.db.conn, "w", now, chrono::Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jobs::fail(&app.db.conn, dead, "w", "smtp refused", now, now)
            .await
            .unwrap(),
        FailOutcome::Dead
    );

    // Progress is visible.
    let v = json_of(
        app.get_as(&ops, &format!("/api/v1/admin/jobs/{long}"))
            .await,
        200,
    )
    .await;
    assert_eq!(v["kind"], "report.build");
    assert_eq!(v["status"], "running");
    assert_eq!(v["progress"], 0.5);
    assert_eq!(v["message"], "halfway through");
    assert_eq!(v["attempts"], 1);
    assert_eq!(v["cancel_requested"], false);
    let list = json_of(
        app.get_as(&ops, "/api/v1/admin/jobs?status=running&kind=report.build")
            .await,
        200,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], long);
    let dead_ones = json_of(
        app.get_as(&ops, "/api/v1/admin/jobs?status=dead").await,
        200,
    )
    .await;
    assert_eq!(dead_ones.as_array().unwrap().len(), 1);
    assert_eq!(dead_ones[0]["id"], dead);
    let all = json_of(app.get_as(&ops, "/api/v1/admin/jobs").await, 200).await;
    let ids: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let page = json_of(
        app.get_as(&ops, "/api/v1/admin/jobs?limit=2&offset=1")
            .await,
        200,
    )
    .await;
    assert_eq!(page.as_array().unwrap()[..], all.as_array().unwrap()[1..3]);
    assert_problem(
        app.get_as(&ops, "/api/v1/admin/jobs?status=stuck").await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        app.get_as(&ops, "/api/v1/admin/jobs/999999").await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get_as(&ops, "/api/v1/admin/jobs/not-a-number").await,
        404,
        "not_found",
    )
    .await;

    // Cancelling needs a recent step-up.
    let cancel = format!("/api/v1/admin/jobs/{long}/cancel");
    assert_problem(
        app.send_as(&ops, Method::POST, &cancel, None).await,
        401,
        "step_up_required",
    )
    .await;
    app.step_up(&ops, &secret).await;
    let v = json_of(app.send_as(&ops, Method::POST, &cancel, None).await, 200).await;
    assert_eq!(v["status"], "running", "it stops at its next checkpoint");
    assert_eq!(v["cancel_requested"], true);
    app.clock.advance(chrono::Duration::seconds(1));
    steps.send((0.6, "still going")).unwrap();
    assert_eq!(acks.recv().await.unwrap(), Err(Interrupted::Cancelled));
    assert_eq!(running.wait().await.unwrap(), Tick::Cancelled(long));
    let v = json_of(
        app.get_as(&ops, &format!("/api/v1/admin/jobs/{long}"))
            .await,
        200,
    )
    .await;
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["message"], "still going");
    assert!(v["finished_at"].is_string());
    assert_problem(
        app.send_as(&ops, Method::POST, &cancel, None).await,
        409,
        "conflict",
    )
    .await;

    // Retry puts the dead job back in the queue.
    let v = json_of(
        app.get_as(&ops, &format!("/api/v1/admin/jobs/{dead}"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (v["status"].as_str(), v["last_error"].as_str()),
        (Some("dead"), Some("smtp refused"))
    );
    let retry = format!("/api/v1/admin/jobs/{dead}/retry");
    let v = json_of(app.send_as(&ops, Method::POST, &retry, None).await, 200).await;
    assert_eq!(v["status"], "queued");
    assert_eq!(v["attempts"], 0);
    assert_problem(
        app.send_as(&ops, Method::POST, &retry, None).await,
        409,
        "conflict",
    )
    .await;

    let audit = app.audit_actions().await;
    let count = |a: &str| audit.iter().filter(|x| x.as_str() == a).count();
    assert_eq!(
        count("admin.job_cancel"),
        2,
        "the refused attempt and the cancel"
    );
    assert_eq!(count("admin.job_retry"), 1);
}

#[tokio::test]
async fn jobs_are_for_the_operations_and_super_scopes_only() {
    let app = spawn().await;
    let now = app.clock.now();
    let id = jobs::enqueue(
        &app.db.conn,
        &NewJob::new("report.build", json!({}), now),
        now,
    )
    .await
    .unwrap();
    let (support, secret) = app.staff("support@example.dz", "admin", "support").await;
    assert_problem(
        app.get_as(&support, "/api/v1/admin/jobs").await,
        403,
        "forbidden",
    )
    .await;
    app.step_up(&support, &secret).await;
    assert_problem(
        app.send_as(
            &support,
            Method::POST,
            &format!("/api/v1/admin/jobs/{id}/cancel"),
            None,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    app.sign_up_verified("student@example.dz", PW).await;
    let student = app.sign_in("student@example.dz", PW).await;
    assert_problem(
        app.get_as(&student, &format!("/api/v1/admin/jobs/{id}"))
            .await,
        403,
        "forbidden",
    )
    .await;
    // An admin with the right scope but no TOTP yet is sent to enrol first.
    app.sign_up_verified("newops@example.dz", PW).await;
    app.set_roles("newops@example.dz", "admin", "operations")
        .await;
    let newops = app.sign_in("newops@example.dz", PW).await;
    assert_problem(
        app.get_as(&newops, "/api/v1/admin/jobs").await,
        403,
        "mfa_enrolment_required",
    )
    .await;
    let (boss, _) = app.staff("boss@example.dz", "admin", "super").await;
    let v: Value = app
        .get_as(&boss, &format!("/api/v1/admin/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "queued");
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "admin.job_cancel"),
        "the refused cancel is audited"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_jobs_api_without_payloads() {
    let app = spawn().await;
    let doc = app.openapi().await;
    let paths = &doc["paths"];
    assert!(paths["/api/v1/admin/jobs"]["get"].is_object());
    assert!(paths["/api/v1/admin/jobs/{id}"]["get"].is_object());
    assert!(paths["/api/v1/admin/jobs/{id}/retry"]["post"].is_object());
    assert!(paths["/api/v1/admin/jobs/{id}/cancel"]["post"].is_object());
    let view = &doc["components"]["schemas"]["JobView"]["properties"];
    for field in [
        "kind",
        "status",
        "attempts",
        "progress",
        "message",
        "last_error",
    ] {
        assert!(view[field].is_object(), "JobView.{field}");
    }
    assert!(view["payload"].is_null(), "payloads are never exposed");
}

/// `every_seconds` of the calibration schedule, when declared.
async fn calibration_schedule(app: &TestApp) -> Option<i64> {
    use sea_orm::ConnectionTrait;
    let backend = app.db.conn.get_database_backend();
    let row = app
        .db
        .conn
        .query_one_raw(myqcm_db::sql::stmt(
            backend,
            "SELECT every_seconds FROM job_schedule WHERE name = $1",
            vec!["calibration.run".into()],
        ))
        .await
        .unwrap()?;
    Some(row.try_get::<i64>("", "every_seconds").unwrap())
}

#[tokio::test]
async fn calibration_is_a_job_kind_that_reports_progress_and_is_scheduled_only_when_configured() {
    let app = spawn_app().await;
    assert!(
        myqcm_app::registry(&app.services)
            .kinds()
            .contains(&"calibration.run")
    );
    let job = myqcm_app::training_jobs::CalibrationJob {
        calibration: myqcm_services::calibration::Calibration::new(
            app.services.db.clone(),
            app.services.clock.clone(),
        ),
    };
    // No answer yet: a quiet run that says so, not a failure to retry.
    let ctx = JobContext::detached(1, 1, app.services.clock.clone());
    job.run(json!({"min_responses": 5}), ctx.clone())
        .await
        .unwrap();
    let p = ctx.last_progress().unwrap();
    assert!((p.fraction - 1.0).abs() < 1e-12);
    assert!(
        p.message
            .as_deref()
            .unwrap()
            .contains("nothing to calibrate"),
        "{p:?}"
    );

    // Off by default; nightly when configured; off again removes the schedule.
    myqcm_app::schedule_calibration(&app.services, 0)
        .await
        .unwrap();
    assert_eq!(calibration_schedule(&app).await, None);
    myqcm_app::schedule_calibration(&app.services, 24)
        .await
        .unwrap();
    assert_eq!(calibration_schedule(&app).await, Some(86_400));
    myqcm_app::schedule_calibration(&app.services, 0)
        .await
        .unwrap();
    assert_eq!(calibration_schedule(&app).await, None);
}

/// Reads server-sent events from `res` until one satisfies `want` (its JSON data is returned);
/// `None` when the stream ends first.
pub(crate) async fn next_event(
    res: &mut reqwest::Response,
    buf: &mut String,
    want: impl Fn(&Value) -> bool,
) -> Option<Value> {
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect();
            if block.lines().any(|l| l.trim() == "event: job") && !data.is_empty() {
                let v: Value = serde_json::from_str(&data).unwrap();
                if want(&v) {
                    return Some(v);
                }
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), res.chunk())
            .await
            .expect("an event or the end within 10 s")
            .unwrap();
        match chunk {
            Some(bytes) => buf.push_str(std::str::from_utf8(&bytes).unwrap()),
            None => return None,
        }
    }
}

#[tokio::test]
async fn a_jobs_progress_run_by_another_instance_reaches_the_event_stream_until_it_ends() {
    // The server is instance A; the worker below is instance B, with its own cache connection
    // (with Redis: another connection on the same deployment prefix).
    let (cache_a, cache_b) = myqcm_testkit::test_cache_pair().await.unwrap();
    let app = spawn_sharing(None, cache_a, myqcm_testkit::fixed_clock(), |_, _| {}).await;
    let (ops, _) = app.staff("ops@example.dz", "admin", "operations").await;
    let now = app.clock.now();
    let mut report = NewJob::new("report.build", json!({}), now);
    report.priority = 100;
    let id = jobs::enqueue(&app.db.conn, &report, now).await.unwrap();

    // Only operators may watch.
    let learner = app.learner("learner@example.dz").await;
    assert_eq!(
        app.get_as(&learner, &format!("/api/v1/admin/jobs/{id}/events"))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get_as(&ops, "/api/v1/admin/jobs/999999/events")
            .await
            .status(),
        404
    );

    let mut stream = app
        .get_as(&ops, &format!("/api/v1/admin/jobs/{id}/events"))
        .await;
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut buf = String::new();
    let first = next_event(&mut stream, &mut buf, |_| true).await.unwrap();
    assert_eq!(first["status"], "queued");
    assert_eq!(first["finished"], false);

    // Instance B's worker announces through its own cache connection.
    let (steps, steps_rx) = mpsc::unbounded_channel();
    let (acks_tx, mut acks) = mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register(
        "report.build",
        Arc::new(Driven {
            steps: tokio::sync::Mutex::new(steps_rx),
            acks: acks_tx,
        }),
    );
    let worker = Worker::new(
        app.db.conn.clone(),
        Arc::new(app.clock.clone()),
        Arc::new(registry),
        WorkerConfig {
            events: Some(cache_b),
            ..WorkerConfig::default()
        },
    );
    let running = worker.start().await.unwrap().expect("the job is due");
    assert_eq!(running.id, id);
    steps.send((0.25, "quarter")).unwrap();
    acks.recv().await.unwrap().unwrap();
    let quarter = next_event(&mut stream, &mut buf, |v| v["progress"] == 0.25)
        .await
        .expect("the progress arrives live");
    assert_eq!(quarter["status"], "running");
    assert_eq!(quarter["message"], "quarter");
    drop(steps);
    assert_eq!(running.wait().await.unwrap(), Tick::Done(id));
    let end = next_event(&mut stream, &mut buf, |v| v["finished"] == true)
        .await
        .expect("the end is announced");
    assert_eq!(end["status"], "done");
    assert!(
        next_event(&mut stream, &mut buf, |_| true).await.is_none(),
        "the stream ends with the job"
    );

    // The jobs page points the script at the stream of live jobs only.
    let mut waiting = NewJob::new("report.build", json!({}), now);
    waiting.priority = 100;
    let queued = jobs::enqueue(&app.db.conn, &waiting, now).await.unwrap();
    let page = app.get_as(&ops, "/admin/jobs").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains(&format!(
            r#"data-job-events="/api/v1/admin/jobs/{queued}/events""#
        )),
        "a queued job is followed live"
    );
    assert!(
        !page.contains(&format!(
            r#"data-job-events="/api/v1/admin/jobs/{id}/events""#
        )),
        "a finished one is not"
    );

    // A finished job gives one event and the end.
    let mut again = app
        .get_as(&ops, &format!("/api/v1/admin/jobs/{id}/events"))
        .await;
    let mut buf = String::new();
    let only = next_event(&mut again, &mut buf, |_| true).await.unwrap();
    assert_eq!(
        (only["status"].as_str(), only["finished"].as_bool()),
        (Some("done"), Some(true))
    );
    assert!(next_event(&mut again, &mut buf, |_| true).await.is_none());
}
