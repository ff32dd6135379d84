//! The input boundary for text: every JSON body goes through [`ApiJson`], and every request's
//! query string and path through [`reject_control_characters`], so a text field holding a NUL
//! byte or another control character is refused here, with a 422 naming the field, before any
//! handler or database sees it (PostgreSQL cannot store U+0000 in `text` and answered 500;
//! SQLite stored it). Handlers need nothing of their own: the rule holds for routes added later.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use myqcm_domain::codes;
use serde_json::Value;

use crate::error::{FieldError, WebError};

/// Most field errors listed in one answer (a hostile body may hold thousands).
const MAX_REPORTED: usize = 20;

/// The machine code of the field errors this module reports.
pub const CONTROL_CHARACTER: &str = "control_character";

pub use myqcm_domain::text::is_disallowed;
use myqcm_domain::text::{DISALLOWED_MESSAGE, has_disallowed};

/// A field name safe to echo: refused characters become `?`.
fn printable(name: &str) -> String {
    name.chars()
        .map(|c| if is_disallowed(c) { '?' } else { c })
        .collect()
}

fn field_error(field: String) -> FieldError {
    FieldError {
        field,
        code: CONTROL_CHARACTER.into(),
        message: DISALLOWED_MESSAGE.into(),
    }
}

fn refused(errors: Vec<FieldError>) -> WebError {
    WebError::Known {
        code: codes::VALIDATION_FAILED,
        detail: Some("Some text fields hold control characters.".into()),
        errors: Some(errors),
    }
}

/// Walks `v`, naming every string (and object key) that holds a refused character with the
/// same path syntax serde reports (`content.options[1].text`).
fn scan(v: &Value, path: &str, out: &mut Vec<FieldError>) {
    if out.len() >= MAX_REPORTED {
        return;
    }
    match v {
        Value::String(s) if has_disallowed(s) => out.push(field_error(path.to_owned())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                scan(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let child = if path.is_empty() {
                    printable(k)
                } else {
                    format!("{path}.{}", printable(k))
                };
                if has_disallowed(k) && out.len() < MAX_REPORTED {
                    out.push(field_error(child.clone()));
                }
                scan(item, &child, out);
            }
        }
        _ => {}
    }
}

/// The fields of a JSON document that hold refused characters (empty when it is clean).
pub fn control_character_fields(v: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    scan(v, "", &mut out);
    out
}

/// A JSON body extractor: our problem+json on malformed bodies, 422 naming each text field
/// with a control character, and 422 naming the field serde could not read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match Json::<Value>::from_request(req, state).await {
            Ok(Json(v)) => v,
            Err(rejection) => return Err(json_rejection(&rejection)),
        };
        let bad = control_character_fields(&value);
        if !bad.is_empty() {
            return Err(refused(bad));
        }
        serde_path_to_error::deserialize(value)
            .map(Self)
            .map_err(|e| {
                let path = e.path().to_string();
                WebError::Known {
                    code: codes::VALIDATION_FAILED,
                    detail: Some("The JSON does not have the expected shape.".into()),
                    errors: Some(vec![FieldError {
                        field: if path == "." { String::new() } else { path },
                        code: "invalid".into(),
                        // serde's message names the field and expected type, nothing internal.
                        message: e.into_inner().to_string(),
                    }]),
                }
            })
    }
}

fn json_rejection(r: &JsonRejection) -> WebError {
    match r {
        JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
            WebError::with_detail(codes::INVALID_JSON, "The body is not well-formed JSON.")
        }
        JsonRejection::MissingJsonContentType(_) => WebError::with_detail(
            codes::UNSUPPORTED_MEDIA_TYPE,
            "Send the body with Content-Type: application/json.",
        ),
        JsonRejection::BytesRejection(_) => WebError::code(codes::PAYLOAD_TOO_LARGE),
        _ => WebError::code(codes::BAD_REQUEST),
    }
}

/// Middleware: refuses a request whose decoded path or query string holds a control character
/// (422 naming the query parameter, or `path`), for every route, pages included.
pub async fn reject_control_characters(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let mut bad = Vec::new();
    if has_disallowed(&percent_decoded(uri.path())) {
        bad.push(field_error("path".into()));
    }
    if let Some(q) = uri.query() {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (query_decoded(k), query_decoded(v));
            if (has_disallowed(&k) || has_disallowed(&v)) && bad.len() < MAX_REPORTED {
                bad.push(field_error(printable(&k)));
            }
        }
    }
    if bad.is_empty() {
        next.run(req).await
    } else {
        refused(bad).into_response()
    }
}

fn query_decoded(s: &str) -> String {
    percent_decoded(&s.replace('+', " "))
}

/// Percent-decoding as the extractors do it (invalid UTF-8 becomes U+FFFD, which is allowed).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: &Value) -> Vec<String> {
        control_character_fields(v)
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn names_every_string_with_a_control_character_by_its_path() {
        let v = json!({
            "email": "a\u{0}b@x.y",
            "ok": "tab\tand\nlines\r fine, é ü 中 🙂",
            "content": {"options": [{"text": "fine"}, {"text": "bell\u{7}"}]},
            "list": ["x", "\u{1b}[31m"],
            "c1": "\u{85}",
            "del": "\u{7f}",
            "k\u{0}ey": 1,
        });
        let mut got = fields(&v);
        got.sort();
        assert_eq!(
            got,
            [
                "c1",
                "content.options[1].text",
                "del",
                "email",
                "k?ey",
                "list[1]"
            ]
        );
        assert!(fields(&json!({"a": ["b", {"c": 1.5, "d": null, "e": true}]})).is_empty());
    }

    #[test]
    fn a_hostile_body_gets_a_bounded_list() {
        let v = Value::Array(vec![Value::String("\u{0}".into()); 10_000]);
        assert_eq!(fields(&v).len(), MAX_REPORTED);
    }

    #[test]
    fn decodes_queries_like_the_extractors() {
        assert_eq!(query_decoded("a%00b+c"), "a\u{0}b c");
        assert_eq!(percent_decoded("%zz%4"), "%zz%4");
        assert_eq!(percent_decoded("%C3%A9"), "é");
        assert!(!has_disallowed(&percent_decoded("%ff")));
    }
}
