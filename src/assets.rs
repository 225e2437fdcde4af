//! Files built into the binary so that `comicbooth demo` runs on any machine with nothing
//! installed: the sample photos (the demo's camera) and the default generator and gate with
//! their manifests, and the comic font. Their sources and licences: `assets/photos/SOURCES.md`,
//! `assets/fonts/SOURCES.md`, `models/*.toml`.

/// A file compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// File name, used in messages and output names.
    pub name: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($dir:literal, $name:literal) => {
        Asset { name: $name, bytes: include_bytes!(concat!("../", $dir, "/", $name)) }
    };
}

/// The comic lettering font (SIL OFL 1.1; `assets/fonts/SOURCES.md`).
pub const COMIC_FONT: Asset = asset!("assets/fonts", "ComicNeue-Bold.otf");

/// The sample photos, in the order the demo shows them.
pub const SAMPLE_PHOTOS: [Asset; 4] = [
    asset!("assets/photos", "astronaut.jpg"),
    asset!("assets/photos", "grace_hopper.jpg"),
    asset!("assets/photos", "chelsea.jpg"),
    asset!("assets/photos", "coffee.jpg"),
];

/// A model built into the binary: its ONNX file and its manifest.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinModel {
    /// The ONNX file.
    pub model: Asset,
    /// Its manifest (TOML).
    pub manifest: Asset,
}

/// The built-in comic generator (`model.path = ""`), f32: the trained generator.
pub const GENERATOR: BuiltinModel = BuiltinModel {
    model: asset!("models", "comic_generator.f32.onnx"),
    manifest: asset!("models", "comic_generator.f32.toml"),
};

/// The built-in generator's int8 form (`model.precision`), quantized from [`GENERATOR`]
/// (`models/train/quantize.py`).
pub const GENERATOR_INT8: BuiltinModel = BuiltinModel {
    model: asset!("models", "comic_generator.int8.onnx"),
    manifest: asset!("models", "comic_generator.int8.toml"),
};

/// The default "already comic?" gate (`model.gate_path = ""`).
pub const GATE: BuiltinModel = BuiltinModel {
    model: asset!("models", "comic_gate.f32.onnx"),
    manifest: asset!("models", "comic_gate.f32.toml"),
};
