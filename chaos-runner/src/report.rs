//! What is made from journals (the `journal-report` crate renders them): the `report`
//! command's HTML or Markdown file, and `run`'s `--junit` and `--summary` outputs,
//! written after the journal, whole or not at all.

use anyhow::{Context, Result, bail};
use journal_report::{html, junit, markdown};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `report` command's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Markdown,
}

impl Format {
    /// `--format`, else Markdown for an output ending in `.md`, else HTML.
    pub fn pick(format: Option<Format>, output: Option<&Path>) -> Format {
        let markdown_file = output
            .and_then(Path::extension)
            .is_some_and(|e| e == "md" || e == "markdown");
        format.unwrap_or(if markdown_file {
            Format::Markdown
        } else {
            Format::Html
        })
    }
}

/// Where the report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    /// `-o PATH` (`-` is stdout, as is `/dev/stdout`, written in place); without it `report.html` for HTML, stdout for
    /// Markdown (a terminal or a pipe into `$GITHUB_STEP_SUMMARY`).
    pub fn pick(output: Option<&Path>, format: Format) -> Destination {
        match output {
            Some(p) if p == Path::new("-") => Destination::Stdout,
            Some(p) => Destination::File(p.to_path_buf()),
            None if format == Format::Html => Destination::File(PathBuf::from("report.html")),
            None => Destination::Stdout,
        }
    }
}

/// `chaos-runner report`: reads every journal (and the users' `traffic` series, when
/// given: several are merged, each journal drawing the requests of its own time) first (an unreadable one is an error naming it, and nothing is written),
/// renders, then writes. Returns the file written.
pub fn report(
    journals: &[PathBuf],
    output: Option<&Path>,
    format: Option<Format>,
    traffic: &[PathBuf],
) -> Result<Option<PathBuf>> {
    let format = Format::pick(format, output);
    let destination = Destination::pick(output, format);
    if let Destination::File(path) = &destination {
        // `report j.json -o j.json` would replace the journal with its report.
        let mut files: Vec<(&str, &Path)> = vec![("-o", path.as_path())];
        files.extend(journals.iter().map(|j| ("JOURNAL", j.as_path())));
        files.extend(traffic.iter().map(|t| ("--traffic", t.as_path())));
        check_distinct(&files)?;
    }
    let read = journals
        .iter()
        .map(|path| journal_report::Journal::read(path))
        .collect::<Result<Vec<_>, _>>()?;
    let users = if traffic.is_empty() {
        None
    } else {
        Some(journal_report::Traffic::read_all(traffic).context("--traffic")?)
    };
    let labels: Vec<String> = journals.iter().map(|p| p.display().to_string()).collect();
    let named: Vec<(&str, &journal_report::Journal)> =
        labels.iter().map(String::as_str).zip(read.iter()).collect();
    let text = match format {
        Format::Html => html::render_with_users(&named, users.as_ref()),
        Format::Markdown => markdown::render_with_users(&named, users.as_ref()),
    };
    match destination {
        Destination::Stdout => {
            std::io::stdout()
                .write_all(text.as_bytes())
                .context("cannot write the report to stdout")?;
            Ok(None)
        }
        Destination::File(path) => {
            write_whole(&path, &text)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            Ok(Some(path))
        }
    }
}

/// Writes `text` whole or not at all ([`atomic_file`]: a temporary file beside `path`,
/// then a rename; a FIFO, a device or `/dev/stdout` is written in place, never
/// replaced; `-` is stdout).
pub fn write_whole(path: &Path, text: &str) -> Result<(), atomic_file::Error> {
    atomic_file::write(path, text.as_bytes()).map(drop)
}

/// Fails before anything runs when `path` cannot be written (it would otherwise be
/// found only after the whole run): a directory, a block device, a folder where no file
/// can be made. `flag` names the option in the error.
pub fn check_writable(flag: &str, path: &Path) -> Result<()> {
    atomic_file::check_writable(path)
        .with_context(|| format!("{flag} {}: cannot be written", path.display()))
}

/// Fails when two of the files (flag, path) are the same regular file however named
/// (or the same path not made yet): writing one would overwrite the other.
pub fn check_distinct(files: &[(&str, &Path)]) -> Result<()> {
    for (i, (a, pa)) in files.iter().enumerate() {
        if let Some((b, pb)) = files[i + 1..]
            .iter()
            .find(|(_, pb)| atomic_file::same_file(pa, pb))
        {
            bail!("{a} and {b} name the same file ({})", pb.display());
        }
    }
    Ok(())
}

/// `run`'s outputs made from the journal.
#[derive(Debug, Clone, Default)]
pub struct RunReports {
    /// `--junit PATH`: JUnit XML, replaced whole.
    pub junit: Option<PathBuf>,
    /// `--summary PATH`: the Markdown summary, appended (GitHub's
    /// `$GITHUB_STEP_SUMMARY` collects what a step appends).
    pub summary: Option<PathBuf>,
}

impl RunReports {
    /// Writes each asked-for output of `journal`; every failure is reported, the first
    /// returned.
    pub fn write(&self, journal: &crate::journal::Journal) -> Result<()> {
        if self.junit.is_none() && self.summary.is_none() {
            return Ok(());
        }
        let value = serde_json::to_value(journal).context("journal as JSON")?;
        let read = journal_report::Journal::from_value(value)
            .context("the journal could not be read back for --junit/--summary")?;
        let mut result = Ok(());
        if let Some(path) = &self.junit {
            let written = write_whole(path, &junit::render(&read))
                .with_context(|| format!("--junit {}: cannot be written", path.display()));
            keep_first_error(&mut result, written);
        }
        if let Some(path) = &self.summary {
            let written = append(path, &markdown::summary(&read))
                .with_context(|| format!("--summary {}: cannot be written", path.display()));
            keep_first_error(&mut result, written);
        }
        result
    }
}

fn keep_first_error(result: &mut Result<()>, next: Result<()>) {
    if let Err(e) = next {
        if result.is_ok() {
            *result = Err(e);
        } else {
            tracing::error!("{:#}", e);
        }
    }
}

/// The whole text added at the end of the file (made if missing), whole or not at all.
fn append(path: &Path, text: &str) -> Result<(), atomic_file::Error> {
    atomic_file::append(path, text.as_bytes()).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_and_destination_follow_the_flags() {
        assert_eq!(Format::pick(None, None), Format::Html);
        assert_eq!(
            Format::pick(None, Some(Path::new("s.md"))),
            Format::Markdown
        );
        assert_eq!(
            Format::pick(Some(Format::Html), Some(Path::new("s.md"))),
            Format::Html
        );
        assert_eq!(
            Destination::pick(None, Format::Html),
            Destination::File("report.html".into())
        );
        assert_eq!(
            Destination::pick(None, Format::Markdown),
            Destination::Stdout
        );
        assert_eq!(
            Destination::pick(Some(Path::new("-")), Format::Html),
            Destination::Stdout
        );
    }

    #[test]
    fn two_outputs_on_one_file_are_refused() {
        let e = check_distinct(&[
            ("--journal-path", Path::new("j.json")),
            ("--junit", Path::new("./x.xml")),
            ("--summary", Path::new("x.xml")),
        ])
        .expect_err("same file");
        assert!(
            e.to_string()
                .starts_with("--junit and --summary name the same file"),
            "{e}"
        );
        assert!(
            check_distinct(&[("--junit", Path::new("a")), ("--summary", Path::new("b"))]).is_ok()
        );
    }
}
