//! Streaming decoders: bytes in, [`Event`]s out (RFC 9112 §6, §7.1).
//!
//! Feed what the connection delivered with `push`, then call `poll` until it returns
//! `Ok(None)` (the drain rule): each message comes out as [`Event::Head`], any number of
//! [`Event::Data`], [`Event::Trailers`] if a chunked body had some, then [`Event::End`].
//! Several pipelined messages in one push come out one after the other. When the peer closes,
//! call `finish` and poll again: a body delimited by the close ends, a message cut short is an
//! [`HttpError`] with [`Reason::Truncated`].
//!
//! ```
//! use signaling::http::{Event, Limits, RequestDecoder};
//! let mut d = RequestDecoder::new(Limits::default());
//! d.push(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
//! let mut body = Vec::new();
//! while let Some(event) = d.poll().unwrap() {
//!     match event {
//!         Event::Head(head) => assert_eq!(head.method(), "POST"),
//!         Event::Data(data) => body.extend_from_slice(&data),
//!         Event::Trailers(_) => {}
//!         Event::End => break,
//!     }
//! }
//! assert_eq!(body, b"abc");
//! ```
//!
//! After an error the decoder keeps returning it: the connection must be closed (answer
//! [`HttpError::status`] first where that is possible). After a message that does not keep the
//! connection alive (`Connection: close`, HTTP/1.0 without keep-alive, a body delimited by the
//! close, a `101 Switching Protocols`) it returns `Ok(None)` for ever and leaves what followed
//! in [`RequestDecoder::buffered`]: nothing after such a message is read as HTTP.

use std::collections::VecDeque;

use super::error::{HttpError, Reason};
use super::head::{
    parse_trailers, Framing, Headers, Limits, RequestHead, ResponseHead, Scan, Side,
};

/// One step of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<H> {
    /// The head: start line and header fields.
    Head(H),
    /// Body bytes (chunked framing removed); never empty.
    Data(Vec<u8>),
    /// Trailer fields after a chunked body; only when there are some.
    Trailers(Headers),
    /// The message is complete.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a head.
    Head,
    /// `n` body bytes to go.
    Length(u64),
    /// Waiting for a chunk-size line.
    ChunkSize,
    /// `n` bytes of the current chunk to go.
    ChunkData(u64),
    /// Waiting for the CRLF after chunk data.
    ChunkEnd,
    /// Waiting for the trailer section.
    Trailers,
    /// The body runs until the close.
    UntilClose,
    /// The message is done: yield [`Event::End`].
    End,
    /// No more messages on this connection.
    Closed,
}

/// What the two decoders share: the buffer and the body state machine.
#[derive(Clone, Debug)]
struct Core {
    limits: Limits,
    side: Side,
    buf: Vec<u8>,
    eof: bool,
    state: State,
    scan: Scan,
    body_seen: u64,
    keep_alive: bool,
    failed: Option<HttpError>,
}

/// A body step for the wrappers to map into [`Event`].
enum Step {
    Data(Vec<u8>),
    Trailers(Headers),
    End,
}

impl Core {
    fn new(limits: Limits, side: Side) -> Self {
        Self {
            limits,
            side,
            buf: Vec::new(),
            eof: false,
            state: State::Head,
            scan: Scan::new(true),
            body_seen: 0,
            keep_alive: true,
            failed: None,
        }
    }

