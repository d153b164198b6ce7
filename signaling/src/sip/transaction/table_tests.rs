//! The transaction table: matching (RFC 3261 §17.1.3, §17.2.3), the size limit, timers of many
//! transactions from one queue, counters.

use super::harness::{ack, invite, ms, request, response, End, Harness, Pair};
use super::{
    Config, Disposition, Event, Incoming, Output, State, TableOutput, TransactionError,
    TransactionId, TransactionKey, Transactions,
};
use crate::sip::{Message, Method};

type Table = Transactions<&'static str>;

fn table(config: Config) -> Harness<Table> {
    Harness::new(|_| Transactions::new(config))
}

fn created(r: Result<Incoming, super::TableFull>) -> TransactionId {
    match r {
        Ok(Incoming::Created(id)) => id,
        other => panic!("not created: {other:?}"),
    }
}

fn matched(r: Result<Incoming, super::TableFull>) -> (TransactionId, Disposition) {
    match r {
        Ok(Incoming::Matched { id, disposition }) => (id, disposition),
        other => panic!("not matched: {other:?}"),
    }
}

fn unmatched(r: Result<Incoming, super::TableFull>) -> Message {
    match r {
        Ok(Incoming::Unmatched(m)) => *m,
        other => panic!("not unmatched: {other:?}"),
    }
}

