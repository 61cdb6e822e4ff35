//! Running a sweep: every pending (row, seed) run of this shard, each trained with the
//! paper's recipe in a checkpoint folder of its own (so a killed run continues from its last
//! epoch), each appended to the results file when it ends (so a finished run is skipped when
//! the command runs again).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use lightlayers::data::{load, DatasetKind, LoadOptions, Origin, Splits};
use lightlayers::prelude::*;
use lightlayers::train::{Checkpoint, TrainConfig, TrainReport, Trainer};

use crate::common::{DeviceKind, EMBEDDED_EPOCHS};
use crate::models::{model_macs, with_model, ModelTask};
use crate::plan::{self, PlanError, Run, Selection};
use crate::recipe::Recipe;
use crate::results::{self, ResultsError, RunResult};
use crate::shard::Shard;

/// What to sweep, where the data is, where results and checkpoints go.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// The table.
    pub dataset: DatasetKind,
    /// Its rows to train.
    pub selection: Selection,
    /// Seeds, each a separate run of every row.
    pub seeds: Vec<u64>,
    /// Epochs; `None` for the paper's (or [`EMBEDDED_EPOCHS`] on the embedded subset).
    pub epochs: Option<usize>,
    /// Examples per step.
    pub batch_size: usize,
    /// Folder holding the dataset; `None` for the cache or the embedded subset.
    pub data_dir: Option<PathBuf>,
    /// Download the dataset into the cache if it is missing.
    pub download: bool,
    /// The results file this sweep appends to and skips finished runs from.
    pub results: PathBuf,
    /// Folder of the per-run checkpoint folders.
    pub work_dir: PathBuf,
    /// This process's share of the runs.
    pub shard: Shard,
    /// Where to train.
    pub device: DeviceKind,
    /// Show the trainer's progress.
    pub progress: bool,
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Runs of the whole plan (all shards).
    pub planned: usize,
    /// Runs of this shard.
    pub in_shard: usize,
    /// Runs of this shard already in the results file.
    pub skipped: usize,
    /// Runs trained (or finished from a checkpoint) now.
    pub trained: usize,
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The rows or seeds asked for.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The results file.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The dataset.
    #[error("cannot load {dataset}: {message}")]
    Data {
        /// The dataset.
        dataset: &'static str,
        /// The loader's message.
        message: String,
    },
    /// A run failed; its checkpoint folder is left as it was.
    #[error("{run}: {message} (checkpoint folder {})", dir.display())]
    Train {
        /// The run.
        run: String,
        /// The trainer's message.
        message: String,
        /// Its checkpoint folder (delete it to start the run afresh).
        dir: PathBuf,
    },
    /// `--device cuda` in a build without CUDA.
    #[cfg(not(feature = "cuda"))]
    #[error(
        "this build has no CUDA support: rebuild with `--features cuda` (needs the CUDA toolkit)"
    )]
    NoCuda,
    /// A CUDA device could not be opened.
    #[cfg(feature = "cuda")]
    #[error("cannot use the CUDA device: {0}")]
    Cuda(String),
}

