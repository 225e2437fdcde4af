//! The models: the comic generator and the "already comic?" gate. Their manifests, loading
//! through tract, checks (sha256, role, input and output shapes, output range), warm-up and
//! inference. tract-onnx and tract-core are used only in this module.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::assets::BuiltinModel;

mod deconv;
mod histogram;
mod passes;
mod qconv;
use crate::convert::{self, Layout, ValueRange};

/// Clears the upper halves of the x86_64 vector registers (`vzeroupper`) where the CPU has AVX;
/// elsewhere nothing.
///
/// Why: tract-linalg 0.23.9's AVX and AVX-512 kernels return with those halves still in use,
/// and until something clears them, every SSE instruction after (what Rust compiles for
/// x86_64's baseline: our packing, quantizing and requantizing loops, and the rest of the
/// comic on the same thread) waits on them as a false dependency, so loops that should overlap
/// run one iteration at a time. Measured on the int8 generator (AMD EPYC, 1 thread): a body
/// convolution's quantize pass went from 345 to 85 µs (1.75 to 0.43 ns a value) and its im2col
/// from 520 to 240 µs, once cleared after each kernel call (`docs/speed.md`). It costs a cycle
/// or so.
#[inline]
pub(crate) fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        unsafe fn vzeroupper() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX (checked just above).
            unsafe { vzeroupper() }
        }
    }
}

/// Runs of each form in [`Generator::fastest`], the order swapped every other round: 5 cost
/// about 0.3 s on x86_64 and 2 s on a Pi 4 (by `docs/speed.md`'s estimate), once at start-up.
pub const RACE_ROUNDS: usize = 5;

/// What a model file promises: read from the TOML next to the .onnx file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Manifest {
    /// Short name for logs.
    pub name: String,
    /// What the model is for.
    #[serde(default)]
    pub role: Role,
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
    /// The square side the model was trained at, where it must run at that size (the gate).
    #[serde(default)]
    pub native_size: Option<u32>,
    /// Licence of the model file.
    #[serde(default)]
    pub licence: String,
    /// The command that made it.
    #[serde(default)]
    pub made_by: String,
}

impl Manifest {
    /// Parses a manifest's TOML; `path` is only used in error messages.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest, ModelError> {
        parse_manifest(bytes, path)
    }

    /// What is assumed of a model that has no manifest beside it.
    fn assumed(name: String) -> Manifest {
        Manifest {
            name,
            role: Role::Generator,
            sha256: String::new(),
            layout: Layout::Nchw,
            input_range: ValueRange::UNIT,
            output_range: ValueRange::UNIT,
            size_multiple: 1,
            native_size: None,
            licence: String::new(),
            made_by: String::new(),
        }
    }
}

/// What a model file is for: manifest key `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Photo in, comic picture of the same size out.
    #[default]
    Generator,
    /// Picture in, one logit out: is it already comic-style?
    Gate,
}

impl Role {
    /// The config key that names a model of this role.
    fn config_key(self) -> &'static str {
        match self {
            Role::Generator => "model.path",
            Role::Gate => "model.gate_path",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Generator => "generator",
            Role::Gate => "gate",
        })
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
        "model manifest {path}: {reason}; fix: correct the manifest (the shipped ones show every field: models/comic_generator.f32.toml for a generator, models/comic_gate.f32.toml for a gate; installed under /usr/share/comicbooth/models/)"
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
        "model {path}: input is {found}, but comicbooth feeds {expected} ({layout}, RGB); fix: export the model with a 3-channel RGB input of that layout and free or matching height/width, or set model.size to its fixed side"
    )]
    InputShape { path: String, found: String, expected: String, layout: Layout },
    #[error(
        "model {path}: output is {found}, expected {expected} ({what}); fix: use a {role} model whose output is {what}"
    )]
    OutputShape { path: String, found: String, expected: String, what: &'static str, role: Role },
    #[error(
        "model {path}: its manifest says it is a {found} model, but it is used as the {expected}; fix: point {key} at a {expected} model"
    )]
    Role { path: String, found: Role, expected: Role, key: &'static str },
    #[error(
        "model {path}: on a grey test picture it gave values from {min} to {max}, outside the range {lo} to {hi} its manifest declares; fix: correct output_range in the manifest, or re-export the model"
    )]
    OutputRange { path: String, min: f32, max: f32, lo: f32, hi: f32 },
    #[error(
        "model {path}: model.size {size} is not a multiple of {multiple}, which this model needs; fix: set model.size to {suggest}"
    )]
    Size { path: String, size: u32, multiple: u32, suggest: u32 },
    #[error(
        "model {path}: inference failed ({reason}); fix: run `comicbooth check` and report the model and this message"
    )]
    Run { path: String, reason: String },
}

