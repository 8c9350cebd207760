//! Where a path's bytes go: replaced whole, written in place, or stdout.

use crate::Error;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// How a path is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// `-`.
    Stdout,
    /// A special file (FIFO, character device) or a file reached through `/proc/*/fd`:
    /// opened and written, never replaced.
    InPlace(PathBuf),
    /// A regular file, or none yet: this path (symlinks resolved) is replaced whole.
    Replace(PathBuf),
}

/// Symlinks followed at most (as the kernel's limit).
const MAX_LINKS: usize = 40;

/// How `path` would be written, or why it cannot be.
pub fn place(path: &Path) -> Result<Place, Error> {
    if path == Path::new("-") {
        return Ok(Place::Stdout);
    }
    let refused = |what| Error::Refused {
        path: path.to_path_buf(),
        what,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(refused("a symlink to a missing file"));
            }
            return Ok(Place::Replace(path.to_path_buf()));
        }
        Err(e) => return Err(Error::io(path, "inspect it")(e)),
    };
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(match resolve(path)? {
            Some(real) => Place::Replace(real),
            None => Place::InPlace(path.to_path_buf()),
        });
    }
    if kind.is_fifo() || kind.is_char_device() {
        return Ok(Place::InPlace(path.to_path_buf()));
    }
    Err(refused(if kind.is_dir() {
        "a directory"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }))
}

/// The regular file `path` names, its symlinks followed one by one; `None` when the
/// way there goes through `/proc` (`/dev/stdout`, `/proc/self/fd/1`: an open file of
/// this process, which a rename would take away from whoever holds it).
fn resolve(path: &Path) -> Result<Option<PathBuf>, Error> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let (Some(name), parent) = (current.file_name(), current.parent()) else {
            // `..` or `/`: not a file name; let the kernel say what it is.
            let real = std::fs::canonicalize(&current).map_err(Error::io(path, "resolve it"))?;
            return Ok(Some(real));
        };
        let parent = match parent {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = std::fs::canonicalize(parent).map_err(Error::io(path, "resolve it"))?;
        if parent.starts_with("/proc") {
            return Ok(None);
        }
        let full = parent.join(name);
        let metadata = std::fs::symlink_metadata(&full).map_err(Error::io(path, "inspect it"))?;
        if !metadata.file_type().is_symlink() {
            return Ok(Some(full));
        }
        let target = std::fs::read_link(&full).map_err(Error::io(path, "read its link"))?;
        current = parent.join(target);
    }
    Err(Error::Refused {
        path: path.to_path_buf(),
        what: "a chain of too many symlinks",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_written_in_place_and_others_refused() {
        assert_eq!(place(Path::new("-")).unwrap(), Place::Stdout);
        assert_eq!(
            place(Path::new("/dev/null")).unwrap(),
            Place::InPlace("/dev/null".into())
        );
        let err = place(Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[test]
    fn a_symlinked_regular_file_is_replaced_at_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let real = std::fs::canonicalize(&real).unwrap();
        assert_eq!(place(&link).unwrap(), Place::Replace(real));
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("nowhere", &dangling).unwrap();
        let err = place(&dangling).unwrap_err();
        assert!(
            err.to_string().contains("a symlink to a missing file"),
            "{err}"
        );
    }
}
