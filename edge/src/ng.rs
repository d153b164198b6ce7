//! A client of rtpengine's "ng" control protocol, for the side-by-side benchmark: one UDP
//! datagram `<cookie> <bencoded dictionary>` per request, answered the same way.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A bencoded value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bencode {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bencode>),
    Dict(BTreeMap<Vec<u8>, Bencode>),
}

impl Bencode {
    pub(crate) fn str(s: &str) -> Bencode {
        Bencode::Bytes(s.as_bytes().to_vec())
    }

    pub(crate) fn dict(pairs: &[(&str, Bencode)]) -> Bencode {
        Bencode::Dict(
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        )
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Bencode::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Bencode::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode(out);
                }
                out.push(b'e');
            }
            Bencode::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Bencode::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value from the start of `input`; returns it and the rest.
    pub(crate) fn decode(input: &[u8]) -> Result<(Bencode, &[u8]), String> {
        Self::decode_depth(input, 0)
    }

    fn decode_depth(input: &[u8], depth: usize) -> Result<(Bencode, &[u8]), String> {
        if depth > 32 {
            return Err("bencode nested too deep".into());
        }
        match input.first() {
            Some(b'i') => {
                let end = input
                    .iter()
                    .position(|&c| c == b'e')
                    .ok_or("unterminated integer")?;
                let s = std::str::from_utf8(&input[1..end]).map_err(|_| "bad integer")?;
                let i = s.parse().map_err(|_| format!("bad integer {s:?}"))?;
                Ok((Bencode::Int(i), &input[end + 1..]))
            }
            Some(b'l') => {
                let mut rest = &input[1..];
                let mut items = Vec::new();
                loop {
                    match rest.first() {
                        Some(b'e') => return Ok((Bencode::List(items), &rest[1..])),
                        Some(_) => {
                            let (v, r) = Self::decode_depth(rest, depth + 1)?;
                            items.push(v);
                            rest = r;
                        }
                        None => return Err("unterminated list".into()),
                    }
                }
            }
            Some(b'd') => {
                let mut rest = &input[1..];
                let mut map = BTreeMap::new();
                loop {
                    match rest.first() {
                        Some(b'e') => return Ok((Bencode::Dict(map), &rest[1..])),
                        Some(_) => {
                            let (k, r) = Self::decode_depth(rest, depth + 1)?;
                            let Bencode::Bytes(k) = k else {
                                return Err("dictionary key is not a string".into());
                            };
                            let (v, r) = Self::decode_depth(r, depth + 1)?;
                            map.insert(k, v);
                            rest = r;
                        }
                        None => return Err("unterminated dictionary".into()),
                    }
                }
            }
            Some(b'0'..=b'9') => {
                let colon = input
                    .iter()
                    .position(|&c| c == b':')
                    .ok_or("string without ':'")?;
                let len: usize = std::str::from_utf8(&input[..colon])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or("bad string length")?;
                let body = input
                    .get(colon + 1..colon + 1 + len)
                    .ok_or("string runs past the input")?;
                Ok((Bencode::Bytes(body.to_vec()), &input[colon + 1 + len..]))
            }
            _ => Err("not bencode".into()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Bencode::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// An ng client over UDP.
pub(crate) struct NgClient {
    socket: UdpSocket,
    server: SocketAddr,
    cookie: u64,
}

impl NgClient {
    pub(crate) fn new(server: SocketAddr) -> Result<NgClient, String> {
        let bind = if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(bind).map_err(|e| format!("ng: bind: {e}"))?;
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| format!("ng: {e}"))?;
        Ok(NgClient {
            socket,
            server,
            cookie: u64::from(std::process::id()) << 32,
        })
    }

    /// Sends `request` and returns the reply dictionary; an `error-reason` becomes `Err`.
    pub(crate) fn ask(&mut self, request: &Bencode) -> Result<Bencode, String> {
        self.cookie += 1;
        let cookie = format!("{:x}", self.cookie);
        let mut msg = format!("{cookie} ").into_bytes();
        request.encode(&mut msg);
        self.socket
            .send_to(&msg, self.server)
            .map_err(|e| format!("ng: send to {}: {e}", self.server))?;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = self
                .socket
                .recv(&mut buf)
                .map_err(|e| format!("ng: no reply from {}: {e}", self.server))?;
            let reply = &buf[..n];
            let Some(space) = reply.iter().position(|&c| c == b' ') else {
                return Err("ng: reply without cookie".into());
            };
            if &reply[..space] != cookie.as_bytes() {
                continue; // a late reply to an earlier request
            }
            let (v, _) =
                Bencode::decode(&reply[space + 1..]).map_err(|e| format!("ng: reply: {e}"))?;
            return match v.get("result").and_then(Bencode::as_str) {
                Some("ok") | Some("pong") => Ok(v),
                other => Err(format!(
                    "ng: {} ({:?})",
                    other.unwrap_or("no result"),
                    v.get("error-reason")
                        .and_then(Bencode::as_str)
                        .unwrap_or("")
                )),
            };
        }
    }
}

/// The first `m=` port and the first `a=crypto:` value of an SDP body.
pub(crate) fn sdp_port_and_crypto(sdp: &str) -> Option<(u16, Option<String>)> {
    let mut port = None;
    let mut crypto = None;
    for line in sdp.lines() {
        let line = line.trim_end();
        if port.is_none() {
            if let Some(m) = line.strip_prefix("m=audio ") {
                port = m.split(' ').next().and_then(|p| p.parse().ok());
            }
        }
        if crypto.is_none() {
            crypto = line.strip_prefix("a=crypto:").map(str::to_string);
        }
    }
    port.map(|p| (p, crypto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencode_round_trip() {
        let v = Bencode::dict(&[
            ("command", Bencode::str("offer")),
            ("flags", Bencode::List(vec![Bencode::str("trust-address")])),
            ("n", Bencode::Int(-5)),
        ]);
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out, b"d7:command5:offer5:flagsl13:trust-addresse1:ni-5ee");
        let (back, rest) = Bencode::decode(&out).unwrap();
        assert_eq!((back, rest.len()), (v, 0));
        for bad in [
            &b"d3:abc"[..],
            b"l",
            b"5:ab",
            b"i12",
            b"x",
            b"di1ei2ee",
            b"",
        ] {
            assert!(Bencode::decode(bad).is_err(), "{bad:?}");
        }
        let deep = "l".repeat(100);
        assert!(Bencode::decode(deep.as_bytes()).is_err());
    }

    #[test]
    fn sdp_parts() {
        let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 30000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD\r\n";
        assert_eq!(
            sdp_port_and_crypto(sdp),
            Some((30000, Some("1 AES_CM_128_HMAC_SHA1_80 inline:QUJD".into())))
        );
        assert_eq!(sdp_port_and_crypto("v=0\r\n"), None);
    }
}
