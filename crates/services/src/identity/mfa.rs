//! TOTP enrolment, second-factor checks at sign-in and step-up, and recovery codes. Staff must
//! enrol before their first staff action (checked at the edge by `CurrentUser::require`).

use myqcm_db::identity::accounts::{self as accounts_repo, Account};
use myqcm_db::identity::{mfa as repo, ms};
use uuid::Uuid;

use sha2::{Digest, Sha256};

use myqcm_domain::permissions::Role;

use super::crypto::{self, sha256_hex};
use super::mail::Message;
use super::ratelimit as rl;
use super::sessions::{self, Principal};
use super::{ClientMeta, Deps, IdentityError, Result, audit, totp};

/// What an authenticator app needs.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// Base32 secret (shown once).
    pub secret: String,
    /// `otpauth://` URI for a QR code.
    pub otpauth_uri: String,
}

/// Encrypts a TOTP secret for storage: AEAD under the TOTP purpose key, bound to the account
/// (a sealed secret copied onto another account does not open).
fn seal(deps: &Deps, user_id: Uuid, secret: &[u8]) -> String {
    crypto::seal(&deps.config.totp_key, user_id.as_bytes(), secret)
}

fn unseal(deps: &Deps, user_id: Uuid, sealed: &str) -> Option<Vec<u8>> {
    crypto::open(&deps.config.totp_key, user_id.as_bytes(), sealed)
}

