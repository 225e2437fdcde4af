//! A burst made steady: frames aligned to the first (a hand-held or wobbly booth must not
//! shake the background), then drawn so that what stays put in the scene stays put in the
//! comic while the guests' own movement shows.
//!
//! - [`align`]: a global shift and a small rotation per frame, by phase correlation of
//!   128x128 luminance (sub-pixel, from a parabola through the peak) tried at rotations from
//!   -2 to +2 degrees; each frame is then resampled into the first frame's place.
//! - [`steady`]: each drawn frame keeps the previous comic frame's pixels wherever the photo
//!   has not changed since those pixels were drawn (beyond the camera's noise, measured from
//!   the frames themselves), and takes its own drawing where something moved. With one
//!   palette for the burst ([`crate::look`]), flat colours and ink stay exactly put on a still
//!   background and follow the guests where they move.
//! - [`flicker`]: the figure both are judged by, the mean change between consecutive frames.

use std::sync::Arc;

use image::RgbImage;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Side of the luminance grid the motion is estimated on.
const GRID: usize = 128;
/// Rotations tried, in degrees: a booth on a stand wobbles by a degree or so, a hand-held
/// phone-style camera a little more.
const ANGLES: [f32; 5] = [-2.0, -1.0, 0.0, 1.0, 2.0];

/// Where a frame sits against the first: sample it at `R(angle) * (p - c) + c + shift` to
/// put it in the first frame's place (`p` a pixel of the first frame, `c` the centre).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    /// Shift in pixels of the full frame, x then y.
    pub shift: (f32, f32),
    /// Rotation in degrees.
    pub angle: f32,
}

impl Motion {
    /// No motion.
    pub const NONE: Motion = Motion { shift: (0.0, 0.0), angle: 0.0 };
}

/// Square FFTs of the grid's side, planned once per burst.
struct Fft2 {
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
}

impl Fft2 {
    fn new() -> Fft2 {
        let mut planner = FftPlanner::new();
        // A Hann window: the grid's edges do not wrap into a false peak at zero shift.
        let hann: Vec<f32> = (0..GRID)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / GRID as f32).cos())
            .collect();
        let window = (0..GRID * GRID).map(|i| hann[i / GRID] * hann[i % GRID]).collect();
        Fft2 { forward: planner.plan_fft_forward(GRID), inverse: planner.plan_fft_inverse(GRID), window }
    }

    /// 2-D transform in place: rows, then columns (through a transpose).
    fn run(&self, fft: &Arc<dyn Fft<f32>>, data: &mut [Complex32]) {
        fft.process(data);
        transpose(data);
        fft.process(data);
        transpose(data);
    }

    fn spectrum(&self, grid: &[f32]) -> Vec<Complex32> {
        let mean = grid.iter().sum::<f32>() / grid.len() as f32;
        let mut data: Vec<Complex32> =
            grid.iter().zip(&self.window).map(|(&v, &w)| Complex32::new((v - mean) * w, 0.0)).collect();
        self.run(&self.forward, &mut data);
        data
    }

    /// The shift `s` (grid pixels) with `moving(p + s) ~ reference(p)`, and how sharp the
    /// correlation peak is (higher: a better match).
    fn correlate(&self, reference: &[Complex32], moving: &[f32]) -> ((f32, f32), f32) {
        let m = self.spectrum(moving);
        let mut cross: Vec<Complex32> = m
            .iter()
            .zip(reference)
            .map(|(m, r)| {
                let c = m * r.conj();
                let n = c.norm();
                if n > 1e-12 { c / n } else { Complex32::new(0.0, 0.0) }
            })
            .collect();
        self.run(&self.inverse, &mut cross);
        let at = |x: isize, y: isize| {
            let (x, y) = (x.rem_euclid(GRID as isize) as usize, y.rem_euclid(GRID as isize) as usize);
            cross[y * GRID + x].re
        };
        let (mut best, mut peak) = (0, f32::MIN);
        for (i, c) in cross.iter().enumerate() {
            if c.re > peak {
                (best, peak) = (i, c.re);
            }
        }
        let (px, py) = ((best % GRID) as isize, (best / GRID) as isize);
        let sub = |l: f32, c: f32, r: f32| {
            let d = l - 2.0 * c + r;
            if d.abs() > 1e-9 { (0.5 * (l - r) / d).clamp(-0.5, 0.5) } else { 0.0 }
        };
        let dx = px as f32 + sub(at(px - 1, py), peak, at(px + 1, py));
        let dy = py as f32 + sub(at(px, py - 1), peak, at(px, py + 1));
        let wrap = |v: f32| if v >= GRID as f32 / 2.0 { v - GRID as f32 } else { v };
        // The peak's energy with its neighbours': a peak between two pixels splits its height,
        // and would lose to a worse match that happens to land on a pixel.
        let energy: f32 =
            (-1..=1).flat_map(|j| (-1..=1).map(move |i| (i, j))).map(|(i, j)| at(px + i, py + j)).sum();
        ((wrap(dx), wrap(dy)), energy / (GRID * GRID) as f32)
    }
}

