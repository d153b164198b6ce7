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

/// Every message: (section, file name, bytes).
pub(crate) const ALL: &[(&str, &str, &[&[u8]])] = &[
    ("3.1.1.1", "wsinv", WSINV),
    ("3.1.1.2", "intmeth", INTMETH),
    ("3.1.1.3", "esc01", ESC01),
    ("3.1.1.4", "escnull", ESCNULL),
    ("3.1.1.5", "esc02", ESC02),
    ("3.1.1.6", "lwsdisp", LWSDISP),
    ("3.1.1.7", "longreq", LONGREQ),
    ("3.1.1.8", "dblreq", DBLREQ),
    ("3.1.1.9", "semiuri", SEMIURI),
    ("3.1.1.10", "transports", TRANSPORTS),
    ("3.1.1.11", "mpart01", MPART01),
    ("3.1.1.12", "unreason", UNREASON),
    ("3.1.1.13", "noreason", NOREASON),
    ("3.1.2.1", "badinv01", BADINV01),
    ("3.1.2.2", "clerr", CLERR),
    ("3.1.2.3", "ncl", NCL),
    ("3.1.2.4", "scalar02", SCALAR02),
    ("3.1.2.5", "scalarlg", SCALARLG),
    ("3.1.2.6", "quotbal", QUOTBAL),
    ("3.1.2.7", "ltgtruri", LTGTRURI),
    ("3.1.2.8", "lwsruri", LWSRURI),
    ("3.1.2.9", "lwsstart", LWSSTART),
    ("3.1.2.10", "trws", TRWS),
    ("3.1.2.11", "escruri", ESCRURI),
    ("3.1.2.12", "baddate", BADDATE),
    ("3.1.2.13", "regbadct", REGBADCT),
    ("3.1.2.14", "badaspec", BADASPEC),
    ("3.1.2.15", "baddn", BADDN),
    ("3.1.2.16", "badvers", BADVERS),
    ("3.1.2.17", "mismatch01", MISMATCH01),
    ("3.1.2.18", "mismatch02", MISMATCH02),
    ("3.1.2.19", "bigcode", BIGCODE),
    ("3.2.1", "badbranch", BADBRANCH),
    ("3.3.1", "insuf", INSUF),
    ("3.3.2", "unkscm", UNKSCM),
    ("3.3.3", "novelsc", NOVELSC),
    ("3.3.4", "unksm2", UNKSM2),
    ("3.3.5", "bext01", BEXT01),
    ("3.3.6", "invut", INVUT),
    ("3.3.7", "regaut01", REGAUT01),
    ("3.3.8", "multi01", MULTI01),
    ("3.3.9", "mcl01", MCL01),
    ("3.3.10", "bcast", BCAST),
    ("3.3.11", "zeromf", ZEROMF),
    ("3.3.12", "cparam01", CPARAM01),
    ("3.3.13", "cparam02", CPARAM02),
    ("3.3.14", "regescrt", REGESCRT),
    ("3.3.15", "sdp01", SDP01),
    ("3.4.1", "inv2543", INV2543),
];

