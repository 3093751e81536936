//! Chart kinds as data, drawn by plotters into SVG; PNG is that SVG rasterised by resvg with
//! the bundled DejaVu Sans font (plotters' own bitmap text would need system fonts).
//!
//! Every data mark of a kind has its own colour ([`BAR`], [`POINT`]) so a test (or a reader
//! of the file) can count what was drawn.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

/// Colour of bars.
pub const BAR: RGBColor = RGBColor(0x4C, 0x72, 0xB0);
/// Line colours, one per series in order.
pub const LINES: [RGBColor; 6] = [
    RGBColor(0x4C, 0x72, 0xB0),
    RGBColor(0xDD, 0x84, 0x52),
    RGBColor(0x55, 0xA8, 0x68),
    RGBColor(0xC4, 0x4E, 0x52),
    RGBColor(0x81, 0x72, 0xB3),
    RGBColor(0x93, 0x78, 0x60),
];
/// Colour of the reference line (chance, equality).
const REFERENCE: RGBColor = RGBColor(0x99, 0x99, 0x99);
/// Low and high ends of the heat-map and scatter colour scale.
const COLD: RGBColor = RGBColor(0xF7, 0xFB, 0xFF);
const HOT: RGBColor = RGBColor(0x08, 0x30, 0x6B);
/// Colour of scatter points' outline (the fill follows the value).
pub const POINT: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Points of a scatter named in its key: the ones of highest colour value.
pub const LABELLED: usize = 10;
/// Width in pixels of a scatter's key of named points, and the characters of a name it
/// shows (longer names end in "…").
const KEY_WIDTH: i32 = 280;
const KEY_CHARS: usize = 38;

const SIZE: (u32, u32) = (900, 540);
const FONT: &str = "sans-serif";
/// DejaVu Sans (Bitstream Vera licence, `fonts/LICENSE_DEJAVU`) for PNG text.
static DEJAVU: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// One chart: a title, axis names and the data of its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Caption.
    pub title: String,
    /// Horizontal axis name.
    pub x_label: String,
    /// Vertical axis name.
    pub y_label: String,
    /// What to draw.
    pub kind: Kind,
}

/// The chart kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// One bar per category (segment sizes, alerts by kind).
    Bars(Vec<(String, f64)>),
    /// Bars per category and series side by side (a feature's z-mean per segment).
    GroupedBars {
        /// Categories along the axis.
        categories: Vec<String>,
        /// Series name and one value per category.
        series: Vec<(String, Vec<f64>)>,
    },
    /// Lines through points (ROC, gains, Pareto curves), with an optional dashed reference
    /// line from the lower left to the upper right corner.
    Lines {
        /// Series name and its points.
        series: Vec<(String, Vec<(f64, f64)>)>,
        /// Draw the diagonal (chance for ROC and gains).
        diagonal: bool,
    },
    /// Points coloured by a third value (support × confidence coloured by lift), the
    /// [`LABELLED`] points of highest value numbered and named in a key beside the plot.
    Scatter {
        /// x, y and colour value per point.
        points: Vec<(f64, f64, f64)>,
        /// What the colour means.
        color_label: String,
        /// Each point's name (empty: no names; else one per point).
        labels: Vec<String>,
    },
    /// A grid of cells coloured by value, each cell labelled (RFM, cohort retention).
    Heatmap {
        /// Column names.
        columns: Vec<String>,
        /// Row names.
        rows: Vec<String>,
        /// `values[row][column]`; `None` draws nothing.
        values: Vec<Vec<Option<f64>>>,
    },
    /// Histograms of several samples on shared bins (scores by outcome), each drawn as a
    /// light fill under its own outline so an overlap hides neither.
    Histogram {
        /// Sample name and values.
        series: Vec<(String, Vec<f64>)>,
        /// Number of bins.
        bins: usize,
    },
}

