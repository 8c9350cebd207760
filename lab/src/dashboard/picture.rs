//! The system as a picture, drawn on the server (SVG, so it shows without JavaScript):
//! users -> consumer -> (the fault proxy, when the lab has one) -> provider. Each box is
//! coloured by its health and says it in words; the consumer's box has its mode and
//! circuit; the arrows carry the users' request rate and what share of it went wrong;
//! the active faults sit on the arrow where they act (between the proxy and the
//! provider). Under the picture the same facts as a list, for a screen reader or a
//! projector that washes colours out.

use std::fmt::Write;

use super::chart::{GREEN, ORANGE, VERMILLION, escape};
use super::sample::{Point, Provider};

const GREY: &str = "#999999";
const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 190.0;
const BOX_W: f64 = 145.0;
const BOX_H: f64 = 96.0;
const BOX_Y: f64 = 40.0;

/// One box: what it is, its state word, its colour, more lines.
struct Node {
    key: &'static str,
    title: &'static str,
    health: &'static str,
    colour: &'static str,
    lines: Vec<String>,
}

fn health(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Up => ("UP", GREEN),
        Provider::Down => ("DOWN", VERMILLION),
        Provider::Unknown => ("UNKNOWN", GREY),
    }
}

/// A note short enough for a box.
fn cut(note: &str) -> String {
    const MAX: usize = 22;
    if note.chars().count() <= MAX {
        note.to_string()
    } else {
        let short: String = note.chars().take(MAX - 1).collect();
        format!("{short}…")
    }
}

fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "-".into()
    } else {
        format!("{:.0} %", 100.0 * part / whole)
    }
}

