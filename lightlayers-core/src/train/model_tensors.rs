//! A model's tensors and scalars, handed one by one to a plain callback with their shapes'
//! types erased.
//!
//! dfdx reaches a model's tensors through a visitor, and compiles its walk over the model's
//! nested tuples anew for every pair of model type and visitor type. Each use (Adam's update,
//! its fit check, zeroing gradients, saving and loading weights, finding the device) as a
//! visitor of its own made that walk most of the code compiled for every network a program
//! trains. Here two walks (shared and mutable) are compiled per model type; the uses are
//! plain functions compiled once, and a tensor's few shape-specific operations
//! ([`ModelTensor`]) once per shape.

use dfdx::nn::tensor_collection::{
    RecursiveWalker, ScalarOptions, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
    ViewTensorName, ViewTensorRef,
};
use dfdx::prelude::*;
use dfdx::tensor::UniqueId;
use num_traits::NumCast;

use super::error::TrainError;
use crate::{Backend, Element};

/// What the uses need of one tensor of a model, whatever its shape.
pub(crate) trait ModelTensor<E: Element, D: Backend<E>> {
    /// Its dimensions.
    fn dims(&self) -> Vec<usize>;
    /// Its number of elements.
    fn len(&self) -> usize;
    /// The id its gradients are kept under.
    fn id(&self) -> UniqueId;
    /// The device it lives on.
    fn device(&self) -> &D;
    /// Its values in row-major order, copied to the host.
    fn to_host(&self) -> Vec<E>;
    /// Overwrites its values with `values`, which must be [`ModelTensor::len`] long.
    fn copy_from_host(&mut self, values: &[E]);
    /// Its gradient in `grads`, flattened; a zero one is allocated if it has none.
    fn flat_gradient(&self, grads: &mut Gradients<E, D>) -> Result<Tensor<(usize,), E, D>, D::Err>;
    /// Subtracts `step`, flattened as [`ModelTensor::flat_gradient`], in place (the tensor
    /// keeps its id, which its gradients are keyed by).
    fn subtract(&mut self, step: &Tensor<(usize,), E, D>) -> Result<(), D::Err>;
    /// Sets its gradient in `grads` to zeros, allocating it if needed.
    fn zero_gradient(&self, grads: &mut Gradients<E, D>) -> Result<(), D::Err>;
}

impl<S: Shape, E: Element, D: Backend<E>> ModelTensor<E, D> for Tensor<S, E, D> {
    fn dims(&self) -> Vec<usize> {
        self.shape().concrete().into_iter().collect()
    }

    fn len(&self) -> usize {
        self.shape().num_elements()
    }

    fn id(&self) -> UniqueId {
        Tensor::id(self)
    }

    fn device(&self) -> &D {
        Tensor::device(self)
    }

    fn to_host(&self) -> Vec<E> {
        self.as_vec()
    }

    fn copy_from_host(&mut self, values: &[E]) {
        self.copy_from(values);
    }

    fn flat_gradient(&self, grads: &mut Gradients<E, D>) -> Result<Tensor<(usize,), E, D>, D::Err> {
        grads.try_alloc_for(self)?;
        grads.get(self).try_reshape_like(&(self.len(),))
    }

    fn subtract(&mut self, step: &Tensor<(usize,), E, D>) -> Result<(), D::Err> {
        let step = step.clone().try_reshape_like(self.shape())?;
        self.try_axpy(1.0, &step, -1.0)
    }

    fn zero_gradient(&self, grads: &mut Gradients<E, D>) -> Result<(), D::Err> {
        let grad = grads.get_or_alloc_mut(self)?;
        Tensor::device(self).try_fill_with_zeros(grad)
    }
}

/// One entry of a model as a walk hands it over: a tensor (`T`, a shared or mutable
/// [`ModelTensor`]) or a scalar setting such as batch norm's ε (`N`, as `f64`).
pub(crate) enum Item<T, N> {
    /// A tensor; `trainable` when the optimizer updates it (batch norm's moving statistics
    /// are not).
    Tensor { trainable: bool, tensor: T },
    /// A scalar setting.
    Scalar(N),
}

