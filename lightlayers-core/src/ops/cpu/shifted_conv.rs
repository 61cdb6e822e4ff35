//! Stride-1, one-group convolution as one matrix product per kernel row, over a zero-padded
//! image stored KW times, each copy shifted by one column.
//!
//! On the padded grid (row length `PW = OW + KW − 1`), output `q = oy·PW + ox` reads input
//! `q + ky·PW + kx`. For a fixed kernel row `ky`, the rows `(kx, c)` of the im2col matrix are
//! therefore the shifted copies themselves, offset by `ky·PW`: a strided view, not a copy. The
//! image is copied KW times in long runs instead of KH·KW times in rows of OW, and the products
//! see an inner dimension of KW·C. Outputs land on the padded grid and the KW − 1 extra columns
//! per row are dropped.
//!
//! The weight gradient uses the same grid with the pixels outermost (channels-last): there
//! the shift by `kx` moves a whole pixel of C channels, so the `(kx, c)` columns of one kernel
//! row are a strided view of the padded channels-last image with no copies at all.

use super::conv2d::copy_short;
use super::gemm::{matmul, MatMut, MatRef};
use super::transpose::transpose;
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// A stride-1, one-group convolution with its weights packed per kernel row.
pub(crate) struct ShiftedConv<E> {
    g: ConvGeometry,
    /// Weights as [ky][f][kx][c].
    rows: Vec<E>,
}

impl<E: Element> ShiftedConv<E> {
    /// Whether this path computes `g`: stride 1, one group, and a kernel wider than one pixel
    /// (a 1×1 convolution is a plain product already).
    pub(crate) fn applies(g: &ConvGeometry) -> bool {
        g.stride == 1 && g.groups == 1 && !g.is_pointwise()
    }

    /// The convolution `g` with weights `w` (F×C×KH×KW).
    pub(crate) fn new(g: &ConvGeometry, w: &[E]) -> Self {
        assert!(Self::applies(g), "shifted conv: stride 1 and one group");
        let (f, c, kh, kw) = (g.out_channels, g.in_channels, g.kernel_h, g.kernel_w);
        assert_eq!(w.len(), f * c * kh * kw, "shifted conv: weight length");
        let mut rows = Vec::with_capacity(w.len());
        for ky in 0..kh {
            for fi in 0..f {
                for kx in 0..kw {
                    for ci in 0..c {
                        rows.push(w[((fi * c + ci) * kh + ky) * kw + kx]);
                    }
                }
            }
        }
        Self { g: *g, rows }
    }

    fn padded_w(&self) -> usize {
        self.g.out_w + self.g.kernel_w - 1
    }

    fn padded_h(&self) -> usize {
        self.g.out_h + self.g.kernel_h - 1
    }

    /// Elements of one padded channel plane, with KW − 1 zeros after it for the shifted reads.
    fn plane(&self) -> usize {
        self.padded_h() * self.padded_w() + self.g.kernel_w - 1
    }

    /// Outputs per channel on the padded grid.
    fn grid(&self) -> usize {
        self.g.out_h * self.padded_w()
    }

    /// Columns of one kernel row's product: (kx, c).
    fn depth(&self) -> usize {
        self.g.kernel_w * self.g.in_channels
    }

    /// Scratch memory for [`Self::run`].
    pub(crate) fn scratch(&self) -> Scratch<E> {
        Scratch::zeroed(
            self.depth() * self.plane() + self.g.out_channels * self.grid(),
            Use::Run,
        )
    }

    /// Scratch memory for [`Self::accumulate_weight_gradient`].
    pub(crate) fn weight_scratch(&self) -> Scratch<E> {
        Scratch::zeroed(
            2 * (self.g.in_channels * self.plane() + self.g.out_channels * self.grid()),
            Use::WeightGradient,
        )
    }

    /// Copies one channel plane `src` (H×W) inside its padding in `dst` (one [`Self::plane`]),
    /// whose padding is zero already (see [`Scratch`]).
    fn pad_plane(&self, src: &[E], dst: &mut [E]) {
        let (pw, g) = (self.padded_w(), &self.g);
        let rows = dst[g.pad_top * pw..].chunks_exact_mut(pw).take(g.in_h);
        for (row, src) in rows.zip(src.chunks_exact(g.in_w)) {
            copy_short(&mut row[g.pad_left..g.pad_left + g.in_w], src);
        }
    }

