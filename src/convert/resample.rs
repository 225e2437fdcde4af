//! The YUV fast path's resampler: a frame's crop to a `side` x `side` square, as packed RGB or
//! straight into a planar f32 tensor, one output row at a time, without a full-size
//! intermediate picture.
//!
//! 1. **Base planes.** The crop becomes three 8-bit planes (Y, U, V). While the crop is at
//!    least 1.5 times the output size it is halved by a 2x2 box (so the 2 taps below never
//!    skip source pixels). The first halving of a chroma-subsampled crop keeps every chroma
//!    sample and pairs it with the halved luma at the same place (a YUYV macropixel becomes
//!    one 4:4:4 pixel, by byte averages within a level of the exact mean and without bias;
//!    NV12's chroma plane is already at half size), so it costs one pass over the crop and
//!    loses no chroma detail. Without halving, Y is used in place (NV12) and the chroma planes
//!    keep their subsampling. The tap tables are made once per crop geometry and the plane
//!    buffers reused, per thread (a camera's frames all have one geometry).
//! 2. **Vertical.** Each output row is a 2-tap blend of two base rows per plane, over whole
//!    rows.
//! 3. **Horizontal.** 16 outputs at a time: a 16-byte table shuffle per 8 outputs gathers both
//!    taps, interleaved, and a multiply-add of byte pairs blends them (x86_64 with AVX2:
//!    `pshufb` + `pmaddubsw`; aarch64: NEON `tbl` + widening multiplies added pairwise; plain
//!    indexing elsewhere, armv7 included). The result keeps 7 bits of fraction. With AVX-512
//!    (VBMI: Zen 4, Ice Lake and later) 32 outputs at a time: one byte permute of a 64-byte
//!    window ([`Pair`]). The fused tensor rows take the outputs in an order that suits their
//!    float conversion: AVX2 the quarter layout ([`quarter_blocks`]) where the scale allows.
//! 4. **Colour.** BT.601 limited range (as [`super::pixels`]) either to packed RGB bytes (the
//!    samples rounded to 8 bits, then the exact integer conversion), or to three f32 planes in
//!    the tensor's value range: the 7-bit-fraction samples through the same coefficients in
//!    16-bit fixed point ([`fixed`]: channels with 6 bits of fraction, clamped in integers),
//!    then one multiply-add per float into the range. The NCHW tensor is written directly,
//!    never as bytes first. On x86_64 the horizontal taps of all three planes, the conversion
//!    and the stores are one pass, from registers to the f32 planes, and the floats are made
//!    without a conversion instruction (`2^23 + n` by interleaving with a float's high half).
//!
//! Every SIMD kernel ends a row with an overlapping last step ([`steps`]) instead of a plain
//! tail. On x86_64 the AVX-512 kernels (halvings, NV12's chroma split, vertical blends, the
//! fused row) are picked per call where the CPU has them, else the AVX2 ones.
//!
//! Weights are 7-bit fixed point (x/128) and every step rounds to nearest. The SIMD and plain
//! paths give identical bytes, and the same fixed-point channels; their floats differ by at
//! most half a 64th of a level (the `2^23` offset folded into one constant).

use std::borrow::Cow;

/// One horizontal or vertical tap pair: `out = src[left] * (128 - w1) + src[right] * w1`
/// (over 128), `w1` below 128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tap {
    left: usize,
    right: usize,
    w1: u8,
}

impl Tap {
    /// The two weights as `pmaddubsw` takes them (each below 128): a tap right on a sample is
    /// that sample twice at 64.
    fn weights(self) -> [u8; 2] {
        if self.w1 == 0 { [64, 64] } else { [128 - self.w1, self.w1] }
    }
}

/// Taps of `out` outputs over a line that spans `extent` pixels (pixel centres aligned:
/// output `o` sits at pixel `(o + 0.5) * extent / out - 0.5`) through `n` samples. `paired`:
/// each sample covers two pixels and sits between them (subsampled chroma). Past the last
/// sample (halving may have dropped a few at the end) taps clamp to it.
fn taps(out: usize, extent: f64, n: usize, paired: bool) -> Vec<Tap> {
    assert!(n >= 1 && out >= 1, "{out} outputs from {n} samples");
    let step = extent / out as f64;
    (0..out)
        .map(|o| {
            let at = (o as f64 + 0.5) * step - 0.5;
            let p = if paired { (at - 0.5) / 2.0 } else { at }.clamp(0.0, (n - 1) as f64);
            let left = p.floor() as usize;
            let w1 = ((p - left as f64) * 128.0).round() as u16;
            let (left, w1) = if w1 == 128 { (left + 1, 0) } else { (left, w1 as u8) };
            Tap { left, right: if w1 == 0 { left } else { left + 1 }, w1 }
        })
        .collect()
}

/// Sixteen horizontal outputs in two halves of eight: for half `h`, the 16 source bytes from
/// `base[h]` hold both taps of each of its outputs; `index[16 * h + 2 * k]` and `+ 1` pick
/// output `k`'s left and right taps, `weight` (same places) weighs them.
#[derive(Debug, Clone, Copy)]
struct Block {
    base: [usize; 2],
    index: [u8; 32],
    weight: [u8; 32],
}

impl Block {
    /// Bytes of a row its windows need.
    fn reach(&self) -> usize {
        self.base[0].max(self.base[1]) + 16
    }

    /// Output `slot`'s two taps (sample indexes) and their weights.
    #[cfg(test)]
    fn taps_at(&self, slot: usize) -> ([usize; 2], [u8; 2]) {
        let (at, base) = (2 * slot, self.base[slot / 8]);
        (
            [base + self.index[at] as usize, base + self.index[at + 1] as usize],
            [self.weight[at], self.weight[at + 1]],
        )
    }
}

/// The blocks of a row of outputs (the last block repeats the last tap). Needs a scale below
/// 2 (samples per output), which [`resample`] ensures by halving first: eight outputs then
/// span at most 16 samples.
fn blocks(taps: &[Tap]) -> Vec<Block> {
    layout_blocks(taps, |k| k).expect("below scale 2 eight outputs span at most 16 samples")
}

/// The blocks of a row of outputs with output `k` of each in slot `slot(k)` (half `slot / 8`,
/// whose window starts at the left tap of its first output), or `None` where a half's taps
/// span 16 samples or more.
fn layout_blocks(taps: &[Tap], slot: impl Fn(usize) -> usize) -> Option<Vec<Block>> {
    let first = |h: usize| (0..16).find(|&k| slot(k) / 8 == h).expect("outputs in both halves");
    let first = [first(0), first(1)];
    taps.chunks(16)
        .map(|c| {
            let tap = |k: usize| c[k.min(c.len() - 1)];
            let base = first.map(|k| tap(k).left);
            let mut block = Block { base, index: [0; 32], weight: [0; 32] };
            for k in 0..16 {
                let (t, at) = (tap(k), slot(k));
                let base = base[at / 8];
                if t.right - base >= 16 {
                    return None;
                }
                block.index[2 * at..2 * at + 2]
                    .copy_from_slice(&[(t.left - base) as u8, (t.right - base) as u8]);
                block.weight[2 * at..2 * at + 2].copy_from_slice(&t.weights());
            }
            Some(block)
        })
        .collect()
}

/// Where output `k` of a block sits in the quarter layout: outputs 0-3 and 8-11 in the low
/// half, 4-7 and 12-15 in the high one, so that interleaving the low quarters of both halves
/// with a float's high half gives outputs 0-7 in order, and the high quarters 8-15 (AVX2's
/// fused row then needs no lane-crossing permute).
#[cfg(any(target_arch = "x86_64", test))]
fn quarter_slot(k: usize) -> usize {
    match k / 4 {
        1 => k + 4,
        2 => k - 4,
        _ => k,
    }
}

/// The blocks of a row of outputs in the quarter layout, or `None` where a half's taps span 16
/// samples or more (12 outputs of a half reach over 16 samples above a scale of about 1.27).
#[cfg(any(target_arch = "x86_64", test))]
fn quarter_blocks(taps: &[Tap]) -> Option<Vec<Block>> {
    layout_blocks(taps, quarter_slot)
}

/// Two blocks' 32 outputs for one 64-byte byte permute (AVX-512 VBMI): every tap lies in the
/// 64 bytes from `base`; `index` picks them in the order [`pair_slot`] gives, `weight` weighs
/// them.
#[cfg(any(target_arch = "x86_64", test))]
#[derive(Debug, Clone, Copy)]
struct Pair {
    base: usize,
    index: [u8; 64],
    weight: [u8; 64],
}

/// Where output `k` of a pair sits among the 32 results of its permute: outputs `4L..4L + 4`
/// and `16 + 4L..16 + 4L + 4` in 128-bit lane `L`, so that interleaving the low quarters of
/// the lanes with a float's high half gives outputs 0-15 in order, and the high ones 16-31.
#[cfg(any(target_arch = "x86_64", test))]
fn pair_slot(k: usize) -> usize {
    (k % 16) / 4 * 8 + k / 16 * 4 + k % 4
}

