//! Finding HTTP/1.1 request boundaries in a client's byte stream, for the HTTP toxics.
//! The bytes are passed on unchanged; only their framing is learnt. Anything this does
//! not understand (a bad or huge head, an upgrade, a CONNECT, an unknown transfer coding)
//! makes it give up for the rest of the connection: the bytes then pass as they are.

use bytes::{Bytes, BytesMut};

/// Longest request head read (actix and most servers refuse far smaller ones).
const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size or trailer line of a chunked body.
const MAX_LINE: usize = 4096;
const MAX_HEADERS: usize = 100;

/// What a request head says about its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadInfo {
    /// `HEAD` requests get no body back.
    pub is_head: bool,
    /// `Connection: close`, or HTTP/1.0 without keep-alive.
    pub close: bool,
}

/// A piece of the request stream.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A whole request head (a request starts here).
    Head(Bytes, HeadInfo),
    /// Bytes of the current request's body (chunked framing included).
    Body(Bytes),
    /// The current request is complete.
    End,
    /// Bytes passed through without framing (after giving up).
    Opaque(Bytes),
}

#[derive(Debug)]
enum Chunked {
    Size {
        line: usize,
        ext: bool,
        size: u64,
        digits: usize,
    },
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    Trailer {
        line: usize,
    },
    TrailerLf {
        line: usize,
    },
}

#[derive(Debug)]
enum State {
    Head,
    Body(u64),
    Chunked(Chunked),
    Opaque,
}

/// Frames one direction's requests.
#[derive(Debug)]
pub struct RequestFramer {
    state: State,
    buf: BytesMut,
}

impl Default for RequestFramer {
    fn default() -> Self {
        Self {
            state: State::Head,
            buf: BytesMut::new(),
        }
    }
}

enum Length {
    Fixed(u64),
    Chunked,
    Unknown,
}

fn parse_head(head: &[u8]) -> Option<(HeadInfo, Length, bool)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let method = req.method?;
    let version = req.version?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut other_coding = false;
    let mut upgrade = method.eq_ignore_ascii_case("CONNECT");
    let mut close = version == 0;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).ok()?.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.parse().ok()?;
            if length.is_some_and(|l| l != n) {
                return None;
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            chunked = last.eq_ignore_ascii_case("chunked");
            other_coding = !chunked;
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade = true;
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == 0 {
                    close = false;
                }
            }
        }
    }
    let length = if other_coding {
        Length::Unknown
    } else if chunked {
        Length::Chunked
    } else {
        Length::Fixed(length.unwrap_or(0))
    };
    let info = HeadInfo {
        is_head: method.eq_ignore_ascii_case("HEAD"),
        close,
    };
    Some((info, length, upgrade))
}

impl RequestFramer {
    /// Frames `data`, appending what it found to `out`.
    pub fn feed(&mut self, data: Bytes, out: &mut Vec<Frame>) {
        if matches!(self.state, State::Opaque) {
            out.push(Frame::Opaque(data));
            return;
        }
        self.buf.extend_from_slice(&data);
        while !self.buf.is_empty() {
            match &mut self.state {
                State::Opaque => {
                    out.push(Frame::Opaque(self.buf.split().freeze()));
                }
                State::Head => {
                    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut req = httparse::Request::new(&mut headers);
                    match req.parse(&self.buf) {
                        Ok(httparse::Status::Complete(n)) => {
                            let head = self.buf.split_to(n).freeze();
                            match parse_head(&head) {
                                Some((info, length, upgrade)) => {
                                    out.push(Frame::Head(head, info));
                                    self.state = match length {
                                        _ if upgrade => State::Opaque,
                                        Length::Unknown => State::Opaque,
                                        Length::Chunked => State::Chunked(Chunked::Size {
                                            line: 0,
                                            ext: false,
                                            size: 0,
                                            digits: 0,
                                        }),
                                        Length::Fixed(0) => {
                                            out.push(Frame::End);
                                            State::Head
                                        }
                                        Length::Fixed(n) => State::Body(n),
                                    };
                                }
                                None => {
                                    out.push(Frame::Opaque(head));
                                    self.state = State::Opaque;
                                }
                            }
                        }
                        Ok(httparse::Status::Partial) if self.buf.len() <= MAX_HEAD => return,
                        _ => self.state = State::Opaque,
                    }
                }
                State::Body(remaining) => {
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    *remaining -= n as u64;
                    let done = *remaining == 0;
                    out.push(Frame::Body(self.buf.split_to(n).freeze()));
                    if done {
                        out.push(Frame::End);
                        self.state = State::Head;
                    }
                }
                State::Chunked(_) => self.chunked(out),
            }
        }
    }

    /// At the end of the stream: whatever is still held passes on.
    pub fn flush(&mut self, out: &mut Vec<Frame>) {
        if !self.buf.is_empty() {
            out.push(Frame::Opaque(self.buf.split().freeze()));
        }
        self.state = State::Opaque;
    }

