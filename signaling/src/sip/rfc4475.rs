//! RFC 4475, SIP torture test messages: every message of §3, byte for byte as in the files of the
//! RFC's archive (Appendix B; each constant's doc names its file and size, and
//! `vectors_are_the_archive_bytes` pins all of them), and what this layer does with each.
//!
//! Accepted: all of §3.1.1 (valid), §3.2.1, every §3.3 message but the three with missing,
//! repeated or conflicting single-valued fields, and §3.4.1. Refused with the error that names
//! the fault: all of §3.1.2 (invalid) but one, and §3.3.1, §3.3.8, §3.3.9. The exception is
//! §3.1.2.12 (a Date with a non-GMT zone): the RFC says an element should not reject it unless
//! the Date matters to it, and this layer does not interpret Date, so the message is accepted and
//! Date forwarded as received. Where the RFC lets a liberal element accept (§3.1.2.9, §3.1.2.10,
//! §3.1.2.11, §3.1.2.13, §3.1.2.14), this layer is strict.

use super::framing::{Frame, Framer, FramingError, Limits, Role};
use super::header::{DisplayName, HeaderKind, Transport, Value};
use super::response::{error_response, Unanswerable};
use super::rfc4475_vectors::*;
use super::serialize::EditError;
use super::uri::{Host, Uri, UriError};
use super::{Error, Message, Method, StartLine};

fn bytes(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn parse(parts: &[&[u8]]) -> Message {
    Message::parse(&bytes(parts)).unwrap()
}

/// What `Message::parse` gives each message: `Ok` or the error.
fn verdict(name: &str) -> Result<(), Error> {
    match name {
        "badinv01" => Err(Error::BadHeader(HeaderKind::Via)),
        "clerr" => Err(Error::ContentLengthMismatch),
        "ncl" => Err(Error::BadHeader(HeaderKind::ContentLength)),
        "scalar02" | "scalarlg" => Err(Error::BadHeader(HeaderKind::CSeq)),
        "quotbal" => Err(Error::BadHeader(HeaderKind::To)),
        "ltgtruri" => Err(Error::BadRequestUri(UriError::Scheme)),
        "lwsruri" | "lwsstart" | "trws" => Err(Error::BadStartLine),
        "escruri" => Err(Error::BadRequestUri(UriError::HeadersNotAllowed)),
        "regbadct" => Err(Error::BadUri(
            HeaderKind::Contact,
            UriError::HeadersNotAllowed,
        )),
        "badaspec" => Err(Error::BadUri(HeaderKind::To, UriError::Scheme)),
        "baddn" => Err(Error::BadHeader(HeaderKind::From)),
        "badvers" => Err(Error::UnsupportedVersion),
        "mismatch01" | "mismatch02" => Err(Error::CSeqMethodMismatch),
        "bigcode" => Err(Error::BadStatusCode),
        "insuf" => Err(Error::MissingHeader(HeaderKind::From)),
        "multi01" => Err(Error::DuplicateHeader(HeaderKind::CSeq)),
        "mcl01" => Err(Error::DuplicateHeader(HeaderKind::ContentLength)),
        _ => Ok(()),
    }
}

#[test]
fn vectors_are_the_archive_bytes() {
    // 64-bit FNV-1a over the 49 files of the RFC's archive, in the order of ALL
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut len = 0;
    for (_, _, parts) in ALL {
        for &b in parts.iter().copied().flatten() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            len += 1;
        }
    }
    assert_eq!((len, hash), (24_656, 0x9a53_d8ad_b072_4fff));
}

#[test]
fn every_message_gets_its_verdict() {
    assert_eq!(ALL.len(), 49);
    for (section, name, parts) in ALL {
        let got = Message::parse(&bytes(parts)).map(|_| ());
        assert_eq!(got, verdict(name), "§{section} {name}");
    }
}

#[test]
fn accepted_messages_write_back_byte_for_byte() {
    for (section, name, parts) in ALL {
        let input = bytes(parts);
        let Ok(m) = Message::parse(&input) else {
            continue;
        };
        let out = m.to_bytes();
        assert_eq!(out.len(), m.wire_len());
        if *name == "dblreq" {
            // the INVITE after the REGISTER's empty body is noise in a datagram (RFC 3261 §18.3)
            assert!(input.starts_with(&out) && out.len() < input.len());
            assert!(input[out.len()..].starts_with(b"\r\nINVITE sip:joe@example.com SIP/2.0\r\n"));
        } else {
            assert_eq!(out, input, "§{section} {name}");
        }
        assert_eq!(Message::parse(&out).unwrap(), m, "§{section} {name}");
    }
}

