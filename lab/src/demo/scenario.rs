//! The stories `lab demo` can tell (`--scenario`): each is one experiment from
//! `experiments/`, compiled into the binary, with the names the narration and the
//! before/after table read from its journal, and the words that differ between stories.
//! The story's shape is the same for all: up (before) -> experiment -> what happened ->
//! fix -> up -> experiment again -> before and after.

use clap::ValueEnum;

use super::summary::{CONSUMER_PROBE, HEALTH_PROBE, KILL_ACTION, RunFacts};
use crate::service::Mode;
use crate::traffic::Summary;

/// Which story `lab demo` tells (`lab scenario list` describes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Scenario {
    /// The tutorial's: the provider is killed (experiments/local.json)
    #[default]
    Kill,
    /// The provider answers, slowly: 1.5 s a call (experiments/provider-slow.json)
    Slow,
    /// The provider hangs: the circuit breaker's effect (experiments/provider-hang.json)
    Hang,
    /// Three seconds of latency on the wire between consumer and provider, through the
    /// fault proxy (experiments/provider-latency.json)
    Latency,
    /// An error burst: every provider call answered 503 by the fault proxy
    /// (experiments/provider-errors.json)
    Errors,
    /// Naive retries multiply a provider outage, budgeted ones do not
    /// (experiments/retry-storm.json)
    RetryStorm,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Kill,
        Scenario::Slow,
        Scenario::Hang,
        Scenario::Latency,
        Scenario::Errors,
        Scenario::RetryStorm,
    ];

    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Kill => "kill",
            Scenario::Slow => "slow",
            Scenario::Hang => "hang",
            Scenario::Latency => "latency",
            Scenario::Errors => "errors",
            Scenario::RetryStorm => "retry-storm",
        }
    }
}

/// The consumer of one run of a story: its mode and the settings `lab consumer set`
/// would give it.
pub struct Setup {
    pub mode: Mode,
    /// `(consumer flag, value)`, e.g. `("--retries", "3")`.
    pub settings: &'static [(&'static str, &'static str)],
    /// The consumer in a few words, for the narration and the table.
    pub label: &'static str,
}

/// A story's check of both runs' figures: what went otherwise, if anything.
pub type FiguresCheck = fn(&RunFacts, &RunFacts) -> Result<(), String>;

/// What a run of the experiment should end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The hypothesis no longer holds after the method (exit 1).
    Deviates,
    /// The hypothesis holds throughout (exit 0).
    Holds,
}

/// One probe of a story's hypothesis, as the table shows it.
pub struct Probe {
    pub name: &'static str,
    /// An http probe (status and latency shown) rather than a process one (exit code).
    pub http: bool,
}

/// What a story needs that the others do not share.
pub struct Story {
    /// One line for `lab scenario list`.
    pub summary: &'static str,
    /// The consumer of the first run and of the second.
    pub before: Setup,
    pub after: Setup,
    /// How each run's experiment should end.
    pub expect_before: Expect,
    pub expect_after: Expect,
    /// Step 4: what changes between the runs, and the command that does it.
    pub fix_title: &'static str,
    pub fix_text: &'static str,
    pub fix_command: &'static str,
    /// The experiment changes the provider's faults (`FAULT_API_TOKEN`, `PROVIDER_URL`).
    pub provider_faults: bool,
    /// Count the provider's failed calls during each run (the retry storm's evidence).
    pub provider_calls: bool,
    /// A check on both runs' figures beyond the experiments' verdicts.
    pub figures_check: Option<FiguresCheck>,
    /// Said when the story went as expected.
    pub verdict_text: &'static str,
    /// The lesson, after the table.
    pub lesson: &'static str,
    /// The experiment as it is in the repository, and where it comes from.
    pub experiment: &'static str,
    pub source: &'static str,
    /// The method's action that breaks things: the users' window starts when it ends.
    pub fault_action: &'static str,
    /// The hypothesis's probes, in order; `consumer_probe` is the one the users feel.
    pub probes: &'static [Probe],
    pub consumer_probe: &'static str,
    /// Whether `--pause` rewrites the method's pause (the tutorial's 15 s wait).
    pub pausable: bool,
    /// The lab runs the fault proxy between consumer and provider.
    pub fault_proxy: bool,
    /// Since when the users' view counts, in words ("After {since}, ...").
    pub since: &'static str,
    /// The fault in two words, for the table ("users after the kill").
    pub fault_noun: &'static str,
    /// How the fixed consumer's answer under the fault is introduced ("Without its
    /// provider").
    pub under_fault: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    /// What the method does, for step 2 (`{pause}`: the wait in seconds).
    pub method: &'static str,
    /// What the lab looks like after the first run, for step 3.
    pub aftermath: &'static str,
    /// Whether step 3 shows `lab status` (the kill removed the provider from it).
    pub show_status_after: bool,
    pub rerun_title: &'static str,
    pub rerun_text: &'static str,
}

