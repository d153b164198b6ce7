//! The SIP transaction layer (RFC 3261 §17, with the RFC 6026 fixes), sans-IO.
//!
//! A transaction is a request and the responses to it. This layer makes SIP reliable over UDP
//! (retransmitting requests, and INVITE final responses, until answered), absorbs the
//! retransmissions the other side sends, matches each response to the request it answers, and
//! tells the transaction user (TU: a proxy core, a B2BUA, a registrar) when nothing came back.
//!
//! - [`client`]: [`InviteClient`] (§17.1.1; 2xx end it in the Accepted state of RFC 6026, and
//!   the transaction builds the ACK for a 3xx–6xx itself, §17.1.1.3) and [`NonInviteClient`]
//!   (§17.1.2);
//! - [`server`]: [`InviteServer`] (§17.2.1; 2xx move it to Accepted, RFC 6026; 100 Trying when
//!   the TU is slow) and [`NonInviteServer`] (§17.2.2);
//! - [`timers`]: [`TimerConfig`] (T1, T2, T4), [`Timer`] (A to M), [`Reliability`];
//! - [`table`]: [`Transactions`], which matches messages to transactions (§17.1.3, §17.2.3),
//!   creates server transactions, drives every timer from one queue, removes what terminated,
//!   bounds its size and counts what happened ([`TransactionStats`]);
//! - [`error`]: [`TransactionError`] for API misuse, [`TableFull`] for load.
//!
//! Each machine can be used alone (in a test, or by a TU that keeps its own map of them); a
//! driver normally uses the table.
//!
//! # Who does what
//!
//! The 2xx to an INVITE ends the transaction's part in reliability: the UAS core retransmits its
//! 2xx (RFC 3261 §13.3.1.4) by handing it to [`Transactions::send_response`] again while the
//! INVITE server is in Accepted, and the UAC core sends the ACK for a 2xx straight to the
//! transport, outside any transaction (§13.2.2.4). An INVITE client passes every 2xx it sees in
//! Accepted to the TU, so that each fork's 2xx is ACKed.
//!
//! # Driving it
//!
//! Time is an argument ([`std::time::Instant`]); nothing here reads a clock, opens a socket or
//! starts a thread. The drain rule: after each call — [`Transactions::handle_message`],
//! [`send_request`](Transactions::send_request), [`send_response`](Transactions::send_response),
//! [`handle_transport_error`](Transactions::handle_transport_error),
//! [`handle_timeout`](Transactions::handle_timeout) — call
//! [`poll_output`](Transactions::poll_output) until it returns `None`, and act on each
//! [`TableOutput`]:
//!
//! - [`Output::Transmit`]: write the bytes to the output's `peer` (a datagram over UDP; over a
//!   stream, the flow the peer names);
//! - [`Output::Event`]: hand the [`Event`] to the TU, which may call back into the table at once
//!   (answer a request, say) — the new outputs join the queue being drained;
//! - [`Output::Terminated`]: the transaction has left the table; forget its id.
//!
//! Then sleep until [`poll_timeout`](Transactions::poll_timeout) or the next message, whichever
//! comes first, and call `handle_timeout` with the time when the deadline passes.
//!
//! A UDP server answering OPTIONS, its clock advanced by hand:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! use signaling::sip::transaction::{Config, Event, Incoming, Output, Transactions};
//! use signaling::sip::Message;
//!
//! type Sent = Vec<(SocketAddr, Vec<u8>)>;
//!
//! /// Drains the table; the TU answers every request 200 OK.
//! fn drain(table: &mut Transactions<SocketAddr>, now: Instant, sent: &mut Sent) {
//!     while let Some(o) = table.poll_output() {
//!         match o.output {
//!             Output::Transmit(bytes) => sent.push((o.peer, bytes)),
//!             Output::Event(Event::Request(request)) => {
//!                 if let Ok(ok) = request.response(200, "OK", Some("e-1")) {
//!                     let _ = table.send_response(now, o.id, ok);
//!                 }
//!             }
//!             Output::Event(_) | Output::Terminated => {}
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut table = Transactions::new(Config::default());
//! let mut now = Instant::now(); // a driver's clock: read by the driver, never by the table
//! let peer: SocketAddr = "192.0.2.7:5060".parse()?;
//! let datagram = b"OPTIONS sip:edge.example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK-o1\r\n\
//!     Max-Forwards: 70\r\n\
//!     From: <sip:monitor@example.com>;tag=m1\r\n\
//!     To: <sip:edge.example.com>\r\n\
//!     Call-ID: o1@192.0.2.7\r\n\
//!     CSeq: 7 OPTIONS\r\n\
//!     Content-Length: 0\r\n\r\n";
//! let mut sent = Sent::new();
//! // A retransmission 500 ms later is absorbed, and the 200 OK goes out again.
//! for _ in 0..2 {
//!     match table.handle_message(now, Message::parse(datagram)?, peer) {
//!         Ok(Incoming::Created(_) | Incoming::Matched { .. }) => {}
//!         Ok(Incoming::Unmatched(_stray)) => {} // a stray response or a 2xx ACK: the TU's
//!         Err(full) => {
//!             let busy = full.request.response(503, "Service Unavailable", Some("e-1"))?;
//!             sent.push((peer, busy.to_bytes()));
//!         }
//!     }
//!     drain(&mut table, now, &mut sent);
//!     now += std::time::Duration::from_millis(500);
//! }
//! // No more input: sleep until each deadline and fire it (Timer J, 32 s over UDP).
//! while let Some(deadline) = table.poll_timeout() {
//!     now = deadline;
//!     table.handle_timeout(now);
//!     drain(&mut table, now, &mut sent);
//! }
//! assert!(table.is_empty());
//! assert_eq!(sent.len(), 2);
//! assert!(sent.iter().all(|(to, bytes)| *to == peer && bytes.starts_with(b"SIP/2.0 200 OK")));
//! assert_eq!(table.stats().absorbed, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Left out, on purpose
//!
//! - RFC 2543 transaction matching (requests whose branch lacks `z9hG4bK`): each such request is
//!   a new server transaction, and such an ACK matches nothing ([`table`] docs).
//! - Transport failover (RFC 3263 and §18.4 retries at the next address): the driver's; the
//!   transaction only hears of the failure ([`Event::TransportError`]).
//! - Proxy Timer C (§16.8), CANCEL construction (§9.1), 2xx retransmission and ACK (§13): the
//!   TU's. An INVITE transaction in Proceeding has no timer of its own (RFC 3261 stops Timer B
//!   at the first 1xx, and a server waits for its TU): the TU ends it with a final response, a
//!   CANCEL, or [`Transactions::terminate`].
//! - RFC 4320/4321 (non-INVITE: no 408 to send, 100 Trying after T2) and reliable provisional
//!   responses (RFC 3262): the TU's, if wanted.
//! - The transaction does not check that a response from the TU answers its request; the TU
//!   built it from that request ([`Message::response`](crate::sip::Message::response)).

