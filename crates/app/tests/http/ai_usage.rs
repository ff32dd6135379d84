//! AI accounting over real HTTP (issue 15) with the fake OpenAI-compatible server: every model
//! call is recorded with its kind, the author billed, its request, the model, the tokens and
//! the estimated cost, readable per call, per request and per day by the author
//! (`GET /api/v1/ai/usage`, the table of `/author/generate`) and per author and day by admins
//! (`GET /api/v1/ai/usage/all`); the per-author daily token limit refuses a generation or a KC
//! suggestion before any call (403 `quota_exhausted`), and stops a running generation with
//! nothing saved.

use std::sync::Arc;

use myqcm_db::ai::LlmCallRow;
use myqcm_services::ai::usage::{UsagePolicy, day_of};
use myqcm_testkit::fake_llm::FakeLlm;
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::ai::{TEXT, app_with_llm_usage, post_page, upload};
use crate::ai_kcs::{demo_item, suggest_for_item};
use crate::support::TestApp;

/// Prices of the tests: 0.15 and 0.6 units per 1000 tokens, in micro-units.
fn policy(limit: u64) -> UsagePolicy {
    UsagePolicy {
        price_prompt_per_1k: 150_000,
        price_completion_per_1k: 600_000,
        daily_tokens_per_author: limit,
    }
}

/// One stored call of `kind` billed to `author`, `days_ago` days back, with these tokens and
/// the cost the test prices give them; `outcome` is `ok` or `malformed`.
async fn call_on(
    app: &TestApp,
    author: Option<Uuid>,
    kind: &str,
    days_ago: i64,
    (prompt, completion): (i64, i64),
    outcome: &str,
) {
    let at = app.now() - chrono::Duration::days(days_ago);
    let cost = policy(0).cost(
        u64::try_from(prompt).unwrap(),
        u64::try_from(completion).unwrap(),
    );
    myqcm_db::ai::insert_call(
        &app.db.conn,
        &LlmCallRow {
            id: Uuid::now_v7(),
            at: at.timestamp_millis(),
            day: day_of(at),
            kind: kind.into(),
            author_id: author,
            request_id: Some("earlier".into()),
            model: "fake-model".into(),
            prompt_tokens: prompt,
            completion_tokens: completion,
            cost_micros: cost,
            outcome: outcome.into(),
        },
    )
    .await
    .unwrap();
}

/// `tokens` already used today by `author` (one earlier call).
async fn used_today(app: &TestApp, author: Uuid, tokens: i64) {
    call_on(app, Some(author), "generation", 0, (tokens, 0), "ok").await;
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    app.send_bearer(Method::GET, token, path, None).await
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// A text of three chunks (about 6000 characters each).
fn long_text() -> String {
    let mut t = String::new();
    for i in 0..260 {
        t.push_str(&format!(
            "Paragraphe {i} : l'hypertension artérielle se définit par une pression supérieure à 140/90 mmHg.\n"
        ));
    }
    t
}

fn is_daily_limit(status: u16, body: &Value) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "quota_exhausted", "{body}");
    assert_eq!(body["errors"][0]["field"], "feature", "{body}");
    assert_eq!(body["errors"][0]["message"], "llm_daily_tokens", "{body}");
    assert_eq!(body["errors"][1]["field"], "resets_at", "{body}");
}

