//! Privacy rights and retention: data export, account deletion (re-authentication, grace
//! period, then anonymisation that keeps the account row — and so anonymous learning
//! statistics — but erases personal data), and purging of old sessions, IPs and audit rows.

use chrono::{DateTime, Duration, Utc};
use myqcm_db::identity::accounts::{self as accounts_repo};
use myqcm_db::identity::{audit as audit_repo, from_ms, ms, sessions as sessions_repo};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::mail::{self, Message};
use super::sessions::{self, Principal};
use super::{ClientMeta, Deps, IdentityError, Result, audit, flows};

/// Everything personal the platform holds about the user, as JSON.
pub async fn export(deps: &Deps, user_id: Uuid) -> Result<serde_json::Value> {
    let a = accounts_repo::get(&deps.db, user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    let (roles, scopes) = flows::roles_and_scopes(&a);
    let sessions = sessions_repo::entity::Entity::find()
        .filter(sessions_repo::entity::Column::UserId.eq(user_id))
        .all(&deps.db)
        .await?;
    let events = audit_repo::recent(&deps.db, None, Some(user_id), 10_000).await?;
    let learning = crate::training::privacy::export(&deps.db, user_id).await?;
    Ok(serde_json::json!({
        "format": "myqcm-export/1",
        "generated_at": deps.clock.now(),
        "account": {
            "id": a.id,
            "email": a.email,
            "display_name": a.display_name,
            "locale": a.locale,
            "roles": roles.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "admin_scopes": scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "email_verified_at": a.email_verified_at,
            "created_at": a.created_at,
            "two_step_verification": a.totp_enabled_at.is_some(),
            "deletion_requested_at": a.deletion_requested_at.map(from_ms),
        },
        "sign_in_sessions": sessions.iter().map(|s| serde_json::json!({
            "id": s.id,
            "created_at": from_ms(s.created_at),
            "last_seen_at": from_ms(s.last_seen_at),
            "ip": s.ip,
            "user_agent": s.user_agent,
            "revoked_at": s.revoked_at.map(from_ms),
        })).collect::<Vec<_>>(),
        "learning": learning,
        "security_events": events.iter().map(|e| serde_json::json!({
            "at": from_ms(e.at),
            "action": e.action,
            "ip": e.ip,
        })).collect::<Vec<_>>(),
    }))
}

/// Schedules the deletion of the caller's account after re-authentication (password, plus a
/// second factor when enrolled). Every session ends; signing in again during the grace period
/// cancels the deletion. Returns when the erasure will happen.
pub async fn request_deletion(
    deps: &Deps,
    p: &Principal,
    password: String,
    second_factor: Option<&str>,
    meta: &ClientMeta,
) -> Result<DateTime<Utc>> {
    flows::step_up(deps, p, password, second_factor, meta).await?;
    let now = deps.clock.now();
    let days = deps.config.deletion_grace_days;
    let txn = deps.db.begin().await?;
    let a = accounts_repo::get(&txn, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    accounts_repo::update(
        &txn,
        accounts_repo::entity::ActiveModel {
            id: Set(a.id),
            deletion_requested_at: Set(Some(ms(now))),
            ..Default::default()
        },
    )
    .await?;
    mail::enqueue(
        &txn,
        now,
        &a.email,
        &a.locale,
        &Message::DeletionScheduled { days },
    )
    .await?;
    audit::record(
        &txn,
        deps.clock.as_ref(),
        audit::Event::new("account.deletion_requested")
            .actor(a.id)
            .meta(meta),
    )
    .await?;
    txn.commit().await?;
    sessions::revoke_all(deps, a.id, None, "account_deletion").await?;
    Ok(now + Duration::days(i64::from(days)))
}

/// Anonymises every account whose grace period is over. Returns how many.
pub async fn erase_due(deps: &Deps) -> Result<usize> {
    let now = deps.clock.now();
    let cutoff = ms(now) - i64::from(deps.config.deletion_grace_days) * 86_400_000;
    let due = accounts_repo::due_for_deletion(&deps.db, cutoff).await?;
    for a in &due {
        let txn = deps.db.begin().await?;
        mail::enqueue(&txn, now, &a.email, &a.locale, &Message::AccountDeleted).await?;
        accounts_repo::update(
            &txn,
            accounts_repo::entity::ActiveModel {
                id: Set(a.id),
                email: Set(format!("deleted-{}@deleted.invalid", a.id.simple())),
                display_name: Set("Deleted user".into()),
                password_hash: Set(None),
                totp_secret: Set(None),
                totp_enabled_at: Set(None),
                roles: Set(String::new()),
                admin_scopes: Set(String::new()),
                deleted_at: Set(Some(ms(now))),
                updated_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        sessions_repo::entity::Entity::delete_many()
            .filter(sessions_repo::entity::Column::UserId.eq(a.id))
            .exec(&txn)
            .await?;
        sessions_repo::purge_rotated(&txn, ms(now), Some(a.id)).await?;
        myqcm_db::identity::tokens::entity::Entity::delete_many()
            .filter(myqcm_db::identity::tokens::entity::Column::UserId.eq(a.id))
            .exec(&txn)
            .await?;
        myqcm_db::identity::mfa::entity::Entity::delete_many()
            .filter(myqcm_db::identity::mfa::entity::Column::UserId.eq(a.id))
            .exec(&txn)
            .await?;
        crate::training::privacy::erase(&txn, a.id).await?;
        // Audit rows stay (security record) but lose the addresses tied to this person.
        audit_repo::entity::Entity::update_many()
            .col_expr(
                audit_repo::entity::Column::Ip,
                Expr::value(Option::<String>::None),
            )
            .filter(audit_repo::entity::Column::ActorId.eq(a.id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            deps.clock.as_ref(),
            audit::Event::new("account.erased").target(a.id.to_string()),
        )
        .await?;
        txn.commit().await?;
    }
    Ok(due.len())
}

/// Applies the retention periods: ended sign-in sessions (with their IPs) and old audit rows.
pub async fn apply_retention(deps: &Deps) -> Result<(u64, u64)> {
    let now = ms(deps.clock.now());
    let sessions_cutoff = now - i64::from(deps.config.session_retention_days) * 86_400_000;
    let audit_cutoff = now - i64::from(deps.config.audit_retention_days) * 86_400_000;
    let s = sessions_repo::purge_ended_before(&deps.db, sessions_cutoff).await?;
    sessions_repo::purge_rotated(&deps.db, now, None).await?;
    let a = audit_repo::purge_before(&deps.db, audit_cutoff).await?;
    Ok((s, a))
}
