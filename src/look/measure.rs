//! Cheap figures for "does this read as a comic?" (../docs/architecture.md, the look): the share
//! of flat pixels, how many colours cover 90% of the picture, and the share of ink.

use std::collections::HashMap;
use std::fmt;

use image::RgbImage;

/// The look's figures of one picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Share of pixels whose 5x5 neighbourhood varies by under 3 levels in every channel.
    pub flat: f32,
    /// How many distinct colours, most frequent first, cover 90% of the pixels.
    pub colours_90: usize,
    /// Share of ink: dark pixels (luma under 64) with a light one (luma over 128) within 2
    /// pixels, that is, dark lines and edges rather than dark areas.
    pub ink: f32,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "flat {:.1}%, {} colours cover 90%, ink {:.1}%",
            self.flat * 100.0,
            self.colours_90,
            self.ink * 100.0
        )
    }
}

fn luma(p: &image::Rgb<u8>) -> u32 {
    (77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8
}

/// Measures `img`.
pub fn measure(img: &RgbImage) -> Figures {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    // Flat: per channel, the max - min of a 5x5 window, from a 5-wide horizontal pass then a
    // 5-tall vertical one.
    let mut flat = 0usize;
    let mut hmin = vec![[0u8; 3]; w * h];
    let mut hmax = vec![[0u8; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let (mut lo, mut hi) = ([255u8; 3], [0u8; 3]);
            for xx in x.saturating_sub(2)..(x + 3).min(w) {
                for c in 0..3 {
                    let v = raw[(y * w + xx) * 3 + c];
                    lo[c] = lo[c].min(v);
                    hi[c] = hi[c].max(v);
                }
            }
            hmin[y * w + x] = lo;
            hmax[y * w + x] = hi;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let (mut lo, mut hi) = ([255u8; 3], [0u8; 3]);
            for yy in y.saturating_sub(2)..(y + 3).min(h) {
                for c in 0..3 {
                    lo[c] = lo[c].min(hmin[yy * w + x][c]);
                    hi[c] = hi[c].max(hmax[yy * w + x][c]);
                }
            }
            flat += (0..3).all(|c| hi[c] - lo[c] < 3) as usize;
        }
    }
    let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
    for p in img.pixels() {
        *counts.entry(p.0).or_default() += 1;
    }
    let mut by_count: Vec<usize> = counts.into_values().collect();
    by_count.sort_unstable_by(|a, b| b.cmp(a));
    let need = (w * h * 9).div_ceil(10);
    let mut covered = 0;
    let colours_90 = by_count
        .iter()
        .take_while(|&&c| {
            let before = covered;
            covered += c;
            before < need
        })
        .count();
    let l: Vec<u32> = img.pixels().map(luma).collect();
    let mut ink = 0usize;
    for y in 0..h {
        for x in 0..w {
            if l[y * w + x] >= 64 {
                continue;
            }
            let light = (y.saturating_sub(2)..(y + 3).min(h))
                .any(|yy| (x.saturating_sub(2)..(x + 3).min(w)).any(|xx| l[yy * w + xx] > 128));
            ink += light as usize;
        }
    }
    let n = (w * h).max(1) as f32;
    Figures { flat: flat as f32 / n, colours_90, ink: ink as f32 / n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_two_colour_picture_with_an_outline() {
        // Left half red, right half white, a 2 px black line between them.
        let img = RgbImage::from_fn(40, 20, |x, _| match x {
            0..19 => image::Rgb([200, 20, 20]),
            19..21 => image::Rgb([0, 0, 0]),
            _ => image::Rgb([255, 255, 255]),
        });
        let f = measure(&img);
        assert_eq!(f.colours_90, 2);
        // Flat everywhere except within 2 px of the two colour changes (x 17..23).
        assert!((f.flat - 34.0 / 40.0).abs() < 1e-3, "{f}");
        // Both line pixels have white within 2 px.
        assert!((f.ink - 2.0 / 40.0).abs() < 1e-3, "{f}");
    }

    #[test]
    fn noise_is_not_flat_and_needs_many_colours() {
        let img = RgbImage::from_fn(32, 32, |x, y| {
            let v = ((x * 37 + y * 101) % 17) as u8 * 3 + 100;
            image::Rgb([v, v.wrapping_add(7), v])
        });
        let f = measure(&img);
        assert_eq!(f.flat, 0.0);
        assert!(f.colours_90 >= 15, "{f}");
        assert_eq!(f.ink, 0.0);
    }
}
