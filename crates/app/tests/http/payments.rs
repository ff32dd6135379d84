//! Online payment over real HTTP against the fake Chargily server (both backends): the test
//! matrix W1–W15 of spec/security.md §1.6, one named test each. Unless a test says otherwise
//! it also asserts that nothing was granted (no subscription).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;
use std::time::Duration;

use myqcm_db::commerce::payments::{self as pay, payment_event};
use myqcm_domain::payments::PaymentMode;
use myqcm_integrations::chargily::{Chargily, ChargilySettings, sign};
use myqcm_services::commerce::payments::Outcome;
use myqcm_testkit::fake_chargily::FakeChargily;
use myqcm_testkit::{fixed_clock, test_cache};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{ApiUser as User, spawn_app, spawn_sharing, test_app_wrapper};

const KEY: &str = "test_sk_fake_http_tests";
const PRICE: i64 = 2500;

test_app_wrapper!(
    /// The harness with online payment through the fake Chargily server.
    App
);

struct Setup {
    app: App,
    fake: FakeChargily,
}

impl std::ops::Deref for Setup {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

async fn setup() -> Setup {
    let fake = FakeChargily::start(KEY).await.unwrap();
    let gateway = Arc::new(
        Chargily::new(ChargilySettings {
            api_base: fake.api_base.clone(),
            secret_key: KEY.into(),
            timeout: Duration::from_secs(1),
        })
        .unwrap(),
    );
    let cache = test_cache().await.unwrap();
    let app = spawn_sharing(None, cache, fixed_clock(), move |_, s| {
        *s = s.clone().with_payments(gateway, PaymentMode::Test);
    })
    .await;
    let app = App(app);
    let admin = app.api_user(&["admin"], &["finance"], true).await;
    let (s, b) = app
        .send(
            "POST",
            &admin,
            "/admin/plans",
            json!({
                "code": "premium",
                "names": {"fr": "Premium", "en": "Premium", "ar": "بريميوم"},
                "price_dzd": PRICE,
                "duration_days": 30,
                "explanations": true,
            }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    Setup { app, fake }
}

impl App {
    async fn send(&self, method: &str, u: &User, p: &str, body: Value) -> (u16, Value) {
        let m: reqwest::Method = method.parse().unwrap();
        let body = (m != reqwest::Method::GET).then_some(body);
        self.send_bearer(m, &u.token, &format!("/api/v1{p}"), body)
            .await
    }

    async fn student(&self) -> User {
        self.api_user(&["student"], &[], false).await
    }

    async fn subscriptions(&self, u: &User) -> Vec<myqcm_db::commerce::subscription::Model> {
        myqcm_db::commerce::subscriptions_of(&self.db.conn, u.id)
            .await
            .unwrap()
    }

    async fn intent_status(&self, id: Uuid) -> String {
        pay::intent(&self.db.conn, id)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    async fn events(&self) -> u64 {
        payment_event::Entity::find()
            .count(&self.db.conn)
            .await
            .unwrap()
    }

    /// Posts a webhook body with an optional `signature` header: (status, body).
    async fn webhook(&self, body: &[u8], signature: Option<&str>) -> (u16, Value) {
        let mut rb = self
            .client
            .post(self.url("/api/v1/payments/chargily/webhook"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            rb = rb.header("signature", s);
        }
        crate::support::status_and_json(rb.send().await.unwrap()).await
    }

    fn payments(&self) -> &myqcm_services::commerce::payments::Payments {
        self.services.payments.as_ref().unwrap()
    }
}

impl Setup {
    /// Starts a checkout of the premium plan for `u`: (intent id, checkout id).
    async fn checkout(&self, u: &User) -> (Uuid, String) {
        let (s, b) = self
            .send("POST", u, "/payments/checkout", json!({"plan": "premium"}))
            .await;
        assert_eq!(s, 201, "{b}");
        let intent: Uuid = b["intent"]["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(b["intent"]["status"], "pending");
        let c = self
            .fake
            .checkouts()
            .into_iter()
            .find(|c| c["metadata"]["intent_id"] == intent.to_string())
            .expect("the checkout at the provider carries the intent id");
        assert_eq!(b["checkout_url"], c["checkout_url"]);
        (intent, c["id"].as_str().unwrap().to_owned())
    }

    /// A signed `checkout.paid` body for `checkout` with `event_id` (as the provider would send).
    fn paid_event(&self, event_id: &str, checkout: &str) -> (Vec<u8>, String) {
        let mut c = self.fake.checkout(checkout).unwrap();
        c["status"] = json!("paid");
        let body = self.fake.event_body(event_id, "checkout.paid", &c);
        let sig = sign(KEY.as_bytes(), &body);
        (body, sig)
    }

    async fn assert_nothing_granted(&self, u: &User, intent: Uuid, status: &str) {
        assert!(self.subscriptions(u).await.is_empty(), "nothing granted");
        assert_eq!(self.intent_status(intent).await, status);
    }
}

#[tokio::test]
async fn w01_a_signed_paid_webhook_grants_one_subscription_and_an_audit_row() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    assert_eq!(
        app.fake.checkout(&checkout).unwrap()["amount"],
        PRICE,
        "the amount comes from the plan"
    );
    assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200]);
    let subs = app.subscriptions(&u).await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].source, "chargily");
    assert_eq!(app.intent_status(intent).await, "paid");
    let row = pay::intent(&app.db.conn, intent).await.unwrap().unwrap();
    assert_eq!(row.subscription_id, Some(subs[0].id));
    let audit = app.audit_details("payment.paid").await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    let (s, b) = app.send("GET", &u, "/subscription", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(b["plan"]["code"], "premium");
    assert_eq!(b["source"], "chargily");
    let (s, b) = app
        .send("GET", &u, &format!("/payments/{intent}"), json!({}))
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("paid")));
}

