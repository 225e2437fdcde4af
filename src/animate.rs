//! Motion for a comic: several time points of the same picture, made coherent so that only the
//! ink lines and textures "boil" (as hand-drawn animation does) while the picture stays put,
//! then ordered into a loop. Pure functions over RGB images; the generator is passed in.

use std::time::Duration;

use image::RgbImage;

use crate::config::{AnimateConfig, LoopMode};
use crate::look::{Look, Palette};

/// A looping animation: frames in play order, each shown for `frame_time`.
#[derive(Debug, Clone)]
pub struct Animation {
    /// Frames in play order (a boomerang repeats time points on the way back).
    pub frames: Vec<RgbImage>,
    /// How long each frame stays on screen.
    pub frame_time: Duration,
    /// Short name (the captured photo's label), used in output names.
    pub label: String,
}

/// The input offsets of each time point: the first is the picture as captured, the rest lie
/// on a circle of `radius` pixels, so consecutive time points move by about the same amount.
pub fn nudges(time_points: u32, radius: u32) -> Vec<(i32, i32)> {
    let r = radius as f32;
    (0..time_points)
        .map(|t| {
            if t == 0 || radius == 0 {
                return (0, 0);
            }
            let angle = std::f32::consts::TAU * (t - 1) as f32 / (time_points - 1) as f32;
            ((r * angle.cos()).round() as i32, (r * angle.sin()).round() as i32)
        })
        .collect()
}

/// Shifts `img` by (`dx`, `dy`) pixels, repeating edge pixels into the gap.
pub fn shift(img: &RgbImage, dx: i32, dy: i32) -> RgbImage {
    let (w, h) = img.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let sx = (x as i32 - dx).clamp(0, w as i32 - 1) as u32;
        let sy = (y as i32 - dy).clamp(0, h as i32 - 1) as u32;
        *img.get_pixel(sx, sy)
    })
}

/// Adds deterministic sensor-like noise of up to `amount` (fraction of full scale) per channel.
pub fn add_noise(img: &mut RgbImage, amount: f32, seed: u64) {
    if amount <= 0.0 {
        return;
    }
    let span = amount * 255.0;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for v in img.iter_mut() {
        // xorshift64*: cheap, and the same picture on every machine.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32;
        *v = (*v as f32 + (r * 2.0 - 1.0) * span).round().clamp(0.0, 255.0) as u8;
    }
}

/// Makes the time points of one picture: each is the generator's output for a nudged, noisy
/// copy of `input`, shifted back so the picture stays in place (temporal coherence) while
/// the lines boil.
pub fn time_points<E>(
    input: &RgbImage,
    config: &AnimateConfig,
    mut generate: impl FnMut(&RgbImage) -> Result<RgbImage, E>,
) -> Result<Vec<RgbImage>, E> {
    nudges(config.time_points, config.jitter_px)
        .into_iter()
        .enumerate()
        .map(|(t, (dx, dy))| {
            let mut nudged = shift(input, dx, dy);
            if t > 0 {
                add_noise(&mut nudged, config.noise, t as u64);
            }
            Ok(shift(&generate(&nudged)?, -dx, -dy))
        })
        .collect()
}

/// The comic frames of one session at the output size. `frames` are the captured pictures at
/// the output size: one still (animated by line boil, [`time_points`]) or a burst (one
/// generator run each). The generator runs at `small` (its own size); the look draws every
/// frame at the frames' size with one palette, fitted to the first, so flat colours stay put
/// from frame to frame.
pub fn comic_frames<E>(
    frames: &[RgbImage],
    small: (u32, u32),
    config: &AnimateConfig,
    look: &Look,
    mut generate: impl FnMut(&RgbImage) -> Result<RgbImage, E>,
) -> Result<Vec<RgbImage>, E> {
    let shrink = |f: &RgbImage| crate::convert::resize(f, small.0, small.1);
    let generated: Vec<(usize, RgbImage)> = if let [still] = frames {
        time_points(&shrink(still), config, &mut generate)?.into_iter().map(|g| (0, g)).collect()
    } else {
        let mut out = Vec::with_capacity(frames.len());
        for (i, f) in frames.iter().enumerate() {
            out.push((i, generate(&shrink(f))?));
        }
        out
    };
    let mut palette: Option<Palette> = None;
    Ok(generated
        .iter()
        .map(|(i, g)| {
            let layers = look.draw(&frames[*i], g, palette.as_ref());
            if palette.is_none() {
                palette = layers.palette().cloned();
            }
            layers.compose()
        })
        .collect())
}

