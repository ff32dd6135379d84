//! Identity hardening (issue 8 item 4, issue 9 items 2–5, 7, 10, 11): each test plays the attack
//! or the failure it stops, over HTTP, on both backends. docs/SECURITY.md lists them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use crate::support::*;
use myqcm_services::identity::testing::TEST_MASTER_SECRET;
use myqcm_services::identity::{Deps, crypto};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

/// The identity use cases' dependencies over the app's own database, cache and clock.
fn deps(app: &App) -> Deps {
    app.services.deps()
}

async fn sign_in_with_code(app: &App, email: &str, code: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/sign-in",
        &json!({"email": email, "password": PW, "totp_code": code}),
    )
    .await
}

/// What the first release stored: hex(secret XOR SHA-256(key("totp") ‖ account id ‖ 0u64)).
fn first_release_sealing(user_id: uuid::Uuid, secret: &[u8]) -> String {
    let key = crypto::derive_key(TEST_MASTER_SECRET, "totp");
    let mut input = key.to_vec();
    input.extend_from_slice(user_id.as_bytes());
    input.extend_from_slice(&0u64.to_be_bytes());
    let block = crypto::sha256_hex(&input);
    let block: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&block[i..i + 2], 16).unwrap())
        .collect();
    let sealed: Vec<u8> = secret.iter().zip(&block).map(|(a, b)| a ^ b).collect();
    crypto::hex(&sealed)
}

/// Issue 8 item 4. Secrets are sealed with an AEAD under a fresh nonce; an account enrolled under
/// the first release's keystream format is re-sealed when the binary opens the database and
/// still signs in with its authenticator app's code.
#[tokio::test]
async fn totp_secrets_are_aead_sealed_and_old_enrolments_keep_working() {
    let app = spawn().await;
    let email = "old.enrolment@example.dz";
    app.sign_up_verified(email, PW).await;
    let b = app.sign_in(email, PW).await;
    let secret = app.enrol_totp(&b).await;
    let a = app.account(email).await;
    let stored = a.totp_secret.clone().unwrap();
    assert!(
        stored.starts_with("v2."),
        "new enrolments use the AEAD format"
    );
    assert!(
        !stored.contains(&crypto::hex(&secret)),
        "no clear secret at rest"
    );

    // The same account as the first release left it.
    myqcm_db::identity::accounts::entity::ActiveModel {
        id: Set(a.id),
        totp_secret: Set(Some(first_release_sealing(a.id, &secret))),
        ..Default::default()
    }
    .update(&app.db.conn)
    .await
    .unwrap();
    let res = sign_in_with_code(&app, email, &app.totp(&secret)).await;
    assert_eq!(res.status(), 401, "the old format is not read at sign-in");

    let d = deps(&app);
    let n = myqcm_services::identity::mfa::reseal_legacy_secrets(&d)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let resealed = app.account(email).await.totp_secret.unwrap();
    assert!(resealed.starts_with("v2."));
    assert_eq!(
        myqcm_services::identity::mfa::reseal_legacy_secrets(&d)
            .await
            .unwrap(),
        0,
        "idempotent"
    );
    app.clock.advance(chrono::Duration::seconds(30));
    let res = sign_in_with_code(&app, email, &app.totp(&secret)).await;
    assert_eq!(res.status(), 200, "the enrolled account still signs in");

    // A sealed secret copied onto another account does not open there (bound to the account).
    let other = "other.enrolment@example.dz";
    app.sign_up_verified(other, PW).await;
    let ob = app.sign_in(other, PW).await;
    let _ = app.enrol_totp(&ob).await;
    let oa = app.account(other).await;
    myqcm_db::identity::accounts::entity::ActiveModel {
        id: Set(oa.id),
        totp_secret: Set(Some(resealed)),
        ..Default::default()
    }
    .update(&app.db.conn)
    .await
    .unwrap();
    app.clock.advance(chrono::Duration::seconds(30));
    let res = sign_in_with_code(&app, other, &app.totp(&secret)).await;
    assert_eq!(res.status(), 401);
}

