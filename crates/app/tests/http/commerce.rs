//! Commerce over real HTTP (both backends): plans managed by finance staff, the quota of the
//! learner's plan enforced on graded answers only (skips consume nothing) with the moment it
//! resets, and activation cards (redeem, refused codes, revoked batches, rate limit, audit).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use chrono::{DateTime, Utc};
use myqcm_domain::catalogue::{ItemContent, ItemKind};
use myqcm_services::commerce::cards::MintInput;
use myqcm_services::identity::ClientMeta;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{ApiUser as User, spawn_app, test_app_wrapper};

test_app_wrapper!(
    /// The harness on the demo bank, with commerce shortcuts.
    App
);

impl App {
    async fn spawn() -> Self {
        let app = spawn_app().await;
        app.load_demo_bank().await;
        Self(app)
    }

    async fn learner(&self) -> User {
        let u = self.api_user(&["student"], &[], false).await;
        let (s, b) = self
            .send("PUT", &u, "/learner/profile", json!({"year_of_study": 3}))
            .await;
        assert_eq!(s, 200, "{b}");
        u
    }

    /// A new access token for `u` (after the clock moved past the old one's 15 minutes).
    async fn fresh_token(&self, u: &User) -> User {
        let t = myqcm_services::identity::testing::issue_session_for(
            &self.db.conn,
            self.cache.clone(),
            std::sync::Arc::new(self.clock.clone()),
            u.id,
        )
        .await
        .unwrap();
        User {
            id: u.id,
            token: t.access_token,
        }
    }

    async fn finance(&self) -> User {
        self.api_user(&["admin"], &["finance"], true).await
    }

    async fn send(&self, method: &str, u: &User, p: &str, body: Value) -> (u16, Value) {
        let m: reqwest::Method = method.parse().unwrap();
        let body = (m != reqwest::Method::GET).then_some(body);
        self.send_bearer(m, &u.token, &format!("/api/v1{p}"), body)
            .await
    }

    async fn right(&self, item: &Value) -> Value {
        let rev: Uuid = item["revision_id"].as_str().unwrap().parse().unwrap();
        let row = myqcm_db::catalogue::revision(&self.services.db, rev)
            .await
            .unwrap()
            .unwrap();
        let c: ItemContent = serde_json::from_str(&row.content).unwrap();
        match c.kind {
            ItemKind::Qroc => {
                json!({"served_id": item["served_id"], "text": c.qroc.unwrap().expected})
            }
            _ => {
                let key: Vec<usize> = (0..c.options.len())
                    .filter(|i| c.options[*i].correct)
                    .collect();
                json!({"served_id": item["served_id"], "options": key})
            }
        }
    }

