//! Header fields: their names (long and compact forms, RFC 3261 §7.3.3 and the registrations
//! after it) and typed values of the ones a proxy must understand.
//!
//! [`parse_value`] reads the value of one header field, as it lies in the message (line folds
//! included), into a [`Value`]:
//!
//! | header field | value |
//! |---|---|
//! | Via (`v`) | [`Value::Via`]: sent-protocol, sent-by, `branch`, `received`, `rport`, `maddr`, `ttl` |
//! | From (`f`), To (`t`) | [`Value::NameAddr`]: display name, URI, parameters (`tag`) |
//! | Call-ID (`i`) | [`Value::CallId`] |
//! | CSeq | [`Value::CSeq`] |
//! | Max-Forwards | [`Value::MaxForwards`] (0 to 255) |
//! | Contact (`m`) | [`Value::Contact`]: `*`, or with `expires`, `q`, `+sip.instance`, `reg-id` |
//! | Route, Record-Route, Path | [`Value::Routes`]: name-addrs, each in `<>` |
//! | Supported (`k`), Require, Proxy-Require, Unsupported | [`Value::OptionTags`] |
//! | Expires | [`Value::Expires`] |
//! | Content-Length (`l`) | [`Value::ContentLength`] |
//! | Content-Type (`c`) | [`Value::ContentType`] |
//! | everything else | [`Value::Other`]: the field stays raw bytes and is forwarded untouched |
//!
//! Comma-separated values of the list headers may come in one field or in several; the message
//! keeps the fields as they came. Numbers are checked against their ranges: CSeq and Expires
//! values over 2^32-1 and Max-Forwards over 255 are malformed (RFC 4475 §3.1.2.4).
//!
//! Tolerated beyond the letter of the grammar: no white space between a display name of tokens
//! and `<` (RFC 4475 §3.1.1.6 calls that a specification bug); `:` in an unquoted parameter value
//! (`received=2001:db8::9:255` needs it, RFC 5118 §4.5, and so do `host:port` values some
//! equipment puts in parameters); a Via `received` written as an IPv6 reference (RFC 5118 §4.5).

use core::fmt;
use core::ops::Range;
use std::net::IpAddr;

use super::error::Error;
use super::lex::{self, Cursor};
use super::message::Method;
use super::uri::{self, Host, Param, Uri, UriError};

/// Header fields known by name. Those listed in the module docs have typed values; the others
/// are known so that their compact forms and spelling variants are found by name, and so that an
/// error can name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderKind {
    /// `Via`, `v`.
    Via,
    /// `From`, `f`.
    From,
    /// `To`, `t`.
    To,
    /// `Call-ID`, `i`.
    CallId,
    /// `CSeq`.
    CSeq,
    /// `Max-Forwards`.
    MaxForwards,
    /// `Contact`, `m`.
    Contact,
    /// `Route`.
    Route,
    /// `Record-Route`.
    RecordRoute,
    /// `Path` (RFC 3327).
    Path,
    /// `Supported`, `k`.
    Supported,
    /// `Require`.
    Require,
    /// `Proxy-Require`.
    ProxyRequire,
    /// `Unsupported`.
    Unsupported,
    /// `Expires`.
    Expires,
    /// `Content-Length`, `l`.
    ContentLength,
    /// `Content-Type`, `c`.
    ContentType,
    /// `Content-Encoding`, `e`.
    ContentEncoding,
    /// `Subject`, `s`.
    Subject,
    /// `Event`, `o` (RFC 6665).
    Event,
    /// `Allow-Events`, `u` (RFC 6665).
    AllowEvents,
    /// `Refer-To`, `r` (RFC 3515).
    ReferTo,
    /// `Referred-By`, `b` (RFC 3892).
    ReferredBy,
    /// `Session-Expires`, `x` (RFC 4028).
    SessionExpires,
    /// `Accept-Contact`, `a` (RFC 3841).
    AcceptContact,
    /// `Reject-Contact`, `j` (RFC 3841).
    RejectContact,
    /// `Request-Disposition`, `d` (RFC 3841).
    RequestDisposition,
    /// `Identity`, `y` (RFC 8224).
    Identity,
    /// `Identity-Info`, `n` (RFC 4474).
    IdentityInfo,
    /// `WWW-Authenticate`: passed through untouched.
    WwwAuthenticate,
    /// `Authorization`: passed through untouched.
    Authorization,
    /// `Proxy-Authenticate`: passed through untouched.
    ProxyAuthenticate,
    /// `Proxy-Authorization`: passed through untouched.
    ProxyAuthorization,
    /// Any other name.
    Other,
}

/// (kind, canonical name, compact form)
const NAMES: &[(HeaderKind, &str, Option<u8>)] = &[
    (HeaderKind::Via, "Via", Some(b'v')),
    (HeaderKind::From, "From", Some(b'f')),
    (HeaderKind::To, "To", Some(b't')),
    (HeaderKind::CallId, "Call-ID", Some(b'i')),
    (HeaderKind::CSeq, "CSeq", None),
    (HeaderKind::MaxForwards, "Max-Forwards", None),
    (HeaderKind::Contact, "Contact", Some(b'm')),
    (HeaderKind::Route, "Route", None),
    (HeaderKind::RecordRoute, "Record-Route", None),
    (HeaderKind::Path, "Path", None),
    (HeaderKind::Supported, "Supported", Some(b'k')),
    (HeaderKind::Require, "Require", None),
    (HeaderKind::ProxyRequire, "Proxy-Require", None),
    (HeaderKind::Unsupported, "Unsupported", None),
    (HeaderKind::Expires, "Expires", None),
    (HeaderKind::ContentLength, "Content-Length", Some(b'l')),
    (HeaderKind::ContentType, "Content-Type", Some(b'c')),
    (HeaderKind::ContentEncoding, "Content-Encoding", Some(b'e')),
    (HeaderKind::Subject, "Subject", Some(b's')),
    (HeaderKind::Event, "Event", Some(b'o')),
    (HeaderKind::AllowEvents, "Allow-Events", Some(b'u')),
    (HeaderKind::ReferTo, "Refer-To", Some(b'r')),
    (HeaderKind::ReferredBy, "Referred-By", Some(b'b')),
    (HeaderKind::SessionExpires, "Session-Expires", Some(b'x')),
    (HeaderKind::AcceptContact, "Accept-Contact", Some(b'a')),
    (HeaderKind::RejectContact, "Reject-Contact", Some(b'j')),
    (
        HeaderKind::RequestDisposition,
        "Request-Disposition",
        Some(b'd'),
    ),
    (HeaderKind::Identity, "Identity", Some(b'y')),
    (HeaderKind::IdentityInfo, "Identity-Info", Some(b'n')),
    (HeaderKind::WwwAuthenticate, "WWW-Authenticate", None),
    (HeaderKind::Authorization, "Authorization", None),
    (HeaderKind::ProxyAuthenticate, "Proxy-Authenticate", None),
    (HeaderKind::ProxyAuthorization, "Proxy-Authorization", None),
];

