//! Roles, scopes, staff MFA, step-up and the audit log over HTTP (spec/security.md §5.1 A5, A9,
//! A12, A13; §5.7 N16).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use crate::support::*;
use serde_json::{Value, json};

#[tokio::test]
async fn staff_must_enrol_totp_before_their_first_staff_action() {
    let app = spawn().await;
    app.sign_up_verified("rev@example.dz", PW).await;
    app.set_roles("rev@example.dz", "reviewer", "").await;
    let b = app.sign_in("rev@example.dz", PW).await;
    assert_problem(
        app.get_as(&b, "/api/v1/__test/require/ItemReview").await,
        403,
        "mfa_enrolment_required",
    )
    .await;
    // Non-staff actions need no enrolment.
    assert_eq!(
        app.get_as(&b, "/api/v1/__test/require/CatalogueRead")
            .await
            .status(),
        200
    );
    app.enrol_totp(&b).await;
    assert_eq!(
        app.get_as(&b, "/api/v1/__test/require/ItemReview")
            .await
            .status(),
        200
    );
    // Deny by default: a reviewer cannot manage users.
    assert_problem(
        app.get_as(&b, "/api/v1/__test/require/UsersManage").await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn n16_totp_codes_work_once_and_guessing_is_rate_limited() {
    let app = spawn().await;
    let (_b, secret) = app.staff("mfa@example.dz", "reviewer", "").await;
    // Sign-in now needs the second factor.
    let res = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "mfa@example.dz", "password": PW}),
        )
        .await;
    assert_problem(res, 401, "mfa_required").await;
    let code = app.totp(&secret);
    let ok = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "mfa@example.dz", "password": PW, "totp_code": code}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    // The same code again inside its window: refused.
    let again = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "mfa@example.dz", "password": PW, "totp_code": code}),
        )
        .await;
    assert_problem(again, 401, "invalid_credentials").await;
    // Brute force: after 5 wrong codes, even the right one is refused for a while.
    for guess in ["000000", "111111", "222222", "333333"] {
        let r = app
            .post(
                "/api/v1/auth/sign-in",
                &json!({"email": "mfa@example.dz", "password": PW, "totp_code": guess}),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    app.clock.advance(chrono::Duration::seconds(30));
    let r = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "mfa@example.dz", "password": PW, "totp_code": app.totp(&secret)}),
        )
        .await;
    assert_problem(r, 429, "rate_limited").await;
}

#[tokio::test]
async fn recovery_codes_replace_a_totp_code_once() {
    let app = spawn().await;
    app.sign_up_verified("rc@example.dz", PW).await;
    let b = app.sign_in("rc@example.dz", PW).await;
    let res = app
        .send_as(
            &b,
            reqwest::Method::POST,
            "/api/v1/account/mfa/totp",
            Some(json!({"password": PW})),
        )
        .await;
    let v: Value = res.json().await.unwrap();
    let secret =
        myqcm_services::identity::totp::base32_decode(v["secret"].as_str().unwrap()).unwrap();
    let res = app
        .send_as(
            &b,
            reqwest::Method::POST,
            "/api/v1/account/mfa/totp/confirm",
            Some(json!({"code": app.totp(&secret)})),
        )
        .await;
    let v: Value = res.json().await.unwrap();
    let rc = v["recovery_codes"][0].as_str().unwrap().to_owned();
    let ok = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "rc@example.dz", "password": PW, "totp_code": rc}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let again = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "rc@example.dz", "password": PW, "totp_code": rc}),
        )
        .await;
    assert_eq!(again.status(), 401);
}

