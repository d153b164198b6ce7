//! SRTP and SRTCP (RFC 3711) with the AES-CM/HMAC-SHA1 suites (RFC 3711, RFC 6188) and the
//! AES-GCM suites (RFC 7714).
//!
//! A [`Context`] holds the session keys derived from one or more master keys (key derivation rate
//! 0, RFC 3711 §4.3) and the per-SSRC index state: the rollover counter and index estimation
//! (§3.3.1), and a replay window (§3.3.2; default 128 packets, up to 32768). Packets are protected
//! and unprotected in place in the caller's buffer:
//!
//! - [`Context::protect_rtp`] / [`Context::protect_rtcp`] take the buffer and the packet length and
//!   return the new length; the buffer needs [`Context::rtp_overhead`] /
//!   [`Context::rtcp_overhead`] spare bytes.
//! - [`Context::unprotect_rtp`] / [`Context::unprotect_rtcp`] take the packet slice and return the
//!   plaintext length.
//!
//! Cipher and MAC key schedules are built once, when the context is created. The packet path
//! allocates nothing, takes no lock and reads no clock. Errors are small `Copy` values that tell a
//! short packet, a bad header, an authentication failure, a replay and an unknown MKI apart.
//!
//! Wire layouts (the tag and MKI order follows RFC 3711 §3.1/§3.4 and RFC 7714 §7.1/§9):
//!
//! | suite | SRTP | SRTCP |
//! |---|---|---|
//! | AES-CM + HMAC-SHA1 | header, payload, MKI, tag | header, payload, E+index, MKI, tag |
//! | AES-GCM | header, payload, tag, MKI | header, payload, tag, E+index, MKI |

mod aes_cm;
mod context;
mod error;
mod gcm;
mod hmac_sha1;
mod replay;
mod suite;

#[cfg(test)]
mod rfc_vectors;
#[cfg(test)]
mod tests;

pub use context::{Context, Policy, MAX_MASTER_KEYS};
pub use error::{ConfigError, Error};
pub use replay::{MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW};
pub use suite::{KeyError, MasterKey, Mki, Suite, MAX_KEY_LEN, MAX_MKI_LEN, MAX_SALT_LEN};