#[tokio::test]
async fn every_call_is_recorded_with_its_tokens_and_cost_per_call_request_and_day() {
    let fake = FakeLlm::start("k").await.unwrap();
    let prices = policy(1_000_000);
    let app = app_with_llm_usage(&fake, prices).await;
    let author = app.api_user(&["author"], &[], false).await;
    let (s, req) = upload(&app, &author, "cours.txt", long_text().as_bytes()).await;
    assert_eq!(s, 202, "{req}");
    let id = req["id"].as_str().unwrap().to_owned();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let (_, done) = get(&app, &author.token, &format!("/api/v1/ai/generations/{id}")).await;
    assert_eq!(done["status"], "done", "{done}");
    let message = done["message"].as_str().unwrap();
    let tokens: u64 = message
        .rsplit("; ")
        .next()
        .and_then(|t| t.strip_suffix(" tokens"))
        .unwrap()
        .parse()
        .unwrap();
    let calls = fake.calls().len();
    assert!(calls >= 2, "a long text makes several calls: {calls}");

    let (s, mine) = get(&app, &author.token, "/api/v1/ai/usage").await;
    assert_eq!(s, 200, "{mine}");
    let today = day_of(app.now());
    assert_eq!(mine["today"], today.as_str());
    assert_eq!(n(&mine["daily_limit"]), 1_000_000);
    assert_eq!(n(&mine["used_today"]), tokens, "{mine}");
    assert_eq!(n(&mine["remaining_today"]), 1_000_000 - tokens);
    let listed = mine["calls"].as_array().unwrap();
    assert_eq!(listed.len(), calls, "one row per call: {mine}");
    let mut cost = 0;
    for c in listed {
        assert_eq!(c["kind"], "generation", "{c}");
        assert_eq!(c["request_id"], id.as_str(), "{c}");
        assert_eq!(c["model"], "fake-model");
        let (p, q) = (n(&c["prompt_tokens"]), n(&c["completion_tokens"]));
        assert!(p > 0 && q > 0, "{c}");
        let want = u64::try_from(prices.cost(p, q)).unwrap();
        assert!(want > 0);
        assert_eq!(n(&c["cost_micros"]), want, "{c}");
        cost += want;
    }
    assert_eq!(mine["days"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["days"][0]["day"], today.as_str());
    assert_eq!(n(&mine["days"][0]["calls"]), calls as u64);
    assert_eq!(n(&mine["days"][0]["tokens"]), tokens);
    assert_eq!(n(&mine["days"][0]["cost_micros"]), cost);
    assert_eq!(mine["requests"][0]["request_id"], id.as_str());
    assert_eq!(n(&mine["requests"][0]["tokens"]), tokens);

    // A reviewer's KC suggestion is billed to the reviewer, not to the author.
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let item = demo_item(&app, "demo-cardio-0001").await;
    let (s, v) = suggest_for_item(&app, &reviewer.token, item).await;
    assert_eq!(s, 200, "{v}");
    let kc_tokens = n(&v["tokens"]);
    let (_, theirs) = get(&app, &reviewer.token, "/api/v1/ai/usage").await;
    assert_eq!(n(&theirs["used_today"]), kc_tokens, "{theirs}");
    assert_eq!(theirs["calls"][0]["kind"], "kc_suggestion");
    assert_eq!(theirs["requests"][0]["request_id"], format!("kc/{item}"));
    let (_, again) = get(&app, &author.token, "/api/v1/ai/usage").await;
    assert_eq!(n(&again["used_today"]), tokens);

    // Admins see everyone's per day, author and kind; authors may not.
    let admin = app.api_user(&["admin"], &["content"], true).await;
    let (s, all) = get(&app, &admin.token, "/api/v1/ai/usage/all?days=7").await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(n(&all["totals"]["tokens"]), tokens + kc_tokens, "{all}");
    let rows = all["rows"].as_array().unwrap();
    let row = |who: Uuid, kind: &str| {
        rows.iter()
            .find(|r| r["author_id"] == who.to_string() && r["kind"] == kind)
            .unwrap_or_else(|| panic!("{who} {kind}: {all}"))
            .clone()
    };
    assert_eq!(n(&row(author.id, "generation")["tokens"]), tokens);
    assert_eq!(n(&row(reviewer.id, "kc_suggestion")["tokens"]), kc_tokens);
    let email = email_of(&app, author.id).await;
    assert_eq!(row(author.id, "generation")["author_email"], email.as_str());
    assert_eq!(
        get(&app, &author.token, "/api/v1/ai/usage/all").await.0,
        403
    );
    let learner = app.api_user(&["student"], &[], false).await;
    assert_eq!(get(&app, &learner.token, "/api/v1/ai/usage").await.0, 403);
}

#[tokio::test]
async fn over_the_daily_limit_generation_and_kc_suggestions_are_refused_before_any_call() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm_usage(&fake, policy(5_000)).await;
    let author = app.api_user(&["author"], &[], false).await;
    used_today(&app, author.id, 5_000).await;
    let (s, body) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    is_daily_limit(s, &body);
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    used_today(&app, reviewer.id, 6_000).await;
    let item = demo_item(&app, "demo-cardio-0001").await;
    let (s, body) = suggest_for_item(&app, &reviewer.token, item).await;
    is_daily_limit(s, &body);
    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert!(fake.calls().is_empty(), "nothing was sent");
    let (_, mine) = get(&app, &author.token, "/api/v1/ai/usage").await;
    assert_eq!(n(&mine["used_today"]), 5_000);
    assert_eq!(n(&mine["remaining_today"]), 0);

    // Another author still may; the next Algerian day the first one may again.
    let other = app.api_user(&["author"], &[], false).await;
    assert_eq!(
        upload(&app, &other, "cours.txt", TEXT.as_bytes()).await.0,
        202
    );
    app.advance(chrono::Duration::days(1));
    let fresh = myqcm_services::identity::testing::issue_session_for(
        &app.db.conn,
        app.cache.clone(),
        Arc::new(app.clock.clone()),
        author.id,
    )
    .await
    .unwrap();
    let author = crate::support::ApiUser {
        id: author.id,
        token: fresh.access_token,
    };
    assert_eq!(
        upload(&app, &author, "cours.txt", TEXT.as_bytes()).await.0,
        202
    );
}

