//! The V4L2 backend against a real kernel driver: vivid in a QEMU guest (tests/vm/). Slow (a
//! guest boot under emulation), so it is `#[ignore]`d in plain `cargo test`; `scripts/test`
//! (the README's test command, and CI) runs it with `--ignored`.

use std::process::Command;

use crate::util::repo;

/// Formats and sizes proven against vivid, each with its colour bars checked. (vivid has no
/// MJPEG; that path is covered by unit tests and the convert benches.)
const CAPTURES: [(&str, &str); 9] = [
    ("yuyv", "640x480"),
    ("nv12", "640x480"),
    ("rgb24", "640x480"),
    ("uyvy", "640x480"),
    ("nv21", "640x480"),
    ("bgr24", "640x480"),
    ("yuyv", "1280x720"),
    ("nv12", "1280x720"),
    ("rgb24", "1280x720"),
];

const UNBIND: &str = "/sys/bus/platform/drivers/vivid/unbind=vivid.0";
const BIND: &str = "/sys/bus/platform/drivers/vivid/bind=vivid.0";

#[test]
#[ignore = "boots a QEMU guest (about a minute); scripts/test runs it"]
fn vivid_capture_replug_and_fault_injection() {
    let out = tempfile::tempdir().unwrap();
    // Discovery and the choice comicbooth makes (vivid has no MJPEG, so YUYV).
    let mut args: Vec<String> = ["devices", "--expect-format", "YUYV", "then"].map(String::from).to_vec();
    for (format, size) in CAPTURES {
        args.extend(["capture", "--format", format, "--size", size, "--bars", "then"].map(String::from));
    }
    // Unplug (unbind the driver while streaming) at 3 s, replug at 5 s: capture must resume in
    // the same process. Each stream ends when what it expects was seen (120 s only a limit).
    args.extend(
        [
            "stream",
            "--seconds",
            "120",
            "--until-expected",
            "--action",
            &format!("3:write:{UNBIND}"),
            "--action",
            &format!("5:write:{BIND}"),
            "--expect-reconnect",
            "then",
        ]
        .map(String::from),
    );
    // Driver-flagged bad buffers: dropped and counted, never fatal.
    let mut inject = vec!["stream".to_string(), "--seconds".into(), "120".into(), "--until-expected".into()];
    for t in ["1", "1.5", "2", "2.5"] {
        inject.extend(["--action".into(), format!("{t}:control:inject_v4l2_buf_flag_error=1")]);
    }
    inject.extend(["--expect-error-frames".into(), "1".into()]);
    args.extend(inject);

    let status = Command::new(repo("tests/vm/run-guest.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_comicbooth-camtest"))
        .args(["--timeout", "600", "--out"])
        .arg(out.path())
        .arg("--")
        .args(&args)
        .status()
        .expect("tests/vm/run-guest.sh runs");
    let log = std::fs::read_to_string(out.path().join("serial.log")).unwrap_or_default();
    let steps: Vec<&str> = log.lines().filter(|l| l.contains("STEP ")).collect();
    println!("{}", steps.join("\n"));
    assert!(status.success(), "guest run failed ({status}); serial log:\n{log}");
    let expected = CAPTURES.len() + 3;
    assert!(log.contains("would capture YUYV 1280x720"), "{log}");
    let passed = steps.iter().filter(|l| l.contains(" PASS ")).count();
    assert_eq!(passed, expected, "serial log:\n{log}");
}
