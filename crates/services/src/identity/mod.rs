//! Identity and access: sign-up with verified email, sign-in sessions with opaque rotating
//! tokens, password change/reset, email change, rate limits, transactional mail, the audit log.
//!
//! Map: [`crypto`] (tokens, hashes, keys) → [`passwords`] (policy, bounded argon2 pool, legacy
//! bcrypt, dummy hash) → [`sessions`] (issue, authenticate through the cache, refresh rotation
//! with reuse detection, revocation) → [`flows`] (the user-facing use cases, each one
//! transaction that also enqueues its mail and audit row) → [`mail`] (fr/ar/en templates),
//! [`ratelimit`], [`audit`]. [`accounts`] creates accounts (every path) and shapes their views;
//! [`caller`] resolves who is calling and checks permissions; [`admin`] is account
//! administration; [`oidc`] is Google sign-in. `testing` (feature `testing`, enabled only by
//! dev-dependencies) lets tests obtain a Bearer token without the HTTP sign-in.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod caller;
pub mod crypto;
pub mod flows;
pub mod mail;
pub mod mfa;
pub mod oidc;
pub mod passwords;
pub mod privacy;
pub mod ratelimit;
pub mod sessions;
#[cfg(feature = "testing")]
pub mod testing;
pub mod totp;

use std::sync::Arc;
use std::time::Duration;

use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::ports::{Cache, PortError};

/// Settings of the identity work (a projection of the application configuration).
#[derive(Clone)]
pub struct IdentityConfig {
    /// Key for CSRF synchronizer tokens (derived from `MYQCM_SECRET_KEY`).
    pub csrf_key: [u8; 32],
    /// AEAD key sealing TOTP secrets at rest (`seal:totp-secret`).
    pub totp_key: [u8; 32],
    /// The first release's TOTP key (`totp`), only to re-seal secrets stored in its format.
    pub legacy_totp_key: [u8; 32],
    /// AEAD key of the refresh grace record (`seal:refresh-grace`, mixed with the token).
    pub grace_key: [u8; 32],
    /// AEAD key of queued mail (`seal:mail`): job payloads hold no link or code in clear.
    pub mail_key: [u8; 32],
    /// HMAC key of activation cards (`hmac:activation-card`): only the HMAC of a code is
    /// stored.
    pub card_key: [u8; 32],
    /// AEAD key of authors' postal account numbers (`seal:ccp-account`).
    pub ccp_key: [u8; 32],
    /// Public base URL: links in mail are built from it, never from the `Host` header.
    pub public_base_url: url::Url,
    /// Access token lifetime (15 min).
    pub access_ttl: Duration,
    /// Refresh token lifetime (30 days).
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a learner's sign-in session, fixed at sign-in (30 days).
    pub session_max_learner: Duration,
    /// Absolute lifetime of a staff (reviewer, admin) sign-in session (12 hours).
    pub session_max_staff: Duration,
    /// Window during which the refresh token just rotated away still answers (10 s).
    pub refresh_grace: Duration,
    /// How long a session look-up stays cached.
    pub lookup_cache_ttl: Duration,
    /// Verification and reset links (30 min).
    pub email_token_ttl: Duration,
    /// How recent a credential proof must be for sensitive actions (10 min).
    pub step_up_window: Duration,
    /// Days between a deletion request and the erasure (`MYQCM_ACCOUNT_DELETION_GRACE_DAYS`).
    pub deletion_grace_days: u32,
    /// Days ended sign-in sessions (with their IPs) are kept (`MYQCM_SESSION_RETENTION_DAYS`).
    pub session_retention_days: u32,
    /// Days audit rows are kept (`MYQCM_AUDIT_RETENTION_DAYS`).
    pub audit_retention_days: u32,
}

impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("csrf_key", &"[redacted]")
            .field("public_base_url", &self.public_base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl IdentityConfig {
    /// The standard lifetimes, with keys derived from `master_secret`.
    pub fn new(master_secret: &[u8], public_base_url: url::Url) -> Self {
        Self {
            csrf_key: crypto::derive_key(master_secret, "csrf"),
            totp_key: crypto::derive_key(master_secret, "seal:totp-secret"),
            legacy_totp_key: crypto::derive_key(master_secret, "totp"),
            grace_key: crypto::derive_key(master_secret, "seal:refresh-grace"),
            mail_key: crypto::derive_key(master_secret, "seal:mail"),
            card_key: crypto::derive_key(master_secret, "hmac:activation-card"),
            ccp_key: crypto::derive_key(master_secret, "seal:ccp-account"),
            public_base_url,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            session_max_learner: Duration::from_secs(30 * 24 * 3600),
            session_max_staff: Duration::from_secs(12 * 3600),
            lookup_cache_ttl: Duration::from_secs(60),
            email_token_ttl: Duration::from_secs(30 * 60),
            step_up_window: Duration::from_secs(10 * 60),
            deletion_grace_days: 14,
            session_retention_days: 90,
            audit_retention_days: 365,
        }
    }
}

/// What the identity use cases need: database, cache, clock and settings. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Deps {
    /// Database pool.
    pub db: DatabaseConnection,
    /// Cache port (session look-ups, rate limits, refresh grace).
    pub cache: Arc<dyn Cache>,
    /// Clock port.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Arc<IdentityConfig>,
}

/// Where a request came from, for sessions, rate limits and the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// Client address (after trusted-proxy resolution).
    pub ip: Option<String>,
    /// User agent (truncated).
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// The browser's device cookie (random, set at sign-in): a device that signed in to an
    /// account before has its own sign-in budget there.
    pub device: Option<String>,
}

/// Failures of the identity use cases, each with a safe meaning for the client.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Wrong email or password (the same for both).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No valid session.
    #[error("unauthenticated")]
    Unauthenticated,
    /// A link, code or refresh token that is unknown, used, expired or for another purpose.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The new password breaks the policy.
    #[error("{0}")]
    WeakPassword(#[from] passwords::PolicyError),
    /// A malformed email.
    #[error("invalid email")]
    InvalidEmail,
    /// A bad field value.
    #[error("invalid {field}")]
    Invalid {
        /// Field name.
        field: &'static str,
    },
    /// Too many attempts.
    #[error("rate limited")]
    RateLimited,
    /// The action needs a fresh proof of the password (or TOTP).
    #[error("step-up authentication required")]
    StepUpRequired,
    /// The account has TOTP: a code is needed.
    #[error("second factor required")]
    MfaRequired,
    /// Missing resource (also used for other users' resources).
    #[error("not found")]
    NotFound,
    /// Not allowed.
    #[error("forbidden")]
    Forbidden,
    /// The address already has an account.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// The action needs a verified email address.
    #[error("email address not verified")]
    EmailNotVerified,
    /// Staff must enrol TOTP before their first staff action.
    #[error("TOTP enrolment required")]
    MfaEnrolmentRequired,
    /// Staff accounts (author, reviewer, admin) keep two-step verification on.
    #[error("staff accounts keep two-step verification")]
    StaffKeepsMfa,
    /// The change would leave no active super admin.
    #[error("the last active super admin cannot be demoted or disabled")]
    LastSuperAdmin,
    /// A cookie-authenticated request without the session's CSRF token.
    #[error("CSRF token missing or wrong")]
    CsrfFailed,
    /// A Google sign-in failed (the reason is logged, never shown).
    #[error("sign-in with the identity provider failed")]
    OidcFailed,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] DbError),
    /// Cache failure.
    #[error(transparent)]
    Port(#[from] PortError),
    /// Anything else unexpected.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for IdentityError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

/// Result alias.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// A mail that goes out with a change: recipient, its language, the message.
pub(crate) struct Notice<'a> {
    pub account: uuid::Uuid,
    pub to: &'a str,
    pub locale: &'a str,
    pub message: mail::Message,
}

/// The tail of the identity use cases: the change's notice mail (if any) and its audit row join
/// the transaction, which then commits, so the change, the mail and the record happen together
/// or not at all.
pub(crate) async fn commit_with(
    txn: myqcm_db::DatabaseTransaction,
    deps: &Deps,
    notice: Option<Notice<'_>>,
    event: audit::Event,
) -> Result<()> {
    if let Some(n) = notice {
        let to = mail::Recipient {
            account: n.account,
            to: n.to,
            locale: n.locale,
        };
        mail::enqueue(
            &txn,
            &deps.config.mail_key,
            deps.clock.now(),
            to,
            &n.message,
        )
        .await?;
    }
    audit::record(&txn, deps.clock.as_ref(), event).await?;
    txn.commit().await?;
    Ok(())
}

/// Milliseconds in a duration, saturating.
pub(crate) fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
