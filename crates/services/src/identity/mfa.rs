//! TOTP enrolment, second-factor checks at sign-in and step-up, and recovery codes. Staff must
//! enrol before their first staff action (checked at the edge by `CurrentUser::require`).

use myqcm_db::identity::accounts::{self as accounts_repo, Account};
use myqcm_db::identity::{mfa as repo, ms};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::crypto::{self, sha256_hex};
use super::ratelimit as rl;
use super::sessions::{self, Principal};
use super::{ClientMeta, Deps, IdentityError, Result, audit, passwords, totp};

/// What an authenticator app needs.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// Base32 secret (shown once).
    pub secret: String,
    /// `otpauth://` URI for a QR code.
    pub otpauth_uri: String,
}

fn seal_key(deps: &Deps, user_id: Uuid) -> Vec<u8> {
    let mut k = deps.config.totp_key.to_vec();
    k.extend_from_slice(user_id.as_bytes());
    k
}

/// Encrypts a TOTP secret for storage (keyed by the master secret and the account).
fn seal(deps: &Deps, user_id: Uuid, secret: &[u8]) -> String {
    crypto::hex(&crypto::xor_stream(&seal_key(deps, user_id), secret))
}

fn unseal(deps: &Deps, user_id: Uuid, sealed: &str) -> Option<Vec<u8>> {
    let bytes: Option<Vec<u8>> = (0..sealed.len())
        .step_by(2)
        .map(|i| {
            sealed
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    Some(crypto::xor_stream(&seal_key(deps, user_id), &bytes?))
}

/// The account's TOTP secret (clear), if enrolment started.
pub fn secret_of(deps: &Deps, a: &Account) -> Option<Vec<u8>> {
    a.totp_secret.as_deref().and_then(|s| unseal(deps, a.id, s))
}

/// Starts enrolment (password required): a fresh secret, not active until confirmed.
pub async fn start(
    deps: &Deps,
    p: &Principal,
    password: String,
    meta: &ClientMeta,
) -> Result<Enrolment> {
    let account = accounts_repo::get(&deps.db, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    if account.totp_enabled_at.is_some() {
        return Err(IdentityError::Invalid { field: "totp" });
    }
    if passwords::verify(password, account.password_hash.clone()).await == passwords::Verified::No {
        return Err(IdentityError::InvalidCredentials);
    }
    let secret = crypto::random_bytes::<20>();
    repo::start_enrolment(&deps.db, account.id, &seal(deps, account.id, &secret)).await?;
    audit::record(
        &deps.db,
        deps.clock.as_ref(),
        audit::Event::new("mfa.enrolment_started")
            .actor(account.id)
            .meta(meta),
    )
    .await?;
    let b32 = totp::base32(&secret);
    let label: String =
        url::form_urlencoded::byte_serialize(format!("MyQCM:{}", account.email).as_bytes())
            .collect();
    Ok(Enrolment {
        otpauth_uri: format!(
            "otpauth://totp/{label}?secret={b32}&issuer=MyQCM&algorithm=SHA1&digits=6&period=30"
        ),
        secret: b32,
    })
}

fn new_recovery_code() -> String {
    let b32 = totp::base32(&crypto::random_bytes::<7>());
    format!("{}-{}", &b32[..5], &b32[5..10]).to_lowercase()
}

fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    sha256_hex(norm.as_bytes())
}

/// Confirms enrolment with a first code; returns ten single-use recovery codes (shown once).
pub async fn confirm(
    deps: &Deps,
    p: &Principal,
    code: &str,
    meta: &ClientMeta,
) -> Result<Vec<String>> {
    let account = accounts_repo::get(&deps.db, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    if account.totp_enabled_at.is_some() {
        return Err(IdentityError::Invalid { field: "totp" });
    }
    let Some(secret) = secret_of(deps, &account) else {
        return Err(IdentityError::Invalid { field: "totp" });
    };
    check_totp(deps, &account, &secret, code).await?;
    let codes: Vec<String> = (0..10).map(|_| new_recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
    let now_ms = ms(deps.clock.now());
    let txn = deps.db.begin().await?;
    repo::activate(&txn, account.id, now_ms, &hashes).await?;
    audit::record(
        &txn,
        deps.clock.as_ref(),
        audit::Event::new("mfa.enrolled")
            .actor(account.id)
            .meta(meta),
    )
    .await?;
    txn.commit().await?;
    sessions::mark_authenticated(deps, p.session_id, true).await?;
    Ok(codes)
}

async fn check_totp(deps: &Deps, account: &Account, secret: &[u8], code: &str) -> Result<()> {
    let subject = account.id.to_string();
    rl::check(deps, rl::TOTP_FAILURES, &subject).await?;
    let unix = deps.clock.now().timestamp();
    let ok = match totp::matching_step(secret, code, unix, account.totp_last_step) {
        Some(step) => repo::accept_step(&deps.db, account.id, step).await?,
        None => false,
    };
    if !ok {
        rl::count(deps, rl::TOTP_FAILURES, &subject).await?;
        return Err(IdentityError::InvalidCredentials);
    }
    Ok(())
}

/// Checks a second factor of an enrolled account: a TOTP code (each step once) or an unused
/// recovery code. Wrong codes are rate-limited per account.
pub async fn check_second_factor(deps: &Deps, account: &Account, code: &str) -> Result<()> {
    let Some(secret) = secret_of(deps, account) else {
        return Err(IdentityError::InvalidCredentials);
    };
    let trimmed = code.trim();
    if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return check_totp(deps, account, &secret, trimmed).await;
    }
    let subject = account.id.to_string();
    rl::check(deps, rl::TOTP_FAILURES, &subject).await?;
    if repo::use_recovery_code(
        &deps.db,
        account.id,
        &recovery_hash(trimmed),
        ms(deps.clock.now()),
    )
    .await?
    {
        return Ok(());
    }
    rl::count(deps, rl::TOTP_FAILURES, &subject).await?;
    Err(IdentityError::InvalidCredentials)
}
