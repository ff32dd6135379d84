//! `/api/v1/admin/audit`: reading the append-only audit log (scope `support`, `operations` or
//! `super`). There is deliberately no route that changes or deletes an entry.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use myqcm_db::identity::audit as repo;
use myqcm_db::identity::from_ms;
use myqcm_domain::permissions::Action;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(list))
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
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

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<Uuid>,
    /// At most 500.
    pub limit: Option<u64>,
}

/// The newest audit entries.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = [AuditEntry]), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, WebError> {
    user.require(Action::AuditRead)?;
    let rows = repo::recent(
        &state.db,
        q.action.as_deref(),
        q.actor,
        q.limit.unwrap_or(100).min(500),
    )
    .await
    .map_err(WebError::internal)?;
    Ok(Json(
        rows.into_iter()
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
            .collect(),
    ))
}
