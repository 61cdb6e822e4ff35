//! `KerasAdam` against Keras's update computed by hand, its saved state, and what it leaves
//! alone.

use dfdx::prelude::*;
use lightlayers_core::train::{KerasAdam, KerasAdamConfig, TrainError};

use crate::temp_dir::TempDir;

const C: [f64; 3] = [1.0, 0.5, 3.0];

/// Gradient of `Σ c_i p_i²` on the tape: `2 c_i p_i`.
fn grads_of<E: lightlayers_core::Element>(
    p: &Tensor<Rank1<3>, E, Cpu>,
    grads: Gradients<E, Cpu>,
    dev: &Cpu,
) -> Gradients<E, Cpu>
where
    Cpu: Device<E>,
{
    let c: Tensor<Rank1<3>, E, Cpu> = dev.tensor(C.map(E::of));
    (p.clone().traced(grads).square() * c).sum().backward()
}

/// Keras's Adam in plain f64: returns the parameters after each step.
fn keras_by_hand(p0: [f64; 3], cfg: KerasAdamConfig, steps: usize) -> Vec<[f64; 3]> {
    let (mut p, mut m, mut v) = (p0, [0.0; 3], [0.0; 3]);
    let mut out = Vec::new();
    for t in 1..=steps as i32 {
        let lr_t = cfg.lr * (1.0 - cfg.beta2.powi(t)).sqrt() / (1.0 - cfg.beta1.powi(t));
        for i in 0..3 {
            let g = 2.0 * C[i] * p[i];
            m[i] = cfg.beta1 * m[i] + (1.0 - cfg.beta1) * g;
            v[i] = cfg.beta2 * v[i] + (1.0 - cfg.beta2) * g * g;
            p[i] -= lr_t * m[i] / (v[i].sqrt() + cfg.epsilon);
        }
        out.push(p);
    }
    out
}

#[test]
fn f64_matches_keras_formula() {
    let dev = Cpu::default();
    let cfg = KerasAdamConfig {
        lr: 0.05,
        ..KerasAdamConfig::default()
    };
    let p0 = [1.0, -2.0, 0.5];
    let mut p: Tensor<Rank1<3>, f64, Cpu> = dev.tensor(p0);
    let mut adam = KerasAdam::new(cfg).unwrap();
    let mut grads = p.alloc_grads();
    for (step, expected) in keras_by_hand(p0, cfg, 5).into_iter().enumerate() {
        grads = grads_of(&p, grads, &dev);
        adam.update(&mut p, &mut grads).unwrap();
        p.zero_grads(&mut grads);
        for (got, want) in p.array().iter().zip(expected) {
            assert!(
                (got - want).abs() <= 1e-14 * want.abs().max(1.0),
                "step {}: {got} vs {want}",
                step + 1
            );
        }
    }
    assert_eq!(adam.step(), 5);
    // The first step moves each weight by about lr against its gradient.
    let first = keras_by_hand(p0, cfg, 1)[0];
    for (a, b) in first.iter().zip(p0) {
        assert!(((b - a).abs() - 0.05).abs() < 1e-6);
    }
}

