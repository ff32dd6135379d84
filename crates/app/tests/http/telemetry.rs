//! Trace export (`MYQCM_OTLP_ENDPOINT`) and error reporting (`MYQCM_SENTRY_DSN`) against
//! loopback stand-ins: a tiny axum server records every request it receives. Each test installs
//! the process-wide subscriber, so these rely on one process per test (nextest). The binary's
//! own wiring (and that the OpenTelemetry SDK's variables alone switch nothing on) is tested
//! in `tests/cli/commands.rs`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, Uri};
use myqcm_app::config::{Secret, Settings};
use myqcm_app::telemetry::{self, Telemetry};

use crate::support::*;

/// One request received by a stand-in: method, path and body.
type Request = (Method, String, Vec<u8>);

/// Requests received by a stand-in.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Request>>>);

impl Received {
    fn all(&self) -> Vec<Request> {
        self.0.lock().unwrap().clone()
    }
}

async fn record(
    State(got): State<Received>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> &'static str {
    got.0
        .lock()
        .unwrap()
        .push((method, uri.path().to_owned(), body.to_vec()));
    "{}"
}

/// Starts a stand-in on a loopback port; returns its base URL.
async fn stand_in() -> (String, Received) {
    let got = Received::default();
    let app = Router::new().fallback(record).with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

fn start_telemetry(settings: Settings) -> Telemetry {
    let _ = rustls::crypto::ring::default_provider().install_default();
    telemetry::init(&settings.validate().unwrap()).unwrap()
}

/// Stops the exporters (which flushes them) off the async workers: the stand-ins answer on
/// this runtime meanwhile.
async fn stop(t: Telemetry) {
    tokio::task::spawn_blocking(move || drop(t)).await.unwrap();
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn with_an_otlp_endpoint_request_spans_reach_the_collector_with_the_request_id() {
    let (collector, got) = stand_in().await;
    let t = start_telemetry(Settings {
        otlp_endpoint: Some(collector),
        ..Settings::default()
    });
    assert!(t.exports_traces());
    let app = spawn().await;
    let res = app.get("/health/live").await;
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    stop(t).await;

    let exports = got.all();
    assert!(!exports.is_empty(), "the collector received nothing");
    assert!(
        exports
            .iter()
            .all(|(m, path, _)| m == Method::POST && path == "/v1/traces"),
        "{:?}",
        exports.iter().map(|e| &e.1).collect::<Vec<_>>()
    );
    // OTLP protobuf keeps strings as raw bytes: the service name and the request id attribute.
    let all: Vec<u8> = exports.into_iter().flat_map(|e| e.2).collect();
    assert!(contains(&all, "service.name") && contains(&all, "myqcm"));
    assert!(contains(&all, "request_id"), "no request_id attribute");
    assert!(contains(&all, &id), "request {id} is not among the spans");
}

#[tokio::test]
async fn a_server_error_is_reported_once_with_its_request_id_and_nothing_of_the_request() {
    let (relay, got) = stand_in().await;
    let dsn = relay.replace("http://", "http://publickey@") + "/42";
    let t = start_telemetry(Settings {
        sentry_dsn: Secret::new(dsn),
        ..Settings::default()
    });
    assert!(t.reports_errors());
    let app = spawn().await;
    // Successes and client errors are not reported.
    assert_eq!(app.get("/health/live").await.status(), 200);
    assert_eq!(app.get("/api/v1/no-such-route").await.status(), 404);
    let res = app
        .client
        .get(app.url("/api/v1/__test/db-error?token=query-secret-5b1e"))
        .header("cookie", "myqcm_access=cookie-secret-91c3")
        .header("authorization", "Bearer header-secret-77d0")
        .body("body-secret-0a4f")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let id = request_id(&res);
    stop(t).await;

    let envelopes = got.all();
    assert_eq!(envelopes.len(), 1, "expected one event");
    let (method, path, body) = &envelopes[0];
    assert_eq!(method, Method::POST);
    assert_eq!(path, "/api/42/envelope/");
    let text = String::from_utf8_lossy(body);
    assert!(text.contains(&id), "no request id in {text}");
    assert!(
        text.contains("/api/v1/__test/db-error"),
        "no route in {text}"
    );
    assert!(text.contains("\"status\":\"500\""), "no status in {text}");
    // The error message the server logged for that request.
    assert!(text.contains("no_such_table"), "no error message in {text}");
    for secret in [
        "query-secret-5b1e",
        "cookie-secret-91c3",
        "header-secret-77d0",
        "body-secret-0a4f",
        "token=",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
}

#[tokio::test]
async fn without_a_dsn_no_report_is_sent() {
    let (_relay, got) = stand_in().await;
    let t = start_telemetry(Settings::default());
    assert!(!t.reports_errors());
    let app = spawn().await;
    assert_eq!(app.get("/api/v1/__test/db-error").await.status(), 500);
    stop(t).await;
    assert!(got.all().is_empty());
}
