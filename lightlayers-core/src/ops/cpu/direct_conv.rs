//! Direct convolution for stride 1 and one group, the case of every paper model: a register
//! block of up to 8 filters × 16 or 32 output columns accumulates over input channels and kernel
//! taps, reading a zero-padded copy of the image so the inner loops have no bounds logic.
//!
//! The same kernel computes the input gradient: it is the convolution of the output gradient
//! with the kernel flipped and its channel axes swapped.

use super::conv2d::{copy_short, flipped_kernel, zero_short};
use super::simd::{multiversion, Level};
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// Output columns per register tile.
pub(crate) const TILE: usize = 16;

/// Filters per register block. More than four accumulator rows make LLVM give up on keeping
/// them in registers (measured: 2 GFLOP/s at eight, 70–98 at four); a remainder of one to three
/// filters gets a block of its own size.
const FB: usize = 4;

/// The filter blocks of `filters` output channels: (first filter, block size).
fn filter_blocks(filters: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..filters)
        .step_by(FB)
        .map(move |f0| (f0, FB.min(filters - f0)))
}

/// A convolution prepared for the direct kernel: packed weights and padded sizes.
pub(crate) struct DirectPlan<E> {
    /// Weights as `[filter block][channel][ky][kx][filter in block]`, zero for missing filters.
    packed: Vec<E>,
    in_channels: usize,
    out_channels: usize,
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
    kh: usize,
    kw: usize,
    pad_top: usize,
    pad_left: usize,
}

impl<E: Element> DirectPlan<E> {
    /// Whether the direct kernel computes the forward pass of this convolution: for few filters
    /// (a LightConv's rank) on wide maps, where the products of `ShiftedConv` get too little
    /// work per column. Measured (benches/ops.rs, batch 64, two threads), direct against
    /// shifted: 8→3 at 28×28 82 against 50 GFLOP/s, 16→1 at 32×32 55 against 34; but 16→3 at
    /// 14×14 58 against 73.
    pub(crate) fn forward_applies(g: &ConvGeometry) -> bool {
        g.stride == 1 && g.groups == 1 && g.out_channels <= 4 && g.out_w >= 24
    }

    /// Whether the direct kernels compute the backward pass of this convolution: for few
    /// filters from few channels on wide maps, where the products of `ShiftedConv` have an
    /// inner dimension of a handful. Measured (benches/ops.rs, batch 64, two threads), direct
    /// against shifted: 1→8 at 28×28 33 against 13 GFLOP/s, 3→8 54 against 33; but from 8 or
    /// more channels shifted wins: 8→8 at 28×28 52 against 68, 16→5 at 32×32 53 against 114.
    pub(crate) fn backward_applies(g: &ConvGeometry) -> bool {
        g.stride == 1
            && g.groups == 1
            && g.kernel_h == g.kernel_w
            && matches!(g.kernel_h, 1 | 3)
            && g.out_channels <= 8
            && g.in_channels <= 4
            && g.out_w >= 14
    }

    /// The forward convolution of `g` with kernel `w` (F×C×KH×KW).
    pub(crate) fn forward(g: &ConvGeometry, w: &[E]) -> Self {
        let (f, c, kh, kw) = (g.out_channels, g.in_channels, g.kernel_h, g.kernel_w);
        let packed = pack(f, c, kh, kw, |fi, ci, ky, kx| {
            w[((fi * c + ci) * kh + ky) * kw + kx]
        });
        Self {
            packed,
            in_channels: c,
            out_channels: f,
            in_h: g.in_h,
            in_w: g.in_w,
            out_h: g.out_h,
            out_w: g.out_w,
            kh,
            kw,
            pad_top: g.pad_top,
            pad_left: g.pad_left,
        }
    }

    /// The convolution giving the input gradient of `g` (stride 1) from its output gradient.
    pub(crate) fn input_gradient(g: &ConvGeometry, w: &[E]) -> Self {
        let transposed = g.input_gradient().expect("direct conv: stride 1");
        Self::forward(&transposed, &flipped_kernel(g, w))
    }

