//! Pixel conversion and tensor packing: camera frames to RGB, crop and resize to the model's
//! square, RGB to the model's tensor layout and value range, and back. Pure functions over
//! slices and images; no model or hardware here.
//!
//! The submodules import one way only: `pixels` (frames to RGB) uses `resample` (the YUV fast
//! path) and `bt601` (the colour), `resample` uses `bt601`; `resize` stands alone. None imports
//! this file, which only re-exports them and builds on them.

mod bt601;
mod pixels;
mod resample;
mod resize;

use image::RgbImage;
use serde::Deserialize;

pub use pixels::{FrameError, Rect, encode_i420, encode_yuv};
pub use resize::resize;

use crate::camera::Frame;

/// Axis order of a 4-D image tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Layout {
    /// batch, channel, height, width (PyTorch's order).
    #[serde(rename = "NCHW")]
    Nchw,
    /// batch, height, width, channel (TensorFlow's order).
    #[serde(rename = "NHWC")]
    Nhwc,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Nchw => "NCHW",
            Layout::Nhwc => "NHWC",
        })
    }
}

impl Layout {
    /// The shape of one RGB picture of `w` x `h` in this layout.
    pub fn shape(self, w: usize, h: usize) -> [usize; 4] {
        match self {
            Layout::Nchw => [1, 3, h, w],
            Layout::Nhwc => [1, h, w, 3],
        }
    }
}

/// The float range a tensor's pixel values span: 0 maps to `lo`, 255 to `hi`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(from = "[f32; 2]")]
pub struct ValueRange {
    /// Value of a black channel.
    pub lo: f32,
    /// Value of a full channel.
    pub hi: f32,
}

impl From<[f32; 2]> for ValueRange {
    fn from([lo, hi]: [f32; 2]) -> Self {
        ValueRange { lo, hi }
    }
}

impl ValueRange {
    /// [0, 1].
    pub const UNIT: ValueRange = ValueRange { lo: 0.0, hi: 1.0 };
}

/// Converts a whole frame of any supported format to packed RGB.
pub fn frame_to_rgb(frame: &Frame) -> Result<RgbImage, FrameError> {
    pixels::to_rgb(frame, Rect::full(frame.width, frame.height))
}

/// The centred square of a frame, converted to RGB and resized to `side` x `side`: only the
/// kept part of the frame is converted. YUV frames are resized before conversion
/// ([`pixels::yuv_square`]); the others are converted, then resized.
pub fn frame_to_square(frame: &Frame, side: u32) -> Result<RgbImage, FrameError> {
    let crop = Rect::centred(frame.width, frame.height, 1, 1);
    if let Some(square) = pixels::yuv_square(frame, crop, side)? {
        return Ok(square);
    }
    Ok(resize(&pixels::to_rgb(frame, crop)?, side, side))
}

/// Cuts the centre of `img` to a square and resizes it to `side` x `side`.
pub fn crop_square(img: &RgbImage, side: u32) -> RgbImage {
    let c = Rect::centred(img.width(), img.height(), 1, 1);
    resize(&image::imageops::crop_imm(img, c.x, c.y, c.w, c.h).to_image(), side, side)
}

/// Packs an RGB image into a tensor buffer of the given layout and range.
pub fn to_tensor(img: &RgbImage, layout: Layout, range: ValueRange) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let scale = (range.hi - range.lo) / 255.0;
    let px = img.as_raw();
    match layout {
        Layout::Nhwc => px.iter().map(|&v| range.lo + v as f32 * scale).collect(),
        Layout::Nchw => {
            debug_assert_eq!(px.len(), w * h * 3);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { nchw_avx2(px, range.lo, scale) };
            }
            nchw(px, range.lo, scale)
        }
    }
}

/// [`nchw`] compiled for AVX2: the compiler's byte-to-float conversion and de-interleaving are
/// then 8 wide instead of mostly scalar (the x86_64 baseline has no byte shuffles).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn nchw_avx2(px: &[u8], lo: f32, scale: f32) -> Vec<f32> {
    nchw(px, lo, scale)
}

/// Packed RGB to three planes of `lo + v * scale`, 16 pixels at a time in fixed-size arrays
/// (so the compiler vectorises the de-interleaving: NEON's `ld3`, AVX2 shuffles) into the
/// vector's spare capacity: no zero-filling of the 3 x 4 bytes per pixel first.
#[inline(always)]
fn nchw(px: &[u8], lo: f32, scale: f32) -> Vec<f32> {
    const LANES: usize = 16;
    let n = px.len() / 3;
    let mut out: Vec<f32> = Vec::with_capacity(n * 3);
    let planes = &mut out.spare_capacity_mut()[..n * 3];
    let (r, rest) = planes.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    let whole = n / LANES * LANES;
    let (r_blocks, g_blocks, b_blocks) = (
        r[..whole].chunks_exact_mut(LANES),
        g[..whole].chunks_exact_mut(LANES),
        b[..whole].chunks_exact_mut(LANES),
    );
    for (((p, r), g), b) in px.chunks_exact(LANES * 3).zip(r_blocks).zip(g_blocks).zip(b_blocks) {
        let p: &[u8; LANES * 3] = p.try_into().expect("a block of pixels");
        for k in 0..LANES {
            r[k].write(lo + p[3 * k] as f32 * scale);
            g[k].write(lo + p[3 * k + 1] as f32 * scale);
            b[k].write(lo + p[3 * k + 2] as f32 * scale);
        }
    }
    for i in whole..n {
        r[i].write(lo + px[3 * i] as f32 * scale);
        g[i].write(lo + px[3 * i + 1] as f32 * scale);
        b[i].write(lo + px[3 * i + 2] as f32 * scale);
    }
    // SAFETY: the loops above wrote all of the first n * 3 values: every pixel of the whole
    // blocks, then every pixel after them.
    unsafe { out.set_len(n * 3) };
    out
}

