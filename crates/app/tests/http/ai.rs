//! AI generation over real HTTP (issue 15) with the fake OpenAI-compatible server: an author
//! uploads a document, the `ai.generate` job runs on the worker, the drafts appear in the
//! author's list; learners are refused, the routes do not exist without a model, and a file of
//! the wrong type is refused with a message saying which types are accepted.

use std::sync::Arc;
use std::time::Duration;

use myqcm_integrations::llm::{LlmSettings, OpenAiCompatible};
use myqcm_services::ai::usage::UsagePolicy;
use myqcm_testkit::fake_llm::FakeLlm;
use myqcm_testkit::{fixed_clock, test_cache};
use serde_json::Value;

use crate::support::{ApiUser, Browser, TestApp, spawn_app, spawn_sharing};

/// The application with the fake model plugged in, and the demo bank loaded.
pub(crate) async fn app_with_llm(fake: &FakeLlm) -> TestApp {
    app_with_llm_usage(fake, UsagePolicy::default()).await
}

/// [`app_with_llm`] with `usage` as the prices and the daily limit.
pub(crate) async fn app_with_llm_usage(fake: &FakeLlm, usage: UsagePolicy) -> TestApp {
    let mut settings = LlmSettings::new(&fake.api_base, fake.key.clone(), "fake-model".into());
    settings.min_backoff = Duration::from_millis(5);
    settings.max_backoff = Duration::from_millis(10);
    let llm = Arc::new(OpenAiCompatible::new(settings).unwrap());
    let cache = test_cache().await.unwrap();
    let app = spawn_sharing(None, cache, fixed_clock(), |_, s| {
        *s = s.clone().with_llm(llm).with_llm_usage(usage);
    })
    .await;
    app.load_demo_bank().await;
    app
}

const BOUNDARY: &str = "myqcm-test-boundary-7c1f";

/// A `multipart/form-data` body (reqwest is built without its multipart feature): text fields,
/// then the file part.
fn form(fields: &[(&str, &str)], file_name: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

const FIELDS: &[(&str, &str)] = &[
    ("course", "cardio-hta"),
    ("kcs", "kc-cardio-hta-def"),
    ("qcs", "0"),
    ("qcm", "3"),
    ("qroc", "1"),
    ("difficulty", "medium"),
    ("language", "fr"),
];

pub(crate) const TEXT: &str = "L'hypertension artérielle se définit par une pression supérieure à 140/90 mmHg.\n\
La mesure ambulatoire sur 24 heures confirme le diagnostic.\n\
Les complications touchent le cœur, le rein, le cerveau et la rétine.\n";

pub(crate) async fn upload(
    app: &TestApp,
    u: &ApiUser,
    file_name: &str,
    file: &[u8],
) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/ai/generations"))
        .bearer_auth(&u.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(FIELDS, file_name, file))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(ct, "application/problem+json", "{body}");
    }
    (status, body)
}

async fn get(app: &TestApp, u: &ApiUser, path: &str) -> (u16, Value) {
    app.send_bearer(reqwest::Method::GET, &u.token, path, None)
        .await
}

