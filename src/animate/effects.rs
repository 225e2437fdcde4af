//! Designed motion for a still: the comic is generated and drawn once, then each frame is
//! made from its layers ([`Layers`]): line boil (the ink redrawn with a small wobble, three
//! variants in turn, as hand-drawn animation does), halftone dots over the shadow tones that
//! drift, a slow zoom and pan, and a page of panels revealed in turn ([`super::panels`]).
//! Every frame keeps the comic's exact colours (palette, its
//! darker halftone tones and the ink), so a loop still fits one GIF colour table. Nothing
//! here is random at run time: the wobble's phases come from a fixed seed.

use image::RgbImage;

use crate::config::{AnimateConfig, Effect};
use crate::look::{Fill, INK, Layers};

/// How far the zoom goes over the loop (8%), and the pan's drift (fractions of the picture).
const ZOOM: f32 = 0.08;
const PAN: (f32, f32) = (0.02, -0.015);
/// Halftone dots: their spacing at 720 px, and the tones that get them (luma of the fill).
const DOT_SPACING: f32 = 8.0;
const SHADOW: (f32, f32) = (0.08, 0.42);
/// Dots are the fill colour at this share of its brightness.
const DOT_DARKNESS: f32 = 0.55;

/// `config.time_points` frames of `layers` moved by `config.effects`.
pub fn still_frames(layers: &Layers, config: &AnimateConfig) -> Vec<RgbImage> {
    let n = config.time_points.max(1) as usize;
    let (w, h) = (layers.width as usize, layers.height as usize);
    let scale = (w.min(h) as f32 / 720.0).max(0.25);
    let has = |e: Effect| config.effects.contains(&e);
    let fill: Vec<[u8; 3]> = (0..w * h)
        .map(|i| match &layers.fill {
            Fill::Flat { palette, index } => palette.colours()[index[i] as usize],
            Fill::Shaded(rgb) => rgb[i],
        })
        .collect();
    (0..n)
        .map(|t| {
            let phase = t as f32 / n as f32;
            let mut frame = fill.clone();
            if has(Effect::Halftone) {
                halftone(&mut frame, w, h, (DOT_SPACING * scale).round().max(3.0), phase);
            }
            let amplitude = config.jitter_px as f32 * scale;
            let ink = if has(Effect::Boil) && amplitude > 0.0 {
                boil(&layers.ink, w, h, t % 3, amplitude, 48.0 * scale)
            } else {
                layers.ink.clone()
            };
            for (px, &k) in frame.iter_mut().zip(&ink) {
                if k != 0 {
                    *px = INK;
                }
            }
            let img = RgbImage::from_raw(w as u32, h as u32, frame.into_iter().flatten().collect())
                .expect("one pixel per fill sample");
            let mut img =
                if has(Effect::Zoom) && n > 1 { zoom(&img, t as f32 / (n - 1) as f32) } else { img };
            if has(Effect::Panels) {
                super::panels::page(&mut img, t, n);
            }
            img
        })
        .collect()
}

fn luma(c: [u8; 3]) -> f32 {
    (0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32) / 255.0
}

/// Dots on a square grid of `spacing` px over the shadow tones, larger where darker; the grid
/// drifts by one spacing (right) and half of one (down) over the loop, so it cycles cleanly.
fn halftone(frame: &mut [[u8; 3]], w: usize, h: usize, spacing: f32, phase: f32) {
    let (ox, oy) = (phase * spacing, phase * spacing * 0.5);
    for y in 0..h {
        let fy = (y as f32 - oy).rem_euclid(spacing) - spacing / 2.0;
        for x in 0..w {
            let c = frame[y * w + x];
            let l = luma(c);
            if !(SHADOW.0..SHADOW.1).contains(&l) {
                continue;
            }
            let fx = (x as f32 - ox).rem_euclid(spacing) - spacing / 2.0;
            // Radius from 20% of the spacing in light shadow to 45% in deep shadow.
            let darkness = (SHADOW.1 - l) / (SHADOW.1 - SHADOW.0);
            let r = spacing * (0.2 + 0.25 * darkness);
            if fx * fx + fy * fy <= r * r {
                frame[y * w + x] = c.map(|v| (v as f32 * DOT_DARKNESS) as u8);
            }
        }
    }
}

