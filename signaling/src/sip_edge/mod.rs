//! SIP through the edge: E's proxy between client TLS flows and the traversal, C's proxy between
//! the traversal and call control, the envelope between them, STUN keepalives on client flows,
//! and the tokio drivers that run them.
//!
//! ```text
//!  client ──TLS 5061──▶ E: EProxy ──envelope on the traversal SIP stream──▶ C: CProxy ──TCP/UDP──▶ call control
//!         ◀── flow ───         ◀── (flow id, client address, message) ───         ◀── 5060 ───
//! ```
//!
//! - [`envelope`]: the wire format between E and C (flow id, client address, one SIP message);
//! - [`stun`]: STUN binding requests on a client's flow, answered (RFC 5389);
//! - [`e_proxy`]: [`EProxy`], E's sans-IO proxy: flows, Via/`received`/`rport`, 503 without a
//!   link or over the registration limit, 430 for a flow that is gone;
//! - [`c_proxy`]: [`CProxy`], C's sans-IO proxy: contact rewrite or Path registration, bindings
//!   by token, requests from inside routed back to the registering flow;
//! - [`driver`]: tokio + rustls: [`driver::run_e`] and [`driver::run_c`].
//!
//! The proxies take time as an argument and return actions; nothing here opens a socket except
//! the drivers.

pub mod c_proxy;
pub mod calls;
mod common;
pub mod driver;
pub mod e_proxy;
pub mod envelope;
pub mod stun;

#[cfg(test)]
mod tests;

pub use c_proxy::{Binding, CAction, CProxy, CProxyConfig, CStats, InsideHop, RegistrationMode};
pub use common::OwnNames;
pub use e_proxy::{EAction, EProxy, EProxyConfig, EStats, FlowInfo};
pub use envelope::{Envelope, EnvelopeError, EnvelopeReader, Kind, OwnedEnvelope};
