//! The account pages through their forms, as a browser without JavaScript uses them: turning
//! two-step verification off and renewing recovery codes (and the JSON twins), the faculty
//! picker in onboarding and settings, localised dates and numbers with `<bdi>` around
//! left-to-right fragments on Arabic pages, and the settings page's sections.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Browser, PW, TestApp, spawn_app};

/// A signed-in browser's page client (no redirect following), in one language.
struct Pages {
    b: Browser,
    client: reqwest::Client,
    lang: &'static str,
}

impl Pages {
    fn new(b: Browser, lang: &'static str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { b, client, lang }
    }

    /// Stores the client's language on the account (which wins over the cookie).
    async fn speak(self, app: &TestApp) -> Self {
        let (s, _) = self
            .post(
                app,
                "/language",
                &[("lang", self.lang), ("next", "/settings")],
            )
            .await;
        assert_eq!(s, 303);
        self
    }

    async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let res = self
            .client
            .get(app.url(path))
            .header(
                "cookie",
                format!("{}; lang={}", self.b.cookie_header(), self.lang),
            )
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let mut pairs = vec![("_csrf", self.b.csrf.as_str())];
        pairs.extend_from_slice(form);
        let res = self
            .client
            .post(app.url(path))
            .header(
                "cookie",
                format!("{}; lang={}", self.b.cookie_header(), self.lang),
            )
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
        (res.status(), res.text().await.unwrap())
    }
}

