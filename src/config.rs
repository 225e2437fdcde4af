//! The one TOML configuration file: every key has a default, and [`DEFAULT_TOML`] documents
//! each one. Unknown keys and out-of-range values are errors that name the file, the line, the
//! key and what is allowed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// The default configuration, with a comment on every key. `comicbooth config --default`
/// prints it; a test checks that it parses to [`Config::default`].
pub const DEFAULT_TOML: &str = include_str!("default-config.toml");

/// Everything comicbooth can be told.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where frames come from.
    pub camera: CameraConfig,
    /// The comic generator.
    pub model: ModelConfig,
    /// How the comic is drawn at its saved size.
    pub look: LookConfig,
    /// How the comic moves.
    pub animate: AnimateConfig,
    /// What shows the result.
    pub display: DisplayConfig,
    /// Where animations are saved.
    pub export: ExportConfig,
    /// The booth's session: countdown, burst, how long results show.
    pub booth: BoothConfig,
    /// What starts a session.
    pub trigger: TriggerConfig,
    /// The take-home server (`comicbooth share`).
    pub share: ShareConfig,
    /// Logging.
    pub log: LogConfig,
}

/// `[share]`: the take-home server (`comicbooth share`, its own unit) and the QR codes the
/// result screen shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShareConfig {
    /// Whether comics are shared: the result screen shows their QR codes.
    pub enabled: bool,
    /// What the QR code points at: the server's address as phones reach it.
    #[serde(deserialize_with = "base_url")]
    pub base_url: String,
    /// Address and port the server listens on.
    #[serde(deserialize_with = "listen")]
    pub listen: String,
    /// The hotspot's name, for a second QR code that joins it ("" for none).
    pub wifi_ssid: String,
    /// The hotspot's WPA password.
    pub wifi_password: String,
    /// The operator's PIN for the gallery of all comics ("" turns the gallery off).
    #[serde(deserialize_with = "gallery_pin")]
    pub gallery_pin: String,
}

impl Default for ShareConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            base_url: String::new(),
            listen: "0.0.0.0:8080".into(),
            wifi_ssid: String::new(),
            wifi_password: String::new(),
            gallery_pin: String::new(),
        }
    }
}

/// `[camera]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraConfig {
    /// Which kind of source.
    pub source: CameraSource,
    /// Photo file or folder for [`CameraSource::Files`].
    pub path: PathBuf,
    /// Device node for [`CameraSource::V4l2`].
    pub device: PathBuf,
    /// Requested capture width in pixels.
    #[serde(deserialize_with = "capture_side")]
    pub width: u32,
    /// Requested capture height in pixels.
    #[serde(deserialize_with = "capture_side")]
    pub height: u32,
    /// Requested frames per second.
    #[serde(deserialize_with = "fps")]
    pub fps: u32,
    /// Pixel format asked of the camera.
    pub format: CaptureFormat,
    /// mmap buffers queued with the driver.
    #[serde(deserialize_with = "buffers")]
    pub buffers: u32,
}

/// `camera.format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum CaptureFormat {
    /// The first the camera offers of MJPEG, YUYV, NV12, RGB24, GREY, UYVY, NV21, BGR24.
    Auto,
    Mjpeg,
    Yuyv,
    Uyvy,
    Nv12,
    Nv21,
    Rgb24,
    Bgr24,
    Grey,
}

impl CaptureFormat {
    /// The pixel format, or `None` for automatic choice.
    pub fn pixel_format(self) -> Option<crate::camera::PixelFormat> {
        use crate::camera::PixelFormat as P;
        Some(match self {
            CaptureFormat::Auto => return None,
            CaptureFormat::Mjpeg => P::Mjpeg,
            CaptureFormat::Yuyv => P::Yuyv,
            CaptureFormat::Uyvy => P::Uyvy,
            CaptureFormat::Nv12 => P::Nv12,
            CaptureFormat::Nv21 => P::Nv21,
            CaptureFormat::Rgb24 => P::Rgb24,
            CaptureFormat::Bgr24 => P::Bgr24,
            CaptureFormat::Grey => P::Grey,
        })
    }
}

