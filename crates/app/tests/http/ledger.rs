//! The authors' earnings ledger over real HTTP (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`): the first approval pays once, a re-approval and the demo seed pay
//! nothing, concurrent withdrawals cannot overdraw, learners and authors are kept out of what is
//! not theirs, a failed payout returns to the wallet, and the postal account is shown in full
//! only to finance staff who stepped up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use myqcm_domain::ledger::CcpAccount;
use serde_json::{Value, json};

use crate::support::{ApiUser as User, Browser, spawn_app, test_app_wrapper};

test_app_wrapper!(
    /// The shared [`TestApp`] with the ledger's shortcuts.
    App
);

impl App {
    async fn spawn() -> Self {
        let app = Self(spawn_app().await);
        app.load_demo_bank().await;
        app
    }

    async fn user(&self, roles: &[&str]) -> User {
        let totp = roles.iter().any(|r| *r != "author" && *r != "student");
        self.0.api_user(roles, &[], totp).await
    }

    async fn call(
        &self,
        m: reqwest::Method,
        u: &User,
        p: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.send_bearer(m, &u.token, &format!("/api/v1{p}"), body)
            .await
    }

    async fn get(&self, u: &User, p: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, u, p, None).await
    }

    async fn post(&self, u: &User, p: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, u, p, Some(body)).await
    }

    /// A draft by `author`, submitted and approved by `reviewer`: the item id.
    async fn approved_item(&self, author: &User, reviewer: &User, stem: &str) -> String {
        let (s, item) = self.post(author, "/authoring/items", draft(stem)).await;
        assert_eq!(s, 201, "{item}");
        let id = item["id"].as_str().unwrap().to_owned();
        self.move_item(author, &id, "submit").await;
        self.move_item(reviewer, &id, "approve").await;
        id
    }

    async fn move_item(&self, u: &User, id: &str, action: &str) {
        let (s, b) = self
            .post(
                u,
                &format!("/authoring/items/{id}/transitions"),
                json!({ "action": action }),
            )
            .await;
        assert_eq!(s, 200, "{action}: {b}");
    }

    async fn balance(&self, author: &User) -> i64 {
        let (s, b) = self.get(author, "/earnings").await;
        assert_eq!(s, 200, "{b}");
        b["balance"].as_i64().unwrap()
    }

    /// Finance staff signed in with a browser, stepped up.
    async fn finance(&self) -> Browser {
        let (b, secret) = self
            .staff("finance@test.myqcm.local", "admin", "finance")
            .await;
        self.step_up(&b, &secret).await;
        b
    }

    async fn withdraw(&self, author: &User, amount: i64) -> (u16, Value) {
        self.post(
            author,
            "/earnings/withdrawals",
            json!({ "amount": amount, "ccp": ccp() }),
        )
        .await
    }
}

fn ccp() -> String {
    format!("0012345678 {:02}", CcpAccount::ccp_key(12_345_678))
}

fn draft(stem: &str) -> Value {
    json!({
        "course": "cardio-hta",
        "kcs": [{"kc": "kc-cardio-hta-def", "weight": 1.0}],
        "content": {
            "kind": "qcs", "locale": "fr", "difficulty": "easy", "estimated_seconds": 40,
            "stem": stem,
            "options": [
                {"text": "MAPA des 24 h", "correct": true, "explanation": "Référence."},
                {"text": "Échographie rénale", "correct": false, "explanation": "Bilan."}
            ],
            "explanation": "La MAPA confirme le diagnostic."
        }
    })
}

