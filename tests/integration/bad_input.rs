//! Bad input gets one clear line (what, why, fix), a failing exit code and no partial output.

use std::path::{Path, PathBuf};

use crate::util::{comicbooth, files_in, repo, texts};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        Case { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Runs comicbooth, expects failure, and returns the single error line.
    fn fails(&self, args: &[&str]) -> String {
        let run = comicbooth(args);
        let (_, stderr) = texts(&run);
        assert!(!run.status.success(), "expected failure for {args:?}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected exactly one line on stderr, got:\n{stderr}");
        assert!(lines[0].starts_with("error: "), "{stderr}");
        assert!(lines[0].contains("fix: "), "no fix given: {stderr}");
        assert_eq!(files_in(&self.path("out")), Vec::<PathBuf>::new(), "output left behind for {args:?}");
        lines[0].to_owned()
    }

    fn stylize(&self, input: &Path, extra: &[&str]) -> String {
        let out = self.path("out/comic.png");
        let mut args = vec!["stylize", input.to_str().unwrap(), out.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.fails(&args)
    }
}

fn good_photo() -> Vec<u8> {
    std::fs::read(repo("assets/photos/coffee.jpg")).unwrap()
}

#[test]
fn missing_photo() {
    let c = Case::new();
    let e = c.stylize(&c.path("nowhere.jpg"), &[]);
    assert!(e.contains("nowhere.jpg") && e.contains("No such file"), "{e}");
}

#[test]
fn empty_photo() {
    let c = Case::new();
    let e = c.stylize(&c.write("empty.jpg", b""), &[]);
    assert!(e.contains("empty.jpg") && e.contains("empty (0 bytes)"), "{e}");
}

#[test]
fn truncated_jpeg() {
    let c = Case::new();
    let photo = good_photo();
    let e = c.stylize(&c.write("cut.jpg", &photo[..photo.len() * 2 / 3]), &[]);
    assert!(e.contains("cut.jpg") && e.contains("truncated"), "{e}");
}

#[test]
fn corrupt_jpeg_body() {
    let c = Case::new();
    let mut photo = good_photo();
    // Keep the headers and the end marker; flip bits all through the entropy-coded data, as a
    // bad cable or card would.
    let n = photo.len();
    photo[n / 3..n - 2].iter_mut().step_by(7).for_each(|b| *b ^= 0x5A);
    let e = c.stylize(&c.write("garbled.jpg", &photo), &[]);
    assert!(e.contains("garbled.jpg") && e.contains("not a readable photo"), "{e}");
}

#[test]
fn text_file_named_jpg() {
    let c = Case::new();
    let e = c.stylize(&c.write("notes.jpg", b"shopping list: eggs, milk\n"), &[]);
    assert!(e.contains("notes.jpg") && e.contains("not JPEG or PNG"), "{e}");
}

#[test]
fn truncated_model() {
    let c = Case::new();
    let model = std::fs::read(repo("tests/fixtures/comic_filter.onnx")).unwrap();
    let m = c.write("half.onnx", &model[..model.len() / 2]);
    let photo = c.write("photo.jpg", &good_photo());
    let e = c.stylize(&photo, &["--model", m.to_str().unwrap()]);
    assert!(e.contains("half.onnx") && e.contains("not a valid ONNX file"), "{e}");
}

#[test]
fn truncated_model_with_its_manifest_fails_the_checksum() {
    let c = Case::new();
    let model = std::fs::read(repo("tests/fixtures/comic_filter.onnx")).unwrap();
    let m = c.write("comic_filter.onnx", &model[..model.len() - 10]);
    std::fs::copy(repo("tests/fixtures/comic_filter.toml"), c.path("comic_filter.toml")).unwrap();
    let photo = c.write("photo.jpg", &good_photo());
    let e = c.stylize(&photo, &["--model", m.to_str().unwrap()]);
    assert!(e.contains("comic_filter.onnx") && e.contains("sha256"), "{e}");
}

#[test]
fn model_with_wrong_input_shape() {
    let c = Case::new();
    let photo = c.write("photo.jpg", &good_photo());
    let m = repo("tests/fixtures/wrong_shape.onnx");
    let e = c.stylize(&photo, &["--model", m.to_str().unwrap()]);
    assert!(e.contains("wrong_shape.onnx") && e.contains("1x1x32x32"), "{e}");
    // The same model in the demo fails the same way, before anything is written.
    let out = c.path("out");
    let e = c.fails(&["demo", "--out", out.to_str().unwrap(), "--model", m.to_str().unwrap()]);
    assert!(e.contains("1x3x256x256"), "{e}");
}

#[test]
fn gate_given_as_the_generator() {
    let c = Case::new();
    let photo = c.write("photo.jpg", &good_photo());
    let gate = repo("models/comic_gate.f32.onnx");
    let e = c.stylize(&photo, &["--model", gate.to_str().unwrap()]);
    assert!(e.contains("comic_gate.f32.onnx") && e.contains("gate model") && e.contains("model.path"), "{e}");
}

#[test]
fn generator_given_as_the_gate() {
    let c = Case::new();
    let photo = c.write("photo.jpg", &good_photo());
    let generator = repo("models/comic_generator.f32.onnx");
    let e = c.stylize(&photo, &["--gate", generator.to_str().unwrap()]);
    assert!(e.contains("generator model") && e.contains("model.gate_path"), "{e}");
}

#[test]
fn generator_whose_output_leaves_its_declared_range() {
    // The real generator, with a manifest that promises outputs in [0, 0.01]: the warm-up
    // run shows otherwise and the model is refused instead of showing garbage.
    let c = Case::new();
    let photo = c.write("photo.jpg", &good_photo());
    let m = c.write("g.onnx", &std::fs::read(repo("models/comic_generator.f32.onnx")).unwrap());
    let manifest = std::fs::read_to_string(repo("models/comic_generator.f32.toml")).unwrap();
    let narrowed = manifest.replace("output_range = [0.0, 1.0]", "output_range = [0.0, 0.01]");
    assert_ne!(manifest, narrowed);
    c.write("g.toml", narrowed.as_bytes());
    let e = c.stylize(&photo, &["--model", m.to_str().unwrap()]);
    assert!(e.contains("g.onnx") && e.contains("outside the range 0 to 0.01"), "{e}");
}

#[test]
fn bad_config_names_line_and_key() {
    let c = Case::new();
    let cfg = c.write("booth.toml", b"[animate]\nframe_ms = 100\nfps = 3\n");
    let e = c.fails(&["--config", cfg.to_str().unwrap(), "demo"]);
    assert!(e.contains("booth.toml, line 3, key `animate.fps`") && e.contains("unknown field"), "{e}");
}

/// `run` with a configuration it cannot use exits with 78 (EX_CONFIG), which the unit's
/// `RestartPreventExitStatus=78` keeps from a restart loop; other commands keep exit code 1.
#[test]
fn run_with_a_bad_config_exits_78_and_the_unit_does_not_restart_it() {
    let c = Case::new();
    let out = c.path("out");
    let bad = c.write("bad.toml", b"[display]\nbackend = \"spi\"\ndc_line = -1\n");
    let no_trigger = c.write(
        "quiet.toml",
        format!("[trigger]\nsignal = false\n\n[export]\ndir = \"{}\"\n", out.display()).as_bytes(),
    );
    for (cfg, says) in [(&bad, "key `display.dc_line`"), (&no_trigger, "no trigger is configured")] {
        let e = c.fails(&["--config", cfg.to_str().unwrap(), "run", "--for", "5"]);
        assert!(e.contains(says), "{e}");
        let run = comicbooth(&["--config", cfg.to_str().unwrap(), "run", "--for", "5"]);
        assert_eq!(run.status.code(), Some(78), "{}", texts(&run).1);
    }
    assert_eq!(comicbooth(&["--config", bad.to_str().unwrap(), "demo"]).status.code(), Some(1));
    let unit = std::fs::read_to_string(repo("systemd/comicbooth.service")).unwrap();
    assert!(unit.lines().any(|l| l.trim() == "RestartPreventExitStatus=78"), "{unit}");
}

#[test]
fn unknown_output_extension() {
    let c = Case::new();
    let photo = c.write("photo.jpg", &good_photo());
    let out = c.path("out/comic.tiffx");
    let e = c.fails(&["stylize", photo.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(e.contains("comic.tiffx"), "{e}");
}

#[test]
fn folder_with_one_bad_photo_keeps_the_good_ones() {
    let c = Case::new();
    let input = c.path("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("a.jpg"), good_photo()).unwrap();
    std::fs::write(input.join("b.jpg"), b"").unwrap();
    let out = c.path("styled");
    let run = comicbooth(&["stylize", input.to_str().unwrap(), out.to_str().unwrap()]);
    let (stdout, _) = texts(&run);
    assert!(!run.status.success());
    assert!(stdout.contains("1 written, 1 failed") && stdout.contains("b.jpg"), "{stdout}");
    let comic = image::open(out.join("a.png")).unwrap();
    // The photo's own size: its short side (320) is under look.size.
    assert_eq!((comic.width(), comic.height()), (480, 320));
    assert!(!out.join("b.png").exists());
}
