//! Rate limits through the cache port (Redis when configured, so limits hold across instances).
//! Keys hash the subject, so no email address sits in the cache. Every counter is incremented
//! before the work it guards (one atomic increment-with-expiry), so parallel requests cannot
//! exceed a limit. Client addresses are keyed by [`client_subject`]: IPv6 by its /64.

use std::net::IpAddr;
use std::time::Duration;

use myqcm_domain::ports::{Cache, PortError};

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

/// A limit of `max` events per `secs` seconds, named `name` in its cache key.
pub const fn per(name: &'static str, max: u64, secs: u64) -> Limit {
    Limit {
        name,
        max,
        window: Duration::from_secs(secs),
    }
}

/// Sign-in attempts per client address: 30 a minute.
pub const SIGN_IN_IP: Limit = per("signin-ip", 30, 60);
/// Sign-in attempts per (account, client): the first [`SIGN_IN_FREE`] of the hour are free,
/// then each waits twice as long as the one before (see [`sign_in_attempt`]).
pub const SIGN_IN_CLIENT: Limit = per("signin-client", SIGN_IN_FREE, 3600);
/// Attempts per (account, client) before the delay starts.
pub const SIGN_IN_FREE: u64 = 5;
/// Wrong passwords at step-up (re-authentication) per account: 5 in 15 minutes.
pub const REAUTH_FAILURES: Limit = per("reauth-fail", 5, 15 * 60);
/// "Failed sign-ins on your account" mail: one an hour per account.
pub const FAILURE_NOTICE: Limit = per("signin-notice", 1, 3600);
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
/// Google sign-in starts per IP: 30 a minute.
pub const GOOGLE_START_IP: Limit = per("google-start-ip", 30, 60);

fn key(limit: Limit, subject: &str) -> String {
    format!(
        "rl:{}:{}",
        limit.name,
        &sha256_hex(subject.as_bytes())[..32]
    )
}

/// The subject a client address is limited by: an IPv6 address by its /64 (one subscriber
/// usually holds a whole /64, so per-address keys would give them 2^64 budgets), IPv4 and
/// IPv4-mapped IPv6 by the address; `-` when unknown.
pub fn client_subject(ip: Option<&str>) -> String {
    match ip.and_then(|s| s.parse::<IpAddr>().ok()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => ip.unwrap_or("-").to_owned(),
    }
}

/// Counts one event of a client address (keyed by [`client_subject`]); refuses over the limit.
pub async fn hit_ip(deps: &Deps, limit: Limit, ip: Option<&str>) -> Result<()> {
    hit(deps, limit, &client_subject(ip)).await
}

/// Counts one event; refuses when the window's count exceeds the limit.
pub async fn hit(deps: &Deps, limit: Limit, subject: &str) -> Result<()> {
    if over(deps.cache.as_ref(), limit, subject).await? {
        return Err(IdentityError::RateLimited);
    }
    Ok(())
}

/// Counts one event of `subject` under `limit` on any cache and says whether the window's
/// count now exceeds it (for other service areas, which map it to their own error).
pub async fn over(
    cache: &dyn Cache,
    limit: Limit,
    subject: &str,
) -> std::result::Result<bool, PortError> {
    Ok(cache.incr(&key(limit, subject), limit.window).await? > limit.max)
}

/// Forgets a subject's count (after a success, for limits that count attempts).
pub async fn clear(deps: &Deps, limit: Limit, subject: &str) -> Result<()> {
    deps.cache.delete(&key(limit, subject)).await?;
    Ok(())
}

/// The outcome of [`sign_in_attempt`].
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// This attempt's number in the window (counted before anything else).
    pub number: u64,
    /// Whether it may go on to the password check.
    pub allowed: bool,
}

/// How long after the window's first attempt attempt `number` may be made: nothing for the
/// first [`SIGN_IN_FREE`], then 1 s, 3 s, 7 s, 15 s… (doubling gaps), capped by the window.
pub fn sign_in_delay(number: u64) -> Duration {
    let extra = number.saturating_sub(SIGN_IN_FREE).min(20);
    let secs = (1u64 << extra) - 1;
    Duration::from_secs(secs).min(SIGN_IN_CLIENT.window)
}

