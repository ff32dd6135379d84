//! `/api/v1/progress…` over real HTTP: answers given through the training use cases show up in
//! the caller's progress and in nobody else's; guards, errors and the OpenAPI entries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{ItemContent, ItemKind};
use myqcm_domain::permissions::Role;
use myqcm_domain::training::{SessionRequest, Style};
use myqcm_services::training::Training;
use myqcm_services::training::progress::xp_for;
use myqcm_services::training::views::{AnswerInput, NewSessionInput, Next, ProfileInput};
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

struct User {
    id: Uuid,
    token: String,
}

/// The application with the demo bank loaded.
async fn spawn_with_bank() -> TestApp {
    let app = spawn_app().await;
    let r = myqcm_services::import::load_demo_bank(
        &app.services.db,
        Uuid::now_v7(),
        app.services.clock.now(),
    )
    .await
    .unwrap();
    assert!(r.committed, "{:?}", r.errors.first());
    app
}

struct Api<'a>(&'a TestApp);

impl Api<'_> {
    async fn user(&self, roles: &[&str], verified: bool) -> User {
        let email = format!("{}@test.myqcm.local", Uuid::new_v4().simple());
        let row = myqcm_db::identity::accounts::insert(
            &self.0.services.db,
            myqcm_db::identity::accounts::NewAccount {
                email,
                display_name: "T".into(),
                password_hash: None,
                roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
                admin_scopes: vec![],
                locale: "fr".into(),
                verified,
            },
            self.0.services.clock.now(),
        )
        .await
        .unwrap();
        let t = myqcm_services::identity::testing::issue_session_for(
            &self.0.services.db,
            self.0.services.cache.clone(),
            self.0.services.clock.clone(),
            row.id,
        )
        .await
        .unwrap();
        User {
            id: row.id,
            token: t.access_token,
        }
    }

    async fn get(&self, token: Option<&str>, p: &str) -> (u16, Value) {
        let mut req = self.0.client.get(format!("{}/api/v1{}", self.0.base, p));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Answers a tutor session of QCS/QCM items in cardio (right where `pattern` is true)
    /// through the use cases; returns the XP the right answers earn.
    async fn practise(&self, who: &User, pattern: &[bool]) -> i64 {
        let actor = Actor {
            id: who.id,
            roles: vec![Role::Student],
            scopes: vec![],
            mfa_enrolled: false,
        };
        let training =
            Training::open(self.0.services.db.clone(), self.0.services.clock.clone()).unwrap();
        training
            .set_profile(
                &actor,
                ProfileInput {
                    year_of_study: 3,
                    ..ProfileInput::default()
                },
            )
            .await
            .unwrap();
        let cardio = myqcm_db::catalogue::subject_by_code(&self.0.services.db, "cardio")
            .await
            .unwrap()
            .unwrap()
            .id;
        let s = training
            .create_session(
                &actor,
                NewSessionInput {
                    mode: Some("custom".into()),
                    style: Style::Tutor,
                    request: SessionRequest {
                        subject: Some(cardio),
                        kinds: vec![ItemKind::Qcs, ItemKind::Qcm],
                        item_count: Some(u32::try_from(pattern.len()).unwrap()),
                        ..SessionRequest::default()
                    },
                },
            )
            .await
            .unwrap();
        let mut item = s.current.unwrap();
        let mut xp = 0;
        for right in pattern {
            let rev = myqcm_db::catalogue::revision(&self.0.services.db, item.revision_id)
                .await
                .unwrap()
                .unwrap();
            let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
            let options: Vec<usize> = if *right {
                xp += xp_for(c.kind, c.difficulty);
                (0..c.options.len())
                    .filter(|i| c.options[*i].correct)
                    .collect()
            } else {
                vec![
                    (0..c.options.len())
                        .find(|i| !c.options[*i].correct)
                        .unwrap(),
                ]
            };
            let out = training
                .answer(
                    &actor,
                    s.id,
                    AnswerInput {
                        served_id: item.served_id,
                        options: Some(options),
                        text: None,
                    },
                )
                .await
                .unwrap();
            if let Next::Item(v) = out.next {
                item = *v;
            }
        }
        xp
    }
}

