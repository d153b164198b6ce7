//! STUN binding keepalives on a client's SIP flow (RFC 5389 messages; MRA clients send a binding
//! request on their registered TLS flow every 30 s and fail over when it goes unanswered).
//!
//! A SIP message on a stream starts with a letter and a CRLF keepalive with CR; a STUN message
//! starts with a byte whose two top bits are zero and carries the magic cookie at offset 4. So
//! the driver asks [`frame`] first, and the SIP framer only when it says [`StunFrame::NotStun`].

use std::net::{IpAddr, SocketAddr};

/// The RFC 5389 magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// The STUN header.
pub const HEADER: usize = 20;
/// The largest STUN message accepted on a flow (a keepalive is 20 to ~80 bytes).
pub const MAX_STUN: usize = 548;

const BINDING_REQUEST: u16 = 0x0001;
const BINDING_INDICATION: u16 = 0x0011;
const BINDING_SUCCESS: u16 = 0x0101;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// What is at the front of a flow's buffer, as far as STUN goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StunFrame {
    /// Not a STUN message: give the bytes to the SIP framer.
    NotStun,
    /// The start of a STUN message: read more.
    Incomplete,
    /// A binding request of `len` bytes: answer it with [`binding_success`].
    BindingRequest {
        /// Its length in the buffer.
        len: usize,
    },
    /// Another STUN message of `len` bytes (an indication, a response): drop it.
    Other {
        /// Its length in the buffer.
        len: usize,
    },
    /// STUN-shaped but unusable (no magic cookie, bad length): the flow is broken.
    Invalid,
}

/// Looks at the front of `buf`.
pub fn frame(buf: &[u8]) -> StunFrame {
    let Some(&first) = buf.first() else {
        return StunFrame::NotStun;
    };
    if first & 0xC0 != 0 || first > 0x01 {
        return StunFrame::NotStun;
    }
    let Some(h) = buf.get(..HEADER) else {
        return StunFrame::Incomplete;
    };
    let ty = u16::from_be_bytes([h[0], h[1]]);
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let cookie = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if cookie != MAGIC_COOKIE || len % 4 != 0 || HEADER + len > MAX_STUN {
        return StunFrame::Invalid;
    }
    if buf.len() < HEADER + len {
        return StunFrame::Incomplete;
    }
    match ty {
        BINDING_REQUEST => StunFrame::BindingRequest { len: HEADER + len },
        BINDING_INDICATION => StunFrame::Other { len: HEADER + len },
        _ => StunFrame::Other { len: HEADER + len },
    }
}

/// Appends the binding success response to `request` (whose header [`frame`] checked): the
/// transaction id copied, one XOR-MAPPED-ADDRESS holding `mapped` (the client's address as the
/// edge sees it).
pub fn binding_success(request: &[u8], mapped: SocketAddr, out: &mut Vec<u8>) {
    let mut txid = [0u8; 12];
    if let Some(t) = request.get(8..20) {
        txid.copy_from_slice(t);
    }
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let xport = mapped.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let (family, xaddr): (u8, Vec<u8>) = match mapped.ip().to_canonical() {
        IpAddr::V4(v4) => (
            1,
            v4.octets()
                .iter()
                .zip(cookie.iter())
                .map(|(a, c)| a ^ c)
                .collect(),
        ),
        IpAddr::V6(v6) => {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&cookie);
            key[4..].copy_from_slice(&txid);
            (
                2,
                v6.octets()
                    .iter()
                    .zip(key.iter())
                    .map(|(a, k)| a ^ k)
                    .collect(),
            )
        }
    };
    let attr_len = 4 + xaddr.len();
    out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out.extend_from_slice(&((4 + attr_len) as u16).to_be_bytes());
    out.extend_from_slice(&cookie);
    out.extend_from_slice(&txid);
    out.extend_from_slice(&XOR_MAPPED_ADDRESS.to_be_bytes());
    out.extend_from_slice(&(attr_len as u16).to_be_bytes());
    out.push(0);
    out.push(family);
    out.extend_from_slice(&xport.to_be_bytes());
    out.extend_from_slice(&xaddr);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(txid: [u8; 12], attrs: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&txid);
        m.extend_from_slice(attrs);
        m
    }

    #[test]
    fn sip_and_crlf_are_not_stun() {
        assert_eq!(frame(b"REGISTER sip:x SIP/2.0\r\n"), StunFrame::NotStun);
        assert_eq!(frame(b"\r\n\r\n"), StunFrame::NotStun);
        assert_eq!(frame(b""), StunFrame::NotStun);
    }

    #[test]
    fn binding_request_is_framed_and_answered_per_rfc5769() {
        // RFC 5769 §2.2: the IPv4 response's XOR-MAPPED-ADDRESS for 192.0.2.1:32853.
        let txid = [
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ];
        let req = request(txid, &[0x80, 0x22, 0x00, 0x04, b'a', b'b', b'c', b'd']);
        for n in 1..req.len() {
            assert_eq!(frame(&req[..n]), StunFrame::Incomplete, "{n} bytes");
        }
        let mut buf = req.clone();
        buf.extend_from_slice(b"\r\n\r\n");
        assert_eq!(frame(&buf), StunFrame::BindingRequest { len: req.len() });
        let mut out = Vec::new();
        binding_success(&req, "192.0.2.1:32853".parse().unwrap(), &mut out);
        assert_eq!(&out[..2], &[0x01, 0x01]);
        assert_eq!(&out[8..20], &txid);
        assert_eq!(
            &out[20..32],
            &[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]
        );
        assert_eq!(frame(&out), StunFrame::Other { len: 32 });
    }

    #[test]
    fn ipv6_mapping_follows_rfc5769() {
        // RFC 5769 §2.3: 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
        let txid = [
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ];
        let req = request(txid, &[]);
        let mut out = Vec::new();
        let a: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
            .parse()
            .unwrap();
        binding_success(&req, a, &mut out);
        assert_eq!(
            &out[20..44],
            &[
                0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
                0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9
            ]
        );
    }

    #[test]
    fn broken_stun_is_invalid() {
        let mut req = request([1; 12], &[]);
        req[4] = 0;
        assert_eq!(frame(&req), StunFrame::Invalid);
        let mut req = request([1; 12], &[]);
        req[3] = 3; // not a multiple of 4
        assert_eq!(frame(&req), StunFrame::Invalid);
        let mut req = request([1; 12], &[]);
        req[2] = 0xff; // too long
        assert_eq!(frame(&req), StunFrame::Invalid);
    }
}
