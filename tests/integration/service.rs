//! `comicbooth run` under a stand-in for systemd's notify socket: READY=1 once up, STATUS=,
//! WATCHDOG=1 pings at half the watchdog period, SIGHUP reloads the config (RELOADING=1, then
//! READY=1 again), SIGTERM stops cleanly (STOPPING=1, exit 0).

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for(sock: &UnixDatagram, seen: &mut Vec<String>, what: &str, within: Duration) -> bool {
    let end = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let hit = msg.contains(what);
            seen.push(msg);
            if hit {
                return true;
            }
        }
    }
    false
}

#[test]
fn notify_watchdog_reload_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let config = dir.path().join("booth.toml");
    let write_config = |show_s: u32| {
        std::fs::write(
            &config,
            format!(
                "[booth]\nshow_s = {show_s}\n\n[model]\nsize = 64\n\n[export]\ndir = \"{}\"\n",
                dir.path().join("out").display()
            ),
        )
        .unwrap()
    };
    write_config(10);
    let mut child = Command::new(env!("CARGO_BIN_EXE_comicbooth"))
        .args(["--config", config.to_str().unwrap(), "run", "--for", "60"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    assert!(wait_for(&sock, &mut seen, "READY=1", Duration::from_secs(20)), "{seen:?}");
    assert!(seen.last().unwrap().contains("STATUS=attract"), "{seen:?}");

    // Pings at half the 1 s period while healthy: about 6 in 3 s.
    seen.clear();
    let _ = wait_for(&sock, &mut seen, "never", Duration::from_secs(3));
    let pings = seen.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!((4..=8).contains(&pings), "{pings} pings: {seen:?}");

    // SIGHUP with a changed file: reload, then ready again.
    write_config(20);
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    assert!(wait_for(&sock, &mut seen, "RELOADING=1", Duration::from_secs(5)), "{seen:?}");
    assert!(wait_for(&sock, &mut seen, "READY=1", Duration::from_secs(20)), "{seen:?}");

    // SIGTERM: a clean stop, quickly.
    let t = Instant::now();
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(wait_for(&sock, &mut seen, "STOPPING=1", Duration::from_secs(5)), "{seen:?}");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// A generator that stops answering: `tests/fixtures/stalling_generator.onnx` is a real model
/// that passes grey (the load's warm-up) through at once but takes minutes on a bright
/// picture, which is all this booth's camera (a folder with one white photo) gives. With
/// `generate_timeout_s = 5` the booth gives the guest up after 5 s and goes back to attract,
/// and once the worker has been on the one job for twice that, `Booth::healthy` turns false:
/// the main loop keeps running but WATCHDOG=1 stops, so systemd (WatchdogSec) would kill and
/// restart the unit. The test waits for that silence: three watchdog periods without a ping.
#[test]
fn a_hung_generator_stops_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    image::RgbImage::from_pixel(64, 64, image::Rgb([255, 255, 255])).save(photos.join("white.png")).unwrap();
    let config = dir.path().join("booth.toml");
    let model = crate::util::repo("tests/fixtures/stalling_generator.onnx");
    std::fs::write(
        &config,
        format!(
            "[camera]\nsource = \"files\"\npath = \"{}\"\n\n[model]\npath = \"{}\"\nsize = 32\nthreads = 1\n\
             gate = false\n\n[look]\nsize = 64\n\n[booth]\ncountdown_s = 1\ngenerate_timeout_s = 5\n\
             stylized_preview = \"off\"\n\n[trigger]\nsignal = true\n\n[export]\ndir = \"{}\"\n",
            photos.display(),
            model.display(),
            dir.path().join("out").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_comicbooth"))
        .args(["--config", config.to_str().unwrap(), "run", "--for", "300"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stop = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log);
        log
    };
    let mut seen = Vec::new();
    let ready = wait_for(&sock, &mut seen, "READY=1", Duration::from_secs(60));
    assert!(ready, "no READY=1: {seen:?}\n{}", stop(&mut child));
    assert!(
        wait_for(&sock, &mut seen, "WATCHDOG=1", Duration::from_secs(5)),
        "no ping while healthy: {seen:?}"
    );
    // A guest presses the button (SIGUSR1): the countdown, then the white photo to the generator.
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let making = wait_for(&sock, &mut seen, "STATUS=making a comic", Duration::from_secs(30));
    assert!(making, "no session started: {seen:?}\n{}", stop(&mut child));
    // The booth gives up on the comic after generate_timeout_s and is back in attract: alive.
    let back = wait_for(&sock, &mut seen, "STATUS=attract", Duration::from_secs(60));
    assert!(back, "the booth never gave up the hung comic: {seen:?}\n{}", stop(&mut child));
    // Then the pings stop for good: wait for three watchdog periods (3 s) of silence.
    let mut last_ping = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(120);
    let mut buf = [0u8; 4096];
    let silent = loop {
        if last_ping.elapsed() >= Duration::from_secs(3) {
            break true;
        }
        if Instant::now() > give_up {
            break false;
        }
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.contains("WATCHDOG=1") {
                last_ping = Instant::now();
            }
            seen.push(msg);
        }
    };
    let alive = child.try_wait().unwrap().is_none();
    let log = stop(&mut child);
    assert!(silent, "the watchdog was still fed 2 minutes after the generator hung: {seen:?}\n{log}");
    assert!(alive, "the booth exited instead of staying up for the watchdog to restart it\n{log}");
    assert!(log.contains("making the comic took over 5 s; session abandoned"), "{log}");
    assert!(!log.contains("comic saved"), "the generator answered after all: not a hang\n{log}");
}
