//! Generation requests are kept (issue 15, `generation_request`): over real HTTP with the fake
//! model, a finished request shows what was asked, the drafts created, the tokens used and
//! every refused proposal with its reason code and the beginning of its stem, in the API and
//! on its status page (reasons in the author's language); a failed request keeps its error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use myqcm_domain::ports::{LanguageModel, LlmAnswer, LlmError, LlmRequest};
use myqcm_testkit::fake_llm::FakeLlm;
use reqwest::Method;
use serde_json::Value;

use crate::ai::{TEXT, app_with_llm, post_page, upload};

/// Claims the next queued job as worker `w1`; it must be of `kind`.
async fn claim(app: &crate::support::TestApp, kind: &str) -> myqcm_db::jobs::JobRow {
    let running =
        myqcm_db::jobs::claim(&app.db.conn, "w1", app.now(), chrono::Duration::minutes(10))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(running.kind, kind);
    running
}

/// Makes `account`'s erasure due: its deletion was asked 60 days ago.
async fn erasure_due(app: &crate::support::TestApp, account: uuid::Uuid) {
    myqcm_db::identity::accounts::update(
        &app.db.conn,
        myqcm_db::identity::accounts::entity::ActiveModel {
            id: sea_orm::ActiveValue::Set(account),
            deletion_requested_at: sea_orm::ActiveValue::Set(Some(
                (app.now() - chrono::Duration::days(60)).timestamp_millis(),
            )),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_finished_request_keeps_its_refused_items_with_reasons_for_the_author() {
    let fake = FakeLlm::start("k").await.unwrap();
    fake.knobs(|k| k.with_link = true);
    let app = app_with_llm(&fake).await;
    let author = app.api_user(&["author"], &[], false).await;
    let (s, req) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(s, 202, "{req}");
    assert_eq!(req["details"]["outcome"], "queued", "{req}");
    let id = req["id"].as_str().unwrap().to_owned();
    myqcm_app::worker(&app.services).drain().await.unwrap();

    let path = format!("/api/v1/ai/generations/{id}");
    let (s, v) = app
        .send_bearer(Method::GET, &author.token, &path, None)
        .await;
    assert_eq!(s, 200, "{v}");
    let d = &v["details"];
    assert_eq!(d["outcome"], "done", "{v}");
    assert_eq!(d["course"], "cardio-hta");
    assert_eq!(d["kcs"], serde_json::json!(["kc-cardio-hta-def"]));
    assert_eq!(
        (d["qcs"].as_u64(), d["qcm"].as_u64(), d["qroc"].as_u64()),
        (Some(0), Some(3), Some(1))
    );
    assert_eq!(d["difficulty"], "medium");
    assert_eq!(d["language"], "fr");
    assert!(d["finished_at"].is_string(), "{v}");
    let refused = d["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{v}");
    assert_eq!(refused[0]["code"], "link_or_html");
    let excerpt = refused[0]["excerpt"].as_str().unwrap();
    assert!(
        !excerpt.is_empty() && excerpt.chars().count() <= 91,
        "{excerpt}"
    );
    assert_eq!(d["drafts_created"].as_u64(), Some(3), "{v}");
    let (_, usage) = app
        .send_bearer(Method::GET, &author.token, "/api/v1/ai/usage", None)
        .await;
    assert!(d["tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        d["tokens"], usage["used_today"],
        "the request's tokens are its calls': {usage}"
    );
    // Another author still does not see it.
    let other = app.api_user(&["author"], &[], false).await;
    assert_eq!(
        app.send_bearer(Method::GET, &other.token, &path, None)
            .await
            .0,
        404
    );

    // The status page lists the refusal with its reason in the author's language (French).
    let (b, _) = app.staff("req-author@test.myqcm.local", "author", "").await;
    let res = post_page(&app, &b, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let html = app.get_as(&b, &to).await.text().await.unwrap();
    assert!(html.contains("data-reason=\"link_or_html\""), "{html}");
    assert!(
        html.contains("Contient un lien, une image ou du HTML."),
        "{html}"
    );
    assert!(html.contains("Propositions refusées"), "{html}");
    assert!(html.contains("data-request-tokens"), "{html}");
}

#[tokio::test]
async fn a_failed_request_keeps_its_error_and_refuses_nothing() {
    let fake = FakeLlm::start("k").await.unwrap();
    fake.knobs(|k| k.fail_next = 100);
    let app = app_with_llm(&fake).await;
    let author = app.api_user(&["author"], &[], false).await;
    let (_, req) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    let id = req["id"].as_str().unwrap().to_owned();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let path = format!("/api/v1/ai/generations/{id}");
    let (_, v): (u16, Value) = app
        .send_bearer(Method::GET, &author.token, &path, None)
        .await;
    assert_eq!(v["status"], "dead", "{v}");
    let d = &v["details"];
    assert_eq!(d["outcome"], "failed", "{v}");
    assert!(
        d["error"].as_str().unwrap().contains("nothing was saved"),
        "{v}"
    );
    assert_eq!(d["drafts_created"].as_u64(), Some(0));
    assert_eq!(d["refused"], serde_json::json!([]));
}

/// Erasing an account takes it out of the AI jobs it requested: its finished and queued
/// `ai.generate` and `ai.suggest_kcs` jobs are deleted (the queued ones never run, nothing is
/// sent to the model), and the one a worker is running keeps only an erasure marker and is
/// asked to stop. Here the erasure happens while that job waits for the model: its handler,
/// still holding the old payload, stops without saving a draft, and the call it had made is
/// billed to no one. Another author's request is untouched and runs.
#[tokio::test]
async fn erasing_the_requester_deletes_its_ai_jobs_and_stops_the_running_one() {
    use myqcm_jobs::{Interrupted, JobContext, JobHandler};
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let conn = &app.db.conn;
    let author = app.api_user(&["author", "reviewer"], &[], true).await;
    let other = app.api_user(&["author"], &[], false).await;
    let (s, _) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(s, 202);
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let calls_before = fake.calls().len();
    let drafts_before = myqcm_db::catalogue::count_items(conn).await.unwrap();
    // Two queued requests (a worker takes the first now), a KC run, another author's request.
    for _ in 0..2 {
        assert_eq!(
            upload(&app, &author, "cours.txt", TEXT.as_bytes()).await.0,
            202
        );
    }
    let (s, run) = app
        .send_bearer(
            Method::POST,
            &author.token,
            "/api/v1/ai/kc-suggestion-runs",
            Some(serde_json::json!({"course": "cardio-hta"})),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    assert_eq!(
        upload(&app, &other, "cours.txt", TEXT.as_bytes()).await.0,
        202
    );
    let running = claim(&app, "ai.generate").await;
    assert_eq!(running.payload["requester"], author.id.to_string());

    // The account's erasure is due; it runs while the held job's call is with the model.
    erasure_due(&app, author.id).await;
    let handler = myqcm_app::ai_jobs::AiGenerateJob {
        db: conn.clone(),
        usage: app.services.llm_usage,
        blobs: app.services.blobs.clone(),
        llm: Arc::new(ErasingModel {
            inner: app.services.llm.clone().unwrap(),
            deps: app.services.deps(),
            erased: AtomicUsize::new(0),
        }),
        clock: app.services.clock.clone(),
    };
    let ctx = JobContext::detached(running.id, 1, app.services.clock.clone());
    let err = handler.run(running.payload.clone(), ctx).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<Interrupted>(),
            Some(Interrupted::Cancelled)
        ),
        "{err}"
    );
    assert_eq!(
        fake.calls().len(),
        calls_before + 1,
        "the one call in flight"
    );
    assert_eq!(
        myqcm_db::catalogue::count_items(conn).await.unwrap(),
        drafts_before,
        "no draft was saved for the erased account"
    );
    assert!(
        myqcm_db::ai::calls_of_author(conn, author.id)
            .await
            .unwrap()
            .is_empty(),
        "no call stays billed to the erased account"
    );

    let jobs = all_jobs(&app).await;
    let naming: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind.starts_with("ai."))
        .filter(|j| j.payload.to_string().contains(&author.id.to_string()))
        .collect();
    assert!(naming.is_empty(), "no AI job names the account: {naming:?}");
    let kinds: Vec<&str> = jobs
        .iter()
        .filter(|j| j.kind.starts_with("ai."))
        .map(|j| j.kind.as_str())
        .collect();
    assert_eq!(kinds, ["ai.generate", "ai.generate"], "{jobs:?}");
    let held = jobs.iter().find(|j| j.id == running.id).unwrap();
    assert_eq!(held.payload, serde_json::json!({"erased": true}));
    assert!(held.cancel_requested_at.is_some(), "asked to stop");
    let theirs = jobs
        .iter()
        .find(|j| j.id != running.id && j.kind == "ai.generate")
        .unwrap();
    assert_eq!(
        theirs.payload["requester"],
        other.id.to_string(),
        "another author's request stays"
    );

    // Only the other author's request runs now; the erased account's queued ones never do.
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let theirs_id = theirs.payload["request_id"].as_str().unwrap();
    let sent: Vec<String> = fake.calls()[calls_before + 1..]
        .iter()
        .filter_map(|c| c.idempotency_key.clone())
        .collect();
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|k| k.starts_with(theirs_id)),
        "only the other author's request called the model: {sent:?}"
    );
}

/// A KC run whose requester is erased while its first item's call is with the model stops
/// before the next item, ends cancelled, and the call it made is billed to no one.
#[tokio::test]
async fn erasing_the_requester_stops_a_running_kc_run_and_bills_its_call_to_no_one() {
    use myqcm_jobs::{Interrupted, JobContext, JobHandler};
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let conn = &app.db.conn;
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let (s, run) = app
        .send_bearer(
            Method::POST,
            &reviewer.token,
            "/api/v1/ai/kc-suggestion-runs",
            Some(serde_json::json!({"course": "cardio-hta"})),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    let running = claim(&app, "ai.suggest_kcs").await;
    erasure_due(&app, reviewer.id).await;
    let handler = myqcm_app::ai_jobs::AiSuggestKcsJob {
        db: conn.clone(),
        usage: app.services.llm_usage,
        llm: Arc::new(ErasingModel {
            inner: app.services.llm.clone().unwrap(),
            deps: app.services.deps(),
            erased: AtomicUsize::new(0),
        }),
        clock: app.services.clock.clone(),
    };
    let ctx = JobContext::detached(running.id, 1, app.services.clock.clone());
    let err = handler.run(running.payload.clone(), ctx).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<Interrupted>(),
            Some(Interrupted::Cancelled)
        ),
        "{err}"
    );
    assert_eq!(fake.calls().len(), 1, "no item after the erasure was sent");
    assert!(
        myqcm_db::ai::calls_of_author(conn, reviewer.id)
            .await
            .unwrap()
            .is_empty(),
        "no call stays billed to the erased account"
    );
    let held = myqcm_db::jobs::get(conn, running.id).await.unwrap();
    assert_eq!(held.payload, serde_json::json!({"erased": true}));
}

/// A model that runs the due account erasures while its first call is in flight.
struct ErasingModel {
    inner: Arc<dyn LanguageModel>,
    deps: myqcm_services::identity::Deps,
    erased: AtomicUsize,
}

impl std::fmt::Debug for ErasingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasingModel")
    }
}

#[async_trait::async_trait]
impl LanguageModel for ErasingModel {
    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn complete_json(&self, request: &LlmRequest) -> Result<LlmAnswer, LlmError> {
        let answer = self.inner.complete_json(request).await;
        if self.erased.fetch_add(1, Ordering::SeqCst) == 0 {
            let n = myqcm_services::identity::privacy::erase_due(&self.deps)
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
        answer
    }
}

async fn all_jobs(app: &crate::support::TestApp) -> Vec<myqcm_db::jobs::JobRow> {
    let mut out = Vec::new();
    for status in myqcm_db::jobs::JobStatus::ALL {
        out.extend(
            myqcm_db::jobs::list(&app.db.conn, status, 1_000)
                .await
                .unwrap(),
        );
    }
    out.sort_by_key(|j| j.id);
    out
}
