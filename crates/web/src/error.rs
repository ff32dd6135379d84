//! The one mapping from failures to responses. Under `/api/…` every error is RFC 9457
//! `application/problem+json` with a stable `code` and the `request_id`; elsewhere it is an HTML
//! page showing the request id. Internal causes are logged once and never sent to a client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use myqcm_domain::codes::{self, ErrorCode};
use myqcm_services::SystemError;
use myqcm_services::catalogue::CatalogueError;
use myqcm_services::catalogue::images::ImageError;
use myqcm_services::identity::IdentityError;
use myqcm_services::import::ImportFailure;
use myqcm_services::training::TrainingError;
use serde::Serialize;

/// One invalid field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Field name (JSON pointer-ish path).
    pub field: String,
    /// Machine-readable reason.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}

/// The problem+json body (RFC 9457) used by every API error.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable machine code (see `docs/ARCHITECTURE.md`, error codes).
    pub code: String,
    /// The request id to quote to support.
    pub request_id: String,
    /// Longer explanation, safe to show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per-field problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// An error on its way to the client.
#[derive(Debug)]
pub enum WebError {
    /// A known condition with a code and an optional safe detail.
    Known {
        /// The code.
        code: ErrorCode,
        /// A safe explanation.
        detail: Option<String>,
        /// Field errors.
        errors: Option<Vec<FieldError>>,
    },
    /// Anything unexpected: logged with its cause, shown as a bare 500.
    Internal(anyhow::Error),
}

impl WebError {
    /// A known error without detail.
    pub fn code(code: ErrorCode) -> Self {
        Self::Known {
            code,
            detail: None,
            errors: None,
        }
    }

    /// A known error with a safe detail.
    pub fn with_detail(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::Known {
            code,
            detail: Some(detail.into()),
            errors: None,
        }
    }

    /// An unexpected failure: logged with its cause, answered as a bare 500. Every use names
    /// its cause explicitly; there is no blanket conversion, so a service error without a
    /// mapping below does not compile.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// 422 `validation_failed` with one field error.
    pub fn invalid_field(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self::Known {
            code: codes::VALIDATION_FAILED,
            detail: None,
            errors: Some(vec![FieldError {
                field: field.into(),
                code: code.into(),
                message: message.into(),
            }]),
        }
    }
}

// ---------------------------------------------------------------- service errors
//
// One explicit conversion per service error enum: handlers use `?`, and a new variant without
// a mapping is a compile error (the matches are exhaustive), not a silent 500.

impl From<IdentityError> for WebError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::InvalidCredentials => Self::code(codes::INVALID_CREDENTIALS),
            IdentityError::Unauthenticated => Self::code(codes::UNAUTHENTICATED),
            IdentityError::InvalidToken => Self::code(codes::INVALID_TOKEN),
            IdentityError::WeakPassword(p) => Self::Known {
                code: codes::WEAK_PASSWORD,
                detail: Some(p.to_string()),
                errors: Some(vec![FieldError {
                    field: "password".into(),
                    code: "weak_password".into(),
                    message: p.to_string(),
                }]),
            },
            IdentityError::InvalidEmail => {
                Self::invalid_field("email", "invalid", "not a valid email address")
            }
            IdentityError::Invalid { field } => {
                Self::invalid_field(field, "invalid", format!("invalid {field}"))
            }
            IdentityError::RateLimited => Self::code(codes::RATE_LIMITED),
            IdentityError::StepUpRequired => Self::code(codes::STEP_UP_REQUIRED),
            IdentityError::MfaRequired => Self::code(codes::MFA_REQUIRED),
            IdentityError::NotFound => Self::code(codes::NOT_FOUND),
            IdentityError::Forbidden => Self::code(codes::FORBIDDEN),
            IdentityError::EmailTaken => Self::with_detail(codes::CONFLICT, "email_taken"),
            IdentityError::MfaEnrolmentRequired => Self::code(codes::MFA_ENROLMENT_REQUIRED),
            IdentityError::EmailNotVerified => Self::code(codes::EMAIL_NOT_VERIFIED),
            IdentityError::StaffKeepsMfa => Self::Known {
                code: codes::FORBIDDEN,
                detail: Some("Staff accounts keep two-step verification on.".into()),
                errors: Some(vec![FieldError {
                    field: String::new(),
                    code: "staff_keeps_mfa".into(),
                    message: "Staff accounts keep two-step verification on.".into(),
                }]),
            },
            IdentityError::LastSuperAdmin => Self::with_detail(
                codes::CONFLICT,
                "The last active super admin can be neither demoted nor disabled.",
            ),
            IdentityError::OidcFailed => Self::code(codes::OIDC_FAILED),
            IdentityError::CsrfFailed => Self::code(codes::CSRF_FAILED),
            e @ (IdentityError::Store(_) | IdentityError::Port(_) | IdentityError::Other(_)) => {
                Self::internal(e)
            }
        }
    }
}