pub mod client;
pub mod error;
mod machine;
pub mod server;
pub mod table;
pub mod timers;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod table_tests;

pub use client::{InviteClient, NonInviteClient};
pub use error::{TableFull, TransactionError};
pub use server::{InviteServer, NonInviteServer};
pub use table::{
    Config, Incoming, Side, TableOutput, TransactionId, TransactionKey, TransactionStats,
    Transactions,
};
pub use timers::{Reliability, Timer, TimerConfig};

use crate::sip::Message;

/// The state of a transaction. Each machine uses some of them (see its docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// INVITE client: the INVITE is sent, nothing has come back.
    Calling,
    /// Non-INVITE client and server: the request is sent (or received), no response yet.
    Trying,
    /// A provisional response has been received (client) or sent (server); for an INVITE server,
    /// also the state it starts in.
    Proceeding,
    /// A final response (3xx–6xx for INVITE) has been received or sent; retransmissions are
    /// absorbed.
    Completed,
    /// INVITE server: the ACK for its non-2xx final response has come.
    Confirmed,
    /// INVITE client and server: a 2xx has been received or sent (RFC 6026).
    Accepted,
    /// Over; the transaction does nothing more.
    Terminated,
}

/// What a transaction tells the TU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Server: the request that created the transaction.
    Request(Message),
    /// Client: a response — provisional, the final one, and in Accepted each further 2xx.
    Response(Message),
    /// INVITE server in Accepted: an ACK that matched the transaction (RFC 6026 §7.1). The ACK
    /// for a 2xx normally has a branch of its own and comes as [`Incoming::Unmatched`].
    Ack(Message),
    /// The transaction gave up: Timer B or F (client: no response), or H (INVITE server: no
    /// ACK). It terminates.
    Timeout(Timer),
    /// The transport reported that it could not send what the transaction gave it.
    TransportError,
}

/// What a transaction wants done, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "an event moves once from the machine through the queue to the TU; boxing its message would add an allocation to every event"
)]
pub enum Output {
    /// Bytes of one message for the transport: the request (client), a response (server), or
    /// the ACK for a non-2xx final response (INVITE client).
    Transmit(Vec<u8>),
    /// For the TU.
    Event(Event),
    /// The transaction has terminated; nothing follows.
    Terminated,
}

/// What became of a message handed to a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// It went to the TU.
    Delivered,
    /// The transaction absorbed it (a retransmission, an ACK for a non-2xx final response, a
    /// late response), perhaps sending its latest message again.
    Absorbed,
}
