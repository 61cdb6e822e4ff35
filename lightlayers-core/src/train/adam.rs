//! Adam as Keras computes it, with a state that can be saved and loaded.
//!
//! dfdx has an `Adam`, but its step counter and moments are private, so a run resumed from a
//! checkpoint would restart the bias correction and the moments from zero and drift away from
//! the uninterrupted run. This one keeps its state in the open, keyed by each tensor's path in
//! the model (`"0.conv.weight"`, the names dfdx's safetensors export uses), and updates with
//! dfdx tensor ops, so it runs on every device.
//!
//! The update is Keras's (TensorFlow's `ApplyAdam`), at step `t` counted from 1:
//!
//! ```text
//! lr_t = lr · sqrt(1 − β2^t) / (1 − β1^t)
//! m    = β1 · m + (1 − β1) · g
//! v    = β2 · v + (1 − β2) · g²
//! p    = p − lr_t · m / (sqrt(v) + ε)
//! ```
//!
//! with Keras's defaults β1 = 0.9, β2 = 0.999, ε = 1e-7 (dfdx's default ε is 1e-8, and it
//! puts ε inside the bias correction differently). Only tensors that dfdx marks
//! `do_gradient_update` are trained: batch norm's moving statistics are not.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::model_tensors::{walk, walk_mut, Item, ModelTensor};
use super::tensor_file::{Dtype, Entry, TensorFile};
use crate::{Backend, Element};

/// The name the optimizer's file gives its format, checked on loading.
const FORMAT: &str = "lightlayers-keras-adam/1";

/// Adam's hyper-parameters, with Keras's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KerasAdamConfig {
    /// Learning rate (Keras's default 1e-3; the paper uses 1e-3 for MNIST-like data, 1e-4 for
    /// CIFAR).
    pub lr: f64,
    /// Decay of the first moment, β1 (0.9).
    pub beta1: f64,
    /// Decay of the second moment, β2 (0.999).
    pub beta2: f64,
    /// ε added to `sqrt(v)` (Keras's 1e-7).
    pub epsilon: f64,
}

impl Default for KerasAdamConfig {
    /// Keras's defaults: lr 1e-3, β1 0.9, β2 0.999, ε 1e-7.
    fn default() -> Self {
        KerasAdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        }
    }
}

impl KerasAdamConfig {
    /// Checks that every value can work: a finite learning rate ≥ 0, betas in `[0, 1)`, a
    /// finite ε ≥ 0.
    pub fn validate(&self) -> Result<(), TrainError> {
        check_lr(self.lr)?;
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(TrainError::InvalidConfig {
                    name,
                    reason: format!("{beta} is not in [0, 1)"),
                });
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return Err(TrainError::InvalidConfig {
                name: "epsilon",
                reason: format!("{} is not a finite number ≥ 0", self.epsilon),
            });
        }
        Ok(())
    }
}

/// Errors unless `lr` is a finite number ≥ 0.
fn check_lr(lr: f64) -> Result<(), TrainError> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(TrainError::InvalidConfig {
            name: "learning rate",
            reason: format!("{lr} is not a finite number ≥ 0"),
        })
    }
}

/// The two moments of one tensor, flattened.
#[derive(Clone)]
struct Moments<E: Element, D: Backend<E>> {
    m: Tensor<(usize,), E, D>,
    v: Tensor<(usize,), E, D>,
}

/// Keras's Adam (see the module docs) over the trainable tensors of any dfdx model.
///
/// ```
/// use dfdx::prelude::*;
/// use lightlayers_core::train::{KerasAdam, KerasAdamConfig};
///
/// let dev = Cpu::default();
/// let mut w: Tensor<Rank1<3>, f32, Cpu> = dev.tensor([1.0, 2.0, 3.0]);
/// let mut grads = w.alloc_grads();
/// let mut adam = KerasAdam::new(KerasAdamConfig::default())?;
/// let loss = w.clone().traced(grads).square().sum();
/// grads = loss.backward();
/// adam.update(&mut w, &mut grads)?;
/// // The first step moves every weight by lr against its gradient's sign.
/// assert!((w.array()[0] - 0.999).abs() < 1e-6);
/// # Ok::<(), lightlayers_core::train::TrainError>(())
/// ```
#[derive(Clone)]
pub struct KerasAdam<E: Element, D: Backend<E>> {
    config: KerasAdamConfig,
    step: u64,
    moments: BTreeMap<String, Moments<E, D>>,
}

