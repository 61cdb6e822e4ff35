use dfdx::prelude::*;

use crate::Element;

/// `size`×`size` max pooling with stride `size` (floor) as slice + reshape + max, on any
/// device. Unlike the CPU kernel, dfdx's `max` sends the gradient to every tied maximum.
pub fn max_pool2d<B, C, H, W, Ho, Wo, E, D, T>(
    x: Tensor<(B, C, H, W), E, D, T>,
    size: usize,
) -> Result<Tensor<(B, C, Ho, Wo), E, D, T>, D::Err>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    Ho: Dim,
    Wo: Dim,
    E: Element,
    D: Device<E>,
    T: Tape<E, D>,
{
    assert!(size > 0, "max_pool2d: window must be positive");
    let [b, c, h, w] = x.shape().concrete();
    let (oh, ow) = (h / size, w / size);
    let out_shape = (
        x.shape().0,
        x.shape().1,
        Ho::from_size(oh).expect("max_pool2d: output height does not match the requested type"),
        Wo::from_size(ow).expect("max_pool2d: output width does not match the requested type"),
    );
    let windows = x
        .try_slice((.., .., 0..oh * size, 0..ow * size))?
        .try_reshape_like(&(b, c, oh, size, ow, size))?;
    windows
        .try_max::<(usize, usize, usize, usize), Axes2<3, 5>>()?
        .try_reshape_like(&out_shape)
}