/// Where a model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A model built into the binary.
    Builtin(BuiltinModel),
    /// An ONNX file; a manifest `<stem>.toml` beside it is checked when present.
    File(PathBuf),
}

impl ModelSource {
    /// A path from the config: empty means the built-in `builtin`.
    pub fn from_config(path: &Path, builtin: BuiltinModel) -> ModelSource {
        if path.as_os_str().is_empty() {
            ModelSource::Builtin(builtin)
        } else {
            ModelSource::File(path.into())
        }
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
            ModelSource::Builtin(b) => {
                let manifest = parse_manifest(b.manifest.bytes, Path::new(b.manifest.name))?;
                (b.model.bytes.to_vec(), manifest, format!("built-in {}", b.model.name))
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

/// What a network's output must be.
struct OutputSpec {
    shape: Vec<usize>,
    what: &'static str,
}

/// A checked, optimised tract plan for one input shape: what the generator and the gate share.
/// The time one kind of operation took in a profiled run.
#[derive(Debug, Clone)]
pub struct OpTime {
    /// tract's name of the operation, after optimisation.
    pub op: String,
    /// Its time per run, all its nodes together.
    pub time: Duration,
    /// How many nodes of the plan run it.
    pub nodes: usize,
}

/// Where a run's time goes: by kind of operation, and node by node.
#[derive(Debug, Clone)]
pub struct Profile {
    /// By kind of operation, slowest first.
    pub by_op: Vec<OpTime>,
    /// Node by node, slowest first (nodes that took no time left out).
    pub by_node: Vec<NodeTime>,
}

/// One node of the plan and its time per run.
#[derive(Debug, Clone)]
pub struct NodeTime {
    /// The node's name (from the ONNX graph, with tract's or comicbooth's suffix).
    pub name: String,
    /// tract's name of its operation.
    pub op: String,
    /// Its output's shape and type, as tract writes it.
    pub output: String,
    /// Its time per run.
    pub time: Duration,
}

struct Net {
    plan: Arc<TypedRunnableModel>,
    manifest: Manifest,
    origin: String,
    input_shape: [usize; 4],
    threads: usize,
    kernels: Vec<String>,
    load_time: Duration,
}

impl Net {
    /// Verifies the sha256 and the role, checks the declared input, optimises for a
    /// `width` x `height` input and checks the output shape.
    fn build(
        bytes: &[u8],
        manifest: Manifest,
        origin: String,
        role: Role,
        (width, height): (u32, u32),
        output: impl FnOnce([usize; 4]) -> OutputSpec,
        threads: u32,
    ) -> Result<Net, ModelError> {
        let started = Instant::now();
        if !manifest.sha256.is_empty() {
            let actual = sha256_hex(bytes);
            if !actual.eq_ignore_ascii_case(&manifest.sha256) {
                return Err(ModelError::Checksum { path: origin, expected: manifest.sha256, actual });
            }
        }
        if manifest.role != role {
            let key = role.config_key();
            return Err(ModelError::Role { path: origin, found: manifest.role, expected: role, key });
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
        let input_shape = manifest.layout.shape(width as usize, height as usize);
        check_declared_input(&proto, &input_shape, manifest.layout).map_err(|found| {
            ModelError::InputShape {
                path: origin.clone(),
                found,
                expected: dims(&input_shape),
                layout: manifest.layout,
            }
        })?;
        let unsupported =
            |e: TractError| ModelError::Unsupported { path: origin.clone(), reason: one_line(&e) };
        // tract's steps, with our passes between typing and tract's own declutter.
        let model = onnx
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact(input_shape).into()))
            .and_then(|m| m.into_typed())
            .and_then(|mut m| {
                let dropped = passes::drop_empty_pads(&mut m)?;
                if dropped > 0 {
                    tracing::debug!(dropped, "Pads that pad nothing removed");
                }
                let unrolled = passes::unroll_short_reduces(&mut m)?;
                if unrolled > 0 {
                    tracing::debug!(unrolled, "min/max over short axes unrolled into element-wise ops");
                }
                let counted = histogram::swap_histograms(&mut m)?;
                if counted > 0 {
                    tracing::debug!(counted, "histograms run by comicbooth's CountEqual");
                }
                // COMICBOOTH_INT8_CONV=tract keeps tract's own quantized convolution (to
                // compare the two: `comicbooth bench` alternated with and without it).
                if std::env::var("COMICBOOTH_INT8_CONV").as_deref() != Ok("tract") {
                    let swapped = qconv::swap_int8_convs(&mut m)?;
                    if swapped > 0 {
                        tracing::debug!(swapped, "int8 convolutions run by comicbooth's QConvU8");
                    }
                }
                // COMICBOOTH_DECONV=tract keeps tract's own transposed convolution (for the same
                // A/B comparison).
                if std::env::var("COMICBOOTH_DECONV").as_deref() != Ok("tract") {
                    let swapped = deconv::swap_deconvs(&mut m)?;
                    if swapped > 0 {
                        tracing::debug!(swapped, "transposed convolutions run by comicbooth's PhaseDeconv");
                    }
                }
                // COMICBOOTH_CONV=tract keeps tract's own f32 convolutions (the same A/B).
                if std::env::var("COMICBOOTH_CONV").as_deref() != Ok("tract") {
                    let swapped = deconv::swap_convs(&mut m)?;
                    if swapped > 0 {
                        tracing::debug!(swapped, "f32 convolutions run by comicbooth's RowConv");
                    }
                }
                // COMICBOOTH_INT8_FUSE=off leaves the int8 neighbours apart (the same A/B).
                if std::env::var("COMICBOOTH_INT8_FUSE").as_deref() != Ok("off") {
                    let fused = deconv::fuse_int8_neighbours(&mut m)?;
                    if fused > 0 {
                        tracing::debug!(fused, "int8 neighbours taken over by comicbooth's PhaseDeconv");
                    }
                }
                m.into_optimized()
            })
            .map_err(unsupported)?;
        let out_shape = model
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
            .unwrap_or_default();
        let spec = output(input_shape);
        if out_shape != spec.shape {
            let found = if out_shape.is_empty() { "not a fixed shape".into() } else { dims(&out_shape) };
            let expected = dims(&spec.shape);
            return Err(ModelError::OutputShape { path: origin, found, expected, what: spec.what, role });
        }
        let kernels = matmul_kernels(&model);
        let threads = resolve_threads(threads);
        let executor =
            if threads > 1 { multithread::Executor::multithread(threads) } else { Default::default() };
        let options = RunOptions { executor: Some(executor), ..Default::default() };
        let plan = model.into_runnable_with_options(&options).map_err(unsupported)?;
        Ok(Net { plan, manifest, origin, input_shape, threads, kernels, load_time: started.elapsed() })
    }

    /// Runs the model on a raw tensor of `shape` and returns its output values.
    fn run_tensor(&self, shape: &[usize], data: &[f32]) -> Result<Vec<f32>, ModelError> {
        let run_err = |e: TractError| ModelError::Run { path: self.origin.clone(), reason: one_line(&e) };
        let input = Tensor::from_shape(shape, data).map_err(run_err)?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(run_err);
        // What runs after on this thread (the look, the alignment) is SSE code.
        clear_upper_vector_state();
        let outputs = outputs?;
        let view = outputs[0].to_plain_array_view::<f32>().map_err(run_err)?;
        Ok(view.iter().copied().collect())
    }

    /// Runs the model `runs` times on a mid-grey input, timing every node: the time per run of
    /// each kind of operation (tract's op names after optimisation: `OptMatMul`, `Im2col`, ...)
    /// and of each node, most first.
    fn profile(&self, runs: usize) -> Result<Profile, ModelError> {
        let run_err = |e: TractError| ModelError::Run { path: self.origin.clone(), reason: one_line(&e) };
        let input = Tensor::from_shape(&self.input_shape, &vec![0.5f32; self.input_shape.iter().product()])
            .map_err(run_err)?;
        let mut per_node = vec![Duration::ZERO; self.plan.model().nodes().len()];
        for _ in 0..runs.max(1) {
            let mut state = self.plan.spawn().map_err(run_err)?;
            state
                .run_plan_with_eval(tvec!(input.clone().into_tvalue()), |ctx, op_state, node, inputs| {
                    let started = Instant::now();
                    let out = tract_core::plan::eval(ctx, op_state, node, inputs);
                    per_node[node.id] += started.elapsed();
                    out
                })
                .map_err(run_err)?;
        }
        let mut by_op: Vec<OpTime> = Vec::new();
        let mut by_node: Vec<NodeTime> = Vec::new();
        for node in self.plan.model().nodes() {
            let name = node.op().name().into_owned();
            let time = per_node[node.id] / runs.max(1) as u32;
            if !time.is_zero() {
                let output =
                    node.outputs.first().map(|o| format!("{:?}", o.fact.without_value())).unwrap_or_default();
                by_node.push(NodeTime { name: node.name.clone(), op: name.clone(), output, time });
            }
            match by_op.iter_mut().find(|o| o.op == name) {
                Some(o) => (o.time, o.nodes) = (o.time + time, o.nodes + 1),
                None => by_op.push(OpTime { op: name, time, nodes: 1 }),
            }
        }
        by_op.sort_by_key(|o| std::cmp::Reverse(o.time));
        by_node.sort_by_key(|n| std::cmp::Reverse(n.time));
        Ok(Profile { by_op, by_node })
    }

    /// Runs on a picture of the input size, converted as the manifest says.
    fn run_picture(&self, img: &RgbImage) -> Result<Vec<f32>, ModelError> {
        let m = &self.manifest;
        self.run_tensor(&self.input_shape, &convert::to_tensor(img, m.layout, m.input_range))
    }

    /// The warm-up: one run on a mid-grey picture (the first run allocates and is slow), whose
    /// output must lie in the manifest's output range: a model whose range is wrong would
    /// show garbage without any error.
    fn warm_up(&self, (width, height): (u32, u32)) -> Result<Duration, ModelError> {
        let started = Instant::now();
        let out = self.run_picture(&RgbImage::from_pixel(width, height, image::Rgb([128, 128, 128])))?;
        let elapsed = started.elapsed();
        let (min, max) =
            out.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let ValueRange { lo, hi } = self.manifest.output_range;
        let slack = 0.01 * (hi - lo).abs();
        let bad = out.iter().any(|v| v.is_nan()) || min < lo.min(hi) - slack || max > hi.max(lo) + slack;
        if bad && (hi - lo).is_finite() {
            return Err(ModelError::OutputRange { path: self.origin.clone(), min, max, lo, hi });
        }
        Ok(elapsed)
    }
}

/// The matrix-multiplication kernels the optimised plan uses (e.g. `arm64simd_mmm_f32_8x8_gen`
/// or, for int8 models that reach integer kernels, `arm64simd_mmm_i32_8x8`), read from the
/// OptMatMul nodes' descriptions: the proof of which code a board really runs.
fn matmul_kernels(model: &TypedModel) -> Vec<String> {
    let mut names: Vec<String> = model
        .nodes()
        .iter()
        .filter(|n| matches!(&*n.op.name(), "OptMatMul" | "QConvU8" | "PhaseDeconv" | "RowConv"))
        .flat_map(|n| n.op.info().unwrap_or_default())
        .flat_map(|line| {
            line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.contains("mmm_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn log_kernels() {
    let isa = tract_linalg::isa::native();
    let kernels = tract_linalg::mmm_routines::runnable_for(&isa);
    tracing::info!(
        isa = isa.nickname(),
        matmul_kernels = kernels.len(),
        first = kernels.first().map(|k| k.name().to_owned()).unwrap_or_default(),
        "tract kernels"
    );
}

/// A loaded, optimised, warmed-up generator for one input size.
pub struct Generator {
    net: Net,
    width: u32,
    height: u32,
    /// How long loading and optimising took.
    pub load_time: Duration,
    /// How long the first (warm-up) run took.
    pub warmup_time: Duration,
}

/// What [`Generator::fastest`] found.
#[derive(Debug)]
pub struct Fastest {
    /// Which candidate won.
    pub index: usize,
    /// It, loaded.
    pub generator: Generator,
    /// Each candidate's manifest name and best time, in the candidates' order.
    pub times: RaceTimes,
}

/// Each form's manifest name and best time in [`Generator::fastest`]'s race.
pub type RaceTimes = Vec<(String, Duration)>;

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("origin", &self.net.origin)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("threads", &self.net.threads)
            .finish_non_exhaustive()
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

    /// Of `candidates` (built-in forms of one generator), the one that runs fastest on this
    /// machine at `width` x `height`, loaded, and each one's time. Each is loaded and warmed
    /// up, then they run in turn [`RACE_ROUNDS`] times on the same picture and each keeps its
    /// best time (the least disturbed by whatever else the machine does).
    pub fn fastest(
        candidates: &[BuiltinModel],
        width: u32,
        height: u32,
        threads: u32,
    ) -> Result<Fastest, ModelError> {
        let mut loaded = candidates
            .iter()
            .map(|&c| Ok((Generator::load(&ModelSource::Builtin(c), width, height, threads)?, Duration::MAX)))
            .collect::<Result<Vec<_>, ModelError>>()?;
        let picture = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, (x ^ y) as u8])
        });
        for round in 0..RACE_ROUNDS {
            // In turn, and every other round in the other order, so that neither always runs
            // first or after the other.
            let order: Vec<usize> = match round % 2 {
                0 => (0..loaded.len()).collect(),
                _ => (0..loaded.len()).rev().collect(),
            };
            for i in order {
                let (g, best) = &mut loaded[i];
                let started = Instant::now();
                g.run(&picture)?;
                *best = (*best).min(started.elapsed());
            }
        }
        let times: RaceTimes = loaded.iter().map(|(g, t)| (g.name().to_owned(), *t)).collect();
        let (index, (generator, _)) =
            loaded.into_iter().enumerate().min_by_key(|(_, (_, t))| *t).expect("at least one candidate");
        // The int8 convolutions' buffers on this thread were the race's; where int8 won, its
        // first run makes them again.
        qconv::release_thread_scratch();
        tracing::info!(
            chosen = %generator.name(),
            times_ms = ?times.iter().map(|(n, t)| format!("{n} {:.1}", t.as_secs_f64() * 1e3)).collect::<Vec<_>>(),
            "generator chosen by timing its forms on this machine"
        );
        Ok(Fastest { index, generator, times })
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
        let same_as_input = |shape: [usize; 4]| OutputSpec {
            shape: shape.to_vec(),
            what: "an RGB picture the size of the input",
        };
        let net =
            Net::build(bytes, manifest, origin, Role::Generator, (width, height), same_as_input, threads)?;
        let warmup_time = net.warm_up((width, height))?;
        log_kernels();
        tracing::info!(
            model = %net.origin,
            name = %net.manifest.name,
            width,
            height,
            threads = net.threads,
            load_ms = net.load_time.as_millis() as u64,
            warmup_ms = warmup_time.as_millis() as u64,
            kernels = ?net.kernels,
            "generator ready"
        );
        Ok(Generator { load_time: net.load_time, net, width, height, warmup_time })
    }