impl Default for CameraConfig {
    fn default() -> Self {
        Self {
            source: CameraSource::Demo,
            path: PathBuf::new(),
            device: PathBuf::from("/dev/video0"),
            width: 1280,
            height: 720,
            fps: 30,
            format: CaptureFormat::Auto,
            buffers: 4,
        }
    }
}

/// `camera.source`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CameraSource {
    /// The sample photos built into the binary.
    Demo,
    /// Photos from `camera.path`.
    Files,
    /// A V4L2 camera at `camera.device`.
    V4l2,
}

/// `[model]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Generator ONNX file; empty means the model built into the binary.
    pub path: PathBuf,
    /// Which built-in generator (`path` empty): f32, int8, or whichever runs faster here.
    pub precision: Precision,
    /// Square side, in pixels, that the generator runs at.
    #[serde(deserialize_with = "model_size")]
    pub size: u32,
    /// Inference threads; 0 means one per CPU core.
    #[serde(deserialize_with = "threads")]
    pub threads: u32,
    /// Whether the "already comic?" gate runs before the generator.
    pub gate: bool,
    /// Gate ONNX file; empty means the gate built into the binary.
    pub gate_path: PathBuf,
    /// Comic probability from which a picture passes through untouched (default 0.9: the
    /// lowest at which no held-out photo passes, models/report/report.md).
    #[serde(deserialize_with = "gate_threshold")]
    pub gate_threshold: f32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            precision: Precision::Auto,
            size: 256,
            threads: 0,
            gate: true,
            gate_path: PathBuf::new(),
            gate_threshold: 0.9,
        }
    }
}

/// `model.precision`: which of the built-in generator's two forms runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Both are timed on this board when comicbooth starts and the faster one runs.
    Auto,
    /// 32-bit float weights and arithmetic.
    F32,
    /// 8-bit integer convolutions (QLinearConv), quantized from the f32 one.
    Int8,
}

/// `[look]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LookConfig {
    /// Short side of the saved comic in pixels (the photo's own when smaller).
    #[serde(deserialize_with = "look_size")]
    pub size: u32,
    /// Colours of the comic's palette; 0 keeps the generator's colours unflattened.
    #[serde(deserialize_with = "colours")]
    pub colours: u32,
    /// Whether dark ink outlines are drawn.
    pub ink: bool,
}

impl Default for LookConfig {
    fn default() -> Self {
        Self { size: 720, colours: 24, ink: true }
    }
}

/// `[animate]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnimateConfig {
    /// Distinct comic frames per animation.
    #[serde(deserialize_with = "time_points")]
    pub time_points: u32,
    /// Order the time points play in.
    pub loop_mode: LoopMode,
    /// How long each frame shows, in milliseconds.
    #[serde(deserialize_with = "frame_ms")]
    pub frame_ms: u32,
    /// How far the ink lines wander in line boil, in pixels.
    #[serde(deserialize_with = "jitter_px")]
    pub jitter_px: u32,
    /// The designed motions a still gets.
    pub effects: Vec<Effect>,
    /// Text lettered on every comic ("" for none).
    #[serde(deserialize_with = "caption")]
    pub caption: String,
    /// How the caption is lettered.
    pub caption_style: CaptionStyle,
}

impl Default for AnimateConfig {
    fn default() -> Self {
        Self {
            time_points: 8,
            loop_mode: LoopMode::Boomerang,
            frame_ms: 100,
            jitter_px: 1,
            effects: vec![Effect::Boil, Effect::Halftone, Effect::Zoom],
            caption: String::new(),
            caption_style: CaptionStyle::Box,
        }
    }
}

/// `animate.effects`: a still's designed motion. They compose; each is seeded, so the same
/// picture always moves the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Line boil: the ink redrawn with a small jitter, three variants in turn.
    Boil,
    /// Halftone dots over the shadow tones, drifting.
    Halftone,
    /// A slow zoom and pan over the loop.
    Zoom,
    /// The picture as a page of three panels, revealed in turn (the loop then plays in
    /// order, not as a boomerang).
    Panels,
}

