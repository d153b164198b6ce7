//! E's SIP proxy, sans-IO: client TLS flows on one side, the traversal SIP stream to C on the
//! other.
//!
//! E keeps no routing state beyond its flows: every message from a client goes to C in an
//! envelope naming the flow; every request C sends for a client names the flow it wants; every
//! response finds its flow from the Via E pushed (`branch=z9hG4bK-E<flow>-…`). What E does to
//! a message (RFC 3261 §16.6, §18.2.1, RFC 3581):
//!
//! - a request from a client: `received`/`rport` on its Via, Max-Forwards decremented (483 at
//!   0), a top Route naming E removed, E's Via pushed, and off to C. Answered here instead: 503
//!   with Retry-After when the traversal link is down, and a REGISTER from a flow without a
//!   registration once the registration limit is reached;
//! - a response from a client: E's Via popped (it must be there), to C;
//! - a request from C: E's Via pushed, Max-Forwards decremented, written to the flow named; a
//!   flow that is gone is answered 430 Flow Failed (RFC 5626 §5.3) back to C;
//! - a response from C: E's Via popped, written to the flow its branch names; a REGISTER's 2xx
//!   marks the flow registered until the granted expiry (for the limit and the status page).
//!
//! Messages that do not parse get 400 (or 505/513) when they can be answered at all and are
//! counted either way; nothing a client sends reaches C unparsed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::common::{branch, branch_id, respond, stable_hash, write_metrics, OwnNames};
use super::envelope::{Envelope, Kind};
use crate::sip::{
    error_response, EditError, Host, Message, Method, NameAddr, Param, SipUri, Transport, Uri, Via,
};

/// How E's proxy is set up.
#[derive(Clone, Debug)]
pub struct EProxyConfig {
    /// The sent-by of E's Via (E's name as clients know it).
    pub via_host: Host,
    /// Its port (the client-facing SIP TLS port).
    pub via_port: u16,
    /// E's own names: a top Route naming one of them is E's and is removed.
    pub own: OwnNames,
    /// Flows holding a registration at most; beyond, a REGISTER from another flow gets 503.
    pub registration_limit: u32,
    /// The Retry-After of that 503 (and of the 503 while the traversal link is down, capped at
    /// 30 s there).
    pub retry_after: Duration,
    /// The first flow id (different per process start, so that ids of a previous run never
    /// match a new flow).
    pub first_flow: u64,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EAction {
    /// Write these bytes to the client's flow.
    ToClient {
        /// The flow.
        flow: u64,
        /// One SIP message (or a STUN/CRLF answer the driver makes itself).
        bytes: Vec<u8>,
    },
    /// Send these envelope bytes to C on the traversal SIP stream.
    ToC(Vec<u8>),
}

/// Counters (Prometheus names in [`EStats::metrics`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EStats {
    /// Flows opened.
    pub flows_opened: u64,
    /// Requests from clients passed to C.
    pub requests_to_c: u64,
    /// Responses from clients passed to C.
    pub responses_to_c: u64,
    /// Requests from C written to a client flow.
    pub requests_to_clients: u64,
    /// Responses from C written to a client flow.
    pub responses_to_clients: u64,
    /// Client messages that did not parse (answered 400/505/513 where possible).
    pub rejected_malformed: u64,
    /// Requests answered 483 (Max-Forwards exhausted).
    pub rejected_too_many_hops: u64,
    /// REGISTERs answered 503 because of the registration limit.
    pub rejected_registration_limit: u64,
    /// Requests answered 503 because no traversal link to C was up.
    pub rejected_no_link: u64,
    /// Requests from C for a flow that is gone (answered 430).
    pub flow_failed: u64,
    /// Responses dropped: no E Via on top, or their flow is gone.
    pub dropped_responses: u64,
    /// Messages from C that did not parse, or envelopes of a kind C must not send.
    pub dropped_from_c: u64,
    /// Edits refused (a header E had to change did not allow it): answered 400 where possible.
    pub rejected_edit: u64,
}