    /// Its manifest's name (`comic-generator-f32`, ...).
    pub fn name(&self) -> &str {
        &self.net.manifest.name
    }

    /// Turns an RGB picture of the generator's size into its comic version.
    pub fn run(&self, img: &RgbImage) -> Result<RgbImage, ModelError> {
        assert_eq!(img.dimensions(), self.size(), "generator input must be its configured size");
        let m = &self.net.manifest;
        let out = self.net.run_picture(img)?;
        Ok(convert::from_tensor(&out, self.width, self.height, m.layout, m.output_range))
    }

    /// Runs the model on a raw tensor of `shape` and returns its output values.
    pub fn run_tensor(&self, shape: &[usize], data: &[f32]) -> Result<Vec<f32>, ModelError> {
        self.net.run_tensor(shape, data)
    }

    /// Where a run's time goes, by kind of operation and node by node, averaged over `runs`
    /// (see `comicbooth bench --profile`).
    pub fn profile(&self, runs: usize) -> Result<Profile, ModelError> {
        self.net.profile(runs)
    }

    /// The (width, height) this generator runs at.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Inference threads in use.
    pub fn threads(&self) -> usize {
        self.net.threads
    }

    /// The matrix-multiplication kernels its plan runs.
    pub fn kernels(&self) -> &[String] {
        &self.net.kernels
    }

    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.net.manifest
    }

    /// Where it came from, for messages.
    pub fn origin(&self) -> &str {
        &self.net.origin
    }
}

