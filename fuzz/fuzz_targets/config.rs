//! The configuration file: any text parses to a checked `Config` or to an error with its
//! location, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = comicbooth::config::Config::parse(text, std::path::Path::new("fuzz.toml")) {
        let _ = e.to_string();
    }
});
