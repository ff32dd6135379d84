//! Item images through the blob store: the type is read from the content's magic bytes (PNG,
//! JPEG, WebP only; the client's name and type are ignored), the size is limited, the key is
//! random, and the web layer serves them with `X-Content-Type-Options: nosniff` at
//! `/api/v1/media/{id}` — the only image source the Markdown renderer keeps.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::catalogue::{self as repo, item_image};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use myqcm_domain::ports::BlobStore;
use serde::Serialize;
use uuid::Uuid;

use super::CatalogueError;
use crate::markdown::MEDIA_PREFIX;

/// Largest image accepted.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Not PNG, JPEG or WebP by content.
    #[error("only PNG, JPEG and WebP images are accepted")]
    UnsupportedType,
    /// Over [`MAX_IMAGE_BYTES`].
    #[error("the image is larger than 2 MiB")]
    TooLarge,
    /// Permission or storage.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// Blob store.
    #[error("blob store: {0}")]
    Blob(String),
}

/// A stored image.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImageView {
    /// Id.
    pub id: Uuid,
    /// Path to use in Markdown: `![alt](url)`.
    pub url: String,
    /// Sniffed type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
}

/// The content type of `data` from its magic bytes, if allowed.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Stores an image uploaded by an author or content admin.
pub async fn upload(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    actor: &Actor,
    data: Bytes,
    now: DateTime<Utc>,
) -> Result<ImageView, ImageError> {
    super::staff_gate(actor)?;
    if !actor.can(Action::ItemAuthor) && !actor.can(Action::CatalogueManage) {
        return Err(CatalogueError::Forbidden.into());
    }
    if data.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge);
    }
    let content_type = sniff(&data).ok_or(ImageError::UnsupportedType)?;
    let id = Uuid::now_v7();
    let key = format!("images/{}", Uuid::new_v4().simple());
    let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
    blobs
        .put(&key, data)
        .await
        .map_err(|e| ImageError::Blob(e.to_string()))?;
    repo::insert_image(
        db,
        item_image::Model {
            id,
            blob_key: key,
            content_type: content_type.into(),
            size,
            uploaded_by: actor.id,
            created_at: now,
        },
    )
    .await
    .map_err(CatalogueError::from)?;
    Ok(ImageView {
        id,
        url: format!("{MEDIA_PREFIX}{id}"),
        content_type: content_type.into(),
        size,
    })
}

/// Reads an image: (content type, bytes).
pub async fn read(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    id: Uuid,
) -> Result<(String, Bytes), ImageError> {
    let m = repo::image(db, id)
        .await
        .map_err(CatalogueError::from)?
        .ok_or(CatalogueError::NotFound)?;
    let data = blobs
        .get(&m.blob_key)
        .await
        .map_err(|_| CatalogueError::NotFound)?;
    Ok((m.content_type, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_png_jpeg_and_webp_pass_the_sniffer() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff(b"<html>.png"), None);
        assert_eq!(sniff(b"GIF89a"), None);
    }
}