#[test]
fn accepted_messages_through_the_stream_framer() {
    for (section, name, parts) in ALL {
        let input = bytes(parts);
        let Ok(m) = Message::parse(&input) else {
            continue;
        };
        let framed = Framer::new(Limits::default(), Role::Server).next(&input);
        match *name {
            // RFC 2543 syntax has no Content-Length: a datagram only
            "inv2543" => assert_eq!(framed, Err(FramingError::MissingContentLength)),
            _ => assert_eq!(
                framed,
                Ok(Frame::Message { len: m.wire_len() }),
                "§{section} {name}"
            ),
        }
    }
    // on a stream the two requests of §3.1.1.8 are two messages, with a stray CRLF between them
    let input = bytes(DBLREQ);
    let mut f = Framer::new(Limits::default(), Role::Server);
    let Ok(Frame::Message { len }) = f.next(&input) else {
        panic!()
    };
    assert_eq!(
        Message::parse(&input[..len]).unwrap().method(),
        Some(&Method::Register)
    );
    assert_eq!(f.next(&input[len..]), Ok(Frame::Pong));
    let rest = &input[len + 2..];
    let Ok(Frame::Message { len }) = f.next(rest) else {
        panic!()
    };
    assert_eq!(
        Message::parse(&rest[..len]).unwrap().method(),
        Some(&Method::Invite)
    );
    // its body is the 150 octets Content-Length says; five more octets trail it
    assert_eq!(rest.len() - len, 5);
}

#[test]
fn refused_messages_on_a_stream() {
    let frame = |parts: &[&[u8]]| Framer::new(Limits::default(), Role::Server).next(&bytes(parts));
    // §3.1.2.2: the rest of the body may still come
    assert_eq!(frame(CLERR), Ok(Frame::Incomplete));
    assert_eq!(frame(NCL), Err(FramingError::BadContentLength));
    assert_eq!(frame(MCL01), Err(FramingError::DuplicateContentLength));
}

#[test]
fn refused_requests_get_their_answer() {
    for (section, name, parts) in ALL {
        let input = bytes(parts);
        let Err(e) = Message::parse(&input) else {
            continue;
        };
        let mut out = Vec::new();
        let r = error_response(&input, e, "e1", &mut out);
        match *name {
            "scalarlg" | "bigcode" => assert_eq!(r, Err(Unanswerable::NotARequest), "{name}"),
            // no From, To or Call-ID to copy
            "insuf" => assert_eq!(r, Err(Unanswerable::MissingHeader(HeaderKind::From))),
            _ => {
                assert_eq!(r, Ok(()), "§{section} {name}");
                let code = if *name == "badvers" { "505" } else { "400" };
                assert!(
                    out.starts_with(format!("SIP/2.0 {code} ").as_bytes()),
                    "{name}"
                );
                assert!(out.ends_with(b"\r\nContent-Length: 0\r\n\r\n"));
            }
        }
    }
    // where every copied line is well formed, the answer parses and matches the request
    let mut out = Vec::new();
    error_response(
        &bytes(MISMATCH01),
        Error::CSeqMethodMismatch,
        "e1",
        &mut out,
    )
    .unwrap();
    let r = Message::parse(&out).unwrap();
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.call_id(), "mismatch01.dj0234sxdfl3");
    assert_eq!(r.to().tag(), Some("e1"));
    assert_eq!(r.cseq().method, Method::Invite);
}

