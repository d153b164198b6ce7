//! RFC 5118, SIP torture test messages for IPv6: every message of §4, and what this layer does
//! with each.
//!
//! The messages are written as the RFC prints them, with CRLF line ends (the RFC's archive has
//! bare LFs, and the two messages of §4.10 lack the empty line that ends a header section). Three
//! Content-Length values do not match their bodies with CRLF line ends: §4.6 says 268 for 251
//! octets, §4.8 says 181 for 189, §4.9 says 236 for 245. [`counted`] sets each to its body's
//! length before the acceptance tests; [`printed_lengths`] pins what the printed values do.
//!
//! Accepted: §4.1, §4.3 (`[2001:db8::10:5070]` is an address without a port), §4.4, both
//! messages of §4.5 (`received` with and without brackets), §4.6 to §4.9, and both of §4.10 (the
//! three-colon reference is read as the two-colon one, as RFC 5118 asks). Refused: §4.2, an IPv6
//! Request-URI host without brackets.

use super::header::Transport;
use super::uri::{Host, UriError};
use super::{Error, Message};

/// §4.1 Valid SIP Message with an IPv6 Reference (`ipv6-good`).
const IPV6_GOOD: &str = "REGISTER sip:[2001:db8::10] SIP/2.0\r\n\
To: sip:user@example.com\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Max-Forwards: 70\r\n\
Contact: \"Caller\" <sip:caller@[2001:db8::1]>\r\n\
CSeq: 98176 REGISTER\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.2 Invalid SIP Message with an IPv6 Reference (`ipv6-bad`).
const IPV6_BAD: &str = "REGISTER sip:2001:db8::10 SIP/2.0\r\n\
To: sip:user@example.com\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Max-Forwards: 70\r\n\
Contact: \"Caller\" <sip:caller@[2001:db8::1]>\r\n\
CSeq: 98176 REGISTER\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.3 Port Ambiguous in a SIP URI (`port-ambiguous`).
const PORT_AMBIGUOUS: &str = "REGISTER sip:[2001:db8::10:5070] SIP/2.0\r\n\
To: sip:user@example.com\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Contact: \"Caller\" <sip:caller@[2001:db8::1]>\r\n\
Max-Forwards: 70\r\n\
CSeq: 98176 REGISTER\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.4 Port Unambiguous in a SIP URI (`port-unambiguous`).
const PORT_UNAMBIGUOUS: &str = "REGISTER sip:[2001:db8::10]:5070 SIP/2.0\r\n\
To: sip:user@example.com\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Contact: \"Caller\" <sip:caller@[2001:db8::1]>\r\n\
Max-Forwards: 70\r\n\
CSeq: 98176 REGISTER\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.5 IPv6 Reference Delimiters in Via Header (`via-received-param-with-delim`).
const VIA_RECEIVED_WITH_DELIM: &str = "BYE sip:[2001:db8::10] SIP/2.0\r\n\
To: sip:user@example.com;tag=bd76ya\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Max-Forwards: 70\r\n\
CSeq: 321 BYE\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.5 IPv6 Reference Delimiters in Via Header (`via-received-param-no-delim`).
const VIA_RECEIVED_NO_DELIM: &str = "OPTIONS sip:[2001:db8::10] SIP/2.0\r\n\
To: sip:user@example.com\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3\r\n\
Call-ID: SSG95523997077@hlau_4100\r\n\
Max-Forwards: 70\r\n\
Contact: \"Caller\" <sip:caller@[2001:db8::9:1]>\r\n\
CSeq: 921 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.6 SIP Request with IPv6 Addresses in Session Description Protocol (SDP) Body
/// (`ipv6-in-sdp`).
const IPV6_IN_SDP: &str = "INVITE sip:user@[2001:db8::10] SIP/2.0\r\n\
To: sip:user@[2001:db8::10]\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::20];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Contact: \"Caller\" <sip:caller@[2001:db8::20]>\r\n\
CSeq: 8612 INVITE\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 268\r\n\
\r\n\
v=0\r\n\
o=assistant 971731711378798081 0 IN IP6 2001:db8::20\r\n\
s=Live video feed for today's meeting\r\n\
c=IN IP6 2001:db8::20\r\n\
t=3338481189 3370017201\r\n\
m=audio 6000 RTP/AVP 2\r\n\
a=rtpmap:2 G726-32/8000\r\n\
m=video 6024 RTP/AVP 107\r\n\
a=rtpmap:107 H263-1998/90000\r\n";

