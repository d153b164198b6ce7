//! A virtual clock for the transaction tests, and the SIP messages they exchange.
//!
//! [`Harness`] holds one machine or table and the current instant. It fires every deadline at
//! its own instant while the clock moves forward, drains the outputs after every call, and logs
//! each output with the time it came out, so that a test reads "retransmitted at 0.5 s, 1.5 s,
//! 3.5 s" off the log.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use super::{
    Event, InviteClient, InviteServer, NonInviteClient, NonInviteServer, Output, TableOutput,
    Transactions,
};
use crate::sip::Message;

/// A sans-IO thing the harness drives.
pub(super) trait Driven {
    type Out: Debug;
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    fn poll_output(&mut self) -> Option<Self::Out>;
    /// The transaction output inside an output.
    fn output(out: &Self::Out) -> &Output;
}

macro_rules! driven_machine {
    ($($machine:ty),*) => {$(
        impl Driven for $machine {
            type Out = Output;
            fn poll_timeout(&self) -> Option<Instant> {
                <$machine>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$machine>::handle_timeout(self, now)
            }
            fn poll_output(&mut self) -> Option<Output> {
                <$machine>::poll_output(self)
            }
            fn output(out: &Output) -> &Output {
                out
            }
        }
    )*};
}

driven_machine!(InviteClient, NonInviteClient, InviteServer, NonInviteServer);

impl<P: Clone + Debug> Driven for Transactions<P> {
    type Out = TableOutput<P>;
    fn poll_timeout(&self) -> Option<Instant> {
        Transactions::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Transactions::handle_timeout(self, now)
    }
    fn poll_output(&mut self) -> Option<TableOutput<P>> {
        Transactions::poll_output(self)
    }
    fn output(out: &TableOutput<P>) -> &Output {
        &out.output
    }
}

/// Milliseconds, for short test lines.
pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One machine or table on a virtual clock.
pub(super) struct Harness<D: Driven> {
    start: Instant,
    now: Instant,
    pub(super) under: D,
    /// Every output, with the time since the start when it came out.
    pub(super) log: Vec<(Duration, D::Out)>,
}

impl<D: Driven> Harness<D> {
    /// Builds the thing under test at the start instant and drains what it queued.
    pub(super) fn new(make: impl FnOnce(Instant) -> D) -> Self {
        let start = Instant::now();
        let mut h = Self {
            start,
            now: start,
            under: make(start),
            log: Vec::new(),
        };
        h.drain();
        h
    }

    /// The time since the start.
    pub(super) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn drain(&mut self) {
        while let Some(out) = self.under.poll_output() {
            self.log.push((self.elapsed(), out));
        }
    }

    /// Calls `f` with the current instant, then drains.
    pub(super) fn call<R>(&mut self, f: impl FnOnce(&mut D, Instant) -> R) -> R {
        let r = f(&mut self.under, self.now);
        self.drain();
        r
    }

    /// Moves the clock to `at` since the start, firing each deadline on the way at its own
    /// instant.
    pub(super) fn advance_to(&mut self, at: Duration) {
        let target = self.start + at;
        while let Some(deadline) = self.under.poll_timeout().filter(|d| *d <= target) {
            self.now = self.now.max(deadline);
            self.under.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(target);
    }

    /// Moves the clock forward by `by`.
    pub(super) fn advance(&mut self, by: Duration) {
        self.advance_to(self.elapsed() + by);
    }

    /// Runs the clock until nothing is armed, at most to `limit` since the start.
    pub(super) fn run_until_idle(&mut self, limit: Duration) {
        while let Some(deadline) = self.under.poll_timeout() {
            if deadline - self.start > limit {
                break;
            }
            self.advance_to(deadline - self.start);
        }
    }

    /// The time and message of each transmission, in order.
    pub(super) fn transmits(&self) -> Vec<(Duration, Message)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match D::output(o) {
                Output::Transmit(bytes) => Some((*t, Message::parse(bytes).unwrap())),
                _ => None,
            })
            .collect()
    }

    /// When each transmission happened, in milliseconds since the start.
    pub(super) fn transmit_ms(&self) -> Vec<u128> {
        self.transmits()
            .iter()
            .map(|(t, _)| t.as_millis())
            .collect()
    }

    /// The TU events with their times.
    pub(super) fn events(&self) -> Vec<(Duration, Event)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match D::output(o) {
                Output::Event(e) => Some((*t, e.clone())),
                _ => None,
            })
            .collect()
    }

    /// When the (first) transaction terminated.
    pub(super) fn terminated_at(&self) -> Option<Duration> {
        self.log
            .iter()
            .find(|(_, o)| *D::output(o) == Output::Terminated)
            .map(|(t, _)| *t)
    }
}

/// Which table of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    Uac,
    Uas,
}

