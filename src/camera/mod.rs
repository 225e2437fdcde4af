//! Where frames come from. Every source implements [`FrameSource`] and hands out [`Frame`]s in
//! the project's own types, so the rest of the booth never sees a vendor crate.

mod capture;
mod file;
#[cfg(feature = "v4l2")]
pub mod v4l2;

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

pub use capture::{FRAME_TIMEOUT, capture_with};
pub use file::FileSource;

/// How the bytes of a [`Frame`] are laid out. YUV formats are BT.601, limited range (16-235),
/// as UVC webcams, the Pi camera's V4L2 nodes and vivid deliver them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Motion-JPEG: every frame a complete JPEG (full-range YCbCr inside).
    Mjpeg,
    /// Packed 4:2:2, bytes Y0 U Y1 V.
    Yuyv,
    /// Packed 4:2:2, bytes U Y0 V Y1.
    Uyvy,
    /// Planar 4:2:0: a Y plane, then one plane of interleaved U V at half height.
    Nv12,
    /// As NV12 with V before U.
    Nv21,
    /// 8-bit R, G, B per pixel.
    Rgb24,
    /// 8-bit B, G, R per pixel.
    Bgr24,
    /// 8-bit luma per pixel.
    Grey,
}

impl PixelFormat {
    /// Every format comicbooth converts, in the order it prefers them from a camera: MJPEG
    /// costs the least USB bandwidth at large sizes, then the cheap-to-convert raw formats.
    pub const PREFERENCE: [PixelFormat; 8] = [
        PixelFormat::Mjpeg,
        PixelFormat::Yuyv,
        PixelFormat::Nv12,
        PixelFormat::Rgb24,
        PixelFormat::Grey,
        PixelFormat::Uyvy,
        PixelFormat::Nv21,
        PixelFormat::Bgr24,
    ];

    /// The V4L2 four-character code.
    pub fn fourcc(self) -> [u8; 4] {
        *match self {
            PixelFormat::Mjpeg => b"MJPG",
            PixelFormat::Yuyv => b"YUYV",
            PixelFormat::Uyvy => b"UYVY",
            PixelFormat::Nv12 => b"NV12",
            PixelFormat::Nv21 => b"NV21",
            PixelFormat::Rgb24 => b"RGB3",
            PixelFormat::Bgr24 => b"BGR3",
            PixelFormat::Grey => b"GREY",
        }
    }

    /// The format with this V4L2 four-character code, if comicbooth converts it. JPEG ("JPEG")
    /// is treated as MJPEG, as drivers use both codes for the same thing.
    pub fn from_fourcc(code: [u8; 4]) -> Option<PixelFormat> {
        if &code == b"JPEG" {
            return Some(PixelFormat::Mjpeg);
        }
        PixelFormat::PREFERENCE.into_iter().find(|f| f.fourcc() == code)
    }

    /// The smallest row stride of a `width`-pixel frame (for NV12/NV21: of the Y plane).
    pub fn min_stride(self, width: u32) -> usize {
        let w = width as usize;
        match self {
            PixelFormat::Mjpeg => 0,
            PixelFormat::Yuyv | PixelFormat::Uyvy => w.div_ceil(2) * 4,
            // The chroma row holds a U V pair for every two pixels, the last one too: an odd
            // width needs one byte more than its luma (fuzzing found the read past the row).
            PixelFormat::Nv12 | PixelFormat::Nv21 => w.div_ceil(2) * 2,
            PixelFormat::Grey => w,
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => w * 3,
        }
    }

    /// Bytes a frame of this format needs with this stride (0 for MJPEG: any length decodes or
    /// fails on its own).
    pub fn frame_len(self, height: u32, stride: usize) -> usize {
        let h = height as usize;
        match self {
            PixelFormat::Mjpeg => 0,
            PixelFormat::Nv12 | PixelFormat::Nv21 => stride * (h + h.div_ceil(2)),
            _ => stride * h,
        }
    }
}

impl std::fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::str::from_utf8(&self.fourcc()).unwrap_or("????"))
    }
}

/// One picture from a source. Its bytes are borrowed where the source can lend them (a V4L2
/// mmap buffer, cut to `bytesused`) and owned otherwise.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// Pixel layout of `data`.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from the start of one row to the next (for NV12/NV21: of both planes).
    pub stride: usize,
    /// The pixels.
    pub data: Cow<'a, [u8]>,
    /// Position in the source's stream, from 0.
    pub sequence: u64,
    /// Time since the source was opened.
    pub timestamp: Duration,
    /// A short name for what was captured (a file stem for photos), used in output names.
    pub label: String,
}

