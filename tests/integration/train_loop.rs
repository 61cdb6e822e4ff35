//! The trainer end to end on a tiny network and a synthetic dataset: seeded runs repeat bit
//! for bit, a resumed run equals an uninterrupted one, a NaN loss stops training without
//! touching the checkpoint, and the saved weights load back for inference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lightlayers::data::Dataset;
use lightlayers::prelude::*;
use lightlayers::train::{
    evaluate, fit, Checkpoint, TrainConfig, TrainError, TrainReport, Trainer, LOCK_FILE,
    METRICS_CSV, METRICS_JSON, MODEL_FILE,
};

use crate::temp_dir::TempDir;

network! {
    /// Small enough that a step takes well under a millisecond, but with every kind of state:
    /// convolutions, batch norm (moving statistics), a light layer (L2 penalty).
    pub Tiny = input(1, 8, 8)
        -> conv(4) -> bn -> relu -> max_pool(2)
        -> light_conv(4, k = 2) -> bn -> relu
        -> global_avg_pool -> dense(3) -> softmax
}

const CLASSES: &[&str] = &["top-left", "centre", "bottom-right"];

/// `n` noisy 8×8 images of three classes: a bright 3×3 square (190 + noise below 64) top-left, in the centre, or
/// bottom-right.
fn synthetic(n: usize, salt: u64) -> Dataset {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 58) as u8
    };
    let mut images = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 3;
        let at = [0, 2, 5][class];
        for y in 0..8 {
            for x in 0..8 {
                let inside = (at..at + 3).contains(&y) && (at..at + 3).contains(&x);
                images.push(if inside { 190 } else { 0 } + noise());
            }
        }
        labels.push(class as u8);
    }
    Dataset::new("synthetic", [1, 8, 8], CLASSES, images, labels).unwrap()
}

/// A path for an output folder that does not exist yet, inside a temporary folder that is
/// removed when the returned guard drops.
fn scratch(name: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(&format!("train-loop-{name}"));
    let dir = tmp.join(name);
    (tmp, dir)
}

fn config(epochs: usize, out: Option<&Path>) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 16,
        lr: 1e-2,
        shuffle: Some(7),
        seed: 3,
        plateau_patience: Some(1),
        early_stop_patience: Some(5),
        out_dir: out.map(Path::to_path_buf),
        progress: false,
        ..TrainConfig::default()
    }
}

/// Builds the model from `config.seed` and trains it.
fn run(
    config: &TrainConfig,
) -> Result<(TrainReport, <Tiny as Network>::Model<f32, Cpu>), TrainError> {
    let dev = Cpu::seed_from_u64(config.seed);
    let mut model = Tiny::try_build::<f32, Cpu>(&dev).unwrap();
    let report = fit::<Tiny, f32, Cpu>(config, &mut model, &synthetic(120, 1), &synthetic(30, 2))?;
    Ok((report, model))
}

