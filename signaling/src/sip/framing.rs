//! Stream framing for SIP over TLS and TCP (RFC 3261 §18.3), with the CRLF keepalives of
//! RFC 5626 §3.5.1.
//!
//! A [`Framer`] looks at the front of the bytes a flow has delivered and says what is there:
//! a whole message and its length ([`Frame::Message`]), a keepalive ([`Frame::Ping`],
//! [`Frame::Pong`]), or not enough yet ([`Frame::Incomplete`]). It never copies or consumes: the
//! caller drains [`Frame::len`] bytes from the front of its buffer after each frame, and hands a
//! message's bytes to [`Message::parse`](super::Message::parse).
//!
//! A message ends at the empty line after its header fields plus Content-Length bytes of body.
//! On a stream Content-Length is mandatory, so a message without it, with two of them
//! (RFC 4475 §3.3.9), or with one that is not a number (§3.1.2.3) cannot be framed: the flow
//! must be closed ([`FramingError`]). So must a flow whose header section or body would
//! exceed the [`Limits`]; the body limit is checked as soon as the header section is complete,
//! before the body arrives.
//!
//! Keepalives: a client pings with a double CRLF and the server answers with one CRLF (the
//! pong). The two are told apart by [`Role`]: a server reads `CRLF CRLF` as a ping (and waits on
//! a lone CRLF, which may be half of one), a client reads each CRLF as a pong. A server also
//! drops a lone CRLF before a start line (RFC 3261 §7.5) by returning it as a pong.

use core::fmt;

use super::header::HeaderKind;
use super::lex;

/// Size limits for one message on a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes from the start line to the empty line after the header fields, inclusive.
    pub max_header: usize,
    /// Most body bytes.
    pub max_body: usize,
}

impl Default for Limits {
    /// 16 KiB of header section (a Jabber REGISTER through MRA is about 2 KiB), 64 KiB of body.
    fn default() -> Self {
        Self {
            max_header: 16 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// Which end of the flow this framer reads for (RFC 5626 §3.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The end that receives pings (`CRLF CRLF`) and answers them: the edge facing clients.
    Server,
    /// The end that sends pings and receives pongs (`CRLF`).
    Client,
}

/// What is at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Frame {
    /// Not a whole frame yet: read more.
    Incomplete,
    /// A message of `len` bytes: parse them, then drain them.
    Message {
        /// Bytes from the start line to the end of the body.
        len: usize,
    },
    /// A ping (`CRLF CRLF`, 4 bytes): answer with a pong (`CRLF`).
    Ping,
    /// A pong, or a stray CRLF before a start line (`CRLF`, 2 bytes).
    Pong,
}

impl Frame {
    /// How many bytes to drain from the front of the buffer.
    pub const fn len(&self) -> usize {
        match self {
            Frame::Incomplete => 0,
            Frame::Message { len } => *len,
            Frame::Ping => 4,
            Frame::Pong => 2,
        }
    }

    /// Whether there is nothing to drain ([`Frame::Incomplete`]).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a stream cannot be framed; the flow must be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FramingError {
    /// No empty line within [`Limits::max_header`] bytes.
    HeaderTooLarge,
    /// Content-Length over [`Limits::max_body`].
    BodyTooLarge,
    /// The header section has no Content-Length.
    MissingContentLength,
    /// A Content-Length value is not `1*DIGIT` up to 2^32-1 (`-999`, `five`, `0, 0`).
    BadContentLength,
    /// More than one Content-Length field.
    DuplicateContentLength,
}

impl FramingError {
    /// A short label for counters.
    pub const fn reason(self) -> &'static str {
        match self {
            FramingError::HeaderTooLarge => "header_too_large",
            FramingError::BodyTooLarge => "body_too_large",
            FramingError::MissingContentLength => "missing_content_length",
            FramingError::BadContentLength => "bad_content_length",
            FramingError::DuplicateContentLength => "duplicate_content_length",
        }
    }
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramingError::HeaderTooLarge => "header section over the size limit",
            FramingError::BodyTooLarge => "body over the size limit",
            FramingError::MissingContentLength => "no Content-Length on a stream",
            FramingError::BadContentLength => "malformed Content-Length",
            FramingError::DuplicateContentLength => "more than one Content-Length",
        })
    }
}

