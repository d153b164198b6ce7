//! What protecting or unprotecting a packet can fail with.

use core::fmt;

/// Why a packet was not protected or unprotected. Small and `Copy`: the packet path returns it
/// per packet, and the relay counts drops by it ([`Error::reason`] is the counter label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than its header plus the SRTP/SRTCP trailer (index, MKI, tag).
    TooShort,
    /// Not an RTP/RTCP header: the version is not 2, or the CSRC list or extension runs past the
    /// packet.
    BadHeader,
    /// The authentication tag did not match: forged, corrupted, or keyed differently.
    AuthFail,
    /// The index was already received, or is older than the replay window.
    Replay,
    /// The MKI names no master key of this context.
    UnknownMki,
    /// The caller's buffer has no room for the trailer that protection appends.
    BufferTooSmall,
    /// A new SSRC would exceed the context's stream limit.
    TooManyStreams,
    /// The packet index space of the master key is used up (2^48 SRTP, 2^31 SRTCP): rekey.
    KeyExhausted,
}

impl Error {
    /// A short label for counters, e.g. `srtp_unprotect_dropped_total{reason="replay"}`.
    pub const fn reason(self) -> &'static str {
        match self {
            Error::TooShort => "too_short",
            Error::BadHeader => "bad_header",
            Error::AuthFail => "auth_fail",
            Error::Replay => "replay",
            Error::UnknownMki => "unknown_mki",
            Error::BufferTooSmall => "buffer_too_small",
            Error::TooManyStreams => "too_many_streams",
            Error::KeyExhausted => "key_exhausted",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::TooShort => "packet shorter than its header and SRTP trailer",
            Error::BadHeader => "malformed RTP/RTCP header",
            Error::AuthFail => "authentication tag mismatch",
            Error::Replay => "replayed or too old packet index",
            Error::UnknownMki => "MKI names no known master key",
            Error::BufferTooSmall => "buffer has no room for the SRTP trailer",
            Error::TooManyStreams => "too many SSRCs in one SRTP context",
            Error::KeyExhausted => "packet index space of the master key is used up",
        })
    }
}

impl std::error::Error for Error {}

/// Why an SRTP context could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No master key was given.
    NoKeys,
    /// A master key is for another suite than the policy's.
    SuiteMismatch,
    /// Several master keys were given but not each with an MKI of the same length, or two share
    /// an MKI.
    MkiMismatch,
    /// The replay window is outside 64..=32768 packets.
    ReplayWindow(usize),
    /// The stream limit is zero.
    MaxStreams,
    /// More master keys than [`super::MAX_MASTER_KEYS`].
    TooManyKeys,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoKeys => f.write_str("no master key given"),
            ConfigError::SuiteMismatch => f.write_str("master key suite differs from the policy"),
            ConfigError::MkiMismatch => f.write_str(
                "with several master keys, each needs a distinct MKI, all of one length",
            ),
            ConfigError::ReplayWindow(n) => {
                write!(f, "replay window must be 64 to 32768 packets, got {n}")
            }
            ConfigError::MaxStreams => f.write_str("stream limit must be at least 1"),
            ConfigError::TooManyKeys => {
                write!(f, "at most {} master keys", super::MAX_MASTER_KEYS)
            }
        }
    }
}

impl std::error::Error for ConfigError {}
