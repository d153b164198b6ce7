//! Client transactions: the INVITE client (RFC 3261 §17.1.1 with the RFC 6026 Accepted state)
//! and the non-INVITE client (§17.1.2), and the ACK the INVITE client builds for a non-2xx final
//! response (§17.1.1.3).
//!
//! Each is created from the request the TU sends, and queues that request for the transport at
//! once. It retransmits over unreliable transports, passes responses to the TU, and reports a
//! timeout when no (final) response comes. Feed it every response the transport matched to it
//! ([`handle_response`](InviteClient::handle_response)), the expiry of its timers
//! ([`handle_timeout`](InviteClient::handle_timeout), due at
//! [`poll_timeout`](InviteClient::poll_timeout)) and send failures
//! ([`handle_transport_error`](InviteClient::handle_transport_error)); drain
//! [`poll_output`](InviteClient::poll_output) after each.

use std::time::{Duration, Instant};

use super::error::TransactionError;
use super::machine::Core;
use super::timers::{Reliability, Timer, TimerConfig};
use super::{Disposition, Event, Output, State};
use crate::sip::{HeaderKind, Message, Method};

/// The checks both client machines make on the request they are created from.
fn check_request(request: &Message, invite: bool) -> Result<(), TransactionError> {
    match request.method() {
        None => return Err(TransactionError::NotARequest),
        Some(Method::Ack) => return Err(TransactionError::Ack),
        Some(m) if (*m == Method::Invite) != invite => return Err(TransactionError::WrongMethod),
        Some(_) => {}
    }
    if !request.top_via().is_some_and(|v| v.has_rfc3261_branch()) {
        return Err(TransactionError::NoBranch);
    }
    Ok(())
}

/// The ACK for a non-2xx final response to `invite` (whose bytes as sent are `invite_bytes`),
/// as RFC 3261 §17.1.1.3 builds it: the Request-URI, Call-ID, From and Route fields of the
/// INVITE, its top Via alone, the To of the response (with the tag the server added), the CSeq
/// number with method ACK, Max-Forwards 70 and no body.
pub(super) fn build_ack(invite: &Message, invite_bytes: &[u8], response: &Message) -> Vec<u8> {
    let mut ack = Vec::with_capacity(invite_bytes.len().min(1024));
    // The Request-URI as it went out: the start line is "INVITE <uri> SIP/2.0".
    let start_line = invite_bytes
        .windows(2)
        .position(|w| w == b"\r\n")
        .and_then(|end| invite_bytes.get(..end))
        .and_then(|l| l.strip_prefix(b"INVITE "));
    match start_line {
        Some(rest) => {
            ack.extend_from_slice(b"ACK ");
            ack.extend_from_slice(rest);
        }
        // not reached for a parsed INVITE; the typed URI says the same thing
        None => {
            let uri = invite.request_uri().map(ToString::to_string);
            ack.extend_from_slice(format!("ACK {} SIP/2.0", uri.unwrap_or_default()).as_bytes());
        }
    }
    ack.extend_from_slice(b"\r\n");
    if let Some(via) = invite.top_via() {
        ack.extend_from_slice(format!("Via: {via}\r\n").as_bytes());
    }
    let mut line = |msg: &Message, kind: HeaderKind| {
        for h in msg.headers().filter(|h| h.kind() == kind) {
            ack.extend_from_slice(h.line());
            ack.extend_from_slice(b"\r\n");
        }
    };
    line(invite, HeaderKind::Route);
    line(invite, HeaderKind::From);
    line(response, HeaderKind::To);
    line(invite, HeaderKind::CallId);
    ack.extend_from_slice(
        format!(
            "CSeq: {} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            invite.cseq().seq
        )
        .as_bytes(),
    );
    ack
}