/// The "already comic?" gate: a small classifier whose one output is the logit of "this
/// picture is already comic-style". A picture it is sure about passes through untouched
/// instead of being stylized twice (a guest holding up a comic book, a drawing).
pub struct Gate {
    net: Net,
    side: u32,
    threshold: f32,
    /// How long loading and optimising took.
    pub load_time: Duration,
    /// How long the warm-up run took.
    pub warmup_time: Duration,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("origin", &self.net.origin)
            .field("side", &self.side)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// Whether the gate (if there is one) finds `img` already comic-style. A gate that fails to
/// run is logged and counts as "not comic": the gate must never stop a comic being made.
pub fn already_comic(gate: Option<&Gate>, img: &RgbImage) -> bool {
    let Some(gate) = gate else { return false };
    match gate.is_comic(img) {
        Ok((comic, probability)) => {
            tracing::info!(probability, passed_through = comic, "gate");
            comic
        }
        Err(e) => {
            tracing::warn!("{e}");
            false
        }
    }
}

/// The side a gate runs at when its manifest does not say.
const GATE_SIDE: u32 = 128;

impl Gate {
    /// Loads, checks and warms up a gate; pictures with a comic probability of at least
    /// `threshold` count as already comic.
    pub fn load(source: &ModelSource, threshold: f32, threads: u32) -> Result<Gate, ModelError> {
        let file = source.read()?;
        Gate::from_bytes(&file.bytes, file.manifest, file.origin, threshold, threads)
    }

