//! The booth's flows, the only place that knows every module: the demo pipeline, stylizing
//! files, the self-check and the model benchmark. Errors here are `anyhow` chains whose
//! innermost message (from the module that failed) names the file, the reason and the fix.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use image::RgbImage;

use crate::animate;
use crate::assets::SAMPLE_PHOTOS;
use crate::camera::{self, CameraError, FileSource, FrameSource};
use crate::config::{CameraSource, Config};
use crate::convert;
use crate::display::{self, HeadlessDisplay};
use crate::export::{self, ExportError};
use crate::model::{Gate, Generator, ModelFile, ModelSource};

/// How long the booth waits for a camera frame before calling the camera lost.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// Ordering time points into loops.
    pub animate: Duration,
    /// Drawing on the display (headless: writing PNGs).
    pub display: Duration,
    /// Writing animation files.
    pub export: Duration,
}

impl StageTimes {
    fn rows(&self) -> [(&'static str, Duration); 7] {
        [
            ("model load", self.model_load),
            ("capture", self.capture),
            ("preprocess", self.preprocess),
            ("generate", self.generate),
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
    /// The looping GIF.
    pub gif: PathBuf,
    /// Frames in the loop.
    pub frames: usize,
    /// PNGs of what the (headless) screen showed, `<label>-NNN.png`.
    pub screen_dir: PathBuf,
}

/// What `comicbooth demo` did.
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

/// Opens the configured photo source (the demo's samples or `camera.path`).
pub fn open_photo_source(config: &Config) -> Result<FileSource, CameraError> {
    match config.camera.source {
        CameraSource::Demo => Ok(FileSource::builtin(&SAMPLE_PHOTOS)),
        CameraSource::Files => FileSource::open(&config.camera.path),
        CameraSource::V4l2 => Err(CameraError::NotPhotos),
    }
}

/// Opens the configured source, whatever it is.
pub fn open_source(config: &Config) -> Result<Box<dyn FrameSource>, CameraError> {
    match config.camera.source {
        CameraSource::V4l2 => open_v4l2(config, false),
        _ => Ok(Box::new(open_photo_source(config)?)),
    }
}

/// The booth's camera: as [`open_source`], but a V4L2 camera that is missing or busy at start
/// gives a source that keeps trying, so the booth comes up showing "camera lost" (and tells
/// systemd so) rather than exiting into a restart loop.
pub fn open_booth_source(config: &Config) -> Result<Box<dyn FrameSource>, CameraError> {
    match config.camera.source {
        CameraSource::V4l2 => open_v4l2(config, true),
        _ => open_source(config),
    }
}

#[cfg(feature = "v4l2")]
fn open_v4l2(config: &Config, wait: bool) -> Result<Box<dyn FrameSource>, CameraError> {
    let c = &config.camera;
    let request = camera::v4l2::Request {
        device: c.device.clone(),
        format: c.format.pixel_format(),
        width: c.width,
        height: c.height,
        fps: c.fps,
        buffers: c.buffers,
    };
    Ok(Box::new(if wait {
        camera::v4l2::V4l2Source::open_or_wait(request)
    } else {
        camera::v4l2::V4l2Source::open(request)?
    }))
}

#[cfg(not(feature = "v4l2"))]
fn open_v4l2(_: &Config, _wait: bool) -> Result<Box<dyn FrameSource>, CameraError> {
    Err(CameraError::NotBuilt("v4l2"))
}

/// Waits up to `patience` for a good frame, skipping dropped frames and riding out timeouts,
/// and hands it to `use_frame` (which may borrow it, so no copy of a driver buffer is made).
/// A lost camera is returned at once, so the booth can say so on screen while the source
/// reopens it; after `patience` the last timeout is returned.
pub fn capture_with<T>(
    source: &mut dyn FrameSource,
    patience: Duration,
    use_frame: impl FnOnce(&camera::Frame) -> T,
) -> Result<T, CameraError> {
    let deadline = Instant::now() + patience;
    loop {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(10), FRAME_TIMEOUT);
        match source.next_frame(wait) {
            Ok(frame) => return Ok(use_frame(&frame)),
            Err(e @ CameraError::Lost { .. }) => return Err(e),
            Err(e) if e.is_transient() && Instant::now() < deadline => tracing::debug!("{e}"),
            Err(e) => return Err(e),
        }
    }
}

fn create_dir(dir: &Path) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|cause| ExportError { path: dir.to_owned(), cause })
}