/// Runs the pending runs of `config.shard`, appending each result to `config.results`.
/// `log` receives one line per run.
pub fn sweep(config: &SweepConfig, log: &mut dyn FnMut(&str)) -> Result<SweepOutcome, SweepError> {
    #[cfg(not(feature = "cuda"))]
    if config.device == DeviceKind::Cuda {
        return Err(SweepError::NoCuda);
    }
    let rows = plan::rows(config.dataset, &config.selection)?;
    let plan = plan::runs(&rows, &config.seeds)?;
    let mine = config.shard.select(&plan);
    let done: BTreeSet<Run> = results::read(&config.results)?
        .iter()
        .filter_map(RunResult::run)
        .collect();
    let pending: Vec<Run> = mine.iter().copied().filter(|r| !done.contains(r)).collect();
    let mut outcome = SweepOutcome {
        planned: plan.len(),
        in_shard: mine.len(),
        skipped: mine.len() - pending.len(),
        trained: 0,
    };
    log(&format!(
        "{}: {} runs in the sweep, {} in shard {}, {} already in {}",
        config.dataset.name(),
        outcome.planned,
        outcome.in_shard,
        config.shard,
        outcome.skipped,
        config.results.display()
    ));
    if pending.is_empty() {
        return Ok(outcome);
    }
    let splits = load(
        config.dataset,
        &LoadOptions {
            data_dir: config.data_dir.clone(),
            download: config.download,
            ..LoadOptions::default()
        },
    )
    .map_err(|e| SweepError::Data {
        dataset: config.dataset.name(),
        message: e.to_string(),
    })?;
    log(&splits.notice());
    let recipe = Recipe::of(config.dataset);
    let epochs = match config.epochs {
        Some(epochs) => epochs,
        None if splits.origin == Origin::Embedded => {
            log(&format!(
                "{EMBEDDED_EPOCHS} epochs on the embedded subset (set --epochs to change)"
            ));
            EMBEDDED_EPOCHS
        }
        None => recipe.epochs,
    };
    let commit = git_commit();
    for (i, &run) in pending.iter().enumerate() {
        let dir = config.work_dir.join(run.slug());
        let resume = Checkpoint::new(&dir).exists();
        log(&format!(
            "[{}/{}] {run}{}",
            i + 1,
            pending.len(),
            if resume {
                " (resuming its checkpoint)"
            } else {
                ""
            }
        ));
        let train = TrainRun {
            run,
            splits: &splits,
            device: config.device,
            train: TrainConfig {
                epochs,
                batch_size: config.batch_size,
                lr: recipe.lr,
                shuffle: Some(run.seed),
                seed: run.seed,
                plateau_patience: Some(recipe.plateau_patience),
                out_dir: Some(dir.clone()),
                resume,
                progress: config.progress,
                ..TrainConfig::default()
            },
            commit: &commit,
        };
        let result = with_model(run.row, train)
            .unwrap_or_else(|| Err(format!("no paper model for this row ({})", run.row.label())))
            .map_err(|message| SweepError::Train {
                run: run.to_string(),
                message,
                dir: dir.clone(),
            })?;
        log(&format!(
            "    test accuracy {:.4}, test loss {:.4}, {:.0} s",
            result.test_accuracy, result.test_loss, result.wall_seconds
        ));
        results::append(&config.results, &result)?;
        outcome.trained += 1;
    }
    Ok(outcome)
}

/// Training one run: the [`ModelTask`] that turns a row's network type into a result.
struct TrainRun<'a> {
    run: Run,
    splits: &'a Splits,
    device: DeviceKind,
    train: TrainConfig,
    commit: &'a str,
}

impl ModelTask for TrainRun<'_> {
    type Output = Result<RunResult, String>;

    fn run<N: Network>(self) -> Self::Output {
        let seed = self.run.seed;
        let report = match self.device {
            DeviceKind::Cpu => fit_on::<N, Cpu>(Cpu::seed_from_u64(seed), &self)?,
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda => {
                let dev = dfdx::tensor::Cuda::try_seed_from_u64(seed)
                    .map_err(|e| SweepError::Cuda(e.to_string()).to_string())?;
                fit_on::<N, dfdx::tensor::Cuda>(dev, &self)?
            }
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda => return Err(SweepError::NoCuda.to_string()),
        };
        let row = self.run.row;
        Ok(RunResult {
            dataset: row.dataset().key().to_string(),
            variant: row.family,
            k: row.k,
            seed,
            params: N::PARAMS as u64,
            macs: model_macs::<N>(),
            epochs_planned: self.train.epochs,
            batch_size: self.train.batch_size,
            lr: self.train.lr,
            train_examples: self.splits.train.len(),
            test_examples: self.splits.test.len(),
            data: self.splits.origin.to_string(),
            wall_seconds: report.history.epochs.iter().map(|e| e.seconds).sum(),
            test_accuracy: report.test_accuracy,
            test_loss: report.test_loss,
            epochs: report.history.epochs,
            device: match self.device {
                DeviceKind::Cpu => "cpu",
                DeviceKind::Cuda => "cuda",
            }
            .to_string(),
            commit: self.commit.to_string(),
        })
    }
}

