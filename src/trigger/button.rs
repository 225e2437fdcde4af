//! Debouncing a push button: sampled levels ([`Debouncer`]) or the kernel's timestamped edges
//! ([`EdgeDebouncer`]) to presses and holds. Pure, so it is tested without hardware.

use super::Request;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
