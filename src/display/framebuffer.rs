//! The Linux framebuffer (/dev/fb0 and others) as a [`Screen`]: screen geometry and pixel
//! layout come from the FBIOGET_*SCREENINFO ioctls; drawing goes to a back buffer in memory and
//! [`Screen::present`] packs only the rows that changed into the mapped framebuffer, so an
//! animation frame lands in one short copy instead of pixel-by-pixel writes that tear.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;

use super::{BackBuffer, Screen};

/// Why the framebuffer could not be used. Every message names the device and a fix.
#[derive(Debug, thiserror::Error)]
pub enum FramebufferError {
    /// The device could not be opened.
    #[error("framebuffer {path}: cannot open it ({cause}); fix: {}", open_fix(cause))]
    Open {
        /// Device.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// An ioctl or mmap failed.
    #[error(
        "framebuffer {path}: {what} failed ({cause}); fix: check that it is a framebuffer device (`comicbooth devices`)"
    )]
    Io {
        /// Device.
        path: PathBuf,
        /// Which call.
        what: &'static str,
        /// Why.
        cause: std::io::Error,
    },
    /// A pixel layout comicbooth does not pack.
    #[error(
        "framebuffer {path}: {bpp} bits per pixel is not supported (16, 24 and 32 are); fix: set the mode with `fbset -depth 32` or the board's display overlay"
    )]
    Depth {
        /// Device.
        path: PathBuf,
        /// Bits per pixel.
        bpp: u32,
    },
}

fn open_fix(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => "add the user to the `video` group",
        Some(libc::ENOENT) => "enable the display (HDMI, a DRM/fbdev overlay) or set display.device",
        _ => "check the display with `comicbooth devices`",
    }
}

/// Where each colour channel sits in a pixel, from fb_var_screeninfo's bitfields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Bytes per pixel (2, 3 or 4).
    pub bytes: usize,
    /// (bit offset, bit length) of red, green and blue.
    pub red: (u32, u32),
    /// Green.
    pub green: (u32, u32),
    /// Blue.
    pub blue: (u32, u32),
}

impl Layout {
    /// RGB565, the usual 16-bit layout.
    pub const RGB565: Layout = Layout { bytes: 2, red: (11, 5), green: (5, 6), blue: (0, 5) };
    /// 24-bit with blue in the lowest byte (the usual fbdev order).
    pub const BGR888: Layout = Layout { bytes: 3, red: (16, 8), green: (8, 8), blue: (0, 8) };
    /// 32-bit XRGB8888 (little-endian bytes B, G, R, X).
    pub const XRGB8888: Layout = Layout { bytes: 4, red: (16, 8), green: (8, 8), blue: (0, 8) };

