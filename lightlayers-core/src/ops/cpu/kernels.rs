//! Per-element-type entry points to the CPU kernels.
//!
//! Generic code is compiled by the crate that instantiates it, at that crate's optimisation
//! level: a user's debug build would run the kernels unoptimised, a hundred times slower.
//! Calling them through this trait, implemented here for `f32` and `f64`, instantiates them
//! inside lightlayers-core, so they run at the dependency's optimisation level (dependencies
//! are commonly optimised even in debug builds).

use super::batch_norm::{self, BnGeometry};
use super::max_pool2d::{self, PoolGeometry};
use super::tap_kernel::{self, TapKernels};
use super::{conv2d, elementwise};
use crate::ops::geometry::ConvGeometry;

/// The CPU kernels for one element type. Implemented for `f32` and `f64` only.
#[doc(hidden)]
pub trait CpuKernels: Sized + 'static {
    /// See [`conv2d::conv2d_forward`].
    fn conv2d_forward(
        g: &ConvGeometry,
        x: &[Self],
        w: &[Self],
        bias: Option<&[Self]>,
        relu: bool,
        y: &mut [Self],
    );
    /// See [`conv2d::conv2d_backward`].
    #[allow(clippy::too_many_arguments)]
    fn conv2d_backward(
        g: &ConvGeometry,
        x: &[Self],
        w: &[Self],
        grad_y: &[Self],
        grad_x: Option<&mut [Self]>,
        accumulate: bool,
        grad_w: &mut [Self],
        grad_bias: Option<&mut [Self]>,
    );
    /// See [`max_pool2d::max_pool2d_forward`].
    fn max_pool2d_forward(g: &PoolGeometry, x: &[Self], y: &mut [Self], argmax: &mut [u32]);
    /// See [`max_pool2d::max_pool2d_backward`].
    fn max_pool2d_backward(
        g: &PoolGeometry,
        argmax: &[u32],
        grad_y: &[Self],
        accumulate: bool,
        grad_x: &mut [Self],
    );
    /// See [`batch_norm::batch_stats`].
    fn bn_batch_stats(g: &BnGeometry, x: &[Self]) -> (Vec<f64>, Vec<f64>);
    /// See [`batch_norm::affine`].
    fn bn_affine(g: &BnGeometry, x: &[Self], a: &[Self], b: &[Self], relu: bool, y: &mut [Self]);
    /// See [`batch_norm::backward`].
    #[allow(clippy::too_many_arguments)]
    fn bn_backward(
        g: &BnGeometry,
        x: &[Self],
        y: &[Self],
        relu: bool,
        mean: &[Self],
        inv_std: &[Self],
        scale: &[Self],
        grad_y: &[Self],
        grad_x: Option<&mut [Self]>,
        accumulate: bool,
        grad_scale: &mut [Self],
        grad_bias: &mut [Self],
    );
    /// See [`elementwise::relu`].
    fn relu(x: &[Self], y: &mut [Self]);
    /// See [`batch_norm::relu_backward`].
    fn relu_backward(y: &[Self], grad_y: &[Self], accumulate: bool, grad_x: &mut [Self]);
    /// See [`elementwise::add`].
    fn residual_add(a: &[Self], b: &[Self], relu: bool, y: &mut [Self]);
    /// See [`elementwise::mask_by_positive`].
    fn mask_by_positive(y: &[Self], grad: &mut [Self]);
    /// See [`elementwise::accumulate`].
    fn accumulate(dst: &mut [Self], src: &[Self]);
    /// See [`elementwise::copy`].
    fn copy(dst: &mut [Self], src: &[Self]);
    /// The `gemm` crate's matrix kernel for this type (see [`super::gemm::matmul`]).
    fn gemm_kernel() -> GemmKernel<Self>;
    /// The register-tiled convolution kernels for this type on this CPU, if there are any
    /// (see [`super::tap_kernel`]).
    fn tap_kernels() -> Option<TapKernels<Self>>;
}

