//! Contract of the LLM client (`myqcm_integrations::llm`) against the fake server
//! (`myqcm-fakes llm`): the request shape, retries on 429/5xx/timeouts only, the token budget.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::time::Duration;

use myqcm_domain::ports::{LanguageModel, LlmError, LlmRequest};
use myqcm_integrations::llm::{LlmSettings, OpenAiCompatible};
use myqcm_testkit::fake_llm::FakeLlm;
use serde_json::json;

fn client(fake: &FakeLlm, key: &str) -> OpenAiCompatible {
    let mut s = LlmSettings::new(&fake.api_base, key.to_owned(), "fake-model".to_owned());
    s.timeout = Duration::from_millis(500);
    s.min_backoff = Duration::from_millis(5);
    s.max_backoff = Duration::from_millis(20);
    s.max_retries = 2;
    s.token_budget = 4_000;
    OpenAiCompatible::new(s).expect("client")
}

fn request() -> LlmRequest {
    LlmRequest {
        system: "You write exam items.".into(),
        user: "Wanted: QCS=1 QCM=1 QROC=1\n<document>\nThe heart has four chambers.\n</document>"
            .into(),
        schema_name: "items".into(),
        schema: json!({"type": "object"}),
        max_output_tokens: 1_000,
        temperature: 0.2,
        idempotency_key: "req-1/chunk-0".into(),
    }
}

#[tokio::test]
async fn a_valid_answer_is_parsed_and_the_request_has_the_openai_shape() {
    let fake = FakeLlm::start("k").await.expect("fake");
    let answer = client(&fake, "k")
        .complete_json(&request())
        .await
        .expect("answer");
    assert_eq!(answer.model, "fake-model");
    assert_eq!(answer.content["items"].as_array().map(Vec::len), Some(3));
    assert!(answer.prompt_tokens > 0 && answer.completion_tokens > 0);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].idempotency_key.as_deref(), Some("req-1/chunk-0"));
    let body = &calls[0].body;
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(body["max_tokens"], 1_000);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], "You write exam items.");
    // The document is data: it travels in the user message only.
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap_or("")
            .contains("four chambers")
    );
    assert!(!body.to_string().contains("Bearer"));
}

#[tokio::test]
async fn rate_limiting_once_is_retried_to_success() {
    let fake = FakeLlm::start("k").await.expect("fake");
    fake.knobs(|k| k.rate_limit_next = 1);
    let answer = client(&fake, "k").complete_json(&request()).await;
    assert!(answer.is_ok(), "{answer:?}");
    let statuses: Vec<u16> = fake.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let fake = FakeLlm::start("k").await.expect("fake");
    fake.knobs(|k| k.fail_next = 100);
    let answer = client(&fake, "k").complete_json(&request()).await;
    assert!(
        matches!(answer, Err(LlmError::Unavailable(_))),
        "{answer:?}"
    );
    assert_eq!(fake.calls().len(), 3, "one call and two retries");
}

#[tokio::test]
async fn a_slow_server_times_out_after_the_retries() {
    let fake = FakeLlm::start("k").await.expect("fake");
    fake.knobs(|k| k.delay_ms = 2_000);
    let started = std::time::Instant::now();
    let answer = client(&fake, "k").complete_json(&request()).await;
    assert_eq!(answer, Err(LlmError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn malformed_output_and_refused_keys_are_not_retried() {
    let fake = FakeLlm::start("k").await.expect("fake");
    fake.knobs(|k| k.malformed = true);
    let answer = client(&fake, "k").complete_json(&request()).await;
    assert!(
        matches!(answer, Err(LlmError::Malformed { .. })),
        "{answer:?}"
    );
    assert_eq!(fake.calls().len(), 1);
    // The unusable reply was billed: its usage travels with the error.
    let billed = answer.unwrap_err().billed().cloned().expect("usage kept");
    assert_eq!(billed.model, "fake-model");
    assert!(
        billed.prompt_tokens > 0 && billed.completion_tokens > 0,
        "{billed:?}"
    );
    let answer = client(&fake, "wrong").complete_json(&request()).await;
    assert!(matches!(answer, Err(LlmError::Rejected(_))), "{answer:?}");
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn a_request_over_the_token_budget_is_never_sent() {
    let fake = FakeLlm::start("k").await.expect("fake");
    let mut req = request();
    req.user = "x".repeat(12_000);
    let answer = client(&fake, "k").complete_json(&req).await;
    assert!(
        matches!(answer, Err(LlmError::OverBudget { .. })),
        "{answer:?}"
    );
    assert!(fake.calls().is_empty());
}
