//! A model's manifest (the TOML beside the .onnx file): any bytes parse or are refused with a
//! `ModelError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match comicbooth::model::Manifest::parse(data, std::path::Path::new("fuzz.toml")) {
        Ok(m) => {
            let _ = format!("{m:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
