//! The traversal link's wire format: frames carried inside the TLS connection that C dials to E.
//!
//! Expressway's own traversal framing is not public; this one is ours. It is written below in the
//! style of an RFC so that another implementation could interoperate with it.
//!
//! # 1. Conventions
//!
//! The key words "MUST", "MUST NOT", "SHOULD" and "MAY" are to be read as in RFC 2119. All integers
//! are unsigned and in network byte order (big-endian). "C" is the end that dialed the TLS
//! connection (the client), "E" the end that accepted it (the server).
//!
//! # 2. Frame layout
//!
//! Every octet a peer writes into the TLS connection belongs to a frame:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +---------------+---------------+-------------------------------+
//! |   Type (8)    |   Flags (8)   |          Length (16)          |
//! +---------------+---------------+-------------------------------+
//! |                        Stream ID (32)                         |
//! +---------------------------------------------------------------+
//! |                    Payload (Length octets)                  ...
//! +---------------------------------------------------------------+
//! ```
//!
//! - Type: one of the values of section 3. A receiver MUST treat an unknown type as a
//!   connection error (the version is agreed in AUTH, so there is nothing to skip).
//! - Flags: none are defined. A sender MUST send 0; a receiver MUST ignore them.
//! - Length: the payload length. A receiver MUST treat a length above the maximum payload it
//!   advertised (section 4, `max_payload`) as a connection error (FRAME_SIZE). Before the
//!   settings are exchanged a receiver enforces its own configured maximum, which MUST be at least
//!   1024.
//! - Stream ID: 0 for link frames (AUTH, AUTH_OK, PROBE, ACK, GOAWAY), non-zero for stream frames
//!   (DATA, OPEN, CLOSE, RESET, WINDOW). A frame with the wrong kind of stream id is malformed.
//!   Streams that C opens have odd ids, streams that E opens have even ids; each end opens its
//!   streams with strictly increasing ids (1, 3, 5… and 2, 4, 6…).
//!
//! # 3. Frame types
//!
//! | type | name    | stream | payload                                             |
//! |------|---------|--------|-----------------------------------------------------|
//! | 0x00 | DATA    | ≠ 0    | stream octets, 0 or more                            |
//! | 0x01 | OPEN    | ≠ 0    | kind (16): what the stream carries (SIP, HTTP…)     |
//! | 0x02 | CLOSE   | ≠ 0    | empty: the sender will send no more DATA (half-close) |
//! | 0x03 | RESET   | ≠ 0    | code (32): the stream is abandoned in both directions |
//! | 0x04 | WINDOW  | ≠ 0    | increment (32), 1 or more: credit for more DATA      |
//! | 0x10 | AUTH    | 0      | version (8), settings (64), user length (8), user, password length (8), password |
//! | 0x11 | AUTH_OK | 0      | version (8), settings (64)                          |
//! | 0x20 | PROBE   | 0      | sequence (64)                                       |
//! | 0x21 | ACK     | 0      | sequence (64), echoed from the PROBE                |
//! | 0x30 | GOAWAY  | 0      | code (32)                                           |
//!
//! A payload whose length does not match its type (a fixed-size payload of another size, AUTH
//! lengths that run past the payload or leave octets over) is malformed.
//!
//! # 4. Authentication and settings
//!
//! C's first frame MUST be AUTH; E's first frame MUST be AUTH_OK or GOAWAY. Until E has sent
//! AUTH_OK, neither end sends any other frame, and a receiver treats any other frame as a
//! connection error (PROTOCOL_ERROR). The user name and the password are UTF-8, the user name 1 to
//! 255 octets, the password 0 to 255. The version is 1; a receiver refuses any other.
//!
//! Settings (64 bits): `max_payload` (16), the largest payload the sender accepts (at least 1024);
//! `max_streams` (16), how many streams opened by the receiver may be open at once toward the
//! sender; `initial_window` (32), the octets of DATA the receiver may send on each new stream
//! before it gets WINDOW credit.
//!
//! E checks the credentials against its local store. On failure it sends GOAWAY(AUTH_FAILED) and
//! closes. E also closes with GOAWAY(SUBJECT_NAME) when C's certificate does not carry the name E
//! is configured to expect (this check happens after the TLS handshake, before AUTH is read).
//!
//! # 5. Streams
//!
//! An end opens a stream with OPEN, then sends DATA, then CLOSE. A stream is finished when both
//! ends have sent CLOSE, or when either has sent RESET. An end receiving OPEN beyond the
//! `max_streams` it advertised, or while it is draining (section 7), answers RESET(REFUSED).
//! Frames for a stream that was open and is now finished are discarded; frames for a stream id
//! that was never opened are a connection error (PROTOCOL_ERROR), and so is an OPEN whose id is
//! not larger than the peer's previous one or has the other end's parity.
//!
//! Flow control: a sender MUST NOT send more DATA on a stream than `initial_window` plus the
//! increments of the WINDOW frames it received for that stream. A receiver that gets more resets
//! the stream with RESET(FLOW_CONTROL) and discards the excess (a stream error, not a link error).
//! Receivers grant credit as their application consumes data.
//!
//! RESET codes: 0 NO_ERROR, 1 CANCEL (the application gave the stream up), 2 REFUSED (too many
//! streams, draining, unknown kind), 3 FLOW_CONTROL, 4 STREAM_CLOSED (DATA after CLOSE),
//! 5 INTERNAL. Other values are passed to the application.
//!
//! # 6. Keepalive
//!
//! After authentication each end sends PROBE at its configured interval with a new sequence
//! number; the other end answers ACK with the same number at once. A probe not acknowledged
//! before the next one is due counts as missed; an end that misses its configured number of
//! consecutive acknowledgements declares the link dead and closes it with GOAWAY(PROBE_TIMEOUT).
//! The time between a PROBE and its ACK is the link's round-trip time.
//!
//! # 7. GOAWAY
//!
//! GOAWAY(NO_ERROR) starts a graceful drain: neither end opens new streams (the receiver of an
//! OPEN answers RESET(REFUSED)), streams already open continue, and the connection is closed when
//! none is left (or when the sender's drain timer fires). Any other code closes the link at once;
//! the sender closes the TLS connection after writing it. Codes: 0 NO_ERROR, 1 PROTOCOL_ERROR,
//! 2 AUTH_FAILED, 3 AUTH_TIMEOUT, 4 SUBJECT_NAME, 5 PROBE_TIMEOUT, 6 FRAME_SIZE, 7 SHUTDOWN,
//! 8 INTERNAL.
//!
//! # Using this module
//!
//! [`parse`] reads one frame from the front of a buffer and says how many octets it used, or how
//! many it needs ([`Parsed::NeedMore`]); it never allocates and never panics on any input.
//! [`Frame::emit`] writes a frame into a caller's buffer.

