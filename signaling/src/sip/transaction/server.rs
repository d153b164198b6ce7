//! Server transactions: the INVITE server (RFC 3261 §17.2.1 with the RFC 6026 Accepted state)
//! and the non-INVITE server (§17.2.2).
//!
//! Each is created from the request the transport received, and queues it for the TU
//! ([`Event::Request`]) at once. The TU answers through
//! [`send_response`](InviteServer::send_response); the transaction sends the response, absorbs
//! retransmissions of the request (sending the latest response again), retransmits a non-2xx
//! final response to INVITE over unreliable transports until the ACK comes, and lingers long
//! enough to absorb late retransmissions. Feed it every retransmission the transport matched to
//! it ([`handle_request`](InviteServer::handle_request), and [`InviteServer::handle_ack`]), the
//! expiry of its timers ([`handle_timeout`](InviteServer::handle_timeout), due at
//! [`poll_timeout`](InviteServer::poll_timeout)) and send failures
//! ([`handle_transport_error`](InviteServer::handle_transport_error)); drain
//! [`poll_output`](InviteServer::poll_output) after each.

use std::time::{Duration, Instant};

use super::error::TransactionError;
use super::machine::Core;
use super::timers::{Reliability, Timer, TimerConfig};
use super::{Disposition, Event, Output, State};
use crate::sip::{Message, Method};

/// The status of a response the TU hands over, or why it is not one.
fn status(response: &Message) -> Result<u16, TransactionError> {
    response.status().ok_or(TransactionError::NotAResponse)
}

/// An INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).
///
/// States: Proceeding → Completed (the TU sent a 3xx–6xx) → Confirmed (the ACK came) →
/// Terminated; or Proceeding → Accepted (the TU sent a 2xx) → Terminated.
///
/// - Proceeding: a retransmitted INVITE gets the latest provisional response again. If the TU
///   has sent nothing when the Trying timer fires (200 ms by default, see
///   [`InviteServer::new`]), the transaction sends 100 Trying itself.
/// - Completed: the final response is retransmitted on Timer G (T1, 2·T1, … capped at T2, over
///   unreliable transports) and for each retransmitted INVITE; Timer H (64·T1) gives up waiting
///   for the ACK with [`Event::Timeout`]`(`[`Timer::H`]`)`.
/// - Confirmed: ACK retransmissions are absorbed until Timer I (T4, zero over reliable transports).
/// - Accepted: the TU retransmits its 2xx (RFC 3261 §13.3.1.4) through
///   [`send_response`](Self::send_response), which sends each; INVITE retransmissions are
///   absorbed; an ACK that matches the transaction goes to the TU ([`Event::Ack`]); Timer L
///   (64·T1) ends it.
#[derive(Clone, Debug)]
pub struct InviteServer {
    core: Core,
    request: Message,
    /// The latest provisional response sent (Proceeding), then the final one (Completed).
    last_response: Option<Vec<u8>>,
    /// The current Timer G interval.
    interval: Duration,
}

impl InviteServer {
    /// A transaction for the INVITE `request`, received over a transport of that reliability.
    /// The request is queued for the TU now. With `trying_after` set, 100 Trying is sent when the
    /// TU has sent no response that long after (RFC 3261 §17.2.1 says 200 ms; zero sends it at
    /// once); with `None` the TU sends its own provisional responses.
    pub fn new(
        now: Instant,
        request: Message,
        reliability: Reliability,
        config: TimerConfig,
        trying_after: Option<Duration>,
    ) -> Result<Self, TransactionError> {
        match request.method() {
            Some(Method::Invite) => {}
            Some(Method::Ack) => return Err(TransactionError::Ack),
            Some(_) => return Err(TransactionError::WrongMethod),
            None => return Err(TransactionError::NotARequest),
        }
        Ok(Self::start(now, request, reliability, config, trying_after))
    }

    /// [`new`](Self::new) for a request the caller has checked is an INVITE.
    pub(super) fn start(
        now: Instant,
        request: Message,
        reliability: Reliability,
        config: TimerConfig,
        trying_after: Option<Duration>,
    ) -> Self {
        let mut core = Core::new(State::Proceeding, reliability, config);
        core.tell_tu(Event::Request(request.clone()));
        let mut me = Self {
            core,
            request,
            last_response: None,
            interval: config.t1,
        };
        match trying_after {
            Some(d) if d.is_zero() => me.send_trying(),
            Some(d) => me.core.timers.arm(Timer::Trying, now, d),
            None => {}
        }
        me
    }