/// Reads a secret stored by the first release (hex of the secret XORed with the first
/// SHA-256(legacy key ‖ account id ‖ 0u64) block; secrets were 20 bytes, one block). Used only
/// by [`reseal_legacy_secrets`]; nothing is written in that format any more.
fn open_first_release(deps: &Deps, user_id: Uuid, stored: &str) -> Option<Vec<u8>> {
    let sealed = (0..stored.len())
        .step_by(2)
        .map(|i| {
            stored
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    if sealed.is_empty() || sealed.len() > 32 {
        return None;
    }
    let mut h = Sha256::new();
    h.update(deps.config.legacy_totp_key);
    h.update(user_id.as_bytes());
    h.update(0u64.to_be_bytes());
    let block = h.finalize();
    Some(
        sealed
            .iter()
            .zip(block.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    )
}

/// Re-seals every TOTP secret still stored in the first release's format with the AEAD. Run by
/// the binary each time it opens the database, right after the migrations (which cannot do it:
/// they do not know `MYQCM_SECRET_KEY`). Idempotent; returns how many secrets were re-sealed.
pub async fn reseal_legacy_secrets(deps: &Deps) -> Result<usize> {
    let mut n = 0;
    for (user_id, stored) in repo::stored_secrets(&deps.db).await? {
        if crypto::is_sealed_v2(&stored) {
            continue;
        }
        let Some(secret) = open_first_release(deps, user_id, &stored) else {
            tracing::warn!(%user_id, "a stored TOTP secret is in no known format; left as is");
            continue;
        };
        let resealed = seal(deps, user_id, &secret);
        if repo::replace_secret(&deps.db, user_id, &stored, &resealed).await? {
            n += 1;
        }
    }
    if n > 0 {
        tracing::info!(count = n, "TOTP secrets re-sealed with the AEAD");
    }
    Ok(n)
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
    // A second factor binds the account to a device: only the proven owner of the address.
    if account.email_verified_at.is_none() {
        return Err(IdentityError::EmailNotVerified);
    }
    // The password again, throttled and audited like every step-up.
    super::flows::reauthenticate(deps, p, password, meta).await?;
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

/// A recovery code: 15 random bytes (120 bits, above ASVS's 112), base32 in four groups of six.
fn new_recovery_code() -> String {
    let b32 = totp::base32(&crypto::random_bytes::<15>()).to_lowercase();
    format!(
        "{}-{}-{}-{}",
        &b32[..6],
        &b32[6..12],
        &b32[12..18],
        &b32[18..24]
    )
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
    let txn = myqcm_db::begin_write(&deps.db).await?;
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

/// Whether these roles must keep TOTP once enrolled (author, reviewer or admin).
pub fn roles_keep_mfa(roles: &[Role]) -> bool {
    roles
        .iter()
        .any(|r| matches!(r, Role::Author | Role::Reviewer | Role::Admin))
}

/// Whether the account (as its owner sees it) must keep TOTP: the settings page then offers
/// no way to turn it off.
pub fn view_keeps_mfa(view: &super::accounts::AccountView) -> bool {
    let roles: Vec<Role> = view.roles.iter().filter_map(|r| r.parse().ok()).collect();
    roles_keep_mfa(&roles)
}

fn keeps_mfa(account: &Account) -> bool {
    roles_keep_mfa(&super::accounts::roles_and_scopes(account).0)
}

/// The enrolled account behind `p`, after a step-up with the password and a second factor
/// (TOTP or recovery code): the proof that turning off or renewing the factor needs.
async fn enrolled_after_step_up(
    deps: &Deps,
    p: &Principal,
    password: String,
    second_factor: &str,
    meta: &ClientMeta,
) -> Result<Account> {
    let account = accounts_repo::get(&deps.db, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    if account.totp_enabled_at.is_none() {
        return Err(IdentityError::Invalid { field: "totp" });
    }
    if second_factor.trim().is_empty() {
        return Err(IdentityError::MfaRequired);
    }
    super::flows::step_up(deps, p, password, Some(second_factor), meta).await?;
    Ok(account)
}

/// Turns two-step verification off after a step-up (password and a current TOTP or recovery
/// code): the secret and every recovery code are removed, the change is audited and a notice
/// mail goes to the account's address. Staff accounts (author, reviewer, admin) keep TOTP:
/// refused before any credential is checked.
pub async fn disable(
    deps: &Deps,
    p: &Principal,
    password: String,
    second_factor: &str,
    meta: &ClientMeta,
) -> Result<()> {
    let account = accounts_repo::get(&deps.db, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    if keeps_mfa(&account) {
        return Err(IdentityError::StaffKeepsMfa);
    }
    let account = enrolled_after_step_up(deps, p, password, second_factor, meta).await?;
    let txn = myqcm_db::begin_write(&deps.db).await?;
    repo::clear(&txn, account.id).await?;
    let notice = super::Notice {
        account: account.id,
        to: &account.email,
        locale: &account.locale,
        message: Message::MfaDisabled,
    };
    let event = audit::Event::new("mfa.disabled")
        .actor(account.id)
        .meta(meta);
    super::commit_with(txn, deps, Some(notice), event).await
}

/// Replaces the recovery codes (the old ones, used or not, stop working) after a step-up with
/// the password and a second factor; returns ten new codes, shown once.
pub async fn regenerate_recovery_codes(
    deps: &Deps,
    p: &Principal,
    password: String,
    second_factor: &str,
    meta: &ClientMeta,
) -> Result<Vec<String>> {
    let account = enrolled_after_step_up(deps, p, password, second_factor, meta).await?;
    let codes: Vec<String> = (0..10).map(|_| new_recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    repo::replace_recovery_codes(&txn, account.id, ms(deps.clock.now()), &hashes).await?;
    let notice = super::Notice {
        account: account.id,
        to: &account.email,
        locale: &account.locale,
        message: Message::RecoveryCodesReplaced,
    };
    let event = audit::Event::new("mfa.recovery_codes_replaced")
        .actor(account.id)
        .meta(meta);
    super::commit_with(txn, deps, Some(notice), event).await?;
    Ok(codes)
}

async fn check_totp(deps: &Deps, account: &Account, secret: &[u8], code: &str) -> Result<()> {
    // Counted before the check (parallel guesses cannot exceed the limit), forgotten on success.
    let subject = account.id.to_string();
    rl::hit(deps, rl::TOTP_FAILURES, &subject).await?;
    let unix = deps.clock.now().timestamp();
    let ok = match totp::matching_step(secret, code, unix, account.totp_last_step) {
        Some(step) => repo::accept_step(&deps.db, account.id, step).await?,
        None => false,
    };
    if !ok {
        return Err(IdentityError::InvalidCredentials);
    }
    rl::clear(deps, rl::TOTP_FAILURES, &subject).await
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
    rl::hit(deps, rl::TOTP_FAILURES, &subject).await?;
    if repo::use_recovery_code(
        &deps.db,
        account.id,
        &recovery_hash(trimmed),
        ms(deps.clock.now()),
    )
    .await?
    {
        return rl::clear(deps, rl::TOTP_FAILURES, &subject).await;
    }
    Err(IdentityError::InvalidCredentials)
}

/// Enrols TOTP for an account without a confirmation round trip (demo seed, `myqcm admin`):
/// returns the base32 secret, to be shown once. Does nothing (None) when already enrolled.
pub async fn enrol_directly(deps: &Deps, user_id: Uuid) -> Result<Option<String>> {
    let Some(account) = accounts_repo::get(&deps.db, user_id).await? else {
        return Err(IdentityError::NotFound);
    };
    if account.totp_enabled_at.is_some() {
        return Ok(None);
    }
    let secret = crypto::random_bytes::<20>();
    let txn = myqcm_db::begin_write(&deps.db).await?;
    repo::start_enrolment(&txn, user_id, &seal(deps, user_id, &secret)).await?;
    repo::activate(&txn, user_id, ms(deps.clock.now()), &[]).await?;
    txn.commit().await?;
    Ok(Some(totp::base32(&secret)))
}
