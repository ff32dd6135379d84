//! Generation requests are kept (issue 15, `generation_request`): over real HTTP with the fake
//! model, a finished request shows what was asked, the drafts created, the tokens used and
//! every refused proposal with its reason code and the beginning of its stem, in the API and
//! on its status page (reasons in the author's language); a failed request keeps its error.

use myqcm_testkit::fake_llm::FakeLlm;
use reqwest::Method;
use serde_json::Value;

use crate::ai::{TEXT, app_with_llm, post_page, upload};

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