#[tokio::test]
async fn a5_non_admins_get_403_on_every_admin_route_from_the_openapi_document() {
    let app = spawn().await;
    app.sign_up_verified("stu@example.dz", PW).await;
    let student = app.sign_in("stu@example.dz", PW).await;
    app.sign_up_verified("auth@example.dz", PW).await;
    app.set_roles("auth@example.dz", "author", "").await;
    let author = app.sign_in("auth@example.dz", PW).await;
    let (reviewer, _) = app.staff("rev@example.dz", "reviewer", "").await;
    // Admin without the needed scope.
    let (finance, _) = app.staff("fin@example.dz", "admin", "finance").await;
    let doc = app.openapi().await;
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/admin") {
            continue;
        }
        let concrete = path.replace("{id}", "0192a000-0000-7000-8000-000000000000");
        for method in ops.as_object().unwrap().keys() {
            let m: reqwest::Method = method.to_uppercase().parse().unwrap();
            for (who, b) in [
                ("student", &student),
                ("author", &author),
                ("reviewer", &reviewer),
                ("finance admin", &finance),
            ] {
                // Plans, card batches, withdrawals and the earnings rate are the finance scope's
                // own routes.
                let finance_route = path.starts_with("/api/v1/admin/plans")
                    || path.starts_with("/api/v1/admin/card-batches")
                    || path.starts_with("/api/v1/admin/withdrawals")
                    || path.starts_with("/api/v1/admin/earnings");
                if who == "finance admin" && finance_route {
                    continue;
                }
                let res = app.send_as(b, m.clone(), &concrete, Some(json!({}))).await;
                let status = res.status().as_u16();
                assert!(
                    status == 403 || status == 404,
                    "{who} {method} {path}: {status}"
                );
                let text = res.text().await.unwrap();
                assert!(
                    !text.contains("@example.dz"),
                    "{who} {method} {path} leaked data: {text}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 16, "only {checked} admin calls checked");
}

#[tokio::test]
async fn a9_a_demoted_reviewer_is_refused_on_the_very_next_request() {
    let app = spawn().await;
    let (admin, secret) = app.staff("admin@example.dz", "admin", "support").await;
    let (rev, _) = app.staff("rev@example.dz", "reviewer", "").await;
    assert_eq!(
        app.get_as(&rev, "/api/v1/__test/require/ItemReview")
            .await
            .status(),
        200
    );
    app.step_up(&admin, &secret).await;
    let rev_id = app.account("rev@example.dz").await.id;
    let res = app
        .send_as(
            &admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/users/{rev_id}"),
            Some(json!({"roles": ["student"]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_problem(
        app.get_as(&rev, "/api/v1/__test/require/ItemReview").await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a12_admin_actions_need_a_recent_step_up_and_every_attempt_is_audited() {
    let app = spawn().await;
    let (admin, secret) = app.staff("admin@example.dz", "admin", "super").await;
    app.sign_up_verified("stu@example.dz", PW).await;
    let stu = app.account("stu@example.dz").await.id;
    // Enrolment counted as a fresh MFA proof; 11 minutes later it no longer does.
    app.clock.advance(chrono::Duration::minutes(11));
    let res = app
        .send_as(
            &admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/users/{stu}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_problem(res, 401, "step_up_required").await;
    assert!(app.account("stu@example.dz").await.disabled_at.is_none());
    // Step-up needs the second factor for an enrolled account.
    let res = app
        .send_as(
            &admin,
            reqwest::Method::POST,
            "/api/v1/auth/step-up",
            Some(json!({"password": PW})),
        )
        .await;
    assert_problem(res, 401, "mfa_required").await;
    let res = app
        .send_as(
            &admin,
            reqwest::Method::POST,
            "/api/v1/auth/step-up",
            Some(json!({"password": PW, "totp_code": app.totp(&secret)})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .send_as(
            &admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/users/{stu}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(app.account("stu@example.dz").await.disabled_at.is_some());
    let log: Value = app
        .get_as(&admin, "/api/v1/admin/audit?action=admin.user_update")
        .await
        .json()
        .await
        .unwrap();
    let outcomes: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e["detail"].as_str().unwrap()).unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        outcomes.contains(&"refused".to_owned()) && outcomes.contains(&"done".to_owned()),
        "{outcomes:?}"
    );
    for e in log.as_array().unwrap() {
        assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        assert_eq!(e["ip"], "127.0.0.1");
        assert!(e["at"].as_str().is_some());
    }
}

#[tokio::test]
async fn a13_the_audit_log_cannot_be_changed_or_deleted_through_the_api() {
    let app = spawn().await;
    let (admin, _) = app.staff("admin@example.dz", "admin", "super").await;
    let before: Value = app
        .get_as(&admin, "/api/v1/admin/audit")
        .await
        .json()
        .await
        .unwrap();
    let n = before.as_array().unwrap().len();
    assert!(n > 0);
    let id = before[0]["id"].as_str().unwrap().to_owned();
    for (m, path) in [
        (reqwest::Method::DELETE, "/api/v1/admin/audit".to_owned()),
        (reqwest::Method::PATCH, "/api/v1/admin/audit".to_owned()),
        (reqwest::Method::POST, "/api/v1/admin/audit".to_owned()),
        (reqwest::Method::DELETE, format!("/api/v1/admin/audit/{id}")),
        (reqwest::Method::PUT, format!("/api/v1/admin/audit/{id}")),
    ] {
        let status = app
            .send_as(&admin, m.clone(), &path, Some(json!({"action": "x"})))
            .await
            .status()
            .as_u16();
        assert!(status == 404 || status == 405, "{m} {path}: {status}");
    }
    let after: Value = app
        .get_as(&admin, "/api/v1/admin/audit?limit=500")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str())
    );
}
