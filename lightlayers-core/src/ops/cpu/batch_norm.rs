//! Batch normalisation over the channels of NCHW data, with an optional fused ReLU.
//!
//! Sums run over fixed 16-lane accumulators (so LLVM vectorises them and the order, hence the
//! result, is the same on every machine), per plane in `E` and across planes in `f64`, chunk
//! by chunk in a fixed order, so results do not depend on the number of threads.

use rayon::prelude::*;

use super::simd::{multiversion, Level};
use crate::Element;

/// Sizes of one batch-norm application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BnGeometry {
    /// Images.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Pixels per channel plane (1 for vectors).
    pub area: usize,
}

impl BnGeometry {
    /// Values averaged per channel.
    pub fn count(&self) -> usize {
        self.batch * self.area
    }
}

/// Images per statistics chunk.
const CHUNK: usize = 8;
/// Accumulator lanes.
const LANES: usize = 16;

#[inline(always)]
fn reduce<E: Element>(acc: [E; LANES]) -> E {
    acc.iter().fold(E::zero(), |a, &b| a + b)
}

multiversion! {
    /// `Σ x` in vector-wide running sums.
    pub(crate) fn plane_sum<E>(x: &[E]) -> E => plane_sum_impl
}

#[inline(always)]
fn plane_sum_impl<L: Level, E: Element>(x: &[E]) -> E {
    let mut acc = [E::zero(); LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    reduce(acc) + tail.iter().fold(E::zero(), |a, &b| a + b)
}

multiversion! {
    fn plane_sq_dev<E>(x: &[E], mean: E) -> E => plane_sq_dev_impl
}

#[inline(always)]
fn plane_sq_dev_impl<L: Level, E: Element>(x: &[E], mean: E) -> E {
    let mut acc = [E::zero(); LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let d = c[l] - mean;
            acc[l] = L::fma(d, d, acc[l]);
        }
    }
    reduce(acc)
        + tail
            .iter()
            .fold(E::zero(), |a, &v| a + (v - mean) * (v - mean))
}

multiversion! {
    fn plane_affine<E>(x: &[E], a: E, b: E, relu: bool, y: &mut [E]) => plane_affine_impl
}

#[inline(always)]
fn plane_affine_impl<L: Level, E: Element>(x: &[E], a: E, b: E, relu: bool, y: &mut [E]) {
    if relu {
        y.iter_mut()
            .zip(x)
            .for_each(|(y, &x)| *y = L::fma(x, a, b).max(E::zero()));
    } else {
        y.iter_mut().zip(x).for_each(|(y, &x)| *y = L::fma(x, a, b));
    }
}

/// The gradient at the batch norm's output, zeroed where a fused ReLU was off.
#[inline(always)]
fn masked<E: Element>(dy: E, y: E, relu: bool) -> E {
    if !relu || y > E::zero() {
        dy
    } else {
        E::zero()
    }
}

multiversion! {
    /// (Σ dy, Σ dy·(x − mean)) over one plane.
    fn plane_grad_sums<E>(x: &[E], y: &[E], dy: &[E], mean: E, relu: bool) -> (E, E) => plane_grad_sums_impl
}

#[inline(always)]
fn plane_grad_sums_impl<L: Level, E: Element>(
    x: &[E],
    y: &[E],
    dy: &[E],
    mean: E,
    relu: bool,
) -> (E, E) {
    let (mut s1, mut s2) = ([E::zero(); LANES], [E::zero(); LANES]);
    let n = x.len() / LANES * LANES;
    for i in (0..n).step_by(LANES) {
        let (x, y, dy) = (&x[i..i + LANES], &y[i..i + LANES], &dy[i..i + LANES]);
        for l in 0..LANES {
            let d = masked(dy[l], y[l], relu);
            s1[l] += d;
            s2[l] = L::fma(d, x[l] - mean, s2[l]);
        }
    }
    let (mut t1, mut t2) = (reduce(s1), reduce(s2));
    for i in n..x.len() {
        let d = masked(dy[i], y[i], relu);
        t1 += d;
        t2 += d * (x[i] - mean);
    }
    (t1, t2)
}

