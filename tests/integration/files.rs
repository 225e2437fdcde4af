//! The saved files, read by decoders that are not the ones that wrote them: GIF and WebP by
//! Pillow (the repository's .venv), MP4 by Debian's ffprobe and ffmpeg; then all of them in
//! headless Chromium, which must show them moving. One comic as the booth makes it: 720x720,
//! the default 8 time points as a 14-frame boomerang at 100 ms.
//!
//! The tools come from `scripts/setup-dev` (apt: ffmpeg, chromium). Where one is missing a
//! test says so and passes, except under `CI=true`, where a missing tool fails the test: CI must
//! never pass by checking nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use comicbooth::animate::Animation;
use comicbooth::config::Format;
use image::RgbImage;

use crate::util::repo;

/// One comic at the booth's size, made once for every test here.
fn comic() -> &'static Animation {
    static COMIC: OnceLock<Animation> = OnceLock::new();
    COMIC.get_or_init(|| {
        use comicbooth::camera::{FileSource, FrameSource};
        let mut source = FileSource::builtin(&comicbooth::assets::SAMPLE_PHOTOS[..1]);
        let frame = source.next_frame(Duration::from_secs(1)).unwrap();
        let photo =
            comicbooth::convert::crop_square(&comicbooth::convert::frame_to_rgb(&frame).unwrap(), 720);
        let photo = comicbooth::convert::resize(&photo, 720, 720);
        let g = comicbooth::model::Generator::load(
            &comicbooth::model::ModelSource::Builtin(comicbooth::assets::GENERATOR),
            256,
            256,
            0,
        )
        .unwrap();
        let config = comicbooth::config::AnimateConfig::default();
        let look = comicbooth::look::Look::from_config(&comicbooth::config::LookConfig::default());
        let points = comicbooth::animate::comic_frames(
            std::slice::from_ref(&photo),
            (256, 256),
            &config,
            &look,
            |i| g.run(i),
        )
        .unwrap();
        comicbooth::animate::assemble(&points, &config, "comic")
    })
}

/// The comic in every format this build writes, in a folder that lives as long as the test.
fn files() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let paths = comicbooth::export::write_animation(dir.path(), comic(), Format::IN_THIS_BUILD).unwrap();
    (dir, paths)
}

/// `program` if it runs; `None` (after saying why) where it is missing outside CI. Under
/// `CI=true` a missing tool fails the test.
pub(crate) fn tool(program: &str, hint: &str) -> Option<PathBuf> {
    let path = PathBuf::from(program);
    let found = if path.is_absolute() {
        path.is_file().then_some(path)
    } else {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    };
    if found.is_none() {
        let why = format!("{program} is missing ({hint}; scripts/setup-dev installs it)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}: CI must run this test");
        eprintln!("skipped: {why}");
    }
    found
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Mean squared error of two byte slices, as PSNR in dB (peak 255).
#[cfg(feature = "mp4")]
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-10)).log10()
}

/// Reads each file with Pillow: frame count, each frame's duration, the loop count, the size,
/// and the frames themselves (RGB, concatenated, into `<file>.pillow.rgb`).
const PILLOW: &str = r#"
import json, sys
from PIL import Image
for path in sys.argv[1:]:
    im = Image.open(path)
    durations, raw = [], bytearray()
    for i in range(im.n_frames):
        im.seek(i)
        raw += im.convert("RGB").tobytes()
        durations.append(im.info.get("duration"))
    open(path + ".pillow.rgb", "wb").write(raw)
    print(json.dumps({"path": path, "format": im.format, "frames": im.n_frames, "size": im.size,
                      "durations": durations, "loop": im.info.get("loop")}))
"#;

