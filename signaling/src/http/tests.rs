//! RFC 9112 examples, every refusal with its status, request smuggling cases, split and
//! pipelined input, responses, the writer, and random mutation (seeded: a failure reproduces).

use super::*;

/// What a decoder produced, with adjacent data merged so that chunkings compare equal.
#[derive(Debug, PartialEq, Eq)]
enum Out<H> {
    Head(H),
    Data(Vec<u8>),
    Trailers(Headers),
    End,
    Err(HttpError),
}

fn record<H>(out: &mut Vec<Out<H>>, r: Result<Option<Event<H>>, HttpError>) -> bool {
    match r {
        Ok(Some(Event::Data(d))) => {
            assert!(!d.is_empty(), "empty data event");
            if let Some(Out::Data(prev)) = out.last_mut() {
                prev.extend_from_slice(&d);
            } else {
                out.push(Out::Data(d));
            }
            true
        }
        Ok(Some(Event::Head(h))) => {
            out.push(Out::Head(h));
            true
        }
        Ok(Some(Event::Trailers(t))) => {
            out.push(Out::Trailers(t));
            true
        }
        Ok(Some(Event::End)) => {
            out.push(Out::End);
            true
        }
        Ok(None) => false,
        Err(e) => {
            out.push(Out::Err(e));
            false
        }
    }
}

/// Feeds `input` in pieces of `step` bytes (polling after each), then the end of input.
fn requests(input: &[u8], step: usize) -> Vec<Out<RequestHead>> {
    requests_with(input, step, Limits::default())
}

fn requests_with(input: &[u8], step: usize, limits: Limits) -> Vec<Out<RequestHead>> {
    let mut d = RequestDecoder::new(limits);
    let mut out = Vec::new();
    for piece in input.chunks(step.max(1)) {
        d.push(piece);
        while record(&mut out, d.poll()) {}
        if matches!(out.last(), Some(Out::Err(_))) {
            return out;
        }
    }
    d.finish();
    while record(&mut out, d.poll()) {}
    out
}

fn responses(input: &[u8], step: usize, methods: &[&str]) -> Vec<Out<ResponseHead>> {
    let mut d = ResponseDecoder::new(Limits::default());
    for m in methods {
        d.expect(m);
    }
    let mut out = Vec::new();
    for piece in input.chunks(step.max(1)) {
        d.push(piece);
        while record(&mut out, d.poll()) {}
        if matches!(out.last(), Some(Out::Err(_))) {
            return out;
        }
    }
    d.finish();
    while record(&mut out, d.poll()) {}
    out
}

/// The same events whole and one byte at a time; returns them.
fn requests_split(input: &[u8]) -> Vec<Out<RequestHead>> {
    let whole = requests(input, input.len());
    assert_eq!(requests(input, 1), whole, "byte at a time differs");
    assert_eq!(requests(input, 7), whole, "7 bytes at a time differs");
    whole
}

fn head(out: &[Out<RequestHead>]) -> &RequestHead {
    match out.first() {
        Some(Out::Head(h)) => h,
        other => panic!("no head: {other:?}"),
    }
}