    /// `y = w ⋆ x` (or `y += w ⋆ x` when `accumulate`) for one image: `x` C×H×W, `y` F×OH×OW.
    pub(crate) fn run(&self, x: &[E], scratch: &mut Scratch<E>, accumulate: bool, y: &mut [E]) {
        let g = &self.g;
        let (c, f) = (g.in_channels, g.out_channels);
        let (plane, grid, pw, depth) = (self.plane(), self.grid(), self.padded_w(), self.depth());
        assert_eq!(x.len(), c * g.in_area(), "shifted conv: input length");
        assert_eq!(y.len(), f * g.out_area(), "shifted conv: output length");
        let (shifted, out) = scratch.for_use(Use::Run).split_at_mut(depth * plane);
        // copy kx of channel ci at row kx·C + ci: the unshifted copy first, then the others
        // from it
        let (unshifted, rest) = shifted.split_at_mut(c * plane);
        for (ci, dst) in unshifted.chunks_exact_mut(plane).enumerate() {
            self.pad_plane(&x[ci * g.in_area()..][..g.in_area()], dst);
        }
        for (i, dst) in rest.chunks_exact_mut(plane).enumerate() {
            let (kx, ci) = (i / c + 1, i % c);
            dst[..plane - kx].copy_from_slice(&unshifted[ci * plane + kx..][..plane - kx]);
            dst[plane - kx..].fill(E::zero());
        }
        let w_row = f * depth;
        for ky in 0..g.kernel_h {
            matmul(
                MatMut::row_major(out, f, grid),
                MatRef::row_major(&self.rows[ky * w_row..][..w_row], f, depth),
                MatRef::strided(&shifted[ky * pw..], depth, grid, plane, 1),
                ky > 0,
            );
        }
        for (dst, src) in y.chunks_exact_mut(g.out_w).zip(out.chunks_exact(pw)) {
            let src = &src[..g.out_w];
            if accumulate {
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
            } else {
                copy_short(dst, src);
            }
        }
    }

    /// Adds one image's weight gradient to `partial`, laid out as the packed weights
    /// ([ky][f][kx][c]; [`Self::unpack_into`] turns it into F×C×KH×KW): `x` is the image, `dy`
    /// the gradient at the output.
    pub(crate) fn accumulate_weight_gradient(
        &self,
        x: &[E],
        dy: &[E],
        scratch: &mut Scratch<E>,
        partial: &mut [E],
    ) {
        let g = &self.g;
        let (c, f) = (g.in_channels, g.out_channels);
        let (plane, grid, pw, depth) = (self.plane(), self.grid(), self.padded_w(), self.depth());
        assert_eq!(x.len(), c * g.in_area(), "shifted conv: input length");
        assert_eq!(dy.len(), f * g.out_area(), "shifted conv: gradient length");
        assert_eq!(
            partial.len(),
            self.rows.len(),
            "shifted conv: partial length"
        );
        let (padded, rest) = scratch.for_use(Use::WeightGradient).split_at_mut(c * plane);
        let (pixels, rest) = rest.split_at_mut(c * plane);
        let (dy_grid, dy_t) = rest.split_at_mut(f * grid);
        for (ci, dst) in padded.chunks_exact_mut(plane).enumerate() {
            self.pad_plane(&x[ci * g.in_area()..][..g.in_area()], dst);
        }
        // (plane × C): pixel-major, so that a shift by kx moves whole pixels
        transpose(padded, c, plane, pixels);
        // dy on the padded grid with zeros in the extra columns, pixel-major: (grid × F)
        for (dst, src) in dy_grid.chunks_exact_mut(pw).zip(dy.chunks_exact(g.out_w)) {
            copy_short(&mut dst[..g.out_w], src);
        }
        transpose(dy_grid, f, grid, dy_t);
        let w_row = f * depth;
        for ky in 0..g.kernel_h {
            matmul(
                MatMut::row_major(&mut partial[ky * w_row..][..w_row], f, depth),
                MatRef::strided(dy_t, f, grid, 1, f),
                MatRef::strided(&pixels[ky * pw * c..], grid, depth, c, 1),
                true,
            );
        }
    }

    /// Adds a gradient in the packed layout ([ky][f][kx][c]) to `grad_w` (F×C×KH×KW).
    pub(crate) fn unpack_into(&self, packed: &[E], grad_w: &mut [E]) {
        let g = &self.g;
        let (f, c, kh, kw) = (g.out_channels, g.in_channels, g.kernel_h, g.kernel_w);
        let mut i = 0;
        for ky in 0..kh {
            for fi in 0..f {
                for kx in 0..kw {
                    for ci in 0..c {
                        grad_w[((fi * c + ci) * kh + ky) * kw + kx] += packed[i];
                        i += 1;
                    }
                }
            }
        }
    }
}

/// Which method a [`Scratch`] serves: each lays its memory out differently.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Use {
    Run,
    WeightGradient,
}

/// Scratch memory of one [`ShiftedConv`] method, zeroed once when made. The methods only ever
/// write the inside of its padded planes and the valid columns of its padded grids, so the
/// padding stays zero from one image to the next and is never written again.
pub(crate) struct Scratch<E> {
    data: Vec<E>,
    made_for: Use,
}

impl<E: Element> Scratch<E> {
    fn zeroed(len: usize, made_for: Use) -> Self {
        Self {
            data: vec![E::zero(); len],
            made_for,
        }
    }

    fn for_use(&mut self, method: Use) -> &mut [E] {
        assert_eq!(
            self.made_for, method,
            "shifted conv: scratch made for another method"
        );
        &mut self.data
    }
}
