//! The files `run` and `report` write (issue 20 §3, §4, §5, §8, §10): the journal is
//! replaced whole or not at all (a `kill -9` during its write, a full disk), a failed
//! journal still gets its `--junit`/`--summary`, special files are written in place and
//! never replaced, no output may name the experiment, and `--var-file` reads regular
//! files of bounded size only.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_kit::files::{Tmpfs, kind, mkfifo, mknod_char};
use wait_timeout::ChildExt;

fn skip(case: &str, why: &str) {
    eprintln!("SKIPPED {case}: {why}");
}

fn small_experiment() -> Value {
    experiment(
        json!([]),
        json!([process("say-hello", "sh", json!(["-c", "echo hello"]))]),
        json!([]),
    )
}

fn write_experiment(dir: &Path, e: &Value) -> PathBuf {
    let file = dir.join("experiment.json");
    std::fs::write(&file, serde_json::to_string_pretty(e).unwrap()).unwrap();
    file
}

/// Runs `chaos-runner ARGS` in `dir`, killed after 60 s (a writer stuck on a FIFO);
/// (exit code, -1 when killed; stdout; stderr).
fn chaos(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while it runs (a large output must not block it).
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read_out = std::thread::spawn(move || {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut text).map(|_| text)
    });
    let read_err = std::thread::spawn(move || {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut text).map(|_| text)
    });
    if child
        .wait_timeout(Duration::from_secs(60))
        .unwrap()
        .is_none()
    {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let out = std::process::Output {
        status,
        stdout: read_out.join().unwrap().unwrap_or_default(),
        stderr: read_err.join().unwrap().unwrap_or_default(),
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cat PATH` in the background: what a reader of a FIFO gets.
fn cat(path: &Path) -> Child {
    Command::new("cat")
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What the `cat` got, once it ends (killed after 10 s: nothing came).
fn cat_output(mut child: Child) -> String {
    if child
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .is_none()
    {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const OLD_JOURNAL: &str = "{\"old\": \"journal\"}\n";

#[test]
fn a_kill_during_the_journal_write_leaves_the_previous_journal() {
    // A 20 MB output makes the journal's write long enough to be caught in the act.
    let e = experiment(
        json!([]),
        json!([process(
            "big-output",
            "sh",
            json!(["-c", "head -c 20000000 /dev/zero | tr '\\0' a"])
        )]),
        json!([]),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &e);
    let journal = dir.path().join("journal.json");
    let (mut torn, mut caught) = (0, 0);
    for _ in 0..5 {
        std::fs::write(&journal, OLD_JOURNAL).unwrap();
        let before: Vec<_> = names(dir.path());
        let mut child = Command::new(bin())
            .args(["run", "--journal-path"])
            .arg(&journal)
            .arg(&file)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it the moment its write starts: the journal changes or a file appears.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let changed = std::fs::metadata(&journal).map(|m| m.len()).ok()
                != Some(OLD_JOURNAL.len() as u64)
                || names(dir.path()) != before;
            if changed {
                child.kill().unwrap();
                caught += 1;
                break;
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break;
            }
        }
        child.wait().unwrap();
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        let whole = text == OLD_JOURNAL
            || serde_json::from_str::<Value>(&text).is_ok_and(|j| j["status"] == "completed");
        if !whole {
            torn += 1;
        }
        for name in names(dir.path()).iter().filter(|n| n.ends_with(".tmp")) {
            let _ = std::fs::remove_file(dir.path().join(name));
        }
    }
    eprintln!("kill -9 at the start of the journal's write: {caught} caught, {torn} torn of 5");
    assert_eq!(torn, 0, "a kill during the write left a torn journal");
    assert!(caught >= 3, "only {caught} of 5 runs were caught writing");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_full_disk_keeps_the_previous_journal_and_still_writes_junit_and_summary() {
    let disk = match Tmpfs::mount(64) {
        Ok(disk) => disk,
        Err(why) => {
            return skip(
                "a_full_disk_keeps_the_previous_journal_and_still_writes_junit_and_summary",
                &why,
            );
        }
    };
    let dir = tempfile::tempdir().unwrap();
    // A journal of a few pages: the old one's page is not enough for it.
    let e = experiment(
        json!([]),
        json!([process(
            "say-hello",
            "sh",
            json!(["-c", "echo completed; head -c 20000 /dev/zero | tr '\\0' a"])
        )]),
        json!([]),
    );
    let file = write_experiment(dir.path(), &e);
    let journal = disk.path().join("journal.json");
    std::fs::write(&journal, OLD_JOURNAL).unwrap();
    disk.fill();
    let (junit, summary) = (dir.path().join("junit.xml"), dir.path().join("summary.md"));
    let (code, _, stderr) = chaos(
        dir.path(),
        &[
            "run",
            "--journal-path",
            journal.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--summary",
            summary.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), OLD_JOURNAL);
    // §4: the run's other outputs are written all the same.
    let xml = std::fs::read_to_string(&junit).expect("--junit written");
    assert!(xml.contains("say-hello"), "{xml}");
    let md = std::fs::read_to_string(&summary).expect("--summary written");
    assert!(md.contains("completed"), "{md}");
}

#[test]
fn a_journal_on_a_full_device_fails_but_junit_and_summary_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    if let Err(why) = mknod_char(&full, 1, 7) {
        return skip(
            "a_journal_on_a_full_device_fails_but_junit_and_summary_are_written",
            &why,
        );
    }
    let file = write_experiment(dir.path(), &small_experiment());
    let (code, _, stderr) = chaos(
        dir.path(),
        &[
            "run",
            "--journal-path",
            "full",
            "--junit",
            "junit.xml",
            "--summary",
            "summary.md",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot write the journal"), "{stderr}");
    assert_eq!(kind(&full), 'c', "the device node was replaced");
    assert!(dir.path().join("junit.xml").is_file(), "{stderr}");
    assert!(dir.path().join("summary.md").is_file(), "{stderr}");
}

#[test]
fn fifos_devices_and_links_to_stdout_are_written_in_place_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &small_experiment());
    let (journal_fifo, junit_fifo) = (
        dir.path().join("journal.fifo"),
        dir.path().join("junit.fifo"),
    );
    mkfifo(&journal_fifo).unwrap();
    mkfifo(&junit_fifo).unwrap();
    let stdout_link = dir.path().join("summary-to-stdout.md");
    std::os::unix::fs::symlink("/dev/stdout", &stdout_link).unwrap();
    let (journal_reader, junit_reader) = (cat(&journal_fifo), cat(&junit_fifo));
    let (code, stdout, stderr) = chaos(
        dir.path(),
        &[
            "run",
            "--journal-path",
            "journal.fifo",
            "--junit",
            "junit.fifo",
            "--summary",
            "summary-to-stdout.md",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let journal: Value = serde_json::from_str(&cat_output(journal_reader)).expect("a journal");
    assert_eq!(journal["status"], "completed");
    assert!(cat_output(junit_reader).contains("<testsuites"));
    assert!(
        stdout.contains("completed"),
        "the summary went to stdout: {stdout}"
    );
    assert_eq!(kind(&journal_fifo), 'p');
    assert_eq!(kind(&junit_fifo), 'p');
    assert_eq!(kind(&stdout_link), 'l');

    // `report -o`: a FIFO and /proc/self/fd/1; `-` for stdout.
    let saved = dir.path().join("saved.json");
    std::fs::write(&saved, serde_json::to_string(&journal).unwrap()).unwrap();
    let report_fifo = dir.path().join("report.fifo");
    mkfifo(&report_fifo).unwrap();
    let reader = cat(&report_fifo);
    let (code, _, stderr) = chaos(dir.path(), &["report", "saved.json", "-o", "report.fifo"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(cat_output(reader).contains("<html"));
    assert_eq!(kind(&report_fifo), 'p');
    for to_stdout in ["/proc/self/fd/1", "-"] {
        let (code, stdout, stderr) = chaos(
            dir.path(),
            &[
                "report",
                "saved.json",
                "--format",
                "markdown",
                "-o",
                to_stdout,
            ],
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("completed"), "{to_stdout}: {stdout}");
    }
    // `--junit -`: the XML on stdout.
    let (code, stdout, stderr) = chaos(
        dir.path(),
        &[
            "run",
            "--journal-path",
            "j.json",
            "--junit",
            "-",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("<testsuites"), "{stdout}");
}

#[test]
fn outputs_on_a_device_that_fails_are_errors_and_the_device_stays() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    if let Err(why) = mknod_char(&full, 1, 7) {
        return skip(
            "outputs_on_a_device_that_fails_are_errors_and_the_device_stays",
            &why,
        );
    }
    let link = dir.path().join("link-to-full.xml");
    std::os::unix::fs::symlink(&full, &link).unwrap();
    let file = write_experiment(dir.path(), &small_experiment());
    let (code, _, stderr) = chaos(
        dir.path(),
        &[
            "run",
            "--journal-path",
            "j.json",
            "--junit",
            "link-to-full.xml",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--junit link-to-full.xml: cannot be written"),
        "{stderr}"
    );
    assert!(stderr.contains("No space left on device"), "{stderr}");
    std::fs::copy(dir.path().join("j.json"), dir.path().join("saved.json")).unwrap();
    let (code, _, stderr) = chaos(dir.path(), &["report", "saved.json", "-o", "full"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(kind(&full), 'c');
    assert_eq!(kind(&link), 'l');
}

#[test]
fn no_output_may_name_the_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &small_experiment());
    let original = std::fs::read_to_string(&file).unwrap();
    std::os::unix::fs::symlink("experiment.json", dir.path().join("same.json")).unwrap();
    for (flag, path) in [
        ("--journal-path", "experiment.json"),
        ("--junit", "experiment.json"),
        ("--summary", "./experiment.json"),
        ("--journal-path", "same.json"),
    ] {
        let mut args = vec!["run"];
        if flag != "--journal-path" {
            args.extend(["--journal-path", "j.json"]);
        }
        args.extend([flag, path, "experiment.json"]);
        let (code, _, stderr) = chaos(dir.path(), &args);
        assert_eq!(code, 1, "{flag} {path}: {stderr}");
        assert!(
            stderr.contains(&format!("{flag} and the experiment name the same file")),
            "{flag} {path}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            original,
            "{flag} {path}"
        );
    }
}

#[test]
fn var_files_are_regular_files_of_bounded_size() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_experiment(dir.path(), &small_experiment());
    let big = dir.path().join("big.env");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(11 << 20)
        .unwrap();
    for (var_file, expected) in [
        ("/dev/zero", "var file /dev/zero: not a regular file"),
        (big.to_str().unwrap(), "is larger than 10 MiB"),
    ] {
        // Bounded in time and memory, in case the limit is missing.
        let mut child = Command::new("sh")
            .args(["-c", "ulimit -v 4000000; exec \"$@\"", "sh"])
            .arg(bin())
            .args(["run", "--journal-path", "j.json", "--var-file", var_file])
            .arg(&file)
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = child.wait_timeout(Duration::from_secs(10)).unwrap();
        if status.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{var_file} after {:?}: {stderr}",
            started.elapsed()
        );
        assert!(stderr.contains(expected), "{var_file}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    // The experiment itself: the same rule (bounded by `chaos`'s 60 s if it is missing).
    let (code, _, stderr) = chaos(dir.path(), &["validate", "/dev/zero"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}
