//! The envelope SIP travels in between E and C, on the traversal link's SIP stream.
//!
//! E is the only one who sees the client's TLS flow; C is the only one who talks to call control.
//! Each SIP message crossing the traversal is wrapped with the flow it belongs to and the
//! client's address as E saw it, so that C can route requests back to the flow a client
//! registered on (RFC 5626 style flow tokens) without E holding any routing state of its own.
//!
//! Wire format (ours: Expressway's is not public), big-endian, one envelope after another on the
//! stream (the stream is a byte stream: envelopes may arrive split or several in one chunk):
//!
//! ```text
//! offset size
//! 0      4    length of everything after this field (header rest + SIP message), ≤ MAX_ENVELOPE
//! 4      1    version, 1
//! 5      1    kind: 1 from-client (E→C), 2 to-client (C→E), 3 flow-closed (E→C)
//! 6      8    flow id (E's; 0 where none applies)
//! 14     1    address family of the client address: 0 none, 4 IPv4, 6 IPv6
//! 15     0/6/18 the address (4 or 16 octets) and port (2 octets)
//! ...         the SIP message, exactly as framed on the flow (flow-closed: nothing)
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Version written and accepted.
pub const VERSION: u8 = 1;
/// The largest envelope after its length field: a SIP message of up to 64 KiB and the header.
pub const MAX_ENVELOPE: usize = 64 * 1024 + 64;

/// What an envelope carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A message E received on a client's flow (E→C).
    FromClient,
    /// A message for a client's flow (C→E); for a response, E routes by its own Via instead.
    ToClient,
    /// A client's flow closed (E→C): bindings on it can no longer be reached.
    FlowClosed,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::FromClient => 1,
            Kind::ToClient => 2,
            Kind::FlowClosed => 3,
        }
    }

    fn from_code(c: u8) -> Option<Kind> {
        match c {
            1 => Some(Kind::FromClient),
            2 => Some(Kind::ToClient),
            3 => Some(Kind::FlowClosed),
            _ => None,
        }
    }
}

/// One envelope, borrowed from the buffer it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// What it is.
    pub kind: Kind,
    /// E's flow id.
    pub flow: u64,
    /// The client's address as E saw it (from-client, flow-closed).
    pub client: Option<SocketAddr>,
    /// The SIP message.
    pub message: &'a [u8],
}

/// An envelope that cannot be read: the peer broke the format, and the stream must be reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The length field is below the fixed header or above [`MAX_ENVELOPE`].
    BadLength(u32),
    /// Another version.
    Version(u8),
    /// An unknown kind.
    Kind(u8),
    /// An unknown address family.
    Family(u8),
    /// The length is too short for the address it announces.
    Truncated,
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::BadLength(n) => {
                write!(f, "envelope length {n} outside 12..={MAX_ENVELOPE}")
            }
            EnvelopeError::Version(v) => write!(f, "envelope version {v}, expected {VERSION}"),
            EnvelopeError::Kind(k) => write!(f, "unknown envelope kind {k}"),
            EnvelopeError::Family(a) => write!(f, "unknown address family {a}"),
            EnvelopeError::Truncated => f.write_str("envelope shorter than its address"),
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// The fixed part after the length: version, kind, flow, family.
const FIXED: usize = 1 + 1 + 8 + 1;