/// `animate.caption_style`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptionStyle {
    /// A yellow caption box in the top-left corner.
    Box,
    /// A white speech bubble in the top right.
    Bubble,
}

/// `animate.loop_mode`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoopMode {
    /// 1, 2, 3, 4, 1, 2, ...
    Cycle,
    /// 1, 2, 3, 4, 3, 2, 1, 2, ...
    Boomerang,
}

/// `[display]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// Which display backend.
    pub backend: DisplayBackend,
    /// Framebuffer device for [`DisplayBackend::Framebuffer`].
    pub device: PathBuf,
    /// Virtual terminal to switch to graphics mode while drawing ("" leaves it alone).
    pub console: PathBuf,
    /// SPI panel controller.
    pub panel: PanelKind,
    /// spidev node of the panel.
    pub spi_device: PathBuf,
    /// SPI clock in Hz.
    #[serde(deserialize_with = "spi_hz")]
    pub spi_hz: u32,
    /// GPIO chip of the panel's control lines.
    pub gpio_chip: PathBuf,
    /// Data/command line (always wired: the panel cannot work without it).
    #[serde(deserialize_with = "wired_gpio_line")]
    pub dc_line: u32,
    /// Reset line (-1: not wired).
    #[serde(deserialize_with = "gpio_line")]
    pub reset_line: i32,
    /// Backlight line (-1: not wired).
    #[serde(deserialize_with = "gpio_line")]
    pub backlight_line: i32,
    /// Panel rotation in degrees.
    #[serde(deserialize_with = "rotation")]
    pub rotation: u32,
    /// BGR subpixel order.
    pub bgr: bool,
    /// Inverted colours.
    pub invert: bool,
    /// Screen width in pixels (headless: the PNG size).
    #[serde(deserialize_with = "screen_side")]
    pub width: u32,
    /// Screen height in pixels.
    #[serde(deserialize_with = "screen_side")]
    pub height: u32,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        Self {
            backend: DisplayBackend::Headless,
            device: PathBuf::from("/dev/fb0"),
            console: PathBuf::new(),
            panel: PanelKind::St7789,
            spi_device: PathBuf::from("/dev/spidev0.0"),
            spi_hz: 32_000_000,
            gpio_chip: PathBuf::from("/dev/gpiochip0"),
            dc_line: 25,
            reset_line: 27,
            backlight_line: 24,
            rotation: 0,
            bgr: false,
            invert: true,
            width: 480,
            height: 320,
        }
    }
}

/// `display.panel`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PanelKind {
    /// Sitronix ST7789 (240x240, 240x320).
    St7789,
    /// Ilitek ILI9341 (240x320).
    Ili9341,
}

/// `display.backend`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisplayBackend {
    /// No screen: every shown frame is written as a PNG file.
    Headless,
    /// A Linux framebuffer such as /dev/fb0.
    Framebuffer,
    /// An SPI panel (ST7789, ILI9341).
    Spi,
}

/// `[export]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Folder the animations are written to (created when missing).
    pub dir: PathBuf,
    /// Megabytes of comics kept; the oldest comics (all their files) are deleted past it
    /// (0: no limit).
    #[serde(deserialize_with = "quota_mb")]
    pub quota_mb: u32,
    /// The files written for each comic.
    #[serde(deserialize_with = "formats")]
    pub formats: Vec<Format>,
    /// Days a comic is kept before the pruning deletes it (0: until the quota needs room).
    #[serde(deserialize_with = "keep_days")]
    pub keep_days: u32,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("comicbooth-out"),
            quota_mb: 2048,
            formats: vec![Format::Gif, Format::Webp],
            keep_days: 0,
        }
    }
}

/// `export.formats`: an animation file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Animated GIF: plays everywhere; one colour table for the loop.
    Gif,
    /// Animated WebP: smaller, full colour; plays in every current browser and phone.
    Webp,
    /// H.264 video in MP4, the loop repeated to 3 s or more; only in builds with the cargo
    /// feature `mp4` ([`Format::MP4_BUILT`]).
    Mp4,
}

