//! A fake OpenID provider for tests and browser tests (`myqcm-fakes idp`): discovery, JWKS,
//! `/authorize` that consents at once as the configured user, and `/token` that enforces the
//! code (single use), PKCE S256, the client secret and the exact redirect URI. ID tokens are
//! signed with `openidconnect`'s own RS256 signing; tests switch on misbehaviours to play the
//! attacks of spec/security.md §2.6 (O1–O14).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use myqcm_domain::Clock;
use openidconnect::core::{
    CoreHmacKey, CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, ClientId, EmptyAdditionalClaims, EndUserEmail, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
use sha2::{Digest, Sha256};

/// The user the provider signs in.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// `sub`.
    pub sub: String,
    /// `email`.
    pub email: String,
    /// `email_verified`.
    pub email_verified: bool,
}

/// Switches for attacks and faults; all off by default.
#[derive(Debug, Clone, Default)]
pub struct Misbehaviour {
    /// `issuer` in the discovery document differs (O8).
    pub discovery_issuer: Option<String>,
    /// `iss` claim.
    pub iss: Option<String>,
    /// `aud` claim.
    pub aud: Option<Vec<String>>,
    /// `azp` claim.
    pub azp: Option<String>,
    /// Expiry relative to now, in seconds (default 300; negative = expired).
    pub exp_in: Option<i64>,
    /// `iat` relative to now, in seconds (default 0).
    pub iat_in: Option<i64>,
    /// `nonce` claim: `Some(None)` omits it, `Some(Some(x))` sets `x`.
    pub nonce: Option<Option<String>>,
    /// Sign with `alg: none`.
    pub alg_none: bool,
    /// Sign HS256 with the RSA public key (PEM) as the secret.
    pub hs256_with_public_key: bool,
    /// Sign with a key whose `kid` is not in the JWKS (and never will be).
    pub foreign_key: bool,
    /// Sign with the second key; the JWKS publishes it only once `rotate_jwks` is set.
    pub second_key: bool,
    /// Publish the second key in the JWKS.
    pub rotate_jwks: bool,
    /// `/token` answers 302 to this URL.
    pub token_redirect: Option<String>,
    /// `/authorize` answers `error=access_denied`.
    pub deny: bool,
    /// Re-send this exact ID token instead of signing a new one (replay).
    pub replay_id_token: Option<String>,
}

/// Shared, test-controlled state.
#[derive(Debug, Default)]
pub struct IdpState {
    /// Who signs in.
    pub user: Option<FakeUser>,
    /// Faults.
    pub misbehave: Misbehaviour,
    /// Requests that reached `/token`.
    pub token_requests: u32,
    /// Requests that reached `/jwks`.
    pub jwks_requests: u32,
    /// The last ID token issued.
    pub last_id_token: Option<String>,
    codes: HashMap<String, Grant>,
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
}

/// A running fake provider.
#[derive(Clone)]
pub struct FakeIdp {
    /// Its base URL (= issuer).
    pub base: String,
    /// The client id it accepts.
    pub client_id: String,
    /// The client secret it accepts.
    pub client_secret: String,
    /// Test controls.
    pub state: Arc<Mutex<IdpState>>,
    clock: Arc<dyn Clock>,
}

struct Keys {
    main: String,
    second: String,
    foreign: String,
    main_public: String,
}

fn rsa_pem(bits: usize) -> (String, String) {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
        .unwrap_or_else(|e| panic!("RSA key generation: {e}"));
    let private = key
        .to_pkcs1_pem(LineEnding::LF)
        .map(|p| p.to_string())
        .unwrap_or_default();
    let public = key
        .to_public_key()
        .to_pkcs1_pem(LineEnding::LF)
        .unwrap_or_default();
    (private, public)
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (main, main_public) = rsa_pem(2048);
        Keys {
            main,
            second: rsa_pem(2048).0,
            foreign: rsa_pem(2048).0,
            main_public,
        }
    })
}

fn signing_key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into())))
        .unwrap_or_else(|e| panic!("signing key: {e}"))
}

impl FakeIdp {
    /// Starts the provider on a loopback port, signing in `user`, times from `clock`.
    pub async fn start(user: FakeUser, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0", user, clock).await
    }

    /// Starts on `addr` (the `myqcm-fakes` process uses a fixed port).
    pub async fn start_on(
        addr: &str,
        user: FakeUser,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let idp = Self {
            base,
            client_id: "myqcm-test-client".into(),
            client_secret: "fake-idp-client-secret".into(),
            state: Arc::new(Mutex::new(IdpState {
                user: Some(user),
                ..IdpState::default()
            })),
            clock,
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(idp.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(idp)
    }

    /// Changes the misbehaviours.
    pub fn misbehave(&self, m: Misbehaviour) {
        if let Ok(mut s) = self.state.lock() {
            s.misbehave = m;
        }
    }

    /// Changes the signed-in user.
    pub fn set_user(&self, u: FakeUser) {
        if let Ok(mut s) = self.state.lock() {
            s.user = Some(u);
        }
    }

    /// How many token requests arrived.
    pub fn token_requests(&self) -> u32 {
        self.state.lock().map(|s| s.token_requests).unwrap_or(0)
    }

    /// How many JWKS requests arrived.
    pub fn jwks_requests(&self) -> u32 {
        self.state.lock().map(|s| s.jwks_requests).unwrap_or(0)
    }

    /// The last ID token issued.
    pub fn last_id_token(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.last_id_token.clone())
    }

    fn m(&self) -> Misbehaviour {
        self.state
            .lock()
            .map(|s| s.misbehave.clone())
            .unwrap_or_default()
    }
}

async fn discovery(State(idp): State<FakeIdp>) -> Json<serde_json::Value> {
    let issuer = idp.m().discovery_issuer.unwrap_or_else(|| idp.base.clone());
    Json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/authorize", idp.base),
        "token_endpoint": format!("{}/token", idp.base),
        "jwks_uri": format!("{}/jwks", idp.base),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "email", "email_verified", "iss", "aud", "exp", "iat", "nonce"]
    }))
}

