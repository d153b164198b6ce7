//! Request and response heads (RFC 9112 §2–§6): the start line, the header fields, and the body
//! framing they decide.
//!
//! [`RequestHead::parse`] and [`ResponseHead::parse`] take one complete head (start line
//! through the empty line); the [`decoder`](super::decoder) finds heads on a stream and calls the
//! same code. Lines end in CRLF only. Field names and values keep their order and original case;
//! lookups ignore case.

use super::error::{HttpError, Reason};

/// Size limits for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in the start line, without its CRLF.
    pub max_start_line: usize,
    /// Most bytes in one header (or trailer) field line, without its CRLF.
    pub max_header_line: usize,
    /// Most header fields in a head, and most trailer fields after a chunked body.
    pub max_headers: usize,
    /// Most bytes from the start of the start line through the empty line; also bounds the
    /// trailer section.
    pub max_head: usize,
    /// Most body bytes (decoded, for chunked).
    pub max_body: u64,
    /// Most bytes in a chunk-size line with its extensions, without its CRLF.
    pub max_chunk_line: usize,
}

impl Default for Limits {
    /// 8 KiB lines, 100 fields, 32 KiB of head, 1 MiB of body, 1 KiB chunk-size lines.
    fn default() -> Self {
        Self {
            max_start_line: 8 * 1024,
            max_header_line: 8 * 1024,
            max_headers: 100,
            max_head: 32 * 1024,
            max_body: 1024 * 1024,
            max_chunk_line: 1024,
        }
    }
}

/// The HTTP versions this parser reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// The version as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the body of a message is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No body: a request without Content-Length or Transfer-Encoding, a response to HEAD, a
    /// 1xx, 204 or 304.
    Empty,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// Chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Until the server closes the connection: a response with neither field.
    UntilClose,
}

/// One header field: its name as received and its value with surrounding whitespace removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    name: String,
    value: Vec<u8>,
}

impl Field {
    /// The name, in its original case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value: visible ASCII, spaces, tabs and obs-text (bytes 0x80–0xFF).
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

/// Header (or trailer) fields in their order, with case-insensitive lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<Field>,
}

impl Headers {
    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(|f| (f.name(), f.value()))
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The value of the first field named `name` (any case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(Field::value)
    }

    /// The value of the first field named `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The values of every field named `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(Field::value)
    }

    /// Whether a comma-separated field named `name` lists `token` (any case), as
    /// `Connection: keep-alive, Upgrade` lists `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .any(|t| trim_ows(t).eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// The request-target (RFC 9112 §3.2), as received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `/path?query`.
    Origin(String),
    /// `scheme://authority/path?query`, as sent to a proxy.
    Absolute(String),
    /// `*`, for OPTIONS only.
    Asterisk,
}

impl Target {
    /// The target as received.
    pub fn as_str(&self) -> &str {
        match self {
            Target::Origin(s) | Target::Absolute(s) => s,
            Target::Asterisk => "*",
        }
    }
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    method: String,
    target: Target,
    version: Version,
    headers: Headers,
    framing: Framing,
}

impl RequestHead {
    /// Parses one complete request head: the request line through the empty line, nothing
    /// after. Errors carry the status to answer.
    pub fn parse(head: &[u8], limits: &Limits) -> Result<Self, HttpError> {
        let end = whole_head(head, limits, Side::Request)?;
        if end != head.len() {
            return Err(HttpError::request(Reason::BadHeaderLine));
        }
        Self::parse_scanned(head, limits).map_err(HttpError::request)
    }

