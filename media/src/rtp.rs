//! RTP and RTCP wire views (RFC 3550 §5.1, §6.4).
//!
//! Only what the packet path needs: header length (with CSRCs and the extension), sequence number,
//! SSRC. Views borrow the caller's buffer and never allocate.

use core::fmt;

/// Fixed RTP header length, before CSRCs and the extension.
pub const RTP_FIXED_HEADER_LEN: usize = 12;
/// RTCP header length that SRTCP leaves in the clear (V/P/RC, PT, length, sender SSRC).
pub const RTCP_HEADER_LEN: usize = 8;

/// Why a datagram is not a well-formed RTP or RTCP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Shorter than the fixed header.
    TooShort,
    /// The version field is not 2.
    BadVersion,
    /// The CSRC list or header extension runs past the end of the packet.
    Truncated,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderError::TooShort => "shorter than the fixed header",
            HeaderError::BadVersion => "version is not 2",
            HeaderError::Truncated => "CSRC list or header extension runs past the packet",
        })
    }
}

impl std::error::Error for HeaderError {}

/// A checked view of an RTP header at the start of a buffer.
#[derive(Clone, Copy, Debug)]
pub struct RtpHeader<'a> {
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> RtpHeader<'a> {
    /// Checks the version and that the CSRC list and extension fit inside `buf`.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, HeaderError> {
        let fixed = buf
            .get(..RTP_FIXED_HEADER_LEN)
            .ok_or(HeaderError::TooShort)?;
        if fixed[0] >> 6 != 2 {
            return Err(HeaderError::BadVersion);
        }
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let mut len = RTP_FIXED_HEADER_LEN + 4 * csrc_count;
        if fixed[0] & 0x10 != 0 {
            // RFC 3550 §5.3.1: 16-bit profile, 16-bit length in 32-bit words, then the words.
            let ext = buf.get(len..len + 4).ok_or(HeaderError::Truncated)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            len += 4 + 4 * words;
        }
        if len > buf.len() {
            return Err(HeaderError::Truncated);
        }
        Ok(RtpHeader {
            buf,
            header_len: len,
        })
    }

    /// Header length including CSRCs and the extension: where the payload starts.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The marker bit.
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// The payload type.
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }

    /// The sequence number.
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    /// The timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }

    /// The synchronisation source.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
    }
}

/// A checked view of the first RTCP header of a (compound) packet.
#[derive(Clone, Copy, Debug)]
pub struct RtcpHeader<'a> {
    buf: &'a [u8],
}

impl<'a> RtcpHeader<'a> {
    /// Checks the length and the version of the first RTCP packet.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, HeaderError> {
        let h = buf.get(..RTCP_HEADER_LEN).ok_or(HeaderError::TooShort)?;
        if h[0] >> 6 != 2 {
            return Err(HeaderError::BadVersion);
        }
        Ok(RtcpHeader { buf })
    }

    /// The packet type of the first packet.
    pub fn packet_type(&self) -> u8 {
        self.buf[1]
    }

    /// The sender SSRC of the first packet.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths() {
        let mut p = [0u8; 40];
        p[0] = 0x80;
        p[2] = 0x12;
        p[3] = 0x34;
        p[8..12].copy_from_slice(&0xdead_beef_u32.to_be_bytes());
        let h = RtpHeader::new_checked(&p).unwrap();
        assert_eq!(h.header_len(), 12);
        assert_eq!(h.sequence(), 0x1234);
        assert_eq!(h.ssrc(), 0xdead_beef);
        p[0] = 0x82; // two CSRCs
        assert_eq!(RtpHeader::new_checked(&p).unwrap().header_len(), 20);
        p[0] = 0x92; // and an extension of 2 words
        p[22..24].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(RtpHeader::new_checked(&p).unwrap().header_len(), 32);
        assert_eq!(
            RtpHeader::new_checked(&p[..31]).unwrap_err(),
            HeaderError::Truncated
        );
        p[0] = 0x40;
        assert_eq!(
            RtpHeader::new_checked(&p).unwrap_err(),
            HeaderError::BadVersion
        );
        assert_eq!(
            RtpHeader::new_checked(&p[..11]).unwrap_err(),
            HeaderError::TooShort
        );
    }

    #[test]
    fn never_panics_on_short_input() {
        for n in 0..40 {
            let mut p = vec![0xffu8; n];
            if let Some(b) = p.first_mut() {
                *b = 0x9f;
            }
            let _ = RtpHeader::new_checked(&p);
            let _ = RtcpHeader::new_checked(&p);
        }
    }
}