    /// Builds a gate from ONNX bytes and their manifest; `origin` names it in messages.
    pub fn from_bytes(
        bytes: &[u8],
        manifest: Manifest,
        origin: String,
        threshold: f32,
        threads: u32,
    ) -> Result<Gate, ModelError> {
        let side = manifest.native_size.unwrap_or(GATE_SIDE);
        let one_logit = |_| OutputSpec { shape: vec![1, 1], what: "one logit" };
        let net = Net::build(bytes, manifest, origin, Role::Gate, (side, side), one_logit, threads)?;
        let warmup_time = net.warm_up((side, side))?;
        tracing::info!(
            model = %net.origin,
            name = %net.manifest.name,
            side,
            threshold = %threshold,
            load_ms = net.load_time.as_millis() as u64,
            warmup_ms = warmup_time.as_millis() as u64,
            kernels = ?net.kernels,
            "gate ready"
        );
        Ok(Gate { load_time: net.load_time, net, side, threshold, warmup_time })
    }

    /// The probability, 0 to 1, that `img` (any size; it is resized) is already comic-style.
    pub fn comic_probability(&self, img: &RgbImage) -> Result<f32, ModelError> {
        let logit = self.net.run_picture(&convert::resize(img, self.side, self.side))?[0];
        Ok(1.0 / (1.0 + (-logit).exp()))
    }