fn transpose(data: &mut [Complex32]) {
    for y in 0..GRID {
        for x in y + 1..GRID {
            data.swap(y * GRID + x, x * GRID + y);
        }
    }
}

/// BT.601 luma of a pixel, 0 to 255.
fn luma(p: [u8; 3]) -> f32 {
    0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
}

/// The frame's luminance on a `GRID` x `GRID` grid (a filtered resize: every cell weighs the
/// pixels around its centre alike, wherever it falls between them).
fn grid_luma(img: &RgbImage) -> Vec<f32> {
    crate::convert::resize(img, GRID as u32, GRID as u32).pixels().map(|p| luma(p.0)).collect()
}

/// `grid` sampled at `R(angle) * (p - c) + c + shift` (bilinear, edges held).
fn resample_grid(grid: &[f32], angle: f32, shift: (f32, f32)) -> Vec<f32> {
    let (s, c) = angle.to_radians().sin_cos();
    let mid = (GRID as f32 - 1.0) / 2.0;
    let mut out = vec![0f32; GRID * GRID];
    for y in 0..GRID {
        for x in 0..GRID {
            let (u, v) = (x as f32 - mid, y as f32 - mid);
            out[y * GRID + x] =
                bilinear_f32(grid, GRID, c * u - s * v + mid + shift.0, s * u + c * v + mid + shift.1);
        }
    }
    out
}

fn bilinear_f32(grid: &[f32], side: usize, x: f32, y: f32) -> f32 {
    let max = (side - 1) as f32;
    let (x, y) = (x.clamp(0.0, max), y.clamp(0.0, max));
    // Truncation is the floor here (both are at least 0), without floorf's library call.
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(side - 1), (y0 + 1).min(side - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = grid[y0 * side + x0] * (1.0 - fx) + grid[y0 * side + x1] * fx;
    let bottom = grid[y1 * side + x0] * (1.0 - fx) + grid[y1 * side + x1] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Estimates each frame's [`Motion`] against the first (the first's is [`Motion::NONE`]).
pub fn estimate(frames: &[RgbImage]) -> Vec<Motion> {
    let Some(first) = frames.first() else { return Vec::new() };
    let fft = Fft2::new();
    let first_grid = grid_luma(first);
    let reference = fft.spectrum(&first_grid);
    let scale = (first.width() as f32 / GRID as f32, first.height() as f32 / GRID as f32);
    // Each frame is estimated on its own: the frames are shared out among the cores.
    let rest = &frames[1..];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(rest.len()).max(1);
    let per = rest.len().div_ceil(threads).max(1);
    let (fft, first_grid, reference) = (&fft, &first_grid, &reference);
    let mut motions = vec![Motion::NONE];
    std::thread::scope(|s| {
        let jobs: Vec<_> = rest
            .chunks(per)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|f| estimate_one(fft, first_grid, reference, f, scale))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for job in jobs {
            motions.extend(job.join().expect("burst alignment thread"));
        }
    });
    motions
}