impl std::error::Error for FramingError {}

/// Finds frames at the front of a stream buffer.
///
/// It remembers how far it has searched for the end of the header section, and the length of a
/// message whose body is still arriving, so that bytes trickling in are not scanned again and
/// again. That memory assumes the front of the buffer stays as it was between calls until a
/// frame is returned and drained; after a frame it starts afresh.
#[derive(Clone, Debug)]
pub struct Framer {
    limits: Limits,
    role: Role,
    /// Bytes already searched for `CRLF CRLF` without finding it.
    scanned: usize,
    /// The length of the message at the front, once its header section is complete.
    pending: Option<usize>,
}

impl Framer {
    /// A framer with these limits for this end of the flow.
    pub const fn new(limits: Limits, role: Role) -> Self {
        Self {
            limits,
            role,
            scanned: 0,
            pending: None,
        }
    }

    fn found(&mut self, frame: Frame) -> Result<Frame, FramingError> {
        self.scanned = 0;
        self.pending = None;
        Ok(frame)
    }

    /// What is at the front of `buf`. After a frame other than [`Frame::Incomplete`], drain
    /// [`Frame::len`] bytes before calling again. After an error the flow is unusable.
    pub fn next(&mut self, buf: &[u8]) -> Result<Frame, FramingError> {
        if let Some(len) = self.pending {
            return if buf.len() >= len {
                self.found(Frame::Message { len })
            } else {
                Ok(Frame::Incomplete)
            };
        }
        if buf.starts_with(b"\r\n") {
            return match (self.role, buf.get(2..4)) {
                (Role::Client, _) => self.found(Frame::Pong),
                (Role::Server, Some(b"\r\n")) => self.found(Frame::Ping),
                (Role::Server, Some(_)) => self.found(Frame::Pong),
                // "\r\n" or "\r\n\r": maybe a ping still arriving
                (Role::Server, None) if buf.get(2).is_none_or(|&b| b == b'\r') => {
                    Ok(Frame::Incomplete)
                }
                (Role::Server, None) => self.found(Frame::Pong),
            };
        }
        let window = buf
            .get(..buf.len().min(self.limits.max_header))
            .unwrap_or_default();
        let from = self.scanned.saturating_sub(3);
        let end = window
            .get(from..)
            .and_then(|w| w.windows(4).position(|w| w == b"\r\n\r\n"));
        let Some(end) = end.map(|i| from + i + 4) else {
            if buf.len() >= self.limits.max_header {
                return Err(FramingError::HeaderTooLarge);
            }
            self.scanned = buf.len();
            return Ok(Frame::Incomplete);
        };
        let body = usize::try_from(content_length(window.get(..end).unwrap_or_default())?)
            .map_err(|_| FramingError::BodyTooLarge)?;
        if body > self.limits.max_body {
            return Err(FramingError::BodyTooLarge);
        }
        let len = end + body;
        if buf.len() >= len {
            self.found(Frame::Message { len })
        } else {
            self.scanned = 0;
            self.pending = Some(len);
            Ok(Frame::Incomplete)
        }
    }
}

