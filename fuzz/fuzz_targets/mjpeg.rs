//! MJPEG camera frames: any bytes as a frame (the completeness check, the strict decoder, the
//! crop and resize), as a camera with a torn or corrupt frame would hand them over.
#![no_main]

use std::borrow::Cow;
use std::time::Duration;

use comicbooth::camera::{Frame, PixelFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = comicbooth::photo::jpeg_is_complete(data);
    let decoded = comicbooth::photo::decode_jpeg(data);
    let Ok(img) = decoded else { return };
    // A JPEG that decodes, as a frame of the size it says.
    if img.width() > 4096 || img.height() > 4096 {
        return;
    }
    let frame = Frame {
        format: PixelFormat::Mjpeg,
        width: img.width(),
        height: img.height(),
        stride: 0,
        data: Cow::Borrowed(data),
        sequence: 0,
        timestamp: Duration::ZERO,
        label: String::new(),
    };
    let _ = comicbooth::convert::frame_to_square(&frame, 64);
});