    /// A QCS session of `n` items in cardiology; returns (id, first item).
    async fn qcs_session(&self, u: &User, n: u32) -> (String, Value) {
        let cardio = myqcm_db::catalogue::subject_by_code(&self.services.db, "cardio")
            .await
            .unwrap()
            .unwrap()
            .id;
        let (s, b) = self
            .send(
                "POST",
                u,
                "/training-sessions",
                json!({"mode": "custom", "style": "tutor", "subject": cardio, "kinds": ["qcs"], "item_count": n}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        (b["id"].as_str().unwrap().to_owned(), b["current"].clone())
    }

    async fn answer(&self, u: &User, id: &str, item: &Value) -> (u16, Value) {
        let body = self.right(item).await;
        self.send("POST", u, &format!("/training-sessions/{id}/answers"), body)
            .await
    }

    /// The free plan's body with other QCS/QCM quotas.
    fn free_plan(per_day: Option<i32>, per_month: Option<i32>) -> Value {
        json!({
            "code": "free",
            "names": {"fr": "Gratuit", "en": "Free", "ar": "مجاني"},
            "price_dzd": 0,
            "mcq_per_day": per_day,
            "mcq_per_month": per_month,
            "qroc_per_day": 10,
            "explanations": true,
        })
    }

    async fn paid_plan(&self, admin: &User, code: &str, price: i64, days: Option<i32>) {
        let (s, b) = self
            .send(
                "POST",
                admin,
                "/admin/plans",
                json!({
                    "code": code,
                    "names": {"fr": "Premium", "en": "Premium", "ar": "بريميوم"},
                    "price_dzd": price,
                    "duration_days": days,
                    "explanations": true,
                }),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }

    async fn mint(&self, plan: &str, count: u32, expires: Option<DateTime<Utc>>) -> Vec<String> {
        let minted = self
            .services
            .commerce
            .mint(
                None,
                &ClientMeta::default(),
                MintInput {
                    plan: plan.into(),
                    count,
                    expires_at: expires,
                    label: "test".into(),
                },
            )
            .await
            .unwrap();
        minted.codes
    }
}

fn field<'a>(problem: &'a Value, name: &str) -> Option<&'a str> {
    problem["errors"]
        .as_array()?
        .iter()
        .find(|e| e["field"] == name)?["message"]
        .as_str()
}

#[tokio::test]
async fn a_learner_at_quota_is_refused_the_next_graded_answer_until_the_day_resets_and_skips_cost_nothing()
 {
    let app = App::spawn().await;
    let admin = app.finance().await;
    let (s, b) = app
        .send(
            "PUT",
            &admin,
            "/admin/plans/free",
            App::free_plan(Some(2), Some(100)),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["mcq_per_day"], 2);

    let u = app.learner().await;
    let (id, first) = app.qcs_session(&u, 8).await;
    let (s, out) = app.answer(&u, &id, &first).await;
    assert_eq!(s, 200, "{out}");
    let second = out["next"].clone();
    // A skip consumes nothing: after it, the second graded answer still fits the day's two.
    let (s, third) = app
        .send(
            "POST",
            &u,
            &format!("/training-sessions/{id}/skip"),
            json!({"served_id": second["served_id"]}),
        )
        .await;
    assert_eq!(s, 200, "{third}");
    let (s, out) = app.answer(&u, &id, &third).await;
    assert_eq!(s, 200, "{out}");
    let (_, sub) = app.send("GET", &u, "/subscription", Value::Null).await;
    assert_eq!(sub["plan"]["code"], "free");
    assert_eq!(sub["allowances"][0]["feature"], "mcq_answer");
    assert_eq!(sub["allowances"][0]["remaining"], 0);

    let fourth = out["next"].clone();
    let (s, problem) = app.answer(&u, &id, &fourth).await;
    assert_eq!(s, 403, "{problem}");
    assert_eq!(problem["code"], "quota_exhausted");
    assert_eq!(field(&problem, "feature"), Some("mcq_answer"));
    // The fixed clock is 2026-01-05 08:00 UTC = 09:00 in Algiers: the day restarts at
    // 2026-01-06 00:00 Algerian time.
    assert_eq!(
        field(&problem, "resets_at"),
        Some("2026-01-06T00:00:00+01:00"),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("resets at"),
        "{problem}"
    );
    assert_eq!(
        sub["allowances"][0]["resets_at"]
            .as_str()
            .map(|s| s.parse::<DateTime<Utc>>().unwrap()),
        Some("2026-01-05T23:00:00Z".parse().unwrap())
    );
    let sid: Uuid = id.parse().unwrap();
    let attempts = myqcm_db::training::attempts_of_session(&app.services.db, sid)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2, "the refused answer stored nothing");
    let usage = myqcm_db::commerce::usage_of(&app.services.db, u.id)
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].day_used, usage[0].month_used), (2, 2));

    // The next Algerian day, the same item is accepted and counted in a fresh day window.
    app.advance(chrono::Duration::hours(15));
    let u = app.fresh_token(&u).await;
    let (s, out) = app.answer(&u, &id, &fourth).await;
    assert_eq!(s, 200, "{out}");
    let usage = myqcm_db::commerce::usage_of(&app.services.db, u.id)
        .await
        .unwrap();
    assert_eq!((usage[0].day_used, usage[0].month_used), (1, 3));
}

