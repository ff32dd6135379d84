//! Embedded static assets (`crates/web/static/`): our stylesheet and script, the favicon and the
//! vendored htmx 2.0.11 (`static/vendor/`, licence in `THIRD-PARTY.md`). rust-embed reads the
//! files from disk in debug builds and embeds them in release builds.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::WebError;

#[derive(rust_embed::RustEmbed)]
#[folder = "static/"]
struct Assets;

/// `GET /static/{path}`: embedded assets with a one-hour cache lifetime.
pub async fn asset(Path(path): Path<String>) -> Result<Response, WebError> {
    let Some(file) = Assets::get(&path) else {
        return Err(WebError::code(myqcm_domain::codes::NOT_FOUND));
    };
    let mime = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        file.data.into_owned(),
    )
        .into_response())
}

/// `GET /favicon.ico`: browsers ask for it even when the page names an icon.
pub async fn favicon() -> Result<Response, WebError> {
    asset(Path("favicon.svg".to_owned())).await
}
