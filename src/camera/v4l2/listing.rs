//! What `comicbooth devices` and `comicbooth-camtest` print of V4L2 cameras: every capture
//! device in the style of `v4l2-ctl --list-formats-ext`, then the choice comicbooth would make.

use std::fmt::Write;

use super::{CameraInfo, Choice};

/// The cameras' section, one block per device.
pub fn cameras(cameras: &[(CameraInfo, Option<Choice>)]) -> String {
    let mut s = String::new();
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
                    let interval = if *fps > 0.0 { 1.0 / fps } else { 0.0 };
                    let _ = writeln!(s, "\t\t\tInterval: {interval:.3}s ({fps:.3} fps)");
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
    s
}