/// The configured generator's source (`model.path`, or the built-in one).
pub fn generator_source(config: &Config) -> ModelSource {
    ModelSource::from_config(&config.model.path, crate::assets::GENERATOR)
}

/// The configured generator, loaded for `model.size` squares.
pub fn load_generator(config: &Config) -> Result<Generator, crate::model::ModelError> {
    let side = config.model.size;
    Generator::load(&generator_source(config), side, side, config.model.threads)
}

/// The configured gate, or `None` when `model.gate` is off.
pub fn load_gate(config: &Config) -> Result<Option<Gate>, crate::model::ModelError> {
    let m = &config.model;
    if !m.gate {
        return Ok(None);
    }
    let source = ModelSource::from_config(&m.gate_path, crate::assets::GATE);
    Gate::load(&source, m.gate_threshold, m.threads).map(Some)
}

/// The whole pipeline on every photo of the source once: capture, preprocess, generate the
/// time points, animate, show on a headless screen (PNG per shown frame) and save a GIF each.
pub fn demo(config: &Config) -> anyhow::Result<DemoReport> {
    let mut times = StageTimes::default();
    let out = &config.export.dir;
    let screen_dir = out.join("screen");
    create_dir(&screen_dir)?;
    let mut source = open_photo_source(config)?;
    tracing::info!(source = %source.describe(), "camera");
    let side = config.model.size;
    let (generator, gate) = timed(&mut times.model_load, || {
        Ok::<_, crate::model::ModelError>((load_generator(config)?, load_gate(config)?))
    })?;
    let mut screen =
        HeadlessDisplay::new(config.display.width, config.display.height).writing_to(&screen_dir);
    tracing::info!(width = config.display.width, height = config.display.height, "headless display");

    let mut outputs = Vec::new();
    for _ in 0..source.len() {
        let frame = timed(&mut times.capture, || source.next_frame(FRAME_TIMEOUT))?;
        let square = timed(&mut times.preprocess, || convert::frame_to_square(&frame, side))?;
        let points = timed(&mut times.generate, || {
            if crate::model::already_comic(gate.as_ref(), &square) {
                Ok(vec![square.clone()])
            } else {
                animate::time_points(&square, &config.animate, |i| generator.run(i))
            }
        })?;
        let anim = timed(&mut times.animate, || animate::assemble(&points, &config.animate, &frame.label));
        timed(&mut times.display, || {
            screen.start_sequence(&anim.label);
            anim.frames.iter().try_for_each(|f| display::show(&mut screen, f))
        })?;
        let gif = out.join(format!("{}.gif", anim.label));
        timed(&mut times.export, || export::write_gif(&gif, &anim))?;
        tracing::info!(photo = %anim.label, gif = %gif.display(), frames = anim.frames.len(), "comic saved");
        outputs.push(DemoOutput {
            label: anim.label,
            gif,
            frames: anim.frames.len(),
            screen_dir: screen_dir.clone(),
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

/// What `comicbooth stylize` did.
#[derive(Debug, Default)]
pub struct StylizeReport {
    /// (input, output) of every picture written.
    pub written: Vec<(PathBuf, PathBuf)>,
    /// Pictures that failed, with the reason (one line each).
    pub failed: Vec<(PathBuf, String)>,
    /// Inputs the gate found already comic-style: written untouched (resized only).
    pub passed_through: Vec<PathBuf>,
}

/// The largest size with the photo's aspect whose longest side is at most `longest`, each
/// side a multiple of `multiple`.
pub fn fit_size(w: u32, h: u32, longest: u32, multiple: u32) -> (u32, u32) {
    let m = multiple.max(1);
    let scale = longest as f64 / w.max(h) as f64;
    let round = |v: u32| (((v as f64 * scale) as u32 / m) * m).max(m);
    (round(w), round(h))
}

/// Generators by input size: a folder of same-sized photos loads the model once.
struct Generators<'a> {
    file: &'a ModelFile,
    threads: u32,
    loaded: HashMap<(u32, u32), Generator>,
    gate: Option<Gate>,
}

impl Generators<'_> {
    fn get(&mut self, (w, h): (u32, u32)) -> anyhow::Result<&Generator> {
        if !self.loaded.contains_key(&(w, h)) {
            let f = self.file;
            let g =
                Generator::from_bytes(&f.bytes, f.manifest.clone(), f.origin.clone(), w, h, self.threads)?;
            self.loaded.insert((w, h), g);
        }
        Ok(&self.loaded[&(w, h)])
    }
}

/// Stylizes one photo into `output`; returns whether the gate passed it through untouched.
fn stylize_one(input: &Path, output: &Path, longest: u32, gens: &mut Generators) -> anyhow::Result<bool> {
    let bytes = std::fs::read(input).map_err(|cause| CameraError::Read { path: input.into(), cause })?;
    let photo = camera::decode_photo(&bytes, input)?;
    let size = fit_size(photo.width(), photo.height(), longest, gens.file.manifest.size_multiple);
    let fitted: RgbImage =
        image::imageops::resize(&photo, size.0, size.1, image::imageops::FilterType::Triangle);
    let passed = crate::model::already_comic(gens.gate.as_ref(), &fitted);
    let comic = if passed { fitted } else { gens.get(size)?.run(&fitted)? };
    export::write_image(output, &comic)?;
    Ok(passed)
}

/// Turns one photo, or every photo in a folder, into comic pictures. A folder goes on past a
/// bad photo and reports it; nothing is written for a photo that failed.
pub fn stylize(config: &Config, input: &Path, output: &Path, longest: u32) -> anyhow::Result<StylizeReport> {
    let meta = std::fs::metadata(input).map_err(|cause| CameraError::Read { path: input.into(), cause })?;
    let pairs: Vec<(PathBuf, PathBuf)> = if meta.is_dir() {
        let photos = FileSource::list_photos(input)?;
        create_dir(output)?;
        photos
            .into_iter()
            .map(|p| (output.join(p.file_stem().unwrap_or_default()).with_extension("png"), p))
            .map(|(o, i)| (i, o))
            .collect()
    } else if output.is_dir() {
        vec![(input.into(), output.join(input.file_stem().unwrap_or_default()).with_extension("png"))]
    } else {
        if !matches!(
            image::ImageFormat::from_path(output),
            Ok(image::ImageFormat::Png | image::ImageFormat::Jpeg)
        ) {
            bail!(
                "{}: cannot write a picture with this extension; fix: name the output .png or .jpg, or give a folder",
                output.display()
            );
        }
        vec![(input.into(), output.into())]
    };
    let file = generator_source(config).read()?;
    let gate = load_gate(config)?;
    let mut gens = Generators { file: &file, threads: config.model.threads, loaded: HashMap::new(), gate };
    let mut report = StylizeReport::default();
    for (i, o) in pairs {
        match stylize_one(&i, &o, longest, &mut gens) {
            Ok(passed) => {
                if passed {
                    report.passed_through.push(i.clone());
                }
                report.written.push((i, o))
            }
            // A model that does not load fails every photo the same way: stop at once.
            Err(e) if e.downcast_ref::<crate::model::ModelError>().is_some() => return Err(e),
            Err(e) => report.failed.push((i, format!("{e:#}"))),
        }
    }
    if meta.is_file()
        && let Some((_, e)) = report.failed.pop()
    {
        bail!(e);
    }
    Ok(report)
}

/// Cameras for `comicbooth devices`: every V4L2 capture device under `dev_dir` with its
/// formats, and the choice the configured request would make.
#[cfg(feature = "v4l2")]
pub fn cameras(
    config: &Config,
    dev_dir: &Path,
) -> Vec<(camera::v4l2::CameraInfo, Option<camera::v4l2::Choice>)> {
    let c = &config.camera;
    camera::v4l2::discover(dev_dir)
        .into_iter()
        .map(|info| {
            let request = camera::v4l2::Request {
                device: info.path.clone(),
                format: c.format.pixel_format(),
                width: c.width,
                height: c.height,
                fps: c.fps,
                buffers: c.buffers,
            };
            let choice = camera::v4l2::choose(&info.formats, &request);
            (info, choice)
        })
        .collect()
}

/// Builds the configured triggers: SIGUSR1, the timer, the keyboard.
pub fn triggers(config: &Config) -> anyhow::Result<Vec<Box<dyn crate::trigger::Trigger>>> {
    use crate::trigger::{KeyboardTrigger, SignalTrigger, TimerTrigger};
    let t = &config.trigger;
    let mut out: Vec<Box<dyn crate::trigger::Trigger>> = Vec::new();
    if t.signal {
        out.push(Box::new(SignalTrigger::install().context("installing the SIGUSR1 handler")?));
    }
    if t.timer_s > 0 {
        out.push(Box::new(TimerTrigger::new(Duration::from_secs(t.timer_s as u64))));
    }
    if !t.keyboard.as_os_str().is_empty() {
        out.push(Box::new(KeyboardTrigger::open(&t.keyboard)?));
    }
    if t.gpio_line >= 0 {
        #[cfg(feature = "gpio")]
        out.push(Box::new(crate::trigger::GpioTrigger::open(
            &t.gpio_chip,
            t.gpio_line as u32,
            t.gpio_active_low,
        )?));
        #[cfg(not(feature = "gpio"))]
        bail!(
            "trigger.gpio_line is set, but this build has no GPIO support; fix: rebuild with `--features gpio` (or `booth`), or set trigger.gpio_line = -1"
        );
    }
    Ok(out)
}

/// Signals the daemon reacts to.
struct Signals {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    reload: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reload = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for sig in [SIGTERM, SIGINT] {
            signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))
                .context("installing signal handlers")?;
        }
        signal_hook::flag::register(SIGHUP, std::sync::Arc::clone(&reload))
            .context("installing signal handlers")?;
        Ok(Signals { stop, reload })
    }
}

