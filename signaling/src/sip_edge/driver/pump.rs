//! The traversal SIP stream: envelopes out of a channel into the stream, envelopes out of the
//! stream into the proxy task.

use tokio::sync::mpsc;

use crate::sip_edge::envelope::{EnvelopeReader, OwnedEnvelope};
use crate::traversal::driver::Stream;

/// Queued envelopes sent at once, up to about this many octets.
const COALESCE: usize = 64 * 1024;

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
///
/// Sending and receiving run apart (the stream is split): a send waiting for the peer's
/// flow-control window must never stop this end from reading, or two ends that both send hard
/// each wait for the other to read.
pub(super) async fn run(
    stream: Stream,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    mut deliver: impl FnMut(OwnedEnvelope) -> bool,
) -> PumpEnd {
    let (mut writer, mut reader) = stream.split();
    let sender = tokio::spawn(async move {
        while let Some(mut bytes) = outgoing.recv().await {
            // Under load several envelopes wait: one send (and one TLS record) for them.
            while bytes.len() < COALESCE {
                match outgoing.try_recv() {
                    Ok(more) => bytes.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            if let Err(e) = writer.send(&bytes).await {
                return PumpEnd::Closed(e.to_string());
            }
        }
        PumpEnd::Dropped
    });
    let _abort = AbortOnDrop(sender);
    let mut envelopes = EnvelopeReader::new();
    loop {
        let chunk = match reader.recv().await {
            Ok(Some(c)) => c,
            Ok(None) => return PumpEnd::Closed("peer closed the SIP stream".into()),
            Err(e) => return PumpEnd::Closed(e.to_string()),
        };
        envelopes.push(&chunk);
        loop {
            match envelopes.next_envelope() {
                Ok(Some(env)) => {
                    if !deliver(env) {
                        return PumpEnd::Dropped;
                    }
                }
                Ok(None) => break,
                // Dropping both halves resets the stream.
                Err(e) => return PumpEnd::Envelope(e.to_string()),
            }
        }
    }
}

/// Aborts the sending task when the pump ends.
struct AbortOnDrop(tokio::task::JoinHandle<PumpEnd>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
