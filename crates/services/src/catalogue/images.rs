//! Item images through the blob store: the type is read from the content's magic bytes (PNG,
//! JPEG, WebP only; the client's name and type are ignored), the size is limited, the key is
//! random, and the web layer serves them with `X-Content-Type-Options: nosniff` at
//! `/api/v1/media/{id}` — the only image source the Markdown renderer keeps. An image follows
//! the items and clinical cases that name it (`media_use`, kept in step by every revision
//! write): whoever may read one of them may read the image; anyone else gets `NotFound`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_db::catalogue::{self as repo, item, item_image};
use myqcm_domain::catalogue::ItemStatus;
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

/// Reads an image for `actor`: (content type, bytes). `NotFound` unless the actor uploaded it,
/// sees every item (reviewers, content admins), or may read an item or case that names it
/// (approved → any signed-in reader of the catalogue; draft → its author). Signed-out callers
/// (`None`) never read an image.
pub async fn read(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<(String, Bytes), ImageError> {
    let actor = actor.ok_or(CatalogueError::NotFound)?;
    let m = repo::image(db, id)
        .await
        .map_err(CatalogueError::from)?
        .ok_or(CatalogueError::NotFound)?;
    if !(m.uploaded_by == actor.id || actor.sees_all_items() || readable_use(db, actor, id).await?)
    {
        return Err(CatalogueError::NotFound.into());
    }
    let data = blobs
        .get(&m.blob_key)
        .await
        .map_err(|_| CatalogueError::NotFound)?;
    Ok((m.content_type, data))
}

/// Whether one of the items or cases naming image `id` is readable by `actor`.
async fn readable_use(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<bool, CatalogueError> {
    let learner = actor.can(Action::CatalogueRead);
    let approved = |i: &item::Model| i.status == ItemStatus::Approved.as_str();
    for (kind, owner) in repo::media_uses(db, id).await? {
        let readable = if kind == repo::MEDIA_OF_CASE {
            match repo::case_by_id(db, owner).await? {
                Some(case) if case.author_id == actor.id => true,
                Some(case) => {
                    let items = repo::case_items(db, case.id).await?;
                    learner && !items.is_empty() && items.iter().all(approved)
                }
                None => false,
            }
        } else {
            repo::item_by_id(db, owner)
                .await?
                .is_some_and(|i| i.author_id == actor.id || (learner && approved(&i)))
        };
        if readable {
            return Ok(true);
        }
    }
    Ok(false)
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
