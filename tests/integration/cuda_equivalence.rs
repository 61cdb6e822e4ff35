//! Cuda against Cpu (needs `--features cuda` and a GPU; compiled out otherwise): every op, every
//! layer and every paper model — forward, gradients, one optimizer step. The CPU side runs the
//! hand-written kernels, the GPU side the composed dfdx ops, so this also checks one against
//! the other on real hardware.
//!
//! Outputs must agree to a relative 1e-4, gradients and updated weights to 1e-3. The relative
//! error of a tensor is max|gpu − cpu| / max(max|cpu|, floor): the floor (1e-3 of the largest
//! gradient of the model) keeps gradients that are zero by construction (the bias of a
//! convolution followed by batch norm) from dividing rounding noise by rounding noise.
//!
//! Whole models are compared in f64 as well as f32. In f32 a max pool whose two largest inputs
//! differ by less than the rounding error can send its gradient to different inputs on the two
//! devices (both right: the choice is arbitrary at a tie); f64 makes such near-ties vanish, so
//! the f64 comparison is the strict one and the f32 one is reported alongside. Each check is
//! appended as a JSON line to `$LIGHTLAYERS_REPORT` when set.
#![cfg(feature = "cuda")]

use std::io::Write;

use lightlayers::layers::{builder, BatchNorm, Conv2D, LightConv2D, SeparableConv2D};
use lightlayers::ops::{self, Conv2dSpec, Padding};
use lightlayers::paper::*;
use lightlayers::prelude::*;
use lightlayers::train::{KerasAdam, KerasAdamConfig};

const OUTPUT_TOL: f64 = 1e-4;
const GRAD_TOL: f64 = 1e-3;

fn cuda() -> Cuda {
    Cuda::try_build(0, 0).expect("a CUDA device")
}

fn relative(gpu: &[f32], cpu: &[f32]) -> f64 {
    relative_floor(&widen(gpu.to_vec()), &widen(cpu.to_vec()), 1e-30)
}

fn relative_floor(gpu: &[f64], cpu: &[f64], floor: f64) -> f64 {
    assert_eq!(gpu.len(), cpu.len());
    let scale = cpu.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(floor);
    let worst = gpu
        .iter()
        .zip(cpu)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    worst / scale
}

fn widen<E: Element>(v: Vec<E>) -> Vec<f64> {
    v.into_iter().map(|x| x.to_f64_lossless()).collect()
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

/// Every tensor (or its gradient) of a module by name, widened to f64.
struct Collect<'g, E: Element, D: Device<E>> {
    grads: Option<&'g Gradients<E, D>>,
    out: Vec<(String, Vec<f64>)>,
}

impl<E: Element, D: Device<E>> TensorVisitor<E, D> for Collect<'_, E, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        match self.grads {
            Some(g) if opts.do_gradient_update => self.out.push((name, widen(g.get(t).as_vec()))),
            Some(_) => {}
            None => self.out.push((name, widen(t.as_vec()))),
        }
        Ok(None)
    }
}

fn collect<E: Element, D: Device<E>, M: TensorCollection<E, D>>(
    m: &M,
    grads: Option<&Gradients<E, D>>,
) -> Vec<(String, Vec<f64>)> {
    let mut c = Collect { grads, out: vec![] };
    M::iter_tensors(&mut RecursiveWalker {
        m: (m, String::new()),
        f: &mut c,
    })
    .unwrap();
    c.out
}

/// Worst relative error over a set of tensors, each floored at 1e-3 of the set's largest value.
fn worst_of_sets(gpu: &[(String, Vec<f64>)], cpu: &[(String, Vec<f64>)]) -> f64 {
    assert_eq!(gpu.len(), cpu.len());
    let largest = cpu
        .iter()
        .flat_map(|(_, v)| v.iter())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    gpu.iter()
        .zip(cpu)
        .map(|((ng, g), (nc, c))| {
            assert_eq!(ng, nc);
            relative_floor(g, c, 1e-3 * largest)
        })
        .fold(0.0, f64::max)
}

