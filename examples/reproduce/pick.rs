//! `--pick`: the smallest k that is as good as the best k, within ε, and what it saves
//! against Conv2D — the choice the paper leaves open, made from measured means over seeds.

use lightlayers::data::DatasetKind;
use lightlayers::summary::thousands;

use crate::models::{with_model, Cost};
use crate::plan::{Family, Row};
use crate::summary::RowSummary;

/// The default ε, in accuracy points (percent).
pub const DEFAULT_EPSILON_POINTS: f64 = 0.5;

/// The picked rank of one dataset and its cost beside Conv2D's.
#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    /// The dataset.
    pub dataset: DatasetKind,
    /// The picked rank.
    pub k: u8,
    /// Its mean test accuracy.
    pub accuracy: f64,
    /// The LightLayers rank with the best mean test accuracy.
    pub best_k: u8,
    /// That accuracy.
    pub best_accuracy: f64,
    /// ε, in points.
    pub epsilon_points: f64,
    /// Parameters of the picked model.
    pub params: u64,
    /// Its MACs per image, when known.
    pub macs: Option<u64>,
    /// Conv2D's parameters.
    pub conv_params: u64,
    /// Conv2D's MACs per image, when known.
    pub conv_macs: Option<u64>,
    /// Conv2D's mean test accuracy, when it was trained.
    pub conv_accuracy: Option<f64>,
}

/// The smallest k whose mean test accuracy is within `epsilon_points` of the best
/// LightLayers row's (ties for the best go to the smaller k); `None` without LightLayers rows.
/// Conv2D's cost comes from its results, or from its network's constants when it was not
/// trained.
pub fn pick(rows: &[&RowSummary], epsilon_points: f64) -> Option<Pick> {
    let light: Vec<(&RowSummary, u8)> = rows
        .iter()
        .filter(|r| r.row.family == Family::Light)
        .filter_map(|r| r.row.k.map(|k| (*r, k)))
        .collect();
    let (best, best_k) = light.iter().copied().reduce(|a, b| {
        if b.0.accuracy.mean > a.0.accuracy.mean {
            b
        } else {
            a
        }
    })?;
    let threshold = best.accuracy.mean - epsilon_points / 100.0;
    let (chosen, k) = light
        .iter()
        .copied()
        .filter(|(r, _)| r.accuracy.mean >= threshold - 1e-12)
        .min_by_key(|(_, k)| *k)?;
    let dataset = chosen.row.dataset();
    let conv = rows.iter().find(|r| r.row.family == Family::Conv);
    let (conv_params, conv_macs) = match conv {
        Some(c) => (c.params, c.macs),
        None => with_model(Row::new(dataset, Family::Conv, None), Cost)?,
    };
    Some(Pick {
        dataset,
        k,
        accuracy: chosen.accuracy.mean,
        best_k,
        best_accuracy: best.accuracy.mean,
        epsilon_points,
        params: chosen.params,
        macs: chosen.macs,
        conv_params,
        conv_macs,
        conv_accuracy: conv.map(|c| c.accuracy.mean),
    })
}

/// How `part` compares with `whole`: "4.3× fewer than Conv2D's 18,818".
fn saving(part: u64, whole: u64) -> String {
    if part == 0 || whole == 0 {
        return format!("Conv2D: {}", thousands(whole as usize));
    }
    format!(
        "{:.1}× fewer than Conv2D's {} ({:.0} % of it)",
        whole as f64 / part as f64,
        thousands(whole as usize),
        100.0 * part as f64 / whole as f64
    )
}

impl Pick {
    /// One markdown paragraph saying what was picked and why.
    pub fn describe(&self) -> String {
        let standing = if self.k == self.best_k {
            "the best LightLayers row".to_string()
        } else {
            format!(
                "within {} points of the best LightLayers row (k = {}, {:.4})",
                self.epsilon_points, self.best_k, self.best_accuracy
            )
        };
        let mut text = format!(
            "**{}: k = {}** — mean test accuracy {:.4}, {standing}; {} parameters, {}",
            self.dataset.name(),
            self.k,
            self.accuracy,
            thousands(self.params as usize),
            saving(self.params, self.conv_params),
        );
        match (self.macs, self.conv_macs) {
            (Some(m), Some(c)) => text.push_str(&format!(
                "; {} MACs per image, {}",
                thousands(m as usize),
                saving(m, c)
            )),
            _ => text.push_str("; MACs not known to this build"),
        }
        if let Some(acc) = self.conv_accuracy {
            text.push_str(&format!(
                "; Conv2D reaches {acc:.4} ({:+.2} points)",
                100.0 * (self.accuracy - acc)
            ));
        }
        text.push('.');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::sample;
    use crate::summary::summarize;

    fn rows_with(accuracies: &[(u8, f64)]) -> Vec<RowSummary> {
        let mut results: Vec<_> = accuracies
            .iter()
            .map(|&(k, a)| {
                let mut r = sample(Family::Light, Some(k), 0, a);
                r.params = 1_743 * u64::from(k) + 906;
                r
            })
            .collect();
        results.push(sample(Family::Conv, None, 0, 0.99));
        summarize(&results)
    }

    #[test]
    fn picks_the_smallest_k_within_epsilon_of_the_best() {
        let rows = rows_with(&[(1, 0.94), (2, 0.975), (3, 0.978), (4, 0.972)]);
        let refs: Vec<&RowSummary> = rows.iter().collect();
        let p = pick(&refs, 0.5).unwrap();
        assert_eq!((p.k, p.best_k), (2, 3));
        assert_eq!(p.params, 4_392);
        // The sample Conv2D result's params (1,000) stand for Conv2D: its results win over
        // the network's constants.
        assert_eq!(p.conv_params, 1_000);
        assert_eq!(p.conv_accuracy, Some(0.99));
        assert!(p
            .describe()
            .contains("0.9750, within 0.5 points of the best LightLayers row (k = 3, 0.9780)"));
        // A tighter ε keeps only the best; a wider one reaches k = 1.
        assert_eq!(pick(&refs, 0.1).unwrap().k, 3);
        assert_eq!(pick(&refs, 4.0).unwrap().k, 1);
    }

    #[test]
    fn conv_cost_comes_from_the_model_when_conv_was_not_trained() {
        let rows = rows_with(&[(1, 0.5), (2, 0.6)]);
        let light_only: Vec<&RowSummary> = rows
            .iter()
            .filter(|r| r.row.family == Family::Light)
            .collect();
        let p = pick(&light_only, 0.5).unwrap();
        assert_eq!((p.k, p.conv_params, p.conv_accuracy), (2, 18_818, None));
        assert!(p
            .describe()
            .starts_with("**MNIST: k = 2** — mean test accuracy 0.6000"));
        assert!(p
            .describe()
            .contains("4,392 parameters, 4.3× fewer than Conv2D's 18,818"));
    }

    #[test]
    fn nothing_to_pick_without_light_rows() {
        let rows = summarize(&[sample(Family::Conv, None, 0, 0.9)]);
        let refs: Vec<&RowSummary> = rows.iter().collect();
        assert_eq!(pick(&refs, 0.5), None);
    }
}
