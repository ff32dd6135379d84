//! Google sign-in (OpenID Connect) through `openidconnect` 4 without its HTTP stack: a small
//! adapter runs its requests on our reqwest client, which never follows redirects (SSRF) and has
//! timeouts. Authorization code + PKCE S256 + state + nonce; the ID token is validated by the
//! crate (signature with a JWKS key, RS256 only, issuer, audience/azp, expiry, nonce) plus our
//! own `iat` skew check. Provider metadata and JWKS are cached; an unknown key triggers one
//! refetch, at most once a minute (key rotation).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use myqcm_domain::ports::{AuthorizationRequest, OidcProvider, PortError, ProvenIdentity};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};

/// Why a Google sign-in failed (for logs; clients see one generic error).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Discovery failed or the document's issuer differs from the configured one.
    #[error("discovery: {0}")]
    Discovery(String),
    /// The token endpoint refused or misbehaved.
    #[error("token exchange: {0}")]
    Exchange(String),
    /// The ID token is missing or invalid.
    #[error("id token: {0}")]
    IdToken(String),
}

/// The transport error of the HTTP adapter.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Issuer (`https://accounts.google.com`, or the fake provider in tests).
    pub issuer: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// Our callback URL, exactly as registered.
    pub redirect_uri: String,
}

/// The identity proven by a validated ID token.
pub type VerifiedIdentity = ProvenIdentity;

/// What the browser must remember (server-side) between the redirect and the callback.
pub type Started = AuthorizationRequest;

struct Cached {
    metadata: CoreProviderMetadata,
    /// When an unknown key last caused a refetch.
    last_refetch: Option<Instant>,
}

/// A Google (or compatible) OpenID provider client.
pub struct GoogleOidc {
    settings: OidcSettings,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for GoogleOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleOidc")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// Minimum time between two JWKS refetches triggered by an unknown key.
const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

async fn send(client: reqwest::Client, req: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = req.into_parts();
    let url = parts.uri.to_string();
    let mut rb = client.request(parts.method, url).body(body);
    for (k, v) in &parts.headers {
        rb = rb.header(k, v);
    }
    let res = rb.send().await.map_err(|e| HttpError(e.to_string()))?;
    let mut out = http::Response::builder().status(res.status());
    for (k, v) in res.headers() {
        out = out.header(k, v);
    }
    let bytes = res.bytes().await.map_err(|e| HttpError(e.to_string()))?;
    out.body(bytes.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

impl GoogleOidc {
    /// A client for `settings`; nothing is fetched until first use.
    pub fn new(settings: OidcSettings) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            cached: Mutex::new(None),
        })
    }

    async fn discover(&self) -> Result<CoreProviderMetadata, OidcError> {
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        let transport = self.http.clone();
        let http = move |req: HttpRequest| send(transport.clone(), req);
        // The crate refuses a document whose issuer differs from the configured one.
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        if let Ok(mut c) = self.cached.lock() {
            let last_refetch = c.as_ref().and_then(|c| c.last_refetch);
            *c = Some(Cached {
                metadata: metadata.clone(),
                last_refetch,
            });
        }
        Ok(metadata)
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let cached = self
            .cached
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|c| c.metadata.clone()));
        match cached {
            Some(m) => Ok(m),
            None => self.discover().await,
        }
    }

    fn client_for(
        &self,
        metadata: CoreProviderMetadata,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let redirect = RedirectUrl::new(self.settings.redirect_uri.clone())
            .map_err(|e| OidcError::Discovery(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Builds the authorization URL with fresh state, nonce and PKCE S256 challenge.
    pub async fn start(&self) -> Result<Started, OidcError> {
        let client = self.client_for(self.metadata().await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            authorize_url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` and validates the ID token at time `now`.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedIdentity, OidcError> {
        let metadata = self.metadata().await?;
        let client = self.client_for(metadata)?;
        let transport = self.http.clone();
        let http = move |req: HttpRequest| send(transport.clone(), req);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Exchange(e.to_string()))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::IdToken("no id_token".into()))?
            .clone();
        let nonce = Nonce::new(nonce.to_owned());
        let verify = |client: &CoreClient<_, _, _, _, _, _>| {
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
                .set_time_fn(move || now);
            id_token.claims(&verifier, &nonce).map(|c| {
                (
                    c.issuer().as_str().to_owned(),
                    c.subject().as_str().to_owned(),
                    c.email().map(|e| e.as_str().to_owned()),
                    c.email_verified() == Some(true),
                    c.issue_time(),
                )
            })
        };
        let claims = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // Perhaps the provider rotated its keys: refetch once, rate-limited.
                let allowed = match self.cached.lock() {
                    Ok(mut c) => match c.as_mut() {
                        Some(c)
                            if c.last_refetch
                                .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL) =>
                        {
                            false
                        }
                        Some(c) => {
                            c.last_refetch = Some(Instant::now());
                            true
                        }
                        None => true,
                    },
                    Err(_) => false,
                };
                if !allowed {
                    return Err(OidcError::IdToken(
                        "no matching key (refetch rate-limited)".into(),
                    ));
                }
                let refreshed = self.client_for(self.discover().await?)?;
                verify(&refreshed)
            }
            other => other,
        }
        .map_err(|e| OidcError::IdToken(e.to_string()))?;
        let (issuer, subject, email, email_verified, iat) = claims;
        if iat > now + chrono::Duration::seconds(60) {
            return Err(OidcError::IdToken("issued in the future".into()));
        }
        Ok(VerifiedIdentity {
            issuer,
            subject,
            email: email.map(|e| e.to_lowercase()),
            email_verified,
        })
    }
}

/// The port the identity use cases call; every failure is `Unavailable` with the cause for the
/// log (clients get one generic answer).
#[async_trait]
impl OidcProvider for GoogleOidc {
    async fn authorization_request(&self) -> Result<AuthorizationRequest, PortError> {
        self.start()
            .await
            .map_err(|e| PortError::Unavailable(e.to_string()))
    }

    async fn proven_identity(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<ProvenIdentity, PortError> {
        self.finish(code, pkce_verifier, nonce, now)
            .await
            .map_err(|e| PortError::Unavailable(e.to_string()))
    }
}
