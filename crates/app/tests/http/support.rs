//! The one harness of the HTTP tests: [`spawn_app`] starts the application on a loopback port
//! with a fresh database, a fixed clock the test moves, captured mail (read from the job table),
//! a private metrics listener, and returns a [`TestApp`] that talks to it like a browser or an API
//! client.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly on purpose"
)]

use std::sync::Arc;

use myqcm_app::Services;
use myqcm_db::identity::accounts::{self, Account};
use myqcm_domain::FixedClock;
use myqcm_domain::ports::Cache;
use myqcm_integrations::{FileMailer, FsBlobStore};
use myqcm_services::identity::IdentityConfig;
use myqcm_services::identity::mail;
use myqcm_services::identity::testing::TEST_MASTER_SECRET;
use myqcm_testkit::{TestDb, fixed_clock, test_cache, test_db};
use myqcm_web::WebConfig;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A password that passes the policy.
pub const PW: &str = "a long enough passphrase";

/// A running application. Dropping it stops the server; [`TestApp::stop`] also waits for a clean
/// shutdown.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the public listener.
    pub base: String,
    /// `http://127.0.0.1:<port>` of the private metrics listener.
    pub metrics_base: String,
    pub client: reqwest::Client,
    /// The handle the server runs on (database, cache, blobs, mailer, clock, settings).
    pub services: Services,
    pub db: Arc<TestDb>,
    pub clock: FixedClock,
    pub cache: Arc<dyn Cache>,
    _dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// `test_app_wrapper!(App);` declares `struct App(TestApp)` that derefs to [`TestApp`], so a
/// module can add its own shortcuts (its inherent methods win over the harness's of the same
/// name) while tests keep every harness helper.
macro_rules! test_app_wrapper {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        struct $name($crate::support::TestApp);

        impl std::ops::Deref for $name {
            type Target = $crate::support::TestApp;

            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}
pub(crate) use test_app_wrapper;

/// Older names of [`TestApp`] and [`spawn_app`], kept while branches written against them merge.
pub type App = TestApp;

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// The cookies and CSRF token a browser holds after sign-in.
#[derive(Debug, Clone)]
pub struct Browser {
    pub access: String,
    pub refresh: String,
    pub csrf: String,
}

fn cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=')?;
            (k.trim_start_matches("__Host-") == name).then(|| v.to_owned())
        })
}

impl Browser {
    pub async fn from_response(res: reqwest::Response) -> Self {
        assert_eq!(res.status(), 200);
        let access = cookie_value(&res, "myqcm_access").expect("access cookie");
        let refresh = cookie_value(&res, "myqcm_refresh").expect("refresh cookie");
        let body: Value = res.json().await.unwrap();
        Self {
            access,
            refresh,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    pub fn cookie_header(&self) -> String {
        format!(
            "myqcm_access={}; myqcm_refresh={}",
            self.access, self.refresh
        )
    }
}

/// The application with the development configuration and the test routes.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The application with its web configuration changed by `tune` first.
pub async fn spawn_app_with(tune: impl FnOnce(&mut WebConfig)) -> TestApp {
    let cache = test_cache().await.unwrap();
    spawn_sharing(None, cache, fixed_clock(), |w, _| tune(w)).await
}

/// See [`spawn_app`].
pub async fn spawn() -> TestApp {
    spawn_app().await
}

/// See [`spawn_app_with`].
pub async fn spawn_with(tune: impl FnOnce(&mut WebConfig)) -> TestApp {
    spawn_app_with(tune).await
}

/// A server over `db` (a fresh one when `None`) and `cache`: two of them sharing both play two
/// instances of the application. `tune` may change the web configuration and the services (for
/// instance plug in a Google provider).
pub async fn spawn_sharing(
    db: Option<Arc<TestDb>>,
    cache: Arc<dyn Cache>,
    clock: FixedClock,
    tune: impl FnOnce(&mut WebConfig, &mut Services),
) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = match db {
        Some(d) => d,
        None => Arc::new(test_db().await.unwrap()),
    };
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_base = format!("http://{}", metrics.local_addr().unwrap());
    let mut services = Services::new(
        db.conn.clone(),
        cache.clone(),
        Arc::new(FsBlobStore::new(dir.path().join("blobs"))),
        Arc::new(FileMailer::new(dir.path().join("mail"), "MyQCM <no-reply@myqcm.local>").unwrap()),
        Arc::new(clock.clone()),
        IdentityConfig::new(TEST_MASTER_SECRET, base.parse().unwrap()),
    );
    let mut web = WebConfig::development(base.parse().unwrap());
    web.test_routes = true;
    tune(&mut web, &mut services);
    let (stop, rx) = watch::channel(false);
    tokio::spawn(myqcm_app::run_metrics(metrics, rx.clone()));
    let task = tokio::spawn(myqcm_app::run_server(
        listener,
        services.clone(),
        web,
        None,
        rx,
    ));
    TestApp {
        base,
        metrics_base,
        client: reqwest::Client::builder().build().unwrap(),
        services,
        db,
        clock,
        cache,
        _dir: dir,
        stop,
        task: Some(task),
    }
}

impl TestApp {
    /// Stops the server and waits until it has shut down cleanly.
    pub async fn stop(mut self) {
        self.stop.send(true).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }

