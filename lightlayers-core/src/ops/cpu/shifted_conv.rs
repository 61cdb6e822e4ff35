//! Stride-1, one-group convolution as one matrix product per kernel row, on the padded grid
//! (see `padded_grid`) of an image stored KW times, each copy shifted by one column.
//!
//! For a fixed kernel row `ky`, the rows `(kx, c)` of the im2col matrix are the shifted copies
//! themselves, offset by `ky·PW`: a strided view, not a copy. The image is copied KW times in
//! long runs instead of KH·KW times in rows of OW, and the products see an inner dimension of
//! KW·C.
//!
//! Where the element type has a register-tiled kernel on this CPU (`tap_kernel`: `f32` on
//! AVX-512), the forward reads every tap straight from one padded copy instead, with the
//! weights packed for it; a 3×3 "same" convolution with enough channels runs as Winograd's
//! F(2×2, 3×3) on that kernel (`winograd`).
//!
//! The weight gradient uses the same grid with the pixels outermost (channels-last): there
//! the shift by `kx` moves a whole pixel of C channels, so the `(kx, c)` columns of one kernel
//! row are a strided view of the padded channels-last image with no copies at all.

use super::gemm::{matmul, MatMut, MatRef};
use super::padded_grid::{GridPlan, PaddedGrid, Scratch};
use super::tap_kernel::{self, OutputVector, TapKernels, TapLayout};
use super::transpose::transpose;
use super::winograd::Winograd;
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// A stride-1, one-group convolution with its weights packed per kernel row.
pub(crate) struct ShiftedConv<E> {
    g: ConvGeometry,
    grid: PaddedGrid,
    method: Method<E>,
}

/// How the convolution runs, with its weights packed for the forward.
enum Method<E> {
    /// One matrix product per kernel row on shifted copies; weights as `[ky][f][kx][c]` (none
    /// in a weight-gradient plan).
    Rows(Vec<E>),
    /// The register-tiled kernels: the forward by `forward`, the weight gradient on one
    /// padded copy with taps in `[ky][kx]` order at `offsets`.
    Taps {
        kernels: TapKernels<E>,
        forward: TapForward<E>,
        offsets: Vec<usize>,
        vectors: Vec<OutputVector>,
    },
}

/// How the tap kernels compute the forward.
enum TapForward<E> {
    /// On one padded copy, weights packed by [`tap_kernel::pack`].
    Direct(Vec<E>),
    /// Winograd's F(2×2, 3×3), its products on the tap kernel.
    Winograd(Winograd<E>),
    /// None: a plan for the weight gradient only.
    Absent,
}

impl<E: Element> ShiftedConv<E> {
    /// Whether this path computes `g`: stride 1, one group, and a kernel wider than one pixel
    /// (a 1×1 convolution is a plain product already).
    pub(crate) fn applies(g: &ConvGeometry) -> bool {
        g.stride == 1 && g.groups == 1 && !g.is_pointwise()
    }

    /// The plan of `g` with its weights packed for the forward, or without a forward when `w`
    /// is `None`.
    fn with_weights(g: &ConvGeometry, w: Option<&[E]>) -> Self {
        assert!(Self::applies(g), "shifted conv: stride 1 and one group");
        match E::tap_kernels() {
            Some(kernels) => {
                let grid = PaddedGrid::new(g, tap_kernel::LANES);
                let (c, taps) = (g.in_channels, g.kernel_area());
                let forward = match w {
                    None => TapForward::Absent,
                    Some(w) if Winograd::<E>::applies(g) => {
                        TapForward::Winograd(Winograd::new(g, w, kernels))
                    }
                    Some(w) => {
                        TapForward::Direct(tap_kernel::pack(g.out_channels, c, taps, |f, ci, t| {
                            w[(f * c + ci) * taps + t]
                        }))
                    }
                };
                Self {
                    g: *g,
                    grid,
                    method: Method::Taps {
                        kernels,
                        forward,
                        offsets: grid.taps(),
                        vectors: tap_kernel::output_vectors(grid.grid, grid.row, g.out_h, g.out_w),
                    },
                }
            }
            None => Self {
                g: *g,
                grid: PaddedGrid::new(g, 1),
                method: Method::Rows({
                    let mut rows = Vec::new();
                    if let Some(w) = w {
                        rows.reserve(w.len());
                        for_each_in_packed_order(g, |i| rows.push(w[i]));
                    }
                    rows
                }),
            },
        }
    }

