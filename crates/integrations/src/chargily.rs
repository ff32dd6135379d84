//! Chargily Pay v2: the [`PaymentGateway`] adapter. JSON over HTTPS with the secret key as a
//! Bearer token, 10 s timeout, redirects never followed. Webhooks carry header `signature`: the
//! lowercase hex HMAC-SHA256 of the raw body under the same secret key; [`verify`] checks it
//! strictly (exactly 64 lowercase hex characters) and in constant time (`Mac::verify_slice`),
//! before anything parses the body. The serde models accept what the provider's documentation
//! and SDKs disagree on: `livemode` as a boolean or a string, `metadata` as an object or a list
//! of objects, amounts as numbers or numeric strings.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use myqcm_domain::payments::{
    Checkout, CheckoutEvent, CheckoutRequest, CheckoutStatus, GatewayError, PaymentGateway,
    PaymentMode,
};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The test-mode API base.
pub const TEST_API_BASE: &str = "https://pay.chargily.net/test/api/v2";
/// The live API base.
pub const LIVE_API_BASE: &str = "https://pay.chargily.net/api/v2";

/// Pages of recent checkouts searched for an intent whose create call timed out.
const FIND_PAGES: u32 = 4;
/// Checkouts per page when searching.
const FIND_PER_PAGE: u32 = 50;

/// Lowercase hex of HMAC-SHA256 of `body` under `key` (what the provider sends in `signature`).
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(64);
    for b in tag.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
    }
    out
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Whether `signature` is exactly 64 lowercase hex characters encoding HMAC-SHA256 of `body`
/// under `key`. Uppercase hex, prefixes (`sha256=`), base64 and missing headers are refused;
/// the tag comparison is constant-time.
pub fn verify(key: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(sig) = signature else { return false };
    let sig = sig.as_bytes();
    if sig.len() != 64 {
        return false;
    }
    let mut tag = [0u8; 32];
    for (i, pair) in sig.chunks_exact(2).enumerate() {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => tag[i] = (h << 4) | l,
            _ => return false,
        }
    }
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

/// Settings of the client.
#[derive(Clone)]
pub struct ChargilySettings {
    /// API base, e.g. [`TEST_API_BASE`] (or the fake server).
    pub api_base: String,
    /// The secret key of the mode in use.
    pub secret_key: String,
    /// Whole-request timeout (10 s in production).
    pub timeout: Duration,
}

impl std::fmt::Debug for ChargilySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargilySettings")
            .field("api_base", &self.api_base)
            .field("secret_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ChargilySettings {
    /// Production settings for `mode`, with `api_base` overriding the documented base.
    pub fn new(mode: PaymentMode, secret_key: String, api_base: Option<String>) -> Self {
        let base = api_base.unwrap_or_else(|| {
            match mode {
                PaymentMode::Test => TEST_API_BASE,
                PaymentMode::Live => LIVE_API_BASE,
            }
            .to_owned()
        });
        Self {
            api_base: base.trim_end_matches('/').to_owned(),
            secret_key,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The Chargily Pay v2 client.
#[derive(Debug, Clone)]
pub struct Chargily {
    settings: ChargilySettings,
    http: reqwest::Client,
}

/// A boolean sent as `true`/`false` or as the strings `"true"`/`"false"`.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" || s.is_empty() => {
            Ok(false)
        }
        Value::Number(n) => Ok(n.as_i64() == Some(1)),
        Value::Null => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "livemode: expected a boolean, got {other}"
        ))),
    }
}

/// A whole amount sent as a number (integer or integral float) or a numeric string.
fn lenient_amount<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    let n = match &v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| serde::de::Error::custom(format!("amount: not a whole number: {v}")))
}

/// The checkout object (only the fields this product reads; others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutObject {
    /// Id.
    pub id: String,
    /// `checkout`.
    #[serde(default)]
    pub entity: Option<String>,
    /// Live or test.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub livemode: bool,
    /// Amount.
    #[serde(deserialize_with = "lenient_amount")]
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// `pending`, `processing`, `paid`, `failed`, `canceled`, `expired`.
    pub status: String,
    /// Metadata: an object, or a list of objects.
    #[serde(default)]
    pub metadata: Value,
    /// The hosted page.
    #[serde(default)]
    pub checkout_url: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
}

impl CheckoutObject {
    fn intent_id(&self) -> Option<String> {
        let pick = |v: &Value| {
            v.get("intent_id").and_then(|i| match i {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
        };
        match &self.metadata {
            Value::Object(_) => pick(&self.metadata),
            Value::Array(list) => list.iter().find_map(pick),
            _ => None,
        }
    }

    /// The domain's view.
    pub fn into_checkout(self) -> Checkout {
        Checkout {
            intent_id: self.intent_id(),
            id: self.id,
            status: CheckoutStatus::parse(&self.status),
            amount: self.amount,
            currency: self.currency.to_ascii_lowercase(),
            livemode: self.livemode,
            checkout_url: self.checkout_url,
            created_at: self.created_at,
        }
    }
}

/// A webhook event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventObject {
    /// Event id.
    pub id: String,
    /// `event`.
    #[serde(default)]
    pub entity: Option<String>,
    /// Live or test.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub livemode: bool,
    /// E.g. `checkout.paid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The object, a checkout for `checkout.*` types.
    #[serde(default)]
    pub data: Value,
}

/// Parses an event body (call only after [`verify`]).
pub fn parse_event(body: &[u8]) -> Result<CheckoutEvent, GatewayError> {
    let e: EventObject =
        serde_json::from_slice(body).map_err(|e| GatewayError::Malformed(e.to_string()))?;
    let checkout = if e.kind.starts_with("checkout.") {
        let c: CheckoutObject = serde_json::from_value(e.data)
            .map_err(|e| GatewayError::Malformed(format!("checkout: {e}")))?;
        Some(c.into_checkout())
    } else {
        None
    };
    Ok(CheckoutEvent {
        id: e.id,
        kind: e.kind,
        livemode: e.livemode,
        checkout,
    })
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    last_page: Option<u32>,
}

fn transport(e: &reqwest::Error) -> GatewayError {
    if e.is_timeout() {
        GatewayError::Timeout
    } else {
        GatewayError::Unavailable(e.to_string())
    }
}

impl Chargily {
    /// A client for `settings`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: ChargilySettings) -> Result<Self, GatewayError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
        Ok(Self { settings, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.api_base)
    }