#[test]
fn gif_and_webp_read_back_exactly_in_pillow() {
    let Some(python) = tool(repo(".venv/bin/python").to_str().unwrap(), "the Python virtualenv with Pillow")
    else {
        return;
    };
    let (_dir, paths) = files();
    let animations: Vec<&PathBuf> =
        paths.iter().filter(|p| p.extension().is_some_and(|e| e == "gif" || e == "webp")).collect();
    assert_eq!(animations.len(), 2, "{paths:?}");
    let out = run(Command::new(python).arg("-c").arg(PILLOW).args(&animations));
    let anim = comic();
    let frame_len = (720 * 720 * 3) as usize;
    for line in String::from_utf8(out).unwrap().lines() {
        let info: serde_json::Value = serde_json::from_str(line).unwrap();
        let path = info["path"].as_str().unwrap();
        assert_eq!(info["frames"], 14, "{line}");
        assert_eq!(info["size"], serde_json::json!([720, 720]), "{line}");
        // Every frame 100 ms, looping forever (GIF and WebP: loop count 0).
        assert_eq!(info["durations"], serde_json::json!(vec![100; 14]), "{line}");
        assert_eq!(info["loop"], 0, "{line}");
        // GIF (one colour table) and lossless WebP hold the comic's frames exactly.
        let raw = std::fs::read(format!("{path}.pillow.rgb")).unwrap();
        assert_eq!(raw.len(), 14 * frame_len);
        for (i, (got, want)) in raw.chunks_exact(frame_len).zip(&anim.frames).enumerate() {
            assert!(got == want.as_raw().as_slice(), "{path}: frame {i} differs from the comic's");
        }
    }
}

/// The top-level boxes of an MP4 file, in order.
#[cfg(feature = "mp4")]
fn top_level_boxes(file: &[u8]) -> Vec<String> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= file.len() {
        let size = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(String::from_utf8_lossy(&file[at + 4..at + 8]).into_owned());
        assert!(size >= 8, "box of {size} bytes at {at}");
        at += size;
    }
    boxes
}

#[cfg(feature = "mp4")]
#[test]
fn mp4_reads_back_in_ffmpeg_looping_at_the_comics_pace() {
    let (Some(ffprobe), Some(ffmpeg)) =
        (tool("ffprobe", "Debian package ffmpeg"), tool("ffmpeg", "Debian package ffmpeg"))
    else {
        return;
    };
    let (_dir, paths) = files();
    let mp4 = paths.iter().find(|p| p.extension().is_some_and(|e| e == "mp4")).unwrap();
    let anim = comic();
    let bytes = std::fs::read(mp4).unwrap();
    // Fast start: the index (moov) before the media (mdat), so phones play while it loads.
    assert_eq!(top_level_boxes(&bytes), ["ftyp", "moov", "mdat"]);

    let probe = run(Command::new(ffprobe).args(["-v", "error", "-count_frames", "-of", "json=compact=1"]).args([
        "-show_entries",
        "stream=codec_name,profile,pix_fmt,width,height,r_frame_rate,avg_frame_rate,nb_read_frames,duration,color_range,color_space,color_primaries:format=format_name,duration",
    ]).arg(mp4));
    let text = String::from_utf8(probe).unwrap();
    let info: serde_json::Value = serde_json::from_str(&text).unwrap();
    let stream = &info["streams"][0];
    let field = |k: &str| stream[k].to_string().trim_matches('"').to_owned();
    assert_eq!(field("codec_name"), "h264", "{text}");
    assert_eq!(field("pix_fmt"), "yuv420p", "{text}");
    assert_eq!((field("width"), field("height")), ("720".into(), "720".into()), "{text}");
    assert_eq!(field("color_range"), "tv", "{text}");
    assert_eq!(field("color_space"), "smpte170m", "{text}");
    // 10 frames a second (100 ms each), the 14-frame loop three times: 42 frames, 4.2 s.
    assert_eq!(field("r_frame_rate"), "10/1", "{text}");
    assert_eq!(field("avg_frame_rate"), "10/1", "{text}");
    let repeats = comicbooth::export::mp4::repeats(14, 100);
    assert_eq!(repeats, 3);
    assert_eq!(field("nb_read_frames"), (14 * repeats).to_string(), "{text}");
    let duration: f64 = field("duration").parse().unwrap();
    assert!((duration - 4.2).abs() < 0.001, "{text}");

    // The pictures, decoded by ffmpeg. Against the 4:2:0 planes the encoder was given (the
    // codec's own loss): Y PSNR about 39.7 dB at QP 24.
    let decode = |pix_fmt: &str| {
        run(Command::new(&ffmpeg).args(["-v", "error", "-i"]).arg(mp4).args([
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-sws_flags",
            "bicubic+accurate_rnd+full_chroma_int",
            "-",
        ]))
    };
    let yuv = decode("yuv420p");
    let (luma, frame_len) = (720 * 720, 720 * 720 * 3 / 2);
    assert_eq!(yuv.len(), 14 * repeats * frame_len);
    let decoded: Vec<&[u8]> = yuv.chunks_exact(frame_len).collect();
    // Every repeat decodes to the same pictures.
    for (i, f) in decoded.iter().enumerate().skip(14) {
        assert!(*f == decoded[i % 14], "frame {i} differs from its first showing, frame {}", i % 14);
    }
    let mut ys = (Vec::new(), Vec::new());
    for (got, want) in decoded.iter().zip(&anim.frames) {
        let [y, _, _] = comicbooth::convert::encode_i420(want).unwrap();
        ys.0.extend_from_slice(&got[..luma]);
        ys.1.extend_from_slice(&y);
    }
    let y_psnr = psnr(&ys.0, &ys.1);
    // Against the comic's own RGB frames, converted by ffmpeg as the stream declares (BT.601,
    // limited range): 4:2:0 alone costs a comic's saturated edges about 35 dB.
    let rgb = decode("rgb24");
    let frame_len = 720 * 720 * 3;
    assert_eq!(rgb.len(), 14 * repeats * frame_len);
    let mut all = (Vec::new(), Vec::new());
    for (got, want) in rgb.chunks_exact(frame_len).zip(&anim.frames) {
        all.0.extend_from_slice(got);
        all.1.extend_from_slice(want.as_raw());
        let p = psnr(got, want.as_raw());
        assert!(p > 30.0, "a frame's RGB PSNR is {p:.1} dB");
    }
    let rgb_psnr = psnr(&all.0, &all.1);
    eprintln!(
        "MP4: {} bytes, {repeats} x 14 frames; PSNR: Y {y_psnr:.2} dB against the encoder's input, RGB {rgb_psnr:.2} dB against the frames",
        bytes.len()
    );
    assert!(y_psnr > 38.0, "Y PSNR {y_psnr:.1} dB");
    assert!(rgb_psnr > 31.0, "RGB PSNR {rgb_psnr:.1} dB");
}