    /// Packs one colour into `out` (little-endian, `self.bytes` long).
    #[inline]
    pub fn pack(&self, c: Rgb888, out: &mut [u8]) {
        let chan = |v: u8, (off, len): (u32, u32)| ((v as u32) >> (8 - len.min(8))) << off;
        let word = chan(c.r(), self.red) | chan(c.g(), self.green) | chan(c.b(), self.blue);
        out[..self.bytes].copy_from_slice(&word.to_le_bytes()[..self.bytes]);
    }
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Bitfield {
    offset: u32,
    length: u32,
    msb_right: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct VarScreenInfo {
    xres: u32,
    yres: u32,
    xres_virtual: u32,
    yres_virtual: u32,
    xoffset: u32,
    yoffset: u32,
    bits_per_pixel: u32,
    grayscale: u32,
    red: Bitfield,
    green: Bitfield,
    blue: Bitfield,
    transp: Bitfield,
    rest: [u32; 20],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct FixScreenInfo {
    id: [u8; 16],
    smem_start: libc::c_ulong,
    smem_len: u32,
    kind: u32,
    type_aux: u32,
    visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

const KDSETMODE: libc::c_ulong = 0x4B3A;
const KD_TEXT: libc::c_int = 0;
const KD_GRAPHICS: libc::c_int = 1;

/// The virtual terminal in graphics mode while the booth draws, so the console's cursor and
/// kernel messages do not paint over the comic; back in text mode when dropped (on exit or a
/// reload), so a technician at the board gets a console again.
pub struct ConsoleMode {
    tty: File,
    path: PathBuf,
}

impl ConsoleMode {
    /// Switches `tty` (e.g. /dev/tty1) to graphics mode; `None`, with a warning, if that is
    /// not allowed (the service user needs the `tty` group, and the unit a DeviceAllow for it).
    pub fn graphics(tty: &Path) -> Option<ConsoleMode> {
        let file = match OpenOptions::new().read(true).write(true).open(tty) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(tty = %tty.display(), "console left in text mode: cannot open it ({e})");
                return None;
            }
        };
        // SAFETY: KDSETMODE takes an int by value.
        if unsafe { libc::ioctl(file.as_raw_fd(), KDSETMODE as _, KD_GRAPHICS) } < 0 {
            tracing::warn!(tty = %tty.display(), "console left in text mode: {}", std::io::Error::last_os_error());
            return None;
        }
        Some(ConsoleMode { tty: file, path: tty.to_owned() })
    }
}

impl Drop for ConsoleMode {
    fn drop(&mut self) {
        // SAFETY: as above.
        if unsafe { libc::ioctl(self.tty.as_raw_fd(), KDSETMODE as _, KD_TEXT) } < 0 {
            tracing::warn!(tty = %self.path.display(), "could not restore text mode");
        }
    }
}

const FBIOGET_VSCREENINFO: libc::c_ulong = 0x4600;
const FBIOGET_FSCREENINFO: libc::c_ulong = 0x4602;

/// A mapped Linux framebuffer with a back buffer.
pub struct Framebuffer {
    path: PathBuf,
    _file: File,
    map: *mut u8,
    map_len: usize,
    width: u32,
    line_length: usize,
    layout: Layout,
    back: BackBuffer,
    _console: Option<ConsoleMode>,
}

// SAFETY: the mapping is owned by this value alone and only touched through `&mut self`.
unsafe impl Send for Framebuffer {}

impl Framebuffer {
    /// Opens and maps a framebuffer device; with `console`, that virtual terminal is put in
    /// graphics mode until the framebuffer is dropped.
    pub fn open(path: &Path, console: Option<&Path>) -> Result<Framebuffer, FramebufferError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|cause| FramebufferError::Open { path: path.into(), cause })?;
        let io = |what, cause| FramebufferError::Io { path: path.into(), what, cause };
        let fd = file.as_raw_fd();
        let mut var = VarScreenInfo::default();
        // SAFETY: the kernel fills a struct of exactly this layout (linux/fb.h).
        if unsafe { libc::ioctl(fd, FBIOGET_VSCREENINFO as _, &mut var) } < 0 {
            return Err(io("FBIOGET_VSCREENINFO", std::io::Error::last_os_error()));
        }
        // SAFETY: as above; all-zero bytes are a valid FixScreenInfo.
        let mut fix: FixScreenInfo = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, FBIOGET_FSCREENINFO as _, &mut fix) } < 0 {
            return Err(io("FBIOGET_FSCREENINFO", std::io::Error::last_os_error()));
        }
        let bytes = match var.bits_per_pixel {
            16 => 2,
            24 => 3,
            32 => 4,
            bpp => return Err(FramebufferError::Depth { path: path.into(), bpp }),
        };
        let layout = Layout {
            bytes,
            red: (var.red.offset, var.red.length),
            green: (var.green.offset, var.green.length),
            blue: (var.blue.offset, var.blue.length),
        };
        let line_length = fix.line_length as usize;
        let map_len = (fix.smem_len as usize).max(line_length * var.yres as usize);
        // SAFETY: mapping a device file we opened read-write; checked for MAP_FAILED below and
        // unmapped in Drop.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io("mmap", std::io::Error::last_os_error()));
        }
        let id = String::from_utf8_lossy(&fix.id).trim_end_matches('\0').to_owned();
        tracing::info!(
            device = %path.display(), id, width = var.xres, height = var.yres, bpp = var.bits_per_pixel,
            line_length, ?layout, "framebuffer"
        );
        Ok(Framebuffer {
            path: path.into(),
            _file: file,
            map: map.cast(),
            map_len,
            width: var.xres,
            line_length,
            layout,
            back: BackBuffer::new(var.xres, var.yres),
            _console: console.and_then(ConsoleMode::graphics),
        })
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pixel layout the device reported.
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

