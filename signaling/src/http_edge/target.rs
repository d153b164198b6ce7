//! The request targets E receives on :8443, parsed into what C may act on (MRA-NOTES, "HTTPS on
//! E :8443").
//!
//! Two forms exist:
//!
//! - `/<b64(domain)>/get_edge_config[/]?service_name=…` — [`EdgeRequest::EdgeConfig`];
//! - `/<b64("domain/proto/host/port")>/<path>[?query]` — [`EdgeRequest::Proxy`], a request C
//!   forwards to an inside server once the allow list ([`super::allow_list`]) agrees.
//!
//! The first segment is base64 in the standard or the URL-safe alphabet, padded or not
//! ([`decode_base64`]); a string mixing both alphabets, with bits left over in its last
//! character, or that is not UTF-8 is refused, so that one target has one spelling.
//!
//! Hosts ([`Host`]) are DNS names (lowercased, a trailing dot removed) or IP literals in their
//! canonical spelling only: dotted decimal with four parts, or IPv6 (IPv4-mapped IPv6 becomes
//! the IPv4 address). Every other numeric spelling that some resolver or URL library would read
//! as an address — `3232235777`, `0300.0250.0.1`, `0xc0a80001`, `0x7f.1`, `127.1` — is refused
//! with 400 ([`HostError::NonCanonicalIp`]): a rule never has to guess what such a name means.
//!
//! Paths ([`InsidePath`]) are checked, never rewritten: percent-escapes are decoded once for the
//! check; dot segments in any spelling, encoded `/` or `\`, escapes that decode to another escape
//! (double encoding), NUL and control characters, and empty segments are refused with 400. The
//! path sent inside is the one the client wrote.
//!
//! Every [`TargetError`] maps to 400.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a request target was refused; every variant is a 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetError {
    /// The request target is not origin-form (does not start with `/`) or has no first segment.
    NotOriginForm,
    /// The first segment is not base64 (see [`Base64Error`]).
    Base64(Base64Error),
    /// The decoded first segment is not UTF-8.
    NotUtf8,
    /// The decoded first segment is not `domain/proto/host/port` (wrong number of parts, or a
    /// character such as `@`, a space or a control character in it).
    BadTargetSyntax,
    /// The domain is not a DNS name.
    BadDomain(HostError),
    /// The protocol is neither `http` nor `https`.
    BadScheme,
    /// The host is neither a DNS name nor a canonical IP literal.
    BadHost(HostError),
    /// The port is not a decimal number from 1 to 65535 without leading zeros.
    BadPort,
    /// The path is refused (see [`PathError`]).
    BadPath(PathError),
    /// The query holds a character a query may not hold, a bad escape, or an escaped NUL.
    BadQuery,
    /// A bare domain in the first segment, but the path is not `get_edge_config`.
    UnknownForm,
    /// A `service_name` value in a `get_edge_config` query is not a UTF-8 token.
    BadServiceName,
}

impl TargetError {
    /// The status code a server answers with: always 400.
    pub const fn status_code(self) -> u16 {
        400
    }

    /// A short label for counters, e.g. `http_edge_refused_total{reason="bad_path"}`.
    pub const fn reason(self) -> &'static str {
        match self {
            TargetError::NotOriginForm => "not_origin_form",
            TargetError::Base64(_) => "bad_base64",
            TargetError::NotUtf8 => "not_utf8",
            TargetError::BadTargetSyntax => "bad_target_syntax",
            TargetError::BadDomain(_) => "bad_domain",
            TargetError::BadScheme => "bad_scheme",
            TargetError::BadHost(HostError::NonCanonicalIp) => "non_canonical_ip",
            TargetError::BadHost(_) => "bad_host",
            TargetError::BadPort => "bad_port",
            TargetError::BadPath(e) => e.reason(),
            TargetError::BadQuery => "bad_query",
            TargetError::UnknownForm => "unknown_form",
            TargetError::BadServiceName => "bad_service_name",
        }
    }
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::NotOriginForm => f.write_str("request target is not /<base64>/…"),
            TargetError::Base64(e) => write!(f, "first path segment: {e}"),
            TargetError::NotUtf8 => f.write_str("first path segment does not decode to UTF-8"),
            TargetError::BadTargetSyntax => {
                f.write_str("first path segment is not domain/proto/host/port")
            }
            TargetError::BadDomain(e) => write!(f, "domain: {e}"),
            TargetError::BadScheme => f.write_str("protocol is neither http nor https"),
            TargetError::BadHost(e) => write!(f, "host: {e}"),
            TargetError::BadPort => f.write_str("port is not 1-65535"),
            TargetError::BadPath(e) => write!(f, "path: {e}"),
            TargetError::BadQuery => f.write_str("malformed query"),
            TargetError::UnknownForm => {
                f.write_str("domain-only target that is not get_edge_config")
            }
            TargetError::BadServiceName => f.write_str("malformed service_name"),
        }
    }
}

