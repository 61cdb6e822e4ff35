//! Training and inference throughput of the paper's models, measured like
//! `scripts/keras_throughput.py` so the two can be compared on one machine: synthetic
//! images, batches of 64 for training (forward, cross-entropy + L2 penalty, backward, Adam),
//! best of 3 timed epochs after a warm-up; batches of 256 for inference.
//!
//! ```text
//! cargo run --release --example bench                       # MNIST and CIFAR-10, k = 1 and 3
//! cargo run --release --example bench -- --family cifar100 --variant light --k 5
//! cargo run --release --example bench --features cuda -- --device cuda
//! ```
//!
//! Prints one JSON line per model. Each model runs in a process of its own (the example starts
//! itself again), so `peak_rss_mb` — the process's VmHWM — is that model's alone.

use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use lightlayers::paper::*;
use lightlayers::prelude::*;
use lightlayers::train::{KerasAdam, KerasAdamConfig};

/// The model and device choices of the training examples.
mod common {
    pub mod choice;
}

use common::choice::{for_model, on_device, DeviceKind, Variant};

/// A family of the paper's models (the dataset they are shaped for).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Family {
    Mnist,
    Cifar10,
    Cifar100,
}

/// Throughput of the paper's models (one JSON line each).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Model families to measure [default: mnist, cifar10].
    #[arg(long, value_enum)]
    family: Vec<Family>,
    /// Variants to measure [default: all three].
    #[arg(long, value_enum)]
    variant: Vec<Variant>,
    /// Ranks of the light variant [default: 1 and 3].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=6))]
    k: Vec<u8>,
    /// Synthetic images per timed epoch (the Keras script uses 12,800).
    #[arg(long, default_value_t = 12_800, value_parser = clap::value_parser!(u64).range(256..))]
    images: u64,
    /// Device to run on.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
    /// Training batch size (the comparison with Keras uses 64; larger batches show how much
    /// of a step is fixed per-operation cost).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    batch_size: u64,
    /// Turn on dfdx's tensor cache (freed buffers are kept and reused for tensors of the same
    /// size) to measure what it does to a training step.
    #[arg(long)]
    tensor_cache: bool,
    /// Measure exactly one model in this process (used internally).
    #[arg(long, hide = true)]
    single: bool,
}

/// The measurements of one model.
struct Figures {
    train: f64,
    infer: f64,
}

const INFER_BATCH: usize = 256;