#[test]
fn wsinv() {
    let m = parse(WSINV);
    assert_eq!(m.method(), Some(&Method::Invite));
    let uri = m.request_uri().unwrap().as_sip().unwrap();
    assert_eq!(uri.user.as_deref(), Some("vivekg"));
    assert!(uri.has_param("unknownparam"));
    assert_eq!(m.to().tag(), Some("1918181833n"));
    assert_eq!(m.to().display, None);
    assert_eq!(
        m.from().display.as_ref().unwrap().text(),
        "J Rosenberg \\\""
    );
    assert_eq!(m.from().tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.call_id(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
    assert_eq!((m.cseq().seq, &m.cseq().method), (9, &Method::Invite));
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (&vias[0].transport, &vias[0].host),
        (&Transport::Udp, &Host::Ipv4("192.0.2.2".parse().unwrap()))
    );
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(
        (&vias[1].transport, vias[1].branch()),
        (&Transport::Tcp, Some("z9hG4bK9ikj8"))
    );
    assert_eq!(vias[1].host, Host::Name("spindle.example.com".into()));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(m.header("Subject"), Some(&b""[..]));
    assert_eq!(
        m.header("newfangledheader"),
        Some(&b"newfangled value\r\n continued newfangled value"[..])
    );
    assert_eq!(
        m.header("UnknownHeaderWithUnusualValue"),
        Some(&b";;,,;;,;"[..])
    );
    assert!(m.content_type().unwrap().is("application", "sdp"));
    let route = m.routes().next().unwrap().uri.as_sip().unwrap();
    assert!(route.lr() && route.has_param("unknown-no-value"));
    assert_eq!(
        route.param("unknownwith").unwrap().value.as_deref(),
        Some("value")
    );
    let c: Vec<_> = m.contacts().collect();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].display.as_ref().unwrap().text(), "Quoted string \"\"");
    assert_eq!(
        c[0].param("newparam").unwrap().value.as_deref(),
        Some("newvalue")
    );
    assert_eq!(c[0].param("secondparam").unwrap().value, None);
    assert_eq!(c[0].q(), Some(330));
}

