use dfdx::prelude::*;

use crate::ops::pipeline::DynMap;
use crate::Element;

/// `size`×`size` max pooling with stride `size` (floor) from dfdx ops, on any device.
///
/// The window's elements are compared one by one in reading order and a strictly greater value
/// replaces the current maximum, so the gradient goes to the first maximum of a tie, exactly as
/// the CPU kernel (and TensorFlow) route it. Ties are common: where a LightConv's hidden
/// channels are all zero, its output is constant over the region.
pub fn max_pool2d<E, D, T>(x: DynMap<E, D, T>, size: usize) -> Result<DynMap<E, D, T>, D::Err>
where
    E: Element,
    D: Device<E>,
    T: Tape<E, D>,
{
    assert!(size > 0, "max_pool2d: window must be positive");
    let [b, c, h, w] = x.shape().concrete();
    let (oh, ow) = (h / size, w / size);
    let out_shape = (b, c, oh, ow);
    // dfdx 0.13's CPU slice backward overwrites (rather than adds to) its input's gradient;
    // slicing a private copy keeps the gradients of x's other consumers
    let windows = x
        .try_add(E::zero())?
        .try_slice((.., .., 0..oh * size, 0..ow * size))?
        .try_reshape_like(&(b, c, oh, size, ow, size))?;
    let offsets: Vec<(usize, usize)> = (0..size)
        .flat_map(|dy| (0..size).map(move |dx| (dy, dx)))
        .collect();
    let element = |t: Tensor<_, E, D, T>, (dy, dx): (usize, usize)| {
        t.try_slice((.., .., .., dy..dy + 1, .., dx..dx + 1))?
            .try_reshape_like(&(b, c, oh, ow))
    };
    type Plane<E, D, T> = Tensor<(usize, usize, usize, usize), E, D, T>;
    let keep_first_max =
        |best: Option<Plane<E, D, T>>, candidate: Plane<E, D, T>| -> Result<_, D::Err> {
            Ok(Some(match best {
                None => candidate,
                Some(current) => {
                    let greater = candidate
                        .retaped::<NoneTape>()
                        .try_gt(&current.retaped::<NoneTape>())?;
                    greater.try_choose(candidate, current)?
                }
            }))
        };
    let (last, rest) = offsets
        .split_last()
        .expect("a window has at least one element");
    let mut best = None;
    for &offset in rest {
        // each of these starts a tape of its own; choose() merges them with the input's
        best = keep_first_max(best, element(windows.with_empty_tape(), offset)?)?;
    }
    let best = keep_first_max(best, element(windows, *last)?)?;
    best.expect("a window has at least one element")
        .try_reshape_like(&out_shape)
}
