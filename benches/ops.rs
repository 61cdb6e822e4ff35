//! The CPU kernels at the paper's layer shapes (batch 64), forward and backward.
//!
//! Throughput is reported in elements per second where one element is one floating-point
//! operation, so criterion's `Gelem/s` reads as GFLOP/s (2 per multiply-add; the backward
//! pass counts the input- and weight-gradient products, 2 × the forward's).
//!
//! `cargo bench -p lightlayers-benches --features criterion` (RAYON_NUM_THREADS sets the threads).
//! The `peak` group is the yardstick: a large square product through dfdx's matmul, the most
//! this machine's cores reach with the same `gemm` kernels.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dfdx::prelude::{Cpu, Tensor, TensorFrom, TryMatMul};
use lightlayers_core::ops::cpu::batch_norm::{self, BnGeometry};
use lightlayers_core::ops::cpu::conv2d::{conv2d_backward, conv2d_forward};
use lightlayers_core::ops::cpu::max_pool2d::{
    max_pool2d_backward, max_pool2d_forward, PoolGeometry,
};
use lightlayers_core::ops::{Conv2dSpec, ConvGeometry};
use std::time::Duration;

const BATCH: usize = 64;

fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
        })
        .collect()
}

/// (label, in channels, out channels, side, kernel, groups)
const CONVS: &[(&str, usize, usize, usize, usize, usize)] = &[
    ("mnist conv 1->8 @28", 1, 8, 28, 3, 1),
    ("mnist conv 8->8 @28", 8, 8, 28, 3, 1),
    ("mnist conv 16->16 @14", 16, 16, 14, 3, 1),
    ("mnist conv 32->32 @7", 32, 32, 7, 3, 1),
    ("light k=3 8->3 @28", 8, 3, 28, 3, 1),
    ("light k=3 3->8 @28", 3, 8, 28, 3, 1),
    ("light k=3 16->3 @14", 16, 3, 14, 3, 1),
    ("light k=3 3->16 @14", 3, 16, 14, 3, 1),
    ("separable depthwise 8 @28", 8, 8, 28, 3, 8),
    ("separable pointwise 8->8 @28", 8, 8, 28, 1, 1),
    ("cifar conv 3->16 @32", 3, 16, 32, 3, 1),
    ("cifar light k=1 16->1 @32", 16, 1, 32, 3, 1),
    ("cifar light k=5 16->5 @32", 16, 5, 32, 3, 1),
    ("cifar light k=5 5->16 @32", 5, 16, 32, 3, 1),
    ("cifar light k=5 32->5 @16", 32, 5, 16, 3, 1),
    ("cifar light k=5 5->32 @16", 5, 32, 16, 3, 1),
    ("cifar conv 16->16 @32", 16, 16, 32, 3, 1),
    ("cifar conv 32->32 @16", 32, 32, 16, 3, 1),
    ("cifar conv 64->64 @8", 64, 64, 8, 3, 1),
    ("cifar shortcut 1x1 32->64 @8", 32, 64, 8, 1, 1),
];

fn convolutions(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for &(label, cin, cout, side, k, groups) in CONVS {
        let spec = Conv2dSpec::same().with_groups(groups);
        let g = ConvGeometry::new([BATCH, cin, side, side], [cout, cin / groups, k, k], spec);
        let x = data(BATCH * cin * side * side, 1);
        let w = data(cout * (cin / groups) * k * k, 2);
        let b = data(cout, 3);
        let mut y = vec![0.0f32; BATCH * cout * g.out_area()];
        let flops = 2 * g.macs() as u64;
        group.throughput(Throughput::Elements(flops));
        group.bench_function(BenchmarkId::new("forward", label), |bench| {
            bench.iter(|| conv2d_forward(&g, &x, &w, Some(&b), true, &mut y))
        });
        let gy = data(y.len(), 4);
        let (mut gx, mut gw, mut gb) = (
            vec![0.0f32; x.len()],
            vec![0.0f32; w.len()],
            vec![0.0f32; cout],
        );
        group.throughput(Throughput::Elements(2 * flops));
        group.bench_function(BenchmarkId::new("backward", label), |bench| {
            // the input gradient written over, as in a pipeline (see `conv2d_backward`)
            bench.iter(|| {
                conv2d_backward(
                    &g,
                    &x,
                    &w,
                    &gy,
                    Some(&mut gx),
                    false,
                    &mut gw,
                    Some(&mut gb),
                )
            })
        });
    }
    group.finish();
}

fn sgemm_peak(c: &mut Criterion) {
    const N: usize = 1024;
    let mut group = c.benchmark_group("peak");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let dev = Cpu::default();
    let a: Tensor<(usize, usize), f32, Cpu> = dev.tensor((data(N * N, 6), (N, N)));
    let b: Tensor<(usize, usize), f32, Cpu> = dev.tensor((data(N * N, 7), (N, N)));
    group.throughput(Throughput::Elements(2 * (N * N * N) as u64));
    group.bench_function("sgemm 1024x1024x1024 (dfdx matmul)", |bench| {
        bench.iter(|| a.clone().matmul(b.clone()))
    });
    group.finish();
}

fn pooling_and_norm(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let (ch, side) = (8, 28);
    let x = data(BATCH * ch * side * side, 5);
    let g = PoolGeometry {
        planes: BATCH * ch,
        in_h: side,
        in_w: side,
        size: 2,
    };
    let mut y = vec![0.0f32; BATCH * ch * 14 * 14];
    let mut arg = vec![0u32; y.len()];
    // one comparison per input element
    group.throughput(Throughput::Elements(x.len() as u64));
    group.bench_function("max_pool 2x2 8ch @28 forward", |b| {
        b.iter(|| max_pool2d_forward(&g, &x, &mut y, &mut arg))
    });
    let mut gx = vec![0.0f32; x.len()];
    group.bench_function("max_pool 2x2 8ch @28 backward", |b| {
        b.iter(|| max_pool2d_backward(&g, &arg, &y, false, &mut gx))
    });
    let bn = BnGeometry {
        batch: BATCH,
        channels: ch,
        area: side * side,
    };
    let mut out = vec![0.0f32; x.len()];
    let (a, s) = (vec![1.1f32; ch], vec![0.1f32; ch]);
    group.bench_function("batch_norm 8ch @28 stats+normalise", |b| {
        b.iter(|| {
            let _ = batch_norm::batch_stats(&bn, &x);
            batch_norm::affine(&bn, &x, &a, &s, true, &mut out);
        })
    });
    let (mean, inv) = (vec![0.0f32; ch], vec![1.0f32; ch]);
    let (mut gs, mut gb) = (vec![0.0f32; ch], vec![0.0f32; ch]);
    group.bench_function("batch_norm 8ch @28 backward", |b| {
        b.iter(|| {
            batch_norm::backward(
                &bn,
                &x,
                &out,
                true,
                &mean,
                &inv,
                &a,
                &x,
                Some(&mut gx),
                false,
                &mut gs,
                &mut gb,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, sgemm_peak, convolutions, pooling_and_norm);
criterion_main!(benches);
