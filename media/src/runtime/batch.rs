//! What both backends do with a batch of forwards before sending it: UDP generic segmentation
//! offload (GSO), and the reverse on receive (GRO).
//!
//! # GSO: one send for many datagrams of one flow
//!
//! Forwards that leave the same socket for the same destination can go to the kernel in one
//! `sendmsg` carrying a `UDP_SEGMENT` control message: the kernel walks the IP and UDP layers
//! once and cuts the payload into datagrams of the segment size (or hands one large packet to a
//! device that cuts it). All segments but the last have the segment size; the last may be
//! shorter. Media rarely has two packets of one flow in a batch — except on a multiplexed
//! traversal port, where every call's media to the peer edge shares one socket and one
//! destination: there a batch of N calls' packets becomes one send.
//!
//! [`order_by_flow`] sorts a batch so each flow's forwards are adjacent and in arrival order;
//! [`run_len`] says how many of them, from the start of a slice, make one GSO send. Order within
//! a flow is kept: a backend sends each run, and the single datagrams between runs, in the
//! order they come.
//!
//! # GRO: many datagrams in one receive
//!
//! A socket with `UDP_GRO` set may receive several datagrams of one flow coalesced into one
//! buffer, with a `UDP_GRO` control message giving the segment size
//! ([`gro_segment_size`]). The backends turn on GRO for the multiplexed traversal ports only,
//! copy each segment into a buffer of its own (with the relay's headroom and tailroom) and hand
//! the segments to the relay one by one.

use crate::relay::engine::Transmit;

/// Most datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS` was 64 before Linux 6.2).
pub(crate) const GSO_MAX_SEGMENTS: usize = 64;
/// Most payload bytes in one GSO send: what fits one UDP datagram over IPv6 (65,535 less the
/// IPv6 and UDP headers), rounded down.
pub(crate) const GSO_MAX_BYTES: usize = 65_000;
/// Largest segment a GSO send carries: a segment must fit the path MTU (the kernel refuses a
/// segment size beyond the device MTU), so larger datagrams go alone.
pub(crate) const GSO_MAX_SEGMENT: usize = 1400;
/// The buffer a GRO receive needs: the largest coalesced datagram.
pub(crate) const GRO_BUFFER: usize = 65_536;

/// A forward waiting to be sent: its place in the batch (`seq`, arrival order), the buffer its
/// datagram is in (a backend's own index), and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Staged {
    pub(crate) seq: u32,
    pub(crate) buf: u32,
    pub(crate) t: Transmit,
}

/// Sorts `staged` by flow (source port, destination), keeping arrival order within each flow.
/// Allocates nothing.
pub(crate) fn order_by_flow(staged: &mut [Staged]) {
    staged.sort_unstable_by_key(|s| (s.t.src_port, s.t.dst, s.seq));
}

/// How many forwards from the start of `staged` (ordered by [`order_by_flow`]) go in one GSO
/// send: the same flow, each the size of the first except that the last may be shorter, within
/// [`GSO_MAX_SEGMENTS`] and [`GSO_MAX_BYTES`]. 1 means "send it alone"; 0 only for an empty slice.
pub(crate) fn run_len(staged: &[Staged]) -> usize {
    let Some(first) = staged.first() else {
        return 0;
    };
    let seg = first.t.len;
    if seg == 0 || seg > GSO_MAX_SEGMENT {
        return 1;
    }
    let mut n = 1;
    let mut bytes = seg;
    while let Some(s) = staged.get(n) {
        if n == GSO_MAX_SEGMENTS
            || s.t.src_port != first.t.src_port
            || s.t.dst != first.t.dst
            || s.t.len == 0
            || s.t.len > seg
            || bytes + s.t.len > GSO_MAX_BYTES
        {
            break;
        }
        n += 1;
        bytes += s.t.len;
        if s.t.len < seg {
            // A shorter datagram can only be the last segment.
            break;
        }
    }
    n
}