#[tokio::test]
async fn the_generate_page_shows_the_usage_and_the_limit_message() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm_usage(&fake, policy(5_000)).await;
    let (b, _) = app
        .staff("usage-author@test.myqcm.local", "author", "")
        .await;
    let id =
        myqcm_db::identity::accounts::find_by_email(&app.db.conn, "usage-author@test.myqcm.local")
            .await
            .unwrap()
            .unwrap()
            .id;
    used_today(&app, id, 4_000).await;
    call_on(&app, Some(id), "generation", 0, (321, 0), "malformed").await;
    let res = app.get_as(&b, "/author/generate").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"ai-usage\""), "{html}");
    assert!(
        html.contains("<strong data-usage-today>4321</strong> / 5000"),
        "an unusable reply's tokens count: {html}"
    );
    assert!(
        html.contains("<td>2</td><td data-usage-failed>1</td>"),
        "two calls, one unusable: {html}"
    );
    assert!(html.contains(&day_of(app.now())), "{html}");

    used_today(&app, id, 1_000).await;
    let res = post_page(&app, &b, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(res.status(), 403);
    let html = res.text().await.unwrap();
    // The author's language is French.
    assert!(html.contains("quota quotidien de 5"), "{html}");
    assert!(
        html.contains("value=\"cardio-hta\""),
        "values are kept: {html}"
    );
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_generation_stops_at_the_daily_limit_and_saves_nothing() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm_usage(&fake, policy(5_000)).await;
    let author = app.api_user(&["author"], &[], false).await;
    // Under the limit when asking; the first call takes the day over it.
    used_today(&app, author.id, 4_999).await;
    let (s, req) = upload(&app, &author, "cours.txt", long_text().as_bytes()).await;
    assert_eq!(s, 202, "{req}");
    let id = req["id"].as_str().unwrap().to_owned();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let (_, done) = get(&app, &author.token, &format!("/api/v1/ai/generations/{id}")).await;
    assert_eq!(done["status"], "dead", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("nothing was saved"), "{error}");
    assert!(error.contains("daily AI allowance"), "{error}");
    assert_eq!(fake.calls().len(), 1, "one call, then the limit");
    let (_, list) = get(&app, &author.token, "/api/v1/authoring/items").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    let (_, mine) = get(&app, &author.token, "/api/v1/ai/usage").await;
    let this = mine["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request_id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        n(&this["calls"]),
        1,
        "the billed call stays recorded: {mine}"
    );
}

async fn email_of(app: &TestApp, id: Uuid) -> String {
    myqcm_db::identity::accounts::get(&app.db.conn, id)
        .await
        .unwrap()
        .unwrap()
        .email
}

/// The number shown after `marker` in `html` (digits only: the grouping follows the language).
fn shown(html: &str, marker: &str) -> u64 {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {html}"));
    let text = &html[at + marker.len()..];
    let text = &text[..text.find('<').unwrap()];
    text.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {marker}: {text}"))
}

