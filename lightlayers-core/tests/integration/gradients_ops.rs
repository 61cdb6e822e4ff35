//! Finite-difference gradient checks (f64) of the ops, on both implementations: the CPU
//! kernels (`ops::cpu`) and the dfdx compositions (`ops::composed`).

use crate::gradients_support as support;

use dfdx::prelude::*;
use lightlayers_core::ops::{composed, cpu, Conv2dSpec, ConvGeometry, Padding};
use support::{
    check, min_abs, min_pool_gap, project, project_seeded, randn, slot, try_check, Ctx, Slot,
    KINK_MARGIN,
};

type Shape4 = (usize, usize, usize, usize);
type Out<T> = Tensor<Shape4, f64, Cpu, T>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Kernel,
    Composed,
}

const PATHS: [Path; 2] = [Path::Kernel, Path::Composed];

fn conv<T: Tape<f64, Cpu>>(
    path: Path,
    x: Tensor<Shape4, f64, Cpu, T>,
    w: &Tensor<Shape4, f64, Cpu>,
    b: Option<&Tensor<(usize,), f64, Cpu>>,
    spec: Conv2dSpec,
) -> Out<T> {
    match path {
        Path::Kernel => cpu::conv2d(x, w, b, spec).unwrap(),
        Path::Composed => composed::conv2d(x, w, b, spec).unwrap(),
    }
}

fn pool<T: Tape<f64, Cpu>>(path: Path, x: Tensor<Shape4, f64, Cpu, T>, size: usize) -> Out<T> {
    match path {
        Path::Kernel => cpu::max_pool2d(x, size).unwrap(),
        Path::Composed => composed::max_pool2d(x, size).unwrap(),
    }
}

#[derive(Debug, Clone, Copy)]
struct ConvCase {
    name: &'static str,
    batch: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    spec: Conv2dSpec,
    bias: bool,
}

impl ConvCase {
    fn x_shape(&self) -> Shape4 {
        (self.batch, self.cin, self.h, self.w)
    }
    fn w_shape(&self) -> Shape4 {
        (self.cout, self.cin / self.spec.groups, self.kh, self.kw)
    }
    fn geometry(&self) -> ConvGeometry {
        let (a, b, c, d) = self.x_shape();
        let (e, f, g, h) = self.w_shape();
        ConvGeometry::new([a, b, c, d], [e, f, g, h], self.spec)
    }
    fn slots(&self, seed: u64) -> Vec<Slot> {
        let n = |s: Shape4| s.0 * s.1 * s.2 * s.3;
        let mut slots = vec![
            slot("x", randn(n(self.x_shape()), seed)),
            slot("w", randn(n(self.w_shape()), seed + 1000)),
        ];
        if self.bias {
            slots.push(slot("b", randn(self.cout, seed + 2000)));
        }
        slots
    }
}

fn case(
    name: &'static str,
    (batch, cin, h, w): Shape4,
    cout: usize,
    (kh, kw): (usize, usize),
) -> ConvCase {
    ConvCase {
        name,
        batch,
        cin,
        cout,
        h,
        w,
        kh,
        kw,
        spec: Conv2dSpec::same(),
        bias: true,
    }
}

impl ConvCase {
    fn stride(mut self, s: usize) -> Self {
        self.spec = self.spec.with_stride(s);
        self
    }
    fn valid(mut self) -> Self {
        self.spec = self.spec.with_padding(Padding::Valid);
        self
    }
    fn groups(mut self, g: usize) -> Self {
        self.spec = self.spec.with_groups(g);
        self
    }
    fn relu(mut self) -> Self {
        self.spec = self.spec.with_relu(true);
        self
    }
    fn no_bias(mut self) -> Self {
        self.bias = false;
        self
    }
}

