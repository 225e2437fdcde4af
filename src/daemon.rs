//! The daemon behind `comicbooth run`: the main loop that ticks the booth about 30 times a
//! second, the signals (SIGTERM/SIGINT stop, SIGHUP reloads), and systemd's notify protocol
//! and watchdog (through [`crate::service`]). The parts come from [`crate::wiring`].

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::booth::Booth;
use crate::config::{Config, DisplayConfig};
use crate::display::Screen;
use crate::retry::Retry;
use crate::service::Service;
use crate::wiring::ConfiguredScreen;

/// The booth's main-loop period: about 30 ticks a second.
pub const TICK: Duration = Duration::from_millis(33);
/// First wait before reopening a failing display; it doubles up to [`MAX_REOPEN`].
const FIRST_REOPEN: Duration = Duration::from_secs(1);
/// Longest wait between reopen attempts.
const MAX_REOPEN: Duration = Duration::from_secs(30);

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
        match run_loop(booth, &config.display, &signals, &mut service, deadline) {
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
/// deadline. A display that fails does not stop the booth ([`ScreenKeeper`]).
fn run_loop(
    mut booth: Booth<ConfiguredScreen>,
    display: &DisplayConfig,
    signals: &Signals,
    service: &mut Service,
    deadline: Option<Instant>,
) -> LoopEnd {
    service.ready("attract: waiting for a guest");
    let mut keeper = ScreenKeeper::default();
    let mut reopen = |b: &mut Booth<ConfiguredScreen>| ConfiguredScreen::reopen(b, display);
    loop {
        if signals.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::info!(saved = booth.saved.len(), "stopping");
            return LoopEnd::Stop;
        }
        if signals.reload.swap(false, Ordering::Relaxed) {
            tracing::info!("SIGHUP: reloading");
            return LoopEnd::Reload;
        }
        let now = Instant::now();
        keeper.tick(&mut booth, now, &mut reopen);
        service.status(booth.phase().status());
        service.tick(now, booth.healthy(now));
        sleep_until_next(&booth, now);
    }
}

/// Keeps the booth going through display faults (a flaky panel cable, a framebuffer that
/// vanished): the booth's state moves on whether or not drawing works; a failing screen is
/// logged once per fault, counted on the diagnostics screen, and reopened with backoff (1 s
/// doubling to 30 s) until it draws again.
#[derive(Debug, Default)]
pub struct ScreenKeeper {
    /// While failing: when to try reopening.
    fault: Option<Retry>,
}

impl ScreenKeeper {
    /// Ticks `booth` at `now`; on a drawing error, `reopen` is called when the backoff is over.
    pub fn tick<S: Screen>(
        &mut self,
        booth: &mut Booth<S>,
        now: Instant,
        reopen: &mut impl FnMut(&mut Booth<S>) -> anyhow::Result<()>,
    ) where
        S::Error: std::fmt::Display,
    {
        let err = match booth.tick(now) {
            // A tick that drew nothing (a result frame not yet due) proves nothing: the fault
            // and its backoff stand. (Clearing it there made the log flap between "failed" and
            // "drawing again" during every result loop, and the reopen never came due.)
            Ok(()) if !booth.drew() => return,
            Ok(()) => {
                if self.fault.take().is_some() {
                    tracing::info!("display drawing again");
                    booth.note_screen(None);
                }
                return;
            }
            Err(e) => e.to_string(),
        };
        booth.note_screen(Some(err.clone()));
        let Some(retry) = self.fault.as_mut() else {
            tracing::error!("display failed: {err}; the booth goes on and reopens it in {FIRST_REOPEN:?}");
            self.fault = Some(Retry::after(now, FIRST_REOPEN, MAX_REOPEN));
            return;
        };
        if !retry.is_due(now) {
            return;
        }
        // Until a tick draws, a reopened display counts as still failing: the wait doubles.
        retry.failed(now);
        match reopen(booth) {
            Ok(()) => tracing::info!("display reopened"),
            Err(e) => tracing::warn!("display still failing ({e:#}); next try in {:?}", retry.wait()),
        }
    }

