//! Finite-difference gradient checks (f64, `Cpu`) of every layer, with respect to the input and
//! every trainable tensor, plus a small network end to end.

use crate::gradients_support as support;

use std::fmt::Debug;

use dfdx::prelude::*;
use lightlayers_core::layers::{
    builder, BatchNorm, LightConv2D, PaddingMode, Valid, LIGHT_CONV_L2,
};
use lightlayers_core::ops;
use support::{
    check, loaded, min_abs, min_pool_gap, param_slots, project, randn, slot, slot_tensor, Report,
    Slot, KINK_MARGIN,
};

type Taped = OwnedTape<f64, Cpu>;

/// Input slot `x` followed by the module's trainable tensors.
fn layer_slots<M: TensorCollection<f64, Cpu>>(m: &M, x_len: usize, seed: u64) -> Vec<Slot> {
    let mut slots = vec![slot("x", randn(x_len, seed))];
    slots.extend(param_slots(m, seed + 1));
    slots
}

/// Checks `project(m(x))` for a training-mode forward (`ModuleMut`, which every non-mutable
/// module also implements). The module is cloned from `template` and loaded from the slots on
/// every evaluation, so state a forward mutates (batch-norm statistics) never leaks into the
/// next one.
fn check_module<M, S, O>(case: &str, template: &M, x_shape: S, slots: &[Slot]) -> Report
where
    S: Shape,
    O: Shape,
    M: Clone
        + TensorCollection<f64, Cpu>
        + ModuleMut<Tensor<S, f64, Cpu, Taped>, Output = Tensor<O, f64, Cpu, Taped>>,
    M::Error: Debug,
{
    check(case, slots, |ctx| {
        let mut m = template.clone();
        ctx.load(&mut m);
        let x = ctx.input("x", x_shape);
        project(m.forward_mut(x))
    })
}

/// Tries seeds until `make` accepts one (rejecting cases near a kink or a tie).
fn first_good<T>(what: &str, seed: u64, mut make: impl FnMut(u64) -> Option<T>) -> T {
    (0..50)
        .find_map(|k| make(seed + 7919 * k))
        .unwrap_or_else(|| panic!("{what}: every seed tried lands near a kink or tie"))
}

// ---- convolutions ----

#[test]
fn conv2d_layer_gradients() {
    let dev = Cpu::seed_from_u64(1);
    let m = dev.build_module::<builder::Conv2D<2, 3, 3>, f64>();
    let x = Rank4::<2, 2, 5, 7>::default();
    check_module(
        "Conv2D<2,3,3> same s1, x 2x2x5x7",
        &m,
        x,
        &layer_slots(&m, 140, 10),
    );

    let m = dev.build_module::<builder::Conv2D<2, 3, 3, 2, Valid>, f64>();
    check_module(
        "Conv2D<2,3,3,2,Valid>, x 2x2x5x7",
        &m,
        x,
        &layer_slots(&m, 140, 20),
    );

    let m = dev.build_module::<builder::Conv2D<3, 2, 1>, f64>();
    let x = Rank4::<2, 3, 3, 4>::default();
    check_module(
        "Conv2D<3,2,1> pointwise, x 2x3x3x4",
        &m,
        x,
        &layer_slots(&m, 72, 30),
    );
}

#[test]
fn separable_conv2d_layer_gradients() {
    let dev = Cpu::seed_from_u64(2);
    let m = dev.build_module::<builder::SeparableConv2D<2, 3, 3>, f64>();
    let x = Rank4::<2, 2, 5, 7>::default();
    check_module(
        "SeparableConv2D<2,3,3> same s1, x 2x2x5x7",
        &m,
        x,
        &layer_slots(&m, 140, 40),
    );

    let m = dev.build_module::<builder::SeparableConv2D<3, 4, 3, 2, Valid>, f64>();
    let x = Rank4::<1, 3, 7, 6>::default();
    check_module(
        "SeparableConv2D<3,4,3,2,Valid>, x 1x3x7x6",
        &m,
        x,
        &layer_slots(&m, 126, 50),
    );
}

/// Pre-activations of a LightConv2D's hidden (ReLU) layer.
fn light_conv_hidden<
    const C: usize,
    const F: usize,
    const R: usize,
    const KS: usize,
    const S: usize,
    P,
    Sh,
