//! Stride-1 depthwise convolution on the padded grid (see `padded_grid`): each output channel
//! is a sum of KH·KW shifted copies of one padded input plane, so the inner loop is one long
//! vector multiply-add per tap, over a register block of outputs, with no bounds logic.
//!
//! The plan computes any grouped convolution whose groups have few input channels: the input
//! gradient of a depthwise convolution with a channel multiplier is one (each input channel
//! sums the gradients of its filters).
//!
//! Where the output rows are 8, 16 or 32 wide (CIFAR's), the forward sums the taps row by row
//! straight into the output plane, four rows' sums in registers: the grid's extra columns are
//! neither computed nor copied out.

use super::padded_grid::{GridPlan, PaddedGrid, Scratch};
use super::simd::{multiversion, Level};
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// Outputs per register block: four AVX-512 vectors of `f32`.
const BLOCK: usize = 64;

/// Output rows per register block of [`tap_rows`].
const ROWS: usize = 4;

/// Lanes of the running sums of [`tap_dots`].
const LANES: usize = 16;

const RUN: &str = "Depthwise::run";
const WEIGHT_GRADIENT: &str = "Depthwise::accumulate_weight_gradient";

/// A stride-1 grouped convolution with few input channels per group.
pub(crate) struct Depthwise<E> {
    g: ConvGeometry,
    grid: PaddedGrid,
    /// Plane offsets of the kernel taps, `[ky][kx]`.
    taps: Vec<usize>,
    /// Weights, F × C/G × KH × KW.
    w: Vec<E>,
    /// The forward's row kernel for this output width, where there is one (see the module
    /// docs); else the forward sums blocks of the grid.
    tap_rows: Option<TapRows<E>>,
}

impl<E: Element> Depthwise<E> {
    /// Whether this path computes the forward pass and gradients of `g`: a depthwise
    /// convolution (one input channel per group), stride 1.
    pub(crate) fn applies(g: &ConvGeometry) -> bool {
        g.stride == 1 && g.is_depthwise()
    }

    /// The plan of `g` with weights `w` (F × C/G × KH × KW; empty in a weight-gradient plan).
    fn with_weights(g: &ConvGeometry, w: Vec<E>) -> Self {
        assert_eq!(g.stride, 1, "depthwise: stride 1");
        let grid = PaddedGrid::new(g, BLOCK);
        let tap_rows = match g.out_w {
            32 => Some(tap_rows::<E, 32> as TapRows<E>),
            16 => Some(tap_rows::<E, 16> as TapRows<E>),
            8 => Some(tap_rows::<E, 8> as TapRows<E>),
            _ => None,
        };
        Self {
            g: *g,
            grid,
            taps: grid.taps(),
            w,
            tap_rows,
        }
    }

    /// Input channels of output channel `f`: (first channel, count).
    fn inputs_of(&self, f: usize) -> (usize, usize) {
        let gi = self.g.group_in();
        ((f / self.g.group_out()) * gi, gi)
    }
}

impl<E: Element> GridPlan<E> for Depthwise<E> {
    /// The grouped convolution `g` (stride 1) with weights `w` (F × C/G × KH × KW).
    fn new(g: &ConvGeometry, w: &[E]) -> Self {
        assert_eq!(
            w.len(),
            g.out_channels * g.group_in() * g.kernel_area(),
            "depthwise: weight length"
        );
        Self::with_weights(g, w.to_vec())
    }

    /// The weight-gradient plan of `g`, without weights.
    fn for_weight_gradient(g: &ConvGeometry) -> Self {
        Self::with_weights(g, Vec::new())
    }

    /// Scratch memory for [`Self::run`].
    fn scratch(&self) -> Scratch<E> {
        Scratch::zeroed(self.g.in_channels * self.grid.plane + self.grid.grid, RUN)
    }

