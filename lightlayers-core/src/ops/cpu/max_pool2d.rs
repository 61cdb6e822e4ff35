//! Max pooling with a square window and a stride equal to the window (floor), one plane at a
//! time in parallel. The forward remembers where each maximum came from, so the backward is a
//! scatter; ties go to the first maximum in reading order, as in TensorFlow.

use rayon::prelude::*;

use super::simd::{multiversion, Level};
use crate::Element;

/// Sizes of one pooling: `planes` = batch × channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Batch × channels.
    pub planes: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Window side (and stride).
    pub size: usize,
}

impl PoolGeometry {
    /// Output height.
    pub fn out_h(&self) -> usize {
        self.in_h / self.size
    }
    /// Output width.
    pub fn out_w(&self) -> usize {
        self.in_w / self.size
    }
}

/// Writes the maxima into `y` and, per output, the index within its input plane that won.
pub fn max_pool2d_forward<E: Element>(g: &PoolGeometry, x: &[E], y: &mut [E], argmax: &mut [u32]) {
    let (in_area, out_area) = (g.in_h * g.in_w, g.out_h() * g.out_w());
    assert_eq!(x.len(), g.planes * in_area, "max_pool2d: input length");
    assert_eq!(y.len(), g.planes * out_area, "max_pool2d: output length");
    assert_eq!(argmax.len(), y.len(), "max_pool2d: argmax length");
    assert!(in_area <= u32::MAX as usize, "max_pool2d: plane too large");
    if out_area == 0 {
        return;
    }
    // planes per parallel task: enough work per task to amortise rayon's scheduling
    let per_task = (16 * 1024 / in_area).max(1);
    y.par_chunks_mut(out_area * per_task)
        .zip(argmax.par_chunks_mut(out_area * per_task))
        .zip(x.par_chunks(in_area * per_task))
        .for_each(|((y, arg), x)| {
            for ((y, arg), x) in y
                .chunks_mut(out_area)
                .zip(arg.chunks_mut(out_area))
                .zip(x.chunks(in_area))
            {
                pool_plane(g, x, y, arg);
            }
        });
}

multiversion! {
    fn pool_plane<E>(g: &PoolGeometry, x: &[E], y: &mut [E], arg: &mut [u32]) => pool_plane_impl
}

/// `a` replaced by `b` (at index `j`) when `b` is greater or is a NaN where `a` is not.
#[inline(always)]
fn keep_max<E: Element>(best: (E, u32), b: E, j: u32) -> (E, u32) {
    if b > best.0 || (b.is_nan() && !best.0.is_nan()) {
        (b, j)
    } else {
        best
    }
}

#[inline(always)]
fn pool_plane_impl<L: Level, E: Element>(g: &PoolGeometry, x: &[E], y: &mut [E], arg: &mut [u32]) {
    let (ow, s, w) = (g.out_w(), g.size, g.in_w);
    for oy in 0..g.out_h() {
        let (yrow, arow) = (&mut y[oy * ow..][..ow], &mut arg[oy * ow..][..ow]);
        if s == 2 {
            // values first (a vectorisable pass), then where each came from: the first
            // position in reading order that holds the maximum, as in TensorFlow
            let base = 2 * oy * w;
            let (r0, r1) = (&x[base..base + w], &x[base + w..base + 2 * w]);
            for (ox, y) in yrow.iter_mut().enumerate() {
                let i = 2 * ox;
                *y = r0[i].max(r0[i + 1]).max(r1[i].max(r1[i + 1]));
            }
            for (ox, (a, &m)) in arow.iter_mut().zip(yrow.iter()).enumerate() {
                let i = 2 * ox;
                let offset = if r0[i] == m {
                    0
                } else if r0[i + 1] == m {
                    1
                } else if r1[i] == m {
                    w
                } else {
                    w + 1
                };
                *a = (base + i + offset) as u32;
            }
        } else {
            for ox in 0..ow {
                let first = oy * s * w + ox * s;
                let mut best = (x[first], first as u32);
                for dy in 0..s {
                    let row = (oy * s + dy) * w + ox * s;
                    for (i, &v) in x.iter().enumerate().skip(row).take(s) {
                        best = keep_max(best, v, i as u32);
                    }
                }
                yrow[ox] = best.0;
                arow[ox] = best.1;
            }
        }
    }
}

/// Adds each output gradient to the input position that produced the maximum.
pub fn max_pool2d_backward<E: Element>(
    g: &PoolGeometry,
    argmax: &[u32],
    grad_y: &[E],
    grad_x: &mut [E],
) {
    let (in_area, out_area) = (g.in_h * g.in_w, g.out_h() * g.out_w());
    assert_eq!(
        grad_x.len(),
        g.planes * in_area,
        "max_pool2d backward: input gradient length"
    );
    assert_eq!(
        grad_y.len(),
        argmax.len(),
        "max_pool2d backward: output gradient length"
    );
    if out_area == 0 {
        return;
    }
    grad_x
        .par_chunks_mut(in_area)
        .zip(grad_y.par_chunks(out_area).zip(argmax.par_chunks(out_area)))
        .for_each(|(gx, (gy, arg))| {
            for (&d, &i) in gy.iter().zip(arg) {
                gx[i as usize] += d;
            }
        });
}
