//! SIGTERM while saving: the real `comicbooth demo` (four comics, each saved as GIF and WebP,
//! plus the screen's PNGs, all through `export::atomic_write`) is killed at random moments
//! once it has started saving, 100 times in a row into the same folder, so every run also
//! overwrites the comics of the run before. The demo does not catch SIGTERM: each kill is a
//! hard stop mid-write, the worst case (the booth itself finishes its save first).
//!
//! After each kill: every file with a picture's name decodes in full (GIF and WebP through the
//! `image` crate, every frame; PNGs), and the only other files are the hidden temporary files of
//! the killed process (`.NAME.tmp-PID`), never a comic's name. At the end, the booth's pruning
//! (`export::prune`, run after every comic and at start) deletes those leftovers.
//!
//! `COMICBOOTH_SAVE_KILLS=<n>` changes the count; `COMICBOOTH_SEED=<n>` replays a run's delays.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::util::files_in;

/// A small xorshift generator: the delays, replayable from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn is_temp(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
}

/// Decodes a saved file completely; `Err` says why not.
fn decodes(p: &Path) -> Result<usize, String> {
    use image::AnimationDecoder;
    let file = std::io::BufReader::new(std::fs::File::open(p).map_err(|e| e.to_string())?);
    let frames = match p.extension().and_then(|e| e.to_str()) {
        Some("gif") => image::codecs::gif::GifDecoder::new(file).map_err(|e| e.to_string())?.into_frames(),
        Some("webp") => image::codecs::webp::WebPDecoder::new(file).map_err(|e| e.to_string())?.into_frames(),
        Some("png") => {
            return image::open(p).map(|_| 1).map_err(|e| e.to_string());
        }
        _ => return Err("not a file comicbooth writes".into()),
    };
    let frames = frames.collect_frames().map_err(|e| e.to_string())?;
    if frames.is_empty() { Err("no frames".into()) } else { Ok(frames.len()) }
}

/// Checks the folder after a run: every visible file decodes, every other file is a hidden
/// temporary file. `known` holds the visible files already decoded, by modification time.
fn check(dir: &Path, run: &str, known: &mut HashMap<PathBuf, SystemTime>) {
    for p in files_in(dir) {
        if is_temp(&p) {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "{run}: unexpected hidden file {}", p.display());
        let modified = std::fs::metadata(&p).and_then(|m| m.modified()).unwrap();
        // Only files written since the last check need decoding again.
        if known.get(&p) == Some(&modified) {
            continue;
        }
        if let Err(e) = decodes(&p) {
            panic!("{run}: {} is corrupt ({e}): a kill while saving left a broken file visible", p.display());
        }
        known.insert(p, modified);
    }
}

#[test]
fn sigterm_while_saving_never_leaves_a_broken_comic() {
    let kills: usize =
        std::env::var("COMICBOOTH_SAVE_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let seed = std::env::var("COMICBOOTH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    println!("save_kill: seed {seed} (COMICBOOTH_SEED={seed} replays these delays)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("demo.toml");
    // A small comic: the whole demo takes a fraction of a second.
    std::fs::write(
        &config,
        "[model]\nsize = 32\ngate = false\n\n[look]\nsize = 64\n\n[animate]\ntime_points = 3\n\n\
         [display]\nwidth = 96\nheight = 64\n",
    )
    .unwrap();
    let out = tmp.path().join("comics");
    let demo = || {
        Command::new(env!("CARGO_BIN_EXE_comicbooth"))
            .args(["--config", config.to_str().unwrap(), "demo", "--out", out.to_str().unwrap()])
            .env("RUST_LOG", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("comicbooth demo starts")
    };
    // Spawns the demo and waits for its first temporary file (its first save under way), or
    // its end; returns the child and when that was.
    let start_saving = || {
        let mut child = demo();
        loop {
            if child.try_wait().unwrap().is_some() || files_in(&out).iter().any(|p| is_temp(p)) {
                return (child, Instant::now());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    };

    // Whole runs: how long the saving part lasts (the window the kills are spread over). The
    // shortest of three, since the first run also pays for a cold disk cache and the tests
    // around this one load the machine unevenly.
    let mut known = HashMap::new();
    let mut window = Duration::MAX;
    for run in 0..3 {
        let (mut child, saving) = start_saving();
        assert!(child.wait().unwrap().success(), "the demo failed without being killed");
        window = window.min(saving.elapsed());
        check(&out, &format!("uninterrupted run {run}"), &mut known);
    }
    window = window.max(Duration::from_millis(20));
    let comics = files_in(&out).iter().filter(|p| p.extension().is_some_and(|e| e == "gif")).count();
    assert_eq!(comics, 4, "four comics from the uninterrupted demo");

    let mut killed_mid_run = 0;
    for i in 0..kills {
        let (mut child, saving) = start_saving();
        let delay = Duration::from_micros(rng.below(window.as_micros() as u64));
        while saving.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                // It finished before its kill: this machine saves faster now than when the
                // window was measured, so the next kills aim within what it took.
                window = window.min(saving.elapsed()).max(Duration::from_millis(20));
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        // SAFETY: signalling our own child, which has not been waited for yet.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        killed_mid_run += (!status.success()) as usize;
        check(&out, &format!("kill {i} ({delay:?} into saving, {status})"), &mut known);
    }
    let left = files_in(&out).into_iter().filter(|p| is_temp(p)).count();
    println!(
        "save_kill: {kills} runs killed at random in a saving window of {window:?} at the end ({killed_mid_run} before they \
         finished); every visible file decoded; {left} temporary files of killed runs left before pruning"
    );
    assert!(
        killed_mid_run > kills / 2,
        "only {killed_mid_run} of {kills} kills landed before the demo ended"
    );
    // What the booth does after every comic (and at start): the killed runs' leftovers go.
    comicbooth::export::prune(&out, None, None).unwrap();
    let remaining: Vec<_> =
        files_in(&out).into_iter().filter(|p| is_temp(p) && p.parent() == Some(&out)).collect();
    assert!(remaining.is_empty(), "temporary files of killed runs survived the pruning: {remaining:?}");
}
