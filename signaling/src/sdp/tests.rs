//! RFC examples, edits, refusals and random input.

use std::net::IpAddr;

use super::*;

fn crlf(text: &str) -> Vec<u8> {
    text.lines()
        .flat_map(|l| [l.as_bytes(), b"\r\n"].concat())
        .collect()
}

/// RFC 4566 §5, the example session description.
const RFC4566: &str = "v=0
o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
s=SDP Seminar
i=A Seminar on the session description protocol
u=http://www.example.com/seminars/sdp.pdf
e=j.doe@example.com (Jane Doe)
c=IN IP4 224.2.17.12/127
t=2873397496 2873404696
a=recvonly
m=audio 49170 RTP/AVP 0
m=video 51372 RTP/AVP 99
a=rtpmap:99 h263-1998/90000";

/// RFC 3264 §10.1, Alice's offer (a host name in c=).
const RFC3264_OFFER: &str = "v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 host.atlanta.example.com
t=0 0
m=audio 49170 RTP/AVP 0 8 97
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:97 iLBC/8000
m=video 51372 RTP/AVP 31 32
a=rtpmap:31 H261/90000
a=rtpmap:32 MPV/90000";

/// RFC 4568 §6.1 (the example offer with SDES keys).
const RFC4568: &str = "v=0
o=sam 2890844526 2890842807 IN IP4 10.47.16.5
s=SRTP Discussion
i=A discussion of Secure RTP
u=http://www.example.com/seminars/srtp.pdf
e=marge@example.com (Marge Simpson)
c=IN IP4 168.2.17.12
t=2873397496 2873404696
m=audio 49170 RTP/SAVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 FEC_ORDER=FEC_SRTP
m=video 51372 RTP/SAVP 31
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32
m=application 32416 udp wb
a=orient:portrait";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn rfc_examples_parse_and_write_back_byte_for_byte() {
    for text in [RFC4566, RFC3264_OFFER, RFC4568] {
        let bytes = crlf(text);
        let sdp = Sdp::parse(&bytes).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(sdp.to_bytes(), bytes);
        // LF-only input is accepted (RFC 4566 §5) and written with CRLF.
        assert_eq!(Sdp::parse(text.as_bytes()).unwrap().to_bytes(), bytes);
    }
}

#[test]
fn typed_views_of_rfc4566() {
    let sdp = Sdp::parse(RFC4566.as_bytes()).unwrap();
    let o = sdp.origin().unwrap();
    assert_eq!((o.username.as_str(), o.version), ("jdoe", 2_890_842_807));
    assert_eq!(sdp.sections().len(), 2);
    let audio = sdp.media(0).unwrap();
    assert_eq!(
        (audio.media.as_str(), audio.port, audio.proto.as_str()),
        ("audio", 49170, "RTP/AVP")
    );
    assert_eq!(audio.formats, ["0"]);
    assert!(audio.is_rtp() && !audio.is_srtp());
    let video = sdp.media(1).unwrap();
    assert_eq!(video.formats, ["99"]);
    // Both sections take the session's connection (multicast, TTL kept).
    let c = sdp.connection_of(1).unwrap();
    assert_eq!(
        (c.ip(), c.suffix.as_str()),
        (Some(ip("224.2.17.12")), "/127")
    );
    assert_eq!(sdp.session().direction(), Some(Direction::RecvOnly));
    assert_eq!(
        sdp.sections()[1]
            .attribute_values("rtpmap")
            .collect::<Vec<_>>(),
        ["99 h263-1998/90000"]
    );
}

#[test]
fn host_names_in_c_are_kept_but_have_no_ip() {
    let sdp = Sdp::parse(RFC3264_OFFER.as_bytes()).unwrap();
    let c = sdp.connection_of(0).unwrap();
    assert_eq!(c.address, "host.atlanta.example.com");
    assert_eq!(c.ip(), None);
    assert_eq!(sdp.media(0).unwrap().formats, ["0", "8", "97"]);
}

#[test]
fn crypto_lines_of_rfc4568() {
    let sdp = Sdp::parse(RFC4568.as_bytes()).unwrap();
    assert!(sdp.media(0).unwrap().is_srtp());
    let keys: Vec<&str> = sdp.sections()[0].crypto().collect();
    assert_eq!(
        keys,
        ["1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 FEC_ORDER=FEC_SRTP"]
    );
    assert_eq!(sdp.sections()[2].crypto().count(), 0);
    assert_eq!(sdp.media(2).unwrap().proto, "udp");
}

