//! The HTTPS edge's own logic, sans-IO (issue 7): what C decides before it sends a request from
//! outside to an inside server, and what E answers to `get_edge_config`.
//!
//! - [`target`]: the request targets of MRA on :8443 (`/<b64(domain)>/get_edge_config` and
//!   `/<b64("domain/proto/host/port")>/<path>`), base64, canonical hosts, traversal-proof paths;
//! - [`allow_list`]: C's HTTP allow list (automatic rules per inside server, manual rules, CSV
//!   import/export), the DNS-rebinding guard and the redirect check;
//! - [`edge_config`]: the `getEdgeConfigResponse` XML;
//! - [`auth`]: the `Authorization` header, C's credential cache and the auth cookie.
//!
//! Nothing here opens a socket or resolves a name: DNS answers come in as arguments. A parse
//! failure is a [`TargetError`] (400); an allow-list decision against a request is a
//! [`Refusal`] (403, or 502 where the inside server misbehaved or nothing resolved).

pub mod allow_list;
pub mod auth;
pub mod edge_config;
pub mod target;

#[cfg(test)]
mod tests;

pub use allow_list::{
    AllowList, CsvError, CsvErrorKind, InsideServer, InsideServerKind, MatchKind, Method, Methods,
    Origin, Refusal, Rule, RuleError,
};
pub use edge_config::{EdgeConfigError, EdgeConfigInput, EdgeServer, SipRoute, SrvServer};
pub use target::{
    decode_base64, parse_request_target, Base64Error, EdgeRequest, Host, HostError, InsidePath,
    PathError, ProxyTarget, Scheme, TargetError,
};
