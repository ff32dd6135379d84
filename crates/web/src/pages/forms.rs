//! Form state for the GOV.UK error pattern: what the user typed (kept on a failed submit), the
//! errors by field (shown above each field and in a summary at the top linking to them), and the
//! mapping from a use case's error to those messages. Also the small response helpers form
//! handlers share.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use myqcm_domain::codes;

use crate::WebError;
use crate::i18n::Locale;

/// One message of the error summary.
#[derive(Debug, Clone)]
pub struct FieldMessage {
    /// The input's `id`/`name` the summary links to (empty: no link).
    pub field: String,
    /// Localised message.
    pub message: String,
}

/// Values and errors of a form being (re)displayed.
#[derive(Debug, Clone, Default)]
pub struct Form {
    values: Vec<(String, String)>,
    /// Errors, in field order.
    pub errors: Vec<FieldMessage>,
    /// A confirmation to show (localised), e.g. "mail sent".
    pub notice: Option<String>,
    status: Option<StatusCode>,
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps a value to show again.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.push((name.to_owned(), value.to_owned()));
        self
    }

    /// With a localised confirmation.
    pub fn noticed(mut self, message: String) -> Self {
        self.notice = Some(message);
        self
    }

    /// The value typed in `name` (empty when none).
    pub fn val(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The error message for `name`, if any.
    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == name)
            .map(|e| e.message.as_str())
    }

    /// Whether the form has errors (the page title then starts with "Error:").
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Adds an error on `field`.
    pub fn error(mut self, field: &str, message: String) -> Self {
        self.errors.push(FieldMessage {
            field: field.to_owned(),
            message,
        });
        self.status.get_or_insert(StatusCode::UNPROCESSABLE_ENTITY);
        self
    }

    /// The status to answer with (200, or the failure's status).
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(StatusCode::OK)
    }

    /// Turns a use case's failure into form errors: known codes become localised messages
    /// (on their fields, or on `default_field`), unexpected failures stay errors (500 page).
    pub fn failure(
        mut self,
        locale: Locale,
        default_field: &str,
        e: impl Into<WebError>,
    ) -> Result<Self, WebError> {
        let WebError::Known { code, errors, .. } = e.into() else {
            return Err(WebError::internal(anyhow::anyhow!("form failure")));
        };
        match errors {
            Some(list) if !list.is_empty() => {
                for fe in list {
                    let id = format!("field-{}", fe.code);
                    let msg = locale
                        .try_t(&id)
                        .unwrap_or_else(|| locale.error_title(&code));
                    let field = if fe.field.is_empty() {
                        default_field
                    } else {
                        &fe.field
                    };
                    self = self.error(field, msg);
                }
            }
            _ => self = self.error(default_field, locale.error_title(&code)),
        }
        self.status = StatusCode::from_u16(code.status).ok();
        if code == codes::INTERNAL {
            return Err(WebError::code(codes::INTERNAL));
        }
        Ok(self)
    }
}

/// A 303 redirect (after a successful POST, or to the sign-in page).
pub fn see_other(to: &str) -> Response {
    see_other_with(HeaderMap::new(), to)
}

/// A 303 redirect carrying extra headers (cookies).
pub fn see_other_with(mut headers: HeaderMap, to: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(to) {
        headers.insert(header::LOCATION, v);
    }
    (StatusCode::SEE_OTHER, headers).into_response()
}

/// An HTML page with the form's status.
pub fn page(status: StatusCode, html: Html<String>) -> Response {
    (status, html).into_response()
}

/// Sends a signed-out visitor to the sign-in page, coming back to `path` afterwards.
pub fn to_sign_in(path: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    see_other(&format!("/sign-in?next={next}"))
}
