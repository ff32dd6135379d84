//! A fake Chargily Pay v2 server for tests and browser tests (`myqcm-fakes chargily`): axum on
//! loopback. It serves the endpoints the product uses under `/test/api/v2` (create, retrieve,
//! list and expire checkouts, with the Bearer key checked), a hosted "pay" page with Pay and
//! Fail buttons, and control endpoints for tests:
//!
//! - `POST /_control/checkouts/{id}/{pay|fail|cancel|expire}`: sets the status and posts the
//!   webhook to the checkout's `webhook_endpoint`, signed like production (header `signature`,
//!   lowercase hex HMAC-SHA256 of the exact bytes sent, under the secret key); answers the
//!   delivery statuses.
//! - `POST /_control/knobs` (JSON, any subset of [`Knobs`]): faults.
//! - `GET /_control/checkouts`: every checkout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Faults and oddities, all off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// Every API answer waits this long (ms).
    pub delay_ms: u64,
    /// The next N API calls answer 500.
    pub fail_next: u32,
    /// Every webhook is delivered twice (same event id, same bytes).
    pub send_twice: bool,
    /// Added to a checkout's amount when it is paid (event and fetch-back).
    pub mutate_amount: i64,
    /// Checkouts and events say `livemode: true`.
    pub livemode: bool,
    /// `GET /checkouts/{id}` always says `pending`.
    pub pending_on_fetch: bool,
    /// Create stores the checkout, then waits this long (ms) before answering (the client
    /// times out although the checkout exists).
    pub create_hang_ms: u64,
    /// Metadata `intent_id` is replaced by another id when paid.
    pub mutate_intent_id: bool,
    /// Status changes deliver no webhook.
    pub no_webhook: bool,
    /// When set, a checkout paid from now on says this currency (lower case, e.g. `eur`) in
    /// the event and the fetch-back (W9: a currency other than the intent's).
    pub currency: Option<String>,
}

struct Inner {
    key: String,
    base: String,
    checkouts: Mutex<Vec<Value>>,
    knobs: Mutex<Knobs>,
    counter: AtomicU64,
    http: reqwest::Client,
}

/// A running fake. Dropping it stops the server.
pub struct FakeChargily {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `<base>/test/api/v2` (what `MYQCM_CHARGILY_API_BASE` points at).
    pub api_base: String,
    /// The secret key it accepts and signs with.
    pub key: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeChargily {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for FakeChargily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeChargily")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeChargily {
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
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Inner {
            key: key.to_owned(),
            base: base.clone(),
            checkouts: Mutex::new(Vec::new()),
            knobs: Mutex::new(Knobs::default()),
            counter: AtomicU64::new(1),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()?,
        });
        let app = Router::new()
            .route("/test/api/v2/checkouts", post(create).get(list))
            .route("/test/api/v2/checkouts/{id}", get(retrieve))
            .route("/test/api/v2/checkouts/{id}/expire", post(expire))
            .route("/test/checkouts/{id}/pay", get(pay_page))
            .route("/test/checkouts/{id}/press/{action}", post(pay_button))
            .route("/_control/checkouts", get(control_list))
            .route("/_control/checkouts/{id}/{action}", post(control))
            .route("/_control/knobs", post(set_knobs))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            api_base: format!("{base}/test/api/v2"),
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

    /// Every checkout, oldest first.
    pub fn checkouts(&self) -> Vec<Value> {
        lock(&self.inner.checkouts).clone()
    }

    /// The checkout with `id`.
    pub fn checkout(&self, id: &str) -> Option<Value> {
        lock(&self.inner.checkouts)
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
    }

    /// Sets a checkout's status without a webhook (a payment whose webhook got lost).
    pub fn set_status(&self, id: &str, status: &str) {
        set_status(&self.inner, id, status);
    }

    /// `pay`, `fail`, `cancel` or `expire` a checkout and deliver the webhook; returns the
    /// delivery statuses (0 for a transport error).
    pub async fn settle(&self, id: &str, action: &str) -> Vec<u16> {
        settle(&self.inner, id, action).await.unwrap_or_default()
    }

    /// The signed webhook body the fake would send for `checkout` with `event_id` and `kind`.
    pub fn event_body(&self, event_id: &str, kind: &str, checkout: &Value) -> Vec<u8> {
        let live = lock(&self.inner.knobs).livemode;
        event_bytes(event_id, kind, checkout, live)
    }
}

fn event_bytes(event_id: &str, kind: &str, checkout: &Value, live: bool) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp();
    let e = json!({
        "id": event_id,
        "entity": "event",
        // As in the provider's documented example: a string.
        "livemode": if live { "true" } else { "false" },
        "type": kind,
        "data": checkout,
        "created_at": now,
        "updated_at": now,
    });
    serde_json::to_vec(&e).unwrap_or_default()
}

