//! The booth a guest walks up to: attract (live preview) -> countdown -> capture (a burst from
//! a live camera, one frame per tick as it comes due, so the screen and the watchdog never
//! wait) -> generate (on a worker thread, so the screen keeps refreshing) -> show the loop ->
//! attract.
//! Every state has a timeout; a lost camera shows its own screen until the camera is back.
//! The operator's diagnostics screen (SIGUSR2, the D key, or holding the button) shows what
//! `comicbooth check` would find, live: camera, dropped frames, model, comics, disk.
//!
//! [`Booth::tick`] advances the machine by one step at a given instant and draws one screen;
//! `daemon` calls it about 30 times a second, tests call it with scripted triggers.

mod worker;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::animate::Animation;
use crate::camera::{CameraError, FrameSource};
use crate::config::{AnimateConfig, BoothConfig, ExportConfig, ShareConfig, StylizedPreview};
use crate::convert;
use crate::display::{Screen, screens};
use crate::look::Look;
use crate::model::{Gate, Generator};
use crate::trigger::{Request, Trigger};
use worker::{Job, Outcome, Worker};

/// A stylized preview is used in `auto` mode when one generator run is at most this long: a
/// run after the warm-up, timed when the booth starts (the warm-up run itself allocates and is
/// several times slower, so it would turn the preview off on boards fast enough for it).
const FAST_ENOUGH: Duration = Duration::from_millis(150);
/// How long the booth waits for one preview frame in attract.
const PREVIEW_WAIT: Duration = Duration::from_millis(60);
/// How long one tick waits for a burst frame that is due (a frame interval and then some); a
/// frame that does not come is asked for again on the next tick.
const BURST_FRAME_WAIT: Duration = Duration::from_millis(100);
/// How long a burst may take beyond its planned length before the booth goes on with the
/// frames it has (or gives up, with none).
const BURST_GRACE: Duration = Duration::from_secs(3);
/// How long the diagnostics screen stays up unless dismissed.
const DIAGNOSTICS_FOR: Duration = Duration::from_secs(30);
/// Free space below which the diagnostics screen shows the disk in red.
const LOW_DISK: u64 = 50 * 1024 * 1024;

/// Where the booth is.
#[derive(Debug)]
pub enum Phase {
    /// Waiting for a guest, showing the preview.
    Attract,
    /// Counting down to the capture.
    Countdown {
        /// When the picture is taken.
        until: Instant,
    },
    /// Taking the burst, a frame each time one is due (the frames are kept by the booth).
    Capturing {
        /// When the next frame is due.
        next: Instant,
        /// Frames the session takes.
        total: usize,
        /// When the booth stops waiting for missing frames.
        give_up: Instant,
    },
    /// The worker is making the comic.
    Generating {
        /// Session number.
        id: u64,
        /// When it started (for the timeout).
        started: Instant,
        /// Pictures done.
        done: usize,
        /// Pictures in all.
        total: usize,
    },
    /// Looping the result.
    Show {
        /// The animation.
        anim: Animation,
        /// Its caption.
        caption: String,
        /// When it started (for the timeout).
        started: Instant,
    },
    /// The camera is gone; waiting for it.
    CameraLost {
        /// Since when.
        since: Instant,
    },
    /// The operator's diagnostics screen.
    Diagnostics {
        /// When it goes back to attract by itself.
        until: Instant,
    },
}

impl Phase {
    /// A short name for logs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Attract => "attract",
            Phase::Countdown { .. } => "countdown",
            Phase::Capturing { .. } => "capturing",
            Phase::Generating { .. } => "generating",
            Phase::Show { .. } => "show",
            Phase::CameraLost { .. } => "camera-lost",
            Phase::Diagnostics { .. } => "diagnostics",
        }
    }

    /// A line for systemd's STATUS=.
    pub fn status(&self) -> &'static str {
        match self {
            Phase::Attract => "attract: waiting for a guest",
            Phase::Countdown { .. } => "countdown",
            Phase::Capturing { .. } => "taking the pictures",
            Phase::Generating { .. } => "making a comic",
            Phase::Show { .. } => "showing a comic",
            Phase::CameraLost { .. } => "camera lost: reconnecting",
            Phase::Diagnostics { .. } => "diagnostics screen",
        }
    }
}

