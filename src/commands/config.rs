//! `comicbooth config`: the configuration as a person reads it.

use crate::config::{Config, DEFAULT_TOML};

/// The default configuration file, every key with its comment, when `default` is asked for or
/// no file was given; else the loaded configuration with every value it resolved to.
pub fn show(config: &Config, default: bool, from_file: bool) -> String {
    if default || !from_file { DEFAULT_TOML.to_owned() } else { format!("{config:#?}\n") }
}