/// An INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).
///
/// States: Calling → Proceeding (a 1xx) → Completed (a 3xx–6xx, which it ACKs itself) or
/// Accepted (a 2xx, which the TU ACKs) → Terminated.
///
/// - Calling: the INVITE is retransmitted on Timer A (T1, 2·T1, 4·T1, … over unreliable
///   transports); Timer B (64·T1) gives up with [`Event::Timeout`]`(`[`Timer::B`]`)`.
/// - Proceeding: no more retransmissions and no timeout; 1xx go to the TU.
/// - Completed: the ACK is sent, and sent again for every retransmission of the final response,
///   which is absorbed, until Timer D.
/// - Accepted: every further 2xx (other forks, retransmissions) goes to the TU, which ACKs it,
///   until Timer M (64·T1).
#[derive(Clone, Debug)]
pub struct InviteClient {
    core: Core,
    request: Message,
    request_bytes: Vec<u8>,
    /// The current Timer A interval.
    interval: Duration,
    /// The ACK sent in Completed, for the retransmissions of the final response.
    ack: Option<Vec<u8>>,
}

impl InviteClient {
    /// A transaction for `request`, an INVITE with an RFC 3261 branch in its top Via, sent over a
    /// transport of that reliability. The INVITE is queued for the transport now.
    pub fn new(
        now: Instant,
        request: Message,
        reliability: Reliability,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        check_request(&request, true)?;
        let mut core = Core::new(State::Calling, reliability, config);
        let request_bytes = request.to_bytes();
        core.transmit(request_bytes.clone());
        if core.unreliable() {
            core.timers.arm(Timer::A, now, config.t1);
        }
        core.timers.arm(Timer::B, now, config.timeout());
        Ok(Self {
            core,
            request,
            request_bytes,
            interval: config.t1,
            ack: None,
        })
    }

    /// The state.
    pub fn state(&self) -> State {
        self.core.state
    }

    /// The INVITE.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// Timer A retransmissions sent so far.
    pub fn retransmissions(&self) -> u64 {
        self.core.retransmissions
    }

    /// A response the transport matched to this transaction (RFC 3261 §17.1.3).
    pub fn handle_response(&mut self, now: Instant, response: Message) -> Disposition {
        let Some(code) = response.status() else {
            return Disposition::Absorbed;
        };
        match (self.core.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.core.state = State::Proceeding;
                self.core.timers.clear();
                self.core.tell_tu(Event::Response(response));
                Disposition::Delivered
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.core.timers.clear();
                self.core.state = State::Accepted;
                self.core
                    .timers
                    .arm(Timer::M, now, self.core.config.timeout());
                self.core.tell_tu(Event::Response(response));
                Disposition::Delivered
            }
            (State::Calling | State::Proceeding, _) => {
                self.core.timers.clear();
                let ack = build_ack(&self.request, &self.request_bytes, &response);
                self.core.transmit(ack.clone());
                self.ack = Some(ack);
                self.core.tell_tu(Event::Response(response));
                let wait = self.core.config.timer_d(self.core.reliability);
                self.core.linger(State::Completed, Timer::D, now, wait);
                Disposition::Delivered
            }
            (State::Accepted, 200..=299) => {
                self.core.tell_tu(Event::Response(response));
                Disposition::Delivered
            }
            (State::Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    self.core.transmit(ack.clone());
                }
                Disposition::Absorbed
            }
            _ => Disposition::Absorbed,
        }
    }

    /// The transport could not send the INVITE or the ACK (RFC 3261 §17.1.4): the TU gets
    /// [`Event::TransportError`] and the transaction ends. Nothing is sent in Accepted, so there
    /// it changes nothing.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(
            self.core.state,
            State::Calling | State::Proceeding | State::Completed
        ) {
            self.core.tell_tu(Event::TransportError);
            self.core.terminate();
        }
    }

    /// Ends the transaction now, in whatever state, sending nothing more: the TU gives up on it.
    /// An INVITE in Proceeding has no timer of its own; RFC 3261 §9.1 has the TU destroy an
    /// INVITE client whose CANCEL brought no final response within 64·T1, and a proxy ends its
    /// branches on Timer C (§16.8).
    pub fn terminate(&mut self) {
        self.core.terminate();
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next()
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.core.timers.pop_due(now) {
            match timer {
                Timer::A => {
                    self.core.retransmit(&self.request_bytes);
                    self.interval = self.interval.saturating_mul(2);
                    self.core.timers.arm(Timer::A, now, self.interval);
                }
                Timer::B => {
                    self.core.tell_tu(Event::Timeout(Timer::B));
                    self.core.terminate();
                }
                _ => self.core.terminate(),
            }
        }
    }

    /// The next output, until `None`.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.poll_output()
    }
}

