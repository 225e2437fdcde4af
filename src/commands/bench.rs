//! `comicbooth bench`: how fast this board runs what a comic needs: a camera frame to the
//! generator's input tensor (beside a copy of that frame), the generator and the gate (after
//! their warm-up), and with `--display` the result loop's pacing on the configured screen.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::assets::SAMPLE_PHOTOS;
use crate::camera::{FRAME_TIMEOUT, FileSource, FrameSource, PixelFormat};
use crate::config::{BoothConfig, Config, ExportConfig, StylizedPreview};
use crate::display::Timed;
use crate::model::Generator;
use crate::wiring::{self, ConfiguredScreen};
use crate::{booth, convert, daemon, export, photo, trigger};

/// What `comicbooth bench` measured; its `Display` is what the command prints.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The generator.
    pub model: String,
    /// Input side.
    pub side: u32,
    /// Threads.
    pub threads: usize,
    /// Load + optimise time.
    pub load: Duration,
    /// Where `model.precision = "auto"` chose between the built-in forms: each form's name and
    /// best time in that race.
    pub race: Option<crate::model::RaceTimes>,
    /// Every timed run, sorted.
    pub runs: Vec<Duration>,
    /// tract's matrix-multiplication kernels in the generator's plan.
    pub kernels: Vec<String>,
    /// The gate (where `model.gate` is on) and its timed runs, sorted.
    pub gate: Option<(String, Vec<Duration>)>,
    /// The result loop's frame pacing on the configured display (`bench --display`).
    pub pacing: Option<PacingReport>,
    /// Camera frames to the generator's input tensor, beside a copy of the same frame.
    pub conversions: Vec<ConversionBench>,
    /// Where a generator run's time goes, by kind of operation and by node (`bench --profile`).
    pub profile: Option<crate::model::Profile>,
}

impl BenchReport {
    /// The median generator run.
    pub fn median(&self) -> Duration {
        self.runs[self.runs.len() / 2]
    }
}

/// One camera format's way to the generator's input tensor, timed beside a plain copy of the
/// same frame's bytes (the yardstick: no conversion can beat reading the frame once).
#[derive(Debug, Clone)]
pub struct ConversionBench {
    /// The frame: a sample photo encoded as a camera sends it.
    pub format: PixelFormat,
    /// Its width and height.
    pub size: (u32, u32),
    /// Timed conversions, sorted.
    pub runs: Vec<Duration>,
    /// Timed copies of the frame's bytes, sorted.
    pub copies: Vec<Duration>,
}

/// How evenly the result loop reaches the screen: the booth's own loop (ticks of
/// [`daemon::TICK`], frames paced to `animate.frame_ms`) run for a few seconds on a real
/// screen backend.
#[derive(Debug, Clone)]
pub struct PacingReport {
    /// The screen it ran on.
    pub screen: String,
    /// The animation's frame time, the target interval.
    pub frame_time: Duration,
    /// Time between consecutive result frames reaching the screen, sorted.
    pub intervals: Vec<Duration>,
    /// Time each present took (the transfer to the screen), sorted.
    pub presents: Vec<Duration>,
}

/// The conversions `bench` times: what a 640x480 webcam sends, in its two common raw formats.
const BENCH_CONVERSIONS: [(PixelFormat, u32, u32); 2] =
    [(PixelFormat::Yuyv, 640, 480), (PixelFormat::Nv12, 640, 480)];

/// Times the generator (and the gate) on a sample photo, `iterations` runs after the warm-up,
/// and the camera conversions; with `display`, the result loop on the configured screen; with
/// `profile`, the generator's time per kind of operation over `iterations` more runs.
pub fn run(
    config: &Config,
    iterations: usize,
    (display, profile): (bool, bool),
) -> anyhow::Result<BenchReport> {
    if iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let side = config.model.size;
    let (generator, race) = wiring::load_generator_timed(config)?;
    let gate = wiring::load_gate(config)?;
    let mut photos = FileSource::builtin(&SAMPLE_PHOTOS[..1]);
    let input = convert::frame_to_square(&photos.next_frame(FRAME_TIMEOUT)?, side)?;
    // Before the models run: tract's worker threads stay busy a while after a run.
    let conversions = conversions(&generator)?;
    let runs = timed_runs(iterations, || generator.run(&input).map(drop))?;
    let profile = if profile { Some(generator.profile(iterations)?) } else { None };
    let gate = match gate {
        Some(g) => {
            Some((g.origin().to_owned(), timed_runs(iterations, || g.comic_probability(&input).map(drop))?))
        }
        None => None,
    };
    let (model, threads, load, kernels) = (
        generator.origin().to_owned(),
        generator.threads(),
        generator.load_time,
        generator.kernels().to_vec(),
    );
    let pacing = if display {
        Some(pacing(ConfiguredScreen::open(&config.display)?, generator, config)?)
    } else {
        None
    };
    Ok(BenchReport { model, side, threads, load, race, runs, kernels, gate, pacing, conversions, profile })
}

