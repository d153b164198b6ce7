//! Responses the edge builds itself (RFC 3261 §8.2.6): to a request that parsed
//! ([`Message::response`]), and to one that did not ([`error_response`]: 400, or 505 for another
//! SIP version, or 513 when too large).
//!
//! A response copies the request's Via fields, From, To, Call-ID and CSeq, adds a To tag where
//! the request has none (the caller supplies it: this layer has no randomness), and has no body.
//! The copied lines are the request's own bytes, so a client matches the response to its
//! transaction even when a field it copied is one the parser refused.
//!
//! Some requests cannot be answered at all ([`Unanswerable`]): a response or anything without a
//! Request-Line, an ACK (RFC 3261 §17.1.1.3: never answered), and a request without one of the
//! five fields above (RFC 4475 §3.3.1 has no Call-ID, From or To). The driver drops those, and on
//! a stream may close the flow.

use core::fmt;

use super::error::Error;
use super::header::{self, HeaderKind, Value};
use super::lex;
use super::message::{folds_ok, Message};

/// Why no response can be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unanswerable {
    /// A response, or bytes with no Request-Line to take a method from.
    NotARequest,
    /// An ACK, which is never answered.
    Ack,
    /// The request has no usable header field of this kind to copy (absent, or its line holds a
    /// bare CR or LF).
    MissingHeader(HeaderKind),
    /// API misuse: the To tag given is not a token.
    BadTag,
    /// API misuse: the status code is not 100 to 699, or the reason phrase holds a control
    /// character.
    BadStatus,
}

impl fmt::Display for Unanswerable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unanswerable::NotARequest => f.write_str("not a request"),
            Unanswerable::Ack => f.write_str("ACK is never answered"),
            Unanswerable::MissingHeader(h) => write!(f, "no usable {h} header to copy"),
            Unanswerable::BadTag => f.write_str("To tag is not a token"),
            Unanswerable::BadStatus => f.write_str("bad status code or reason phrase"),
        }
    }
}

impl std::error::Error for Unanswerable {}

/// The lines a response copies from its request.
struct Copied<'a> {
    vias: Vec<&'a [u8]>,
    from: &'a [u8],
    to: &'a [u8],
    /// Whether the To value has a tag (unknown if it does not parse: then none is added).
    to_tagged: bool,
    call_id: &'a [u8],
    cseq: &'a [u8],
}

fn check_status(code: u16, reason: &str) -> Result<(), Unanswerable> {
    if !(100..=699).contains(&code)
        || reason
            .bytes()
            .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(Unanswerable::BadStatus);
    }
    Ok(())
}

fn check_tag(tag: Option<&str>) -> Result<(), Unanswerable> {
    match tag {
        Some(t) if !lex::is_token_str(t.as_bytes()) => Err(Unanswerable::BadTag),
        _ => Ok(()),
    }
}

