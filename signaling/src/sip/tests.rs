//! Random input (a seeded generator, so that a failure reproduces): nothing panics; a message
//! that parses writes back as the same bytes, parses again to the same message, and each of its
//! typed values writes in canonical form and parses back to itself; edits keep it parseable; the
//! framer cuts a stream the same way whatever the chunks it arrives in.

use super::framing::{Frame, Framer, Limits, Role};
use super::header::{parse_value, Value};
use super::response::{error_response, Unanswerable};
use super::rfc4475_vectors as rfc4475;
use super::uri::{Host, SipUri, Uri};
use super::{Error, Message, NameAddr, Transport, Via};

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A byte, often one the SIP grammar cares about.
    fn byte(&mut self) -> u8 {
        const SPECIAL: &[u8] =
            b"\r\n \t:;,<>\"\\[]@%=?/*.-_+~!'`()0123456789abcxyzSIPsiptel\x00\x7f\x80\xff";
        if self.below(3) == 0 {
            self.next() as u8
        } else {
            SPECIAL[self.below(SPECIAL.len())]
        }
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let mut c: Vec<Vec<u8>> = rfc4475::ALL
        .iter()
        .map(|(_, _, parts)| parts.concat())
        .collect();
    c.push(b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS [2001:db8::5]:50612;branch=z9hG4bK-1;rport\r\nMax-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:alice@example.com>\r\nCall-ID: 8f2c@10.0.0.5\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.5:50612;transport=tls;ob>;+sip.instance=\"<urn:uuid:0011>\";reg-id=1;expires=3600\r\nPath: <sip:expe.example.com;lr;ob>\r\nRoute: <sip:expc.example.com:5061;transport=tls;zone-id=3;directed;lr>\r\nSupported: path, outbound\r\nRequire: outbound\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n".to_vec());
    c.push(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 10.0.0.5;branch=z9hG4bK-1;received=198.51.100.9;rport=61234\r\nRecord-Route: <sip:expe.example.com;lr>, <sip:expc.example.com;lr>\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:alice@example.com>;tag=b2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContact: <tel:+1-201-555-0123;ext=7>;expires=120\r\nExpires: 120\r\nContent-Type: text/plain;charset=\"utf-8\"\r\nContent-Length: 2\r\n\r\nok".to_vec());
    c
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(m.len() + 1);
        match rng.below(6) {
            0 if at < m.len() => m[at] = rng.byte(),
            1 => {
                let b = rng.byte();
                m.insert(at, b);
            }
            2 => {
                let end = (at + rng.below(8)).min(m.len());
                m.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(40)).min(m.len());
                let copy = m[at..end].to_vec();
                let to = rng.below(m.len() + 1);
                m.splice(to..to, copy);
            }
            4 => m.truncate(at),
            _ => {
                let piece: &[u8] = [
                    &b"\r\n "[..],
                    b"\r\n",
                    b";",
                    b",",
                    b"\"",
                    b"<",
                    b">",
                    b"%",
                    b"[",
                    b"]",
                ][rng.below(10)];
                m.splice(at..at, piece.iter().copied());
            }
        }
    }
    m
}

