//! The traversal link as a sans-IO state machine, one per TLS connection, at either end.
//!
//! [`Link::client`] is C's end (it sends AUTH), [`Link::server`] is E's (it checks AUTH against
//! its credential store). The link never touches a socket or a clock: the driver feeds it the
//! plaintext it read from TLS ([`Link::handle_input`]), the time ([`Link::handle_timeout`]), and
//! drains what it wants to write ([`Link::poll_transmit`]) and what happened
//! ([`Link::poll_event`]). The frame format is in [`super::frame`].
//!
//! # Drain rule
//!
//! After every input, timeout or local call (`open_stream`, `send`, `close`, `reset`,
//! `stream_consumed`, `goaway`): call `poll_transmit` until it returns 0 and write the octets in
//! order, call `poll_event` until it returns `None`, then sleep until `poll_timeout` (or the next
//! input) and call `handle_timeout` when it passes. After [`Event::Dead`] keep draining
//! `poll_transmit` (a final GOAWAY may be waiting), write it, then close the connection; every
//! stream still open is gone, without a per-stream event.
//!
//! # Flow control
//!
//! Each stream has a receive window (`LinkConfig::stream_window`, advertised as
//! `initial_window`): the octets delivered in [`Event::StreamData`] but not yet reported consumed
//! with [`Link::stream_consumed`] never exceed it. Credit goes back to the peer (WINDOW) once half
//! the window has been consumed. A peer that sends beyond its credit gets RESET(FLOW_CONTROL) on
//! that stream, the excess is discarded, [`LinkStats::flow_control_resets`] counts it and the
//! application sees [`Event::StreamReset`]; the link itself stays up. On the sending side,
//! [`Link::send`] accepts at most `LinkConfig::send_buffer` unsent octets per stream and says
//! [`StreamError::Blocked`] beyond that; [`Event::StreamWritable`] tells when there is room again.
//! Memory per link is therefore bounded by `max_streams × (stream_window + send_buffer)`.
//!
//! # Keepalive
//!
//! Once authenticated, each end sends PROBE every `probe_interval`; a probe still unacknowledged
//! when the next is due counts as missed, and the `max_missed_acks`-th consecutive miss kills the
//! link ([`LinkError::ProbeTimeout`]), so a silent peer is detected within
//! `(max_missed_acks + 1) × probe_interval` of its last acknowledgement. The time from PROBE to
//! ACK is the link's RTT ([`LinkStats::rtt`]).
//!
//! ```no_run
//! use std::time::Instant;
//! use signaling::traversal::link::{Event, Link, LinkConfig};
//!
//! let mut link = Link::client(Instant::now(), LinkConfig::default(), "c-node", "secret").unwrap();
//! let mut out = Vec::new();
//! loop {
//!     let now = Instant::now();
//!     // ... read from the TLS connection into `input`, or wait for poll_timeout ...
//!     # let input: &[u8] = &[];
//!     link.handle_input(now, input);
//!     link.handle_timeout(now);
//!     while link.poll_transmit(now, &mut out) > 0 {}
//!     // ... write `out` to the TLS connection, clear it ...
//!     while let Some(event) = link.poll_event() {
//!         if let Event::Dead { reason } = event {
//!             eprintln!("link dead: {reason}");
//!         }
//!     }
//!     # break;
//! }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::frame::{
    self, Frame, FrameError, GoawayCode, Parsed, ResetCode, Settings, StreamId, StreamKind,
    MAX_CREDENTIAL_LEN, MIN_MAX_PAYLOAD,
};
use super::Credentials;

/// Octets one [`Link::poll_transmit`] call appends at most (one frame may overshoot it).
pub const TRANSMIT_BUDGET: usize = 64 * 1024;
/// The largest flow-control credit a stream may hold (WINDOW beyond it is a protocol error).
pub const MAX_CREDIT: u64 = u32::MAX as u64;

/// Limits and timers of one end of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// The largest frame payload we accept (advertised; at least 1024).
    pub max_payload: u16,
    /// Streams the peer may have open toward us at once (advertised); more are refused.
    pub max_streams: u16,
    /// Per-stream receive window: octets delivered but not consumed (advertised).
    pub stream_window: u32,
    /// Per-stream octets [`Link::send`] accepts before saying `Blocked`.
    pub send_buffer: usize,
    /// Time between keepalive probes.
    pub probe_interval: Duration,
    /// Consecutive unacknowledged probes after which the link is dead (at least 1).
    pub max_missed_acks: u32,
    /// Time allowed from the connection to AUTH_OK.
    pub auth_timeout: Duration,
    /// Time a graceful drain may take before the remaining streams are cut.
    pub drain_timeout: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            max_payload: frame::DEFAULT_MAX_PAYLOAD,
            max_streams: 256,
            stream_window: 256 * 1024,
            send_buffer: 256 * 1024,
            probe_interval: Duration::from_secs(10),
            max_missed_acks: 3,
            auth_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

