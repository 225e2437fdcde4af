//! A transposed convolution of our own (issue 19), swapped in for tract's f32 `Deconv` (ONNX
//! `ConvTranspose`) by [`swap_deconvs`] between typing and tract's declutter; and its direct
//! form for f32 `Conv` ([`swap_convs`], named `RowConv` in profiles).
//!
//! Why: tract 0.23.9 runs a transposed convolution as one matrix product into a column buffer
//! of every kernel tap of every input pixel (`C_out x kh x kw` rows), then `DeconvSum`, a
//! scatter-add of that buffer into the output on one thread: 27% of the f32 generator's time
//! at 1 thread, and the part that does not get faster with a second one (`docs/speed.md`).
//!
//! This op computes each output pixel once, by its *phase*: with stride `s`, the output pixels
//! whose row is `r` modulo `s` (and column `r'` modulo `s`) are reached by the same few kernel
//! taps, each reading the input at a fixed offset. A 4x4 stride-2 transposed convolution is
//! thus four 2x2 convolutions, one per phase. For each phase and each of its output rows, the
//! op writes the taps' input rows straight in the packed layout of tract-linalg's f32 kernel
//! (a small block that stays in cache), and runs that kernel with the bias fused, storing
//! into the output with a column stride of `s`: no column buffer, no scatter, no
//! interleaving pass. The rows are independent, so with 2 or more threads they run on tract's
//! pool. The products are the same as tract's (each output pixel sums the same products, in
//! another order), so results differ from onnxruntime's by float rounding only.
//!
//! A 1x1 convolution whose output is added to the transposed convolution's (the generator's
//! skip from its input picture into its last upsampling) is folded in as a few more rows of
//! K that read that picture at the output pixels: tract ran it as a product of K = 3 over
//! 65,536 columns plus a packing pass, 13% of the f32 generator at 1 thread.
//!
//! A direct convolution is one phase whose rows read every `stride`-th input: the same
//! packing and kernel, on the same pool. tract 0.23.9 pads a convolution's input in a pass of
//! its own on one thread before its im2col and product (11% of the f32 generator at 1 thread);
//! here the zeros are a margin of the one copy of the input the rows are packed from, and the
//! residual `Add` and `Relu` after the convolution run in its kernel.
//!
//! Written against tract's public API only (`TypedOp`, `EvalOp`, tract-linalg's `MatMatMul`),
//! so it could be offered upstream as a codegen for `Deconv`.

use std::sync::Arc;

use tract_core::internal::*;
use tract_core::ops::cnn::{Deconv, KernelFormat};
use tract_core::ops::nn::DataFormat;
use tract_linalg::BinOp;
use tract_linalg::mmm::{
    AsInputValue, EagerPackedInput, FusedSpec, MMMInputValue, MatMatMul, PackedExoticFact, Query,
    ScratchSpace,
};
use tract_linalg::multithread::{Executor, current_tract_executor, multithread_tract_scope};
use tract_linalg::pack::PackedFormat;

use super::qconv::{
    Geometry, Int8Skip, QConvU8, Quantizer, const_value, kept_blob, kept_kernel_space, values,
};

/// One axis of one phase: the outputs `first`, `first + s`, ... (`count` of them), and the
/// kernel taps that reach them, each with the input offset it reads (output `first + s * q`
/// reads input `q * step + offset` through tap `k`, where `step` is 1 for a transposed
/// convolution and the stride for a direct one).
#[derive(Clone, Debug, PartialEq, Eq)]
struct AxisPhase {
    first: usize,
    count: usize,
    taps: Vec<(usize, isize)>,
}

/// The phases of one axis: `n_out` outputs, a kernel of `k`, stride `s`, the
/// output cropped by `pad` at the start. Output `o` is input `i` through tap `t` where
/// `o = i * s - pad + t`.
fn axis_phases(n_out: usize, k: usize, s: usize, pad: usize) -> Vec<AxisPhase> {
    (0..s.min(n_out))
        .map(|r| {
            let taps = (0..k)
                .filter_map(|t| {
                    let d = (r + pad) as isize - t as isize;
                    (d.rem_euclid(s as isize) == 0).then(|| (t, d.div_euclid(s as isize)))
                })
                .collect();
            AxisPhase { first: r, count: (n_out - r).div_ceil(s), taps }
        })
        .collect()
}

/// One axis of a direct convolution as a single phase: `n_out` outputs of a kernel of `k`,
/// the input padded by `pad` at the start (output `q` reads input `q * stride + t - pad`).
fn conv_axis(n_out: usize, k: usize, pad: usize) -> Vec<AxisPhase> {
    vec![AxisPhase { first: 0, count: n_out, taps: (0..k).map(|t| (t, t as isize - pad as isize)).collect() }]
}

/// The zeros a phase's reads need around the input on one axis, reading `step` inputs further
/// per output: (before, after).
fn axis_margins(phases: &[AxisPhase], n_in: usize, step: usize) -> (usize, usize) {
    let mut before = 0isize;
    let mut after = 0isize;
    for p in phases {
        for &(_, off) in &p.taps {
            before = before.max(-off);
            after = after.max((p.count as isize - 1) * step as isize + off - (n_in as isize - 1));
        }
    }
    (before as usize, after as usize)
}

/// One output phase: its first output pixel, its rows and columns, and for each row of K
/// (input channel, tap row, tap column) where its input row starts in the padded picture for
/// the phase's first output row; the weights packed for tract-linalg's kernel (None where no
/// tap reaches the phase: the bias alone).
#[derive(Clone, Debug)]
struct Phase {
    first: (usize, usize),
    rows: usize,
    cols: usize,
    taps: Vec<usize>,
    packed_w: Option<Arc<Box<dyn MMMInputValue>>>,
}

/// A transposed convolution of a 1xCxHxW f32 picture into a 1xMxOHxOW one, run phase by phase.
#[derive(Clone, Debug)]
pub struct PhaseDeconv {
    g: Geometry,
    /// A transposed convolution (phases, each output stored every `stride` pixels) or a direct
    /// one (one phase, reading every `stride`-th input pixel).
    kind: Kind,
    /// Input pixels advanced per output pixel of a phase (rows, columns), and output pixels
    /// between consecutive outputs of a phase.
    in_step: (usize, usize),
    out_step: (usize, usize),
    /// The zeros around the picture the phases read (top, left) and the padded size.
    margin: (usize, usize),
    padded: (usize, usize),
    mmm: Box<dyn MatMatMul>,
    packing: usize,
    b_format: PackedFormat,
    phases: Arc<Vec<Phase>>,
    /// One per output channel.
    bias: Arc<Tensor>,
    /// Channels of the picture a folded 1x1 convolution reads (0: none): its output was added
    /// to this op's (a generator's skip connection from its input), so its weights are more
    /// rows of each phase's K, reading that picture (its second input) at the output pixels.
    skip: usize,
    /// What the op took over from the nodes after it: an `Add` of another tensor of the
    /// output's shape (its last input), then a `Relu`.
    then: Then,
    /// What it does as part of an int8 model, after the kernel, row by row.
    int8: Int8Tail,
    zero: Arc<Tensor>,
}