/// Everything the layer offers, on one input; panics only when a property fails.
fn check(input: &[u8]) {
    for role in [Role::Server, Role::Client] {
        for limits in [
            Limits::default(),
            Limits {
                max_header: 64,
                max_body: 16,
            },
        ] {
            if let Ok(frame) = Framer::new(limits, role).next(input) {
                assert!(frame.len() <= input.len());
            }
        }
    }
    let m = match Message::parse(input) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            let mut out = Vec::new();
            if error_response(input, e, "t1", &mut out).is_ok() {
                assert!(out.starts_with(b"SIP/2.0 "));
                assert!(out.ends_with(b"Content-Length: 0\r\n\r\n"));
            }
            return;
        }
    };
    let out = m.to_bytes();
    assert_eq!(out.len(), m.wire_len());
    let mut skip = 0;
    while input.get(skip..skip + 2) == Some(b"\r\n") {
        skip += 2;
    }
    assert_eq!(input.get(skip..skip + out.len()), Some(out.as_slice()));
    let again =
        Message::parse(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
    assert_eq!(again, m);
    for h in m.headers() {
        if *h.value() != Value::Other {
            let text = h.value().to_string();
            let back = parse_value(h.kind(), text.as_bytes());
            assert_eq!(back.as_ref(), Ok(h.value()), "{text}");
        }
    }
    // edits keep the message parseable, or are refused
    let mut e = m.clone();
    let _ = e.stamp_received("[2001:db8::1]:5061".parse().unwrap());
    let _ = e.decrement_max_forwards();
    let _ = e.edit_contacts(|c| c.set_param("expires", Some("60")));
    let host = Host::Name("expe.example.com".into());
    let _ = e.add_record_route(&NameAddr::new(Uri::Sip(SipUri::new(host.clone()))));
    let _ = e.push_via(&Via::new(Transport::Tls, host, Some(5061), "z9hG4bK-x"));
    let _ = e.pop_route();
    let _ = e.set_body(b"x".to_vec());
    let written = e.to_bytes();
    let reparsed = Message::parse(&written)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&written)));
    assert_eq!(reparsed.to_bytes(), written);
    while e.pop_via().is_some() {}
    assert_eq!(
        Message::parse(&e.to_bytes()).map(|_| ()),
        Err(Error::MissingHeader(super::HeaderKind::Via))
    );
    // every request but ACK can be answered
    match m.response(400, "Bad Request", Some("t1")) {
        Ok(r) => {
            assert_eq!((r.call_id(), r.cseq()), (m.call_id(), m.cseq()));
            assert!(r.to().tag().is_some());
            assert_eq!(r.vias().count(), m.vias().count());
        }
        Err(e) => assert!(
            matches!(e, Unanswerable::NotARequest | Unanswerable::Ack),
            "{e}"
        ),
    }
}

#[test]
fn corpus_messages_hold_the_properties() {
    for c in corpus() {
        check(&c);
    }
}

#[test]
fn mutated_messages_never_panic() {
    let corpus = corpus();
    let mut rng = Rng(0x5151_0001);
    for _ in 0..20_000 {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base);
        check(&input);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x5151_0002);
    for _ in 0..20_000 {
        let len = rng.below(200);
        let mut input: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        // now and then behind a plausible start line
        if rng.below(2) == 0 {
            let mut with = b"INVITE sip:a@example.com SIP/2.0\r\n".to_vec();
            with.append(&mut input);
            input = with;
        }
        check(&input);
    }
}

#[test]
fn random_streams_frame_alike_in_any_chunks() {
    let msgs: Vec<Vec<u8>> = corpus()
        .into_iter()
        .filter(|m| {
            Message::parse(m).is_ok()
                && Framer::new(Limits::default(), Role::Server).next(m)
                    == Ok(Frame::Message { len: m.len() })
        })
        .collect();
    assert_eq!(msgs.len(), 28);
    let mut rng = Rng(0x5151_0003);
    for _ in 0..200 {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for _ in 0..1 + rng.below(6) {
            if rng.below(4) == 0 {
                stream.extend_from_slice(b"\r\n\r\n");
                want.push(Frame::Ping);
            } else {
                let m = &msgs[rng.below(msgs.len())];
                stream.extend_from_slice(m);
                want.push(Frame::Message { len: m.len() });
            }
        }
        let mut f = Framer::new(Limits::default(), Role::Server);
        let (mut buf, mut got, mut pos) = (Vec::new(), Vec::new(), 0);
        while pos < stream.len() {
            let n = 1 + rng.below(300);
            let end = (pos + n).min(stream.len());
            buf.extend_from_slice(&stream[pos..end]);
            pos = end;
            loop {
                let frame = f.next(&buf).unwrap();
                if frame.is_empty() {
                    break;
                }
                if let Frame::Message { len } = frame {
                    assert!(Message::parse(&buf[..len]).is_ok());
                }
                buf.drain(..frame.len());
                got.push(frame);
            }
        }
        assert_eq!(got, want);
        assert!(buf.is_empty());
    }
}
