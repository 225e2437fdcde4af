//! What V4L2 cameras offer and which of it comicbooth takes: discovery of capture devices (with
//! their stable /dev/v4l names, formats, sizes and frame rates) and the choice of a format and
//! size for a [`Request`].

use std::path::{Path, PathBuf};

use v4l::Device;
use v4l::capability::Flags as CapFlags;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture;

use crate::camera::PixelFormat;

/// A capture device as discovery found it.
#[derive(Debug, Clone)]
pub struct CameraInfo {
    /// Device node, such as /dev/video0.
    pub path: PathBuf,
    /// Stable names under /dev/v4l/by-id and by-path that point at it.
    pub aliases: Vec<PathBuf>,
    /// Driver (uvcvideo, vivid, unicam, ...).
    pub driver: String,
    /// Card name the driver reports.
    pub card: String,
    /// Bus (usb-..., platform:...).
    pub bus: String,
    /// Formats it offers.
    pub formats: Vec<FormatInfo>,
}

/// One format a camera offers.
#[derive(Debug, Clone)]
pub struct FormatInfo {
    /// The four-character code.
    pub fourcc: [u8; 4],
    /// The driver's description.
    pub description: String,
    /// The matching comicbooth format, if it converts this one.
    pub format: Option<PixelFormat>,
    /// Frame sizes with their frame rates.
    pub sizes: Vec<SizeInfo>,
}

/// A frame size and the rates offered at it.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeInfo {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Frames per second offered (discrete values, or the ends of a range).
    pub fps: Vec<f32>,
}

/// Lists the V4L2 capture devices under `dev_dir` (normally /dev), sorted by path. Devices that
/// cannot be opened or only do metadata/output are left out; a message says why at debug level.
pub fn discover(dev_dir: &Path) -> Vec<CameraInfo> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir(dev_dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("video")))
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_by_key(|p| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        n.trim_start_matches("video").parse::<u32>().unwrap_or(u32::MAX)
    });
    let aliases = stable_names(dev_dir);
    nodes
        .into_iter()
        .filter_map(|path| match describe_device(&path) {
            Ok(Some(mut info)) => {
                info.aliases = aliases.iter().filter(|(_, t)| *t == path).map(|(a, _)| a.clone()).collect();
                Some(info)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(device = %path.display(), "skipped: {e}");
                None
            }
        })
        .collect()
}

/// (alias, resolved target) for every link under <dev>/v4l/by-id and by-path.
fn stable_names(dev_dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for sub in ["v4l/by-id", "v4l/by-path"] {
        if let Ok(rd) = std::fs::read_dir(dev_dir.join(sub)) {
            for e in rd.flatten() {
                if let Ok(target) = std::fs::canonicalize(e.path()) {
                    out.push((e.path(), target));
                }
            }
        }
    }
    out.sort();
    out
}

fn describe_device(path: &Path) -> std::io::Result<Option<CameraInfo>> {
    let dev = Device::with_path(path)?;
    let caps = dev.query_caps()?;
    if !caps.capabilities.contains(CapFlags::VIDEO_CAPTURE)
        || !caps.capabilities.contains(CapFlags::STREAMING)
    {
        return Ok(None);
    }
    Ok(Some(CameraInfo {
        path: path.to_owned(),
        aliases: Vec::new(),
        driver: caps.driver,
        card: caps.card,
        bus: caps.bus,
        formats: list_formats(&dev)?,
    }))
}

pub(super) fn fps_of(f: &v4l::Fraction) -> f32 {
    if f.numerator == 0 { 0.0 } else { f.denominator as f32 / f.numerator as f32 }
}

pub(super) fn list_formats(dev: &Device) -> std::io::Result<Vec<FormatInfo>> {
    let mut out = Vec::new();
    for desc in dev.enum_formats()? {
        let mut sizes = Vec::new();
        for fs in dev.enum_framesizes(desc.fourcc).unwrap_or_default() {
            let discrete: Vec<(u32, u32)> = match fs.size {
                FrameSizeEnum::Discrete(d) => vec![(d.width, d.height)],
                // A range: offer its ends and the common sizes inside it.
                FrameSizeEnum::Stepwise(s) => [(320, 240), (640, 480), (1280, 720), (1920, 1080)]
                    .into_iter()
                    .chain([(s.min_width, s.min_height), (s.max_width, s.max_height)])
                    .filter(|&(w, h)| {
                        (s.min_width..=s.max_width).contains(&w) && (s.min_height..=s.max_height).contains(&h)
                    })
                    .collect(),
            };
            for (w, h) in discrete {
                let fps = dev
                    .enum_frameintervals(desc.fourcc, w, h)
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|fi| match fi.interval {
                        FrameIntervalEnum::Discrete(f) => vec![fps_of(&f)],
                        FrameIntervalEnum::Stepwise(s) => vec![fps_of(&s.max), fps_of(&s.min)],
                    })
                    .collect();
                sizes.push(SizeInfo { width: w, height: h, fps });
            }
        }
        out.push(FormatInfo {
            fourcc: desc.fourcc.repr,
            description: desc.description,
            format: PixelFormat::from_fourcc(desc.fourcc.repr),
            sizes,
        });
    }
    Ok(out)
}

