//! SIP messages (RFC 3261 §7): the start line, the header fields in order, the body.
//!
//! [`Message::parse`] takes the bytes of one message: what the stream framer
//! ([`framing`](super::framing)) cut out of a TLS or TCP flow, or one datagram. It keeps one copy
//! of those bytes, and every header field is a view over its own line in that copy (line folds
//! included), with a typed [`Value`] beside it for the fields this layer understands
//! ([`header`]). Everything else — WWW-Authenticate, Authorization and the
//! `Proxy-` challenge fields among it — stays as received and is written back unchanged.
//!
//! What is checked, beyond the grammar of each part:
//!
//! - requests and responses carry Via, From, To, Call-ID and CSeq ([`Error::MissingHeader`]);
//!   Max-Forwards may be absent (a proxy adds it, RFC 3261 §16.6 step 3);
//! - From, To, Call-ID, CSeq, Max-Forwards, Expires, Content-Length and Content-Type appear at
//!   most once ([`Error::DuplicateHeader`]), and `Contact: *` stands alone;
//! - a request's CSeq method is its method ([`Error::CSeqMethodMismatch`]);
//! - the Request-URI has no `?` headers (RFC 3261 §19.1.1);
//! - the body follows the datagram rules of RFC 3261 §18.3: with a Content-Length, bytes after the
//!   body are ignored and a shorter body is an error ([`Error::ContentLengthMismatch`]); without
//!   one, the body runs to the end of the input. Over a stream the framer has already insisted on
//!   Content-Length and cut the message to it.
//!
//! Strict where RFC 4475 allows either answer: extra spaces in the start line (§3.1.2.9,
//! §3.1.2.10), spaces inside `<>` (§3.1.2.14), a bare CR or LF, and a status line without the
//! space before an empty reason phrase are all refused. CRLFs before the start line are skipped
//! (RFC 3261 §7.5).

use core::fmt;
use core::ops::Range;

use super::error::Error;
use super::header::{self, CSeq, Contacts, HeaderKind, MediaType, NameAddr, Value, Via};
use super::lex;
use super::uri::{Uri, UriError};

/// A request method. Methods are case-sensitive tokens; any token is a method (RFC 4475 §3.1.1.2:
/// `!interesting-Method0123456789_*+`.%indeed'~` is one, and `RE%47IST%45R` is not REGISTER).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// REGISTER.
    Register,
    /// OPTIONS.
    Options,
    /// INFO (RFC 6086).
    Info,
    /// PRACK (RFC 3262).
    Prack,
    /// UPDATE (RFC 3311).
    Update,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other token, as written.
    Other(String),
}

const METHODS: &[(&str, Method)] = &[
    ("INVITE", Method::Invite),
    ("ACK", Method::Ack),
    ("BYE", Method::Bye),
    ("CANCEL", Method::Cancel),
    ("REGISTER", Method::Register),
    ("OPTIONS", Method::Options),
    ("INFO", Method::Info),
    ("PRACK", Method::Prack),
    ("UPDATE", Method::Update),
    ("SUBSCRIBE", Method::Subscribe),
    ("NOTIFY", Method::Notify),
    ("REFER", Method::Refer),
    ("MESSAGE", Method::Message),
    ("PUBLISH", Method::Publish),
];

impl Method {
    /// The method of a token (the caller has checked it is one).
    pub(crate) fn from_token(t: &[u8]) -> Method {
        METHODS.iter().find(|(n, _)| n.as_bytes() == t).map_or_else(
            || Method::Other(String::from_utf8_lossy(t).into_owned()),
            |(_, m)| m.clone(),
        )
    }

    /// The method as written.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(m) => m,
            known => METHODS
                .iter()
                .find(|(_, m)| m == known)
                .map_or("", |(n, _)| n),
        }
    }
}

