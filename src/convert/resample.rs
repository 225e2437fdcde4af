//! The YUV fast path's resampler: a frame's crop to a `side` x `side` RGB square in one pass
//! over the output rows, without a full-size intermediate picture.
//!
//! While the crop is at least 1.5 times the output size it is first halved (an exact 2x2 box,
//! as many times as needed) so that the rest never skips source pixels (no aliasing); then each
//! output row is a 2-tap bilinear of two source rows (contiguous, vectorised), split into Y, U
//! and V rows, resampled horizontally with the same 2-tap filter (8 outputs per 16-byte table
//! shuffle: SSSE3/AVX2 `pshufb` on x86_64, NEON `tbl` on aarch64, plain indexing elsewhere)
//! and converted to RGB 16 pixels at a time. Weights are 8-bit fixed point (x/256); every step
//! rounds to nearest.

use std::borrow::Cow;

/// One horizontal or vertical tap pair: `out = (src[left] * (256 - w1) + src[right] * w1 +
/// 128) >> 8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tap {
    left: usize,
    right: usize,
    w1: u16,
}

/// Taps of `out` outputs over a line that spans `extent` pixels (pixel centres aligned:
/// output `o` sits at pixel `(o + 0.5) * extent / out - 0.5`), of which the first `luma`
/// exist (halving may have dropped a few at the end; taps past them clamp to the last).
/// `chroma`: over the line's chroma samples instead, one per pixel pair, each sitting between
/// the two pixels it belongs to.
fn taps(out: usize, extent: f64, luma: usize, chroma: bool) -> Vec<Tap> {
    let n = if chroma { luma / 2 } else { luma };
    assert!(n >= 1 && out >= 1, "{out} outputs from {n} samples");
    let step = extent / out as f64;
    (0..out)
        .map(|o| {
            let at = (o as f64 + 0.5) * step - 0.5;
            let p = if chroma { (at - 0.5) / 2.0 } else { at }.clamp(0.0, (n - 1) as f64);
            let left = p.floor() as usize;
            let w1 = ((p - left as f64) * 256.0).round() as u16;
            let (left, w1) = if w1 == 256 { (left + 1, 0) } else { (left, w1) };
            Tap { left, right: if w1 == 0 { left } else { left + 1 }, w1 }
        })
        .collect()
}

/// Sixteen horizontal outputs in two halves of eight: for half `h`, the 16 source bytes from
/// `base[h]` hold both taps of each of its outputs, and `index[h]` picks the left taps into
/// bytes 0..8 and the right ones into bytes 8..16.
#[derive(Debug, Clone, Copy)]
struct Block {
    base: [usize; 2],
    index: [[u8; 16]; 2],
    w1: [u16; 16],
}

/// The blocks of a row of `out` outputs (the last block repeats the last tap). Needs a scale
/// below 2 (source samples per output), which [`square`] ensures by halving first: eight
/// outputs then span at most 16 source samples.
fn blocks(taps: &[Tap]) -> Vec<Block> {
    taps.chunks(16)
        .map(|c| {
            let tap = |k: usize| c[k.min(c.len() - 1)];
            let mut block = Block { base: [tap(0).left, tap(8).left], index: [[0; 16]; 2], w1: [0; 16] };
            for k in 0..16 {
                let (t, half, base) = (tap(k), k / 8, block.base[k / 8]);
                assert!(t.right - base < 16, "taps {t:?} from {base} span over 16 samples");
                block.index[half][k % 8] = (t.left - base) as u8;
                block.index[half][k % 8 + 8] = (t.right - base) as u8;
                block.w1[k] = t.w1;
            }
            block
        })
        .collect()
}

/// `a * (256 - w1) + b * w1`, rounded, over 8 bits (no overflow: at most 255 * 256 + 128).
#[inline(always)]
fn lerp(a: u8, b: u8, w1: u16) -> u8 {
    ((a as u16 * (256 - w1) + b as u16 * w1 + 128) >> 8) as u8
}