use core::fmt;

/// Octets in a frame header.
pub const HEADER_LEN: usize = 8;
/// The protocol version carried in AUTH and AUTH_OK.
pub const VERSION: u8 = 1;
/// The smallest `max_payload` an end may advertise or configure.
pub const MIN_MAX_PAYLOAD: u16 = 1024;
/// The `max_payload` used unless configured otherwise.
pub const DEFAULT_MAX_PAYLOAD: u16 = 16384;
/// Octets of the settings block in AUTH and AUTH_OK.
pub const SETTINGS_LEN: usize = 8;
/// The longest user name or password AUTH can carry.
pub const MAX_CREDENTIAL_LEN: usize = 255;

/// Byte ranges of the header fields (smoltcp style).
mod field {
    use core::ops::Range;
    pub(super) const TYPE: usize = 0;
    pub(super) const FLAGS: usize = 1;
    pub(super) const LENGTH: Range<usize> = 2..4;
    pub(super) const STREAM: Range<usize> = 4..8;
}

/// The frame types of section 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// Stream octets.
    Data = 0x00,
    /// Opens a stream.
    Open = 0x01,
    /// Half-closes a stream (no more DATA from the sender).
    Close = 0x02,
    /// Abandons a stream.
    Reset = 0x03,
    /// Grants flow-control credit on a stream.
    Window = 0x04,
    /// C's credentials and settings.
    Auth = 0x10,
    /// E accepted the credentials; E's settings.
    AuthOk = 0x11,
    /// Keepalive probe.
    Probe = 0x20,
    /// Keepalive acknowledgement.
    Ack = 0x21,
    /// Closes or drains the link.
    Goaway = 0x30,
}