impl core::str::FromStr for Method {
    type Err = Error;
    /// Any token.
    fn from_str(s: &str) -> Result<Self, Error> {
        if lex::is_token_str(s.as_bytes()) {
            Ok(Method::from_token(s.as_bytes()))
        } else {
            Err(Error::BadStartLine)
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Request-Line (the version is always `SIP/2.0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestLine {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
}

/// A Status-Line (the version is always `SIP/2.0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StatusLine {
    /// The status code, 100 to 699.
    pub code: u16,
    /// The reason phrase, maybe empty (RFC 4475 §3.1.1.13), any UTF-8 (§3.1.1.12).
    pub reason: String,
}

/// The start line of a message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StartLine {
    /// A request.
    Request(RequestLine),
    /// A response.
    Response(StatusLine),
}

/// Bytes of a message part: where they lie in the received copy, or written by an edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Raw {
    Src(Range<usize>),
    Owned(Vec<u8>),
}

/// One header field line, name to end of value, line folds included, the final CRLF excluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) kind: HeaderKind,
    pub(crate) raw: Raw,
    /// The name, relative to the start of the line.
    pub(crate) name: Range<usize>,
    /// The value without the white space around it, relative to the start of the line.
    pub(crate) value: Range<usize>,
    /// Each element of a list value, relative to the start of the line.
    pub(crate) elems: Vec<Range<usize>>,
    pub(crate) typed: Value,
}

impl Field {
    /// Parses one header field line (without its final CRLF). `raw` says where the line is kept;
    /// `line` is its bytes.
    pub(crate) fn parse(raw: Raw, line: &[u8]) -> Result<Field, Error> {
        if !folds_ok(line) {
            return Err(Error::BadHeaderLine);
        }
        let name_end = line
            .iter()
            .position(|&b| !lex::is_token(b))
            .unwrap_or(line.len());
        if name_end == 0 {
            return Err(Error::BadHeaderLine);
        }
        let mut c = lex::Cursor::new(line);
        c.set_pos(name_end);
        c.take_while(lex::is_wsp);
        if !c.eat(b':') {
            return Err(Error::BadHeaderLine);
        }
        c.skip_sws();
        let vstart = c.pos();
        let vend = line
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .map_or(vstart, |i| (i + 1).max(vstart));
        let name = line.get(..name_end).unwrap_or_default();
        let kind = HeaderKind::from_name(name);
        let value = line.get(vstart..vend).unwrap_or_default();
        let (typed, spans) = header::parse_value_spans(kind, value)?;
        let elems = spans
            .into_iter()
            .map(|r| r.start + vstart..r.end + vstart)
            .collect();
        Ok(Field {
            kind,
            raw,
            name: 0..name_end,
            value: vstart..vend,
            elems,
            typed,
        })
    }
}

/// Whether every CR of a header field line starts a line fold (`CRLF 1*WSP`) and every LF ends
/// the CR of one: no bare CR or LF, no line break that is not a fold.
pub(crate) fn folds_ok(line: &[u8]) -> bool {
    line.iter().enumerate().all(|(i, &b)| match b {
        b'\r' => {
            line.get(i + 1) == Some(&b'\n') && line.get(i + 2).is_some_and(|&w| lex::is_wsp(w))
        }
        b'\n' => i > 0 && line.get(i - 1) == Some(&b'\r'),
        _ => true,
    })
}

/// The header fields every message has, typed (copied out of their fields at parse time; no edit
/// changes them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Core {
    pub(crate) from: NameAddr,
    pub(crate) to: NameAddr,
    pub(crate) call_id: String,
    pub(crate) cseq: CSeq,
}

/// A parsed SIP request or response.
///
/// It owns a copy of the bytes it was parsed from; [`Message::write`] gives them back unchanged
/// until an edit ([`serialize`](super::serialize)) rewrites a part, and then only that part.
#[derive(Clone, Debug)]
pub struct Message {
    pub(crate) src: Vec<u8>,
    pub(crate) start: StartLine,
    pub(crate) start_raw: Raw,
    pub(crate) fields: Vec<Field>,
    pub(crate) core: Core,
    pub(crate) body: Raw,
}

impl PartialEq for Message {
    /// Messages are equal when they write the same bytes: their typed values follow from those.
    fn eq(&self, other: &Self) -> bool {
        self.bytes(&self.start_raw) == other.bytes(&other.start_raw)
            && self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|(a, b)| self.bytes(&a.raw) == other.bytes(&b.raw))
            && self.body() == other.body()
    }
}

