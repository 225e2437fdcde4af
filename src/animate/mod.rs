//! Motion for a comic: the frames of one session, ordered into a loop. A burst gives one
//! frame per picture taken (the guests' own movement, made steady by [`burst`]); a still is generated and drawn once,
//! then moved by designed effects ([`effects`]: line boil, drifting halftone, a slow zoom),
//! so consecutive frames visibly differ while the picture stays the same. Pure functions
//! over RGB images; the generator is passed in.

pub mod burst;
pub mod effects;
pub mod panels;

use std::time::Duration;

use image::RgbImage;

use crate::config::{AnimateConfig, Effect, LoopMode};
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

/// The comic frames of one session at the output size. `frames` are the captured pictures at
/// the output size: one still (generated once, then moved by `config.effects` into
/// `config.time_points` frames) or a burst, which is made steady ([`burst`]): aligned to its
/// first frame, drawn with one palette (the first frame's), and each frame keeps the one
/// before wherever the scene did not move, so flat colours and ink stay put and the guests'
/// movement shows. The generator runs at `small` (its own size); the look draws at the
/// frames' size.
pub fn comic_frames<E>(
    frames: &[RgbImage],
    small: (u32, u32),
    config: &AnimateConfig,
    look: &Look,
    generate: impl FnMut(&RgbImage) -> Result<RgbImage, E>,
) -> Result<Vec<RgbImage>, E> {
    comic_frames_watched(frames, small, config, look, generate, |_| {})
}

/// [`comic_frames`], handing the first picture's layers to `first_drawn` as soon as they are
/// drawn (the booth's making-of shows them being inked and coloured while the rest is made).
pub fn comic_frames_watched<E>(
    frames: &[RgbImage],
    small: (u32, u32),
    config: &AnimateConfig,
    look: &Look,
    mut generate: impl FnMut(&RgbImage) -> Result<RgbImage, E>,
    mut first_drawn: impl FnMut(&crate::look::Layers),
) -> Result<Vec<RgbImage>, E> {
    let shrink = |f: &RgbImage| crate::convert::resize(f, small.0, small.1);
    if let [still] = frames {
        let layers = look.draw(still, &generate(&shrink(still))?, None);
        first_drawn(&layers);
        let mut out = effects::still_frames(&layers, config);
        let paged = config.effects.contains(&Effect::Panels);
        out.iter_mut().for_each(|f| panels::caption(f, &config.caption, config.caption_style, paged));
        return Ok(out);
    }
    let aligned = burst::align(frames);
    let mut palette: Option<Palette> = None;
    let mut drawn = Vec::with_capacity(frames.len());
    for f in &aligned {
        let layers = look.draw(f, &generate(&shrink(f))?, palette.as_ref());
        if drawn.is_empty() {
            first_drawn(&layers);
        }
        if palette.is_none() {
            palette = layers.palette().cloned();
        }
        drawn.push(layers.compose());
    }
    let mut out = burst::steady(&aligned, drawn);
    out.iter_mut().for_each(|f| panels::caption(f, &config.caption, config.caption_style, false));
    Ok(out)
}

/// How a session's frames loop: a burst as a boomerang (the guests' movement back and
/// forth), a page of panels in order (revealed, then held), otherwise `config.loop_mode`.
pub fn loop_mode(burst: bool, config: &AnimateConfig) -> LoopMode {
    if burst {
        LoopMode::Boomerang
    } else if config.effects.contains(&Effect::Panels) {
        LoopMode::Cycle
    } else {
        config.loop_mode
    }
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
}
