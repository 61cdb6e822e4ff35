//! Glue between dfdx's `Cpu` tensors and the slice kernels: reading tensors in place and
//! borrowing gradients inside backward operations, without copying either.

use std::borrow::Cow;

use dfdx::prelude::*;

use crate::Element;

/// A tensor's elements in logical (row-major) order: its own buffer when the tensor is
/// contiguous (every tensor our ops and layers make), else a gathered copy (broadcast or
/// permuted views).
pub(crate) fn elements<S: Shape, E: Element, T>(t: &Tensor<S, E, Cpu, T>) -> Cow<'_, [E]> {
    if t.is_contiguous() {
        Cow::Borrowed(buffer(t.storage()))
    } else {
        Cow::Owned(t.as_vec())
    }
}

/// The slice inside a `Cpu` buffer (see [`grad_vec`] for why this is a function).
pub(crate) fn buffer<E: Element>(v: &<Cpu as Storage<E>>::Vec) -> &[E] {
    v
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

/// The vendored dfdx's storage patches (vendor/dfdx/PATCHES.md), as the kernels rely on them.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_tensors_are_read_in_place() {
        let dev = Cpu::default();
        let t = dev.tensor([[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert!(t.is_contiguous());
        let read = elements(&t);
        assert!(matches!(read, Cow::Borrowed(_)));
        assert_eq!(read.as_ptr(), t.storage().as_ptr());
        assert_eq!(&*read, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn views_are_gathered_in_logical_order() {
        let dev = Cpu::default();
        let t = dev.tensor([[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        let transposed = t.clone().permute::<Rank2<3, 2>, _>();
        assert!(!transposed.is_contiguous());
        assert_eq!(&*elements(&transposed), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let row = dev.tensor([1.0f32, 2.0]);
        let broadcast: Tensor<Rank2<3, 2>, f32, Cpu> = row.broadcast();
        assert!(!broadcast.is_contiguous());
        assert_eq!(&*elements(&broadcast), &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn tensors_wrap_buffers_without_copying() {
        let dev = Cpu::default();
        let buf: <Cpu as Storage<f32>>::Vec = dev.try_alloc_len(6).unwrap();
        let at = buf.as_ptr();
        let t = Tensor::from_storage(&dev, buf, (2usize, 3usize)).unwrap();
        assert_eq!(t.storage().as_ptr(), at);
        assert_eq!(t.shape().concrete(), [2, 3]);
        assert_eq!(t.as_vec(), vec![0.0f32; 6]);
        let short: <Cpu as Storage<f32>>::Vec = dev.try_alloc_len(5).unwrap();
        assert!(Tensor::<_, f32, _>::from_storage(&dev, short, (2usize, 3usize)).is_none());
    }

    #[test]
    fn writes_never_show_through_a_shared_buffer() {
        let dev = Cpu::default();
        let mut a = dev.tensor([1.0f64, 2.0]);
        let b = a.clone();
        buffer_mut(a.storage_mut())[0] = 9.0;
        assert_eq!(a.as_vec(), vec![9.0, 2.0]);
        assert_eq!(b.as_vec(), vec![1.0, 2.0]);
        let at = a.storage().as_ptr();
        buffer_mut(a.storage_mut())[1] = 8.0;
        assert_eq!(
            a.storage().as_ptr(),
            at,
            "an unshared buffer is written in place"
        );
    }

    fn buffer_mut<E: Element>(v: &mut <Cpu as Storage<E>>::Vec) -> &mut [E] {
        v
    }
}
