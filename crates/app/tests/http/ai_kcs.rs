//! KC suggestions over real HTTP (issue 15) with the fake OpenAI-compatible server: for a saved
//! item and for a QROC being written, only KCs of the course's tree come back (the fake always
//! proposes one that is in no tree), at most three, best first, with the documented confidence
//! levels; a reviewer asks for them on the review page, adds one to the item's tags (audited)
//! and ignores another; a bulk run over a course is a job followed on the jobs stream; learners
//! get 403, and without a model every route is 404 and the page has no KC section.

use std::collections::BTreeSet;

use myqcm_testkit::fake_llm::{FakeLlm, OFF_TREE_KC};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ai::app_with_llm;
use crate::author_pages::Pages;
use crate::jobs::next_event;
use crate::support::{TestApp, spawn_app};

/// Codes of the `kc`-level nodes of subject `cardio` (the tree of every cardio course).
async fn cardio_kcs(app: &TestApp) -> BTreeSet<String> {
    let subject = myqcm_db::catalogue::subject_by_code(&app.db.conn, "cardio")
        .await
        .unwrap()
        .unwrap();
    myqcm_db::catalogue::kc_tree(&app.db.conn, subject.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.level == "kc")
        .map(|n| n.code)
        .collect()
}

pub(crate) async fn demo_item(app: &TestApp, external_id: &str) -> Uuid {
    myqcm_db::catalogue::item_by_external_id(&app.db.conn, external_id)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// `POST /api/v1/ai/kc-suggestions` for the saved item `item`, as the holder of `token`.
pub(crate) async fn suggest_for_item(app: &TestApp, token: &str, item: Uuid) -> (u16, Value) {
    app.send_bearer(
        Method::POST,
        token,
        "/api/v1/ai/kc-suggestions",
        Some(json!({"item": item})),
    )
    .await
}

/// Checks the shape every answer must have: 1 to 3 suggestions of the cardio tree, none off
/// the tree, scores non-increasing, confidence as documented.
fn check_suggestions(v: &Value, tree: &BTreeSet<String>) -> Vec<String> {
    let list = v["suggestions"].as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 3, "{v}");
    let mut last = f64::INFINITY;
    let mut codes = Vec::new();
    for s in list {
        let code = s["kc"].as_str().unwrap();
        assert_ne!(code, OFF_TREE_KC, "the off-tree KC is dropped: {v}");
        assert!(tree.contains(code), "{code} is in the course's tree");
        let score = s["score"].as_f64().unwrap();
        assert!(score <= last, "best first: {v}");
        last = score;
        let want = if score >= 0.75 {
            "high"
        } else if score >= 0.45 {
            "medium"
        } else {
            "low"
        };
        assert_eq!(s["confidence"], want, "{s}");
        codes.push(code.to_owned());
    }
    codes
}

