//! Keras's initialisers, as dfdx reset functions.

use dfdx::prelude::*;
use rand_distr::Uniform;

use crate::Element;

/// Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).
pub(crate) fn glorot_uniform<S: Shape, E: Element, D: Device<E>>(
    t: &mut Tensor<S, E, D>,
    fan_in: usize,
    fan_out: usize,
) -> Result<(), D::Err> {
    let limit = E::of((6.0 / (fan_in + fan_out) as f64).sqrt());
    t.try_fill_with_distr(Uniform::new_inclusive(-limit, limit))
}

/// Glorot uniform for a convolution kernel stored F×C×KH×KW (Keras stores KH×KW×C×F:
/// fan_in = KH·KW·C, fan_out = KH·KW·F).
pub(crate) fn conv_kernel<const F: usize, const C: usize, const KH: usize, const KW: usize, E, D>(
    t: &mut Tensor<Rank4<F, C, KH, KW>, E, D>,
) -> Result<(), D::Err>
where
    E: Element,
    D: Device<E>,
{
    glorot_uniform(t, KH * KW * C, KH * KW * F)
}

/// Glorot uniform for a depthwise kernel stored C×1×KH×KW (Keras: KH×KW×C×1, so
/// fan_in = KH·KW·C and fan_out = KH·KW).
pub(crate) fn depthwise_kernel<const C: usize, const KH: usize, const KW: usize, E, D>(
    t: &mut Tensor<Rank4<C, 1, KH, KW>, E, D>,
) -> Result<(), D::Err>
where
    E: Element,
    D: Device<E>,
{
    glorot_uniform(t, KH * KW * C, KH * KW)
}

/// Glorot uniform for a dense kernel stored I×O, as Keras does.
pub(crate) fn dense_kernel<const I: usize, const O: usize, E: Element, D: Device<E>>(
    t: &mut Tensor<Rank2<I, O>, E, D>,
) -> Result<(), D::Err> {
    glorot_uniform(t, I, O)
}
