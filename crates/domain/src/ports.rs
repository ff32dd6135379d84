//! Ports: the seams with several implementations or that tests must control.
//! Implementations live in `myqcm-integrations` (cache, blobs, mail) and here (clock).

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;

pub use crate::clock::Clock;

/// Failure of an infrastructure port. The message is for logs only, never for clients.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The backing service could not be reached or answered with an error.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The caller passed something the port rejects (bad key, too large).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The named thing does not exist.
    #[error("not found")]
    NotFound,
}

/// A shared key/value cache with expiry and atomic counters (session look-ups, rate limits,
/// candidate pools). In-process (moka) on a single node, Redis when scaled out; both pass the
/// same contract suite.
#[async_trait]
pub trait Cache: Send + Sync + std::fmt::Debug {
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), PortError>;
    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Atomically adds one to the counter under `key` and returns the new value. The first
    /// increment creates the counter and starts its `window`; later increments keep that expiry
    /// (fixed-window rate limiting).
    async fn incr(&self, key: &str, window: Duration) -> Result<u64, PortError>;
    /// Checks the backend answers (readiness probe).
    async fn ping(&self) -> Result<(), PortError>;
    /// Sends `message` to every current subscriber of `channel`: in this process, and with
    /// Redis in every instance sharing the server. Fire and forget: nobody listening is not an
    /// error, and a message published before a subscription is not replayed.
    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), PortError>;
    /// The messages published on `channel` from now on, in order; ends when the backend
    /// goes away. A subscriber that falls far behind skips what it missed (live progress is
    /// the use: the next message supersedes the last).
    async fn subscribe(&self, channel: &str) -> Result<Subscription, PortError>;
}

/// The message stream of [`Cache::subscribe`].
pub type Subscription = Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>;

/// Stored binary objects (images, documents). Keys are chosen by the caller from
/// `[A-Za-z0-9._/-]`, never from user-supplied file names.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `data` under `key`, replacing any previous object.
    async fn put(&self, key: &str, data: Bytes) -> Result<(), PortError>;
    /// Reads the object under `key`; [`PortError::NotFound`] when absent.
    async fn get(&self, key: &str) -> Result<Bytes, PortError>;
    /// Deletes the object; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Whether an object exists under `key`.
    async fn exists(&self, key: &str) -> Result<bool, PortError>;
    /// Every key in the store, sorted (backups read the whole store through this).
    async fn keys(&self) -> Result<Vec<String>, PortError>;
}

/// Validates a blob key: non-empty, at most 256 bytes, only `[A-Za-z0-9._/-]`, no `..` segment,
/// no leading `/`.
pub fn validate_blob_key(key: &str) -> Result<(), PortError> {
    let ok_chars = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'));
    let ok_segments = key
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != "..");
    if key.is_empty() || key.len() > 256 || !ok_chars || !ok_segments {
        return Err(PortError::Invalid(format!("bad blob key {key:?}")));
    }
    Ok(())
}

/// One outgoing mail, already rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Optional HTML body.
    pub html: Option<String>,
}

/// Sends transactional mail: SMTP in production, `.eml` files in development and tests.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends one message.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), PortError>;
}

/// What the browser is sent to the provider with; `state`, `nonce` and the PKCE verifier stay
/// on the server until the callback.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// Where to send the browser.
    pub authorize_url: String,
    /// `state` sent.
    pub state: String,
    /// `nonce` sent.
    pub nonce: String,
    /// PKCE verifier (S256 challenge sent).
    pub pkce_verifier: String,
}

/// The identity proven by a validated ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenIdentity {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email` (lower-cased), if given.
    pub email: Option<String>,
    /// `email_verified == true`.
    pub email_verified: bool,
}

/// An OpenID Connect provider (Google sign-in): the authorization code flow with PKCE, state and
/// nonce. The adapter validates the ID token completely; callers only see the proven identity.
#[async_trait]
pub trait OidcProvider: Send + Sync + std::fmt::Debug {
    /// A fresh authorization request (new state, nonce and PKCE verifier).
    async fn authorization_request(&self) -> Result<AuthorizationRequest, PortError>;
    /// Exchanges `code` with `pkce_verifier` and validates the ID token (signature, issuer,
    /// audience, expiry, `nonce`) at time `now`.
    async fn proven_identity(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ProvenIdentity, PortError>;
}

/// One structured-output call to a language model: a system prompt (ours, fixed per prompt
/// version), the user content (data: document text is never put in the system prompt) and the
/// JSON schema the answer must follow.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    /// Our instructions (versioned with the prompt).
    pub system: String,
    /// The data the instructions apply to (e.g. one document chunk and the counts wanted).
    pub user: String,
    /// Name of the response schema (`[A-Za-z0-9_-]`, as the API requires).
    pub schema_name: String,
    /// The JSON schema of the answer (strict mode).
    pub schema: serde_json::Value,
    /// Upper bound on the tokens of the answer (`max_tokens`).
    pub max_output_tokens: u32,
    /// Sampling temperature (0 = as deterministic as the provider allows; grading uses 0).
    pub temperature: f32,
    /// Stable key of this piece of work (e.g. request id + chunk index), sent as
    /// `Idempotency-Key` and logged instead of any content.
    pub idempotency_key: String,
}

