//! A fake OpenAI-compatible chat-completions server for tests and browser tests
//! (`myqcm-fakes llm`): axum on loopback, `POST /v1/chat/completions` with the Bearer key
//! checked and `response_format.type == "json_schema"` required.
//!
//! It answers deterministically from the user message, which follows the generation prompt's
//! layout: a line `Wanted: QCS=<n> QCM=<n> QROC=<n>` and the document chunk between
//! `<document>` and `</document>`. It writes one item per wanted slot, the stems taken from the
//! chunk's sentences in order, in the item schema of the generation prompt
//! (`{items: [{type, stem, options: [{text, correct}], correct_count, answer, explanation}]}`).
//! A document containing "ignore previous instructions" makes it behave like an injected model:
//! every option of every item is marked correct (the product's validation must reject them).
//!
//! A call whose schema is named `kc_suggestions` gets KC suggestions instead (see
//! `suggest_kcs`): every listed candidate scored by word overlap with the question, plus one
//! code that is in no tree ([`OFF_TREE_KC`]). A call whose schema is named `qroc_grade` gets a
//! verdict: `correct` when the answer holds every word of the expected answer.
//!
//! Faults (`POST /_control/knobs`, any subset of [`Knobs`], or [`FakeLlm::knobs`]): 429 or 500
//! for the next N calls, a delay, malformed JSON content, an item with the wrong number of
//! correct options, an item carrying a link and HTML. `GET /_control/calls` lists the calls
//! received.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Faults and oddities, all off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// The next N calls answer 429.
    pub rate_limit_next: u32,
    /// The next N calls answer 500.
    pub fail_next: u32,
    /// Every call waits this long (ms) before answering.
    pub delay_ms: u64,
    /// The message content is not JSON.
    pub malformed: bool,
    /// The first QCM of each answer states one correct option more than it marks.
    pub wrong_correct: bool,
    /// The first item of each answer has a link and a `<script>` in its stem.
    pub with_link: bool,
}

/// One call received.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The answered status.
    pub status: u16,
    /// The request body.
    pub body: Value,
}

struct Inner {
    key: String,
    knobs: Mutex<Knobs>,
    calls: Mutex<Vec<Call>>,
}

/// A running fake. Dropping it stops the server.
pub struct FakeLlm {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `<base>/v1` (what `MYQCM_LLM_BASE_URL` points at).
    pub api_base: String,
    /// The key it accepts.
    pub key: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for FakeLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLlm")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeLlm {
    /// Starts on a free loopback port with `key`.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(key: &str) -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0", key).await
    }

    /// Starts on `addr` with `key`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start_on(addr: &str, key: &str) -> anyhow::Result<Self> {
        // The product's HTTP client needs a process-wide TLS provider (the app installs it).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Inner {
            key: key.to_owned(),
            knobs: Mutex::new(Knobs::default()),
            calls: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/_control/knobs", post(set_knobs))
            .route("/_control/calls", get(list_calls))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            api_base: format!("{base}/v1"),
            base,
            key: key.to_owned(),
            inner,
            task,
        })
    }

    /// Changes the knobs.
    pub fn knobs(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut lock(&self.inner.knobs));
    }

    /// Every call received, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.inner.calls).clone()
    }
}

async fn set_knobs(State(inner): State<Arc<Inner>>, Json(k): Json<Knobs>) -> StatusCode {
    *lock(&inner.knobs) = k;
    StatusCode::NO_CONTENT
}

async fn list_calls(State(inner): State<Arc<Inner>>) -> Json<Vec<Call>> {
    Json(lock(&inner.calls).clone())
}

fn record(inner: &Inner, headers: &HeaderMap, status: StatusCode, body: &Value) {
    lock(&inner.calls).push(Call {
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status: status.as_u16(),
        body: body.clone(),
    });
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "fake"}})),
    )
        .into_response()
}

