//! Logging: `tracing` to stderr. Spans carry request id, route template,
//! clinic id and actor id only (docs/LOGGING.md). `RUST_LOG` adjusts levels;
//! `VELUM_LOG_FORMAT=json` gives one JSON object per line.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = crate::config::env("VELUM_LOG_FORMAT").is_some_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
