//! The strategies a run follows: when the steady-state hypothesis runs and when the
//! rollbacks play. Named on the command line, in the experiment's `runtime` section or
//! in the settings file, by the same names.

/// When hypotheses run relative to the method (`--hypothesis-strategy`, or the
/// experiment's `runtime.hypothesis.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    Default,
    BeforeMethodOnly,
    AfterMethodOnly,
    DuringMethodOnly,
    // The reference also accepts its historical misspelling (a plain comment: a doc
    // comment would become `--help` text).
    #[value(alias = "continously")]
    Continuously,
}

impl Strategy {
    /// The name the reference logs ("Steady-state strategy: ...").
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Default => "default",
            Strategy::BeforeMethodOnly => "before-method-only",
            Strategy::AfterMethodOnly => "after-method-only",
            Strategy::DuringMethodOnly => "during-method-only",
            Strategy::Continuously => "continuous",
        }
    }

    pub fn before(self) -> bool {
        matches!(
            self,
            Strategy::BeforeMethodOnly | Strategy::Default | Strategy::Continuously
        )
    }

    pub fn after(self) -> bool {
        matches!(
            self,
            Strategy::AfterMethodOnly | Strategy::Default | Strategy::Continuously
        )
    }

    pub fn during(self) -> bool {
        matches!(self, Strategy::DuringMethodOnly | Strategy::Continuously)
    }
}

/// `--rollback-strategy` (and the experiment's `runtime.rollbacks.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RollbackStrategy {
    // (Plain comments on the variants: a doc comment would become `--help` text.)
    // Play them unless the run failed or was interrupted.
    Default,
    Always,
    Never,
    // Only when the steady state deviated.
    Deviated,
}

impl RollbackStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackStrategy::Default => "default",
            RollbackStrategy::Always => "always",
            RollbackStrategy::Never => "never",
            RollbackStrategy::Deviated => "deviated",
        }
    }
}
