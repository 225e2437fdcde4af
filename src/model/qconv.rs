//! An int8 convolution of our own (issue 19), swapped in for tract's quantized `Conv` (ONNX
//! `QLinearConv`: u8 activations, i8 weights with per-channel scales and zero points 0, u8
//! output) by [`swap_int8_convs`] between typing and tract's declutter, together with the
//! `QuantizeLinear` that feeds it and the `DequantizeLinear` that reads it where there are such.
//!
//! Why: tract 0.23.9 lowers such a convolution into an eager im2col, the zero-point sums of the
//! packed input (QSumB), and the requantization as separate element-wise ops over i32 tensors
//! (Sub, Scale, Add, Min, Max, Cast), which together took four times as long as the integer
//! products themselves (`docs/speed.md`). This op does the same arithmetic in three passes:
//!
//! 1. the picture (f32, quantized here as onnxruntime's `QuantizeLinear` does, or u8) into a
//!    padded i8 copy (`q ^ 0x80`, that is `q - 128`, so the kernel's i8 x i8 products apply;
//!    padding is the input's zero point), then the im2col straight in the packed layout of
//!    tract-linalg's kernel;
//! 2. tract-linalg's own integer kernel (VNNI on x86_64, SMLAL or SDOT on ARM, picked by
//!    `MmmDispatch` as tract picks it) with the bias fused in. The weights' zero point is 0,
//!    so the input's zero point only shifts each output channel by a constant,
//!    `(128 - x0) * sum(w[m])`, folded into the bias once at load: no sums of the input at all;
//! 3. the requantization in f32 per output channel, rounded as onnxruntime's MLAS rounds
//!    (clamp, then round half to even by the 1.5 x 2^23 trick), to u8 or, where the op took
//!    over the `DequantizeLinear`, on to f32. The generator's output equals onnxruntime's to
//!    the bit on x86_64 (`tests/integration/golden.rs`).
//!
//! Written against tract's public API only (its `TypedOp`, `EvalOp` and tract-linalg's
//! `MatMatMul`), so it could be offered upstream as a codegen for quantized `Conv`.

use std::sync::Arc;

use tract_core::internal::*;
use tract_core::ops::cnn::{Conv, KernelFormat};
use tract_core::ops::nn::DataFormat;
use tract_linalg::BinOp;
use tract_linalg::mmm::{
    AsInputValue, EagerPackedInput, FusedSpec, MMMInputValue, MatMatMul, PackedExoticFact, Query,
    ScratchSpace,
};
use tract_linalg::pack::PackedI8K4;

/// A 2-D convolution of a 1xCxHxW picture by i8 weights into a 1xMxOHxOW output, quantized
/// in between (its input and output u8, or f32 where it took over the QuantizeLinear before it
/// and the DequantizeLinear after it).
#[derive(Clone, Debug)]
pub struct QConvU8 {
    /// The shape, fixed at load (comicbooth loads a model per input size).
    g: Geometry,
    /// The input's zero point as the i8 the kernel sees (x0 - 128): what padding reads as.
    pad_value: i8,
    /// tract-linalg's kernel, the packing index, and the weights packed for it.
    mmm: Box<dyn MatMatMul>,
    packing: usize,
    packed_w: Arc<Box<dyn MMMInputValue>>,
    /// The weights as the model gives them (OIHW), for [`Int8Skip`].
    weights: Arc<Vec<i8>>,
    /// Per output channel: the bias plus the input zero point's constant share (i32, [M]).
    bias: Arc<Tensor>,
    /// Per output channel: x_scale * w_scale[m] / y_scale.
    scale: Arc<Vec<f32>>,
    y0: i32,
    /// Where the picture comes from: u8 already, or f32 that this op quantizes itself.
    input: Input,
    /// What it hands on: u8, or f32 that this op dequantizes itself.
    output: Output,
}

/// The op's input: the quantized picture, or the f32 picture before the `QuantizeLinear` that
/// this op took over (x_scale and x0 are the convolution's own).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Input {
    U8,
    F32 { x_scale: f32, x0: i32 },
}

/// The op's output: u8 of this datum type, or f32 after the `DequantizeLinear` (by y_scale)
/// that this op took over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Output {
    U8(DatumType),
    F32 { y_scale: f32, y0: i32 },
}

impl PartialEq for QConvU8 {
    fn eq(&self, other: &Self) -> bool {
        self.g == other.g
            && Arc::ptr_eq(&self.packed_w, &other.packed_w)
            && self.bias == other.bias
            && self.scale == other.scale
            && self.y0 == other.y0
            && self.input == other.input
            && self.output == other.output
    }
}

// The scales are compared by their values, which a model never holds as NaN.
impl Eq for QConvU8 {}

/// A convolution's shape: input channels and size, output channels, kernel, stride, padding
/// before (top, left; for a transposed convolution, what is cropped from the output's start)
/// and the output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geometry {
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) m: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) stride: (usize, usize),
    pub(super) pad: (usize, usize),
    pub(super) out: (usize, usize),
}

/// How an op of ours names its shape in tract's profile and `--dump` output.
impl std::fmt::Display for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}x{} stride {}x{}, {} -> {} channels, {}x{} -> {}x{}",
            self.kh,
            self.kw,
            self.stride.0,
            self.stride.1,
            self.c,
            self.m,
            self.h,
            self.w,
            self.out.0,
            self.out.1
        )
    }
}

