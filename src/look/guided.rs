//! Guided-filter upsampling (He, Sun and Tang, "Guided Image Filtering", and its fast form,
//! He and Sun 2015): the generator's small colour picture is brought to the output size with
//! the full-size photo as the guide, so colour edges land on the photo's edges instead of
//! being a blurry 256 px picture scaled up.

/// A single-channel f32 plane.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    /// Width in samples.
    pub width: usize,
    /// Height in samples.
    pub height: usize,
    /// Row-major samples.
    pub data: Vec<f32>,
}

impl Plane {
    /// A plane of zeros.
    pub fn zeros(width: usize, height: usize) -> Plane {
        Plane { width, height, data: vec![0.0; width * height] }
    }

    /// The sample at (x, y).
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

/// The mean over a (2r+1) x (2r+1) window, clipped at the borders (each output divides by the
/// samples its window really holds). Two running-sum passes: O(1) per sample whatever `r`.
pub fn box_mean(p: &Plane, r: usize) -> Plane {
    let (w, h) = (p.width, p.height);
    let mut tmp = Plane::zeros(w, h);
    for y in 0..h {
        let row = &p.data[y * w..(y + 1) * w];
        let out = &mut tmp.data[y * w..(y + 1) * w];
        running_mean(row, out, r);
    }
    let mut out = Plane::zeros(w, h);
    let mut col = vec![0.0; h];
    let mut col_out = vec![0.0; h];
    for x in 0..w {
        for (y, c) in col.iter_mut().enumerate() {
            *c = tmp.data[y * w + x];
        }
        running_mean(&col, &mut col_out, r);
        for (y, v) in col_out.iter().enumerate() {
            out.data[y * w + x] = *v;
        }
    }
    out
}

fn running_mean(src: &[f32], dst: &mut [f32], r: usize) {
    let n = src.len();
    let mut sum = 0.0f64;
    let mut lo = 0usize;
    let mut hi = 0usize; // window is src[lo..hi]
    for (i, d) in dst.iter_mut().enumerate() {
        let want_hi = (i + r + 1).min(n);
        while hi < want_hi {
            sum += src[hi] as f64;
            hi += 1;
        }
        let want_lo = i.saturating_sub(r);
        while lo < want_lo {
            sum -= src[lo] as f64;
            lo += 1;
        }
        *d = (sum / (hi - lo) as f64) as f32;
    }
}

/// `a * guide + b`, with `a` and `b` (small planes of one size) sampled bilinearly at the
/// centre of each of the guide's pixels: the upsampling and the linear model in one pass, so
/// no full-size `a` or `b` is ever stored.
fn apply_upsampled(a: &Plane, b: &Plane, guide: &Plane) -> Plane {
    debug_assert_eq!((a.width, a.height), (b.width, b.height));
    let (w, h) = (guide.width, guide.height);
    let sx = a.width as f32 / w as f32;
    let sy = a.height as f32 / h as f32;
    let xs: Vec<(usize, usize, f32)> = (0..w).map(|x| taps((x as f32 + 0.5) * sx - 0.5, a.width)).collect();
    let mut out = Plane::zeros(w, h);
    // One small row of `a` and of `b` at a time, already blended between its two source rows.
    let (mut a_row, mut b_row) = (vec![0.0f32; a.width], vec![0.0f32; a.width]);
    for y in 0..h {
        let (y0, y1, fy) = taps((y as f32 + 0.5) * sy - 0.5, a.height);
        for (p, row) in [(a, &mut a_row), (b, &mut b_row)] {
            let (r0, r1) =
                (&p.data[y0 * p.width..(y0 + 1) * p.width], &p.data[y1 * p.width..(y1 + 1) * p.width]);
            for ((v, &t), &u) in row.iter_mut().zip(r0).zip(r1) {
                *v = t + (u - t) * fy;
            }
        }
        let guide_row = &guide.data[y * w..(y + 1) * w];
        let out_row = &mut out.data[y * w..(y + 1) * w];
        for ((o, &(x0, x1, fx)), &i) in out_row.iter_mut().zip(&xs).zip(guide_row) {
            let a = a_row[x0] + (a_row[x1] - a_row[x0]) * fx;
            let b = b_row[x0] + (b_row[x1] - b_row[x0]) * fx;
            *o = a * i + b;
        }
    }
    out
}

fn taps(pos: f32, n: usize) -> (usize, usize, f32) {
    let pos = pos.clamp(0.0, (n - 1) as f32);
    let i0 = pos.floor() as usize;
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, pos - i0 as f32)
}

