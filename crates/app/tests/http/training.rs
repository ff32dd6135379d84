//! Training over real HTTP (loopback server, fresh database per test; SQLite by default,
//! PostgreSQL and Redis with `MYQCM_TEST_DATABASE_URL` / `MYQCM_TEST_REDIS_URL`), on the demo
//! bank: exactly-once answers under 20 parallel requests, ownership (another learner's
//! session is 404 on every route), clinical cases one stem at a time, keys and explanations
//! only after the attempt is stored, exams holding feedback until the end, the profile, modes,
//! pool-dry answers and the OpenAPI document.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;

use myqcm_domain::catalogue::{ItemContent, ItemKind};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{ApiUser as User, spawn_app, test_app_wrapper};

test_app_wrapper!(
    /// The shared [`TestApp`] on the demo bank, with the training's shortcuts.
    App
);

impl App {
    async fn spawn() -> Self {
        let app = spawn_app().await;
        app.load_demo_bank().await;
        Self(app)
    }

    /// A verified student with a profile (year 3).
    async fn learner(&self) -> User {
        let u = self.api_user(&["student"], &[], false).await;
        let (s, b) = self
            .send("PUT", &u, "/learner/profile", json!({"year_of_study": 3}))
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["complete"], true);
        u
    }

    async fn send(&self, method: &str, u: &User, p: &str, body: Value) -> (u16, Value) {
        let m: reqwest::Method = method.parse().unwrap();
        let body = (m != reqwest::Method::GET).then_some(body);
        self.send_bearer(m, &u.token, &format!("/api/v1{p}"), body)
            .await
    }

    async fn get(&self, u: &User, p: &str) -> (u16, Value) {
        self.send("GET", u, p, Value::Null).await
    }

    async fn subject(&self, code: &str) -> Uuid {
        myqcm_db::catalogue::subject_by_code(&self.services.db, code)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn course(&self, code: &str) -> Uuid {
        myqcm_db::catalogue::course_by_code(&self.services.db, code)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    /// Starts a session; returns its body.
    async fn start(&self, u: &User, body: Value) -> Value {
        let (s, b) = self.send("POST", u, "/training-sessions", body).await;
        assert_eq!(s, 201, "{b}");
        b
    }

    /// The stored content of a served item (what the learner cannot see).
    async fn content(&self, item: &Value) -> ItemContent {
        let rev: Uuid = item["revision_id"].as_str().unwrap().parse().unwrap();
        let row = myqcm_db::catalogue::revision(&self.services.db, rev)
            .await
            .unwrap()
            .unwrap();
        serde_json::from_str(&row.content).unwrap()
    }

    /// The right answer to a served item.
    async fn right(&self, item: &Value) -> Value {
        let c = self.content(item).await;
        match c.kind {
            ItemKind::Qroc => {
                json!({"served_id": item["served_id"], "text": c.qroc.unwrap().expected})
            }
            _ => {
                let key: Vec<usize> = (0..c.options.len())
                    .filter(|i| c.options[*i].correct)
                    .collect();
                json!({"served_id": item["served_id"], "options": key})
            }
        }
    }
}

fn item(next: &Value) -> &Value {
    assert_eq!(next["type"], "item", "{next}");
    next
}

#[tokio::test]
async fn the_same_answer_sent_twenty_times_in_parallel_is_stored_and_learned_once() {
    let app = Arc::new(App::spawn().await);
    let u = Arc::new(app.learner().await);
    let cardio = app.subject("cardio").await;
    let s = app
        .start(
            &u,
            json!({"mode": "custom", "style": "tutor", "subject": cardio, "kinds": ["qcs"], "item_count": 3}),
        )
        .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let current = s["current"].clone();
    let answer = app.right(&current).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, u, id, answer) = (app.clone(), u.clone(), id.clone(), answer.clone());
        tasks.push(tokio::spawn(async move {
            app.send(
                "POST",
                &u,
                &format!("/training-sessions/{id}/answers"),
                answer,
            )
            .await
        }));
    }
    let mut outs = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        outs.push(body);
    }
    assert_eq!(outs.iter().filter(|o| o["repeat"] == false).count(), 1);
    assert!(outs.iter().all(|o| o["grade"] == outs[0]["grade"]));
    assert_eq!(outs[0]["grade"]["correct"], true);
    let nexts: Vec<&Value> = outs
        .iter()
        .map(|o| &item(&o["next"])["served_id"])
        .collect();
    assert!(
        nexts.iter().all(|n| *n == nexts[0]),
        "one next item for all"
    );
    let sid: Uuid = id.parse().unwrap();
    let attempts = myqcm_db::training::attempts_of_session(&app.services.db, sid)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "one attempt");
    let ability = myqcm_db::training::ability(&app.services.db, u.id, cardio, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ability.answers, 1, "one state update");
    let item_id: Uuid = current["item_id"].as_str().unwrap().parse().unwrap();
    let mem = myqcm_db::training::memory(&app.services.db, u.id, item_id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mem.reviews, 1);
}

