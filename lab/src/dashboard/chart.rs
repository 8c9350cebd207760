//! A run as one SVG on one time axis: requests per second by outcome, latency p50/p99,
//! the provider's and the circuit's state and the faults on the wire as bands, and the
//! experiment's events as numbered markers. Hand-written (a few dozen elements): a plotting crate would add
//! more to `make demo`'s build than this file's size.
//!
//! Colours are Okabe–Ito (safe for colour-blind readers); every series also has its own
//! dash pattern and a text label, and the bands carry their state as text.

use std::fmt::Write;

use super::sample::{EventKind, Point, Provider, Run};

const WIDTH: f64 = 640.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 110.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
/// Panels: (top, height).
const RATE: (f64, f64) = (24.0, 120.0);
const LATENCY: (f64, f64) = (168.0, 90.0);
const PROVIDER_BAND: (f64, f64) = (272.0, 16.0);
const CIRCUIT_BAND: (f64, f64) = (296.0, 16.0);
const FAULTS_BAND: (f64, f64) = (320.0, 16.0);
const HEIGHT: f64 = 364.0;

/// Okabe–Ito.
pub const GREEN: &str = "#009E73";
pub const ORANGE: &str = "#E69F00";
pub const VERMILLION: &str = "#D55E00";
pub const PURPLE: &str = "#CC79A7";
pub const BLUE: &str = "#0072B2";
pub const SKY: &str = "#56B4E9";
pub const YELLOW: &str = "#F0E442";
const WHITE: &str = "#FFFFFF";
const GREY: &str = "#999999";

/// How many seconds the axis shows at most (the latest ones).
const SPAN_S: f64 = 180.0;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn circuit_colour(state: Option<&str>) -> &'static str {
    match state {
        Some("closed") => GREEN,
        Some("open") => VERMILLION,
        Some("half_open") => ORANGE,
        _ => GREY,
    }
}

fn provider_colour(provider: Provider) -> &'static str {
    match provider {
        Provider::Up => GREEN,
        Provider::Down => VERMILLION,
        Provider::Unknown => GREY,
    }
}

/// A "nice" upper bound for an axis (1, 2 or 5 times a power of ten).
fn nice(max: f64) -> f64 {
    if max.is_nan() || max <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * power)
}

struct Axis {
    from: f64,
    to: f64,
}

impl Axis {
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.from) / (self.to - self.from).max(1e-9) * PLOT_W
    }
}

fn polyline(
    out: &mut String,
    points: &[Point],
    axis: &Axis,
    (top, height): (f64, f64),
    max: f64,
    value: impl Fn(&Point) -> Option<f64>,
    (colour, dash, label, slot): (&str, &str, &str, usize),
) {
    let mut path = String::new();
    for point in points {
        if let Some(v) = value(point) {
            let y = top + height - (v.min(max) / max) * height;
            let _ = write!(path, "{:.1},{:.1} ", axis.x(point.t), y);
        }
    }
    // The legend: a sample of the line and its name, in the series' slot on the right.
    let (x, y) = (LEFT + PLOT_W + 6.0, top + 10.0 + slot as f64 * 15.0);
    let _ = write!(
        out,
        r#"<line x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{y:.1}" font-size="11">{label}</text>"#,
        x + 22.0,
        y - 4.0,
        y - 4.0,
        x + 26.0,
    );
    if path.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" points="{path}"><title>{label}</title></polyline>"#
    );
}

fn frame(out: &mut String, (top, height): (f64, f64), max: f64, unit: &str) {
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{PLOT_W}" height="{height}" fill="none" stroke="#ccc"/><text x="{}" y="{}" font-size="11" text-anchor="end">{}</text><text x="{}" y="{}" font-size="11" text-anchor="end">0</text><text x="4" y="{}" font-size="11">{unit}</text>"##,
        LEFT - 4.0,
        top + 10.0,
        fmt_number(max),
        LEFT - 4.0,
        top + height,
        top - 6.0,
    );
}

