//! The comic generator: its manifest, loading through tract, checks, warm-up and inference.
//! tract-onnx and tract-core are used only in this module.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::assets::{DEFAULT_MODEL, DEFAULT_MODEL_MANIFEST};
use crate::convert::{self, Layout, ValueRange};

/// What a model file promises: read from the TOML next to the .onnx file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Manifest {
    /// Short name for logs.
    pub name: String,
    /// sha256 of the .onnx file, lowercase hex.
    pub sha256: String,
    /// Input and output tensor layout.
    pub layout: Layout,
    /// Range of the input values (black to full).
    pub input_range: ValueRange,
    /// Range of the output values.
    pub output_range: ValueRange,
    /// Input height and width must be multiples of this.
    pub size_multiple: u32,
    /// Licence of the model file.
    #[serde(default)]
    pub licence: String,
    /// The command that made it.
    #[serde(default)]
    pub made_by: String,
}

impl Manifest {
    /// What is assumed of a model that has no manifest beside it.
    fn assumed(name: String) -> Manifest {
        Manifest {
            name,
            sha256: String::new(),
            layout: Layout::Nchw,
            input_range: ValueRange::UNIT,
            output_range: ValueRange::UNIT,
            size_multiple: 1,
            licence: String::new(),
            made_by: String::new(),
        }
    }
}

/// Why a model could not be loaded or run. Every message names the file, the reason and a fix.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum ModelError {
    #[error(
        "model {path}: file not found; fix: correct model.path in the config, or set it to \"\" for the built-in model"
    )]
    Missing { path: PathBuf },
    #[error("model {path}: cannot read it ({cause}); fix: check the file's permissions")]
    Read { path: PathBuf, cause: std::io::Error },
    #[error(
        "model manifest {path}: {reason}; fix: correct the manifest (see models/comic_filter.toml for the fields)"
    )]
    Manifest { path: PathBuf, reason: String },
    #[error(
        "model {path}: sha256 is {actual} but its manifest says {expected}; fix: the file is damaged or was replaced: copy it again, or update the manifest if the new model is intended"
    )]
    Checksum { path: String, expected: String, actual: String },
    #[error(
        "model {path}: not a valid ONNX file ({reason}); fix: the file may be truncated or not ONNX: copy it again or re-export it"
    )]
    Decode { path: String, reason: String },
    #[error(
        "model {path}: tract cannot run it ({reason}); fix: export it with standard ONNX ops only (opset 17, no com.microsoft ops)"
    )]
    Unsupported { path: String, reason: String },
    #[error(
        "model {path}: input is {found}, but comicbooth feeds {expected} ({layout}, RGB); fix: export the generator with a 3-channel RGB input of that layout and free or matching height/width, or set model.size to its fixed side"
    )]
    InputShape { path: String, found: String, expected: String, layout: Layout },
    #[error(
        "model {path}: output is {found}, expected {expected} (an RGB picture the size of the input); fix: use a generator whose output has the input's shape"
    )]
    OutputShape { path: String, found: String, expected: String },
    #[error(
        "model {path}: model.size {size} is not a multiple of {multiple}, which this model needs; fix: set model.size to {suggest}"
    )]
    Size { path: String, size: u32, multiple: u32, suggest: u32 },
    #[error(
        "model {path}: inference failed ({reason}); fix: run `comicbooth check` and report the model and this message"
    )]
    Run { path: String, reason: String },
}

/// Where a generator comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// The model built into the binary.
    Builtin,
    /// An ONNX file; a manifest `<stem>.toml` beside it is checked when present.
    File(PathBuf),
}

impl ModelSource {
    /// `model.path` from the config: empty means built in.
    pub fn from_config(path: &Path) -> ModelSource {
        if path.as_os_str().is_empty() { ModelSource::Builtin } else { ModelSource::File(path.into()) }
    }
}

/// A model file read into memory with its manifest, not yet given to tract.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The ONNX bytes.
    pub bytes: Vec<u8>,
    /// Its manifest (or what is assumed when it has none).
    pub manifest: Manifest,
    /// Where it came from, for messages.
    pub origin: String,
}

