//! Feature `gpio`: a push button on a GPIO line (Linux GPIO character device).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Debouncer, EdgeDebouncer, Request, Trigger};

/// Why a GPIO button could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "GPIO button {chip} line {line}: {cause}; fix: check trigger.gpio_chip and trigger.gpio_line (`gpioinfo` lists lines), and that the user is in the `gpio` group"
)]
pub struct GpioError {
    /// The chip device.
    pub chip: PathBuf,
    /// The line offset.
    pub line: u32,
    /// Why.
    pub cause: String,
}

/// Fires when a push button on a GPIO line is pressed. The line is watched through the
/// kernel's edge events where the chip can interrupt (nearly all can): the kernel timestamps
/// and queues every edge, so a press is seen at the next poll however long the booth's last
/// tick took, and [`EdgeDebouncer`] turns the edges into presses. Otherwise the line's level
/// is sampled once per poll ([`Debouncer`]), which misses a press shorter than two polls.
/// Either way contact bounce and noise give no press, and holding the button gives one; held
/// for 3 s it also asks for diagnostics.
pub struct GpioTrigger {
    input: GpioInput,
    chip: PathBuf,
    line: u32,
}

enum GpioInput {
    Edges { events: linux_embedded_hal::gpio_cdev::LineEventHandle, debounce: EdgeDebouncer },
    Level { pin: linux_embedded_hal::CdevPin, debounce: Debouncer },
}

/// CLOCK_MONOTONIC in ns: the clock of the kernel's GPIO event timestamps (Linux 5.7 on).
fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime only writes the timespec it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl GpioTrigger {
    /// Requests `line` of `chip` as an input with edge events (level sampling where the chip
    /// cannot interrupt). `active_low` for the usual wiring: the button pulls the line to
    /// ground against a pull-up.
    pub fn open(chip: &Path, line: u32, active_low: bool) -> Result<GpioTrigger, GpioError> {
        use linux_embedded_hal::gpio_cdev::{Chip, EventRequestFlags, LineRequestFlags};
        let err = |cause: String| GpioError { chip: chip.into(), line, cause };
        let mut c = Chip::new(chip).map_err(|e| err(e.to_string()))?;
        let mut flags = LineRequestFlags::INPUT;
        if active_low {
            flags |= LineRequestFlags::ACTIVE_LOW;
        }
        let l = c.get_line(line).map_err(|e| err(e.to_string()))?;
        let input = match l.events(flags.clone(), EventRequestFlags::BOTH_EDGES, "comicbooth-button") {
            Ok(events) => {
                // Non-blocking reads: poll() drains the queue and must never wait.
                use std::os::fd::AsRawFd;
                let fd = events.as_raw_fd();
                // SAFETY: fcntl on a descriptor this handle owns.
                let ok = unsafe {
                    libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK)
                };
                if ok < 0 {
                    return Err(err(format!(
                        "making its events non-blocking: {}",
                        std::io::Error::last_os_error()
                    )));
                }
                GpioInput::Edges { events, debounce: EdgeDebouncer::default() }
            }
            Err(e) => {
                tracing::info!(
                    chip = %chip.display(),
                    line,
                    "no edge events on this line ({e}); sampling its level instead (a press must last two polls)"
                );
                let handle = l.request(flags, 0, "comicbooth-button").map_err(|e| err(e.to_string()))?;
                let pin = linux_embedded_hal::CdevPin::new(handle).map_err(|e| err(e.to_string()))?;
                GpioInput::Level { pin, debounce: Debouncer::default() }
            }
        };
        Ok(GpioTrigger { input, chip: chip.into(), line })
    }
}

impl Trigger for GpioTrigger {
    fn poll(&mut self, _now: Instant) -> Option<Request> {
        use embedded_hal::digital::InputPin;
        let warn = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(chip = %self.chip.display(), line = self.line, "{what} the button failed: {e}");
        };
        match &mut self.input {
            GpioInput::Edges { events, debounce } => {
                let mut fired = false;
                // Every queued edge, oldest first, until the read would block. One event is
                // struct gpioevent_data: u64 timestamp (ns), u32 id (1 rising, 2 falling), padding.
                let mut raw = [0u8; 16];
                loop {
                    match Read::read(&mut events.file(), &mut raw) {
                        Ok(16) => {
                            let t_ns = u64::from_ne_bytes(raw[..8].try_into().unwrap_or_default());
                            let id = u32::from_ne_bytes(raw[8..12].try_into().unwrap_or_default());
                            fired |= debounce.edge(id == 1, t_ns);
                        }
                        Ok(n) => {
                            warn("reading the events of", &format!("a short read of {n} bytes"));
                            break;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            warn("reading the events of", &e);
                            break;
                        }
                    }
                }
                match events.get_value() {
                    Ok(v) => {
                        let now = monotonic_ns();
                        fired |= debounce.held(v == 1, now);
                        if debounce.held_long(v == 1, now) {
                            return Some(Request::Diagnostics);
                        }
                    }
                    Err(e) => warn("reading", &e),
                }
                fired.then_some(Request::Session)
            }
            GpioInput::Level { pin, debounce } => match pin.is_high() {
                Ok(active) => debounce.step(active),
                Err(e) => {
                    warn("reading", &e);
                    None
                }
            },
        }
    }

    fn describe(&self) -> String {
        format!("GPIO button {} line {} (hold 3 s: diagnostics)", self.chip.display(), self.line)
    }
}