impl Format {
    /// Whether this build writes MP4 (cargo feature `mp4`).
    pub const MP4_BUILT: bool = cfg!(feature = "mp4");

    /// The formats this build can write.
    pub const IN_THIS_BUILD: &[Format] = if Self::MP4_BUILT {
        &[Format::Gif, Format::Webp, Format::Mp4]
    } else {
        &[Format::Gif, Format::Webp]
    };

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::Mp4 => "mp4",
        }
    }
}

/// At least one format, each at most once, each one this build has.
fn formats<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Format>, D::Error> {
    let v = Vec::<Format>::deserialize(d)?;
    if v.is_empty() {
        let names: Vec<String> =
            Format::IN_THIS_BUILD.iter().map(|f| format!("\"{}\"", f.extension())).collect();
        return Err(serde::de::Error::custom(format!(
            "no format: name at least one of {}",
            names.join(", ")
        )));
    }
    if v.iter().enumerate().any(|(i, f)| v[..i].contains(f)) {
        return Err(serde::de::Error::custom("a format is named twice"));
    }
    if v.contains(&Format::Mp4) && !Format::MP4_BUILT {
        // `Config::parse` takes the text after "; fix: " as the error's fix.
        return Err(serde::de::Error::custom(
            "\"mp4\" is not in this build: H.264 encoding is the cargo feature `mp4` (it builds \
             OpenH264's C++ source and carries a patent question, so it is off by default); fix: \
             rebuild with `--features mp4` (or `booth,mp4`), or remove \"mp4\" from export.formats",
        ));
    }
    Ok(v)
}

/// `[booth]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoothConfig {
    /// Countdown seconds before the capture.
    #[serde(deserialize_with = "countdown_s")]
    pub countdown_s: u32,
    /// Frames a live camera captures per session (1: one still, moved by `animate.effects`);
    /// a photo source always gives one still.
    #[serde(deserialize_with = "burst")]
    pub burst: u32,
    /// Milliseconds between burst frames.
    #[serde(deserialize_with = "burst_gap_ms")]
    pub burst_gap_ms: u32,
    /// Seconds the result loops before the booth returns to attract.
    #[serde(deserialize_with = "show_s")]
    pub show_s: u32,
    /// Seconds generation may take before the session is abandoned.
    #[serde(deserialize_with = "generate_timeout_s")]
    pub generate_timeout_s: u32,
    /// Comic-style live preview while people pose.
    pub stylized_preview: StylizedPreview,
}

impl Default for BoothConfig {
    fn default() -> Self {
        Self {
            countdown_s: 3,
            burst: 8,
            burst_gap_ms: 150,
            show_s: 15,
            generate_timeout_s: 60,
            stylized_preview: StylizedPreview::Auto,
        }
    }
}

/// `booth.stylized_preview`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StylizedPreview {
    /// Stylized when one generator run takes under 150 ms on this board, else plain.
    Auto,
    /// Always stylized.
    On,
    /// Always the plain camera picture.
    Off,
}

/// `[trigger]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriggerConfig {
    /// Start a session every this many seconds with no one pressing anything; 0 = off.
    #[serde(deserialize_with = "timer_s")]
    pub timer_s: u32,
    /// evdev keyboard node whose space or enter starts a session; "" = none.
    pub keyboard: PathBuf,
    /// Whether SIGUSR1 starts a session.
    pub signal: bool,
    /// GPIO chip of the push button.
    pub gpio_chip: PathBuf,
    /// GPIO line of the push button (-1: none).
    #[serde(deserialize_with = "gpio_line")]
    pub gpio_line: i32,
    /// The button pulls the line low when pressed (the usual wiring, with a pull-up).
    pub gpio_active_low: bool,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        Self {
            timer_s: 0,
            keyboard: PathBuf::new(),
            signal: true,
            gpio_chip: PathBuf::from("/dev/gpiochip0"),
            gpio_line: -1,
            gpio_active_low: true,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Lowest level that is logged; `RUST_LOG` overrides it.
    pub level: LogLevel,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: LogLevel::Info }
    }
}

