//! Out-of-place matrix transpose in cache-sized tiles.
//!
//! `gemm` packs an operand whose reduction dimension is contiguous with one strided scalar load
//! per element; for the weight gradient of a convolution (a product of two such operands) that
//! packing cost more than the product itself. Transposing both first, tile by tile, reads and
//! writes whole cache lines and leaves `gemm` operands it packs with vector loads.

use super::simd::{multiversion, Level};
use crate::Element;

/// Side of the square tiles: 16 rows of 16 `f32` are 16 cache lines in and 16 out.
const TILE: usize = 16;

multiversion! {
    /// `dst` (`cols`×`rows`, row-major) = transpose of `src` (`rows`×`cols`, row-major).
    pub(crate) fn transpose<E>(src: &[E], rows: usize, cols: usize, dst: &mut [E]) => transpose_impl
}

#[inline(always)]
fn transpose_impl<L: Level, E: Element>(src: &[E], rows: usize, cols: usize, dst: &mut [E]) {
    assert_eq!(src.len(), rows * cols, "transpose: source length");
    assert_eq!(dst.len(), rows * cols, "transpose: destination length");
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            if r1 - r0 == TILE && c1 - c0 == TILE {
                full_tile(src, cols, r0, c0, dst, rows);
                continue;
            }
            for c in c0..c1 {
                let out = &mut dst[c * rows + r0..c * rows + r1];
                for (o, r) in out.iter_mut().zip(r0..r1) {
                    *o = src[r * cols + c];
                }
            }
        }
    }
}

/// One whole tile: contiguous row reads into a local block, then contiguous column writes,
/// so that neither side strides through memory.
#[inline(always)]
fn full_tile<E: Element>(src: &[E], cols: usize, r0: usize, c0: usize, dst: &mut [E], rows: usize) {
    let mut tile = [[E::zero(); TILE]; TILE];
    for (i, row) in tile.iter_mut().enumerate() {
        row.copy_from_slice(&src[(r0 + i) * cols + c0..][..TILE]);
    }
    for j in 0..TILE {
        let out: &mut [E; TILE] = (&mut dst[(c0 + j) * rows + r0..][..TILE])
            .try_into()
            .expect("tile fits");
        for (i, o) in out.iter_mut().enumerate() {
            *o = tile[i][j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_ragged_shapes() {
        for (rows, cols) in [(1, 1), (3, 5), (16, 16), (17, 33), (144, 49)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
            let mut dst = vec![0.0; rows * cols];
            transpose(&src, rows, cols, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} at {r},{c}"
                    );
                }
            }
        }
    }
}
