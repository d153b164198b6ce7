//! The media plane of the portico edge, sans-IO.
//!
//! This crate owns what happens to a media packet: the RTP and RTCP wire views ([`rtp`]), SRTP and
//! SRTCP protection ([`srtp`], RFC 3711, RFC 6188, RFC 7714) and SDES keying ([`sdes`], RFC 4568).
//! Nothing here opens a socket, spawns a thread or reads a clock: the relay workers and signaling
//! drive these types with caller-owned buffers.
//!
//! The packet path allocates nothing: an [`srtp::Context`] builds its cipher and MAC key schedules
//! once, when it is created, and protects or unprotects packets in place.
#![forbid(unsafe_code)]

pub mod relay;
pub mod rtp;
pub mod rtp_stats;
pub mod sdes;
pub mod srtp;