impl FrameType {
    /// The type for a wire value, if it is one of ours.
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x00 => Self::Data,
            0x01 => Self::Open,
            0x02 => Self::Close,
            0x03 => Self::Reset,
            0x04 => Self::Window,
            0x10 => Self::Auth,
            0x11 => Self::AuthOk,
            0x20 => Self::Probe,
            0x21 => Self::Ack,
            0x30 => Self::Goaway,
            _ => return None,
        })
    }

    /// Whether the type travels on stream 0 (link frames) rather than on a stream.
    pub fn is_link_frame(self) -> bool {
        matches!(
            self,
            Self::Auth | Self::AuthOk | Self::Probe | Self::Ack | Self::Goaway
        )
    }
}

/// A stream id: odd for streams C opened, even for streams E opened, never 0 on a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u32);

impl StreamId {
    /// Whether the client (C) opened this stream.
    pub fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream {}", self.0)
    }
}

/// What a stream carries, sent in OPEN. Values not listed here are passed to the application,
/// which decides (usually with RESET(REFUSED)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKind(pub u16);

impl StreamKind {
    /// The control stream (media allocation requests from C to E and their answers).
    pub const CONTROL: Self = Self(0);
    /// SIP messages (RFC 3261 stream framing inside the stream).
    pub const SIP: Self = Self(1);
    /// An HTTP/1.1 exchange (E asks C to fetch from an inside server).
    pub const HTTP: Self = Self(2);
    /// One XMPP session.
    pub const XMPP: Self = Self(3);
}

/// A RESET code (section 5). Unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResetCode(pub u32);

impl ResetCode {
    /// No error.
    pub const NO_ERROR: Self = Self(0);
    /// The application gave the stream up.
    pub const CANCEL: Self = Self(1);
    /// The stream was not accepted (too many streams, draining, unknown kind).
    pub const REFUSED: Self = Self(2);
    /// The peer sent more than its flow-control credit.
    pub const FLOW_CONTROL: Self = Self(3);
    /// DATA arrived after the peer's CLOSE.
    pub const STREAM_CLOSED: Self = Self(4);
    /// An internal error of the sender.
    pub const INTERNAL: Self = Self(5);

    /// The code's name, `None` for unknown values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NO_ERROR",
            1 => "CANCEL",
            2 => "REFUSED",
            3 => "FLOW_CONTROL",
            4 => "STREAM_CLOSED",
            5 => "INTERNAL",
            _ => return None,
        })
    }
}

impl fmt::Display for ResetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "reset code {}", self.0),
        }
    }
}

/// A GOAWAY code (section 7). Unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GoawayCode(pub u32);

impl GoawayCode {
    /// Graceful drain: no new streams, close when none is left.
    pub const NO_ERROR: Self = Self(0);
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1);
    /// The user name or password was refused.
    pub const AUTH_FAILED: Self = Self(2);
    /// AUTH (or AUTH_OK) did not arrive in time.
    pub const AUTH_TIMEOUT: Self = Self(3);
    /// C's certificate does not carry the subject name E expects.
    pub const SUBJECT_NAME: Self = Self(4);
    /// Too many probes went unacknowledged.
    pub const PROBE_TIMEOUT: Self = Self(5);
    /// A frame exceeded the advertised maximum payload.
    pub const FRAME_SIZE: Self = Self(6);
    /// The sender is shutting down.
    pub const SHUTDOWN: Self = Self(7);
    /// An internal error of the sender.
    pub const INTERNAL: Self = Self(8);

    /// The code's name, `None` for unknown values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NO_ERROR",
            1 => "PROTOCOL_ERROR",
            2 => "AUTH_FAILED",
            3 => "AUTH_TIMEOUT",
            4 => "SUBJECT_NAME",
            5 => "PROBE_TIMEOUT",
            6 => "FRAME_SIZE",
            7 => "SHUTDOWN",
            8 => "INTERNAL",
            _ => return None,
        })
    }

    /// What the code means, for operators.
    pub fn description(self) -> &'static str {
        match self.0 {
            0 => "graceful close",
            1 => "protocol error",
            2 => "user name or password refused",
            3 => "authentication timed out",
            4 => "client certificate subject name not accepted",
            5 => "keepalive probes unanswered",
            6 => "frame too large",
            7 => "peer shutting down",
            8 => "internal error",
            _ => "unknown reason",
        }
    }
}

impl fmt::Display for GoawayCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.description()),
            None => write!(f, "goaway code {}", self.0),
        }
    }
}

