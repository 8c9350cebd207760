//! The HTML report: one self-contained file (inline CSS and SVG, no script, no font or
//! image from anywhere) that opens with no network. Several journals sit side by side
//! (the demo's before and after). Each shows its title, status and deviation, a
//! timeline of every activity, and each probe's value against its tolerance, the
//! failing one highlighted with what was expected and what came back.
//!
//! Colours are the Okabe–Ito palette (told apart with every common colour-vision
//! deficiency) and never alone: each outcome also has a word and a symbol, and failed
//! bars in the timeline are hatched.
//!
//! Markup is written through [`Html`], which takes markup only as `&'static str` (our
//! own literals) and escapes every other text and attribute value, so nothing from a
//! journal can open a tag.

use crate::model::{ActivityRun, Journal, Phase, Verdict};
use crate::text::{LONG, SHORT, expected, got, outcome, seconds, xml_safe};
use crate::traffic::Traffic;
use chrono::{DateTime, Utc};
use quick_xml::escape::escape;

/// The report of `journals` (label, journal), in the order given.
pub fn render(journals: &[(&str, &Journal)]) -> String {
    render_with_users(journals, None)
}

/// As [`render`], with the users' traffic (the lab's series file) under each journal's
/// timeline: their requests by outcome and their latency on the run's time axis, with
/// the method's and rollbacks' activities marked, and before/after the method in a table.
pub fn render_with_users(journals: &[(&str, &Journal)], users: Option<&Traffic>) -> String {
    let mut h = Html::default();
    h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    let titles: Vec<&str> = journals.iter().map(|(_, j)| j.title.as_str()).collect();
    h.text(&format!("Chaos report: {}", titles.join(" · ")));
    h.raw("</title>\n<style>");
    h.raw(CSS);
    h.raw("</style>\n</head>\n<body>\n");
    // The hatching of failed bars, defined once for every timeline.
    h.raw("<svg width=\"0\" height=\"0\" aria-hidden=\"true\" style=\"position:absolute\"><defs><pattern id=\"hatch\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#D55E00\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"#fff\" stroke-width=\"2\"/></pattern></defs></svg>\n");
    h.raw("<header><h1>Chaos experiment report</h1>");
    h.open("p", &[("class", "sub")]);
    h.text(&format!(
        "{} journal{}",
        journals.len(),
        if journals.len() == 1 { "" } else { "s" }
    ));
    h.close("p");
    h.raw("</header>\n");
    if journals.len() > 1 {
        overview(&mut h, journals);
    }
    h.raw("<main class=\"journals\">\n");
    for (i, (label, j)) in journals.iter().enumerate() {
        journal(&mut h, i, label, j, users);
    }
    h.raw("</main>\n");
    legend(&mut h);
    h.raw("</body>\n</html>\n");
    h.out
}

/// Markup that escapes whatever is not a literal of ours.
#[derive(Default)]
struct Html {
    out: String,
}

impl Html {
    /// Our own markup (literals only).
    fn raw(&mut self, markup: &'static str) {
        self.out.push_str(markup);
    }

    /// Text, escaped (control characters, which HTML does not allow either, as U+FFFD).
    fn text(&mut self, text: &str) {
        self.out.push_str(&escape(xml_safe(text)));
    }

    /// An opening tag; attribute values are escaped.
    fn open(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) {
        self.out.push('<');
        self.out.push_str(tag);
        for (name, value) in attrs {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            self.out.push_str(&escape(xml_safe(value)));
            self.out.push('"');
        }
        self.out.push('>');
    }

    fn close(&mut self, tag: &'static str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// `<tag attrs>text</tag>`.
    fn element(&mut self, tag: &'static str, attrs: &[(&'static str, &str)], text: &str) {
        self.open(tag, attrs);
        self.text(text);
        self.close(tag);
    }
}

