//! The CPU kernels against the composed dfdx reference, on random shapes, and their backward
//! passes writing over an input gradient against adding to one.

use dfdx::prelude::*;
use lightlayers_core::ops::cpu::batch_norm::{self, BnGeometry};
use lightlayers_core::ops::cpu::conv2d;
use lightlayers_core::ops::cpu::max_pool2d::{self, PoolGeometry};
use lightlayers_core::ops::{composed, cpu, Conv2dSpec, ConvGeometry, Padding};
use rand::{rngs::StdRng, Rng, SeedableRng};

type Dev = Cpu;

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-9 * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

/// An input-gradient buffer for a backward kernel: zeros to add to, or NaNs that survive
/// anywhere a kernel that writes over the buffer fails to write.
fn fresh_gradient(accumulate: bool, len: usize) -> Vec<f64> {
    vec![if accumulate { 0.0 } else { f64::NAN }; len]
}

#[test]
fn conv2d_kernels_equal_the_composed_reference() {
    let dev = Dev::seed_from_u64(7);
    let mut rng = StdRng::seed_from_u64(11);
    let mut cases = 0;
    while cases < 90 {
        let groups = [1, 1, 2, 3][rng.gen_range(0..4)];
        let depthwise = rng.gen_bool(0.3);
        let (cin, cout) = if depthwise {
            let c = rng.gen_range(1..5);
            (c, c * rng.gen_range(1..3))
        } else {
            // a fifth with the paper's widths (8 to 19 channels), above the direct kernels'
            let widest = if rng.gen_bool(0.2) { 20 } else { 4 };
            (
                groups * rng.gen_range(1..widest),
                groups * rng.gen_range(1..widest),
            )
        };
        let groups = if depthwise { cin } else { groups };
        let (kh, kw) = [(1, 1), (2, 2), (3, 3), (5, 5), (3, 1), (1, 3)][rng.gen_range(0..6)];
        // the first cases: depthwise, stride 1, outputs 8, 16 and 32 wide (summed row by row),
        // with and without a channel multiplier (whose input gradient sums two filters)
        let rows = [(3, 1, 5, 8), (2, 2, 3, 16), (4, 1, 2, 32), (3, 2, 4, 8)].get(cases);
        let (cin, cout, groups, kh, kw) = match rows {
            Some(&(c, multiplier, _, _)) => (c, c * multiplier, c, 3, 3),
            None => (cin, cout, groups, kh, kw),
        };
        let spec = Conv2dSpec::same()
            .with_stride(if rows.is_some() {
                1
            } else {
                rng.gen_range(1..3)
            })
            .with_padding(if rng.gen_bool(0.7) || rows.is_some() {
                Padding::Same
            } else {
                Padding::Valid
            })
            .with_groups(groups)
            .with_relu(rng.gen_bool(0.5));
        // a third of the cases are wide enough for the direct kernels (width >= 14)
        let (b, h, w) = if let Some(&(_, _, h, w)) = rows {
            (2, h, w)
        } else if rng.gen_bool(0.33) {
            (
                rng.gen_range(1..6),
                rng.gen_range(3..18),
                rng.gen_range(14..35),
            )
        } else {
            (
                rng.gen_range(1..4),
                rng.gen_range(1..10),
                rng.gen_range(1..10),
            )
        };
        if spec.padding == Padding::Valid && (h < kh || w < kw) {
            continue;
        }
        cases += 1;
        let g = ConvGeometry::new([b, cin, h, w], [cout, cin / groups, kh, kw], spec);
        let x: Tensor<(usize, usize, usize, usize), f64, _> = dev
            .sample_uniform_like(&(b, cin, h, w))
            .try_sub(0.5)
            .unwrap();
        let wt = dev.sample_normal_like(&(cout, cin / groups, kh, kw));
        let bias = dev.sample_normal_like(&(cout,));
        let use_bias = rng.gen_bool(0.7);
        let r = dev.sample_normal_like(&(b, cout, g.out_h, g.out_w));

        let run = |fast: bool| {
            let grads = Gradients::leaky();
            let xt = x.clone().traced(grads);
            let bias_arg = use_bias.then_some(&bias);
            let y: Tensor<(usize, usize, usize, usize), f64, _, _> = if fast {
                cpu::conv2d(xt, &wt, bias_arg, spec).unwrap()
            } else {
                composed::conv2d(xt, &wt, bias_arg, spec).unwrap()
            };
            let out = y.retaped::<NoneTape>().as_vec();
            let grads = (y * r.clone()).sum().backward();
            let gb = if use_bias {
                grads.get(&bias).as_vec()
            } else {
                vec![]
            };
            (out, grads.get(&x).as_vec(), grads.get(&wt).as_vec(), gb)
        };
        let (fast, slow) = (run(true), run(false));
        let what = format!("{g:?} relu={}", spec.relu);
        close(&fast.0, &slow.0, &format!("output {what}"));
        close(&fast.1, &slow.1, &format!("grad x {what}"));
        close(&fast.2, &slow.2, &format!("grad w {what}"));
        close(&fast.3, &slow.3, &format!("grad b {what}"));

        // written over a buffer of NaNs, the input gradient is the one added to zeros
        let (xs, ws, rs) = (x.as_vec(), wt.as_vec(), r.as_vec());
        let input_gradient = |accumulate: bool| {
            let mut gx = fresh_gradient(accumulate, xs.len());
            let mut gw = vec![0.0; ws.len()];
            conv2d::conv2d_backward(&g, &xs, &ws, &rs, Some(&mut gx), accumulate, &mut gw, None);
            gx
        };
        assert_eq!(
            input_gradient(false),
            input_gradient(true),
            "overwritten grad x {what}"
        );
    }
}