impl HeaderKind {
    /// The kind of a header field name, long or compact form, in any letter case.
    pub fn from_name(name: &[u8]) -> HeaderKind {
        let found = if let [c] = name {
            NAMES
                .iter()
                .find(|(_, _, short)| *short == Some(c.to_ascii_lowercase()))
        } else {
            NAMES
                .iter()
                .find(|(_, long, _)| long.as_bytes().eq_ignore_ascii_case(name))
        };
        found.map_or(HeaderKind::Other, |(k, _, _)| *k)
    }

    /// The canonical long name (`Call-ID`); `""` for [`HeaderKind::Other`].
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("", |(_, long, _)| long)
    }

    /// The compact form, if the header field has one.
    pub fn compact(self) -> Option<char> {
        NAMES
            .iter()
            .find(|(k, _, _)| *k == self)
            .and_then(|(_, _, c)| c.map(char::from))
    }

    /// Header fields that take exactly one value and may appear once.
    pub(crate) const fn is_single(self) -> bool {
        matches!(
            self,
            HeaderKind::From
                | HeaderKind::To
                | HeaderKind::CallId
                | HeaderKind::CSeq
                | HeaderKind::MaxForwards
                | HeaderKind::Expires
                | HeaderKind::ContentLength
                | HeaderKind::ContentType
        )
    }
}

impl fmt::Display for HeaderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderKind::Other => "extension",
            k => k.name(),
        })
    }
}

/// The transport of a Via value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `UDP`.
    Udp,
    /// `TCP`.
    Tcp,
    /// `TLS`.
    Tls,
    /// `SCTP`.
    Sctp,
    /// `TLS-SCTP` (RFC 4168).
    TlsSctp,
    /// `WS` (RFC 7118).
    Ws,
    /// `WSS` (RFC 7118).
    Wss,
    /// Any other token, as written.
    Other(String),
}

impl Transport {
    fn from_token(t: &[u8]) -> Transport {
        const KNOWN: &[(&str, Transport)] = &[
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("TLS-SCTP", Transport::TlsSctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        KNOWN
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(t))
            .map_or_else(|| Transport::Other(ascii(t)), |(_, k)| k.clone())
    }

    /// The token as written in a Via.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::TlsSctp => "TLS-SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(t) => t,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Via value (RFC 3261 §20.42, RFC 3581 for `rport`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Via {
    /// The protocol name, `SIP`.
    pub protocol: String,
    /// The protocol version, `2.0`.
    pub version: String,
    /// The transport.
    pub transport: Transport,
    /// The sent-by host.
    pub host: Host,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// The parameters in order, `branch`, `received` and `rport` among them.
    pub params: Vec<Param>,
}

/// The branch prefix of RFC 3261 transaction identifiers (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    /// `SIP/2.0/<transport> <host>[:<port>];branch=<branch>`.
    pub fn new(transport: Transport, host: Host, port: Option<u16>, branch: &str) -> Self {
        Self {
            protocol: "SIP".into(),
            version: "2.0".into(),
            transport,
            host,
            port,
            params: vec![Param::with_value("branch", branch)],
        }
    }

    /// The first parameter of that name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        uri::find_param(&self.params, name)
    }

    /// Sets a parameter (replacing the first of that name) or appends it.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        uri::set_param(&mut self.params, name, value);
    }

    /// Removes every parameter of that name; says whether there was one.
    pub fn remove_param(&mut self, name: &str) -> bool {
        uri::remove_param(&mut self.params, name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.param(name).and_then(|p| p.value.as_deref())
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.value("branch")
    }

    /// Whether the branch is an RFC 3261 transaction identifier: the magic cookie and at least one
    /// more character (RFC 4475 §3.2.1 has a bare cookie).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` address (with or without brackets around IPv6).
    pub fn received(&self) -> Option<IpAddr> {
        self.value("received")
            .and_then(|v| uri::parse_ip_param(v.as_bytes()))
    }

    /// `None` without `rport`, `Some(None)` for a bare `rport` (the client asks for it),
    /// `Some(Some(port))` once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport")
            .map(|p| p.value.as_deref().and_then(|v| v.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.value("maddr")
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.value("ttl").and_then(|v| v.parse().ok())
    }

    fn check(&self) -> bool {
        self.params.iter().all(|p| {
            let v = p.value.as_deref().map(str::as_bytes);
            if p.is("branch") {
                v.is_some_and(lex::is_token_str)
            } else if p.is("received") {
                v.and_then(uri::parse_ip_param).is_some()
            } else if p.is("rport") {
                v.is_none_or(|v| v.len() <= 5 && lex::parse_u32(v).is_some_and(|n| n <= 65535))
            } else if p.is("maddr") {
                v.is_some_and(|v| uri::parse_host(v).is_ok())
            } else if p.is("ttl") {
                v.is_some_and(|v| v.len() <= 3 && lex::parse_u32(v).is_some_and(|n| n <= 255))
            } else {
                true
            }
        })
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        uri::write_params(f, &self.params)
    }
}

/// The display name of a name-addr.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DisplayName {
    /// Tokens separated by white space, as written (`token1~` token2'+_`).
    Tokens(String),
    /// A quoted string: the text between the quotes, escapes kept (`J Rosenberg \\\"`).
    Quoted(String),
}