#[tokio::test]
async fn suggestions_keep_the_best_three_kcs_of_the_course_tree_for_items_and_qroc_drafts() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let tree = cardio_kcs(&app).await;
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let item = demo_item(&app, "demo-cardio-0001").await;

    let (s, v) = suggest_for_item(&app, &reviewer.token, item).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["item"], item.to_string());
    assert_eq!(v["prompt_version"], "kc-v1");
    let codes = check_suggestions(&v, &tree);
    assert_eq!(codes.len(), 3, "the tree has more than three KCs: {v}");
    assert!(v["suggestions"][0]["score"].as_f64() > v["suggestions"][2]["score"].as_f64());
    // The fake answered in the tree's order with the off-tree code first: the product sorted and
    // filtered. The call carried the whole cardio tree as candidates and the item as data.
    let call = fake.calls().pop().unwrap();
    assert_eq!(
        call.body["response_format"]["json_schema"]["name"],
        "kc_suggestions"
    );
    let user = call.body["messages"][1]["content"].as_str().unwrap();
    assert_eq!(user.matches("\n- kc-cardio-").count(), tree.len(), "{user}");
    assert!(
        !user.contains("kc-pneumo"),
        "other subjects are not candidates"
    );

    // Stored for the review page, every one still to decide.
    let (s, stored) = app
        .send_bearer(
            Method::GET,
            &reviewer.token,
            &format!("/api/v1/ai/kc-suggestions/{item}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{stored}");
    assert_eq!(stored["suggestions"], v["suggestions"]);

    // A QROC being written: nothing stored, same rules; its answer and variants are sent.
    let author = app.api_user(&["author"], &[], false).await;
    let content = json!({
        "kind": "qroc", "locale": "fr", "difficulty": "easy", "estimated_seconds": 40,
        "stem": "Quel examen mesure la pression artérielle sur 24 heures en ambulatoire ?",
        "qroc": {"expected": "MAPA", "variants": ["mesure ambulatoire de la pression artérielle"]},
        "explanation": "La MAPA confirme le diagnostic d'HTA."
    });
    let (s, d) = app
        .send_bearer(
            Method::POST,
            &author.token,
            "/api/v1/ai/kc-suggestions",
            Some(json!({"course": "cardio-hta", "content": content})),
        )
        .await;
    assert_eq!(s, 200, "{d}");
    assert!(d["item"].is_null());
    let codes = check_suggestions(&d, &tree);
    assert_eq!(
        codes[0], "kc-cardio-hta-mesure",
        "the KC sharing the most words ranks first: {d}"
    );
    let user = fake.calls().pop().unwrap().body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user.contains("Expected answer: MAPA"), "{user}");
    assert!(
        user.contains("Accepted variant: mesure ambulatoire"),
        "{user}"
    );

    // Neither an item id and content at once, nor an unknown item.
    let (s, _) = app
        .send_bearer(
            Method::POST,
            &author.token,
            "/api/v1/ai/kc-suggestions",
            Some(json!({"item": item, "course": "cardio-hta", "content": content})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .send_bearer(
            Method::POST,
            &reviewer.token,
            "/api/v1/ai/kc-suggestions",
            Some(json!({"item": Uuid::now_v7()})),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn learners_are_refused_and_without_a_model_no_route_page_section_or_job_exists() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let item = demo_item(&app, "demo-cardio-0001").await;
    let learner = app.api_user(&["student"], &[], false).await;
    for (path, body) in [
        ("/api/v1/ai/kc-suggestions", json!({"item": item})),
        (
            "/api/v1/ai/kc-suggestion-runs",
            json!({"course": "cardio-hta"}),
        ),
    ] {
        let (s, v) = app
            .send_bearer(Method::POST, &learner.token, path, Some(body))
            .await;
        assert_eq!(s, 403, "{path}: {v}");
    }
    // An author may ask for one item but not run a whole course.
    let author = app.api_user(&["author"], &[], false).await;
    let (s, _) = app
        .send_bearer(
            Method::POST,
            &author.token,
            "/api/v1/ai/kc-suggestion-runs",
            Some(json!({"course": "cardio-hta"})),
        )
        .await;
    assert_eq!(s, 403);
    assert!(fake.calls().is_empty());

    let bare = spawn_app().await;
    bare.load_demo_bank().await;
    let item = demo_item(&bare, "demo-cardio-0001").await;
    let reviewer = bare.api_user(&["reviewer"], &[], true).await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/ai/kc-suggestions".to_owned(),
            Some(json!({"item": item})),
        ),
        (
            Method::GET,
            format!("/api/v1/ai/kc-suggestions/{item}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/ai/kc-suggestions/{item}/decisions"),
            Some(json!({"kc": "kc-cardio-hta-def", "decision": "add"})),
        ),
        (
            Method::POST,
            "/api/v1/ai/kc-suggestion-runs".to_owned(),
            Some(json!({"course": "cardio-hta"})),
        ),
        (
            Method::GET,
            format!("/api/v1/ai/kc-suggestion-runs/{}", Uuid::now_v7()),
            None,
        ),
    ] {
        let (s, v) = bare.send_bearer(method, &reviewer.token, &path, body).await;
        assert_eq!(s, 404, "{path}: {v}");
    }
    let page = Pages::new(bare.staff("nokc@example.com", "reviewer", "").await.0);
    let (s, html) = page.get(&bare, &format!("/review/items/{item}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !html.contains("id=\"kcs\""),
        "no KC section without a model"
    );
    assert!(!html.contains("kc-suggestions"));
    let (s, _, _) = page
        .post(&bare, &format!("/review/items/{item}/kc-suggestions"), &[])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let registry = myqcm_app::registry(&bare.services);
    assert!(!registry.kinds().contains(&"ai.suggest_kcs"));
    assert!(
        myqcm_app::registry(&app.services)
            .kinds()
            .contains(&"ai.suggest_kcs")
    );
}