fn write_response(
    code: u16,
    reason: &str,
    lines: &Copied<'_>,
    to_tag: Option<&str>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
    for v in &lines.vias {
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(lines.from);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(lines.to);
    if let (false, Some(tag)) = (lines.to_tagged, to_tag) {
        out.extend_from_slice(b";tag=");
        out.extend_from_slice(tag.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    for l in [lines.call_id, lines.cseq] {
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

impl Message {
    /// A response to this request with that status, built as the module docs say; `to_tag` is
    /// added to To where the request has no tag (pass `None` for a 100 Trying).
    pub fn response(
        &self,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) -> Result<Message, Unanswerable> {
        match self.method() {
            None => return Err(Unanswerable::NotARequest),
            Some(super::Method::Ack) => return Err(Unanswerable::Ack),
            Some(_) => {}
        }
        check_status(code, reason)?;
        check_tag(to_tag)?;
        let line = |kind| {
            self.headers()
                .find(|h| h.kind() == kind)
                .map(|h| h.line())
                .ok_or(Unanswerable::MissingHeader(kind))
        };
        let vias: Vec<&[u8]> = self
            .headers()
            .filter(|h| h.kind() == HeaderKind::Via)
            .map(|h| h.line())
            .collect();
        if vias.is_empty() {
            return Err(Unanswerable::MissingHeader(HeaderKind::Via));
        }
        let lines = Copied {
            vias,
            from: line(HeaderKind::From)?,
            to: line(HeaderKind::To)?,
            to_tagged: self.to().tag().is_some(),
            call_id: line(HeaderKind::CallId)?,
            cseq: line(HeaderKind::CSeq)?,
        };
        let mut out = Vec::new();
        write_response(code, reason, &lines, to_tag, &mut out);
        // every copied line parsed as part of this request, and the status line was checked
        Message::parse(&out).map_err(|_| Unanswerable::BadStatus)
    }
}

/// The response to a request that [`Message::parse`] refused with `error`, appended to `out`:
/// 400 Bad Request (505 Version Not Supported, 513 Message Too Large, as [`Error::status_code`]
/// says), with the error in the reason phrase. `to_tag` is added to To where the request has none.
pub fn error_response(
    request: &[u8],
    error: Error,
    to_tag: &str,
    out: &mut Vec<u8>,
) -> Result<(), Unanswerable> {
    check_tag(Some(to_tag))?;
    let find_crlf = |from: usize| {
        request
            .get(from..)
            .and_then(|r| r.windows(2).position(|w| w == b"\r\n"))
            .map(|i| from + i)
    };
    let mut pos = 0;
    while request.get(pos..pos + 2) == Some(b"\r\n") {
        pos += 2;
    }
    let sl_end = find_crlf(pos).ok_or(Unanswerable::NotARequest)?;
    let start = request.get(pos..sl_end).unwrap_or_default();
    if start
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        return Err(Unanswerable::NotARequest);
    }
    let method = start
        .get(..start.iter().position(|&b| b == b' ').unwrap_or(0))
        .unwrap_or_default();
    if !lex::is_token_str(method) {
        return Err(Unanswerable::NotARequest);
    }
    if method == b"ACK" {
        return Err(Unanswerable::Ack);
    }

    let (mut vias, mut from, mut to, mut call_id, mut cseq) = (Vec::new(), None, None, None, None);
    let mut p = sl_end + 2;
    while p < request.len() && request.get(p..p + 2) != Some(b"\r\n") {
        let mut e = find_crlf(p).unwrap_or(request.len());
        while request.get(e + 2).is_some_and(|&b| lex::is_wsp(b)) {
            e = find_crlf(e + 2).unwrap_or(request.len());
        }
        let line = request.get(p..e).unwrap_or_default();
        p = e + 2;
        if !folds_ok(line) {
            continue;
        }
        let name_end = line
            .iter()
            .position(|&b| !lex::is_token(b))
            .unwrap_or(line.len());
        let after = line.get(name_end..).unwrap_or_default();
        let colon = after.iter().position(|&b| !lex::is_wsp(b));
        if name_end == 0 || colon.and_then(|i| after.get(i)) != Some(&b':') {
            continue;
        }
        let value = colon.and_then(|i| after.get(i + 1..)).unwrap_or_default();
        match HeaderKind::from_name(line.get(..name_end).unwrap_or_default()) {
            HeaderKind::Via => vias.push(line),
            HeaderKind::From => {
                from.get_or_insert(line);
            }
            HeaderKind::To => {
                to.get_or_insert((line, value));
            }
            HeaderKind::CallId => {
                call_id.get_or_insert(line);
            }
            HeaderKind::CSeq => {
                cseq.get_or_insert(line);
            }
            _ => {}
        }
    }
    if vias.is_empty() {
        return Err(Unanswerable::MissingHeader(HeaderKind::Via));
    }
    let from = from.ok_or(Unanswerable::MissingHeader(HeaderKind::From))?;
    let (to, to_value) = to.ok_or(Unanswerable::MissingHeader(HeaderKind::To))?;
    let call_id = call_id.ok_or(Unanswerable::MissingHeader(HeaderKind::CallId))?;
    let cseq = cseq.ok_or(Unanswerable::MissingHeader(HeaderKind::CSeq))?;
    // a To that does not parse is copied as it is: appending a tag to it could make it worse
    let to_tagged = match header::parse_value(HeaderKind::To, to_value) {
        Ok(Value::NameAddr(n)) => n.tag().is_some(),
        _ => true,
    };

    let code = error.status_code();
    let reason = match code {
        505 => "Version Not Supported",
        513 => "Message Too Large",
        _ => "Bad Request",
    };
    let reason = format!("{reason} ({error})");
    let lines = Copied {
        vias,
        from,
        to,
        to_tagged,
        call_id,
        cseq,
    };
    write_response(code, &reason, &lines, Some(to_tag), out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::uri::UriError;

    const GOOD: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-1;rport\r\n\
v: SIP/2.0/TLS p.example.com;branch=z9hG4bK-0\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: abc\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\
\r\n";

    #[test]
    fn response_to_a_parsed_request() {
        let req = Message::parse(GOOD).unwrap();
        let r = req.response(486, "Busy Here", Some("e1")).unwrap();
        assert_eq!(
            r.to_bytes(),
            b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-1;rport\r\nv: SIP/2.0/TLS p.example.com;branch=z9hG4bK-0\r\nFrom: Alice <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=e1\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(r.to().tag(), Some("e1"));
        assert_eq!(r.vias().count(), 2);
        let trying = req.response(100, "Trying", None).unwrap();
        assert_eq!(trying.to().tag(), None);
        assert_eq!(
            req.response(700, "x", None).unwrap_err(),
            Unanswerable::BadStatus
        );
        assert_eq!(
            req.response(200, "O\r\nK", None).unwrap_err(),
            Unanswerable::BadStatus
        );
        assert_eq!(
            req.response(200, "OK", Some("a b")).unwrap_err(),
            Unanswerable::BadTag
        );
        assert_eq!(
            r.response(200, "OK", None).unwrap_err(),
            Unanswerable::NotARequest
        );
        let ack = Message::parse(
            &String::from_utf8_lossy(GOOD)
                .replace("INVITE", "ACK")
                .into_bytes(),
        )
        .unwrap();
        assert_eq!(
            ack.response(200, "OK", None).unwrap_err(),
            Unanswerable::Ack
        );
    }

    fn answer(req: &[u8]) -> Result<Message, Unanswerable> {
        let err = Message::parse(req).unwrap_err();
        let mut out = Vec::new();
        error_response(req, err, "e1", &mut out)?;
        Ok(Message::parse(&out).unwrap())
    }

    #[test]
    fn error_responses() {
        let bad_cseq = String::from_utf8_lossy(GOOD).replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
        let r = answer(bad_cseq.as_bytes()).unwrap();
        assert_eq!(r.status(), Some(400));
        let crate::sip::StartLine::Response(s) = r.start_line() else {
            panic!()
        };
        assert_eq!(
            s.reason,
            "Bad Request (CSeq method differs from request method)"
        );
        assert_eq!(r.to().tag(), Some("e1"));
        assert_eq!(r.vias().count(), 2);
        assert_eq!(r.cseq().seq, 1);
        // another version: 505
        let v7 = String::from_utf8_lossy(GOOD).replace("SIP/2.0\r\n", "SIP/7.0\r\n");
        assert_eq!(answer(v7.as_bytes()).unwrap().status(), Some(505));
        // a bad Request-URI still has everything needed to answer
        let r = answer(
            &String::from_utf8_lossy(GOOD)
                .replace("sip:bob@example.com SIP", "<sip:bob@example.com> SIP")
                .into_bytes(),
        )
        .unwrap();
        assert_eq!(r.status(), Some(400));
        let mut out = Vec::new();
        error_response(GOOD, Error::BadRequestUri(UriError::Scheme), "e1", &mut out).unwrap();
        assert!(out.starts_with(b"SIP/2.0 400 Bad Request (bad Request-URI: bad scheme)\r\n"));
        // a To with a tag keeps it
        let tagged = String::from_utf8_lossy(GOOD)
            .replace(
                "To: <sip:bob@example.com>",
                "To: <sip:bob@example.com>;tag=x",
            )
            .replace("Max-Forwards: 70", "Max-Forwards: 700");
        assert_eq!(answer(tagged.as_bytes()).unwrap().to().tag(), Some("x"));
    }

    #[test]
    fn unanswerable() {
        let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        let mut out = Vec::new();
        assert_eq!(
            error_response(resp, Error::BadHeader(HeaderKind::Via), "e1", &mut out),
            Err(Unanswerable::NotARequest)
        );
        let ack = String::from_utf8_lossy(GOOD)
            .replace("INVITE", "ACK")
            .replace("To: <sip:bob@example.com>", "To: <sip:bob@example.com");
        assert_eq!(answer(ack.as_bytes()).unwrap_err(), Unanswerable::Ack);
        let no_call_id = String::from_utf8_lossy(GOOD).replace("Call-ID: abc\r\n", "");
        assert_eq!(
            answer(no_call_id.as_bytes()).unwrap_err(),
            Unanswerable::MissingHeader(HeaderKind::CallId)
        );
        let no_via = String::from_utf8_lossy(GOOD).replace("Via: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-1;rport\r\nv: SIP/2.0/TLS p.example.com;branch=z9hG4bK-0\r\n", "");
        assert_eq!(
            answer(no_via.as_bytes()).unwrap_err(),
            Unanswerable::MissingHeader(HeaderKind::Via)
        );
        // a From line with a bare LF is not copied
        let bare_lf = String::from_utf8_lossy(GOOD).replace("tag=1\r\n", "tag=1\nX: y\r\n");
        assert_eq!(
            answer(bare_lf.as_bytes()).unwrap_err(),
            Unanswerable::MissingHeader(HeaderKind::From)
        );
        assert_eq!(
            error_response(b"", Error::Empty, "e1", &mut out),
            Err(Unanswerable::NotARequest)
        );
        assert_eq!(
            error_response(b"garbage", Error::Truncated, "e1", &mut out),
            Err(Unanswerable::NotARequest)
        );
        assert_eq!(
            error_response(GOOD, Error::Empty, "no tag", &mut out),
            Err(Unanswerable::BadTag)
        );
        assert!(out.is_empty());
    }
}
