//! The "already comic?" gate in `stylize`: a comic picture is passed through untouched, a photo
//! is stylized; `model.gate = false` stylizes everything.

use crate::util::{comicbooth, repo, texts};

/// A piece of public-domain clip art from openclipart (the gate's held-out split, never
/// trained on; tests/fixtures/SOURCES.md).
const CLIP_ART: &str = "tests/fixtures/clipart.png";

fn stylize(input: &str, extra: &[&str]) -> (String, image::RgbImage) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    let mut args = vec!["stylize", input, out.to_str().unwrap(), "--size", "128"];
    args.extend_from_slice(extra);
    let run = comicbooth(&args);
    let (stdout, stderr) = texts(&run);
    assert!(run.status.success(), "{stderr}");
    (stdout, image::open(&out).unwrap().to_rgb8())
}

fn resized(path: &str, w: u32, h: u32) -> image::RgbImage {
    let img = image::open(repo(path)).unwrap().to_rgb8();
    image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle)
}

fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (x as f64 - y as f64).abs()).sum::<f64>()
        / a.as_raw().len() as f64
}

#[test]
fn clip_art_passes_through_untouched() {
    let input = repo(CLIP_ART);
    let (stdout, out) = stylize(input.to_str().unwrap(), &[]);
    assert!(stdout.contains("already comic: passed through untouched"), "{stdout}");
    let expected = resized(CLIP_ART, out.width(), out.height());
    assert_eq!(out, expected, "a passed-through picture is only resized");
}

#[test]
fn photo_is_stylized_and_gate_can_be_turned_off() {
    let photo = repo("assets/photos/coffee.jpg");
    let (stdout, out) = stylize(photo.to_str().unwrap(), &[]);
    assert!(!stdout.contains("passed through"), "{stdout}");
    let original = resized("assets/photos/coffee.jpg", out.width(), out.height());
    assert!(mean_abs_diff(&out, &original) > 5.0, "the photo came back unstylized");

    // With the gate off, even clip art goes through the generator.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[model]\ngate = false\n").unwrap();
    let clip = repo(CLIP_ART);
    let (stdout, out) = stylize(clip.to_str().unwrap(), &["--config", config.to_str().unwrap()]);
    assert!(!stdout.contains("passed through"), "{stdout}");
    assert_ne!(out, resized(CLIP_ART, out.width(), out.height()));
}
