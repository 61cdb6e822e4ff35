//! Test accuracy against cost (parameters or MACs), one chart per dataset: our rows as filled
//! markers with error bars over seeds, one marker shape per family, the Pareto front of our
//! rows, and the paper's rows as hollow markers. Written as SVG and PNG.

use std::path::Path;

use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use lightlayers::data::DatasetKind;
use lightlayers::summary::thousands;

use crate::font::{self, FAMILY};
use crate::plan::Family;
use crate::png_file;
use crate::summary::RowSummary;

/// Which cost the horizontal axis shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostAxis {
    /// Parameters (Keras counting).
    Params,
    /// Multiply-accumulates per image.
    Macs,
}

impl CostAxis {
    /// The file-name part: "params" or "macs".
    pub fn slug(self) -> &'static str {
        match self {
            CostAxis::Params => "params",
            CostAxis::Macs => "macs",
        }
    }

    fn title(self) -> &'static str {
        match self {
            CostAxis::Params => "parameters",
            CostAxis::Macs => "multiply-accumulates per image",
        }
    }

    /// The row's cost on this axis, when known.
    fn of(self, row: &RowSummary) -> Option<f64> {
        match self {
            CostAxis::Params => Some(row.params as f64),
            CostAxis::Macs => row.macs.map(|m| m as f64),
        }
    }
}

/// The family's colour (one per family, colour-blind-safe pairs of the Tableau palette).
pub fn colour(family: Family) -> RGBColor {
    match family {
        Family::Conv => RGBColor(214, 39, 40),
        Family::Separable => RGBColor(44, 160, 44),
        Family::Light => RGBColor(31, 119, 180),
    }
}

/// A chart could not be drawn or written.
pub type ChartResult = Result<(), String>;

/// Writes `stem.svg` and `stem.png`: test accuracy of `rows` (one dataset) against `axis`.
/// Rows whose cost on the axis is unknown are left out; the paper's MACs are never known.
pub fn accuracy_vs_cost(
    stem: &Path,
    dataset: DatasetKind,
    rows: &[&RowSummary],
    axis: CostAxis,
) -> ChartResult {
    font::ensure_registered()?;
    let svg = stem.with_extension("svg");
    let png_path = stem.with_extension("png");
    let size = (960, 640);
    draw(
        SVGBackend::new(&svg, size).into_drawing_area(),
        dataset,
        rows,
        axis,
    )
    .map_err(|e| format!("{}: {e}", svg.display()))?;
    let mut pixels = png_file::canvas(size);
    draw(
        BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area(),
        dataset,
        rows,
        axis,
    )
    .map_err(|e| format!("{}: {e}", png_path.display()))?;
    png_file::write(&png_path, size, &pixels)
}

type Coords = Cartesian2d<WithKeyPoints<LogCoord<f64>>, RangedCoordf64>;
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Ticks of a log axis from `lo` to `hi` at 1, 2, 3 and 5 times the powers of ten: the
/// paper's models span one decade or two, where ticks at the powers alone leave most points
/// without a figure below them.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powi(lo.log10().floor() as i32);
    while decade <= hi {
        for step in [1.0, 2.0, 3.0, 5.0] {
            let tick = step * decade;
            if (lo..=hi).contains(&tick) {
                ticks.push(tick);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// A point of the chart: cost, mean accuracy, its spread, and the family and rank.
#[derive(Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
    std: f64,
    family: Family,
    k: Option<u8>,
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    dataset: DatasetKind,
    rows: &[&RowSummary],
    axis: CostAxis,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let ours: Vec<Point> = rows
        .iter()
        .filter_map(|r| {
            Some(Point {
                x: axis.of(r)?,
                y: r.accuracy.mean,
                std: r.accuracy.std,
                family: r.row.family,
                k: r.row.k,
            })
        })
        .collect();
    // The paper gives parameters only.
    let paper: Vec<Point> = match axis {
        CostAxis::Params => rows
            .iter()
            .filter_map(|r| r.paper)
            .map(|p| Point {
                x: p.params as f64,
                y: p.accuracy,
                std: 0.0,
                family: p.family,
                k: p.k,
            })
            .collect(),
        CostAxis::Macs => Vec::new(),
    };
    let all = || ours.iter().chain(&paper);
    let (x_lo, x_hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.x), hi.max(p.x))
    });
    let (y_lo, y_hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.y - p.std), hi.max(p.y + p.std))
    });
    if ours.is_empty() {
        return Ok(());
    }
    let pad = ((y_hi - y_lo) * 0.08).max(0.005);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: test accuracy against {}", dataset.name(), axis.title()),
            (FAMILY, 24),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (x_lo / 1.3..x_hi * 1.3)
                .log_scale()
                .with_key_points(log_ticks(x_lo / 1.3, x_hi * 1.3)),
            (y_lo - pad).max(0.0)..(y_hi + pad).min(1.0),
        )?;
    chart
        .configure_mesh()
        .x_desc(format!("{} (log scale)", axis.title()))
        .y_desc("test accuracy (mean ± std over seeds)")
        .x_label_formatter(&|v| thousands(v.round() as usize))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    let front = pareto_front(&ours);
    chart
        .draw_series(LineSeries::new(
            front.iter().map(|p| (p.x, p.y)),
            RGBColor(150, 150, 150).stroke_width(2),
        ))?
        .label("Pareto front (ours)")
        .legend(|(x, y)| {
            PathElement::new(
                [(x - 8, y), (x + 8, y)],
                RGBColor(150, 150, 150).stroke_width(2),
            )
        });
    chart.draw_series(ours.iter().filter(|p| p.std > 0.0).map(|p| {
        ErrorBar::new_vertical(
            p.x,
            p.y - p.std,
            p.y,
            p.y + p.std,
            colour(p.family).stroke_width(1),
            10,
        )
    }))?;
    for family in [Family::Conv, Family::Separable, Family::Light] {
        let mine: Vec<Point> = ours
            .iter()
            .copied()
            .filter(|p| p.family == family)
            .collect();
        let theirs: Vec<Point> = paper
            .iter()
            .copied()
            .filter(|p| p.family == family)
            .collect();
        let label = (!mine.is_empty()).then_some(family.paper_name());
        markers(&mut chart, &mine, family, true, label)?;
        markers(&mut chart, &theirs, family, false, None)?;
    }
    if !paper.is_empty() {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("the paper (hollow)")
            .legend(|(x, y)| Circle::new((x, y), 5, BLACK.stroke_width(2)));
    }
    chart.draw_series(ours.iter().filter_map(|p| {
        p.k.map(|k| {
            EmptyElement::at((p.x, p.y)) + Text::new(format!("k={k}"), (8, 4), (FAMILY, 14))
        })
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FAMILY, 15))
        .draw()?;
    root.present()
}