#[test]
fn anchoring_edits_touch_only_what_they_change() {
    // An external SRTP offer rewritten for the inside leg: C's relay address and port, plain
    // RTP, no keys, RTCP on the next port, a new origin version.
    let mut sdp = Sdp::parse(&crlf(RFC4568)).unwrap();
    sdp.session_mut()
        .set_connection(&Connection::new(ip("198.18.2.10")));
    let mut m = sdp.media(0).unwrap();
    m.port = 40002;
    m.proto = "RTP/AVP".into();
    assert!(sdp.set_media(0, &m));
    let s = sdp.section_mut(0).unwrap();
    assert_eq!(s.remove_attribute("crypto"), 1);
    s.add_attribute("rtcp", Some("40003"));
    s.set_direction(Direction::SendRecv);
    sdp.bump_version();
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert!(text.contains("\r\nc=IN IP4 198.18.2.10\r\n"), "{text}");
    assert!(
        text.contains("\r\nm=audio 40002 RTP/AVP 0\r\na=rtcp:40003\r\na=sendrecv\r\nm=video"),
        "{text}"
    );
    assert!(text.contains("o=sam 2890844526 2890842808 IN IP4 10.47.16.5"));
    // The untouched sections are byte for byte as they came.
    assert!(text.contains("m=video 51372 RTP/SAVP 31\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32\r\n"));
    let again = Sdp::parse(&sdp.to_bytes()).unwrap();
    assert_eq!(again.sections()[0].rtcp(), Some((40003, None)));
    assert_eq!(
        again.connection_of(0).unwrap().ip(),
        Some(ip("198.18.2.10"))
    );
    assert_eq!(again.sections()[0].direction(), Some(Direction::SendRecv));
}

#[test]
fn a_section_connection_is_added_where_the_grammar_puts_it() {
    let mut sdp = Sdp::parse(RFC4566.as_bytes()).unwrap();
    sdp.section_mut(1)
        .unwrap()
        .set_connection(&Connection::new(ip("2001:db8::7")));
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert!(
        text.ends_with(
            "m=video 51372 RTP/AVP 99\r\nc=IN IP6 2001:db8::7\r\na=rtpmap:99 h263-1998/90000\r\n"
        ),
        "{text}"
    );
    assert_eq!(sdp.connection_of(0).unwrap().ip(), Some(ip("224.2.17.12")));
    let rtcp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=rtcp:5003 IN IP4 192.0.2.9\r\na=rtcp-mux\r\n";
    let sdp = Sdp::parse(rtcp.as_bytes()).unwrap();
    assert_eq!(
        sdp.sections()[0].rtcp(),
        Some((5003, Some(ip("192.0.2.9"))))
    );
    assert!(sdp.sections()[0].has_attribute("rtcp-mux"));
}

#[test]
fn malformed_descriptions_are_refused_naming_the_line() {
    let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
    assert!(Sdp::parse(base.as_bytes()).is_ok());
    let cases: &[(&str, &str, usize)] = &[
        ("v=0\r\n", "v=1\r\n", 1),
        ("o=- 1 1 IN IP4 192.0.2.1", "o=- 1 x IN IP4 192.0.2.1", 2),
        ("o=- 1 1 IN IP4 192.0.2.1", "o=- 1 1 IN IP4", 2),
        ("s=-\r\n", "i=x\r\n", 3),
        ("c=IN IP4 192.0.2.1", "c=IN IP6 192.0.2.1", 4),
        ("c=IN IP4 192.0.2.1", "c=ATM NSAP 47", 4),
        ("m=audio 5000 RTP/AVP 0", "m=audio 70000 RTP/AVP 0", 6),
        ("m=audio 5000 RTP/AVP 0", "m=audio 5000 RTP/AVP", 6),
        ("m=audio 5000 RTP/AVP 0", "m=audio 5000/x RTP/AVP 0", 6),
        ("t=0 0\r\n", "t=0 0\r\nq=what\r\n", 6),
        ("t=0 0\r\n", "t=0 0\r\nX=upper\r\n", 6),
        ("t=0 0\r\n", "t=0 0\r\nbad line\r\n", 6),
        ("t=0 0\r\n", "t=0 0\r\n\r\n\r\na=x\r\n", 6),
        ("RTP/AVP 0\r\n", "RTP/AVP 0\r\nt=0 0\r\n", 7),
    ];
    for (from, to, line) in cases {
        let bad = base.replacen(from, to, 1);
        let e = Sdp::parse(bad.as_bytes()).expect_err(&bad);
        assert_eq!(e.line, *line, "{bad}: {e}");
    }
    for (bad, why) in [
        (base.replace("t=0 0\r\n", ""), "no t="),
        (base.replace("c=IN IP4 192.0.2.1\r\n", ""), "no c="),
        (String::new(), "empty"),
    ] {
        let e = Sdp::parse(bad.as_bytes()).unwrap_err();
        assert_eq!(e.line, 0, "{why}: {e}");
    }
    assert_eq!(
        Sdp::parse(b"v=0\r\n\xff\r\n").unwrap_err().problem,
        "not UTF-8"
    );
}

