//! Why an HTTP/1.1 message was refused, and the status a server answers with.
//!
//! [`Reason`] names what was wrong; [`HttpError`] pairs it with the status code to answer. The
//! same reason maps to different statuses on the two sides: a request the edge cannot read gets
//! the status RFC 9112 names for it (400, 413, 414, 431, 501, 505), while a response from an
//! inside server the edge cannot read is answered to the client as `502 Bad Gateway`. Either way
//! the connection must be closed afterwards: once framing is in doubt, nothing after it can be
//! trusted (RFC 9112 §6.3, §11.2).

use core::fmt;

/// What was wrong with the bytes. Small and `Copy`: a driver counts them per peer and reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The request line is not `method SP request-target SP HTTP-version` (RFC 9112 §3): not
    /// single spaces, a method that is not a token, a malformed HTTP-version.
    BadRequestLine,
    /// The request line is longer than [`Limits::max_start_line`](super::Limits) (414, RFC 9112
    /// §3).
    RequestLineTooLong,
    /// The status line is not `HTTP-version SP 3DIGIT SP reason-phrase` (RFC 9112 §4), or is
    /// over the start line limit.
    BadStatusLine,
    /// A well-formed HTTP-version other than 1.0 and 1.1 (505, RFC 9110 §15.6.6).
    UnsupportedVersion,
    /// The request-target has a form the method does not allow (RFC 9112 §3.2): `*` other than
    /// for OPTIONS, authority-form, a fragment, a byte outside visible ASCII.
    BadTarget,
    /// A CONNECT request: the edge opens no tunnels (501).
    ConnectRefused,
    /// A line ends in a bare CR or a bare LF; this parser takes CRLF only (RFC 9112 §2.2 lets a
    /// recipient take a bare LF, which is a smuggling vector, so it does not).
    BadLineEnding,
    /// A field line is not `field-name ":" OWS field-value OWS` (RFC 9112 §5): the name is not a
    /// token, there is no colon, or whitespace sits between the name and the colon (§5.1: 400).
    BadHeaderLine,
    /// A field line starts with whitespace: obsolete line folding, or whitespace before the
    /// first field (RFC 9112 §5.2, §2.2: 400).
    ObsFold,
    /// A field value holds a control character (NUL, DEL, a CTL other than HTAB; RFC 9110 §5.5).
    BadHeaderValue,
    /// A header field line longer than [`Limits::max_header_line`](super::Limits) (431).
    HeaderLineTooLong,
    /// More header fields than [`Limits::max_headers`](super::Limits) (431).
    TooManyHeaders,
    /// The header section is over [`Limits::max_head`](super::Limits) (431).
    HeadTooLarge,
    /// An HTTP/1.1 request without a Host field (RFC 9112 §3.2: 400).
    MissingHost,
    /// More than one Host field (RFC 9112 §3.2: 400).
    DuplicateHost,
    /// A Host value that is not `uri-host [ ":" port ]`.
    BadHost,
    /// Both Transfer-Encoding and Content-Length: refused outright, never "TE wins" (RFC 9112
    /// §6.3 point 3 allows that; it is how request smuggling starts).
    BothLengthAndChunked,
    /// A Content-Length that is not `1*DIGIT`, or over 2^64-1 (`+5`, `-1`, `5 5`, `0x5`).
    BadContentLength,
    /// Several Content-Length values that differ, as separate fields or as a list (RFC 9110
    /// §8.6).
    ConflictingContentLength,
    /// Transfer-Encoding whose last coding is not `chunked` (RFC 9112 §6.3 point 4: 400).
    ChunkedNotFinal,
    /// A transfer coding before `chunked` that this parser does not decode (`gzip, chunked`;
    /// RFC 9112 §6.1: 501).
    UnsupportedTransferCoding,
    /// A Transfer-Encoding list that is empty or applies `chunked` twice (RFC 9112 §6.1).
    BadTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1: the framing is faulty).
    TransferEncodingInHttp10,
    /// The body is longer than [`Limits::max_body`](super::Limits) (413).
    BodyTooLarge,
    /// A chunk-size line that is not `1*HEXDIG [ chunk-ext ] CRLF`, whose size overflows 64 bits,
    /// or that is longer than [`Limits::max_chunk_line`](super::Limits) (RFC 9112 §7.1).
    BadChunkSize,
    /// Chunk data not followed by CRLF (RFC 9112 §7.1).
    BadChunkEnd,
    /// The peer closed the connection in the middle of a message.
    Truncated,
    /// A response arrived with no request waiting for it.
    UnexpectedResponse,
}