    async fn call(&self, rb: reqwest::RequestBuilder) -> Result<Value, GatewayError> {
        let res = rb
            .bearer_auth(&self.settings.secret_key)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| transport(&e))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(GatewayError::NotFound);
        }
        if status.is_client_error() {
            return Err(GatewayError::Rejected(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )));
        }
        if !status.is_success() {
            return Err(GatewayError::Unavailable(format!("status {status}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| GatewayError::Malformed(e.to_string()))
    }

    async fn checkout(&self, rb: reqwest::RequestBuilder) -> Result<Checkout, GatewayError> {
        let v = self.call(rb).await?;
        let c: CheckoutObject =
            serde_json::from_value(v).map_err(|e| GatewayError::Malformed(e.to_string()))?;
        Ok(c.into_checkout())
    }
}

#[async_trait]
impl PaymentGateway for Chargily {
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<Checkout, GatewayError> {
        let body = serde_json::json!({
            "amount": req.amount,
            "currency": req.currency,
            "success_url": req.success_url,
            "failure_url": req.failure_url,
            "webhook_endpoint": req.webhook_endpoint,
            "locale": req.locale,
            "description": req.description,
            "metadata": {"intent_id": req.intent_id.to_string()},
        });
        self.checkout(self.http.post(self.url("/checkouts")).json(&body))
            .await
    }

    async fn retrieve_checkout(&self, id: &str) -> Result<Checkout, GatewayError> {
        let id = path_segment(id)?;
        self.checkout(self.http.get(self.url(&format!("/checkouts/{id}"))))
            .await
    }

    async fn expire_checkout(&self, id: &str) -> Result<Checkout, GatewayError> {
        let id = path_segment(id)?;
        self.checkout(self.http.post(self.url(&format!("/checkouts/{id}/expire"))))
            .await
    }

    async fn find_checkout(&self, intent: Uuid) -> Result<Option<Checkout>, GatewayError> {
        let wanted = intent.to_string();
        for page in 1..=FIND_PAGES {
            let v = self
                .call(
                    self.http
                        .get(self.url(&format!("/checkouts?per_page={FIND_PER_PAGE}&page={page}"))),
                )
                .await?;
            let p: Page =
                serde_json::from_value(v).map_err(|e| GatewayError::Malformed(e.to_string()))?;
            for item in &p.data {
                let Ok(c) = serde_json::from_value::<CheckoutObject>(item.clone()) else {
                    continue;
                };
                let c = c.into_checkout();
                if c.intent_id.as_deref() == Some(wanted.as_str()) {
                    return Ok(Some(c));
                }
            }
            if p.data.is_empty() || p.last_page.is_some_and(|l| page >= l) {
                break;
            }
        }
        Ok(None)
    }

    fn verify_signature(&self, body: &[u8], signature: Option<&str>) -> bool {
        verify(self.settings.secret_key.as_bytes(), body, signature)
    }

    fn parse_event(&self, body: &[u8]) -> Result<CheckoutEvent, GatewayError> {
        parse_event(body)
    }
}

/// Checkout ids go into URL paths: only `[A-Za-z0-9_-]`.
fn path_segment(id: &str) -> Result<&str, GatewayError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(GatewayError::Malformed("checkout id".into()));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"test_sk_unit_key";

    #[test]
    fn a_signature_verifies_only_in_its_strict_form() {
        let body = br#"{"id":"evt_1"}"#;
        let sig = sign(KEY, body);
        assert_eq!(sig.len(), 64);
        assert!(verify(KEY, body, Some(&sig)));
        assert!(!verify(KEY, body, None));
        assert!(!verify(KEY, body, Some(&sig.to_uppercase())));
        assert!(!verify(KEY, body, Some(&format!("sha256={sig}"))));
        assert!(!verify(KEY, body, Some(&sig[..63])));
        assert!(!verify(KEY, b"{\"id\":\"evt_2\"}", Some(&sig)));
        assert!(!verify(b"live_sk_other", body, Some(&sig)));
        let mut flipped = sig.into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        assert!(!verify(KEY, body, Some(&flipped)));
    }

    #[test]
    fn known_answer_of_the_signature() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn checkout_ids_cannot_escape_the_path() {
        assert!(path_segment("01hj5n8xyz").is_ok());
        assert!(path_segment("../balance").is_err());
        assert!(path_segment("a/b").is_err());
        assert!(path_segment("").is_err());
    }
}
