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

/// Bilinear sample of `p` at the centre of output pixel (x, y) of a `w` x `h` grid covering
/// the same area.
fn upsample(p: &Plane, w: usize, h: usize) -> Plane {
    let sx = p.width as f32 / w as f32;
    let sy = p.height as f32 / h as f32;
    let xs: Vec<(usize, usize, f32)> = (0..w).map(|x| taps((x as f32 + 0.5) * sx - 0.5, p.width)).collect();
    let mut out = Plane::zeros(w, h);
    for y in 0..h {
        let (y0, y1, fy) = taps((y as f32 + 0.5) * sy - 0.5, p.height);
        let (r0, r1) = (&p.data[y0 * p.width..], &p.data[y1 * p.width..]);
        let row = &mut out.data[y * w..(y + 1) * w];
        for (o, &(x0, x1, fx)) in row.iter_mut().zip(&xs) {
            let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
            let bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
            *o = top + (bottom - top) * fy;
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
    let a = upsample(&box_mean(&a, r), guide.width, guide.height);
    let mut q = upsample(&box_mean(&b, r), guide.width, guide.height);
    for ((q, a), i) in q.data.iter_mut().zip(&a.data).zip(&guide.data) {
        *q += a * i;
    }
    q
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