/// A verdict's class, symbol and word.
fn verdict(j: &Journal) -> (&'static str, &'static str) {
    match j.verdict() {
        Verdict::Passed => ("ok", "✓ passed"),
        Verdict::Deviated => ("bad", "✗ deviated"),
        Verdict::NotMetBefore => ("bad", "✗ not met before the method"),
        Verdict::NotCompleted => ("warn", "⚠ not completed"),
    }
}

/// An activity run's class and its outcome with a symbol.
fn run_mark(run: &ActivityRun) -> (&'static str, String) {
    let word = outcome(run);
    if run.status.is_none() {
        ("warn", format!("◌ {word}"))
    } else if run.failed() {
        ("bad", format!("✗ {word}"))
    } else {
        ("ok", format!("✓ {word}"))
    }
}

fn overview(h: &mut Html, journals: &[(&str, &Journal)]) {
    h.raw("<section class=\"overview\"><h2>Side by side</h2><table><thead><tr><th>journal</th><th>experiment</th><th>verdict</th><th>status</th><th>deviated</th><th>duration</th><th>failing probe</th></tr></thead><tbody>\n");
    for (i, (label, j)) in journals.iter().enumerate() {
        let (class, word) = verdict(j);
        h.raw("<tr><td>");
        h.open("a", &[("href", &format!("#journal-{i}"))]);
        h.text(label);
        h.close("a");
        h.raw("</td>");
        h.element("td", &[], &j.title);
        h.raw("<td>");
        h.element("span", &[("class", &format!("badge {class}"))], word);
        h.raw("</td>");
        h.element("td", &[], j.status.as_str());
        h.element("td", &[], if j.deviated { "yes" } else { "no" });
        h.element("td", &[], &seconds(j.duration));
        let failing = j
            .failing_probe()
            .map(|(phase, p)| format!("{} ({})", p.name, phase.key()))
            .unwrap_or_else(|| "—".into());
        h.element("td", &[], &failing);
        h.raw("</tr>\n");
    }
    h.raw("</tbody></table></section>\n");
}

fn journal(h: &mut Html, i: usize, label: &str, j: &Journal, users: Option<&Traffic>) {
    let (class, word) = verdict(j);
    h.open(
        "article",
        &[
            ("class", &format!("journal {class}")),
            ("id", &format!("journal-{i}")),
        ],
    );
    h.raw("\n");
    h.element("h2", &[], &j.title);
    h.element("p", &[("class", "file")], label);
    h.raw("<p class=\"badges\">");
    h.element("span", &[("class", &format!("badge {class}"))], word);
    h.raw(" ");
    h.element(
        "span",
        &[("class", "tag")],
        &format!("status: {}", j.status.as_str()),
    );
    h.raw(" ");
    h.element(
        "span",
        &[("class", "tag")],
        &format!("deviated: {}", if j.deviated { "yes" } else { "no" }),
    );
    h.raw("</p>\n");
    if let Some(d) = &j.description {
        h.element("p", &[("class", "description")], d);
    }
    facts(h, j);
    if let Some((phase, p)) = j.failing_probe() {
        failure(h, phase, p);
    }
    h.raw("<h3>Timeline</h3>\n");
    timeline(h, j);
    if let Some(traffic) = users {
        users_section(h, j, traffic);
    }
    h.raw("<h3>Steady-state probes</h3>\n");
    probes(h, j);
    for (title, runs) in [("Method", &j.method), ("Rollbacks", &j.rollbacks)] {
        h.open("h3", &[]);
        h.text(title);
        h.close("h3");
        activities(h, runs);
    }
    h.raw("</article>\n");
}

fn facts(h: &mut Html, j: &Journal) {
    let time = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
            .unwrap_or_else(|| "?".into())
    };
    let mut rows = vec![
        ("started", time(j.start)),
        ("ended", time(j.end)),
        ("duration", seconds(j.duration)),
    ];
    for (name, value) in [
        ("node", &j.node),
        ("platform", &j.platform),
        ("chaoslib-version", &j.chaoslib_version),
    ] {
        if let Some(v) = value {
            rows.push((name, v.clone()));
        }
    }
    h.raw("<dl class=\"facts\">");
    for (name, value) in rows {
        h.element("dt", &[], name);
        h.element("dd", &[], &value);
    }
    h.raw("</dl>\n");
}

