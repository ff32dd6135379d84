//! Logs: JSON lines in production, readable lines in development. The filter comes from
//! `RUST_LOG` when set, else `MYQCM_LOG`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(production: bool, filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if production {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_span_events(FmtSpan::NONE)
            .try_init()
    } else {
        builder.compact().with_target(false).try_init()
    };
}