/// Why the booth loop ended.
enum LoopEnd {
    Stop,
    Reload,
}

/// `comicbooth run`: the booth on the configured camera, display and triggers until SIGTERM
/// or SIGINT, or for `duration`. SIGHUP re-reads `config_path` and restarts the booth with it
/// (a bad new file is reported and the running configuration kept). A comic being saved when
/// a signal comes is finished first; files are written atomically either way.
pub fn run(config: &Config, config_path: Option<&Path>, duration: Option<Duration>) -> anyhow::Result<()> {
    let signals = Signals::install()?;
    let mut service = crate::service::Service::from_env();
    let deadline = duration.map(|d| Instant::now() + d);
    let mut config = config.clone();
    loop {
        match run_once(&config, &signals, &mut service, deadline)? {
            LoopEnd::Stop => {
                service.stopping();
                return Ok(());
            }
            LoopEnd::Reload => {
                service.reloading();
                match config_path.map(Config::load) {
                    Some(Ok(new)) => {
                        tracing::info!("configuration reloaded");
                        config = new;
                    }
                    Some(Err(e)) => tracing::error!("reload refused, keeping the running configuration: {e}"),
                    None => tracing::info!("no --config file to reload; restarting with the same settings"),
                }
            }
        }
    }
}

fn run_once(
    config: &Config,
    signals: &Signals,
    service: &mut crate::service::Service,
    deadline: Option<Instant>,
) -> anyhow::Result<LoopEnd> {
    let source = open_booth_source(config)?;
    let live = config.camera.source == CameraSource::V4l2;
    tracing::info!(source = %source.describe(), "camera");
    let triggers = triggers(config)?;
    if triggers.is_empty() {
        bail!(
            "no trigger is configured, so no session could ever start; fix: set trigger.signal = true, trigger.timer_s, trigger.keyboard or trigger.gpio_line"
        );
    }
    let generator = load_generator(config)?;
    let gate = load_gate(config)?;
    create_dir(&config.export.dir)?;
    let parts = BoothParts { source, live, triggers, generator, gate };
    let ctl = LoopControl { signals, deadline };
    with_configured_screen(&config.display, RunBooth { parts, config, ctl: &ctl, service })
}

