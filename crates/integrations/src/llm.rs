//! The [`LanguageModel`] adapter: an OpenAI-compatible chat-completions client asking for
//! JSON-schema output (`response_format: {type: "json_schema", json_schema: {strict: true}}`).
//!
//! - Every attempt has a whole-request timeout; redirects are never followed.
//! - 429, 5xx, timeouts and transport failures are retried with exponential backoff and full
//!   jitter (`backon`), a bounded number of times; other 4xx and malformed answers are not.
//! - A per-request token budget: the prompt is estimated (conservatively, one token per three
//!   characters, so Arabic and French text do not slip through) and added to the output bound
//!   (`max_tokens`); a request over the budget is refused before anything is sent.
//! - Each request carries `Idempotency-Key` (the caller's key for the piece of work). Logs
//!   carry that key, the status and token counts, never the prompt or the answer.

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use myqcm_domain::ports::{LanguageModel, LlmAnswer, LlmError, LlmRequest, LlmUsage};
use serde::Deserialize;
use serde_json::{Value, json};

/// Settings of the client.
#[derive(Clone)]
pub struct LlmSettings {
    /// API base, e.g. `https://api.openai.com/v1` (the client posts to
    /// `<base>/chat/completions`).
    pub base_url: String,
    /// Bearer key (may be empty for a self-hosted server without authentication).
    pub api_key: String,
    /// Model name sent with every request.
    pub model: String,
    /// Whole-request timeout of one attempt.
    pub timeout: Duration,
    /// Retries after the first attempt (429, 5xx, timeouts).
    pub max_retries: usize,
    /// First backoff delay; doubles each retry, with jitter.
    pub min_backoff: Duration,
    /// Largest backoff delay.
    pub max_backoff: Duration,
    /// Largest estimated prompt + output tokens of one request.
    pub token_budget: u32,
}

impl std::fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("token_budget", &self.token_budget)
            .finish_non_exhaustive()
    }
}

impl LlmSettings {
    /// Production defaults: 120 s per attempt, 3 retries from 1 s up to 20 s, a budget of
    /// 32 000 tokens per request.
    pub fn new(base_url: &str, api_key: String, model: String) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            model,
            timeout: Duration::from_secs(120),
            max_retries: 3,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            token_budget: 32_000,
        }
    }
}

/// Conservative token estimate of `text`: one token per three characters, rounded up.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(3)).unwrap_or(u32::MAX)
}

/// The chat-completions client.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    settings: LlmSettings,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

fn transport(e: &reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout
    } else {
        LlmError::Unavailable(e.to_string())
    }
}

fn retryable(e: &LlmError) -> bool {
    matches!(
        e,
        LlmError::Timeout | LlmError::RateLimited | LlmError::Unavailable(_)
    )
}

/// Parses a chat-completions answer body into the JSON document it carries.
///
/// # Errors
/// [`LlmError::Malformed`] when the body, the message or its content is not what was asked
/// for (including an answer cut short by the output bound), carrying the usage the body
/// reported once the body itself could be read (the provider bills such a reply);
/// [`LlmError::Rejected`] when the model refused.
pub fn parse_completion(body: &[u8], fallback_model: &str) -> Result<LlmAnswer, LlmError> {
    let c: Completion = serde_json::from_slice(body)
        .map_err(|e| LlmError::malformed(format!("completion body: {e}")))?;
    let usage = c.usage.unwrap_or_default();
    let billed = LlmUsage {
        model: c.model.unwrap_or_else(|| fallback_model.to_owned()),
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
    };
    let malformed = |reason: String| LlmError::malformed_billed(reason, billed.clone());
    let choice = c
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| malformed("no choice".into()))?;
    if let Some(r) = choice.message.refusal.filter(|r| !r.is_empty()) {
        return Err(LlmError::Rejected(format!("refusal ({} chars)", r.len())));
    }
    if choice.finish_reason.as_deref() == Some("length") {
        return Err(malformed(
            "answer cut short by the output token bound".into(),
        ));
    }
    let text = choice
        .message
        .content
        .ok_or_else(|| malformed("no content".into()))?;
    let content: Value = serde_json::from_str(text.trim())
        .map_err(|e| malformed(format!("content is not JSON: {e}")))?;
    if !content.is_object() {
        return Err(malformed("content is not a JSON object".into()));
    }
    Ok(LlmAnswer {
        content,
        model: billed.model,
        prompt_tokens: billed.prompt_tokens,
        completion_tokens: billed.completion_tokens,
    })
}

/// Counts the tokens of a billed reply (usable or not) in the metrics and the log.
fn meter_tokens(key: &str, usage: &LlmUsage, usable: bool) {
    metrics::counter!("myqcm_llm_tokens_total", "kind" => "prompt")
        .increment(u64::from(usage.prompt_tokens));
    metrics::counter!("myqcm_llm_tokens_total", "kind" => "completion")
        .increment(u64::from(usage.completion_tokens));
    tracing::info!(
        key,
        prompt_tokens = usage.prompt_tokens,
        completion_tokens = usage.completion_tokens,
        usable,
        "llm answer"
    );
}