impl std::error::Error for TargetError {}

/// Why a base64 string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Base64Error {
    /// Nothing to decode.
    Empty,
    /// A character outside both alphabets, at this byte offset.
    BadChar(usize),
    /// Both the standard (`+/`) and the URL-safe (`-_`) alphabet in one string.
    MixedAlphabets,
    /// A length no base64 string has (one character over a multiple of four, or padding that
    /// does not fill the last quantum, or more than two `=`).
    BadLength,
    /// `=` somewhere other than at the end.
    BadPadding,
    /// The last character carries bits beyond the encoded bytes (a non-canonical spelling).
    TrailingBits,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::Empty => f.write_str("empty base64"),
            Base64Error::BadChar(at) => write!(f, "non-base64 character at offset {at}"),
            Base64Error::MixedAlphabets => {
                f.write_str("base64 mixes standard and URL-safe alphabets")
            }
            Base64Error::BadLength => f.write_str("base64 of impossible length"),
            Base64Error::BadPadding => f.write_str("base64 padding not at the end"),
            Base64Error::TrailingBits => f.write_str("base64 with non-zero trailing bits"),
        }
    }
}

impl std::error::Error for Base64Error {}

/// Why a host (or a domain) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostError {
    /// No host.
    Empty,
    /// Longer than 253 characters, or a label longer than 63.
    TooLong,
    /// A character a DNS name may not hold (`@`, `%`, a space, a control character, non-ASCII…),
    /// an empty label, or a label starting or ending with `-`.
    BadName,
    /// A numeric spelling of an IPv4 address other than four dotted decimal parts (decimal
    /// integer, octal, hex, fewer parts, leading zeros): refused rather than interpreted.
    NonCanonicalIp,
    /// A bracketed (or bare, where allowed) IPv6 literal that does not parse, or carries a zone.
    BadIpv6,
    /// An IP literal where only a DNS name is allowed (the edge domain).
    IpNotAllowed,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostError::Empty => "empty host",
            HostError::TooLong => "host name too long",
            HostError::BadName => "not a DNS name",
            HostError::NonCanonicalIp => "non-canonical numeric IPv4 spelling",
            HostError::BadIpv6 => "malformed IPv6 literal",
            HostError::IpNotAllowed => "IP literal where a DNS name is required",
        })
    }
}

impl std::error::Error for HostError {}

/// Why a path was refused; each is a 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A character no path holds (space, control, `\`, `#`, non-ASCII…) or a `%` not followed by
    /// two hex digits.
    BadChar,
    /// A `.` or `..` segment in any spelling (`%2e%2e`, `.%2E`, `..;x`).
    DotSegment,
    /// `%2f` or `%5c`: a slash hidden from the check.
    EncodedSlash,
    /// An escape that decodes to another escape (`%252e`).
    DoubleEncoding,
    /// An escaped NUL or other control character.
    ControlChar,
    /// An empty segment (`//`) other than after the final `/`.
    EmptySegment,
    /// The decoded path is not UTF-8.
    NotUtf8,
}

impl PathError {
    /// A short label for counters.
    pub const fn reason(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "path_not_absolute",
            PathError::BadChar => "path_bad_char",
            PathError::DotSegment => "path_dot_segment",
            PathError::EncodedSlash => "path_encoded_slash",
            PathError::DoubleEncoding => "path_double_encoding",
            PathError::ControlChar => "path_control_char",
            PathError::EmptySegment => "path_empty_segment",
            PathError::NotUtf8 => "path_not_utf8",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "not absolute",
            PathError::BadChar => "character not allowed or malformed escape",
            PathError::DotSegment => "dot segment",
            PathError::EncodedSlash => "encoded slash or backslash",
            PathError::DoubleEncoding => "double percent-encoding",
            PathError::ControlChar => "NUL or control character",
            PathError::EmptySegment => "empty segment",
            PathError::NotUtf8 => "not UTF-8 once decoded",
        })
    }
}

impl std::error::Error for PathError {}

