//! The daemon behind `comicbooth run`: the main loop that ticks the booth about 30 times a
//! second, the signals (SIGTERM/SIGINT stop, SIGHUP reloads), and systemd's notify protocol
//! and watchdog (through [`crate::service`]). The parts come from [`crate::wiring`].

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::booth::Booth;
use crate::config::Config;
use crate::display::Screen;
use crate::service::Service;

/// The booth's main-loop period: about 30 ticks a second.
pub const TICK: Duration = Duration::from_millis(33);

/// Signals the daemon reacts to.
struct Signals {
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let (stop, reload) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        for (sig, flag) in [(SIGTERM, &stop), (SIGINT, &stop), (SIGHUP, &reload)] {
            signal_hook::flag::register(sig, Arc::clone(flag)).context("installing signal handlers")?;
        }
        Ok(Signals { stop, reload })
    }
}

/// Why the booth loop ended.
enum LoopEnd {
    Stop,
    Reload,
}

/// `comicbooth run`: the booth on the configured camera, display and triggers until SIGTERM
/// or SIGINT, or for `duration`. SIGHUP re-reads `config_path` and restarts the booth with it
/// (a bad new file is reported and the running configuration kept). A comic being saved when
/// a signal comes is finished first; files are written atomically either way.
pub fn run(config: &Config, config_path: Option<&Path>, duration: Option<Duration>) -> anyhow::Result<()> {
    let signals = Signals::install()?;
    let mut service = Service::from_env();
    let deadline = duration.map(|d| Instant::now() + d);
    let mut config = config.clone();
    loop {
        let booth = crate::wiring::booth(&config)?;
        match run_loop(booth, &signals, &mut service, deadline)? {
            LoopEnd::Stop => {
                service.stopping();
                return Ok(());
            }
            LoopEnd::Reload => {
                service.reloading();
                match config_path.map(Config::load) {
                    Some(Ok(new)) => {
                        tracing::info!("configuration reloaded");
                        config = new;
                    }
                    Some(Err(e)) => tracing::error!("reload refused, keeping the running configuration: {e}"),
                    None => tracing::info!("no --config file to reload; restarting with the same settings"),
                }
            }
        }
    }
}

/// Ticks the booth about 30 times a second, keeping systemd informed, until a signal or the
/// deadline.
fn run_loop<S: Screen>(
    mut booth: Booth<S>,
    signals: &Signals,
    service: &mut Service,
    deadline: Option<Instant>,
) -> anyhow::Result<LoopEnd>
where
    S::Error: std::error::Error + Send + Sync + 'static,
{
    service.ready("attract: waiting for a guest");
    loop {
        if signals.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::info!(saved = booth.saved.len(), "stopping");
            return Ok(LoopEnd::Stop);
        }
        if signals.reload.swap(false, Ordering::Relaxed) {
            tracing::info!("SIGHUP: reloading");
            return Ok(LoopEnd::Reload);
        }
        let now = Instant::now();
        booth.tick(now)?;
        service.status(booth.phase().status());
        service.tick(now, booth.healthy(now));
        sleep_until_next(&booth, now);
    }
}

/// Sleeps until the booth's next tick ([`TICK`] after `tick_start`), or until its next result
/// frame is due if that comes first, so 150 ms frames are shown 150 ms apart instead of on
/// tick boundaries.
pub fn sleep_until_next<S: Screen>(booth: &Booth<S>, tick_start: Instant)
where
    S::Error: std::fmt::Display,
{
    let mut wake = tick_start + TICK;
    if let Some(due) = booth.next_frame_due() {
        wake = wake.min(due);
    }
    std::thread::sleep(wake.saturating_duration_since(Instant::now()));
}
