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