/// A pending email-change token issued before the fix (when unverified accounts could still ask
/// for one): returns the link token.
async fn leftover_change_token(app: &App, user_id: uuid::Uuid, to: &str) -> String {
    use myqcm_domain::Clock;
    let token = "squatter-change-token-0123456789abcdefghijk".to_owned();
    assert_eq!(token.len(), 43);
    let now = app.clock.now().timestamp_millis();
    myqcm_db::identity::tokens::issue(
        &app.db.conn,
        myqcm_db::identity::tokens::EmailTokenRow {
            id: uuid::Uuid::now_v7(),
            user_id,
            purpose: "change_email".into(),
            token_hash: crypto::sha256_hex(token.as_bytes()),
            code_hash: None,
            email: to.into(),
            expires_at: now + 30 * 60 * 1000,
            used_at: None,
            code_attempts: 0,
            created_at: now,
        },
    )
    .await
    .unwrap();
    token
}

async fn status_and_code(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    (status, v["code"].as_str().unwrap_or("").to_owned())
}

/// Issue 9 item 2, the full chain: a squatter registers the victim's address, keeps a session,
/// tries to set up an email change and TOTP (refused: the address is not proven), and still
/// holds both from before the fix. The owner resets the password through the mailbox: the
/// pending change, the squatter's session, password and second factor are all gone.
#[tokio::test]
async fn a_squatters_pending_email_change_and_totp_die_when_the_owner_resets_the_password() {
    let app = spawn().await;
    let victim = "victim@example.dz";
    app.sign_up(victim, "the squatter's password").await;
    let squatter = app.sign_in(victim, "the squatter's password").await;
    let change = app
        .send_as(
            &squatter,
            reqwest::Method::POST,
            "/api/v1/account/email",
            Some(json!({"new_email": "squatter@evil.example", "password": "the squatter's password"})),
        )
        .await;
    assert_eq!(
        status_and_code(change).await,
        (403, "email_not_verified".into())
    );
    let totp = app
        .send_as(
            &squatter,
            reqwest::Method::POST,
            "/api/v1/account/mfa/totp",
            Some(json!({"password": "the squatter's password"})),
        )
        .await;
    assert_eq!(
        status_and_code(totp).await,
        (403, "email_not_verified".into())
    );
    // What the squatter could set up before the fix.
    let id = app.account(victim).await.id;
    let token = leftover_change_token(&app, id, "squatter@evil.example").await;
    let squatter_totp = myqcm_services::identity::mfa::enrol_directly(&deps(&app), id)
        .await
        .unwrap()
        .unwrap();

    // The owner proves the mailbox with a password reset.
    let res = app
        .post("/api/v1/auth/password-reset", &json!({"email": victim}))
        .await;
    assert_eq!(res.status(), 202);
    let reset = token_in(&app.last_link_mail_to(victim).await.text);
    let res = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": reset, "new_password": "the owner's new password"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    // The squatter's pending change no longer moves the account.
    let res = app
        .post("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(status_and_code(res).await, (400, "invalid_token".into()));
    assert_eq!(app.account(victim).await.email, victim);
    // The squatter's session and password are gone.
    assert_eq!(app.get_as(&squatter, "/api/v1/account").await.status(), 401);
    let res = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": victim, "password": "the squatter's password"}),
        )
        .await;
    assert_eq!(res.status(), 401);
    // The squatter's TOTP is gone: the owner signs in with the password alone, and the
    // squatter's codes mean nothing.
    let a = app.account(victim).await;
    assert!(a.totp_secret.is_none() && a.totp_enabled_at.is_none());
    assert!(a.email_verified_at.is_some());
    let secret = myqcm_services::identity::totp::base32_decode(&squatter_totp).unwrap();
    assert!(!secret.is_empty());
    let owner = app.sign_in(victim, "the owner's new password").await;
    assert_eq!(app.get_as(&owner, "/api/v1/account").await.status(), 200);
    // And the owner, now verified, may set up a second factor.
    let res = app
        .send_as(
            &owner,
            reqwest::Method::POST,
            "/api/v1/account/mfa/totp",
            Some(json!({"password": "the owner's new password"})),
        )
        .await;
    assert_eq!(res.status(), 200);
}

