//! What parsing a SIP message can fail with, gathered from the module errors.
//!
//! [`Error`] is what [`Message::parse`](super::Message::parse) returns. It names the part of the
//! message at fault and says, through [`Error::kind`], whether the input was malformed (answer
//! 400), used something this stack does not support (a SIP version other than 2.0: answer 505), or
//! was too large. [`UriError`] (inside [`Error::BadUri`] and
//! [`Error::BadRequestUri`]) says which part of a URI was wrong, and
//! [`FramingError`] is the stream framer's own enum. Every one of
//! them is small and `Copy`: a driver counts them per peer and per reason ([`Error::reason`]).

use core::fmt;

use super::framing::FramingError;
use super::header::HeaderKind;
use super::uri::UriError;

/// Why a SIP message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The input holds nothing but CRLFs.
    Empty,
    /// The start line or the header section does not end: no CRLF after the start line, or no
    /// empty line after the last header field (RFC 3261 §7).
    Truncated,
    /// The start line is neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2): wrong
    /// number of single spaces, a method that is not a token, a malformed SIP-Version, control
    /// characters or a reason phrase that is not UTF-8.
    BadStartLine,
    /// The Status-Code is not three digits from 100 to 699 (RFC 3261 §7.2, §21).
    BadStatusCode,
    /// A well-formed SIP-Version other than `SIP/2.0`; a server answers 505.
    UnsupportedVersion,
    /// The Request-URI is malformed, or carries a part not allowed there (URI headers).
    BadRequestUri(UriError),
    /// A header line is not `name HCOLON value`: the name is not a token, the colon is missing,
    /// a bare CR or LF, or a continuation line before the first header field.
    BadHeaderLine,
    /// The value of a header field this layer understands does not match its grammar, or a
    /// number in it is out of range (e.g. a CSeq over 2^32-1, a Max-Forwards over 255).
    BadHeader(HeaderKind),
    /// A URI inside the named header field is malformed, or is not allowed in that form (a URI
    /// with `?` headers outside `<>`).
    BadUri(HeaderKind, UriError),
    /// A header field every request and response must carry is absent (RFC 3261 §8.1.1): Via,
    /// From, To, Call-ID or CSeq.
    MissingHeader(HeaderKind),
    /// A header field that takes one value appears more than once (RFC 4475 §3.3.8, §3.3.9).
    DuplicateHeader(HeaderKind),
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17).
    CSeqMethodMismatch,
    /// The body is shorter than Content-Length says (RFC 3261 §18.3, RFC 4475 §3.1.2.2).
    ContentLengthMismatch,
    /// The stream framer refused the bytes (see [`FramingError`]).
    Framing(FramingError),
}

/// The three families of [`Error`]: what a server answers, and what an operator should look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer sent bytes that are not a SIP message by the grammar: a 400, and a sign of a
    /// broken or hostile peer.
    Malformed,
    /// Well-formed, but uses something this stack does not implement: a 505.
    Unsupported,
    /// Over a configured size limit: a 513 where an answer is possible, else the flow is closed.
    TooLarge,
}

impl Error {
    /// Which family the error belongs to.
    pub const fn kind(self) -> ErrorKind {
        match self {
            Error::UnsupportedVersion => ErrorKind::Unsupported,
            Error::Framing(FramingError::HeaderTooLarge | FramingError::BodyTooLarge) => {
                ErrorKind::TooLarge
            }
            _ => ErrorKind::Malformed,
        }
    }

    /// The status code a server answers a request that failed this way with.
    pub const fn status_code(self) -> u16 {
        match self.kind() {
            ErrorKind::Malformed => 400,
            ErrorKind::Unsupported => 505,
            ErrorKind::TooLarge => 513,
        }
    }

    /// A short label for counters, e.g. `sip_parse_errors_total{reason="bad_header"}`.
    pub const fn reason(self) -> &'static str {
        match self {
            Error::Empty => "empty",
            Error::Truncated => "truncated",
            Error::BadStartLine => "bad_start_line",
            Error::BadStatusCode => "bad_status_code",
            Error::UnsupportedVersion => "unsupported_version",
            Error::BadRequestUri(_) => "bad_request_uri",
            Error::BadHeaderLine => "bad_header_line",
            Error::BadHeader(_) => "bad_header",
            Error::BadUri(..) => "bad_uri",
            Error::MissingHeader(_) => "missing_header",
            Error::DuplicateHeader(_) => "duplicate_header",
            Error::CSeqMethodMismatch => "cseq_method_mismatch",
            Error::ContentLengthMismatch => "content_length_mismatch",
            Error::Framing(e) => e.reason(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => f.write_str("empty message"),
            Error::Truncated => f.write_str("start line or header section not terminated"),
            Error::BadStartLine => f.write_str("malformed start line"),
            Error::BadStatusCode => f.write_str("status code not 100-699"),
            Error::UnsupportedVersion => f.write_str("SIP version not supported"),
            Error::BadRequestUri(e) => write!(f, "bad Request-URI: {e}"),
            Error::BadHeaderLine => f.write_str("malformed header line"),
            Error::BadHeader(h) => write!(f, "malformed {h} header"),
            Error::BadUri(h, e) => write!(f, "bad URI in {h} header: {e}"),
            Error::MissingHeader(h) => write!(f, "missing {h} header"),
            Error::DuplicateHeader(h) => write!(f, "more than one {h} header"),
            Error::CSeqMethodMismatch => f.write_str("CSeq method differs from request method"),
            Error::ContentLengthMismatch => f.write_str("body shorter than Content-Length"),
            Error::Framing(e) => write!(f, "framing: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<FramingError> for Error {
    fn from(e: FramingError) -> Self {
        Error::Framing(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_codes() {
        assert_eq!(Error::BadStartLine.status_code(), 400);
        assert_eq!(
            Error::MissingHeader(HeaderKind::Via).kind(),
            ErrorKind::Malformed
        );
        assert_eq!(Error::UnsupportedVersion.status_code(), 505);
        assert_eq!(
            Error::Framing(FramingError::BodyTooLarge).status_code(),
            513
        );
        assert_eq!(
            Error::Framing(FramingError::MissingContentLength).status_code(),
            400
        );
        assert_eq!(
            Error::MissingHeader(HeaderKind::CallId).to_string(),
            "missing Call-ID header"
        );
        assert_eq!(
            Error::BadUri(HeaderKind::To, UriError::Host).reason(),
            "bad_uri"
        );
    }
}