    /// What `run` does on a plan made by `for_weight_gradient`.
    fn no_forward() -> ! {
        panic!("shifted conv: a weight-gradient plan has no forward")
    }

    /// Columns of one kernel row's product: (kx, c).
    fn depth(&self) -> usize {
        self.g.kernel_w * self.g.in_channels
    }

    /// The sizes the tap kernels see, with the plan's tap offsets and output vectors.
    fn tap_layout<'a>(&self, offsets: &'a [usize], vectors: &'a [OutputVector]) -> TapLayout<'a> {
        TapLayout {
            channels: self.g.in_channels,
            filters: self.g.out_channels,
            plane: self.grid.plane,
            grid: self.grid.grid,
            row: self.grid.row,
            out_w: self.g.out_w,
            taps: offsets,
            kernel_w: self.g.kernel_w,
            out_area: self.g.out_area(),
            vectors,
        }
    }
}

impl<E: Element> GridPlan<E> for ShiftedConv<E> {
    /// The convolution `g` with weights `w` (F×C×KH×KW).
    fn new(g: &ConvGeometry, w: &[E]) -> Self {
        assert_eq!(
            w.len(),
            g.out_channels * g.in_channels * g.kernel_area(),
            "shifted conv: weight length"
        );
        Self::with_weights(g, Some(w))
    }

    /// The weight-gradient plan of `g`: no packed weights, no Winograd transform.
    fn for_weight_gradient(g: &ConvGeometry) -> Self {
        Self::with_weights(g, None)
    }

    /// Scratch memory for [`Self::run`].
    fn scratch(&self) -> Scratch<E> {
        let (g, grid) = (&self.g, &self.grid);
        let len = match &self.method {
            Method::Rows(_) => g.kernel_w * g.in_channels * grid.plane + g.out_channels * grid.grid,
            Method::Taps {
                forward: TapForward::Direct(_),
                ..
            } => g.in_channels * grid.plane,
            Method::Taps {
                forward: TapForward::Winograd(winograd),
                ..
            } => winograd.scratch_len(),
            Method::Taps {
                forward: TapForward::Absent,
                ..
            } => 0,
        };
        Scratch::zeroed(len, RUN)
    }

    /// Scratch memory for [`Self::accumulate_weight_gradient`].
    fn weight_scratch(&self) -> Scratch<E> {
        Scratch::zeroed(
            2 * self.g.in_channels * self.grid.plane + self.g.out_channels * self.grid.grid,
            WEIGHT_GRADIENT,
        )
    }

    /// `y = w ⋆ x` (or `y += w ⋆ x` when `accumulate`) for one image: `x` C×H×W, `y` F×OH×OW.
    fn run(&self, x: &[E], scratch: &mut Scratch<E>, accumulate: bool, y: &mut [E]) {
        let g = &self.g;
        let (c, f) = (g.in_channels, g.out_channels);
        let (plane, grid, pw, depth) =
            (self.grid.plane, self.grid.grid, self.grid.row, self.depth());
        assert_eq!(x.len(), c * g.in_area(), "shifted conv: input length");
        assert_eq!(y.len(), f * g.out_area(), "shifted conv: output length");
        let rows = match &self.method {
            Method::Rows(rows) if rows.is_empty() => Self::no_forward(),
            Method::Rows(rows) => rows,
            Method::Taps {
                forward: TapForward::Absent,
                ..
            } => Self::no_forward(),
            Method::Taps {
                forward: TapForward::Winograd(winograd),
                ..
            } => {
                winograd.run(x, scratch.for_method(RUN), accumulate, y);
                return;
            }
            Method::Taps {
                kernels,
                forward: TapForward::Direct(weights),
                offsets,
                vectors,
            } => {
                let padded = scratch.for_method(RUN);
                self.grid.fill_planes(x, padded);
                (kernels.convolve)(
                    &self.tap_layout(offsets, vectors),
                    padded,
                    weights,
                    accumulate,
                    y,
                );
                return;
            }
        };
        let (shifted, out) = scratch.for_method(RUN).split_at_mut(depth * plane);
        // copy kx of channel ci at row kx·C + ci: the unshifted copy first, then the others
        // from it
        let (unshifted, rest) = shifted.split_at_mut(c * plane);
        self.grid.fill_planes(x, unshifted);
        for (i, dst) in rest.chunks_exact_mut(plane).enumerate() {
            let (kx, ci) = (i / c + 1, i % c);
            dst[..plane - kx].copy_from_slice(&unshifted[ci * plane + kx..][..plane - kx]);
            dst[plane - kx..].fill(E::zero());
        }
        let w_row = f * depth;
        for ky in 0..g.kernel_h {
            matmul(
                MatMut::row_major(out, f, grid),
                MatRef::row_major(&rows[ky * w_row..][..w_row], f, depth),
                MatRef::strided(&shifted[ky * pw..], depth, grid, plane, 1),
                ky > 0,
            );
        }
        for (y, out) in y.chunks_exact_mut(g.out_area()).zip(out.chunks_exact(grid)) {
            self.grid.take_grid(out, accumulate, y);
        }
    }

