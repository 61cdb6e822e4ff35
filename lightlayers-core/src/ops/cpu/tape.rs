//! Glue between dfdx's `Cpu` tensors and the slice kernels: reading tensors, making outputs,
//! and borrowing gradients inside backward operations without copying them.

use dfdx::prelude::*;

use crate::Element;

/// The elements of a tensor in logical (row-major) order.
///
/// dfdx keeps `Cpu` data private, so this is one copy; the kernels then work on plain slices.
pub(crate) fn read<S: Shape, E: Element, T>(t: &Tensor<S, E, Cpu, T>) -> Vec<E> {
    // `copy_into` copies the raw buffer, which is only the logical order when the tensor is
    // contiguous; broadcast or permuted views go through dfdx's strided iterator instead.
    let t = t.retaped::<NoneTape>().contiguous();
    let mut out = vec![E::zero(); t.shape().num_elements()];
    t.copy_into(&mut out);
    out
}

/// The `Vec` inside a `Cpu` gradient buffer.
///
/// A function of its own because inside code bounded by `Cpu: Device<E>` the compiler does
/// not see that `<Cpu as Storage<E>>::Vec` is dfdx's `CachableVec<E>` (which derefs to
/// `Vec<E>`); here, without that bound, it does.
pub(crate) fn grad_vec<E: Element>(v: &mut <Cpu as Storage<E>>::Vec) -> &mut Vec<E> {
    v
}

/// Moves a tensor's gradient buffer out of dfdx's `Gradients` (allocating zeros if it has none),
/// leaving an empty buffer in its place; [`put_grad!`] puts it back. This lets a backward
/// operation hold several gradients at once, mutably, without copies.
///
/// A macro rather than a function because dfdx's ghost tensors cannot be named outside dfdx.
macro_rules! take_grad {
    ($grads:expr, $tensor:expr) => {
        std::mem::take($crate::ops::cpu::tape::grad_vec(
            $grads.get_or_alloc_mut($tensor)?,
        ))
    };
}

/// Puts back a gradient buffer taken with [`take_grad!`].
macro_rules! put_grad {
    ($grads:expr, $tensor:expr, $value:expr) => {
        *$crate::ops::cpu::tape::grad_vec($grads.get_or_alloc_mut($tensor)?) = $value
    };
}

pub(crate) use {put_grad, take_grad};
