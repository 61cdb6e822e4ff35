//! Cuda against Cpu (needs `--features cuda` and a GPU; compiled out otherwise): every op, every
//! layer and every paper model — forward, gradients, one optimizer step. The CPU side runs the
//! hand-written kernels, the GPU side the composed dfdx ops, so this also checks one against
//! the other on real hardware.
//!
//! Outputs must agree to a relative 1e-4, gradients and updated weights to 1e-3, where the
//! relative error of a tensor is max|gpu − cpu| / max|cpu|. Each check is also appended as a
//! JSON line to `$LIGHTLAYERS_REPORT` when set.
#![cfg(feature = "cuda")]

use std::io::Write;

use lightlayers::layers::{builder, BatchNorm, Conv2D, LightConv2D, SeparableConv2D};
use lightlayers::ops::{self, Conv2dSpec, Padding};
use lightlayers::paper::*;
use lightlayers::prelude::*;

const OUTPUT_TOL: f64 = 1e-4;
const GRAD_TOL: f64 = 1e-3;

fn cuda() -> Cuda {
    Cuda::try_build(0, 0).expect("a CUDA device")
}

fn relative(gpu: &[f32], cpu: &[f32]) -> f64 {
    assert_eq!(gpu.len(), cpu.len());
    let scale = cpu
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs() as f64))
        .max(1e-30);
    let worst = gpu
        .iter()
        .zip(cpu)
        .fold(0.0f64, |m, (a, b)| m.max((*a as f64 - *b as f64).abs()));
    worst / scale
}

fn report(what: &str, kind: &str, err: f64, tol: f64) {
    let pass = err <= tol;
    if let Ok(path) = std::env::var("LIGHTLAYERS_REPORT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("report file");
        writeln!(f, r#"{{"check":"{what}","kind":"{kind}","rel_err":{err:.3e},"tol":{tol:e},"pass":{pass}}}"#).unwrap();
    }
    assert!(pass, "{what} {kind}: relative error {err:.3e} > {tol:e}");
}

/// Every tensor (or its gradient) of a module by name.
struct Collect<'g, D: Device<f32>> {
    grads: Option<&'g Gradients<f32, D>>,
    out: Vec<(String, Vec<f32>)>,
}

impl<D: Device<f32>> TensorVisitor<f32, D> for Collect<'_, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        (t, name): (&Tensor<S, f32, D>, String),
    ) -> Result<Option<Tensor<S, f32, D>>, D::Err> {
        match self.grads {
            Some(g) if opts.do_gradient_update => self.out.push((name, g.get(t).as_vec())),
            Some(_) => {}
            None => self.out.push((name, t.as_vec())),
        }
        Ok(None)
    }
}

fn collect<D: Device<f32>, M: TensorCollection<f32, D>>(
    m: &M,
    grads: Option<&Gradients<f32, D>>,
) -> Vec<(String, Vec<f32>)> {
    let mut c = Collect { grads, out: vec![] };
    M::iter_tensors(&mut RecursiveWalker {
        m: (m, String::new()),
        f: &mut c,
    })
    .unwrap();
    c.out
}

fn compare_sets(
    what: &str,
    kind: &str,
    gpu: &[(String, Vec<f32>)],
    cpu: &[(String, Vec<f32>)],
    tol: f64,
) {
    assert_eq!(gpu.len(), cpu.len());
    let worst = gpu
        .iter()
        .zip(cpu)
        .map(|((ng, g), (nc, c))| {
            assert_eq!(ng, nc);
            relative(g, c)
        })
        .fold(0.0, f64::max);
    report(what, kind, worst, tol);
}

// ---------------------------------------------------------------------------------------------
// ops

fn conv_case(
    label: &str,
    shape: (usize, usize, usize, usize),
    filters: usize,
    k: usize,
    spec: Conv2dSpec,
) {
    let (cpu, gpu) = (Cpu::seed_from_u64(1), cuda());
    let (b, c, h, w) = shape;
    let x: Tensor<(usize, usize, usize, usize), f32, Cpu> = cpu.sample_normal_like(&shape);
    let wt: Tensor<(usize, usize, usize, usize), f32, Cpu> =
        cpu.sample_normal_like(&(filters, c / spec.groups, k, k));
    let bias: Tensor<(usize,), f32, Cpu> = cpu.sample_normal_like(&(filters,));
    let g = ops::ConvGeometry::new([b, c, h, w], [filters, c / spec.groups, k, k], spec);
    let r: Tensor<(usize, usize, usize, usize), f32, Cpu> =
        cpu.sample_normal_like(&(b, filters, g.out_h, g.out_w));
    let (xg, wg, bg, rg) = (
        x.to_device(&gpu),
        wt.to_device(&gpu),
        bias.to_device(&gpu),
        r.to_device(&gpu),
    );

    let y: Tensor<(usize, usize, usize, usize), f32, Cpu, _> =
        ops::conv2d(x.leaky_trace(), &wt, Some(&bias), spec).unwrap();
    let yv = y.retaped::<NoneTape>().as_vec();
    let gc = (y * r).sum().backward();
    let yg: Tensor<(usize, usize, usize, usize), f32, Cuda, _> =
        ops::conv2d(xg.leaky_trace(), &wg, Some(&bg), spec).unwrap();
    let ygv = yg.retaped::<NoneTape>().as_vec();
    let gg = (yg * rg).sum().backward();
    report(label, "forward", relative(&ygv, &yv), OUTPUT_TOL);
    let worst = [
        relative(&gg.get(&xg).as_vec(), &gc.get(&x).as_vec()),
        relative(&gg.get(&wg).as_vec(), &gc.get(&wt).as_vec()),
        relative(&gg.get(&bg).as_vec(), &gc.get(&bias).as_vec()),
    ]
    .into_iter()
    .fold(0.0, f64::max);
    report(label, "gradients", worst, GRAD_TOL);
}