/// The `f32` kernels run other code than the `f64` ones where the CPU allows (the
/// register-tiled kernel of `tap_kernel` and Winograd's F(2×2, 3×3) on AVX-512), so they are
/// checked against the `f64` kernels, which the test above checks against the reference:
/// stride-1 one-group shapes of every filter-block remainder and tile width, up to the paper's
/// 64 channels, and the 3×3 shapes Winograd takes (rows of 4, 8 and 16 tiles, blocks of tile
/// rows whose last one is short or odd).
#[test]
fn f32_conv2d_kernels_equal_the_f64_kernels() {
    const WINOGRAD: [(usize, usize, usize, usize); 10] = [
        (16, 16, 32, 32),
        (16, 32, 16, 16),
        (32, 16, 16, 16),
        (64, 64, 8, 8),
        (32, 64, 6, 8),
        (17, 40, 10, 16),
        (48, 20, 14, 8),
        (16, 16, 2, 64),
        (24, 16, 34, 32),
        (64, 32, 12, 16),
    ];
    let mut rng = StdRng::seed_from_u64(13);
    for case in 0..60 + WINOGRAD.len() {
        let (cin, cout) = if case % 3 == 0 {
            (rng.gen_range(1..70), rng.gen_range(1..70))
        } else {
            (rng.gen_range(1..20), rng.gen_range(1..20))
        };
        let (mut cin, mut cout) = (cin, cout);
        let (mut kh, mut kw) =
            [(3, 3), (3, 3), (5, 5), (2, 2), (1, 3), (3, 1)][rng.gen_range(0..6)];
        let (b, mut h, mut w) = (
            rng.gen_range(1..4),
            rng.gen_range(1..20),
            rng.gen_range(1..36),
        );
        // outputs 8 or a multiple of 16 wide are tiled otherwise than the rest: a few of each
        if case < 8 {
            (h, w) = [
                (8, 8),
                (6, 16),
                (3, 32),
                (4, 8),
                (5, 8),
                (2, 48),
                (10, 8),
                (7, 16),
            ][case];
        }
        if let Some(&shape) = WINOGRAD.get(case.wrapping_sub(60)) {
            (cin, cout, h, w) = shape;
            (kh, kw) = (3, 3);
        }
        let spec = Conv2dSpec::same().with_relu(rng.gen_bool(0.3));
        let g = ConvGeometry::new([b, cin, h, w], [cout, cin, kh, kw], spec);
        let uniform = |rng: &mut StdRng, n: usize| -> Vec<f64> {
            (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
        };
        let x = uniform(&mut rng, b * cin * h * w);
        let wt = uniform(&mut rng, cout * cin * kh * kw);
        let bias = uniform(&mut rng, cout);
        let gy = uniform(&mut rng, b * cout * g.out_h * g.out_w);
        let single = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();

        let mut y64 = vec![0.0; gy.len()];
        conv2d::conv2d_forward(&g, &x, &wt, Some(&bias), spec.relu, &mut y64);
        let (mut gx64, mut gw64) = (vec![0.0; x.len()], vec![0.0; wt.len()]);
        conv2d::conv2d_backward(&g, &x, &wt, &gy, Some(&mut gx64), true, &mut gw64, None);

        let mut y32 = vec![f32::NAN; gy.len()];
        let (x32, w32) = (single(&x), single(&wt));
        conv2d::conv2d_forward(&g, &x32, &w32, Some(&single(&bias)), spec.relu, &mut y32);
        // half the cases add the input gradient to a buffer of halves, half write over NaNs
        let accumulate = case % 2 == 0;
        let start = if accumulate { 0.5 } else { f32::NAN };
        let (mut gx32, mut gw32) = (vec![start; x.len()], vec![0.0; wt.len()]);
        let gy32 = single(&gy);
        conv2d::conv2d_backward(
            &g,
            &x32,
            &w32,
            &gy32,
            Some(&mut gx32),
            accumulate,
            &mut gw32,
            None,
        );
        if accumulate {
            gx64.iter_mut().for_each(|g| *g += 0.5);
        }

        let what = format!("{g:?} relu={}", spec.relu);
        // a sum of n products of terms below 1 keeps f32's error well below 1e-6 · n; a wrong
        // tap, channel or filter is off by a whole product or more
        let near = |a: &[f32], b: &[f64], terms: usize, part: &str| {
            assert_eq!(a.len(), b.len(), "{part} {what}: lengths");
            for (i, (&a, &b)) in a.iter().zip(b).enumerate() {
                assert!(
                    (a as f64 - b).abs() <= 1e-6 * (terms as f64) * (1.0 + b.abs()),
                    "{part} {what} [{i}]: {a} vs {b}"
                );
            }
        };
        let taps = kh * kw;
        near(&y32, &y64, cin * taps, "output");
        near(&gx32, &gx64, cout * taps, "grad x");
        near(&gw32, &gw64, b * g.out_h * g.out_w, "grad w");
    }
}

#[test]
fn max_pool_kernel_equals_the_composed_reference() {
    let dev = Dev::seed_from_u64(3);
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..40 {
        let size = rng.gen_range(1..4);
        let shape = (
            rng.gen_range(1..4),
            rng.gen_range(1..5),
            rng.gen_range(size..12),
            rng.gen_range(size..12),
        );
        let x: Tensor<(usize, usize, usize, usize), f64, _> = dev.sample_normal_like(&shape);
        let r = dev.sample_normal_like(&(shape.0, shape.1, shape.2 / size, shape.3 / size));
        let run = |fast: bool| {
            let xt = x.leaky_trace();
            let y: Tensor<(usize, usize, usize, usize), f64, _, _> = if fast {
                cpu::max_pool2d(xt, size).unwrap()
            } else {
                composed::max_pool2d(xt, size).unwrap()
            };
            let out = y.retaped::<NoneTape>().as_vec();
            let grads = (y * r.clone()).sum().backward();
            (out, grads.get(&x).as_vec())
        };
        let (fast, slow) = (run(true), run(false));
        close(&fast.0, &slow.0, &format!("pool output {shape:?}/{size}"));
        close(&fast.1, &slow.1, &format!("pool grad {shape:?}/{size}"));

        // written over a buffer of NaNs, the input gradient is the one added to zeros
        let g = PoolGeometry {
            planes: shape.0 * shape.1,
            in_h: shape.2,
            in_w: shape.3,
            size,
        };
        let (xs, rs) = (x.as_vec(), r.as_vec());
        let (mut y, mut argmax) = (vec![0.0; rs.len()], vec![0u32; rs.len()]);
        max_pool2d::max_pool2d_forward(&g, &xs, &mut y, &mut argmax);
        let input_gradient = |accumulate: bool| {
            let mut gx = fresh_gradient(accumulate, xs.len());
            max_pool2d::max_pool2d_backward(&g, &argmax, &rs, accumulate, &mut gx);
            gx
        };
        assert_eq!(
            input_gradient(false),
            input_gradient(true),
            "overwritten pool grad {shape:?}/{size}"
        );
    }
}

#[test]
fn batch_norm_and_relu_backward_write_over_the_input_gradient() {
    let mut rng = StdRng::seed_from_u64(9);
    for relu in [false, true] {
        let g = BnGeometry {
            batch: 3,
            channels: 4,
            area: 37,
        };
        let len = g.batch * g.channels * g.area;
        let mut random =
            |n: usize| -> Vec<f64> { (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect() };
        let (x, y, gy) = (random(len), random(len), random(len));
        let (mean, scale) = (random(g.channels), random(g.channels));
        let inv_std: Vec<f64> = random(g.channels).iter().map(|v| 1.5 + v).collect();
        let input_gradient = |accumulate: bool| {
            let mut gx = fresh_gradient(accumulate, len);
            let (mut gs, mut gb) = (vec![0.0; g.channels], vec![0.0; g.channels]);
            batch_norm::backward(
                &g,
                &x,
                &y,
                relu,
                &mean,
                &inv_std,
                &scale,
                &gy,
                Some(&mut gx),
                accumulate,
                &mut gs,
                &mut gb,
            );
            gx
        };
        assert_eq!(
            input_gradient(false),
            input_gradient(true),
            "batch norm, relu={relu}"
        );
    }
    let (y, gy): (Vec<f64>, Vec<f64>) = (0..5000)
        .map(|_| (rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)))
        .unzip();
    let relu_gradient = |accumulate: bool| {
        let mut gx = fresh_gradient(accumulate, y.len());
        batch_norm::relu_backward(&y, &gy, accumulate, &mut gx);
        gx
    };
    assert_eq!(relu_gradient(false), relu_gradient(true), "relu");
}