/// Bytes `index` of `window` (every index below 16): one `pshufb`/`tbl` where `SHUF` is set.
#[inline(always)]
fn shuffle<const SHUF: bool>(window: &[u8; 16], index: &[u8; 16]) -> [u8; 16] {
    #[cfg(target_arch = "x86_64")]
    if SHUF {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_shuffle_epi8, _mm_storeu_si128};
        let mut out = [0u8; 16];
        // SAFETY: SHUF is only set inside `square_avx2`, which runs on CPUs with AVX2 (so
        // SSSE3); the loads and store are unaligned ones of 16-byte arrays.
        unsafe {
            let w = _mm_loadu_si128(window.as_ptr() as *const __m128i);
            let i = _mm_loadu_si128(index.as_ptr() as *const __m128i);
            _mm_storeu_si128(out.as_mut_ptr() as *mut __m128i, _mm_shuffle_epi8(w, i));
        }
        return out;
    }
    #[cfg(target_arch = "aarch64")]
    if SHUF {
        use std::arch::aarch64::{vld1q_u8, vqtbl1q_u8, vst1q_u8};
        let mut out = [0u8; 16];
        // SAFETY: NEON is part of the aarch64 baseline; 16-byte loads and store of 16-byte
        // arrays.
        unsafe {
            vst1q_u8(out.as_mut_ptr(), vqtbl1q_u8(vld1q_u8(window.as_ptr()), vld1q_u8(index.as_ptr())))
        };
        return out;
    }
    std::array::from_fn(|k| window[index[k] as usize & 15])
}

/// One row through the horizontal blocks: `src` needs 16 readable bytes from every block's
/// bases (rows carry 16 bytes of slack), `dst` 16 per block.
#[inline(always)]
fn horizontal<const SHUF: bool>(src: &[u8], blocks: &[Block], dst: &mut [u8]) {
    for (b, d) in blocks.iter().zip(dst.chunks_exact_mut(16)) {
        let window = |h: usize| -> &[u8; 16] { src[b.base[h]..b.base[h] + 16].try_into().expect("16 bytes") };
        let (lo, hi) = (shuffle::<SHUF>(window(0), &b.index[0]), shuffle::<SHUF>(window(1), &b.index[1]));
        let (mut left, mut right) = ([0u8; 16], [0u8; 16]);
        left[..8].copy_from_slice(&lo[..8]);
        left[8..].copy_from_slice(&hi[..8]);
        right[..8].copy_from_slice(&lo[8..]);
        right[8..].copy_from_slice(&hi[8..]);
        let mut mixed = [0u16; 16];
        for k in 0..16 {
            mixed[k] = left[k] as u16 * (256 - b.w1[k]) + right[k] as u16 * b.w1[k] + 128;
        }
        for k in 0..16 {
            d[k] = (mixed[k] >> 8) as u8;
        }
    }
}

/// `dst[i] = lerp(a[i], b[i], w1)` over whole rows (vectorised).
#[inline(always)]
fn vertical(a: &[u8], b: &[u8], w1: u16, dst: &mut [u8]) {
    for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
        *d = lerp(a, b, w1);
    }
}

/// An 8-bit image in a byte buffer: `rows` rows of `len` bytes, row `r` at `start + r *
/// stride`.
#[derive(Debug, Clone)]
pub(super) struct Plane<'a> {
    /// The bytes.
    pub data: Cow<'a, [u8]>,
    /// Offset of the first byte of the first row.
    pub start: usize,
    /// Bytes from a row to the next.
    pub stride: usize,
    /// Bytes of a row.
    pub len: usize,
    /// Rows.
    pub rows: usize,
}