fn fmt_number(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Segments of a band: consecutive points with the same state.
fn band<T: PartialEq + Clone>(
    out: &mut String,
    points: &[Point],
    axis: &Axis,
    (top, height): (f64, f64),
    name: &str,
    state: impl Fn(&Point) -> T,
    look: impl Fn(&T) -> (&'static str, String),
) {
    let _ = write!(
        out,
        r#"<text x="4" y="{:.1}" font-size="11">{name}</text>"#,
        top + height - 4.0
    );
    let mut i = 0;
    while i < points.len() {
        let current = state(&points[i]);
        let mut j = i + 1;
        while j < points.len() && state(&points[j]) == current {
            j += 1;
        }
        let x0 = axis.x(points[i].t);
        let x1 = points
            .get(j)
            .map_or_else(|| axis.x(points[j - 1].t), |p| axis.x(p.t));
        let (colour, text) = look(&current);
        // Fault labels come from the proxy's API (toxic names are anyone's text).
        let text = escape(&text);
        let w = (x1 - x0).max(1.0);
        let _ = write!(
            out,
            r#"<rect x="{x0:.1}" y="{top}" width="{w:.1}" height="{height}" fill="{colour}"><title>{name} {text}</title></rect>"#
        );
        if w > 8.0 * text.len() as f64 {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#000">{text}</text>"##,
                x0 + 3.0,
                top + height - 4.0
            );
        }
        i = j;
    }
}

/// The run as an SVG element.
pub fn svg(run: &Run) -> String {
    let mut out = String::new();
    let end = run.points.last().map_or(1.0, |p| p.t).max(1.0);
    let axis = Axis {
        from: (end - SPAN_S).max(0.0),
        to: end,
    };
    let shown: Vec<Point> = run
        .points
        .iter()
        .filter(|p| p.t >= axis.from)
        .cloned()
        .collect();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{}: the users' requests, latency, provider, circuit and faults on the wire over time" font-family="sans-serif">"#,
        escape(&run.label)
    );
    let rate_max = nice(
        shown
            .iter()
            .map(|p| p.ok.max(p.degraded).max(p.failed).max(p.timed_out))
            .fold(0.0, f64::max),
    );
    frame(&mut out, RATE, rate_max, "requests/s");
    for (slot, (value, look)) in [
        (
            (|p: &Point| Some(p.ok)) as fn(&Point) -> Option<f64>,
            (GREEN, "none", "ok"),
        ),
        (|p: &Point| Some(p.degraded), (ORANGE, "6 3", "degraded")),
        (|p: &Point| Some(p.failed), (VERMILLION, "2 2", "failed")),
        (
            |p: &Point| Some(p.timed_out),
            (PURPLE, "8 2 2 2", "timed out"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (colour, dash, label) = look;
        polyline(
            &mut out,
            &shown,
            &axis,
            RATE,
            rate_max,
            value,
            (colour, dash, label, slot),
        );
    }
    let latency_max = nice(shown.iter().filter_map(|p| p.p99_ms).fold(0.0, f64::max));
    frame(&mut out, LATENCY, latency_max, "latency ms");
    polyline(
        &mut out,
        &shown,
        &axis,
        LATENCY,
        latency_max,
        |p| p.p50_ms,
        (BLUE, "none", "p50", 0),
    );
    polyline(
        &mut out,
        &shown,
        &axis,
        LATENCY,
        latency_max,
        |p| p.p99_ms,
        (SKY, "5 3", "p99", 1),
    );
    band(
        &mut out,
        &shown,
        &axis,
        PROVIDER_BAND,
        "provider",
        |p| p.provider,
        |s| {
            (
                provider_colour(*s),
                super::sample::provider_word(*s).to_string(),
            )
        },
    );
    band(
        &mut out,
        &shown,
        &axis,
        CIRCUIT_BAND,
        "circuit",
        |p| p.circuit.clone(),
        |s| {
            (
                circuit_colour(s.as_deref()),
                s.clone().unwrap_or_else(|| "unknown".into()),
            )
        },
    );
    band(
        &mut out,
        &shown,
        &axis,
        FAULTS_BAND,
        "faults",
        |p| p.faults.clone(),
        |faults| {
            if faults.is_empty() {
                (WHITE, "none".to_string())
            } else {
                (YELLOW, faults.join("; "))
            }
        },
    );
    for (n, event) in run.events.iter().enumerate() {
        // A control is marked once, when it is done (its `asked` is listed, not drawn).
        let asked = event.kind == EventKind::Control && event.verdict.is_none();
        if event.t < axis.from || event.kind == EventKind::Change || asked {
            continue;
        }
        let x = axis.x(event.t);
        let bad = event
            .verdict
            .as_deref()
            .is_some_and(|v| v != "met" && v != "completed");
        let (colour, width) = if bad { (VERMILLION, 2) } else { ("#000", 1) };
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="14" y2="{}" stroke="{colour}" stroke-width="{width}" stroke-dasharray="3 3"><title>{} {}</title></line><text x="{x:.1}" y="12" font-size="10" text-anchor="middle" fill="{colour}">{}</text>"#,
            FAULTS_BAND.0 + FAULTS_BAND.1,
            n + 1,
            escape(&event.text),
            n + 1
        );
    }
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="{}" font-size="11">{:.0} s</text><text x="{}" y="{}" font-size="11" text-anchor="end">{:.0} s</text></svg>"#,
        HEIGHT - 8.0,
        axis.from,
        LEFT + PLOT_W,
        HEIGHT - 8.0,
        axis.to
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::sample::{Provider, Services};

    #[test]
    fn nice_bounds() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(f64::NAN), 1.0);
        assert_eq!(nice(3.0), 5.0);
        assert_eq!(nice(51.0), 100.0);
        assert_eq!(nice(20.0), 20.0);
    }

    #[test]
    fn the_svg_labels_its_series_and_escapes_text() {
        let mut run = Run::new("a<b", None);
        run.sample(&Services {
            provider: Provider::Up,
            circuit: Some("closed".into()),
            faults: Vec::new(),
            consumer: Provider::Up,
            mode: None,
            proxy: None,
            provider_note: None,
            consumer_note: None,
        });
        run.push_event(EventKind::Action, "Action: <kill>".into(), None);
        run.sample(&Services {
            provider: Provider::Down,
            circuit: Some("open".into()),
            faults: vec!["provider: <slow>".into()],
            consumer: Provider::Up,
            mode: None,
            proxy: None,
            provider_note: None,
            consumer_note: None,
        });
        let svg = svg(&run);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        for needle in [
            "ok",
            "requests/s",
            "provider",
            "circuit",
            "faults",
            "none",
            "provider: &lt;slow&gt;",
            "a&lt;b",
            "&lt;kill&gt;",
            VERMILLION,
            YELLOW,
        ] {
            assert!(svg.contains(needle), "{needle} missing");
        }
        assert!(!svg.contains("<kill>") && !svg.contains("<slow>"));
    }
}
