//! `lab demo`: the tutorial's story, narrated and non-interactive.
//!
//! up (before) -> experiment -> the cascading failure explained from the journal -> fix ->
//! provider back -> experiment again -> before/after table -> down. The demo owns the lab
//! it brings up: whatever happens (failure, Ctrl-C), it takes it down again.

pub mod catalogue;
mod experiment;
mod journal;
#[cfg(feature = "kubernetes")]
mod on_cluster;
mod report;
mod runner;
pub mod scenario;
mod summary;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::DemoArgs;
use crate::consumer_settings::ConsumerSettings;
use crate::interrupt::Started;
use crate::service::{Mode, Service};
use crate::state::StateDir;
use crate::targets::{DownOptions, Health, Target, UpOptions};
use crate::ui;
use runner::Runner;
use scenario::Story;
pub use summary::RunFacts;

/// The simulated users of each run: requests per second, and how long one may take.
const USERS_RATE: f64 = 50.0;
const USERS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Refuses when a lab is running here (the story brings up its own); clears dead
/// leftovers.
fn no_lab_running(target: &mut dyn Target, states: &StateDir, what: &str) -> Result<()> {
    if let Some(rows) = target.status()? {
        if rows.iter().any(|row| row.health != Health::Exited) {
            bail!(
                "a lab is already running here (state in {}); {what} brings up its own, so stop that one first with `lab down`",
                states.root().display()
            );
        }
        // Only dead leftovers (e.g. after a reboot): clear them.
        target.down(&DownOptions::default())?;
    }
    Ok(())
}

/// The experiment runner: `--runner`, else chaos-runner next to lab.
fn runner_program(runner: Option<&Path>) -> Result<std::path::PathBuf> {
    match runner {
        Some(program) => Ok(program.to_path_buf()),
        None => crate::binaries::require(&["chaos-runner"])?
            .pop()
            .context("no path for chaos-runner"),
    }
}

/// The binaries a story runs, built now if missing, so cargo's output does not
/// interrupt the story.
fn require_services(story: &Story) -> Result<()> {
    let mut binaries = vec![Service::Provider.binary(), Service::Consumer.binary()];
    if story.fault_proxy {
        binaries.push(Service::FaultProxy.binary());
    }
    crate::binaries::require(&binaries)?;
    Ok(())
}

/// One run of `scenario`'s experiment with users, against the consumer the learner
/// configured (`lab consumer set`, resilience on), on a lab of its own that it takes
/// down again: what `lab challenge check` grades.
///
/// On a Kubernetes target, the run is on the learner's running lab instead
/// (`on_cluster`).
pub fn attempt(
    target: &mut dyn Target,
    kind: crate::targets::TargetKind,
    started: &Started,
    states: &StateDir,
    scenario: scenario::Scenario,
    label: &str,
) -> Result<RunFacts> {
    let story = scenario.story();
    let runner = Runner {
        program: runner_program(None)?,
        started: started.clone(),
        dashboard: None,
    };
    if kind != crate::targets::TargetKind::Local {
        #[cfg(feature = "kubernetes")]
        return on_cluster::attempt(target, kind, states, &runner, scenario, label);
        #[cfg(not(feature = "kubernetes"))]
        bail!("this lab was built without Kubernetes support: no challenge on `{kind}`");
    }
    no_lab_running(target, states, "the check")?;
    require_services(story)?;
    let result = attempt_run(story, target, states, &runner, label);
    if let Err(down) = target.down(&DownOptions::default()) {
        ui::warn(format!("could not take the lab down: {down:#}"));
    }
    result
}

