//! C's calls, sans-IO: the dialogs C anchors media for, and the SDP it rewrites on the way.
//!
//! Every INVITE dialog that passes C is a call here. C stays on its signalling path (C and E
//! Record-Route), and each offer or answer that crosses C is rewritten so that media goes
//! through the relay: the outside party sees E's client-facing address and ports with SRTP keys
//! of ours (`RTP/SAVP`, SDES), the inside party sees C's inside address and ports with plain RTP
//! (`RTP/AVP`). Which direction a message crosses decides the rewrite, not whether it is an offer
//! or an answer, so the offer in the INVITE and the offer in the 200 (answer in the ACK), 183
//! early media, PRACK and UPDATE bodies and re-INVITEs (hold, resume, codec change) all take the
//! same path.
//!
//! The media of a call is opened when its first description crosses C (normally the INVITE's
//! offer): the message is held, [`CallAction::Open`] asks the driver for E's client-facing ports
//! and C's relay legs, and [`Calls::opened`] lets it go on. After that, each description updates
//! the legs ([`CallAction::Update`]: the outside party's key, the inside party's address) and is
//! rewritten at once. A call's media is closed ([`CallAction::Close`]) on BYE, on a final
//! failure of the initial INVITE (CANCEL's 487 included), when the set-up never completes
//! ([`CallsConfig::setup_timeout`]) and when the driver reports the media gone quiet
//! ([`Calls::media_inactive`]).
//!
//! When both parties are outside the call passes C twice (outside → call control → outside) and
//! is two calls here, one per pass, told apart by the side their INVITE came from: media
//! hairpins through C's relay, decrypted and encrypted again with each party's own keys.
//!
//! Refusals (the proxy answers them): a new call over [`CallsConfig::max_calls`] → 503 with
//! Retry-After; an external offer in plain RTP (unless best-effort) or with no acceptable
//! `a=crypto` → 488; an unreadable description → 400; a re-INVITE or UPDATE while the other
//! party's is pending (glare) → 491; INVITE, UPDATE, BYE or PRACK inside a dialog C does not
//! know → 481.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::sdp::anchor::{self, LegKind, Plan, SectionPlan};
use crate::sdp::{Origin, Sdp};
use crate::sip::{Message, Method};

/// Where a message came from, as C sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// From a client, through E.
    Outside,
    /// From call control.
    Inside,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Outside => Side::Inside,
            Side::Inside => Side::Outside,
        }
    }

    /// `outside` or `inside`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Outside => "outside",
            Side::Inside => "inside",
        }
    }
}

/// The SRTP suite C offers when it makes the offer toward a client.
pub const DEFAULT_SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// Settings.
#[derive(Clone, Debug)]
pub struct CallsConfig {
    /// Calls at once; a new call beyond gets 503.
    pub max_calls: usize,
    /// The Retry-After of that 503, in seconds.
    pub retry_after_secs: u32,
    /// An external offer in plain RTP is carried (unencrypted outside) instead of refused.
    pub best_effort: bool,
    /// C's media address on the inside (the `c=` call control's side sees).
    pub inside_address: IpAddr,
    /// Whether C's relay can use an `a=crypto` value (suite and parameters).
    pub accept_crypto: fn(&str) -> bool,
    /// A call whose INVITE has no final answer after this long is ended.
    pub setup_timeout: Duration,
    /// Ended calls kept for the history.
    pub history: usize,
    /// Streams (`m=` lines carried) per call at most.
    pub max_streams: usize,
}

impl CallsConfig {
    /// Defaults with C's inside media address.
    pub fn new(inside_address: IpAddr, accept_crypto: fn(&str) -> bool) -> Self {
        Self {
            max_calls: 10_000,
            retry_after_secs: 10,
            best_effort: false,
            inside_address,
            accept_crypto,
            setup_timeout: Duration::from_secs(180),
            history: 500,
            max_streams: 8,
        }
    }
}

/// One stream to open (an `m=` section carried through the relay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamOpen {
    /// `audio`, `video`, …
    pub media: String,
    /// The SRTP suite of our key on the outside leg; `None`: the outside leg is plain RTP
    /// (best-effort only).
    pub suite: Option<String>,
    /// The outside party's `a=crypto` (its sending key), when known.
    pub peer_crypto: Option<String>,
    /// Where the inside party wants RTP and RTCP, when known.
    pub inside_remote: Option<(SocketAddr, SocketAddr)>,
}

