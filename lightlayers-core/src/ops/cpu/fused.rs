//! The fused CPU executor of a [`Stage`] list: one dfdx tape operation whose forward runs every
//! stage on recycled buffers (ReLUs fused into the preceding convolution, batch norm or
//! residual addition; in inference, batch norms folded into the preceding convolution) and
//! whose backward walks the stages in reverse. Both run on a rayon worker (see `on_worker`).

use dfdx::prelude::*;

use super::batch_norm::BnGeometry;
use super::buffer_pool::pool;
use super::max_pool2d::PoolGeometry;
use super::tape::{buffer, elements, put_grad, take_grad};
use crate::ops::geometry::{Conv2dSpec, ConvGeometry};
use crate::ops::pipeline::{
    BatchNormState, BnMode, BnParams, ConvStage, DynMap, DynVec, InputGradient, Stage,
};
use crate::Element;

type Param<E> = Tensor<(usize, usize, usize, usize), E, Cpu>;

/// A [`Stage`] with its batch norm's parameters read out: unlike the layers behind
/// [`BnMode`], steps can be sent to a rayon worker to run there.
enum Step<E: Element> {
    Conv(ConvStage<E, Cpu>),
    BatchNorm {
        params: BnParams<E, Cpu>,
        /// Batch statistics, and whether the moving variance takes the unbiased batch
        /// variance; `None` runs on the moving statistics.
        batch_stats: Option<bool>,
    },
    Relu,
    MaxPool(usize),
    Residual {
        main: Vec<Step<E>>,
        shortcut: Vec<Step<E>>,
    },
}

/// The steps of `stages`; the batch norms that update their moving statistics are pushed to
/// `updated`, in the order in which [`forward`] computes the new statistics.
fn lower<'s, 'a, E: Element>(
    stages: &'s mut [Stage<'a, E, Cpu>],
    updated: &mut Vec<&'s mut (dyn BatchNormState<E, Cpu> + 'a)>,
) -> Vec<Step<E>>
where
    Cpu: Device<E>,
{
    stages
        .iter_mut()
        .map(|stage| match stage {
            Stage::Conv(conv) => Step::Conv(conv.clone()),
            Stage::BatchNorm(BnMode::Train(state, unbiased)) => {
                let params = state.params();
                updated.push(&mut **state);
                Step::BatchNorm {
                    params,
                    batch_stats: Some(*unbiased),
                }
            }
            Stage::BatchNorm(BnMode::Infer(state)) => Step::BatchNorm {
                params: state.params(),
                batch_stats: None,
            },
            Stage::Relu => Step::Relu,
            Stage::MaxPool(size) => Step::MaxPool(*size),
            Stage::Residual { main, shortcut } => Step::Residual {
                main: lower(main, updated),
                shortcut: lower(shortcut, updated),
            },
        })
        .collect()
}

/// New moving statistics (mean, variance) of a batch norm.
type Running<E> = (Vec<E>, Vec<E>);

/// A step as it ran, kept for the backward; `input`/`output` index the activation arena.
enum Node<E: Element> {
    Conv {
        input: usize,
        output: usize,
        g: ConvGeometry,
        weight: Param<E>,
        bias: Option<DynVec<E, Cpu>>,
        relu: bool,
    },
    BatchNorm {
        input: usize,
        output: usize,
        g: BnGeometry,
        mean: Vec<E>,
        inv_std: Vec<E>,
        scale_data: Vec<E>,
        scale: DynVec<E, Cpu>,
        bias: DynVec<E, Cpu>,
        relu: bool,
    },
    Relu {
        input: usize,
        output: usize,
    },
    MaxPool {
        input: usize,
        output: usize,
        g: PoolGeometry,
        argmax: Vec<u32>,
    },
    Add {
        a: usize,
        b: usize,
        output: usize,
        relu: bool,
    },
}

/// An activation: a scratch buffer of the pipeline's, or a dfdx tensor's buffer read in place
/// (the pipeline's input, and its output once handed to dfdx).
enum Activation<E: Element> {
    Scratch(Vec<E>),
    Tensor(DynMap<E, Cpu>),
}