/// `log.level`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The level as a `tracing` filter directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Declares a deserializer for an integer key that must lie in `MIN..=MAX`; the error names the
/// range so the user sees what is allowed.
macro_rules! bounded_u32 {
    ($name:ident, $min:expr, $max:expr) => {
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
            let v = i64::deserialize(d)?;
            if ($min..=$max).contains(&v) {
                Ok(v as u32)
            } else {
                Err(serde::de::Error::custom(format!(
                    "{v} is out of range: allowed are whole numbers from {} to {}",
                    $min, $max
                )))
            }
        }
    };
}

bounded_u32!(capture_side, 16, 8192);
bounded_u32!(fps, 1, 240);
bounded_u32!(buffers, 2, 32);
bounded_u32!(model_size, 32, 2048);
bounded_u32!(threads, 0, 256);
bounded_u32!(look_size, 64, 4096);
bounded_u32!(colours, 0, 255);
bounded_u32!(time_points, 2, 32);
bounded_u32!(frame_ms, 20, 5000);
bounded_u32!(jitter_px, 0, 8);
bounded_u32!(screen_side, 16, 8192);
bounded_u32!(countdown_s, 0, 10);
bounded_u32!(quota_mb, 0, 1_000_000);
bounded_u32!(keep_days, 0, 3650);
bounded_u32!(burst, 1, 16);
bounded_u32!(burst_gap_ms, 0, 2000);
bounded_u32!(show_s, 3, 600);
bounded_u32!(generate_timeout_s, 5, 600);

fn gpio_line<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let v = i64::deserialize(d)?;
    if (-1..=1023).contains(&v) {
        Ok(v as i32)
    } else {
        Err(serde::de::Error::custom(format!(
            "{v} is out of range: allowed are -1 (not wired) or a line from 0 to 1023"
        )))
    }
}

/// A line that must be wired: -1 ("not wired") is refused, not taken for line 0.
fn wired_gpio_line<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = i64::deserialize(d)?;
    if (0..=1023).contains(&v) {
        Ok(v as u32)
    } else {
        Err(serde::de::Error::custom(format!(
            "{v} is out of range: this line must be wired, allowed are lines 0 to 1023 (the panel's DC pin, BCM numbering on a Pi)"
        )))
    }
}

fn spi_hz<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = i64::deserialize(d)?;
    if (100_000..=125_000_000).contains(&v) {
        Ok(v as u32)
    } else {
        Err(serde::de::Error::custom(format!("{v} is out of range: allowed are 100000 to 125000000 Hz")))
    }
}

fn rotation<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = i64::deserialize(d)?;
    if [0, 90, 180, 270].contains(&v) {
        Ok(v as u32)
    } else {
        Err(serde::de::Error::custom(format!("{v} is not allowed: use 0, 90, 180 or 270")))
    }
}

fn timer_s<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = i64::deserialize(d)?;
    if v == 0 || (10..=86_400).contains(&v) {
        Ok(v as u32)
    } else {
        Err(serde::de::Error::custom(format!("{v} is out of range: allowed are 0 (off) or 10 to 86400")))
    }
}

/// A number from `lo` to `hi` (inclusive), or an error naming the allowed range.
fn bounded_f32<'de, D: Deserializer<'de>>(d: D, lo: f64, hi: f64) -> Result<f32, D::Error> {
    let v = f64::deserialize(d)?;
    if (lo..=hi).contains(&v) {
        Ok(v as f32)
    } else {
        Err(serde::de::Error::custom(format!(
            "{v} is out of range: allowed are numbers from {lo:.1} to {hi:.1}"
        )))
    }
}

