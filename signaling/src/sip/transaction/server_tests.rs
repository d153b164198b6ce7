//! The server machines on a virtual clock: RFC 3261 §17.2.1 (with RFC 6026 §7.1) and §17.2.2.

use std::time::Instant;

use super::harness::{ack, invite, ms, request, response, Harness};
use super::{
    Disposition, Event, InviteServer, NonInviteServer, Reliability, State, Timer, TimerConfig,
    TransactionError,
};
use crate::sip::Message;

fn nis(transport: &str, reliability: Reliability) -> Harness<NonInviteServer> {
    Harness::new(|now| {
        let req = request("REGISTER", transport, "z9hG4bK-nis1");
        NonInviteServer::new(now, req, reliability, TimerConfig::default()).unwrap()
    })
}

fn is(transport: &str, reliability: Reliability, trying: Option<u64>) -> Harness<InviteServer> {
    Harness::new(|now| {
        let req = invite(transport, "z9hG4bK-is1");
        let trying = trying.map(ms);
        InviteServer::new(now, req, reliability, TimerConfig::default(), trying).unwrap()
    })
}

/// The status codes transmitted, with their times.
fn sent_codes<D: super::harness::Driven>(h: &Harness<D>) -> Vec<(u128, u16)> {
    h.transmits()
        .iter()
        .map(|(t, m)| (t.as_millis(), m.status().unwrap_or(0)))
        .collect()
}

/// §17.2.2: the request goes to the TU; retransmissions are absorbed — silently in Trying, with
/// the latest response again in Proceeding and Completed; later responses from the TU are
/// discarded; Timer J (64·T1) ends it.
#[test]
fn non_invite_absorbs_retransmissions_until_timer_j() {
    let mut h = nis("UDP", Reliability::Unreliable);
    let req = request("REGISTER", "UDP", "z9hG4bK-nis1");
    assert_eq!(h.under.state(), State::Trying);
    assert_eq!(h.events(), [(ms(0), Event::Request(req.clone()))]);
    let retransmit = |h: &mut Harness<NonInviteServer>, at: u64| {
        h.advance_to(ms(at));
        let d = h.call(|m, now| m.handle_request(now, req.clone()));
        assert_eq!(d, Disposition::Absorbed);
    };
    retransmit(&mut h, 500);
    h.advance_to(ms(1000));
    h.call(|m, now| m.send_response(now, response(&req, 100)))
        .unwrap();
    assert_eq!(h.under.state(), State::Proceeding);
    retransmit(&mut h, 1500);
    h.advance_to(ms(2000));
    h.call(|m, now| m.send_response(now, response(&req, 200)))
        .unwrap();
    assert_eq!(h.under.state(), State::Completed);
    retransmit(&mut h, 2500);
    retransmit(&mut h, 20_000);
    assert_eq!(
        h.call(|m, now| m.send_response(now, response(&req, 500))),
        Err(TransactionError::FinalAlreadySent)
    );
    h.run_until_idle(ms(1_000_000));
    assert_eq!(
        sent_codes(&h),
        [
            (1000, 100),
            (1500, 100),
            (2000, 200),
            (2500, 200),
            (20_000, 200)
        ]
    );
    assert_eq!(h.events().len(), 1);
    assert_eq!(h.terminated_at(), Some(ms(2000 + 32_000)));
}

/// Over TCP Timer J is zero.
#[test]
fn non_invite_tcp_terminates_with_the_final_response() {
    let mut h = nis("TCP", Reliability::Reliable);
    let req = request("REGISTER", "TCP", "z9hG4bK-nis1");
    h.advance(ms(30));
    h.call(|m, now| m.send_response(now, response(&req, 200)))
        .unwrap();
    assert_eq!(h.under.state(), State::Terminated);
    assert_eq!(h.terminated_at(), Some(ms(30)));
    assert_eq!(
        h.call(|m, now| m.send_response(now, response(&req, 200))),
        Err(TransactionError::FinalAlreadySent)
    );
}

