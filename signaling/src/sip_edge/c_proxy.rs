//! C's SIP proxy, sans-IO: the traversal SIP stream to E on one side, call control on the other.
//!
//! # From clients (through E)
//!
//! A request: Max-Forwards decremented (483 at 0), top Route values naming C removed (the
//! client preloads `<sip:C;…;lr>` from its edge configuration), C's Via pushed, and sent to call
//! control. A REGISTER also gets C's registration handling, in one of two modes:
//!
//! - **contact rewrite** (default, as Expressway does): each Contact URI becomes C's own address
//!   with `x-portico-reg=<token>` and `orig-hostport=<client address>`. Call control stores that
//!   and sends requests for the user to C, which finds the binding by the token, puts the
//!   client's own Contact back as Request-URI and sends the request to E on the flow the client
//!   registered on. The 2xx's Contacts are rewritten back, so the client sees its own.
//! - **path** (RFC 3327): the Contact is left alone and C adds `Path: <sip:<token>@C;lr;ob>`;
//!   call control routes requests for the user through that Path, and C finds the binding by the
//!   token in the Route it receives.
//!
//! The token names a binding (the address-of-record and the client's instance id, or its
//! Contact URI): the same on every re-registration, on a new flow too (after a reconnect), so
//! call control keeps one binding per device. It is a stable hash, so a restarted C recognises
//! the bindings call control still holds as soon as each client re-registers.
//!
//! A response from a client (to a request from inside): C's Via popped, sent back to where the
//! request came from.
//!
//! # From call control
//!
//! A response: C's Via popped, to E (which routes it by its own Via); a REGISTER's 2xx updates
//! the bindings (granted expiry per Contact; 0 or absent: removed). A request: the binding is
//! found (contact-rewrite: the Request-URI's token; path: the top Route's), Max-Forwards
//! decremented, C's Via pushed, and sent to E for the binding's flow. No binding: 404; expired:
//! 480; its flow gone (E told us, or the link dropped): 430 Flow Failed (RFC 5626). An OPTIONS
//! for C itself (a keepalive from call control) gets 200.
//!
//! Forwarding is stateless (RFC 3261 §16.11) except for two small tables: REGISTERs in flight
//! (to learn which bindings a 2xx confirms) and requests from inside in flight (to send the
//! client's response back the way the request came). Both entries expire after 64·T1 (32 s).
//! The traversal and call-control legs are reliable streams here (TCP/TLS) or UDP, where call
//! control's own retransmissions pass through like any request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::calls::{ByeRequest, CallAction, Calls, CallsConfig, OpenedMedia, Side, Step};
use super::common::{branch, branch_id, hash_of, respond, stable_hash, write_metrics, OwnNames};
use super::e_proxy::register_expires;
use super::envelope::{Envelope, Kind};
use crate::sip::{
    error_response, EditError, Host, Message, Method, NameAddr, Param, SipUri, Transport, Uri, Via,
};

/// How C registers clients with call control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RegistrationMode {
    /// C rewrites each Contact to itself (default).
    #[default]
    ContactRewrite,
    /// C adds a Path header (RFC 3327) and leaves the Contact alone.
    Path,
}

/// The URI parameter carrying the binding token in a rewritten Contact.
pub const TOKEN_PARAM: &str = "x-portico-reg";
/// How long a pending entry waits for its response (64·T1).
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(32);

/// How C's proxy is set up.
#[derive(Clone, Debug)]
pub struct CProxyConfig {
    /// Contact rewrite or Path.
    pub mode: RegistrationMode,
    /// C's address as call control reaches it (Via, rewritten Contact, Path).
    pub host: Host,
    /// Its port.
    pub port: u16,
    /// The transport call control uses to reach C (`transport=` of Contact and Path).
    pub transport: Transport,
    /// C's own names (Route values naming C are C's).
    pub own: OwnNames,
    /// Bindings held at most (memory bound); beyond, a new binding's REGISTER gets 503.
    pub max_bindings: usize,
    /// Requests and REGISTERs in flight at most; beyond, new ones get 503.
    pub max_pending: usize,
    /// Calls: media anchored in the relay, SDP rewritten (`None`: INVITEs pass untouched,
    /// as any request).
    pub calls: Option<CallsConfig>,
}

/// Where a request from inside came from, so that its response goes back the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsideHop {
    /// A TCP (or TLS) connection the driver numbered.
    Stream(u64),
    /// A UDP source address.
    Datagram(SocketAddr),
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CAction {
    /// Send these envelope bytes to E on the traversal SIP stream.
    ToE(Vec<u8>),
    /// Send this request to call control (its configured address).
    ToCallControl(Vec<u8>),
    /// Send this message back the way a request from inside came.
    ToInside {
        /// Where.
        hop: InsideHop,
        /// One SIP message.
        bytes: Vec<u8>,
    },
    /// Media work for a call (answer [`CallAction::Open`] with [`CProxy::media_opened`]).
    Call(CallAction),
}

