//! The x86_64 kernels with AVX2, and AVX-512 versions of some that each call picks where the CPU
//! has them ([`avx512`]). Each returns how many outputs it did; the plain kernel does the rest.

use std::arch::x86_64::*;

use super::steps::{packed_steps, steps};
use super::taps::Block;

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
    let (steps, done) = packed_steps((a, b), (&*y, &*u, &*v), 16);
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
            let load = |s: &[u8], at: usize| _mm256_loadu_si256(s.as_ptr().add(4 * o + at) as *const __m256i);
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
    let (steps, done) = steps(dst.len().min(a.len() / 2).min(b.len() / 2), 32);
    // SAFETY: the caller runs on a CPU with AVX2; 64 bytes from 2 * o lie in a and b, 32
    // from o in dst.
    unsafe {
        let ones = _mm256_set1_epi8(1);
        let half = _mm256_set1_epi16(if odd { 1 } else { 2 });
        for o in steps {
            let load = |s: &[u8], at: usize| _mm256_loadu_si256(s.as_ptr().add(2 * o + at) as *const __m256i);
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
        let (steps, done) = steps(first.len().min(second.len()).min(src.len() / 2), 16);
        let split = _mm256_setr_epi8(
            0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9,
            11, 13, 15,
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
        let (steps, done) = steps(a.len().min(b.len()).min(dst.len()), 32);
        let weights = _mm256_set1_epi16(((wb as i16) << 8) | wa as i16);
        let round = _mm256_set1_epi16(1 << 8);
        for o in steps {
            // SAFETY: 32 bytes from o within a, b and dst.
            let x = _mm256_loadu_si256(a.as_ptr().add(o) as *const __m256i);
            let z = _mm256_loadu_si256(b.as_ptr().add(o) as *const __m256i);
            let lo = _mm256_mulhrs_epi16(_mm256_maddubs_epi16(_mm256_unpacklo_epi8(x, z), weights), round);
            let hi = _mm256_mulhrs_epi16(_mm256_maddubs_epi16(_mm256_unpackhi_epi8(x, z), weights), round);
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
    let (steps, done) = steps(first.len().min(second.len()).min(src.len() / 2), 32);
    // SAFETY: the caller runs on a CPU with the features; 64 bytes from 2 * o lie in src,
    // 32 from o in first and second.
    unsafe {
        let split: [u8; 64] = std::array::from_fn(|i| (2 * (i % 32) + i / 32) as u8);
        let split = _mm512_loadu_si512(split.as_ptr() as *const __m512i);
        for o in steps {
            let x = _mm512_loadu_si512(src.as_ptr().add(2 * o) as *const __m512i);
            let x = _mm512_permutexvar_epi8(split, x);
            _mm256_storeu_si256(first.as_mut_ptr().add(o) as *mut __m256i, _mm512_castsi512_si256(x));
            _mm256_storeu_si256(second.as_mut_ptr().add(o) as *mut __m256i, _mm512_extracti64x4_epi64(x, 1));
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
    let (steps, done) = steps(a.len().min(b.len()).min(dst.len()), 64);
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
    let (steps, done) = packed_steps((a, b), (&*y, &*u, &*v), 16);
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