/// QLinearConv's quantization: the input's and output's zero points and scales, the
/// weights' scales (one, or one per output channel; their zero points are 0).
#[derive(Clone, Debug)]
struct Quant {
    x0: i32,
    x_scale: f32,
    w_scales: Vec<f32>,
    y0: i32,
    y_scale: f32,
}

/// onnxruntime's `QuantizeLinear` to u8: divided by the scale, clamped to the u8 range around
/// the zero point, rounded half to even, plus the zero point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Quantizer {
    pub(super) scale: f32,
    pub(super) zero: i32,
}

impl Quantizer {
    /// `v` quantized, less the zero point (`q - zero`).
    #[inline(always)]
    pub(super) fn offset(self, v: f32) -> i32 {
        round_bits(clamp(v / self.scale, -self.zero as f32, (255 - self.zero) as f32))
    }

    /// `v` quantized: the u8 `QuantizeLinear` gives.
    #[inline(always)]
    pub(super) fn byte(self, v: f32) -> u8 {
        (self.offset(v) + self.zero) as u8
    }
}

/// A [`QConvU8`] that is a 1x1 convolution of an f32 picture into f32 (its `QuantizeLinear`
/// and `DequantizeLinear` taken over), as the arithmetic an op after it can do per pixel: an
/// int8 generator's skip connection from its input picture, which [`super::deconv`] computes
/// inside the transposed convolution it is added to (the f32 generator folds its f32 twin
/// into the kernel's K instead). Every step is [`QConvU8`]'s, so the result is the same to the
/// bit: the picture quantized, the i32 sum of `(q - x0) * w` plus the bias, requantized by
/// `x_scale * w_scale / y_scale`, dequantized by `y_scale`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Int8Skip {
    /// The picture's channels, and how it is quantized.
    pub(super) c: usize,
    pub(super) input: Quantizer,
    size: (usize, usize),
    /// `[M][c]` weights and one bias per output channel (without the zero point's share).
    weights: Vec<i32>,
    bias: Vec<i32>,
    scale: Vec<f32>,
    y0: i32,
    y_scale: f32,
}

impl Int8Skip {
    /// The skip `conv` computes, where it is a 1x1 convolution (stride 1, no padding) from f32
    /// to f32.
    pub(super) fn of(conv: &QConvU8) -> Option<Int8Skip> {
        let g = &conv.g;
        let (Input::F32 { x_scale, x0 }, Output::F32 { y_scale, .. }) = (conv.input, conv.output) else {
            return None;
        };
        if (g.kh, g.kw, g.stride, g.pad) != (1, 1, (1, 1), (0, 0)) || g.out != (g.h, g.w) {
            return None;
        }
        let weights: Vec<i32> = conv.weights.iter().map(|&w| w as i32).collect();
        let bias = conv.bias.try_as_plain_ram().ok()?.as_slice::<i32>().ok()?;
        // QConvU8's bias holds the input zero point's share, `(128 - x0) * sum(w)`: taken out.
        let bias = (0..g.m)
            .map(|o| bias[o] - (128 - x0) * weights[o * g.c..(o + 1) * g.c].iter().sum::<i32>())
            .collect();
        Some(Int8Skip {
            c: g.c,
            input: Quantizer { scale: x_scale, zero: x0 },
            size: g.out,
            weights,
            bias,
            scale: conv.scale.to_vec(),
            y0: conv.y0,
            y_scale,
        })
    }

    /// The skip of a 1x1 convolution from `input` to `output` (test constructor: what
    /// [`QConvU8::for_node`] reads from a model).
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_test(
        (c, m, size): (usize, usize, (usize, usize)),
        weights: &[i8],
        bias: &[i32],
        input: Quantizer,
        w_scales: &[f32],
        output: Quantizer,
    ) -> Int8Skip {
        let g = Geometry { c, h: size.0, w: size.1, m, kh: 1, kw: 1, stride: (1, 1), pad: (0, 0), out: size };
        let q = Quant {
            x0: input.zero,
            x_scale: input.scale,
            w_scales: w_scales.to_vec(),
            y0: output.zero,
            y_scale: output.scale,
        };
        let conv = QConvU8::new(
            g,
            weights,
            bias,
            q,
            Input::F32 { x_scale: input.scale, x0: input.zero },
            Output::F32 { y_scale: output.scale, y0: output.zero },
        )
        .unwrap()
        .expect("an integer kernel");
        Int8Skip::of(&conv).unwrap()
    }

    /// Output channels.
    pub(super) fn m(&self) -> usize {
        self.bias.len()
    }

    /// Output size: the picture's.
    pub(super) fn out(&self) -> (usize, usize) {
        self.size
    }

    /// Adds output channel `o` of the skip to `row`, at the pixels whose quantized picture
    /// values (less the zero point) are `q[channel][pixel]`; `acc` is room for the sums.
    pub(super) fn add_to(&self, o: usize, q: &[i32], row: &mut [f32], acc: &mut [i32]) {
        let n = row.len();
        let acc = &mut acc[..n];
        acc.fill(self.bias[o]);
        for (ci, &w) in self.weights[o * self.c..(o + 1) * self.c].iter().enumerate() {
            for (a, &v) in acc.iter_mut().zip(&q[ci * n..(ci + 1) * n]) {
                *a += w * v;
            }
        }
        let s = self.scale[o];
        for (v, &a) in row.iter_mut().zip(acc.iter()) {
            *v += requantized(a, s, self.y0) as f32 * self.y_scale;
        }
    }
}

