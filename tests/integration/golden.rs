//! tract's output of the bundled model equals onnxruntime's on a fixed input
//! (tests/golden/make_golden.py made both files).

use comicbooth::model::{Generator, ModelSource};

use crate::util::repo;

/// onnxruntime and tract sum in different orders; the steepest part of the graph (the ink
/// ramp, gain 4) turns 1e-6 differences into at most a few 1e-5. 1e-4 is 0.026 of one 8-bit
/// level: far below anything visible, far above float noise.
const TOLERANCE: f32 = 1e-4;
const SHAPE: [usize; 4] = [1, 3, 64, 80];

fn read_f32(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(repo(path)).unwrap();
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn check(threads: u32) {
    let input = read_f32("tests/golden/comic_filter.input.f32");
    let expected = read_f32("tests/golden/comic_filter.output.f32");
    assert_eq!(input.len(), SHAPE.iter().product::<usize>());
    let source = ModelSource::File(repo("models/comic_filter.onnx"));
    let g = Generator::load(&source, SHAPE[3] as u32, SHAPE[2] as u32, threads).unwrap();
    let got = g.run_tensor(&SHAPE, &input).unwrap();
    assert_eq!(got.len(), expected.len());
    let (worst, at) = got
        .iter()
        .zip(&expected)
        .map(|(g, e)| (g - e).abs())
        .enumerate()
        .fold((0f32, 0), |(w, at), (i, d)| if d > w { (d, i) } else { (w, at) });
    assert!(worst <= TOLERANCE, "max |tract - onnxruntime| = {worst} at index {at} (tolerance {TOLERANCE})");
    // The reference is not trivial: it has ink (near 0) and bright colour (near 1).
    assert!(expected.iter().any(|&v| v < 0.05) && expected.iter().any(|&v| v > 0.9));
}

#[test]
fn tract_matches_onnxruntime_single_thread() {
    check(1);
}

#[test]
fn tract_matches_onnxruntime_two_threads() {
    check(2);
}

#[test]
fn bundled_model_matches_its_manifest() {
    let bytes = std::fs::read(repo("models/comic_filter.onnx")).unwrap();
    let manifest = std::fs::read_to_string(repo("models/comic_filter.toml")).unwrap();
    let sha = comicbooth::model::sha256_hex(&bytes);
    assert!(manifest.contains(&format!("sha256 = \"{sha}\"")), "manifest does not list sha256 {sha}");
    // The binary embeds the same file.
    assert_eq!(bytes, comicbooth::assets::DEFAULT_MODEL.bytes);
}
