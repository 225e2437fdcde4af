//! What the commands print for a person: plain text built from the reports in [`crate::app`].

use std::fmt::Write;

use crate::app::{BenchReport, CheckItem, DemoReport, StylizeReport};
use crate::assets::SAMPLE_PHOTOS;

/// `comicbooth demo`'s summary: where the files are and how long each stage took.
pub fn demo(r: &DemoReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "comicbooth demo: {} photos, {} time points each, model {}, {} threads",
        r.outputs.len(),
        r.time_points,
        r.model,
        r.threads
    );
    for o in &r.outputs {
        let _ = writeln!(s, "  {:<14} {} ({} frames)", o.label, o.gif.display(), o.frames);
    }
    if let Some(o) = r.outputs.first() {
        let _ = writeln!(s, "  screen frames: {}/<photo>-NNN.png", o.screen_dir.display());
    }
    let _ = writeln!(s, "stage times:\n{}", r.times);
    s
}

/// `comicbooth stylize`'s summary.
pub fn stylize(r: &StylizeReport) -> String {
    let mut s = String::new();
    for (i, o) in &r.written {
        let note =
            if r.passed_through.contains(i) { " (already comic: passed through untouched)" } else { "" };
        let _ = writeln!(s, "{} -> {}{note}", i.display(), o.display());
    }
    for (i, e) in &r.failed {
        let _ = writeln!(s, "failed: {}: {e}", i.display());
    }
    let _ = writeln!(s, "{} written, {} failed", r.written.len(), r.failed.len());
    s
}

/// `comicbooth bench`'s table.
pub fn bench(r: &BenchReport) -> String {
    let mut s = format!(
        "model {} at {}x{}, {} threads\n  load+optimise {:.1} ms\n  {}\n  matmul kernels: {}\n",
        r.model,
        r.side,
        r.side,
        r.threads,
        ms(r.load),
        run_stats(&r.runs),
        r.kernels.join(", ")
    );
    if let Some((origin, runs)) = &r.gate {
        let _ = writeln!(s, "gate {origin}\n  {}", run_stats(runs));
    }
    if let Some(p) = &r.pacing {
        let _ = writeln!(s, "display {}\n  {}", p.screen, pacing(p));
    }
    for c in &r.conversions {
        let (run, copy) = (c.runs[c.runs.len() / 2], c.copies[c.copies.len() / 2]);
        let _ = writeln!(
            s,
            "camera {} {}x{} -> {}x{} input tensor\n  median {:.1} us, {:.1}x a copy of the frame ({:.1} us)",
            c.format,
            c.size.0,
            c.size.1,
            r.side,
            r.side,
            run.as_secs_f64() * 1e6,
            run.as_secs_f64() / copy.as_secs_f64().max(1e-9),
            copy.as_secs_f64() * 1e6,
        );
    }
    s
}