    /// Whether the screen is failing now.
    pub fn failing(&self) -> bool {
        self.fault.is_some()
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use embedded_graphics::pixelcolor::Rgb888;
    use embedded_graphics::prelude::*;

    use super::*;
    use crate::assets::{GENERATOR, SAMPLE_PHOTOS};
    use crate::camera::FileSource;
    use crate::config::{AnimateConfig, BoothConfig, ExportConfig, StylizedPreview};
    use crate::display::HeadlessDisplay;
    use crate::model::{Generator, ModelSource};
    use crate::trigger::ScriptedTrigger;

    /// A screen whose every draw and present fails while `broken` is set, as a panel with a
    /// loose cable does.
    struct Flaky {
        inner: HeadlessDisplay,
        broken: Rc<Cell<bool>>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("SPI write failed: loose cable")]
    struct Loose;

    impl OriginDimensions for Flaky {
        fn size(&self) -> Size {
            self.inner.size()
        }
    }

    impl DrawTarget for Flaky {
        type Color = Rgb888;
        type Error = Loose;
        fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), Loose> {
            if self.broken.get() {
                return Err(Loose);
            }
            self.inner.draw_iter(pixels).map_err(|_| Loose)
        }
    }

    impl Screen for Flaky {
        fn present(&mut self) -> Result<(), Loose> {
            if self.broken.get() { Err(Loose) } else { self.inner.present().map_err(|_| Loose) }
        }
    }

    /// The panel's cable comes loose just as a guest presses the button and stays loose for
    /// 20 s: through the daemon's own [`ScreenKeeper`], the session still runs to a saved comic
    /// and the booth goes back to attract, the reopen tries back off (1, 2, 4 ... s, never more
    /// often), and the diagnostics count the failures; once the cable is back the booth draws.
    #[test]
    fn a_display_failing_through_a_whole_session_still_gets_the_comic_made_and_saved() {
        let broken = Rc::new(Cell::new(false));
        let flaky = || Flaky { inner: HeadlessDisplay::new(48, 32), broken: Rc::clone(&broken) };
        let dir = tempfile::tempdir().unwrap();
        let mut booth = Booth::new(
            flaky(),
            Box::new(FileSource::builtin(&SAMPLE_PHOTOS[..1])),
            false,
            vec![Box::new(ScriptedTrigger::new(vec![1]))],
            Generator::load(&ModelSource::Builtin(GENERATOR), 64, 64, 1).unwrap(),
            None,
            (
                AnimateConfig::default(),
                crate::look::Look::from_config(&crate::config::LookConfig { size: 64, ..Default::default() }),
            ),
            BoothConfig { countdown_s: 1, stylized_preview: StylizedPreview::Off, ..Default::default() },
            (ExportConfig { dir: dir.path().into(), quota_mb: 0, ..Default::default() }, Default::default()),
        );
        let (mut keeper, reopens) = (ScreenKeeper::default(), Cell::new(0));
        let t0 = Instant::now();
        let mut reopen = |b: &mut Booth<Flaky>| {
            reopens.set(reopens.get() + 1);
            anyhow::ensure!(!broken.get(), "/dev/spidev0.0: No such device");
            b.replace_screen(flaky());
            Ok(())
        };
        let mut now = t0;
        keeper.tick(&mut booth, now, &mut reopen);
        broken.set(true);
        let mut phases = vec![booth.phase().name()];
        let mut tries_at = Vec::new();
        let patience = Instant::now() + Duration::from_secs(300);
        // Loose for 20 s of the simulated clock, and at least until the comic is saved.
        while booth.saved.is_empty() || now < t0 + Duration::from_secs(20) {
            assert!(Instant::now() < patience, "no comic saved; phases {phases:?}");
            let before = reopens.get();
            keeper.tick(&mut booth, now, &mut reopen);
            if reopens.get() > before {
                tries_at.push(now - t0);
            }
            if phases.last() != Some(&booth.phase().name()) {
                phases.push(booth.phase().name());
            }
            if booth.phase().name() == "generating" {
                // The simulated clock waits for the worker (real time), as the booth tests do.
                std::thread::sleep(Duration::from_millis(5));
            } else {
                now += TICK;
            }
        }
        assert!(keeper.failing());
        // The session ran to its result and the booth went on to attract (show_s is 15 s).
        assert_eq!(
            phases,
            ["attract", "countdown", "capturing", "generating", "show", "attract"],
            "{phases:?}"
        );
        assert_eq!(booth.saved.len(), 1);
        assert!(booth.saved[0].exists());
        // The tries back off: 1, 2, 4, 8 s apart.
        let waits: Vec<Duration> = tries_at
            .iter()
            .zip(std::iter::once(&Duration::ZERO).chain(&tries_at))
            .map(|(a, b)| *a - *b)
            .collect();
        assert!(waits.len() >= 4, "{} reopen tries in 20 s: {waits:?}", waits.len());
        for (i, w) in waits.iter().enumerate() {
            let backoff = (FIRST_REOPEN * 2u32.pow(i as u32)).min(MAX_REOPEN);
            // (Due at a tick that draws: during the result loop, the next frame's.)
            let late = Duration::from_millis(250);
            assert!(*w >= backoff && *w < backoff + late, "reopen waits {waits:?}: not 1, 2, 4, 8 s");
        }
        let rows = booth.diagnostics(now);
        let display = rows.iter().find(|r| r.0.starts_with("Display")).expect("a display row");
        assert!(
            display.0.starts_with("Display: ")
                && display.0.contains("errors, SPI write failed")
                && !display.1,
            "{display:?}"
        );
        // The cable is back: the next due reopen works and the booth draws again.
        broken.set(false);
        let until = now + MAX_REOPEN * 2;
        while keeper.failing() && now < until {
            keeper.tick(&mut booth, now, &mut reopen);
            now += TICK;
        }
        assert!(!keeper.failing(), "the display never came back");
        assert_eq!(booth.phase().name(), "attract");
        assert!(booth.screen().inner.presented() > 0);
    }

