//! The transaction table: every transaction of one SIP endpoint, found by key, driven by one
//! timer queue, bounded in number.
//!
//! # Matching
//!
//! - A response matches the client transaction whose request had the same top Via `branch` and
//!   CSeq method (RFC 3261 §17.1.3): a 200 to a CANCEL finds the CANCEL transaction, not the
//!   INVITE with the same branch.
//! - A request matches the server transaction whose request had the same top Via `branch` (with
//!   the magic cookie `z9hG4bK`), the same top Via sent-by and the same method, ACK counting as
//!   INVITE (§17.2.3): an ACK for a non-2xx final response finds its INVITE transaction, and a
//!   CANCEL is a transaction of its own ([`Transactions::invite_for_cancel`] finds the INVITE it
//!   cancels).
//! - Branches compare without regard to case (a token, RFC 3261 §7.3.1), and so do sent-by host
//!   names; a port matches only the same port (absent matches absent).
//! - Not supported: the RFC 2543 matching of §17.2.3 for requests whose branch lacks the magic
//!   cookie. Such a request is a new server transaction each time it arrives (the TU sees its
//!   retransmissions as new requests), and an ACK without the cookie matches nothing.
//!
//! A request that matches nothing creates a server transaction — but not an ACK: an ACK that
//! matches nothing (the ACK for a 2xx, on its own branch, §13.2.2.4) and a response that matches
//! nothing (a stray, §18.1.2) come back as [`Incoming::Unmatched`] for the TU.
//!
//! # Limits
//!
//! The table holds at most [`Config::max_transactions`]. Beyond that a request that would create
//! a server transaction is refused with [`TableFull`], which gives the request back: the caller
//! answers it 503 Service Unavailable statelessly; and [`Transactions::send_request`] is refused
//! with [`TransactionError::TableFull`]. Terminated transactions leave the table at once.
//!
//! # Transport
//!
//! The reliability of each transaction (and so its timers) follows from the transport in the top
//! Via of its request: the one this endpoint put there for a request it sends, the one the
//! previous hop put there for a request it received (RFC 3261 §18.1.1, §18.2.1). Each
//! transaction also keeps a `peer` of the driver's type `P`, given when it was created (the
//! destination of a request it sends, the source or flow of a request it received), and every
//! output carries it: the driver needs no map of its own to know where bytes go.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use super::client::{InviteClient, NonInviteClient};
use super::error::{TableFull, TransactionError};
use super::server::{InviteServer, NonInviteServer};
use super::timers::{Reliability, TimerConfig};
use super::{Disposition, Event, Output, State};
use crate::sip::{Host, Message, Method};

/// The settings of a [`Transactions`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// T1, T2, T4.
    pub timers: TimerConfig,
    /// When an INVITE server transaction sends 100 Trying itself if the TU has not answered
    /// (RFC 3261 §17.2.1: 200 ms); `None` leaves provisional responses to the TU.
    pub trying_after: Option<Duration>,
    /// The most transactions the table holds, client and server together.
    pub max_transactions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            timers: TimerConfig::default(),
            trying_after: Some(Duration::from_millis(200)),
            max_transactions: 10_000,
        }
    }
}

/// Which side of a transaction this endpoint is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// It sent the request.
    Client,
    /// It received the request.
    Server,
}

/// What a transaction is found by (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    side: Side,
    /// In lower case.
    branch: String,
    /// The top Via sent-by (server side only), host names in lower case.
    sent_by: Option<(Host, Option<u16>)>,
    /// The method, INVITE for an ACK.
    method: Method,
}

impl TransactionKey {
    /// The key of the client transaction a request sent or a response received belongs to: the
    /// top Via branch and the CSeq method (RFC 3261 §17.1.3). `None` without a branch.
    pub fn client(message: &Message) -> Option<Self> {
        let branch = message.top_via()?.branch()?;
        Some(Self {
            side: Side::Client,
            branch: branch.to_ascii_lowercase(),
            sent_by: None,
            method: message.cseq().method.clone(),
        })
    }

