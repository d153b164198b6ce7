//! The media plane of the portico edge: sans-IO packet logic, and the workers that drive it.
//!
//! This crate owns what happens to a media packet: the RTP and RTCP wire views ([`rtp`]), SRTP and
//! SRTCP protection ([`srtp`], RFC 3711, RFC 6188, RFC 7714) and SDES keying ([`sdes`], RFC 4568).
//! Those, and the relay engine, open no socket, spawn no thread and read no clock: time is an
//! argument, buffers are the caller's.
//!
//! [`relay`] is the sans-IO relay engine and [`runtime`] the per-core worker threads that drive
//! it with io_uring or, where that is unavailable, epoll with `recvmmsg`/`sendmmsg`. `unsafe` is
//! denied everywhere except in those two I/O backends, where each block says why it is sound.
//!
//! The packet path allocates nothing: an [`srtp::Context`] builds its cipher and MAC key schedules
//! once, when it is created, and protects or unprotects packets in place.
#![deny(unsafe_code)]

pub mod relay;
pub mod rtp;
pub mod rtp_stats;
pub mod runtime;
pub mod sdes;
pub mod srtp;
