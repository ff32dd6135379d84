//! Accounts: the one way to create an account (sign-up, Google, `myqcm admin create`, the demo
//! seed all call [`create_account`]), the validation rules every path shares, and the views of an
//! account shown to its owner and to staff.

use myqcm_db::identity::accounts::{self as repo, Account};
use myqcm_domain::Clock;
use myqcm_domain::permissions::{AdminScope, Role};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::passwords::{self, PolicyError};
use super::{ClientMeta, Deps, IdentityError, Result, audit};
use crate::passwords::PasswordError;

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

/// Normalises an email: trimmed, lower-case; `None` when malformed.
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    valid_email(&e).then_some(e)
}

/// A display name: trimmed, 1–120 characters, no control characters.
pub fn display_name(name: &str) -> Result<String> {
    let n = name.trim().to_owned();
    if n.is_empty() || n.chars().count() > 120 || n.chars().any(char::is_control) {
        return Err(IdentityError::Invalid {
            field: "display_name",
        });
    }
    Ok(n)
}

/// `fr`, `ar` or `en`; anything else falls back to French.
pub fn locale_or_default(locale: Option<&str>) -> String {
    match locale {
        Some(l @ ("fr" | "ar" | "en")) => l.to_owned(),
        _ => "fr".into(),
    }
}

/// Whether `roles` include a staff role (reviewer or admin): longer passwords, TOTP, no Google.
pub fn has_staff_role(roles: &[Role]) -> bool {
    roles.contains(&Role::Reviewer) || roles.contains(&Role::Admin)
}

/// Roles and scopes of an account (unknown names are dropped, never granted).
pub fn roles_and_scopes(a: &Account) -> (Vec<Role>, Vec<AdminScope>) {
    let roles = a
        .roles
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let scopes = a
        .admin_scopes
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    (roles, scopes)
}

/// Whether an account holds a staff role (reviewer or admin).
pub fn is_staff(a: &Account) -> bool {
    has_staff_role(&roles_and_scopes(a).0)
}

/// A new password that passed the policy and was hashed on the bounded password pool; the only
/// way a password reaches [`create_account`].
#[derive(Clone)]
pub struct HashedPassword {
    phc: String,
    staff_policy: bool,
}

impl std::fmt::Debug for HashedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashedPassword([redacted])")
    }
}

impl HashedPassword {
    /// Checks `password` against the policy for an account with `roles` and `email` (length,
    /// 12+ for staff, common passwords, context words), then hashes it with argon2id.
    pub async fn new(password: String, roles: &[Role], email: &str) -> Result<Self> {
        let staff = has_staff_role(roles);
        passwords::check_new_password(&password, staff, email)?;
        let phc = passwords::hash(password)
            .await
            .map_err(|e| IdentityError::Other(e.into()))?;
        Ok(Self {
            phc,
            staff_policy: staff,
        })
    }
}

/// Where an account comes from (recorded in its audit row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `myqcm admin create`.
    Cli,
    /// `myqcm seed --demo`.
    Seed,
    /// `POST /api/v1/auth/sign-up`.
    SignUp,
    /// First Google sign-in.
    Google,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Seed => "seed",
            Self::SignUp => "sign_up",
            Self::Google => "google",
        }
    }
}

/// What an account is created with.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Email (normalised and checked here).
    pub email: String,
    /// Name shown (checked here).
    pub display_name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Admin scopes (only meaningful with the admin role).
    pub admin_scopes: Vec<AdminScope>,
    /// `fr`, `ar` or `en` (French otherwise).
    pub locale: Option<String>,
    /// Whether the address is already proven (staff from the command line, a verified Google
    /// email).
    pub verified: bool,
    /// The password, or none for Google-only accounts.
    pub password: Option<HashedPassword>,
}

/// Creates an account in its own transaction, with its audit row.
pub async fn create_account(
    deps: &Deps,
    new: NewAccount,
    origin: Origin,
    meta: &ClientMeta,
) -> Result<Account> {
    let txn = myqcm_db::begin_write(&deps.db).await?;
    let account = insert_account(&txn, deps.clock.as_ref(), new, origin, meta).await?;
    txn.commit().await?;
    Ok(account)
}

/// [`create_account`] inside the caller's transaction (sign-up and Google, which write more
/// rows with it). `EmailTaken` when the address has an account.
pub(crate) async fn insert_account<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    new: NewAccount,
    origin: Origin,
    meta: &ClientMeta,
) -> Result<Account> {
    let email = normalize_email(&new.email).ok_or(IdentityError::InvalidEmail)?;
    let name = display_name(&new.display_name)?;
    if let Some(p) = &new.password
        && has_staff_role(&new.roles)
        && !p.staff_policy
    {
        // Hashed under the learners' rule: staff need the longer minimum.
        return Err(IdentityError::WeakPassword(PolicyError::Length(
            PasswordError::TooShort { min: 12 },
        )));
    }
    let detail = serde_json::json!({
        "via": origin.as_str(),
        "roles": new.roles.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "admin_scopes": new.admin_scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    let account = repo::insert(
        conn,
        repo::NewAccount {
            email,
            display_name: name,
            password_hash: new.password.map(|p| p.phc),
            roles: new.roles,
            admin_scopes: new.admin_scopes,
            locale: locale_or_default(new.locale.as_deref()),
            verified: new.verified,
        },
        clock.now(),
    )
    .await
    .map_err(|e| match e {
        myqcm_db::DbError::Conflict(_) => IdentityError::EmailTaken,
        other => other.into(),
    })?;
    let mut event = audit::Event::new("account.created")
        .target(account.id.to_string())
        .meta(meta)
        .detail(detail);
    if matches!(origin, Origin::SignUp | Origin::Google) {
        event = event.actor(account.id);
    }
    audit::record(conn, clock, event).await?;
    Ok(account)
}

/// The signed-in account as shown to its owner.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Admin scopes.
    pub admin_scopes: Vec<String>,
    /// Interface language.
    pub locale: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Whether TOTP is enrolled.
    pub mfa_enabled: bool,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        let (roles, scopes) = roles_and_scopes(a);
        Self {
            id: a.id,
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            roles: roles.iter().map(ToString::to_string).collect(),
            admin_scopes: scopes.iter().map(ToString::to_string).collect(),
            locale: a.locale.clone(),
            email_verified: a.email_verified_at.is_some(),
            mfa_enabled: a.totp_enabled_at.is_some(),
        }
    }
}

/// An account as staff see it: the owner's view plus the disabled flag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminAccountView {
    /// What the owner sees.
    #[serde(flatten)]
    pub account: AccountView,
    /// Disabled by an admin.
    pub disabled: bool,
}

impl From<&Account> for AdminAccountView {
    fn from(a: &Account) -> Self {
        Self {
            account: AccountView::from(a),
            disabled: a.disabled_at.is_some(),
        }
    }
}
