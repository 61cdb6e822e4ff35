//! The report: per dataset a markdown table of our rows beside the paper's, the charts, and
//! (with `--pick`) the chosen k; written to a folder as `report.md` plus the chart files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lightlayers::data::DatasetKind;
use lightlayers::summary::thousands;

use crate::charts::{self, CostAxis};
use crate::curves;
use crate::pick::pick;
use crate::summary::{self, RowSummary, Stat};

/// What to write.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    /// The folder for `report.md` and the charts.
    pub out_dir: PathBuf,
    /// Add the picked k of each dataset, with this ε in accuracy points.
    pub pick_epsilon: Option<f64>,
    /// Draw the charts (the tables alone otherwise).
    pub charts: bool,
}

/// The report's file name in the output folder.
pub const REPORT_FILE: &str = "report.md";

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The output folder or a file in it.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A chart.
    #[error("cannot draw a chart: {0}")]
    Chart(String),
    /// No result to report.
    #[error("the results files hold no finished run")]
    Empty,
}

/// Writes the report of `rows` (see [`summary::summarize`]) into `options.out_dir` and returns
/// its markdown.
pub fn write(rows: &[RowSummary], options: &ReportOptions) -> Result<String, ReportError> {
    if rows.is_empty() {
        return Err(ReportError::Empty);
    }
    let dir = &options.out_dir;
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut md = String::from("# Reproducing the paper's tables\n");
    for dataset in summary::datasets(rows) {
        let mine = summary::of_dataset(rows, dataset);
        md.push('\n');
        md.push_str(&table(dataset, &mine));
        if options.charts {
            md.push('\n');
            md.push_str(&draw_charts(dir, dataset, &mine)?);
        }
        if let Some(epsilon) = options.pick_epsilon {
            md.push_str("\nPicked k: ");
            match pick(&mine, epsilon) {
                Some(p) => md.push_str(&p.describe()),
                None => md.push_str("no LightLayers row to pick from."),
            }
            md.push('\n');
        }
    }
    let path = dir.join(REPORT_FILE);
    std::fs::write(&path, &md).map_err(|source| ReportError::Io { path, source })?;
    Ok(md)
}

/// Draws the dataset's charts into `dir` and returns the markdown that shows them.
fn draw_charts(
    dir: &Path,
    dataset: DatasetKind,
    rows: &[&RowSummary],
) -> Result<String, ReportError> {
    let key = dataset.key();
    let mut md = String::new();
    let mut axes = vec![CostAxis::Params];
    if rows.iter().all(|r| r.macs.is_some()) {
        axes.push(CostAxis::Macs);
    }
    for axis in axes {
        let name = format!("{key}-accuracy-vs-{}", axis.slug());
        charts::accuracy_vs_cost(&dir.join(&name), dataset, rows, axis)
            .map_err(ReportError::Chart)?;
        let _ = writeln!(
            md,
            "![{}: test accuracy against {}]({name}.png)",
            dataset.name(),
            axis.slug()
        );
    }
    let name = format!("{key}-training-curves");
    curves::training_curves(&dir.join(&name), dataset, rows).map_err(ReportError::Chart)?;
    let _ = writeln!(md, "![{}: training curves]({name}.png)", dataset.name());
    if !rows.iter().all(|r| r.macs.is_some()) {
        md.push_str("\n(No MACs chart: this build does not know every row's MACs.)\n");
    }
    Ok(md)
}

/// The distinct values of `f` over the dataset's runs, joined with " / ".
fn distinct(rows: &[&RowSummary], f: impl Fn(&crate::results::RunResult) -> String) -> String {
    let mut values: Vec<String> = Vec::new();
    for run in rows.iter().flat_map(|r| &r.runs) {
        let v = f(run);
        if !values.contains(&v) {
            values.push(v);
        }
    }
    values.join(" / ")
}

/// A run's data source without the folders above the dataset's own ("data folder …/mnist"):
/// the runs of one sweep name one folder differently on each machine or working directory.
fn where_from(data: &str) -> String {
    for prefix in ["data folder ", "cache ", "downloaded to "] {
        if let Some(path) = data.strip_prefix(prefix) {
            if let Some(name) = std::path::Path::new(path).file_name() {
                return format!("{prefix}…/{}", name.to_string_lossy());
            }
        }
    }
    data.to_string()
}

fn mean_std(s: Stat, runs: usize) -> String {
    if runs > 1 {
        format!("{:.4} ± {:.4}", s.mean, s.std)
    } else {
        format!("{:.4}", s.mean)
    }
}

