//! Privacy rights over HTTP: data export, deletion with re-authentication and a grace period,
//! then anonymisation by the maintenance job; retention of sessions and audit rows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use crate::support::*;
use myqcm_services::identity::{Deps, privacy};
use serde_json::{Value, json};

fn deps(app: &App) -> Deps {
    app.services.deps()
}

#[tokio::test]
async fn export_holds_the_account_and_sessions_but_no_secret() {
    let app = spawn().await;
    app.sign_up_verified("exp@example.dz", PW).await;
    let b = app.sign_in("exp@example.dz", PW).await;
    let res = app.get_as(&b, "/api/v1/account/export").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["account"]["email"], "exp@example.dz");
    assert!(!v["sign_in_sessions"].as_array().unwrap().is_empty());
    assert!(
        v["security_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "sign_in.succeeded")
    );
    for secret in ["argon2", &b.access, &b.refresh, PW] {
        assert!(!text.contains(secret), "export leaks {secret}");
    }
}

/// A stored KC suggestion of a demo item, accepted by `by`; returns the item.
async fn decided_suggestion(app: &App, by: uuid::Uuid) -> uuid::Uuid {
    use myqcm_db::catalogue::kc_suggestions::{self, NewSuggestion};
    app.load_demo_bank().await;
    let db = &app.db.conn;
    let item = myqcm_db::catalogue::item_by_external_id(db, "demo-cardio-0001")
        .await
        .unwrap()
        .unwrap()
        .id;
    let kc = myqcm_db::catalogue::kc_by_code(db, "kc-cardio-hta-def")
        .await
        .unwrap()
        .unwrap()
        .id;
    let row = NewSuggestion {
        kc_id: kc,
        rank: 1,
        score: 0.9,
        confidence: "high".into(),
    };
    kc_suggestions::replace(db, item, &[row], "fake-model", "kc-v1", 0)
        .await
        .unwrap();
    kc_suggestions::decide(db, item, kc, "accepted", by, 1)
        .await
        .unwrap();
    let rows = kc_suggestions::of_item(db, item).await.unwrap();
    assert_eq!(rows[0].decided_by, Some(by));
    item
}

#[tokio::test]
async fn deletion_needs_the_password_has_a_grace_period_then_anonymises() {
    let app = spawn().await;
    app.sign_up_verified("del@example.dz", PW).await;
    let b = app.sign_in("del@example.dz", PW).await;
    let res = app
        .send_as(
            &b,
            reqwest::Method::POST,
            "/api/v1/account/delete",
            Some(json!({"password": "not my password"})),
        )
        .await;
    assert_eq!(res.status(), 401);
    let res = app
        .send_as(
            &b,
            reqwest::Method::POST,
            "/api/v1/account/delete",
            Some(json!({"password": PW})),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(
        app.get_as(&b, "/api/v1/account").await.status(),
        401,
        "every session ended"
    );
    // Signing in during the grace period cancels the deletion.
    let again = app.sign_in("del@example.dz", PW).await;
    assert!(
        app.account("del@example.dz")
            .await
            .deletion_requested_at
            .is_none()
    );
    let res = app
        .send_as(
            &again,
            reqwest::Method::POST,
            "/api/v1/account/delete",
            Some(json!({"password": PW})),
        )
        .await;
    assert_eq!(res.status(), 202);
    let id = app.account("del@example.dz").await.id;
    // A KC suggestion this account decided (as a reviewer would): the decision stays, the name goes.
    let suggestion = decided_suggestion(&app, id).await;
    // An item-quality alert this account dismissed: the same.
    myqcm_db::training::quality::raise_alert(&app.db.conn, suggestion, "drift", "{}", 0)
        .await
        .unwrap();
    assert!(
        myqcm_db::training::quality::dismiss_alert(&app.db.conn, suggestion, "drift", id, 1)
            .await
            .unwrap()
    );
    // Before the grace period ends nothing is erased.
    app.clock.advance(chrono::Duration::days(13));
    assert_eq!(privacy::erase_due(&deps(&app)).await.unwrap(), 0);
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(privacy::erase_due(&deps(&app)).await.unwrap(), 1);
    let row = myqcm_db::identity::accounts::get(&app.db.conn, id)
        .await
        .unwrap()
        .expect("the row stays for statistics");
    assert!(
        row.email.ends_with("@deleted.invalid")
            && row.password_hash.is_none()
            && row.deleted_at.is_some()
    );
    assert_eq!(row.display_name, "Deleted user");
    let rows = myqcm_db::catalogue::kc_suggestions::of_item(&app.db.conn, suggestion)
        .await
        .unwrap();
    assert_eq!(rows[0].status, "accepted", "the decision stays");
    assert!(rows[0].decided_at.is_some());
    assert_eq!(
        rows[0].decided_by, None,
        "no longer names the erased account"
    );
    let alerts = myqcm_db::training::quality::alerts_of(&app.db.conn, suggestion)
        .await
        .unwrap();
    assert_eq!(
        (alerts[0].status.as_str(), alerts[0].decided_by),
        ("dismissed", None)
    );
    let res = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "del@example.dz", "password": PW}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let mails = app.mails_to("del@example.dz").await;
    assert!(
        mails.iter().any(|m| m.subject == "Compte supprimé"),
        "{mails:?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.subject == "Suppression du compte programmée")
    );
}

#[tokio::test]
async fn retention_purges_old_sessions_and_audit_rows() {
    let app = spawn().await;
    app.sign_up_verified("ret@example.dz", PW).await;
    let b = app.sign_in("ret@example.dz", PW).await;
    app.send_as(&b, reqwest::Method::POST, "/api/v1/auth/sign-out", None)
        .await;
    let d = deps(&app);
    assert_eq!(privacy::apply_retention(&d).await.unwrap(), (0, 0));
    app.clock.advance(chrono::Duration::days(91));
    let (sessions, audit) = privacy::apply_retention(&d).await.unwrap();
    assert_eq!((sessions, audit), (1, 0));
    app.clock.advance(chrono::Duration::days(300));
    let (_, audit) = privacy::apply_retention(&d).await.unwrap();
    assert!(audit > 0);
}