/// `share.base_url`: empty, or an http(s) address without spaces.
fn base_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let url = String::deserialize(d)?;
    let ok = url.is_empty()
        || ((url.starts_with("http://") || url.starts_with("https://"))
            && !url.contains(char::is_whitespace));
    if ok {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(serde::de::Error::custom(format!(
            "`{url}` is not an address a phone can open; write it as http://192.168.4.1:8080 (the board's address on the venue's network or its hotspot, and share.listen's port)"
        )))
    }
}

/// `share.listen`: an IP address and port.
fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    match text.parse::<std::net::SocketAddr>() {
        Ok(_) => Ok(text),
        Err(_) => Err(serde::de::Error::custom(format!(
            "`{text}` is not an address and port; write it as 0.0.0.0:8080 (every network) or 192.168.4.1:8080"
        ))),
    }
}

/// `share.gallery_pin`: empty, or 4 to 12 digits.
fn gallery_pin<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let pin = String::deserialize(d)?;
    if pin.is_empty() || ((4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())) {
        Ok(pin)
    } else {
        Err(serde::de::Error::custom("the gallery PIN must be 4 to 12 digits (or \"\" for no gallery)"))
    }
}

/// `animate.caption`: up to 60 characters (three lines at most are lettered on a comic).
fn caption<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.chars().count() <= 60 {
        Ok(text)
    } else {
        Err(serde::de::Error::custom(format!(
            "the caption is {} characters long; at most 60 fit on a comic: shorten it",
            text.chars().count()
        )))
    }
}

fn gate_threshold<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    bounded_f32(d, 0.5, 1.0)
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "config file {path}: cannot read it ({cause}); fix: check the path given to --config and its permissions"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a bad value.
    #[error("config file {path}{location}: {message}; fix: {fix}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// ", line N, key `a.b`" where known.
        location: Location,
        /// What is wrong, with the allowed values where there is a list.
        message: String,
        /// What to do.
        fix: String,
    },
}

/// Where in a config file a problem is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: Option<usize>,
    /// The dotted key on that line, such as `animate.time_points`.
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", key `{key}`")?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|cause| ConfigError::Read { path: path.to_owned(), cause })?;
        Config::parse(&text, path)
    }

    /// Parses configuration text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let location = e.span().map(|span| locate(text, span.start)).unwrap_or_default();
            let message = e.message().trim().replace('\n', " ");
            // A check that knows the fix writes it after "; fix: ".
            if let Some((message, fix)) = message.split_once("; fix: ") {
                let (message, fix) = (message.to_owned(), fix.to_owned());
                return ConfigError::Invalid { path: path.to_owned(), location, message, fix };
            }
            let fix = if message.starts_with("unknown field") {
                "remove or correct the key; `comicbooth config --default` lists every key"
            } else {
                "correct the value; `comicbooth config --default` shows each key's default and allowed values"
            };
            ConfigError::Invalid { path: path.to_owned(), location, message, fix: fix.into() }
        })
    }
}