/// One frame's [`Motion`] against the first frame's grid and spectrum.
fn estimate_one(
    fft: &Fft2,
    first_grid: &[f32],
    reference: &[Complex32],
    frame: &RgbImage,
    scale: (f32, f32),
) -> Motion {
    let grid = grid_luma(frame);
    // How well the frame matches at an angle (the normalised cross-correlation of the
    // grids, away from their edges), once shifted by what the phase correlation finds there.
    let fit = |angle: f32| {
        let (s, c) = angle.to_radians().sin_cos();
        let mut t = (0.0f32, 0.0f32);
        for _ in 0..2 {
            let ((rx, ry), _) = fft.correlate(reference, &resample_grid(&grid, angle, t));
            t = (t.0 + c * rx - s * ry, t.1 + s * rx + c * ry);
        }
        (t, ncc(first_grid, &resample_grid(&grid, angle, t)))
    };
    let mut best =
        ANGLES.iter().map(|&a| (a, fit(a))).max_by(|a, b| a.1.1.total_cmp(&b.1.1)).expect("angles");
    // Then halving steps around the best: 0.5, 0.25 and 0.125 degrees.
    let mut step = (ANGLES[1] - ANGLES[0]) / 2.0;
    for _ in 0..3 {
        for a in [best.0 - step, best.0 + step] {
            let f = fit(a);
            if f.1 > best.1.1 {
                best = (a, f);
            }
        }
        step /= 2.0;
    }
    let (angle, (t, _)) = best;
    Motion { shift: (t.0 * scale.0, t.1 * scale.1), angle }
}

/// Zero-mean normalised cross-correlation of two grids over their inner 80%, -1 to 1.
fn ncc(a: &[f32], b: &[f32]) -> f32 {
    let inner = |i: usize| {
        (GRID / 10..GRID - GRID / 10).contains(&(i % GRID))
            && (GRID / 10..GRID - GRID / 10).contains(&(i / GRID))
    };
    let pick = |g: &[f32]| -> Vec<f32> {
        g.iter().enumerate().filter(|(i, _)| inner(*i)).map(|(_, &v)| v).collect()
    };
    let (a, b) = (pick(a), pick(b));
    let (ma, mb) = (a.iter().sum::<f32>() / a.len() as f32, b.iter().sum::<f32>() / b.len() as f32);
    let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(&b) {
        let (x, y) = (x - ma, y - mb);
        (ab, aa, bb) = (ab + x * y, aa + x * x, bb + y * y);
    }
    ab / (aa * bb).sqrt().max(1e-6)
}