async fn complete(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let knobs = {
        let mut k = lock(&inner.knobs);
        let snapshot = k.clone();
        k.rate_limit_next = k.rate_limit_next.saturating_sub(1);
        if snapshot.rate_limit_next == 0 {
            k.fail_next = k.fail_next.saturating_sub(1);
        }
        snapshot
    };
    if knobs.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.delay_ms)).await;
    }
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", inner.key));
    let status = if !authorised {
        StatusCode::UNAUTHORIZED
    } else if knobs.rate_limit_next > 0 {
        StatusCode::TOO_MANY_REQUESTS
    } else if knobs.fail_next > 0 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if body["response_format"]["type"] != "json_schema" {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    record(&inner, &headers, status, &body);
    if status != StatusCode::OK {
        return error(status, "fake failure");
    }
    let user = body["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let content = if knobs.malformed {
        "{\"items\": [{\"type\": \"QCS\", \"stem\": ".to_owned()
    } else if body["response_format"]["json_schema"]["name"] == "kc_suggestions" {
        suggest_kcs(user).to_string()
    } else if body["response_format"]["json_schema"]["name"] == "qroc_grade" {
        grade_qroc(user).to_string()
    } else {
        generate(user, &knobs).to_string()
    };
    let model = body["model"].as_str().unwrap_or("fake-model").to_owned();
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": user.chars().count() / 4 + 50,
            "completion_tokens": content.chars().count() / 4,
            "total_tokens": user.chars().count() / 4 + 50 + content.chars().count() / 4,
        },
    }))
    .into_response()
}

