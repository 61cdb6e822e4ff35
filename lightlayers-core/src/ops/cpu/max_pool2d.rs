//! Max pooling with a square window and a stride equal to the window (floor), one plane at a
//! time in parallel. The forward remembers where each maximum came from, so the backward is a
//! scatter; ties go to the first maximum in reading order, as in TensorFlow.

use rayon::prelude::*;

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
    let (ow, s) = (g.out_w(), g.size);
    y.par_chunks_mut(out_area)
        .zip(argmax.par_chunks_mut(out_area))
        .zip(x.par_chunks(in_area))
        .for_each(|((y, arg), x)| {
            for oy in 0..g.out_h() {
                for ox in 0..ow {
                    let mut best = (oy * s) * g.in_w + ox * s;
                    for dy in 0..s {
                        let row = (oy * s + dy) * g.in_w + ox * s;
                        for i in row..row + s {
                            // NaN propagates: a NaN input wins so training sees it
                            if x[i] > x[best] || (x[i].is_nan() && !x[best].is_nan()) {
                                best = i;
                            }
                        }
                    }
                    y[oy * ow + ox] = x[best];
                    arg[oy * ow + ox] = best as u32;
                }
            }
        });
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
