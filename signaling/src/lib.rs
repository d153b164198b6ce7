//! Sans-IO signaling for the portico edge.
//!
//! This crate will own SIP (messages, transactions, proxy, B2BUA), SDP, the HTTP edge logic, the
//! XMPP stream relay and the traversal link between the C and E roles, each as a state machine
//! driven by a runtime driver. It is empty until the issues that build those parts land.
#![forbid(unsafe_code)]

pub mod sdp;
pub mod sip;
pub mod sip_edge;
pub mod traversal;
