//! The ink layer: dark outlines from a difference of Gaussians (the thresholded form of XDoG,
//! Winnemöller et al. 2012) on a smoothed luminance, so lines follow the shapes the colour
//! layer keeps (faces, hair, clothing edges) rather than every texture of the photo.

use super::BAND;
use super::guided::Plane;

/// A normalised Gaussian kernel of standard deviation `sigma` samples, radius 3 `sigma`.
fn kernel(sigma: f32) -> Vec<f32> {
    let r = (sigma * 3.0).ceil().max(1.0) as isize;
    let k: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = k.iter().sum();
    k.iter().map(|v| v / total).collect()
}

/// The horizontal pass of a separable blur by `k` (edges clamped), in bands of rows on all
/// cores. Each row is padded with its edge values, then summed one tap at a time over the
/// whole row (vectorised by the compiler).
fn blur_rows(p: &Plane, k: &[f32]) -> Plane {
    use rayon::prelude::*;
    let (w, r) = (p.width, k.len() / 2);
    let mut out = Plane::zeros(w, p.height);
    out.data.par_chunks_mut(w * BAND).zip(p.data.par_chunks(w * BAND)).for_each(|(out, src)| {
        let mut padded = vec![0f32; w + 2 * r];
        for (row, out) in src.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
            for (i, v) in padded.iter_mut().enumerate() {
                *v = row[i.saturating_sub(r).min(w - 1)];
            }
            for (j, kv) in k.iter().enumerate() {
                for (o, s) in out.iter_mut().zip(&padded[j..j + w]) {
                    *o += kv * s;
                }
            }
        }
    });
    out
}

/// Row `y` of the vertical pass by `k` over `rows` (the horizontal pass's output, edges
/// clamped), added into `out` (zeros), the taps in order.
fn blur_column_row(rows: &Plane, k: &[f32], y: usize, out: &mut [f32]) {
    let (w, h, r) = (rows.width, rows.height, k.len() / 2);
    for (j, kv) in k.iter().enumerate() {
        let src = (y + j).saturating_sub(r).min(h - 1);
        for (d, s) in out.iter_mut().zip(&rows.data[src * w..(src + 1) * w]) {
            *d += kv * s;
        }
    }
}

/// Ink where the luminance `l` (0 to 1) is darker than its surround: a difference of
/// Gaussians at `sigma` and 1.6 `sigma` below `-threshold`. Returns one byte per sample, 255
/// for ink. Lines come out about 2 `sigma` wide, on the dark side of each edge. Both blurs'
/// vertical passes and the threshold run row by row in bands on all cores, so neither blurred
/// picture is stored whole.
pub fn outlines(l: &Plane, sigma: f32, threshold: f32) -> Vec<u8> {
    use rayon::prelude::*;
    let w = l.width;
    let (k_near, k_far) = (kernel(sigma), kernel(sigma * 1.6));
    let (near_rows, far_rows) = rayon::join(|| blur_rows(l, &k_near), || blur_rows(l, &k_far));
    let mut ink = vec![0u8; w * l.height];
    ink.par_chunks_mut(w * BAND).enumerate().for_each(|(band, ink)| {
        let (mut near, mut far) = (vec![0f32; w], vec![0f32; w]);
        for (i, ink) in ink.chunks_exact_mut(w).enumerate() {
            near.fill(0.0);
            far.fill(0.0);
            blur_column_row(&near_rows, &k_near, band * BAND + i, &mut near);
            blur_column_row(&far_rows, &k_far, band * BAND + i, &mut far);
            for ((o, n), f) in ink.iter_mut().zip(&near).zip(&far) {
                *o = if n - f < -threshold { 255 } else { 0 };
            }
        }
    });
    ink
}

/// Removes ink specks: connected pieces of ink (8-neighbourhood) smaller than `min_px`
/// samples go, so dots of texture vanish while outlines, which are long, stay.
pub fn drop_specks(ink: &mut [u8], w: usize, h: usize, min_px: usize) {
    let mut seen = vec![false; ink.len()];
    let mut piece = Vec::new();
    let mut stack = Vec::new();
    for start in 0..ink.len() {
        if ink[start] == 0 || seen[start] {
            continue;
        }
        piece.clear();
        stack.push(start);
        seen[start] = true;
        while let Some(i) = stack.pop() {
            piece.push(i);
            let (x, y) = (i % w, i / w);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = yy * w + xx;
                    if ink[j] != 0 && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if piece.len() < min_px {
            for &i in &piece {
                ink[i] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blurs `p` with a Gaussian of standard deviation `sigma` samples through the passes
    /// [`outlines`] runs (separable, edges clamped).
    fn gaussian(p: &Plane, sigma: f32) -> Plane {
        let k = kernel(sigma);
        let rows = blur_rows(p, &k);
        let mut out = Plane::zeros(p.width, p.height);
        for (y, d) in out.data.chunks_exact_mut(p.width).enumerate() {
            blur_column_row(&rows, &k, y, d);
        }
        out
    }

    #[test]
    fn gaussian_keeps_a_flat_plane_and_its_mass() {
        let flat = Plane { width: 9, height: 7, data: vec![0.5; 63] };
        assert!(gaussian(&flat, 1.5).data.iter().all(|v| (v - 0.5).abs() < 1e-5));
        let mut dot = Plane::zeros(21, 21);
        dot.data[10 * 21 + 10] = 1.0;
        let g = gaussian(&dot, 2.0);
        assert!((g.data.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(g.at(10, 10) > g.at(11, 10) && g.at(11, 10) > g.at(13, 10));
    }

    #[test]
    fn a_dark_line_on_paper_is_inked_and_flat_paper_is_not() {
        // A 2-sample dark stroke at x = 20, 21 on white: ink on and next to it, none far away.
        let l = Plane {
            width: 48,
            height: 16,
            data: (0..48 * 16).map(|i| if (20..22).contains(&(i % 48)) { 0.1 } else { 0.95 }).collect(),
        };
        let ink = outlines(&l, 1.0, 0.02);
        let at = |x: usize| ink[8 * 48 + x];
        assert_eq!(at(20), 255);
        assert_eq!(at(21), 255);
        assert_eq!(at(5), 0);
        assert_eq!(at(40), 0);
    }

    #[test]
    fn specks_go_and_lines_stay() {
        let (w, h) = (12, 5);
        let mut ink = vec![0u8; w * h];
        ink[w + 1] = 255; // a speck of 3, touching diagonally
        ink[2 * w + 2] = 255;
        ink[3 * w + 1] = 255;
        for x in 5..11 {
            ink[2 * w + x] = 255; // a line of 6
        }
        drop_specks(&mut ink, w, h, 5);
        assert_eq!(ink.iter().filter(|&&v| v != 0).count(), 6);
        assert!((5..11).all(|x| ink[2 * w + x] == 255));
    }
}
