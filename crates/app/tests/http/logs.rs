//! E3/E4 of spec/security.md §5.9: security events reach the log with time, user, request id and
//! IP; no password, token, code or secret ever does; log lines cannot be forged through input.
//! A JSON subscriber writes every event (debug and up) to a buffer during full flows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::support::*;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Buf {
    let buf = Buf::default();
    let writer = buf.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .flatten_event(true)
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();
    buf
}

/// `needle` occurs as a whole word (not inside a longer run of letters or digits).
fn occurs(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        !alnum(before) && !alnum(after)
    })
}

#[tokio::test]
async fn e3_no_secret_reaches_the_log_during_full_identity_flows() {
    let buf = capture();
    let app = spawn().await;
    let mut secrets: Vec<String> = vec![PW.into(), "brand new password 9".into()];

    app.sign_up("log@example.dz", PW).await;
    let mail = app.last_link_mail_to("log@example.dz").await;
    let (token, code) = (token_in(&mail.text), code_in(&mail.text));
    secrets.push(token.clone());
    secrets.push(code.clone());
    let res = app
        .post(
            "/api/v1/auth/verify-email",
            &json!({"email": "log@example.dz", "code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A failed sign-in with a password that must not be logged either.
    secrets.push("wrong secret password".into());
    app.post(
        "/api/v1/auth/sign-in",
        &json!({"email": "log@example.dz", "password": "wrong secret password"}),
    )
    .await;

    let b = app.sign_in("log@example.dz", PW).await;
    secrets.extend([b.access.clone(), b.refresh.clone(), b.csrf.clone()]);
    let t = app.token_grant("log@example.dz", PW).await;
    let r = app
        .refresh_grant(t["refresh_token"].as_str().unwrap())
        .await;
    let r: Value = r.json().await.unwrap();
    for v in [
        &t["access_token"],
        &t["refresh_token"],
        &r["access_token"],
        &r["refresh_token"],
    ] {
        secrets.push(v.as_str().unwrap().to_owned());
    }
    // TOTP enrolment: secret, codes and recovery codes.
    let res = app
        .send_as(
            &b,
            reqwest::Method::POST,
            "/api/v1/account/mfa/totp",
            Some(json!({"password": PW})),
        )
        .await;
    let v: Value = res.json().await.unwrap();
    let secret_b32 = v["secret"].as_str().unwrap().to_owned();
    let secret = myqcm_services::identity::totp::base32_decode(&secret_b32).unwrap();
    secrets.push(secret_b32);
    let totp = app.totp(&secret);
    secrets.push(totp.clone());
    let res = app
        .send_as(
            &b,
            reqwest::Method::POST,
            "/api/v1/account/mfa/totp/confirm",
            Some(json!({"code": totp})),
        )
        .await;
    let v: Value = res.json().await.unwrap();
    for c in v["recovery_codes"].as_array().unwrap() {
        secrets.push(c.as_str().unwrap().to_owned());
    }
    // Password reset.
    app.post(
        "/api/v1/auth/password-reset",
        &json!({"email": "log@example.dz"}),
    )
    .await;
    let reset = token_in(&app.last_link_mail_to("log@example.dz").await.text);
    secrets.push(reset.clone());
    let res = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": reset, "new_password": "brand new password 9"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(log.lines().count() > 20, "the capture works");
    for s in &secrets {
        assert!(!occurs(&log, s), "secret {s:?} found in the log");
    }
    // Security events are there with request id and IP.
    let events: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let sign_in = events
        .iter()
        .find(|e| e["action"] == "sign_in.succeeded")
        .expect("a sign-in audit event in the log");
    assert_eq!(sign_in["ip"], "Some(\"127.0.0.1\")");
    assert!(
        sign_in["span"]["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{sign_in}"
    );
    assert!(sign_in["timestamp"].as_str().is_some());
    assert!(events.iter().any(|e| e["action"] == "sign_in.failed"));
    assert!(events.iter().any(|e| e["action"] == "password.reset"));
}

#[tokio::test]
async fn e4_input_cannot_forge_log_lines() {
    let buf = capture();
    let app = spawn().await;
    let evil = "x\n{\"level\":\"admin\",\"message\":\"forged\"}@example.dz";
    app.post(
        "/api/v1/auth/sign-in",
        &json!({"email": evil, "password": "whatever password"}),
    )
    .await;
    app.post("/api/v1/auth/sign-up", &json!({"email": "ok@example.dz", "password": PW, "display_name": "a\n{\"level\":\"admin\"}"}))
        .await;
    app.client
        .get(app.url("/api/v1/account"))
        .header("user-agent", "agent\"},{\"level\":\"admin")
        .send()
        .await
        .unwrap();
    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    for line in log.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        assert_ne!(v["level"], "admin", "{line}");
    }
}