    fn padded_h(&self) -> usize {
        self.out_h + self.kh - 1
    }

    fn padded_w(&self) -> usize {
        // the widest register block is two tiles
        self.out_w.div_ceil(2 * TILE) * 2 * TILE + self.kw - 1
    }

    /// Scratch length for one padded image.
    pub(crate) fn scratch_len(&self) -> usize {
        self.in_channels * self.padded_h() * self.padded_w()
    }

    /// Convolves one image `x` (C×H×W) into `y` (F×OH×OW): `y = act(w ⋆ x + b)`, or
    /// `y += w ⋆ x` when `accumulate` (then bias and ReLU must be off).
    pub(crate) fn run(
        &self,
        x: &[E],
        scratch: &mut [E],
        bias: Option<&[E]>,
        relu: bool,
        accumulate: bool,
        y: &mut [E],
    ) {
        assert_eq!(
            x.len(),
            self.in_channels * self.in_h * self.in_w,
            "direct conv: input length"
        );
        assert_eq!(
            y.len(),
            self.out_channels * self.out_h * self.out_w,
            "direct conv: output length"
        );
        assert!(
            scratch.len() >= self.scratch_len(),
            "direct conv: scratch too small"
        );
        assert!(
            !accumulate || (bias.is_none() && !relu),
            "direct conv: accumulate takes no bias or ReLU"
        );
        self.pad(x, scratch);
        conv_image(self, scratch, accumulate, y);
        if bias.is_some() || relu {
            let plane = self.out_h * self.out_w;
            for (f, out) in y.chunks_mut(plane).enumerate() {
                super::elementwise::bias_relu(out, bias.map_or(E::zero(), |b| b[f]), relu);
            }
        }
    }

    fn pad(&self, x: &[E], out: &mut [E]) {
        let (hp, wp) = (self.padded_h(), self.padded_w());
        for c in 0..self.in_channels {
            for r in 0..hp {
                let row = &mut out[(c * hp + r) * wp..][..wp];
                let src = r.checked_sub(self.pad_top).filter(|&iy| iy < self.in_h);
                match src {
                    None => zero_short(row),
                    Some(iy) => {
                        let lo = self.pad_left.min(wp);
                        let hi = (self.pad_left + self.in_w).min(wp);
                        zero_short(&mut row[..lo]);
                        zero_short(&mut row[hi..]);
                        copy_short(
                            &mut row[lo..hi],
                            &x[(c * self.in_h + iy) * self.in_w..][..hi - lo],
                        );
                    }
                }
            }
        }
    }
}

/// Packs `weight(f, c, ky, kx)` block by block ([`filter_blocks`]): a block of `n` filters
/// starting at `f0` occupies `[f0·C·KH·KW ..][c][ky][kx][n]`.
fn pack<E: Element>(
    f: usize,
    c: usize,
    kh: usize,
    kw: usize,
    weight: impl Fn(usize, usize, usize, usize) -> E,
) -> Vec<E> {
    let mut packed = vec![E::zero(); f * c * kh * kw];
    for (f0, n) in filter_blocks(f) {
        for ci in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    for j in 0..n {
                        packed[f0 * c * kh * kw + ((ci * kh + ky) * kw + kx) * n + j] =
                            weight(f0 + j, ci, ky, kx);
                    }
                }
            }
        }
    }
    packed
}

multiversion! {
    fn conv_block<E, const N: usize, const TL: usize, const K: usize>(
        plan: &DirectPlan<E>,
        f0: usize,
        xpad: &[E],
        accumulate: bool,
        y: &mut [E],
    ) => conv_block_impl
}

