//! Sans-IO signaling for the portico edge.
//!
//! SIP (messages, transactions, the E and C proxies, C's calls), SDP, HTTP and the HTTPS edge's
//! logic, the traversal link between the C and E roles (and, later, the XMPP stream relay), each
//! as a state machine driven by a runtime driver.
#![forbid(unsafe_code)]

pub mod http;
pub mod http_edge;
pub mod protection;
pub mod sdp;
pub mod sip;
pub mod sip_edge;
pub mod traversal;