/// §4.7 Multiple IP Addresses in SIP Headers (`mult-ip-in-header`).
const MULT_IP_IN_HEADER: &str = "BYE sip:user@host.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144\r\n\
Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200\r\n\
Call-ID: 997077@lau_4100\r\n\
Max-Forwards: 70\r\n\
CSeq: 89187 BYE\r\n\
To: sip:user@example.net;tag=9817--94\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.8 Multiple IP Addresses in SDP (`mult-ip-in-sdp`).
const MULT_IP_IN_SDP: &str = "INVITE sip:user@[2001:db8::10] SIP/2.0\r\n\
To: sip:user@[2001:db8::10]\r\n\
From: sip:user@example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Contact: \"Caller\" <sip:caller@[2001:db8::9:1]>\r\n\
Max-Forwards: 70\r\n\
CSeq: 8912 INVITE\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 181\r\n\
\r\n\
v=0\r\n\
o=bob 280744730 28977631 IN IP4 host.example.com\r\n\
s=\r\n\
t=0 0\r\n\
m=audio 22334 RTP/AVP 0\r\n\
c=IN IP4 192.0.2.1\r\n\
m=video 6024 RTP/AVP 107\r\n\
c=IN IP6 2001:db8::1\r\n\
a=rtpmap:107 H263-1998/90000\r\n";

/// §4.9 IPv4-Mapped IPv6 Addresses (`ipv4-mapped-ipv6`).
const IPV4_MAPPED_IPV6: &str = "INVITE sip:user@example.com SIP/2.0\r\n\
To: sip:user@example.com\r\n\
From: sip:user@east.example.com;tag=81x2\r\n\
Via: SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19\r\n\
Via: SIP/2.0/UDP [::ffff:192.0.2.2];branch=z9hG4bKas3-111\r\n\
Call-ID: SSG9559905523997077@hlau_4100\r\n\
Contact: \"T. desk phone\" <sip:ted@[::ffff:192.0.2.2]>\r\n\
CSeq: 612 INVITE\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 236\r\n\
\r\n\
v=0\r\n\
o=assistant 971731711378798081 0 IN IP6 ::ffff:192.0.2.2\r\n\
s=Call me soon, please!\r\n\
c=IN IP6 ::ffff:192.0.2.2\r\n\
t=3338481189 3370017201\r\n\
m=audio 6000 RTP/AVP 2\r\n\
a=rtpmap:2 G726-32/8000\r\n\
m=video 6024 RTP/AVP 107\r\n\
a=rtpmap:107 H263-1998/90000\r\n";

/// §4.10 IPv6 Reference Bug in RFC 3261 ABNF (`ipv6-bug-abnf-3-colons`).
const IPV6_BUG_ABNF_3_COLONS: &str = "OPTIONS sip:user@[2001:db8:::192.0.2.1] SIP/2.0\r\n\
To: sip:user@[2001:db8:::192.0.2.1]\r\n\
From: sip:user@example.com;tag=810x2\r\n\
Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111\r\n\
Call-ID: G9559905523997077@hlau_4100\r\n\
CSeq: 689 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\
\r\n";

/// §4.10 IPv6 Reference Bug in RFC 3261 ABNF (`ipv6-correct-abnf-2-colons`).
const IPV6_CORRECT_ABNF_2_COLONS: &str = "OPTIONS sip:user@[2001:db8::192.0.2.1] SIP/2.0\r\n\
To: sip:user@[2001:db8::192.0.2.1]\r\n\
From: sip:user@example.com;tag=810x2\r\n\
Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111\r\n\
Call-ID: G9559905523997077@hlau_4100\r\n\
CSeq: 689 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\
\r\n";

/// (section, name, message as printed)
const ALL: &[(&str, &str, &str)] = &[
    ("4.1", "ipv6-good", IPV6_GOOD),
    ("4.2", "ipv6-bad", IPV6_BAD),
    ("4.3", "port-ambiguous", PORT_AMBIGUOUS),
    ("4.4", "port-unambiguous", PORT_UNAMBIGUOUS),
    (
        "4.5",
        "via-received-param-with-delim",
        VIA_RECEIVED_WITH_DELIM,
    ),
    ("4.5", "via-received-param-no-delim", VIA_RECEIVED_NO_DELIM),
    ("4.6", "ipv6-in-sdp", IPV6_IN_SDP),
    ("4.7", "mult-ip-in-header", MULT_IP_IN_HEADER),
    ("4.8", "mult-ip-in-sdp", MULT_IP_IN_SDP),
    ("4.9", "ipv4-mapped-ipv6", IPV4_MAPPED_IPV6),
    ("4.10", "ipv6-bug-abnf-3-colons", IPV6_BUG_ABNF_3_COLONS),
    (
        "4.10",
        "ipv6-correct-abnf-2-colons",
        IPV6_CORRECT_ABNF_2_COLONS,
    ),
];