/// Activations with their NCHW dims.
struct Arena<E: Element> {
    data: Vec<Activation<E>>,
    dims: Vec<[usize; 4]>,
}

impl<E: Element> Arena<E> {
    fn push(&mut self, data: Activation<E>, dims: [usize; 4]) -> usize {
        self.data.push(data);
        self.dims.push(dims);
        self.data.len() - 1
    }

    fn get(&self, i: usize) -> &[E] {
        match &self.data[i] {
            Activation::Scratch(v) => v,
            Activation::Tensor(t) => buffer(t.storage()),
        }
    }

    /// Hands activation `i` to dfdx as a tensor, without a copy when it is a scratch buffer;
    /// the arena keeps reading it through the tensor.
    fn hand_to_dfdx(&mut self, dev: &Cpu, i: usize) -> DynMap<E, Cpu> {
        let [b, c, h, w] = self.dims[i];
        let t = match std::mem::replace(&mut self.data[i], Activation::Scratch(Vec::new())) {
            Activation::Scratch(v) => dev.tensor_from_vec(v, (b, c, h, w)),
            Activation::Tensor(t) => t,
        };
        self.data[i] = Activation::Tensor(t.clone());
        t
    }

    fn release(self) {
        let pool = pool::<E>();
        for a in self.data {
            if let Activation::Scratch(b) = a {
                pool.give(b);
            }
        }
    }
}