impl Plane<'_> {
    fn row(&self, r: usize) -> &[u8] {
        &self.data[self.start + r * self.stride..][..self.len]
    }

    /// The first `len` bytes of the first `rows` rows at half size by an exact 2x2 box (rounded
    /// to nearest, ties alternately up and down by row): groups of `G` bytes become groups of `H = G / 2`, output byte `k` of a group
    /// averaging input bytes `pairs[k]` of the group on both rows. A trailing odd row or
    /// partial group is dropped.
    #[inline(always)]
    fn halve<const G: usize, const H: usize>(
        &self,
        len: usize,
        rows: usize,
        pairs: [[usize; 2]; H],
    ) -> Plane<'static> {
        let (len, rows) = (len.min(self.len) / G * H, rows.min(self.rows) / 2);
        let mut out = vec![0u8; len * rows];
        for (r, dst) in out.chunks_exact_mut(len.max(1)).enumerate().take(rows) {
            let (a, b) = (&self.row(2 * r)[..len * 2], &self.row(2 * r + 1)[..len * 2]);
            // Halves round up on even rows and down on odd ones: no drift over repeated halvings.
            let half = 1 + (r as u16 & 1 ^ 1);
            // 64 input bytes at a time in fixed-size arrays (vectorised), then the rest.
            let wide = dst.chunks_exact_mut(32).zip(a.chunks_exact(64)).zip(b.chunks_exact(64));
            for ((d, a), b) in wide {
                let sums: [u16; 64] = std::array::from_fn(|i| a[i] as u16 + b[i] as u16);
                for g in 0..64 / G {
                    for k in 0..H {
                        let [i, j] = pairs[k];
                        d[g * H + k] = ((sums[g * G + i] + sums[g * G + j] + half) >> 2) as u8;
                    }
                }
            }
            let done = len / 32 * 32;
            let narrow = dst[done..]
                .chunks_exact_mut(H)
                .zip(a[done * 2..].chunks_exact(G))
                .zip(b[done * 2..].chunks_exact(G));
            for ((d, a), b) in narrow {
                for k in 0..H {
                    let [i, j] = pairs[k];
                    let sum = a[i] as u16 + a[j] as u16 + b[i] as u16 + b[j] as u16;
                    d[k] = ((sum + half) >> 2) as u8;
                }
            }
        }
        Plane { data: Cow::Owned(out), start: 0, stride: len, len, rows }
    }
}

/// A YUV crop, its chroma shared by pixel pairs.
#[derive(Debug, Clone)]
pub(super) enum Yuv<'a> {
    /// YUYV (`uyvy` false) or UYVY: 4-byte macropixels of two pixels.
    Packed { plane: Plane<'a>, uyvy: bool },
    /// NV12 (`nv21` false) or NV21: a luma plane and an interleaved chroma plane of half the
    /// rows.
    SemiPlanar { luma: Plane<'a>, chroma: Plane<'a>, nv21: bool },
}

impl Yuv<'_> {
    /// Width and height in pixels.
    fn size(&self) -> (usize, usize) {
        match self {
            Yuv::Packed { plane, .. } => (plane.len / 2, plane.rows),
            Yuv::SemiPlanar { luma, .. } => (luma.len, luma.rows),
        }
    }

    /// Half the width and height, each output pixel the exact mean of four (chroma too). The
    /// last one to three columns (and NV12's last one to three rows) are dropped where the size
    /// is not a multiple of 4, so that every halved pixel keeps a chroma sample of its own.
    #[inline(always)]
    fn halve(&self) -> Yuv<'static> {
        let (w, h) = self.size();
        let (w4, h4) = (w / 4 * 4, h / 4 * 4);
        match self {
            Yuv::Packed { plane, uyvy: false } => {
                let pairs = [[0, 2], [1, 5], [4, 6], [3, 7]];
                Yuv::Packed { plane: plane.halve::<8, 4>(w4 * 2, h, pairs), uyvy: false }
            }
            Yuv::Packed { plane, uyvy: true } => {
                let pairs = [[0, 4], [1, 3], [2, 6], [5, 7]];
                Yuv::Packed { plane: plane.halve::<8, 4>(w4 * 2, h, pairs), uyvy: true }
            }
            Yuv::SemiPlanar { luma, chroma, nv21 } => Yuv::SemiPlanar {
                luma: luma.halve::<2, 1>(w4, h4, [[0, 1]]),
                chroma: chroma.halve::<4, 2>(w4, h4 / 2, [[0, 2], [1, 3]]),
                nv21: *nv21,
            },
        }
    }
}

