//! The comic look at the output size: the generator draws tone and colour at its small size;
//! here they are brought to the saved comic's size with the photo as guide (guided filter),
//! flattened onto one small palette and given ink outlines. The result stays in layers
//! ([`Layers`]: a [`Fill`] of palette indices, and ink), so a loop can share one palette, the screens can
//! show the ink before the colour, and a GIF needs no quantiser.
//!
//! Cost at 720x720 is a few box and Gaussian filters and one table lookup per pixel; the
//! generator never runs at the output size.

pub mod guided;
pub mod ink;
pub mod measure;
pub mod palette;

use image::RgbImage;

use crate::config::LookConfig;
use guided::{LinearModel, Plane, SmallGuide, Upsampler};
pub use palette::Palette;

/// Rows per band when a full-size pass is shared out among the cores.
const BAND: usize = 16;

/// The ink's colour: a warm near-black, as printed comics use.
pub const INK: [u8; 3] = [24, 20, 28];

/// The colour under the ink.
#[derive(Debug, Clone)]
pub enum Fill {
    /// Flat cel colour: one palette index per pixel, row-major.
    Flat {
        /// The colours `index` points into.
        palette: Palette,
        /// One palette index per pixel.
        index: Vec<u8>,
    },
    /// The generator's own colours, unflattened (`look.colours = 0`), one RGB per pixel.
    Shaded(Vec<[u8; 3]>),
}

/// A comic picture in layers: the fill, and ink on top of it.
#[derive(Debug, Clone)]
pub struct Layers {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The colour under the ink.
    pub fill: Fill,
    /// 255 where ink covers the pixel, 0 elsewhere.
    pub ink: Vec<u8>,
}

impl Layers {
    /// The palette of a flat fill (what the next frames of a loop share).
    pub fn palette(&self) -> Option<&Palette> {
        match &self.fill {
            Fill::Flat { palette, .. } => Some(palette),
            Fill::Shaded(_) => None,
        }
    }

    /// Colour with the ink on top: the finished picture.
    pub fn compose(&self) -> RgbImage {
        self.picture(true, true)
    }

    /// The ink alone, on white paper (the first stage of the picture being drawn).
    pub fn ink_only(&self) -> RgbImage {
        self.picture(false, true)
    }

    /// The colour alone, without ink.
    pub fn colour_only(&self) -> RgbImage {
        self.picture(true, false)
    }

    fn picture(&self, colour: bool, ink: bool) -> RgbImage {
        let n = self.ink.len();
        let fill = |i: usize| match &self.fill {
            Fill::Flat { palette, index } => palette.colours()[index[i] as usize],
            Fill::Shaded(rgb) => rgb[i],
        };
        let mut raw = Vec::with_capacity(n * 3);
        for (i, &k) in self.ink.iter().enumerate() {
            let c = if ink && k != 0 {
                INK
            } else if colour {
                fill(i)
            } else {
                [255, 255, 255]
            };
            raw.extend_from_slice(&c);
        }
        RgbImage::from_raw(self.width, self.height, raw).expect("one pixel per index")
    }
}

/// How the look is drawn: from `[look]` in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    /// Short side of the saved comic, in pixels (at most the photo's own).
    pub size: u32,
    /// Palette size; 0 keeps the generator's colours as they are (no flattening).
    pub colours: u32,
    /// Whether ink outlines are drawn.
    pub ink: bool,
}

impl Look {
    /// The look `config` asks for.
    pub fn from_config(config: &LookConfig) -> Look {
        Look { size: config.size, colours: config.colours, ink: config.ink }
    }

