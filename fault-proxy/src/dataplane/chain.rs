//! One direction's toxic chain on one connection: which toxics apply (toxicity rolled
//! per connection, as Toxiproxy rolls it each time a toxic's stage starts), their
//! per-connection state, and what each does to a piece of the stream. Timing is not done
//! here: a toxic says when a piece may go on, the link waits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::RngExt;
use rand::rngs::SmallRng;

use super::http::{Frame, RequestFramer, answer};
use crate::model::{Toxic, ToxicKind, millis};

/// A piece of the stream with the time it was read (latency counts from there).
#[derive(Debug)]
pub struct Chunk {
    pub data: Bytes,
    pub at: Instant,
}

/// What travels through a chain.
#[derive(Debug)]
pub enum Item {
    Data(Chunk),
    /// The source closed its side.
    Eof,
}

/// What a toxic makes of an item, in order.
#[derive(Debug)]
pub enum Step {
    /// Goes on to the next toxic now.
    Pass(Item),
    /// Goes on at the instant.
    Wait(Instant, Item),
    /// Closes the connection (FIN) at the instant.
    Close(Instant),
    /// Resets the connection (RST) at the instant.
    Reset(Instant),
    /// Written back to the client at once (an `http_status` answer).
    Answer(Bytes),
}

#[derive(Debug)]
enum State {
    Plain,
    Bandwidth {
        next_free: Option<Instant>,
    },
    Timeout {
        deadline: Option<Instant>,
    },
    ResetPeer {
        fired: bool,
    },
    LimitData {
        sent: i64,
    },
    Http {
        framer: RequestFramer,
        answering: Option<super::http::HeadInfo>,
    },
}

#[derive(Debug)]
struct Entry {
    toxic: Arc<Toxic>,
    active: bool,
    state: State,
}

impl Entry {
    fn new(toxic: Arc<Toxic>) -> Self {
        let state = match toxic.kind {
            ToxicKind::Bandwidth { .. } => State::Bandwidth { next_free: None },
            ToxicKind::Timeout { .. } => State::Timeout { deadline: None },
            ToxicKind::ResetPeer { .. } => State::ResetPeer { fired: false },
            ToxicKind::LimitData { .. } => State::LimitData { sent: 0 },
            ToxicKind::HttpStatus(_) | ToxicKind::HttpLatency { .. } => State::Http {
                framer: RequestFramer::default(),
                answering: None,
            },
            _ => State::Plain,
        };
        Self {
            toxic,
            active: false,
            state,
        }
    }

    /// Starts (or restarts) the toxic's stage: rolls its toxicity and resets what
    /// Toxiproxy keeps only for one run of a stage (timers, the bandwidth schedule).
    fn start(&mut self, rng: &mut SmallRng, now: Instant) {
        self.active = if self.toxic.kind.is_http() {
            true // decided per request instead
        } else {
            rng.random::<f32>() < self.toxic.toxicity
        };
        match (&mut self.state, &self.toxic.kind) {
            (State::Bandwidth { next_free }, _) => *next_free = None,
            (State::Timeout { deadline }, ToxicKind::Timeout { timeout }) => {
                *deadline = (*timeout > 0).then(|| now + millis(*timeout));
            }
            _ => {}
        }
    }
}

/// The toxics of one direction of one connection.
pub struct Chain {
    entries: Vec<Entry>,
    rng: SmallRng,
    /// Requests answered by `http_status` since the last look (for metrics).
    pub answered: u64,
}

