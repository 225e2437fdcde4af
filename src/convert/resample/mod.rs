//! The YUV fast path's resampler: a frame's crop to a `side` x `side` square of packed RGB, one
//! output row at a time, without a full-size intermediate picture.
//!
//! 1. **Base planes.** The crop becomes three 8-bit planes (Y, U, V). While the crop is at
//!    least 1.5 times the output size it is halved by a 2x2 box (so the 2 taps below never
//!    skip source pixels). The first halving of a chroma-subsampled crop keeps every chroma
//!    sample and pairs it with the halved luma at the same place (a YUYV macropixel becomes
//!    one 4:4:4 pixel, by byte averages within a level of the exact mean and without bias;
//!    NV12's chroma plane is already at half size), so it costs one pass over the crop and
//!    loses no chroma detail. Without halving, Y is used in place (NV12) and the chroma planes
//!    keep their subsampling. The tap tables ([`taps`](mod@taps)) are made once per crop
//!    geometry and the plane buffers reused, per thread (a camera's frames all have one
//!    geometry).
//! 2. **Vertical.** Each output row is a 2-tap blend of two base rows per plane, over whole
//!    rows.
//! 3. **Horizontal.** 16 outputs at a time: a 16-byte table shuffle per 8 outputs gathers both
//!    taps, interleaved, and a multiply-add of byte pairs blends them (x86_64 with AVX2:
//!    `pshufb` + `pmaddubsw`; aarch64: NEON `tbl` + widening multiplies added pairwise; plain
//!    indexing elsewhere, armv7 included). The result keeps 7 bits of fraction.
//! 4. **Colour.** The samples rounded to 8 bits, then BT.601 limited range to packed RGB by
//!    the exact integer conversion ([`super::bt601`]).
//!
//! Weights are 7-bit fixed point (x/128) and every step rounds to nearest. Each kernel has a
//! plain version ([`portable`]) and SIMD ones ([`x86`]: AVX2, and AVX-512 for the packed
//! halving, the deinterleaving and the vertical blends, picked per call where the CPU has
//! them; [`aarch64`]: NEON), which give identical bytes; each SIMD kernel ends a row with an
//! overlapping last step ([`steps`]) instead of a plain tail. [`kernels`] picks them.

#[cfg(target_arch = "aarch64")]
mod aarch64;
mod portable;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod steps;
mod taps;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::borrow::Cow;

use taps::{Block, Tap, blocks, taps};

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
    /// Bytes a row needs for the shuffles' windows of the luma and the chroma blocks.
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
            let luma_blocks = blocks(&taps(side, extent_w, planes.y.len, false));
            let chroma_blocks = blocks(&taps(side, extent_w, planes.u.len, cx));
            let reach = |blocks: &[Block]| blocks.iter().map(Block::reach).max().unwrap_or(0);
            let g = std::rc::Rc::new(Geometry {
                key,
                luma_rows: taps(side, extent_h, planes.y.rows, false),
                chroma_rows: taps(side, extent_h, planes.u.rows, cy),
                reach: (reach(&luma_blocks), reach(&chroma_blocks)),
                luma_blocks,
                chroma_blocks,
            });
            *last = Some(g.clone());
            g
        })
    }
}

/// Resamples the crop into `rgb` (`side * side * 3` bytes). The crop must be at least 2x2
/// pixels with an even width and height, and NV12's chroma plane must hold `rows / 2` rows.
/// `None` (and nothing written) for a crop so much wider than high that halving cannot bring
/// its width below twice the output's (the horizontal blocks need that).
pub(super) fn resample(yuv: Yuv<'_>, side: usize, rgb: &mut [u8]) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { resample_avx2(yuv, side, rgb) };
    }
    #[cfg(target_arch = "aarch64")]
    {
        resample_with::<true>(yuv, side, rgb)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        resample_with::<false>(yuv, side, rgb)
    }
}

/// [`resample_with`] compiled for AVX2: the plain loops around the kernels vectorise with it
/// too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn resample_avx2(yuv: Yuv<'_>, side: usize, rgb: &mut [u8]) -> Option<()> {
    resample_with::<true>(yuv, side, rgb)
}