/// Something that produces frames: a camera, a folder of photos, a test pattern.
pub trait FrameSource {
    /// Waits at most `timeout` for the next frame.
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame<'_>, CameraError>;
    /// A line for logs and `comicbooth devices`: what this source is.
    fn describe(&self) -> String;
    /// Its counters so far (all zero for sources that do not count, such as photo folders).
    fn stats(&self) -> CaptureStats {
        CaptureStats::default()
    }
    /// Whether it is delivering frames now (false while a camera is lost).
    fn connected(&self) -> bool {
        true
    }
}

/// Counters of a capture session; they survive reconnects.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames handed out.
    pub frames: u64,
    /// Frames the driver flagged as bad (V4L2_BUF_FLAG_ERROR).
    pub dropped_error_flag: u64,
    /// Frames with fewer bytes than their format needs.
    pub dropped_short: u64,
    /// MJPEG frames without start or end markers.
    pub dropped_corrupt: u64,
    /// Waits that timed out.
    pub timeouts: u64,
    /// Times the camera was lost.
    pub lost: u64,
    /// Times it came back.
    pub reconnects: u64,
    /// Times the picture froze: [`FROZEN_AFTER`] identical frames in a row ([`FreezeWatch`]).
    pub frozen: u64,
    /// Whether it is frozen now (the frames still identical since it froze).
    pub frozen_now: bool,
}

/// Identical frames in a row after which a camera's picture counts as frozen: a few seconds
/// at any frame rate a booth uses. A real sensor's noise changes every frame; a camera whose
/// firmware hung keeps handing out the same buffer contents.
pub const FROZEN_AFTER: u32 = 60;

/// Notices a frozen picture: a fingerprint of each good frame (a hash of all its bytes),
/// counting identical frames in a row. Updates the counters of
/// [`CaptureStats`] (`frozen`, `frozen_now`) and says so in the log once per episode.
#[derive(Debug, Default, Clone)]
pub struct FreezeWatch {
    last: Option<u64>,
    same: u32,
}

impl FreezeWatch {
    /// Looks at one good frame's bytes.
    pub fn frame(&mut self, data: &[u8], stats: &mut CaptureStats, device: &std::path::Path) {
        let print = fingerprint(data);
        if self.last == Some(print) {
            self.same = self.same.saturating_add(1);
            if self.same + 1 == FROZEN_AFTER {
                stats.frozen += 1;
                stats.frozen_now = true;
                tracing::warn!(
                    device = %device.display(),
                    "camera picture frozen: {FROZEN_AFTER} identical frames in a row; fix: check the camera (a hung camera: replug it), the booth keeps using it"
                );
            }
        } else {
            if stats.frozen_now {
                tracing::info!(device = %device.display(), "camera picture moving again after {} identical frames", self.same + 1);
                stats.frozen_now = false;
            }
            self.same = 0;
            self.last = Some(print);
        }
    }
}

/// A hash of the whole frame (and its length): exact, as a frozen camera repeats its buffer
/// byte for byte while a static scene (a test pattern with a frame counter in a corner) still
/// changes a few bytes; sampling missed those (vivid's frame counter). Four independent lanes
/// of 8-byte words, so it runs at about memory speed.
fn fingerprint(data: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut lanes = [data.len() as u64, 1, 2, 3];
    let mut chunks = data.chunks_exact(32);
    for c in &mut chunks {
        for (lane, w) in lanes.iter_mut().zip(c.chunks_exact(8)) {
            let w = u64::from_le_bytes(w.try_into().unwrap_or_default());
            *lane = (*lane ^ w).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut h = lanes.iter().fold(0u64, |h, &l| (h ^ l).wrapping_mul(K).rotate_left(31));
    for &b in chunks.remainder() {
        h = (h ^ b as u64).wrapping_mul(K);
    }
    h
}

/// Why a source gave no frame.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// A photo file or folder could not be read.
    #[error("{path}: cannot read it ({cause}); fix: check that the path exists and is readable")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// A folder holds no photo comicbooth can use.
    #[error(
        "{path}: no .jpg, .jpeg or .png photos in it; fix: put photos there or point camera.path at another folder"
    )]
    NoPhotos {
        /// The folder.
        path: PathBuf,
    },
    /// A photo is empty, truncated, corrupt or not a photo at all.
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),
    /// A photo-only flow (the demo) was given a live camera.
    #[error(
        "the demo runs on photos, but camera.source is \"v4l2\"; fix: set camera.source = \"demo\" or \"files\" for the demo, or use `comicbooth run` with the camera"
    )]
    NotPhotos,
    /// This binary was built without the backend.
    #[error(
        "camera source `{0}` is not in this build; fix: rebuild with `cargo build --release --features v4l2`, or set camera.source = \"demo\" or \"files\""
    )]
    NotBuilt(&'static str),
    /// The device node could not be opened or queried.
    #[error("camera {device}: cannot open it ({cause}); fix: {}", open_fix(cause))]
    Open {
        /// Device node.
        device: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The node is not a streaming capture device (metadata node, output, codec).
    #[error(
        "{device} ({card}) is not a streaming camera; fix: set camera.device to a capture node (`comicbooth devices` lists them)"
    )]
    NotCapture {
        /// Device node.
        device: PathBuf,
        /// Card name.
        card: String,
    },
    /// The camera offers no format comicbooth converts.
    #[error(
        "camera {device} offers only {offered}, none of which comicbooth converts; fix: use a camera with MJPEG, YUYV, UYVY, NV12, NV21, RGB24, BGR24 or GREY, or unset camera.format"
    )]
    NoUsableFormat {
        /// Device node.
        device: PathBuf,
        /// Its formats.
        offered: String,
    },
    /// No frame arrived in time (the camera may still come back).
    #[error("camera {device}: no frame within {} ms", waited.as_millis())]
    Timeout {
        /// Device node.
        device: PathBuf,
        /// How long it waited.
        waited: Duration,
    },
    /// The camera vanished; the source keeps trying to reopen it.
    #[error("camera {device} lost ({reason}); retrying by itself; fix: check the cable or connector")]
    Lost {
        /// Device node.
        device: PathBuf,
        /// Why.
        reason: String,
    },
    /// A broken frame was dropped (and counted); ask for the next one.
    #[error("frame {sequence} dropped: {reason}")]
    Dropped {
        /// The driver's sequence number.
        sequence: u64,
        /// Why.
        reason: DropReason,
    },
}