/// Decodes base64 in the standard (`+/`) or URL-safe (`-_`) alphabet, with or without `=`
/// padding. Refuses mixed alphabets and non-zero trailing bits, so every byte string has one
/// accepted spelling per alphabet and padding choice.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(Base64Error::Empty);
    }
    let body_len = bytes.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let pad = bytes.len() - body_len;
    if body_len == 0 {
        return Err(Base64Error::BadLength);
    }
    if bytes[..body_len].contains(&b'=') {
        return Err(Base64Error::BadPadding);
    }
    // Unpadded lengths are 0, 2 or 3 modulo 4; padding, when present, completes the quantum.
    let rem = body_len % 4;
    if rem == 1 || (pad > 0 && pad != 4 - rem) || (pad > 0 && rem == 0) {
        return Err(Base64Error::BadLength);
    }
    let (mut standard, mut url_safe) = (false, false);
    let mut out = Vec::with_capacity(body_len * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for (i, &b) in bytes[..body_len].iter().enumerate() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => {
                standard = true;
                62
            }
            b'/' => {
                standard = true;
                63
            }
            b'-' => {
                url_safe = true;
                62
            }
            b'_' => {
                url_safe = true;
                63
            }
            _ => return Err(Base64Error::BadChar(i)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if standard && url_safe {
        return Err(Base64Error::MixedAlphabets);
    }
    if acc != 0 {
        return Err(Base64Error::TrailingBits);
    }
    Ok(out)
}

/// `http` or `https`: how C talks to the inside server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Plain HTTP (TFTP-over-HTTP on 6970).
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// Parses `http` or `https` (ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<Scheme> {
        if s.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else if s.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else {
            None
        }
    }

    /// The scheme as written in URLs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The default port of the scheme (80 or 443).
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host in canonical form: equal hosts compare equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A DNS name, lowercase, without a trailing dot.
    Name(String),
    /// An IP address; IPv4-mapped IPv6 addresses are held as IPv4.
    Ip(IpAddr),
}

impl Host {
    /// Parses a host as it appears inside a URL authority: a DNS name, dotted-decimal IPv4 or a
    /// bracketed IPv6 literal. See [`Host::parse_bare`] for the target form, where brackets are
    /// optional.
    pub fn parse_url(s: &str) -> Result<Host, HostError> {
        parse_host(s, false)
    }

    /// Parses a host from the `domain/proto/host/port` target, where an IPv6 literal may come
    /// with or without brackets.
    pub fn parse_bare(s: &str) -> Result<Host, HostError> {
        parse_host(s, true)
    }