impl EStats {
    /// The counters as Prometheus text lines (`portico_e_sip_…`).
    pub fn metrics(&self, out: &mut String) {
        let rows: [(&str, &str, u64); 13] = [
            ("flows_opened_total", "", self.flows_opened),
            ("requests_to_c_total", "", self.requests_to_c),
            ("responses_to_c_total", "", self.responses_to_c),
            ("requests_to_clients_total", "", self.requests_to_clients),
            ("responses_to_clients_total", "", self.responses_to_clients),
            (
                "rejected_total",
                "reason=\"malformed\"",
                self.rejected_malformed,
            ),
            (
                "rejected_total",
                "reason=\"too_many_hops\"",
                self.rejected_too_many_hops,
            ),
            (
                "rejected_total",
                "reason=\"registration_limit\"",
                self.rejected_registration_limit,
            ),
            (
                "rejected_total",
                "reason=\"no_traversal_link\"",
                self.rejected_no_link,
            ),
            ("rejected_total", "reason=\"edit\"", self.rejected_edit),
            ("flow_failed_total", "", self.flow_failed),
            (
                "dropped_total",
                "reason=\"response\"",
                self.dropped_responses,
            ),
            ("dropped_total", "reason=\"from_c\"", self.dropped_from_c),
        ];
        write_metrics("portico_e_sip", &rows, out);
    }
}

/// One client flow.
#[derive(Clone, Debug)]
struct Flow {
    client: SocketAddr,
    /// Until when the flow holds a registration (the last REGISTER's 2xx).
    registered_until: Option<Instant>,
    /// The Expires the last REGISTER asked for (0: an unregistration).
    asked_expires: Option<u32>,
}

/// What the status page shows of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowInfo {
    /// The flow id.
    pub flow: u64,
    /// The client's address.
    pub client: SocketAddr,
    /// Seconds of registration left, if registered.
    pub registered_for: Option<u64>,
}

/// E's SIP proxy (see the module docs).
#[derive(Debug)]
pub struct EProxy {
    config: EProxyConfig,
    flows: HashMap<u64, Flow>,
    next_flow: u64,
    registered: u32,
    stats: EStats,
}