/// Something to do with whichever screen the config names ([`with_configured_screen`]).
trait OnScreen {
    type Output;
    /// Runs on `screen`; `name` says what it is, for reports.
    fn on<S: display::Screen>(self, screen: S, name: String) -> anyhow::Result<Self::Output>
    where
        S::Error: std::error::Error + Send + Sync + 'static;
}

/// Opens the display `[display]` configures (headless, framebuffer or SPI panel) and hands it
/// to `job`: the one place that knows how each backend is opened.
fn with_configured_screen<J: OnScreen>(
    d: &crate::config::DisplayConfig,
    job: J,
) -> anyhow::Result<J::Output> {
    use crate::config::DisplayBackend;
    match d.backend {
        DisplayBackend::Headless => job.on(
            HeadlessDisplay::new(d.width, d.height),
            format!("headless {}x{} (memory only)", d.width, d.height),
        ),
        DisplayBackend::Framebuffer => {
            let fb = display::Framebuffer::open(&d.device, console(&d.console))?;
            let name = fb.describe();
            job.on(fb, name)
        }
        #[cfg(feature = "spi")]
        DisplayBackend::Spi => {
            let panel = display::spi::SpiPanel::open(&display::spi::SpiPanelConfig::from_config(d))?;
            job.on(panel, format!("{:?} SPI panel on {}", d.panel, d.spi_device.display()))
        }
        #[cfg(not(feature = "spi"))]
        DisplayBackend::Spi => bail!(
            "display backend \"spi\" is not in this build; fix: rebuild with `--features spi` (or `booth`), or use \"framebuffer\" or \"headless\""
        ),
    }
}

