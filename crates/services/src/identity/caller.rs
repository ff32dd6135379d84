//! Who is calling: a validated sign-in session together with the account's current roles,
//! scopes and MFA state (read on every request, so a role change applies on the next one), and
//! the permission checks every use case makes against the one table in
//! `myqcm_domain::permissions`.

use myqcm_db::identity::accounts as accounts_repo;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::{Action, AdminScope, Role, allowed};
use uuid::Uuid;

use super::accounts::{AccountView, roles_and_scopes};
use super::sessions::{self, Principal};
use super::{ClientMeta, Deps, IdentityError, Result, flows};

/// The signed-in caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Account id.
    pub id: Uuid,
    /// Current email.
    pub email: String,
    /// Roles, read from the database for this request.
    pub roles: Vec<Role>,
    /// Admin scopes (they count only with the admin role).
    pub scopes: Vec<AdminScope>,
    /// Whether the email is verified.
    pub verified: bool,
    /// Whether TOTP is enrolled.
    pub mfa_enrolled: bool,
    /// The sign-in session.
    pub session_id: Uuid,
    principal: Principal,
    meta: ClientMeta,
}

impl Caller {
    /// The caller of a validated session, or `None` when the account is disabled or deleted.
    pub async fn resolve(
        deps: &Deps,
        principal: Principal,
        meta: ClientMeta,
    ) -> Result<Option<Self>> {
        let Some(account) = accounts_repo::get(&deps.db, principal.user_id)
            .await?
            .filter(flows::usable)
        else {
            return Ok(None);
        };
        let (roles, scopes) = roles_and_scopes(&account);
        Ok(Some(Self {
            id: account.id,
            email: account.email,
            roles,
            scopes,
            verified: account.email_verified_at.is_some(),
            mfa_enrolled: account.totp_enabled_at.is_some(),
            session_id: principal.session_id,
            principal,
            meta,
        }))
    }

    /// Deny-by-default check: `Forbidden` when no role or scope grants `action`;
    /// `MfaEnrolmentRequired` for a staff action before TOTP enrolment.
    pub fn require(&self, action: Action) -> Result<()> {
        if !allowed(&self.roles, &self.scopes, action) {
            return Err(IdentityError::Forbidden);
        }
        if action.is_staff() && !self.mfa_enrolled {
            return Err(IdentityError::MfaEnrolmentRequired);
        }
        Ok(())
    }

    /// For sensitive staff actions: [`Caller::require`] plus a TOTP proof in this session
    /// within the step-up window (`StepUpRequired` otherwise).
    pub fn require_step_up(&self, deps: &Deps, action: Action) -> Result<()> {
        self.require(action)?;
        if !flows::recent_mfa(deps, &self.principal) {
            return Err(IdentityError::StepUpRequired);
        }
        Ok(())
    }

    /// Whether [`Caller::require`] passes.
    pub fn can(&self, action: Action) -> bool {
        self.require(action).is_ok()
    }

    /// Holds `scope` with the admin role (`super` holds every scope).
    pub fn holds_scope(&self, scope: AdminScope) -> bool {
        self.roles.contains(&Role::Admin)
            && (self.scopes.contains(&scope) || self.scopes.contains(&AdminScope::Super))
    }

    /// The catalogue's view of the caller.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id,
            roles: self.roles.clone(),
            scopes: self.scopes.clone(),
            mfa_enrolled: self.mfa_enrolled,
        }
    }

    /// The validated session.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Where the request came from.
    pub fn meta(&self) -> &ClientMeta {
        &self.meta
    }
}

/// The caller's own account, as shown to them.
pub async fn own_account(deps: &Deps, caller: &Caller) -> Result<AccountView> {
    let account = flows::load_account(&deps.db, caller.id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    Ok(AccountView::from(&account))
}

/// The current session: the account, the session id and its CSRF token.
pub async fn current_session(deps: &Deps, caller: &Caller) -> Result<(AccountView, String)> {
    let account = own_account(deps, caller).await?;
    Ok((account, sessions::csrf_token(deps, caller.session_id)))
}