    /// The key of the server transaction a received request belongs to: the top Via branch and
    /// sent-by, and the method with ACK as INVITE (RFC 3261 §17.2.3). `None` for a request (or
    /// response) without a branch starting with the magic cookie.
    pub fn server(request: &Message) -> Option<Self> {
        let via = request.top_via()?;
        if !via.has_rfc3261_branch() {
            return None;
        }
        let host = match &via.host {
            Host::Name(n) => Host::Name(n.to_ascii_lowercase()),
            ip => ip.clone(),
        };
        let method = match request.method()? {
            Method::Ack => Method::Invite,
            m => m.clone(),
        };
        Some(Self {
            side: Side::Server,
            branch: via.branch()?.to_ascii_lowercase(),
            sent_by: Some((host, via.port)),
            method,
        })
    }

    /// Client or server.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The branch, in lower case.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The method (INVITE for the key of an ACK).
    pub fn method(&self) -> &Method {
        &self.method
    }
}

/// A transaction's handle in the table. Ids are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(u64);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// What [`Transactions::handle_message`] did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// It went to that transaction: delivered to the TU (queued in
    /// [`poll_output`](Transactions::poll_output)) or absorbed.
    Matched {
        /// The transaction.
        id: TransactionId,
        /// Delivered or absorbed.
        disposition: Disposition,
    },
    /// A request that created this server transaction; [`Event::Request`] is queued.
    Created(TransactionId),
    /// It matched nothing and creates nothing: a response (a stray, RFC 3261 §18.1.2: a proxy
    /// forwards it statelessly, a UA drops it) or an ACK (for a 2xx: the dialog's, §13.2.2.4).
    Unmatched(Box<Message>),
}

/// Counters of a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionStats {
    /// Client transactions created.
    pub client_created: u64,
    /// Server transactions created.
    pub server_created: u64,
    /// Messages matched to a transaction.
    pub matched: u64,
    /// Matched messages absorbed rather than delivered: retransmissions of requests and of
    /// final responses, ACKs for non-2xx final responses, late responses.
    pub absorbed: u64,
    /// Timer-driven retransmissions sent (Timers A, E, G).
    pub retransmissions: u64,
    /// Transactions that gave up (Timers B, F, H).
    pub timeouts: u64,
    /// Requests refused because the table was full (answered 503 by the caller), and requests
    /// [`Transactions::send_request`] refused for the same reason.
    pub refused: u64,
    /// Responses and ACKs that matched nothing.
    pub unmatched: u64,
}

/// One output of a transaction in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableOutput<P> {
    /// The transaction.
    pub id: TransactionId,
    /// The peer it was created with: where [`Output::Transmit`] bytes go.
    pub peer: P,
    /// What it wants.
    pub output: Output,
}

#[derive(Clone, Debug)]
enum Machine {
    InviteClient(InviteClient),
    NonInviteClient(NonInviteClient),
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
}