    fn consume(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n.min(self.buf.len())).collect()
    }

    /// The length of the head at the front of the buffer, once it is all there.
    fn find_head(&mut self) -> Result<Option<usize>, Reason> {
        // RFC 9112 §2.2: empty lines before the start line are ignored
        if self.scan == Scan::new(true) {
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if self.buf == b"\r" && !self.eof {
                return Ok(None);
            }
        }
        match self.scan.feed(&self.buf, &self.limits, self.side)? {
            Some(len) => Ok(Some(len)),
            None if self.eof => {
                if self.buf.is_empty() {
                    self.state = State::Closed;
                    Ok(None)
                } else {
                    Err(Reason::Truncated)
                }
            }
            None => Ok(None),
        }
    }

    /// Starts the body of a message whose head (`len` bytes) has been parsed.
    fn begin(&mut self, len: usize, framing: Framing, keep_alive: bool) {
        self.consume(len);
        self.scan = Scan::new(true);
        self.body_seen = 0;
        self.keep_alive = keep_alive;
        self.state = match framing {
            Framing::Empty | Framing::Length(0) => State::End,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
    }

    /// Takes up to `n` body bytes.
    fn take(&mut self, n: u64) -> Result<Option<Vec<u8>>, Reason> {
        if self.buf.is_empty() {
            return if self.eof {
                Err(Reason::Truncated)
            } else {
                Ok(None)
            };
        }
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(self.buf.len());
        Ok(Some(self.consume(n)))
    }

    fn body(&mut self) -> Result<Option<Step>, Reason> {
        loop {
            match self.state {
                State::Head | State::Closed => return Ok(None),
                State::End => {
                    self.state = if self.keep_alive {
                        State::Head
                    } else {
                        State::Closed
                    };
                    return Ok(Some(Step::End));
                }
                State::Length(n) => {
                    let Some(data) = self.take(n)? else {
                        return Ok(None);
                    };
                    let left = n - data.len() as u64;
                    self.state = if left == 0 {
                        State::End
                    } else {
                        State::Length(left)
                    };
                    return Ok(Some(Step::Data(data)));
                }
                State::UntilClose => {
                    if self.buf.is_empty() && self.eof {
                        self.keep_alive = false;
                        self.state = State::End;
                        continue;
                    }
                    let Some(data) = self.take(u64::MAX)? else {
                        return Ok(None);
                    };
                    self.body_seen += data.len() as u64;
                    if self.body_seen > self.limits.max_body {
                        return Err(Reason::BodyTooLarge);
                    }
                    return Ok(Some(Step::Data(data)));
                }
                State::ChunkSize => {
                    let Some(size) = self.chunk_size()? else {
                        return Ok(None);
                    };
                    if size == 0 {
                        self.scan = Scan::new(false);
                        self.state = State::Trailers;
                        continue;
                    }
                    if size > self.limits.max_body.saturating_sub(self.body_seen) {
                        return Err(Reason::BodyTooLarge);
                    }
                    self.body_seen += size;
                    self.state = State::ChunkData(size);
                }
                State::ChunkData(n) => {
                    let Some(data) = self.take(n)? else {
                        return Ok(None);
                    };
                    let left = n - data.len() as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left)
                    };
                    return Ok(Some(Step::Data(data)));
                }
                State::ChunkEnd => match self.buf.get(..2) {
                    Some(b"\r\n") => {
                        self.consume(2);
                        self.state = State::ChunkSize;
                    }
                    Some(_) => return Err(Reason::BadChunkEnd),
                    None if self.buf.first().is_some_and(|&b| b != b'\r') => {
                        return Err(Reason::BadChunkEnd)
                    }
                    None if self.eof => return Err(Reason::Truncated),
                    None => return Ok(None),
                },
                State::Trailers => {
                    let Some(len) = self.scan.feed(&self.buf, &self.limits, self.side)? else {
                        return if self.eof {
                            Err(Reason::Truncated)
                        } else {
                            Ok(None)
                        };
                    };
                    let section = self.consume(len);
                    self.scan = Scan::new(true);
                    self.state = State::End;
                    let trailers = parse_trailers(&section)?;
                    if !trailers.is_empty() {
                        return Ok(Some(Step::Trailers(trailers)));
                    }
                }
            }
        }
    }

    /// `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1): the size once the line is all there.
    /// Extensions are checked for control characters and bounded by the line limit, then
    /// ignored.
    fn chunk_size(&mut self) -> Result<Option<u64>, Reason> {
        let window = self
            .buf
            .get(..self.buf.len().min(self.limits.max_chunk_line + 2))
            .unwrap_or_default();
        let Some(lf) = window.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > self.limits.max_chunk_line + 1 {
                return Err(Reason::BadChunkSize);
            }
            return if self.eof {
                Err(Reason::Truncated)
            } else {
                Ok(None)
            };
        };
        let line = match lf.checked_sub(1).and_then(|cr| window.get(..=cr)) {
            Some([line @ .., b'\r']) => line,
            _ => return Err(Reason::BadChunkSize),
        };
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(Reason::BadChunkSize);
        }
        let mut size: u64 = 0;
        for &d in line.get(..digits).unwrap_or_default() {
            let v = char::from(d).to_digit(16).unwrap_or(0);
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(v)))
                .ok_or(Reason::BadChunkSize)?;
        }
        let ext = line.get(digits..).unwrap_or_default();
        let ext_start = ext.iter().position(|&b| b != b' ' && b != b'\t');
        let ext_ok = match ext_start.and_then(|i| ext.get(i..)) {
            None => true,
            Some(e) => {
                e.first() == Some(&b';')
                    && e.iter()
                        .all(|&b| b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80)
            }
        };
        if !ext_ok {
            return Err(Reason::BadChunkSize);
        }
        self.consume(lf + 1);
        Ok(Some(size))
    }
}