/// §3.1.1.1 A Short Tortuous INVITE (`wsinv.dat`, 1001 bytes).
pub(crate) const WSINV: &[&[u8]] = &[
    b"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n",
    b"TO :\r\n",
    b" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n",
    b"from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n",
    b"  ;\r\n",
    b"  tag = 98asjd8\r\n",
    b"MaX-fOrWaRdS: 0068\r\n",
    b"Call-ID: wsinv.ndaksdj@192.0.2.1\r\n",
    b"Content-Length   : 150\r\n",
    b"cseq: 0009\r\n",
    b"  INVITE\r\n",
    b"Via  : SIP  /   2.0\r\n",
    b" /UDP\r\n",
    b"    192.0.2.2;branch=390skdjuw\r\n",
    b"s :\r\n",
    b"NewFangledHeader:   newfangled value\r\n",
    b" continued newfangled value\r\n",
    b"UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Route:\r\n",
    b" <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n",
    b"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n",
    b"  branch  =   z9hG4bK9ikj8  ,\r\n",
    b" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n",
    b" z9hG4bK30239\r\n",
    b"m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n",
    b"      newvalue ;\r\n",
    b"  secondparam ; q = 0.33\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.4\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.1.2 Wide Range of Valid Characters (`intmeth.dat`, 641 bytes).
pub(crate) const INTMETH: &[&[u8]] = &[
    b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$",
    b"/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n",
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n",
    b"To: \"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/cra",
    b"zy?,/;;*@example.com>\r\n",
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=",
    b"\"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9\"",
    b";tag=_token~1'+`*%!-.\r\n",
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n",
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n",
    b"Max-Forwards: 255\r\n",
    b"extensionHeader-!.%*+_`'~:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.1.1.3 Valid Use of the % Escaping Mechanism (`esc01.dat`, 543 bytes).
pub(crate) const ESC01: &[&[u8]] = &[
    b"INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\r\n",
    b"To: sip:%75se%72@example.com\r\n",
    b"From: <sip:I%20have%20spaces@example.net>;tag=938\r\n",
    b"Max-Forwards: 87\r\n",
    b"i: esc01.239409asdfakjkn23onasd0-3234\r\n",
    b"CSeq: 234234 INVITE\r\n",
    b"Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\r\n",
    b"C: application/sdp\r\n",
    b"Contact:\r\n",
    b"  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\r\n",
    b"Content-Length: 150\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.1\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.1.4 Escaped Nulls in URIs (`escnull.dat`, 359 bytes).
pub(crate) const ESCNULL: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"To: sip:null-%00-null@example.com\r\n",
    b"From: sip:null-%00-null@example.com;tag=839923423\r\n",
    b"Max-Forwards: 70\r\n",
    b"Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\r\n",
    b"CSeq: 14398234 REGISTER\r\n",
    b"Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n",
    b"Contact: <sip:%00@host5.example.com>\r\n",
    b"Contact: <sip:%00%00@host5.example.com>\r\n",
    b"L:0\r\n",
    b"\r\n",
];

/// §3.1.1.5 Use of % When It Is Not an Escape (`esc02.dat`, 439 bytes).
pub(crate) const ESC02: &[&[u8]] = &[
    b"RE%47IST%45R sip:registrar.example.com SIP/2.0\r\n",
    b"To: \"%Z%45\" <sip:resource@example.com>\r\n",
    b"From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\r\n",
    b"Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\r\n",
    b"Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\r\n",
    b"CSeq: 29344 RE%47IST%45R\r\n",
    b"Max-Forwards: 70\r\n",
    b"Contact: <sip:alias1@host1.example.com>\r\n",
    b"C%6Fntact: <sip:alias2@host2.example.com>\r\n",
    b"Contact: <sip:alias3@host3.example.com>\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.1.6 Message with No LWS between Display Name and < (`lwsdisp.dat`, 255 bytes).
pub(crate) const LWSDISP: &[&[u8]] = &[
    b"OPTIONS sip:user@example.com SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: caller<sip:caller@example.com>;tag=323\r\n",
    b"Max-Forwards: 70\r\n",
    b"Call-ID: lwsdisp.1234abcd@funky.example.com\r\n",
    b"CSeq: 60 OPTIONS\r\n",
    b"Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.1.7 Long Values in Header Fields (`longreq.dat`, 3515 bytes).
pub(crate) const LONGREQ: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"To: \"I have a user name of extremeextremeextremeextremeextremeextremeextremeextreme",
    b"extremeextreme proportion\"<sip:user@example.com:6000;unknownparam1=verylonglonglong",
    b"longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongvalue;longparamn",
    b"amenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamen",
    b"amenamenamename=shortvalue;verylonglonglonglonglonglonglonglonglonglonglonglonglongl",
    b"onglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue>\r\n",
    b"F: sip:amazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazingl",
    b"ylongcallernameamazinglylongcallername@example.net;tag=12982982982982982982982982982",
    b"982982982982982982982982982982982982982982982982982982982982982982982982982982982982",
    b"982982982982982982982982982982982982982424;unknownheaderparamnamenamenamenamenamenam",
    b"enamenamenamenamenamenamenamenamenamenamenamenamenamename=unknowheaderparamvaluevalu",
    b"evaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevalue;unknownValuelessp",
    b"aramnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnamepara",
    b"mname\r\n",
    b"Call-ID: longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreal",
    b"lyreallyreallyreallyreallyreallyreallyreallyreallyreallylongcallid\r\n",
    b"CSeq: 3882340 INVITE\r\n",
    b"Unknown-LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong",
    b"Long-Name: unknown-longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglongl",
    b"onglonglonglong-value; unknown-longlonglonglonglonglonglonglonglonglonglonglonglongl",
    b"onglonglonglonglonglonglong-parameter-name = unknown-longlonglonglonglonglonglonglon",
    b"glonglonglonglonglonglonglonglonglonglonglonglong-parameter-value\r\n",
    b"Via: SIP/2.0/TCP sip33.example.com\r\n",
    b"v: SIP/2.0/TCP sip32.example.com\r\n",
    b"V: SIP/2.0/TCP sip31.example.com\r\n",
    b"Via: SIP/2.0/TCP sip30.example.com\r\n",
    b"ViA: SIP/2.0/TCP sip29.example.com\r\n",
    b"VIa: SIP/2.0/TCP sip28.example.com\r\n",
    b"VIA: SIP/2.0/TCP sip27.example.com\r\n",
    b"via: SIP/2.0/TCP sip26.example.com\r\n",
    b"viA: SIP/2.0/TCP sip25.example.com\r\n",
    b"vIa: SIP/2.0/TCP sip24.example.com\r\n",
    b"vIA: SIP/2.0/TCP sip23.example.com\r\n",
    b"V :  SIP/2.0/TCP sip22.example.com\r\n",
    b"v :  SIP/2.0/TCP sip21.example.com\r\n",
    b"V  : SIP/2.0/TCP sip20.example.com\r\n",
    b"v  : SIP/2.0/TCP sip19.example.com\r\n",
    b"Via : SIP/2.0/TCP sip18.example.com\r\n",
    b"Via  : SIP/2.0/TCP sip17.example.com\r\n",
    b"Via: SIP/2.0/TCP sip16.example.com\r\n",
    b"Via: SIP/2.0/TCP sip15.example.com\r\n",
    b"Via: SIP/2.0/TCP sip14.example.com\r\n",
    b"Via: SIP/2.0/TCP sip13.example.com\r\n",
    b"Via: SIP/2.0/TCP sip12.example.com\r\n",
    b"Via: SIP/2.0/TCP sip11.example.com\r\n",
    b"Via: SIP/2.0/TCP sip10.example.com\r\n",
    b"Via: SIP/2.0/TCP sip9.example.com\r\n",
    b"Via: SIP/2.0/TCP sip8.example.com\r\n",
    b"Via: SIP/2.0/TCP sip7.example.com\r\n",
    b"Via: SIP/2.0/TCP sip6.example.com\r\n",
    b"Via: SIP/2.0/TCP sip5.example.com\r\n",
    b"Via: SIP/2.0/TCP sip4.example.com\r\n",
    b"Via: SIP/2.0/TCP sip3.example.com\r\n",
    b"Via: SIP/2.0/TCP sip2.example.com\r\n",
    b"Via: SIP/2.0/TCP sip1.example.com\r\n",
    b"Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=verylonglonglonglonglong",
    b"longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong",
    b"longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong",
    b"longlonglongbranchvalue\r\n",
    b"Max-Forwards: 70\r\n",
    b"Contact: <sip:amazinglylongcallernameamazinglylongcallernameamazinglylongcallernamea",
    b"mazinglylongcallernameamazinglylongcallername@host5.example.net>\r\n",
    b"Content-Type: application/sdp\r\n",
    b"l: 150\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.1\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.1.8 Extra Trailing Octets in a UDP Datagram (`dblreq.dat`, 750 bytes).
pub(crate) const DBLREQ: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:j.user@example.com;tag=43251j3j324\r\n",
    b"Max-Forwards: 8\r\n",
    b"I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\r\n",
    b"Contact: sip:j.user@host.example.com\r\n",
    b"CSeq: 8 REGISTER\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
    b"\r\n",
    b"INVITE sip:joe@example.com SIP/2.0\r\n",
    b"t: sip:joe@example.com\r\n",
    b"From: sip:caller@example.net;tag=141334\r\n",
    b"Max-Forwards: 8\r\n",
    b"Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\r\n",
    b"CSeq: 8 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 150\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.15\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m =video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
    b"\r\n",
];

/// §3.1.1.9 Semicolon-Separated Parameters in URI User Part (`semiuri.dat`, 380 bytes).
pub(crate) const SEMIURI: &[&[u8]] = &[
    b"OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\r\n",
    b"To: sip:j_user@example.com\r\n",
    b"From: sip:caller@example.org;tag=33242\r\n",
    b"Max-Forwards: 3\r\n",
    b"Call-ID: semiuri.0ha0isndaksdj\r\n",
    b"CSeq: 8 OPTIONS\r\n",
    b"Accept: application/sdp, application/pkcs7-mime,\r\n",
    b"        multipart/mixed, multipart/signed,\r\n",
    b"        message/sip, message/sipfrag\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.1.10 Varied and Unknown Transport Types (`transports.dat`, 503 bytes).
pub(crate) const TRANSPORTS: &[&[u8]] = &[
    b"OPTIONS sip:user@example.com SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: <sip:caller@example.com>;tag=323\r\n",
    b"Max-Forwards: 70\r\n",
    b"Call-ID:  transports.kijh4akdnaqjkwendsasfdj\r\n",
    b"Accept: application/sdp\r\n",
    b"CSeq: 60 OPTIONS\r\n",
    b"Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\r\n",
    b"Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\r\n",
    b"Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\r\n",
    b"Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\r\n",
    b"Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.1.11 Multipart MIME Message (`mpart01.dat`, 1290 bytes).
pub(crate) const MPART01: &[&[u8]] = &[
    b"MESSAGE sip:kumiko@example.org SIP/2.0\r\n",
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rp",
    b"ort\r\n",
    b"Max-Forwards: 70\r\n",
    b"Route: <sip:127.0.0.1:5080>\r\n",
    b"Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37",
    b"CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQF",
    b"teeivUhkMWYUA=\r\n",
    b"Contact: <sip:fluffy@127.0.0.1:5070>\r\n",
    b"To: <sip:kumiko@example.org>\r\n",
    b"From: <sip:fluffy@example.com>;tag=2fb0dcc9\r\n",
    b"Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\r\n",
    b"CSeq: 1 MESSAGE\r\n",
    b"Content-Transfer-Encoding: binary\r\n",
    b"Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\r\n",
    b"Date: Sat, 15 Oct 2005 04:44:56 GMT\r\n",
    b"User-Agent: SIPimp.org/0.2.5 (curses)\r\n",
    b"Content-Length: 553\r\n",
    b"\r\n",
    b"--7a9cbec02ceef655\r\n",
    b"Content-Type: text/plain\r\n",
    b"Content-Transfer-Encoding: binary\r\n",
    b"\r\n",
    b"Hello\r\n",
    b"--7a9cbec02ceef655\r\n",
    b"Content-Type: application/octet-stream\r\n",
    b"Content-Transfer-Encoding: binary\r\n",
    b"\r\n",
    b"0\x82\x01R\x06\t*\x86H\x86\xf7\r\x01\x07\x02\xa0\x82\x01C0\x82\x01?\x02\x01\x011\t0",
    b"\x07\x06\x05+\x0e\x03\x02\x1a0\x0b\x06\t*\x86H\x86\xf7\r\x01\x07\x011\x82\x01 0\x82",
    b"\x01\x1c\x02\x01\x010|0p1\x0b0\t\x06\x03U\x04\x06\x13\x02US1\x130\x11\x06\x03U\x04",
    b"\x08\x13\n",
    b"California1\x110\x0f\x06\x03U\x04\x07\x13\x08San Jose1\x0e0\x0c\x06\x03U\x04\n",
    b"\x13\x05sipit1)0'\x06\x03U\x04\x0b\x13 Sipit Test Certificate Authority\x02\x08\x01",
    b"\x95\0q\x023\x01\x130\x07\x06\x05+\x0e\x03\x02\x1a0\r\x06\t*\x86H\x86\xf7\r\x01\x01",
    b"\x01\x05\0\x04\x81\x80\x8e\xf4f\xf9H\xf0R-\xd2\xe5\x97\x8e\x9d\x95\xaa\xe9\xf2\xfe",
    b"\x15\xa0fYqb\x92\xe8\xda*\xa8\xd85\n",
    b"h\xce\xff\xae<\xbd+\xff\x16u\xdd\xd5d\x8eY=\xd6G(\xf2b \xf7\xe9At\x9e3\r\x9a\x15\xed",
    b"\xab\xdb\x93\xd1\x0cB\x10.{r\x89\xd2\x9c\xc0\xc9\xae.\xfb\xc7\xc0\xcf\xf9\x17/;\x02~",
    b"O\xc0'\xe1Tm\xe4\xb6\xaa:\xbb>f\xcc\xcb]\xd6\xc6K\x83\x83\x14\x9c\xb8\xe6\xff\x18-",
    b"\x94O\xe5{e\xbc\x99\xd0\x05\r\n",
    b"--7a9cbec02ceef655--\r\n",
];

/// §3.1.1.12 Unusual Reason Phrase (`unreason.dat`, 526 bytes).
pub(crate) const UNREASON: &[&[u8]] = &[
    b"SIP/2.0 200 = 2**3 * 5**2 \xd0\xbd\xd0\xbe \xd1\x81\xd1\x82\xd0\xbe \xd0\xb4\xd0\xb5",
    b"\xd0\xb2\xd1\x8f\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe \xd0\xb4\xd0\xb5\xd0\xb2",
    b"\xd1\x8f\xd1\x82\xd1\x8c - \xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd1\x82\xd0\xbe\xd0\xb5",
    b"\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\n",
    b"Call-ID: unreason.1234ksdfak3j2erwedfsASdf\r\n",
    b"CSeq: 35 INVITE\r\n",
    b"From: sip:user@example.com;tag=11141343\r\n",
    b"To: sip:user@example.edu;tag=2229\r\n",
    b"Content-Length: 154\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Contact: <sip:user@host198.example.com>\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.198\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.198\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.1.13 Empty Reason Phrase (`noreason.dat`, 274 bytes).
pub(crate) const NOREASON: &[&[u8]] = &[
    b"SIP/2.0 100 \r\n",
    b"Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n",
    b"Call-ID: noreason.asndj203insdf99223ndf\r\n",
    b"CSeq: 35 INVITE\r\n",
    b"From: <sip:user@example.com>;tag=39ansfi3\r\n",
    b"To: <sip:user@example.edu>;tag=902jndnke3\r\n",
    b"Content-Length: 0\r\n",
    b"Contact: <sip:user@host105.example.com>\r\n",
    b"\r\n",
];

/// §3.1.2.1 Extraneous Header Field Separators (`badinv01.dat`, 472 bytes).
pub(crate) const BADINV01: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:caller@example.net;tag=134161461246\r\n",
    b"Max-Forwards: 7\r\n",
    b"Call-ID: badinv01.0ha0isndaksdjasdf3234nas\r\n",
    b"CSeq: 8 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.15;;,;,,\r\n",
    b"Contact: \"Joe\" <sip:joe@example.org>;;;;\r\n",
    b"Content-Length: 152\r\n",
    b"Content-Type: application/sdp\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.15\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.2 Content Length Larger Than Message (`clerr.dat`, 498 bytes).
pub(crate) const CLERR: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"Max-Forwards: 80\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:caller@example.net;tag=93942939o2\r\n",
    b"Contact: <sip:caller@hungry.example.net>\r\n",
    b"Call-ID: clerr.0ha0isndaksdjweiafasdk3\r\n",
    b"CSeq: 8 INVITE\r\n",
    b"Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 9999\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.155\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.155\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.3 Negative Content-Length (`ncl.dat`, 486 bytes).
pub(crate) const NCL: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"Max-Forwards: 254\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:caller@example.net;tag=32394234\r\n",
    b"Call-ID: ncl.0ha0isndaksdj2193423r542w35\r\n",
    b"CSeq: 0 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\r\n",
    b"Contact: <sip:caller@example53.example.net>\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: -999\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.53\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.53\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.4 Request Scalar Fields with Overlarge Values (`scalar02.dat`, 476 bytes).
pub(crate) const SCALAR02: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\r\n",
    b"To: <sip:user@example.com>\r\n",
    b"From: <sip:user@example.com>;tag=239232jh3\r\n",
    b"CSeq: 36893488147419103232 REGISTER\r\n",
    b"Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\r\n",
    b"Max-Forwards: 300\r\n",
    b"Expires: 100000000000000000000000000000000000000000000000000000000000000000000000000",
    b"00000000000000000000000000\r\n",
    b"Contact: <sip:user@host129.example.com>\r\n",
    b"  ;expires=280297596632815\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.1.2.5 Response Scalar Fields with Overlarge Values (`scalarlg.dat`, 385 bytes).
pub(crate) const SCALARLG: &[&[u8]] = &[
    b"SIP/2.0 503 Service Unavailable\r\n",
    b"Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129",
    b"\r\n",
    b"To: <sip:user@example.com>\r\n",
    b"From: <sip:other@example.net>;tag=2easdjfejw\r\n",
    b"CSeq: 9292394834772304023312 OPTIONS\r\n",
    b"Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\r\n",
    b"Retry-After: 949302838503028349304023988\r\n",
    b"Warning: 1812 overture \"In Progress\"\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.1.2.6 Unterminated Quoted String in Display Name (`quotbal.dat`, 485 bytes).
pub(crate) const QUOTBAL: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"To: \"Mr. J. User <sip:j.user@example.com>\r\n",
    b"From: sip:caller@example.net;tag=93334\r\n",
    b"Max-Forwards: 10\r\n",
    b"Call-ID: quotbal.aksdj\r\n",
    b"Contact: <sip:caller@host59.example.net>\r\n",
    b"CSeq: 8 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 152\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.15\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.7 <> Enclosing Request-URI (`ltgtruri.dat`, 452 bytes).
pub(crate) const LTGTRURI: &[&[u8]] = &[
    b"INVITE <sip:user@example.com> SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.net;tag=39291\r\n",
    b"Max-Forwards: 23\r\n",
    b"Call-ID: ltgtruri.1@192.0.2.5\r\n",
    b"CSeq: 1 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.5\r\n",
    b"Contact: <sip:caller@host5.example.net>\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 159\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.5\r\n",
    b"t=3149328700 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.8 Malformed SIP Request-URI (embedded LWS) (`lwsruri.dat`, 541 bytes).
pub(crate) const LWSRURI: &[&[u8]] = &[
    b"INVITE sip:user@example.com; lr SIP/2.0\r\n",
    b"To: sip:user@example.com;tag=3xfe-9921883-z9f\r\n",
    b"From: sip:caller@example.net;tag=231413434\r\n",
    b"Max-Forwards: 5\r\n",
    b"Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\r\n",
    b"CSeq: 2130706432 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\r\n",
    b"Contact: <sip:caller@host1.example.net>\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 159\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.1\r\n",
    b"t=3149328700 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.9 Multiple SP Separating Request-Line Elements (`lwsstart.dat`, 506 bytes).
pub(crate) const LWSSTART: &[&[u8]] = &[
    b"INVITE  sip:user@example.com  SIP/2.0\r\n",
    b"Max-Forwards: 8\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.net;tag=8814\r\n",
    b"Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\r\n",
    b"CSeq: 1893884 INVITE\r\n",
    b"Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\r\n",
    b"Contact: <sip:caller@host1.example.net>\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 150\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.1\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.10 SP Characters at End of Request-Line (`trws.dat`, 327 bytes).
pub(crate) const TRWS: &[&[u8]] = &[
    b"OPTIONS sip:remote-target@example.com SIP/2.0  \r\n",
    b"Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093\r\n",
    b"To: <sip:remote-target@example.com>\r\n",
    b"From: <sip:local-resource@example.com>;tag=329429089\r\n",
    b"Call-ID: trws.oicu34958239neffasdhr2345r\r\n",
    b"Accept: application/sdp\r\n",
    b"CSeq: 238923 OPTIONS\r\n",
    b"Max-Forwards: 70\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.1.2.11 Escaped Headers in SIP Request-URI (`escruri.dat`, 550 bytes).
pub(crate) const ESCRURI: &[&[u8]] = &[
    b"INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.net;tag=341518\r\n",
    b"Max-Forwards: 7\r\n",
    b"Contact: <sip:caller@host39923.example.net>\r\n",
    b"Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\r\n",
    b"CSeq: 149209342 INVITE\r\n",
    b"Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 150\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.1\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.12 Invalid Time Zone in Date Header Field (`baddate.dat`, 532 bytes).
pub(crate) const BADDATE: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.net;tag=2234923\r\n",
    b"Max-Forwards: 70\r\n",
    b"Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\r\n",
    b"CSeq: 1392934 INVITE\r\n",
    b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n",
    b"Date: Fri, 01 Jan 2010 16:00:00 EST\r\n",
    b"Contact: <sip:caller@host5.example.net>\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Content-Length: 150\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.5\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.13 Failure to Enclose name-addr URI in <> (`regbadct.dat`, 307 bytes).
pub(crate) const REGBADCT: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:user@example.com;tag=998332\r\n",
    b"Max-Forwards: 70\r\n",
    b"Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\r\n",
    b"CSeq: 1 REGISTER\r\n",
    b"Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\r\n",
    b"Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.2.14 Spaces within addr-spec (`badaspec.dat`, 346 bytes).
pub(crate) const BADASPEC: &[&[u8]] = &[
    b"OPTIONS sip:user@example.org SIP/2.0\r\n",
    b"Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\r\n",
    b"Max-Forwards: 70\r\n",
    b"From: \"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423\r\n",
    b"To: \"Watson, Thomas\" < sip:t.watson@example.org >\r\n",
    b"Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\r\n",
    b"Accept: application/sdp\r\n",
    b"CSeq: 3923239 OPTIONS\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.2.15 Non-token Characters in Display Name (`baddn.dat`, 331 bytes).
pub(crate) const BADDN: &[&[u8]] = &[
    b"OPTIONS sip:t.watson@example.org SIP/2.0\r\n",
    b"Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\r\n",
    b"Max-Forwards:      70\r\n",
    b"From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\r\n",
    b"To:      Watson, Thomas <sip:t.watson@example.org>\r\n",
    b"Call-ID: baddn.31415@c.example.com\r\n",
    b"Accept: application/sdp\r\n",
    b"CSeq:    3923239 OPTIONS\r\n",
    b"l: 0\r\n",
];

/// §3.1.2.16 Unknown Protocol Version (`badvers.dat`, 291 bytes).
pub(crate) const BADVERS: &[&[u8]] = &[
    b"OPTIONS sip:t.watson@example.org SIP/7.0\r\n",
    b"Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n",
    b"Max-Forwards:     70\r\n",
    b"From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\r\n",
    b"To:      T. Watson <sip:t.watson@example.org>\r\n",
    b"Call-ID: badvers.31417@c.example.com\r\n",
    b"CSeq:    1 OPTIONS\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.2.17 Start Line and CSeq Method Mismatch (`mismatch01.dat`, 236 bytes).
pub(crate) const MISMATCH01: &[&[u8]] = &[
    b"OPTIONS sip:user@example.com SIP/2.0\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:caller@example.net;tag=34525\r\n",
    b"Max-Forwards: 6\r\n",
    b"Call-ID: mismatch01.dj0234sxdfl3\r\n",
    b"CSeq: 8 INVITE\r\n",
    b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.1.2.18 Unknown Method with CSeq Method Mismatch (`mismatch02.dat`, 449 bytes).
pub(crate) const MISMATCH02: &[&[u8]] = &[
    b"NEWMETHOD sip:user@example.com SIP/2.0\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:caller@example.net;tag=34525\r\n",
    b"Max-Forwards: 6\r\n",
    b"Call-ID: mismatch02.dj0234sxdfl3\r\n",
    b"CSeq: 8 INVITE\r\n",
    b"Contact: <sip:caller@host.example.net>\r\n",
    b"Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\r\n",
    b"Content-Type: application/sdp\r\n",
    b"l: 138\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n",
    b"c=IN IP4 192.0.2.1\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.1.2.19 Overlarge Response Code (`bigcode.dat`, 332 bytes).
pub(crate) const BIGCODE: &[&[u8]] = &[
    b"SIP/2.0 4294967301 better not break the receiver\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n",
    b"Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\r\n",
    b"CSeq: 353494 INVITE\r\n",
    b"From: <sip:user@example.com>;tag=39ansfi3\r\n",
    b"To: <sip:user@example.edu>;tag=902jndnke3\r\n",
    b"Content-Length: 0\r\n",
    b"Contact: <sip:user@host105.example.com>\r\n",
    b"\r\n",
];

/// §3.2.1 Missing Transaction Identifier (`badbranch.dat`, 262 bytes).
pub(crate) const BADBRANCH: &[&[u8]] = &[
    b"OPTIONS sip:user@example.com SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.org;tag=33242\r\n",
    b"Max-Forwards: 3\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\r\n",
    b"Accept: application/sdp\r\n",
    b"Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n\r\n",
    b"CSeq: 8 OPTIONS\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.3.1 Missing Required Header Fields (`insuf.dat`, 304 bytes).
pub(crate) const INSUF: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"CSeq: 193942 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\r\n",
    b"Content-Type: application/sdp\r\n",
    b"l: 152\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.95\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.95\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.3.2 Request-URI with Unknown Scheme (`unkscm.dat`, 291 bytes).
pub(crate) const UNKSCM: &[&[u8]] = &[
    b"OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.net;tag=384\r\n",
    b"Max-Forwards: 3\r\n",
    b"Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\r\n",
    b"CSeq: 3923423 OPTIONS\r\n",
    b"Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.3.3 Request-URI with Known but Atypical Scheme (`novelsc.dat`, 277 bytes).
pub(crate) const NOVELSC: &[&[u8]] = &[
    b"OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.net;tag=384\r\n",
    b"Max-Forwards: 3\r\n",
    b"Call-ID: novelsc.asdfasser0q239nwsdfasdkl34\r\n",
    b"CSeq: 3923423 OPTIONS\r\n",
    b"Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.3.4 Unknown URI Schemes in Header Fields (`unksm2.dat`, 282 bytes).
pub(crate) const UNKSM2: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"To: isbn:2983792873\r\n",
    b"From: <http://www.example.com>;tag=3234233\r\n",
    b"Call-ID: unksm2.daksdj@hyphenated-host.example.com\r\n",
    b"CSeq: 234902 REGISTER\r\n",
    b"Max-Forwards: 70\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\r\n",
    b"Contact: <name:John_Smith>\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.3.5 Proxy-Require and Require (`bext01.dat`, 381 bytes).
pub(crate) const BEXT01: &[&[u8]] = &[
    b"OPTIONS sip:user@example.com SIP/2.0\r\n",
    b"To: sip:j_user@example.com\r\n",
    b"From: sip:caller@example.net;tag=242etr\r\n",
    b"Max-Forwards: 6\r\n",
    b"Call-ID: bext01.0ha0isndaksdj\r\n",
    b"Require: nothingSupportsThis, nothingSupportsThisEither\r\n",
    b"Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\r\n",
    b"CSeq: 8 OPTIONS\r\n",
    b"Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.3.6 Unknown Content-Type (`invut.dat`, 391 bytes).
pub(crate) const INVUT: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"Contact: <sip:caller@host5.example.net>\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:caller@example.net;tag=8392034\r\n",
    b"Max-Forwards: 70\r\n",
    b"Call-ID: invut.0ha0isndaksdjadsfij34n23d\r\n",
    b"CSeq: 235448 INVITE\r\n",
    b"Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\r\n",
    b"Content-Type: application/unknownformat\r\n",
    b"Content-Length: 40\r\n",
    b"\r\n",
    b"<audio>\r\n",
    b" <pcmu port=\"443\"/>\r\n",
    b"</audio>\r\n",
];

/// §3.3.7 Unknown Authorization Scheme (`regaut01.dat`, 304 bytes).
pub(crate) const REGAUT01: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"To: sip:j.user@example.com\r\n",
    b"From: sip:j.user@example.com;tag=87321hj23128\r\n",
    b"Max-Forwards: 8\r\n",
    b"Call-ID: regaut01.0ha0isndaksdj\r\n",
    b"CSeq: 9338 REGISTER\r\n",
    b"Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\r\n",
    b"Authorization: NoOneKnowsThisScheme opaque-data=here\r\n",
    b"Content-Length:0\r\n",
    b"\r\n",
];

/// §3.3.8 Multiple Values in Single Value Required Fields (`multi01.dat`, 643 bytes).
pub(crate) const MULTI01: &[&[u8]] = &[
    b"INVITE sip:user@company.com SIP/2.0\r\n",
    b"Contact: <sip:caller@host25.example.net>\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\r\n",
    b"Max-Forwards: 70\r\n",
    b"CSeq: 5 INVITE\r\n",
    b"Call-ID: multi01.98asdh@192.0.2.1\r\n",
    b"CSeq: 59 INVITE\r\n",
    b"Call-ID: multi01.98asdh@192.0.2.2\r\n",
    b"From: sip:caller@example.com;tag=3413415\r\n",
    b"To: sip:user@example.com\r\n",
    b"To: sip:other@example.net\r\n",
    b"From: sip:caller@example.net;tag=2923420123\r\n",
    b"Content-Type: application/sdp\r\n",
    b"l: 154\r\n",
    b"Contact: <sip:caller@host36.example.net>\r\n",
    b"Max-Forwards: 5\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.25\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.25\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
    b"\r\n",
];

/// §3.3.9 Multiple Content-Length Values (`mcl01.dat`, 382 bytes).
pub(crate) const MCL01: &[&[u8]] = &[
    b"OPTIONS sip:user@example.com SIP/2.0\r\n",
    b"Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:other@example.net;tag=3923942\r\n",
    b"Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\r\n",
    b"CSeq: 15932 OPTIONS\r\n",
    b"Content-Length: 13\r\n",
    b"Max-Forwards: 60\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Type: text/plain\r\n",
    b"\r\n",
    b"There's no way to know how many octets are supposed to be here.\r\n",
    b"\r\n",
];

/// §3.3.10 200 OK Response with Broadcast Via Header Field Value (`bcast.dat`, 516 bytes).
pub(crate) const BCAST: &[&[u8]] = &[
    b"SIP/2.0 200 OK\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\n",
    b"Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n",
    b"Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\r\n",
    b"CSeq: 35 INVITE\r\n",
    b"From: sip:user@example.com;tag=11141343\r\n",
    b"To: sip:user@example.edu;tag=2229\r\n",
    b"Content-Length: 154\r\n",
    b"Content-Type: application/sdp\r\n",
    b"Contact: <sip:user@host28.example.com>\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.198\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.198\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.3.11 Max-Forwards of Zero (`zeromf.dat`, 272 bytes).
pub(crate) const ZEROMF: &[&[u8]] = &[
    b"OPTIONS sip:user@example.com SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:caller@example.net;tag=3ghsd41\r\n",
    b"Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\r\n",
    b"CSeq: 39234321 OPTIONS\r\n",
    b"Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\r\n",
    b"Max-Forwards: 0\r\n",
    b"Content-Length: 0\r\n",
    b"\r\n",
];

/// §3.3.12 REGISTER with a Contact Header Parameter (`cparam01.dat`, 321 bytes).
pub(crate) const CPARAM01: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\r\n",
    b"Max-Forwards: 70\r\n",
    b"From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\r\n",
    b"To: sip:watson@example.com\r\n",
    b"Call-ID: cparam01.70710@saturn.example.com\r\n",
    b"CSeq: 2 REGISTER\r\n",
    b"Contact: sip:+19725552222@gw1.example.net;unknownparam\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.3.13 REGISTER with a url-parameter (`cparam02.dat`, 311 bytes).
pub(crate) const CPARAM02: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\r\n",
    b"Max-Forwards: 70\r\n",
    b"From: sip:watson@example.com;tag=838293\r\n",
    b"To: sip:watson@example.com\r\n",
    b"Call-ID: cparam02.70710@saturn.example.com\r\n",
    b"CSeq: 3 REGISTER\r\n",
    b"Contact: <sip:+19725552222@gw1.example.net;unknownparam>\r\n",
    b"l: 0\r\n",
    b"\r\n",
];

/// §3.3.14 REGISTER with a URL Escaped Header (`regescrt.dat`, 302 bytes).
pub(crate) const REGESCRT: &[&[u8]] = &[
    b"REGISTER sip:example.com SIP/2.0\r\n",
    b"To: sip:user@example.com\r\n",
    b"From: sip:user@example.com;tag=8\r\n",
    b"Max-Forwards: 70\r\n",
    b"Call-ID: regescrt.k345asrl3fdbv@192.0.2.1\r\n",
    b"CSeq: 14398234 REGISTER\r\n",
    b"Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n",
    b"M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\r\n",
    b"L:0\r\n",
    b"\r\n",
];

/// §3.3.15 Unacceptable Accept Offering (`sdp01.dat`, 494 bytes).
pub(crate) const SDP01: &[&[u8]] = &[
    b"INVITE sip:user@example.com SIP/2.0\r\n",
    b"To: sip:j_user@example.com\r\n",
    b"Contact: <sip:caller@host15.example.net>\r\n",
    b"From: sip:caller@example.net;tag=234\r\n",
    b"Max-Forwards: 5\r\n",
    b"Call-ID: sdp01.ndaksdj9342dasdd\r\n",
    b"Accept: text/nobodyKnowsThis\r\n",
    b"CSeq: 8 INVITE\r\n",
    b"Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw\r\n",
    b"Content-Length: 150\r\n",
    b"Content-Type: application/sdp\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.5\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0 12\r\n",
    b"m=video 3227 RTP/AVP 31\r\n",
    b"a=rtpmap:31 LPC\r\n",
];

/// §3.4.1 INVITE with RFC 2543 Syntax (`inv2543.dat`, 445 bytes).
pub(crate) const INV2543: &[&[u8]] = &[
    b"INVITE sip:UserB@example.com SIP/2.0\r\n",
    b"Via: SIP/2.0/UDP iftgw.example.com\r\n",
    b"From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n",
    b"Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\r\n",
    b"To: sip:+16505552222@ss1.example.net;user=phone\r\n",
    b"Call-ID: inv2543.1717@ift.client.example.com\r\n",
    b"CSeq: 56 INVITE\r\n",
    b"Content-Type: application/sdp\r\n",
    b"\r\n",
    b"v=0\r\n",
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n",
    b"s=-\r\n",
    b"c=IN IP4 192.0.2.5\r\n",
    b"t=0 0\r\n",
    b"m=audio 49217 RTP/AVP 0\r\n",
];
