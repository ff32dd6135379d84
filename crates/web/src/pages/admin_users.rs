//! The account pages (`/admin/users`, `UsersManage`): accounts newest first, one account with
//! a form for its roles, admin scopes and disabled flag, and a button that ends all its
//! sessions. The forms call the JSON API's use cases (`myqcm_services::identity::admin`), so
//! the step-up, the super/support rules, the last-super-admin rule and the audit rows are the
//! API's. Staff without two-step sign-in get the enrolment page; everyone else without the
//! power gets 403. Every response is `noindex` and `Cache-Control: no-store, private`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use myqcm_domain::permissions::{AdminScope, Role};
use myqcm_services::identity::accounts::AdminAccountView;
use myqcm_services::identity::admin::{self, AccountChanges};
use myqcm_services::identity::{IdentityError, flows};
use serde::Deserialize;
use uuid::Uuid;

use super::author::{staff_headers, staff_refusal as refusal};
use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::input::PageForm;
use crate::{AppState, WebError};

/// Accounts per page.
const PER_PAGE: u64 = 50;

/// The routes, with the staff headers on every response.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users_list))
        .route("/admin/users/{id}", get(user_page).post(update))
        .route("/admin/users/{id}/sessions/revoke", post(revoke))
        .layer(axum::middleware::map_response(staff_headers))
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageContext,
    users: Vec<AdminAccountView>,
    offset: u64,
    more: bool,
}

impl UsersPage {
    fn prev(&self) -> Option<u64> {
        (self.offset > 0).then(|| self.offset.saturating_sub(PER_PAGE))
    }

    fn next(&self) -> u64 {
        self.offset + PER_PAGE
    }
}

/// `?offset=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    offset: Option<u64>,
}

/// `GET /admin/users`: accounts, newest first, 50 a page.
pub async fn users_list(
    State(s): State<AppState>,
    ctx: PageContext,
    Query(q): Query<UsersQuery>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/users"));
    };
    let offset = q.offset.unwrap_or(0);
    // One row more than shown tells whether a next page exists.
    let mut users = match admin::list(&s.deps(), &v.user, Some(PER_PAGE + 1), Some(offset)).await {
        Ok(u) => u,
        Err(e) => return refusal(&ctx, e),
    };
    let more = users.len() as u64 > PER_PAGE;
    users.truncate(PER_PAGE as usize);
    Ok(page(
        StatusCode::OK,
        render(&UsersPage {
            ctx,
            users,
            offset,
            more,
        })?,
    ))
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    ctx: PageContext,
    user: AdminAccountView,
    stepped_up: bool,
    form: Form,
}

impl UserPage {
    fn roles(&self) -> Vec<&'static str> {
        Role::ALL_VALUES.iter().map(|r| r.as_str()).collect()
    }

    fn scopes(&self) -> Vec<&'static str> {
        AdminScope::ALL_VALUES.iter().map(|s| s.as_str()).collect()
    }

    fn has_role(&self, r: &str) -> bool {
        self.user.account.roles.iter().any(|x| x == r)
    }

    fn has_scope(&self, s: &str) -> bool {
        self.user.account.admin_scopes.iter().any(|x| x == s)
    }

    fn step_up_href(&self) -> String {
        format!("/admin/step-up?next=/admin/users/{}", self.user.account.id)
    }
}

/// Shows account `id` with `form` (empty, or carrying a refusal).
async fn user_page_with(
    s: &AppState,
    ctx: PageContext,
    id: Uuid,
    form: Form,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/users"));
    };
    let user = match admin::show(&s.deps(), &v.user, id).await {
        Ok(u) => u,
        Err(e) => return refusal(&ctx, e),
    };
    let stepped_up = flows::recent_mfa(&s.deps(), v.user.principal());
    let code = form.status();
    let html = render(&UserPage {
        ctx,
        user,
        stepped_up,
        form,
    })?;
    Ok(page(code, html))
}

/// `GET /admin/users/{id}`: one account and its forms.
pub async fn user_page(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    user_page_with(&s, ctx, id, Form::new()).await
}

/// The account form as sent: repeated `roles` and `admin_scopes` checkboxes, `disabled`.
fn changes(fields: &[(String, String)]) -> AccountChanges {
    let all = |k: &str| -> Vec<String> {
        fields
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    AccountChanges {
        roles: Some(all("roles")),
        admin_scopes: Some(all("admin_scopes")),
        disabled: Some(fields.iter().any(|(n, _)| n == "disabled")),
    }
}

/// The result of a change: back to the account, or the account with the refusal.
async fn after(
    s: &AppState,
    ctx: PageContext,
    id: Uuid,
    done: Result<(), IdentityError>,
) -> Result<Response, WebError> {
    let form = match done {
        Ok(()) => return Ok(see_other(&format!("/admin/users/{id}"))),
        Err(e @ (IdentityError::MfaEnrolmentRequired | IdentityError::NotFound)) => {
            return refusal(&ctx, e);
        }
        Err(e) => Form::new().failure(ctx.locale, "", e)?,
    };
    user_page_with(s, ctx, id, form).await
}

/// `POST /admin/users/{id}`: sets roles, admin scopes and the disabled flag (step-up required).
pub async fn update(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
    PageForm(f): PageForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/users"));
    };
    let done = admin::update(&s.deps(), &v.user, id, changes(&f)).await;
    after(&s, ctx, id, done.map(|_| ())).await
}

/// `POST /admin/users/{id}/sessions/revoke`: ends every session of the account (step-up
/// required).
pub async fn revoke(
    State(s): State<AppState>,
    ctx: PageContext,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/admin/users"));
    };
    let done = admin::revoke_sessions(&s.deps(), &v.user, id).await;
    after(&s, ctx, id, done.map(|_| ())).await
}
