//! Adapters for the ports of `myqcm-domain`: the in-process and Redis caches, the directory
//! blob store and the mailers. Nothing here knows about HTTP or the database.

pub mod blob;
pub mod cache;
pub mod chargily;
pub mod llm;
pub mod mail;
pub mod oidc;

pub use blob::FsBlobStore;
pub use cache::{MemoryCache, RedisCache};
pub use mail::{FileMailer, SmtpMailer};