/// The recovery codes listed on a settings page.
fn recovery_codes_in(html: &str) -> Vec<String> {
    let start = html
        .find("id=\"recovery-codes\"")
        .expect("a list of recovery codes");
    let list = &html[start..html[start..].find("</ul>").unwrap() + start];
    list.split("<li>")
        .skip(1)
        .map(|c| c[..c.find("</li>").unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn two_step_verification_turns_on_through_the_settings_forms() {
    let app = spawn_app().await;
    let b = app.learner("mfa-on@example.dz").await;
    let p = Pages::new(b, "fr");
    let (s, html) = p.get(&app, "/settings").await;
    assert_eq!(s, 200);
    assert!(html.contains("name=\"mfa_password\""), "{html}");
    let (s, html) = p.post(&app, "/settings/mfa", &[("mfa_password", PW)]).await;
    assert_eq!(s, 200, "{html}");
    let start = html.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
    let shown = &html[start..start + html[start..].find('<').unwrap()];
    let secret = myqcm_services::identity::totp::base32_decode(shown.trim()).unwrap();
    assert!(html.contains("name=\"mfa_code\""), "{html}");
    let code = app.totp(&secret);
    let (s, html) = p
        .post(
            &app,
            "/settings/mfa/confirm",
            &[("mfa_code", code.as_str())],
        )
        .await;
    assert_eq!(s, 200, "{html}");
    assert_eq!(recovery_codes_in(&html).len(), 10, "{html}");
    let (_, html) = p.get(&app, "/settings").await;
    assert!(html.contains("action=\"/settings/mfa/disable\""), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn two_step_verification_turns_off_through_the_settings_form_with_a_notice_mail() {
    let app = spawn_app().await;
    let email = "mfa-off@example.dz";
    let b = app.learner(email).await;
    let secret = app.enrol_totp(&b).await;
    let p = Pages::new(b, "fr");
    let (s, html) = p.get(&app, "/settings").await;
    assert_eq!(s, 200);
    assert!(html.contains("action=\"/settings/mfa/disable\""), "{html}");
    assert!(html.contains("action=\"/settings/mfa/recovery-codes\""));

    // A wrong code keeps it on and says so on the form.
    let (s, html) = p
        .post(
            &app,
            "/settings/mfa/disable",
            &[("disable_password", PW), ("disable_code", "000000")],
        )
        .await;
    assert_eq!(s, 401, "{html}");
    assert!(
        html.contains("href=\"#disable_password\""),
        "summary links to the field"
    );
    assert!(app.account(email).await.totp_enabled_at.is_some());

    // Password and a current code: off, audited, and the owner is told by mail.
    let code = app.totp(&secret);
    let (s, html) = p
        .post(
            &app,
            "/settings/mfa/disable",
            &[("disable_password", PW), ("disable_code", &code)],
        )
        .await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Vérification en deux étapes désactivée"));
    assert!(
        html.contains("action=\"/settings/mfa\""),
        "the form to turn it on again"
    );
    let a = app.account(email).await;
    assert!(a.totp_enabled_at.is_none() && a.totp_secret.is_none());
    assert!(
        app.audit_actions()
            .await
            .contains(&"mfa.disabled".to_owned())
    );
    let mail = app.last_mail_to(email).await;
    assert_eq!(mail.subject, "Vérification en deux étapes désactivée");
    // Signing in now needs the password only.
    let res = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": email, "password": PW}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn new_recovery_codes_from_the_settings_form_replace_the_old_ones_and_turn_it_off_by_api() {
    let app = spawn_app().await;
    let email = "codes@example.dz";
    let b = app.learner(email).await;
    let secret = app.enrol_totp(&b).await;
    let p = Pages::new(b.clone(), "en").speak(&app).await;
    let (s, html) = p
        .post(
            &app,
            "/settings/mfa/recovery-codes",
            &[("codes_password", PW), ("codes_code", &app.totp(&secret))],
        )
        .await;
    assert_eq!(s, 200, "{html}");
    let codes = recovery_codes_in(&html);
    assert_eq!(codes.len(), 10);
    assert!(html.contains("New recovery codes generated"));
    assert_eq!(app.last_mail_to(email).await.subject, "New recovery codes");
    assert!(
        app.audit_actions()
            .await
            .contains(&"mfa.recovery_codes_replaced".to_owned())
    );

    // JSON: a missing code is refused, then one of the new recovery codes turns TOTP off.
    let res = app
        .send_as(
            &b,
            reqwest::Method::DELETE,
            "/api/v1/account/mfa/totp",
            Some(json!({"password": PW, "code": ""})),
        )
        .await;
    assert_eq!(res.status(), 401, "a second factor is required");
    assert!(app.account(email).await.totp_enabled_at.is_some());
    let res = app
        .send_as(
            &b,
            reqwest::Method::DELETE,
            "/api/v1/account/mfa/totp",
            Some(json!({"password": PW, "code": codes[3]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(app.account(email).await.totp_enabled_at.is_none());
    let doc = app.openapi().await;
    assert!(doc["paths"]["/api/v1/account/mfa/totp"]["delete"].is_object());
    assert!(doc["paths"]["/api/v1/account/mfa/recovery-codes"]["post"].is_object());
}

#[tokio::test]
async fn staff_accounts_keep_two_step_verification() {
    let app = spawn_app().await;
    let email = "author@example.dz";
    let (b, secret) = app.staff(email, "author", "").await;
    let p = Pages::new(b.clone(), "en").speak(&app).await;
    let (s, html) = p.get(&app, "/settings").await;
    assert_eq!(s, 200);
    assert!(html.contains("Staff accounts (authors, reviewers, administrators) keep"));
    assert!(!html.contains("action=\"/settings/mfa/disable\""));
    // The form posted anyway, and the JSON route, are refused before any credential check.
    let (s, html) = p
        .post(
            &app,
            "/settings/mfa/disable",
            &[
                ("disable_password", PW),
                ("disable_code", &app.totp(&secret)),
            ],
        )
        .await;
    assert_eq!(s, 403, "{html}");
    assert!(html.contains("Staff accounts keep two-step verification on."));
    let res = app
        .send_as(
            &b,
            reqwest::Method::DELETE,
            "/api/v1/account/mfa/totp",
            Some(json!({"password": PW, "code": app.totp(&secret)})),
        )
        .await;
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["code"], "forbidden");
    assert!(app.account(email).await.totp_enabled_at.is_some());
    assert!(
        !app.audit_actions()
            .await
            .contains(&"mfa.disabled".to_owned())
    );
}

#[tokio::test]
async fn onboarding_and_settings_pick_a_faculty_from_the_list_and_refuse_others() {
    let app = spawn_app().await;
    let email = "fac@example.dz";
    let b = app.learner(email).await;
    let ar = Pages::new(b.clone(), "ar").speak(&app).await;
    let (s, html) = ar.get(&app, "/onboarding").await;
    assert_eq!(s, 200);
    assert!(
        html.contains("<select id=\"faculty\" name=\"faculty\""),
        "{html}"
    );
    assert!(html.contains("<optgroup label=\"جامعة وهران 1 أحمد بن بلة\">"));
    assert!(html.contains("<option value=\"oran-1-med\">كلية الطب – وهران</option>"));

    // A value that is not in the list: 422 naming the field, what was typed kept.
    let fr = Pages::new(b.clone(), "fr").speak(&app).await;
    let (s, html) = fr
        .post(
            &app,
            "/onboarding",
            &[
                ("year_of_study", "4"),
                ("faculty", "nowhere-med"),
                ("daily_minutes", "45"),
            ],
        )
        .await;
    assert_eq!(s, 422, "{html}");
    assert!(
        html.contains("href=\"#faculty\""),
        "the summary names the field"
    );
    assert!(html.contains("Choisissez une valeur de la liste."));
    assert!(html.contains("value=\"45\""), "typed values are kept");
    assert!(html.contains("<option value=\"4\" selected>"));

    let (s, _) = fr
        .post(
            &app,
            "/onboarding",
            &[
                ("year_of_study", "4"),
                ("faculty", "oran-1-med"),
                ("daily_minutes", "45"),
            ],
        )
        .await;
    assert_eq!(s, 303);
    let (_, profile) = app.get_json_as(&b, "/api/v1/learner/profile").await;
    assert!(profile["faculty_id"].is_string() && profile["university_id"].is_string());
    let (_, html) = fr.get(&app, "/onboarding").await;
    assert!(
        html.contains("<option value=\"oran-1-med\" selected>Faculté de médecine d’Oran</option>")
    );

    // The settings page changes it on its own, keeping the rest of the profile.
    let (_, html) = fr.get(&app, "/settings").await;
    assert!(html.contains("action=\"/settings/faculty\""));
    assert!(html.contains("<option value=\"oran-1-med\" selected>"));
    let (s, html) = fr
        .post(&app, "/settings/faculty", &[("faculty", "tlemcen-med")])
        .await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Faculté enregistrée."));
    assert!(html.contains("<option value=\"tlemcen-med\" selected>"));
    let (s, html) = fr
        .post(&app, "/settings/faculty", &[("faculty", "x-med")])
        .await;
    assert_eq!(s, 422);
    assert!(html.contains("href=\"#faculty\""));
    let (_, after) = app.get_json_as(&b, "/api/v1/learner/profile").await;
    assert_eq!(after["year_of_study"], 4, "the rest of the profile stays");
    assert_ne!(after["faculty_id"], profile["faculty_id"]);
    // The JSON profile takes the same codes.
    let res = app
        .send_as(
            &b,
            reqwest::Method::PUT,
            "/api/v1/learner/profile",
            Some(json!({"year_of_study": 4, "faculty": "no-such"})),
        )
        .await;
    let (s, v) = crate::support::status_and_json(res).await;
    assert_eq!(
        (s, v["errors"][0]["field"].as_str()),
        (422, Some("faculty"))
    );
}

/// The month names the pages use, for the assertions below.
const FR_MONTHS: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];
const AR_MONTHS: [&str; 12] = [
    "جانفي",
    "فيفري",
    "مارس",
    "أفريل",
    "ماي",
    "جوان",
    "جويلية",
    "أوت",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
];

#[tokio::test]
async fn settings_dates_are_localised_and_ltr_fragments_isolated_on_arabic_pages() {
    use chrono::{Datelike, Timelike};
    let app = spawn_app().await;
    let email = "dates@example.dz";
    let b = app.learner(email).await;
    // Algerian time: UTC+1.
    let local = app.now() + chrono::Duration::hours(1);
    let month = local.month0() as usize;
    let hm = format!("{:02}:{:02}", local.hour(), local.minute());
    let ar = Pages::new(b.clone(), "ar").speak(&app).await;
    let (_, html) = ar.get(&app, "/settings").await;
    let expected = format!("{} {} {} {hm}", local.day(), AR_MONTHS[month], local.year());
    assert!(html.contains(&expected), "{expected} in {html}");
    assert!(!html.contains(" UTC"), "no ISO dates left");
    assert!(
        html.contains(&format!("<bdi>{email}</bdi>")),
        "the address is isolated"
    );
    assert!(html.contains("<bdi>127.0.0.1</bdi>"), "so is the IP");
    let fr = Pages::new(b, "fr").speak(&app).await;
    let (_, html) = fr.get(&app, "/settings").await;
    let expected = format!("{} {} {} {hm}", local.day(), FR_MONTHS[month], local.year());
    assert!(html.contains(&expected), "{expected}");
}

#[tokio::test]
async fn every_settings_section_works_without_javascript() {
    let app = spawn_app().await;
    let email = "all@example.dz";
    let b = app.learner(email).await;
    let other = app.sign_in(email, PW).await;
    let p = Pages::new(b.clone(), "en");
    let (_, html) = p.get(&app, "/settings").await;
    for action in [
        "action=\"/settings/profile\"",
        "action=\"/settings/faculty\"",
        "action=\"/language\"",
        "action=\"/settings/password\"",
        "action=\"/settings/mfa\"",
        "href=\"/api/v1/account/export\"",
        "href=\"/settings/delete\"",
    ] {
        assert!(html.contains(action), "{action}");
    }
    assert_eq!(
        html.matches("/revoke\"").count(),
        2,
        "both sign-in sessions listed"
    );
    // Export: a plain link with the cookies downloads the file.
    let res = app.get_as(&b, "/api/v1/account/export").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    // Revoke the other device through its form: it is signed out.
    let sessions: Value = app.get_json_as(&other, "/api/v1/account/sessions").await.1;
    let other_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = p
        .post(&app, &format!("/settings/sessions/{other_id}/revoke"), &[])
        .await;
    assert_eq!(s, 303);
    assert_eq!(app.get_as(&other, "/api/v1/account").await.status(), 401);
    let (_, html) = p.get(&app, "/settings").await;
    assert_eq!(html.matches("/revoke\"").count(), 1);
    // Language and password through their forms.
    let (s, _) = p
        .post(&app, "/language", &[("lang", "ar"), ("next", "/settings")])
        .await;
    assert_eq!(s, 303);
    assert_eq!(app.account(email).await.locale, "ar");
    let (s, html) = p
        .post(
            &app,
            "/settings/password",
            &[
                ("current_password", PW),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("dir=\"rtl\""));
}

#[tokio::test]
async fn error_pages_for_403_and_500_are_localised_with_the_request_id_and_a_way_back() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let res = client
        .get(app.url("/__test/page-error"))
        .header("accept-language", "ar")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
    assert!(html.contains("حدث خطأ من جهتنا"));
    assert!(html.contains(&id) && html.contains("href=\"/\""));
    let res = client
        .post(app.url("/sign-in"))
        .header("accept-language", "en")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a%40b.dz&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\""), "{html}");
    assert!(html.contains(&id) && html.contains("href=\"/\""));
    assert!(!html.contains("error-csrf_failed"), "a title, not an id");
}
