//! The relay engine on a virtual clock: each transform both ways, latching and NAT rebinding
//! (authenticated only), multiplex framing and keepalives, RTCP on its own port and muxed,
//! inactivity, release, statistics, and bad input that must not disturb other flows.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::engine::*;
use super::mux;
use crate::rtp_stats::DropReason;
use crate::srtp::{Context, MasterKey, Policy, Suite};

const CLIENT: &str = "198.18.1.10:40000";
const CLIENT_NAT2: &str = "198.18.1.99:41000";
const INSIDE: &str = "198.19.0.20:20000";
const C_HOST: &str = "198.18.0.2:50000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A buffer with the relay's headroom and tailroom around `datagram`.
struct Buf {
    data: Vec<u8>,
    start: usize,
    len: usize,
}

impl Buf {
    fn new(datagram: &[u8]) -> Buf {
        let mut data = vec![0u8; HEADROOM + datagram.len() + TAILROOM];
        data[HEADROOM..HEADROOM + datagram.len()].copy_from_slice(datagram);
        Buf {
            data,
            start: HEADROOM,
            len: datagram.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.start + self.len]
    }
}

fn send(
    relay: &mut Relay,
    now: Instant,
    port: u16,
    src: &str,
    datagram: &[u8],
) -> (Verdict, Vec<u8>) {
    let mut b = Buf::new(datagram);
    let v = relay.handle_datagram(now, port, addr(src), &mut b.data, b.start, b.len);
    if let Verdict::Forward(t) = v {
        b.start = t.start;
        b.len = t.len;
    }
    (v, b.bytes().to_vec())
}

fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1111_2222u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn rtcp_sr() -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&0x1111_2222u32.to_be_bytes());
    p.extend_from_slice(&[7u8; 20]);
    p
}

fn contexts(suite: Suite) -> (Context, Context) {
    let k = MasterKey::random(suite).unwrap();
    (
        Context::new(Policy::new(suite), &[(k.clone(), None)]).unwrap(),
        Context::new(Policy::new(suite), &[(k, None)]).unwrap(),
    )
}

fn protect(ctx: &mut Context, p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    b.resize(p.len() + 64, 0);
    let n = ctx.protect_rtp(&mut b, p.len()).unwrap();
    b.truncate(n);
    b
}

fn forward(v: Verdict) -> Transmit {
    match v {
        Verdict::Forward(t) => t,
        other => panic!("expected a forward, got {other:?}"),
    }
}

/// The C role: an outside SRTP leg and an inside plain leg.
struct CRole {
    relay: Relay,
    outside: LegId,
    inside: LegId,
    /// The remote client's contexts: it protects with `client_tx`, reads with `client_rx`.
    client_tx: Context,
    client_rx: Context,
    t0: Instant,
}

fn c_role(suite: Suite) -> CRole {
    let (client_tx, relay_in) = contexts(suite);
    let (relay_out, client_rx) = contexts(suite);
    let mut relay = Relay::new(RelayConfig::default());
    let t0 = Instant::now();
    let mut outside = LegConfig::plain(40000, None);
    outside.latch = LatchPolicy::Authenticated;
    outside.srtp_in = Some(relay_in);
    outside.srtp_out = Some(relay_out);
    let inside = LegConfig::plain(40002, Some(addr(INSIDE)));
    let (o, i) = relay.allocate(t0, outside, inside).unwrap();
    CRole {
        relay,
        outside: o,
        inside: i,
        client_tx,
        client_rx,
        t0,
    }
}