impl Chart {
    /// A chart of `kind` titled `title` with axis names.
    pub fn new(title: &str, x_label: &str, y_label: &str, kind: Kind) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            kind,
        }
    }

    fn data_error(&self, message: &str) -> Error {
        Error::Data {
            title: self.title.clone(),
            message: message.into(),
        }
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String> {
        self.check()?;
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            self.draw(&root).map_err(|e| Error::Draw {
                title: self.title.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(out)
    }

    /// The chart as a PNG image (the SVG rasterised with the bundled font).
    pub fn png(&self) -> Result<Vec<u8>> {
        let svg = self.svg()?;
        let render = |message: String| Error::Render {
            title: self.title.clone(),
            message,
        };
        let mut options = resvg::usvg::Options::default();
        let fonts = options.fontdb_mut();
        fonts.load_font_data(DEJAVU.to_vec());
        fonts.set_sans_serif_family("DejaVu Sans");
        let tree =
            resvg::usvg::Tree::from_str(&svg, &options).map_err(|e| render(e.to_string()))?;
        let size = tree.size().to_int_size();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
            .ok_or_else(|| render("empty image".into()))?;
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::default(),
            &mut pixmap.as_mut(),
        );
        pixmap.encode_png().map_err(|e| render(e.to_string()))
    }

    /// Writes the chart to `path`, SVG or PNG by its extension.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("svg") => self.svg()?.into_bytes(),
            Some(e) if e.eq_ignore_ascii_case("png") => self.png()?,
            _ => return Err(Error::Format(path.to_path_buf())),
        };
        std::fs::write(path, bytes).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        tracing::info!(chart = %self.title, file = %path.display(), "chart written");
        Ok(())
    }

    /// Refuses empty charts and non-finite values.
    fn check(&self) -> Result<()> {
        let finite = |v: &f64| v.is_finite();
        let (empty, bad) = match &self.kind {
            Kind::Bars(b) => (b.is_empty(), !b.iter().all(|(_, v)| finite(v))),
            Kind::GroupedBars { categories, series } => (
                categories.is_empty() || series.is_empty(),
                !series
                    .iter()
                    .all(|(_, v)| v.len() == categories.len() && v.iter().all(finite)),
            ),
            Kind::Lines { series, .. } => (
                series.iter().all(|(_, p)| p.is_empty()),
                !series
                    .iter()
                    .all(|(_, p)| p.iter().all(|(x, y)| finite(x) && finite(y))),
            ),
            Kind::Scatter { points, labels, .. } => (
                points.is_empty(),
                !points
                    .iter()
                    .all(|(x, y, c)| finite(x) && finite(y) && finite(c))
                    || !(labels.is_empty() || labels.len() == points.len()),
            ),
            Kind::Heatmap {
                columns,
                rows,
                values,
            } => (
                columns.is_empty() || rows.is_empty(),
                values.len() != rows.len()
                    || !values
                        .iter()
                        .all(|r| r.len() == columns.len() && r.iter().flatten().all(finite)),
            ),
            Kind::Histogram { series, bins } => (
                *bins == 0 || series.iter().all(|(_, v)| v.is_empty()),
                !series.iter().all(|(_, v)| v.iter().all(finite)),
            ),
        };
        if empty {
            return Err(self.data_error("nothing to draw"));
        }
        if bad {
            return Err(self.data_error("values missing, unequal in length or not finite"));
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        match &self.kind {
            Kind::Bars(bars) => {
                let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
                let series = vec![(String::new(), bars.iter().map(|b| b.1).collect())];
                self.draw_bars(root, &names, &series)?;
            }
            Kind::GroupedBars { categories, series } => self.draw_bars(root, categories, series)?,
            Kind::Lines { series, diagonal } => self.draw_lines(root, series, *diagonal)?,
            Kind::Scatter {
                points,
                color_label,
                labels,
            } => self.draw_scatter(root, points, color_label, labels)?,
            Kind::Heatmap {
                columns,
                rows,
                values,
            } => self.draw_heatmap(root, columns, rows, values)?,
            Kind::Histogram { series, bins } => self.draw_histogram(root, series, *bins)?,
        }
        root.present()
    }

    fn builder<'a, 'b, DB: DrawingBackend>(
        &self,
        root: &'a DrawingArea<DB, Shift>,
    ) -> ChartBuilder<'a, 'b, DB> {
        let mut b = ChartBuilder::on(root);
        b.caption(&self.title, (FONT, 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72);
        b
    }

    /// Axes with their names and grid lines.
    fn mesh<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT, 13))
            .draw()
    }

    /// Bars per category; several series side by side within a category, each its own
    /// colour (one series: [`BAR`]).
    fn draw_bars<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        names: &[String],
        series: &[(String, Vec<f64>)],
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let values = series.iter().flat_map(|s| s.1.iter().copied());
        let (lo, hi) = bounds(values.chain([0.0]));
        // Headroom for the legend above the tallest bar.
        let hi = if series.len() > 1 {
            hi + (hi - lo) * 0.25
        } else {
            hi
        };
        let n = names.len() as f64;
        let mut chart = self.builder(root).build_cartesian_2d(0.0..n, lo..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT, 13))
            .draw()?;
        // Category names under their bars, every other one a line lower so long names fit.
        for (i, name) in names.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, lo));
            let style =
                TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(
                name.clone(),
                (x, y + 6 + 14 * (i as i32 % 2)),
                style,
            ))?;
        }
        let width = 0.8 / series.len() as f64;
        for (s, (name, values)) in series.iter().enumerate() {
            let color = if series.len() == 1 {
                BAR
            } else {
                LINES[s % LINES.len()]
            };
            let drawn = chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
                let x0 = i as f64 + 0.1 + s as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width * 0.95, v)], color.filled())
            }))?;
            if series.len() > 1 {
                drawn.label(name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            }
        }
        if series.len() > 1 {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }

    fn draw_lines<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        series: &[(String, Vec<(f64, f64)>)],
        diagonal: bool,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let xs = bounds(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
        let ys = bounds(
            series
                .iter()
                .flat_map(|s| s.1.iter().map(|p| p.1))
                .chain([0.0]),
        );
        let mut chart = self
            .builder(root)
            .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)?;
        self.mesh(&mut chart)?;
        if diagonal {
            chart.draw_series(DashedLineSeries::new(
                [(xs.0, ys.0), (xs.1, ys.1)],
                6,
                4,
                REFERENCE.stroke_width(1),
            ))?;
        }
        for (s, (name, points)) in series.iter().enumerate() {
            let color = LINES[s % LINES.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }

    fn draw_scatter<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        points: &[(f64, f64, f64)],
        color_label: &str,
        labels: &[String],
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let xs = bounds(points.iter().map(|p| p.0));
        let ys = bounds(points.iter().map(|p| p.1));
        // The title names the values at the light and dark ends, not the padded range.
        let (low, high) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                (l.min(p.2), h.max(p.2))
            });
        let title = format!(
            "{} ({color_label}: {low:.2} light … {high:.2} dark)",
            self.title
        );
        // Named points: the plot on the left, on the right a key of the top points by colour
        // value, each numbered as the number drawn beside its point (names beside the
        // points themselves overlapped where points crowd).
        let (plot, key) = if labels.is_empty() {
            (root.clone(), None)
        } else {
            let (plot, key) = root.split_horizontally(SIZE.0 as i32 - KEY_WIDTH);
            (plot, Some(key))
        };
        let mut b = ChartBuilder::on(&plot);
        b.caption(title, (FONT, 20))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72);
        let mut chart = b.build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)?;
        self.mesh(&mut chart)?;
        chart.draw_series(points.iter().map(|&(x, y, c)| {
            let fill = shade(if high > low {
                (c - low) / (high - low)
            } else {
                0.5
            });
            Circle::new((x, y), 6, ShapeStyle::from(fill).filled())
        }))?;
        chart.draw_series(
            points
                .iter()
                .map(|&(x, y, _)| Circle::new((x, y), 6, POINT.stroke_width(1))),
        )?;
        let Some(key) = key else {
            return Ok(());
        };
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by(|&a, &b| points[b].2.total_cmp(&points[a].2));
        key.draw(&Text::new(
            format!("Top {} by {color_label}", LABELLED.min(labels.len())),
            (4, 56),
            (FONT, 14).into_font().color(&BLACK),
        ))?;
        for (rank, &i) in order.iter().take(LABELLED).enumerate() {
            let number = (rank + 1).to_string();
            let (px, py) = chart.backend_coord(&(points[i].0, points[i].1));
            root.draw(&Text::new(
                number.clone(),
                (px + 7, py - 16),
                (FONT, 12).into_font().color(&BLACK),
            ))?;
            let name: String = labels[i].chars().take(KEY_CHARS).collect();
            let ellipsis = if labels[i].chars().count() > KEY_CHARS {
                "…"
            } else {
                ""
            };
            let y = 84 + 36 * rank as i32;
            key.draw(&Text::new(
                format!("{number}. {name}{ellipsis}"),
                (4, y),
                (FONT, 12).into_font().color(&BLACK),
            ))?;
            key.draw(&Text::new(
                format!("    {color_label} {:.2}", points[i].2),
                (4, y + 15),
                (FONT, 11).into_font().color(&REFERENCE),
            ))?;
        }
        Ok(())
    }

    fn draw_heatmap<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        columns: &[String],
        rows: &[String],
        values: &[Vec<Option<f64>>],
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (lo, hi) = bounds(values.iter().flatten().flatten().copied());
        let (nx, ny) = (columns.len() as f64, rows.len() as f64);
        let mut chart = self.builder(root).build_cartesian_2d(0.0..nx, 0.0..ny)?;
        let (cols, row_names) = (columns.to_vec(), rows.to_vec());
        let centre = |v: f64, names: &[String]| {
            let i = v.floor() as usize;
            if (v - i as f64 - 0.5).abs() < 1e-9 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(columns.len() * 2 + 1)
            .y_labels(rows.len() * 2 + 1)
            .x_label_formatter(&|x| centre(*x, &cols))
            .y_label_formatter(&|y| centre(*y, &row_names))
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FONT, 13))
            .draw()?;
        for (r, row) in values.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let Some(v) = *v else { continue };
                let t = (v - lo) / (hi - lo);
                let (x, y) = (c as f64, r as f64);
                chart.draw_series([Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    shade(t).filled(),
                )])?;
                let ink = if t > 0.55 { WHITE } else { BLACK };
                chart.draw_series([Text::new(
                    short(v),
                    (x + 0.35, y + 0.6),
                    (FONT, 13).into_font().color(&ink),
                )])?;
            }
        }
        Ok(())
    }

    fn draw_histogram<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        series: &[(String, Vec<f64>)],
        bins: usize,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (lo, hi) = bounds(series.iter().flat_map(|s| s.1.iter().copied()));
        let width = (hi - lo) / bins as f64;
        let counts: Vec<Vec<f64>> = series
            .iter()
            .map(|(_, values)| {
                let mut c = vec![0.0; bins];
                for v in values {
                    let b = (((v - lo) / width).floor() as usize).min(bins - 1);
                    c[b] += 1.0;
                }
                // Shares, so samples of different sizes compare.
                let n = values.len().max(1) as f64;
                c.iter().map(|x| x / n).collect()
            })
            .collect();
        let top = counts.iter().flatten().copied().fold(0.0, f64::max) * 1.1;
        let mut chart = self
            .builder(root)
            .build_cartesian_2d(lo..hi, 0.0..top.max(1e-9))?;
        self.mesh(&mut chart)?;
        // Light fills first, then every outline on top: where samples overlap, each
        // one's shape still shows.
        for (s, c) in counts.iter().enumerate() {
            let color = LINES[s % LINES.len()];
            // Empty bins get no fill (a rectangle of no height is invalid SVG to resvg).
            chart.draw_series(
                c.iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(b, &v)| {
                        let x0 = lo + b as f64 * width;
                        Rectangle::new([(x0, 0.0), (x0 + width, v)], color.mix(0.18).filled())
                    }),
            )?;
        }
        for (s, ((name, _), c)) in series.iter().zip(&counts).enumerate() {
            let color = LINES[s % LINES.len()];
            let steps = c.iter().enumerate().flat_map(|(b, &v)| {
                let x0 = lo + b as f64 * width;
                [(x0, v), (x0 + width, v)]
            });
            let outline = std::iter::once((lo, 0.0))
                .chain(steps)
                .chain(std::iter::once((hi, 0.0)));
            chart
                .draw_series(LineSeries::new(outline, color.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

/// Draws the series names of `chart` at `position`.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
}

/// The range of `values` with a little room; a single value gets a unit-wide range.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    (if lo == 0.0 { 0.0 } else { lo - pad }, hi + pad)
}

/// The colour at `t` (0..1) between [`COLD`] and [`HOT`].
fn shade(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    RGBColor(mix(COLD.0, HOT.0), mix(COLD.1, HOT.1), mix(COLD.2, HOT.2))
}

/// An axis tick: whole numbers without decimals (a count is `10000`, not `10000.0`),
/// others with as few decimals as the step needs.
fn tick(v: f64) -> String {
    let a = v.abs();
    if (v - v.round()).abs() < 1e-9 * a.max(1.0) {
        format!("{:.0}", v + 0.0)
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A cell value in at most 4 significant characters.
fn short(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill_count(svg: &str, c: RGBColor) -> usize {
        svg.matches(&format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2))
            .count()
    }

    #[test]
    fn bars_draw_one_rect_per_category_and_png_has_text() {
        let chart = Chart::new(
            "Segment sizes",
            "segment",
            "customers",
            Kind::Bars(vec![
                ("1".into(), 500.0),
                ("2".into(), 300.0),
                ("3".into(), 20.0),
            ]),
        );
        let svg = chart.svg().expect("svg");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(fill_count(&svg, BAR), 3, "{svg}");
        assert!(svg.contains("Segment sizes"));
        let png = chart.png().expect("png");
        assert_eq!(&png[1..4], b"PNG");
        // The same chart without its text is smaller: the title and labels were drawn.
        let mut untitled = chart.clone();
        untitled.title = String::new();
        assert!(png.len() > untitled.png().expect("png").len());
        let empty = Chart::new("x", "", "", Kind::Bars(Vec::new()));
        assert!(empty.svg().is_err());
        let nan = Chart::new("x", "", "", Kind::Bars(vec![("a".into(), f64::NAN)]));
        assert!(nan.svg().is_err());
    }

    #[test]
    fn every_kind_draws_and_saves_by_extension() {
        let dir = tempfile::tempdir().expect("tmp");
        let kinds = [
            Kind::GroupedBars {
                categories: vec!["recency".into(), "frequency".into()],
                series: vec![("1".into(), vec![0.5, -1.0]), ("2".into(), vec![-0.2, 1.4])],
            },
            Kind::Lines {
                series: vec![("tree".into(), vec![(0.0, 0.0), (0.3, 0.7), (1.0, 1.0)])],
                diagonal: true,
            },
            Kind::Scatter {
                points: vec![(0.01, 0.4, 1.2), (0.02, 0.6, 3.5)],
                color_label: "lift".into(),
                labels: vec!["{a} → {b}".into(), "{c} → {d}".into()],
            },
            Kind::Heatmap {
                columns: vec!["1".into(), "2".into()],
                rows: vec!["1".into(), "2".into()],
                values: vec![vec![Some(1.0), None], vec![Some(2.5), Some(4.0)]],
            },
            Kind::Histogram {
                series: vec![
                    ("good".into(), vec![600.0, 640.0, 700.0]),
                    ("bad".into(), vec![520.0, 560.0]),
                ],
                bins: 10,
            },
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            let chart = Chart::new(&format!("chart {i}"), "x", "y", kind);
            for ext in ["svg", "png"] {
                let path = dir.path().join(format!("{i}.{ext}"));
                chart.save(&path).expect("save");
                assert!(std::fs::metadata(&path).expect("file").len() > 1000);
            }
        }
        let heat = Chart::new(
            "h",
            "",
            "",
            Kind::Heatmap {
                columns: vec!["a".into()],
                rows: vec!["b".into()],
                values: vec![vec![Some(1.0)]],
            },
        );
        assert!(heat.save(&dir.path().join("x.jpg")).is_err());
    }
}