#[tokio::test]
async fn the_monthly_window_binds_when_it_is_the_tighter_one() {
    let app = App::spawn().await;
    let admin = app.finance().await;
    let (s, _) = app
        .send(
            "PUT",
            &admin,
            "/admin/plans/free",
            App::free_plan(None, Some(1)),
        )
        .await;
    assert_eq!(s, 200);
    let u = app.learner().await;
    let (id, first) = app.qcs_session(&u, 4).await;
    let (s, out) = app.answer(&u, &id, &first).await;
    assert_eq!(s, 200, "{out}");
    let (s, problem) = app.answer(&u, &id, &out["next"]).await;
    assert_eq!(s, 403, "{problem}");
    assert_eq!(
        field(&problem, "resets_at"),
        Some("2026-02-01T00:00:00+01:00")
    );
}

#[tokio::test]
async fn finance_staff_manage_plans_and_learners_see_the_listed_ones() {
    let app = App::spawn().await;
    let learner = app.learner().await;
    let (s, _) = app
        .send("POST", &learner, "/admin/plans", json!({"code": "x"}))
        .await;
    assert_eq!(s, 403, "learners cannot create plans");
    let content = app.api_user(&["admin"], &["content"], true).await;
    let (s, _) = app.send("GET", &content, "/admin/plans", Value::Null).await;
    assert_eq!(s, 403, "the content scope is not finance");
    let unenrolled = app.api_user(&["admin"], &["finance"], false).await;
    let (s, b) = app
        .send("GET", &unenrolled, "/admin/plans", Value::Null)
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (403, Some("mfa_enrolment_required"))
    );

    let admin = app.finance().await;
    app.paid_plan(&admin, "premium-month", 3000, Some(30)).await;
    let (s, b) = app
        .send(
            "POST",
            &admin,
            "/admin/plans",
            json!({"code": "premium-month", "names": {"fr": "a", "en": "b", "ar": "c"}, "price_dzd": 1, "explanations": true}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("conflict")));
    let (s, b) = app
        .send(
            "POST",
            &admin,
            "/admin/plans",
            json!({"code": "Bad Code", "names": {"fr": "a", "en": "b", "ar": "c"}, "price_dzd": 1, "explanations": true}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["errors"][0]["field"], "code");

    let (s, plans) = app
        .get("/api/v1/plans")
        .await
        .json::<Value>()
        .await
        .map(|v| (200, v))
        .unwrap();
    assert_eq!(s, 200);
    let codes: Vec<&str> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["free", "premium-month"]);
    assert_eq!(
        plans[0]["mcq_per_day"], 40,
        "the seeded free plan's documented quota"
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"plan.created".to_owned())
    );
}