    /// Whether `img` is already comic-style (probability at least the threshold), with the
    /// probability.
    pub fn is_comic(&self, img: &RgbImage) -> Result<(bool, f32), ModelError> {
        let p = self.comic_probability(img)?;
        Ok((p >= self.threshold, p))
    }

    /// Runs the model on a raw tensor of `shape` (1x3x`side`x`side`) and returns its logit.
    pub fn run_tensor(&self, shape: &[usize], data: &[f32]) -> Result<Vec<f32>, ModelError> {
        self.net.run_tensor(shape, data)
    }

    /// Where it came from, for messages.
    pub fn origin(&self) -> &str {
        &self.net.origin
    }

    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.net.manifest
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

/// sha256 of a byte slice as lowercase hex (as written in manifests).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_generator_runs_on_our_ops_and_its_profile_adds_up() {
        // The f32 generator's convolutions run as RowConv and PhaseDeconv (the skip folded
        // in: no node of its own), all but its first layer and head; the profile's two views
        // agree.
        let g = Generator::load(&ModelSource::Builtin(crate::assets::GENERATOR), 64, 64, 1).unwrap();
        let p = g.profile(2).unwrap();
        let nodes = |op: &str| p.by_op.iter().find(|o| o.op == op).map_or(0, |o| o.nodes);
        assert_eq!((nodes("RowConv"), nodes("PhaseDeconv")), (5, 2), "{:?}", p.by_op);
        assert!(!p.by_node.iter().any(|n| n.name.starts_with("/skip")), "{:?}", p.by_node);
        let (by_op, by_node): (Duration, Duration) =
            (p.by_op.iter().map(|o| o.time).sum(), p.by_node.iter().map(|n| n.time).sum());
        assert_eq!(by_op, by_node);
        assert!(p.by_node.windows(2).all(|w| w[0].time >= w[1].time));
        assert!(p.by_node.iter().any(|n| n.name.ends_with(".phase_deconv") && n.output.contains("16,64,64")));
    }

