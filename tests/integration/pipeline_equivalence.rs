//! The fused CPU executor against the composed dfdx reference on the paper's models: training
//! forward, every parameter gradient, the batch-norm moving statistics, and inference.

use lightlayers::ops::reference::with_reference_ops;
use lightlayers::paper::*;
use lightlayers::prelude::*;
use lightlayers_core::network::TrainLogits;

/// Every tensor of a model (or its gradient) by name.
struct Collect<'g> {
    grads: Option<&'g Gradients<f64, Cpu>>,
    out: Vec<(String, Vec<f64>)>,
}

impl TensorVisitor<f64, Cpu> for Collect<'_> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = CpuError;
    type E2 = f64;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f64, Cpu>,
        (t, name): (&Tensor<S, f64, Cpu>, String),
    ) -> Result<Option<Tensor<S, f64, Cpu>>, CpuError> {
        match self.grads {
            Some(g) if opts.do_gradient_update => self.out.push((name, g.get(t).as_vec())),
            Some(_) => {}
            None => self.out.push((name, t.as_vec())),
        }
        Ok(None)
    }
}

fn collect<M: TensorCollection<f64, Cpu>>(
    m: &M,
    grads: Option<&Gradients<f64, Cpu>>,
) -> Vec<(String, Vec<f64>)> {
    let mut c = Collect { grads, out: vec![] };
    M::iter_tensors(&mut RecursiveWalker {
        m: (m, String::new()),
        f: &mut c,
    })
    .unwrap();
    c.out
}

/// Moves every trainable tensor by seeded noise, so that no bias or batch-norm shift is zero and
/// every parameter takes part in what is compared.
struct Perturb(Cpu);

impl TensorVisitor<f64, Cpu> for Perturb {
    type Viewer = ViewTensorMut;
    type Err = CpuError;
    type E2 = f64;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f64, Cpu>,
        t: &mut Tensor<S, f64, Cpu>,
    ) -> Result<Option<Tensor<S, f64, Cpu>>, CpuError> {
        if opts.do_gradient_update {
            let noise: Tensor<S, f64, Cpu> = self.0.sample_normal_like(t.shape());
            *t = t.clone() + noise * 0.1;
        }
        Ok(None)
    }
}

fn assert_close(what: &str, a: &[(String, Vec<f64>)], b: &[(String, Vec<f64>)]) {
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(b) {
        assert_eq!(na, nb);
        let scale = vb.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
        for (i, (x, y)) in va.iter().zip(vb).enumerate() {
            assert!(
                (x - y).abs() <= 1e-9 * scale + 1e-12,
                "{what} {na}[{i}]: fused {x} vs reference {y}"
            );
        }
    }
}

fn step<N: Network>(
    model: &mut N::Model<f64, Cpu>,
    x: &Images<N, f64, Cpu>,
    seed: u64,
) -> (Vec<f64>, Vec<(String, Vec<f64>)>) {
    let dev = Cpu::seed_from_u64(seed);
    let grads = model.alloc_grads();
    let logits: TrainLogits<N, f64, Cpu> = model.try_logits_train(x.clone().traced(grads)).unwrap();
    let r: Tensor<(usize, N::Classes), f64, Cpu> = dev.sample_normal_like(logits.shape());
    let out = logits.retaped::<NoneTape>().as_vec();
    let grads = (logits * r).sum().backward();
    (out, collect(&*model, Some(&grads)))
}