impl Machine {
    fn state(&self) -> State {
        match self {
            Machine::InviteClient(m) => m.state(),
            Machine::NonInviteClient(m) => m.state(),
            Machine::InviteServer(m) => m.state(),
            Machine::NonInviteServer(m) => m.state(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Machine::InviteClient(m) => m.poll_timeout(),
            Machine::NonInviteClient(m) => m.poll_timeout(),
            Machine::InviteServer(m) => m.poll_timeout(),
            Machine::NonInviteServer(m) => m.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Machine::InviteClient(m) => m.handle_timeout(now),
            Machine::NonInviteClient(m) => m.handle_timeout(now),
            Machine::InviteServer(m) => m.handle_timeout(now),
            Machine::NonInviteServer(m) => m.handle_timeout(now),
        }
    }

    fn handle_transport_error(&mut self, now: Instant) {
        match self {
            Machine::InviteClient(m) => m.handle_transport_error(now),
            Machine::NonInviteClient(m) => m.handle_transport_error(now),
            Machine::InviteServer(m) => m.handle_transport_error(now),
            Machine::NonInviteServer(m) => m.handle_transport_error(now),
        }
    }

    fn terminate(&mut self) {
        match self {
            Machine::InviteClient(m) => m.terminate(),
            Machine::NonInviteClient(m) => m.terminate(),
            Machine::InviteServer(m) => m.terminate(),
            Machine::NonInviteServer(m) => m.terminate(),
        }
    }

    fn retransmissions(&self) -> u64 {
        match self {
            Machine::InviteClient(m) => m.retransmissions(),
            Machine::NonInviteClient(m) => m.retransmissions(),
            Machine::InviteServer(m) => m.retransmissions(),
            Machine::NonInviteServer(_) => 0,
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        match self {
            Machine::InviteClient(m) => m.poll_output(),
            Machine::NonInviteClient(m) => m.poll_output(),
            Machine::InviteServer(m) => m.poll_output(),
            Machine::NonInviteServer(m) => m.poll_output(),
        }
    }
}

#[derive(Clone, Debug)]
struct Entry<P> {
    machine: Machine,
    /// `None` for a server transaction without an RFC 3261 branch: it is never matched.
    key: Option<TransactionKey>,
    peer: P,
    /// The deadline this entry has in the timer queue.
    deadline: Option<Instant>,
}

/// The transactions of one endpoint. See the [module docs](self) for matching and limits, and
/// the [parent module](super) for the drain rule.
#[derive(Clone, Debug)]
pub struct Transactions<P> {
    config: Config,
    entries: HashMap<TransactionId, Entry<P>>,
    by_key: HashMap<TransactionKey, TransactionId>,
    /// Every armed deadline, earliest first.
    deadlines: BTreeSet<(Instant, TransactionId)>,
    next_id: u64,
    out: VecDeque<TableOutput<P>>,
    stats: TransactionStats,
}

impl<P: Clone> Transactions<P> {
    /// An empty table.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            entries: HashMap::new(),
            by_key: HashMap::new(),
            deadlines: BTreeSet::new(),
            next_id: 0,
            out: VecDeque::new(),
            stats: TransactionStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> TransactionStats {
        self.stats
    }

    /// How many transactions the table holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state of a transaction; `None` once it has terminated.
    pub fn state(&self, id: TransactionId) -> Option<State> {
        self.entries.get(&id).map(|e| e.machine.state())
    }

    /// The peer a transaction was created with.
    pub fn peer(&self, id: TransactionId) -> Option<&P> {
        self.entries.get(&id).map(|e| &e.peer)
    }

    /// The transaction with that key.
    pub fn find(&self, key: &TransactionKey) -> Option<TransactionId> {
        self.by_key.get(key).copied()
    }

    /// The INVITE server transaction a received CANCEL cancels: same branch and sent-by, method
    /// INVITE (RFC 3261 §9.2). `None` if `cancel` is no CANCEL or the INVITE is unknown (the TU
    /// then answers the CANCEL 481).
    pub fn invite_for_cancel(&self, cancel: &Message) -> Option<TransactionId> {
        if cancel.method() != Some(&Method::Cancel) {
            return None;
        }
        let mut key = TransactionKey::server(cancel)?;
        key.method = Method::Invite;
        self.find(&key)
    }

    fn insert(&mut self, machine: Machine, key: Option<TransactionKey>, peer: P) -> TransactionId {
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        if let Some(k) = &key {
            self.by_key.insert(k.clone(), id);
        }
        let entry = Entry {
            machine,
            key,
            peer,
            deadline: None,
        };
        self.entries.insert(id, entry);
        id
    }

    /// Starts a client transaction for `request`, to go to `peer`; the request is queued for the
    /// transport. The request needs a top Via with an RFC 3261 branch unique among the client
    /// transactions; ACK is refused ([`TransactionError::Ack`]: the TU sends the ACK for a 2xx
    /// itself).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        peer: P,
    ) -> Result<TransactionId, TransactionError> {
        let reliability = request
            .top_via()
            .map_or(Reliability::Unreliable, |v| Reliability::of(&v.transport));
        let key = TransactionKey::client(&request);
        let timers = self.config.timers;
        let machine = if request.method() == Some(&Method::Invite) {
            Machine::InviteClient(InviteClient::new(now, request, reliability, timers)?)
        } else {
            Machine::NonInviteClient(NonInviteClient::new(now, request, reliability, timers)?)
        };
        // the constructors checked that the top Via has a branch
        let key = key.ok_or(TransactionError::NoBranch)?;
        if self.by_key.contains_key(&key) {
            return Err(TransactionError::DuplicateBranch);
        }
        if self.entries.len() >= self.config.max_transactions {
            self.stats.refused += 1;
            return Err(TransactionError::TableFull);
        }
        let id = self.insert(machine, Some(key), peer);
        self.stats.client_created += 1;
        self.drain(id);
        Ok(id)
    }

    /// A message the transport received from `peer`: matched to its transaction, or creating a
    /// server transaction, or given back (see [`Incoming`]). [`TableFull`] refuses a request
    /// that would create a transaction when the table is full: answer it 503.
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: Message,
        peer: P,
    ) -> Result<Incoming, TableFull> {
        if message.is_request() {
            self.handle_request(now, message, peer)
        } else {
            Ok(self.handle_response(now, message))
        }
    }

