//! Raw camera frames of every pixel format with random sizes, strides and byte counts (short,
//! exact or long, as a driver's `bytesused` can be) through every converter the booth uses:
//! whole frame to RGB, the centred square (the YUV fast path and the resize) at a random side.
//! A frame may be refused with an error; it must never panic or read out of bounds.
#![no_main]

use std::borrow::Cow;
use std::time::Duration;

use comicbooth::camera::{Frame, PixelFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<9>() else { return };
    let format = PixelFormat::PREFERENCE[head[0] as usize % PixelFormat::PREFERENCE.len()];
    // Sizes up to 1023 x 1023: big enough for every kernel's tails, small enough to be quick.
    let width = u16::from_le_bytes([head[1], head[2]]) as u32 % 1024;
    let height = u16::from_le_bytes([head[3], head[4]]) as u32 % 1024;
    // The stride: the format's smallest, less a little or plus padding.
    let min = format.min_stride(width);
    let stride = (min as i64 + head[5] as i8 as i64).max(0) as usize;
    // bytesused: the size the format needs, shortened or lengthened, or just the input's bytes.
    let needed = format.frame_len(height, stride);
    let len = match head[6] % 4 {
        0 => needed,
        1 => needed.saturating_sub(head[7] as usize + 1),
        2 => needed + head[7] as usize,
        _ => body.len(),
    };
    if len > 4 << 20 {
        return;
    }
    let bytes: Vec<u8> =
        if body.is_empty() { vec![0x80; len] } else { body.iter().copied().cycle().take(len).collect() };
    let side = 1 + head[8] as u32 % 300;
    let frame = Frame {
        format,
        width,
        height,
        stride,
        data: Cow::Borrowed(&bytes),
        sequence: 0,
        timestamp: Duration::ZERO,
        label: String::new(),
    };
    if let Ok(rgb) = comicbooth::convert::frame_to_rgb(&frame) {
        assert_eq!(rgb.dimensions(), (width, height));
    }
    if let Ok(square) = comicbooth::convert::frame_to_square(&frame, side) {
        assert_eq!(square.dimensions(), (side, side));
    }
});