#[test]
fn srtp_to_rtp_and_back_in_every_suite() {
    for suite in Suite::ALL {
        let mut c = c_role(suite);
        let mut replies = 0;
        for seq in 0..50u16 {
            let now = c.t0 + Duration::from_millis(20 * u64::from(seq));
            let plain = rtp(seq, &[seq as u8; 160]);
            let srtp = protect(&mut c.client_tx, &plain);
            let (v, out) = send(&mut c.relay, now, 40000, CLIENT, &srtp);
            let t = forward(v);
            assert_eq!((t.src_port, t.dst), (40002, addr(INSIDE)), "{suite}");
            assert_eq!(out, plain, "{suite}: inside gets plain RTP");

            // The inside phone answers with plain RTP; the client gets SRTP it can read.
            let answer = rtp(1000 + seq, &[0xaa; 160]);
            let (v, mut out) = send(&mut c.relay, now, 40002, INSIDE, &answer);
            let t = forward(v);
            assert_eq!((t.src_port, t.dst), (40000, addr(CLIENT)), "{suite}");
            assert_eq!(out.len(), answer.len() + suite.rtp_tag_len());
            let n = c.client_rx.unprotect_rtp(&mut out).unwrap();
            assert_eq!(&out[..n], &answer[..]);
            replies += 1;
        }
        let s = c.relay.stats(c.outside).unwrap();
        assert_eq!(s.received.packets, 50);
        assert_eq!(s.sent.packets, replies);
        assert_eq!(s.rtp_remote, Some(addr(CLIENT)));
        assert_eq!(
            s.rtp.received, 49,
            "RFC 3550 A.1: the first packet is on probation"
        );
        let s = c.relay.stats(c.inside).unwrap();
        assert_eq!((s.received.packets, s.sent.packets), (50, 50));
        assert_eq!(s.received.bytes, 50 * 172);
    }
}

#[test]
fn srtp_to_srtp_with_new_keys() {
    let suite = Suite::AeadAes128Gcm;
    let (a_tx, relay_a_in) = contexts(suite);
    let (relay_b_out, mut b_rx) = contexts(Suite::AesCm128HmacSha1_80);
    let mut a_tx = a_tx;
    let mut relay = Relay::new(RelayConfig::default());
    let t0 = Instant::now();
    let mut a = LegConfig::plain(40000, None);
    a.latch = LatchPolicy::Authenticated;
    a.srtp_in = Some(relay_a_in);
    let mut b = LegConfig::plain(40002, Some(addr(INSIDE)));
    b.srtp_out = Some(relay_b_out);
    relay.allocate(t0, a, b).unwrap();
    let plain = rtp(5, &[1; 160]);
    let (v, mut out) = send(&mut relay, t0, 40000, CLIENT, &protect(&mut a_tx, &plain));
    forward(v);
    assert_eq!(
        out.len(),
        plain.len() + 10,
        "re-protected with the 80-bit tag suite"
    );
    let n = b_rx.unprotect_rtp(&mut out).unwrap();
    assert_eq!(&out[..n], &plain[..]);
}

