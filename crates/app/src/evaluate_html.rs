//! The self-contained HTML report of `myqcm evaluate`: tables, reliability diagrams and
//! per-slice charts in inline SVG. No JavaScript, no external resource; every text from the
//! input is escaped.

use std::fmt::Write as _;

use myqcm_psychometrics::evaluation::Summary;
use myqcm_psychometrics::metrics::ConfidenceInterval;

use crate::evaluate::Evaluation;

/// Colours of the models, in column order (cycled).
const COLOURS: [&str; 11] = [
    "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#1f77b4", "#8c564b", "#2ca02c", "#d62728",
    "#ff7f0e", "#e377c2", "#000000",
];
/// Largest number of slices shown per dimension (the largest by count).
const MAX_SLICES: usize = 40;

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn ci(c: &ConfidenceInterval) -> String {
    format!(
        "{:.4} <small>[{:.4}, {:.4}]</small>",
        c.estimate, c.lower, c.upper
    )
}

fn colour(m: usize) -> &'static str {
    COLOURS[m % COLOURS.len()]
}

/// One reliability diagram: observed frequency against mean prediction per bin, the diagonal
/// for perfect calibration, point area proportional to the bin's count.
fn reliability_svg(name: &str, m: usize, s: &Summary) -> String {
    let (w, pad) = (240.0, 30.0);
    let inner = w - 2.0 * pad;
    let x = |p: f64| pad + p * inner;
    let y = |p: f64| w - pad - p * inner;
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{w}\" viewBox=\"0 0 {w} {w}\" role=\"img\" aria-label=\"reliability diagram of {}\">",
        escape(name)
    );
    let _ = write!(
        o,
        "<rect x=\"{pad}\" y=\"{pad}\" width=\"{inner}\" height=\"{inner}\" fill=\"none\" stroke=\"#ccc\"/>\
         <line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    for t in [0.0, 0.5, 1.0] {
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{t}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{t}</text>",
            x(t),
            w - pad + 12.0,
            pad - 4.0,
            y(t) + 3.0
        );
    }
    let max = s
        .reliability
        .iter()
        .map(|b| b.count)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let points: Vec<String> = s
        .reliability
        .iter()
        .map(|b| format!("{:.1},{:.1}", x(b.mean_pred), y(b.mean_obs)))
        .collect();
    let _ = write!(
        o,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
        points.join(" "),
        colour(m)
    );
    for b in &s.reliability {
        let r = 2.0 + 6.0 * (b.count as f64 / max).sqrt();
        let _ = write!(
            o,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r:.1}\" fill=\"{}\" fill-opacity=\"0.6\"><title>{} answers: mean p {:.3}, observed {:.3}</title></circle>",
            x(b.mean_pred),
            y(b.mean_obs),
            colour(m),
            b.count,
            b.mean_pred,
            b.mean_obs
        );
    }
    let _ = write!(
        o,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{} (ECE {:.4})</text></svg>",
        w / 2.0,
        pad - 14.0,
        escape(name),
        s.ece.estimate
    );
    o
}

/// Dot plot of log-loss per slice (rows) and model (colours).
fn slice_svg(ev: &Evaluation, dim: &str, values: &[(&String, usize)]) -> String {
    let Some(per) = ev.slices.get(dim) else {
        return String::new();
    };
    let lls: Vec<f64> = values
        .iter()
        .flat_map(|(v, _)| per[*v].values().map(|s| s.log_loss.estimate))
        .collect();
    let hi = lls.iter().copied().fold(0.0f64, f64::max).max(0.1) * 1.05;
    let (label_w, plot_w, row_h, top) = (160.0, 420.0, 16.0, 20.0);
    let h = top + row_h * values.len() as f64 + 20.0;
    let x = |v: f64| label_w + v / hi * plot_w;
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" role=\"img\" aria-label=\"log-loss per {}\">",
        label_w + plot_w + 20.0,
        escape(dim)
    );
    for t in 0..=4 {
        let v = hi * f64::from(t) / 4.0;
        let _ = write!(
            o,
            "<line x1=\"{0:.1}\" y1=\"{top}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#eee\"/><text x=\"{0:.1}\" y=\"12\" font-size=\"10\" text-anchor=\"middle\">{v:.2}</text>",
            x(v),
            h - 20.0
        );
    }
    for (r, (v, n)) in values.iter().enumerate() {
        let cy = top + row_h * (r as f64 + 0.5);
        let _ = write!(
            o,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{} ({n})</text>",
            label_w - 6.0,
            cy + 3.0,
            escape(v)
        );
        for (m, name) in ev.models.iter().enumerate() {
            if let Some(s) = per[*v].get(name) {
                let _ = write!(
                    o,
                    "<circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"{}\"><title>{}: {:.4}</title></circle>",
                    x(s.log_loss.estimate),
                    colour(m),
                    escape(name),
                    s.log_loss.estimate
                );
            }
        }
    }
    let _ = write!(
        o,
        "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">log-loss</text></svg>",
        label_w + plot_w / 2.0,
        h - 4.0
    );
    o
}