impl From<CatalogueError> for WebError {
    fn from(e: CatalogueError) -> Self {
        match e {
            CatalogueError::NotFound => Self::code(codes::NOT_FOUND),
            CatalogueError::Forbidden => Self::code(codes::FORBIDDEN),
            CatalogueError::MfaEnrolmentRequired => Self::code(codes::MFA_ENROLMENT_REQUIRED),
            CatalogueError::OwnItem => Self::code(codes::OWN_ITEM),
            CatalogueError::RateLimited(m) => Self::with_detail(codes::RATE_LIMITED, m),
            CatalogueError::WrongState(m) => Self::with_detail(codes::INVALID_TRANSITION, m),
            CatalogueError::Invalid(errs) => Self::Known {
                code: codes::VALIDATION_FAILED,
                detail: None,
                errors: Some(
                    errs.into_iter()
                        .map(|e| FieldError {
                            field: e.field,
                            code: e.code.into(),
                            message: e.message,
                        })
                        .collect(),
                ),
            },
            CatalogueError::Conflict(c) => Self::with_detail(codes::CONFLICT, c),
            e @ CatalogueError::Store(_) => Self::internal(e),
        }
    }
}

impl From<ImageError> for WebError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::UnsupportedType => Self::with_detail(
                codes::UNSUPPORTED_MEDIA_TYPE,
                "Only PNG, JPEG and WebP images are accepted.",
            ),
            ImageError::TooLarge => Self::code(codes::PAYLOAD_TOO_LARGE),
            ImageError::Catalogue(c) => c.into(),
            e @ ImageError::Blob(_) => Self::internal(e),
        }
    }
}

impl From<ImportFailure> for WebError {
    fn from(e: ImportFailure) -> Self {
        Self::internal(e)
    }
}

impl From<TrainingError> for WebError {
    fn from(e: TrainingError) -> Self {
        match e {
            TrainingError::NotFound => Self::code(codes::NOT_FOUND),
            TrainingError::Forbidden => Self::code(codes::FORBIDDEN),
            TrainingError::Invalid(errs) => Self::Known {
                code: codes::VALIDATION_FAILED,
                detail: None,
                errors: Some(
                    errs.into_iter()
                        .map(|e| FieldError {
                            field: e.field,
                            code: e.code.into(),
                            message: e.message,
                        })
                        .collect(),
                ),
            },
            TrainingError::SessionClosed => Self::code(codes::SESSION_CLOSED),
            TrainingError::SessionPaused => Self::code(codes::SESSION_PAUSED),
            TrainingError::NotCurrent => Self::code(codes::NOT_CURRENT),
            TrainingError::TimeUp => Self::code(codes::TIME_UP),
            TrainingError::NoPause => Self::code(codes::NO_PAUSE),
            // The feature and, when the plan's window restarts, the moment it does (RFC 3339,
            // Algerian time) travel as field errors too, for clients that show a countdown.
            TrainingError::QuotaExhausted(x) => {
                let resets = x.resets_at.map(|t| {
                    t.with_timezone(&myqcm_domain::localtime::algeria())
                        .to_rfc3339()
                });
                let mut errors = vec![FieldError {
                    field: "feature".into(),
                    code: "quota_exhausted".into(),
                    message: x.feature.as_str().into(),
                }];
                if let Some(r) = &resets {
                    errors.push(FieldError {
                        field: "resets_at".into(),
                        code: "resets_at".into(),
                        message: r.clone(),
                    });
                }
                Self::Known {
                    code: codes::QUOTA_EXHAUSTED,
                    detail: Some(match &resets {
                        Some(r) => format!("feature: {}; resets at {r}", x.feature.as_str()),
                        None => format!("feature: {}; not part of the plan", x.feature.as_str()),
                    }),
                    errors: Some(errors),
                }
            }
            // The wider filters travel as field errors: drop `field` to get `message` more.
            TrainingError::NothingToServe(widen) => Self::Known {
                code: codes::NOTHING_TO_SERVE,
                detail: Some("Widen a filter: each entry names one and what it would add.".into()),
                errors: Some(
                    widen
                        .into_iter()
                        .map(|w| FieldError {
                            field: w.drop,
                            code: "widen".into(),
                            message: format!("{} more without this filter", w.available),
                        })
                        .collect(),
                ),
            },
            e @ TrainingError::Store(_) => Self::internal(e),
            e @ TrainingError::Unavailable(_) => {
                tracing::warn!(error = %e, "backend unavailable");
                Self::code(codes::UNAVAILABLE)
            }
        }
    }
}

