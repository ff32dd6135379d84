//! Helpers for tests of other areas: obtain a Bearer token for an account without going through
//! the HTTP sign-in (no password hashing, no rate limits). Compiled only with the feature
//! `testing`, which only dev-dependencies enable (`myqcm-app`'s tests).
//!
//! ```ignore
//! let tokens = myqcm_services::identity::testing::issue_session_for(&db, cache, clock, user_id).await?;
//! client.get(url).bearer_auth(&tokens.access_token)
//! ```

use std::sync::Arc;

use myqcm_db::DatabaseConnection;
use myqcm_domain::Clock;
use myqcm_domain::ports::Cache;
use uuid::Uuid;

use super::sessions::{self, IssuedTokens, Via};
use super::{ClientMeta, Deps, IdentityConfig, Result};

/// The development master secret tests share with `WebConfig::development` (CSRF tokens
/// computed here match the server's).
pub const TEST_MASTER_SECRET: &[u8] = b"myqcm development secret (not for production)";

/// Opens a sign-in session for `user_id` as if the user had just signed in with a password, and
/// returns its tokens: use `access_token` as `Authorization: Bearer`, or as the access cookie
/// together with `csrf_token` in `X-CSRF-Token`. The clock must be the server's clock.
pub async fn issue_session_for(
    db: &DatabaseConnection,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    user_id: Uuid,
) -> Result<IssuedTokens> {
    let deps = Deps {
        db: db.clone(),
        cache,
        clock,
        config: Arc::new(IdentityConfig::new(
            TEST_MASTER_SECRET,
            url::Url::parse("http://127.0.0.1/").map_err(anyhow::Error::from)?,
        )),
    };
    sessions::issue(&deps, user_id, Via::Bearer, &ClientMeta::default(), true).await
}
