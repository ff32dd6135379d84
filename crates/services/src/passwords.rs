//! Password hashing: argon2id with m = 19456 KiB, t = 2, p = 1 (OWASP's baseline), PHC strings.
//! These are the blocking primitives; async callers go through `identity::passwords`, which
//! runs them on the bounded password pool.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// Rejected passwords, with a reason safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than the minimum for the account kind.
    #[error("the password must have at least {min} characters")]
    TooShort {
        /// The minimum that applied.
        min: usize,
    },
    /// Longer than 128 characters.
    #[error("the password must have at most 128 characters")]
    TooLong,
    /// The hashing library failed (never expected).
    #[error("password hashing failed")]
    Hashing,
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the length policy: 8–128 characters, 12+ for staff.
pub fn check_policy(password: &str, staff: bool) -> Result<(), PasswordError> {
    let min = if staff { 12 } else { 8 };
    let n = password.chars().count();
    if n < min {
        return Err(PasswordError::TooShort { min });
    }
    if n > 128 {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Hashes with a fresh random salt; returns a PHC string.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Verifies `password` against a stored PHC string; false on mismatch or an unreadable hash.
pub fn verify(password: &str, stored: &str) -> bool {
    hasher()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salts differ");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterz", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn length_policy_depends_on_staff() {
        assert_eq!(
            check_policy("short", false),
            Err(PasswordError::TooShort { min: 8 })
        );
        assert!(check_policy("eight888", false).is_ok());
        assert_eq!(
            check_policy("eleven11111", true),
            Err(PasswordError::TooShort { min: 12 })
        );
        assert!(check_policy("twelve121212", true).is_ok());
        assert_eq!(
            check_policy(&"x".repeat(129), false),
            Err(PasswordError::TooLong)
        );
    }
}
