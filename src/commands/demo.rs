//! `comicbooth demo`: the whole pipeline once on every photo of the source (the built-in
//! samples by default), headless: capture, preprocess, generate the time points, animate, show
//! on a screen that writes a PNG per shown frame, save a GIF each, and time every stage.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::animate::Animation;
use crate::camera::{FRAME_TIMEOUT, FrameSource};
use crate::config::{AnimateConfig, Config};
use crate::display::screens::{self, ShareCodes, Sketch};
use crate::display::{self, HeadlessDisplay};
use crate::look::{Layers, Look};
use crate::{animate, convert, export, model, share, wiring};
use embedded_graphics::prelude::{DrawTarget, OriginDimensions};
use image::RgbImage;

/// Time spent in each stage of the pipeline, summed over all pictures.
#[derive(Debug, Default, Clone, Copy)]
pub struct StageTimes {
    /// Loading, checking, optimising and warming up the generator.
    pub model_load: Duration,
    /// Getting frames from the source (for photos: reading and decoding).
    pub capture: Duration,
    /// Pixel conversion, crop and resize.
    pub preprocess: Duration,
    /// Generator runs (every time point).
    pub generate: Duration,
    /// Drawing the comic at its output size from the generator's pictures (the look).
    pub draw: Duration,
    /// Ordering time points into loops.
    pub animate: Duration,
    /// Drawing on the display (headless: writing PNGs).
    pub display: Duration,
    /// Writing animation files.
    pub export: Duration,
}

impl StageTimes {
    fn rows(&self) -> [(&'static str, Duration); 8] {
        [
            ("model load", self.model_load),
            ("capture", self.capture),
            ("preprocess", self.preprocess),
            ("generate", self.generate),
            ("draw", self.draw),
            ("animate", self.animate),
            ("display", self.display),
            ("export", self.export),
        ]
    }
}

impl fmt::Display for StageTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, d) in self.rows() {
            writeln!(f, "  {name:<11} {:>9.1} ms", d.as_secs_f64() * 1e3)?;
        }
        let total: Duration = self.rows().iter().map(|r| r.1).sum();
        write!(f, "  {:<11} {:>9.1} ms", "total", total.as_secs_f64() * 1e3)
    }
}

fn timed<T>(slot: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *slot += start.elapsed();
    out
}

/// One animation the demo made.
#[derive(Debug, Clone)]
pub struct DemoOutput {
    /// The photo's label.
    pub label: String,
    /// The animation files (one per `export.formats`, GIF first by default).
    pub files: Vec<PathBuf>,
    /// Frames in the loop.
    pub frames: usize,
    /// PNGs of what the (headless) screen showed: the making-of (`<label>-making-NNN.png`),
    /// the loop (`<label>-NNN.png`) and the result screen (`<label>-result-NNN.png`, one per
    /// turn when sharing is on).
    pub screen_dir: PathBuf,
    /// The comic's page, when sharing is on (its files are named with its id).
    pub page: Option<String>,
}

/// What `comicbooth demo` did; its `Display` is what the command prints.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// One entry per photo.
    pub outputs: Vec<DemoOutput>,
    /// Stage timings.
    pub times: StageTimes,
    /// The generator that ran, for the summary.
    pub model: String,
    /// Inference threads.
    pub threads: usize,
    /// Time points generated per photo.
    pub time_points: u32,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "comicbooth demo: {} photos, {} time points each, model {}, {} threads",
            self.outputs.len(),
            self.time_points,
            self.model,
            self.threads
        )?;
        for o in &self.outputs {
            let files: Vec<String> = o.files.iter().map(|p| p.display().to_string()).collect();
            writeln!(f, "  {:<14} {} ({} frames)", o.label, files.join(", "), o.frames)?;
            if let Some(page) = &o.page {
                writeln!(f, "  {:<14} page {page}", "")?;
            }
        }
        if let Some(o) = self.outputs.first() {
            writeln!(
                f,
                "  screens: {}/<photo>-making-NNN.png, <photo>-NNN.png, <photo>-result-NNN.png",
                o.screen_dir.display()
            )?;
        }
        writeln!(f, "stage times:\n{}", self.times)
    }
}

