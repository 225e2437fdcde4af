//! Logs: one line per event on stderr (journald keeps stderr), level from the config unless
//! `RUST_LOG` is set.

use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored).
pub fn init(level: LogLevel) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level.as_str()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