multiversion! {
    /// gx (+)= k·(n·dy − Σdy − (x − mean)·inv_std·Σdy·x̂) over one plane.
    fn plane_grad_input<E>(x: &[E], y: &[E], dy: &[E], coefficients: [E; 5], relu: bool, accumulate: bool, gx: &mut [E]) => plane_grad_input_impl
}

#[inline(always)]
fn plane_grad_input_impl<L: Level, E: Element>(
    x: &[E],
    y: &[E],
    dy: &[E],
    coefficients: [E; 5],
    relu: bool,
    accumulate: bool,
    gx: &mut [E],
) {
    let [k, n, sum_dy, mean, c] = coefficients;
    let len = gx.len();
    let (x, y, dy) = (&x[..len], &y[..len], &dy[..len]);
    // k·(n·dy − Σdy − (x − mean)·c) with c = inv_std²·Σdy·(x − mean)
    let inner = |i: usize| {
        let d = masked(dy[i], y[i], relu);
        L::fma(n, d, -sum_dy) - (x[i] - mean) * c
    };
    if accumulate {
        for (i, g) in gx.iter_mut().enumerate() {
            *g = L::fma(k, inner(i), *g);
        }
    } else {
        for (i, g) in gx.iter_mut().enumerate() {
            *g = k * inner(i);
        }
    }
}

/// Per channel Σ f(image, channel) over the batch, in fixed chunks, accumulated in `f64`.
fn channel_sums<const K: usize>(
    g: &BnGeometry,
    f: impl Fn(usize, usize) -> [f64; K] + Sync,
) -> Vec<[f64; K]> {
    let chunks: Vec<Vec<[f64; K]>> = (0..g.batch.div_ceil(CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let mut sums = vec![[0.0f64; K]; g.channels];
            for n in chunk * CHUNK..((chunk + 1) * CHUNK).min(g.batch) {
                for (c, s) in sums.iter_mut().enumerate() {
                    let v = f(n, c);
                    for k in 0..K {
                        s[k] += v[k];
                    }
                }
            }
            sums
        })
        .collect();
    let mut total = vec![[0.0f64; K]; g.channels];
    for sums in chunks {
        for (t, s) in total.iter_mut().zip(sums) {
            for k in 0..K {
                t[k] += s[k];
            }
        }
    }
    total
}

fn plane<E>(g: &BnGeometry, data: &[E], n: usize, c: usize) -> std::ops::Range<usize> {
    let _ = data;
    let start = (n * g.channels + c) * g.area;
    start..start + g.area
}

/// Batch mean and biased variance per channel.
pub fn batch_stats<E: Element>(g: &BnGeometry, x: &[E]) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(
        x.len(),
        g.batch * g.channels * g.area,
        "batch_norm: input length"
    );
    let n = g.count() as f64;
    let mean: Vec<f64> = channel_sums(g, |i, c| {
        [plane_sum(&x[plane(g, x, i, c)]).to_f64_lossless()]
    })
    .into_iter()
    .map(|[s]| s / n)
    .collect();
    let mean_e: Vec<E> = mean.iter().map(|&m| E::of(m)).collect();
    let var: Vec<f64> = channel_sums(g, |i, c| {
        [plane_sq_dev(&x[plane(g, x, i, c)], mean_e[c]).to_f64_lossless()]
    })
    .into_iter()
    .map(|[s]| s / n)
    .collect();
    (mean, var)
}

