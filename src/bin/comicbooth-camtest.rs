//! `comicbooth-camtest`: a camera soak test for installers and for the real-driver tests.
//!
//! Steps run in order, separated by `then`; the exit code is non-zero when any step fails:
//!
//! ```text
//! comicbooth-camtest capture --format yuyv --size 640x480 --bars \
//!     then stream --seconds 20 --action 4:write:/sys/bus/platform/drivers/vivid/unbind=vivid.0 \
//!                              --action 7:write:/sys/bus/platform/drivers/vivid/bind=vivid.0 --expect-reconnect
//! ```
//!
//! `capture` takes a few frames in one format and size and can check the colour bars of a test
//! pattern generator (vivid's default, or any SMPTE-like 75% bars). `control` sets controls on
//! a second handle (vivid's fault injection while another program streams). `stream` captures for a
//! while, doing timed actions (set a V4L2 control, write a sysfs file: unplug, replug, fault
//! injection) and prints the counters every second, then checks what it was told to expect.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use comicbooth::camera::capture_with;
use comicbooth::camera::v4l2::{Request, V4l2Source};
use comicbooth::camera::{CameraError, FrameSource, PixelFormat};
use comicbooth::config::CaptureFormat;
use comicbooth::convert;

#[derive(Parser)]
#[command(about = "Camera soak test: capture, unplug/replug and fault-injection checks")]
struct Step {
    /// The camera device node.
    #[arg(long, global = true, default_value = "/dev/video0")]
    device: PathBuf,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Capture a few frames in one format and size.
    Capture {
        /// Pixel format (auto, mjpeg, yuyv, uyvy, nv12, nv21, rgb24, bgr24, grey).
        #[arg(long, default_value = "auto")]
        format: String,
        /// Frame size asked for, WxH.
        #[arg(long, default_value = "640x480")]
        size: String,
        /// Good frames to take.
        #[arg(long, default_value_t = 3)]
        frames: u32,
        /// Check eight 75% colour bars (white, yellow, cyan, green, magenta, red, blue, black).
        #[arg(long)]
        bars: bool,
    },
    /// List the capture devices like `comicbooth devices` and check one is there.
    Devices {
        /// Fail unless the device offers this format (e.g. YUYV).
        #[arg(long)]
        expect_format: Option<String>,
    },
    /// Set V4L2 controls by name (on a handle of its own, while another program streams),
    /// e.g. vivid's fault injection under a running booth; `--list` prints them all first.
    Control {
        /// `NAME=VALUE` (buttons take any value); repeatable, set in order.
        #[arg(long)]
        set: Vec<String>,
        /// Print every control's name, type and value.
        #[arg(long)]
        list: bool,
    },
    /// Capture for a while, doing timed actions, printing counters each second.
    Stream {
        /// How long.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// `SECONDS:control:NAME=VALUE` (a V4L2 control by name; buttons take any value) or
        /// `SECONDS:write:PATH=TEXT` (write a file, e.g. a sysfs unbind).
        #[arg(long)]
        action: Vec<String>,
        /// Fail unless the camera was lost and came back.
        #[arg(long)]
        expect_reconnect: bool,
        /// Fail unless at least this many frames were dropped as driver-flagged errors.
        #[arg(long, default_value_t = 0)]
        expect_error_frames: u64,
        /// End as soon as every action has run and every expectation holds (a frame came after
        /// them); `--seconds` is then only the limit. Tests use it to wait for the event.
        #[arg(long)]
        until_expected: bool,
    },
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mut failed = false;
    for (i, part) in args[1..].split(|a| a == "then").enumerate() {
        let argv = std::iter::once(args[0].clone()).chain(part.iter().cloned());
        let step = match Step::try_parse_from(argv) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("step {i}: {e}");
                return std::process::ExitCode::from(2);
            }
        };
        let result = match step.what {
            What::Capture { format, size, frames, bars } => {
                capture(&step.device, &format, &size, frames, bars)
            }
            What::Devices { expect_format } => devices(&step.device, expect_format.as_deref()),
            What::Control { set, list } => controls(&step.device, &set, list),
            What::Stream { seconds, action, expect_reconnect, expect_error_frames, until_expected } => {
                let expect = Expect { reconnect: expect_reconnect, error_frames: expect_error_frames };
                stream(&step.device, seconds, &action, expect, until_expected)
            }
        };
        match result {
            Ok(summary) => println!("STEP {i} PASS {summary}"),
            Err(e) => {
                println!("STEP {i} FAIL {e}");
                failed = true;
            }
        }
    }
    if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}

