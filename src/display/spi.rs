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
use mipidsi::interface::{Interface, InterfaceKind, SpiError, SpiInterface};
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

/// mipidsi's SPI interface with its transfer buffer owned instead of borrowed.
///
/// mipidsi's `SpiInterface` borrows its buffer for as long as the display lives, and the
/// display sits behind `Box<dyn Driver>`, so the borrow would have to be `'static`: the buffer
/// used to be `Box::leak`ed, 4 KiB lost on every open (every SIGHUP reload). Here the buffer is
/// a field next to the bus, and each call lends all three to a short-lived `SpiInterface`, so
/// the bytes on the wire are mipidsi's own, there is no `unsafe` and no shared buffer two
/// panels could alias, and the buffer goes with the panel.
struct OwnedSpi<SPI, DC> {
    spi: SPI,
    dc: DC,
    buffer: Box<[u8]>,
}

/// Bytes per SPI write of pixel data.
const TRANSFER_BUFFER: usize = 4096;

impl<SPI: embedded_hal::spi::SpiDevice, DC: OutputPin> OwnedSpi<SPI, DC> {
    fn new(spi: SPI, dc: DC) -> Self {
        OwnedSpi { spi, dc, buffer: vec![0u8; TRANSFER_BUFFER].into_boxed_slice() }
    }

    fn lend(&mut self) -> SpiInterface<'_, &mut SPI, &mut DC> {
        SpiInterface::new(&mut self.spi, &mut self.dc, &mut self.buffer)
    }
}

impl<SPI: embedded_hal::spi::SpiDevice, DC: OutputPin> Interface for OwnedSpi<SPI, DC> {
    type Word = u8;
    type Error = SpiError<SPI::Error, DC::Error>;

    const KIND: InterfaceKind = InterfaceKind::Serial4Line;

    fn send_command(&mut self, command: u8, args: &[u8]) -> Result<(), Self::Error> {
        self.lend().send_command(command, args)
    }

    fn send_pixels<const N: usize>(
        &mut self,
        pixels: impl IntoIterator<Item = [u8; N]>,
    ) -> Result<(), Self::Error> {
        self.lend().send_pixels(pixels)
    }

    fn send_repeated_pixel<const N: usize>(&mut self, pixel: [u8; N], count: u32) -> Result<(), Self::Error> {
        self.lend().send_repeated_pixel(pixel, count)
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
            dc: d.dc_line,
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
        let mut panel = SpiPanel::on_bus(c, spi, dc, reset, &mut Delay)?;
        panel._backlight = backlight;
        tracing::info!(panel = ?c.panel, spi = %c.spi.display(), hz = c.hz, width = panel.width, height = panel.back.size().height, "SPI panel");
        Ok(panel)
    }

