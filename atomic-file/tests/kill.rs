//! A writer killed with SIGKILL at random points, many times: the file is always one
//! complete version, the old or the new, never a torn one. The same test against a
//! plain `std::fs::write` (the journals' writer before) shows it would see torn files.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "ATOMIC_FILE_KILL_CHILD";
const PLAIN_ENV: &str = "ATOMIC_FILE_KILL_PLAIN";
/// Large enough that a write takes a while (a kill lands inside one).
const SIZE: usize = 2 << 20;
/// The file the writer makes before its first write.
fn started(path: &Path) -> std::path::PathBuf {
    path.with_extension("started")
}

/// Version `n`'s complete content: a first line naming it, bytes that depend on it, and
/// a last line; any other content is torn.
fn version(n: u64) -> Vec<u8> {
    // `vec![b; n]` is a memset even unoptimised: the writer's time goes into writing.
    let fill = vec![b'a' + (n % 26) as u8; SIZE];
    [
        format!("version {n}\n").as_bytes(),
        &fill,
        format!("\nend of version {n}\n").as_bytes(),
    ]
    .concat()
}

/// The version `bytes` are, if they are one whole.
fn complete(bytes: &[u8]) -> Option<u64> {
    let line = bytes.split(|b| *b == b'\n').next()?;
    let n: u64 = std::str::from_utf8(line)
        .ok()?
        .strip_prefix("version ")?
        .parse()
        .ok()?;
    (version(n) == bytes).then_some(n)
}

/// Not a test of its own: the writer the tests below start and kill (it does nothing
/// unless started by them).
#[test]
fn writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = Path::new(&path);
    let plain = std::env::var_os(PLAIN_ENV).is_some();
    let mut n = std::fs::read(path)
        .ok()
        .and_then(|b| complete(&b))
        .unwrap_or(0);
    // Tells the test that the writes begin: its kill lands among them, not at start-up.
    std::fs::write(started(path), "").unwrap();
    loop {
        n += 1;
        let bytes = version(n);
        if plain {
            std::fs::write(path, &bytes).unwrap();
        } else {
            atomic_file::write(path, &bytes).unwrap();
        }
    }
}

/// A small random number generator (xorshift), seeded from the clock; the seed is
/// printed so a failure can be replayed.
struct Random(u64);

impl Random {
    fn new() -> Random {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("random seed {seed}");
        Random(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Starts the writer `kills` times, kills each at a random moment, and returns (torn
/// files found, distinct versions seen).
fn kill_repeatedly(kills: usize, plain: bool) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.json");
    std::fs::write(&path, version(0)).unwrap();
    let mut random = Random::new();
    let (mut torn, mut seen) = (0, std::collections::BTreeSet::new());
    for _ in 0..kills {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if plain {
            command.env(PLAIN_ENV, "1");
        }
        let _ = std::fs::remove_file(started(&path));
        let mut child = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !started(&path).exists() {
            assert!(Instant::now() < deadline, "the writer did not start");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(random.below(40)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        match complete(&std::fs::read(&path).unwrap()) {
            Some(n) => {
                seen.insert(n);
            }
            None => {
                torn += 1;
                // Start the next writer from a whole file again.
                std::fs::write(&path, version(0)).unwrap();
            }
        }
    }
    (torn, seen.len())
}

#[test]
fn a_writer_killed_at_random_points_leaves_the_old_file_or_the_new_one() {
    let started = Instant::now();
    let (torn, versions) = kill_repeatedly(50, false);
    eprintln!(
        "atomic_file::write, 50 kills: {torn} torn, {versions} distinct versions, {:?}",
        started.elapsed()
    );
    assert_eq!(torn, 0, "a kill left a torn file");
    // The kills landed while it wrote: the writer got further between kills.
    assert!(
        versions >= 5,
        "only {versions} versions seen: the writer hardly wrote"
    );
}

#[test]
fn the_same_kills_find_torn_files_of_a_plain_write() {
    // The control: without the helper the detector above does see torn files.
    let (torn, _) = kill_repeatedly(20, true);
    eprintln!("std::fs::write, 20 kills: {torn} torn");
    assert!(torn > 0, "no torn file in 20 kills of a plain write");
}
