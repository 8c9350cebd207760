//! Fenced code blocks of a Markdown page, parsed with pulldown-cmark.
//!
//! A `console` block is what a reader types and sees: each line starting with `$ ` is a
//! command (a line ending in `\` continues on the next one), and the lines up to the next
//! command are its expected output. Words after `console` in the info string say where
//! the block runs: `kubernetes` (the Kubernetes part of the tutorial), `only=TIERS`
//! (comma-separated `kind`, `minikube`, `control-plane`: a Kubernetes block that only
//! those Kubernetes tiers run: kind and minikube have real pods, the control-plane tier
//! is the `cluster` target), and
//! `not-run=<key>` (not run by the harness, for one of the reasons in [`NOT_RUN_REASONS`]).

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// Why a block can be marked as not run, by key. Keys are a closed list so that a typo
/// cannot turn a block off silently.
pub const NOT_RUN_REASONS: &[(&str, &str)] = &[
    (
        "setup",
        "building and PATH setup; the harness runs the binaries cargo already built, first on PATH",
    ),
    (
        "chaos",
        "needs the Python Chaos Toolkit; the compatibility tier runs the same experiments with it",
    ),
];

/// The Kubernetes tiers that run the tutorial's Kubernetes page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeTier {
    /// A real kind cluster: pods serve HTTP (`lab up --target kind`).
    Kind,
    /// A real minikube cluster: pods serve HTTP (`lab up --target minikube`).
    Minikube,
    /// The control plane on the host, no container runtime (`lab up --target cluster`).
    ControlPlane,
}

impl KubeTier {
    fn parse(word: &str) -> Option<KubeTier> {
        match word {
            "kind" => Some(KubeTier::Kind),
            "minikube" => Some(KubeTier::Minikube),
            "control-plane" => Some(KubeTier::ControlPlane),
            _ => None,
        }
    }
}

/// A fenced code block: its info string, its text and the page line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    pub info: String,
    pub text: String,
    pub line: usize,
}

/// Which part of the tutorial a console block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Local,
    Kubernetes,
}

/// One command and the output the page promises for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub command: String,
    pub expected: String,
    /// Page line of the `$ ` line.
    pub line: usize,
}

/// A `console` block, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleBlock {
    pub tier: Tier,
    /// `Some(reason)` when the harness does not run this block.
    pub not_run: Option<&'static str>,
    /// Not empty: only those Kubernetes tiers run the block (`only=kind,minikube`).
    pub only: Vec<KubeTier>,
    pub steps: Vec<Step>,
    pub line: usize,
}

/// A page that breaks the rules above, with the line of the block.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct BlockError {
    pub line: usize,
    pub message: String,
}

/// Every fenced code block of `markdown`, in page order.
pub fn code_blocks(markdown: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<CodeBlock> = None;
    for (event, range) in Parser::new_ext(markdown, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some(CodeBlock {
                    info: info.to_string(),
                    text: String::new(),
                    line: line_of(markdown, range.start),
                });
            }
            Event::Text(text) => {
                if let Some(block) = current.as_mut() {
                    block.text.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            _ => {}
        }
    }
    blocks
}

/// 1-based line number of byte `offset`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The console blocks of a page. Shell blocks that are not `console` are refused, so
/// that every command a reader is told to run is seen by the harness.
pub fn console_blocks(markdown: &str) -> Result<Vec<ConsoleBlock>, BlockError> {
    let mut out = Vec::new();
    for block in code_blocks(markdown) {
        let mut words = block.info.split_whitespace();
        let language = words.next().unwrap_or("");
        if matches!(language, "sh" | "bash" | "shell" | "zsh") {
            return Err(BlockError {
                line: block.line,
                message: format!(
                    "a ```{language} block: write commands as ```console with `$ ` lines so the tutorial test runs them"
                ),
            });
        }
        if language != "console" {
            continue;
        }
        let mut tier = Tier::Local;
        let mut not_run = None;
        let mut only = Vec::new();
        for word in words {
            if word == "kubernetes" {
                tier = Tier::Kubernetes;
            } else if let Some(names) = word.strip_prefix("only=") {
                for name in names.split(',') {
                    only.push(KubeTier::parse(name).ok_or_else(|| BlockError {
                        line: block.line,
                        message: format!(
                            "unknown tier '{name}' in only= (known: kind, minikube, control-plane)"
                        ),
                    })?);
                }
            } else if let Some(key) = word.strip_prefix("not-run=") {
                let reason = NOT_RUN_REASONS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, reason)| *reason)
                    .ok_or_else(|| BlockError {
                        line: block.line,
                        message: format!(
                            "unknown not-run reason '{key}' (known: {})",
                            NOT_RUN_REASONS
                                .iter()
                                .map(|(k, _)| *k)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })?;
                not_run = Some(reason);
            } else {
                return Err(BlockError {
                    line: block.line,
                    message: format!(
                        "unknown word '{word}' in the info string (use `kubernetes`, `only=<tier>` or `not-run=<reason>`)"
                    ),
                });
            }
        }
        let steps = steps(&block.text, block.line + 1).map_err(|message| BlockError {
            line: block.line,
            message,
        })?;
        if !only.is_empty() && tier != Tier::Kubernetes {
            return Err(BlockError {
                line: block.line,
                message: "only= is for Kubernetes blocks (add `kubernetes`)".into(),
            });
        }
        out.push(ConsoleBlock {
            tier,
            not_run,
            only,
            steps,
            line: block.line,
        });
    }
    Ok(out)
}

