//! Account administration (`UsersManage`: the `support` and `super` scopes): listing and showing
//! accounts, changing roles, scopes and the disabled flag, ending an account's sessions. Every
//! change needs a recent TOTP step-up and leaves an audit row, refused attempts included.
//!
//! Who may change what (see docs/SECURITY.md, "support admin → super admin"):
//! - no one edits their own roles or scopes;
//! - only `super` grants or removes the admin role or any scope, and only `super` changes an
//!   account that holds the admin role (disables it, ends its sessions);
//! - a caller never grants a scope it does not hold (`super` holds every scope);
//! - the last active `super` admin can be neither demoted nor disabled.

use std::collections::BTreeSet;

use myqcm_db::identity::accounts::{self as repo, Account, join_names};
use myqcm_domain::permissions::{Action, AdminScope, Role};
use sea_orm::ActiveValue::Set;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::accounts::{AdminAccountView, roles_and_scopes};
use super::caller::Caller;
use super::{Deps, IdentityError, Result, audit, sessions};

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChanges {
    /// The full new set of roles.
    pub roles: Option<Vec<String>>,
    /// The full new set of admin scopes.
    pub admin_scopes: Option<Vec<String>>,
    /// Disable (every session ends) or re-enable.
    pub disabled: Option<bool>,
}

/// Accounts, newest first (`limit` at most 200, default 50).
pub async fn list(
    deps: &Deps,
    caller: &Caller,
    limit: Option<u64>,
    offset: Option<u64>,
) -> Result<Vec<AdminAccountView>> {
    caller.require(Action::UsersManage)?;
    let rows = repo::list(&deps.db, limit.unwrap_or(50).min(200), offset.unwrap_or(0)).await?;
    Ok(rows.iter().map(AdminAccountView::from).collect())
}

/// One account.
pub async fn show(deps: &Deps, caller: &Caller, id: Uuid) -> Result<AdminAccountView> {
    caller.require(Action::UsersManage)?;
    let a = repo::get(&deps.db, id)
        .await?
        .ok_or(IdentityError::NotFound)?;
    Ok(AdminAccountView::from(&a))
}

/// Applies `changes` to account `id` (step-up required). Takes effect on the account's very
/// next request; disabling ends every session.
pub async fn update(
    deps: &Deps,
    caller: &Caller,
    id: Uuid,
    changes: AccountChanges,
) -> Result<AdminAccountView> {
    let done = update_checked(deps, caller, id, &changes).await;
    if let Err(e) = &done {
        refused(deps, caller, "admin.user_update", id, e).await;
    }
    done
}

/// Ends every session of account `id` (step-up required). Returns how many ended.
pub async fn revoke_sessions(deps: &Deps, caller: &Caller, id: Uuid) -> Result<usize> {
    let done = revoke_checked(deps, caller, id).await;
    match &done {
        Err(e) => refused(deps, caller, "admin.sessions_revoke", id, e).await,
        Ok(n) => {
            let ev = event(caller, "admin.sessions_revoke", id)
                .detail(serde_json::json!({ "outcome": "done", "revoked": n }));
            audit::record_alone(deps, ev).await?;
        }
    }
    done
}

/// The account with address `email` and its live sign-in sessions, newest first
/// (`UsersManage`; `NotFound` when no account has that address). Never a token or its hash:
/// only when, from where and how.
pub async fn sessions_by_email(
    deps: &Deps,
    caller: &Caller,
    email: &str,
) -> Result<(AdminAccountView, Vec<super::flows::SessionView>)> {
    caller.require(Action::UsersManage)?;
    let a = repo::find_by_email(&deps.db, email)
        .await?
        .ok_or(IdentityError::NotFound)?;
    let live = sessions::list(deps, a.id)
        .await?
        .into_iter()
        .map(|r| super::flows::SessionView {
            current: r.id == caller.session_id,
            id: r.id,
            created_at: myqcm_db::identity::from_ms(r.created_at),
            last_seen_at: myqcm_db::identity::from_ms(r.last_seen_at),
            ip: r.ip,
            user_agent: r.user_agent,
            via: r.via,
        })
        .collect();
    Ok((AdminAccountView::from(&a), live))
}

/// Ends one sign-in session of account `id` (step-up required, the same rules as
/// [`revoke_sessions`]); audited as `admin.session_revoke` with the session as target,
/// refused attempts included.
pub async fn revoke_session(
    deps: &Deps,
    caller: &Caller,
    id: Uuid,
    session_id: Uuid,
) -> Result<()> {
    let done = async {
        caller.require_step_up(deps, Action::UsersManage)?;
        let target = repo::get(&deps.db, id)
            .await?
            .ok_or(IdentityError::NotFound)?;
        let (roles, _) = roles_and_scopes(&target);
        if roles.contains(&Role::Admin) && !caller.holds_scope(AdminScope::Super) {
            return Err(IdentityError::Forbidden);
        }
        sessions::revoke(deps, id, session_id, "revoked_by_admin").await
    }
    .await;
    let outcome = match &done {
        Ok(()) => serde_json::json!({ "outcome": "done", "account": id }),
        Err(e) => match refusal_reason(e) {
            Some(reason) => {
                serde_json::json!({ "outcome": "refused", "reason": reason, "account": id })
            }
            None => return done,
        },
    };
    let ev = audit::Event::new("admin.session_revoke")
        .actor(caller.id)
        .target(session_id.to_string())
        .meta(caller.meta())
        .detail(outcome);
    audit::record_alone(deps, ev).await?;
    done
}