/// What the driver opened for one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedStream {
    /// E's client-facing RTP port (RTCP on the next).
    pub outside_port: u16,
    /// C's inside RTP port (RTCP on the next).
    pub inside_port: u16,
    /// Our key on the outside leg, `<suite> <key-params>` (no tag): what we put in our
    /// `a=crypto`.
    pub our_crypto: Option<String>,
}

/// What the driver opened for a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedMedia {
    /// E's client-facing media address.
    pub outside_address: IpAddr,
    /// One per stream asked for, in order.
    pub streams: Vec<OpenedStream>,
}

/// A change to one stream's legs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamUpdate {
    /// The stream (index in the call's streams).
    pub stream: usize,
    /// The outside party's new `a=crypto`.
    pub peer_crypto: Option<String>,
    /// The inside party's new RTP and RTCP addresses.
    pub inside_remote: Option<(SocketAddr, SocketAddr)>,
}

/// What the driver must do for calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallAction {
    /// Open the media of `call` (E's ports over the control stream, then C's legs) and answer
    /// with [`Calls::opened`].
    Open {
        /// The call.
        call: u64,
        /// Its streams.
        streams: Vec<StreamOpen>,
    },
    /// Change legs of an open call.
    Update {
        /// The call.
        call: u64,
        /// The change.
        update: StreamUpdate,
    },
    /// Release the call's media at E and in C.
    Close {
        /// The call.
        call: u64,
    },
}

/// What [`Calls::on_message`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Go on with the message (its body may have been rewritten).
    Forward,
    /// Keep the message until [`Calls::opened`] for this call, then give it again.
    Hold(u64),
    /// Answer the request with this status, reason and extra header fields.
    Refuse {
        /// The status.
        code: u16,
        /// The reason phrase.
        reason: String,
        /// Extra header fields (Retry-After).
        extra: Vec<(&'static str, String)>,
    },
    /// Nothing to send (an ACK that cannot be carried, a response for an ended call's
    /// description that cannot be rewritten): counted.
    Drop,
}

fn refuse(code: u16, reason: impl Into<String>) -> Step {
    Step::Refuse {
        code,
        reason: reason.into(),
        extra: Vec::new(),
    }
}

/// Where a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// INVITE sent on, no answer yet.
    Setup,
    /// A provisional answer with a tag (ringing, early media).
    Early,
    /// Answered.
    Established,
}

impl CallState {
    /// For status pages.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Setup => "setup",
            CallState::Early => "early",
            CallState::Established => "established",
        }
    }
}

/// One stream of a call.
#[derive(Clone, Debug)]
struct Stream {
    media: String,
    opened: OpenedStream,
    /// The tag of the outside party's accepted `a=crypto` (our answer's tag must match).
    outside_tag: Option<String>,
    peer_crypto: Option<String>,
    inside_remote: Option<(SocketAddr, SocketAddr)>,
}

#[derive(Clone, Debug)]
enum Media {
    /// No description has crossed yet.
    None,
    /// Asked for; messages held. Per `m=` section of the description that opened it: its
    /// stream, if carried; and the streams asked for.
    Opening {
        sections: Vec<Option<usize>>,
        asked: Vec<StreamOpen>,
    },
    /// Open: E's address and the streams.
    Open {
        outside_address: IpAddr,
        /// Per `m=` section of the first description: its stream, if carried.
        sections: Vec<Option<usize>>,
        streams: Vec<Stream>,
    },
}

#[derive(Clone, Debug)]
struct Call {
    id: u64,
    call_id: String,
    caller_tag: String,
    callee_tag: Option<String>,
    /// Where the INVITE came from (the caller's side).
    origin: Side,
    from: String,
    to: String,
    state: CallState,
    started: Instant,
    answered: Option<Instant>,
    media: Media,
    video: bool,
    /// A re-INVITE or UPDATE with a description in progress, from this side.
    offer_pending: Option<(Side, Method, u32)>,
    /// Our SDP origin versions per side written.
    version: u64,
    /// What C needs to end the dialog itself (BYE to both parties).
    dialog: Dialog,
}

/// A dialog as C saw it pass: enough to send each party a BYE in the other's name.
#[derive(Clone, Debug, Default)]
struct Dialog {
    /// The caller's From (with its tag) and the callee's To (with its tag once answered).
    caller: String,
    callee: String,
    /// Their Contacts (remote targets).
    caller_contact: Option<String>,
    callee_contact: Option<String>,
    /// From C toward the caller: the Record-Route values the INVITE carried when it reached C
    /// (top first: nearest to C first).
    caller_routes: Vec<String>,
    /// From C toward the callee: the Record-Route values above C's own in the 2xx, nearest to C
    /// first.
    callee_routes: Vec<String>,
    /// The highest CSeq each party used.
    caller_cseq: u32,
    callee_cseq: u32,
    /// The flow of the party outside (E's flow id), once known.
    outside_flow: Option<u64>,
}