#[tokio::test]
async fn w02_a_webhook_without_signature_is_refused() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.set_status(&checkout, "paid");
    let (body, _) = app.paid_event("evt_w02", &checkout);
    let (s, b) = app.webhook(&body, None).await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["code"], "signature_invalid");
    assert_eq!(app.events().await, 0, "no event row");
    assert!(
        app.audit_actions()
            .await
            .contains(&"payment.webhook_rejected".to_owned())
    );
    app.assert_nothing_granted(&u, intent, "pending").await;
}

#[tokio::test]
async fn w03_a_signature_of_another_body_or_a_flipped_byte_is_refused() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.set_status(&checkout, "paid");
    let (body, sig) = app.paid_event("evt_w03", &checkout);
    let mut flipped = body.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    assert_eq!(app.webhook(&flipped, Some(&sig)).await.0, 401);
    let (other, other_sig) = app.paid_event("evt_w03_other", &checkout);
    assert_ne!(other, body);
    assert_eq!(app.webhook(&body, Some(&other_sig)).await.0, 401);
    assert_eq!(app.events().await, 0);
    app.assert_nothing_granted(&u, intent, "pending").await;
}

#[tokio::test]
async fn w04_uppercase_prefixed_or_base64_signatures_are_refused() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.set_status(&checkout, "paid");
    let (body, sig) = app.paid_event("evt_w04", &checkout);
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&sig[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    use base64::Engine;
    for bad in [
        sig.to_uppercase(),
        format!("sha256={sig}"),
        base64::engine::general_purpose::STANDARD.encode(&raw),
        String::new(),
    ] {
        let (s, _) = app.webhook(&body, Some(&bad)).await;
        assert_eq!(s, 401, "{bad:?}");
    }
    assert_eq!(app.events().await, 0);
    app.assert_nothing_granted(&u, intent, "pending").await;
}

#[tokio::test]
async fn w05_a_signature_made_with_the_live_key_is_refused_in_test_mode() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.set_status(&checkout, "paid");
    let (body, _) = app.paid_event("evt_w05", &checkout);
    let live = sign(b"live_sk_the_other_mode_key", &body);
    assert_eq!(app.webhook(&body, Some(&live)).await.0, 401);
    app.assert_nothing_granted(&u, intent, "pending").await;
}