/// The settings block of AUTH and AUTH_OK (section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The largest payload the sender accepts.
    pub max_payload: u16,
    /// Streams the receiver may have open toward the sender at once.
    pub max_streams: u16,
    /// DATA octets the receiver may send on a new stream before WINDOW credit.
    pub initial_window: u32,
}

impl Settings {
    fn parse(b: &[u8; SETTINGS_LEN]) -> Result<Self, FrameError> {
        let settings = Self {
            max_payload: u16::from_be_bytes([b[0], b[1]]),
            max_streams: u16::from_be_bytes([b[2], b[3]]),
            initial_window: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        };
        if settings.max_payload < MIN_MAX_PAYLOAD {
            return Err(FrameError::BadSettings);
        }
        Ok(settings)
    }

    fn emit(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.max_payload.to_be_bytes());
        out[2..4].copy_from_slice(&self.max_streams.to_be_bytes());
        out[4..8].copy_from_slice(&self.initial_window.to_be_bytes());
    }
}

/// One frame, borrowing its variable-length parts from the buffer it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA.
    Data {
        /// The stream.
        stream: StreamId,
        /// The octets.
        payload: &'a [u8],
    },
    /// OPEN.
    Open {
        /// The new stream.
        stream: StreamId,
        /// What it carries.
        kind: StreamKind,
    },
    /// CLOSE (half-close).
    Close {
        /// The stream.
        stream: StreamId,
    },
    /// RESET.
    Reset {
        /// The stream.
        stream: StreamId,
        /// Why.
        code: ResetCode,
    },
    /// WINDOW.
    Window {
        /// The stream.
        stream: StreamId,
        /// Extra octets the receiver of this frame may send (at least 1).
        increment: u32,
    },
    /// AUTH (C to E).
    Auth {
        /// C's settings.
        settings: Settings,
        /// The user name (1 to 255 octets of UTF-8).
        user: &'a str,
        /// The password (0 to 255 octets of UTF-8).
        password: &'a str,
    },
    /// AUTH_OK (E to C).
    AuthOk {
        /// E's settings.
        settings: Settings,
    },
    /// PROBE.
    Probe {
        /// Sequence number, echoed in ACK.
        seq: u64,
    },
    /// ACK.
    Ack {
        /// The probe's sequence number.
        seq: u64,
    },
    /// GOAWAY.
    Goaway {
        /// Why.
        code: GoawayCode,
    },
}

/// Why a frame could not be parsed (malformed input from the peer) — a small `Copy` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length field exceeds the receiver's maximum payload.
    TooLarge {
        /// The length the frame declared.
        len: u16,
        /// The receiver's maximum.
        max: u16,
    },
    /// The type octet is not one of ours.
    UnknownType(u8),
    /// A link frame on a stream, or a stream frame on stream 0.
    WrongStream(FrameType),
    /// The payload length does not fit the type.
    BadLength(FrameType),
    /// AUTH's user name is empty, or the user name or password is not UTF-8.
    BadCredentials,
    /// A settings block advertises a maximum payload below 1024.
    BadSettings,
    /// AUTH or AUTH_OK carries a version we do not speak (an unsupported feature, not an attack).
    UnsupportedVersion(u8),
    /// WINDOW with an increment of 0.
    ZeroWindowIncrement,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(f, "frame payload of {len} octets exceeds the maximum {max}")
            }
            Self::UnknownType(t) => write!(f, "unknown frame type {t:#04x}"),
            Self::WrongStream(t) => write!(f, "{t:?} frame on the wrong kind of stream id"),
            Self::BadLength(t) => write!(f, "{t:?} frame with a payload of the wrong length"),
            Self::BadCredentials => f.write_str("AUTH with an empty or non-UTF-8 user or password"),
            Self::BadSettings => f.write_str("settings advertise a maximum payload below 1024"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported traversal version {v}"),
            Self::ZeroWindowIncrement => f.write_str("WINDOW with an increment of 0"),
        }
    }
}

impl std::error::Error for FrameError {}

/// The caller's buffer cannot hold the frame (API misuse, not a network condition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The buffer is shorter than [`Frame::encoded_len`].
    BufferTooSmall {
        /// Octets the frame needs.
        needed: usize,
    },
    /// The frame's payload is longer than a frame can carry (65535), or a credential is longer
    /// than 255 octets, or the user name is empty.
    Unrepresentable,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => write!(f, "buffer too small: need {needed} octets"),
            Self::Unrepresentable => f.write_str("frame cannot be represented on the wire"),
        }
    }
}