/// `dst := alpha·dst + beta·lhs·rhs` on strided matrices, as the `gemm` crate's kernels take
/// it: m, n, k; dst, its column and row strides, whether to read it; lhs and rhs likewise;
/// alpha, beta; three conjugation flags (ignored for real types); the threads to use.
pub type GemmKernel<E> = unsafe fn(
    usize,
    usize,
    usize,
    *mut E,
    isize,
    isize,
    bool,
    *const E,
    isize,
    isize,
    *const E,
    isize,
    isize,
    E,
    E,
    bool,
    bool,
    bool,
    gemm_common::Parallelism,
);

macro_rules! impl_kernels {
    ($t:ty, $gemm:path, $taps:expr) => {
        impl CpuKernels for $t {
            fn conv2d_forward(
                g: &ConvGeometry,
                x: &[Self],
                w: &[Self],
                bias: Option<&[Self]>,
                relu: bool,
                y: &mut [Self],
            ) {
                conv2d::conv2d_forward(g, x, w, bias, relu, y)
            }
            fn conv2d_backward(
                g: &ConvGeometry,
                x: &[Self],
                w: &[Self],
                grad_y: &[Self],
                grad_x: Option<&mut [Self]>,
                accumulate: bool,
                grad_w: &mut [Self],
                grad_bias: Option<&mut [Self]>,
            ) {
                conv2d::conv2d_backward(g, x, w, grad_y, grad_x, accumulate, grad_w, grad_bias)
            }
            fn max_pool2d_forward(
                g: &PoolGeometry,
                x: &[Self],
                y: &mut [Self],
                argmax: &mut [u32],
            ) {
                max_pool2d::max_pool2d_forward(g, x, y, argmax)
            }
            fn max_pool2d_backward(
                g: &PoolGeometry,
                argmax: &[u32],
                grad_y: &[Self],
                accumulate: bool,
                grad_x: &mut [Self],
            ) {
                max_pool2d::max_pool2d_backward(g, argmax, grad_y, accumulate, grad_x)
            }
            fn bn_batch_stats(g: &BnGeometry, x: &[Self]) -> (Vec<f64>, Vec<f64>) {
                batch_norm::batch_stats(g, x)
            }
            fn bn_affine(
                g: &BnGeometry,
                x: &[Self],
                a: &[Self],
                b: &[Self],
                relu: bool,
                y: &mut [Self],
            ) {
                batch_norm::affine(g, x, a, b, relu, y)
            }
            fn bn_backward(
                g: &BnGeometry,
                x: &[Self],
                y: &[Self],
                relu: bool,
                mean: &[Self],
                inv_std: &[Self],
                scale: &[Self],
                grad_y: &[Self],
                grad_x: Option<&mut [Self]>,
                accumulate: bool,
                grad_scale: &mut [Self],
                grad_bias: &mut [Self],
            ) {
                batch_norm::backward(
                    g, x, y, relu, mean, inv_std, scale, grad_y, grad_x, accumulate, grad_scale,
                    grad_bias,
                )
            }
            fn relu(x: &[Self], y: &mut [Self]) {
                elementwise::relu(x, y)
            }
            fn relu_backward(y: &[Self], grad_y: &[Self], accumulate: bool, grad_x: &mut [Self]) {
                batch_norm::relu_backward(y, grad_y, accumulate, grad_x)
            }
            fn residual_add(a: &[Self], b: &[Self], relu: bool, y: &mut [Self]) {
                elementwise::add(a, b, relu, y)
            }
            fn mask_by_positive(y: &[Self], grad: &mut [Self]) {
                elementwise::mask_by_positive(y, grad)
            }
            fn accumulate(dst: &mut [Self], src: &[Self]) {
                elementwise::accumulate(dst, src)
            }
            fn copy(dst: &mut [Self], src: &[Self]) {
                elementwise::copy(dst, src)
            }
            fn gemm_kernel() -> GemmKernel<Self> {
                $gemm()
            }
            fn tap_kernels() -> Option<TapKernels<Self>> {
                $taps
            }
        }
    };
}

impl_kernels!(f32, gemm_f32::gemm::f32::get_gemm_fn, tap_kernel::for_f32());
impl_kernels!(f64, gemm_f64::gemm::f64::get_gemm_fn, None);
