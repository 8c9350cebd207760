//! The challenges: each a goal over one or more scenarios, the consumer settings it
//! starts from (which miss the goal), a hint, and what the pass teaches.

use clap::ValueEnum;

use super::grade::Goal;
use super::progress::Progress;
use crate::demo::scenario::Scenario;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Challenge {
    /// 3 s of latency on the wire: under 1 % failed, p99 under 1 s
    WireLatency,
    /// A 1.5 s provider served, a hanging one contained: tune the call timeout
    LatencyBudget,
    /// A hanging provider: make the users' median wait a few milliseconds
    Breaker,
    /// A provider outage with retries: keep the provider's calls near one per request
    RetryStorm,
}

/// One scenario run of a challenge and the goals its figures must meet.
pub struct Part {
    pub scenario: Scenario,
    pub goals: &'static [Goal],
}

impl Part {
    pub fn scenario_line(&self) -> String {
        format!(
            "During the `{}` scenario (`lab scenario show {}`):",
            self.scenario.name(),
            self.scenario.name()
        )
    }
}

pub struct Spec {
    pub title: &'static str,
    pub brief: &'static str,
    /// The consumer settings `start` sets: `(consumer flag, value)`.
    pub start: &'static [(&'static str, &'static str)],
    pub parts: &'static [Part],
    pub hint: &'static str,
    /// Said on a pass.
    pub debrief: &'static str,
}

const WIRE_LATENCY: Spec = Spec {
    title: "contain 3 s of latency on the wire",
    brief: "The fault proxy will put 3 s of latency on every provider answer. The consumer\n\
            starts with a call timeout of 3.5 s: it waits out the latency, and the users (who\n\
            give up after 2 s) do not.",
    start: &[("--call-timeout-ms", "3500")],
    parts: &[Part {
        scenario: Scenario::Latency,
        goals: &[Goal::FailedUnder(1.0), Goal::P99Under(1000.0)],
    }],
    hint: "the call timeout bounds how long a user waits for the provider: `lab consumer set --call-timeout DURATION`",
    debrief: "A timeout shorter than the users' patience turns a slow dependency into a fast fallback.",
};

const LATENCY_BUDGET: Spec = Spec {
    title: "a latency budget: serve the slow provider, contain the hanging one",
    brief: "The users wait at most 2 s. The provider will first be slow (1.5 s an answer),\n\
            then hang. With the default 800 ms call timeout the consumer never waits for a\n\
            1.5 s answer: its users get the fallback every time. Choose a call timeout that\n\
            lets slow-but-in-budget calls succeed and still answers in time when the\n\
            provider hangs.",
    start: &[],
    parts: &[
        Part {
            scenario: Scenario::Slow,
            goals: &[Goal::OkAtLeast(90.0), Goal::P99Under(2000.0)],
        },
        Part {
            scenario: Scenario::Hang,
            goals: &[Goal::FailedUnder(1.0), Goal::P99Under(2000.0)],
        },
    ],
    hint: "the timeout must be above the provider's 1.5 s and below the users' 2 s: `lab consumer set --call-timeout DURATION`",
    debrief: "A timeout is a budget: above the latency you accept, below what your callers accept.",
};

const BREAKER: Spec = Spec {
    title: "stop waiting on a hanging provider",
    brief: "The provider will hang. The consumer starts with its call timeout but with the\n\
            circuit breaker out of the way (it opens only after 1000000 failures in a row):\n\
            every user waits the whole 800 ms for a provider known to be down.",
    start: &[("--circuit-failure-threshold", "1000000")],
    parts: &[Part {
        scenario: Scenario::Hang,
        goals: &[Goal::FailedUnder(1.0), Goal::P50Under(100.0)],
    }],
    hint: "after a few failed calls in a row the circuit should open: `lab consumer set --circuit-failures N`",
    debrief: "A breaker stops paying the timeout again and again for a provider known to be down.",
};

const RETRY_STORM: Spec = Spec {
    title: "retries without a storm",
    brief: "Every provider call will fail for a few seconds. The consumer retries each failed\n\
            call 3 times with no budget, and its breaker is out of the way: the failing\n\
            provider gets 4 calls for each user request.",
    start: &[
        ("--retries", "3"),
        ("--retry-budget", "none"),
        ("--circuit-failure-threshold", "1000000"),
    ],
    parts: &[Part {
        scenario: Scenario::RetryStorm,
        goals: &[Goal::FailedUnder(1.0), Goal::CallsPerRequestAtMost(1.5)],
    }],
    hint: "give the retries a budget (`lab consumer set --retry-budget PERCENT`), or let the breaker open",
    debrief: "A retry budget keeps retries for the odd failure; an outage is not multiplied.",
};

impl Challenge {
    pub const ALL: [Challenge; 4] = [
        Challenge::WireLatency,
        Challenge::LatencyBudget,
        Challenge::Breaker,
        Challenge::RetryStorm,
    ];

    pub fn spec(self) -> &'static Spec {
        match self {
            Challenge::WireLatency => &WIRE_LATENCY,
            Challenge::LatencyBudget => &LATENCY_BUDGET,
            Challenge::Breaker => &BREAKER,
            Challenge::RetryStorm => &RETRY_STORM,
        }
    }
}

/// `lab challenge list`.
pub fn table(progress: &Progress) -> String {
    use super::ValueName as _;
    let mut builder = tabled::builder::Builder::new();
    builder.push_record(["challenge", "scenarios", "goals", "you"]);
    for challenge in Challenge::ALL {
        let name = challenge.to_possible_value_name();
        let spec = challenge.spec();
        let scenarios: Vec<&str> = spec.parts.iter().map(|p| p.scenario.name()).collect();
        let goals: Vec<String> = spec
            .parts
            .iter()
            .flat_map(|p| p.goals.iter().map(Goal::describe))
            .collect();
        let you = match progress.challenges.get(&name) {
            Some(record) if record.passed => format!("passed ({} attempts)", record.attempts),
            Some(record) => format!("not yet ({} attempts)", record.attempts),
            None => "-".into(),
        };
        let current = if progress.current.as_deref() == Some(name.as_str()) {
            " (started)"
        } else {
            ""
        };
        builder.push_record([
            format!("{name}{current}"),
            scenarios.join(", "),
            goals.join("; "),
            you,
        ]);
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::rounded()).with(
        tabled::settings::Modify::new(tabled::settings::object::Columns::new(2..3))
            .with(tabled::settings::Width::wrap(50).keep_words(true)),
    );
    format!("{table}\nStart one with `lab challenge start NAME`.\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer_settings::{ConsumerSettings, check};

    #[test]
    fn every_challenge_starts_from_valid_settings_and_has_goals() {
        for challenge in Challenge::ALL {
            let spec = challenge.spec();
            check(&ConsumerSettings::of(spec.start)).unwrap();
            assert!(spec.parts.iter().all(|p| !p.goals.is_empty()));
        }
    }

    #[test]
    fn the_list_shows_progress() {
        let mut progress = Progress::default();
        progress.record("breaker", true);
        progress.current = Some("retry-storm".into());
        let text = table(&progress);
        assert!(text.contains("passed (1 attempts)"), "{text}");
        assert!(text.contains("retry-storm (started)"), "{text}");
    }
}
