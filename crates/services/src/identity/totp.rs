//! TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) with a ±1 step window, base32 secrets and
//! `otpauth://` URIs for authenticator apps. Replay protection (a step is accepted once) is the
//! caller's job through the stored last step.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const STEP: i64 = 30;

/// HOTP value (RFC 4226) for `counter`, truncated to `digits`.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The time step of a Unix time.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP)
}

/// The step (within ±1 of now) whose 6-digit code equals `code`, later than `last_step`.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    unix_seconds: i64,
    last_step: Option<i64>,
) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now = step_of(unix_seconds);
    let mut found = None;
    // Check every candidate so the work does not depend on which one matches.
    for s in [now - 1, now, now + 1] {
        let Ok(counter) = u64::try_from(s) else {
            continue;
        };
        if hotp(secret, counter, 6) == wanted && last_step.is_none_or(|l| s > l) && found.is_none()
        {
            found = Some(s);
        }
    }
    found
}

/// The 6-digit code for a Unix time (tests and the demo seed).
pub fn code_at(secret: &[u8], unix_seconds: i64) -> String {
    format!(
        "{:06}",
        hotp(secret, u64::try_from(step_of(unix_seconds)).unwrap_or(0), 6)
    )
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub fn base32(data: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for b in data {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive, padding and spaces ignored).
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in s.chars().filter(|c| !matches!(c, '=' | ' ')) {
        let v = ALPHABET
            .iter()
            .position(|a| char::from(*a) == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_234_567_890, 89_005_924),
        ] {
            assert_eq!(
                hotp(secret, u64::try_from(step_of(t)).unwrap(), 8),
                expected
            );
        }
        assert_eq!(code_at(secret, 59), "287082");
    }

    #[test]
    fn window_and_replay() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let code = code_at(secret, now);
        let step = matching_step(secret, &code, now, None).unwrap();
        assert_eq!(
            matching_step(secret, &code, now, Some(step)),
            None,
            "a step is used once"
        );
        assert!(
            matching_step(secret, &code, now + 30, None).is_some(),
            "one step late is fine"
        );
        assert!(matching_step(secret, &code, now + 90, None).is_none());
        assert!(matching_step(secret, "12345", now, None).is_none());
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw6ytboi").unwrap(), b"foobar");
        let r = [7u8; 20];
        assert_eq!(base32_decode(&base32(&r)).unwrap(), r);
    }
}
