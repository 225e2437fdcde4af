//! The whole booth driven without hardware: the built-in photos as the camera, an in-memory
//! headless screen, scripted triggers and a simulated clock. Asserts what the screens show.

use std::time::{Duration, Instant};

use comicbooth::assets::SAMPLE_PHOTOS;
use comicbooth::booth::Booth;
use comicbooth::camera::{CameraError, FileSource, Frame, FrameSource};
use comicbooth::config::{
    AnimateConfig, BoothConfig, ExportConfig, LookConfig, LoopMode, ShareConfig, StylizedPreview,
};
use comicbooth::display::HeadlessDisplay;
use comicbooth::display::screens::{ALARM, FAULT, YELLOW};
use comicbooth::look::Look;
use comicbooth::model::{Generator, ModelSource};
use comicbooth::trigger::{Request, ScriptedTrigger, Trigger};

const W: u32 = 320;
const H: u32 = 240;
const STEP: Duration = Duration::from_millis(100);

fn pixel(b: &Booth<HeadlessDisplay>, x: u32, y: u32) -> [u8; 3] {
    b.screen().pixels().get_pixel(x, y).0
}

fn is(c: [u8; 3], e: embedded_graphics::pixelcolor::Rgb888) -> bool {
    use embedded_graphics::pixelcolor::RgbColor;
    c == [e.r(), e.g(), e.b()]
}

fn yellow_in_centre(b: &Booth<HeadlessDisplay>) -> usize {
    let mut n = 0;
    for y in H / 3..2 * H / 3 {
        for x in W / 3..2 * W / 3 {
            n += is(pixel(b, x, y), YELLOW) as usize;
        }
    }
    n
}

fn booth(
    source: Box<dyn FrameSource>,
    triggers: Vec<Box<dyn Trigger>>,
    dir: &std::path::Path,
) -> Booth<HeadlessDisplay> {
    booth_on(source, false, BoothConfig::default(), triggers, dir, ShareConfig::default())
}

/// A booth on `source`, a live camera when `live`, with `config`'s burst settings.
fn booth_on(
    source: Box<dyn FrameSource>,
    live: bool,
    config: BoothConfig,
    triggers: Vec<Box<dyn Trigger>>,
    dir: &std::path::Path,
    share: ShareConfig,
) -> Booth<HeadlessDisplay> {
    let generator =
        Generator::load(&ModelSource::Builtin(comicbooth::assets::GENERATOR), 128, 128, 1).unwrap();
    let animate = AnimateConfig {
        time_points: 3,
        loop_mode: LoopMode::Boomerang,
        frame_ms: 150,
        ..AnimateConfig::default()
    };
    let config = BoothConfig { countdown_s: 2, show_s: 3, stylized_preview: StylizedPreview::Off, ..config };
    Booth::new(
        HeadlessDisplay::new(W, H),
        source,
        live,
        triggers,
        generator,
        None,
        (animate, Look::from_config(&LookConfig { size: 240, ..LookConfig::default() })),
        config,
        (ExportConfig { dir: dir.to_owned(), quota_mb: 100, ..Default::default() }, share),
    )
}

/// The frames of a saved GIF.
fn gif_frames(path: &std::path::Path) -> Vec<image::Frame> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    image::AnimationDecoder::into_frames(image::codecs::gif::GifDecoder::new(file).unwrap())
        .collect_frames()
        .unwrap()
}

