//! Hand-written CPU kernels, registered on dfdx's tape with their own backward passes.

pub mod batch_norm;
pub(crate) mod buffer_pool;
pub mod conv2d;
mod depthwise;
mod direct_conv;
pub mod elementwise;
pub mod fused;
pub(crate) mod gemm;
pub mod kernels;
pub mod max_pool2d;
mod padded_grid;
mod shifted_conv;
pub(crate) mod simd;
mod tap_kernel;
pub(crate) mod tape;
pub(crate) mod transpose;
mod window;
mod winograd;

use dfdx::prelude::*;

/// Threads the CPU kernels use (rayon's global pool: `RAYON_NUM_THREADS`, else one per core).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

use self::max_pool2d::PoolGeometry;
use self::tape::{elements, put_grad, take_grad};
use crate::ops::geometry::{Conv2dSpec, ConvGeometry};
use crate::ops::pipeline::{DynMap, DynVec};
use crate::Element;

/// `act(w ⋆ x + b)` on `Cpu`.
pub fn conv2d<E: Element, T: Tape<E, Cpu>>(
    x: DynMap<E, Cpu, T>,
    weight: &DynMap<E, Cpu>,
    bias: Option<&DynVec<E, Cpu>>,
    spec: Conv2dSpec,
) -> Result<DynMap<E, Cpu, T>, CpuError> {
    let (x, mut tape) = x.split_tape();
    let g = ConvGeometry::new(x.shape().concrete(), weight.shape().concrete(), spec);
    let out_shape = (g.batch, g.out_channels, g.out_h, g.out_w);
    let mut y = vec![E::zero(); out_shape.num_elements()];
    E::conv2d_forward(
        &g,
        &elements(&x),
        &elements(weight),
        bias.map(elements).as_deref(),
        spec.relu,
        &mut y,
    );
    // The ReLU mask is the only part of the output the backward needs.
    let mask: Option<Vec<bool>> =
        (spec.relu && T::OWNS_TAPE).then(|| y.iter().map(|v| *v > E::zero()).collect());
    let out = x.device().tensor_from_vec(y, out_shape);
    if T::OWNS_TAPE {
        let (x_ghost, w_ghost, out_ghost) = (x.ghost(), weight.ghost(), out.ghost());
        let b_ghost = bias.map(|b| b.ghost());
        // clones share the buffers: the backward reads the forward's inputs in place
        let weight = weight.clone();
        tape.add_backward_op(move |grads| {
            let grad_y = take_grad!(grads, &out_ghost);
            let masked: Option<Vec<E>> = mask.as_ref().map(|m| {
                grad_y
                    .iter()
                    .zip(m)
                    .map(|(&d, &on)| if on { d } else { E::zero() })
                    .collect()
            });
            let mut grad_x = take_grad!(grads, &x_ghost);
            let mut grad_w = take_grad!(grads, &w_ghost);
            let mut grad_b = match &b_ghost {
                Some(b) => Some(take_grad!(grads, b)),
                None => None,
            };
            E::conv2d_backward(
                &g,
                &elements(&x),
                &elements(&weight),
                masked.as_deref().unwrap_or(&grad_y),
                Some(&mut grad_x),
                true,
                &mut grad_w,
                grad_b.as_deref_mut(),
            );
            put_grad!(grads, &x_ghost, grad_x);
            put_grad!(grads, &w_ghost, grad_w);
            if let (Some(b), Some(v)) = (&b_ghost, grad_b) {
                put_grad!(grads, b, v);
            }
            put_grad!(grads, &out_ghost, grad_y);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// `size`×`size` max pooling with stride `size` on `Cpu`.
pub fn max_pool2d<E: Element, T: Tape<E, Cpu>>(
    x: DynMap<E, Cpu, T>,
    size: usize,
) -> Result<DynMap<E, Cpu, T>, CpuError> {
    assert!(size > 0, "max_pool2d: window must be positive");
    let (x, mut tape) = x.split_tape();
    let [b, c, h, w] = x.shape().concrete();
    let g = PoolGeometry {
        planes: b * c,
        in_h: h,
        in_w: w,
        size,
    };
    let out_shape = (b, c, g.out_h(), g.out_w());
    let mut y = vec![E::zero(); out_shape.num_elements()];
    let mut argmax = vec![0u32; y.len()];
    E::max_pool2d_forward(&g, &elements(&x), &mut y, &mut argmax);
    let out = x.device().tensor_from_vec(y, out_shape);
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let grad_y = take_grad!(grads, &out_ghost);
            let mut grad_x = take_grad!(grads, &x_ghost);
            E::max_pool2d_backward(&g, &argmax, &grad_y, true, &mut grad_x);
            put_grad!(grads, &x_ghost, grad_x);
            put_grad!(grads, &out_ghost, grad_y);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