/// The tutorial's naive consumer.
const NAIVE: Setup = Setup {
    mode: Mode::Before,
    settings: &[],
    label: "naive: no timeout, no breaker, no fallback",
};

/// The tutorial's fixed consumer, with its default settings.
const FIXED: Setup = Setup {
    mode: Mode::After,
    settings: &[],
    label: "fixed: 800 ms call timeout, breaker, bulkhead, fallback",
};

const FIX_TEXT: &str = "The fixed consumer calls the provider with a timeout, through a circuit breaker,\n\
                        and when the call fails it answers a degraded but valid response (a fallback)\n\
                        instead of passing the error on.";

/// The breaker out of the way, so a story shows what the other protections do alone.
const NO_BREAKER: (&str, &str) = ("--circuit-failure-threshold", "1000000");

fn users(run: &RunFacts) -> Result<&Summary, String> {
    run.users
        .as_ref()
        .filter(|u| u.sent > 0)
        .ok_or_else(|| "a run has no users' figures".to_string())
}

fn p50(users: &Summary) -> f64 {
    users.p50_ms.unwrap_or(f64::NAN)
}

/// The fixed consumer's users: none failed.
fn none_failed_after(_: &RunFacts, after: &RunFacts) -> Result<(), String> {
    let after = users(after)?;
    if after.failed + after.timed_out > 0 {
        return Err(format!(
            "after the fix {} of {} users' requests failed or timed out",
            after.failed + after.timed_out,
            after.sent
        ));
    }
    Ok(())
}

/// Slow provider: the naive consumer's users got their answer slowly; the fixed one's
/// got the fallback within the call timeout.
fn slow_figures(before: &RunFacts, after: &RunFacts) -> Result<(), String> {
    none_failed_after(before, after)?;
    let (b, a) = (users(before)?, users(after)?);
    if b.ok * 10 < b.sent * 9 || p50(b) < 1400.0 {
        return Err(format!(
            "before: expected nearly every answer ok at about 1.5 s, got {} ok of {}, p50 {:.0} ms",
            b.ok,
            b.sent,
            p50(b)
        ));
    }
    if a.degraded * 10 < a.sent * 9 || a.p99_ms.unwrap_or(f64::INFINITY) >= 1000.0 {
        return Err(format!(
            "after: expected nearly every answer degraded within 1 s, got {} degraded of {}, p99 {:.0} ms",
            a.degraded,
            a.sent,
            a.p99_ms.unwrap_or(f64::NAN)
        ));
    }
    Ok(())
}

/// Hanging provider: without the breaker every user waits the whole timeout; with it,
/// milliseconds.
fn hang_figures(before: &RunFacts, after: &RunFacts) -> Result<(), String> {
    let (b, a) = (users(before)?, users(after)?);
    for (label, u) in [("before", b), ("after", a)] {
        if u.failed + u.timed_out > 0 {
            return Err(format!(
                "{label}: {} of {} users' requests failed",
                u.failed + u.timed_out,
                u.sent
            ));
        }
    }
    if !(p50(b) >= 700.0 && p50(a) * 4.0 < p50(b)) {
        return Err(format!(
            "expected the users' median wait to fall from the whole timeout (about 800 ms) to a few ms, got {:.0} ms before and {:.0} ms after",
            p50(b),
            p50(a)
        ));
    }
    Ok(())
}

/// Error burst: the naive consumer passed the errors on; the fixed one answered.
fn errors_figures(before: &RunFacts, after: &RunFacts) -> Result<(), String> {
    let b = users(before)?;
    if b.failed * 10 < b.sent * 9 {
        return Err(format!(
            "before: expected nearly every users' request to fail, got {} of {}",
            b.failed, b.sent
        ));
    }
    none_failed_after(before, after)
}