/// Ticks on a simulated clock (100 ms a tick) until the booth is in `phase`. While the worker
/// makes a comic the clock stands still and the test waits for the worker in real time (up to
/// 5 minutes: an emulated ARM build under qemu-user is slow), so a slow machine cannot run
/// into the simulated generation timeout or out of ticks.
fn run_until(b: &mut Booth<HeadlessDisplay>, now: &mut Instant, phase: &str, max_ticks: u32) {
    let patience = Instant::now() + Duration::from_secs(300);
    let mut ticks = 0;
    while ticks < max_ticks && Instant::now() < patience {
        b.tick(*now).unwrap();
        if b.phase().name() == phase {
            return;
        }
        if b.phase().name() == "generating" {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        *now += STEP;
        ticks += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("never reached {phase}; stuck in {}", b.phase().name());
}

#[test]
fn a_session_from_button_to_saved_comic() {
    let dir = tempfile::tempdir().unwrap();
    let source = Box::new(FileSource::builtin(&SAMPLE_PHOTOS));
    let mut b = booth(source, vec![Box::new(ScriptedTrigger::new(vec![3]))], dir.path());
    let mut now = Instant::now();

    // Attract: the preview photo with the call to action in a yellow box at the bottom.
    b.tick(now).unwrap();
    assert_eq!(b.phase().name(), "attract");
    assert!(count(&b, H - 40..H - 6, YELLOW) > 2000, "no call to action at the bottom");
    assert!(pixel(&b, W / 2, H / 3).iter().any(|&c| c > 30), "no preview picture");

    run_until(&mut b, &mut now, "countdown", 10);
    b.tick(now).unwrap();
    assert!(yellow_in_centre(&b) > 200, "no countdown digit");

    run_until(&mut b, &mut now, "generating", 40);
    // The making-of: the photo as a pencil sketch (grey, light), "Sketching..." below.
    let p = pixel(&b, W / 2, H / 3);
    assert!(p.iter().all(|&c| c > 150) && p[0].abs_diff(p[2]) < 30, "no pencil sketch: {p:?}");

    run_until(&mut b, &mut now, "show", 400);
    b.tick(now).unwrap();
    assert!(is(pixel(&b, 5, H - 5), YELLOW), "caption band missing");
    assert_eq!(b.saved.len(), 1);
    let gif = &b.saved[0];
    assert!(gif.starts_with(dir.path()) && gif.extension().unwrap() == "gif");
    let frames = gif_frames(gif);
    assert_eq!(frames.len(), 4, "3 time points as a boomerang");

    // The loop is paced to the animation (150 ms a frame), not to the 100 ms tick: over 3 s of
    // simulated time the screen changes about 20 times, not 30.
    let mut changes = 0;
    let mut last = b.screen().pixels().clone();
    for _ in 0..30 {
        now += STEP;
        b.tick(now).unwrap();
        if b.phase().name() != "show" {
            break;
        }
        if *b.screen().pixels() != last {
            changes += 1;
            last = b.screen().pixels().clone();
        }
    }
    assert!((12..=22).contains(&changes), "{changes} screen changes in the show");
    run_until(&mut b, &mut now, "attract", 20);
}

/// A trigger that fires while the comic is being made (an unattended timer running out, a
/// guest pressing the button) is not carried into the result: the comic is on the screen at
/// least once before the trigger can start the next session.
#[test]
fn a_trigger_during_generating_does_not_skip_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let source = Box::new(FileSource::builtin(&SAMPLE_PHOTOS));
    // Fires at every poll, so also in the tick in which the worker's result arrives.
    let always = ScriptedTrigger::every_poll();
    let mut b = booth(source, vec![Box::new(always)], dir.path());
    let mut now = Instant::now();
    run_until(&mut b, &mut now, "generating", 60);
    // The worker's result, waited for in real time with the clock standing still (up to 5
    // minutes: under qemu-arm on a loaded machine a comic took longer than the 2 s this test
    // once allowed, and the test failed with the result still coming).
    let patience = Instant::now() + Duration::from_secs(300);
    while b.phase().name() == "generating" && Instant::now() < patience {
        std::thread::sleep(Duration::from_millis(5));
        b.tick(now).unwrap();
    }
    assert_eq!(b.phase().name(), "show", "the trigger skipped the result");
    assert!(is(pixel(&b, 5, H - 5), YELLOW), "caption band missing");
    // The next poll's press is the show's own: a new session.
    now += STEP;
    b.tick(now).unwrap();
    assert_eq!(b.phase().name(), "countdown");
}

/// A camera that is lost for a while (the V4L2 source reports exactly this; its real recovery
/// is tested against vivid in vivid.rs).
struct Flaky {
    inner: FileSource,
    calls: u32,
    lost: std::ops::Range<u32>,
}

impl FrameSource for Flaky {
    fn next_frame(&mut self, timeout: Duration) -> Result<Frame<'_>, CameraError> {
        self.calls += 1;
        if self.lost.contains(&self.calls) {
            return Err(CameraError::Lost { device: "/dev/video0".into(), reason: "No such device".into() });
        }
        self.inner.next_frame(timeout)
    }

    fn describe(&self) -> String {
        "flaky".into()
    }
}

#[test]
fn an_unwritable_folder_still_shows_the_comic() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-there");
    let source = Box::new(FileSource::builtin(&SAMPLE_PHOTOS));
    let mut b = booth(source, vec![Box::new(ScriptedTrigger::new(vec![1]))], &missing);
    let mut now = Instant::now();
    run_until(&mut b, &mut now, "show", 500);
    b.tick(now).unwrap();
    assert!(b.saved.is_empty());
    assert!(is(pixel(&b, 5, H - 5), YELLOW), "caption band missing");
}

/// A live camera on a hand-held booth: a photo seen through a frame that drifts a pixel per
/// frame, RGB24 at 320x240.
struct Drifting {
    scene: image::RgbImage,
    sequence: u64,
}