/// The picture and its words, for the latest point (`None`: nothing sampled yet).
pub fn system_html(point: Option<&Point>) -> String {
    let Some(p) = point else {
        return r#"<p class="system-none">No sample of the lab yet.</p>"#.to_string();
    };
    let total = p.ok + p.degraded + p.failed + p.timed_out;
    let errors = p.failed + p.timed_out;
    let (users_word, users_colour) = if total <= 0.0 {
        ("NO REQUESTS", GREY)
    } else if errors / total > 0.05 {
        ("FAILING", VERMILLION)
    } else if p.degraded / total > 0.05 {
        ("DEGRADED", ORANGE)
    } else {
        ("OK", GREEN)
    };
    let mut nodes = vec![Node {
        key: "users",
        title: "users",
        health: users_word,
        colour: users_colour,
        lines: vec![
            format!("{:.0} ok/s", p.ok),
            format!("{:.0} fallback/s", p.degraded),
        ],
    }];
    let (consumer_word, consumer_colour) = health(p.consumer);
    let circuit = p.circuit.as_deref().unwrap_or("unknown");
    let mode = match p.mode.as_deref() {
        Some("after") => "after (resilient)",
        Some("before") => "before (naive)",
        Some(other) => other,
        None => "unknown",
    };
    nodes.push(Node {
        key: "consumer",
        title: "consumer",
        health: consumer_word,
        colour: consumer_colour,
        lines: [format!("mode: {mode}"), format!("circuit: {circuit}")]
            .into_iter()
            .chain(p.consumer_note.iter().cloned())
            .collect(),
    });
    if let Some(proxy) = p.proxy {
        let (word, colour) = health(proxy);
        nodes.push(Node {
            key: "fault-proxy",
            title: "fault proxy",
            health: word,
            colour,
            lines: vec![if p.faults.is_empty() {
                "no faults".into()
            } else {
                format!("{} fault(s)", p.faults.len())
            }],
        });
    }
    let (provider_word, provider_colour) = health(p.provider);
    nodes.push(Node {
        key: "provider",
        title: "provider",
        health: provider_word,
        colour: provider_colour,
        // The note's lines: what runs it, then (Kubernetes) its pods and their nodes.
        lines: p
            .provider_note
            .iter()
            .flat_map(|n| n.lines())
            .map(str::to_string)
            .collect(),
    });

    let gap = (WIDTH - 20.0 - BOX_W * nodes.len() as f64) / (nodes.len() - 1) as f64;
    let x_of = |i: usize| 10.0 + i as f64 * (BOX_W + gap);
    let mut svg = format!(
        r#"<svg class="system" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="the system: users, consumer{}, provider" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">"#,
        if p.proxy.is_some() {
            ", fault proxy"
        } else {
            ""
        }
    );
    svg.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#000"/></marker></defs>"##);
    // The arrows first, under the boxes.
    for (i, from) in nodes.iter().enumerate().take(nodes.len() - 1) {
        let (x1, x2) = (x_of(i) + BOX_W, x_of(i + 1));
        let y = BOX_Y + BOX_H / 2.0;
        let _ = write!(
            svg,
            r##"<line x1="{x1:.1}" y1="{y}" x2="{:.1}" y2="{y}" stroke="#000" stroke-width="2" marker-end="url(#arrow)"/>"##,
            x2 - 2.0
        );
        // Two short lines above the arrow: the users' rate and errors, then what came
        // back from further on (the share of the users' requests that did not get the
        // provider's answer: fallback, error or timeout).
        let lines = if total <= 0.0 {
            ["no".to_string(), "requests".to_string()]
        } else if i == 0 {
            [
                format!("{total:.0} req/s"),
                format!("{} errors", percent(errors, total)),
            ]
        } else {
            [
                format!("{} not ok", percent(total - p.ok, total)),
                String::new(),
            ]
        };
        for (n, line) in lines.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<text class="arrow" data-arrow="{}" x="{:.1}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
                from.key,
                (x1 + x2) / 2.0,
                y - 24.0 + 14.0 * n as f64,
                escape(line)
            );
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        let x = x_of(i);
        let _ = write!(
            svg,
            r##"<g class="box" data-box="{key}" data-health="{health}"><rect x="{x:.1}" y="{BOX_Y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="#fff" stroke="{colour}" stroke-width="5"/><rect x="{x:.1}" y="{BOX_Y}" width="{BOX_W}" height="26" rx="8" fill="{colour}"/><text x="{:.1}" y="{}" font-size="15" font-weight="bold" text-anchor="middle" fill="{}">{title} {health}</text>"##,
            x + BOX_W / 2.0,
            BOX_Y + 18.0,
            if node.colour == GREY || node.colour == ORANGE {
                "#000"
            } else {
                "#fff"
            },
            key = node.key,
            health = node.health,
            colour = node.colour,
            title = node.title,
        );
        for (n, line) in node.lines.iter().enumerate() {
            // A line cut to the box keeps its whole text as the element's title.
            let shown = cut(line);
            let title = if shown == *line {
                String::new()
            } else {
                format!("<title>{}</title>", escape(line))
            };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" font-size="13" text-anchor="middle">{title}{}</text>"#,
                x + BOX_W / 2.0,
                BOX_Y + 46.0 + 18.0 * n as f64,
                escape(&shown)
            );
        }
        svg.push_str("</g>");
    }
    // The faults where they act: on the wire from the proxy to the provider.
    if p.proxy.is_some() && !p.faults.is_empty() {
        let n = nodes.len();
        let x = (x_of(n - 2) + BOX_W + x_of(n - 1)) / 2.0;
        for (k, fault) in p.faults.iter().enumerate() {
            let y = BOX_Y + BOX_H + 18.0 + 16.0 * k as f64;
            let mut short: String = fault.chars().take(80).collect();
            if short.len() < fault.len() {
                short.push('…');
            }
            let _ = write!(
                svg,
                r##"<g class="fault"><text x="{x:.1}" y="{y:.1}" font-size="12" text-anchor="middle" fill="#000">⚡ FAULT: {}</text></g>"##,
                escape(&short)
            );
        }
        let _ = write!(
            svg,
            r##"<path d="M{:.1},{} l6,-8 l4,8 l6,-8 l4,8" stroke="{VERMILLION}" stroke-width="3" fill="none"/>"##,
            x - 10.0,
            BOX_Y + BOX_H / 2.0 + 12.0
        );
    }
    svg.push_str("</svg>");

    // The same facts in words.
    let mut words = String::from(r#"<ul class="system-words">"#);
    for node in &nodes {
        let _ = write!(
            words,
            r#"<li data-node="{}"><b>{}</b>: {}{}</li>"#,
            node.key,
            node.title,
            node.health.to_lowercase(),
            if node.lines.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(&node.lines.join(", ")))
            }
        );
    }
    for fault in &p.faults {
        let _ = write!(
            words,
            r#"<li class="bad" data-node="fault">fault on the wire to the provider: {}</li>"#,
            escape(fault)
        );
    }
    words.push_str("</ul>");
    format!("{svg}{words}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(provider: Provider, proxy: Option<Provider>, faults: &[&str]) -> Point {
        Point {
            t: 1.0,
            ok: 18.0,
            degraded: 2.0,
            failed: 0.0,
            timed_out: 0.0,
            p50_ms: Some(2.0),
            p99_ms: Some(5.0),
            circuit: Some("closed".into()),
            provider,
            faults: faults.iter().map(|f| f.to_string()).collect(),
            consumer: Provider::Up,
            mode: Some("after".into()),
            proxy,
            provider_note: Some("Deployment · :8080".into()),
            consumer_note: None,
        }
    }

    #[test]
    fn the_boxes_say_their_health_in_words_and_colour() {
        let up = system_html(Some(&point(Provider::Up, None, &[])));
        assert!(
            up.contains(r#"data-box="provider" data-health="UP""#),
            "{up}"
        );
        assert!(up.contains("provider UP"));
        assert!(up.contains("mode: after (resilient)"));
        assert!(up.contains("circuit: closed"));
        assert!(up.contains("Deployment · :8080"), "{up}");
        assert!(
            up.contains(">20 req/s<") && up.contains(">0 % errors<"),
            "{up}"
        );
        assert!(!up.contains("fault-proxy"));
        let down = system_html(Some(&point(Provider::Down, None, &[])));
        assert!(down.contains(r#"data-box="provider" data-health="DOWN""#));
        assert!(down.contains(VERMILLION));
        assert!(system_html(None).contains("No sample"));
        // A note of several lines (a Kubernetes provider's pods) is one text line each;
        // one cut to the box keeps its whole text as its title.
        let mut pods = point(Provider::Up, None, &[]);
        pods.provider_note =
            Some("Deployment · :8080\nrsmc6 @ minikube\nx2x9q @ cascade-lab-control-plane".into());
        let html = system_html(Some(&pods));
        assert!(
            html.contains(">Deployment · :8080</text>")
                && html.contains(">rsmc6 @ minikube</text>")
                && html.contains(
                    "><title>x2x9q @ cascade-lab-control-plane</title>x2x9q @ cascade-lab-c…</text>"
                ),
            "{html}"
        );
    }

    #[test]
    fn faults_are_drawn_on_the_proxy_side_and_escaped() {
        let html = system_html(Some(&point(
            Provider::Up,
            Some(Provider::Up),
            &["provider: x <latency>"],
        )));
        assert!(html.contains(r#"data-box="fault-proxy""#));
        assert!(
            html.contains("FAULT: provider: x &lt;latency&gt;"),
            "{html}"
        );
        assert!(!html.contains("<latency>"));
    }
}