/// `run`'s job on the screen: the booth loop.
struct RunBooth<'a> {
    parts: BoothParts,
    config: &'a Config,
    ctl: &'a LoopControl<'a>,
    service: &'a mut crate::service::Service,
}

impl OnScreen for RunBooth<'_> {
    type Output = LoopEnd;
    fn on<S: display::Screen>(self, screen: S, _name: String) -> anyhow::Result<LoopEnd>
    where
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        run_loop(self.parts.assemble(screen, self.config), self.ctl, self.service)
    }
}

fn console(path: &Path) -> Option<&Path> {
    (!path.as_os_str().is_empty()).then_some(path)
}

struct LoopControl<'a> {
    signals: &'a Signals,
    deadline: Option<Instant>,
}

/// The booth's main-loop period: about 30 ticks a second.
const TICK: Duration = Duration::from_millis(33);

/// Sleeps until the booth's next tick (`TICK` after `tick_start`), or until its next result
/// frame is due if that comes first.
fn sleep_until_next<S: display::Screen>(booth: &crate::booth::Booth<S>, tick_start: Instant)
where
    S::Error: std::fmt::Display,
{
    let mut wake = tick_start + TICK;
    if let Some(due) = booth.next_frame_due() {
        wake = wake.min(due);
    }
    std::thread::sleep(wake.saturating_duration_since(Instant::now()));
}

/// Ticks the booth about 30 times a second, keeping systemd informed, until a signal or the
/// deadline.
fn run_loop<S: display::Screen>(
    mut booth: crate::booth::Booth<S>,
    ctl: &LoopControl,
    service: &mut crate::service::Service,
) -> anyhow::Result<LoopEnd>
where
    S::Error: std::error::Error + Send + Sync + 'static,
{
    use std::sync::atomic::Ordering;
    service.ready("attract: waiting for a guest");
    loop {
        if ctl.signals.stop.load(Ordering::Relaxed) || ctl.deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::info!(saved = booth.saved.len(), "stopping");
            return Ok(LoopEnd::Stop);
        }
        if ctl.signals.reload.swap(false, Ordering::Relaxed) {
            tracing::info!("SIGHUP: reloading");
            return Ok(LoopEnd::Reload);
        }
        let now = Instant::now();
        booth.tick(now)?;
        service.status(booth.phase().status());
        service.tick(now, booth.healthy(now));
        sleep_until_next(&booth, now);
    }
}

/// Everything a booth needs but its screen.
struct BoothParts {
    source: Box<dyn FrameSource>,
    live: bool,
    triggers: Vec<Box<dyn crate::trigger::Trigger>>,
    generator: Generator,
    gate: Option<Gate>,
}

impl BoothParts {
    fn assemble<S: display::Screen>(self, screen: S, config: &Config) -> crate::booth::Booth<S>
    where
        S::Error: std::fmt::Display,
    {
        crate::booth::Booth::new(
            screen,
            self.source,
            self.live,
            self.triggers,
            self.generator,
            self.gate,
            config.animate.clone(),
            config.booth.clone(),
            config.export.clone(),
        )
    }
}

/// The result of one `comicbooth check` item.
#[derive(Debug)]
pub struct CheckItem {
    /// What was checked.
    pub name: &'static str,
    /// Bit set in the exit code when it failed.
    pub bit: i32,
    /// What was found, or why it failed (with the fix).
    pub outcome: Result<String, String>,
}