/// [`resample`], with the SIMD kernels where `SIMD` is set, else the plain ones.
#[inline(always)]
fn resample_with<const SIMD: bool>(yuv: Yuv<'_>, side: usize, rgb: &mut [u8]) -> Option<()> {
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
    // then the resampled samples with 7 bits of fraction, then those rounded to bytes.
    let (mut yrow, mut urow, mut vrow) =
        (vec![0u8; planes.y.len + 64], vec![0u8; planes.u.len + 64], vec![0u8; planes.v.len + 64]);
    let (mut ys, mut us, mut vs) = (vec![0u16; padded], vec![0u16; padded], vec![0u16; padded]);
    let mut bytes = [vec![0u8; padded], vec![0u8; padded], vec![0u8; padded]];
    for oy in 0..side {
        let (t, c) = (luma_rows[oy], chroma_rows[oy]);
        kernels::vertical::<SIMD>(planes.y.row(t.left), planes.y.row(t.right), t, &mut yrow);
        kernels::vertical::<SIMD>(planes.u.row(c.left), planes.u.row(c.right), c, &mut urow);
        kernels::vertical::<SIMD>(planes.v.row(c.left), planes.v.row(c.right), c, &mut vrow);
        kernels::horizontal::<SIMD>(&yrow, (luma_blocks, reach.0), &mut ys);
        kernels::horizontal::<SIMD>(&urow, (chroma_blocks, reach.1), &mut us);
        kernels::horizontal::<SIMD>(&vrow, (chroma_blocks, reach.1), &mut vs);
        for (b, s) in bytes.iter_mut().zip([&ys, &us, &vs]) {
            for (b, &s) in b.iter_mut().zip(s.iter()) {
                *b = ((s + 64) >> 7) as u8;
            }
        }
        let [yb, ub, vb] = &bytes;
        super::bt601::row(&yb[..side], &ub[..side], &vb[..side], &mut rgb[oy * side * 3..][..side * 3]);
    }
    planes.recycle();
    Some(())
}

/// How many outputs this target's SIMD kernel `$call` did where `$simd` is set, else 0 (and
/// on targets without SIMD kernels, such as armv7, whose NEON intrinsics are not stable).
macro_rules! simd_done {
    ($simd:expr, $call:expr) => {{
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        let done = if $simd {
            // SAFETY: SIMD is only set in `resample_avx2`, on CPUs with AVX2, or on aarch64,
            // where NEON is baseline; each kernel keeps its accesses in its slices.
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

/// The kernels: this target's SIMD one where `SIMD` is set, then the plain one
/// ([`portable`]) for what it left (all of it without SIMD).
mod kernels {
    #[cfg(target_arch = "aarch64")]
    use super::aarch64 as simd;
    use super::portable;
    use super::taps::{Block, Tap};
    #[cfg(target_arch = "x86_64")]
    use super::x86 as simd;

    /// A row pair of YUYV (UYVY if `uyvy`) to one row of 4:4:4 planes
    /// ([`portable::halve_packed`]).
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
                false => simd::halve_packed::<false>((a, b), odd, out),
                true => simd::halve_packed::<true>((a, b), odd, out),
            }
        });
        portable::halve_packed((a, b), odd, uyvy, (y, u, v), done);
    }

    /// A row pair to one row at half width by a 2x2 box ([`portable::halve`]).
    #[inline(always)]
    pub fn halve<const SIMD: bool>((a, b): (&[u8], &[u8]), odd: bool, dst: &mut [u8]) {
        let done = simd_done!(SIMD, simd::halve((a, b), odd, &mut *dst));
        portable::halve((a, b), odd, dst, done);
    }

    /// Interleaved pairs to two rows.
    #[inline(always)]
    pub fn deinterleave<const SIMD: bool>(src: &[u8], first: &mut [u8], second: &mut [u8]) {
        let done = simd_done!(SIMD, simd::deinterleave(src, &mut *first, &mut *second));
        portable::deinterleave(src, first, second, done);
    }

    /// `dst = a * (128 - w1) + b * w1` (over 128, rounded) over whole rows; `dst` may be
    /// longer.
    #[inline(always)]
    pub fn vertical<const SIMD: bool>(a: &[u8], b: &[u8], tap: Tap, dst: &mut [u8]) {
        if tap.w1 == 0 {
            dst[..a.len()].copy_from_slice(a);
            return;
        }
        let done = simd_done!(SIMD, simd::vertical(a, b, tap.weights(), &mut *dst));
        portable::vertical(a, b, tap.weights(), dst, done);
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
            return unsafe { simd::horizontal(src, blocks, dst) };
        }
        portable::horizontal(src, blocks, dst);
    }
}
