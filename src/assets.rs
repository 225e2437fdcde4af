//! Files built into the binary so that `comicbooth demo` runs on any machine with nothing
//! installed: the sample photos (the demo's camera) and the default generator with its
//! manifest. Their sources and licences: `assets/photos/SOURCES.md`, `models/*.toml`.

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

/// The sample photos, in the order the demo shows them.
pub const SAMPLE_PHOTOS: [Asset; 4] = [
    asset!("assets/photos", "astronaut.jpg"),
    asset!("assets/photos", "grace_hopper.jpg"),
    asset!("assets/photos", "chelsea.jpg"),
    asset!("assets/photos", "coffee.jpg"),
];

/// The default comic generator (ONNX).
pub const DEFAULT_MODEL: Asset = asset!("models", "comic_filter.onnx");

/// The default generator's manifest (TOML).
pub const DEFAULT_MODEL_MANIFEST: Asset = asset!("models", "comic_filter.toml");