fn attempt_run(
    story: &Story,
    target: &mut dyn Target,
    states: &StateDir,
    runner: &Runner,
    label: &str,
) -> Result<RunFacts> {
    let url = target.up(&UpOptions {
        mode: Some(Mode::After),
        provider_port: Some(0),
        consumer_port: Some(0),
        fault_proxy: Some(story.fault_proxy),
        fault_proxy_port: story.fault_proxy.then_some(0),
        fault_proxy_link_port: story.fault_proxy.then_some(0),
        ready_timeout: std::time::Duration::from_secs(30),
        ..UpOptions::default()
    })?;
    let fault_proxy = if story.fault_proxy {
        Some(target.fault_proxy_url()?)
    } else {
        None
    };
    let provider = ProviderAccess {
        url: provider_url(target)?,
        token: target.fault_token()?,
    };
    let demo_dir = states.demo_dir();
    std::fs::create_dir_all(&demo_dir)
        .with_context(|| format!("cannot create {}", demo_dir.display()))?;
    let experiment_path = demo_dir.join(format!("experiment-{label}.json"));
    let pause = experiment::tutorial_pause(story).unwrap_or(15.0) as u64;
    experiment::write(&experiment_path, story, pause)?;
    let context = RunContext {
        runner,
        states,
        story,
        experiment: &experiment_path,
        fault_proxy: fault_proxy.as_deref(),
        provider: Some(&provider),
    };
    Ok(run_experiment(&context, label, &url)?.facts)
}

/// Runs the story; `started` is what this command started (it keeps its services: the
/// demo takes the lab down itself).
pub fn run(
    target: &mut dyn Target,
    started: &Started,
    states: &StateDir,
    args: &DemoArgs,
) -> Result<ExitCode> {
    no_lab_running(target, states, "the demo")?;
    let program = runner_program(args.runner.as_deref())?;
    // --dashboard: served from here to the end; it samples the lab through a local
    // target of its own (this one is busy telling the story).
    let live = if args.dashboard {
        let live = crate::dashboard::command::serve(
            args.dashboard_addr,
            crate::targets::TargetKind::Local,
            states,
            None,
            started,
        )?;
        ui::info("the dashboard:");
        println!("{}", live.server.url());
        Some(live)
    } else {
        None
    };
    let runner = Runner {
        program,
        started: started.clone(),
        dashboard: live.as_ref().map(|l| l.dashboard.clone()),
    };
    let story = args.scenario.story();
    require_services(story)?;

    // The story sets the consumer's settings for each run; the learner's own come back
    // afterwards, whatever happens.
    let own_settings = crate::consumer_settings::load(states)?;
    let result = tell(story, target, states, args, &runner);
    if let Err(err) = crate::consumer_settings::save(states, &own_settings) {
        ui::warn(format!("could not restore the consumer settings: {err:#}"));
    }
    if let (Some(live), Ok(_)) = (&live, &result) {
        linger(live, args.dashboard_linger);
    }
    match result {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err(reason)) => bail!("the story did not go as expected: {reason}"),
        Err(err) => {
            if let Err(down) = target.down(&DownOptions::default()) {
                ui::warn(format!("could not take the lab down: {down:#}"));
            }
            Err(err)
        }
    }
}

