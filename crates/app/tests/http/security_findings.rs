//! Regression tests for security findings, each written as the attack it stops
//! (docs/SECURITY.md lists them with their fix).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use crate::support::*;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

async fn patch_user(app: &App, b: &Browser, email: &str, body: Value) -> reqwest::Response {
    let id = app.account(email).await.id;
    app.patch_as(b, &format!("/api/v1/admin/users/{id}"), body)
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
    app.step_up(&support, &secret).await;

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
    app.step_up(&root, &secret).await;
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
    app.step_up(&second, &second_secret).await;
    let res = patch_user(
        &app,
        &second,
        "root@example.dz",
        json!({"admin_scopes": ["content"]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (support, support_secret) = app.staff("support@example.dz", "admin", "support").await;
    app.step_up(&support, &support_secret).await;
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

// ------------------------------------------------------------ control characters in input

/// Serde-style paths (`content.options[0].text`) of the text fields a schema describes; a
/// free-form object contributes one made-up field, since any key is text it will store.
fn text_fields(doc: &Value, schema: &Value, path: &str, depth: usize, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    for key in ["allOf", "oneOf", "anyOf"] {
        for variant in schema[key].as_array().into_iter().flatten() {
            text_fields(doc, variant, path, depth + 1, out);
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    if types.contains(&"string") && !out.iter().any(|p| p == path) {
        out.push(path.to_owned());
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, s) in props {
            text_fields(doc, s, &join(k), depth + 1, out);
        }
    } else if types.contains(&"object") && !out.contains(&join("text")) {
        out.push(join("text"));
    }
    if types.contains(&"array") {
        text_fields(doc, &schema["items"], &format!("{path}[0]"), depth + 1, out);
    }
}

/// The smallest JSON document with `value` at `path`.
fn body_with(path: &str, value: &str) -> Value {
    let mut v = Value::String(value.to_owned());
    let mut segments: Vec<&str> = path.split('.').collect();
    while let Some(seg) = segments.pop() {
        let (key, arrays) = seg.split_at(seg.find('[').unwrap_or(seg.len()));
        for _ in 0..arrays.matches('[').count() {
            v = Value::Array(vec![v]);
        }
        v = json!({ key: v });
    }
    v
}

/// Issue 9 finding 9. The attack: a NUL byte (or another control character) in a text field —
/// `"email": "a\u0000b@x.y"` at sign-in — reached PostgreSQL, which cannot store it in `text`,
/// and every such request answered 500. The rule sits at the input boundary: every text field
/// of every JSON body, and every query parameter, of every operation the OpenAPI document
/// lists is tried with such a string, by a super admin who may reach every handler, and each
/// try must answer 422 naming that field — on both backends, never a 5xx.
#[tokio::test]
async fn control_characters_in_any_text_field_are_refused_naming_the_field() {
    let app = spawn().await;
    let (root, secret) = app
        .staff("root@example.dz", "student,author,reviewer,admin", "super")
        .await;
    app.step_up(&root, &secret).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let (mut tried, mut failures) = (0, Vec::new());
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<reqwest::Method>() else {
                continue;
            };
            let mut path = String::new();
            for part in template.split('/').filter(|p| !p.is_empty()) {
                path.push('/');
                path.push_str(if part.starts_with('{') { &id } else { part });
            }
            let url = path;
            let mut cases: Vec<(String, String, Option<Value>)> = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    let name = p["name"].as_str().unwrap();
                    cases.push((name.into(), format!("{url}?{name}=a%00b"), None));
                }
            }
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if !schema.is_null() {
                let mut fields = Vec::new();
                text_fields(&doc, schema, "", 0, &mut fields);
                for f in fields.into_iter().filter(|f| !f.is_empty()) {
                    let body = body_with(&f, "a\u{0}b");
                    cases.push((f, url.clone(), Some(body)));
                }
            }
            for (field, url, body) in cases {
                tried += 1;
                let res = app.send_as(&root, method.clone(), &url, body).await;
                let status = res.status().as_u16();
                let text = res.text().await.unwrap();
                let named =
                    serde_json::from_str::<Value>(&text).is_ok_and(|b| {
                        b["errors"].as_array().into_iter().flatten().any(|e| {
                            e["field"] == field.as_str() && e["code"] == "control_character"
                        })
                    });
                if status != 422 || !named {
                    failures.push(format!("{method} {url} field {field}: {status} {text}"));
                }
            }
        }
    }
    assert!(
        tried > 40,
        "only {tried} fields found in the OpenAPI document"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The same email, without the NUL, signs in as usual: only the character is refused.
    let res = app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "root@example.dz", "password": "wrong password here"}),
        )
        .await;
    assert_problem(res, 401, "invalid_credentials").await;
}