#[tokio::test]
async fn admins_read_everyones_usage_per_day_person_and_kind_on_a_page() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm_usage(&fake, policy(50_000)).await;
    let author = app.api_user(&["author"], &[], false).await;
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    call_on(&app, Some(author.id), "generation", 0, (1_000, 500), "ok").await;
    call_on(
        &app,
        Some(author.id),
        "generation",
        0,
        (2_000, 0),
        "malformed",
    )
    .await;
    call_on(
        &app,
        Some(reviewer.id),
        "kc_suggestion",
        3,
        (400, 100),
        "ok",
    )
    .await;
    call_on(&app, None, "grading", 0, (300, 50), "ok").await;
    call_on(
        &app,
        Some(author.id),
        "generation",
        10,
        (5_000, 5_000),
        "ok",
    )
    .await;

    let (admin, _) = app
        .staff("usage-admin@test.myqcm.local", "admin", "content")
        .await;
    let res = app.get_as(&admin, "/admin/ai-usage?days=7").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("href=\"/admin/ai-usage\""), "linked: {html}");
    // The week: three rows (the author's two calls of today summed), the old call left out.
    assert_eq!(shown(&html, "data-total=\"calls\">"), 4, "{html}");
    assert_eq!(shown(&html, "data-total=\"tokens\">"), 4_350, "{html}");
    assert_eq!(html.matches("<tr data-kind=").count(), 3, "{html}");
    let row = |marker: &str| {
        let at = html
            .find(marker)
            .unwrap_or_else(|| panic!("{marker}: {html}"));
        let start = html[..at].rfind("<tr").unwrap();
        html[start..at + html[at..].find("</tr>").unwrap()].to_owned()
    };
    let theirs = row(&format!("data-author=\"{}\"", author.id));
    assert_eq!(shown(&theirs, "data-tokens>"), 3_500, "{theirs}");
    // One of the author's two calls of today came back unusable: billed and counted apart.
    assert_eq!(shown(&theirs, "data-failed>"), 1, "{theirs}");
    assert_eq!(shown(&html, "data-total=\"failed\">"), 1, "{html}");
    assert!(
        theirs.contains(&email_of(&app, author.id).await),
        "{theirs}"
    );
    let kc = row(&format!("data-author=\"{}\"", reviewer.id));
    assert!(kc.contains(&email_of(&app, reviewer.id).await), "{kc}");
    assert!(kc.contains("data-kind=\"kc_suggestion\""), "{kc}");
    let grading = row("data-kind=\"grading\">");
    assert_eq!(shown(&grading, "data-tokens>"), 350, "{grading}");
    // Today first: the grading and generation rows come before the suggestion of three days ago.
    assert!(
        html.find("data-kind=\"grading\"").unwrap()
            < html.find("data-kind=\"kc_suggestion\"").unwrap()
    );
    // The cost column: 3,000 prompt and 500 answer tokens at 0.15 and 0.6 per thousand = 0.75.
    assert!(theirs.contains("0,7500"), "{theirs}");

    // Ninety days take the old call in; one day leaves the suggestion out.
    let all = app.get_as(&admin, "/admin/ai-usage?days=90").await;
    let all = all.text().await.unwrap();
    assert_eq!(shown(&all, "data-total=\"tokens\">"), 14_350);
    let today = app.get_as(&admin, "/admin/ai-usage?days=1").await;
    let today = today.text().await.unwrap();
    assert_eq!(shown(&today, "data-total=\"calls\">"), 3);
    assert!(!today.contains("kc_suggestion"), "{today}");

    // Finance admins read it too; authors and learners may not, and nobody sees it unlinked.
    let (finance, _) = app
        .staff("usage-finance@test.myqcm.local", "admin", "finance")
        .await;
    assert_eq!(app.get_as(&finance, "/admin/ai-usage").await.status(), 200);
    let (writer, _) = app
        .staff("usage-author@test.myqcm.local", "author", "")
        .await;
    assert_eq!(app.get_as(&writer, "/admin/ai-usage").await.status(), 403);
    let dash = app.get_as(&writer, "/author").await.text().await.unwrap();
    assert!(!dash.contains("/admin/ai-usage"), "{dash}");
    let learner = app.learner("usage-learner@test.myqcm.local").await;
    assert_eq!(app.get_as(&learner, "/admin/ai-usage").await.status(), 403);
}

#[tokio::test]
async fn the_usage_page_explains_an_empty_period_and_is_absent_without_a_model() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm_usage(&fake, UsagePolicy::default()).await;
    let (admin, _) = app
        .staff("usage-empty@test.myqcm.local", "admin", "content")
        .await;
    let html = app
        .get_as(&admin, "/admin/ai-usage")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("class=\"empty-state\""), "{html}");
    assert!(!html.contains("id=\"ai-usage-rows\""), "{html}");
    assert_eq!(shown(&html, "data-total=\"tokens\">"), 0);

    let bare = crate::support::spawn_app().await;
    let (admin, _) = bare
        .staff("usage-nomodel@test.myqcm.local", "admin", "content")
        .await;
    assert_eq!(bare.get_as(&admin, "/admin/ai-usage").await.status(), 404);
    let dash = bare
        .get_as(&admin, "/dashboard")
        .await
        .text()
        .await
        .unwrap();
    assert!(!dash.contains("/admin/ai-usage"), "{dash}");
}