/// Counts a sign-in attempt for (`account`, `client`) before the password is looked at (one
/// atomic increment, so parallel guesses cannot exceed the allowance) and says whether it
/// comes late enough ([`sign_in_delay`]). Never a hard lockout: the delay is per client, and the
/// owner's device is its own client once it signed in (see `flows::sign_in`).
pub async fn sign_in_attempt(deps: &Deps, account: &str, client: &str) -> Result<Attempt> {
    let subject = format!("{account}\u{0}{client}");
    let counter = key(SIGN_IN_CLIENT, &subject);
    let start = format!("{counter}:start");
    let number = deps.cache.incr(&counter, SIGN_IN_CLIENT.window).await?;
    let now = deps.clock.now().timestamp_millis();
    if number == 1 {
        deps.cache
            .set(&start, &now.to_be_bytes(), SIGN_IN_CLIENT.window)
            .await?;
    }
    if number <= SIGN_IN_FREE {
        return Ok(Attempt {
            number,
            allowed: true,
        });
    }
    let first = deps
        .cache
        .get(&start)
        .await?
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map_or(now, i64::from_be_bytes);
    let wait = i64::try_from(sign_in_delay(number).as_millis()).unwrap_or(i64::MAX);
    Ok(Attempt {
        number,
        allowed: now - first >= wait,
    })
}

/// A successful sign-in from (`account`, `client`) starts its count afresh.
pub async fn sign_in_succeeded(deps: &Deps, account: &str, client: &str) -> Result<()> {
    let subject = format!("{account}\u{0}{client}");
    let counter = key(SIGN_IN_CLIENT, &subject);
    deps.cache.delete(&format!("{counter}:start")).await?;
    deps.cache.delete(&counter).await?;
    Ok(())
}

/// How long a device stays known to an account after a successful sign-in.
pub const DEVICE_TRUST: Duration = Duration::from_secs(90 * 24 * 3600);

fn device_key(account: &str, device: &str) -> String {
    format!(
        "auth:device:{}",
        &sha256_hex(format!("{account}\u{0}{device}").as_bytes())[..32]
    )
}

/// Whether `device` (the browser's device cookie) signed in to `account` successfully before.
pub async fn device_known(deps: &Deps, account: &str, device: &str) -> Result<bool> {
    Ok(deps
        .cache
        .get(&device_key(account, device))
        .await?
        .is_some())
}

/// Remembers that `device` signed in to `account`.
pub async fn remember_device(deps: &Deps, account: &str, device: &str) -> Result<()> {
    deps.cache
        .set(&device_key(account, device), b"1", DEVICE_TRUST)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_keyed_by_its_64_and_ipv4_by_the_address() {
        assert_eq!(
            client_subject(Some("2001:db8:1:2:aaaa::1")),
            client_subject(Some("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            client_subject(Some("2001:db8:1:2::1")),
            client_subject(Some("2001:db8:1:3::1"))
        );
        assert_eq!(client_subject(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(client_subject(Some("::ffff:203.0.113.7")), "203.0.113.7");
        assert_ne!(
            client_subject(Some("203.0.113.7")),
            client_subject(Some("203.0.113.8"))
        );
        assert_eq!(client_subject(None), "-");
    }

    #[test]
    fn the_delay_doubles_after_the_free_attempts_and_is_capped() {
        assert_eq!(sign_in_delay(1), Duration::ZERO);
        assert_eq!(sign_in_delay(SIGN_IN_FREE), Duration::ZERO);
        assert_eq!(sign_in_delay(SIGN_IN_FREE + 1), Duration::from_secs(1));
        assert_eq!(sign_in_delay(SIGN_IN_FREE + 2), Duration::from_secs(3));
        assert_eq!(sign_in_delay(SIGN_IN_FREE + 3), Duration::from_secs(7));
        assert_eq!(sign_in_delay(1000), SIGN_IN_CLIENT.window);
    }
}
