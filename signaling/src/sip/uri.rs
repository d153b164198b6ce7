//! URIs in SIP messages: `sip:` and `sips:` (RFC 3261 §19.1, grammar in §25.1), `tel:` (RFC 3966)
//! and any other `absoluteURI`, which is kept as written.
//!
//! A [`SipUri`] holds its parts as written, escapes included (`sip:%75ser@…` keeps `%75ser` as
//! its user): a proxy forwards URIs, it does not rewrite their spelling. The parser checks that
//! every `%` starts an escape (`%` HEXDIG HEXDIG) and that each part uses only the characters
//! its production allows; [`SipUri::user_unescaped`] gives the decoded user, which may hold NUL
//! bytes (RFC 4475 §3.1.1.4), so it is bytes, not a string.
//!
//! Hosts are host names, IPv4 addresses or IPv6 references in brackets. Tolerated beyond the
//! letter of the grammar, each for a reason:
//!
//! - an IPv6 reference with three colons where two are meant, `[2001:db8:::192.0.2.1]`, read as
//!   `2001:db8::192.0.2.1` — RFC 5118 §4.10 asks implementations to accept both spellings (the
//!   RFC 3261 ABNF allowed the first; RFC 5954 fixed it);
//! - `_` inside host name labels, which some deployments use although RFC 1123 does not allow it.
//!
//! Refused: an IPv6 address without brackets (RFC 5118 §4.2), ports over 65535, empty labels,
//! a top label that does not start with a letter, a dotted-digit host that is not an IPv4
//! address. URI comparison (RFC 3261 §19.1.4) is not done here; equality of these values is
//! equality of their parts as written.

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::lex::{self, Cursor};

/// Which part of a URI is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UriError {
    /// No URI at all.
    Empty,
    /// The scheme is missing or is not `ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")`.
    Scheme,
    /// The user part is empty or holds characters `user` does not allow, or a bad escape.
    User,
    /// The password holds characters `password` does not allow, or a bad escape.
    Password,
    /// The host is not a host name, an IPv4 address or a bracketed IPv6 reference.
    Host,
    /// The port is not 1 to 5 digits up to 65535, or something follows it.
    Port,
    /// A URI parameter is empty or holds characters `paramchar` does not allow.
    Param,
    /// The `?` headers part is not `hname "=" hvalue *("&" hname "=" hvalue)`.
    Headers,
    /// URI headers where they are not allowed: in a Request-URI (RFC 3261 §19.1.1, RFC 4475
    /// §3.1.2.11), or in a URI not enclosed in `<>` (RFC 3261 §20, RFC 4475 §3.1.2.13).
    HeadersNotAllowed,
    /// A `tel:` number that is neither a global number (`+` and digits) nor a local number with
    /// a `phone-context` (RFC 3966 §3).
    Number,
    /// The part after the scheme of another URI is empty or holds characters URIs never hold.
    Syntax,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriError::Empty => "empty URI",
            UriError::Scheme => "bad scheme",
            UriError::User => "bad user part",
            UriError::Password => "bad password",
            UriError::Host => "bad host",
            UriError::Port => "bad port",
            UriError::Param => "bad URI parameter",
            UriError::Headers => "bad URI headers",
            UriError::HeadersNotAllowed => "URI headers not allowed here",
            UriError::Number => "bad telephone number",
            UriError::Syntax => "bad URI",
        })
    }
}

impl std::error::Error for UriError {}

/// A `name[=value]` parameter: of a URI (`;transport=tls`), of a header field value
/// (`;tag=1918181833n`, `;q=0.33`, `;+sip.instance="<urn:uuid:…>"`), or a URI header
/// (`?name=value`).
/// Names and values are kept as written: a quoted value keeps its quotes, an escaped one its
/// escapes. Names compare without regard to case ([`Param::is`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// The name as written.
    pub name: String,
    /// The value as written; `None` for a flag such as `lr` or `rport`.
    pub value: Option<String>,
}

impl Param {
    /// A parameter without a value, such as `lr`.
    pub fn flag(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: None,
        }
    }

    /// A parameter with a value, written as given (quote it yourself where the grammar needs it).
    pub fn with_value(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: Some(value.to_owned()),
        }
    }

    /// Whether the parameter has this name (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        Ok(())
    }
}

/// The first parameter of that name.
pub(crate) fn find_param<'p>(params: &'p [Param], name: &str) -> Option<&'p Param> {
    params.iter().find(|p| p.is(name))
}

