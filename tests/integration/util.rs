//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under the repository root.
pub fn repo(path: &str) -> PathBuf {
    root().join(path)
}

/// Runs the built `comicbooth` binary with `args`; logs off so stderr holds only errors.
pub fn comicbooth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_comicbooth"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("the comicbooth binary runs")
}

/// stdout and stderr as text.
pub fn texts(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every file below `dir`, recursively.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_in(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Mean absolute difference of two equally sized RGB images, 0..=255.
pub fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 =
        a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (x as i32 - y as i32).unsigned_abs() as u64).sum();
    sum as f64 / a.as_raw().len() as f64
}

/// What Debian's `zbarimg` reads from a picture, one code per line (`None` when the tool is
/// missing outside CI: scripts/setup-dev installs zbar-tools).
pub fn zbarimg(img: &image::RgbImage) -> Option<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("screen.png");
    img.save(&png).unwrap();
    match std::process::Command::new("zbarimg").args(["--raw", "-q"]).arg(&png).output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("zbarimg not run ({e}): apt-get install zbar-tools (scripts/setup-dev does)");
            None
        }
        Err(e) => panic!("zbarimg: {e}; scripts/setup-dev installs zbar-tools"),
    }
}