impl Eq for Message {}

/// One header field of a message.
#[derive(Clone, Copy, Debug)]
pub struct HeaderRef<'m> {
    field: &'m Field,
    line: &'m [u8],
}

impl<'m> HeaderRef<'m> {
    /// The name as written (`MaX-fOrWaRdS`, `v`).
    pub fn name(&self) -> &'m str {
        // a token: ASCII
        core::str::from_utf8(self.line.get(self.field.name.clone()).unwrap_or_default())
            .unwrap_or("")
    }

    /// The kind of header field.
    pub fn kind(&self) -> HeaderKind {
        self.field.kind
    }

    /// The value as received: no white space around it, line folds inside kept.
    pub fn raw_value(&self) -> &'m [u8] {
        self.line.get(self.field.value.clone()).unwrap_or_default()
    }

    /// The whole line as received, name to value, without the final CRLF.
    pub fn line(&self) -> &'m [u8] {
        self.line
    }

    /// The typed value ([`Value::Other`] for header fields this layer does not interpret).
    pub fn value(&self) -> &'m Value {
        &self.field.typed
    }

    /// Whether this field has that name (long or compact form, any case).
    pub fn is(&self, name: &str) -> bool {
        match HeaderKind::from_name(name.as_bytes()) {
            HeaderKind::Other => {
                self.field.kind == HeaderKind::Other && self.name().eq_ignore_ascii_case(name)
            }
            kind => kind == self.field.kind,
        }
    }
}

/// The end of the line starting at `pos`: the index of its CRLF. A bare CR or LF is an error.
fn line_end(input: &[u8], pos: usize, bad: Error) -> Result<usize, Error> {
    let rel = input
        .get(pos..)
        .unwrap_or_default()
        .iter()
        .position(|&b| b == b'\r' || b == b'\n');
    let i = pos + rel.ok_or(Error::Truncated)?;
    match (input.get(i), input.get(i + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok(i),
        (Some(b'\r'), None) => Err(Error::Truncated),
        _ => Err(bad),
    }
}

/// `SIP/2.0`; another well-formed version is unsupported.
fn check_version(v: &[u8]) -> Result<(), Error> {
    let rest = match v.get(..4) {
        Some(p) if p.eq_ignore_ascii_case(b"SIP/") => v.get(4..).unwrap_or_default(),
        _ => return Err(Error::BadStartLine),
    };
    let dot = rest
        .iter()
        .position(|&b| b == b'.')
        .ok_or(Error::BadStartLine)?;
    let (major, minor) = (
        rest.get(..dot).unwrap_or_default(),
        rest.get(dot + 1..).unwrap_or_default(),
    );
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(Error::BadStartLine);
    }
    if rest == b"2.0" {
        Ok(())
    } else {
        Err(Error::UnsupportedVersion)
    }
}

/// A Request-Line or Status-Line, without its CRLF.
pub(crate) fn parse_start_line(line: &[u8]) -> Result<StartLine, Error> {
    let sp = |s: &[u8]| s.iter().position(|&b| b == b' ');
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        let v_end = sp(line).ok_or(Error::BadStartLine)?;
        check_version(line.get(..v_end).unwrap_or_default())?;
        let rest = line.get(v_end + 1..).unwrap_or_default();
        let code_end = sp(rest).unwrap_or(rest.len());
        let code = rest.get(..code_end).unwrap_or_default();
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return Err(Error::BadStatusCode);
        }
        let code = lex::parse_u32(code)
            .and_then(|c| u16::try_from(c).ok())
            .ok_or(Error::BadStatusCode)?;
        if !(100..=699).contains(&code) {
            return Err(Error::BadStatusCode);
        }
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase: the second SP is required
        let reason = rest.get(code_end + 1..).ok_or(Error::BadStartLine)?;
        if code_end == rest.len()
            || reason
                .iter()
                .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(Error::BadStartLine);
        }
        let reason = String::from_utf8(reason.to_vec()).map_err(|_| Error::BadStartLine)?;
        Ok(StartLine::Response(StatusLine { code, reason }))
    } else {
        let m_end = sp(line).ok_or(Error::BadStartLine)?;
        let method = line.get(..m_end).unwrap_or_default();
        if !lex::is_token_str(method) {
            return Err(Error::BadStartLine);
        }
        let rest = line.get(m_end + 1..).unwrap_or_default();
        let u_end = sp(rest).ok_or(Error::BadStartLine)?;
        check_version(rest.get(u_end + 1..).unwrap_or_default())?;
        let uri = rest.get(..u_end).unwrap_or_default();
        if uri.is_empty() {
            return Err(Error::BadStartLine);
        }
        let uri = Uri::parse(uri).map_err(Error::BadRequestUri)?;
        if uri.has_headers() {
            return Err(Error::BadRequestUri(UriError::HeadersNotAllowed));
        }
        Ok(StartLine::Request(RequestLine {
            method: Method::from_token(method),
            uri,
        }))
    }
}