/// After the story: the dashboard keeps showing both runs, for `limit` or until Ctrl-C.
fn linger(live: &crate::dashboard::command::Live, limit: Option<std::time::Duration>) {
    live.dashboard.end_run();
    let until = match limit {
        Some(limit) => format!("for {} s", limit.as_secs_f64()),
        None => "until Ctrl-C".to_string(),
    };
    say(&format!(
        "The dashboard shows both runs side by side at {} ({until}).",
        live.server.url()
    ));
    let deadline = limit.map(|l| std::time::Instant::now() + l);
    // Ctrl-C is how this wait is meant to end: the story's verdict stands.
    while deadline.is_none_or(|d| std::time::Instant::now() < d)
        && crate::interrupt::check().is_ok()
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What `--dashboard` adds before and after each run.
const DASHBOARD_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

fn dashboard_margin() -> Result<()> {
    let end = std::time::Instant::now() + DASHBOARD_MARGIN;
    while std::time::Instant::now() < end {
        crate::interrupt::check()?;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// A numbered step heading with its explanation.
fn step(number: u8, title: &str, text: &str) {
    println!();
    println!("{}", ui::heading(format!("Step {number}/6  {title}")));
    say(text);
}

/// Explanatory text, indented under the step.
fn say(text: &str) {
    for line in text.lines() {
        println!("  {line}");
    }
}

/// A command as the user would type it to do the same by hand.
fn command(text: &str) {
    println!("  {}", ui::bold(format!("$ {text}")));
}

/// The body of an http output, short enough for one line.
fn body_line(run: &journal::ActivityRun) -> String {
    let text = match journal::body(run) {
        Value::String(text) => text.trim().to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut short: String = text.chars().take(160).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

fn tell(
    story: &Story,
    target: &mut dyn Target,
    states: &StateDir,
    args: &DemoArgs,
    runner: &Runner,
) -> Result<Result<(), String>> {
    let ready_timeout = args.ready.timeout_for(crate::targets::TargetKind::Local);
    let story_pause = experiment::tutorial_pause(story).unwrap_or(15.0);
    println!("{}", ui::heading(story.title));
    say(story.intro);

    let before_settings = ConsumerSettings::of(story.before.settings);
    if story.before.mode == Mode::Before && story.before.settings.is_empty() {
        step(
            1,
            "Bring up the system as the tutorial ships it (the \"before\" system)",
            "The consumer calls the provider with no timeout, no circuit breaker and no fallback.",
        );
    } else {
        step(
            1,
            "Bring up the system",
            &format!("The consumer: {}.", story.before.label),
        );
        command(&before_settings.set_command());
    }
    crate::consumer_settings::save(states, &before_settings)?;
    command(&format!(
        "lab up --mode {}{}",
        story.before.mode,
        if story.fault_proxy {
            " --fault-proxy"
        } else {
            ""
        }
    ));
    let up = |mode, provider_port, consumer_port| UpOptions {
        mode: Some(mode),
        provider_port,
        consumer_port,
        // The demo owns its lab: the proxy's ports are whatever is free.
        fault_proxy: Some(story.fault_proxy),
        fault_proxy_port: story.fault_proxy.then_some(0),
        fault_proxy_link_port: story.fault_proxy.then_some(0),
        ready_timeout,
        ..UpOptions::default()
    };
    let url = target.up(&up(
        story.before.mode,
        Some(args.provider_port),
        Some(args.consumer_port),
    ))?;
    say(&format!("The consumer answers at {url}"));
    let fault_proxy = if story.fault_proxy {
        let api = target.fault_proxy_url()?;
        say(&format!(
            "The fault proxy's API (Toxiproxy's) answers at {api}: `lab address --fault-proxy`,\n\
             given to the experiment as {}.",
            crate::fault_proxy::URL_ENV
        ));
        Some(api)
    } else {
        None
    };
    show_status(target)?;

    let demo_dir = states.demo_dir();
    std::fs::create_dir_all(&demo_dir)
        .with_context(|| format!("cannot create {}", demo_dir.display()))?;
    let experiment_path = demo_dir.join("experiment.json");
    experiment::write(&experiment_path, story, args.pause)?;
    let copy_note = if !story.pausable || (args.pause as f64 - story_pause).abs() < f64::EPSILON {
        let shorten = if story.pausable {
            " (shorten it with --pause)"
        } else {
            ""
        };
        format!(
            "The demo keeps that wait{shorten}; it runs a copy at\n{}.",
            experiment_path.display()
        )
    } else {
        format!(
            "For this demo the wait is {} s: the experiment was copied to\n{} with only that pause changed.",
            args.pause,
            experiment_path.display()
        )
    };
    step(
        2,
        "Run the chaos experiment against it",
        &format!(
            "The experiment is {src}. {method}\n\
             {copy_note}\n\
             While it runs, simulated users call the consumer {USERS_RATE} times a second\n\
             (what `lab traffic --rate {USERS_RATE}` does), so we also see what they got.",
            src = story.source,
            method = story.method.replace("{pause}", &story_pause.to_string()),
        ),
    );
    let provider = if story.provider_faults || story.provider_calls {
        Some(ProviderAccess {
            url: provider_url(target)?,
            token: target.fault_token()?,
        })
    } else {
        None
    };
    let context = RunContext {
        runner,
        states,
        story,
        experiment: &experiment_path,
        fault_proxy: fault_proxy.as_deref(),
        provider: provider.as_ref(),
    };
    let before = run_experiment(&context, "before", &url)?;

    step(
        3,
        "What happened: a cascading failure",
        &format!(
            "The hypothesis held before the method. After {}, it did not:",
            story.since
        ),
    );
    match before.lines.iter().find(|line| line.contains("CRITICAL")) {
        Some(line) => println!("  {}", ui::bad(line.trim())),
        None => say("(the runner printed no CRITICAL line; see its output above)"),
    }
    if let Some(probe) = journal::probe(&before.facts.journal, story.consumer_probe, true) {
        let status = probe
            .output
            .status_code()
            .map_or_else(|| "no answer".to_string(), |s| format!("HTTP {s}"));
        say(&format!(
            "The journal shows the consumer's answer: {status}"
        ));
        let body = journal::body(probe);
        if let Some(cause) = body["cause"].as_str() {
            let error = body["error"].as_str().unwrap_or("error");
            say(&format!("  {error}, cause: {cause}"));
        } else if let Some(error) = journal::error(probe) {
            say(&format!("  {}", error.lines().last().unwrap_or(&error)));
        } else {
            say(&format!("  {}", body_line(probe)));
        }
    }
    say(story.aftermath);
    if story.show_status_after {
        show_status(target)?;
        say(
            "The consumer itself is running and healthy, yet every call to it fails: the\n\
             provider's failure has cascaded into the consumer, and on to its users.",
        );
    }
    say(&summary::users_sentence(
        before.facts.users.as_ref(),
        story.since,
    ));

    step(4, story.fix_title, story.fix_text);
    command(story.fix_command);
    crate::consumer_settings::save(states, &ConsumerSettings::of(story.after.settings))?;
    target.switch_mode(story.after.mode, ready_timeout)?;

    step(5, story.rerun_title, story.rerun_text);
    command(&format!("lab up --mode {}", story.after.mode));
    let url = target.up(&up(story.after.mode, None, None))?;
    let after = run_experiment(&context, "after", &url)?;
    if let Some(probe) = journal::probe(&after.facts.journal, story.consumer_probe, true) {
        let status = probe
            .output
            .status_code()
            .map_or_else(|| "no answer".to_string(), |s| format!("HTTP {s}"));
        say(&format!(
            "{}, the consumer now answered {status}: {}",
            story.under_fault,
            body_line(probe)
        ));
        if let Some(reason) = probe.output.header("X-Fallback-Reason") {
            say(&format!("(X-Fallback: true, reason: {reason})"));
        }
    }
    say(&summary::users_sentence(
        after.facts.users.as_ref(),
        story.since,
    ));

    step(
        6,
        "Before and after",
        &format!(
            "Each probe of the hypothesis, checked (before) and (after) the method, in both runs;\n\
             latency as the runner measured it; then what the users' requests got from the fault\n\
             to the end of the run (latency from when each was due).\n\
             Before the fix: {}.\n\
             After the fix:  {}.",
            story.before.label, story.after.label
        ),
    );
    println!(
        "{}",
        indent(&summary::table(story, &before.facts, &after.facts))
    );
    let verdict = summary::verdict(story, &before.facts, &after.facts);
    match &verdict {
        Ok(()) => {
            say(&ui::good(story.verdict_text));
            say(story.lesson);
            say(&format!(
                "Journals: {}",
                states
                    .demo_dir()
                    .join("journal-{before,after}.json")
                    .display()
            ));
        }
        Err(reason) => say(&ui::bad(format!("Unexpected: {reason}"))),
    }
    match report::write(&states.demo_dir()) {
        Ok(path) => say(&format!(
            "Report (both runs side by side, opens offline): {}",
            path.display()
        )),
        Err(e) => ui::warn(format!("no report: {e:#}")),
    }

    println!();
    command("lab down");
    target.down(&DownOptions::default())?;
    say(
        "To explore by hand: `lab up`, `lab status`, `lab kill my-provider-app`,\n\
         `lab fix`, `lab break`, and `chaos-runner run experiments/local.json`.",
    );
    Ok(verdict)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn show_status(target: &dyn Target) -> Result<()> {
    if let Some(rows) = target.status()? {
        println!("{}", indent(&crate::status::table(&rows)));
    }
    Ok(())
}

/// One experiment run with its output and journal.
struct ExperimentRun {
    lines: Vec<String>,
    facts: RunFacts,
}

/// What every run of a story shares.
struct RunContext<'a> {
    runner: &'a Runner,
    states: &'a StateDir,
    story: &'a Story,
    experiment: &'a Path,
    /// The fault proxy's API, when the story has one (`TOXIPROXY_URL` for the run).
    fault_proxy: Option<&'a str>,
    /// The provider, when the story changes its faults or counts its calls.
    provider: Option<&'a ProviderAccess>,
}

/// The provider's URL and fault token (`PROVIDER_URL`, `FAULT_API_TOKEN` for the run).
struct ProviderAccess {
    url: String,
    token: String,
}

fn provider_url(target: &dyn Target) -> Result<String> {
    let port = target
        .status()?
        .into_iter()
        .flatten()
        .find(|row| row.service == Service::Provider)
        .map(|row| row.port)
        .context("the lab has no provider")?;
    Ok(format!("http://127.0.0.1:{port}"))
}

/// The greetings the provider answered with an error so far, from its `/metrics`.
fn provider_failed_calls(provider: &ProviderAccess) -> Result<u64> {
    let url = format!("{}/metrics", provider.url);
    let text = crate::health::client()?
        .get(&url)
        .send()
        .and_then(|res| res.error_for_status())
        .and_then(|res| res.text())
        .with_context(|| format!("cannot read {url}"))?;
    Ok(failed_greetings(&text))
}

/// `http_requests_total{route="/",status="5xx"}` summed, from Prometheus text.
fn failed_greetings(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix(r#"http_requests_total{route="/",status="5"#))
        .filter_map(|rest| rest.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn run_experiment(context: &RunContext, label: &str, consumer_url: &str) -> Result<ExperimentRun> {
    let RunContext {
        runner,
        states,
        story,
        experiment,
        fault_proxy,
        provider,
    } = context;
    let dir = states.demo_dir();
    let journal_path = dir.join(format!("journal-{label}.json"));
    command(&runner.display(experiment, &journal_path));
    // The experiment calls `lab` by name: put this very lab first on PATH, point it at
    // this state directory, and tell the http probe where the consumer is.
    let own_dir = crate::binaries::own_dir()?;
    let mut path = OsString::from(own_dir.as_os_str());
    if let Some(existing) = std::env::var_os("PATH") {
        path.push(":");
        path.push(existing);
    }
    let mut env = vec![
        ("PATH", path),
        ("LAB_STATE_DIR", states.root().as_os_str().to_owned()),
        ("CONSUMER_URL", OsString::from(consumer_url)),
    ];
    if let Some(api) = fault_proxy {
        env.push((crate::fault_proxy::URL_ENV, OsString::from(api)));
    }
    if let Some(provider) = provider {
        env.push(("PROVIDER_URL", OsString::from(&provider.url)));
        env.push((crate::fault_token::ENV, OsString::from(&provider.token)));
    }
    let calls_before = match provider {
        Some(provider) if story.provider_calls => Some(provider_failed_calls(provider)?),
        _ => None,
    };
    // The users: from before the first hypothesis check to the end of the run.
    let traffic = crate::traffic::Traffic::start(crate::traffic::Config {
        url: consumer_url.to_string(),
        // Stopped when the runner ends; the bound only keeps it finite.
        schedule: crate::traffic::Schedule::new(USERS_RATE, crate::traffic::limits::MAX_DURATION),
        concurrency: 1000,
        timeout: USERS_TIMEOUT,
        // Fine buckets: the window starts at the kill, not at the second around it.
        bucket: std::time::Duration::from_millis(100),
        jsonl: Some(dir.join(format!("traffic-{label}.jsonl"))),
    })?;
    // --dashboard: the chart gets the users and the services a little before the run
    // and after it, so the kill stands out against what came before.
    if let Some(dashboard) = &runner.dashboard {
        dashboard.begin_run(label, Some(traffic.series().clone()));
        dashboard_margin()?;
    }
    let output = runner.run(experiment, &journal_path, &dir, &env);
    if let Some(dashboard) = &runner.dashboard {
        dashboard_margin()?;
        dashboard.end_run();
    }
    let series = traffic.stop()?;
    let output = output?;
    let provider_calls = match (provider, calls_before) {
        (Some(provider), Some(before)) => {
            Some(provider_failed_calls(provider)?.saturating_sub(before))
        }
        _ => None,
    };
    let journal = journal::load(&journal_path)?;
    // The users' window: from the fault to the end of the run (a killed provider stays
    // dead), or, when a rollback removes the fault (a toxic), to the last request whose
    // whole wait fell before it: one due later is answered once the fault is gone.
    let rolled_back = journal
        .rollbacks
        .first()
        .and_then(|run| journal::time(run.start))
        .map(|start| start - USERS_TIMEOUT);
    let fault_end = journal
        .method
        .iter()
        .find(|run| run.name == story.fault_action)
        .and_then(|run| journal::time(run.end));
    let users = fault_end.map(|fault| series.between(fault, rolled_back));
    // The provider's calls are counted for the whole fault: so are the requests.
    let requests_during_fault = fault_end.map(|fault| {
        let rollback = journal
            .rollbacks
            .first()
            .and_then(|run| journal::time(run.start));
        series.between(fault, rollback).sent
    });
    say(&format!(
        "The runner exited with status {} ({}{}).",
        output
            .exit_code
            .map_or_else(|| "none (signal)".into(), |c| c.to_string()),
        journal.status.as_str(),
        if journal.deviated { ", deviated" } else { "" }
    ));
    Ok(ExperimentRun {
        lines: output.lines,
        facts: RunFacts {
            exit_code: output.exit_code,
            journal,
            users,
            provider_calls,
            requests_during_fault,
        },
    })
}

/// A run's facts with the given users' figures (for the graders' tests).
#[cfg(test)]
pub fn summary_for_tests(
    sent: u64,
    ok: u64,
    degraded: u64,
    failed: u64,
    p50_ms: f64,
    p99_ms: f64,
    provider_calls: Option<u64>,
) -> RunFacts {
    let mut users = crate::traffic::Series::new(std::time::Duration::from_secs(1)).totals();
    (users.sent, users.ok, users.degraded, users.failed) = (sent, ok, degraded, failed);
    (users.p50_ms, users.p99_ms) = (Some(p50_ms), Some(p99_ms));
    RunFacts {
        exit_code: Some(0),
        journal: journal::Journal::from_value(serde_json::json!({"experiment": {}}))
            .expect("a minimal journal"),
        users: Some(users),
        provider_calls,
        requests_during_fault: Some(sent),
    }
}