/// Everything a guest at a booth would see of this comic, written by the headless screen as
/// PNGs named after `label`: the making-of at four moments (sketch, inking, colouring, done),
/// the loop once through, and the result screen (each of its turns when `codes` are given).
fn guest_screens(
    screen: &mut HeadlessDisplay,
    label: &str,
    (photo, drawn): (&RgbImage, Option<&(RgbImage, RgbImage)>),
    anim: &Animation,
    codes: Option<&ShareCodes>,
) -> Result<(), <HeadlessDisplay as DrawTarget>::Error> {
    screen.start_sequence(&format!("{label}-making"));
    let mut sketch = Sketch::new(photo, screen.size());
    screens::making(screen, Some(&sketch), None, 0, 1)?;
    if let Some((ink, full)) = drawn {
        sketch.drawn(ink, full);
        for at in [
            screens::INKING / 2,
            screens::INKING + screens::COLOURING / 2,
            screens::INKING + screens::COLOURING,
        ] {
            screens::making(screen, Some(&sketch), Some(at), 1, 1)?;
        }
    }
    screen.start_sequence(label);
    anim.frames.iter().try_for_each(|f| display::show(screen, f))?;
    screen.start_sequence(&format!("{label}-result"));
    (0..screens::result_turns(screen.size(), codes)).try_for_each(|turn| {
        let shown = Duration::from_secs(4 * turn as u64);
        screens::result(screen, &anim.frames[0], "Your comic is saved!", codes, shown)
    })
}

/// Runs the demo into `export.dir` (animations, in every `export.formats`) and `export.dir/screen` (what the screen showed).
pub fn run(config: &Config) -> anyhow::Result<DemoReport> {
    let mut times = StageTimes::default();
    let out = &config.export.dir;
    let screen_dir = out.join("screen");
    export::create_dir(&screen_dir)?;
    let mut source = wiring::open_photo_source(config)?;
    tracing::info!(source = %source.describe(), "camera");
    let side = config.model.size;
    let (generator, gate) = timed(&mut times.model_load, || {
        Ok::<_, model::ModelError>((wiring::load_generator(config)?, wiring::load_gate(config)?))
    })?;
    let mut screen =
        HeadlessDisplay::new(config.display.width, config.display.height).writing_to(&screen_dir);
    tracing::info!(width = config.display.width, height = config.display.height, "headless display");

    let mut outputs = Vec::new();
    for _ in 0..source.len() {
        let frame = timed(&mut times.capture, || source.next_frame(FRAME_TIMEOUT))?;
        let look = Look::from_config(&config.look);
        let (square, small) = timed(&mut times.preprocess, || {
            let square = convert::frame_to_square(&frame, look.size.min(frame.width).min(frame.height))?;
            let small = convert::resize(&square, side, side);
            Ok::<_, convert::FrameError>((square, small))
        })?;
        let mut generating = Duration::ZERO;
        let mut first_drawn = None;
        let points = timed(&mut times.draw, || {
            if model::already_comic(gate.as_ref(), &small) {
                Ok(vec![square.clone()])
            } else {
                let generate = |i: &RgbImage| timed(&mut generating, || generator.run(i));
                let drawn = |l: &Layers| first_drawn = Some((l.ink_only(), l.compose()));
                animate::comic_frames_watched(
                    std::slice::from_ref(&square),
                    (side, side),
                    &config.animate,
                    &look,
                    generate,
                    drawn,
                )
            }
        })?;
        times.generate += generating;
        times.draw -= generating;
        let looped =
            AnimateConfig { loop_mode: animate::loop_mode(false, &config.animate), ..config.animate.clone() };
        // With sharing on, the comic is named by an id, as the booth names it, and the result
        // screen shows its page's code.
        let id = match config.share.enabled {
            true => Some(share::new_id(share::unix_seconds())?),
            false => None,
        };
        let codes = id.as_ref().and_then(|id| share::codes(&config.share, id));
        let name = id.as_deref().unwrap_or(&frame.label);
        let anim = timed(&mut times.animate, || animate::assemble(&points, &looped, name));
        timed(&mut times.display, || {
            guest_screens(&mut screen, &frame.label, (&square, first_drawn.as_ref()), &anim, codes.as_ref())
        })?;
        let files = timed(&mut times.export, || export::write_animation(out, &anim, &config.export.formats))?;
        tracing::info!(photo = %anim.label, files = ?files, frames = anim.frames.len(), "comic saved");
        outputs.push(DemoOutput {
            label: frame.label.clone(),
            files,
            frames: anim.frames.len(),
            screen_dir: screen_dir.clone(),
            page: id.map(|id| share::page_url(&config.share.base_url, &id)),
        });
    }
    Ok(DemoReport {
        outputs,
        times,
        model: generator.origin().to_owned(),
        threads: generator.threads(),
        time_points: config.animate.time_points,
    })
}
