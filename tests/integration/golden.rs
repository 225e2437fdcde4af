//! tract's outputs of the shipped models equal onnxruntime's on fixed inputs
//! (tests/golden/make_golden.py made the files), and the int8 generator stays close to f32.
//! (The gate ships as f32 only: models/train/nets.py, StatsGate.)

use comicbooth::model::{Gate, Generator, ModelSource};

use crate::util::repo;

const GENERATOR_SHAPE: [usize; 4] = [1, 3, 64, 80];
/// The gate's native size (its manifest's native_size).
const GATE_SHAPE: [usize; 4] = [1, 3, 256, 256];

fn read_f32(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(repo(path)).unwrap();
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// Largest and mean absolute difference.
fn diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    let mean = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    (worst, mean)
}

/// tract's output of models/NAME.onnx on its golden input.
fn tract_output(name: &str, threads: u32) -> Vec<f32> {
    tract_output_on(name, name, threads)
}

/// tract's output of models/NAME.onnx on the golden input tests/golden/GOLDEN.input.f32.
fn tract_output_on(name: &str, golden: &str, threads: u32) -> Vec<f32> {
    let input = read_f32(&format!("tests/golden/{golden}.input.f32"));
    let folder = if name == "comic_filter" { "tests/fixtures" } else { "models" };
    let source = ModelSource::File(repo(&format!("{folder}/{name}.onnx")));
    if name.starts_with("comic_gate") {
        assert_eq!(input.len(), GATE_SHAPE.iter().product::<usize>());
        let file = source.read().unwrap();
        let gate = Gate::from_bytes(&file.bytes, file.manifest, file.origin, 0.9, threads).unwrap();
        gate.run_tensor(&GATE_SHAPE, &input).unwrap()
    } else {
        assert_eq!(input.len(), GENERATOR_SHAPE.iter().product::<usize>());
        let [_, _, h, w] = GENERATOR_SHAPE;
        let g = Generator::load(&source, w as u32, h as u32, threads).unwrap();
        g.run_tensor(&GENERATOR_SHAPE, &input).unwrap()
    }
}

/// tract against onnxruntime on the same model: worst difference at most `tolerance`.
fn check(name: &str, threads: u32, tolerance: f32) {
    check_on(name, name, threads, tolerance);
}

/// [`check`] on the golden input and output tests/golden/GOLDEN.{input,output}.f32.
fn check_on(name: &str, golden: &str, threads: u32, tolerance: f32) {
    let expected = read_f32(&format!("tests/golden/{golden}.output.f32"));
    let got = tract_output_on(name, golden, threads);
    let (worst, mean) = diff(&got, &expected);
    println!("{name} on {golden}, {threads} threads: max |tract - onnxruntime| {worst}, mean {mean}");
    assert!(
        worst <= tolerance,
        "{golden}: max |tract - onnxruntime| = {worst} (mean {mean}), tolerance {tolerance}"
    );
}

/// onnxruntime and tract sum in different orders: f32 differences stay at a few 1e-6, and
/// the steepest part of the hand-weighted filter (the ink ramp, gain 4) makes them at most a
/// few 1e-5. 1e-4 is 0.026 of one 8-bit level: far below anything visible.
const F32_TOLERANCE: f32 = 1e-4;

#[test]
fn comic_filter_fixture_matches_onnxruntime() {
    check("comic_filter", 1, F32_TOLERANCE);
    check("comic_filter", 2, F32_TOLERANCE);
    // The reference is not trivial: it has ink (near 0) and bright colour (near 1).
    let expected = read_f32("tests/golden/comic_filter.output.f32");
    assert!(expected.iter().any(|&v| v < 0.05) && expected.iter().any(|&v| v > 0.9));
}

#[test]
fn generator_f32_matches_onnxruntime() {
    check("comic_generator.f32", 1, F32_TOLERANCE);
    check("comic_generator.f32", 2, F32_TOLERANCE);
}

#[test]
fn gate_f32_matches_onnxruntime_on_a_comic_and_a_photo() {
    // The gate's output is a logit (unbounded): the same absolute tolerance is tighter still
    // once through the sigmoid. Its statistics count pixels on either side of thresholds, so
    // this also checks that tract and onnxruntime put every pixel on the same side.
    check("comic_gate.f32", 1, F32_TOLERANCE);
    check_on("comic_gate.f32", "comic_gate.f32.photo", 1, F32_TOLERANCE);
    // The references themselves: the flat synthetic picture is comic, the photo is a photo.
    assert!(read_f32("tests/golden/comic_gate.f32.output.f32")[0] > 0.0);
    let photo = read_f32("tests/golden/comic_gate.f32.photo.output.f32");
    assert!(photo[0] < 0.0, "the reference gate calls coffee.jpg comic: {photo:?}");
}

/// int8: comicbooth's own convolution (`model/qconv.rs`) quantizes, requantizes and
/// dequantizes as onnxruntime does, and on x86_64 the output is the same to the bit. Elsewhere
/// the f32 parts between (the transposed convolutions) sum in another order, which can move a
/// value across a rounding step, and the steps add up through the layers. The bound is on
/// the final 0..1 output (INT8_TOLERANCE of full scale at worst).
const INT8_TOLERANCE: f32 = 0.05;

