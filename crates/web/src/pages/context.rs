//! What every page knows about its request: language, signed-in viewer, the CSRF token its forms
//! carry, and the request id. Extracting a [`PageContext`] on an unsafe request also checks the
//! form's `_csrf`: against the sign-in session when signed in ([`CurrentUser`] does it), against
//! the pre-session cookie otherwise.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use fluent_templates::fluent_bundle::FluentValue;
use myqcm_domain::codes;
use myqcm_services::identity::accounts::AccountView;
use myqcm_services::identity::{caller, crypto, sessions};

use super::session::{self, PreSessionCsrf};
use crate::auth::csrf::FormToken;
use crate::auth::{CurrentUser, MaybeUser};
use crate::i18n::Locale;
use crate::middleware::RequestId;
use crate::{AppState, WebError};

/// The signed-in person looking at the page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The caller (roles, session, permission checks).
    pub user: CurrentUser,
    /// Their account as they may see it (name, language, verification).
    pub account: AccountView,
}

/// The per-request context every page template receives as `ctx`.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// Interface language.
    pub locale: Locale,
    /// The signed-in viewer, if any.
    pub viewer: Option<Viewer>,
    /// The token forms send back as `_csrf` (empty when none could be set).
    pub csrf: String,
    /// The request id, shown on error pages.
    pub request_id: String,
    /// Path and query of the page (the language switch comes back to it).
    pub path: String,
    /// Google sign-in is configured.
    pub google: bool,
    /// Whether the verified-email guard is enforced.
    pub email_verification: bool,
    /// Areas switched off by configuration (`MYQCM_DISABLED_AREAS`).
    pub disabled_areas: Vec<crate::Area>,
    /// A language model is configured (the AI pages exist).
    pub ai: bool,
}

impl PageContext {
    /// A context without a viewer (error pages rendered by the middleware).
    pub fn bare(locale: Locale, request_id: &str, headers: &HeaderMap) -> Self {
        Self {
            locale,
            viewer: None,
            csrf: session::pre_session_token(headers).unwrap_or_default(),
            request_id: request_id.to_owned(),
            path: "/".to_owned(),
            google: false,
            email_verification: true,
            // Rendered without the configuration at hand: error pages do not advertise sign-up.
            disabled_areas: vec![crate::Area::SignUp],
            ai: false,
        }
    }

    /// The message `id` in the page's language.
    pub fn t(&self, id: &str) -> String {
        self.locale.t(id)
    }

    /// The message `id` with one string argument.
    pub fn t1(&self, id: &str, name: &'static str, value: &str) -> String {
        self.locale
            .t_args(id, &[(name, FluentValue::from(value.to_owned()))])
    }

    /// The message `id` with one number argument (plural selection).
    pub fn tn(&self, id: &str, name: &'static str, n: impl std::borrow::Borrow<i64>) -> String {
        self.locale
            .t_args(id, &[(name, FluentValue::from(*n.borrow()))])
    }

