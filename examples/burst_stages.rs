//! Where a burst comic's time goes, stage by stage: wall time and CPU time (all threads) of the
//! gate, the burst's alignment, the generator's 8 runs, the look's 8 drawings, steadying and
//! the boomerang GIF, for the booth's default comic (8 frames of 720x720 from the first sample
//! photo, moved and turned a little per frame, as a wobbly booth sees them). The figures
//! `docs/speed.md` scales to the boards come from here, at one model thread:
//!
//! ```text
//! cargo run --release --example burst_stages -- 1        # model.threads = 1
//! cargo run --release --example burst_stages -- 0 models/comic_generator.int8.onnx
//! ```
//!
//! Arguments: model threads (0: all cores, the booth's default), the generator file. Prints
//! the mean of 5 comics per stage and the GIF's sha256 (the same bytes across builds mean the
//! same comic).

use std::time::{Duration, Instant};

use comicbooth::animate::burst;
use comicbooth::assets::SAMPLE_PHOTOS;
use comicbooth::camera::{FileSource, FrameSource};
use comicbooth::config::{AnimateConfig, LookConfig, LoopMode};
use comicbooth::convert;
use comicbooth::look::Look;
use comicbooth::model::{Gate, Generator, ModelSource};
use sha2::Digest;

/// CPU time of this process so far, all threads, in ms.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (secs(u.ru_utime) + secs(u.ru_stime)) * 1e3
}

/// Per stage: name, wall ms and CPU ms summed over the comics.
struct Stages(Vec<(&'static str, f64, f64)>);

impl Stages {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let (wall, cpu) = (Instant::now(), cpu_ms());
        let out = f();
        let (w, c) = (wall.elapsed().as_secs_f64() * 1e3, cpu_ms() - cpu);
        match self.0.iter_mut().find(|s| s.0 == name) {
            Some(s) => (s.1, s.2) = (s.1 + w, s.2 + c),
            None => self.0.push((name, w, c)),
        }
        out
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: u32 = args.next().map_or(0, |s| s.parse().expect("model threads: a number"));
    let model = args.next().unwrap_or_else(|| "models/comic_generator.f32.onnx".into());
    let mut source = FileSource::builtin(&SAMPLE_PHOTOS[..1]);
    let rgb = convert::frame_to_rgb(&source.next_frame(Duration::from_secs(1)).unwrap()).unwrap();
    let photo = convert::resize(&rgb, 720, 720);
    let generator = Generator::load(&ModelSource::File(model.into()), 256, 256, threads).unwrap();
    let gate = Gate::load(&ModelSource::File("models/comic_gate.f32.onnx".into()), 0.9, threads).unwrap();
    let look = Look::from_config(&LookConfig::default());
    let config = AnimateConfig { loop_mode: LoopMode::Boomerang, ..AnimateConfig::default() };
    let frames: Vec<image::RgbImage> = (0..8)
        .map(|t| {
            let motion = burst::Motion { shift: (t as f32 * 0.7, -(t as f32) * 0.4), angle: t as f32 * 0.1 };
            burst::warp(&photo, motion)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("burst.gif");
    const COMICS: usize = 5;
    let mut stages = Stages(Vec::new());
    for _ in 0..COMICS {
        let square = convert::crop_square(&frames[0], 256);
        stages.time("gate", || gate.comic_probability(&square).unwrap());
        let aligned = stages.time("align", || burst::align(&frames));
        let mut palette = None;
        let mut drawn = Vec::with_capacity(aligned.len());
        for f in &aligned {
            let small = stages.time("generator x8", || generator.run(&convert::resize(f, 256, 256)).unwrap());
            drawn.push(stages.time("look x8", || {
                let layers = look.draw(f, &small, palette.as_ref());
                palette = palette.take().or_else(|| layers.palette().cloned());
                layers.compose()
            }));
        }
        let steady = stages.time("steady", || burst::steady(&aligned, drawn));
        stages.time("gif", || {
            let anim = comicbooth::animate::assemble(&steady, &config, "burst");
            comicbooth::export::write_gif(&gif, &anim).unwrap()
        });
    }
    let n = COMICS as f64;
    let (wall, cpu): (f64, f64) = (stages.0.iter().map(|s| s.1).sum(), stages.0.iter().map(|s| s.2).sum());
    println!("model threads {threads}: mean of {COMICS} comics");
    println!("{:14} {:>8} {:>8} {:>6}", "stage", "wall ms", "cpu ms", "share");
    for (name, w, c) in &stages.0 {
        println!("{name:14} {:8.1} {:8.1} {:5.0}%", w / n, c / n, w / wall * 100.0);
    }
    println!("{:14} {:8.1} {:8.1}", "total", wall / n, cpu / n);
    let digest = sha2::Sha256::digest(std::fs::read(&gif).unwrap());
    println!("gif sha256 {}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>());
}
