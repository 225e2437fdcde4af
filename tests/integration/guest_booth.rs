//! `comicbooth run` in a QEMU guest with a real V4L2 camera (vivid) and a real framebuffer
//! (bochs, 1280x800x32): the host takes QMP screendumps while the booth runs and checks that
//! the attract preview, the countdown and a finished comic appear on the screen.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::repo;

const YELLOW: [u8; 3] = [255, 214, 0];

fn qmp(sock: &Path) -> Option<(BufReader<UnixStream>, UnixStream)> {
    let s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut w = s.try_clone().ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?; // greeting
    w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n").ok()?;
    line.clear();
    r.read_line(&mut line).ok()?;
    Some((r, w))
}

fn screendump(r: &mut BufReader<UnixStream>, w: &mut UnixStream, file: &Path) -> bool {
    let cmd = format!(
        "{{\"execute\":\"screendump\",\"arguments\":{{\"filename\":\"{}\",\"format\":\"png\"}}}}\n",
        file.display()
    );
    if w.write_all(cmd.as_bytes()).is_err() {
        return false;
    }
    let mut line = String::new();
    while r.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line.contains("\"return\"") || line.contains("\"error\"") {
            return line.contains("\"return\"");
        }
        line.clear();
    }
    false
}

fn count(img: &image::RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, pred: impl Fn([u8; 3]) -> bool) -> usize {
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            n += pred(img.get_pixel(x, y).0) as usize;
        }
    }
    n
}

#[test]
#[ignore = "boots a QEMU guest (about a minute); scripts/test runs it"]
fn vivid_booth_on_the_framebuffer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("booth.toml");
    // vivid's colour bars are flat synthetic colours, which the "already comic?" gate rightly
    // passes through untouched (probability 1.0): this test wants the generator's comic, so
    // the gate is off here (tests/integration/gate.rs tests it).
    std::fs::write(
        &config,
        "[camera]\nsource = \"v4l2\"\ndevice = \"/dev/video0\"\n\n[display]\nbackend = \"framebuffer\"\n\
         device = \"/dev/fb0\"\n\n[booth]\ncountdown_s = 3\nshow_s = 30\nstylized_preview = \"off\"\n\n\
         [trigger]\ntimer_s = 12\n\n[export]\ndir = \"/tmp/comics\"\n\n\
         [model]\nsize = 128\ngate = false\n",
    )
    .unwrap();
    let sock = dir.path().join("qmp.sock");
    let out = dir.path().join("guest");
    let mut guest = Command::new(repo("tests/vm/run-guest.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_comicbooth"))
        .args(["--timeout", "300", "--out"])
        .arg(&out)
        .arg("--qmp-socket")
        .arg(&sock)
        .arg("--file")
        .arg(format!("{}:/booth.toml", config.display()))
        // Under emulation on a busy 2-core machine a session can take 20 s: leave room.
        .args(["--", "--config", "/booth.toml", "run", "--for", "55"])
        .spawn()
        .expect("tests/vm/run-guest.sh runs");

    // Screendumps every ~700 ms while the guest runs.
    let shots = dir.path().join("shots");
    std::fs::create_dir(&shots).unwrap();
    let started = Instant::now();
    let mut conn = None;
    let mut n = 0;
    while guest.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(320) {
        if conn.is_none() && sock.exists() {
            conn = qmp(&sock);
        }
        if let Some((r, w)) = &mut conn
            && !screendump(r, w, &shots.join(format!("{n:03}.png")))
        {
            conn = None;
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(700));
    }
    let status = guest.wait().unwrap();
    // Keep every screendump for a person to look at when this fails.
    let all = repo("target/guest-screens/all");
    let _ = std::fs::remove_dir_all(&all);
    let _ = std::fs::create_dir_all(&all);
    for e in std::fs::read_dir(&shots).unwrap().flatten() {
        let _ = std::fs::copy(e.path(), all.join(e.file_name()));
    }
    let log = std::fs::read_to_string(out.join("serial.log")).unwrap_or_default();
    assert!(status.success(), "guest failed ({status}):\n{log}");

    // Classify every screendump.
    let (mut attract, mut countdown, mut comic) = (None, None, None);
    let mut files: Vec<_> = std::fs::read_dir(&shots).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    for f in &files {
        let Ok(img) = image::open(f) else { continue };
        let img = img.into_rgb8();
        let (w, h) = img.dimensions();
        let yellow = |p: [u8; 3]| p == YELLOW;
        let wide = w as usize * 4 / 2;
        // Text scale 2 at 1280x800: the attract banner spans rows 688-791, the result caption
        // rows 742-799; rows 700-709 are yellow only in attract, rows 794-799 only in a result.
        let attract_banner = count(&img, 0, h - 100, w, h - 90, yellow) > wide;
        let caption = count(&img, 0, h - 6, w, h, yellow) > wide;
        let centre_yellow = count(&img, w / 3, h / 3, 2 * w / 3, 2 * h / 3, yellow);
        // vivid's colour bars: 75% yellow in the picture.
        let bars = count(&img, 0, h / 2, w, h / 2 + 1, |p| p[0] > 150 && p[1] > 150 && p[2] < 40) > 20;
        if attract_banner && centre_yellow == 0 && bars && attract.is_none() {
            attract = Some(f.clone());
        }
        if centre_yellow > 2000 && !attract_banner && !caption && countdown.is_none() {
            countdown = Some(f.clone());
        }
        // The finished comic, after the countdown: the caption band, and the comic filter's
        // saturated colours (vivid's 75% blue bar is 188; the comic pushes it past 235).
        let saturated_blue =
            count(&img, 0, h / 2, w, h / 2 + 1, |p| p[2] > 235 && p[0] < 30 && p[1] < 30) > 20;
        if caption && saturated_blue && countdown.is_some() && comic.is_none() {
            comic = Some(f.clone());
        }
    }
    let keep = repo("target/guest-screens");
    let _ = std::fs::create_dir_all(&keep);
    for (name, f) in [("attract", &attract), ("countdown", &countdown), ("comic", &comic)] {
        if let Some(f) = f {
            let _ = std::fs::copy(f, keep.join(format!("{name}.png")));
        }
    }
    println!("{} screendumps; attract {attract:?}, countdown {countdown:?}, comic {comic:?}", files.len());
    assert!(
        attract.is_some(),
        "no attract screen with the live preview among {} screendumps\n{log}",
        files.len()
    );
    assert!(countdown.is_some(), "no countdown screen among {} screendumps\n{log}", files.len());
    assert!(comic.is_some(), "no finished comic among {} screendumps\n{log}", files.len());
    assert!(log.contains("comic saved"), "{log}");
}