/// §17.2.1: 100 Trying when the TU has not answered in 200 ms, sent again for a retransmitted
/// INVITE; none when the TU is quick, or when the option is off.
#[test]
fn invite_sends_100_trying_when_the_tu_is_slow() {
    let inv = invite("UDP", "z9hG4bK-is1");
    let mut h = is("UDP", Reliability::Unreliable, Some(200));
    assert_eq!(h.events(), [(ms(0), Event::Request(inv.clone()))]);
    h.advance_to(ms(500));
    h.call(|m, now| m.handle_request(now, inv.clone()));
    assert_eq!(sent_codes(&h), [(200, 100), (500, 100)]);
    let trying = &h.transmits()[0].1;
    assert_eq!(trying.to().tag(), None);
    assert_eq!(trying.cseq(), inv.cseq());
    assert_eq!(trying.top_via(), inv.top_via());

    let mut quick = is("UDP", Reliability::Unreliable, Some(200));
    quick.advance_to(ms(100));
    quick
        .call(|m, now| m.send_response(now, response(&inv, 180)))
        .unwrap();
    quick.advance_to(ms(1000));
    assert_eq!(sent_codes(&quick), [(100, 180)]);

    let mut at_once = is("UDP", Reliability::Unreliable, Some(0));
    at_once.advance_to(ms(1000));
    assert_eq!(sent_codes(&at_once), [(0, 100)]);

    let mut off = is("UDP", Reliability::Unreliable, None);
    off.advance_to(ms(1000));
    off.call(|m, now| m.handle_request(now, inv.clone()));
    assert!(off.transmits().is_empty());
}

/// §17.2.1: a non-2xx final response is retransmitted on Timer G (T1 doubling to T2) and for
/// each retransmitted INVITE; the ACK stops it and is absorbed (so are its retransmissions);
/// Timer I ends it.
#[test]
fn invite_non_2xx_retransmitted_on_timer_g_until_the_ack() {
    let inv = invite("UDP", "z9hG4bK-is1");
    let mut h = is("UDP", Reliability::Unreliable, None);
    h.advance_to(ms(1000));
    h.call(|m, now| m.send_response(now, response(&inv, 486)))
        .unwrap();
    assert_eq!(h.under.state(), State::Completed);
    h.advance_to(ms(10_000));
    let d = h.call(|m, now| m.handle_request(now, inv.clone()));
    assert_eq!(d, Disposition::Absorbed);
    h.advance_to(ms(13_000));
    let d = h.call(|m, now| m.handle_ack(now, ack("UDP", "z9hG4bK-is1")));
    assert_eq!(d, Disposition::Absorbed);
    assert_eq!(h.under.state(), State::Confirmed);
    h.advance_to(ms(14_000));
    let d = h.call(|m, now| m.handle_ack(now, ack("UDP", "z9hG4bK-is1")));
    assert_eq!(d, Disposition::Absorbed);
    h.run_until_idle(ms(1_000_000));
    assert_eq!(
        h.transmit_ms(),
        [1000, 1500, 2500, 4500, 8500, 10_000, 12_500]
    );
    assert!(sent_codes(&h).iter().all(|(_, c)| *c == 486));
    assert_eq!(h.under.retransmissions(), 5);
    assert_eq!(h.events().len(), 1, "the ACK is not the TU's");
    assert_eq!(h.terminated_at(), Some(ms(13_000 + 5000)));
}