impl DisplayName {
    /// The text the display name stands for: quoted-pair escapes undone, line folds removed.
    pub fn text(&self) -> String {
        match self {
            DisplayName::Tokens(t) => t.replace("\r\n", ""),
            DisplayName::Quoted(q) => lex::unquote(q),
        }
    }

    /// A quoted display name for `text`, escaping `"` and `\`. `None` if the text holds a CR, LF
    /// or another control character a quoted string cannot carry.
    pub fn quote(text: &str) -> Option<DisplayName> {
        let mut q = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '"' | '\\' => {
                    q.push('\\');
                    q.push(c);
                }
                '\t' | ' '..='~' => q.push(c),
                c if !c.is_ascii() => q.push(c),
                _ => return None,
            }
        }
        Some(DisplayName::Quoted(q))
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisplayName::Tokens(t) => f.write_str(t),
            DisplayName::Quoted(q) => write!(f, "\"{q}\""),
        }
    }
}

/// A name-addr or addr-spec with header parameters: the value of From, To, Contact, Route,
/// Record-Route and Path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// The display name.
    pub display: Option<DisplayName>,
    /// The URI.
    pub uri: Uri,
    /// Whether the URI was written in `<>` (name-addr) rather than bare (addr-spec). Written
    /// values use `<>` whenever the URI or a display name needs it.
    pub angle: bool,
    /// The header parameters in order (`tag`, `expires`, `q`, …), not the URI's.
    pub params: Vec<Param>,
}

impl NameAddr {
    /// `<uri>` without display name or parameters.
    pub fn new(uri: Uri) -> Self {
        Self {
            display: None,
            uri,
            angle: true,
            params: Vec::new(),
        }
    }

    /// The first header parameter of that name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        uri::find_param(&self.params, name)
    }

    /// Sets a header parameter (replacing the first of that name) or appends it.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        uri::set_param(&mut self.params, name, value);
    }

    /// Removes every header parameter of that name; says whether there was one.
    pub fn remove_param(&mut self, name: &str) -> bool {
        uri::remove_param(&mut self.params, name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.param(name).and_then(|p| p.value.as_deref())
    }

    /// The `tag` parameter (From, To).
    pub fn tag(&self) -> Option<&str> {
        self.value("tag")
    }

    /// The Contact `q` value in thousandths (`q=0.33` is 330).
    pub fn q(&self) -> Option<u16> {
        self.value("q").and_then(|v| qvalue(v.as_bytes()))
    }

    /// The Contact `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        self.value("expires")
            .and_then(|v| lex::parse_u32(v.as_bytes()))
    }

    /// The Contact `+sip.instance` value without its quotes (`<urn:uuid:…>`, RFC 5626 §4.1).
    pub fn instance(&self) -> Option<&str> {
        self.value("+sip.instance")
            .map(|v| v.trim_start_matches('"').trim_end_matches('"'))
    }

    /// The Contact `reg-id` parameter (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Option<u32> {
        self.value("reg-id")
            .and_then(|v| lex::parse_u32(v.as_bytes()))
    }

    /// Whether the URI carries `;ob` (RFC 5626 §5.4).
    pub fn ob(&self) -> bool {
        self.uri.as_sip().is_some_and(|u| u.ob())
    }

    fn needs_angle(&self) -> bool {
        self.angle
            || self.display.is_some()
            || self
                .uri
                .to_string()
                .bytes()
                .any(|b| matches!(b, b';' | b',' | b'?'))
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.needs_angle() {
            if let Some(d) = &self.display {
                write!(f, "{d} ")?;
            }
            write!(f, "<{}>", self.uri)?;
        } else {
            write!(f, "{}", self.uri)?;
        }
        uri::write_params(f, &self.params)
    }
}

/// The value of Contact header fields: `*` (remove all bindings) or contacts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Contacts {
    /// `Contact: *`.
    Star,
    /// One or more contacts.
    List(Vec<NameAddr>),
}

impl fmt::Display for Contacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contacts::Star => f.write_str("*"),
            Contacts::List(l) => write_list(f, l),
        }
    }
}

fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// The CSeq value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number.
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// A Content-Type value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaType {
    /// The type (`application`).
    pub kind: String,
    /// The subtype (`sdp`).
    pub subtype: String,
    /// The parameters in order; quoted values keep their quotes.
    pub params: Vec<Param>,
}

impl MediaType {
    /// Whether this is `kind/subtype` (ASCII case-insensitive).
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.subtype)?;
        uri::write_params(f, &self.params)
    }
}

/// The typed value of one header field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Value {
    /// Via values.
    Via(Vec<Via>),
    /// From or To.
    NameAddr(NameAddr),
    /// Call-ID.
    CallId(String),
    /// CSeq.
    CSeq(CSeq),
    /// Max-Forwards.
    MaxForwards(u8),
    /// Contact values.
    Contact(Contacts),
    /// Route, Record-Route or Path values.
    Routes(Vec<NameAddr>),
    /// Supported, Require, Proxy-Require or Unsupported option tags (Supported may be empty).
    OptionTags(Vec<String>),
    /// Expires.
    Expires(u32),
    /// Content-Length.
    ContentLength(u32),
    /// Content-Type.
    ContentType(MediaType),
    /// A header field this layer does not interpret: its bytes are kept as received.
    Other,
}

