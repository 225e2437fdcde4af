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
