//! Writing request and response heads and chunks (RFC 9112 §3, §4, §6, §7.1), and telling the
//! hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1).
//!
//! The framing header is written from a [`Body`] argument, never taken from the caller's fields:
//! a response relayed from an inside server gets exactly one Content-Length or
//! `Transfer-Encoding: chunked` that matches what is sent after it.

use core::fmt;

use super::head::{is_field_byte, is_tchar};

/// How the body of a written response is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    /// No body: `Content-Length: 0`, or no framing field for a 1xx, 204 or 304.
    Empty,
    /// Exactly this many bytes follow (for a response to HEAD, the length a GET would have).
    Length(u64),
    /// Chunks follow ([`write_chunk`], then [`write_last_chunk`]). Only for HTTP/1.1 clients.
    Chunked,
}

/// Why a response head was not written: the caller passed something that is not HTTP. Nothing
/// is appended to the output when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteError {
    /// The status is not from 100 to 599.
    BadStatus,
    /// The reason phrase holds a control character.
    BadReason,
    /// A field name that is not a token.
    BadHeaderName,
    /// A field value with a control character (CR, LF, NUL…).
    BadHeaderValue,
    /// A Content-Length or Transfer-Encoding field: the framing comes from [`Body`].
    FramingHeader,
    /// A body for a 1xx or 204, which cannot have one (RFC 9110 §15.2, §15.3.5), or chunks for
    /// a 304.
    BodyNotAllowed,
    /// A request method that is not a token.
    BadMethod,
    /// A request target that is empty or holds spaces or controls.
    BadTarget,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteError::BadStatus => "status outside 100-599",
            WriteError::BadReason => "control character in the reason phrase",
            WriteError::BadHeaderName => "header name is not a token",
            WriteError::BadHeaderValue => "control character in a header value",
            WriteError::FramingHeader => "Content-Length or Transfer-Encoding given as a field",
            WriteError::BodyNotAllowed => "a body on a status that cannot have one",
            WriteError::BadMethod => "request method is not a token",
            WriteError::BadTarget => "request target is empty or holds spaces or controls",
        })
    }
}

impl std::error::Error for WriteError {}

/// Appends `HTTP/1.1 status reason`, the `headers` in order, the framing field `body` calls
/// for, and the empty line to `out`.
pub fn write_response_head<I, N, V>(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    headers: I,
    body: Body,
) -> Result<(), WriteError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    if !(100..=599).contains(&status) {
        return Err(WriteError::BadStatus);
    }
    if !reason.bytes().all(is_field_byte) {
        return Err(WriteError::BadReason);
    }
    let no_body = (100..200).contains(&status) || status == 204;
    if (no_body && body != Body::Empty) || (status == 304 && body == Body::Chunked) {
        return Err(WriteError::BodyNotAllowed);
    }
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
    write_fields(&mut head, headers)?;
    match body {
        Body::Empty if no_body || status == 304 => {}
        Body::Empty => head.extend_from_slice(b"Content-Length: 0\r\n"),
        Body::Length(n) => head.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes()),
        Body::Chunked => head.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    head.extend_from_slice(b"\r\n");
    out.extend_from_slice(&head);
    Ok(())
}

/// Appends `method target HTTP/1.1`, the `headers` in order (Host among them, as the caller
/// gives it), the framing field `body` calls for (none for [`Body::Empty`]: a request without a
/// body carries no length), and the empty line to `out`. The method must be a token and the
/// target an origin-form (`/path?query`) or absolute-form URI without spaces or controls.
pub fn write_request_head<I, N, V>(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    headers: I,
    body: Body,
) -> Result<(), WriteError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(WriteError::BadMethod);
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(WriteError::BadTarget);
    }
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(format!("{method} {target} HTTP/1.1\r\n").as_bytes());
    write_fields(&mut head, headers)?;
    match body {
        Body::Empty => {}
        Body::Length(n) => head.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes()),
        Body::Chunked => head.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    head.extend_from_slice(b"\r\n");
    out.extend_from_slice(&head);
    Ok(())
}

/// The fields, checked and written (no framing fields: those come from [`Body`]).
fn write_fields<I, N, V>(head: &mut Vec<u8>, headers: I) -> Result<(), WriteError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    for (name, value) in headers {
        let (name, value) = (name.as_ref(), value.as_ref());
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(WriteError::BadHeaderName);
        }
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(WriteError::FramingHeader);
        }
        if !value.iter().all(|&b| is_field_byte(b)) {
            return Err(WriteError::BadHeaderValue);
        }
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// The fields of `headers` a proxy forwards: all but the hop-by-hop ones (`Connection` and the
/// fields it names, `Keep-Alive`, `Proxy-Connection`, `Proxy-Authenticate`,
/// `Proxy-Authorization`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`) and `Content-Length`
/// (the framing is written again from the body relayed), in order.
pub fn end_to_end_fields(headers: &super::Headers) -> Vec<(&str, &[u8])> {
    const HOP_BY_HOP: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    ];
    let named: Vec<String> = headers
        .get_all("connection")
        .flat_map(|v| v.split(|&b| b == b','))
        .filter_map(|t| std::str::from_utf8(t).ok())
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.to_ascii_lowercase();
            !HOP_BY_HOP.contains(&n.as_str()) && !named.contains(&n)
        })
        .collect()
}

/// Appends one chunk holding `data`; nothing for empty `data` (an empty chunk would end the
/// body).
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and an empty trailer section.
pub fn write_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}