/// Resamples `frame` into the place `motion` says the first frame's pixels are (bilinear;
/// pixels from beyond its edges repeat the edge).
pub fn warp(frame: &RgbImage, motion: Motion) -> RgbImage {
    if motion == Motion::NONE {
        return frame.clone();
    }
    let (w, h) = frame.dimensions();
    let (s, c) = motion.angle.to_radians().sin_cos();
    let (mx, my) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let (maxx, maxy) = (w as f32 - 1.0, h as f32 - 1.0);
    let src = frame.as_raw();
    let stride = w as usize * 3;
    let (last_x, last_y) = (w as i32 - 1, h as i32 - 1);
    let mut out = RgbImage::new(w, h);
    // In blocks of L pixels of a row: where each reads (a pass the compiler vectorises), its
    // four neighbours' colours (gathered), then the blend (vectorised); per pixel the same
    // operations in the same order as one pixel at a time, so the same bytes.
    const L: usize = 16;
    for (row, y) in out.chunks_exact_mut(stride).zip(0..) {
        let v = y as f32 - my;
        for (block, x_start) in row.chunks_mut(3 * L).zip((0..).step_by(L)) {
            let n = block.len() / 3;
            let (mut fx, mut fy) = ([0f32; L], [0f32; L]);
            let (mut x0, mut y0) = ([0i32; L], [0i32; L]);
            for i in 0..L {
                let u = (x_start + i) as f32 - mx;
                let sx = (c * u - s * v + mx + motion.shift.0).clamp(0.0, maxx);
                let sy = (s * u + c * v + my + motion.shift.1).clamp(0.0, maxy);
                // Truncation toward zero: the floor, both being at least 0.
                (x0[i], y0[i]) = (sx as i32, sy as i32);
                (fx[i], fy[i]) = (sx - x0[i] as f32, sy - y0[i] as f32);
            }
            // The neighbours' channels: [corner][channel][pixel], corners in the order
            // (x0, y0), (x1, y0), (x0, y1), (x1, y1).
            let mut p = [[[0f32; L]; 3]; 4];
            for i in 0..n {
                let (xa, ya) = (x0[i] as usize, y0[i] as usize);
                let (xb, yb) = ((x0[i] + 1).min(last_x) as usize, (y0[i] + 1).min(last_y) as usize);
                for (corner, (xx, yy)) in [(xa, ya), (xb, ya), (xa, yb), (xb, yb)].into_iter().enumerate() {
                    let at = &src[yy * stride + xx * 3..][..3];
                    for k in 0..3 {
                        p[corner][k][i] = at[k] as f32;
                    }
                }
            }
            for k in 0..3 {
                let mut value = [0f32; L];
                for i in 0..L {
                    let top = p[0][k][i] * (1.0 - fx[i]) + p[1][k][i] * fx[i];
                    let bottom = p[2][k][i] * (1.0 - fx[i]) + p[3][k][i] * fx[i];
                    value[i] = top * (1.0 - fy[i]) + bottom * fy[i] + 0.5;
                }
                for (i, px) in block.chunks_exact_mut(3).enumerate() {
                    px[k] = value[i] as u8;
                }
            }
        }
    }
    out
}

/// The burst in the first frame's place: [`estimate`], then [`warp`].
pub fn align(frames: &[RgbImage]) -> Vec<RgbImage> {
    let motions = estimate(frames);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(frames.len()).max(1);
    let per = frames.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let jobs: Vec<_> = frames
            .chunks(per)
            .zip(motions.chunks(per))
            .map(|(f, m)| s.spawn(move || f.iter().zip(m).map(|(f, &m)| warp(f, m)).collect::<Vec<_>>()))
            .collect();
        jobs.into_iter().flat_map(|j| j.join().expect("burst warp thread")).collect()
    })
}

/// Side of the cells the change between photos is judged on: 4 px at 720 px (the camera's
/// noise averages out over a cell, a hand still shows).
fn cell_side(width: u32) -> u32 {
    (width / 180).max(1)
}

/// Mean luminance of each `cell` x `cell` block.
fn cell_luma(img: &RgbImage, cell: u32) -> (Vec<f32>, usize, usize) {
    let (cw, ch) = (img.width().div_ceil(cell) as usize, img.height().div_ceil(cell) as usize);
    let mut sum = vec![0f32; cw * ch];
    let mut count = vec![0u16; cw * ch];
    for (x, y, p) in img.enumerate_pixels() {
        let i = (y / cell) as usize * cw + (x / cell) as usize;
        sum[i] += luma(p.0);
        count[i] += 1;
    }
    (sum.iter().zip(&count).map(|(s, &n)| s / n.max(1) as f32).collect(), cw, ch)
}