impl From<SystemError> for WebError {
    fn from(e: SystemError) -> Self {
        match e {
            e @ SystemError::Store(_) => Self::internal(e),
        }
    }
}

/// Marker left on error responses; the rendering middleware turns it into the final body once
/// it knows the request path and id.
#[derive(Debug, Clone)]
pub struct ErrorMarker {
    /// The code.
    pub code: ErrorCode,
    /// Safe detail.
    pub detail: Option<String>,
    /// Field errors.
    pub errors: Option<Vec<FieldError>>,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let marker = match self {
            Self::Known {
                code,
                detail,
                errors,
            } => ErrorMarker {
                code,
                detail,
                errors,
            },
            Self::Internal(cause) if cause.chain().any(myqcm_services::is_unavailable) => {
                // The database or the cache is away: 503 and a hint to retry; it recovers by
                // itself when the backend returns (no restart needed).
                tracing::warn!(error = %format!("{cause:#}"), "backend unavailable");
                ErrorMarker {
                    code: codes::UNAVAILABLE,
                    detail: None,
                    errors: None,
                }
            }
            Self::Internal(cause) => {
                // The only place an internal cause is recorded; the client sees a bare 500.
                tracing::error!(error = %format!("{cause:#}"), "internal error");
                ErrorMarker {
                    code: codes::INTERNAL,
                    detail: None,
                    errors: None,
                }
            }
        };
        let status =
            StatusCode::from_u16(marker.code.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = status.into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        res.extensions_mut().insert(marker);
        res
    }
}

/// Fallback for unknown routes.
pub async fn not_found() -> WebError {
    WebError::code(codes::NOT_FOUND)
}

/// Fallback for a known route with the wrong method.
pub async fn method_not_allowed() -> WebError {
    WebError::code(codes::METHOD_NOT_ALLOWED)
}

/// The JSON body extractor lives with the other input checks; kept here under its old path.
pub use crate::input::ApiJson;

/// The code used for a bare status produced outside our handlers (timeouts, body limits…).
pub fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        400 => codes::BAD_REQUEST,
        401 => codes::UNAUTHENTICATED,
        403 => codes::FORBIDDEN,
        404 => codes::NOT_FOUND,
        405 => codes::METHOD_NOT_ALLOWED,
        408 | 504 => codes::TIMEOUT,
        409 => codes::CONFLICT,
        413 => codes::PAYLOAD_TOO_LARGE,
        415 => codes::UNSUPPORTED_MEDIA_TYPE,
        422 => codes::VALIDATION_FAILED,
        429 => codes::RATE_LIMITED,
        503 => codes::UNAVAILABLE,
        _ => codes::INTERNAL,
    }
}
