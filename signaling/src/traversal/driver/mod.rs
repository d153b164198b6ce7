//! The tokio + tokio-rustls driver of the traversal link: the one place where [`Link`]s meet
//! sockets and timers.
//!
//! - E: [`Listener`] accepts TLS on 7001 (E never dials C), requires a client certificate that
//!   chains to the configured CA (rustls `WebPkiClientVerifier`: chain, validity, client-auth
//!   usage), then checks the "TLS verify subject name" (subject CN or SAN) and answers a mismatch
//!   with GOAWAY(SUBJECT_NAME); then runs [`Link::server`], which checks C's credentials. Each
//!   authenticated link is a [`Connection`].
//! - C: [`Dialer`] dials its E peers in order (rustls `WebPkiServerVerifier`: E's certificate
//!   must chain to the configured CA and name the E dialed), runs [`Link::client`], fails over and
//!   backs off as [`PeerSelector`](crate::traversal::peers::PeerSelector) decides.
//! - Both: each connection runs one task (`conn.rs`): read → `handle_input`, handles' commands,
//!   timers → `handle_timeout`, then the drain rule; a separate writer task so that a slow peer
//!   never stops the reader. Streams are [`Stream`] handles (mpsc-based `send`/`recv`); status
//!   goes out on `watch` channels ([`LinkStatus`](crate::traversal::status::LinkStatus),
//!   [`ListenerStatus`](crate::traversal::status::ListenerStatus)). Every refusal is reported
//!   with its reason in `last_error`.
//!
//! Handshakes have a timeout (`handshake_timeout`: TCP connect and TLS; the link's
//! `auth_timeout`: AUTH). Nothing read from the network can panic the driver.
//!
//! [`Link`]: crate::traversal::link::Link
//! [`Link::server`]: crate::traversal::link::Link::server
//! [`Link::client`]: crate::traversal::link::Link::client

use std::fmt;
use std::io;

use crate::traversal::link::ConfigError;
use crate::traversal::peers::PeerConfigError;

mod conn;
mod dialer;
mod listener;
mod tls;

pub use conn::{OpenStreamError, Stream, StreamIoError, StreamReader, StreamWriter};
pub use dialer::{Dialer, DialerConfig, EPeer};
pub use listener::{Connection, Listener, ListenerConfig};
pub use tls::TlsIdentity;

/// The traversal port E listens on unless configured otherwise (SIP zone, as Expressway's).
pub const DEFAULT_PORT: u16 = 7001;

/// A driver that cannot start (configuration, certificates, the listening socket).
#[derive(Debug)]
pub enum DriverError {
    /// The link configuration or the credentials are unusable.
    Link(ConfigError),
    /// The peer list or the backoff is unusable.
    Peers(PeerConfigError),
    /// A certificate, key or CA could not be used.
    Tls(String),
    /// An E peer's name is neither a DNS name nor an IP address.
    BadPeerName(String),
    /// E has no "TLS verify subject name" configured.
    NoExpectedSubjectName,
    /// The listening socket could not be bound.
    Bind(io::Error),
    /// Started outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Link(e) => write!(f, "traversal link configuration: {e}"),
            Self::Peers(e) => write!(f, "traversal peers: {e}"),
            Self::Tls(e) => write!(f, "traversal TLS: {e}"),
            Self::BadPeerName(n) => write!(f, "E peer name {n:?} is not a DNS name or IP address"),
            Self::NoExpectedSubjectName => {
                f.write_str("no TLS verify subject name configured for C's certificate")
            }
            Self::Bind(e) => write!(f, "cannot listen: {e}"),
            Self::NoRuntime => f.write_str("the traversal driver needs a tokio runtime"),
        }
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Link(e) => Some(e),
            Self::Peers(e) => Some(e),
            Self::Bind(e) => Some(e),
            _ => None,
        }
    }
}