/// §17.2.1: no ACK by Timer H (64·T1): the TU hears of it.
#[test]
fn invite_timer_h_gives_up_without_an_ack() {
    let inv = invite("UDP", "z9hG4bK-is1");
    let mut h = is("UDP", Reliability::Unreliable, None);
    h.call(|m, now| m.send_response(now, response(&inv, 404)))
        .unwrap();
    h.run_until_idle(ms(1_000_000));
    assert_eq!(
        h.transmit_ms(),
        [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(h.events()[1], (ms(32_000), Event::Timeout(Timer::H)));
    assert_eq!(h.terminated_at(), Some(ms(32_000)));
}

/// RFC 6026 §7.1: a 2xx moves to Accepted; INVITE retransmissions are absorbed without a
/// response (the TU retransmits the 2xx); the TU's 2xx retransmissions are sent; a matching ACK
/// goes to the TU; Timer L ends it.
#[test]
fn invite_2xx_is_accepted_until_timer_l() {
    let inv = invite("UDP", "z9hG4bK-is1");
    let mut h = is("UDP", Reliability::Unreliable, Some(200));
    h.advance_to(ms(1000));
    let ok = response(&inv, 200);
    h.call(|m, now| m.send_response(now, ok.clone())).unwrap();
    assert_eq!(h.under.state(), State::Accepted);
    h.advance_to(ms(1500));
    let d = h.call(|m, now| m.handle_request(now, inv.clone()));
    assert_eq!(d, Disposition::Absorbed);
    h.call(|m, now| m.send_response(now, ok.clone())).unwrap();
    assert_eq!(
        h.call(|m, now| m.send_response(now, response(&inv, 486))),
        Err(TransactionError::FinalAlreadySent)
    );
    h.advance_to(ms(2000));
    let a = ack("UDP", "z9hG4bK-is1");
    let d = h.call(|m, now| m.handle_ack(now, a.clone()));
    assert_eq!(d, Disposition::Delivered);
    h.run_until_idle(ms(1_000_000));
    assert_eq!(sent_codes(&h), [(200, 100), (1000, 200), (1500, 200)]);
    assert_eq!(h.events()[1], (ms(2000), Event::Ack(a)));
    assert_eq!(h.terminated_at(), Some(ms(1000 + 32_000)));
}

/// Over TCP: no Timer G; the ACK confirms and Timer I is zero.
#[test]
fn invite_tcp_no_timer_g_and_i_is_zero() {
    let inv = invite("TCP", "z9hG4bK-is1");
    let mut h = is("TCP", Reliability::Reliable, None);
    h.call(|m, now| m.send_response(now, response(&inv, 603)))
        .unwrap();
    h.advance_to(ms(20_000));
    h.call(|m, now| m.handle_ack(now, ack("TCP", "z9hG4bK-is1")));
    assert_eq!(h.under.state(), State::Terminated);
    assert_eq!(h.transmit_ms(), [0]);
    assert_eq!(h.terminated_at(), Some(ms(20_000)));
}

/// §17.2.4 and RFC 6026 §7.1: a transport error ends the transaction, but in Accepted only
/// informs the TU.
#[test]
fn server_transport_errors() {
    let inv = invite("UDP", "z9hG4bK-is1");
    let mut h = is("UDP", Reliability::Unreliable, None);
    h.call(|m, now| m.send_response(now, response(&inv, 200)))
        .unwrap();
    h.call(|m, now| m.handle_transport_error(now));
    assert_eq!(h.under.state(), State::Accepted);
    assert_eq!(h.events()[1].1, Event::TransportError);

    let mut h = is("UDP", Reliability::Unreliable, None);
    h.call(|m, now| m.send_response(now, response(&inv, 180)))
        .unwrap();
    h.call(|m, now| m.handle_transport_error(now));
    assert_eq!(h.under.state(), State::Terminated);

    let mut h = nis("UDP", Reliability::Unreliable);
    h.call(|m, now| m.handle_transport_error(now));
    assert_eq!(h.under.state(), State::Terminated);
    assert_eq!(h.events()[1].1, Event::TransportError);
}

#[test]
fn server_constructors_and_responses_refuse_misuse() {
    let t = TimerConfig::default();
    let now = Instant::now();
    let u = Reliability::Unreliable;
    let inv = invite("UDP", "z9hG4bK-1");
    let opt = request("OPTIONS", "UDP", "z9hG4bK-1");
    let ack_req: Message = request("ACK", "UDP", "z9hG4bK-1");
    assert_eq!(
        InviteServer::new(now, opt.clone(), u, t, None).unwrap_err(),
        TransactionError::WrongMethod
    );
    assert_eq!(
        InviteServer::new(now, ack_req.clone(), u, t, None).unwrap_err(),
        TransactionError::Ack
    );
    assert_eq!(
        NonInviteServer::new(now, inv.clone(), u, t).unwrap_err(),
        TransactionError::WrongMethod
    );
    assert_eq!(
        NonInviteServer::new(now, ack_req, u, t).unwrap_err(),
        TransactionError::Ack
    );
    assert_eq!(
        NonInviteServer::new(now, response(&opt, 200), u, t).unwrap_err(),
        TransactionError::NotARequest
    );
    let mut s = NonInviteServer::new(now, opt.clone(), u, t).unwrap();
    assert_eq!(
        s.send_response(now, opt),
        Err(TransactionError::NotAResponse)
    );
    let mut s = InviteServer::new(now, inv.clone(), u, t, None).unwrap();
    assert_eq!(
        s.send_response(now, inv),
        Err(TransactionError::NotAResponse)
    );
}