#[test]
fn f32_matches_keras_formula() {
    let dev = Cpu::default();
    let cfg = KerasAdamConfig::default();
    let p0 = [0.25, -1.5, 2.0];
    let mut p: Tensor<Rank1<3>, f32, Cpu> = dev.tensor(p0.map(|v| v as f32));
    let mut adam = KerasAdam::new(cfg).unwrap();
    let mut grads = p.alloc_grads();
    for expected in keras_by_hand(p0, cfg, 3) {
        grads = grads_of(&p, grads, &dev);
        adam.update(&mut p, &mut grads).unwrap();
        p.zero_grads(&mut grads);
        for (got, want) in p.array().iter().zip(expected) {
            assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
    let (m, v) = adam.moments("").expect("moments of the bare tensor");
    assert_eq!((m.len(), v.len()), (3, 3));
}

#[test]
fn learning_rate_can_change_between_steps() {
    let dev = Cpu::default();
    let mut adam = KerasAdam::<f64, Cpu>::new(KerasAdamConfig::default()).unwrap();
    adam.set_lr(1e-4).unwrap();
    assert_eq!(adam.lr(), 1e-4);
    assert!(matches!(
        adam.set_lr(f64::NAN),
        Err(TrainError::InvalidConfig { .. })
    ));
    assert!(adam.set_lr(-1.0).is_err());
    assert!(KerasAdam::<f64, Cpu>::new(KerasAdamConfig {
        beta1: 1.0,
        ..KerasAdamConfig::default()
    })
    .is_err());
    let mut p: Tensor<Rank1<3>, f64, Cpu> = dev.tensor([1.0, 1.0, 1.0]);
    let mut grads = grads_of(&p, p.alloc_grads(), &dev);
    adam.update(&mut p, &mut grads).unwrap();
    assert!((p.array()[0] - (1.0 - 1e-4)).abs() < 1e-9);
}

#[test]
fn saved_state_resumes_exactly() {
    let dir = TempDir::new("adam-resume");
    let dev = Cpu::default();
    let cfg = KerasAdamConfig {
        lr: 0.01,
        ..KerasAdamConfig::default()
    };
    let run = |p: &mut Tensor<Rank1<3>, f32, Cpu>, adam: &mut KerasAdam<f32, Cpu>, n: usize| {
        let mut grads = p.alloc_grads();
        for _ in 0..n {
            grads = grads_of(p, grads, &dev);
            adam.update(p, &mut grads).unwrap();
            p.zero_grads(&mut grads);
        }
    };
    let start = [0.3f32, -0.7, 1.1];

    let mut whole: Tensor<Rank1<3>, f32, Cpu> = dev.tensor(start);
    let mut adam_whole = KerasAdam::new(cfg).unwrap();
    run(&mut whole, &mut adam_whole, 6);

    let mut split: Tensor<Rank1<3>, f32, Cpu> = dev.tensor(start);
    let mut adam_first = KerasAdam::new(cfg).unwrap();
    run(&mut split, &mut adam_first, 4);
    let path = dir.join("adam.safetensors");
    adam_first.save(&path).unwrap();
    let mut adam_second = KerasAdam::<f32, Cpu>::load(&path, &dev).unwrap();
    assert_eq!(adam_second.step(), 4);
    assert_eq!(adam_second.config(), &cfg);
    adam_second.check_fits(&split).unwrap();
    run(&mut split, &mut adam_second, 2);

    let bits = |t: &Tensor<Rank1<3>, f32, Cpu>| t.array().map(f32::to_bits);
    assert_eq!(bits(&whole), bits(&split));
    assert_eq!(adam_whole.moments(""), adam_second.moments(""));
}

#[test]
fn bad_state_files_are_errors() {
    let dir = TempDir::new("adam-bad");
    let dev = Cpu::default();
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"definitely not safetensors").unwrap();
    assert!(matches!(
        KerasAdam::<f32, Cpu>::load(&garbage, &dev),
        Err(TrainError::BadCheckpoint { .. })
    ));
    assert!(matches!(
        KerasAdam::<f32, Cpu>::load(&dir.join("missing"), &dev),
        Err(TrainError::Io { .. })
    ));

    // A valid state, truncated, then for the wrong element type, then for the wrong model.
    let mut p: Tensor<Rank1<3>, f32, Cpu> = dev.tensor([1.0, 2.0, 3.0]);
    let mut adam = KerasAdam::new(KerasAdamConfig::default()).unwrap();
    let mut grads = grads_of(&p, p.alloc_grads(), &dev);
    adam.update(&mut p, &mut grads).unwrap();
    let path = dir.join("adam.safetensors");
    adam.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let err = KerasAdam::<f32, Cpu>::load(&cut, &dev).unwrap_err();
    assert!(err.to_string().contains("cut.safetensors"), "{err}");
    assert!(KerasAdam::<f64, Cpu>::load(&path, &dev).is_err());
    let mut other: Tensor<Rank1<4>, f32, Cpu> = dev.zeros();
    let mut loaded = KerasAdam::<f32, Cpu>::load(&path, &dev).unwrap();
    assert!(matches!(
        loaded.check_fits(&other),
        Err(TrainError::OptimizerMismatch { .. })
    ));
    let mut grads = other.alloc_grads();
    assert!(matches!(
        loaded.update(&mut other, &mut grads),
        Err(TrainError::OptimizerMismatch { .. })
    ));
}

#[test]
fn batch_norm_moving_statistics_are_not_trained() {
    let dev = Cpu::seed_from_u64(1);
    let mut bn = dev.build_module::<dfdx::nn::builders::BatchNorm2D<2>, f32>();
    let x: Tensor<Rank4<4, 2, 3, 3>, f32, Cpu> = dev.sample_normal();
    let mut grads = bn.alloc_grads();
    let y = bn.forward_mut(x.traced(grads));
    grads = (y * 3.0).square().mean().backward();
    let (mean, var, scale) = (
        bn.running_mean.array(),
        bn.running_var.array(),
        bn.scale.array(),
    );
    let mut adam = KerasAdam::new(KerasAdamConfig::default()).unwrap();
    adam.update(&mut bn, &mut grads).unwrap();
    assert_eq!(bn.running_mean.array(), mean);
    assert_eq!(bn.running_var.array(), var);
    assert_ne!(bn.scale.array(), scale);
    let names: Vec<&str> = adam.tensor_names().collect();
    assert_eq!(names, ["bias", "scale"]);
}