fn failure(h: &mut Html, phase: Phase, p: &ActivityRun) {
    h.raw("<section class=\"failure\" role=\"note\">");
    h.element(
        "h3",
        &[],
        &format!("✗ Failing probe: {} — {}", p.name, phase.label()),
    );
    h.raw("<p class=\"k\">Expected (the tolerance as written)</p>");
    h.element("pre", &[("class", "expected")], &expected(p));
    h.raw("<p class=\"k\">Got</p>");
    h.element("pre", &[("class", "got")], &got(p, LONG));
    if !p.exception.is_empty() {
        h.raw("<details><summary>Error</summary>");
        h.element(
            "pre",
            &[],
            &crate::text::truncate(&p.exception.concat(), LONG),
        );
        h.raw("</details>");
    }
    h.raw("</section>\n");
}

fn probes(h: &mut Html, j: &Journal) {
    let hypotheses = j.hypotheses();
    if hypotheses.is_empty() {
        h.raw("<p class=\"none\">No steady-state hypothesis ran.</p>\n");
        return;
    }
    let failing = j
        .failing_probe()
        .map(|(phase, p)| (phase, p as *const ActivityRun));
    h.raw("<table class=\"runs\"><thead><tr><th>phase</th><th>probe</th><th>tolerance (expected)</th><th>value (got)</th><th>result</th></tr></thead><tbody>\n");
    for (phase, hyp) in hypotheses {
        let met = match hyp.met {
            Some(true) => "✓ met",
            Some(false) => "✗ not met",
            None => "◌ unknown",
        };
        for p in &hyp.probes {
            let (class, mark) = run_mark(p);
            let is_failing = failing == Some((phase, p as *const ActivityRun));
            let row_class = if is_failing {
                "bad failing"
            } else if class == "bad" {
                "bad"
            } else {
                ""
            };
            h.open("tr", &[("class", row_class)]);
            h.open("td", &[("title", &format!("hypothesis {met}"))]);
            h.text(&match phase {
                Phase::During(n) => format!("during #{n}"),
                other => other.key().to_string(),
            });
            h.close("td");
            h.element("td", &[], &p.name);
            h.open("td", &[]);
            h.element("code", &[], &expected(p));
            h.close("td");
            h.open("td", &[]);
            h.element("code", &[], &got(p, SHORT));
            h.close("td");
            h.open("td", &[("class", "result")]);
            h.element("span", &[("class", &format!("badge {class}"))], &mark);
            if is_failing {
                h.raw(" <strong>broke the hypothesis</strong>");
            }
            h.close("td");
            h.raw("</tr>\n");
        }
    }
    h.raw("</tbody></table>\n");
}

fn activities(h: &mut Html, runs: &[ActivityRun]) {
    if runs.is_empty() {
        h.raw("<p class=\"none\">None ran.</p>\n");
        return;
    }
    h.raw("<table class=\"runs\"><thead><tr><th>activity</th><th>provider</th><th>duration</th><th>output</th><th>result</th></tr></thead><tbody>\n");
    for r in runs {
        let (class, mark) = run_mark(r);
        h.open("tr", &[("class", if class == "bad" { "bad" } else { "" })]);
        h.element("td", &[], &r.name);
        h.element("td", &[], r.provider.as_deref().unwrap_or("?"));
        h.element("td", &[], &seconds(r.duration));
        h.open("td", &[]);
        h.element("code", &[], &got(r, SHORT));
        h.close("td");
        h.open("td", &[("class", "result")]);
        h.element("span", &[("class", &format!("badge {class}"))], &mark);
        h.close("td");
        h.raw("</tr>\n");
    }
    h.raw("</tbody></table>\n");
}

