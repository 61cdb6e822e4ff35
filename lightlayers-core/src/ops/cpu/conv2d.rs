//! Convolution kernels on contiguous NCHW memory, rayon over the images of a batch. Each
//! geometry takes the fastest path that computes it: the direct kernels for few filters on
//! wide maps, `ShiftedConv` for every other stride-1, one-group convolution, direct loops for
//! depthwise convolutions, and im2col + gemm for the rest (strided or grouped).
//!
//! Reductions over the batch (weight and bias gradients) are summed per fixed chunk of images
//! and then in chunk order, so results are bit-for-bit reproducible whatever the thread count.

use rayon::prelude::*;

use super::batch_norm::plane_sum;
use super::depthwise::Depthwise;
use super::direct_conv::DirectPlan;
use super::gemm::{matmul, MatMut, MatRef};
use super::padded_grid::GridPlan;
use super::shifted_conv::ShiftedConv;
use super::simd::{multiversion, Level};
use super::transpose::transpose;
use super::window::valid_outputs;
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// Images per reduction chunk of the weight gradient.
const CHUNK_IMAGES: usize = 4;

/// Copies a short run with fixed-size chunk moves: `copy_from_slice` on a few dozen elements
/// becomes a `memmove` call, whose overhead dominated im2col for 28-wide rows.
#[inline(always)]
pub(crate) fn copy_short<E: Element>(dst: &mut [E], src: &[E]) {
    let n = dst.len();
    let mut i = 0;
    while i + 8 <= n {
        let chunk: [E; 8] = src[i..i + 8].try_into().expect("chunk");
        dst[i..i + 8].copy_from_slice(&chunk);
        i += 8;
    }
    while i < n {
        dst[i] = src[i];
        i += 1;
    }
}

/// Zeroes a short run (see [`copy_short`]).
#[inline(always)]
pub(crate) fn zero_short<E: Element>(dst: &mut [E]) {
    let n = dst.len();
    let mut i = 0;
    while i + 8 <= n {
        dst[i..i + 8].copy_from_slice(&[E::zero(); 8]);
        i += 8;
    }
    while i < n {
        dst[i] = E::zero();
        i += 1;
    }
}

multiversion! {
    /// Fills `cols` ((C·KH·KW) × (OH·OW), row-major) with the input patches of one image.
    fn im2col<E>(g: &ConvGeometry, x: &[E], cols: &mut [E]) => im2col_impl
}

#[inline(always)]
fn im2col_impl<L: Level, E: Element>(g: &ConvGeometry, x: &[E], cols: &mut [E]) {
    let p = g.out_area();
    let ka = g.kernel_area();
    for c in 0..g.in_channels {
        let plane = &x[c * g.in_area()..(c + 1) * g.in_area()];
        for ky in 0..g.kernel_h {
            let (oy_lo, oy_hi) = valid_outputs(g.out_h, g.in_h, ky, g.pad_top, g.stride);
            for kx in 0..g.kernel_w {
                let (ox_lo, ox_hi) = valid_outputs(g.out_w, g.in_w, kx, g.pad_left, g.stride);
                let row = &mut cols[(c * ka + ky * g.kernel_w + kx) * p..][..p];
                if ox_lo == ox_hi {
                    // this kernel column only ever reads padding
                    zero_short(row);
                    continue;
                }
                for oy in 0..g.out_h {
                    let out_row = &mut row[oy * g.out_w..(oy + 1) * g.out_w];
                    if oy < oy_lo || oy >= oy_hi {
                        zero_short(out_row);
                        continue;
                    }
                    let iy = oy * g.stride + ky - g.pad_top;
                    let in_row = &plane[iy * g.in_w..(iy + 1) * g.in_w];
                    zero_short(&mut out_row[..ox_lo]);
                    zero_short(&mut out_row[ox_hi..]);
                    let ix0 = ox_lo * g.stride + kx - g.pad_left;
                    if g.stride == 1 {
                        copy_short(
                            &mut out_row[ox_lo..ox_hi],
                            &in_row[ix0..ix0 + (ox_hi - ox_lo)],
                        );
                    } else {
                        for (o, v) in out_row[ox_lo..ox_hi].iter_mut().enumerate() {
                            *v = in_row[ix0 + o * g.stride];
                        }
                    }
                }
            }
        }
    }
}

