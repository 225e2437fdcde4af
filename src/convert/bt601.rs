//! BT.601 limited range (Y 16-235, Cb and Cr 16-240), the colour of UVC webcams, the Pi's V4L2
//! nodes and vivid, in one place: [`rgb`] decodes a pixel, [`row`] a row of them at SIMD speed
//! (the YUV resampler's output rows), [`ycbcr`] encodes one (for `encode_yuv`'s frames).

/// Pixels converted together by [`row`].
const LANES: usize = 16;

/// Limited-range YCbCr to RGB in 8.8 fixed point: ITU-R BT.601's inverse matrix scaled by 256,
/// with the range expansion folded in (luma `256 * 255/219 = 298`; chroma `256 * 255/224`
/// times 1.402, 0.344, 0.714 and 1.772: 409, 100, 208 and 516), rounded to nearest and
/// clamped to 0-255.
#[inline(always)]
pub(super) fn rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = 298 * (y as i32 - 16) + 128;
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    let clamp = |x: i32| (x >> 8).clamp(0, 255) as u8;
    [clamp(c + 409 * e), clamp(c - 100 * d - 208 * e), clamp(c + 516 * d)]
}

/// [`rgb`] for [`LANES`] pixels at once into packed RGB: plain loops over fixed-size arrays,
/// which the compiler turns into SIMD (SSE/AVX2 on x86, NEON on ARM) without intrinsics.
#[inline(always)]
fn block(ys: &[u8; LANES], us: &[u8; LANES], vs: &[u8; LANES], out: &mut [u8]) {
    let (mut r, mut g, mut b) = ([0u8; LANES], [0u8; LANES], [0u8; LANES]);
    for k in 0..LANES {
        [r[k], g[k], b[k]] = rgb(ys[k], us[k], vs[k]);
    }
    for (k, px) in out[..LANES * 3].chunks_exact_mut(3).enumerate() {
        px.copy_from_slice(&[r[k], g[k], b[k]]);
    }
}

/// Rows of Y, U and V samples (same length) into packed RGB, [`LANES`] pixels at a time.
#[inline(always)]
pub(super) fn row(ys: &[u8], us: &[u8], vs: &[u8], out: &mut [u8]) {
    let blocks = ys.chunks_exact(LANES).zip(us.chunks_exact(LANES)).zip(vs.chunks_exact(LANES));
    for (((y, u), v), out) in blocks.zip(out.chunks_exact_mut(LANES * 3)) {
        let lanes = |s: &[u8]| -> [u8; LANES] { s.try_into().expect("LANES bytes") };
        block(&lanes(y), &lanes(u), &lanes(v), out);
    }
    let done = ys.len() / LANES * LANES;
    for i in done..ys.len() {
        out[i * 3..i * 3 + 3].copy_from_slice(&rgb(ys[i], us[i], vs[i]));
    }
}

/// An RGB pixel's limited-range Y, Cb and Cr, unrounded: ITU-R BT.601's matrix for 8-bit
/// signals.
pub(super) fn ycbcr(pixel: [u8; 3]) -> [f64; 3] {
    let [r, g, b] = pixel.map(|c| c as f64);
    [
        16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0,
        128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0,
        128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_conversion_equals_the_scalar_one_for_every_input() {
        // All 2^24 (Y, U, V) triples: a row of the 256 lumas per chroma pair, so the SIMD
        // blocks (16 whole ones) see every Y with every U and V.
        let ys: Vec<u8> = (0..=255).collect();
        let (mut blocks, mut scalar) = ([0u8; 256 * 3], [0u8; 256 * 3]);
        for u in 0..=255 {
            for v in 0..=255 {
                row(&ys, &[u; 256], &[v; 256], &mut blocks);
                for (px, &y) in scalar.chunks_exact_mut(3).zip(&ys) {
                    px.copy_from_slice(&rgb(y, u, v));
                }
                assert!(blocks == scalar, "U {u} V {v}");
            }
        }
    }

    #[test]
    fn decoding_inverts_encoding() {
        // Within 2 levels: the encoded samples round to whole levels, which the inverse's gains
        // (up to 2.02 for Cb into blue) magnify.
        let levels: Vec<u8> = (0..=255).step_by(15).chain([1, 254, 255]).collect();
        for &r in &levels {
            for &g in &levels {
                for &b in &levels {
                    let [y, u, v] = ycbcr([r, g, b]).map(|c| c.round() as u8);
                    let back = rgb(y, u, v);
                    let worst = back.iter().zip([r, g, b]).map(|(&x, z)| x.abs_diff(z)).max();
                    assert!(worst <= Some(2), "{:?} -> {:?} -> {back:?}", [r, g, b], [y, u, v]);
                }
            }
        }
    }
}
