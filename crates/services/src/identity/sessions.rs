//! Sign-in sessions: opaque access (15 min) and refresh (30 days) tokens, stored as SHA-256
//! hashes; every request is checked against the session record through the cache port (a short
//! cached look-up that revocation deletes, so sign-out is immediate on every instance sharing
//! the cache); refresh rotation with reuse detection and a 10 s grace for parallel refreshes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use myqcm_db::identity::sessions::{self as repo, Rotation, SessionRow};
use myqcm_db::identity::{from_ms, ms};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::crypto::{self, ct_eq, sha256_hex};
use super::{ClientMeta, Deps, IdentityError, Result, audit, dur_ms};

/// How the session's tokens travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Browser cookies (CSRF-checked).
    Cookie,
    /// `Authorization: Bearer` (non-browser clients).
    Bearer,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Bearer => "bearer",
        }
    }
}

/// The tokens handed to a client after sign-in or refresh.
#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedTokens {
    /// Session id.
    pub session_id: Uuid,
    /// Opaque access token.
    pub access_token: String,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Synchronizer CSRF token bound to the session.
    pub csrf_token: String,
    /// Access token expiry.
    pub access_expires_at: DateTime<Utc>,
    /// Refresh token expiry.
    pub refresh_expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("session_id", &self.session_id)
            .field("tokens", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A validated session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Principal {
    /// Session id.
    pub session_id: Uuid,
    /// Account.
    pub user_id: Uuid,
    /// Access expiry (ms).
    pub access_expires_at: i64,
    /// Last credential proof (ms).
    pub auth_at: i64,
    /// Last TOTP proof (ms).
    pub mfa_at: Option<i64>,
}

/// Live sign-in sessions kept per account (newest first); older ones are revoked.
pub const MAX_SESSIONS: usize = 10;

fn lookup_key(access_hash: &str) -> String {
    format!("auth:s:{access_hash}")
}

fn grace_key(refresh_hash: &str) -> String {
    format!("auth:g:{refresh_hash}")
}

/// The CSRF synchronizer token of a session: HMAC(csrf key, session id), base64url. Bound to the
/// session, stateless, and useless for any other session.
pub fn csrf_token(deps: &Deps, session_id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(crypto::hmac_sha256(
        &deps.config.csrf_key,
        session_id.as_bytes(),
    ))
}

/// Checks a presented CSRF token against the session's (constant time).
pub fn csrf_valid(deps: &Deps, session_id: Uuid, presented: &str) -> bool {
    ct_eq(
        csrf_token(deps, session_id).as_bytes(),
        presented.as_bytes(),
    )
}

fn truncate(s: Option<String>, n: usize) -> Option<String> {
    s.map(|v| v.chars().take(n).collect())
}

/// A device, as the device limit counts them: the user agent a session was opened with
/// (truncated like the stored one; none counts as one device).
fn device_of(user_agent: Option<&str>) -> String {
    user_agent
        .map(|u| u.chars().take(256).collect())
        .unwrap_or_default()
}

/// The plan's device limit (learners only; beside the [`MAX_SESSIONS`] cap). A sign-in from a
/// device (user agent) that one of the live sessions uses always passes. A new device passes
/// too, but when the live sessions already span `devices` distinct devices, the sessions of the
/// device seen least recently are signed out (reason `device_limit`) to make room: a learner who
/// lost their phone can still sign in on a new one, and an account shared between two people
/// keeps signing the other one out. Returns the devices signed out (their user agents).
async fn make_room_for_device(
    deps: &Deps,
    user_id: Uuid,
    meta: &ClientMeta,
    now: i64,
) -> Result<Vec<String>> {
    let (plan, _, _) = crate::commerce::entitlements::plan_in_force(&deps.db, user_id, now).await?;
    let limit = usize::try_from(plan.devices.max(1)).unwrap_or(1);
    let this = device_of(meta.user_agent.as_deref());
    let live = repo::list_live(&deps.db, user_id, now).await?;
    // Each device with the last time any of its sessions was seen.
    let mut seen: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for s in &live {
        let at = seen
            .entry(device_of(s.user_agent.as_deref()))
            .or_insert(i64::MIN);
        *at = (*at).max(s.last_seen_at);
    }
    if seen.contains_key(&this) || seen.len() < limit {
        return Ok(Vec::new());
    }
    // Enough devices go for one more to fit under the limit (a lowered limit may need several).
    let over = (seen.len() + 1).saturating_sub(limit);
    let mut by_age: Vec<(i64, String)> = seen.into_iter().map(|(d, at)| (at, d)).collect();
    by_age.sort();
    let evict: Vec<String> = by_age.into_iter().take(over).map(|(_, d)| d).collect();
    for s in live
        .iter()
        .filter(|s| evict.contains(&device_of(s.user_agent.as_deref())))
    {
        let rows = repo::revoke(&deps.db, s.id, "device_limit", now).await?;
        forget(deps, &rows).await?;
    }
    Ok(evict)
}

/// Tells the learner which device was signed out to make room for a new one, and records it.
async fn notify_device_signed_out(
    deps: &Deps,
    account: &myqcm_db::identity::accounts::Account,
    devices: &[String],
    limit: i32,
    meta: &ClientMeta,
) -> Result<()> {
    let shown: Vec<String> = devices
        .iter()
        .map(|d| {
            if d.is_empty() {
                "?".to_owned()
            } else {
                d.chars().take(80).collect()
            }
        })
        .collect();
    let notice = super::Notice {
        account: account.id,
        to: &account.email,
        locale: &account.locale,
        message: super::mail::Message::DeviceSignedOut {
            devices: shown.join(", "),
            limit,
        },
    };
    let event = audit::Event::new("session.device_signed_out")
        .actor(account.id)
        .target(account.id.to_string())
        .meta(meta)
        .detail(serde_json::json!({ "devices": devices.len(), "limit": limit }));
    let txn = sea_orm::TransactionTrait::begin(&deps.db).await?;
    super::commit_with(txn, deps, Some(notice), event).await
}

/// Opens a new sign-in session for `user_id` (always a fresh id and fresh tokens: session
/// fixation is impossible). `auth_at` records the credential proof that led here.
pub async fn issue(
    deps: &Deps,
    user_id: Uuid,
    via: Via,
    meta: &ClientMeta,
    mfa: bool,
) -> Result<IssuedTokens> {
    let now = deps.clock.now();
    let access = crypto::new_token();
    let refresh = crypto::new_token();
    let id = Uuid::now_v7();
    // The session's end is fixed here; rotation never moves it (ASVS 7.3.2).
    let account = myqcm_db::identity::accounts::get(&deps.db, user_id).await?;
    let staff = account.as_ref().is_some_and(super::accounts::is_staff);
    let max = if staff {
        deps.config.session_max_staff
    } else {
        deps.config.session_max_learner
    };
    if let (false, Some(account)) = (staff, account.as_ref()) {
        let evicted = make_room_for_device(deps, user_id, meta, ms(now)).await?;
        if !evicted.is_empty() {
            let (plan, _, _) =
                crate::commerce::entitlements::plan_in_force(&deps.db, user_id, ms(now)).await?;
            notify_device_signed_out(deps, account, &evicted, plan.devices, meta).await?;
        }
    }
    let absolute = ms(now) + dur_ms(max);
    let access_exp = (ms(now) + dur_ms(deps.config.access_ttl)).min(absolute);
    let refresh_exp = (ms(now) + dur_ms(deps.config.refresh_ttl)).min(absolute);
    repo::insert(
        &deps.db,
        SessionRow {
            id,
            user_id,
            family_id: Uuid::now_v7(),
            access_hash: sha256_hex(access.as_bytes()),
            access_expires_at: access_exp,
            refresh_hash: sha256_hex(refresh.as_bytes()),
            refresh_expires_at: refresh_exp,
            previous_refresh_hash: None,
            rotated_at: None,
            auth_at: ms(now),
            mfa_at: mfa.then_some(ms(now)),
            via: via.as_str().to_owned(),
            created_at: ms(now),
            last_seen_at: ms(now),
            ip: truncate(meta.ip.clone(), 64),
            user_agent: truncate(meta.user_agent.clone(), 256),
            revoked_at: None,
            revoked_reason: None,
            absolute_expires_at: Some(absolute),
        },
    )
    .await?;
    // At most MAX_SESSIONS live sessions per account: the oldest are signed out.
    let live = repo::list_live(&deps.db, user_id, ms(now)).await?;
    for old in live.iter().skip(MAX_SESSIONS) {
        let rows = repo::revoke(&deps.db, old.id, "session_limit", ms(now)).await?;
        forget(deps, &rows).await?;
    }
    Ok(IssuedTokens {
        session_id: id,
        csrf_token: csrf_token(deps, id),
        access_token: access,
        refresh_token: refresh,
        access_expires_at: from_ms(access_exp),
        refresh_expires_at: from_ms(refresh_exp),
    })
}

/// Validates an access token: cached look-up first, then the session row. `None` when the
/// token is unknown, expired or revoked.
pub async fn authenticate(deps: &Deps, access_token: &str) -> Result<Option<Principal>> {
    if access_token.is_empty() || access_token.len() > 128 {
        return Ok(None);
    }
    let now = ms(deps.clock.now());
    let hash = sha256_hex(access_token.as_bytes());
    let key = lookup_key(&hash);
    if let Some(bytes) = deps.cache.get(&key).await?
        && let Ok(p) = serde_json::from_slice::<Principal>(&bytes)
    {
        return Ok((p.access_expires_at > now).then_some(p));
    }
    let Some(row) = repo::by_access_hash(&deps.db, &hash).await? else {
        return Ok(None);
    };
    if row.revoked_at.is_some() || row.access_expires_at <= now {
        return Ok(None);
    }
    let p = Principal {
        session_id: row.id,
        user_id: row.user_id,
        access_expires_at: row.access_expires_at,
        auth_at: row.auth_at,
        mfa_at: row.mfa_at,
    };
    let remaining = Duration::from_millis(u64::try_from(row.access_expires_at - now).unwrap_or(0));
    let ttl = remaining.min(deps.config.lookup_cache_ttl);
    if let Ok(bytes) = serde_json::to_vec(&p) {
        deps.cache.set(&key, &bytes, ttl).await?;
    }
    Ok(Some(p))
}

async fn forget(deps: &Deps, rows: &[SessionRow]) -> Result<()> {
    for r in rows {
        deps.cache.delete(&lookup_key(&r.access_hash)).await?;
    }
    Ok(())
}

/// Revokes one session of `user_id` (404 when it is someone else's: no existence signal).
pub async fn revoke(deps: &Deps, user_id: Uuid, session_id: Uuid, reason: &str) -> Result<()> {
    let Some(row) = repo::get(&deps.db, session_id).await? else {
        return Err(IdentityError::NotFound);
    };
    if row.user_id != user_id {
        return Err(IdentityError::NotFound);
    }
    let rows = repo::revoke(&deps.db, session_id, reason, ms(deps.clock.now())).await?;
    forget(deps, &rows).await
}

/// Revokes every session of a user (except `keep`), dropping cached look-ups.
pub async fn revoke_all(
    deps: &Deps,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<usize> {
    let rows = repo::revoke_user(&deps.db, user_id, keep, reason, ms(deps.clock.now())).await?;
    forget(deps, &rows).await?;
    Ok(rows.len())
}

/// Records a fresh credential proof in the session (step-up) and drops the cached look-up.
pub async fn mark_authenticated(deps: &Deps, session_id: Uuid, mfa: bool) -> Result<()> {
    repo::mark_authenticated(&deps.db, session_id, ms(deps.clock.now()), mfa).await?;
    if let Some(row) = repo::get(&deps.db, session_id).await? {
        forget(deps, &[row]).await?;
    }
    Ok(())
}

/// Whether the principal proved a credential recently enough for a sensitive action.
pub fn recently_authenticated(deps: &Deps, p: &Principal) -> bool {
    ms(deps.clock.now()) - p.auth_at <= dur_ms(deps.config.step_up_window)
}

/// The live sessions of a user, newest first.
pub async fn list(deps: &Deps, user_id: Uuid) -> Result<Vec<SessionRow>> {
    Ok(repo::list_live(&deps.db, user_id, ms(deps.clock.now())).await?)
}

/// The grace record's key needs both the server's purpose key and the presented refresh token,
/// so neither the shared cache nor anyone without the token can open it.
fn grace_seal_key(deps: &Deps, refresh_token: &str) -> [u8; 32] {
    let mut ikm = deps.config.grace_key.to_vec();
    ikm.extend_from_slice(refresh_token.as_bytes());
    crypto::derive_key(&ikm, "seal:refresh-grace-record")
}

fn seal(deps: &Deps, refresh_token: &str, tokens: &IssuedTokens) -> Vec<u8> {
    let plain = serde_json::to_vec(tokens).unwrap_or_default();
    let key = grace_seal_key(deps, refresh_token);
    crypto::seal(&key, tokens.session_id.as_bytes(), &plain).into_bytes()
}

fn unseal(
    deps: &Deps,
    refresh_token: &str,
    session_id: Uuid,
    sealed: &[u8],
) -> Option<IssuedTokens> {
    let key = grace_seal_key(deps, refresh_token);
    let plain = crypto::open(
        &key,
        session_id.as_bytes(),
        std::str::from_utf8(sealed).ok()?,
    )?;
    serde_json::from_slice(&plain).ok()
}

/// Exchanges a refresh token for a new pair. The presented token is rotated away; presenting it
/// again within the grace window returns the same successor pair (two tabs refreshing at once);
/// presenting it after the grace window is reuse: the whole family is revoked and audited.
pub async fn refresh(deps: &Deps, refresh_token: &str, meta: &ClientMeta) -> Result<IssuedTokens> {
    if refresh_token.is_empty() || refresh_token.len() > 128 {
        return Err(IdentityError::Unauthenticated);
    }
    let now = deps.clock.now();
    let now_ms = ms(now);
    let hash = sha256_hex(refresh_token.as_bytes());
    if let Some(row) = repo::by_refresh_hash(&deps.db, &hash).await? {
        let absolute = row
            .absolute_expires_at
            .unwrap_or(row.created_at + dur_ms(deps.config.session_max_learner));
        if row.revoked_at.is_some() || row.refresh_expires_at <= now_ms || absolute <= now_ms {
            return Err(IdentityError::Unauthenticated);
        }
        let access = crypto::new_token();
        let refresh = crypto::new_token();
        let next = Rotation {
            access_hash: sha256_hex(access.as_bytes()),
            access_expires_at: (now_ms + dur_ms(deps.config.access_ttl)).min(absolute),
            refresh_hash: sha256_hex(refresh.as_bytes()),
            refresh_expires_at: (now_ms + dur_ms(deps.config.refresh_ttl)).min(absolute),
        };
        if repo::rotate(&deps.db, row.id, &hash, &next, now_ms).await? {
            // Every token rotated away is remembered until it would have expired, so reuse of
            // any of them (not only the last) is recognised.
            repo::remember_rotated(&deps.db, &row, &hash, now_ms).await?;
            let issued = IssuedTokens {
                session_id: row.id,
                csrf_token: csrf_token(deps, row.id),
                access_token: access,
                refresh_token: refresh,
                access_expires_at: from_ms(next.access_expires_at),
                refresh_expires_at: from_ms(next.refresh_expires_at),
            };
            deps.cache
                .set(
                    &grace_key(&hash),
                    &seal(deps, refresh_token, &issued),
                    deps.config.refresh_grace,
                )
                .await?;
            forget(deps, &[row]).await?;
            return Ok(issued);
        }
        // Lost a race with a parallel refresh: fall through to the grace path.
    }
    let Some(row) = repo::by_previous_refresh_hash(&deps.db, &hash).await? else {
        return older_token_reused(deps, &hash, now_ms, meta).await;
    };
    if row.revoked_at.is_some() {
        return Err(IdentityError::Unauthenticated);
    }
    let within_grace = row
        .rotated_at
        .is_some_and(|t| now_ms - t <= dur_ms(deps.config.refresh_grace));
    if within_grace {
        // The same successor pair, so both racing clients end up with one valid token.
        for _ in 0..20 {
            if let Some(sealed) = deps.cache.get(&grace_key(&hash)).await?
                && let Some(issued) = unseal(deps, refresh_token, row.id, &sealed)
            {
                return Ok(issued);
            }
            // The winner may still be writing the grace record.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        return Err(IdentityError::Unauthenticated);
    }
    reuse_detected(deps, &row, now_ms, meta).await
}

/// A refresh token that is neither current nor the last one rotated away: reuse when it is one
/// of the family's older tokens (still within its lifetime), else simply unknown.
async fn older_token_reused(
    deps: &Deps,
    hash: &str,
    now_ms: i64,
    meta: &ClientMeta,
) -> Result<IssuedTokens> {
    let Some(old) = repo::find_rotated(&deps.db, hash, now_ms).await? else {
        return Err(IdentityError::Unauthenticated);
    };
    match repo::get(&deps.db, old.session_id).await? {
        Some(row) if row.revoked_at.is_none() => reuse_detected(deps, &row, now_ms, meta).await,
        _ => Err(IdentityError::Unauthenticated),
    }
}

/// A rotated-away refresh token came back: someone holds a copy. The whole family ends and the
/// audit log says so.
async fn reuse_detected(
    deps: &Deps,
    row: &SessionRow,
    now_ms: i64,
    meta: &ClientMeta,
) -> Result<IssuedTokens> {
    let rows = repo::revoke_family(&deps.db, row.family_id, "refresh_reuse", now_ms).await?;
    forget(deps, &rows).await?;
    audit::record(
        &deps.db,
        deps.clock.as_ref(),
        audit::Event::new("refresh.reuse_detected")
            .actor(row.user_id)
            .target(row.id.to_string())
            .meta(meta),
    )
    .await?;
    tracing::warn!(user_id = %row.user_id, session_id = %row.id, "refresh token reuse: family revoked");
    Err(IdentityError::Unauthenticated)
}

/// The session a refresh token belongs to (current or just rotated away), without using it;
/// lets the edge check the CSRF token before rotating.
pub async fn session_of_refresh(deps: &Deps, refresh_token: &str) -> Result<Option<Uuid>> {
    if refresh_token.is_empty() || refresh_token.len() > 128 {
        return Ok(None);
    }
    let hash = sha256_hex(refresh_token.as_bytes());
    if let Some(r) = repo::by_refresh_hash(&deps.db, &hash).await? {
        return Ok(Some(r.id));
    }
    Ok(repo::by_previous_refresh_hash(&deps.db, &hash)
        .await?
        .map(|r| r.id))
}

/// Revokes the session an access token belongs to, if any (a cookie presented at sign-in is
/// killed, so a planted session cannot survive: session fixation).
pub async fn revoke_by_access(deps: &Deps, access_token: &str, reason: &str) -> Result<()> {
    if access_token.is_empty() || access_token.len() > 128 {
        return Ok(());
    }
    let hash = sha256_hex(access_token.as_bytes());
    if let Some(row) = repo::by_access_hash(&deps.db, &hash).await? {
        let rows = repo::revoke(&deps.db, row.id, reason, ms(deps.clock.now())).await?;
        forget(deps, &rows).await?;
    }
    Ok(())
}