#[tokio::test]
async fn a_printed_card_activates_its_plan_once_and_refused_codes_are_told_apart_then_limited() {
    let app = App::spawn().await;
    let admin = app.finance().await;
    app.paid_plan(&admin, "premium-month", 3000, Some(30)).await;
    let codes = app.mint("premium-month", 3, None).await;
    let u = app.learner().await;

    let (s, b) = app
        .send(
            "POST",
            &u,
            "/cards/redeem",
            json!({"code": codes[0].to_lowercase()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["plan"]["code"], "premium-month");
    let (_, sub) = app.send("GET", &u, "/subscription", Value::Null).await;
    assert_eq!(sub["plan"]["code"], "premium-month");
    assert_eq!(sub["source"], "card");
    assert_eq!(sub["allowances"][0]["remaining"], Value::Null, "unlimited");

    let (s, b) = app
        .send("POST", &u, "/cards/redeem", json!({"code": codes[0]}))
        .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("card_used")));
    // One character changed: the check character refuses it before any lookup.
    let mut typo = codes[1].clone().into_bytes();
    typo[0] = if typo[0] == b'7' { b'8' } else { b'7' };
    let typo = String::from_utf8(typo).unwrap();
    let (s, b) = app
        .send("POST", &u, "/cards/redeem", json!({"code": typo}))
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("card_invalid")));

    // A revoked batch: its unredeemed cards stop working; a second revocation conflicts.
    let (_, batches) = app
        .send("GET", &admin, "/admin/card-batches", Value::Null)
        .await;
    assert_eq!(batches[0]["redeemed"], 1, "{batches}");
    let batch = batches[0]["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .send(
            "POST",
            &admin,
            &format!("/admin/card-batches/{batch}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .send(
            "POST",
            &admin,
            &format!("/admin/card-batches/{batch}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, b) = app
        .send("POST", &u, "/cards/redeem", json!({"code": codes[1]}))
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("card_invalid")));

    // An expired card.
    let soon = app.now() + chrono::Duration::minutes(5);
    let late = app.mint("premium-month", 1, Some(soon)).await;
    app.advance(chrono::Duration::minutes(6));
    let (s, b) = app
        .send("POST", &u, "/cards/redeem", json!({"code": late[0]}))
        .await;
    assert_eq!((s, b["code"].as_str()), (410, Some("card_expired")));

    // Five attempts so far; the account's tenth is the last one allowed this hour.
    for _ in 0..5 {
        let (s, _) = app
            .send(
                "POST",
                &u,
                "/cards/redeem",
                json!({"code": "0000-0000-0000-0000-0"}),
            )
            .await;
        assert_eq!(s, 422, "a well-formed code nobody minted is unknown");
    }
    let (s, b) = app
        .send("POST", &u, "/cards/redeem", json!({"code": codes[2]}))
        .await;
    assert_eq!((s, b["code"].as_str()), (429, Some("rate_limited")));

    let actions = app.audit_actions().await;
    assert!(actions.contains(&"card.redeemed".to_owned()));
    assert!(actions.contains(&"card.redeem_refused".to_owned()));
    assert!(actions.contains(&"cards.batch_revoked".to_owned()));
    let refused = app.audit_details("card.redeem_refused").await;
    let text = serde_json::to_string(&refused).unwrap();
    for c in &codes {
        assert!(!text.contains(c.as_str()), "no code in the audit log");
    }
    // The stored card is an HMAC, not the code.
    let stored: Vec<String> = myqcm_db::commerce::activation_card::Entity::find()
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.code_hmac)
        .collect();
    assert!(stored.iter().all(|h| h.len() == 64 && !codes.contains(h)));
}

#[tokio::test]
async fn the_plans_page_lists_plans_and_redeems_a_card_without_javascript_and_the_dashboard_shows_it()
 {
    let app = App::spawn().await;
    let admin = app.finance().await;
    app.paid_plan(&admin, "premium-month", 3000, Some(30)).await;
    let code = app.mint("premium-month", 1, None).await.remove(0);
    let anon = app.get("/plans").await;
    assert_eq!(anon.status(), 200);
    let html = anon.text().await.unwrap();
    assert!(html.contains("data-plan=\"free\"") && html.contains("data-plan=\"premium-month\""));
    assert!(
        !html.contains("action=\"/plans/redeem\""),
        "no form signed out"
    );

    let b = app.0.learner("cards@example.dz").await;
    let html = app.get_as(&b, "/plans").await.text().await.unwrap();
    assert!(html.contains("action=\"/plans/redeem\""), "{html}");
    let post = |code: String| {
        app.client
            .post(app.url("/plans/redeem"))
            .header("cookie", b.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            // The CSRF token is base64url and the codes are letters, digits and dashes: no
            // character needs escaping.
            .body(format!("_csrf={}&code={code}", b.csrf))
            .send()
    };
    let bad = post("AAAA-AAAA-AAAA-AAAA-A".into()).await.unwrap();
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("class=\"error-summary\"")
    );
    let ok = post(code).await.unwrap();
    assert_eq!(ok.status(), 200, "followed the 303 back to /plans");
    let html = ok.text().await.unwrap();
    assert!(html.contains("Votre carte est activée"), "{html}");
    let dash = app.get_as(&b, "/dashboard").await.text().await.unwrap();
    assert!(
        dash.contains("class=\"plan-line\"") && dash.contains("Premium"),
        "{dash}"
    );
}