#[test]
fn limits_refuse_huge_descriptions_early() {
    let mut big =
        String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n");
    for i in 0..20 {
        big.push_str(&format!("m=audio {} RTP/AVP 0\r\n", 5000 + 2 * i));
    }
    assert_eq!(
        Sdp::parse(big.as_bytes()).unwrap_err().problem,
        "more media sections than the limit"
    );
    let lines = format!("{big}{}", "a=x\r\n".repeat(600));
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(
        Sdp::parse_with(lines.as_bytes(), &limits)
            .unwrap_err()
            .problem,
        "more lines than the limit"
    );
    let huge = vec![b'a'; 20_000];
    assert_eq!(
        Sdp::parse(&huge).unwrap_err().problem,
        "larger than the size limit"
    );
}

#[test]
fn random_bytes_never_panic() {
    let seed = crlf(RFC4568);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut m = seed.clone();
        for _ in 0..(x % 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % m.len();
            m[i] = (x >> 40) as u8;
        }
        if let Ok(sdp) = Sdp::parse(&m) {
            // Whatever parses writes back to something that parses the same.
            assert_eq!(Sdp::parse(&sdp.to_bytes()).as_ref(), Ok(&sdp));
        }
    }
}

mod anchoring {
    use super::*;
    use crate::sdp::anchor::{check, rewrite, LegKind, Plan, SectionPlan};

    /// A remote phone's offer: SRTP audio with two keys (one suite we do not take), ICE, video.
    const PHONE_OFFER: &str = "v=0
o=phone 8000 8000 IN IP4 10.0.0.5
s=-
c=IN IP4 10.0.0.5
t=0 0
a=ice-options:trickle
m=audio 49170 RTP/SAVP 0 8 101
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=crypto:1 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4
a=candidate:1 1 UDP 2130706431 10.0.0.5 49170 typ host
a=ice-ufrag:abcd
a=ice-pwd:0123456789abcdefghijklmn
a=sendrecv
m=video 51372 RTP/SAVPF 96
a=rtpmap:96 H264/90000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32
a=rtcp-mux
m=application 5070 UDP/BFCP *
a=floorctrl:c-s";

    fn aes_cm(v: &str) -> bool {
        v.split_whitespace().nth(1) == Some("AES_CM_128_HMAC_SHA1_80")
    }

    fn origin(id: &str) -> Origin {
        Origin {
            username: "portico".into(),
            session_id: id.into(),
            version: 1,
            net_type: "IN".into(),
            addr_type: "IP4".into(),
            address: "198.18.2.10".into(),
        }
    }

    #[test]
    fn an_external_srtp_offer_becomes_a_plain_inside_offer_at_the_relay() {
        let offer = Sdp::parse(PHONE_OFFER.as_bytes()).unwrap();
        let found = check(&offer, LegKind::External, false, aes_cm).unwrap();
        assert_eq!(found.len(), 3);
        assert!(found[0].carried && found[1].carried && !found[2].carried);
        assert_eq!(
            found[0].crypto.as_deref(),
            Some("2 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4"),
            "the first acceptable key, not the first key"
        );
        assert!(found[1].rtcp_mux && !found[0].rtcp_mux);

        let inside = rewrite(
            &offer,
            &Plan {
                kind: LegKind::Internal,
                address: ip("198.18.2.10"),
                origin: origin("77"),
                sections: vec![
                    SectionPlan {
                        port: 40002,
                        rtcp_port: None,
                        rtcp_mux: false,
                        crypto: None,
                    },
                    SectionPlan {
                        port: 40004,
                        rtcp_port: None,
                        rtcp_mux: true,
                        crypto: None,
                    },
                ],
            },
        );
        let text = String::from_utf8(inside.to_bytes()).unwrap();
        assert!(
            text.starts_with(
                "v=0\r\no=portico 77 1 IN IP4 198.18.2.10\r\ns=-\r\nc=IN IP4 198.18.2.10\r\n"
            ),
            "{text}"
        );
        assert!(text.contains("m=audio 40002 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"), "{text}");
        assert!(
            text.contains("m=video 40004 RTP/AVPF 96\r\na=rtpmap:96 H264/90000\r\na=rtcp-mux\r\n"),
            "{text}"
        );
        assert!(
            text.contains("m=application 0 UDP/BFCP *\r\n"),
            "BFCP refused: {text}"
        );
        for gone in ["crypto", "candidate", "ice-", "10.0.0.5"] {
            assert!(!text.contains(gone), "{gone} left in {text}");
        }
        assert!(Sdp::parse(text.as_bytes()).is_ok());
    }