impl LinkConfig {
    /// Checks the limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_payload < MIN_MAX_PAYLOAD {
            return Err(ConfigError::MaxPayloadTooSmall);
        }
        if self.stream_window == 0 || self.send_buffer == 0 {
            return Err(ConfigError::ZeroWindow);
        }
        if self.probe_interval.is_zero() || self.auth_timeout.is_zero() || self.max_missed_acks == 0
        {
            return Err(ConfigError::ZeroTimer);
        }
        Ok(())
    }

    fn settings(&self) -> Settings {
        Settings {
            max_payload: self.max_payload,
            max_streams: self.max_streams,
            initial_window: self.stream_window,
        }
    }
}

/// A link configuration or credential that cannot be used (API misuse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `max_payload` below 1024.
    MaxPayloadTooSmall,
    /// `stream_window` or `send_buffer` is 0.
    ZeroWindow,
    /// `probe_interval` or `auth_timeout` is 0, or `max_missed_acks` is 0.
    ZeroTimer,
    /// The user name is empty or longer than 255 octets, or the password is longer than 255.
    BadCredentials,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MaxPayloadTooSmall => "max_payload must be at least 1024",
            Self::ZeroWindow => "stream_window and send_buffer must be non-zero",
            Self::ZeroTimer => "probe_interval, auth_timeout and max_missed_acks must be non-zero",
            Self::BadCredentials => "user name must be 1-255 octets and password at most 255",
        })
    }
}

impl std::error::Error for ConfigError {}

/// Which end of the link this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// C: dialed the connection, sends AUTH, opens odd stream ids.
    Client,
    /// E: accepted the connection, checks AUTH, opens even stream ids.
    Server,
}

/// The link's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting for AUTH (server) or AUTH_OK (client).
    Authenticating,
    /// Authenticated: streams and probes flow.
    Up,
    /// GOAWAY(NO_ERROR) sent or received: no new streams; closes when none is left.
    Draining,
    /// Dead: only a final GOAWAY may still be waiting in `poll_transmit`.
    Closed,
}

/// Why a link died.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// (Server) the user name or password was refused.
    AuthFailed,
    /// AUTH (server) or AUTH_OK (client) did not arrive within `auth_timeout`.
    AuthTimeout,
    /// The peer closed the link with this GOAWAY code (AUTH_FAILED: our credentials were refused;
    /// SUBJECT_NAME: our certificate's subject name was refused).
    PeerGoaway(GoawayCode),
    /// We closed the link with this GOAWAY code ([`Link::goaway`]).
    LocalGoaway(GoawayCode),
    /// This many probes in a row went unacknowledged.
    ProbeTimeout {
        /// Consecutive misses.
        missed: u32,
    },
    /// The peer sent a frame we cannot parse (malformed input).
    Malformed(FrameError),
    /// The peer sent a well-formed frame it must not send (a misbehaving peer).
    Protocol(ProtocolViolation),
    /// A graceful drain finished: every stream completed.
    Drained,
    /// A graceful drain ran out of time with streams still open.
    DrainTimeout,
    /// The transport closed under the link ([`Link::handle_eof`]).
    ConnectionLost,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthFailed => f.write_str("authentication failed: user name or password refused"),
            Self::AuthTimeout => f.write_str("authentication timed out"),
            Self::PeerGoaway(code) => write!(f, "closed by peer: {code}"),
            Self::LocalGoaway(code) => write!(f, "closed locally: {code}"),
            Self::ProbeTimeout { missed } => {
                write!(f, "keepalive: {missed} probes in a row unacknowledged")
            }
            Self::Malformed(e) => write!(f, "malformed frame from peer: {e}"),
            Self::Protocol(v) => write!(f, "protocol violation by peer: {v}"),
            Self::Drained => f.write_str("drained"),
            Self::DrainTimeout => f.write_str("drain timed out"),
            Self::ConnectionLost => f.write_str("connection lost"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Well-formed frames a peer must not send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolViolation {
    /// A frame other than AUTH / AUTH_OK / GOAWAY before authentication.
    FrameBeforeAuth,
    /// AUTH or AUTH_OK after authentication, or from the wrong end.
    UnexpectedAuth,
    /// OPEN with our parity of stream id.
    WrongParity,
    /// OPEN with an id not above the peer's previous one.
    StreamIdReused,
    /// A frame for a stream id that was never opened.
    UnknownStream,
    /// WINDOW credit beyond [`MAX_CREDIT`].
    CreditOverflow,
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FrameBeforeAuth => "frame before authentication",
            Self::UnexpectedAuth => "unexpected AUTH or AUTH_OK",
            Self::WrongParity => "OPEN with the other end's stream id parity",
            Self::StreamIdReused => "OPEN with a stream id not above the previous one",
            Self::UnknownStream => "frame for a stream that was never opened",
            Self::CreditOverflow => "flow-control credit overflow",
        })
    }
}