fn refused(input: &[u8]) -> HttpError {
    match requests_split(input).last() {
        Some(Out::Err(e)) => *e,
        other => panic!(
            "not refused: {other:?} for {:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

#[test]
fn rfc9112_get_example() {
    // RFC 9110 §1.2 / RFC 9112 §2.1
    let out = requests_split(b"GET /hello.txt HTTP/1.1\r\nUser-Agent: curl/7.64.1\r\nHost: www.example.com\r\nAccept-Language: en, mi\r\n\r\n");
    assert_eq!(out.len(), 2);
    assert_eq!(out[1], Out::End);
    let h = head(&out);
    assert_eq!(h.method(), "GET");
    assert_eq!(h.target(), &Target::Origin("/hello.txt".into()));
    assert_eq!(h.version(), Version::Http11);
    assert_eq!(h.headers().len(), 3);
    assert_eq!(h.headers().get("HOST"), Some(&b"www.example.com"[..]));
    assert_eq!(h.headers().get_str("accept-language"), Some("en, mi"));
    let names: Vec<_> = h.headers().iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["User-Agent", "Host", "Accept-Language"]);
    assert_eq!(h.framing(), Framing::Empty);
    assert!(h.keep_alive());
}

#[test]
fn rfc9112_target_forms() {
    // §3.2.2 absolute-form, §3.2.4 asterisk-form, §3.2.3 authority-form (CONNECT, refused)
    let out = requests_split(
        b"GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
    );
    assert_eq!(
        head(&out).target(),
        &Target::Absolute("http://www.example.org/pub/WWW/TheProject.html".into())
    );
    let out = requests_split(b"OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n");
    assert_eq!(head(&out).target(), &Target::Asterisk);
    assert_eq!(head(&out).target().as_str(), "*");
    let e = refused(b"CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
    assert_eq!((e.status, e.reason), (501, Reason::ConnectRefused));
    assert_eq!(
        refused(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n").reason,
        Reason::BadTarget
    );
    assert_eq!(
        refused(b"GET www.example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n").reason,
        Reason::BadTarget
    );
}

#[test]
fn rfc9112_chunked_example() {
    // §7.1, with an extension and a trailer field (§7.1.2)
    let out = requests_split(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;name=value\r\nWiki\r\n5 ; a=\"b\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n");
    assert_eq!(head(&out).framing(), Framing::Chunked);
    assert_eq!(out[1], Out::Data(b"Wikipedia in\r\n\r\nchunks.".to_vec()));
    let Out::Trailers(t) = &out[2] else {
        panic!("{out:?}")
    };
    assert_eq!(t.get_str("expires"), Some("never"));
    assert_eq!(out[3], Out::End);
    assert_eq!(out.len(), 4);
}

#[test]
fn content_length_body_and_pipelining() {
    let input = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n\r\nPUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /e HTTP/1.1\r\n";
    let out = requests_split(input);
    let targets: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Out::Head(h) => Some(h.target().as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(targets, ["/a", "/b", "/c", "/d"]);
    assert_eq!(out[1], Out::Data(b"hello".to_vec()));
    assert_eq!(out[6], Out::Data(b"hi".to_vec()));
    assert_eq!(out.iter().filter(|o| **o == Out::End).count(), 4);
    // after Connection: close nothing more is read; the rest is left buffered
    let mut d = RequestDecoder::new(Limits::default());
    d.push(input);
    while d.poll().unwrap().is_some() {}
    assert!(d.is_closed());
    assert_eq!(d.buffered(), b"GET /e HTTP/1.1\r\n");
}

#[test]
fn leading_empty_lines_are_ignored() {
    assert_eq!(requests_split(b"\r\n\r\n"), []);
    let out = requests_split(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(head(&out).method(), "GET");
}

#[test]
fn keep_alive() {
    let ka = |s: &[u8]| head(&requests(s, s.len())).keep_alive();
    assert!(ka(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, close\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"
    ));
    // an HTTP/1.0 request ends the connection
    let out = requests(b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", 100);
    assert_eq!(out.len(), 2);
}

#[test]
fn http10_without_host() {
    let out = requests_split(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(head(&out).version(), Version::Http10);
}

#[test]
fn error_paths() {
    let cases: &[(&[u8], u16, Reason)] = &[
        (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, Reason::BadRequestLine),
        (b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, Reason::BadRequestLine),
        (b"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400, Reason::BadRequestLine),
        (b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, Reason::BadRequestLine),
        (b"GET / http/1.1\r\nHost: x\r\n\r\n", 400, Reason::BadRequestLine),
        (b"GET /\r\nHost: x\r\n\r\n", 400, Reason::BadRequestLine),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, Reason::UnsupportedVersion),
        (b"GET / HTTP/0.9\r\n\r\n", 505, Reason::UnsupportedVersion),
        (b"GET /a#f HTTP/1.1\r\nHost: x\r\n\r\n", 400, Reason::BadTarget),
        (b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, Reason::BadTarget),
        (b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400, Reason::BadLineEnding),
        (b"GET / HTTP/1.1\r\nHost: x\n\n", 400, Reason::BadLineEnding),
        (b"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400, Reason::BadLineEnding),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad\r\n\r\n", 400, Reason::BadHeaderLine),
        (b"GET / HTTP/1.1\r\nHost: x\r\nA b: c\r\n\r\n", 400, Reason::BadHeaderLine),
        (b"GET / HTTP/1.1\r\nHost: x\r\n: c\r\n\r\n", 400, Reason::BadHeaderLine),
        // RFC 9112 §5.1: whitespace between field name and colon
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, Reason::BadHeaderLine),
        (b"GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400, Reason::BadHeaderLine),
        // §5.2 obs-fold, and whitespace before the first field (§2.2)
        (b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", 400, Reason::ObsFold),
        (b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, Reason::ObsFold),
        (b"GET / HTTP/1.1\r\nHost: x\r\nA: b\x00c\r\n\r\n", 400, Reason::BadHeaderValue),
        (b"GET / HTTP/1.1\r\nHost: x\r\nA: b\x7f\r\n\r\n", 400, Reason::BadHeaderValue),
        (b"GET / HTTP/1.1\r\nHost: x\r\nA: \x0bb\r\n\r\n", 400, Reason::BadHeaderValue),
        (b"GET / HTTP/1.1\r\n\r\n", 400, Reason::MissingHost),
        (b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, Reason::DuplicateHost),
        (b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, Reason::DuplicateHost),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, Reason::BadHost),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, Reason::BadHost),
        (b"\r\n\r\n\r", 400, Reason::Truncated),
        (b"GET / HTTP/1.1\r\nHost: x\r\n", 400, Reason::Truncated),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabc", 400, Reason::Truncated),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 400, Reason::Truncated),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", 400, Reason::Truncated),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400, Reason::Truncated),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x00\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400, Reason::BadChunkEnd),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rx", 400, Reason::BadChunkEnd),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA : b\r\n\r\n", 400, Reason::BadHeaderLine),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n", 400, Reason::ObsFold),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, Reason::UnsupportedTransferCoding),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, Reason::ChunkedNotFinal),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", 400, Reason::BadTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, Reason::BadTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", 413, Reason::BodyTooLarge),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413, Reason::BodyTooLarge),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80000\r\n", 400, Reason::Truncated),
    ];
    for (input, status, reason) in cases {
        let e = refused(input);
        assert_eq!(
            (e.status, e.reason),
            (*status, *reason),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!e.to_string().is_empty());
        assert!(!e.reason.label().is_empty());
    }
}

#[test]
fn size_limits() {
    let limits = Limits {
        max_start_line: 22,
        max_header_line: 26,
        max_headers: 2,
        max_head: 60,
        max_body: 4,
        max_chunk_line: 8,
    };
    let refused = |input: &[u8]| -> HttpError {
        let whole = requests_with(input, input.len(), limits);
        assert_eq!(requests_with(input, 1, limits), whole);
        match whole.last() {
            Some(Out::Err(e)) => *e,
            other => panic!("{other:?}"),
        }
    };
    let ok = |input: &[u8]| {
        let whole = requests_with(input, input.len(), limits);
        assert_eq!(requests_with(input, 1, limits), whole);
        assert_eq!(whole.last(), Some(&Out::End), "{whole:?}");
    };
    ok(b"GET /12345678 HTTP/1.1\r\nHost: x\r\nA: 123456\r\n\r\n");
    let e = refused(b"GET /123456789 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((e.status, e.reason), (414, Reason::RequestLineTooLong));
    // refused before the line ends
    let e = refused(b"GET /123456789012345678901234567890");
    assert_eq!(e.reason, Reason::RequestLineTooLong);
    let e = refused(b"GET / HTTP/1.1\r\nHost: x\r\nA: 123456789012345678901234\r\n\r\n");
    assert_eq!((e.status, e.reason), (431, Reason::HeaderLineTooLong));
    let e = refused(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n");
    assert_eq!((e.status, e.reason), (431, Reason::TooManyHeaders));
    let e = refused(b"GET /12345678 HTTP/1.1\r\nHost: 12345678901234567890\r\nA: 123456\r\n\r\n");
    assert_eq!((e.status, e.reason), (431, Reason::HeadTooLarge));
    ok(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd");
    let e = refused(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    assert_eq!((e.status, e.reason), (413, Reason::BodyTooLarge));
    ok(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: x\r\n\r\n2\r\nab\r\n2;e=f\r\ncd\r\n0\r\n\r\n");
    let e = refused(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: x\r\n\r\n2\r\nab\r\n3\r\n",
    );
    assert_eq!((e.status, e.reason), (413, Reason::BodyTooLarge));
    let e = refused(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: x\r\n\r\n2;abcdefghij\r\n",
    );
    assert_eq!(e.reason, Reason::BadChunkSize);
    // trailers are bounded by the field limits too
    let e = refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: x\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    assert_eq!(e.reason, Reason::TooManyHeaders);
}

#[test]
fn smuggling() {
    let cases: &[(&[u8], u16, Reason)] = &[
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, Reason::BothLengthAndChunked),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400, Reason::BothLengthAndChunked),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, Reason::ConflictingContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd", 400, Reason::ConflictingContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 03\r\n\r\nabc", 400, Reason::ConflictingContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nabcde", 400, Reason::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, Reason::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\n", 400, Reason::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n", 400, Reason::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400, Reason::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5,\r\n\r\n", 400, Reason::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, Reason::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400, Reason::ChunkedNotFinal),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 400, Reason::ChunkedNotFinal),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, Reason::ChunkedNotFinal),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400, Reason::ChunkedNotFinal),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400, Reason::ChunkedNotFinal),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400, Reason::BadHeaderLine),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", 400, Reason::BadHeaderValue),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400, Reason::ObsFold),
        (b"POST / HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n", 400, Reason::ObsFold),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\n\r\n", 400, Reason::BadLineEnding),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, Reason::TransferEncodingInHttp10),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400, Reason::BadChunkSize),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", 413, Reason::BodyTooLarge),
    ];
    for (input, status, reason) in cases {
        let e = refused(input);
        assert_eq!(
            (e.status, e.reason),
            (*status, *reason),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // accepted on purpose: OWS around a single chunked (it is OWS), case, identical lengths
    for input in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  \t chunked \t\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,chunked,\r\n\r\n0\r\n\r\n",
    ] {
        assert_eq!(head(&requests_split(input)).framing(), Framing::Chunked);
    }
    for input in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc",
    ] {
        let out = requests_split(input);
        assert_eq!(head(&out).framing(), Framing::Length(3));
        assert_eq!(out[1], Out::Data(b"abc".to_vec()));
    }
    // a chunk-size with many leading zeros is just long, and bounded by max_chunk_line
    let out = requests_split(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000000001\r\na\r\n0\r\n\r\n",
    );
    assert_eq!(out[1], Out::Data(b"a".to_vec()));
}