/// The convolutions checked, each with and without the fused ReLU.
fn conv_cases() -> Vec<ConvCase> {
    let base = [
        case("3x3 s1 same 5x7", (2, 3, 5, 7), 4, (3, 3)),
        case("3x3 s2 same 5x7", (2, 3, 5, 7), 4, (3, 3)).stride(2),
        case("3x3 s1 valid 5x7", (2, 3, 5, 7), 4, (3, 3)).valid(),
        case("3x3 s2 valid 5x7", (2, 3, 5, 7), 4, (3, 3))
            .stride(2)
            .valid(),
        case("5x5 s1 same 5x7 (pad 2)", (1, 2, 5, 7), 3, (5, 5)),
        case(
            "2x2 s1 same 5x7 (pad bottom/right)",
            (2, 2, 5, 7),
            3,
            (2, 2),
        ),
        case("4x4 s2 same 7x5 (asymmetric pad)", (1, 2, 7, 5), 2, (4, 4)).stride(2),
        case("3x2 rectangular s2 same 5x7", (1, 2, 5, 7), 3, (3, 2)).stride(2),
        case("groups 2, 3x3 s1 same", (2, 4, 5, 7), 6, (3, 3)).groups(2),
        case("groups 2, 3x3 s2 valid", (2, 4, 5, 7), 6, (3, 3))
            .groups(2)
            .stride(2)
            .valid(),
        case("depthwise 3x3 s1 same", (2, 3, 5, 7), 3, (3, 3)).groups(3),
        case("depthwise x2 3x3 s2 same", (2, 3, 5, 7), 6, (3, 3))
            .groups(3)
            .stride(2),
        case("depthwise x2 3x3 s1 valid", (2, 3, 5, 7), 6, (3, 3))
            .groups(3)
            .valid(),
        case("1x1 s1 (pointwise)", (2, 3, 5, 7), 4, (1, 1)),
        case("1x1 s2 (strided 1x1)", (2, 3, 5, 7), 4, (1, 1)).stride(2),
        case("1x1 s1 groups 2", (2, 4, 5, 7), 6, (1, 1)).groups(2),
        case("3x3 s1 same, no bias", (2, 3, 5, 7), 4, (3, 3)).no_bias(),
        case("depthwise 3x3, no bias", (2, 3, 5, 7), 3, (3, 3))
            .groups(3)
            .no_bias(),
        case(
            "batch 5 > reduction chunk, 3x3 s1 same",
            (5, 2, 4, 5),
            3,
            (3, 3),
        ),
        case("batch 5, depthwise 3x3 s1 same", (5, 2, 4, 5), 2, (3, 3)).groups(2),
    ];
    base.iter().flat_map(|c| [*c, c.relu()]).collect()
}

/// Pre-activations `w ⋆ x + b` of a case's slots.
fn pre_activation(c: &ConvCase, slots: &[Slot]) -> Vec<f64> {
    let mut ctx_slots = slots.to_vec();
    if !c.bias {
        ctx_slots.push(slot("b", vec![0.0; c.cout]));
    }
    let x = support::slot_tensor(&ctx_slots, "x", c.x_shape());
    let w = support::slot_tensor(&ctx_slots, "w", c.w_shape());
    let b = support::slot_tensor(&ctx_slots, "b", (c.cout,));
    let y: Out<NoneTape> = cpu::conv2d(x, &w, Some(&b), c.spec.with_relu(false)).unwrap();
    y.as_vec()
}

fn conv_loss(c: ConvCase, path: Path) -> impl Fn(&mut Ctx) -> support::Loss {
    move |ctx| {
        let x = ctx.input("x", c.x_shape());
        let w = ctx.tensor("w", c.w_shape());
        let b = c.bias.then(|| ctx.tensor("b", (c.cout,)));
        project(conv(path, x, &w, b.as_ref(), c.spec))
    }
}

