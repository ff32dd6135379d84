//! Security and staff events into the append-only audit log. Callers pass only identifiers and
//! outcomes; this module has no parameter through which a password, token or code could travel.

use chrono::{DateTime, Utc};
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
}

/// Filters of the audit listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<Uuid>,
    /// At most 500 (default 100).
    pub limit: Option<u64>,
}

/// The newest audit entries (`AuditRead`: support, operations and super admins). The log is
/// append-only: there is no use case that changes or deletes an entry.
pub async fn list(deps: &Deps, caller: &Caller, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    caller.require(Action::AuditRead)?;
    let rows = repo::recent(
        &deps.db,
        q.action.as_deref(),
        q.actor,
        q.limit.unwrap_or(100).min(500),
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
        })
        .collect())
}