/// Provider calls per user request during the fault.
pub fn calls_per_request(run: &RunFacts) -> Option<f64> {
    let sent = run.requests_during_fault.filter(|n| *n > 0)?;
    Some(run.provider_calls? as f64 / sent as f64)
}

/// Retry storm: naive retries multiplied the provider's calls about fourfold; the
/// budget kept them near one per request.
fn storm_figures(before: &RunFacts, after: &RunFacts) -> Result<(), String> {
    for (label, run) in [("before", before), ("after", after)] {
        let u = users(run)?;
        if u.failed + u.timed_out > 0 {
            return Err(format!(
                "{label}: {} of {} users' requests failed",
                u.failed + u.timed_out,
                u.sent
            ));
        }
    }
    let (Some(b), Some(a)) = (calls_per_request(before), calls_per_request(after)) else {
        return Err("the provider's calls were not counted".into());
    };
    if b < 3.0 || a > 1.5 {
        return Err(format!(
            "expected about 4 provider calls per user request with naive retries and at most 1.5 with the budget, got {b:.2} and {a:.2}"
        ));
    }
    Ok(())
}

const KILL: Story = Story {
    summary: "the provider is killed: the naive consumer fails its users, the fixed one answers with the fallback",
    before: NAIVE,
    after: FIXED,
    expect_before: Expect::Deviates,
    expect_after: Expect::Holds,
    fix_title: "Fix the consumer (the \"after\" system)",
    fix_text: FIX_TEXT,
    fix_command: "lab fix",
    verdict_text: "The experiment found the weakness before the fix, and passes after it.",
    provider_faults: false,
    provider_calls: false,
    figures_check: Some(none_failed_after),
    lesson: "A dead provider refuses connections at once, so the naive consumer fails fast and\n\
             the fixed one's fallback is as fast: the breaker changes little here (see the\n\
             `hang` scenario for where it matters).",
    experiment: include_str!("../../../experiments/local.json"),
    source: "experiments/local.json",
    fault_action: KILL_ACTION,
    probes: &[
        Probe {
            name: HEALTH_PROBE,
            http: false,
        },
        Probe {
            name: CONSUMER_PROBE,
            http: true,
        },
    ],
    consumer_probe: CONSUMER_PROBE,
    pausable: true,
    fault_proxy: false,
    since: "the provider was killed",
    fault_noun: "the kill",
    under_fault: "Without its provider",
    title: "Cascade Lab: a cascading failure, and its fix",
    intro: "Two services run on this machine: a provider, and a consumer whose\n\
            /invokeConsumedService calls the provider. A chaos experiment states what \"healthy\"\n\
            means (its steady-state hypothesis), checks it, kills the provider, waits, and\n\
            checks it again. If the hypothesis no longer holds, the experiment has found a weakness.",
    method: "Its steady-state hypothesis has two probes:\n\
             \x20 all-services-are-healthy            `lab status --check` exits 0\n\
             \x20 consumer-service-must-still-respond  the consumer answers HTTP 200\n\
             Its method kills the provider (`lab kill my-provider-app`) and waits {pause} s.",
    aftermath: "The provider is gone from the lab (the method killed it):",
    show_status_after: true,
    rerun_title: "Bring the provider back and run the same experiment again",
    rerun_text: "Same experiment, same kill. Only the consumer changed.",
};