#[tokio::test]
async fn another_learners_session_is_not_found_on_every_route() {
    let app = App::spawn().await;
    let owner = app.learner().await;
    let intruder = app.learner().await;
    let cardio = app.subject("cardio").await;
    let s = app
        .start(
            &owner,
            json!({"mode": "custom", "style": "tutor", "subject": cardio}),
        )
        .await;
    let id = s["id"].as_str().unwrap();
    let current = &s["current"];
    let served = current["served_id"].as_str().unwrap();
    let answer = app.right(current).await;
    let calls: Vec<(&str, String, Value)> = vec![
        ("GET", format!("/training-sessions/{id}"), Value::Null),
        (
            "GET",
            format!("/training-sessions/{id}/current"),
            Value::Null,
        ),
        (
            "POST",
            format!("/training-sessions/{id}/answers"),
            answer.clone(),
        ),
        (
            "POST",
            format!("/training-sessions/{id}/skip"),
            json!({"served_id": served}),
        ),
        (
            "PUT",
            format!("/training-sessions/{id}/items/{served}/flag"),
            json!({"flagged": true}),
        ),
        (
            "PUT",
            format!("/training-sessions/{id}/items/{served}/note"),
            json!({"text": "x"}),
        ),
        ("POST", format!("/training-sessions/{id}/pause"), json!({})),
        ("POST", format!("/training-sessions/{id}/resume"), json!({})),
        ("POST", format!("/training-sessions/{id}/finish"), json!({})),
        (
            "GET",
            format!("/training-sessions/{id}/summary"),
            Value::Null,
        ),
        (
            "GET",
            format!("/training-sessions/{id}/review"),
            Value::Null,
        ),
    ];
    for (m, p, body) in &calls {
        let (status, b) = app.send(m, &intruder, p, body.clone()).await;
        assert_eq!(status, 404, "{m} {p}: {b}");
        assert_eq!(b["code"], "not_found");
    }
    let (_, list) = app.get(&intruder, "/training-sessions").await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    // Nothing changed for the owner; the owner can still answer.
    let (status, again) = app.get(&owner, &format!("/training-sessions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "active");
    assert_eq!(again["current"]["served_id"], current["served_id"]);
    assert_eq!(again["current"]["flagged"], false);
    let (status, out) = app
        .send(
            "POST",
            &owner,
            &format!("/training-sessions/{id}/answers"),
            answer,
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["repeat"], false);
    // Signed out: 401.
    let r = app
        .client
        .get(format!("{}/api/v1/training-sessions/{id}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

/// The seeded free plan does not include clinical cases: its learners' sessions hold none,
/// even when the filters would leave little else; once the plan includes them, they come.
#[tokio::test]
async fn a_plan_without_clinical_cases_serves_none() {
    let app = App::spawn().await;
    let cardio = app.subject("cardio").await;
    let coro = app.course("cardio-coro").await;
    let request = json!({"mode": "custom", "style": "tutor", "subject": cardio, "courses": [coro], "item_count": 40});
    // Skips through a whole session; answers how many items were served and how many were
    // steps of a case.
    let run = |u: User| {
        let app = &app;
        let request = request.clone();
        async move {
            let s = app.start(&u, request).await;
            let id = s["id"].as_str().unwrap().to_owned();
            let (mut served, mut cases) = (0, 0);
            let mut cur = s["current"].clone();
            loop {
                served += 1;
                if !cur["case"].is_null() {
                    cases += 1;
                }
                let (st, next) = app
                    .send(
                        "POST",
                        &u,
                        &format!("/training-sessions/{id}/skip"),
                        json!({"served_id": cur["served_id"]}),
                    )
                    .await;
                assert_eq!(st, 200, "{next}");
                if next["type"] == "end" {
                    return (served, cases);
                }
                cur = item(&next).clone();
            }
        }
    };
    let (served, cases) = run(app.learner().await).await;
    assert!(served > 0);
    assert_eq!(cases, 0, "no case on a plan without them ({served} items)");
    app.free_plan_includes("clinical_cases").await;
    let (_, cases) = run(app.learner().await).await;
    assert!(
        cases >= 2,
        "the course's cases are served once the plan includes them"
    );
}

#[tokio::test]
async fn a_clinical_cases_later_stems_are_in_no_response_before_their_turn() {
    let app = App::spawn().await;
    app.free_plan_includes("clinical_cases").await;
    let u = app.learner().await;
    let cardio = app.subject("cardio").await;
    let coro = app.course("cardio-coro").await;
    let s = app
        .start(
            &u,
            json!({"mode": "custom", "style": "tutor", "subject": cardio, "courses": [coro], "item_count": 40}),
        )
        .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let mut seen = vec![s.to_string()];
    let mut cur = s["current"].clone();
    while cur["case"].is_null() {
        let (st, next) = app
            .send(
                "POST",
                &u,
                &format!("/training-sessions/{id}/skip"),
                json!({"served_id": cur["served_id"]}),
            )
            .await;
        assert_eq!(st, 200, "{next}");
        seen.push(next.to_string());
        cur = item(&next).clone();
    }
    let case_id: Uuid = cur["case"]["case_id"].as_str().unwrap().parse().unwrap();
    let size = cur["case"]["size"].as_i64().unwrap() as usize;
    assert!(size >= 2);
    let subs = myqcm_db::catalogue::case_items(&app.services.db, case_id)
        .await
        .unwrap();
    let mut stems = Vec::new();
    for sub in &subs {
        let rev = myqcm_db::catalogue::revision(&app.services.db, sub.current_revision_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
        stems.push(myqcm_services::markdown::render(&c.stem));
    }
    for step in 1..=size {
        assert_eq!(cur["case"]["step"], step);
        assert_eq!(cur["stem_html"], stems[step - 1].as_str());
        for p in ["", "/current", "/review"] {
            seen.push(
                app.get(&u, &format!("/training-sessions/{id}{p}"))
                    .await
                    .1
                    .to_string(),
            );
        }
        for later in &stems[step..] {
            for body in &seen {
                assert!(
                    !body.contains(later.as_str()),
                    "a later stem was sent at step {step}"
                );
            }
        }
        let answer = app.right(&cur).await;
        let (st, out) = app
            .send(
                "POST",
                &u,
                &format!("/training-sessions/{id}/answers"),
                answer,
            )
            .await;
        assert_eq!(st, 200, "{out}");
        seen.push(out.to_string());
        if step < size {
            cur = item(&out["next"]).clone();
            assert_eq!(cur["reason"]["code"], "case_continuation");
            assert!(!cur["reason"]["text"].as_str().unwrap().is_empty());
        }
    }
}

#[tokio::test]
async fn keys_and_explanations_appear_only_once_the_attempt_is_stored() {
    let app = App::spawn().await;
    let u = app.learner().await;
    let nephro = app.subject("nephro").await;
    let s = app
        .start(
            &u,
            json!({"mode": "custom", "style": "tutor", "subject": nephro, "kinds": ["qcm"], "item_count": 2}),
        )
        .await;
    let id = s["id"].as_str().unwrap();
    let cur = s["current"].clone();
    let content = app.content(&cur).await;
    let explanation = myqcm_services::markdown::render(&content.explanation);
    assert!(!content.explanation.trim().is_empty());
    let mut before = vec![s.to_string()];
    for p in ["", "/current", "/review"] {
        before.push(
            app.get(&u, &format!("/training-sessions/{id}{p}"))
                .await
                .1
                .to_string(),
        );
    }
    for body in &before {
        assert!(
            !body.contains(&explanation),
            "explanation before the attempt"
        );
        assert!(
            !body.contains("\"correct\""),
            "key before the attempt: {body}"
        );
        assert!(!body.contains("expected_answer"));
    }
    // The reason of the choice is shown.
    assert!(!cur["reason"]["code"].as_str().unwrap().is_empty());
    let answer = app.right(&cur).await;
    let (st, out) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/answers"),
            answer,
        )
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["grade"]["graded"], true);
    assert_eq!(out["feedback"]["explanation_html"], explanation.as_str());
    let keyed = out["feedback"]["options"].as_array().unwrap();
    assert_eq!(keyed.len(), content.options.len());
    for o in keyed {
        let i = o["id"].as_u64().unwrap() as usize;
        assert_eq!(o["correct"], content.options[i].correct);
    }
    // The next item is still served without its key.
    let next = item(&out["next"]);
    assert!(!next.to_string().contains("\"correct\""));
    // A malformed answer is refused and stores nothing.
    let (st, b) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/answers"),
            json!({"served_id": next["served_id"]}),
        )
        .await;
    assert_eq!((st, b["code"].as_str()), (422, Some("validation_failed")));
}

#[tokio::test]
async fn exams_hide_feedback_until_the_end() {
    let app = App::spawn().await;
    let u = app.learner().await;
    let nephro = app.subject("nephro").await;
    let s = app
        .start(
            &u,
            json!({"mode": "custom", "style": "exam", "subject": nephro, "item_count": 3, "time_limit_seconds": 600}),
        )
        .await;
    let id = s["id"].as_str().unwrap();
    let mut cur = s["current"].clone();
    for _ in 0..2 {
        let answer = app.right(&cur).await;
        let (st, out) = app
            .send(
                "POST",
                &u,
                &format!("/training-sessions/{id}/answers"),
                answer,
            )
            .await;
        assert_eq!(st, 200, "{out}");
        assert!(out["grade"].is_null() && out["feedback"].is_null(), "{out}");
        cur = item(&out["next"]).clone();
    }
    let (_, replay) = app
        .get(&u, &format!("/training-sessions/{id}/review"))
        .await;
    for r in replay.as_array().unwrap() {
        assert!(r["feedback"].is_null() && r["grade"].is_null(), "{r}");
    }
    // Pause and resume over HTTP; a paused exam refuses answers.
    let (st, p) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/pause"),
            json!({}),
        )
        .await;
    assert_eq!((st, p["status"].as_str()), (200, Some("paused")));
    let answer = app.right(&cur).await;
    let (st, b) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/answers"),
            answer.clone(),
        )
        .await;
    assert_eq!((st, b["code"].as_str()), (409, Some("session_paused")));
    let (st, r) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/resume"),
            json!({}),
        )
        .await;
    assert_eq!((st, r["status"].as_str()), (200, Some("active")));
    let (st, mut out) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/answers"),
            answer,
        )
        .await;
    assert_eq!(st, 200, "{out}");
    let mut answered = 3u64;
    // A clinical case started within the count is served to its end.
    while out["next"]["type"] == "item" {
        assert!(out["grade"].is_null() && out["feedback"].is_null());
        let answer = app.right(&out["next"]).await;
        out = app
            .send(
                "POST",
                &u,
                &format!("/training-sessions/{id}/answers"),
                answer,
            )
            .await
            .1;
        answered += 1;
    }
    assert!(out["grade"].is_null());
    assert_eq!(out["next"]["type"], "end");
    assert_eq!(out["next"]["reason"], "finished");
    // Over: everything is disclosed.
    let (_, replay) = app
        .get(&u, &format!("/training-sessions/{id}/review"))
        .await;
    let replay = replay.as_array().unwrap();
    assert_eq!(replay.len() as u64, answered);
    for r in replay {
        assert!(!r["feedback"].is_null(), "{r}");
        assert_eq!(r["grade"]["correct"], true);
    }
    let (st, sum) = app
        .get(&u, &format!("/training-sessions/{id}/summary"))
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        (sum["graded"].as_u64(), sum["correct"].as_u64()),
        (Some(answered), Some(answered))
    );
    assert_eq!(sum["percent_correct"], 100.0);
    // A finished session refuses further writes.
    let (st, b) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/pause"),
            json!({}),
        )
        .await;
    assert_eq!((st, b["code"].as_str()), (409, Some("session_closed")));
}