/// The dataset's markdown table, the settings line above it; wall time is the last column.
pub fn table(dataset: DatasetKind, rows: &[&RowSummary]) -> String {
    let mut md = format!("## {}\n\n", dataset.name());
    let _ = writeln!(
        md,
        "Data: {} ({} train / {} test images); {} epochs planned, batches of {}, learning rate {}; \
         device {}; commit {}.\n",
        distinct(rows, |r| where_from(&r.data)),
        distinct(rows, |r| r.train_examples.to_string()),
        distinct(rows, |r| r.test_examples.to_string()),
        distinct(rows, |r| r.epochs_planned.to_string()),
        distinct(rows, |r| r.batch_size.to_string()),
        distinct(rows, |r| r.lr.to_string()),
        distinct(rows, |r| r.device.clone()),
        distinct(rows, |r| r.commit.clone()),
    );
    md.push_str(
        "| model | params | MACs | seeds | test accuracy | test loss | paper accuracy | paper loss | TF here | time per run |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let n = r.runs.len();
        let seeds: Vec<String> = r.seeds().iter().map(u64::to_string).collect();
        let paper = |f: fn(&crate::paper::PaperRow) -> Option<f64>| {
            r.paper
                .and_then(f)
                .map_or_else(|| "—".to_string(), |v| format!("{v:.4}"))
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} s |",
            r.row.label(),
            thousands(r.params as usize),
            r.macs
                .map_or_else(|| "—".to_string(), |m| thousands(m as usize)),
            seeds.join(", "),
            mean_std(r.accuracy, n),
            mean_std(r.loss, n),
            paper(|p| Some(p.accuracy)),
            paper(|p| Some(p.loss)),
            paper(|p| p.tf_here),
            r.seconds.mean,
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::TempDir;
    use crate::plan::Family;
    use crate::results::tests::sample;
    use crate::summary::summarize;

    #[test]
    fn the_table_puts_our_rows_beside_the_papers() {
        let results = vec![
            sample(Family::Conv, None, 0, 0.99),
            sample(Family::Light, Some(3), 0, 0.97),
            sample(Family::Light, Some(3), 1, 0.98),
        ];
        let rows = summarize(&results);
        let refs: Vec<&RowSummary> = rows.iter().collect();
        let md = table(DatasetKind::Mnist, &refs);
        assert!(
            md.contains(
                "| Conv2D | 1,000 | — | 0 | 0.9900 | 0.0100 | 0.9887 | 0.0180 | 0.9873 | 1 s |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| LightLayers k=3 | 1,000 | — | 0, 1 | 0.9750 ± 0.0071 | 0.0250 ± 0.0071 | 0.9775 | 0.0513 | 0.9884 | 1 s |"),
            "{md}"
        );
    }

    #[test]
    fn data_sources_are_named_by_their_own_folder() {
        assert_eq!(
            where_from("data folder /work/data/mnist"),
            "data folder …/mnist"
        );
        assert_eq!(
            where_from("data folder ../data/mnist"),
            "data folder …/mnist"
        );
        assert_eq!(
            where_from("cache /root/.cache/x/cifar10"),
            "cache …/cifar10"
        );
        assert_eq!(where_from("the embedded subset"), "the embedded subset");
    }

    #[test]
    fn writes_markdown_and_charts() {
        let dir = TempDir::new("report-charts");
        let mut results = vec![
            sample(Family::Conv, None, 0, 0.99),
            sample(Family::Separable, None, 0, 0.93),
        ];
        for (k, seed, acc) in [(1, 0, 0.94), (1, 1, 0.95), (2, 0, 0.975), (2, 1, 0.97)] {
            results.push(sample(Family::Light, Some(k), seed, acc));
        }
        let rows = summarize(&results);
        let options = ReportOptions {
            out_dir: dir.path().to_path_buf(),
            pick_epsilon: Some(0.5),
            charts: true,
        };
        let md = write(&rows, &options).unwrap();
        assert!(md.contains("Picked k: **MNIST: k = 2**"), "{md}");
        for file in [
            "report.md",
            "mnist-accuracy-vs-params.svg",
            "mnist-accuracy-vs-params.png",
            "mnist-training-curves.svg",
            "mnist-training-curves.png",
        ] {
            let len = std::fs::metadata(dir.path().join(file)).map_or(0, |m| m.len());
            assert!(len > 1000, "{file}: {len} bytes");
        }
        let svg = std::fs::read_to_string(dir.path().join("mnist-accuracy-vs-params.svg")).unwrap();
        assert!(svg.contains("Pareto front (ours)") && svg.contains("the paper (hollow)"));
    }
}