impl EProxy {
    /// A proxy without flows.
    pub fn new(config: EProxyConfig) -> Self {
        let next_flow = config.first_flow.max(1);
        Self {
            config,
            flows: HashMap::new(),
            next_flow,
            registered: 0,
            stats: EStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &EStats {
        &self.stats
    }

    /// Flows open now.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Flows holding a registration now.
    pub fn registered_count(&self) -> u32 {
        self.registered
    }

    /// The flows, for the status page (at most `limit`).
    pub fn flows(&self, now: Instant, limit: usize) -> Vec<FlowInfo> {
        let mut v: Vec<FlowInfo> = self
            .flows
            .iter()
            .map(|(&flow, f)| FlowInfo {
                flow,
                client: f.client,
                registered_for: f
                    .registered_until
                    .map(|t| t.saturating_duration_since(now).as_secs()),
            })
            .collect();
        v.sort_by_key(|f| f.flow);
        v.truncate(limit);
        v
    }

    /// A client connected: its flow id.
    pub fn open_flow(&mut self, client: SocketAddr) -> u64 {
        let flow = self.next_flow;
        self.next_flow = self.next_flow.wrapping_add(1).max(1);
        self.flows.insert(
            flow,
            Flow {
                client,
                registered_until: None,
                asked_expires: None,
            },
        );
        self.stats.flows_opened += 1;
        flow
    }

    /// A client's flow closed: C is told, so that requests for its bindings fail fast.
    pub fn close_flow(&mut self, flow: u64, c_linked: bool, out: &mut Vec<EAction>) {
        let Some(f) = self.flows.remove(&flow) else {
            return;
        };
        if f.registered_until.is_some() {
            self.registered = self.registered.saturating_sub(1);
        }
        if c_linked {
            let env = Envelope {
                kind: Kind::FlowClosed,
                flow,
                client: Some(f.client),
                message: b"",
            };
            out.push(EAction::ToC(env.to_bytes()));
        }
    }

    /// Registrations past their expiry stop counting (call about once a second).
    pub fn expire(&mut self, now: Instant) {
        for f in self.flows.values_mut() {
            if f.registered_until.is_some_and(|t| t <= now) {
                f.registered_until = None;
                self.registered = self.registered.saturating_sub(1);
            }
        }
    }

    fn to_tag(&self, flow: u64) -> String {
        format!("e{flow:x}")
    }

    /// One framed SIP message from a client's flow. `c_linked`: whether a traversal link to C
    /// is up (else requests get 503).
    pub fn from_client(
        &mut self,
        flow: u64,
        bytes: &[u8],
        c_linked: bool,
        now: Instant,
        out: &mut Vec<EAction>,
    ) {
        let Some(f) = self.flows.get(&flow) else {
            return;
        };
        let client = f.client;
        let mut msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.stats.rejected_malformed += 1;
                let mut r = Vec::new();
                if error_response(bytes, e, &self.to_tag(flow), &mut r).is_ok() {
                    out.push(EAction::ToClient { flow, bytes: r });
                }
                return;
            }
        };
        if msg.is_request() {
            self.request_from_client(flow, client, &mut msg, c_linked, now, out);
        } else {
            // E's Via must be on top: E pushed it on the request C sent.
            if msg.top_via().and_then(|v| branch_id(v, 'E')).is_none() || !c_linked {
                self.stats.dropped_responses += 1;
                return;
            }
            msg.pop_via();
            self.stats.responses_to_c += 1;
            out.push(EAction::ToC(
                Envelope {
                    kind: Kind::FromClient,
                    flow,
                    client: Some(client),
                    message: &msg.to_bytes(),
                }
                .to_bytes(),
            ));
        }
    }

    fn answer(
        &mut self,
        flow: u64,
        msg: &Message,
        code: u16,
        reason: &str,
        extra: &[(&str, &str)],
        out: &mut Vec<EAction>,
    ) {
        if let Some(bytes) = respond(msg, code, reason, &self.to_tag(flow), extra) {
            out.push(EAction::ToClient { flow, bytes });
        }
    }

    fn request_from_client(
        &mut self,
        flow: u64,
        client: SocketAddr,
        msg: &mut Message,
        c_linked: bool,
        now: Instant,
        out: &mut Vec<EAction>,
    ) {
        let is_ack = msg.method() == Some(&Method::Ack);
        if !c_linked {
            self.stats.rejected_no_link += 1;
            if !is_ack {
                let secs = self.config.retry_after.as_secs().clamp(1, 30).to_string();
                self.answer(
                    flow,
                    msg,
                    503,
                    "Service Unavailable (no traversal link)",
                    &[("Retry-After", &secs)],
                    out,
                );
            }
            return;
        }
        if msg.method() == Some(&Method::Register) {
            let asked = register_expires(msg);
            let registered = self
                .flows
                .get(&flow)
                .is_some_and(|f| f.registered_until.is_some_and(|t| t > now));
            if asked != 0 && !registered && self.registered >= self.config.registration_limit {
                self.stats.rejected_registration_limit += 1;
                let secs = self.config.retry_after.as_secs().max(1).to_string();
                self.answer(
                    flow,
                    msg,
                    503,
                    "Service Unavailable (registration limit)",
                    &[("Retry-After", &secs)],
                    out,
                );
                return;
            }
            if let Some(f) = self.flows.get_mut(&flow) {
                f.asked_expires = Some(asked);
            }
        }
        if let Err(e) = self.edit_request(msg, client, flow) {
            self.reject_edit(flow, msg, e, is_ack, out);
            return;
        }
        self.stats.requests_to_c += 1;
        out.push(EAction::ToC(
            Envelope {
                kind: Kind::FromClient,
                flow,
                client: Some(client),
                message: &msg.to_bytes(),
            }
            .to_bytes(),
        ));
    }