/// How long one generator run takes once warm (`None` if it failed: no stylized preview then).
fn steady_run(generator: &Generator) -> Option<Duration> {
    let (w, h) = generator.size();
    let grey = RgbImage::from_pixel(w, h, image::Rgb([128, 128, 128]));
    let started = Instant::now();
    generator.run(&grey).ok()?;
    Some(started.elapsed())
}

/// The booth: one screen, one camera, some triggers and the generator worker.
pub struct Booth<S: Screen> {
    screen: S,
    source: Box<dyn FrameSource>,
    triggers: Vec<Box<dyn Trigger>>,
    worker: Worker,
    config: BoothConfig,
    /// The generator's square side (previews are captured at it).
    side: u32,
    /// The comic's short side: burst frames are captured at it (or the camera's own, if less).
    comic_side: u32,
    /// Whether the source is a live camera (a burst) or photos (one still per session).
    live: bool,
    /// The frames of the burst being taken.
    burst: Vec<RgbImage>,
    /// The take-home settings: the result screen's QR codes.
    share: ShareConfig,
    /// The QR codes of the comic being shown (sharing on, comic saved).
    codes: Option<screens::ShareCodes>,
    /// The making-of's pictures while a comic is made, and when its first picture was drawn.
    sketch: Option<(screens::Sketch, Option<Instant>)>,
    stylize_preview: bool,
    preview_every: Duration,
    phase: Phase,
    preview: Option<RgbImage>,
    last_preview: Option<Instant>,
    show_frame: usize,
    next_show_frame: Option<Instant>,
    sessions: u64,
    /// Animations saved so far.
    pub saved: Vec<PathBuf>,
    health: Health,
    /// Whether the last tick drew on the screen (a result frame not yet due draws nothing).
    drew: bool,
}

/// What the diagnostics screen reports beyond the camera's own counters.
struct Health {
    started: Instant,
    model: String,
    export_dir: PathBuf,
    made: u64,
    last_generate: Option<Duration>,
    /// Why the last save failed (cleared by the next good save): a full or read-only disk.
    save_problem: Option<String>,
    /// Ticks whose drawing failed, and why the screen is failing now (`None` once it draws).
    screen_errors: u64,
    screen_problem: Option<String>,
    next_draw: Option<Instant>,
}