fn refusal_reason(e: &IdentityError) -> Option<&'static str> {
    match e {
        IdentityError::Forbidden => Some("forbidden"),
        IdentityError::StepUpRequired => Some("step_up_required"),
        IdentityError::MfaEnrolmentRequired => Some("mfa_enrolment_required"),
        IdentityError::LastSuperAdmin => Some("last_super_admin"),
        _ => None,
    }
}

async fn revoke_checked(deps: &Deps, caller: &Caller, id: Uuid) -> Result<usize> {
    caller.require_step_up(deps, Action::UsersManage)?;
    let target = repo::get(&deps.db, id)
        .await?
        .ok_or(IdentityError::NotFound)?;
    let (roles, _) = roles_and_scopes(&target);
    if roles.contains(&Role::Admin) && !caller.holds_scope(AdminScope::Super) {
        return Err(IdentityError::Forbidden);
    }
    sessions::revoke_all(deps, id, None, "revoked_by_admin").await
}

fn event(caller: &Caller, action: &'static str, target: Uuid) -> audit::Event {
    audit::Event::new(action)
        .actor(caller.id)
        .target(target.to_string())
        .meta(caller.meta())
}

/// Records a refused attempt (permission, step-up or rule); other failures are not attempts.
async fn refused(
    deps: &Deps,
    caller: &Caller,
    action: &'static str,
    target: Uuid,
    e: &IdentityError,
) {
    let reason = match e {
        IdentityError::Forbidden => "forbidden",
        IdentityError::StepUpRequired => "step_up_required",
        IdentityError::MfaEnrolmentRequired => "mfa_enrolment_required",
        IdentityError::LastSuperAdmin => "last_super_admin",
        _ => return,
    };
    let ev = event(caller, action, target)
        .detail(serde_json::json!({ "outcome": "refused", "reason": reason }));
    if let Err(e) = audit::record_alone(deps, ev).await {
        tracing::error!(error = %e, "audit write failed");
    }
}

fn parse_all<T: std::str::FromStr>(names: &[String], field: &'static str) -> Result<Vec<T>> {
    names
        .iter()
        .map(|n| n.parse::<T>())
        .collect::<std::result::Result<Vec<T>, _>>()
        .map_err(|_| IdentityError::Invalid { field })
}

/// Roles and scopes of one side of a grant decision.
#[derive(Debug, Clone)]
pub(crate) struct Grants {
    pub id: Uuid,
    pub roles: Vec<Role>,
    pub scopes: Vec<AdminScope>,
}

impl Grants {
    fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    fn is_super(&self) -> bool {
        self.is_admin() && self.scopes.contains(&AdminScope::Super)
    }

    /// Scopes this side may hand out: `super` holds every scope.
    fn grantable(&self, scope: AdminScope) -> bool {
        self.is_admin()
            && (self.scopes.contains(&scope) || self.scopes.contains(&AdminScope::Super))
    }
}

/// The grant rules (module documentation), apart from the last-super check which needs the
/// database. `roles` and `scopes` are the requested new sets, if given.
pub(crate) fn check_grant(
    caller: &Grants,
    target: &Grants,
    roles: Option<&[Role]>,
    scopes: Option<&[AdminScope]>,
) -> Result<()> {
    let forbidden = Err(IdentityError::Forbidden);
    if caller.id == target.id && (roles.is_some() || scopes.is_some()) {
        return forbidden;
    }
    let admin_role_changes = roles.is_some_and(|r| r.contains(&Role::Admin) != target.is_admin());
    let before: BTreeSet<AdminScope> = target.scopes.iter().copied().collect();
    let after: Option<BTreeSet<AdminScope>> = scopes.map(|s| s.iter().copied().collect());
    let scopes_change = after.as_ref().is_some_and(|a| *a != before);
    if !caller.is_super() && (admin_role_changes || scopes_change || target.is_admin()) {
        return forbidden;
    }
    if let Some(after) = &after
        && after.difference(&before).any(|s| !caller.grantable(*s))
    {
        return forbidden;
    }
    Ok(())
}