    /// Resets (when `reset` is wired) and initialises the controller over any embedded-hal SPI
    /// device and data/command pin: [`SpiPanel::open`] passes spidev and GPIO lines, the tests
    /// a bus that records every byte.
    pub fn on_bus<SPI, DC, RST>(
        c: &SpiPanelConfig,
        spi: SPI,
        dc: DC,
        reset: Option<RST>,
        delay: &mut impl embedded_hal::delay::DelayNs,
    ) -> Result<SpiPanel, SpiPanelError>
    where
        SPI: embedded_hal::spi::SpiDevice + 'static,
        DC: OutputPin + 'static,
        RST: OutputPin + 'static,
    {
        let di = OwnedSpi::new(spi, dc);
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
                    Some(rst) => Box::new(b.reset_pin(rst).init(delay).map_err(|e| init_err(&e))?),
                    None => Box::new(b.init(delay).map_err(|e| init_err(&e))?),
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
        Ok(SpiPanel {
            driver,
            _backlight: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::convert::Infallible;
    use std::rc::Rc;

    /// An SPI bus and DC line that record every byte with the DC level it was sent at.
    #[derive(Clone, Default)]
    struct Recorder {
        bytes: Rc<RefCell<Vec<(bool, u8)>>>,
        dc: Rc<Cell<bool>>,
    }

    impl embedded_hal::spi::ErrorType for Recorder {
        type Error = Infallible;
    }

    impl embedded_hal::spi::SpiDevice for Recorder {
        fn transaction(
            &mut self,
            ops: &mut [embedded_hal::spi::Operation<'_, u8>],
        ) -> Result<(), Infallible> {
            for op in ops {
                if let embedded_hal::spi::Operation::Write(w) = op {
                    self.bytes.borrow_mut().extend(w.iter().map(|&b| (self.dc.get(), b)));
                }
            }
            Ok(())
        }
    }

    struct Dc(Rc<Cell<bool>>);

    impl embedded_hal::digital::ErrorType for Dc {
        type Error = Infallible;
    }

    impl OutputPin for Dc {
        fn set_low(&mut self) -> Result<(), Infallible> {
            self.0.set(false);
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            self.0.set(true);
            Ok(())
        }
    }

    struct NoDelay;

    impl embedded_hal::delay::DelayNs for NoDelay {
        fn delay_ns(&mut self, _ns: u32) {}
    }

    impl Recorder {
        /// The recorded stream as MIPI DCS commands: a byte sent with DC low, then its data.
        fn commands(&self) -> Vec<(u8, Vec<u8>)> {
            let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
            for &(dc, b) in self.bytes.borrow().iter() {
                match (dc, out.last_mut()) {
                    (false, _) => out.push((b, Vec::new())),
                    (true, Some(last)) => last.1.push(b),
                    (true, None) => panic!("data byte {b:#04x} before any command"),
                }
            }
            out
        }
    }

    fn config(panel: Panel, rotation: u16) -> SpiPanelConfig {
        SpiPanelConfig {
            panel,
            spi: "/dev/spidev0.0".into(),
            hz: 40_000_000,
            gpio_chip: "/dev/gpiochip0".into(),
            dc: 25,
            reset: None,
            backlight: None,
            size: (240, 320),
            rotation,
            bgr: false,
            invert: true,
        }
    }

    fn panel(c: &SpiPanelConfig) -> (SpiPanel, Recorder) {
        let bus = Recorder::default();
        let dc = Dc(Rc::clone(&bus.dc));
        let p = SpiPanel::on_bus::<_, _, Dc>(c, bus.clone(), dc, None, &mut NoDelay).unwrap();
        (p, bus)
    }

    const CASET: u8 = 0x2A;
    const RASET: u8 = 0x2B;
    const RAMWR: u8 = 0x2C;
    const MADCTL: u8 = 0x36;

    #[test]
    fn init_wakes_the_panel_in_16_bit_colour_and_turns_it_on() {
        for kind in [Panel::St7789, Panel::Ili9341] {
            let (_, bus) = panel(&config(kind, 0));
            let cmds = bus.commands();
            let names: Vec<u8> = cmds.iter().map(|c| c.0).collect();
            assert!(names.contains(&0x11), "{kind:?}: no SLPOUT in {names:02x?}");
            assert!(cmds.contains(&(0x3A, vec![0x55])), "{kind:?}: COLMOD not 16 bit: {cmds:02x?}");
            assert!(names.contains(&0x29), "{kind:?}: no DISPON in {names:02x?}");
            // display.invert = true: INVON for the ST7789 modules that need it.
            if kind == Panel::St7789 {
                assert!(names.contains(&0x21), "no INVON in {names:02x?}");
            }
        }
    }

    #[test]
    fn rotation_changes_madctl_and_swaps_the_screen_size() {
        let madctl = |r| {
            let (p, bus) = panel(&config(Panel::St7789, r));
            let m = bus.commands().into_iter().rev().find(|c| c.0 == MADCTL).expect("MADCTL sent").1;
            (p.size(), m)
        };
        let (upright, m0) = madctl(0);
        let (sideways, m90) = madctl(90);
        assert_eq!(upright, Size::new(240, 320));
        assert_eq!(sideways, Size::new(320, 240));
        assert_ne!(m0, m90);
    }

    #[test]
    fn a_closed_panel_keeps_nothing() {
        // Reloads (SIGHUP) open a new panel and drop the old one: the old one's bus, pins and
        // transfer buffer (owned next to the bus) must all go with it, every time.
        for _ in 0..50 {
            let (p, bus) = panel(&config(Panel::St7789, 0));
            assert!(Rc::strong_count(&bus.bytes) > 1, "the panel holds its bus");
            drop(p);
            assert_eq!(Rc::strong_count(&bus.bytes), 1, "the dropped panel still holds its bus");
            assert_eq!(Rc::strong_count(&bus.dc), 1, "the dropped panel still holds its DC pin");
        }
    }

    #[test]
    fn pixels_go_out_in_transfer_buffer_sized_writes() {
        let bus = Recorder::default();
        let writes = Rc::new(Cell::new(0));
        let mut di = OwnedSpi::new(Counting(bus.clone(), Rc::clone(&writes)), Dc(Rc::clone(&bus.dc)));
        // 5000 pixels of 2 bytes: 10000 bytes in writes of 4096, 4096 and 1808.
        di.send_pixels((0..5000u32).map(|i| [(i >> 8) as u8, i as u8])).unwrap();
        assert_eq!(writes.get(), 3);
        let sent: Vec<u8> = bus.bytes.borrow().iter().map(|&(_, b)| b).collect();
        let want: Vec<u8> = (0..5000u32).flat_map(|i| [(i >> 8) as u8, i as u8]).collect();
        assert_eq!(sent, want);
    }

    /// A bus that counts its write operations.
    struct Counting(Recorder, Rc<Cell<usize>>);

    impl embedded_hal::spi::ErrorType for Counting {
        type Error = Infallible;
    }

    impl embedded_hal::spi::SpiDevice for Counting {
        fn transaction(
            &mut self,
            ops: &mut [embedded_hal::spi::Operation<'_, u8>],
        ) -> Result<(), Infallible> {
            self.1.set(self.1.get() + ops.len());
            self.0.transaction(ops)
        }
    }

    #[test]
    fn present_sends_only_the_changed_rows_as_rgb565() {
        let (mut p, bus) = panel(&config(Panel::St7789, 0));
        p.present().unwrap(); // the first present sends the whole (black) screen
        let sent_before = bus.bytes.borrow().len();
        embedded_graphics::primitives::Rectangle::new(Point::new(0, 10), Size::new(240, 10))
            .into_styled(embedded_graphics::primitives::PrimitiveStyle::with_fill(Rgb888::RED))
            .draw(&mut p)
            .unwrap();
        p.present().unwrap();
        let after = Recorder {
            bytes: Rc::new(RefCell::new(bus.bytes.borrow()[sent_before..].to_vec())),
            dc: bus.dc.clone(),
        };
        let cmds = after.commands();
        assert_eq!(cmds[0], (CASET, vec![0, 0, 0, 239]), "{:02x?}", &cmds[..2]);
        assert_eq!(cmds[1], (RASET, vec![0, 10, 0, 19]));
        assert_eq!(cmds[2].0, RAMWR);
        let px = &cmds[2].1;
        assert_eq!(px.len(), 240 * 10 * 2);
        // Red in RGB565, big-endian on the wire: 0xF800.
        assert!(px.chunks_exact(2).all(|c| c == [0xF8, 0x00]), "{:02x?}", &px[..8]);
        // Nothing drawn since: nothing sent.
        let n = bus.bytes.borrow().len();
        p.present().unwrap();
        assert_eq!(bus.bytes.borrow().len(), n);
    }
}