impl<E: Element, D: Backend<E>> fmt::Debug for KerasAdam<E, D> {
    /// The settings and the step, not the moments' values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KerasAdam")
            .field("config", &self.config)
            .field("step", &self.step)
            .field("tensors", &self.moments.len())
            .finish()
    }
}

impl<E: Element, D: Backend<E>> KerasAdam<E, D> {
    /// A fresh optimizer at step 0 with zero moments (allocated at the first update).
    pub fn new(config: KerasAdamConfig) -> Result<Self, TrainError> {
        config.validate()?;
        Ok(KerasAdam {
            config,
            step: 0,
            moments: BTreeMap::new(),
        })
    }

    /// The hyper-parameters (with the current learning rate).
    pub fn config(&self) -> &KerasAdamConfig {
        &self.config
    }

    /// The learning rate the next update uses.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// Changes the learning rate (what Keras's `ReduceLROnPlateau` does between epochs); the
    /// step and the moments are kept.
    pub fn set_lr(&mut self, lr: f64) -> Result<(), TrainError> {
        check_lr(lr)?;
        self.config.lr = lr;
        Ok(())
    }

    /// Updates done so far (Keras's `iterations`); the next update is step `step() + 1`.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The paths of the tensors that have moments, in order.
    pub fn tensor_names(&self) -> impl Iterator<Item = &str> {
        self.moments.keys().map(String::as_str)
    }

    /// A copy of the first and second moments of the tensor at `name`, flattened (for
    /// inspection and tests); `None` before its first update.
    pub fn moments(&self, name: &str) -> Option<(Vec<E>, Vec<E>)> {
        self.moments
            .get(name)
            .map(|mo| (mo.m.as_vec(), mo.v.as_vec()))
    }

    /// One Adam step on every trainable tensor of `model`, with the gradients in `grads`.
    ///
    /// A trainable tensor without a gradient gets a zero one (as after `alloc_grads`, which
    /// allocates them all): that is why `grads` is borrowed mutably. Errors when the state
    /// loaded from a file does not fit the model (a tensor missing, or of another size), or on
    /// a device error.
    pub fn update<M: TensorCollection<E, D>>(
        &mut self,
        model: &mut M,
        grads: &mut Gradients<E, D>,
    ) -> Result<(), TrainError> {
        let step = self.step.checked_add(1).ok_or(TrainError::InvalidConfig {
            name: "optimizer step",
            reason: "the step counter overflowed".to_string(),
        })?;
        let t = step as f64;
        let c = &self.config;
        let lr_t = c.lr * (1.0 - c.beta2.powf(t)).sqrt() / (1.0 - c.beta1.powf(t));
        let mut update = Update {
            moments: &mut self.moments,
            grads,
            fresh: self.step == 0,
            visited: 0,
            beta1: E::of(c.beta1),
            one_minus_beta1: E::of(1.0 - c.beta1),
            beta2: E::of(c.beta2),
            one_minus_beta2: E::of(1.0 - c.beta2),
            epsilon: E::of(c.epsilon),
            lr_t: E::of(lr_t),
        };
        walk_mut(model, &mut |name, item| match item {
            Item::Tensor {
                trainable: true,
                tensor,
            } => update.apply(name, tensor),
            _ => Ok(()),
        })?;
        let visited = update.visited;
        check_none_left(self.moments.len(), visited)?;
        self.step = step;
        Ok(())
    }

