//! The booth's worker thread: the generator runs here, so the main loop never waits for
//! inference. Sessions (generate, animate, save) and stylized previews come in as [`Job`]s;
//! progress and results go back as [`Outcome`]s.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

use image::RgbImage;

use crate::animate::{self, Animation};
use crate::config::{AnimateConfig, ExportConfig};
use crate::export;
use crate::look::Look;
use crate::model::{Gate, Generator};

/// What the booth asks of the worker.
pub(super) enum Job {
    Session { id: u64, frames: Vec<RgbImage> },
    Preview(RgbImage),
}

/// What the worker hands back.
pub(super) enum Outcome {
    Progress {
        id: u64,
        done: usize,
        total: usize,
    },
    /// The session's first picture is drawn: its ink on white and the finished picture.
    Drawn {
        id: u64,
        ink: RgbImage,
        full: RgbImage,
    },
    Done {
        id: u64,
        result: Result<(Animation, Result<PathBuf, String>), String>,
    },
    Preview(RgbImage),
}

/// The generator on its own thread: sessions (generate, animate, save) and previews.
pub(super) struct Worker {
    jobs: Option<Sender<Job>>,
    pub(super) outcomes: Receiver<Outcome>,
    thread: Option<JoinHandle<()>>,
    pub(super) preview_busy: bool,
    /// When the job in progress started; `None` while idle.
    pub(super) busy_since: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Worker {
    pub(super) fn start(
        generator: Generator,
        gate: Option<Gate>,
        (animate, look): (AnimateConfig, Look),
        export: ExportConfig,
    ) -> Worker {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (out_tx, outcomes) = mpsc::channel();
        let busy_since = std::sync::Arc::new(std::sync::Mutex::new(None));
        let busy = std::sync::Arc::clone(&busy_since);
        let set_busy = move |v: Option<Instant>| *busy.lock().unwrap_or_else(|p| p.into_inner()) = v;
        let thread = std::thread::Builder::new()
            .name("generator".into())
            .spawn(move || {
                for job in job_rx {
                    set_busy(Some(Instant::now()));
                    let sent = match job {
                        Job::Preview(img) => match generator.run(&img) {
                            Ok(comic) => out_tx.send(Outcome::Preview(comic)),
                            Err(_) => out_tx.send(Outcome::Preview(img)),
                        },
                        Job::Session { id, frames } => {
                            let models = (&generator, gate.as_ref());
                            let making = (&animate, &look, &export);
                            let progress = |done, total| {
                                let _ = out_tx.send(Outcome::Progress { id, done, total });
                            };
                            let drawn = |l: &crate::look::Layers| {
                                let _ =
                                    out_tx.send(Outcome::Drawn { id, ink: l.ink_only(), full: l.compose() });
                            };
                            let result = session(models, making, id, &frames, (progress, drawn));
                            // The guest sees the comic as soon as its first file is saved;
                            // the other formats are written after.
                            let rest = match &result {
                                Ok((anim, Ok(_))) => Some(anim.clone()),
                                _ => None,
                            };
                            let sent = out_tx.send(Outcome::Done { id, result });
                            if let Some(anim) = rest {
                                save_the_rest(&export, &anim);
                            }
                            sent
                        }
                    };
                    set_busy(None);
                    if sent.is_err() {
                        break;
                    }
                }
            })
            .expect("spawning the generator thread");
        Worker { jobs: Some(jobs), outcomes, thread: Some(thread), preview_busy: false, busy_since }
    }

    pub(super) fn send(&self, job: Job) {
        if let Some(j) = &self.jobs {
            let _ = j.send(job);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread after its current job.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Makes one session's comic at the frames' size ([`animate::comic_frames`]): one generator
/// run per burst frame (a boomerang of the guests' movement), or one for a still, which the
/// effects then move; then saves it in the first of `export.formats` (the rest follow in
/// [`save_the_rest`]). A failed save (full disk) still returns the animation, so the guest
/// sees their comic; only generation errors fail the session. A picture the gate finds
/// already comic-style is shown untouched.
fn session(
    (generator, gate): (&Generator, Option<&Gate>),
    (config, look, export): (&AnimateConfig, &Look, &ExportConfig),
    id: u64,
    frames: &[RgbImage],
    (progress, drawn): (impl Fn(usize, usize), impl FnMut(&crate::look::Layers)),
) -> Result<(Animation, Result<PathBuf, String>), String> {
    // The comic's id, the stem of its files and the last part of its page's address: 64
    // random bits, so no guest can guess another's.
    let label = crate::share::new_id(crate::share::unix_seconds()).unwrap_or_else(|e| {
        tracing::warn!("no random id ({e}); this comic's address can be guessed");
        format!("comic-{}-{:016x}", crate::share::unix_seconds(), id)
    });
    let small = generator.size();
    let first_small = crate::convert::resize(&frames[0], small.0, small.1);
    let points = if crate::model::already_comic(gate, &first_small) {
        progress(1, 1);
        frames.to_vec()
    } else {
        // A still is generated once; a burst once per frame.
        let total = frames.len();
        let mut done = 0;
        let generate = |img: &RgbImage| {
            let out = generator.run(img);
            done += 1;
            progress(done, total);
            out
        };
        animate::comic_frames_watched(frames, small, config, look, generate, drawn)
            .map_err(|e| e.to_string())?
    };
    let looped = AnimateConfig { loop_mode: animate::loop_mode(frames.len() > 1, config), ..config.clone() };
    let anim = animate::assemble(&points, &looped, &label);
    // The first format (the GIF by default) names the comic on the result screen.
    let saved = export::write_animation(&export.dir, &anim, &export.formats[..1])
        .map(|paths| paths.into_iter().next().unwrap_or_default())
        .map_err(|e| e.to_string());
    Ok((anim, saved))
}

/// Writes a saved comic's other formats, then keeps the folder within its quota and its days.
/// A failure (a full disk) is logged: the comic is already saved in its first format.
fn save_the_rest(export: &ExportConfig, anim: &Animation) {
    if let Err(e) = export::write_animation(&export.dir, anim, &export.formats[1..]) {
        tracing::warn!("{e}");
    }
    let quota = (export.quota_mb > 0).then(|| export.quota_mb as u64 * 1024 * 1024);
    let max_age =
        (export.keep_days > 0).then(|| std::time::Duration::from_secs(export.keep_days as u64 * 86_400));
    if quota.is_some() || max_age.is_some() {
        match export::prune(&export.dir, quota, max_age) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                quota_mb = export.quota_mb,
                keep_days = export.keep_days,
                "comics deleted: past the quota or older than export.keep_days"
            ),
            Err(e) => tracing::warn!("pruning {}: {e}", export.dir.display()),
        }
    }
}