/// Why a stream could not be opened (API misuse or a full link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The link is not authenticated yet.
    NotAuthenticated,
    /// The link is draining: no new streams.
    Draining,
    /// The link is dead.
    Closed,
    /// The peer's `max_streams` for streams we open is reached.
    TooManyStreams,
    /// Every stream id of our parity has been used.
    IdsExhausted,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAuthenticated => "link not authenticated yet",
            Self::Draining => "link draining",
            Self::Closed => "link closed",
            Self::TooManyStreams => "peer's stream limit reached",
            Self::IdsExhausted => "stream ids exhausted",
        })
    }
}

impl std::error::Error for OpenError {}

/// Why a stream operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// No such open stream (never opened, finished, or reset).
    UnknownStream,
    /// `close` was called already: no more data on this stream.
    Closed,
    /// The send buffer is full; wait for [`Event::StreamWritable`].
    Blocked,
    /// The link is dead.
    LinkClosed,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownStream => "no such stream",
            Self::Closed => "stream already closed for sending",
            Self::Blocked => "stream send buffer full",
            Self::LinkClosed => "link closed",
        })
    }
}

impl std::error::Error for StreamError {}

/// Who reset a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetBy {
    /// The peer sent RESET.
    Peer,
    /// We reset it because the peer broke its rules (flow control, data after CLOSE).
    Local,
}

/// What happened on the link, from [`Link::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Authentication completed; streams may be opened. On the server, the user C gave.
    Authenticated {
        /// The authenticated user (server side), `None` on the client.
        user: Option<String>,
    },
    /// The peer opened a stream.
    StreamOpened {
        /// The stream.
        id: StreamId,
        /// What it carries.
        kind: StreamKind,
    },
    /// Octets arrived on a stream; report them with [`Link::stream_consumed`] once used.
    StreamData {
        /// The stream.
        id: StreamId,
        /// The octets.
        data: Vec<u8>,
    },
    /// The peer will send nothing more on this stream (its CLOSE).
    StreamClosed {
        /// The stream.
        id: StreamId,
    },
    /// The stream is gone in both directions.
    StreamReset {
        /// The stream.
        id: StreamId,
        /// Why.
        code: ResetCode,
        /// Who reset it.
        by: ResetBy,
    },
    /// [`Link::send`] said `Blocked` on this stream; there is room again.
    StreamWritable {
        /// The stream.
        id: StreamId,
    },
    /// The peer started a graceful drain: open no new streams.
    GoingAway,
    /// The link is dead; drain `poll_transmit`, write, close the connection.
    Dead {
        /// Why.
        reason: LinkError,
    },
}

/// Counters of one link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames parsed.
    pub frames_in: u64,
    /// Frames written.
    pub frames_out: u64,
    /// Octets received (frames, headers included).
    pub bytes_in: u64,
    /// Octets written.
    pub bytes_out: u64,
    /// Streams we opened.
    pub streams_opened_local: u64,
    /// Streams the peer opened that we accepted.
    pub streams_opened_remote: u64,
    /// Streams the peer opened that we refused (limit or draining).
    pub streams_refused: u64,
    /// Streams we reset because the peer exceeded its flow-control credit.
    pub flow_control_resets: u64,
    /// (Server) AUTH frames whose credentials were refused.
    pub auth_failures: u64,
    /// Probes sent.
    pub probes_sent: u64,
    /// Acknowledgements received for our probes.
    pub acks_received: u64,
    /// The latest probe round trip.
    pub rtt: Option<Duration>,
}

#[derive(Debug)]
enum Control {
    Open(u32, StreamKind),
    Reset(u32, ResetCode),
    Window(u32, u32),
    Auth,
    AuthOk,
    Probe(u64),
    Ack(u64),
    Goaway(GoawayCode),
}