#[test]
fn intmeth() {
    let m = parse(INTMETH);
    let method = Method::Other("!interesting-Method0123456789_*+`.%indeed'~".into());
    assert_eq!(m.method(), Some(&method));
    assert_eq!(m.cseq().method, method);
    let uri = m.request_uri().unwrap().as_sip().unwrap();
    assert_eq!(
        uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(
        m.to().display.as_ref().unwrap().text(),
        "BEL:\x07 NUL:\0 DEL:\x7f"
    );
    assert_eq!(
        m.from().display,
        Some(DisplayName::Tokens("token1~` token2'+_ token3*%!.-".into()))
    );
    assert_eq!(
        m.from()
            .param("fromParam''~+*_!.-%")
            .unwrap()
            .value
            .as_deref(),
        Some("\"работающий\"")
    );
    assert_eq!(m.from().tag(), Some("_token~1'+`*%!-."));
    assert_eq!(m.call_id(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(m.max_forwards(), Some(255));
    assert_eq!(
        m.header("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電".as_bytes())
    );
}

#[test]
fn escapes() {
    let m = parse(ESC01);
    let uri = m.request_uri().unwrap().as_sip().unwrap();
    assert_eq!(
        uri.user_unescaped().as_deref(),
        Some(&b"sips:user@example.com"[..])
    );
    assert_eq!(uri.host, Host::Name("example.net".into()));
    assert_eq!(
        m.to().uri.as_sip().unwrap().user_unescaped().as_deref(),
        Some(&b"user"[..])
    );
    assert_eq!(
        m.from().uri.as_sip().unwrap().user_unescaped().as_deref(),
        Some(&b"I have spaces"[..])
    );
    assert!(m.content_type().unwrap().is("application", "sdp"));
    let c = m.contacts().next().unwrap().uri.as_sip().unwrap();
    assert_eq!(c.params.len(), 2);
    let m = parse(ESCNULL);
    assert_eq!(
        m.to().uri.as_sip().unwrap().user_unescaped().as_deref(),
        Some(&b"null-\0-null"[..])
    );
    let users: Vec<_> = m
        .contacts()
        .map(|c| c.uri.as_sip().unwrap().user_unescaped().unwrap())
        .collect();
    assert_eq!(users, [b"\0".to_vec(), b"\0\0".to_vec()]);
    let m = parse(ESC02);
    assert_eq!(m.method(), Some(&Method::Other("RE%47IST%45R".into())));
    assert_eq!(m.to().display, Some(DisplayName::Quoted("%Z%45".into())));
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(
        m.header("C%6Fntact"),
        Some(&b"<sip:alias2@host2.example.com>"[..])
    );
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));
    let m = parse(SEMIURI);
    let uri = m.request_uri().unwrap().as_sip().unwrap();
    assert_eq!(
        uri.user_unescaped().as_deref(),
        Some(&b"user;par=u@example.net"[..])
    );
    assert!(uri.params.is_empty());
}

#[test]
fn other_valid_messages() {
    assert_eq!(
        parse(LWSDISP).from().display,
        Some(DisplayName::Tokens("caller".into()))
    );
    let m = parse(LONGREQ);
    assert_eq!(m.vias().count(), 34);
    assert_eq!(
        m.top_via().unwrap().host,
        Host::Name("sip33.example.com".into())
    );
    assert!(m.call_id().len() > 100);
    assert!(m.from().tag().unwrap().len() > 100);
    let m = parse(DBLREQ);
    assert_eq!(m.method(), Some(&Method::Register));
    assert_eq!(m.body(), b"");
    let transports: Vec<_> = parse(TRANSPORTS)
        .vias()
        .map(|v| v.transport.clone())
        .collect();
    assert_eq!(
        transports,
        [
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN".into()),
            Transport::Tcp
        ]
    );
    let m = parse(MPART01);
    assert!(m.content_type().unwrap().is("multipart", "mixed"));
    assert_eq!(m.body().len(), m.content_length().unwrap() as usize);
    assert!(m.body().contains(&0));
    let m = parse(UNREASON);
    let StartLine::Response(s) = m.start_line() else {
        panic!()
    };
    assert_eq!(
        (s.code, s.reason.as_str()),
        (200, "= 2**3 * 5**2 но сто девяносто девять - простое")
    );
    let m = parse(NOREASON);
    let StartLine::Response(s) = m.start_line() else {
        panic!()
    };
    assert_eq!((s.code, s.reason.as_str()), (100, ""));
}

#[test]
fn semantics_left_to_the_layers_above() {
    // §3.1.2.12: Date is not interpreted, and forwarded as received
    assert_eq!(
        parse(BADDATE).header("Date"),
        Some(&b"Fri, 01 Jan 2010 16:00:00 EST"[..])
    );
    // §3.2.1: a bare magic cookie; the transaction layer decides
    assert!(!parse(BADBRANCH).top_via().unwrap().has_rfc3261_branch());
    // §3.3.2 - §3.3.4: URIs of unknown schemes are kept
    assert_eq!(
        parse(UNKSCM).request_uri().unwrap().scheme(),
        "nobodyKnowsThisScheme"
    );
    assert_eq!(
        parse(NOVELSC).request_uri().unwrap().to_string(),
        "soap.beep://192.0.2.103:3002"
    );
    let m = parse(UNKSM2);
    assert!(matches!(&m.to().uri, Uri::Absolute(a) if a.scheme == "isbn"));
    assert_eq!(m.from().uri.scheme(), "http");
    assert_eq!(
        m.contacts().next().unwrap().uri.to_string(),
        "name:John_Smith"
    );
    // §3.3.5: the proxy answers 420 from these
    let m = parse(BEXT01);
    assert_eq!(
        m.option_tags(HeaderKind::Require).collect::<Vec<_>>(),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(
        m.option_tags(HeaderKind::ProxyRequire).collect::<Vec<_>>(),
        ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
    assert!(parse(INVUT)
        .content_type()
        .unwrap()
        .is("application", "unknownformat"));
    // §3.3.7: passed through untouched
    let m = parse(REGAUT01);
    let h = m.headers_named("Authorization").next().unwrap();
    assert_eq!(
        (h.kind(), h.value()),
        (HeaderKind::Authorization, &Value::Other)
    );
    assert_eq!(h.raw_value(), b"NoOneKnowsThisScheme opaque-data=here");
    let m = parse(BCAST);
    assert_eq!(
        m.vias().nth(1).unwrap().host,
        Host::Ipv4("255.255.255.255".parse().unwrap())
    );
    // §3.3.11: a proxy must not forward it
    let mut m = parse(ZEROMF);
    assert_eq!(m.max_forwards(), Some(0));
    assert_eq!(m.decrement_max_forwards(), Err(EditError::TooManyHops));
    // §3.3.12 - §3.3.14
    let c = parse(CPARAM01).contacts().next().unwrap().clone();
    assert!(
        c.param("unknownparam").is_some() && !c.uri.as_sip().unwrap().has_param("unknownparam")
    );
    let c = parse(CPARAM02).contacts().next().unwrap().clone();
    assert!(c.param("unknownparam").is_none() && c.uri.as_sip().unwrap().has_param("unknownparam"));
    let c = parse(REGESCRT).contacts().next().unwrap().clone();
    assert_eq!(
        c.uri.as_sip().unwrap().headers[0].value.as_deref(),
        Some("%3Csip:sip.example.com%3E")
    );
    assert_eq!(
        parse(SDP01).header("Accept"),
        Some(&b"text/nobodyKnowsThis"[..])
    );
    // §3.4.1: RFC 2543 syntax; without Content-Length the datagram's body runs to its end
    let m = parse(INV2543);
    assert_eq!(m.top_via().unwrap().branch(), None);
    assert_eq!(m.max_forwards(), None);
    assert_eq!(m.content_length(), None);
    assert!(m.body().starts_with(b"v=0\r\n") && m.body().ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
}
