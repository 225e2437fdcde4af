//! SPI panels (ST7789 and ILI9341, the common Raspberry Pi hats) as a [`Screen`], behind the
//! `spi` feature: spidev for the bus, GPIO character-device lines for DC, reset and backlight
//! (linux-embedded-hal), and mipidsi for the panel's command set. Drawing goes to a back
//! buffer; [`Screen::present`] sends the rows that changed in one address window, so a frame
//! is one burst on the bus.

use std::path::PathBuf;

use embedded_graphics::pixelcolor::{Rgb565, Rgb888};
use embedded_graphics::prelude::*;
use embedded_hal::digital::OutputPin;
use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{CdevPin, Delay, SpidevDevice};
use mipidsi::interface::SpiInterface;
use mipidsi::models::{ILI9341Rgb565, ST7789};
use mipidsi::options::{ColorInversion, ColorOrder, Orientation, Rotation};

use super::{BackBuffer, Screen};

pub use crate::config::PanelKind as Panel;

/// How the panel is wired and set up.
#[derive(Debug, Clone)]
pub struct SpiPanelConfig {
    // (built from `[display]` by `SpiPanelConfig::from_config`)
    /// Controller.
    pub panel: Panel,
    /// spidev node, e.g. /dev/spidev0.0.
    pub spi: PathBuf,
    /// Bus clock in Hz.
    pub hz: u32,
    /// GPIO chip for the control lines.
    pub gpio_chip: PathBuf,
    /// Data/command line.
    pub dc: u32,
    /// Reset line, if wired.
    pub reset: Option<u32>,
    /// Backlight line, if wired (driven high).
    pub backlight: Option<u32>,
    /// Visible width and height in the panel's own orientation.
    pub size: (u16, u16),
    /// Rotation in degrees: 0, 90, 180 or 270.
    pub rotation: u16,
    /// BGR subpixel order (many ST7789 modules).
    pub bgr: bool,
    /// Inverted colours (most ST7789 modules need this).
    pub invert: bool,
}

/// Why the panel could not be used.
#[derive(Debug, thiserror::Error)]
#[error("SPI panel ({what}): {cause}; fix: {fix}")]
pub struct SpiPanelError {
    what: String,
    cause: String,
    fix: &'static str,
}

fn err(what: impl Into<String>, cause: impl std::fmt::Display, fix: &'static str) -> SpiPanelError {
    SpiPanelError { what: what.into(), cause: cause.to_string(), fix }
}

const WIRING_FIX: &str = "check display.spi_device and the GPIO lines in the config, that SPI is enabled (dtparam=spi=on) and that the user is in the `spi` and `gpio` groups";

/// The part of a mipidsi display the booth uses, whatever the controller type.
trait Driver {
    fn window(
        &mut self,
        x0: u16,
        y0: u16,
        x1: u16,
        y1: u16,
        px: &mut dyn Iterator<Item = Rgb565>,
    ) -> Result<(), String>;
}

impl<DI, M, RST> Driver for mipidsi::Display<DI, M, RST>
where
    DI: mipidsi::interface::Interface,
    DI::Error: std::fmt::Debug,
    M: mipidsi::models::Model<ColorFormat = Rgb565>,
    RST: OutputPin,
    Rgb565: mipidsi::interface::InterfacePixelFormat<DI::Word>,
{
    fn window(
        &mut self,
        x0: u16,
        y0: u16,
        x1: u16,
        y1: u16,
        px: &mut dyn Iterator<Item = Rgb565>,
    ) -> Result<(), String> {
        self.set_pixels(x0, y0, x1, y1, px).map_err(|e| format!("{e:?}"))
    }
}

/// An SPI panel with a back buffer.
pub struct SpiPanel {
    driver: Box<dyn Driver>,
    _backlight: Option<CdevPin>,
    width: u32,
    back: BackBuffer,
}

fn output(chip: &mut Chip, line: u32, name: &str, high: bool) -> Result<CdevPin, SpiPanelError> {
    let handle = chip
        .get_line(line)
        .and_then(|l| l.request(LineRequestFlags::OUTPUT, high as u8, "comicbooth-panel"))
        .map_err(|e| err(format!("{name} line {line}"), e, WIRING_FIX))?;
    CdevPin::new(handle).map_err(|e| err(format!("{name} line {line}"), e, WIRING_FIX))
}