impl ModelSource {
    /// Reads the model file and its manifest.
    pub fn read(&self) -> Result<ModelFile, ModelError> {
        let (bytes, manifest, origin) = match self {
            ModelSource::Builtin => {
                let manifest =
                    parse_manifest(DEFAULT_MODEL_MANIFEST.bytes, Path::new(DEFAULT_MODEL_MANIFEST.name))?;
                (DEFAULT_MODEL.bytes.to_vec(), manifest, format!("built-in {}", DEFAULT_MODEL.name))
            }
            ModelSource::File(path) => {
                let bytes = std::fs::read(path).map_err(|source| match source.kind() {
                    std::io::ErrorKind::NotFound => ModelError::Missing { path: path.clone() },
                    _ => ModelError::Read { path: path.clone(), cause: source },
                })?;
                let manifest_path = path.with_extension("toml");
                let manifest = if manifest_path.exists() {
                    let text = std::fs::read(&manifest_path)
                        .map_err(|cause| ModelError::Read { path: manifest_path.clone(), cause })?;
                    parse_manifest(&text, &manifest_path)?
                } else {
                    tracing::warn!(
                        "model {}: no manifest {} beside it; assuming NCHW RGB in [0,1] and skipping the sha256 check",
                        path.display(),
                        manifest_path.display()
                    );
                    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    Manifest::assumed(stem)
                };
                (bytes, manifest, path.display().to_string())
            }
        };
        Ok(ModelFile { bytes, manifest, origin })
    }
}

/// A loaded, optimised, warmed-up generator for one input size.
pub struct Generator {
    plan: Arc<TypedRunnableModel>,
    manifest: Manifest,
    origin: String,
    width: u32,
    height: u32,
    threads: usize,
    /// How long loading and optimising took.
    pub load_time: Duration,
    /// How long the first (warm-up) run took.
    pub warmup_time: Duration,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("origin", &self.origin)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// tract's errors are chains over several lines: one line, causes joined.
fn one_line(e: &TractError) -> String {
    format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Threads to use: `0` means one per core.
pub fn resolve_threads(configured: u32) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n as usize,
    }
}

impl Generator {
    /// Loads, checks, optimises for `width` x `height` inputs and warms up a generator.
    pub fn load(
        source: &ModelSource,
        width: u32,
        height: u32,
        threads: u32,
    ) -> Result<Generator, ModelError> {
        let file = source.read()?;
        Generator::from_bytes(&file.bytes, file.manifest, file.origin, width, height, threads)
    }