/// The whole pairs of a row of outputs' blocks (the same taps as [`blocks`]), or `None` where
/// one spans 64 samples or more (not below scale 2, which is all [`blocks`] takes: there 32
/// outputs span at most 63).
#[cfg(any(target_arch = "x86_64", test))]
fn pairs(taps: &[Tap]) -> Option<Vec<Pair>> {
    let tap = |k: usize| taps[k.min(taps.len() - 1)];
    (0..taps.len().div_ceil(16) / 2)
        .map(|p| {
            let base = tap(32 * p).left;
            let mut pair = Pair { base, index: [0; 64], weight: [0; 64] };
            for k in 0..32 {
                let (t, at) = (tap(32 * p + k), 2 * pair_slot(k));
                if t.right - base >= 64 {
                    return None;
                }
                pair.index[at..at + 2].copy_from_slice(&[(t.left - base) as u8, (t.right - base) as u8]);
                pair.weight[at..at + 2].copy_from_slice(&t.weights());
            }
            Some(pair)
        })
        .collect()
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

thread_local! {
    /// Plane buffers of earlier frames, for [`Plane::scratch`].
    static SPARE: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Plane<'_> {
    fn row(&self, r: usize) -> &[u8] {
        &self.data[self.start + r * self.stride..][..self.len]
    }

    /// A plane of `len` x `rows` to be written whole, in a buffer left by an earlier frame
    /// where this thread has one (a camera's frames need the same planes every time: no
    /// allocating and zeroing 170 KB per 640x480 frame). Its bytes are stale until written.
    fn scratch(len: usize, rows: usize) -> Plane<'static> {
        let mut data = SPARE.with_borrow_mut(Vec::pop).unwrap_or_default();
        data.resize(len * rows, 0);
        Plane { data: Cow::Owned(data), start: 0, stride: len, len, rows }
    }

    /// Gives an owned plane's buffer back for [`Plane::scratch`].
    fn recycle(self) {
        if let Cow::Owned(data) = self.data {
            SPARE.with_borrow_mut(|spare| {
                if spare.len() < 6 {
                    spare.push(data);
                }
            });
        }
    }

    /// Row `r` of an owned, unpadded plane, to write.
    fn row_mut(&mut self, r: usize) -> &mut [u8] {
        let len = self.len;
        &mut self.data.to_mut()[r * len..][..len]
    }

    /// This plane at half size by an exact 2x2 box (rounded to nearest, ties alternately up
    /// and down by row, so repeated halvings do not drift). A trailing odd row or column is
    /// dropped.
    #[inline(always)]
    fn halve<const SIMD: bool>(&self) -> Plane<'static> {
        let mut out = Plane::scratch(self.len / 2, self.rows / 2);
        for r in 0..out.rows {
            kernels::halve::<SIMD>((self.row(2 * r), self.row(2 * r + 1)), r & 1 == 1, out.row_mut(r));
        }
        out
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
}

/// The crop as three planes, and how their samples sit on the crop's pixels.
struct Planes<'a> {
    y: Plane<'a>,
    u: Plane<'static>,
    v: Plane<'static>,
    /// Chroma samples cover pixel pairs across (4:2:2 and 4:2:0) and down (4:2:0).
    paired: (bool, bool),
    /// The crop's size in pixels at the planes' scale (halving halves it, whatever it drops).
    extent: (f64, f64),
}

impl Planes<'_> {
    /// Gives the owned buffers back for [`Plane::scratch`].
    fn recycle(self) {
        for plane in [self.y, self.u, self.v] {
            plane.recycle();
        }
    }

    /// Everything at half size (4:4:4 planes only).
    #[inline(always)]
    fn halve<const SIMD: bool>(&self) -> Planes<'static> {
        debug_assert_eq!(self.paired, (false, false));
        Planes {
            y: self.y.halve::<SIMD>(),
            u: self.u.halve::<SIMD>(),
            v: self.v.halve::<SIMD>(),
            paired: self.paired,
            extent: (self.extent.0 / 2.0, self.extent.1 / 2.0),
        }
    }
}

/// The crop as planes: at half size in 4:4:4 where `halve` is set (see the module docs), else
/// at full size with its chroma subsampling.
#[inline(always)]
fn base_planes<'a, const SIMD: bool>(yuv: &Yuv<'a>, halve: bool) -> Planes<'a> {
    let (w, h) = yuv.size();
    let extent = (w as f64, h as f64);
    match (yuv, halve) {
        (Yuv::Packed { plane, uyvy }, true) => {
            let (mut y, mut u, mut v) =
                (Plane::scratch(w / 2, h / 2), Plane::scratch(w / 2, h / 2), Plane::scratch(w / 2, h / 2));
            for r in 0..h / 2 {
                let rows = (plane.row(2 * r), plane.row(2 * r + 1));
                let out = (y.row_mut(r), u.row_mut(r), v.row_mut(r));
                kernels::halve_packed::<SIMD>(rows, r & 1 == 1, *uyvy, out);
            }
            Planes { y, u, v, paired: (false, false), extent: (extent.0 / 2.0, extent.1 / 2.0) }
        }
        (Yuv::Packed { plane, uyvy }, false) => {
            let (mut y, mut u, mut v) =
                (Plane::scratch(w, h), Plane::scratch(w / 2, h), Plane::scratch(w / 2, h));
            let mut chroma = vec![0u8; w];
            for r in 0..h {
                let src = plane.row(r);
                if *uyvy {
                    kernels::deinterleave::<SIMD>(src, &mut chroma, y.row_mut(r));
                } else {
                    kernels::deinterleave::<SIMD>(src, y.row_mut(r), &mut chroma);
                }
                kernels::deinterleave::<SIMD>(&chroma, u.row_mut(r), v.row_mut(r));
            }
            Planes { y, u, v, paired: (true, false), extent }
        }
        (Yuv::SemiPlanar { luma, chroma, nv21 }, halve) => {
            let (cw, ch) = (w / 2, h / 2);
            let (mut u, mut v) = (Plane::scratch(cw, ch), Plane::scratch(cw, ch));
            for r in 0..ch {
                let (first, second) = if *nv21 { (&mut v, &mut u) } else { (&mut u, &mut v) };
                kernels::deinterleave::<SIMD>(&chroma.row(r)[..2 * cw], first.row_mut(r), second.row_mut(r));
            }
            if halve {
                Planes {
                    y: luma.halve::<SIMD>(),
                    u,
                    v,
                    paired: (false, false),
                    extent: (extent.0 / 2.0, extent.1 / 2.0),
                }
            } else {
                Planes { y: luma.clone(), u, v, paired: (true, true), extent }
            }
        }
    }
}

/// The taps of one crop geometry: output rows to plane rows, output columns to blocks.
#[derive(Debug)]
struct Geometry {
    /// What it was made for: side, then each plane's size, pairing and extent.
    key: (usize, [usize; 4], (bool, bool), [u64; 2]),
    luma_rows: Vec<Tap>,
    chroma_rows: Vec<Tap>,
    luma_blocks: Vec<Block>,
    chroma_blocks: Vec<Block>,
    /// The blocks in the quarter layout, luma and chroma, where every block fits (AVX2).
    #[cfg(target_arch = "x86_64")]
    quarters: Option<(Vec<Block>, Vec<Block>)>,
    /// The blocks as pairs, luma and chroma, where every pair fits its window (AVX-512).
    #[cfg(target_arch = "x86_64")]
    pairs: Option<(Vec<Pair>, Vec<Pair>)>,
    /// Bytes a row needs for the shuffles' windows of the luma and the chroma blocks (all
    /// three layouts).
    reach: (usize, usize),
}

impl Geometry {
    /// The geometry of `planes` into `side`, made once per thread for as long as frames keep
    /// it (a camera's never change): making it costs about a fifth of a 640x480 frame.
    fn cached(planes: &Planes, side: usize) -> std::rc::Rc<Geometry> {
        thread_local! {
            static LAST: std::cell::RefCell<Option<std::rc::Rc<Geometry>>> = const { std::cell::RefCell::new(None) };
        }
        let (extent_w, extent_h) = planes.extent;
        let key = (
            side,
            [planes.y.len, planes.y.rows, planes.u.len, planes.u.rows],
            planes.paired,
            [extent_w.to_bits(), extent_h.to_bits()],
        );
        LAST.with_borrow_mut(|last| {
            if let Some(g) = last.as_ref().filter(|g| g.key == key) {
                return g.clone();
            }
            let (cx, cy) = planes.paired;
            let (luma_taps, chroma_taps) =
                (taps(side, extent_w, planes.y.len, false), taps(side, extent_w, planes.u.len, cx));
            let (luma_blocks, chroma_blocks) = (blocks(&luma_taps), blocks(&chroma_taps));
            // The bytes a row needs for every window of the blocks in all their layouts.
            let reach = |blocks: &[Block]| blocks.iter().map(Block::reach).max().unwrap_or(0);
            let reach = (reach(&luma_blocks), reach(&chroma_blocks));
            #[cfg(target_arch = "x86_64")]
            let (quarters, pairs, reach) = {
                let quarters = quarter_blocks(&luma_taps).zip(quarter_blocks(&chroma_taps));
                let pairs = pairs(&luma_taps).zip(pairs(&chroma_taps));
                let more = |blocks: Option<&Vec<Block>>, pairs: Option<&Vec<Pair>>| {
                    let blocks = blocks.into_iter().flatten().map(Block::reach);
                    blocks.chain(pairs.into_iter().flatten().map(|p| p.base + 64)).max().unwrap_or(0)
                };
                let (luma, chroma) = (
                    more(quarters.as_ref().map(|q| &q.0), pairs.as_ref().map(|p| &p.0)),
                    more(quarters.as_ref().map(|q| &q.1), pairs.as_ref().map(|p| &p.1)),
                );
                (quarters, pairs, (reach.0.max(luma), reach.1.max(chroma)))
            };
            let g = std::rc::Rc::new(Geometry {
                key,
                luma_rows: taps(side, extent_h, planes.y.rows, false),
                chroma_rows: taps(side, extent_h, planes.u.rows, cy),
                reach,
                luma_blocks,
                chroma_blocks,
                #[cfg(target_arch = "x86_64")]
                quarters,
                #[cfg(target_arch = "x86_64")]
                pairs,
            });
            *last = Some(g.clone());
            g
        })
    }
}