/// Slots for `c`, reseeded until no pre-activation is within [`KINK_MARGIN`] of the ReLU kink.
fn conv_slots(c: &ConvCase, seed: u64) -> Vec<Slot> {
    for attempt in 0..50 {
        let slots = c.slots(seed + 7919 * attempt);
        if !c.spec.relu {
            return slots;
        }
        let pre = pre_activation(c, &slots);
        let (on, off) = (
            pre.iter().filter(|v| **v > 0.0).count(),
            pre.iter().filter(|v| **v < 0.0).count(),
        );
        if min_abs(&pre) > KINK_MARGIN && on > 0 && off > 0 {
            return slots;
        }
    }
    panic!(
        "{}: no seed keeps the pre-activations away from the ReLU kink",
        c.name
    );
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let mut worst: f64 = 0.0;
    for (k, c) in conv_cases().into_iter().enumerate() {
        let g = c.geometry();
        let slots = conv_slots(&c, 100 + k as u64);
        for path in PATHS {
            let name = format!(
                "conv2d {:?} {}{} -> {}x{}",
                path,
                c.name,
                if c.spec.relu { " +relu" } else { "" },
                g.out_h,
                g.out_w
            );
            worst = worst.max(check(&name, &slots, conv_loss(c, path)).max_ratio());
        }
    }
    println!("conv2d: worst error/tolerance {worst:.3}");
}