fn step<H>(s: Step) -> Event<H> {
    match s {
        Step::Data(d) => Event::Data(d),
        Step::Trailers(t) => Event::Trailers(t),
        Step::End => Event::End,
    }
}

/// Reads requests from a client connection.
#[derive(Clone, Debug)]
pub struct RequestDecoder {
    core: Core,
}

impl RequestDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            core: Core::new(limits, Side::Request),
        }
    }

    /// Bytes the connection delivered.
    pub fn push(&mut self, data: &[u8]) {
        self.core.buf.extend_from_slice(data);
    }

    /// The peer closed its side: no more bytes will come.
    pub fn finish(&mut self) {
        self.core.eof = true;
    }

    /// The next event, or `Ok(None)` when more bytes (or [`finish`](Self::finish)) are needed,
    /// or when the connection carries no more requests. An error is final: answer its status
    /// and close.
    pub fn poll(&mut self) -> Result<Option<Event<RequestHead>>, HttpError> {
        if let Some(e) = self.core.failed {
            return Err(e);
        }
        self.poll_inner().map_err(|r| {
            let e = HttpError::request(r);
            self.core.failed = Some(e);
            e
        })
    }

    fn poll_inner(&mut self) -> Result<Option<Event<RequestHead>>, Reason> {
        if self.core.state != State::Head {
            return Ok(self.core.body()?.map(step));
        }
        let Some(len) = self.core.find_head()? else {
            return Ok(None);
        };
        let bytes = self.core.buf.get(..len).unwrap_or_default();
        let head = RequestHead::parse_scanned(bytes, &self.core.limits)?;
        self.core.begin(len, head.framing(), head.keep_alive());
        Ok(Some(Event::Head(head)))
    }

    /// Bytes received and not yet turned into events: after the last message of a connection,
    /// whatever the peer sent beyond it.
    pub fn buffered(&self) -> &[u8] {
        &self.core.buf
    }

    /// Whether the connection carries no more requests (after `Connection: close`, the end of
    /// input, or an error).
    pub fn is_closed(&self) -> bool {
        self.core.state == State::Closed || self.core.failed.is_some()
    }
}

/// Reads responses from a server connection, each matched to the request it answers.
#[derive(Clone, Debug)]
pub struct ResponseDecoder {
    core: Core,
    methods: VecDeque<String>,
}

impl ResponseDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            core: Core::new(limits, Side::Response),
            methods: VecDeque::new(),
        }
    }

    /// A request with `method` was sent on the connection: the next final response answers it
    /// (a response to HEAD has no body).
    pub fn expect(&mut self, method: &str) {
        self.methods.push_back(method.to_owned());
    }

    /// Bytes the connection delivered.
    pub fn push(&mut self, data: &[u8]) {
        self.core.buf.extend_from_slice(data);
    }

    /// The server closed its side: a body delimited by the close ends here.
    pub fn finish(&mut self) {
        self.core.eof = true;
    }

    /// The next event, as [`RequestDecoder::poll`]. Interim (1xx) responses come out as a head
    /// and an end each, before the final response to the same request. After a 101 the
    /// connection is no longer HTTP: the decoder stops and [`buffered`](Self::buffered) holds
    /// what followed.
    pub fn poll(&mut self) -> Result<Option<Event<ResponseHead>>, HttpError> {
        if let Some(e) = self.core.failed {
            return Err(e);
        }
        self.poll_inner().map_err(|r| {
            let e = HttpError::response(r);
            self.core.failed = Some(e);
            e
        })
    }

    fn poll_inner(&mut self) -> Result<Option<Event<ResponseHead>>, Reason> {
        if self.core.state != State::Head {
            return Ok(self.core.body()?.map(step));
        }
        let Some(len) = self.core.find_head()? else {
            return Ok(None);
        };
        let method = self.methods.front().ok_or(Reason::UnexpectedResponse)?;
        let bytes = self.core.buf.get(..len).unwrap_or_default();
        let head = ResponseHead::parse_scanned(bytes, &self.core.limits, method)?;
        let status = head.status();
        if !(100..200).contains(&status) {
            self.methods.pop_front();
        }
        let keep_alive = status != 101 && head.keep_alive();
        self.core.begin(len, head.framing(), keep_alive);
        Ok(Some(Event::Head(head)))
    }

    /// Bytes received and not yet turned into events.
    pub fn buffered(&self) -> &[u8] {
        &self.core.buf
    }

    /// Whether the connection carries no more responses.
    pub fn is_closed(&self) -> bool {
        self.core.state == State::Closed || self.core.failed.is_some()
    }
}
