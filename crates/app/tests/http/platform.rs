//! Real HTTP round trips against a server on a loopback port, with a fresh database per test
//! (SQLite by default, PostgreSQL with `MYQCM_TEST_DATABASE_URL`; Redis with
//! `MYQCM_TEST_REDIS_URL`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use serde_json::Value;

use crate::support::{spawn_app, spawn_app_with};

const LEAKS: &[&str] = &[
    "panicked",
    ".rs:",
    "SELECT",
    "select ",
    "sqlx",
    "sea_orm",
    "no_such_table",
    "stack backtrace",
];

async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let header_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = res.text().await.unwrap();
    for leak in LEAKS {
        assert!(!text.contains(leak), "body leaks {leak:?}: {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code);
    assert_eq!(body["request_id"], header_id.as_str());
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)));
    body
}

#[tokio::test]
async fn health_probes_answer_and_ready_checks_database_and_cache() {
    let app = spawn_app().await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), 200);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["cache"], "ok");
    app.stop().await;
}

#[tokio::test]
async fn unknown_api_route_is_a_problem_with_code_and_request_id() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/does-not-exist").await, 404, "not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_page_is_an_html_page_showing_the_request_id() {
    let app = spawn_app().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains(&id), "page shows the request id");
    assert!(html.contains("<html lang="));
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_and_wrong_shapes_get_clear_problems() {
    let app = spawn_app().await;
    let send = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url("/api/v1/__test/echo"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    assert_problem(
        send("{\"message\": ", "application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    let body = assert_problem(
        send("{\"message\": 5}", "application/json").await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert!(body["errors"].as_array().is_some_and(|e| !e.is_empty()));
    assert_problem(
        send("{}", "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let ok = send("{\"message\": \"salut\"}", "application/json")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_gives_a_bare_500_without_internals() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/__test/panic").await, 500, "internal").await;
    // The server keeps serving after a panic.
    assert_eq!(app.get("/health/live").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_database_error_never_shows_sql_or_driver_names() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/__test/db-error").await, 500, "internal").await;
    app.stop().await;
}

#[tokio::test]
async fn wrong_method_and_oversized_bodies_use_the_same_error_shape() {
    let app = spawn_app_with(|c| c.body_limit = 1024).await;
    assert_problem(
        app.client
            .delete(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    let big = format!("{{\"message\": \"{}\"}}", "x".repeat(4096));
    let res = app
        .client
        .post(app.url("/api/v1/__test/echo"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
    app.stop().await;
}

/// File uploads (documents for generation, imports) get their own, larger limit; every other
/// route keeps the small one, whether the size is declared or only found while reading.
#[tokio::test]
async fn upload_routes_take_larger_bodies_than_the_rest() {
    let app = spawn_app_with(|c| {
        c.body_limit = 1024;
        c.upload_limit = 8192;
    })
    .await;
    let post = |path: &str, len: usize| {
        app.client
            .post(app.url(path))
            .header("content-type", "multipart/form-data; boundary=x")
            .body("x".repeat(len))
            .send()
    };
    // Under the upload limit, an upload route reaches its handler (which wants a session).
    for path in ["/api/v1/admin/imports", "/api/v1/ai/generations"] {
        let res = post(path, 4096).await.unwrap();
        assert_ne!(res.status(), 413, "{path}");
    }
    assert_problem(
        post("/api/v1/admin/imports", 9000).await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    assert_problem(
        post("/api/v1/__test/echo", 4096).await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    // No Content-Length (chunked): the limit holds while the body is read.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut raw = String::from(
        "POST /api/v1/__test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..8 {
        raw.push_str(&format!("1f4\r\n{}\r\n", "y".repeat(500)));
    }
    raw.push_str("0\r\n\r\n");
    tcp.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_when_well_formed_and_replaced_otherwise() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "abc-123_X.y")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123_X.y");
    let res = app
        .client
        .get(app.url("/api/v1/nowhere"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "bad id\twith spaces");
    assert_eq!(id.len(), 36, "a generated uuid");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/health/live", "/api/v1/nowhere"] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS on plain http"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app =
        spawn_app_with(|c| c.public_base_url = "https://myqcm.example".parse().unwrap()).await;
    let res = app.get("/health/live").await;
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    app.stop().await;
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_counters_move() {
    let app = spawn_app().await;
    let scrape = || async {
        let r = app
            .client
            .get(format!("{}/metrics", app.metrics_base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        r.text().await.unwrap()
    };
    let count = |text: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with("http_requests_total{")
                    && l.contains("route=\"/health/live\"")
                    && l.contains("status=\"200\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let before = count(&scrape().await);
    for _ in 0..3 {
        app.get("/health/live").await;
    }
    let text = scrape().await;
    assert!(
        count(&text) >= before + 3.0,
        "counter moved by 3: {before} -> {}",
        count(&text)
    );
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("http_requests_in_flight"));
    // The public listener has no /metrics, and the metrics listener nothing else.
    assert_eq!(app.get("/metrics").await.status(), 404);
    let other = app
        .client
        .get(format!("{}/health/live", app.metrics_base))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_the_routes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/health/live"].is_object());
    assert!(doc["paths"]["/health/ready"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());

    // Every error any operation may answer is documented as a problem (found by schemathesis:
    // problems were documented as application/json and most error statuses not at all).
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            assert_eq!(
                responses["default"]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path}"
            );
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let types: Vec<&String> = r["content"].as_object().unwrap().keys().collect();
                    assert_eq!(
                        types,
                        ["application/problem+json"],
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    assert!(operations > 100, "{operations}");
    // Three different "session" types, three schema names (one name had hidden the others:
    // the current sign-in was documented as a training session).
    let schema_of = |path: &str, method: &str, status: &str| {
        let c = &doc["paths"][path][method]["responses"][status]["content"]["application/json"];
        c["schema"]["$ref"]
            .as_str()
            .or(c["schema"]["items"]["$ref"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        schema_of("/api/v1/auth/session", "get", "200"),
        "#/components/schemas/CurrentSignIn"
    );
    assert_eq!(
        schema_of("/api/v1/account/sessions", "get", "200"),
        "#/components/schemas/SignInSession"
    );
    assert_eq!(
        schema_of("/api/v1/training-sessions", "post", "201"),
        "#/components/schemas/SessionView"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_landing_page_renders_in_the_negotiated_language() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/"))
        .header("accept-language", "ar")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(html.contains("<h1>"));
    let fr = app.get("/").await.text().await.unwrap();
    assert!(fr.contains("<html lang=\"fr\" dir=\"ltr\">"));
    let css = app.get("/static/app.css").await;
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    app.stop().await;
}

#[tokio::test]
async fn test_routes_do_not_exist_unless_enabled() {
    let app = spawn_app_with(|c| c.test_routes = false).await;
    assert_problem(app.get("/api/v1/__test/panic").await, 404, "not_found").await;
    app.stop().await;
}
