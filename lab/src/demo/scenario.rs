//! The stories `lab demo` can tell (`--scenario`): each is one experiment from
//! `experiments/`, compiled into the binary, with the names the narration and the
//! before/after table read from its journal, and the words that differ between stories.
//! The story's shape is the same for all: up (before) -> experiment -> what happened ->
//! fix -> up -> experiment again -> before and after.

use clap::ValueEnum;

use super::summary::{CONSUMER_PROBE, HEALTH_PROBE, KILL_ACTION};

/// Which story `lab demo` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Scenario {
    /// The tutorial's: the provider is killed (experiments/local.json)
    #[default]
    Kill,
    /// Three seconds of latency on the wire between consumer and provider, through the
    /// fault proxy (experiments/provider-latency.json)
    Latency,
}

/// One probe of a story's hypothesis, as the table shows it.
pub struct Probe {
    pub name: &'static str,
    /// An http probe (status and latency shown) rather than a process one (exit code).
    pub http: bool,
}

/// What a story needs that the others do not share.
pub struct Story {
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

const KILL: Story = Story {
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

impl Scenario {
    pub fn story(self) -> &'static Story {
        match self {
            Scenario::Kill => &KILL,
            Scenario::Latency => &LATENCY,
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
        for scenario in [Scenario::Kill, Scenario::Latency] {
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