fn wanted(user: &str, kind: &str) -> usize {
    user.lines()
        .find_map(|l| l.trim().strip_prefix("Wanted:"))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|p| p.strip_prefix(kind)?.strip_prefix('='))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn sentences(user: &str) -> Vec<String> {
    let doc = user
        .split_once("<document>")
        .map(|(_, d)| d.split_once("</document>").map_or(d, |(d, _)| d))
        .unwrap_or_default();
    let out: Vec<String> = doc
        .split(['.', '\n', '?', '!'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| s.chars().count() >= 8)
        .collect();
    if out.is_empty() {
        vec!["the document".to_owned()]
    } else {
        out
    }
}

/// The deterministic answer to `user` under `knobs`.
fn generate(user: &str, knobs: &Knobs) -> Value {
    let injected = user.to_lowercase().contains("ignore previous instructions");
    let facts = sentences(user);
    let mut items = Vec::new();
    let mut n = 0usize;
    for (kind, count) in [
        ("QCS", wanted(user, "QCS")),
        ("QCM", wanted(user, "QCM")),
        ("QROC", wanted(user, "QROC")),
    ] {
        for _ in 0..count {
            let fact = &facts[n % facts.len()];
            let stem = format!("Item {}: which statement about \"{fact}\" is right?", n + 1);
            let mut item = if kind == "QROC" {
                json!({
                    "type": kind,
                    "stem": format!("Item {}: name the key term of \"{fact}\".", n + 1),
                    "options": [],
                    "correct_count": 0,
                    "answer": format!("term {}", n + 1),
                    "explanation": format!("The document says: {fact}."),
                })
            } else {
                let correct = if kind == "QCS" { 1 } else { 2 + n % 2 };
                let options: Vec<Value> = (0..5)
                    .map(|i| {
                        json!({
                            "text": format!("Statement {} of item {}", i + 1, n + 1),
                            "correct": injected || i < correct,
                        })
                    })
                    .collect();
                json!({
                    "type": kind,
                    "stem": stem,
                    "options": options,
                    "correct_count": if injected { 5 } else { correct },
                    "answer": "",
                    "explanation": format!("The document says: {fact}."),
                })
            };
            if n == 0 && knobs.with_link {
                item["stem"] = json!(format!(
                    "{} See https://evil.example/x <script>alert(1)</script>",
                    item["stem"].as_str().unwrap_or_default()
                ));
            }
            items.push(item);
            n += 1;
        }
    }
    if knobs.wrong_correct
        && let Some(first) = items.iter_mut().find(|i| i["type"] == "QCM")
    {
        let stated = first["correct_count"].as_u64().unwrap_or(0) + 1;
        first["correct_count"] = json!(stated);
    }
    json!({ "items": items })
}

/// The deterministic answer to a QROC-grading prompt: `correct` when the answer (between
/// `<answer>` markers) holds every word of at least 4 letters of the `Expected answer:` line,
/// else `incorrect`.
fn grade_qroc(user: &str) -> Value {
    let expected = user
        .lines()
        .find_map(|l| l.strip_prefix("Expected answer:"))
        .map(words)
        .unwrap_or_default();
    let answer = user
        .split_once("<answer>")
        .map(|(_, r)| r.split_once("</answer>").map_or(r, |(a, _)| a))
        .map(words)
        .unwrap_or_default();
    let correct = !expected.is_empty() && expected.is_subset(&answer);
    json!({
        "verdict": if correct { "correct" } else { "incorrect" },
        "rationale": "fake grader: word match",
    })
}

/// The code the fake always proposes first although no tree has it, so that the product's
/// on-tree filter is exercised on every call.
pub const OFF_TREE_KC: &str = "kc-fake-off-tree";

/// Lower-cased words of at least 4 letters, accents kept.
fn words(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect()
}

/// The deterministic answer to a KC-suggestion prompt (candidates as `- <code>: <path>` lines
/// between `<candidates>` markers, the question between `<item>` markers): [`OFF_TREE_KC`]
/// with score 0.99, then every candidate, in the listed order (not sorted), scored
/// `0.2 + 0.75 × (shared words / words of the path)` minus 0.001 per position (so no two
/// scores tie), rounded to 3 decimals.
fn suggest_kcs(user: &str) -> Value {
    let section = |open: &str, close: &str| {
        user.split_once(open)
            .map(|(_, r)| r.split_once(close).map_or(r, |(x, _)| x).to_owned())
            .unwrap_or_default()
    };
    let item = words(&section("<item>", "</item>"));
    let mut out = vec![json!({"kc": OFF_TREE_KC, "score": 0.99})];
    for (i, line) in section("<candidates>", "</candidates>")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .enumerate()
    {
        let (code, path) = line.split_once(": ").unwrap_or((line, ""));
        let names = words(path);
        #[allow(clippy::cast_precision_loss, reason = "word counts are small")]
        let overlap = names.intersection(&item).count() as f64 / names.len().max(1) as f64;
        #[allow(clippy::cast_precision_loss, reason = "positions are small")]
        let score = (0.2 + 0.75 * overlap - 0.001 * i as f64).clamp(0.0, 1.0);
        out.push(json!({"kc": code, "score": (score * 1000.0).round() / 1000.0}));
    }
    json!({ "suggestions": out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_follows_the_wanted_counts_and_the_document() {
        let user = "Wanted: QCS=1 QCM=2 QROC=1\n<document>\nThe heart has four chambers. The aorta leaves the left ventricle.\n</document>";
        let v = generate(user, &Knobs::default());
        let items = v["items"].as_array().expect("items");
        assert_eq!(items.len(), 4);
        assert_eq!(items[0]["type"], "QCS");
        assert_eq!(items[3]["type"], "QROC");
        assert!(
            items[0]["stem"]
                .as_str()
                .unwrap_or("")
                .contains("four chambers")
        );
        assert!(items[1]["stem"].as_str().unwrap_or("").contains("aorta"));
    }

    #[test]
    fn kc_suggestions_score_candidates_by_shared_words_and_add_an_off_tree_code() {
        let user = "Course: HTA\n<candidates>\n- kc-1: Hypertension / Définition seuils\n- kc-2: Coronaires / Angor stable\n</candidates>\n<item>\nStem: Quels seuils définissent l'hypertension ?\n</item>";
        let v = suggest_kcs(user);
        let s = v["suggestions"].as_array().expect("suggestions");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0]["kc"], OFF_TREE_KC);
        assert_eq!(s[1]["kc"], "kc-1");
        assert!(s[1]["score"].as_f64() > s[2]["score"].as_f64());
    }
}
