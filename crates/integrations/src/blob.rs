//! A blob store in a local directory (single-node deployments; an S3-compatible store comes
//! later for several instances).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use myqcm_domain::ports::{BlobStore, PortError, validate_blob_key};

/// Objects as files below `root`; writes go to a temporary file renamed into place, so a reader
/// never sees half an object.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory holding the objects.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        validate_blob_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io(e: std::io::Error) -> PortError {
    if e.kind() == std::io::ErrorKind::NotFound {
        PortError::NotFound
    } else {
        PortError::Unavailable(e.to_string())
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), PortError> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, &data).await.map_err(io)?;
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io(e));
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes, PortError> {
        let path = self.path(key)?;
        tokio::fs::read(path).await.map(Bytes::from).map_err(io)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        let path = self.path(key)?;
        tokio::fs::try_exists(path).await.map_err(io)
    }
}