fn set_status(inner: &Inner, id: &str, status: &str) -> Option<Value> {
    let knobs = lock(&inner.knobs).clone();
    let mut all = lock(&inner.checkouts);
    let c = all.iter_mut().find(|c| c["id"] == id)?;
    c["status"] = json!(status);
    c["updated_at"] = json!(chrono::Utc::now().timestamp());
    if status == "paid" {
        if knobs.mutate_amount != 0 {
            let a = c["amount"].as_i64().unwrap_or(0) + knobs.mutate_amount;
            c["amount"] = json!(a);
        }
        if knobs.mutate_intent_id {
            c["metadata"] = json!({"intent_id": uuid::Uuid::now_v7().to_string()});
        }
        if let Some(cur) = &knobs.currency {
            c["currency"] = json!(cur);
        }
        c["payment_method"] = json!("edahabia");
    }
    Some(c.clone())
}

async fn settle(inner: &Inner, id: &str, action: &str) -> Option<Vec<u16>> {
    let status = match action {
        "pay" => "paid",
        "fail" => "failed",
        "cancel" => "canceled",
        "expire" => "expired",
        _ => return None,
    };
    let c = set_status(inner, id, status)?;
    let knobs = lock(&inner.knobs).clone();
    if knobs.no_webhook {
        return Some(Vec::new());
    }
    let n = inner.counter.fetch_add(1, Ordering::Relaxed);
    let event_id = format!("evt_{n:08}{}", &id[..id.len().min(8)]);
    let body = event_bytes(&event_id, &format!("checkout.{status}"), &c, knobs.livemode);
    let target = c["webhook_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let times = if knobs.send_twice { 2 } else { 1 };
    let mut out = Vec::new();
    for _ in 0..times {
        out.push(deliver(inner, &target, &body).await);
    }
    Some(out)
}

/// Posts `body` to `target`, signed like production.
async fn deliver(inner: &Inner, target: &str, body: &[u8]) -> u16 {
    if target.is_empty() {
        return 0;
    }
    let sig = myqcm_integrations::chargily::sign(inner.key.as_bytes(), body);
    match inner
        .http
        .post(target)
        .header(header::CONTENT_TYPE, "application/json")
        .header("signature", sig)
        .body(body.to_vec())
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

fn api_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message}))).into_response()
}

/// Bearer check, delay and forced failures of every API call.
async fn gate(inner: &Inner, headers: &HeaderMap) -> Result<(), Response> {
    let wanted = format!("Bearer {}", inner.key);
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == wanted);
    if !ok {
        return Err(api_error(StatusCode::UNAUTHORIZED, "Unauthenticated."));
    }
    let (delay, fail) = {
        let mut k = lock(&inner.knobs);
        let fail = k.fail_next > 0;
        if fail {
            k.fail_next -= 1;
        }
        (k.delay_ms, fail)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if fail {
        return Err(api_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"));
    }
    Ok(())
}

fn new_id(inner: &Inner) -> String {
    const A: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let n = inner.counter.fetch_add(1, Ordering::Relaxed);
    let r = uuid::Uuid::new_v4().as_u128() ^ (u128::from(n) << 64);
    (0..26)
        .map(|k| char::from(A[usize::try_from((r >> (k * 4)) & 31).unwrap_or(0)]))
        .collect()
}

fn http_url(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with("http://") || s.starts_with("https://"))
}

async fn create(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = gate(&inner, &headers).await {
        return r;
    }
    let mut errors = serde_json::Map::new();
    if body["amount"].as_i64().is_none_or(|a| a < 50) {
        errors.insert("amount".into(), json!(["The amount must be at least 50."]));
    }
    if body["currency"] != "dzd" {
        errors.insert(
            "currency".into(),
            json!(["The selected currency is invalid."]),
        );
    }
    if !http_url(&body["success_url"]) {
        errors.insert(
            "success_url".into(),
            json!(["The success url must be a URL."]),
        );
    }
    for f in ["failure_url", "webhook_endpoint"] {
        if !body[f].is_null() && !http_url(&body[f]) {
            errors.insert(f.into(), json!([format!("The {f} must be a URL.")]));
        }
    }
    if !errors.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "The given data was invalid.", "errors": errors})),
        )
            .into_response();
    }
    let knobs = lock(&inner.knobs).clone();
    let id = new_id(&inner);
    let now = chrono::Utc::now().timestamp();
    let c = json!({
        "id": id,
        "entity": "checkout",
        "livemode": knobs.livemode,
        "amount": body["amount"],
        "currency": "dzd",
        "fees": 0,
        "fees_on_merchant": 0,
        "fees_on_customer": 0,
        "chargily_pay_fees_allocation": "merchant",
        "status": "pending",
        "locale": body.get("locale").cloned().unwrap_or(json!("ar")),
        "description": body.get("description").cloned().unwrap_or(Value::Null),
        "metadata": body.get("metadata").cloned().unwrap_or(json!([])),
        "success_url": body["success_url"],
        "failure_url": body.get("failure_url").cloned().unwrap_or(Value::Null),
        "webhook_endpoint": body.get("webhook_endpoint").cloned().unwrap_or(Value::Null),
        "payment_method": null,
        "invoice_id": null,
        "customer_id": null,
        "payment_link_id": null,
        "created_at": now,
        "updated_at": now,
        "discount": null,
        "amount_without_discount": null,
        "checkout_url": format!("{}/test/checkouts/{id}/pay", inner.base),
    });
    lock(&inner.checkouts).push(c.clone());
    if knobs.create_hang_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.create_hang_ms)).await;
    }
    Json(c).into_response()
}