/// Every file of a folder with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The model's tensors as bytes, through dfdx's safetensors export.
fn weights(model: &<Tiny as Network>::Model<f32, Cpu>, dir: &Path) -> Vec<u8> {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("compare.safetensors");
    model.save_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

#[test]
fn seeded_runs_repeat_bit_for_bit_and_learn() {
    let (_dir_tmp, dir) = scratch("repeat");
    let (a, model_a) = run(&config(3, None)).unwrap();
    let (b, model_b) = run(&config(3, None)).unwrap();
    assert!(
        a.history.same_curve(&b.history),
        "{:#?}\n{:#?}",
        a.history,
        b.history
    );
    assert_eq!(weights(&model_a, &dir), weights(&model_b, &dir));
    assert_eq!(a.history.epochs.len(), 3);
    assert_eq!((a.epochs_done, a.epochs_run, a.resumed_from), (3, 3, None));
    let first = &a.history.epochs[0];
    let last = a.history.last().unwrap();
    assert!(last.train_loss < first.train_loss, "{first:?} -> {last:?}");
    assert!(a.test_accuracy > 0.5, "{a:?}");
    assert_eq!(a.test_accuracy, last.test_accuracy);
    assert!(a.images_per_second > 0.0 && a.wall_seconds > 0.0);

    // Another seed gives another run.
    let (c, _) = run(&TrainConfig {
        seed: 4,
        ..config(3, None)
    })
    .unwrap();
    assert!(!a.history.same_curve(&c.history));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let (_whole_tmp, whole) = scratch("whole");
    let (_split_tmp, split) = scratch("split");
    let (a, model_a) = run(&config(6, Some(&whole))).unwrap();
    // The plateau callback reduces the rate after epoch 5: its state crosses the resume.
    let rates: Vec<f64> = a.history.epochs.iter().map(|r| r.lr).collect();
    assert_eq!(rates, [1e-2, 1e-2, 1e-2, 1e-2, 1e-2, 1e-2 * 0.1]);

    let (first, _) = run(&config(3, Some(&split))).unwrap();
    assert_eq!(first.epochs_done, 3);
    // What a Ctrl-C in the middle of a write leaves: removed when training starts again.
    let partial = split.join(".state.json.part-1-0");
    std::fs::write(&partial, b"{ half a fi").unwrap();
    let (b, model_b) = run(&TrainConfig {
        resume: true,
        progress: true,
        ..config(6, Some(&split))
    })
    .unwrap();
    assert_eq!(
        (b.resumed_from, b.epochs_run, b.epochs_done),
        (Some(3), 3, 6)
    );
    assert!(!partial.exists());

    assert!(
        a.history.same_curve(&b.history),
        "{:#?}\n{:#?}",
        a.history,
        b.history
    );
    assert_eq!(weights(&model_a, &whole), weights(&model_b, &split));
    let (fa, fb) = (files(&whole), files(&split));
    let names: Vec<&String> = fa.keys().collect();
    assert_eq!(
        names,
        [
            LOCK_FILE,
            METRICS_CSV,
            METRICS_JSON,
            MODEL_FILE,
            "optimizer-epoch-0006.safetensors",
            "state.json",
            "weights-epoch-0006.safetensors",
        ]
    );
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for name in [
        MODEL_FILE,
        "optimizer-epoch-0006.safetensors",
        "weights-epoch-0006.safetensors",
    ] {
        assert!(fa[name] == fb[name], "{name} differs");
    }
    let (sa, sb) = (
        Checkpoint::new(&whole).read_state().unwrap(),
        Checkpoint::new(&split).read_state().unwrap(),
    );
    assert_eq!(sa.lr.to_bits(), sb.lr.to_bits());
    assert_eq!(sa.plateau, sb.plateau);
    assert_eq!(sa.early_stopping, sb.early_stopping);

    // The metrics files hold the history.
    let csv = String::from_utf8(fa[METRICS_CSV].clone()).unwrap();
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.starts_with("epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,"));
    let json = String::from_utf8(fa[METRICS_JSON].clone()).unwrap();
    assert_eq!(json.matches("\"test_accuracy\":").count(), 6, "{json}");
    assert!(
        json.contains(&format!("\"test_loss\": {}", a.test_loss)),
        "{json}"
    );

    // Resuming a finished run trains nothing and reports the same.
    let (c, _) = run(&TrainConfig {
        resume: true,
        ..config(6, Some(&split))
    })
    .unwrap();
    assert_eq!((c.epochs_run, c.test_loss), (0, b.test_loss));
    for dir in [whole, split] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn saved_weights_load_back_for_inference() {
    let (_dir_tmp, dir) = scratch("inference");
    let (report, _) = run(&config(2, Some(&dir))).unwrap();
    let dev = Cpu::seed_from_u64(99);
    let mut model = Tiny::try_build::<f32, Cpu>(&dev).unwrap();
    model
        .load_safetensors(Checkpoint::new(&dir).model_path())
        .unwrap();
    let eval = evaluate::<Tiny, f32, Cpu>(&model, &synthetic(30, 2), 16).unwrap();
    assert_eq!(eval.loss.to_bits(), report.test_loss.to_bits());
    assert_eq!(eval.accuracy, report.test_accuracy);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn nan_loss_stops_with_a_clear_error_and_keeps_the_checkpoint() {
    // From scratch: nothing is written.
    let (_fresh_tmp, fresh) = scratch("nan-fresh");
    let err = run(&TrainConfig {
        lr: 1e30,
        ..config(3, Some(&fresh))
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            TrainError::NonFiniteLoss {
                epoch: 1,
                checkpoint: None,
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("epoch 1") && text.contains("step"), "{text}");
    assert!(!Checkpoint::new(&fresh).exists());

    // After a good epoch: the learning rate in the checkpoint is made absurd, the resumed run
    // fails, and every file stays as it was.
    let (_dir_tmp, dir) = scratch("nan-resume");
    run(&config(1, Some(&dir))).unwrap();
    let cp = Checkpoint::new(&dir);
    let mut state = cp.read_state().unwrap();
    state.lr = 1e30;
    cp.write_state(&state).unwrap();
    let before = files(&dir);
    let err = run(&TrainConfig {
        resume: true,
        ..config(3, Some(&dir))
    })
    .unwrap_err();
    let text = err.to_string();
    match &err {
        TrainError::NonFiniteLoss {
            epoch, checkpoint, ..
        } => {
            assert_eq!(*epoch, 2, "{text}");
            assert_eq!(checkpoint, &Some((dir.clone(), 1)), "{text}");
        }
        other => panic!("expected a NaN stop, got {other}"),
    }
    assert!(text.contains("still holds epoch 1"), "{text}");
    assert!(files(&dir) == before, "the checkpoint changed");
    for d in [fresh, dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn misuse_is_reported_not_panicked() {
    let (_dir_tmp, dir) = scratch("misuse");
    let err = run(&TrainConfig {
        resume: true,
        ..config(1, Some(&dir))
    })
    .unwrap_err();
    assert!(matches!(err, TrainError::NoCheckpoint { .. }), "{err}");
    run(&config(1, Some(&dir))).unwrap();
    let err = run(&config(2, Some(&dir))).unwrap_err();
    assert!(
        matches!(err, TrainError::CheckpointExists { epoch: 1, .. }),
        "{err}"
    );
    let err = run(&TrainConfig {
        resume: true,
        batch_size: 8,
        ..config(2, Some(&dir))
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::ResumeMismatch {
                what: "batch size",
                ..
            }
        ),
        "{err}"
    );
    let err = run(&TrainConfig {
        resume: true,
        seed: 11,
        ..config(2, Some(&dir))
    })
    .unwrap_err();
    assert!(
        matches!(err, TrainError::ResumeMismatch { what: "seed", .. }),
        "{err}"
    );

    // A corrupt weights file is an error naming it.
    let state = Checkpoint::new(&dir).read_state().unwrap();
    std::fs::write(dir.join(&state.weights_file), b"garbage").unwrap();
    let err = run(&TrainConfig {
        resume: true,
        ..config(2, Some(&dir))
    })
    .unwrap_err();
    assert!(err.to_string().contains(&state.weights_file), "{err}");

    assert!(Trainer::new(TrainConfig {
        batch_size: 0,
        ..TrainConfig::default()
    })
    .is_err());
    assert!(Trainer::new(TrainConfig {
        resume: true,
        ..TrainConfig::default()
    })
    .is_err());
    assert!(Trainer::new(TrainConfig {
        lr: f64::INFINITY,
        ..TrainConfig::default()
    })
    .is_err());

    // A dataset of another shape.
    let dev = Cpu::seed_from_u64(0);
    let mut model = Tiny::try_build::<f32, Cpu>(&dev).unwrap();
    let wrong = Dataset::new("wrong", [1, 4, 4], CLASSES, vec![0; 16], vec![0]).unwrap();
    let err = fit::<Tiny, f32, Cpu>(&config(1, None), &mut model, &wrong, &wrong).unwrap_err();
    assert!(matches!(err, TrainError::DatasetMismatch { .. }), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The same loop on a CUDA GPU (built with `--features cuda`; skipped when no GPU answers).
#[cfg(feature = "cuda")]
mod cuda {
    use super::*;
    use dfdx::tensor::Cuda;

    type GpuModel = <Tiny as Network>::Model<f32, Cuda>;

    /// The GPU, or `None` (with a note) when there is none.
    fn gpu() -> Option<Cuda> {
        match Cuda::try_seed_from_u64(3) {
            Ok(dev) => Some(dev),
            Err(e) => {
                eprintln!("no CUDA device ({e:?}): test skipped");
                None
            }
        }
    }

    /// The model `run` starts from (drawn on the CPU), moved to the GPU.
    fn initial_on(gpu: &Cuda) -> GpuModel {
        let cpu = Tiny::try_build::<f32, Cpu>(&Cpu::seed_from_u64(3)).unwrap();
        cpu.to_device(gpu)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(1.0)
    }

    #[test]
    fn gpu_training_follows_the_cpu_and_resumes() {
        let Some(gpu) = gpu() else { return };
        let (cpu_report, _) = run(&config(4, None)).unwrap();
        let (train, test) = (synthetic(120, 1), synthetic(30, 2));

        let (_whole_tmp, whole) = scratch("cuda-whole");
        let mut model = initial_on(&gpu);
        let report =
            fit::<Tiny, f32, Cuda>(&config(4, Some(&whole)), &mut model, &train, &test).unwrap();
        for (c, g) in cpu_report.history.epochs.iter().zip(&report.history.epochs) {
            eprintln!("cpu {c:?}\ngpu {g:?}");
            assert!(close(c.train_loss, g.train_loss, 1e-3), "{c:?}\n{g:?}");
            assert!(close(c.test_loss, g.test_loss, 1e-2), "{c:?}\n{g:?}");
        }

        // Interrupted after 2 epochs, resumed on the GPU.
        let (_split_tmp, split) = scratch("cuda-split");
        let mut first = initial_on(&gpu);
        fit::<Tiny, f32, Cuda>(&config(2, Some(&split)), &mut first, &train, &test).unwrap();
        let mut resumed = initial_on(&gpu);
        let resumed_report = fit::<Tiny, f32, Cuda>(
            &TrainConfig {
                resume: true,
                ..config(4, Some(&split))
            },
            &mut resumed,
            &train,
            &test,
        )
        .unwrap();
        assert_eq!(resumed_report.resumed_from, Some(2));
        eprintln!(
            "GPU resume bit-identical to the uninterrupted GPU run: {}",
            report.history.same_curve(&resumed_report.history)
        );
        // dfdx's CUDA kernels are not deterministic (two GPU runs from the same weights differ
        // by about 1e-4 after two epochs here), so the resumed run is only close.
        for (a, b) in report
            .history
            .epochs
            .iter()
            .zip(&resumed_report.history.epochs)
        {
            assert!(close(a.test_loss, b.test_loss, 1e-2), "{a:?}\n{b:?}");
        }

        // The GPU's weights load on the CPU for inference.
        let mut on_cpu = Tiny::try_build::<f32, Cpu>(&Cpu::seed_from_u64(0)).unwrap();
        lightlayers::train::load_weights(&mut on_cpu, &Checkpoint::new(&whole).model_path())
            .unwrap();
        let eval = evaluate::<Tiny, f32, Cpu>(&on_cpu, &test, 16).unwrap();
        assert!(
            close(eval.loss, report.test_loss, 1e-4),
            "{eval:?} vs {report:?}"
        );
        for d in [whole, split] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