/// Finds the line of byte `offset` and the dotted key written on it.
fn locate(text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let section = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let this_line = text.lines().nth(line - 1).unwrap_or("");
    let key = this_line
        .split_once('=')
        .map(|(k, _)| k.trim().to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .map(|k| match &section {
            Some(s) => format!("{s}.{k}"),
            None => k,
        });
    Location { line: Some(line), key }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("booth.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn default_text_matches_default_struct() {
        assert_eq!(parse(DEFAULT_TOML).unwrap(), Config::default());
    }

    #[test]
    fn every_default_key_has_a_comment() {
        let mut previous = "";
        for line in DEFAULT_TOML.lines() {
            if line.contains('=') && !line.trim_start().starts_with('#') {
                assert!(previous.trim_start().starts_with('#'), "key without a comment: {line}");
            }
            previous = line;
        }
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_names_line_key_and_allowed_keys() {
        let err = parse("[animate]\ntime_points = 3\nspeed = 2\n").unwrap_err();
        assert!(err.contains("booth.toml, line 3, key `animate.speed`"), "{err}");
        assert!(err.contains("unknown field `speed`"), "{err}");
        assert!(err.contains("`time_points`"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn out_of_range_value_names_line_key_and_range() {
        let err = parse("[model]\nsize = 256\n\n[animate]\ntime_points = 1\n").unwrap_err();
        assert!(err.contains("line 5, key `animate.time_points`"), "{err}");
        assert!(err.contains("from 2 to 32"), "{err}");
    }

    #[test]
    fn an_unwired_dc_line_is_refused_not_taken_for_line_0() {
        let err = parse("[display]\nbackend = \"spi\"\ndc_line = -1\n").unwrap_err();
        assert!(err.contains("line 3, key `display.dc_line`"), "{err}");
        assert!(err.contains("must be wired") && err.contains("0 to 1023"), "{err}");
        assert_eq!(parse("[display]\ndc_line = 0\n").unwrap().display.dc_line, 0);
    }

    #[test]
    fn a_caption_is_read_and_a_long_one_refused() {
        let c = parse(
            "[animate]\ncaption = \"Ada's party\"\ncaption_style = \"bubble\"\neffects = [\"panels\"]\n",
        )
        .unwrap();
        assert_eq!(
            (c.animate.caption.as_str(), c.animate.caption_style),
            ("Ada's party", CaptionStyle::Bubble)
        );
        assert_eq!(c.animate.effects, vec![Effect::Panels]);
        let err = parse(&format!("[animate]\ncaption = \"{}\"\n", "x".repeat(61))).unwrap_err();
        assert!(
            err.contains("key `animate.caption`") && err.contains("61 characters") && err.contains("shorten"),
            "{err}"
        );
    }

    #[test]
    fn bad_enum_value_lists_allowed_values() {
        let err = parse("[camera]\nsource = \"webcam\"\n").unwrap_err();
        assert!(err.contains("line 2, key `camera.source`"), "{err}");
        assert!(err.contains("`demo`") && err.contains("`v4l2`"), "{err}");
    }

    #[test]
    fn precision_names_a_form_of_the_built_in_generator() {
        assert_eq!(Config::default().model.precision, Precision::Auto);
        let int8 = Config::parse("[model]\nprecision = \"int8\"\n", Path::new("p.toml")).unwrap();
        assert_eq!(int8.model.precision, Precision::Int8);
        let err = parse("[model]\nprecision = \"fp16\"\n").unwrap_err();
        assert!(err.contains("key `model.precision`"), "{err}");
        assert!(err.contains("`auto`") && err.contains("`f32`") && err.contains("`int8`"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = parse("[animate]\njitter_px = \"lots\"\n").unwrap_err();
        assert!(err.contains("key `animate.jitter_px`"), "{err}");
    }

    #[test]
    fn mp4_is_a_format_only_in_builds_with_it() {
        let text = "[export]\nformats = [\"gif\", \"mp4\"]\n";
        if Format::MP4_BUILT {
            assert_eq!(parse(text).unwrap().export.formats, [Format::Gif, Format::Mp4]);
        } else {
            let err = parse(text).unwrap_err();
            assert!(err.contains("line 2, key `export.formats`"), "{err}");
            assert!(err.contains("not in this build") && err.contains("cargo feature `mp4`"), "{err}");
            assert!(err.contains("fix: rebuild with `--features mp4`"), "{err}");
            assert!(err.contains("remove \"mp4\" from export.formats"), "{err}");
            assert_eq!(err.matches("fix:").count(), 1, "{err}");
        }
        let err = parse("[export]\nformats = []\n").unwrap_err();
        assert!(err.contains("\"webp\"") && err.contains("\"mp4\"") == Format::MP4_BUILT, "{err}");
    }

    #[test]
    fn values_are_read() {
        let c = parse("[animate]\ntime_points = 6\nloop_mode = \"cycle\"\neffects = [\"zoom\"]\n").unwrap();
        assert_eq!(c.animate.time_points, 6);
        assert_eq!(c.animate.loop_mode, LoopMode::Cycle);
        assert_eq!(c.animate.effects, vec![Effect::Zoom]);
        assert_eq!(c.model, ModelConfig::default());
    }
}