impl<S: Screen> Booth<S>
where
    S::Error: std::fmt::Display,
{
    /// Assembles a booth. `live` says whether the source is a camera (previews refresh often)
    /// or photos (previews change every two seconds).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        screen: S,
        source: Box<dyn FrameSource>,
        live: bool,
        triggers: Vec<Box<dyn Trigger>>,
        generator: Generator,
        gate: Option<Gate>,
        (animate, look): (AnimateConfig, Look),
        config: BoothConfig,
        (export, share): (ExportConfig, ShareConfig),
    ) -> Booth<S> {
        let side = generator.size().0;
        let stylize_preview = match config.stylized_preview {
            StylizedPreview::On => true,
            StylizedPreview::Off => false,
            StylizedPreview::Auto => steady_run(&generator).is_some_and(|t| t <= FAST_ENOUGH),
        };
        tracing::info!(
            stylize_preview,
            triggers = ?triggers.iter().map(|t| t.describe()).collect::<Vec<_>>(),
            "booth ready"
        );
        let health = Health {
            started: Instant::now(),
            model: format!("{} {side}px", generator.manifest().name),
            export_dir: export.dir.clone(),
            made: 0,
            last_generate: None,
            save_problem: None,
            screen_errors: 0,
            screen_problem: None,
            next_draw: None,
        };
        Booth {
            screen,
            source,
            triggers,
            comic_side: look.size,
            live,
            burst: Vec::new(),
            share,
            codes: None,
            sketch: None,
            worker: Worker::start(generator, gate, (animate, look), export),
            config,
            side,
            stylize_preview,
            preview_every: if live { Duration::from_millis(100) } else { Duration::from_secs(2) },
            phase: Phase::Attract,
            preview: None,
            last_preview: None,
            show_frame: 0,
            next_show_frame: None,
            sessions: 0,
            saved: Vec::new(),
            health,
            drew: false,
        }
    }

    /// Where the booth is now.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The screen (tests read its pixels).
    pub fn screen(&self) -> &S {
        &self.screen
    }

    /// Puts `screen` in place of the current one (a display reopened after a fault) and
    /// returns the old one; the next tick draws the whole picture again.
    pub fn replace_screen(&mut self, screen: S) -> S {
        self.health.next_draw = None;
        std::mem::replace(&mut self.screen, screen)
    }

    /// Whether the last [`Booth::tick`] drew on the screen: a tick that only waits for the
    /// next result frame (or the diagnostics' next refresh) draws nothing, so its `Ok` says
    /// nothing about a failing display.
    pub fn drew(&self) -> bool {
        self.drew
    }

    /// Records how drawing went for the diagnostics screen: `Some(why)` for a tick whose
    /// drawing failed (counted), `None` once it draws again.
    pub fn note_screen(&mut self, problem: Option<String>) {
        self.health.screen_errors += problem.is_some() as u64;
        self.health.screen_problem = problem;
    }

    /// When the next result frame is due, while a result is looping: the main loop wakes for
    /// it instead of waiting for its next tick, so frames keep their own rhythm rather than
    /// the tick's (150 ms frames on 33 ms ticks would otherwise land 132 or 165 ms apart).
    pub fn next_frame_due(&self) -> Option<Instant> {
        match self.phase {
            Phase::Show { .. } => self.next_show_frame,
            _ => None,
        }
    }

    /// Whether the generator's thread is on a job now (making a comic, saving its other
    /// formats, pruning, a preview).
    pub fn worker_busy(&self) -> bool {
        self.worker.busy_since.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Whether the booth is working: false once the generator has been on one job for twice
    /// the generation timeout (a hung inference), so the service stops pinging systemd's
    /// watchdog and gets restarted.
    pub fn healthy(&self, now: Instant) -> bool {
        let limit = Duration::from_secs(2 * self.config.generate_timeout_s as u64);
        let since = *self.worker.busy_since.lock().unwrap_or_else(|p| p.into_inner());
        since.is_none_or(|t| now.saturating_duration_since(t) < limit)
    }

    /// One step: poll the triggers, move on if a state is done or timed out, draw its screen.
    pub fn tick(&mut self, now: Instant) -> Result<(), S::Error> {
        let (mut fired, mut diagnostics) = (false, false);
        for t in &mut self.triggers {
            match t.poll(now) {
                Some(Request::Session) => fired = true,
                Some(Request::Diagnostics) => diagnostics = true,
                None => {}
            }
        }
        let before = std::mem::discriminant(&self.phase);
        self.drain_worker(now);
        // A trigger polled before the worker's result moved the booth on belongs to the phase it
        // was polled in (generating ignores triggers). Carried over, a timer that ran out while
        // the comic was being made would start the next session in the very tick the result
        // appears, and the result would never be on the screen.
        if std::mem::discriminant(&self.phase) != before {
            (fired, diagnostics) = (false, false);
        }
        let next = match &self.phase {
            // A guest's comic in the making is never abandoned for the diagnostics screen.
            Phase::Generating { .. } | Phase::Capturing { .. } if diagnostics => None,
            Phase::Diagnostics { .. } if diagnostics || fired => Some(Phase::Attract),
            Phase::Diagnostics { until } if now >= *until => Some(Phase::Attract),
            Phase::Diagnostics { .. } => None,
            _ if diagnostics => Some(Phase::Diagnostics { until: now + DIAGNOSTICS_FOR }),
            Phase::Attract if fired => {
                Some(Phase::Countdown { until: now + Duration::from_secs(self.config.countdown_s as u64) })
            }
            Phase::Attract => None,
            Phase::Countdown { until } if now >= *until => {
                // A photo source gives a different photo each time: one still per session.
                let total = if self.live { self.config.burst as usize } else { 1 };
                let planned = Duration::from_millis(self.config.burst_gap_ms as u64 * (total as u64 - 1));
                self.burst.clear();
                Some(Phase::Capturing { next: now, total, give_up: now + planned + BURST_GRACE })
            }
            Phase::Countdown { .. } => None,
            Phase::Capturing { .. } => self.capture(now),
            Phase::Generating { started, .. }
                if now.duration_since(*started)
                    > Duration::from_secs(self.config.generate_timeout_s as u64) =>
            {
                tracing::error!(
                    "making the comic took over {} s; session abandoned",
                    self.config.generate_timeout_s
                );
                Some(Phase::Attract)
            }
            Phase::Generating { .. } => None,
            Phase::Show { .. } if fired => {
                Some(Phase::Countdown { until: now + Duration::from_secs(self.config.countdown_s as u64) })
            }
            Phase::Show { started, .. }
                if now.duration_since(*started) > Duration::from_secs(self.config.show_s as u64) =>
            {
                Some(Phase::Attract)
            }
            Phase::Show { .. } => None,
            Phase::CameraLost { .. } => None,
        };
        if let Some(next) = next {
            self.enter(next, now);
        }
        self.draw(now)
    }

    fn enter(&mut self, next: Phase, now: Instant) {
        tracing::info!(from = self.phase.name(), to = next.name(), "booth");
        if matches!(next, Phase::Diagnostics { .. }) {
            // What the screen shows, in the log too (for a remote look, and for the tests).
            let rows: Vec<String> = self.diagnostics(now).into_iter().map(|r| r.0).collect();
            tracing::info!("diagnostics: {}", rows.join(" | "));
        }
        if matches!(next, Phase::Show { .. }) {
            self.show_frame = 0;
            self.next_show_frame = None;
        }
        self.health.next_draw = None;
        if !matches!(next, Phase::Generating { .. }) {
            self.sketch = None;
        }
        if matches!(next, Phase::Show { .. } | Phase::Attract) {
            self.triggers.iter_mut().for_each(|t| t.reset(now));
        }
        self.phase = next;
    }

    fn drain_worker(&mut self, now: Instant) {
        while let Ok(outcome) = self.worker.outcomes.try_recv() {
            match outcome {
                Outcome::Preview(img) => {
                    self.worker.preview_busy = false;
                    self.preview = Some(img);
                }
                Outcome::Progress { id, done: d, total: t } => {
                    if let Phase::Generating { id: current, done, total, .. } = &mut self.phase
                        && *current == id
                    {
                        (*done, *total) = (d, t);
                    }
                }
                Outcome::Drawn { id, ink, full } => {
                    if matches!(self.phase, Phase::Generating { id: c, .. } if c == id)
                        && let Some((sketch, at)) = &mut self.sketch
                    {
                        sketch.drawn(&ink, &full);
                        *at = Some(now);
                    }
                }
                Outcome::Done { id, result } => {
                    let current = matches!(self.phase, Phase::Generating { id: c, .. } if c == id);
                    if let Phase::Generating { started, .. } = &self.phase
                        && current
                    {
                        self.health.last_generate = Some(now.saturating_duration_since(*started));
                    }
                    match result {
                        Ok((anim, saved)) => {
                            self.health.made += 1;
                            let caption = match saved {
                                Ok(path) => {
                                    tracing::info!(file = %path.display(), frames = anim.frames.len(), "comic saved");
                                    let id =
                                        path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                                    self.codes = crate::share::codes(&self.share, &id);
                                    self.saved.push(path);
                                    self.health.save_problem = None;
                                    "Your comic is saved!".to_owned()
                                }
                                Err(e) => {
                                    tracing::error!("comic not saved (the booth goes on): {e}");
                                    self.codes = None;
                                    self.health.save_problem = Some(e);
                                    "Not saved: storage problem".to_owned()
                                }
                            };
                            if current {
                                self.enter(Phase::Show { anim, caption, started: now }, now);
                            }
                        }
                        Err(e) => {
                            tracing::error!("making the comic failed: {e}");
                            if current {
                                self.enter(Phase::Attract, now);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Takes the burst's next frame when it is due (waiting at most [`BURST_FRAME_WAIT`]), shows
    /// it as the preview, and hands the burst to the worker once it is complete, or once
    /// [`BURST_GRACE`] has passed with at least one frame.
    fn capture(&mut self, now: Instant) -> Option<Phase> {
        let Phase::Capturing { next, total, give_up } = self.phase else { return None };
        let gap = Duration::from_millis(self.config.burst_gap_ms as u64);
        if now >= next && self.burst.len() < total {
            let side = self.comic_side;
            match crate::camera::capture_with(self.source.as_mut(), BURST_FRAME_WAIT, |f| {
                convert::frame_to_square(f, side.min(f.width).min(f.height))
            }) {
                Ok(Ok(img)) => {
                    self.preview = Some(convert::resize(&img, self.side, self.side));
                    self.burst.push(img);
                    // Late frames do not bunch up: the next is due at least half a gap later.
                    let next = (next + gap).max(now + gap / 2);
                    self.phase = Phase::Capturing { next, total, give_up };
                }
                Ok(Err(e)) => tracing::warn!("frame dropped: {e}"),
                Err(e @ CameraError::Lost { .. }) => {
                    tracing::warn!("capture failed: {e}");
                    self.burst.clear();
                    return Some(Phase::CameraLost { since: now });
                }
                Err(e) => tracing::debug!("no burst frame yet: {e}"),
            }
        }
        if self.burst.len() < total && now < give_up {
            return None;
        }
        if self.burst.is_empty() {
            tracing::warn!("no frame came from the camera; session abandoned");
            return Some(Phase::Attract);
        }
        if self.burst.len() < total {
            tracing::warn!(
                taken = self.burst.len(),
                total,
                "burst cut short: the camera gave too few frames"
            );
        }
        let frames = std::mem::take(&mut self.burst);
        self.sessions += 1;
        self.sketch = Some((screens::Sketch::new(&frames[0], self.screen.size()), None));
        let total = if frames.len() == 1 { 0 } else { frames.len() };
        self.worker.send(Job::Session { id: self.sessions, frames });
        Some(Phase::Generating { id: self.sessions, started: now, done: 0, total })
    }

    /// Refreshes the preview from the camera when it is due; notices a lost camera.
    fn refresh_preview(&mut self, now: Instant) {
        if self.last_preview.is_some_and(|t| now.duration_since(t) < self.preview_every) {
            return;
        }
        self.last_preview = Some(now);
        let side = self.side;
        match crate::camera::capture_with(self.source.as_mut(), PREVIEW_WAIT, |f| {
            convert::frame_to_square(f, side)
        }) {
            Ok(Ok(img)) => {
                if matches!(self.phase, Phase::CameraLost { .. }) {
                    tracing::info!("camera back");
                    self.enter(Phase::Attract, now);
                }
                if self.stylize_preview && !self.worker.preview_busy {
                    self.worker.preview_busy = true;
                    self.worker.send(Job::Preview(img));
                } else if !self.stylize_preview {
                    self.preview = Some(img);
                }
            }
            Ok(Err(e)) => tracing::debug!("preview frame dropped: {e}"),
            Err(CameraError::Lost { .. }) if !matches!(self.phase, Phase::CameraLost { .. }) => {
                self.enter(Phase::CameraLost { since: now }, now);
            }
            Err(e) => tracing::debug!("no preview frame: {e}"),
        }
    }

    fn draw(&mut self, now: Instant) -> Result<(), S::Error> {
        self.drew = true;
        match &self.phase {
            Phase::Attract | Phase::Countdown { .. } | Phase::CameraLost { .. } => self.refresh_preview(now),
            _ => {}
        }
        match &self.phase {
            Phase::Attract => screens::attract(&mut self.screen, self.preview.as_ref(), "Press the button!"),
            Phase::Countdown { until } => {
                let left = until.saturating_duration_since(now).as_secs_f32().ceil() as u32;
                screens::countdown(&mut self.screen, self.preview.as_ref(), left.max(1))
            }
            Phase::Capturing { total, .. } => {
                screens::capturing(&mut self.screen, self.preview.as_ref(), self.burst.len(), *total)
            }
            Phase::Generating { done, total, .. } => {
                let sketch = self.sketch.as_ref();
                let since_drawn = sketch.and_then(|(_, at)| *at).map(|t| now.saturating_duration_since(t));
                // Redrawn every tick while the picture is being inked and coloured; otherwise
                // only its lettering can change, four times a second is enough.
                let wiping = since_drawn.is_some_and(|t| t <= screens::INKING + screens::COLOURING);
                if !wiping && self.health.next_draw.is_some_and(|t| now < t) {
                    self.drew = false;
                    return Ok(());
                }
                self.health.next_draw = Some(now + Duration::from_millis(250));
                screens::making(&mut self.screen, sketch.map(|(s, _)| s), since_drawn, *done, (*total).max(1))
            }
            Phase::Show { anim, caption, started } => {
                // Paced to the animation's frame time, whatever the tick rate.
                if self.next_show_frame.is_some_and(|t| now < t) {
                    self.drew = false;
                    return Ok(());
                }
                let frame = &anim.frames[self.show_frame % anim.frames.len()];
                self.show_frame += 1;
                self.next_show_frame = Some(
                    self.next_show_frame.map_or(now, |t| t.max(now - anim.frame_time)) + anim.frame_time,
                );
                let shown = now.saturating_duration_since(*started);
                screens::result(&mut self.screen, frame, caption, self.codes.as_ref(), shown)
            }
            Phase::CameraLost { since } => {
                screens::camera_lost(&mut self.screen, now.duration_since(*since).as_secs())
            }
            Phase::Diagnostics { .. } => {
                // Its figures change slowly: redrawn twice a second, not every tick.
                if self.health.next_draw.is_some_and(|t| now < t) {
                    self.drew = false;
                    return Ok(());
                }
                self.health.next_draw = Some(now + Duration::from_millis(500));
                let items = self.diagnostics(now);
                screens::diagnostics(&mut self.screen, &items)
            }
        }
    }

    /// The diagnostics screen's lines, each with whether it is healthy (white) or not (red):
    /// what `comicbooth check` reports, taken from the running booth instead of reopening
    /// the camera and the model.
    pub fn diagnostics(&self, now: Instant) -> Vec<(String, bool)> {
        let h = &self.health;
        let st = self.source.stats();
        let connected = self.source.connected();
        let dropped = st.dropped_error_flag + st.dropped_short + st.dropped_corrupt;
        let disk = match (&h.save_problem, crate::export::free_space(&h.export_dir)) {
            (Some(problem), _) => (format!("Not saving: {problem}"), false),
            (None, Ok(free)) => (format!("Disk: {} MB free", free / (1024 * 1024)), free >= LOW_DISK),
            (None, Err(e)) => (format!("Disk: {}: {e}", h.export_dir.display()), false),
        };
        let up = now.saturating_duration_since(h.started).as_secs();
        let display = (h.screen_errors > 0).then(|| match &h.screen_problem {
            // Short first, so a 240 px panel shows the count before the reason is clipped.
            Some(p) => (format!("Display: {} errors, {p}", h.screen_errors), false),
            None => (format!("Display: ok, {} errors", h.screen_errors), true),
        });
        let mut items = vec![
            (format!("Camera: {}", if connected { "ok" } else { "LOST" }), connected),
            (self.source.describe(), connected),
            match st.frozen {
                0 => (format!("Frames {} dropped {}", st.frames, dropped), true),
                // Red while the picture is frozen now.
                n => (format!("Frames {} dropped {} frozen {n}x", st.frames, dropped), !st.frozen_now),
            },
            (format!("Camera lost {}x, back {}x", st.lost, st.reconnects), connected),
            (format!("Model: {}", h.model), true),
            (
                match h.last_generate {
                    Some(d) => format!(
                        "Comics {} made, {} saved, last {:.1} s",
                        h.made,
                        self.saved.len(),
                        d.as_secs_f32()
                    ),
                    None => format!("Comics {} made, {} saved", h.made, self.saved.len()),
                },
                true,
            ),
            disk,
        ];
        items.extend(display);
        items.push((format!("Up {}h{:02}m  v{}", up / 3600, up / 60 % 60, env!("CARGO_PKG_VERSION")), true));
        items
    }
}
