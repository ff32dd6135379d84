//! The practice pages over real HTTP on the demo bank, as a browser without JavaScript would use
//! them: the builder form starts a session (303 to its player), answers are form posts whose
//! option ids are read from the page, tutor sessions show the grade and keys after each
//! answer, exam sessions show nothing until the end, the summary closes the loop, and another
//! learner's session is a 404 page.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Browser, TestApp, spawn_app};

/// A signed-in learner's page client (no redirect following).
struct Learner {
    b: Browser,
    client: reqwest::Client,
}

impl Learner {
    /// A verified learner with a profile (year 3, the demo bank's subjects).
    async fn new(app: &TestApp, email: &str) -> Self {
        let b = app.learner(email).await;
        let res = app
            .send_as(
                &b,
                reqwest::Method::PUT,
                "/api/v1/learner/profile",
                Some(json!({"year_of_study": 3})),
            )
            .await;
        assert_eq!(res.status(), 200);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { b, client }
    }

    async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String, Option<String>) {
        let res = self
            .client
            .get(app.url(path))
            .header("cookie", self.b.cookie_header())
            .send()
            .await
            .unwrap();
        Self::parts(res).await
    }

    async fn post(
        &self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let res = self
            .client
            .post(app.url(path))
            .header("cookie", self.b.cookie_header())
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
        Self::parts(res).await
    }

    async fn parts(res: reqwest::Response) -> (StatusCode, String, Option<String>) {
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, res.text().await.unwrap(), location)
    }

    /// Builds a session through the form; returns the player's path.
    async fn start(&self, app: &TestApp, style: &str, count: &str) -> String {
        let (s, html, _) = self.get(app, "/practice").await;
        assert_eq!(s, 200, "{html}");
        let csrf = attr_after(&html, "name=\"_csrf\" value=\"");
        let subject = attr_after(&html, "<option value=\"");
        let form = [
            ("_csrf", csrf.as_str()),
            ("subject", subject.as_str()),
            ("style", style),
            ("item_count", count),
        ];
        let (s, body, loc) = self.post(app, "/practice", &form).await;
        assert_eq!(s, 303, "{body}");
        let loc = loc.unwrap();
        assert!(loc.starts_with("/practice/"), "{loc}");
        loc
    }

    /// Answers the item the player shows with its first option (or a text); returns the
    /// answer response.
    async fn answer_current(
        &self,
        app: &TestApp,
        player: &str,
    ) -> (StatusCode, String, Option<String>) {
        let (s, html, _) = self.get(app, player).await;
        assert_eq!(s, 200, "{html}");
        assert!(html.contains("/static/practice.js"));
        assert!(html.contains("id=\"answer-form\""));
        let csrf = attr_after(&html, "name=\"_csrf\" value=\"");
        let served = attr_after(&html, "name=\"served_id\" value=\"");
        let mut form = vec![("_csrf", csrf), ("served_id", served)];
        if html.contains("name=\"option\"") {
            form.push(("option", attr_after(&html, "name=\"option\" value=\"")));
        } else {
            form.push(("text", "reponse".to_owned()));
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(app, &format!("{player}/answer"), &pairs).await
    }
}

/// The attribute value that follows `marker` in `html`.
fn attr_after(html: &str, marker: &str) -> String {
    let i = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let rest = &html[i + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn spawn() -> TestApp {
    let app = spawn_app().await;
    app.load_demo_bank().await;
    app
}

#[tokio::test]
async fn a_tutor_session_through_the_forms_shows_feedback_and_ends_on_the_summary() {
    let app = spawn().await;
    let me = Learner::new(&app, "tutor@example.test").await;
    let player = me.start(&app, "tutor", "3").await;
    let mut answered = 0;
    while answered < 10 {
        let (s, _, loc) = me.get(&app, &player).await;
        if s == 303 {
            assert_eq!(loc.unwrap(), format!("{player}/summary"));
            break;
        }
        let (s, html, _) = me.answer_current(&app, &player).await;
        assert_eq!(s, 200, "{html}");
        assert!(html.contains("class=\"feedback\""), "{html}");
        assert!(html.contains("class=\"grade\""), "{html}");
        assert!(html.contains("data-shortcut=\"next\""), "{html}");
        answered += 1;
    }
    assert!(answered >= 3, "answered {answered}");
    let (s, html, _) = me.get(&app, &format!("{player}/summary")).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("class=\"percent-correct\""), "{html}");
    assert!(html.contains(&format!("{answered} / {answered}")), "{html}");
    assert!(html.contains("href=\"/dashboard\""));
    app.stop().await;
}

#[tokio::test]
async fn an_exam_session_shows_no_feedback_before_the_end() {
    let app = spawn().await;
    let me = Learner::new(&app, "exam@example.test").await;
    let player = me.start(&app, "exam", "3").await;
    let (s, body, loc) = me.answer_current(&app, &player).await;
    assert_eq!(s, 303, "{body}");
    assert_eq!(loc.unwrap(), player);
    assert!(!body.contains("class=\"feedback\""));
    let (s, html, _) = me.get(&app, &player).await;
    assert_eq!(s, 200);
    assert!(!html.contains("class=\"feedback\""), "{html}");
    assert!(!html.contains("option-correct"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn another_learners_session_is_a_404_page() {
    let app = spawn().await;
    let me = Learner::new(&app, "owner@example.test").await;
    let player = me.start(&app, "tutor", "3").await;
    let other = Learner::new(&app, "other@example.test").await;
    let (s, html, _) = other.get(&app, &player).await;
    assert_eq!(s, 404, "{html}");
    assert!(html.contains("<html"), "an HTML error page");
    let (s, _, _) = other.get(&app, &format!("{player}/summary")).await;
    assert_eq!(s, 404);
    app.stop().await;
}