/// Every value of a constant tensor as `T`.
pub(super) fn values<T: Datum + Copy>(t: &Tensor) -> TractResult<Vec<T>> {
    Ok(t.cast_to::<T>()?.to_plain_array_view::<T>()?.iter().copied().collect())
}

/// The value of `outlet` where it is a constant, or computed from constants alone by at most
/// `depth` ops (before tract's declutter folds them, ONNX's bias and zero points reach a
/// quantized convolution through casts and reshapes).
pub(super) fn const_value(
    model: &TypedModel,
    outlet: OutletId,
    depth: usize,
) -> TractResult<Option<Arc<Tensor>>> {
    if let Some(k) = &model.outlet_fact(outlet)?.konst {
        return Ok(Some(k.clone()));
    }
    let node = model.node(outlet.node);
    if depth == 0 || node.inputs.is_empty() {
        return Ok(None);
    }
    let mut inputs = tvec!();
    for &input in &node.inputs {
        match const_value(model, input, depth - 1)? {
            Some(t) => inputs.push(t.into_tvalue()),
            None => return Ok(None),
        }
    }
    Ok(node.op.eval_out_of_plan(inputs)?.and_then(|mut out| {
        (outlet.slot < out.len()).then(|| out.swap_remove(outlet.slot).into_arc_tensor())
    }))
}

/// Four rows of 8 bytes to 8 groups of 4: `out[4 * i + j] = rows[j].byte(i)`, a 4x8 byte
/// transpose: two rounds of unpacks (SSE2, part of every x86_64; NEON's zips on aarch64).
#[inline(always)]
fn interleave4x8(rows: [u64; 4], out: &mut [u8; 32]) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        use std::arch::x86_64::*;
        let [a, b, c, d] = rows.map(|r| _mm_cvtsi64_si128(r as i64));
        let ab = _mm_unpacklo_epi8(a, b); // a0 b0 a1 b1 .. a7 b7
        let cd = _mm_unpacklo_epi8(c, d);
        _mm_storeu_si128(out.as_mut_ptr() as *mut __m128i, _mm_unpacklo_epi16(ab, cd));
        _mm_storeu_si128(out.as_mut_ptr().add(16) as *mut __m128i, _mm_unpackhi_epi16(ab, cd));
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        use std::arch::aarch64::*;
        let [a, b, c, d] = rows.map(|r| vcreate_u8(r));
        let ab = vreinterpretq_u16_u8(vcombine_u8(vzip1_u8(a, b), vzip2_u8(a, b)));
        let cd = vreinterpretq_u16_u8(vcombine_u8(vzip1_u8(c, d), vzip2_u8(c, d)));
        vst1q_u8(out.as_mut_ptr(), vreinterpretq_u8_u16(vzip1q_u16(ab, cd)));
        vst1q_u8(out.as_mut_ptr().add(16), vreinterpretq_u8_u16(vzip2q_u16(ab, cd)));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let b = rows.map(u64::to_le_bytes);
        for i in 0..8 {
            for j in 0..4 {
                out[4 * i + j] = b[j][i];
            }
        }
    }
}

