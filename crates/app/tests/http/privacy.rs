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