    /// The IP address, when the host is one.
    pub const fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl fmt::Display for Host {
    /// As written in a URL authority or a `Host` header: IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// Folds an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) into the IPv4 address.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn parse_ipv6(s: &str) -> Result<IpAddr, HostError> {
    // `Ipv6Addr::from_str` refuses zones (`%eth0`) and anything but hex, `:` and an embedded
    // dotted quad.
    s.parse::<Ipv6Addr>()
        .map(|a| canonical_ip(IpAddr::V6(a)))
        .map_err(|_| HostError::BadIpv6)
}

/// Strict dotted decimal: four parts, each 0-255, no leading zeros.
fn parse_dotted_quad(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        *o = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// Would a WHATWG URL parser or `inet_aton` read this label as a number?
fn numeric_label(l: &str) -> bool {
    let hex = l
        .strip_prefix("0x")
        .or_else(|| l.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_host(s: &str, bare_v6: bool) -> Result<Host, HostError> {
    if s.is_empty() {
        return Err(HostError::Empty);
    }
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(HostError::BadIpv6)?;
        return parse_ipv6(inner).map(Host::Ip);
    }
    if s.contains(':') {
        return if bare_v6 {
            parse_ipv6(s).map(Host::Ip)
        } else {
            Err(HostError::BadIpv6)
        };
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if name.len() > 253 {
        return Err(HostError::TooLong);
    }
    if let Some(v4) = parse_dotted_quad(name) {
        if name.len() == s.len() {
            return Ok(Host::Ip(IpAddr::V4(v4)));
        }
        // `192.168.0.1.`: an address spelled as a name.
        return Err(HostError::NonCanonicalIp);
    }
    let mut labels = name.split('.');
    // Any spelling whose last label is a number is an address to some parser: refuse it.
    if labels.clone().next_back().is_some_and(numeric_label)
        || name.split('.').all(|l| l.is_empty() || numeric_label(l))
    {
        return Err(HostError::NonCanonicalIp);
    }
    for l in &mut labels {
        if l.is_empty() {
            return Err(HostError::BadName);
        }
        if l.len() > 63 {
            return Err(HostError::TooLong);
        }
        if !l
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || l.starts_with('-')
            || l.ends_with('-')
        {
            return Err(HostError::BadName);
        }
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

/// Parses a port: 1 to 5 decimal digits without a leading zero, 1-65535.
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

/// Where a proxied request goes: the decoded first segment `domain/proto/host/port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProxyTarget {
    /// The edge domain the client is in, lowercase.
    pub domain: String,
    /// How C talks to the inside server.
    pub scheme: Scheme,
    /// The inside server, canonical.
    pub host: Host,
    /// The inside server's port.
    pub port: u16,
}

impl ProxyTarget {
    /// Parses the decoded first segment `domain/proto/host/port`.
    pub fn parse(s: &str) -> Result<ProxyTarget, TargetError> {
        if s.bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'@' || !b.is_ascii())
        {
            return Err(TargetError::BadTargetSyntax);
        }
        let parts: Vec<&str> = s.split('/').collect();
        let [domain, proto, host, port] = parts.as_slice() else {
            return Err(TargetError::BadTargetSyntax);
        };
        let domain = parse_domain(domain)?;
        let scheme = Scheme::parse(proto).ok_or(TargetError::BadScheme)?;
        let host = Host::parse_bare(host).map_err(TargetError::BadHost)?;
        let port = parse_port(port).ok_or(TargetError::BadPort)?;
        Ok(ProxyTarget {
            domain,
            scheme,
            host,
            port,
        })
    }

    /// The first segment this target is sent as: unpadded URL-safe base64 of
    /// `domain/proto/host/port` (the inverse of [`ProxyTarget::parse`] after [`decode_base64`]).
    pub fn encode(&self) -> String {
        let host = match &self.host {
            Host::Ip(IpAddr::V6(a)) => a.to_string(),
            h => h.to_string(),
        };
        encode_base64_url(
            format!("{}/{}/{}/{}", self.domain, self.scheme, host, self.port).as_bytes(),
        )
    }
}

impl fmt::Display for ProxyTarget {
    /// `scheme://host:port` (the domain is not part of a URL).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Unpadded URL-safe base64, for tests and for building targets.
pub fn encode_base64_url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn parse_domain(s: &str) -> Result<String, TargetError> {
    match Host::parse_url(s).map_err(TargetError::BadDomain)? {
        Host::Name(n) => Ok(n),
        Host::Ip(_) => Err(TargetError::BadDomain(HostError::IpNotAllowed)),
    }
}

/// A path (and query) checked for traversal and ready to send inside.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InsidePath {
    raw: String,
    decoded: String,
    query: Option<String>,
}

impl InsidePath {
    /// Checks a path and an optional query (without the `?`). The path must start with `/`.
    pub fn parse(path: &str, query: Option<&str>) -> Result<InsidePath, TargetError> {
        let decoded = check_path(path).map_err(TargetError::BadPath)?;
        if let Some(q) = query {
            check_query(q)?;
        }
        Ok(InsidePath {
            raw: path.to_owned(),
            decoded,
            query: query.map(str::to_owned),
        })
    }

    /// The path as the client wrote it, escapes kept: what C sends inside.
    pub fn path(&self) -> &str {
        &self.raw
    }

    /// The path with escapes decoded once: what allow-list rules compare against.
    pub fn decoded(&self) -> &str {
        &self.decoded
    }

    /// The query without the `?`, as written.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The origin-form request target to send inside: path, then `?query` if any.
    pub fn request_target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.raw),
            None => self.raw.clone(),
        }
    }
}

/// RFC 3986 `pchar` minus `%` (checked separately): unreserved, sub-delims, `:` and `@`.
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes once; `on_escape` sees each decoded byte.
fn percent_decode(
    s: &str,
    allowed: impl Fn(u8) -> bool,
    mut on_escape: impl FnMut(u8) -> Result<(), PathError>,
) -> Result<Vec<u8>, PathError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(hex_val);
            let lo = b.get(i + 2).copied().and_then(hex_val);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(PathError::BadChar);
            };
            let v = (hi << 4) | lo;
            on_escape(v)?;
            out.push(v);
            i += 3;
        } else if allowed(b[i]) {
            out.push(b[i]);
            i += 1;
        } else {
            return Err(PathError::BadChar);
        }
    }
    Ok(out)
}