async fn jwks(State(idp): State<FakeIdp>) -> Json<serde_json::Value> {
    let rotate = {
        let mut s = idp
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.jwks_requests += 1;
        s.misbehave.rotate_jwks
    };
    let k = keys();
    let mut list = vec![
        serde_json::to_value(signing_key(&k.main, "main").as_verification_key())
            .unwrap_or_default(),
    ];
    if rotate {
        list.push(
            serde_json::to_value(signing_key(&k.second, "second").as_verification_key())
                .unwrap_or_default(),
        );
    }
    Json(serde_json::json!({ "keys": list }))
}

#[derive(serde::Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(State(idp): State<FakeIdp>, Query(q): Query<AuthorizeQuery>) -> Response {
    let mut url = match url::Url::parse(&q.redirect_uri) {
        Ok(u) => u,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response(),
    };
    if idp.m().deny {
        url.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The user said <b>no</b>")
            .append_pair("state", &q.state);
        return Redirect::to(url.as_str()).into_response();
    }
    if q.code_challenge_method.as_deref() != Some("S256") || q.code_challenge.is_none() {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    if let Ok(mut s) = idp.state.lock() {
        s.codes.insert(
            code.clone(),
            Grant {
                client_id: q.client_id,
                redirect_uri: q.redirect_uri.clone(),
                challenge: q.code_challenge.unwrap_or_default(),
                nonce: q.nonce,
            },
        );
    }
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q.state);
    Redirect::to(url.as_str()).into_response()
}

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = STANDARD.decode(v.strip_prefix("Basic ")?).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    let dec = |x: &str| {
        url::form_urlencoded::parse(format!("a={x}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

fn oauth_error(code: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": code })),
    )
        .into_response()
}

async fn token(
    State(idp): State<FakeIdp>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    let m = idp.m();
    let grant = {
        let mut s = idp
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.token_requests += 1;
        s.codes.remove(&f.code)
    };
    if let Some(to) = m.token_redirect {
        return Redirect::temporary(&to).into_response();
    }
    let Some(grant) = grant else {
        return oauth_error("invalid_grant");
    };
    let (client_id, secret) = basic_auth(&headers)
        .or_else(|| Some((f.client_id.clone()?, f.client_secret.clone()?)))
        .unwrap_or_default();
    if f.grant_type != "authorization_code"
        || client_id != idp.client_id
        || client_id != grant.client_id
    {
        return oauth_error("invalid_client");
    }
    if secret != idp.client_secret {
        return oauth_error("invalid_client");
    }
    if f.redirect_uri != grant.redirect_uri {
        return oauth_error("invalid_grant");
    }
    let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(
        f.code_verifier.unwrap_or_default().as_bytes(),
    ));
    if expected != grant.challenge {
        return oauth_error("invalid_grant");
    }
    let Some(user) = idp.state.lock().ok().and_then(|s| s.user.clone()) else {
        return oauth_error("server_error");
    };
    let id_token = match m.replay_id_token.clone() {
        Some(t) => t,
        None => match sign(&idp, &m, &user, grant.nonce) {
            Some(t) => t,
            None => return oauth_error("server_error"),
        },
    };
    if let Ok(mut s) = idp.state.lock() {
        s.last_id_token = Some(id_token.clone());
    }
    Json(serde_json::json!({
        "access_token": "fake-access-token",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
    .into_response()
}

fn sign(idp: &FakeIdp, m: &Misbehaviour, user: &FakeUser, nonce: Option<String>) -> Option<String> {
    let now = idp.clock.now();
    let aud = m.aud.clone().unwrap_or_else(|| vec![idp.client_id.clone()]);
    let issuer = IssuerUrl::new(m.iss.clone().unwrap_or_else(|| idp.base.clone())).ok()?;
    let mut claims = CoreIdTokenClaims::new(
        issuer,
        aud.into_iter().map(Audience::new).collect(),
        now + Duration::seconds(m.exp_in.unwrap_or(300)),
        now + Duration::seconds(m.iat_in.unwrap_or(0)),
        StandardClaims::new(SubjectIdentifier::new(user.sub.clone()))
            .set_email(Some(EndUserEmail::new(user.email.clone())))
            .set_email_verified(Some(user.email_verified)),
        EmptyAdditionalClaims {},
    );
    let nonce = match &m.nonce {
        Some(n) => n.clone(),
        None => nonce,
    };
    claims = claims.set_nonce(nonce.map(Nonce::new));
    if let Some(azp) = &m.azp {
        claims = claims.set_authorized_party(Some(ClientId::new(azp.clone())));
    }
    let k = keys();
    if m.alg_none {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).ok()?);
        return Some(format!("{header}.{payload}."));
    }
    let token = if m.hs256_with_public_key {
        CoreIdToken::new(
            claims,
            &CoreHmacKey::new(k.main_public.as_bytes().to_vec()),
            CoreJwsSigningAlgorithm::HmacSha256,
            None,
            None,
        )
    } else {
        let key = if m.foreign_key {
            signing_key(&k.foreign, "foreign")
        } else if m.second_key {
            signing_key(&k.second, "second")
        } else {
            signing_key(&k.main, "main")
        };
        CoreIdToken::new(
            claims,
            &key,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
    };
    token.ok().map(|t| t.to_string())
}