#[test]
fn only_authenticated_packets_latch_and_relatch() {
    let mut c = c_role(Suite::AesCm128HmacSha1_80);
    let t = c.t0;
    // Before anything authenticates, the inside's answer has nowhere to go.
    let (v, _) = send(&mut c.relay, t, 40002, INSIDE, &rtp(1, &[0; 160]));
    assert_eq!(v, Verdict::Drop(DropReason::NoRemote));
    // (The inside leg itself latched to the phone: its packet was acceptable, just undeliverable.)
    assert!(matches!(c.relay.poll_event(), Some(Event::Latched { leg, .. }) if leg == c.inside));
    // A forged packet latches nothing.
    let mut forged = protect(&mut c.client_tx, &rtp(1, &[0; 160]));
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let (v, _) = send(&mut c.relay, t, 40000, CLIENT, &forged);
    assert_eq!(v, Verdict::Drop(DropReason::AuthFail));
    assert_eq!(c.relay.poll_event(), None);
    // The first authentic packet latches.
    let (v, _) = send(
        &mut c.relay,
        t,
        40000,
        CLIENT,
        &protect(&mut c.client_tx, &rtp(2, &[0; 160])),
    );
    forward(v);
    assert_eq!(
        c.relay.poll_event(),
        Some(Event::Latched {
            leg: c.outside,
            component: Component::Rtp,
            addr: addr(CLIENT)
        })
    );
    // A forged packet from a new address (an attacker) does not move the leg.
    let mut forged = protect(&mut c.client_tx, &rtp(3, &[0; 160]));
    forged[20] ^= 0x40;
    let (v, _) = send(&mut c.relay, t, 40000, CLIENT_NAT2, &forged);
    assert_eq!(v, Verdict::Drop(DropReason::AuthFail));
    assert_eq!(
        c.relay.stats(c.outside).unwrap().rtp_remote,
        Some(addr(CLIENT))
    );
    // A replay of a real packet from a new address does not move it either.
    let real = protect(&mut c.client_tx, &rtp(4, &[0; 160]));
    forward(send(&mut c.relay, t, 40000, CLIENT, &real).0);
    let (v, _) = send(&mut c.relay, t, 40000, CLIENT_NAT2, &real);
    assert_eq!(v, Verdict::Drop(DropReason::Replay));
    assert_eq!(
        c.relay.stats(c.outside).unwrap().rtp_remote,
        Some(addr(CLIENT))
    );
    // The client's NAT rebinds: its next authentic packet moves the leg.
    let (v, _) = send(
        &mut c.relay,
        t,
        40000,
        CLIENT_NAT2,
        &protect(&mut c.client_tx, &rtp(5, &[0; 160])),
    );
    forward(v);
    assert_eq!(
        c.relay.poll_event(),
        Some(Event::Relatched {
            leg: c.outside,
            component: Component::Rtp,
            from: addr(CLIENT),
            to: addr(CLIENT_NAT2)
        })
    );
    let t2 = forward(send(&mut c.relay, t, 40002, INSIDE, &rtp(9, &[0; 160])).0);
    assert_eq!(t2.dst, addr(CLIENT_NAT2), "answers follow the client");
    let s = c.relay.stats(c.outside).unwrap();
    assert_eq!(s.relatched, 1);
    assert_eq!(s.received.drops.get(DropReason::AuthFail), 2);
    assert_eq!(s.received.drops.get(DropReason::Replay), 1);
}

#[test]
fn plain_legs_accept_only_their_signalled_ip_and_never_move() {
    let mut c = c_role(Suite::AesCm128HmacSha1_80);
    let t = c.t0;
    forward(
        send(
            &mut c.relay,
            t,
            40000,
            CLIENT,
            &protect(&mut c.client_tx, &rtp(1, &[0; 10])),
        )
        .0,
    );
    // From another host: dropped.
    let (v, _) = send(
        &mut c.relay,
        t,
        40002,
        "198.19.0.66:20000",
        &rtp(1, &[0; 10]),
    );
    assert_eq!(v, Verdict::Drop(DropReason::UnexpectedSource));
    // From the signalled host (another port than signalled is fine before latching).
    forward(
        send(
            &mut c.relay,
            t,
            40002,
            "198.19.0.20:20002",
            &rtp(2, &[0; 10]),
        )
        .0,
    );
    // Once latched, the same host on another port is refused: plain RTP cannot prove itself.
    let (v, _) = send(&mut c.relay, t, 40002, INSIDE, &rtp(3, &[0; 10]));
    assert_eq!(v, Verdict::Drop(DropReason::UnexpectedSource));
    assert_eq!(
        c.relay
            .stats(c.inside)
            .unwrap()
            .received
            .drops
            .get(DropReason::UnexpectedSource),
        2
    );
}

#[test]
fn rtcp_on_its_own_port_and_multiplexed() {
    for rtcp_mux in [false, true] {
        let (mut client_tx, relay_in) = contexts(Suite::AesCm128HmacSha1_80);
        let mut relay = Relay::new(RelayConfig::default());
        let t0 = Instant::now();
        let mut outside = LegConfig::plain(40000, None);
        outside.latch = LatchPolicy::Authenticated;
        outside.srtp_in = Some(relay_in);
        if rtcp_mux {
            outside.rtcp_port = None;
        }
        let inside = LegConfig::plain(40002, Some(addr(INSIDE)));
        relay.allocate(t0, outside, inside).unwrap();
        let sr = rtcp_sr();
        let mut b = sr.clone();
        b.resize(sr.len() + 64, 0);
        let n = client_tx.protect_rtcp(&mut b, sr.len()).unwrap();
        let port = if rtcp_mux { 40000 } else { 40001 };
        let (v, out) = send(&mut relay, t0, port, CLIENT, &b[..n]);
        let t = forward(v);
        assert_eq!(out, sr, "mux={rtcp_mux}");
        assert_eq!(
            t.src_port, 40003,
            "inside leg sends RTCP from its RTCP port"
        );
        assert_eq!(
            t.dst,
            addr("198.19.0.20:20001"),
            "to the signalled RTP port + 1"
        );
    }
}

