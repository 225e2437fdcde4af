//! A camera frame to the generator's 256x256 input tensor, the way the product does it:
//! `convert::frame_to_square` (the RGB square the booth shows and keeps), then
//! `convert::to_tensor` (NCHW, values in [0, 1]), for every pixel format at 640x480 and
//! 1280x720, beside a plain copy of a YUYV and of an NV12 frame's bytes (the yardstick:
//! conversion cannot beat reading the frame once). Then the square alone for YUYV and NV12.
//! YUV frames are resampled while still YUV (`convert::resample`: box halvings into 4:4:4
//! planes, a 2-tap bilinear, table-shuffle horizontal taps) and only the 256x256 result is
//! converted to RGB; the other formats are converted, then resized.
//! Measured on the shared 2-core dev box (AMD EPYC, Zen 4: the AVX-512 kernels), criterion's
//! estimates on a quiet run: 640x480 YUYV and UYVY 77 to 80 us (10x the 7.6 us frame copy),
//! NV12 and NV21 77 to 82 us (16x to 17x of their own 4.8 us copy), RGB24 214 us, BGR24 279 us,
//! GREY 289 us, MJPEG 1.10 ms; 1280x720 YUYV and UYVY 89 to 95 us (2.3x to 2.5x the 38 us
//! copy), NV12 and NV21 86 us (3.1x their 27 us copy), RGB24 268 us, BGR24 and GREY 450 us,
//! MJPEG 2.8 ms. The square alone: 62 us at 640x480, 72 to 74 us at 1280x720; `to_tensor`
//! takes the other 15 us or so.
//! Run: `cargo bench --bench convert` (`-- 640x480` for one size).

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use comicbooth::camera::{Frame, PixelFormat};
use comicbooth::convert::{self, Layout, ValueRange};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// A frame of plausible content (smooth gradients) in `format`.
fn frame(format: PixelFormat, w: u32, h: u32) -> Frame<'static> {
    let stride = format.min_stride(w);
    let data = if format == PixelFormat::Mjpeg {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
            .encode_image(&img)
            .expect("encoding a synthetic frame");
        jpeg
    } else {
        let len = format.frame_len(h, stride);
        (0..len).map(|i| ((i * 7) % 251) as u8).collect()
    };
    Frame {
        format,
        width: w,
        height: h,
        stride,
        data: Cow::Owned(data),
        sequence: 0,
        timestamp: Duration::ZERO,
        label: String::new(),
    }
}

fn to_tensor(c: &mut Criterion) {
    for (w, h) in [(640, 480), (1280, 720)] {
        let mut group = c.benchmark_group(format!("{w}x{h} to 256x256 NCHW tensor"));
        for format in [PixelFormat::Yuyv, PixelFormat::Nv12] {
            let f = frame(format, w, h);
            let mut copy = vec![0u8; f.data.len()];
            group.bench_function(format!("memcpy of the {format} frame (yardstick)"), |b| {
                b.iter(|| black_box(&mut copy).copy_from_slice(black_box(&f.data)))
            });
        }
        for format in PixelFormat::PREFERENCE {
            let f = frame(format, w, h);
            group.bench_with_input(BenchmarkId::from_parameter(format), &f, |b, f| {
                b.iter(|| {
                    let square = convert::frame_to_square(black_box(f), 256).unwrap();
                    convert::to_tensor(&square, Layout::Nchw, ValueRange::UNIT)
                })
            });
        }
        group.finish();
        // The first step alone: what the booth's preview costs.
        let mut group = c.benchmark_group(format!("{w}x{h} to 256x256 RGB square"));
        for format in [PixelFormat::Yuyv, PixelFormat::Nv12] {
            let f = frame(format, w, h);
            group.bench_with_input(BenchmarkId::from_parameter(format), &f, |b, f| {
                b.iter(|| convert::frame_to_square(black_box(f), 256).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = to_tensor
}
criterion_main!(benches);