/// The comic in each format, side by side at 240x240 with no gaps: GIF and WebP as `<img>`,
/// MP4 as `<video autoplay muted loop playsinline>` (how a phone's browser is given it).
/// `VIDEO` is replaced by the video element or nothing, `EXTRA` by more of the page.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<body style="margin:0;background:#fff;display:flex">
<img id="gif" src="comic.gif" width="240" height="240">
<img id="webp" src="comic.webp" width="240" height="240">
VIDEO
EXTRA
"#;

const VIDEO: &str =
    r#"<video id="mp4" src="comic.mp4" width="240" height="240" autoplay muted loop playsinline></video>"#;

/// Waits until the video plays, draws it into a canvas twice 450 ms apart (more than four
/// frames), and posts what changed, its time and its state to /result.
const VIDEO_CHECK: &str = r#"<script>
const sleep = ms => new Promise(r => setTimeout(r, ms));
function grab(v) {
  const c = document.createElement("canvas");
  c.width = c.height = 96;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0, 96, 96);
  return g.getImageData(0, 0, 96, 96).data;
}
async function main() {
  const r = {};
  try {
    const v = document.getElementById("mp4");
    while (!(v.readyState >= 2 && v.currentTime > 0)) await sleep(20);
    const before = grab(v), t0 = v.currentTime;
    await sleep(450);
    const after = grab(v);
    let change = 0;
    for (let i = 0; i < before.length; i++) change += Math.abs(before[i] - after[i]) / before.length;
    Object.assign(r, { change, advanced: v.currentTime - t0, readyState: v.readyState, paused: v.paused,
                       duration: v.duration, width: v.videoWidth, height: v.videoHeight });
  } catch (e) {
    r.error = String(e);
  }
  await fetch("/result", { method: "POST", body: JSON.stringify(r) });
}
main();
</script>"#;

