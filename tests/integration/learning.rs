//! Each MNIST model family learns: on one fixed batch of 64 real MNIST images, a few hundred
//! Adam steps drive the training loss near zero.

use std::io::Read;

use lightlayers::paper::{MnistConv, MnistLight, MnistSeparable};
use lightlayers::prelude::*;

fn read_gz(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("fixture"))
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

type Images = Tensor<(usize, Const<1>, Const<28>, Const<28>), f32, Cpu>;
type OneHot = Tensor<(usize, Const<10>), f32, Cpu>;

/// The 64 fixture images scaled to [0, 1] and their labels one-hot.
fn batch(dev: &Cpu) -> (Images, OneHot) {
    let images = read_gz("mnist-64-train-images-idx3-ubyte.gz");
    let labels = read_gz("mnist-64-train-labels-idx1-ubyte.gz");
    let pixels: Vec<f32> = images[16..].iter().map(|&p| p as f32 / 255.0).collect();
    let mut one_hot = vec![0.0f32; 64 * 10];
    for (i, &l) in labels[8..].iter().enumerate() {
        one_hot[i * 10 + l as usize] = 1.0;
    }
    (
        dev.tensor_from_vec(pixels, (64, Const, Const, Const)),
        dev.tensor_from_vec(one_hot, (64, Const)),
    )
}

/// Trains `N` on the batch; returns the first and the last loss.
fn fit<
    N: Network<Channels = Const<1>, Height = Const<28>, Width = Const<28>, Classes = Const<10>>,
>(
    steps: usize,
) -> (f32, f32) {
    let dev = Cpu::seed_from_u64(0);
    let (x, y) = batch(&dev);
    let mut model = N::try_build::<f32, Cpu>(&dev).unwrap();
    let mut grads = model.alloc_grads();
    let mut opt = Adam::new(
        &model,
        AdamConfig {
            lr: 3e-3,
            betas: [0.9, 0.999],
            eps: 1e-7,
            weight_decay: None,
        },
    );
    let (mut first, mut last) = (f32::NAN, f32::NAN);
    for step in 0..steps {
        let logits = model.try_logits_train(x.clone().traced(grads)).unwrap();
        let loss = cross_entropy_with_logits_loss(logits, y.clone());
        last = loss.array();
        if step == 0 {
            first = last;
        }
        grads = loss.backward();
        opt.update(&mut model, &grads).unwrap();
        model.zero_grads(&mut grads);
    }
    (first, last)
}

#[test]
fn conv_model_fits_one_batch() {
    let (first, last) = fit::<MnistConv>(300);
    println!("MnistConv: {first} -> {last}");
    assert!(first > 1.5, "starts near ln(10): {first}");
    assert!(last < 0.05, "MnistConv loss after 300 steps: {last}");
}

#[test]
fn separable_model_fits_one_batch() {
    let (first, last) = fit::<MnistSeparable>(300);
    println!("MnistSeparable: {first} -> {last}");
    assert!(first > 1.5, "starts near ln(10): {first}");
    assert!(last < 0.05, "MnistSeparable loss after 300 steps: {last}");
}

#[test]
fn light_model_fits_one_batch() {
    let (first, last) = fit::<MnistLight<3>>(300);
    println!("MnistLight<3>: {first} -> {last}");
    assert!(first > 1.5, "starts near ln(10): {first}");
    assert!(last < 0.05, "MnistLight<3> loss after 300 steps: {last}");
}