#[test]
fn standalone_head_parsers() {
    let l = Limits::default();
    let h = RequestHead::parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &l).unwrap();
    assert_eq!(h.method(), "GET");
    assert_eq!(
        RequestHead::parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nX", &l)
            .unwrap_err()
            .status,
        400
    );
    assert_eq!(
        RequestHead::parse(b"GET / HTTP/1.1\r\nHost: x\r\n", &l)
            .unwrap_err()
            .reason,
        Reason::Truncated
    );
    let r = ResponseHead::parse(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n",
        &l,
        "GET",
    )
    .unwrap();
    assert_eq!((r.status(), r.reason()), (404, "Not Found"));
    assert_eq!(r.framing(), Framing::Length(2));
    let e = ResponseHead::parse(b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n", &l, "GET")
        .unwrap_err();
    assert_eq!((e.status, e.reason), (502, Reason::BadContentLength));
}

#[test]
fn response_framing() {
    let l = Limits::default();
    let framing = |s: &[u8], m: &str| ResponseHead::parse(s, &l, m).map(|h| h.framing());
    let cl = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    assert_eq!(framing(cl, "GET"), Ok(Framing::Length(10)));
    assert_eq!(framing(cl, "HEAD"), Ok(Framing::Empty));
    for s in [
        &b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"[..],
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ] {
        assert_eq!(framing(s, "GET"), Ok(Framing::Empty));
    }
    assert_eq!(
        framing(b"HTTP/1.0 200 OK\r\n\r\n", "GET"),
        Ok(Framing::UntilClose)
    );
    assert_eq!(
        framing(b"HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n", "GET"),
        Ok(Framing::Chunked)
    );
    let errs: &[(&[u8], Reason)] = &[
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
            Reason::BothLengthAndChunked,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
            Reason::ConflictingContentLength,
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Reason::TransferEncodingInHttp10,
        ),
        (b"HTTP/1.1 20 OK\r\n\r\n", Reason::BadStatusLine),
        (b"HTTP/1.1 099 OK\r\n\r\n", Reason::BadStatusLine),
        (b"HTTP/1.1 600 OK\r\n\r\n", Reason::BadStatusLine),
        (b"HTTP/1.1 200OK\r\n\r\n", Reason::BadStatusLine),
        (b"HTTP/1.1  200 OK\r\n\r\n", Reason::BadStatusLine),
        (b"HTTP/1.1 200 O\x00K\r\n\r\n", Reason::BadStatusLine),
        (b"HTTP/2.0 200 OK\r\n\r\n", Reason::UnsupportedVersion),
        (b"ICY 200 OK\r\n\r\n", Reason::BadStatusLine),
    ];
    for (s, reason) in errs {
        let e = ResponseHead::parse(s, &l, "GET").unwrap_err();
        assert_eq!(
            (e.status, e.reason),
            (502, *reason),
            "{:?}",
            String::from_utf8_lossy(s)
        );
    }
}