/// Where the rows go.
pub(super) enum Out<'a> {
    /// Packed RGB bytes, `side * side * 3`.
    Rgb(&'a mut [u8]),
    /// Three f32 planes (R, G, B), each `side * side`, in a value range ([`Out::planes`]).
    Planes(&'a mut [f32], Coefficients),
}

impl<'a> Out<'a> {
    /// Three f32 planes in `range`.
    pub(super) fn planes(out: &'a mut [f32], range: super::ValueRange) -> Self {
        Out::Planes(out, Coefficients::new(range))
    }
}

/// Resamples the crop into `out` (sized for `side`). The crop must be at least 2x2 pixels with
/// an even width and height, and NV12's chroma plane must hold `rows / 2` rows. `None` (and
/// nothing written) for a crop so much wider than high that halving cannot bring its width
/// below twice the output's (the horizontal blocks need that).
pub(super) fn resample(yuv: Yuv<'_>, side: usize, out: Out<'_>) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { resample_avx2(yuv, side, out) };
    }
    #[cfg(target_arch = "aarch64")]
    {
        resample_with::<true>(yuv, side, out)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        resample_with::<false>(yuv, side, out)
    }
}

/// [`resample_with`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn resample_avx2(yuv: Yuv<'_>, side: usize, out: Out<'_>) -> Option<()> {
    resample_with::<true>(yuv, side, out)
}

/// [`resample`], with the SIMD kernels where `SIMD` is set, else the plain ones.
#[inline(always)]
fn resample_with<const SIMD: bool>(yuv: Yuv<'_>, side: usize, mut out: Out<'_>) -> Option<()> {
    // Halve while the crop is 1.5 times the output or more: then 2 taps see every source pixel
    // (at 1.5 to 2, halving then scaling up slightly is closer to a full convolution than 2
    // taps that skip pixels).
    let (w, h) = yuv.size();
    let big = |w: usize, h: usize| w.max(h) * 2 >= 3 * side && w >= 4 && h >= 4;
    let mut planes = base_planes::<SIMD>(&yuv, big(w, h));
    while planes.paired == (false, false) && big(planes.y.len, planes.y.rows) {
        let half = planes.halve::<SIMD>();
        std::mem::replace(&mut planes, half).recycle();
    }
    if planes.extent.0 >= 2.0 * side as f64 || planes.y.len < 2 || planes.y.rows < 1 || planes.u.len < 1 {
        return None;
    }
    let geometry = Geometry::cached(&planes, side);
    let Geometry { luma_rows, chroma_rows, luma_blocks, chroma_blocks, reach, .. } = &*geometry;
    let padded = side.next_multiple_of(16);
    // One output row: the blended source rows (64 bytes of slack for the shuffles' windows),
    // then the resampled samples with 7 bits of fraction.
    let (mut yrow, mut urow, mut vrow) =
        (vec![0u8; planes.y.len + 64], vec![0u8; planes.u.len + 64], vec![0u8; planes.v.len + 64]);
    let (mut ys, mut us, mut vs) = (vec![0u16; padded], vec![0u16; padded], vec![0u16; padded]);
    let mut bytes = [vec![0u8; padded], vec![0u8; padded], vec![0u8; padded]];
    let (luma_blocks, chroma_blocks) = (&luma_blocks[..], &chroma_blocks[..]);
    for oy in 0..side {
        let (t, c) = (luma_rows[oy], chroma_rows[oy]);
        kernels::vertical::<SIMD>(planes.y.row(t.left), planes.y.row(t.right), t, &mut yrow);
        kernels::vertical::<SIMD>(planes.u.row(c.left), planes.u.row(c.right), c, &mut urow);
        kernels::vertical::<SIMD>(planes.v.row(c.left), planes.v.row(c.right), c, &mut vrow);
        match &mut out {
            Out::Rgb(rgb) => {
                kernels::horizontal::<SIMD>(&yrow, (luma_blocks, reach.0), &mut ys);
                kernels::horizontal::<SIMD>(&urow, (chroma_blocks, reach.1), &mut us);
                kernels::horizontal::<SIMD>(&vrow, (chroma_blocks, reach.1), &mut vs);
                for (b, s) in bytes.iter_mut().zip([&ys, &us, &vs]) {
                    for (b, &s) in b.iter_mut().zip(s.iter()) {
                        *b = ((s + 64) >> 7) as u8;
                    }
                }
                let [yb, ub, vb] = &bytes;
                super::pixels::yuv_row(
                    &yb[..side],
                    &ub[..side],
                    &vb[..side],
                    &mut rgb[oy * side * 3..][..side * 3],
                );
            }
            Out::Planes(planes, coeffs) => {
                let n = side * side;
                let (r, rest) = planes.split_at_mut(n);
                let (g, b) = rest.split_at_mut(n);
                let row = oy * side..(oy + 1) * side;
                kernels::row_f32::<SIMD>(
                    [&yrow, &urow, &vrow],
                    &geometry,
                    coeffs,
                    [&mut r[row.clone()], &mut g[row.clone()], &mut b[row]],
                    [&mut ys, &mut us, &mut vs],
                );
            }
        }
    }
    planes.recycle();
    Some(())
}

/// BT.601 limited range for the tensor, in 16-bit fixed point: from samples with 7 bits of
/// fraction (a level is 128) to channels with 6 bits (a level is 64), by Q15 multipliers as
/// `pmulhrsw` takes them (`(a * k + 2^14) >> 15`). They are the 8.8 coefficients of
/// [`super::pixels`] times 64, exactly: `c / 256` of a 7-bit sample into 6 bits is
/// `a * c * 64 / 2^15`.
mod fixed {
    /// Luma's gain, 298/256.
    pub const KY: i16 = 298 * 64;
    /// Luma's 16 levels of foot through [`KY`]: `2048 * KY / 2^15`, exactly.
    pub const Y_FOOT: i16 = 1192;
    /// A chroma sample's zero, 128 levels.
    pub const CHROMA_ZERO: i16 = 128 * 128;
    /// V into red, 409/256.
    pub const KVR: i16 = 409 * 64;
    /// U and V out of green, 100/256 and 208/256.
    pub const KUG: i16 = 100 * 64;
    pub const KVG: i16 = 208 * 64;
    /// U into blue past its whole part: 516/256 is over 1 in Q15 at this scale, so blue
    /// takes `u + u * 4/512`.
    pub const KUB: i16 = (516 - 512) * 64;
    /// A full channel, 255 levels.
    pub const TOP: i16 = 255 * 64;

    /// `pmulhrsw` of one lane.
    fn mulhrs(a: i16, k: i16) -> i16 {
        ((a as i32 * k as i32 + (1 << 14)) >> 15) as i16
    }

    /// One pixel's channels, clamped to `0..=TOP`. The SIMD kernels do the same steps in the
    /// same order (saturating where a sum can pass 16 bits: blue reaches 537 levels).
    #[inline(always)]
    pub fn rgb(y: u16, u: u16, v: u16) -> [i16; 3] {
        debug_assert!(y.max(u).max(v) <= 255 * 128, "samples past 255 levels");
        let y = mulhrs(y as i16, KY) - Y_FOOT;
        let (u, v) = (u as i16 - CHROMA_ZERO, v as i16 - CHROMA_ZERO);
        let r = y.saturating_add(mulhrs(v, KVR));
        let g = y.saturating_sub(mulhrs(u, KUG)).saturating_sub(mulhrs(v, KVG));
        let b = y.saturating_add(u).saturating_add(mulhrs(u, KUB));
        [r, g, b].map(|c| c.clamp(0, TOP))
    }
}

/// A channel in fixed point ([`fixed`]: 0 to 255 levels of 64) into the tensor's value range:
/// `lo + n * scale`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Coefficients {
    scale: f32,
    lo: f32,
    /// `lo - 2^23 * scale`, for the x86_64 kernels' floats made as `2^23 + n` (see
    /// `avx2::row_f32`); rounded to f32, which costs at most half a step of `scale` (none
    /// where `lo` is 0).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    magic_lo: f32,
}

impl Coefficients {
    fn new(range: super::ValueRange) -> Self {
        let scale = (range.hi - range.lo) / (255.0 * 64.0);
        let magic_lo = (range.lo as f64 - 8_388_608.0 * scale as f64) as f32;
        Coefficients { scale, lo: range.lo, magic_lo }
    }
}

/// The output offsets of a SIMD kernel's steps of `step` outputs over `len`: whole steps, then,
/// where `len` is not a whole number of them, one more that ends at `len` and overlaps the one
/// before (the kernels are pure: it writes the same values again), so no row leaves a tail to
/// the plain loop. With how many outputs that covers: `len`, or 0 below one step.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn steps(len: usize, step: usize) -> (impl Iterator<Item = usize>, usize) {
    let whole = len / step * step;
    let last = (whole != len && len >= step).then(|| len - step);
    ((0..whole).step_by(step).chain(last), if len >= step { len } else { 0 })
}

/// [`steps`] of a row pair of packed YUV (4 bytes a macropixel) into one row each of Y, U and V.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn packed_steps(
    (a, b): (&[u8], &[u8]),
    (y, u, v): (&[u8], &[u8], &[u8]),
    step: usize,
) -> (impl Iterator<Item = usize> + use<>, usize) {
    steps(y.len().min(u.len()).min(v.len()).min(a.len() / 4).min(b.len() / 4), step)
}

/// The SIMD kernels of this target, where it has them.
#[cfg(target_arch = "x86_64")]
use avx2 as simd;
#[cfg(target_arch = "aarch64")]
use neon as simd;