/// `iterations` timed runs of `f`, sorted.
fn timed_runs<E>(iterations: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Vec<Duration>, E> {
    let mut runs = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        f()?;
        runs.push(start.elapsed());
    }
    runs.sort();
    Ok(runs)
}

/// Times the booth's capture-to-tensor path for [`BENCH_CONVERSIONS`]: the frame to the
/// model-sized RGB square ([`convert::frame_to_square`], what the booth shows and keeps), then
/// that square to `generator`'s input tensor ([`convert::to_tensor`]), beside a copy of each
/// frame, alternating so that both see the same machine (caches, clocks, other work). Runs of
/// tens of microseconds: a few hundred each.
fn conversions(generator: &Generator) -> anyhow::Result<Vec<ConversionBench>> {
    const RUNS: usize = 300;
    let photo = photo::decode_jpeg(SAMPLE_PHOTOS[0].bytes)?;
    let (side, m) = (generator.size().0, generator.manifest());
    BENCH_CONVERSIONS
        .iter()
        .map(|&(format, w, h)| {
            let frame = convert::encode_yuv(&convert::resize(&photo, w, h), format, 0)
                .context("encoding the sample photo as a camera frame")?;
            let mut copy = vec![0u8; frame.data.len()];
            let (mut runs, mut copies) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
            for _ in 0..RUNS {
                let start = Instant::now();
                let square = convert::frame_to_square(std::hint::black_box(&frame), side)?;
                std::hint::black_box(convert::to_tensor(&square, m.layout, m.input_range));
                runs.push(start.elapsed());
                let start = Instant::now();
                std::hint::black_box(&mut copy).copy_from_slice(std::hint::black_box(&frame.data));
                copies.push(start.elapsed());
            }
            runs.sort();
            copies.sort();
            Ok(ConversionBench { format, size: (w, h), runs, copies })
        })
        .collect()
}