impl FrameSource for Drifting {
    fn next_frame(&mut self, _timeout: Duration) -> Result<Frame<'_>, CameraError> {
        let (x, y) = (8 + (self.sequence % 8) as u32, 8);
        let view = image::imageops::crop_imm(&self.scene, x, y, 320, 240).to_image();
        self.sequence += 1;
        Ok(Frame {
            format: comicbooth::camera::PixelFormat::Rgb24,
            width: 320,
            height: 240,
            stride: 320 * 3,
            data: std::borrow::Cow::Owned(view.into_raw()),
            sequence: self.sequence - 1,
            timestamp: Duration::from_millis(33 * self.sequence),
            label: "camera".into(),
        })
    }

    fn describe(&self) -> String {
        "drifting test camera".into()
    }
}

#[test]
fn a_live_camera_takes_a_burst_tick_by_tick_and_makes_a_boomerang_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let photo = image::load_from_memory(SAMPLE_PHOTOS[1].bytes).unwrap().to_rgb8();
    let scene = image::imageops::resize(&photo, 340, 260, image::imageops::FilterType::Triangle);
    let source = Box::new(Drifting { scene, sequence: 0 });
    let config = BoothConfig { burst: 4, burst_gap_ms: 300, ..BoothConfig::default() };
    let triggers: Vec<Box<dyn Trigger>> = vec![Box::new(ScriptedTrigger::new(vec![1]))];
    let mut b = booth_on(source, true, config, triggers, dir.path(), ShareConfig::default());
    let mut now = Instant::now();
    run_until(&mut b, &mut now, "capturing", 40);
    // One frame per tick as it comes due (every 3 ticks of 100 ms): the loop goes on, and the
    // screen shows the picture in a white frame, "Move!" and a dot per picture.
    let mut capturing_ticks = 0;
    while b.phase().name() == "capturing" {
        assert!(
            is(pixel(&b, 1, 1), embedded_graphics::pixelcolor::Rgb888::new(255, 255, 255)),
            "no flash frame"
        );
        assert!(count(&b, H - 40..H, YELLOW) > 50, "no burst dots");
        now += STEP;
        b.tick(now).unwrap();
        capturing_ticks += 1;
        assert!(capturing_ticks < 30, "the burst never ended");
    }
    assert!(capturing_ticks >= 9, "4 frames 300 ms apart took only {capturing_ticks} ticks");
    run_until(&mut b, &mut now, "show", 400);
    let gif = &b.saved[0];
    let frames = gif_frames(gif);
    assert_eq!(frames.len(), 6, "a boomerang of the 4 pictures: 0 1 2 3 2 1");
    assert_eq!(frames[0].buffer().dimensions(), (240, 240));
    // Aligned: the drifting camera does not shake the picture. The first two frames (1 px of
    // drift apart) differ far less than the same frames unaligned would.
    let (a, c) = (frames[0].buffer(), frames[1].buffer());
    let diff: u64 = a
        .pixels()
        .zip(c.pixels())
        .map(|(p, q)| p.0.iter().zip(q.0).map(|(x, y)| x.abs_diff(y) as u64).sum::<u64>())
        .sum();
    let mean = diff as f64 / (240.0 * 240.0 * 4.0);
    assert!(mean < 2.0, "consecutive frames of a still scene differ by {mean:.2} levels");
}

#[test]
fn camera_lost_screen_then_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let source = Box::new(Flaky { inner: FileSource::builtin(&SAMPLE_PHOTOS), calls: 0, lost: 3..8 });
    let mut b = booth(source, Vec::new(), dir.path());
    let mut now = Instant::now();
    // Previews are taken every 2 s for photo sources.
    run_until(&mut b, &mut now, "camera-lost", 200);
    b.tick(now).unwrap();
    assert!(is(pixel(&b, 2, 2), ALARM), "not the camera-lost screen");
    run_until(&mut b, &mut now, "attract", 200);
    b.tick(now).unwrap();
    assert!(count(&b, H - 40..H - 6, YELLOW) > 2000, "not back to attract");
}

/// A trigger the test presses by hand (an operator at the booth).
#[derive(Clone, Default)]
struct Hand(std::rc::Rc<std::cell::Cell<Option<Request>>>);

impl Trigger for Hand {
    fn poll(&mut self, _now: Instant) -> Option<Request> {
        self.0.take()
    }

    fn describe(&self) -> String {
        "hand".into()
    }
}

fn count(
    b: &Booth<HeadlessDisplay>,
    rows: std::ops::Range<u32>,
    c: embedded_graphics::pixelcolor::Rgb888,
) -> usize {
    rows.flat_map(|y| (0..W).map(move |x| (x, y))).filter(|&(x, y)| is(pixel(b, x, y), c)).count()
}

