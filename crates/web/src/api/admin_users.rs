//! `/api/v1/admin/users…`: account administration (scope `support` or `super`). Every change
//! needs a recent TOTP step-up and leaves an audit row, for refused attempts too.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_db::identity::accounts::{self as repo, Account};
use myqcm_domain::codes;
use myqcm_domain::permissions::{Action, AdminScope, Role};
use myqcm_services::identity::{audit, flows, sessions};
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::auth::Done;
use crate::auth::{self, CurrentUser};
use crate::error::ApiJson;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/{id}", get(show).patch(update))
        .route("/admin/users/{id}/sessions/revoke", post(revoke_sessions))
}

/// An account as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Admin scopes.
    pub admin_scopes: Vec<String>,
    /// Email verified.
    pub email_verified: bool,
    /// TOTP enrolled.
    pub mfa_enabled: bool,
    /// Disabled by an admin.
    pub disabled: bool,
}

impl From<&Account> for AdminUserView {
    fn from(a: &Account) -> Self {
        let (roles, scopes) = flows::roles_and_scopes(a);
        Self {
            id: a.id,
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            roles: roles.iter().map(ToString::to_string).collect(),
            admin_scopes: scopes.iter().map(ToString::to_string).collect(),
            email_verified: a.email_verified_at.is_some(),
            mfa_enabled: a.totp_enabled_at.is_some(),
            disabled: a.disabled_at.is_some(),
        }
    }
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// At most 200.
    pub limit: Option<u64>,
    /// Rows to skip.
    pub offset: Option<u64>,
}

/// Lists accounts, newest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(Page),
    responses((status = 200, body = [AdminUserView]), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(page): Query<Page>,
) -> Result<Json<Vec<AdminUserView>>, WebError> {
    user.require(Action::UsersManage)?;
    let rows = repo::list(
        &state.db,
        page.limit.unwrap_or(50).min(200),
        page.offset.unwrap_or(0),
    )
    .await
    .map_err(WebError::internal)?;
    Ok(Json(rows.iter().map(AdminUserView::from).collect()))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 200, body = AdminUserView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<AdminUserView>, WebError> {
    user.require(Action::UsersManage)?;
    let a = repo::get(&state.db, id)
        .await
        .map_err(WebError::internal)?
        .ok_or_else(|| WebError::code(codes::NOT_FOUND))?;
    Ok(Json(AdminUserView::from(&a)))
}

/// Changes to an account; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserPatch {
    /// The full new set of roles.
    pub roles: Option<Vec<String>>,
    /// The full new set of admin scopes.
    pub admin_scopes: Option<Vec<String>>,
    /// Disable (every session ends) or re-enable.
    pub disabled: Option<bool>,
}

async fn audit_attempt(
    state: &AppState,
    user: &CurrentUser,
    action: &'static str,
    target: Uuid,
    outcome: &str,
) {
    let ev = audit::Event::new(action)
        .actor(user.id)
        .target(target.to_string())
        .meta(user.meta())
        .detail(serde_json::json!({ "outcome": outcome }));
    if let Err(e) = audit::record(&state.db, state.clock.as_ref(), ev).await {
        tracing::error!(error = %e, "audit write failed");
    }
}

fn invalid(field: &str) -> WebError {
    WebError::Known {
        code: codes::VALIDATION_FAILED,
        detail: None,
        errors: Some(vec![crate::error::FieldError {
            field: field.into(),
            code: "invalid".into(),
            message: format!("unknown name in {field}"),
        }]),
    }
}

/// Changes roles, scopes or the disabled flag (step-up required). Takes effect on the
/// account's very next request.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = AdminUserPatch,
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 200, body = AdminUserView), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AdminUserPatch>,
) -> Result<Json<AdminUserView>, WebError> {
    if let Err(e) = user.require_step_up(&state, Action::UsersManage) {
        audit_attempt(&state, &user, "admin.user_update", id, "refused").await;
        return Err(e);
    }
    let target = repo::get(&state.db, id)
        .await
        .map_err(WebError::internal)?
        .ok_or_else(|| WebError::code(codes::NOT_FOUND))?;
    let mut model = repo::entity::ActiveModel {
        id: Set(target.id),
        updated_at: Set(state.clock.now()),
        ..Default::default()
    };
    if let Some(roles) = &b.roles {
        let parsed: Result<Vec<Role>, _> = roles.iter().map(|r| r.parse::<Role>()).collect();
        let parsed = parsed.map_err(|_| invalid("roles"))?;
        model.roles = Set(parsed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","));
    }
    if let Some(scopes) = &b.admin_scopes {
        let parsed: Result<Vec<AdminScope>, _> =
            scopes.iter().map(|r| r.parse::<AdminScope>()).collect();
        let parsed = parsed.map_err(|_| invalid("admin_scopes"))?;
        model.admin_scopes = Set(parsed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","));
    }
    if let Some(d) = b.disabled {
        model.disabled_at = Set(d.then(|| state.clock.now().timestamp_millis()));
    }
    let updated = repo::update(&state.db, model)
        .await
        .map_err(WebError::internal)?;
    if b.disabled == Some(true) {
        sessions::revoke_all(&auth::deps(&state), target.id, None, "account_disabled").await?;
    }
    let ev = audit::Event::new("admin.user_update")
        .actor(user.id)
        .target(target.id.to_string())
        .meta(user.meta())
        .detail(serde_json::json!({
            "outcome": "done",
            "roles_before": target.roles,
            "roles_after": updated.roles,
            "scopes_before": target.admin_scopes,
            "scopes_after": updated.admin_scopes,
            "disabled": updated.disabled_at.is_some(),
        }));
    audit::record(&state.db, state.clock.as_ref(), ev)
        .await
        .map_err(WebError::internal)?;
    Ok(Json(AdminUserView::from(&updated)))
}

/// Ends every session of an account (step-up required).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/sessions/revoke", tag = "admin",
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 200, body = Done), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Done>, WebError> {
    if let Err(e) = user.require_step_up(&state, Action::UsersManage) {
        audit_attempt(&state, &user, "admin.sessions_revoke", id, "refused").await;
        return Err(e);
    }
    sessions::revoke_all(&auth::deps(&state), id, None, "revoked_by_admin").await?;
    audit_attempt(&state, &user, "admin.sessions_revoke", id, "done").await;
    Ok(Json(Done { status: "ok" }))
}
