use dfdx::prelude::*;

use crate::ops::pipeline::{BnMode, DynMap};
use crate::ops::Backend;
use crate::Element;

/// Batch norm of NCHW feature maps from dfdx ops: batch statistics (and a moving-statistics
/// update) in training mode, moving statistics in inference mode; optional ReLU.
pub fn batch_norm<E: Element, D: Backend<E>, T: Tape<E, D>>(
    x: DynMap<E, D, T>,
    mode: &mut BnMode<'_, E, D>,
    relu: bool,
) -> Result<DynMap<E, D, T>, D::Err> {
    let shape = *x.shape();
    let y = match mode {
        BnMode::Train(bn, unbiased) => {
            let p = bn.params();
            let n = (shape.0 * shape.2 * shape.3) as f64;
            let mean = x.retaped::<T>().try_mean::<(usize,), Axes3<0, 2, 3>>()?;
            let (mut running_mean, mut running_var) =
                (p.running_mean.clone(), p.running_var.clone());
            running_mean.try_axpy(p.momentum, &mean, 1.0 - p.momentum)?;
            // `mean` goes into the graph with its tape, so the gradient flows through it
            let centered = x.try_sub(mean.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?)?;
            let var = centered
                .retaped::<T>()
                .try_square()?
                .try_mean::<(usize,), Axes3<0, 2, 3>>()?;
            let correction = if *unbiased && n > 1.0 {
                n / (n - 1.0)
            } else {
                1.0
            };
            running_var.try_axpy(p.momentum, &var, (1.0 - p.momentum) * correction)?;
            bn.set_running(running_mean, running_var)?;
            let std = var.try_add(E::of(p.epsilon))?.try_sqrt()?;
            let scale = p
                .scale
                .retaped::<T>()
                .try_div(std)?
                .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
            let bias = p
                .bias
                .retaped::<T>()
                .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
            centered.try_mul(scale)?.try_add(bias)?
        }
        BnMode::Infer(bn) => {
            let p = bn.params();
            let std = p
                .running_var
                .clone()
                .try_add(E::of(p.epsilon))?
                .try_sqrt()?;
            let scale = p
                .scale
                .retaped::<T>()
                .try_div(std)?
                .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
            let mean = p
                .running_mean
                .clone()
                .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
            let bias = p
                .bias
                .retaped::<T>()
                .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
            x.try_sub(mean)?.try_mul(scale)?.try_add(bias)?
        }
    };
    if relu {
        y.try_relu()
    } else {
        Ok(y)
    }
}
