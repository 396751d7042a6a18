//! Two small SVG charts, written by hand: a line chart of cumulative returns and a calibration
//! curve. SVG opens in any browser and diffs as text; no plotting dependency is needed for this.

use std::fmt::Write as _;

const W: f64 = 900.0;
const H: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 8] = [
    "#d62728", "#1f77b4", "#7f7f7f", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn frame(svg: &mut String, title: &str, xlabel: &str, ylabel: &str) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>
"#,
        (W - RIGHT + LEFT) / 2.0,
        escape(title),
        (W - RIGHT + LEFT) / 2.0,
        H - 12.0,
        escape(xlabel),
        H / 2.0,
        H / 2.0,
        escape(ylabel)
    );
}

fn legend(svg: &mut String, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        let y = TOP + 10.0 + i as f64 * 20.0;
        let x = W - RIGHT + 15.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            x + 22.0,
            COLOURS[i % COLOURS.len()],
            x + 28.0,
            y + 4.0,
            escape(name)
        );
    }
}

/// Scales `v` in `[lo, hi]` onto `[a, b]`.
fn scale(v: f64, lo: f64, hi: f64, a: f64, b: f64) -> f64 {
    if (hi - lo).abs() < f64::EPSILON {
        return (a + b) / 2.0;
    }
    a + (v - lo) / (hi - lo) * (b - a)
}

/// One line per series over its index; a dashed zero line.
pub fn lines(title: &str, xlabel: &str, ylabel: &str, series: &[(String, Vec<f64>)]) -> String {
    let mut svg = String::new();
    frame(&mut svg, title, xlabel, ylabel);
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(0).max(1);
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in series.iter().flat_map(|s| s.1.iter()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y1}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        x1 - x0,
        y0 - y1
    );
    for t in 0..=4 {
        let v = lo + (hi - lo) * f64::from(t) / 4.0;
        let y = scale(v, lo, hi, y0, y1);
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{v:.0}</text><line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#eee"/>"##,
            x0 - 6.0,
            y + 4.0
        );
    }
    let zero = scale(0.0, lo, hi, y0, y1);
    let _ = writeln!(
        svg,
        r##"<line x1="{x0}" y1="{zero}" x2="{x1}" y2="{zero}" stroke="#444" stroke-dasharray="4 3"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{x1}" y="{}" text-anchor="end">{}</text>"#,
        y0 + 16.0,
        n
    );
    for (i, (_, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                format!(
                    "{:.1},{:.1}",
                    scale(j as f64, 0.0, (n - 1).max(1) as f64, x0, x1),
                    scale(*v, lo, hi, y0, y1)
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            COLOURS[i % COLOURS.len()],
            points.join(" ")
        );
    }
    legend(
        &mut svg,
        &series.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
    );
    svg.push_str("</svg>\n");
    svg
}

/// Realised hit rate against mean confidence per bucket (point area by trades), with the
/// diagonal a calibrated forecast lies on.
/// One calibration bucket: mean confidence, realised hit rate, trades.
pub type CalibrationPoint = (f64, f64, usize);

pub fn calibration(title: &str, series: &[(String, Vec<CalibrationPoint>)]) -> String {
    let mut svg = String::new();
    frame(
        &mut svg,
        title,
        "mean confidence in the bucket",
        "realised hit rate",
    );
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y1}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        x1 - x0,
        y0 - y1
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#444" stroke-dasharray="4 3"/>"##
    );
    for t in 0..=4 {
        let v = f64::from(t) / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{v:.2}</text><text x="{}" y="{}" text-anchor="middle">{v:.2}</text>"#,
            x0 - 6.0,
            scale(v, 0.0, 1.0, y0, y1) + 4.0,
            scale(v, 0.0, 1.0, x0, x1),
            y0 + 16.0
        );
    }
    for (i, (_, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(c, h, _)| {
                format!(
                    "{:.1},{:.1}",
                    scale(*c, 0.0, 1.0, x0, x1),
                    scale(*h, 0.0, 1.0, y0, y1)
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for (c, h, n) in points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="{colour}" fill-opacity="0.6"/>"#,
                scale(*c, 0.0, 1.0, x0, x1),
                scale(*h, 0.0, 1.0, y0, y1),
                3.0 + (*n as f64).sqrt()
            );
        }
    }
    legend(
        &mut svg,
        &series.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
    );
    svg.push_str("</svg>\n");
    svg
}
