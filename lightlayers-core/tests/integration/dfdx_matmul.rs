//! dfdx's CPU matrix product, which the vendored dfdx computes with gemm 0.19's kernels (patch
//! 6 of `vendor/dfdx/PATCHES.md`): values and gradients against a plain triple loop, with row-
//! and column-major operands.

use dfdx::prelude::*;

use lightlayers_core::{Backend, Element};

type Matrix<E, T = NoneTape> = Tensor<(usize, usize), E, Cpu, T>;

/// `a` (m×k) · `b` (k×n), row-major, in f64.
fn naive(a: &[f64], b: &[f64], (m, k, n): (usize, usize, usize)) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|d| a[i * k + d] * b[d * n + j]).sum();
        }
    }
    c
}

fn transpose(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols * rows)
        .map(|i| x[(i % rows) * cols + i / rows])
        .collect()
}

fn wide<E: Element>(t: &Matrix<E>) -> Vec<f64>
where
    Cpu: Backend<E>,
{
    t.as_vec()
        .into_iter()
        .map(|v| v.to_f64_lossless())
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

/// `len` values in [-1, 1), the same for every element type.
fn values(len: usize, seed: u64) -> Vec<f64> {
    (0..len as u64)
        .map(|i| ((i * 2_654_435_761 + seed * 40_503) % 2_000) as f64 / 1_000.0 - 1.0)
        .collect()
}

fn matrix<E: Element>(dev: &Cpu, data: &[f64], shape: (usize, usize)) -> Matrix<E>
where
    Cpu: Backend<E>,
{
    dev.tensor_from_vec(data.iter().map(|&v| E::of(v)).collect(), shape)
}

fn check<E: Element>(tolerance: f64)
where
    Cpu: Backend<E>,
{
    let dev = Cpu::seed_from_u64(7);
    for (m, k, n) in [
        (1, 1, 1),
        (3, 5, 7),
        (17, 33, 9),
        (64, 150, 10),
        (130, 7, 65),
    ] {
        let what = format!("{m}×{k}·{k}×{n} in {}", std::any::type_name::<E>());
        let a: Matrix<E> = matrix(&dev, &values(m * k, 1), (m, k));
        let b: Matrix<E> = matrix(&dev, &values(k * n, 2), (k, n));
        let r: Matrix<E> = matrix(&dev, &values(m * n, 3), (m, n));
        let (a64, b64, r64) = (wide(&a), wide(&b), wide(&r));

        let c = a.clone().matmul(b.clone());
        assert_close(&what, &wide(&c), &naive(&a64, &b64, (m, k, n)), tolerance);

        // `b` given as the transpose of an n×k row-major matrix: column-major strides.
        let bt: Matrix<E> = matrix(&dev, &transpose(&b64, k, n), (n, k));
        let c = a.clone().matmul(bt.permute::<_, Axes2<1, 0>>());
        assert_close(
            &format!("{what}, column-major b"),
            &wide(&c),
            &naive(&a64, &b64, (m, k, n)),
            tolerance,
        );

        // Gradients of sum(r ⊙ a·b): r·bᵀ for a, aᵀ·r for b (the backward pass accumulates
        // its products into the gradients' buffers).
        let loss = (a.leaky_trace().matmul(b.leaky_trace()) * r.clone()).sum();
        let grads = loss.backward();
        let want_a = naive(&r64, &transpose(&b64, k, n), (m, n, k));
        let want_b = naive(&transpose(&a64, m, k), &r64, (k, m, n));
        assert_close(
            &format!("{what}, grad a"),
            &wide(&grads.get(&a)),
            &want_a,
            tolerance,
        );
        assert_close(
            &format!("{what}, grad b"),
            &wide(&grads.get(&b)),
            &want_b,
            tolerance,
        );
    }
}

#[test]
fn dfdx_matmul_matches_a_naive_product_in_f32_and_f64() {
    check::<f32>(1e-4);
    check::<f64>(1e-12);
}
