//! Regression tests for security findings, each written as the attack it stops
//! (docs/SECURITY.md lists them with their fix).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use crate::support::*;
use serde_json::{Value, json};

async fn step_up(app: &App, b: &Browser, secret: &[u8]) {
    let res = app
        .send_as(
            b,
            reqwest::Method::POST,
            "/api/v1/auth/step-up",
            Some(json!({"password": PW, "totp_code": app.totp(secret)})),
        )
        .await;
    assert_eq!(res.status(), 200, "step-up");
}

async fn patch_user(app: &App, b: &Browser, email: &str, body: Value) -> reqwest::Response {
    let id = app.account(email).await.id;
    app.send_as(
        b,
        reqwest::Method::PATCH,
        &format!("/api/v1/admin/users/{id}"),
        Some(body),
    )
    .await
}

/// A support admin holds `UsersManage`, which lets it edit accounts. The attack: after a
/// legitimate step-up it (1) adds `super` to its own scopes, (2) makes an accomplice account
/// a super admin, (3) strips the real super admin of its role and (4) disables it, so that the
/// platform ends up run by the attacker. Every step must be refused and nothing may change.
#[tokio::test]
async fn a_support_admin_cannot_climb_to_super_admin() {
    let app = spawn().await;
    let (_root, _) = app.staff("root@example.dz", "admin", "super").await;
    let (support, secret) = app.staff("support@example.dz", "admin", "support").await;
    app.sign_up_verified("accomplice@example.dz", PW).await;
    step_up(&app, &support, &secret).await;

    // (1) Its own scopes.
    let res = patch_user(
        &app,
        &support,
        "support@example.dz",
        json!({"admin_scopes": ["support", "super"]}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    // Its own roles, too (no one edits their own roles).
    let res = patch_user(
        &app,
        &support,
        "support@example.dz",
        json!({"roles": ["admin", "reviewer"]}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;

    // (2) An accomplice made admin, with super or with a scope the caller holds itself.
    for scopes in [json!(["super"]), json!(["support"])] {
        let res = patch_user(
            &app,
            &support,
            "accomplice@example.dz",
            json!({"roles": ["student", "admin"], "admin_scopes": scopes}),
        )
        .await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = patch_user(
        &app,
        &support,
        "accomplice@example.dz",
        json!({"admin_scopes": ["super"]}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;

    // (3) and (4): the real super admin demoted or disabled.
    let res = patch_user(
        &app,
        &support,
        "root@example.dz",
        json!({"roles": ["student"]}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    let res = patch_user(&app, &support, "root@example.dz", json!({"disabled": true})).await;
    assert_problem(res, 403, "forbidden").await;

    // Nothing changed.
    let me = app.account("support@example.dz").await;
    assert_eq!(
        (me.roles.as_str(), me.admin_scopes.as_str()),
        ("admin", "support")
    );
    let acc = app.account("accomplice@example.dz").await;
    assert_eq!(
        (acc.roles.as_str(), acc.admin_scopes.as_str()),
        ("student", "")
    );
    let root = app.account("root@example.dz").await;
    assert_eq!(
        (root.roles.as_str(), root.admin_scopes.as_str()),
        ("admin", "super")
    );
    assert!(root.disabled_at.is_none());
    // The support admin still cannot do what only super may.
    assert_problem(
        app.get_as(&support, "/api/v1/__test/require/FinanceManage")
            .await,
        403,
        "forbidden",
    )
    .await;
    // What support may still do: manage a learner's non-admin roles.
    let res = patch_user(
        &app,
        &support,
        "accomplice@example.dz",
        json!({"roles": ["student", "author"]}),
    )
    .await;
    assert_eq!(res.status(), 200);
}

/// Super admins hand out scopes, but not to themselves, and the last active super admin can
/// be neither demoted nor disabled (the platform would be left without anyone able to grant).
#[tokio::test]
async fn the_last_super_admin_stays_and_no_one_edits_their_own_grants() {
    let app = spawn().await;
    let (root, secret) = app.staff("root@example.dz", "admin", "super").await;
    app.sign_up_verified("second@example.dz", PW).await;
    step_up(&app, &root, &secret).await;
    let res = patch_user(
        &app,
        &root,
        "root@example.dz",
        json!({"admin_scopes": ["super", "finance"]}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    // Make a second super admin; then the first may be demoted by the second, but the second,
    // now the last one, cannot be disabled by anyone.
    let res = patch_user(
        &app,
        &root,
        "second@example.dz",
        json!({"roles": ["admin"], "admin_scopes": ["super"]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let second = app.sign_in("second@example.dz", PW).await;
    let second_secret = app.enrol_totp(&second).await;
    step_up(&app, &second, &second_secret).await;
    let res = patch_user(
        &app,
        &second,
        "root@example.dz",
        json!({"admin_scopes": ["content"]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (support, support_secret) = app.staff("support@example.dz", "admin", "support").await;
    step_up(&app, &support, &support_secret).await;
    let res = patch_user(
        &app,
        &support,
        "second@example.dz",
        json!({"disabled": true}),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    let res = patch_user(
        &app,
        &second,
        "second@example.dz",
        json!({"disabled": true}),
    )
    .await;
    assert_problem(res, 409, "conflict").await;
    assert!(app.account("second@example.dz").await.disabled_at.is_none());
}