#[tokio::test]
async fn imported_legacy_codes_redeem_once_in_any_case_or_grouping_and_are_stored_as_hmacs() {
    use myqcm_services::commerce::cards::LegacyImport;
    let app = App::spawn().await;
    let admin = app.finance().await;
    app.paid_plan(&admin, "premium-month", 3000, Some(30)).await;
    let legacy = [
        "ABCD-EFGH-IJKL-MNOP-QRST-UV01",
        "ZZZZ-9999-LOIU-0000-AAAA-B2C3",
    ];
    let meta = ClientMeta::default();
    let import = |codes: Vec<(usize, String)>| {
        app.services.commerce.import_legacy(
            &meta,
            LegacyImport {
                plan: "premium-month".into(),
                codes,
                expires_at: None,
                label: String::new(),
            },
        )
    };
    let lines: Vec<(usize, String)> = legacy
        .iter()
        .chain(&[legacy[0]])
        .enumerate()
        .map(|(i, c)| (i + 1, (*c).to_owned()))
        .collect();
    let batch = import(lines.clone()).await.unwrap();
    assert_eq!((batch.size, batch.label.as_str()), (2, "legacy import"));
    // Importing the same codes again, or a malformed one, is refused as a whole.
    assert!(import(lines).await.is_err());
    let bad = import(vec![(1, "ABCD-EFGH-IJKL-MNOP-QRST-UV01-X".into())]).await;
    assert!(format!("{bad:?}").contains("line 1"), "{bad:?}");

    let u = app.learner().await;
    // Typed in lower case, grouped differently: the same code.
    let (s, b) = app
        .send(
            "POST",
            &u,
            "/cards/redeem",
            json!({"code": "abcd efgh ijklmnop-qrst uv01"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["plan"]["code"], "premium-month");
    let (_, sub) = app.send("GET", &u, "/subscription", Value::Null).await;
    assert_eq!(sub["source"], "card");
    let (s, b) = app
        .send("POST", &u, "/cards/redeem", json!({"code": legacy[0]}))
        .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("card_used")));
    // A well-formed code the earlier system never issued (I, L, O are not read as digits).
    let (s, b) = app
        .send(
            "POST",
            &u,
            "/cards/redeem",
            json!({"code": "ZZZZ-9999-1010-0000-AAAA-B2C3"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("card_invalid")));
    let other = app.learner().await;
    let (s, b) = app
        .send("POST", &other, "/cards/redeem", json!({"code": legacy[1]}))
        .await;
    assert_eq!(s, 200, "{b}");

    let stored: Vec<String> = myqcm_db::commerce::activation_card::Entity::find()
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.code_hmac)
        .collect();
    assert_eq!(stored.len(), 2);
    let plain: Vec<String> = legacy.iter().map(|c| c.replace('-', "")).collect();
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 64 && !legacy.contains(&h.as_str()) && !plain.contains(h))
    );
    let imported = app.audit_details("cards.imported").await;
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0]["count"], 2);
}

/// A password sign-in from the browser `agent`: (status, body).
async fn sign_in_from(app: &crate::support::TestApp, email: &str, agent: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("user-agent", agent)
        .json(&json!({"grant_type": "password", "email": email, "password": crate::support::PW}))
        .send()
        .await
        .unwrap();
    crate::support::status_and_json(res).await
}

/// Whether a bearer access token still opens the account.
async fn still_signed_in(app: &crate::support::TestApp, t: &Value) -> bool {
    let res = app
        .get_bearer(t["access_token"].as_str().unwrap(), "/api/v1/account")
        .await;
    res.status().is_success()
}