multiversion! {
    /// Fills `cols_t` ((OH·OW) × (KH·KW·C), row-major: one patch per row, channels fastest)
    /// from `x_t`, one image in (H·W) × C layout. The weight gradient's operands must have
    /// their reduction dimension (pixels) outermost for `gemm` to pack them with vector
    /// loads; building the patches this way round makes each one a run of C-long copies.
    fn im2col_channels_last<E>(g: &ConvGeometry, x_t: &[E], cols_t: &mut [E]) => im2col_channels_last_impl
}

#[inline(always)]
fn im2col_channels_last_impl<L: Level, E: Element>(g: &ConvGeometry, x_t: &[E], cols_t: &mut [E]) {
    let c = g.in_channels;
    let r = g.kernel_area() * c;
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let patch = &mut cols_t[(oy * g.out_w + ox) * r..][..r];
            for ky in 0..g.kernel_h {
                let iy = (oy * g.stride + ky)
                    .checked_sub(g.pad_top)
                    .filter(|&y| y < g.in_h);
                for kx in 0..g.kernel_w {
                    let ix = (ox * g.stride + kx)
                        .checked_sub(g.pad_left)
                        .filter(|&x| x < g.in_w);
                    let tap = &mut patch[(ky * g.kernel_w + kx) * c..][..c];
                    match (iy, ix) {
                        (Some(iy), Some(ix)) => {
                            copy_short(tap, &x_t[(iy * g.in_w + ix) * c..][..c])
                        }
                        _ => zero_short(tap),
                    }
                }
            }
        }
    }
}

multiversion! {
    /// Adds the column gradients of one image back onto its input gradient.
    fn col2im_add<E>(g: &ConvGeometry, cols: &[E], grad_x: &mut [E]) => col2im_add_impl
}

#[inline(always)]
fn col2im_add_impl<L: Level, E: Element>(g: &ConvGeometry, cols: &[E], grad_x: &mut [E]) {
    let p = g.out_area();
    let ka = g.kernel_area();
    for c in 0..g.in_channels {
        let plane = &mut grad_x[c * g.in_area()..(c + 1) * g.in_area()];
        for ky in 0..g.kernel_h {
            let (oy_lo, oy_hi) = valid_outputs(g.out_h, g.in_h, ky, g.pad_top, g.stride);
            for kx in 0..g.kernel_w {
                let (ox_lo, ox_hi) = valid_outputs(g.out_w, g.in_w, kx, g.pad_left, g.stride);
                if ox_lo == ox_hi {
                    // this kernel column only ever reads padding
                    continue;
                }
                let row = &cols[(c * ka + ky * g.kernel_w + kx) * p..][..p];
                for oy in oy_lo..oy_hi {
                    let iy = oy * g.stride + ky - g.pad_top;
                    let in_row = &mut plane[iy * g.in_w..(iy + 1) * g.in_w];
                    let src = &row[oy * g.out_w + ox_lo..oy * g.out_w + ox_hi];
                    let ix0 = ox_lo * g.stride + kx - g.pad_left;
                    for (o, &v) in src.iter().enumerate() {
                        in_row[ix0 + o * g.stride] += v;
                    }
                }
            }
        }
    }
}

multiversion! {
    /// Depthwise-style direct convolution of one image (one input channel per group):
    /// `y[f] += w[f] ⋆ x[f / group_out]`.
    fn depthwise_forward<E>(g: &ConvGeometry, x: &[E], w: &[E], y: &mut [E]) => depthwise_forward_impl
}