    /// The state.
    pub fn state(&self) -> State {
        self.core.state
    }

    /// The INVITE.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// Timer G retransmissions sent so far.
    pub fn retransmissions(&self) -> u64 {
        self.core.retransmissions
    }

    fn send_trying(&mut self) {
        // An INVITE that parsed has every field a response copies, so this does not fail; if
        // it did, the TU's own responses still go out.
        if let Ok(trying) = self.request.response(100, "Trying", None) {
            let bytes = trying.to_bytes();
            self.core.transmit(bytes.clone());
            self.last_response = Some(bytes);
        }
    }

    /// A retransmission of the INVITE, matched by the transport (RFC 3261 §17.2.3). It is
    /// absorbed; in Proceeding and Completed the latest response is sent again.
    pub fn handle_request(&mut self, _now: Instant, _request: Message) -> Disposition {
        if matches!(self.core.state, State::Proceeding | State::Completed) {
            if let Some(r) = &self.last_response {
                self.core.transmit(r.clone());
            }
        }
        Disposition::Absorbed
    }

    /// An ACK matched to this transaction (RFC 3261 §17.2.3): in Completed it confirms the
    /// non-2xx final response and is absorbed; in Accepted it goes to the TU (RFC 6026 §7.1);
    /// otherwise it is absorbed.
    pub fn handle_ack(&mut self, now: Instant, ack: Message) -> Disposition {
        match self.core.state {
            State::Completed => {
                self.core.timers.clear();
                let wait = self.core.config.timer_i_k(self.core.reliability);
                self.core.linger(State::Confirmed, Timer::I, now, wait);
                Disposition::Absorbed
            }
            State::Accepted => {
                self.core.tell_tu(Event::Ack(ack));
                Disposition::Delivered
            }
            _ => Disposition::Absorbed,
        }
    }