    /// Checks that the state fits `model`: a moment of the right length for each of its
    /// trainable tensors and none for anything else. A fresh optimizer (step 0) fits any
    /// model.
    pub fn check_fits<M: TensorCollection<E, D>>(&self, model: &M) -> Result<(), TrainError> {
        if self.step == 0 && self.moments.is_empty() {
            return Ok(());
        }
        let mut visited = 0;
        walk(model, &mut |name, item| {
            if let Item::Tensor {
                trainable: true,
                tensor,
            } = item
            {
                check_moments(self.moments.get(name), name, tensor.len(), false)?;
                visited += 1;
            }
            Ok(())
        })?;
        check_none_left(self.moments.len(), visited)
    }

    /// Writes the whole state (settings, step, moments) to a safetensors file, atomically:
    /// tensors `m/<path>` and `v/<path>`, settings in the metadata.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        self.to_file().save(path)
    }

    /// The state as a safetensors file in memory.
    fn to_file(&self) -> TensorFile {
        let mut file = TensorFile::default();
        let meta = [
            ("format", FORMAT.to_string()),
            ("step", self.step.to_string()),
            ("lr", self.config.lr.to_string()),
            ("beta1", self.config.beta1.to_string()),
            ("beta2", self.config.beta2.to_string()),
            ("epsilon", self.config.epsilon.to_string()),
        ];
        for (k, v) in meta {
            file.metadata.insert(k.to_string(), v);
        }
        for (name, mo) in &self.moments {
            for (prefix, t) in [("m/", &mo.m), ("v/", &mo.v)] {
                file.tensors.insert(
                    format!("{prefix}{name}"),
                    Entry::of_values(&t.as_vec(), vec![t.shape().0]),
                );
            }
        }
        file
    }

    /// Reads a state written by [`KerasAdam::save`] onto `device`. Errors when the file is
    /// corrupt or holds another element type; [`KerasAdam::check_fits`] then checks it against
    /// a model.
    pub fn load(path: &Path, device: &D) -> Result<Self, TrainError> {
        let file = TensorFile::load(path)?;
        Self::from_file(&file, device).map_err(|reason| TrainError::bad(path, reason))
    }

    fn from_file(file: &TensorFile, device: &D) -> Result<Self, String> {
        let meta = |key: &str| {
            file.metadata
                .get(key)
                .ok_or_else(|| format!("metadata {key:?} is missing"))
        };
        if meta("format")? != FORMAT {
            return Err(format!("format {:?}, expected {FORMAT:?}", meta("format")?));
        }
        let float = |key: &str| -> Result<f64, String> {
            let text = meta(key)?;
            text.parse()
                .map_err(|_| format!("metadata {key:?} = {text:?} is not a number"))
        };
        let config = KerasAdamConfig {
            lr: float("lr")?,
            beta1: float("beta1")?,
            beta2: float("beta2")?,
            epsilon: float("epsilon")?,
        };
        config.validate().map_err(|e| e.to_string())?;
        let step_text = meta("step")?;
        let step: u64 = step_text
            .parse()
            .map_err(|_| format!("metadata \"step\" = {step_text:?} is not a count"))?;
        let dtype = Dtype::of::<E>();
        let mut moments = BTreeMap::new();
        for (key, m) in &file.tensors {
            let Some(name) = key.strip_prefix("m/") else {
                if key.starts_with("v/") {
                    continue;
                }
                return Err(format!("unexpected tensor {key:?}"));
            };
            let v = file
                .tensors
                .get(&format!("v/{name}"))
                .ok_or_else(|| format!("tensor \"v/{name}\" is missing"))?;
            for entry in [m, v] {
                if entry.dtype != dtype {
                    return Err(format!(
                        "moments of {name:?} are {:?}, this run trains in {dtype:?}",
                        entry.dtype
                    ));
                }
            }
            if m.len() != v.len() {
                return Err(format!("moments of {name:?} differ in length"));
            }
            let tensor = |e: &Entry| {
                device
                    .try_tensor_from_vec(e.values::<E>(), (e.len(),))
                    .map_err(|e| e.to_string())
            };
            moments.insert(
                name.to_string(),
                Moments {
                    m: tensor(m)?,
                    v: tensor(v)?,
                },
            );
        }
        if let Some(orphan) = file
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix("v/"))
            .find(|n| !moments.contains_key(*n))
        {
            return Err(format!("tensor \"m/{orphan}\" is missing"));
        }
        Ok(KerasAdam {
            config,
            step,
            moments,
        })
    }
}