// ------------------------------------------------------------ privacy: export and erasure

const HOME: &str = "198.51.100.7";
const ATTACKER: &str = "192.0.2.66";

async fn post_from(app: &App, ip: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-forwarded-for", ip)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Issue 9 finding 11 (export and addresses). A learner at home (one address) is the target of
/// events others cause: someone tries passwords on the account from another address, and an
/// admin changes its roles. (1) The account export showed only events the learner made; it
/// must show these too — without the other people's addresses. (2) After erasure, audit rows
/// kept the learner's addresses wherever the learner was not the actor: on the rows about the
/// account, and on anonymous rows made from home (a sign-in with a mistyped address). Every
/// row by or about the learner loses its address, and so does every row from an address the
/// learner used; other people's rows keep theirs.
#[tokio::test]
async fn the_export_shows_events_about_the_user_and_erasure_forgets_its_addresses() {
    let app = spawn_with(|w| w.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (admin, secret) = app.staff("root@example.dz", "admin", "super").await;
    let email = "learner@example.dz";
    let res = post_from(
        &app,
        HOME,
        "/api/v1/auth/sign-up",
        &json!({"email": email, "password": PW, "display_name": "Learner"}),
    )
    .await;
    assert_eq!(res.status(), 202);
    let token = token_in(&app.last_link_mail_to(email).await.text);
    let res = post_from(
        &app,
        HOME,
        "/api/v1/auth/verify-email",
        &json!({"token": token}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let learner = Browser::from_response(
        post_from(
            &app,
            HOME,
            "/api/v1/auth/sign-in",
            &json!({"email": email, "password": PW}),
        )
        .await,
    )
    .await;
    // Someone else guesses; the learner mistypes its own address once, from home.
    let guess = json!({"email": email, "password": "guessed password 1"});
    assert_eq!(
        post_from(&app, ATTACKER, "/api/v1/auth/sign-in", &guess)
            .await
            .status(),
        401
    );
    let typo = json!({"email": "learner@exmaple.dz", "password": PW});
    assert_eq!(
        post_from(&app, HOME, "/api/v1/auth/sign-in", &typo)
            .await
            .status(),
        401
    );
    // An admin (from 127.0.0.1) changes the learner's roles.
    app.step_up(&admin, &secret).await;
    let res = patch_user(&app, &admin, email, json!({"roles": ["student", "author"]})).await;
    assert_eq!(res.status(), 200);

    // (1) The export.
    let res = app
        .client
        .get(app.url("/api/v1/account/export"))
        .header("cookie", learner.cookie_header())
        .header("x-forwarded-for", HOME)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    let events = export["security_events"].as_array().unwrap();
    let find = |action: &str, by: &str| {
        events
            .iter()
            .find(|e| e["action"] == action && e["by"] == by)
            .unwrap_or_else(|| panic!("no {action} by {by} in {events:?}"))
    };
    assert_eq!(find("sign_in.succeeded", "you")["ip"], HOME);
    assert!(find("sign_in.failed", "unknown")["ip"].is_null());
    assert!(find("admin.user_update", "staff")["ip"].is_null());
    assert!(
        !text.contains(ATTACKER) && !text.contains("127.0.0.1"),
        "other people's addresses in the export: {text}"
    );

    // (2) Deletion, then erasure after the grace period.
    let res = app
        .client
        .post(app.url("/api/v1/account/delete"))
        .header("cookie", learner.cookie_header())
        .header("x-csrf-token", &learner.csrf)
        .header("x-forwarded-for", HOME)
        .json(&json!({"password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let learner_id = app.account(email).await.id;
    app.clock.advance(chrono::Duration::days(15));
    let deps = myqcm_services::identity::Deps {
        db: app.db.conn.clone(),
        cache: app.cache.clone(),
        clock: std::sync::Arc::new(app.clock.clone()),
        config: std::sync::Arc::new(myqcm_services::identity::IdentityConfig::new(
            b"test",
            "http://127.0.0.1/".parse().unwrap(),
        )),
    };
    assert_eq!(
        myqcm_services::identity::privacy::erase_due(&deps)
            .await
            .unwrap(),
        1
    );
    let rows = myqcm_db::identity::audit::recent(&app.db.conn, None, None, 1000)
        .await
        .unwrap();
    for r in &rows {
        assert_ne!(
            r.ip.as_deref(),
            Some(HOME),
            "the learner's address stayed: {r:?}"
        );
        let about = r.target.as_deref() == Some(learner_id.to_string().as_str())
            || r.actor_id == Some(learner_id);
        assert!(
            !(about && r.ip.is_some()),
            "a row about the learner kept an address: {r:?}"
        );
    }
    assert!(
        rows.iter().all(|r| r.ip.as_deref() != Some(ATTACKER)),
        "the guesses on the account kept their address"
    );
    let admin_id = app.account("root@example.dz").await.id;
    assert!(
        rows.iter()
            .any(|r| r.actor_id == Some(admin_id) && r.ip.as_deref() == Some("127.0.0.1")),
        "other people's rows keep their addresses"
    );
}

/// Every mail-job payload of the table, whatever its status, as raw text.
async fn raw_mail_payloads(app: &App) -> Vec<String> {
    let mut out = Vec::new();
    for status in myqcm_db::jobs::JobStatus::ALL {
        let rows = myqcm_db::jobs::list(&app.db.conn, status, 1000)
            .await
            .unwrap();
        out.extend(
            rows.into_iter()
                .filter(|j| j.kind == "mail.send")
                .map(|j| format!("{} {:?}", j.payload, j.idempotency_key)),
        );
    }
    out
}

/// Issue 9 finding 7. Mail jobs held verification codes, reset links, addresses and sign-in
/// IPs in clear in the job table, for ever. The attack: with a copy of the table (a leaked
/// backup, or the admin jobs API) read the victim's reset link and verification code out of
/// the `mail.send` payloads and take the account. Payloads are now sealed, replaced by a
/// marker once delivered, and an erased account leaves no address in any job row.
#[tokio::test]
async fn the_job_table_holds_no_mail_code_link_address_or_ip() {
    let app = spawn_with(|w| w.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let email = "victim@example.dz";
    app.sign_up(email, PW).await;
    let code = app.last_mail_to(email).await.text;
    let code: String = code
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code in the verification mail")
        .to_owned();
    let res = post_from(
        &app,
        HOME,
        "/api/v1/auth/verify-email",
        &json!({"email": email, "code": code}),
    )
    .await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = post_from(
        &app,
        HOME,
        "/api/v1/auth/sign-in",
        &json!({"email": email, "password": PW}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = post_from(
        &app,
        HOME,
        "/api/v1/auth/password-reset",
        &json!({"email": email}),
    )
    .await;
    assert!(res.status().is_success(), "{}", res.status());
    let link = app.last_link_mail_to(email).await.text;
    let token = link
        .split("#token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("a reset link")
        .to_owned();
    let opened = app.mails_to(email).await;
    assert!(
        opened.iter().any(|m| m.text.contains(HOME)),
        "the new sign-in notice names the address: {opened:?}"
    );

    // What a reader of the table sees: no code, no token, no address, no IP.
    let raw = raw_mail_payloads(&app).await;
    assert!(raw.len() >= 3, "{raw:?}");
    for row in &raw {
        for secret in [code.as_str(), token.as_str(), email, HOME] {
            assert!(!row.contains(secret), "{secret} readable in {row}");
        }
    }
    // The payload does not open under another deployment's key.
    let job = myqcm_db::jobs::list(&app.db.conn, myqcm_db::jobs::JobStatus::Queued, 1)
        .await
        .unwrap()
        .remove(0);
    let other = myqcm_services::identity::IdentityConfig::new(
        b"another deployment's secret key, 32+ bytes",
        "http://x.test".parse().unwrap(),
    );
    assert!(myqcm_services::identity::mail::open(&other.mail_key, &job.payload).is_none());

    // Delivered mail keeps only a marker.
    myqcm_app::worker(&app.services).drain().await.unwrap();
    let done = myqcm_db::jobs::list(&app.db.conn, myqcm_db::jobs::JobStatus::Done, 1000)
        .await
        .unwrap();
    let delivered: Vec<_> = done.iter().filter(|j| j.kind == "mail.send").collect();
    assert_eq!(delivered.len(), raw.len(), "every mail was delivered");
    for j in delivered {
        assert_eq!(j.payload["delivered"], json!(true), "{}", j.payload);
        assert!(j.payload.get("sealed").is_none());
    }

    // A dead mail (delivery failed for good) still holds the sealed address; erasure removes it.
    let b = app.sign_in(email, PW).await;
    let res = app
        .send_as(
            &b,
            reqwest::Method::POST,
            "/api/v1/account/delete",
            Some(json!({"password": PW})),
        )
        .await;
    assert_eq!(res.status(), 202);
    let id = app.account(email).await.id;
    // The pending notices (new sign-in, deletion scheduled) fail for good: their jobs end dead,
    // the sealed address inside.
    let now = myqcm_domain::Clock::now(&app.clock);
    while let Some(j) =
        myqcm_db::jobs::claim(&app.db.conn, "test", now, chrono::Duration::minutes(1))
            .await
            .unwrap()
    {
        myqcm_db::jobs::fail(&app.db.conn, j.id, "test", "smtp down", now, now)
            .await
            .unwrap();
    }
    let prefix = myqcm_services::identity::mail::key_prefix(id);
    let dead_of_account = |rows: Vec<myqcm_db::jobs::JobRow>| {
        rows.into_iter()
            .filter(|j| {
                j.kind == "mail.send"
                    && j.idempotency_key
                        .as_deref()
                        .is_some_and(|k| k.starts_with(&prefix))
            })
            .count()
    };
    let dead = myqcm_db::jobs::list(&app.db.conn, myqcm_db::jobs::JobStatus::Dead, 1000)
        .await
        .unwrap();
    assert_eq!(dead_of_account(dead), 2, "both notices are dead");
    app.clock.advance(chrono::Duration::days(15));
    assert_eq!(
        myqcm_services::identity::privacy::erase_due(&app.services.deps())
            .await
            .unwrap(),
        1
    );
    let dead = myqcm_db::jobs::list(&app.db.conn, myqcm_db::jobs::JobStatus::Dead, 1000)
        .await
        .unwrap();
    assert_eq!(dead_of_account(dead), 0, "erasure removed the dead mail");
    let done = myqcm_db::jobs::list(&app.db.conn, myqcm_db::jobs::JobStatus::Done, 1000)
        .await
        .unwrap();
    assert_eq!(dead_of_account(done), 0, "and the delivered markers");
    let farewell = app.mails_to(email).await;
    assert_eq!(
        farewell.len(),
        1,
        "only the farewell is queued: {farewell:?}"
    );
    myqcm_app::worker(&app.services).drain().await.unwrap();
    assert!(
        app.mails().await.is_empty(),
        "the farewell was delivered, nothing left to open"
    );
}

/// Queued jobs as (kind, raw payload), without carrying anything out.
async fn queued_jobs(app: &App) -> Vec<(String, String)> {
    myqcm_db::jobs::list(&app.db.conn, myqcm_db::jobs::JobStatus::Queued, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j.payload.to_string()))
        .collect()
}

/// Issue 9 finding 10 (timing). A reset or resend request for a known address issued a token
/// and queued a mail before answering, one for an unknown address did nothing: the answers were
/// identical but their timing told an attacker with a stopwatch which addresses have accounts.
/// The request now does the same work for every address — the rate limits and one sealed
/// `identity.mail_request` row — and the look-up, token and mail happen in that job.
#[tokio::test]
async fn reset_and_resend_do_the_same_work_for_known_and_unknown_addresses() {
    let app = spawn().await;
    let known = "known@example.dz";
    let unknown = "nobody@example.dz";
    app.sign_up(known, PW).await;
    for path in [
        "/api/v1/auth/password-reset",
        "/api/v1/auth/resend-verification",
    ] {
        let before = queued_jobs(&app).await;
        let mut answers = Vec::new();
        for email in [known, unknown] {
            let res = app.post(path, &json!({ "email": email })).await;
            answers.push((res.status(), res.text().await.unwrap()));
            let after = queued_jobs(&app).await;
            let new: Vec<_> = after[before.len() + answers.len() - 1..].to_vec();
            assert_eq!(new.len(), 1, "{path} {email}: one row, {new:?}");
            let (kind, payload) = &new[0];
            assert_eq!(kind, "identity.mail_request");
            assert!(
                !payload.contains(email) && payload.contains("\"sealed\":\"v2."),
                "{payload}"
            );
        }
        assert_eq!(answers[0], answers[1], "{path}: same answer");
    }
    let tokens = myqcm_db::identity::tokens::entity::Entity::find()
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(
        tokens.len(),
        1,
        "only the sign-up's token exists before the jobs run"
    );
    // Carried out, the requests mail the known address only.
    let mails = app.mails().await;
    let to_known: Vec<_> = mails.iter().filter(|m| m.to == known).collect();
    assert_eq!(to_known.len(), 3, "sign-up, reset, resend: {mails:?}");
    assert!(mails.iter().all(|m| m.to != unknown));
    assert!(to_known[1].text.contains("/password-reset#token="));
}