impl std::error::Error for EmitError {}

/// The result of [`parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole frame, and how many octets of the buffer it used.
    Frame {
        /// The frame.
        frame: Frame<'a>,
        /// Octets consumed from the front of the buffer.
        len: usize,
    },
    /// The buffer holds only part of a frame; at least this many octets in all are needed.
    NeedMore {
        /// Total octets (from the start of the buffer) needed before parsing can go on.
        needed: usize,
    },
}

/// A frame header, parsed (a zero-copy view of the first [`HEADER_LEN`] octets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The type octet.
    pub ty: u8,
    /// The flags octet (ignored).
    pub flags: u8,
    /// The payload length.
    pub len: u16,
    /// The stream id.
    pub stream: u32,
}

impl Header {
    /// Reads the header at the front of `buf`, `None` when fewer than [`HEADER_LEN`] octets.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let h = buf.get(..HEADER_LEN)?;
        Some(Self {
            ty: h[field::TYPE],
            flags: h[field::FLAGS],
            len: u16::from_be_bytes([h[field::LENGTH.start], h[field::LENGTH.start + 1]]),
            stream: u32::from_be_bytes([
                h[field::STREAM.start],
                h[field::STREAM.start + 1],
                h[field::STREAM.start + 2],
                h[field::STREAM.start + 3],
            ]),
        })
    }
}

/// Parses one frame from the front of `buf`, enforcing `max_payload`.
///
/// Returns [`Parsed::NeedMore`] while the frame is incomplete; the header is checked as soon as
/// it is complete, so an oversized or unknown frame is refused before its payload arrives.
pub fn parse(buf: &[u8], max_payload: u16) -> Result<Parsed<'_>, FrameError> {
    let Some(header) = Header::parse(buf) else {
        return Ok(Parsed::NeedMore { needed: HEADER_LEN });
    };
    let ty = FrameType::from_u8(header.ty).ok_or(FrameError::UnknownType(header.ty))?;
    if header.len > max_payload {
        return Err(FrameError::TooLarge {
            len: header.len,
            max: max_payload,
        });
    }
    if ty.is_link_frame() != (header.stream == 0) {
        return Err(FrameError::WrongStream(ty));
    }
    let total = HEADER_LEN + usize::from(header.len);
    let Some(payload) = buf.get(HEADER_LEN..total) else {
        return Ok(Parsed::NeedMore { needed: total });
    };
    let stream = StreamId(header.stream);
    let frame = match ty {
        FrameType::Data => Frame::Data { stream, payload },
        FrameType::Open => Frame::Open {
            stream,
            kind: StreamKind(u16::from_be_bytes(fixed(payload, ty)?)),
        },
        FrameType::Close => {
            let [] = fixed::<0>(payload, ty)?;
            Frame::Close { stream }
        }
        FrameType::Reset => Frame::Reset {
            stream,
            code: ResetCode(u32::from_be_bytes(fixed(payload, ty)?)),
        },
        FrameType::Window => {
            let increment = u32::from_be_bytes(fixed(payload, ty)?);
            if increment == 0 {
                return Err(FrameError::ZeroWindowIncrement);
            }
            Frame::Window { stream, increment }
        }
        FrameType::Auth => parse_auth(payload)?,
        FrameType::AuthOk => {
            let b: [u8; 1 + SETTINGS_LEN] = fixed(payload, ty)?;
            check_version(b[0])?;
            let mut s = [0u8; SETTINGS_LEN];
            s.copy_from_slice(&b[1..]);
            Frame::AuthOk {
                settings: Settings::parse(&s)?,
            }
        }
        FrameType::Probe => Frame::Probe {
            seq: u64::from_be_bytes(fixed(payload, ty)?),
        },
        FrameType::Ack => Frame::Ack {
            seq: u64::from_be_bytes(fixed(payload, ty)?),
        },
        FrameType::Goaway => Frame::Goaway {
            code: GoawayCode(u32::from_be_bytes(fixed(payload, ty)?)),
        },
    };
    Ok(Parsed::Frame { frame, len: total })
}

fn fixed<const N: usize>(payload: &[u8], ty: FrameType) -> Result<[u8; N], FrameError> {
    payload.try_into().map_err(|_| FrameError::BadLength(ty))
}

