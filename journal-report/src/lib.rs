//! Chaos Toolkit journals, read and shown: the journal read once into a typed model
//! ([`model`]), whichever runner wrote it (chaos-runner, or the Python `chaos` 1.19),
//! and rendered as an HTML report ([`html`]), a Markdown summary ([`markdown`]) or
//! JUnit XML ([`junit`]). Reading only: nothing here runs anything.
//!
//! - [`model`]: [`Journal`] and its parts; [`Journal::read`] names the file, the line
//!   and column, and the field of what it cannot read.
//! - [`text`]: what the renderers share: the tolerance as written, the value that came
//!   back (cut to a sensible length), outcomes in words, XML-safe text.
//! - [`html`], [`markdown`], [`junit`]: one renderer each; every text from a journal is
//!   escaped for its format.
//! - [`traffic`]: the users' series file the lab writes beside a run; the HTML and
//!   Markdown reports show it with the run when given.

pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod text;
pub mod traffic;

pub use model::{Journal, JournalError, ReadError};
pub use traffic::{Traffic, TrafficError};