#[tokio::test]
async fn w06_the_same_event_delivered_twice_grants_once() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.knobs(|k| k.send_twice = true);
    assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200, 200]);
    assert_eq!(app.subscriptions(&u).await.len(), 1);
    assert_eq!(app.intent_status(intent).await, "paid");
    assert_eq!(app.events().await, 1);
    assert_eq!(app.audit_details("payment.paid").await.len(), 1);
}

#[tokio::test]
async fn w06_fifty_concurrent_deliveries_of_one_event_grant_exactly_one_subscription() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.set_status(&checkout, "paid");
    let (body, sig) = app.paid_event("evt_w06_concurrent", &checkout);
    let url = app.url("/api/v1/payments/chargily/webhook");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url, body, sig) = (app.client.clone(), url.clone(), body.clone(), sig.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let subs = app.subscriptions(&u).await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(app.intent_status(intent).await, "paid");
    assert_eq!(app.events().await, 1);
    assert_eq!(app.audit_details("payment.paid").await.len(), 1);
}

#[tokio::test]
async fn w07_a_new_event_id_for_a_paid_checkout_grants_nothing_more() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200]);
    let (body, sig) = app.paid_event("evt_w07_replayed_with_new_id", &checkout);
    let (s, b) = app.webhook(&body, Some(&sig)).await;
    assert_eq!((s, b["outcome"].as_str()), (200, Some("no_change")));
    assert_eq!(app.subscriptions(&u).await.len(), 1);
    assert_eq!(app.intent_status(intent).await, "paid");
}

#[tokio::test]
async fn w08_a_failed_event_after_paid_leaves_the_intent_paid() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200]);
    assert_eq!(app.fake.settle(&checkout, "fail").await, vec![200]);
    assert_eq!(app.intent_status(intent).await, "paid");
    assert_eq!(app.subscriptions(&u).await.len(), 1);
    assert_eq!(app.events().await, 2, "the late event is recorded");
}

