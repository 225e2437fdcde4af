//! The keyboard trigger: an evdev node (a keyboard, or a USB button that types space or enter).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Request, Trigger};
use crate::retry::Retry;

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

/// First wait before reopening a keyboard that went away; doubles up to [`MAX_REOPEN`].
const FIRST_REOPEN: Duration = Duration::from_millis(500);
/// Longest wait between reopen attempts: a replugged button works within this.
const MAX_REOPEN: Duration = Duration::from_secs(4);

/// Fires on a press of space or enter on an evdev keyboard (or a USB "big red button" that
/// types one of them); D opens diagnostics. A keyboard that is unplugged (a read error such as
/// ENODEV) is said once in the log and reopened with backoff until it is back.
pub struct KeyboardTrigger {
    file: Option<File>,
    path: PathBuf,
    pending: Vec<u8>,
    /// While the keyboard is gone: when to try reopening it.
    reopen: Option<Retry>,
}

fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}

impl KeyboardTrigger {
    /// Opens an evdev node without blocking.
    pub fn open(path: &Path) -> Result<KeyboardTrigger, KeyboardError> {
        let file = open_nonblocking(path).map_err(|cause| KeyboardError { path: path.into(), cause })?;
        Ok(KeyboardTrigger { file: Some(file), path: path.into(), pending: Vec::new(), reopen: None })
    }

    /// As [`KeyboardTrigger::open`], but a keyboard that is not plugged in (its node missing,
    /// or gone: ENOENT, ENODEV, ENXIO) gives a trigger that waits for it, reopening with
    /// backoff like an unplugged one, so a booth started (or restarted by systemd) while the
    /// USB button is out comes up on its other triggers instead of failing to start. Other
    /// errors (no permission) are still errors: they need a fix, not a wait.
    pub fn open_or_wait(path: &Path, now: Instant) -> Result<KeyboardTrigger, KeyboardError> {
        match KeyboardTrigger::open(path) {
            Err(e) if matches!(e.cause.raw_os_error(), Some(libc::ENOENT | libc::ENODEV | libc::ENXIO)) => {
                tracing::error!("{e}; the booth starts without it and opens it once it is plugged in");
                Ok(KeyboardTrigger {
                    file: None,
                    path: path.into(),
                    pending: Vec::new(),
                    reopen: Some(Retry::after(now, FIRST_REOPEN, MAX_REOPEN)),
                })
            }
            other => other,
        }
    }

    /// Whether the keyboard is there now (false from a failed read until it is reopened).
    pub fn connected(&self) -> bool {
        self.file.is_some()
    }

    /// Drops a keyboard whose read failed; the next try is due after the backoff.
    fn lose(&mut self, now: Instant, e: &std::io::Error) {
        tracing::warn!(device = %self.path.display(), "keyboard gone ({e}); trying to reopen it");
        self.file = None;
        self.pending.clear();
        self.reopen = Some(Retry::after(now, FIRST_REOPEN, MAX_REOPEN));
    }

    /// Tries to reopen a lost keyboard when its backoff is over.
    fn try_reopen(&mut self, now: Instant) {
        let Some(retry) = self.reopen.as_mut() else { return };
        if !retry.is_due(now) {
            return;
        }
        match open_nonblocking(&self.path) {
            Ok(file) => {
                tracing::info!(device = %self.path.display(), "keyboard back");
                self.file = Some(file);
                self.reopen = None;
            }
            Err(e) => {
                tracing::debug!(device = %self.path.display(), "keyboard still gone: {e}");
                retry.failed(now);
            }
        }
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
    fn poll(&mut self, now: Instant) -> Option<Request> {
        self.try_reopen(now);
        let mut buf = [0u8; 1024];
        let mut asked = None;
        while let Some(file) = self.file.as_mut() {
            match file.read(&mut buf) {
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
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => self.lose(now, &e),
            }
        }
        asked
    }

    fn describe(&self) -> String {
        let state = if self.connected() { "" } else { ", gone: reopening" };
        format!("keyboard {} (space or enter; D: diagnostics{state})", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        mkfifo(&path);
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

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: creating a FIFO at a path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn an_unplugged_keyboard_is_dropped_once_and_reopened_when_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event0");
        // A directory opens like a node but every read fails (EISDIR), as an unplugged
        // keyboard's reads do (ENODEV).
        std::fs::create_dir(&path).unwrap();
        let mut k = KeyboardTrigger::open(&path).unwrap();
        let t0 = Instant::now();
        assert!(k.poll(t0).is_none());
        assert!(!k.connected());
        assert!(k.describe().contains("gone"), "{}", k.describe());
        // Polls while it is gone and before the backoff is over touch nothing.
        std::fs::remove_dir(&path).unwrap();
        assert!(k.poll(t0 + FIRST_REOPEN / 2).is_none());
        assert!(!k.connected());
        // Still missing at the first try: the wait doubles.
        assert!(k.poll(t0 + FIRST_REOPEN).is_none());
        assert_eq!(k.reopen.map(|r| r.wait()), Some(FIRST_REOPEN * 2));
        // Plugged back: the next due poll reopens it and presses count again.
        mkfifo(&path);
        let back = t0 + FIRST_REOPEN * 3;
        assert!(k.poll(back).is_none());
        assert!(k.connected());
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::io::Write::write_all(&mut w, &event(EV_KEY, KEY_SPACE, 1)).unwrap();
        assert_eq!(k.poll(back), Some(Request::Session));
    }

    #[test]
    fn a_keyboard_missing_at_start_is_waited_for_and_used_once_plugged_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event3");
        let t0 = Instant::now();
        let mut k = KeyboardTrigger::open_or_wait(&path, t0).unwrap();
        assert!(!k.connected());
        assert!(k.poll(t0).is_none());
        mkfifo(&path);
        // Not before its backoff; then it opens and a press counts.
        assert!(k.poll(t0 + FIRST_REOPEN / 2).is_none());
        assert!(!k.connected());
        let plugged = t0 + FIRST_REOPEN;
        assert!(k.poll(plugged).is_none());
        assert!(k.connected());
        let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::io::Write::write_all(&mut w, &event(EV_KEY, KEY_ENTER, 1)).unwrap();
        assert_eq!(k.poll(plugged), Some(Request::Session));
        // A node it may not open is an error to fix, not a wait.
        let denied = KeyboardTrigger::open_or_wait(Path::new("/proc/self/mem/x"), t0);
        assert!(denied.is_err());
    }

    #[test]
    fn reopen_backoff_is_capped() {
        let mut k = KeyboardTrigger::open(Path::new("/dev/null")).unwrap();
        k.path = "/nonexistent/event7".into();
        let mut now = Instant::now();
        k.lose(now, &std::io::Error::from_raw_os_error(libc::ENODEV));
        for _ in 0..10 {
            now += MAX_REOPEN;
            k.poll(now);
        }
        assert_eq!(k.reopen.map(|r| r.wait()), Some(MAX_REOPEN));
    }

    #[test]
    fn missing_keyboard_says_how_to_fix() {
        let e = KeyboardTrigger::open(Path::new("/nonexistent/event7")).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/event7") && e.contains("fix:"), "{e}");
    }
}