/// The crop resampled to `side` x `side` packed RGB (BT.601 limited range, as
/// [`super::pixels`]). The crop must be at least 2x2 pixels with an even width, and NV12's
/// chroma plane must hold `rows / 2` rows. `None` for a crop so much wider than high that
/// halving cannot bring its width below twice the output's (the horizontal blocks need that).
pub(super) fn square(yuv: Yuv<'_>, side: usize) -> Option<Vec<u8>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { square_avx2(yuv, side) };
    }
    #[cfg(target_arch = "aarch64")]
    {
        square_with::<true>(yuv, side)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        square_with::<false>(yuv, side)
    }
}

/// [`square_with`] compiled for AVX2 (wider vectors, and `pshufb`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn square_avx2(yuv: Yuv<'_>, side: usize) -> Option<Vec<u8>> {
    square_with::<true>(yuv, side)
}

/// [`square`], with table shuffles where `SHUF` is set, else with plain indexing.
#[inline(always)]
fn square_with<const SHUF: bool>(mut yuv: Yuv<'_>, side: usize) -> Option<Vec<u8>> {
    // Halve while the crop is 1.5 times the output or more: then 2 taps see every source pixel
    // (at 1.5 to 2, halving then scaling up slightly is closer to a full convolution than 2
    // taps that skip pixels). The taps keep the crop's geometry (its size at this scale)
    // whatever halving dropped at the edges.
    let (full_w, full_h) = yuv.size();
    let mut scale = 1.0;
    while yuv.size().0.max(yuv.size().1) * 2 >= 3 * side && yuv.size().0 >= 4 && yuv.size().1 >= 4 {
        yuv = yuv.halve();
        scale *= 0.5;
    }
    let (w, h) = yuv.size();
    let (extent_w, extent_h) = (full_w as f64 * scale, full_h as f64 * scale);
    if extent_w >= 2.0 * side as f64 || w < 2 || h < 2 {
        return None;
    }
    let cw = w / 2;
    let rows = taps(side, extent_h, h, false);
    let chroma_rows = taps(side, extent_h, h, true);
    let luma_blocks = blocks(&taps(side, extent_w, w, false));
    let chroma_blocks = blocks(&taps(side, extent_w, w, true));
    let padded = side.next_multiple_of(16);
    // Rows of one output row, in the source's width (16 bytes of slack for the shuffles), then
    // in the output's.
    let (mut ysrc, mut usrc, mut vsrc) = (vec![0u8; w + 16], vec![0u8; cw + 16], vec![0u8; cw + 16]);
    let (mut ys, mut us, mut vs) = (vec![0u8; padded], vec![0u8; padded], vec![0u8; padded]);
    let mut out = vec![0u8; side * side * 3];
    let mut mixed = vec![0u8; 2 * w];
    for ((oy, tap), rgb) in rows.iter().enumerate().zip(out.chunks_exact_mut(side * 3)) {
        match &yuv {
            Yuv::Packed { plane, uyvy } => {
                vertical(plane.row(tap.left), plane.row(tap.right), tap.w1, &mut mixed);
                if *uyvy {
                    split_packed::<1, 0, 2>(&mixed, &mut ysrc, &mut usrc, &mut vsrc);
                } else {
                    split_packed::<0, 1, 3>(&mixed, &mut ysrc, &mut usrc, &mut vsrc);
                }
            }
            Yuv::SemiPlanar { luma, chroma, nv21 } => {
                vertical(luma.row(tap.left), luma.row(tap.right), tap.w1, &mut ysrc[..w]);
                let c = chroma_rows[oy];
                vertical(chroma.row(c.left), chroma.row(c.right), c.w1, &mut mixed[..w]);
                if *nv21 {
                    split_chroma(&mixed[..w], &mut vsrc, &mut usrc);
                } else {
                    split_chroma(&mixed[..w], &mut usrc, &mut vsrc);
                }
            }
        }
        horizontal::<SHUF>(&ysrc, &luma_blocks, &mut ys);
        horizontal::<SHUF>(&usrc, &chroma_blocks, &mut us);
        horizontal::<SHUF>(&vsrc, &chroma_blocks, &mut vs);
        super::pixels::yuv_row(&ys[..side], &us[..side], &vs[..side], rgb);
    }
    Some(out)
}