    /// An anonymous GET.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Loads the demo bank (approved items, authored by an account of its own).
    pub async fn load_demo_bank(&self) {
        let r = myqcm_services::import::load_demo_bank(&self.db.conn, Uuid::now_v7(), self.now())
            .await
            .unwrap();
        assert!(r.committed, "{:?}", r.errors.first());
    }

    /// The free plan includes `feature` (`clinical_cases` or `ai_grading`, which the seeded
    /// one leaves out) from now on, as finance staff would tick it on `/admin/plans/free`.
    pub async fn free_plan_includes(&self, feature: &str) {
        use sea_orm::ConnectionTrait as _;
        assert!(
            ["clinical_cases", "ai_grading"].contains(&feature),
            "{feature}"
        );
        let db = &self.db.conn;
        db.execute_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("UPDATE plan SET {feature} = TRUE WHERE is_default = TRUE"),
        ))
        .await
        .unwrap();
    }

    /// The OpenAPI document the server publishes.
    pub async fn openapi(&self) -> Value {
        let res = self.get("/api/v1/openapi.json").await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_up(&self, email: &str, password: &str) {
        let res = self
            .post(
                "/api/v1/auth/sign-up",
                &json!({"email": email, "password": password, "display_name": "Test User"}),
            )
            .await;
        assert_eq!(res.status(), 202);
    }

    pub async fn sign_up_verified(&self, email: &str, password: &str) {
        self.sign_up(email, password).await;
        let token = self.last_link_mail_to(email).await.token();
        let res = self
            .post("/api/v1/auth/verify-email", &json!({"token": token}))
            .await;
        assert_eq!(res.status(), 200);
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Browser {
        let res = self
            .post(
                "/api/v1/auth/sign-in",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(res.status(), 200, "sign-in of {email}");
        Browser::from_response(res).await
    }

    pub async fn get_as(&self, b: &Browser, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("cookie", b.cookie_header())
            .send()
            .await
            .unwrap()
    }

    pub async fn send_as(
        &self,
        b: &Browser,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut rb = self
            .client
            .request(method, self.url(path))
            .header("cookie", b.cookie_header())
            .header("x-csrf-token", &b.csrf);
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        rb.send().await.unwrap()
    }

    pub async fn refresh_cookie(&self, b: &Browser) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/refresh"))
            .header("cookie", format!("myqcm_refresh={}", b.refresh))
            .header("x-csrf-token", &b.csrf)
            .send()
            .await
            .unwrap()
    }

    pub async fn token_grant(&self, email: &str, password: &str) -> Value {
        let res = self
            .post(
                "/api/v1/auth/token",
                &json!({"grant_type": "password", "email": email, "password": password}),
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn refresh_grant(&self, refresh: &str) -> reqwest::Response {
        self.post(
            "/api/v1/auth/token",
            &json!({"grant_type": "refresh_token", "refresh_token": refresh}),
        )
        .await
    }

    pub async fn get_bearer(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Carries out the queued reset and resend requests as the worker would (their mail then
    /// joins the queue), and takes them off the queue.
    pub async fn run_mail_requests(&self) {
        let deps = self.services.deps();
        let queued = myqcm_db::jobs::list(&self.db.conn, myqcm_db::jobs::JobStatus::Queued, 10_000)
            .await
            .unwrap();
        for j in queued
            .into_iter()
            .filter(|j| j.kind == myqcm_services::identity::flows::MAIL_REQUEST_JOB)
        {
            myqcm_services::identity::flows::run_mail_request(&deps, &j.payload)
                .await
                .unwrap();
            myqcm_db::jobs::request_cancel(
                &self.db.conn,
                j.id,
                myqcm_domain::Clock::now(&self.clock),
            )
            .await
            .unwrap();
        }
    }

    /// Every captured mail, oldest first (after carrying out pending reset and resend
    /// requests).
    pub async fn mails(&self) -> Vec<Mail> {
        self.run_mail_requests().await;
        myqcm_db::jobs::list(&self.db.conn, myqcm_db::jobs::JobStatus::Queued, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == mail::JOB_KIND)
            .map(
                |j| match mail::open(&self.services.identity.mail_key, &j.payload) {
                    Some(mail::Opened::Mail(m)) => Mail {
                        to: m.to,
                        subject: m.subject,
                        text: m.text,
                    },
                    other => panic!("a queued mail that does not open: {other:?}"),
                },
            )
            .collect()
    }

    pub async fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails()
            .await
            .into_iter()
            .filter(|m| m.to == to)
            .collect()
    }

    pub async fn last_mail_to(&self, to: &str) -> Mail {
        self.mails_to(to)
            .await
            .pop()
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// The last mail to `to` that carries a link token.
    pub async fn last_link_mail_to(&self, to: &str) -> Mail {
        self.mails_to(to)
            .await
            .into_iter()
            .rev()
            .find(|m| m.text.contains("#token="))
            .unwrap_or_else(|| panic!("no link mail to {to}"))
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        myqcm_db::identity::audit::recent(&self.db.conn, None, None, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect()
    }

    /// The JSON details of the audit rows named `action`, newest first.
    pub async fn audit_details(&self, action: &str) -> Vec<Value> {
        myqcm_db::identity::audit::recent(&self.db.conn, Some(action), None, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|r| serde_json::from_str(r.detail.as_deref().unwrap_or("null")).unwrap())
            .collect()
    }

    pub async fn account(&self, email: &str) -> Account {
        accounts::find_by_email(&self.db.conn, email)
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn set_password_hash(&self, email: &str, hash: &str) {
        let a = self.account(email).await;
        accounts::entity::ActiveModel {
            id: Set(a.id),
            password_hash: Set(Some(hash.to_owned())),
            ..Default::default()
        }
        .update(&self.db.conn)
        .await
        .unwrap();
    }

    pub async fn set_roles(&self, email: &str, roles: &str, scopes: &str) {
        let a = self.account(email).await;
        accounts::entity::ActiveModel {
            id: Set(a.id),
            roles: Set(roles.to_owned()),
            admin_scopes: Set(scopes.to_owned()),
            ..Default::default()
        }
        .update(&self.db.conn)
        .await
        .unwrap();
    }

    pub async fn disable(&self, email: &str) {
        let a = self.account(email).await;
        accounts::entity::ActiveModel {
            id: Set(a.id),
            disabled_at: Set(Some(1)),
            ..Default::default()
        }
        .update(&self.db.conn)
        .await
        .unwrap();
    }
}

impl TestApp {
    /// Enrols TOTP for the signed-in browser; returns the secret. Moves the clock one step on.
    pub async fn enrol_totp(&self, b: &Browser) -> Vec<u8> {
        let res = self
            .post_as(b, "/api/v1/account/mfa/totp", json!({"password": PW}))
            .await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        let secret =
            myqcm_services::identity::totp::base32_decode(v["secret"].as_str().unwrap()).unwrap();
        let code = self.totp(&secret);
        let res = self
            .post_as(b, "/api/v1/account/mfa/totp/confirm", json!({"code": code}))
            .await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["recovery_codes"].as_array().unwrap().len(), 10);
        self.advance(chrono::Duration::seconds(30));
        secret
    }

    /// The current TOTP code for `secret` at the server's clock.
    pub fn totp(&self, secret: &[u8]) -> String {
        myqcm_services::identity::totp::code_at(secret, self.now().timestamp())
    }

    /// A verified staff account signed in with TOTP enrolled: (browser, secret).
    pub async fn staff(&self, email: &str, roles: &str, scopes: &str) -> (Browser, Vec<u8>) {
        self.sign_up_verified(email, PW).await;
        self.set_roles(email, roles, scopes).await;
        let b = self.sign_in(email, PW).await;
        let secret = self.enrol_totp(&b).await;
        (b, secret)
    }
}

/// Accounts for the set-up of a test, the shortest way that still goes through HTTP.
impl TestApp {
    /// A verified learner (password [`PW`]) signed in with a browser.
    pub async fn learner(&self, email: &str) -> Browser {
        self.sign_up_verified(email, PW).await;
        self.sign_in(email, PW).await
    }

    /// Re-authenticates `b` with [`PW`] and a TOTP code (`secret` from [`TestApp::staff`]): the
    /// admin changes a step-up guards are allowed for the next minutes.
    pub async fn step_up(&self, b: &Browser, secret: &[u8]) {
        let res = self
            .post_as(
                b,
                "/api/v1/auth/step-up",
                json!({"password": PW, "totp_code": self.totp(secret)}),
            )
            .await;
        assert_eq!(res.status(), 200, "step-up");
    }

    /// An account written straight to the database (verified, no password) with `roles` and
    /// `scopes`, TOTP marked enrolled when `totp`, and a Bearer token: set-up for tests about
    /// other areas, without mail, hashing or rate limits.
    pub async fn api_user(&self, roles: &[&str], scopes: &[&str], totp: bool) -> ApiUser {
        let row = accounts::insert(
            &self.db.conn,
            accounts::NewAccount {
                email: format!("{}@test.myqcm.local", Uuid::new_v4().simple()),
                display_name: "T".into(),
                password_hash: None,
                roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
                admin_scopes: scopes.iter().map(|r| r.parse().unwrap()).collect(),
                locale: "fr".into(),
                verified: true,
            },
            self.now(),
        )
        .await
        .unwrap();
        if totp {
            self.mark_totp_enrolled(row.id).await;
        }
        let t = myqcm_services::identity::testing::issue_session_for(
            &self.db.conn,
            self.cache.clone(),
            Arc::new(self.clock.clone()),
            row.id,
        )
        .await
        .unwrap();
        ApiUser {
            id: row.id,
            token: t.access_token,
        }
    }

    /// Marks the account as enrolled in TOTP (the enrolment is read again on every request).
    pub async fn mark_totp_enrolled(&self, id: Uuid) {
        let acc = accounts::get(&self.db.conn, id).await.unwrap().unwrap();
        let mut a: accounts::entity::ActiveModel = acc.into();
        a.totp_secret = Set(Some("JBSWY3DPEHPK3PXP".into()));
        a.totp_enabled_at = Set(Some(self.now().timestamp_millis()));
        a.update(&self.db.conn).await.unwrap();
    }
}

/// An API client: an account id and its Bearer token (see [`TestApp::api_user`]).
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub id: Uuid,
    pub token: String,
}

/// JSON requests: with a browser's cookies and CSRF token (`*_as`), or a Bearer token.
impl TestApp {
    pub async fn post_as(&self, b: &Browser, path: &str, body: Value) -> reqwest::Response {
        self.send_as(b, reqwest::Method::POST, path, Some(body))
            .await
    }

    pub async fn put_as(&self, b: &Browser, path: &str, body: Value) -> reqwest::Response {
        self.send_as(b, reqwest::Method::PUT, path, Some(body))
            .await
    }

    pub async fn patch_as(&self, b: &Browser, path: &str, body: Value) -> reqwest::Response {
        self.send_as(b, reqwest::Method::PATCH, path, Some(body))
            .await
    }

    pub async fn delete_as(&self, b: &Browser, path: &str) -> reqwest::Response {
        self.send_as(b, reqwest::Method::DELETE, path, None).await
    }

    /// GET as `b`: (status, JSON body or `null`).
    pub async fn get_json_as(&self, b: &Browser, path: &str) -> (u16, Value) {
        status_and_json(self.get_as(b, path).await).await
    }

    /// A request with a Bearer token and an optional JSON body: (status, JSON body or `null`).
    pub async fn send_bearer(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        status_and_json(rb.send().await.unwrap()).await
    }
}

/// The fixed clock the server reads.
impl TestApp {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use myqcm_domain::Clock;
        self.clock.now()
    }

    /// Moves the server's clock on (expiries, rate-limit windows, step-up freshness); no test
    /// sleeps.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

impl Mail {
    /// The link token (`#token=…`) this mail carries.
    pub fn token(&self) -> String {
        token_in(&self.text)
    }

    /// The 6-digit code this mail carries.
    pub fn code(&self) -> String {
        code_in(&self.text)
    }
}

/// (status, JSON body), the body `null` when it is empty or not JSON.
pub async fn status_and_json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The link token (`#token=…`) in a mail.
pub fn token_in(text: &str) -> String {
    let i = text.find("#token=").expect("a link with a token") + "#token=".len();
    text[i..i + 43].to_owned()
}

/// The 6-digit code in a verification mail.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code")
        .to_owned()
}

pub fn header_names(res: &reqwest::Response) -> Vec<String> {
    let mut v: Vec<String> = res
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k != "date")
        .collect();
    v.sort();
    v
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "expected {status} {code}");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["request_id"], id.as_str());
    body
}
