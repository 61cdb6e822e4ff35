//! A bounds-checked front for the `gemm` crate's f32 and f64 kernels (dfdx itself multiplies
//! matrices with `gemm` on `Cpu`).

use crate::Element;

/// A read-only strided matrix view into a slice.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a, E> {
    data: &'a [E],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A writable strided matrix view into a slice.
pub(crate) struct MatMut<'a, E> {
    data: &'a mut [E],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// Index one past the last element a `rows`×`cols` view with these strides touches.
fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + (cols - 1) * col_stride + 1
    }
}

impl<'a, E> MatRef<'a, E> {
    /// A row-major `rows`×`cols` matrix at the start of `data`.
    pub fn row_major(data: &'a [E], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// A `rows`×`cols` matrix whose element (r, c) is `data[r * row_stride + c * col_stride]`.
    pub fn strided(
        data: &'a [E],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        assert!(
            extent(rows, cols, row_stride, col_stride) <= data.len(),
            "matrix view out of bounds"
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

impl<'a, E> MatMut<'a, E> {
    /// A row-major `rows`×`cols` matrix at the start of `data`.
    pub fn row_major(data: &'a mut [E], rows: usize, cols: usize) -> Self {
        assert!(
            extent(rows, cols, cols, 1) <= data.len(),
            "matrix view out of bounds"
        );
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
}

/// `dst = lhs × rhs` (or `dst += lhs × rhs` when `accumulate`), single-threaded: callers
/// parallelise over images, which keeps results independent of the thread count.
pub(crate) fn matmul<E: Element>(
    dst: MatMut<'_, E>,
    lhs: MatRef<'_, E>,
    rhs: MatRef<'_, E>,
    accumulate: bool,
) {
    assert_eq!(lhs.rows, dst.rows, "matmul: lhs rows != dst rows");
    assert_eq!(rhs.cols, dst.cols, "matmul: rhs cols != dst cols");
    assert_eq!(lhs.cols, rhs.rows, "matmul: inner dimensions differ");
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for c in 0..n {
                    dst.data[r * dst.row_stride + c * dst.col_stride] = E::zero();
                }
            }
        }
        return;
    }
    // The kernels prefer a column-major destination: a row-major one is computed as its
    // transpose, dstᵀ = rhsᵀ × lhsᵀ (what the `gemm` crate's own front end does).
    let (m, n, dst_cs, dst_rs, lhs, rhs) = if dst.col_stride < dst.row_stride {
        (n, m, dst.row_stride, dst.col_stride, rhs.t(), lhs.t())
    } else {
        (m, n, dst.col_stride, dst.row_stride, lhs, rhs)
    };
    // SAFETY: the kernel reads lhs(r, d) at lhs.ptr + r*rs + d*cs for r < m, d < k, rhs(d, c)
    // for d < k, c < n and writes dst(r, c) for r < m, c < n; the transposed views above
    // describe the same elements of the same slices. Every view was checked at construction
    // to have its whole extent ((rows-1)*rs + (cols-1)*cs + 1) inside its slice, with
    // non-negative strides, so every access is in bounds. `dst` is borrowed mutably and the
    // inputs immutably, so they cannot alias. `gemm_kernel` is the kernel for `E` itself (f32
    // or f64, sealed `Element`). `Parallelism::None` keeps the call on this thread.
    unsafe {
        E::gemm_kernel()(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            E::one(),
            E::one(),
            false,
            false,
            false,
            gemm_common::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product_with_transposes() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64).sin()).collect();
        let b: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.7).cos()).collect();
        // c = a (m×k) × bᵀ where b is stored n×k
        let mut c = vec![1.0; m * n];
        matmul(
            MatMut::row_major(&mut c, m, n),
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&b, n, k).t(),
            true,
        );
        for r in 0..m {
            for col in 0..n {
                let want: f64 = 1.0 + (0..k).map(|d| a[r * k + d] * b[col * k + d]).sum::<f64>();
                assert!((c[r * n + col] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn a_single_column_destination_is_not_transposed_and_still_right() {
        // one column: row and column strides are equal, the kernel takes it as it is
        let (m, k) = (4, 3);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 - 2.0).collect();
        let b = [0.5f32, -1.0, 2.0];
        let mut c = vec![0.0f32; m];
        matmul(
            MatMut::row_major(&mut c, m, 1),
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&b, k, 1),
            false,
        );
        for (r, &got) in c.iter().enumerate() {
            let want: f32 = (0..k).map(|d| a[r * k + d] * b[d]).sum();
            assert!((got - want).abs() < 1e-6, "row {r}: {got} vs {want}");
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn rejects_views_past_the_slice() {
        let a = [0.0f32; 5];
        let _ = MatRef::row_major(&a, 2, 3);
    }
}
