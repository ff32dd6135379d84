//! The item-quality pages and API: a reviewer finds an open alert in `/review/alerts`, opens the
//! item's analysis, dismisses the alert (audit-logged); an item without graded answers explains
//! itself; learners get 403 on the pages and the API. (The analysis itself, from a cohort's
//! answers, is tested in `crates/services/tests/quality.rs`.)

use reqwest::Method;
use sea_orm::EntityTrait;

use crate::author_pages::Pages;
use crate::support::spawn_app;

#[tokio::test]
async fn reviewers_see_and_dismiss_quality_alerts_and_learners_get_403() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let item = myqcm_db::catalogue::item::Entity::find()
        .one(&app.db.conn)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (rb, _) = app.staff("reviewer@example.com", "reviewer", "").await;
    let reviewer = Pages::new(rb);
    let learner_browser = app.learner("learner@example.com").await;
    let learner = Pages::new(learner_browser.clone());

    let (s, empty) = reviewer.get(&app, "/review/alerts").await;
    assert_eq!(s, 200);
    assert!(empty.contains("empty-state"), "no alert explains itself");

    myqcm_db::training::quality::raise_alert(
        &app.db.conn,
        item,
        "likely_miskey",
        r#"{"point_biserial":-0.31,"preferred_option":2}"#,
        app.now().timestamp_millis(),
    )
    .await
    .unwrap();

    let res = reviewer.get_res(&app, "/review/alerts").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store, private");
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"<meta name="robots" content="noindex, nofollow">"#));
    assert!(page.contains("Clé probablement fausse"), "{page}");
    assert!(page.contains(&format!(r#"href="/review/items/{item}/quality""#)));

    let (s, q) = reviewer
        .get(&app, &format!("/review/items/{item}/quality"))
        .await;
    assert_eq!(s, 200);
    assert!(q.contains("Aucune réponse notée"), "no answers yet: {q}");
    assert!(q.contains("une autre option · ouverte"));

    // The JSON API says the same.
    let res = app
        .send_as(
            &reviewer.b,
            Method::GET,
            &format!("/api/v1/authoring/items/{item}/quality"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["answers"], 0);
    assert_eq!(v["alerts"][0]["code"], "likely_miskey");
    assert_eq!(v["alerts"][0]["detail"]["preferred_option"], 2);
    let res = app
        .send_as(&reviewer.b, Method::GET, "/api/v1/review/alerts", None)
        .await;
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);

    // Learners: 403 on the pages and the API, and they cannot dismiss.
    for path in [
        "/review/alerts".to_owned(),
        format!("/review/items/{item}/quality"),
    ] {
        let (s, _) = learner.get(&app, &path).await;
        assert_eq!(s, 403, "{path}");
    }
    for path in [
        "/api/v1/review/alerts".to_owned(),
        format!("/api/v1/authoring/items/{item}/quality"),
    ] {
        let res = app
            .send_as(&learner_browser, Method::GET, &path, None)
            .await;
        assert!(
            [403, 404].contains(&res.status().as_u16()),
            "{path}: {}",
            res.status()
        );
    }
    let (s, _, _) = learner
        .post(&app, &format!("/review/alerts/{item}/likely_miskey"), &[])
        .await;
    assert_eq!(s, 403);

    // The reviewer dismisses it: gone from the list, kept on the item, audit-logged.
    let (s, location, _) = reviewer
        .post(&app, &format!("/review/alerts/{item}/likely_miskey"), &[])
        .await;
    assert_eq!((s.as_u16(), location.as_str()), (303, "/review/alerts"));
    let (_, after) = reviewer.get(&app, "/review/alerts").await;
    assert!(after.contains("empty-state"));
    let (_, q) = reviewer
        .get(&app, &format!("/review/items/{item}/quality"))
        .await;
    assert!(q.contains("une autre option · écartée"));
    let rows =
        myqcm_db::identity::audit::recent(&app.db.conn, Some("item.alert_dismissed"), None, 10)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].actor_id,
        Some(app.account("reviewer@example.com").await.id)
    );
    // A second dismissal finds nothing open.
    let (s, _, _) = reviewer
        .post(&app, &format!("/review/alerts/{item}/likely_miskey"), &[])
        .await;
    assert_eq!(s, 404);
}
