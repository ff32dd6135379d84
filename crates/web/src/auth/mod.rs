//! Authentication at the HTTP edge: who is calling ([`CurrentUser`], [`VerifiedUser`]), the
//! client's address behind trusted proxies ([`ClientContext`]), cookies, and CSRF.
//!
//! A request is authenticated by `Authorization: Bearer <access token>` (non-browser clients,
//! exempt from CSRF) or by the access cookie (browsers). Every request is checked against the
//! sign-in session through the cache port, and the account's roles are read on every request,
//! so revocation and role changes take effect on the very next request. Unsafe
//! cookie-authenticated requests must carry the session's synchronizer token as `X-CSRF-Token`
//! or as the `_csrf` form field; [`csrf::guard`] refuses cross-site requests before that.

pub mod cookies;
pub mod csrf;
pub mod google;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use myqcm_domain::codes;
use myqcm_domain::permissions::Action;
use myqcm_services::identity::ClientMeta;
use myqcm_services::identity::caller::Caller;
use myqcm_services::identity::sessions;

use crate::middleware::RequestId;
use crate::{AppState, WebError};

/// Where the request comes from: the client address (the peer, or the right-most address of
/// `X-Forwarded-For` not belonging to a trusted proxy when the peer is one), user agent and
/// request id.
#[derive(Debug, Clone)]
pub struct ClientContext(pub ClientMeta);

/// Resolves the client address from the peer and `X-Forwarded-For`.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for hop in hops.iter().rev() {
        client = *hop;
        if !is_trusted(hop) {
            break;
        }
    }
    Some(client)
}

impl FromRequestParts<AppState> for ClientContext {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        Ok(Self(meta_of(parts, state)))
    }
}

fn meta_of(parts: &Parts, state: &AppState) -> ClientMeta {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
    ClientMeta {
        ip: ip.map(|i| i.to_string()),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
        device: cookies::read(&parts.headers, &cookies::device_name(state.config.https()))
            .filter(|d| d.len() == 43),
    }
}

/// The signed-in caller. Extracting it refuses the request with 401 when there is no valid
/// session, and with 403 `csrf_failed` when an unsafe cookie-authenticated request lacks the
/// session's CSRF token. Dereferences to the services' [`Caller`] (roles, scopes, permission
/// checks).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// Who is calling, as the use cases see it.
    pub caller: Caller,
    /// Authenticated by `Authorization: Bearer` (not a cookie).
    pub via_bearer: bool,
}

impl std::ops::Deref for CurrentUser {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl CurrentUser {
    /// Deny-by-default permission check (`Caller::require`) as an API error. Use cases check
    /// again; this early check gives staff without TOTP enrolment their answer first.
    pub fn require(&self, action: Action) -> Result<(), WebError> {
        Ok(self.caller.require(action)?)
    }
}

/// Reads the presented access token: the Bearer header, else the access cookie.
pub fn presented_access(parts: &Parts, https: bool) -> Option<(String, bool)> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), true));
    }
    cookies::read(&parts.headers, &cookies::access_name(https)).map(|t| (t, false))
}

fn unauthenticated() -> WebError {
    WebError::code(codes::UNAUTHENTICATED)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        if let Some(u) = parts.extensions.get::<Self>() {
            return Ok(u.clone());
        }
        let https = state.config.https();
        let (token, via_bearer) = presented_access(parts, https).ok_or_else(unauthenticated)?;
        let deps = state.deps();
        let principal = sessions::authenticate(&deps, &token)
            .await?
            .ok_or_else(unauthenticated)?;
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if unsafe_method && !via_bearer {
            let presented = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| {
                    parts
                        .extensions
                        .get::<csrf::FormToken>()
                        .map(|f| f.0.clone())
                });
            let ok =
                presented.is_some_and(|t| sessions::csrf_valid(&deps, principal.session_id, &t));
            if !ok {
                return Err(WebError::code(codes::CSRF_FAILED));
            }
        }
        let caller = Caller::resolve(&deps, principal, meta_of(parts, state))
            .await?
            .ok_or_else(unauthenticated)?;
        let user = Self { caller, via_bearer };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// The caller when signed in, else `None` (for routes that answer anonymous callers too).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        match CurrentUser::from_request_parts(parts, state).await {
            Ok(u) => Ok(Self(Some(u))),
            Err(WebError::Known { code, .. }) if code == codes::UNAUTHENTICATED => Ok(Self(None)),
            Err(e) => Err(e),
        }
    }
}

/// A signed-in caller whose email is verified (403 `email_not_verified` otherwise). Training
/// and buying put this guard on their routes.
#[derive(Debug, Clone)]
pub struct VerifiedUser(pub CurrentUser);

impl std::ops::Deref for VerifiedUser {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl FromRequestParts<AppState> for VerifiedUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.verified && state.config.email_verification {
            return Err(WebError::code(codes::EMAIL_NOT_VERIFIED));
        }
        Ok(Self(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            xff.parse()
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("")),
        );
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> =
            vec!["127.0.0.1/32".parse().unwrap_or_else(|_| unreachable!())];
        let peer: IpAddr = "127.0.0.1".parse().unwrap_or_else(|_| unreachable!());
        let outsider: IpAddr = "203.0.113.9".parse().unwrap_or_else(|_| unreachable!());
        // From the proxy: the right-most untrusted hop (the client cannot choose it by prepending).
        assert_eq!(
            client_ip(Some(peer), &headers("1.1.1.1, 10.0.0.7"), &trusted).map(|i| i.to_string()),
            Some("10.0.0.7".into())
        );
        assert_eq!(
            client_ip(Some(peer), &headers("10.0.0.7, 127.0.0.1"), &trusted).map(|i| i.to_string()),
            Some("10.0.0.7".into())
        );
        // From anyone else, or without trusted proxies: the peer, whatever the header says.
        assert_eq!(
            client_ip(Some(outsider), &headers("10.0.0.7"), &trusted),
            Some(outsider)
        );
        assert_eq!(client_ip(Some(peer), &headers("10.0.0.7"), &[]), Some(peer));
        assert_eq!(
            client_ip(Some(peer), &headers("garbage"), &trusted),
            Some(peer)
        );
    }
}