/// Self-test: config, model, gate, camera, display, disk. Each failure sets one bit of the exit code.
pub fn check(config: &Config) -> Vec<CheckItem> {
    let item = |name, bit, outcome: anyhow::Result<String>| CheckItem {
        name,
        bit,
        outcome: outcome.map_err(|e| format!("{e:#}")),
    };
    let side = config.model.size;
    let model = item(
        "model",
        2,
        load_generator(config)
            .map(|g| {
                format!(
                    "{} ({}) runs {side}x{side} on {} threads, warm-up {} ms",
                    g.origin(),
                    g.manifest().name,
                    g.threads(),
                    g.warmup_time.as_millis()
                )
            })
            .map_err(Into::into),
    );
    let gate = item(
        "gate",
        32,
        load_gate(config)
            .map(|g| match g {
                Some(g) => format!(
                    "{} ({}) passes pictures through from a comic probability of {}, warm-up {} ms",
                    g.origin(),
                    g.manifest().name,
                    config.model.gate_threshold,
                    g.warmup_time.as_millis()
                ),
                None => "off (model.gate = false)".into(),
            })
            .map_err(Into::into),
    );
    let camera = item(
        "camera",
        4,
        open_source(config)
            .and_then(|mut s| {
                let (w, h, format) =
                    capture_with(s.as_mut(), FRAME_TIMEOUT * 2, |f| (f.width, f.height, f.format))?;
                Ok(format!("{}: first frame {w}x{h} {format}", s.describe()))
            })
            .map_err(Into::into),
    );
    let display = item("display", 8, check_display(&config.display));
    let disk = item("disk", 16, check_disk(&config.export.dir));
    vec![item("config", 1, Ok("valid".into())), model, gate, camera, display, disk]
}

fn check_display(d: &crate::config::DisplayConfig) -> anyhow::Result<String> {
    use crate::config::DisplayBackend;
    match d.backend {
        DisplayBackend::Headless => Ok(format!("headless {}x{}", d.width, d.height)),
        // Opening maps the framebuffer without drawing: what the booth will get.
        DisplayBackend::Framebuffer => Ok(display::Framebuffer::open(&d.device, None)?.describe()),
        #[cfg(feature = "spi")]
        DisplayBackend::Spi => {
            // Initialising the panel would disturb a running booth: check the device nodes.
            for node in [&d.spi_device, &d.gpio_chip] {
                std::fs::OpenOptions::new().read(true).write(true).open(node).with_context(|| {
                    format!(
                        "{}: cannot open it; fix: enable SPI (dtparam=spi=on) and add the user to the spi and gpio groups",
                        node.display()
                    )
                })?;
            }
            Ok(format!("{:?} panel on {} (not initialised by check)", d.panel, d.spi_device.display()))
        }
        #[cfg(not(feature = "spi"))]
        DisplayBackend::Spi => bail!(
            "display backend \"spi\" is not in this build; fix: rebuild with `--features spi` (or `booth`)"
        ),
    }
}

fn check_disk(dir: &Path) -> anyhow::Result<String> {
    create_dir(dir)?;
    let probe = dir.join(".comicbooth-check");
    export::atomic_write(&probe, |w| std::io::Write::write_all(w, b"ok"))?;
    std::fs::remove_file(&probe)
        .with_context(|| format!("{}: cannot remove the probe file", probe.display()))?;
    Ok(format!("{} is writable", dir.display()))
}

/// What `comicbooth bench` measured.
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
}

/// One camera format's conversion to the generator's input tensor, timed beside a plain copy
/// of the same frame's bytes (the yardstick: no conversion can beat reading the frame once).
#[derive(Debug, Clone)]
pub struct ConversionBench {
    /// The frame: a sample photo encoded as a camera sends it.
    pub format: camera::PixelFormat,
    /// Its width and height.
    pub size: (u32, u32),
    /// Timed conversions, sorted.
    pub runs: Vec<Duration>,
    /// Timed copies of the frame's bytes, sorted.
    pub copies: Vec<Duration>,
}

/// The conversions `bench` times: what a 640x480 webcam sends, in its two common raw formats.
const BENCH_CONVERSIONS: [(camera::PixelFormat, u32, u32); 2] =
    [(camera::PixelFormat::Yuyv, 640, 480), (camera::PixelFormat::Nv12, 640, 480)];

