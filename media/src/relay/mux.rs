//! The multiplexed traversal media framing between C and E.
//!
//! E's traversal ports (default 36000 for RTP and 36001 for RTCP; Large systems six such pairs,
//! 36000–36011) carry every call's media between C and E. Each datagram is a 4-byte big-endian
//! multiplex id followed by one RTP or RTCP packet (H.460.19 multiplex mode, as GnuGk implements
//! it; Expressway's own framing is not public: ours is this one, see `shared/spec/MRA-NOTES.md`).
//! Datagrams shorter than 16 bytes are keepalives and carry no media.

/// Length of the multiplex header.
pub const MUX_HEADER_LEN: usize = 4;
/// Datagrams shorter than this are keepalives.
pub const MIN_MEDIA_DATAGRAM: usize = 16;

/// A datagram received on a multiplexed port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MuxDatagram<'a> {
    /// Shorter than [`MIN_MEDIA_DATAGRAM`]: keeps a NAT binding or a latch alive, nothing more.
    Keepalive,
    /// Media for the flow with this multiplex id.
    Media {
        /// The multiplex id.
        id: u32,
        /// The RTP or RTCP packet after the header.
        packet: &'a [u8],
    },
}

/// Splits a multiplexed datagram into its id and packet (any input is one or the other).
#[inline]
pub fn parse(datagram: &[u8]) -> MuxDatagram<'_> {
    if datagram.len() < MIN_MEDIA_DATAGRAM {
        return MuxDatagram::Keepalive;
    }
    let (h, packet) = datagram.split_at(MUX_HEADER_LEN);
    MuxDatagram::Media {
        id: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        packet,
    }
}

/// The header that goes before a packet of flow `id`.
#[inline]
pub fn header(id: u32) -> [u8; MUX_HEADER_LEN] {
    id.to_be_bytes()
}

/// A keepalive datagram for flow `id`: its multiplex header alone (4 bytes, under 16 so the
/// other side takes it for a keepalive whatever it contains).
#[inline]
pub fn keepalive(id: u32) -> [u8; MUX_HEADER_LEN] {
    header(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        let mut d = header(0x0102_0304).to_vec();
        d.extend_from_slice(&[0x80; 12]);
        assert_eq!(
            parse(&d),
            MuxDatagram::Media {
                id: 0x0102_0304,
                packet: &[0x80; 12]
            }
        );
        for n in 0..MIN_MEDIA_DATAGRAM {
            assert_eq!(parse(&d[..n]), MuxDatagram::Keepalive, "{n} bytes");
        }
        assert_eq!(parse(&keepalive(7)), MuxDatagram::Keepalive);
    }
}