impl QConvU8 {
    /// The op for a node of `model`, or None where the node is not a quantized convolution this
    /// op covers (it is left to tract then): u8 input of a known shape, batch 1, NCHW, OIHW i8
    /// weights with zero points 0, no groups or dilation, every parameter constant.
    pub(super) fn for_node(
        model: &TypedModel,
        node: &TypedNode,
        input: Input,
        output: Output,
    ) -> TractResult<Option<QConvU8>> {
        let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
        let Some(q) = conv.q_params else { return Ok(None) };
        let spec = &conv.pool_spec;
        if q.unquantized() != DatumType::U8
            || conv.group != 1
            || spec.data_format != DataFormat::NCHW
            || conv.kernel_fmt != KernelFormat::OIHW
            || spec.kernel_shape.len() != 2
            || spec.dilations().iter().any(|&d| d != 1)
            || node.inputs.len() != 9
        {
            return Ok(None);
        }
        let x_fact = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = x_fact.shape.as_concrete() else { return Ok(None) };
        if x_fact.datum_type.unquantized() != DatumType::U8 || shape.len() != 4 || shape[0] != 1 {
            return Ok(None);
        }
        let mut konst = Vec::with_capacity(8);
        for &input in &node.inputs[1..] {
            match const_value(model, input, 4)? {
                Some(t) => konst.push(t),
                None => return Ok(None),
            }
        }
        let [w, bias, x0, xs, k0, ks, y0, ys] = &konst[..] else { return Ok(None) };
        if w.datum_type().unquantized() != DatumType::I8 || w.rank() != 4 {
            return Ok(None);
        }
        if values::<i32>(k0)?.iter().any(|&z| z != 0) {
            return Ok(None);
        }
        let (c, h, wd) = (shape[1], shape[2], shape[3]);
        let (m, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
        if w.shape()[1] != c {
            return Ok(None);
        }
        let padding = spec.computed_padding(&[h, wd]);
        let strides = spec.strides();
        let x0 = values::<i32>(x0)?.first().copied().context("empty x zero point")?;
        let y0 = values::<i32>(y0)?.first().copied().context("empty y zero point")?;
        let xs = values::<f32>(xs)?.first().copied().context("empty x scale")?;
        let ys = values::<f32>(ys)?.first().copied().context("empty y scale")?;
        let ks = values::<f32>(ks)?;
        if !(0..=255).contains(&x0) || !(0..=255).contains(&y0) || !(ks.len() == 1 || ks.len() == m) {
            return Ok(None);
        }
        // The QuantizeLinear and DequantizeLinear taken over must use the convolution's own
        // parameters (in an ONNX QOperator model they are the same initializers).
        let same = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs();
        let input = match input {
            Input::F32 { x_scale, x0: z } if z == x0 && same(x_scale, xs) => Input::F32 { x_scale: xs, x0 },
            Input::F32 { .. } => return Ok(None),
            Input::U8 => Input::U8,
        };
        let output = match output {
            Output::F32 { y_scale, y0: z } if z == y0 && same(y_scale, ys) => Output::F32 { y_scale: ys, y0 },
            Output::F32 { .. } => return Ok(None),
            Output::U8(_) => Output::U8(model.outlet_fact(OutletId::new(node.id, 0))?.datum_type),
        };
        let geometry = Geometry {
            c,
            h,
            w: wd,
            m,
            kh,
            kw,
            stride: (strides[0], strides[1]),
            pad: (padding[0].pad_before, padding[1].pad_before),
            out: (padding[0].convoluted, padding[1].convoluted),
        };
        let weights: Vec<i8> = w.as_bytes().iter().map(|&b| b as i8).collect();
        let q = Quant { x0, x_scale: xs, w_scales: ks, y0, y_scale: ys };
        QConvU8::new(geometry, &weights, &values::<i32>(bias)?, q, input, output)
    }

    /// The op from its geometry, OIHW weights, bias (one per output channel, or one for all)
    /// and quantization; None where tract-linalg offers no integer kernel.
    fn new(
        g: Geometry,
        weights: &[i8],
        bias: &[i32],
        q: Quant,
        input: Input,
        output: Output,
    ) -> TractResult<Option<QConvU8>> {
        let Geometry { c, m, kh, kw, out: (oh, ow), .. } = g;
        let k = c * kh * kw;
        let n = oh * ow;
        ensure!(weights.len() == m * k, "QConvU8: {} weights for {m}x{k}", weights.len());
        // onnxruntime's order of operations: x_scale * w_scale / y_scale, in f32.
        let ws = |o: usize| q.w_scales[if q.w_scales.len() == 1 { 0 } else { o }];
        let scale: Vec<f32> = (0..m).map(|o| q.x_scale * ws(o) / q.y_scale).collect();
        let bias: Vec<i32> = (0..m)
            .map(|o| {
                let sum: i32 = weights[o * k..(o + 1) * k].iter().map(|&v| v as i32).sum();
                let b = if bias.len() == 1 { bias[0] } else { bias.get(o).copied().unwrap_or(0) };
                b + (128 - q.x0) * sum
            })
            .collect();
        let query = Query {
            weight: DatumType::I8.into(),
            activation: DatumType::I8,
            accumulators: tvec!(DatumType::I32),
            store: Some(DatumType::I32),
            allow_extractor: false,
            m: Some(m),
            k: Some(k),
            n: Some(n),
        };
        let Some((mmm, packing, _)) = tract_linalg::mmm::MmmDispatch::native().pick(&query) else {
            return Ok(None);
        };
        let a_format = &mmm.packings()[packing].0;
        let packed_w = a_format.prepare_one(&Tensor::from_shape(&[m, k], weights)?, 1, 0)?;
        Ok(Some(QConvU8 {
            g,
            pad_value: (q.x0 - 128) as i8,
            mmm,
            packing,
            packed_w: Arc::new(packed_w),
            weights: Arc::new(weights.to_vec()),
            bias: Arc::new(Tensor::from_shape(&[m], &bias)?),
            scale: Arc::new(scale),
            y0: q.y0,
            input,
            output,
        }))
    }

    /// The picture as the kernel reads it: i8 (`q - 128`), padded with the input's zero point
    /// so that every tap of every output pixel lies inside (`hp` x `wp` per channel). An f32
    /// picture is quantized here as onnxruntime's `QuantizeLinear` does: divided by the scale,
    /// clamped to the u8 range, rounded half to even, plus the zero point.
    fn padded(&self, x: &Tensor, xp: &mut Vec<u8>) -> TractResult<(usize, usize)> {
        let (sh, sw) = self.g.stride;
        let hp = (self.g.out.0 - 1) * sh + self.g.kh;
        let wp = (self.g.out.1 - 1) * sw + self.g.kw;
        xp.clear();
        xp.resize(self.g.c * hp * wp, self.pad_value as u8);
        let rows = self.g.h.min(hp - self.g.pad.0);
        let cols = self.g.w.min(wp - self.g.pad.1);
        let f32_in = match self.input_quantizer() {
            None => None,
            Some(q) => Some((x.try_as_plain_ram()?.as_slice::<f32>()?, q)),
        };
        for_each_chunk(xp, hp * wp, 1, |c, plane| {
            for y in 0..rows {
                let at = (c * self.g.h + y) * self.g.w;
                let dst = &mut plane[(y + self.g.pad.0) * wp + self.g.pad.1..][..cols];
                match f32_in {
                    None => {
                        for (d, &s) in dst.iter_mut().zip(&x.as_bytes()[at..at + cols]) {
                            *d = s ^ 0x80;
                        }
                    }
                    Some((v, quantizer)) => {
                        for (d, &s) in dst.iter_mut().zip(&v[at..at + cols]) {
                            *d = quantizer.byte(s) ^ 0x80;
                        }
                    }
                }
            }
        });
        Ok((hp, wp))
    }

    /// Each row of K (channel, kernel row, kernel column): its offset in the padded picture
    /// from an output pixel's window corner. Rows past K (the kernel's padding to `kp`) read
    /// the corner itself; their weights are 0.
    fn taps(&self, kp: usize, hp: usize, wp: usize) -> Vec<usize> {
        let k = self.g.c * self.g.kh * self.g.kw;
        (0..kp)
            .map(|kk| {
                if kk >= k {
                    return 0;
                }
                let (c, ky, kx) = (kk / (self.g.kh * self.g.kw), kk / self.g.kw % self.g.kh, kk % self.g.kw);
                (c * hp + ky) * wp + kx
            })
            .collect()
    }

    /// The im2col matrix, plain: K rows of N = OH x OW, for a kernel whose B packing is not
    /// [`PackedI8K4`] (tract packs it then).
    fn im2col_plain(&self, xp: &[u8], hp: usize, wp: usize, cols: &mut [u8]) {
        let n = self.g.out.0 * self.g.out.1;
        let (sh, sw) = self.g.stride;
        for (dst, &tap) in cols.chunks_exact_mut(n).zip(&self.taps(self.g.c * self.g.kh * self.g.kw, hp, wp))
        {
            for (oy, out) in dst.chunks_exact_mut(self.g.out.1).enumerate() {
                let src = &xp[oy * sh * wp + tap..];
                for (o, &v) in out.iter_mut().zip(src.iter().step_by(sw)) {
                    *o = v;
                }
            }
        }
    }

    /// The im2col matrix written straight in the layout of tract-linalg's [`PackedI8K4`] (the B
    /// operand of its VNNI and SDOT kernels): panels of `r` output pixels; in each, for every 4
    /// rows of K, 4 bytes per pixel (`panel[kb * r * 4 + pixel * 4 + k % 4]`).
    fn im2col_i8k4(&self, xp: &[u8], hp: usize, wp: usize, r: usize, packed: &mut [u8]) {
        let k = self.g.c * self.g.kh * self.g.kw;
        let kp = k.div_ceil(4) * 4;
        let n = self.g.out.0 * self.g.out.1;
        let (sh, sw) = self.g.stride;
        let taps = self.taps(kp, hp, wp);
        let corner = |j: usize| (j / self.g.out.1) * sh * wp + (j % self.g.out.1) * sw;
        for_each_chunk(packed, kp * r, 64, |p, panel| {
            let (first, last) = (p * r, (p * r + r).min(n) - 1);
            // Stride 1 and one output row: each row of K reads `r` consecutive bytes, and 4
            // rows interleave into the panel's 4-byte groups.
            if r == 8 && sw == 1 && last == first + 7 && first / self.g.out.1 == last / self.g.out.1 {
                let base = corner(first);
                for (block, t) in panel.chunks_exact_mut(32).zip(taps.chunks_exact(4)) {
                    let row = |i: usize| u64::from_le_bytes(xp[base + t[i]..][..8].try_into().unwrap());
                    interleave4x8([row(0), row(1), row(2), row(3)], block.try_into().unwrap());
                }
            } else {
                for (block, t) in panel.chunks_exact_mut(r * 4).zip(taps.chunks_exact(4)) {
                    for (lm, px) in block.chunks_exact_mut(4).enumerate() {
                        // Pixels past the end (the last panel's padding) repeat the last one.
                        let base = corner((first + lm).min(last));
                        for (o, &tap) in px.iter_mut().zip(t) {
                            *o = xp[base + tap];
                        }
                    }
                }
            }
        });
    }

    /// i32 accumulators to u8 as onnxruntime's MLAS requantizes (scale, clamp to the u8 range
    /// around the zero point, round half to even, add it), then, where this op took over the
    /// `DequantizeLinear`, to f32 as onnxruntime dequantizes (`(q - y0) * y_scale`).
    fn requantize(&self, acc: &[i32], out: &mut Tensor) -> TractResult<()> {
        let n = self.g.out.0 * self.g.out.1;
        match self.output {
            Output::U8(_) => for_each_chunk(out.as_bytes_mut(), n, 1, |o, out| {
                let (acc, s) = (&acc[o * n..][..n], self.scale[o]);
                for (&a, out) in acc.iter().zip(out.iter_mut()) {
                    *out = (requantized(a, s, self.y0) + self.y0) as u8;
                }
            }),
            Output::F32 { y_scale, .. } => {
                let mut view = out.try_as_plain_ram_mut()?;
                for_each_chunk(view.as_slice_mut::<f32>()?, n, 1, |o, out| {
                    let (acc, s) = (&acc[o * n..][..n], self.scale[o]);
                    for (&a, out) in acc.iter().zip(out.iter_mut()) {
                        *out = requantized(a, s, self.y0) as f32 * y_scale;
                    }
                })
            }
        }
        Ok(())
    }

    /// How it quantizes its f32 input, where it takes f32.
    pub(super) fn input_quantizer(&self) -> Option<Quantizer> {
        match self.input {
            Input::F32 { x_scale, x0 } => Some(Quantizer { scale: x_scale, zero: x0 }),
            Input::U8 => None,
        }
    }

    /// The same convolution reading its input already quantized (u8), where the op before
    /// quantizes it (with [`Self::input_quantizer`]).
    pub(super) fn reading_u8(&self) -> QConvU8 {
        QConvU8 { input: Input::U8, ..self.clone() }
    }

    fn output_fact(&self) -> TypedFact {
        let dt = match self.output {
            Output::U8(dt) => dt,
            Output::F32 { .. } => DatumType::F32,
        };
        dt.fact([1, self.g.m, self.g.out.0, self.g.out.1])
    }
}

/// `f(index, chunk)` for each `chunk`-long piece of `data`, on tract's thread pool where the
/// model runs on more than one thread (batches of at least `min` pieces), else in turn.
fn for_each_chunk<T: Send>(data: &mut [T], chunk: usize, min: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    use rayon::prelude::*;
    use tract_linalg::multithread::{Executor, current_tract_executor};
    match current_tract_executor() {
        Executor::MultiThread(pool) => pool.install(|| {
            data.par_chunks_exact_mut(chunk).with_min_len(min).enumerate().for_each(|(i, c)| f(i, c))
        }),
        _ => data.chunks_exact_mut(chunk).enumerate().for_each(|(i, c)| f(i, c)),
    }
}

/// The blob kept in `slot` where it holds `len` bytes at `align`, else a new one (not
/// initialised): a packed operand kept from one run to the next, as fresh pages would be
/// faulted in on every run.
pub(super) fn kept_blob(slot: &mut Option<Arc<Blob>>, len: usize, align: usize) -> Arc<Blob> {
    match slot.take() {
        Some(b) if b.len() >= len && (b.as_ptr() as usize).is_multiple_of(align) => b,
        _ => Arc::new(unsafe { Blob::new_for_size_and_align(len, align) }),
    }
}

/// tract-linalg's per-run workspace for `mmm`, kept in `slot` between runs (as tract's
/// OptMatMul keeps it): the one there where `mmm` can use it, else a new one.
pub(super) fn kept_kernel_space<'s>(
    slot: &'s mut Option<Box<dyn ScratchSpace>>,
    mmm: &dyn MatMatMul,
) -> &'s mut dyn ScratchSpace {
    // SAFETY: both only inspect or make a workspace; the one handed back is one `mmm` accepts.
    if !slot.as_ref().is_some_and(|k| unsafe { mmm.can_use_scratch_space(&**k) }) {
        *slot = Some(unsafe { mmm.allocate_scratch_space() });
    }
    &mut **slot.as_mut().unwrap()
}

