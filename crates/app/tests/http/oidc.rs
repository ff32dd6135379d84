//! Google sign-in against the fake identity provider of testkit, driven like a browser with
//! manual redirects: the attack cases O1–O14 of spec/security.md §2.6 and R3 of §5.6.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::*;
use myqcm_integrations::oidc::{GoogleOidc, OidcSettings};
use myqcm_testkit::fake_idp::{FakeIdp, FakeUser, Misbehaviour};
use serde_json::{Value, json};

struct Env {
    app: App,
    idp: FakeIdp,
    nav: reqwest::Client,
}

fn user(sub: &str, email: &str, verified: bool) -> FakeUser {
    FakeUser {
        sub: sub.into(),
        email: email.into(),
        email_verified: verified,
    }
}

async fn env_with(u: FakeUser) -> Env {
    let clock = myqcm_testkit::fixed_clock();
    let idp = FakeIdp::start(u, Arc::new(clock.clone())).await.unwrap();
    let (issuer, id, secret) = (
        idp.base.clone(),
        idp.client_id.clone(),
        idp.client_secret.clone(),
    );
    let cache = myqcm_testkit::test_cache().await.unwrap();
    let app = spawn_sharing(None, cache, clock, move |w, services| {
        let mut cb = w.public_base_url.clone();
        cb.set_path("/api/v1/auth/google/callback");
        services.google = Some(Arc::new(
            GoogleOidc::new(OidcSettings {
                issuer,
                client_id: id,
                client_secret: secret,
                redirect_uri: cb.to_string(),
            })
            .unwrap(),
        ));
    })
    .await;
    let nav = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Env { app, idp, nav }
}

