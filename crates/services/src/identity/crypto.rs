//! Small cryptographic helpers, all built on well-kept crates: random tokens, SHA-256 hashes for
//! storage, HMAC, purpose keys derived with HKDF (`hkdf`), constant-time comparison, and sealing
//! with an AEAD (XChaCha20-Poly1305 from `chacha20poly1305`, a random nonce per message) for
//! everything kept encrypted (TOTP secrets, the refresh grace record, queued mail).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
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

/// Salt of every key derivation (kept from the first release, so the CSRF key is unchanged).
const KDF_SALT: &[u8] = b"myqcm key derivation v1";

/// Derives a purpose-specific 32-byte key from the master secret: HKDF-SHA256 (RFC 5869, the
/// `hkdf` crate) with the purpose as `info`, so every purpose has its own independent key.
pub fn derive_key(master: &[u8], purpose: &str) -> [u8; 32] {
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit; expand cannot fail here.
    let _ = Hkdf::<Sha256>::new(Some(KDF_SALT), master).expand(purpose.as_bytes(), &mut okm);
    okm
}

/// Prefix of the current sealed format.
const SEALED_V2: &str = "v2.";

/// Seals `plain` under `key` with XChaCha20-Poly1305 and a fresh random 24-byte nonce;
/// `context` is authenticated (not stored), so a sealed value only opens where it was made
/// for (e.g. the account id of a TOTP secret). Output: `v2.` + base64url(nonce ‖ ciphertext ‖ tag).
pub fn seal(key: &[u8; 32], context: &[u8], plain: &[u8]) -> String {
    let cipher = XChaCha20Poly1305::new(&Key::from(*key));
    let nonce = XNonce::from(random_bytes::<24>());
    // Encryption fails only for messages longer than 256 GiB.
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: context,
            },
        )
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    format!("{SEALED_V2}{}", URL_SAFE_NO_PAD.encode(out))
}

/// Opens a value made by [`seal`] with the same key and context; `None` when it was altered,
/// sealed under another key or context, or is not in the `v2.` format.
pub fn open(key: &[u8; 32], context: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed.strip_prefix(SEALED_V2)?)
        .ok()?;
    if bytes.len() < 24 + 16 {
        return None;
    }
    let (nonce, ct) = bytes.split_at(24);
    let nonce = XNonce::try_from(nonce).ok()?;
    XChaCha20Poly1305::new(&Key::from(*key))
        .decrypt(
            &nonce,
            Payload {
                msg: ct,
                aad: context,
            },
        )
        .ok()
}

/// Whether a stored value is in the current sealed format.
pub fn is_sealed_v2(value: &str) -> bool {
    value.starts_with(SEALED_V2)
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
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
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn derivation_is_rfc5869_hkdf_and_purposes_differ() {
        // RFC 5869 test case 1.
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let mut okm = [0u8; 42];
        Hkdf::<Sha256>::new(Some(&salt), &ikm)
            .expand(&info, &mut okm)
            .unwrap();
        assert_eq!(
            hex(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        let keys = [
            "csrf",
            "seal:totp-secret",
            "seal:refresh-grace",
            "seal:mail",
        ]
        .map(|p| derive_key(b"master", p));
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b, "every purpose has its own key");
            }
        }
        assert_ne!(derive_key(b"master", "csrf"), derive_key(b"other", "csrf"));
    }

    #[test]
    fn two_sealings_of_the_same_secret_differ_and_both_open() {
        let key = derive_key(b"master", "seal:test");
        let a = seal(&key, b"ctx", b"the secret");
        let b = seal(&key, b"ctx", b"the secret");
        assert_ne!(a, b, "a fresh nonce per message");
        assert!(is_sealed_v2(&a));
        assert_eq!(open(&key, b"ctx", &a).unwrap(), b"the secret");
        assert_eq!(open(&key, b"ctx", &b).unwrap(), b"the secret");
    }

    #[test]
    fn a_flipped_bit_another_key_or_another_context_fails_to_open() {
        let key = derive_key(b"master", "seal:test");
        let sealed = seal(&key, b"ctx", b"the secret");
        let mut raw = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix("v2.").unwrap())
            .unwrap();
        for i in [0, 24, raw.len() - 1] {
            raw[i] ^= 0x01;
            let tampered = format!("v2.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(open(&key, b"ctx", &tampered), None, "bit flipped at {i}");
            raw[i] ^= 0x01;
        }
        let other = derive_key(b"master", "seal:other");
        assert_eq!(open(&other, b"ctx", &sealed), None);
        assert_eq!(open(&key, b"other ctx", &sealed), None);
        assert_eq!(open(&key, b"ctx", "v1.abc"), None);
        assert_eq!(open(&key, b"ctx", "v2.short"), None);
    }
}