#[tokio::test]
async fn the_first_approval_pays_once_and_a_reapproval_or_the_seed_pays_nothing() {
    let app = App::spawn().await;
    // The demo bank was loaded approved: nobody was paid for it.
    assert!(
        !app.audit_actions()
            .await
            .iter()
            .any(|a| a == "ledger.earning_credited")
    );
    let author = app.user(&["author"]).await;
    let reviewer = app.user(&["reviewer"]).await;
    let second = app.user(&["reviewer"]).await;
    assert_eq!(app.balance(&author).await, 0);
    let id = app
        .approved_item(
            &author,
            &reviewer,
            "Quel examen confirme une HTA suspectée ?",
        )
        .await;
    let (_, wallet) = app.get(&author, "/earnings").await;
    assert_eq!(wallet["balance"], 1500, "{wallet}");
    assert_eq!(wallet["balance_dzd"], "15.00");
    assert_eq!(wallet["entries"].as_array().unwrap().len(), 1);
    assert_eq!(wallet["entries"][0]["kind"], "earning");
    assert_eq!(wallet["entries"][0]["item_id"].as_str(), Some(id.as_str()));

    // A staff edit sends the approved item back to review; approving it again pays nothing.
    let (_, item) = app.get(&second, &format!("/authoring/items/{id}")).await;
    let mut content = item["revision"]["content"].clone();
    content["stem"] = json!("Quel examen confirme une HTA suspectée en consultation ?");
    let (s, b) = app
        .call(
            reqwest::Method::PUT,
            &second,
            &format!("/authoring/items/{id}"),
            Some(json!({ "content": content })),
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("in_review")), "{b}");
    app.move_item(&reviewer, &id, "approve").await;
    assert_eq!(app.balance(&author).await, 1500);

    // Items of reviewers or admins (no author role) earn nothing; a second item of the author
    // earns again.
    app.approved_item(
        &author,
        &second,
        "Quelle est la cible tensionnelle du sujet âgé ?",
    )
    .await;
    assert_eq!(app.balance(&author).await, 3000);
    let (_, wallet) = app.get(&author, "/earnings?limit=1").await;
    assert_eq!(wallet["entries"].as_array().unwrap().len(), 1);
    let next = wallet["next_before"].as_str().unwrap().to_owned();
    let (_, page2) = app
        .get(&author, &format!("/earnings?limit=1&before={next}"))
        .await;
    assert_eq!(page2["entries"].as_array().unwrap().len(), 1);
    assert!(page2["next_before"].is_null());
    assert_ne!(page2["entries"][0]["id"], wallet["entries"][0]["id"]);
}

