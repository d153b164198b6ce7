//! The media relay, sans-IO: what to do with each datagram that arrives on a media port.
//!
//! - [`engine`]: the flow table of legs, the transforms (passthrough, SRTP↔RTP, SRTP→SRTP with
//!   new keys), latching, statistics, inactivity — and the verdict for each datagram.
//! - [`classify`]: what a datagram is (RTP, RTCP, STUN, DTLS, keepalive, garbage), RFC 7983 /
//!   RFC 5761.
//! - `flow_table`: the port and multiplex-id lookups on the path of every datagram.
//! - [`mux`]: the multiplexed traversal framing between C and E (a 4-byte multiplex id before
//!   each packet; datagrams under 16 bytes are keepalives).
//! - [`port_alloc`]: the media port range, handed out as RTP/RTCP pairs with a quarantine.
//!
//! The per-core worker runtime that drives the engine, and the media plane that shares the port
//! range between workers, are in [`crate::runtime`].
pub mod classify;
pub mod engine;
mod flow_table;
pub mod mux;
pub mod port_alloc;

#[cfg(test)]
mod tests;