fn check_version(v: u8) -> Result<(), FrameError> {
    if v == VERSION {
        Ok(())
    } else {
        Err(FrameError::UnsupportedVersion(v))
    }
}

fn parse_auth(p: &[u8]) -> Result<Frame<'_>, FrameError> {
    let bad = FrameError::BadLength(FrameType::Auth);
    let (&version, rest) = p.split_first().ok_or(bad)?;
    check_version(version)?;
    let (settings, rest) = rest.split_at_checked(SETTINGS_LEN).ok_or(bad)?;
    let mut s = [0u8; SETTINGS_LEN];
    s.copy_from_slice(settings);
    let settings = Settings::parse(&s)?;
    let (&user_len, rest) = rest.split_first().ok_or(bad)?;
    let (user, rest) = rest.split_at_checked(usize::from(user_len)).ok_or(bad)?;
    let (&pass_len, rest) = rest.split_first().ok_or(bad)?;
    let (password, rest) = rest.split_at_checked(usize::from(pass_len)).ok_or(bad)?;
    if !rest.is_empty() {
        return Err(bad);
    }
    let user = core::str::from_utf8(user).map_err(|_| FrameError::BadCredentials)?;
    let password = core::str::from_utf8(password).map_err(|_| FrameError::BadCredentials)?;
    if user.is_empty() {
        return Err(FrameError::BadCredentials);
    }
    Ok(Frame::Auth {
        settings,
        user,
        password,
    })
}

