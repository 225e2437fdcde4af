//! Model passes of our own, run on tract's typed model between loading and tract's declutter
//! and optimisation: each works around a place where tract 0.23.9 fails or is slow on the
//! generators a booth runs, through tract's public API only, and says what an upstream fix
//! would be.

use tract_onnx::prelude::*;

/// Removes `Pad` nodes that pad nothing (every axis `(0, 0)`): they are identities.
///
/// PyTorch exports `nn.ReflectionPad2d(0)` (AnimeGANv2's 1x1 convolutions) as such a Pad, and
/// in a QDQ-quantized model it sits between a DequantizeLinear and a QuantizeLinear. tract's
/// `DequantizeLinearF32::declutter` folds the element-wise ops of such a chain into a lookup
/// table by running them on a rank-1 tensor of the 256 possible values; an all-zero Pad's
/// axes mapping links every axis, so it passes for element-wise, and its `output_facts` then
/// fails on the rank-1 input: "Pad: Inconsistent pad: input of rank 1", and the model does not
/// load. Upstream, the same Pad's own declutter already shunts it; running that first (or
/// not treating Pad as element-wise) would fix it there.
///
/// Returns how many Pads were removed.
pub fn drop_empty_pads(model: &mut TypedModel) -> TractResult<usize> {
    let empty: Vec<usize> = model
        .nodes()
        .iter()
        .filter(|n| {
            n.op_as::<tract_core::ops::array::Pad>()
                .is_some_and(|pad| pad.pads.iter().all(|&(before, after)| before == 0 && after == 0))
        })
        .map(|n| n.id)
        .collect();
    for &id in &empty {
        let patch = TypedModelPatch::shunt_one_op(model, model.node(id))?;
        match patch {
            Some(p) => p.apply(model)?,
            None => {
                return Err(TractError::msg(format!(
                    "Pad node #{id} pads nothing but could not be bypassed"
                )));
            }
        }
    }
    if !empty.is_empty() {
        *model = model.clone().into_compact()?;
    }
    Ok(empty.len())
}

/// Unrolls each `Reduce` by Min or Max over one short axis (2 to 8 long) into element-wise
/// Min or Max ops over its slices: the same values, and the result keeps the reduced axis at
/// length 1, as the `Reduce` did.
///
/// tract 0.23.9 reduces an axis that is not the innermost one output element at a time: the
/// gate's saturation statistic, the max and the min of the 3 colour channels of a 256x256
/// picture, took 14 ms each, three quarters of the gate; as slices and one vectorised
/// element-wise op each it is a fraction of a millisecond. Upstream, `Reduce`'s declutter could
/// do the same for short axes, or its kernel could reduce whole rows at a time.
///
/// Returns how many were unrolled.
pub fn unroll_short_reduces(model: &mut TypedModel) -> TractResult<usize> {
    use tract_core::ops::array::Slice;
    use tract_core::ops::nn::{Reduce, Reducer};
    let mut unrolled = 0;
    let ids: Vec<usize> = model.nodes().iter().filter(|n| n.op_is::<Reduce>()).map(|n| n.id).collect();
    for id in ids {
        let node = model.node(id);
        let reduce = node.op_as::<Reduce>().expect("a Reduce");
        let bin = match reduce.reducer {
            Reducer::Min => tract_core::ops::math::min,
            Reducer::Max => tract_core::ops::math::max,
            _ => continue,
        };
        let fact = model.outlet_fact(node.inputs[0])?;
        let [axis] = reduce.axes[..] else { continue };
        let Some(len) = fact.shape.as_concrete().and_then(|s| s.get(axis).copied()) else { continue };
        if !(2..=8).contains(&len) || !fact.datum_type.is_float() {
            continue;
        }
        let mut patch = TypedModelPatch::default();
        let x = patch.tap_model(model, node.inputs[0])?;
        let mut acc = None;
        for i in 0..len {
            let slice = Slice { axis, start: i.to_dim(), end: (i + 1).to_dim() };
            let part = patch.wire_node(format!("{}.slice{i}", node.name), slice, &[x])?[0];
            acc = Some(match acc {
                None => part,
                Some(a) => patch.wire_node(format!("{}.fold{i}", node.name), bin(), &[a, part])?[0],
            });
        }
        patch.shunt_outside(model, OutletId::new(id, 0), acc.expect("at least 2 slices"))?;
        patch.apply(model)?;
        unrolled += 1;
    }
    if unrolled > 0 {
        *model = model.clone().into_compact()?;
    }
    Ok(unrolled)
}

/// Wires `op` over `inputs` (outlets of `model`) as a node named `name`, and makes what read
/// `replaced` read its output instead: how our own ops take the place of tract's nodes. The
/// nodes left unread go at the next `into_compact`.
pub fn replace_with(
    model: &mut TypedModel,
    name: String,
    op: impl Into<Box<dyn TypedOp>>,
    inputs: &[OutletId],
    replaced: OutletId,
) -> TractResult<()> {
    let mut patch = TypedModelPatch::default();
    let taps = inputs.iter().map(|&i| patch.tap_model(model, i)).collect::<TractResult<TVec<_>>>()?;
    let y = patch.wire_node(name, op, &taps)?;
    patch.shunt_outside(model, replaced, y[0])?;
    patch.apply(model)
}

/// Runs `model` on one f32 input of `shape`: each output's shape and values (tests of passes
/// and ops, before and after them).
#[cfg(test)]
pub(super) fn run_f32(model: &TypedModel, shape: &[usize], input: &[f32]) -> Vec<(Vec<usize>, Vec<f32>)> {
    let plan = model.clone().into_runnable().unwrap();
    let out = plan.run(tvec!(Tensor::from_shape(shape, input).unwrap().into_tvalue())).unwrap();
    out.iter()
        .map(|t| (t.shape().to_vec(), t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_core::ops::nn::{Reduce, Reducer};

    #[test]
    fn min_and_max_over_a_short_axis_unroll_to_the_same_values() {
        // A 1x3x4x5 picture; min over its channels, max over its 4 rows, and a sum (kept).
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, 3, 4, 5])).unwrap();
        let reduce = |reducer, axis| Reduce { axes: tvec![axis], reducer };
        let a = model.wire_node("min", reduce(Reducer::Min, 1), &[x]).unwrap()[0];
        let b = model.wire_node("max", reduce(Reducer::Max, 2), &[x]).unwrap()[0];
        let c = model.wire_node("sum", reduce(Reducer::Sum, 1), &[x]).unwrap()[0];
        model.select_output_outlets(&[a, b, c]).unwrap();
        let input: Vec<f32> = (0..60).map(|i| ((i * 37) % 23) as f32 - 11.5).collect();
        let run = |m: &TypedModel| run_f32(m, &[1, 3, 4, 5], &input);
        let before = run(&model);
        assert_eq!(unroll_short_reduces(&mut model).unwrap(), 2);
        assert_eq!(model.nodes().iter().filter(|n| n.op_is::<Reduce>()).count(), 1, "the sum stays");
        assert_eq!(run(&model), before);
        // And by hand: the min over channels of pixel (row 2, column 3).
        let at = |ch: usize| input[ch * 20 + 2 * 5 + 3];
        assert_eq!(before[0].1[13], at(0).min(at(1)).min(at(2)));
        assert_eq!(before[0].0, [1, 1, 4, 5]);
    }
}