#[derive(Debug)]
struct Stream {
    local: bool,
    send: VecDeque<u8>,
    send_credit: u64,
    fin_queued: bool,
    fin_sent: bool,
    write_blocked: bool,
    scheduled: bool,
    recv_allowed: u64,
    recv_unconsumed: u64,
    credit_pending: u64,
    recv_fin: bool,
}

impl Stream {
    fn new(local: bool, send_credit: u32, window: u32) -> Self {
        Self {
            local,
            send: VecDeque::new(),
            send_credit: u64::from(send_credit),
            fin_queued: false,
            fin_sent: false,
            write_blocked: false,
            scheduled: false,
            recv_allowed: u64::from(window),
            recv_unconsumed: 0,
            credit_pending: 0,
            recv_fin: false,
        }
    }

    fn wants_send(&self) -> bool {
        (!self.send.is_empty() && self.send_credit > 0)
            || (self.send.is_empty() && self.fin_queued && !self.fin_sent)
    }
}

enum Known {
    Open,
    Finished,
    Never,
}

/// One end of a traversal link. See the [module docs](self) for how to drive it.
pub struct Link {
    role: Role,
    config: LinkConfig,
    state: LinkState,
    client_auth: Option<(String, String)>,
    credentials: Option<Arc<dyn Credentials + Send + Sync>>,
    user: Option<String>,
    inbuf: Vec<u8>,
    control: VecDeque<Control>,
    streams: BTreeMap<u32, Stream>,
    schedule: VecDeque<u32>,
    next_local: u32,
    highest_remote: u32,
    local_count: usize,
    remote_count: usize,
    peer: Settings,
    events: VecDeque<Event>,
    auth_deadline: Option<Instant>,
    drain_deadline: Option<Instant>,
    probe_at: Option<Instant>,
    probe_seq: u64,
    outstanding: Option<(u64, Instant)>,
    missed: u32,
    stats: LinkStats,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("user", &self.user)
            .field("streams", &self.streams.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// C's end: sends AUTH with `user` and `password` at once.
    pub fn client(
        now: Instant,
        config: LinkConfig,
        user: &str,
        password: &str,
    ) -> Result<Self, ConfigError> {
        if user.is_empty() || user.len() > MAX_CREDENTIAL_LEN || password.len() > MAX_CREDENTIAL_LEN
        {
            return Err(ConfigError::BadCredentials);
        }
        let mut link = Self::new(now, Role::Client, config)?;
        link.client_auth = Some((user.to_owned(), password.to_owned()));
        link.control.push_back(Control::Auth);
        Ok(link)
    }

    /// E's end: waits for AUTH and checks it against `credentials`.
    pub fn server(
        now: Instant,
        config: LinkConfig,
        credentials: Arc<dyn Credentials + Send + Sync>,
    ) -> Result<Self, ConfigError> {
        let mut link = Self::new(now, Role::Server, config)?;
        link.credentials = Some(credentials);
        Ok(link)
    }

    fn new(now: Instant, role: Role, config: LinkConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            role,
            config,
            state: LinkState::Authenticating,
            client_auth: None,
            credentials: None,
            user: None,
            inbuf: Vec::new(),
            control: VecDeque::new(),
            streams: BTreeMap::new(),
            schedule: VecDeque::new(),
            next_local: match role {
                Role::Client => 1,
                Role::Server => 2,
            },
            highest_remote: 0,
            local_count: 0,
            remote_count: 0,
            // Until the peer's settings arrive, assume the smallest legal ones.
            peer: Settings {
                max_payload: MIN_MAX_PAYLOAD,
                max_streams: 0,
                initial_window: 0,
            },
            events: VecDeque::new(),
            auth_deadline: Some(now + config.auth_timeout),
            drain_deadline: None,
            probe_at: None,
            probe_seq: 0,
            outstanding: None,
            missed: 0,
            stats: LinkStats::default(),
        })
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The lifecycle state.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// Whether the link is dead.
    pub fn is_closed(&self) -> bool {
        self.state == LinkState::Closed
    }

    /// Counters.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// (Server) the authenticated user.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The peer's settings (the smallest legal ones before authentication).
    pub fn peer_settings(&self) -> Settings {
        self.peer
    }

    /// Whether `id` is an open stream (not yet finished both ways, not reset).
    pub fn is_open(&self, id: StreamId) -> bool {
        self.streams.contains_key(&id.0)
    }