#[test]
fn conv2d_gradients_accumulate_over_two_uses_of_input_weight_and_bias() {
    // Two convolutions share x, w and b. The one recorded first runs its backward last and
    // must add to the gradients the other already wrote; each case puts a different backward
    // code path (im2col, direct depthwise, pointwise) in that position.
    let grouped = Conv2dSpec::same().with_groups(2);
    let depthwise = Conv2dSpec::same().with_groups(4);
    let cases = [
        (
            "grouped 3x3: s1 same, then s2 valid",
            (6, 2, 3, 3),
            grouped,
            grouped.with_stride(2).with_padding(Padding::Valid),
        ),
        (
            "grouped 3x3: s2 same, then s1 same",
            (6, 2, 3, 3),
            grouped.with_stride(2),
            grouped,
        ),
        (
            "depthwise 3x3: s1 same, then s2 same",
            (4, 1, 3, 3),
            depthwise,
            depthwise.with_stride(2),
        ),
        (
            "1x1: s1 (pointwise), then s2",
            (6, 4, 1, 1),
            Conv2dSpec::same(),
            Conv2dSpec::same().with_stride(2),
        ),
    ];
    let x_shape = (2, 4, 5, 7);
    for (k, (label, w_shape, first, second)) in cases.into_iter().enumerate() {
        let k = k as u64;
        let slots = vec![
            slot("x", randn(140 * 2, 10 * k + 1)),
            slot(
                "w",
                randn(w_shape.0 * w_shape.1 * w_shape.2 * w_shape.3, 10 * k + 2),
            ),
            slot("b", randn(w_shape.0, 10 * k + 3)),
        ];
        for path in PATHS {
            check(
                &format!("conv2d {path:?} shared x/w/b, {label}"),
                &slots,
                |ctx| {
                    let x = ctx.input("x", x_shape);
                    let w = ctx.tensor("w", w_shape);
                    let b = ctx.tensor("b", (w_shape.0,));
                    let y1 = conv(path, x.with_empty_tape(), &w, Some(&b), first);
                    let y2 = conv(path, x, &w, Some(&b), second);
                    project_seeded(y1, 1) + project_seeded(y2, 2)
                },
            );
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct PoolCase {
    shape: Shape4,
    size: usize,
}

fn pool_slots(c: &PoolCase, seed: u64) -> Vec<Slot> {
    let (b, ch, h, w) = c.shape;
    for attempt in 0..50 {
        let x = randn(b * ch * h * w, seed + 7919 * attempt);
        if min_pool_gap(&x, b * ch, h, w, c.size, f64::NEG_INFINITY) > KINK_MARGIN {
            return vec![slot("x", x)];
        }
    }
    panic!("{c:?}: no seed without near-ties");
}

#[test]
fn max_pool2d_gradients_match_finite_differences() {
    let cases = [
        PoolCase {
            shape: (2, 2, 7, 7),
            size: 2,
        },
        PoolCase {
            shape: (2, 2, 7, 7),
            size: 3,
        },
        PoolCase {
            shape: (1, 3, 6, 5),
            size: 2,
        },
        PoolCase {
            shape: (2, 1, 9, 8),
            size: 3,
        },
        PoolCase {
            shape: (1, 2, 3, 4),
            size: 1,
        },
    ];
    for (k, c) in cases.iter().enumerate() {
        let slots = pool_slots(c, 500 + k as u64);
        let (b, ch, h, w) = c.shape;
        for path in PATHS {
            let name = format!(
                "max_pool2d {path:?} {b}x{ch}x{h}x{w} / {} -> {}x{}",
                c.size,
                h / c.size,
                w / c.size
            );
            check(&name, &slots, |ctx| {
                project(pool(path, ctx.input("x", c.shape), c.size))
            });
        }
    }
}

/// `pool(x) + x²`: the pool is recorded first, so its backward runs after the square's and
/// must add to the input gradient the square already wrote.
fn pool_accumulation_loss(path: Path, c: PoolCase) -> impl Fn(&mut Ctx) -> support::Loss {
    move |ctx| {
        let x = ctx.input("x", c.shape);
        let p = pool(path, x.with_empty_tape(), c.size);
        project_seeded(p, 1) + project_seeded(x.square(), 2)
    }
}

const ACCUMULATION_POOL: PoolCase = PoolCase {
    shape: (2, 2, 7, 7),
    size: 2,
};

#[test]
fn max_pool2d_kernel_gradient_accumulates_with_another_use_of_its_input() {
    let slots = pool_slots(&ACCUMULATION_POOL, 900);
    check(
        "max_pool2d Kernel pool(x) + x² (accumulation)",
        &slots,
        pool_accumulation_loss(Path::Kernel, ACCUMULATION_POOL),
    );
}

/// dfdx 0.13's CPU slice backward (`tensor_ops/slice/cpu_kernel.rs`, `view[inp_i] = *o`)
/// assigns the input gradient instead of adding to it; `composed::max_pool2d` slices a private
/// copy of its input so other consumers of `x` keep their contributions. This pins that.
#[test]
fn max_pool2d_composed_gradient_accumulates_with_another_use_of_its_input() {
    let slots = pool_slots(&ACCUMULATION_POOL, 900);
    check(
        "max_pool2d Composed pool(x) + x² (accumulation)",
        &slots,
        pool_accumulation_loss(Path::Composed, ACCUMULATION_POOL),
    );
}

// ---- the checker itself must be able to fail ----

fn sanity_case() -> (ConvCase, Vec<Slot>) {
    let c = case("sanity 3x3 s1 same", (1, 2, 4, 5), 3, (3, 3)).relu();
    let slots = conv_slots(&c, 42);
    (c, slots)
}

#[test]
fn checker_rejects_a_gradient_off_by_one_percent() {
    let (c, slots) = sanity_case();
    for path in PATHS {
        try_check("sanity", &slots, conv_loss(c, path), 1.0)
            .expect("the untampered gradient passes");
        let err = try_check("sanity", &slots, conv_loss(c, path), 1.01)
            .expect_err("a gradient 1% off must be rejected");
        assert!(
            err.contains("analytic") && err.contains("numeric"),
            "unhelpful message: {err}"
        );
    }
}

#[test]
fn checker_rejects_a_parameter_that_is_not_on_the_tape() {
    // A layer that used a copy of its weight (a fresh tensor id) would get no gradient for it.
    let (c, slots) = sanity_case();
    let err = try_check(
        "detached weight",
        &slots,
        |ctx| {
            let x = ctx.input("x", c.x_shape());
            let w = ctx.tensor("w", c.w_shape());
            let copy = ctx.dev().tensor_from_vec(w.as_vec(), c.w_shape());
            let b = ctx.tensor("b", (c.cout,));
            project(conv(Path::Kernel, x, &copy, Some(&b), c.spec))
        },
        1.0,
    )
    .expect_err("a missing weight gradient must be rejected");
    assert!(err.contains("d w["), "should blame the weight: {err}");
}

#[test]
fn checker_rejects_a_slot_the_loss_ignores() {
    let (c, mut slots) = sanity_case();
    slots.push(slot("unused", vec![1.0, 2.0]));
    let err = try_check(
        "unused slot",
        &slots,
        |ctx| {
            let _ = ctx.tensor("unused", (2,));
            conv_loss(c, Path::Kernel)(ctx)
        },
        1.0,
    )
    .expect_err("a slot the loss does not depend on must be reported");
    assert!(err.contains("unused"), "{err}");
}
