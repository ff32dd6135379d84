//! Server-rendered SVG charts of the learner pages (dashboard, progress): bars with interval
//! whiskers (mastery, predicted scores), a line of daily accuracy, and a 7-day column chart of
//! reviews falling due. The geometry is computed here; askama templates draw it with CSS
//! classes only (the CSP forbids `style=` attributes, and the stylesheet colours the classes).
//! Every chart carries `<title>` and `<desc>` and is `role="img"`; pages put a "show as table"
//! alternative below it. Text arrives already localised (numbers, dates) from the caller.

use askama::Template;

/// Drawing width of every chart (the SVG scales to its container through `viewBox`).
pub const WIDTH: f64 = 320.0;
const BAR_ROW: f64 = 34.0;
const BAR_HEIGHT: f64 = 12.0;
const PLOT_TOP: f64 = 8.0;

/// One row of a band chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BandInput {
    /// Row label (a KC or subject name).
    pub label: String,
    /// Estimate in [0, 1].
    pub value: f64,
    /// Interval in [0, 1].
    pub low: f64,
    /// Interval in [0, 1].
    pub high: f64,
    /// The value as text ("70 % ± 11").
    pub text: String,
}

/// A drawn band row.
#[derive(Debug, Clone, PartialEq)]
pub struct BandRow {
    /// Label.
    pub label: String,
    /// Value text.
    pub text: String,
    /// Baseline of the label.
    pub label_y: String,
    /// Top of the bar.
    pub bar_y: String,
    /// Bar width.
    pub bar_w: String,
    /// Whisker ends and middle height.
    pub lo_x: String,
    /// Whisker end.
    pub hi_x: String,
    /// Whisker line height.
    pub mid_y: String,
    /// Whisker cap top.
    pub cap_top: String,
    /// Whisker cap bottom.
    pub cap_bottom: String,
    /// `weak`, `fair` or `strong` (colour by class, never alone: the text says the number).
    pub level: &'static str,
}

fn n(x: f64) -> String {
    format!("{:.1}", if x.is_finite() { x } else { 0.0 })
}

fn level(v: f64) -> &'static str {
    if v < 0.5 {
        "weak"
    } else if v < 0.7 {
        "fair"
    } else {
        "strong"
    }
}

/// Horizontal bars with interval whiskers.
#[derive(Debug, Clone, Template)]
#[template(path = "progress/chart_bands.html")]
pub struct BandChart {
    /// Element id prefix (unique on the page).
    pub id: String,
    /// Chart title.
    pub title: String,
    /// What it shows (read by screen readers).
    pub desc: String,
    /// Drawing height.
    pub height: String,
    /// Rows.
    pub rows: Vec<BandRow>,
}

impl BandChart {
    /// Lays out `rows`.
    pub fn new(id: &str, title: String, desc: String, rows: &[BandInput]) -> Self {
        let x = |v: f64| v.clamp(0.0, 1.0) * WIDTH;
        let drawn = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let top = PLOT_TOP + i as f64 * BAR_ROW;
                let bar_y = top + 6.0;
                let mid = bar_y + BAR_HEIGHT / 2.0;
                BandRow {
                    label: r.label.clone(),
                    text: r.text.clone(),
                    label_y: n(top + 2.0),
                    bar_y: n(bar_y),
                    bar_w: n(x(r.value)),
                    lo_x: n(x(r.low.min(r.value))),
                    hi_x: n(x(r.high.max(r.value))),
                    mid_y: n(mid),
                    cap_top: n(mid - 5.0),
                    cap_bottom: n(mid + 5.0),
                    level: level(r.value),
                }
            })
            .collect();
        Self {
            id: id.to_owned(),
            title,
            desc,
            height: n(PLOT_TOP + rows.len() as f64 * BAR_ROW + 4.0),
            rows: drawn,
        }
    }
}

/// One day of a line chart (`None`: no answers that day).
#[derive(Debug, Clone, PartialEq)]
pub struct LinePoint {
    /// Value in [0, 1].
    pub value: Option<f64>,
}

/// A drawn point.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnPoint {
    /// x.
    pub x: String,
    /// y.
    pub y: String,
}

/// Daily accuracy as a line, broken on days without answers.
#[derive(Debug, Clone, Template)]
#[template(path = "progress/chart_line.html")]
pub struct LineChart {
    /// Element id prefix.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub desc: String,
    /// First day's label.
    pub first: String,
    /// Last day's label.
    pub last: String,
    /// Polyline `points` attributes, one per run of consecutive days with answers.
    pub runs: Vec<String>,
    /// Every point with answers.
    pub points: Vec<DrawnPoint>,
}

const LINE_LEFT: f64 = 34.0;
const LINE_BOTTOM: f64 = 100.0;

