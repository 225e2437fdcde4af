//! Logs: one line per event on stderr (journald keeps stderr), level from the config's
//! `log.level` unless `RUST_LOG` is set to a filter. The systemd unit does not set `RUST_LOG`,
//! so `log.level` rules there too; a user who sets it (a drop-in, a shell) overrides it.

use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored).
pub fn init(level: LogLevel) {
    let env = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let (filter, refused) = choose_filter(env.as_deref(), level);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    if let Some(reason) = refused {
        tracing::warn!(
            "RUST_LOG={:?} is not a log filter ({reason}), using log.level = {:?}; fix: unset RUST_LOG or set it to a level such as `debug`",
            env.unwrap_or_default(),
            level.as_str()
        );
    }
}

/// The filter from `RUST_LOG`'s value when it is set and not blank, else from `level`; when
/// `RUST_LOG` does not parse, `level`'s filter and why.
fn choose_filter(env: Option<&str>, level: LogLevel) -> (EnvFilter, Option<String>) {
    let from_config = || EnvFilter::new(level.as_str());
    // A blank RUST_LOG (`Environment=RUST_LOG=` in a drop-in, `export RUST_LOG=`) would give an
    // empty filter, errors only: treat it as unset.
    match env.map(str::trim).filter(|v| !v.is_empty()) {
        None => (from_config(), None),
        Some(v) => match EnvFilter::try_new(v) {
            Ok(filter) => (filter, None),
            Err(e) => (from_config(), Some(e.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(env: Option<&str>, level: LogLevel) -> (String, bool) {
        let (filter, refused) = choose_filter(env, level);
        (filter.to_string(), refused.is_some())
    }

    #[test]
    fn the_config_level_rules_unless_rust_log_is_set() {
        assert_eq!(chosen(None, LogLevel::Debug), ("debug".into(), false));
        assert_eq!(chosen(None, LogLevel::Warn), ("warn".into(), false));
        assert_eq!(chosen(Some("trace"), LogLevel::Warn), ("trace".into(), false));
        assert_eq!(chosen(Some("comicbooth=debug"), LogLevel::Info), ("comicbooth=debug".into(), false));
    }

    #[test]
    fn a_blank_rust_log_counts_as_unset() {
        assert_eq!(chosen(Some(""), LogLevel::Debug), ("debug".into(), false));
        assert_eq!(chosen(Some("  "), LogLevel::Error), ("error".into(), false));
    }

    #[test]
    fn a_rust_log_that_does_not_parse_falls_back_to_the_config_and_says_so() {
        assert_eq!(chosen(Some("comicbooth=loud"), LogLevel::Info), ("info".into(), true));
    }
}
