//! Special files are written in place and never replaced; a full disk leaves the old
//! file; permissions survive a replacement.

use atomic_file::{Mode, Written};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use test_kit::files::{Tmpfs, kind, mkfifo, mknod_char};

fn skip(case: &str, why: &str) {
    eprintln!("SKIPPED {case}: {why}");
}

#[test]
fn a_fifo_gets_the_bytes_and_stays_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.xml");
    mkfifo(&fifo).unwrap();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).unwrap())
    };
    assert_eq!(
        atomic_file::write(&fifo, b"<testsuites/>\n").unwrap(),
        Written::InPlace(fifo.clone())
    );
    assert_eq!(reader.join().unwrap(), b"<testsuites/>\n");
    assert_eq!(kind(&fifo), 'p');
    // The check before a run does not open it (that would wait for a reader).
    atomic_file::check_writable(&fifo).unwrap();
}

#[test]
fn a_full_device_fails_the_write_and_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    if let Err(why) = mknod_char(&full, 1, 7) {
        return skip("a_full_device_fails_the_write_and_is_not_replaced", &why);
    }
    let link = dir.path().join("link-to-full");
    std::os::unix::fs::symlink(&full, &link).unwrap();
    for path in [&full, &link] {
        let err = atomic_file::write(path, b"report").unwrap_err();
        assert_eq!(
            err.io_error().and_then(std::io::Error::raw_os_error),
            Some(28), // ENOSPC
            "{err}"
        );
        assert!(err.to_string().contains("No space left on device"), "{err}");
    }
    assert_eq!(kind(&full), 'c');
    assert_eq!(kind(&link), 'l');
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file left"
    );
}

#[test]
fn a_symlink_to_stdout_and_proc_fd_paths_are_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("stdout.md");
    std::os::unix::fs::symlink("/dev/stdout", &link).unwrap();
    assert_eq!(
        atomic_file::place(&link).unwrap(),
        atomic_file::Place::InPlace(link.clone())
    );
    assert_eq!(kind(&link), 'l');

    // A pipe this process holds, named through /proc/self/fd.
    let (mut reader, writer) = std::io::pipe().unwrap();
    use std::os::fd::AsRawFd;
    let named = format!("/proc/self/fd/{}", writer.as_raw_fd());
    atomic_file::write(Path::new(&named), b"through the pipe").unwrap();
    drop(writer);
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "through the pipe");

    // A regular file this process holds open: written in place (at its end), so whoever
    // holds it keeps the same file.
    let held = dir.path().join("held.log");
    std::fs::write(&held, "before\n").unwrap();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&held)
        .unwrap();
    let inode = std::fs::metadata(&held).unwrap().ino();
    let named = format!("/proc/self/fd/{}", file.as_raw_fd());
    assert_eq!(
        atomic_file::write(Path::new(&named), b"after\n").unwrap(),
        Written::InPlace(named.clone().into())
    );
    assert_eq!(std::fs::read_to_string(&held).unwrap(), "before\nafter\n");
    assert_eq!(std::fs::metadata(&held).unwrap().ino(), inode);
}

#[test]
fn directories_and_missing_folders_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let err = atomic_file::write(dir.path(), b"x").unwrap_err();
    assert!(err.to_string().ends_with(
        "is a directory; only a regular file, a FIFO, a character device or `-` (stdout) can be written"
    ), "{err}");
    let missing_dir = dir.path().join("no/such/dir/file.json");
    let err = atomic_file::check_writable(&missing_dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot make a temporary file beside it"),
        "{err}"
    );
}

#[test]
fn a_full_disk_leaves_the_old_file_whole() {
    let disk = match Tmpfs::mount(64) {
        Ok(disk) => disk,
        Err(why) => return skip("a_full_disk_leaves_the_old_file_whole", &why),
    };
    let path = disk.path().join("journal.json");
    atomic_file::write(&path, b"{\"old\": true}\n").unwrap();
    disk.fill();
    let err = atomic_file::write(&path, &vec![b'x'; 100_000]).unwrap_err();
    assert_eq!(
        err.io_error().and_then(std::io::Error::raw_os_error),
        Some(28),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"old\": true}\n");
    let names: Vec<_> = std::fs::read_dir(disk.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
}

#[test]
fn a_replaced_file_keeps_its_permissions_and_a_private_one_is_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    atomic_file::write(&path, b"new").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o640);

    let secret = dir.path().join("token");
    atomic_file::write_with(&secret, b"s3cret", Mode::Private).unwrap();
    assert_eq!(std::fs::metadata(&secret).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn append_adds_to_the_end_and_keeps_what_was_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.md");
    atomic_file::append(&path, b"first\n").unwrap();
    atomic_file::append(&path, b"second\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\nsecond\n");
    // Appenders at once: each one's text is there once.
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                atomic_file::append(&path, format!("line {i}\n").as_bytes()).unwrap()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    for i in 0..8 {
        assert_eq!(text.matches(&format!("line {i}\n")).count(), 1, "{text}");
    }
    assert!(text.starts_with("first\nsecond\n"));
}
