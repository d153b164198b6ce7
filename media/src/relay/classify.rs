//! What a datagram on a media port is, from its first bytes (RFC 7983 §7, RFC 5761 §4).
//!
//! The relay looks at every datagram once, before any crypto: RTP and RTCP go on, STUN may be
//! answered or passed, the rest is counted and dropped.

use crate::rtp::{RTCP_HEADER_LEN, RTP_FIXED_HEADER_LEN};

/// The kind of a datagram, by its first byte (RFC 7983 §7) and, for RTP/RTCP, its second
/// (RFC 5761 §4: payload types 192–223 with the marker bit are RTCP packet types 64–95... here
/// simply the byte values 192..=223).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// RTP (version 2, second byte outside 192..=223), at least a fixed header long.
    Rtp,
    /// RTCP (version 2, packet type 192..=223), at least a header long.
    Rtcp,
    /// STUN (first byte 0–3).
    Stun,
    /// ZRTP (first byte 16–19).
    Zrtp,
    /// DTLS (first byte 20–63).
    Dtls,
    /// TURN channel data (first byte 64–79).
    TurnChannel,
}

/// Why a datagram has no kind the relay knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassifyError {
    /// Empty, or shorter than the header its first byte announces.
    TooShort,
    /// The first byte belongs to no protocol that may share a media port.
    Unknown,
}

impl core::fmt::Display for ClassifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ClassifyError::TooShort => "datagram shorter than its header",
            ClassifyError::Unknown => "not RTP, RTCP, STUN, ZRTP, DTLS or TURN channel data",
        })
    }
}

impl std::error::Error for ClassifyError {}

/// Classifies `datagram` without looking past its first two bytes (and its length).
#[inline]
pub fn classify(datagram: &[u8]) -> Result<Kind, ClassifyError> {
    let (&b0, rest) = datagram.split_first().ok_or(ClassifyError::TooShort)?;
    let kind = match b0 {
        0..=3 => Kind::Stun,
        16..=19 => Kind::Zrtp,
        20..=63 => Kind::Dtls,
        64..=79 => Kind::TurnChannel,
        128..=191 => match rest.first() {
            Some(192..=223) => Kind::Rtcp,
            Some(_) => Kind::Rtp,
            None => return Err(ClassifyError::TooShort),
        },
        _ => return Err(ClassifyError::Unknown),
    };
    let min = match kind {
        Kind::Rtp => RTP_FIXED_HEADER_LEN,
        Kind::Rtcp => RTCP_HEADER_LEN,
        Kind::Stun => 20,
        Kind::TurnChannel => 4,
        Kind::Zrtp | Kind::Dtls => 1,
    };
    if datagram.len() < min {
        return Err(ClassifyError::TooShort);
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_ranges() {
        let mut d = [0u8; 40];
        for b0 in 0..=255u8 {
            d[0] = b0;
            d[1] = 0;
            let k = classify(&d);
            match b0 {
                0..=3 => assert_eq!(k, Ok(Kind::Stun)),
                16..=19 => assert_eq!(k, Ok(Kind::Zrtp)),
                20..=63 => assert_eq!(k, Ok(Kind::Dtls)),
                64..=79 => assert_eq!(k, Ok(Kind::TurnChannel)),
                128..=191 => assert_eq!(k, Ok(Kind::Rtp)),
                _ => assert_eq!(k, Err(ClassifyError::Unknown), "{b0}"),
            }
        }
    }

    #[test]
    fn rtp_and_rtcp_on_one_port() {
        // RFC 5761 §4: RTCP packet types 200 (SR), 201 (RR), 202 (SDES), 203 (BYE), 205, 206.
        for pt in [192u8, 200, 201, 202, 203, 205, 206, 223] {
            assert_eq!(classify(&[0x80, pt, 0, 1, 0, 0, 0, 0]), Ok(Kind::Rtcp));
        }
        // RTP: PCMU (0), dynamic 96 with and without marker (0xe0 = 96 | 0x80 = 224).
        for b1 in [0u8, 8, 96, 127, 128, 224, 255, 191] {
            assert_eq!(
                classify(&[0x80, b1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                Ok(Kind::Rtp)
            );
        }
    }

    #[test]
    fn short_datagrams() {
        assert_eq!(classify(&[]), Err(ClassifyError::TooShort));
        assert_eq!(classify(&[0x80]), Err(ClassifyError::TooShort));
        assert_eq!(classify(&[0x80, 0, 0, 0]), Err(ClassifyError::TooShort));
        assert_eq!(classify(&[0x80, 200, 0, 0]), Err(ClassifyError::TooShort));
        assert_eq!(classify(&[0x00, 1, 0, 0]), Err(ClassifyError::TooShort));
        assert_eq!(classify(&[0x16]), Ok(Kind::Dtls));
    }
}