/// A reply that came back unusable (here not JSON) was billed by the provider: it is recorded
/// with its tokens and the outcome `malformed`, shown apart in the usage views, and counts
/// toward the daily limit, so the author's next request is refused before any call. A KC
/// suggestion answered the same way is recorded the same way.
#[tokio::test]
async fn a_malformed_reply_is_recorded_with_its_tokens_and_counts_toward_the_daily_limit() {
    let fake = FakeLlm::start("k").await.unwrap();
    fake.knobs(|k| k.malformed = true);
    let prices = policy(5_000);
    let app = app_with_llm_usage(&fake, prices).await;
    let author = app.api_user(&["author"], &[], false).await;
    // Under the limit when asking: only the unusable reply can take the day over it.
    used_today(&app, author.id, 4_990).await;
    let (s, req) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(s, 202, "{req}");
    let id = req["id"].as_str().unwrap().to_owned();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert_eq!(fake.calls().len(), 1, "a malformed reply is not retried");
    let (_, done) = get(&app, &author.token, &format!("/api/v1/ai/generations/{id}")).await;
    assert_eq!(done["status"], "dead", "{done}");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("nothing was saved"),
        "{done}"
    );

    let (_, mine) = get(&app, &author.token, "/api/v1/ai/usage").await;
    let calls = mine["calls"].as_array().unwrap();
    assert_eq!(
        calls.len(),
        2,
        "the earlier call and the malformed one: {mine}"
    );
    let call = calls
        .iter()
        .find(|c| c["request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("the malformed call is recorded: {mine}"));
    assert_eq!(call["outcome"], "malformed", "{call}");
    assert_eq!(call["kind"], "generation");
    assert_eq!(call["model"], "fake-model");
    let (p, q) = (n(&call["prompt_tokens"]), n(&call["completion_tokens"]));
    assert!(p > 0 && q > 0, "the billed tokens are kept: {call}");
    assert_eq!(
        n(&call["cost_micros"]),
        u64::try_from(prices.cost(p, q)).unwrap()
    );
    let earlier = calls.iter().find(|c| c["request_id"] == "earlier").unwrap();
    assert_eq!(earlier["outcome"], "ok");
    assert_eq!(n(&mine["used_today"]), 4_990 + p + q, "{mine}");
    assert!(n(&mine["used_today"]) >= 5_000, "{mine}");
    assert_eq!(n(&mine["remaining_today"]), 0);
    assert_eq!(n(&mine["days"][0]["calls"]), 2, "{mine}");
    assert_eq!(n(&mine["days"][0]["failed_calls"]), 1, "{mine}");
    let this = mine["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request_id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(n(&this["failed_calls"]), 1, "{this}");
    assert_eq!(n(&this["tokens"]), p + q, "{this}");
    assert_eq!(
        n(&done["details"]["tokens"]),
        p + q,
        "the failed request's tokens: {done}"
    );

    // Over the limit now: the next request is refused before any call.
    let (s, body) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    is_daily_limit(s, &body);
    assert_eq!(fake.calls().len(), 1, "nothing more was sent");

    // The admin view counts it apart too.
    let admin = app.api_user(&["admin"], &["content"], true).await;
    let (_, all) = get(&app, &admin.token, "/api/v1/ai/usage/all?days=1").await;
    assert_eq!(n(&all["totals"]["failed_calls"]), 1, "{all}");

    // A KC suggestion answered unusably: 503, recorded with its tokens, billed to the asker.
    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let item = demo_item(&app, "demo-cardio-0001").await;
    let (s, v) = suggest_for_item(&app, &reviewer.token, item).await;
    assert_eq!(s, 503, "{v}");
    let (_, theirs) = get(&app, &reviewer.token, "/api/v1/ai/usage").await;
    assert_eq!(theirs["calls"][0]["kind"], "kc_suggestion", "{theirs}");
    assert_eq!(theirs["calls"][0]["outcome"], "malformed", "{theirs}");
    assert!(n(&theirs["used_today"]) > 0, "{theirs}");
}
