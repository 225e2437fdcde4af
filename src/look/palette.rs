//! The comic's small palette: a weighted k-means over a 15-bit colour histogram, and a
//! 32,768-entry lookup table that maps any colour to its palette entry in one read. One
//! palette can be shared by every frame of a loop, so flat colours stay put from frame to
//! frame (and a GIF needs one colour table).

/// Bits kept per channel in the histogram and lookup table.
const BITS: u32 = 5;
const BINS: usize = 1 << (3 * BITS);

/// Channel weights of the colour distance (R, G, B): the eye tells greens apart best and
/// blues least.
const WEIGHTS: [f32; 3] = [3.0, 4.0, 2.0];

#[inline]
fn bin(c: [u8; 3]) -> usize {
    let s = 8 - BITS;
    ((c[0] as usize >> s) << (2 * BITS)) | ((c[1] as usize >> s) << BITS) | (c[2] as usize >> s)
}

#[inline]
fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|i| WEIGHTS[i] * (a[i] - b[i]) * (a[i] - b[i])).sum()
}

/// A palette of at most 255 colours with its lookup table.
#[derive(Clone)]
pub struct Palette {
    colours: Vec<[u8; 3]>,
    lut: Box<[u8]>,
}

impl std::fmt::Debug for Palette {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Palette").field("colours", &self.colours).finish_non_exhaustive()
    }
}

impl Palette {
    /// A palette of the given colours (1 to 255 of them).
    pub fn from_colours(colours: Vec<[u8; 3]>) -> Palette {
        assert!(!colours.is_empty() && colours.len() < 256, "a palette holds 1 to 255 colours");
        let centres: Vec<[f32; 3]> = colours.iter().map(|c| c.map(f32::from)).collect();
        let half = (1 << (8 - BITS)) as f32 / 2.0 - 0.5;
        let lut = (0..BINS)
            .map(|b| {
                let c = [(b >> (2 * BITS)) & 31, (b >> BITS) & 31, b & 31]
                    .map(|v| (v << (8 - BITS)) as f32 + half);
                nearest(&centres, c) as u8
            })
            .collect();
        Palette { colours, lut }
    }

    /// Fits `k` colours (2 to 255) to `pixels` by k-means, seeded deterministically: the same
    /// pixels give the same palette on every machine.
    pub fn fit(pixels: impl IntoIterator<Item = [u8; 3]>, k: usize) -> Palette {
        let k = k.clamp(2, 255);
        // Histogram: count and colour sum per bin, so centres keep full precision.
        let mut count = vec![0u32; BINS];
        let mut sum = vec![[0u64; 3]; BINS];
        for p in pixels {
            let b = bin(p);
            count[b] += 1;
            for i in 0..3 {
                sum[b][i] += p[i] as u64;
            }
        }
        let points: Vec<([f32; 3], f32)> = (0..BINS)
            .filter(|&b| count[b] > 0)
            .map(|b| (sum[b].map(|s| s as f32 / count[b] as f32), count[b] as f32))
            .collect();
        if points.is_empty() {
            return Palette::from_colours(vec![[0, 0, 0], [255, 255, 255]]);
        }
        let centres = kmeans(&points, k);
        Palette::from_colours(centres.iter().map(|c| c.map(|v| v.round().clamp(0.0, 255.0) as u8)).collect())
    }

    /// The palette's colours; an index from [`Palette::index`] points into this.
    pub fn colours(&self) -> &[[u8; 3]] {
        &self.colours
    }

    /// The index of the palette colour nearest to `c`.
    #[inline]
    pub fn index(&self, c: [u8; 3]) -> u8 {
        self.lut[bin(c)]
    }
}

/// One pass of a 3x3 majority filter over palette indices: a pixel takes the most frequent
/// index of its neighbourhood unless its own is shared by at least 4 of its 8 neighbours.
/// Cleans the speckle that noisy pixels leave along the borders of flat regions.
pub fn majority(idx: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = idx.to_vec();
    // Per inner pixel of a row, how many of its 3x3 window share its index: counted for the
    // whole row at once (vectorised), so only the few pixels with fewer than 5 are voted on.
    let mut same = vec![0u8; w.saturating_sub(2)];
    for y in 0..h {
        let inner_row = y > 0 && y + 1 < h;
        if inner_row && w > 2 {
            let n = w - 2;
            let rows = [&idx[(y - 1) * w..y * w], &idx[y * w..(y + 1) * w], &idx[(y + 1) * w..(y + 2) * w]];
            let own = &rows[1][1..n + 1];
            same.fill(0);
            for row in rows {
                for shift in 0..3 {
                    for ((c, &v), &o) in same.iter_mut().zip(&row[shift..shift + n]).zip(own) {
                        *c += (v == o) as u8;
                    }
                }
            }
            for (x, _) in same.iter().enumerate().filter(|(_, c)| **c < 5) {
                let at = |r: &[u8]| <[u8; 3]>::try_from(&r[x..x + 3]).expect("3 samples");
                let (a, b, c) = (at(rows[0]), at(rows[1]), at(rows[2]));
                let window = [a[0], a[1], a[2], b[0], b[1], b[2], c[0], c[1], c[2]];
                if let Some(v) = vote(&window, b[1]) {
                    out[y * w + x + 1] = v;
                }
            }
        }
        // The picture's edge: the window clipped to the picture.
        let edge: Vec<usize> = if inner_row && w > 2 { vec![0, w - 1] } else { (0..w).collect() };
        for x in edge {
            let own = idx[y * w + x];
            let mut window = [0u8; 9];
            let mut n = 0;
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    window[n] = idx[yy * w + xx];
                    n += 1;
                }
            }
            if let Some(v) = vote(&window[..n], own) {
                out[y * w + x] = v;
            }
        }
    }
    out
}

