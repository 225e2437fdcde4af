//! Life under systemd: READY=1 once camera, model and display are up, STATUS= lines that say
//! what the booth is doing, WATCHDOG=1 from the main loop only while it is healthy (a hung
//! inference stops the pings and systemd restarts the service), RELOADING=1 and STOPPING=1.
//! Outside systemd (no NOTIFY_SOCKET) every call is a no-op.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// Talks to systemd's notify socket.
pub struct Service {
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
    status: String,
}

impl Default for Service {
    fn default() -> Self {
        Service::from_env()
    }
}

impl Service {
    /// Reads NOTIFY_SOCKET and WATCHDOG_USEC from the environment systemd gave us.
    pub fn from_env() -> Service {
        let watchdog = sd_notify::watchdog_enabled();
        if let Some(w) = watchdog {
            tracing::info!(watchdog_ms = w.as_millis() as u64, "systemd watchdog on");
        }
        Service { watchdog, last_ping: None, status: String::new() }
    }

    fn send(&self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(states) {
            tracing::warn!("systemd notify failed: {e}");
        }
    }

    /// Everything is up (or its absence is on screen).
    pub fn ready(&mut self, status: &str) {
        self.status = status.to_owned();
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// Says what the booth is doing, when that changed.
    pub fn status(&mut self, status: &str) {
        if self.status != status {
            self.status = status.to_owned();
            self.send(&[NotifyState::Status(status)]);
        }
    }

    /// Called every loop: pings the watchdog at half its period, but only while `healthy`.
    pub fn tick(&mut self, now: Instant, healthy: bool) {
        let Some(period) = self.watchdog else { return };
        if healthy && self.last_ping.is_none_or(|t| now.duration_since(t) >= period / 2) {
            self.last_ping = Some(now);
            self.send(&[NotifyState::Watchdog]);
        }
    }

    /// The configuration is being reloaded.
    pub fn reloading(&mut self) {
        self.send(&[NotifyState::Reloading, NotifyState::Status("reloading the configuration")]);
    }

    /// The service is stopping.
    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}
