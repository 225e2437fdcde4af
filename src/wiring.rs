//! Wiring: the only code that turns the configuration into parts (the camera or photo source,
//! the screen, the triggers, the models, a whole booth), and the only place that knows which
//! backends this build has (cargo features). Commands and the daemon ask here for parts and
//! never name a backend themselves.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

use crate::assets::{BuiltinModel, GENERATOR, GENERATOR_INT8, SAMPLE_PHOTOS};
use crate::booth::Booth;
use crate::camera::{CameraError, FileSource, FrameSource};
use crate::config::{CameraSource, Config, DisplayBackend, DisplayConfig, Precision};
use crate::display::{Framebuffer, FramebufferError, HeadlessDisplay, HeadlessError, Screen};
use crate::model::{Gate, Generator, ModelError, ModelSource, RaceTimes};
use crate::trigger::{KeyboardTrigger, SignalTrigger, TimerTrigger, Trigger};

/// A configuration that parses but cannot be built into a booth: no trigger, or a backend
/// this build does not have. Like an invalid file, it will not fix itself on a restart, so
/// `run` exits with [`EX_CONFIG`] for it.
#[derive(Debug, thiserror::Error)]
#[error("{what}; fix: {fix}")]
pub struct ConfigProblem {
    /// What is wrong.
    pub what: &'static str,
    /// What to do.
    pub fix: &'static str,
}

/// sysexits.h's EX_CONFIG: `run`'s exit status for a configuration it cannot use. The unit's
/// `RestartPreventExitStatus=78` makes systemd fail once, clearly, instead of restarting the
/// booth into the same error until its start limit.
pub const EX_CONFIG: u8 = 78;

/// Whether `e` comes from the configuration (an invalid file, or one naming a part this build
/// or this booth cannot have) rather than from hardware or the disk.
pub fn is_config_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<crate::config::ConfigError>()
            || c.is::<ConfigProblem>()
            || matches!(
                c.downcast_ref::<CameraError>(),
                Some(CameraError::NotBuilt(_) | CameraError::NotPhotos)
            )
    })
}

/// Whether this build drives SPI panels (feature `spi`).
pub const HAS_SPI: bool = cfg!(feature = "spi");
/// Whether this build reads a GPIO button (feature `gpio`).
pub const HAS_GPIO: bool = cfg!(feature = "gpio");

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
fn open_booth_source(config: &Config) -> Result<Box<dyn FrameSource>, CameraError> {
    match config.camera.source {
        CameraSource::V4l2 => open_v4l2(config, true),
        _ => open_source(config),
    }
}

#[cfg(feature = "v4l2")]
fn v4l2_request(config: &Config, device: &Path) -> crate::camera::v4l2::Request {
    let c = &config.camera;
    crate::camera::v4l2::Request {
        device: device.to_owned(),
        format: c.format.pixel_format(),
        width: c.width,
        height: c.height,
        fps: c.fps,
        buffers: c.buffers,
    }
}

#[cfg(feature = "v4l2")]
fn open_v4l2(config: &Config, wait: bool) -> Result<Box<dyn FrameSource>, CameraError> {
    use crate::camera::v4l2::V4l2Source;
    let request = v4l2_request(config, &config.camera.device);
    Ok(Box::new(if wait { V4l2Source::open_or_wait(request) } else { V4l2Source::open(request)? }))
}

#[cfg(not(feature = "v4l2"))]
fn open_v4l2(_: &Config, _wait: bool) -> Result<Box<dyn FrameSource>, CameraError> {
    Err(CameraError::NotBuilt("v4l2"))
}

/// The cameras' part of `comicbooth devices`: every V4L2 capture device under `dev_dir` with
/// its formats and the choice the configured request would make, or why there are none.
#[cfg(feature = "v4l2")]
pub fn list_cameras(config: &Config, dev_dir: &Path) -> String {
    use crate::camera::v4l2;
    let cameras: Vec<_> = v4l2::discover(dev_dir)
        .into_iter()
        .map(|info| {
            let choice = v4l2::choose(&info.formats, &v4l2_request(config, &info.path));
            (info, choice)
        })
        .collect();
    crate::camera::v4l2::listing::cameras(&cameras)
}

