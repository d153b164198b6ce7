//! The traversal link between the C and E roles.
//!
//! C sits inside the network, E in the DMZ. Every traversal connection is dialed by C (E never
//! opens a connection inward: it only listens), yet E must start things toward C — a SIP request
//! for a registered phone, an HTTP request, an XMPP session, a media allocation. So C keeps the
//! TLS connection open and both ends open logical streams over it (a multiplexer): C opens odd
//! stream ids, E even ones. Keepalive probes run on the same connection.
//!
//! # Layers
//!
//! - [`frame`]: the wire format inside TLS, specified in its module docs (ours: Expressway's is not
//!   public). Zero-copy parse with need-more, serialise into the caller's buffer.
//! - [`link`]: the sans-IO connection state machine, one per TLS connection, at each end:
//!   authentication first (nothing else passes before it), streams with per-stream flow control,
//!   probe/ack keepalive, GOAWAY. Time is an argument.
//! - [`peers`]: C's sans-IO choice of E peer (up to six): failover in order, backoff, return to
//!   the preferred peer.
//! - [`certname`]: the names in C's certificate, for E's "TLS verify subject name".
//! - [`control`]: the messages of the control stream (C asks E for a call's client-facing
//!   media: E's ports and multiplex ids).
//! - [`status`]: what operators see ([`status::LinkStatus`], [`status::ListenerStatus`]).
//! - [`driver`]: tokio + tokio-rustls: E's [`driver::Listener`], C's [`driver::Dialer`], streams
//!   as async handles.
//!
//! # Security sequence
//!
//! 1. TLS with mutual authentication: each end verifies the other's chain against its configured
//!    CA. C checks that E's certificate names the E it dialed; E requires a client certificate
//!    (with the client-auth usage, if it lists usages) and then checks that its subject CN or a SAN
//!    is the name E is configured to expect.
//! 2. C sends AUTH with a user name and password from E's local credential store
//!    ([`Credentials`]); E answers AUTH_OK or GOAWAY(AUTH_FAILED) and closes.
//! 3. Only then streams and probes.
//!
//! Each refusal is reported with its reason, at both ends where the protocol allows: E's
//! [`status::ListenerStatus::last_error`], C's [`status::LinkStatus::last_error`] (a TLS alert, or
//! the GOAWAY code E sent).

pub mod certname;
pub mod control;
pub mod driver;
pub mod frame;
pub mod link;
pub mod peers;
pub mod status;

use core::fmt;

/// E's local credential store, as the link needs it (the store itself lives elsewhere). Compare
/// in constant time where the store can.
pub trait Credentials {
    /// Whether `password` is right for `user`.
    fn check(&self, user: &str, password: &str) -> bool;
}

/// The errors of the traversal module, gathered (for the crate error).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Malformed frame from the peer.
    Frame(frame::FrameError),
    /// A link died.
    Link(link::LinkError),
    /// A link or credential configuration is unusable (API misuse).
    Config(link::ConfigError),
    /// A stream could not be opened.
    Open(link::OpenError),
    /// A stream operation on the sans-IO link failed.
    Stream(link::StreamError),
    /// A peer list or backoff is unusable (API misuse).
    Peers(peers::PeerConfigError),
    /// A driver could not start.
    Driver(driver::DriverError),
    /// An async stream operation failed.
    StreamIo(driver::StreamIoError),
    /// An async stream could not be opened.
    OpenStream(driver::OpenStreamError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => e.fmt(f),
            Self::Link(e) => e.fmt(f),
            Self::Config(e) => e.fmt(f),
            Self::Open(e) => e.fmt(f),
            Self::Stream(e) => e.fmt(f),
            Self::Peers(e) => e.fmt(f),
            Self::Driver(e) => e.fmt(f),
            Self::StreamIo(e) => e.fmt(f),
            Self::OpenStream(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

macro_rules! from_error {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Self::$variant(e)
            }
        }
    )*};
}

from_error!(
    Frame(frame::FrameError),
    Link(link::LinkError),
    Config(link::ConfigError),
    Open(link::OpenError),
    Stream(link::StreamError),
    Peers(peers::PeerConfigError),
    Driver(driver::DriverError),
    StreamIo(driver::StreamIoError),
    OpenStream(driver::OpenStreamError),
);