/// Runs one booth session (scripted trigger, built-in photo, no countdown) on `screen` in
/// real time and records the result loop's presents for 4 s.
fn pacing(screen: ConfiguredScreen, generator: Generator, config: &Config) -> anyhow::Result<PacingReport> {
    const SHOW: Duration = Duration::from_secs(4);
    let name = screen.describe();
    let dir = std::env::temp_dir().join(format!("comicbooth-bench-{}", std::process::id()));
    export::create_dir(&dir)?;
    let booth_config = BoothConfig {
        countdown_s: 0,
        burst: 1,
        show_s: 60,
        stylized_preview: StylizedPreview::Off,
        ..config.booth.clone()
    };
    let mut booth = booth::Booth::new(
        Timed::new(screen),
        Box::new(FileSource::builtin(&SAMPLE_PHOTOS[..1])),
        false,
        vec![Box::new(trigger::ScriptedTrigger::new(vec![1]))],
        generator,
        None,
        (config.animate.clone(), crate::look::Look::from_config(&config.look)),
        booth_config,
        (ExportConfig { dir: dir.clone(), quota_mb: 0, ..Default::default() }, Default::default()),
    );
    let started = Instant::now();
    let mut show: Option<(Instant, usize)> = None;
    let result = loop {
        let now = Instant::now();
        if let Err(e) = booth.tick(now) {
            break Err(anyhow::Error::new(e).context(format!("drawing on {name}")));
        }
        if show.is_none() && booth.phase().name() == "show" {
            // This tick presented the first result frame.
            show = Some((now, booth.screen().presents().len().saturating_sub(1)));
        }
        if show.is_some_and(|(t, _)| now.duration_since(t) >= SHOW) {
            break Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            break Err(anyhow::anyhow!("the booth did not reach its result loop within 2 minutes"));
        }
        daemon::sleep_until_next(&booth, now);
    };
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    let first = show.map_or(0, |(_, i)| i);
    let shown = &booth.screen().presents()[first..];
    let mut intervals: Vec<Duration> = shown.windows(2).map(|w| w[1].0.duration_since(w[0].0)).collect();
    let mut presents: Vec<Duration> = shown.iter().map(|p| p.1).collect();
    intervals.sort();
    presents.sort();
    Ok(PacingReport {
        screen: name,
        frame_time: Duration::from_millis(config.animate.frame_ms as u64),
        intervals,
        presents,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// "runs N: min, median, mean, max" of sorted run times.
fn run_stats(runs: &[Duration]) -> String {
    let mean = runs.iter().map(|d| ms(*d)).sum::<f64>() / runs.len() as f64;
    format!(
        "runs {}: min {:.2} ms, median {:.2} ms, mean {:.2} ms, max {:.2} ms",
        runs.len(),
        ms(runs[0]),
        ms(runs[runs.len() / 2]),
        mean,
        ms(*runs.last().expect("at least one run")),
    )
}

impl fmt::Display for PacingReport {
    /// One line: result frames against their target interval, and present times.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pick = |v: &[Duration], q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied();
        let (intervals, presents) = (&self.intervals, &self.presents);
        match (pick(intervals, 0.5), pick(intervals, 0.95), intervals.last(), pick(presents, 0.5)) {
            (Some(median), Some(p95), Some(max), Some(present)) => write!(
                f,
                "result loop paced to {:.0} ms: {} frames, interval mean {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms; present median {:.2} ms, max {:.2} ms",
                ms(self.frame_time),
                intervals.len() + 1,
                ms(intervals.iter().sum::<Duration>()) / intervals.len() as f64,
                ms(median),
                ms(p95),
                ms(*max),
                ms(present),
                ms(*presents.last().unwrap_or(&present)),
            ),
            _ => f.write_str("too few result frames to measure pacing"),
        }
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model {} at {}x{}, {} threads\n  load+optimise {:.1} ms\n  {}\n  matmul kernels: {}",
            self.model,
            self.side,
            self.side,
            self.threads,
            ms(self.load),
            run_stats(&self.runs),
            self.kernels.join(", ")
        )?;
        if let Some(race) = &self.race {
            let times: Vec<String> =
                race.iter().map(|(name, t)| format!("{name} {:.1} ms", ms(*t))).collect();
            writeln!(
                f,
                "  model.precision auto, best of {} runs each: {}",
                crate::model::RACE_ROUNDS,
                times.join(", ")
            )?;
        }
        if let Some(profile) = &self.profile {
            let ops = &profile.by_op;
            let total: Duration = ops.iter().map(|o| o.time).sum();
            writeln!(
                f,
                "  where a run's time goes (tract's operations after optimisation; {:.2} ms in all):",
                ms(total)
            )?;
            for o in ops.iter().filter(|o| !o.time.is_zero()) {
                writeln!(
                    f,
                    "    {:<28} {:>3} nodes {:>9.3} ms {:>5.1}%",
                    o.op,
                    o.nodes,
                    ms(o.time),
                    100.0 * o.time.as_secs_f64() / total.as_secs_f64().max(1e-12)
                )?;
            }
            writeln!(f, "  the slowest nodes:")?;
            for n in profile.by_node.iter().take(10) {
                writeln!(f, "    {:>9.3} ms  {:<18} {}  -> {}", ms(n.time), n.op, n.name, n.output)?;
            }
        }
        if let Some((origin, runs)) = &self.gate {
            writeln!(f, "gate {origin}\n  {}", run_stats(runs))?;
        }
        if let Some(p) = &self.pacing {
            writeln!(f, "display {}\n  {p}", p.screen)?;
        }
        for c in &self.conversions {
            let (run, copy) = (c.runs[c.runs.len() / 2], c.copies[c.copies.len() / 2]);
            writeln!(
                f,
                "camera {} {}x{} -> {}x{} input tensor (RGB square, then tensor)\n  median {:.1} us, {:.1}x a copy of the frame ({:.1} us)",
                c.format,
                c.size.0,
                c.size.1,
                self.side,
                self.side,
                run.as_secs_f64() * 1e6,
                run.as_secs_f64() / copy.as_secs_f64().max(1e-9),
                copy.as_secs_f64() * 1e6,
            )?;
        }
        Ok(())
    }
}