/// Splits a console block's text (starting on page line `first_line`) into steps.
fn steps(text: &str, first_line: usize) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    let mut continuing = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = first_line + i;
        if continuing {
            let step = steps.last_mut().ok_or("continuation without a command")?;
            step.command.push('\n');
            step.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            continuing = command.ends_with('\\');
            steps.push(Step {
                command: command.to_string(),
                expected: String::new(),
                line: line_no,
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push_str(line);
            step.expected.push('\n');
        } else {
            return Err(format!(
                "output before the first `$ ` command (page line {line_no})"
            ));
        }
    }
    if steps.is_empty() {
        return Err("a console block without a `$ ` command".into());
    }
    if continuing {
        return Err("the last command ends with `\\` but nothing follows".into());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_blocks_split_into_commands_and_outputs() {
        let page = "# T\n\n```console\n$ echo a \\\n  b\na b\n$ true\n```\n\n```json\n{}\n```\n";
        let blocks = console_blocks(page).unwrap();
        assert_eq!(blocks.len(), 1);
        let b = &blocks[0];
        assert_eq!((b.tier, b.not_run, b.line), (Tier::Local, None, 3));
        assert_eq!(b.steps[0].command, "echo a \\\n  b");
        assert_eq!(b.steps[0].expected, "a b\n");
        assert_eq!(b.steps[0].line, 4);
        assert_eq!(b.steps[1].command, "true");
        assert_eq!(b.steps[1].expected, "");
    }

    #[test]
    fn markers_set_the_tier_the_kubernetes_tier_and_the_reason() {
        let page = "```console kubernetes not-run=chaos\n$ chaos run experiment.json\n```\n";
        let b = &console_blocks(page).unwrap()[0];
        assert_eq!(b.tier, Tier::Kubernetes);
        assert!(
            b.not_run
                .is_some_and(|r| r.starts_with("needs the Python Chaos Toolkit"))
        );
        assert_eq!(b.only, []);
        let page = "```console kubernetes only=kind\n$ lab up --target kind\n```\n";
        let b = &console_blocks(page).unwrap()[0];
        assert_eq!((&b.only[..], b.not_run), (&[KubeTier::Kind][..], None));
        let page = "```console kubernetes only=kind,minikube\n$ lab fix\n```\n";
        assert_eq!(
            console_blocks(page).unwrap()[0].only,
            [KubeTier::Kind, KubeTier::Minikube]
        );
        let page = "```console kubernetes only=control-plane\n$ lab up --target cluster\n```\n";
        assert_eq!(
            console_blocks(page).unwrap()[0].only,
            [KubeTier::ControlPlane]
        );
    }

    #[test]
    fn typos_and_shell_blocks_are_refused_with_the_line() {
        let err = console_blocks("x\n\n```console not-run=kynd\n$ x\n```\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.message.contains("unknown not-run reason 'kynd'"),
            "{err}"
        );
        let err = console_blocks("```console kubernets\n$ x\n```\n").unwrap_err();
        assert!(err.message.contains("unknown word 'kubernets'"), "{err}");
        let err = console_blocks("```console kubernetes only=kwok\n$ x\n```\n").unwrap_err();
        assert!(err.message.contains("unknown tier 'kwok'"), "{err}");
        let err = console_blocks("```console only=kind\n$ x\n```\n").unwrap_err();
        assert!(
            err.message.contains("only= is for Kubernetes blocks"),
            "{err}"
        );
        let err = console_blocks("```sh\nlab up\n```\n").unwrap_err();
        assert!(err.message.contains("```console"), "{err}");
        let err = console_blocks("```console\noutput\n$ x\n```\n").unwrap_err();
        assert!(err.message.contains("before the first"), "{err}");
    }
}