#[tokio::test]
async fn a_reviewer_adds_a_suggested_kc_on_the_review_page_and_the_change_is_audited() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let reviewer = Pages::new(app.staff("kc-reviewer@example.com", "reviewer", "").await.0);
    let reviewer_id = app.account("kc-reviewer@example.com").await.id;
    let item = demo_item(&app, "demo-cardio-0001").await;
    let path = format!("/review/items/{item}");

    let (s, html) = reviewer.get(&app, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"kcs\""), "{html}");
    assert!(html.contains("Aucune suggestion pour l’instant"), "{html}");
    let (s, to, _) = reviewer
        .post(&app, &format!("{path}/kc-suggestions"), &[])
        .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, format!("{path}#kcs").as_str())
    );
    let (_, html) = reviewer.get(&app, &path).await;
    assert_eq!(html.matches("class=\"kc-suggestion\"").count(), 3, "{html}");
    assert!(!html.contains(OFF_TREE_KC));

    let (_, v) = app
        .get_json_as(&reviewer.b, &format!("/api/v1/ai/kc-suggestions/{item}"))
        .await;
    let untagged: Vec<String> = v["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tagged"] == false)
        .map(|s| s["kc"].as_str().unwrap().to_owned())
        .collect();
    assert!(untagged.len() >= 2, "{v}");
    let before: Vec<String> = myqcm_db::catalogue::item_kcs(&app.db.conn, item)
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n.code)
        .collect();

    let decide = format!("{path}/kc-suggestions/decision");
    let (s, _, _) = reviewer
        .post(&app, &decide, &[("kc", &untagged[0]), ("decision", "add")])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, _) = reviewer
        .post(
            &app,
            &decide,
            &[("kc", &untagged[1]), ("decision", "ignore")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    // A KC that was not suggested cannot be "accepted".
    let (s, _, _) = reviewer
        .post(
            &app,
            &decide,
            &[("kc", "kc-pneumo-asthme-diag"), ("decision", "add")],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let after = myqcm_db::catalogue::item_kcs(&app.db.conn, item)
        .await
        .unwrap();
    let codes: Vec<&str> = after.iter().map(|(n, _)| n.code.as_str()).collect();
    assert!(codes.contains(&untagged[0].as_str()), "{codes:?}");
    assert!(!codes.contains(&untagged[1].as_str()), "{codes:?}");
    assert_eq!(after.len(), before.len() + 1);
    let total: f64 = after.iter().map(|(_, w)| w).sum();
    assert!((total - 1.0).abs() < 1e-9, "weights stay normalised");
    let status = myqcm_db::catalogue::item_by_id(&app.db.conn, item)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(
        status, "approved",
        "tags are not content: the item stays approved"
    );

    let (_, html) = reviewer.get(&app, &path).await;
    assert!(
        html.contains("Acceptée") && html.contains("Ignorée"),
        "{html}"
    );
    assert!(html.contains("Compétences modifiées"), "in the history");
    let rows =
        myqcm_db::identity::audit::recent(&app.db.conn, Some("catalogue.item_kcs"), None, 10)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_id, Some(reviewer_id));
    assert_eq!(rows[0].target.as_deref(), Some(item.to_string().as_str()));
    let detail = app.audit_details("catalogue.item_kcs").await;
    assert_eq!(detail[0]["source"], "ai_suggestion");
    assert_eq!(detail[0]["from"], json!(before));
}

#[tokio::test]
async fn a_bulk_run_over_a_course_reports_progress_on_the_jobs_stream_and_stores_suggestions() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let tree = cardio_kcs(&app).await;
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let (s, run) = app
        .send_bearer(
            Method::POST,
            &reviewer.token,
            "/api/v1/ai/kc-suggestion-runs",
            Some(json!({"course": "cardio-hta"})),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    assert_eq!(run["status"], "queued");
    let id = run["id"].as_str().unwrap().to_owned();
    assert!(
        fake.calls().is_empty(),
        "nothing is sent before the job runs"
    );

    let mut stream = app
        .client
        .get(app.url(&format!("/api/v1/ai/kc-suggestion-runs/{id}/events")))
        .bearer_auth(&reviewer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    let first = next_event(&mut stream, &mut buf, |_| true).await.unwrap();
    assert_eq!(first["status"], "queued");

    let items = myqcm_db::catalogue::kc_suggestions::course_item_ids(
        &app.db.conn,
        myqcm_db::catalogue::course_by_code(&app.db.conn, "cardio-hta")
            .await
            .unwrap()
            .unwrap()
            .id,
    )
    .await
    .unwrap();
    let n = items.len();
    assert!(n >= 2);
    myqcm_app::worker(&app.services).drain().await.unwrap();

    let running = next_event(&mut stream, &mut buf, |v| {
        v["status"] == "running" && v["message"].is_string()
    })
    .await
    .expect("progress while running");
    assert!(
        running["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/ {n}")),
        "{running}"
    );
    let end = next_event(&mut stream, &mut buf, |v| v["finished"] == true)
        .await
        .unwrap();
    assert_eq!(end["status"], "done", "{end}");
    assert_eq!(end["progress"], 1.0);
    let summary = format!("{n} items: {n} with suggestions, 0 failed;");
    assert!(
        end["message"].as_str().unwrap().starts_with(&summary),
        "{end}"
    );

    let (s, done) = app
        .send_bearer(
            Method::GET,
            &reviewer.token,
            &format!("/api/v1/ai/kc-suggestion-runs/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(done["status"], "done");
    assert_eq!(fake.calls().len(), n, "one call per item");
    for item in [items[0], items[n - 1]] {
        let (_, v) = app
            .send_bearer(
                Method::GET,
                &reviewer.token,
                &format!("/api/v1/ai/kc-suggestions/{item}"),
                None,
            )
            .await;
        check_suggestions(&v, &tree);
    }
    // Another reviewer does not see the run.
    let other = app.api_user(&["reviewer"], &[], true).await;
    let (s, _) = app
        .send_bearer(
            Method::GET,
            &other.token,
            &format!("/api/v1/ai/kc-suggestion-runs/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_kc_suggestion_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let post = &doc["paths"]["/api/v1/ai/kc-suggestions"]["post"];
    assert!(post["responses"]["200"].is_object(), "{post}");
    assert!(post["responses"]["403"].is_object(), "{post}");
    for path in [
        "/api/v1/ai/kc-suggestions/{item}/decisions",
        "/api/v1/ai/kc-suggestion-runs",
    ] {
        assert!(doc["paths"][path]["post"].is_object(), "{path}");
    }
    for path in [
        "/api/v1/ai/kc-suggestions/{item}",
        "/api/v1/ai/kc-suggestion-runs/{id}",
        "/api/v1/ai/kc-suggestion-runs/{id}/events",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path}");
    }
}

/// The item editor: no suggestion yet → "suggest" queues the one-item run (asking twice
/// queues nothing more; typed changes come back); once the worker ran, the top three show with
/// score and confidence and "apply" ticks one in the form (nothing saved until the author
/// saves); without a model there is no section and the buttons answer 404.
#[tokio::test]
async fn an_author_asks_for_kc_suggestions_in_the_editor_and_applies_one_to_the_form() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let author = Pages::new(app.staff("kc-author@example.com", "author", "").await.0);
    let (s, location, _) = author
        .post(
            &app,
            "/author/items/new",
            &crate::author_pages::qcm("save", true),
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, html) = author.get(&app, &location).await;
    assert!(html.contains("id=\"kc-suggestions\""), "{html}");
    assert!(html.contains("value=\"suggest-kcs\""), "{html}");

    let mut typed = crate::author_pages::qcm("suggest-kcs", true);
    typed.retain(|(k, _)| *k != "stem");
    typed.push(("stem", "ZZUNSAVEDSTEM"));
    let (s, _, html) = author.post(&app, &location, &typed).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("ZZUNSAVEDSTEM"), "typed changes kept");
    assert!(html.contains("Suggestions demandées"), "{html}");
    assert!(html.contains("Suggestions en préparation"), "{html}");
    let (s, _, _) = author.post(&app, &location, &typed).await;
    assert_eq!(s, StatusCode::OK);
    let queued: Vec<_> = myqcm_db::jobs::list(&app.db.conn, myqcm_db::jobs::JobStatus::Queued, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "ai.suggest_kcs")
        .collect();
    assert_eq!(queued.len(), 1, "one run per item and revision");
    assert!(
        fake.calls().is_empty(),
        "the page never waits for the model"
    );

    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert_eq!(fake.calls().len(), 1);
    let (_, html) = author.get(&app, &location).await;
    assert_eq!(html.matches("class=\"kc-suggestion\"").count(), 3, "{html}");
    assert!(!html.contains("value=\"suggest-kcs\""), "suggestions exist");
    assert!(!html.contains(OFF_TREE_KC));
    let tree = cardio_kcs(&app).await;
    let code = tree
        .iter()
        .find(|c| html.contains(&format!("value=\"kc-add:{c}\"")))
        .unwrap_or_else(|| panic!("an untagged suggestion to apply: {html}"))
        .clone();

    let intent = format!("kc-add:{code}");
    let mut form = crate::author_pages::qcm("preview", true);
    form.retain(|(k, _)| *k != "intent");
    form.push(("intent", intent.as_str()));
    let (s, _, html) = author.post(&app, &location, &form).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains(&format!("value=\"{code}\" checked")),
        "ticked in the form"
    );
    assert!(
        html.contains("value=\"kc-cardio-hta-def\" checked"),
        "the others stay"
    );
    let id: Uuid = location.rsplit('/').next().unwrap().parse().unwrap();
    let tags = myqcm_db::catalogue::item_kcs(&app.db.conn, id)
        .await
        .unwrap();
    assert!(
        !tags.iter().any(|(n, _)| n.code == code),
        "nothing saved yet"
    );
    // Only a stored suggestion can be applied.
    let mut other = form.clone();
    other.retain(|(k, _)| *k != "intent");
    other.push(("intent", "kc-add:kc-pneumo-asthme-diag"));
    let (s, _, _) = author.post(&app, &location, &other).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let stored = |app: &TestApp| {
        let c = app.db.conn.clone();
        async move {
            myqcm_db::catalogue::kc_suggestions::of_item(&c, id)
                .await
                .unwrap()
        }
    };
    assert!(
        stored(&app).await.iter().all(|r| r.status == "pending"),
        "applying saves nothing"
    );

    // Saving the applied KC accepts its suggestion (audited); the others stay pending.
    let mut save = crate::author_pages::qcm("save", true);
    save.push(("kcs", code.as_str()));
    let (s, _, _) = author.post(&app, &location, &save).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let rows = stored(&app).await;
    let node = myqcm_db::catalogue::kc_by_code(&app.db.conn, &code)
        .await
        .unwrap()
        .unwrap();
    for r in &rows {
        let want = if r.kc_id == node.id {
            "accepted"
        } else {
            "pending"
        };
        assert_eq!(r.status, want, "{rows:?}");
    }
    let accepted = rows.iter().find(|r| r.kc_id == node.id).unwrap();
    assert!(accepted.decided_by.is_some() && accepted.decided_at.is_some());
    let detail = app.audit_details("catalogue.item_kcs").await;
    let last = detail.first().unwrap();
    assert_eq!(last["source"], "ai_suggestion", "{detail:?}");
    assert_eq!(last["via"], "editor");
    assert_eq!(last["accepted"], serde_json::json!([code]));
    // Saving again changes nothing more.
    let (s, _, _) = author.post(&app, &location, &save).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        app.audit_details("catalogue.item_kcs").await.len(),
        detail.len()
    );

    let bare = spawn_app().await;
    bare.load_demo_bank().await;
    let author = Pages::new(bare.staff("kc-author2@example.com", "author", "").await.0);
    let (_, location, _) = author
        .post(
            &bare,
            "/author/items/new",
            &crate::author_pages::qcm("save", true),
        )
        .await;
    let (_, html) = author.get(&bare, &location).await;
    assert!(!html.contains("kc-suggestions") && !html.contains("suggest-kcs"));
    let (s, _, _) = author
        .post(
            &bare,
            &location,
            &crate::author_pages::qcm("suggest-kcs", true),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