/// A row of 4-byte macropixels (Y at `Y` and `Y + 2`, U at `U`, V at `V`) into Y, U and V
/// rows.
#[inline(always)]
fn split_packed<const Y: usize, const U: usize, const V: usize>(
    src: &[u8],
    ys: &mut [u8],
    us: &mut [u8],
    vs: &mut [u8],
) {
    for (((q, y), u), v) in
        src.chunks_exact(4).zip(ys.chunks_exact_mut(2)).zip(us.iter_mut()).zip(vs.iter_mut())
    {
        y[0] = q[Y];
        y[1] = q[Y + 2];
        *u = q[U];
        *v = q[V];
    }
}

/// A row of interleaved chroma pairs into its two channels.
#[inline(always)]
fn split_chroma(src: &[u8], first: &mut [u8], second: &mut [u8]) {
    for ((p, a), b) in src.chunks_exact(2).zip(first.iter_mut()).zip(second.iter_mut()) {
        *a = p[0];
        *b = p[1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_align_pixel_centres_and_clamp_edges() {
        // 2:1 down: each output between two sources, half and half.
        let t = taps(2, 4.0, 4, false);
        assert_eq!(t, [Tap { left: 0, right: 1, w1: 128 }, Tap { left: 2, right: 3, w1: 128 }]);
        // 1:2 up: the first output clamps to the first source, the last to the last.
        let t = taps(4, 2.0, 2, false);
        assert_eq!(t[0], Tap { left: 0, right: 0, w1: 0 });
        assert_eq!(t[1], Tap { left: 0, right: 1, w1: 64 });
        assert_eq!(t[3], Tap { left: 1, right: 1, w1: 0 });
        // Chroma of 8 pixels (4 samples at pixels 0.5, 2.5, 4.5, 6.5) for 4 outputs (at pixels
        // 0.5, 2.5, 4.5, 6.5): exactly on the samples.
        let t = taps(4, 8.0, 8, true);
        assert!(t.iter().enumerate().all(|(k, t)| t.left == k && t.w1 == 0), "{t:?}");
    }

    #[test]
    fn blocks_fit_sixteen_bytes_below_scale_two() {
        for (out, n) in [(256, 511), (256, 480), (58, 115), (7, 13), (256, 256), (256, 40), (3, 2)] {
            for chroma in [false, true] {
                let t = taps(out, n as f64, n, chroma);
                assert_eq!(blocks(&t).len(), out.div_ceil(16));
            }
        }
    }

    #[test]
    fn shuffles_agree_with_indexing() {
        let window: [u8; 16] = std::array::from_fn(|k| (k * 17 + 3) as u8);
        for seed in 0..64u32 {
            let index: [u8; 16] = std::array::from_fn(|k| ((k as u32 * 7 + seed * 13) % 16) as u8);
            let plain = shuffle::<false>(&window, &index);
            assert_eq!(square_shuffle(&window, &index), plain);
        }
    }

    /// The SIMD shuffle where this CPU has it, else the plain one.
    fn square_shuffle(window: &[u8; 16], index: &[u8; 16]) -> [u8; 16] {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return shuffle::<true>(window, index);
        }
        #[cfg(target_arch = "aarch64")]
        {
            shuffle::<true>(window, index)
        }
        #[cfg(not(target_arch = "aarch64"))]
        {
            shuffle::<false>(window, index)
        }
    }

    #[test]
    fn simd_and_plain_paths_give_identical_pictures() {
        // A noisy 4:2:2 crop (every byte differs from its neighbours), odd output sizes.
        let (w, h) = (202usize, 150usize);
        let data: Vec<u8> = (0..w * 2 * h).map(|i| (i * 7919 % 251) as u8).collect();
        for side in [58, 64, 100, 256] {
            for uyvy in [false, true] {
                let plane =
                    Plane { data: Cow::Borrowed(&data[..]), start: 0, stride: w * 2, len: w * 2, rows: h };
                let yuv = Yuv::Packed { plane, uyvy };
                let fast = square(yuv.clone(), side).expect("a square crop");
                assert_eq!(Some(fast), square_with::<false>(yuv, side), "{side} {uyvy}");
            }
        }
    }
}
