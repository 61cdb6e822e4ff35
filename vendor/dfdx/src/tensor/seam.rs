//! lightlayers patch (see PATCHES.md): the access that operations written outside dfdx need to
//! run on dfdx tensors without copying them — a tensor's storage buffer, building a tensor
//! from such a buffer, and the `Cuda` device's driver and cuBLAS handles (its buffers already
//! deref to `cudarc::driver::CudaSlice`).
//!
//! Everything here is additive: no dfdx item changes behaviour.

use std::sync::Arc;

use super::{unique_id, NoneTape, Storage, Tensor, UniqueId};
use crate::shapes::Shape;

impl<S: Shape, E, D: Storage<E>, T> Tensor<S, E, D, T> {
    /// The buffer behind this tensor: a `Vec<E>` (through `Deref`) on `Cpu`, a
    /// `cudarc::driver::CudaSlice<E>` (through `Deref`) on `Cuda`.
    ///
    /// Elements are in the order given by the tensor's strides, which is row-major order
    /// exactly when [`Tensor::is_contiguous`] holds; broadcast and permuted views share a
    /// buffer laid out for another shape.
    pub fn storage(&self) -> &D::Vec {
        &self.data
    }

    /// The buffer behind this tensor, for writing. The buffer may be shared with clones of the
    /// tensor (including those a tape holds for the backward pass); it is then copied first,
    /// so a write never shows through another tensor.
    pub fn storage_mut(&mut self) -> &mut D::Vec {
        Arc::make_mut(&mut self.data)
    }

    /// The id the tensor's gradients are kept under (what `Gradients::retain_leafs` takes).
    pub fn id(&self) -> UniqueId {
        self.id
    }

    /// Whether the buffer holds exactly this tensor's elements in row-major order (no
    /// broadcast or permuted strides), so that [`Tensor::storage`] can be read as a plain
    /// array of the tensor's shape.
    pub fn is_contiguous(&self) -> bool {
        self.strides == self.shape.strides() && self.device.len(&self.data) == self.shape.num_elements()
    }
}

impl<S: Shape, E, D: Storage<E>> Tensor<S, E, D, NoneTape> {
    /// A tensor of shape `shape` over `storage`, without copying it: the inverse of
    /// [`Tensor::storage`] for contiguous tensors. `None` when the buffer's length is not the
    /// shape's number of elements.
    ///
    /// Buffers from `Storage::try_alloc_len` come from the device's tensor cache when it is
    /// enabled, so a loop that allocates, wraps and drops the same sizes reuses memory.
    pub fn from_storage(device: &D, storage: D::Vec, shape: S) -> Option<Self> {
        if device.len(&storage) != shape.num_elements() {
            return None;
        }
        Some(Tensor {
            id: unique_id(),
            data: Arc::new(storage),
            shape,
            strides: shape.strides(),
            device: device.clone(),
            tape: Default::default(),
        })
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use std::sync::Arc;

    use cudarc::cublas::CudaBlas;
    use cudarc::driver::CudaDevice;

    use crate::tensor::cuda::Cuda;

    impl Cuda {
        /// The cudarc device (context, default stream, module loading, allocation) that this
        /// device runs on. Kernels launched on its default stream are ordered with dfdx's own.
        pub fn cuda_device(&self) -> &Arc<CudaDevice> {
            &self.dev
        }

        /// The cuBLAS handle dfdx uses, bound to [`Cuda::cuda_device`]'s default stream.
        pub fn cuda_blas(&self) -> &Arc<CudaBlas> {
            &self.blas
        }
    }
}
