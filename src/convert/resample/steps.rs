//! How the SIMD kernels walk a row.

/// The output offsets of a SIMD kernel's steps of `step` outputs over `len`: whole steps, then,
/// where `len` is not a whole number of them, one more that ends at `len` and overlaps the one
/// before (the kernels are pure: it writes the same values again), so no row leaves a tail to
/// the plain loop. With how many outputs that covers: `len`, or 0 below one step.
pub(super) fn steps(len: usize, step: usize) -> (impl Iterator<Item = usize>, usize) {
    let whole = len / step * step;
    let last = (whole != len && len >= step).then(|| len - step);
    ((0..whole).step_by(step).chain(last), if len >= step { len } else { 0 })
}

/// [`steps`] of a row pair of packed YUV (4 bytes a macropixel) into one row each of Y, U and V.
pub(super) fn packed_steps(
    (a, b): (&[u8], &[u8]),
    (y, u, v): (&[u8], &[u8], &[u8]),
    step: usize,
) -> (impl Iterator<Item = usize> + use<>, usize) {
    steps(y.len().min(u.len()).min(v.len()).min(a.len() / 4).min(b.len() / 4), step)
}