    #[test]
    fn an_inside_answer_becomes_an_external_answer_with_our_keys() {
        let answer =
            "v=0\r\no=cucm 1 1 IN IP4 198.18.2.20\r\ns=-\r\nc=IN IP4 198.18.2.100\r\nt=0 0\r\n\
            m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:30005\r\n";
        let answer = Sdp::parse(answer.as_bytes()).unwrap();
        let found = check(&answer, LegKind::Internal, false, |_| false).unwrap();
        assert!(found[0].carried && found[0].crypto.is_none());
        let ours = "1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0";
        let out = rewrite(
            &answer,
            &Plan {
                kind: LegKind::External,
                address: ip("198.18.1.1"),
                origin: origin("78"),
                sections: vec![SectionPlan {
                    port: 36002,
                    rtcp_port: Some(36003),
                    rtcp_mux: false,
                    crypto: Some(ours.into()),
                }],
            },
        );
        let text = String::from_utf8(out.to_bytes()).unwrap();
        assert!(text.contains(&format!("m=audio 36002 RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:36003\r\na=crypto:{ours}\r\n")), "{text}");
        assert!(text.contains("c=IN IP4 198.18.1.1\r\n") && !text.contains("198.18.2.100"));
    }

    #[test]
    fn refusals_are_488_with_the_reason() {
        let plain = PHONE_OFFER
            .replace("RTP/SAVP 0 8 101", "RTP/AVP 0 8 101")
            .replace("RTP/SAVPF 96", "RTP/AVPF 96");
        let plain = Sdp::parse(plain.as_bytes()).unwrap();
        let r = check(&plain, LegKind::External, false, aes_cm).unwrap_err();
        assert_eq!(r.code, 488);
        assert!(r.reason.contains("plain RTP"), "{}", r.reason);
        // Best effort lets it through, without keys.
        let ok = check(&plain, LegKind::External, true, aes_cm).unwrap();
        assert!(ok[0].carried && ok[0].crypto.is_none());

        let offer = Sdp::parse(PHONE_OFFER.as_bytes()).unwrap();
        let r = check(&offer, LegKind::External, false, |_| false).unwrap_err();
        assert!(
            r.reason.contains("no acceptable crypto for the audio"),
            "{}",
            r.reason
        );

        let only_bfcp = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=application 5070 UDP/BFCP *\r\n";
        let r = check(
            &Sdp::parse(only_bfcp.as_bytes()).unwrap(),
            LegKind::Internal,
            false,
            aes_cm,
        )
        .unwrap_err();
        assert_eq!(r.reason, "no RTP stream to carry");

        let named = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 host.example.com\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
        let r = check(
            &Sdp::parse(named.as_bytes()).unwrap(),
            LegKind::Internal,
            false,
            aes_cm,
        )
        .unwrap_err();
        assert!(r.reason.contains("without an IP address"), "{}", r.reason);
    }

    #[test]
    fn streams_refused_by_the_peer_stay_refused() {
        let offer = PHONE_OFFER.replace("m=video 51372", "m=video 0");
        let offer = Sdp::parse(offer.as_bytes()).unwrap();
        let found = check(&offer, LegKind::External, false, aes_cm).unwrap();
        assert!(!found[1].carried && found[1].port == 0);
        // Only the audio is planned: the rest goes out with port 0.
        let out = rewrite(
            &offer,
            &Plan {
                kind: LegKind::Internal,
                address: ip("198.18.2.10"),
                origin: origin("79"),
                sections: vec![SectionPlan {
                    port: 40010,
                    rtcp_port: None,
                    rtcp_mux: false,
                    crypto: None,
                }],
            },
        );
        assert_eq!(out.media(1).unwrap().port, 0);
        assert_eq!(
            out.media(1).unwrap().proto,
            "RTP/SAVPF",
            "a refused section keeps its proto"
        );
        assert_eq!(out.media(2).unwrap().port, 0);
    }
}
