//! Direct convolution for stride 1 and one group, the case of every paper model: a register
//! block of up to 8 filters × 16 or 32 output columns accumulates over input channels and kernel
//! taps, reading a zero-padded copy of the image so the inner loops have no bounds logic.
//!
//! The same kernel computes the input gradient: it is the convolution of the output gradient
//! with the kernel flipped and its channel axes swapped.

use super::simd::{multiversion, Level};
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// Output columns per register tile.
pub(crate) const TILE: usize = 16;

/// Filters per register block for `filters` output channels: the kernel variant's `FB`.
fn filter_block(filters: usize) -> usize {
    match filters {
        1..=4 => filters,
        5 | 6 => 6,
        _ => 8,
    }
}

/// A convolution prepared for the direct kernel: packed weights and padded sizes.
pub(crate) struct DirectPlan<E> {
    /// Weights as [filter block][channel][ky][kx][filter in block], zero for missing filters.
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
    /// Whether the direct kernels compute the backward pass of this convolution.
    ///
    /// Measured (benches/ops.rs, one thread, AVX-512): the `gemm` crate on im2col columns wins
    /// every forward pass and the backward of wide layers, whose weight gradient is a product
    /// with a long inner dimension; the direct kernels win the backward of narrow layers
    /// (a LightConv's rank, ≤ 8 filters) on large maps, up to 2.6× (8→3 channels at 28×28).
    pub(crate) fn backward_applies(g: &ConvGeometry) -> bool {
        g.stride == 1
            && g.groups == 1
            && g.kernel_h == g.kernel_w
            && matches!(g.kernel_h, 1 | 3)
            && g.out_channels <= 8
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

    /// The convolution giving the input gradient of `g` from its output gradient.
    pub(crate) fn input_gradient(g: &ConvGeometry, w: &[E]) -> Self {
        let (f, c, kh, kw) = (g.out_channels, g.in_channels, g.kernel_h, g.kernel_w);
        // filter ci of the transposed convolution reads output-gradient channel fi through
        // the flipped kernel
        let packed = pack(c, f, kh, kw, |ci, fi, ky, kx| {
            w[((fi * c + ci) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)]
        });
        Self {
            packed,
            in_channels: f,
            out_channels: c,
            in_h: g.out_h,
            in_w: g.out_w,
            out_h: g.in_h,
            out_w: g.in_w,
            kh,
            kw,
            pad_top: kh - 1 - g.pad_top,
            pad_left: kw - 1 - g.pad_left,
        }
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
        conv_image(self, scratch, bias, relu, accumulate, y);
    }

    fn pad(&self, x: &[E], out: &mut [E]) {
        let (hp, wp) = (self.padded_h(), self.padded_w());
        for c in 0..self.in_channels {
            for r in 0..hp {
                let row = &mut out[(c * hp + r) * wp..][..wp];
                let src = r.checked_sub(self.pad_top).filter(|&iy| iy < self.in_h);
                match src {
                    None => row.fill(E::zero()),
                    Some(iy) => {
                        let lo = self.pad_left.min(wp);
                        let hi = (self.pad_left + self.in_w).min(wp);
                        row[..lo].fill(E::zero());
                        row[hi..].fill(E::zero());
                        row[lo..hi]
                            .copy_from_slice(&x[(c * self.in_h + iy) * self.in_w..][..hi - lo]);
                    }
                }
            }
        }
    }
}

/// Packs `weight(f, c, ky, kx)` as [f block][c][ky][kx][filter in block], blocks of
/// [`filter_block`]`(f)` filters.
fn pack<E: Element>(
    f: usize,
    c: usize,
    kh: usize,
    kw: usize,
    weight: impl Fn(usize, usize, usize, usize) -> E,
) -> Vec<E> {
    let fb = filter_block(f);
    let blocks = f.div_ceil(fb);
    let mut packed = vec![E::zero(); blocks * c * kh * kw * fb];
    for b in 0..blocks {
        for ci in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    for j in 0..fb {
                        let fi = b * fb + j;
                        if fi < f {
                            packed[(((b * c + ci) * kh + ky) * kw + kx) * fb + j] =
                                weight(fi, ci, ky, kx);
                        }
                    }
                }
            }
        }
    }
    packed
}

multiversion! {
    fn conv_block<E, const FB: usize, const TL: usize, const K: usize>(
        plan: &DirectPlan<E>,
        xpad: &[E],
        bias: Option<&[E]>,
        relu: bool,
        accumulate: bool,
        y: &mut [E],
    ) => conv_block_impl
}

/// Runs the kernel variant for the plan's kernel size and filter count: `FB` filters × `TL`
/// tiles of `TILE` columns are the register block (enough independent FMAs per input load
/// without spilling); small filter counts (a LightConv's rank) get two tiles instead.
fn conv_image<E: Element>(
    plan: &DirectPlan<E>,
    xpad: &[E],
    bias: Option<&[E]>,
    relu: bool,
    accumulate: bool,
    y: &mut [E],
) {
    macro_rules! by_filters {
        ($k:literal) => {
            match filter_block(plan.out_channels) {
                1 => conv_block::<E, 1, 2, $k>(plan, xpad, bias, relu, accumulate, y),
                2 => conv_block::<E, 2, 2, $k>(plan, xpad, bias, relu, accumulate, y),
                3 => conv_block::<E, 3, 2, $k>(plan, xpad, bias, relu, accumulate, y),
                4 => conv_block::<E, 4, 2, $k>(plan, xpad, bias, relu, accumulate, y),
                6 => conv_block::<E, 6, 1, $k>(plan, xpad, bias, relu, accumulate, y),
                _ => conv_block::<E, 8, 1, $k>(plan, xpad, bias, relu, accumulate, y),
            }
        };
    }
    match plan.kh {
        1 => by_filters!(1),
        3 => by_filters!(3),
        _ => by_filters!(0),
    }
}

