//! A challenge's goals and how a run's figures are graded against them.

use crate::demo::RunFacts;

/// One stated goal about a run of a scenario, from the fault to its end.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// Failed or timed-out users' requests below this percentage.
    FailedUnder(f64),
    /// Users' requests answered normally (not the fallback) at least this percentage.
    OkAtLeast(f64),
    /// The users' 99th percentile latency below this many milliseconds.
    P99Under(f64),
    /// The users' median latency below this many milliseconds.
    P50Under(f64),
    /// The provider's failed calls per user request during the fault at most this.
    CallsPerRequestAtMost(f64),
}

/// A goal graded: met or not, and the figure against the goal in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Graded {
    pub met: bool,
    pub text: String,
}

impl Goal {
    pub fn describe(&self) -> String {
        match self {
            Goal::FailedUnder(p) => format!("under {p} % of the users' requests fail"),
            Goal::OkAtLeast(p) => {
                format!("at least {p} % of the users' requests get the provider's real answer")
            }
            Goal::P99Under(ms) => format!("the users' p99 latency is under {ms} ms"),
            Goal::P50Under(ms) => format!("the users' median latency is under {ms} ms"),
            Goal::CallsPerRequestAtMost(n) => {
                format!("the provider gets at most {n} calls per user request during the outage")
            }
        }
    }

    pub fn grade(&self, facts: &RunFacts) -> Graded {
        let Some(users) = facts.users.as_ref().filter(|u| u.sent > 0) else {
            return Graded {
                met: false,
                text: "no users' requests were measured during the fault".into(),
            };
        };
        let percent = |n: u64| n as f64 * 100.0 / users.sent as f64;
        match *self {
            Goal::FailedUnder(goal) => {
                let failed = users.failed + users.timed_out;
                let got = percent(failed);
                let met = got < goal;
                let text = format!(
                    "{failed} of {} users' requests failed or timed out ({got:.1} %, goal: under {goal} %){}",
                    users.sent,
                    if met {
                        String::new()
                    } else {
                        format!(": {:.1} points over", got - goal)
                    }
                );
                Graded { met, text }
            }
            Goal::OkAtLeast(goal) => {
                let got = percent(users.ok);
                let met = got >= goal;
                let text = format!(
                    "{} of {} got the provider's answer ({got:.1} %, goal: at least {goal} %){}",
                    users.ok,
                    users.sent,
                    if met {
                        String::new()
                    } else {
                        format!(
                            ": {:.1} points short ({} degraded, {} failed)",
                            goal - got,
                            users.degraded,
                            users.failed + users.timed_out
                        )
                    }
                );
                Graded { met, text }
            }
            Goal::P99Under(goal) => latency("p99", users.p99_ms, goal),
            Goal::P50Under(goal) => latency("median", users.p50_ms, goal),
            Goal::CallsPerRequestAtMost(goal) => {
                match crate::demo::scenario::calls_per_request(facts) {
                    Some(got) => {
                        let met = got <= goal;
                        Graded {
                            met,
                            text: format!(
                                "{} failed provider calls, {got:.2} per user request (goal: at most {goal}){}",
                                facts.provider_calls.unwrap_or(0),
                                if met {
                                    String::new()
                                } else {
                                    format!(": {:.2} over", got - goal)
                                }
                            ),
                        }
                    }
                    None => Graded {
                        met: false,
                        text: "the provider's calls were not counted".into(),
                    },
                }
            }
        }
    }
}

fn latency(what: &str, got: Option<f64>, goal: f64) -> Graded {
    match got {
        Some(got) => {
            let met = got < goal;
            Graded {
                met,
                text: format!(
                    "{what} latency {got:.0} ms (goal: under {goal} ms){}",
                    if met {
                        String::new()
                    } else {
                        format!(": {:.0} ms over", got - goal)
                    }
                ),
            }
        }
        None => Graded {
            met: false,
            text: format!("no {what} latency: no users' request finished"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::summary_for_tests as facts;

    #[test]
    fn a_met_goal_states_the_figure_and_a_missed_one_by_how_much() {
        let run = facts(200, 150, 40, 10, 180.0, 3012.0, None);
        let graded = Goal::FailedUnder(1.0).grade(&run);
        assert!(!graded.met);
        assert_eq!(
            graded.text,
            "10 of 200 users' requests failed or timed out (5.0 %, goal: under 1 %): 4.0 points over"
        );
        let graded = Goal::P99Under(1000.0).grade(&run);
        assert_eq!(
            graded,
            Graded {
                met: false,
                text: "p99 latency 3012 ms (goal: under 1000 ms): 2012 ms over".into()
            }
        );
        assert!(Goal::P50Under(200.0).grade(&run).met);
        let graded = Goal::OkAtLeast(95.0).grade(&run);
        assert!(!graded.met);
        assert!(
            graded
                .text
                .contains("20.0 points short (40 degraded, 10 failed)"),
            "{}",
            graded.text
        );
        let storm = facts(100, 0, 100, 0, 5.0, 60.0, Some(402));
        let graded = Goal::CallsPerRequestAtMost(1.5).grade(&storm);
        assert!(!graded.met);
        assert!(
            graded
                .text
                .contains("4.02 per user request (goal: at most 1.5): 2.52 over"),
            "{}",
            graded.text
        );
    }

    #[test]
    fn a_run_without_users_meets_no_goal() {
        let run = facts(0, 0, 0, 0, 0.0, 0.0, None);
        assert!(!Goal::FailedUnder(1.0).grade(&run).met);
    }
}
