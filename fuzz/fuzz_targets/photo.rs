//! Photo files (JPEG with EXIF orientation, PNG, GIF, whatever `image` guesses): any bytes must
//! decode or be refused with a `PhotoError`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = comicbooth::photo::decode_photo(data, std::path::Path::new("fuzz.jpg"));
});
