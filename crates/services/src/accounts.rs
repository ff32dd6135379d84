//! Account creation from the command line (first admin, demo accounts).

use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::users::{self, NewUser, UserRow};

use crate::passwords::{self, PasswordError};

/// Roles a user may hold (several at once).
pub const ROLES: &[&str] = &["student", "author", "reviewer", "admin"];

/// Admin scopes.
pub const ADMIN_SCOPES: &[&str] = &["super", "content", "finance", "support", "operations"];

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    /// Bad email.
    #[error("{0:?} is not a valid email address")]
    InvalidEmail(String),
    /// Unknown role.
    #[error("unknown role {0:?} (expected one of: student, author, reviewer, admin)")]
    UnknownRole(String),
    /// Password policy (length, common passwords, context words).
    #[error(transparent)]
    Policy(#[from] crate::identity::passwords::PolicyError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Email already used.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Storage failure.
    #[error(transparent)]
    Store(myqcm_db::DbError),
}

/// A minimal syntactic check; the verification mail is the real proof.
pub fn valid_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 320
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Creates a verified account with `roles`; staff roles need a 12+ character password.
pub async fn create_account(
    db: &DatabaseConnection,
    email: &str,
    display_name: &str,
    password: String,
    roles: &[String],
    admin_scopes: &[String],
    now: DateTime<Utc>,
) -> Result<UserRow, CreateAccountError> {
    if !valid_email(email) {
        return Err(CreateAccountError::InvalidEmail(email.to_owned()));
    }
    if let Some(bad) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return Err(CreateAccountError::UnknownRole(bad.clone()));
    }
    let staff = roles.iter().any(|r| r == "reviewer" || r == "admin");
    // The same policy as sign-up: length, the common-password list, context words.
    crate::identity::passwords::check_new_password(&password, staff, email)?;
    let hash = passwords::hash_async(password).await?;
    let user = NewUser {
        email: email.to_owned(),
        display_name: display_name.to_owned(),
        password_hash: Some(hash),
        roles: roles.to_vec(),
        admin_scopes: admin_scopes.to_vec(),
        locale: "fr".into(),
        verified: true,
    };
    users::create(db, user, now).await.map_err(|e| match e {
        myqcm_db::DbError::Conflict(_) => CreateAccountError::EmailTaken,
        other => CreateAccountError::Store(other),
    })
}
