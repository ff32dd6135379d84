//! QROC grading assistance over real HTTP (issue 15) with the fake model: a QROC answer the
//! tolerant match is unsure about is stored ungraded (`awaiting_grader`, never 0) and the
//! `ai.grade_qroc` job grades it afterwards at temperature 0; when the model fails the answer
//! stays ungraded (`grader_unavailable`); a reviewer overrides a grade, audited; without a model
//! the same answer is simply wrong and the override route does not exist.

use myqcm_domain::catalogue::ItemContent;
use myqcm_domain::catalogue::qroc::is_unsure;
use myqcm_testkit::fake_llm::FakeLlm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ai::app_with_llm;
use crate::author_pages::Pages;
use crate::support::{ApiUser, TestApp, spawn_app};

async fn learner(app: &TestApp) -> ApiUser {
    let u = app.api_user(&["student"], &[], false).await;
    let (s, b) = app
        .send_bearer(
            Method::PUT,
            &u.token,
            "/api/v1/learner/profile",
            Some(json!({"year_of_study": 3})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    u
}

async fn content(app: &TestApp, item: &Value) -> ItemContent {
    let rev: Uuid = item["revision_id"].as_str().unwrap().parse().unwrap();
    let row = myqcm_db::catalogue::revision(&app.db.conn, rev)
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(&row.content).unwrap()
}

/// A near miss of the key the tolerant match is unsure about (a letter dropped, or the key
/// with a word more), if the item has one.
fn near_miss(c: &ItemContent) -> Option<String> {
    let spec = c.qroc.as_ref()?;
    let chars: Vec<char> = spec.expected.chars().collect();
    let mid = chars.len() / 2;
    let dropped: String = chars
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != mid)
        .map(|(_, c)| c)
        .collect();
    [dropped, format!("{} probable", spec.expected)]
        .into_iter()
        .find(|a| is_unsure(spec, a, c.locale))
}

/// Answers QROCs of tutor sessions until `n` near misses were sent (returns their served ids); `waits`: each is stored ungraded for the model (the plan
/// includes grading assistance), else graded wrong at once.
async fn near_misses(app: &TestApp, u: &ApiUser, n: usize, waits: bool) -> Vec<String> {
    let mut sent = Vec::new();
    // Which QROCs a session serves, and so how many have a near miss, depends on the selection;
    // the demo subjects are tried in turn until `n` were sent.
    for code in ["cardio", "nephro", "pneumo"] {
        if sent.len() == n {
            break;
        }
        let subject = myqcm_db::catalogue::subject_by_code(&app.db.conn, code)
            .await
            .unwrap()
            .unwrap()
            .id;
        let (s, b) = app
            .send_bearer(
                Method::POST,
                &u.token,
                "/api/v1/training-sessions",
                Some(json!({"mode": "custom", "style": "tutor", "subject": subject, "kinds": ["qroc"], "item_count": 10})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let id = b["id"].as_str().unwrap().to_owned();
        let mut cur = b["current"].clone();
        while sent.len() < n && cur["served_id"].is_string() {
            let c = content(app, &cur).await;
            let Some(text) = near_miss(&c) else {
                // Skipped, not answered: a graded answer would use the free plan's daily QROC
                // allowance, which the sessions of several subjects can exhaust.
                let (s, next) = app
                    .send_bearer(
                        Method::POST,
                        &u.token,
                        &format!("/api/v1/training-sessions/{id}/skip"),
                        Some(json!({"served_id": cur["served_id"]})),
                    )
                    .await;
                assert_eq!(s, 200, "{next}");
                cur = next;
                continue;
            };
            let (s, out) = app
                .send_bearer(
                    Method::POST,
                    &u.token,
                    &format!("/api/v1/training-sessions/{id}/answers"),
                    Some(json!({"served_id": cur["served_id"], "text": text})),
                )
                .await;
            assert_eq!(s, 200, "{out}");
            if waits {
                assert_eq!(out["grade"]["graded"], false, "{out}");
                assert!(
                    out["grade"]["correct"].is_null(),
                    "never 0 meanwhile: {out}"
                );
                assert_eq!(out["grade"]["ungraded_reason"], "awaiting_grader");
            } else {
                assert_eq!(out["grade"]["graded"], true, "{out}");
                assert_eq!(out["grade"]["correct"], false, "{out}");
            }
            sent.push(cur["served_id"].as_str().unwrap().to_owned());
            cur = out["next"].clone();
        }
    }
    assert_eq!(sent.len(), n, "the demo QROCs have near misses");
    sent
}

async fn attempt(app: &TestApp, served: &str) -> myqcm_db::training::attempt::Model {
    myqcm_db::training::attempt_for(&app.db.conn, served.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_unsure_qroc_answer_is_graded_by_the_model_after_the_answer_and_a_reviewer_overrides_it()
{
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    app.free_plan_includes("ai_grading").await;
    let u = learner(&app).await;
    let served = near_misses(&app, &u, 1, true).await;
    assert!(
        fake.calls().is_empty(),
        "the answer path never calls the model"
    );
    let before = attempt(&app, &served[0]).await;
    assert_eq!(before.ungraded_reason.as_deref(), Some("awaiting_grader"));
    // The waiting answer has not touched the learner's state yet.
    let state_before = learner_state(&app, &before).await;
    assert!(state_before.2.is_none(), "no memory of the item yet");

    myqcm_app::worker(&app.services).drain().await.unwrap();
    let call = fake.calls().pop().unwrap();
    assert_eq!(call.body["temperature"], 0.0);
    assert_eq!(
        call.body["response_format"]["json_schema"]["name"],
        "qroc_grade"
    );
    let after = attempt(&app, &served[0]).await;
    assert_eq!(after.grader.as_deref(), Some("llm"));
    assert_eq!(after.ungraded_reason, None);
    // The call is accounted for, billed to no one: the learner is not recorded.
    let day = myqcm_services::ai::usage::day_of(app.now());
    let calls = myqcm_db::ai::calls_between(&app.db.conn, None, &day, &day, 100)
        .await
        .unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].kind, "grading");
    assert_eq!(calls[0].author_id, None);
    assert!(calls[0].prompt_tokens > 0 && calls[0].completion_tokens > 0);
    let request = calls[0].request_id.clone().unwrap();
    assert!(request.starts_with("job/"), "{request}");
    assert!(!request.contains(&u.id.to_string()) && !request.contains(&after.id.to_string()));
    let correct = after.correct.unwrap();
    assert_eq!(after.ratio, Some(if correct { 1.0 } else { 0.0 }));
    // The grade updated the learner's state as an on-the-spot grade does: one answer more in
    // the subject, θ moved the grade's way, the item's KCs saw evidence, the item has a memory.
    let state_after = learner_state(&app, &after).await;
    let (answers_before, theta_before) = state_before.0.map_or((0, 0.0), |a| (a.0, a.1));
    let (answers_after, theta_after) = state_after.0.unwrap();
    assert_eq!(answers_after, answers_before + 1);
    assert_eq!(
        theta_after > theta_before,
        correct,
        "{theta_before} → {theta_after}"
    );
    assert!(state_after.1 > state_before.1, "KC evidence grows");
    assert!(state_after.2.is_some(), "the item has a memory");

    // Reviewers find it among the assisted answers (learners may not list them).
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let (s, list) = app
        .send_bearer(
            Method::GET,
            &reviewer.token,
            "/api/v1/review/attempts",
            None,
        )
        .await;
    assert_eq!(s, 200, "{list}");
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attempt_id"] == after.id.to_string())
        .unwrap_or_else(|| panic!("listed: {list}"));
    assert_eq!(row["grader"], "llm");
    assert_eq!(row["correct"], correct);
    // The model's rationale is kept beside the grade and shown to reviewers.
    assert_eq!(row["rationale"], "fake grader: word match", "{row}");
    let c = content(&app, &json!({"revision_id": after.revision_id})).await;
    assert_eq!(row["stem"], c.stem.as_str());
    assert_eq!(row["expected"], c.qroc.as_ref().unwrap().expected.as_str());
    assert_eq!(row["variants"], json!(c.qroc.as_ref().unwrap().variants));
    assert!(row.get("learner_id").is_none(), "no learner identity");
    let (s, _) = app
        .send_bearer(Method::GET, &u.token, "/api/v1/review/attempts", None)
        .await;
    assert_eq!(s, 403);

    // A reviewer overrides it; learners and authors may not.
    let path = format!("/api/v1/review/attempts/{}/grade", after.id);
    let (s, _) = app
        .send_bearer(
            Method::POST,
            &u.token,
            &path,
            Some(json!({"correct": true})),
        )
        .await;
    assert_eq!(s, 403);
    // The reason is required (the audit log keeps it).
    let (s, v) = app
        .send_bearer(
            Method::POST,
            &reviewer.token,
            &path,
            Some(json!({"correct": !correct, "reason": "  "})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "reason", "{v}");
    let (s, v) = app
        .send_bearer(
            Method::POST,
            &reviewer.token,
            &path,
            Some(json!({"correct": !correct, "reason": "synonyme admis"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["grader"], "human");
    let over = attempt(&app, &served[0]).await;
    assert_eq!(
        (over.grader.as_deref(), over.correct),
        (Some("human"), Some(!correct))
    );
    let details = app.audit_details("training.attempt_regrade").await;
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["from"]["grader"], "llm");
    assert_eq!(details[0]["to"]["correct"], !correct);
    assert_eq!(details[0]["reason"], "synonyme admis");

    // Running the job again leaves the reviewer's grade alone.
    let job =
        myqcm_db::jobs::NewJob::new("ai.grade_qroc", json!({"attempt_id": after.id}), app.now());
    myqcm_db::jobs::enqueue(&app.db.conn, &job, app.now())
        .await
        .unwrap();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert_eq!(
        attempt(&app, &served[0]).await.grader.as_deref(),
        Some("human")
    );
    // Neither the override nor the second run updated the state again.
    assert_eq!(learner_state(&app, &after).await, state_after);

    // Erasing the learner's account erases the rationale (it may quote the answer).
    let kept = myqcm_db::ai::rationales(&app.db.conn, vec![after.id])
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    myqcm_services::ai::privacy::erase(&app.db.conn, u.id, app.now())
        .await
        .unwrap();
    let kept = myqcm_db::ai::rationales(&app.db.conn, vec![after.id])
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
}

/// The learner's (answers, θ) in the subject of `a`'s session, total KC evidence and memory of
/// `a`'s item.
async fn learner_state(
    app: &TestApp,
    a: &myqcm_db::training::attempt::Model,
) -> (Option<(i32, f64)>, i64, Option<(i64, f64)>) {
    let (db, learner, item) = (&app.db.conn, a.learner_id, a.item_id);
    let subject = myqcm_db::training::session_of(db, a.session_id, learner, false)
        .await
        .unwrap()
        .unwrap()
        .subject_id
        .unwrap();
    let ability = myqcm_db::training::ability(db, learner, subject, false)
        .await
        .unwrap()
        .map(|a| (a.answers, a.theta));
    let evidence = myqcm_db::training::kc_states(db, learner, &[], false)
        .await
        .unwrap()
        .iter()
        .map(|k| i64::from(k.evidence))
        .sum();
    let memory = myqcm_db::training::memory(db, learner, item, false)
        .await
        .unwrap()
        .map(|m| (m.due_at, m.stability));
    (ability, evidence, memory)
}

#[tokio::test]
async fn when_the_model_fails_the_unsure_answer_stays_ungraded_never_zero() {
    let fake = FakeLlm::start("k").await.unwrap();
    fake.knobs(|k| k.fail_next = 1_000);
    let app = app_with_llm(&fake).await;
    app.free_plan_includes("ai_grading").await;
    let u = learner(&app).await;
    let served = near_misses(&app, &u, 1, true).await;
    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert!(!fake.calls().is_empty());
    let a = attempt(&app, &served[0]).await;
    assert_eq!(
        (a.ratio, a.correct, a.grader.as_deref()),
        (None, None, None)
    );
    assert_eq!(a.ungraded_reason.as_deref(), Some("grader_unavailable"));
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let (_, list) = app
        .send_bearer(
            Method::GET,
            &reviewer.token,
            "/api/v1/review/attempts",
            None,
        )
        .await;
    assert_eq!(list[0]["attempt_id"], a.id.to_string(), "{list}");
    assert_eq!(list[0]["ungraded_reason"], "grader_unavailable");
    assert!(list[0]["correct"].is_null());
}

/// The model's rationale is written in the transaction of its grade: when it cannot be stored
/// (its table is out of reach for one run) the grade is not applied either and the answer still
/// awaits the grader, so no grade ever stands without its rationale; the next run stores both.
/// A grade refused because a reviewer graded the answer first leaves no rationale.
#[tokio::test]
async fn the_rationale_is_stored_with_its_grade_or_not_at_all() {
    use sea_orm::ConnectionTrait;
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    app.free_plan_includes("ai_grading").await;
    let u = learner(&app).await;
    let served = near_misses(&app, &u, 2, true).await;
    let (first, second) = (
        attempt(&app, &served[0]).await,
        attempt(&app, &served[1]).await,
    );
    let conn = &app.db.conn;
    let rationale = |id: Uuid| async move {
        myqcm_db::ai::rationales(conn, vec![id])
            .await
            .unwrap()
            .remove(&id)
    };

    // The rationale cannot be written: the whole grade rolls back.
    conn.execute_unprepared("ALTER TABLE qroc_grade_rationale RENAME TO qroc_grade_rationale_off")
        .await
        .unwrap();
    let run = grading_run(&app, first.id).await;
    assert!(run.is_err(), "the grade's transaction failed");
    conn.execute_unprepared("ALTER TABLE qroc_grade_rationale_off RENAME TO qroc_grade_rationale")
        .await
        .unwrap();
    let a = attempt(&app, &served[0]).await;
    assert_eq!(
        (a.ratio, a.correct, a.grader.as_deref()),
        (None, None, None)
    );
    assert_eq!(a.ungraded_reason.as_deref(), Some("awaiting_grader"));
    assert_eq!(rationale(first.id).await, None);

    // The next run stores the grade and its rationale together.
    let graded = grading_run(&app, first.id).await.unwrap();
    assert!(
        matches!(graded, myqcm_services::ai::grading::Graded::Llm(_)),
        "{graded:?}"
    );
    let a = attempt(&app, &served[0]).await;
    assert_eq!(a.grader.as_deref(), Some("llm"));
    assert!(a.correct.is_some() && a.ungraded_reason.is_none(), "{a:?}");
    assert_eq!(
        rationale(first.id).await.as_deref(),
        Some("fake grader: word match")
    );

    // A reviewer graded the second answer first: the late grade is refused, nothing is stored.
    myqcm_db::training::regrade_attempt(
        conn,
        second.id,
        Some(1.0),
        Some(true),
        Some("human"),
        None,
    )
    .await
    .unwrap();
    let note = myqcm_services::training::GradeNote {
        rationale: "too late",
        model: "fake-model",
        at_ms: app.now().timestamp_millis(),
    };
    let applied = app
        .services
        .training
        .apply_late_grade(second.id, false, "llm", Some(note))
        .await
        .unwrap();
    assert!(!applied);
    let b = attempt(&app, &served[1]).await;
    assert_eq!(
        (b.correct, b.grader.as_deref()),
        (Some(true), Some("human"))
    );
    assert_eq!(rationale(second.id).await, None);
}

/// One run of the grading use case on `attempt`, as the `ai.grade_qroc` job does it.
async fn grading_run(
    app: &TestApp,
    attempt: Uuid,
) -> Result<myqcm_services::ai::grading::Graded, myqcm_services::ai::grading::GradingError> {
    let llm = app.services.llm.clone().expect("a model is configured");
    let clock = app.clock.clone();
    let meter = myqcm_services::ai::usage::Billing {
        clock: &clock,
        policy: myqcm_services::ai::usage::UsagePolicy::default(),
    }
    .meter(
        &app.db.conn,
        myqcm_services::ai::usage::CallKind::Grading,
        None,
        Some(format!("test/{attempt}")),
    );
    myqcm_services::ai::grading::grade_attempt(
        &app.db.conn,
        llm.as_ref(),
        &meter,
        &app.services.training,
        attempt,
    )
    .await
}

/// A grade the model answered unusably (not JSON) leaves the answer ungraded, like a failure,
/// but the reply was billed: the call is recorded with its tokens, `malformed`, billed to no one.
#[tokio::test]
async fn a_malformed_grade_reply_is_recorded_with_its_tokens_and_the_answer_stays_ungraded() {
    let fake = FakeLlm::start("k").await.unwrap();
    fake.knobs(|k| k.malformed = true);
    let app = app_with_llm(&fake).await;
    app.free_plan_includes("ai_grading").await;
    let u = learner(&app).await;
    let served = near_misses(&app, &u, 1, true).await;
    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert_eq!(fake.calls().len(), 1, "not retried");
    let a = attempt(&app, &served[0]).await;
    assert_eq!((a.ratio, a.correct), (None, None));
    assert_eq!(a.ungraded_reason.as_deref(), Some("grader_unavailable"));
    let day = myqcm_services::ai::usage::day_of(app.now());
    let calls = myqcm_db::ai::calls_between(&app.db.conn, None, &day, &day, 10)
        .await
        .unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].kind, "grading");
    assert_eq!(calls[0].outcome, "malformed");
    assert_eq!(calls[0].author_id, None, "no learner is named");
    assert!(calls[0].prompt_tokens > 0 && calls[0].completion_tokens > 0);
}

/// Grading assistance is a plan feature: on a plan without it the near miss is graded at once
/// by the tolerant match (wrong), and the model is never asked.
#[tokio::test]
async fn on_a_plan_without_grading_assistance_the_near_miss_is_graded_at_once() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let u = learner(&app).await;
    let served = near_misses(&app, &u, 1, false).await;
    let a = attempt(&app, &served[0]).await;
    assert_eq!(
        (a.correct, a.ungraded_reason.as_deref()),
        (Some(false), None),
        "graded wrong by the tolerant match"
    );
    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert!(fake.calls().is_empty(), "no grading job was queued");
}

#[tokio::test]
async fn without_a_model_the_near_miss_is_wrong_and_there_is_no_override_route() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let u = learner(&app).await;
    // Graded wrong at once (`near_misses` checks it), by the tolerant match.
    let served = near_misses(&app, &u, 1, false).await;
    let a = attempt(&app, &served[0]).await;
    assert_eq!(a.grader.as_deref(), Some("exact"));
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let (s, _) = app
        .send_bearer(
            Method::POST,
            &reviewer.token,
            &format!("/api/v1/review/attempts/{}/grade", a.id),
            Some(json!({"correct": true, "reason": "r"})),
        )
        .await;
    assert_eq!(s, 404);
}

/// The learner's review of the session says an answer waits for the grading assistant (not a
/// bare "not graded"), and shows the grade once the job has run.
#[tokio::test]
async fn the_session_review_says_an_answer_waits_for_the_grading_assistant() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    app.free_plan_includes("ai_grading").await;
    let b = app.learner("waiting@example.test").await;
    let res = app
        .put_as(&b, "/api/v1/learner/profile", json!({"year_of_study": 3}))
        .await;
    assert_eq!(res.status(), 200);
    let cardio = myqcm_db::catalogue::subject_by_code(&app.db.conn, "cardio")
        .await
        .unwrap()
        .unwrap()
        .id;
    let s: Value = app
        .post_as(
            &b,
            "/api/v1/training-sessions",
            json!({"mode": "custom", "style": "tutor", "subject": cardio, "kinds": ["qroc"], "item_count": 10}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = s["id"].as_str().unwrap().to_owned();
    let mut cur = s["current"].clone();
    loop {
        let c = content(&app, &cur).await;
        let (path, body) = match near_miss(&c) {
            Some(text) => (
                "answers",
                json!({"served_id": cur["served_id"], "text": text}),
            ),
            None => ("skip", json!({"served_id": cur["served_id"]})),
        };
        let out: Value = app
            .post_as(&b, &format!("/api/v1/training-sessions/{id}/{path}"), body)
            .await
            .json()
            .await
            .unwrap();
        if path == "answers" {
            assert_eq!(out["grade"]["ungraded_reason"], "awaiting_grader", "{out}");
            break;
        }
        assert_eq!(out["type"], "item", "a near miss before the end: {out}");
        cur = out;
    }
    let path = format!("/practice/{id}/review");
    let html = app.get_as(&b, &path).await.text().await.unwrap();
    assert!(html.contains("En cours de correction"), "{html}");
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let html = app.get_as(&b, &path).await.text().await.unwrap();
    assert!(!html.contains("En cours de correction"), "graded by now");
    assert!(
        !html.contains("fake grader"),
        "the model's rationale is for reviewers only: {html}"
    );
}

/// The reviewer page: the answers the model graded with the question, the key and the verdict,
/// no learner identity; an override needs a verdict and a reason (shown again with the error
/// otherwise), is audited and leaves the list; learners and authors get 403; staff headers.
#[tokio::test]
async fn a_reviewer_checks_the_model_grades_on_the_page_and_overrides_one_with_a_reason() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    app.free_plan_includes("ai_grading").await;
    let u = learner(&app).await;
    let served = near_misses(&app, &u, 2, true).await;
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let a = attempt(&app, &served[0]).await;
    let c = content(&app, &json!({"revision_id": a.revision_id})).await;
    let answer: String = match serde_json::from_str(&a.response).unwrap() {
        myqcm_domain::scoring::Response::Text(t) => t,
        other => panic!("{other:?}"),
    };
    let reviewer = Pages::new(app.staff("grades@example.com", "reviewer", "").await.0);

    let (_, queue) = reviewer.get(&app, "/review").await;
    assert!(queue.contains("href=\"/review/grades\""), "{queue}");
    let res = reviewer.get_res(&app, "/review/grades").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store, private");
    assert_eq!(res.headers()["x-robots-tag"], "noindex, nofollow");
    let html = res.text().await.unwrap();
    assert!(html.contains("noindex"));
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
            .replace('"', "&quot;")
    };
    let stem = myqcm_services::markdown::render(&c.stem);
    assert!(html.contains(&stem), "the stem, rendered: {html}");
    assert!(html.contains(&esc(&c.qroc.as_ref().unwrap().expected)));
    assert!(html.contains(&esc(&answer)), "answer: {html}");
    assert!(html.contains("Verdict du modèle"));
    assert!(html.contains("Raisonnement de l’assistant"), "{html}");
    assert!(html.contains("fake grader: word match"), "{html}");
    assert_eq!(
        html.matches("class=\"stack grade-form\"").count(),
        2,
        "{html}"
    );
    assert!(!html.contains(&u.id.to_string()), "no learner identity");

    // No reason: the list again with the error on that row's reason, nothing changed.
    let path = format!("/review/grades/{}", a.id);
    let (s, _, html) = reviewer.post(&app, &path, &[("correct", "true")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(&format!("id=\"reason-{}-error\"", a.id)),
        "{html}"
    );
    let (s, _, html) = reviewer.post(&app, &path, &[("reason", "vu")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choisissez"), "{html}");
    assert!(html.contains(">vu</textarea>"), "the reason is kept");
    assert_eq!(
        attempt(&app, &served[0]).await.grader.as_deref(),
        Some("llm")
    );

    let flip = if a.correct.unwrap() { "false" } else { "true" };
    let (s, to, _) = reviewer
        .post(
            &app,
            &path,
            &[("correct", flip), ("reason", "orthographe admise")],
        )
        .await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/review/grades"));
    let over = attempt(&app, &served[0]).await;
    assert_eq!(over.grader.as_deref(), Some("human"));
    assert_eq!(over.correct, Some(flip == "true"));
    let details = app.audit_details("training.attempt_regrade").await;
    assert_eq!(details[0]["reason"], "orthographe admise");
    let (_, html) = reviewer.get(&app, "/review/grades").await;
    assert_eq!(
        html.matches("class=\"stack grade-form\"").count(),
        1,
        "graded by a human now"
    );

    for (email, role) in [
        ("g-author@example.com", "author"),
        ("g-learner@example.com", "student"),
    ] {
        let p = Pages::new(app.staff(email, role, "").await.0);
        let (s, _) = p.get(&app, "/review/grades").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role}");
        let (s, _, _) = p
            .post(&app, &path, &[("correct", "true"), ("reason", "x")])
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role}");
    }
}

#[tokio::test]
async fn without_a_model_the_grades_page_does_not_exist_and_the_queue_does_not_link_it() {
    let app = spawn_app().await;
    let reviewer = Pages::new(app.staff("nogrades@example.com", "reviewer", "").await.0);
    let (s, queue) = reviewer.get(&app, "/review").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!queue.contains("/review/grades"), "{queue}");
    let (s, _) = reviewer.get(&app, "/review/grades").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = reviewer
        .post(
            &app,
            &format!("/review/grades/{}", Uuid::now_v7()),
            &[("correct", "true"), ("reason", "x")],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
