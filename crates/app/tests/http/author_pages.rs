//! The author pages through their forms, as a browser without JavaScript uses them: an author
//! writes a QCM, gets a validation error with every value kept, fixes it, previews it (raw HTML
//! never reaches the page as markup), saves and submits it for review; learners are refused;
//! staff without two-step sign-in are sent to enrol; staff headers on every response. The editor
//! is also a `multipart/form-data` form: its image input stores an image and appends its
//! Markdown reference to the stem.

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

impl Pages {
    /// Sends `form` as `multipart/form-data` (`_csrf` first unless `csrf` is false), with
    /// `file` as the part `image` when given: (status, location, body).
    pub(crate) async fn post_multipart(
        &self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
        csrf: bool,
    ) -> (StatusCode, String, String) {
        let boundary = "----zzeditorboundary4q8Lw";
        let mut body: Vec<u8> = Vec::new();
        let mut text = |name: &str, value: &str| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        };
        if csrf {
            text("_csrf", &self.b.csrf);
        }
        for (k, v) in form {
            text(k, v);
        }
        if let Some((name, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; \
                     filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let res = self
            .client
            .post(app.url(path))
            .header("cookie", self.b.cookie_header())
            .header("origin", &app.base)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
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

/// The start of a PNG file (the image use case reads the type from these bytes).
pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRzzpng";

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

    // Withdrawn before a reviewer decides: a draft again, editable, the step in the history.
    assert!(item.contains(&format!(r#"action="{location}/withdraw""#)));
    let (s, to, _) = p.post(&app, &format!("{location}/withdraw"), &[]).await;
    assert_eq!((s, to), (StatusCode::SEE_OTHER, location.clone()));
    let (_, item) = p.get(&app, &location).await;
    assert!(item.contains("status-draft"));
    assert!(item.contains(r#"id="editor-form""#));
    assert!(
        item.contains("Retirée de la relecture"),
        "the history says so"
    );
    assert!(!item.contains(&format!(r#"action="{location}/withdraw""#)));
    // A draft cannot be withdrawn again.
    let (s, _, _) = p.post(&app, &format!("{location}/withdraw"), &[]).await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn an_author_adds_an_image_to_the_stem_through_the_editors_upload_and_saves_it() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("imager@example.com", "author", "").await;
    let p = Pages::new(b);
    let (_, editor) = p.get(&app, "/author/items/new").await;
    assert!(editor.contains(r#"enctype="multipart/form-data""#));
    assert!(editor.contains(r#"<input id="image" name="image" type="file""#));

    // Refusals come back next to the file input, everything typed kept, nothing stored.
    let mut fields = qcm("image", true);
    fields.push(("image_alt", "Tracé [MAPA]"));
    let (s, _, html) = p
        .post_multipart(&app, "/author/items/new", &fields, None, true)
        .await;
    assert_eq!(s, 422);
    assert!(html.contains(r#"id="image-error""#) && html.contains("Choisissez un fichier image"));
    assert!(html.contains("ZZKEPTEXPLANATION") && html.contains("ZZSOURCELABEL"));
    let (s, _, html) = p
        .post_multipart(
            &app,
            "/author/items/new",
            &fields,
            Some(("x.pdf", b"%PDF-1.7")),
            true,
        )
        .await;
    assert_eq!(s, 422);
    assert!(
        html.contains("Seules les images PNG, JPEG et WebP"),
        "{html}"
    );
    let no_alt = qcm("image", true);
    let (s, _, html) = p
        .post_multipart(
            &app,
            "/author/items/new",
            &no_alt,
            Some(("a.png", PNG)),
            true,
        )
        .await;
    assert_eq!(s, 422);
    assert!(html.contains("Décrivez l’image"));
    // Without the CSRF part the upload is refused before anything runs.
    let (s, _, _) = p
        .post_multipart(
            &app,
            "/author/items/new",
            &fields,
            Some(("a.png", PNG)),
            false,
        )
        .await;
    assert_eq!(s, 403);

    // A PNG with a description: stored, its reference appended to the stem and shown, the
    // preview renders it from the media route; the brackets that would end the reference go.
    let (s, _, html) = p
        .post_multipart(
            &app,
            "/author/items/new",
            &fields,
            Some(("a.png", PNG)),
            true,
        )
        .await;
    assert_eq!(s, 200, "{html}");
    let at = html.find("](/api/v1/media/").expect("a media reference");
    let id = &html[at + "](/api/v1/media/".len()..][..36];
    let reference = format!("![Tracé MAPA](/api/v1/media/{id})");
    assert!(
        html.contains(&format!(r#"<code id="image-ref">{reference}</code>"#)),
        "{html}"
    );
    assert!(
        html.contains(&format!("&#60;/script&#62;\n\n{reference}</textarea>")),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"src="/api/v1/media/{id}""#)),
        "preview"
    );
    assert!(html.contains("ZZKEPTEXPLANATION"), "the rest is kept");
    let res = p.get_res(&app, &format!("/api/v1/media/{id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // Saving the stem with the reference (the same multipart form) keeps the image.
    let stem = format!("{STEM}\n\n{reference}");
    let save: Vec<(&str, &str)> = qcm("save", true)
        .into_iter()
        .map(|(k, v)| {
            if k == "stem" {
                (k, stem.as_str())
            } else {
                (k, v)
            }
        })
        .collect();
    let (s, location, _) = p
        .post_multipart(&app, "/author/items/new", &save, None, true)
        .await;
    assert_eq!(s, 303);
    let (_, item) = p.get(&app, &location).await;
    assert!(
        item.contains(&format!(r#"src="/api/v1/media/{id}""#)),
        "{item}"
    );
    // On the saved draft the upload works the same (the page's own form posts to the item).
    let mut again: Vec<(&str, &str)> = save
        .iter()
        .map(|&(k, v)| if k == "intent" { (k, "image") } else { (k, v) })
        .collect();
    again.push(("image_alt", "Tracé MAPA"));
    let (s, _, html) = p
        .post_multipart(&app, &location, &again, Some(("b.png", PNG)), true)
        .await;
    assert_eq!(s, 200);
    assert!(
        html.contains(&format!("{reference}\n\n![Tracé MAPA](/api/v1/media/")),
        "the second reference follows the saved one: {html}"
    );

    // A learner cannot upload through the page.
    let learner = Pages::new(app.learner("pupil@example.com").await);
    let (s, _, _) = learner
        .post_multipart(
            &app,
            "/author/items/new",
            &fields,
            Some(("a.png", PNG)),
            true,
        )
        .await;
    assert_eq!(s, 403);
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

/// The fields of a three-step case (the second step a QCM whose key is ticked when `fixed`).
fn case_form(intent: &'static str, fixed: bool) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        ("intent", intent),
        ("steps", "3"),
        ("course", "cardio-hta"),
        ("locale", "fr"),
        ("title", "ZZCASETITLE"),
        (
            "scenario",
            "Homme de 58 ans, **céphalées**. <script>alert('zzcase')</script>",
        ),
        ("objectives", "Confirmer une HTA\n\nTraiter"),
        ("s0_kind", "qcs"),
        ("s0_stem", "ZZSTEPONE : premier examen ?"),
        ("s0_option_text_0", "MAPA"),
        ("s0_option_correct_0", "on"),
        ("s0_option_text_1", "Scanner"),
        ("s0_kcs", "kc-cardio-hta-def"),
        ("s0_difficulty", "easy"),
        ("s1_kind", "qcm"),
        ("s1_stem", "ZZSTEPTWO : quels traitements ?"),
        ("s1_option_text_0", "IEC"),
        ("s1_option_explanation_0", "ZZKEPTSTEPEXPLANATION"),
        ("s1_option_text_1", "Antibiotique"),
        ("s1_kcs", "kc-cardio-hta-def"),
        ("s2_kind", "qroc"),
        ("s2_stem", "ZZSTEPTHREE : objectif tensionnel ?"),
        ("s2_qroc_expected", "140/90"),
        ("s2_kcs", "kc-cardio-hta-def"),
    ];
    if fixed {
        f.push(("s1_option_correct_0", "on"));
    }
    f
}

#[tokio::test]
async fn an_author_writes_a_clinical_case_with_its_steps_without_javascript() {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    let (b, _) = app.staff("caser@example.com", "student,author", "").await;
    let p = Pages::new(b);

    let (s, list) = p.get(&app, "/author").await;
    assert_eq!(s, 200);
    assert!(list.contains(r#"href="/author/cases/new""#));
    let (s, form) = p.get(&app, "/author/cases/new").await;
    assert_eq!(s, 200);
    assert!(form.contains(r#"name="s0_stem""#) && form.contains(r#"name="s1_stem""#));
    assert!(!form.contains(r#"name="s2_stem""#), "two steps to begin");
    assert!(form.contains(r#"<option value="kc-cardio-hta-def">"#));

    // "Add a step": a third step appears, everything typed is kept.
    let mut two = case_form("add_step", false);
    two.retain(|(k, _)| *k != "steps");
    two.push(("steps", "2"));
    let (s, _, html) = p.post(&app, "/author/cases/new", &two).await;
    assert_eq!(s, 200);
    assert!(html.contains(r#"name="s2_stem""#));
    assert!(html.contains("ZZCASETITLE") && html.contains("ZZSTEPTWO"));
    assert!(html.contains(r#"name="steps" value="3""#));

    // The second step has no key: the error sits on that step's options, nothing is saved.
    let (s, _, html) = p
        .post(&app, "/author/cases/new", &case_form("save", false))
        .await;
    assert_eq!(s, 422, "{html}");
    assert!(
        html.contains(r##"href="#s1_options""##),
        "summary links to the step"
    );
    assert!(html.contains("ZZKEPTSTEPEXPLANATION") && html.contains("ZZSTEPTHREE"));
    assert!(html.contains(r#"name="s0_option_correct_0" value="on" checked"#));
    assert!(!html.contains("<script>alert"));
    let (_, drafts) = p.get(&app, "/author?status=draft").await;
    assert!(!drafts.contains("ZZSTEPONE"), "nothing saved");

    let (s, location, html) = p
        .post(&app, "/author/cases/new", &case_form("save", true))
        .await;
    assert_eq!(s, 303, "{html}");
    assert!(location.starts_with("/author/cases/"), "{location}");
    let res = p.get_res(&app, &location).await;
    assert_eq!(res.headers()["cache-control"], "no-store, private");
    let page = res.text().await.unwrap();
    assert!(page.contains("ZZCASETITLE"));
    assert!(page.contains("<strong>céphalées</strong>"));
    assert!(!page.contains("<script>alert"), "the scenario is sanitised");
    assert!(page.contains("<li>Confirmer une HTA</li><li>Traiter</li>"));
    let steps: Vec<&str> = page
        .split(r#"<a href="/author/items/"#)
        .skip(1)
        .map(|s| &s[..36])
        .collect();
    assert_eq!(steps.len(), 3, "{page}");
    assert_eq!(page.matches("status-draft").count(), 3);
    // Each step opens in the item editor, in order.
    for (step, marker) in steps.iter().zip(["ZZSTEPONE", "ZZSTEPTWO", "ZZSTEPTHREE"]) {
        let (s, item) = p.get(&app, &format!("/author/items/{step}")).await;
        assert_eq!(s, 200);
        assert!(item.contains(marker), "{step} holds {marker}");
    }

    // Another author does not see it; a learner may not write one.
    let (other, _) = app.staff("other@example.com", "student,author", "").await;
    let (s, _) = Pages::new(other).get(&app, &location).await;
    assert_eq!(s, 404);
    let learner = Pages::new(app.learner("pupil@example.com").await);
    let (s, _) = learner.get(&app, "/author/cases/new").await;
    assert_eq!(s, 403);
    let (s, _, _) = learner
        .post(&app, "/author/cases/new", &case_form("save", true))
        .await;
    assert_eq!(s, 403);
    app.stop().await;
}