/// Runs every filter block with the kernel variant for its size, the kernel size and the
/// output width (two tiles per row block when the row is wider than one).
fn conv_image<E: Element>(plan: &DirectPlan<E>, xpad: &[E], accumulate: bool, y: &mut [E]) {
    let wide = plan.out_w > TILE;
    for (f0, n) in filter_blocks(plan.out_channels) {
        macro_rules! go {
            ($k:literal) => {
                match (n, wide) {
                    (1, false) => conv_block::<E, 1, 1, $k>(plan, f0, xpad, accumulate, y),
                    (1, true) => conv_block::<E, 1, 2, $k>(plan, f0, xpad, accumulate, y),
                    (2, false) => conv_block::<E, 2, 1, $k>(plan, f0, xpad, accumulate, y),
                    (2, true) => conv_block::<E, 2, 2, $k>(plan, f0, xpad, accumulate, y),
                    (3, false) => conv_block::<E, 3, 1, $k>(plan, f0, xpad, accumulate, y),
                    (3, true) => conv_block::<E, 3, 2, $k>(plan, f0, xpad, accumulate, y),
                    (_, false) => conv_block::<E, 4, 1, $k>(plan, f0, xpad, accumulate, y),
                    (_, true) => conv_block::<E, 4, 2, $k>(plan, f0, xpad, accumulate, y),
                }
            };
        }
        match (plan.kh, plan.kw) {
            (1, 1) => go!(1),
            (3, 3) => go!(3),
            _ => go!(0),
        }
    }
}

/// The register-blocked kernel for the `N` filters from `f0`; `K == 0` means the kernel size is
/// only known at run time.
#[inline(always)]
fn conv_block_impl<L: Level, E: Element, const N: usize, const TL: usize, const K: usize>(
    plan: &DirectPlan<E>,
    f0: usize,
    xpad: &[E],
    accumulate: bool,
    y: &mut [E],
) {
    let (hp, wp) = (plan.padded_h(), plan.padded_w());
    let (c_in, kh, kw) = (
        plan.in_channels,
        if K == 0 { plan.kh } else { K },
        if K == 0 { plan.kw } else { K },
    );
    let (oh, ow) = (plan.out_h, plan.out_w);
    let weights = &plan.packed[f0 * c_in * kh * kw..][..N * c_in * kh * kw];
    let width = TILE * TL;
    for oy in 0..oh {
        for ox0 in (0..ow).step_by(width) {
            let mut acc = [[[E::zero(); TILE]; TL]; N];
            for ci in 0..c_in {
                for ky in 0..kh {
                    let row = &xpad[(ci * hp + oy + ky) * wp + ox0..][..width + kw - 1];
                    let taps = &weights[(ci * kh + ky) * kw * N..][..kw * N];
                    for kx in 0..kw {
                        for t in 0..TL {
                            let xv: &[E; TILE] =
                                row[kx + t * TILE..][..TILE].try_into().expect("tile");
                            for j in 0..N {
                                let w = taps[kx * N + j];
                                for l in 0..TILE {
                                    acc[j][t][l] = L::fma(w, xv[l], acc[j][t][l]);
                                }
                            }
                        }
                    }
                }
            }
            let n = width.min(ow - ox0);
            for (j, acc) in acc.iter().enumerate() {
                let out = &mut y[((f0 + j) * oh + oy) * ow + ox0..][..n];
                let flat = acc.as_flattened();
                if accumulate {
                    out.iter_mut().zip(flat).for_each(|(o, &a)| *o += a);
                } else {
                    copy_short(out, &flat[..n]);
                }
            }
        }
    }
}

impl<E: Element> DirectPlan<E> {
    /// Row stride of the padded output gradient.
    fn grad_row(&self) -> usize {
        self.out_w.div_ceil(TILE) * TILE
    }

    /// Scratch length for one padded output gradient.
    pub(crate) fn grad_scratch_len(&self) -> usize {
        self.out_channels * self.out_h * self.grad_row()
    }