/// What the config asks of a camera.
#[derive(Debug, Clone)]
pub struct Request {
    /// Device node or stable alias.
    pub device: PathBuf,
    /// Format; `None` picks automatically.
    pub format: Option<PixelFormat>,
    /// Wanted width.
    pub width: u32,
    /// Wanted height.
    pub height: u32,
    /// Wanted frames per second.
    pub fps: u32,
    /// mmap buffers to queue.
    pub buffers: u32,
}

/// A format and size chosen from what a camera offers, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Format.
    pub format: PixelFormat,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Why this one, for `devices` and the start-up log.
    pub why: String,
}

/// Picks the format (configured, else the first of [`PixelFormat::PREFERENCE`] the camera
/// offers) and the offered size nearest to the wanted one (by area, then aspect).
pub fn choose(formats: &[FormatInfo], want: &Request) -> Option<Choice> {
    let usable: Vec<(&FormatInfo, PixelFormat)> = formats
        .iter()
        .filter_map(|f| f.format.map(|p| (f, p)))
        .filter(|(f, _)| !f.sizes.is_empty())
        .collect();
    let (info, format, why_format) = match want.format {
        Some(p) => {
            let (f, p) = usable.iter().find(|(_, q)| *q == p)?;
            (*f, *p, format!("{p} as configured"))
        }
        None => {
            let (f, p) = PixelFormat::PREFERENCE.iter().find_map(|p| usable.iter().find(|(_, q)| q == p))?;
            (*f, *p, format!("{p}, the most preferred of the formats offered"))
        }
    };
    let target = want.width as f64 * want.height as f64;
    let size = info.sizes.iter().min_by(|a, b| {
        let score = |s: &SizeInfo| {
            let area = (s.width as f64 * s.height as f64 / target).ln().abs();
            let aspect =
                (s.width as f64 / s.height as f64 / (want.width as f64 / want.height as f64)).ln().abs();
            area + aspect
        };
        score(a).total_cmp(&score(b))
    })?;
    Some(Choice {
        format,
        width: size.width,
        height: size.height,
        why: format!(
            "{why_format}; {}x{} is the offered size nearest the requested {}x{}",
            size.width, size.height, want.width, want.height
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(fourcc: &[u8; 4], sizes: &[(u32, u32)]) -> FormatInfo {
        FormatInfo {
            fourcc: *fourcc,
            description: String::new(),
            format: PixelFormat::from_fourcc(*fourcc),
            sizes: sizes.iter().map(|&(width, height)| SizeInfo { width, height, fps: vec![30.0] }).collect(),
        }
    }

    fn want(format: Option<PixelFormat>, width: u32, height: u32) -> Request {
        Request { device: "/dev/video0".into(), format, width, height, fps: 30, buffers: 4 }
    }

    #[test]
    fn prefers_mjpeg_then_yuyv_and_the_nearest_size() {
        let cam = [
            offered(b"YUYV", &[(640, 480), (1280, 720)]),
            offered(b"MJPG", &[(640, 480), (1280, 720), (1920, 1080)]),
            offered(b"H264", &[(1920, 1080)]),
        ];
        let c = choose(&cam, &want(None, 1280, 700)).unwrap();
        assert_eq!((c.format, c.width, c.height), (PixelFormat::Mjpeg, 1280, 720));
        let c = choose(&cam[..1], &want(None, 600, 400)).unwrap();
        assert_eq!((c.format, c.width, c.height), (PixelFormat::Yuyv, 640, 480));
        assert!(c.why.contains("640x480"), "{}", c.why);
    }

    #[test]
    fn configured_format_wins_or_fails() {
        let cam = [offered(b"YUYV", &[(640, 480)]), offered(b"NV12", &[(640, 480)])];
        assert_eq!(choose(&cam, &want(Some(PixelFormat::Nv12), 640, 480)).unwrap().format, PixelFormat::Nv12);
        assert!(choose(&cam, &want(Some(PixelFormat::Rgb24), 640, 480)).is_none());
        assert!(choose(&[offered(b"H264", &[(640, 480)])], &want(None, 640, 480)).is_none());
    }

    #[test]
    fn discovery_of_an_empty_dev_dir_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("video0"), b"not a device").unwrap();
        assert!(discover(dir.path()).is_empty());
    }
}
