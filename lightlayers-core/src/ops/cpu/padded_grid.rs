//! The padded grid of the stride-1 convolution kernels, and their zero-once scratch memory.
//!
//! A channel plane is stored zero-padded with rows of `PW = OW + KW − 1`. Computing outputs on
//! the same row length (`q = oy·PW + ox`, KW − 1 extra columns per row, dropped at the end),
//! output `q` reads input `q + ky·PW + kx` through kernel tap (`ky`, `kx`): every tap is one
//! contiguous shift, with no bounds logic in the inner loops.

use super::conv2d::copy_short;
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// Sizes of one convolution's padded planes and output grids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaddedGrid {
    in_h: usize,
    in_w: usize,
    out_w: usize,
    kernel_h: usize,
    kernel_w: usize,
    pad_top: usize,
    pad_left: usize,
    /// Row length of planes and grids.
    pub(crate) row: usize,
    /// Elements of one output grid: OH rows, rounded up to a multiple of the caller's block.
    pub(crate) grid: usize,
    /// Elements of one padded plane: enough for every tap's shifted read of a whole grid.
    pub(crate) plane: usize,
}

impl PaddedGrid {
    /// The grid of the stride-1 convolution `g`, its length rounded up to a multiple of `block`.
    pub(crate) fn new(g: &ConvGeometry, block: usize) -> Self {
        assert_eq!(g.stride, 1, "padded grid: stride 1");
        let row = g.out_w + g.kernel_w - 1;
        let grid = (g.out_h * row).next_multiple_of(block);
        Self {
            in_h: g.in_h,
            in_w: g.in_w,
            out_w: g.out_w,
            kernel_h: g.kernel_h,
            kernel_w: g.kernel_w,
            pad_top: g.pad_top,
            pad_left: g.pad_left,
            row,
            grid,
            plane: grid + (g.kernel_h - 1) * row + g.kernel_w - 1,
        }
    }

    /// Offset in a plane of every kernel tap, in `[ky][kx]` order.
    pub(crate) fn taps(&self) -> Vec<usize> {
        (0..self.kernel_h)
            .flat_map(|ky| (0..self.kernel_w).map(move |kx| ky * self.row + kx))
            .collect()
    }

    /// Copies every channel plane of `image` (C×H×W) inside the padding of consecutive planes
    /// of `planes`, whose padding is zero already (see [`Scratch`]).
    pub(crate) fn fill_planes<E: Element>(&self, image: &[E], planes: &mut [E]) {
        let area = self.in_h * self.in_w;
        let channels = image.len() / area;
        assert_eq!(image.len(), channels * area, "padded grid: image length");
        assert!(
            planes.len() >= channels * self.plane,
            "padded grid: planes length"
        );
        for (src, dst) in image
            .chunks_exact(area)
            .zip(planes.chunks_exact_mut(self.plane))
        {
            let rows = dst[self.pad_top * self.row..]
                .chunks_exact_mut(self.row)
                .take(self.in_h);
            for (row, src) in rows.zip(src.chunks_exact(self.in_w)) {
                copy_short(&mut row[self.pad_left..self.pad_left + self.in_w], src);
            }
        }
    }

    /// Copies an output plane `src` (OH×OW) into the valid columns of `grid`, whose other
    /// columns are zero already (see [`Scratch`]).
    pub(crate) fn fill_grid<E: Element>(&self, src: &[E], grid: &mut [E]) {
        for (dst, src) in grid
            .chunks_exact_mut(self.row)
            .zip(src.chunks_exact(self.out_w))
        {
            copy_short(&mut dst[..self.out_w], src);
        }
    }

    /// Writes (or adds, when `accumulate`) the valid columns of `grid` to `dst` (OH×OW).
    pub(crate) fn take_grid<E: Element>(&self, grid: &[E], accumulate: bool, dst: &mut [E]) {
        for (dst, src) in dst
            .chunks_exact_mut(self.out_w)
            .zip(grid.chunks_exact(self.row))
        {
            let src = &src[..self.out_w];
            if accumulate {
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
            } else {
                copy_short(dst, src);
            }
        }
    }
}

/// A stride-1 convolution kernel on the padded grid: a plan per convolution, scratch per
/// thread, one image per call.
pub(crate) trait GridPlan<E: Element>: Sync + Sized {
    /// The plan of convolution `g` with weights `w` (F × C/G × KH × KW).
    fn new(g: &ConvGeometry, w: &[E]) -> Self;
    /// The plan of `g` for [`GridPlan::accumulate_weight_gradient`] and
    /// [`GridPlan::unpack_into`] only, which need no weights: the forward's packed (or
    /// transformed) weights are not made, and [`GridPlan::run`] panics.
    fn for_weight_gradient(g: &ConvGeometry) -> Self;
    /// Scratch memory for [`GridPlan::run`].
    fn scratch(&self) -> Scratch<E>;
    /// Scratch memory for [`GridPlan::accumulate_weight_gradient`].
    fn weight_scratch(&self) -> Scratch<E>;
    /// `y = w ⋆ x` (or `y += w ⋆ x` when `accumulate`) for one image: `x` C×H×W, `y` F×OH×OW.
    fn run(&self, x: &[E], scratch: &mut Scratch<E>, accumulate: bool, y: &mut [E]);
    /// Adds one image's weight gradient to `partial`, in the plan's own layout: `x` is the
    /// image, `dy` the gradient at the output.
    fn accumulate_weight_gradient(
        &self,
        x: &[E],
        dy: &[E],
        scratch: &mut Scratch<E>,
        partial: &mut [E],
    );
    /// Adds `partial` (the plan's layout) to `grad_w` (the weights' layout).
    fn unpack_into(&self, partial: &[E], grad_w: &mut [E]);
}

/// Scratch memory of one kernel method, zeroed once when made. The methods write only the
/// inside of its padded planes and the valid columns of its grids, so the padding stays zero
/// from one image to the next and is never written again.
pub(crate) struct Scratch<E> {
    data: Vec<E>,
    /// The method it was made for: each lays the memory out differently.
    made_for: &'static str,
}

impl<E: Element> Scratch<E> {
    /// `len` zeros for `method`.
    pub(crate) fn zeroed(len: usize, method: &'static str) -> Self {
        Self {
            data: vec![E::zero(); len],
            made_for: method,
        }
    }

    /// The memory, for `method`, which must be the one it was made for.
    pub(crate) fn for_method(&mut self, method: &'static str) -> &mut [E] {
        assert_eq!(
            self.made_for, method,
            "scratch made for another kernel method"
        );
        &mut self.data
    }
}