fn compare_sets(
    what: &str,
    kind: &str,
    gpu: &[(String, Vec<f64>)],
    cpu: &[(String, Vec<f64>)],
    tol: f64,
) {
    report(what, kind, worst_of_sets(gpu, cpu), tol);
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

/// A batch of uniform images for `N`, drawn in f64 and converted to `E`.
fn sample_images<N: Network, E: Element>(cpu: &Cpu, batch: usize) -> Images<N, E, Cpu>
where
    Cpu: Device<E>,
{
    let [c, h, w] = N::INPUT_SHAPE;
    let x: Tensor<(usize, usize, usize, usize), f64, Cpu> =
        <Cpu as SampleTensor<f64>>::sample_uniform_like(cpu, &(batch, c, h, w));
    x.to_dtype::<E>().reshape_like(&(
        batch,
        Default::default(),
        Default::default(),
        Default::default(),
    ))
}

/// Three training steps (forward, gradients, batch-norm statistics, Adam), then inference.
/// `strict` asserts the tolerances; otherwise the errors are only reported.
fn model_case<N: Network, E: Element>(
    mut cpu_model: N::Model<E, Cpu>,
    mut gpu_model: N::Model<E, Cuda>,
    cpu: &Cpu,
    gpu: &Cuda,
    strict: bool,
) where
    Cpu: Device<E>,
    Cuda: Device<E>,
{
    let precision = if std::mem::size_of::<E>() == 8 {
        "f64"
    } else {
        "f32"
    };
    let label = format!("{} {precision}", N::summary().name);
    let check = |kind: &str, err: f64, tol: f64| {
        if strict {
            report(&label, kind, err, tol)
        } else {
            report_only(&label, kind, err, tol)
        }
    };
    let sets = |kind: &str, g: &[(String, Vec<f64>)], c: &[(String, Vec<f64>)], tol: f64| {
        check(kind, worst_of_sets(g, c), tol)
    };
    let batch = 16;
    let cfg = KerasAdamConfig::default();
    let mut adam_c = KerasAdam::<E, Cpu>::new(cfg).unwrap();
    let mut adam_g = KerasAdam::<E, Cuda>::new(cfg).unwrap();
    let mut grads_c = cpu_model.alloc_grads();
    let mut grads_g = gpu_model.alloc_grads();
    for step in 0..3 {
        let x = sample_images::<N, E>(cpu, batch);
        let xg: Images<N, E, Cuda> = x.to_device(gpu);
        let logits_c = cpu_model.try_logits_train(x.traced(grads_c)).unwrap();
        let r: Tensor<(usize, N::Classes), f64, Cpu> =
            <Cpu as SampleTensor<f64>>::sample_normal_like(cpu, logits_c.shape());
        let r: Tensor<(usize, N::Classes), E, Cpu> = r.to_dtype::<E>();
        let rg = r.to_device(gpu);
        let logits_g = gpu_model.try_logits_train(xg.traced(grads_g)).unwrap();
        check(
            &format!("forward (training), step {step}"),
            relative_floor(
                &widen(logits_g.retaped::<NoneTape>().as_vec()),
                &widen(logits_c.retaped::<NoneTape>().as_vec()),
                1e-30,
            ),
            OUTPUT_TOL,
        );
        grads_c = (logits_c * r).sum().backward();
        grads_g = (logits_g * rg).sum().backward();
        sets(
            &format!("gradients, step {step}"),
            &collect(&gpu_model, Some(&grads_g)),
            &collect(&cpu_model, Some(&grads_c)),
            GRAD_TOL,
        );
        adam_c.update(&mut cpu_model, &mut grads_c).unwrap();
        adam_g.update(&mut gpu_model, &mut grads_g).unwrap();
        cpu_model.zero_grads(&mut grads_c);
        gpu_model.zero_grads(&mut grads_g);
        sets(
            &format!("weights and batch-norm statistics after Adam step {step}"),
            &collect(&gpu_model, None),
            &collect(&cpu_model, None),
            GRAD_TOL,
        );
    }
    let x = sample_images::<N, E>(cpu, batch);
    let inf_c = widen(cpu_model.try_logits(x.clone()).unwrap().as_vec());
    let inf_g = widen(gpu_model.try_logits(x.to_device(gpu)).unwrap().as_vec());
    check(
        "forward (inference)",
        relative_floor(&inf_g, &inf_c, 1e-30),
        OUTPUT_TOL,
    );
}

/// Appends a check to the report without asserting it.
fn report_only(what: &str, kind: &str, err: f64, tol: f64) {
    if let Ok(path) = std::env::var("LIGHTLAYERS_REPORT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("report file");
        writeln!(f, r#"{{"check":"{what}","kind":"{kind}","rel_err":{err:.3e},"tol":{tol:e},"pass":{},"informational":true}}"#, err <= tol).unwrap();
    }
}

macro_rules! model {
    ($net:ty) => {{
        let (cpu, gpu) = (Cpu::seed_from_u64(4), cuda());
        let m = <$net as Network>::try_build::<f64, Cpu>(&cpu).unwrap();
        let g: <$net as Network>::Model<f64, Cuda> = m.to_device(&gpu);
        model_case::<$net, f64>(m, g, &cpu, &gpu, true);
        let m = <$net as Network>::try_build::<f32, Cpu>(&cpu).unwrap();
        let g: <$net as Network>::Model<f32, Cuda> = m.to_device(&gpu);
        model_case::<$net, f32>(m, g, &cpu, &gpu, false);
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

/// The vendored dfdx's Cuda patches (vendor/dfdx/PATCHES.md): a tensor's device buffer and
/// dfdx's own driver and cuBLAS handles, as our CUDA kernels will use them.
#[test]
fn dfdx_seam_on_cuda() {
    let dev = cuda();
    let values = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let t = dev.tensor_from_vec(values.to_vec(), (2usize, 3usize));
    assert!(t.is_contiguous());
    let slice: &dfdx::cudarc::driver::CudaSlice<f32> = t.storage();
    assert_eq!(dfdx::cudarc::driver::DeviceSlice::len(slice), 6);
    let host = dev.cuda_device().dtoh_sync_copy(slice).unwrap();
    assert_eq!(host, values);

    // a buffer of dfdx's, filled by the driver directly, becomes a tensor without a copy
    let mut buf: <Cuda as Storage<f32>>::Vec = dev.try_alloc_len(6).unwrap();
    dev.cuda_device()
        .htod_sync_copy_into(&values, &mut buf)
        .unwrap();
    let wrapped = Tensor::from_storage(&dev, buf, (3usize, 2usize)).unwrap();
    assert_eq!(wrapped.as_vec(), values);

    // dfdx's cuBLAS handle on dfdx's buffers: (1×3)·(3×1) = 1·4 + 2·5 + 3·6
    use dfdx::cudarc::cublas::{sys::cublasOperation_t, Gemm, GemmConfig};
    let a = dev.tensor_from_vec(values[..3].to_vec(), (3usize,));
    let b = dev.tensor_from_vec(values[3..].to_vec(), (3usize,));
    let mut c: Tensor<(usize,), f32, Cuda> = dev.zeros_like(&(1usize,));
    let cfg = GemmConfig {
        transa: cublasOperation_t::CUBLAS_OP_N,
        transb: cublasOperation_t::CUBLAS_OP_N,
        m: 1,
        n: 1,
        k: 3,
        alpha: 1.0f32,
        lda: 1,
        ldb: 3,
        beta: 0.0,
        ldc: 1,
    };
    // SAFETY: a is 1×3 with lda 1 (3 elements), b is 3×1 with ldb 3 (3 elements), c is 1×1
    // (1 element): every buffer holds what the configuration reads or writes.
    unsafe {
        dev.cuda_blas()
            .gemm(cfg, &**a.storage(), &**b.storage(), &mut **c.storage_mut())
            .unwrap();
    }
    assert_eq!(c.as_vec(), vec![32.0]);
}
