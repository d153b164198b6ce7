//! HTTP/1.1 message framing, sans-IO (RFC 9110, RFC 9112): the base of E's HTTPS proxy on 8443
//! and of C's requests to inside servers.
//!
//! - [`head`]: [`RequestHead`] and [`ResponseHead`] parsing, header lookup, the body
//!   [`Framing`] a head decides, and keep-alive.
//! - [`decoder`]: [`RequestDecoder`] and [`ResponseDecoder`], fed byte chunks and polled for
//!   [`Event`]s (head, body data, trailers, end).
//! - [`write`](mod@write): response heads and chunks.
//! - [`error`]: [`HttpError`], the status to answer and the [`Reason`].
//!
//! No sockets, threads or clocks. The parser is strict where leniency lets two parsers
//! disagree on where a message ends (request smuggling): CRLF only, no obs-fold, no
//! whitespace before a colon, Transfer-Encoding and Content-Length together refused, differing
//! Content-Length values refused, `chunked` the only transfer coding, none in HTTP/1.0.

pub mod decoder;
pub mod error;
pub mod head;
pub mod write;

#[cfg(test)]
mod tests;

pub use decoder::{Event, RequestDecoder, ResponseDecoder};
pub use error::{HttpError, Reason};
pub use head::{Field, Framing, Headers, Limits, RequestHead, ResponseHead, Target, Version};
pub use write::{
    end_to_end_fields, write_chunk, write_last_chunk, write_request_head, write_response_head,
    Body, WriteError,
};