#[tokio::test]
async fn profile_modes_flags_notes_finish_and_the_dry_pool_over_http() {
    let app = App::spawn().await;
    let u = app.learner().await;
    let (st, p) = app.get(&u, "/learner/profile").await;
    assert_eq!((st, p["year_of_study"].as_i64()), (200, Some(3)));
    let (st, b) = app
        .send("PUT", &u, "/learner/profile", json!({"year_of_study": 9}))
        .await;
    assert_eq!(
        (st, b["errors"][0]["field"].as_str()),
        (422, Some("year_of_study"))
    );
    let (st, modes) = app.get(&u, "/learning-modes").await;
    assert_eq!(st, 200);
    assert!(
        modes
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["code"] == "guided")
    );
    let (st, _) = app
        .send(
            "PUT",
            &u,
            "/learning-modes/mine",
            json!({"names": {}, "definers": {}}),
        )
        .await;
    assert_eq!(st, 403, "a student edits no mode");
    let cardio = app.subject("cardio").await;
    let s = app
        .start(
            &u,
            json!({"mode": "custom", "style": "tutor", "subject": cardio, "item_count": 5}),
        )
        .await;
    let id = s["id"].as_str().unwrap();
    let served = s["current"]["served_id"].as_str().unwrap();
    let (st, _) = app
        .send(
            "PUT",
            &u,
            &format!("/training-sessions/{id}/items/{served}/flag"),
            json!({"flagged": true}),
        )
        .await;
    assert_eq!(st, 204);
    let (st, _) = app
        .send(
            "PUT",
            &u,
            &format!("/training-sessions/{id}/items/{served}/note"),
            json!({"text": "revoir"}),
        )
        .await;
    assert_eq!(st, 204);
    let (_, cur) = app
        .get(&u, &format!("/training-sessions/{id}/current"))
        .await;
    assert_eq!(
        (cur["flagged"].as_bool(), cur["note"].as_str()),
        (Some(true), Some("revoir"))
    );
    let (st, list) = app.get(&u, "/training-sessions?limit=5").await;
    assert_eq!(st, 200);
    assert_eq!(list[0]["id"], id);
    let (st, sum) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/finish"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{sum}");
    assert_eq!(
        (sum["status"].as_str(), sum["end_reason"].as_str()),
        (Some("completed"), Some("stopped"))
    );
    assert_eq!(
        (sum["skipped"].as_u64(), sum["flagged"].as_u64()),
        (Some(1), Some(1))
    );
    // The flagged pool now holds that one item; the incorrect pool is empty and says what to widen.
    let (st, b) = app
        .send(
            "POST",
            &u,
            "/training-sessions",
            json!({"mode": "custom", "style": "tutor", "subject": cardio, "pool": "incorrect"}),
        )
        .await;
    assert_eq!(
        (st, b["code"].as_str()),
        (422, Some("nothing_to_serve")),
        "{b}"
    );
    let widen = b["errors"].as_array().unwrap();
    assert!(
        widen
            .iter()
            .any(|w| w["field"] == "pool" && w["code"] == "widen"),
        "{b}"
    );
    let f = app
        .start(
            &u,
            json!({"mode": "custom", "style": "tutor", "subject": cardio, "pool": "flagged"}),
        )
        .await;
    assert!(f["current"]["served_id"].is_string());
    assert_eq!(f["current"]["item_id"], s["current"]["item_id"]);
}

