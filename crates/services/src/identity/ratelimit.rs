//! Fixed-window rate limits through the cache port (Redis when configured, so limits hold
//! across instances). Keys hash the subject, so no email address sits in the cache.

use std::time::Duration;

use super::crypto::sha256_hex;
use super::{Deps, IdentityError, Result};

/// One limit: at most `max` events per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Name in the key.
    pub name: &'static str,
    /// Events allowed per window.
    pub max: u64,
    /// Window length.
    pub window: Duration,
}

const fn per(name: &'static str, max: u64, secs: u64) -> Limit {
    Limit {
        name,
        max,
        window: Duration::from_secs(secs),
    }
}

/// Sign-in attempts per IP: 30 a minute.
pub const SIGN_IN_IP: Limit = per("signin-ip", 30, 60);
/// Failed sign-ins per email: 5 in 15 minutes, then refused until the window ends.
pub const SIGN_IN_FAILURES: Limit = per("signin-fail", 5, 15 * 60);
/// Sign-ups per IP: 5 an hour.
pub const SIGN_UP_IP: Limit = per("signup-ip", 5, 3600);
/// Verification and reset mail per email: 3 an hour.
pub const MAIL_PER_EMAIL: Limit = per("mail-email", 3, 3600);
/// Verification and reset mail per IP: 10 an hour.
pub const MAIL_PER_IP: Limit = per("mail-ip", 10, 3600);
/// Token and code redemptions per IP: 20 in 15 minutes.
pub const REDEEM_IP: Limit = per("redeem-ip", 20, 15 * 60);
/// Wrong TOTP codes per account: 5 in 15 minutes.
pub const TOTP_FAILURES: Limit = per("totp-fail", 5, 15 * 60);

fn key(limit: Limit, subject: &str) -> String {
    format!(
        "rl:{}:{}",
        limit.name,
        &sha256_hex(subject.as_bytes())[..32]
    )
}

/// Counts one event; refuses when the window's count exceeds the limit.
pub async fn hit(deps: &Deps, limit: Limit, subject: &str) -> Result<()> {
    let n = deps.cache.incr(&key(limit, subject), limit.window).await?;
    if n > limit.max {
        return Err(IdentityError::RateLimited);
    }
    Ok(())
}

/// Counts one event without refusing (e.g. a failure counted after the fact).
pub async fn count(deps: &Deps, limit: Limit, subject: &str) -> Result<()> {
    deps.cache.incr(&key(limit, subject), limit.window).await?;
    Ok(())
}

/// Refuses when the counter already reached the limit, without counting.
pub async fn check(deps: &Deps, limit: Limit, subject: &str) -> Result<()> {
    let current = deps
        .cache
        .get(&key(limit, subject))
        .await?
        .map_or(0, |v| counter_value(&v));
    if current >= limit.max {
        return Err(IdentityError::RateLimited);
    }
    Ok(())
}

/// Reads a counter stored by either cache implementation (decimal text in Redis, big-endian
/// bytes in the in-process cache).
fn counter_value(v: &[u8]) -> u64 {
    if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    } else if let Ok(b) = <[u8; 8]>::try_from(v) {
        u64::from_be_bytes(b)
    } else {
        0
    }
}