const LATENCY: Story = Story {
    summary: "3 s of latency on the wire (fault proxy): the naive consumer's users time out, the fixed one's get the fallback in 800 ms",
    before: NAIVE,
    after: FIXED,
    expect_before: Expect::Deviates,
    expect_after: Expect::Holds,
    fix_title: "Fix the consumer (the \"after\" system)",
    fix_text: FIX_TEXT,
    fix_command: "lab fix",
    verdict_text: "The experiment found the weakness before the fix, and passes after it.",
    provider_faults: false,
    provider_calls: false,
    figures_check: Some(none_failed_after),
    lesson: "Latency is the fault behind most real cascades: a slow dependency holds every\n\
             caller. The call timeout turns a wait without end into a bounded one.",
    experiment: include_str!("../../../experiments/provider-latency.json"),
    source: "experiments/provider-latency.json",
    fault_action: "slow-down-the-provider-link-by-3s",
    probes: &[Probe {
        name: "consumer-answers-within-2s",
        http: true,
    }],
    consumer_probe: "consumer-answers-within-2s",
    pausable: false,
    fault_proxy: true,
    since: "the link to the provider was slowed down",
    fault_noun: "the latency",
    under_fault: "With 3 s of latency on its link to the provider",
    title: "Cascade Lab: a slow network, and the timeout that contains it",
    intro: "Three processes run on this machine: a provider, a consumer whose\n\
            /invokeConsumedService calls the provider, and between them the fault proxy (it\n\
            speaks Toxiproxy's API). Nothing will crash: the experiment only makes the wire\n\
            to the provider slow, the failure behind most real cascades. A dead provider\n\
            refuses at once; a slow one holds every caller.",
    method: "Its steady-state hypothesis has one probe:\n\
             \x20 consumer-answers-within-2s  the consumer answers HTTP 200 within 2 s\n\
             Its method puts 3 s of latency on the provider's answers (a latency toxic on the\n\
             fault proxy's `provider` proxy, as chaostoolkit-toxiproxy's create_latency_toxic\n\
             does), waits {pause} s, and its rollback removes the toxic again.",
    aftermath: "Every process is up and healthy, and the rollback has taken the latency away\n\
                again; yet while it was there, the consumer made every caller wait for the\n\
                slow provider, and its users gave up: the slowness cascaded.",
    show_status_after: false,
    rerun_title: "Run the same experiment again",
    rerun_text: "Same experiment, same 3 s of latency. Only the consumer changed: its call to the\n\
                 provider now gives up after 800 ms and answers with the fallback.",
};

const SLOW: Story = Story {
    summary: "the provider answers in 1.5 s: the naive consumer answers slowly, the fixed one (800 ms timeout) degrades every answer: a latency budget's trade-off",
    experiment: include_str!("../../../experiments/provider-slow.json"),
    source: "experiments/provider-slow.json",
    fault_action: "slow-the-provider-to-1500ms",
    probes: &[Probe {
        name: "consumer-answers-within-1s",
        http: true,
    }],
    consumer_probe: "consumer-answers-within-1s",
    pausable: false,
    fault_proxy: false,
    since: "the provider slowed down",
    fault_noun: "the slowdown",
    under_fault: "With a provider taking 1.5 s",
    title: "Cascade Lab: a slow provider, and the latency budget",
    before: NAIVE,
    after: FIXED,
    expect_before: Expect::Deviates,
    expect_after: Expect::Holds,
    fix_title: "Fix the consumer (the \"after\" system)",
    fix_text: FIX_TEXT,
    fix_command: "lab fix",
    verdict_text: "The experiment found the weakness before the fix, and passes after it.",
    provider_faults: true,
    provider_calls: false,
    figures_check: Some(slow_figures),
    intro: "Two services run on this machine: a provider, and a consumer whose\n\
            /invokeConsumedService calls the provider. Nothing crashes or hangs here: the\n\
            provider just becomes slow, 1.5 s for every answer (its own latency fault). The\n\
            users' budget is 1 second.",
    method: "Its steady-state hypothesis has one probe:\n\
             \x20 consumer-answers-within-1s  the consumer answers HTTP 200 within 1 s\n\
             Its method makes every provider answer take 1.5 s (PUT /faults on the provider),\n\
             waits {pause} s, and its rollback removes the fault again.",
    aftermath: "Nothing failed: the naive consumer waited the 1.5 s each time and answered 200,\n\
                too late for a 1 s budget.",
    show_status_after: false,
    rerun_title: "Run the same experiment again",
    rerun_text: "Same experiment, same 1.5 s provider. Only the consumer changed: it gives up on\n\
                 the provider after 800 ms and answers with the fallback.",
    lesson: "The trade-off of a latency budget: with an 800 ms call timeout the fixed consumer\n\
             answers in time, but never with the provider's answer while the provider takes\n\
             1.5 s; its users got a degraded answer fast instead of the real one slowly. A\n\
             timeout above the provider's latency and below the users' budget (the\n\
             `latency-budget` challenge) serves slow-but-in-budget calls and still bounds hangs.",
};

