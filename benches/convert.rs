//! Camera frame -> 256x256 model tensor (`convert::frame_into_tensor`) for every pixel format at
//! 640x480 and 1280x720, beside a plain copy of the same frame's bytes (the yardstick:
//! conversion cannot beat reading the frame once; YUYV's and NV12's). Target from issue #4:
//! YUYV and NV12 at 640x480 within 3x of that copy. Then the preview's path (`frame_to_square`,
//! RGB bytes) for YUYV and NV12.
//! YUV frames go through `convert::resample` (halvings into 4:4:4 planes, 2-tap bilinear,
//! table-shuffle horizontal taps fused with a fixed-point colour conversion straight into the
//! f32 planes, here a reused 64-byte aligned one). Measured on the shared 2-core dev box (AMD
//! EPYC, Zen 4: the AVX-512 kernels), as multiples of the memcpy of the same frame in the same
//! run: 640x480 YUYV 36 to 39 us (2.7x to 2.9x; 161 us, 12x, before the planar resampler),
//! NV12 34.7 to 36.6 us (3.7x to 4.1x of its own 8.9 to 9.9 us copy, 2.6x to 2.8x of YUYV's);
//! 1280x720 YUYV 51 to 55 us (1.3x to 1.4x), NV12 51 to 54 us (1.8x). On the AVX2 kernels
//! alone 640x480 YUYV takes 45 to 46 us (3.5x). RGB square: 640x480 YUYV 73 us, NV12 73 us.
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
            // Into a reused, cache-line aligned tensor, as the memcpy copies into a reused buffer.
            let (mut buffer, at) = convert::aligned_f32(256 * 256 * 3);
            group.bench_with_input(BenchmarkId::from_parameter(format), &f, |b, f| {
                b.iter(|| {
                    let tensor = black_box(&mut buffer[at.clone()]);
                    convert::frame_into_tensor(black_box(f), 256, Layout::Nchw, ValueRange::UNIT, tensor)
                        .unwrap()
                })
            });
        }
        group.finish();
        // The preview's path: the same resampling into packed RGB bytes.
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
