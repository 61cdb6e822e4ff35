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

/// Outputs per vectorised block of the 2×2 pool.
const POOL_BLOCK: usize = 8;

/// [`POOL_BLOCK`] windows of a 2×2 pool from two input rows: the maxima, and per window the
/// offset from its top-left input of the first position in reading order that holds the
/// maximum, as in TensorFlow. Written as separate passes of plain selects, which LLVM turns
/// into vector shuffles, compares and blends (an `if`/`else if` chain stays scalar).
#[inline(always)]
fn pool_block_2x2<E: Element>(
    r0: &[E; 2 * POOL_BLOCK],
    r1: &[E; 2 * POOL_BLOCK],
    w: u32,
    first: u32,
    y: &mut [E; POOL_BLOCK],
    arg: &mut [u32; POOL_BLOCK],
) {
    let a: [E; POOL_BLOCK] = std::array::from_fn(|l| r0[2 * l]);
    let b: [E; POOL_BLOCK] = std::array::from_fn(|l| r0[2 * l + 1]);
    let c: [E; POOL_BLOCK] = std::array::from_fn(|l| r1[2 * l]);
    let d: [E; POOL_BLOCK] = std::array::from_fn(|l| r1[2 * l + 1]);
    for l in 0..POOL_BLOCK {
        y[l] = a[l].max(b[l]).max(c[l].max(d[l]));
    }
    for l in 0..POOL_BLOCK {
        let m = y[l];
        let offset = if c[l] == m { w } else { w + 1 };
        let offset = if b[l] == m { 1 } else { offset };
        let offset = if a[l] == m { 0 } else { offset };
        arg[l] = first + 2 * l as u32 + offset;
    }
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
            let base = 2 * oy * w;
            let (r0, r1) = (&x[base..base + w], &x[base + w..base + 2 * w]);
            let whole = ow - ow % POOL_BLOCK;
            for ox0 in (0..whole).step_by(POOL_BLOCK) {
                let (y, a) = (
                    &mut yrow[ox0..][..POOL_BLOCK],
                    &mut arow[ox0..][..POOL_BLOCK],
                );
                pool_block_2x2(
                    r0[2 * ox0..][..2 * POOL_BLOCK].try_into().expect("block"),
                    r1[2 * ox0..][..2 * POOL_BLOCK].try_into().expect("block"),
                    w as u32,
                    (base + 2 * ox0) as u32,
                    y.try_into().expect("block"),
                    a.try_into().expect("block"),
                );
            }
            if whole < ow {
                // the last windows of the row through a zero-filled block, as vectors too
                let n = ow - whole;
                let (mut t0, mut t1) = ([E::zero(); 2 * POOL_BLOCK], [E::zero(); 2 * POOL_BLOCK]);
                t0[..2 * n].copy_from_slice(&r0[2 * whole..][..2 * n]);
                t1[..2 * n].copy_from_slice(&r1[2 * whole..][..2 * n]);
                let (mut ty, mut ta) = ([E::zero(); POOL_BLOCK], [0; POOL_BLOCK]);
                pool_block_2x2(
                    &t0,
                    &t1,
                    w as u32,
                    (base + 2 * whole) as u32,
                    &mut ty,
                    &mut ta,
                );
                yrow[whole..].copy_from_slice(&ty[..n]);
                arow[whole..].copy_from_slice(&ta[..n]);
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

/// Adds each output gradient to the input position that produced the maximum, in `grad_x` as
/// it is when `accumulate`, else in `grad_x` zeroed first.
pub fn max_pool2d_backward<E: Element>(
    g: &PoolGeometry,
    argmax: &[u32],
    grad_y: &[E],
    accumulate: bool,
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
        if !accumulate {
            grad_x.fill(E::zero());
        }
        return;
    }
    grad_x
        .par_chunks_mut(in_area)
        .zip(grad_y.par_chunks(out_area).zip(argmax.par_chunks(out_area)))
        .for_each(|(gx, (gy, arg))| {
            if !accumulate {
                gx.fill(E::zero());
            }
            for (&d, &i) in gy.iter().zip(arg) {
                gx[i as usize] += d;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ties everywhere (three values) and some NaNs, on widths that take whole vector blocks,
    /// the zero-filled last block, or both: each window's maximum ignores NaNs (unless all are
    /// NaN) and its argmax is the first position in reading order that holds it.
    #[test]
    fn two_by_two_picks_the_first_maximum_in_reading_order() {
        let mut state = 12345u32;
        let mut next = move || {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            state >> 16
        };
        for in_w in [2, 6, 14, 16, 18, 28, 32, 34] {
            let g = PoolGeometry {
                planes: 3,
                in_h: 6,
                in_w,
                size: 2,
            };
            let x: Vec<f32> = (0..g.planes * g.in_h * in_w)
                .map(|_| match next() % 16 {
                    0 => f32::NAN,
                    v => (v % 3) as f32,
                })
                .collect();
            let out = g.planes * g.out_h() * g.out_w();
            let (mut y, mut arg) = (vec![0.0; out], vec![0; out]);
            max_pool2d_forward(&g, &x, &mut y, &mut arg);
            let mut o = 0;
            for plane in x.chunks(g.in_h * in_w) {
                for oy in 0..g.out_h() {
                    for ox in 0..g.out_w() {
                        let top_left = 2 * oy * in_w + 2 * ox;
                        let window = [top_left, top_left + 1, top_left + in_w, top_left + in_w + 1];
                        let m = window.iter().fold(f32::NAN, |m, &i| m.max(plane[i]));
                        let first = window.iter().find(|&&i| plane[i] == m);
                        assert_eq!(y[o].to_bits(), m.to_bits(), "width {in_w}, output {o}");
                        assert_eq!(
                            arg[o] as usize,
                            *first.unwrap_or(&window[3]),
                            "width {in_w}, output {o}"
                        );
                        o += 1;
                    }
                }
            }
        }
    }
}