/// A non-INVITE client transaction (RFC 3261 §17.1.2).
///
/// States: Trying → Proceeding (a 1xx) → Completed (a final response) → Terminated.
///
/// - Trying: the request is retransmitted on Timer E (T1, 2·T1, … capped at T2, over unreliable
///   transports); Timer F (64·T1) gives up with [`Event::Timeout`]`(`[`Timer::F`]`)`.
/// - Proceeding: retransmissions every T2, Timer F still running; 1xx go to the TU.
/// - Completed: the final response went to the TU; retransmissions of it are absorbed until
///   Timer K (T4, zero over reliable transports).
#[derive(Clone, Debug)]
pub struct NonInviteClient {
    core: Core,
    request: Message,
    request_bytes: Vec<u8>,
    /// The current Timer E interval.
    interval: Duration,
}

impl NonInviteClient {
    /// A transaction for `request` (any method but INVITE and ACK, an RFC 3261 branch in its top
    /// Via), sent over a transport of that reliability. The request is queued for the transport
    /// now.
    pub fn new(
        now: Instant,
        request: Message,
        reliability: Reliability,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        check_request(&request, false)?;
        let mut core = Core::new(State::Trying, reliability, config);
        let request_bytes = request.to_bytes();
        core.transmit(request_bytes.clone());
        if core.unreliable() {
            core.timers.arm(Timer::E, now, config.t1);
        }
        core.timers.arm(Timer::F, now, config.timeout());
        Ok(Self {
            core,
            request,
            request_bytes,
            interval: config.t1,
        })
    }

    /// The state.
    pub fn state(&self) -> State {
        self.core.state
    }

    /// The request.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// Timer E retransmissions sent so far.
    pub fn retransmissions(&self) -> u64 {
        self.core.retransmissions
    }

    /// A response the transport matched to this transaction (RFC 3261 §17.1.3).
    pub fn handle_response(&mut self, now: Instant, response: Message) -> Disposition {
        let Some(code) = response.status() else {
            return Disposition::Absorbed;
        };
        match (self.core.state, code) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.core.state = State::Proceeding;
                self.core.tell_tu(Event::Response(response));
                Disposition::Delivered
            }
            (State::Trying | State::Proceeding, _) => {
                self.core.timers.clear();
                self.core.tell_tu(Event::Response(response));
                let wait = self.core.config.timer_i_k(self.core.reliability);
                self.core.linger(State::Completed, Timer::K, now, wait);
                Disposition::Delivered
            }
            _ => Disposition::Absorbed,
        }
    }

    /// The transport could not send the request (RFC 3261 §17.1.4): the TU gets
    /// [`Event::TransportError`] and the transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(self.core.state, State::Trying | State::Proceeding) {
            self.core.tell_tu(Event::TransportError);
            self.core.terminate();
        }
    }

    /// Ends the transaction now, in whatever state, sending nothing more (see
    /// [`InviteClient::terminate`](InviteClient::terminate)).
    pub fn terminate(&mut self) {
        self.core.terminate();
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next()
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.core.timers.pop_due(now) {
            match timer {
                Timer::E => {
                    self.core.retransmit(&self.request_bytes);
                    // §17.1.2.2: doubling to T2 in Trying, T2 in Proceeding
                    self.interval = match self.core.state {
                        State::Trying => self.interval.saturating_mul(2).min(self.core.config.t2),
                        _ => self.core.config.t2,
                    };
                    self.core.timers.arm(Timer::E, now, self.interval);
                }
                Timer::F => {
                    self.core.tell_tu(Event::Timeout(Timer::F));
                    self.core.terminate();
                }
                _ => self.core.terminate(),
            }
        }
    }

    /// The next output, until `None`.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.poll_output()
    }
}