/// An i32 accumulator requantized as MLAS does, less the output's zero point `y0`: scaled,
/// clamped to the u8 range around `y0`, rounded half to even. The one rule for [`QConvU8`]'s
/// output and for [`Int8Skip`], so the two stay the same to the bit.
#[inline(always)]
fn requantized(acc: i32, scale: f32, y0: i32) -> i32 {
    round_bits(clamp(acc as f32 * scale, (-y0) as f32, (255 - y0) as f32))
}

/// `v` within `lo..=hi` by plain comparisons (a NaN gives `hi`), which compile to the vector
/// min and max instructions; `f32::clamp`'s NaN rules keep the loops scalar.
#[inline(always)]
fn clamp(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v > lo { v } else { lo };
    if v < hi { v } else { hi }
}

/// `v` rounded half to even, for |v| < 2^22, as MLAS rounds: adding 1.5 x 2^23 leaves the
/// rounded integer in the low bits of the float's representation.
#[inline(always)]
fn round_bits(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32
}

impl Op for QConvU8 {
    fn name(&self) -> StaticName {
        "QConvU8".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{}, kernel {}", self.g, self.mmm.name())])
    }

    op_as_typed_op!();
}

impl EvalOp for QConvU8 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        ensure!(x.shape() == [1, self.g.c, self.g.h, self.g.w], "QConvU8: input {:?}", x.shape());
        // tract's op before may have run an AVX kernel on this thread.
        super::clear_upper_vector_state();
        let out = SCRATCH.with_borrow_mut(|scratch| self.run(&x, scratch))?;
        Ok(tvec!(out.into_tvalue()))
    }
}

