//! Every file the project writes for the user goes through here: a reader (or a crash,
//! a `kill -9`, a full disk) sees the old file or the new one, never half of one.
//!
//! - A regular file (or a path that does not exist yet) is written to a temporary file
//!   in the same directory, flushed to disk, then renamed over the path; the directory
//!   is flushed too, so the rename survives a power cut. A symlink to a regular file
//!   keeps being a symlink: the file it points to is replaced. A replaced file keeps
//!   its permissions.
//! - A FIFO or a character device (`/dev/null`, a terminal, `/dev/full`), or anything
//!   reached through `/proc/*/fd` (`/dev/stdout`, `/proc/self/fd/1`), is written in
//!   place, at its end: it is never replaced by a regular file.
//! - `-` is standard output.
//! - A directory, a block device, a socket or a symlink to nothing is refused.
//!
//! [`append`] adds to the end the same way (the old bytes, then the new, renamed into
//! place under a lock on the old file), for outputs that collect what each run adds.

mod place;
mod replace;

pub use place::{Place, place};

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a file could not be written. The message names the path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path names something that is never written (a directory, a block device...).
    #[error("{path}: is {what}; only a regular file, a FIFO, a character device or `-` (stdout) can be written", path = path.display())]
    Refused { path: PathBuf, what: &'static str },
    /// The system refused an operation.
    #[error("{path}: cannot {action}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
}

impl Error {
    fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io {
            path,
            action,
            source,
        }
    }

    /// The system's error, if the failure was one (e.g. to tell a full disk).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Refused { .. } => None,
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// This regular file was replaced whole (the path itself, or what its symlink
    /// points to).
    Replaced(PathBuf),
    /// Written in place into this special file.
    InPlace(PathBuf),
    /// Written to standard output.
    Stdout,
}

/// Permissions of a file that does not exist yet (a replaced file keeps its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// 0666 less the umask, as any new file.
    #[default]
    Default,
    /// 0600: only the owner reads it (secrets).
    Private,
}

/// Replaces `path`'s content with `contents`, whole or not at all (see the crate's
/// rules for special files).
pub fn write(path: &Path, contents: &[u8]) -> Result<Written, Error> {
    write_with(path, contents, Mode::Default)
}

/// [`write`], a new file getting `mode`.
pub fn write_with(path: &Path, contents: &[u8], mode: Mode) -> Result<Written, Error> {
    match place(path)? {
        Place::Stdout => to_stdout(contents),
        Place::InPlace(path) => in_place(&path, contents),
        Place::Replace(path) => {
            replace::replace(&path, contents, mode)?;
            Ok(Written::Replaced(path))
        }
    }
}

/// Adds `contents` at the end of `path` (made if missing). A regular file is replaced
/// by its old bytes followed by the new ones, so a crash leaves it as it was or with
/// all of `contents`; writers appending at once are serialised by a lock on the file.
pub fn append(path: &Path, contents: &[u8]) -> Result<Written, Error> {
    match place(path)? {
        Place::Stdout => to_stdout(contents),
        Place::InPlace(path) => in_place(&path, contents),
        Place::Replace(path) => {
            replace::append(&path, contents)?;
            Ok(Written::Replaced(path))
        }
    }
}

/// Fails when `path` could not be written: what [`write`] would refuse, or a directory
/// where no file can be made. Writes nothing (a FIFO is not opened: that would wait for
/// a reader).
pub fn check_writable(path: &Path) -> Result<(), Error> {
    match place(path)? {
        Place::Stdout => Ok(()),
        Place::InPlace(path) => {
            if std::fs::metadata(&path).is_ok_and(|m| is_fifo(&m)) {
                return Ok(());
            }
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map(drop)
                .map_err(Error::io(&path, "open it for writing"))
        }
        Place::Replace(path) => replace::check_directory(&path),
    }
}

/// True when writing `a` would overwrite the file `b` names (or the reverse): the same
/// regular file (however named: symlinks, `./`, hard links), or the same path not made
/// yet. Special files and stdout never count: writing to one does not erase the other.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if a == Path::new("-") || b == Path::new("-") {
        return false;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => {
            ma.file_type().is_file() && ma.dev() == mb.dev() && ma.ino() == mb.ino()
        }
        (Err(_), Err(_)) => {
            let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            normalise(&absolute(a)) == normalise(&absolute(b))
        }
        _ => false,
    }
}

/// `a/./b` and `a/b`, `a/c/../b` and `a/b` alike (lexically: for paths not made yet).
fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_fifo(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_fifo()
}

fn to_stdout(contents: &[u8]) -> Result<Written, Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(contents)
        .and_then(|()| out.flush())
        .map_err(Error::io(Path::new("-"), "write to stdout"))?;
    Ok(Written::Stdout)
}

/// Opens without creating or truncating: a FIFO gets the bytes, a device or the file
/// behind `/proc/self/fd/N` keeps what it had before them.
fn in_place(path: &Path, contents: &[u8]) -> Result<Written, Error> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(Error::io(path, "open it for writing"))?;
    file.write_all(contents)
        .and_then(|()| file.flush())
        .map_err(Error::io(path, "write to it"))?;
    Ok(Written::InPlace(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_not_made_yet_compare_lexically() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("x/../j.json");
        let b = dir.path().join("./j.json");
        assert!(same_file(&a, &b));
        assert!(!same_file(&a, &dir.path().join("k.json")));
        assert!(!same_file(Path::new("-"), Path::new("-")));
    }

    #[test]
    fn one_regular_file_under_two_names_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("exp.json");
        std::fs::write(&file, "{}").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(same_file(&file, &link));
        assert!(same_file(&file, &dir.path().join("./exp.json")));
        assert!(!same_file(&file, &dir.path().join("other.json")));
        // Two outputs into /dev/null overwrite nothing.
        assert!(!same_file(Path::new("/dev/null"), Path::new("/dev/null")));
    }
}