>(
    m: &LightConv2D<C, F, R, KS, S, P, f64, Cpu>,
    x: Tensor<Sh, f64, Cpu>,
) -> Vec<f64>
where
    P: PaddingMode,
    Sh: Shape<Concrete = [usize; 4]>,
{
    let [b, c, h, w] = x.shape().concrete();
    let x = x.reshape_like(&(b, c, h, w));
    let spec = LightConv2D::<C, F, R, KS, S, P, f64, Cpu>::FIRST_SPEC;
    assert!(
        spec.relu,
        "LightConv2D's first convolution is expected to fuse the ReLU"
    );
    let hidden: Tensor<(usize, Const<R>, usize, usize), f64, Cpu> =
        ops::conv2d(x, &m.w1, Some(&m.b1), spec.with_relu(false)).unwrap();
    hidden.as_vec()
}

/// A LightConv2D case away from the hidden ReLU's kink (with at least one unit on and one off).
fn light_conv_case<
    const C: usize,
    const F: usize,
    const R: usize,
    const KS: usize,
    const S: usize,
    P,
>(
    what: &str,
    x_shape: Rank4<2, C, 7, 7>,
    seed: u64,
    l2: f64,
) -> (LightConv2D<C, F, R, KS, S, P, f64, Cpu>, Vec<Slot>)
where
    P: PaddingMode,
    builder::LightConv2D<C, F, R, KS, S, P>:
        BuildOnDevice<Cpu, f64, Built = LightConv2D<C, F, R, KS, S, P, f64, Cpu>>,
{
    first_good(what, seed, |s| {
        let mut m =
            Cpu::seed_from_u64(s).build_module::<builder::LightConv2D<C, F, R, KS, S, P>, f64>();
        m.l2 = l2;
        let slots = layer_slots(&m, x_shape.num_elements(), s);
        let pre = light_conv_hidden(&loaded(&m, &slots), slot_tensor(&slots, "x", x_shape));
        let mixed = pre.iter().any(|v| *v > 0.0) && pre.iter().any(|v| *v < 0.0);
        (min_abs(&pre) > KINK_MARGIN && mixed).then_some((m, slots))
    })
}

#[test]
fn light_conv2d_layer_gradients_with_its_penalty() {
    // loss = Σ y·r + l2·(Σw1² + Σw2²), as training adds the penalty to the loss
    let x = Rank4::<2, 3, 7, 7>::default();
    let (m, slots) = light_conv_case::<3, 4, 2, 3, 1, lightlayers_core::layers::Same>(
        "LightConv2D same",
        x,
        60,
        LIGHT_CONV_L2,
    );
    check(
        "LightConv2D<3,4,2> same s1 + penalty (l2 1e-4), x 2x3x7x7",
        &slots,
        |ctx| {
            let mut m = m.clone();
            ctx.load(&mut m);
            let y = m.forward(ctx.input("x", x));
            project(y) + m.try_penalty().unwrap().expect("l2 > 0 gives a penalty")
        },
    );

    // a large l2 so the penalty's share of the weight gradients is far above the tolerance
    let x = Rank4::<2, 2, 7, 7>::default();
    let (m, slots) = light_conv_case::<2, 3, 2, 3, 2, Valid>("LightConv2D valid", x, 70, 0.3);
    check(
        "LightConv2D<2,3,2,3,2,Valid> + penalty (l2 0.3), x 2x2x7x7",
        &slots,
        |ctx| {
            let mut m = m.clone();
            ctx.load(&mut m);
            let y = m.forward(ctx.input("x", x));
            project(y) + m.try_penalty().unwrap().expect("l2 > 0 gives a penalty")
        },
    );
}

#[test]
fn light_conv2d_penalty_alone() {
    let mut m = Cpu::seed_from_u64(3).build_module::<builder::LightConv2D<3, 4, 2>, f64>();
    assert_eq!(m.l2, LIGHT_CONV_L2, "default L2 factor");
    let sum_sq = |v: Vec<f64>| v.iter().map(|w| w * w).sum::<f64>();
    let by_hand = LIGHT_CONV_L2 * (sum_sq(m.w1.as_vec()) + sum_sq(m.w2.as_vec()));
    let value = m.try_penalty().unwrap().unwrap().array();
    assert!(
        (value - by_hand).abs() <= 1e-12 * by_hand.abs(),
        "penalty {value:e} != l2·(Σw1² + Σw2²) = {by_hand:e}"
    );

    m.l2 = 0.7;
    let slots = vec![slot("w1", m.w1.as_vec()), slot("w2", m.w2.as_vec())];
    check(
        "LightConv2D<3,4,2> try_penalty alone (l2 0.7)",
        &slots,
        |ctx| {
            let mut m = m.clone();
            m.w1 = ctx.tensor("w1", *m.w1.shape());
            m.w2 = ctx.tensor("w2", *m.w2.shape());
            m.try_penalty().unwrap().unwrap()
        },
    );

    m.l2 = 0.0;
    assert!(
        m.try_penalty().unwrap().is_none(),
        "l2 = 0 must turn the penalty off"
    );
}

