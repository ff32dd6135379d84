//! Security and staff events into the append-only audit log. Callers pass only identifiers and
//! outcomes; this module has no parameter through which a password, token or code could travel.

use chrono::{DateTime, Utc};
use myqcm_db::identity::accounts as accounts_repo;
use myqcm_db::identity::audit::{self as repo, AuditRow};
use myqcm_db::identity::{from_ms, ms};
use myqcm_domain::Clock;
use myqcm_domain::permissions::Action;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::caller::Caller;
use super::{ClientMeta, Deps, Result};

/// One event being built.
#[derive(Debug, Clone)]
pub struct Event {
    action: &'static str,
    actor: Option<Uuid>,
    target: Option<String>,
    request_id: Option<String>,
    ip: Option<String>,
    detail: Option<serde_json::Value>,
}

impl Event {
    /// An event named `action` (e.g. `sign_in.succeeded`).
    pub fn new(action: &'static str) -> Self {
        Self {
            action,
            actor: None,
            target: None,
            request_id: None,
            ip: None,
            detail: None,
        }
    }
    /// Who acted.
    pub fn actor(mut self, id: Uuid) -> Self {
        self.actor = Some(id);
        self
    }
    /// On what.
    pub fn target(mut self, t: impl Into<String>) -> Self {
        self.target = Some(t.into());
        self
    }
    /// Request id and IP.
    pub fn meta(mut self, m: &ClientMeta) -> Self {
        self.request_id.clone_from(&m.request_id);
        self.ip.clone_from(&m.ip);
        self
    }
    /// Non-secret detail.
    pub fn detail(mut self, d: serde_json::Value) -> Self {
        self.detail = Some(d);
        self
    }
}

/// Appends `event` (inside the caller's transaction when `conn` is one).
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    event: Event,
) -> Result<(), myqcm_db::DbError> {
    record_at(conn, clock.now(), event).await
}

/// Appends `event` dated `at` (use cases that already read the clock once, e.g. the catalogue's
/// lifecycle moves, so the audit row and the business rows carry the same time).
pub async fn record_at<C: ConnectionTrait>(
    conn: &C,
    at: DateTime<Utc>,
    event: Event,
) -> Result<(), myqcm_db::DbError> {
    tracing::info!(
        target: "audit",
        action = event.action,
        actor = ?event.actor,
        target_id = ?event.target,
        ip = ?event.ip,
        "audit event"
    );
    repo::append(
        conn,
        AuditRow {
            id: Uuid::now_v7(),
            at: ms(at),
            actor_id: event.actor,
            action: event.action.to_owned(),
            target: event.target,
            request_id: event.request_id,
            ip: event.ip,
            detail: event.detail.map(|d| d.to_string()),
        },
    )
    .await
}

/// Appends `event` on its own (outside any transaction).
pub async fn record_alone(deps: &Deps, event: Event) -> Result<(), myqcm_db::DbError> {
    record(&deps.db, deps.clock.as_ref(), event).await
}

/// One audit entry as staff read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Id.
    pub id: Uuid,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor_id: Option<Uuid>,
    /// What happened.
    pub action: String,
    /// On what.
    pub target: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Extra detail (JSON text).
    pub detail: Option<String>,
    /// The actor's current email (filled by [`search`] only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_email: Option<String>,
}

/// Filters of the audit listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<Uuid>,
    /// Only this target (an account id, a job id, an item id…).
    pub target: Option<String>,
    /// At or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub to: Option<DateTime<Utc>>,
    /// At most 500 (default 100).
    pub limit: Option<u64>,
    /// Entries to skip (paging, newest first).
    pub offset: Option<u64>,
}

/// The newest audit entries (`AuditRead`: support, operations and super admins). The log is
/// append-only: there is no use case that changes or deletes an entry.
pub async fn list(deps: &Deps, caller: &Caller, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    caller.require(Action::AuditRead)?;
    let filter = repo::AuditFilter {
        action: q.action.clone().filter(|a| !a.is_empty()),
        actor: q.actor,
        target: q.target.clone().filter(|t| !t.is_empty()),
        from: q.from.map(|t| t.timestamp_millis()),
        to: q.to.map(|t| t.timestamp_millis()),
    };
    let rows = repo::search(
        &deps.db,
        &filter,
        q.limit.unwrap_or(100).min(500),
        q.offset.unwrap_or(0),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: from_ms(r.at),
            actor_id: r.actor_id,
            action: r.action,
            target: r.target,
            request_id: r.request_id,
            ip: r.ip,
            detail: r.detail,
            actor_email: None,
        })
        .collect())
}

/// The audit page's filters as typed: the actor by email or id, dates as whole UTC days.
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    /// Exactly this action.
    pub action: String,
    /// An account's email or id.
    pub actor: String,
    /// Exactly this target.
    pub target: String,
    /// From this day (UTC, inclusive).
    pub from: Option<chrono::NaiveDate>,
    /// To this day (UTC, inclusive).
    pub to: Option<chrono::NaiveDate>,
    /// Entries to skip.
    pub offset: u64,
    /// Entries wanted (at most 500).
    pub limit: u64,
}

/// One page of the audit log for the admin page (`AuditRead`), newest first, each entry with
/// its actor's email. An actor email that names no account matches nothing.
pub async fn search(deps: &Deps, caller: &Caller, s: &AuditSearch) -> Result<Vec<AuditEntry>> {
    caller.require(Action::AuditRead)?;
    let actor = s.actor.trim();
    let actor = if actor.is_empty() {
        None
    } else if let Ok(id) = actor.parse::<Uuid>() {
        Some(id)
    } else {
        match accounts_repo::find_by_email(&deps.db, actor).await? {
            Some(a) => Some(a.id),
            None => return Ok(Vec::new()),
        }
    };
    let day = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| ms(t.and_utc()));
    let filter = repo::AuditFilter {
        action: Some(s.action.trim().to_owned()).filter(|a| !a.is_empty()),
        actor,
        target: Some(s.target.trim().to_owned()).filter(|t| !t.is_empty()),
        from: s.from.and_then(day),
        to: s.to.and_then(|d| d.succ_opt()).and_then(day),
    };
    let rows = repo::search(&deps.db, &filter, s.limit.min(500), s.offset).await?;
    let mut emails: std::collections::HashMap<Uuid, Option<String>> = Default::default();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let actor_email = match r.actor_id {
            Some(id) => {
                if let Some(known) = emails.get(&id) {
                    known.clone()
                } else {
                    let email = accounts_repo::get(&deps.db, id).await?.map(|a| a.email);
                    emails.insert(id, email.clone());
                    email
                }
            }
            None => None,
        };
        out.push(AuditEntry {
            id: r.id,
            at: from_ms(r.at),
            actor_id: r.actor_id,
            action: r.action,
            target: r.target,
            request_id: r.request_id,
            ip: r.ip,
            detail: r.detail,
            actor_email,
        });
    }
    Ok(out)
}