impl Chain {
    pub fn new(rng: SmallRng) -> Self {
        Self {
            entries: Vec::new(),
            rng,
            answered: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Takes a new list of toxics, keeping each one's per-connection state. As in
    /// Toxiproxy, a toxic's stage restarts (toxicity rolled again) when it is new, when
    /// it was updated, or when the toxic after it changed (one was added or removed).
    pub fn rebuild(&mut self, list: &[Arc<Toxic>]) {
        let now = Instant::now();
        let mut old: Vec<Option<Entry>> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(Some)
            .collect();
        let old_names: Vec<String> = old
            .iter()
            .map(|e| e.as_ref().map(|e| e.toxic.name.clone()).unwrap_or_default())
            .collect();
        for (i, toxic) in list.iter().enumerate() {
            let found = old_names.iter().position(|n| *n == toxic.name);
            let next_new = list.get(i + 1).map(|t| t.name.as_str());
            let entry = match found.and_then(|j| old[j].take().map(|e| (j, e))) {
                Some((j, mut e)) if e.toxic.kind.type_name() == toxic.kind.type_name() => {
                    let next_old = old_names.get(j + 1).map(String::as_str);
                    let unchanged = Arc::ptr_eq(&e.toxic, toxic) && next_old == next_new;
                    e.toxic = toxic.clone();
                    if !unchanged {
                        e.start(&mut self.rng, now);
                    }
                    e
                }
                _ => {
                    let mut e = Entry::new(toxic.clone());
                    e.start(&mut self.rng, now);
                    e
                }
            };
            self.entries.push(entry);
        }
    }

    /// The earliest instant an active `timeout` toxic closes the connection, if any.
    pub fn idle_deadline(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter(|e| e.active)
            .filter_map(|e| match e.state {
                State::Timeout { deadline } => deadline,
                _ => None,
            })
            .min()
    }

    /// What toxic `index` makes of `item`.
    pub fn apply(&mut self, index: usize, item: Item, steps: &mut Vec<Step>) {
        let now = Instant::now();
        let Some(entry) = self.entries.get_mut(index) else {
            steps.push(Step::Pass(item));
            return;
        };
        if !entry.active {
            steps.push(Step::Pass(item));
            return;
        }
        let toxic = entry.toxic.clone();
        match (&toxic.kind, &mut entry.state, item) {
            (ToxicKind::Latency { latency, jitter }, _, Item::Data(mut c)) => {
                let due = c.at + jittered(&mut self.rng, *latency, *jitter);
                c.at = due;
                steps.push(Step::Wait(due, Item::Data(c)));
            }
            (ToxicKind::Bandwidth { rate }, State::Bandwidth { next_free }, Item::Data(c))
                if *rate > 0 =>
            {
                bandwidth(*rate, next_free, c, now, steps);
            }
            (ToxicKind::SlowClose { delay }, _, Item::Eof) => {
                steps.push(Step::Wait(now + millis(*delay), Item::Eof));
            }
            (ToxicKind::Timeout { timeout }, State::Timeout { deadline }, item) => match item {
                // Data is dropped; each piece restarts the timer, as in Toxiproxy.
                Item::Data(_) => *deadline = (*timeout > 0).then(|| now + millis(*timeout)),
                Item::Eof => steps.push(Step::Close(now)),
            },
            (ToxicKind::ResetPeer { timeout }, State::ResetPeer { fired }, _) => {
                // The first piece (data or the end) is dropped and the reset follows.
                if !*fired {
                    *fired = true;
                    steps.push(Step::Reset(now + millis(*timeout)));
                }
            }
            (
                ToxicKind::Slicer {
                    average_size,
                    size_variation,
                    delay,
                },
                _,
                Item::Data(c),
            ) => {
                let average = (*average_size).max(1);
                let variation = (*size_variation).clamp(0, average - 1);
                let mut cuts = Vec::new();
                slice(
                    &mut self.rng,
                    0,
                    c.data.len() as i64,
                    average,
                    variation,
                    &mut cuts,
                );
                let gap = Duration::from_micros(u64::try_from(*delay).unwrap_or(0));
                let mut due = now;
                for (k, w) in cuts.chunks(2).enumerate() {
                    let (a, b) = (w[0] as usize, w[1] as usize);
                    let piece = Item::Data(Chunk {
                        data: c.data.slice(a..b),
                        at: c.at,
                    });
                    if k == 0 {
                        steps.push(Step::Pass(piece));
                    } else {
                        due += gap;
                        steps.push(Step::Wait(due, piece));
                    }
                }
            }
            (ToxicKind::LimitData { bytes }, State::LimitData { sent }, item) => match item {
                Item::Data(c) => {
                    let remaining = bytes.saturating_sub(*sent).max(0);
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(c.data.len());
                    if n > 0 {
                        *sent += n as i64;
                        steps.push(Step::Pass(Item::Data(Chunk {
                            data: c.data.slice(..n),
                            at: c.at,
                        })));
                    }
                    if bytes.saturating_sub(*sent) <= 0 {
                        steps.push(Step::Close(now));
                    }
                }
                Item::Eof => steps.push(Step::Close(now)),
            },
            (
                kind @ (ToxicKind::HttpStatus(_) | ToxicKind::HttpLatency { .. }),
                State::Http { framer, answering },
                item,
            ) => {
                let mut frames = Vec::new();
                let (at, eof) = match item {
                    Item::Data(c) => {
                        framer.feed(c.data, &mut frames);
                        (c.at, false)
                    }
                    Item::Eof => {
                        framer.flush(&mut frames);
                        (now, true)
                    }
                };
                for frame in frames {
                    let pass = |data: Bytes| Item::Data(Chunk { data, at });
                    match (kind, frame) {
                        (ToxicKind::HttpLatency { latency, jitter }, Frame::Head(head, _)) => {
                            let due = at + jittered(&mut self.rng, *latency, *jitter);
                            steps.push(Step::Wait(
                                due,
                                Item::Data(Chunk {
                                    data: head,
                                    at: due,
                                }),
                            ));
                        }
                        (ToxicKind::HttpStatus(_), Frame::Head(head, info)) => {
                            if self.rng.random::<f32>() < toxic.toxicity {
                                *answering = Some(info);
                            } else {
                                steps.push(Step::Pass(pass(head)));
                            }
                        }
                        (ToxicKind::HttpStatus(a), Frame::End) => {
                            if let Some(info) = answering.take() {
                                self.answered += 1;
                                steps.push(Step::Answer(answer(
                                    a.status, &a.body, &a.headers, info,
                                )));
                            }
                        }
                        (_, Frame::End) => {}
                        (_, Frame::Body(b)) if answering.is_some() => drop(b),
                        (_, Frame::Head(b, _) | Frame::Body(b) | Frame::Opaque(b)) => {
                            steps.push(Step::Pass(pass(b)));
                        }
                    }
                }
                if eof {
                    steps.push(Step::Pass(Item::Eof));
                }
            }
            (_, _, item) => steps.push(Step::Pass(item)),
        }
    }
}

/// latency +/- jitter (uniform in [-jitter, jitter), as Toxiproxy draws it), never negative.
fn jittered(rng: &mut SmallRng, latency: i64, jitter: i64) -> Duration {
    let mut ms = latency;
    if jitter > 0 {
        // Saturating: a hugely negative latency (accepted, acting as 0) must not wrap.
        ms = ms.saturating_add(rng.random_range(-jitter..jitter));
    }
    millis(ms)
}

/// Rate-limits one chunk: pieces of at most 100 ms worth of bytes, each due when the
/// bytes before it (and it) have "taken" their time at `rate` KB/s.
fn bandwidth(
    rate: i64,
    next_free: &mut Option<Instant>,
    c: Chunk,
    now: Instant,
    steps: &mut Vec<Step>,
) {
    let bytes_per_ms = rate as f64; // KB/s = bytes/ms
    let piece = usize::try_from(rate.saturating_mul(100))
        .unwrap_or(usize::MAX)
        .max(1);
    let mut due = next_free.map_or(now, |t| t.max(now));
    let mut offset = 0;
    while offset < c.data.len() {
        let end = (offset + piece).min(c.data.len());
        due += Duration::from_secs_f64((end - offset) as f64 / bytes_per_ms / 1000.0);
        steps.push(Step::Wait(
            due,
            Item::Data(Chunk {
                data: c.data.slice(offset..end),
                at: c.at,
            }),
        ));
        offset = end;
    }
    *next_free = Some(due);
}

/// Toxiproxy's slicing: halve around the middle (+/- variation) until pieces are within
/// `average + variation`. `variation < average`, so every cut moves forward.
fn slice(
    rng: &mut SmallRng,
    start: i64,
    end: i64,
    average: i64,
    variation: i64,
    cuts: &mut Vec<i64>,
) {
    if (end - start) - average <= variation {
        if end > start {
            cuts.push(start);
            cuts.push(end);
        }
        return;
    }
    let mut mid = start + (end - start) / 2;
    if variation > 0 {
        mid += rng.random_range(-variation..variation);
    }
    slice(rng, start, mid, average, variation, cuts);
    slice(rng, mid, end, average, variation, cuts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Direction;
    use rand::SeedableRng;

    fn toxic(name: &str, toxicity: f32, kind: ToxicKind) -> Arc<Toxic> {
        Arc::new(Toxic {
            name: name.into(),
            stream: "downstream".into(),
            direction: Direction::Downstream,
            toxicity,
            kind,
        })
    }

    fn data(s: &'static [u8]) -> Item {
        Item::Data(Chunk {
            data: Bytes::from_static(s),
            at: Instant::now(),
        })
    }

    #[test]
    fn toxicity_zero_never_applies_and_one_always_does() {
        let mut chain = Chain::new(SmallRng::seed_from_u64(1));
        let lat = ToxicKind::Latency {
            latency: 1000,
            jitter: 0,
        };
        chain.rebuild(&[toxic("never", 0.0, lat.clone()), toxic("always", 1.0, lat)]);
        let mut steps = Vec::new();
        chain.apply(0, data(b"x"), &mut steps);
        assert!(matches!(steps[0], Step::Pass(_)));
        steps.clear();
        chain.apply(1, data(b"x"), &mut steps);
        assert!(matches!(steps[0], Step::Wait(..)));
    }

    #[test]
    fn limit_data_state_survives_an_update_of_the_toxic() {
        let mut chain = Chain::new(SmallRng::seed_from_u64(1));
        chain.rebuild(&[toxic("l", 1.0, ToxicKind::LimitData { bytes: 5 })]);
        let mut steps = Vec::new();
        chain.apply(0, data(b"abc"), &mut steps);
        assert_eq!(steps.len(), 1);
        chain.rebuild(&[toxic("l", 1.0, ToxicKind::LimitData { bytes: 5 })]);
        steps.clear();
        chain.apply(0, data(b"defg"), &mut steps);
        assert!(matches!(&steps[0], Step::Pass(Item::Data(c)) if &c.data[..] == b"de"));
        assert!(matches!(steps[1], Step::Close(_)));
    }

    #[test]
    fn extreme_accepted_numbers_never_overflow() {
        let mut rng = SmallRng::seed_from_u64(3);
        assert_eq!(jittered(&mut rng, i64::MIN, 5), Duration::ZERO);
        let mut chain = Chain::new(SmallRng::seed_from_u64(1));
        chain.rebuild(&[
            toxic("l", 1.0, ToxicKind::LimitData { bytes: i64::MIN }),
            toxic(
                "s",
                1.0,
                ToxicKind::Slicer {
                    average_size: i64::MIN,
                    size_variation: i64::MAX,
                    delay: -1,
                },
            ),
            toxic("b", 1.0, ToxicKind::Bandwidth { rate: i64::MAX }),
        ]);
        for i in 0..3 {
            let mut steps = Vec::new();
            chain.apply(i, data(b"abcdef"), &mut steps);
            assert!(!steps.is_empty());
        }
    }

    #[test]
    fn slices_cover_the_chunk_in_order() {
        let mut rng = SmallRng::seed_from_u64(7);
        for (avg, var) in [(1, 0), (10, 5), (100, 99), (7, 3)] {
            let mut cuts = Vec::new();
            slice(&mut rng, 0, 1000, avg, var, &mut cuts);
            assert_eq!(cuts.first(), Some(&0));
            assert_eq!(cuts.last(), Some(&1000));
            for w in cuts.windows(2) {
                assert!(w[0] <= w[1]);
            }
            for piece in cuts.chunks(2) {
                assert!(piece[1] - piece[0] <= avg + var);
            }
        }
    }

    #[test]
    fn bandwidth_spreads_pieces_over_time() {
        let now = Instant::now();
        let mut steps = Vec::new();
        let mut next = None;
        let c = Chunk {
            data: Bytes::from(vec![0u8; 2500]),
            at: now,
        };
        bandwidth(10, &mut next, c, now, &mut steps); // 10 KB/s: 1000 bytes per 100 ms
        assert_eq!(steps.len(), 3);
        let last = next.unwrap() - now;
        assert!((249..=251).contains(&last.as_millis()), "{last:?}");
    }
}