fn escape_check(v: u8) -> Result<(), PathError> {
    match v {
        b'/' | b'\\' => Err(PathError::EncodedSlash),
        0..=0x1f | 0x7f => Err(PathError::ControlChar),
        _ => Ok(()),
    }
}

/// Does `%` followed by two hex digits occur in the decoded bytes?
fn has_escape(d: &[u8]) -> bool {
    d.windows(3)
        .any(|w| w[0] == b'%' && hex_val(w[1]).is_some() && hex_val(w[2]).is_some())
}

fn check_path(path: &str) -> Result<String, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let decoded = percent_decode(path, |b| b == b'/' || is_pchar(b), escape_check)?;
    if has_escape(&decoded) {
        return Err(PathError::DoubleEncoding);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::NotUtf8)?;
    if decoded.chars().any(char::is_control) {
        return Err(PathError::ControlChar);
    }
    let segments: Vec<&str> = decoded[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            // `/` alone, or a trailing `/`, is fine; `//` is not.
            if i == last {
                continue;
            }
            return Err(PathError::EmptySegment);
        }
        // `..;jsessionid=x` is `..` to Tomcat; `.. ` and `...` to Windows servers.
        let bare = seg
            .split(';')
            .next()
            .unwrap_or(seg)
            .trim_end_matches([' ', '.']);
        if bare.is_empty() {
            return Err(PathError::DotSegment);
        }
    }
    Ok(decoded)
}

fn check_query(q: &str) -> Result<(), TargetError> {
    percent_decode(
        q,
        |b| b == b'/' || b == b'?' || is_pchar(b),
        |v| match v {
            0 => Err(PathError::ControlChar),
            _ => Ok(()),
        },
    )
    .map(|_| ())
    .map_err(|_| TargetError::BadQuery)
}

/// A request to E's :8443, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeRequest {
    /// `GET /<b64(domain)>/get_edge_config[/]?service_name=…`.
    EdgeConfig {
        /// The edge domain the client asks about, lowercase.
        domain: String,
        /// The `service_name` values, in order, decoded (`+` is a space, as in forms).
        service_names: Vec<String>,
    },
    /// A request C forwards inside.
    Proxy {
        /// The inside server.
        target: ProxyTarget,
        /// The path and query to send it.
        path: InsidePath,
    },
}

/// Parses the origin-form request target of a request to E's :8443.
pub fn parse_request_target(request_target: &str) -> Result<EdgeRequest, TargetError> {
    let rest = request_target
        .strip_prefix('/')
        .ok_or(TargetError::NotOriginForm)?;
    let (path_part, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let (first, tail) = match path_part.find('/') {
        Some(i) => (&path_part[..i], &path_part[i..]),
        None => (path_part, ""),
    };
    if first.is_empty() {
        return Err(TargetError::NotOriginForm);
    }
    let bytes = decode_base64(first).map_err(TargetError::Base64)?;
    let decoded = String::from_utf8(bytes).map_err(|_| TargetError::NotUtf8)?;
    if !decoded.contains('/') {
        let domain = parse_domain(&decoded)?;
        if tail != "/get_edge_config" && tail != "/get_edge_config/" {
            return Err(TargetError::UnknownForm);
        }
        let service_names = match query {
            Some(q) => {
                check_query(q)?;
                service_names(q)?
            }
            None => Vec::new(),
        };
        return Ok(EdgeRequest::EdgeConfig {
            domain,
            service_names,
        });
    }
    let target = ProxyTarget::parse(&decoded)?;
    let path = InsidePath::parse(if tail.is_empty() { "/" } else { tail }, query)?;
    Ok(EdgeRequest::Proxy { target, path })
}

/// The `service_name` values of a `get_edge_config` query, decoded; other parameters ignored.
fn service_names(q: &str) -> Result<Vec<String>, TargetError> {
    let mut out = Vec::new();
    for pair in q.split('&') {
        let Some(v) = pair.strip_prefix("service_name=") else {
            continue;
        };
        let v = v.replace('+', " ");
        let bytes =
            percent_decode(&v, |_| true, |_| Ok(())).map_err(|_| TargetError::BadServiceName)?;
        let s = String::from_utf8(bytes).map_err(|_| TargetError::BadServiceName)?;
        if s.is_empty() || s.chars().any(|c| c.is_control() || c == ' ') {
            return Err(TargetError::BadServiceName);
        }
        out.push(s);
    }
    Ok(out)
}
