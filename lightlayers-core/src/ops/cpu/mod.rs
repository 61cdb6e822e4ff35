//! Hand-written CPU kernels, registered on dfdx's tape with their own backward passes.

pub mod batch_norm;
pub mod conv2d;
mod direct_conv;
pub mod elementwise;
pub(crate) mod gemm;
pub mod kernels;
pub mod max_pool2d;
pub mod pipeline;
pub(crate) mod pool;
pub(crate) mod simd;
pub(crate) mod tape;
pub(crate) mod transpose;
mod window;

use dfdx::prelude::*;

/// Threads the CPU kernels use (rayon's global pool: `RAYON_NUM_THREADS`, else one per core).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

use self::max_pool2d::PoolGeometry;
use self::tape::{put_grad, read, take_grad};
use crate::ops::geometry::{Conv2dSpec, ConvGeometry};
use crate::Element;

/// `act(w ⋆ x + b)` on `Cpu`.
#[allow(clippy::type_complexity)]
pub fn conv2d<B, Ci, H, W, Co, Cg, Kh, Kw, Ho, Wo, E, T>(
    x: Tensor<(B, Ci, H, W), E, Cpu, T>,
    weight: &Tensor<(Co, Cg, Kh, Kw), E, Cpu>,
    bias: Option<&Tensor<(Co,), E, Cpu>>,
    spec: Conv2dSpec,
) -> Result<Tensor<(B, Co, Ho, Wo), E, Cpu, T>, CpuError>
where
    B: Dim,
    Ci: Dim,
    H: Dim,
    W: Dim,
    Co: Dim,
    Cg: Dim,
    Kh: Dim,
    Kw: Dim,
    Ho: Dim,
    Wo: Dim,
    E: Element,
    T: Tape<E, Cpu>,
{
    let (x, mut tape) = x.split_tape();
    let g = ConvGeometry::new(x.shape().concrete(), weight.shape().concrete(), spec);
    let out_shape = (
        x.shape().0,
        weight.shape().0,
        Ho::from_size(g.out_h).expect("conv2d: output height does not match the requested type"),
        Wo::from_size(g.out_w).expect("conv2d: output width does not match the requested type"),
    );
    let x_data = read(&x);
    let w_data = read(weight);
    let b_data = bias.map(read);
    let mut y = vec![E::zero(); out_shape.num_elements()];
    E::conv2d_forward(&g, &x_data, &w_data, b_data.as_deref(), spec.relu, &mut y);
    // The ReLU mask is the only part of the output the backward needs.
    let mask: Option<Vec<bool>> =
        (spec.relu && T::OWNS_TAPE).then(|| y.iter().map(|v| *v > E::zero()).collect());
    let out = x.device().tensor_from_vec(y, out_shape);
    if T::OWNS_TAPE {
        let (x_ghost, w_ghost, out_ghost) = (x.ghost(), weight.ghost(), out.ghost());
        let b_ghost = bias.map(|b| b.ghost());
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
                &x_data,
                &w_data,
                masked.as_deref().unwrap_or(&grad_y),
                Some(&mut grad_x),
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
pub fn max_pool2d<B, C, H, W, Ho, Wo, E, T>(
    x: Tensor<(B, C, H, W), E, Cpu, T>,
    size: usize,
) -> Result<Tensor<(B, C, Ho, Wo), E, Cpu, T>, CpuError>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    Ho: Dim,
    Wo: Dim,
    E: Element,
    T: Tape<E, Cpu>,
{
    assert!(size > 0, "max_pool2d: window must be positive");
    let (x, mut tape) = x.split_tape();
    let [b, c, h, w] = x.shape().concrete();
    let g = PoolGeometry {
        planes: b * c,
        in_h: h,
        in_w: w,
        size,
    };
    let out_shape = (
        x.shape().0,
        x.shape().1,
        Ho::from_size(g.out_h())
            .expect("max_pool2d: output height does not match the requested type"),
        Wo::from_size(g.out_w())
            .expect("max_pool2d: output width does not match the requested type"),
    );
    let x_data = read(&x);
    let mut y = vec![E::zero(); out_shape.num_elements()];
    let mut argmax = vec![0u32; y.len()];
    E::max_pool2d_forward(&g, &x_data, &mut y, &mut argmax);
    drop(x_data);
    let out = x.device().tensor_from_vec(y, out_shape);
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let grad_y = take_grad!(grads, &out_ghost);
            let mut grad_x = take_grad!(grads, &x_ghost);
            E::max_pool2d_backward(&g, &argmax, &grad_y, &mut grad_x);
            put_grad!(grads, &x_ghost, grad_x);
            put_grad!(grads, &out_ghost, grad_y);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
