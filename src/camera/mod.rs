//! Where frames come from. Every source implements [`FrameSource`] and hands out [`Frame`]s in
//! the project's own types, so the rest of the booth never sees a vendor crate.

mod file;

use std::path::PathBuf;
use std::time::Duration;

pub use file::{FileSource, decode_photo};

/// How the bytes of a [`Frame`] are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// 8-bit R, G, B per pixel.
    Rgb24,
    /// 8-bit luma per pixel.
    Grey,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb24 => 3,
            PixelFormat::Grey => 1,
        }
    }
}

/// One picture from a source.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Pixel layout of `data`.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from the start of one row to the next.
    pub stride: usize,
    /// The pixels.
    pub data: Vec<u8>,
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
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame, CameraError>;
    /// A line for logs and `comicbooth devices`: what this source is.
    fn describe(&self) -> String;
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
    /// A photo is empty.
    #[error("{path}: the file is empty (0 bytes); fix: replace it with a JPEG or PNG photo")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A photo could not be decoded.
    #[error("{path}: not a readable photo ({reason}); fix: save it again as JPEG or PNG, or remove it")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The configured source is not built yet.
    #[error(
        "camera source `{0}` is not available yet: V4L2 capture lands with issue #4; fix: set camera.source = \"demo\" or \"files\""
    )]
    Unsupported(&'static str),
}