/// Runs `steps` from activation `input`, recording the nodes for the backward when `train`
/// and pushing the new moving statistics of batch norms on batch statistics to `running`;
/// returns the output's index.
fn forward<E: Element>(
    steps: &[Step<E>],
    mut input: usize,
    arena: &mut Arena<E>,
    nodes: &mut Vec<Node<E>>,
    running: &mut Vec<Running<E>>,
    train: bool,
) -> usize
where
    Cpu: Device<E>,
{
    let pool = pool::<E>();
    let mut i = 0;
    while i < steps.len() {
        if !train {
            if let Some((output, consumed)) = conv_with_folded_bn(&steps[i..], input, arena) {
                input = output;
                i += consumed;
                continue;
            }
        }
        // a ReLU right after a stage that can apply it is fused into that stage
        let fuse_relu = matches!(steps.get(i + 1), Some(Step::Relu))
            && matches!(
                steps[i],
                Step::Conv(_) | Step::BatchNorm { .. } | Step::Residual { .. }
            );
        let [b, c, h, w] = arena.dims[input];
        let node = match &steps[i] {
            Step::Conv(conv) => {
                let spec = conv.spec.with_relu(conv.spec.relu || fuse_relu);
                let (output, g) = run_conv(
                    arena,
                    input,
                    conv.weight.shape().concrete(),
                    &elements(&conv.weight),
                    conv.bias.as_ref().map(elements).as_deref(),
                    spec,
                );
                Node::Conv {
                    input,
                    output,
                    g,
                    weight: conv.weight.clone(),
                    bias: conv.bias.clone(),
                    relu: spec.relu,
                }
            }
            Step::BatchNorm {
                params: p,
                batch_stats,
            } => {
                let g = BnGeometry {
                    batch: b,
                    channels: c,
                    area: h * w,
                };
                let batch_stats = match batch_stats {
                    Some(unbiased) => {
                        let (mean, var) = E::bn_batch_stats(&g, arena.get(input));
                        let n = g.count() as f64;
                        let correction = if *unbiased && n > 1.0 {
                            n / (n - 1.0)
                        } else {
                            1.0
                        };
                        let keep = p.momentum;
                        let old_mean = elements(&p.running_mean);
                        let old_var = elements(&p.running_var);
                        let new_mean: Vec<E> = old_mean
                            .iter()
                            .zip(&mean)
                            .map(|(&o, &m)| E::of(keep * o.to_f64_lossless() + (1.0 - keep) * m))
                            .collect();
                        let new_var: Vec<E> = old_var
                            .iter()
                            .zip(&var)
                            .map(|(&o, &v)| {
                                E::of(keep * o.to_f64_lossless() + (1.0 - keep) * correction * v)
                            })
                            .collect();
                        running.push((new_mean, new_var));
                        Some((mean, var))
                    }
                    None => None,
                };
                let scale_data = elements(&p.scale).into_owned();
                let (mean, var) = batch_stats.unwrap_or_else(|| moving_stats(p));
                let Affine { a, shift, inv_std } = affine(p, &mean, &var);
                let mut y = pool.take(b * c * h * w);
                E::bn_affine(&g, arena.get(input), &a, &shift, fuse_relu, &mut y);
                let output = arena.push(Activation::Scratch(y), [b, c, h, w]);
                Node::BatchNorm {
                    input,
                    output,
                    g,
                    mean: mean.iter().map(|&m| E::of(m)).collect(),
                    inv_std: inv_std.iter().map(|&s| E::of(s)).collect(),
                    scale_data,
                    scale: p.scale.clone(),
                    bias: p.bias.clone(),
                    relu: fuse_relu,
                }
            }
            Step::Relu => {
                let mut y = pool.take(b * c * h * w);
                E::relu(arena.get(input), &mut y);
                let output = arena.push(Activation::Scratch(y), [b, c, h, w]);
                Node::Relu { input, output }
            }
            Step::MaxPool(size) => {
                let g = PoolGeometry {
                    planes: b * c,
                    in_h: h,
                    in_w: w,
                    size: *size,
                };
                let mut y = pool.take(b * c * g.out_h() * g.out_w());
                let mut argmax = vec![0u32; y.len()];
                E::max_pool2d_forward(&g, arena.get(input), &mut y, &mut argmax);
                let output = arena.push(Activation::Scratch(y), [b, c, g.out_h(), g.out_w()]);
                Node::MaxPool {
                    input,
                    output,
                    g,
                    argmax,
                }
            }
            Step::Residual { main, shortcut } => {
                let a = forward(main, input, arena, nodes, running, train);
                let s = forward(shortcut, input, arena, nodes, running, train);
                assert_eq!(
                    arena.dims[a], arena.dims[s],
                    "residual: branch shapes differ"
                );
                let mut y = pool.take(arena.get(a).len());
                E::residual_add(arena.get(a), arena.get(s), fuse_relu, &mut y);
                let dims = arena.dims[a];
                let output = arena.push(Activation::Scratch(y), dims);
                Node::Add {
                    a,
                    b: s,
                    output,
                    relu: fuse_relu,
                }
            }
        };
        input = match &node {
            Node::Conv { output, .. }
            | Node::BatchNorm { output, .. }
            | Node::Relu { output, .. }
            | Node::MaxPool { output, .. }
            | Node::Add { output, .. } => *output,
        };
        if train {
            nodes.push(node);
        }
        i += if fuse_relu { 2 } else { 1 };
    }
    input
}

/// A batch norm as the per-channel map `x ↦ a·x + shift`, with the `1/σ` it came from.
struct Affine<E> {
    a: Vec<E>,
    shift: Vec<E>,
    inv_std: Vec<f64>,
}

/// The affine map of a batch norm with `params` over statistics `mean`, `var` (in f64).
fn affine<E: Element>(params: &BnParams<E, Cpu>, mean: &[f64], var: &[f64]) -> Affine<E> {
    let scale = elements(&params.scale);
    let bias = elements(&params.bias);
    let inv_std: Vec<f64> = var
        .iter()
        .map(|v| 1.0 / (v + params.epsilon).sqrt())
        .collect();
    let a = (0..scale.len())
        .map(|k| E::of(scale[k].to_f64_lossless() * inv_std[k]))
        .collect();
    let shift = (0..scale.len())
        .map(|k| {
            E::of(bias[k].to_f64_lossless() - mean[k] * scale[k].to_f64_lossless() * inv_std[k])
        })
        .collect();
    Affine { a, shift, inv_std }
}

