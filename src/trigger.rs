//! What starts a session: a timer (unattended installations), SIGUSR1, a keyboard key (evdev:
//! space or enter), a GPIO push button, or a scripted list for tests. The same inputs open the
//! diagnostics screen: SIGUSR2, the D key, or holding the button for
//! [`Debouncer::HOLD_POLLS`] polls (3 s). Every trigger is polled without blocking, so the
//! booth's loop keeps the screen alive.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a trigger asks the booth for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A new session (the guest pressed the button).
    Session,
    /// The diagnostics screen (the operator).
    Diagnostics,
}

/// Something that can ask for a new session or the diagnostics screen.
pub trait Trigger {
    /// What it asked for since the last poll, if anything. Never blocks.
    fn poll(&mut self, now: Instant) -> Option<Request>;
    /// What it is, for the start-up log.
    fn describe(&self) -> String;
    /// The booth became idle at `now` (back to attract, or a result started showing). A timer
    /// counts its period from here, so unattended sessions never cut a result short.
    fn reset(&mut self, _now: Instant) {}
}

/// Fires every `every` (unattended mode).
pub struct TimerTrigger {
    every: Duration,
    next: Option<Instant>,
}

impl TimerTrigger {
    /// A timer that first fires `every` after its first poll.
    pub fn new(every: Duration) -> TimerTrigger {
        TimerTrigger { every, next: None }
    }
}

impl Trigger for TimerTrigger {
    fn poll(&mut self, now: Instant) -> Option<Request> {
        let next = *self.next.get_or_insert(now + self.every);
        if now >= next {
            self.next = Some(now + self.every);
            Some(Request::Session)
        } else {
            None
        }
    }

    fn describe(&self) -> String {
        format!("timer every {} s", self.every.as_secs())
    }

    fn reset(&mut self, now: Instant) {
        self.next = Some(now + self.every);
    }
}

/// Starts a session when the process receives SIGUSR1 (`systemctl kill -s USR1 comicbooth`,
/// or a button wired through another daemon); opens diagnostics on SIGUSR2.
pub struct SignalTrigger {
    session: Arc<AtomicBool>,
    diagnostics: Arc<AtomicBool>,
}

impl SignalTrigger {
    /// Installs the SIGUSR1 and SIGUSR2 handlers.
    pub fn install() -> std::io::Result<SignalTrigger> {
        let session = Arc::new(AtomicBool::new(false));
        let diagnostics = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&session))?;
        signal_hook::flag::register(signal_hook::consts::SIGUSR2, Arc::clone(&diagnostics))?;
        Ok(SignalTrigger { session, diagnostics })
    }
}

impl Trigger for SignalTrigger {
    fn poll(&mut self, _now: Instant) -> Option<Request> {
        if self.diagnostics.swap(false, Ordering::Relaxed) {
            Some(Request::Diagnostics)
        } else {
            self.session.swap(false, Ordering::Relaxed).then_some(Request::Session)
        }
    }

    fn describe(&self) -> String {
        "SIGUSR1 (SIGUSR2: diagnostics)".into()
    }
}

/// Why a keyboard could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "keyboard {path}: cannot open it ({cause}); fix: add the user to the `input` group, or set trigger.keyboard to a /dev/input/event* node that exists"
)]
pub struct KeyboardError {
    /// The device.
    pub path: PathBuf,
    /// Why.
    pub cause: std::io::Error,
}

/// Linux key codes (linux/input-event-codes.h).
const KEY_ENTER: u16 = 28;
const KEY_D: u16 = 32;
const KEY_SPACE: u16 = 57;
const KEY_KPENTER: u16 = 96;
const EV_KEY: u16 = 1;

/// Fires on a press of space or enter on an evdev keyboard (or a USB "big red button" that
/// types one of them); D opens diagnostics.
pub struct KeyboardTrigger {
    file: File,
    path: PathBuf,
    pending: Vec<u8>,
}

impl KeyboardTrigger {
    /// Opens an evdev node without blocking.
    pub fn open(path: &Path) -> Result<KeyboardTrigger, KeyboardError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|cause| KeyboardError { path: path.into(), cause })?;
        Ok(KeyboardTrigger { file, path: path.into(), pending: Vec::new() })
    }

    /// The requests in a chunk of raw `input_event`s: key presses (not releases or
    /// autorepeats) of space or enter, and of D.
    pub fn requests_in(events: &[u8]) -> Vec<Request> {
        let size = std::mem::size_of::<libc::input_event>();
        events
            .chunks_exact(size)
            .filter_map(|raw| {
                // SAFETY: input_event is plain old data and `raw` has exactly its size.
                let ev: libc::input_event = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
                if ev.type_ != EV_KEY || ev.value != 1 {
                    return None;
                }
                match ev.code {
                    KEY_SPACE | KEY_ENTER | KEY_KPENTER => Some(Request::Session),
                    KEY_D => Some(Request::Diagnostics),
                    _ => None,
                }
            })
            .collect()
    }
}