/// Builds `N` on `dev` and trains it in `f32`.
fn fit_on<N: Network, D: Backend<f32>>(dev: D, run: &TrainRun) -> Result<TrainReport, String> {
    let mut model =
        N::try_build::<f32, D>(&dev).map_err(|e| format!("cannot build the model: {e}"))?;
    Trainer::new(run.train.clone())
        .and_then(|t| t.fit::<N, f32, D>(&mut model, &run.splits.train, &run.splits.test))
        .map_err(|e| e.to_string())
}

/// The source's commit: `$LIGHTLAYERS_COMMIT` at build time (for a binary built elsewhere,
/// e.g. a cluster image), else the commit checked out in the source tree it was built from
/// ("-dirty" when tracked files other than `results/` differ from it: results files grow as
/// a sweep runs, the code that trains does not), else "unknown".
fn git_commit() -> String {
    if let Some(commit) = option_env!("LIGHTLAYERS_COMMIT") {
        return commit.to_string();
    }
    let source = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(source)
            .args(args)
            .output()
            .ok()
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(out) if out.status.success() => {
            let mut commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let dirty = git(&["diff", "--quiet", "HEAD", "--", ".", ":(exclude)results"])
                .is_some_and(|o| o.status.code() == Some(1));
            if dirty {
                commit.push_str("-dirty");
            }
            commit
        }
        _ => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::fixture::{write_dataset, TempDir};
    use crate::plan::Family;
    use crate::report::{self, ReportOptions};
    use crate::summary::summarize;

    fn config(
        data: &Path,
        dataset: DatasetKind,
        results: PathBuf,
        work_dir: PathBuf,
    ) -> SweepConfig {
        SweepConfig {
            dataset,
            selection: Selection::default(),
            seeds: vec![0, 1],
            epochs: Some(1),
            batch_size: 16,
            data_dir: Some(data.to_path_buf()),
            download: false,
            results,
            work_dir,
            shard: Shard::ALL,
            device: DeviceKind::Cpu,
            progress: false,
        }
    }

    fn quiet(_: &str) {}

    /// The report's markdown without its wall-time column (the only figure that differs
    /// between two runs of the same sweep).
    fn report_without_time(files: &[PathBuf], out: &Path) -> String {
        let (results, _) = results::merge(files).unwrap();
        let options = ReportOptions {
            out_dir: out.to_path_buf(),
            pick_epsilon: Some(0.5),
            charts: false,
        };
        let md = report::write(&summarize(&results), &options).unwrap();
        md.lines()
            .map(|line| match line.trim_end().strip_suffix('|') {
                Some(row) => &row[..row.rfind('|').map_or(0, |i| i + 1)],
                None => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn three_shards_give_the_same_report_as_one_sweep() {
        let tmp = TempDir::new("sweep-shards");
        write_dataset(tmp.path(), DatasetKind::Mnist, 48, 16);
        let whole = tmp.path().join("whole.jsonl");
        let base = config(
            tmp.path(),
            DatasetKind::Mnist,
            whole.clone(),
            tmp.path().join("work-whole"),
        );
        let outcome = sweep(&base, &mut quiet).unwrap();
        assert_eq!((outcome.planned, outcome.trained), (12, 12));

        let mut shard_files = Vec::new();
        for index in 0..3 {
            let file = tmp.path().join(format!("shard{index}.jsonl"));
            let shard = SweepConfig {
                results: file.clone(),
                work_dir: tmp.path().join("work-shards"),
                shard: Shard { index, count: 3 },
                ..base.clone()
            };
            assert_eq!(sweep(&shard, &mut quiet).unwrap().trained, 4);
            shard_files.push(file);
        }
        // A shard that ran twice into two files, and the whole sweep again: duplicates.
        shard_files.push(shard_files[0].clone());
        let sharded = report_without_time(&shard_files, &tmp.path().join("report-shards"));
        let unsharded = report_without_time(
            std::slice::from_ref(&whole),
            &tmp.path().join("report-whole"),
        );
        assert_eq!(sharded, unsharded);
        let row = format!(
            "| LightLayers k=4 | 7,878 | {} | 0, 1 |",
            lightlayers::summary::thousands(lightlayers::paper::MnistLight::<4>::MACS)
        );
        assert!(unsharded.contains(&row), "{unsharded}");
        assert!(unsharded.contains("Picked k: **MNIST: k = "), "{unsharded}");

        // Run again: every run is in the results file, nothing is trained.
        let again = sweep(&base, &mut quiet).unwrap();
        assert_eq!((again.skipped, again.trained), (12, 0));
    }

    #[test]
    fn a_killed_run_resumes_from_its_last_epoch() {
        let tmp = TempDir::new("sweep-resume");
        write_dataset(tmp.path(), DatasetKind::FashionMnist, 32, 16);
        let one_row = |results: &str, work: &str, epochs| SweepConfig {
            selection: Selection {
                families: vec![Family::Light],
                ks: vec![6],
            },
            seeds: vec![3],
            epochs: Some(epochs),
            ..config(
                tmp.path(),
                DatasetKind::FashionMnist,
                tmp.path().join(results),
                tmp.path().join(work),
            )
        };
        // Uninterrupted: two epochs.
        sweep(&one_row("straight.jsonl", "work-straight", 2), &mut quiet).unwrap();
        // Killed after its first epoch, before its result was written: the checkpoint of
        // epoch 1 is all that is left, and the next sweep continues it.
        sweep(&one_row("first.jsonl", "work-killed", 1), &mut quiet).unwrap();
        let mut lines = Vec::new();
        let resumed = sweep(&one_row("resumed.jsonl", "work-killed", 2), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert_eq!(resumed.trained, 1);
        assert!(
            lines.iter().any(|l| l.contains("resuming its checkpoint")),
            "{lines:?}"
        );
        let straight = &results::read(&tmp.path().join("straight.jsonl")).unwrap()[0];
        let resumed = &results::read(&tmp.path().join("resumed.jsonl")).unwrap()[0];
        assert_eq!(resumed.epochs.len(), 2);
        for (a, b) in straight.epochs.iter().zip(&resumed.epochs) {
            assert!(a.same_curve(b), "{a:?} vs {b:?}");
        }
        assert_eq!(
            resumed.test_accuracy.to_bits(),
            straight.test_accuracy.to_bits()
        );
    }

    #[test]
    fn cifar_rows_train_on_synthetic_binary_files() {
        let tmp = TempDir::new("sweep-cifar");
        for dataset in [DatasetKind::Cifar10, DatasetKind::Cifar100] {
            write_dataset(tmp.path(), dataset, 20, 10);
            let results_file = tmp.path().join(format!("{}.jsonl", dataset.key()));
            let cfg = SweepConfig {
                selection: Selection {
                    families: vec![Family::Separable, Family::Light],
                    ks: vec![5],
                },
                seeds: vec![0],
                batch_size: 8,
                ..config(
                    tmp.path(),
                    dataset,
                    results_file.clone(),
                    tmp.path().join("work"),
                )
            };
            assert_eq!(sweep(&cfg, &mut quiet).unwrap().trained, 2);
            let results = results::read(&results_file).unwrap();
            let got: Vec<(Family, Option<u8>, u64, usize)> = results
                .iter()
                .map(|r| (r.variant, r.k, r.params, r.train_examples))
                .collect();
            let paper = crate::paper::table(dataset);
            let expected: Vec<(Family, Option<u8>, u64, usize)> = paper
                .iter()
                .filter(|p| p.family == Family::Separable || p.k == Some(5))
                .map(|p| (p.family, p.k, p.params, 20))
                .collect();
            assert_eq!(got, expected, "{dataset}");
            assert!(results
                .iter()
                .all(|r| r.epochs.len() == 1 && r.test_loss.is_finite()));
        }
    }

    #[test]
    fn no_data_is_loaded_when_every_run_is_done() {
        let tmp = TempDir::new("sweep-done");
        let results_file = tmp.path().join("r.jsonl");
        let mut done = crate::results::tests::sample(Family::Conv, None, 0, 0.9);
        done.dataset = "cifar10".to_string();
        results::append(&results_file, &done).unwrap();
        let cfg = SweepConfig {
            selection: Selection {
                families: vec![Family::Conv],
                ks: vec![],
            },
            seeds: vec![0],
            // A folder without data: loading it would fail.
            ..config(
                &tmp.path().join("nothing"),
                DatasetKind::Cifar10,
                results_file,
                tmp.path().join("w"),
            )
        };
        let outcome = sweep(&cfg, &mut quiet).unwrap();
        assert_eq!((outcome.skipped, outcome.trained), (1, 0));
    }
}