    #[test]
    fn a_failing_display_is_counted_reopened_with_backoff_and_the_booth_goes_on() {
        let broken = Rc::new(Cell::new(false));
        let flaky = || Flaky { inner: HeadlessDisplay::new(48, 32), broken: Rc::clone(&broken) };
        let dir = tempfile::tempdir().unwrap();
        let mut booth = Booth::new(
            flaky(),
            Box::new(FileSource::builtin(&SAMPLE_PHOTOS[..1])),
            false,
            vec![Box::new(ScriptedTrigger::new(vec![]))],
            Generator::load(&ModelSource::Builtin(GENERATOR), 64, 64, 1).unwrap(),
            None,
            (AnimateConfig::default(), crate::look::Look::from_config(&Default::default())),
            BoothConfig { stylized_preview: StylizedPreview::Off, ..Default::default() },
            (ExportConfig { dir: dir.path().into(), quota_mb: 0, ..Default::default() }, Default::default()),
        );
        let (mut keeper, reopens) = (ScreenKeeper::default(), Cell::new(0));
        let mut reopen = |b: &mut Booth<Flaky>| {
            reopens.set(reopens.get() + 1);
            anyhow::ensure!(!broken.get(), "still broken");
            b.replace_screen(flaky());
            Ok(())
        };
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        keeper.tick(&mut booth, at(0), &mut reopen);
        assert!(!keeper.failing());
        broken.set(true);
        keeper.tick(&mut booth, at(33), &mut reopen);
        keeper.tick(&mut booth, at(500), &mut reopen);
        assert!(keeper.failing());
        assert_eq!(reopens.get(), 0, "reopened before the first backoff was over");
        keeper.tick(&mut booth, at(1100), &mut reopen);
        assert_eq!(reopens.get(), 1);
        // The wait doubled: nothing at 2.0 s, the next try after 3.1 s.
        keeper.tick(&mut booth, at(2000), &mut reopen);
        assert_eq!(reopens.get(), 1);
        keeper.tick(&mut booth, at(3200), &mut reopen);
        assert_eq!(reopens.get(), 2);
        let rows = booth.diagnostics(at(3200));
        let display = rows.iter().find(|r| r.0.starts_with("Display")).expect("a display row");
        assert_eq!(display, &("Display: 5 errors, SPI write failed: loose cable".to_owned(), false));
        // The cable is pushed back in: the next tick draws, and the booth says so.
        broken.set(false);
        keeper.tick(&mut booth, at(3300), &mut reopen);
        assert!(!keeper.failing());
        assert_eq!(booth.phase().name(), "attract");
        let rows = booth.diagnostics(at(3300));
        assert!(rows.iter().any(|r| r.0 == "Display: ok, 5 errors" && r.1), "{rows:?}");
        assert!(booth.screen().inner.presented() > 0);
    }
}