/// A BYE C sends in a party's name because the call ended at C (media inactivity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByeRequest {
    /// Toward whom: the party outside (through E, on `flow`) or the one inside (to call
    /// control, with `routes`).
    pub toward: Side,
    /// E's flow of the outside party.
    pub flow: Option<u64>,
    /// The Request-URI (the party's Contact).
    pub target: String,
    /// From: the other party, with its tag.
    pub from: String,
    /// To: this party, with its tag.
    pub to: String,
    /// The Call-ID.
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// Route values, in order.
    pub routes: Vec<String>,
    /// Why (a `Reason` header value).
    pub reason: String,
}

/// An ended call, for the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Our id.
    pub id: u64,
    /// The Call-ID.
    pub call_id: String,
    /// The caller (From URI).
    pub from: String,
    /// The callee (To URI).
    pub to: String,
    /// Where the caller is.
    pub origin: Side,
    /// The state it reached (or is in).
    pub state: CallState,
    /// How long it has lasted (or lasted).
    pub duration: Duration,
    /// How long it has been (was) answered.
    pub talk_time: Option<Duration>,
    /// Audio and video, or audio only.
    pub video: bool,
    /// Streams through the relay.
    pub streams: usize,
    /// Why it ended (`None`: still going).
    pub ended: Option<String>,
}

/// Counters (Prometheus names under `portico_c_calls_`).
#[derive(Clone, Debug, Default)]
pub struct CallStats {
    /// Calls started (INVITEs taken on).
    pub started: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls ended, with or without an answer.
    pub ended: u64,
    /// Calls with audio only.
    pub audio_only: u64,
    /// Calls with video.
    pub video: u64,
    /// New calls refused at the limit.
    pub rejected_limit: u64,
    /// Descriptions refused as unacceptable (488).
    pub rejected_sdp: u64,
    /// Descriptions that could not be read (400).
    pub rejected_malformed_sdp: u64,
    /// Requests for dialogs C does not know (481).
    pub rejected_unknown_dialog: u64,
    /// Re-offers crossing (491).
    pub rejected_glare: u64,
    /// Media C could not open (503).
    pub media_failed: u64,
    /// Calls whose set-up timed out.
    pub setup_timeouts: u64,
    /// Calls ended because their media went quiet.
    pub media_timeouts: u64,
    /// Answers that could not be carried (their streams refused on the other side).
    pub bad_answers: u64,
    /// Messages dropped (an ACK with a description that could not be carried).
    pub dropped: u64,
}

impl CallStats {
    /// Prometheus text lines.
    pub fn metrics(&self, active: usize, out: &mut String) {
        let rows = [
            ("active", "", active as u64),
            ("started_total", "", self.started),
            ("answered_total", "", self.answered),
            ("ended_total", "", self.ended),
            ("media_total", "kind=\"audio_only\"", self.audio_only),
            ("media_total", "kind=\"video\"", self.video),
            ("rejected_total", "reason=\"limit\"", self.rejected_limit),
            ("rejected_total", "reason=\"sdp\"", self.rejected_sdp),
            (
                "rejected_total",
                "reason=\"malformed_sdp\"",
                self.rejected_malformed_sdp,
            ),
            (
                "rejected_total",
                "reason=\"unknown_dialog\"",
                self.rejected_unknown_dialog,
            ),
            ("rejected_total", "reason=\"glare\"", self.rejected_glare),
            ("rejected_total", "reason=\"media\"", self.media_failed),
            ("timeouts_total", "kind=\"setup\"", self.setup_timeouts),
            ("timeouts_total", "kind=\"media\"", self.media_timeouts),
            ("bad_answers_total", "", self.bad_answers),
            ("dropped_total", "", self.dropped),
        ];
        super::common::write_metrics("portico_c_calls", &rows, out);
    }
}

/// The calls C carries.
#[derive(Debug)]
pub struct Calls {
    config: CallsConfig,
    calls: HashMap<u64, Call>,
    /// Call-ID → calls with it (two for a hairpin).
    by_call_id: HashMap<String, Vec<u64>>,
    history: VecDeque<CallRecord>,
    actions: Vec<CallAction>,
    byes: Vec<ByeRequest>,
    /// The call of the last message given to [`Calls::on_message`].
    last: Option<u64>,
    /// C's own names (to find C's Record-Route in a 2xx).
    own: Option<super::common::OwnNames>,
    next_id: u64,
    stats: CallStats,
}