/// How many outputs this target's SIMD kernel `$call` did where `$simd` is set, else 0 (and
/// on targets without SIMD kernels, such as armv7, whose NEON intrinsics are not stable).
macro_rules! simd_done {
    ($simd:expr, $call:expr) => {{
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        let done = if $simd {
            // SAFETY: SIMD is only set in `resample_avx2`, on CPUs with AVX2 and FMA, or on
            // aarch64, where NEON is baseline; each kernel keeps its accesses in its slices.
            #[allow(unused_unsafe)]
            unsafe {
                $call
            }
        } else {
            0
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let done = 0;
        done
    }};
}

/// The kernels, each with a plain version and, where `SIMD` is set, the one for this target.
mod kernels {
    use super::{Block, Coefficients, Geometry, Tap};

    /// A row pair of YUYV (UYVY if `uyvy`) to one row of 4:4:4 planes, by byte averages:
    /// every byte with the one below it, then each macropixel's two lumas. The two steps round
    /// opposite ways (down then up on odd rows, up then down on even ones), so the result is
    /// the 2x2 box mean within one level and without bias; chroma rounds up on even rows and
    /// down on odd ones.
    #[inline(always)]
    pub fn halve_packed<const SIMD: bool>(
        (a, b): (&[u8], &[u8]),
        odd: bool,
        uyvy: bool,
        (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
    ) {
        let done = simd_done!(SIMD, {
            let out = (&mut *y, &mut *u, &mut *v);
            match uyvy {
                false => super::simd::halve_packed::<false>((a, b), odd, out),
                true => super::simd::halve_packed::<true>((a, b), odd, out),
            }
        });
        let (yi, ui, vi) = if uyvy { (1, 0, 2) } else { (0, 1, 3) };
        let (down, up) = (odd as u16 ^ 1, odd as u16);
        for k in done..y.len() {
            let (p, q) = (&a[4 * k..4 * k + 4], &b[4 * k..4 * k + 4]);
            let avg = |i: usize| (p[i] as u16 + q[i] as u16 + down) >> 1;
            y[k] = ((avg(yi) + avg(yi + 2) + up) >> 1) as u8;
            u[k] = avg(ui) as u8;
            v[k] = avg(vi) as u8;
        }
    }

    /// A row pair to one row at half width, each output the exact mean of a 2x2 box (rounded
    /// to nearest, ties up on even rows and down on odd ones, so repeated halvings do not
    /// drift).
    #[inline(always)]
    pub fn halve<const SIMD: bool>((a, b): (&[u8], &[u8]), odd: bool, dst: &mut [u8]) {
        let done = simd_done!(SIMD, super::simd::halve((a, b), odd, &mut *dst));
        let half = if odd { 1 } else { 2 };
        for (k, d) in dst.iter_mut().enumerate().skip(done) {
            let sum = a[2 * k] as u16 + a[2 * k + 1] as u16 + b[2 * k] as u16 + b[2 * k + 1] as u16;
            *d = ((sum + half) >> 2) as u8;
        }
    }

    /// Interleaved pairs to two rows.
    #[inline(always)]
    pub fn deinterleave<const SIMD: bool>(src: &[u8], first: &mut [u8], second: &mut [u8]) {
        let done = simd_done!(SIMD, super::simd::deinterleave(src, &mut *first, &mut *second));
        for ((p, a), b) in src[2 * done..].chunks_exact(2).zip(&mut first[done..]).zip(&mut second[done..]) {
            *a = p[0];
            *b = p[1];
        }
    }

    /// `dst = a * (128 - w1) + b * w1` (over 128, rounded) over whole rows; `dst` may be
    /// longer.
    #[inline(always)]
    pub fn vertical<const SIMD: bool>(a: &[u8], b: &[u8], tap: Tap, dst: &mut [u8]) {
        if tap.w1 == 0 {
            dst[..a.len()].copy_from_slice(a);
            return;
        }
        let done = simd_done!(SIMD, super::simd::vertical(a, b, tap.weights(), &mut *dst));
        let [wa, wb] = tap.weights().map(u16::from);
        for ((d, &a), &b) in dst[done..].iter_mut().zip(&a[done..]).zip(&b[done..]) {
            *d = ((a as u16 * wa + b as u16 * wb + 64) >> 7) as u8;
        }
    }

    /// One row through the horizontal blocks into samples with 7 bits of fraction: `src` needs
    /// 16 readable bytes from every block's bases, `reach` bytes in all (rows carry 64 bytes of
    /// slack; the geometry measured the reach), `dst` 16 per block.
    #[inline(always)]
    pub fn horizontal<const SIMD: bool>(src: &[u8], (blocks, reach): (&[Block], usize), dst: &mut [u16]) {
        assert!(src.len() >= reach, "shuffle windows past a row");
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        if SIMD {
            // SAFETY: as in `simd_done!`; every window lies within `reach` (asserted).
            return unsafe { super::simd::horizontal(src, blocks, dst) };
        }
        for (b, d) in blocks.iter().zip(dst.chunks_exact_mut(16)) {
            for h in 0..2 {
                let window: &[u8; 16] = src[b.base[h]..b.base[h] + 16].try_into().expect("16 bytes");
                let index: &[u8; 16] = b.index[16 * h..16 * h + 16].try_into().expect("16 bytes");
                let taps: [u8; 16] = std::array::from_fn(|k| window[index[k] as usize & 15]);
                for k in 0..8 {
                    let w = &b.weight[16 * h + 2 * k..];
                    d[8 * h + k] = taps[2 * k] as u16 * w[0] as u16 + taps[2 * k + 1] as u16 * w[1] as u16;
                }
            }
        }
    }

    /// Blended Y, U and V rows through the geometry's horizontal blocks and the colour
    /// conversion to three f32 rows; `scratch` holds the samples in between (16 per block).
    #[inline(always)]
    pub fn row_f32<const SIMD: bool>(
        [y, u, v]: [&[u8]; 3],
        geometry: &Geometry,
        k: &Coefficients,
        [r, g, b]: [&mut [f32]; 3],
        [ys, us, vs]: [&mut [u16]; 3],
    ) {
        let Geometry { luma_blocks: luma, chroma_blocks: chroma, reach, .. } = geometry;
        let reach = *reach;
        debug_assert!(
            y.len() >= reach.0 && u.len() >= reach.1 && v.len() >= reach.1,
            "rows short of the windows"
        );
        let done =
            simd_done!(SIMD, super::simd::row_f32([y, u, v], geometry, k, [&mut *r, &mut *g, &mut *b]));
        if done == r.len() {
            return;
        }
        horizontal::<SIMD>(y, (luma, reach.0), ys);
        horizontal::<SIMD>(u, (chroma, reach.1), us);
        horizontal::<SIMD>(v, (chroma, reach.1), vs);
        let (ys, us, vs) = (&ys[done..], &us[done..], &vs[done..]);
        colour([ys, us, vs], k, [&mut r[done..], &mut g[done..], &mut b[done..]]);
    }

    /// Samples with 7 bits of fraction to three f32 rows, by [`super::fixed`] (the SIMD row
    /// kernels do the same; this loop does what they leave, and all of it elsewhere, where the
    /// compiler vectorises it).
    #[inline(always)]
    pub fn colour([ys, us, vs]: [&[u16]; 3], k: &Coefficients, [r, g, b]: [&mut [f32]; 3]) {
        for i in 0..r.len() {
            let [cr, cg, cb] = super::fixed::rgb(ys[i], us[i], vs[i]);
            r[i] = cr as f32 * k.scale + k.lo;
            g[i] = cg as f32 * k.scale + k.lo;
            b[i] = cb as f32 * k.scale + k.lo;
        }
    }
}

/// The x86_64 kernels with AVX2 (and FMA). Each returns how many outputs it did; the plain
/// kernel does the rest.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Block, Coefficients, Geometry, Pair};

    /// [`super::kernels::halve_packed`], 16 macropixels at a time.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn halve_packed<const UYVY: bool>(
        (a, b): (&[u8], &[u8]),
        odd: bool,
        (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
    ) -> usize {
        if avx512() {
            // SAFETY: the CPU has the features (checked by `avx512`).
            return unsafe { halve_packed_avx512::<UYVY>((a, b), odd, (y, u, v)) };
        }
        let (steps, done) = super::packed_steps((a, b), (&*y, &*u, &*v), 16);
        // SAFETY: the caller runs on a CPU with AVX2; 64 bytes from 4 * o lie in a and b, 16
        // from o in y, u and v (o + 16 <= len).
        unsafe {
            let one = _mm256_set1_epi8(1);
            // `pavgb` rounds up; rounding down takes off the lost low bit.
            let up = |x: __m256i, z: __m256i| _mm256_avg_epu8(x, z);
            let down = |x: __m256i, z: __m256i| {
                _mm256_sub_epi8(_mm256_avg_epu8(x, z), _mm256_and_si256(_mm256_xor_si256(x, z), one))
            };
            // Per macropixel (4 bytes): the luma average where the first luma was, chroma kept.
            let luma_at = if UYVY { 1 } else { 0 };
            let luma_byte = _mm256_set1_epi32(0xFF << (8 * luma_at));
            // Per 128-bit lane of 4 macropixels: 4 lumas, 4 U, 4 V, 4 zeros.
            let (yb, ub, vb) = if UYVY { (1, 0, 2) } else { (0, 1, 3) };
            let gather: [i8; 16] = std::array::from_fn(|i| match i / 4 {
                0 => (4 * (i % 4) + yb) as i8,
                1 => (4 * (i % 4) + ub) as i8,
                2 => (4 * (i % 4) + vb) as i8,
                _ => -1,
            });
            let gather = _mm256_broadcastsi128_si256(_mm_loadu_si128(gather.as_ptr() as *const __m128i));
            let groups = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
            let one_row = |x: __m256i, z: __m256i| {
                let rows = if odd { down(x, z) } else { up(x, z) };
                // The second luma of each macropixel moved onto the first, averaged with it.
                let next = _mm256_srli_epi32(rows, 16);
                let luma = if odd { up(rows, next) } else { down(rows, next) };
                _mm256_shuffle_epi8(_mm256_blendv_epi8(rows, luma, luma_byte), gather)
            };
            for o in steps {
                let load =
                    |s: &[u8], at: usize| _mm256_loadu_si256(s.as_ptr().add(4 * o + at) as *const __m256i);
                // Lanes [Y U V 0] of macropixels [0-3 | 4-7] and [8-11 | 12-15].
                let (p, q) = (one_row(load(a, 0), load(b, 0)), one_row(load(a, 32), load(b, 32)));
                // [Y 0-3, Y 8-11, U 0-3, U 8-11 | Y 4-7, Y 12-15, U 4-7, U 12-15], V likewise,
                // then 4-byte groups in order.
                let yu = _mm256_permutevar8x32_epi32(_mm256_unpacklo_epi32(p, q), groups);
                let vz = _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi32(p, q), groups);
                _mm_storeu_si128(y.as_mut_ptr().add(o) as *mut __m128i, _mm256_castsi256_si128(yu));
                _mm_storeu_si128(u.as_mut_ptr().add(o) as *mut __m128i, _mm256_extracti128_si256(yu, 1));
                _mm_storeu_si128(v.as_mut_ptr().add(o) as *mut __m128i, _mm256_castsi256_si128(vz));
            }
        }
        done
    }

    /// [`super::kernels::halve`], 32 outputs at a time.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn halve((a, b): (&[u8], &[u8]), odd: bool, dst: &mut [u8]) -> usize {
        let (steps, done) = super::steps(dst.len().min(a.len() / 2).min(b.len() / 2), 32);
        // SAFETY: the caller runs on a CPU with AVX2; 64 bytes from 2 * o lie in a and b, 32
        // from o in dst.
        unsafe {
            let ones = _mm256_set1_epi8(1);
            let half = _mm256_set1_epi16(if odd { 1 } else { 2 });
            for o in steps {
                let load =
                    |s: &[u8], at: usize| _mm256_loadu_si256(s.as_ptr().add(2 * o + at) as *const __m256i);
                // Horizontal pair sums of each row, then of both rows: 16 bits each.
                let sum = |at: usize| {
                    let (x, z) =
                        (_mm256_maddubs_epi16(load(a, at), ones), _mm256_maddubs_epi16(load(b, at), ones));
                    _mm256_srli_epi16(_mm256_add_epi16(_mm256_add_epi16(x, z), half), 2)
                };
                let out = _mm256_permute4x64_epi64(_mm256_packus_epi16(sum(0), sum(32)), 0b11011000);
                _mm256_storeu_si256(dst.as_mut_ptr().add(o) as *mut __m256i, out);
            }
        }
        done
    }

    /// [`super::kernels::deinterleave`], 16 pairs at a time.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn deinterleave(src: &[u8], first: &mut [u8], second: &mut [u8]) -> usize {
        if avx512() {
            // SAFETY: the CPU has the features (checked by `avx512`).
            return unsafe { deinterleave_avx512(src, first, second) };
        }
        // SAFETY: the caller runs on a CPU with the enabled features; every pointer access
        // below stays within the slices, as the comment at each says.
        unsafe {
            let (steps, done) = super::steps(first.len().min(second.len()).min(src.len() / 2), 16);
            let split = _mm256_setr_epi8(
                0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7,
                9, 11, 13, 15,
            );
            for o in steps {
                // SAFETY: 32 bytes from 2 * o within src, 16 from o within first and second.
                let x = _mm256_loadu_si256(src.as_ptr().add(2 * o) as *const __m256i);
                let x = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(x, split), 0b11011000);
                _mm_storeu_si128(first.as_mut_ptr().add(o) as *mut __m128i, _mm256_castsi256_si128(x));
                _mm_storeu_si128(second.as_mut_ptr().add(o) as *mut __m128i, _mm256_extracti128_si256(x, 1));
            }
            done
        }
    }

    /// [`super::kernels::vertical`], 32 bytes at a time.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn vertical(a: &[u8], b: &[u8], [wa, wb]: [u8; 2], dst: &mut [u8]) -> usize {
        if avx512() {
            // SAFETY: the CPU has the features (checked by `avx512`).
            return unsafe { vertical_avx512(a, b, [wa, wb], dst) };
        }
        // SAFETY: the caller runs on a CPU with the enabled features; every pointer access
        // below stays within the slices, as the comment at each says.
        unsafe {
            let (steps, done) = super::steps(a.len().min(b.len()).min(dst.len()), 32);
            let weights = _mm256_set1_epi16(((wb as i16) << 8) | wa as i16);
            let round = _mm256_set1_epi16(1 << 8);
            for o in steps {
                // SAFETY: 32 bytes from o within a, b and dst.
                let x = _mm256_loadu_si256(a.as_ptr().add(o) as *const __m256i);
                let z = _mm256_loadu_si256(b.as_ptr().add(o) as *const __m256i);
                let lo =
                    _mm256_mulhrs_epi16(_mm256_maddubs_epi16(_mm256_unpacklo_epi8(x, z), weights), round);
                let hi =
                    _mm256_mulhrs_epi16(_mm256_maddubs_epi16(_mm256_unpackhi_epi8(x, z), weights), round);
                _mm256_storeu_si256(dst.as_mut_ptr().add(o) as *mut __m256i, _mm256_packus_epi16(lo, hi));
            }
            done
        }
    }

    /// [`deinterleave`] with AVX-512 (VBMI), 32 pairs at a time: one byte permute.
    ///
    /// # Safety
    /// AVX-512 F, BW, VL and VBMI.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vbmi")]
    unsafe fn deinterleave_avx512(src: &[u8], first: &mut [u8], second: &mut [u8]) -> usize {
        let (steps, done) = super::steps(first.len().min(second.len()).min(src.len() / 2), 32);
        // SAFETY: the caller runs on a CPU with the features; 64 bytes from 2 * o lie in src,
        // 32 from o in first and second.
        unsafe {
            let split: [u8; 64] = std::array::from_fn(|i| (2 * (i % 32) + i / 32) as u8);
            let split = _mm512_loadu_si512(split.as_ptr() as *const __m512i);
            for o in steps {
                let x = _mm512_loadu_si512(src.as_ptr().add(2 * o) as *const __m512i);
                let x = _mm512_permutexvar_epi8(split, x);
                _mm256_storeu_si256(first.as_mut_ptr().add(o) as *mut __m256i, _mm512_castsi512_si256(x));
                _mm256_storeu_si256(
                    second.as_mut_ptr().add(o) as *mut __m256i,
                    _mm512_extracti64x4_epi64(x, 1),
                );
            }
        }
        done
    }

    /// [`vertical`] with AVX-512, 64 bytes at a time.
    ///
    /// # Safety
    /// AVX-512 F and BW.
    #[target_feature(enable = "avx2,avx512f,avx512bw")]
    unsafe fn vertical_avx512(a: &[u8], b: &[u8], [wa, wb]: [u8; 2], dst: &mut [u8]) -> usize {
        let (steps, done) = super::steps(a.len().min(b.len()).min(dst.len()), 64);
        // SAFETY: the caller runs on a CPU with the features; 64 bytes from o lie in a, b and
        // dst.
        unsafe {
            let weights = _mm512_set1_epi16(((wb as i16) << 8) | wa as i16);
            let round = _mm512_set1_epi16(1 << 8);
            for o in steps {
                let x = _mm512_loadu_si512(a.as_ptr().add(o) as *const __m512i);
                let z = _mm512_loadu_si512(b.as_ptr().add(o) as *const __m512i);
                let blend = |pairs: __m512i| _mm512_mulhrs_epi16(_mm512_maddubs_epi16(pairs, weights), round);
                let (lo, hi) = (blend(_mm512_unpacklo_epi8(x, z)), blend(_mm512_unpackhi_epi8(x, z)));
                _mm512_storeu_si512(dst.as_mut_ptr().add(o) as *mut __m512i, _mm512_packus_epi16(lo, hi));
            }
        }
        done
    }

    /// [`super::kernels::horizontal`]: per block, one 32-byte shuffle and one multiply-add.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn horizontal(src: &[u8], blocks: &[Block], dst: &mut [u16]) {
        assert!(dst.len() >= 16 * blocks.len());
        for (k, b) in blocks.iter().enumerate() {
            // SAFETY: the caller runs on a CPU with AVX2 and has checked that every block's
            // windows lie in src; the 16 outputs lie in dst (asserted).
            unsafe { _mm256_storeu_si256(dst.as_mut_ptr().add(16 * k) as *mut __m256i, block_taps(src, b)) };
        }
    }

    /// One block's 16 outputs: both 16-byte windows in one register, one shuffle gathers each
    /// output's two taps side by side, one multiply-add of byte pairs weighs them.
    ///
    /// # Safety
    /// AVX2, and both of the block's 16-byte windows within `row`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn block_taps(row: &[u8], b: &Block) -> __m256i {
        // SAFETY: as the caller promises; index and weight are 32-byte arrays.
        unsafe {
            let window = _mm256_loadu2_m128i(
                row.as_ptr().add(b.base[1]) as *const __m128i,
                row.as_ptr().add(b.base[0]) as *const __m128i,
            );
            let index = _mm256_loadu_si256(b.index.as_ptr() as *const __m256i);
            let weight = _mm256_loadu_si256(b.weight.as_ptr() as *const __m256i);
            _mm256_maddubs_epi16(_mm256_shuffle_epi8(window, index), weight)
        }
    }

    /// `$name`: [`super::fixed`] on one vector of 16-bit lanes (samples with 7 bits of
    /// fraction to R, G and B, clamped), by the intrinsics of that width.
    macro_rules! fixed_rgb {
        ($name:ident, $vec:ty, $features:literal, $set1:ident, $sub:ident, $mulhrs:ident, $adds:ident,
         $subs:ident, $min:ident, $max:ident) => {
            #[target_feature(enable = $features)]
            #[inline]
            fn $name(y: $vec, u: $vec, v: $vec) -> [$vec; 3] {
                use super::fixed::*;
                let w = $set1;
                let y = $sub($mulhrs(y, w(KY)), w(Y_FOOT));
                let (u, v) = ($sub(u, w(CHROMA_ZERO)), $sub(v, w(CHROMA_ZERO)));
                let r = $adds(y, $mulhrs(v, w(KVR)));
                let g = $subs($subs(y, $mulhrs(u, w(KUG))), $mulhrs(v, w(KVG)));
                let b = $adds($adds(y, u), $mulhrs(u, w(KUB)));
                [r, g, b].map(|c| $min($max(c, w(0)), w(TOP)))
            }
        };
    }
    fixed_rgb!(
        fixed_rgb,
        __m256i,
        "avx2",
        _mm256_set1_epi16,
        _mm256_sub_epi16,
        _mm256_mulhrs_epi16,
        _mm256_adds_epi16,
        _mm256_subs_epi16,
        _mm256_min_epi16,
        _mm256_max_epi16
    );
    fixed_rgb!(
        fixed_rgb_512,
        __m512i,
        "avx2,avx512f,avx512bw",
        _mm512_set1_epi16,
        _mm512_sub_epi16,
        _mm512_mulhrs_epi16,
        _mm512_adds_epi16,
        _mm512_subs_epi16,
        _mm512_min_epi16,
        _mm512_max_epi16
    );

    /// [`super::kernels::row_f32`] for whole blocks: the horizontal taps of all three planes,
    /// then the colour conversion straight from the registers: [`fixed_rgb`], then to floats
    /// without a conversion instruction: a channel `n` (0 to 16320) as the low half of a float
    /// whose high half is 0x4B00 is `2^23 + n`, and one multiply-add with `magic_lo` takes it
    /// into the range. With AVX-512 (VBMI), [`row_f32_avx512`] on the geometry's pairs; else,
    /// where the geometry has them, the quarter-layout blocks, which need no lane-crossing
    /// permute before the unpacks.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn row_f32(
        [ys, us, vs]: [&[u8]; 3],
        geometry: &Geometry,
        k: &Coefficients,
        [r, g, b]: [&mut [f32]; 3],
    ) -> usize {
        let Geometry { luma_blocks, chroma_blocks, quarters, pairs, reach, .. } = geometry;
        let n = (r.len().min(g.len()).min(b.len()) / 16).min(luma_blocks.len()).min(chroma_blocks.len());
        // `reach`: the bytes every window of these blocks and pairs needs (the geometry
        // measured it).
        let fits = ys.len() >= reach.0 && us.len() >= reach.1 && vs.len() >= reach.1;
        assert!(fits, "shuffle windows past a row");
        let mut start = 0;
        if let Some((lp, cp)) = pairs.as_ref().filter(|_| avx512()) {
            let count = (n / 2).min(lp.len()).min(cp.len());
            // SAFETY: the CPU has the features (checked by `avx512`); the windows fit (above);
            // the pairs' 32 outputs each lie in r, g and b (2 * count blocks <= n).
            unsafe {
                row_f32_avx512([ys, us, vs], (&lp[..count], &cp[..count]), k, [&mut *r, &mut *g, &mut *b])
            };
            start = 2 * count;
        }
        // SAFETY: the caller runs on a CPU with AVX2 and FMA; every window lies in its row
        // (asserted above), and 16 outputs from 16 * i lie in r, g and b (i < n <= blocks).
        unsafe {
            match quarters {
                Some((lq, cq)) if lq.len() >= n && cq.len() >= n => {
                    row_blocks::<true>([ys, us, vs], (lq, cq), start..n, k, [r, g, b])
                }
                _ => row_blocks::<false>([ys, us, vs], (luma_blocks, chroma_blocks), start..n, k, [r, g, b]),
            }
        }
        16 * n
    }

    /// [`row_f32`]'s AVX2 loop over `blocks`, in the quarter layout where `QUARTERS` is set.
    ///
    /// # Safety
    /// AVX2 and FMA; every block's windows within its row; 16 outputs from `16 * i` in r, g
    /// and b for `i` in `blocks`.
    #[target_feature(enable = "avx2,fma")]
    #[inline(never)]
    unsafe fn row_blocks<const QUARTERS: bool>(
        [ys, us, vs]: [&[u8]; 3],
        (luma, chroma): (&[Block], &[Block]),
        blocks: std::ops::Range<usize>,
        k: &Coefficients,
        [r, g, b]: [&mut [f32]; 3],
    ) {
        // SAFETY: as the caller promises.
        unsafe {
            let magic = _mm256_set1_epi16(0x4B00);
            let (scale, magic_lo) = (_mm256_set1_ps(k.scale), _mm256_set1_ps(k.magic_lo));
            // 16 channels to two vectors of 8 floats. Outputs 0-7 in the low half and 8-15 in
            // the high one first swap the middle quarters, so each unpack takes eight in order;
            // the quarter layout has them there already.
            let floats = |x: __m256i| {
                let x = if QUARTERS { x } else { _mm256_permute4x64_epi64(x, 0b11011000) };
                let f = |x: __m256i| _mm256_fmadd_ps(_mm256_castsi256_ps(x), scale, magic_lo);
                (f(_mm256_unpacklo_epi16(x, magic)), f(_mm256_unpackhi_epi16(x, magic)))
            };
            let first = blocks.start;
            for (i, (lb, cb)) in luma[blocks.clone()].iter().zip(&chroma[blocks]).enumerate() {
                let rgb = fixed_rgb(block_taps(ys, lb), block_taps(us, cb), block_taps(vs, cb));
                let at = 16 * (first + i);
                for (plane, c) in [&mut *r, &mut *g, &mut *b].into_iter().zip(rgb) {
                    let (lo, hi) = floats(c);
                    _mm256_storeu_ps(plane.as_mut_ptr().add(at), lo);
                    _mm256_storeu_ps(plane.as_mut_ptr().add(at + 8), hi);
                }
            }
        }
    }

    #[cfg(test)]
    thread_local! {
        /// Tests set this to run the AVX2 kernels on a CPU with AVX-512.
        pub static NO_AVX512: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether the CPU has what the AVX-512 kernels take (x86-64-v4 and VBMI: Zen 4, Ice Lake
    /// and later). Detected once: the kernels ask per row.
    #[inline]
    pub fn avx512() -> bool {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        #[cfg(test)]
        if NO_AVX512.get() {
            return false;
        }
        *HAS.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512vbmi")
        })
    }

    /// [`halve_packed`] with AVX-512: one byte permute of a 64-byte vector of both rows'
    /// averages sorts 16 macropixels into 16 first lumas, 16 second ones, 16 U and 16 V.
    ///
    /// # Safety
    /// AVX-512 F, BW, VL and VBMI.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vbmi")]
    unsafe fn halve_packed_avx512<const UYVY: bool>(
        (a, b): (&[u8], &[u8]),
        odd: bool,
        (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
    ) -> usize {
        let (steps, done) = super::packed_steps((a, b), (&*y, &*u, &*v), 16);
        // SAFETY: the caller runs on a CPU with the features; 64 bytes from 4 * o lie in a and
        // b, 16 from o in y, u and v (o + 16 <= len).
        unsafe {
            let one = _mm512_set1_epi8(1);
            // `pavgb` rounds up; rounding down takes off the lost low bit.
            let up = |x: __m512i, z: __m512i| _mm512_avg_epu8(x, z);
            let down = |x: __m512i, z: __m512i| {
                _mm512_sub_epi8(_mm512_avg_epu8(x, z), _mm512_and_si512(_mm512_xor_si512(x, z), one))
            };
            let one = _mm_set1_epi8(1);
            let up_128 = |x: __m128i, z: __m128i| _mm_avg_epu8(x, z);
            let down_128 = |x: __m128i, z: __m128i| {
                _mm_sub_epi8(_mm_avg_epu8(x, z), _mm_and_si128(_mm_xor_si128(x, z), one))
            };
            let at = if UYVY { [1, 3, 0, 2] } else { [0, 2, 1, 3] };
            let gather: [u8; 64] = std::array::from_fn(|i| (4 * (i % 16) + at[i / 16]) as u8);
            let gather = _mm512_loadu_si512(gather.as_ptr() as *const __m512i);
            for o in steps {
                let load = |s: &[u8]| _mm512_loadu_si512(s.as_ptr().add(4 * o) as *const __m512i);
                let rows = if odd { down(load(a), load(b)) } else { up(load(a), load(b)) };
                let sorted = _mm512_permutexvar_epi8(gather, rows);
                let (first, second) = (_mm512_castsi512_si128(sorted), _mm512_extracti32x4_epi32(sorted, 1));
                let luma = if odd { up_128(first, second) } else { down_128(first, second) };
                _mm_storeu_si128(y.as_mut_ptr().add(o) as *mut __m128i, luma);
                _mm_storeu_si128(u.as_mut_ptr().add(o) as *mut __m128i, _mm512_extracti32x4_epi32(sorted, 2));
                _mm_storeu_si128(v.as_mut_ptr().add(o) as *mut __m128i, _mm512_extracti32x4_epi32(sorted, 3));
            }
        }
        done
    }

    /// [`row_f32`] with AVX-512, a pair of blocks (32 outputs) at a time: one byte permute of
    /// a 64-byte window gathers its taps in [`super::pair_slot`] order, one multiply-add weighs
    /// them, [`fixed_rgb_512`] converts, and each unpack with a float's high half gives 16
    /// outputs in order as `2^23 + n` for one multiply-add into the range.
    ///
    /// # Safety
    /// AVX-512 F, BW, VL and VBMI; every pair's 64-byte windows within its row; 32 outputs per
    /// pair in r, g and b.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vbmi")]
    unsafe fn row_f32_avx512(
        [ys, us, vs]: [&[u8]; 3],
        (luma, chroma): (&[Pair], &[Pair]),
        k: &Coefficients,
        [r, g, b]: [&mut [f32]; 3],
    ) {
        // SAFETY: as the caller promises.
        unsafe {
            let magic = _mm512_set1_epi16(0x4B00);
            let (scale, magic_lo) = (_mm512_set1_ps(k.scale), _mm512_set1_ps(k.magic_lo));
            let taps = |row: &[u8], p: &Pair| {
                let window = _mm512_loadu_si512(row.as_ptr().add(p.base) as *const __m512i);
                let index = _mm512_loadu_si512(p.index.as_ptr() as *const __m512i);
                let weight = _mm512_loadu_si512(p.weight.as_ptr() as *const __m512i);
                _mm512_maddubs_epi16(_mm512_permutexvar_epi8(index, window), weight)
            };
            let float = |x: __m512i| _mm512_fmadd_ps(_mm512_castsi512_ps(x), scale, magic_lo);
            for (i, (lp, cp)) in luma.iter().zip(chroma).enumerate() {
                let rgb = fixed_rgb_512(taps(ys, lp), taps(us, cp), taps(vs, cp));
                for (plane, c) in [&mut *r, &mut *g, &mut *b].into_iter().zip(rgb) {
                    _mm512_storeu_ps(plane.as_mut_ptr().add(32 * i), float(_mm512_unpacklo_epi16(c, magic)));
                    _mm512_storeu_ps(
                        plane.as_mut_ptr().add(32 * i + 16),
                        float(_mm512_unpackhi_epi16(c, magic)),
                    );
                }
            }
        }
    }
}