/// What a [`PhaseDeconv`] in an int8 generator takes over from its int8 neighbours
/// ([`fuse_int8_neighbours`]), done on each row the kernel stores, in this order: the int8 1x1
/// convolution whose output is added to its own (the skip connection from the input picture,
/// read as the op's second input), the `Relu` (then after that sum, not in the kernel), and
/// the quantization of its output for the int8 convolution after it, which then reads u8.
/// Each step is onnxruntime's arithmetic, so the output is the same to the bit as the nodes'.
#[derive(Clone, Debug, Default, PartialEq)]
struct Int8Tail {
    skip: Option<Int8Skip>,
    quantize: Option<Quantizer>,
}

impl Int8Tail {
    fn is_some(&self) -> bool {
        self.skip.is_some() || self.quantize.is_some()
    }
}

/// The element-wise ops after the transposed convolution that run inside its kernel, as tract
/// fuses them into a convolution's (a generator's skip connection and activation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Then {
    add: bool,
    relu: bool,
}

/// Which convolution a [`PhaseDeconv`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ONNX `ConvTranspose` (tract's `Deconv`).
    Transposed,
    /// ONNX `Conv` (tract's `Conv`), f32.
    Direct,
}

/// A convolution's geometry with its weights and one bias per output channel.
struct Weighted {
    g: Geometry,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// An f32 1x1 convolution of `input`: its weights are `[M][C]`.
struct OneByOne {
    input: OutletId,
    conv: Weighted,
}

/// A 1x1 convolution folded into the op: `c` input channels, weights `[M][c]`.
struct Skip<'a> {
    c: usize,
    weights: &'a [f32],
}

impl Skip<'_> {
    const NONE: Skip<'static> = Skip { c: 0, weights: &[] };
}

impl PartialEq for PhaseDeconv {
    fn eq(&self, other: &Self) -> bool {
        self.g == other.g
            && self.kind == other.kind
            && self.skip == other.skip
            && Arc::ptr_eq(&self.phases, &other.phases)
            && self.bias == other.bias
            && self.then == other.then
            && self.int8 == other.int8
    }
}

impl Eq for PhaseDeconv {}