#[inline(always)]
fn depthwise_forward_impl<L: Level, E: Element>(g: &ConvGeometry, x: &[E], w: &[E], y: &mut [E]) {
    let ka = g.kernel_area();
    let fg = g.group_out();
    for f in 0..g.out_channels {
        let plane = &x[(f / fg) * g.in_area()..][..g.in_area()];
        let out = &mut y[f * g.out_area()..][..g.out_area()];
        for ky in 0..g.kernel_h {
            let (oy_lo, oy_hi) = valid_outputs(g.out_h, g.in_h, ky, g.pad_top, g.stride);
            for kx in 0..g.kernel_w {
                let (ox_lo, ox_hi) = valid_outputs(g.out_w, g.in_w, kx, g.pad_left, g.stride);
                if ox_lo == ox_hi {
                    // this kernel column only ever reads padding
                    continue;
                }
                let wv = w[f * ka + ky * g.kernel_w + kx];
                for oy in oy_lo..oy_hi {
                    let iy = oy * g.stride + ky - g.pad_top;
                    let in_row = &plane[iy * g.in_w..(iy + 1) * g.in_w];
                    let out_row = &mut out[oy * g.out_w + ox_lo..oy * g.out_w + ox_hi];
                    let ix0 = ox_lo * g.stride + kx - g.pad_left;
                    if g.stride == 1 {
                        for (o, i) in out_row.iter_mut().zip(&in_row[ix0..]) {
                            *o += wv * *i;
                        }
                    } else {
                        for (n, o) in out_row.iter_mut().enumerate() {
                            *o += wv * in_row[ix0 + n * g.stride];
                        }
                    }
                }
            }
        }
    }
}

multiversion! {
    /// Backward of [`depthwise_forward`] for one image: input gradient (if asked) and this
    /// image's weight-gradient contribution, both accumulated.
    fn depthwise_backward<E>(
        g: &ConvGeometry,
        x: &[E],
        w: &[E],
        grad_y: &[E],
        grad_x: Option<&mut [E]>,
        grad_w: &mut [E],
    ) => depthwise_backward_impl
}

/// `Σ a·b` in eight running sums, so that the loop vectorises (one sum would be a chain of
/// dependent scalar additions).
#[inline(always)]
fn dot<E: Element>(a: &[E], b: &[E]) -> E {
    let mut lanes = [E::zero(); 8];
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..8 {
            lanes[j] += x[j] * y[j];
        }
    }
    let mut sum = lanes.iter().copied().sum::<E>();
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += x * y;
    }
    sum
}

#[inline(always)]
fn depthwise_backward_impl<L: Level, E: Element>(
    g: &ConvGeometry,
    x: &[E],
    w: &[E],
    grad_y: &[E],
    mut grad_x: Option<&mut [E]>,
    grad_w: &mut [E],
) {
    let ka = g.kernel_area();
    let fg = g.group_out();
    for f in 0..g.out_channels {
        let c = f / fg;
        let plane = &x[c * g.in_area()..][..g.in_area()];
        let gy = &grad_y[f * g.out_area()..][..g.out_area()];
        for ky in 0..g.kernel_h {
            let (oy_lo, oy_hi) = valid_outputs(g.out_h, g.in_h, ky, g.pad_top, g.stride);
            for kx in 0..g.kernel_w {
                let (ox_lo, ox_hi) = valid_outputs(g.out_w, g.in_w, kx, g.pad_left, g.stride);
                if ox_lo == ox_hi {
                    // this kernel column only ever reads padding
                    continue;
                }
                let k = f * ka + ky * g.kernel_w + kx;
                let wv = w[k];
                let mut acc = E::zero();
                for oy in oy_lo..oy_hi {
                    let iy = oy * g.stride + ky - g.pad_top;
                    let gy_row = &gy[oy * g.out_w + ox_lo..oy * g.out_w + ox_hi];
                    let ix0 = ox_lo * g.stride + kx - g.pad_left;
                    let in_row = &plane[iy * g.in_w..(iy + 1) * g.in_w];
                    let gx_row = grad_x
                        .as_deref_mut()
                        .map(|gx| &mut gx[c * g.in_area() + iy * g.in_w..][..g.in_w]);
                    if g.stride == 1 {
                        let len = gy_row.len();
                        acc += dot(gy_row, &in_row[ix0..ix0 + len]);
                        if let Some(gx_row) = gx_row {
                            for (v, &d) in gx_row[ix0..ix0 + len].iter_mut().zip(gy_row) {
                                *v += wv * d;
                            }
                        }
                        continue;
                    }
                    for (n, &d) in gy_row.iter().enumerate() {
                        acc += d * in_row[ix0 + n * g.stride];
                    }
                    if let Some(gx_row) = gx_row {
                        for (n, &d) in gy_row.iter().enumerate() {
                            gx_row[ix0 + n * g.stride] += wv * d;
                        }
                    }
                }
                grad_w[k] += acc;
            }
        }
    }
}

