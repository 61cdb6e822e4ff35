use lightlayers::paper::*;
use lightlayers::prelude::*;
use std::time::Instant;

fn main() {
    let dev = Cpu::seed_from_u64(0);
    if std::env::var("CACHE").is_ok() {
        dev.enable_cache();
    }
    let x: Tensor<(usize, Const<1>, Const<28>, Const<28>), f32, _> =
        dev.sample_uniform_like(&(64, Const, Const, Const));
    let mut y = vec![0.0f32; 640];
    for i in 0..64 {
        y[i * 10 + i % 10] = 1.0;
    }
    let y = dev.tensor_from_vec(y, (64usize, Const::<10>));
    let mut model = MnistLight::<3>::try_build::<f32, Cpu>(&dev).unwrap();
    let mut grads = model.alloc_grads();
    let mut opt = Adam::new(&model, AdamConfig::default());
    for step in 0..20 {
        let t = Instant::now();
        let logits = model.try_logits_train(x.clone().traced(grads)).unwrap();
        let t1 = t.elapsed();
        let loss = cross_entropy_with_logits_loss(logits, y.clone());
        grads = loss.backward();
        let t2 = t.elapsed();
        opt.update(&mut model, &grads).unwrap();
        model.zero_grads(&mut grads);
        if step % 5 == 0 {
            println!("fwd {:?} fwd+bwd {:?} total {:?}", t1, t2, t.elapsed());
        }
    }
}