/// Whether the message carries a session description.
fn has_sdp(msg: &Message) -> bool {
    !msg.body().is_empty()
        && msg
            .content_type()
            .is_some_and(|t| t.is("application", "sdp"))
}

fn tag_of(value: &str) -> (&str, &str) {
    value.split_once(' ').unwrap_or((value, ""))
}

impl Calls {
    /// An empty table.
    pub fn new(config: CallsConfig) -> Self {
        Self {
            config,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            history: VecDeque::new(),
            actions: Vec::new(),
            byes: Vec::new(),
            last: None,
            own: None,
            next_id: 1,
            stats: CallStats::default(),
        }
    }

    /// C's own names, to tell C's Record-Route from the others.
    pub fn set_own_names(&mut self, own: super::common::OwnNames) {
        self.own = Some(own);
    }

    /// The flow of the outside party of the call the last message belonged to.
    pub fn note_outside_flow(&mut self, flow: u64) {
        if let Some(c) = self.last.and_then(|id| self.calls.get_mut(&id)) {
            c.dialog.outside_flow.get_or_insert(flow);
        }
    }

    /// BYEs C must send (drained).
    pub fn poll_bye(&mut self) -> Option<ByeRequest> {
        self.byes.pop()
    }

    /// The counters.
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// Calls going on.
    pub fn active(&self) -> usize {
        self.calls.len()
    }

    /// What the driver must do (drained).
    pub fn poll_action(&mut self) -> Option<CallAction> {
        if self.actions.is_empty() {
            None
        } else {
            Some(self.actions.remove(0))
        }
    }

