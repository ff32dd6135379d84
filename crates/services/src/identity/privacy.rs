//! Privacy rights and retention: data export, account deletion (re-authentication, grace
//! period, then anonymisation that keeps the account row — and so anonymous learning
//! statistics — but erases personal data), and purging of old sessions, IPs and audit rows.

use chrono::{DateTime, Duration, Utc};
use myqcm_db::identity::accounts::{self as accounts_repo};
use myqcm_db::identity::{audit as audit_repo, from_ms, ms, sessions as sessions_repo};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
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
    // Events by the user, and about the user or one of its sign-in sessions (an admin's
    // change, a failed sign-in on the account); another actor's address is not the user's to
    // see, so only the user's own events carry one.
    let events =
        audit_repo::by_or_about(&deps.db, user_id, about(user_id, &sessions), 10_000).await?;
    let learning = crate::training::privacy::export(&deps.db, user_id).await?;
    let commerce = crate::commerce::privacy::export(&deps.db, user_id).await?;
    let ai = crate::ai::privacy::export(&deps.db, user_id).await?;
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
        "commerce": commerce,
        "ai": ai,
        "security_events": events.iter().map(|e| {
            let (by, ip) = match e.actor_id {
                Some(a) if a == user_id => ("you", e.ip.clone()),
                Some(_) => ("staff", None),
                None => ("unknown", None),
            };
            serde_json::json!({ "at": from_ms(e.at), "action": e.action, "by": by, "ip": ip })
        }).collect::<Vec<_>>(),
    }))
}

/// Schedules the deletion of the caller's account after re-authentication (password, plus a
/// second factor when enrolled; a fresh Google sign-in for Google-only accounts). Every session ends; signing in again during the grace period
/// cancels the deletion. Returns when the erasure will happen.
pub async fn request_deletion(
    deps: &Deps,
    p: &Principal,
    password: Option<String>,
    second_factor: Option<&str>,
    meta: &ClientMeta,
) -> Result<DateTime<Utc>> {
    confirm_deletion(deps, p, password, second_factor, meta).await?;
    let now = deps.clock.now();
    let days = deps.config.deletion_grace_days;
    let txn = myqcm_db::begin_write(&deps.db).await?;
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
    let to = mail::Recipient::of(&a);
    mail::enqueue(
        &txn,
        &deps.config.mail_key,
        now,
        to,
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

/// The proof a deletion needs: the password (and second factor) by step-up; an account without
/// a password (Google only) instead needs a sign-in from the last 10 minutes (a fresh Google
/// sign-in), else `StepUpRequired`.
async fn confirm_deletion(
    deps: &Deps,
    p: &Principal,
    password: Option<String>,
    second_factor: Option<&str>,
    meta: &ClientMeta,
) -> Result<()> {
    let a = accounts_repo::get(&deps.db, p.user_id)
        .await?
        .ok_or(IdentityError::Unauthenticated)?;
    if a.password_hash.is_some() || a.totp_enabled_at.is_some() {
        let password = password.ok_or(IdentityError::StepUpRequired)?;
        return flows::step_up(deps, p, password, second_factor, meta).await;
    }
    if !sessions::recently_authenticated(deps, p) {
        return Err(IdentityError::StepUpRequired);
    }
    Ok(())
}

/// Anonymises every account whose grace period is over. Returns how many.
pub async fn erase_due(deps: &Deps) -> Result<usize> {
    let now = deps.clock.now();
    let cutoff = ms(now) - i64::from(deps.config.deletion_grace_days) * 86_400_000;
    let due = accounts_repo::due_for_deletion(&deps.db, cutoff).await?;
    for a in &due {
        let txn = myqcm_db::begin_write(&deps.db).await?;
        // Past mail jobs about the account go (a dead one still holds its sealed address);
        // queued ones are still owed and keep no address once delivered, like the farewell.
        myqcm_db::jobs::delete_finished_by_key_prefix(
            &txn,
            mail::JOB_KIND,
            &mail::key_prefix(a.id),
        )
        .await?;
        let to = mail::Recipient::of(a);
        mail::enqueue(
            &txn,
            &deps.config.mail_key,
            now,
            to,
            &Message::AccountDeleted,
        )
        .await?;
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
        let sessions = sessions_repo::entity::Entity::find()
            .filter(sessions_repo::entity::Column::UserId.eq(a.id))
            .all(&txn)
            .await?;
        let ips = used_ips(&txn, a.id, &sessions).await?;
        sessions_repo::entity::Entity::delete_many()
            .filter(sessions_repo::entity::Column::UserId.eq(a.id))
            .exec(&txn)
            .await?;
        sessions_repo::purge_rotated(&txn, ms(now), Some(a.id)).await?;
        // The Google link holds the provider's subject and the address: both go.
        myqcm_db::identity::external::unlink_all(&txn, a.id).await?;
        myqcm_db::identity::tokens::entity::Entity::delete_many()
            .filter(myqcm_db::identity::tokens::entity::Column::UserId.eq(a.id))
            .exec(&txn)
            .await?;
        myqcm_db::identity::mfa::entity::Entity::delete_many()
            .filter(myqcm_db::identity::mfa::entity::Column::UserId.eq(a.id))
            .exec(&txn)
            .await?;
        crate::training::privacy::erase(&txn, a.id).await?;
        crate::commerce::privacy::erase(&txn, a.id, ms(now)).await?;
        crate::ai::privacy::erase(&txn, a.id, now).await?;
        // Audit rows stay (security record) but lose every address tied to this person:
        // on the rows by or about them, and wherever else one of their addresses appears.
        audit_repo::forget_ips(&txn, a.id, about(a.id, &sessions), ips).await?;
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

/// The audit targets that mean this user: its id and its sign-in sessions' ids.
fn about(user_id: Uuid, sessions: &[sessions_repo::entity::Model]) -> Vec<String> {
    std::iter::once(user_id.to_string())
        .chain(sessions.iter().map(|s| s.id.to_string()))
        .collect()
}

/// The client addresses a user used: those of its sign-in sessions and of its own audit events.
async fn used_ips<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    sessions: &[sessions_repo::entity::Model],
) -> Result<Vec<String>> {
    let mut ips: Vec<String> = sessions.iter().filter_map(|s| s.ip.clone()).collect();
    ips.extend(
        audit_repo::by_or_about(conn, user_id, Vec::new(), 100_000)
            .await?
            .into_iter()
            .filter(|e| e.actor_id == Some(user_id))
            .filter_map(|e| e.ip),
    );
    ips.sort_unstable();
    ips.dedup();
    Ok(ips)
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
