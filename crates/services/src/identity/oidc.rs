//! Account resolution after a validated Google ID token, with the linking rules of
//! spec/security.md §2.4: identities are keyed by `(iss, sub)`; an existing local account is
//! linked by email only when Google says the email is verified and the account has no other
//! identity from that issuer; an unverified local account is taken over only after its password
//! and sessions are removed (pre-account hijacking); staff and TOTP accounts must use their
//! password and second factor.

use myqcm_db::identity::accounts::{self as accounts_repo, Account};
use myqcm_db::identity::{external, ms};
use myqcm_db::users::{self, NewUser};
use sea_orm::{ActiveValue::Set, TransactionTrait};

use super::mail::{self, Message};
use super::sessions;
use super::{ClientMeta, Deps, IdentityError, Result, audit, flows};

/// What the provider proved.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email` (lower-cased).
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
}

fn google_allowed(a: &Account) -> bool {
    !flows::is_staff(a)
        && a.totp_enabled_at.is_none()
        && a.disabled_at.is_none()
        && a.deleted_at.is_none()
}

/// Finds, links or creates the account for `id`. `Forbidden` when policy refuses.
pub async fn resolve(deps: &Deps, id: &ExternalIdentity, meta: &ClientMeta) -> Result<Account> {
    let now = deps.clock.now();
    if let Some(link) = external::find(&deps.db, &id.issuer, &id.subject).await? {
        let a = accounts_repo::get(&deps.db, link.user_id)
            .await?
            .filter(google_allowed)
            .ok_or(IdentityError::Forbidden)?;
        return Ok(a);
    }
    let Some(email) = id.email.clone().and_then(|e| flows::normalize_email(&e)) else {
        return Err(IdentityError::Forbidden);
    };
    let txn = deps.db.begin().await?;
    let existing = accounts_repo::find_by_email(&txn, &email).await?;
    let account = match existing {
        Some(local) => {
            // Never link by an email the provider has not verified, never a second identity of
            // the same issuer, never staff.
            if !id.email_verified
                || !google_allowed(&local)
                || external::has_issuer(&txn, local.id, &id.issuer).await?
            {
                audit::record(
                    &txn,
                    deps.clock.as_ref(),
                    audit::Event::new("google.link_refused")
                        .target(local.id.to_string())
                        .meta(meta),
                )
                .await?;
                txn.commit().await?;
                return Err(IdentityError::Forbidden);
            }
            let unverified_local = local.email_verified_at.is_none();
            if unverified_local {
                // Whoever set this password never proved the address: drop it (policy 2.4 (b)).
                accounts_repo::update(
                    &txn,
                    accounts_repo::entity::ActiveModel {
                        id: Set(local.id),
                        password_hash: Set(None),
                        email_verified_at: Set(Some(now)),
                        updated_at: Set(now),
                        ..Default::default()
                    },
                )
                .await?;
            }
            external::link(
                &txn,
                local.id,
                &id.issuer,
                &id.subject,
                Some(&email),
                ms(now),
            )
            .await?;
            mail::enqueue(
                &txn,
                now,
                &local.email,
                &local.locale,
                &Message::NewSignIn {
                    at: now,
                    ip: meta.ip.clone().unwrap_or_else(|| "?".into()),
                },
            )
            .await?;
            audit::record(
                &txn,
                deps.clock.as_ref(),
                audit::Event::new("google.linked")
                    .actor(local.id)
                    .meta(meta)
                    .detail(serde_json::json!({ "took_over_unverified": unverified_local })),
            )
            .await?;
            txn.commit().await?;
            if unverified_local {
                sessions::revoke_all(deps, local.id, None, "google_takeover").await?;
            }
            return accounts_repo::get(&deps.db, local.id)
                .await?
                .ok_or(IdentityError::Forbidden);
        }
        None => {
            let user = users::create(
                &txn,
                NewUser {
                    email: email.clone(),
                    display_name: email.split('@').next().unwrap_or("").to_owned(),
                    password_hash: None,
                    roles: vec!["student".into()],
                    admin_scopes: vec![],
                    locale: "fr".into(),
                    verified: id.email_verified,
                },
                now,
            )
            .await?;
            external::link(
                &txn,
                user.id,
                &id.issuer,
                &id.subject,
                Some(&email),
                ms(now),
            )
            .await?;
            audit::record(
                &txn,
                deps.clock.as_ref(),
                audit::Event::new("google.account_created")
                    .actor(user.id)
                    .meta(meta),
            )
            .await?;
            user.id
        }
    };
    txn.commit().await?;
    accounts_repo::get(&deps.db, account)
        .await?
        .ok_or(IdentityError::Forbidden)
}
