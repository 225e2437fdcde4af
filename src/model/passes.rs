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