// ---- dense ----

#[test]
fn dense_layer_gradients_and_forward() {
    let m = Cpu::seed_from_u64(4).build_module::<builder::Dense<4, 3>, f64>();
    let x = Rank2::<2, 4>::default();
    let slots = layer_slots(&m, 8, 80);
    check_module("Dense<4,3>, x 2x4", &m, x, &slots);

    // y = x·W + b
    let m = loaded(&m, &slots);
    let (xv, w, b) = (&slots[0].data, m.weight.as_vec(), m.bias.as_vec());
    let y = m.forward(slot_tensor(&slots, "x", x)).as_vec();
    for n in 0..2 {
        for o in 0..3 {
            let want = b[o] + (0..4).map(|i| xv[n * 4 + i] * w[i * 3 + o]).sum::<f64>();
            let got = y[n * 3 + o];
            assert!(
                (got - want).abs() <= 1e-12,
                "Dense y[{n},{o}] = {got} != x·W + b = {want}"
            );
        }
    }
}

#[test]
fn light_dense_layer_gradients_and_forward() {
    let m = Cpu::seed_from_u64(5).build_module::<builder::LightDense<5, 4, 2>, f64>();
    let x = Rank2::<3, 5>::default();
    let slots = layer_slots(&m, 15, 90);
    check_module("LightDense<5,4,2>, x 3x5", &m, x, &slots);

    // y = x·W1·W2·(2/O) + b, O = 4
    let m = loaded(&m, &slots);
    let (xv, w1, w2, b) = (
        &slots[0].data,
        m.w1.as_vec(),
        m.w2.as_vec(),
        m.bias.as_vec(),
    );
    let y = m.forward(slot_tensor(&slots, "x", x)).as_vec();
    for n in 0..3 {
        for o in 0..4 {
            let mut acc = 0.0;
            for r in 0..2 {
                let hidden: f64 = (0..5).map(|i| xv[n * 5 + i] * w1[i * 2 + r]).sum();
                acc += hidden * w2[r * 4 + o];
            }
            let want = acc * (2.0 / 4.0) + b[o];
            let got = y[n * 4 + o];
            assert!(
                (got - want).abs() <= 1e-12,
                "LightDense y[{n},{o}] = {got} != x·W1·W2·(2/O) + b = {want}"
            );
        }
    }
}

// ---- batch norm ----

#[test]
fn batch_norm_training_gradients_4d_and_2d() {
    let dev = Cpu::seed_from_u64(6);
    let m = dev.build_module::<builder::BatchNorm<3>, f64>();
    check_module(
        "BatchNorm<3> train, x 2x3x2x3",
        &m,
        Rank4::<2, 3, 2, 3>::default(),
        &layer_slots(&m, 36, 100),
    );
    check_module(
        "BatchNorm<3> train, x 4x3",
        &m,
        Rank2::<4, 3>::default(),
        &layer_slots(&m, 12, 110),
    );
    // the smallest batch with a variance: two rows, whose normalised values are ±1-ish
    check_module(
        "BatchNorm<3> train, x 2x3",
        &m,
        Rank2::<2, 3>::default(),
        &layer_slots(&m, 6, 120),
    );
}

/// Per channel: mean and biased variance of `x` laid out as (B, C, rest).
fn channel_stats(x: &[f64], b: usize, c: usize, rest: usize) -> Vec<(f64, f64)> {
    (0..c)
        .map(|ch| {
            let vals: Vec<f64> = (0..b)
                .flat_map(|n| (0..rest).map(move |k| (n * c + ch) * rest + k))
                .map(|i| x[i])
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64;
            (mean, var)
        })
        .collect()
}