const HANG: Story = Story {
    summary: "the provider hangs: with a timeout alone every user waits 800 ms; with the circuit breaker, milliseconds",
    experiment: include_str!("../../../experiments/provider-hang.json"),
    source: "experiments/provider-hang.json",
    fault_action: "make-provider-hang",
    probes: &[Probe {
        name: "consumer-answers-within-2s",
        http: true,
    }],
    consumer_probe: "consumer-answers-within-2s",
    pausable: false,
    fault_proxy: false,
    since: "the provider began to hang",
    fault_noun: "the hang",
    under_fault: "With a hanging provider",
    title: "Cascade Lab: a hanging provider, and what the circuit breaker adds",
    intro: "Two services run on this machine: a provider, and a consumer whose\n\
            /invokeConsumedService calls the provider. The provider will hang: accept every\n\
            call and never answer. Both runs use a consumer with the 800 ms call timeout and\n\
            the fallback; only the second has its circuit breaker.",
    before: Setup {
        mode: Mode::After,
        settings: &[NO_BREAKER],
        label: "timeout + fallback, breaker off (opens after 1000000 failures)",
    },
    after: FIXED,
    expect_before: Expect::Holds,
    expect_after: Expect::Holds,
    fix_title: "Turn the circuit breaker on",
    fix_text: "Back to the fixed consumer's default: the circuit opens after 5 failed calls in a\n\
               row, and while it is open calls get the fallback without waiting for the provider.",
    fix_command: "lab consumer reset",
    provider_faults: true,
    provider_calls: false,
    figures_check: Some(hang_figures),
    verdict_text: "Both runs kept the hypothesis (every answer within 2 s); the breaker took the users' wait from the whole timeout to milliseconds.",
    method: "Its steady-state hypothesis has one probe:\n\
             \x20 consumer-answers-within-2s  the consumer answers HTTP 200 within 2 s\n\
             Its method makes the provider hang (PUT /faults {\"hang\": true}), waits {pause} s,\n\
             and its rollback lets it answer again.",
    aftermath: "The timeout kept every answer within 2 s, so the hypothesis held; but every\n\
                user's request waited the whole 800 ms for a provider known to be down.",
    show_status_after: false,
    rerun_title: "Run the same experiment again",
    rerun_text: "Same experiment, same hang. Now after 5 timed-out calls the circuit opens, and\n\
                 the users get the fallback at once.",
    lesson: "A timeout bounds each wait; a circuit breaker stops waiting on a provider known to\n\
             be down, and frees the consumer's workers and the provider both. Against a dead\n\
             provider (the `kill` scenario) it changes little: a refused connection is as fast.",
};

const ERRORS: Story = Story {
    summary: "an error burst: every provider call answered 503 (fault proxy); the naive consumer passes it on, the fixed one answers with the fallback",
    experiment: include_str!("../../../experiments/provider-errors.json"),
    source: "experiments/provider-errors.json",
    fault_action: "answer-every-provider-call-with-503",
    probes: &[Probe {
        name: "consumer-answers-200",
        http: true,
    }],
    consumer_probe: "consumer-answers-200",
    pausable: false,
    fault_proxy: true,
    since: "the provider's answers turned into 503s",
    fault_noun: "the errors",
    under_fault: "With every provider call answered 503",
    title: "Cascade Lab: an error burst",
    before: NAIVE,
    after: FIXED,
    expect_before: Expect::Deviates,
    expect_after: Expect::Holds,
    fix_title: "Fix the consumer (the \"after\" system)",
    fix_text: FIX_TEXT,
    fix_command: "lab fix",
    verdict_text: "The experiment found the weakness before the fix, and passes after it.",
    provider_faults: false,
    provider_calls: false,
    figures_check: Some(errors_figures),
    intro: "Three processes run on this machine: a provider, a consumer whose\n\
            /invokeConsumedService calls the provider, and between them the fault proxy. The\n\
            experiment makes the proxy answer every provider call 503 in the provider's place:\n\
            an error burst, as from an overloaded or half-deployed provider.",
    method: "Its steady-state hypothesis has one probe:\n\
             \x20 consumer-answers-200  the consumer answers HTTP 200 within 2 s\n\
             Its method puts an http_status toxic (503) on the fault proxy's `provider` proxy,\n\
             waits {pause} s, records six calls to the consumer, and its rollback removes it.",
    aftermath: "Every process is up; while the burst lasted, the consumer turned each 503 into its\n\
                own 500: the provider's errors became its users' errors.",
    show_status_after: false,
    rerun_title: "Run the same experiment again",
    rerun_text: "Same experiment, same 503s. The fixed consumer answers with the fallback, and\n\
                 after 5 failures in a row its circuit opens and it stops calling the provider.",
    lesson: "An error is an answer, fast: the fallback contains it, and the breaker spares the\n\
             provider calls that would fail anyway.",
};