/// One row per activity (the continuous hypothesis: one row per probe, a bar per run),
/// placed by its start and end relative to the run's.
fn timeline(h: &mut Html, j: &Journal) {
    struct Row<'a> {
        label: String,
        bars: Vec<&'a ActivityRun>,
    }
    let mut rows: Vec<Row> = Vec::new();
    for (phase, run) in j.activities() {
        match phase {
            Phase::During(_) => {
                let label = format!("during: {}", run.name);
                match rows.iter_mut().find(|r| r.label == label) {
                    Some(row) => row.bars.push(run),
                    None => rows.push(Row {
                        label,
                        bars: vec![run],
                    }),
                }
            }
            other => rows.push(Row {
                label: format!("{}: {}", other.key(), run.name),
                bars: vec![run],
            }),
        }
    }
    let starts = j.activities().into_iter().filter_map(|(_, r)| r.start);
    let Some(t0) = j.start.into_iter().chain(starts).min() else {
        h.raw("<p class=\"none\">No timestamps to place the activities.</p>\n");
        return;
    };
    let ends = j.activities().into_iter().filter_map(|(_, r)| r.end);
    let t1 = j.end.into_iter().chain(ends).max().unwrap_or(t0);
    let span = secs(t0, t1).max(0.001);
    if rows.is_empty() {
        h.raw("<p class=\"none\">No activity ran.</p>\n");
        return;
    }

    const LABEL: f64 = 210.0;
    const WIDTH: f64 = 380.0;
    const ROW: f64 = 20.0;
    // A label is shown whole, wrapped to the label column (11 px text: about 34
    // characters a line), its row as tall as its lines.
    const LABEL_CHARS: usize = 34;
    const LINE: f64 = 13.0;
    let labelled: Vec<(Vec<String>, f64)> = rows
        .iter()
        .map(|row| {
            let failed = row.bars.iter().any(|b| b.failed());
            let symbol = if failed { "✗ " } else { "✓ " };
            let lines = crate::text::wrap(&format!("{symbol}{}", row.label), LABEL_CHARS);
            let height = ROW.max(LINE * lines.len() as f64 + 7.0);
            (lines, height)
        })
        .collect();
    let rows_height: f64 = labelled.iter().map(|(_, h)| h).sum();
    let height = rows_height + 24.0;
    let total = LABEL + WIDTH + 10.0;
    h.open(
        "svg",
        &[
            ("class", "timeline"),
            ("viewBox", &format!("0 0 {total} {height}")),
            ("role", "img"),
            (
                "aria-label",
                &format!(
                    "Timeline of {} activity runs over {}",
                    j.activities().len(),
                    seconds(Some(span))
                ),
            ),
        ],
    );
    let mut y = 0.0;
    for (row, (lines, row_height)) in rows.iter().zip(&labelled) {
        let failed = row.bars.iter().any(|b| b.failed());
        h.open(
            "text",
            &[
                ("x", "0"),
                ("y", &format!("{:.1}", y + 14.0)),
                ("class", if failed { "lbl bad" } else { "lbl" }),
            ],
        );
        for (n, line) in lines.iter().enumerate() {
            h.open(
                "tspan",
                &[
                    ("x", "0"),
                    ("y", &format!("{:.1}", y + 14.0 + LINE * n as f64)),
                ],
            );
            h.text(line);
            h.close("tspan");
        }
        h.close("text");
        for bar in &row.bars {
            let (Some(s), e) = (bar.start, bar.end) else {
                continue;
            };
            let x = LABEL + secs(t0, s) / span * WIDTH;
            let end = e.map(|e| secs(t0, e)).unwrap_or(span);
            let w = ((end - secs(t0, s)) / span * WIDTH).max(2.0);
            let (class, mark) = run_mark(bar);
            h.open(
                "rect",
                &[
                    ("x", &format!("{x:.1}")),
                    ("y", &format!("{:.1}", y + 4.0)),
                    ("width", &format!("{w:.1}")),
                    ("height", "12"),
                    ("class", &format!("bar {class}")),
                ],
            );
            h.element(
                "title",
                &[],
                &format!("{}: {mark}, {}", row.label, seconds(bar.duration)),
            );
            h.close("rect");
        }
        y += row_height;
    }
    let axis = rows_height + 4.0;
    h.open(
        "line",
        &[
            ("x1", &format!("{LABEL}")),
            ("x2", &format!("{}", LABEL + WIDTH)),
            ("y1", &format!("{axis:.1}")),
            ("y2", &format!("{axis:.1}")),
            ("class", "axis"),
        ],
    );
    h.close("line");
    for (frac, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
        h.open(
            "text",
            &[
                ("x", &format!("{:.1}", LABEL + frac * WIDTH)),
                ("y", &format!("{:.1}", axis + 16.0)),
                ("text-anchor", anchor),
                ("class", "tick"),
            ],
        );
        h.text(&seconds(Some(span * frac)));
        h.close("text");
    }
    h.close("svg");
    h.raw("\n");
}