fn devices(device: &std::path::Path, expect_format: Option<&str>) -> Result<String, String> {
    let dev_dir = device.parent().unwrap_or(std::path::Path::new("/dev"));
    let cameras = comicbooth::camera::v4l2::discover(dev_dir);
    let config = comicbooth::config::Config::default();
    let listed: Vec<_> = cameras
        .into_iter()
        .map(|info| {
            let request = request(&info.path, None, config.camera.width, config.camera.height);
            let choice = comicbooth::camera::v4l2::choose(&info.formats, &request);
            (info, choice)
        })
        .collect();
    print!("cameras:\n{}", comicbooth::camera::v4l2::listing::cameras(&listed));
    let (info, choice) = listed
        .iter()
        .find(|(i, _)| i.path == device)
        .ok_or_else(|| format!("{} not discovered", device.display()))?;
    if let Some(f) = expect_format
        && !info.formats.iter().any(|x| String::from_utf8_lossy(&x.fourcc).eq_ignore_ascii_case(f))
    {
        return Err(format!("{} does not list {f}", device.display()));
    }
    let choice = choice.as_ref().ok_or("no usable format chosen")?;
    Ok(format!(
        "devices: {} ({}) {} formats, would capture {} {}x{}",
        info.card,
        info.driver,
        info.formats.len(),
        choice.format,
        choice.width,
        choice.height
    ))
}

fn parse_format(name: &str) -> Result<Option<PixelFormat>, String> {
    let f: CaptureFormat = serde::Deserialize::deserialize(serde::de::value::StrDeserializer::<
        serde::de::value::Error,
    >::new(name))
    .map_err(|e| format!("--format {name}: {e}"))?;
    Ok(f.pixel_format())
}

fn request(device: &std::path::Path, format: Option<PixelFormat>, width: u32, height: u32) -> Request {
    Request { device: device.to_owned(), format, width, height, fps: 30, buffers: 4 }
}

/// vivid's and SMPTE's 75% bars, left to right.
const BARS: [(&str, [u8; 3]); 8] = [
    ("white", [191, 191, 191]),
    ("yellow", [191, 191, 0]),
    ("cyan", [0, 191, 191]),
    ("green", [0, 191, 0]),
    ("magenta", [191, 0, 191]),
    ("red", [191, 0, 0]),
    ("blue", [0, 0, 191]),
    ("black", [0, 0, 0]),
];
const BAR_TOLERANCE: i32 = 24;

fn check_bars(img: &image::RgbImage) -> Result<String, String> {
    let (w, h) = img.dimensions();
    let y = h * 3 / 4; // below any on-screen text
    let mut seen = Vec::new();
    for (i, (name, want)) in BARS.iter().enumerate() {
        let x = (w * (2 * i as u32 + 1)) / 16;
        let got = img.get_pixel(x, y).0;
        seen.push(format!("{name}={got:?}"));
        if got.iter().zip(want).any(|(&g, &e)| (g as i32 - e as i32).abs() > BAR_TOLERANCE) {
            return Err(format!(
                "bar {name} at ({x},{y}) is {got:?}, want {want:?} +-{BAR_TOLERANCE}; all: {seen:?}"
            ));
        }
    }
    Ok(seen.join(" "))
}