/// Replaces the value of the first parameter of that name, or appends the parameter.
pub(crate) fn set_param(params: &mut Vec<Param>, name: &str, value: Option<&str>) {
    let value = value.map(str::to_owned);
    match params.iter_mut().find(|p| p.is(name)) {
        Some(p) => p.value = value,
        None => params.push(Param {
            name: name.to_owned(),
            value,
        }),
    }
}

/// Removes every parameter of that name; says whether there was one.
pub(crate) fn remove_param(params: &mut Vec<Param>, name: &str) -> bool {
    let before = params.len();
    params.retain(|p| !p.is(name));
    params.len() != before
}

pub(crate) fn write_params(f: &mut fmt::Formatter<'_>, params: &[Param]) -> fmt::Result {
    params.iter().try_for_each(|p| write!(f, ";{p}"))
}

/// A host: a name, an IPv4 address or an IPv6 address (written in brackets).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name as written (compare without regard to case).
    Name(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address; written as an IPv6 reference, `[2001:db8::1]`.
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host name, an IPv4 address or an IPv6 reference (`[…]`).
    pub fn parse(s: &str) -> Result<Host, UriError> {
        parse_host(s.as_bytes())
    }

    /// The address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Name(_) => None,
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Host name, IPv4 address or bracketed IPv6 reference, the whole of `h`.
pub(crate) fn parse_host(h: &[u8]) -> Result<Host, UriError> {
    match h.first() {
        None => Err(UriError::Host),
        Some(b'[') => match h.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
            Some(inner) => parse_ipv6(inner).map(Host::Ipv6).ok_or(UriError::Host),
            None => Err(UriError::Host),
        },
        Some(_) if h.iter().all(|&b| b.is_ascii_digit() || b == b'.') => {
            parse_ipv4(h).map(Host::Ipv4).ok_or(UriError::Host)
        }
        Some(_) => {
            let body = h.strip_suffix(b".").unwrap_or(h);
            let mut labels = body.split(|&b| b == b'.').peekable();
            while let Some(label) = labels.next() {
                let ok_chars = label
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                let (Some(&first), Some(&last)) = (label.first(), label.last()) else {
                    return Err(UriError::Host);
                };
                if !ok_chars || first == b'-' || last == b'-' {
                    return Err(UriError::Host);
                }
                if labels.peek().is_none() && !first.is_ascii_alphabetic() {
                    return Err(UriError::Host);
                }
            }
            // checked above: every byte is ASCII
            Ok(Host::Name(String::from_utf8_lossy(h).into_owned()))
        }
    }
}

/// Exactly four dot-separated decimal octets of one to three digits.
pub(crate) fn parse_ipv4(h: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = h.split(|&b| b == b'.');
    for o in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 {
            return None;
        }
        *o = u8::try_from(lex::parse_u32(part)?).ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// An IPv6 address (without brackets); `:::` once is read as `::` (RFC 5118 §4.10).
pub(crate) fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    if !s
        .iter()
        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return None;
    }
    let s = core::str::from_utf8(s).ok()?;
    s.parse().ok().or_else(|| {
        if s.matches(":::").count() == 1 && !s.contains("::::") {
            s.replacen(":::", "::", 1).parse().ok()
        } else {
            None
        }
    })
}

/// An IP address as a Via `received` value: IPv4, or IPv6 with or without brackets (RFC 5118 §4.5).
pub(crate) fn parse_ip_param(v: &[u8]) -> Option<IpAddr> {
    if let Some(inner) = v.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
        return parse_ipv6(inner).map(IpAddr::V6);
    }
    parse_ipv4(v)
        .map(IpAddr::V4)
        .or_else(|| parse_ipv6(v).map(IpAddr::V6))
}

