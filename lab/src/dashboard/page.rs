//! The page: the system as a picture (`picture`), the presenter's controls (forms that
//! work without JavaScript), the experiments started from the page with their logs, and
//! each run's chart with its latest values and events as text beside it (the page reads
//! without the chart and without JavaScript). A few lines of script of our own replace
//! the changing parts with each server-sent `state` event's HTML, and send the controls'
//! forms without leaving the page.
//!
//! `?view=projector`: large type, one column, a full-screen button.

use std::fmt::Write;

use super::Panel;
use super::chart::{self, escape};
use super::sample::{EventKind, Run, provider_word};

/// Which way the page is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Normal,
    /// Large type, one column, for a projector.
    Projector,
}

const HEAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Cascade Lab dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>
body { font-family: sans-serif; margin: 1em; color: #000; background: #fff; }
#runs { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { text-align: left; padding: 1px 8px 1px 0; font-variant-numeric: tabular-nums; }
.bad { color: #D55E00; font-weight: bold; }
.good { color: #007a5a; }
section svg { max-width: 760px; display: block; }
#system svg { max-width: 100%; height: auto; display: block; }
.system-words { font-size: 90%; columns: 2; }
ol { padding-left: 1.6em; font-size: 90%; }
#live { font-size: 90%; }
#controls fieldset { display: inline-block; vertical-align: top; margin: 0 .5em .5em 0; }
#controls button { font-size: 100%; margin: 2px; padding: .3em .7em; }
#answer { font-weight: bold; }
pre.log { max-height: 18em; overflow: auto; background: #f4f4f4; padding: .5em; font-size: 85%; }
body.projector { font-size: 24px; }
body.projector #runs { grid-template-columns: 1fr; }
body.projector section svg { max-width: 100%; height: auto; }
body.projector #system svg { width: 100%; }
body.projector #controls button { font-size: 110%; padding: .5em 1em; }
body.projector .system-words { columns: 1; }
</style></head>
"#;

const SCRIPT: &str = r#"<script>
// Our own few lines: each `state` event carries the changing parts' HTML, rendered by the lab.
function listen() {
  const source = new EventSource("/events");
  source.addEventListener("state", (e) => {
    const state = JSON.parse(e.data);
    document.getElementById("runs").innerHTML = state.html;
    document.getElementById("system").innerHTML = state.system_html;
    document.getElementById("panel").innerHTML = state.panel_html;
    document.getElementById("seq").textContent = state.seq;
  });
  // Refused (too many readers: 503) the browser gives up on the stream; ask again later.
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(listen, 5000);
  };
}
listen();
// The controls: sent in the background, the answer shown; the stream shows the effect.
const form = document.getElementById("control-form");
if (form) form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = new FormData(form, e.submitter);
  data.set("js", "1");
  const answer = document.getElementById("answer");
  try {
    const response = await fetch("/control", { method: "POST", body: new URLSearchParams(data) });
    answer.textContent = (await response.text()).trim();
  } catch (err) {
    answer.textContent = "the dashboard did not answer: " + err;
  }
});
const full = document.getElementById("fullscreen");
if (full) full.addEventListener("click", () => document.documentElement.requestFullscreen());
</script></body></html>
"#;

/// The presenter's buttons: one form, each button its action (a plain POST, then a 303
/// back here, without JavaScript).
///
/// `proxy`: whether the lab has a fault proxy, as last sampled (`None`: not known yet);
/// without one the fault buttons are shown disabled, saying what they need.
fn controls_html(panel: &Panel, view: View, proxy: Option<bool>) -> String {
    let Some(secret) = &panel.secret else {
        return String::new();
    };
    let mut out = format!(
        r#"<form id="control-form" method="post" action="/control"><input type="hidden" name="secret" value="{}">"#,
        escape(secret)
    );
    if view == View::Projector {
        out.push_str(r#"<input type="hidden" name="view" value="projector">"#);
    }
    let button = |action: &str, label: &str| {
        format!(r#"<button type="submit" name="action" value="{action}">{label}</button>"#)
    };
    let no_proxy = proxy == Some(false);
    let fault = |action: &str, label: &str| {
        let disabled = if no_proxy { " disabled" } else { "" };
        format!(
            r#"<button type="submit" name="action" value="{action}"{disabled}>{label}</button>"#
        )
    };
    let _ = write!(
        out,
        r#"<fieldset><legend>Provider</legend>{}{}</fieldset><fieldset><legend>Consumer</legend>{}{}</fieldset><fieldset><legend>Faults (fault proxy{})</legend>{}{}<br>{}{}</fieldset><fieldset><legend>Users</legend>{}{}</fieldset>"#,
        button("kill-provider", "Kill provider"),
        button("restore-provider", "Restore provider"),
        button("fix", "Fix (resilience on)"),
        button("break", "Break (resilience off)"),
        if no_proxy {
            ": needs <code>lab up --fault-proxy</code>"
        } else {
            ""
        },
        fault("add-latency", "Add latency"),
        fault("remove-latency", "Remove latency"),
        fault("add-errors", "Add 503 errors"),
        fault("remove-errors", "Remove errors"),
        button("start-users", "Start users"),
        button("stop-users", "Stop users"),
    );
    if !panel.experiments.is_empty() {
        out.push_str(r#"<fieldset><legend>Experiment</legend><select name="experiment" aria-label="experiment">"#);
        for name in &panel.experiments {
            let _ = write!(out, r#"<option>{}</option>"#, escape(name));
        }
        let _ = write!(
            out,
            "</select>{}</fieldset>",
            button("run-experiment", "Run")
        );
    }
    out.push_str(r#"</form><p id="answer" role="status"></p>"#);
    out
}

/// The changing part of the presenter's panel: the action under way, the users, the
/// experiments started from the page (the latest first) with their logs' ends.
pub fn panel_html(panel: &Panel) -> String {
    let mut out = String::new();
    if panel.secret.is_none() {
        return out;
    }
    let _ = write!(
        out,
        r#"<p><span data-k="busy">{}</span> · <span data-k="users">{}</span></p>"#,
        match &panel.busy {
            Some(busy) => format!("under way: {}", escape(busy)),
            None => "ready".to_string(),
        },
        match panel.users {
            Some(rate) => format!("users: running, {rate} requests/s"),
            None => "users: stopped".to_string(),
        },
    );
    for run in panel.runs.iter().rev().take(3) {
        let state = if run.done {
            format!("ended: {}", escape(&run.verdict()))
        } else {
            "running…".to_string()
        };
        let class = match (run.done, run.status.as_deref(), run.deviated) {
            (true, Some("completed"), false) => "good",
            (true, _, _) => "bad",
            _ => "",
        };
        let _ = write!(
            out,
            r#"<section class="experiment" data-run="{id}"><h3>Experiment {id}: {name} <span class="{class}" data-k="verdict">{state}</span></h3><p><a href="/runs/{id}/log">whole log</a>"#,
            id = run.id,
            name = escape(&run.name),
        );
        if let Some(report) = &run.report {
            let _ = write!(
                out,
                r#" · <a href="{}" data-k="report">report</a>"#,
                escape(report)
            );
        }
        if let Some(note) = &run.note {
            let _ = write!(out, " · {}", escape(note));
        }
        out.push_str(r#"</p><pre class="log">"#);
        let from = run.lines.len().saturating_sub(30);
        for line in &run.lines[from..] {
            out.push_str(&escape(line));
            out.push('\n');
        }
        out.push_str("</pre></section>");
    }
    out
}

/// The whole page, as things are now; without `controls`, read-only.
pub fn page(runs: &[Run], panel: &Panel, view: View, controls: bool) -> String {
    let (class, switch) = match view {
        View::Normal => ("", r#"<a href="/?view=projector">projector view</a>"#),
        View::Projector => (
            "projector",
            r#"<a href="/">normal view</a> · <button type="button" id="fullscreen">full screen</button>"#,
        ),
    };
    format!(
        r#"{HEAD}<body class="{class}"><h1>Cascade Lab</h1>
<p id="live">Updated by the lab every half second (<span id="seq">0</span>) · {switch}</p>
<div id="system">{}</div>
<div id="controls">{}</div>
<div id="panel">{}</div>
<div id="runs">{}</div>
{SCRIPT}"#,
        super::picture::system_html(runs.last().and_then(|r| r.points.last())),
        if controls {
            let proxy = runs
                .last()
                .and_then(|r| r.points.last())
                .map(|p| p.proxy.is_some());
            controls_html(panel, view, proxy)
        } else {
            String::new()
        },
        panel_html(panel),
        runs_html(runs),
    )
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
                    EventKind::Control => "control",
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
