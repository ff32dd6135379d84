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
    if has_disallowed(&path_decoded(uri.path())) {
        bad.push(field_error("path".into()));
    }
    if let Some(q) = uri.query() {
        bad.extend(form_fields_with_control_characters(q.as_bytes()));
    }
    if bad.is_empty() {
        next.run(req).await
    } else {
        refused(bad).into_response()
    }
}

/// The names of the `application/x-www-form-urlencoded` pairs (a query string or a form body)
/// whose decoded name or value holds a refused character, decoded as the extractors decode them.
fn form_fields_with_control_characters(encoded: &[u8]) -> Vec<FieldError> {
    url::form_urlencoded::parse(encoded)
        .filter(|(k, v)| has_disallowed(k) || has_disallowed(v))
        .take(MAX_REPORTED)
        .map(|(k, _)| field_error(printable(&k)))
        .collect()
}

/// A path percent-decoded as the path extractors do it (invalid UTF-8 becomes U+FFFD, allowed).
fn path_decoded(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// Largest HTML form body a page accepts (forms carry a few short fields).
const FORM_LIMIT: usize = 64 * 1024;

/// An HTML form body (`application/x-www-form-urlencoded`) for page handlers: every name and
/// value passes the text rule before it is deserialised, as JSON bodies do through [`ApiJson`],
/// so a NUL byte typed into a page form is a 422 naming the field, never a database error.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageForm<T>(pub T);

impl<T, S> FromRequest<S> for PageForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| WebError::code(codes::PAYLOAD_TOO_LARGE).into_response())?;
        let bad = form_fields_with_control_characters(&bytes);
        if !bad.is_empty() {
            return Err(refused(bad).into_response());
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Form(value) = axum::Form::<T>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(value))
    }
}

/// A file sent with a page form.
#[derive(Debug, Clone)]
pub struct FormFile {
    /// The name the browser gave (never trusted for the type).
    pub name: String,
    /// The content.
    pub bytes: bytes::Bytes,
}

/// A page form sent either way a browser may send it: URL-encoded, or `multipart/form-data`
/// when it carries a file input (the editor's image). Text fields pass the same text rule as
/// [`PageForm`]'s; the first part with a non-empty file name is the file (an empty file input
/// sends none). The CSRF token was checked by the CSRF layer for both encodings.
#[derive(Debug, Clone, Default)]
pub struct PageFields {
    /// Name/value pairs in order (repeated names repeat).
    pub pairs: Vec<(String, String)>,
    /// The file, when one was chosen.
    pub file: Option<FormFile>,
}

impl<S> FromRequest<S> for PageFields
where
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("multipart/form-data"));
        if !multipart {
            let PageForm(pairs) =
                PageForm::<Vec<(String, String)>>::from_request(req, state).await?;
            return Ok(Self { pairs, file: None });
        }
        let bad = |_| WebError::code(codes::VALIDATION_FAILED).into_response();
        let mut m = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut out = Self::default();
        let mut refused_fields = Vec::new();
        while let Some(field) = m.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or("").to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let bytes = field.bytes().await.map_err(bad)?;
                    if out.file.is_none() && !file_name.is_empty() {
                        out.file = Some(FormFile {
                            name: file_name,
                            bytes,
                        });
                    }
                }
                None => {
                    let value = field.text().await.map_err(bad)?;
                    if has_disallowed(&name) || has_disallowed(&value) {
                        refused_fields.push(field_error(printable(&name)));
                    }
                    out.pairs.push((name, value));
                }
            }
        }
        if !refused_fields.is_empty() {
            refused_fields.truncate(MAX_REPORTED);
            return Err(refused(refused_fields).into_response());
        }
        Ok(out)
    }
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
    fn decodes_queries_and_paths_like_the_extractors() {
        let names = |q: &str| -> Vec<String> {
            form_fields_with_control_characters(q.as_bytes())
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(names("a=x%00y&b=fine+text&c%07=1"), ["a", "c?"]);
        assert!(names("q=%C3%A9t%C3%A9&r=%ff&s=%zz%4").is_empty());
        assert_eq!(path_decoded("/x%00y"), "/x\u{0}y");
        assert_eq!(path_decoded("/%C3%A9+"), "/é+");
        assert!(!has_disallowed(&path_decoded("/%ff")));
    }
}