/// The majority filter's choice for a pixel of index `own` and its neighbourhood `window`
/// (itself included, in row order): `None` when its own index holds 5 or more places, else
/// the most frequent index, the first in row order among equals.
fn vote(window: &[u8], own: u8) -> Option<u8> {
    if window.iter().filter(|&&v| v == own).count() >= 5 {
        return None;
    }
    let mut best = (0, own);
    for &v in window {
        let c = window.iter().filter(|&&u| u == v).count();
        if c > best.0 {
            best = (c, v);
        }
    }
    Some(best.1)
}

fn nearest(centres: &[[f32; 3]], c: [f32; 3]) -> usize {
    let mut best = (f32::MAX, 0);
    for (i, m) in centres.iter().enumerate() {
        let d = distance(*m, c);
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// Weighted k-means over (colour, weight) points: deterministic farthest-point seeding
/// (weight times squared distance, the greedy form of k-means++), then Lloyd iterations.
fn kmeans(points: &[([f32; 3], f32)], k: usize) -> Vec<[f32; 3]> {
    let heaviest = points.iter().max_by(|a, b| a.1.total_cmp(&b.1)).expect("points is not empty");
    let mut centres = vec![heaviest.0];
    let mut dist: Vec<f32> = points.iter().map(|p| distance(p.0, heaviest.0)).collect();
    while centres.len() < k.min(points.len()) {
        let (i, _) = points
            .iter()
            .zip(&dist)
            .map(|(p, d)| p.1.sqrt() * d)
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("points is not empty");
        centres.push(points[i].0);
        for (d, p) in dist.iter_mut().zip(points) {
            *d = d.min(distance(p.0, points[i].0));
        }
    }
    for _ in 0..12 {
        let mut acc = vec![([0.0f64; 3], 0.0f64); centres.len()];
        for (c, w) in points {
            let a = &mut acc[nearest(&centres, *c)];
            for (sum, v) in a.0.iter_mut().zip(c) {
                *sum += (v * w) as f64;
            }
            a.1 += *w as f64;
        }
        let mut moved = false;
        for (m, (s, w)) in centres.iter_mut().zip(&acc) {
            if *w > 0.0 {
                let new = s.map(|v| (v / w) as f32);
                moved |= distance(new, *m) > 0.25;
                *m = new;
            }
        }
        if !moved {
            break;
        }
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_of_three_colours_gets_them_back() {
        let colours: [[u8; 3]; 3] = [[200, 30, 40], [20, 150, 60], [240, 230, 200]];
        let pixels = (0..3000).map(|i| {
            let c = colours[i % 3];
            // A little noise around each colour.
            let n = (i / 3 % 5) as u8;
            [c[0].saturating_add(n), c[1].saturating_sub(n), c[2].saturating_add(n)]
        });
        let p = Palette::fit(pixels, 3);
        for c in colours {
            let got = p.colours()[p.index(c) as usize];
            assert!((0..3).all(|i| (got[i] as i32 - c[i] as i32).abs() <= 4), "{c:?} -> {got:?}");
        }
    }

    #[test]
    fn majority_removes_a_lone_pixel_and_keeps_edges() {
        let (w, h) = (6, 4);
        let mut idx: Vec<u8> = (0..w * h).map(|i| if i % w < 3 { 1 } else { 2 }).collect();
        idx[w + 1] = 7;
        let out = majority(&idx, w, h);
        assert_eq!(out[w + 1], 1);
        let clean: Vec<u8> = (0..w * h).map(|i| if i % w < 3 { 1 } else { 2 }).collect();
        assert_eq!(out, clean);
    }

    #[test]
    fn majority_votes_every_pixel_on_its_clipped_window() {
        // Against the rule applied pixel by pixel, on speckled indices of awkward sizes.
        for (w, h) in [(1usize, 1usize), (1, 5), (2, 3), (3, 3), (7, 4), (33, 9)] {
            let idx: Vec<u8> = (0..w * h).map(|i| ((i * 7919 + i / w * 31) % 11 / 4) as u8).collect();
            let want: Vec<u8> = (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    let window: Vec<u8> = (y.saturating_sub(1)..(y + 2).min(h))
                        .flat_map(|yy| (x.saturating_sub(1)..(x + 2).min(w)).map(move |xx| yy * w + xx))
                        .map(|j| idx[j])
                        .collect();
                    vote(&window, idx[i]).unwrap_or(idx[i])
                })
                .collect();
            assert_eq!(majority(&idx, w, h), want, "{w}x{h}");
        }
    }

    #[test]
    fn fitting_is_deterministic_and_every_index_is_valid() {
        let pixels: Vec<[u8; 3]> =
            (0..5000u32).map(|i| [(i * 7) as u8, (i * 13) as u8, (i / 20) as u8]).collect();
        let a = Palette::fit(pixels.iter().copied(), 16);
        let b = Palette::fit(pixels.iter().copied(), 16);
        assert_eq!(a.colours(), b.colours());
        assert_eq!(a.colours().len(), 16);
        assert!(pixels.iter().all(|&c| (a.index(c) as usize) < 16));
    }
}