/// Comic frames in which the still parts of the scene stay exactly as they were first drawn:
/// `photos` are the aligned captured frames, `drawn` the comic drawn from each (one palette).
/// A cell takes the new drawing when its photo (averaged with its neighbours) differs from the
/// photo its current pixels were drawn from by more than the camera's noise (four times the
/// median change over the frame, at least 6 levels), widened by two cells so the ink around a
/// moving edge moves with it.
pub fn steady(photos: &[RgbImage], drawn: Vec<RgbImage>) -> Vec<RgbImage> {
    let mut frames = drawn.into_iter();
    let Some(first) = frames.next() else { return Vec::new() };
    let (w, h) = first.dimensions();
    let cell = cell_side(w);
    let (mut source, cw, ch) = cell_luma(&photos[0], cell);
    let mut out = vec![first];
    for (photo, new) in photos[1..].iter().zip(frames) {
        let (now, _, _) = cell_luma(photo, cell);
        // The change, signed, averaged over 3x3 cells: a sub-pixel misalignment of an edge
        // (bright on one side, dark on the other) and the camera's noise average out, a
        // moving hand does not.
        let diff: Vec<f32> = now.iter().zip(&source).map(|(a, b)| a - b).collect();
        let change: Vec<f32> = (0..diff.len())
            .map(|i| {
                let (x, y) = (i % cw, i / cw);
                let (mut sum, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(1)..(y + 2).min(ch) {
                    for xx in x.saturating_sub(1)..(x + 2).min(cw) {
                        sum += diff[yy * cw + xx];
                        n += 1.0;
                    }
                }
                (sum / n).abs()
            })
            .collect();
        let mut sorted = change.clone();
        sorted.sort_unstable_by(f32::total_cmp);
        let threshold = (4.0 * sorted[sorted.len() / 2]).max(6.0);
        let moved: Vec<bool> = change.iter().map(|&c| c > threshold).collect();
        let mut wide = vec![false; moved.len()];
        for y in 0..ch {
            for x in 0..cw {
                if moved[y * cw + x] {
                    for yy in y.saturating_sub(2)..(y + 3).min(ch) {
                        for xx in x.saturating_sub(2)..(x + 3).min(cw) {
                            wide[yy * cw + xx] = true;
                        }
                    }
                }
            }
        }
        let mut frame = out.last().expect("the first frame is in").clone();
        for y in 0..h {
            for x in 0..w {
                let i = (y / cell) as usize * cw + (x / cell) as usize;
                if wide[i] {
                    frame.put_pixel(x, y, *new.get_pixel(x, y));
                }
            }
        }
        for (s, (&n, &wide)) in source.iter_mut().zip(now.iter().zip(&wide)) {
            if wide {
                *s = n;
            }
        }
        out.push(frame);
    }
    out
}

/// Mean absolute change per channel between consecutive frames, in levels, over the pixels
/// `keep(t, x, y)` accepts for the pair of frames `t` and `t + 1` (all frames the same size).
/// `None` when it accepts none.
pub fn flicker(frames: &[RgbImage], keep: impl Fn(usize, u32, u32) -> bool) -> Option<f64> {
    let (mut sum, mut n) = (0u64, 0u64);
    for (t, pair) in frames.windows(2).enumerate() {
        for (x, y, a) in pair[0].enumerate_pixels() {
            if keep(t, x, y) {
                let b = pair[1].get_pixel(x, y);
                sum += (0..3).map(|k| a[k].abs_diff(b[k]) as u64).sum::<u64>();
                n += 3;
            }
        }
    }
    (n > 0).then(|| sum as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real photo (the demo's astronaut), `side` square.
    fn photo(side: u32) -> RgbImage {
        let img = image::load_from_memory(crate::assets::SAMPLE_PHOTOS[0].bytes).unwrap().to_rgb8();
        let short = img.width().min(img.height());
        let square = image::imageops::crop_imm(&img, (img.width() - short) / 2, 0, short, short).to_image();
        crate::convert::resize(&square, side, side)
    }

    /// The middle `side` x `side` of `img`.
    fn middle(img: &RgbImage, side: u32) -> RgbImage {
        let m = (img.width() - side) / 2;
        image::imageops::crop_imm(img, m, m, side, side).to_image()
    }

    /// `img` moved: sampled so that `estimate` should find `motion`.
    fn moved(img: &RgbImage, motion: Motion) -> RgbImage {
        // warp() samples at R(a)(p - c) + c + s; the inverse motion undoes it.
        let (s, c) = (-motion.angle).to_radians().sin_cos();
        let (dx, dy) = (-motion.shift.0, -motion.shift.1);
        // Inverse of p -> R(a)(p - c) + c + d is q -> R(-a)(q - c - d) + c.
        let shift = (c * dx - s * dy, s * dx + c * dy);
        warp(img, Motion { shift, angle: -motion.angle })
    }

    #[test]
    fn warp_is_bilinear_sampling_pixel_by_pixel() {
        // Against the per-pixel rule, on a width that is not a multiple of the blocks, with a
        // shift and turn that send corners past the edges (held there).
        let img =
            RgbImage::from_fn(37, 11, |x, y| image::Rgb([(x * 7 + y) as u8, (y * 23) as u8, (x * y) as u8]));
        let motion = Motion { shift: (2.3, -1.7), angle: 3.0 };
        let (s, c) = motion.angle.to_radians().sin_cos();
        let (mx, my) = (18.0f32, 5.0f32);
        let want = RgbImage::from_fn(37, 11, |x, y| {
            let (u, v) = (x as f32 - mx, y as f32 - my);
            let sx = (c * u - s * v + mx + motion.shift.0).clamp(0.0, 36.0);
            let sy = (s * u + c * v + my + motion.shift.1).clamp(0.0, 10.0);
            let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
            let (x1, y1) = ((x0 + 1).min(36), (y0 + 1).min(10));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            image::Rgb(std::array::from_fn(|k| {
                let at = |x: u32, y: u32| img.get_pixel(x, y)[k] as f32;
                let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
                let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
                (top * (1.0 - fy) + bottom * fy + 0.5) as u8
            }))
        });
        assert_eq!(warp(&img, motion), want);
    }

    #[test]
    fn finds_a_shift_and_a_small_rotation() {
        // Moved as a whole, then cut, so no edge is made up.
        let big = photo(440);
        let a = middle(&big, 360);
        for truth in [
            Motion { shift: (5.0, -3.0), angle: 0.0 },
            Motion { shift: (-2.5, 4.25), angle: 0.0 },
            Motion { shift: (3.0, 2.0), angle: 1.2 },
            Motion { shift: (0.0, 0.0), angle: -0.8 },
            Motion { shift: (-12.0, 9.5), angle: 1.9 },
        ] {
            let b = middle(&moved(&big, truth), 360);
            let found = estimate(&[a.clone(), b])[1];
            assert!(
                (found.shift.0 - truth.shift.0).abs() < 0.3
                    && (found.shift.1 - truth.shift.1).abs() < 0.3
                    && (found.angle - truth.angle).abs() < 0.15,
                "truth {truth:?}, found {found:?}"
            );
        }
    }

    #[test]
    fn aligned_frames_match_the_first_away_from_the_edges() {
        let big = photo(280);
        let a = middle(&big, 240);
        let b = middle(&moved(&big, Motion { shift: (4.0, -6.0), angle: 1.0 }), 240);
        let aligned = align(&[a.clone(), b.clone()]);
        let inner = |_, x: u32, y: u32| (20..220).contains(&x) && (20..220).contains(&y);
        let before = flicker(&[a.clone(), b], inner).unwrap();
        let after = flicker(&[a, aligned[1].clone()], inner).unwrap();
        assert!(after < before / 4.0, "mean change {before:.1} before alignment, {after:.1} after");
    }

    #[test]
    fn steady_keeps_still_cells_and_takes_moving_ones() {
        let photo = RgbImage::from_pixel(180, 180, image::Rgb([100, 100, 100]));
        let mut second = photo.clone();
        for y in 60..100 {
            for x in 60..100 {
                second.put_pixel(x, y, image::Rgb([250, 250, 250]));
            }
        }
        // The drawings differ everywhere (as two independent drawings of noisy frames would).
        let d0 = RgbImage::from_pixel(180, 180, image::Rgb([10, 20, 30]));
        let d1 = RgbImage::from_pixel(180, 180, image::Rgb([200, 0, 0]));
        let out = steady(&[photo, second], vec![d0, d1]);
        assert_eq!(out[1].get_pixel(10, 10).0, [10, 20, 30], "a still corner keeps its drawing");
        assert_eq!(out[1].get_pixel(80, 80).0, [200, 0, 0], "the moved square is drawn anew");
        assert_eq!(out[1].get_pixel(59, 80).0, [200, 0, 0], "and its edge with it");
    }
}
