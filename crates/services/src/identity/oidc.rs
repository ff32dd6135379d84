//! Google sign-in. [`begin`] asks the provider port for an authorization request and keeps its
//! state, nonce and PKCE verifier server-side (cache, [`TX_TTL`]) under a random transaction id
//! that the browser carries in a cookie; [`complete`] consumes that transaction (single use),
//! checks `state`, lets the provider exchange the code and validate the ID token, resolves the
//! account and opens a session. Every failure is the one `OidcFailed`; the reason is logged.
//!
//! Account resolution follows the linking rules of spec/security.md §2.4: identities are keyed
//! by `(iss, sub)`; an existing local account is linked by email only when Google says the
//! email is verified and the account has no other identity from that issuer; an unverified local
//! account is taken over only after its password and sessions are removed (pre-account
//! hijacking); staff and TOTP accounts must use their password and second factor.

use std::time::Duration;

use myqcm_db::identity::accounts::{self as accounts_repo, Account};
use myqcm_db::identity::{external, ms};
use myqcm_domain::permissions::Role;
use sea_orm::ActiveValue::Set;

use myqcm_domain::ports::ProvenIdentity;
use serde::{Deserialize, Serialize};

use super::accounts::{self, NewAccount, Origin};
use super::crypto;
use super::sessions::{self, IssuedTokens, Via};
use super::{ClientMeta, Deps, IdentityError, Result, audit, commit_with, flows};
use crate::Services;

/// What the provider proved.
pub type ExternalIdentity = ProvenIdentity;

/// How long a sign-in transaction waits for the provider's callback.
pub const TX_TTL: Duration = Duration::from_secs(600);

fn tx_key(id: &str) -> String {
    format!("oidc:tx:{}", crypto::sha256_hex(id.as_bytes()))
}

/// What is kept server-side between the redirect and the callback.
#[derive(Serialize, Deserialize)]
struct LoginTx {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

/// A started sign-in.
#[derive(Debug, Clone)]
pub struct Begun {
    /// The transaction id (for the browser's cookie).
    pub transaction: String,
    /// Where to send the browser.
    pub authorize_url: String,
}

/// Starts a Google sign-in; `next` is where to return (same-origin paths only).
/// `NotFound` when Google sign-in is not configured.
pub async fn begin(services: &Services, next: Option<&str>, meta: &ClientMeta) -> Result<Begun> {
    let google = services.google.as_ref().ok_or(IdentityError::NotFound)?;
    // Each start stores a transaction and may fetch the provider's keys: limited per client.
    super::ratelimit::hit_ip(
        &services.deps(),
        super::ratelimit::GOOGLE_START_IP,
        meta.ip.as_deref(),
    )
    .await?;
    let request = google.authorization_request().await.map_err(|e| {
        tracing::warn!(error = %e, "google sign-in could not start");
        IdentityError::OidcFailed
    })?;
    let transaction = crypto::new_token();
    let tx = LoginTx {
        state: request.state,
        nonce: request.nonce,
        verifier: request.pkce_verifier,
        next: myqcm_domain::identity::safe_redirect(next),
    };
    let bytes = serde_json::to_vec(&tx).map_err(|e| IdentityError::Other(e.into()))?;
    services
        .cache
        .set(&tx_key(&transaction), &bytes, TX_TTL)
        .await?;
    Ok(Begun {
        transaction,
        authorize_url: request.authorize_url,
    })
}

/// The provider's answer at the callback.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    /// Authorization code.
    pub code: Option<String>,
    /// `state` as returned.
    pub state: Option<String>,
    /// An error reported by the provider.
    pub error: Option<String>,
}

/// A finished sign-in.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The new session's tokens (for the cookies).
    pub tokens: IssuedTokens,
    /// Where to send the browser (a same-origin path).
    pub redirect_to: String,
}