/// The Content-Length of a header section (start line to the empty line, inclusive).
fn content_length(header: &[u8]) -> Result<u32, FramingError> {
    let crlf = |from: usize| {
        header
            .get(from..)
            .and_then(|h| h.windows(2).position(|w| w == b"\r\n"))
            .map(|i| from + i)
    };
    let mut found = None;
    let mut pos = crlf(0).map_or(header.len(), |i| i + 2);
    while let Some(mut end) = crlf(pos) {
        if end == pos {
            break;
        }
        while header.get(end + 2).is_some_and(|&b| lex::is_wsp(b)) {
            match crlf(end + 2) {
                Some(e) => end = e,
                None => break,
            }
        }
        let line = header.get(pos..end).unwrap_or_default();
        pos = end + 2;
        let name_end = line
            .iter()
            .position(|&b| !lex::is_token(b))
            .unwrap_or(line.len());
        if HeaderKind::from_name(line.get(..name_end).unwrap_or_default())
            != HeaderKind::ContentLength
        {
            continue;
        }
        let rest = line.get(name_end..).unwrap_or_default();
        let Some(colon) = rest
            .iter()
            .position(|&b| !lex::is_wsp(b))
            .filter(|&i| rest.get(i) == Some(&b':'))
        else {
            continue;
        };
        let n = lex::content_length(rest.get(colon + 1..).unwrap_or_default())
            .ok_or(FramingError::BadContentLength)?;
        if found.replace(n).is_some() {
            return Err(FramingError::DuplicateContentLength);
        }
    }
    found.ok_or(FramingError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Message;

    const MSG: &[u8] = b"MESSAGE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-1\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: m1\r\n\
CSeq: 1 MESSAGE\r\n\
Content-Type: text/plain\r\n\
l:\r\n 12\r\n\
\r\n\
Hello\r\n\r\nBob";

    fn server() -> Framer {
        Framer::new(Limits::default(), Role::Server)
    }

    /// Every frame of `stream` in order, the stream delivered in chunks of `chunk` bytes.
    fn frames(
        stream: &[u8],
        chunk: usize,
        role: Role,
    ) -> Result<Vec<(Frame, Vec<u8>)>, FramingError> {
        let mut f = Framer::new(Limits::default(), role);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for part in stream.chunks(chunk.max(1)) {
            buf.extend_from_slice(part);
            loop {
                let frame = f.next(&buf)?;
                if frame.is_empty() {
                    break;
                }
                out.push((frame, buf.drain(..frame.len()).collect()));
            }
        }
        assert!(buf.is_empty() || f.next(&buf)? == Frame::Incomplete);
        Ok(out)
    }

    #[test]
    fn one_message_split_at_every_byte() {
        for split in 0..=MSG.len() {
            let mut f = server();
            let mut buf = MSG[..split].to_vec();
            if split < MSG.len() {
                assert_eq!(f.next(&buf), Ok(Frame::Incomplete), "split at {split}");
                // a fresh framer agrees with the one that remembers
                assert_eq!(server().next(&buf), Ok(Frame::Incomplete));
                buf.extend_from_slice(&MSG[split..]);
            }
            assert_eq!(
                f.next(&buf),
                Ok(Frame::Message { len: MSG.len() }),
                "split at {split}"
            );
            let m = Message::parse(&buf).unwrap();
            assert_eq!(m.body(), b"Hello\r\n\r\nBob");
        }
        // byte by byte, and in every chunk size
        for chunk in 1..=MSG.len() {
            let got = frames(MSG, chunk, Role::Server).unwrap();
            assert_eq!(
                got,
                [(Frame::Message { len: MSG.len() }, MSG.to_vec())],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn two_messages_and_keepalives_in_one_stream() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(b"\r\n\r\n\r\n\r\n");
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(MSG);
        for chunk in [1, 2, 3, 7, 64, stream.len()] {
            let got = frames(&stream, chunk, Role::Server).unwrap();
            let kinds: Vec<Frame> = got.iter().map(|(f, _)| *f).collect();
            let m = Frame::Message { len: MSG.len() };
            assert_eq!(
                kinds,
                [Frame::Ping, m, m, Frame::Ping, Frame::Ping, Frame::Pong, m],
                "chunk {chunk}"
            );
            for (f, bytes) in &got {
                if let Frame::Message { .. } = f {
                    assert_eq!(bytes, MSG);
                }
            }
        }
    }

    #[test]
    fn keepalives_by_role() {
        let mut s = server();
        assert_eq!(s.next(b"\r\n"), Ok(Frame::Incomplete));
        assert_eq!(s.next(b"\r\n\r"), Ok(Frame::Incomplete));
        assert_eq!(s.next(b"\r\n\r\n"), Ok(Frame::Ping));
        assert_eq!(s.next(b"\r\nINVITE"), Ok(Frame::Pong));
        assert_eq!(s.next(b"\r\nI"), Ok(Frame::Pong));
        let mut c = Framer::new(Limits::default(), Role::Client);
        assert_eq!(c.next(b"\r\n"), Ok(Frame::Pong));
        assert_eq!(c.next(b"\r\n\r\n"), Ok(Frame::Pong));
        let got = frames(b"\r\n\r\n\r\n", 1, Role::Client).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|(f, b)| *f == Frame::Pong && b == b"\r\n"));
        assert_eq!(s.next(b""), Ok(Frame::Incomplete));
        assert_eq!(Frame::Ping.len(), 4);
        assert!(Frame::Incomplete.is_empty());
    }

    fn with_length(line: &str) -> Vec<u8> {
        String::from_utf8_lossy(MSG)
            .replace("l:\r\n 12", line)
            .into_bytes()
    }

    #[test]
    fn content_length_errors() {
        assert_eq!(
            server().next(&with_length("X-Length: 12")),
            Err(FramingError::MissingContentLength)
        );
        assert_eq!(
            server().next(&with_length("Content-Length: -999")),
            Err(FramingError::BadContentLength)
        );
        assert_eq!(
            server().next(&with_length("Content-Length: five")),
            Err(FramingError::BadContentLength)
        );
        assert_eq!(
            server().next(&with_length("Content-Length: 0, 0")),
            Err(FramingError::BadContentLength)
        );
        assert_eq!(
            server().next(&with_length("Content-Length: 13\r\nContent-Length: 5")),
            Err(FramingError::DuplicateContentLength)
        );
        assert_eq!(
            server().next(&with_length("Content-Length: 99999999999")),
            Err(FramingError::BadContentLength)
        );
        let spelled = with_length("CONTENT-LENGTH  :  12");
        assert_eq!(
            server().next(&spelled),
            Ok(Frame::Message { len: spelled.len() })
        );
        // a body cut short is just incomplete on a stream (RFC 4475 §3.1.2.2)
        assert_eq!(
            server().next(&with_length("Content-Length: 9999")),
            Ok(Frame::Incomplete)
        );
    }

    #[test]
    fn limits() {
        let small = Limits {
            max_header: 64,
            max_body: 8,
        };
        let mut f = Framer::new(small, Role::Server);
        assert_eq!(f.next(&[b'A'; 63]), Ok(Frame::Incomplete));
        assert_eq!(f.next(&[b'A'; 64]), Err(FramingError::HeaderTooLarge));
        assert_eq!(
            Framer::new(small, Role::Server).next(MSG),
            Err(FramingError::HeaderTooLarge)
        );
        let roomy = Limits {
            max_header: 4096,
            max_body: 8,
        };
        // the body limit bites as soon as the header section is in, before the body
        let head_end = MSG.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(
            Framer::new(roomy, Role::Server).next(&MSG[..head_end]),
            Err(FramingError::BodyTooLarge)
        );
        let exact = Limits {
            max_header: head_end,
            max_body: 12,
        };
        assert_eq!(
            Framer::new(exact, Role::Server).next(MSG),
            Ok(Frame::Message { len: MSG.len() })
        );
        let one_less = Limits {
            max_header: head_end - 1,
            max_body: 12,
        };
        assert_eq!(
            Framer::new(one_less, Role::Server).next(MSG),
            Err(FramingError::HeaderTooLarge)
        );
    }
}
