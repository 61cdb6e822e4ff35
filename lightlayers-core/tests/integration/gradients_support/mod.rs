//! Finite-difference gradient checking for dfdx computations in `f64` on `Cpu`.
//!
//! A check takes named *slots* (flat data of every input and parameter tensor) and a function
//! that builds a scalar loss from them through a [`Ctx`]. The analytic gradient of every slot
//! comes from one taped forward + `backward()`; the numeric one from central differences,
//! perturbing every element of every slot. Losses are usually [`project`]ions `Σ y·r` with a
//! fixed random `r`, so the whole Jacobian-vector product is tested, not a reduction of it.

#![allow(dead_code)]

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
};
use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

/// The scalar every checked function returns: recorded on a tape.
pub type Loss = Tensor<Rank0, f64, Cpu, OwnedTape<f64, Cpu>>;

/// Central-difference step.
pub const H: f64 = 1e-6;
/// Relative tolerance (of the larger of |analytic| and |numeric|).
pub const RTOL: f64 = 1e-5;
/// Absolute tolerance.
pub const ATOL: f64 = 1e-5;
/// Distance to a non-differentiable point (ReLU kink, max-pool tie) below which a case is
/// reseeded: central differences straddling a kink measure nothing meaningful.
pub const KINK_MARGIN: f64 = 1e-4;
/// A slot whose numeric gradient never exceeds this is reported as disconnected: the check
/// would pass vacuously.
pub const MIN_SIGNAL: f64 = 1e-6;

/// One named tensor of a check, flattened in dfdx's logical (row-major) order.
#[derive(Debug, Clone)]
pub struct Slot {
    pub name: String,
    pub data: Vec<f64>,
    /// The loss is known not to depend on this slot (e.g. a bias right before a training-mode
    /// batch norm): its gradient must vanish, analytically and numerically, instead of being
    /// reported as disconnected.
    pub zero_gradient: bool,
}

/// `n` standard-normal numbers from `seed`.
pub fn randn(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

/// `n` uniform numbers in `lo..hi` from `seed`.
pub fn uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

/// `Σ y·r` with `r` standard normal from a fixed seed (the same `r` for the same shape on
/// every evaluation, which is what finite differences need).
pub fn project<S: Shape, T: Tape<f64, Cpu>>(
    y: Tensor<S, f64, Cpu, T>,
) -> Tensor<Rank0, f64, Cpu, T> {
    project_seeded(y, 0x5eed)
}

/// [`project`] with another direction.
pub fn project_seeded<S: Shape, T: Tape<f64, Cpu>>(
    y: Tensor<S, f64, Cpu, T>,
    seed: u64,
) -> Tensor<Rank0, f64, Cpu, T> {
    let n = y.shape().num_elements();
    let r = y.device().tensor_from_vec(randn(n, seed), (n,));
    let flat: Tensor<(usize,), f64, Cpu, T> = y.reshape_like(&(n,));
    (flat * r).sum()
}

type Reader = Box<dyn Fn(&mut Gradients<f64, Cpu>) -> Vec<f64>>;

/// Hands slot data out as tensors during one evaluation and remembers them, so the checker
/// can read their gradients afterwards.
pub struct Ctx<'a> {
    dev: Cpu,
    slots: &'a [Slot],
    bound: Vec<(usize, Vec<usize>, Reader)>,
}

impl<'a> Ctx<'a> {
    fn new(slots: &'a [Slot]) -> Self {
        Self {
            dev: Cpu::default(),
            slots,
            bound: Vec::new(),
        }
    }

    pub fn dev(&self) -> &Cpu {
        &self.dev
    }

    /// Slot `name` as an untaped tensor of `shape` (a parameter: ops and layers put it on the
    /// tape of their input). Each slot may be bound once per evaluation.
    pub fn tensor<S: Shape>(&mut self, name: &str, shape: S) -> Tensor<S, f64, Cpu> {
        let i = self
            .slots
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no slot named {name:?}"));
        assert!(
            self.bound.iter().all(|(j, ..)| *j != i),
            "slot {name:?} bound twice in one evaluation (its gradient would be split)"
        );
        let dims: Vec<usize> = shape.concrete().into_iter().collect();
        assert_eq!(
            self.slots[i].data.len(),
            shape.num_elements(),
            "slot {name:?} has {} values, shape {dims:?} needs {}",
            self.slots[i].data.len(),
            shape.num_elements()
        );
        let t = self.dev.tensor_from_vec(self.slots[i].data.clone(), shape);
        let keep = t.clone();
        self.bound.push((
            i,
            dims,
            Box::new(move |grads| {
                // a tensor the backward pass never reached has gradient zero
                grads.try_alloc_for(&keep).unwrap();
                grads.get(&keep).as_vec()
            }),
        ));
        t
    }