/// The moving mean and variance of a batch norm, in f64.
fn moving_stats<E: Element>(params: &BnParams<E, Cpu>) -> (Vec<f64>, Vec<f64>) {
    let f64s = |t: &DynVec<E, Cpu>| elements(t).iter().map(|v| v.to_f64_lossless()).collect();
    (f64s(&params.running_mean), f64s(&params.running_var))
}

/// Inference only: a convolution followed by a batch norm on its moving statistics (and
/// optionally a ReLU) runs as one convolution whose filters and bias carry the batch norm's
/// per-channel scale and shift, saving the batch norm's pass over the activations. Returns the
/// output and the number of stages consumed, or `None` when `stages` does not start that way.
fn conv_with_folded_bn<E: Element>(
    steps: &[Step<E>],
    input: usize,
    arena: &mut Arena<E>,
) -> Option<(usize, usize)>
where
    Cpu: Device<E>,
{
    let (
        Some(Step::Conv(conv)),
        Some(Step::BatchNorm {
            params: p,
            batch_stats: None,
        }),
    ) = (steps.first(), steps.get(1))
    else {
        return None;
    };
    if conv.spec.relu {
        return None;
    }
    let relu = matches!(steps.get(2), Some(Step::Relu));
    let (mean, var) = moving_stats(p);
    let Affine { a, shift, .. } = affine(p, &mean, &var);
    let mut weight = elements(&conv.weight).into_owned();
    let per_filter = weight.len() / a.len();
    for (filter, &a) in weight.chunks_mut(per_filter).zip(&a) {
        filter.iter_mut().for_each(|w| *w *= a);
    }
    let conv_bias = conv.bias.as_ref().map(elements);
    let bias: Vec<E> = (0..a.len())
        .map(|f| conv_bias.as_ref().map_or(E::zero(), |b| b[f] * a[f]) + shift[f])
        .collect();
    let spec = conv.spec.with_relu(relu);
    let dims = conv.weight.shape().concrete();
    let (output, _) = run_conv(arena, input, dims, &weight, Some(&bias), spec);
    Some((output, if relu { 3 } else { 2 }))
}

/// Convolves activation `input` with weights `w` of dims `weight_dims` into a new activation;
/// returns its index and the convolution's geometry.
fn run_conv<E: Element>(
    arena: &mut Arena<E>,
    input: usize,
    weight_dims: [usize; 4],
    w: &[E],
    bias: Option<&[E]>,
    spec: Conv2dSpec,
) -> (usize, ConvGeometry) {
    let g = ConvGeometry::new(arena.dims[input], weight_dims, spec);
    let mut y = pool::<E>().take(g.batch * g.out_channels * g.out_area());
    E::conv2d_forward(&g, arena.get(input), w, bias, spec.relu, &mut y);
    let dims = [g.batch, g.out_channels, g.out_h, g.out_w];
    (arena.push(Activation::Scratch(y), dims), g)
}

/// Gradient buffers of the activations, allocated on first use.
struct Grads<E> {
    bufs: Vec<Option<Vec<E>>>,
    /// The activation whose gradient nobody reads (the pipeline's input, when it is data).
    unwanted: Option<usize>,
}

impl<E: Element> Grads<E> {
    /// The gradient buffer of activation `i` (`len` elements), and whether it holds a gradient
    /// to add to (`accumulate`). Without one, the buffer holds what its last use left in it,
    /// and the first kernel to reach it writes over it: most activations have one consumer,
    /// and zeroing their buffers first was a serial pass over memory at every step.
    fn for_kernel(&mut self, i: usize, len: usize) -> (&mut Vec<E>, bool) {
        let accumulate = self.bufs[i].is_some();
        let buf = self.bufs[i].get_or_insert_with(|| pool::<E>().take(len));
        (buf, accumulate)
    }

    /// [`Self::for_kernel`], or `None` for the activation whose gradient is unwanted.
    fn wanted(&mut self, i: usize, len: usize) -> Option<(&mut Vec<E>, bool)> {
        (self.unwanted != Some(i)).then(|| self.for_kernel(i, len))
    }