/// What a shared walk hands over.
pub(crate) type ItemRef<'a, E, D> = Item<&'a dyn ModelTensor<E, D>, f64>;
/// What a mutable walk hands over.
pub(crate) type ItemMut<'a, E, D> = Item<&'a mut dyn ModelTensor<E, D>, &'a mut f64>;

/// Calls `f` with the path (`"0.conv.weight"`, as dfdx names it) and value of every tensor
/// and scalar of `model`, in dfdx's order; stops at its first error.
pub(crate) fn walk<M, E, D>(
    model: &M,
    f: &mut dyn FnMut(&str, ItemRef<'_, E, D>) -> Result<(), TrainError>,
) -> Result<(), TrainError>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut SharedWalk { f },
    })
    .map(drop)
}

/// [`walk`] with every tensor and scalar writable.
pub(crate) fn walk_mut<M, E, D>(
    model: &mut M,
    f: &mut dyn FnMut(&str, ItemMut<'_, E, D>) -> Result<(), TrainError>,
) -> Result<(), TrainError>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut MutableWalk { f },
    })
    .map(drop)
}

/// The device of a model's first tensor.
pub(crate) fn device_of<M, E, D>(model: &M) -> Result<D, TrainError>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    let mut device = None;
    walk(model, &mut |_, item| {
        if let (None, Item::Tensor { tensor, .. }) = (&device, item) {
            device = Some(tensor.device().clone());
        }
        Ok(())
    })?;
    device.ok_or(TrainError::InvalidConfig {
        name: "model",
        reason: "it holds no tensor, so no device to run on".to_string(),
    })
}

/// Zero gradients for the trainable tensors of `model`, the only ones a backward pass then
/// keeps (dfdx's `alloc_grads`).
pub(crate) fn new_gradients<M, E, D>(model: &M) -> Result<Gradients<E, D>, TrainError>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    let mut grads = Gradients::leaky();
    zero_gradients(model, &mut grads)?;
    Ok(grads)
}

/// Sets the gradients of the trainable tensors of `model` to zero and drops all others
/// (dfdx's `zero_grads`).
pub(crate) fn zero_gradients<M, E, D>(
    model: &M,
    grads: &mut Gradients<E, D>,
) -> Result<(), TrainError>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    let mut kept = Vec::new();
    walk(model, &mut |_, item| {
        if let Item::Tensor {
            trainable: true,
            tensor,
        } = item
        {
            tensor.zero_gradient(grads).map_err(TrainError::device)?;
            kept.push(tensor.id());
        }
        Ok(())
    })?;
    grads.retain_leafs(&kept);
    Ok(())
}

/// The visitor behind [`walk`].
struct SharedWalk<'f, E: Element, D: Backend<E>> {
    f: &'f mut dyn FnMut(&str, ItemRef<'_, E, D>) -> Result<(), TrainError>,
}

impl<E: Element, D: Backend<E>> TensorVisitor<E, D> for SharedWalk<'_, E, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = TrainError;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (tensor, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, TrainError> {
        let trainable = opts.do_gradient_update;
        (self.f)(&name, Item::Tensor { trainable, tensor })?;
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        (value, name): (&N, String),
    ) -> Result<Option<N>, TrainError> {
        (self.f)(&name, Item::Scalar(scalar_to_f64(value, &name)?))?;
        Ok(None)
    }
}

/// The visitor behind [`walk_mut`].
struct MutableWalk<'f, E: Element, D: Backend<E>> {
    f: &'f mut dyn FnMut(&str, ItemMut<'_, E, D>) -> Result<(), TrainError>,
}

