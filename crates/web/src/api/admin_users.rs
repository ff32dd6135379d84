//! `/api/v1/admin/users…`: account administration (scope `support` or `super`). The rules —
//! step-up, who may grant what, audit rows for refused attempts too — live in
//! `myqcm_services::identity::admin`.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use myqcm_services::identity::accounts::AdminAccountView;
use myqcm_services::identity::admin::{self, AccountChanges};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::auth::{Done, done};
use crate::auth::CurrentUser;
use crate::error::ApiJson;
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/{id}", get(show).patch(update))
        .route("/admin/users/{id}/sessions/revoke", post(revoke_sessions))
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
    responses((status = 200, body = [AdminAccountView]), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(page): Query<Page>,
) -> Result<Json<Vec<AdminAccountView>>, WebError> {
    let rows = admin::list(&state.deps(), &user, page.limit, page.offset).await?;
    Ok(Json(rows))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 200, body = AdminAccountView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<AdminAccountView>, WebError> {
    Ok(Json(admin::show(&state.deps(), &user, id).await?))
}

/// Changes roles, scopes or the disabled flag (step-up required). Takes effect on the
/// account's very next request.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = AccountChanges,
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 200, body = AdminAccountView), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    ApiJson(changes): ApiJson<AccountChanges>,
) -> Result<Json<AdminAccountView>, WebError> {
    Ok(Json(
        admin::update(&state.deps(), &user, id, changes).await?,
    ))
}

/// Ends every session of an account (step-up required).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/sessions/revoke", tag = "admin",
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 200, body = Done), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Done>, WebError> {
    admin::revoke_sessions(&state.deps(), &user, id).await?;
    Ok(done())
}