impl SpiPanelConfig {
    /// From the `[display]` section.
    pub fn from_config(d: &crate::config::DisplayConfig) -> SpiPanelConfig {
        let line = |l: i32| u32::try_from(l).ok();
        SpiPanelConfig {
            panel: d.panel,
            spi: d.spi_device.clone(),
            hz: d.spi_hz,
            gpio_chip: d.gpio_chip.clone(),
            dc: d.dc_line.max(0) as u32,
            reset: line(d.reset_line),
            backlight: line(d.backlight_line),
            size: (d.width.min(u16::MAX as u32) as u16, d.height.min(u16::MAX as u32) as u16),
            rotation: d.rotation as u16,
            bgr: d.bgr,
            invert: d.invert,
        }
    }
}

impl SpiPanel {
    /// Opens the bus and lines, resets and initialises the controller.
    pub fn open(c: &SpiPanelConfig) -> Result<SpiPanel, SpiPanelError> {
        let mut spi =
            SpidevDevice::open(&c.spi).map_err(|e| err(c.spi.display().to_string(), e, WIRING_FIX))?;
        let options =
            SpidevOptions::new().bits_per_word(8).max_speed_hz(c.hz).mode(SpiModeFlags::SPI_MODE_0).build();
        spi.configure(&options).map_err(|e| err(c.spi.display().to_string(), e, WIRING_FIX))?;
        let mut chip =
            Chip::new(&c.gpio_chip).map_err(|e| err(c.gpio_chip.display().to_string(), e, WIRING_FIX))?;
        let dc = output(&mut chip, c.dc, "DC", false)?;
        let reset = c.reset.map(|l| output(&mut chip, l, "reset", true)).transpose()?;
        let backlight = c.backlight.map(|l| output(&mut chip, l, "backlight", true)).transpose()?;
        // mipidsi borrows a transfer buffer for as long as the display lives, which is as long
        // as the process: one small allocation, never freed.
        let buffer: &'static mut [u8] = Box::leak(vec![0u8; 4096].into_boxed_slice());
        let di = SpiInterface::new(spi, dc, buffer);
        let rotation = match c.rotation {
            90 => Rotation::Deg90,
            180 => Rotation::Deg180,
            270 => Rotation::Deg270,
            _ => Rotation::Deg0,
        };
        let orientation = Orientation::new().rotate(rotation);
        let order = if c.bgr { ColorOrder::Bgr } else { ColorOrder::Rgb };
        let invert = if c.invert { ColorInversion::Inverted } else { ColorInversion::Normal };
        let (w, h) = c.size;
        let init_err =
            |e: &dyn std::fmt::Debug| err(format!("{:?} init", c.panel), format!("{e:?}"), WIRING_FIX);
        macro_rules! build {
            ($model:expr) => {{
                let b = mipidsi::Builder::new($model, di)
                    .display_size(w, h)
                    .orientation(orientation)
                    .color_order(order)
                    .invert_colors(invert);
                let d: Box<dyn Driver> = match reset {
                    Some(rst) => Box::new(b.reset_pin(rst).init(&mut Delay).map_err(|e| init_err(&e))?),
                    None => Box::new(b.init(&mut Delay).map_err(|e| init_err(&e))?),
                };
                d
            }};
        }
        let driver = match c.panel {
            Panel::St7789 => build!(ST7789),
            Panel::Ili9341 => build!(ILI9341Rgb565),
        };
        let (width, height) =
            if matches!(rotation, Rotation::Deg90 | Rotation::Deg270) { (h, w) } else { (w, h) };
        tracing::info!(panel = ?c.panel, spi = %c.spi.display(), hz = c.hz, width, height, "SPI panel");
        Ok(SpiPanel {
            driver,
            _backlight: backlight,
            width: width as u32,
            back: BackBuffer::new(width as u32, height as u32),
        })
    }
}

impl OriginDimensions for SpiPanel {
    fn size(&self) -> Size {
        self.back.size()
    }
}

impl DrawTarget for SpiPanel {
    type Color = Rgb888;
    type Error = SpiPanelError;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), Self::Error> {
        self.back.draw(pixels);
        Ok(())
    }
}

impl Screen for SpiPanel {
    fn present(&mut self) -> Result<(), SpiPanelError> {
        let Some((first, last, rows)) = self.back.take_dirty() else { return Ok(()) };
        let mut px = rows.iter().map(|&c| Rgb565::from(c));
        self.driver
            .window(0, first as u16, self.width as u16 - 1, last as u16, &mut px)
            .map_err(|e| err("write", e, "check the wiring and lower display.spi_hz"))
    }
}
