//! A burst made steady (animate/burst.rs), measured the way a guest would see it: a still
//! scene with camera noise, a booth that wobbles, and one thing moving through it. The
//! coherent burst must flicker at most half as much on the still background as drawing each
//! frame alone, and keep at least 80% of the change where something moves.

use comicbooth::animate::{burst, comic_frames};
use comicbooth::config::{AnimateConfig, LookConfig};
use comicbooth::look::Look;
use comicbooth::model::{Generator, ModelSource};
use image::RgbImage;

const SIDE: u32 = 720;
const FRAMES: usize = 8;
/// The moving thing: a square cut from another photo, crossing the scene.
const THING: u32 = 160;
const STEP: u32 = 40;
/// Pixels near the moving thing or the frame's edge count as neither still nor moving.
const MARGIN: u32 = 40;

fn photo(i: usize, side: u32) -> RgbImage {
    let img = image::load_from_memory(comicbooth::assets::SAMPLE_PHOTOS[i].bytes).unwrap().to_rgb8();
    let short = img.width().min(img.height());
    let square = image::imageops::crop_imm(&img, (img.width() - short) / 2, 0, short, short).to_image();
    image::imageops::resize(&square, side, side, image::imageops::FilterType::Triangle)
}

/// Where the thing's top-left corner is in frame `t`.
fn thing_at(t: usize) -> (u32, u32) {
    (120 + STEP * t as u32, 380)
}

/// A small, seeded random walk of the camera: shift up to 3 px, rotation up to 0.6 degrees.
fn wobble(t: usize) -> burst::Motion {
    const W: [(f32, f32, f32); FRAMES] = [
        (0.0, 0.0, 0.0),
        (1.5, -0.8, 0.2),
        (2.6, 0.4, 0.5),
        (1.1, 2.2, 0.3),
        (-0.7, 2.9, -0.1),
        (-2.4, 1.0, -0.4),
        (-1.2, -1.6, -0.6),
        (0.8, -2.5, -0.2),
    ];
    let (x, y, a) = W[t];
    burst::Motion { shift: (x, y), angle: a }
}

/// Gaussian-ish sensor noise (sum of uniforms), sigma about 3 levels, seeded.
fn add_noise(img: &mut RgbImage, seed: u64) {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    for v in img.iter_mut() {
        let mut sum = 0i32;
        for _ in 0..4 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            sum += ((s >> 33) % 7) as i32 - 3;
        }
        *v = (*v as i32 + sum).clamp(0, 255) as u8;
    }
}

/// The captured burst: the still scene with the thing pasted in, seen through a wobbling
/// camera (as the scene moved by the inverse of the camera's motion) with noise.
fn captured() -> Vec<RgbImage> {
    let scene = photo(1, SIDE);
    let thing = photo(2, THING);
    (0..FRAMES)
        .map(|t| {
            let mut world = scene.clone();
            let (x, y) = thing_at(t);
            image::imageops::replace(&mut world, &thing, x as i64, y as i64);
            // What the wobbled camera sees: `warp` samples at the motion, so the inverse motion
            // (the burst's alignment must find and undo it).
            let m = wobble(t);
            let (s, c) = (-m.angle).to_radians().sin_cos();
            let (dx, dy) = (-m.shift.0, -m.shift.1);
            let inverse = burst::Motion { shift: (c * dx - s * dy, s * dx + c * dy), angle: -m.angle };
            let mut seen = burst::warp(&world, inverse);
            add_noise(&mut seen, t as u64);
            seen
        })
        .collect()
}

fn near_thing(t: usize, x: u32, y: u32, margin: u32) -> bool {
    let (tx, ty) = thing_at(t);
    x + margin >= tx && x < tx + THING + margin && y + margin >= ty && y < ty + THING + margin
}

#[test]
fn a_steady_burst_flickers_half_as_much_on_the_background_and_keeps_the_motion() {
    let frames = captured();
    let generator =
        Generator::load(&ModelSource::Builtin(comicbooth::assets::GENERATOR), 256, 256, 0).unwrap();
    let look = Look::from_config(&LookConfig::default());
    let config = AnimateConfig::default();

    let steady = comic_frames(&frames, (256, 256), &config, &look, |f| generator.run(f)).unwrap();
    let alone: Vec<RgbImage> = frames
        .iter()
        .map(|f| {
            let small = image::imageops::resize(f, 256, 256, image::imageops::FilterType::Triangle);
            look.draw(f, &generator.run(&small).unwrap(), None).compose()
        })
        .collect();

    // Aligned and drawn with one palette, without keeping still cells (for the figures only).
    let aligned = burst::align(&frames);
    let mut palette = None;
    let shared: Vec<RgbImage> = aligned
        .iter()
        .map(|f| {
            let small = image::imageops::resize(f, 256, 256, image::imageops::FilterType::Triangle);
            let layers = look.draw(f, &generator.run(&small).unwrap(), palette.as_ref());
            palette = palette.clone().or_else(|| layers.palette().cloned());
            layers.compose()
        })
        .collect();
    if let Some(dir) = std::env::var_os("COMICBOOTH_SAVE_BURST") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (t, (a, b)) in steady.iter().zip(&alone).enumerate() {
            a.save(dir.join(format!("steady-{t}.png"))).unwrap();
            b.save(dir.join(format!("alone-{t}.png"))).unwrap();
            frames[t].save(dir.join(format!("photo-{t}.png"))).unwrap();
        }
    }

    let inside =
        |x: u32, y: u32| (MARGIN..SIDE - MARGIN).contains(&x) && (MARGIN..SIDE - MARGIN).contains(&y);
    let still = |t: usize, x: u32, y: u32| {
        inside(x, y) && !near_thing(t, x, y, MARGIN) && !near_thing(t + 1, x, y, MARGIN)
    };
    // Where the thing is in either frame of a pair, a little inside its edges.
    let moving = |t: usize, x: u32, y: u32| {
        let core = |t| {
            let (tx, ty) = thing_at(t);
            (tx + 4..tx + THING - 4).contains(&x) && (ty + 4..ty + THING - 4).contains(&y)
        };
        core(t) || core(t + 1)
    };
    let background = (burst::flicker(&steady, still).unwrap(), burst::flicker(&alone, still).unwrap());
    let only_aligned = (burst::flicker(&shared, still).unwrap(), burst::flicker(&shared, moving).unwrap());
    let motion = (burst::flicker(&steady, moving).unwrap(), burst::flicker(&alone, moving).unwrap());
    println!(
        "burst of {FRAMES} at {SIDE} px, wobble up to 3 px and 0.6 degrees, noise sigma about 3:\n\
         still background: steady {:.2} levels, each frame alone {:.2} ({:.0}%)\n\
         moving region:    steady {:.2} levels, each frame alone {:.2} ({:.0}%)\n\
         aligned with one palette, no cells kept: background {:.2}, moving {:.2}",
        background.0,
        background.1,
        100.0 * background.0 / background.1,
        motion.0,
        motion.1,
        100.0 * motion.0 / motion.1,
        only_aligned.0,
        only_aligned.1
    );
    assert!(background.0 <= 0.5 * background.1, "background flicker {background:?} (steady, alone)");
    assert!(motion.0 >= 0.8 * motion.1, "motion kept {motion:?} (steady, alone)");
}