fn legend(ev: &Evaluation) -> String {
    let mut o = String::from("<p class=\"legend\">");
    for (m, name) in ev.models.iter().enumerate() {
        let _ = write!(
            o,
            "<span><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><circle cx=\"5\" cy=\"5\" r=\"5\" fill=\"{}\"/></svg> {}</span> ",
            colour(m),
            escape(name)
        );
    }
    o.push_str("</p>");
    o
}

/// The whole report as one HTML document.
#[must_use]
pub fn render(ev: &Evaluation) -> String {
    let mut o = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>MyQCM evaluation</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:right}\
         th:first-child,td:first-child{text-align:left}small{color:#666}.legend span{margin-right:1em}\
         .grid{display:flex;flex-wrap:wrap;gap:1em}</style></head><body>",
    );
    let c = &ev.counts;
    let p = &ev.protocol;
    let _ = write!(
        o,
        "<h1>Evaluation of P(correct) models</h1>\
         <p>Source: <code>{}</code>. {} graded attempts, {} learners, {} items, {} KCs. The most recent \
         {:.0} % ({} attempts, from {}) are held out; item and KC parameters are fitted on the {} earlier \
         ones; every model predicts each held-out answer from the past only (each learner's own earlier \
         answers, and for item-side models everyone's earlier answers). Intervals: {} % percentile \
         bootstrap, {} replicates, seed {}. ECE over {} equal-width bins.</p>",
        escape(&ev.source),
        c.attempts,
        c.learners,
        c.items,
        c.kcs,
        p.holdout * 100.0,
        c.held_out,
        escape(&c.held_out_from),
        c.training,
        p.level * 100.0,
        p.bootstrap,
        p.seed,
        p.bins
    );
    o.push_str("<h2>Overall</h2><table><thead><tr><th>model</th><th>n</th><th>mean p</th><th>log-loss</th><th>vs item_mean</th><th>Brier</th><th>ECE</th><th>AUC</th></tr></thead><tbody>");
    let base = ev.overall.get("item_mean").map(|s| s.log_loss.estimate);
    for name in &ev.models {
        let s = &ev.overall[name];
        let rel = base.map_or(String::new(), |b| {
            format!("{:+.1} %", (s.log_loss.estimate / b - 1.0) * 100.0)
        });
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{rel}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            s.n,
            s.mean_p,
            ci(&s.log_loss),
            ci(&s.brier),
            ci(&s.ece),
            s.auc.as_ref().map_or("–".to_owned(), ci)
        );
    }
    o.push_str("</tbody></table><h2>Reliability diagrams</h2><p>Observed frequency of a correct answer against the mean prediction per bin; the dashed diagonal is perfect calibration; the area of a point grows with its bin's count.</p><div class=\"grid\">");
    for (m, name) in ev.models.iter().enumerate() {
        o.push_str(&reliability_svg(name, m, &ev.overall[name]));
    }
    o.push_str("</div>");
    for (dim, per) in &ev.slices {
        let mut values: Vec<(&String, usize)> = per
            .iter()
            .map(|(v, m)| (v, m.values().next().map_or(0, |s| s.n)))
            .collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let shown = values.len().min(MAX_SLICES);
        let _ = write!(o, "<h2>Per {}</h2>", escape(dim));
        if values.len() > shown {
            let _ = write!(
                o,
                "<p>The {shown} largest of {} slices (all are in <code>metrics.csv</code>).</p>",
                values.len()
            );
        }
        values.truncate(shown);
        o.push_str(&legend(ev));
        o.push_str(&slice_svg(ev, dim, &values));
        o.push_str("<table><thead><tr><th>slice</th><th>n</th>");
        for name in &ev.models {
            let _ = write!(o, "<th>{} log-loss</th>", escape(name));
        }
        for name in &ev.models {
            let _ = write!(o, "<th>{} ECE</th>", escape(name));
        }
        o.push_str("</tr></thead><tbody>");
        for (v, n) in &values {
            let _ = write!(o, "<tr><td>{}</td><td>{n}</td>", escape(v));
            for name in &ev.models {
                let cell = per[*v]
                    .get(name)
                    .map_or(String::new(), |s| format!("{:.4}", s.log_loss.estimate));
                let _ = write!(o, "<td>{cell}</td>");
            }
            for name in &ev.models {
                let cell = per[*v]
                    .get(name)
                    .map_or(String::new(), |s| format!("{:.4}", s.ece.estimate));
                let _ = write!(o, "<td>{cell}</td>");
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<script>a&b\"'</script>"),
            "&lt;script&gt;a&amp;b&quot;&#39;&lt;/script&gt;"
        );
    }
}
