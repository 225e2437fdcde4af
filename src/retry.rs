//! Retrying with a doubling wait: how the booth gets back what went away (a camera, a
//! keyboard, a display) without hammering a missing device or waiting long once it is back.

use std::time::{Duration, Instant};

/// When the next try is due. The wait starts at `first` and doubles after each failed try, up
/// to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    due: Instant,
    wait: Duration,
    max: Duration,
}

impl Retry {
    /// The first try `first` after `now` (the failure that starts it).
    pub fn after(now: Instant, first: Duration, max: Duration) -> Retry {
        Retry { due: now + first, wait: first, max }
    }

    /// When the next try is due.
    pub fn due(&self) -> Instant {
        self.due
    }

    /// Whether a try is due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.due
    }

    /// The wait before the next try.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// A try at `now` failed: the wait doubles (up to the maximum) from now.
    pub fn failed(&mut self, now: Instant) {
        self.wait = (self.wait * 2).min(self.max);
        self.due = now + self.wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_each_failed_try_up_to_the_maximum() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut r = Retry::after(t0, ms(250), ms(1000));
        assert!(!r.is_due(t0 + ms(249)) && r.is_due(t0 + ms(250)));
        r.failed(t0 + ms(300));
        assert_eq!((r.wait(), r.due()), (ms(500), t0 + ms(800)));
        r.failed(t0 + ms(800));
        r.failed(t0 + ms(1800));
        assert_eq!((r.wait(), r.due()), (ms(1000), t0 + ms(2800)));
    }
}
