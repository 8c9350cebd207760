//! Files that tests need and cannot make with std: a small full-able file system, a
//! FIFO, a character device node. Each either works or says why not (the caller
//! prints the reason and skips that case; it never passes silently).

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A tmpfs of a few kilobytes mounted on a directory of its own, unmounted (and the
/// directory removed) when dropped: a disk that fills up.
#[derive(Debug)]
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB; `Err` says why it could not (not root, no mount).
    pub fn mount(kib: u32) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let target = dir.path().to_string_lossy().into_owned();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k"),
                "tmpfs",
                &target,
            ],
        )?;
        Ok(Tmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system: a file `fill` as large as it can be.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("fill");
        let mut file = std::fs::File::create(&path).expect("the filler file can be made");
        let block = [0u8; 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.write_all(&[0u8]);
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = self.dir.path().to_string_lossy().into_owned();
        if let Err(e) = run("umount", &[&target]) {
            eprintln!("test-kit: {e}");
        }
    }
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) -> Result<(), String> {
    run("mkfifo", &[&path.to_string_lossy()])
}

/// Makes a character device node at `path` (root only): `1 7` is /dev/full's, `1 3`
/// /dev/null's.
pub fn mknod_char(path: &Path, major: u32, minor: u32) -> Result<(), String> {
    run(
        "mknod",
        &[
            &path.to_string_lossy(),
            "c",
            &major.to_string(),
            &minor.to_string(),
        ],
    )
}

/// The file type of `path` itself (symlinks not followed), as `ls -l` writes it:
/// `-` regular, `p` FIFO, `c` character device, `l` symlink, `?` missing.
pub fn kind(path: &Path) -> char {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path).map(|m| m.file_type()) {
        Ok(t) if t.is_symlink() => 'l',
        Ok(t) if t.is_fifo() => 'p',
        Ok(t) if t.is_char_device() => 'c',
        Ok(t) if t.is_dir() => 'd',
        Ok(t) if t.is_file() => '-',
        Ok(_) => 'o',
        Err(_) => '?',
    }
}