    /// Builds a generator from ONNX bytes and their manifest; `origin` names it in messages.
    pub fn from_bytes(
        bytes: &[u8],
        manifest: Manifest,
        origin: String,
        width: u32,
        height: u32,
        threads: u32,
    ) -> Result<Generator, ModelError> {
        let started = Instant::now();
        if !manifest.sha256.is_empty() {
            let actual = hex(&Sha256::digest(bytes));
            if !actual.eq_ignore_ascii_case(&manifest.sha256) {
                return Err(ModelError::Checksum { path: origin, expected: manifest.sha256, actual });
            }
        }
        let multiple = manifest.size_multiple.max(1);
        if let Some(&bad) = [width, height].iter().find(|&&s| s % multiple != 0) {
            let suggest = (bad / multiple).max(1) * multiple;
            return Err(ModelError::Size { path: origin, size: bad, multiple, suggest });
        }
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| ModelError::Decode { path: origin.clone(), reason: one_line(&e) })?;
        let expected = manifest.layout.shape(width as usize, height as usize);
        check_declared_input(&proto, &expected, manifest.layout).map_err(|found| ModelError::InputShape {
            path: origin.clone(),
            found,
            expected: dims(&expected),
            layout: manifest.layout,
        })?;
        let unsupported =
            |e: TractError| ModelError::Unsupported { path: origin.clone(), reason: one_line(&e) };
        let model = onnx
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact(expected).into()))
            .and_then(|m| m.into_optimized())
            .map_err(unsupported)?;
        let out_shape = model
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
            .unwrap_or_default();
        if out_shape != expected {
            let found = if out_shape.is_empty() { "not a fixed shape".into() } else { dims(&out_shape) };
            return Err(ModelError::OutputShape { path: origin, found, expected: dims(&expected) });
        }
        let threads = resolve_threads(threads);
        let executor =
            if threads > 1 { multithread::Executor::multithread(threads) } else { Default::default() };
        let options = RunOptions { executor: Some(executor), ..Default::default() };
        let plan = model.into_runnable_with_options(&options).map_err(unsupported)?;
        let load_time = started.elapsed();

        let mut generator = Generator {
            plan,
            manifest,
            origin,
            width,
            height,
            threads,
            load_time,
            warmup_time: Duration::ZERO,
        };
        let warm = Instant::now();
        generator.run(&RgbImage::new(width, height))?;
        generator.warmup_time = warm.elapsed();
        let isa = tract_linalg::isa::native();
        let kernels = tract_linalg::mmm_routines::runnable_for(&isa);
        tracing::info!(
            isa = isa.nickname(),
            matmul_kernels = kernels.len(),
            first = kernels.first().map(|k| k.name().to_owned()).unwrap_or_default(),
            "tract kernels"
        );
        tracing::info!(
            model = %generator.origin,
            name = %generator.manifest.name,
            width,
            height,
            threads,
            load_ms = generator.load_time.as_millis() as u64,
            warmup_ms = generator.warmup_time.as_millis() as u64,
            "generator ready"
        );
        Ok(generator)
    }

    /// Turns an RGB picture of the generator's size into its comic version.
    pub fn run(&self, img: &RgbImage) -> Result<RgbImage, ModelError> {
        assert_eq!(img.dimensions(), self.size(), "generator input must be its configured size");
        let m = &self.manifest;
        let shape = m.layout.shape(self.width as usize, self.height as usize);
        let input = convert::to_tensor(img, m.layout, m.input_range);
        let out = self.run_tensor(&shape, &input)?;
        Ok(convert::from_tensor(&out, self.width, self.height, m.layout, m.output_range))
    }

    /// Runs the model on a raw tensor of `shape` and returns its output values.
    pub fn run_tensor(&self, shape: &[usize], data: &[f32]) -> Result<Vec<f32>, ModelError> {
        let run_err = |e: TractError| ModelError::Run { path: self.origin.clone(), reason: one_line(&e) };
        let input = Tensor::from_shape(shape, data).map_err(run_err)?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(run_err)?;
        let view = outputs[0].to_plain_array_view::<f32>().map_err(run_err)?;
        Ok(view.iter().copied().collect())
    }

    /// The (width, height) this generator runs at.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Inference threads in use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where it came from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

fn parse_manifest(bytes: &[u8], path: &Path) -> Result<Manifest, ModelError> {
    let manifest_err = |reason: String| ModelError::Manifest { path: path.into(), reason };
    let text = std::str::from_utf8(bytes).map_err(|e| manifest_err(format!("not UTF-8 text ({e})")))?;
    toml::from_str(text).map_err(|e| manifest_err(e.message().replace('\n', " ")))
}

/// Compares the graph's declared first input with what comicbooth will feed it. Free
/// (symbolic) dimensions fit anything; a fixed one must match. Returns the declared shape on
/// mismatch.
fn check_declared_input(proto: &pb::ModelProto, expected: &[usize], layout: Layout) -> Result<(), String> {
    use pb::tensor_shape_proto::dimension::Value;
    let Some(graph) = &proto.graph else { return Ok(()) };
    let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let Some(input) = graph.input.iter().find(|i| !initializers.contains(&i.name.as_str())) else {
        return Err("no input".into());
    };
    let Some(pb::type_proto::Value::TensorType(t)) = input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Ok(());
    };
    let Some(shape) = &t.shape else { return Ok(()) };
    let declared: Vec<Option<i64>> = shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(Value::DimValue(v)) if v > 0 => Some(v),
            _ => None,
        })
        .collect();
    let text = declared
        .iter()
        .zip(&shape.dim)
        .map(|(v, d)| match (v, &d.value) {
            (Some(v), _) => v.to_string(),
            (None, Some(Value::DimParam(p))) if !p.is_empty() => p.clone(),
            _ => "?".into(),
        })
        .collect::<Vec<_>>()
        .join("x");
    let fits = declared.len() == expected.len()
        && declared.iter().zip(expected).all(|(d, &e)| d.is_none_or(|d| d as usize == e));
    if fits { Ok(()) } else { Err(format!("{text} ({layout})")) }
}

fn dims(shape: &[usize]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a byte slice as lowercase hex (as written in manifests).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
