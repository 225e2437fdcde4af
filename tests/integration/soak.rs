//! A day of guests on a test clock: the whole booth (built-in photos as the camera, a headless
//! screen, a trigger that asks for a session whenever it is polled, the real generator worker
//! saving GIF and WebP under a quota, so pruning runs too) makes comic after comic while the
//! simulated clock moves 100 ms a tick. Resident memory (/proc/self/statm) and open file
//! descriptors (/proc/self/fd) are sampled after each comic; after a warm-up, memory may grow
//! by less than 1 MB and descriptors not at all.
//!
//! 50 comics in plain `cargo test` (a small comic: 32 px model, 64 px saved), 1,000 with
//! `COMICBOOTH_LONG=1` (or `COMICBOOTH_SOAK_COMICS=<n>`).
//!
//! The test binary runs tests on parallel threads, whose memory and files would count, so the
//! test re-runs this binary for the soak alone (`soak::soak_child`, which does nothing unless
//! `COMICBOOTH_SOAK_CHILD` is set) and reads its figures from the child's output.

use std::process::Command;
use std::time::{Duration, Instant};

use comicbooth::assets::SAMPLE_PHOTOS;
use comicbooth::booth::Booth;
use comicbooth::camera::FileSource;
use comicbooth::config::{
    AnimateConfig, BoothConfig, ExportConfig, LookConfig, ShareConfig, StylizedPreview,
};
use comicbooth::display::HeadlessDisplay;
use comicbooth::look::Look;
use comicbooth::model::{Generator, ModelSource};
use comicbooth::trigger::{Request, Trigger};

/// Comics made before the first sample counts (allocator arenas, caches, the first files).
const WARM_UP: usize = 10;
/// Largest resident-memory growth allowed after the warm-up.
const MAX_GROWTH: i64 = 1024 * 1024;

/// A guest at the button all day: asks for a session at every poll.
struct Always;

impl Trigger for Always {
    fn poll(&mut self, _now: Instant) -> Option<Request> {
        Some(Request::Session)
    }
    fn describe(&self) -> String {
        "always".into()
    }
}

fn rss_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: i64 =
        statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("statm's resident field");
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

fn comics_wanted() -> usize {
    if let Some(n) = std::env::var("COMICBOOTH_SOAK_COMICS").ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    if std::env::var("COMICBOOTH_LONG").is_ok_and(|v| v == "1") { 1000 } else { 50 }
}

/// The soak itself, only in the child process the test below starts: prints one
/// `SOAK comic=<n> rss=<bytes> fds=<n>` line per comic.
#[test]
fn soak_child() {
    let Ok(comics) = std::env::var("COMICBOOTH_SOAK_CHILD").map(|v| v.parse::<usize>().unwrap()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let generator = Generator::load(&ModelSource::Builtin(comicbooth::assets::GENERATOR), 32, 32, 1).unwrap();
    let animate = AnimateConfig { time_points: 3, ..AnimateConfig::default() };
    let config = BoothConfig {
        countdown_s: 1,
        show_s: 2,
        stylized_preview: StylizedPreview::Off,
        ..Default::default()
    };
    let mut booth = Booth::new(
        HeadlessDisplay::new(96, 64),
        Box::new(FileSource::builtin(&SAMPLE_PHOTOS)),
        false,
        vec![Box::new(Always)],
        generator,
        None,
        (animate, Look::from_config(&LookConfig { size: 64, ..LookConfig::default() })),
        config,
        // A 1 MB quota: the pruning deletes old comics as the soak goes (and is soaked too).
        (
            ExportConfig { dir: dir.path().to_owned(), quota_mb: 1, ..Default::default() },
            ShareConfig::default(),
        ),
    );
    let mut now = Instant::now();
    let mut made = 0;
    let mut was_show = false;
    let patience = Instant::now() + Duration::from_secs(60 + 30 * comics as u64);
    while made < comics {
        assert!(
            Instant::now() < patience,
            "the booth stalled in {} after {made} comics",
            booth.phase().name()
        );
        booth.tick(now).unwrap();
        let show = booth.phase().name() == "show";
        if show && !was_show {
            made += 1;
            // Sampled once the worker has also written the other format and pruned: while it
            // writes, its file (and the folder it syncs) are open.
            while booth.worker_busy() {
                assert!(Instant::now() < patience, "the worker never finished comic {made}");
                std::thread::sleep(Duration::from_millis(1));
            }
            println!("SOAK comic={made} rss={} fds={}", rss_bytes(), open_fds());
        }
        was_show = show;
        if booth.phase().name() == "generating" {
            // The clock stands still while the worker makes the comic (no simulated timeout).
            std::thread::sleep(Duration::from_millis(2));
        } else {
            now += Duration::from_millis(100);
        }
    }
    assert_eq!(booth.saved.len(), comics, "every comic saved");
}

#[test]
fn comics_all_day_hold_memory_and_descriptors() {
    let comics = comics_wanted();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "soak::soak_child", "--nocapture", "--test-threads", "1"])
        .env("COMICBOOTH_SOAK_CHILD", comics.to_string())
        .env("RUST_LOG", "off")
        .output()
        .expect("the test binary runs again for the soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the soak failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(usize, i64, usize)> = stdout
        .lines()
        .filter_map(|l| {
            let l = &l[l.find("SOAK ")? + 5..];
            let field = |k: &str| l.split_whitespace().find_map(|f| f.strip_prefix(k))?.parse::<i64>().ok();
            Some((field("comic=")? as usize, field("rss=")?, field("fds=")? as usize))
        })
        .collect();
    assert_eq!(samples.len(), comics, "one sample per comic:\n{stdout}");
    let (_, rss0, fds0) = samples[WARM_UP - 1];
    let (_, rss1, fds1) = *samples.last().unwrap();
    let peak = samples[WARM_UP - 1..].iter().map(|s| s.1).max().unwrap();
    println!(
        "soak: {comics} comics; after {WARM_UP} (warm-up): RSS {:.1} MB, {fds0} fds; at the end: RSS {:.1} MB \
         (peak {:.1} MB), {fds1} fds",
        rss0 as f64 / 1048576.0,
        rss1 as f64 / 1048576.0,
        peak as f64 / 1048576.0
    );
    assert!(
        rss1 - rss0 < MAX_GROWTH,
        "resident memory grew by {} KB over {} comics after the warm-up (allowed: under 1024 KB): a leak \
         in the booth, the worker or the export; samples (comic, rss, fds): {:?}",
        (rss1 - rss0) / 1024,
        comics - WARM_UP,
        samples
    );
    assert_eq!(
        fds1,
        fds0,
        "open file descriptors went from {fds0} to {fds1} over {} comics: a file or device left open; \
         samples (comic, rss, fds): {samples:?}",
        comics - WARM_UP
    );
}
