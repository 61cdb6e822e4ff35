//! The command line shared by the four training examples (`mnist`, `fashion_mnist`,
//! `cifar10`, `cifar100`): parse the arguments, load the data, build the chosen model, train it
//! with the paper's recipe, print the result as a row of the paper's tables.
//!
//! Each example only names its dataset, its defaults and its three model types; see
//! [`dispatch!`]. The model and device choices are shared with `bench` ([`choice`]).

pub mod choice;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use lightlayers::data::{load, DatasetKind, LoadOptions, Origin, Splits};
use lightlayers::prelude::*;
use lightlayers::summary::thousands;
use lightlayers::train::{TrainConfig, TrainReport, Trainer};

pub use choice::{DeviceKind, Variant};

/// The arguments; the defaults shown by `--help` are each dataset's (see [`Settings`]).
#[derive(Debug, Parser)]
pub struct Args {
    /// Convolution variant of the model.
    #[arg(long, value_enum, default_value_t = Variant::Light)]
    pub variant: Variant,
    /// Rank k of the light layers (light variant only; refused with the others).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=6))]
    pub k: u8,
    /// Epochs to train.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Examples per step.
    #[arg(long, default_value_t = 64, value_parser = at_least_one)]
    pub batch_size: usize,
    /// Adam's initial learning rate; with --resume, the rate to continue with (the
    /// checkpoint's otherwise).
    #[arg(long, default_value_t = 1e-3, value_parser = learning_rate)]
    pub lr: f64,
    /// Folder holding the dataset's files (only this folder is read).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Download the dataset into the cache if it is not there (or a file there is damaged).
    #[arg(long)]
    pub download: bool,
    /// Seed of the initial weights and of the shuffle order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the examples in order, as the paper's `shuffle=False`.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Folder for checkpoints and metrics (written after every epoch).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the checkpoint in --out (repairing it if a run stopped while saving).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Device to train on.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
    /// No progress display (notes such as a reduced learning rate or an early stop remain).
    #[arg(long)]
    pub quiet: bool,
    /// Whether `--epochs` was given (else the embedded subset gets [`EMBEDDED_EPOCHS`]).
    #[arg(skip)]
    pub epochs_given: bool,
    /// Whether `--k` was given (refused with the variants that have no rank).
    #[arg(skip)]
    pub k_given: bool,
    /// Whether `--lr` was given (with `--resume`, it replaces the checkpoint's rate).
    #[arg(skip)]
    pub lr_given: bool,
}

/// Epochs on the embedded subset unless `--epochs` says otherwise: it holds a sixth of the
/// training images, so the paper's 10 epochs would be fewer than two epochs' worth of steps
/// (test accuracy ~0.95 on MNIST); 20 reach ~0.96, still within a minute on 2 cores.
pub const EMBEDDED_EPOCHS: usize = 20;

/// A dataset's example: what it trains on and the paper's settings for it.
pub struct Settings {
    /// The dataset.
    pub kind: DatasetKind,
    /// The program's one-line description.
    pub about: &'static str,
    /// Default rank k.
    pub k: &'static str,
    /// Default epochs.
    pub epochs: &'static str,
    /// Default learning rate.
    pub lr: &'static str,
    /// `ReduceLROnPlateau` patience.
    pub plateau_patience: usize,
}

/// Parses the command line with `settings`' defaults; on an invalid argument prints clap's
/// error and exits (`--help` and `--version` exit too).
pub fn parse(settings: &Settings) -> Args {
    let command = Args::command()
        .about(settings.about)
        .version(env!("CARGO_PKG_VERSION"))
        .mut_arg("k", |a| a.default_value(settings.k))
        .mut_arg("epochs", |a| a.default_value(settings.epochs))
        .mut_arg("lr", |a| a.default_value(settings.lr));
    let matches = command.get_matches();
    let mut args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let given = |m: &ArgMatches, id| m.value_source(id) == Some(ValueSource::CommandLine);
    args.epochs_given = given(&matches, "epochs");
    args.k_given = given(&matches, "k");
    args.lr_given = given(&matches, "lr");
    args
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".to_string()),
    }
}

fn learning_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a number > 0".to_string()),
    }
}

/// Runs `common::train::<Model>` for the model the arguments name: `$conv`, `$separable`, or
/// `$light<k>` for k in 1..=6.
macro_rules! dispatch {
    ($args:expr, $settings:expr, $conv:ty, $separable:ty, $light:ident) => {{
        let (args, settings) = (&$args, &$settings);
        common::choice::for_model!(
            args.variant,
            args.k,
            $conv,
            $separable,
            $light,
            common::train(args, settings)
        )
    }};
}
pub(crate) use dispatch;

