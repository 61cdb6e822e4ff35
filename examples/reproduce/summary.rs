//! Results grouped by table row: mean and spread over seeds, in the tables' order.

use std::collections::BTreeMap;

use lightlayers::data::DatasetKind;

use crate::paper::{self, PaperRow};
use crate::plan::Row;
use crate::results::RunResult;

/// Mean and sample standard deviation of a few values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// The mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); 0 for one value.
    pub std: f64,
}

impl Stat {
    /// The statistics of `values` (in the order given, so equal inputs give equal bits).
    pub fn of(values: &[f64]) -> Stat {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Stat { mean, std }
    }
}

/// One row of a report: every seed's run of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct RowSummary {
    /// The model.
    pub row: Row,
    /// The runs, by increasing seed.
    pub runs: Vec<RunResult>,
    /// Parameters.
    pub params: u64,
    /// Multiply-accumulates per image, when known.
    pub macs: Option<u64>,
    /// Final test accuracy over seeds.
    pub accuracy: Stat,
    /// Final test loss over seeds.
    pub loss: Stat,
    /// Wall seconds per run, over seeds.
    pub seconds: Stat,
    /// The paper's figures for the row.
    pub paper: Option<&'static PaperRow>,
}

impl RowSummary {
    /// The seeds, increasing.
    pub fn seeds(&self) -> Vec<u64> {
        self.runs.iter().map(|r| r.seed).collect()
    }
}

/// The results grouped by row and sorted in table order; results naming an unknown dataset
/// are left out.
pub fn summarize(results: &[RunResult]) -> Vec<RowSummary> {
    let mut groups: BTreeMap<Row, Vec<RunResult>> = BTreeMap::new();
    for result in results {
        if let Some(run) = result.run() {
            groups.entry(run.row).or_default().push(result.clone());
        }
    }
    groups
        .into_iter()
        .map(|(row, mut runs)| {
            runs.sort_by_key(|r| r.seed);
            let field =
                |f: fn(&RunResult) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
            RowSummary {
                row,
                params: runs[0].params,
                macs: runs[0].macs,
                accuracy: field(|r| r.test_accuracy),
                loss: field(|r| r.test_loss),
                seconds: field(|r| r.wall_seconds),
                paper: paper::lookup(row.dataset(), row.family, row.k),
                runs,
            }
        })
        .collect()
}

/// The datasets that have rows, in the paper's order.
pub fn datasets(rows: &[RowSummary]) -> Vec<DatasetKind> {
    let mut out: Vec<DatasetKind> = Vec::new();
    for r in rows {
        if !out.contains(&r.row.dataset()) {
            out.push(r.row.dataset());
        }
    }
    out
}

/// The rows of one dataset.
pub fn of_dataset(rows: &[RowSummary], dataset: DatasetKind) -> Vec<&RowSummary> {
    rows.iter().filter(|r| r.row.dataset() == dataset).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Family;
    use crate::results::tests::sample;

    #[test]
    fn stat_is_the_mean_and_sample_deviation() {
        let s = Stat::of(&[0.9, 0.8, 0.7]);
        assert!((s.mean - 0.8).abs() < 1e-12);
        assert!((s.std - 0.1).abs() < 1e-12);
        assert_eq!(Stat::of(&[0.5]).std, 0.0);
    }

    #[test]
    fn rows_are_grouped_in_table_order_with_seeds_sorted() {
        let results = vec![
            sample(Family::Light, Some(2), 1, 0.8),
            sample(Family::Conv, None, 0, 0.9),
            sample(Family::Light, Some(2), 0, 0.6),
            sample(Family::Separable, None, 0, 0.7),
        ];
        let rows = summarize(&results);
        let labels: Vec<String> = rows.iter().map(|r| r.row.label()).collect();
        assert_eq!(labels, ["Conv2D", "SeparableConv2D", "LightLayers k=2"]);
        assert_eq!(rows[2].seeds(), [0, 1]);
        assert!((rows[2].accuracy.mean - 0.7).abs() < 1e-12);
        assert_eq!(rows[2].paper.map(|p| p.accuracy), Some(0.9749));
    }
}
