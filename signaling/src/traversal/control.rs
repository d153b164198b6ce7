//! The traversal control stream: C asking E for the client-facing media of a call, sans-IO.
//!
//! C's B2BUA anchors every external call leg in two relays: E's, which faces the client and
//! passes SRTP through to the multiplexed traversal pair, and C's, which does the SRTP work. C
//! decides; E allocates what only E has — a client-facing port pair on its public address and a
//! multiplex id on one of its traversal pairs — and answers with them, so that C can write them
//! into the SDP it sends outside and into its own relay's traversal legs. Messages travel on the
//! link's [`StreamKind::CONTROL`](super::frame::StreamKind::CONTROL) stream, requests from C,
//! responses from E carrying the request's id.
//!
//! Wire format (ours: Expressway's is not public), big-endian, one message after another:
//!
//! ```text
//! 0   4  length of what follows (8 ..= MAX_MESSAGE)
//! 4   1  version, 1
//! 5   1  type: 1 Allocate, 2 Release, 129 Allocated, 130 Released, 131 Refused
//! 6   4  request id (C's; echoed by E)
//! 10  …  payload:
//!        Allocate   call u64, streams u8 (1..=MAX_STREAMS)
//!        Release    call u64
//!        Allocated  call u64, family u8 (4|6), E's media address (4|16), count u8, then per
//!                   stream: client RTP port u16, traversal pair (its RTP port) u16, mux id u32
//!        Released   call u64
//!        Refused    call u64, code u8 (1 exhausted, 2 bad request, 3 unknown call,
//!                   4 call limit), retry after in ms u32 (0: none)
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Version written and accepted.
pub const VERSION: u8 = 1;
/// The largest message after its length field.
pub const MAX_MESSAGE: usize = 1024;
/// Streams (m= sections) one call may ask for.
pub const MAX_STREAMS: u8 = 16;

/// One stream E allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamAllocation {
    /// The RTP port clients send to on E's media address (RTCP on the next one).
    pub client_port: u16,
    /// The traversal pair (its RTP port) that carries this stream between E and C.
    pub mux_pair: u16,
    /// The multiplex id of this stream on that pair.
    pub mux_id: u32,
}

/// Why E refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalCode {
    /// No free port pair (retry after the quarantine): C answers 503 with Retry-After.
    Exhausted,
    /// The request made no sense (zero or too many streams).
    BadRequest,
    /// Release of a call E does not have.
    UnknownCall,
    /// E's concurrent call limit.
    CallLimit,
}

impl RefusalCode {
    fn code(self) -> u8 {
        match self {
            RefusalCode::Exhausted => 1,
            RefusalCode::BadRequest => 2,
            RefusalCode::UnknownCall => 3,
            RefusalCode::CallLimit => 4,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        match c {
            1 => Some(RefusalCode::Exhausted),
            2 => Some(RefusalCode::BadRequest),
            3 => Some(RefusalCode::UnknownCall),
            4 => Some(RefusalCode::CallLimit),
            _ => None,
        }
    }
}

/// A control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// C: allocate `streams` client-facing streams for `call`.
    Allocate {
        /// Request id.
        id: u32,
        /// C's call id.
        call: u64,
        /// How many streams (m= sections carried).
        streams: u8,
    },
    /// C: the call ended; free its streams.
    Release {
        /// Request id.
        id: u32,
        /// C's call id.
        call: u64,
    },
    /// E: the streams of `call`.
    Allocated {
        /// The request's id.
        id: u32,
        /// The call.
        call: u64,
        /// E's client-facing media address (for the SDP sent outside).
        address: IpAddr,
        /// One per stream asked for, in order.
        streams: Vec<StreamAllocation>,
    },
    /// E: released.
    Released {
        /// The request's id.
        id: u32,
        /// The call.
        call: u64,
    },
    /// E: refused, with when to try again where that helps.
    Refused {
        /// The request's id.
        id: u32,
        /// The call.
        call: u64,
        /// Why.
        code: RefusalCode,
        /// Milliseconds until a retry may succeed (0: none given).
        retry_after_ms: u32,
    },
}