const fn is_user_char(b: u8) -> bool {
    lex::is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

const fn is_password_char(b: u8) -> bool {
    lex::is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

const fn is_paramchar(b: u8) -> bool {
    lex::is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

const fn is_hnv_char(b: u8) -> bool {
    lex::is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

fn ascii(s: &[u8]) -> String {
    // callers pass only bytes the grammar checks let through, all ASCII
    String::from_utf8_lossy(s).into_owned()
}

/// A `sip:` or `sips:` URI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub sips: bool,
    /// The user part as written, escapes kept (`user;par=u%40example.net` in RFC 4475 §3.1.1.9).
    pub user: Option<String>,
    /// The password as written.
    pub password: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, if written.
    pub port: Option<u16>,
    /// URI parameters in order (`transport`, `lr`, `maddr`, `ob`, …).
    pub params: Vec<Param>,
    /// URI headers in order (`?Route=%3Csip:…%3E`); each has a value, maybe empty.
    pub headers: Vec<Param>,
}

impl SipUri {
    /// `sip:host` with nothing else.
    pub fn new(host: Host) -> Self {
        Self {
            sips: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The first URI parameter of that name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// Whether the URI has that parameter, with or without a value.
    pub fn has_param(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    /// Sets a URI parameter (replacing the first of that name) or appends it.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        set_param(&mut self.params, name, value);
    }

    /// Removes every URI parameter of that name; says whether there was one.
    pub fn remove_param(&mut self, name: &str) -> bool {
        remove_param(&mut self.params, name)
    }

    /// The `transport` parameter.
    pub fn transport(&self) -> Option<&str> {
        self.param("transport").and_then(|p| p.value.as_deref())
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.param("maddr").and_then(|p| p.value.as_deref())
    }

    /// The `lr` flag: the element is a loose router (RFC 3261 §19.1.1).
    pub fn lr(&self) -> bool {
        self.has_param("lr")
    }

    /// The `ob` flag: the flow is an outbound flow (RFC 5626 §5.4).
    pub fn ob(&self) -> bool {
        self.has_param("ob")
    }

    /// The user part with escapes decoded; may hold any byte, NUL included.
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(|u| lex::unescape(u.as_bytes()))
    }

    /// `rest` is what follows `sip:`.
    fn parse_rest(sips: bool, rest: &[u8]) -> Result<SipUri, UriError> {
        // '@' appears nowhere but between userinfo and host: no other part may hold it unescaped
        let (userinfo, hostpart) = match rest.iter().position(|&b| b == b'@') {
            Some(i) => (rest.get(..i), rest.get(i + 1..).unwrap_or_default()),
            None => (None, rest),
        };
        let (mut user, mut password) = (None, None);
        if let Some(ui) = userinfo {
            let (u, p) = match ui.iter().position(|&b| b == b':') {
                Some(i) => (ui.get(..i).unwrap_or_default(), ui.get(i + 1..)),
                None => (ui, None),
            };
            if u.is_empty() || !lex::is_escaped_str(u, is_user_char) {
                return Err(UriError::User);
            }
            if let Some(p) = p {
                if !lex::is_escaped_str(p, is_password_char) {
                    return Err(UriError::Password);
                }
                password = Some(ascii(p));
            }
            user = Some(ascii(u));
        }
        let mut c = Cursor::new(hostpart);
        let start = c.pos();
        if c.peek() == Some(b'[') {
            c.take_while(|b| b != b']');
            if !c.eat(b']') {
                return Err(UriError::Host);
            }
        } else {
            c.take_while(|b| !matches!(b, b':' | b';' | b'?'));
        }
        let host = parse_host(c.since(start))?;
        let mut port = None;
        if c.eat(b':') {
            let digits = c.take_while(|b| b.is_ascii_digit());
            port = Some(parse_port(digits).ok_or(UriError::Port)?);
            if !matches!(c.peek(), None | Some(b';' | b'?')) {
                return Err(UriError::Port);
            }
        }
        let mut params = Vec::new();
        while c.eat(b';') {
            let name = c.take_while(|b| !matches!(b, b'=' | b';' | b'?'));
            if name.is_empty() || !lex::is_escaped_str(name, is_paramchar) {
                return Err(UriError::Param);
            }
            let value = if c.eat(b'=') {
                let v = c.take_while(|b| !matches!(b, b';' | b'?'));
                if v.is_empty() || !lex::is_escaped_str(v, is_paramchar) {
                    return Err(UriError::Param);
                }
                Some(ascii(v))
            } else {
                None
            };
            params.push(Param {
                name: ascii(name),
                value,
            });
        }
        let mut headers = Vec::new();
        if c.eat(b'?') {
            loop {
                let h = c.take_while(|b| b != b'&');
                let eq = h.iter().position(|&b| b == b'=').ok_or(UriError::Headers)?;
                let (name, value) = (
                    h.get(..eq).unwrap_or_default(),
                    h.get(eq + 1..).unwrap_or_default(),
                );
                if name.is_empty()
                    || !lex::is_escaped_str(name, is_hnv_char)
                    || !lex::is_escaped_str(value, is_hnv_char)
                {
                    return Err(UriError::Headers);
                }
                headers.push(Param {
                    name: ascii(name),
                    value: Some(ascii(value)),
                });
                if !c.eat(b'&') {
                    break;
                }
            }
        }
        if !c.at_end() {
            return Err(UriError::Host);
        }
        Ok(SipUri {
            sips,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }
}

fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.len() > 5 {
        return None;
    }
    u16::try_from(lex::parse_u32(digits)?).ok()
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.sips { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)?;
        for (i, h) in self.headers.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{}={}", h.name, h.value.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

/// A `tel:` URI (RFC 3966).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TelUri {
    /// The number as written: `+` and digits with visual separators for a global number, or a
    /// local number.
    pub number: String,
    /// The parameters in order (`phone-context`, `ext`, `isub`, …).
    pub params: Vec<Param>,
}

impl TelUri {
    /// Whether the number is global (starts with `+`).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The first parameter of that name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    fn parse_rest(rest: &[u8]) -> Result<TelUri, UriError> {
        let mut parts = rest.split(|&b| b == b';');
        let number = parts.next().unwrap_or_default();
        let visual = |b: u8| matches!(b, b'-' | b'.' | b'(' | b')');
        let global = match number.strip_prefix(b"+") {
            Some(digits) => {
                if !digits.iter().all(|&b| b.is_ascii_digit() || visual(b))
                    || !digits.iter().any(u8::is_ascii_digit)
                {
                    return Err(UriError::Number);
                }
                true
            }
            None => {
                let key = |b: u8| b.is_ascii_hexdigit() || b == b'*' || b == b'#';
                if !number.iter().all(|&b| key(b) || visual(b)) || !number.iter().any(|&b| key(b)) {
                    return Err(UriError::Number);
                }
                false
            }
        };
        let mut params = Vec::new();
        for p in parts {
            let (name, value) = match p.iter().position(|&b| b == b'=') {
                Some(i) => (p.get(..i).unwrap_or_default(), p.get(i + 1..)),
                None => (p, None),
            };
            if name.is_empty() || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(UriError::Param);
            }
            if let Some(v) = value {
                if v.is_empty() || !lex::is_escaped_str(v, is_paramchar) {
                    return Err(UriError::Param);
                }
            }
            params.push(Param {
                name: ascii(name),
                value: value.map(ascii),
            });
        }
        if !global && find_param(&params, "phone-context").is_none() {
            return Err(UriError::Number);
        }
        Ok(TelUri {
            number: ascii(number),
            params,
        })
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}", self.number)?;
        write_params(f, &self.params)
    }
}

/// Any other URI (`absoluteURI` of RFC 3261): the scheme, and the rest kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AbsoluteUri {
    /// The scheme as written.
    pub scheme: String,
    /// Everything after the first `:`.
    pub rest: String,
}

impl fmt::Display for AbsoluteUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.rest)
    }
}