    /// `lang` attribute value.
    pub fn lang(&self) -> &'static str {
        self.locale.tag()
    }

    /// `dir` attribute value.
    pub fn dir(&self) -> &'static str {
        self.locale.dir()
    }

    /// Whether someone is signed in.
    pub fn signed_in(&self) -> bool {
        self.viewer.is_some()
    }

    /// The viewer's display name (empty when signed out).
    pub fn display_name(&self) -> &str {
        self.viewer
            .as_ref()
            .map_or("", |v| v.account.display_name.as_str())
    }

    /// Signed in with an address not yet confirmed (while the guard is enforced).
    pub fn unverified(&self) -> bool {
        self.email_verification
            && self
                .viewer
                .as_ref()
                .is_some_and(|v| !v.account.email_verified)
    }

    /// Whether the viewer holds the author role (the navigation then links the author pages;
    /// staff who still have to enrol two-step sign-in are told so there).
    pub fn is_author(&self) -> bool {
        self.viewer.as_ref().is_some_and(|v| {
            v.user
                .caller
                .roles
                .contains(&myqcm_domain::permissions::Role::Author)
        })
    }

    /// Whether the permission table gives the viewer `action` (enrolled or not: staff who must
    /// still enrol two-step sign-in are told so on the page the link leads to).
    fn holds(&self, action: myqcm_domain::permissions::Action) -> bool {
        self.viewer.as_ref().is_some_and(|v| {
            myqcm_domain::permissions::allowed(&v.user.caller.roles, &v.user.caller.scopes, action)
        })
    }

    /// Whether the navigation links the review pages (reviewers, content and super admins).
    pub fn is_reviewer(&self) -> bool {
        self.holds(myqcm_domain::permissions::Action::ItemReview)
    }

    /// Whether the navigation links the accounts page (support and super admins).
    pub fn manages_users(&self) -> bool {
        self.holds(myqcm_domain::permissions::Action::UsersManage)
    }

    /// Whether the navigation links the authors' payouts page (finance and super admins).
    pub fn handles_payouts(&self) -> bool {
        self.holds(myqcm_domain::permissions::Action::FinanceManage)
    }

    /// Whether the navigation links the jobs page (operations and super admins).
    pub fn is_operator(&self) -> bool {
        self.holds(myqcm_domain::permissions::Action::OperationsManage)
    }

    /// Whether the navigation links the import and export pages (content and super admins).
    pub fn imports_exports(&self) -> bool {
        self.holds(myqcm_domain::permissions::Action::CatalogueImportExport)
    }

    /// Whether the navigation links the catalogue pages: curriculum, KC trees, blueprints and
    /// institutions (content and super admins).
    pub fn manages_catalogue(&self) -> bool {
        self.holds(myqcm_domain::permissions::Action::CatalogueManage)
    }

    /// Whether the navigation links everyone's language-model usage (a model is configured;
    /// content, finance and super admins).
    pub fn reads_ai_usage(&self) -> bool {
        self.ai
            && (self.holds(myqcm_domain::permissions::Action::CatalogueManage)
                || self.holds(myqcm_domain::permissions::Action::FinanceManage))
    }

    /// Whether the navigation links the audit log (support, operations and super admins).
    pub fn reads_audit(&self) -> bool {
        self.holds(myqcm_domain::permissions::Action::AuditRead)
    }

    /// Whether the area called `name` (`sign-up`, `practice`, `progress`, `author`) is on;
    /// templates hide links into switched-off areas.
    pub fn area(&self, name: &str) -> bool {
        crate::Area::parse(name).is_none_or(|a| !self.disabled_areas.contains(&a))
    }

    /// The languages the switcher offers.
    pub fn locales(&self) -> [Locale; 3] {
        Locale::ALL
    }
}

async fn viewer_of(parts: &mut Parts, state: &AppState) -> Result<Option<Viewer>, WebError> {
    let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
    let Some(user) = user else { return Ok(None) };
    let account = caller::own_account(&state.deps(), &user).await?;
    Ok(Some(Viewer { user, account }))
}

fn anonymous_form_ok(parts: &Parts) -> bool {
    let expected = parts.extensions.get::<PreSessionCsrf>();
    let presented = parts.extensions.get::<FormToken>();
    match (expected, presented) {
        (Some(e), Some(p)) => crypto::ct_eq(e.0.as_bytes(), p.0.as_bytes()),
        _ => false,
    }
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let viewer = viewer_of(parts, state).await?;
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if unsafe_method && viewer.is_none() && !anonymous_form_ok(parts) {
            return Err(WebError::code(codes::CSRF_FAILED));
        }
        let locale = viewer
            .as_ref()
            .and_then(|v| Locale::parse(&v.account.locale))
            .unwrap_or_else(|| Locale::negotiate(&parts.headers));
        let csrf = match &viewer {
            Some(v) => sessions::csrf_token(&state.deps(), v.user.session_id),
            None => parts
                .extensions
                .get::<PreSessionCsrf>()
                .map(|c| c.0.clone())
                .unwrap_or_default(),
        };
        Ok(Self {
            locale,
            viewer,
            csrf,
            request_id: parts
                .extensions
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            google: state.services.google.is_some(),
            email_verification: state.config.email_verification,
            disabled_areas: state.config.disabled_areas.clone(),
            ai: state.services.llm.is_some(),
        })
    }
}