#[test]
fn response_decoder() {
    // 100 Continue, then the final answer; a HEAD answer with a length and no body; a chunked
    // answer; then one delimited by the close
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\nuntil the end";
    let methods = ["POST", "HEAD", "GET", "GET"];
    let whole = responses(input, input.len(), &methods);
    assert_eq!(responses(input, 1, &methods), whole);
    let statuses: Vec<u16> = whole
        .iter()
        .filter_map(|o| match o {
            Out::Head(h) => Some(h.status()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [100, 201, 200, 200, 200]);
    let data: Vec<&[u8]> = whole
        .iter()
        .filter_map(|o| match o {
            Out::Data(d) => Some(&d[..]),
            _ => None,
        })
        .collect();
    assert_eq!(data, [&b"ok"[..], b"abc", b"until the end"]);
    assert_eq!(whole.last(), Some(&Out::End));
    assert_eq!(whole.iter().filter(|o| **o == Out::End).count(), 5);

    // no request outstanding
    let out = responses(b"HTTP/1.1 200 OK\r\n\r\n", 100, &[]);
    assert_eq!(
        out,
        [Out::Err(HttpError::response(Reason::UnexpectedResponse))]
    );
    // a short body is truncated
    let out = responses(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
        100,
        &["GET"],
    );
    assert_eq!(
        out.last(),
        Some(&Out::Err(HttpError::response(Reason::Truncated)))
    );
    // 101: the decoder stops and leaves the rest
    let mut d = ResponseDecoder::new(Limits::default());
    d.expect("GET");
    d.push(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00");
    assert!(matches!(d.poll(), Ok(Some(Event::Head(_)))));
    assert_eq!(d.poll(), Ok(Some(Event::End)));
    assert_eq!(d.poll(), Ok(None));
    assert!(d.is_closed());
    assert_eq!(d.buffered(), b"\x81\x00");
}

#[test]
fn writer() {
    let mut out = Vec::new();
    write_response_head(
        &mut out,
        200,
        "OK",
        [("Content-Type", "text/xml"), ("X-A", "b")],
        Body::Chunked,
    )
    .unwrap();
    write_chunk(&mut out, b"<a/>");
    write_chunk(&mut out, b"");
    write_chunk(&mut out, &[b'x'; 20]);
    write_last_chunk(&mut out);
    write_response_head(
        &mut out,
        401,
        "Unauthorized",
        [("WWW-Authenticate", "Basic realm=\"x\"")],
        Body::Length(3),
    )
    .unwrap();
    out.extend_from_slice(b"no!");
    write_response_head(
        &mut out,
        204,
        "No Content",
        Vec::<(&str, &str)>::new(),
        Body::Empty,
    )
    .unwrap();
    write_response_head(
        &mut out,
        404,
        "Not Found",
        Vec::<(&str, &str)>::new(),
        Body::Empty,
    )
    .unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nX-A: b\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n<a/>\r\n14\r\n"));
    let got = responses(&out, 1, &["GET"; 4]);
    let mut want_data = b"<a/>".to_vec();
    want_data.extend_from_slice(&[b'x'; 20]);
    assert_eq!(got[1], Out::Data(want_data));
    assert_eq!(got[4], Out::Data(b"no!".to_vec()));
    let Out::Head(h) = &got[3] else { panic!() };
    assert_eq!(
        h.headers().get_str("www-authenticate"),
        Some("Basic realm=\"x\"")
    );
    let Out::Head(h) = &got[8] else { panic!() };
    assert_eq!(h.framing(), Framing::Length(0));
    assert_eq!(got.len(), 10);

    let none = Vec::<(&str, &str)>::new();
    let mut out = Vec::new();
    let w = |o: &mut Vec<u8>, s, r, h: &[(&str, &str)], b| {
        write_response_head(o, s, r, h.iter().copied(), b)
    };
    assert_eq!(
        w(&mut out, 99, "x", &none, Body::Empty),
        Err(WriteError::BadStatus)
    );
    assert_eq!(
        w(&mut out, 200, "O\r\nK", &none, Body::Empty),
        Err(WriteError::BadReason)
    );
    assert_eq!(
        w(&mut out, 200, "OK", &[("A b", "c")], Body::Empty),
        Err(WriteError::BadHeaderName)
    );
    assert_eq!(
        w(&mut out, 200, "OK", &[("A", "c\r\nX: y")], Body::Empty),
        Err(WriteError::BadHeaderValue)
    );
    assert_eq!(
        w(&mut out, 200, "OK", &[("content-length", "1")], Body::Empty),
        Err(WriteError::FramingHeader)
    );
    assert_eq!(
        w(&mut out, 204, "", &none, Body::Length(1)),
        Err(WriteError::BodyNotAllowed)
    );
    assert_eq!(
        w(&mut out, 304, "", &none, Body::Chunked),
        Err(WriteError::BodyNotAllowed)
    );
    assert!(out.is_empty());
    assert!(!WriteError::BadStatus.to_string().is_empty());
}

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

    /// A byte, often one the HTTP grammar cares about.
    fn byte(&mut self) -> u8 {
        const SPECIAL: &[u8] = b"\r\n \t:;,0123456789abcdefxHTP/.\x00\x7f\x80\xff";
        if self.below(3) == 0 {
            self.next() as u8
        } else {
            SPECIAL[self.below(SPECIAL.len())]
        }
    }
}

#[test]
fn random_mutation_never_panics_and_chunking_does_not_matter() {
    let corpus: &[&[u8]] = &[
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;n=v\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a:1\r\n\r\n",
    ];
    let responses_corpus: &[&[u8]] = &[
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\nrest",
    ];
    let limits = Limits {
        max_start_line: 40,
        max_header_line: 40,
        max_headers: 4,
        max_head: 120,
        max_body: 12,
        max_chunk_line: 8,
    };
    let mut rng = Rng(0x4854_5450);
    for round in 0..4000 {
        let base = if round % 4 == 3 {
            responses_corpus[0]
        } else {
            corpus[rng.below(corpus.len())]
        };
        let mut m = base.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len() + 1);
            match rng.below(4) {
                0 if at < m.len() => m[at] = rng.byte(),
                1 => m.insert(at, rng.byte()),
                2 if at < m.len() => {
                    m.remove(at);
                }
                _ => {
                    let from = rng.below(m.len());
                    let len = rng.below(16).min(m.len() - from);
                    let piece = m[from..from + len].to_vec();
                    m.splice(at..at, piece);
                }
            }
        }
        let step = 1 + rng.below(9);
        for l in [Limits::default(), limits] {
            let whole = requests_with(&m, m.len(), l);
            assert_eq!(
                requests_with(&m, step, l),
                whole,
                "{:?}",
                String::from_utf8_lossy(&m)
            );
            assert_eq!(requests_with(&m, 1, l), whole);
        }
        let whole = responses(&m, m.len(), &["GET", "HEAD", "GET", "POST"]);
        assert_eq!(responses(&m, step, &["GET", "HEAD", "GET", "POST"]), whole);
        let _ = RequestHead::parse(&m, &Limits::default());
        let _ = ResponseHead::parse(&m, &Limits::default(), "GET");
    }
}