/// Chromium, headless, as root in a container or CI (no user namespace for its sandbox), with
/// a profile of its own that lives as long as the returned folder.
pub(crate) fn chromium_command(chromium: &Path) -> (Command, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--mute-audio",
        "--hide-scrollbars",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=720,240",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    (cmd, profile)
}

/// Waits for `child` to exit, at most until `deadline`; kills it then. Whether it exited
/// successfully, and its stderr.
pub(crate) fn finish(mut child: std::process::Child, deadline: Instant) -> (bool, String) {
    let exited = loop {
        match child.try_wait().unwrap() {
            Some(status) => break status.success(),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                break false;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let mut log = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut log);
    let _ = child.wait();
    (exited, log)
}

/// The index of the comic frame (scaled to 240x240) that `shown` is closest to, and the mean
/// difference to it.
fn closest_frame(shown: &RgbImage, small: &[RgbImage]) -> (usize, f64) {
    small
        .iter()
        .map(|f| crate::util::mean_abs_diff(shown, f))
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
}

/// The mean of each channel.
fn mean_colour(img: &RgbImage) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for p in img.pixels() {
        for (s, &c) in sum.iter_mut().zip(&p.0) {
            *s += c as f64;
        }
    }
    sum.map(|s| s / (img.width() * img.height()) as f64)
}