#[test]
fn generator_int8_matches_onnxruntime() {
    check("comic_generator.int8", 1, INT8_TOLERANCE);
    check("comic_generator.int8", 2, INT8_TOLERANCE);
}

/// What quantization costs: tract's int8 output against the f32 reference, mean absolute
/// difference under 1% of full scale (about 2.5 of 255 levels).
#[test]
fn generator_int8_stays_close_to_f32() {
    let f32_reference = read_f32("tests/golden/comic_generator.f32.output.f32");
    let (_, mean) = diff(&tract_output("comic_generator.int8", 1), &f32_reference);
    assert!(mean < 0.01, "int8 generator differs from f32 by {mean} on average");
}

/// The int8 generator reaches tract's integer matrix kernels, not an f32 fallback: on x86_64
/// the AVX2/VNNI i32 kernels; on aarch64 `arm64simd_mmm_i32_8x8` (SMLAL: Cortex-A53 and A72, Pi
/// Zero 2 W to Pi 4) or its `_dot` form (SDOT) where the CPU has the dot-product instructions
/// (Cortex-A76 and A78: Pi 5, Jetson Orin). scripts/test-arm runs it under qemu-aarch64 as a
/// Cortex-A72 and as a Cortex-A76, each time beside `generator_int8_matches_onnxruntime`, which
/// checks those kernels' outputs against onnxruntime's.
#[test]
fn generator_int8_reaches_the_integer_kernels() {
    let source = ModelSource::File(repo("models/comic_generator.int8.onnx"));
    let [_, _, h, w] = GENERATOR_SHAPE;
    let g = Generator::load(&source, w as u32, h as u32, 1).unwrap();
    let kernels = g.kernels();
    let integer: Vec<&String> = kernels.iter().filter(|k| k.contains("_i32_")).collect();
    assert!(!integer.is_empty(), "the int8 generator runs no integer kernel: {kernels:?}");
    #[cfg(target_arch = "aarch64")]
    {
        assert!(
            integer.iter().all(|k| k.starts_with("arm64simd_mmm_i32_8x8")),
            "integer kernels that are not tract's NEON ones: {integer:?}"
        );
        let dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
        assert_eq!(
            integer.iter().any(|k| k.ends_with("_dot")),
            dotprod,
            "this CPU {} the dot-product instructions, yet the plan runs {integer:?}",
            if dotprod { "has" } else { "lacks" }
        );
        println!("aarch64, dotprod {dotprod}: {integer:?}");
    }
}

#[test]
fn built_in_models_are_the_shipped_files_with_their_manifests() {
    use comicbooth::assets::{GATE, GENERATOR, GENERATOR_INT8};
    let builtins = [
        (GENERATOR, "comic_generator.f32"),
        (GENERATOR_INT8, "comic_generator.int8"),
        (GATE, "comic_gate.f32"),
    ];
    for (builtin, file) in builtins {
        let bytes = std::fs::read(repo(&format!("models/{file}.onnx"))).unwrap();
        let manifest = std::fs::read_to_string(repo(&format!("models/{file}.toml"))).unwrap();
        let sha = comicbooth::model::sha256_hex(&bytes);
        assert!(
            manifest.contains(&format!("sha256 = \"{sha}\"")),
            "{file}: manifest does not list sha256 {sha}"
        );
        assert_eq!(bytes, builtin.model.bytes, "{file}: the binary embeds another file");
        assert_eq!(manifest.as_bytes(), builtin.manifest.bytes);
    }
    let file = "tests/fixtures/comic_filter";
    let bytes = std::fs::read(repo(&format!("{file}.onnx"))).unwrap();
    let manifest = std::fs::read_to_string(repo(&format!("{file}.toml"))).unwrap();
    let sha = comicbooth::model::sha256_hex(&bytes);
    assert!(manifest.contains(&format!("sha256 = \"{sha}\"")), "{file}: manifest does not list sha256 {sha}");
}

/// Regression (issue 19): a QDQ model with a Pad that pads nothing between a DequantizeLinear
/// and a QuantizeLinear (PyTorch's `ReflectionPad2d(0)` in AnimeGANv2, quantized) failed to
/// load: "Pad: Inconsistent pad: input of rank 1" from tract's declutter. comicbooth's pass
/// (`model::passes::drop_empty_pads`) removes such Pads first; the fixture passes its input
/// through, to within one quantization step.
#[test]
fn a_qdq_model_with_a_pad_that_pads_nothing_loads_and_runs() {
    let source = ModelSource::File(repo("tests/fixtures/qdq_zero_pad.onnx"));
    let g = Generator::load(&source, 256, 256, 1).unwrap_or_else(|e| panic!("{e}"));
    let input: Vec<f32> = (0..3 * 256 * 256).map(|i| ((i * 7919) % 256) as f32 / 255.0).collect();
    let out = g.run_tensor(&[1, 3, 256, 256], &input).unwrap();
    let (worst, _) = diff(&out, &input);
    assert!(worst <= 1.0 / 255.0 + 1e-6, "worst difference {worst}");
}