/// The weights (C × F/G × KH × KW) of [`ConvGeometry::input_gradient`]: `w` (F × C/G × KH × KW)
/// with the channel axes of each group swapped and the kernel flipped in both axes.
pub(crate) fn flipped_kernel<E: Element>(g: &ConvGeometry, w: &[E]) -> Vec<E> {
    let (gi, go, kh, kw) = (g.group_in(), g.group_out(), g.kernel_h, g.kernel_w);
    let mut flipped = Vec::with_capacity(w.len());
    for c in 0..g.in_channels {
        let (group, ci) = (c / gi, c % gi);
        for fi in 0..go {
            let f = group * go + fi;
            for ky in (0..kh).rev() {
                for kx in (0..kw).rev() {
                    flipped.push(w[((f * gi + ci) * kh + ky) * kw + kx]);
                }
            }
        }
    }
    flipped
}

/// Forward convolution of a whole batch: `y = act(w ⋆ x + b)`.
///
/// `x`: B×C×H×W, `w`: F×(C/G)×KH×KW, `bias`: F, `y`: B×F×OH×OW (overwritten).
pub fn conv2d_forward<E: Element>(
    g: &ConvGeometry,
    x: &[E],
    w: &[E],
    bias: Option<&[E]>,
    relu: bool,
    y: &mut [E],
) {
    let (in_len, out_len) = (g.in_channels * g.in_area(), g.out_channels * g.out_area());
    assert_eq!(x.len(), g.batch * in_len, "conv2d: input length");
    assert_eq!(y.len(), g.batch * out_len, "conv2d: output length");
    assert_eq!(
        w.len(),
        g.out_channels * g.group_in() * g.kernel_area(),
        "conv2d: weight length"
    );
    if DirectPlan::<E>::forward_applies(g) {
        let plan = DirectPlan::forward(g, w);
        y.par_chunks_mut(out_len)
            .zip(x.par_chunks(in_len))
            .for_each_init(
                || vec![E::zero(); plan.scratch_len()],
                |scratch, (y, x)| plan.run(x, scratch, bias, relu, false, y),
            );
        return;
    }
    let p = g.out_area();
    if ShiftedConv::<E>::applies(g) {
        return grid_forward::<E, ShiftedConv<E>>(g, x, w, bias, relu, y);
    }
    if Depthwise::<E>::applies(g) {
        return grid_forward::<E, Depthwise<E>>(g, x, w, bias, relu, y);
    }
    let rows = g.group_in() * g.kernel_area();
    let scratch = if g.is_pointwise() || g.is_depthwise() {
        0
    } else {
        g.in_channels * g.kernel_area() * p
    };
    y.par_chunks_mut(out_len)
        .zip(x.par_chunks(in_len))
        .for_each_init(
            || vec![E::zero(); scratch],
            |cols, (y, x)| {
                if g.is_depthwise() {
                    y.fill(E::zero());
                    depthwise_forward(g, x, w, y);
                } else {
                    let cols: &[E] = if g.is_pointwise() {
                        x
                    } else {
                        im2col(g, x, cols);
                        cols
                    };
                    let (fg, gs) = (g.group_out(), g.groups);
                    for grp in 0..gs {
                        matmul(
                            MatMut::row_major(&mut y[grp * fg * p..(grp + 1) * fg * p], fg, p),
                            MatRef::row_major(&w[grp * fg * rows..(grp + 1) * fg * rows], fg, rows),
                            MatRef::row_major(&cols[grp * rows * p..(grp + 1) * rows * p], rows, p),
                            false,
                        );
                    }
                }
                finish_output(y, p, bias, relu);
            },
        );
}

