//! Identity hardening (issue 8 item 4, issue 9 items 2–5, 7, 10, 11): each test plays the attack
//! or the failure it stops, over HTTP, on both backends. docs/SECURITY.md lists them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;

use crate::support::*;
use myqcm_services::identity::testing::TEST_MASTER_SECRET;
use myqcm_services::identity::{Deps, IdentityConfig, crypto};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

/// The identity use cases' dependencies over the app's own database, cache and clock.
fn deps(app: &App) -> Deps {
    Deps {
        db: app.db.conn.clone(),
        cache: app.cache.clone(),
        clock: Arc::new(app.clock.clone()),
        config: Arc::new(IdentityConfig::new(
            TEST_MASTER_SECRET,
            app.base.parse().unwrap(),
        )),
    }
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

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
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

async fn sign_in_from(app: &App, device: Option<&str>, email: &str, pw: &str) -> reqwest::Response {
    let mut rb = app
        .client
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"email": email, "password": pw}));
    if let Some(d) = device {
        rb = rb.header("cookie", format!("myqcm_device={d}"));
    }
    rb.send().await.unwrap()
}

/// Issue 9 item 4: anyone could lock an account for good with five wrong passwords every 15
/// minutes. Now the delay is per (account, client): the guesser slows down, the owner's own
/// device (which signed in before) signs in at once, and the owner is told, once.
#[tokio::test]
async fn a_password_guesser_slows_down_but_never_locks_the_owner_out() {
    let app = spawn().await;
    let owner = "guessed@example.dz";
    app.sign_up_verified(owner, PW).await;
    let res = sign_in_from(&app, None, owner, PW).await;
    assert_eq!(res.status(), 200);
    let device = set_cookie(&res, "myqcm_device").expect("a device cookie");
    assert_eq!(device.len(), 43);

    // The guesser (another client: no device cookie, or a made-up one).
    for i in 0..5 {
        let res = sign_in_from(&app, None, owner, "a wrong guess").await;
        assert_eq!(res.status(), 401, "free attempt {i}");
    }
    let res = sign_in_from(&app, None, owner, "a wrong guess").await;
    assert_eq!(status_and_code(res).await, (429, "rate_limited".into()));
    let res = sign_in_from(&app, None, owner, PW).await;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits: no oracle"
    );
    let minted = "m".repeat(43);
    let res = sign_in_from(&app, Some(&minted), owner, "a wrong guess").await;
    assert_eq!(res.status(), 429, "a made-up device cookie buys nothing");

    // The owner's device is not slowed down by any of this.
    let res = sign_in_from(&app, Some(&device), owner, PW).await;
    assert_eq!(res.status(), 200, "the owner's own device signs in");
    assert!(
        set_cookie(&res, "myqcm_device").is_none(),
        "the device keeps its id"
    );

    // The delay grows but ends: after a while the guesser may try again.
    app.clock.advance(chrono::Duration::seconds(20));
    let res = sign_in_from(&app, None, owner, "a wrong guess").await;
    assert_eq!(res.status(), 401, "allowed again after the delay");

    // The owner heard about it once, with the guesser's address.
    let notices: Vec<Mail> = app
        .mails_to(owner)
        .await
        .into_iter()
        .filter(|m| {
            m.subject.contains("connexion")
                && m.text.contains("127.0.0.1")
                && m.text.contains("deux étapes")
        })
        .collect();
    assert_eq!(notices.len(), 1, "one notice: {notices:?}");
    assert!(
        app.audit_actions()
            .await
            .contains(&"sign_in.failures_notified".to_owned())
    );
}

/// Issue 9 item 3: the failure count was checked before the queued password check and
/// incremented after it, so parallel guesses all passed the check. Every attempt is now counted
/// first: of 20 parallel guesses at most 5 reach the password check.
#[tokio::test]
async fn parallel_password_guesses_cannot_exceed_the_free_attempts() {
    let app = spawn().await;
    let owner = "parallel@example.dz";
    app.sign_up_verified(owner, PW).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/sign-in"));
        guesses.spawn(async move {
            let body = json!({"email": owner, "password": format!("wrong guess {i}")});
            let res = client.post(url).json(&body).send().await.unwrap();
            res.status().as_u16()
        });
    }
    let statuses = guesses.join_all().await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15);
    let failed = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "sign_in.failed")
        .count();
    assert_eq!(failed, 5, "only five passwords were checked");
}

