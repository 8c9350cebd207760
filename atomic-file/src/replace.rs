//! A regular file replaced whole: temporary file beside it, fsync, rename, fsync of the
//! directory.

use crate::{Error, Mode};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes every temporary name of this process distinct (threads writing at once).
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory `path` is in (`.` for a bare name).
fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new, empty temporary file beside `path`: `.NAME.PID.N.tmp`, made exclusively so
/// that no other file is ever opened.
fn temporary(path: &Path, mode: u32) -> Result<(PathBuf, File), Error> {
    let name = path.file_name().ok_or_else(|| Error::Refused {
        path: path.to_path_buf(),
        what: "not a file name",
    })?;
    loop {
        let mut temporary = std::ffi::OsString::from(".");
        temporary.push(name);
        temporary.push(format!(
            ".{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temporary = path.with_file_name(temporary);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)
        {
            Ok(file) => return Ok((temporary, file)),
            // Left by a killed process that had this pid: take the next name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(path, "make a temporary file beside it")(e));
            }
        }
    }
}

/// Replaces `path` with `contents`. On any failure the temporary file is removed and
/// `path` is as it was.
pub fn replace(path: &Path, contents: &[u8], mode: Mode) -> Result<(), Error> {
    // A replaced file keeps its permissions; a new one gets `mode` (less the umask).
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions().mode());
    let new_mode = match mode {
        Mode::Default => 0o666,
        Mode::Private => 0o600,
    };
    let (temporary, mut file) = temporary(path, new_mode)?;
    let written = (|| {
        if let Some(permissions) = permissions {
            file.set_permissions(std::fs::Permissions::from_mode(permissions & 0o7777))
                .map_err(Error::io(
                    path,
                    "give the new file the old one's permissions",
                ))?;
        }
        file.write_all(contents)
            .and_then(|()| file.flush())
            .map_err(Error::io(path, "write it"))?;
        file.sync_all()
            .map_err(Error::io(path, "flush it to disk"))?;
        drop(file);
        std::fs::rename(&temporary, path).map_err(Error::io(path, "rename the new file into place"))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written?;
    // The rename itself reaches the disk with the directory. Some file systems cannot
    // sync a directory; the file is in place all the same.
    if let Ok(dir) = File::open(directory(path)) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// `path`'s bytes followed by `contents`, replaced as [`replace`] does, under an
/// exclusive lock on the file being replaced (the next appender waits, then finds the
/// path names a new file and locks that one).
pub fn append(path: &Path, contents: &[u8]) -> Result<(), Error> {
    loop {
        let old = match File::open(path) {
            Ok(old) => old,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return replace(path, contents, Mode::Default);
            }
            Err(e) => return Err(Error::io(path, "open it")(e)),
        };
        old.lock().map_err(Error::io(path, "lock it"))?;
        let locked = old.metadata().map_err(Error::io(path, "inspect it"))?;
        let current = std::fs::metadata(path).ok();
        if current.is_none_or(|c| c.dev() != locked.dev() || c.ino() != locked.ino()) {
            // Replaced while we waited for the lock: lock the new one.
            continue;
        }
        let mut bytes = Vec::with_capacity(locked.len() as usize + contents.len());
        (&old)
            .read_to_end(&mut bytes)
            .map_err(Error::io(path, "read it"))?;
        bytes.extend_from_slice(contents);
        // The lock goes with `old` once the new file is in place.
        return replace(path, &bytes, Mode::Default);
    }
}

/// Fails when no temporary file can be made beside `path`.
pub fn check_directory(path: &Path) -> Result<(), Error> {
    let (temporary, file) = temporary(path, 0o600)?;
    drop(file);
    let _ = std::fs::remove_file(&temporary);
    Ok(())
}