#[test]
fn conv2d_ops() {
    let same = Conv2dSpec::same();
    conv_case("conv 3x3 8->8 @28", (4, 8, 28, 28), 8, 3, same);
    conv_case(
        "conv 3x3 relu 8->3 @28",
        (4, 8, 28, 28),
        3,
        3,
        same.with_relu(true),
    );
    conv_case(
        "conv 3x3 stride 2 5->6 @15",
        (3, 5, 15, 15),
        6,
        3,
        same.with_stride(2),
    );
    conv_case(
        "conv 5x5 valid 3->4 @11x13",
        (2, 3, 11, 13),
        4,
        5,
        same.with_padding(Padding::Valid),
    );
    conv_case("conv 1x1 16->32 @8", (4, 16, 8, 8), 32, 1, same);
    conv_case(
        "depthwise 3x3 8 @28",
        (4, 8, 28, 28),
        8,
        3,
        same.with_groups(8),
    );
    conv_case(
        "grouped 3x3 4->6 groups 2 @9",
        (2, 4, 9, 9),
        6,
        3,
        same.with_groups(2),
    );
}

#[test]
fn max_pool_op() {
    let (cpu, gpu) = (Cpu::seed_from_u64(2), cuda());
    for (shape, size) in [((4, 8, 28, 28), 2), ((3, 5, 7, 7), 2), ((2, 3, 9, 8), 3)] {
        let x: Tensor<(usize, usize, usize, usize), f32, Cpu> = cpu.sample_normal_like(&shape);
        let xg = x.to_device(&gpu);
        let y: Tensor<(usize, usize, usize, usize), f32, Cpu, _> =
            ops::max_pool2d(x.leaky_trace(), size).unwrap();
        let r: Tensor<(usize, usize, usize, usize), f32, Cpu> = cpu.sample_normal_like(y.shape());
        let rg = r.to_device(&gpu);
        let yv = y.retaped::<NoneTape>().as_vec();
        let gc = (y * r).sum().backward();
        let yg: Tensor<(usize, usize, usize, usize), f32, Cuda, _> =
            ops::max_pool2d(xg.leaky_trace(), size).unwrap();
        let ygv = yg.retaped::<NoneTape>().as_vec();
        let gg = (yg * rg).sum().backward();
        let label = format!("max_pool {size}x{size} {shape:?}");
        report(&label, "forward", relative(&ygv, &yv), OUTPUT_TOL);
        report(
            &label,
            "gradients",
            relative(&gg.get(&xg).as_vec(), &gc.get(&x).as_vec()),
            GRAD_TOL,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// layers: forward in training mode, every parameter gradient, the input gradient

macro_rules! layer_case {
    ($label:expr, $builder:ty, $input:expr) => {{
        let (cpu, gpu) = (Cpu::seed_from_u64(3), cuda());
        let mut m = cpu.build_module::<$builder, f32>();
        let mut mg = m.to_device(&gpu);
        let x = cpu.sample_normal_like(&$input);
        let xg = x.to_device(&gpu);
        let y = m.forward_mut(x.leaky_trace());
        let r = cpu.sample_normal_like(y.shape());
        let rg = r.to_device(&gpu);
        let yv = y.retaped::<NoneTape>().as_vec();
        let gc = (y * r).sum().backward();
        let yg = mg.forward_mut(xg.leaky_trace());
        let ygv = yg.retaped::<NoneTape>().as_vec();
        let gg = (yg * rg).sum().backward();
        report($label, "forward", relative(&ygv, &yv), OUTPUT_TOL);
        compare_sets(
            $label,
            "gradients",
            &collect(&mg, Some(&gg)),
            &collect(&m, Some(&gc)),
            GRAD_TOL,
        );
        report(
            $label,
            "input gradient",
            relative(&gg.get(&xg).as_vec(), &gc.get(&x).as_vec()),
            GRAD_TOL,
        );
        compare_sets(
            $label,
            "state",
            &collect(&mg, None),
            &collect(&m, None),
            OUTPUT_TOL,
        );
    }};
}

#[test]
fn layers() {
    type In4 = (Const<4>, Const<8>, Const<14>, Const<14>);
    let input4: In4 = Default::default();
    layer_case!("Conv2D 8->16", builder::Conv2D<8, 16, 3>, input4);
    layer_case!("SeparableConv2D 8->16", builder::SeparableConv2D<8, 16, 3>, input4);
    layer_case!("LightConv2D 8->16 k=3", builder::LightConv2D<8, 16, 3>, input4);
    layer_case!("BatchNorm 8 (maps)", builder::BatchNorm<8>, input4);
    let input2: (Const<6>, Const<32>) = Default::default();
    layer_case!("Dense 32->10", builder::Dense<32, 10>, input2);
    layer_case!("LightDense 32->10 k=8", builder::LightDense<32, 10, 8>, input2);
    layer_case!("BatchNorm 32 (vectors)", builder::BatchNorm<32>, input2);
    let _ = (
        std::marker::PhantomData::<Conv2D<1, 1, 1, 1, lightlayers::layers::Same, f32, Cpu>>,
        std::marker::PhantomData::<SeparableConv2D<1, 1, 1, 1, lightlayers::layers::Same, f32, Cpu>>,
        std::marker::PhantomData::<LightConv2D<1, 1, 1, 1, 1, lightlayers::layers::Same, f32, Cpu>>,
        std::marker::PhantomData::<BatchNorm<1, f32, Cpu>>,
    );
}

// ---------------------------------------------------------------------------------------------
// paper models: training forward, every gradient, batch-norm statistics, one Adam step, inference

fn model_case<N: Network>(
    mut cpu_model: N::Model<f32, Cpu>,
    mut gpu_model: N::Model<f32, Cuda>,
    cpu: &Cpu,
    gpu: &Cuda,
) {
    let label = N::summary().name;
    let [c, h, w] = N::INPUT_SHAPE;
    let batch = 16;
    let x: Images<N, f32, Cpu> = cpu.sample_uniform_like(&(batch, c, h, w)).reshape_like(&(
        batch,
        Default::default(),
        Default::default(),
        Default::default(),
    ));
    let xg: Images<N, f32, Cuda> = x.to_device(gpu);

    let grads_c = cpu_model.alloc_grads();
    let logits_c = cpu_model
        .try_logits_train(x.clone().traced(grads_c))
        .unwrap();
    let r: Tensor<(usize, N::Classes), f32, Cpu> = cpu.sample_normal_like(logits_c.shape());
    let rg = r.to_device(gpu);
    let grads_g = gpu_model.alloc_grads();
    let logits_g = gpu_model
        .try_logits_train(xg.clone().traced(grads_g))
        .unwrap();
    report(
        &label,
        "forward (training)",
        relative(
            &logits_g.retaped::<NoneTape>().as_vec(),
            &logits_c.retaped::<NoneTape>().as_vec(),
        ),
        OUTPUT_TOL,
    );
    let gc = (logits_c * r).sum().backward();
    let gg = (logits_g * rg).sum().backward();
    compare_sets(
        &label,
        "gradients",
        &collect(&gpu_model, Some(&gg)),
        &collect(&cpu_model, Some(&gc)),
        GRAD_TOL,
    );
    compare_sets(
        &label,
        "batch-norm statistics",
        &collect(&gpu_model, None),
        &collect(&cpu_model, None),
        GRAD_TOL,
    );

    let cfg = AdamConfig {
        lr: 1e-3,
        betas: [0.9, 0.999],
        eps: 1e-7,
        weight_decay: None,
    };
    Adam::new(&cpu_model, cfg)
        .update(&mut cpu_model, &gc)
        .unwrap();
    Adam::new(&gpu_model, cfg)
        .update(&mut gpu_model, &gg)
        .unwrap();
    compare_sets(
        &label,
        "weights after one Adam step",
        &collect(&gpu_model, None),
        &collect(&cpu_model, None),
        GRAD_TOL,
    );

    let inf_c = cpu_model.try_logits(x).unwrap().as_vec();
    let inf_g = gpu_model.try_logits(xg).unwrap().as_vec();
    report(
        &label,
        "forward (inference)",
        relative(&inf_g, &inf_c),
        OUTPUT_TOL,
    );
}

macro_rules! model {
    ($net:ty) => {{
        let (cpu, gpu) = (Cpu::seed_from_u64(4), cuda());
        let m = <$net as Network>::try_build::<f32, Cpu>(&cpu).unwrap();
        let g: <$net as Network>::Model<f32, Cuda> = m.to_device(&gpu);
        model_case::<$net>(m, g, &cpu, &gpu);
    }};
}

#[test]
fn paper_models() {
    model!(MnistConv);
    model!(MnistSeparable);
    model!(MnistLight<1>);
    model!(MnistLight<3>);
    model!(FashionMnistLight<5>);
    model!(Cifar10Conv);
    model!(Cifar10Separable);
    model!(Cifar10Light<1>);
    model!(Cifar10Light<5>);
    model!(Cifar100Conv);
    model!(Cifar100Separable);
    model!(Cifar100Light<5>);
}