impl fmt::Display for Value {
    /// The canonical text of the value ([`Value::Other`] writes nothing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Via(v) => write_list(f, v),
            Value::NameAddr(n) => n.fmt(f),
            Value::CallId(c) => f.write_str(c),
            Value::CSeq(c) => c.fmt(f),
            Value::MaxForwards(n) => n.fmt(f),
            Value::Contact(c) => c.fmt(f),
            Value::Routes(r) => write_list(f, r),
            Value::OptionTags(t) => write_list(f, t),
            Value::Expires(n) | Value::ContentLength(n) => n.fmt(f),
            Value::ContentType(m) => m.fmt(f),
            Value::Other => Ok(()),
        }
    }
}

/// Parses the value of a header field of that kind (the bytes after the colon; white space and
/// line folds around and inside are allowed where the grammar has LWS).
pub fn parse_value(kind: HeaderKind, value: &[u8]) -> Result<Value, Error> {
    parse_value_spans(kind, value).map(|(v, _)| v)
}

/// [`parse_value`], and for the list values the byte range of each element in `value`.
pub(crate) fn parse_value_spans(
    kind: HeaderKind,
    value: &[u8],
) -> Result<(Value, Vec<Range<usize>>), Error> {
    let bad = Error::BadHeader(kind);
    let single = |v| Ok((v, Vec::new()));
    match kind {
        HeaderKind::Via => {
            let (v, s) = list(value, kind, false, via)?;
            Ok((Value::Via(v), s))
        }
        HeaderKind::From | HeaderKind::To => {
            let mut c = Cursor::new(value);
            c.skip_sws();
            let n = name_addr(&mut c, kind, true)?;
            if !finished(&mut c) {
                return Err(bad);
            }
            if n.param("tag").is_some_and(|p| {
                !p.value
                    .as_deref()
                    .is_some_and(|v| lex::is_token_str(v.as_bytes()))
            }) {
                return Err(bad);
            }
            single(Value::NameAddr(n))
        }
        HeaderKind::CallId => {
            let v = lex::trim(value);
            let ok = match v.iter().position(|&b| b == b'@') {
                Some(i) => {
                    let (a, b) = (
                        v.get(..i).unwrap_or_default(),
                        v.get(i + 1..).unwrap_or_default(),
                    );
                    is_word_str(a) && is_word_str(b)
                }
                None => is_word_str(v),
            };
            if !ok {
                return Err(bad);
            }
            single(Value::CallId(ascii(v)))
        }
        HeaderKind::CSeq => {
            let mut c = Cursor::new(value);
            c.skip_sws();
            let seq = lex::parse_u32(c.take_while(|b| b.is_ascii_digit())).ok_or(bad)?;
            if !c.skip_sws() {
                return Err(bad);
            }
            let method = Method::from_token(c.token().ok_or(bad)?);
            if !finished(&mut c) {
                return Err(bad);
            }
            single(Value::CSeq(CSeq { seq, method }))
        }
        HeaderKind::MaxForwards => {
            let n = lex::content_length(value)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or(bad)?;
            single(Value::MaxForwards(n))
        }
        HeaderKind::Expires => single(Value::Expires(lex::content_length(value).ok_or(bad)?)),
        HeaderKind::ContentLength => {
            single(Value::ContentLength(lex::content_length(value).ok_or(bad)?))
        }
        HeaderKind::ContentType => {
            let mut c = Cursor::new(value);
            c.skip_sws();
            let t = c.token().ok_or(bad)?;
            if !c.sep(b'/') {
                return Err(bad);
            }
            let s = c.token().ok_or(bad)?;
            let mut params = Vec::new();
            while c.sep(b';') {
                let name = c.token().ok_or(bad)?;
                if !c.sep(b'=') {
                    return Err(bad);
                }
                let start = c.pos();
                if c.quoted().is_none() && c.token().is_none() {
                    return Err(bad);
                }
                let v = utf8(c.since(start), kind)?;
                params.push(Param {
                    name: ascii(name),
                    value: Some(v),
                });
            }
            if !finished(&mut c) {
                return Err(bad);
            }
            single(Value::ContentType(MediaType {
                kind: ascii(t),
                subtype: ascii(s),
                params,
            }))
        }
        HeaderKind::Contact => {
            let t = lex::trim(value);
            if t == b"*" {
                return single(Value::Contact(Contacts::Star));
            }
            let (v, s) = list(value, kind, false, |c| {
                let n = name_addr(c, kind, true)?;
                let ok = n.params.iter().all(|p| {
                    let v = p.value.as_deref().map(str::as_bytes);
                    if p.is("q") {
                        v.and_then(qvalue).is_some()
                    } else if p.is("expires") || p.is("reg-id") {
                        v.and_then(lex::parse_u32).is_some()
                    } else if p.is("+sip.instance") {
                        v.is_some_and(|v| {
                            v.len() >= 2 && v.starts_with(b"\"") && v.ends_with(b"\"")
                        })
                    } else {
                        true
                    }
                });
                if ok {
                    Ok(n)
                } else {
                    Err(bad)
                }
            })?;
            Ok((Value::Contact(Contacts::List(v)), s))
        }
        HeaderKind::Route | HeaderKind::RecordRoute | HeaderKind::Path => {
            let (v, s) = list(value, kind, false, |c| name_addr(c, kind, false))?;
            Ok((Value::Routes(v), s))
        }
        HeaderKind::Supported
        | HeaderKind::Require
        | HeaderKind::ProxyRequire
        | HeaderKind::Unsupported => {
            let (v, s) = list(value, kind, kind == HeaderKind::Supported, |c| {
                c.token().map(ascii).ok_or(bad)
            })?;
            Ok((Value::OptionTags(v), s))
        }
        _ => single(Value::Other),
    }
}

fn ascii(s: &[u8]) -> String {
    // callers pass bytes the grammar checks have limited to ASCII
    String::from_utf8_lossy(s).into_owned()
}