    /// Scratch memory for [`Self::accumulate_weight_gradient`].
    fn weight_scratch(&self) -> Scratch<E> {
        Scratch::zeroed(
            self.g.in_channels * self.grid.plane + self.grid.grid,
            WEIGHT_GRADIENT,
        )
    }

    /// `y = w ⋆ x` (or `y += w ⋆ x` when `accumulate`) for one image: `x` C×H×W, `y` F×OH×OW.
    fn run(&self, x: &[E], scratch: &mut Scratch<E>, accumulate: bool, y: &mut [E]) {
        let (g, plane, ka) = (&self.g, self.grid.plane, self.g.kernel_area());
        assert_eq!(
            x.len(),
            g.in_channels * g.in_area(),
            "depthwise: input length"
        );
        assert_eq!(
            y.len(),
            g.out_channels * g.out_area(),
            "depthwise: output length"
        );
        assert!(
            !self.w.is_empty(),
            "depthwise: a weight-gradient plan has no forward"
        );
        let (padded, out) = scratch.for_method(RUN).split_at_mut(g.in_channels * plane);
        self.grid.fill_planes(x, padded);
        for (f, y) in y.chunks_exact_mut(g.out_area()).enumerate() {
            let (first, count) = self.inputs_of(f);
            for i in 0..count {
                let w = &self.w[(f * count + i) * ka..][..ka];
                let src = &padded[(first + i) * plane..][..plane];
                match self.tap_rows {
                    Some(tap_rows) => {
                        tap_rows(src, self.grid.row, &self.taps, w, accumulate || i > 0, y)
                    }
                    None => tap_sum(src, &self.taps, w, i > 0, out),
                }
            }
            if self.tap_rows.is_none() {
                self.grid.take_grid(out, accumulate, y);
            }
        }
    }

    /// Adds one image's weight gradient (F × C/G × KH × KW) to `partial`: `x` is the image,
    /// `dy` the gradient at the output.
    fn accumulate_weight_gradient(
        &self,
        x: &[E],
        dy: &[E],
        scratch: &mut Scratch<E>,
        partial: &mut [E],
    ) {
        let (g, plane, ka) = (&self.g, self.grid.plane, self.g.kernel_area());
        assert_eq!(
            x.len(),
            g.in_channels * g.in_area(),
            "depthwise: input length"
        );
        assert_eq!(
            dy.len(),
            g.out_channels * g.out_area(),
            "depthwise: gradient length"
        );
        assert_eq!(
            partial.len(),
            g.out_channels * g.group_in() * ka,
            "depthwise: partial length"
        );
        let (padded, dy_grid) = scratch
            .for_method(WEIGHT_GRADIENT)
            .split_at_mut(g.in_channels * plane);
        self.grid.fill_planes(x, padded);
        for (f, dy) in dy.chunks_exact(g.out_area()).enumerate() {
            self.grid.fill_grid(dy, dy_grid);
            let (first, count) = self.inputs_of(f);
            for i in 0..count {
                let sums = &mut partial[(f * count + i) * ka..][..ka];
                tap_dots(dy_grid, &padded[(first + i) * plane..], &self.taps, sums);
            }
        }
    }

    /// Adds a partial weight gradient to `grad_w`: both are in the weights' layout.
    fn unpack_into(&self, partial: &[E], grad_w: &mut [E]) {
        for (a, &b) in grad_w.iter_mut().zip(partial) {
            *a += b;
        }
    }
}

multiversion! {
    /// `out[q] (+)= Σ_t w[t] · src[q + taps[t]]` for every `q` of `out` (a multiple of
    /// [`BLOCK`] long).
    fn tap_sum<E>(src: &[E], taps: &[usize], w: &[E], accumulate: bool, out: &mut [E]) => tap_sum_impl
}

