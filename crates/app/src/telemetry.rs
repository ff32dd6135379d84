//! Logs, traces and error reports, all fed by the one `tracing` instrumentation.
//!
//! - Logs: JSON lines in production, readable lines in development. The filter comes from
//!   `RUST_LOG` when set, else `MYQCM_LOG`.
//! - Traces (`MYQCM_OTLP_ENDPOINT`, off by default): the same spans (the `request` span of the
//!   web middleware with its `request_id`, `method`, `route` and `path` fields, and whatever
//!   is nested in it) go to an OTLP/HTTP collector as protobuf, under the service name `myqcm`.
//!   The SDK batches them on its own thread, so the exporter uses reqwest's blocking client.
//! - Error reports (`MYQCM_SENTRY_DSN`, off by default): each response with a 5xx status
//!   becomes one event with the request id, method, route, status and the error message that
//!   the server logged for that request. Nothing else of the request is read: no body, header,
//!   cookie, query string or client address can reach a report.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::Config;

/// The `service.name` of exported spans.
pub const SERVICE_NAME: &str = "myqcm";

/// How long the exporters may take to send what is left when the process stops.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`init`] switched on; flushes and stops the exporters when dropped.
#[must_use = "dropping it stops trace export and error reporting"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    reports: Option<Arc<sentry::Client>>,
}

impl Telemetry {
    /// Whether spans are exported (`MYQCM_OTLP_ENDPOINT` is set).
    pub fn exports_traces(&self) -> bool {
        self.traces.is_some()
    }

    /// Whether server errors are reported (`MYQCM_SENTRY_DSN` is set).
    pub fn reports_errors(&self) -> bool {
        self.reports.is_some()
    }

    /// Sends what is buffered now. Blocks (call it off the async workers).
    pub fn flush(&self) {
        if let Some(p) = &self.traces
            && let Err(e) = p.force_flush()
        {
            tracing::warn!(error = %e, "trace export failed");
        }
        if let Some(c) = &self.reports {
            c.flush(Some(FLUSH_TIMEOUT));
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.traces.take() {
            let _ = p.shutdown_with_timeout(FLUSH_TIMEOUT);
        }
        if let Some(c) = self.reports.take() {
            c.close(Some(FLUSH_TIMEOUT));
        }
    }
}

fn filter(directives: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(directives))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber and the exporters that `config` asks for. Call it once, after
/// a rustls crypto provider is installed (both exporters use reqwest with rustls) and outside
/// any async runtime's worker (the exporters start their own threads).
///
/// # Errors
/// When an exporter cannot be built or a global subscriber is already installed.
pub fn init(config: &Config) -> anyhow::Result<Telemetry> {
    let directives = config.settings.log.as_str();
    let logs = if config.production {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_span_events(FmtSpan::NONE)
            .with_writer(std::io::stderr)
            .with_filter(filter(directives))
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .compact()
            .with_target(false)
            .with_writer(std::io::stderr)
            .with_filter(filter(directives))
            .boxed()
    };
    let traces = config
        .otlp_traces_url
        .as_ref()
        .map(|url| trace_provider(url, config))
        .transpose()?;
    // Spans follow the log filter (a quieter log exports fewer spans); reports need only the
    // request span and the error events, whatever the log level.
    let trace_layer = traces.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(SERVICE_NAME))
            .with_filter(filter(directives))
    });
    let reports = error_reporter(config)?;
    let report_layer = reports.clone().map(|client| {
        ErrorReports { client }.with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_default(Level::WARN)
                .with_target("myqcm_web", Level::INFO),
        )
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(trace_layer)
        .with(report_layer)
        .try_init()?;
    Ok(Telemetry { traces, reports })
}

fn trace_provider(url: &url::Url, config: &Config) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.as_str())
        .with_timeout(Duration::from_secs(10))
        .build()?;
    let resource = Resource::builder()
        .with_service_name(SERVICE_NAME)
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new(
                "deployment.environment.name",
                config.settings.env.to_owned(),
            ),
        ])
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

fn error_reporter(config: &Config) -> anyhow::Result<Option<Arc<sentry::Client>>> {
    let dsn = &config.settings.sentry_dsn;
    if dsn.is_empty() {
        return Ok(None);
    }
    let dsn: sentry::types::Dsn = dsn
        .expose()
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("MYQCM_SENTRY_DSN is not a DSN"))?;
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(env!("CARGO_PKG_VERSION").into());
    options.environment = Some(config.settings.env.clone().into());
    // No panic hook, no host or OS contexts, no request data: we build each event.
    options.default_integrations = false;
    options.send_default_pii = false;
    options.attach_stacktrace = false;
    options.transport = Some(Arc::new(sentry::transports::DefaultTransportFactory));
    Ok(Some(Arc::new(sentry::Client::from(options))))
}

/// What the error report of one request needs, kept on its `request` span.
#[derive(Default)]
struct RequestFacts {
    request_id: String,
    method: String,
    route: String,
    /// The last error message logged inside the request (`error` or `panic` field).
    error: Option<String>,
}

impl Visit for RequestFacts {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, format!("{value:?}"));
    }
}

impl RequestFacts {
    fn set(&mut self, field: &Field, value: String) {
        match field.name() {
            "request_id" => self.request_id = value,
            "method" => self.method = value,
            "route" => self.route = value,
            _ => {}
        }
    }
}

/// The fields of an event that matter to a report.
#[derive(Default)]
struct EventFacts {
    status: Option<u64>,
    error: Option<String>,
}

impl Visit for EventFacts {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "status" {
            self.status = Some(value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "status" {
            self.status = u64::try_from(value).ok();
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "error" | "panic") {
            self.error = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "error" | "panic") {
            self.error = Some(format!("{value:?}"));
        }
    }
}

/// Turns the web middleware's "request failed" event (status ≥ 500, logged when the response
/// leaves) into one report, with the error message logged earlier inside the same request.
struct ErrorReports {
    client: Arc<sentry::Client>,
}

impl ErrorReports {
    fn report(&self, facts: &RequestFacts, status: u64) {
        let error = facts
            .error
            .as_deref()
            .unwrap_or("no error message was logged");
        let route = if facts.route.is_empty() {
            "unmatched"
        } else {
            &facts.route
        };
        let tags = [
            ("request_id", facts.request_id.as_str()),
            ("route", route),
            ("method", facts.method.as_str()),
            ("status", &status.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let event = sentry::protocol::Event {
            level: sentry::Level::Error,
            message: Some(format!("{status} {} {route}: {error}", facts.method)),
            transaction: Some(format!("{} {route}", facts.method)),
            tags,
            ..Default::default()
        };
        self.client.capture_event(event, None);
    }
}

impl<S> Layer<S> for ErrorReports
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        if meta.name() != "request" || !meta.target().starts_with("myqcm_web") {
            return;
        }
        let mut facts = RequestFacts::default();
        attrs.record(&mut facts);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(facts);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() > Level::WARN {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let mut seen = EventFacts::default();
        event.record(&mut seen);
        for span in scope {
            let mut ext = span.extensions_mut();
            let Some(facts) = ext.get_mut::<RequestFacts>() else {
                continue;
            };
            match (seen.status, seen.error) {
                (Some(status), _) if status >= 500 => self.report(facts, status),
                (_, Some(error)) => facts.error = Some(error),
                _ => {}
            }
            return;
        }
    }
}