#[tokio::test]
async fn a_new_device_beyond_the_plans_limit_signs_out_the_device_seen_least_recently() {
    let app = spawn_app().await;
    let email = "devices@example.dz";
    app.sign_up_verified(email, crate::support::PW).await;
    // The free plan allows one device: the same browser may sign in again and again.
    let (s, phone) = sign_in_from(&app, email, "Firefox/1 phone").await;
    assert_eq!(s, 200, "{phone}");
    app.advance(chrono::Duration::seconds(5));
    let (s, phone2) = sign_in_from(&app, email, "Firefox/1 phone").await;
    assert_eq!(s, 200, "{phone2}");
    assert!(still_signed_in(&app, &phone).await && still_signed_in(&app, &phone2).await);
    assert!(
        app.audit_details("session.device_signed_out")
            .await
            .is_empty()
    );

    // A second device gets in (a learner who lost their phone is never locked out), and every
    // session of the phone ends, with a mail naming it.
    app.advance(chrono::Duration::seconds(5));
    let (s, laptop) = sign_in_from(&app, email, "Chrome/2 laptop").await;
    assert_eq!(s, 200, "{laptop}");
    assert!(still_signed_in(&app, &laptop).await);
    assert!(!still_signed_in(&app, &phone).await && !still_signed_in(&app, &phone2).await);
    let signed_out = |m: &crate::support::Mail, device: &str| {
        m.text.contains(device) && m.text.contains("1 appareil")
    };
    let mails = app.mails_to(email).await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| signed_out(m, "Firefox/1 phone"))
            .count(),
        1,
        "{mails:?}"
    );
    let audit = app.audit_details("session.device_signed_out").await;
    assert_eq!((audit.len(), &audit[0]["devices"]), (1, &json!(1)));

    // A plan with two devices: a second browser is fine; a third signs out the device seen
    // least recently (the phone, back again, was used after the laptop).
    let plan = myqcm_db::commerce::plan_by_code(&app.db.conn, "free")
        .await
        .unwrap()
        .unwrap();
    myqcm_db::commerce::update_plan(
        &app.db.conn,
        myqcm_db::commerce::plan::Model { devices: 2, ..plan },
    )
    .await
    .unwrap();
    app.advance(chrono::Duration::seconds(5));
    let (s, phone) = sign_in_from(&app, email, "Firefox/1 phone").await;
    assert_eq!(s, 200, "{phone}");
    assert!(still_signed_in(&app, &laptop).await && still_signed_in(&app, &phone).await);
    app.advance(chrono::Duration::seconds(5));
    let (s, tablet) = sign_in_from(&app, email, "Safari/3 tablet").await;
    assert_eq!(s, 200, "{tablet}");
    assert!(
        !still_signed_in(&app, &laptop).await,
        "the laptop was seen least recently"
    );
    assert!(still_signed_in(&app, &phone).await && still_signed_in(&app, &tablet).await);
    let mails = app.mails_to(email).await;
    assert!(
        mails
            .iter()
            .any(|m| m.text.contains("Chrome/2 laptop") && m.text.contains("2 appareil")),
        "{mails:?}"
    );

    // Staff are exempt (on the same free plan, now two devices): three browsers sign in and
    // all three stay signed in.
    let staff = "staff-devices@example.dz";
    let (_, secret) = app.staff(staff, "reviewer", "").await;
    let mut tokens = Vec::new();
    for agent in ["A/1", "B/2", "C/3"] {
        app.advance(chrono::Duration::seconds(31));
        let res = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .header("user-agent", agent)
            .json(&json!({"grant_type": "password", "email": staff,
                "password": crate::support::PW, "totp_code": app.totp(&secret)}))
            .send()
            .await
            .unwrap();
        let (s, b) = crate::support::status_and_json(res).await;
        assert_eq!(s, 200, "{agent}: {b}");
        tokens.push(b);
    }
    for t in &tokens {
        assert!(still_signed_in(&app, t).await);
    }
}
