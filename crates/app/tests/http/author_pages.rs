//! The author pages through their forms, as a browser without JavaScript uses them: an author
//! writes a QCM, gets a validation error with every value kept, fixes it, previews it (raw HTML
//! never reaches the page as markup), saves and submits it for review; learners are refused;
//! staff without two-step sign-in are sent to enrol; staff headers on every response.

use reqwest::StatusCode;

use crate::support::{Browser, PW, TestApp, spawn_app};

/// A browser without JavaScript: cookies, the CSRF field, no redirect following (shared with
/// the review page tests).
pub(crate) struct Pages {
    pub(crate) b: Browser,
    client: reqwest::Client,
}

impl Pages {
    pub(crate) fn new(b: Browser) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { b, client }
    }

    pub(crate) async fn get_res(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client
            .get(app.url(path))
            .header("cookie", self.b.cookie_header())
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let res = self.get_res(app, path).await;
        (res.status(), res.text().await.unwrap())
    }

    pub(crate) async fn post(
        &self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let mut pairs = vec![("_csrf", self.b.csrf.as_str())];
        pairs.extend_from_slice(form);
        let res = self
            .client
            .post(app.url(path))
            .header("cookie", self.b.cookie_header())
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (res.status(), location, res.text().await.unwrap())
    }
}

pub(crate) const STEM: &str = "Quel examen confirme une HTA ? <script>alert('zzxss')</script>";

/// A QCM in the editor's fields; `correct` ticks the first option.
pub(crate) fn qcm(intent: &'static str, correct: bool) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        ("intent", intent),
        ("kind", "qcm"),
        ("course", "cardio-hta"),
        ("locale", "fr"),
        ("stem", STEM),
        ("option_text_0", "MAPA des 24 h"),
        ("option_explanation_0", "Référence ZZKEPTEXPLANATION"),
        ("option_text_1", "Échographie rénale"),
        ("explanation", "Explication **générale**"),
        ("kcs", "kc-cardio-hta-def"),
        ("difficulty", "hard"),
        ("estimated_seconds", "45"),
        ("source_kind", "book"),
        ("source_label", "ZZSOURCELABEL"),
    ];
    if correct {
        f.push(("option_correct_0", "on"));
    }
    f
}