    /// Adds one image's contribution to the weight gradient (F×C×K×K) of this forward plan,
    /// from its input `x` and output gradient `dy`.
    pub(crate) fn accumulate_weight_gradient(
        &self,
        x: &[E],
        dy: &[E],
        xpad: &mut [E],
        dypad: &mut [E],
        dw: &mut [E],
    ) {
        assert!(
            self.kh == self.kw && matches!(self.kh, 1 | 3),
            "direct weight gradient: unsupported kernel"
        );
        assert_eq!(
            dy.len(),
            self.out_channels * self.out_h * self.out_w,
            "direct weight gradient: dy length"
        );
        assert_eq!(
            dw.len(),
            self.out_channels * self.in_channels * self.kh * self.kw,
            "direct weight gradient: dw length"
        );
        self.pad(x, xpad);
        let row = self.grad_row();
        for (f, plane) in dy.chunks(self.out_h * self.out_w).enumerate() {
            for (oy, src) in plane.chunks(self.out_w).enumerate() {
                let dst = &mut dypad[(f * self.out_h + oy) * row..][..row];
                copy_short(&mut dst[..self.out_w], src);
                zero_short(&mut dst[self.out_w..]);
            }
        }
        for (f0, n) in filter_blocks(self.out_channels) {
            macro_rules! go {
                ($k:literal) => {
                    match n {
                        1 => weight_grad::<E, 1, $k>(self, f0, xpad, dypad, dw),
                        2 => weight_grad::<E, 2, $k>(self, f0, xpad, dypad, dw),
                        3 => weight_grad::<E, 3, $k>(self, f0, xpad, dypad, dw),
                        _ => weight_grad::<E, 4, $k>(self, f0, xpad, dypad, dw),
                    }
                };
            }
            match self.kh {
                1 => go!(1),
                _ => go!(3),
            }
        }
    }
}

multiversion! {
    fn weight_grad<E, const N: usize, const K: usize>(plan: &DirectPlan<E>, f0: usize, xpad: &[E], dypad: &[E], dw: &mut [E]) => weight_grad_impl
}

/// `dW[f][c][ky][kx] += Σ dy[f, oy, ox]·x[c, oy + ky, ox + kx]` for the `N` filters from `f0`,
/// with `N` filters × `K` column shifts of accumulators per pass over the rows.
#[inline(always)]
fn weight_grad_impl<L: Level, E: Element, const N: usize, const K: usize>(
    plan: &DirectPlan<E>,
    f0: usize,
    xpad: &[E],
    dypad: &[E],
    dw: &mut [E],
) {
    let (hp, wp) = (plan.padded_h(), plan.padded_w());
    let (oh, ow, row) = (plan.out_h, plan.out_w, plan.grad_row());
    let c_total = plan.in_channels;
    for c in 0..c_total {
        for ky in 0..K {
            let mut acc = [[[E::zero(); TILE]; K]; N];
            for oy in 0..oh {
                let xrow = &xpad[(c * hp + oy + ky) * wp..][..wp];
                for ox0 in (0..ow).step_by(TILE) {
                    let xs: [&[E; TILE]; K] = std::array::from_fn(|kx| {
                        xrow[ox0 + kx..][..TILE].try_into().expect("tile")
                    });
                    for j in 0..N {
                        let d: &[E; TILE] = dypad[((f0 + j) * oh + oy) * row + ox0..][..TILE]
                            .try_into()
                            .expect("tile");
                        for kx in 0..K {
                            for l in 0..TILE {
                                acc[j][kx][l] = L::fma(d[l], xs[kx][l], acc[j][kx][l]);
                            }
                        }
                    }
                }
            }
            for (j, acc) in acc.iter().enumerate() {
                for (kx, lanes) in acc.iter().enumerate() {
                    let sum = lanes.iter().fold(E::zero(), |a, &b| a + b);
                    dw[(((f0 + j) * c_total + c) * K + ky) * K + kx] += sum;
                }
            }
        }
    }
}
