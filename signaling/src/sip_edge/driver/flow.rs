//! One SIP stream connection (a client's TLS flow on E, a TCP connection with call control on
//! C): framing, keepalives, STUN, and writes queued by the proxy task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::TransportCounters;
use crate::sip::{error_response, Error, Frame, Framer, Limits, Role};
use crate::sip_edge::stun::{self, StunFrame};

/// Queued messages written with one write, up to about this many octets.
const COALESCE: usize = 64 * 1024;

/// How one connection is read.
pub(super) struct FlowSetup {
    /// The peer's address (STUN's mapped address).
    pub peer: SocketAddr,
    /// Whether STUN binding requests are answered (client flows).
    pub stun: bool,
    /// Size limits of the framer.
    pub limits: Limits,
    /// How long the start of a message may wait for its end (a Content-Length larger than
    /// what comes, a client that stalls mid-message): then the flow is closed, counted.
    pub incomplete_timeout: Duration,
}

/// Why a connection ended, for the log.
#[derive(Debug)]
pub(super) enum FlowEnd {
    /// The peer closed it.
    Closed,
    /// The proxy task dropped its sender (shutdown).
    Dropped,
    /// A read or write failed.
    Io(std::io::Error),
    /// Bytes that cannot be framed (the reason).
    Framing(&'static str),
}

impl std::fmt::Display for FlowEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowEnd::Closed => f.write_str("closed by the peer"),
            FlowEnd::Dropped => f.write_str("closed by us"),
            FlowEnd::Io(e) => write!(f, "I/O error: {e}"),
            FlowEnd::Framing(reason) => write!(f, "unframeable bytes ({reason})"),
        }
    }
}

/// Runs the connection until it ends; each framed message goes to `deliver`.
pub(super) async fn run<S>(
    stream: S,
    setup: FlowSetup,
    counters: Arc<TransportCounters>,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    mut deliver: impl FnMut(Vec<u8>) -> bool,
) -> FlowEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut framer = Framer::new(setup.limits, Role::Server);
    // The framing buffer holds nothing between messages: an idle flow (most of them: a
    // registered phone talks every few minutes) costs only the small read chunk here.
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 1024];
    // Armed while the buffer holds the start of a message.
    let mut incomplete_since: Option<tokio::time::Instant> = None;
    loop {
        let stalled = async {
            match incomplete_since {
                Some(t) => tokio::time::sleep_until(t + setup.incomplete_timeout).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stalled => {
                TransportCounters::bump(&counters.framing_errors);
                let _ = wr.shutdown().await;
                return FlowEnd::Framing("incomplete_message_timeout");
            }
            r = rd.read(&mut chunk) => {
                let n = match r {
                    Ok(0) => return FlowEnd::Closed,
                    Ok(n) => n,
                    Err(e) => return FlowEnd::Io(e),
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut replies = Vec::new();
                let before = buf.len();
                let end = drain(&mut buf, &mut framer, &setup, &counters, &mut replies, &mut deliver);
                // Progress: something was framed, so what is left is a new message's start.
                let progressed = buf.len() < before;
                if !replies.is_empty() {
                    if let Err(e) = wr.write_all(&replies).await {
                        return FlowEnd::Io(e);
                    }
                }
                if let Some(end) = end {
                    let _ = wr.shutdown().await;
                    return end;
                }
                if buf.is_empty() {
                    buf = Vec::new();
                }
                incomplete_since = match (buf.is_empty(), incomplete_since) {
                    (true, _) => None,
                    (false, None) => Some(tokio::time::Instant::now()),
                    (false, Some(_)) if progressed => Some(tokio::time::Instant::now()),
                    (false, since) => since,
                };
            }
            out = outgoing.recv() => {
                let Some(mut bytes) = out else {
                    let _ = wr.shutdown().await;
                    return FlowEnd::Dropped;
                };
                // Under load several messages wait: one write for all of them.
                while bytes.len() < COALESCE {
                    match outgoing.try_recv() {
                        Ok(more) => bytes.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                if let Err(e) = wr.write_all(&bytes).await {
                    return FlowEnd::Io(e);
                }
            }
        }
    }
}

/// Frames what `buf` holds; replies the connection owes (pongs, STUN answers, error
/// responses) go to `replies`. `Some` when the connection must close.
fn drain(
    buf: &mut Vec<u8>,
    framer: &mut Framer,
    setup: &FlowSetup,
    counters: &TransportCounters,
    replies: &mut Vec<u8>,
    deliver: &mut impl FnMut(Vec<u8>) -> bool,
) -> Option<FlowEnd> {
    let mut at = 0;
    let end = loop {
        let rest = &buf[at..];
        if rest.is_empty() {
            break None;
        }
        if setup.stun {
            match stun::frame(rest) {
                StunFrame::NotStun => {}
                StunFrame::Incomplete => break None,
                StunFrame::BindingRequest { len } => {
                    stun::binding_success(&rest[..len], setup.peer, replies);
                    TransportCounters::bump(&counters.stun_answered);
                    at += len;
                    continue;
                }
                StunFrame::Other { len } => {
                    TransportCounters::bump(&counters.stun_dropped);
                    at += len;
                    continue;
                }
                StunFrame::Invalid => {
                    TransportCounters::bump(&counters.framing_errors);
                    break Some(FlowEnd::Framing("invalid_stun"));
                }
            }
        }
        match framer.next(rest) {
            Ok(Frame::Incomplete) => break None,
            Ok(Frame::Ping) => {
                replies.extend_from_slice(b"\r\n");
                TransportCounters::bump(&counters.pings_answered);
                at += 4;
            }
            Ok(f @ Frame::Pong) => at += f.len(),
            Ok(Frame::Message { len }) => {
                if !deliver(rest[..len].to_vec()) {
                    break Some(FlowEnd::Dropped);
                }
                at += len;
            }
            Err(e) => {
                TransportCounters::bump(&counters.framing_errors);
                // Answer what can be answered (513 for a message too large, 400 otherwise),
                // then close: the stream cannot be read past this point.
                let mut r = Vec::new();
                if error_response(rest, Error::Framing(e), "framing", &mut r).is_ok() {
                    replies.extend_from_slice(&r);
                }
                break Some(FlowEnd::Framing(e.reason()));
            }
        }
    };
    buf.drain(..at.min(buf.len()));
    end
}