    fn reject_edit(
        &mut self,
        flow: u64,
        msg: &Message,
        e: EditError,
        is_ack: bool,
        out: &mut Vec<EAction>,
    ) {
        if is_ack {
            self.stats.rejected_edit += 1;
            return;
        }
        match e {
            EditError::TooManyHops => {
                self.stats.rejected_too_many_hops += 1;
                self.answer(flow, msg, 483, "Too Many Hops", &[], out);
            }
            other => {
                self.stats.rejected_edit += 1;
                let reason = format!("Bad Request ({other})");
                self.answer(flow, msg, 400, &reason, &[], out);
            }
        }
    }

    fn edit_request(
        &self,
        msg: &mut Message,
        client: SocketAddr,
        flow: u64,
    ) -> Result<(), EditError> {
        msg.stamp_received(client)?;
        msg.decrement_max_forwards()?;
        if msg
            .routes()
            .next()
            .is_some_and(|r| self.config.own.is_our_route(r))
        {
            msg.pop_route();
        }
        let top = msg
            .top_via()
            .map(|v| v.branch().unwrap_or_default().to_owned());
        // A CANCEL and the ACK of a failure take their INVITE's branch (RFC 3261 §16.11).
        let method = match &msg.cseq().method {
            Method::Cancel | Method::Ack => "INVITE",
            m => m.as_str(),
        };
        let hash = stable_hash(&[
            top.unwrap_or_default().as_bytes(),
            msg.call_id().as_bytes(),
            &msg.cseq().seq.to_be_bytes(),
            method.as_bytes(),
        ]);
        if msg.method() == Some(&Method::Invite) && msg.to().tag().is_none() {
            msg.add_record_route(&self.record_route())?;
        }
        let via = Via::new(
            Transport::Tls,
            self.config.via_host.clone(),
            Some(self.config.via_port),
            &branch('E', flow, hash),
        );
        msg.push_via(&via)?;
        msg.ensure_content_length()
    }

    /// E's Record-Route: `<sip:E:port;transport=tls;lr>`, so that clients send the requests
    /// of a dialog through E.
    fn record_route(&self) -> NameAddr {
        let mut uri = SipUri::new(self.config.via_host.clone());
        uri.port = Some(self.config.via_port);
        uri.params.push(Param::with_value("transport", "tls"));
        uri.params.push(Param::flag("lr"));
        NameAddr::new(Uri::Sip(uri))
    }

    /// One envelope from C.
    pub fn from_c(&mut self, env: Envelope<'_>, now: Instant, out: &mut Vec<EAction>) {
        if env.kind != Kind::ToClient {
            self.stats.dropped_from_c += 1;
            return;
        }
        let Ok(mut msg) = Message::parse(env.message) else {
            self.stats.dropped_from_c += 1;
            return;
        };
        if msg.is_request() {
            self.request_from_c(env.flow, &mut msg, out);
        } else {
            self.response_from_c(&mut msg, now, out);
        }
    }

    /// E's own answer to a request C sent for `flow`, back to C.
    fn answer_c(&self, flow: u64, msg: &Message, code: u16, reason: &str, out: &mut Vec<EAction>) {
        if let Some(bytes) = respond(msg, code, reason, &self.to_tag(flow), &[]) {
            out.push(EAction::ToC(
                Envelope {
                    kind: Kind::FromClient,
                    flow,
                    client: None,
                    message: &bytes,
                }
                .to_bytes(),
            ));
        }
    }