/// Times [`convert::frame_into_tensor`] for [`BENCH_CONVERSIONS`] into `generator`'s input (a
/// cache-line aligned buffer, reused, as a camera loop would), and a copy of each frame (runs
/// of tens of microseconds: a few hundred each).
fn bench_conversions(generator: &Generator) -> anyhow::Result<Vec<ConversionBench>> {
    const RUNS: usize = 300;
    let photo = convert::decode_jpeg(SAMPLE_PHOTOS[0].bytes).map_err(anyhow::Error::msg)?;
    let (side, m) = (generator.size().0, generator.manifest());
    BENCH_CONVERSIONS
        .iter()
        .map(|&(format, w, h)| {
            let frame = convert::encode_yuv(&convert::resize(&photo, w, h), format, 0)
                .context("encoding the sample photo as a camera frame")?;
            // Alternating, so that both see the same machine (caches, clocks, other work).
            let mut copy = vec![0u8; frame.data.len()];
            let (mut buffer, at) = convert::aligned_f32(side as usize * side as usize * 3);
            let (mut runs, mut copies) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
            for _ in 0..RUNS {
                let start = Instant::now();
                let tensor = std::hint::black_box(&mut buffer[at.clone()]);
                convert::frame_into_tensor(&frame, side, m.layout, m.input_range, tensor)?;
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

/// How evenly the result loop reaches the screen: the booth's own loop (ticks of [`TICK`],
/// frames paced to `animate.frame_ms`) run for a few seconds on a real screen backend.
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

/// Runs one booth session (scripted trigger, built-in photo, no countdown) on `screen` in
/// real time and records the result loop's presents for `SHOW`.
fn pacing<S: display::Screen>(
    screen: S,
    name: String,
    generator: Generator,
    config: &Config,
) -> anyhow::Result<PacingReport>
where
    S::Error: std::error::Error + Send + Sync + 'static,
{
    const SHOW: Duration = Duration::from_secs(4);
    let dir = std::env::temp_dir().join(format!("comicbooth-bench-{}", std::process::id()));
    create_dir(&dir)?;
    let booth_config = crate::config::BoothConfig {
        countdown_s: 0,
        burst: 1,
        show_s: 60,
        stylized_preview: crate::config::StylizedPreview::Off,
        ..config.booth.clone()
    };
    let mut booth = crate::booth::Booth::new(
        display::Timed::new(screen),
        Box::new(FileSource::builtin(&SAMPLE_PHOTOS[..1])),
        false,
        vec![Box::new(crate::trigger::ScriptedTrigger::new(vec![1]))],
        generator,
        None,
        config.animate.clone(),
        booth_config,
        crate::config::ExportConfig { dir: dir.clone(), quota_mb: 0 },
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
        sleep_until_next(&booth, now);
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

/// `bench --display`'s job on the screen: [`pacing`].
struct Pacing<'a> {
    generator: Generator,
    config: &'a Config,
}

impl OnScreen for Pacing<'_> {
    type Output = PacingReport;
    fn on<S: display::Screen>(self, screen: S, name: String) -> anyhow::Result<PacingReport>
    where
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        pacing(screen, name, self.generator, self.config)
    }
}

impl BenchReport {
    /// The median run.
    pub fn median(&self) -> Duration {
        self.runs[self.runs.len() / 2]
    }
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

/// Times the generator (and the gate) on a sample photo: `iterations` runs after the warm-up.
pub fn bench(config: &Config, iterations: usize, display: bool) -> anyhow::Result<BenchReport> {
    if iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let side = config.model.size;
    let generator = load_generator(config)?;
    let gate = load_gate(config)?;
    let mut photos = FileSource::builtin(&SAMPLE_PHOTOS[..1]);
    let input = convert::frame_to_square(&photos.next_frame(FRAME_TIMEOUT)?, side)?;
    // Before the models run: tract's worker threads stay busy a while after a run.
    let conversions = bench_conversions(&generator)?;
    let runs = timed_runs(iterations, || generator.run(&input).map(drop))?;
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
        Some(with_configured_screen(&config.display, Pacing { generator, config })?)
    } else {
        None
    };
    Ok(BenchReport { model, side, threads, load, runs, kernels, gate, pacing, conversions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_size_keeps_aspect_and_multiple() {
        assert_eq!(fit_size(640, 480, 256, 1), (256, 192));
        assert_eq!(fit_size(480, 319, 256, 8), (256, 168));
        assert_eq!(fit_size(10, 1000, 256, 8), (8, 256));
    }
}
