//! The latency-distribution plot, as hand-written SVG: one panel per fan-out
//! measurement, one line per server, latency (log scale) against percentile (the
//! HdrHistogram layout: 50%, 90%, 99%, 99.9%, … evenly spaced, max at the right).

use std::fmt::Write;

use crate::suite::SuiteResult;
use crate::target::Kind;

const WIDTH: f64 = 820.0;
const PANEL: f64 = 330.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 45.0;
/// Where `max` sits on the percentile axis (log10 of 1/(1−q)).
const X_MAX: f64 = 6.0;

fn colour(kind: Kind) -> &'static str {
    match kind {
        Kind::Taskhub => "#d62728",
        Kind::Nchan => "#1f77b4",
        Kind::Pushpin => "#2ca02c",
        Kind::Seed => "#9467bd",
    }
}

/// One panel: a title and `(server, [(quantile, ms)])` curves.
struct Panel {
    title: String,
    curves: Vec<(Kind, Vec<(f64, f64)>)>,
}

/// The plot of every measurement with latencies, or `None` if there is none.
pub fn latency_svg(result: &SuiteResult) -> Option<String> {
    let mut panels = Vec::new();
    for scenario in &result.scenarios {
        let mut steps: Vec<&str> = Vec::new();
        for run in &scenario.runs {
            if !steps.contains(&run.step.as_str()) {
                steps.push(&run.step);
            }
        }
        for step in steps {
            let curves: Vec<_> = scenario
                .runs
                .iter()
                .filter(|r| r.step == step)
                .filter_map(|r| {
                    let o = r.outcome.as_ref()?;
                    (!o.curve.is_empty()).then(|| (r.server, o.curve.clone()))
                })
                .collect();
            if curves.is_empty() {
                continue;
            }
            let step = if step.is_empty() {
                String::new()
            } else {
                format!(" — {step}")
            };
            panels.push(Panel {
                title: format!("{}{step}: {}", scenario.name, scenario.title),
                curves,
            });
        }
    }
    if panels.is_empty() {
        return None;
    }
    let height = PANEL * panels.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(&mut svg, panel, i as f64 * PANEL);
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

fn x_of(q: f64) -> f64 {
    if q >= 1.0 {
        X_MAX
    } else {
        (1.0 / (1.0 - q)).log10().min(X_MAX - 0.5)
    }
}

fn draw_panel(svg: &mut String, panel: &Panel, top: f64) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = PANEL - TOP - BOTTOM;
    let y0 = top + TOP;
    let all: Vec<f64> = panel
        .curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|&(_, ms)| ms.max(0.01)))
        .collect();
    let lo = all.iter().copied().fold(f64::MAX, f64::min).log10().floor();
    let hi = all
        .iter()
        .copied()
        .fold(f64::MIN, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let px = |x: f64| LEFT + x / X_MAX * plot_w;
    let py = |ms: f64| y0 + plot_h - (ms.max(0.01).log10() - lo) / (hi - lo) * plot_h;
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        top + 22.0,
        escape(&panel.title)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{y0}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#888\"/>"
    );
    for (x, label) in [
        (0.0, "min"),
        (2f64.log10(), "50%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
        (5.0, "99.999%"),
        (X_MAX, "max"),
    ] {
        let _ = writeln!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{y0}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{label}</text>",
            px(x),
            y0 + plot_h,
            y0 + plot_h + 16.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile of deliveries</text>",
        LEFT + plot_w / 2.0,
        y0 + plot_h + 34.0
    );
    let mut decade = lo;
    while decade <= hi {
        let ms = 10f64.powf(decade);
        let label = if ms >= 1.0 {
            format!("{ms:.0}")
        } else {
            format!("{ms}")
        };
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"end\">{label}</text>",
            LEFT + plot_w,
            py(ms),
            LEFT - 6.0,
            py(ms) + 4.0
        );
        decade += 1.0;
    }
    let _ = writeln!(
        svg,
        "<text transform=\"translate({:.1},{:.1}) rotate(-90)\" text-anchor=\"middle\">latency, ms (log)</text>",
        LEFT - 48.0,
        y0 + plot_h / 2.0
    );
    for (i, (kind, curve)) in panel.curves.iter().enumerate() {
        let points: Vec<String> = curve
            .iter()
            .map(|&(q, ms)| format!("{:.1},{:.1}", px(x_of(q)), py(ms)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            colour(*kind),
            points.join(" ")
        );
        let ly = y0 + 14.0 + i as f64 * 20.0;
        let lx = LEFT + plot_w + 14.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{}\" stroke-width=\"3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{kind}</text>",
            lx + 22.0,
            colour(*kind),
            lx + 28.0,
            ly + 4.0
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_percentiles_on_a_log_axis() {
        assert!((x_of(0.99) - 2.0).abs() < 1e-9);
        assert!((x_of(0.999) - 3.0).abs() < 1e-9);
        assert!((x_of(1.0) - X_MAX).abs() < 1e-9);
        assert_eq!(escape("a < b & c"), "a &lt; b &amp; c");
    }
}