impl Message {
    /// Parses one message: the bytes a framer cut out of a stream, or one datagram (bytes after
    /// the body that Content-Length delimits are ignored, RFC 3261 §18.3; see the module docs).
    pub fn parse(input: &[u8]) -> Result<Message, Error> {
        let mut skip = 0;
        while input.get(skip..skip + 2) == Some(b"\r\n") {
            skip += 2;
        }
        let input = input.get(skip..).unwrap_or_default();
        if input.is_empty() {
            return Err(Error::Empty);
        }
        let sl_end = line_end(input, 0, Error::BadStartLine)?;
        let start = parse_start_line(input.get(..sl_end).unwrap_or_default())?;

        let mut fields: Vec<Field> = Vec::new();
        let mut pos = sl_end + 2;
        loop {
            match input.get(pos..pos + 2) {
                Some(b"\r\n") => {
                    pos += 2;
                    break;
                }
                None if pos >= input.len() => return Err(Error::Truncated),
                _ => {}
            }
            if input.get(pos).is_some_and(|&b| lex::is_wsp(b)) {
                // a fold with no field before it
                return Err(Error::BadHeaderLine);
            }
            // the line, and the continuation lines that fold into it
            let mut end = line_end(input, pos, Error::BadHeaderLine)?;
            while input.get(end + 2).is_some_and(|&b| lex::is_wsp(b)) {
                end = line_end(input, end + 2, Error::BadHeaderLine)?;
            }
            let line = input.get(pos..end).unwrap_or_default();
            let field = Field::parse(Raw::Src(pos..end), line)?;
            if field.kind.is_single() && fields.iter().any(|f| f.kind == field.kind) {
                return Err(Error::DuplicateHeader(field.kind));
            }
            fields.push(field);
            pos = end + 2;
        }

        let contact_fields = fields
            .iter()
            .filter(|f| f.kind == HeaderKind::Contact)
            .count();
        if contact_fields > 1
            && fields
                .iter()
                .any(|f| matches!(f.typed, Value::Contact(Contacts::Star)))
        {
            return Err(Error::BadHeader(HeaderKind::Contact));
        }
        let core = core_of(&fields)?;
        if let StartLine::Request(r) = &start {
            if r.method != core.cseq.method {
                return Err(Error::CSeqMethodMismatch);
            }
        }

        let available = input.len() - pos;
        let declared = fields.iter().find_map(|f| match f.typed {
            Value::ContentLength(n) => Some(n),
            _ => None,
        });
        let body_len = match declared {
            Some(n) => match usize::try_from(n) {
                Ok(n) if n <= available => n,
                _ => return Err(Error::ContentLengthMismatch),
            },
            None => available,
        };
        let end = pos + body_len;
        Ok(Message {
            src: input.get(..end).unwrap_or_default().to_vec(),
            start,
            start_raw: Raw::Src(0..sl_end),
            fields,
            core,
            body: Raw::Src(pos..end),
        })
    }

