//! What operators see of the traversal links: [`LinkStatus`] per link (C: the one live link, E:
//! each accepted link) and [`ListenerStatus`] for E's listener. Plain data, published by the
//! driver through `tokio::sync::watch` channels; the admin API serialises it.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::frame::GoawayCode;
use super::link::{LinkError, LinkStats};

/// Where a link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPhase {
    /// TCP connect and TLS handshake in progress.
    Connecting,
    /// TLS is up; AUTH / AUTH_OK in progress.
    Authenticating,
    /// Authenticated; streams flow.
    Up,
    /// Draining after GOAWAY(NO_ERROR).
    Draining,
    /// (C) waiting before the next round of dials.
    BackingOff,
    /// Closed (E: this link is over; C: shut down).
    Closed,
}

impl fmt::Display for LinkPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "connecting",
            Self::Authenticating => "authenticating",
            Self::Up => "up",
            Self::Draining => "draining",
            Self::BackingOff => "backing-off",
            Self::Closed => "closed",
        })
    }
}

/// The class of a failure, for alarms and metrics; [`Failure::detail`] has the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// TCP connect failed (refused, unreachable, name not resolved).
    Connect,
    /// TCP connect or the TLS handshake took longer than the handshake timeout.
    Timeout,
    /// We refused the peer's certificate (untrusted CA, expired, wrong name, bad usage).
    CertificateRejected,
    /// (E) the client presented no certificate.
    NoClientCertificate,
    /// (E) the client certificate does not carry the expected subject name.
    SubjectName,
    /// The peer refused us: a TLS alert (often our certificate) or a GOAWAY other than
    /// AUTH_FAILED.
    RefusedByPeer,
    /// Another TLS failure (no common version or cipher suite, bad record…).
    Tls,
    /// The user name or password was refused (E: by us; C: by E).
    AuthFailed,
    /// Authentication did not complete in time.
    AuthTimeout,
    /// Keepalive probes went unanswered.
    ProbeTimeout,
    /// The peer broke the framing or the protocol.
    Protocol,
    /// The connection closed or failed under an established link, or the peer drained it.
    ConnectionLost,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::CertificateRejected => "certificate-rejected",
            Self::NoClientCertificate => "no-client-certificate",
            Self::SubjectName => "subject-name",
            Self::RefusedByPeer => "refused-by-peer",
            Self::Tls => "tls",
            Self::AuthFailed => "auth-failed",
            Self::AuthTimeout => "auth-timeout",
            Self::ProbeTimeout => "probe-timeout",
            Self::Protocol => "protocol",
            Self::ConnectionLost => "connection-lost",
        })
    }
}

/// One failure with its reason, as operators see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The class.
    pub kind: FailureKind,
    /// What happened, in words (the TLS error, the GOAWAY code, the names found…).
    pub detail: String,
    /// The peer: `name:port` of the E dialed (C), the client's address (E).
    pub peer: String,
    /// When.
    pub at: SystemTime,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.peer, self.kind, self.detail)
    }
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, detail: impl Into<String>, peer: &str) -> Self {
        Self {
            kind,
            detail: detail.into(),
            peer: peer.to_owned(),
            at: SystemTime::now(),
        }
    }

    /// The failure a dead link reports, `None` for an orderly end we asked for.
    pub(crate) fn from_link(reason: LinkError, peer: &str, peer_drained: bool) -> Option<Self> {
        let kind = match reason {
            LinkError::AuthFailed | LinkError::PeerGoaway(GoawayCode::AUTH_FAILED) => {
                FailureKind::AuthFailed
            }
            LinkError::AuthTimeout | LinkError::PeerGoaway(GoawayCode::AUTH_TIMEOUT) => {
                FailureKind::AuthTimeout
            }
            LinkError::PeerGoaway(GoawayCode::PROBE_TIMEOUT) | LinkError::ProbeTimeout { .. } => {
                FailureKind::ProbeTimeout
            }
            // The peer says we broke the protocol.
            LinkError::PeerGoaway(GoawayCode::PROTOCOL_ERROR | GoawayCode::FRAME_SIZE) => {
                FailureKind::Protocol
            }
            LinkError::PeerGoaway(GoawayCode::SUBJECT_NAME) => FailureKind::RefusedByPeer,
            // SHUTDOWN, INTERNAL, unknown codes: the peer closed the link.
            LinkError::PeerGoaway(_) => FailureKind::ConnectionLost,
            LinkError::Malformed(_) | LinkError::Protocol(_) => FailureKind::Protocol,
            LinkError::Drained | LinkError::DrainTimeout if peer_drained => {
                FailureKind::ConnectionLost
            }
            LinkError::ConnectionLost => FailureKind::ConnectionLost,
            LinkError::Drained | LinkError::DrainTimeout | LinkError::LocalGoaway(_) => {
                return None
            }
        };
        let detail = match reason {
            LinkError::Drained | LinkError::DrainTimeout => {
                "peer drained the link (GOAWAY NO_ERROR)".to_owned()
            }
            other => other.to_string(),
        };
        Some(Self::new(kind, detail, peer))
    }
}