/// Unpacks a tensor buffer into an RGB image; values outside the range are clamped.
pub fn from_tensor(data: &[f32], w: u32, h: u32, layout: Layout, range: ValueRange) -> RgbImage {
    let n = w as usize * h as usize;
    assert_eq!(data.len(), n * 3, "tensor of {} values cannot be a {w}x{h} RGB image", data.len());
    let scale = 255.0 / (range.hi - range.lo);
    let to_u8 = |v: f32| round_to_u8((v - range.lo) * scale);
    let mut out = vec![0u8; n * 3];
    match layout {
        Layout::Nhwc => out.iter_mut().zip(data).for_each(|(o, &v)| *o = to_u8(v)),
        Layout::Nchw => {
            let (r, g, b) = (&data[..n], &data[n..2 * n], &data[2 * n..]);
            for (px, ((&r, &g), &b)) in out.chunks_exact_mut(3).zip(r.iter().zip(g).zip(b)) {
                px.copy_from_slice(&[to_u8(r), to_u8(g), to_u8(b)]);
            }
        }
    }
    RgbImage::from_raw(w, h, out).expect("buffer sized to w*h*3")
}

/// `x.round().clamp(0.0, 255.0) as u8`, exactly (halves away from zero, NaN to 0), without
/// `f32::round`: a library call on x86_64's baseline (`from_tensor` with it: 5% of
/// `comicbooth bench`'s samples under perf; 1.7% without). In 0..=255 the truncation and the
/// fraction left are exact.
#[inline]
fn round_to_u8(x: f32) -> u8 {
    let x = x.clamp(0.0, 255.0);
    let whole = x as u8;
    whole + (x - whole as f32 >= 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_bytes_matches_f32_round_then_clamp() {
        let mut xs: Vec<f32> = (-2000..300_000).map(|i| i as f32 * 0.001 - 0.3).collect();
        xs.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.5, 254.5, 255.49998, 1e30, -1e30]);
        xs.extend((0..256).flat_map(|i| {
            let h = i as f32 + 0.5;
            [h, f32::from_bits(h.to_bits() - 1), f32::from_bits(h.to_bits() + 1)]
        }));
        for x in xs {
            assert_eq!(round_to_u8(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
        }
    }

    #[test]
    fn crop_takes_the_centre() {
        // 4x2: left and right columns red, middle two green.
        let mut img = RgbImage::from_pixel(4, 2, image::Rgb([255, 0, 0]));
        for y in 0..2 {
            img.put_pixel(1, y, image::Rgb([0, 255, 0]));
            img.put_pixel(2, y, image::Rgb([0, 255, 0]));
        }
        let sq = crop_square(&img, 2);
        assert!(sq.pixels().all(|p| p.0 == [0, 255, 0]));
    }

    #[test]
    fn nchw_planes_and_ranges() {
        let img = RgbImage::from_raw(2, 1, vec![0, 51, 255, 255, 0, 102]).unwrap();
        let t = to_tensor(&img, Layout::Nchw, ValueRange::UNIT);
        let want = [0.0, 1.0, 0.2, 0.0, 1.0, 0.4];
        assert!(t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{t:?}");
        let t = to_tensor(&img, Layout::Nhwc, ValueRange { lo: -1.0, hi: 1.0 });
        assert_eq!(t[0], -1.0);
        assert_eq!(t[2], 1.0);
    }

    #[test]
    fn nchw_packing_equals_a_plain_loop_at_any_size() {
        // Sizes with and without a partial 16-pixel block at the end; every byte value.
        for (w, h) in [(256, 256), (58, 58), (17, 3), (5, 1)] {
            let img = RgbImage::from_fn(w, h, |x, y| {
                let i = (y * w + x) * 3;
                image::Rgb([(i * 7) as u8, (i * 7 + 91) as u8, (i * 13 + 200) as u8])
            });
            for range in
                [ValueRange::UNIT, ValueRange { lo: -1.0, hi: 1.0 }, ValueRange { lo: 0.0, hi: 255.0 }]
            {
                let scale = (range.hi - range.lo) / 255.0;
                let n = (w * h) as usize;
                let mut want = vec![0.0f32; n * 3];
                for (i, p) in img.pixels().enumerate() {
                    for c in 0..3 {
                        want[c * n + i] = range.lo + p.0[c] as f32 * scale;
                    }
                }
                let got = to_tensor(&img, Layout::Nchw, range);
                // Bit for bit: the same float operations in the same order.
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{w}x{h} {range:?}");
            }
        }
    }

    #[test]
    fn tensor_round_trip_is_exact_in_both_layouts() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 50, y as u8 * 80, 7]));
        for layout in [Layout::Nchw, Layout::Nhwc] {
            for range in [ValueRange::UNIT, ValueRange { lo: -1.0, hi: 1.0 }] {
                let t = to_tensor(&img, layout, range);
                assert_eq!(from_tensor(&t, 5, 3, layout, range), img, "{layout:?} {range:?}");
            }
        }
    }
}