#[test]
fn diagnostics_screen_shows_a_storage_problem_and_goes_back_to_attract() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the comics folder should be: every save fails, as on a full or broken disk.
    let blocked = dir.path().join("comics");
    std::fs::write(&blocked, b"not a folder").unwrap();
    let hand = Hand::default();
    let source = Box::new(FileSource::builtin(&SAMPLE_PHOTOS));
    let mut b = booth(source, vec![Box::new(hand.clone())], &blocked);
    let mut now = Instant::now();
    b.tick(now).unwrap();

    // Before any session: healthy, white lines only.
    hand.0.set(Some(Request::Diagnostics));
    run_until(&mut b, &mut now, "diagnostics", 3);
    b.tick(now).unwrap();
    assert!(count(&b, 0..40, YELLOW) > 100, "no yellow title");
    assert!(
        count(&b, 40..H, embedded_graphics::pixelcolor::Rgb888::new(255, 255, 255)) > 300,
        "no white lines"
    );
    let lines = b.diagnostics(now);
    assert!(lines.iter().any(|(t, ok)| t == "Camera: ok" && *ok), "{lines:?}");
    assert!(lines.iter().any(|(t, _)| t.starts_with("Comics 0 made")), "{lines:?}");

    // A press dismisses it; a session whose save fails; then diagnostics says so in red.
    hand.0.set(Some(Request::Session));
    run_until(&mut b, &mut now, "attract", 3);
    hand.0.set(Some(Request::Session));
    run_until(&mut b, &mut now, "show", 500);
    assert!(b.saved.is_empty());
    hand.0.set(Some(Request::Diagnostics));
    run_until(&mut b, &mut now, "diagnostics", 3);
    b.tick(now).unwrap();
    let lines = b.diagnostics(now);
    let disk = lines.iter().find(|(t, _)| t.starts_with("Not saving:")).expect("a storage line");
    assert!(!disk.1 && disk.0.contains("comics"), "{disk:?}");
    assert!(lines.iter().any(|(t, _)| t.starts_with("Comics 1 made, 0 saved, last ")), "{lines:?}");
    assert!(count(&b, 40..H, FAULT) > 50, "the storage problem is not shown in red");

    // It goes away by itself after 30 s.
    run_until(&mut b, &mut now, "attract", 320);
}

#[test]
fn diagnostics_wait_while_a_comic_is_being_made() {
    let dir = tempfile::tempdir().unwrap();
    let hand = Hand::default();
    let source = Box::new(FileSource::builtin(&SAMPLE_PHOTOS));
    let mut b = booth(source, vec![Box::new(hand.clone())], dir.path());
    let mut now = Instant::now();
    hand.0.set(Some(Request::Session));
    run_until(&mut b, &mut now, "generating", 40);
    hand.0.set(Some(Request::Diagnostics));
    b.tick(now).unwrap();
    assert!(matches!(b.phase().name(), "generating" | "show"), "{}", b.phase().name());
    run_until(&mut b, &mut now, "show", 500);
    assert_eq!(b.saved.len(), 1);
}

#[test]
fn a_shared_comic_shows_the_qr_code_of_its_own_page() {
    let dir = tempfile::tempdir().unwrap();
    let share =
        ShareConfig { enabled: true, base_url: "http://192.168.4.1:8080".into(), ..ShareConfig::default() };
    let source = Box::new(FileSource::builtin(&SAMPLE_PHOTOS));
    let triggers: Vec<Box<dyn Trigger>> = vec![Box::new(ScriptedTrigger::new(vec![1]))];
    let mut b = booth_on(source, false, BoothConfig::default(), triggers, dir.path(), share);
    let mut now = Instant::now();
    run_until(&mut b, &mut now, "show", 400);
    b.tick(now).unwrap();
    let id = b.saved[0].file_stem().unwrap().to_string_lossy().into_owned();
    assert!(comicbooth::share::is_id(&id), "{id}");
    // 320x240 is wide: the comic on the left, the page's code on the right.
    let png = dir.path().join("result.png");
    b.screen().pixels().save(&png).unwrap();
    std::fs::create_dir_all(crate::util::repo("target/screens")).unwrap();
    b.screen().pixels().save(crate::util::repo("target/screens/booth-result-shared-320x240.png")).unwrap();
    match std::process::Command::new("zbarimg").args(["--raw", "-q"]).arg(&png).output() {
        Ok(out) => {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("http://192.168.4.1:8080/c/{id}"))
        }
        Err(e) if std::env::var_os("CI").is_none() => eprintln!("zbarimg not run ({e})"),
        Err(e) => panic!("zbarimg: {e}; scripts/setup-dev installs zbar-tools"),
    }
}
