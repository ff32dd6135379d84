//! The one mapping from failures to responses. Under `/api/…` every error is RFC 9457
//! `application/problem+json` with a stable `code` and the `request_id`; elsewhere it is an HTML
//! page showing the request id. Internal causes are logged once and never sent to a client.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use myqcm_domain::codes::{self, ErrorCode};
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
}

impl<E: Into<anyhow::Error>> From<E> for WebError {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
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

/// A JSON body extractor whose rejections use our error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(r: &JsonRejection) -> WebError {
    match r {
        JsonRejection::JsonSyntaxError(_) => {
            WebError::with_detail(codes::INVALID_JSON, "The body is not well-formed JSON.")
        }
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field and expected type; it contains no server internals.
            WebError::Known {
                code: codes::VALIDATION_FAILED,
                detail: Some("The JSON does not have the expected shape.".into()),
                errors: Some(vec![FieldError {
                    field: String::new(),
                    code: "invalid".into(),
                    message: e.body_text(),
                }]),
            }
        }
        JsonRejection::MissingJsonContentType(_) => WebError::with_detail(
            codes::UNSUPPORTED_MEDIA_TYPE,
            "Send the body with Content-Type: application/json.",
        ),
        JsonRejection::BytesRejection(_) => WebError::code(codes::PAYLOAD_TOO_LARGE),
        _ => WebError::code(codes::BAD_REQUEST),
    }
}

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