/// Issue 9 item 3: per-address limits used the full IPv6 address, and a host holds a whole /64.
/// Sign-ups from six addresses of one /64 share one budget of five an hour; another /64 has
/// its own.
#[tokio::test]
async fn ipv6_clients_are_limited_by_their_64() {
    let app = spawn_with(|w| w.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let sign_up_from = |ip: String, i: u32| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/sign-up"))
                .header("x-forwarded-for", ip)
                .json(&json!({"email": format!("v6-{i}@example.dz"), "password": PW, "display_name": "V6"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for i in 0..5 {
        assert_eq!(
            sign_up_from(format!("2001:db8:7:7::{:x}", i + 1), i).await,
            202
        );
    }
    assert_eq!(sign_up_from("2001:db8:7:7:ffff::9".into(), 5).await, 429);
    assert_eq!(sign_up_from("2001:db8:7:8::1".into(), 6).await, 202);
}

async fn refreshed(app: &App, refresh: &str) -> Value {
    let res = app.refresh_grant(refresh).await;
    assert_eq!(res.status(), 200, "refresh");
    res.json().await.unwrap()
}

/// Issue 9 item 5: reuse detection remembered the last rotation only, so a stolen token two
/// rotations old was merely "unknown" and the thief's copy of the family lived on. Every
/// rotated token is now remembered until it would expire; presenting any of them ends the family.
#[tokio::test]
async fn reusing_any_older_refresh_token_revokes_the_family() {
    let app = spawn().await;
    let email = "reuse@example.dz";
    app.sign_up_verified(email, PW).await;
    let t0 = app.token_grant(email, PW).await;
    let stolen = t0["refresh_token"].as_str().unwrap().to_owned();
    let t1 = refreshed(&app, &stolen).await;
    let t2 = refreshed(&app, t1["refresh_token"].as_str().unwrap()).await;
    let live_access = t2["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_bearer(live_access, "/api/v1/account")
            .await
            .status(),
        200
    );
    app.clock.advance(chrono::Duration::seconds(60));
    let res = app.refresh_grant(&stolen).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        app.get_bearer(live_access, "/api/v1/account")
            .await
            .status(),
        401,
        "the family ended"
    );
    let res = app
        .refresh_grant(t2["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 401);
    assert!(
        app.audit_actions()
            .await
            .contains(&"refresh.reuse_detected".to_owned())
    );
}

/// Issue 9 item 5 (ASVS 7.3.2): rotation extended a session for ever. A learner's session ends
/// 30 days after sign-in and a staff member's 12 hours after, however often it is refreshed.
#[tokio::test]
async fn rotation_never_extends_a_session_past_its_absolute_lifetime() {
    let app = spawn().await;
    let learner = "learner.life@example.dz";
    app.sign_up_verified(learner, PW).await;
    let mut t = app.token_grant(learner, PW).await;
    for _ in 0..2 {
        app.clock.advance(chrono::Duration::days(14));
        t = refreshed(&app, t["refresh_token"].as_str().unwrap()).await;
    }
    assert!(
        t["refresh_expires_in"].as_i64().unwrap() <= 2 * 86_400,
        "capped at sign-in + 30 days: {t}"
    );
    app.clock
        .advance(chrono::Duration::days(2) + chrono::Duration::seconds(1));
    let res = app
        .refresh_grant(t["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 401, "30 days after sign-in");

    let (_b, secret) = app
        .staff("staff.life@example.dz", "student,reviewer", "")
        .await;
    let res = app
        .post(
            "/api/v1/auth/token",
            &json!({"grant_type": "password", "email": "staff.life@example.dz", "password": PW,
                    "totp_code": app.totp(&secret)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut s: Value = res.json().await.unwrap();
    assert!(s["refresh_expires_in"].as_i64().unwrap() <= 12 * 3600);
    for _ in 0..5 {
        app.clock.advance(chrono::Duration::hours(2));
        s = refreshed(&app, s["refresh_token"].as_str().unwrap()).await;
    }
    app.clock
        .advance(chrono::Duration::hours(2) + chrono::Duration::seconds(1));
    let res = app
        .refresh_grant(s["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 401, "12 hours after sign-in");
}