/// What C forwards: a request head written from a client's request without its hop-by-hop
/// fields reads back as the same request with one framing of its own.
#[test]
fn requests_are_written_and_hop_by_hop_fields_stay_behind() {
    let input = b"POST /cucm-uds/user/alice HTTP/1.1\r\nHost: e.example.test\r\n\
        Connection: keep-alive, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n\
        Proxy-Authorization: Basic eA==\r\nTE: trailers\r\nAuthorization: Basic YTpi\r\n\
        Content-Length: 3\r\nAccept: */*\r\n\r\nabc";
    let out = requests(input, input.len());
    let h = head(&out);
    let fields = end_to_end_fields(h.headers());
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["Host", "Authorization", "Accept"]);
    let mut wire = Vec::new();
    write_request_head(
        &mut wire,
        h.method(),
        h.target().as_str(),
        fields.iter().map(|(n, v)| (*n, *v)),
        Body::Length(3),
    )
    .unwrap();
    wire.extend_from_slice(b"abc");
    let again = requests(&wire, 1);
    let h2 = head(&again);
    assert_eq!(
        (h2.method(), h2.target().as_str()),
        ("POST", "/cucm-uds/user/alice")
    );
    assert_eq!(h2.framing(), Framing::Length(3));
    assert_eq!(h2.headers().get("authorization"), Some(&b"Basic YTpi"[..]));
    assert!(h2.headers().get("x-private").is_none());

    let mut w = Vec::new();
    assert_eq!(
        write_request_head(&mut w, "GE T", "/", [("Host", "x")], Body::Empty),
        Err(WriteError::BadMethod)
    );
    assert_eq!(
        write_request_head(&mut w, "GET", "/a b", [("Host", "x")], Body::Empty),
        Err(WriteError::BadTarget)
    );
    assert_eq!(
        write_request_head(&mut w, "GET", "/", [("Content-Length", "1")], Body::Empty),
        Err(WriteError::FramingHeader)
    );
    assert!(w.is_empty(), "nothing written on an error");
    write_request_head(&mut w, "GET", "/", [("Host", "x")], Body::Empty).unwrap();
    assert_eq!(w, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}