/// Completes a Google sign-in for the browser holding `transaction`.
pub async fn complete(
    services: &Services,
    transaction: Option<&str>,
    callback: Callback,
    meta: &ClientMeta,
) -> Result<Completed> {
    let google = services.google.as_ref().ok_or(IdentityError::NotFound)?;
    // The transaction is single use: loaded and deleted before anything else.
    let key = tx_key(transaction.ok_or(IdentityError::OidcFailed)?);
    let raw = services.cache.get(&key).await?;
    services.cache.delete(&key).await?;
    let tx: LoginTx = raw
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(IdentityError::OidcFailed)?;
    if let Some(e) = callback.error {
        tracing::info!(provider_error = %e.chars().take(64).collect::<String>(), "google sign-in refused by the provider");
        return Err(IdentityError::OidcFailed);
    }
    let returned = callback.state.unwrap_or_default();
    if !crypto::ct_eq(returned.as_bytes(), tx.state.as_bytes()) {
        return Err(IdentityError::OidcFailed);
    }
    let code = callback.code.ok_or(IdentityError::OidcFailed)?;
    let proven = google
        .proven_identity(&code, &tx.verifier, &tx.nonce, services.clock.now())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "google sign-in failed");
            IdentityError::OidcFailed
        })?;
    let deps = services.deps();
    let account = resolve(&deps, &proven, meta).await.map_err(|e| match e {
        IdentityError::Forbidden => {
            tracing::warn!("google sign-in refused by policy");
            IdentityError::OidcFailed
        }
        other => other,
    })?;
    let tokens = sessions::issue(&deps, account.id, Via::Cookie, meta, false).await?;
    Ok(Completed {
        tokens,
        redirect_to: tx.next,
    })
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
    // An address the provider has not verified proves nothing: such a sign-in neither creates,
    // links nor enters an account.
    if !id.email_verified {
        audit::record_alone(
            deps,
            audit::Event::new("google.unverified_email").meta(meta),
        )
        .await?;
        return Err(IdentityError::Forbidden);
    }
    if let Some(link) = external::find(&deps.db, &id.issuer, &id.subject).await? {
        let a = accounts_repo::get(&deps.db, link.user_id)
            .await?
            .filter(google_allowed)
            .ok_or(IdentityError::Forbidden)?;
        return signed_in_with_google(deps, a, meta).await;
    }
    let Some(email) = id.email.clone().and_then(|e| accounts::normalize_email(&e)) else {
        return Err(IdentityError::Forbidden);
    };
    let txn = myqcm_db::begin_write(&deps.db).await?;
    let existing = accounts_repo::find_by_email(&txn, &email).await?;
    let account = match existing {
        Some(local) => {
            // Never a second identity of the same issuer, never staff, never a TOTP account —
            // except on an account whose address was never proven: what its creator set up
            // (second factor, links) goes when the owner proves the mailbox here.
            let unverified_local = local.email_verified_at.is_none();
            let refused = if unverified_local {
                flows::is_staff(&local) || !flows::usable(&local)
            } else {
                !google_allowed(&local) || external::has_issuer(&txn, local.id, &id.issuer).await?
            };
            if refused {
                let event = audit::Event::new("google.link_refused")
                    .target(local.id.to_string())
                    .meta(meta);
                commit_with(txn, deps, None, event).await?;
                return Err(IdentityError::Forbidden);
            }
            let proof = flows::mailbox_proven(&txn, &local, ms(now)).await?;
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
            let notice = flows::new_sign_in_notice(&local, now, meta);
            let event = audit::Event::new("google.linked")
                .actor(local.id)
                .meta(meta)
                .detail(serde_json::json!({ "took_over_unverified": unverified_local }));
            commit_with(txn, deps, Some(notice), event).await?;
            flows::end_sessions_after_proof(deps, local.id, proof, None).await?;
            return accounts_repo::get(&deps.db, local.id)
                .await?
                .ok_or(IdentityError::Forbidden);
        }
        None => {
            let new = NewAccount {
                email: email.clone(),
                display_name: email.split('@').next().unwrap_or("").to_owned(),
                roles: vec![Role::Student],
                admin_scopes: vec![],
                locale: None,
                verified: true,
                password: None,
            };
            let user =
                accounts::insert_account(&txn, deps.clock.as_ref(), new, Origin::Google, meta)
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
            user.id
        }
    };
    txn.commit().await?;
    accounts_repo::get(&deps.db, account)
        .await?
        .ok_or(IdentityError::Forbidden)
}

/// A Google sign-in into an existing account is a sign-in like any other: it cancels a pending
/// deletion (as a password sign-in does).
async fn signed_in_with_google(deps: &Deps, a: Account, meta: &ClientMeta) -> Result<Account> {
    if a.deletion_requested_at.is_none() {
        return Ok(a);
    }
    let txn = myqcm_db::begin_write(&deps.db).await?;
    let a = accounts_repo::update(
        &txn,
        accounts_repo::entity::ActiveModel {
            id: Set(a.id),
            deletion_requested_at: Set(None),
            ..Default::default()
        },
    )
    .await?;
    let event = audit::Event::new("account.deletion_cancelled")
        .actor(a.id)
        .meta(meta)
        .detail(serde_json::json!({ "via": "google" }));
    commit_with(txn, deps, None, event).await?;
    Ok(a)
}