/// A message that cannot be read: the peer broke the format; the stream must be reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The length is below the fixed part or above [`MAX_MESSAGE`].
    BadLength(u32),
    /// Another version.
    Version(u8),
    /// An unknown type.
    Type(u8),
    /// The payload does not match its type (length, family, count, code).
    Payload(&'static str),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::BadLength(n) => write!(f, "control message length {n} out of range"),
            ControlError::Version(v) => {
                write!(f, "control message version {v}, expected {VERSION}")
            }
            ControlError::Type(t) => write!(f, "unknown control message type {t}"),
            ControlError::Payload(p) => write!(f, "control message payload: {p}"),
        }
    }
}

impl std::error::Error for ControlError {}

const FIXED: usize = 1 + 1 + 4;

struct Reader<'a> {
    b: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ControlError> {
        let (head, rest) = self
            .b
            .split_first_chunk::<N>()
            .ok_or(ControlError::Payload(what))?;
        self.b = rest;
        Ok(*head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ControlError> {
        Ok(self.take::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, ControlError> {
        Ok(u16::from_be_bytes(self.take(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ControlError> {
        Ok(u32::from_be_bytes(self.take(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, ControlError> {
        Ok(u64::from_be_bytes(self.take(what)?))
    }

    fn end(&self) -> Result<(), ControlError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(ControlError::Payload("bytes after the payload"))
        }
    }
}

impl Message {
    /// Appends the message to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.push(VERSION);
        let (ty, id) = match self {
            Message::Allocate { id, .. } => (1, id),
            Message::Release { id, .. } => (2, id),
            Message::Allocated { id, .. } => (129, id),
            Message::Released { id, .. } => (130, id),
            Message::Refused { id, .. } => (131, id),
        };
        out.push(ty);
        out.extend_from_slice(&id.to_be_bytes());
        match self {
            Message::Allocate { call, streams, .. } => {
                out.extend_from_slice(&call.to_be_bytes());
                out.push(*streams);
            }
            Message::Release { call, .. } | Message::Released { call, .. } => {
                out.extend_from_slice(&call.to_be_bytes());
            }
            Message::Allocated {
                call,
                address,
                streams,
                ..
            } => {
                out.extend_from_slice(&call.to_be_bytes());
                match address {
                    IpAddr::V4(a) => {
                        out.push(4);
                        out.extend_from_slice(&a.octets());
                    }
                    IpAddr::V6(a) => {
                        out.push(6);
                        out.extend_from_slice(&a.octets());
                    }
                }
                out.push(u8::try_from(streams.len()).unwrap_or(u8::MAX));
                for s in streams {
                    out.extend_from_slice(&s.client_port.to_be_bytes());
                    out.extend_from_slice(&s.mux_pair.to_be_bytes());
                    out.extend_from_slice(&s.mux_id.to_be_bytes());
                }
            }
            Message::Refused {
                call,
                code,
                retry_after_ms,
                ..
            } => {
                out.extend_from_slice(&call.to_be_bytes());
                out.push(code.code());
                out.extend_from_slice(&retry_after_ms.to_be_bytes());
            }
        }
        let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// The message at the front of `buf` and its length there; `Ok(None)` until all of it is
    /// there.
    pub fn parse(buf: &[u8]) -> Result<Option<(Message, usize)>, ControlError> {
        let Some(len) = buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*len);
        let n = len as usize;
        if !(FIXED..=MAX_MESSAGE).contains(&n) {
            return Err(ControlError::BadLength(len));
        }
        let Some(body) = buf.get(4..4 + n) else {
            return Ok(None);
        };
        let mut r = Reader { b: body };
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(ControlError::Version(version));
        }
        let ty = r.u8("type")?;
        let id = r.u32("id")?;
        let msg = match ty {
            1 => {
                let call = r.u64("call")?;
                let streams = r.u8("streams")?;
                Message::Allocate { id, call, streams }
            }
            2 => Message::Release {
                id,
                call: r.u64("call")?,
            },
            129 => {
                let call = r.u64("call")?;
                let address = match r.u8("family")? {
                    4 => IpAddr::V4(Ipv4Addr::from(r.take::<4>("IPv4 address")?)),
                    6 => IpAddr::V6(Ipv6Addr::from(r.take::<16>("IPv6 address")?)),
                    _ => return Err(ControlError::Payload("address family not 4 or 6")),
                };
                let count = r.u8("count")?;
                if count == 0 || count > MAX_STREAMS {
                    return Err(ControlError::Payload("stream count out of range"));
                }
                let mut streams = Vec::with_capacity(usize::from(count));
                for _ in 0..count {
                    streams.push(StreamAllocation {
                        client_port: r.u16("client port")?,
                        mux_pair: r.u16("traversal pair")?,
                        mux_id: r.u32("mux id")?,
                    });
                }
                Message::Allocated {
                    id,
                    call,
                    address,
                    streams,
                }
            }
            130 => Message::Released {
                id,
                call: r.u64("call")?,
            },
            131 => {
                let call = r.u64("call")?;
                let code = RefusalCode::from_code(r.u8("code")?)
                    .ok_or(ControlError::Payload("unknown refusal code"))?;
                Message::Refused {
                    id,
                    call,
                    code,
                    retry_after_ms: r.u32("retry after")?,
                }
            }
            other => return Err(ControlError::Type(other)),
        };
        r.end()?;
        Ok(Some((msg, 4 + n)))
    }
}

/// E's check of an Allocate before it touches its media plane: the refusal to send, if any.
pub fn check_allocate(streams: u8) -> Option<RefusalCode> {
    (streams == 0 || streams > MAX_STREAMS).then_some(RefusalCode::BadRequest)
}

/// What E allocates with (its media plane): E's driver calls it for each request of the
/// control stream, off the signaling thread (it may wait for media workers).
pub trait MediaAllocator: Send + Sync {
    /// Allocates `streams` client-facing streams for `call`: E's media address and, per stream,
    /// the client port, the traversal pair and the mux id; or the refusal and a retry-after in
    /// milliseconds.
    fn allocate(
        &self,
        call: u64,
        streams: u8,
    ) -> Result<(IpAddr, Vec<StreamAllocation>), (RefusalCode, u32)>;

    /// Frees the streams of `call`.
    fn release(&self, call: u64) -> Result<(), RefusalCode>;

    /// What is allocated now (for status pages and leak checks).
    fn usage(&self) -> MediaUsage {
        MediaUsage::default()
    }

    /// The calls with media now, and the last ones ended (newest first).
    fn calls(&self) -> (Vec<MediaCall>, Vec<MediaCall>) {
        (Vec::new(), Vec::new())
    }
}

/// A call as a media plane saw it (E's status: its one component of the call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaCall {
    /// C's call id.
    pub call: u64,
    /// Streams.
    pub streams: usize,
    /// When its media was allocated.
    pub started: std::time::SystemTime,
    /// How long it had (has) media.
    pub duration: std::time::Duration,
}

/// What a media plane holds now: calls, and the ports they take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaUsage {
    /// Calls with media allocated.
    pub calls: usize,
    /// Legs (two per stream) in the plane.
    pub legs: usize,
    /// Port pairs of the media range in use.
    pub ports_in_use: usize,
}

/// E's answer to one message from C; `None` for a message C must not send (a response).
pub fn serve(request: &Message, allocator: &dyn MediaAllocator) -> Option<Message> {
    match *request {
        Message::Allocate { id, call, streams } => {
            if let Some(code) = check_allocate(streams) {
                return Some(Message::Refused {
                    id,
                    call,
                    code,
                    retry_after_ms: 0,
                });
            }
            Some(match allocator.allocate(call, streams) {
                Ok((address, streams)) => Message::Allocated {
                    id,
                    call,
                    address,
                    streams,
                },
                Err((code, retry_after_ms)) => Message::Refused {
                    id,
                    call,
                    code,
                    retry_after_ms,
                },
            })
        }
        Message::Release { id, call } => Some(match allocator.release(call) {
            Ok(()) => Message::Released { id, call },
            Err(code) => Message::Refused {
                id,
                call,
                code,
                retry_after_ms: 0,
            },
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Message> {
        vec![
            Message::Allocate {
                id: 1,
                call: 0xfeed,
                streams: 2,
            },
            Message::Release { id: 2, call: 7 },
            Message::Allocated {
                id: 1,
                call: 0xfeed,
                address: "198.18.1.1".parse().unwrap(),
                streams: vec![
                    StreamAllocation {
                        client_port: 36002,
                        mux_pair: 36000,
                        mux_id: 1,
                    },
                    StreamAllocation {
                        client_port: 36004,
                        mux_pair: 36000,
                        mux_id: 2,
                    },
                ],
            },
            Message::Allocated {
                id: 9,
                call: 1,
                address: "2001:db8::1".parse().unwrap(),
                streams: vec![StreamAllocation {
                    client_port: 40000,
                    mux_pair: 36002,
                    mux_id: u32::MAX,
                }],
            },
            Message::Released { id: 2, call: 7 },
            Message::Refused {
                id: 3,
                call: 8,
                code: RefusalCode::Exhausted,
                retry_after_ms: 2000,
            },
        ]
    }

    #[test]
    fn every_message_round_trips_and_concatenates() {
        let mut stream = Vec::new();
        for m in all() {
            let b = m.to_bytes();
            assert_eq!(Message::parse(&b), Ok(Some((m.clone(), b.len()))));
            for n in 0..b.len() {
                assert_eq!(Message::parse(&b[..n]), Ok(None), "{m:?} cut at {n}");
            }
            m.write(&mut stream);
        }
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((m, used)) = Message::parse(&stream[at..]).unwrap() {
            got.push(m);
            at += used;
        }
        assert_eq!(got, all());
    }

    #[test]
    fn layout_is_as_documented() {
        let b = Message::Allocate {
            id: 0x0102_0304,
            call: 5,
            streams: 1,
        }
        .to_bytes();
        assert_eq!(
            b,
            [0, 0, 0, 15, 1, 1, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 5, 1]
        );
    }

    #[test]
    fn broken_messages_are_refused_with_the_reason() {
        assert_eq!(
            Message::parse(&[0, 0, 0, 2, 1, 1]),
            Err(ControlError::BadLength(2))
        );
        assert_eq!(
            Message::parse(&[0, 0, 0x10, 0]),
            Err(ControlError::BadLength(4096))
        );
        let mut b = Message::Release { id: 1, call: 1 }.to_bytes();
        b[4] = 2;
        assert_eq!(Message::parse(&b), Err(ControlError::Version(2)));
        b[4] = 1;
        b[5] = 77;
        assert_eq!(Message::parse(&b), Err(ControlError::Type(77)));
        // A trailing byte inside the length.
        let mut b = Message::Release { id: 1, call: 1 }.to_bytes();
        b.push(0);
        b[3] += 1;
        assert_eq!(
            Message::parse(&b),
            Err(ControlError::Payload("bytes after the payload"))
        );
        // Zero streams in an answer, an unknown family, an unknown code.
        let mut a = all()[2].to_bytes();
        a[18] = 5;
        assert!(matches!(Message::parse(&a), Err(ControlError::Payload(_))));
        let mut a = all()[2].to_bytes();
        a[23] = 0;
        assert_eq!(
            Message::parse(&a),
            Err(ControlError::Payload("stream count out of range"))
        );
        let mut r = all()[5].to_bytes();
        r[18] = 9;
        assert_eq!(
            Message::parse(&r),
            Err(ControlError::Payload("unknown refusal code"))
        );
        assert_eq!(check_allocate(0), Some(RefusalCode::BadRequest));
        assert_eq!(check_allocate(17), Some(RefusalCode::BadRequest));
        assert_eq!(check_allocate(2), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..50_000 {
            let mut b = Vec::new();
            let n = (x % 48) as usize;
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            if b.len() >= 4 {
                b[0] = 0;
                b[1] = 0;
                b[2] = 0;
                b[3] = (b.len() - 4) as u8;
            }
            if let Ok(Some((m, _))) = Message::parse(&b) {
                assert_eq!(
                    Message::parse(&m.to_bytes()).map(|o| o.map(|p| p.0)),
                    Ok(Some(m))
                );
            }
        }
    }
}