fn capture(
    device: &std::path::Path,
    format: &str,
    size: &str,
    frames: u32,
    bars: bool,
) -> Result<String, String> {
    let format = parse_format(format)?;
    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| format!("--size {size}: expected WxH"))?;
    let mut cam = V4l2Source::open(request(device, format, w, h)).map_err(|e| e.to_string())?;
    let granted = cam.granted().cloned().ok_or("camera lost right after opening")?;
    if format.is_some_and(|f| f != granted.format) || (granted.width, granted.height) != (w, h) {
        return Err(format!("asked {format:?} {w}x{h}, driver granted {granted:?}"));
    }
    let mut last = None;
    for _ in 0..frames {
        let rgb = capture_with(&mut cam, Duration::from_secs(10), convert::frame_to_rgb)
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        last = Some(rgb);
    }
    let img = last.ok_or("no frames asked for")?;
    let mut summary = format!(
        "capture {} {}x{} stride {} fps {:?} frames {}",
        granted.format,
        granted.width,
        granted.height,
        granted.stride,
        granted.fps,
        cam.stats().frames
    );
    if bars {
        summary += &format!(" bars ok: {}", check_bars(&img)?);
    }
    Ok(summary)
}

enum Action {
    Control(String, i64),
    Write(PathBuf, String),
}

fn parse_action(text: &str) -> Result<(Duration, Action), String> {
    let bad = || format!("--action {text}: expected SECONDS:control:NAME=VALUE or SECONDS:write:PATH=TEXT");
    let mut parts = text.splitn(3, ':');
    let (at, kind, rest) =
        (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
    let at = Duration::from_secs_f64(at.parse::<f64>().map_err(|_| bad())?);
    let (k, v) = rest.rsplit_once('=').ok_or_else(bad)?;
    match kind {
        "control" => Ok((at, Action::Control(k.to_owned(), v.parse().map_err(|_| bad())?))),
        "write" => Ok((at, Action::Write(k.into(), v.to_owned()))),
        _ => Err(bad()),
    }
}

/// Control names compared by their letters and digits only, ignoring case, so
/// `inject_vidioc_dqbuf_error` names "Inject VIDIOC_DQBUF Error" without quoting spaces.
fn same_name(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect::<String>()
    };
    key(a) == key(b)
}

/// Sets a control by name on a second handle; V4L2 allows that while the first handle streams.
fn set_control(device: &std::path::Path, name: &str, value: i64) -> Result<String, String> {
    use v4l::control::{Control, Type, Value};
    let dev = v4l::Device::with_path(device).map_err(|e| format!("open {}: {e}", device.display()))?;
    // The v4l crate panics on control types it does not know; vivid has some.
    let controls = std::panic::catch_unwind(|| dev.query_controls())
        .map_err(|_| "listing controls panicked (unknown control type)".to_owned())?
        .map_err(|e| format!("listing controls: {e}"))?;
    let found = controls.iter().find(|c| same_name(&c.name, name)).ok_or_else(|| {
        let names: Vec<&str> = controls.iter().map(|c| c.name.as_str()).collect();
        format!("no control named {name:?}; the device has {names:?}")
    })?;
    let v = match found.typ {
        Type::Button => Value::None,
        Type::Boolean => Value::Boolean(value != 0),
        _ => Value::Integer(value),
    };
    dev.set_control(Control { id: found.id, value: v }).map_err(|e| format!("set {name}: {e}"))?;
    Ok(format!("control {name:?} (id {:#x}) set", found.id))
}

/// The `control` step: lists the controls (with `list`), then sets each `NAME=VALUE` in order.
fn controls(device: &std::path::Path, set: &[String], list: bool) -> Result<String, String> {
    if list {
        let dev = v4l::Device::with_path(device).map_err(|e| format!("open {}: {e}", device.display()))?;
        let controls = std::panic::catch_unwind(|| dev.query_controls())
            .map_err(|_| "listing controls panicked (unknown control type)".to_owned())?
            .map_err(|e| format!("listing controls: {e}"))?;
        for c in controls {
            let value =
                dev.control(c.id).map(|v| format!("{:?}", v.value)).unwrap_or_else(|e| format!("({e})"));
            println!(
                "control {:?} id {:#x} {:?} range {}..={} value {value}",
                c.name, c.id, c.typ, c.minimum, c.maximum
            );
        }
    }
    let mut done = Vec::new();
    for item in set {
        let (name, value) = item
            .rsplit_once('=')
            .and_then(|(n, v)| Some((n, v.parse::<i64>().ok()?)))
            .ok_or_else(|| format!("--set {item}: expected NAME=VALUE with a whole number"))?;
        done.push(set_control(device, name, value)?);
    }
    Ok(done.join("; "))
}

