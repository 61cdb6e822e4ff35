//! Training curves, one panel per table row: test accuracy (solid) and training accuracy
//! (thin) per epoch, one colour per seed, all panels of a dataset on one accuracy scale.
//! Written as SVG and PNG.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use lightlayers::data::DatasetKind;

use crate::font::{self, FAMILY};
use crate::png_file;
use crate::summary::RowSummary;

/// Colours of seeds 0, 1, 2, … (cycled).
const SEED_COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// Writes `stem.svg` and `stem.png` with the curves of `rows` (one dataset).
pub fn training_curves(
    stem: &Path,
    dataset: DatasetKind,
    rows: &[&RowSummary],
) -> Result<(), String> {
    font::ensure_registered()?;
    let columns = rows.len().clamp(1, 4);
    let lines = rows.len().div_ceil(columns).max(1);
    let size = (columns as u32 * 340, lines as u32 * 280 + 50);
    let svg = stem.with_extension("svg");
    let png_path = stem.with_extension("png");
    draw(
        SVGBackend::new(&svg, size).into_drawing_area(),
        dataset,
        rows,
        (lines, columns),
    )
    .map_err(|e| format!("{}: {e}", svg.display()))?;
    let mut pixels = png_file::canvas(size);
    draw(
        BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area(),
        dataset,
        rows,
        (lines, columns),
    )
    .map_err(|e| format!("{}: {e}", png_path.display()))?;
    png_file::write(&png_path, size, &pixels)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    dataset: DatasetKind,
    rows: &[&RowSummary],
    grid: (usize, usize),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "{}: test accuracy (solid) and training accuracy (thin) per epoch, one colour per seed",
            dataset.name()
        ),
        (FAMILY, 18),
    )?;
    let all = rows
        .iter()
        .flat_map(|r| &r.runs)
        .flat_map(|run| &run.epochs)
        .flat_map(|e| [e.test_accuracy, e.train_accuracy]);
    let (lo, hi) = all.fold((1.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.05).max(0.005);
    let (y_lo, y_hi) = ((lo - pad).max(0.0), (hi + pad).min(1.0));
    let max_epoch = rows
        .iter()
        .flat_map(|r| &r.runs)
        .map(|run| run.epochs.len())
        .max()
        .unwrap_or(1)
        .max(2);
    for (panel, row) in root.split_evenly(grid).iter().zip(rows) {
        let mut chart = ChartBuilder::on(panel)
            .caption(row.row.label(), (FAMILY, 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(1f64..max_epoch as f64, y_lo..y_hi)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(max_epoch.min(10))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.2}"))
            .label_style((FAMILY, 12))
            .axis_desc_style((FAMILY, 12))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for run in &row.runs {
            let c = SEED_COLOURS[(run.seed % SEED_COLOURS.len() as u64) as usize];
            let test = run.epochs.iter().map(|e| (e.epoch as f64, e.test_accuracy));
            let train = run
                .epochs
                .iter()
                .map(|e| (e.epoch as f64, e.train_accuracy));
            chart
                .draw_series(LineSeries::new(test.clone(), c.stroke_width(2)))?
                .label(format!("seed {}", run.seed))
                .legend(move |(x, y)| {
                    PathElement::new([(x - 8, y), (x + 8, y)], c.stroke_width(2))
                });
            chart.draw_series(test.map(|at| Circle::new(at, 3, c.filled())))?;
            chart.draw_series(LineSeries::new(train, c.mix(0.6).stroke_width(1)))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FAMILY, 11))
            .draw()?;
    }
    root.present()
}
