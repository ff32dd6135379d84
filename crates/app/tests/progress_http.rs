//! `/api/v1/progress…` over real HTTP (loopback server, fresh database per test; SQLite by
//! default, PostgreSQL with `MYQCM_TEST_DATABASE_URL`): answers given through the training use
//! cases show up in the caller's progress and in nobody else's; guards and errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;

use myqcm_app::Services;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{ItemContent, ItemKind};
use myqcm_domain::permissions::Role;
use myqcm_domain::training::{SessionRequest, Style};
use myqcm_integrations::{FileMailer, FsBlobStore};
use myqcm_services::training::Training;
use myqcm_services::training::progress::xp_for;
use myqcm_services::training::views::{AnswerInput, NewSessionInput, Next, ProfileInput};
use myqcm_testkit::{TestDb, fixed_clock, test_cache, test_db};
use myqcm_web::WebConfig;
use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

struct App {
    base: String,
    client: reqwest::Client,
    services: Services,
    _db: TestDb,
    _dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

struct User {
    id: Uuid,
    token: String,
}

impl App {
    async fn spawn() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = test_db().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let services = Services::new(
            db.conn.clone(),
            test_cache().await.unwrap(),
            Arc::new(FsBlobStore::new(dir.path().join("blobs"))),
            Arc::new(
                FileMailer::new(dir.path().join("mail"), "MyQCM <no-reply@myqcm.local>").unwrap(),
            ),
            Arc::new(fixed_clock()),
            myqcm_services::identity::IdentityConfig::new(
                myqcm_services::identity::testing::TEST_MASTER_SECRET,
                base.parse().unwrap(),
            ),
        );
        let r = myqcm_services::import::load_demo_bank(
            &services.db,
            Uuid::now_v7(),
            services.clock.now(),
        )
        .await
        .unwrap();
        assert!(r.committed, "{:?}", r.errors.first());
        let web = WebConfig::development(base.parse().unwrap());
        let (stop, rx) = watch::channel(false);
        tokio::spawn(myqcm_app::run_server(
            listener,
            services.clone(),
            web,
            false,
            rx,
        ));
        Self {
            base,
            client: reqwest::Client::new(),
            services,
            _db: db,
            _dir: dir,
            stop,
        }
    }

    async fn user(&self, roles: &[&str], verified: bool) -> User {
        let email = format!("{}@test.myqcm.local", Uuid::new_v4().simple());
        let row = myqcm_db::identity::accounts::insert(
            &self.services.db,
            myqcm_db::identity::accounts::NewAccount {
                email,
                display_name: "T".into(),
                password_hash: None,
                roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
                admin_scopes: vec![],
                locale: "fr".into(),
                verified,
            },
            self.services.clock.now(),
        )
        .await
        .unwrap();
        let t = myqcm_services::identity::testing::issue_session_for(
            &self.services.db,
            self.services.cache.clone(),
            self.services.clock.clone(),
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
        let mut req = self.client.get(format!("{}/api/v1{}", self.base, p));
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
            Training::open(self.services.db.clone(), self.services.clock.clone()).unwrap();
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
        let cardio = myqcm_db::catalogue::subject_by_code(&self.services.db, "cardio")
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
            let rev = myqcm_db::catalogue::revision(&self.services.db, item.revision_id)
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
    let app = App::spawn().await;
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
    let app = App::spawn().await;
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