/// The register-blocked kernel; `K == 0` means the kernel size is only known at run time.
#[inline(always)]
fn conv_block_impl<L: Level, E: Element, const FB: usize, const TL: usize, const K: usize>(
    plan: &DirectPlan<E>,
    xpad: &[E],
    bias: Option<&[E]>,
    relu: bool,
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
    let taps = c_in * kh * kw;
    let width = TILE * TL;
    for f0 in (0..plan.out_channels).step_by(FB) {
        for oy in 0..oh {
            for ox0 in (0..ow).step_by(width) {
                let mut acc = [[[E::zero(); TILE]; TL]; FB];
                for ci in 0..c_in {
                    for ky in 0..kh {
                        let row = &xpad[(ci * hp + oy + ky) * wp + ox0..][..width + kw - 1];
                        for kx in 0..kw {
                            let wv = &plan.packed
                                [(f0 / FB * taps + (ci * kh + ky) * kw + kx) * FB..][..FB];
                            for t in 0..TL {
                                let xv: &[E; TILE] =
                                    row[kx + t * TILE..][..TILE].try_into().expect("tile");
                                for j in 0..FB {
                                    let w = wv[j];
                                    for l in 0..TILE {
                                        acc[j][t][l] = L::fma(w, xv[l], acc[j][t][l]);
                                    }
                                }
                            }
                        }
                    }
                }
                let n = width.min(ow - ox0);
                for (j, acc) in acc.iter_mut().enumerate() {
                    let f = f0 + j;
                    if f >= plan.out_channels {
                        break;
                    }
                    let out = &mut y[(f * oh + oy) * ow + ox0..][..n];
                    let flat = acc.as_flattened_mut();
                    if accumulate {
                        out.iter_mut().zip(flat.iter()).for_each(|(o, &a)| *o += a);
                    } else {
                        let b = bias.map_or(E::zero(), |b| b[f]);
                        if relu {
                            flat.iter_mut().for_each(|a| *a = (*a + b).max(E::zero()));
                        } else {
                            flat.iter_mut().for_each(|a| *a += b);
                        }
                        out.copy_from_slice(&flat[..n]);
                    }
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
                dst[..self.out_w].copy_from_slice(src);
                dst[self.out_w..].fill(E::zero());
            }
        }
        macro_rules! by_filters {
            ($k:literal) => {
                match filter_block(self.out_channels) {
                    1 => weight_grad::<E, 1, $k>(self, xpad, dypad, dw),
                    2 => weight_grad::<E, 2, $k>(self, xpad, dypad, dw),
                    3 => weight_grad::<E, 3, $k>(self, xpad, dypad, dw),
                    4 => weight_grad::<E, 4, $k>(self, xpad, dypad, dw),
                    6 => weight_grad::<E, 6, $k>(self, xpad, dypad, dw),
                    _ => weight_grad::<E, 8, $k>(self, xpad, dypad, dw),
                }
            };
        }
        match self.kh {
            1 => by_filters!(1),
            _ => by_filters!(3),
        }
    }
}

multiversion! {
    fn weight_grad<E, const FB: usize, const K: usize>(plan: &DirectPlan<E>, xpad: &[E], dypad: &[E], dw: &mut [E]) => weight_grad_impl
}

/// dW[f][c][ky][kx] += Σ dy[f, oy, ox]·x[c, oy + ky, ox + kx], with `FB` filters × `K` column
/// shifts of accumulators per pass over the rows.
#[inline(always)]
fn weight_grad_impl<L: Level, E: Element, const FB: usize, const K: usize>(
    plan: &DirectPlan<E>,
    xpad: &[E],
    dypad: &[E],
    dw: &mut [E],
) {
    let (hp, wp) = (plan.padded_h(), plan.padded_w());
    let (oh, ow, row) = (plan.out_h, plan.out_w, plan.grad_row());
    let (f_total, c_total) = (plan.out_channels, plan.in_channels);
    for c in 0..c_total {
        for ky in 0..K {
            for f0 in (0..f_total).step_by(FB) {
                let mut acc = [[[E::zero(); TILE]; K]; FB];
                for oy in 0..oh {
                    let xrow = &xpad[(c * hp + oy + ky) * wp..][..wp];
                    for ox0 in (0..ow).step_by(TILE) {
                        let xs: [&[E; TILE]; K] = std::array::from_fn(|kx| {
                            xrow[ox0 + kx..][..TILE].try_into().expect("tile")
                        });
                        for j in 0..FB {
                            if f0 + j >= f_total {
                                break;
                            }
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
                    if f0 + j >= f_total {
                        break;
                    }
                    for (kx, lanes) in acc.iter().enumerate() {
                        let sum = lanes.iter().fold(E::zero(), |a, &b| a + b);
                        dw[(((f0 + j) * c_total + c) * K + ky) * K + kx] += sum;
                    }
                }
            }
        }
    }
}
