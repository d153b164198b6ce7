//! The tokio + rustls drivers of SIP through the edge: the one place where [`EProxy`] and
//! [`CProxy`] meet sockets, TLS and timers.
//!
//! - E ([`start_e`]): TLS on 5061 for clients (each connection a flow: framed SIP, CRLF pings
//!   answered with a pong, STUN binding requests answered), the traversal listener on 7001 (C's
//!   SIP stream carries the envelopes), a one-second tick for expiries.
//! - C ([`start_c`]): the traversal dialer (opens the SIP stream once a link is up, again after
//!   every reconnect), UDP and TCP on `sip_listen` for call control, a TCP connection to call
//!   control made from that same address (so that call control's replies and requests on a new
//!   connection reach the listener), a one-second tick.
//!
//! Each driver runs one task that owns its proxy; connections run tasks of their own and talk
//! to it over channels. Every snapshot for the admin API is asked of that task.
//!
//! [`EProxy`]: super::EProxy
//! [`CProxy`]: super::CProxy

mod c;
mod e;
mod flow;
mod pump;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustls::ServerConfig;

pub use c::{
    start_c, CDriverConfig, CHandle, CSnapshot, CallControlPeer, CallControlTransport, CallMedia,
    StreamCounters,
};
pub use e::{start_e, EDriverConfig, EHandle, ESnapshot};

use crate::traversal::driver::TlsIdentity;

/// The client-facing TLS configuration of E's SIP listener (no client certificate asked).
///
/// With `SSLKEYLOGFILE` set in E's environment, the session keys of client connections are
/// appended to that file (NSS key log format), so that a capture of the internet side can be
/// read (`tshark -o tls.keylog_file:FILE`): for troubleshooting and for the lab's proof of
/// what the SDP outside says. Unset (the normal case), nothing is written.
pub fn sip_tls_server_config(identity: &TlsIdentity) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(identity.cert_chain.clone(), identity.key.clone_key())
        .map_err(|e| format!("E certificate or key: {e}"))?;
    if let Some(path) = std::env::var_os("SSLKEYLOGFILE") {
        eprintln!(
            "e: SSLKEYLOGFILE is set: the TLS session keys of client connections go to {} \
             (troubleshooting only)",
            std::path::Path::new(&path).display()
        );
        config.key_log = Arc::new(rustls::KeyLogFile::new());
    }
    Ok(Arc::new(config))
}

/// What the connection tasks count (shared, lock-free).
#[derive(Debug, Default)]
pub struct TransportCounters {
    /// TLS (or TCP) connections accepted.
    pub accepted: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub handshake_failures: AtomicU64,
    /// CRLF keepalive pings answered.
    pub pings_answered: AtomicU64,
    /// STUN binding requests answered.
    pub stun_answered: AtomicU64,
    /// Other STUN messages dropped.
    pub stun_dropped: AtomicU64,
    /// Connections closed because their bytes could not be framed (over the size limits, bad
    /// Content-Length, broken STUN).
    pub framing_errors: AtomicU64,
    /// Connections refused because the connection limit was reached.
    pub refused_limit: AtomicU64,
}

impl TransportCounters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as Prometheus text lines (`<prefix>_…`).
    pub fn metrics(&self, prefix: &str, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rows = [
            ("connections_accepted_total", "", get(&self.accepted)),
            (
                "tls_handshake_failures_total",
                "",
                get(&self.handshake_failures),
            ),
            (
                "keepalive_pings_answered_total",
                "",
                get(&self.pings_answered),
            ),
            ("stun_binding_answered_total", "", get(&self.stun_answered)),
            ("stun_dropped_total", "", get(&self.stun_dropped)),
            (
                "connections_closed_total",
                "reason=\"framing\"",
                get(&self.framing_errors),
            ),
            (
                "connections_refused_total",
                "reason=\"limit\"",
                get(&self.refused_limit),
            ),
        ];
        super::common::write_metrics(prefix, &rows, out);
    }
}

/// A driver that could not start.
#[derive(Debug)]
pub enum StartError {
    /// A listening socket could not be bound.
    Bind(String, std::io::Error),
    /// The traversal driver refused its configuration.
    Traversal(crate::traversal::driver::DriverError),
    /// Started outside a tokio runtime.
    NoRuntime,
    /// C was given no call control.
    NoCallControl,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Bind(what, e) => write!(f, "cannot listen on {what}: {e}"),
            StartError::Traversal(e) => write!(f, "traversal: {e}"),
            StartError::NoRuntime => f.write_str("the SIP driver needs a tokio runtime"),
            StartError::NoCallControl => f.write_str("C needs at least one call control"),
        }
    }
}

impl std::error::Error for StartError {}
