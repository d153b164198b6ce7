//! The client machines on a virtual clock: RFC 3261 §17.1.1 (with RFC 6026 §7.2) and §17.1.2.

use super::harness::{invite, ms, request, response, response_tagged, Harness};
use super::{
    Disposition, Event, InviteClient, NonInviteClient, Reliability, State, Timer, TimerConfig,
    TransactionError,
};
use crate::sip::{HeaderKind, Message, Method};

fn nic(transport: &str, reliability: Reliability) -> Harness<NonInviteClient> {
    Harness::new(|now| {
        let req = request("OPTIONS", transport, "z9hG4bK-nic1");
        NonInviteClient::new(now, req, reliability, TimerConfig::default()).unwrap()
    })
}

fn ic(transport: &str, reliability: Reliability) -> Harness<InviteClient> {
    Harness::new(|now| {
        let req = invite(transport, "z9hG4bK-ic1");
        InviteClient::new(now, req, reliability, TimerConfig::default()).unwrap()
    })
}

fn codes(events: &[(std::time::Duration, Event)]) -> Vec<(u128, u16)> {
    events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Response(r) => r.status().map(|c| (t.as_millis(), c)),
            _ => None,
        })
        .collect()
}

/// §17.1.2.2: Timer E at T1, doubling to T2 (500 ms, 1 s, 2 s, 4 s, 4 s, …), and Timer F at
/// 64·T1 gives up.
#[test]
fn non_invite_udp_retransmits_on_timer_e_and_times_out_on_f() {
    let mut h = nic("UDP", Reliability::Unreliable);
    assert_eq!(h.under.state(), State::Trying);
    h.run_until_idle(ms(100_000));
    assert_eq!(
        h.transmit_ms(),
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(h
        .transmits()
        .iter()
        .all(|(_, m)| m == h.under.request() && m.method() == Some(&Method::Options)));
    assert_eq!(h.events(), [(ms(32_000), Event::Timeout(Timer::F))]);
    assert_eq!(h.terminated_at(), Some(ms(32_000)));
    assert_eq!(h.under.state(), State::Terminated);
    assert_eq!(h.under.retransmissions(), 10);
    assert_eq!(h.under.poll_timeout(), None);
}

/// §17.1.2.2: a final response goes to the TU, its retransmissions are absorbed, Timer K (T4)
/// ends the transaction; no more retransmissions after it.
#[test]
fn non_invite_final_response_then_timer_k() {
    let mut h = nic("UDP", Reliability::Unreliable);
    let ok = response(h.under.request(), 200);
    h.advance(ms(1200));
    let d = h.call(|m, now| m.handle_response(now, ok.clone()));
    assert_eq!(d, Disposition::Delivered);
    assert_eq!(h.under.state(), State::Completed);
    h.advance(ms(800));
    let d = h.call(|m, now| m.handle_response(now, ok.clone()));
    assert_eq!(d, Disposition::Absorbed);
    h.run_until_idle(ms(100_000));
    assert_eq!(h.transmit_ms(), [0, 500]);
    assert_eq!(codes(&h.events()), [(1200, 200)]);
    assert_eq!(h.terminated_at(), Some(ms(1200 + 5000)));
}

/// §17.1.2.2: in Proceeding, Timer E fires every T2.
#[test]
fn non_invite_proceeding_retransmits_every_t2() {
    let mut h = nic("UDP", Reliability::Unreliable);
    let trying = response(h.under.request(), 100);
    h.advance(ms(700));
    h.call(|m, now| m.handle_response(now, trying.clone()));
    assert_eq!(h.under.state(), State::Proceeding);
    h.run_until_idle(ms(100_000));
    assert_eq!(
        h.transmit_ms(),
        [0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]
    );
    assert_eq!(codes(&h.events()), [(700, 100)]);
    assert_eq!(h.events().last().unwrap().1, Event::Timeout(Timer::F));
}

/// Over TCP: no Timer E, and Timer K is zero.
#[test]
fn non_invite_tcp_never_retransmits_and_k_is_zero() {
    let mut h = nic("TCP", Reliability::Reliable);
    h.advance(ms(10_000));
    let ok = response(h.under.request(), 404);
    h.call(|m, now| m.handle_response(now, ok));
    assert_eq!(h.under.state(), State::Terminated);
    assert_eq!(h.terminated_at(), Some(ms(10_000)));
    assert_eq!(h.transmit_ms(), [0]);

    let mut h = nic("TCP", Reliability::Reliable);
    h.run_until_idle(ms(100_000));
    assert_eq!(h.transmit_ms(), [0]);
    assert_eq!(h.events(), [(ms(32_000), Event::Timeout(Timer::F))]);
}

/// §17.1.1.2: Timer A at T1, doubling without a cap; Timer B at 64·T1.
#[test]
fn invite_udp_retransmits_on_timer_a_and_times_out_on_b() {
    let mut h = ic("UDP", Reliability::Unreliable);
    assert_eq!(h.under.state(), State::Calling);
    h.run_until_idle(ms(100_000));
    assert_eq!(h.transmit_ms(), [0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(h.events(), [(ms(32_000), Event::Timeout(Timer::B))]);
    assert_eq!(h.terminated_at(), Some(ms(32_000)));
    assert_eq!(h.under.retransmissions(), 6);
}

/// The ACK of §17.1.1.3, field by field.
fn check_ack(ack: &Message, invite: &Message, final_response: &Message) {
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), invite.request_uri());
    assert_eq!(ack.vias().collect::<Vec<_>>(), [invite.top_via().unwrap()]);
    assert_eq!(ack.call_id(), invite.call_id());
    assert_eq!(ack.from(), invite.from());
    assert_eq!(ack.to(), final_response.to());
    assert_eq!(ack.to().tag(), Some("a6c85cf"));
    assert_eq!(
        (ack.cseq().seq, &ack.cseq().method),
        (314_159, &Method::Ack)
    );
    assert_eq!(
        ack.routes().collect::<Vec<_>>(),
        invite.routes().collect::<Vec<_>>()
    );
    assert_eq!(ack.max_forwards(), Some(70));
    assert_eq!(ack.content_length(), Some(0));
    assert!(ack.header("Contact").is_none());
    assert_eq!(
        ack.headers()
            .filter(|h| h.kind() == HeaderKind::Via)
            .count(),
        1
    );
}

/// §17.1.1.2: a 1xx stops the retransmissions (and Timer B); a 3xx–6xx gets an ACK, built by the
/// transaction; each retransmission of it gets the ACK again and is absorbed; Timer D ends it.
#[test]
fn invite_provisional_then_busy_is_acked_until_timer_d() {
    let mut h = ic("UDP", Reliability::Unreliable);
    let inv = h.under.request().clone();
    h.advance(ms(700));
    h.call(|m, now| m.handle_response(now, response(&inv, 180)));
    assert_eq!(h.under.state(), State::Proceeding);
    assert_eq!(h.under.poll_timeout(), None);
    h.advance(ms(100_000));
    assert_eq!(h.transmit_ms(), [0, 500]);

    let busy = response(&inv, 486);
    let d = h.call(|m, now| m.handle_response(now, busy.clone()));
    assert_eq!(d, Disposition::Delivered);
    assert_eq!(h.under.state(), State::Completed);
    h.advance(ms(1000));
    let d = h.call(|m, now| m.handle_response(now, busy.clone()));
    assert_eq!(d, Disposition::Absorbed);
    h.run_until_idle(ms(1_000_000));

    let sent = h.transmits();
    assert_eq!(h.transmit_ms(), [0, 500, 100_700, 101_700]);
    for (_, ack) in &sent[2..] {
        check_ack(ack, &inv, &busy);
    }
    assert_eq!(codes(&h.events()), [(700, 180), (100_700, 486)]);
    assert_eq!(h.terminated_at(), Some(ms(100_700 + 32_000)));
}

/// RFC 6026 §7.2: a 2xx moves to Accepted; the transaction sends no ACK and passes every
/// further 2xx (other forks, retransmissions) to the TU until Timer M; it retransmits nothing.
#[test]
fn invite_2xx_is_accepted_until_timer_m() {
    let mut h = ic("UDP", Reliability::Unreliable);
    let inv = h.under.request().clone();
    h.advance(ms(1000));
    let ok = response(&inv, 200);
    h.call(|m, now| m.handle_response(now, ok.clone()));
    assert_eq!(h.under.state(), State::Accepted);
    h.advance(ms(1000));
    let fork = response_tagged(&inv, 200, "fork2");
    assert_eq!(
        h.call(|m, now| m.handle_response(now, fork.clone())),
        Disposition::Delivered
    );
    assert_eq!(
        h.call(|m, now| m.handle_response(now, ok.clone())),
        Disposition::Delivered
    );
    assert_eq!(
        h.call(|m, now| m.handle_response(now, response(&inv, 486))),
        Disposition::Absorbed
    );
    h.run_until_idle(ms(1_000_000));
    assert_eq!(h.transmit_ms(), [0, 500]);
    assert_eq!(codes(&h.events()), [(1000, 200), (2000, 200), (2000, 200)]);
    assert_eq!(h.events()[1].1, Event::Response(fork));
    assert_eq!(h.terminated_at(), Some(ms(1000 + 32_000)));
}

/// Over TCP: no Timer A; the ACK for a 404 goes out once and Timer D is zero.
#[test]
fn invite_tcp_acks_and_terminates_at_once() {
    let mut h = ic("TCP", Reliability::Reliable);
    let inv = h.under.request().clone();
    h.advance(ms(5000));
    let nf = response(&inv, 404);
    h.call(|m, now| m.handle_response(now, nf.clone()));
    assert_eq!(h.under.state(), State::Terminated);
    let sent = h.transmits();
    assert_eq!(h.transmit_ms(), [0, 5000]);
    check_ack(&sent[1].1, &inv, &nf);
    assert_eq!(h.terminated_at(), Some(ms(5000)));
}

/// §17.1.4: a transport error goes to the TU and ends the transaction.
#[test]
fn client_transport_error_terminates() {
    let mut h = ic("UDP", Reliability::Unreliable);
    h.advance(ms(600));
    h.call(|m, now| m.handle_transport_error(now));
    assert_eq!(h.events(), [(ms(600), Event::TransportError)]);
    assert_eq!(h.under.state(), State::Terminated);
    let mut h = nic("UDP", Reliability::Unreliable);
    h.call(|m, now| m.handle_transport_error(now));
    assert_eq!(h.under.state(), State::Terminated);
    assert_eq!(h.events(), [(ms(0), Event::TransportError)]);
}

#[test]
fn client_constructors_refuse_what_they_cannot_send() {
    let t = TimerConfig::default();
    let now = std::time::Instant::now();
    let u = Reliability::Unreliable;
    let inv = invite("UDP", "z9hG4bK-1");
    let opt = request("OPTIONS", "UDP", "z9hG4bK-1");
    let ack = request("ACK", "UDP", "z9hG4bK-1");
    let resp = response(&opt, 200);
    let err = |r: Result<NonInviteClient, TransactionError>| r.unwrap_err();
    assert_eq!(
        err(NonInviteClient::new(now, inv.clone(), u, t)),
        TransactionError::WrongMethod
    );
    assert_eq!(
        err(NonInviteClient::new(now, ack.clone(), u, t)),
        TransactionError::Ack
    );
    assert_eq!(
        err(NonInviteClient::new(now, resp, u, t)),
        TransactionError::NotARequest
    );
    assert_eq!(
        err(NonInviteClient::new(
            now,
            request("OPTIONS", "UDP", "1234"),
            u,
            t
        )),
        TransactionError::NoBranch
    );
    assert_eq!(
        InviteClient::new(now, opt, u, t).unwrap_err(),
        TransactionError::WrongMethod
    );
    assert_eq!(
        InviteClient::new(now, ack, u, t).unwrap_err(),
        TransactionError::Ack
    );
    assert!(InviteClient::new(now, inv, u, t).is_ok());
}