    /// Slot `name` as the tensor the tape starts from (`leaky_trace`).
    pub fn input<S: Shape>(
        &mut self,
        name: &str,
        shape: S,
    ) -> Tensor<S, f64, Cpu, OwnedTape<f64, Cpu>> {
        self.tensor(name, shape).leaky_trace()
    }

    /// Replaces every trainable tensor of `module` by the slot named as the tensor's path
    /// (`"weight"`, `"0.1.scale"`, ...; see [`param_slots`]).
    pub fn load<M: TensorCollection<f64, Cpu>>(&mut self, module: &mut M) {
        M::iter_tensors(&mut RecursiveWalker {
            m: (module, String::new()),
            f: &mut Loader { ctx: self },
        })
        .unwrap();
    }
}

struct Loader<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
}

impl TensorVisitor<f64, Cpu> for Loader<'_, '_> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = CpuError;
    type E2 = f64;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f64, Cpu>,
        (t, name): (&mut Tensor<S, f64, Cpu>, String),
    ) -> Result<Option<Tensor<S, f64, Cpu>>, CpuError> {
        if opts.do_gradient_update {
            *t = self.ctx.tensor(&name, *t.shape());
        }
        Ok(None)
    }
}

struct Collector(Vec<Slot>);

impl TensorVisitor<f64, Cpu> for Collector {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = CpuError;
    type E2 = f64;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f64, Cpu>,
        (t, name): (&Tensor<S, f64, Cpu>, String),
    ) -> Result<Option<Tensor<S, f64, Cpu>>, CpuError> {
        if opts.do_gradient_update {
            self.0.push(Slot {
                name,
                data: t.as_vec(),
                zero_gradient: false,
            });
        }
        Ok(None)
    }
}

/// One slot per trainable tensor of `module`, named by its path, holding its values; tensors
/// initialised to a constant (biases 0, batch-norm scales 1) get `U(-0.5, 0.5)` added so
/// that no gradient is checked only at a special point.
pub fn param_slots<M: TensorCollection<f64, Cpu>>(module: &M, seed: u64) -> Vec<Slot> {
    let mut c = Collector(Vec::new());
    M::iter_tensors(&mut RecursiveWalker {
        m: (module, String::new()),
        f: &mut c,
    })
    .unwrap();
    for (k, slot) in c.0.iter_mut().enumerate() {
        let first = slot.data[0];
        if slot.data.iter().all(|v| *v == first) {
            let noise = uniform(slot.data.len(), -0.5, 0.5, seed.wrapping_add(k as u64));
            slot.data.iter_mut().zip(noise).for_each(|(v, e)| *v += e);
        }
    }
    c.0
}

/// A copy of `template` holding the slots' values (for inspecting a case before checking it).
pub fn loaded<M: TensorCollection<f64, Cpu> + Clone>(template: &M, slots: &[Slot]) -> M {
    let mut m = template.clone();
    Ctx::new(slots).load(&mut m);
    m
}

/// Slot `name` as a plain tensor (for inspecting a case before checking it).
pub fn slot_tensor<S: Shape>(slots: &[Slot], name: &str, shape: S) -> Tensor<S, f64, Cpu> {
    Ctx::new(slots).tensor(name, shape)
}

/// Named slot.
pub fn slot(name: &str, data: Vec<f64>) -> Slot {
    Slot {
        name: name.to_string(),
        data,
        zero_gradient: false,
    }
}

/// Worst agreement seen for one slot.
#[derive(Debug, Clone)]
pub struct SlotReport {
    pub name: String,
    pub elements: usize,
    /// max |analytic - numeric|
    pub max_abs: f64,
    /// max |analytic - numeric| / max(|analytic|, |numeric|) over elements with a gradient
    /// above 1e-3 (smaller ones are judged by the absolute tolerance)
    pub max_rel: f64,
    /// max |analytic - numeric| / (ATOL + RTOL·max(|a|, |n|)): the check passes below 1
    pub max_ratio: f64,
    /// max |numeric|
    pub scale: f64,
}

/// Outcome of a passing check.
#[derive(Debug, Clone)]
pub struct Report {
    pub case: String,
    pub slots: Vec<SlotReport>,
}

impl Report {
    pub fn max_abs(&self) -> f64 {
        self.slots.iter().map(|s| s.max_abs).fold(0.0, f64::max)
    }
    pub fn max_rel(&self) -> f64 {
        self.slots.iter().map(|s| s.max_rel).fold(0.0, f64::max)
    }
    pub fn max_ratio(&self) -> f64 {
        self.slots.iter().map(|s| s.max_ratio).fold(0.0, f64::max)
    }
    pub fn elements(&self) -> usize {
        self.slots.iter().map(|s| s.elements).sum()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gradcheck {:<58} elements {:>4}  max|a-n| {:.2e}  max rel {:.2e}  max err/tol {:.3}",
            self.case,
            self.elements(),
            self.max_abs(),
            self.max_rel(),
            self.max_ratio()
        )
    }
}