    /// The calls going on, oldest first.
    pub fn current(&self, now: Instant) -> Vec<CallRecord> {
        let mut v: Vec<CallRecord> = self.calls.values().map(|c| record(c, now, None)).collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.duration));
        v
    }

    /// The ended calls, newest first.
    pub fn history(&self) -> impl Iterator<Item = &CallRecord> + '_ {
        self.history.iter().rev()
    }

    /// The call a message belongs to: one with its Call-ID whose caller sent it (From tag) or
    /// was sent it (To tag), the caller being on `origin`'s side.
    fn find(&self, msg: &Message, sender: Side) -> Option<u64> {
        let ids = self.by_call_id.get(msg.call_id())?;
        let from = msg.from().tag();
        let to = msg.to().tag();
        ids.iter().copied().find(|id| {
            self.calls.get(id).is_some_and(|c| {
                let tag = if c.origin == sender { from } else { to };
                tag == Some(c.caller_tag.as_str())
            })
        })
    }

    /// A message crossing C from `from` (after parsing, before the proxy routes it).
    pub fn on_message(&mut self, from: Side, msg: &mut Message, now: Instant) -> Step {
        self.step(from, msg, now, None)
    }

    /// A message [`Step::Hold`] kept for `call`, given again once its media is open.
    pub fn resume(&mut self, call: u64, from: Side, msg: &mut Message, now: Instant) -> Step {
        self.step(from, msg, now, Some(call))
    }

    fn step(&mut self, from: Side, msg: &mut Message, now: Instant, known: Option<u64>) -> Step {
        self.last = None;
        if msg.is_request() {
            self.on_request(from, msg, now, known)
        } else {
            self.on_response(from, msg, now, known)
        }
    }

    fn on_request(
        &mut self,
        from: Side,
        msg: &mut Message,
        now: Instant,
        known: Option<u64>,
    ) -> Step {
        let Some(method) = msg.method().cloned() else {
            return Step::Forward;
        };
        let in_dialog = msg.to().tag().is_some();
        let found = known
            .filter(|id| self.calls.contains_key(id))
            .or_else(|| self.find(msg, from));
        if found.is_none() && method == Method::Invite && !in_dialog && msg.from().tag().is_none() {
            // RFC 3261 §8.1.1.3: without a From tag the dialog cannot be told apart.
            return refuse(400, "Bad Request (From without a tag)");
        }
        let id = match (found, &method, in_dialog) {
            (Some(id), _, _) => id,
            (None, Method::Invite, false) => {
                if self.calls.len() >= self.config.max_calls {
                    self.stats.rejected_limit += 1;
                    return Step::Refuse {
                        code: 503,
                        reason: "Service Unavailable (call limit)".into(),
                        extra: vec![("Retry-After", self.config.retry_after_secs.to_string())],
                    };
                }
                self.start(from, msg, now)
            }
            (None, Method::Invite | Method::Update | Method::Bye | Method::Prack, true) => {
                self.stats.rejected_unknown_dialog += 1;
                return refuse(481, "Call/Transaction Does Not Exist");
            }
            // CANCEL and ACK of a call C does not know, and every other request: the proxy's.
            (None, _, _) => return Step::Forward,
        };
        self.last = Some(id);
        if let Some(call) = self.calls.get_mut(&id) {
            let seq = msg.cseq().seq;
            if call.origin == from {
                call.dialog.caller_cseq = call.dialog.caller_cseq.max(seq);
            } else {
                call.dialog.callee_cseq = call.dialog.callee_cseq.max(seq);
            }
        }
        if method == Method::Bye {
            self.end(id, format!("BYE from {}", from.as_str()), now);
            return Step::Forward;
        }
        if method == Method::Cancel {
            return Step::Forward;
        }
        let reoffer = in_dialog && matches!(method, Method::Invite | Method::Update);
        if reoffer && has_sdp(msg) {
            if let Some(call) = self.calls.get_mut(&id) {
                match &call.offer_pending {
                    Some((side, _, _)) if *side != from => {
                        self.stats.rejected_glare += 1;
                        return refuse(491, "Request Pending");
                    }
                    _ => call.offer_pending = Some((from, method.clone(), msg.cseq().seq)),
                }
            }
        }
        if !has_sdp(msg) {
            return Step::Forward;
        }
        let step = self.describe(id, from, msg, true);
        if method == Method::Ack {
            if let Step::Refuse { .. } = step {
                self.stats.dropped += 1;
                return Step::Drop;
            }
        }
        if matches!(step, Step::Refuse { .. }) {
            if let Some(call) = self.calls.get_mut(&id) {
                if call
                    .offer_pending
                    .as_ref()
                    .is_some_and(|(s, _, _)| *s == from)
                {
                    call.offer_pending = None;
                }
                // A refused initial offer ends the call: nothing was sent on.
                if !in_dialog && method == Method::Invite {
                    let reason = match &step {
                        Step::Refuse { code, .. } => format!("{code} from C"),
                        _ => String::new(),
                    };
                    self.end(id, reason, now);
                }
            }
        }
        step
    }

    fn start(&mut self, from: Side, msg: &Message, now: Instant) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let call = Call {
            id,
            call_id: msg.call_id().to_owned(),
            caller_tag: msg.from().tag().unwrap_or_default().to_owned(),
            callee_tag: None,
            origin: from,
            from: msg.from().uri.to_string(),
            to: msg.to().uri.to_string(),
            state: CallState::Setup,
            started: now,
            answered: None,
            media: Media::None,
            video: false,
            offer_pending: None,
            version: 0,
            dialog: Dialog {
                caller: msg.from().to_string(),
                callee: msg.to().to_string(),
                caller_contact: msg.contacts().next().map(|c| c.uri.to_string()),
                caller_routes: msg.record_routes().map(ToString::to_string).collect(),
                caller_cseq: msg.cseq().seq,
                ..Dialog::default()
            },
        };
        self.by_call_id
            .entry(call.call_id.clone())
            .or_default()
            .push(id);
        self.calls.insert(id, call);
        self.stats.started += 1;
        id
    }

    fn on_response(
        &mut self,
        from: Side,
        msg: &mut Message,
        now: Instant,
        known: Option<u64>,
    ) -> Step {
        // The response answers a request that came from the other side.
        let found = known
            .filter(|id| self.calls.contains_key(id))
            .or_else(|| self.find(msg, from.other()));
        let Some(id) = found else {
            return Step::Forward;
        };
        let status = msg.status().unwrap_or(0);
        let method = msg.cseq().method.clone();
        let seq = msg.cseq().seq;
        let Some(call) = self.calls.get_mut(&id) else {
            return Step::Forward;
        };
        let initial = method == Method::Invite && call.state != CallState::Established;
        if status >= 200
            && call
                .offer_pending
                .as_ref()
                .is_some_and(|(_, m, s)| *m == method && *s == seq)
        {
            call.offer_pending = None;
        }
        if initial && status > 100 {
            if call.callee_tag.is_none() {
                call.callee_tag = msg.to().tag().map(str::to_owned);
            }
            if (200..300).contains(&status) {
                call.state = CallState::Established;
                call.answered = Some(now);
                call.dialog.callee = msg.to().to_string();
                call.dialog.callee_contact = msg.contacts().next().map(|c| c.uri.to_string());
                let rr: Vec<&crate::sip::NameAddr> = msg.record_routes().collect();
                let ours = rr
                    .iter()
                    .position(|r| self.own.as_ref().is_some_and(|o| o.is_our_route(r)));
                call.dialog.callee_routes = match ours {
                    Some(k) => rr[..k].iter().rev().map(|r| r.to_string()).collect(),
                    None => Vec::new(),
                };
                self.stats.answered += 1;
            } else if status < 200 {
                if msg.to().tag().is_some() {
                    call.state = CallState::Early;
                }
            } else {
                self.end(id, format!("{status} from {}", from.as_str()), now);
                return Step::Forward;
            }
        }
        if !has_sdp(msg) || status >= 300 {
            return Step::Forward;
        }
        match self.describe(id, from, msg, false) {
            Step::Refuse { .. } => {
                // An answer we cannot carry: the other party gets it with every stream refused.
                self.stats.bad_answers += 1;
                self.refuse_all(id, from, msg);
                Step::Forward
            }
            other => other,
        }
    }

    /// A description crossing from `from` in a message of call `id`: opens the media (held),
    /// or updates the legs and rewrites the body.
    fn describe(&mut self, id: u64, from: Side, msg: &mut Message, request: bool) -> Step {
        let sdp = match Sdp::parse(msg.body()) {
            Ok(s) => s,
            Err(e) => {
                self.stats.rejected_malformed_sdp += 1;
                return refuse(400, format!("Bad Request ({e})"));
            }
        };
        let kind = match from {
            Side::Outside => LegKind::External,
            Side::Inside => LegKind::Internal,
        };
        let checks = match anchor::check(
            &sdp,
            kind,
            self.config.best_effort,
            self.config.accept_crypto,
        ) {
            Ok(c) => c,
            Err(r) => {
                self.stats.rejected_sdp += 1;
                return refuse(r.code, format!("Not Acceptable Here ({})", r.reason));
            }
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return Step::Forward;
        };
        match &call.media {
            Media::Opening { .. } => return Step::Hold(id),
            Media::None => {
                let carried = checks.iter().filter(|c| c.carried).count();
                if carried > self.config.max_streams {
                    self.stats.rejected_sdp += 1;
                    return refuse(
                        488,
                        format!(
                            "Not Acceptable Here (more than {} streams)",
                            self.config.max_streams
                        ),
                    );
                }
                let mut sections = Vec::with_capacity(checks.len());
                let mut k = 0;
                for c in &checks {
                    sections.push(c.carried.then_some(k));
                    k += usize::from(c.carried);
                }
                let streams: Vec<StreamOpen> = checks
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.carried)
                    .map(|(i, c)| StreamOpen {
                        media: c.media.clone(),
                        suite: match (from, &c.crypto) {
                            (Side::Outside, Some(k)) => {
                                let (_, rest) = tag_of(k);
                                Some(tag_of(rest).0.to_owned())
                            }
                            (Side::Outside, None) => None,
                            (Side::Inside, _) => Some(DEFAULT_SUITE.to_owned()),
                        },
                        peer_crypto: c.crypto.clone(),
                        inside_remote: (from == Side::Inside)
                            .then(|| remote_of(&sdp, i, c.port))
                            .flatten(),
                    })
                    .collect();
                call.media = Media::Opening {
                    sections,
                    asked: streams.clone(),
                };
                self.actions.push(CallAction::Open { call: id, streams });
                return Step::Hold(id);
            }
            Media::Open { .. } => {}
        }
        let Media::Open {
            outside_address,
            sections,
            streams,
        } = &mut call.media
        else {
            return Step::Forward;
        };
        let mut plan = Plan {
            kind: match from {
                Side::Outside => LegKind::Internal,
                Side::Inside => LegKind::External,
            },
            address: match from {
                Side::Outside => self.config.inside_address,
                Side::Inside => *outside_address,
            },
            origin: Origin {
                username: "portico".into(),
                session_id: id.to_string(),
                version: call.version,
                net_type: "IN".into(),
                addr_type: "IP4".into(),
                address: String::new(),
            },
            sections: Vec::with_capacity(checks.len()),
        };
        call.version += 1;
        for (i, c) in checks.iter().enumerate() {
            let stream = sections.get(i).copied().flatten();
            let Some(s) = stream
                .filter(|_| c.carried)
                .and_then(|k| streams.get_mut(k))
            else {
                plan.sections.push(closed());
                continue;
            };
            let k = stream.unwrap_or(0);
            let mut update = StreamUpdate {
                stream: k,
                peer_crypto: None,
                inside_remote: None,
            };
            match from {
                Side::Outside => {
                    if let Some(crypto) = &c.crypto {
                        s.outside_tag = Some(tag_of(crypto).0.to_owned());
                        if s.peer_crypto.as_ref() != Some(crypto) {
                            s.peer_crypto = Some(crypto.clone());
                            update.peer_crypto = Some(crypto.clone());
                        }
                    }
                    plan.sections.push(SectionPlan {
                        port: s.opened.inside_port,
                        rtcp_port: None,
                        rtcp_mux: false,
                        crypto: None,
                    });
                }
                Side::Inside => {
                    let remote = remote_of(&sdp, i, c.port);
                    if remote.is_some() && remote != s.inside_remote {
                        s.inside_remote = remote;
                        update.inside_remote = remote;
                    }
                    let tag = s.outside_tag.clone().unwrap_or_else(|| "1".to_owned());
                    plan.sections.push(SectionPlan {
                        port: s.opened.outside_port,
                        rtcp_port: None,
                        rtcp_mux: false,
                        crypto: s.opened.our_crypto.as_ref().map(|k| format!("{tag} {k}")),
                    });
                }
            }
            if update.peer_crypto.is_some() || update.inside_remote.is_some() {
                self.actions.push(CallAction::Update { call: id, update });
            }
        }
        plan.origin.address = plan.address.to_string();
        plan.origin.addr_type = if plan.address.is_ipv4() { "IP4" } else { "IP6" }.into();
        let body = anchor::rewrite(&sdp, &plan).to_bytes();
        if msg.set_body(body).is_err() {
            self.stats.dropped += 1;
            return if request {
                refuse(500, "Server Internal Error (description too large)")
            } else {
                Step::Drop
            };
        }
        Step::Forward
    }

    /// Rewrites an answer C cannot carry so that every stream is refused (port 0) on the other
    /// side.
    fn refuse_all(&mut self, id: u64, from: Side, msg: &mut Message) {
        let Ok(sdp) = Sdp::parse(msg.body()) else {
            let _ = msg.set_body(Vec::new());
            return;
        };
        let address = match (from, self.calls.get(&id).map(|c| &c.media)) {
            (
                Side::Inside,
                Some(Media::Open {
                    outside_address, ..
                }),
            ) => *outside_address,
            _ => self.config.inside_address,
        };
        let plan = Plan {
            kind: match from {
                Side::Outside => LegKind::Internal,
                Side::Inside => LegKind::External,
            },
            address,
            origin: Origin {
                username: "portico".into(),
                session_id: id.to_string(),
                version: 0,
                net_type: "IN".into(),
                addr_type: if address.is_ipv4() { "IP4" } else { "IP6" }.into(),
                address: address.to_string(),
            },
            sections: Vec::new(),
        };
        let _ = msg.set_body(anchor::rewrite(&sdp, &plan).to_bytes());
    }

    /// The driver's answer to [`CallAction::Open`]: the held messages of this call can be given
    /// to [`Calls::on_message`] again (`Ok`), or must be refused with 503 (`Err`, the call is
    /// ended and its media closed).
    pub fn opened(&mut self, call: u64, result: Result<OpenedMedia, String>, now: Instant) -> bool {
        let Some(c) = self.calls.get_mut(&call) else {
            // Ended while opening: give back what was opened.
            if result.is_ok() {
                self.actions.push(CallAction::Close { call });
            }
            return false;
        };
        match result {
            Ok(m) => {
                let Media::Opening { sections, asked } =
                    std::mem::replace(&mut c.media, Media::None)
                else {
                    return false;
                };
                if m.streams.len() != asked.len() {
                    self.stats.media_failed += 1;
                    self.actions.push(CallAction::Close { call });
                    c.media = Media::None;
                    self.end(call, "media: wrong number of streams opened".into(), now);
                    return false;
                }
                let streams: Vec<Stream> = m
                    .streams
                    .into_iter()
                    .zip(asked)
                    .map(|(opened, a)| Stream {
                        outside_tag: a.peer_crypto.as_deref().map(|k| tag_of(k).0.to_owned()),
                        media: a.media,
                        opened,
                        peer_crypto: a.peer_crypto,
                        inside_remote: a.inside_remote,
                    })
                    .collect();
                c.video = streams
                    .iter()
                    .any(|s| s.media.eq_ignore_ascii_case("video"));
                if c.video {
                    self.stats.video += 1;
                } else {
                    self.stats.audio_only += 1;
                }
                c.media = Media::Open {
                    outside_address: m.outside_address,
                    sections,
                    streams,
                };
                true
            }
            Err(why) => {
                self.stats.media_failed += 1;
                self.end(call, format!("media: {why}"), now);
                false
            }
        }
    }

    /// The relay saw no media on `call` for its inactivity timeout: the call is ended (the
    /// driver closes its media). Returns whether it was a call going on.
    pub fn media_inactive(&mut self, call: u64, now: Instant) -> bool {
        // Before the answer, media may well be quiet (ringing): only answered calls end.
        if self
            .calls
            .get(&call)
            .is_none_or(|c| c.state != CallState::Established)
        {
            return false;
        }
        self.stats.media_timeouts += 1;
        if let Some(c) = self.calls.get(&call) {
            self.byes
                .extend(byes_for(c, "SIP;cause=408;text=\"media inactivity\""));
        }
        self.end(call, "media inactivity".into(), now);
        true
    }

    /// Ends calls whose set-up has taken too long.
    pub fn expire(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .calls
            .values()
            .filter(|c| {
                c.state != CallState::Established
                    && now.saturating_duration_since(c.started) >= self.config.setup_timeout
            })
            .map(|c| c.id)
            .collect();
        for id in late {
            self.stats.setup_timeouts += 1;
            self.end(id, "set-up timeout".into(), now);
        }
    }

    fn end(&mut self, id: u64, why: String, now: Instant) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        if let Some(ids) = self.by_call_id.get_mut(&call.call_id) {
            ids.retain(|x| *x != id);
            if ids.is_empty() {
                self.by_call_id.remove(&call.call_id);
            }
        }
        if !matches!(call.media, Media::None) {
            self.actions.push(CallAction::Close { call: id });
        }
        self.stats.ended += 1;
        self.history.push_back(record(&call, now, Some(why)));
        while self.history.len() > self.config.history {
            self.history.pop_front();
        }
    }
}

