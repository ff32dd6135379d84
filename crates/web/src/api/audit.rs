//! `/api/v1/admin/audit`: reading the append-only audit log (scope `support`, `operations` or
//! `super`). There is deliberately no route that changes or deletes an entry.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use myqcm_services::identity::audit::{self, AuditEntry, AuditQuery};

use crate::auth::CurrentUser;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(list))
}

/// The newest audit entries.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = [AuditEntry]), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, WebError> {
    Ok(Json(audit::list(&state.deps(), &user, &q).await?))
}