    /// A response from the TU. A 1xx is sent and remembered; a 2xx is sent and moves to
    /// Accepted; a 3xx–6xx is sent and moves to Completed. In Accepted, further 2xx (the TU's
    /// retransmissions) are sent; anything else after the final response is discarded with
    /// [`TransactionError::FinalAlreadySent`].
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Message,
    ) -> Result<(), TransactionError> {
        let code = status(&response)?;
        match (self.core.state, code) {
            (State::Proceeding, 100..=199) => {
                self.core.timers.cancel(Timer::Trying);
                let bytes = response.to_bytes();
                self.core.transmit(bytes.clone());
                self.last_response = Some(bytes);
            }
            (State::Proceeding, 200..=299) => {
                self.core.timers.clear();
                self.core.transmit(response.to_bytes());
                self.last_response = None;
                self.core.state = State::Accepted;
                self.core
                    .timers
                    .arm(Timer::L, now, self.core.config.timeout());
            }
            (State::Proceeding, _) => {
                self.core.timers.clear();
                let bytes = response.to_bytes();
                self.core.transmit(bytes.clone());
                self.last_response = Some(bytes);
                self.core.state = State::Completed;
                if self.core.unreliable() {
                    self.core.timers.arm(Timer::G, now, self.interval);
                }
                self.core
                    .timers
                    .arm(Timer::H, now, self.core.config.timeout());
            }
            (State::Accepted, 200..=299) => self.core.transmit(response.to_bytes()),
            _ => return Err(TransactionError::FinalAlreadySent),
        }
        Ok(())
    }

    /// The transport could not send a response (RFC 3261 §17.2.4): the TU gets
    /// [`Event::TransportError`]. The transaction ends, except in Accepted where the TU owns the
    /// 2xx retransmissions and may try again (RFC 6026 §7.1).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        match self.core.state {
            State::Terminated => {}
            State::Accepted => self.core.tell_tu(Event::TransportError),
            _ => {
                self.core.tell_tu(Event::TransportError);
                self.core.terminate();
            }
        }
    }

    /// Ends the transaction now, in whatever state, sending nothing more (see
    /// [`InviteClient::terminate`](super::InviteClient::terminate)).
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
                Timer::Trying => {
                    if self.core.state == State::Proceeding && self.last_response.is_none() {
                        self.send_trying();
                    }
                }
                Timer::G => {
                    if let Some(r) = &self.last_response {
                        self.core.retransmit(r);
                    }
                    self.interval = self.interval.saturating_mul(2).min(self.core.config.t2);
                    self.core.timers.arm(Timer::G, now, self.interval);
                }
                Timer::H => {
                    self.core.tell_tu(Event::Timeout(Timer::H));
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

/// A non-INVITE server transaction (RFC 3261 §17.2.2).
///
/// States: Trying → Proceeding (the TU sent a 1xx) → Completed (the TU sent a final response) →
/// Terminated.
///
/// - Trying: request retransmissions are absorbed silently.
/// - Proceeding: each request retransmission gets the latest provisional response again.
/// - Completed: each request retransmission gets the final response again, until Timer J
///   (64·T1, zero over reliable transports); further responses from the TU are discarded.
#[derive(Clone, Debug)]
pub struct NonInviteServer {
    core: Core,
    /// The latest response sent.
    last_response: Option<Vec<u8>>,
}

impl NonInviteServer {
    /// A transaction for `request` (any method but INVITE and ACK), received over a transport of
    /// that reliability. The request is queued for the TU now.
    pub fn new(
        _now: Instant,
        request: Message,
        reliability: Reliability,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        match request.method() {
            Some(Method::Invite) => return Err(TransactionError::WrongMethod),
            Some(Method::Ack) => return Err(TransactionError::Ack),
            Some(_) => {}
            None => return Err(TransactionError::NotARequest),
        }
        Ok(Self::start(request, reliability, config))
    }

    /// [`new`](Self::new) for a request the caller has checked is neither INVITE nor ACK.
    pub(super) fn start(request: Message, reliability: Reliability, config: TimerConfig) -> Self {
        let mut core = Core::new(State::Trying, reliability, config);
        core.tell_tu(Event::Request(request));
        Self {
            core,
            last_response: None,
        }
    }

    /// The state.
    pub fn state(&self) -> State {
        self.core.state
    }

    /// A retransmission of the request, matched by the transport (RFC 3261 §17.2.3). It is
    /// absorbed; in Proceeding and Completed the latest response is sent again.
    pub fn handle_request(&mut self, _now: Instant, _request: Message) -> Disposition {
        if matches!(self.core.state, State::Proceeding | State::Completed) {
            if let Some(r) = &self.last_response {
                self.core.transmit(r.clone());
            }
        }
        Disposition::Absorbed
    }

    /// A response from the TU: a 1xx is sent and remembered (Proceeding), a final one is sent
    /// and moves to Completed. After the final response, responses are discarded with
    /// [`TransactionError::FinalAlreadySent`].
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Message,
    ) -> Result<(), TransactionError> {
        let code = status(&response)?;
        if !matches!(self.core.state, State::Trying | State::Proceeding) {
            return Err(TransactionError::FinalAlreadySent);
        }
        let bytes = response.to_bytes();
        self.core.transmit(bytes.clone());
        self.last_response = Some(bytes);
        if code < 200 {
            self.core.state = State::Proceeding;
        } else {
            let wait = self.core.config.timer_j(self.core.reliability);
            self.core.linger(State::Completed, Timer::J, now, wait);
        }
        Ok(())
    }

    /// The transport could not send a response (RFC 3261 §17.2.4): the TU gets
    /// [`Event::TransportError`] and the transaction ends.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.core.state != State::Terminated {
            self.core.tell_tu(Event::TransportError);
            self.core.terminate();
        }
    }

    /// Ends the transaction now, in whatever state, sending nothing more (see
    /// [`InviteClient::terminate`](super::InviteClient::terminate)).
    pub fn terminate(&mut self) {
        self.core.terminate();
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next()
    }

    /// Fires the timers due at `now` (Timer J ends the transaction).
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.core.timers.pop_due(now).is_some() {
            self.core.terminate();
        }
    }

    /// The next output, until `None`.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.poll_output()
    }
}