#[tokio::test]
async fn the_recurring_job_expires_abandoned_sessions() {
    let app = App::spawn().await;
    let u = app.learner().await;
    let cardio = app.subject("cardio").await;
    let idle = app
        .start(
            &u,
            json!({"mode": "custom", "style": "tutor", "subject": cardio}),
        )
        .await;
    let id = idle["id"].as_str().unwrap();
    // The server declared the hourly schedule at start; eight idle days later the worker runs it.
    app.clock.advance(chrono::Duration::days(8));
    let worker = myqcm_app::worker(&app.services);
    worker.drain().await.unwrap();
    // The access token expired meanwhile: sign in again (same clock).
    let t = myqcm_services::identity::testing::issue_session_for(
        &app.services.db,
        app.services.cache.clone(),
        app.services.clock.clone(),
        u.id,
    )
    .await
    .unwrap();
    let u = User {
        id: u.id,
        token: t.access_token,
    };
    let (st, s) = app.get(&u, &format!("/training-sessions/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(
        (s["status"].as_str(), s["end"]["reason"].as_str()),
        (Some("expired"), Some("expired"))
    );
    let (st, b) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/answers"),
            json!({"served_id": idle["current"]["served_id"], "options": [0]}),
        )
        .await;
    assert_eq!(
        (st, b["code"].as_str()),
        (409, Some("session_closed")),
        "{b}"
    );
}

#[tokio::test]
async fn the_training_api_is_in_the_openapi_document() {
    let app = App::spawn().await;
    let r = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    let doc: Value = r.json().await.unwrap();
    for p in [
        "/api/v1/learner/profile",
        "/api/v1/learning-modes",
        "/api/v1/training-sessions",
        "/api/v1/training-sessions/{id}",
        "/api/v1/training-sessions/{id}/answers",
        "/api/v1/training-sessions/{id}/skip",
        "/api/v1/training-sessions/{id}/summary",
        "/api/v1/training-sessions/{id}/review",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
}
