//! The HTML pages over real HTTP: language negotiation and RTL, localised error pages with the
//! request id, the pre-session CSRF cookie on signed-out forms, and the account journeys through
//! the forms (sign-up → mail code → sign-in → dashboard; wrong password; reset through the mail's
//! link; session renewal from the refresh cookie; sign-out; language switch).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::collections::BTreeMap;

use crate::support::*;

/// A tiny browser: cookies by name (prefix-less, http), no automatic redirects.
struct Jar {
    cookies: BTreeMap<String, String>,
    client: reqwest::Client,
    accept_language: String,
}

impl Jar {
    fn new() -> Self {
        Self::with_language("fr")
    }

    fn with_language(lang: &str) -> Self {
        Self {
            cookies: BTreeMap::new(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            accept_language: lang.to_owned(),
        }
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, res: &reqwest::Response) {
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    async fn get(
        &mut self,
        app: &TestApp,
        path: &str,
    ) -> (reqwest::StatusCode, String, reqwest::header::HeaderMap) {
        let res = self
            .client
            .get(app.url(path))
            .header("cookie", self.header())
            .header("accept-language", &self.accept_language)
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        let status = res.status();
        let headers = res.headers().clone();
        (status, res.text().await.unwrap(), headers)
    }

    async fn post(
        &mut self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> (reqwest::StatusCode, String, reqwest::header::HeaderMap) {
        let res = self
            .client
            .post(app.url(path))
            .header("cookie", self.header())
            .header("accept-language", &self.accept_language)
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        let status = res.status();
        let headers = res.headers().clone();
        (status, res.text().await.unwrap(), headers)
    }
}

/// The `_csrf` value of the first form in `html`.
fn csrf_in(html: &str) -> String {
    let i = html.find("name=\"_csrf\" value=\"").expect("a _csrf field");
    let rest = &html[i + "name=\"_csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn location(h: &reqwest::header::HeaderMap) -> String {
    h.get("location").unwrap().to_str().unwrap().to_owned()
}

#[tokio::test]
async fn pages_speak_french_arabic_and_english() {
    let app = spawn().await;
    let mut fr = Jar::new();
    let (s, html, h) = fr.get(&app, "/").await;
    assert_eq!(s, 200);
    assert!(html.contains("<html lang=\"fr\" dir=\"ltr\">"), "{html}");
    assert!(html.contains("entraînement adaptatif"));
    assert!(html.contains("href=\"/sign-up\""));
    assert!(html.contains("/static/vendor/htmx-2.0.11.min.js"));
    assert!(html.contains("\"includeIndicatorStyles\":false"));
    assert!(!html.contains("style="), "no inline style");
    assert!(!html.contains("<script>"), "no inline script");
    assert!(
        h.get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(
        fr.cookies.contains_key("myqcm_csrf"),
        "pre-session CSRF cookie set"
    );

    let mut ar = Jar::with_language("ar-DZ,ar;q=0.9");
    let (_, html, _) = ar.get(&app, "/").await;
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(html.contains("تدريب تكيّفي"));

    let mut en = Jar::with_language("en-GB,en;q=0.8");
    let (_, html, _) = en.get(&app, "/sign-in").await;
    assert!(html.contains("<html lang=\"en\" dir=\"ltr\">"));
    assert!(html.contains("Forgot your password?"));

    // The switch, before sign-in, is remembered in the `lang` cookie.
    let csrf = csrf_in(&html);
    let (s, _, h) = en
        .post(
            &app,
            "/language",
            &[("_csrf", &csrf), ("lang", "ar"), ("next", "/sign-in")],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(location(&h), "/sign-in");
    assert_eq!(en.cookies.get("lang").map(String::as_str), Some("ar"));
    let (_, html, _) = en.get(&app, "/sign-in").await;
    assert!(html.contains("dir=\"rtl\""));
}

#[tokio::test]
async fn error_pages_are_localised_and_quote_the_request_id() {
    let app = spawn().await;
    let mut en = Jar::with_language("en");
    let (s, html, h) = en.get(&app, "/no/such/page").await;
    assert_eq!(s, 404);
    let id = h.get("x-request-id").unwrap().to_str().unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains(id), "the request id is on the page");
    assert!(html.contains("href=\"/\""), "a way back");
    let mut fr = Jar::new();
    let (_, html, _) = fr.get(&app, "/no/such/page").await;
    assert!(html.contains("Page introuvable"));
    let mut ar = Jar::with_language("ar");
    let (_, html, _) = ar.get(&app, "/no/such/page").await;
    assert!(html.contains("الصفحة غير موجودة") && html.contains("dir=\"rtl\""));
}

#[tokio::test]
async fn signed_out_forms_need_the_pre_session_token() {
    let app = spawn().await;
    let mut b = Jar::new();
    b.get(&app, "/sign-up").await;
    let form = [
        ("display_name", "Amina"),
        ("email", "amina@example.dz"),
        ("password", PW),
    ];
    let (s, html, _) = b.post(&app, "/sign-up", &form).await;
    assert_eq!(s, 403, "no _csrf");
    assert!(html.contains("La demande n’a pas pu être vérifiée"));
    let mut with_wrong = form.to_vec();
    with_wrong.push(("_csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let (s, _, _) = b.post(&app, "/sign-up", &with_wrong).await;
    assert_eq!(s, 403, "a token that is not the cookie's");
    assert!(app.mails_to("amina@example.dz").await.is_empty());
}

#[tokio::test]
async fn a_nul_byte_typed_into_a_page_form_is_refused_not_a_server_error() {
    // PostgreSQL cannot store U+0000 in text: before the form extractor checked it, a sign-up or
    // sign-in form with such an address answered 500 there.
    let app = spawn().await;
    let mut b = Jar::new();
    let (_, html, _) = b.get(&app, "/sign-in").await;
    let csrf = csrf_in(&html);
    for path in ["/sign-in", "/sign-up"] {
        let (s, body, _) = b
            .post(
                &app,
                path,
                &[
                    ("_csrf", csrf.as_str()),
                    ("display_name", "Amina"),
                    ("email", "a\u{0}b@example.dz"),
                    ("password", PW),
                ],
            )
            .await;
        assert_eq!(s, 422, "{path}: {body}");
        assert!(
            body.contains("<html lang=\"fr\""),
            "{path}: a localised error page"
        );
    }
    assert!(app.mails().await.is_empty());
}

#[tokio::test]
async fn sign_up_verify_by_code_sign_in_and_reach_the_dashboard() {
    let app = spawn().await;
    let mut b = Jar::new();
    let (_, html, _) = b.get(&app, "/sign-up").await;
    let csrf = csrf_in(&html);
    // A weak password keeps what was typed and says what is wrong.
    let (s, html, _) = b
        .post(
            &app,
            "/sign-up",
            &[
                ("_csrf", &csrf),
                ("display_name", "Amina"),
                ("email", "amina@example.dz"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    assert!(html.contains("<title>Erreur :"));
    assert!(
        html.contains("href=\"#password\""),
        "the summary links to the field"
    );
    assert!(html.contains("value=\"amina@example.dz\""));
    let (s, _, h) = b
        .post(
            &app,
            "/sign-up",
            &[
                ("_csrf", &csrf),
                ("display_name", "Amina"),
                ("email", "amina@example.dz"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(s, 303);
    let to = location(&h);
    assert!(to.starts_with("/verify-email?sent=1"), "{to}");
    let (s, html, _) = b.get(&app, &to).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("ne pouvez pas commencer"),
        "says why training waits"
    );
    let mail = app.last_link_mail_to("amina@example.dz").await;
    // The mail's link opens this page.
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("#token="))
        .unwrap();
    assert!(
        link.starts_with(&format!("{}/verify-email#token=", app.base)),
        "{link}"
    );
    let (s, _, _) = b.get(&app, "/verify-email").await;
    assert_eq!(s, 200);
    let code = code_in(&mail.text);
    let (s, html, _) = b
        .post(
            &app,
            "/verify-email",
            &[
                ("_csrf", &csrf),
                ("email", "amina@example.dz"),
                ("code", "000000"),
            ],
        )
        .await;
    assert!(s == 400 || code == "000000", "wrong code refused: {s}");
    assert!(html.contains("n’est pas valide ou a expiré") || code == "000000");
    let (s, _, h) = b
        .post(
            &app,
            "/verify-email",
            &[
                ("_csrf", &csrf),
                ("email", "amina@example.dz"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(location(&h), "/sign-in?verified=1&next=%2Fonboarding");
    let (_, html, _) = b.get(&app, "/sign-in?verified=1&next=%2Fonboarding").await;
    assert!(html.contains("Adresse confirmée"));
    let (s, _, h) = b
        .post(
            &app,
            "/sign-in",
            &[
                ("_csrf", &csrf),
                ("email", "amina@example.dz"),
                ("password", PW),
                ("next", "/dashboard"),
            ],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(location(&h), "/dashboard");
    assert!(b.cookies.contains_key("myqcm_access"));
    let (s, html, _) = b.get(&app, "/dashboard").await;
    assert_eq!(s, 200);
    assert!(html.contains("Bonjour Amina"));
    assert!(html.contains("action=\"/sign-out\""));
}

#[tokio::test]
async fn wrong_password_then_right_one() {
    let app = spawn().await;
    app.sign_up_verified("sami@example.dz", PW).await;
    let mut b = Jar::with_language("en");
    let (_, html, _) = b.get(&app, "/sign-in").await;
    let csrf = csrf_in(&html);
    let (s, html, _) = b
        .post(
            &app,
            "/sign-in",
            &[
                ("_csrf", &csrf),
                ("email", "sami@example.dz"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(s, 401);
    assert!(html.contains("Email or password incorrect"));
    assert!(
        html.contains("value=\"sami@example.dz\""),
        "the address is kept"
    );
    assert!(
        !html.contains("not the password"),
        "the password is not echoed"
    );
    assert!(!b.cookies.contains_key("myqcm_access"));
    let (s, _, h) = b
        .post(
            &app,
            "/sign-in",
            &[
                ("_csrf", &csrf),
                ("email", "sami@example.dz"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(location(&h), "/dashboard", "default landing after sign-in");
    // Unsafe next targets are ignored.
    b.cookies.remove("myqcm_access");
    b.cookies.remove("myqcm_refresh");
    let (_, _, h) = b
        .post(
            &app,
            "/sign-in",
            &[
                ("_csrf", &csrf),
                ("email", "sami@example.dz"),
                ("password", PW),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(location(&h), "/dashboard");
}

#[tokio::test]
async fn reset_through_the_mail_link_then_sign_in_with_the_new_password() {
    let app = spawn().await;
    app.sign_up_verified("lina@example.dz", PW).await;
    let mut b = Jar::new();
    let (_, html, _) = b.get(&app, "/password-reset").await;
    let csrf = csrf_in(&html);
    let (s, html, _) = b
        .post(
            &app,
            "/password-reset",
            &[("_csrf", &csrf), ("email", "lina@example.dz")],
        )
        .await;
    assert_eq!(s, 200);
    assert!(html.contains("un lien valable 30 minutes"));
    let mail = app.last_link_mail_to("lina@example.dz").await;
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("#token="))
        .unwrap();
    assert!(link.starts_with(&format!("{}/password-reset#token=", app.base)));
    let (s, html, _) = b.get(&app, "/password-reset").await;
    assert_eq!(s, 200);
    assert!(html.contains("action=\"/password-reset/confirm\""));
    let token = token_in(&mail.text);
    let new_pw = "another long passphrase";
    let (s, _, h) = b
        .post(
            &app,
            "/password-reset/confirm",
            &[
                ("_csrf", &csrf),
                ("token", &token),
                ("new_password", new_pw),
            ],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(location(&h), "/sign-in?reset=1");
    let (s, _, _) = b
        .post(
            &app,
            "/password-reset/confirm",
            &[
                ("_csrf", &csrf),
                ("token", &token),
                ("new_password", new_pw),
            ],
        )
        .await;
    assert_eq!(s, 400, "the link works once");
    let (s, _, _) = b
        .post(
            &app,
            "/sign-in",
            &[
                ("_csrf", &csrf),
                ("email", "lina@example.dz"),
                ("password", new_pw),
            ],
        )
        .await;
    assert_eq!(s, 303);
}

#[tokio::test]
async fn pages_renew_an_expired_access_cookie_and_sign_out_ends_it() {
    let app = spawn().await;
    app.sign_up_verified("omar@example.dz", PW).await;
    let mut b = Jar::new();
    let (_, html, _) = b.get(&app, "/sign-in").await;
    let csrf = csrf_in(&html);
    b.post(
        &app,
        "/sign-in",
        &[
            ("_csrf", &csrf),
            ("email", "omar@example.dz"),
            ("password", PW),
        ],
    )
    .await;
    let old_refresh = b.cookies["myqcm_refresh"].clone();
    // The browser dropped the expired access cookie; the refresh cookie renews the session.
    b.cookies.remove("myqcm_access");
    let (s, html, _) = b.get(&app, "/dashboard").await;
    assert_eq!(s, 200, "{html}");
    assert!(
        b.cookies.contains_key("myqcm_access"),
        "a new access cookie"
    );
    assert_ne!(
        b.cookies["myqcm_refresh"], old_refresh,
        "the refresh token rotated"
    );
    let csrf = csrf_in(&html);
    let (s, _, h) = b.post(&app, "/sign-out", &[("_csrf", &csrf)]).await;
    assert_eq!(s, 303);
    assert_eq!(location(&h), "/");
    assert!(h.get("clear-site-data").is_some());
    assert!(!b.cookies.contains_key("myqcm_access"));
    let (s, _, h) = b.get(&app, "/dashboard").await;
    assert_eq!(s, 303);
    assert_eq!(location(&h), "/sign-in?next=%2Fdashboard");
}

#[tokio::test]
async fn the_language_is_remembered_on_the_account() {
    let app = spawn().await;
    app.sign_up_verified("nour@example.dz", PW).await;
    let mut b = Jar::new();
    let (_, html, _) = b.get(&app, "/sign-in").await;
    let csrf = csrf_in(&html);
    b.post(
        &app,
        "/sign-in",
        &[
            ("_csrf", &csrf),
            ("email", "nour@example.dz"),
            ("password", PW),
        ],
    )
    .await;
    let (_, html, _) = b.get(&app, "/dashboard").await;
    let csrf = csrf_in(&html);
    let (s, _, _) = b
        .post(
            &app,
            "/language",
            &[("_csrf", &csrf), ("lang", "ar"), ("next", "/dashboard")],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(app.account("nour@example.dz").await.locale, "ar");
    // Even with the cookie gone and a French browser, the account's language wins.
    b.cookies.remove("lang");
    let (_, html, _) = b.get(&app, "/dashboard").await;
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"));
    // A signed-in form with the pre-session token instead of the session's is refused.
    let pre = b.cookies["myqcm_csrf"].clone();
    let (s, _, _) = b
        .post(&app, "/language", &[("_csrf", &pre), ("lang", "en")])
        .await;
    assert_eq!(s, 403);
}

/// An operator who closes sign-up and the practice area (`MYQCM_DISABLED_AREAS`) must not leave
/// links into them on any page, nor routes that still work: the pages and the API answer the
/// ordinary 404; areas left on keep working.
#[tokio::test]
async fn switched_off_areas_disappear_from_pages_and_answer_404() {
    // The learner's account predates the switch (sign-up is closed on the second instance).
    let open = spawn().await;
    let b = open.learner("areas@example.dz").await;
    assert!(
        open.get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("href=\"/sign-up\"")
    );
    let dash = open.get_as(&b, "/dashboard").await.text().await.unwrap();
    assert!(dash.contains("href=\"/practice"));
    let app = spawn_sharing(
        Some(open.db.clone()),
        open.cache.clone(),
        open.clock.clone(),
        |w, _| w.disabled_areas = vec![myqcm_web::Area::SignUp, myqcm_web::Area::Practice],
    )
    .await;
    for path in ["/", "/sign-in"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        assert!(!html.contains("href=\"/sign-up\""), "{path} links sign-up");
    }
    let res = app.get("/sign-up").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text().await.unwrap().contains("<html"),
        "the HTML 404 page"
    );
    let res = app
        .post(
            "/api/v1/auth/sign-up",
            &serde_json::json!({"email": "new@example.dz", "password": PW, "display_name": "N"}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert!(
        app.mails_to("new@example.dz").await.is_empty(),
        "no account made"
    );
    let dash = app.get_as(&b, "/dashboard").await.text().await.unwrap();
    assert!(
        !dash.contains("href=\"/practice"),
        "the dashboard links practice"
    );
    assert!(dash.contains("href=\"/progress\""), "progress stays on");
    assert_eq!(app.get_as(&b, "/practice").await.status(), 404);
    assert_eq!(
        app.get_as(&b, "/api/v1/training-sessions").await.status(),
        404
    );
    assert_eq!(app.get_as(&b, "/progress").await.status(), 200);
    assert_eq!(app.get_as(&b, "/api/v1/progress").await.status(), 200);
}

#[tokio::test]
async fn the_legal_pages_are_linked_from_every_page_and_quote_this_instances_settings() {
    let app = spawn_with(|w| w.contact_email = Some("contact@myqcm.example".into())).await;
    let mut fr = Jar::new();
    let (_, landing, _) = fr.get(&app, "/").await;
    for link in ["/privacy", "/terms", "/security-policy"] {
        assert!(landing.contains(&format!("href=\"{link}\"")), "{link}");
    }
    let (s, html, _) = fr.get(&app, "/privacy").await;
    assert_eq!(s, 200);
    assert!(html.contains("Politique de confidentialité"), "{html}");
    assert!(html.contains("contact@myqcm.example"));
    // The retention periods are this instance's configuration (the defaults here).
    assert!(
        html.contains("supprimées 90 jours après leur fin"),
        "{html}"
    );
    assert!(html.contains("effacé 14 jours plus tard"));
    assert!(html.contains("18-07"));
    // Blank lines in the text make paragraphs: "what we keep" has five.
    let data = html.split("id=\"data\"").nth(1).unwrap();
    let data = data.split("</section>").next().unwrap();
    assert_eq!(data.matches("<p>").count(), 5, "{data}");
    let mut ar = Jar::with_language("ar");
    let (s, html, _) = ar.get(&app, "/terms").await;
    assert_eq!(s, 200);
    assert!(html.contains("dir=\"rtl\"") && html.contains("شروط الاستخدام"));
    let mut en = Jar::with_language("en");
    let (s, html, _) = en.get(&app, "/security-policy").await;
    assert_eq!(s, 200);
    assert!(html.contains("Security policy") && html.contains("contact@myqcm.example"));

    let res = app
        .client
        .get(app.url("/.well-known/security.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Contact: mailto:contact@myqcm.example\n"),
        "{body}"
    );
    assert!(body.contains(&format!("Policy: {}/security-policy\n", app.base)));
    let expires = body
        .lines()
        .find_map(|l| l.strip_prefix("Expires: "))
        .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    let now = myqcm_domain::Clock::now(&app.clock);
    assert!(expires > now && expires < now + chrono::Duration::days(366));

    // Without a contact address there is nothing to publish.
    let bare = spawn().await;
    let res = bare
        .client
        .get(bare.url("/.well-known/security.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// A rejection rendered again as problem+json or an error page is sent uncompressed and says so:
/// the compression layer had packed axum's bare rejection and its `Content-Encoding: gzip` was
/// copied onto the new, plain body, so clients failed to decode it (found by schemathesis).
#[tokio::test]
async fn re_rendered_rejections_never_claim_a_compression_they_do_not_have() {
    let app = spawn().await;
    app.sign_up_verified("gzip2@example.dz", PW).await;
    let t = app.token_grant("gzip2@example.dz", PW).await;
    let bearer = t["access_token"].as_str().unwrap();
    for path in [
        "/api/v1/authoring/items/not-a-uuid",
        "/api/v1/training-sessions/not-a-uuid",
    ] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(bearer)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert!(res.headers().get("content-encoding").is_none(), "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], 400, "{path}: {body}");
    }
    let b = app.learner("gzip3@example.dz").await;
    let res = app
        .client
        .get(app.url("/practice/not-a-uuid"))
        .header("cookie", b.cookie_header())
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    assert!(res.headers().get("content-encoding").is_none());
    assert!(res.text().await.unwrap().contains("<html"));
}