fn closed() -> SectionPlan {
    SectionPlan {
        port: 0,
        rtcp_port: None,
        rtcp_mux: false,
        crypto: None,
    }
}

/// Where section `i` wants RTP and RTCP (RFC 3605 `a=rtcp`, RFC 5761 `a=rtcp-mux`, else the
/// next port).
fn remote_of(sdp: &Sdp, i: usize, port: u16) -> Option<(SocketAddr, SocketAddr)> {
    let ip = sdp.connection_of(i)?.ip()?;
    let section = sdp.sections().get(i)?;
    let rtp = SocketAddr::new(ip, port);
    let rtcp = if section.has_attribute("rtcp-mux") {
        rtp
    } else if let Some((p, addr)) = section.rtcp() {
        SocketAddr::new(addr.unwrap_or(ip), p)
    } else {
        SocketAddr::new(ip, port.saturating_add(1))
    };
    Some((rtp, rtcp))
}

fn record(c: &Call, now: Instant, ended: Option<String>) -> CallRecord {
    let streams = match &c.media {
        Media::Open { streams, .. } => streams.len(),
        _ => 0,
    };
    CallRecord {
        id: c.id,
        call_id: c.call_id.clone(),
        from: c.from.clone(),
        to: c.to.clone(),
        origin: c.origin,
        state: c.state,
        duration: now.saturating_duration_since(c.started),
        talk_time: c.answered.map(|a| now.saturating_duration_since(a)),
        video: c.video,
        streams,
        ended,
    }
}

/// The two BYEs that end `c` at both parties: each in the other party's name.
fn byes_for(c: &Call, reason: &str) -> Vec<ByeRequest> {
    let d = &c.dialog;
    // (toward, its Contact, From, To, the sender's last CSeq, routes from C toward it)
    let ends = [
        (
            c.origin,
            &d.caller_contact,
            &d.callee,
            &d.caller,
            d.callee_cseq,
            &d.caller_routes,
        ),
        (
            c.origin.other(),
            &d.callee_contact,
            &d.caller,
            &d.callee,
            d.caller_cseq,
            &d.callee_routes,
        ),
    ];
    ends.into_iter()
        .filter_map(|(toward, contact, from, to, cseq, routes)| {
            Some(ByeRequest {
                toward,
                flow: (toward == Side::Outside)
                    .then_some(d.outside_flow)
                    .flatten(),
                target: contact.clone()?,
                from: from.clone(),
                to: to.clone(),
                call_id: c.call_id.clone(),
                cseq: cseq.saturating_add(1),
                routes: if toward == Side::Inside {
                    routes.clone()
                } else {
                    Vec::new()
                },
                reason: reason.to_owned(),
            })
        })
        .collect()
}