/// The cameras' part of `comicbooth devices` in a build without V4L2.
#[cfg(not(feature = "v4l2"))]
pub fn list_cameras(_: &Config, _dev_dir: &Path) -> String {
    "  v4l2      not in this build (rebuild with --features v4l2)\n".into()
}

/// The configured generator's source: `model.path`, or the built-in form `model.precision`
/// names (for "auto", the one that runs faster here at `model.size`, timed now).
pub fn generator_source(config: &Config) -> Result<ModelSource, ModelError> {
    Ok(match builtin_generator(config) {
        Some(Precision::Auto) => {
            let side = config.model.size;
            let fastest = Generator::fastest(&BUILTIN_GENERATORS, side, side, config.model.threads)?;
            ModelSource::Builtin(BUILTIN_GENERATORS[fastest.index])
        }
        Some(Precision::F32) => ModelSource::Builtin(GENERATOR),
        Some(Precision::Int8) => ModelSource::Builtin(GENERATOR_INT8),
        None => ModelSource::from_config(&config.model.path, GENERATOR),
    })
}

/// The configured generator, loaded for `model.size` squares (for `model.precision = "auto"`,
/// the built-in form that ran faster here).
pub fn load_generator(config: &Config) -> Result<Generator, ModelError> {
    Ok(load_generator_timed(config)?.0)
}

/// [`load_generator`], with the built-in forms' times where `model.precision = "auto"` chose
/// between them (each form's manifest name and best time).
pub fn load_generator_timed(config: &Config) -> Result<(Generator, Option<RaceTimes>), ModelError> {
    let (side, threads) = (config.model.size, config.model.threads);
    match builtin_generator(config) {
        Some(Precision::Auto) => {
            let fastest = Generator::fastest(&BUILTIN_GENERATORS, side, side, threads)?;
            Ok((fastest.generator, Some(fastest.times)))
        }
        _ => Ok((Generator::load(&generator_source(config)?, side, side, threads)?, None)),
    }
}

/// The built-in generator's forms, f32 first.
const BUILTIN_GENERATORS: [BuiltinModel; 2] = [GENERATOR, GENERATOR_INT8];

/// `model.precision` where the generator is the built-in one (`model.path` empty).
fn builtin_generator(config: &Config) -> Option<Precision> {
    config.model.path.as_os_str().is_empty().then_some(config.model.precision)
}

/// The configured gate, or `None` when `model.gate` is off.
pub fn load_gate(config: &Config) -> Result<Option<Gate>, ModelError> {
    let m = &config.model;
    if !m.gate {
        return Ok(None);
    }
    let source = ModelSource::from_config(&m.gate_path, crate::assets::GATE);
    Gate::load(&source, m.gate_threshold, m.threads).map(Some)
}

/// Builds the configured triggers: SIGUSR1, the timer, the keyboard, the GPIO button.
pub fn triggers(config: &Config) -> anyhow::Result<Vec<Box<dyn Trigger>>> {
    let t = &config.trigger;
    let mut out: Vec<Box<dyn Trigger>> = Vec::new();
    if t.signal {
        out.push(Box::new(SignalTrigger::install().context("installing the SIGUSR1 handler")?));
    }
    if t.timer_s > 0 {
        out.push(Box::new(TimerTrigger::new(Duration::from_secs(t.timer_s as u64))));
    }
    if !t.keyboard.as_os_str().is_empty() {
        out.push(Box::new(KeyboardTrigger::open_or_wait(&t.keyboard, std::time::Instant::now())?));
    }
    if t.gpio_line >= 0 {
        #[cfg(feature = "gpio")]
        out.push(Box::new(crate::trigger::gpio::GpioTrigger::open_or_wait(
            &t.gpio_chip,
            t.gpio_line as u32,
            t.gpio_active_low,
            std::time::Instant::now(),
        )?));
        #[cfg(not(feature = "gpio"))]
        return Err(ConfigProblem {
            what: "trigger.gpio_line is set, but this build has no GPIO support",
            fix: "rebuild with `--features gpio` (or `booth`), or set trigger.gpio_line = -1",
        }
        .into());
    }
    Ok(out)
}

