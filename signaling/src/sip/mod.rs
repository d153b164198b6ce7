//! SIP messages (RFC 3261), sans-IO: stream framing, parsing, the edits a proxy makes, and
//! writing messages back. The transaction layer and the proxy build on this.
//!
//! What this module owns:
//!
//! - [`framing`]: where one message ends in the bytes of a TLS or TCP flow (the header section
//!   and Content-Length, RFC 3261 §18.3), CRLF keepalives told apart (RFC 5626 §3.5.1), size
//!   limits;
//! - [`message`]: [`Message::parse`] of one message into its start line, its header fields in
//!   order and its body; typed views ([`header`], [`uri`]) of the fields a proxy must understand
//!   — Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route, Record-Route, Path,
//!   Supported, Require, Proxy-Require, Expires, Content-Length, Content-Type, long and compact
//!   names — and every other field kept as received (WWW-Authenticate, Authorization and the
//!   `Proxy-` challenge fields pass through untouched);
//! - [`serialize`]: [`Message::write`], which gives back the bytes parsed until an edit, and the
//!   edits (push and pop Via, `received` and `rport`, Record-Route, Path, Route, Contact,
//!   Max-Forwards, Request-URI, body), each rewriting only the line it changes;
//! - [`response`]: the responses the edge builds itself, including [`error_response`] for a
//!   request that did not parse (400, or 505 for another SIP version), and saying when a request
//!   cannot be answered at all;
//! - [`error`]: [`Error`], naming what was wrong and telling malformed input from unsupported
//!   features.
//!
//! It opens no socket and reads no clock; every function takes the caller's bytes and returns
//! values or appends to the caller's buffer. No input makes it panic (the fuzz target
//! `sip_message` and the random-input tests hold it to that), and the RFC 4475 torture messages
//! and RFC 5118 IPv6 messages are among its tests, each with the verdict it gets and why.
//!
//! # Driving it
//!
//! A driver reads bytes from the TLS flow into a buffer and asks the framer what is at its
//! front until the answer is [`Frame::Incomplete`]; after each frame it drains that many bytes.
//! A ping gets a pong; a message is parsed, edited and written toward its next hop, or answered
//! with an error response. A [`FramingError`] means the flow can no longer be read: close it.
//!
//! ```
//! use signaling::sip::{error_response, Frame, Framer, Limits, Role};
//! use signaling::sip::{Host, Message, Transport, Via};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let peer: std::net::SocketAddr = "198.51.100.9:61234".parse()?;
//! let mut framer = Framer::new(Limits::default(), Role::Server);
//! // What TLS delivered: a keepalive ping, then a REGISTER.
//! let mut inbuf = b"\r\n\r\nREGISTER sip:example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/TLS 10.0.0.5:50612;branch=z9hG4bK-1;rport\r\n\
//!     Max-Forwards: 70\r\n\
//!     From: <sip:alice@example.com>;tag=a1\r\n\
//!     To: <sip:alice@example.com>\r\n\
//!     Call-ID: 8f2c@10.0.0.5\r\n\
//!     CSeq: 1 REGISTER\r\n\
//!     Contact: <sip:alice@10.0.0.5:50612;transport=tls;ob>;reg-id=1\r\n\
//!     Content-Length: 0\r\n\r\n"
//!     .to_vec();
//! let (mut to_client, mut to_inside) = (Vec::new(), Vec::new());
//! loop {
//!     let frame = framer.next(&inbuf)?;
//!     match frame {
//!         Frame::Incomplete => break, // read more from TLS
//!         Frame::Ping => to_client.extend_from_slice(b"\r\n"),
//!         Frame::Pong => {}
//!         Frame::Message { len } => match Message::parse(&inbuf[..len]) {
//!             Ok(mut msg) => {
//!                 msg.stamp_received(peer)?;
//!                 msg.decrement_max_forwards()?; // EditError::TooManyHops: answer 483 instead
//!                 let me = Host::Name("expe.example.com".into());
//!                 msg.push_via(&Via::new(Transport::Tls, me, Some(7001), "z9hG4bK-e1"))?;
//!                 msg.write(&mut to_inside);
//!             }
//!             // Unanswerable: drop it (on a stream, perhaps close the flow)
//!             Err(e) => drop(error_response(&inbuf[..len], e, "e-1", &mut to_client)),
//!         },
//!     }
//!     inbuf.drain(..frame.len());
//! }
//! assert_eq!(to_client, b"\r\n");
//! let sent = Message::parse(&to_inside)?;
//! assert_eq!(sent.vias().count(), 2);
//! assert_eq!(sent.vias().nth(1).and_then(|v| v.rport()), Some(Some(61234)));
//! assert_eq!(sent.max_forwards(), Some(69));
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod framing;
pub mod header;
mod lex;
pub mod message;
pub mod response;
pub mod serialize;
pub mod transaction;
pub mod uri;

#[cfg(test)]
mod rfc4475;
pub mod rfc4475_vectors;
#[cfg(test)]
mod rfc5118;
#[cfg(test)]
mod tests;

pub use error::{Error, ErrorKind};
pub use framing::{Frame, Framer, FramingError, Limits, Role};
pub use header::{
    parse_value, CSeq, Contacts, DisplayName, HeaderKind, MediaType, NameAddr, Transport, Value,
    Via, MAGIC_COOKIE,
};
pub use message::{HeaderRef, Message, Method, RequestLine, StartLine, StatusLine};
pub use response::{error_response, Unanswerable};
pub use serialize::EditError;
pub use uri::{AbsoluteUri, Host, Param, SipUri, TelUri, Uri, UriError};