/// `y = x·a[c] + b[c]` (then ReLU) for every plane.
pub fn affine<E: Element>(g: &BnGeometry, x: &[E], a: &[E], b: &[E], relu: bool, y: &mut [E]) {
    assert_eq!(x.len(), y.len(), "batch_norm: output length");
    let per_image = g.channels * g.area;
    y.par_chunks_mut(per_image)
        .zip(x.par_chunks(per_image))
        .for_each(|(y, x)| {
            for c in 0..g.channels {
                let r = c * g.area..(c + 1) * g.area;
                plane_affine(&x[r.clone()], a[c], b[c], relu, &mut y[r]);
            }
        });
}

/// Backward of a training-mode batch norm given the input `x`, the batch `mean` and
/// `inv_std` = 1/√(var+ε) used in the forward, the scale γ, and the output `y` (whose zeros
/// mask the gradient when a ReLU was fused). Accumulates into `grad_scale` and `grad_bias`,
/// and into `grad_x` when `accumulate` (else writes over it).
#[allow(clippy::too_many_arguments)]
pub fn backward<E: Element>(
    g: &BnGeometry,
    x: &[E],
    y: &[E],
    relu: bool,
    mean: &[E],
    inv_std: &[E],
    scale: &[E],
    grad_y: &[E],
    grad_x: Option<&mut [E]>,
    accumulate: bool,
    grad_scale: &mut [E],
    grad_bias: &mut [E],
) {
    // Σ dy and Σ dy·(x − mean) per channel
    let sums = channel_sums(g, |n, c| {
        let r = plane(g, x, n, c);
        let (a, b) = plane_grad_sums(&x[r.clone()], &y[r.clone()], &grad_y[r], mean[c], relu);
        [a.to_f64_lossless(), b.to_f64_lossless()]
    });
    for c in 0..g.channels {
        let [sum_dy, sum_dy_dev] = sums[c];
        grad_bias[c] += E::of(sum_dy);
        grad_scale[c] += E::of(sum_dy_dev * inv_std[c].to_f64_lossless());
    }
    if let Some(grad_x) = grad_x {
        let n = g.count() as f64;
        let coefficients: Vec<[E; 5]> = (0..g.channels)
            .map(|c| {
                let s = inv_std[c].to_f64_lossless();
                let [sum_dy, sum_dy_dev] = sums[c];
                [
                    E::of(scale[c].to_f64_lossless() * s / n),
                    E::of(n),
                    E::of(sum_dy),
                    mean[c],
                    E::of(s * s * sum_dy_dev),
                ]
            })
            .collect();
        let per_image = g.channels * g.area;
        grad_x
            .par_chunks_mut(per_image)
            .enumerate()
            .for_each(|(img, gx)| {
                for c in 0..g.channels {
                    let r = plane(g, x, img, c);
                    plane_grad_input(
                        &x[r.clone()],
                        &y[r.clone()],
                        &grad_y[r],
                        coefficients[c],
                        relu,
                        accumulate,
                        &mut gx[c * g.area..(c + 1) * g.area],
                    );
                }
            });
    }
}

multiversion! {
    fn relu_backward_chunk<E>(y: &[E], grad_y: &[E], accumulate: bool, grad_x: &mut [E]) => relu_backward_impl
}

#[inline(always)]
fn relu_backward_impl<L: Level, E: Element>(
    y: &[E],
    grad_y: &[E],
    accumulate: bool,
    grad_x: &mut [E],
) {
    if accumulate {
        for i in 0..y.len() {
            grad_x[i] += masked(grad_y[i], y[i], true);
        }
    } else {
        for i in 0..y.len() {
            grad_x[i] = masked(grad_y[i], y[i], true);
        }
    }
}

/// `grad_y` masked by `y > 0`, added to `grad_x` when `accumulate`, else written over it (the
/// backward of a standalone ReLU).
pub fn relu_backward<E: Element>(y: &[E], grad_y: &[E], accumulate: bool, grad_x: &mut [E]) {
    grad_x
        .par_chunks_mut(4096)
        .zip(y.par_chunks(4096).zip(grad_y.par_chunks(4096)))
        .for_each(|(gx, (y, gy))| relu_backward_chunk(y, gy, accumulate, gx));
}