    /// Adds one image's weight gradient to `partial`, laid out as the packed weights
    /// (`[ky][f][kx][c]`; [`Self::unpack_into`] turns it into F×C×KH×KW): `x` is the image, `dy`
    /// the gradient at the output.
    fn accumulate_weight_gradient(
        &self,
        x: &[E],
        dy: &[E],
        scratch: &mut Scratch<E>,
        partial: &mut [E],
    ) {
        let g = &self.g;
        let (c, f) = (g.in_channels, g.out_channels);
        let (plane, grid, pw, depth) =
            (self.grid.plane, self.grid.grid, self.grid.row, self.depth());
        assert_eq!(x.len(), c * g.in_area(), "shifted conv: input length");
        assert_eq!(dy.len(), f * g.out_area(), "shifted conv: gradient length");
        assert_eq!(
            partial.len(),
            f * c * g.kernel_area(),
            "shifted conv: partial length"
        );
        let (padded, rest) = scratch.for_method(WEIGHT_GRADIENT).split_at_mut(c * plane);
        let (pixels, dy_grid) = rest.split_at_mut(c * plane);
        self.grid.fill_planes(x, padded);
        // (plane × C): pixel-major, so that a shift by kx moves whole pixels
        transpose(padded, c, plane, pixels);
        // dy on the padded grid with zeros in the extra columns: (F × grid)
        for (dst, src) in dy_grid
            .chunks_exact_mut(grid)
            .zip(dy.chunks_exact(g.out_area()))
        {
            self.grid.fill_grid(src, dst);
        }
        if let Method::Taps {
            kernels,
            offsets,
            vectors,
            ..
        } = &self.method
        {
            // with fewer channels the vector lanes sit idle, but with a handful of filters
            // the products are worse off: their tiles are mostly empty
            if c >= tap_kernel::LANES || (c >= tap_kernel::LANES / 2 && f <= 4) {
                let layout = self.tap_layout(offsets, vectors);
                return (kernels.weight_gradient)(&layout, pixels, dy_grid, partial);
            }
        }
        let w_row = f * depth;
        for ky in 0..g.kernel_h {
            matmul(
                MatMut::row_major(&mut partial[ky * w_row..][..w_row], f, depth),
                MatRef::row_major(dy_grid, f, grid),
                MatRef::strided(&pixels[ky * pw * c..], grid, depth, c, 1),
                true,
            );
        }
    }

    /// Adds a gradient in the packed layout (`[ky][f][kx][c]`) to `grad_w` (F×C×KH×KW).
    fn unpack_into(&self, packed: &[E], grad_w: &mut [E]) {
        let mut packed = packed.iter();
        for_each_in_packed_order(&self.g, |i| {
            grad_w[i] += *packed.next().expect("shifted conv: packed length");
        });
    }
}

/// Calls `visit` with the index in the weights (F×C×KH×KW) of each element of the packed
/// layout (`[ky][f][kx][c]`), in packed order.
fn for_each_in_packed_order(g: &ConvGeometry, mut visit: impl FnMut(usize)) {
    let (f, c, kh, kw) = (g.out_channels, g.in_channels, g.kernel_h, g.kernel_w);
    for ky in 0..kh {
        for fi in 0..f {
            for kx in 0..kw {
                for ci in 0..c {
                    visit(((fi * c + ci) * kh + ky) * kw + kx);
                }
            }
        }
    }
}

const RUN: &str = "ShiftedConv::run";
const WEIGHT_GRADIENT: &str = "ShiftedConv::accumulate_weight_gradient";
