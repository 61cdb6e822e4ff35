//! Scratch timing of training steps (development aid; the real benchmark is `bench`).
use lightlayers::paper::*;
use lightlayers::prelude::*;
use std::time::Instant;

fn run<N: Network>(steps: usize) {
    let dev = Cpu::seed_from_u64(0);
    let [c, h, w] = N::INPUT_SHAPE;
    let x: Images<N, f32, Cpu> = dev.sample_uniform_like(&(64, c, h, w)).reshape_like(&(
        64,
        Default::default(),
        Default::default(),
        Default::default(),
    ));
    let mut y = vec![0.0f32; 64 * N::CLASSES];
    for i in 0..64 {
        y[i * N::CLASSES + i % N::CLASSES] = 1.0;
    }
    let y: Tensor<(usize, N::Classes), f32, Cpu> = dev.tensor_from_vec(y, (64, Default::default()));
    let mut model = N::try_build::<f32, Cpu>(&dev).unwrap();
    let mut grads = model.alloc_grads();
    let mut opt = Adam::new(&model, AdamConfig::default());
    let mut best = f64::MAX;
    for _ in 0..steps {
        let t = Instant::now();
        let logits = model.try_logits_train(x.clone().traced(grads)).unwrap();
        let loss = cross_entropy_with_logits_loss(logits, y.clone());
        grads = loss.backward();
        opt.update(&mut model, &grads).unwrap();
        model.zero_grads(&mut grads);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{}: best step {:.2} ms = {:.0} img/s",
        N::NAME,
        best * 1e3,
        64.0 / best
    );
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let steps = 40;
    match which.as_str() {
        "conv" => run::<MnistConv>(steps),
        "sep" => run::<MnistSeparable>(steps),
        "c10" => run::<Cifar10Light<1>>(steps),
        "c10conv" => run::<Cifar10Conv>(steps),
        _ => run::<MnistLight<3>>(steps),
    }
}
