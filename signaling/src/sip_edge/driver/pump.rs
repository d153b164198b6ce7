//! The traversal SIP stream: envelopes out of a channel into the stream, envelopes out of the
//! stream into the proxy task.

use tokio::sync::mpsc;

use crate::sip_edge::envelope::{EnvelopeReader, OwnedEnvelope};
use crate::traversal::driver::Stream;
use crate::traversal::frame::ResetCode;

/// Why the stream ended.
#[derive(Debug)]
pub(super) enum PumpEnd {
    /// The link or the peer ended it.
    Closed(String),
    /// The peer broke the envelope format (the stream is reset).
    Envelope(String),
    /// The proxy task dropped its sender.
    Dropped,
}

impl std::fmt::Display for PumpEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PumpEnd::Closed(why) => write!(f, "closed: {why}"),
            PumpEnd::Envelope(why) => write!(f, "broken envelope from the peer: {why}"),
            PumpEnd::Dropped => f.write_str("closed by us"),
        }
    }
}

/// Runs the stream until it ends. `deliver` returns `false` once the proxy task is gone.
pub(super) async fn run(
    mut stream: Stream,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    mut deliver: impl FnMut(OwnedEnvelope) -> bool,
) -> PumpEnd {
    let mut reader = EnvelopeReader::new();
    loop {
        tokio::select! {
            chunk = stream.recv() => {
                let chunk = match chunk {
                    Ok(Some(c)) => c,
                    Ok(None) => return PumpEnd::Closed("peer closed the SIP stream".into()),
                    Err(e) => return PumpEnd::Closed(e.to_string()),
                };
                reader.push(&chunk);
                loop {
                    match reader.next_envelope() {
                        Ok(Some(env)) => {
                            if !deliver(env) {
                                return PumpEnd::Dropped;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            stream.reset(ResetCode::CANCEL);
                            return PumpEnd::Envelope(e.to_string());
                        }
                    }
                }
            }
            out = outgoing.recv() => {
                let Some(bytes) = out else {
                    return PumpEnd::Dropped;
                };
                if let Err(e) = stream.send(&bytes).await {
                    return PumpEnd::Closed(e.to_string());
                }
            }
        }
    }
}