#[tokio::test]
async fn an_author_writes_previews_fixes_and_submits_a_qcm() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("writer@example.com", "student,author", "").await;
    let p = Pages::new(b);

    let res = p.get_res(&app, "/author").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store, private");
    assert!(
        res.headers()["x-robots-tag"]
            .to_str()
            .unwrap()
            .contains("noindex")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<meta name="robots" content="noindex, nofollow">"#));
    assert!(
        html.contains(r#"href="/author/items/new""#),
        "empty state leads to the editor"
    );
    assert!(html.contains("empty-state"));

    let (s, editor) = p.get(&app, "/author/items/new").await;
    assert_eq!(s, 200);
    assert!(
        editor.contains(r#"value="kc-cardio-hta-def""#),
        "KCs from the tree"
    );
    assert!(
        editor.contains(r#"<option value="cardio-hta""#),
        "courses by subject"
    );

    // No option ticked: a QCM needs one; every value comes back, the error sits by the options.
    let (s, _, html) = p.post(&app, "/author/items/new", &qcm("save", false)).await;
    assert_eq!(s, 422);
    assert!(
        html.contains(r#"id="options-error""#),
        "error next to the options"
    );
    assert!(html.contains("error-summary"));
    assert!(html.contains("MAPA des 24 h") && html.contains("ZZKEPTEXPLANATION"));
    assert!(html.contains("ZZSOURCELABEL"));
    assert!(html.contains(r#"<option value="hard" selected>"#));
    assert!(html.contains(r#"value="kc-cardio-hta-def" checked"#));
    assert!(html.contains(r#"value="45""#));
    assert!(
        !html.contains("<script>alert"),
        "the stem is escaped in the form"
    );

    // Preview through the learners' renderer: the script is text, the markdown is rendered.
    let (s, _, html) = p
        .post(&app, "/author/items/new", &qcm("preview", true))
        .await;
    assert_eq!(s, 200);
    assert!(
        !html.contains("<script>alert"),
        "no script reaches the preview"
    );
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("<strong>générale</strong>"));
    assert!(html.contains(r#"name="option_correct_0" value="on" checked"#));

    // The htmx live preview answers with the same fragment.
    let (s, _, frag) = p.post(&app, "/author/preview", &qcm("preview", true)).await;
    assert_eq!(s, 200);
    assert!(frag.contains("<strong>générale</strong>") && !frag.contains("<script>alert"));

    let (s, location, _) = p.post(&app, "/author/items/new", &qcm("save", true)).await;
    assert_eq!(s, 303);
    assert!(location.starts_with("/author/items/"), "{location}");
    let (s, item) = p.get(&app, &location).await;
    assert_eq!(s, 200);
    assert!(item.contains("status-draft"));
    assert!(item.contains("ZZKEPTEXPLANATION"));
    assert!(!item.contains("<script>alert"));

    let (s, list) = p.get(&app, "/author?status=draft").await;
    assert_eq!(s, 200);
    assert!(list.contains(&format!(r#"href="{location}""#)));

    let (s, to, _) = p
        .post(
            &app,
            &format!("{location}/comments"),
            &[("body", "ZZCOMMENT")],
        )
        .await;
    assert_eq!(
        (s, to.starts_with(&location)),
        (StatusCode::SEE_OTHER, true)
    );
    let (s, to, _) = p.post(&app, &format!("{location}/submit"), &[]).await;
    assert_eq!((s, to), (StatusCode::SEE_OTHER, location.clone()));
    let (_, item) = p.get(&app, &location).await;
    assert!(item.contains("status-in_review"));
    assert!(item.contains("ZZCOMMENT"), "comments in the history");
    assert!(
        !item.contains(r#"id="editor-form""#),
        "no editing while in review"
    );

    let (_, drafts) = p.get(&app, "/author?status=draft").await;
    assert!(!drafts.contains(&location));
    let (_, review) = p.get(&app, "/author?status=in_review").await;
    assert!(review.contains(&location));
    let (_, found) = p.get(&app, "/author?q=MAPA").await;
    assert!(found.contains(&location));
    let (_, dash) = p.get(&app, "/dashboard").await;
    assert!(
        dash.contains(r#"href="/author""#),
        "the navigation links the author pages"
    );
}

#[tokio::test]
async fn learners_are_refused_and_unenrolled_staff_are_sent_to_enrol() {
    let app = spawn_app().await;
    let learner = Pages::new(app.learner("learner@example.com").await);
    let (s, dash) = learner.get(&app, "/dashboard").await;
    assert_eq!(s, 200);
    assert!(!dash.contains(r#"href="/author""#));
    for path in ["/author", "/author/items/new"] {
        let (s, _) = learner.get(&app, path).await;
        assert_eq!(s, 403, "{path}");
    }
    let (s, _, _) = learner
        .post(&app, "/author/items/new", &qcm("save", true))
        .await;
    assert_eq!(s, 403);

    app.sign_up_verified("staff@example.com", PW).await;
    app.set_roles("staff@example.com", "author,reviewer", "")
        .await;
    let staff = Pages::new(app.sign_in("staff@example.com", PW).await);
    let res = staff.get_res(&app, "/author").await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["cache-control"], "no-store, private");
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"href="/settings#mfa-title""#),
        "the page leads to the enrolment"
    );
    let (s, html) = staff.get(&app, "/author/items/new").await;
    assert_eq!(s, 403);
    assert!(html.contains(r#"href="/settings#mfa-title""#));
}

#[tokio::test]
async fn a_rejected_draft_shows_as_changes_requested_with_the_reason() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("writer2@example.com", "student,author", "").await;
    let p = Pages::new(b);
    let (s, item, _) = p.post(&app, "/author/items/new", &qcm("save", true)).await;
    assert_eq!(s, 303);
    let (s, _, _) = p.post(&app, &format!("{item}/submit"), &[]).await;
    assert_eq!(s, 303);

    let reviewer = app.api_user(&["reviewer"], &[], true).await;
    let id = item.trim_start_matches("/author/items/");
    let (s, v) = app
        .send_bearer(
            reqwest::Method::POST,
            &reviewer.token,
            &format!("/api/v1/authoring/items/{id}/transitions"),
            Some(serde_json::json!({"action": "reject", "reason": "ZZREASON: cite the guideline"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let (_, list) = p.get(&app, "/author?status=changes_requested").await;
    assert!(list.contains(&item), "listed under changes requested");
    assert!(list.contains("status-changes_requested"));
    let (_, drafts) = p.get(&app, "/author?status=draft").await;
    assert!(!drafts.contains(&item), "not a plain draft");
    let (_, page) = p.get(&app, &item).await;
    assert!(
        page.contains("ZZREASON: cite the guideline"),
        "the reviewer's reason"
    );
    assert!(page.contains(r#"id="editor-form""#), "editable again");

    // Still requested after an edit, until it is submitted again.
    let (s, _, _) = p.post(&app, &item, &qcm("save", true)).await;
    assert_eq!(s, 303);
    let (_, list) = p.get(&app, "/author?status=changes_requested").await;
    assert!(list.contains(&item));
    let (_, page) = p.get(&app, &item).await;
    assert!(
        page.contains("Révision 2") || page.contains("Revision 2"),
        "both revisions listed"
    );
}

#[tokio::test]
async fn the_list_pages_through_older_items() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("prolific@example.com", "author", "").await;
    for i in 0..21 {
        let res = app
            .post_as(
                &b,
                "/api/v1/authoring/items",
                serde_json::json!({
                    "course": "cardio-hta",
                    "kcs": [{"kc": "kc-cardio-hta-def"}],
                    "content": {
                        "kind": "qcs", "locale": "fr", "difficulty": "easy", "estimated_seconds": 40,
                        "stem": format!("ZZSTEM{i:02} question"),
                        "options": [{"text": "a", "correct": true}, {"text": "b", "correct": false}]
                    }
                }),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let p = Pages::new(b);
    let (_, first) = p.get(&app, "/author").await;
    assert_eq!(first.matches("ZZSTEM").count(), 20);
    let next = first
        .split(r#"rel="next""#)
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .map(|s| s.split('"').next().unwrap().replace("&#38;", "&"))
        .unwrap();
    assert!(next.contains("before="), "{next}");
    let (s, second) = p.get(&app, &next).await;
    assert_eq!(s, 200);
    assert_eq!(second.matches("ZZSTEM").count(), 1);
    assert!(!second.contains(r#"rel="next""#));
}
