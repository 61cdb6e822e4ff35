//! Reproduces a table of the paper with one command: trains every row (Conv2D,
//! SeparableConv2D, LightLayers for the paper's k) with the paper's recipe, once per seed,
//! appending one JSON line per finished run to a results file; `report` turns any number of
//! results files into a markdown table beside the paper's figures, charts, and (`--pick`) the
//! smallest k that is as good as the best.
//!
//! ```text
//! cargo run --release --example reproduce -- --dataset mnist --data-dir <DIR>
//! cargo run --release --example reproduce -- --dataset cifar10 --variants light --k 1,3 --seeds 0 --download
//! cargo run --release --example reproduce -- --dataset mnist --shard 0/3     # one machine of three
//! cargo run --release --example reproduce -- report runs/reproduce/*.jsonl --pick --out report
//! ```
//!
//! Runs are resumable: each trains in its own checkpoint folder under `--work-dir`, so a
//! killed run continues from its last finished epoch, and runs already in the results file
//! are skipped.

#[path = "../common/mod.rs"]
#[allow(unused)] // the single-model examples' driver: this one uses its types and settings only
mod common;

mod charts;
mod curves;
#[cfg(test)]
mod fixture;
mod font;
mod models;
mod paper;
mod pick;
mod plan;
mod png_file;
mod recipe;
mod report;
mod results;
mod shard;
mod summary;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lightlayers::data::DatasetKind;

use crate::common::{DeviceKind, Variant};
use crate::plan::Selection;
use crate::report::ReportOptions;
use crate::shard::Shard;
use crate::sweep::SweepConfig;

/// Train the rows of one of the paper's tables (and report them).
#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    sweep: SweepArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Merge results files into a markdown report with charts.
    Report(ReportArgs),
}

/// The sweep's arguments.
#[derive(Debug, Args)]
struct SweepArgs {
    /// The table: mnist, fashion-mnist, cifar10 or cifar100.
    #[arg(long, required = true, value_parser = parse_dataset)]
    dataset: Option<DatasetKind>,
    /// Families to train (all three by default).
    #[arg(long, value_enum, value_delimiter = ',')]
    variants: Vec<Variant>,
    /// LightLayers ranks to train (the table's by default).
    #[arg(long, value_delimiter = ',')]
    k: Vec<u8>,
    /// Seeds; every row is trained once per seed.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// Epochs (default: the paper's — 10 for MNIST-like data, 20 for CIFAR — or 20 on the
    /// embedded subset).
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Folder holding the dataset (only this folder is read).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Download the dataset into the cache if it is not there.
    #[arg(long)]
    download: bool,
    /// Results file to append to (default: runs/reproduce/DATASET.jsonl, with the shard in the
    /// name when sharded).
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// Folder of the runs' checkpoint folders.
    #[arg(long, value_name = "DIR", default_value = "runs/reproduce/work")]
    work_dir: PathBuf,
    /// Run shard i of n (0 ≤ i < n): every n-th run of the sweep, from the i-th.
    #[arg(long, value_name = "i/n", default_value_t = Shard::ALL)]
    shard: Shard,
    /// Device to train on.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
    /// No progress display (one line per run only).
    #[arg(long)]
    quiet: bool,
}

/// The report's arguments.
#[derive(Debug, Args)]
struct ReportArgs {
    /// Results files (merged; a run found twice counts once).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Folder for report.md and the charts.
    #[arg(long, value_name = "DIR", default_value = "runs/reproduce/report")]
    out: PathBuf,
    /// Pick the smallest k within --epsilon of the best LightLayers row.
    #[arg(long)]
    pick: bool,
    /// Tolerance of --pick, in accuracy points.
    #[arg(long, default_value_t = pick::DEFAULT_EPSILON_POINTS, value_parser = non_negative)]
    epsilon: f64,
    /// Tables only, no charts.
    #[arg(long)]
    no_charts: bool,
}

fn parse_dataset(s: &str) -> Result<DatasetKind, String> {
    s.parse()
        .map_err(|e: lightlayers::data::DataError| e.to_string())
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("expected a number ≥ 0".to_string()),
    }
}

impl SweepArgs {
    fn config(self) -> Result<SweepConfig, String> {
        let dataset = self.dataset.ok_or("--dataset is required")?;
        if self.batch_size == 0 {
            return Err("--batch-size must be at least 1".to_string());
        }
        let results = self.results.unwrap_or_else(|| {
            let name = if self.shard.is_all() {
                format!("{}.jsonl", dataset.key())
            } else {
                format!(
                    "{}-shard{}of{}.jsonl",
                    dataset.key(),
                    self.shard.index,
                    self.shard.count
                )
            };
            PathBuf::from("runs/reproduce").join(name)
        });
        Ok(SweepConfig {
            dataset,
            selection: Selection {
                families: self.variants.into_iter().map(Into::into).collect(),
                ks: self.k,
            },
            seeds: self.seeds,
            epochs: self.epochs,
            batch_size: self.batch_size,
            data_dir: self.data_dir,
            download: self.download,
            results,
            work_dir: self.work_dir,
            shard: self.shard,
            device: self.device,
            progress: !self.quiet,
        })
    }
}

fn run_report(args: ReportArgs) -> Result<(), String> {
    let (results, duplicates) = results::merge(&args.files).map_err(|e| e.to_string())?;
    if duplicates > 0 {
        eprintln!("{duplicates} duplicate run(s) ignored (the first result of each run counts)");
    }
    let rows = summary::summarize(&results);
    let options = ReportOptions {
        out_dir: args.out.clone(),
        pick_epsilon: args.pick.then_some(args.epsilon),
        charts: !args.no_charts,
    };
    let md = report::write(&rows, &options).map_err(|e| e.to_string())?;
    println!("{md}");
    println!(
        "report written to {}",
        args.out.join(report::REPORT_FILE).display()
    );
    Ok(())
}

fn run_sweep(args: SweepArgs) -> Result<(), String> {
    let config = args.config()?;
    let outcome =
        sweep::sweep(&config, &mut |line| println!("{line}")).map_err(|e| e.to_string())?;
    println!(
        "{} run(s) trained, {} already done; results in {}",
        outcome.trained,
        outcome.skipped,
        config.results.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Report(args)) => run_report(args),
        None => run_sweep(cli.sweep),
    };
    common::finish(outcome)
}