/// Deterministic pseudo-random values in [0, 1).
fn synthetic(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

fn measure<N: Network, D: Backend<f32> + Cache>(
    dev: D,
    images: usize,
    train_batch: usize,
    tensor_cache: bool,
) -> Result<Figures, String> {
    if tensor_cache {
        dev.try_enable_cache()
            .map_err(|e| format!("cannot enable the tensor cache: {e}"))?;
    }
    let [c, h, w] = N::INPUT_SHAPE;
    let per_image = c * h * w;
    let classes = N::CLASSES;
    let pixels = synthetic(images * per_image, 1);
    let labels: Vec<usize> = synthetic(images, 2)
        .iter()
        .map(|v| (v * classes as f32) as usize % classes)
        .collect();
    let mut model =
        N::try_build::<f32, D>(&dev).map_err(|e| format!("cannot build the model: {e}"))?;
    let mut grads = model.alloc_grads();
    let mut adam = KerasAdam::new(KerasAdamConfig::default()).map_err(|e| e.to_string())?;

    let batch =
        |start: usize, len: usize| -> (Images<N, f32, D>, Tensor<(usize, N::Classes), f32, D>) {
            let x = dev.tensor_from_vec(
                pixels[start * per_image..(start + len) * per_image].to_vec(),
                (
                    len,
                    Default::default(),
                    Default::default(),
                    Default::default(),
                ),
            );
            let mut one_hot = vec![0.0f32; len * classes];
            for (i, &l) in labels[start..start + len].iter().enumerate() {
                one_hot[i * classes + l] = 1.0;
            }
            (x, dev.tensor_from_vec(one_hot, (len, Default::default())))
        };
    let mut epoch = |model: &mut N::Model<f32, D>, count: usize| -> Result<f64, String> {
        let started = Instant::now();
        for start in (0..count - count % train_batch).step_by(train_batch) {
            let (x, y) = batch(start, train_batch);
            let logits = model
                .try_logits_train(x.traced(grads.clone()))
                .map_err(|e| e.to_string())?;
            let mut loss = cross_entropy_with_logits_loss(logits, y);
            if let Some(penalty) = model.try_penalty().map_err(|e| e.to_string())? {
                loss = loss + penalty;
            }
            grads = loss.backward();
            adam.update(model, &mut grads).map_err(|e| e.to_string())?;
            model.zero_grads(&mut grads);
        }
        dev.try_synchronize().map_err(|e| e.to_string())?;
        Ok((count - count % train_batch) as f64 / started.elapsed().as_secs_f64())
    };
    // warm-up on a tenth of the data (the Keras script fits 1,280 images first)
    epoch(&mut model, (images / 10).max(train_batch))?;
    let mut train: f64 = 0.0;
    for _ in 0..3 {
        train = train.max(epoch(&mut model, images)?);
    }

    let infer_pass = |model: &N::Model<f32, D>, count: usize| -> Result<f64, String> {
        let started = Instant::now();
        for start in (0..count).step_by(INFER_BATCH) {
            let len = INFER_BATCH.min(count - start);
            let (x, _) = batch(start, len);
            let _ = model.try_logits(x).map_err(|e| e.to_string())?;
        }
        dev.try_synchronize().map_err(|e| e.to_string())?;
        Ok(count as f64 / started.elapsed().as_secs_f64())
    };
    infer_pass(&model, 1024.min(images))?;
    let infer = infer_pass(&model, images)?;
    Ok(Figures { train, infer })
}

/// Peak resident memory of this process in MB (Linux's VmHWM), if known.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn run_one<N: Network>(args: &Args, family: Family, variant: Variant, k: u8) -> Result<(), String> {
    let images = args.images as usize;
    let batch = args.batch_size as usize;
    let figures = on_device!(
        args.device,
        0,
        measure::<N>(images, batch, args.tensor_cache)
    )?;
    let name = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    let threads = match args.device {
        DeviceKind::Cpu => lightlayers::ops::cpu::threads(),
        DeviceKind::Cuda => 0,
    };
    println!(
        r#"{{"family":"{}","variant":"{}","k":{},"params":{},"train_img_per_s":{:.0},"infer_img_per_s":{:.0},"peak_rss_mb":{},"device":"{}","threads":{},"batch":{}}}"#,
        name(&family),
        name(&variant),
        if variant == Variant::Light { k } else { 0 },
        N::PARAMS,
        figures.train,
        figures.infer,
        peak_rss_mb().map_or("null".to_string(), |m| format!("{m:.0}")),
        name(&args.device),
        threads,
        batch,
    );
    Ok(())
}

fn dispatch(args: &Args, family: Family, variant: Variant, k: u8) -> Result<(), String> {
    match family {
        Family::Mnist => for_model!(
            variant,
            k,
            MnistConv,
            MnistSeparable,
            MnistLight,
            run_one(args, family, variant, k)
        ),
        Family::Cifar10 => for_model!(
            variant,
            k,
            Cifar10Conv,
            Cifar10Separable,
            Cifar10Light,
            run_one(args, family, variant, k)
        ),
        Family::Cifar100 => for_model!(
            variant,
            k,
            Cifar100Conv,
            Cifar100Separable,
            Cifar100Light,
            run_one(args, family, variant, k)
        ),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let families = if args.family.is_empty() {
        vec![Family::Mnist, Family::Cifar10]
    } else {
        args.family.clone()
    };
    let variants = if args.variant.is_empty() {
        vec![Variant::Conv, Variant::Separable, Variant::Light]
    } else {
        args.variant.clone()
    };
    let ks = if args.k.is_empty() {
        vec![1, 3]
    } else {
        args.k.clone()
    };
    let mut runs = Vec::new();
    for &family in &families {
        for &variant in &variants {
            if variant == Variant::Light {
                runs.extend(ks.iter().map(|&k| (family, variant, k)));
            } else {
                runs.push((family, variant, 0));
            }
        }
    }
    if args.single || runs.len() == 1 {
        let outcome = runs
            .iter()
            .try_for_each(|&(f, v, k)| dispatch(&args, f, v, k));
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // one process per model, so each peak-memory figure is the model's own
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find this program to start it per model: {e}");
            return ExitCode::FAILURE;
        }
    };
    let name = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    let mut failed = false;
    for (family, variant, k) in runs {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--single",
            "--family",
            &name(&family),
            "--variant",
            &name(&variant),
        ])
        .args([
            "--images",
            &args.images.to_string(),
            "--batch-size",
            &args.batch_size.to_string(),
            "--device",
            &name(&args.device),
        ]);
        if variant == Variant::Light {
            cmd.args(["--k", &k.to_string()]);
        }
        if args.tensor_cache {
            cmd.arg("--tensor-cache");
        }
        match cmd.status() {
            Ok(status) if status.success() => {}
            Ok(_) => failed = true,
            Err(e) => {
                eprintln!("error: cannot start {}: {e}", exe.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