/// Adds the bias per channel and applies the fused ReLU in one pass.
fn finish_output<E: Element>(y: &mut [E], plane: usize, bias: Option<&[E]>, relu: bool) {
    for (f, out) in y.chunks_mut(plane).enumerate() {
        let b = bias.map_or(E::zero(), |b| b[f]);
        if relu {
            out.iter_mut().for_each(|v| *v = (*v + b).max(E::zero()));
        } else if bias.is_some() {
            out.iter_mut().for_each(|v| *v += b);
        }
    }
}

/// Gradients of [`conv2d_forward`], accumulated (`+=`) into `grad_w` and `grad_bias`, and into
/// `grad_x` when `accumulate` (else written over it: its contents are never read).
///
/// `grad_y` is the gradient at the output; when the forward fused a ReLU, the caller passes
/// it already masked (zero where the output was zero).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward<E: Element>(
    g: &ConvGeometry,
    x: &[E],
    w: &[E],
    grad_y: &[E],
    grad_x: Option<&mut [E]>,
    accumulate: bool,
    grad_w: &mut [E],
    grad_bias: Option<&mut [E]>,
) {
    let (in_len, out_len) = (g.in_channels * g.in_area(), g.out_channels * g.out_area());
    assert_eq!(
        grad_y.len(),
        g.batch * out_len,
        "conv2d backward: output gradient length"
    );
    assert_eq!(
        grad_w.len(),
        w.len(),
        "conv2d backward: weight gradient length"
    );
    let p = g.out_area();
    let rows = g.group_in() * g.kernel_area();
    let (fg, gs) = (g.group_out(), g.groups);

    if let Some(grad_bias) = grad_bias {
        grad_bias.par_iter_mut().enumerate().for_each(|(f, gb)| {
            let mut acc = E::zero();
            for n in 0..g.batch {
                acc += plane_sum(&grad_y[n * out_len + f * p..][..p]);
            }
            *gb += acc;
        });
    }

    let depthwise = g.is_depthwise();
    if !depthwise && DirectPlan::<E>::backward_applies(g) {
        let forward = DirectPlan::forward(g, w);
        direct_backward(g, &forward, x, w, grad_y, grad_x, accumulate, grad_w);
        return;
    }
    if ShiftedConv::<E>::applies(g) {
        return grid_backward::<E, ShiftedConv<E>>(g, x, w, grad_y, grad_x, accumulate, grad_w);
    }
    if Depthwise::<E>::applies(g) {
        return grid_backward::<E, Depthwise<E>>(g, x, w, grad_y, grad_x, accumulate, grad_w);
    }
    // One group's geometry, for its channels-last patches.
    let group = ConvGeometry {
        in_channels: g.group_in(),
        out_channels: fg,
        groups: 1,
        ..*g
    };
    let group_in_len = group.in_channels * g.in_area();
    // Columns (im2col patches and input-gradient columns) and a channels-last copy of the
    // image, for the kernels wider than one pixel: a pointwise convolution's patches are the
    // image itself, seen transposed, and its input-gradient columns the input gradient.
    let pointwise = g.is_pointwise();
    let (cols_len, x_t_len) = if depthwise || pointwise {
        (0, 0)
    } else {
        (g.in_channels * g.kernel_area() * p, group_in_len)
    };
    let partial = per_image_chunks(
        g,
        grad_x,
        w.len(),
        || {
            (
                vec![E::zero(); cols_len],
                vec![E::zero(); cols_len],
                vec![E::zero(); x_t_len],
            )
        },
        |(cols, grad_cols, x_t), n, partial, mut gx| {
            let x = &x[n * in_len..(n + 1) * in_len];
            let gy = &grad_y[n * out_len..(n + 1) * out_len];
            if !accumulate && (depthwise || !pointwise) {
                // the depthwise loop and col2im add into the input gradient
                if let Some(gx) = gx.as_deref_mut() {
                    gx.fill(E::zero());
                }
            }
            if depthwise {
                depthwise_backward(g, x, w, gy, gx, partial);
                return;
            }
            if let Some(gx) = gx {
                // columns of the input gradient, per group: wᵀ (R×F) · gy (F×P); a pointwise
                // convolution's columns are the input gradient itself
                let cols: &mut [E] = if pointwise { gx } else { grad_cols };
                for grp in 0..gs {
                    matmul(
                        MatMut::row_major(&mut cols[grp * rows * p..(grp + 1) * rows * p], rows, p),
                        MatRef::row_major(&w[grp * fg * rows..(grp + 1) * fg * rows], fg, rows).t(),
                        MatRef::row_major(&gy[grp * fg * p..(grp + 1) * fg * p], fg, p),
                        pointwise && accumulate,
                    );
                }
                if !pointwise {
                    col2im_add(g, grad_cols, gx);
                }
            }
            // Weight gradient, per group: partial (F×R) += gy (F×P) · patches (P×R). The
            // patches of a wider kernel come channels-last (see `im2col_channels_last`), so
            // `partial` is in (F, KH·KW, C/G) order until the sum below.
            for grp in 0..gs {
                let group_x = &x[grp * group_in_len..][..group_in_len];
                let patches = if pointwise {
                    MatRef::row_major(group_x, rows, p).t()
                } else {
                    transpose(group_x, group.in_channels, g.in_area(), x_t);
                    im2col_channels_last(&group, x_t, cols);
                    MatRef::row_major(&cols[..p * rows], p, rows)
                };
                matmul(
                    MatMut::row_major(
                        &mut partial[grp * fg * rows..(grp + 1) * fg * rows],
                        fg,
                        rows,
                    ),
                    MatRef::row_major(&gy[grp * fg * p..(grp + 1) * fg * p], fg, p),
                    patches,
                    true,
                );
            }
        },
    );
    // (F, KH·KW, C/G) -> the weights' (F, C/G, KH·KW); the identity for depthwise, whose
    // partial sum is in the weights' order already (C/G = 1)
    let (taps, channels) = (g.kernel_area(), g.group_in());
    for (gw, pf) in grad_w.chunks_mut(rows).zip(partial.chunks(rows)) {
        for (t, per_tap) in pf.chunks(channels).enumerate() {
            for (c, &v) in per_tap.iter().enumerate() {
                gw[c * taps + t] += v;
            }
        }
    }
}

