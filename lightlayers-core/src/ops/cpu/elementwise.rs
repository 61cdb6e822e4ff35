//! Elementwise passes of the CPU pipeline: ReLU, residual addition, gradient masking and
//! accumulation, parallel over blocks and vectorised per block.

use rayon::prelude::*;

use super::simd::{multiversion, Level};
use crate::Element;

/// Elements per parallel block.
const BLOCK: usize = 16 * 1024;

multiversion! {
    fn relu_block<E>(x: &[E], y: &mut [E]) => relu_impl
}

#[inline(always)]
fn relu_impl<L: Level, E: Element>(x: &[E], y: &mut [E]) {
    y.iter_mut()
        .zip(x)
        .for_each(|(y, &x)| *y = x.max(E::zero()));
}

/// `y = max(x, 0)`.
pub fn relu<E: Element>(x: &[E], y: &mut [E]) {
    assert_eq!(x.len(), y.len(), "relu: lengths");
    y.par_chunks_mut(BLOCK)
        .zip(x.par_chunks(BLOCK))
        .for_each(|(y, x)| relu_block(x, y));
}

multiversion! {
    fn add_block<E>(a: &[E], b: &[E], relu: bool, y: &mut [E]) => add_impl
}

#[inline(always)]
fn add_impl<L: Level, E: Element>(a: &[E], b: &[E], relu: bool, y: &mut [E]) {
    if relu {
        for i in 0..y.len() {
            y[i] = (a[i] + b[i]).max(E::zero());
        }
    } else {
        for i in 0..y.len() {
            y[i] = a[i] + b[i];
        }
    }
}

/// `y = a + b`, then ReLU if asked.
pub fn add<E: Element>(a: &[E], b: &[E], relu: bool, y: &mut [E]) {
    assert!(a.len() == y.len() && b.len() == y.len(), "add: lengths");
    y.par_chunks_mut(BLOCK)
        .zip(a.par_chunks(BLOCK).zip(b.par_chunks(BLOCK)))
        .for_each(|(y, (a, b))| add_block(a, b, relu, y));
}

multiversion! {
    fn mask_block<E>(y: &[E], grad: &mut [E]) => mask_impl
}

#[inline(always)]
fn mask_impl<L: Level, E: Element>(y: &[E], grad: &mut [E]) {
    for i in 0..grad.len() {
        if y[i] <= E::zero() {
            grad[i] = E::zero();
        }
    }
}

/// Zeroes `grad` where `y` (a ReLU's output) is not positive.
pub fn mask_by_positive<E: Element>(y: &[E], grad: &mut [E]) {
    assert_eq!(y.len(), grad.len(), "mask: lengths");
    grad.par_chunks_mut(BLOCK)
        .zip(y.par_chunks(BLOCK))
        .for_each(|(g, y)| mask_block(y, g));
}

multiversion! {
    fn add_assign_block<E>(dst: &mut [E], src: &[E]) => add_assign_impl
}

#[inline(always)]
fn add_assign_impl<L: Level, E: Element>(dst: &mut [E], src: &[E]) {
    for i in 0..dst.len() {
        dst[i] += src[i];
    }
}

/// `dst += src`.
pub fn accumulate<E: Element>(dst: &mut [E], src: &[E]) {
    assert_eq!(dst.len(), src.len(), "accumulate: lengths");
    dst.par_chunks_mut(BLOCK)
        .zip(src.par_chunks(BLOCK))
        .for_each(|(d, s)| add_assign_block(d, s));
}

/// `dst = src`, split over the threads.
pub fn copy<E: Element>(dst: &mut [E], src: &[E]) {
    assert_eq!(dst.len(), src.len(), "copy: lengths");
    dst.par_chunks_mut(BLOCK)
        .zip(src.par_chunks(BLOCK))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

multiversion! {
    /// `y = y + b`, then ReLU if asked (one plane, on the calling thread).
    pub(crate) fn bias_relu<E>(y: &mut [E], b: E, relu: bool) => bias_relu_impl
}

#[inline(always)]
fn bias_relu_impl<L: Level, E: Element>(y: &mut [E], b: E, relu: bool) {
    if relu {
        y.iter_mut().for_each(|v| *v = (*v + b).max(E::zero()));
    } else {
        y.iter_mut().for_each(|v| *v += b);
    }
}