/// One registered device, as C knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The address-of-record (To URI of the REGISTER).
    pub aor: String,
    /// The client's own Contact value.
    pub contact: NameAddr,
    /// E's flow the client registered on; `None` once it closed.
    pub flow: Option<u64>,
    /// The client's address as E saw it.
    pub client: Option<SocketAddr>,
    /// Until when call control holds it.
    pub expires_at: Instant,
}

/// Counters (Prometheus names in [`CStats::metrics`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CStats {
    /// Requests from clients sent to call control.
    pub requests_to_call_control: u64,
    /// Responses from call control sent to E.
    pub responses_to_e: u64,
    /// Requests from inside sent to E for a client.
    pub requests_to_e: u64,
    /// Responses from clients sent back inside.
    pub responses_to_inside: u64,
    /// Bindings created, refreshed, removed.
    pub bindings_created: u64,
    /// Bindings refreshed by a re-registration.
    pub bindings_refreshed: u64,
    /// Bindings removed (unregistered, expired, refused by call control).
    pub bindings_removed: u64,
    /// Requests from inside for no binding (404).
    pub rejected_no_binding: u64,
    /// Requests from inside for an expired binding (480).
    pub rejected_expired: u64,
    /// Requests from inside whose flow is gone (430).
    pub rejected_flow_failed: u64,
    /// Messages that did not parse or could not be edited (answered 400/483 where possible).
    pub rejected_malformed: u64,
    /// REGISTERs or requests answered 503 (tables full).
    pub rejected_full: u64,
    /// Responses dropped: not ours on top, or nowhere to send them.
    pub dropped_responses: u64,
    /// Envelopes of a kind E must not send.
    pub dropped_from_e: u64,
    /// BYEs C sent itself (calls it ended: media inactivity).
    pub byes_sent: u64,
}

impl CStats {
    /// The counters as Prometheus text lines (`portico_c_sip_…`).
    pub fn metrics(&self, out: &mut String) {
        let rows: [(&str, &str, u64); 15] = [
            (
                "requests_to_call_control_total",
                "",
                self.requests_to_call_control,
            ),
            ("responses_to_e_total", "", self.responses_to_e),
            ("requests_to_e_total", "", self.requests_to_e),
            ("responses_to_inside_total", "", self.responses_to_inside),
            ("bindings_created_total", "", self.bindings_created),
            ("bindings_refreshed_total", "", self.bindings_refreshed),
            ("bindings_removed_total", "", self.bindings_removed),
            (
                "rejected_total",
                "reason=\"no_binding\"",
                self.rejected_no_binding,
            ),
            (
                "rejected_total",
                "reason=\"expired\"",
                self.rejected_expired,
            ),
            (
                "rejected_total",
                "reason=\"flow_failed\"",
                self.rejected_flow_failed,
            ),
            (
                "rejected_total",
                "reason=\"malformed\"",
                self.rejected_malformed,
            ),
            ("rejected_total", "reason=\"full\"", self.rejected_full),
            (
                "dropped_total",
                "reason=\"response\"",
                self.dropped_responses,
            ),
            ("dropped_total", "reason=\"from_e\"", self.dropped_from_e),
            ("own_byes_total", "", self.byes_sent),
        ];
        write_metrics("portico_c_sip", &rows, out);
    }
}

#[derive(Debug)]
struct PendingRegister {
    flow: u64,
    client: Option<SocketAddr>,
    aor: String,
    /// Token and the client's own Contact, per Contact of the request.
    contacts: Vec<(String, NameAddr)>,
    /// `Contact: *` with Expires 0: every binding of the AoR goes.
    remove_all: bool,
    created: Instant,
}

#[derive(Debug)]
struct PendingInbound {
    hop: InsideHop,
    created: Instant,
    /// How long it waits for the final response (an INVITE waits for its callee).
    timeout: Duration,
    /// The request's own branch, for an INVITE (its CANCEL and ACK take C's branch again).
    invite_branch: Option<String>,
}

/// The branch id of requests C makes itself (BYEs of calls it ended): their responses end
/// here.
pub const OWN_REQUEST: u64 = u64::MAX;

/// How long an INVITE from inside waits for the client's final response.
pub const INVITE_TIMEOUT: Duration = Duration::from_secs(190);

/// A message held while its call's media is opened.
#[derive(Debug)]
enum Held {
    FromClient {
        flow: u64,
        client: Option<SocketAddr>,
        msg: Message,
    },
    FromInside {
        hop: InsideHop,
        msg: Message,
    },
}

/// C's SIP proxy (see the module docs).
#[derive(Debug)]
pub struct CProxy {
    config: CProxyConfig,
    bindings: HashMap<String, Binding>,
    /// Tokens per flow, to fail them fast when the flow closes.
    by_flow: HashMap<u64, Vec<String>>,
    registers: HashMap<u64, PendingRegister>,
    /// Requests from inside in flight, by C's id and whether it is a CANCEL.
    inbound: HashMap<(u64, bool), PendingInbound>,
    /// INVITEs from inside in flight: their branch → C's id.
    invite_ids: HashMap<String, u64>,
    calls: Option<Calls>,
    held: HashMap<u64, Vec<Held>>,
    next_id: u64,
    stats: CStats,
}