/// The message with its Content-Length set to the length of its body.
fn counted(msg: &str) -> Vec<u8> {
    let (head, body) = msg.split_once("\r\n\r\n").unwrap();
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.starts_with("Content-Length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
}

fn parse(msg: &str) -> Message {
    Message::parse(&counted(msg)).unwrap()
}

fn v6(s: &str) -> Host {
    Host::Ipv6(s.parse().unwrap())
}

#[test]
fn every_message_gets_its_verdict() {
    for (section, name, msg) in ALL {
        let got = Message::parse(&counted(msg));
        match *name {
            "ipv6-bad" => assert_eq!(got, Err(Error::BadRequestUri(UriError::Host))),
            _ => {
                let m = got.unwrap_or_else(|e| panic!("§{section} {name}: {e}"));
                // unedited, written back as received (the three-colon reference included)
                assert_eq!(m.to_bytes(), counted(msg), "§{section} {name}");
            }
        }
    }
}

#[test]
fn printed_lengths() {
    // §4.6: the body is shorter than its Content-Length
    assert_eq!(
        Message::parse(IPV6_IN_SDP.as_bytes()),
        Err(Error::ContentLengthMismatch)
    );
    // §4.8, §4.9: longer; as a datagram, the bytes past Content-Length are dropped (RFC 3261 §18.3)
    let m = Message::parse(MULT_IP_IN_SDP.as_bytes()).unwrap();
    assert_eq!(m.body().len(), 181);
    let m = Message::parse(IPV4_MAPPED_IPV6.as_bytes()).unwrap();
    assert_eq!(m.body().len(), 236);
}

#[test]
fn references_in_uris_and_vias() {
    let m = parse(IPV6_GOOD);
    assert_eq!(
        m.request_uri().unwrap().as_sip().unwrap().host,
        v6("2001:db8::10")
    );
    assert_eq!(m.top_via().unwrap().host, v6("2001:db8::9:1"));
    assert_eq!(
        m.contacts().next().unwrap().uri.as_sip().unwrap().host,
        v6("2001:db8::1")
    );
    // §4.3: the last group is part of the address, there is no port
    let uri = parse(PORT_AMBIGUOUS)
        .request_uri()
        .unwrap()
        .as_sip()
        .unwrap()
        .clone();
    assert_eq!((uri.host, uri.port), (v6("2001:db8::10:5070"), None));
    let uri = parse(PORT_UNAMBIGUOUS)
        .request_uri()
        .unwrap()
        .as_sip()
        .unwrap()
        .clone();
    assert_eq!((uri.host, uri.port), (v6("2001:db8::10"), Some(5070)));
    // §4.5: received with and without brackets
    let want = Some("2001:db8::9:255".parse().unwrap());
    assert_eq!(
        parse(VIA_RECEIVED_WITH_DELIM).top_via().unwrap().received(),
        want
    );
    assert_eq!(
        parse(VIA_RECEIVED_NO_DELIM).top_via().unwrap().received(),
        want
    );
    // §4.6, §4.8: the body is the application's; it arrives whole
    let m = parse(IPV6_IN_SDP);
    assert!(m.body().windows(21).any(|w| w == b"c=IN IP6 2001:db8::20"));
    assert_eq!(m.to().uri.as_sip().unwrap().host, v6("2001:db8::10"));
    assert!(parse(MULT_IP_IN_SDP)
        .body()
        .ends_with(b"a=rtpmap:107 H263-1998/90000\r\n"));
    // §4.7
    let m = parse(MULT_IP_IN_HEADER);
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(
        (&vias[0].host, vias[0].port),
        (&v6("2001:db8::9:1"), Some(6050))
    );
    assert_eq!(vias[1].host, Host::Ipv4("192.0.2.1".parse().unwrap()));
    assert_eq!(
        (&vias[2].host, &vias[2].transport),
        (&v6("2001:db8::9:255"), &Transport::Tcp)
    );
    assert_eq!(vias[2].received(), Some("192.0.2.200".parse().unwrap()));
    // §4.9
    let m = parse(IPV4_MAPPED_IPV6);
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(
        (&vias[0].host, vias[0].port),
        (&v6("::ffff:192.0.2.10"), Some(19823))
    );
    assert_eq!(vias[1].host, v6("::ffff:192.0.2.2"));
    assert_eq!(
        m.contacts().next().unwrap().uri.as_sip().unwrap().host,
        v6("::ffff:192.0.2.2")
    );
    // §4.10: both spellings are the same address
    let three = parse(IPV6_BUG_ABNF_3_COLONS);
    let two = parse(IPV6_CORRECT_ABNF_2_COLONS);
    assert_eq!(three.request_uri(), two.request_uri());
    assert_eq!(three.to().uri, two.to().uri);
    assert_eq!(
        two.request_uri().unwrap().as_sip().unwrap().host,
        v6("2001:db8::192.0.2.1")
    );
}

#[test]
fn proxy_edits_on_ipv6_messages() {
    // a proxy that edits the Request-URI writes the reference the RFC 5954 way
    let mut m = parse(IPV6_BUG_ABNF_3_COLONS);
    let uri = m.request_uri().unwrap().clone();
    m.set_request_uri(uri).unwrap();
    assert!(m
        .to_bytes()
        .starts_with(b"OPTIONS sip:user@[2001:db8::c000:201] SIP/2.0\r\n"));
    // received on an IPv6 Via, for an IPv6 source
    let mut m = parse(IPV6_GOOD);
    m.stamp_received("[2001:db8::9:2]:5060".parse().unwrap())
        .unwrap();
    assert_eq!(
        m.top_via().unwrap().received(),
        Some("2001:db8::9:2".parse().unwrap())
    );
    assert_eq!(Message::parse(&m.to_bytes()).unwrap(), m);
}