/// Buffers kept from one convolution to the next on the thread that runs the plan: a comic's
/// packed im2col (up to 9.4 MB at 256x256) and accumulators would otherwise be fresh pages,
/// each faulted in on every run (glibc maps blocks of 1 MiB and more; `src/memory.rs`).
#[derive(Default)]
struct Scratch {
    padded: Vec<u8>,
    packed: Option<Arc<Blob>>,
    acc: Option<Tensor>,
    /// tract-linalg's own per-run workspace (as tract's OptMatMul keeps it between runs).
    kernel: Option<Box<dyn ScratchSpace>>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Frees the buffers [`QConvU8`] keeps on this thread (up to 12 MB for the int8 generator at
/// 256x256): for a thread that ran an int8 model it will not run again, as
/// [`super::Generator::fastest`]'s thread does when f32 wins.
pub(super) fn release_thread_scratch() {
    SCRATCH.with_borrow_mut(|s| *s = Scratch::default());
}

impl QConvU8 {
    fn run(&self, x: &Tensor, scratch: &mut Scratch) -> TractResult<Tensor> {
        let (k, n) = (self.g.c * self.g.kh * self.g.kw, self.g.out.0 * self.g.out.1);
        let (hp, wp) = self.padded(x, &mut scratch.padded)?;
        let xp = &scratch.padded;
        let b_format = &self.mmm.packings()[self.packing].1;
        let packed_x: Box<dyn MMMInputValue> = if let Some(i8k4) = b_format.downcast_ref::<PackedI8K4>() {
            let (len, align) = (i8k4.len(k, n), i8k4.alignment());
            let mut blob = kept_blob(&mut scratch.packed, len, align);
            let bytes = Arc::get_mut(&mut blob).context("QConvU8: packed input still shared")?;
            self.im2col_i8k4(xp, hp, wp, i8k4.r, &mut bytes.as_bytes_mut()[..len]);
            scratch.packed = Some(blob.clone());
            Box::new(EagerPackedInput {
                fact: PackedExoticFact { format: b_format.clone(), mn: n.to_dim(), k },
                packed: blob,
                panel_bytes: i8k4.single_panel_len(k),
                mn: n,
            })
        } else {
            let mut cols = unsafe { Tensor::uninitialized::<i8>(&[k, n])? };
            self.im2col_plain(xp, hp, wp, cols.as_bytes_mut());
            b_format.prepare_one(&cols, 0, 1)?
        };
        if scratch.acc.as_ref().is_none_or(|a| a.len() < self.g.m * n) {
            scratch.acc = Some(unsafe { Tensor::uninitialized::<i32>(&[self.g.m * n])? });
        }
        let acc = scratch.acc.as_ref().unwrap();
        let (shape, strides) = ([self.g.m, n], [n as isize, 1]);
        unsafe {
            let view = TensorView::from_bytes(acc, 0, &shape, &strides);
            let store = self.mmm.c_view(Some(0), Some(1)).wrap(&view);
            let specs = [
                FusedSpec::AddMatMul {
                    a: AsInputValue::Borrowed(&**self.packed_w),
                    b: AsInputValue::Borrowed(&*packed_x),
                    packing: self.packing,
                },
                FusedSpec::BinPerRow(self.bias.view(), BinOp::Add),
                FusedSpec::Store(store),
            ];
            let kernel = kept_kernel_space(&mut scratch.kernel, &*self.mmm);
            let ran = self.mmm.run_with_scratch_space(self.g.m, n, kernel, &specs);
            super::clear_upper_vector_state(); // the requantizing loop after is SSE
            ran?;
        }
        drop(packed_x); // the packed blob is the scratch's alone again
        let fact = self.output_fact();
        let mut out =
            unsafe { Tensor::uninitialized_dt(fact.datum_type, &[1, self.g.m, self.g.out.0, self.g.out.1])? };
        let acc = &acc.try_as_plain_ram()?.as_slice::<i32>()?[..self.g.m * n];
        self.requantize(acc, &mut out)?;
        Ok(out)
    }
}

impl TypedOp for QConvU8 {
    as_op!();

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(self.output_fact()))
    }
}