#[inline(always)]
fn tap_sum_impl<L: Level, E: Element>(
    src: &[E],
    taps: &[usize],
    w: &[E],
    accumulate: bool,
    out: &mut [E],
) {
    for (b, out) in out.chunks_exact_mut(BLOCK).enumerate() {
        let mut acc = [E::zero(); BLOCK];
        if accumulate {
            acc.copy_from_slice(out);
        }
        for (&tap, &wv) in taps.iter().zip(w) {
            let s: &[E; BLOCK] = src[b * BLOCK + tap..][..BLOCK].try_into().expect("block");
            for l in 0..BLOCK {
                acc[l] = L::fma(wv, s[l], acc[l]);
            }
        }
        out.copy_from_slice(&acc);
    }
}

/// The signature of [`tap_rows`]: plane, its row length, taps, weights, whether to add to
/// the output, output plane.
type TapRows<E> = fn(&[E], usize, &[usize], &[E], bool, &mut [E]);

multiversion! {
    /// `out[oy][ox] (+)= Σ_t w[t] · src[oy·row + ox + taps[t]]` for the rows of `out`, each `W`
    /// wide.
    fn tap_rows<E, const W: usize>(src: &[E], row: usize, taps: &[usize], w: &[E], accumulate: bool, out: &mut [E]) => tap_rows_impl
}

#[inline(always)]
fn tap_rows_impl<L: Level, E: Element, const W: usize>(
    src: &[E],
    row: usize,
    taps: &[usize],
    w: &[E],
    accumulate: bool,
    out: &mut [E],
) {
    // four rows at a time: one row's sums are one chain of dependent multiply-adds
    let first = out.len() / (ROWS * W) * ROWS;
    let mut blocks = out.chunks_exact_mut(ROWS * W);
    for (b, out) in blocks.by_ref().enumerate() {
        rows_block::<L, E, W, ROWS>(src, row, b * ROWS, taps, w, accumulate, out);
    }
    for (i, out) in blocks.into_remainder().chunks_exact_mut(W).enumerate() {
        rows_block::<L, E, W, 1>(src, row, first + i, taps, w, accumulate, out);
    }
}

/// `N` output rows from row `oy` of [`tap_rows`], their sums in registers.
#[inline(always)]
fn rows_block<L: Level, E: Element, const W: usize, const N: usize>(
    src: &[E],
    row: usize,
    oy: usize,
    taps: &[usize],
    w: &[E],
    accumulate: bool,
    out: &mut [E],
) {
    let mut acc = [[E::zero(); W]; N];
    if accumulate {
        for (acc, out) in acc.iter_mut().zip(out.chunks_exact(W)) {
            acc.copy_from_slice(out);
        }
    }
    for (&tap, &wv) in taps.iter().zip(w) {
        for (r, acc) in acc.iter_mut().enumerate() {
            let s: &[E; W] = src[(oy + r) * row + tap..][..W].try_into().expect("row");
            for l in 0..W {
                acc[l] = L::fma(wv, s[l], acc[l]);
            }
        }
    }
    for (acc, out) in acc.iter().zip(out.chunks_exact_mut(W)) {
        out.copy_from_slice(acc);
    }
}

multiversion! {
    /// `sums[t] += Σ_q d[q] · src[q + taps[t]]` over every `q` of `d` (a multiple of
    /// [`LANES`] long).
    fn tap_dots<E>(d: &[E], src: &[E], taps: &[usize], sums: &mut [E]) => tap_dots_impl
}

#[inline(always)]
fn tap_dots_impl<L: Level, E: Element>(d: &[E], src: &[E], taps: &[usize], sums: &mut [E]) {
    for (&tap, sum) in taps.iter().zip(sums) {
        let mut lanes = [E::zero(); LANES];
        for (dc, sc) in d
            .chunks_exact(LANES)
            .zip(src[tap..][..d.len()].chunks_exact(LANES))
        {
            for l in 0..LANES {
                lanes[l] = L::fma(dc[l], sc[l], lanes[l]);
            }
        }
        *sum += lanes.iter().fold(E::zero(), |a, &b| a + b);
    }
}