#[tokio::test]
async fn progress_reports_the_callers_own_answers_over_http() {
    let app = spawn_with_bank().await;
    let app = Api(&app);
    let me = app.user(&["student"], true).await;
    let other = app.user(&["student"], true).await;
    let xp = app.practise(&me, &[true, false, true, true, false]).await;

    let (s, p) = app.get(Some(&me.token), "/progress").await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["totals"]["graded"], 5);
    assert_eq!(p["totals"]["correct"], 3);
    assert_eq!(p["totals"]["percent_correct"], 0.6);
    assert_eq!(p["xp"]["total"], xp);
    assert_eq!(p["xp"]["rank"], 1);
    assert_eq!(p["streak"]["current"], 1);
    assert_eq!(p["time_zone"], "Africa/Algiers");
    assert_eq!(p["trend"].as_array().unwrap().len(), 30);
    assert_eq!(p["reviews"]["forecast"].as_array().unwrap().len(), 7);
    let score = &p["prediction"]["score"];
    let (lo, v, hi) = (
        score["low"].as_f64().unwrap(),
        score["value"].as_f64().unwrap(),
        score["high"].as_f64().unwrap(),
    );
    assert!(0.0 < lo && lo < v && v < hi && hi < 1.0, "{score}");
    let cardio = p["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "cardio")
        .unwrap()
        .clone();
    assert_eq!(cardio["graded"], 5);
    let weakest = p["weakest_kcs"].as_array().unwrap();
    assert!(!weakest.is_empty());
    assert!(weakest[0]["evidence"].as_u64().unwrap() >= 1);

    // Per subject: every KC with its band.
    let id = cardio["subject_id"].as_str().unwrap();
    let (s, d) = app
        .get(Some(&me.token), &format!("/progress/subjects/{id}"))
        .await;
    assert_eq!(s, 200, "{d}");
    let kcs = d["kcs"].as_array().unwrap();
    assert!(kcs.len() >= weakest.len());
    let evidence: u64 = kcs.iter().map(|k| k["evidence"].as_u64().unwrap()).sum();
    assert!(evidence >= 5, "{evidence}");

    // Nobody else sees these answers.
    let (s, o) = app.get(Some(&other.token), "/progress").await;
    assert_eq!(s, 200);
    assert_eq!(o["totals"]["graded"], 0);
    assert_eq!(o["xp"]["total"], 0);
    assert_eq!(o["prediction"], Value::Null, "no profile yet");
}

#[tokio::test]
async fn progress_is_guarded_and_documented() {
    let app = spawn_with_bank().await;
    let app = Api(&app);
    let (s, p) = app.get(None, "/progress").await;
    assert_eq!((s, p["code"].as_str()), (401, Some("unauthenticated")));
    let unverified = app.user(&["student"], false).await;
    let (s, p) = app.get(Some(&unverified.token), "/progress").await;
    assert_eq!((s, p["code"].as_str()), (403, Some("email_not_verified")));
    let author = app.user(&["author"], true).await;
    let (s, p) = app.get(Some(&author.token), "/progress").await;
    assert_eq!((s, p["code"].as_str()), (403, Some("forbidden")));
    let me = app.user(&["student"], true).await;
    let (s, p) = app
        .get(
            Some(&me.token),
            &format!("/progress/subjects/{}", Uuid::now_v7()),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (404, Some("not_found")));
    let (_, doc) = app.get(None, "/openapi.json").await;
    assert!(doc["paths"]["/api/v1/progress"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/progress/subjects/{id}"]["get"].is_object());
}

#[tokio::test]
async fn the_progress_and_dashboard_pages_show_the_learners_figures() {
    let raw = spawn_with_bank().await;
    // Signed out: sent to sign in (the client follows the redirect), coming back afterwards.
    let res = raw.get("/progress").await;
    assert_eq!(res.url().path(), "/sign-in", "redirected to sign in");
    assert_eq!(res.url().query(), Some("next=%2Fprogress"));
    raw.sign_up_verified("page-learner@test.myqcm.local", PW)
        .await;
    let b = raw.sign_in("page-learner@test.myqcm.local", PW).await;
    let id = raw.account("page-learner@test.myqcm.local").await.id;

    // A newcomer: empty states and the onboarding prompt.
    let html = raw.get_as(&b, "/progress").await.text().await.unwrap();
    assert!(html.contains("Ma progression"), "{html}");
    assert!(html.contains("Encore 10 réponses"), "empty state: {html}");
    let dash = raw.get_as(&b, "/dashboard").await.text().await.unwrap();
    assert!(dash.contains("href=\"/onboarding\""), "{dash}");
    assert!(dash.contains("Séance de diagnostic"), "{dash}");

    let me = User {
        id,
        token: String::new(),
    };
    let app = Api(&raw);
    app.practise(&me, &[true, true, false, true]).await;
    let html = raw.get_as(&b, "/progress").await.text().await.unwrap();
    assert!(!html.contains("style="), "no inline style");
    assert_eq!(
        html.matches("<svg").count(),
        4,
        "score, weakest, trend, reviews"
    );
    assert!(html.contains("<title id=\"trend-title\">"), "{html}");
    assert!(html.contains("Encore 6 réponses"), "{html}");
    // A KC line reads "value % ± band, n réponse(s)".
    assert!(html.contains(" % ± "), "{html}");
    assert!(html.contains("réponse"), "{html}");
    let dash = raw.get_as(&b, "/dashboard").await.text().await.unwrap();
    assert!(dash.contains("Dernières séances"), "{dash}");
    assert!(
        dash.contains("/summary\""),
        "the finished session links to its summary: {dash}"
    );
    assert_eq!(dash.matches("<svg").count(), 2, "{dash}");
}
