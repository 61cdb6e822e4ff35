use dfdx::prelude::*;

use crate::ops::geometry::{Conv2dSpec, ConvGeometry};
use crate::ops::pipeline::{DynMap, DynVec};
use crate::Element;

/// For every output position, channel and kernel offset (in that order), the row of the
/// (C·H·W + 1)-row input matrix it reads; row C·H·W is all zeros and stands for padding.
fn patch_rows(g: &ConvGeometry) -> Vec<usize> {
    let zero_row = g.in_channels * g.in_area();
    let mut rows = Vec::with_capacity(g.out_area() * g.in_channels * g.kernel_area());
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            for c in 0..g.in_channels {
                for ky in 0..g.kernel_h {
                    for kx in 0..g.kernel_w {
                        rows.push(match g.source(oy, ox, ky, kx) {
                            Some((iy, ix)) => c * g.in_area() + iy * g.in_w + ix,
                            None => zero_row,
                        });
                    }
                }
            }
        }
    }
    rows
}

/// `act(w ⋆ x + b)` as gather (im2col) + batched matmul per group, on any device.
pub fn conv2d<E, D, T>(
    x: DynMap<E, D, T>,
    weight: &DynMap<E, D>,
    bias: Option<&DynVec<E, D>>,
    spec: Conv2dSpec,
) -> Result<DynMap<E, D, T>, D::Err>
where
    E: Element,
    D: Device<E>,
    T: Tape<E, D>,
{
    let g = ConvGeometry::new(x.shape().concrete(), weight.shape().concrete(), spec);
    let out_shape = (g.batch, g.out_channels, g.out_h, g.out_w);
    let dev = x.device().clone();
    let (b, p) = (g.batch, g.out_area());
    let (groups, group_rows, group_out) = (g.groups, g.group_in() * g.kernel_area(), g.group_out());

    // (B, C, H, W) -> rows of pixels, one column per image, plus a zero row for the padding
    let pixels = x
        .try_permute::<_, Axes4<1, 2, 3, 0>>()?
        .try_reshape_like(&(g.in_channels * g.in_area(), b))?;
    let zero_row: Tensor<(usize, usize), E, D> = dev.try_zeros_like(&(1, b))?;
    let pixels = (pixels, zero_row).try_concat_along(Axis::<0>)?;

    // im2col: (P·C·KH·KW, B) -> (G, B·P, Cg·KH·KW)
    let rows = patch_rows(&g);
    let n_rows = rows.len();
    let index = dev.try_tensor_from_vec(rows, (n_rows,))?;
    let cols = pixels
        .try_gather(index)?
        .try_reshape_like(&(p, groups, group_rows, b))?
        .try_permute::<_, Axes4<1, 3, 0, 2>>()?
        .try_reshape_like(&(groups, b * p, group_rows))?;

    // weights (F, Cg, KH, KW) -> (G, Cg·KH·KW, F/G)
    let kernels = weight
        .retaped::<T>()
        .try_reshape_like(&(groups, group_out, group_rows))?
        .try_permute::<_, Axes3<0, 2, 1>>()?;

    // (G, B·P, F/G) -> (B, F, OH, OW)
    let y = cols
        .try_matmul(kernels)?
        .try_reshape_like(&(groups, b, p, group_out))?
        .try_permute::<_, Axes4<1, 0, 3, 2>>()?
        .try_reshape_like(&out_shape)?;
    let y = match bias {
        Some(bias) => {
            let bias = bias
                .retaped::<T>()
                .try_broadcast_like::<_, Axes3<0, 2, 3>>(&out_shape)?;
            y.try_add(bias)?
        }
        None => y,
    };
    if spec.relu {
        y.try_relu()
    } else {
        Ok(y)
    }
}