/// One Adam step in progress: the state and settings each trainable tensor is updated with.
struct Update<'a, E: Element, D: Backend<E>> {
    moments: &'a mut BTreeMap<String, Moments<E, D>>,
    grads: &'a mut Gradients<E, D>,
    /// Whether this is the first step (moments start at zero) or a continuation (every
    /// tensor must have its moments).
    fresh: bool,
    visited: usize,
    beta1: E,
    one_minus_beta1: E,
    beta2: E,
    one_minus_beta2: E,
    epsilon: E,
    lr_t: E,
}

impl<E: Element, D: Backend<E>> Update<'_, E, D> {
    /// The moments of `name`, taken out of the map (so that the ops below own their buffers
    /// and can reuse them): zeros on the first step; on a later one, an error unless they fit.
    fn take_moments(
        &mut self,
        name: &str,
        len: usize,
        device: &D,
    ) -> Result<Moments<E, D>, TrainError> {
        check_moments(self.moments.get(name), name, len, self.fresh)?;
        match self.moments.remove(name) {
            Some(mo) => Ok(mo),
            None => {
                let zeros = device.try_zeros_like(&(len,)).map_err(TrainError::device)?;
                Ok(Moments {
                    m: zeros.clone(),
                    v: zeros,
                })
            }
        }
    }
}

/// Errors unless `saved`, the moments of tensor `name` with `len` values, are of its length;
/// missing moments are an error too, unless `may_be_missing` (a fresh optimizer).
fn check_moments<E: Element, D: Backend<E>>(
    saved: Option<&Moments<E, D>>,
    name: &str,
    len: usize,
    may_be_missing: bool,
) -> Result<(), TrainError> {
    match saved {
        Some(mo) if mo.m.shape().0 != len => Err(TrainError::OptimizerMismatch {
            reason: format!(
                "tensor {name:?} has {len} values, its saved moments {}",
                mo.m.shape().0
            ),
        }),
        None if !may_be_missing => Err(TrainError::OptimizerMismatch {
            reason: format!("no saved moments for tensor {name:?}"),
        }),
        _ => Ok(()),
    }
}

/// Errors unless every one of the `saved` tensors' moments belonged to one of the `visited`
/// tensors of the model.
fn check_none_left(saved: usize, visited: usize) -> Result<(), TrainError> {
    if saved > visited {
        return Err(TrainError::OptimizerMismatch {
            reason: format!("{} saved tensor(s) are not in the model", saved - visited),
        });
    }
    Ok(())
}

impl<E: Element, D: Backend<E>> Update<'_, E, D> {
    /// Updates the trainable tensor at `name` with its gradient and moments.
    fn apply(&mut self, name: &str, p: &mut dyn ModelTensor<E, D>) -> Result<(), TrainError> {
        let len = p.len();
        let device = p.device().clone();
        let Moments { m, v } = self.take_moments(name, len, &device)?;
        let dev_err = TrainError::device;
        let g = p.flat_gradient(self.grads).map_err(dev_err)?;
        // m = β1·m + (1 − β1)·g
        let m = m
            .try_mul(self.beta1)
            .and_then(|m| m.try_add(g.clone().try_mul(self.one_minus_beta1)?))
            .map_err(dev_err)?;
        // v = β2·v + (1 − β2)·g²
        let v = v
            .try_mul(self.beta2)
            .and_then(|v| v.try_add(g.try_square()?.try_mul(self.one_minus_beta2)?))
            .map_err(dev_err)?;
        // p −= lr_t·m / (sqrt(v) + ε)
        let step = m
            .clone()
            .try_mul(self.lr_t)
            .and_then(|num| num.try_div(v.clone().try_sqrt()?.try_add(self.epsilon)?))
            .map_err(dev_err)?;
        p.subtract(&step).map_err(dev_err)?;
        self.moments.insert(name.to_string(), Moments { m, v });
        self.visited += 1;
        Ok(())
    }
}