/// A URI of a SIP message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Any other scheme (`isbn:2983792873`, `http://www.example.com`, …).
    Absolute(AbsoluteUri),
}

impl Uri {
    /// Parses a whole URI (no surrounding white space or angle brackets).
    pub fn parse(s: &[u8]) -> Result<Uri, UriError> {
        if s.is_empty() {
            return Err(UriError::Empty);
        }
        let colon = s.iter().position(|&b| b == b':').ok_or(UriError::Scheme)?;
        let (scheme, rest) = (
            s.get(..colon).unwrap_or_default(),
            s.get(colon + 1..).unwrap_or_default(),
        );
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(UriError::Scheme);
        }
        if scheme.eq_ignore_ascii_case(b"sip") {
            SipUri::parse_rest(false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"sips") {
            SipUri::parse_rest(true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            TelUri::parse_rest(rest).map(Uri::Tel)
        } else {
            let uric = |b: u8| {
                lex::is_reserved(b) || lex::is_unreserved(b) || matches!(b, b'[' | b']' | b'#')
            };
            if rest.is_empty() || !lex::is_escaped_str(rest, uric) {
                return Err(UriError::Syntax);
            }
            Ok(Uri::Absolute(AbsoluteUri {
                scheme: ascii(scheme),
                rest: ascii(rest),
            }))
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The SIP URI, if this is one, to edit.
    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The scheme: `sip`, `sips`, `tel` or the other scheme as written.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.sips => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Absolute(a) => &a.scheme,
        }
    }

    /// Whether the URI has `?` headers.
    pub(crate) fn has_headers(&self) -> bool {
        matches!(self, Uri::Sip(u) if !u.headers.is_empty())
    }
}

impl FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s.as_bytes())
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Self {
        Uri::Sip(u)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Absolute(u) => u.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s.as_bytes()) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &[u8]) -> UriError {
        Uri::parse(s).expect_err(&String::from_utf8_lossy(s))
    }

    #[test]
    fn parts() {
        let u = sip("sips:alice:secret@example.com:5061;transport=tls;lr;maddr=239.255.255.1?Subject=hi&Priority=");
        assert!(u.sips);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::Name("example.com".into()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tls"));
        assert!(u.lr());
        assert_eq!(u.maddr(), Some("239.255.255.1"));
        assert_eq!(
            u.headers,
            vec![
                Param::with_value("Subject", "hi"),
                Param::with_value("Priority", "")
            ]
        );
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@example.com:5061;transport=tls;lr;maddr=239.255.255.1?Subject=hi&Priority="
        );
        let u = sip("SIP:192.0.2.4");
        assert_eq!(u.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 4)));
        assert_eq!(u.to_string(), "sip:192.0.2.4");
    }

    #[test]
    fn mra_route_and_contact_uris() {
        // The route the edge config preloads (MRA-NOTES, "SIP through the edge").
        let u = sip("sip:expc.example.com:5061;transport=tls;zone-id=3;directed;lr");
        assert!(u.lr());
        assert_eq!(
            u.param("zone-id").and_then(|p| p.value.as_deref()),
            Some("3")
        );
        assert!(u.has_param("DIRECTED"));
        // An outbound Contact (RFC 5626 §5.4) and C's rewritten one.
        let u = sip("sip:alice@192.0.2.7:50612;transport=tls;ob");
        assert!(u.ob());
        let mut u = sip("sip:alice@expc.example.com:5061;transport=tls");
        u.set_param("orig-hostport", Some("192.0.2.7:50612"));
        assert_eq!(
            u.to_string(),
            "sip:alice@expc.example.com:5061;transport=tls;orig-hostport=192.0.2.7:50612"
        );
        assert!(u.remove_param("orig-hostport"));
        assert!(!u.remove_param("orig-hostport"));
    }

    #[test]
    fn escapes_kept_and_decoded() {
        // RFC 4475 §3.1.1.3 and §3.1.1.4
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user.as_deref(), Some("sips%3Auser%40example.com"));
        assert_eq!(
            u.user_unescaped().as_deref(),
            Some(&b"sips:user@example.com"[..])
        );
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(u.params[0].name, "%6C%72");
        assert_eq!(u.params[1].value.as_deref(), Some("v%61lue%25%34%31"));
        let u = sip("sip:%00%00@host5.example.com");
        assert_eq!(u.user_unescaped().as_deref(), Some(&b"\0\0"[..]));
        // RFC 4475 §3.1.1.9: the user holds a ';' and an escaped '@'
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert!(u.params.is_empty());
        // RFC 4475 §3.1.1.2: every user and password character there is
        let u = sip("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(err(b"sip:%ZKuser@example.com"), UriError::User);
        assert_eq!(err(b"sip:user@example.com;a=%4"), UriError::Param);
    }

    #[test]
    fn ipv6_references() {
        // RFC 5118 §4.1, §4.3, §4.4, §4.9, §4.10
        let u = sip("sip:[2001:db8::10]");
        assert_eq!(u.host, Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, None);
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.host, Host::Ipv6("2001:db8::10:5070".parse().unwrap()));
        assert_eq!(u.port, None);
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.to_string(), "sip:[2001:db8::10]:5070");
        let u = sip("sip:ted@[::ffff:192.0.2.2]");
        assert_eq!(u.host.ip(), Some("::ffff:192.0.2.2".parse().unwrap()));
        let u = sip("sip:user@[2001:db8:::192.0.2.1]");
        assert_eq!(u.host, Host::Ipv6("2001:db8::192.0.2.1".parse().unwrap()));
        assert_eq!(sip("sip:user@[2001:db8::192.0.2.1]").host, u.host);
        // RFC 5118 §4.2: no brackets
        assert_eq!(err(b"sip:2001:db8::10"), UriError::Host);
        assert_eq!(err(b"sip:[2001:db8::10"), UriError::Host);
        assert_eq!(err(b"sip:[2001:db8::10]x"), UriError::Host);
        assert_eq!(err(b"sip:[a::::b]"), UriError::Host);
        assert_eq!(err(b"sip:[example.com]"), UriError::Host);
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            Host::parse("example.com."),
            Ok(Host::Name("example.com.".into()))
        );
        assert_eq!(
            Host::parse("my_host.example.com"),
            Ok(Host::Name("my_host.example.com".into()))
        );
        for bad in [
            "",
            "-a.com",
            "a-.com",
            "a..com",
            "example.123",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "exa mple.com",
            ".",
        ] {
            assert_eq!(Host::parse(bad), Err(UriError::Host), "{bad:?}");
        }
        assert_eq!(err(b"sip:example.com:65536"), UriError::Port);
        assert_eq!(err(b"sip:example.com:"), UriError::Port);
        assert_eq!(err(b"sip:example.com:50x"), UriError::Port);
        assert_eq!(sip("sip:example.com:05060").port, Some(5060));
        assert_eq!(err(b"sip:@example.com"), UriError::User);
        assert_eq!(err(b"sip:a b@example.com"), UriError::User);
        assert_eq!(err(b"sip:user@"), UriError::Host);
        assert_eq!(err(b"sip:user@example.com;"), UriError::Param);
        assert_eq!(err(b"sip:user@example.com;a="), UriError::Param);
        assert_eq!(err(b"sip:user@example.com?x"), UriError::Headers);
        assert_eq!(err(b"sip:user@example.com>"), UriError::Host);
        assert_eq!(err(b"sip:a@b@example.com"), UriError::Host);
    }

    #[test]
    fn tel_and_other_schemes() {
        let Ok(Uri::Tel(t)) = Uri::parse(b"tel:+1-201-555-0123;ext=1234") else {
            panic!()
        };
        assert!(t.is_global());
        assert_eq!(
            t.param("ext").and_then(|p| p.value.as_deref()),
            Some("1234")
        );
        assert_eq!(t.to_string(), "tel:+1-201-555-0123;ext=1234");
        assert!(Uri::parse(b"tel:7042;phone-context=example.com").is_ok());
        assert_eq!(err(b"tel:7042"), UriError::Number);
        assert_eq!(err(b"tel:+"), UriError::Number);
        assert_eq!(err(b"tel:+1;=x"), UriError::Param);
        // RFC 4475 §3.3.2 - §3.3.4
        for s in [
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "soap.beep://192.0.2.103:3002",
            "isbn:2983792873",
            "http://www.example.com",
            "name:John_Smith",
        ] {
            let u: Uri = s.parse().unwrap();
            assert!(matches!(u, Uri::Absolute(_)), "{s}");
            assert_eq!(u.to_string(), s);
        }
        assert_eq!(
            Uri::parse(b"urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF")
                .unwrap()
                .scheme(),
            "urn"
        );
        assert_eq!(err(b""), UriError::Empty);
        assert_eq!(err(b"nocolon"), UriError::Scheme);
        assert_eq!(err(b"<sip:user@example.com>"), UriError::Scheme);
        assert_eq!(err(b"1x:abc"), UriError::Scheme);
        assert_eq!(err(b"x:"), UriError::Syntax);
        assert_eq!(err(b"x:a b"), UriError::Syntax);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "sip:alice@example.com",
            "sips:[2001:db8::1]:5061;transport=tls",
            "sip:+19725552222@gw1.example.net;user=phone",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "tel:+1(201)555.0123",
        ] {
            let u: Uri = s.parse().unwrap();
            assert_eq!(u.to_string(), s);
            assert_eq!(u.to_string().parse::<Uri>().unwrap(), u);
        }
    }

    #[test]
    fn ip_params() {
        assert_eq!(
            parse_ip_param(b"192.0.2.1"),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            parse_ip_param(b"2001:db8::9:255"),
            Some("2001:db8::9:255".parse().unwrap())
        );
        assert_eq!(
            parse_ip_param(b"[2001:db8::9:255]"),
            Some("2001:db8::9:255".parse().unwrap())
        );
        assert_eq!(parse_ip_param(b"example.com"), None);
        assert_eq!(parse_ip_param(b"[192.0.2.1]"), None);
    }
}