impl OpenAiCompatible {
    /// A client for `settings`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: LlmSettings) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Unavailable(e.to_string()))?;
        Ok(Self { settings, http })
    }

    fn body(&self, req: &LlmRequest) -> Value {
        json!({
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": req.system},
                {"role": "user", "content": req.user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": req.schema_name, "strict": true, "schema": req.schema},
            },
            "max_tokens": req.max_output_tokens,
            "temperature": req.temperature,
            "n": 1,
        })
    }

    async fn attempt(&self, req: &LlmRequest, body: &Value) -> Result<LlmAnswer, LlmError> {
        let mut rb = self
            .http
            .post(format!("{}/chat/completions", self.settings.base_url))
            .header("Idempotency-Key", &req.idempotency_key)
            .json(body);
        if !self.settings.api_key.is_empty() {
            rb = rb.bearer_auth(&self.settings.api_key);
        }
        let res = rb.send().await.map_err(|e| transport(&e))?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| transport(&e))?;
        tracing::debug!(key = %req.idempotency_key, status = status.as_u16(), "llm call");
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(LlmError::RateLimited);
        }
        if status.is_server_error() {
            return Err(LlmError::Unavailable(format!("status {status}")));
        }
        if !status.is_success() {
            return Err(LlmError::Rejected(format!("status {status}")));
        }
        parse_completion(&bytes, &self.settings.model)
    }
}

#[async_trait]
impl LanguageModel for OpenAiCompatible {
    fn model(&self) -> &str {
        &self.settings.model
    }

    async fn complete_json(&self, req: &LlmRequest) -> Result<LlmAnswer, LlmError> {
        let prompt = estimate_tokens(&req.system)
            .saturating_add(estimate_tokens(&req.user))
            .saturating_add(estimate_tokens(&req.schema.to_string()));
        let needed = prompt.saturating_add(req.max_output_tokens);
        if needed > self.settings.token_budget {
            return Err(LlmError::OverBudget {
                needed,
                budget: self.settings.token_budget,
            });
        }
        let body = self.body(req);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.min_backoff)
            .with_max_delay(self.settings.max_backoff)
            .with_max_times(self.settings.max_retries)
            .with_jitter();
        let answer = (|| self.attempt(req, &body))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(retryable)
            .notify(|e, wait| {
                tracing::warn!(key = %req.idempotency_key, error = %e, ?wait, "llm call retried");
            })
            .await;
        match &answer {
            Ok(a) => meter_tokens(&req.idempotency_key, &a.usage(), true),
            Err(e) => {
                if let Some(billed) = e.billed() {
                    meter_tokens(&req.idempotency_key, billed, false);
                }
            }
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_estimate_rounds_up_by_characters_not_bytes() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 2);
        assert_eq!(estimate_tokens("ééé"), 1);
    }

    #[test]
    fn completion_parsing_refuses_unusable_answers_and_keeps_what_they_were_billed() {
        let ok = br#"{"model":"m1","choices":[{"message":{"content":"{\"items\":[]}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        let a = parse_completion(ok, "x").expect("parses");
        assert_eq!(a.model, "m1");
        assert_eq!((a.prompt_tokens, a.completion_tokens), (3, 4));
        let cut = br#"{"choices":[{"message":{"content":"{\"items\":["},"finish_reason":"length"}],"usage":{"prompt_tokens":30,"completion_tokens":40}}"#;
        let billed = LlmUsage {
            model: "x".into(),
            prompt_tokens: 30,
            completion_tokens: 40,
        };
        assert_eq!(
            parse_completion(cut, "x").unwrap_err().billed(),
            Some(&billed),
            "a reply cut short was billed"
        );
        let refused = br#"{"choices":[{"message":{"content":null,"refusal":"no"}}]}"#;
        assert!(matches!(
            parse_completion(refused, "x"),
            Err(LlmError::Rejected(_))
        ));
        let prose = br#"{"model":"m2","choices":[{"message":{"content":"Sure! Here are"}}],"usage":{"prompt_tokens":5,"completion_tokens":6}}"#;
        let err = parse_completion(prose, "x").unwrap_err();
        assert!(matches!(err, LlmError::Malformed { .. }), "{err:?}");
        assert_eq!(
            err.billed(),
            Some(&LlmUsage {
                model: "m2".into(),
                prompt_tokens: 5,
                completion_tokens: 6,
            })
        );
        let array = br#"{"choices":[{"message":{"content":"[1]"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
        assert_eq!(
            parse_completion(array, "x")
                .unwrap_err()
                .billed()
                .map(|b| b.completion_tokens),
            Some(2)
        );
        let unreadable = parse_completion(b"<html>", "x").unwrap_err();
        assert!(matches!(unreadable, LlmError::Malformed { .. }));
        assert_eq!(unreadable.billed(), None, "no usage could be read");
    }
}