/// What a `stream` step must see.
#[derive(Clone, Copy)]
struct Expect {
    /// The camera lost and back.
    reconnect: bool,
    /// At least this many driver-flagged frames dropped.
    error_frames: u64,
}

impl Expect {
    /// Whether `s` shows everything expected (and at least one frame); `None` if so, else why not.
    fn unmet(self, s: &comicbooth::camera::CaptureStats) -> Option<String> {
        if self.reconnect && s.reconnects == 0 {
            return Some("expected the camera to be lost and come back".into());
        }
        if s.dropped_error_flag < self.error_frames {
            return Some(format!("expected at least {} error-flagged frames", self.error_frames));
        }
        (s.frames == 0).then(|| "no frames at all".into())
    }
}

fn stream(
    device: &std::path::Path,
    seconds: u64,
    actions: &[String],
    expect: Expect,
    until_expected: bool,
) -> Result<String, String> {
    let mut plan = actions.iter().map(|a| parse_action(a)).collect::<Result<Vec<_>, _>>()?;
    plan.sort_by_key(|(at, _)| *at);
    let mut plan = plan.into_iter().peekable();
    let mut cam = V4l2Source::open(request(device, None, 640, 480)).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut next_report = Duration::from_secs(1);
    let (mut last_action_at, mut lost_since, mut recovery_ms) = (None, None::<Instant>, Vec::new());
    while start.elapsed() < Duration::from_secs(seconds) {
        while let Some((at, _)) = plan.peek() {
            if start.elapsed() < *at {
                break;
            }
            let (at, action) = plan.next().expect("peeked");
            let outcome = match action {
                Action::Control(name, value) => set_control(device, &name, value),
                Action::Write(path, text) => std::fs::write(&path, &text)
                    .map(|_| format!("wrote {text:?} to {}", path.display()))
                    .map_err(|e| format!("write {}: {e}", path.display())),
            };
            println!(
                "t={:.1}s action at {:.1}s: {}",
                start.elapsed().as_secs_f64(),
                at.as_secs_f64(),
                outcome.unwrap_or_else(|e| e)
            );
            last_action_at = Some(Instant::now());
        }
        match cam.next_frame(Duration::from_millis(500)) {
            Ok(frame) => {
                if let Some(since) = lost_since.take() {
                    let from_action = last_action_at.map(|a| a.elapsed().as_millis()).unwrap_or(0);
                    println!(
                        "t={:.1}s camera back: {} ms after it was lost, {from_action} ms after the last action",
                        start.elapsed().as_secs_f64(),
                        since.elapsed().as_millis()
                    );
                    recovery_ms.push(from_action);
                }
                let _ = frame.sequence;
                if until_expected && plan.peek().is_none() && expect.unmet(&cam.stats()).is_none() {
                    println!("t={:.1}s everything expected was seen", start.elapsed().as_secs_f64());
                    break;
                }
            }
            Err(CameraError::Lost { reason, .. }) => {
                if lost_since.is_none() {
                    println!("t={:.1}s camera lost: {reason}", start.elapsed().as_secs_f64());
                    lost_since = Some(Instant::now());
                }
            }
            Err(e) if e.is_transient() => {}
            Err(e) => return Err(e.to_string()),
        }
        if start.elapsed() >= next_report {
            println!("t={:.0}s {:?}", start.elapsed().as_secs_f64(), cam.stats());
            next_report += Duration::from_secs(1);
        }
    }
    let s = cam.stats();
    let summary = format!("stream {s:?} recovery_ms_after_action {recovery_ms:?}");
    match expect.unmet(&s) {
        Some(why) => Err(format!("{why}; {summary}")),
        None => Ok(summary),
    }
}
