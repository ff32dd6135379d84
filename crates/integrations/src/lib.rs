//! Adapters for the ports of `myqcm-domain`: the in-process and Redis caches, the directory
//! and S3-compatible blob stores and the mailers. Nothing here knows about HTTP or the database.

pub mod blob;
pub mod cache;
pub mod chargily;
pub mod llm;
pub mod mail;
pub mod oidc;

pub use blob::{FsBlobStore, S3BlobStore, S3Settings};
pub use cache::{MemoryCache, RedisCache};
pub use mail::{FileMailer, SmtpMailer};