impl Frame<'_> {
    /// The frame's type.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Self::Data { .. } => FrameType::Data,
            Self::Open { .. } => FrameType::Open,
            Self::Close { .. } => FrameType::Close,
            Self::Reset { .. } => FrameType::Reset,
            Self::Window { .. } => FrameType::Window,
            Self::Auth { .. } => FrameType::Auth,
            Self::AuthOk { .. } => FrameType::AuthOk,
            Self::Probe { .. } => FrameType::Probe,
            Self::Ack { .. } => FrameType::Ack,
            Self::Goaway { .. } => FrameType::Goaway,
        }
    }

    /// The stream id field (0 for link frames).
    pub fn stream(&self) -> StreamId {
        match *self {
            Self::Data { stream, .. }
            | Self::Open { stream, .. }
            | Self::Close { stream }
            | Self::Reset { stream, .. }
            | Self::Window { stream, .. } => stream,
            _ => StreamId(0),
        }
    }

    fn payload_len(&self) -> usize {
        match self {
            Self::Data { payload, .. } => payload.len(),
            Self::Open { .. } => 2,
            Self::Close { .. } => 0,
            Self::Reset { .. } | Self::Window { .. } | Self::Goaway { .. } => 4,
            Self::Auth { user, password, .. } => {
                1 + SETTINGS_LEN + 1 + user.len() + 1 + password.len()
            }
            Self::AuthOk { .. } => 1 + SETTINGS_LEN,
            Self::Probe { .. } | Self::Ack { .. } => 8,
        }
    }

    /// Octets the frame takes on the wire, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Writes the frame at the front of `out`; returns the octets written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, EmitError> {
        let payload_len = self.payload_len();
        let len = u16::try_from(payload_len).map_err(|_| EmitError::Unrepresentable)?;
        if let Self::Auth { user, password, .. } = self {
            if user.is_empty()
                || user.len() > MAX_CREDENTIAL_LEN
                || password.len() > MAX_CREDENTIAL_LEN
            {
                return Err(EmitError::Unrepresentable);
            }
        }
        let total = HEADER_LEN + payload_len;
        let Some(out) = out.get_mut(..total) else {
            return Err(EmitError::BufferTooSmall { needed: total });
        };
        out[field::TYPE] = self.frame_type() as u8;
        out[field::FLAGS] = 0;
        out[field::LENGTH].copy_from_slice(&len.to_be_bytes());
        out[field::STREAM].copy_from_slice(&self.stream().0.to_be_bytes());
        let p = &mut out[HEADER_LEN..];
        match *self {
            Self::Data { payload, .. } => p.copy_from_slice(payload),
            Self::Open { kind, .. } => p.copy_from_slice(&kind.0.to_be_bytes()),
            Self::Close { .. } => {}
            Self::Reset { code, .. } => p.copy_from_slice(&code.0.to_be_bytes()),
            Self::Window { increment, .. } => p.copy_from_slice(&increment.to_be_bytes()),
            Self::Goaway { code } => p.copy_from_slice(&code.0.to_be_bytes()),
            Self::Probe { seq } | Self::Ack { seq } => p.copy_from_slice(&seq.to_be_bytes()),
            Self::AuthOk { settings } => {
                p[0] = VERSION;
                settings.emit(&mut p[1..]);
            }
            Self::Auth {
                settings,
                user,
                password,
            } => {
                p[0] = VERSION;
                settings.emit(&mut p[1..1 + SETTINGS_LEN]);
                let mut at = 1 + SETTINGS_LEN;
                for field in [user.as_bytes(), password.as_bytes()] {
                    // Both lengths were checked against 255 above.
                    p[at] = field.len() as u8;
                    p[at + 1..at + 1 + field.len()].copy_from_slice(field);
                    at += 1 + field.len();
                }
            }
        }
        Ok(total)
    }

    /// Appends the frame to `out`; returns the octets written.
    pub fn emit_to_vec(&self, out: &mut Vec<u8>) -> Result<usize, EmitError> {
        let start = out.len();
        out.resize(start + self.encoded_len(), 0);
        match self.emit(&mut out[start..]) {
            Ok(n) => Ok(n),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: Settings = Settings {
        max_payload: 16384,
        max_streams: 100,
        initial_window: 65536,
    };

    fn round_trip(frame: Frame<'_>) {
        let mut buf = Vec::new();
        let n = frame.emit_to_vec(&mut buf).unwrap();
        assert_eq!(n, frame.encoded_len());
        assert_eq!(
            parse(&buf, u16::MAX).unwrap(),
            Parsed::Frame { frame, len: n }
        );
        // Every strict prefix asks for more, never errs.
        for cut in 0..buf.len() {
            match parse(&buf[..cut], u16::MAX).unwrap() {
                Parsed::NeedMore { needed } => assert!(needed > cut && needed <= buf.len()),
                other => panic!("prefix {cut} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn every_type_round_trips() {
        let s = StreamId(7);
        round_trip(Frame::Data {
            stream: s,
            payload: b"INVITE sip:bob@example.com SIP/2.0\r\n",
        });
        round_trip(Frame::Data {
            stream: s,
            payload: b"",
        });
        round_trip(Frame::Open {
            stream: s,
            kind: StreamKind::SIP,
        });
        round_trip(Frame::Close { stream: s });
        round_trip(Frame::Reset {
            stream: s,
            code: ResetCode::FLOW_CONTROL,
        });
        round_trip(Frame::Window {
            stream: s,
            increment: 4096,
        });
        round_trip(Frame::Auth {
            settings: SETTINGS,
            user: "expc-traversal",
            password: "s3cr3t ünïcode",
        });
        round_trip(Frame::Auth {
            settings: SETTINGS,
            user: "u",
            password: "",
        });
        round_trip(Frame::AuthOk { settings: SETTINGS });
        round_trip(Frame::Probe { seq: 42 });
        round_trip(Frame::Ack { seq: u64::MAX });
        round_trip(Frame::Goaway {
            code: GoawayCode::AUTH_FAILED,
        });
    }

    #[test]
    fn wire_layout_matches_the_spec() {
        let mut buf = [0u8; 32];
        let n = Frame::Open {
            stream: StreamId(0x0102_0304),
            kind: StreamKind(0xabcd),
        }
        .emit(&mut buf)
        .unwrap();
        assert_eq!(&buf[..n], &[0x01, 0, 0, 2, 1, 2, 3, 4, 0xab, 0xcd]);
        let n = Frame::Probe { seq: 1 }.emit(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            &[0x20, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        );
    }

    #[test]
    fn oversized_frame_is_refused_from_its_header() {
        let header = [0x00, 0, 0x40, 0x01, 0, 0, 0, 1]; // DATA, 16385 octets
        assert_eq!(
            parse(&header, 16384),
            Err(FrameError::TooLarge {
                len: 16385,
                max: 16384
            })
        );
    }

    #[test]
    fn malformed_frames() {
        // Unknown type.
        assert_eq!(
            parse(&[0x7f, 0, 0, 0, 0, 0, 0, 0], 1024),
            Err(FrameError::UnknownType(0x7f))
        );
        // DATA on stream 0, PROBE on stream 1.
        assert_eq!(
            parse(&[0x00, 0, 0, 0, 0, 0, 0, 0], 1024),
            Err(FrameError::WrongStream(FrameType::Data))
        );
        assert_eq!(
            parse(&[0x20, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], 1024),
            Err(FrameError::WrongStream(FrameType::Probe))
        );
        // CLOSE with a payload, WINDOW of 0.
        assert_eq!(
            parse(&[0x02, 0, 0, 1, 0, 0, 0, 1, 9], 1024),
            Err(FrameError::BadLength(FrameType::Close))
        );
        assert_eq!(
            parse(&[0x04, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0], 1024),
            Err(FrameError::ZeroWindowIncrement)
        );
        // AUTH with a wrong version, an empty user, a length running past the payload.
        let mut buf = Vec::new();
        Frame::Auth {
            settings: SETTINGS,
            user: "c",
            password: "p",
        }
        .emit_to_vec(&mut buf)
        .unwrap();
        let mut v2 = buf.clone();
        v2[HEADER_LEN] = 2;
        assert_eq!(parse(&v2, 1024), Err(FrameError::UnsupportedVersion(2)));
        let mut long = buf.clone();
        long[HEADER_LEN + 1 + SETTINGS_LEN] = 200;
        assert_eq!(
            parse(&long, 1024),
            Err(FrameError::BadLength(FrameType::Auth))
        );
        let mut bad_settings = buf.clone();
        bad_settings[HEADER_LEN + 1] = 0;
        bad_settings[HEADER_LEN + 2] = 10;
        assert_eq!(parse(&bad_settings, 1024), Err(FrameError::BadSettings));
        let mut not_utf8 = buf.clone();
        let at = HEADER_LEN + 1 + SETTINGS_LEN + 1;
        not_utf8[at] = 0xff;
        assert_eq!(parse(&not_utf8, 1024), Err(FrameError::BadCredentials));
    }

    #[test]
    fn flags_are_ignored() {
        let buf = [0x02, 0xff, 0, 0, 0, 0, 0, 3];
        assert_eq!(
            parse(&buf, 1024).unwrap(),
            Parsed::Frame {
                frame: Frame::Close {
                    stream: StreamId(3)
                },
                len: 8
            }
        );
    }

    #[test]
    fn emit_refuses_what_cannot_be_represented() {
        let big = vec![0u8; 70_000];
        assert_eq!(
            Frame::Data {
                stream: StreamId(1),
                payload: &big
            }
            .emit(&mut vec![0u8; 80_000]),
            Err(EmitError::Unrepresentable)
        );
        let long = "x".repeat(256);
        assert_eq!(
            Frame::Auth {
                settings: SETTINGS,
                user: &long,
                password: ""
            }
            .emit_to_vec(&mut Vec::new()),
            Err(EmitError::Unrepresentable)
        );
        assert_eq!(
            Frame::Close {
                stream: StreamId(1)
            }
            .emit(&mut [0u8; 4]),
            Err(EmitError::BufferTooSmall { needed: 8 })
        );
    }

    #[test]
    fn random_input_never_panics_and_prefixes_agree() {
        let mut rng = crate::traversal::peers::Rng::new(0x5eed);
        let mut buf = vec![0u8; 600];
        for _ in 0..20_000 {
            let len = (rng.next_u64() % 600) as usize;
            for b in &mut buf[..len] {
                *b = rng.next_u64() as u8;
            }
            // Bias towards known types so that the payload parsers get exercised.
            if len > 0 && rng.next_u64().is_multiple_of(2) {
                const TYPES: [u8; 10] = [0, 1, 2, 3, 4, 0x10, 0x11, 0x20, 0x21, 0x30];
                buf[0] = TYPES[(rng.next_u64() % 10) as usize];
                if len > 3 {
                    buf[2] = 0;
                    buf[3] %= 40;
                }
            }
            if let Ok(Parsed::Frame { frame, len: used }) = parse(&buf[..len], 1024) {
                assert!(used <= len);
                // What parses re-emits to the same octets, flags aside.
                let mut out = Vec::new();
                frame.emit_to_vec(&mut out).unwrap();
                assert_eq!(out[0], buf[0]);
                assert_eq!(out[2..], buf[2..used]);
            }
        }
    }
}