/// The ink layer redrawn with a wobble: variant `v` (0 to 2) samples the ink at a position
/// moved by up to `amplitude` px along smooth waves of `wavelength` px, each variant with its
/// own phases (fixed), so lines shiver in place from frame to frame.
fn boil(ink: &[u8], w: usize, h: usize, v: usize, amplitude: f32, wavelength: f32) -> Vec<u8> {
    // Phases of the three variants: fixed, spread over the circle.
    const PHASES: [(f32, f32); 3] = [(0.3, 2.1), (2.4, 4.0), (4.4, 0.9)];
    let (px, py) = PHASES[v % 3];
    let k = std::f32::consts::TAU / wavelength;
    let dx: Vec<isize> = (0..h).map(|y| (amplitude * (k * y as f32 + px).sin()).round() as isize).collect();
    let dy: Vec<isize> = (0..w).map(|x| (amplitude * (k * x as f32 + py).sin()).round() as isize).collect();
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let sx = (x as isize + dx[y]).clamp(0, w as isize - 1) as usize;
            let sy = (y as isize + dy[x]).clamp(0, h as isize - 1) as usize;
            out[y * w + x] = ink[sy * w + sx];
        }
    }
    out
}

/// The picture zoomed in by up to [`ZOOM`] and panned by up to [`PAN`], `progress` 0 to 1 of
/// the way; nearest-neighbour sampling, so no new colours appear.
fn zoom(img: &RgbImage, progress: f32) -> RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let z = 1.0 + ZOOM * progress;
    let (cx, cy) = ((0.5 + PAN.0 * progress) * w, (0.5 + PAN.1 * progress) * h);
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let sx = (cx + (x as f32 + 0.5 - w / 2.0) / z).clamp(0.0, w - 1.0) as u32;
        let sy = (cy + (y as f32 + 0.5 - h / 2.0) / z).clamp(0.0, h - 1.0) as u32;
        *img.get_pixel(sx, sy)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::look::Palette;

    /// A 64x48 comic: light left half, a shadow right half, an ink line between them.
    fn layers() -> Layers {
        let (w, h) = (64usize, 48usize);
        let palette = Palette::from_colours(vec![[240, 220, 200], [90, 60, 120]]);
        let index = (0..w * h).map(|i| if i % w < 32 { 0 } else { 1 }).collect();
        let ink = (0..w * h).map(|i| if (31..33).contains(&(i % w)) { 255 } else { 0 }).collect();
        Layers { width: w as u32, height: h as u32, fill: Fill::Flat { palette, index }, ink }
    }

    fn config(effects: Vec<Effect>) -> AnimateConfig {
        AnimateConfig { time_points: 6, jitter_px: 8, effects, ..AnimateConfig::default() }
    }

    fn colours(frames: &[RgbImage]) -> Vec<[u8; 3]> {
        let mut c: Vec<[u8; 3]> = frames.iter().flat_map(|f| f.pixels().map(|p| p.0)).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    #[test]
    fn no_effect_repeats_the_comic() {
        let l = layers();
        let frames = still_frames(&l, &config(vec![]));
        assert_eq!(frames.len(), 6);
        assert!(frames.iter().all(|f| *f == l.compose()));
    }

    #[test]
    fn each_effect_moves_the_picture_and_keeps_its_colours() {
        let l = layers();
        for effect in [Effect::Boil, Effect::Halftone, Effect::Zoom] {
            let frames = still_frames(&l, &config(vec![effect]));
            assert_ne!(frames[1], frames[2], "{effect:?} did not move");
            // Palette, ink and (halftone) the shadow's darker dot tone: nothing else.
            let allowed = [[240, 220, 200], [90, 60, 120], INK, [49, 33, 66]];
            assert!(
                colours(&frames).iter().all(|c| allowed.contains(c)),
                "{effect:?}: {:?}",
                colours(&frames)
            );
        }
    }

    #[test]
    fn halftone_dots_only_the_shadow() {
        let l = layers();
        let frames = still_frames(&l, &config(vec![Effect::Halftone]));
        let dots = |f: &RgbImage, x0: u32, x1: u32| {
            (0..48)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| f.get_pixel(x, y).0 == [49, 33, 66])
                .count()
        };
        assert_eq!(dots(&frames[0], 0, 31), 0);
        assert!(dots(&frames[0], 33, 64) > 50);
    }

    #[test]
    fn the_effects_are_the_same_every_time() {
        let l = layers();
        let all = config(vec![Effect::Boil, Effect::Halftone, Effect::Zoom]);
        assert_eq!(still_frames(&l, &all), still_frames(&l, &all));
    }
}