impl Trigger for KeyboardTrigger {
    fn poll(&mut self, _now: Instant) -> Option<Request> {
        let mut buf = [0u8; 1024];
        let mut asked = None;
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    let size = std::mem::size_of::<libc::input_event>();
                    let whole = self.pending.len() / size * size;
                    // The last key pressed wins when several arrive in one poll.
                    asked = KeyboardTrigger::requests_in(&self.pending[..whole]).pop().or(asked);
                    self.pending.drain(..whole);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(device = %self.path.display(), "keyboard read failed: {e}");
                    break;
                }
            }
        }
        asked
    }

    fn describe(&self) -> String {
        format!("keyboard {} (space or enter; D: diagnostics)", self.path.display())
    }
}

/// Why a GPIO button could not be used.
#[cfg(feature = "gpio")]
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
#[cfg(feature = "gpio")]
pub struct GpioTrigger {
    input: GpioInput,
    chip: PathBuf,
    line: u32,
}

#[cfg(feature = "gpio")]
enum GpioInput {
    Edges { events: linux_embedded_hal::gpio_cdev::LineEventHandle, debounce: EdgeDebouncer },
    Level { pin: linux_embedded_hal::CdevPin, debounce: Debouncer },
}

/// Turns a sampled button level into requests: active for [`Debouncer::POLLS`] samples in a
/// row after a release is a press (a session); still active [`Debouncer::HOLD_POLLS`] samples
/// into that press is a hold (diagnostics, once per hold).
#[derive(Debug, Default)]
pub struct Debouncer {
    active_streak: u32,
    armed: bool,
    pressed: bool,
}

impl Debouncer {
    /// Samples needed to accept a press: at the booth's 30 polls a second, about 60 ms.
    pub const POLLS: u32 = 2;
    /// Samples a press must be held to open diagnostics: about 3 s at 30 polls a second.
    pub const HOLD_POLLS: u32 = 90;

    /// One sample; the request it completes, if any.
    pub fn step(&mut self, active: bool) -> Option<Request> {
        if !active {
            self.active_streak = 0;
            self.armed = true;
            self.pressed = false;
            return None;
        }
        self.active_streak += 1;
        if self.armed && self.active_streak >= Self::POLLS {
            self.armed = false;
            self.pressed = true;
            return Some(Request::Session);
        }
        if self.pressed && self.active_streak == Self::HOLD_POLLS {
            return Some(Request::Diagnostics);
        }
        None
    }
}

/// Turns a button's edges (kernel timestamps, ns) into presses: an active stretch counts once
/// it has lasted [`EdgeDebouncer::MIN_PRESS_NS`], whether it ended (a tap) or still lasts (a
/// hold); shorter stretches are bounce or noise. A line already active when it was first seen
/// counts only after a release, like [`Debouncer`].
#[derive(Debug, Default)]
pub struct EdgeDebouncer {
    /// When the current active stretch began, if the line is active.
    active_since: Option<u64>,
    /// Whether the current stretch has been counted (a hold seen by [`Self::held`]).
    counted: bool,
    /// Whether the current stretch has asked for diagnostics ([`Self::held_long`]).
    long_reported: bool,
}

impl EdgeDebouncer {
    /// The shortest press: a quick tap is 50 to 150 ms, contact bounce a few ms.
    pub const MIN_PRESS_NS: u64 = 30_000_000;

    /// One edge: `active` is the line's (logical) level after it. True on an accepted press.
    pub fn edge(&mut self, active: bool, t_ns: u64) -> bool {
        if active {
            // Two edges into the same level (the kernel reads the level after the interrupt,
            // so bounce can report it twice): the stretch began at the first.
            if self.active_since.is_none() {
                self.active_since = Some(t_ns);
                self.counted = false;
                self.long_reported = false;
            }
            return false;
        }
        let press = self
            .active_since
            .take()
            .is_some_and(|since| !self.counted && t_ns.saturating_sub(since) >= Self::MIN_PRESS_NS);
        self.counted = false;
        press
    }

    /// How long a hold asks for diagnostics.
    pub const LONG_HOLD_NS: u64 = 3_000_000_000;