    /// The size of the comic made from a `w` x `h` photo: its short side `size`, or the
    /// photo's own when that is smaller; the aspect is kept.
    pub fn output_size(&self, w: u32, h: u32) -> (u32, u32) {
        let short = w.min(h).max(1);
        if short <= self.size {
            return (w, h);
        }
        let scale = self.size as f64 / short as f64;
        (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1))
    }

    /// Draws the comic of `photo` (at the output size) from `generated`, the generator's
    /// picture of the same photo at its small size. With `palette`, the colours are those of
    /// an earlier frame (a loop shares one); otherwise they are fitted to this picture.
    pub fn draw(&self, photo: &RgbImage, generated: &RgbImage, palette: Option<&Palette>) -> Layers {
        let (w, h) = photo.dimensions();
        let (wu, hu) = (w as usize, h as usize);
        let (pixels, luma) = if generated.dimensions() == (w, h) {
            // The generator ran at the output size: nothing to bring up.
            let planes: Vec<Plane> = (0..3).map(|c| channel(generated, c)).collect();
            colour_rows(
                wu,
                hu,
                || (),
                |y, _, rows| {
                    for (row, p) in rows.iter_mut().zip(&planes) {
                        row.copy_from_slice(&p.data[y * wu..(y + 1) * wu]);
                    }
                },
            )
        } else {
            // The local linear model's window: 2 samples at the generator's size; eps in
            // luminance squared: edges of about 5% contrast or more are followed. The guide's
            // statistics are shared by the three channels, which are brought up together.
            let guide = luminance(photo);
            let small = crate::convert::resize(photo, generated.width(), generated.height());
            let small_guide = SmallGuide::new(luminance(&small), 2);
            let models: Vec<LinearModel> = {
                use rayon::prelude::*;
                (0..3)
                    .into_par_iter()
                    .map(|c| LinearModel::fit(&channel(generated, c), &small_guide, 2.5e-3))
                    .collect()
            };
            let up = Upsampler::new(&models, &guide);
            colour_rows(wu, hu, || up.scratch(), |y, scratch, rows| up.row(y, scratch, rows))
        };
        // The ink (from the colour's luminance) and the flat fill are independent: both at once.
        let (ink, fill) = std::thread::scope(|s| {
            let ink = s.spawn(|| self.ink_layer(&luma));
            let fill = self.fill(pixels, palette, wu, hu);
            (ink.join().expect("ink thread"), fill)
        });
        Layers { width: w, height: h, fill, ink }
    }

    /// Ink outlines from `luma`, the luminance of the colour: lines about 2 px wide at 720 px,
    /// wider on larger comics; a darkening of 0.5% of full scale against the surround inks;
    /// pieces under 16 px (at 720) are texture and go.
    fn ink_layer(&self, luma: &Plane) -> Vec<u8> {
        let (w, h) = (luma.width, luma.height);
        if !self.ink {
            return vec![0; w * h];
        }
        let scale = (w.min(h) as f32 / 720.0).max(0.75);
        let mut ink = ink::outlines(luma, scale, 0.005);
        ink::drop_specks(&mut ink, w, h, (16.0 * scale * scale) as usize);
        ink
    }

    /// The flat fill of `pixels`: onto `palette`, or one fitted to them (every 4th pixel of
    /// every 2nd row is plenty for the histogram), then a majority clean-up; or the pixels as
    /// they are when `colours` is 0 and no palette is given.
    fn fill(&self, pixels: Vec<[u8; 3]>, palette: Option<&Palette>, w: usize, h: usize) -> Fill {
        let palette = match (palette, self.colours) {
            (Some(p), _) => p.clone(),
            (None, 0) => return Fill::Shaded(pixels),
            (None, k) => {
                Palette::fit(pixels.chunks(2 * w).flat_map(|r| r.iter().step_by(4)).copied(), k as usize)
            }
        };
        let index: Vec<u8> = pixels.iter().map(|&c| palette.index(c)).collect();
        Fill::Flat { index: palette::majority(&index, w, h), palette }
    }
}

