//! Writing a message back, and the edits a proxy makes on the way through.
//!
//! [`Message::write`] appends the message to a caller's buffer. Unedited, the bytes are the
//! bytes parsed, exactly (less CRLFs before the start line and bytes after the body). An edit
//! rewrites only what it changes:
//!
//! - a new field ([`Message::push_via`], [`Message::add_record_route`], [`Message::add_path`],
//!   [`Message::push_route`], [`Message::append_header`]) is a new line in canonical form;
//! - an edit of one value of a list field ([`Message::pop_via`], [`Message::edit_top_via`],
//!   [`Message::stamp_received`], [`Message::pop_route`], [`Message::edit_contacts`]) rewrites
//!   that field line: the changed value in canonical form, the untouched values around it as
//!   received, the name as written;
//! - [`Message::decrement_max_forwards`], [`Message::set_request_uri`] and
//!   [`Message::set_body`] rewrite the one line (or the body) they change.
//!
//! Every rewritten line goes through the same parser as received ones, and an edit that would
//! write something that does not parse back to the value asked for (a parameter name with a
//! space, a CR in a display name) is refused with [`EditError::Invalid`] and changes nothing.
//! From, To, Call-ID and CSeq are never edited: they identify the dialog and transaction.

use core::fmt;
use std::net::SocketAddr;

use super::header::{Contacts, HeaderKind, NameAddr, Value, Via};
use super::message::{parse_start_line, Field, Message, Raw, StartLine};
use super::uri::Uri;

/// Why an edit was refused. The message is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EditError {
    /// The edit applies to requests only.
    NotARequest,
    /// Max-Forwards is 0: the request must not be forwarded; answer 483 (RFC 3261 §16.3 step 3).
    TooManyHops,
    /// The message has no Via value to edit.
    NoVia,
    /// The value given does not write as valid SIP text of that header field.
    Invalid(HeaderKind),
    /// This header field is not added or removed by name: From, To, Call-ID, CSeq (they never
    /// change) and Via (see [`Message::push_via`] and [`Message::pop_via`]).
    Protected(HeaderKind),
    /// The message has this single-valued header field already.
    Duplicate(HeaderKind),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::NotARequest => f.write_str("not a request"),
            EditError::TooManyHops => f.write_str("Max-Forwards is zero"),
            EditError::NoVia => f.write_str("no Via to edit"),
            EditError::Invalid(h) => write!(f, "value does not write as a valid {h} header"),
            EditError::Protected(h) => write!(f, "{h} header fields are not edited by name"),
            EditError::Duplicate(h) => write!(f, "message has a {h} header already"),
        }
    }
}

impl std::error::Error for EditError {}

/// One element of a rewritten list field.
enum Piece<T> {
    /// Element `n` of the field as it is.
    Keep(usize),
    /// A new or changed element.
    New(T),
}

/// Element types of list fields, to check a rewritten line parses back to what was meant.
trait ListElem: Clone + PartialEq + fmt::Display + Sized {
    fn elems(v: &Value) -> Option<&[Self]>;
}

impl ListElem for Via {
    fn elems(v: &Value) -> Option<&[Self]> {
        match v {
            Value::Via(l) => Some(l),
            _ => None,
        }
    }
}

impl ListElem for NameAddr {
    fn elems(v: &Value) -> Option<&[Self]> {
        match v {
            Value::Contact(Contacts::List(l)) | Value::Routes(l) => Some(l),
            _ => None,
        }
    }
}

const CRLF: &[u8] = b"\r\n";