/// Fast guided upsampling: `small` (one channel of the generator's output) follows `guide_small`
/// (the photo's luminance at the same small size) through a local linear model `q = a*I + b`
/// fitted in windows of radius `r`; `a` and `b` are brought to the full size and applied to
/// `guide` (the full-size luminance). `eps` is how much contrast a window needs before its
/// edge is followed: small values transfer fine photo edges, large ones smooth.
pub fn guided_upsample(small: &Plane, guide_small: &Plane, guide: &Plane, r: usize, eps: f32) -> Plane {
    let n = small.data.len();
    debug_assert_eq!(n, guide_small.data.len());
    let mean_i = box_mean(guide_small, r);
    let mean_p = box_mean(small, r);
    let prod = |a: &Plane, b: &Plane| Plane {
        width: a.width,
        height: a.height,
        data: a.data.iter().zip(&b.data).map(|(x, y)| x * y).collect(),
    };
    let corr_ip = box_mean(&prod(guide_small, small), r);
    let corr_ii = box_mean(&prod(guide_small, guide_small), r);
    let mut a = Plane::zeros(small.width, small.height);
    let mut b = Plane::zeros(small.width, small.height);
    for i in 0..n {
        let var = corr_ii.data[i] - mean_i.data[i] * mean_i.data[i];
        let cov = corr_ip.data[i] - mean_i.data[i] * mean_p.data[i];
        a.data[i] = cov / (var + eps);
        b.data[i] = mean_p.data[i] - a.data[i] * mean_i.data[i];
    }
    apply_upsampled(&box_mean(&a, r), &box_mean(&b, r), guide)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> Plane {
        Plane { width: w, height: h, data: (0..w * h).map(|i| f(i % w, i / w)).collect() }
    }

    #[test]
    fn box_mean_matches_a_direct_sum() {
        let p = plane(7, 5, |x, y| (x * 3 + y * 11 % 7) as f32);
        let m = box_mean(&p, 2);
        for (x, y) in [(0usize, 0usize), (3, 2), (6, 4), (1, 3)] {
            let (mut s, mut c) = (0.0, 0.0);
            for yy in y.saturating_sub(2)..(y + 3).min(5) {
                for xx in x.saturating_sub(2)..(x + 3).min(7) {
                    s += p.at(xx, yy);
                    c += 1.0;
                }
            }
            assert!((m.at(x, y) - s / c).abs() < 1e-4, "({x},{y})");
        }
    }

    #[test]
    fn the_linear_model_is_sampled_bilinearly_at_pixel_centres() {
        // a * 1 + b with b = 0 is `a` upsampled: 4x3 -> 10x7, against bilinear by hand.
        let a = plane(4, 3, |x, y| (x * x) as f32 + 3.0 * y as f32);
        let q = apply_upsampled(&a, &plane(4, 3, |_, _| 0.0), &plane(10, 7, |_, _| 1.0));
        for (x, y) in [(0usize, 0usize), (4, 3), (9, 6), (6, 1), (2, 5)] {
            let sx = ((x as f32 + 0.5) * 0.4 - 0.5).clamp(0.0, 3.0);
            let sy = ((y as f32 + 0.5) * 3.0 / 7.0 - 0.5).clamp(0.0, 2.0);
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(3), (y0 + 1).min(2));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let want = a.at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + a.at(x1, y0) * fx * (1.0 - fy)
                + a.at(x0, y1) * (1.0 - fx) * fy
                + a.at(x1, y1) * fx * fy;
            assert!((q.at(x, y) - want).abs() < 1e-4, "({x},{y}): {} against {want}", q.at(x, y));
        }
    }

    #[test]
    fn upsampling_follows_the_guides_edge() {
        // A hard vertical edge in the full-size guide at x = 37; the small colour plane knows
        // only a blurred version of it. The result must be sharp where the guide is.
        let guide = plane(80, 8, |x, _| if x < 37 { 0.1 } else { 0.9 });
        let guide_small = plane(20, 2, |x, _| {
            let full: f32 = (x * 4..x * 4 + 4).map(|xx| if xx < 37 { 0.1 } else { 0.9 }).sum::<f32>() / 4.0;
            full
        });
        let small = plane(20, 2, |x, y| guide_small.at(x, y) * 0.5 + 0.2);
        let q = guided_upsample(&small, &guide_small, &guide, 2, 1e-4);
        assert!((q.at(35, 4) - 0.25).abs() < 0.03, "{}", q.at(35, 4));
        assert!((q.at(38, 4) - 0.65).abs() < 0.03, "{}", q.at(38, 4));
    }
}
