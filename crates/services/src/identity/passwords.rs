//! Password policy and hashing for sign-in: the length rule of `crate::passwords` plus an
//! offline common-password list and context words; argon2id on a bounded blocking pool so a
//! burst of sign-ins cannot exhaust memory or starve the server; legacy bcrypt hashes accepted
//! once; a dummy verification for unknown accounts so both paths cost the same.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::passwords::{self as base, PasswordError};

/// The 19 646 most common passwords (Django's list, BSD-3-Clause), lower-case.
const COMMON: &str = include_str!("../../data/common-passwords.txt");

/// Words specific to this product that people pick as passwords.
const CONTEXT_WORDS: &[&str] = &[
    "myqcm",
    "qcm",
    "chargily",
    "medecine",
    "médecine",
    "medicine",
    "algerie",
    "algérie",
    "algeria",
    "password",
    "motdepasse",
];

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Why a new password is refused (safe to show).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Length rule.
    #[error(transparent)]
    Length(#[from] PasswordError),
    /// On the common-password list.
    #[error("this password is too common")]
    Common,
    /// Built from the product's name, the email or similar context.
    #[error("this password is too easy to guess from the context")]
    Context,
}

/// Checks a new password: 8–128 characters (12+ for staff), not a common password, not built
/// on a context word or the email's local part. No composition rules.
pub fn check_new_password(password: &str, staff: bool, email: &str) -> Result<(), PolicyError> {
    base::check_policy(password, staff)?;
    let lower = password.to_lowercase();
    if common().contains(lower.as_str()) {
        return Err(PolicyError::Common);
    }
    // Strip digits and punctuation around a word: "Chargily2024!" is "chargily".
    let core: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    if common().contains(core.as_str()) && core.chars().count() >= 4 {
        return Err(PolicyError::Common);
    }
    let local: String = email
        .split('@')
        .next()
        .unwrap_or("")
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphabetic())
        .collect();
    let mut words: Vec<&str> = CONTEXT_WORDS.to_vec();
    if local.chars().count() >= 4 {
        words.push(&local);
    }
    if words
        .iter()
        .any(|w| core == *w || (core.len() <= w.len() + 4 && core.contains(w)))
    {
        return Err(PolicyError::Context);
    }
    Ok(())
}

type Task = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of threads (one per core) reserved for password hashing. Bounded concurrency
/// keeps latency and memory predictable (each argon2 run holds 19 MiB, and a fixed set of
/// threads keeps a fixed set of allocator arenas), and tokio's workers stay free for
/// everything else, so the server keeps answering during a burst of sign-ins.
fn pool() -> Option<&'static std::sync::Mutex<std::sync::mpsc::Sender<Task>>> {
    static POOL: OnceLock<Option<std::sync::Mutex<std::sync::mpsc::Sender<Task>>>> =
        OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let (tx, rx) = std::sync::mpsc::channel::<Task>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..n.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    loop {
                        let task = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match task {
                            Ok(task) => task(),
                            Err(_) => return,
                        }
                    }
                });
            if spawned.is_err() {
                return None;
            }
        }
        Some(std::sync::Mutex::new(tx))
    })
    .as_ref()
}

/// Runs CPU-heavy work on the password pool (queueing when every thread is busy).
async fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task: Task = Box::new(move || {
        let _ = tx.send(f());
    });
    pool()?.lock().ok()?.send(task).ok()?;
    rx.await.ok()
}

/// Hashes a new password with argon2id on the bounded pool.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    bounded(move || base::hash(&password))
        .await
        .unwrap_or(Err(PasswordError::Hashing))
}

/// A hash that no password matches, computed once, used for unknown accounts.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = crate::identity::crypto::hex(&crate::identity::crypto::random_bytes::<16>());
        base::hash(&secret).unwrap_or_default()
    })
}

static DUMMY_VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// How many dummy verifications ran in this process (tests assert the unknown-account path).
pub fn dummy_verifications() -> u64 {
    DUMMY_VERIFICATIONS.load(Ordering::Relaxed)
}

/// The result of checking a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Matches a current argon2id hash.
    Ok,
    /// Matches a legacy bcrypt hash: the caller stores this new argon2id hash.
    OkRehash(String),
    /// No match (or no account / no password).
    No,
}

/// Verifies `password` against `stored` on the bounded pool. `None` (unknown account or an
/// account without password) verifies against a dummy argon2id hash so it takes the same time.
pub async fn verify(password: String, stored: Option<String>) -> Verified {
    bounded(move || verify_blocking(&password, stored.as_deref()))
        .await
        .unwrap_or(Verified::No)
}

fn verify_blocking(password: &str, stored: Option<&str>) -> Verified {
    match stored {
        Some(h) if h.starts_with("$argon2") => {
            if base::verify(password, h) {
                Verified::Ok
            } else {
                Verified::No
            }
        }
        Some(h) if h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$") => {
            if bcrypt::verify(password, h).unwrap_or(false) {
                match base::hash(password) {
                    Ok(new) => Verified::OkRehash(new),
                    Err(_) => Verified::Ok,
                }
            } else {
                Verified::No
            }
        }
        _ => {
            DUMMY_VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
            let _ = base::verify(password, dummy_hash());
            Verified::No
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n13_policy_cases() {
        assert!(check_new_password("seven77", false, "a@b.dz").is_err());
        assert_eq!(
            check_new_password("password123", false, "a@b.dz"),
            Err(PolicyError::Common)
        );
        assert_eq!(
            check_new_password("qwertyuiop", false, "a@b.dz"),
            Err(PolicyError::Common)
        );
        assert_eq!(
            check_new_password("chargily2024", false, "a@b.dz"),
            Err(PolicyError::Context)
        );
        assert_eq!(
            check_new_password("Amina.Benali2", false, "amina.benali@x.dz"),
            Err(PolicyError::Context)
        );
        assert!(check_new_password(&"x".repeat(129), false, "a@b.dz").is_err());
        let passphrase = "correct horse 🐎 battery staple and some more words to reach 64 chars";
        assert!(
            check_new_password(
                &passphrase.chars().take(64).collect::<String>(),
                false,
                "a@b.dz"
            )
            .is_ok()
        );
        assert!(check_new_password("eleven char", true, "a@b.dz").is_err());
        assert!(check_new_password("twelve chars!", true, "a@b.dz").is_ok());
    }

    #[tokio::test]
    async fn legacy_bcrypt_is_accepted_and_rehashed_to_argon2id() {
        let legacy = bcrypt::hash("old-system-pass", 4).unwrap();
        match verify("old-system-pass".into(), Some(legacy.clone())).await {
            Verified::OkRehash(h) => assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(verify("wrong".into(), Some(legacy)).await, Verified::No);
    }

    #[tokio::test]
    async fn n1_unknown_accounts_verify_a_dummy_hash() {
        let before = dummy_verifications();
        assert_eq!(verify("whatever1".into(), None).await, Verified::No);
        assert_eq!(dummy_verifications(), before + 1, "the dummy path ran");
        // A known account with a real hash does not take the dummy path.
        let h = base::hash("real-password").unwrap();
        assert_eq!(verify("real-password".into(), Some(h)).await, Verified::Ok);
        assert_eq!(dummy_verifications(), before + 1);
    }
}