/// The E role: a client-facing leg on a media port, a traversal leg on the shared mux ports.
#[test]
fn e_role_multiplexed_traversal() {
    let cfg = RelayConfig {
        mux_ports: vec![36000, 36001],
        ..RelayConfig::default()
    };
    let mut relay = Relay::new(cfg);
    let t0 = Instant::now();
    let mut legs = Vec::new();
    for (i, id) in [7u32, 8].into_iter().enumerate() {
        let client = LegConfig::plain(36002 + 2 * i as u16, None);
        let mut traversal = LegConfig::plain(36000, Some(addr(C_HOST)));
        traversal.rtcp_port = Some(36001);
        traversal.mux_id = Some(id);
        legs.push(relay.allocate(t0, client, traversal).unwrap());
    }
    // Client of call 2 -> E: passthrough, framed with id 8, sent from 36000 to C.
    let srtp_like = rtp(1, &[0x5a; 170]);
    let (v, out) = send(&mut relay, t0, 36004, CLIENT, &srtp_like);
    let t = forward(v);
    assert_eq!((t.src_port, t.dst), (36000, addr(C_HOST)));
    assert_eq!(&out[..4], &8u32.to_be_bytes());
    assert_eq!(&out[4..], &srtp_like[..]);
    // C -> E with id 8: the frame is stripped and the packet goes to call 2's client.
    let mut framed = mux::header(8).to_vec();
    framed.extend_from_slice(&rtp(2, &[1; 100]));
    let (v, out) = send(&mut relay, t0, 36000, C_HOST, &framed);
    let t = forward(v);
    assert_eq!((t.src_port, t.dst), (36004, addr(CLIENT)));
    assert_eq!(out, &framed[4..]);
    // Keepalives are answered with nothing and counted nowhere as drops.
    assert_eq!(
        send(&mut relay, t0, 36000, C_HOST, &mux::keepalive(8)).0,
        Verdict::Keepalive
    );
    // An unknown multiplex id is dropped and counted.
    let mut bad = mux::header(99).to_vec();
    bad.extend_from_slice(&rtp(2, &[1; 100]));
    assert_eq!(
        send(&mut relay, t0, 36000, C_HOST, &bad).0,
        Verdict::Drop(DropReason::UnknownFlow)
    );
    // Traversal media from a host other than C is refused.
    assert_eq!(
        send(&mut relay, t0, 36000, "198.18.9.9:50000", &framed).0,
        Verdict::Drop(DropReason::UnexpectedSource)
    );
    assert_eq!(
        relay
            .unknown_flow_counters()
            .drops
            .get(DropReason::UnknownFlow),
        1
    );
    // Datagrams the driver got cut off (too long for its buffers) are counted on the leg the
    // port, or the multiplex id in what was kept, names; unknown ones on no leg.
    let mut long = mux::header(8).to_vec();
    long.extend_from_slice(&[0x80; 60]);
    assert_eq!(
        relay.drop_oversized(t0, 36000, &long),
        Verdict::Drop(DropReason::TooLong)
    );
    assert_eq!(
        relay.drop_oversized(t0, 36004, &[0x80; 60]),
        Verdict::Drop(DropReason::TooLong)
    );
    assert_eq!(
        relay.drop_oversized(t0, 40000, &[0x80; 60]),
        Verdict::Drop(DropReason::TooLong)
    );
    let s = relay.stats(legs[1].1).unwrap();
    assert_eq!(
        s.received.drops.get(DropReason::TooLong),
        1,
        "traversal leg of call 2"
    );
    let s = relay.stats(legs[1].0).unwrap();
    assert_eq!(
        s.received.drops.get(DropReason::TooLong),
        1,
        "client leg of call 2"
    );
    assert_eq!(
        relay.unknown_flow_counters().drops.get(DropReason::TooLong),
        1
    );
    // Call 1 is untouched by all of this.
    let s = relay.stats(legs[0].0).unwrap();
    assert_eq!((s.received.packets, s.received.drops.total()), (0, 0));
}