#[tokio::test]
async fn an_author_uploads_a_text_document_and_finds_the_drafts_in_their_list() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let author = app.api_user(&["author"], &[], false).await;
    let (s, before) = get(&app, &author, "/api/v1/authoring/items").await;
    assert_eq!(s, 200, "{before}");
    assert_eq!(before["items"].as_array().unwrap().len(), 0, "{before}");

    let (s, req) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(s, 202, "{req}");
    assert_eq!(req["status"], "queued");
    assert_eq!(req["finished"], false);
    let id = req["id"].as_str().unwrap().to_owned();
    assert!(
        fake.calls().is_empty(),
        "nothing is sent before the job runs"
    );

    myqcm_app::worker(&app.services).drain().await.unwrap();

    let (s, done) = get(&app, &author, &format!("/api/v1/ai/generations/{id}")).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["finished"], true);
    assert!(
        done["message"]
            .as_str()
            .unwrap()
            .starts_with("4 drafts created; 0 refused"),
        "{done}"
    );
    assert!(!fake.calls().is_empty());

    let (s, list) = get(&app, &author, "/api/v1/authoring/items").await;
    assert_eq!(s, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{list}");
    assert!(items.iter().all(|i| i["status"] == "draft"), "{list}");

    // Another author does not see the request; its events stream ends at once (job over).
    let other = app.api_user(&["author"], &[], false).await;
    let (s, _) = get(&app, &other, &format!("/api/v1/ai/generations/{id}")).await;
    assert_eq!(s, 404);
    let res = app
        .client
        .get(app.url(&format!("/api/v1/ai/generations/{id}/events")))
        .bearer_auth(&author.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = res.text().await.unwrap();
    assert!(events.contains("\"status\":\"done\""), "{events}");
}

#[tokio::test]
async fn learners_are_refused_and_a_wrong_file_type_is_explained() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let learner = app.api_user(&["student"], &[], false).await;
    let (s, body) = upload(&app, &learner, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(s, 403, "{body}");

    let author = app.api_user(&["author"], &[], false).await;
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0binary";
    let (s, body) = upload(&app, &author, "cours.txt", elf).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "file", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("unsupported file type"), "{message}");
    assert!(message.contains("PDF"), "{message}");
    let (_, list) = get(&app, &author, "/api/v1/authoring/items").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn without_a_model_the_generation_routes_answer_404() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let author = app.api_user(&["author"], &[], false).await;
    let (s, body) = upload(&app, &author, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(s, 404, "{body}");
    let (s, _) = get(
        &app,
        &author,
        "/api/v1/ai/generations/0190a4f0-0000-7000-8000-000000000000",
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_generation_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let post = &doc["paths"]["/api/v1/ai/generations"]["post"];
    assert!(post["responses"]["202"].is_object(), "{post}");
    assert!(
        post["responses"]["422"]["content"]["application/problem+json"].is_object(),
        "{post}"
    );
    assert!(doc["paths"]["/api/v1/ai/generations/{id}"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/ai/generations/{id}/events"]["get"].is_object());
}

/// A multipart page post with `b`'s cookies and CSRF part, redirects not followed.
pub(crate) async fn post_page(
    app: &TestApp,
    b: &Browser,
    file_name: &str,
    file: &[u8],
) -> reqwest::Response {
    let mut fields = vec![("_csrf", b.csrf.as_str())];
    fields.extend_from_slice(FIELDS);
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/author/generate"))
        .header("cookie", b.cookie_header())
        .header("origin", &app.base)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(&fields, file_name, file))
        .send()
        .await
        .unwrap()
}

async fn page(app: &TestApp, b: &Browser, path: &str) -> (u16, String) {
    let res = app.get_as(b, path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_generate_page_works_without_javascript_until_the_drafts() {
    let fake = FakeLlm::start("k").await.unwrap();
    let app = app_with_llm(&fake).await;
    let (b, _) = app.staff("gen-author@test.myqcm.local", "author", "").await;
    let (s, list) = page(&app, &b, "/author").await;
    assert_eq!(s, 200);
    assert!(list.contains("href=\"/author/generate\""), "{list}");
    let (s, html) = page(&app, &b, "/author/generate").await;
    assert_eq!(s, 200);
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");

    let res = post_page(&app, &b, "cours.exe", b"MZ\x90\0\x03\0\0\0binary").await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("unsupported file type"), "{html}");
    assert!(
        html.contains("value=\"cardio-hta\""),
        "values are kept: {html}"
    );

    // A draft written by hand before: not one the request made.
    let hand = crate::author_pages::Pages::new(b.clone());
    let (s, own, _) = hand
        .post(
            &app,
            "/author/items/new",
            &crate::author_pages::qcm("save", true),
        )
        .await;
    assert_eq!(s, 303);

    let res = post_page(&app, &b, "cours.txt", TEXT.as_bytes()).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/author/generate/"), "{to}");
    let (s, html) = page(&app, &b, &to).await;
    assert_eq!(s, 200);
    // Followed live with JavaScript, by its refresh link without; never a timed refresh.
    assert!(!html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(html.contains(&format!("href=\"{to}\"")), "{html}");
    assert!(
        html.contains("data-job-events=\"/api/v1/ai/generations/"),
        "{html}"
    );

    myqcm_app::worker(&app.services).drain().await.unwrap();
    let (s, html) = page(&app, &b, &to).await;
    assert_eq!(s, 200);
    assert!(!html.contains("data-job-events"), "{html}");
    assert!(html.contains("4 drafts created"), "{html}");
    assert!(html.contains("href=\"/author?status=draft\""), "{html}");
    assert_eq!(html.matches("href=\"/author/items/").count(), 4, "{html}");
    assert!(
        !html.contains(&format!("href=\"{own}\"")),
        "only this request's drafts"
    );
    let first: Vec<&str> = html
        .split("href=\"/author/items/")
        .skip(1)
        .map(|t| &t[..36])
        .collect();

    // A second request: its page lists its own drafts, none of the first one's.
    let res = post_page(&app, &b, "cours.txt", TEXT.as_bytes()).await;
    let to2 = res.headers()["location"].to_str().unwrap().to_owned();
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let (_, html2) = page(&app, &b, &to2).await;
    assert!(first.iter().all(|id| !html2.contains(id)), "{html2}");
    assert!(!html2.contains(&format!("href=\"{own}\"")));
    let (_, again) = page(&app, &b, &to).await;
    assert_eq!(again.matches("href=\"/author/items/").count(), 4);

    let learner = app.learner("gen-learner@test.myqcm.local").await;
    assert_eq!(page(&app, &learner, "/author/generate").await.0, 403);
}

#[tokio::test]
async fn without_a_model_the_generate_page_does_not_exist_and_is_not_linked() {
    let app = spawn_app().await;
    let (b, _) = app.staff("nogen@test.myqcm.local", "author", "").await;
    let (_, list) = page(&app, &b, "/author").await;
    assert!(!list.contains("/author/generate"), "{list}");
    assert_eq!(page(&app, &b, "/author/generate").await.0, 404);
}
