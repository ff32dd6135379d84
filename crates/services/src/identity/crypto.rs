//! Small cryptographic helpers: random tokens, SHA-256 hashes for storage, HMAC-derived keys and
//! CSRF tokens, constant-time comparison, and sealing of the short-lived refresh grace record.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator failing is not recoverable; an all-zero token would be far worse.
    #[expect(
        clippy::expect_used,
        reason = "no safe fallback exists for a broken OS RNG"
    )]
    getrandom::fill(&mut buf).expect("the operating system's random generator failed");
    buf
}

/// A fresh opaque token: 32 random bytes, base64url without padding (43 characters).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A 6-digit code, uniformly drawn.
pub fn new_code() -> String {
    // Rejection sampling keeps the distribution uniform.
    loop {
        let v = u32::from_le_bytes(random_bytes::<4>());
        if v < 4_294_000_000 {
            return format!("{:06}", v % 1_000_000);
        }
    }
}

/// Lower-case hex of SHA-256 over `data` (how tokens are stored and looked up).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        // HMAC accepts keys of any length; this branch cannot happen.
        return [0u8; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Derives a purpose-specific key from the master secret (HKDF-Extract-then-Expand with a
/// single block, which is all a 32-byte key needs).
pub fn derive_key(master: &[u8], purpose: &str) -> [u8; 32] {
    let prk = hmac_sha256(b"myqcm key derivation v1", master);
    let mut info = purpose.as_bytes().to_vec();
    info.push(1);
    hmac_sha256(&prk, &info)
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// XORs `data` with a keystream of SHA-256(key ‖ counter) blocks (a PRF in counter mode).
/// Used to seal the grace record so the shared cache never holds a usable token in clear: the
/// key comes from the presented refresh token, which only its holder knows.
pub fn xor_stream(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for (i, chunk) in data.chunks(32).enumerate() {
        let mut h = Sha256::new();
        h.update(key);
        h.update((i as u64).to_be_bytes());
        let block = h.finalize();
        out.extend(chunk.iter().zip(block.iter()).map(|(a, b)| a ^ b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_chars_and_distinct() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
        let c = new_code();
        assert_eq!(c.len(), 6);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn hashes_and_keys_are_stable() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(derive_key(b"k", "csrf"), derive_key(b"k", "grace"));
        let sealed = xor_stream(b"key", b"hello world, a bit longer than one block of 32");
        assert_eq!(
            xor_stream(b"key", &sealed),
            b"hello world, a bit longer than one block of 32"
        );
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