/// The booth `comicbooth run` drives: the configured camera, triggers, models, export folder and
/// screen. Fails, naming the part and the fix, when one cannot be had.
pub fn booth(config: &Config) -> anyhow::Result<Booth<ConfiguredScreen>> {
    let source = open_booth_source(config)?;
    tracing::info!(source = %source.describe(), "camera");
    let triggers = triggers(config)?;
    if triggers.is_empty() {
        return Err(ConfigProblem {
            what: "no trigger is configured, so no session could ever start",
            fix: "set trigger.signal = true, trigger.timer_s, trigger.keyboard or trigger.gpio_line",
        }
        .into());
    }
    let generator = load_generator(config)?;
    let gate = load_gate(config)?;
    crate::export::create_dir(&config.export.dir)?;
    match crate::export::remove_stale_temps(&config.export.dir) {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "half-written files of a killed run deleted"),
        Err(e) => tracing::warn!("cleaning {}: {e}", config.export.dir.display()),
    }
    let screen = ConfiguredScreen::open(&config.display)?;
    tracing::info!(screen = %screen.describe(), "display");
    Ok(Booth::new(
        screen,
        source,
        config.camera.source == CameraSource::V4l2,
        triggers,
        generator,
        gate,
        (config.animate.clone(), crate::look::Look::from_config(&config.look)),
        config.booth.clone(),
        (config.export.clone(), config.share.clone()),
    ))
}