/// Issue 9 item 2: the same through the sign-up verification mail, which only the mailbox
/// owner reads: the squatter's pending change and session end.
#[tokio::test]
async fn verifying_the_address_voids_every_pending_token_and_every_session() {
    let app = spawn().await;
    let victim = "owner@example.dz";
    app.sign_up(victim, "the squatter's password").await;
    let squatter = app.sign_in(victim, "the squatter's password").await;
    let id = app.account(victim).await.id;
    let verify = token_in(&app.last_link_mail_to(victim).await.text);
    let token = leftover_change_token(&app, id, "squatter@evil.example").await;
    let res = app
        .post("/api/v1/auth/verify-email", &json!({"token": verify}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(status_and_code(res).await, (400, "invalid_token".into()));
    assert_eq!(app.account(victim).await.email, victim);
    assert_eq!(app.get_as(&squatter, "/api/v1/account").await.status(), 401);
}

/// Issue 9 item 2, Google: a provider-unverified email neither creates nor links nor enters an
/// account; a link made that way before the fix is dropped when the owner proves the mailbox;
/// a provider-verified sign-in takes over an unverified account even when its squatter enrolled
/// TOTP, and removes that TOTP.
#[tokio::test]
async fn google_needs_a_provider_verified_email_and_unverified_links_drop_on_proof() {
    use myqcm_domain::ports::ProvenIdentity;
    use myqcm_services::identity::{ClientMeta, oidc};
    let app = spawn().await;
    let d = deps(&app);
    let meta = ClientMeta::default();
    let issuer = "https://accounts.google.com";
    let proven = |sub: &str, email: &str, verified: bool| ProvenIdentity {
        issuer: issuer.into(),
        subject: sub.into(),
        email: Some(email.into()),
        email_verified: verified,
    };
    // No account is created from an unverified email.
    assert!(
        oidc::resolve(&d, &proven("s1", "new@example.dz", false), &meta)
            .await
            .is_err()
    );
    assert!(
        myqcm_db::identity::accounts::find_by_email(&app.db.conn, "new@example.dz")
            .await
            .unwrap()
            .is_none()
    );
    // A squatter's unverified account with a link made before the fix from an unverified email.
    let victim = "linked@example.dz";
    app.sign_up(victim, "the squatter's password").await;
    let id = app.account(victim).await.id;
    myqcm_db::identity::external::link(&app.db.conn, id, issuer, "squatter-sub", Some(victim), 1)
        .await
        .unwrap();
    assert!(
        oidc::resolve(&d, &proven("squatter-sub", victim, false), &meta)
            .await
            .is_err(),
        "the unverified link does not enter the account"
    );
    let _ = myqcm_services::identity::mfa::enrol_directly(&d, id)
        .await
        .unwrap();
    // The owner signs in with Google (verified email): the account is theirs, the squatter's
    // link and TOTP are gone.
    let a = oidc::resolve(&d, &proven("owner-sub", victim, true), &meta)
        .await
        .unwrap();
    assert_eq!(a.id, id);
    assert!(a.totp_enabled_at.is_none() && a.password_hash.is_none());
    assert!(
        myqcm_db::identity::external::find(&app.db.conn, issuer, "squatter-sub")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        myqcm_db::identity::external::find(&app.db.conn, issuer, "owner-sub")
            .await
            .unwrap()
            .is_some()
    );
}
