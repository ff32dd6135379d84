//! Blob stores: a local directory (single node, the default) and an S3-compatible bucket
//! (several instances share images and documents). Both pass the contract suite
//! `blob_story` in `tests/contract.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt as _;
use myqcm_domain::ports::{BlobStore, PortError, validate_blob_key};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutPayload, RetryConfig};

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

    async fn keys(&self) -> Result<Vec<String>, PortError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || fs_keys(&root))
            .await
            .map_err(|e| PortError::Unavailable(e.to_string()))?
    }
}

/// Every file below `root` as a key (`/`-separated), skipping unfinished writes (`.tmp-…`) and
/// names no caller could have chosen.
fn fs_keys(root: &Path) -> Result<Vec<String>, PortError> {
    let mut out = Vec::new();
    if !root.exists() {
        return Ok(out);
    }
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let kind = entry.file_type().map_err(io)?;
            if kind.is_dir() {
                dirs.push(entry.path());
                continue;
            }
            if !kind.is_file() || entry.file_name().to_string_lossy().starts_with(".tmp-") {
                continue;
            }
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if validate_blob_key(&key).is_ok() {
                out.push(key);
            } else {
                tracing::warn!(file = %path.display(), "file in the blob directory ignored: not a valid key");
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Where an [`S3BlobStore`] keeps its objects.
#[derive(Clone)]
pub struct S3Settings {
    /// Bucket name (the bucket must exist).
    pub bucket: String,
    /// Endpoint URL of an S3-compatible service (MinIO, Garage, Ceph, moto…); `None` for AWS.
    /// Requests are path-style (`<endpoint>/<bucket>/<key>`) when it is set.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when the service does not care).
    pub region: String,
    /// Access key id; `None` with no secret: the instance's role from the metadata service.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Objects in an S3-compatible bucket, through `object_store` (signing with ring, requests with
/// the workspace's reqwest/rustls). A put is one `PUT` of the whole object, so readers never see
/// half an object; listing pages through the bucket.
#[derive(Clone)]
pub struct S3BlobStore {
    store: Arc<AmazonS3>,
    bucket: String,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// A client for `settings.bucket`. Nothing is sent until the first call.
    ///
    /// # Errors
    /// [`PortError::Invalid`] for settings the client refuses (a malformed endpoint).
    pub fn new(settings: &S3Settings) -> Result<Self, PortError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            // Bounded: a request to a dead endpoint fails within seconds, not minutes.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(id) = &settings.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| PortError::Invalid(format!("S3 blob store: {e}")))?;
        Ok(Self {
            store: Arc::new(store),
            bucket: settings.bucket.clone(),
        })
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn s3_path(key: &str) -> Result<object_store::path::Path, PortError> {
    validate_blob_key(key)?;
    object_store::path::Path::parse(key).map_err(|e| PortError::Invalid(e.to_string()))
}

fn s3_error(e: object_store::Error) -> PortError {
    match e {
        object_store::Error::NotFound { .. } => PortError::NotFound,
        other => PortError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), PortError> {
        let path = s3_path(key)?;
        self.store
            .put(&path, PutPayload::from(data))
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes, PortError> {
        let path = s3_path(key)?;
        let found = self.store.get(&path).await.map_err(s3_error)?;
        found.bytes().await.map_err(s3_error)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let path = s3_path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        let path = s3_path(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn keys(&self) -> Result<Vec<String>, PortError> {
        let listed: Vec<String> = self
            .store
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(|e| match e {
                // Listing has no object to miss: the bucket itself is absent.
                object_store::Error::NotFound { .. } => {
                    PortError::Unavailable(format!("bucket {} not found", self.bucket))
                }
                other => s3_error(other),
            })?;
        // Objects written by other tools may carry names no caller of the port could choose.
        let mut keys: Vec<String> = listed
            .into_iter()
            .filter(|k| {
                let ok = validate_blob_key(k).is_ok();
                if !ok {
                    tracing::warn!(key = %k, bucket = %self.bucket, "object ignored: not a valid blob key");
                }
                ok
            })
            .collect();
        keys.sort();
        Ok(keys)
    }
}