    /// Parses a head the scanner has already checked (line endings, sizes).
    pub(super) fn parse_scanned(head: &[u8], limits: &Limits) -> Result<Self, Reason> {
        let mut lines = Lines(head);
        let line = lines.next().ok_or(Reason::BadRequestLine)?;
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(Reason::BadRequestLine);
        };
        if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
            return Err(Reason::BadRequestLine);
        }
        let version = parse_version(version).ok_or(Reason::BadRequestLine)??;
        let method = ascii(method);
        if method == "CONNECT" {
            return Err(Reason::ConnectRefused);
        }
        let target = parse_target(&method, target)?;
        let headers = parse_fields(lines)?;
        let hosts = headers.get_all("host").count();
        if hosts > 1 {
            return Err(Reason::DuplicateHost);
        }
        if hosts == 0 && version == Version::Http11 {
            return Err(Reason::MissingHost);
        }
        if headers.get("host").is_some_and(|h| !valid_host(h)) {
            return Err(Reason::BadHost);
        }
        let framing = match body_fields(&headers, version, false)? {
            Framing::UntilClose => Framing::Empty,
            f => f,
        };
        if let Framing::Length(n) = framing {
            if n > limits.max_body {
                return Err(Reason::BodyTooLarge);
            }
        }
        Ok(Self {
            method,
            target,
            version,
            headers,
            framing,
        })
    }

    /// The method, case as received (methods are case-sensitive).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request-target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// How the body is delimited: [`Framing::Empty`], [`Framing::Length`] or
    /// [`Framing::Chunked`] (never `UntilClose` for a request).
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether the connection stays open after this request (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` and without `close`.
    pub fn keep_alive(&self) -> bool {
        keep_alive(&self.headers, self.version)
    }
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    version: Version,
    status: u16,
    reason: String,
    headers: Headers,
    framing: Framing,
}

impl ResponseHead {
    /// Parses one complete response head, the answer to a request with `request_method` (a
    /// response to HEAD has no body). Errors carry status 502.
    pub fn parse(head: &[u8], limits: &Limits, request_method: &str) -> Result<Self, HttpError> {
        let end = whole_head(head, limits, Side::Response)?;
        if end != head.len() {
            return Err(HttpError::response(Reason::BadHeaderLine));
        }
        Self::parse_scanned(head, limits, request_method).map_err(HttpError::response)
    }

    pub(super) fn parse_scanned(
        head: &[u8],
        limits: &Limits,
        request_method: &str,
    ) -> Result<Self, Reason> {
        let mut lines = Lines(head);
        let line = lines.next().ok_or(Reason::BadStatusLine)?;
        let (version, rest) = (line.get(..8), line.get(8..));
        let version = version
            .and_then(parse_version)
            .ok_or(Reason::BadStatusLine)??;
        let rest = rest.unwrap_or_default();
        let code = match rest {
            [b' ', a, b, c] | [b' ', a, b, c, b' ', ..]
                if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() =>
            {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(Reason::BadStatusLine),
        };
        if !(100..=599).contains(&code) {
            return Err(Reason::BadStatusLine);
        }
        let phrase = rest.get(5..).unwrap_or_default();
        if !phrase.iter().all(|&b| is_field_byte(b)) {
            return Err(Reason::BadStatusLine);
        }
        let headers = parse_fields(lines)?;
        let no_body =
            request_method == "HEAD" || (100..200).contains(&code) || code == 204 || code == 304;
        let framing = if no_body {
            Framing::Empty
        } else {
            body_fields(&headers, version, true)?
        };
        if let Framing::Length(n) = framing {
            if n > limits.max_body {
                return Err(Reason::BodyTooLarge);
            }
        }
        Ok(Self {
            version,
            status: code,
            reason: String::from_utf8_lossy(phrase).into_owned(),
            headers,
            framing,
        })
    }

    /// The version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The status code, 100 to 599.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (obs-text bytes replaced if not UTF-8).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// How the body is delimited.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether the connection stays open after this response: as for requests, and never after
    /// a body delimited by the close.
    pub fn keep_alive(&self) -> bool {
        self.framing != Framing::UntilClose && keep_alive(&self.headers, self.version)
    }
}

fn keep_alive(headers: &Headers, version: Version) -> bool {
    if headers.has_token("connection", "close") {
        return false;
    }
    version == Version::Http11 || headers.has_token("connection", "keep-alive")
}

/// Which side a message is read for: decides the start line's limit reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Request,
    Response,
}

impl Side {
    pub(super) const fn error(self, reason: Reason) -> HttpError {
        match self {
            Side::Request => HttpError::request(reason),
            Side::Response => HttpError::response(reason),
        }
    }
}

/// Scans `head` as one complete head and returns where it ends.
fn whole_head(head: &[u8], limits: &Limits, side: Side) -> Result<usize, HttpError> {
    let mut scan = Scan::new(true);
    scan.feed(head, limits, side)
        .map_err(|r| side.error(r))?
        .ok_or(side.error(Reason::Truncated))
}

/// Incremental search for the end of a head or trailer section, checking line endings and the
/// size limits on the way, so that bytes trickling in are looked at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Scan {
    /// Whether the section starts with a start line (a head) or not (trailers).
    start_line: bool,
    /// Bytes already looked at.
    pos: usize,
    /// Where the current line starts.
    line_start: usize,
    /// Complete lines so far.
    lines: usize,
}

impl Scan {
    pub(super) const fn new(start_line: bool) -> Self {
        Self {
            start_line,
            pos: 0,
            line_start: 0,
            lines: 0,
        }
    }

    /// Looks at the bytes of `buf` not yet seen; `Some(len)` once the section ends at `len`.
    pub(super) fn feed(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        side: Side,
    ) -> Result<Option<usize>, Reason> {
        while let Some(&b) = buf.get(self.pos) {
            let i = self.pos;
            self.pos += 1;
            let prev_cr = i > self.line_start && buf.get(i - 1) == Some(&b'\r');
            if b == b'\n' {
                if !prev_cr {
                    return Err(Reason::BadLineEnding);
                }
                let empty = i - 1 == self.line_start;
                let first = self.lines == 0;
                self.lines += 1;
                self.line_start = self.pos;
                if empty && (!first || !self.start_line) {
                    return Ok(Some(self.pos));
                }
                if empty {
                    // an empty start line: not a start line at all
                    return Err(match side {
                        Side::Request => Reason::BadRequestLine,
                        Side::Response => Reason::BadStatusLine,
                    });
                }
                let fields = self.lines - usize::from(self.start_line);
                if fields > limits.max_headers {
                    return Err(Reason::TooManyHeaders);
                }
                continue;
            }
            if prev_cr {
                return Err(Reason::BadLineEnding);
            }
            // bytes of this line so far, not counting a CR that may end it
            let len = i + 1 - self.line_start - usize::from(b == b'\r');
            if self.lines == 0 && self.start_line {
                if len > limits.max_start_line {
                    return Err(match side {
                        Side::Request => Reason::RequestLineTooLong,
                        Side::Response => Reason::BadStatusLine,
                    });
                }
            } else if len > limits.max_header_line {
                return Err(Reason::HeaderLineTooLong);
            }
            if self.pos > limits.max_head {
                return Err(Reason::HeadTooLarge);
            }
        }
        Ok(None)
    }
}

/// The lines of a scanned section, without their CRLF, stopping at the empty line.
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let at = self.0.windows(2).position(|w| w == b"\r\n")?;
        let line = self.0.get(..at)?;
        self.0 = self.0.get(at + 2..)?;
        (!line.is_empty()).then_some(line)
    }
}

/// Field lines, each `field-name ":" OWS field-value OWS` (RFC 9112 §5).
fn parse_fields<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Result<Headers, Reason> {
    let mut fields = Vec::new();
    for line in lines {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return Err(Reason::ObsFold);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Reason::BadHeaderLine)?;
        let (name, value) = (line.get(..colon), line.get(colon + 1..));
        let name = name.unwrap_or_default();
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(Reason::BadHeaderLine);
        }
        let value = trim_ows(value.unwrap_or_default());
        if !value.iter().all(|&b| is_field_byte(b)) {
            return Err(Reason::BadHeaderValue);
        }
        fields.push(Field {
            name: ascii(name),
            value: value.to_vec(),
        });
    }
    Ok(Headers { fields })
}

/// Trailer fields after the last chunk (the section without its final empty line's CRLF
/// handling: `section` is what [`Scan`] found, fields then the empty line).
pub(super) fn parse_trailers(section: &[u8]) -> Result<Headers, Reason> {
    parse_fields(Lines(section))
}

/// `HTTP/1.1`, `HTTP/1.0`; `Some(Err)` for another well-formed version, `None` if malformed.
fn parse_version(v: &[u8]) -> Option<Result<Version, Reason>> {
    match v {
        b"HTTP/1.1" => Some(Ok(Version::Http11)),
        b"HTTP/1.0" => Some(Ok(Version::Http10)),
        [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(Err(Reason::UnsupportedVersion))
        }
        _ => None,
    }
}

fn parse_target(method: &str, t: &[u8]) -> Result<Target, Reason> {
    if t.is_empty() || !t.iter().all(|&b| (0x21..=0x7e).contains(&b) && b != b'#') {
        return Err(Reason::BadTarget);
    }
    if t == b"*" {
        return if method == "OPTIONS" {
            Ok(Target::Asterisk)
        } else {
            Err(Reason::BadTarget)
        };
    }
    if t.first() == Some(&b'/') {
        return Ok(Target::Origin(ascii(t)));
    }
    // absolute-form: scheme "://" (RFC 3986 §3.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ))
    let scheme_end = t.iter().position(|&b| b == b':').ok_or(Reason::BadTarget)?;
    let scheme = t.get(..scheme_end).unwrap_or_default();
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if scheme_ok && t.get(scheme_end..scheme_end + 3) == Some(b"://") {
        Ok(Target::Absolute(ascii(t)))
    } else {
        Err(Reason::BadTarget)
    }
}

/// `uri-host [ ":" port ]`, loosely: the characters a reg-name, IP literal or port may hold.
fn valid_host(h: &[u8]) -> bool {
    h.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
                    | b'%'
            )
    })
}

/// The framing Content-Length and Transfer-Encoding decide (RFC 9112 §6.3 points 3–7), for a
/// message that may have a body. `response` says which side: a response with neither field
/// runs until the close.
///
/// Several Content-Length values (separate fields, or a list in one) are folded into one when
/// they are byte-for-byte the same digits (RFC 9110 §8.6 allows this); anything that forwards
/// the message must write its own single Content-Length from [`Framing`], never copy the fields.
fn body_fields(headers: &Headers, version: Version, response: bool) -> Result<Framing, Reason> {
    let has_te = headers.get("transfer-encoding").is_some();
    let has_cl = headers.get("content-length").is_some();
    if has_te {
        if version == Version::Http10 {
            return Err(Reason::TransferEncodingInHttp10);
        }
        if has_cl {
            return Err(Reason::BothLengthAndChunked);
        }
        let codings: Vec<&[u8]> = headers
            .get_all("transfer-encoding")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
            .filter(|c| !c.is_empty())
            .collect();
        let Some((last, before)) = codings.split_last() else {
            return Err(Reason::BadTransferEncoding);
        };
        let chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        if !chunked(last) {
            return Err(Reason::ChunkedNotFinal);
        }
        if before.iter().any(|c| chunked(c)) {
            return Err(Reason::BadTransferEncoding);
        }
        if !before.is_empty() {
            return Err(Reason::UnsupportedTransferCoding);
        }
        return Ok(Framing::Chunked);
    }
    if has_cl {
        let mut value: Option<&[u8]> = None;
        for v in headers
            .get_all("content-length")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
        {
            if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
                return Err(Reason::BadContentLength);
            }
            match value {
                Some(seen) if seen != v => return Err(Reason::ConflictingContentLength),
                _ => value = Some(v),
            }
        }
        let mut n: u64 = 0;
        for &d in value.unwrap_or_default() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(Reason::BadContentLength)?;
        }
        return Ok(Framing::Length(n));
    }
    Ok(if response {
        Framing::UntilClose
    } else {
        Framing::Empty
    })
}

/// RFC 9110 §5.6.2 tchar.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// A byte allowed in a field value or reason phrase: HTAB, SP, VCHAR, obs-text.
pub(super) fn is_field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    v.get(start..end).unwrap_or_default()
}

/// Bytes already checked to be ASCII (tokens, targets) as a `String`.
fn ascii(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}