/// Splits the batch into fixed chunks of [`CHUNK_IMAGES`] images and runs
/// `image(scratch, n, partial, grad_x)` for each image `n`, chunks in parallel; returns the
/// sum of the chunks' weight-gradient partial sums (of `partial_len` elements) taken in chunk
/// order, so that it is independent of the thread count. `grad_x` is image `n`'s slice of the
/// input gradient, when there is one.
fn per_image_chunks<E: Element, S: Send>(
    g: &ConvGeometry,
    grad_x: Option<&mut [E]>,
    partial_len: usize,
    scratch: impl Fn() -> S + Send + Sync,
    image: impl Fn(&mut S, usize, &mut [E], Option<&mut [E]>) + Send + Sync,
) -> Vec<E> {
    let in_len = g.in_channels * g.in_area();
    let chunks = g.batch.div_ceil(CHUNK_IMAGES);
    let mut grad_x_chunks: Vec<Option<&mut [E]>> = match grad_x {
        Some(gx) => {
            assert_eq!(
                gx.len(),
                g.batch * in_len,
                "conv2d backward: input gradient length"
            );
            gx.chunks_mut(CHUNK_IMAGES * in_len).map(Some).collect()
        }
        None => (0..chunks).map(|_| None).collect(),
    };
    let partials = grad_x_chunks
        .par_iter_mut()
        .enumerate()
        .map_init(scratch, |scratch, (chunk, grad_x)| {
            let mut partial = vec![E::zero(); partial_len];
            let first = chunk * CHUNK_IMAGES;
            for n in first..(first + CHUNK_IMAGES).min(g.batch) {
                let gx = grad_x
                    .as_deref_mut()
                    .map(|gx| &mut gx[(n - first) * in_len..(n - first + 1) * in_len]);
                image(scratch, n, &mut partial, gx);
            }
            partial
        })
        .collect::<Vec<_>>();
    sum_in_order(partials, partial_len)
}

/// Elements per parallel task of [`sum_in_order`].
const SUM_BLOCK: usize = 4096;