/// The aarch64 kernels with NEON (part of the baseline: every aarch64 CPU has it). Each
/// returns how many outputs it did; the plain kernel does the rest. The colour conversion is
/// the plain loop, which the compiler vectorises well for NEON.
#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;

    use super::{Block, Coefficients, Geometry};

    /// [`super::kernels::halve_packed`], 16 macropixels at a time: `ld4` splits them.
    #[inline(always)]
    pub unsafe fn halve_packed<const UYVY: bool>(
        (a, b): (&[u8], &[u8]),
        odd: bool,
        (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
    ) -> usize {
        let (steps, done) = super::packed_steps((a, b), (&*y, &*u, &*v), 16);
        // SAFETY: NEON is baseline; 64 bytes from 4 * o lie in a and b, 16 from o in y, u and v
        // (o + 16 <= len).
        unsafe {
            let rows = |x: uint8x16_t, z: uint8x16_t| if odd { vhaddq_u8(x, z) } else { vrhaddq_u8(x, z) };
            for o in steps {
                let (p, q) = (vld4q_u8(a.as_ptr().add(4 * o)), vld4q_u8(b.as_ptr().add(4 * o)));
                let (y0, cu, y1, cv) = if UYVY {
                    (rows(p.1, q.1), rows(p.0, q.0), rows(p.3, q.3), rows(p.2, q.2))
                } else {
                    (rows(p.0, q.0), rows(p.1, q.1), rows(p.2, q.2), rows(p.3, q.3))
                };
                let luma = if odd { vrhaddq_u8(y0, y1) } else { vhaddq_u8(y0, y1) };
                vst1q_u8(y.as_mut_ptr().add(o), luma);
                vst1q_u8(u.as_mut_ptr().add(o), cu);
                vst1q_u8(v.as_mut_ptr().add(o), cv);
            }
        }
        done
    }

    /// [`super::kernels::halve`], 16 outputs at a time: pairwise widening sums.
    #[inline(always)]
    pub unsafe fn halve((a, b): (&[u8], &[u8]), odd: bool, dst: &mut [u8]) -> usize {
        let (steps, done) = super::steps(dst.len().min(a.len() / 2).min(b.len() / 2), 16);
        // SAFETY: NEON is baseline; 32 bytes from 2 * o lie in a and b, 16 from o in dst.
        unsafe {
            let half = vdupq_n_u16(if odd { 1 } else { 2 });
            for o in steps {
                let sums = |at: usize| {
                    let (x, z) = (vld1q_u8(a.as_ptr().add(2 * o + at)), vld1q_u8(b.as_ptr().add(2 * o + at)));
                    vshrn_n_u16::<2>(vaddq_u16(vpadalq_u8(vpaddlq_u8(x), z), half))
                };
                vst1q_u8(dst.as_mut_ptr().add(o), vcombine_u8(sums(0), sums(16)));
            }
        }
        done
    }

    /// [`super::kernels::deinterleave`], 16 pairs at a time: `ld2` splits them.
    #[inline(always)]
    pub unsafe fn deinterleave(src: &[u8], first: &mut [u8], second: &mut [u8]) -> usize {
        let (steps, done) = super::steps(first.len().min(second.len()).min(src.len() / 2), 16);
        // SAFETY: NEON is baseline; 32 bytes from 2 * o lie in src, 16 from o in first and
        // second.
        unsafe {
            for o in steps {
                let pairs = vld2q_u8(src.as_ptr().add(2 * o));
                vst1q_u8(first.as_mut_ptr().add(o), pairs.0);
                vst1q_u8(second.as_mut_ptr().add(o), pairs.1);
            }
        }
        done
    }

    /// [`super::kernels::vertical`], 16 bytes at a time: widening multiply-accumulate, then a
    /// rounding narrowing shift.
    #[inline(always)]
    pub unsafe fn vertical(a: &[u8], b: &[u8], [wa, wb]: [u8; 2], dst: &mut [u8]) -> usize {
        let (steps, done) = super::steps(a.len().min(b.len()).min(dst.len()), 16);
        // SAFETY: NEON is baseline; 16 bytes from o lie in a, b and dst.
        unsafe {
            let (wa, wb) = (vdup_n_u8(wa), vdup_n_u8(wb));
            for o in steps {
                let (x, z) = (vld1q_u8(a.as_ptr().add(o)), vld1q_u8(b.as_ptr().add(o)));
                let lo = vmlal_u8(vmull_u8(vget_low_u8(x), wa), vget_low_u8(z), wb);
                let hi = vmlal_high_u8(vmull_high_u8(x, vcombine_u8(wa, wa)), z, vcombine_u8(wb, wb));
                vst1q_u8(dst.as_mut_ptr().add(o), vcombine_u8(vrshrn_n_u16::<7>(lo), vrshrn_n_u16::<7>(hi)));
            }
        }
        done
    }

    /// [`super::kernels::horizontal`]: per half block, one `tbl` and two widening multiplies
    /// whose neighbours (the two taps of an output) add pairwise.
    #[inline(always)]
    pub unsafe fn horizontal(src: &[u8], blocks: &[Block], dst: &mut [u16]) {
        assert!(dst.len() >= 16 * blocks.len());
        for (k, b) in blocks.iter().enumerate() {
            for h in 0..2 {
                let window = &src[b.base[h]..b.base[h] + 16];
                // SAFETY: NEON is baseline; the window is 16 bytes (sliced just above), index
                // and weight 16 of 32, the 8 outputs within dst (asserted).
                unsafe {
                    let taps = vqtbl1q_u8(vld1q_u8(window.as_ptr()), vld1q_u8(b.index.as_ptr().add(16 * h)));
                    let weight = vld1q_u8(b.weight.as_ptr().add(16 * h));
                    let lo = vmull_u8(vget_low_u8(taps), vget_low_u8(weight));
                    let hi = vmull_high_u8(taps, weight);
                    vst1q_u16(dst.as_mut_ptr().add(16 * k + 8 * h), vpaddq_u16(lo, hi));
                }
            }
        }
    }

    /// No fused row kernel here: [`super::kernels::row_f32`] takes the plain route through
    /// [`horizontal`] and the vectorised colour loop.
    #[inline(always)]
    pub unsafe fn row_f32(_: [&[u8]; 3], _: &Geometry, _: &Coefficients, _: [&mut [f32]; 3]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_align_pixel_centres_and_clamp_edges() {
        // 2:1 down: each output between two sources, half and half.
        let t = taps(2, 4.0, 4, false);
        assert_eq!(t, [Tap { left: 0, right: 1, w1: 64 }, Tap { left: 2, right: 3, w1: 64 }]);
        // 1:2 up: the first output clamps to the first source, the last to the last.
        let t = taps(4, 2.0, 2, false);
        assert_eq!(t[0], Tap { left: 0, right: 0, w1: 0 });
        assert_eq!(t[1], Tap { left: 0, right: 1, w1: 32 });
        assert_eq!(t[3], Tap { left: 1, right: 1, w1: 0 });
        // Paired chroma of 8 pixels (4 samples at pixels 0.5, 2.5, 4.5, 6.5) for 4 outputs (at
        // pixels 0.5, 2.5, 4.5, 6.5): exactly on the samples.
        let t = taps(4, 8.0, 4, true);
        assert!(t.iter().enumerate().all(|(k, t)| t.left == k && t.w1 == 0), "{t:?}");
        // Weights fit pmaddubsw's signed bytes and add up to 128.
        for t in taps(256, 480.0 / 2.0, 240, false) {
            let [a, b] = t.weights();
            assert!(a < 128 && b < 128 && a as u16 + b as u16 == 128, "{t:?}");
        }
    }

    #[test]
    fn blocks_fit_sixteen_bytes_below_scale_two() {
        for (out, n) in [(256, 511), (256, 480), (58, 115), (7, 13), (256, 256), (256, 40), (3, 2)] {
            for paired in [false, true] {
                let t = taps(out, n as f64, if paired { n / 2 } else { n }, paired);
                assert_eq!(blocks(&t).len(), out.div_ceil(16));
            }
        }
    }

    #[test]
    fn pairs_take_the_blocks_taps_below_scale_two() {
        for (out, n) in [(256, 240), (256, 383), (58, 80), (100, 149), (256, 256), (64, 16), (40, 79)] {
            for paired in [false, true] {
                let t = taps(out, n as f64, if paired { n / 2 } else { n }, paired);
                let (blocks, pairs) = (blocks(&t), pairs(&t).expect("scales below 2 fit"));
                assert_eq!(pairs.len(), blocks.len() / 2);
                for (p, pair) in pairs.iter().enumerate() {
                    for k in 0..32 {
                        let at = 2 * pair_slot(k);
                        let pair_taps = (
                            [pair.base + pair.index[at] as usize, pair.base + pair.index[at + 1] as usize],
                            [pair.weight[at], pair.weight[at + 1]],
                        );
                        let block = &blocks[2 * p + k / 16];
                        assert_eq!(block.taps_at(k % 16), pair_taps, "{out} from {n}: output {k}");
                    }
                }
            }
        }
        // Below scale 2 (all that `blocks` takes) 32 outputs span at most 63 samples and every
        // pair fits; past it, none.
        assert!(pairs(&taps(64, 127.9, 128, false)).is_some());
        assert!(pairs(&taps(64, 160.0, 160, false)).is_none());
        // The slots are a permutation.
        let mut slots: Vec<usize> = (0..32).map(pair_slot).collect();
        slots.sort();
        assert!(slots.iter().copied().eq(0..32));
    }

    #[test]
    fn quarter_blocks_take_the_blocks_taps_up_to_scale_1_27() {
        for (out, n) in [(256, 240), (256, 320), (58, 70), (100, 101), (40, 50), (64, 16)] {
            for paired in [false, true] {
                let t = taps(out, n as f64, if paired { n / 2 } else { n }, paired);
                let (blocks, quarters) = (blocks(&t), quarter_blocks(&t).expect("scales up to 1.25 fit"));
                assert_eq!(blocks.len(), quarters.len());
                for (b, q) in blocks.iter().zip(&quarters) {
                    for k in 0..16 {
                        assert_eq!(b.taps_at(k), q.taps_at(quarter_slot(k)), "{out} from {n}: output {k}");
                    }
                }
            }
        }
        // 12 outputs of a half over 16 samples: at 720p's scale (360 samples to 256) no quarters.
        assert!(quarter_blocks(&taps(256, 360.0, 360, false)).is_none());
        let mut slots: Vec<usize> = (0..16).map(quarter_slot).collect();
        slots.sort();
        assert!(slots.iter().copied().eq(0..16));
    }

    /// A noisy crop (every byte differs from its neighbours) of `w` x `h` in each layout.
    fn noisy(w: usize, h: usize) -> Vec<(Vec<u8>, bool, bool)> {
        let data: Vec<u8> = (0..w * 2 * h).map(|i| (i * 7919 % 251) as u8).collect();
        [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .map(|(semi, swap)| (data.clone(), semi, swap))
            .collect()
    }

    fn crop(data: &[u8], w: usize, h: usize, semi: bool, swap: bool) -> Yuv<'_> {
        if semi {
            let luma = Plane { data: Cow::Borrowed(data), start: 0, stride: w, len: w, rows: h };
            let chroma = Plane { data: Cow::Borrowed(data), start: w * h, stride: w, len: w, rows: h / 2 };
            Yuv::SemiPlanar { luma, chroma, nv21: swap }
        } else {
            let plane = Plane { data: Cow::Borrowed(data), start: 0, stride: w * 2, len: w * 2, rows: h };
            Yuv::Packed { plane, uyvy: swap }
        }
    }

    /// Runs `check` with each SIMD level this CPU has: on x86_64, AVX2 and, where the CPU has
    /// it, AVX-512.
    fn each_simd_level(check: impl Fn()) {
        check();
        #[cfg(target_arch = "x86_64")]
        if avx2::avx512() {
            avx2::NO_AVX512.set(true);
            check();
            avx2::NO_AVX512.set(false);
        }
    }

    #[test]
    fn simd_and_plain_paths_give_identical_pictures() {
        each_simd_level(simd_and_plain_paths_agree);
    }

    fn simd_and_plain_paths_agree() {
        // Odd output sizes, halving once, twice and not at all, a width that is not a whole
        // number of SIMD blocks.
        let (w, h) = (202usize, 150usize);
        for (data, semi, swap) in noisy(w, h) {
            for side in [58, 64, 100, 150, 256] {
                let yuv = crop(&data, w, h, semi, swap);
                let (mut fast, mut plain) = (vec![0u8; side * side * 3], vec![0u8; side * side * 3]);
                resample(yuv.clone(), side, Out::Rgb(&mut fast)).expect("a square crop");
                resample_with::<false>(yuv.clone(), side, Out::Rgb(&mut plain)).unwrap();
                assert!(fast == plain, "RGB: {side} semi {semi} swap {swap}");
                let range = crate::convert::ValueRange { lo: -1.0, hi: 1.0 };
                let (mut fast, mut plain) = (vec![0f32; side * side * 3], vec![0f32; side * side * 3]);
                resample(yuv.clone(), side, Out::planes(&mut fast, range)).unwrap();
                resample_with::<false>(yuv, side, Out::planes(&mut plain, range)).unwrap();
                // The same fixed-point channels; the SIMD floats carry at most half a step of
                // the range's 64ths of a level more rounding (from `magic_lo`).
                let worst = fast.iter().zip(&plain).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                let step = (range.hi - range.lo) / (255.0 * 64.0);
                assert!(worst <= step * 0.51, "tensor: {side} semi {semi} swap {swap}: {worst}");
            }
        }
    }

    #[test]
    fn the_tensor_is_the_rgb_picture_before_rounding() {
        // The f32 planes and the RGB bytes come from the same samples: the bytes round the
        // samples to 8 bits, then the conversion to 8 bits; the planes do neither. So they
        // differ by at most 2.09 levels (blue: half a level of luma through the 298/256 gain,
        // half of chroma through 516/256, half of the result).
        let (w, h) = (202usize, 150usize);
        for (data, semi, swap) in noisy(w, h) {
            let side = 100;
            let yuv = crop(&data, w, h, semi, swap);
            let (mut rgb, mut planes) = (vec![0u8; side * side * 3], vec![0f32; side * side * 3]);
            resample(yuv.clone(), side, Out::Rgb(&mut rgb)).unwrap();
            resample(yuv, side, Out::planes(&mut planes, crate::convert::ValueRange { lo: 0.0, hi: 255.0 }))
                .unwrap();
            let n = side * side;
            for (i, px) in rgb.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    let d = (px[c] as f32 - planes[c * n + i]).abs();
                    assert!(d <= 2.09, "pixel {i} channel {c}: {} vs {}", px[c], planes[c * n + i]);
                }
            }
        }
    }

    #[test]
    fn halving_keeps_chroma_beside_its_luma() {
        each_simd_level(halving_keeps_chroma);
    }

    fn halving_keeps_chroma() {
        // YUYV rows of 20 macropixels (past one SIMD block): even ones Y 10, 30 / 50, 70,
        // U 100 / 110, V 200 / 220; odd ones Y 0, U 0 / 1, V 255.
        let even = [[10, 100, 30, 200], [50, 110, 70, 220]];
        let odd = [[0, 0, 0, 255], [0, 1, 0, 255]];
        let row = |r: usize| -> Vec<u8> {
            (0..20).flat_map(|k| if k % 2 == 0 { even[r] } else { odd[r] }).collect()
        };
        let uyvy = |row: &[u8]| -> Vec<u8> { row.chunks(2).flat_map(|p| [p[1], p[0]]).collect() };
        let (a, b) = (row(0), row(1));
        let (ua, ub) = (uyvy(&a), uyvy(&b));
        for simd in [false, true] {
            #[cfg(target_arch = "x86_64")]
            if simd && !std::arch::is_x86_feature_detected!("avx2") {
                continue;
            }
            let halve = if simd { kernels::halve_packed::<true> } else { kernels::halve_packed::<false> };
            for (odd_row, rounded_u) in [(false, 1), (true, 0)] {
                // Y: even rows (10+50+1)/2 = 30 and (30+70+1)/2 = 50, then (30+50)/2 = 40; odd
                // rows 30 and 50, then (30+50+1)/2 = 40.
                for (rows, swap) in [((&a, &b), false), ((&ua, &ub), true)] {
                    let (mut y, mut u, mut v) = ([0u8; 20], [0u8; 20], [0u8; 20]);
                    halve((rows.0, rows.1), odd_row, swap, (&mut y, &mut u, &mut v));
                    for k in 0..20 {
                        let want = if k % 2 == 0 { (40, 105, 210) } else { (0, rounded_u, 255) };
                        assert_eq!(
                            (y[k], u[k], v[k]),
                            want,
                            "macropixel {k} simd {simd} uyvy {swap} odd row {odd_row}"
                        );
                    }
                }
            }
        }
    }
}