    /// [`Self::wanted`] as the kernels that take an optional input gradient see it: no buffer
    /// (and nothing to accumulate) for the unwanted activation.
    fn for_optional_kernel(&mut self, i: usize, len: usize) -> (Option<&mut [E]>, bool) {
        match self.wanted(i, len) {
            Some((gx, accumulate)) => (Some(gx), accumulate),
            None => (None, false),
        }
    }
}

/// Accumulates `delta` into the gradient dfdx holds for parameter `t`.
fn add_param_grad<S: Shape, E: Element>(
    grads: &mut Gradients<E, Cpu>,
    t: &Tensor<S, E, Cpu>,
    delta: &[E],
) -> Result<(), CpuError> {
    E::accumulate(super::tape::grad_vec(grads.get_or_alloc_mut(t)?), delta);
    Ok(())
}

fn backward<E: Element>(
    nodes: &[Node<E>],
    arena: &Arena<E>,
    g: &mut Grads<E>,
    grads: &mut Gradients<E, Cpu>,
) -> Result<(), CpuError> {
    let pool = pool::<E>();
    for node in nodes.iter().rev() {
        match node {
            Node::Conv {
                input,
                output,
                g: geom,
                weight,
                bias,
                relu,
            } => {
                let Some(mut gy) = g.bufs[*output].take() else {
                    continue;
                };
                if *relu {
                    E::mask_by_positive(arena.get(*output), &mut gy);
                }
                let w = elements(weight);
                let mut gw = pool.zeroed(w.len());
                let mut gb = bias.as_ref().map(|_| pool.zeroed(geom.out_channels));
                let len = arena.get(*input).len();
                let (gx, accumulate) = g.for_optional_kernel(*input, len);
                E::conv2d_backward(
                    geom,
                    arena.get(*input),
                    &w,
                    &gy,
                    gx,
                    accumulate,
                    &mut gw,
                    gb.as_deref_mut(),
                );
                add_param_grad(grads, weight, &gw)?;
                if let (Some(bias), Some(gb)) = (bias, gb) {
                    add_param_grad(grads, bias, &gb)?;
                    pool.give(gb);
                }
                pool.give(gw);
                pool.give(gy);
            }
            Node::BatchNorm {
                input,
                output,
                g: geom,
                mean,
                inv_std,
                scale_data,
                scale,
                bias,
                relu,
            } => {
                let Some(gy) = g.bufs[*output].take() else {
                    continue;
                };
                let mut gs = vec![E::zero(); geom.channels];
                let mut gb = vec![E::zero(); geom.channels];
                let len = arena.get(*input).len();
                let (gx, accumulate) = g.for_optional_kernel(*input, len);
                E::bn_backward(
                    geom,
                    arena.get(*input),
                    arena.get(*output),
                    *relu,
                    mean,
                    inv_std,
                    scale_data,
                    &gy,
                    gx,
                    accumulate,
                    &mut gs,
                    &mut gb,
                );
                add_param_grad(grads, scale, &gs)?;
                add_param_grad(grads, bias, &gb)?;
                pool.give(gy);
            }
            Node::Relu { input, output } => {
                let Some(gy) = g.bufs[*output].take() else {
                    continue;
                };
                let len = arena.get(*input).len();
                if let Some((gx, accumulate)) = g.wanted(*input, len) {
                    E::relu_backward(arena.get(*output), &gy, accumulate, gx);
                }
                pool.give(gy);
            }
            Node::MaxPool {
                input,
                output,
                g: geom,
                argmax,
            } => {
                let Some(gy) = g.bufs[*output].take() else {
                    continue;
                };
                let len = arena.get(*input).len();
                if let Some((gx, accumulate)) = g.wanted(*input, len) {
                    E::max_pool2d_backward(geom, argmax, &gy, accumulate, gx);
                }
                pool.give(gy);
            }
            Node::Add { a, b, output, relu } => {
                let Some(mut gy) = g.bufs[*output].take() else {
                    continue;
                };
                if *relu {
                    E::mask_by_positive(arena.get(*output), &mut gy);
                }
                // both branches receive the gradient unchanged: the second takes the buffer
                match g.wanted(*a, gy.len()) {
                    Some((ga, true)) => E::accumulate(ga, &gy),
                    Some((ga, false)) => E::copy(ga, &gy),
                    None => {}
                }
                match &mut g.bufs[*b] {
                    _ if g.unwanted == Some(*b) => pool.give(gy),
                    Some(gb) => {
                        E::accumulate(gb, &gy);
                        pool.give(gy);
                    }
                    none => *none = Some(gy),
                }
            }
        }
    }
    Ok(())
}