impl CProxy {
    /// A proxy without bindings.
    pub fn new(config: CProxyConfig) -> Self {
        Self {
            bindings: HashMap::new(),
            by_flow: HashMap::new(),
            registers: HashMap::new(),
            inbound: HashMap::new(),
            invite_ids: HashMap::new(),
            calls: config.calls.clone().map(|c| {
                let mut calls = Calls::new(c);
                calls.set_own_names(config.own.clone());
                calls
            }),
            held: HashMap::new(),
            next_id: 1,
            stats: CStats::default(),
            config,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &CStats {
        &self.stats
    }

    /// Bindings held.
    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    /// The bindings (token, binding), sorted by AoR, at most `limit`.
    pub fn bindings(&self, limit: usize) -> Vec<(String, Binding)> {
        let mut v: Vec<(String, Binding)> = self
            .bindings
            .iter()
            .map(|(t, b)| (t.clone(), b.clone()))
            .collect();
        v.sort_by(|a, b| a.1.aor.cmp(&b.1.aor).then(a.0.cmp(&b.0)));
        v.truncate(limit);
        v
    }

    /// The binding a token names.
    pub fn binding(&self, token: &str) -> Option<&Binding> {
        self.bindings.get(token)
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn via(&self, id: u64, hash: u64) -> Via {
        let mut v = Via::new(
            self.config.transport.clone(),
            self.config.host.clone(),
            Some(self.config.port),
            &branch('C', id, hash),
        );
        v.set_param("rport", None);
        v
    }

    /// The traversal link went down: every flow is gone with it (E's flow ids die with the
    /// connection); bindings stay until they expire or their client re-registers.
    pub fn link_down(&mut self) {
        for b in self.bindings.values_mut() {
            b.flow = None;
        }
        self.by_flow.clear();
    }

    /// Drops what waited too long and bindings past their expiry (call about once a second).
    pub fn expire(&mut self, now: Instant) {
        self.registers
            .retain(|_, p| now.duration_since(p.created) < PENDING_TIMEOUT);
        self.inbound
            .retain(|_, p| now.duration_since(p.created) < p.timeout);
        let inbound = &self.inbound;
        self.invite_ids
            .retain(|_, id| inbound.contains_key(&(*id, false)));
        if let Some(calls) = self.calls.as_mut() {
            calls.expire(now);
        }
        let gone: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, b)| b.expires_at <= now)
            .map(|(t, _)| t.clone())
            .collect();
        for t in gone {
            self.remove_binding(&t);
        }
    }

    fn remove_binding(&mut self, token: &str) {
        if let Some(b) = self.bindings.remove(token) {
            self.stats.bindings_removed += 1;
            if let Some(flow) = b.flow {
                self.unlink(flow, token);
            }
        }
    }

    fn unlink(&mut self, flow: u64, token: &str) {
        if let Some(list) = self.by_flow.get_mut(&flow) {
            list.retain(|t| t != token);
            if list.is_empty() {
                self.by_flow.remove(&flow);
            }
        }
    }

    /// The token of a binding: the AoR with the instance id, else the Contact URI.
    fn token(aor: &str, contact: &NameAddr) -> String {
        let h = match contact.instance() {
            Some(inst) => stable_hash(&[aor.as_bytes(), b"instance", inst.as_bytes()]),
            None => stable_hash(&[aor.as_bytes(), b"uri", contact.uri.to_string().as_bytes()]),
        };
        format!("{h:016x}")
    }

    // ---- from E --------------------------------------------------------------------------

    /// One envelope from E.
    pub fn from_e(&mut self, env: Envelope<'_>, now: Instant, out: &mut Vec<CAction>) {
        match env.kind {
            Kind::FlowClosed => {
                if let Some(tokens) = self.by_flow.remove(&env.flow) {
                    for t in tokens {
                        if let Some(b) = self.bindings.get_mut(&t) {
                            b.flow = None;
                        }
                    }
                }
            }
            Kind::ToClient => self.stats.dropped_from_e += 1,
            Kind::FromClient => {
                let msg = match Message::parse(env.message) {
                    Ok(m) => m,
                    Err(e) => {
                        self.stats.rejected_malformed += 1;
                        let mut r = Vec::new();
                        if error_response(env.message, e, "c-bad", &mut r).is_ok() {
                            out.push(to_e(env.flow, &r));
                        }
                        return;
                    }
                };
                self.client_message(env.flow, env.client, msg, now, out);
            }
        }
    }

    /// A message from a client, parsed: through the calls (media, SDP), then routed.
    fn client_message(
        &mut self,
        flow: u64,
        client: Option<SocketAddr>,
        msg: Message,
        now: Instant,
        out: &mut Vec<CAction>,
    ) {
        self.client_message_of(flow, client, msg, now, None, out);
    }

    fn client_message_of(
        &mut self,
        flow: u64,
        client: Option<SocketAddr>,
        mut msg: Message,
        now: Instant,
        held_for: Option<u64>,
        out: &mut Vec<CAction>,
    ) {
        if let Some(calls) = self.calls.as_mut() {
            let step = match held_for {
                Some(call) => calls.resume(call, Side::Outside, &mut msg, now),
                None => calls.on_message(Side::Outside, &mut msg, now),
            };
            calls.note_outside_flow(flow);
            self.drain_calls(out);
            match step {
                Step::Forward => {}
                Step::Hold(call) => {
                    self.held
                        .entry(call)
                        .or_default()
                        .push(Held::FromClient { flow, client, msg });
                    return;
                }
                Step::Refuse {
                    code,
                    reason,
                    extra,
                } => {
                    let extra: Vec<(&str, &str)> =
                        extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
                    self.answer_client(flow, &msg, code, &reason, &extra, out);
                    return;
                }
                Step::Drop => return,
            }
        }
        if msg.is_request() {
            self.request_from_client(flow, client, &mut msg, now, out);
        } else {
            self.response_from_client(&mut msg, out);
        }
    }

    /// Moves what the calls want done to `out`: media work, and the BYEs of calls C ended.
    pub fn drain_calls(&mut self, out: &mut Vec<CAction>) {
        let Some(calls) = self.calls.as_mut() else {
            return;
        };
        let mut byes = Vec::new();
        while let Some(a) = calls.poll_action() {
            out.push(CAction::Call(a));
        }
        while let Some(b) = calls.poll_bye() {
            byes.push(b);
        }
        for b in byes {
            let Some(bytes) = self.bye_message(&b) else {
                continue;
            };
            self.stats.byes_sent += 1;
            match (b.toward, b.flow) {
                (Side::Outside, Some(flow)) => out.push(to_e(flow, &bytes)),
                (Side::Outside, None) => {}
                (Side::Inside, _) => out.push(CAction::ToCallControl(bytes)),
            }
        }
    }

    /// A BYE of C's own (see [`ByeRequest`]); its responses are absorbed (branch id
    /// [`OWN_REQUEST`]).
    fn bye_message(&self, b: &ByeRequest) -> Option<Vec<u8>> {
        let hash = stable_hash(&[b.call_id.as_bytes(), b.to.as_bytes(), &b.cseq.to_be_bytes()]);
        let mut via = self.via(OWN_REQUEST, hash);
        if b.toward == Side::Outside {
            via.transport = Transport::Tls;
        }
        let mut text = format!(
            "BYE {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n",
            b.target
        );
        for r in &b.routes {
            text.push_str(&format!("Route: {r}\r\n"));
        }
        text.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\nReason: {}\r\nContent-Length: 0\r\n\r\n",
            b.from, b.to, b.call_id, b.cseq, b.reason
        ));
        Message::parse(text.as_bytes()).ok().map(|m| m.to_bytes())
    }

    /// The calls (`None` when the proxy carries none).
    pub fn calls(&self) -> Option<&Calls> {
        self.calls.as_ref()
    }

    /// The driver's answer to [`CallAction::Open`]: the messages held for the call go on, or
    /// (the media could not be opened) the requests among them are refused with 503.
    pub fn media_opened(
        &mut self,
        call: u64,
        result: Result<OpenedMedia, String>,
        now: Instant,
        out: &mut Vec<CAction>,
    ) {
        let Some(calls) = self.calls.as_mut() else {
            return;
        };
        let ok = calls.opened(call, result, now);
        self.drain_calls(out);
        for h in self.held.remove(&call).unwrap_or_default() {
            match h {
                Held::FromClient { flow, client, msg } if ok => {
                    self.client_message_of(flow, client, msg, now, Some(call), out);
                }
                Held::FromInside { hop, mut msg } if ok => {
                    self.inside_message_of(hop, &mut msg, now, Some(call), out);
                }
                Held::FromClient { flow, msg, .. } => {
                    if msg.is_request() {
                        self.answer_client(
                            flow,
                            &msg,
                            503,
                            "Service Unavailable (no media resources)",
                            &[("Retry-After", "5")],
                            out,
                        );
                    }
                }
                Held::FromInside { hop, msg } => {
                    if msg.is_request() {
                        self.answer_inside(
                            hop,
                            &msg,
                            503,
                            "Service Unavailable (no media resources)",
                            &[("Retry-After", "5")],
                            out,
                        );
                    }
                }
            }
        }
    }

    /// The relay reports the media of `call` quiet: the call ends and its media is closed.
    pub fn media_inactive(&mut self, call: u64, now: Instant, out: &mut Vec<CAction>) {
        if let Some(calls) = self.calls.as_mut() {
            calls.media_inactive(call, now);
        }
        self.drain_calls(out);
    }

    /// C's Record-Route: `<sip:[token@]C:port;transport=…;lr>` (the token finds the client's
    /// flow for requests call control sends inside the dialog).
    fn record_route(&self, token: Option<&str>) -> NameAddr {
        let mut uri = SipUri::new(self.config.host.clone());
        uri.user = token.map(str::to_owned);
        uri.port = Some(self.config.port);
        uri.params.push(Param::with_value(
            "transport",
            &self.config.transport.as_str().to_ascii_lowercase(),
        ));
        uri.params.push(Param::flag("lr"));
        NameAddr::new(Uri::Sip(uri))
    }

    fn answer_client(
        &mut self,
        flow: u64,
        msg: &Message,
        code: u16,
        reason: &str,
        extra: &[(&str, &str)],
        out: &mut Vec<CAction>,
    ) {
        if let Some(bytes) = respond(msg, code, reason, &format!("c{flow:x}"), extra) {
            out.push(to_e(flow, &bytes));
        }
    }

    fn request_from_client(
        &mut self,
        flow: u64,
        client: Option<SocketAddr>,
        msg: &mut Message,
        now: Instant,
        out: &mut Vec<CAction>,
    ) {
        let is_ack = msg.method() == Some(&Method::Ack);
        let is_register = msg.method() == Some(&Method::Register);
        if is_register && self.registers.len() >= self.config.max_pending {
            self.stats.rejected_full += 1;
            self.answer_client(
                flow,
                msg,
                503,
                "Service Unavailable",
                &[("Retry-After", "5")],
                out,
            );
            return;
        }
        let id = self.id();
        let pending = if is_register {
            match self.prepare_register(msg, flow, client, now) {
                Ok(p) => Some(p),
                Err(RegisterRefusal::Full) => {
                    self.stats.rejected_full += 1;
                    self.answer_client(
                        flow,
                        msg,
                        503,
                        "Service Unavailable (registration table full)",
                        &[("Retry-After", "60")],
                        out,
                    );
                    return;
                }
                Err(RegisterRefusal::Edit(e)) => {
                    self.reject_client_edit(flow, msg, e, false, out);
                    return;
                }
            }
        } else {
            None
        };
        let hash = stable_hash(&[
            msg.top_via()
                .and_then(|v| v.branch())
                .unwrap_or_default()
                .as_bytes(),
            &flow.to_be_bytes(),
        ]);
        // Only a REGISTER's response needs the id back; any other request takes id 0, so that
        // a CANCEL (and the ACK of a failure) gets the branch of its INVITE.
        let via = self.via(if is_register { id } else { 0 }, hash);
        let record_route = (msg.method() == Some(&Method::Invite) && msg.to().tag().is_none())
            .then(|| {
                let token = self.by_flow.get(&flow).and_then(|t| t.first()).cloned();
                self.record_route(token.as_deref())
            });
        let edited = (|| {
            if let Some(rr) = &record_route {
                msg.add_record_route(rr)?;
            }
            msg.decrement_max_forwards()?;
            while msg
                .routes()
                .next()
                .is_some_and(|r| self.config.own.is_our_route(r))
            {
                msg.pop_route();
            }
            msg.push_via(&via)?;
            msg.ensure_content_length()
        })();
        if let Err(e) = edited {
            self.reject_client_edit(flow, msg, e, is_ack, out);
            return;
        }
        if let Some(p) = pending {
            self.registers.insert(id, p);
        }
        self.stats.requests_to_call_control += 1;
        out.push(CAction::ToCallControl(msg.to_bytes()));
    }

    fn reject_client_edit(
        &mut self,
        flow: u64,
        msg: &Message,
        e: EditError,
        is_ack: bool,
        out: &mut Vec<CAction>,
    ) {
        self.stats.rejected_malformed += 1;
        if is_ack {
            return;
        }
        match e {
            EditError::TooManyHops => self.answer_client(flow, msg, 483, "Too Many Hops", &[], out),
            other => {
                let reason = format!("Bad Request ({other})");
                self.answer_client(flow, msg, 400, &reason, &[], out);
            }
        }
    }

    /// Rewrites a REGISTER for call control (mode) and says what to expect of its 2xx.
    fn prepare_register(
        &mut self,
        msg: &mut Message,
        flow: u64,
        client: Option<SocketAddr>,
        now: Instant,
    ) -> Result<PendingRegister, RegisterRefusal> {
        let aor = aor_of(msg);
        let remove_all = msg.contact_star();
        let mut contacts = Vec::new();
        for c in msg.contacts() {
            contacts.push((Self::token(&aor, c), c.clone()));
        }
        let new_bindings = contacts
            .iter()
            .filter(|(t, _)| !self.bindings.contains_key(t))
            .count();
        if register_expires(msg) > 0
            && self.bindings.len() + new_bindings > self.config.max_bindings
        {
            return Err(RegisterRefusal::Full);
        }
        let config = &self.config;
        match config.mode {
            RegistrationMode::ContactRewrite if !remove_all => {
                let mut i = 0;
                msg.edit_contacts(|c| {
                    if let Some((token, _)) = contacts.get(i) {
                        c.uri = rewritten_contact(config, &c.uri, token, client);
                    }
                    i += 1;
                })
                .map_err(RegisterRefusal::Edit)?;
            }
            RegistrationMode::Path if !contacts.is_empty() => {
                // One Path per REGISTER: the first binding's token names the flow for all.
                let token = &contacts[0].0;
                let mut uri = SipUri::new(config.host.clone());
                uri.user = Some(token.clone());
                uri.port = Some(config.port);
                uri.params.push(Param::with_value(
                    "transport",
                    &config.transport.as_str().to_ascii_lowercase(),
                ));
                uri.params.push(Param::flag("lr"));
                uri.params.push(Param::flag("ob"));
                msg.add_path(&NameAddr::new(Uri::Sip(uri)))
                    .map_err(RegisterRefusal::Edit)?;
            }
            _ => {}
        }
        Ok(PendingRegister {
            flow,
            client,
            aor,
            contacts,
            remove_all,
            created: now,
        })
    }

    fn response_from_client(&mut self, msg: &mut Message, out: &mut Vec<CAction>) {
        let Some(id) = msg.top_via().and_then(|v| branch_id(v, 'C')) else {
            self.stats.dropped_responses += 1;
            return;
        };
        // 100 Trying is hop by hop (RFC 3261 §16.7): it ends here.
        if id == OWN_REQUEST || msg.status() == Some(100) {
            return;
        }
        let final_response = msg.status().is_some_and(|s| s >= 200);
        let key = (id, msg.cseq().method == Method::Cancel);
        let hop = if final_response {
            self.inbound.remove(&key).map(|p| {
                if let Some(b) = &p.invite_branch {
                    self.invite_ids.remove(b);
                }
                p.hop
            })
        } else {
            self.inbound.get(&key).map(|p| p.hop)
        };
        let Some(hop) = hop else {
            self.stats.dropped_responses += 1;
            return;
        };
        msg.pop_via();
        self.stats.responses_to_inside += 1;
        out.push(CAction::ToInside {
            hop,
            bytes: msg.to_bytes(),
        });
    }

    // ---- from call control ------------------------------------------------------------------

    /// One SIP message from call control (or anything inside that reached C's SIP listener).
    pub fn from_inside(
        &mut self,
        hop: InsideHop,
        bytes: &[u8],
        now: Instant,
        out: &mut Vec<CAction>,
    ) {
        let mut msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.stats.rejected_malformed += 1;
                let mut r = Vec::new();
                if error_response(bytes, e, "c-bad", &mut r).is_ok() {
                    out.push(CAction::ToInside { hop, bytes: r });
                }
                return;
            }
        };
        self.message_from_inside(hop, &mut msg, now, out);
    }

    /// A message from inside that the caller parsed already (the driver's transaction layer
    /// does, on UDP).
    pub fn message_from_inside(
        &mut self,
        hop: InsideHop,
        msg: &mut Message,
        now: Instant,
        out: &mut Vec<CAction>,
    ) {
        self.inside_message_of(hop, msg, now, None, out);
    }

    fn inside_message_of(
        &mut self,
        hop: InsideHop,
        msg: &mut Message,
        now: Instant,
        held_for: Option<u64>,
        out: &mut Vec<CAction>,
    ) {
        if let Some(calls) = self.calls.as_mut() {
            let step = match held_for {
                Some(call) => calls.resume(call, Side::Inside, msg, now),
                None => calls.on_message(Side::Inside, msg, now),
            };
            self.drain_calls(out);
            match step {
                Step::Forward => {}
                Step::Hold(call) => {
                    self.held.entry(call).or_default().push(Held::FromInside {
                        hop,
                        msg: msg.clone(),
                    });
                    return;
                }
                Step::Refuse {
                    code,
                    reason,
                    extra,
                } => {
                    let extra: Vec<(&str, &str)> =
                        extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
                    self.answer_inside(hop, msg, code, &reason, &extra, out);
                    return;
                }
                Step::Drop => return,
            }
        }
        if msg.is_request() {
            self.request_from_inside(hop, msg, now, out);
        } else {
            self.response_from_inside(msg, now, out);
        }
    }

    fn answer_inside(
        &mut self,
        hop: InsideHop,
        msg: &Message,
        code: u16,
        reason: &str,
        extra: &[(&str, &str)],
        out: &mut Vec<CAction>,
    ) {
        if let Some(bytes) = respond(msg, code, reason, "c-inside", extra) {
            out.push(CAction::ToInside { hop, bytes });
        }
    }

    fn request_from_inside(
        &mut self,
        hop: InsideHop,
        msg: &mut Message,
        now: Instant,
        out: &mut Vec<CAction>,
    ) {
        let is_ack = msg.method() == Some(&Method::Ack);
        let is_cancel = msg.method() == Some(&Method::Cancel);
        // The binding's token: a Route of ours carrying it (path, or C's Record-Route in a
        // dialog), else the Request-URI's.
        let mut token = None;
        loop {
            let top = msg.routes().next().cloned();
            let Some(r) = top else { break };
            if !self.config.own.is_our_route(&r) {
                break;
            }
            if let Some(user) = r.uri.as_sip().and_then(|s| s.user.clone()) {
                token = Some(user);
            }
            msg.pop_route();
        }
        let ruri_token = msg
            .request_uri()
            .and_then(Uri::as_sip)
            .and_then(|s| s.param(TOKEN_PARAM))
            .and_then(|p| p.value.clone());
        // A token from a Route: the Request-URI is already the client's (path mode, or a
        // dialog's remote target).
        let routed = token.is_some();
        let token = token.or(ruri_token);
        let Some(token) = token else {
            if is_ack {
                return;
            }
            let for_us = msg
                .request_uri()
                .and_then(Uri::as_sip)
                .is_some_and(|s| s.user.is_none() && self.config.own.is_ours(&s.host));
            if for_us && msg.method() == Some(&Method::Options) {
                self.answer_inside(hop, msg, 200, "OK", &[], out);
            } else {
                self.stats.rejected_no_binding += 1;
                self.answer_inside(hop, msg, 404, "Not Found", &[], out);
            }
            return;
        };
        let Some(b) = self.bindings.get(&token) else {
            self.stats.rejected_no_binding += 1;
            if !is_ack {
                self.answer_inside(hop, msg, 404, "Not Found (no such binding)", &[], out);
            }
            return;
        };
        if b.expires_at <= now {
            self.stats.rejected_expired += 1;
            if !is_ack {
                self.answer_inside(hop, msg, 480, "Temporarily Unavailable", &[], out);
            }
            return;
        }
        let Some(flow) = b.flow else {
            self.stats.rejected_flow_failed += 1;
            if !is_ack {
                self.answer_inside(hop, msg, 430, "Flow Failed", &[], out);
            }
            return;
        };
        let contact_uri = b.contact.uri.clone();
        if let Some(calls) = self.calls.as_mut() {
            calls.note_outside_flow(flow);
        }
        if !is_ack && self.inbound.len() >= self.config.max_pending {
            self.stats.rejected_full += 1;
            self.answer_inside(hop, msg, 503, "Service Unavailable", &[], out);
            return;
        }
        let their_branch = msg
            .top_via()
            .and_then(|v| v.branch())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let is_invite = msg.method() == Some(&Method::Invite);
        // A CANCEL (or the ACK of a failure) takes its INVITE's id, hence its branch.
        let id = match self.invite_ids.get(&their_branch) {
            Some(&id) if is_cancel || is_ack => id,
            _ => self.id(),
        };
        let hash = stable_hash(&[their_branch.as_bytes(), token.as_bytes()]);
        let mut via = self.via(id, hash);
        via.transport = Transport::Tls;
        let rewrite_uri = self.config.mode == RegistrationMode::ContactRewrite && !routed;
        let record_route =
            (is_invite && msg.to().tag().is_none()).then(|| self.record_route(Some(&token)));
        let edited = (|| {
            if rewrite_uri {
                msg.set_request_uri(contact_uri)?;
            }
            if let Some(rr) = &record_route {
                msg.add_record_route(rr)?;
            }
            msg.decrement_max_forwards()?;
            msg.push_via(&via)?;
            msg.ensure_content_length()
        })();
        if let Err(e) = edited {
            self.stats.rejected_malformed += 1;
            if !is_ack {
                let (code, reason) = match e {
                    EditError::TooManyHops => (483, "Too Many Hops".to_owned()),
                    other => (400, format!("Bad Request ({other})")),
                };
                self.answer_inside(hop, msg, code, &reason, &[], out);
            }
            return;
        }
        if !is_ack {
            let invite_branch = is_invite.then(|| their_branch.clone());
            if is_invite {
                self.invite_ids.insert(their_branch, id);
            }
            self.inbound.insert(
                (id, is_cancel),
                PendingInbound {
                    hop,
                    created: now,
                    timeout: if is_invite {
                        INVITE_TIMEOUT
                    } else {
                        PENDING_TIMEOUT
                    },
                    invite_branch,
                },
            );
        }
        self.stats.requests_to_e += 1;
        out.push(to_e(flow, &msg.to_bytes()));
    }

    fn response_from_inside(&mut self, msg: &mut Message, now: Instant, out: &mut Vec<CAction>) {
        let Some(id) = msg.top_via().and_then(|v| branch_id(v, 'C')) else {
            self.stats.dropped_responses += 1;
            return;
        };
        if id == OWN_REQUEST || msg.status() == Some(100) {
            return;
        }
        msg.pop_via();
        let status = msg.status().unwrap_or(0);
        let mut flow = 0;
        if msg.cseq().method == Method::Register && status >= 200 {
            if let Some(p) = self.registers.remove(&id) {
                flow = p.flow;
                if (200..300).contains(&status) {
                    self.registered(msg, p, now);
                }
            }
        }
        self.stats.responses_to_e += 1;
        out.push(to_e(flow, &msg.to_bytes()));
    }

    /// A 2xx to a REGISTER: the bindings it confirms, refreshes or removes; the Contacts put
    /// back as the client wrote them (contact rewrite).
    fn registered(&mut self, msg: &mut Message, p: PendingRegister, now: Instant) {
        let header = msg.expires();
        let mode = self.config.mode;
        // What call control granted, per token of ours.
        let mut granted: HashMap<String, u32> = HashMap::new();
        let mut originals: HashMap<String, NameAddr> = HashMap::new();
        for c in msg.contacts() {
            let token = match mode {
                RegistrationMode::ContactRewrite => c
                    .uri
                    .as_sip()
                    .and_then(|s| s.param(TOKEN_PARAM))
                    .and_then(|t| t.value.clone()),
                RegistrationMode::Path => p
                    .contacts
                    .iter()
                    .find(|(_, orig)| same_uri(&orig.uri, &c.uri))
                    .map(|(t, _)| t.clone()),
            };
            if let Some(t) = token {
                granted.insert(t, c.expires().or(header).unwrap_or(0));
            }
        }
        if p.remove_all {
            let gone: Vec<String> = self
                .bindings
                .iter()
                .filter(|(_, b)| b.aor == p.aor)
                .map(|(t, _)| t.clone())
                .collect();
            for t in gone {
                self.remove_binding(&t);
            }
        }
        for (token, contact) in p.contacts {
            let secs = granted.get(&token).copied().unwrap_or(0);
            if secs == 0 {
                self.remove_binding(&token);
                continue;
            }
            let expires_at = now + Duration::from_secs(secs.into());
            let old_flow = self.bindings.get(&token).map(|b| b.flow);
            match old_flow {
                Some(old) => {
                    self.stats.bindings_refreshed += 1;
                    if let Some(of) = old.filter(|&f| f != p.flow) {
                        self.unlink(of, &token);
                    }
                }
                None => self.stats.bindings_created += 1,
            }
            let list = self.by_flow.entry(p.flow).or_default();
            if !list.contains(&token) {
                list.push(token.clone());
            }
            originals.insert(token.clone(), contact.clone());
            self.bindings.insert(
                token,
                Binding {
                    aor: p.aor.clone(),
                    contact,
                    flow: Some(p.flow),
                    client: p.client,
                    expires_at,
                },
            );
        }
        if mode == RegistrationMode::ContactRewrite {
            let bindings = &self.bindings;
            // Every Contact of ours goes back to the client's own URI (other devices' too).
            let _ = msg.edit_contacts(|c| {
                let token = c
                    .uri
                    .as_sip()
                    .and_then(|s| s.param(TOKEN_PARAM))
                    .and_then(|t| t.value.clone());
                if let Some(t) = token {
                    if let Some(orig) = originals
                        .get(&t)
                        .or_else(|| bindings.get(&t).map(|b| &b.contact))
                    {
                        c.uri = orig.uri.clone();
                    }
                }
            });
        }
    }
}