impl Envelope<'_> {
    /// Appends the envelope to `out`. A message longer than [`MAX_ENVELOPE`] allows is the
    /// caller's bug (the SIP framer limits messages well below it): it is written anyway and the
    /// peer refuses it.
    pub fn write(&self, out: &mut Vec<u8>) {
        let addr_len = match self.client {
            None => 0,
            Some(SocketAddr::V4(_)) => 6,
            Some(SocketAddr::V6(_)) => 18,
        };
        let len = FIXED + addr_len + self.message.len();
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        out.push(VERSION);
        out.push(self.kind.code());
        out.extend_from_slice(&self.flow.to_be_bytes());
        match self.client {
            None => out.push(0),
            Some(a) => {
                match a.ip() {
                    IpAddr::V4(v4) => {
                        out.push(4);
                        out.extend_from_slice(&v4.octets());
                    }
                    IpAddr::V6(v6) => {
                        out.push(6);
                        out.extend_from_slice(&v6.octets());
                    }
                }
                out.extend_from_slice(&a.port().to_be_bytes());
            }
        }
        out.extend_from_slice(self.message);
    }

    /// The envelope at the front of `buf` and its length in `buf`; `Ok(None)` until all of it
    /// is there.
    pub fn parse(buf: &[u8]) -> Result<Option<(Envelope<'_>, usize)>, EnvelopeError> {
        let Some(len) = buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        let n = len as usize;
        if !(FIXED..=MAX_ENVELOPE).contains(&n) {
            return Err(EnvelopeError::BadLength(len));
        }
        let Some(body) = buf.get(4..4 + n) else {
            return Ok(None);
        };
        if body[0] != VERSION {
            return Err(EnvelopeError::Version(body[0]));
        }
        let kind = Kind::from_code(body[1]).ok_or(EnvelopeError::Kind(body[1]))?;
        let mut flow = [0u8; 8];
        flow.copy_from_slice(&body[2..10]);
        let flow = u64::from_be_bytes(flow);
        let rest = &body[FIXED..];
        let (client, message) = match body[10] {
            0 => (None, rest),
            4 => {
                let a = rest.get(..6).ok_or(EnvelopeError::Truncated)?;
                let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
                let port = u16::from_be_bytes([a[4], a[5]]);
                (Some(SocketAddr::new(ip.into(), port)), &rest[6..])
            }
            6 => {
                let a = rest.get(..18).ok_or(EnvelopeError::Truncated)?;
                let mut o = [0u8; 16];
                o.copy_from_slice(&a[..16]);
                let port = u16::from_be_bytes([a[16], a[17]]);
                (
                    Some(SocketAddr::new(Ipv6Addr::from(o).into(), port)),
                    &rest[18..],
                )
            }
            other => return Err(EnvelopeError::Family(other)),
        };
        Ok(Some((
            Envelope {
                kind,
                flow,
                client,
                message,
            },
            4 + n,
        )))
    }

    /// The envelope as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.message.len() + 40);
        self.write(&mut out);
        out
    }
}

/// Reassembles envelopes from the chunks a stream delivers.
#[derive(Debug, Default)]
pub struct EnvelopeReader {
    buf: Vec<u8>,
    start: usize,
}

/// An owned envelope, as [`EnvelopeReader`] hands them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedEnvelope {
    /// What it is.
    pub kind: Kind,
    /// E's flow id.
    pub flow: u64,
    /// The client's address as E saw it.
    pub client: Option<SocketAddr>,
    /// The SIP message.
    pub message: Vec<u8>,
}

impl OwnedEnvelope {
    /// Borrowed view.
    pub fn as_envelope(&self) -> Envelope<'_> {
        Envelope {
            kind: self.kind,
            flow: self.flow,
            client: self.client,
            message: &self.message,
        }
    }
}