    /// The bytes of a part.
    pub(crate) fn bytes<'a>(&'a self, raw: &'a Raw) -> &'a [u8] {
        match raw {
            Raw::Src(r) => self.src.get(r.clone()).unwrap_or_default(),
            Raw::Owned(v) => v,
        }
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request(r) => Some(&r.method),
            StartLine::Response(_) => None,
        }
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&Uri> {
        match &self.start {
            StartLine::Request(r) => Some(&r.uri),
            StartLine::Response(_) => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response(s) => Some(s.code),
            StartLine::Request(_) => None,
        }
    }

    /// The header fields in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderRef<'_>> + '_ {
        self.fields.iter().map(|f| HeaderRef {
            field: f,
            line: self.bytes(&f.raw),
        })
    }

    /// The header fields with that name (long or compact form, any case).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = HeaderRef<'a>> + 'a {
        self.headers().filter(move |h| h.is(name))
    }

    /// The raw value of the first header field with that name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers().find(|h| h.is(name)).map(|h| h.raw_value())
    }

    fn values(&self, kind: HeaderKind) -> impl Iterator<Item = &Value> + '_ {
        self.fields
            .iter()
            .filter(move |f| f.kind == kind)
            .map(|f| &f.typed)
    }

    /// The Via values, top first, across all Via fields.
    pub fn vias(&self) -> impl Iterator<Item = &Via> + '_ {
        self.values(HeaderKind::Via).flat_map(|v| match v {
            Value::Via(l) => l.as_slice(),
            _ => &[],
        })
    }

    /// The top Via value. Present in every parsed message; gone only after
    /// [`pop_via`](Message::pop_via) took the last one.
    pub fn top_via(&self) -> Option<&Via> {
        self.vias().next()
    }

    /// From.
    pub fn from(&self) -> &NameAddr {
        &self.core.from
    }

    /// To.
    pub fn to(&self) -> &NameAddr {
        &self.core.to
    }

    /// Call-ID.
    pub fn call_id(&self) -> &str {
        &self.core.call_id
    }

    /// CSeq.
    pub fn cseq(&self) -> &CSeq {
        &self.core.cseq
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Option<u8> {
        self.values(HeaderKind::MaxForwards).find_map(|v| match v {
            Value::MaxForwards(n) => Some(*n),
            _ => None,
        })
    }

    /// Expires, if present.
    pub fn expires(&self) -> Option<u32> {
        self.values(HeaderKind::Expires).find_map(|v| match v {
            Value::Expires(n) => Some(*n),
            _ => None,
        })
    }

    /// The Content-Length header value, if present (the body is [`Message::body`]).
    pub fn content_length(&self) -> Option<u32> {
        self.values(HeaderKind::ContentLength)
            .find_map(|v| match v {
                Value::ContentLength(n) => Some(*n),
                _ => None,
            })
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Option<&MediaType> {
        self.values(HeaderKind::ContentType).find_map(|v| match v {
            Value::ContentType(m) => Some(m),
            _ => None,
        })
    }

    /// Whether the Contact is `*`.
    pub fn contact_star(&self) -> bool {
        self.values(HeaderKind::Contact)
            .any(|v| matches!(v, Value::Contact(Contacts::Star)))
    }

    /// The Contact values in order across all Contact fields (none for `*`).
    pub fn contacts(&self) -> impl Iterator<Item = &NameAddr> + '_ {
        self.values(HeaderKind::Contact).flat_map(|v| match v {
            Value::Contact(Contacts::List(l)) => l.as_slice(),
            _ => &[],
        })
    }

    fn name_addrs(&self, kind: HeaderKind) -> impl Iterator<Item = &NameAddr> + '_ {
        self.values(kind).flat_map(|v| match v {
            Value::Routes(l) => l.as_slice(),
            _ => &[],
        })
    }

    /// The Route values in order.
    pub fn routes(&self) -> impl Iterator<Item = &NameAddr> + '_ {
        self.name_addrs(HeaderKind::Route)
    }

    /// The Record-Route values in order.
    pub fn record_routes(&self) -> impl Iterator<Item = &NameAddr> + '_ {
        self.name_addrs(HeaderKind::RecordRoute)
    }

    /// The Path values in order (RFC 3327).
    pub fn paths(&self) -> impl Iterator<Item = &NameAddr> + '_ {
        self.name_addrs(HeaderKind::Path)
    }

    /// The option tags of Supported, Require, Proxy-Require or Unsupported fields.
    pub fn option_tags(&self, kind: HeaderKind) -> impl Iterator<Item = &str> + '_ {
        self.values(kind)
            .flat_map(|v| match v {
                Value::OptionTags(t) => t.as_slice(),
                _ => &[],
            })
            .map(String::as_str)
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        self.bytes(&self.body)
    }
}