enum RegisterRefusal {
    Full,
    Edit(EditError),
}

fn to_e(flow: u64, bytes: &[u8]) -> CAction {
    CAction::ToE(
        Envelope {
            kind: Kind::ToClient,
            flow,
            client: None,
            message: bytes,
        }
        .to_bytes(),
    )
}

/// The address-of-record of a REGISTER: its To URI without parameters.
fn aor_of(msg: &Message) -> String {
    match &msg.to().uri {
        Uri::Sip(s) => {
            let mut bare = SipUri::new(s.host.clone());
            bare.sips = s.sips;
            bare.user.clone_from(&s.user);
            bare.to_string()
        }
        other => other.to_string(),
    }
}

/// C's Contact for a binding: `sip:<user>@<C>:<port>;transport=…;x-portico-reg=<token>;
/// orig-hostport=<client>`.
fn rewritten_contact(
    config: &CProxyConfig,
    original: &Uri,
    token: &str,
    client: Option<SocketAddr>,
) -> Uri {
    let mut uri = SipUri::new(config.host.clone());
    uri.user = original.as_sip().and_then(|s| s.user.clone());
    uri.port = Some(config.port);
    uri.params.push(Param::with_value(
        "transport",
        &config.transport.as_str().to_ascii_lowercase(),
    ));
    uri.params.push(Param::with_value(TOKEN_PARAM, token));
    if let Some(c) = client {
        uri.params
            .push(Param::with_value("orig-hostport", &c.to_string()));
    }
    Uri::Sip(uri)
}

/// URI equality as far as a registrar's echo goes (same scheme, user, host, port; parameters
/// may come back reordered, so they are compared as sets by name and value).
fn same_uri(a: &Uri, b: &Uri) -> bool {
    match (a.as_sip(), b.as_sip()) {
        (Some(x), Some(y)) => {
            let key = |s: &SipUri| {
                let mut p: Vec<(String, Option<String>)> = s
                    .params
                    .iter()
                    .map(|p| (p.name.to_ascii_lowercase(), p.value.clone()))
                    .collect();
                p.sort();
                (
                    s.sips,
                    s.user.clone(),
                    hash_of(&host_key(&s.host)),
                    s.port,
                    p,
                )
            };
            key(x) == key(y)
        }
        _ => a == b,
    }
}

fn host_key(h: &Host) -> String {
    match h {
        Host::Name(n) => n.to_ascii_lowercase(),
        other => other.to_string(),
    }
}