/// Every pixel's colour as bytes, and its luminance as f32 (what the ink is drawn from), made
/// in bands of rows on all cores: `row(y, scratch, [r, g, b])` writes row `y` of each channel
/// (0 to 1); `scratch` makes one working state per band.
fn colour_rows<S>(
    w: usize,
    h: usize,
    scratch: impl Fn() -> S + Sync,
    row: impl Fn(usize, &mut S, &mut [&mut [f32]]) + Sync,
) -> (Vec<[u8; 3]>, Plane) {
    use rayon::prelude::*;
    // Rounded half up, as f32::round would for these non-negative values, without its
    // library call (x86_64's baseline has no rounding instruction): 10x faster here.
    let byte = |v: f32| (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
    let mut pixels = vec![[0u8; 3]; w * h];
    let mut luma = Plane::zeros(w, h);
    pixels.par_chunks_mut(w * BAND).zip(luma.data.par_chunks_mut(w * BAND)).enumerate().for_each(
        |(band, (pixels, luma))| {
            let mut state = scratch();
            let [mut r, mut g, mut b] = [vec![0f32; w], vec![0f32; w], vec![0f32; w]];
            for (i, (pixels, luma)) in pixels.chunks_exact_mut(w).zip(luma.chunks_exact_mut(w)).enumerate() {
                row(band * BAND + i, &mut state, &mut [&mut r, &mut g, &mut b]);
                for (((p, l), &r), (&g, &b)) in
                    pixels.iter_mut().zip(luma.iter_mut()).zip(&r).zip(g.iter().zip(&b))
                {
                    *p = [byte(r), byte(g), byte(b)];
                    *l = 0.299 * r + 0.587 * g + 0.114 * b;
                }
            }
        },
    );
    (pixels, luma)
}

fn luminance(img: &RgbImage) -> Plane {
    Plane {
        width: img.width() as usize,
        height: img.height() as usize,
        data: img
            .pixels()
            .map(|p| (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0)
            .collect(),
    }
}

fn channel(img: &RgbImage, c: usize) -> Plane {
    Plane {
        width: img.width() as usize,
        height: img.height() as usize,
        data: img.pixels().map(|p| p[c] as f32 / 255.0).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_keeps_aspect_and_never_upscales() {
        let look = Look { size: 720, colours: 24, ink: true };
        assert_eq!(look.output_size(1280, 720), (1280, 720));
        assert_eq!(look.output_size(1920, 1080), (1280, 720));
        assert_eq!(look.output_size(3000, 4000), (720, 960));
        assert_eq!(look.output_size(640, 480), (640, 480));
    }

    #[test]
    fn a_drawn_picture_is_flat_few_coloured_and_inked() {
        // A photo-like picture: a soft disc on a gradient with noise; "generated" is the same
        // picture at a quarter of the size (an identity generator).
        let photo = RgbImage::from_fn(256, 192, |x, y| {
            let d = ((x as f32 - 128.0).powi(2) + (y as f32 - 96.0).powi(2)).sqrt();
            let n = ((x * 7919 + y * 104729) % 9) as f32;
            let v = if d < 50.0 { 200.0 - d } else { 60.0 + x as f32 * 0.3 };
            image::Rgb([(v + n) as u8, (v * 0.8 + n) as u8, (v * 0.5 + n) as u8])
        });
        let small = crate::convert::resize(&photo, 64, 48);
        let look = Look { size: 720, colours: 12, ink: true };
        let layers = look.draw(&photo, &small, None);
        let comic = layers.compose();
        assert_eq!(comic.dimensions(), (256, 192));
        let before = measure::measure(&photo);
        let after = measure::measure(&comic);
        assert!(after.colours_90 <= 13, "{after}");
        assert!(after.flat > 0.5 && after.flat > before.flat * 5.0, "{before} -> {after}");
        // The disc's rim is inked; the middle of the disc and of the background are not.
        let ink_at = |x: u32, y: u32| layers.ink[(y * 256 + x) as usize] != 0;
        assert!((70..90).any(|x| ink_at(x, 96)), "no ink around the rim");
        assert!(!ink_at(128, 96) && !ink_at(10, 10));
        // Sharing the palette gives the same colours.
        let again = look.draw(&photo, &small, layers.palette());
        assert_eq!(again.compose(), comic);
    }
}