/// Prints an error as one line and turns the outcome into the exit code.
pub fn finish(outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why `--download` fails in a build without the `download` feature.
#[cfg(not(feature = "download"))]
const NO_DOWNLOAD: &str = "this build cannot download (built without the `download` feature): \
     pass --data-dir, or rebuild with the default features";

/// Loads the data, prints where it came from and the model, trains network `N` on the chosen
/// device and prints the result row.
pub fn train<N: Network>(args: &Args, settings: &Settings) -> Result<(), String> {
    #[cfg(not(feature = "cuda"))]
    if args.device == DeviceKind::Cuda {
        return Err(choice::NO_CUDA.to_string());
    }
    if args.k_given && args.variant != Variant::Light {
        return Err(format!(
            "--k sets the rank of the light layers; --variant {} has none (drop --k, or use --variant light)",
            args.variant.to_possible_value().map_or("?".into(), |v| v.get_name().to_string())
        ));
    }
    #[cfg(not(feature = "download"))]
    if args.download {
        return Err(NO_DOWNLOAD.to_string());
    }
    let splits = load(
        settings.kind,
        &LoadOptions {
            data_dir: args.data_dir.clone(),
            #[cfg(feature = "download")]
            download: args.download,
            ..LoadOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    println!("{}", splits.notice());
    let epochs = if splits.origin == Origin::Embedded && !args.epochs_given {
        println!("{EMBEDDED_EPOCHS} epochs on the embedded subset (set --epochs to change)");
        EMBEDDED_EPOCHS
    } else {
        args.epochs
    };
    println!("{}", N::summary());
    let config = TrainConfig {
        epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        shuffle: (!args.no_shuffle).then_some(args.seed),
        seed: args.seed,
        plateau_patience: Some(settings.plateau_patience),
        out_dir: args.out.clone(),
        resume: args.resume,
        resume_lr: (args.resume && args.lr_given).then_some(args.lr),
        progress: !args.quiet,
        notes: true,
        ..TrainConfig::default()
    };
    let report = choice::on_device!(args.device, args.seed, fit_on::<N>(config, &splits))?;
    let method = match args.variant {
        Variant::Conv => "Conv2D".to_string(),
        Variant::Separable => "SeparableConv2D".to_string(),
        Variant::Light => format!("LightLayers k={}", args.k),
    };
    print_row(settings.kind, &method, N::PARAMS, &report);
    if let Some(out) = &args.out {
        println!("{}", saved_line(out, epochs, &report));
    }
    Ok(())
}

/// What the output folder holds after the run, in words.
fn saved_line(out: &std::path::Path, epochs: usize, report: &TrainReport) -> String {
    let out = out.display();
    match (report.epochs_run, report.resumed_from) {
        (0, None) => format!("no epoch trained: nothing saved in {out}"),
        (0, Some(done)) if report.stopped_early => {
            format!("no epoch trained: the run in {out} had stopped early at epoch {done}")
        }
        (0, Some(done)) => format!(
            "no epoch trained: {out} already holds {done} epochs (raise --epochs above {epochs} to train longer)"
        ),
        (_, _) => format!(
            "checkpoint of epoch {} and metrics in {out}",
            report.epochs_done
        ),
    }
}

/// Builds `N` on `dev` and trains it in `f32`.
fn fit_on<N: Network, D: Backend<f32>>(
    dev: D,
    config: TrainConfig,
    splits: &Splits,
) -> Result<TrainReport, String> {
    let mut model =
        N::try_build::<f32, D>(&dev).map_err(|e| format!("cannot build the model: {e}"))?;
    Trainer::new(config)
        .and_then(|t| t.fit::<N, f32, D>(&mut model, &splits.train, &splits.test))
        .map_err(|e| e.to_string())
}

/// The result as a row of the paper's tables, plus time and throughput.
fn print_row(kind: DatasetKind, method: &str, params: usize, report: &TrainReport) {
    println!();
    println!("| dataset | method | parameters | test accuracy | test loss | epochs | wall time | images/s |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {method} | {} | {:.4} | {:.4} | {} | {:.1} s | {:.0} |",
        kind.name(),
        thousands(params),
        report.test_accuracy,
        report.test_loss,
        report.epochs_done,
        report.wall_seconds,
        report.images_per_second
    );
}
