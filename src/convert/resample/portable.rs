//! The plain kernels: all of the work on targets without SIMD kernels (armv7, whose NEON
//! intrinsics Rust has not stabilised), elsewhere what a SIMD kernel leaves of a row (nothing,
//! or all of a row shorter than one step). Each starts at output `from`.

use super::taps::Block;

/// A row pair of YUYV (UYVY if `uyvy`) to one row of 4:4:4 planes, by byte averages: every
/// byte with the one below it, then each macropixel's two lumas. The two steps round opposite
/// ways (down then up on odd rows, up then down on even ones), so the result is the 2x2 box
/// mean within one level and without bias; chroma rounds up on even rows and down on odd ones.
#[inline(always)]
pub(super) fn halve_packed(
    (a, b): (&[u8], &[u8]),
    odd: bool,
    uyvy: bool,
    (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
    from: usize,
) {
    let (yi, ui, vi) = if uyvy { (1, 0, 2) } else { (0, 1, 3) };
    let (down, up) = (odd as u16 ^ 1, odd as u16);
    for k in from..y.len() {
        let (p, q) = (&a[4 * k..4 * k + 4], &b[4 * k..4 * k + 4]);
        let avg = |i: usize| (p[i] as u16 + q[i] as u16 + down) >> 1;
        y[k] = ((avg(yi) + avg(yi + 2) + up) >> 1) as u8;
        u[k] = avg(ui) as u8;
        v[k] = avg(vi) as u8;
    }
}

/// A row pair to one row at half width, each output the exact mean of a 2x2 box (rounded to
/// nearest, ties up on even rows and down on odd ones, so repeated halvings do not drift).
#[inline(always)]
pub(super) fn halve((a, b): (&[u8], &[u8]), odd: bool, dst: &mut [u8], from: usize) {
    let half = if odd { 1 } else { 2 };
    for (k, d) in dst.iter_mut().enumerate().skip(from) {
        let sum = a[2 * k] as u16 + a[2 * k + 1] as u16 + b[2 * k] as u16 + b[2 * k + 1] as u16;
        *d = ((sum + half) >> 2) as u8;
    }
}

/// Interleaved pairs to two rows.
#[inline(always)]
pub(super) fn deinterleave(src: &[u8], first: &mut [u8], second: &mut [u8], from: usize) {
    for ((p, a), b) in src[2 * from..].chunks_exact(2).zip(&mut first[from..]).zip(&mut second[from..]) {
        *a = p[0];
        *b = p[1];
    }
}

/// `dst = a * wa + b * wb` (over 128, rounded); `dst` may be longer.
#[inline(always)]
pub(super) fn vertical(a: &[u8], b: &[u8], [wa, wb]: [u8; 2], dst: &mut [u8], from: usize) {
    let (wa, wb) = (wa as u16, wb as u16);
    for ((d, &a), &b) in dst[from..].iter_mut().zip(&a[from..]).zip(&b[from..]) {
        *d = ((a as u16 * wa + b as u16 * wb + 64) >> 7) as u8;
    }
}

/// One row through the horizontal blocks into samples with 7 bits of fraction, 16 per block:
/// the table shuffle and byte-pair multiply-add of the SIMD kernels as plain indexing.
#[inline(always)]
pub(super) fn horizontal(src: &[u8], blocks: &[Block], dst: &mut [u16]) {
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
