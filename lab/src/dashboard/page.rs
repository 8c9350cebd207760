//! The page: each run's chart with its latest values and events as text beside it (the
//! page reads without the chart and without JavaScript), and a few lines of script of
//! our own that replace the runs with each server-sent `state` event's `html`.

use std::fmt::Write;

use super::chart::{self, escape};
use super::sample::{EventKind, Run, provider_word};

const HEAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Cascade Lab dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: sans-serif; margin: 1em; color: #000; background: #fff; }
#runs { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { text-align: left; padding: 1px 8px 1px 0; font-variant-numeric: tabular-nums; }
.bad { color: #D55E00; font-weight: bold; }
.good { color: #007a5a; }
section svg { max-width: 760px; display: block; }
ol { padding-left: 1.6em; font-size: 90%; }
#live { font-size: 90%; }
</style></head>
<body><h1>Cascade Lab</h1>
<p id="live">Updated by the lab every half second (<span id="seq">0</span>).</p>
<div id="runs">"#;

const TAIL: &str = r#"</div>
<script>
// Our own few lines: each `state` event carries the runs' HTML, rendered by the lab.
function listen() {
  const source = new EventSource("/events");
  source.addEventListener("state", (e) => {
    const state = JSON.parse(e.data);
    document.getElementById("runs").innerHTML = state.html;
    document.getElementById("seq").textContent = state.seq;
  });
  // Refused (too many readers: 503) the browser gives up on the stream; ask again later.
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(listen, 5000);
  };
}
listen();
</script></body></html>
"#;

/// The whole page, with the runs as they are now.
pub fn page(runs: &[Run]) -> String {
    format!("{HEAD}{}{TAIL}", runs_html(runs))
}

fn value(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// The runs, side by side: chart, latest values, events.
pub fn runs_html(runs: &[Run]) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        out.push_str("<p>No run yet.</p>");
    }
    for run in runs {
        let _ = write!(
            out,
            r#"<section class="run" data-label="{label}"><h2>{label}{ended}</h2>{svg}"#,
            label = escape(&run.label),
            ended = if run.ended { " (ended)" } else { "" },
            svg = chart::svg(run),
        );
        if let Some(p) = run.points.last() {
            let circuit = p.circuit.as_deref().unwrap_or("unknown");
            let circuit_class = if circuit == "open" { "bad" } else { "" };
            let provider = provider_word(p.provider);
            let provider_class = if provider == "down" { "bad" } else { "" };
            let (faults, faults_class) = if p.faults.is_empty() {
                ("none".to_string(), "")
            } else {
                (p.faults.join("; "), "bad")
            };
            let _ = write!(
                out,
                r#"<table class="latest"><tr><th>at</th><td>{:.1} s</td></tr><tr><th>ok /s</th><td data-k="ok">{:.1}</td></tr><tr><th>degraded /s</th><td data-k="degraded">{:.1}</td></tr><tr><th>failed /s</th><td data-k="failed">{:.1}</td></tr><tr><th>timed out /s</th><td data-k="timed_out">{:.1}</td></tr><tr><th>p50 ms</th><td>{}</td></tr><tr><th>p99 ms</th><td>{}</td></tr><tr><th>provider</th><td data-k="provider" class="{provider_class}">{provider}</td></tr><tr><th>circuit</th><td data-k="circuit" class="{circuit_class}">{}</td></tr><tr><th>faults</th><td data-k="faults" class="{faults_class}">{}</td></tr></table>"#,
                p.t,
                p.ok,
                p.degraded,
                p.failed,
                p.timed_out,
                value(p.p50_ms),
                value(p.p99_ms),
                escape(circuit),
                escape(&faults),
            );
        }
        if !run.events.is_empty() {
            out.push_str(r#"<ol class="events">"#);
            for event in &run.events {
                let (class, mark) = match event.verdict.as_deref() {
                    Some("met" | "completed") => ("good", " ✓"),
                    Some(_) => ("bad", " ✗"),
                    None => ("", ""),
                };
                let kind = match event.kind {
                    EventKind::Check => "check",
                    EventKind::Action => "action",
                    EventKind::Pause => "pause",
                    EventKind::Rollback => "rollback",
                    EventKind::End => "end",
                    EventKind::Change => "seen",
                };
                let _ = write!(
                    out,
                    r#"<li class="{class}" data-kind="{kind}">{:.1} s {kind}: {}{mark}</li>"#,
                    event.t,
                    escape(&event.text)
                );
            }
            out.push_str("</ol>");
        }
        out.push_str("</section>");
    }
    out
}
