//! How much of an activity's output is kept: a process that prints 100 MB, or an HTTP
//! body of 300 MB, must not be held in memory whole nor written into the journal. The
//! first [`MAX_BYTES`] of each are kept and the journal says what was left out.

/// What is kept of one output stream or body.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// Collects up to [`MAX_BYTES`] of a stream and counts the rest.
#[derive(Debug, Default)]
pub struct CappedOutput {
    bytes: Vec<u8>,
    total: u64,
}

impl CappedOutput {
    /// Takes the next piece of the stream, keeping what still fits.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = MAX_BYTES.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.total += chunk.len() as u64;
    }

    pub fn is_truncated(&self) -> bool {
        self.total > self.bytes.len() as u64
    }

    /// The kept text (lossy UTF-8), ending with a note when some was left out.
    pub fn into_text(self) -> String {
        let truncated = self.is_truncated();
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if truncated {
            text.push_str(&format!(
                "\n[chaos-runner kept the first {} MiB of {} bytes]",
                MAX_BYTES >> 20,
                self.total
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_bytes_and_says_how_many_there_were() {
        let mut kept = CappedOutput::default();
        kept.push(b"hello ");
        kept.push(b"world");
        assert!(!kept.is_truncated());
        assert_eq!(kept.into_text(), "hello world");
        let mut big = CappedOutput::default();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..12 {
            big.push(&chunk);
        }
        assert!(big.is_truncated());
        let text = big.into_text();
        assert!(text.ends_with(&format!(
            "[chaos-runner kept the first 10 MiB of {} bytes]",
            12u64 << 20
        )));
        assert_eq!(
            text.len(),
            MAX_BYTES + text.lines().last().unwrap().len() + 1
        );
    }
}
