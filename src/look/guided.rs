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
    for (row, out) in p.data.chunks_exact(w).zip(tmp.data.chunks_exact_mut(w)) {
        running_mean(row, out, r);
    }
    // Down the columns, all columns at once (a row of running sums), so every pass reads and
    // writes whole rows; per column, the same sums in the same order as one column at a time.
    let mut out = Plane::zeros(w, h);
    let mut sums = vec![0.0f64; w];
    let (mut lo, mut hi) = (0usize, 0usize); // the window is rows lo..hi
    for (y, out_row) in out.data.chunks_exact_mut(w).enumerate() {
        while hi < (y + r + 1).min(h) {
            sums.iter_mut().zip(&tmp.data[hi * w..(hi + 1) * w]).for_each(|(s, &v)| *s += v as f64);
            hi += 1;
        }
        while lo < y.saturating_sub(r) {
            sums.iter_mut().zip(&tmp.data[lo * w..(lo + 1) * w]).for_each(|(s, &v)| *s -= v as f64);
            lo += 1;
        }
        let n = (hi - lo) as f64;
        out_row.iter_mut().zip(&sums).for_each(|(o, &s)| *o = (s / n) as f32);
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

fn product(a: &Plane, b: &Plane) -> Plane {
    Plane { width: a.width, height: a.height, data: a.data.iter().zip(&b.data).map(|(x, y)| x * y).collect() }
}

/// The guide at the generator's small size with its window statistics: computed once and
/// shared by every channel it guides.
#[derive(Debug, Clone)]
pub struct SmallGuide {
    plane: Plane,
    mean: Plane,
    var: Plane,
    r: usize,
}

impl SmallGuide {
    /// `plane` (the photo's luminance at the small size) with its mean and variance over
    /// windows of radius `r`.
    pub fn new(plane: Plane, r: usize) -> SmallGuide {
        let mean = box_mean(&plane, r);
        let corr = box_mean(&product(&plane, &plane), r);
        let var = Plane {
            width: plane.width,
            height: plane.height,
            data: corr.data.iter().zip(&mean.data).map(|(c, m)| c - m * m).collect(),
        };
        SmallGuide { plane, mean, var, r }
    }
}

/// One channel's local linear model `q = a*I + b` at the small size, `a` and `b` already
/// averaged over each window (what is brought to the full size).
#[derive(Debug, Clone)]
pub struct LinearModel {
    a: Plane,
    b: Plane,
}

impl LinearModel {
    /// Fits `small` (one channel of the generator's output) to `guide` at the same size. `eps`
    /// is how much contrast a window needs before its edge is followed: small values transfer
    /// fine photo edges, large ones smooth.
    pub fn fit(small: &Plane, guide: &SmallGuide, eps: f32) -> LinearModel {
        debug_assert_eq!(small.data.len(), guide.plane.data.len());
        let r = guide.r;
        let mean_p = box_mean(small, r);
        let corr_ip = box_mean(&product(&guide.plane, small), r);
        let mut a = Plane::zeros(small.width, small.height);
        let mut b = Plane::zeros(small.width, small.height);
        let (mean_i, var) = (&guide.mean.data, &guide.var.data);
        for i in 0..small.data.len() {
            let cov = corr_ip.data[i] - mean_i[i] * mean_p.data[i];
            a.data[i] = cov / (var[i] + eps);
            b.data[i] = mean_p.data[i] - a.data[i] * mean_i[i];
        }
        LinearModel { a: box_mean(&a, r), b: box_mean(&b, r) }
    }
}

/// Brings linear models to the guide's full size, one output row at a time: each model's `a`
/// and `b` are sampled bilinearly at the centre of each of the guide's pixels and applied to
/// it, so no full-size `a` or `b` is ever stored, and rows can be made on any thread.
pub struct Upsampler<'a> {
    models: &'a [LinearModel],
    guide: &'a Plane,
    /// Per output column: the two small columns and the weight of the second.
    xs: Vec<(usize, usize, f32)>,
}

/// An [`Upsampler`]'s working rows (one per thread).
pub struct RowScratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl<'a> Upsampler<'a> {
    /// Upsamples `models` (all of one small size) along `guide`.
    pub fn new(models: &'a [LinearModel], guide: &'a Plane) -> Upsampler<'a> {
        let small_w = models.first().map_or(1, |m| m.a.width);
        let sx = small_w as f32 / guide.width as f32;
        let xs = (0..guide.width).map(|x| taps((x as f32 + 0.5) * sx - 0.5, small_w)).collect();
        Upsampler { models, guide, xs }
    }

    /// Working rows for [`Upsampler::row`].
    pub fn scratch(&self) -> RowScratch {
        let small_w = self.models.first().map_or(0, |m| m.a.width);
        RowScratch { a: vec![0.0; small_w], b: vec![0.0; small_w] }
    }

    /// Output row `y` of every model, into `out` (one row of the guide's width per model).
    pub fn row(&self, y: usize, scratch: &mut RowScratch, out: &mut [&mut [f32]]) {
        let w = self.guide.width;
        let guide_row = &self.guide.data[y * w..(y + 1) * w];
        for (m, out_row) in self.models.iter().zip(out.iter_mut()) {
            debug_assert_eq!((m.a.width, m.a.height), (m.b.width, m.b.height));
            let sy = m.a.height as f32 / self.guide.height as f32;
            let (y0, y1, fy) = taps((y as f32 + 0.5) * sy - 0.5, m.a.height);
            // The small row of `a` and of `b`, blended between its two source rows.
            for (p, row) in [(&m.a, &mut scratch.a), (&m.b, &mut scratch.b)] {
                let (r0, r1) =
                    (&p.data[y0 * p.width..(y0 + 1) * p.width], &p.data[y1 * p.width..(y1 + 1) * p.width]);
                for ((v, &t), &u) in row.iter_mut().zip(r0).zip(r1) {
                    *v = t + (u - t) * fy;
                }
            }
            let (a_row, b_row) = (&scratch.a, &scratch.b);
            for ((o, &(x0, x1, fx)), &i) in out_row.iter_mut().zip(&self.xs).zip(guide_row) {
                let a = a_row[x0] + (a_row[x1] - a_row[x0]) * fx;
                let b = b_row[x0] + (b_row[x1] - b_row[x0]) * fx;
                *o = a * i + b;
            }
        }
    }
}

fn taps(pos: f32, n: usize) -> (usize, usize, f32) {
    let pos = pos.clamp(0.0, (n - 1) as f32);
    let i0 = pos.floor() as usize;
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, pos - i0 as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One model applied at full size through the look's [`Upsampler`].
    fn apply(model: &LinearModel, guide: &Plane) -> Plane {
        let up = Upsampler::new(std::slice::from_ref(model), guide);
        let mut out = Plane::zeros(guide.width, guide.height);
        let mut scratch = up.scratch();
        for (y, row) in out.data.chunks_exact_mut(guide.width).enumerate() {
            up.row(y, &mut scratch, &mut [row]);
        }
        out
    }

    /// Guided upsampling of one channel, as the look does it for each of three.
    fn guided_upsample(small: &Plane, guide_small: &Plane, guide: &Plane, r: usize, eps: f32) -> Plane {
        apply(&LinearModel::fit(small, &SmallGuide::new(guide_small.clone(), r), eps), guide)
    }

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
        let model = LinearModel { a: a.clone(), b: plane(4, 3, |_, _| 0.0) };
        let q = apply(&model, &plane(10, 7, |_, _| 1.0));
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