    /// Walks a chunked body through `buf`, emitting what it consumed as one Body frame.
    fn chunked(&mut self, out: &mut Vec<Frame>) {
        let State::Chunked(mut c) = std::mem::replace(&mut self.state, State::Opaque) else {
            return;
        };
        let mut i = 0;
        let buf = &self.buf;
        let mut ended = false;
        let mut broken = false;
        while i < buf.len() && !ended && !broken {
            let b = buf[i];
            c = match c {
                Chunked::Data(rem) => {
                    let n = usize::try_from(rem)
                        .unwrap_or(usize::MAX)
                        .min(buf.len() - i);
                    i += n;
                    let rem = rem - n as u64;
                    if rem == 0 {
                        Chunked::DataCr
                    } else {
                        Chunked::Data(rem)
                    }
                }
                Chunked::Size {
                    line,
                    ext,
                    size,
                    digits,
                } => {
                    i += 1;
                    if line >= MAX_LINE {
                        broken = true;
                        Chunked::DataCr
                    } else if b == b'\r' {
                        if digits == 0 {
                            broken = true;
                        }
                        Chunked::SizeLf { size }
                    } else if ext || b == b';' || b == b' ' || b == b'\t' {
                        Chunked::Size {
                            line: line + 1,
                            ext: true,
                            size,
                            digits,
                        }
                    } else if let Some(d) = (b as char).to_digit(16) {
                        match size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(d)))
                        {
                            Some(size) => Chunked::Size {
                                line: line + 1,
                                ext,
                                size,
                                digits: digits + 1,
                            },
                            None => {
                                broken = true;
                                Chunked::DataCr
                            }
                        }
                    } else {
                        broken = true;
                        Chunked::DataCr
                    }
                }
                Chunked::SizeLf { size } => {
                    i += 1;
                    if b != b'\n' {
                        broken = true;
                    }
                    if size == 0 {
                        Chunked::Trailer { line: 0 }
                    } else {
                        Chunked::Data(size)
                    }
                }
                Chunked::DataCr => {
                    i += 1;
                    if b != b'\r' {
                        broken = true;
                    }
                    Chunked::DataLf
                }
                Chunked::DataLf => {
                    i += 1;
                    if b != b'\n' {
                        broken = true;
                    }
                    Chunked::Size {
                        line: 0,
                        ext: false,
                        size: 0,
                        digits: 0,
                    }
                }
                Chunked::Trailer { line } => {
                    i += 1;
                    if line >= MAX_LINE {
                        broken = true;
                    }
                    if b == b'\r' {
                        Chunked::TrailerLf { line }
                    } else {
                        Chunked::Trailer { line: line + 1 }
                    }
                }
                Chunked::TrailerLf { line } => {
                    i += 1;
                    if b != b'\n' {
                        broken = true;
                    }
                    if line == 0 {
                        ended = true;
                    }
                    Chunked::Trailer { line: 0 }
                }
            };
        }
        let consumed = self.buf.split_to(i).freeze();
        if broken {
            out.push(Frame::Opaque(consumed));
            self.state = State::Opaque;
            return;
        }
        out.push(Frame::Body(consumed));
        if ended {
            out.push(Frame::End);
            self.state = State::Head;
        } else {
            self.state = State::Chunked(c);
        }
    }
}

/// The response an `http_status` toxic writes for a request it answers.
pub fn answer(status: u16, body: &str, headers: &[(String, String)], info: HeadInfo) -> Bytes {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    let mut has_type = false;
    for (name, value) in headers {
        has_type |= name.eq_ignore_ascii_case("content-type");
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_type {
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    }
    if info.close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    if !info.is_head {
        out.push_str(body);
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Vec<Frame> {
        let mut f = RequestFramer::default();
        let mut out = Vec::new();
        for p in parts {
            f.feed(Bytes::copy_from_slice(p), &mut out);
        }
        out
    }

    fn heads(out: &[Frame]) -> usize {
        out.iter().filter(|f| matches!(f, Frame::Head(..))).count()
    }

    #[test]
    fn pipelined_requests_split_at_their_boundaries() {
        let out = frames(&[b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n\r\n"]);
        assert_eq!(heads(&out), 3);
        assert_eq!(out.iter().filter(|f| **f == Frame::End).count(), 3);
        assert!(out.contains(&Frame::Body(Bytes::from_static(b"abc"))));
    }

    #[test]
    fn heads_and_bodies_split_across_reads() {
        let out = frames(&[
            b"POST / HTTP/1.1\r\nContent-Le",
            b"ngth: 4\r\n\r\nab",
            b"cd",
            b"GET / HTTP/1.1\r\n\r\n",
        ]);
        assert_eq!(heads(&out), 2);
        assert_eq!(out.iter().filter(|f| **f == Frame::End).count(), 2);
    }

    #[test]
    fn chunked_bodies_end_after_the_trailer() {
        let out = frames(&[
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n",
            b"0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        ]);
        assert_eq!(heads(&out), 2);
        assert_eq!(out.iter().filter(|f| **f == Frame::End).count(), 2);
        assert!(!out.iter().any(|f| matches!(f, Frame::Opaque(_))));
    }

    #[test]
    fn what_is_not_http_passes_opaque() {
        let out = frames(&[b"\x16\x03\x01 binary\r\n\r\n", b"more"]);
        assert_eq!(heads(&out), 0);
        assert!(out.iter().all(|f| matches!(f, Frame::Opaque(_))));
        let out = frames(&[b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", b"frames"]);
        assert_eq!(heads(&out), 1);
        assert_eq!(
            out.last(),
            Some(&Frame::Opaque(Bytes::from_static(b"frames")))
        );
    }

    #[test]
    fn answers_carry_length_and_no_body_for_head() {
        let info = HeadInfo {
            is_head: false,
            close: false,
        };
        let a = answer(503, "down", &[("Retry-After".into(), "1".into())], info);
        assert_eq!(
            &a[..],
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\ndown"
        );
        let a = answer(
            500,
            "x",
            &[],
            HeadInfo {
                is_head: true,
                close: true,
            },
        );
        assert!(a.ends_with(b"Connection: close\r\nContent-Length: 1\r\n\r\n"));
    }
}