impl PhaseDeconv {
    /// What the op needs of a node of `model` (its geometry, weights and one bias per output
    /// channel), or None where the node is not a convolution of `kind` this op covers (tract
    /// keeps it then): f32, batch 1, NCHW, OIHW weights, no groups or dilation, a known input
    /// shape, constant weights and bias.
    fn for_node(model: &TypedModel, node: &TypedNode, kind: Kind) -> TractResult<Option<Weighted>> {
        use tract_core::ops::cnn::Conv;
        let (spec, group, kernel_format) = match kind {
            Kind::Transposed => match node.op_as::<Deconv>() {
                Some(d) => (&d.pool_spec, d.group, d.kernel_format),
                None => return Ok(None),
            },
            Kind::Direct => match node.op_as::<Conv>() {
                Some(c) if c.q_params.is_none() => (&c.pool_spec, c.group, c.kernel_fmt),
                _ => return Ok(None),
            },
        };
        if group != 1
            || spec.data_format != DataFormat::NCHW
            || kernel_format != KernelFormat::OIHW
            || spec.kernel_shape.len() != 2
            || spec.dilations().iter().any(|&d| d != 1)
            || node.inputs.len() != 3
        {
            return Ok(None);
        }
        let x_fact = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = x_fact.shape.as_concrete() else { return Ok(None) };
        if x_fact.datum_type != DatumType::F32 || shape.len() != 4 || shape[0] != 1 {
            return Ok(None);
        }
        let (Some(w), Some(bias)) =
            (const_value(model, node.inputs[1], 4)?, const_value(model, node.inputs[2], 4)?)
        else {
            return Ok(None);
        };
        if w.datum_type() != DatumType::F32 || w.rank() != 4 || w.shape()[1] != shape[1] {
            return Ok(None);
        }
        let (c, h, wd) = (shape[1], shape[2], shape[3]);
        let (m, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
        let bias = values::<f32>(&bias)?;
        if !(bias.len() == 1 || bias.len() == m) {
            return Ok(None);
        }
        let strides = spec.strides();
        // Per axis: the padding before, and the output size.
        let dims: Vec<(usize, usize)> = match node.op_as::<Deconv>() {
            Some(deconv) => spec
                .padding
                .compute_for_deconv(&[h, wd], &[kh, kw], &spec.dilations(), &strides, &deconv.adjustments)?
                .iter()
                .map(|d| (d.pad_before, d.deconvoluted))
                .collect(),
            None => spec.computed_padding(&[h, wd]).iter().map(|d| (d.pad_before, d.convoluted)).collect(),
        };
        let g = Geometry {
            c,
            h,
            w: wd,
            m,
            kh,
            kw,
            stride: (strides[0], strides[1]),
            pad: (dims[0].0, dims[1].0),
            out: (dims[0].1, dims[1].1),
        };
        // What tract computed for the node must be what this op gives.
        let fact = model.outlet_fact(OutletId::new(node.id, 0))?;
        if fact.shape.as_concrete() != Some(&[1, m, g.out.0, g.out.1][..]) {
            return Ok(None);
        }
        let bias: Vec<f32> = (0..m).map(|o| bias[if bias.len() == 1 { 0 } else { o }]).collect();
        Ok(Some(Weighted { g, weights: values::<f32>(&w)?, bias }))
    }

    /// The op from its geometry, OIHW weights ([M][C][kh][kw]), bias (one per output channel)
    /// and a folded 1x1 convolution (its bias already in `bias`); None where tract-linalg
    /// offers no f32 kernel with a plain packed B.
    fn new(
        kind: Kind,
        g: Geometry,
        weights: &[f32],
        bias: &[f32],
        skip: &Skip,
    ) -> TractResult<Option<PhaseDeconv>> {
        let Geometry { c, h, w, m, kh, kw, stride, pad, out } = g;
        ensure!(weights.len() == m * c * kh * kw, "PhaseDeconv: {} weights", weights.len());
        ensure!(bias.len() == m, "PhaseDeconv: {} biases for {m} channels", bias.len());
        ensure!(skip.weights.len() == m * skip.c, "PhaseDeconv: {} skip weights", skip.weights.len());
        if out.0 == 0 || out.1 == 0 || stride.0 == 0 || stride.1 == 0 {
            return Ok(None);
        }
        let (ys, xs, in_step, out_step) = match kind {
            Kind::Transposed => (
                axis_phases(out.0, kh, stride.0, pad.0),
                axis_phases(out.1, kw, stride.1, pad.1),
                (1, 1),
                stride,
            ),
            Kind::Direct => (conv_axis(out.0, kh, pad.0), conv_axis(out.1, kw, pad.1), stride, (1, 1)),
        };
        let ((top, bottom), (left, right)) =
            (axis_margins(&ys, h, in_step.0), axis_margins(&xs, w, in_step.1));
        let (margin, padded) = ((top, left), (top + h + bottom, left + w + right));
        let k_max = ys.iter().map(|p| p.taps.len()).max().unwrap_or(0)
            * xs.iter().map(|p| p.taps.len()).max().unwrap_or(0)
            * c
            + skip.c;
        let query = Query {
            weight: DatumType::F32.into(),
            activation: DatumType::F32,
            accumulators: tvec!(DatumType::F32),
            store: Some(DatumType::F32),
            allow_extractor: false,
            m: Some(m),
            k: Some(k_max.max(1)),
            n: Some(xs[0].count),
        };
        let Some((mmm, packing, _)) = tract_linalg::mmm::MmmDispatch::native().pick(&query) else {
            return Ok(None);
        };
        let (a_format, b_format) = &mmm.packings()[packing];
        let Some(b_format) =
            b_format.downcast_ref::<PackedFormat>().filter(|f| f.dt == DatumType::F32).cloned()
        else {
            return Ok(None);
        };
        let mut phases = Vec::with_capacity(ys.len() * xs.len());
        for py in &ys {
            for px in &xs {
                let mut taps = Vec::new();
                let mut a = Vec::new();
                for ci in 0..c {
                    for &(_, oy) in &py.taps {
                        for &(_, ox) in &px.taps {
                            let row = (oy + margin.0 as isize) as usize;
                            let col = (ox + margin.1 as isize) as usize;
                            taps.push((ci * padded.0 + row) * padded.1 + col);
                        }
                    }
                }
                let k = taps.len() + skip.c;
                for o in 0..m {
                    for ci in 0..c {
                        for &(ty, _) in &py.taps {
                            for &(tx, _) in &px.taps {
                                a.push(weights[((o * c + ci) * kh + ty) * kw + tx]);
                            }
                        }
                    }
                    a.extend_from_slice(&skip.weights[o * skip.c..(o + 1) * skip.c]);
                }
                let packed_w = if k == 0 {
                    None
                } else {
                    Some(Arc::new(a_format.prepare_one(&Tensor::from_shape(&[m, k], &a)?, 1, 0)?))
                };
                phases.push(Phase {
                    first: (py.first, px.first),
                    rows: py.count,
                    cols: px.count,
                    taps,
                    packed_w,
                });
            }
        }
        Ok(Some(PhaseDeconv {
            g,
            kind,
            in_step,
            out_step,
            margin,
            padded,
            mmm,
            packing,
            b_format,
            phases: Arc::new(phases),
            bias: Arc::new(Tensor::from_shape(&[m], bias)?),
            skip: skip.c,
            then: Then::default(),
            int8: Int8Tail::default(),
            zero: Arc::new(tensor0(0f32)),
        }))
    }

    /// The picture with the zeros the phases read around it.
    fn pad_input(&self, x: &[f32], xp: &mut Vec<f32>) {
        let (hp, wp) = self.padded;
        let Geometry { h, w, .. } = self.g;
        xp.clear();
        xp.resize(self.g.c * hp * wp, 0.0);
        for (plane, src) in xp.chunks_exact_mut(hp * wp).zip(x.chunks_exact(h * w)) {
            for (y, row) in src.chunks_exact(w).enumerate() {
                plane[(y + self.margin.0) * wp + self.margin.1..][..w].copy_from_slice(row);
            }
        }
    }

    /// The B operand for output row `q` of `phase`: K rows (its taps, then the skip picture's
    /// channels) of `cols` pixels, in tract-linalg's packed layout (panels of `r` pixels; in
    /// each, `r` values per row of K). Each tap's row of K is a run of consecutive input
    /// values, copied `r` at a time (a fixed-size copy for the kernels' panel widths: a call
    /// to memcpy per block was a third of the op).
    fn pack_row(&self, phase: &Phase, q: usize, xp: &[f32], skip: Option<&[f32]>, packed: &mut [f32]) {
        let panel = self.b_format.single_panel_len(phase.taps.len() + self.skip);
        let base = q * self.in_step.0 * self.padded.1;
        let (taps, cols, step) = (&phase.taps[..], phase.cols, self.in_step.1);
        let done = match self.b_format.r {
            // Every `step`-th input (a strided direct convolution): gathered below.
            _ if step != 1 => 0,
            4 => pack_panels::<4>(xp, base, taps, cols, panel, packed),
            8 => pack_panels::<8>(xp, base, taps, cols, panel, packed),
            12 => pack_panels::<12>(xp, base, taps, cols, panel, packed),
            16 => pack_panels::<16>(xp, base, taps, cols, panel, packed),
            24 => pack_panels::<24>(xp, base, taps, cols, panel, packed),
            32 => pack_panels::<32>(xp, base, taps, cols, panel, packed),
            _ => 0,
        };
        // The rest (the last, partial panel; every panel for other widths), zeros past the row.
        let r = self.b_format.r;
        for (j, dst) in packed.chunks_exact_mut(panel).enumerate().take(cols.div_ceil(r)).skip(done) {
            let (from, lanes) = (j * r, r.min(cols - j * r));
            for (block, &tap) in dst.chunks_exact_mut(r).zip(taps) {
                let src = &xp[base + tap + from * step..];
                if step == 1 {
                    block[..lanes].copy_from_slice(&src[..lanes]);
                } else {
                    block[..lanes].iter_mut().zip(src.iter().step_by(step)).for_each(|(v, &x)| *v = x);
                }
                block[lanes..].fill(0.0);
            }
        }
        // The skip picture at this row's output pixels: every `s`-th column of output row `oy`.
        if let Some(picture) = skip {
            let (oh, ow) = self.g.out;
            let (oy, sx) = (phase.first.0 + self.out_step.0 * q, self.out_step.1);
            for (j, dst) in packed.chunks_exact_mut(panel).enumerate().take(cols.div_ceil(r)) {
                let (from, lanes) = (j * r, r.min(cols - j * r));
                let blocks = dst.chunks_exact_mut(r).skip(taps.len());
                for (channel, block) in picture.chunks_exact(oh * ow).zip(blocks) {
                    let row = &channel[oy * ow + phase.first.1 + from * sx..];
                    for (v, l) in block[..lanes].iter_mut().zip(0..) {
                        *v = row[l * sx];
                    }
                    block[lanes..].fill(0.0);
                }
            }
        }
    }

    /// Output row `q` of `phase` into `out`: the kernel's product of the phase's weights and
    /// its packed input row, plus the bias (and what the op took over), stored every `s`
    /// columns of the output row. `picture` is the op's second input where it has one: the
    /// picture a folded 1x1 convolution reads.
    #[allow(clippy::too_many_arguments)]
    fn run_row(
        &self,
        phase: &Phase,
        q: usize,
        xp: &[f32],
        picture: Option<&[f32]>,
        out: &Tensor,
        add: Option<&Tensor>,
        scratch: &mut Scratch,
    ) -> TractResult<()> {
        let (oh, ow) = self.g.out;
        let (sy, sx) = self.out_step;
        let oy = phase.first.0 + sy * q;
        let at = oy * ow + phase.first.1;
        let m = self.g.m;
        // In an int8 model the kernel stores into a row of the thread's own, which the tail
        // then carries on into the output; else straight into the output.
        let tail = self.int8.is_some();
        let mut row = match scratch.row.take() {
            Some(t) if tail && t.len() >= m * phase.cols => Some(t),
            _ if tail => Some(unsafe { Tensor::uninitialized::<f32>(&[m * phase.cols])? }),
            _ => None,
        };
        let (dst, offset, strides) = match &row {
            Some(row) => (row, 0, [phase.cols as isize, 1]),
            None => (out, at * 4, [(oh * ow) as isize, sx as isize]),
        };
        let relu_here = self.then.relu && !tail;
        match &phase.packed_w {
            // No tap reaches these pixels: the bias alone (then what the op took over).
            None => {
                let bias = self.bias.try_as_plain_ram()?.as_slice::<f32>()?;
                let data = unsafe { (dst.as_ptr::<f32>()? as *mut f32).add(offset / 4) };
                let other = add.map(|t| t.as_ptr::<f32>()).transpose()?;
                for (o, &b) in bias.iter().enumerate() {
                    for p in 0..phase.cols {
                        let v = b + other.map_or(0.0, |t| unsafe { *t.add(o * oh * ow + at + p * sx) });
                        let v = if relu_here { v.max(0.0) } else { v };
                        unsafe { *data.offset(o as isize * strides[0] + p as isize * strides[1]) = v };
                    }
                }
            }
            Some(_) => self.product(phase, q, xp, picture, (dst, offset, strides), at, add, scratch)?,
        }
        if let Some(row) = &mut row {
            let mut values = row.try_as_plain_ram_mut()?;
            let values = &mut values.as_slice_mut::<f32>()?[..m * phase.cols];
            self.int8_tail(phase, at, values, picture, out, &mut scratch.tail)?;
        }
        scratch.row = row.or(scratch.row.take());
        Ok(())
    }

    /// The kernel's part of [`Self::run_row`]: the product of the phase's packed weights and
    /// the packed input row, the bias, the `Add` and the `Relu` (where the op takes them in the
    /// kernel), stored in `dst` (a tensor, the byte offset of the row's first value, and the
    /// strides of channels and pixels). `at` is the row's first pixel in the output.
    #[allow(clippy::too_many_arguments)]
    fn product(
        &self,
        phase: &Phase,
        q: usize,
        xp: &[f32],
        picture: Option<&[f32]>,
        (dst, offset, strides): (&Tensor, usize, [isize; 2]),
        at: usize,
        add: Option<&Tensor>,
        scratch: &mut Scratch,
    ) -> TractResult<()> {
        let Some(packed_w) = &phase.packed_w else { return Ok(()) };
        let (oh, ow) = self.g.out;
        let k = phase.taps.len() + self.skip;
        let len = self.b_format.len(k, phase.cols);
        let align = self.b_format.alignment();
        let mut blob = kept_blob(&mut scratch.packed, len * 4, align);
        {
            let bytes = Arc::get_mut(&mut blob).context("PhaseDeconv: packed input still shared")?;
            let floats =
                unsafe { std::slice::from_raw_parts_mut(bytes.as_bytes_mut().as_mut_ptr() as *mut f32, len) };
            self.pack_row(phase, q, xp, picture.filter(|_| self.skip > 0), floats);
        }
        let packed_x = EagerPackedInput {
            fact: PackedExoticFact { format: Box::new(self.b_format.clone()), mn: phase.cols.to_dim(), k },
            packed: blob.clone(),
            panel_bytes: self.b_format.single_panel_len(k) * 4,
            mn: phase.cols,
        };
        let shape = [self.g.m, phase.cols];
        unsafe {
            let view = TensorView::from_bytes(dst, offset as isize, &shape, &strides);
            let store = self.mmm.c_view(Some(0), Some(1)).wrap(&view);
            let mut specs: TVec<FusedSpec> = tvec![
                FusedSpec::AddMatMul {
                    a: AsInputValue::Borrowed(&***packed_w),
                    b: AsInputValue::Borrowed(&packed_x),
                    packing: self.packing,
                },
                FusedSpec::BinPerRow(self.bias.view(), BinOp::Add),
            ];
            // The other tensor of the `Add`, read where the output row lies. tract-linalg
            // 0.23.9 reads a border tile's addend only at offsets below the view's element
            // count, as if the view were dense: a third axis (stride 0, never addressed)
            // makes the count cover every offset of this strided row.
            if let Some(other) = add {
                let (sx, m) = (self.out_step.1 as isize, self.g.m);
                let cover = (m * oh * ow).div_ceil(m * phase.cols);
                let (add_shape, add_strides) = ([m, phase.cols, cover], [(oh * ow) as isize, sx, 0]);
                let view = TensorView::from_bytes(other, (at * 4) as isize, &add_shape, &add_strides);
                specs.push(FusedSpec::AddUnicast(self.mmm.c_view(Some(0), Some(1)).wrap(&view)));
            }
            if self.then.relu && !self.int8.is_some() {
                specs.push(FusedSpec::BinScalar(&self.zero, BinOp::Max));
            }
            specs.push(FusedSpec::Store(store));
            let kernel = kept_kernel_space(&mut scratch.kernel, &*self.mmm);
            // One row is a small product: run it on this thread (rows are what run in parallel).
            let ran = multithread_tract_scope(Executor::SingleThread, || {
                self.mmm.run_with_scratch_space(self.g.m, phase.cols, kernel, &specs)
            });
            // The next row's packing, on this thread, is SSE code.
            super::clear_upper_vector_state();
            ran?;
        }
        drop(packed_x);
        scratch.packed = Some(blob);
        Ok(())
    }

    /// The rest of a row in an int8 model ([`Int8Tail`]): `row` holds the kernel's values,
    /// `[M][cols]`, for the output pixels from `at` on, every `s`-th; they go on into `out`.
    fn int8_tail(
        &self,
        phase: &Phase,
        at: usize,
        row: &mut [f32],
        picture: Option<&[f32]>,
        out: &Tensor,
        room: &mut TailRoom,
    ) -> TractResult<()> {
        let (cols, sx, plane) = (phase.cols, self.out_step.1, self.g.out.0 * self.g.out.1);
        if let Some(skip) = &self.int8.skip {
            let picture = picture.context("PhaseDeconv: no picture for the int8 skip")?;
            room.q.resize(skip.c * cols, 0);
            room.acc.resize(cols, 0);
            for (channel, q) in picture.chunks_exact(plane).zip(room.q.chunks_exact_mut(cols)) {
                for (v, p) in q.iter_mut().zip(0..) {
                    *v = skip.input.offset(channel[at + p * sx]);
                }
            }
            for (o, values) in row.chunks_exact_mut(cols).enumerate() {
                skip.add_to(o, &room.q, values, &mut room.acc);
            }
        }
        if self.then.relu {
            row.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        // Every (phase, row) pair writes its own output pixels: none is written twice.
        match self.int8.quantize {
            Some(quantizer) => {
                let data = out.as_ptr::<u8>()? as *mut u8;
                room.bytes.resize(cols, 0);
                for (o, values) in row.chunks_exact(cols).enumerate() {
                    room.bytes.iter_mut().zip(values).for_each(|(b, &v)| *b = quantizer.byte(v));
                    for (p, &b) in room.bytes.iter().enumerate() {
                        unsafe { *data.add(o * plane + at + p * sx) = b };
                    }
                }
            }
            None => {
                let data = out.as_ptr::<f32>()? as *mut f32;
                for (o, values) in row.chunks_exact(cols).enumerate() {
                    for (p, &v) in values.iter().enumerate() {
                        unsafe { *data.add(o * plane + at + p * sx) = v };
                    }
                }
            }
        }
        Ok(())
    }

    /// The op's second input, where it reads one: the picture of a folded 1x1 convolution.
    fn picture_channels(&self) -> Option<usize> {
        match (&self.int8.skip, self.skip) {
            (Some(skip), _) => Some(skip.c),
            (None, 0) => None,
            (None, c) => Some(c),
        }
    }

    fn output_fact(&self) -> TypedFact {
        let dt = if self.int8.quantize.is_some() { DatumType::U8 } else { DatumType::F32 };
        dt.fact([1, self.g.m, self.g.out.0, self.g.out.1])
    }

    fn run(&self, x: &Tensor, picture: Option<&Tensor>, add: Option<&Tensor>) -> TractResult<Tensor> {
        // tract's op before may have run an AVX kernel on this thread.
        super::clear_upper_vector_state();
        let picture = picture.map(|t| t.try_as_plain_ram()?.as_slice::<f32>()).transpose()?;
        let xp = PADDED.with_borrow_mut(|xp| {
            self.pad_input(x.try_as_plain_ram()?.as_slice::<f32>()?, xp);
            TractResult::Ok(std::mem::take(xp))
        })?;
        let out = unsafe {
            Tensor::uninitialized_dt(
                self.output_fact().datum_type,
                &[1, self.g.m, self.g.out.0, self.g.out.1],
            )?
        };
        // Every (phase, row) pair writes its own output pixels: none is written twice.
        let rows: Vec<(usize, usize)> =
            self.phases.iter().enumerate().flat_map(|(i, p)| (0..p.rows).map(move |q| (i, q))).collect();
        let one = |&(i, q): &(usize, usize)| {
            SCRATCH
                .with_borrow_mut(|scratch| self.run_row(&self.phases[i], q, &xp, picture, &out, add, scratch))
        };
        match current_tract_executor() {
            Executor::MultiThread(pool) => {
                use rayon::prelude::*;
                pool.install(|| rows.par_iter().with_min_len(4).try_for_each(one))?
            }
            _ => rows.iter().try_for_each(one)?,
        }
        PADDED.with_borrow_mut(|kept| *kept = xp);
        Ok(out)
    }
}

/// The full panels of [`PhaseDeconv::pack_row`] for a panel width `R` known at compile time;
/// returns how many it packed.
fn pack_panels<const R: usize>(
    xp: &[f32],
    base: usize,
    taps: &[usize],
    cols: usize,
    panel: usize,
    packed: &mut [f32],
) -> usize {
    let full = cols / R;
    for (j, dst) in packed.chunks_exact_mut(panel).enumerate().take(full) {
        let from = base + j * R;
        for (block, &tap) in dst.chunks_exact_mut(R).zip(taps) {
            let block: &mut [f32; R] = block.try_into().unwrap();
            *block = xp[from + tap..][..R].try_into().unwrap();
        }
    }
    full
}

/// Buffers kept from one run to the next by each thread that runs rows: a row's packed input
/// (tens of KB) and tract-linalg's kernel workspace.
#[derive(Default)]
struct Scratch {
    packed: Option<Arc<Blob>>,
    kernel: Option<Box<dyn ScratchSpace>>,
    /// In an int8 model: the row the kernel stores, and the tail's room.
    row: Option<Tensor>,
    tail: TailRoom,
}

/// What [`PhaseDeconv::int8_tail`] works in: the quantized picture at a row's pixels, the
/// skip's sums, the row's bytes.
#[derive(Default)]
struct TailRoom {
    q: Vec<i32>,
    acc: Vec<i32>,
    bytes: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
    /// The padded picture, on the thread that runs the plan.
    static PADDED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Op for PhaseDeconv {
    fn name(&self) -> StaticName {
        match self.kind {
            Kind::Transposed => "PhaseDeconv".into(),
            Kind::Direct => "RowConv".into(),
        }
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{}, {} phases{}{}{}, kernel {}",
            self.g,
            self.phases.len(),
            if self.skip > 0 { format!(", + 1x1 conv of {} channels", self.skip) } else { String::new() },
            if self.then.add { ", + skip" } else { "" },
            if self.then.relu { ", relu" } else { "" },
            self.mmm.name()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for PhaseDeconv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let out = [1, self.g.m, self.g.out.0, self.g.out.1];
        let channels = self.picture_channels();
        ensure!(
            inputs.len() == 1 + channels.is_some() as usize + self.then.add as usize,
            "PhaseDeconv: {} inputs",
            inputs.len()
        );
        let x = &inputs[0];
        ensure!(x.shape() == [1, self.g.c, self.g.h, self.g.w], "PhaseDeconv: input {:?}", x.shape());
        let picture = channels.map(|c| (c, &*inputs[1]));
        if let Some((c, t)) = picture {
            ensure!(
                t.shape() == [1, c, out[2], out[3]] && t.datum_type() == DatumType::F32,
                "PhaseDeconv: skip picture {:?}",
                t.shape()
            );
        }
        let add = self.then.add.then(|| &*inputs[inputs.len() - 1]);
        if let Some(t) = add {
            ensure!(
                t.shape() == out && t.datum_type() == DatumType::F32,
                "PhaseDeconv: addend {:?}",
                t.shape()
            );
        }
        Ok(tvec!(self.run(x, picture.map(|p| p.1), add)?.into_tvalue()))
    }
}

impl TypedOp for PhaseDeconv {
    as_op!();

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(self.output_fact()))
    }
}

/// The node that alone reads `outlet`, where there is one.
pub(super) fn only_successor(model: &TypedModel, outlet: OutletId) -> Option<&TypedNode> {
    match model.outlet_successors(outlet) {
        [one] if !model.output_outlets().is_ok_and(|o| o.contains(&outlet)) => Some(model.node(one.node)),
        _ => None,
    }
}

/// Where `node` is an element-wise binary op of kind `B` with `from` as one input: the other.
fn other_input<B: tract_core::ops::binary::BinMiniOp>(node: &TypedNode, from: OutletId) -> Option<OutletId> {
    let bin = node.op_as::<tract_core::ops::binary::TypedBinOp>()?;
    if !bin.0.is::<B>() || node.inputs.len() != 2 {
        return None;
    }
    match (node.inputs[0] == from, node.inputs[1] == from) {
        (true, false) => Some(node.inputs[1]),
        (false, true) => Some(node.inputs[0]),
        _ => None,
    }
}

/// Where `outlet` is the output of an f32 1x1 convolution (stride 1, no padding, groups or
/// dilation; constant weights and bias) read only by node `reader`.
fn one_by_one_conv(model: &TypedModel, outlet: OutletId, reader: usize) -> TractResult<Option<OneByOne>> {
    if only_successor(model, outlet).map(|n| n.id) != Some(reader) || outlet.slot != 0 {
        return Ok(None);
    }
    let node = model.node(outlet.node);
    let Some(conv) = PhaseDeconv::for_node(model, node, Kind::Direct)? else { return Ok(None) };
    let g = &conv.g;
    // Same picture size in and out: no padding.
    if (g.kh, g.kw, g.stride) != (1, 1, (1, 1)) || g.out != (g.h, g.w) {
        return Ok(None);
    }
    Ok(Some(OneByOne { input: node.inputs[0], conv }))
}

/// Whether the direct form beats tract on a convolution: at least 16 output channels
/// (tract-linalg's f32 kernels work on 8 to 16 rows at once: fewer leave most of each tile
/// empty) and at least 64 products per output (below that, packing is most of the work and
/// tract's direct convolution wins). On the generator, its 3-channel head and 27-product first
/// layer stay with tract (6.2 ms through this op against 3.3 ms, `docs/speed.md`).
fn direct_form_pays(g: &Geometry) -> bool {
    g.m >= 16 && g.c * g.kh * g.kw >= 64
}

/// Replaces each f32 transposed convolution [`PhaseDeconv`] covers with it, together with an
/// `Add` of a tensor of its output's shape and a `Relu` after it where there are such (a
/// generator's skip connection and activation; tract would run them as one more pass). Where
/// the added tensor is a 1x1 convolution's output read by nothing else, that convolution is
/// folded in too. Returns how many it replaced.
pub fn swap_deconvs(model: &mut TypedModel) -> TractResult<usize> {
    swap(model, Kind::Transposed)
}

/// Replaces each f32 convolution that [`PhaseDeconv`]'s direct form covers and runs faster than
/// tract (see [`direct_form_pays`]) with it, with an `Add` and a `Relu` after it as
/// [`swap_deconvs`] does. tract pads such a convolution's input in a pass of its own, on one
/// thread, before its matrix product. Returns how many it replaced.
pub fn swap_convs(model: &mut TypedModel) -> TractResult<usize> {
    swap(model, Kind::Direct)
}

fn swap(model: &mut TypedModel, kind: Kind) -> TractResult<usize> {
    use tract_core::ops::cnn::Conv;
    use tract_core::ops::math::{Add, Max};
    let ids: Vec<usize> = model
        .nodes()
        .iter()
        .filter(|n| match kind {
            Kind::Transposed => n.op_is::<Deconv>(),
            Kind::Direct => n.op_is::<Conv>(),
        })
        .map(|n| n.id)
        .collect();
    let mut swapped = 0;
    for id in ids {
        let node = model.node(id);
        let Some(Weighted { g, weights, mut bias }) = PhaseDeconv::for_node(model, node, kind)? else {
            continue;
        };
        if kind == Kind::Direct && !direct_form_pays(&g) {
            continue;
        }
        let out_fact = model.outlet_fact(OutletId::new(id, 0))?.clone();
        let mut last = OutletId::new(id, 0);
        let (mut addend, mut skip) = (None, None);
        if let Some(next) = only_successor(model, last)
            && let Some(other) = other_input::<Add>(next, last)
            && *model.outlet_fact(other)? == out_fact
        {
            // A 1x1 convolution's output is folded in (its input read instead); any other
            // tensor is added by the kernel as it stores.
            skip = one_by_one_conv(model, other, next.id)?;
            if skip.is_none() {
                addend = Some(other);
            }
            last = OutletId::new(next.id, 0);
        }
        let op = match &skip {
            Some(OneByOne { conv, .. }) => {
                bias.iter_mut().zip(&conv.bias).for_each(|(v, b)| *v += b);
                PhaseDeconv::new(kind, g, &weights, &bias, &Skip { c: conv.g.c, weights: &conv.weights })?
            }
            None => PhaseDeconv::new(kind, g, &weights, &bias, &Skip::NONE)?,
        };
        let Some(mut op) = op else { continue };
        op.then.add = addend.is_some();
        if let Some(next) = only_successor(model, last)
            && let Some(other) = other_input::<Max>(next, last)
            && let Some(k) = &model.outlet_fact(other)?.konst
            && k.len() == 1
            && k.cast_to_scalar::<f32>()? == 0.0
            && *model.outlet_fact(OutletId::new(next.id, 0))? == out_fact
        {
            op.then.relu = true;
            last = OutletId::new(next.id, 0);
        }
        let inputs: TVec<OutletId> =
            std::iter::once(node.inputs[0]).chain(skip.map(|s| s.input)).chain(addend).collect();
        let suffix = match kind {
            Kind::Transposed => "phase_deconv",
            Kind::Direct => "row_conv",
        };
        let name = format!("{}.{suffix}", model.node(id).name);
        super::passes::replace_with(model, name, op, &inputs, last)?;
        swapped += 1;
    }
    if swapped > 0 {
        *model = model.clone().into_compact()?;
    }
    Ok(swapped)
}

/// In an int8 model, after [`swap_deconvs`] and `QConvU8`'s own swap: hands to each
/// [`PhaseDeconv`] the int8 work around it that it can do on the rows it has in cache
/// ([`Int8Tail`]). Returns how many neighbours it took over.
///
/// - An int8 1x1 convolution from an f32 picture (a `QConvU8` taking f32 and giving f32),
///   read only as the tensor added to the op's output: the op reads the picture instead and
///   computes the convolution per row. It was the int8 generator's skip connection: 1M
///   outputs requantized, then dequantized into a fresh 4 MB tensor, to be read once.
/// - The op's output read only by an int8 convolution that quantizes it: the op quantizes
///   each row as it stores it and hands on u8 (a quarter of the bytes), and the convolution
///   reads u8 instead of quantizing a full-size picture in a pass of its own.
pub fn fuse_int8_neighbours(model: &mut TypedModel) -> TractResult<usize> {
    let of_kind = |model: &TypedModel, pick: fn(&TypedNode) -> bool| -> Vec<usize> {
        model.nodes().iter().filter(|n| pick(n)).map(|n| n.id).collect()
    };
    let mut fused = 0;
    for id in of_kind(model, |n| n.op_is::<PhaseDeconv>()) {
        let node = model.node(id);
        let op = node.op_as::<PhaseDeconv>().unwrap();
        let Some(&addend) = node.inputs.last() else { continue };
        if !op.then.add || op.picture_channels().is_some() {
            continue;
        }
        let from = model.node(addend.node);
        let Some(skip) = from.op_as::<QConvU8>().and_then(Int8Skip::of) else { continue };
        if only_successor(model, addend).map(|n| n.id) != Some(id)
            || (skip.m(), skip.out()) != (op.g.m, op.g.out)
        {
            continue;
        }
        let mut op = op.clone();
        op.then.add = false;
        op.int8.skip = Some(skip);
        let (name, inputs) = (format!("{}.int8_skip", node.name), [node.inputs[0], from.inputs[0]]);
        super::passes::replace_with(model, name, op, &inputs, OutletId::new(id, 0))?;
        fused += 1;
    }
    for id in of_kind(model, |n| n.op_is::<QConvU8>()) {
        let node = model.node(id);
        let conv = node.op_as::<QConvU8>().unwrap();
        let (Some(quantizer), [input]) = (conv.input_quantizer(), &node.inputs[..]) else { continue };
        let from = model.node(input.node);
        let Some(op) = from.op_as::<PhaseDeconv>() else { continue };
        if only_successor(model, *input).map(|n| n.id) != Some(id) || op.int8.quantize.is_some() {
            continue;
        }
        let mut op = op.clone();
        op.int8.quantize = Some(quantizer);
        let mut patch = TypedModelPatch::default();
        let taps =
            from.inputs.iter().map(|&i| patch.tap_model(model, i)).collect::<TractResult<TVec<_>>>()?;
        let y = patch.wire_node(format!("{}.quantized", from.name), op, &taps)?;
        let z = patch.wire_node(format!("{}.u8_in", node.name), conv.reading_u8(), &y)?;
        patch.shunt_outside(model, OutletId::new(id, 0), z[0])?;
        patch.apply(model)?;
        fused += 1;
    }
    if fused > 0 {
        *model = model.clone().into_compact()?;
    }
    Ok(fused)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transposed convolution by its definition: every input pixel, through every tap, adds
    /// to the output pixel it lands on (`o = i * s - pad + t`), cropped to the output.
    fn reference(g: Geometry, x: &[f32], weights: &[f32], bias: &[f32]) -> Vec<f32> {
        let Geometry { c, h, w, m, kh, kw, stride, pad, out: (oh, ow) } = g;
        let mut out: Vec<f64> = (0..m * oh * ow).map(|i| bias[i / (oh * ow)] as f64).collect();
        for o in 0..m {
            for ci in 0..c {
                for iy in 0..h {
                    for ix in 0..w {
                        for ty in 0..kh {
                            for tx in 0..kw {
                                let oy = (iy * stride.0 + ty) as isize - pad.0 as isize;
                                let ox = (ix * stride.1 + tx) as isize - pad.1 as isize;
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                out[(o * oh + oy as usize) * ow + ox as usize] += x[(ci * h + iy) * w + ix]
                                    as f64
                                    * weights[((o * c + ci) * kh + ty) * kw + tx] as f64;
                            }
                        }
                    }
                }
            }
        }
        out.into_iter().map(|v| v as f32).collect()
    }

    /// A convolution by its definition (zeros outside the input).
    fn conv_reference(g: Geometry, x: &[f32], weights: &[f32], bias: &[f32]) -> Vec<f32> {
        let Geometry { c, h, w, m, kh, kw, stride, pad, out: (oh, ow) } = g;
        let mut out = vec![0f32; m * oh * ow];
        for o in 0..m {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut sum = bias[o] as f64;
                    for ci in 0..c {
                        for ty in 0..kh {
                            for tx in 0..kw {
                                let iy = (oy * stride.0 + ty) as isize - pad.0 as isize;
                                let ix = (ox * stride.1 + tx) as isize - pad.1 as isize;
                                if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                                    sum += x[(ci * h + iy as usize) * w + ix as usize] as f64
                                        * weights[((o * c + ci) * kh + ty) * kw + tx] as f64;
                                }
                            }
                        }
                    }
                    out[(o * oh + oy) * ow + ox] = sum as f32;
                }
            }
        }
        out
    }

    #[test]
    fn direct_form_matches_convolution_by_its_definition() {
        let mut rng = Lcg(23);
        // (c, h, w, m, k, stride, pad): the generator's 3x3 body and stride-2 encoder; a 5x5
        // with a wide pad; no pad; a 1x1; stride 3 on an odd size; a row narrower than a panel;
        // rows of several full panels, at stride 1 and 2.
        let cases = [
            (6, 9, 11, 17, 3, 1, 1),
            (5, 10, 13, 16, 3, 2, 1),
            (3, 8, 7, 5, 5, 1, 2),
            (4, 6, 9, 3, 3, 1, 0),
            (7, 5, 6, 9, 1, 1, 0),
            (3, 11, 10, 4, 3, 3, 1),
            (9, 3, 5, 20, 3, 1, 1),
            (4, 5, 40, 16, 3, 1, 1),
            (4, 6, 41, 16, 3, 2, 1),
        ];
        for (c, h, w, m, k, s, p) in cases {
            let out = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
            let g = Geometry { c, h, w, m, kh: k, kw: k, stride: (s, s), pad: (p, p), out };
            let x: Vec<f32> = (0..c * h * w).map(|_| rng.next()).collect();
            let weights: Vec<f32> = (0..m * c * k * k).map(|_| rng.next()).collect();
            let bias: Vec<f32> = (0..m).map(|_| rng.next()).collect();
            let addend: Vec<f32> = (0..m * out.0 * out.1).map(|_| rng.next()).collect();
            let expected = conv_reference(g, &x, &weights, &bias);
            let mut op = PhaseDeconv::new(Kind::Direct, g, &weights, &bias, &Skip::NONE).unwrap().unwrap();
            for then in [Then::default(), Then { add: false, relu: true }, Then { add: true, relu: true }] {
                op.then = then;
                let want: Vec<f32> = expected
                    .iter()
                    .zip(&addend)
                    .map(|(&v, &a)| if then.add { v + a } else { v })
                    .map(|v| if then.relu { v.max(0.0) } else { v })
                    .collect();
                let mut inputs = vec![Tensor::from_shape(&[1, c, h, w], &x).unwrap()];
                if then.add {
                    inputs.push(Tensor::from_shape(&[1, m, out.0, out.1], &addend).unwrap());
                }
                runs_as(&op, &inputs, &want, &format!("case {:?} {then:?}", (c, h, w, m, k, s, p)));
            }
        }
    }

    /// Runs `op` on `inputs` at 1 and 2 threads and checks its output against `want`.
    fn runs_as(op: &PhaseDeconv, inputs: &[Tensor], want: &[f32], what: &str) {
        for executor in [Executor::SingleThread, Executor::multithread(2)] {
            let inputs: TVec<TValue> = inputs.iter().map(|t| t.clone().into_tvalue()).collect();
            let got =
                multithread_tract_scope(executor, || op.eval(&EvalContext::out_of_plan(), inputs).unwrap());
            assert_eq!(got[0].shape(), [1, op.g.m, op.g.out.0, op.g.out.1], "{what}");
            let got = got[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{what} at {i}: {a} != {b}");
            }
        }
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    #[test]
    fn matches_conv_transpose_by_its_definition_on_odd_shapes() {
        let mut rng = Lcg(11);
        // (c, h, w, m, k, stride, pad, adjustment): the generator's 4x4 stride 2; ONNX's other
        // common upsampler 3x3 stride 2 with an output padding; a kernel equal to the stride;
        // a kernel smaller than the stride (phases no tap reaches: the bias alone); stride 3
        // with a crop; stride 1; a row narrower than the kernel's panels.
        let cases = [
            (5, 6, 7, 9, 4, 2, 1, 0),
            (3, 5, 8, 4, 3, 2, 1, 1),
            (4, 4, 4, 3, 2, 2, 0, 0),
            (2, 3, 5, 2, 1, 2, 0, 1),
            (3, 4, 6, 5, 5, 3, 2, 0),
            (6, 7, 9, 7, 3, 1, 1, 0),
            (17, 2, 3, 20, 4, 2, 1, 0),
        ];
        for (c, h, w, m, k, s, p, adj) in cases {
            let out = ((h - 1) * s + k - 2 * p + adj, (w - 1) * s + k - 2 * p + adj);
            let g = Geometry { c, h, w, m, kh: k, kw: k, stride: (s, s), pad: (p, p), out };
            let x: Vec<f32> = (0..c * h * w).map(|_| rng.next()).collect();
            let weights: Vec<f32> = (0..m * c * k * k).map(|_| rng.next()).collect();
            let bias: Vec<f32> = (0..m).map(|_| rng.next()).collect();
            let expected = reference(g, &x, &weights, &bias);
            let addend: Vec<f32> = (0..m * out.0 * out.1).map(|_| rng.next()).collect();
            // A folded 1x1 convolution of a 3-channel picture of the output's size.
            let picture: Vec<f32> = (0..3 * out.0 * out.1).map(|_| rng.next()).collect();
            let skip_w: Vec<f32> = (0..m * 3).map(|_| rng.next()).collect();
            let skip_b: Vec<f32> = (0..m).map(|_| rng.next()).collect();
            let n = out.0 * out.1;
            let one_by_one: Vec<f32> = (0..m * n)
                .map(|i| {
                    (0..3).map(|ci| skip_w[i / n * 3 + ci] * picture[ci * n + i % n]).sum::<f32>()
                        + skip_b[i / n]
                })
                .collect();
            let plain = PhaseDeconv::new(Kind::Transposed, g, &weights, &bias, &Skip::NONE)
                .unwrap()
                .expect("an f32 kernel");
            let both: Vec<f32> = bias.iter().zip(&skip_b).map(|(a, b)| a + b).collect();
            let folded =
                PhaseDeconv::new(Kind::Transposed, g, &weights, &both, &Skip { c: 3, weights: &skip_w })
                    .unwrap()
                    .unwrap();
            let thens = [Then::default(), Then { add: true, relu: false }, Then { add: true, relu: true }];
            let variants = thens.iter().map(|&t| (plain.clone(), t)).chain([
                (folded.clone(), Then::default()),
                (folded.clone(), Then { add: false, relu: true }),
                (folded, Then { add: true, relu: true }),
            ]);
            for (mut op, then) in variants {
                op.then = then;
                let with_skip = op.skip > 0;
                let want: Vec<f32> = expected
                    .iter()
                    .zip(&addend)
                    .zip(&one_by_one)
                    .map(|((&v, &a), &k)| {
                        v + if then.add { a } else { 0.0 } + if with_skip { k } else { 0.0 }
                    })
                    .map(|v| if then.relu { v.max(0.0) } else { v })
                    .collect();
                let mut inputs = vec![Tensor::from_shape(&[1, c, h, w], &x).unwrap()];
                if with_skip {
                    inputs.push(Tensor::from_shape(&[1, 3, out.0, out.1], &picture).unwrap());
                }
                if then.add {
                    inputs.push(Tensor::from_shape(&[1, m, out.0, out.1], &addend).unwrap());
                }
                let case = (c, h, w, m, k, s, p, adj);
                runs_as(&op, &inputs, &want, &format!("case {case:?} {then:?} skip {with_skip}"));
            }
        }
    }

    /// onnxruntime's QuantizeLinear to u8, written out (f32 division, round half to even).
    fn quantize(v: f32, q: Quantizer) -> i32 {
        ((v / q.scale).round_ties_even() as i32 + q.zero).clamp(0, 255)
    }

    #[test]
    fn an_int8_tail_is_the_int8_nodes_it_took_over() {
        // Against the nodes it replaces, by their definitions: a transposed convolution's f32
        // output (the same op with no tail: the same kernel, so the same values), plus an
        // int8 1x1 convolution of a picture (QuantizeLinear, QLinearConv, DequantizeLinear),
        // then Relu, then QuantizeLinear for the convolution after. Exact, byte for byte.
        let mut rng = Lcg(31);
        let (x_q, y_q, out_q) = (
            Quantizer { scale: 0.0041, zero: 7 },
            Quantizer { scale: 0.013, zero: 131 },
            Quantizer { scale: 0.0087, zero: 0 },
        );
        // (c, h, w, m, k, stride, pad): the generator's last upsampling, smaller; stride 3; a
        // kernel smaller than the stride (phases of the bias alone).
        for (c, h, w, m, k, s, p) in [(5, 6, 7, 9, 4, 2, 1), (3, 4, 6, 5, 5, 3, 2), (2, 3, 5, 4, 1, 2, 0)] {
            let out = ((h - 1) * s + k - 2 * p, (w - 1) * s + k - 2 * p);
            let n = out.0 * out.1;
            let g = Geometry { c, h, w, m, kh: k, kw: k, stride: (s, s), pad: (p, p), out };
            let x: Vec<f32> = (0..c * h * w).map(|_| rng.next()).collect();
            let weights: Vec<f32> = (0..m * c * k * k).map(|_| rng.next()).collect();
            let bias: Vec<f32> = (0..m).map(|_| rng.next()).collect();
            let picture: Vec<f32> = (0..3 * n).map(|_| rng.next() * 0.6 + 0.5).collect();
            let skip_w: Vec<i8> = (0..m * 3).map(|_| (rng.next() * 127.0) as i8).collect();
            let skip_b: Vec<i32> = (0..m).map(|_| (rng.next() * 900.0) as i32).collect();
            let w_scales: Vec<f32> = (0..m).map(|_| 0.002 + rng.next().abs() * 0.01).collect();
            let skip = Int8Skip::for_test((3, m, out), &skip_w, &skip_b, x_q, &w_scales, y_q);
            let plain = PhaseDeconv::new(Kind::Transposed, g, &weights, &bias, &Skip::NONE).unwrap().unwrap();
            let x_t = Tensor::from_shape(&[1, c, h, w], &x).unwrap();
            let deconv = plain.run(&x_t, None, None).unwrap();
            let deconv = deconv.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
            // QLinearConv 1x1 by its definition, then DequantizeLinear.
            let qx: Vec<i32> = picture.iter().map(|&v| quantize(v, x_q)).collect();
            let dq: Vec<f32> = (0..m * n)
                .map(|i| {
                    let (o, px) = (i / n, i % n);
                    let acc = skip_b[o]
                        + (0..3)
                            .map(|ci| (qx[ci * n + px] - x_q.zero) * skip_w[o * 3 + ci] as i32)
                            .sum::<i32>();
                    let scale = x_q.scale * w_scales[o] / y_q.scale;
                    let y = ((acc as f32 * scale).round_ties_even() as i32 + y_q.zero).clamp(0, 255);
                    (y - y_q.zero) as f32 * y_q.scale
                })
                .collect();
            let summed: Vec<f32> = deconv.iter().zip(&dq).map(|(&d, &q)| (d + q).max(0.0)).collect();
            let picture_t = Tensor::from_shape(&[1, 3, out.0, out.1], &picture).unwrap();
            let case = format!("case {:?}", (c, h, w, m, k, s, p));
            for quantized in [false, true] {
                let mut op = plain.clone();
                op.then.relu = true;
                op.int8 = Int8Tail { skip: Some(skip.clone()), quantize: quantized.then_some(out_q) };
                assert_eq!(op.picture_channels(), Some(3));
                for executor in [Executor::SingleThread, Executor::multithread(2)] {
                    let inputs = tvec![x_t.clone().into_tvalue(), picture_t.clone().into_tvalue()];
                    let got = multithread_tract_scope(executor, || {
                        op.eval(&EvalContext::out_of_plan(), inputs).unwrap()
                    });
                    assert_eq!(got[0].shape(), [1, m, out.0, out.1], "{case}");
                    if quantized {
                        let want: Vec<u8> = summed.iter().map(|&v| quantize(v, out_q) as u8).collect();
                        assert_eq!(got[0].as_bytes(), &want[..], "{case}, quantized");
                    } else {
                        let got = got[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
                        assert_eq!(got, summed, "{case}, f32");
                    }
                }
            }
            // Quantizing alone, with the Relu in the tail.
            let mut op = plain.clone();
            op.then.relu = true;
            op.int8.quantize = Some(out_q);
            let got = op.run(&x_t, None, None).unwrap();
            let want: Vec<u8> = deconv.iter().map(|&v| quantize(v.max(0.0), out_q) as u8).collect();
            assert_eq!(got.as_bytes(), &want[..], "{case}, quantize alone");
        }
    }
}