/// Counters of a link (C: summed over every connection it made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Frames received.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Octets received inside TLS.
    pub bytes_in: u64,
    /// Octets sent inside TLS.
    pub bytes_out: u64,
    /// (C) connections attempted, every peer.
    pub connect_attempts: u64,
    /// (C) times a link came up again after one was lost or replaced.
    pub reconnects: u64,
    /// Credentials refused (C: by E; E: C's).
    pub auth_failures: u64,
    /// Streams opened, both directions.
    pub streams_opened: u64,
    /// Streams the peer opened that we refused.
    pub streams_refused: u64,
    /// Streams reset because the peer exceeded its flow-control window.
    pub flow_control_resets: u64,
}

impl LinkCounters {
    pub(crate) fn add_link(&mut self, s: &LinkStats) {
        self.frames_in += s.frames_in;
        self.frames_out += s.frames_out;
        self.bytes_in += s.bytes_in;
        self.bytes_out += s.bytes_out;
        self.auth_failures += s.auth_failures;
        self.streams_opened += s.streams_opened_local + s.streams_opened_remote;
        self.streams_refused += s.streams_refused;
        self.flow_control_resets += s.flow_control_resets;
    }

    pub(crate) fn plus(mut self, other: &LinkCounters) -> Self {
        self.frames_in += other.frames_in;
        self.frames_out += other.frames_out;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.connect_attempts += other.connect_attempts;
        self.reconnects += other.reconnects;
        self.auth_failures += other.auth_failures;
        self.streams_opened += other.streams_opened;
        self.streams_refused += other.streams_refused;
        self.flow_control_resets += other.flow_control_resets;
        self
    }
}

/// A snapshot of one traversal link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// The peer: (C) `name:port` of the E dialed or live, (E) C's address. `None` before the
    /// first dial.
    pub peer: Option<String>,
    /// The peer's address, once connected (C: E's address on the traversal network, where its
    /// multiplexed media pairs listen too).
    pub peer_addr: Option<std::net::SocketAddr>,
    /// The state.
    pub state: LinkPhase,
    /// Since when the link has been in this state.
    pub since: SystemTime,
    /// The latest failure, with its reason. Kept after recovery, so that an operator sees why
    /// the link last went down.
    pub last_error: Option<Failure>,
    /// The latest probe round-trip time.
    pub rtt: Option<Duration>,
    /// Counters.
    pub counters: LinkCounters,
}

impl LinkStatus {
    pub(crate) fn new(state: LinkPhase, peer: Option<String>) -> Self {
        Self {
            peer,
            peer_addr: None,
            state,
            since: SystemTime::now(),
            last_error: None,
            rtt: None,
            counters: LinkCounters::default(),
        }
    }

    /// Moves to `state`, restamping `since` only when the state changes.
    pub(crate) fn set_state(&mut self, state: LinkPhase) {
        if self.state != state {
            self.state = state;
            self.since = SystemTime::now();
        }
    }
}

/// E's listener, as operators see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerStatus {
    /// The address listened on.
    pub local_addr: SocketAddr,
    /// TCP connections accepted.
    pub accepted: u64,
    /// Connections refused before a link came up (TLS, certificate, subject name, credentials,
    /// timeouts).
    pub refused: u64,
    /// Credentials refused.
    pub auth_failures: u64,
    /// Links authenticated and not yet closed.
    pub active_links: u64,
    /// The latest refusal or link failure, with its reason.
    pub last_error: Option<Failure>,
}