/// E's traversal leg as it is made for a call (no address for C yet, latching to the first
/// packet): C's opening keepalive latches it, so client media goes to C before any media came
/// from C; a keepalive with an id E does not have, or for a leg already latched, changes
/// nothing.
#[test]
fn e_traversal_leg_latches_on_cs_keepalive() {
    let cfg = RelayConfig {
        mux_ports: vec![36000, 36001],
        ..RelayConfig::default()
    };
    let mut relay = Relay::new(cfg);
    let t0 = Instant::now();
    let client = LegConfig::plain(36002, None);
    let mut traversal = LegConfig::plain(36000, None);
    traversal.rtcp_port = Some(36001);
    traversal.mux_id = Some(5);
    let (_, t) = relay.allocate(t0, client, traversal).unwrap();
    // Before: the client's media has nowhere to go.
    let media = rtp(1, &[0x5a; 100]);
    assert_eq!(
        send(&mut relay, t0, 36002, CLIENT, &media).0,
        Verdict::Drop(DropReason::NoRemote)
    );
    // Keepalives for another id, and too short to carry one, latch nothing.
    for k in [&mux::keepalive(6)[..], &[0, 0][..]] {
        assert_eq!(send(&mut relay, t0, 36000, C_HOST, k).0, Verdict::Keepalive);
    }
    assert_eq!(relay.stats(t).unwrap().rtp_remote, None);
    // C's keepalive on the RTP and RTCP ports: latched, one event each.
    assert_eq!(
        send(&mut relay, t0, 36000, C_HOST, &mux::keepalive(5)).0,
        Verdict::Keepalive
    );
    assert_eq!(
        send(
            &mut relay,
            t0,
            36001,
            "198.18.0.2:41001",
            &mux::keepalive(5)
        )
        .0,
        Verdict::Keepalive
    );
    let s = relay.stats(t).unwrap();
    assert_eq!(s.rtp_remote, Some(addr(C_HOST)));
    assert_eq!(s.rtcp_remote, Some(addr("198.18.0.2:41001")));
    let mut latched = 0;
    while let Some(e) = relay.poll_event() {
        // (The client's leg latched to the client's first packet above.)
        if matches!(e, Event::Latched { leg, .. } if leg == t) {
            latched += 1;
        }
    }
    assert_eq!(latched, 2);
    // Now the client's media goes to C, framed.
    let (v, out) = send(&mut relay, t0, 36002, CLIENT, &media);
    let tx = forward(v);
    assert_eq!((tx.src_port, tx.dst), (36000, addr(C_HOST)));
    assert_eq!(&out[..4], &5u32.to_be_bytes());
    // A later keepalive from elsewhere does not move the leg.
    let _ = send(&mut relay, t0, 36000, "198.18.9.9:1", &mux::keepalive(5));
    assert_eq!(relay.stats(t).unwrap().rtp_remote, Some(addr(C_HOST)));
}

/// The C role's side of the traversal: its own port, framed with the call's multiplex id.
#[test]
fn c_role_framed_traversal_leg() {
    let mut relay = Relay::new(RelayConfig::default());
    let t0 = Instant::now();
    let mut traversal = LegConfig::plain(41000, Some(addr("198.18.0.1:36000")));
    traversal.rtcp_port = Some(41001);
    traversal.mux_id = Some(42);
    let inside = LegConfig::plain(41002, Some(addr(INSIDE)));
    relay.allocate(t0, traversal, inside).unwrap();
    let (v, out) = send(&mut relay, t0, 41002, INSIDE, &rtp(1, &[3; 160]));
    let t = forward(v);
    assert_eq!((t.src_port, t.dst), (41000, addr("198.18.0.1:36000")));
    assert_eq!(&out[..4], &42u32.to_be_bytes());
    let mut wrong = mux::header(43).to_vec();
    wrong.extend_from_slice(&rtp(2, &[3; 160]));
    assert_eq!(
        send(&mut relay, t0, 41000, "198.18.0.1:36000", &wrong).0,
        Verdict::Drop(DropReason::MuxFraming)
    );
}