    /// As [`Self::held`] for [`Self::LONG_HOLD_NS`]: true once per stretch that has lasted
    /// that long (the operator's hold for diagnostics).
    pub fn held_long(&mut self, active: bool, now_ns: u64) -> bool {
        match self.active_since {
            Some(since)
                if active && !self.long_reported && now_ns.saturating_sub(since) >= Self::LONG_HOLD_NS =>
            {
                self.long_reported = true;
                true
            }
            _ => false,
        }
    }

    /// The line's level at `now_ns` (same clock as the edges), between edges: true when a
    /// stretch still active has now lasted long enough (a hold).
    pub fn held(&mut self, active: bool, now_ns: u64) -> bool {
        match self.active_since {
            Some(since) if active && !self.counted && now_ns.saturating_sub(since) >= Self::MIN_PRESS_NS => {
                self.counted = true;
                true
            }
            _ => false,
        }
    }
}

/// CLOCK_MONOTONIC in ns: the clock of the kernel's GPIO event timestamps (Linux 5.7 on).
#[cfg(feature = "gpio")]
fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime only writes the timespec it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(feature = "gpio")]
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

#[cfg(feature = "gpio")]
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

/// Fires at the given polls (0-based): for tests and demos without hardware.
pub struct ScriptedTrigger {
    at: Vec<(u64, Request)>,
    polls: u64,
}

impl ScriptedTrigger {
    /// Asks for a session on each poll number listed.
    pub fn new(at: Vec<u64>) -> ScriptedTrigger {
        ScriptedTrigger::requests(at.into_iter().map(|p| (p, Request::Session)).collect())
    }

    /// Asks for each request at its poll number.
    pub fn requests(at: Vec<(u64, Request)>) -> ScriptedTrigger {
        ScriptedTrigger { at, polls: 0 }
    }
}

impl Trigger for ScriptedTrigger {
    fn poll(&mut self, _now: Instant) -> Option<Request> {
        let fire = self.at.iter().find(|(p, _)| *p == self.polls).map(|&(_, r)| r);
        self.polls += 1;
        fire
    }

