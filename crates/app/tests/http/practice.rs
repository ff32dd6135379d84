//! The practice pages over real HTTP on the demo bank, as a browser without JavaScript would use
//! them: the builder form starts a session (303 to its player), answers are form posts whose
//! option ids are read from the page, tutor sessions show the grade and keys after each
//! answer, exam sessions show nothing until the end, the summary closes the loop, and another
//! learner's session is a 404 page. The player's features each have a test through the page
//! forms: pause and resume, the exam clock and time-up, strike-out markup, notes, reports,
//! "why this question", the shortcut list, clinical cases step by step, the review, and the
//! builder's filters.
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

    /// A page after switching the account's language to `lang`.
    async fn get_in(&self, app: &TestApp, path: &str, lang: &str) -> String {
        let form = [
            ("_csrf", self.b.csrf.as_str()),
            ("lang", lang),
            ("next", path),
        ];
        let (s, body, _) = self.post(app, "/language", &form).await;
        assert_eq!(s, 303, "{body}");
        let (s, html, _) = self.get(app, path).await;
        assert_eq!(s, 200, "{html}");
        html
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
        self.start_with(app, &[("style", style), ("item_count", count)])
            .await
    }

    /// Builds a session through the form with these fields (the first subject unless given).
    async fn start_with(&self, app: &TestApp, fields: &[(&str, &str)]) -> String {
        let (s, html, _) = self.get(app, "/practice").await;
        assert_eq!(s, 200, "{html}");
        let csrf = attr_after(&html, "name=\"_csrf\" value=\"");
        let subject = attr_after(&html, "<option value=\"");
        let mut form = vec![("_csrf", csrf.as_str())];
        if !fields.iter().any(|(k, _)| *k == "subject") {
            form.push(("subject", subject.as_str()));
        }
        form.extend_from_slice(fields);
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

/// The `_csrf` and `served_id` of a player page.
fn ids(html: &str) -> (String, String) {
    (
        attr_after(html, "name=\"_csrf\" value=\""),
        attr_after(html, "name=\"served_id\" value=\""),
    )
}

/// The value of the checkbox whose label follows it with `label`.
fn checkbox_for(html: &str, name: &str, label: &str) -> String {
    let i = html
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {html}"));
    let marker = format!("name=\"{name}\" value=\"");
    let j = html[..i].rfind(&marker).unwrap();
    attr_after(&html[j..], &marker)
}

/// The value of the `<option>` labelled `label`.
fn option_for(html: &str, label: &str) -> String {
    let i = html
        .find(&format!(">{label}</option>"))
        .unwrap_or_else(|| panic!("{label}"));
    let j = html[..i].rfind("<option value=\"").unwrap();
    attr_after(&html[j..], "<option value=\"")
}

/// The text that follows `marker` in `html`, up to the next tag.
fn text_after(html: &str, marker: &str) -> String {
    let i = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let rest = &html[i + marker.len()..];
    rest[..rest.find('<').unwrap()].to_owned()
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
async fn feedback_says_right_and_wrong_in_words_and_summary_and_review_isolate_ltr_fragments() {
    let app = spawn().await;
    let me = Learner::new(&app, "verdict@example.test").await;
    let fields = [
        ("style", "tutor"),
        ("item_count", "2"),
        ("mode", "custom"),
        ("kinds", "qcs"),
    ];
    let player = me.start_with(&app, &fields).await;
    let (s, html, _) = me.answer_current(&app, &player).await;
    assert_eq!(s, 200, "{html}");
    // Each option carries its verdict as an icon and a word, not only a colour.
    let right = html
        .matches("aria-hidden=\"true\">✓</span> bonne réponse")
        .count();
    let wrong = html
        .matches("aria-hidden=\"true\">✗</span> proposition fausse")
        .count();
    assert!(right >= 1 && wrong >= 1, "{html}");
    assert_eq!(
        right + wrong,
        html.matches("class=\"option-letter\"").count(),
        "{html}"
    );
    me.answer_current(&app, &player).await;
    let summary = me.get_in(&app, &format!("{player}/summary"), "ar").await;
    assert!(summary.contains("dir=\"rtl\""), "{summary}");
    assert!(
        summary.contains("<bdi class=\"answered\">2 / 2</bdi>"),
        "{summary}"
    );
    assert!(
        summary.contains("<bdi class=\"percent-correct\">"),
        "{summary}"
    );
    assert!(summary.contains("<bdi class=\"time-spent\">"), "{summary}");
    let review = me.get_in(&app, &format!("{player}/review"), "ar").await;
    assert!(
        review.contains("class=\"stem\" lang=\"fr\" dir=\"ltr\""),
        "a French item keeps its direction on an Arabic page: {review}"
    );
    assert!(review.contains("<bdi>A</bdi>"), "{review}");
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

#[tokio::test]
async fn the_player_counts_from_one_and_says_why_this_question_was_chosen() {
    let app = spawn().await;
    let me = Learner::new(&app, "why@example.test").await;
    let player = me.start(&app, "tutor", "3").await;
    let (s, html, _) = me.get(&app, &player).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Question 1 sur 3"), "{html}");
    assert!(html.len() < 100_000, "{} bytes", html.len());
    assert!(html.contains("class=\"reason\""), "{html}");
    assert!(html.contains("Pourquoi cette question ?"), "{html}");
    let sentences = [
        "À revoir : votre mémoire",
        "Elle cible une notion",
        "Elle est adaptée à votre niveau",
        "Elle couvre une partie du programme",
        "Choisie au hasard",
        "Étape suivante du cas clinique",
    ];
    assert!(sentences.iter().any(|t| html.contains(t)), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn pause_hides_the_question_and_stops_the_exam_clock_until_resume() {
    let app = spawn().await;
    let me = Learner::new(&app, "pause@example.test").await;
    let player = me.start(&app, "exam", "3").await;
    let (_, html, _) = me.get(&app, &player).await;
    let before = attr_after(&html, "data-remaining-ms=\"");
    assert!(
        html.contains(&format!("action=\"{player}/pause\"")),
        "{html}"
    );
    let (csrf, served) = ids(&html);
    let (s, _, loc) = me
        .post(&app, &format!("{player}/pause"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(
        (s, loc.as_deref()),
        (StatusCode::SEE_OTHER, Some(player.as_str()))
    );
    app.clock.advance(chrono::Duration::minutes(10));
    let (s, html, _) = me.get(&app, &player).await;
    assert_eq!(s, 200);
    assert!(html.contains("Séance en pause"), "{html}");
    assert!(
        !html.contains("id=\"answer-form\""),
        "the question is hidden: {html}"
    );
    assert!(
        html.contains(&format!("action=\"{player}/resume\"")),
        "{html}"
    );
    // An answer sent from a stale tab while paused is refused: back to the resume page.
    let form = [
        ("_csrf", csrf.as_str()),
        ("served_id", served.as_str()),
        ("option", "0"),
    ];
    let (s, _, loc) = me.post(&app, &format!("{player}/answer"), &form).await;
    assert_eq!(
        (s, loc.as_deref()),
        (StatusCode::SEE_OTHER, Some(player.as_str()))
    );
    let (s, _, loc) = me
        .post(&app, &format!("{player}/resume"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(
        (s, loc.as_deref()),
        (StatusCode::SEE_OTHER, Some(player.as_str()))
    );
    let (_, html, _) = me.get(&app, &player).await;
    assert!(html.contains("id=\"answer-form\""), "{html}");
    assert_eq!(
        attr_after(&html, "data-remaining-ms=\""),
        before,
        "ten paused minutes do not count"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_exam_clock_is_rendered_and_the_server_ends_the_session_when_time_is_up() {
    let app = spawn().await;
    let me = Learner::new(&app, "clock@example.test").await;
    let fields = [
        ("style", "exam"),
        ("item_count", "3"),
        ("mode", "custom"),
        ("time_limit", "2"),
    ];
    let player = me.start_with(&app, &fields).await;
    let (_, html, _) = me.get(&app, &player).await;
    assert!(html.contains("data-remaining-ms=\"120000\""), "{html}");
    assert!(html.contains(">2:00<"), "{html}");
    assert!(html.contains("role=\"timer\""), "{html}");
    let (csrf, served) = ids(&html);
    app.clock.advance(chrono::Duration::minutes(3));
    let (_, html, _) = me.get(&app, &player).await;
    assert!(html.contains("class=\"time-up\""), "{html}");
    assert!(!html.contains("id=\"answer-form\""), "{html}");
    let form = [
        ("_csrf", csrf.as_str()),
        ("served_id", served.as_str()),
        ("option", "0"),
    ];
    let (s, _, loc) = me.post(&app, &format!("{player}/answer"), &form).await;
    assert_eq!(s, 303);
    assert_eq!(loc.unwrap(), format!("{player}/summary"));
    let (_, html, _) = me.get(&app, &format!("{player}/summary")).await;
    assert!(
        html.contains("La durée de l&#39;examen est écoulée."),
        "{html}"
    );
    app.stop().await;
}

#[tokio::test]
async fn strike_out_buttons_exist_only_for_the_script_and_carry_aria_pressed() {
    let app = spawn().await;
    let me = Learner::new(&app, "strike@example.test").await;
    let fields = [
        ("style", "tutor"),
        ("item_count", "3"),
        ("mode", "custom"),
        ("kinds", "qcs"),
    ];
    let player = me.start_with(&app, &fields).await;
    let (_, html, _) = me.get(&app, &player).await;
    let i = html
        .find("class=\"strike\"")
        .expect("a strike button per option");
    let tag = &html[i..i + html[i..].find('>').unwrap()];
    for attr in [
        "data-needs-script",
        "hidden",
        "aria-pressed=\"false\"",
        "data-option=\"A\"",
    ] {
        assert!(tag.contains(attr), "{attr} in {tag}");
    }
    let js = app
        .client
        .get(app.url("/static/practice.js"))
        .send()
        .await
        .unwrap();
    let js = js.text().await.unwrap();
    assert!(
        js.contains("aria-pressed") && js.contains("lower === 'x'"),
        "{js}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_note_is_saved_from_the_player_and_shown_again_in_the_review() {
    let app = spawn().await;
    let me = Learner::new(&app, "note@example.test").await;
    let player = me.start(&app, "tutor", "2").await;
    let (_, html, _) = me.get(&app, &player).await;
    let (csrf, served) = ids(&html);
    assert!(
        html.contains(&format!("action=\"{player}/note\"")),
        "{html}"
    );
    let form = [
        ("_csrf", csrf.as_str()),
        ("served_id", served.as_str()),
        ("note", "Revoir les seuils <ESC>"),
        ("back", "player"),
    ];
    let (s, _, loc) = me.post(&app, &format!("{player}/note"), &form).await;
    assert_eq!(s, 303);
    assert_eq!(loc.unwrap(), format!("{player}?done=note"));
    let (_, html, _) = me.get(&app, &format!("{player}?done=note")).await;
    assert!(html.contains("Votre note est enregistrée."), "{html}");
    assert!(
        html.contains(">Revoir les seuils &#60;ESC&#62;</textarea>"),
        "{html}"
    );
    // htmx saves in place and gets the confirmation alone.
    let res = me
        .client
        .post(app.url(&format!("{player}/note")))
        .header("cookie", me.b.cookie_header())
        .header("origin", &app.base)
        .header("hx-request", "true")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("_csrf", &csrf), ("served_id", &served)])
                .append_pair("note", "Seuils ESC")
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.unwrap();
    assert!(
        !fragment.contains("<html") && fragment.contains("note-saved"),
        "{fragment}"
    );
    me.answer_current(&app, &player).await;
    let (s, _, _) = me
        .post(&app, &format!("{player}/finish"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(s, 303);
    let (s, html, _) = me.get(&app, &format!("{player}/review")).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains(">Seuils ESC</textarea>"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn an_item_is_reported_from_the_player_and_a_bad_report_shows_the_form_again() {
    let app = spawn().await;
    let me = Learner::new(&app, "report@example.test").await;
    let player = me.start(&app, "tutor", "2").await;
    let (_, html, _) = me.get(&app, &player).await;
    let (csrf, served) = ids(&html);
    let item = attr_after(&html, "name=\"item_id\" value=\"");
    let bad = [
        ("_csrf", csrf.as_str()),
        ("served_id", served.as_str()),
        ("item_id", item.as_str()),
        ("category", "other"),
        ("body", ""),
    ];
    let (s, html, _) = me.post(&app, &format!("{player}/report"), &bad).await;
    assert_eq!(s, 422, "{html}");
    assert!(html.contains("class=\"error-summary\""), "{html}");
    assert!(
        html.contains("value=\"other\" checked"),
        "values kept: {html}"
    );
    let good = [
        ("_csrf", csrf.as_str()),
        ("served_id", served.as_str()),
        ("item_id", item.as_str()),
        ("category", "typo"),
        ("body", "« hypertension » mal orthographié"),
    ];
    let (s, _, loc) = me.post(&app, &format!("{player}/report"), &good).await;
    assert_eq!(s, 303);
    assert_eq!(loc.unwrap(), format!("{player}?done=report"));
    let (_, html, _) = me.get(&app, &format!("{player}?done=report")).await;
    assert!(html.contains("votre signalement a été transmis"), "{html}");
    let (s, mine) = app.get_json_as(&me.b, "/api/v1/reports/mine").await;
    assert_eq!(s, 200);
    assert_eq!(mine[0]["category"], "typo", "{mine}");
    assert_eq!(mine[0]["item_id"], item.as_str(), "{mine}");
    app.stop().await;
}

#[tokio::test]
async fn reports_are_rate_limited_per_learner_with_a_429_page_and_problem() {
    let app = spawn().await;
    let me = Learner::new(&app, "flood@example.test").await;
    let player = me.start(&app, "tutor", "2").await;
    let (_, html, _) = me.get(&app, &player).await;
    let (csrf, served) = ids(&html);
    let item = attr_after(&html, "name=\"item_id\" value=\"");
    let form = [
        ("_csrf", csrf.as_str()),
        ("served_id", served.as_str()),
        ("item_id", item.as_str()),
        ("category", "typo"),
        ("body", "faute"),
    ];
    for n in 0..20 {
        let (s, html, _) = me.post(&app, &format!("{player}/report"), &form).await;
        assert_eq!(s, 303, "report {n}: {html}");
    }
    let (s, html, _) = me.post(&app, &format!("{player}/report"), &form).await;
    assert_eq!(s, 429, "{html}");
    assert!(html.contains("class=\"error-summary\""), "{html}");
    assert!(html.contains("Trop de tentatives"), "{html}");
    assert!(
        html.contains("value=\"typo\" checked"),
        "values kept: {html}"
    );
    let res = app
        .send_as(
            &me.b,
            reqwest::Method::POST,
            &format!("/api/v1/items/{item}/reports"),
            Some(json!({"category": "typo", "body": "faute"})),
        )
        .await;
    assert_eq!(res.status(), 429);
    let p: serde_json::Value = res.json().await.unwrap();
    assert_eq!(p["code"], "rate_limited", "{p}");
    let (s, mine) = app.get_json_as(&me.b, "/api/v1/reports/mine").await;
    assert_eq!(s, 200);
    assert_eq!(
        mine.as_array().unwrap().len(),
        20,
        "none stored past the limit"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_shortcut_list_names_every_shortcut_and_opens_without_script() {
    let app = spawn().await;
    let me = Learner::new(&app, "keys@example.test").await;
    let player = me.start(&app, "tutor", "2").await;
    let (_, html, _) = me.get(&app, &player).await;
    let i = html
        .find("<details id=\"shortcut-help\"")
        .expect("a details element");
    let help = &html[i..i + html[i..].find("</details>").unwrap()];
    assert!(help.contains("data-shortcut=\"help\""), "{help}");
    for key in [
        "A", "E", "1", "5", "Enter", "N", "F", "S", "P", "X", "?", "Esc",
    ] {
        assert!(
            help.contains(&format!("<kbd>{key}</kbd>")),
            "{key} in {help}"
        );
    }
    for shortcut in ["skip", "flag", "pause"] {
        assert!(
            html.contains(&format!("data-shortcut=\"{shortcut}\"")),
            "{shortcut}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_clinical_case_keeps_its_vignette_above_every_step() {
    let app = spawn().await;
    app.free_plan_includes("clinical_cases").await;
    let me = Learner::new(&app, "case@example.test").await;
    let (_, html, _) = me.get(&app, "/practice").await;
    let course = checkbox_for(&html, "courses", "Cardiopathie ischémique");
    let fields = [
        ("style", "tutor"),
        ("item_count", "30"),
        ("courses", course.as_str()),
    ];
    let player = me.start_with(&app, &fields).await;
    let mut steps = Vec::new();
    for _ in 0..30 {
        let (s, html, _) = me.get(&app, &player).await;
        if s != 200 {
            break;
        }
        if html.contains("class=\"case\"") {
            assert!(html.contains("Douleur thoracique aiguë"), "{html}");
            assert!(
                html.contains("sus-décalage du ST convexe"),
                "the vignette: {html}"
            );
            let case = html.find("class=\"case\"").unwrap();
            assert!(
                case < html.find("class=\"stem\"").unwrap(),
                "above the step"
            );
            steps.push(text_after(&html, "class=\"case-step\">"));
        }
        me.answer_current(&app, &player).await;
    }
    assert!(steps.contains(&"Étape 1 sur 4".to_owned()), "{steps:?}");
    assert!(steps.contains(&"Étape 4 sur 4".to_owned()), "{steps:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_case_running_past_the_count_says_so_instead_of_n_of_fewer() {
    let app = spawn().await;
    app.free_plan_includes("clinical_cases").await;
    let me = Learner::new(&app, "past@example.test").await;
    let (_, html, _) = me.get(&app, "/practice").await;
    let course = checkbox_for(&html, "courses", "Cardiopathie ischémique");
    let mut past = None;
    // Which item comes first is the selection's draw (seeded per session), so try short
    // sessions until one begins a case among its last items (a few tries usually suffice).
    for attempt in 0..60 {
        let count = 1 + attempt % 3;
        let n = count.to_string();
        let fields = [
            ("style", "tutor"),
            ("item_count", n.as_str()),
            ("courses", course.as_str()),
        ];
        let player = me.start_with(&app, &fields).await;
        let mut texts = Vec::new();
        for _ in 0..count + 6 {
            let (s, html, _) = me.get(&app, &player).await;
            if s != 200 {
                break;
            }
            texts.push(text_after(&html, "class=\"practice-progress\">"));
            me.answer_current(&app, &player).await;
        }
        if texts.len() > count {
            past = Some((count, texts));
            break;
        }
    }
    let (count, texts) = past.expect("a case begun among the last items");
    assert_eq!(texts[count - 1], format!("Question {count} sur {count}"));
    for t in &texts[count..] {
        assert!(!t.contains(" sur "), "{texts:?}");
        assert!(t.contains("suite du cas clinique"), "{texts:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_summary_leads_to_a_review_with_answers_keys_and_explanations() {
    let app = spawn().await;
    let me = Learner::new(&app, "review@example.test").await;
    let fields = [
        ("style", "exam"),
        ("item_count", "2"),
        ("mode", "custom"),
        ("kinds", "qcs"),
    ];
    let player = me.start_with(&app, &fields).await;
    for _ in 0..2 {
        me.answer_current(&app, &player).await;
    }
    let (s, html, _) = me.get(&app, &format!("{player}/summary")).await;
    assert_eq!(s, 200, "{html}");
    let pct = text_after(&html, "class=\"percent-correct\">");
    let pct: f64 = pct.trim_end_matches(" %").parse().unwrap();
    assert!((0.0..=100.0).contains(&pct), "a percentage: {pct}");
    assert!(
        html.contains(&format!("href=\"{player}/review\"")),
        "{html}"
    );
    let (s, html, _) = me.get(&app, &format!("{player}/review")).await;
    assert_eq!(s, 200, "{html}");
    assert_eq!(html.matches("class=\"review-item\"").count(), 2, "{html}");
    assert!(html.len() < 100_000, "{} bytes", html.len());
    assert!(html.contains("votre choix"), "{html}");
    assert!(html.contains("bonne réponse"), "{html}");
    assert!(html.contains("class=\"explanation\""), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn the_builder_offers_the_services_filters_and_they_shape_the_session() {
    let app = spawn().await;
    let me = Learner::new(&app, "filters@example.test").await;
    let (_, html, _) = me.get(&app, "/practice").await;
    for field in [
        "courses",
        "kcs",
        "kinds",
        "difficulties",
        "pool",
        "mode",
        "time_limit",
    ] {
        assert!(
            html.contains(&format!("name=\"{field}\"")),
            "{field} in {html}"
        );
    }
    let course = checkbox_for(&html, "courses", "Hypertension artérielle</label>");
    let fields = [
        ("style", "tutor"),
        ("item_count", "3"),
        ("mode", "custom"),
        ("kinds", "qcs"),
        ("courses", course.as_str()),
    ];
    let player = me.start_with(&app, &fields).await;
    let id = player.trim_start_matches("/practice/");
    for _ in 0..3 {
        let (_, html, _) = me.answer_current(&app, &player).await;
        assert!(html.contains("class=\"feedback\""), "{html}");
    }
    let (s, review) = app
        .get_json_as(&me.b, &format!("/api/v1/training-sessions/{id}/review"))
        .await;
    assert_eq!(s, 200, "{review}");
    let served = review.as_array().unwrap();
    assert_eq!(served.len(), 3);
    for r in served {
        assert_eq!(r["item"]["kind"], "qcs", "{r}");
        let item = r["item"]["item_id"].as_str().unwrap();
        let (_, v) = app
            .get_json_as(&me.b, &format!("/api/v1/items/{item}"))
            .await;
        assert_eq!(v["course_id"], course.as_str(), "{v}");
    }
    // A course of another subject is refused on the form, values kept.
    let other = checkbox_for(&html, "courses", "Asthme</label>");
    let fields = [
        ("style", "tutor"),
        ("item_count", "3"),
        ("courses", other.as_str()),
    ];
    let (_, page, _) = me.get(&app, "/practice").await;
    let csrf = attr_after(&page, "name=\"_csrf\" value=\"");
    let subject = option_for(&page, "Cardiologie");
    let mut form = vec![("_csrf", csrf.as_str()), ("subject", subject.as_str())];
    form.extend_from_slice(&fields);
    let (s, page, _) = me.post(&app, "/practice", &form).await;
    assert_eq!(s, 422, "{page}");
    assert!(page.contains("href=\"#courses\""), "{page}");
    assert!(
        page.contains(&format!("value=\"{other}\" checked")),
        "{page}"
    );
    app.stop().await;
}