#[test]
fn batch_norm_training_forward_and_moving_statistics() {
    // Not a gradient check, but the same forward: y = (x - μ_B)/√(σ²_B + ε)·γ + β, and the
    // moving statistics move 1% towards the batch's (variance unbiased for feature maps only).
    let template = Cpu::seed_from_u64(7).build_module::<builder::BatchNorm<3>, f64>();
    for (dims, unbiased) in [((2usize, 3usize, 6usize), true), ((5, 3, 1), false)] {
        let (b, c, rest) = dims;
        let slots = layer_slots(&template, b * c * rest, 130 + rest as u64);
        let mut m = loaded(&template, &slots);
        let x = &slots[0].data;
        let y = if rest == 1 {
            m.forward_mut(slot_tensor(&slots, "x", (b, Const::<3>)).leaky_trace())
                .retaped::<NoneTape>()
                .as_vec()
        } else {
            m.forward_mut(slot_tensor(&slots, "x", (b, Const::<3>, 2usize, 3usize)).leaky_trace())
                .retaped::<NoneTape>()
                .as_vec()
        };
        let (scale, bias) = (m.scale.as_vec(), m.bias.as_vec());
        let (rm, rv) = (m.running_mean.as_vec(), m.running_var.as_vec());
        let n = (b * rest) as f64;
        for (ch, (mean, var)) in channel_stats(x, b, c, rest).into_iter().enumerate() {
            for k in 0..b * rest {
                let i = (k / rest * c + ch) * rest + k % rest;
                let want = (x[i] - mean) / (var + m.epsilon).sqrt() * scale[ch] + bias[ch];
                assert!(
                    (y[i] - want).abs() <= 1e-12,
                    "BatchNorm train y[{i}] = {} != {want}",
                    y[i]
                );
            }
            let batch_var = if unbiased { var * n / (n - 1.0) } else { var };
            let (want_m, want_v) = (0.01 * mean, 0.99 + 0.01 * batch_var);
            assert!(
                (rm[ch] - want_m).abs() <= 1e-12,
                "running mean[{ch}] {} != {want_m}",
                rm[ch]
            );
            assert!(
                (rv[ch] - want_v).abs() <= 1e-12,
                "running var[{ch}] {} != {want_v}",
                rv[ch]
            );
        }
    }
}

#[test]
fn batch_norm_inference_matches_the_formula() {
    // Module (untaped) forward: y = (x - mean)/√(var + ε)·γ + β with the moving statistics.
    let mut m: BatchNorm<3, f64, Cpu> =
        Cpu::seed_from_u64(8).build_module::<builder::BatchNorm<3>, f64>();
    let dev = Cpu::default();
    m.scale = dev.tensor_from_vec(vec![1.5, -0.7, 0.3], (Const::<3>,));
    m.bias = dev.tensor_from_vec(vec![0.2, -1.1, 0.05], (Const::<3>,));
    m.running_mean = dev.tensor_from_vec(vec![0.4, -0.3, 2.0], (Const::<3>,));
    m.running_var = dev.tensor_from_vec(vec![0.5, 2.5, 0.01], (Const::<3>,));
    let (g, b, mu, var, eps) = (
        m.scale.as_vec(),
        m.bias.as_vec(),
        m.running_mean.as_vec(),
        m.running_var.as_vec(),
        m.epsilon,
    );
    let want = |v: f64, ch: usize| (v - mu[ch]) / (var[ch] + eps).sqrt() * g[ch] + b[ch];

    let x4 = randn(2 * 3 * 2 * 2, 140);
    let y4 = m
        .forward(dev.tensor_from_vec(x4.clone(), Rank4::<2, 3, 2, 2>::default()))
        .as_vec();
    for (i, (&x, &y)) in x4.iter().zip(&y4).enumerate() {
        let ch = (i / 4) % 3;
        assert!(
            (y - want(x, ch)).abs() <= 1e-12,
            "BatchNorm 4-D inference y[{i}] = {y} != {}",
            want(x, ch)
        );
    }
    let x2 = randn(4 * 3, 150);
    let y2 = m
        .forward(dev.tensor_from_vec(x2.clone(), Rank2::<4, 3>::default()))
        .as_vec();
    for (i, (&x, &y)) in x2.iter().zip(&y2).enumerate() {
        assert!(
            (y - want(x, i % 3)).abs() <= 1e-12,
            "BatchNorm 2-D inference y[{i}] = {y} != {}",
            want(x, i % 3)
        );
    }
    // inference must not touch the moving statistics
    assert_eq!(m.running_mean.as_vec(), mu);
    assert_eq!(m.running_var.as_vec(), var);
}

// ---- pooling ----

#[test]
fn max_pool2d_layer_gradients() {
    fn case<const P: usize>(seed: u64) {
        let x = Rank4::<2, 2, 7, 7>::default();
        let slots = first_good("MaxPool2D", seed, |s| {
            let xs = randn(196, s);
            (min_pool_gap(&xs, 4, 7, 7, P, f64::NEG_INFINITY) > KINK_MARGIN)
                .then(|| vec![slot("x", xs)])
        });
        check_module(
            &format!("MaxPool2D<{P}>, x 2x2x7x7"),
            &builder::MaxPool2D::<P>,
            x,
            &slots,
        );
    }
    case::<2>(160);
    case::<3>(170);
}