/// The segment size in the control data of a GRO receive, if the kernel coalesced datagrams:
/// the `UDP_GRO` message (level `SOL_UDP`) among the `cmsghdr`s in `control`.
pub(crate) fn gro_segment_size(control: &[u8]) -> Option<usize> {
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the data, each
    // message padded to a multiple of size_t.
    const HDR: usize = core::mem::size_of::<usize>() + 8;
    const ALIGN: usize = core::mem::size_of::<usize>();
    let mut off = 0;
    while off + HDR <= control.len() {
        let len = usize::from_ne_bytes(control.get(off..off + ALIGN)?.try_into().ok()?);
        let level = i32::from_ne_bytes(control.get(off + ALIGN..off + ALIGN + 4)?.try_into().ok()?);
        let kind = i32::from_ne_bytes(control.get(off + ALIGN + 4..off + HDR)?.try_into().ok()?);
        if len < HDR || off + len > control.len() {
            return None;
        }
        if level == libc::SOL_UDP && kind == libc::UDP_GRO && len >= HDR + 4 {
            let v = i32::from_ne_bytes(control.get(off + HDR..off + HDR + 4)?.try_into().ok()?);
            return usize::try_from(v).ok().filter(|&s| s > 0);
        }
        off += len.next_multiple_of(ALIGN);
    }
    None
}

/// Space for one control message carrying `data` bytes (`CMSG_SPACE`).
pub(crate) const fn cmsg_space(data: usize) -> usize {
    let align = core::mem::size_of::<usize>();
    (core::mem::size_of::<usize>() + 8) + data.next_multiple_of(align)
}

/// Writes a `UDP_SEGMENT` control message for segments of `size` bytes into `out` (at least
/// `cmsg_space(2)` bytes); returns the control length to give the kernel.
pub(crate) fn write_udp_segment(out: &mut [u8], size: u16) -> usize {
    let hdr = core::mem::size_of::<usize>() + 8;
    let len = hdr + 2;
    let space = cmsg_space(2);
    if out.len() < space {
        return 0;
    }
    out[..space].fill(0);
    out[..core::mem::size_of::<usize>()].copy_from_slice(&len.to_ne_bytes());
    let a = core::mem::size_of::<usize>();
    out[a..a + 4].copy_from_slice(&libc::SOL_UDP.to_ne_bytes());
    out[a + 4..a + 8].copy_from_slice(&libc::UDP_SEGMENT.to_ne_bytes());
    out[hdr..hdr + 2].copy_from_slice(&size.to_ne_bytes());
    space
}