/// The outputs of one transaction, without the peer.
fn of(log: &[(std::time::Duration, TableOutput<&'static str>)], id: TransactionId) -> Vec<Output> {
    log.iter()
        .filter(|(_, o)| o.id == id)
        .map(|(_, o)| o.output.clone())
        .collect()
}

/// §17.1.3: a response matches on top Via branch and CSeq method; a CANCEL with the INVITE's
/// branch is a transaction of its own, and so is its 200.
#[test]
fn responses_match_on_branch_and_cseq_method() {
    let mut h = table(Config::default());
    let inv = invite("UDP", "z9hG4bK-t1");
    let id = h
        .call(|t, now| t.send_request(now, inv.clone(), "bob"))
        .unwrap();
    assert_eq!(h.under.state(id), Some(State::Calling));
    // another branch, same everything else
    let other = response(&invite("UDP", "z9hG4bK-t2"), 180);
    assert_eq!(
        unmatched(h.call(|t, now| t.handle_message(now, other.clone(), "bob"))),
        other
    );
    // the branch compares without regard to case
    let upper = response(&invite("UDP", "z9hG4bK-T1"), 180);
    assert_eq!(
        matched(h.call(|t, now| t.handle_message(now, upper, "bob"))),
        (id, Disposition::Delivered)
    );
    // a 200 to a CANCEL on that branch does not match the INVITE
    let cancel = request("CANCEL", "UDP", "z9hG4bK-t1");
    let cancel_ok = response(&cancel, 200);
    unmatched(h.call(|t, now| t.handle_message(now, cancel_ok.clone(), "bob")));
    let cid = h
        .call(|t, now| t.send_request(now, cancel.clone(), "bob"))
        .unwrap();
    assert_ne!(cid, id);
    assert_eq!(
        matched(h.call(|t, now| t.handle_message(now, cancel_ok, "bob"))),
        (cid, Disposition::Delivered)
    );
    assert_eq!(h.under.state(cid), Some(State::Completed));
    assert_eq!(h.under.state(id), Some(State::Proceeding));
    let terminated = response(&inv, 487);
    matched(h.call(|t, now| t.handle_message(now, terminated, "bob")));
    assert_eq!(h.under.state(id), Some(State::Completed));
    let out = of(&h.log, id);
    let Some(Output::Transmit(last)) = out.iter().rfind(|o| matches!(o, Output::Transmit(_)))
    else {
        panic!("no ACK")
    };
    let ack = Message::parse(last).unwrap();
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert!(h.log.iter().all(|(_, o)| o.peer == "bob"));
    let s = h.under.stats();
    assert_eq!((s.client_created, s.matched, s.unmatched), (2, 3, 2));
}

/// §17.2.3: ACK for a non-2xx final matches the INVITE server transaction (same branch and
/// sent-by, ACK counted as INVITE); the ACK for a 2xx, on a new branch, matches nothing; a CANCEL
/// is a transaction of its own that finds its INVITE.
#[test]
fn requests_match_on_branch_sent_by_and_method() {
    let mut h = table(Config {
        trying_after: None,
        ..Config::default()
    });
    let inv = invite("UDP", "z9hG4bK-s1");
    let id = created(h.call(|t, now| t.handle_message(now, inv.clone(), "alice")));
    assert_eq!(of(&h.log, id), [Output::Event(Event::Request(inv.clone()))]);
    // a retransmission is absorbed
    assert_eq!(
        matched(h.call(|t, now| t.handle_message(now, inv.clone(), "alice"))),
        (id, Disposition::Absorbed)
    );
    // CANCEL: its own transaction; the TU finds the INVITE it cancels
    let cancel = request("CANCEL", "UDP", "z9hG4bK-s1");
    let cid = created(h.call(|t, now| t.handle_message(now, cancel.clone(), "alice")));
    assert_ne!(cid, id);
    assert_eq!(h.under.invite_for_cancel(&cancel), Some(id));
    assert_eq!(h.under.invite_for_cancel(&inv), None);
    h.call(|t, now| t.send_response(now, cid, response(&cancel, 200)))
        .unwrap();
    h.call(|t, now| t.send_response(now, id, response(&inv, 487)))
        .unwrap();
    assert_eq!(h.under.state(id), Some(State::Completed));
    // the ACK for the 487 matches the INVITE transaction and is absorbed
    assert_eq!(
        matched(h.call(|t, now| t.handle_message(now, ack("UDP", "z9hG4bK-s1"), "alice"))),
        (id, Disposition::Absorbed)
    );
    assert_eq!(h.under.state(id), Some(State::Confirmed));
    // another sent-by port is another transaction
    let mut moved = invite("UDP", "z9hG4bK-s1");
    moved.edit_top_via(|v| v.port = Some(5070)).unwrap();
    let other = created(h.call(|t, now| t.handle_message(now, moved, "alice")));
    assert_ne!(other, id);
    // an ACK for a 2xx (its own branch) matches nothing and comes back for the TU
    let ack2xx = ack("UDP", "z9hG4bK-ack2xx");
    assert_eq!(
        unmatched(h.call(|t, now| t.handle_message(now, ack2xx.clone(), "alice"))),
        ack2xx
    );
    let s = h.under.stats();
    assert_eq!(
        (s.server_created, s.matched, s.absorbed, s.unmatched),
        (3, 2, 2, 1)
    );
}

/// RFC 2543 matching is not supported: without the magic cookie each arrival is a new
/// transaction, and such an ACK matches nothing.
#[test]
fn requests_without_the_magic_cookie_are_new_each_time() {
    let mut h = table(Config::default());
    let old = request("OPTIONS", "UDP", "1234");
    let a = created(h.call(|t, now| t.handle_message(now, old.clone(), "old")));
    let b = created(h.call(|t, now| t.handle_message(now, old.clone(), "old")));
    assert_ne!(a, b);
    assert_eq!(TransactionKey::server(&old), None);
    unmatched(h.call(|t, now| t.handle_message(now, ack("UDP", "1234"), "old")));
    h.call(|t, now| t.send_response(now, a, response(&old, 200)))
        .unwrap();
    assert_eq!(h.under.state(a), Some(State::Completed));
}

/// The limit: beyond `max_transactions` a new server transaction is refused with the request
/// given back for a 503; retransmissions still match; room comes back when one terminates.
#[test]
fn the_table_is_bounded() {
    let mut h = table(Config {
        max_transactions: 2,
        ..Config::default()
    });
    let r1 = request("REGISTER", "TCP", "z9hG4bK-r1");
    let r2 = request("REGISTER", "TCP", "z9hG4bK-r2");
    let r3 = request("REGISTER", "TCP", "z9hG4bK-r3");
    let id1 = created(h.call(|t, now| t.handle_message(now, r1.clone(), "a")));
    created(h.call(|t, now| t.handle_message(now, r2.clone(), "b")));
    let full = h
        .call(|t, now| t.handle_message(now, r3.clone(), "c"))
        .unwrap_err();
    assert_eq!(*full.request, r3);
    let busy = full
        .request
        .response(503, "Service Unavailable", Some("x"))
        .unwrap();
    assert_eq!(busy.status(), Some(503));
    assert_eq!(
        h.call(|t, now| t.send_request(now, request("OPTIONS", "TCP", "z9hG4bK-c1"), "d")),
        Err(TransactionError::TableFull)
    );
    matched(h.call(|t, now| t.handle_message(now, r2.clone(), "b")));
    // an ACK never creates anything, so it is never refused
    unmatched(h.call(|t, now| t.handle_message(now, ack("TCP", "z9hG4bK-x"), "e")));
    assert_eq!(h.under.len(), 2);
    // over TCP Timer J is zero: the final response frees the slot at once
    h.call(|t, now| t.send_response(now, id1, response(&r1, 200)))
        .unwrap();
    assert_eq!(h.under.state(id1), None);
    assert_eq!(h.under.len(), 1);
    assert!(of(&h.log, id1).ends_with(&[Output::Terminated]));
    created(h.call(|t, now| t.handle_message(now, r3, "c")));
    assert_eq!(h.under.stats().refused, 2);
}

/// One timer queue for many transactions: each fires at its own time, the table empties, and
/// the counters add up.
#[test]
fn the_table_drives_every_timer_and_forgets_the_terminated() {
    let mut h = table(Config::default());
    let opt = request("OPTIONS", "UDP", "z9hG4bK-c1");
    let c1 = h.call(|t, now| t.send_request(now, opt, "p1")).unwrap();
    h.advance(ms(100));
    let inv = invite("UDP", "z9hG4bK-s1");
    let s1 = created(h.call(|t, now| t.handle_message(now, inv.clone(), "p2")));
    assert_eq!(h.under.poll_timeout().map(|_| ()), Some(()));
    h.advance_to(ms(1000));
    h.call(|t, now| t.send_response(now, s1, response(&inv, 486)))
        .unwrap();
    h.run_until_idle(ms(1_000_000));
    assert!(h.under.is_empty());
    assert_eq!(h.under.poll_timeout(), None);
    let ms_of = |id| -> Vec<u128> {
        h.log
            .iter()
            .filter(|(_, o)| o.id == id && matches!(o.output, Output::Transmit(_)))
            .map(|(t, _)| t.as_millis())
            .collect()
    };
    assert_eq!(
        ms_of(c1),
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    // 100 Trying at 300 ms, the 486 at 1 s and Timer G from there until H at 1 s + 32 s
    assert_eq!(ms_of(s1)[..5], [300, 1000, 1500, 2500, 4500]);
    let events: Vec<_> = h
        .log
        .iter()
        .filter_map(|(t, o)| match &o.output {
            Output::Event(Event::Timeout(timer)) => Some((o.id, t.as_millis(), *timer)),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [(c1, 32_000, super::Timer::F), (s1, 33_000, super::Timer::H)]
    );
    assert!(h.terminated_at().is_some());
    let s = h.under.stats();
    assert_eq!(s.client_created, 1);
    assert_eq!(s.server_created, 1);
    assert_eq!(s.timeouts, 2);
    assert_eq!(s.retransmissions, 10 + (ms_of(s1).len() as u64 - 2));
}

#[test]
fn the_table_refuses_misuse() {
    let mut h = table(Config::default());
    let opt = request("OPTIONS", "UDP", "z9hG4bK-c1");
    assert_eq!(
        h.call(|t, now| t.send_request(now, request("ACK", "UDP", "z9hG4bK-a"), "p")),
        Err(TransactionError::Ack)
    );
    assert_eq!(
        h.call(|t, now| t.send_request(now, request("OPTIONS", "UDP", "nocookie"), "p")),
        Err(TransactionError::NoBranch)
    );
    let id = h
        .call(|t, now| t.send_request(now, opt.clone(), "p"))
        .unwrap();
    assert_eq!(
        h.call(|t, now| t.send_request(now, opt.clone(), "p")),
        Err(TransactionError::DuplicateBranch)
    );
    assert_eq!(
        h.call(|t, now| t.send_response(now, id, response(&opt, 200))),
        Err(TransactionError::NotARequest)
    );
    h.call(|t, now| t.handle_transport_error(now, id)).unwrap();
    assert_eq!(h.under.state(id), None);
    assert_eq!(
        h.call(|t, now| t.send_response(now, id, response(&opt, 200))),
        Err(TransactionError::UnknownTransaction)
    );
    assert_eq!(
        h.call(|t, now| t.handle_transport_error(now, id)),
        Err(TransactionError::UnknownTransaction)
    );
    assert_eq!(
        of(&h.log, id)[1..],
        [Output::Event(Event::TransportError), Output::Terminated]
    );
}

/// Two tables over a lossy virtual UDP network: the first INVITE and the first 486 are lost;
/// the retransmissions get through, the ACK the UAC's transaction builds matches the UAS's
/// INVITE transaction (no Timer H), each TU sees each message once, and both tables empty.
#[test]
fn pair_recovers_an_invite_and_its_busy_from_loss() {
    let mut p = Pair::new(Config::default(), 486, &[0, 2]);
    let inv = invite("UDP", "z9hG4bK-pair1");
    p.send(inv);
    p.run(ms(1_000_000));
    let wire: Vec<_> = p
        .wire
        .iter()
        .map(|(t, from, lost, m)| {
            let what = m.status().map_or_else(
                || m.method().map(ToString::to_string).unwrap_or_default(),
                |c| c.to_string(),
            );
            (t.as_millis(), *from, *lost, what)
        })
        .collect();
    let row = |t: u128, from, lost, what: &str| (t, from, lost, what.to_string());
    assert_eq!(
        wire,
        [
            row(0, End::Uac, true, "INVITE"),
            row(500, End::Uac, false, "INVITE"),
            row(510, End::Uas, true, "486"),
            row(1010, End::Uas, false, "486"),
            row(1020, End::Uac, false, "ACK"),
        ]
    );
    let events: Vec<_> = p
        .events
        .iter()
        .map(|(t, end, e)| (t.as_millis(), *end, matches!(e, Event::Timeout(_))))
        .collect();
    assert_eq!(events, [(510, End::Uas, false), (1020, End::Uac, false)]);
    assert!(p.uac.is_empty() && p.uas.is_empty());
    assert_eq!(p.uas.stats().absorbed, 1, "the ACK");
    assert_eq!(p.uas.stats().timeouts, 0);
}

/// Two tables, non-INVITE: the 200 is lost; the UAC's Timer E retransmission reaches the UAS's
/// Completed transaction, which absorbs it and sends the 200 again.
#[test]
fn pair_recovers_a_lost_final_response() {
    let mut p = Pair::new(Config::default(), 200, &[1]);
    p.send(request("OPTIONS", "UDP", "z9hG4bK-pair2"));
    p.run(ms(1_000_000));
    let sent: Vec<_> = p
        .wire
        .iter()
        .map(|(t, from, lost, _)| (t.as_millis(), *from, *lost))
        .collect();
    assert_eq!(
        sent,
        [
            (0, End::Uac, false),
            (10, End::Uas, true),
            (500, End::Uac, false),
            (510, End::Uas, false),
        ]
    );
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.uas.stats().absorbed, 1);
    assert_eq!(p.uac.stats().retransmissions, 1);
    assert!(p.uac.is_empty() && p.uas.is_empty());
}

/// The TU gives up on an INVITE stuck in Proceeding (RFC 3261 §9.1): it leaves the table.
#[test]
fn the_tu_can_end_a_transaction() {
    let mut h = table(Config::default());
    let inv = invite("TCP", "z9hG4bK-stuck");
    let id = h
        .call(|t, now| t.send_request(now, inv.clone(), "bob"))
        .unwrap();
    matched(h.call(|t, now| t.handle_message(now, response(&inv, 180), "bob")));
    assert_eq!(h.under.poll_timeout(), None);
    h.call(|t, _| t.terminate(id)).unwrap();
    assert!(h.under.is_empty());
    assert_eq!(of(&h.log, id).last(), Some(&Output::Terminated));
    assert_eq!(
        h.call(|t, _| t.terminate(id)),
        Err(TransactionError::UnknownTransaction)
    );
    // a late response now matches nothing
    unmatched(h.call(|t, now| t.handle_message(now, response(&inv, 200), "bob")));
}

/// splitmix64, so that a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

/// Random messages, answers, errors and time jumps in any order: nothing panics, every output
/// is a message that parses, the table stays within its bound and consistent, and once the TU
/// ends what is left, nothing remains — no key, no timer.
#[test]
fn random_traffic_keeps_the_table_consistent() {
    let mut requests = Vec::new();
    for method in ["INVITE", "OPTIONS", "CANCEL", "BYE", "ACK"] {
        for transport in ["UDP", "TCP"] {
            for branch in ["z9hG4bK-1", "z9hG4bK-2", "z9hG4bK-3", "old-4"] {
                requests.push(request(method, transport, branch));
            }
        }
    }
    let mut messages = requests.clone();
    for r in requests.iter().filter(|r| r.method() != Some(&Method::Ack)) {
        for code in [100, 180, 200, 404, 486] {
            messages.push(response(r, code));
        }
    }
    let mut rng = Rng(0x7a11_0001);
    let mut h = table(Config {
        max_transactions: 8,
        ..Config::default()
    });
    let mut ids: Vec<TransactionId> = Vec::new();
    for _ in 0..5000 {
        let pick = |rng: &mut Rng, v: &[Message]| v[rng.below(v.len())].clone();
        match rng.below(7) {
            0 | 1 => {
                let m = pick(&mut rng, &messages);
                if let Ok(Incoming::Created(id)) = h.call(|t, now| t.handle_message(now, m, "p")) {
                    ids.push(id);
                }
            }
            2 => {
                let m = pick(&mut rng, &requests);
                if let Ok(id) = h.call(|t, now| t.send_request(now, m, "p")) {
                    ids.push(id);
                }
            }
            3 if !ids.is_empty() => {
                let id = ids[rng.below(ids.len())];
                let m = pick(&mut rng, &messages);
                let _ = h.call(|t, now| t.send_response(now, id, m));
            }
            4 if !ids.is_empty() => {
                let id = ids[rng.below(ids.len())];
                let _ = h.call(|t, now| t.handle_transport_error(now, id));
            }
            5 if !ids.is_empty() && rng.below(4) == 0 => {
                let id = ids[rng.below(ids.len())];
                let _ = h.call(|t, _| t.terminate(id));
            }
            _ => h.advance(ms(rng.below(6000) as u64)),
        }
        h.under.assert_consistent();
    }
    assert!(h.transmits().len() > 100);
    for id in ids {
        let _ = h.call(|t, _| t.terminate(id));
    }
    h.under.assert_consistent();
    assert!(h.under.is_empty());
    assert_eq!(h.under.poll_timeout(), None);
    let s = h.under.stats();
    assert!(s.refused > 0 && s.absorbed > 0 && s.timeouts > 0 && s.retransmissions > 0);
}
