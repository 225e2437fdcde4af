//! A histogram op of our own: how many elements of a tensor equal each of a few constant
//! values, swapped in by [`swap_histograms`] for what ONNX has to spell as
//! `Equal(x, values)`, `Cast` to float and `ReduceSum` over x's axes.
//!
//! Why: that spelling compares every element with every value. The gate's luminance histogram
//! (`models/train/nets.py`, `StatsGate`: 64 levels of a 256x256 picture) went through a
//! 64 x 65,536 boolean tensor, a float copy of it (16 MB) and a sum: three quarters of the
//! gate once its channel reductions were unrolled (`passes::unroll_short_reduces`). Counting
//! looks each element up once. The counts are exact in both (whole numbers below 2^24), so the
//! outputs are the same.

use std::sync::Arc;

use tract_core::internal::*;
use tract_core::ops::binary::TypedBinOp;
use tract_core::ops::cast::Cast;
use tract_core::ops::logic::CompEq;
use tract_core::ops::nn::{Reduce, Reducer};

/// Counts of the elements of its f32 input equal to each of `values`, as f32, in `shape`
/// (one count per value, in the values' order).
#[derive(Clone, Debug, PartialEq)]
pub struct CountEqual {
    /// The values, with their places in the output, sorted by value (NaN, never equal to
    /// anything, left out).
    sorted: Arc<Vec<(f32, usize)>>,
    /// How many values (and counts).
    len: usize,
    shape: TVec<usize>,
}

impl Eq for CountEqual {}

impl CountEqual {
    /// The op counting elements equal to each of `values`, its output of `shape`.
    pub fn new(values: &[f32], shape: &[usize]) -> CountEqual {
        let mut sorted: Vec<(f32, usize)> =
            values.iter().copied().enumerate().filter(|(_, v)| !v.is_nan()).map(|(i, v)| (v, i)).collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        CountEqual { sorted: Arc::new(sorted), len: values.len(), shape: shape.into() }
    }

    fn count(&self, x: &[f32]) -> Vec<f32> {
        let mut counts = vec![0u32; self.len];
        let sorted = &self.sorted[..];
        for &v in x {
            // The first value not below v, then every value equal to it (0.0 and -0.0 are equal).
            let mut j = sorted.partition_point(|(s, _)| *s < v);
            while let Some(&(_, i)) = sorted.get(j).filter(|(s, _)| *s == v) {
                counts[i] += 1;
                j += 1;
            }
        }
        counts.into_iter().map(|c| c as f32).collect()
    }
}

impl Op for CountEqual {
    fn name(&self) -> StaticName {
        "CountEqual".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{} values", self.len)])
    }

    op_as_typed_op!();
}

impl EvalOp for CountEqual {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        // tract's op before may have run an AVX kernel on this thread.
        super::clear_upper_vector_state();
        let x = x.try_as_plain_ram()?;
        let counts = self.count(x.as_slice::<f32>()?);
        Ok(tvec!(Tensor::from_shape(&self.shape, &counts)?.into_tvalue()))
    }
}

impl TypedOp for CountEqual {
    as_op!();

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.shape)))
    }
}

/// Replaces each `Equal(x, constant values)` -> `Cast` to f32 -> `ReduceSum` over every axis
/// along which x varies and the values do not, with [`CountEqual`] of x. Each intermediate
/// must be read by the next alone. Returns how many it replaced.
pub fn swap_histograms(model: &mut TypedModel) -> TractResult<usize> {
    let mut swapped = 0;
    let ids: Vec<usize> = model.nodes().iter().filter(|n| n.op_is::<TypedBinOp>()).map(|n| n.id).collect();
    for id in ids {
        let Some(found) = histogram_at(model, id)? else { continue };
        let name = format!("{}.count_equal", model.node(id).name);
        let op = CountEqual::new(&found.values, &found.shape);
        super::passes::replace_with(model, name, op, &[found.x], found.sum)?;
        swapped += 1;
    }
    if swapped > 0 {
        *model = model.clone().into_compact()?;
    }
    Ok(swapped)
}

/// A histogram found in a model: what is counted, against which values, into which shape,
/// and the outlet of the sum the count replaces.
struct Found {
    x: OutletId,
    values: Vec<f32>,
    shape: Vec<usize>,
    sum: OutletId,
}