impl CameraError {
    /// Whether asking again may give a frame soon (a dropped frame, a timeout, a lost camera
    /// being reopened), as opposed to a configuration problem.
    pub fn is_transient(&self) -> bool {
        matches!(self, CameraError::Dropped { .. } | CameraError::Timeout { .. } | CameraError::Lost { .. })
    }
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// The driver flagged it (V4L2_BUF_FLAG_ERROR).
    ErrorFlag,
    /// Fewer bytes than its format needs.
    Short {
        /// Bytes it had.
        got: usize,
        /// Bytes it needed.
        needed: usize,
    },
    /// An MJPEG frame without its start or end marker.
    CorruptJpeg,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropReason::ErrorFlag => f.write_str("the driver flagged it as bad"),
            DropReason::Short { got, needed } => write!(f, "{got} bytes, {needed} needed"),
            DropReason::CorruptJpeg => f.write_str("MJPEG frame without its start or end marker"),
        }
    }
}

/// What to do about a device that does not open, by errno.
fn open_fix(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "add the user to the `video` group (sudo usermod -aG video $USER, then log in again)"
        }
        Some(libc::ENOENT) => "plug the camera in, or set camera.device to a node `comicbooth devices` lists",
        Some(libc::EBUSY) => "another program is using the camera: stop it (fuser -v /dev/video*)",
        Some(libc::ENODEV) | Some(libc::ENXIO) => "the camera was unplugged: plug it in again",
        _ => "check the camera with `comicbooth devices`",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_picture_is_counted_once_per_episode_and_clears_when_it_moves() {
        let (mut watch, mut stats) = (FreezeWatch::default(), CaptureStats::default());
        let dev = std::path::Path::new("/dev/video0");
        let still = vec![7u8; 640 * 480 * 2];
        for _ in 0..FROZEN_AFTER - 1 {
            watch.frame(&still, &mut stats, dev);
        }
        assert_eq!((stats.frozen, stats.frozen_now), (0, false), "frozen one frame early");
        watch.frame(&still, &mut stats, dev);
        assert_eq!((stats.frozen, stats.frozen_now), (1, true));
        for _ in 0..200 {
            watch.frame(&still, &mut stats, dev);
        }
        assert_eq!(stats.frozen, 1, "one episode counted once");
        // One changed byte anywhere (a frame counter in a corner) is a new picture.
        let mut moved = still.clone();
        moved[12_345] = 8;
        watch.frame(&moved, &mut stats, dev);
        assert!(!stats.frozen_now);
        for _ in 0..FROZEN_AFTER {
            watch.frame(&moved, &mut stats, dev);
        }
        assert_eq!((stats.frozen, stats.frozen_now), (2, true));
        // Noise (every frame different) never freezes.
        let mut stats = CaptureStats::default();
        for i in 0..500usize {
            let mut counter = still.clone();
            counter[i * 7 % still.len()] ^= 1;
            watch.frame(&counter, &mut stats, dev);
        }
        assert_eq!(stats.frozen, 0);
    }
}