impl Drop for Framebuffer {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `open` mapped.
        unsafe { libc::munmap(self.map.cast(), self.map_len) };
    }
}

impl OriginDimensions for Framebuffer {
    fn size(&self) -> Size {
        self.back.size()
    }
}

impl DrawTarget for Framebuffer {
    type Color = Rgb888;
    type Error = FramebufferError;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), Self::Error> {
        self.back.draw(pixels);
        Ok(())
    }
}

impl Framebuffer {
    /// "PATH WxH, N bpp" for `check` and logs.
    pub fn describe(&self) -> String {
        let size = self.back.size();
        format!("{} {}x{}, {} bpp", self.path.display(), size.width, size.height, self.layout.bytes * 8)
    }
}

impl Screen for Framebuffer {
    fn present(&mut self) -> Result<(), FramebufferError> {
        let (w, bytes) = (self.width as usize, self.layout.bytes);
        let Some((first, _, rows)) = self.back.take_dirty() else { return Ok(()) };
        let mut row = vec![0u8; w * bytes];
        for (i, src) in rows.chunks_exact(w).enumerate() {
            let y = first as usize + i;
            for (c, out) in src.iter().zip(row.chunks_exact_mut(bytes)) {
                self.layout.pack(*c, out);
            }
            let offset = y * self.line_length;
            if offset + row.len() <= self.map_len {
                // SAFETY: the destination range lies inside the mapping (checked above); one
                // copy per row keeps the visible update short.
                unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), self.map.add(offset), row.len()) };
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(layout: Layout, c: Rgb888) -> Vec<u8> {
        let mut out = vec![0; layout.bytes];
        layout.pack(c, &mut out);
        out
    }

    #[test]
    fn rgb565() {
        assert_eq!(packed(Layout::RGB565, Rgb888::RED), vec![0x00, 0xF8]);
        assert_eq!(packed(Layout::RGB565, Rgb888::GREEN), vec![0xE0, 0x07]);
        assert_eq!(packed(Layout::RGB565, Rgb888::BLUE), vec![0x1F, 0x00]);
        assert_eq!(packed(Layout::RGB565, Rgb888::WHITE), vec![0xFF, 0xFF]);
    }

    #[test]
    fn bgr888_and_xrgb8888() {
        assert_eq!(packed(Layout::BGR888, Rgb888::new(1, 2, 3)), vec![3, 2, 1]);
        assert_eq!(packed(Layout::XRGB8888, Rgb888::new(1, 2, 3)), vec![3, 2, 1, 0]);
    }

    #[test]
    fn rgb_order_32_bit() {
        // Some panels report red in the low byte (ABGR8888 / RGBX in memory).
        let rgbx = Layout { bytes: 4, red: (0, 8), green: (8, 8), blue: (16, 8) };
        assert_eq!(packed(rgbx, Rgb888::new(10, 20, 30)), vec![10, 20, 30, 0]);
    }

    #[test]
    fn missing_device_names_the_fix() {
        let err = Framebuffer::open(Path::new("/nonexistent/fb9"), None).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/fb9") && err.contains("fix:"), "{err}");
    }
}