/// One line on frame pacing: result frames against their target interval, and present times.
fn pacing(p: &crate::app::PacingReport) -> String {
    let pick =
        |v: &[std::time::Duration], q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied();
    match (pick(&p.intervals, 0.5), pick(&p.intervals, 0.95), p.intervals.last(), pick(&p.presents, 0.5)) {
        (Some(median), Some(p95), Some(max), Some(present)) => format!(
            "result loop paced to {:.0} ms: {} frames, interval mean {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms; present median {:.2} ms, max {:.2} ms",
            ms(p.frame_time),
            p.intervals.len() + 1,
            ms(p.intervals.iter().sum::<std::time::Duration>()) / p.intervals.len() as f64,
            ms(median),
            ms(p95),
            ms(*max),
            ms(present),
            ms(*p.presents.last().unwrap_or(&present)),
        ),
        _ => "too few result frames to measure pacing".into(),
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// "runs N: min, median, mean, max" of sorted run times.
fn run_stats(runs: &[std::time::Duration]) -> String {
    let mean = runs.iter().map(|d| ms(*d)).sum::<f64>() / runs.len() as f64;
    format!(
        "runs {}: min {:.2} ms, median {:.2} ms, mean {:.2} ms, max {:.2} ms",
        runs.len(),
        ms(runs[0]),
        ms(runs[runs.len() / 2]),
        mean,
        ms(*runs.last().expect("at least one run")),
    )
}

/// `comicbooth check`'s list.
pub fn check(items: &[CheckItem]) -> String {
    let mut s = String::new();
    for i in items {
        let _ = match &i.outcome {
            Ok(what) => writeln!(s, "ok    {:<8} {what}", i.name),
            Err(why) => writeln!(s, "FAIL  {:<8} {why}", i.name),
        };
    }
    s
}

/// `comicbooth devices` when the binary has no V4L2 backend.
#[cfg(not(feature = "v4l2"))]
pub fn devices() -> String {
    format!(
        "cameras:\n  demo      {} built-in sample photos\n  files     photos from camera.path\n  v4l2      \
         not in this build (rebuild with --features v4l2)\n{}",
        SAMPLE_PHOTOS.len(),
        other_devices()
    )
}

/// Displays, SPI buses, GPIO chips and input devices found under /dev (what display.device,
/// display.spi_device, trigger.gpio_chip and trigger.keyboard can name).
fn other_devices() -> String {
    let list = |prefix: &str, dir: &str| {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
                    .map(|p| p.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if found.is_empty() { "none found".to_owned() } else { found.join(" ") }
    };
    format!(
        "displays:\n  headless     PNG files (always)\n  framebuffer  {}\n  spi          {}{}\n\
         gpio chips:    {}{}\nkeyboards:     {}\n",
        list("fb", "/dev"),
        list("spidev", "/dev"),
        if cfg!(feature = "spi") { "" } else { " (this build has no SPI panels: --features spi)" },
        list("gpiochip", "/dev"),
        if cfg!(feature = "gpio") { "" } else { " (this build has no GPIO button: --features gpio)" },
        list("event", "/dev/input"),
    )
}

/// `comicbooth devices` with V4L2: every capture device in the style of
/// `v4l2-ctl --list-formats-ext`, then the choice comicbooth would make and why.
#[cfg(feature = "v4l2")]
pub fn devices(cameras: &[(crate::camera::v4l2::CameraInfo, Option<crate::camera::v4l2::Choice>)]) -> String {
    let mut s = String::from("cameras:\n");
    if cameras.is_empty() {
        s.push_str(
            "  no V4L2 capture device found (is the camera plugged in? is the user in the `video` group?)\n",
        );
    }
    for (info, choice) in cameras {
        let _ = writeln!(s, "{} ({}, {}, {})", info.path.display(), info.card, info.driver, info.bus);
        for alias in &info.aliases {
            let _ = writeln!(s, "  also {}", alias.display());
        }
        for (i, f) in info.formats.iter().enumerate() {
            let code = String::from_utf8_lossy(&f.fourcc);
            let note = if f.format.is_some() { "" } else { "  (comicbooth cannot convert this)" };
            let _ = writeln!(s, "\t[{i}]: '{code}' ({}){note}", f.description);
            for size in &f.sizes {
                let _ = writeln!(s, "\t\tSize: {}x{}", size.width, size.height);
                for fps in &size.fps {
                    let _ = writeln!(
                        s,
                        "\t\t\tInterval: {:.3}s ({fps:.3} fps)",
                        if *fps > 0.0 { 1.0 / fps } else { 0.0 }
                    );
                }
            }
        }
        match choice {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "  comicbooth would capture {} {}x{}: {}",
                    c.format, c.width, c.height, c.why
                );
            }
            None => s.push_str("  comicbooth cannot use this camera: no format it converts\n"),
        }
    }
    let _ = write!(
        s,
        "  (also: demo, {} built-in photos; files, photos from camera.path)\n{}",
        SAMPLE_PHOTOS.len(),
        other_devices()
    );
    s
}