    /// Streams currently open (either direction).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Feeds plaintext read from the connection.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.stats.bytes_in += data.len() as u64;
        let mut pending = std::mem::take(&mut self.inbuf);
        if pending.is_empty() {
            let used = self.consume_frames(now, data);
            pending.extend_from_slice(data.get(used..).unwrap_or_default());
        } else {
            pending.extend_from_slice(data);
            let used = self.consume_frames(now, &pending);
            pending.drain(..used.min(pending.len()));
        }
        if !self.is_closed() {
            self.inbuf = pending;
        }
    }

    /// The transport reached end of file or failed.
    pub fn handle_eof(&mut self, _now: Instant) {
        if self.is_closed() {
            return;
        }
        let reason = if self.state == LinkState::Draining && self.streams.is_empty() {
            LinkError::Drained
        } else {
            LinkError::ConnectionLost
        };
        self.die(reason, None);
    }

    fn consume_frames(&mut self, now: Instant, buf: &[u8]) -> usize {
        let mut at = 0;
        while !self.is_closed() {
            let rest = buf.get(at..).unwrap_or_default();
            match frame::parse(rest, self.config.max_payload) {
                Ok(Parsed::Frame { frame, len }) => {
                    at += len;
                    self.stats.frames_in += 1;
                    self.on_frame(now, frame);
                }
                Ok(Parsed::NeedMore { .. }) => break,
                Err(e) => {
                    let code = match e {
                        FrameError::TooLarge { .. } => GoawayCode::FRAME_SIZE,
                        _ => GoawayCode::PROTOCOL_ERROR,
                    };
                    self.die(LinkError::Malformed(e), Some(code));
                    break;
                }
            }
        }
        at
    }

    fn on_frame(&mut self, now: Instant, frame: Frame<'_>) {
        match (self.state, self.role) {
            (LinkState::Closed, _) => {}
            (LinkState::Authenticating, Role::Server) => match frame {
                Frame::Auth {
                    settings,
                    user,
                    password,
                } => {
                    let ok = self
                        .credentials
                        .as_ref()
                        .is_some_and(|c| c.check(user, password));
                    if ok {
                        self.peer = settings;
                        self.user = Some(user.to_owned());
                        self.control.push_back(Control::AuthOk);
                        self.authenticated(now, Some(user.to_owned()));
                    } else {
                        self.stats.auth_failures += 1;
                        self.die(LinkError::AuthFailed, Some(GoawayCode::AUTH_FAILED));
                    }
                }
                Frame::Goaway { code } => self.die(LinkError::PeerGoaway(code), None),
                _ => self.violation(ProtocolViolation::FrameBeforeAuth),
            },
            (LinkState::Authenticating, Role::Client) => match frame {
                Frame::AuthOk { settings } => {
                    self.peer = settings;
                    self.authenticated(now, None);
                }
                Frame::Goaway { code } => self.die(LinkError::PeerGoaway(code), None),
                _ => self.violation(ProtocolViolation::FrameBeforeAuth),
            },
            (LinkState::Up | LinkState::Draining, _) => match frame {
                Frame::Auth { .. } | Frame::AuthOk { .. } => {
                    self.violation(ProtocolViolation::UnexpectedAuth)
                }
                Frame::Probe { seq } => self.control.push_back(Control::Ack(seq)),
                Frame::Ack { seq } => {
                    if let Some((sent_seq, sent_at)) = self.outstanding {
                        if sent_seq == seq {
                            self.outstanding = None;
                            self.missed = 0;
                            self.stats.acks_received += 1;
                            self.stats.rtt = Some(now.saturating_duration_since(sent_at));
                        }
                    }
                }
                Frame::Goaway { code } if code == GoawayCode::NO_ERROR => {
                    if self.state == LinkState::Up {
                        self.start_drain(now);
                        self.events.push_back(Event::GoingAway);
                    }
                    self.check_drained();
                }
                Frame::Goaway { code } => self.die(LinkError::PeerGoaway(code), None),
                Frame::Open { stream, kind } => self.on_open(stream, kind),
                Frame::Data { stream, payload } => self.on_data(stream, payload),
                Frame::Close { stream } => self.on_close(stream),
                Frame::Reset { stream, code } => self.on_reset(stream, code),
                Frame::Window { stream, increment } => self.on_window(stream, increment),
            },
        }
    }

    fn authenticated(&mut self, now: Instant, user: Option<String>) {
        self.state = LinkState::Up;
        self.auth_deadline = None;
        self.probe_at = Some(now + self.config.probe_interval);
        self.events.push_back(Event::Authenticated { user });
    }

    fn violation(&mut self, v: ProtocolViolation) {
        self.die(LinkError::Protocol(v), Some(GoawayCode::PROTOCOL_ERROR));
    }

    fn is_local_id(&self, id: u32) -> bool {
        (id % 2 == 1) == (self.role == Role::Client)
    }

    fn known(&self, id: u32) -> Known {
        if self.streams.contains_key(&id) {
            Known::Open
        } else if (self.is_local_id(id) && id < self.next_local)
            || (!self.is_local_id(id) && id <= self.highest_remote)
        {
            Known::Finished
        } else {
            Known::Never
        }
    }

    /// Looks a stream up for an incoming frame: `None` when the frame is to be discarded (or the
    /// link was closed for it).
    fn incoming_stream(&mut self, id: StreamId) -> Option<&mut Stream> {
        match self.known(id.0) {
            Known::Open => self.streams.get_mut(&id.0),
            Known::Finished => None,
            Known::Never => {
                self.violation(ProtocolViolation::UnknownStream);
                None
            }
        }
    }

    fn on_open(&mut self, id: StreamId, kind: StreamKind) {
        if self.is_local_id(id.0) {
            return self.violation(ProtocolViolation::WrongParity);
        }
        if id.0 <= self.highest_remote {
            return self.violation(ProtocolViolation::StreamIdReused);
        }
        self.highest_remote = id.0;
        if self.state != LinkState::Up || self.remote_count >= usize::from(self.config.max_streams)
        {
            self.stats.streams_refused += 1;
            self.control
                .push_back(Control::Reset(id.0, ResetCode::REFUSED));
            return;
        }
        self.streams.insert(
            id.0,
            Stream::new(false, self.peer.initial_window, self.config.stream_window),
        );
        self.remote_count += 1;
        self.stats.streams_opened_remote += 1;
        self.events.push_back(Event::StreamOpened { id, kind });
    }

    fn on_data(&mut self, id: StreamId, payload: &[u8]) {
        let Some(s) = self.incoming_stream(id) else {
            return;
        };
        let len = payload.len() as u64;
        let code = if s.recv_fin {
            ResetCode::STREAM_CLOSED
        } else if len > s.recv_allowed {
            ResetCode::FLOW_CONTROL
        } else {
            s.recv_allowed -= len;
            s.recv_unconsumed += len;
            if !payload.is_empty() {
                self.events.push_back(Event::StreamData {
                    id,
                    data: payload.to_vec(),
                });
            }
            return;
        };
        if code == ResetCode::FLOW_CONTROL {
            self.stats.flow_control_resets += 1;
        }
        self.remove_stream(id.0);
        self.control.push_back(Control::Reset(id.0, code));
        self.events.push_back(Event::StreamReset {
            id,
            code,
            by: ResetBy::Local,
        });
        self.check_drained();
    }

    fn on_close(&mut self, id: StreamId) {
        let Some(s) = self.incoming_stream(id) else {
            return;
        };
        if s.recv_fin {
            return;
        }
        s.recv_fin = true;
        self.events.push_back(Event::StreamClosed { id });
        self.maybe_remove(id.0);
    }

    fn on_reset(&mut self, id: StreamId, code: ResetCode) {
        if self.incoming_stream(id).is_none() {
            return;
        }
        self.remove_stream(id.0);
        self.events.push_back(Event::StreamReset {
            id,
            code,
            by: ResetBy::Peer,
        });
        self.check_drained();
    }

    fn on_window(&mut self, id: StreamId, increment: u32) {
        let Some(s) = self.incoming_stream(id) else {
            return;
        };
        s.send_credit += u64::from(increment);
        if s.send_credit > MAX_CREDIT {
            return self.violation(ProtocolViolation::CreditOverflow);
        }
        self.schedule(id.0);
    }

    fn remove_stream(&mut self, id: u32) {
        if let Some(s) = self.streams.remove(&id) {
            if s.local {
                self.local_count -= 1;
            } else {
                self.remote_count -= 1;
            }
        }
    }

    fn maybe_remove(&mut self, id: u32) {
        if self
            .streams
            .get(&id)
            .is_some_and(|s| s.fin_sent && s.recv_fin)
        {
            self.remove_stream(id);
            self.check_drained();
        }
    }

    fn schedule(&mut self, id: u32) {
        if let Some(s) = self.streams.get_mut(&id) {
            if !s.scheduled && s.wants_send() {
                s.scheduled = true;
                self.schedule.push_back(id);
            }
        }
    }

    fn start_drain(&mut self, now: Instant) {
        self.state = LinkState::Draining;
        self.drain_deadline = Some(now + self.config.drain_timeout);
    }

    fn check_drained(&mut self) {
        if self.state == LinkState::Draining && self.streams.is_empty() {
            self.die(LinkError::Drained, None);
        }
    }

    /// Kills the link: pending frames are dropped, `goaway` (if any) is the last frame written.
    fn die(&mut self, reason: LinkError, goaway: Option<GoawayCode>) {
        if self.is_closed() {
            return;
        }
        let graceful = matches!(reason, LinkError::Drained | LinkError::DrainTimeout);
        if !graceful {
            self.control.clear();
        }
        if let Some(code) = goaway {
            self.control.push_back(Control::Goaway(code));
        }
        self.state = LinkState::Closed;
        self.streams.clear();
        self.schedule.clear();
        self.local_count = 0;
        self.remote_count = 0;
        self.inbuf = Vec::new();
        self.client_auth = None;
        self.auth_deadline = None;
        self.drain_deadline = None;
        self.probe_at = None;
        self.events.push_back(Event::Dead { reason });
    }

    /// Opens a stream of `kind` toward the peer.
    pub fn open_stream(&mut self, kind: StreamKind) -> Result<StreamId, OpenError> {
        match self.state {
            LinkState::Authenticating => return Err(OpenError::NotAuthenticated),
            LinkState::Draining => return Err(OpenError::Draining),
            LinkState::Closed => return Err(OpenError::Closed),
            LinkState::Up => {}
        }
        if self.local_count >= usize::from(self.peer.max_streams) {
            return Err(OpenError::TooManyStreams);
        }
        let id = self.next_local;
        self.next_local = id.checked_add(2).ok_or(OpenError::IdsExhausted)?;
        self.streams.insert(
            id,
            Stream::new(true, self.peer.initial_window, self.config.stream_window),
        );
        self.local_count += 1;
        self.stats.streams_opened_local += 1;
        self.control.push_back(Control::Open(id, kind));
        Ok(StreamId(id))
    }

    fn local_stream(&mut self, id: StreamId) -> Result<&mut Stream, StreamError> {
        if self.is_closed() {
            return Err(StreamError::LinkClosed);
        }
        self.streams
            .get_mut(&id.0)
            .ok_or(StreamError::UnknownStream)
    }

    /// Queues octets on a stream; returns how many were accepted (fewer than offered when the
    /// send buffer fills). `Blocked` when none could be.
    pub fn send(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        let limit = self.config.send_buffer;
        let s = self.local_stream(id)?;
        if s.fin_queued {
            return Err(StreamError::Closed);
        }
        let n = limit.saturating_sub(s.send.len()).min(data.len());
        if n == 0 && !data.is_empty() {
            s.write_blocked = true;
            return Err(StreamError::Blocked);
        }
        s.send.extend(&data[..n]);
        self.schedule(id.0);
        Ok(n)
    }

    /// Half-closes a stream: CLOSE follows the data already queued; the peer's data still
    /// arrives until its own CLOSE.
    pub fn close(&mut self, id: StreamId) -> Result<(), StreamError> {
        let s = self.local_stream(id)?;
        if s.fin_queued {
            return Err(StreamError::Closed);
        }
        s.fin_queued = true;
        self.schedule(id.0);
        Ok(())
    }

    /// Abandons a stream in both directions (RESET); queued data is dropped.
    pub fn reset(&mut self, id: StreamId, code: ResetCode) -> Result<(), StreamError> {
        self.local_stream(id)?;
        self.remove_stream(id.0);
        self.control.push_back(Control::Reset(id.0, code));
        self.check_drained();
        Ok(())
    }

    /// The application has used `n` octets of the stream's delivered data: credit goes back to
    /// the peer once half the window is consumed. Unknown streams are ignored.
    pub fn stream_consumed(&mut self, id: StreamId, n: usize) {
        let threshold = u64::from(self.config.stream_window / 2).max(1);
        let Some(s) = self.streams.get_mut(&id.0) else {
            return;
        };
        let n = (n as u64).min(s.recv_unconsumed);
        s.recv_unconsumed -= n;
        s.credit_pending += n;
        if s.credit_pending >= threshold && !s.recv_fin {
            // credit_pending never exceeds the window, a u32.
            let inc = u32::try_from(s.credit_pending).unwrap_or(u32::MAX);
            s.recv_allowed += u64::from(inc);
            s.credit_pending -= u64::from(inc);
            self.control.push_back(Control::Window(id.0, inc));
        }
    }

    /// Sends GOAWAY. `NO_ERROR` drains (no new streams; the link closes when the open ones
    /// finish or `drain_timeout` passes); any other code closes at once.
    pub fn goaway(&mut self, now: Instant, code: GoawayCode) {
        match self.state {
            LinkState::Closed => {}
            LinkState::Up if code == GoawayCode::NO_ERROR => {
                self.control.push_back(Control::Goaway(code));
                self.start_drain(now);
                self.check_drained();
            }
            LinkState::Draining if code == GoawayCode::NO_ERROR => {}
            _ => self.die(LinkError::LocalGoaway(code), Some(code)),
        }
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.auth_deadline, self.drain_deadline, self.probe_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.auth_deadline.is_some_and(|d| now >= d) {
            let code = GoawayCode::AUTH_TIMEOUT;
            return self.die(LinkError::AuthTimeout, Some(code));
        }
        if self.drain_deadline.is_some_and(|d| now >= d) {
            return self.die(LinkError::DrainTimeout, None);
        }
        if self.probe_at.is_some_and(|at| now >= at) {
            if self.outstanding.is_some() {
                self.missed += 1;
                if self.missed >= self.config.max_missed_acks {
                    let reason = LinkError::ProbeTimeout {
                        missed: self.missed,
                    };
                    return self.die(reason, Some(GoawayCode::PROBE_TIMEOUT));
                }
            }
            self.probe_seq += 1;
            self.outstanding = Some((self.probe_seq, now));
            self.control.push_back(Control::Probe(self.probe_seq));
            self.stats.probes_sent += 1;
            self.probe_at = Some(now + self.config.probe_interval);
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Appends frames to write to `buf` (about [`TRANSMIT_BUDGET`] octets at most); returns how
    /// many octets were appended, 0 when there is nothing to send.
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> usize {
        let start = buf.len();
        while let Some(c) = self.control.pop_front() {
            self.emit_control(c, buf);
        }
        if matches!(self.state, LinkState::Up | LinkState::Draining) {
            self.emit_streams(start, buf);
        }
        buf.len() - start
    }

    fn emit_control(&mut self, c: Control, buf: &mut Vec<u8>) {
        let settings = self.config.settings();
        let frame = match c {
            Control::Open(id, kind) => Frame::Open {
                stream: StreamId(id),
                kind,
            },
            Control::Reset(id, code) => Frame::Reset {
                stream: StreamId(id),
                code,
            },
            Control::Window(id, increment) => Frame::Window {
                stream: StreamId(id),
                increment,
            },
            Control::Auth => {
                // The credentials leave memory once written.
                if let Some((user, password)) = self.client_auth.take() {
                    let frame = Frame::Auth {
                        settings,
                        user: &user,
                        password: &password,
                    };
                    emit(&mut self.stats, buf, &frame);
                }
                return;
            }
            Control::AuthOk => Frame::AuthOk { settings },
            Control::Probe(seq) => Frame::Probe { seq },
            Control::Ack(seq) => Frame::Ack { seq },
            Control::Goaway(code) => Frame::Goaway { code },
        };
        emit(&mut self.stats, buf, &frame);
    }

    fn emit_streams(&mut self, start: usize, buf: &mut Vec<u8>) {
        let max_payload = usize::from(self.peer.max_payload);
        let send_buffer = self.config.send_buffer;
        let mut done = Vec::new();
        while buf.len() - start < TRANSMIT_BUDGET {
            let Some(id) = self.schedule.pop_front() else {
                break;
            };
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            s.scheduled = false;
            let credit = usize::try_from(s.send_credit).unwrap_or(usize::MAX);
            let n = s.send.len().min(credit).min(max_payload);
            if n > 0 {
                let payload = &s.send.make_contiguous()[..n];
                let frame = Frame::Data {
                    stream: StreamId(id),
                    payload,
                };
                emit(&mut self.stats, buf, &frame);
                s.send.drain(..n);
                s.send_credit -= n as u64;
                if s.write_blocked && s.send.len() < send_buffer {
                    s.write_blocked = false;
                    self.events
                        .push_back(Event::StreamWritable { id: StreamId(id) });
                }
            }
            if s.send.is_empty() && s.fin_queued && !s.fin_sent {
                emit(
                    &mut self.stats,
                    buf,
                    &Frame::Close {
                        stream: StreamId(id),
                    },
                );
                s.fin_sent = true;
                done.push(id);
            }
            if s.wants_send() {
                s.scheduled = true;
                self.schedule.push_back(id);
            }
        }
        for id in done {
            self.maybe_remove(id);
        }
    }
}

fn emit(stats: &mut LinkStats, buf: &mut Vec<u8>, frame: &Frame<'_>) {
    // Every frame the link builds is representable: payloads are capped by the peer's
    // max_payload (a u16) and credentials were length-checked in `Link::client`.
    if let Ok(n) = frame.emit_to_vec(buf) {
        stats.frames_out += 1;
        stats.bytes_out += n as u64;
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