/// What `comicbooth check` can say of the configured display without disturbing a running
/// booth: the framebuffer mapped (not drawn on), an SPI panel's device nodes opened.
pub fn probe_display(d: &DisplayConfig) -> anyhow::Result<String> {
    match d.backend {
        DisplayBackend::Headless => Ok(format!("headless {}x{}", d.width, d.height)),
        DisplayBackend::Framebuffer => Ok(Framebuffer::open(&d.device, None)?.describe()),
        DisplayBackend::Spi if HAS_SPI => {
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
        DisplayBackend::Spi => Err(spi_not_built()),
    }
}

fn spi_not_built() -> anyhow::Error {
    ConfigProblem {
        what: "display backend \"spi\" is not in this build",
        fix: "rebuild with `--features spi` (or `booth`), or use \"framebuffer\" or \"headless\"",
    }
    .into()
}

/// The screen `[display]` configures: one type over every backend this build has, so the
/// booth and the benchmarks are written once for all of them.
pub enum ConfiguredScreen {
    /// In memory only (no hardware).
    Headless(HeadlessDisplay),
    /// A Linux framebuffer (HDMI, DRM or fbdev panels).
    Framebuffer(Framebuffer),
    /// An ST7789 or ILI9341 panel on SPI, and what it is (for reports).
    #[cfg(feature = "spi")]
    Spi(crate::display::spi::SpiPanel, String),
    /// No device: the one that failed was let go before reopening it (a backend holds its
    /// device exclusively). Every draw fails until a reopened screen takes its place.
    Closed(Size),
}

/// A [`ConfiguredScreen`]'s error: its backend's own.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    /// From the headless screen.
    #[error(transparent)]
    Headless(#[from] HeadlessError),
    /// From the framebuffer.
    #[error(transparent)]
    Framebuffer(#[from] FramebufferError),
    /// From the SPI panel.
    #[cfg(feature = "spi")]
    #[error(transparent)]
    Spi(#[from] crate::display::spi::SpiPanelError),
    /// The display is closed while it is being reopened.
    #[error("the display is closed, waiting to be reopened")]
    Closed,
}

/// Runs `$body` with `$s` bound to the backend inside a [`ConfiguredScreen`]; a closed screen
/// gives `$closed` (by default the [`ScreenError::Closed`] error).
macro_rules! each_backend {
    ($screen:expr, $s:ident => $body:expr, closed $c:pat => $closed:expr) => {
        match $screen {
            ConfiguredScreen::Headless($s) => $body,
            ConfiguredScreen::Framebuffer($s) => $body,
            #[cfg(feature = "spi")]
            ConfiguredScreen::Spi($s, _) => $body,
            ConfiguredScreen::Closed($c) => $closed,
        }
    };
    ($screen:expr, $s:ident => $body:expr) => {
        each_backend!($screen, $s => $body, closed _ => Err(ScreenError::Closed))
    };
}

impl ConfiguredScreen {
    /// Opens the display `[display]` configures.
    pub fn open(d: &DisplayConfig) -> anyhow::Result<ConfiguredScreen> {
        Ok(match d.backend {
            DisplayBackend::Headless => ConfiguredScreen::Headless(HeadlessDisplay::new(d.width, d.height)),
            DisplayBackend::Framebuffer => {
                let console = (!d.console.as_os_str().is_empty()).then_some(d.console.as_path());
                ConfiguredScreen::Framebuffer(Framebuffer::open(&d.device, console)?)
            }
            #[cfg(feature = "spi")]
            DisplayBackend::Spi => {
                use crate::display::spi::{SpiPanel, SpiPanelConfig};
                let name = format!("{:?} SPI panel on {}", d.panel, d.spi_device.display());
                ConfiguredScreen::Spi(SpiPanel::open(&SpiPanelConfig::from_config(d))?, name)
            }
            #[cfg(not(feature = "spi"))]
            DisplayBackend::Spi => return Err(spi_not_built()),
        })
    }

    /// Reopens the display `d` configures in place of the booth's screen, letting go of the
    /// old device first. Left [`ConfiguredScreen::Closed`] when it cannot be opened yet.
    pub fn reopen(booth: &mut Booth<ConfiguredScreen>, d: &DisplayConfig) -> anyhow::Result<()> {
        let size = booth.screen().size();
        drop(booth.replace_screen(ConfiguredScreen::Closed(size)));
        booth.replace_screen(ConfiguredScreen::open(d)?);
        Ok(())
    }

    /// What it is, for logs and reports.
    pub fn describe(&self) -> String {
        match self {
            ConfiguredScreen::Headless(h) => {
                let size = h.size();
                format!("headless {}x{} (memory only)", size.width, size.height)
            }
            ConfiguredScreen::Framebuffer(fb) => fb.describe(),
            #[cfg(feature = "spi")]
            ConfiguredScreen::Spi(_, name) => name.clone(),
            ConfiguredScreen::Closed(size) => format!("closed {}x{} (reopening)", size.width, size.height),
        }
    }
}

impl OriginDimensions for ConfiguredScreen {
    fn size(&self) -> Size {
        each_backend!(self, s => s.size(), closed size => *size)
    }
}

impl DrawTarget for ConfiguredScreen {
    type Color = Rgb888;
    type Error = ScreenError;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), ScreenError> {
        each_backend!(self, s => s.draw_iter(pixels).map_err(Into::into))
    }

    fn fill_contiguous<I: IntoIterator<Item = Rgb888>>(
        &mut self,
        area: &Rectangle,
        colors: I,
    ) -> Result<(), ScreenError> {
        each_backend!(self, s => s.fill_contiguous(area, colors).map_err(Into::into))
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), ScreenError> {
        each_backend!(self, s => s.fill_solid(area, color).map_err(Into::into))
    }

    fn clear(&mut self, color: Rgb888) -> Result<(), ScreenError> {
        each_backend!(self, s => s.clear(color).map_err(Into::into))
    }
}

impl Screen for ConfiguredScreen {
    fn present(&mut self) -> Result<(), ScreenError> {
        each_backend!(self, s => s.present().map_err(Into::into))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_picks_the_built_in_form_and_auto_the_faster() {
        let with = |precision| Config {
            model: crate::config::ModelConfig { precision, size: 64, threads: 1, ..Default::default() },
            ..Default::default()
        };
        let name = |g: &Generator| g.name().to_owned();
        assert_eq!(name(&load_generator(&with(Precision::F32)).unwrap()), "comic-generator-f32");
        assert_eq!(name(&load_generator(&with(Precision::Int8)).unwrap()), "comic-generator-int8");
        // auto: both forms timed, the faster of them loaded.
        let (g, race) = load_generator_timed(&with(Precision::Auto)).unwrap();
        let race = race.expect("auto times the forms");
        let names: Vec<&str> = race.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["comic-generator-f32", "comic-generator-int8"]);
        let best = race.iter().min_by_key(|(_, t)| *t).unwrap();
        assert_eq!(name(&g), best.0);
        // A model file of one's own is never raced.
        let own = Config {
            model: crate::config::ModelConfig {
                path: Path::new(env!("CARGO_MANIFEST_DIR")).join("models/comic_generator.f32.onnx"),
                ..with(Precision::Auto).model
            },
            ..Default::default()
        };
        assert!(load_generator_timed(&own).unwrap().1.is_none());
    }

    #[test]
    fn configured_headless_screen_draws_and_presents_through_the_enum() {
        let d =
            DisplayConfig { backend: DisplayBackend::Headless, width: 6, height: 4, ..Default::default() };
        let mut screen = ConfiguredScreen::open(&d).unwrap();
        assert_eq!(screen.size(), Size::new(6, 4));
        screen.clear(Rgb888::BLUE).unwrap();
        screen.fill_solid(&Rectangle::new(Point::new(1, 1), Size::new(2, 2)), Rgb888::RED).unwrap();
        screen.present().unwrap();
        let ConfiguredScreen::Headless(h) = &screen else { panic!("not headless") };
        assert_eq!(h.presented(), 1);
        assert_eq!(h.pixels().get_pixel(0, 0).0, [0, 0, 255]);
        assert_eq!(h.pixels().get_pixel(2, 2).0, [255, 0, 0]);
        assert!(screen.describe().starts_with("headless 6x4"));
    }

    #[test]
    fn config_problems_are_told_from_hardware_ones() {
        let config = Config {
            trigger: crate::config::TriggerConfig { signal: false, timer_s: 0, ..Default::default() },
            ..Default::default()
        };
        let no_trigger = booth(&config).err().expect("a booth without triggers");
        assert!(is_config_error(&no_trigger), "{no_trigger:#}");
        let bad_file = anyhow::Error::new(
            Config::parse("[animate]\ntime_points = 1\n", Path::new("b.toml")).unwrap_err(),
        );
        assert!(is_config_error(&bad_file.context("loading")));
        let d = DisplayConfig {
            backend: DisplayBackend::Framebuffer,
            device: "/nonexistent/fb9".into(),
            ..Default::default()
        };
        let missing = ConfiguredScreen::open(&d).err().expect("no such framebuffer");
        assert!(!is_config_error(&missing), "a missing device is hardware, worth a restart: {missing:#}");
    }

    #[test]
    fn a_missing_framebuffer_is_an_error_naming_it() {
        let d = DisplayConfig {
            backend: DisplayBackend::Framebuffer,
            device: "/nonexistent/fb9".into(),
            ..Default::default()
        };
        let err = ConfiguredScreen::open(&d).err().expect("no such framebuffer");
        assert!(format!("{err:#}").contains("/nonexistent/fb9"), "{err:#}");
        assert!(format!("{:#}", probe_display(&d).unwrap_err()).contains("/nonexistent/fb9"));
    }
}
