//! The `PaymentGateway` port: an online payment provider's hosted checkout (Chargily Pay v2 in
//! production, a fake server in tests). The use cases (`myqcm_services::commerce::payments`)
//! never trust what a browser or a webhook body says about money: they re-read the checkout
//! through [`PaymentGateway::retrieve_checkout`] and compare it with their own payment intent.
//! The adapter holds the secret key, so it also checks webhook signatures.

use async_trait::async_trait;
use uuid::Uuid;

/// Test or live payments (`MYQCM_CHARGILY_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMode {
    /// Test mode: no money moves.
    Test,
    /// Live mode.
    Live,
}

impl PaymentMode {
    /// `test` or `live`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Live => "live",
        }
    }

    /// Parses `test` or `live`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test" => Some(Self::Test),
            "live" => Some(Self::Live),
            _ => None,
        }
    }

    /// Whether the provider's `livemode` flag matches this mode.
    pub fn matches(self, livemode: bool) -> bool {
        livemode == (self == Self::Live)
    }
}

/// What a checkout is created with. The amount always comes from our plan table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Whole Algerian dinars.
    pub amount: i64,
    /// Always `dzd`.
    pub currency: String,
    /// Where the browser returns after paying.
    pub success_url: String,
    /// Where it returns after a failure or a cancel.
    pub failure_url: String,
    /// Where the provider posts the events of this checkout.
    pub webhook_endpoint: String,
    /// Checkout page language (`fr`, `ar`, `en`).
    pub locale: String,
    /// A short note shown to the payer (the plan's name).
    pub description: String,
    /// Our payment intent, sent as metadata `intent_id` and echoed back.
    pub intent_id: Uuid,
}

/// A checkout's state at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutStatus {
    /// Created, not paid.
    Pending,
    /// The payer is paying.
    Processing,
    /// Paid.
    Paid,
    /// The payment failed.
    Failed,
    /// The payer canceled.
    Canceled,
    /// Expired (by us or by the provider).
    Expired,
    /// A status this code does not know.
    Other(String),
}

impl CheckoutStatus {
    /// From the provider's word.
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "paid" => Self::Paid,
            "failed" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            "expired" => Self::Expired,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A checkout as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The provider's id.
    pub id: String,
    /// Its state.
    pub status: CheckoutStatus,
    /// Amount (whole dinars).
    pub amount: i64,
    /// Currency, lower case.
    pub currency: String,
    /// Whether it is a live-mode checkout.
    pub livemode: bool,
    /// The hosted payment page.
    pub checkout_url: Option<String>,
    /// Metadata `intent_id`, when present.
    pub intent_id: Option<String>,
    /// Creation time at the provider (unix seconds), when given.
    pub created_at: Option<i64>,
}

/// A verified webhook event (its signature checked before parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutEvent {
    /// Event id (deduplication key).
    pub id: String,
    /// Event type, e.g. `checkout.paid`.
    pub kind: String,
    /// Whether the event is from live mode.
    pub livemode: bool,
    /// The checkout it carries, when the type is `checkout.*`.
    pub checkout: Option<Checkout>,
}

/// Why a gateway call failed. Messages are for logs only.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No answer in time: the provider may or may not have acted.
    #[error("timed out")]
    Timeout,
    /// Unreachable, or a server error.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx).
    #[error("rejected: {0}")]
    Rejected(String),
    /// No such checkout.
    #[error("not found")]
    NotFound,
    /// An answer or a webhook body that does not parse.
    #[error("malformed: {0}")]
    Malformed(String),
}

/// An online payment provider with hosted checkouts and signed webhooks.
#[async_trait]
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// Creates a checkout.
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<Checkout, GatewayError>;
    /// Reads a checkout (the source of truth before granting anything).
    async fn retrieve_checkout(&self, id: &str) -> Result<Checkout, GatewayError>;
    /// Expires a checkout so it can no longer be paid; returns its state afterwards.
    async fn expire_checkout(&self, id: &str) -> Result<Checkout, GatewayError>;
    /// Finds the checkout created for `intent` among the recent ones (an intent whose create
    /// call timed out does not know its checkout id).
    async fn find_checkout(&self, intent: Uuid) -> Result<Option<Checkout>, GatewayError>;
    /// Whether `signature` (the header's value) signs `body` with our key. Strict: lowercase
    /// hex of HMAC-SHA256, compared in constant time.
    fn verify_signature(&self, body: &[u8], signature: Option<&str>) -> bool;
    /// Parses an event body whose signature was verified.
    fn parse_event(&self, body: &[u8]) -> Result<CheckoutEvent, GatewayError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_match_the_livemode_flag() {
        assert!(PaymentMode::Test.matches(false));
        assert!(!PaymentMode::Test.matches(true));
        assert!(PaymentMode::Live.matches(true));
        assert_eq!(PaymentMode::parse("live"), Some(PaymentMode::Live));
        assert_eq!(PaymentMode::parse("LIVE"), None);
    }

    #[test]
    fn statuses_parse_with_unknown_kept() {
        assert_eq!(CheckoutStatus::parse("paid"), CheckoutStatus::Paid);
        assert_eq!(
            CheckoutStatus::parse("refunded"),
            CheckoutStatus::Other("refunded".into())
        );
    }
}