impl LineChart {
    /// Lays out `days`, oldest first.
    pub fn new(
        id: &str,
        title: String,
        desc: String,
        days: &[LinePoint],
        first: String,
        last: String,
    ) -> Self {
        let span = (days.len().max(2) - 1) as f64;
        let plot_w = WIDTH - LINE_LEFT - 4.0;
        let at = |i: usize, v: f64| {
            (
                LINE_LEFT + i as f64 / span * plot_w,
                LINE_BOTTOM - v.clamp(0.0, 1.0) * (LINE_BOTTOM - PLOT_TOP),
            )
        };
        let mut runs = Vec::new();
        let mut run: Vec<String> = Vec::new();
        let mut points = Vec::new();
        for (i, d) in days.iter().enumerate() {
            match d.value {
                Some(v) => {
                    let (x, y) = at(i, v);
                    run.push(format!("{},{}", n(x), n(y)));
                    points.push(DrawnPoint { x: n(x), y: n(y) });
                }
                None => {
                    if run.len() > 1 {
                        runs.push(run.join(" "));
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            runs.push(run.join(" "));
        }
        Self {
            id: id.to_owned(),
            title,
            desc,
            first,
            last,
            runs,
            points,
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Label under the column (day).
    pub label: String,
    /// Count.
    pub count: i64,
    /// Left edge.
    pub x: String,
    /// Middle (labels).
    pub mid: String,
    /// Top.
    pub y: String,
    /// Height.
    pub h: String,
    /// Baseline of the count above the column.
    pub count_y: String,
}

/// Reviews falling due per day.
#[derive(Debug, Clone, Template)]
#[template(path = "progress/chart_columns.html")]
pub struct ColumnChart {
    /// Element id prefix.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub desc: String,
    /// Columns.
    pub columns: Vec<Column>,
    /// Column width.
    pub width: String,
}

const COLUMN_BOTTOM: f64 = 96.0;
const COLUMN_MAX: f64 = 72.0;

impl ColumnChart {
    /// Lays out `(label, count)` pairs.
    pub fn new(id: &str, title: String, desc: String, values: &[(String, i64)]) -> Self {
        let max = values.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1) as f64;
        let slot = WIDTH / values.len().max(1) as f64;
        let w = slot * 0.6;
        let columns = values
            .iter()
            .enumerate()
            .map(|(i, (label, count))| {
                let h = (*count).max(0) as f64 / max * COLUMN_MAX;
                let x = i as f64 * slot + (slot - w) / 2.0;
                Column {
                    label: label.clone(),
                    count: *count,
                    x: n(x),
                    mid: n(x + w / 2.0),
                    y: n(COLUMN_BOTTOM - h),
                    h: n(h),
                    count_y: n(COLUMN_BOTTOM - h - 4.0),
                }
            })
            .collect();
        Self {
            id: id.to_owned(),
            title,
            desc,
            columns,
            width: n(w),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn band_bars_scale_and_whiskers_enclose_the_value() {
        let c = BandChart::new(
            "kc",
            "Maîtrise".into(),
            "Par notion".into(),
            &[
                BandInput {
                    label: "HTA <b>".into(),
                    value: 0.7,
                    low: 0.59,
                    high: 0.81,
                    text: "70 % ± 11".into(),
                },
                BandInput {
                    label: "ECG".into(),
                    value: 0.2,
                    low: 0.0,
                    high: 0.49,
                    text: "20 % ± 29".into(),
                },
            ],
        );
        assert_eq!(c.rows[0].bar_w, "224.0");
        assert_eq!(
            (c.rows[0].lo_x.as_str(), c.rows[0].hi_x.as_str()),
            ("188.8", "259.2")
        );
        assert_eq!((c.rows[0].level, c.rows[1].level), ("strong", "weak"));
        let svg = c.render().unwrap();
        assert!(
            svg.contains("<title id=\"kc-title\">Maîtrise</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("HTA &#60;b&#62;") || svg.contains("HTA &lt;b&gt;"),
            "escaped: {svg}"
        );
        assert!(!svg.contains("style="), "no inline style");
        assert!(svg.contains("role=\"img\""));
    }

    #[test]
    fn the_line_breaks_on_days_without_answers() {
        let days: Vec<LinePoint> = [Some(0.5), Some(1.0), None, Some(0.0), None, Some(0.25)]
            .into_iter()
            .map(|value| LinePoint { value })
            .collect();
        let c = LineChart::new("t", "T".into(), "D".into(), &days, "a".into(), "b".into());
        assert_eq!(
            c.runs.len(),
            1,
            "only the first run has two points: {:?}",
            c.runs
        );
        assert_eq!(c.points.len(), 4);
        assert_eq!(c.points[1].y, n(PLOT_TOP), "100 % at the top");
        assert_eq!(c.points[2].y, n(LINE_BOTTOM), "0 % at the bottom");
        let svg = c.render().unwrap();
        assert!(svg.contains("<polyline") && !svg.contains("style="));
    }

    #[test]
    fn columns_are_proportional_to_the_busiest_day() {
        let c = ColumnChart::new(
            "due",
            "T".into(),
            "D".into(),
            &[("lun.".into(), 4), ("mar.".into(), 0), ("mer.".into(), 2)],
        );
        assert_eq!(c.columns[0].h, n(COLUMN_MAX));
        assert_eq!(c.columns[1].h, "0.0");
        assert_eq!(c.columns[2].h, n(COLUMN_MAX / 2.0));
        let svg = c.render().unwrap();
        assert!(svg.contains("<desc id=\"due-desc\">D</desc>") && !svg.contains("style="));
    }
}