/// The parsed answer of [`LanguageModel::complete_json`] and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmAnswer {
    /// The JSON document the model produced (already parsed; not yet validated against the
    /// schema: callers check every field).
    pub content: serde_json::Value,
    /// The model that answered, as the provider reports it.
    pub model: String,
    /// Prompt tokens billed.
    pub prompt_tokens: u32,
    /// Completion tokens billed.
    pub completion_tokens: u32,
}

impl LlmAnswer {
    /// What this answer was billed.
    pub fn usage(&self) -> LlmUsage {
        LlmUsage {
            model: self.model.clone(),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
        }
    }
}

/// What the provider billed for one reply: the model that answered and the tokens it reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LlmUsage {
    /// The model that answered, as the provider reports it.
    pub model: String,
    /// Prompt tokens billed.
    pub prompt_tokens: u32,
    /// Completion tokens billed.
    pub completion_tokens: u32,
}

/// Failure of a language-model call, after the adapter's own retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// No answer in time (every attempt).
    #[error("the language model did not answer in time")]
    Timeout,
    /// Still rate limited after the retries.
    #[error("the language model is rate limiting requests")]
    RateLimited,
    /// Transport failure or 5xx after the retries. The text is for logs.
    #[error("the language model is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx other than 429). The text is for logs.
    #[error("the language model refused the request: {0}")]
    Rejected(String),
    /// The answer was not the JSON document asked for (or was cut short). Not retried. When a
    /// reply was received, `billed` holds what the provider billed for it (the tokens are
    /// spent even though the reply is unusable); none when the body itself was unreadable.
    #[error("the language model answered with malformed output: {reason}")]
    Malformed {
        /// Why the reply is unusable (for logs).
        reason: String,
        /// The usage the provider reported with the reply.
        billed: Option<LlmUsage>,
    },
    /// The request would exceed the per-request token budget; nothing was sent.
    #[error("the request needs about {needed} tokens, over the budget of {budget}")]
    OverBudget {
        /// Estimated prompt tokens plus the output bound.
        needed: u32,
        /// The configured budget.
        budget: u32,
    },
}

impl LlmError {
    /// A malformed reply with nothing known about its cost.
    pub fn malformed(reason: impl Into<String>) -> Self {
        Self::Malformed {
            reason: reason.into(),
            billed: None,
        }
    }

    /// A malformed reply the provider billed `billed` for.
    pub fn malformed_billed(reason: impl Into<String>, billed: LlmUsage) -> Self {
        Self::Malformed {
            reason: reason.into(),
            billed: Some(billed),
        }
    }

    /// What the provider billed for the reply behind this failure, when one was received.
    pub fn billed(&self) -> Option<&LlmUsage> {
        match self {
            Self::Malformed { billed, .. } => billed.as_ref(),
            _ => None,
        }
    }
}

/// An OpenAI-compatible chat-completions endpoint answering with JSON-schema output. The
/// adapter owns timeouts, retries (429, 5xx, timeouts; exponential backoff with jitter) and the
/// per-request token budget.
#[async_trait]
pub trait LanguageModel: Send + Sync + std::fmt::Debug {
    /// The configured model name (recorded as provenance).
    fn model(&self) -> &str;
    /// One structured call.
    async fn complete_json(&self, request: &LlmRequest) -> Result<LlmAnswer, LlmError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_refuse_traversal_and_odd_characters() {
        for good in ["a", "items/2026/abc.png", "x-y_z.1"] {
            assert!(validate_blob_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/abs",
            "a/../b",
            "..",
            "a//b",
            "a b",
            "é",
            "a\\b",
            &"x".repeat(257),
        ] {
            assert!(validate_blob_key(bad).is_err(), "{bad}");
        }
    }
}