#[tokio::test]
async fn concurrent_withdrawals_cannot_overdraw_the_wallet() {
    let app = App::spawn().await;
    let fin = app.finance().await;
    // 150 DZD per first approval, so one item pays for one withdrawal of 100 DZD, not two.
    let res = app
        .put_as(
            &fin,
            "/api/v1/admin/earnings/rate",
            json!({ "amount": 15_000 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "ledger.rate_changed")
    );
    let author = app.user(&["author"]).await;
    let reviewer = app.user(&["reviewer"]).await;
    app.approved_item(
        &author,
        &reviewer,
        "Quel examen confirme une HTA suspectée ?",
    )
    .await;
    assert_eq!(app.balance(&author).await, 15_000);
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = app.url("/api/v1/earnings/withdrawals");
        let (client, token) = (app.client.clone(), author.token.clone());
        asks.spawn(async move {
            let body = json!({ "amount": 10_000, "ccp": ccp() });
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let answers = asks.join_all().await;
    let ok = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(ok, 1, "{answers:?}");
    for (s, b) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!((*s, b["code"].as_str()), (409, Some("insufficient_funds")));
    }
    assert_eq!(app.balance(&author).await, 5_000);
    // Below the minimum, a bad key: refused before any money moves.
    let (s, b) = app.withdraw(&author, 5_000).await;
    assert_eq!((s, b["code"].as_str()), (422, Some("validation_failed")));
    let (s, b) = app
        .post(
            &author,
            "/earnings/withdrawals",
            json!({ "amount": 10_000, "ccp": "12345678 00" }),
        )
        .await;
    assert_eq!((s, b["errors"][0]["field"].as_str()), (422, Some("ccp")));
}

#[tokio::test]
async fn learners_authors_and_unstepped_staff_are_kept_out() {
    let app = App::spawn().await;
    let learner = app.user(&["student"]).await;
    let (s, b) = app.get(&learner, "/earnings").await;
    assert_eq!((s, b["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = app.withdraw(&learner, 10_000).await;
    assert_eq!(s, 403);
    let author = app.user(&["author"]).await;
    let (s, _) = app.get(&author, "/admin/withdrawals").await;
    assert_eq!(s, 403);
    let any = uuid::Uuid::now_v7();
    let (s, _) = app
        .post(
            &author,
            &format!("/admin/withdrawals/{any}/settle"),
            json!({ "outcome": "paid" }),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .post(&author, &format!("/admin/withdrawals/{any}/ccp"), json!({}))
        .await;
    assert_eq!(s, 403);
    // Finance staff without a fresh step-up may list, not settle.
    let (fin, _secret) = app
        .staff("finance2@test.myqcm.local", "admin", "finance")
        .await;
    app.advance(chrono::Duration::minutes(11));
    let (s, _) = app.get_json_as(&fin, "/api/v1/admin/withdrawals").await;
    assert_eq!(s, 200);
    let res = app
        .post_as(
            &fin,
            &format!("/api/v1/admin/withdrawals/{any}/settle"),
            json!({ "outcome": "paid" }),
        )
        .await;
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["code"], "step_up_required");
}

#[tokio::test]
async fn a_failed_payout_returns_to_the_wallet_and_a_paid_one_does_not() {
    let app = App::spawn().await;
    let fin = app.finance().await;
    app.put_as(
        &fin,
        "/api/v1/admin/earnings/rate",
        json!({ "amount": 20_000 }),
    )
    .await;
    let author = app.user(&["author"]).await;
    let reviewer = app.user(&["reviewer"]).await;
    app.approved_item(
        &author,
        &reviewer,
        "Quel examen confirme une HTA suspectée ?",
    )
    .await;
    let (s, first) = app.withdraw(&author, 12_000).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["ccp_masked"], "••••••78");
    assert_eq!(first["status"], "requested");
    assert_eq!(app.balance(&author).await, 8_000);

    // Finance sees it masked, opens the account (audited), marks it failed: the money returns.
    let (s, list) = app.get_json_as(&fin, "/api/v1/admin/withdrawals").await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("12345678"));
    let id = first["id"].as_str().unwrap();
    let res = app
        .post_as(
            &fin,
            &format!("/api/v1/admin/withdrawals/{id}/ccp"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let revealed: Value = res.json().await.unwrap();
    assert_eq!(
        revealed["ccp"],
        format!("12345678 clé {:02}", CcpAccount::ccp_key(12_345_678))
    );
    assert_eq!(revealed["rip"].as_str().unwrap().len(), 20);
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|a| a == "ledger.ccp_revealed")
    );
    let res = app
        .post_as(
            &fin,
            &format!("/api/v1/admin/withdrawals/{id}/settle"),
            json!({ "outcome": "failed", "note": "Compte clôturé" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.balance(&author).await, 20_000);
    let res = app
        .post_as(
            &fin,
            &format!("/api/v1/admin/withdrawals/{id}/settle"),
            json!({ "outcome": "paid" }),
        )
        .await;
    assert_eq!(res.status(), 409, "settled once only");
    assert_eq!(app.balance(&author).await, 20_000);

    // A paid one stays paid.
    let (_, second) = app.withdraw(&author, 15_000).await;
    let id2 = second["id"].as_str().unwrap();
    let res = app
        .post_as(
            &fin,
            &format!("/api/v1/admin/withdrawals/{id2}/settle"),
            json!({ "outcome": "paid" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.balance(&author).await, 5_000);
    let (_, wallet) = app.get(&author, "/earnings").await;
    let kinds: Vec<&str> = wallet["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "withdrawal_request",
            "payout_reversal",
            "withdrawal_request",
            "earning"
        ]
    );
    let statuses: Vec<&str> = wallet["withdrawals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["paid", "failed"]);
    assert_eq!(wallet["withdrawals"][1]["note"], "Compte clôturé");
    assert!(!wallet.to_string().contains("12345678"));
    let details = app.audit_details("ledger.withdrawal_requested").await;
    assert!(!format!("{details:?}").contains("12345678"));
}

impl App {
    /// A form POST as `b` (values URL-encoded by the caller where needed).
    async fn form(&self, b: &Browser, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("cookie", b.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_csrf={}&{body}", b.csrf))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_earnings_and_payout_pages_work_without_javascript() {
    let app = App::spawn().await;
    let fin = app.finance().await;
    app.put_as(
        &fin,
        "/api/v1/admin/earnings/rate",
        json!({ "amount": 20_000 }),
    )
    .await;
    app.sign_up_verified("writer@test.myqcm.local", crate::support::PW)
        .await;
    app.set_roles("writer@test.myqcm.local", "author", "").await;
    let writer = app
        .sign_in("writer@test.myqcm.local", crate::support::PW)
        .await;
    let author = User {
        id: app.account("writer@test.myqcm.local").await.id,
        token: writer.access.clone(),
    };
    let reviewer = app.user(&["reviewer"]).await;
    app.approved_item(
        &author,
        &reviewer,
        "Quel examen confirme une HTA suspectée ?",
    )
    .await;

    let html = app.get_as(&writer, "/earnings").await.text().await.unwrap();
    assert!(html.contains("noindex"));
    assert!(html.contains("data-balance=\"20000\""), "{html}");
    assert!(
        html.contains("href=\"/earnings\""),
        "linked from the navigation"
    );
    assert!(html.contains("action=\"/earnings/withdrawals\""));
    // A wrong key: the page again with the error, the account not echoed back.
    let res = app
        .form(
            &writer,
            "/earnings/withdrawals",
            "amount=150&ccp=12345678+00",
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(!res.text().await.unwrap().contains("12345678"));
    let good = format!(
        "amount=150&ccp=12345678+cl%C3%A9+{:02}",
        CcpAccount::ccp_key(12_345_678)
    );
    let res = app.form(&writer, "/earnings/withdrawals", &good).await;
    // 303 to the wallet, followed.
    assert_eq!(
        (res.status().as_u16(), res.url().path()),
        (200, "/earnings")
    );
    assert!(res.url().query().unwrap_or("").contains("done=requested"));
    assert_eq!(app.balance(&author).await, 5_000);
    let html = app.get_as(&writer, "/earnings").await.text().await.unwrap();
    assert!(html.contains("••••••78") && !html.contains("12345678"));

    // Finance: the list masked, the account on demand, then settled as failed.
    let html = app
        .get_as(&fin, "/admin/withdrawals")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("noindex") && html.contains("href=\"/admin/withdrawals\""));
    assert!(
        html.contains("••••••78") && !html.contains("12345678"),
        "{html}"
    );
    let (_, list) = app.get_json_as(&fin, "/api/v1/admin/withdrawals").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let res = app
        .form(&fin, &format!("/admin/withdrawals/{id}/ccp"), "")
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("12345678 clé"));
    let res = app
        .form(
            &fin,
            &format!("/admin/withdrawals/{id}/settle"),
            "outcome=failed&note=Compte+introuvable",
        )
        .await;
    assert_eq!(
        (res.status().as_u16(), res.url().path()),
        (200, "/admin/withdrawals")
    );
    assert_eq!(app.balance(&author).await, 20_000);

    // The account export carries the wallet (accounts masked).
    let (s, export) = app.get_json_as(&writer, "/api/v1/account/export").await;
    assert_eq!(s, 200);
    let earnings = &export["commerce"]["earnings"];
    assert_eq!(earnings["balance"], 20_000, "{export}");
    assert_eq!(earnings["entries"].as_array().unwrap().len(), 3);
    assert_eq!(earnings["withdrawals"][0]["ccp_masked"], "••••••78");
    assert!(!export.to_string().contains("12345678"));

    // A learner is refused the author's page; an author the finance page.
    let learner = app.learner("learner@test.myqcm.local").await;
    assert_eq!(app.get_as(&learner, "/earnings").await.status(), 403);
    assert_eq!(
        app.get_as(&writer, "/admin/withdrawals").await.status(),
        403
    );
}