    fn handle_response(&mut self, now: Instant, response: Message) -> Incoming {
        let found = TransactionKey::client(&response).and_then(|k| self.find(&k));
        let Some((id, entry)) = found.and_then(|id| Some(id).zip(self.entries.get_mut(&id))) else {
            self.stats.unmatched += 1;
            return Incoming::Unmatched(Box::new(response));
        };
        let disposition = match &mut entry.machine {
            Machine::InviteClient(m) => m.handle_response(now, response),
            Machine::NonInviteClient(m) => m.handle_response(now, response),
            // client keys lead to client transactions only
            Machine::InviteServer(_) | Machine::NonInviteServer(_) => Disposition::Absorbed,
        };
        self.matched(id, disposition)
    }

    fn handle_request(
        &mut self,
        now: Instant,
        request: Message,
        peer: P,
    ) -> Result<Incoming, TableFull> {
        let key = TransactionKey::server(&request);
        let is_ack = request.method() == Some(&Method::Ack);
        let found = key.as_ref().and_then(|k| self.find(k));
        if let Some((id, entry)) = found.and_then(|id| Some(id).zip(self.entries.get_mut(&id))) {
            let disposition = match &mut entry.machine {
                Machine::InviteServer(m) if is_ack => m.handle_ack(now, request),
                Machine::InviteServer(m) => m.handle_request(now, request),
                Machine::NonInviteServer(m) => m.handle_request(now, request),
                // server keys lead to server transactions only
                Machine::InviteClient(_) | Machine::NonInviteClient(_) => Disposition::Absorbed,
            };
            return Ok(self.matched(id, disposition));
        }
        if is_ack {
            self.stats.unmatched += 1;
            return Ok(Incoming::Unmatched(Box::new(request)));
        }
        if self.entries.len() >= self.config.max_transactions {
            self.stats.refused += 1;
            return Err(TableFull {
                request: Box::new(request),
            });
        }
        let reliability = request
            .top_via()
            .map_or(Reliability::Unreliable, |v| Reliability::of(&v.transport));
        let timers = self.config.timers;
        let machine = if request.method() == Some(&Method::Invite) {
            let trying = self.config.trying_after;
            Machine::InviteServer(InviteServer::start(
                now,
                request,
                reliability,
                timers,
                trying,
            ))
        } else {
            Machine::NonInviteServer(NonInviteServer::start(request, reliability, timers))
        };
        let id = self.insert(machine, key, peer);
        self.stats.server_created += 1;
        self.drain(id);
        Ok(Incoming::Created(id))
    }

