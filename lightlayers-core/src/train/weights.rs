//! A model's weights in a safetensors file: every tensor under its dfdx path
//! (`"0.conv.weight"`), batch norm's statistics included, and the scalar settings (batch
//! norm's ε and momentum) as rank-0 `F64` tensors. That is the layout of dfdx's
//! `save_safetensors`, so dfdx's `load_safetensors` reads these files and [`load_weights`]
//! reads dfdx's.

use std::path::Path;

use dfdx::nn::tensor_collection::TensorCollection;

use super::error::TrainError;
use super::model_tensors::{walk, walk_mut, Item, ItemRef};
use super::tensor_file::{Dtype, Entry, TensorFile};
use crate::{Backend, Element};

/// Saves the weights of `model` to `path`, atomically (a reader never sees half a file).
pub fn save_weights<M, E, D>(model: &M, path: &Path) -> Result<(), TrainError>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    let mut file = TensorFile::default();
    walk(model, &mut |name, item| {
        let entry = match item {
            Item::Tensor { tensor, .. } => Entry::of_values(&tensor.to_host(), tensor.dims()),
            Item::Scalar(value) => Entry::of_scalar(value),
        };
        file.tensors.insert(name.to_string(), entry);
        Ok(())
    })?;
    file.save(path)
}

/// Loads weights saved by [`save_weights`] or dfdx's `save_safetensors` into `model`, after
/// checking that every tensor of the model is in the file with its element type and shape.
/// `model` is untouched on error.
pub fn load_weights<M, E, D>(model: &mut M, path: &Path) -> Result<(), TrainError>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    let file = TensorFile::load(path)?;
    walk(model, &mut |name, item| {
        check_entry(&file, name, item).map_err(|reason| TrainError::bad(path, reason))
    })?;
    walk_mut(model, &mut |name, item| {
        let Some(entry) = file.tensors.get(name) else {
            return Ok(());
        };
        match item {
            Item::Tensor { tensor, .. } => tensor.copy_from_host(&entry.values::<E>()),
            Item::Scalar(value) => *value = entry.values::<f64>()[0],
        }
        Ok(())
    })
}

/// Why the file cannot fill the model's entry at `name`, if it cannot. A scalar setting may be
/// missing (the model keeps its own); a tensor may not.
fn check_entry<E: Element, D: Backend<E>>(
    file: &TensorFile,
    name: &str,
    item: ItemRef<'_, E, D>,
) -> Result<(), String> {
    let entry = file.tensors.get(name);
    let (entry, dtype, dims) = match (item, entry) {
        (Item::Scalar(_), None) => return Ok(()),
        (Item::Scalar(_), Some(entry)) => (entry, Dtype::F64, Vec::new()),
        (Item::Tensor { .. }, None) => {
            return Err(format!(
                "tensor {name:?} is missing (weights of another network?)"
            ))
        }
        (Item::Tensor { tensor, .. }, Some(entry)) => (entry, Dtype::of::<E>(), tensor.dims()),
    };
    if entry.dtype != dtype {
        return Err(format!(
            "tensor {name:?} is {:?}, the model's {dtype:?}",
            entry.dtype
        ));
    }
    if entry.shape != dims {
        return Err(format!(
            "tensor {name:?} has shape {:?}, the model's {dims:?} (weights of another network?)",
            entry.shape
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use dfdx::prelude::*;
    use tempfile::TempDir;

    use super::*;
    use crate::layers::builder::BatchNorm;

    type Model = (Linear<3, 2>, BatchNorm<2>);

    fn model(seed: u64) -> <Model as BuildOnDevice<Cpu, f32>>::Built {
        Cpu::seed_from_u64(seed).build_module::<Model, f32>()
    }

    #[test]
    fn weights_round_trip_through_our_files_and_dfdx_reads_them() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("w.safetensors");
        let mut saved = model(1);
        saved.1.running_var = saved.1.running_var.clone() * 3.0;
        save_weights(&saved, &path).unwrap();

        let mut ours = model(2);
        load_weights(&mut ours, &path).unwrap();
        let mut by_dfdx = model(3);
        by_dfdx.load_safetensors(&path).unwrap();
        for loaded in [&ours, &by_dfdx] {
            assert_eq!(loaded.0.weight.array(), saved.0.weight.array());
            assert_eq!(loaded.1.running_var.array(), saved.1.running_var.array());
        }
    }

    #[test]
    fn dfdx_files_load() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("w.safetensors");
        let saved = model(1);
        saved.save_safetensors(&path).unwrap();
        let mut ours = model(2);
        load_weights(&mut ours, &path).unwrap();
        assert_eq!(ours.0.bias.array(), saved.0.bias.array());
    }

    #[test]
    fn another_networks_weights_are_refused_and_leave_the_model_untouched() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("w.safetensors");
        let other = Cpu::seed_from_u64(1).build_module::<(Linear<3, 4>, BatchNorm<4>), f32>();
        save_weights(&other, &path).unwrap();
        let mut ours = model(2);
        let before = ours.0.weight.array();
        let err = load_weights(&mut ours, &path).unwrap_err().to_string();
        assert!(err.contains("\"0.weight\" has shape [4, 3]"), "{err}");
        assert_eq!(ours.0.weight.array(), before);

        let f64_model = Cpu::seed_from_u64(1).build_module::<Model, f64>();
        save_weights(&f64_model, &path).unwrap();
        let err = load_weights(&mut ours, &path).unwrap_err().to_string();
        assert!(err.contains("is F64, the model's F32"), "{err}");
    }
}