/// The element-wise sum of `partials` (each `len` long), added in their order whatever the
/// thread count: element blocks in parallel.
fn sum_in_order<E: Element>(mut partials: Vec<Vec<E>>, len: usize) -> Vec<E> {
    if partials.is_empty() {
        return vec![E::zero(); len];
    }
    let rest = partials.split_off(1);
    let mut sum = partials.pop().expect("one partial left");
    sum.par_chunks_mut(SUM_BLOCK)
        .enumerate()
        .for_each(|(block, sum)| {
            for partial in &rest {
                E::accumulate(sum, &partial[block * SUM_BLOCK..][..sum.len()]);
            }
        });
    sum
}

/// Input and weight gradients with the direct kernels (stride 1, one group, 1×1 or 3×3).
#[allow(clippy::too_many_arguments)]
fn direct_backward<E: Element>(
    g: &ConvGeometry,
    forward: &DirectPlan<E>,
    x: &[E],
    w: &[E],
    grad_y: &[E],
    grad_x: Option<&mut [E]>,
    accumulate: bool,
    grad_w: &mut [E],
) {
    let (in_len, out_len) = (g.in_channels * g.in_area(), g.out_channels * g.out_area());
    let input_plan = grad_x.is_some().then(|| DirectPlan::input_gradient(g, w));
    let partial = per_image_chunks(
        g,
        grad_x,
        w.len(),
        || {
            (
                vec![E::zero(); forward.scratch_len()],
                vec![E::zero(); forward.grad_scratch_len()],
                vec![E::zero(); input_plan.as_ref().map_or(0, |p| p.scratch_len())],
            )
        },
        |(xpad, dypad, gpad), n, partial, gx| {
            let gy = &grad_y[n * out_len..(n + 1) * out_len];
            forward.accumulate_weight_gradient(
                &x[n * in_len..(n + 1) * in_len],
                gy,
                xpad,
                dypad,
                partial,
            );
            if let (Some(plan), Some(gx)) = (&input_plan, gx) {
                plan.run(gy, gpad, None, false, accumulate, gx);
            }
        },
    );
    E::accumulate(grad_w, &partial);
}

/// [`conv2d_forward`] with a [`GridPlan`].
fn grid_forward<E: Element, P: GridPlan<E>>(
    g: &ConvGeometry,
    x: &[E],
    w: &[E],
    bias: Option<&[E]>,
    relu: bool,
    y: &mut [E],
) {
    let (in_len, out_len) = (g.in_channels * g.in_area(), g.out_channels * g.out_area());
    let plan = P::new(g, w);
    y.par_chunks_mut(out_len)
        .zip(x.par_chunks(in_len))
        .for_each_init(
            || plan.scratch(),
            |scratch, (y, x)| {
                plan.run(x, scratch, false, y);
                finish_output(y, g.out_area(), bias, relu);
            },
        );
}

/// Input and weight gradients with a [`GridPlan`]: the input gradient is the convolution of
/// the output gradient with the flipped kernel.
fn grid_backward<E: Element, P: GridPlan<E>>(
    g: &ConvGeometry,
    x: &[E],
    w: &[E],
    grad_y: &[E],
    grad_x: Option<&mut [E]>,
    accumulate: bool,
    grad_w: &mut [E],
) {
    let (in_len, out_len) = (g.in_channels * g.in_area(), g.out_channels * g.out_area());
    let forward = P::for_weight_gradient(g);
    let input_plan = grad_x.is_some().then(|| {
        let transposed = g.input_gradient().expect("grid plans: stride 1");
        P::new(&transposed, &flipped_kernel(g, w))
    });
    let partial = per_image_chunks(
        g,
        grad_x,
        w.len(),
        || {
            (
                forward.weight_scratch(),
                input_plan.as_ref().map(P::scratch),
            )
        },
        |(weight_scratch, input_scratch), n, partial, gx| {
            let gy = &grad_y[n * out_len..(n + 1) * out_len];
            forward.accumulate_weight_gradient(
                &x[n * in_len..(n + 1) * in_len],
                gy,
                weight_scratch,
                partial,
            );
            if let (Some(plan), Some(scratch), Some(gx)) = (&input_plan, input_scratch, gx) {
                plan.run(gy, scratch, accumulate, gx);
            }
        },
    );
    forward.unpack_into(&partial, grad_w);
}