    fn matched(&mut self, id: TransactionId, disposition: Disposition) -> Incoming {
        self.stats.matched += 1;
        if disposition == Disposition::Absorbed {
            self.stats.absorbed += 1;
        }
        self.drain(id);
        Incoming::Matched { id, disposition }
    }

    /// A response from the TU for server transaction `id` (see [`InviteServer::send_response`]
    /// and [`NonInviteServer::send_response`]).
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Message,
    ) -> Result<(), TransactionError> {
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or(TransactionError::UnknownTransaction)?;
        match &mut entry.machine {
            Machine::InviteServer(m) => m.send_response(now, response)?,
            Machine::NonInviteServer(m) => m.send_response(now, response)?,
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                return Err(TransactionError::NotARequest)
            }
        }
        self.drain(id);
        Ok(())
    }

    /// The transport could not send what transaction `id` gave it (RFC 3261 §17.1.4, §17.2.4).
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        id: TransactionId,
    ) -> Result<(), TransactionError> {
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or(TransactionError::UnknownTransaction)?;
        entry.machine.handle_transport_error(now);
        self.drain(id);
        Ok(())
    }

    /// Ends transaction `id` now, sending nothing more; [`Output::Terminated`] is queued (see
    /// [`InviteClient::terminate`] for when a TU does this).
    pub fn terminate(&mut self, id: TransactionId) -> Result<(), TransactionError> {
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or(TransactionError::UnknownTransaction)?;
        entry.machine.terminate();
        self.drain(id);
        Ok(())
    }

    /// The earliest instant [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Fires every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.deadline = None;
                let before = entry.machine.retransmissions();
                entry.machine.handle_timeout(now);
                let sent = entry.machine.retransmissions().saturating_sub(before);
                self.stats.retransmissions += sent;
            }
            self.drain(id);
        }
    }

    /// The next output, until `None`.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<TableOutput<P>> {
        self.out.pop_front()
    }

    /// Panics unless the key map and the timer queue agree with the entries.
    #[cfg(test)]
    pub(super) fn assert_consistent(&self) {
        assert!(self.entries.len() <= self.config.max_transactions);
        for (key, id) in &self.by_key {
            assert_eq!(self.entries.get(id).and_then(|e| e.key.as_ref()), Some(key));
        }
        let keyed = self.entries.values().filter(|e| e.key.is_some()).count();
        assert_eq!(keyed, self.by_key.len());
        for (id, e) in &self.entries {
            assert_ne!(e.machine.state(), State::Terminated);
            assert_eq!(e.deadline, e.machine.poll_timeout());
            if let Some(at) = e.deadline {
                assert!(self.deadlines.contains(&(at, *id)));
            }
        }
        let armed = self
            .entries
            .values()
            .filter(|e| e.deadline.is_some())
            .count();
        assert_eq!(armed, self.deadlines.len());
    }

    /// Moves a transaction's outputs to the table's queue, files its next deadline, and removes
    /// it once terminated.
    fn drain(&mut self, id: TransactionId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        while let Some(output) = entry.machine.poll_output() {
            if let Output::Event(Event::Timeout(_)) = output {
                self.stats.timeouts += 1;
            }
            self.out.push_back(TableOutput {
                id,
                peer: entry.peer.clone(),
                output,
            });
        }
        if let Some(old) = entry.deadline.take() {
            self.deadlines.remove(&(old, id));
        }
        if entry.machine.state() == State::Terminated {
            if let Some(key) = &entry.key {
                self.by_key.remove(key);
            }
            self.entries.remove(&id);
        } else if let Some(next) = entry.machine.poll_timeout() {
            entry.deadline = Some(next);
            self.deadlines.insert((next, id));
        }
    }
}
