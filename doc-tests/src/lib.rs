//! Checks on the repository's Markdown, used by this crate's tests:
//!
//! - [`blocks`]: the fenced code blocks of a page, and the `console` blocks a reader runs
//!   (commands after `$ `, the expected output under them, run/not-run markers);
//! - [`expect`]: comparing a command's real output with the page's expectation
//!   (`...` and `[..]` elisions, timestamps);
//! - [`shell`]: running one command through `sh -c`, bounded in time;
//! - [`links`]: every relative link and `#anchor` resolves, external links are well-formed.

pub mod blocks;
pub mod expect;
pub mod links;
pub mod shell;