impl Message {
    /// Appends the message to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.reserve(self.wire_len());
        out.extend_from_slice(self.bytes(&self.start_raw));
        out.extend_from_slice(CRLF);
        for f in &self.fields {
            out.extend_from_slice(self.bytes(&f.raw));
            out.extend_from_slice(CRLF);
        }
        out.extend_from_slice(CRLF);
        out.extend_from_slice(self.bytes(&self.body));
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// How many bytes [`Message::write`] appends.
    pub fn wire_len(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|f| self.bytes(&f.raw).len() + 2)
            .sum();
        self.bytes(&self.start_raw).len() + 2 + fields + 2 + self.bytes(&self.body).len()
    }

    fn first(&self, kind: HeaderKind) -> Option<usize> {
        self.fields.iter().position(|f| f.kind == kind)
    }

    /// Where a new field of that kind goes: above the first of its kind, else below the last Via
    /// (else at the top).
    fn insert_at(&self, kind: HeaderKind) -> usize {
        self.first(kind)
            .or_else(|| {
                self.fields
                    .iter()
                    .rposition(|f| f.kind == HeaderKind::Via)
                    .map(|i| i + 1)
            })
            .unwrap_or(0)
    }

    /// A new field line `Name: value`, parsed like a received one; `expect` is the typed value it
    /// must parse to, where the caller has one.
    fn new_field(
        kind: HeaderKind,
        name: &str,
        value: &[u8],
        expect: Option<&Value>,
    ) -> Result<Field, EditError> {
        let mut line = Vec::with_capacity(name.len() + 2 + value.len());
        line.extend_from_slice(name.as_bytes());
        line.extend_from_slice(b": ");
        line.extend_from_slice(value);
        let f =
            Field::parse(Raw::Owned(line.clone()), &line).map_err(|_| EditError::Invalid(kind))?;
        if f.kind != kind || expect.is_some_and(|e| *e != f.typed) {
            return Err(EditError::Invalid(kind));
        }
        Ok(f)
    }

    /// Rewrites the value of field `i` as `value`, keeping its name and colon as written.
    fn replace_value(&mut self, i: usize, value: &[u8], expect: &Value) -> Result<(), EditError> {
        let Some(f) = self.fields.get(i) else {
            return Ok(());
        };
        let kind = f.kind;
        let bytes = self.bytes(&f.raw);
        let mut line = bytes.get(..f.value.start).unwrap_or_default().to_vec();
        line.extend_from_slice(value);
        let new =
            Field::parse(Raw::Owned(line.clone()), &line).map_err(|_| EditError::Invalid(kind))?;
        if new.typed != *expect {
            return Err(EditError::Invalid(kind));
        }
        if let Some(slot) = self.fields.get_mut(i) {
            *slot = new;
        }
        Ok(())
    }

    /// Rewrites list field `i` from `pieces`: runs of kept elements are copied as received,
    /// separators included; new ones are written in canonical form. No pieces: the field goes.
    fn rebuild<T: ListElem>(&mut self, i: usize, pieces: &[Piece<T>]) -> Result<(), EditError> {
        let Some(f) = self.fields.get(i) else {
            return Ok(());
        };
        if pieces.is_empty() {
            self.fields.remove(i);
            return Ok(());
        }
        let kind = f.kind;
        let old: &[T] = T::elems(&f.typed).unwrap_or_default();
        let bytes = self.bytes(&f.raw);
        let mut line = bytes.get(..f.value.start).unwrap_or_default().to_vec();
        let mut expect = Vec::with_capacity(pieces.len());
        let mut k = 0;
        while let Some(p) = pieces.get(k) {
            if k > 0 {
                line.extend_from_slice(b", ");
            }
            match p {
                Piece::New(t) => {
                    line.extend_from_slice(t.to_string().as_bytes());
                    expect.push(t.clone());
                    k += 1;
                }
                Piece::Keep(first) => {
                    let mut last = *first;
                    k += 1;
                    while let Some(Piece::Keep(n)) = pieces.get(k) {
                        if *n != last + 1 {
                            break;
                        }
                        last = *n;
                        k += 1;
                    }
                    let (Some(a), Some(b)) = (f.elems.get(*first), f.elems.get(last)) else {
                        return Err(EditError::Invalid(kind));
                    };
                    line.extend_from_slice(bytes.get(a.start..b.end).unwrap_or_default());
                    expect.extend(old.get(*first..=last).unwrap_or_default().iter().cloned());
                }
            }
        }
        let new =
            Field::parse(Raw::Owned(line.clone()), &line).map_err(|_| EditError::Invalid(kind))?;
        if T::elems(&new.typed) != Some(expect.as_slice()) {
            return Err(EditError::Invalid(kind));
        }
        if let Some(slot) = self.fields.get_mut(i) {
            *slot = new;
        }
        Ok(())
    }

    fn insert_name_addr(&mut self, kind: HeaderKind, value: &NameAddr) -> Result<(), EditError> {
        let expect = Value::Routes(vec![value.clone()]);
        let f = Self::new_field(
            kind,
            kind.name(),
            value.to_string().as_bytes(),
            Some(&expect),
        )?;
        let at = self.insert_at(kind);
        self.fields.insert(at, f);
        Ok(())
    }

    /// Removes the first value of the first field of `kind` and returns it.
    fn pop_first<T: ListElem>(&mut self, kind: HeaderKind) -> Option<T> {
        let i = self.first(kind)?;
        let f = self.fields.get(i)?;
        let elems = T::elems(&f.typed)?;
        let popped = elems.first()?.clone();
        let pieces: Vec<Piece<T>> = (1..elems.len()).map(Piece::Keep).collect();
        // kept elements parse back to themselves: a rebuild from them cannot fail
        self.rebuild(i, &pieces).ok()?;
        Some(popped)
    }

    /// Adds a Via value above the others, in a field of its own (RFC 3261 §16.6 step 8).
    pub fn push_via(&mut self, via: &Via) -> Result<(), EditError> {
        let kind = HeaderKind::Via;
        let expect = Value::Via(vec![via.clone()]);
        let f = Self::new_field(kind, kind.name(), via.to_string().as_bytes(), Some(&expect))?;
        let at = self.first(kind).unwrap_or(0);
        self.fields.insert(at, f);
        Ok(())
    }

    /// Removes the top Via value and returns it (RFC 3261 §16.7 step 3); `None` if there is none.
    pub fn pop_via(&mut self) -> Option<Via> {
        self.pop_first(HeaderKind::Via)
    }

    /// Changes the top Via value. Nothing is rewritten if `edit` leaves it as it was.
    pub fn edit_top_via(&mut self, edit: impl FnOnce(&mut Via)) -> Result<(), EditError> {
        let i = self.first(HeaderKind::Via).ok_or(EditError::NoVia)?;
        let elems = self
            .fields
            .get(i)
            .and_then(|f| Via::elems(&f.typed))
            .unwrap_or_default();
        let mut top = elems.first().ok_or(EditError::NoVia)?.clone();
        edit(&mut top);
        if elems.first() == Some(&top) {
            return Ok(());
        }
        let mut pieces = vec![Piece::New(top)];
        pieces.extend((1..elems.len()).map(Piece::Keep));
        self.rebuild(i, &pieces)
    }

    /// What a server transport does with the top Via of a request received from `source`
    /// (RFC 3261 §18.2.1, RFC 3581 §4): adds `received` when the sent-by host is not the source
    /// address or the client asked for `rport`, and fills in `rport` with the source port when
    /// the client asked for it.
    pub fn stamp_received(&mut self, source: SocketAddr) -> Result<(), EditError> {
        let ip = source.ip().to_canonical();
        self.edit_top_via(|v| {
            let rport = v.param("rport").is_some();
            if rport || v.host.ip() != Some(ip) {
                v.set_param("received", Some(&ip.to_string()));
            }
            if rport {
                v.set_param("rport", Some(&source.port().to_string()));
            }
        })
    }

    /// Adds a Record-Route value above the others (RFC 3261 §16.6 step 4).
    pub fn add_record_route(&mut self, value: &NameAddr) -> Result<(), EditError> {
        self.insert_name_addr(HeaderKind::RecordRoute, value)
    }

    /// Adds a Path value above the others (RFC 3327 §5.2).
    pub fn add_path(&mut self, value: &NameAddr) -> Result<(), EditError> {
        self.insert_name_addr(HeaderKind::Path, value)
    }

    /// Adds a Route value above the others.
    pub fn push_route(&mut self, value: &NameAddr) -> Result<(), EditError> {
        self.insert_name_addr(HeaderKind::Route, value)
    }

    /// Removes the top Route value and returns it (RFC 3261 §16.4: the proxy's own loose route).
    pub fn pop_route(&mut self) -> Option<NameAddr> {
        self.pop_first(HeaderKind::Route)
    }

    /// Lets `edit` change each Contact value (not `*`); fields where nothing changed keep their
    /// bytes. Returns how many values changed.
    pub fn edit_contacts(
        &mut self,
        mut edit: impl FnMut(&mut NameAddr),
    ) -> Result<usize, EditError> {
        let mut plan = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            let Value::Contact(Contacts::List(list)) = &f.typed else {
                continue;
            };
            let mut changed = 0;
            let pieces: Vec<Piece<NameAddr>> = list
                .iter()
                .enumerate()
                .map(|(n, c)| {
                    let mut c2 = c.clone();
                    edit(&mut c2);
                    if c2 == *c {
                        Piece::Keep(n)
                    } else {
                        changed += 1;
                        Piece::New(c2)
                    }
                })
                .collect();
            if changed > 0 {
                plan.push((i, pieces, changed));
            }
        }
        if plan.is_empty() {
            return Ok(0);
        }
        // edit a copy, so that a refused edit changes nothing
        let mut copy = self.clone();
        let mut total = 0;
        for (i, pieces, changed) in &plan {
            copy.rebuild(*i, pieces)?;
            total += changed;
        }
        *self = copy;
        Ok(total)
    }

    /// Decrements Max-Forwards of a request and returns the new value; adds `Max-Forwards: 70`
    /// where there is none (RFC 3261 §16.6 step 3). At 0 the request must not be forwarded:
    /// [`EditError::TooManyHops`] (a 483).
    pub fn decrement_max_forwards(&mut self) -> Result<u8, EditError> {
        if !self.is_request() {
            return Err(EditError::NotARequest);
        }
        let kind = HeaderKind::MaxForwards;
        match self.first(kind) {
            Some(i) => {
                let n = self.max_forwards().unwrap_or(0);
                let n = n.checked_sub(1).ok_or(EditError::TooManyHops)?;
                self.replace_value(i, n.to_string().as_bytes(), &Value::MaxForwards(n))?;
                Ok(n)
            }
            None => {
                let f = Self::new_field(kind, kind.name(), b"70", Some(&Value::MaxForwards(70)))?;
                let at = self.insert_at(kind);
                self.fields.insert(at, f);
                Ok(70)
            }
        }
    }

    /// Replaces the Request-URI of a request (a URI with `?` headers is refused).
    pub fn set_request_uri(&mut self, uri: Uri) -> Result<(), EditError> {
        let StartLine::Request(r) = &self.start else {
            return Err(EditError::NotARequest);
        };
        let line = format!("{} {} SIP/2.0", r.method, uri);
        let parsed =
            parse_start_line(line.as_bytes()).map_err(|_| EditError::Invalid(HeaderKind::Other))?;
        match &parsed {
            StartLine::Request(p) if p.uri == uri => {}
            _ => return Err(EditError::Invalid(HeaderKind::Other)),
        }
        self.start = parsed;
        self.start_raw = Raw::Owned(line.into_bytes());
        Ok(())
    }

    /// Replaces the body and sets Content-Length to its length (adding the field if absent).
    pub fn set_body(&mut self, body: Vec<u8>) -> Result<(), EditError> {
        let kind = HeaderKind::ContentLength;
        let n = u32::try_from(body.len()).map_err(|_| EditError::Invalid(kind))?;
        let expect = Value::ContentLength(n);
        match self.first(kind) {
            Some(i) => self.replace_value(i, n.to_string().as_bytes(), &expect)?,
            None => {
                let f =
                    Self::new_field(kind, kind.name(), n.to_string().as_bytes(), Some(&expect))?;
                self.fields.push(f);
            }
        }
        self.body = Raw::Owned(body);
        Ok(())
    }

    /// Adds Content-Length where the message has none (a datagram may omit it; a stream may not,
    /// RFC 3261 §18.3).
    pub fn ensure_content_length(&mut self) -> Result<(), EditError> {
        if self.first(HeaderKind::ContentLength).is_some() {
            return Ok(());
        }
        let body = self.body().to_vec();
        self.set_body(body)
    }

    /// Appends a header field at the end. Known fields are parsed and checked like received ones;
    /// the value may not hold CR or LF except in a line fold.
    pub fn append_header(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        let kind = HeaderKind::from_name(name.as_bytes());
        if matches!(
            kind,
            HeaderKind::From
                | HeaderKind::To
                | HeaderKind::CallId
                | HeaderKind::CSeq
                | HeaderKind::Via
        ) {
            return Err(EditError::Protected(kind));
        }
        if kind.is_single() && self.first(kind).is_some() {
            return Err(EditError::Duplicate(kind));
        }
        let f = Self::new_field(kind, name, value, None)?;
        if kind == HeaderKind::Contact
            && (self.contact_star()
                || (matches!(f.typed, Value::Contact(Contacts::Star))
                    && self.first(kind).is_some()))
        {
            return Err(EditError::Invalid(kind));
        }
        self.fields.push(f);
        Ok(())
    }

    /// Removes every header field with that name (long or compact form, any case); returns how
    /// many.
    pub fn remove_headers(&mut self, name: &str) -> Result<usize, EditError> {
        let kind = HeaderKind::from_name(name.as_bytes());
        if matches!(
            kind,
            HeaderKind::From
                | HeaderKind::To
                | HeaderKind::CallId
                | HeaderKind::CSeq
                | HeaderKind::Via
        ) {
            return Err(EditError::Protected(kind));
        }
        let keep: Vec<bool> = self.headers().map(|h| !h.is(name)).collect();
        let before = self.fields.len();
        let mut it = keep.into_iter();
        self.fields.retain(|_| it.next().unwrap_or(true));
        Ok(before - self.fields.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::header::{DisplayName, Transport};
    use crate::sip::uri::{Host, Param, SipUri};

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
v:  SIP/2.0/TLS  10.0.0.5:50612 ;branch=z9hG4bK-top;rport ,\r\n SIP/2.0/TCP p1.example.com;branch=z9hG4bK-mid  ,SIP/2.0/UDP p0.example.com;branch=z9hG4bK-low\r\n\
Via: SIP/2.0/UDP p00.example.com;branch=z9hG4bK-last\r\n\
MaX-fOrWaRdS:   0068\r\n\
Route: <sip:expc.example.com:5061;transport=tls;zone-id=3;directed;lr>, <sip:cucm.example.com;lr>\r\n\
From: Alice <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: abc\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:alice@10.0.0.5:50612;transport=tls;ob>;expires=60 , \"A 2\" <sip:alice@10.0.0.6>\r\n\
Proxy-Authorization: Digest username=\"alice\",\r\n  realm=\"example.com\", response=\"0\"\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 3\r\n\
\r\n\
v=0\r\n";

    fn parse() -> Message {
        Message::parse(INVITE).unwrap()
    }

    fn text(m: &Message) -> String {
        String::from_utf8(m.to_bytes()).unwrap()
    }

    /// The lines of `m` that differ from those of INVITE.
    fn changed_lines(m: &Message) -> Vec<String> {
        let before = String::from_utf8(INVITE.to_vec()).unwrap();
        let before: Vec<&str> = before.split("\r\n").collect();
        text(m)
            .split("\r\n")
            .filter(|l| !before.contains(l))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn unedited_is_identical() {
        let m = parse();
        assert_eq!(m.to_bytes(), INVITE[..INVITE.len() - 2]);
        assert_eq!(m.wire_len(), INVITE.len() - 2);
        // the CRLF after the 3-byte body is not part of the message
        let reparsed = Message::parse(&m.to_bytes()).unwrap();
        assert_eq!(reparsed, m);
    }

    #[test]
    fn push_and_pop_via() {
        let mut m = parse();
        let mine = Via::new(
            Transport::Tls,
            Host::Name("expe.example.com".into()),
            Some(5061),
            "z9hG4bK-e1",
        );
        m.push_via(&mine).unwrap();
        assert_eq!(m.top_via(), Some(&mine));
        assert_eq!(
            changed_lines(&m),
            ["Via: SIP/2.0/TLS expe.example.com:5061;branch=z9hG4bK-e1"]
        );
        assert!(text(&m).starts_with("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TLS expe"));
        assert_eq!(m.pop_via(), Some(mine));
        assert_eq!(m.to_bytes(), INVITE[..INVITE.len() - 2]);
        // popping from a folded multi-value line keeps the rest of it as received
        let top = m.pop_via().unwrap();
        assert_eq!(top.branch(), Some("z9hG4bK-top"));
        assert_eq!(changed_lines(&m), ["v:  SIP/2.0/TCP p1.example.com;branch=z9hG4bK-mid  ,SIP/2.0/UDP p0.example.com;branch=z9hG4bK-low"]);
        assert_eq!(m.pop_via().unwrap().branch(), Some("z9hG4bK-mid"));
        assert_eq!(m.pop_via().unwrap().branch(), Some("z9hG4bK-low"));
        assert!(!text(&m).contains("v:"));
        assert_eq!(m.pop_via().unwrap().branch(), Some("z9hG4bK-last"));
        assert_eq!(m.pop_via(), None);
        assert_eq!(m.top_via(), None);
        assert_eq!(m.edit_top_via(|_| {}), Err(EditError::NoVia));
        // the message still parses but for the missing Via
        assert_eq!(
            Message::parse(&m.to_bytes()),
            Err(crate::sip::Error::MissingHeader(HeaderKind::Via))
        );
    }

    #[test]
    fn received_and_rport() {
        let mut m = parse();
        m.stamp_received("198.51.100.9:61234".parse().unwrap())
            .unwrap();
        let v = m.top_via().unwrap();
        assert_eq!(v.received(), Some("198.51.100.9".parse().unwrap()));
        assert_eq!(v.rport(), Some(Some(61234)));
        assert_eq!(
            changed_lines(&m),
            ["v:  SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-top;rport=61234;received=198.51.100.9, SIP/2.0/TCP p1.example.com;branch=z9hG4bK-mid  ,SIP/2.0/UDP p0.example.com;branch=z9hG4bK-low"]
        );
        // the same source again changes nothing
        let before = m.to_bytes();
        m.stamp_received("198.51.100.9:61234".parse().unwrap())
            .unwrap();
        assert_eq!(m.to_bytes(), before);
        // sent-by is the source and no rport: nothing to add (RFC 3261 §18.2.1)
        let mut m = Message::parse(INVITE).unwrap();
        m.edit_top_via(|v| {
            v.remove_param("rport");
        })
        .unwrap();
        let before = m.to_bytes();
        m.stamp_received("[::ffff:10.0.0.5]:50612".parse().unwrap())
            .unwrap();
        assert_eq!(m.to_bytes(), before);
        m.stamp_received("[2001:db8::7]:5061".parse().unwrap())
            .unwrap();
        assert_eq!(
            m.top_via().unwrap().received(),
            Some("2001:db8::7".parse().unwrap())
        );
        assert!(text(&m).contains(";received=2001:db8::7"));
    }

    #[test]
    fn invalid_edits_change_nothing() {
        let mut m = parse();
        let before = m.clone();
        assert_eq!(
            m.edit_top_via(|v| v.set_param("bad name", None)),
            Err(EditError::Invalid(HeaderKind::Via))
        );
        assert_eq!(
            m.edit_top_via(|v| v.set_param("x", Some("a\r\nInjected: 1"))),
            Err(EditError::Invalid(HeaderKind::Via))
        );
        let mut rr = NameAddr::new(Uri::Sip(SipUri::new(Host::Name("expe.example.com".into()))));
        rr.display = Some(DisplayName::Quoted("a\r\nb".into()));
        assert_eq!(
            m.add_record_route(&rr),
            Err(EditError::Invalid(HeaderKind::RecordRoute))
        );
        assert_eq!(
            m.edit_contacts(|c| c.set_param("q", Some("2"))),
            Err(EditError::Invalid(HeaderKind::Contact))
        );
        assert_eq!(
            m.append_header("X-Bad", b"a\r\nInjected: 1"),
            Err(EditError::Invalid(HeaderKind::Other))
        );
        assert_eq!(
            m.append_header("Bad Name", b"a"),
            Err(EditError::Invalid(HeaderKind::Other))
        );
        assert_eq!(
            m.append_header("Content-Length", b"4"),
            Err(EditError::Duplicate(HeaderKind::ContentLength))
        );
        assert_eq!(
            m.append_header("i", b"x"),
            Err(EditError::Protected(HeaderKind::CallId))
        );
        assert_eq!(
            m.append_header("Expires", b"soon"),
            Err(EditError::Invalid(HeaderKind::Expires))
        );
        assert_eq!(
            m.remove_headers("f"),
            Err(EditError::Protected(HeaderKind::From))
        );
        assert_eq!(m, before);
    }

    #[test]
    fn record_route_path_and_route() {
        let mut m = parse();
        let mut uri = SipUri::new(Host::Name("expe.example.com".into()));
        uri.port = Some(5061);
        uri.params = vec![Param::with_value("transport", "tls"), Param::flag("lr")];
        let me = NameAddr::new(Uri::Sip(uri));
        m.add_record_route(&me).unwrap();
        m.add_path(&me).unwrap();
        m.push_route(&me).unwrap();
        assert_eq!(m.record_routes().collect::<Vec<_>>(), [&me]);
        assert_eq!(m.paths().next(), Some(&me));
        assert_eq!(m.routes().next(), Some(&me));
        assert_eq!(m.routes().count(), 3);
        let mut lines = changed_lines(&m);
        lines.sort();
        assert_eq!(
            lines,
            [
                "Path: <sip:expe.example.com:5061;transport=tls;lr>",
                "Record-Route: <sip:expe.example.com:5061;transport=tls;lr>",
                "Route: <sip:expe.example.com:5061;transport=tls;lr>",
            ]
        );
        // Record-Route and Path go below the Via fields, Route above the other Routes
        let t = text(&m);
        let pos = |s: &str| t.find(s).unwrap();
        assert!(pos("Via: SIP/2.0/UDP p00") < pos("Record-Route:"));
        assert!(pos("Route: <sip:expe") < pos("Route: <sip:expc"));
        assert_eq!(m.pop_route(), Some(me));
        let expc = m.pop_route().unwrap();
        assert!(expc.uri.as_sip().unwrap().has_param("directed"));
        assert!(text(&m).contains("\r\nRoute: <sip:cucm.example.com;lr>\r\n"));
        assert!(m.pop_route().is_some());
        assert_eq!(m.pop_route(), None);
        assert_eq!(Message::parse(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn contacts_and_max_forwards() {
        let mut m = parse();
        let n = m
            .edit_contacts(|c| {
                if c.ob() {
                    if let Some(u) = c.uri.as_sip_mut() {
                        u.host = Host::Name("expc.example.com".into());
                        u.port = Some(5061);
                        u.set_param("orig-hostport", Some("10.0.0.5:50612"));
                    }
                }
            })
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            changed_lines(&m),
            ["m: <sip:alice@expc.example.com:5061;transport=tls;ob;orig-hostport=10.0.0.5:50612>;expires=60, \"A 2\" <sip:alice@10.0.0.6>"]
        );
        assert_eq!(m.edit_contacts(|_| {}), Ok(0));
        assert_eq!(m.decrement_max_forwards(), Ok(67));
        assert_eq!(m.max_forwards(), Some(67));
        assert!(text(&m).contains("\r\nMaX-fOrWaRdS:   67\r\n"));
        let mut z = Message::parse(
            &text(&m)
                .replace("MaX-fOrWaRdS:   67", "Max-Forwards: 0")
                .into_bytes(),
        )
        .unwrap();
        assert_eq!(z.decrement_max_forwards(), Err(EditError::TooManyHops));
        assert!(z.remove_headers("max-forwards").unwrap() == 1);
        assert_eq!(z.decrement_max_forwards(), Ok(70));
        assert_eq!(z.max_forwards(), Some(70));
        let resp = Message::parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h.example.com;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            resp.unwrap().decrement_max_forwards(),
            Err(EditError::NotARequest)
        );
    }

    #[test]
    fn request_uri_body_and_generic_headers() {
        let mut m = parse();
        m.set_request_uri("sip:bob@10.1.1.1:5060;transport=tcp".parse().unwrap())
            .unwrap();
        assert_eq!(
            changed_lines(&m),
            ["INVITE sip:bob@10.1.1.1:5060;transport=tcp SIP/2.0"]
        );
        assert_eq!(
            m.set_request_uri("sip:a@example.com?x=y".parse().unwrap()),
            Err(EditError::Invalid(HeaderKind::Other))
        );
        m.set_body(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n".to_vec())
            .unwrap();
        assert_eq!(m.content_length(), Some(31));
        assert!(text(&m).contains("\r\nContent-Length: 31\r\n\r\nv=0\r\no=-"));
        assert_eq!(m.remove_headers("Proxy-Authorization"), Ok(1));
        assert_eq!(m.remove_headers("content-type"), Ok(1));
        assert_eq!(m.remove_headers("X-None"), Ok(0));
        m.append_header("X-Cisco-Thing", b"anything ;;,, at all")
            .unwrap();
        assert_eq!(
            m.header("x-cisco-thing"),
            Some(&b"anything ;;,, at all"[..])
        );
        m.append_header("Record-Route", b"<sip:p.example.com;lr>")
            .unwrap();
        assert_eq!(m.record_routes().count(), 1);
        let again = Message::parse(&m.to_bytes()).unwrap();
        assert_eq!(again.to_bytes(), m.to_bytes());
        assert_eq!(again.body(), m.body());
        // a datagram without Content-Length gains one before going onto a stream
        let mut d = Message::parse(b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\nxy").unwrap();
        d.ensure_content_length().unwrap();
        assert!(text(&d).ends_with("Content-Length: 2\r\n\r\nxy"));
        d.ensure_content_length().unwrap();
        assert_eq!(d.content_length(), Some(2));
    }
}