impl Reason {
    /// The status a server answers a request refused for this reason with.
    pub const fn request_status(self) -> u16 {
        match self {
            Reason::RequestLineTooLong => 414,
            Reason::UnsupportedVersion => 505,
            Reason::ConnectRefused | Reason::UnsupportedTransferCoding => 501,
            Reason::HeaderLineTooLong | Reason::TooManyHeaders | Reason::HeadTooLarge => 431,
            Reason::BodyTooLarge => 413,
            _ => 400,
        }
    }

    /// A short label for counters.
    pub const fn label(self) -> &'static str {
        match self {
            Reason::BadRequestLine => "bad_request_line",
            Reason::RequestLineTooLong => "request_line_too_long",
            Reason::BadStatusLine => "bad_status_line",
            Reason::UnsupportedVersion => "unsupported_version",
            Reason::BadTarget => "bad_target",
            Reason::ConnectRefused => "connect_refused",
            Reason::BadLineEnding => "bad_line_ending",
            Reason::BadHeaderLine => "bad_header_line",
            Reason::ObsFold => "obs_fold",
            Reason::BadHeaderValue => "bad_header_value",
            Reason::HeaderLineTooLong => "header_line_too_long",
            Reason::TooManyHeaders => "too_many_headers",
            Reason::HeadTooLarge => "head_too_large",
            Reason::MissingHost => "missing_host",
            Reason::DuplicateHost => "duplicate_host",
            Reason::BadHost => "bad_host",
            Reason::BothLengthAndChunked => "both_length_and_chunked",
            Reason::BadContentLength => "bad_content_length",
            Reason::ConflictingContentLength => "conflicting_content_length",
            Reason::ChunkedNotFinal => "chunked_not_final",
            Reason::UnsupportedTransferCoding => "unsupported_transfer_coding",
            Reason::BadTransferEncoding => "bad_transfer_encoding",
            Reason::TransferEncodingInHttp10 => "transfer_encoding_in_http10",
            Reason::BodyTooLarge => "body_too_large",
            Reason::BadChunkSize => "bad_chunk_size",
            Reason::BadChunkEnd => "bad_chunk_end",
            Reason::Truncated => "truncated",
            Reason::UnexpectedResponse => "unexpected_response",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::BadRequestLine => "malformed request line",
            Reason::RequestLineTooLong => "request line over the size limit",
            Reason::BadStatusLine => "malformed status line",
            Reason::UnsupportedVersion => "HTTP version not supported",
            Reason::BadTarget => "request-target not allowed here",
            Reason::ConnectRefused => "CONNECT is not supported",
            Reason::BadLineEnding => "bare CR or LF",
            Reason::BadHeaderLine => "malformed header field line",
            Reason::ObsFold => "header line starts with whitespace (obs-fold)",
            Reason::BadHeaderValue => "control character in a header value",
            Reason::HeaderLineTooLong => "header line over the size limit",
            Reason::TooManyHeaders => "too many header fields",
            Reason::HeadTooLarge => "header section over the size limit",
            Reason::MissingHost => "no Host in an HTTP/1.1 request",
            Reason::DuplicateHost => "more than one Host",
            Reason::BadHost => "malformed Host",
            Reason::BothLengthAndChunked => "both Transfer-Encoding and Content-Length",
            Reason::BadContentLength => "malformed Content-Length",
            Reason::ConflictingContentLength => "differing Content-Length values",
            Reason::ChunkedNotFinal => "chunked is not the final transfer coding",
            Reason::UnsupportedTransferCoding => "transfer coding not implemented",
            Reason::BadTransferEncoding => "malformed Transfer-Encoding",
            Reason::TransferEncodingInHttp10 => "Transfer-Encoding in HTTP/1.0",
            Reason::BodyTooLarge => "body over the size limit",
            Reason::BadChunkSize => "malformed chunk-size line",
            Reason::BadChunkEnd => "chunk data not followed by CRLF",
            Reason::Truncated => "connection closed inside a message",
            Reason::UnexpectedResponse => "response with no request outstanding",
        })
    }
}

/// A message that cannot be read: the status to answer and why. After one the connection must
/// be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HttpError {
    /// The status to answer: the request's own status ([`Reason::request_status`]) for a
    /// request, 502 for an unreadable response from an inside server.
    pub status: u16,
    /// What was wrong.
    pub reason: Reason,
}

impl HttpError {
    /// A request refused for `reason`.
    pub const fn request(reason: Reason) -> Self {
        Self {
            status: reason.request_status(),
            reason,
        }
    }

    /// A response refused for `reason`: the client is answered 502.
    pub const fn response(reason: Reason) -> Self {
        Self {
            status: 502,
            reason,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.status)
    }
}

impl std::error::Error for HttpError {}
