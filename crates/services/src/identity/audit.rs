//! Security and staff events into the append-only audit log. Callers pass only identifiers and
//! outcomes; this module has no parameter through which a password, token or code could travel.

use myqcm_db::identity::audit::{self as repo, AuditRow};
use myqcm_db::identity::ms;
use myqcm_domain::Clock;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::ClientMeta;

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
            at: ms(clock.now()),
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