impl<E: Element, D: Backend<E>> TensorVisitor<E, D> for MutableWalk<'_, E, D> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = TrainError;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (tensor, name): (&mut Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, TrainError> {
        let trainable = opts.do_gradient_update;
        (self.f)(&name, Item::Tensor { trainable, tensor })?;
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        (value, name): (&mut N, String),
    ) -> Result<Option<N>, TrainError> {
        let before = scalar_to_f64(&*value, &name)?;
        let mut after = before;
        (self.f)(&name, Item::Scalar(&mut after))?;
        if after.to_bits() != before.to_bits() {
            *value = N::from(after).ok_or_else(|| TrainError::InvalidConfig {
                name: "model scalar",
                reason: format!("{name} cannot hold {after}"),
            })?;
        }
        Ok(None)
    }
}

/// A scalar setting as `f64` (every float and integer converts).
fn scalar_to_f64<N: NumCast>(value: &N, name: &str) -> Result<f64, TrainError> {
    value.to_f64().ok_or_else(|| TrainError::InvalidConfig {
        name: "model scalar",
        reason: format!("{name} has no f64 value"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::builder::BatchNorm;

    type Dev = Cpu;
    type Model = (Linear<3, 2>, BatchNorm<2>);

    #[test]
    fn walks_name_every_tensor_and_scalar_in_dfdx_order() {
        let dev = Dev::seed_from_u64(0);
        let model = dev.build_module::<Model, f32>();
        let mut seen = Vec::new();
        walk(&model, &mut |name, item| {
            seen.push(match item {
                Item::Tensor { trainable, tensor } => {
                    format!("{name} {:?} {trainable}", tensor.dims())
                }
                Item::Scalar(v) => format!("{name} = {v}"),
            });
            Ok(())
        })
        .unwrap();
        let names: Vec<&str> = seen.iter().map(String::as_str).collect();
        assert_eq!(names[0], "0.weight [2, 3] true");
        assert_eq!(names[1], "0.bias [2] true");
        assert!(names.contains(&"1.running_mean [2] false"), "{names:?}");
        assert!(
            names.iter().any(|n| n.starts_with("1.epsilon = ")),
            "{names:?}"
        );
    }

    #[test]
    fn a_mutable_walk_writes_tensors_and_scalars() {
        let dev = Dev::seed_from_u64(0);
        let mut model = dev.build_module::<Model, f32>();
        walk_mut(&mut model, &mut |_, item| {
            match item {
                Item::Tensor { tensor, .. } => {
                    let n = tensor.len();
                    tensor.copy_from_host(&vec![7.0; n]);
                }
                Item::Scalar(v) => *v = 0.5,
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(model.0.weight.array(), [[7.0; 3]; 2]);
        walk(&model, &mut |name, item| {
            if let Item::Scalar(v) = item {
                assert_eq!(v, 0.5, "{name}");
            }
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn gradients_are_zeros_for_the_trainable_tensors_and_dropped_for_the_others() {
        let dev = Dev::seed_from_u64(0);
        let model = dev.build_module::<Model, f32>();
        let mut grads = new_gradients(&model).unwrap();
        assert_eq!(grads.get(&model.0.weight).array(), [[0.0; 3]; 2]);
        grads.get_or_alloc_mut(&model.0.bias).unwrap().fill(1.0);
        grads.get_or_alloc_mut(&model.1.running_mean).unwrap();
        zero_gradients(&model, &mut grads).unwrap();
        assert_eq!(grads.get(&model.0.bias).array(), [0.0; 2]);
        let untrainable = std::panic::catch_unwind(|| grads.get(&model.1.running_mean));
        assert!(untrainable.is_err(), "a moving statistic kept its gradient");
    }

    #[test]
    fn the_device_is_the_first_tensors_and_a_model_without_tensors_has_none() {
        let dev = Dev::seed_from_u64(0);
        assert!(device_of(&dev.build_module::<Model, f32>()).is_ok());
        assert!(device_of::<(), f32, Dev>(&()).is_err());
    }
}