const RETRY_STORM: Story = Story {
    summary: "a provider outage with retries: naive retries (3 each) multiply the calls it gets by 4, a 10 % retry budget keeps them near 1",
    experiment: include_str!("../../../experiments/retry-storm.json"),
    source: "experiments/retry-storm.json",
    fault_action: "fail-every-provider-call",
    probes: &[Probe {
        name: "consumer-answers-within-2s",
        http: true,
    }],
    consumer_probe: "consumer-answers-within-2s",
    pausable: false,
    fault_proxy: false,
    since: "every provider call began to fail",
    fault_noun: "the outage",
    under_fault: "With every provider call failing",
    title: "Cascade Lab: a retry storm, and the retry budget",
    intro: "Two services run on this machine: a provider, and a consumer whose\n\
            /invokeConsumedService calls the provider. For a few seconds every provider call\n\
            will fail (HTTP 500). The consumer retries failed calls: 3 retries, with jittered\n\
            exponential backoff. Its circuit breaker is out of the way (it opens only after\n\
            1000000 failures), so only the retries decide how many calls the provider gets.",
    before: Setup {
        mode: Mode::After,
        settings: &[("--retries", "3"), ("--retry-budget", "none"), NO_BREAKER],
        label: "3 retries, no budget (naive retries), breaker off",
    },
    after: Setup {
        mode: Mode::After,
        settings: &[("--retries", "3"), ("--retry-budget", "10"), NO_BREAKER],
        label: "3 retries, 10 % retry budget (+3/s), breaker off",
    },
    expect_before: Expect::Holds,
    expect_after: Expect::Holds,
    fix_title: "Give the retries a budget",
    fix_text: "Retries may be at most 10 % of the last second's requests, plus 3 a second: they\n\
               still mend the odd failure, but cannot multiply an outage.",
    fix_command: "lab consumer set --retry-budget 10",
    provider_faults: true,
    provider_calls: true,
    figures_check: Some(storm_figures),
    verdict_text: "The users got the fallback both times; the provider got about 4 calls per user request with naive retries, and close to 1 with the budget.",
    method: "Its steady-state hypothesis has one probe:\n\
             \x20 consumer-answers-within-2s  the consumer answers HTTP 200 within 2 s\n\
             Its method makes every provider call fail (PUT /faults {\"error_rate\": 1}), waits\n\
             {pause} s, and its rollback ends the outage. The lab counts the provider's failed\n\
             calls from its /metrics.",
    aftermath: "The hypothesis held: the users got the fallback. The provider, already failing,\n\
                got each user's call four times over: a retry storm, which keeps a struggling\n\
                provider from recovering.",
    show_status_after: false,
    rerun_title: "Run the same experiment again",
    rerun_text: "Same experiment, same outage, same 3 retries. Only the budget is new.",
    lesson: "Retries help against a rare failure and hurt during an outage: each layer that\n\
             retries multiplies the load on the layer below. A retry budget (or a breaker)\n\
             bounds the multiplication; the users' figures cannot show it, the provider's do.",
};

impl Scenario {
    pub fn story(self) -> &'static Story {
        match self {
            Scenario::Kill => &KILL,
            Scenario::Slow => &SLOW,
            Scenario::Hang => &HANG,
            Scenario::Latency => &LATENCY,
            Scenario::Errors => &ERRORS,
            Scenario::RetryStorm => &RETRY_STORM,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The names a story reads from the journal are the experiment's own.
    #[test]
    fn every_story_names_what_its_experiment_has() {
        for scenario in Scenario::ALL {
            let story = scenario.story();
            let experiment: Value = serde_json::from_str(story.experiment).unwrap();
            let names = |pointer: &str| -> Vec<String> {
                experiment
                    .pointer(pointer)
                    .and_then(Value::as_array)
                    .unwrap()
                    .iter()
                    .map(|a| a["name"].as_str().unwrap().to_string())
                    .collect()
            };
            let probes: Vec<&str> = story.probes.iter().map(|p| p.name).collect();
            assert_eq!(
                names("/steady-state-hypothesis/probes"),
                probes,
                "{scenario:?}"
            );
            assert!(probes.contains(&story.consumer_probe), "{scenario:?}");
            assert_eq!(
                names("/method").first().map(String::as_str),
                Some(story.fault_action),
                "{scenario:?}"
            );
        }
    }
}