fn utf8(s: &[u8], kind: HeaderKind) -> Result<String, Error> {
    String::from_utf8(s.to_vec()).map_err(|_| Error::BadHeader(kind))
}

fn is_word_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| lex::is_word(b))
}

/// Trailing white space, then the end.
fn finished(c: &mut Cursor<'_>) -> bool {
    c.skip_sws();
    c.at_end()
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (v.get(..i)?, v.get(i + 1..)?),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Comma-separated elements, each parsed by `one`, which stops right after its last byte.
fn list<T>(
    value: &[u8],
    kind: HeaderKind,
    allow_empty: bool,
    mut one: impl FnMut(&mut Cursor<'_>) -> Result<T, Error>,
) -> Result<(Vec<T>, Vec<Range<usize>>), Error> {
    let mut c = Cursor::new(value);
    let (mut items, mut spans) = (Vec::new(), Vec::new());
    c.skip_sws();
    if c.at_end() {
        return if allow_empty {
            Ok((items, spans))
        } else {
            Err(Error::BadHeader(kind))
        };
    }
    loop {
        let start = c.pos();
        items.push(one(&mut c)?);
        spans.push(start..c.pos());
        if !c.sep(b',') {
            break;
        }
    }
    if finished(&mut c) {
        Ok((items, spans))
    } else {
        Err(Error::BadHeader(kind))
    }
}

/// A host at the cursor: an IPv6 reference or a run of host name characters.
fn host_at(c: &mut Cursor<'_>) -> Result<Host, UriError> {
    let start = c.pos();
    if c.eat(b'[') {
        c.take_while(|b| b != b']');
        if !c.eat(b']') {
            return Err(UriError::Host);
        }
    } else {
        c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    }
    uri::parse_host(c.since(start))
}

/// `*( SEMI generic-param )`, `generic-param = token [ EQUAL gen-value ]`,
/// `gen-value = token / host / quoted-string`.
fn header_params(c: &mut Cursor<'_>, kind: HeaderKind) -> Result<Vec<Param>, Error> {
    let bad = Error::BadHeader(kind);
    let mut params = Vec::new();
    while c.sep(b';') {
        let name = c.token().ok_or(bad)?;
        let value = if c.sep(b'=') {
            let start = c.pos();
            if c.quoted().is_none() {
                if c.eat(b'[') {
                    let inner = c.take_while(|b| b != b']');
                    if !c.eat(b']') || uri::parse_ipv6(inner).is_none() {
                        return Err(bad);
                    }
                } else if c.take_while(|b| lex::is_token(b) || b == b':').is_empty() {
                    return Err(bad);
                }
            }
            Some(utf8(c.since(start), kind)?)
        } else {
            None
        };
        params.push(Param {
            name: ascii(name),
            value,
        });
    }
    Ok(params)
}

/// `via-parm = sent-protocol LWS sent-by *( SEMI via-params )`.
fn via(c: &mut Cursor<'_>) -> Result<Via, Error> {
    let kind = HeaderKind::Via;
    let bad = Error::BadHeader(kind);
    let protocol = c.token().ok_or(bad)?;
    if !c.sep(b'/') {
        return Err(bad);
    }
    let version = c.token().ok_or(bad)?;
    if !c.sep(b'/') {
        return Err(bad);
    }
    let transport = Transport::from_token(c.token().ok_or(bad)?);
    if !c.skip_sws() {
        return Err(bad);
    }
    let host = host_at(c).map_err(|e| Error::BadUri(kind, e))?;
    let mut port = None;
    if c.sep(b':') {
        let digits = c.take_while(|b| b.is_ascii_digit());
        let p = (digits.len() <= 5)
            .then(|| lex::parse_u32(digits))
            .flatten();
        port = Some(
            p.and_then(|p| u16::try_from(p).ok())
                .ok_or(Error::BadUri(kind, UriError::Port))?,
        );
    }
    let params = header_params(c, kind)?;
    let v = Via {
        protocol: ascii(protocol),
        version: ascii(version),
        transport,
        host,
        port,
        params,
    };
    if v.check() {
        Ok(v)
    } else {
        Err(bad)
    }
}

/// `(name-addr / addr-spec) *( SEMI generic-param )`; addr-spec only where `addr_spec` allows.
fn name_addr(c: &mut Cursor<'_>, kind: HeaderKind, addr_spec: bool) -> Result<NameAddr, Error> {
    let bad = Error::BadHeader(kind);
    let start = c.pos();
    let mut display = None;
    let angle = if c.peek() == Some(b'"') {
        let q = c.quoted().ok_or(bad)?;
        display = Some(DisplayName::Quoted(utf8(q, kind)?));
        c.skip_sws();
        if !c.eat(b'<') {
            return Err(bad);
        }
        true
    } else if c.eat(b'<') {
        true
    } else {
        // display-name = *(token LWS), then "<"; anything else is an addr-spec
        let mut end = None;
        while c.token().is_some() {
            end = Some(c.pos());
            c.skip_sws();
        }
        match end {
            Some(end) if c.eat(b'<') => {
                let tokens = c.since(start).get(..end - start).unwrap_or_default();
                display = Some(DisplayName::Tokens(ascii(tokens)));
                true
            }
            // tokens not followed by "<" are an addr-spec only if the first is a scheme
            Some(_) => {
                c.set_pos(start);
                c.token();
                if c.peek() != Some(b':') {
                    return Err(bad);
                }
                c.set_pos(start);
                false
            }
            None => {
                c.set_pos(start);
                false
            }
        }
    };
    let uri = if angle {
        let u = c.take_while(|b| b != b'>');
        if !c.eat(b'>') {
            return Err(bad);
        }
        Uri::parse(u).map_err(|e| Error::BadUri(kind, e))?
    } else {
        if !addr_spec {
            return Err(bad);
        }
        let u = c.take_while(|b| !lex::is_wsp(b) && !matches!(b, b';' | b',' | b'\r'));
        if u.contains(&b'?') {
            return Err(Error::BadUri(kind, UriError::HeadersNotAllowed));
        }
        Uri::parse(u).map_err(|e| Error::BadUri(kind, e))?
    };
    let params = header_params(c, kind)?;
    Ok(NameAddr {
        display,
        uri,
        angle,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::uri::SipUri;

    fn value(kind: HeaderKind, s: &[u8]) -> Value {
        parse_value(kind, s).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(s)))
    }

    fn vias(s: &[u8]) -> Vec<Via> {
        match value(HeaderKind::Via, s) {
            Value::Via(v) => v,
            v => panic!("{v:?}"),
        }
    }

    fn name_addr(kind: HeaderKind, s: &[u8]) -> NameAddr {
        match value(kind, s) {
            Value::NameAddr(n) => n,
            v => panic!("{v:?}"),
        }
    }

    fn contacts(s: &[u8]) -> Vec<NameAddr> {
        match value(HeaderKind::Contact, s) {
            Value::Contact(Contacts::List(l)) => l,
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn names_and_compact_forms() {
        for (short, kind) in [
            ("v", HeaderKind::Via),
            ("f", HeaderKind::From),
            ("t", HeaderKind::To),
            ("i", HeaderKind::CallId),
            ("m", HeaderKind::Contact),
            ("l", HeaderKind::ContentLength),
            ("c", HeaderKind::ContentType),
            ("k", HeaderKind::Supported),
            ("s", HeaderKind::Subject),
            ("e", HeaderKind::ContentEncoding),
            ("o", HeaderKind::Event),
        ] {
            assert_eq!(HeaderKind::from_name(short.as_bytes()), kind);
            assert_eq!(HeaderKind::from_name(short.to_uppercase().as_bytes()), kind);
            assert_eq!(kind.compact(), short.chars().next());
            assert_eq!(HeaderKind::from_name(kind.name().as_bytes()), kind);
        }
        assert_eq!(
            HeaderKind::from_name(b"MaX-fOrWaRdS"),
            HeaderKind::MaxForwards
        );
        assert_eq!(
            HeaderKind::from_name(b"www-authenticate"),
            HeaderKind::WwwAuthenticate
        );
        assert_eq!(
            HeaderKind::from_name(b"NewFangledHeader"),
            HeaderKind::Other
        );
        assert_eq!(HeaderKind::from_name(b"q"), HeaderKind::Other);
        assert_eq!(HeaderKind::from_name(b""), HeaderKind::Other);
        assert_eq!(HeaderKind::CallId.to_string(), "Call-ID");
    }

    #[test]
    fn via_values() {
        let v = vias(b"SIP/2.0/TLS 192.0.2.7:50612;rport;branch=z9hG4bK-524287-1---a2f3;alias");
        assert_eq!(v.len(), 1);
        let v = &v[0];
        assert_eq!(v.transport, Transport::Tls);
        assert_eq!(v.host, Host::Ipv4("192.0.2.7".parse().unwrap()));
        assert_eq!(v.port, Some(50612));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.branch(), Some("z9hG4bK-524287-1---a2f3"));
        assert!(v.has_rfc3261_branch());
        assert!(v.param("alias").is_some());
        // filled in by a server (MRA-NOTES: 200 OK to REGISTER through MRA)
        let v =
            &vias(b"SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bKx;received=198.51.100.9;rport=61234")
                [0];
        assert_eq!(v.received(), Some("198.51.100.9".parse().unwrap()));
        assert_eq!(v.rport(), Some(Some(61234)));
        let v = &vias(b"SIP/2.0/UDP 239.255.255.1;maddr=239.255.255.1;ttl=16;branch=z9hG4bK7")[0];
        assert_eq!(v.maddr(), Some("239.255.255.1"));
        assert_eq!(v.ttl(), Some(16));
        // folding and white space everywhere (RFC 4475 §3.1.1.1)
        let v = vias(b"SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].host, Host::Name("spindle.example.com".into()));
        assert_eq!(v[1].branch(), Some("z9hG4bK30239"));
        assert_eq!(
            v[1].to_string(),
            "SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239"
        );
        // transports (RFC 4475 §3.1.1.10)
        let v = vias(b"SIP/2.0/SCTP a.example.com;branch=z9hG4bK1, SIP/2.0/TLS-SCTP b.example.com;branch=z9hG4bK2, SIP/2.0/UNKNOWN c.example.com;branch=z9hG4bK3, SIP/2.0/ws d.example.com;branch=z9hG4bK4");
        assert_eq!(v[0].transport, Transport::Sctp);
        assert_eq!(v[1].transport, Transport::TlsSctp);
        assert_eq!(v[2].transport, Transport::Other("UNKNOWN".into()));
        assert_eq!(v[3].transport, Transport::Ws);
        // IPv6 (RFC 5118 §4.5, §4.7, §4.9)
        let v =
            &vias(b"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111")
                [0];
        assert_eq!(v.host, Host::Ipv6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        let v = &vias(b"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")[0];
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        let v = &vias(b"SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19")[0];
        assert_eq!(v.port, Some(19823));
        // a bare magic cookie parses (RFC 4475 §3.2.1); the caller decides
        assert!(!vias(b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK")[0].has_rfc3261_branch());
        // RFC 2543 style: no branch (RFC 4475 §3.4.1)
        assert_eq!(vias(b"SIP/2.0/UDP iftgw.example.com")[0].branch(), None);
    }

    #[test]
    fn bad_via_values() {
        for bad in [
            &b""[..],
            b"SIP/2.0/UDP",
            b"SIP/2.0/UDP ",
            b"SIP/2.0 192.0.2.1",
            b"SIP/2.0/UDP192.0.2.1",
            b"SIP/2.0/UDP 192.0.2.15;;,;,,",
            b"SIP/2.0/UDP 192.0.2.15;branch=a,",
            b"SIP/2.0/UDP 192.0.2.15;branch",
            b"SIP/2.0/UDP 192.0.2.15;received=example.com",
            b"SIP/2.0/UDP 192.0.2.15;rport=65536",
            b"SIP/2.0/UDP 192.0.2.15;ttl=256",
            b"SIP/2.0/UDP 192.0.2.15;maddr=[::1",
            b"SIP/2.0/UDP 192.0.2.15:70000",
            b"SIP/2.0/UDP 2001:db8::1",
            b"SIP/2.0/UDP 192.0.2.15 junk",
        ] {
            assert!(
                parse_value(HeaderKind::Via, bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn name_addr_values() {
        let n = name_addr(
            HeaderKind::To,
            b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
        );
        assert!(!n.angle);
        assert_eq!(n.tag(), Some("1918181833n"));
        assert_eq!(
            n.to_string(),
            "sip:vivekg@chair-dnrc.example.com;tag=1918181833n"
        );
        let n = name_addr(
            HeaderKind::From,
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        );
        assert_eq!(
            n.display,
            Some(DisplayName::Quoted("J Rosenberg \\\\\\\"".into()))
        );
        assert_eq!(n.display.as_ref().unwrap().text(), "J Rosenberg \\\"");
        assert_eq!(n.tag(), Some("98asjd8"));
        // tokens as the display name, and no space before '<' (RFC 4475 §3.1.1.2, §3.1.1.6)
        let n = name_addr(
            HeaderKind::From,
            b"token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
        );
        assert_eq!(
            n.display,
            Some(DisplayName::Tokens("token1~` token2'+_ token3*%!.-".into()))
        );
        let n = name_addr(HeaderKind::From, b"caller<sip:caller@example.com>;tag=323");
        assert_eq!(
            n.display.as_ref().map(DisplayName::text).as_deref(),
            Some("caller")
        );
        // other schemes (RFC 4475 §3.3.4)
        assert!(matches!(
            name_addr(HeaderKind::To, b"isbn:2983792873").uri,
            Uri::Absolute(_)
        ));
        assert!(matches!(
            name_addr(HeaderKind::From, b"<http://www.example.com>;tag=3234233").uri,
            Uri::Absolute(_)
        ));
        // IPv6 (RFC 5118 §4.6)
        let n = name_addr(HeaderKind::To, b"sip:user@[2001:db8::10]");
        assert_eq!(
            n.uri.as_sip().unwrap().host,
            Host::Ipv6("2001:db8::10".parse().unwrap())
        );
    }

    #[test]
    fn bad_name_addr_values() {
        for (bad, want) in [
            (
                &b"\"Mr. J. User <sip:j.user@example.com>"[..],
                Error::BadHeader(HeaderKind::To),
            ),
            (
                b"\"Watson, Thomas\" < sip:t.watson@example.org >",
                Error::BadUri(HeaderKind::To, UriError::Scheme),
            ),
            (
                b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
                Error::BadHeader(HeaderKind::To),
            ),
            (
                b"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
                Error::BadUri(HeaderKind::To, UriError::HeadersNotAllowed),
            ),
            (b"<sip:user@example.com", Error::BadHeader(HeaderKind::To)),
            (b"sip:a@example.com;tag", Error::BadHeader(HeaderKind::To)),
            (
                b"sip:a@example.com;tag=\"x\"",
                Error::BadHeader(HeaderKind::To),
            ),
            (
                b"sip:a@example.com, sip:b@example.com",
                Error::BadHeader(HeaderKind::To),
            ),
            (b"", Error::BadUri(HeaderKind::To, UriError::Empty)),
        ] {
            assert_eq!(
                parse_value(HeaderKind::To, bad),
                Err(want),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn contact_values() {
        assert_eq!(
            value(HeaderKind::Contact, b" * "),
            Value::Contact(Contacts::Star)
        );
        // a Jabber REGISTER Contact through MRA (MRA-NOTES)
        let c = contacts(b"<sip:6a3b@192.0.2.7:50612;transport=tls;ob>;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0011223344ff>\";+u.sip!devicename.ccm.cisco.com=\"CSFALICE\";x-cisco-mra-ha=AR_SK;x-cisco-reg-id=1;reg-id=1;expires=3600;q=0.5");
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert!(c.ob());
        assert_eq!(
            c.instance(),
            Some("<urn:uuid:00000000-0000-0000-0000-0011223344ff>")
        );
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(c.q(), Some(500));
        assert_eq!(
            c.param("x-cisco-mra-ha").and_then(|p| p.value.as_deref()),
            Some("AR_SK")
        );
        // several, with commas inside quotes and URIs
        let c = contacts(b"\"Bell, Alexander\" <sip:a.g.bell@example.com>;q=1, <sip:x,y@example.com;a=b>;q=0.33,sip:+1@gw.example.net;expires=0");
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].q(), Some(1000));
        assert_eq!(c[1].q(), Some(330));
        assert_eq!(c[2].expires(), Some(0));
        // a parameter after an addr-spec belongs to the header (RFC 4475 §3.3.12), in <> to the URI
        let c = contacts(b"sip:+19725552222@gw1.example.net;unknownparam");
        assert!(c[0].param("unknownparam").is_some());
        assert!(c[0].uri.as_sip().unwrap().params.is_empty());
        let c = contacts(b"<sip:+19725552222@gw1.example.net;unknownparam>");
        assert!(c[0].params.is_empty());
        assert!(c[0].uri.as_sip().unwrap().has_param("unknownparam"));
        // escaped headers are fine in <> (RFC 4475 §3.3.14)
        let c = contacts(b"<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
        assert_eq!(c[0].uri.as_sip().unwrap().headers.len(), 1);
        for bad in [
            &b"\"Joe\" <sip:joe@example.org>;;,;"[..],
            b"<sip:a@example.com>;q=1.5",
            b"<sip:a@example.com>;q=0.1234",
            b"<sip:a@example.com>;expires=280297596632815",
            b"<sip:a@example.com>;+sip.instance=abc",
            b"<sip:a@example.com>;reg-id",
            b"*, <sip:a@example.com>",
            b"",
        ] {
            assert!(
                parse_value(HeaderKind::Contact, bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn route_values() {
        let Value::Routes(r) = value(HeaderKind::Route, b"<sip:expc.example.com:5061;transport=tls;zone-id=3;directed;lr>, <sip:kamailio.example.com;lr>") else { panic!() };
        assert_eq!(r.len(), 2);
        assert!(r[0].uri.as_sip().unwrap().lr());
        // Route values must be in <>
        assert_eq!(
            parse_value(HeaderKind::RecordRoute, b"sip:p.example.com;lr"),
            Err(Error::BadHeader(HeaderKind::RecordRoute))
        );
        let Value::Routes(p) = value(HeaderKind::Path, b"<sip:expc.example.com;lr;ob>") else {
            panic!()
        };
        assert!(p[0].ob());
    }

    #[test]
    fn scalar_values() {
        assert_eq!(
            value(HeaderKind::CSeq, b"0009\r\n  INVITE"),
            Value::CSeq(CSeq {
                seq: 9,
                method: Method::Invite
            })
        );
        assert_eq!(
            value(
                HeaderKind::CSeq,
                b"139122385 !interesting-Method0123456789_*+`.%indeed'~"
            ),
            Value::CSeq(CSeq {
                seq: 139122385,
                method: Method::Other("!interesting-Method0123456789_*+`.%indeed'~".into())
            })
        );
        assert_eq!(
            value(HeaderKind::MaxForwards, b"0068"),
            Value::MaxForwards(68)
        );
        assert_eq!(
            value(HeaderKind::Expires, b"4294967295"),
            Value::Expires(u32::MAX)
        );
        assert_eq!(
            value(HeaderKind::ContentLength, b"0"),
            Value::ContentLength(0)
        );
        assert_eq!(
            value(
                HeaderKind::CallId,
                b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
            ),
            Value::CallId("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{".into())
        );
        for (kind, bad) in [
            (HeaderKind::CSeq, &b"36893488147419103232 INVITE"[..]),
            (HeaderKind::CSeq, b"1INVITE"),
            (HeaderKind::CSeq, b"1 INVITE x"),
            (HeaderKind::CSeq, b"INVITE"),
            (HeaderKind::MaxForwards, b"300"),
            (HeaderKind::MaxForwards, b""),
            (HeaderKind::Expires, b"10000000000000000000000"),
            (HeaderKind::ContentLength, b"-999"),
            (HeaderKind::CallId, b"a b@c"),
            (HeaderKind::CallId, b"a@b@c"),
            (HeaderKind::CallId, b"@b"),
            (HeaderKind::CallId, b""),
            (HeaderKind::ContentType, b"application"),
            (HeaderKind::ContentType, b"application/sdp;charset"),
            (HeaderKind::Require, b""),
            (HeaderKind::Require, b"a,,b"),
        ] {
            assert_eq!(
                parse_value(kind, bad),
                Err(Error::BadHeader(kind)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn media_types_and_option_tags() {
        let Value::ContentType(m) = value(HeaderKind::ContentType, b"multipart/signed;protocol=\"application/pkcs7-signature\";micalg=sha1; boundary=boundary42") else { panic!() };
        assert!(m.is("Multipart", "SIGNED"));
        assert_eq!(m.params.len(), 3);
        assert_eq!(
            m.params[0].value.as_deref(),
            Some("\"application/pkcs7-signature\"")
        );
        assert_eq!(value(HeaderKind::Supported, b""), Value::OptionTags(vec![]));
        assert_eq!(
            value(HeaderKind::Supported, b"path, outbound,gruu"),
            Value::OptionTags(vec!["path".into(), "outbound".into(), "gruu".into()])
        );
        assert_eq!(
            value(
                HeaderKind::ProxyRequire,
                b"noProxiesSupportThis, norDoAnyProxiesSupportThis"
            )
            .to_string(),
            "noProxiesSupportThis, norDoAnyProxiesSupportThis"
        );
        assert_eq!(value(HeaderKind::Other, b";;,,;;,;"), Value::Other);
    }

    #[test]
    fn display_name_quoting() {
        let d = DisplayName::quote("Bell, \"Alexander\" \\o/").unwrap();
        assert_eq!(d.to_string(), r#""Bell, \"Alexander\" \\o/""#);
        assert_eq!(d.text(), "Bell, \"Alexander\" \\o/");
        assert_eq!(DisplayName::quote("a\r\nb"), None);
        let n = NameAddr {
            display: Some(d),
            ..NameAddr::new(Uri::Sip(SipUri::new(Host::Name("example.com".into()))))
        };
        assert_eq!(
            parse_value(HeaderKind::From, n.to_string().as_bytes()),
            Ok(Value::NameAddr(n))
        );
    }

    #[test]
    fn canonical_text_parses_back() {
        for (kind, s) in [
            (HeaderKind::Via, &b"SIP / 2.0 / udp host.example.com : 5060 ; branch = z9hG4bK1 ; rport , SIP/2.0/TLS [2001:db8::1]"[..]),
            (HeaderKind::Contact, b"\"A\" <sip:a@b.example.com;ob>;+sip.instance=\"<urn:uuid:1>\" , sip:x@y.example.com ; q = 0.1"),
            (HeaderKind::From, b"  Alice   Smith   <sips:alice@example.com> ; tag = abc"),
            (HeaderKind::ContentType, b"application / sdp ; charset = \"utf-8\""),
            (HeaderKind::Route, b"<sip:[2001:db8:::1]:5061;lr>"),
        ] {
            let v = value(kind, s);
            assert_eq!(value(kind, v.to_string().as_bytes()), v, "{}", v);
        }
    }
}