// ---- residual ----

#[test]
fn residual_gradients_accumulate_from_both_branches() {
    type Block = builder::Residual<builder::Conv2D<2, 2, 3>, builder::SeparableConv2D<2, 2, 3>>;
    let m = Cpu::seed_from_u64(9).build_module::<Block, f64>();
    let x = Rank4::<2, 2, 5, 5>::default();
    check_module(
        "Residual<Conv2D<2,2,3>, SeparableConv2D<2,2,3>>, x 2x2x5x5",
        &m,
        x,
        &layer_slots(&m, 100, 180),
    );

    // a shortcut that is a pointwise convolution and a main branch with a ReLU inside
    type Light = builder::Residual<builder::LightConv2D<2, 2, 1>, builder::Conv2D<2, 2, 1>>;
    let x = Rank4::<2, 2, 7, 7>::default();
    let (m, slots) = first_good("Residual<LightConv2D, Conv2D>", 190, |s| {
        let m = Cpu::seed_from_u64(s).build_module::<Light, f64>();
        let slots = layer_slots(&m, 196, s);
        let pre = light_conv_hidden(&loaded(&m, &slots).f, slot_tensor(&slots, "x", x));
        (min_abs(&pre) > KINK_MARGIN).then_some((m, slots))
    });
    check_module(
        "Residual<LightConv2D<2,2,1>, Conv2D<2,2,1>>, x 2x2x7x7",
        &m,
        x,
        &slots,
    );
}

// ---- a network end to end ----

type Net = (
    (
        builder::Conv2D<1, 4, 3>,
        builder::BatchNorm<4>,
        builder::ReLU,
        builder::MaxPool2D<2>,
    ),
    (
        builder::LightConv2D<4, 4, 2>,
        builder::GlobalAvgPool2D,
        builder::BatchNorm<4>,
    ),
    (builder::LightDense<4, 3, 2>, builder::Softmax),
);
type NetX = Rank4<3, 1, 6, 6>;

#[test]
fn network_end_to_end_gradients() {
    // conv → bn → relu → pool → light conv → global pool → bn (2-D) → light dense → softmax,
    // in training mode, plus the LightConv2D penalty: every trainable tensor and the input.
    let x = NetX::default();
    let (template, slots) = first_good("network", 200, |s| {
        let mut net = Cpu::seed_from_u64(s).build_module::<Net, f64>();
        net.1 .0.l2 = 0.05;
        let slots = layer_slots(&net, x.num_elements(), s);
        // inspect the kinks and ties this case's forward goes through
        let mut n = loaded(&net, &slots);
        let a = n.0 .0.forward(slot_tensor(&slots, "x", x).leaky_trace());
        let a = n.0 .1.forward_mut(a);
        let pre = a.retaped::<NoneTape>().as_vec();
        let a = n.0 .2.forward(a);
        let gap = min_pool_gap(&a.retaped::<NoneTape>().as_vec(), 12, 6, 6, 2, 0.0);
        let a = n.0 .3.forward(a);
        let hidden = light_conv_hidden(&n.1 .0, a.retaped::<NoneTape>());
        (min_abs(&pre) > KINK_MARGIN && gap > KINK_MARGIN && min_abs(&hidden) > KINK_MARGIN)
            .then_some((net, slots))
    });
    let mut slots = slots;
    let names: Vec<String> = slots.iter().map(|s| s.name.clone()).collect();
    assert_eq!(
        names.len(),
        1 + 2 + 2 + 4 + 2 + 3,
        "x and every trainable tensor: {names:?}"
    );
    // per-channel constants right before a training-mode batch norm are normalised away: the
    // Conv2D bias (before the 4-D one) and the LightConv2D's second bias (global pooling, then
    // the 2-D one); their gradients must vanish
    for name in ["0.0.bias", "1.0.b2"] {
        let s = slots.iter_mut().find(|s| s.name == name);
        s.unwrap_or_else(|| panic!("no slot {name} in {names:?}"))
            .zero_gradient = true;
    }
    check(
        "network conv/bn/relu/pool/lightconv/gap/bn/lightdense/softmax + penalty",
        &slots,
        |ctx| {
            let mut net = template.clone();
            ctx.load(&mut net);
            let y = net.forward_mut(ctx.input("x", x));
            project(y) + net.1 .0.try_penalty().unwrap().unwrap()
        },
    );
}