impl EnvelopeReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chunk of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete envelope; `Ok(None)` when more bytes are needed. After an error the
    /// stream is unusable.
    pub fn next_envelope(&mut self) -> Result<Option<OwnedEnvelope>, EnvelopeError> {
        let rest = &self.buf[self.start..];
        match Envelope::parse(rest)? {
            None => {
                if self.start > 0 {
                    self.buf.drain(..self.start);
                    self.start = 0;
                }
                Ok(None)
            }
            Some((e, used)) => {
                let owned = OwnedEnvelope {
                    kind: e.kind,
                    flow: e.flow,
                    client: e.client,
                    message: e.message.to_vec(),
                };
                self.start += used;
                Ok(Some(owned))
            }
        }
    }

    /// Bytes held that do not yet make an envelope.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: Kind, client: Option<SocketAddr>, msg: &[u8]) -> Vec<u8> {
        Envelope {
            kind,
            flow: 0x0102_0304_0506_0708,
            client,
            message: msg,
        }
        .to_bytes()
    }

    #[test]
    fn round_trips_every_kind_and_family() {
        let v4: SocketAddr = "198.18.1.10:50612".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::7]:5061".parse().unwrap();
        for kind in [Kind::FromClient, Kind::ToClient, Kind::FlowClosed] {
            for client in [None, Some(v4), Some(v6)] {
                let bytes = sample(kind, client, b"OPTIONS sip:x SIP/2.0\r\n\r\n");
                let (e, used) = Envelope::parse(&bytes).unwrap().unwrap();
                assert_eq!(used, bytes.len());
                assert_eq!(e.kind, kind);
                assert_eq!(e.flow, 0x0102_0304_0506_0708);
                assert_eq!(e.client, client);
                assert_eq!(e.message, b"OPTIONS sip:x SIP/2.0\r\n\r\n");
            }
        }
    }

    #[test]
    fn wire_layout_is_as_documented() {
        let a: SocketAddr = "198.18.1.10:258".parse().unwrap();
        let bytes = sample(Kind::FromClient, Some(a), b"X");
        assert_eq!(
            bytes,
            [0, 0, 0, 18, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 4, 198, 18, 1, 10, 1, 2, b'X']
        );
    }

    #[test]
    fn reader_reassembles_split_and_joined_envelopes() {
        let a = sample(Kind::ToClient, None, b"first");
        let b = sample(
            Kind::FlowClosed,
            Some("198.18.1.11:1".parse().unwrap()),
            b"",
        );
        let mut all = a.clone();
        all.extend_from_slice(&b);
        for split in 0..=all.len() {
            let mut r = EnvelopeReader::new();
            let mut got = Vec::new();
            for chunk in [&all[..split], &all[split..]] {
                r.push(chunk);
                while let Some(e) = r.next_envelope().unwrap() {
                    got.push(e);
                }
            }
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(got[0].message, b"first");
            assert_eq!(got[1].kind, Kind::FlowClosed);
            assert_eq!(r.pending(), 0);
        }
    }

    #[test]
    fn bad_envelopes_are_refused_with_the_reason() {
        assert_eq!(
            Envelope::parse(&[0, 0, 0, 3, 1, 1, 0]),
            Err(EnvelopeError::BadLength(3))
        );
        assert_eq!(
            Envelope::parse(&[0xff, 0xff, 0xff, 0xff]),
            Err(EnvelopeError::BadLength(u32::MAX))
        );
        let mut b = sample(Kind::ToClient, None, b"m");
        b[4] = 9;
        assert_eq!(Envelope::parse(&b), Err(EnvelopeError::Version(9)));
        let mut b = sample(Kind::ToClient, None, b"m");
        b[5] = 7;
        assert_eq!(Envelope::parse(&b), Err(EnvelopeError::Kind(7)));
        let mut b = sample(Kind::ToClient, None, b"m");
        b[14] = 5;
        assert_eq!(Envelope::parse(&b), Err(EnvelopeError::Family(5)));
        let mut b = sample(Kind::ToClient, None, b"m");
        b[14] = 6;
        assert_eq!(Envelope::parse(&b), Err(EnvelopeError::Truncated));
        // incomplete is not an error
        let b = sample(Kind::ToClient, None, b"message");
        for n in 0..b.len() {
            assert_eq!(Envelope::parse(&b[..n]), Ok(None));
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut buf = Vec::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            if buf.len() > 4 {
                buf[0] = 0;
                buf[1] = 0;
            }
            let mut r = EnvelopeReader::new();
            r.push(&buf);
            let _ = r.next_envelope();
        }
    }
}
