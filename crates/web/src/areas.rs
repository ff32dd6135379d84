//! Areas an operator can switch off (`MYQCM_DISABLED_AREAS`, e.g. `sign-up,author` while a
//! deployment is invitation-only or the authoring team is not onboarded yet). A switched-off
//! area disappears from the pages (navigation, calls to action) and its routes answer the
//! ordinary 404, pages and JSON alike, so nothing half-works.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use myqcm_domain::codes;

use crate::error::WebError;

/// A part of the product that can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Creating accounts (`/sign-up`, `POST /api/v1/auth/sign-up`); existing accounts still
    /// sign in.
    SignUp,
    /// Training sessions: the builder, the player and the training API.
    Practice,
    /// The progress pages and API.
    Progress,
    /// The author pages.
    Author,
}

impl Area {
    /// Every area.
    pub const ALL: [Self; 4] = [Self::SignUp, Self::Practice, Self::Progress, Self::Author];

    /// The name used in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignUp => "sign-up",
            Self::Practice => "practice",
            Self::Progress => "progress",
            Self::Author => "author",
        }
    }

    /// The area called `name` (case and surrounding spaces ignored).
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Path prefixes (whole segments) that belong to the area.
    fn prefixes(self) -> &'static [&'static str] {
        match self {
            Self::SignUp => &["/sign-up", "/api/v1/auth/sign-up"],
            Self::Practice => &["/practice", "/api/v1/training-sessions"],
            Self::Progress => &["/progress", "/api/v1/progress"],
            Self::Author => &["/author"],
        }
    }

    /// The area `path` belongs to, if any.
    pub fn of_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| {
            a.prefixes().iter().any(|p| {
                path.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        })
    }
}

/// Middleware: a request into a switched-off area gets the 404 every unknown path gets.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(area) = Area::of_path(request.uri().path())
        && !state.config.area_enabled(area)
    {
        return WebError::code(codes::NOT_FOUND).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_paths_match_whole_segments() {
        for a in Area::ALL {
            assert_eq!(Area::parse(a.name()), Some(a));
        }
        assert_eq!(Area::parse(" Sign-Up "), Some(Area::SignUp));
        assert_eq!(Area::parse("payments"), None);
        assert_eq!(Area::of_path("/practice"), Some(Area::Practice));
        assert_eq!(Area::of_path("/practice/abc/summary"), Some(Area::Practice));
        assert_eq!(Area::of_path("/practiced"), None);
        assert_eq!(Area::of_path("/api/v1/auth/sign-up"), Some(Area::SignUp));
        assert_eq!(Area::of_path("/api/v1/auth/sign-in"), None);
        assert_eq!(
            Area::of_path("/api/v1/progress/subjects/x"),
            Some(Area::Progress)
        );
        assert_eq!(Area::of_path("/author/items/new"), Some(Area::Author));
        assert_eq!(Area::of_path("/dashboard"), None);
    }
}