#[tokio::test]
async fn w09_a_wrong_amount_livemode_or_intent_id_quarantines_without_grant() {
    let app = setup().await;
    type Knob = fn(&mut myqcm_testkit::fake_chargily::Knobs);
    let cases: [(&str, Knob); 3] = [
        ("amount", |k| k.mutate_amount = -2400),
        ("livemode", |k| k.livemode = true),
        ("intent_id", |k| k.mutate_intent_id = true),
    ];
    for (what, knob) in cases {
        let u = app.student().await;
        let (intent, checkout) = app.checkout(&u).await;
        app.fake.knobs(knob);
        assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200], "{what}");
        app.fake
            .knobs(|k| *k = myqcm_testkit::fake_chargily::Knobs::default());
        app.assert_nothing_granted(&u, intent, "quarantined").await;
        let row = pay::intent(&app.db.conn, intent).await.unwrap().unwrap();
        assert!(row.note.unwrap_or_default().contains(what), "{what}");
    }
    assert_eq!(app.audit_details("payment.quarantined").await.len(), 3);
    // A paid checkout that names no intent of ours: recorded, nothing granted.
    let stranger = app
        .client
        .post(format!("{}/checkouts", app.fake.api_base))
        .bearer_auth(KEY)
        .json(&json!({
            "amount": PRICE, "currency": "dzd",
            "success_url": app.url("/billing/return"),
            "webhook_endpoint": app.url("/api/v1/payments/chargily/webhook"),
            "metadata": {"intent_id": Uuid::now_v7().to_string()},
        }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let id = stranger["id"].as_str().unwrap();
    assert_eq!(app.fake.settle(id, "pay").await, vec![200]);
    assert_eq!(app.audit_details("payment.unmatched").await.len(), 1);
    let granted = myqcm_db::commerce::subscription::Entity::find()
        .count(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(granted, 0);
}

#[tokio::test]
async fn w10_an_unknown_event_type_answers_200_and_changes_nothing() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.set_status(&checkout, "paid");
    let c = app.fake.checkout(&checkout).unwrap();
    let body = app.fake.event_body("evt_w10", "customer.updated", &c);
    let sig = sign(KEY.as_bytes(), &body);
    let (s, b) = app.webhook(&body, Some(&sig)).await;
    assert_eq!((s, b["outcome"].as_str()), (200, Some("ignored")));
    app.assert_nothing_granted(&u, intent, "pending").await;
}

#[tokio::test]
async fn w11_oversized_bodies_and_signed_invalid_json_are_refused_without_panic() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, _) = app.checkout(&u).await;
    let huge = vec![b'x'; 10 * 1024 * 1024];
    let (s, _) = app.webhook(&huge, Some(&sign(KEY.as_bytes(), &huge))).await;
    assert_eq!(s, 413);
    let big = format!("{{\"pad\":\"{}\"}}", "y".repeat(100 * 1024)).into_bytes();
    let (s, b) = app.webhook(&big, Some(&sign(KEY.as_bytes(), &big))).await;
    assert_eq!((s, b["code"].as_str()), (413, Some("payload_too_large")));
    let bad = b"{\"id\": \"evt_w11\", not json".to_vec();
    let (s, b) = app.webhook(&bad, Some(&sign(KEY.as_bytes(), &bad))).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_json")));
    app.assert_nothing_granted(&u, intent, "pending").await;
    assert_eq!(app.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn webhooks_past_120_a_minute_from_one_address_are_refused_before_the_signature_check() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.set_status(&checkout, "paid");
    for i in 0..120 {
        let (s, _) = app.webhook(b"{}", None).await;
        assert_eq!(s, 401, "delivery {i} is within the limit");
    }
    let rejected = app.audit_details("payment.webhook_rejected").await.len();
    assert_eq!(rejected, 120);
    // Even a correctly signed paid event is refused now, and its signature is never checked.
    let (body, sig) = app.paid_event("evt_rate_limited", &checkout);
    let (s, b) = app.webhook(&body, Some(&sig)).await;
    assert_eq!((s, b["code"].as_str()), (429, Some("rate_limited")));
    let (s, _) = app.webhook(b"{}", None).await;
    assert_eq!(s, 429);
    assert_eq!(
        app.audit_details("payment.webhook_rejected").await.len(),
        rejected,
        "no signature work past the limit"
    );
    assert_eq!(app.events().await, 0);
    app.assert_nothing_granted(&u, intent, "pending").await;
}

#[tokio::test]
async fn w12_a_fetch_back_saying_pending_grants_nothing_until_reconciled() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    app.fake.knobs(|k| k.pending_on_fetch = true);
    assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200]);
    app.assert_nothing_granted(&u, intent, "pending").await;
    assert_eq!(app.events().await, 0, "not recorded: a resend is processed");
    // Later the provider answers the truth: the reconciliation grants.
    app.fake.knobs(|k| k.pending_on_fetch = false);
    app.advance(chrono::Duration::minutes(6));
    let r = app.payments().reconcile().await.unwrap();
    assert_eq!(r.granted, 1, "{r:?}");
    assert_eq!(app.subscriptions(&u).await.len(), 1);
    assert_eq!(app.intent_status(intent).await, "paid");
}

#[tokio::test]
async fn w13_the_return_page_without_webhook_shows_processing_and_grants_nothing() {
    let app = setup().await;
    let b = app.learner("w13@example.dz").await;
    let res = app
        .post_as(&b, "/api/v1/payments/checkout", json!({"plan": "premium"}))
        .await;
    assert_eq!(res.status(), 201);
    let started: Value = res.json().await.unwrap();
    let intent = started["intent"]["id"].as_str().unwrap().to_owned();
    let page = app
        .get_as(&b, &format!("/billing/return?intent={intent}"))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-status=\"pending\""), "{html}");
    let id = app.account("w13@example.dz").await.id;
    let subs = myqcm_db::commerce::subscriptions_of(&app.db.conn, id)
        .await
        .unwrap();
    assert!(subs.is_empty());
    assert_eq!(app.intent_status(intent.parse().unwrap()).await, "pending");
}

