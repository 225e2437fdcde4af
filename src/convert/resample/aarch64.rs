//! The aarch64 kernels with NEON (part of the baseline: every aarch64 CPU has it). Each returns
//! how many outputs it did; the plain kernel does the rest.

use std::arch::aarch64::*;

use super::steps::{packed_steps, steps};
use super::taps::Block;

/// [`super::kernels::halve_packed`], 16 macropixels at a time: `ld4` splits them.
#[inline(always)]
pub unsafe fn halve_packed<const UYVY: bool>(
    (a, b): (&[u8], &[u8]),
    odd: bool,
    (y, u, v): (&mut [u8], &mut [u8], &mut [u8]),
) -> usize {
    let (steps, done) = packed_steps((a, b), (&*y, &*u, &*v), 16);
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
    let (steps, done) = steps(dst.len().min(a.len() / 2).min(b.len() / 2), 16);
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
    let (steps, done) = steps(first.len().min(second.len()).min(src.len() / 2), 16);
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
    let (steps, done) = steps(a.len().min(b.len()).min(dst.len()), 16);
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