#[test]
fn chromium_shows_every_file_moving() {
    let Some(chromium) = tool("chromium", "Debian package chromium") else {
        return;
    };
    let (dir, _paths) = files();
    let video = if Format::MP4_BUILT { VIDEO } else { "" };
    let page = PAGE.replace("VIDEO", video);
    let server = Server::start(dir.path());
    let small: Vec<RgbImage> = comic()
        .frames
        .iter()
        .map(|f| image::imageops::resize(f, 240, 240, image::imageops::FilterType::Triangle))
        .collect();

    // What the page shows, in real time: `--screenshot` captures once the page has loaded, and
    // a hidden picture the server holds back for N ms delays that, so four runs catch the
    // animations at four moments 0.3 s or more apart. Each shows one of the comic's frames, and
    // they are not all the same one.
    let formats = Format::IN_THIS_BUILD.len();
    let mut shown: Vec<Vec<(usize, f64)>> = vec![Vec::new(); formats];
    // Per shot, the MP4's mean colour against its closest frame's, channel by channel.
    let mut colour_shift: Vec<[f64; 3]> = Vec::new();
    for ms in [400, 700, 1100, 1600] {
        let name = format!("page{ms}.html");
        let held = format!(r#"<img src="/slow?ms={ms}" style="display:none">"#);
        std::fs::write(dir.path().join(&name), page.replace("EXTRA", &held)).unwrap();
        let shot = dir.path().join(format!("shot{ms}.png"));
        let (mut cmd, _profile) = chromium_command(&chromium);
        cmd.arg(format!("--screenshot={}", shot.display())).arg(server.url(&name));
        let (ok, log) = finish(cmd.spawn().unwrap(), Instant::now() + Duration::from_secs(30));
        assert!(ok && shot.exists(), "chromium --screenshot failed:\n{log}");
        let screen = image::open(&shot).unwrap().into_rgb8();
        assert_eq!(screen.dimensions(), (720, 240));
        for (i, seen) in shown.iter_mut().enumerate() {
            let region = image::imageops::crop_imm(&screen, i as u32 * 240, 0, 240, 240).to_image();
            let (k, d) = closest_frame(&region, &small);
            seen.push((k, d));
            if Format::IN_THIS_BUILD[i] == Format::Mp4 {
                let (a, b) = (mean_colour(&region), mean_colour(&small[k]));
                colour_shift.push([a[0] - b[0], a[1] - b[1], a[2] - b[2]]);
            }
        }
    }
    eprintln!("Chromium screenshots, (closest comic frame, mean difference) per format: {shown:?}");
    for (format, seen) in Format::IN_THIS_BUILD.iter().zip(&shown) {
        // Chromium scales unlike us: about 1.4 levels apart on average for GIF and WebP; the
        // MP4's 4:2:0 chroma adds about 5, its colours included (BT.601, limited range, as its
        // VUI says).
        let near = if *format == Format::Mp4 { 10.0 } else { 4.0 };
        assert!(seen.iter().all(|&(_, d)| d < near), "{format:?} shows no comic frame: {seen:?}");
        // (A boomerang shows frame k and 14 - k alike: compare pictures, not indices.)
        let pictures: Vec<&RgbImage> = seen.iter().map(|&(k, _)| &small[k]).collect();
        assert!(pictures.iter().any(|p| *p != pictures[0]), "{format:?} did not move: {seen:?}");
    }
    if !Format::MP4_BUILT {
        return;
    }
    eprintln!("Chromium, the MP4's mean colour minus the frame's (R, G, B): {colour_shift:?}");
    assert!(colour_shift.iter().flatten().all(|d| d.abs() < 2.0), "{colour_shift:?}");

    // The video playing, checked by the page's own script, which posts its findings; the test
    // waits for that post.
    std::fs::write(dir.path().join("video.html"), page.replace("EXTRA", VIDEO_CHECK)).unwrap();
    let (mut cmd, _profile) = chromium_command(&chromium);
    let browser = cmd.arg(server.url("video.html")).spawn().unwrap();
    let result = server.results.recv_timeout(Duration::from_secs(30)).ok();
    let (_, log) = finish(browser, Instant::now());
    let Some(result) = result else {
        panic!("Chromium posted no result in 30 s; its log:\n{log}");
    };
    eprintln!("Chromium <video>: {result}");
    let v: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert!(v.get("error").is_none(), "{result}");
    assert_eq!((&v["width"], &v["height"]), (&720.into(), &720.into()), "{result}");
    assert_eq!(v["readyState"], 4, "{result}");
    assert_eq!(v["paused"], false, "{result}");
    assert!((v["duration"].as_f64().unwrap() - 4.2).abs() < 0.01, "{result}");
    assert!(v["advanced"].as_f64().unwrap() > 0.2, "{result}");
    assert!(v["change"].as_f64().unwrap() > 2.0, "the video's picture did not move: {result}");
}

/// A small HTTP server on 127.0.0.1 for Chromium: the files of a folder, `/slow?ms=N` (an
/// empty answer after N ms, to hold a page's load event back), and `POST /result`, whose
/// bodies arrive on `results`. It stops when dropped.
pub(crate) struct Server {
    addr: std::net::SocketAddr,
    pub(crate) results: std::sync::mpsc::Receiver<String>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Server {
    pub(crate) fn start(dir: &Path) -> Server {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, results) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (dir, stopped) = (dir.to_owned(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (dir, tx) = (dir.clone(), tx.clone());
                        std::thread::spawn(move || answer(stream, &dir, &tx));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Server { addr, results, stop }
    }

    pub(crate) fn url(&self, file: &str) -> String {
        format!("http://{}/{file}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One HTTP/1.1 request, answered and closed.
fn answer(mut stream: std::net::TcpStream, dir: &Path, results: &std::sync::mpsc::Sender<String>) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (status, body, kind) = if request.starts_with("POST") && target == "/result" {
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_ok() {
            let _ = results.send(String::from_utf8_lossy(&body).into_owned());
        }
        ("204 No Content", Vec::new(), "text/plain")
    } else if let Some(ms) = target.strip_prefix("/slow?ms=") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        ("204 No Content", Vec::new(), "text/plain")
    } else {
        let file = dir.join(target.trim_start_matches('/'));
        match std::fs::read(&file) {
            Ok(b) => {
                let kind = match file.extension().and_then(|e| e.to_str()) {
                    Some("html") => "text/html",
                    Some("gif") => "image/gif",
                    Some("webp") => "image/webp",
                    Some("mp4") => "video/mp4",
                    _ => "application/octet-stream",
                };
                ("200 OK", b, kind)
            }
            Err(_) => ("404 Not Found", Vec::new(), "text/plain"),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
}