#[tokio::test]
async fn w14_a_checkout_created_behind_a_timeout_is_found_and_expired_or_settled_once() {
    let app = setup().await;
    let u = app.student().await;
    app.fake.knobs(|k| k.create_hang_ms = 2500);
    let (s, b) = app
        .send("POST", &u, "/payments/checkout", json!({"plan": "premium"}))
        .await;
    assert_eq!((s, b["code"].as_str()), (503, Some("payment_unavailable")));
    app.fake.knobs(|k| k.create_hang_ms = 0);
    let intents = pay::intents_of(&app.db.conn, u.id, 10).await.unwrap();
    assert_eq!(intents.len(), 1);
    let intent = intents[0].id;
    assert_eq!(intents[0].status, "unknown");
    let checkout = app.fake.checkouts()[0]["id"].as_str().unwrap().to_owned();
    // First look: found by its metadata, still pending, remembered.
    app.advance(chrono::Duration::minutes(6));
    app.payments().reconcile().await.unwrap();
    let row = pay::intent(&app.db.conn, intent).await.unwrap().unwrap();
    assert_eq!(row.checkout_id.as_deref(), Some(checkout.as_str()));
    assert_eq!(row.status, "pending");
    // An hour on, still unpaid: expired at the provider and here.
    app.advance(chrono::Duration::minutes(61));
    let r = app.payments().reconcile().await.unwrap();
    assert_eq!(r.closed, 1, "{r:?}");
    assert_eq!(app.fake.checkout(&checkout).unwrap()["status"], "expired");
    app.assert_nothing_granted(&u, intent, "expired").await;

    // The other ending: paid at the provider while our create call timed out, no webhook.
    let v = app.student().await;
    app.fake.knobs(|k| k.create_hang_ms = 2500);
    let (s, _) = app
        .send("POST", &v, "/payments/checkout", json!({"plan": "premium"}))
        .await;
    assert_eq!(s, 503);
    app.fake.knobs(|k| k.create_hang_ms = 0);
    let paid = app.fake.checkouts()[1]["id"].as_str().unwrap().to_owned();
    app.fake.set_status(&paid, "paid");
    app.advance(chrono::Duration::minutes(6));
    let r = app.payments().reconcile().await.unwrap();
    assert_eq!(r.granted, 1, "{r:?}");
    app.advance(chrono::Duration::minutes(6));
    let again = app.payments().reconcile().await.unwrap();
    assert_eq!(again.granted, 0);
    assert_eq!(app.subscriptions(&v).await.len(), 1);
}

