//! What fuzzing found (scripts/fuzz, fuzz/fuzz_targets/), each a regression test named after
//! what it was, on the very input the fuzzer saved (tests/fixtures/fuzz/).

use std::borrow::Cow;
use std::time::Duration;

use comicbooth::camera::{Frame, PixelFormat};
use comicbooth::convert::FrameError;
use comicbooth::photo::{PhotoError, decode_photo};

use crate::util::repo;

/// fuzz target `photo`: a 133-byte PNG whose header says 16 x 1,392,508,940 pixels. The
/// decoder allocated the 66 GB its header asked for and the process aborted (not even a
/// panic: a booth with it in its photo folder, or `stylize` on it, died). Now refused, by size.
/// (Its chunk CRCs are recomputed here: fuzzing builds of the `png` crate skip the CRC check,
/// and with valid CRCs it is a file anyone can make.)
#[test]
fn a_png_header_claiming_a_billion_rows_is_refused_before_allocating() {
    let path = repo("tests/fixtures/fuzz/png-header-claiming-1.4-billion-rows.png");
    let bytes = std::fs::read(&path).unwrap();
    match decode_photo(&bytes, &path) {
        Err(e @ PhotoError::TooLarge { width: 16, height: 1_392_508_940, .. }) => {
            let text = e.to_string();
            assert!(text.contains("16x1392508940") && text.contains("fix:"), "{text}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

/// The same for JPEG (photos and MJPEG frames): a header claiming more than a booth decodes is
/// refused before the pixels are allocated. (A 65,000 x 65,000 baseline JPEG header, no data.)
#[test]
fn a_jpeg_header_claiming_too_many_pixels_is_refused() {
    let mut jpeg = image::RgbImage::new(8, 8);
    jpeg.put_pixel(1, 1, image::Rgb([200, 10, 10]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut bytes).encode_image(&jpeg).unwrap();
    // SOF0: FF C0, length (2), precision (1), height (2), width (2).
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline JPEG");
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    let err = comicbooth::photo::decode_jpeg(&bytes).unwrap_err().to_string();
    assert!(err.contains("pixels") || err.contains("dimensions") || err.contains("width"), "{err}");
}

/// fuzz target `frames`: an NV12 frame of 64x0 pixels (a driver reporting a zero height)
/// panicked in the converter (`crop Rect { x: 32, y: 0, w: 1, h: 1 } outside 64x0`), which
/// would take the booth down. Now an error the booth drops like any broken frame.
#[test]
fn a_frame_with_zero_height_is_refused_not_a_panic() {
    let input = std::fs::read(repo("tests/fixtures/fuzz/nv12-frame-64x0")).unwrap();
    assert_eq!(&input[..5], &[2, 0x40, 0, 0, 0], "format 2 (NV12), 64 x 0");
    for format in PixelFormat::PREFERENCE {
        for (width, height) in [(64, 0), (0, 48), (0, 0)] {
            let data = vec![0x80u8; 4096];
            let frame = Frame {
                format,
                width,
                height,
                stride: format.min_stride(width),
                data: Cow::Borrowed(&data),
                sequence: 7,
                timestamp: Duration::ZERO,
                label: String::new(),
            };
            let square = comicbooth::convert::frame_to_square(&frame, 64);
            assert!(
                matches!(square, Err(FrameError::Empty { sequence: 7, .. })),
                "{format} {width}x{height}"
            );
            let rgb = comicbooth::convert::frame_to_rgb(&frame);
            assert!(matches!(rgb, Err(FrameError::Empty { .. })), "{format} {width}x{height}");
        }
    }
}

/// fuzz target `frames`: an NV12 frame 261 pixels wide (odd) with a stride of 261 bytes. Its
/// chroma rows need 262 (a U V pair for the last, unpaired pixel too), so the converter read
/// one byte past the buffer and panicked (`index out of bounds: the len is 261 but the index is
/// 261`). The smallest NV12/NV21 stride is now the width rounded up to even: such a frame is
/// refused as short, and one with a proper stride converts.
#[test]
fn an_odd_width_nv12_frame_whose_stride_leaves_no_room_for_the_last_chroma_pair_is_refused() {
    let input = std::fs::read(repo("tests/fixtures/fuzz/nv12-frame-261-wide-stride-261")).unwrap();
    assert_eq!(input[0] as usize % 8, 2, "PixelFormat::PREFERENCE[2], NV12");
    for format in [PixelFormat::Nv12, PixelFormat::Nv21] {
        assert_eq!(format.min_stride(261), 262);
        for (stride, ok) in [(261, false), (262, true)] {
            let data = vec![0x80u8; format.frame_len(256, stride)];
            let frame = Frame {
                format,
                width: 261,
                height: 256,
                stride,
                data: Cow::Borrowed(&data),
                sequence: 1,
                timestamp: Duration::ZERO,
                label: String::new(),
            };
            let square = comicbooth::convert::frame_to_square(&frame, 100);
            let rgb = comicbooth::convert::frame_to_rgb(&frame);
            if ok {
                assert_eq!(square.unwrap().dimensions(), (100, 100));
                assert_eq!(rgb.unwrap().dimensions(), (261, 256));
            } else {
                assert!(
                    matches!(square, Err(FrameError::Short { .. })),
                    "{format} stride {stride}: {square:?}"
                );
                assert!(matches!(rgb, Err(FrameError::Short { .. })), "{format} stride {stride}");
            }
        }
    }
}
