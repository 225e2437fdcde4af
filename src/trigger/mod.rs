//! What starts a session: a timer (unattended installations), SIGUSR1, a keyboard key (evdev:
//! space or enter), a GPIO push button, or a scripted list for tests. The same inputs open the
//! diagnostics screen: SIGUSR2, the D key, or holding the button for
//! [`Debouncer::HOLD_POLLS`] polls (3 s). Every trigger is polled without blocking, so the
//! booth's loop keeps the screen alive.

mod button;
#[cfg(feature = "gpio")]
pub mod gpio;
mod keyboard;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use button::{Debouncer, EdgeDebouncer};
pub use keyboard::{KeyboardError, KeyboardTrigger};

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

/// Fires at the given polls (0-based): for tests and demos without hardware.
pub struct ScriptedTrigger {
    at: Vec<(u64, Request)>,
    polls: u64,
    every_poll: bool,
}

impl ScriptedTrigger {
    /// Asks for a session on each poll number listed.
    pub fn new(at: Vec<u64>) -> ScriptedTrigger {
        ScriptedTrigger::requests(at.into_iter().map(|p| (p, Request::Session)).collect())
    }

    /// Asks for each request at its poll number.
    pub fn requests(at: Vec<(u64, Request)>) -> ScriptedTrigger {
        ScriptedTrigger { at, polls: 0, every_poll: false }
    }

    /// Asks for a session on every poll, however many (a button held down).
    pub fn every_poll() -> ScriptedTrigger {
        ScriptedTrigger { at: Vec::new(), polls: 0, every_poll: true }
    }
}

impl Trigger for ScriptedTrigger {
    fn poll(&mut self, _now: Instant) -> Option<Request> {
        let fire = self.at.iter().find(|(p, _)| *p == self.polls).map(|&(_, r)| r);
        self.polls += 1;
        if self.every_poll { Some(Request::Session) } else { fire }
    }

    fn describe(&self) -> String {
        if self.every_poll {
            "scripted at every poll".into()
        } else {
            format!("scripted at polls {:?}", self.at)
        }
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
}