/// The play order of `n` time points in a loop.
pub fn play_order(n: usize, mode: LoopMode) -> Vec<usize> {
    let forward = 0..n;
    match mode {
        LoopMode::Cycle => forward.collect(),
        // 0 1 2 3 2 1: the loop restarts at 0, so neither end is shown twice in a row.
        LoopMode::Boomerang => forward.chain((1..n.saturating_sub(1)).rev()).collect(),
    }
}

/// Orders time points into a looping [`Animation`].
pub fn assemble(points: &[RgbImage], config: &AnimateConfig, label: &str) -> Animation {
    Animation {
        frames: play_order(points.len(), config.loop_mode).into_iter().map(|i| points[i].clone()).collect(),
        frame_time: Duration::from_millis(config.frame_ms as u64),
        label: label.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn play_orders() {
        assert_eq!(play_order(4, LoopMode::Cycle), vec![0, 1, 2, 3]);
        assert_eq!(play_order(4, LoopMode::Boomerang), vec![0, 1, 2, 3, 2, 1]);
        assert_eq!(play_order(2, LoopMode::Boomerang), vec![0, 1]);
    }

    #[test]
    fn nudges_start_still_and_stay_within_radius() {
        let n = nudges(5, 2);
        assert_eq!(n[0], (0, 0));
        assert!(n.iter().all(|&(x, y)| x.abs() <= 2 && y.abs() <= 2));
        assert!(n[1..].iter().all(|&d| d != (0, 0)));
        assert_eq!(nudges(3, 0), vec![(0, 0); 3]);
    }

    #[test]
    fn shift_moves_pixels_and_repeats_edges() {
        let img = RgbImage::from_fn(3, 1, |x, _| image::Rgb([x as u8 * 100, 0, 0]));
        let s = shift(&img, 1, 0);
        assert_eq!(s.as_raw(), &[0, 0, 0, 0, 0, 0, 100, 0, 0]);
        assert_eq!(shift(&shift(&img, 1, 0), -1, 0).get_pixel(1, 0), img.get_pixel(1, 0));
    }

    #[test]
    fn noise_is_bounded_and_deterministic() {
        let base = RgbImage::from_pixel(8, 8, image::Rgb([128, 128, 128]));
        let (mut a, mut b) = (base.clone(), base.clone());
        add_noise(&mut a, 0.02, 3);
        add_noise(&mut b, 0.02, 3);
        assert_eq!(a, b);
        assert_ne!(a, base);
        assert!(a.iter().all(|&v| (123..=133).contains(&v)));
    }

    #[test]
    fn time_points_are_coherent_for_a_shift_equivariant_generator() {
        // An identity "generator": with no noise, shifting back must give the input again
        // away from the edges, so the picture does not wander between time points.
        let img = RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 0]));
        let config = AnimateConfig { noise: 0.0, jitter_px: 2, ..AnimateConfig::default() };
        let points = time_points(&img, &config, |i| Ok::<_, ()>(i.clone())).unwrap();
        assert_eq!(points.len(), 4);
        for p in &points {
            for (x, y) in [(4, 4), (8, 10), (11, 6)] {
                assert_eq!(p.get_pixel(x, y), img.get_pixel(x, y));
            }
        }
    }
}