/// Two tables joined by a virtual UDP network with a fixed one-way delay that loses the
/// datagrams whose numbers (in the order sent, from 0) are in `lose`. The UAS's TU answers every
/// request at once with `answer`; the UAC's TU only listens.
pub(super) struct Pair {
    start: Instant,
    now: Instant,
    pub(super) uac: Transactions<End>,
    pub(super) uas: Transactions<End>,
    pub(super) answer: u16,
    pub(super) lose: Vec<usize>,
    pub(super) delay: Duration,
    sent: usize,
    /// (arrival, to, bytes)
    in_flight: Vec<(Instant, End, Vec<u8>)>,
    /// Every datagram sent: time, sender, whether lost, the message.
    pub(super) wire: Vec<(Duration, End, bool, Message)>,
    /// Every TU event: time, table, event.
    pub(super) events: Vec<(Duration, End, Event)>,
}

impl Pair {
    pub(super) fn new(config: super::Config, answer: u16, lose: &[usize]) -> Self {
        let start = Instant::now();
        Self {
            start,
            now: start,
            uac: Transactions::new(config),
            uas: Transactions::new(config),
            answer,
            lose: lose.to_vec(),
            delay: ms(10),
            sent: 0,
            in_flight: Vec::new(),
            wire: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The UAC starts a transaction now.
    pub(super) fn send(&mut self, request: Message) -> super::TransactionId {
        let id = self.uac.send_request(self.now, request, End::Uas).unwrap();
        self.drain();
        id
    }

    fn drain(&mut self) {
        let t = self.now - self.start;
        loop {
            let (from, out) = if let Some(o) = self.uac.poll_output() {
                (End::Uac, o)
            } else if let Some(o) = self.uas.poll_output() {
                (End::Uas, o)
            } else {
                break;
            };
            match out.output {
                Output::Transmit(bytes) => {
                    let lost = self.lose.contains(&self.sent);
                    self.sent += 1;
                    self.wire
                        .push((t, from, lost, Message::parse(&bytes).unwrap()));
                    if !lost {
                        self.in_flight
                            .push((self.now + self.delay, out.peer, bytes));
                    }
                }
                Output::Event(event) => {
                    if let (End::Uas, Event::Request(req)) = (from, &event) {
                        let answer = response(req, self.answer);
                        self.uas.send_response(self.now, out.id, answer).unwrap();
                    }
                    self.events.push((t, from, event));
                }
                Output::Terminated => {}
            }
        }
    }

    /// Runs the network and both tables until nothing is left to happen (or `limit` passes).
    pub(super) fn run(&mut self, limit: Duration) {
        loop {
            let next = [
                self.uac.poll_timeout(),
                self.uas.poll_timeout(),
                self.in_flight.iter().map(|(at, _, _)| *at).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|n| *n - self.start <= limit) else {
                break;
            };
            self.now = self.now.max(next);
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|(at, _, _)| *at <= self.now);
            self.in_flight = later;
            for (_, to, bytes) in due {
                let msg = Message::parse(&bytes).unwrap();
                let table = match to {
                    End::Uac => &mut self.uac,
                    End::Uas => &mut self.uas,
                };
                let _ = table.handle_message(self.now, msg, to.other());
                self.drain();
            }
            self.uac.handle_timeout(self.now);
            self.uas.handle_timeout(self.now);
            self.drain();
        }
    }
}

impl End {
    fn other(self) -> End {
        match self {
            End::Uac => End::Uas,
            End::Uas => End::Uac,
        }
    }
}

/// A request from Alice's phone as RFC 3665 writes them, through one proxy (a Route), with its
/// top Via on that transport and branch.
pub(super) fn request(method: &str, transport: &str, branch: &str) -> Message {
    let text = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} pc33.atlanta.example.com:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:expe.example.com;lr>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         To: Bob <sip:bob@biloxi.example.com>\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 314159 {method}\r\n\
         Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}

/// An INVITE.
pub(super) fn invite(transport: &str, branch: &str) -> Message {
    request("INVITE", transport, branch)
}

/// Bob's response to `request`, To-tagged `to_tag` (none for 100).
pub(super) fn response_tagged(request: &Message, code: u16, to_tag: &str) -> Message {
    let reason = match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        404 => "Not Found",
        486 => "Busy Here",
        487 => "Request Terminated",
        _ => "Whatever",
    };
    let tag = (code != 100).then_some(to_tag);
    request.response(code, reason, tag).unwrap()
}

/// Bob's response to `request`.
pub(super) fn response(request: &Message, code: u16) -> Message {
    response_tagged(request, code, "a6c85cf")
}

/// The ACK Alice's INVITE client sends for Bob's non-2xx final response: the INVITE's branch.
pub(super) fn ack(transport: &str, branch: &str) -> Message {
    let text = format!(
        "ACK sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} pc33.atlanta.example.com:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:expe.example.com;lr>\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 314159 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}