/// Draws one family's markers (filled: ours; hollow: the paper's), with a legend entry when
/// `label` is given.
fn markers<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Coords>,
    points: &[Point],
    family: Family,
    filled: bool,
    label: Option<&str>,
) -> DrawResult<DB> {
    let c = colour(family);
    let style = if filled {
        c.filled()
    } else {
        c.stroke_width(2)
    };
    let legend_style = c.filled();
    let xy = points.iter().map(|p| (p.x, p.y));
    let anno = match family {
        Family::Conv => chart.draw_series(
            xy.map(|at| EmptyElement::at(at) + Rectangle::new([(-5, -5), (5, 5)], style)),
        )?,
        Family::Separable if filled => {
            chart.draw_series(xy.map(|at| TriangleMarker::new(at, 7, style)))?
        }
        // plotters fills its triangle marker whatever the style: draw the outline.
        Family::Separable => chart.draw_series(xy.map(|at| {
            EmptyElement::at(at) + PathElement::new([(0, -7), (6, 4), (-6, 4), (0, -7)], style)
        }))?,
        Family::Light => chart.draw_series(xy.map(|at| Circle::new(at, 6, style)))?,
    };
    if let Some(label) = label {
        anno.label(label).legend(move |(x, y)| match family {
            Family::Conv => {
                Rectangle::new([(x - 5, y - 5), (x + 5, y + 5)], legend_style).into_dyn()
            }
            Family::Separable => TriangleMarker::new((x, y), 7, legend_style).into_dyn(),
            Family::Light => Circle::new((x, y), 6, legend_style).into_dyn(),
        });
    }
    Ok(())
}

/// The points no other point beats on both cost and accuracy (lower cost, higher accuracy),
/// by increasing cost.
fn pareto_front(points: &[Point]) -> Vec<Point> {
    let mut sorted: Vec<Point> = points.to_vec();
    sorted.sort_by(|a, b| a.x.total_cmp(&b.x).then(b.y.total_cmp(&a.y)));
    let mut front: Vec<Point> = Vec::new();
    for p in sorted {
        if front.last().is_none_or(|best| p.y > best.y) {
            front.push(p);
        }
    }
    front
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            std: 0.0,
            family: Family::Light,
            k: None,
        }
    }

    #[test]
    fn log_ticks_fall_at_one_two_three_five_inside_the_range() {
        assert_eq!(
            log_ticks(2_037.0, 24_463.0),
            [3_000.0, 5_000.0, 10_000.0, 20_000.0]
        );
        assert_eq!(
            log_ticks(250_000.0, 2_400_000.0),
            [300_000.0, 500_000.0, 1e6, 2e6]
        );
    }

    #[test]
    fn the_front_keeps_points_that_nothing_cheaper_beats() {
        let points = [
            point(3.0, 0.90),
            point(1.0, 0.80),
            point(2.0, 0.70),
            point(4.0, 0.85),
            point(5.0, 0.95),
        ];
        let front: Vec<(f64, f64)> = pareto_front(&points).iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(front, [(1.0, 0.80), (3.0, 0.90), (5.0, 0.95)]);
    }
}
