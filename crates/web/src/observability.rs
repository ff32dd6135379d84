//! Prometheus metrics: one process-wide recorder, rendered by our own `/metrics` route.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Histogram buckets of work measured in microseconds (grading, item selection).
const MICRO_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005,
    0.01, 0.05,
];

/// Installs the global recorder once (later calls return the same handle).
pub fn install_recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0,
                    ],
                )
                .and_then(|b| {
                    // Grading and selection take microseconds.
                    b.set_buckets_for_metric(
                        Matcher::Full("myqcm_grading_seconds".into()),
                        MICRO_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("myqcm_selection_seconds".into()),
                        MICRO_BUCKETS,
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by a test harness); we still
            // render our own.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// `GET /metrics`: request counters and latency, in-flight requests, and whatever else the
/// process records (the worker keeps `myqcm_jobs{status}` up to date). A scrape never queries
/// the database.
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        install_recorder().render(),
    )
}