/// Whether a GSO send failed because the path cannot take it (a device without checksum
/// offload, a segment size beyond the MTU, a kernel without UDP GSO): the datagrams are then
/// sent one by one, and the socket is not given GSO sends again.
pub(crate) fn gso_unsupported(errno: i32) -> bool {
    matches!(
        errno,
        libc::EIO | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOPROTOOPT | libc::EMSGSIZE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn st(seq: u32, port: u16, dst: &str, len: usize) -> Staged {
        Staged {
            seq,
            buf: seq,
            t: Transmit {
                src_port: port,
                dst: dst.parse::<SocketAddr>().unwrap(),
                start: 0,
                len,
            },
        }
    }

    /// The runs of a batch, as (first seq, length) after ordering.
    fn runs(mut v: Vec<Staged>) -> Vec<(u32, usize)> {
        order_by_flow(&mut v);
        let mut out = Vec::new();
        let mut i = 0;
        while i < v.len() {
            let n = run_len(&v[i..]);
            out.push((v[i].seq, n));
            i += n;
        }
        out
    }

    const E: &str = "198.18.0.2:36000";
    const F: &str = "198.18.0.3:36000";

    #[test]
    fn one_flow_of_equal_sizes_is_one_run() {
        let v: Vec<Staged> = (0..10).map(|i| st(i, 36000, E, 186)).collect();
        assert_eq!(runs(v), [(0, 10)]);
    }

    #[test]
    fn flows_are_grouped_and_keep_their_order() {
        // Interleaved: two destinations from one port, and another port.
        let v = vec![
            st(0, 36000, E, 186),
            st(1, 36000, F, 186),
            st(2, 40000, E, 186),
            st(3, 36000, E, 186),
            st(4, 36000, F, 186),
            st(5, 36000, E, 186),
        ];
        let mut o = v.clone();
        order_by_flow(&mut o);
        let seqs: Vec<u32> = o.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, [0, 3, 5, 1, 4, 2]);
        assert_eq!(runs(v), [(0, 3), (1, 2), (2, 1)]);
    }

    #[test]
    fn a_shorter_datagram_ends_a_run_and_a_longer_one_starts_the_next() {
        let v = vec![
            st(0, 1, E, 186),
            st(1, 1, E, 186),
            st(2, 1, E, 100),
            st(3, 1, E, 186),
            st(4, 1, E, 300),
            st(5, 1, E, 300),
        ];
        assert_eq!(runs(v), [(0, 3), (3, 1), (4, 2)]);
    }

    #[test]
    fn runs_respect_the_segment_and_byte_limits() {
        let v: Vec<Staged> = (0..150).map(|i| st(i, 1, E, 100)).collect();
        assert_eq!(runs(v), [(0, 64), (64, 64), (128, 22)]);
        let v: Vec<Staged> = (0..60).map(|i| st(i, 1, E, 1300)).collect();
        let r = runs(v);
        assert!(r.iter().all(|&(_, n)| n * 1300 <= GSO_MAX_BYTES), "{r:?}");
        assert_eq!(r.iter().map(|&(_, n)| n).sum::<usize>(), 60);
        // Too large a segment, or empty datagrams: alone.
        let v: Vec<Staged> = (0..3).map(|i| st(i, 1, E, 1500)).collect();
        assert_eq!(runs(v), [(0, 1), (1, 1), (2, 1)]);
        let v: Vec<Staged> = (0..2).map(|i| st(i, 1, E, 0)).collect();
        assert_eq!(runs(v), [(0, 1), (1, 1)]);
        assert_eq!(run_len(&[]), 0);
    }

    #[test]
    fn udp_segment_message_round_trips_through_the_gro_parser_layout() {
        let mut b = [0u8; 64];
        let n = write_udp_segment(&mut b, 186);
        assert_eq!(n, cmsg_space(2));
        let len = usize::from_ne_bytes(b[..8].try_into().unwrap());
        assert_eq!(len, 18);
        // A GRO message has the same layout with an int: build one and parse it.
        let mut c = [0u8; 64];
        let hdr = 16;
        c[..8].copy_from_slice(&(hdr + 4usize).to_ne_bytes());
        c[8..12].copy_from_slice(&libc::SOL_UDP.to_ne_bytes());
        c[12..16].copy_from_slice(&libc::UDP_GRO.to_ne_bytes());
        c[16..20].copy_from_slice(&186i32.to_ne_bytes());
        assert_eq!(gro_segment_size(&c[..cmsg_space(4)]), Some(186));
        // Another message first (IP_TOS), then the GRO one.
        let mut d = [0u8; 64];
        d[..8].copy_from_slice(&(hdr + 1usize).to_ne_bytes());
        d[8..12].copy_from_slice(&libc::IPPROTO_IP.to_ne_bytes());
        d[12..16].copy_from_slice(&libc::IP_TOS.to_ne_bytes());
        let second = cmsg_space(1);
        d[second..second + 20].copy_from_slice(&c[..20]);
        assert_eq!(gro_segment_size(&d[..second + cmsg_space(4)]), Some(186));
        // Garbage never panics and finds nothing.
        assert_eq!(gro_segment_size(&[0xff; 40]), None);
        assert_eq!(gro_segment_size(&[]), None);
        assert_eq!(gro_segment_size(&b[..10]), None);
    }
}