    fn request_from_c(&mut self, flow: u64, msg: &mut Message, out: &mut Vec<EAction>) {
        let is_ack = msg.method() == Some(&Method::Ack);
        if !self.flows.contains_key(&flow) {
            self.stats.flow_failed += 1;
            if !is_ack {
                self.answer_c(flow, msg, 430, "Flow Failed", out);
            }
            return;
        }
        let hash = stable_hash(&[
            msg.top_via()
                .and_then(|v| v.branch())
                .unwrap_or_default()
                .as_bytes(),
            msg.call_id().as_bytes(),
        ]);
        let via = Via::new(
            Transport::Tls,
            self.config.via_host.clone(),
            Some(self.config.via_port),
            &branch('E', flow, hash),
        );
        // E's own Record-Route, as the next Route of a request inside a dialog: E's.
        while msg
            .routes()
            .next()
            .is_some_and(|r| self.config.own.is_our_route(r))
        {
            msg.pop_route();
        }
        let record_route = (msg.method() == Some(&Method::Invite) && msg.to().tag().is_none())
            .then(|| self.record_route());
        let edited = msg
            .decrement_max_forwards()
            .and_then(|_| match &record_route {
                Some(rr) => msg.add_record_route(rr),
                None => Ok(()),
            })
            .and_then(|()| msg.push_via(&via))
            .and_then(|()| msg.ensure_content_length());
        if let Err(e) = edited {
            // Answer C, not the client.
            let (code, reason) = match e {
                EditError::TooManyHops => (483, "Too Many Hops".to_owned()),
                other => (400, format!("Bad Request ({other})")),
            };
            self.stats.dropped_from_c += 1;
            if !is_ack {
                self.answer_c(flow, msg, code, &reason, out);
            }
            return;
        }
        self.stats.requests_to_clients += 1;
        out.push(EAction::ToClient {
            flow,
            bytes: msg.to_bytes(),
        });
    }

    fn response_from_c(&mut self, msg: &mut Message, now: Instant, out: &mut Vec<EAction>) {
        let Some(flow) = msg.top_via().and_then(|v| branch_id(v, 'E')) else {
            self.stats.dropped_responses += 1;
            return;
        };
        let Some(f) = self.flows.get_mut(&flow) else {
            self.stats.dropped_responses += 1;
            return;
        };
        msg.pop_via();
        let status = msg.status().unwrap_or(0);
        if msg.cseq().method == Method::Register && (200..300).contains(&status) {
            let asked = f.asked_expires.unwrap_or(0);
            let was = f.registered_until.is_some();
            let granted = if asked == 0 {
                0
            } else {
                granted_expires(msg).unwrap_or(asked)
            };
            f.registered_until = (granted > 0).then(|| now + Duration::from_secs(granted.into()));
            match (was, f.registered_until.is_some()) {
                (false, true) => self.registered += 1,
                (true, false) => self.registered = self.registered.saturating_sub(1),
                _ => {}
            }
        }
        self.stats.responses_to_clients += 1;
        out.push(EAction::ToClient {
            flow,
            bytes: msg.to_bytes(),
        });
    }
}

/// The expiry a REGISTER asks for: the largest Contact `expires`, else Expires, else 3600
/// (RFC 3261 §10.2.1.1); `Contact: *` and Expires 0 ask 0.
pub(crate) fn register_expires(msg: &Message) -> u32 {
    let header = msg.expires();
    if msg.contact_star() {
        return 0;
    }
    let mut any = false;
    let mut most = 0;
    for c in msg.contacts() {
        any = true;
        most = most.max(c.expires().or(header).unwrap_or(3600));
    }
    if any {
        most
    } else {
        header.unwrap_or(3600)
    }
}

/// What a 2xx to REGISTER grants: the largest Contact `expires`, else Expires.
fn granted_expires(msg: &Message) -> Option<u32> {
    let header = msg.expires();
    msg.contacts()
        .filter_map(|c| c.expires().or(header))
        .max()
        .or(header)
}