/// The typed required fields, or which is missing.
fn core_of(fields: &[Field]) -> Result<Core, Error> {
    let find = |kind| fields.iter().find(|f| f.kind == kind).map(|f| &f.typed);
    if find(HeaderKind::Via).is_none() {
        return Err(Error::MissingHeader(HeaderKind::Via));
    }
    let Some(Value::NameAddr(from)) = find(HeaderKind::From) else {
        return Err(Error::MissingHeader(HeaderKind::From));
    };
    let Some(Value::NameAddr(to)) = find(HeaderKind::To) else {
        return Err(Error::MissingHeader(HeaderKind::To));
    };
    let Some(Value::CallId(call_id)) = find(HeaderKind::CallId) else {
        return Err(Error::MissingHeader(HeaderKind::CallId));
    };
    let Some(Value::CSeq(cseq)) = find(HeaderKind::CSeq) else {
        return Err(Error::MissingHeader(HeaderKind::CSeq));
    };
    Ok(Core {
        from: from.clone(),
        to: to.clone(),
        call_id: call_id.clone(),
        cseq: cseq.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::header::{DisplayName, Transport};
    use crate::sip::uri::Host;

    pub(crate) const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-1;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n\
To: <sip:alice@example.com>\r\n\
Call-ID: 8f2c@10.0.0.5\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:alice@10.0.0.5:50612;transport=tls;ob>;+sip.instance=\"<urn:uuid:0011>\";reg-id=1\r\n\
Supported: path, outbound\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\
\r\n";

    #[test]
    fn register() {
        let m = Message::parse(REGISTER).unwrap();
        assert!(m.is_request());
        assert_eq!(m.method(), Some(&Method::Register));
        assert_eq!(m.request_uri().unwrap().to_string(), "sip:example.com");
        let via = m.top_via().unwrap();
        assert_eq!(via.transport, Transport::Tls);
        assert_eq!(via.rport(), Some(None));
        assert_eq!(m.max_forwards(), Some(70));
        assert_eq!(m.from().display, Some(DisplayName::Quoted("Alice".into())));
        assert_eq!(m.from().tag(), Some("a1"));
        assert_eq!(m.to().tag(), None);
        assert_eq!(m.call_id(), "8f2c@10.0.0.5");
        assert_eq!(
            m.cseq(),
            &CSeq {
                seq: 1,
                method: Method::Register
            }
        );
        let c: Vec<_> = m.contacts().collect();
        assert_eq!(c.len(), 1);
        assert!(c[0].ob());
        assert_eq!(c[0].reg_id(), Some(1));
        assert_eq!(
            m.option_tags(HeaderKind::Supported).collect::<Vec<_>>(),
            ["path", "outbound"]
        );
        assert_eq!(m.expires(), Some(3600));
        assert_eq!(m.content_length(), Some(0));
        assert_eq!(m.body(), b"");
        assert_eq!(m.header("content-length"), Some(&b"0"[..]));
        assert_eq!(m.header("l"), Some(&b"0"[..]));
        assert_eq!(m.headers().count(), 10);
    }

    #[test]
    fn response() {
        let m = Message::parse(b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/TLS 10.0.0.5;branch=z9hG4bK-1;received=198.51.100.9;rport=61234\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:alice@example.com>;tag=b2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\",\r\n algorithm=MD5, qop=\"auth\"\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(401));
        assert_eq!(m.method(), None);
        let StartLine::Response(s) = m.start_line() else {
            panic!()
        };
        assert_eq!(s.reason, "Unauthorized");
        let h = m.headers_named("www-authenticate").next().unwrap();
        assert_eq!(h.kind(), HeaderKind::WwwAuthenticate);
        assert_eq!(h.value(), &Value::Other);
        assert_eq!(
            h.raw_value(),
            b"Digest realm=\"example.com\", nonce=\"abc\",\r\n algorithm=MD5, qop=\"auth\""
        );
        assert_eq!(
            m.top_via().unwrap().received(),
            Some("198.51.100.9".parse().unwrap())
        );
    }

    #[test]
    fn start_lines() {
        let bad = |l: &[u8]| parse_start_line(l).unwrap_err();
        assert_eq!(
            bad(b"INVITE  sip:user@example.com  SIP/2.0"),
            Error::BadStartLine
        );
        assert_eq!(
            bad(b"OPTIONS sip:remote-target@example.com SIP/2.0  "),
            Error::BadStartLine
        );
        assert_eq!(
            bad(b"INVITE sip:user@example.com; lr SIP/2.0"),
            Error::BadStartLine
        );
        assert_eq!(
            bad(b"INVITE <sip:user@example.com> SIP/2.0"),
            Error::BadRequestUri(UriError::Scheme)
        );
        assert_eq!(
            bad(b"INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0"),
            Error::BadRequestUri(UriError::HeadersNotAllowed)
        );
        assert_eq!(
            bad(b"OPTIONS sip:t.watson@example.org SIP/7.0"),
            Error::UnsupportedVersion
        );
        assert_eq!(
            bad(b"OPTIONS sip:t.watson@example.org SIP/2"),
            Error::BadStartLine
        );
        assert_eq!(
            bad(b"OPTIONS sip:t.watson@example.org HTTP/1.1"),
            Error::BadStartLine
        );
        assert_eq!(
            bad(b"INV\x01TE sip:a@b.example.com SIP/2.0"),
            Error::BadStartLine
        );
        assert_eq!(bad(b"INVITE"), Error::BadStartLine);
        assert_eq!(
            bad(b"SIP/2.0 4294967301 better not break the receiver"),
            Error::BadStatusCode
        );
        assert_eq!(bad(b"SIP/2.0 099 Too Low"), Error::BadStatusCode);
        assert_eq!(bad(b"SIP/2.0 700 Too High"), Error::BadStatusCode);
        assert_eq!(bad(b"SIP/2.0 20x OK"), Error::BadStatusCode);
        assert_eq!(bad(b"SIP/2.0 200"), Error::BadStartLine);
        assert_eq!(bad(b"SIP/2.0 200 O\x00K"), Error::BadStartLine);
        assert_eq!(bad(b"SIP/2.0 200 \xff"), Error::BadStartLine);
        assert_eq!(bad(b"SIP/3.0 200 OK"), Error::UnsupportedVersion);
        assert!(matches!(
            parse_start_line(b"SIP/2.0 100 "),
            Ok(StartLine::Response(StatusLine { code: 100, .. }))
        ));
        assert!(matches!(
            parse_start_line(b"sip/2.0 200 OK"),
            Ok(StartLine::Response(_))
        ));
        let Ok(StartLine::Request(r)) =
            parse_start_line(b"RE%47IST%45R sip:registrar.example.com SIP/2.0")
        else {
            panic!()
        };
        assert_eq!(r.method, Method::Other("RE%47IST%45R".into()));
        let Ok(StartLine::Request(r)) =
            parse_start_line(b"REGISTER sip:[2001:db8::10]:5070 SIP/2.0")
        else {
            panic!()
        };
        assert_eq!(
            r.uri.as_sip().unwrap().host,
            Host::Ipv6("2001:db8::10".parse().unwrap())
        );
    }

    fn with_headers(headers: &str) -> Result<Message, Error> {
        Message::parse(format!("OPTIONS sip:a@example.com SIP/2.0\r\n{headers}\r\n").as_bytes())
    }

    const BASE: &str = "Via: SIP/2.0/TLS h.example.com;branch=z9hG4bK1\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n";

    #[test]
    fn header_section() {
        assert!(with_headers(BASE).is_ok());
        assert_eq!(
            with_headers(&format!("{BASE}Bad Header: x\r\n")).unwrap_err(),
            Error::BadHeaderLine
        );
        assert_eq!(
            with_headers(&format!("{BASE}NoColon\r\n")).unwrap_err(),
            Error::BadHeaderLine
        );
        assert_eq!(
            with_headers(&format!("{BASE}: x\r\n")).unwrap_err(),
            Error::BadHeaderLine
        );
        assert_eq!(
            with_headers(&format!(" folded: x\r\n{BASE}")).unwrap_err(),
            Error::BadHeaderLine
        );
        assert_eq!(
            with_headers(&format!("{BASE}X: a\nY: b\r\n")).unwrap_err(),
            Error::BadHeaderLine
        );
        assert_eq!(
            with_headers(&format!("{BASE}X: a\rY: b\r\n")).unwrap_err(),
            Error::BadHeaderLine
        );
        assert_eq!(
            with_headers(&format!("{BASE}Max-Forwards: 1\r\nMax-Forwards: 1\r\n")).unwrap_err(),
            Error::DuplicateHeader(HeaderKind::MaxForwards)
        );
        assert_eq!(
            with_headers(&format!("{BASE}Content-Length: 0\r\nl: 0\r\n")).unwrap_err(),
            Error::DuplicateHeader(HeaderKind::ContentLength)
        );
        assert_eq!(
            with_headers(&format!(
                "{BASE}Contact: *\r\nContact: <sip:a@b.example.com>\r\n"
            ))
            .unwrap_err(),
            Error::BadHeader(HeaderKind::Contact)
        );
        assert_eq!(
            with_headers(&BASE.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")).unwrap_err(),
            Error::CSeqMethodMismatch
        );
        for (name, kind) in [
            ("Via", HeaderKind::Via),
            ("From", HeaderKind::From),
            ("To", HeaderKind::To),
            ("Call-ID", HeaderKind::CallId),
            ("CSeq", HeaderKind::CSeq),
        ] {
            let without: String = BASE
                .split_inclusive("\r\n")
                .filter(|l| !l.starts_with(&format!("{name}:")))
                .collect();
            assert_eq!(
                with_headers(&without).unwrap_err(),
                Error::MissingHeader(kind),
                "{name}"
            );
        }
        // no empty line after the headers
        assert_eq!(
            Message::parse(format!("OPTIONS sip:a@example.com SIP/2.0\r\n{BASE}").as_bytes())
                .unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Message::parse(b"OPTIONS sip:a@example.com SIP/2.0").unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Message::parse(b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: x\r").unwrap_err(),
            Error::Truncated
        );
        assert_eq!(Message::parse(b"\r\n\r\n").unwrap_err(), Error::Empty);
        assert_eq!(Message::parse(b"").unwrap_err(), Error::Empty);
    }

    #[test]
    fn leading_crlf_is_skipped_and_folds_are_kept() {
        let m = Message::parse(
            format!("\r\n\r\nOPTIONS sip:a@example.com SIP/2.0\r\n{BASE}Subject: a\r\n  b\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.header("s"), Some(&b"a\r\n  b"[..]));
        assert!(m.src.starts_with(b"OPTIONS"));
    }

    #[test]
    fn bodies() {
        let m = with_headers(&format!("{BASE}Content-Length: 4\r\n\r\nbodyjunk")).unwrap();
        assert_eq!(m.body(), b"body");
        assert_eq!(
            with_headers(&format!("{BASE}Content-Length: 9\r\n\r\nbody")).unwrap_err(),
            Error::ContentLengthMismatch
        );
        let m = with_headers(&format!("{BASE}\r\nno length")).unwrap();
        assert_eq!(m.body(), b"no length\r\n");
        assert_eq!(m.content_length(), None);
    }

    #[test]
    fn methods() {
        assert_eq!("INVITE".parse::<Method>().unwrap(), Method::Invite);
        assert_eq!(
            "invite".parse::<Method>().unwrap(),
            Method::Other("invite".into())
        );
        assert!("IN VITE".parse::<Method>().is_err());
        assert_eq!(Method::Publish.to_string(), "PUBLISH");
    }
}
