//! Feature `gpio`: a push button on a GPIO line (Linux GPIO character device).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Debouncer, EdgeDebouncer, Request, Trigger};
use crate::retry::Retry;

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
    /// `None` while the chip is gone (a USB GPIO adapter unplugged, a read error).
    input: Option<GpioInput>,
    chip: PathBuf,
    line: u32,
    active_low: bool,
    /// While gone: when to try opening the line again.
    reopen: Option<Retry>,
}

/// First wait before reopening a GPIO line that failed; doubles up to [`MAX_REOPEN`].
const FIRST_REOPEN: Duration = Duration::from_millis(500);
/// Longest wait between reopen attempts.
const MAX_REOPEN: Duration = Duration::from_secs(4);

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
        Ok(GpioTrigger { input: Some(input), chip: chip.into(), line, active_low, reopen: None })
    }

    /// As [`GpioTrigger::open`], but a chip that is not there (a USB GPIO adapter not plugged
    /// in: ENOENT/ENODEV) gives a trigger that waits for it, reopening with backoff.
    pub fn open_or_wait(
        chip: &Path,
        line: u32,
        active_low: bool,
        now: Instant,
    ) -> Result<GpioTrigger, GpioError> {
        match GpioTrigger::open(chip, line, active_low) {
            Err(e) if !chip.exists() => {
                tracing::error!("{e}; the booth starts without it and opens it once the chip is there");
                Ok(GpioTrigger {
                    input: None,
                    chip: chip.into(),
                    line,
                    active_low,
                    reopen: Some(Retry::after(now, FIRST_REOPEN, MAX_REOPEN)),
                })
            }
            other => other,
        }
    }

    /// Whether the line is open now (false from a failed read until it is reopened).
    pub fn connected(&self) -> bool {
        self.input.is_some()
    }

    /// Drops a line whose read failed (said once in the log); it is reopened after a backoff.
    fn lose(&mut self, now: Instant, why: &dyn std::fmt::Display) {
        tracing::warn!(chip = %self.chip.display(), line = self.line, "GPIO button gone ({why}); trying to reopen it");
        self.input = None;
        self.reopen = Some(Retry::after(now, FIRST_REOPEN, MAX_REOPEN));
    }

    /// Reopens a lost line when its backoff is over.
    fn try_reopen(&mut self, now: Instant) {
        let Some(retry) = self.reopen.as_mut() else { return };
        if !retry.is_due(now) {
            return;
        }
        match GpioTrigger::open(&self.chip, self.line, self.active_low) {
            Ok(fresh) => {
                tracing::info!(chip = %self.chip.display(), line = self.line, "GPIO button back");
                self.input = fresh.input;
                self.reopen = None;
            }
            Err(e) => {
                tracing::debug!("GPIO button still gone: {e}");
                retry.failed(now);
            }
        }
    }
}

impl Trigger for GpioTrigger {
    fn poll(&mut self, now: Instant) -> Option<Request> {
        self.try_reopen(now);
        let mut failed: Option<String> = None;
        let request = self.poll_input(&mut failed);
        if let Some(why) = failed {
            self.lose(now, &why);
        }
        request
    }

    fn describe(&self) -> String {
        let state = if self.connected() { "" } else { ", gone: reopening" };
        format!("GPIO button {} line {} (hold 3 s: diagnostics{state})", self.chip.display(), self.line)
    }
}

impl GpioTrigger {
    /// Reads the line; a read error is put in `failed` (the line is then dropped and reopened,
    /// instead of the same error logged 30 times a second).
    fn poll_input(&mut self, failed: &mut Option<String>) -> Option<Request> {
        use embedded_hal::digital::InputPin;
        let mut warn = |what: &str, e: &dyn std::fmt::Display| {
            *failed = Some(format!("{what} it failed: {e}"));
        };
        match self.input.as_mut()? {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpio_chip_missing_at_start_is_waited_for_with_backoff() {
        let chip = Path::new("/nonexistent/gpiochip9");
        let t0 = Instant::now();
        let mut b = GpioTrigger::open_or_wait(chip, 3, true, t0).unwrap();
        assert!(!b.connected());
        assert!(b.describe().contains("gone"), "{}", b.describe());
        assert!(b.poll(t0 + FIRST_REOPEN / 2).is_none());
        assert_eq!(b.reopen.map(|r| r.wait()), Some(FIRST_REOPEN));
        // Still missing at the first try: the wait doubles, up to the cap.
        assert!(b.poll(t0 + FIRST_REOPEN).is_none());
        assert_eq!(b.reopen.map(|r| r.wait()), Some(FIRST_REOPEN * 2));
        let mut now = t0;
        for _ in 0..10 {
            now += MAX_REOPEN;
            b.poll(now);
        }
        assert_eq!(b.reopen.map(|r| r.wait()), Some(MAX_REOPEN));
        assert!(!b.connected());
    }

    #[test]
    fn a_gpio_chip_that_exists_but_fails_is_an_error_to_fix() {
        // /dev/null is there but no GPIO chip: a configuration mistake, not an unplugged one.
        assert!(GpioTrigger::open_or_wait(Path::new("/dev/null"), 3, true, Instant::now()).is_err());
    }
}