/// Where node `id` starts the histogram pattern.
fn histogram_at(model: &TypedModel, id: usize) -> TractResult<Option<Found>> {
    let node = model.node(id);
    let Some(eq) = node.op_as::<TypedBinOp>() else { return Ok(None) };
    if !eq.0.is::<CompEq>() || node.inputs.len() != 2 {
        return Ok(None);
    }
    let facts = [model.outlet_fact(node.inputs[0])?, model.outlet_fact(node.inputs[1])?];
    // One side constant, the other not.
    let (x, k) = match (&facts[0].konst, &facts[1].konst) {
        (None, Some(k)) => (0, k.clone()),
        (Some(k), None) => (1, k.clone()),
        _ => return Ok(None),
    };
    let x_fact = facts[x];
    let (Some(xs), ks) = (x_fact.shape.as_concrete(), k.shape()) else { return Ok(None) };
    if x_fact.datum_type != DatumType::F32 || k.datum_type() != DatumType::F32 || xs.len() != ks.len() {
        return Ok(None);
    }
    // An outer product: no axis along which both vary.
    if xs.iter().zip(ks).any(|(&a, &b)| a > 1 && b > 1) {
        return Ok(None);
    }
    let eq_out = OutletId::new(id, 0);
    let Some(cast) = super::deconv::only_successor(model, eq_out) else { return Ok(None) };
    if cast.op_as::<Cast>().is_none_or(|c| c.to != DatumType::F32) {
        return Ok(None);
    }
    let Some(sum) = super::deconv::only_successor(model, OutletId::new(cast.id, 0)) else { return Ok(None) };
    let Some(reduce) = sum.op_as::<Reduce>() else { return Ok(None) };
    // Summed over every axis x varies along (and only where the values do not vary).
    let summed = |axis: usize| reduce.axes.contains(&axis);
    if reduce.reducer != Reducer::Sum
        || (0..xs.len()).any(|a| (xs[a] > 1 && !summed(a)) || (ks[a] > 1 && summed(a)))
    {
        return Ok(None);
    }
    let out = OutletId::new(sum.id, 0);
    let Some(shape) = model.outlet_fact(out)?.shape.as_concrete().map(|s| s.to_vec()) else {
        return Ok(None);
    };
    if shape.iter().product::<usize>() != k.len() {
        return Ok(None);
    }
    let values = k.cast_to::<f32>()?.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    Ok(Some(Found { x: node.inputs[x], values, shape, sum: out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_equal_cast_and_sum() {
        // A 1x1x6x7 picture of levels 0..5 (and a NaN) against values 0..7 given as a 1x8x1x1
        // constant, some absent, one repeated: the pattern the gate's histogram is made of.
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, 1, 6, 7])).unwrap();
        let values = [0.0f32, 1.0, 2.0, 3.0, 4.0, 9.0, 2.0, -0.0];
        let k = model.add_const("values", Tensor::from_shape(&[1, 8, 1, 1], &values).unwrap()).unwrap();
        let eq =
            model.wire_node("eq", TypedBinOp(tract_core::ops::logic::comp_eq(), None), &[x, k]).unwrap()[0];
        let f = model.wire_node("cast", Cast { to: DatumType::F32 }, &[eq]).unwrap()[0];
        let sum = Reduce { axes: tvec![2, 3], reducer: Reducer::Sum };
        let s = model.wire_node("sum", sum, &[f]).unwrap()[0];
        model.select_output_outlets(&[s]).unwrap();
        let mut input: Vec<f32> = (0..42).map(|i| ((i * 5) % 6) as f32).collect();
        input[11] = f32::NAN;
        let run = |m: &TypedModel| super::super::passes::run_f32(m, &[1, 1, 6, 7], &input).remove(0);
        let before = run(&model);
        assert_eq!(swap_histograms(&mut model).unwrap(), 1);
        assert!(model.nodes().iter().any(|n| n.op_is::<CountEqual>()));
        assert_eq!(run(&model), before);
        assert_eq!(before.0, [1, 8, 1, 1]);
        // By hand: level 0 appears 7 times, 2 (listed twice) 7 times in each place, 9 never.
        let count = |v: f32| input.iter().filter(|&&x| x == v).count() as f32;
        assert_eq!(before.1, values.map(count).to_vec());
    }
}