    #[test]
    fn the_int8_generator_hands_its_skip_and_head_input_to_phase_deconv() {
        // The int8 generator's skip convolution runs inside the last transposed convolution
        // (no node of its own), which hands the head u8: 7 QConvU8 of 8, 2 PhaseDeconv.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/comic_generator.int8.onnx");
        let g = Generator::load(&ModelSource::File(path), 64, 64, 1).unwrap();
        let p = g.profile(1).unwrap();
        let nodes = |op: &str| p.by_op.iter().find(|o| o.op == op).map_or(0, |o| o.nodes);
        assert_eq!((nodes("QConvU8"), nodes("PhaseDeconv")), (7, 2), "{:?}", p.by_op);
        assert!(!p.by_node.iter().any(|n| n.name.starts_with("/skip")), "{:?}", p.by_node);
        let u2 = p.by_node.iter().find(|n| n.name.starts_with("/u2/")).unwrap();
        assert!(u2.output.contains("16,64,64") && u2.output.ends_with("U8"), "{u2:?}");
    }

    #[test]
    fn a_bad_manifest_names_example_manifests_that_exist() {
        let err = parse_manifest(b"name = 3", Path::new("odd.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("model manifest odd.toml: "), "{text}");
        let named: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ')')
            .filter(|w| w.starts_with("models/") && w.ends_with(".toml"))
            .collect();
        assert_eq!(named.len(), 2, "{text}");
        for file in named {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            assert!(path.is_file(), "the message points at {file}, which does not exist");
            // And it is a manifest comicbooth reads.
            parse_manifest(&std::fs::read(&path).unwrap(), &path).unwrap();
        }
    }
}