fn evaluate<F: Fn(&mut Ctx) -> Loss>(slots: &[Slot], f: &F) -> f64 {
    let mut ctx = Ctx::new(slots);
    let loss = f(&mut ctx);
    loss.retaped::<NoneTape>().array()
}

/// Row-major multi-index of flat index `i` in `dims`.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (k, d) in dims.iter().enumerate().rev() {
        idx[k] = i % d;
        i /= d;
    }
    idx
}

/// Compares analytic and numeric gradients of every slot; `tamper` scales the analytic
/// gradient before the comparison (1.0 for a real check; anything else must fail).
pub fn try_check<F: Fn(&mut Ctx) -> Loss>(
    case: &str,
    slots: &[Slot],
    f: F,
    tamper: f64,
) -> Result<Report, String> {
    // analytic
    let mut ctx = Ctx::new(slots);
    let loss = f(&mut ctx);
    let mut grads = loss.backward();
    let mut analytic: Vec<Option<(Vec<usize>, Vec<f64>)>> = vec![None; slots.len()];
    for (i, dims, read) in &ctx.bound {
        analytic[*i] = Some((dims.clone(), read(&mut grads)));
    }
    let mut reports = Vec::new();
    let mut data = slots.to_vec();
    for (s, entry) in analytic.into_iter().enumerate() {
        let name = &slots[s].name;
        let (dims, a) = entry.ok_or_else(|| format!("{case}: slot {name:?} was never bound"))?;
        let mut rep = SlotReport {
            name: name.clone(),
            elements: a.len(),
            max_abs: 0.0,
            max_rel: 0.0,
            max_ratio: 0.0,
            scale: 0.0,
        };
        for (i, &a) in a.iter().enumerate() {
            let a = a * tamper;
            let x0 = data[s].data[i];
            data[s].data[i] = x0 + H;
            let up = evaluate(&data, &f);
            data[s].data[i] = x0 - H;
            let down = evaluate(&data, &f);
            data[s].data[i] = x0;
            let n = (up - down) / (2.0 * H);
            let diff = (a - n).abs();
            let big = a.abs().max(n.abs());
            let tol = ATOL + RTOL * big;
            if diff.is_nan() || diff > tol {
                return Err(format!(
                    "{case}: d loss / d {name}{:?} (flat {i}, shape {dims:?}): analytic {a:.10e} vs \
                     numeric {n:.10e}, |diff| {diff:.3e} > tol {tol:.3e}",
                    unravel(i, &dims)
                ));
            }
            rep.max_abs = rep.max_abs.max(diff);
            if big > 1e-3 {
                rep.max_rel = rep.max_rel.max(diff / big);
            }
            rep.max_ratio = rep.max_ratio.max(diff / tol);
            rep.scale = rep.scale.max(n.abs());
        }
        if slots[s].zero_gradient {
            if rep.scale >= MIN_SIGNAL {
                return Err(format!(
                    "{case}: slot {name:?} (shape {dims:?}) should not influence the loss, but its \
                     numeric gradient reaches {:.3e}",
                    rep.scale
                ));
            }
        } else if rep.scale < MIN_SIGNAL {
            return Err(format!(
                "{case}: slot {name:?} (shape {dims:?}) has numeric gradient at most {:.3e}: \
                 the loss does not depend on it, so the check would pass vacuously",
                rep.scale
            ));
        }
        reports.push(rep);
    }
    Ok(Report {
        case: case.to_string(),
        slots: reports,
    })
}

/// [`try_check`] that panics on a mismatch and prints the worst errors on success.
pub fn check<F: Fn(&mut Ctx) -> Loss>(case: &str, slots: &[Slot], f: F) -> Report {
    match try_check(case, slots, f, 1.0) {
        Ok(report) => {
            println!("{report}");
            report
        }
        Err(msg) => panic!("{msg}"),
    }
}

/// Smallest |v| over `values` (distance of pre-activations to the ReLU kink).
pub fn min_abs(values: &[f64]) -> f64 {
    values.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min)
}

/// Smallest gap between the largest and second-largest value of any `size`×`size` pooling
/// window of a (planes, h, w) array whose maximum is above `floor` (windows at or below it
/// are ignored: after a ReLU their ties are all at zero gradient).
pub fn min_pool_gap(x: &[f64], planes: usize, h: usize, w: usize, size: usize, floor: f64) -> f64 {
    let mut gap = f64::INFINITY;
    for p in 0..planes {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..h / size {
            for ox in 0..w / size {
                let mut v: Vec<f64> = (0..size * size)
                    .map(|k| plane[(oy * size + k / size) * w + ox * size + k % size])
                    .collect();
                v.sort_by(|a, b| b.partial_cmp(a).unwrap());
                if v[0] > floor && v.len() > 1 {
                    gap = gap.min(v[0] - v[1]);
                }
            }
        }
    }
    gap
}