#[tokio::test]
async fn w15_another_learners_intent_is_not_found() {
    let app = setup().await;
    let a = app.student().await;
    let b = app.student().await;
    let (intent, _) = app.checkout(&a).await;
    let (s, body) = app
        .send("GET", &b, &format!("/payments/{intent}"), json!({}))
        .await;
    assert_eq!((s, body["code"].as_str()), (404, Some("not_found")));
    let (s, _) = app
        .send("GET", &a, &format!("/payments/{intent}"), json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .send(
            "GET",
            &b,
            &format!("/payments/{}", Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn checkout_takes_the_price_from_the_plan_and_refuses_the_free_plan() {
    let app = setup().await;
    let u = app.student().await;
    let (s, b) = app
        .send(
            "POST",
            &u,
            "/payments/checkout",
            json!({"plan": "premium", "amount": 1}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("validation_failed")));
    let (s, b) = app
        .send("POST", &u, "/payments/checkout", json!({"plan": "free"}))
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("validation_failed")));
    let (s, _) = app
        .send("POST", &u, "/payments/checkout", json!({"plan": "nope"}))
        .await;
    assert_eq!(s, 422);
    assert!(app.fake.checkouts().is_empty());
    // Success and failure URLs come from the public URL and the intent id only.
    let (intent, checkout) = app.checkout(&u).await;
    let c = app.fake.checkout(&checkout).unwrap();
    let want = format!("{}/billing/return?intent={intent}", app.base);
    assert_eq!(c["success_url"], want);
    assert_eq!(c["failure_url"], want);
    assert_eq!(
        c["webhook_endpoint"],
        app.url("/api/v1/payments/chargily/webhook")
    );
}

#[tokio::test]
async fn a_failed_payment_closes_the_intent_and_grants_nothing() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    assert_eq!(app.fake.settle(&checkout, "fail").await, vec![200]);
    app.assert_nothing_granted(&u, intent, "failed").await;
    let outcome = serde_json::to_value(Outcome::Closed).unwrap();
    assert_eq!(outcome, "closed");
}

#[tokio::test]
async fn without_configuration_online_payment_is_hidden() {
    let app = App(spawn_app().await);
    let u = app.student().await;
    let (s, _) = app
        .send("POST", &u, "/payments/checkout", json!({"plan": "premium"}))
        .await;
    assert_eq!(s, 404);
    let (s, _) = app.webhook(b"{}", Some(&"0".repeat(64))).await;
    assert_eq!(s, 404);
    assert_eq!(app.get("/billing").await.status(), 404);
}

#[tokio::test]
async fn the_export_lists_the_learners_intents_and_erasure_keeps_them_without_free_text() {
    use myqcm_db::identity::accounts;
    use sea_orm::ActiveValue::Set;

    let app = setup().await;
    let u = app.student().await;
    let (paid, checkout) = app.checkout(&u).await;
    assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200]);
    let (failed, other) = app.checkout(&u).await;
    assert_eq!(app.fake.settle(&other, "fail").await, vec![200]);
    let noted = pay::intent(&app.db.conn, failed).await.unwrap().unwrap();
    assert!(noted.note.is_some() && noted.checkout_url.is_some());

    let (s, export) = app.send("GET", &u, "/account/export", json!(null)).await;
    assert_eq!(s, 200, "{export}");
    let intents = export["commerce"]["payments"].as_array().unwrap();
    assert_eq!(intents.len(), 2, "{export}");
    let by_id = |id: Uuid| {
        intents
            .iter()
            .find(|i| i["id"] == id.to_string())
            .unwrap()
            .clone()
    };
    let p = by_id(paid);
    assert_eq!(
        (&p["plan"], &p["amount_dzd"], &p["currency"], &p["status"]),
        (
            &json!("premium"),
            &json!(PRICE),
            &json!("dzd"),
            &json!("paid")
        )
    );
    assert_eq!(
        p["subscription_id"],
        json!(app.subscriptions(&u).await[0].id)
    );
    assert!(p["created_at"].is_string() && p["updated_at"].is_string());
    assert_eq!(by_id(failed)["status"], "failed");
    let text = export.to_string();
    for secret in [
        checkout.as_str(),
        other.as_str(),
        noted.checkout_url.as_deref().unwrap(),
        noted.note.as_deref().unwrap(),
    ] {
        assert!(!text.contains(secret), "the export carries {secret}");
    }

    // Erasure: the intents stay (amount, status, dates) but lose every free-text field.
    accounts::update(
        &app.db.conn,
        accounts::entity::ActiveModel {
            id: Set(u.id),
            deletion_requested_at: Set(Some(app.now().timestamp_millis())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    app.advance(chrono::Duration::days(15));
    let deps = app.services.deps();
    assert_eq!(
        myqcm_services::identity::privacy::erase_due(&deps)
            .await
            .unwrap(),
        1
    );
    for id in [paid, failed] {
        let i = pay::intent(&app.db.conn, id).await.unwrap().unwrap();
        assert_eq!((i.learner_id, i.amount_dzd), (u.id, PRICE));
        assert_eq!(
            (i.note, i.checkout_url, i.subscription_id),
            (None, None, None),
            "{id}"
        );
    }
    assert_eq!(app.intent_status(paid).await, "paid");
    assert_eq!(app.intent_status(failed).await, "failed");
    assert!(app.subscriptions(&u).await.is_empty());
}

#[tokio::test]
async fn erasure_expires_open_intents_so_reconciliation_and_a_late_webhook_grant_nothing() {
    use myqcm_db::identity::accounts;
    use sea_orm::ActiveValue::Set;

    let app = setup().await;
    let u = app.student().await;
    // One pending intent (a checkout exists) and one unknown (its create call timed out).
    let (pending, checkout) = app.checkout(&u).await;
    app.fake.knobs(|k| k.create_hang_ms = 2500);
    let (s, _) = app
        .send("POST", &u, "/payments/checkout", json!({"plan": "premium"}))
        .await;
    assert_eq!(s, 503);
    app.fake.knobs(|k| k.create_hang_ms = 0);
    let unknown = pay::intents_of(&app.db.conn, u.id, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.status == "unknown")
        .unwrap()
        .id;
    let hidden = app.fake.checkouts()[1]["id"].as_str().unwrap().to_owned();

    accounts::update(
        &app.db.conn,
        accounts::entity::ActiveModel {
            id: Set(u.id),
            deletion_requested_at: Set(Some(app.now().timestamp_millis())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    app.advance(chrono::Duration::days(15));
    let deps = app.services.deps();
    assert_eq!(
        myqcm_services::identity::privacy::erase_due(&deps)
            .await
            .unwrap(),
        1
    );
    for id in [pending, unknown] {
        let i = pay::intent(&app.db.conn, id).await.unwrap().unwrap();
        assert_eq!(i.status, "expired", "{id}");
        assert_eq!(i.note.as_deref(), Some("account erased"));
    }

    // Both are paid at the provider afterwards; the reconciliation no longer looks at them.
    app.fake.set_status(&hidden, "paid");
    app.fake.set_status(&checkout, "paid");
    app.advance(chrono::Duration::minutes(6));
    let r = app.payments().reconcile().await.unwrap();
    assert_eq!((r.looked_at, r.granted), (0, 0), "{r:?}");

    // A late signed webhook is recorded and quarantines the intent (staff refund it).
    let (body, sig) = app.paid_event("evt_late_after_erasure", &checkout);
    let (s, b) = app.webhook(&body, Some(&sig)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(app.events().await, 1, "the late event is recorded");
    app.assert_nothing_granted(&u, pending, "quarantined").await;
    let (body, sig) = app.paid_event("evt_late_unknown", &hidden);
    assert_eq!(app.webhook(&body, Some(&sig)).await.0, 200);
    app.assert_nothing_granted(&u, unknown, "quarantined").await;
    let quarantines = myqcm_db::identity::audit::by_or_about(&app.db.conn, u.id, Vec::new(), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "payment.quarantined")
        .count();
    assert_eq!(quarantines, 2);
}

#[tokio::test]
async fn w09_a_paid_checkout_in_another_currency_set_over_http_quarantines_without_grant() {
    let app = setup().await;
    let u = app.student().await;
    let (intent, checkout) = app.checkout(&u).await;
    // The knob as a browser test or another process sets it: over the control endpoint.
    let res = app
        .client
        .post(format!("{}/_control/knobs", app.fake.base))
        .json(&json!({"currency": "eur"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(app.fake.settle(&checkout, "pay").await, vec![200]);
    assert_eq!(app.fake.checkout(&checkout).unwrap()["currency"], "eur");
    app.assert_nothing_granted(&u, intent, "quarantined").await;
    let row = pay::intent(&app.db.conn, intent).await.unwrap().unwrap();
    assert_eq!(row.note.as_deref(), Some("mismatch: currency"));
    assert_eq!(app.events().await, 1, "the event is recorded");
    let audit = app.audit_details("payment.quarantined").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["mismatch"], "currency");
}
