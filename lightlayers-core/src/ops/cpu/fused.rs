//! The fused CPU executor of a [`Stage`] list: one dfdx tape operation whose forward runs every
//! stage on recycled buffers (ReLUs fused into the preceding convolution, batch norm or
//! residual addition; in inference, batch norms folded into the preceding convolution) and
//! whose backward walks the stages in reverse.

use dfdx::prelude::*;

use super::batch_norm::BnGeometry;
use super::buffer_pool::pool;
use super::max_pool2d::PoolGeometry;
use super::tape::{buffer, elements, put_grad, take_grad};
use crate::ops::geometry::ConvGeometry;
use crate::ops::pipeline::{BnMode, BnParams, DynMap, DynVec, Stage};
use crate::Element;

type Param<E> = Tensor<(usize, usize, usize, usize), E, Cpu>;

/// One lowered step; `input`/`output` index the activation arena.
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

/// Lowers and runs `stages` from activation `input`; returns the output's index.
fn forward<E: Element>(
    dev: &Cpu,
    stages: &mut [Stage<'_, E, Cpu>],
    mut input: usize,
    arena: &mut Arena<E>,
    nodes: &mut Vec<Node<E>>,
    train: bool,
) -> Result<usize, CpuError>
where
    Cpu: Device<E>,
{
    let pool = pool::<E>();
    let mut i = 0;
    while i < stages.len() {
        if !train {
            if let Some((output, consumed)) = conv_with_folded_bn(&stages[i..], input, arena) {
                input = output;
                i += consumed;
                continue;
            }
        }
        // a ReLU right after a stage that can apply it is fused into that stage
        let fuse_relu = matches!(stages.get(i + 1), Some(Stage::Relu))
            && matches!(
                stages[i],
                Stage::Conv(_) | Stage::BatchNorm(_) | Stage::Residual { .. }
            );
        let [b, c, h, w] = arena.dims[input];
        let node = match &mut stages[i] {
            Stage::Conv(conv) => {
                let spec = conv.spec.with_relu(conv.spec.relu || fuse_relu);
                let g = ConvGeometry::new([b, c, h, w], conv.weight.shape().concrete(), spec);
                let mut y = pool.take(b * g.out_channels * g.out_area());
                E::conv2d_forward(
                    &g,
                    arena.get(input),
                    &elements(&conv.weight),
                    conv.bias.as_ref().map(elements).as_deref(),
                    spec.relu,
                    &mut y,
                );
                let output = arena.push(
                    Activation::Scratch(y),
                    [b, g.out_channels, g.out_h, g.out_w],
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
            Stage::BatchNorm(mode) => {
                let g = BnGeometry {
                    batch: b,
                    channels: c,
                    area: h * w,
                };
                let (p, batch_stats) = match mode {
                    BnMode::Train(state, unbiased) => {
                        let p = state.params();
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
                        state.set_running(
                            dev.tensor_from_vec(new_mean, (c,)),
                            dev.tensor_from_vec(new_var, (c,)),
                        )?;
                        (p, Some((mean, var)))
                    }
                    BnMode::Infer(state) => (state.params(), None),
                };
                let scale_data = elements(&p.scale).into_owned();
                let (mean, var) = batch_stats.unwrap_or_else(|| moving_stats(&p));
                let Affine { a, shift, inv_std } = affine(&p, &mean, &var);
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
                    scale: p.scale,
                    bias: p.bias,
                    relu: fuse_relu,
                }
            }
            Stage::Relu => {
                let mut y = pool.take(b * c * h * w);
                E::relu(arena.get(input), &mut y);
                let output = arena.push(Activation::Scratch(y), [b, c, h, w]);
                Node::Relu { input, output }
            }
            Stage::MaxPool(size) => {
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
            Stage::Residual { main, shortcut } => {
                let a = forward(dev, main, input, arena, nodes, train)?;
                let s = forward(dev, shortcut, input, arena, nodes, train)?;
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
    Ok(input)
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
    stages: &[Stage<'_, E, Cpu>],
    input: usize,
    arena: &mut Arena<E>,
) -> Option<(usize, usize)>
where
    Cpu: Device<E>,
{
    let (Some(Stage::Conv(conv)), Some(Stage::BatchNorm(BnMode::Infer(state)))) =
        (stages.first(), stages.get(1))
    else {
        return None;
    };
    if conv.spec.relu {
        return None;
    }
    let relu = matches!(stages.get(2), Some(Stage::Relu));
    let p = state.params();
    let (mean, var) = moving_stats(&p);
    let Affine { a, shift, .. } = affine(&p, &mean, &var);
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
    let [b, c, h, w] = arena.dims[input];
    let g = ConvGeometry::new([b, c, h, w], conv.weight.shape().concrete(), spec);
    let mut y = pool::<E>().take(b * g.out_channels * g.out_area());
    E::conv2d_forward(&g, arena.get(input), &weight, Some(&bias), relu, &mut y);
    let output = arena.push(
        Activation::Scratch(y),
        [b, g.out_channels, g.out_h, g.out_w],
    );
    Some((output, if relu { 3 } else { 2 }))
}

/// Gradient buffers of the activations, allocated (zeroed) on first use.
struct Grads<E> {
    bufs: Vec<Option<Vec<E>>>,
}

impl<E: Element> Grads<E> {
    fn get_mut(&mut self, i: usize, len: usize) -> &mut Vec<E> {
        self.bufs[i].get_or_insert_with(|| pool::<E>().zeroed(len))
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
                E::conv2d_backward(
                    geom,
                    arena.get(*input),
                    &w,
                    &gy,
                    Some(g.get_mut(*input, len)),
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
                E::bn_backward(
                    geom,
                    arena.get(*input),
                    arena.get(*output),
                    *relu,
                    mean,
                    inv_std,
                    scale_data,
                    &gy,
                    Some(g.get_mut(*input, len)),
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
                E::relu_backward(arena.get(*output), &gy, g.get_mut(*input, len));
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
                E::max_pool2d_backward(geom, argmax, &gy, g.get_mut(*input, len));
                pool.give(gy);
            }
            Node::Add { a, b, output, relu } => {
                let Some(mut gy) = g.bufs[*output].take() else {
                    continue;
                };
                if *relu {
                    E::mask_by_positive(arena.get(*output), &mut gy);
                }
                for branch in [*a, *b] {
                    let len = arena.get(branch).len();
                    E::accumulate(g.get_mut(branch, len), &gy);
                }
                pool.give(gy);
            }
        }
    }
    Ok(())
}

/// Runs a stage list on `Cpu` as one tape operation.
pub fn pipeline<E: Element, T: Tape<E, Cpu>>(
    x: DynMap<E, Cpu, T>,
    stages: &mut [Stage<'_, E, Cpu>],
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
    let output = forward(&dev, stages, input, &mut arena, &mut nodes, T::OWNS_TAPE)?;
    let out = arena.hand_to_dfdx(&dev, output);
    if !T::OWNS_TAPE {
        arena.release();
        return Ok(out.put_tape(tape));
    }
    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    let n_acts = arena.data.len();
    tape.add_backward_op(move |grads| {
        let mut g = Grads {
            bufs: (0..n_acts).map(|_| None).collect(),
        };
        g.bufs[output] = Some(take_grad!(grads, &out_ghost));
        g.bufs[input] = Some(take_grad!(grads, &x_ghost));
        // the output gradient must survive for dfdx: the conv node would mask it in place
        let out_grad = g.bufs[output].clone();
        backward(&nodes, &arena, &mut g, grads)?;
        let grad_x = g.bufs[input]
            .take()
            .expect("input gradient is never released");
        put_grad!(grads, &x_ghost, grad_x);
        put_grad!(grads, &out_ghost, out_grad.expect("set above"));
        let pool = pool::<E>();
        g.bufs.into_iter().flatten().for_each(|b| pool.give(b));
        arena.release();
        Ok(())
    });
    Ok(out.put_tape(tape))
}