/// Replaces each quantized convolution [`QConvU8`] covers with it, taking over the
/// `QuantizeLinear` that feeds it and the `DequantizeLinear` that reads it where there are
/// such (an int8 generator's convolutions then take and give f32, and no separate pass
/// quantizes or dequantizes). Returns how many convolutions it replaced.
pub fn swap_int8_convs(model: &mut TypedModel) -> TractResult<usize> {
    use tract_core::ops::element_wise::ElementWiseOp;
    use tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearU8};
    let ids: Vec<usize> = model.nodes().iter().filter(|n| n.op_is::<Conv>()).map(|n| n.id).collect();
    let mut swapped = 0;
    for id in ids {
        let node = model.node(id);
        // The f32 picture, where the input is a QuantizeLinear of one.
        let from = model.node(node.inputs[0].node);
        let quantize = from.op_as::<ElementWiseOp>().and_then(|e| e.0.downcast_ref::<QuantizeLinearU8>());
        let (input, tap) = match quantize {
            Some(q) if model.outlet_fact(from.inputs[0])?.datum_type == DatumType::F32 => {
                (Input::F32 { x_scale: q.scale.recip(), x0: q.zero_point as i32 }, from.inputs[0])
            }
            _ => (Input::U8, node.inputs[0]),
        };
        // The DequantizeLinear that alone reads the output.
        let (output, replaced) = match model.outlet_successors(OutletId::new(id, 0)) {
            [one] => match model.node(one.node).op_as::<DequantizeLinearF32>() {
                Some(dq) => (Output::F32 { y_scale: dq.scale, y0: dq.zero_point }, one.node),
                None => (Output::U8(DatumType::U8), id),
            },
            _ => (Output::U8(DatumType::U8), id),
        };
        // Taking over the neighbours needs their parameters to be the convolution's own; if
        // they are not, the convolution alone.
        let (op, tap, replaced) = match QConvU8::for_node(model, node, input, output)? {
            Some(op) => (op, tap, replaced),
            None => match QConvU8::for_node(model, node, Input::U8, Output::U8(DatumType::U8))? {
                Some(op) => (op, node.inputs[0], id),
                None => continue,
            },
        };
        let name = format!("{}.qconv_u8", node.name);
        super::passes::replace_with(model, name, op, &[tap], OutletId::new(replaced, 0))?;
        swapped += 1;
    }
    if swapped > 0 {
        *model = model.clone().into_compact()?;
    }
    Ok(swapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QLinearConv by its definition, as onnxruntime computes it: i32 sums of
    /// (x - x0) * w over the window (padding contributes 0), plus the bias, scaled by
    /// x_scale * w_scale / y_scale in f32, rounded half to even, plus y0, clamped to u8.
    fn reference(g: Geometry, x: &[u8], weights: &[i8], bias: &[i32], q: &Quant) -> Vec<u8> {
        let Geometry { c, h, w, m, kh, kw, stride, pad, out: (oh, ow) } = g;
        let mut out = vec![0u8; m * oh * ow];
        for o in 0..m {
            let scale = q.x_scale * q.w_scales[if q.w_scales.len() == 1 { 0 } else { o }] / q.y_scale;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias[o];
                    for ci in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * stride.0 + ky) as isize - pad.0 as isize;
                                let ix = (ox * stride.1 + kx) as isize - pad.1 as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let v = x[(ci * h + iy as usize) * w + ix as usize] as i32 - q.x0;
                                acc += v * weights[((o * c + ci) * kh + ky) * kw + kx] as i32;
                            }
                        }
                    }
                    let r = (acc as f32 * scale).round_ties_even() as i32 + q.y0;
                    out[(o * oh + oy) * ow + ox] = r.clamp(0, 255) as u8;
                }
            }
        }
        out
    }

    /// A small deterministic generator: the same cases on every machine.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
    }

    #[test]
    fn matches_qlinearconv_by_its_definition_on_odd_shapes() {
        let mut rng = Lcg(7);
        // (c, h, w, m, k, stride, pad): K not a multiple of 4, N not a multiple of 8, stride 2,
        // 1x1, a window wider than the padding, a single output channel.
        let cases = [
            (3, 9, 11, 5, 3, 1, 1),
            (3, 9, 11, 5, 3, 2, 1),
            (5, 16, 16, 16, 1, 1, 0),
            (2, 7, 13, 3, 5, 1, 2),
            (16, 8, 24, 1, 3, 1, 1),
            (4, 6, 6, 9, 3, 2, 0),
        ];
        for (c, h, w, m, k, s, p) in cases {
            let out = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
            let g = Geometry { c, h, w, m, kh: k, kw: k, stride: (s, s), pad: (p, p), out };
            let x: Vec<u8> = (0..c * h * w).map(|_| rng.next() as u8).collect();
            let weights: Vec<i8> = (0..m * c * k * k).map(|_| rng.next() as i8).collect();
            let bias: Vec<i32> = (0..m).map(|_| (rng.next() % 20000) as i32 - 10000).collect();
            let q = Quant {
                x0: (rng.next() % 256) as i32,
                x_scale: 0.01,
                w_scales: (0..m).map(|o| 0.002 + 0.0005 * o as f32).collect(),
                y0: (rng.next() % 256) as i32,
                y_scale: 0.05,
            };
            let expected = reference(g, &x, &weights, &bias, &q);
            let op = QConvU8::new(g, &weights, &bias, q.clone(), Input::U8, Output::U8(DatumType::U8))
                .unwrap()
                .expect("an integer kernel");
            let input = Tensor::from_shape(&[1, c, h, w], &x).unwrap();
            let got = op.eval(&EvalContext::out_of_plan(), tvec!(input.into_tvalue())).unwrap();
            assert_eq!(got[0].shape(), [1, m, out.0, out.1]);
            assert_eq!(got[0].as_bytes(), &expected[..], "case {:?}", (c, h, w, m, k, s, p));

            // The same picture as f32 (quantized by the op), dequantized at the end.
            let xf: Vec<f32> = x.iter().map(|&v| (v as i32 - q.x0) as f32 * q.x_scale).collect();
            let (input, output) =
                (Input::F32 { x_scale: q.x_scale, x0: q.x0 }, Output::F32 { y_scale: q.y_scale, y0: q.y0 });
            let op = QConvU8::new(g, &weights, &bias, q.clone(), input, output).unwrap().unwrap();
            let input = Tensor::from_shape(&[1, c, h, w], &xf).unwrap();
            let got = op.eval(&EvalContext::out_of_plan(), tvec!(input.into_tvalue())).unwrap();
            let got = got[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
            let want: Vec<f32> = expected.iter().map(|&v| (v as i32 - q.y0) as f32 * q.y_scale).collect();
            assert_eq!(got, want, "case {:?} through f32", (c, h, w, m, k, s, p));
        }
    }
}