#[test]
fn inactivity_is_reported_once_until_packets_resume() {
    let mut c = c_role(Suite::AesCm128HmacSha1_80);
    let timeout = RelayConfig::default().inactivity_timeout;
    let t = c.t0 + Duration::from_secs(1);
    forward(
        send(
            &mut c.relay,
            t,
            40000,
            CLIENT,
            &protect(&mut c.client_tx, &rtp(1, &[0; 10])),
        )
        .0,
    );
    while c.relay.poll_event().is_some() {}
    let deadline = c.relay.poll_timeout().unwrap();
    assert!(deadline <= c.t0 + timeout);
    c.relay.handle_timeout(c.t0 + timeout);
    // The inside leg has been silent since allocation; the outside one spoke at t0 + 1 s.
    assert_eq!(
        c.relay.poll_event(),
        Some(Event::Inactive { leg: c.inside })
    );
    assert_eq!(c.relay.poll_event(), None);
    c.relay.handle_timeout(t + timeout);
    assert_eq!(
        c.relay.poll_event(),
        Some(Event::Inactive { leg: c.outside })
    );
    c.relay.handle_timeout(t + timeout * 3);
    assert_eq!(c.relay.poll_event(), None, "raised once");
    assert_eq!(
        c.relay.poll_timeout(),
        None,
        "every leg is flagged: nothing to wait for"
    );
    // The client speaks again: the timer is re-armed, and when it goes quiet again it is
    // reported again. The inside leg, silent all along, is not reported a second time.
    let later = t + timeout * 4;
    forward(
        send(
            &mut c.relay,
            later,
            40000,
            CLIENT,
            &protect(&mut c.client_tx, &rtp(2, &[0; 10])),
        )
        .0,
    );
    while c.relay.poll_event().is_some() {}
    assert_eq!(c.relay.poll_timeout(), Some(later + timeout));
    c.relay.handle_timeout(later + timeout);
    assert_eq!(
        c.relay.poll_event(),
        Some(Event::Inactive { leg: c.outside })
    );
    assert_eq!(c.relay.poll_event(), None);
}

#[test]
fn release_frees_ports_and_retires_ids() {
    let mut c = c_role(Suite::AesCm128HmacSha1_80);
    c.relay.release(c.inside).unwrap();
    assert_eq!(c.relay.leg_count(), 0, "a call is released whole");
    assert_eq!(
        c.relay.stats(c.outside).unwrap_err(),
        RelayError::UnknownLeg
    );
    assert_eq!(c.relay.release(c.outside), Err(RelayError::UnknownLeg));
    let (v, _) = send(
        &mut c.relay,
        c.t0,
        40000,
        CLIENT,
        &protect(&mut c.client_tx, &rtp(1, &[0; 10])),
    );
    assert_eq!(v, Verdict::Drop(DropReason::UnknownFlow));
    // The ports can be used again; the old ids stay dead.
    let (a, _) = c
        .relay
        .allocate(
            c.t0,
            LegConfig::plain(40000, None),
            LegConfig::plain(40002, None),
        )
        .unwrap();
    assert_ne!(a, c.outside);
    assert_eq!(
        c.relay.stats(c.outside).unwrap_err(),
        RelayError::UnknownLeg
    );
}