async fn retrieve(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = gate(&inner, &headers).await {
        return r;
    }
    let pending = lock(&inner.knobs).pending_on_fetch;
    let found = lock(&inner.checkouts)
        .iter()
        .find(|c| c["id"] == id)
        .cloned();
    match found {
        Some(mut c) => {
            if pending {
                c["status"] = json!("pending");
            }
            Json(c).into_response()
        }
        None => api_error(StatusCode::NOT_FOUND, "Not found."),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn list(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Err(r) = gate(&inner, &headers).await {
        return r;
    }
    let per = q.per_page.unwrap_or(10).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let all: Vec<Value> = lock(&inner.checkouts).iter().rev().cloned().collect();
    let last = all.len().div_ceil(per).max(1);
    let data: Vec<Value> = all.into_iter().skip((page - 1) * per).take(per).collect();
    let live = lock(&inner.knobs).livemode;
    Json(json!({
        "livemode": live,
        "current_page": page,
        "data": data,
        "last_page": last,
        "per_page": per,
    }))
    .into_response()
}

async fn expire(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = gate(&inner, &headers).await {
        return r;
    }
    let current = lock(&inner.checkouts)
        .iter()
        .find(|c| c["id"] == id)
        .cloned();
    match current {
        None => api_error(StatusCode::NOT_FOUND, "Not found."),
        Some(c) if c["status"] == "pending" || c["status"] == "processing" => {
            Json(set_status(&inner, &id, "expired")).into_response()
        }
        Some(c) => Json(c).into_response(),
    }
}

async fn pay_page(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> Response {
    let Some(c) = lock(&inner.checkouts)
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
    else {
        return (StatusCode::NOT_FOUND, Html("<h1>Unknown checkout</h1>")).into_response();
    };
    let safe_id: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fake checkout</title></head>\
         <body><main><h1>Fake Chargily checkout</h1><p id=\"amount\">{} DZD</p>\
         <form method=\"post\" action=\"/test/checkouts/{safe_id}/press/pay\"><button id=\"pay\" type=\"submit\">Pay</button></form>\
         <form method=\"post\" action=\"/test/checkouts/{safe_id}/press/fail\"><button id=\"fail\" type=\"submit\">Fail</button></form>\
         </main></body></html>",
        c["amount"].as_i64().unwrap_or(0)
    ))
    .into_response()
}

async fn pay_button(
    State(inner): State<Arc<Inner>>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    if !matches!(action.as_str(), "pay" | "fail") {
        return StatusCode::NOT_FOUND.into_response();
    }
    if settle(&inner, &id, &action).await.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let c = lock(&inner.checkouts)
        .iter()
        .find(|c| c["id"] == id)
        .cloned();
    let field = if action == "pay" {
        "success_url"
    } else {
        "failure_url"
    };
    match c.and_then(|c| c[field].as_str().map(str::to_owned)) {
        Some(url) => Redirect::to(&url).into_response(),
        None => Html("<p>Done.</p>").into_response(),
    }
}

async fn control_list(State(inner): State<Arc<Inner>>) -> Json<Vec<Value>> {
    Json(lock(&inner.checkouts).clone())
}

async fn control(
    State(inner): State<Arc<Inner>>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    match settle(&inner, &id, &action).await {
        Some(delivered) => Json(json!({"delivered": delivered})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn set_knobs(State(inner): State<Arc<Inner>>, Json(k): Json<Knobs>) -> Json<Knobs> {
    *lock(&inner.knobs) = k.clone();
    Json(k)
}

/// Checkouts by id (for tests that look one up).
pub fn by_id(all: &[Value]) -> HashMap<String, Value> {
    all.iter()
        .filter_map(|c| Some((c["id"].as_str()?.to_owned(), c.clone())))
        .collect()
}