async fn env() -> Env {
    env_with(user("sub-1", "amina@gmail.com", true)).await
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn tx_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("myqcm_oidc_tx="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

impl Env {
    /// Starts a login: (tx cookie, provider authorize URL).
    async fn begin(&self, next: Option<&str>) -> (String, String) {
        let mut url = self.app.url("/api/v1/auth/google/start");
        if let Some(n) = next {
            url = format!(
                "{url}?next={}",
                url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
            );
        }
        let res = self.nav.get(url).send().await.unwrap();
        assert_eq!(res.status(), 303, "start");
        (tx_cookie(&res), location(&res))
    }

    /// Lets the provider consent: the callback URL.
    async fn consent(&self, authorize: &str) -> String {
        let res = self.nav.get(authorize).send().await.unwrap();
        assert_eq!(res.status(), 303, "authorize");
        location(&res)
    }

    async fn callback(&self, cookie: &str, callback: &str) -> reqwest::Response {
        self.nav
            .get(callback)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, next: Option<&str>) -> reqwest::Response {
        let (cookie, authorize) = self.begin(next).await;
        let cb = self.consent(&authorize).await;
        self.callback(&cookie, &cb).await
    }

    async fn assert_fails(&self, res: reqwest::Response) {
        assert_problem(res, 400, "oidc_failed").await;
    }
}

fn session_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("myqcm_access="))
        .expect("access cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn me(e: &Env, cookie: &str) -> reqwest::Response {
    e.app
        .client
        .get(e.app.url("/api/v1/account"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

fn with_query(url: &str, key: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in pairs {
            q.append_pair(&k, &v);
        }
        if let Some(v) = value {
            q.append_pair(key, v);
        }
    }
    u.to_string()
}

fn query(url: &str, key: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn o1_happy_path_creates_a_verified_account_keyed_by_issuer_and_subject() {
    let e = env().await;
    let res = e.login(None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let cookie = session_cookie(&res);
    let v: Value = me(&e, &cookie).await.json().await.unwrap();
    assert_eq!(v["email"], "amina@gmail.com");
    assert_eq!(v["email_verified"], true);
    let link = myqcm_db::identity::external::find(&e.app.db.conn, &e.idp.base, "sub-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.user_id.to_string(), v["id"].as_str().unwrap());
    // A second login lands in the same account.
    let again = e.login(None).await;
    let v2: Value = me(&e, &session_cookie(&again)).await.json().await.unwrap();
    assert_eq!(v2["id"], v["id"]);
    let created = e.app.audit_details("account.created").await;
    assert_eq!(created.len(), 1, "one account, one audit row: {created:?}");
    assert_eq!(created[0]["via"], "google");
}

#[tokio::test]
async fn o2_bad_missing_reused_or_foreign_state_fails_before_any_token_request() {
    let e = env().await;
    let (cookie, authorize) = e.begin(None).await;
    let cb = e.consent(&authorize).await;
    e.assert_fails(
        e.callback(&cookie, &with_query(&cb, "state", Some("forged")))
            .await,
    )
    .await;
    // The transaction was consumed by that attempt: even the right state now fails.
    e.assert_fails(e.callback(&cookie, &cb).await).await;
    let (cookie, authorize) = e.begin(None).await;
    let cb = e.consent(&authorize).await;
    e.assert_fails(e.callback(&cookie, &with_query(&cb, "state", None)).await)
        .await;
    // State from another browser: B's cookie with A's callback.
    let (_a_cookie, a_authorize) = e.begin(None).await;
    let (b_cookie, _b_authorize) = e.begin(None).await;
    let a_cb = e.consent(&a_authorize).await;
    e.assert_fails(e.callback(&b_cookie, &a_cb).await).await;
    assert_eq!(e.idp.token_requests(), 0, "no token request was made");
    // Reuse after success.
    let (cookie, authorize) = e.begin(None).await;
    let cb = e.consent(&authorize).await;
    assert_eq!(e.callback(&cookie, &cb).await.status(), 303);
    e.assert_fails(e.callback(&cookie, &cb).await).await;
}

#[tokio::test]
async fn o3_a_wrong_pkce_verifier_is_refused_by_the_provider() {
    let e = env().await;
    let (_a_cookie, a_authorize) = e.begin(None).await;
    let (b_cookie, b_authorize) = e.begin(None).await;
    // A's code (bound to A's challenge) presented with B's transaction (B's verifier).
    let a_cb = e.consent(&a_authorize).await;
    let forged = with_query(&a_cb, "state", Some(&query(&b_authorize, "state")));
    e.assert_fails(e.callback(&b_cookie, &forged).await).await;
    assert_eq!(e.idp.token_requests(), 1);
}

#[tokio::test]
async fn o4_wrong_issuer_audience_azp_expiry_or_future_iat_are_rejected() {
    let e = env().await;
    let cases = [
        Misbehaviour {
            iss: Some("https://accounts.evil.example".into()),
            ..Default::default()
        },
        Misbehaviour {
            aud: Some(vec!["someone-else".into()]),
            ..Default::default()
        },
        Misbehaviour {
            aud: Some(vec![e.idp.client_id.clone(), "another-client".into()]),
            ..Default::default()
        },
        Misbehaviour {
            exp_in: Some(-120),
            ..Default::default()
        },
        Misbehaviour {
            iat_in: Some(3600),
            ..Default::default()
        },
    ];
    for (i, m) in cases.into_iter().enumerate() {
        e.idp.misbehave(m);
        let res = e.login(None).await;
        assert_eq!(res.status(), 400, "case {i}");
        assert!(
            res.headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("myqcm_access="))
        );
    }
}

#[tokio::test]
async fn o5_missing_different_or_replayed_nonce_is_rejected() {
    let e = env().await;
    assert_eq!(e.login(None).await.status(), 303);
    let old = e.idp.last_id_token().unwrap();
    for (i, m) in [
        Misbehaviour {
            nonce: Some(None),
            ..Default::default()
        },
        Misbehaviour {
            nonce: Some(Some("another-nonce".into())),
            ..Default::default()
        },
        Misbehaviour {
            replay_id_token: Some(old),
            ..Default::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        e.idp.misbehave(m);
        assert_eq!(e.login(None).await.status(), 400, "case {i}");
    }
}

#[tokio::test]
async fn o6_alg_none_hs256_with_the_public_key_and_unknown_keys_are_rejected() {
    let e = env().await;
    for (i, m) in [
        Misbehaviour {
            alg_none: true,
            ..Default::default()
        },
        Misbehaviour {
            hs256_with_public_key: true,
            ..Default::default()
        },
        Misbehaviour {
            foreign_key: true,
            ..Default::default()
        },
        Misbehaviour {
            second_key: true,
            ..Default::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        e.idp.misbehave(m);
        assert_eq!(e.login(None).await.status(), 400, "case {i}");
    }
}

#[tokio::test]
async fn o7_a_rotated_key_is_accepted_after_one_refetch_and_refetches_are_rate_limited() {
    let e = env().await;
    assert_eq!(e.login(None).await.status(), 303);
    let fetches = e.idp.jwks_requests();
    e.idp.misbehave(Misbehaviour {
        second_key: true,
        rotate_jwks: true,
        ..Default::default()
    });
    assert_eq!(
        e.login(None).await.status(),
        303,
        "new kid accepted after a refetch"
    );
    assert_eq!(e.idp.jwks_requests(), fetches + 1);
    e.idp.misbehave(Misbehaviour {
        foreign_key: true,
        rotate_jwks: true,
        ..Default::default()
    });
    assert_eq!(e.login(None).await.status(), 400);
    assert_eq!(
        e.idp.jwks_requests(),
        fetches + 1,
        "no second refetch within the minute"
    );
}

#[tokio::test]
async fn o8_a_discovery_document_with_another_issuer_is_refused() {
    let e = env().await;
    e.idp.misbehave(Misbehaviour {
        discovery_issuer: Some("https://accounts.google.com".into()),
        ..Default::default()
    });
    let res = e
        .nav
        .get(e.app.url("/api/v1/auth/google/start"))
        .send()
        .await
        .unwrap();
    e.assert_fails(res).await;
}

#[tokio::test]
async fn o9_a_redirect_from_the_token_endpoint_is_not_followed() {
    let hits = Arc::new(AtomicU32::new(0));
    let internal = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let internal_url = format!("http://{}/internal-admin", internal.local_addr().unwrap());
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = internal.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let e = env().await;
    e.idp.misbehave(Misbehaviour {
        token_redirect: Some(internal_url),
        ..Default::default()
    });
    assert_eq!(e.login(None).await.status(), 400);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn o10_an_unverified_google_email_never_links_to_an_existing_account() {
    let e = env_with(user("sub-x", "owner@example.dz", false)).await;
    e.app.sign_up_verified("owner@example.dz", PW).await;
    e.assert_fails(e.login(None).await).await;
    let owner = e.app.account("owner@example.dz").await;
    assert!(
        !myqcm_db::identity::external::has_issuer(&e.app.db.conn, owner.id, &e.idp.base)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn o11_a_pre_registered_unverified_account_loses_its_password_when_google_proves_the_address()
{
    let e = env_with(user("sub-v", "victim@gmail.com", true)).await;
    // The attacker registered the victim's address with a password and never verified it.
    e.app
        .sign_up("victim@gmail.com", "attacker password 1")
        .await;
    let attacker = e
        .app
        .sign_in("victim@gmail.com", "attacker password 1")
        .await;
    let res = e.login(None).await;
    assert_eq!(res.status(), 303);
    let res = e
        .app
        .post(
            "/api/v1/auth/sign-in",
            &json!({"email": "victim@gmail.com", "password": "attacker password 1"}),
        )
        .await;
    assert_eq!(res.status(), 401, "the attacker's password no longer works");
    assert_eq!(
        e.app.get_as(&attacker, "/api/v1/account").await.status(),
        401,
        "the attacker's session is gone"
    );
    assert!(
        e.app
            .account("victim@gmail.com")
            .await
            .email_verified_at
            .is_some()
    );
}

#[tokio::test]
async fn o12_the_same_email_with_another_subject_does_not_enter_the_first_account() {
    let e = env().await;
    let first = e.login(None).await;
    let first_id: Value = me(&e, &session_cookie(&first)).await.json().await.unwrap();
    e.idp.set_user(user("sub-2", "amina@gmail.com", true));
    e.assert_fails(e.login(None).await).await;
    assert!(first_id["id"].is_string());
}

#[tokio::test]
async fn o13_provider_errors_give_a_generic_answer_without_echoing_details() {
    let e = env().await;
    e.idp.misbehave(Misbehaviour {
        deny: true,
        ..Default::default()
    });
    let res = e.login(None).await;
    assert_eq!(res.status(), 400);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("said") && !text.contains("<b>") && !text.contains("access_denied"),
        "{text}"
    );
}

#[tokio::test]
async fn o14_r3_post_login_paths_are_only_same_origin() {
    let e = env().await;
    for (next, expected) in [
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/%2F%2Fevil.example", "/"),
        ("/%09/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("https:evil.example", "/"),
        ("/training", "/training"),
    ] {
        let res = e.login(Some(next)).await;
        assert_eq!(res.status(), 303, "{next}");
        assert_eq!(location(&res), expected, "{next}");
    }
}

#[tokio::test]
async fn staff_accounts_cannot_use_google_sign_in() {
    let e = env_with(user("sub-s", "staff@gmail.com", true)).await;
    e.app.sign_up_verified("staff@gmail.com", PW).await;
    e.app.set_roles("staff@gmail.com", "admin", "super").await;
    e.assert_fails(e.login(None).await).await;
}