/// Runs a stage list on `Cpu` as one tape operation; with [`InputGradient::Skipped`] its
/// backward leaves the input's gradient as it is, and computes none of the convolutions'
/// and other stages' gradients with respect to it.
pub fn pipeline<E: Element, T: Tape<E, Cpu>>(
    x: DynMap<E, Cpu, T>,
    stages: &mut [Stage<'_, E, Cpu>],
    input_gradient: InputGradient,
) -> Result<DynMap<E, Cpu, T>, CpuError>
where
    Cpu: Device<E>,
{
    if stages.is_empty() {
        return Ok(x);
    }
    let (x, mut tape) = x.split_tape();
    let dev = x.device().clone();
    let mut arena = Arena {
        data: Vec::new(),
        dims: Vec::new(),
    };
    let input = if x.is_contiguous() {
        Activation::Tensor(x.clone())
    } else {
        Activation::Scratch(x.as_vec())
    };
    let input = arena.push(input, x.shape().concrete());
    let mut nodes = Vec::new();
    let mut updated = Vec::new();
    let steps = lower(stages, &mut updated);
    let mut running = Vec::new();
    let output = on_worker(|| {
        forward(
            &steps,
            input,
            &mut arena,
            &mut nodes,
            &mut running,
            T::OWNS_TAPE,
        )
    });
    assert_eq!(updated.len(), running.len(), "one update per batch norm");
    for (state, (mean, var)) in updated.into_iter().zip(running) {
        let c = mean.len();
        state.set_running(
            dev.tensor_from_vec(mean, (c,)),
            dev.tensor_from_vec(var, (c,)),
        )?;
    }
    let out = arena.hand_to_dfdx(&dev, output);
    if !T::OWNS_TAPE {
        arena.release();
        return Ok(out.put_tape(tape));
    }
    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    let n_acts = arena.data.len();
    let skip_input = input_gradient == InputGradient::Skipped;
    tape.add_backward_op(move |grads| {
        let mut g = Grads {
            bufs: (0..n_acts).map(|_| None).collect(),
            unwanted: skip_input.then_some(input),
        };
        g.bufs[output] = Some(take_grad!(grads, &out_ghost));
        if skip_input {
            // zero, but there: dfdx's `Gradients::get` panics on a missing gradient
            grads.get_or_alloc_mut(&x_ghost)?;
        } else {
            g.bufs[input] = Some(take_grad!(grads, &x_ghost));
        }
        // the output gradient must survive for dfdx: the conv node would mask it in place
        let out_grad = g.bufs[output].clone();
        on_worker(|| backward(&nodes, &arena, &mut g, grads))?;
        if !skip_input {
            let grad_x = g.bufs[input]
                .take()
                .expect("input gradient is never released");
            put_grad!(grads, &x_ghost, grad_x);
        }
        put_grad!(grads, &out_ghost, out_grad.expect("set above"));
        let pool = pool::<E>();
        g.bufs.into_iter().flatten().for_each(|b| pool.give(b));
        arena.release();
        Ok(())
    });
    Ok(out.put_tape(tape))
}

/// Runs `work` on a worker of rayon's pool, this thread waiting. The kernels of a pipeline
/// each split their work with rayon; called from a thread outside the pool, every one of them
/// would hand its work over to the pool and wake this thread again at its end, two thread
/// switches per kernel. From a worker they split it in place.
fn on_worker<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| work())
}