#[test]
fn control_errors() {
    let mut relay = Relay::new(RelayConfig {
        mux_ports: vec![36000],
        ..RelayConfig::default()
    });
    let t0 = Instant::now();
    relay
        .allocate(
            t0,
            LegConfig::plain(40000, None),
            LegConfig::plain(40002, None),
        )
        .unwrap();
    let e = relay.allocate(
        t0,
        LegConfig::plain(40001, None),
        LegConfig::plain(40010, None),
    );
    assert_eq!(e, Err(RelayError::PortInUse(40001)));
    let e = relay.allocate(
        t0,
        LegConfig::plain(40010, None),
        LegConfig::plain(40010, None),
    );
    assert_eq!(
        e,
        Err(RelayError::PortInUse(40010)),
        "both legs on one port"
    );
    let mut authenticated = LegConfig::plain(40020, None);
    authenticated.latch = LatchPolicy::Authenticated;
    assert!(matches!(
        relay.allocate(t0, authenticated, LegConfig::plain(40022, None)),
        Err(RelayError::BadConfig(_))
    ));
    let mut no_id = LegConfig::plain(36000, None);
    no_id.rtcp_port = None;
    assert_eq!(
        relay.allocate(t0, no_id, LegConfig::plain(40030, None)),
        Err(RelayError::PortInUse(36000))
    );
    let muxed = |id| {
        let mut l = LegConfig::plain(36000, None);
        l.rtcp_port = None;
        l.mux_id = Some(id);
        l
    };
    relay
        .allocate(t0, muxed(1), LegConfig::plain(40040, None))
        .unwrap();
    assert_eq!(
        relay.allocate(t0, muxed(1), LegConfig::plain(40050, None)),
        Err(RelayError::MuxIdInUse(36000, 1))
    );
    assert_eq!(relay.leg_count(), 4, "failed requests left nothing behind");
}

#[test]
fn bad_input_is_counted_and_disturbs_no_other_flow() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let mut c = c_role(Suite::AeadAes128Gcm);
    let t = c.t0;
    forward(
        send(
            &mut c.relay,
            t,
            40000,
            CLIENT,
            &protect(&mut c.client_tx, &rtp(1, &[0; 10])),
        )
        .0,
    );
    let mut dropped = 0;
    for i in 0..5000u32 {
        let len = rng.gen_range(0..200);
        let mut junk: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if i % 2 == 0 {
            if let Some(b) = junk.first_mut() {
                *b = 0x80 | (*b & 0x3f);
            }
        }
        let port = [40000u16, 40001, 40002, 40003, 45000][i as usize % 5];
        let src = if i % 3 == 0 { CLIENT } else { INSIDE };
        match send(&mut c.relay, t, port, src, &junk).0 {
            Verdict::Drop(_) => dropped += 1,
            Verdict::Forward(_) => {
                // Only plain RTP/RTCP from the inside phone to its own leg may pass.
                assert!(port == 40002 || port == 40003);
                assert_eq!(src, INSIDE);
            }
            Verdict::Keepalive => panic!("no mux here"),
        }
    }
    assert!(dropped > 2000);
    // The call still works both ways.
    let plain = rtp(2, &[9; 160]);
    let (v, out) = send(
        &mut c.relay,
        t,
        40000,
        CLIENT,
        &protect(&mut c.client_tx, &plain),
    );
    forward(v);
    assert_eq!(out, plain);
    let s = c.relay.stats(c.outside).unwrap();
    assert!(s.received.drops.total() > 0);
    assert_eq!(s.rtp_remote, Some(addr(CLIENT)), "junk moved nothing");
}

#[test]
fn a_buffer_without_headroom_is_refused_not_overrun() {
    let mut relay = Relay::new(RelayConfig::default());
    let t0 = Instant::now();
    let mut traversal = LegConfig::plain(41000, Some(addr("198.18.0.1:36000")));
    traversal.mux_id = Some(1);
    relay
        .allocate(t0, traversal, LegConfig::plain(41002, Some(addr(INSIDE))))
        .unwrap();
    let p = rtp(1, &[0; 20]);
    let mut buf = p.clone();
    buf.resize(p.len() + TAILROOM, 0);
    let v = relay.handle_datagram(t0, 41002, addr(INSIDE), &mut buf, 0, p.len());
    assert_eq!(v, Verdict::Drop(DropReason::Other));
    let v = relay.handle_datagram(t0, 41002, addr(INSIDE), &mut buf, 10, 1000);
    assert_eq!(
        v,
        Verdict::Drop(DropReason::Other),
        "length past the buffer"
    );
}