/// How far apart two marks' numbers must be to share a line (a two-digit number at
/// 10 px is about 12 px wide), and the height of a line of them.
const MARK_GAP: f64 = 16.0;
const MARK_LANE: f64 = 12.0;

/// The lane (0: the lowest) of each label centred at `xs`, so that two labels in a lane
/// are at least `gap` apart: left to right, each in the lowest lane with room.
fn lanes(xs: &[f64], gap: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut last: Vec<f64> = Vec::new();
    let mut lane = vec![0; xs.len()];
    for i in order {
        let free = last.iter().position(|&end| xs[i] - end >= gap);
        let l = free.unwrap_or(last.len());
        if l == last.len() {
            last.push(xs[i]);
        } else {
            last[l] = xs[i];
        }
        lane[i] = l;
    }
    lane
}

/// Okabe–Ito colours of the users' outcomes (failed ones also hatched).
const USERS_OK: &str = "#0072B2";
const USERS_DEGRADED: &str = "#E69F00";
const USERS_FAILED: &str = "url(#hatch)";
const USERS_TIMED_OUT: &str = "#CC79A7";

/// The users' requests during the run: a chart on the run's time axis and a table of
/// before and after the method.
fn users_section(h: &mut Html, j: &Journal, traffic: &Traffic) {
    h.raw("<section class=\"users\">\n<h3>The users</h3>\n");
    let Some(crate::traffic::Windows {
        span: (from, t1),
        run_start: t0,
        rows,
    }) = traffic.windows(j)
    else {
        h.raw("<p class=\"none\">No timestamps to place the users' requests.</p>\n</section>\n");
        return;
    };
    let span = secs(from, t1).max(0.001);
    let shown: Vec<_> = traffic.overlapping(from, t1).collect();
    if shown.is_empty() {
        h.raw(
            "<p class=\"none\">The users' series has no request during this run.</p>\n</section>\n",
        );
        return;
    }
    const LEFT: f64 = 60.0;
    const WIDTH: f64 = 520.0;
    const RATE_H: f64 = 120.0;
    const LAT_TOP: f64 = 150.0;
    const LAT_H: f64 = 80.0;
    const HEIGHT: f64 = 270.0;
    let total_w = LEFT + WIDTH + 10.0;
    let x = |t: DateTime<Utc>| LEFT + secs(from, t).clamp(0.0, span) / span * WIDTH;
    let rate_max = nice(
        shown
            .iter()
            .map(|b| b.finished() as f64 / b.width_s)
            .fold(0.0, f64::max),
    );
    let latency_max = nice(
        shown
            .iter()
            .filter_map(|b| b.p99_ms)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max),
    );
    let marks: Vec<(&str, &ActivityRun)> = j
        .method
        .iter()
        .map(|r| ("method", r))
        .chain(j.rollbacks.iter().map(|r| ("rollback", r)))
        .filter(|(_, r)| r.start.is_some())
        .collect();
    let mark_lanes = lanes(
        &marks
            .iter()
            .filter_map(|(_, r)| r.start.map(x))
            .collect::<Vec<_>>(),
        MARK_GAP,
    );
    // Room above the chart for the lanes of marks beyond the first.
    let extra = MARK_LANE * mark_lanes.iter().copied().max().unwrap_or(0) as f64;
    h.open(
        "svg",
        &[
            ("class", "users-chart"),
            ("viewBox", &format!("0 0 {total_w} {}", HEIGHT + extra)),
            ("role", "img"),
            (
                "aria-label",
                &format!(
                    "The users' requests per second by outcome and their latency over {}",
                    seconds(Some(span))
                ),
            ),
        ],
    );
    h.open("g", &[("transform", &format!("translate(0,{extra:.1})"))]);
    for b in &shown {
        let x0 = x(b.start);
        let x1 = x(b.start + chrono::Duration::microseconds((b.width_s * 1e6) as i64));
        let w = (x1 - x0 - 0.5).max(0.5);
        let mut y = RATE_H;
        for (count, fill, word) in [
            (b.ok, USERS_OK, "ok"),
            (b.degraded, USERS_DEGRADED, "degraded (fallback)"),
            (b.failed, USERS_FAILED, "failed"),
            (b.timed_out, USERS_TIMED_OUT, "timed out"),
        ] {
            if count == 0 {
                continue;
            }
            let hgt = count as f64 / b.width_s / rate_max * RATE_H;
            y -= hgt;
            h.open(
                "rect",
                &[
                    ("x", &format!("{x0:.1}")),
                    ("y", &format!("{y:.1}")),
                    ("width", &format!("{w:.1}")),
                    ("height", &format!("{hgt:.1}")),
                    ("fill", fill),
                    ("class", "users-bar"),
                ],
            );
            h.element(
                "title",
                &[],
                &format!("{:.1} s: {count} {word}", secs(t0, b.start)),
            );
            h.close("rect");
        }
    }
    // Latency: p50 solid, p99 dashed, one point per bucket.
    for (pick, dash, word) in [(0usize, "", "p50"), (1usize, "5 3", "p99")] {
        let points: Vec<String> = shown
            .iter()
            .filter_map(|b| {
                let v = if pick == 0 { b.p50_ms } else { b.p99_ms }?;
                v.is_finite().then(|| {
                    let mid = b.start + chrono::Duration::microseconds((b.width_s * 5e5) as i64);
                    format!(
                        "{:.1},{:.1}",
                        x(mid),
                        LAT_TOP + LAT_H - (v / latency_max).min(1.0) * LAT_H
                    )
                })
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        h.open(
            "polyline",
            &[
                ("points", &points.join(" ")),
                ("fill", "none"),
                ("stroke", "#1b1b1b"),
                ("stroke-width", "1.5"),
                ("stroke-dasharray", dash),
            ],
        );
        h.element("title", &[], &format!("latency {word}"));
        h.close("polyline");
    }
    for (y, text) in [
        (12.0, format!("{rate_max}/s")),
        (RATE_H, "0".to_string()),
        (LAT_TOP + 10.0, format!("{latency_max} ms")),
        (LAT_TOP + LAT_H, "0 ms".to_string()),
    ] {
        h.open(
            "text",
            &[
                ("x", &format!("{:.1}", LEFT - 4.0)),
                ("y", &format!("{y:.1}")),
                ("text-anchor", "end"),
                ("class", "tick"),
            ],
        );
        h.text(&text);
        h.close("text");
    }
    // The experiment's activities of the method and the rollbacks, numbered; numbers
    // too close to share a line go one lane up (see `lanes`).
    for (n, ((phase, run), lane)) in marks.iter().zip(&mark_lanes).enumerate() {
        let Some(start) = run.start else { continue };
        let mx = x(start);
        let label_y = 10.0 - MARK_LANE * *lane as f64;
        h.open(
            "line",
            &[
                ("x1", &format!("{mx:.1}")),
                ("x2", &format!("{mx:.1}")),
                ("y1", &format!("{:.1}", label_y + 4.0)),
                ("y2", &format!("{:.1}", LAT_TOP + LAT_H)),
                ("class", "mark"),
            ],
        );
        h.element("title", &[], &format!("{}. {phase}: {}", n + 1, run.name));
        h.close("line");
        h.open(
            "text",
            &[
                ("x", &format!("{mx:.1}")),
                ("y", &format!("{label_y:.1}")),
                ("text-anchor", "middle"),
                ("class", "tick mark-number"),
            ],
        );
        h.text(&format!("{}", n + 1));
        h.close("text");
    }
    // The users before the run, when the series has them: the run's start marked.
    if from < t0 {
        let sx = x(t0);
        h.open(
            "line",
            &[
                ("x1", &format!("{sx:.1}")),
                ("x2", &format!("{sx:.1}")),
                ("y1", "14"),
                ("y2", &format!("{:.1}", LAT_TOP + LAT_H)),
                ("class", "run-start"),
            ],
        );
        h.element("title", &[], "the run starts");
        h.close("line");
        h.open(
            "text",
            &[
                ("x", &format!("{:.1}", sx - 3.0)),
                ("y", &format!("{:.1}", RATE_H + 12.0)),
                ("text-anchor", "end"),
                ("class", "tick"),
            ],
        );
        h.text("run starts →");
        h.close("text");
    }
    // Times from the run's start (negative before it).
    let lead = secs(t0, from);
    for (frac, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
        h.open(
            "text",
            &[
                ("x", &format!("{:.1}", LEFT + frac * WIDTH)),
                ("y", &format!("{:.1}", HEIGHT - 6.0)),
                ("text-anchor", anchor),
                ("class", "tick"),
            ],
        );
        h.text(&format!("{:.1} s", lead + span * frac));
        h.close("text");
    }
    h.close("g");
    h.close("svg");
    h.raw("\n<p class=\"users-legend\"><span class=\"swatch\" style=\"background:#0072B2\"></span> ok · <span class=\"swatch\" style=\"background:#E69F00\"></span> degraded (fallback) · <span class=\"swatch hatched\"></span> failed · <span class=\"swatch\" style=\"background:#CC79A7\"></span> timed out (stacked, requests per second); latency: solid p50, dashed p99.</p>\n");
    if !marks.is_empty() {
        h.raw("<ol class=\"marks\">");
        for (phase, run) in &marks {
            h.open("li", &[]);
            h.text(&format!(
                "{phase}: {} at {}",
                run.name,
                seconds(run.start.map(|s| secs(t0, s)))
            ));
            h.close("li");
        }
        h.raw("</ol>\n");
    }
    // Before and after the method's first activity.
    h.raw("<table class=\"users-table\"><thead><tr><th>users' requests</th><th>ok</th><th>degraded (fallback)</th><th>failed</th><th>timed out</th><th>p50</th><th>worst p99</th></tr></thead><tbody>\n");
    for (label, totals) in rows {
        h.open("tr", &[("data-window", label)]);
        h.element("th", &[], label);
        let all = totals.finished();
        for count in [totals.ok, totals.degraded, totals.failed, totals.timed_out] {
            let cell = if all == 0 {
                "-".to_string()
            } else {
                format!("{count} ({:.0} %)", 100.0 * count as f64 / all as f64)
            };
            h.element("td", &[], &cell);
        }
        for ms in [totals.p50_ms, totals.worst_p99_ms] {
            h.element("td", &[], &ms.map_or("-".into(), |v| format!("{v:.0} ms")));
        }
        h.close("tr");
        h.raw("\n");
    }
    h.raw("</tbody></table>\n</section>\n");
}

/// A round upper bound for an axis (1, 2 or 5 times a power of ten).
fn nice(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|v| *v >= max)
        .unwrap_or(max)
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0) as f64 / 1e6
}