    fn describe(&self) -> String {
        format!("scripted at polls {:?}", self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_fires_on_schedule() {
        let t0 = Instant::now();
        let mut t = TimerTrigger::new(Duration::from_secs(10));
        let mut fires = |s| t.poll(t0 + Duration::from_secs(s)) == Some(Request::Session);
        assert!(!fires(0));
        assert!(!fires(9));
        assert!(fires(10));
        assert!(!fires(11));
        assert!(fires(20));
        t.reset(t0 + Duration::from_secs(25));
        assert!(t.poll(t0 + Duration::from_secs(30)).is_none());
        assert_eq!(t.poll(t0 + Duration::from_secs(35)), Some(Request::Session));
    }

    fn event(type_: u16, code: u16, value: i32) -> Vec<u8> {
        // SAFETY: all-zero is a valid input_event.
        let mut ev: libc::input_event = unsafe { std::mem::zeroed() };
        ev.type_ = type_;
        ev.code = code;
        ev.value = value;
        let size = std::mem::size_of::<libc::input_event>();
        // SAFETY: reading the bytes of a plain struct.
        unsafe { std::slice::from_raw_parts((&ev as *const libc::input_event).cast::<u8>(), size) }.to_vec()
    }

    #[test]
    fn keyboard_counts_presses_of_space_enter_and_d_only() {
        let mut raw = event(EV_KEY, KEY_SPACE, 1);
        raw.extend(event(EV_KEY, KEY_SPACE, 0)); // release
        raw.extend(event(EV_KEY, 30, 1)); // 'a'
        raw.extend(event(EV_KEY, KEY_ENTER, 2)); // autorepeat
        raw.extend(event(EV_KEY, KEY_D, 1));
        raw.extend(event(EV_KEY, KEY_ENTER, 1));
        raw.extend(event(0, 0, 0)); // SYN
        use Request::{Diagnostics, Session};
        assert_eq!(KeyboardTrigger::requests_in(&raw), vec![Session, Diagnostics, Session]);
    }

    #[test]
    fn keyboard_reads_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event0");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: creating a FIFO at a path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut k = KeyboardTrigger::open(&path).unwrap();
        let now = Instant::now();
        assert!(k.poll(now).is_none());
        std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::io::Write::write_all(&mut w, &event(EV_KEY, KEY_SPACE, 1)).unwrap();
        assert_eq!(k.poll(now), Some(Request::Session));
        assert!(k.poll(now).is_none());
        std::io::Write::write_all(&mut w, &event(EV_KEY, KEY_D, 1)).unwrap();
        assert_eq!(k.poll(now), Some(Request::Diagnostics));
    }

    #[test]
    fn debouncer_gives_one_press_per_push() {
        let mut d = Debouncer::default();
        // Held at start-up (stuck button): no press until it was released once.
        let samples = [1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1];
        let presses: Vec<usize> = samples
            .iter()
            .enumerate()
            .filter(|&(_, &s)| d.step(s == 1) == Some(Request::Session))
            .map(|(i, _)| i)
            .collect();
        // A one-sample blip (index 4) is bounce; 6-9 is one press, accepted at its 2nd sample.
        assert_eq!(presses, vec![7, 13]);
    }

    #[test]
    fn edge_debouncer_counts_taps_and_holds_once_and_ignores_bounce() {
        const MS: u64 = 1_000_000;
        let mut d = EdgeDebouncer::default();
        // A 100 ms tap, seen only after it ended (the booth's tick took longer): one press.
        assert!(!d.edge(true, 1000 * MS));
        assert!(!d.held(true, 1010 * MS));
        assert!(d.edge(false, 1100 * MS));
        assert!(!d.held(false, 5000 * MS));
        // Bounce and a noise spike: edges 2 to 5 ms apart, then released.
        assert!(!d.edge(true, 6000 * MS));
        assert!(!d.edge(false, 6002 * MS));
        assert!(!d.edge(true, 6004 * MS));
        assert!(!d.edge(false, 6009 * MS));
        // A bouncy press then a 2 s hold: one press, when the hold is seen, none on release.
        assert!(!d.edge(true, 7000 * MS));
        assert!(!d.edge(false, 7002 * MS));
        assert!(!d.edge(true, 7004 * MS));
        assert!(!d.edge(true, 7005 * MS)); // the same level reported twice
        assert!(!d.held(true, 7020 * MS)); // 16 ms in: not yet
        assert!(d.held(true, 7040 * MS));
        assert!(!d.held(true, 8000 * MS));
        assert!(!d.edge(false, 9000 * MS));
        // Active at start-up with no edge seen (stuck button): nothing until a real press.
        let mut stuck = EdgeDebouncer::default();
        assert!(!stuck.held(true, 10 * MS));
        assert!(!stuck.edge(false, 20 * MS));
        assert!(!stuck.edge(true, 30 * MS));
        assert!(stuck.edge(false, 90 * MS));
        // A 3 s hold also asks for diagnostics, once.
        let mut d = EdgeDebouncer::default();
        assert!(!d.edge(true, 0));
        assert!(d.held(true, 40 * MS));
        assert!(!d.held_long(true, 2900 * MS));
        assert!(d.held_long(true, 3000 * MS));
        assert!(!d.held_long(true, 5000 * MS));
        assert!(!d.edge(false, 6000 * MS));
        assert!(!d.held_long(false, 9000 * MS));
    }

    #[test]
    fn holding_the_button_asks_for_diagnostics_once() {
        let mut d = Debouncer::default();
        d.step(false);
        let got: Vec<(u32, Request)> = (1..=300).filter_map(|i| d.step(true).map(|r| (i, r))).collect();
        assert_eq!(
            got,
            vec![(Debouncer::POLLS, Request::Session), (Debouncer::HOLD_POLLS, Request::Diagnostics)]
        );
        // Released and pressed again: a new session, no diagnostics until held again.
        assert_eq!(d.step(false), None);
        assert_eq!(
            (0..Debouncer::POLLS).filter_map(|_| d.step(true)).collect::<Vec<_>>(),
            vec![Request::Session]
        );
    }

    #[test]
    fn signal_trigger_sees_sigusr1_and_sigusr2() {
        let mut s = SignalTrigger::install().unwrap();
        assert!(s.poll(Instant::now()).is_none());
        signal_hook::low_level::raise(signal_hook::consts::SIGUSR1).unwrap();
        assert_eq!(s.poll(Instant::now()), Some(Request::Session));
        assert!(s.poll(Instant::now()).is_none());
        signal_hook::low_level::raise(signal_hook::consts::SIGUSR2).unwrap();
        assert_eq!(s.poll(Instant::now()), Some(Request::Diagnostics));
    }

    #[test]
    fn missing_keyboard_says_how_to_fix() {
        let e = KeyboardTrigger::open(Path::new("/nonexistent/event7")).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/event7") && e.contains("fix:"), "{e}");
    }
}