fn check<N: Network>(batch: usize) {
    let dev = Cpu::seed_from_u64(1);
    let [c, h, w] = N::INPUT_SHAPE;
    let x: Images<N, f64, Cpu> = dev.sample_normal_like(&(batch, c, h, w)).reshape_like(&(
        batch,
        Default::default(),
        Default::default(),
        Default::default(),
    ));
    let mut fused = N::try_build::<f64, Cpu>(&dev).unwrap();
    N::Model::<f64, Cpu>::iter_tensors(&mut RecursiveWalker {
        m: &mut fused,
        f: &mut Perturb(Cpu::seed_from_u64(2)),
    })
    .unwrap();
    let mut reference = fused.clone();
    for round in 0..2 {
        let (out_f, grads_f) = step::<N>(&mut fused, &x, round);
        let (out_r, grads_r) = with_reference_ops(|| step::<N>(&mut reference, &x, round));
        assert_close(
            &format!("{} logits", N::NAME),
            &[("logits".into(), out_f)],
            &[("logits".into(), out_r)],
        );
        assert_close(
            &format!("{} gradient round {round}", N::NAME),
            &grads_f,
            &grads_r,
        );
        assert_close(
            &format!("{} state", N::NAME),
            &collect(&fused, None),
            &collect(&reference, None),
        );
    }
    let inf_f = fused.try_logits(x.clone()).unwrap().as_vec();
    let inf_r = with_reference_ops(|| reference.try_logits(x.clone()).unwrap().as_vec());
    assert_close(
        &format!("{} inference", N::NAME),
        &[("y".into(), inf_f)],
        &[("y".into(), inf_r)],
    );
}

#[test]
fn mnist_families() {
    check::<MnistConv>(3);
    check::<MnistSeparable>(3);
    check::<MnistLight<2>>(3);
}

#[test]
fn cifar_families() {
    check::<Cifar10Conv>(2);
    check::<Cifar10Separable>(2);
    check::<Cifar100Light<2>>(2);
}

network! {
    /// Starts with an identity residual: the input feeds a convolution and the addition.
    pub IdentityFirst = input(3, 8, 8) -> residual(conv(3) -> bn) -> relu -> max_pool(2)
        -> global_avg_pool -> dense(4);
    /// Starts with pooling, batch norm and a ReLU before any convolution.
    pub PoolFirst = input(2, 8, 8) -> max_pool(2) -> bn -> relu -> conv(4) -> relu
        -> global_avg_pool -> dense(3);
}

/// `try_logits_train` skips the images' gradient and nothing else: the same logits and
/// parameter gradients, bit for bit, as the inherent `try_forward_logits_mut` (what the
/// models' `ModuleMut` runs), which computes it. A macro: the inherent method needs the
/// concrete model type.
macro_rules! check_images_as_data {
    ($net:ty, $batch:expr) => {{
        type N = $net;
        let dev = Cpu::seed_from_u64(3);
        let [c, h, w] = N::INPUT_SHAPE;
        let x: Images<N, f64, Cpu> = dev.sample_normal_like(&($batch, c, h, w)).reshape_like(&(
            $batch,
            Default::default(),
            Default::default(),
            Default::default(),
        ));
        let mut model = N::try_build::<f64, Cpu>(&dev).unwrap();
        let mut other = model.clone();
        let backward = |logits: TrainLogits<N, f64, Cpu>,
                        model: &<N as Network>::Model<f64, Cpu>| {
            let r: Tensor<(usize, <N as Network>::Classes), f64, Cpu> =
                Cpu::seed_from_u64(7).sample_normal_like(logits.shape());
            let out = logits.retaped::<NoneTape>().as_vec();
            let grads = (logits * r).sum().backward();
            (out, collect(model, Some(&grads)), grads.get(&x).as_vec())
        };
        let as_data = model
            .try_logits_train(x.clone().traced(Gradients::leaky()))
            .unwrap();
        let (out_data, grads_data, gx_data) = backward(as_data, &model);
        let as_any = other
            .try_forward_logits_mut(x.clone().traced(Gradients::leaky()))
            .unwrap();
        let (out_any, grads_any, gx_any) = backward(as_any, &other);
        assert_eq!(out_data, out_any, "{} logits", N::NAME);
        assert_eq!(grads_data, grads_any, "{} parameter gradients", N::NAME);
        assert!(
            gx_data.iter().all(|&g| g == 0.0),
            "{}: images' gradient",
            N::NAME
        );
        assert!(
            gx_any.iter().any(|&g| g != 0.0),
            "{}: input gradient",
            N::NAME
        );
    }};
}

#[test]
fn training_images_get_no_gradient() {
    check_images_as_data!(MnistConv, 2);
    check_images_as_data!(Cifar10Conv, 2);
    check_images_as_data!(IdentityFirst, 2);
    check_images_as_data!(PoolFirst, 2);
}