async fn update_checked(
    deps: &Deps,
    caller: &Caller,
    id: Uuid,
    changes: &AccountChanges,
) -> Result<AdminAccountView> {
    caller.require_step_up(deps, Action::UsersManage)?;
    let roles: Option<Vec<Role>> = changes
        .roles
        .as_deref()
        .map(|r| parse_all(r, "roles"))
        .transpose()?;
    let scopes: Option<Vec<AdminScope>> = changes
        .admin_scopes
        .as_deref()
        .map(|s| parse_all(s, "admin_scopes"))
        .transpose()?;
    let txn = myqcm_db::catalogue::begin_write(&deps.db).await?;
    let target = repo::get(&txn, id).await?.ok_or(IdentityError::NotFound)?;
    let (target_roles, target_scopes) = roles_and_scopes(&target);
    let before = Grants {
        id: target.id,
        roles: target_roles,
        scopes: target_scopes,
    };
    let by = Grants {
        id: caller.id,
        roles: caller.roles.clone(),
        scopes: caller.scopes.clone(),
    };
    check_grant(&by, &before, roles.as_deref(), scopes.as_deref())?;
    let after = Grants {
        id: target.id,
        roles: roles.clone().unwrap_or_else(|| before.roles.clone()),
        scopes: scopes.clone().unwrap_or_else(|| before.scopes.clone()),
    };
    let active_before = target.disabled_at.is_none() && target.deleted_at.is_none();
    let active_after = active_before && changes.disabled != Some(true);
    if before.is_super() && active_before && !(after.is_super() && active_after) {
        let others = repo::active_super_admin_candidates(&txn)
            .await?
            .iter()
            .filter(|a| a.id != target.id)
            .filter(|a| {
                let (r, s) = roles_and_scopes(a);
                r.contains(&Role::Admin) && s.contains(&AdminScope::Super)
            })
            .count();
        if others == 0 {
            return Err(IdentityError::LastSuperAdmin);
        }
    }
    let now = deps.clock.now();
    let mut model = repo::entity::ActiveModel {
        id: Set(target.id),
        updated_at: Set(now),
        ..Default::default()
    };
    if let Some(r) = &roles {
        model.roles = Set(join_names(r));
    }
    if let Some(s) = &scopes {
        model.admin_scopes = Set(join_names(s));
    }
    if let Some(d) = changes.disabled {
        model.disabled_at = Set(d.then(|| now.timestamp_millis()));
    }
    let updated: Account = repo::update(&txn, model).await?;
    let ev = event(caller, "admin.user_update", target.id).detail(serde_json::json!({
        "outcome": "done",
        "roles_before": target.roles,
        "roles_after": updated.roles,
        "scopes_before": target.admin_scopes,
        "scopes_after": updated.admin_scopes,
        "disabled": updated.disabled_at.is_some(),
    }));
    audit::record(&txn, deps.clock.as_ref(), ev).await?;
    txn.commit().await?;
    if changes.disabled == Some(true) {
        sessions::revoke_all(deps, target.id, None, "account_disabled").await?;
    }
    Ok(AdminAccountView::from(&updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(n: u128, roles: &[Role], scopes: &[AdminScope]) -> Grants {
        Grants {
            id: Uuid::from_u128(n),
            roles: roles.to_vec(),
            scopes: scopes.to_vec(),
        }
    }

    fn forbidden(r: Result<()>) -> bool {
        matches!(r, Err(IdentityError::Forbidden))
    }

    #[test]
    fn support_cannot_touch_admin_grants_but_manages_learners() {
        let support = g(1, &[Role::Admin], &[AdminScope::Support]);
        let learner = g(2, &[Role::Student], &[]);
        let root = g(3, &[Role::Admin], &[AdminScope::Super]);
        use AdminScope::*;
        use Role::*;
        // Own grants, whatever they would be.
        assert!(forbidden(check_grant(
            &support,
            &support,
            None,
            Some(&[Support, Super])
        )));
        assert!(forbidden(check_grant(
            &support,
            &support,
            Some(&[Admin]),
            None
        )));
        // The admin role or any scope for someone else.
        assert!(forbidden(check_grant(
            &support,
            &learner,
            Some(&[Student, Admin]),
            None
        )));
        assert!(forbidden(check_grant(
            &support,
            &learner,
            None,
            Some(&[Support])
        )));
        // Any change to an admin account.
        assert!(forbidden(check_grant(
            &support,
            &root,
            Some(&[Student]),
            None
        )));
        assert!(forbidden(check_grant(&support, &root, None, None)));
        // Non-admin roles of a learner, and an unchanged scope set, are fine.
        assert!(check_grant(&support, &learner, Some(&[Student, Author, Reviewer]), None).is_ok());
        assert!(check_grant(&support, &learner, None, Some(&[])).is_ok());
    }

    #[test]
    fn super_grants_anything_to_others_but_nothing_to_itself() {
        use AdminScope::*;
        use Role::*;
        let root = g(1, &[Admin], &[Super]);
        let learner = g(2, &[Student], &[]);
        assert!(check_grant(&root, &learner, Some(&[Admin]), Some(&[Finance, Super])).is_ok());
        assert!(forbidden(check_grant(
            &root,
            &root,
            None,
            Some(&[Super, Finance])
        )));
        // A scope without the admin role counts for nothing: such a caller is not super.
        let fake = g(3, &[Student], &[Super]);
        assert!(forbidden(check_grant(
            &fake,
            &learner,
            Some(&[Admin]),
            None
        )));
    }
}
