//! `comicbooth run`: the booth as a service. The loop, signals and watchdog live in
//! [`crate::daemon`]; this is the command's entry.

use std::path::Path;
use std::time::Duration;

use crate::config::Config;

/// Runs the booth until SIGTERM or SIGINT, or for `seconds`; SIGHUP reloads `config_path`.
pub fn run(config: &Config, config_path: Option<&Path>, seconds: Option<u64>) -> anyhow::Result<()> {
    crate::daemon::run(config, config_path, seconds.map(Duration::from_secs))
}