fn legend(h: &mut Html) {
    h.raw("<footer class=\"legend\"><span class=\"badge ok\">✓ met / succeeded</span> <span class=\"badge bad\">✗ not met / failed</span> <span class=\"badge warn\">◌ interrupted, ⚠ not completed</span><p>Written by chaos-runner from the journals alone; this file needs no network.</p></footer>\n");
}

/// Okabe–Ito: blue #0072B2 (good), vermillion #D55E00 (bad), orange #E69F00 (neither).
const CSS: &str = r#"
:root { --ok: #0072B2; --bad: #D55E00; --warn: #E69F00; --ink: #1b1b1b; --muted: #5f5f5f; --line: #d6d6d6; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0; padding: 1.5rem; line-height: 1.4; background: #fafafa; }
header h1 { margin: 0; font-size: 1.6rem; }
.sub, .file, .none { color: var(--muted); }
.file { font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; background: #fff; }
th, td { border: 1px solid var(--line); padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .82rem; white-space: pre-wrap; word-break: break-word; }
.journals { display: grid; grid-template-columns: repeat(auto-fit, minmax(30rem, 1fr)); gap: 1.2rem; margin-top: 1.2rem; }
.journal { background: #fff; border: 1px solid var(--line); border-top: 6px solid var(--muted); border-radius: 6px; padding: 1rem; min-width: 0; }
.journal.ok { border-top-color: var(--ok); } .journal.bad { border-top-color: var(--bad); } .journal.warn { border-top-color: var(--warn); }
.journal h2 { margin: 0 0 .2rem; font-size: 1.25rem; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 3px; font-weight: 600; border: 2px solid; white-space: nowrap; }
.badge.ok { color: #00578a; border-color: var(--ok); background: #e6f0f8; }
.badge.bad { color: #8f3d00; border-color: var(--bad); background: #fbe9df; border-style: double; border-width: 3px; }
.badge.warn { color: #6b4a00; border-color: var(--warn); background: #fdf3dc; border-style: dashed; }
.tag { display: inline-block; padding: .05rem .45rem; border: 1px solid var(--line); border-radius: 3px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; font-size: .85rem; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; word-break: break-all; }
.failure { border: 3px double var(--bad); background: #fdf1ea; padding: .6rem .8rem; border-radius: 4px; margin: .8rem 0; }
.failure h3 { margin: 0 0 .4rem; color: #8f3d00; }
.failure .k { margin: .3rem 0 0; font-weight: 600; }
.failure pre { background: #fff; border: 1px solid var(--line); padding: .4rem; margin: .2rem 0; max-height: 20rem; overflow: auto; }
tr.bad td { background: #fbe9df; }
tr.failing td { border-top: 3px solid var(--bad); border-bottom: 3px solid var(--bad); }
.timeline { width: 100%; height: auto; background: #fff; }
.timeline .lbl { font-size: 11px; fill: var(--ink); } .timeline .lbl.bad { fill: #8f3d00; font-weight: 600; }
.timeline .bar.ok { fill: var(--ok); } .timeline .bar.bad { fill: url(#hatch); stroke: var(--bad); } .timeline .bar.warn { fill: var(--warn); }
.timeline .axis { stroke: var(--muted); } .timeline .tick { font-size: 10px; fill: var(--muted); }
.overview { margin-top: 1rem; } .overview h2 { font-size: 1.1rem; }
.legend { margin-top: 1.5rem; font-size: .85rem; color: var(--muted); }
.users-chart { width: 100%; height: auto; background: #fff; }
.users-chart .tick { font-size: 10px; fill: var(--muted); } .users-chart .mark { stroke: var(--ink); stroke-dasharray: 3 3; }
.users-chart .run-start { stroke: var(--muted); stroke-width: 2; }
.users-legend, .marks { font-size: .85rem; }
.swatch { display: inline-block; width: .9em; height: .9em; vertical-align: middle; border: 1px solid var(--ink); }
.swatch.hatched { background: repeating-linear-gradient(45deg, #D55E00 0 3px, #fff 3px 5px); }
@media print { body { background: #fff; } .journals { grid-template-columns: 1fr; } }
"#;
