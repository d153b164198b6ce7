//! The media plane end to end between network namespaces joined by veths, on each backend
//! (the socket fallback always, io_uring where the kernel allows it).
//!
//! Each test builds its own three namespaces (see [`Net`]): `outside` holds the remote SIP
//! clients, `edge` the relay, `inside` the phones and the traversal peer ("C host"). The relay
//! is reached only through real routing and the veths, with an nftables ruleset in the edge that
//! lets through UDP to the media range and the traversal pairs and drops all other UDP. Covered:
//! every transform both ways and a rekey mid-call, latching and NAT rebinding (new port and new
//! IP), multiplexed traversal framing with keepalives and unknown ids, RTCP on its own port and
//! multiplexed on the RTP port, port exhaustion and quarantine, inactivity, statistics against
//! what was sent, bad input counted by reason without disturbing other calls, released ports
//! closed in the kernel, and the edge firewall.
//!
//! The namespaces need root: without it each test says so loudly and returns.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use std::time::{Duration, Instant};

use media::relay::engine::{Component, Event, LatchPolicy, LegConfig, LegStats};
use media::relay::port_alloc::{AllocError, PortAllocatorConfig, PortRange};
use media::rtp_stats::{DropCounters, DropReason};
use media::runtime::{
    Backend, BackendChoice, CallLegs, LegPorts, LegRef, LegRequest, MediaPlane, PlaneConfig,
    PlaneError, PlaneEvent,
};
use media::srtp::{Context, MasterKey, Policy, Suite};
use tests::netns::{Lab, Netns};

/// Generous: CI has two cores and the tests of this file run side by side.
const WAIT: Duration = Duration::from_secs(5);
/// How long a "nothing arrives" check listens. Each such check is followed by a positive one
/// that would fail had the datagram gone where it must not.
const QUIET: Duration = Duration::from_millis(300);
/// The quarantine of released pairs in these tests.
const QUARANTINE: Duration = Duration::from_millis(300);

/// The edge's one media address, a /32 on the edge namespace's loopback, routed from both
/// sides. The plane binds one address; a dedicated one (rather than 0.0.0.0) is what signaling
/// puts in SDP `c=` lines, so clients outside and phones inside send to the same address and
/// see answers come from it, whichever veth carried them.
const MEDIA_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The edge's address toward the outside (the gateway to [`MEDIA_IP`] for the outside).
const EDGE_OUT: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
/// A remote client.
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);
/// The same client after its network changed (or an attacker beside it).
const CLIENT_IP_2: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 3);
/// The edge's address toward the inside.
const EDGE_IN: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
/// The phones and the C host.
const PHONE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 2);
/// Another host inside, not signalled for any call.
const PHONE_IP_2: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 3);

/// The nftables table of the edge firewall.
const FW_TABLE: &str = "portico_edge";
/// Its counter of the UDP datagrams it dropped.
const FW_DROPPED: &str = "other_udp";

use tests::backends;

/// Runs `test` once per backend (see [`backends`]), each time in a fresh [`Net`] with the media
/// range `media` (inclusive) and a plane in it ([`Net::plane`]). Returns at once, said loudly,
/// where namespaces cannot be created here.
fn each_backend(media: (u16, u16), test: impl Fn(BackendChoice, &Net, &MediaPlane)) {
    each_backend_with(media, &[], as_is, test);
}

/// The plane's configuration as [`Net::plane`] makes it: no tweak.
fn as_is(_: &mut PlaneConfig) {}

/// [`each_backend`] with the firewall open to `also` too, and `tweak` applied to the plane's
/// configuration.
fn each_backend_with(
    media: (u16, u16),
    also: &[(u16, u16)],
    tweak: impl Fn(&mut PlaneConfig),
    test: impl Fn(BackendChoice, &Net, &MediaPlane),
) {
    for &backend in backends() {
        let Some(net) = Net::new(media, also) else {
            return;
        };
        let plane = net.plane(backend, &tweak);
        test(backend, &net, &plane);
    }
}

/// One test's network: three namespaces, two veth pairs, the media address, the firewall.
struct Net {
    outside: Netns,
    edge: Netns,
    inside: Netns,
    /// The media range: open in the firewall, and where [`Net::plane`] allocates pairs.
    media: PortRange,
    /// Deletes the namespaces when the test ends (last field: dropped last).
    _lab: Lab,
}

impl Net {
    /// Builds the network; the edge firewall accepts UDP to the media range `first..=last` and
    /// to the port ranges in `also` (inclusive) and drops other UDP. `None`, said loudly, when
    /// namespaces cannot be created here (not root); any other failure fails the test.
    fn new((first, last): (u16, u16), also: &[(u16, u16)]) -> Option<Net> {
        let mut lab = Lab::new();
        let outside = lab
            .namespace_or_skip("outside")
            .unwrap_or_else(|e| panic!("{e}"))?;
        let edge = lab.namespace("edge").unwrap();
        let inside = lab.namespace("inside").unwrap();
        lab.veth(&edge, "edge-out", &outside, "out-edge").unwrap();
        lab.veth(&edge, "edge-in", &inside, "in-edge").unwrap();
        lab.address(&edge, "lo", &format!("{MEDIA_IP}/32")).unwrap();
        lab.address(&edge, "edge-out", &format!("{EDGE_OUT}/24"))
            .unwrap();
        lab.address(&edge, "edge-in", &format!("{EDGE_IN}/24"))
            .unwrap();
        for ip in [CLIENT_IP, CLIENT_IP_2] {
            lab.address(&outside, "out-edge", &format!("{ip}/24"))
                .unwrap();
        }
        for ip in [PHONE_IP, PHONE_IP_2] {
            lab.address(&inside, "in-edge", &format!("{ip}/24"))
                .unwrap();
        }
        let media = format!("{MEDIA_IP}/32");
        lab.route(&outside, &media, EDGE_OUT).unwrap();
        lab.route(&inside, &media, EDGE_IN).unwrap();
        let accept: String = [(first, last)]
            .iter()
            .chain(also)
            .map(|&(first, last)| format!("        udp dport {first}-{last} accept\n"))
            .collect();
        let ruleset = format!(
            "table inet {FW_TABLE} {{\n    counter {FW_DROPPED} {{ }}\n    chain input {{\n        \
             type filter hook input priority filter; policy accept;\n{accept}        \
             meta l4proto udp counter name \"{FW_DROPPED}\" drop\n    }}\n}}\n"
        );
        lab.nft(&edge, &ruleset).unwrap();
        Some(Net {
            outside,
            edge,
            inside,
            media: range(first, last),
            _lab: lab,
        })
    }

    /// A plane in the edge namespace on the media address: one worker, the media range, a
    /// short quarantine; `tweak` changes the rest.
    fn plane(&self, backend: BackendChoice, tweak: impl FnOnce(&mut PlaneConfig)) -> MediaPlane {
        let mut cfg = PlaneConfig {
            bind_ip: IpAddr::V4(MEDIA_IP),
            cores: vec![None],
            backend,
            batch: 32,
            ports: PortAllocatorConfig {
                range: self.media,
                reserved: Vec::new(),
                quarantine: QUARANTINE,
            },
            mux_pairs: Vec::new(),
            inactivity_timeout: Duration::from_secs(30),
        };
        tweak(&mut cfg);
        let plane = self
            .edge
            .run(move || MediaPlane::spawn(cfg))
            .unwrap()
            .unwrap();
        if backend == BackendChoice::Uring {
            assert!(plane.workers().iter().all(|w| w.backend == Backend::Uring));
        }
        plane
    }

    /// A socket in the outside namespace on `ip` (any port).
    fn outside(&self, ip: Ipv4Addr) -> UdpSocket {
        bind_in(&self.outside, SocketAddr::from((ip, 0)))
    }

    /// A socket in the inside namespace on `ip:port` (0: any).
    fn inside(&self, ip: Ipv4Addr, port: u16) -> UdpSocket {
        bind_in(&self.inside, SocketAddr::from((ip, port)))
    }

    /// A client outside and a phone inside, each on a port of its own.
    fn client_and_phone(&self) -> (UdpSocket, UdpSocket) {
        (self.outside(CLIENT_IP), self.inside(PHONE_IP, 0))
    }

    /// A client and a phone ([`Net::client_and_phone`]) in a plain call on `plane`: the outside
    /// leg latches to the first packet, the inside leg takes packets from the phone's IP, which
    /// was signalled; each leg on a pair of the media range. Returns `(client, phone, call)`.
    fn plain_call(&self, plane: &MediaPlane) -> (UdpSocket, UdpSocket, CallLegs) {
        let (client, phone) = self.client_and_phone();
        let call = plane
            .allocate(pair(first_packet()), pair(signalled(addr(&phone))))
            .unwrap();
        (client, phone, call)
    }

    /// A client and a phone ([`Net::client_and_phone`]) in a call on `plane` that is SRTP
    /// outside and plain inside ([`srtp_call_to`], RTCP on its own ports). Returns
    /// `(client, phone, call, tx, rx)`, the last two the client's SRTP contexts.
    fn srtp_call(&self, plane: &MediaPlane) -> (UdpSocket, UdpSocket, CallLegs, Context, Context) {
        let (client, phone) = self.client_and_phone();
        let (call, tx, rx) = srtp_call_to(plane, &phone, false);
        (client, phone, call, tx, rx)
    }

    /// The edge's kernel count of datagrams to ports without a socket.
    fn edge_no_ports(&self) -> u64 {
        self.edge.udp_counters().unwrap().no_ports
    }
}

fn bind_in(ns: &Netns, addr: SocketAddr) -> UdpSocket {
    let s = ns
        .run(|| UdpSocket::bind(addr))
        .unwrap()
        .unwrap_or_else(|e| panic!("binding {addr} in {}: {e}", ns.name()));
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// The relay's address for `port`.
fn media(port: u16) -> SocketAddr {
    SocketAddr::from((MEDIA_IP, port))
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut b = [0u8; 4096];
    let (n, from) = s
        .recv_from(&mut b)
        .unwrap_or_else(|e| panic!("{}: no datagram within {WAIT:?}: {e}", addr(s)));
    (b[..n].to_vec(), from)
}

/// Asserts that nothing arrives on `s` for [`QUIET`].
fn nothing(s: &UdpSocket, what: &str) {
    s.set_read_timeout(Some(QUIET)).unwrap();
    let got = s.recv_from(&mut [0u8; 4096]);
    s.set_read_timeout(Some(WAIT)).unwrap();
    if let Ok((n, from)) = got {
        panic!("{what}: {} got {n} bytes from {from}", addr(s));
    }
}

/// An RTP packet (PCMU, SSRC `ssrc`) with `payload` bytes of payload.
fn rtp(ssrc: u32, seq: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload).map(|i| (i as u8) ^ (seq as u8) ^ (ssrc as u8)));
    p
}

/// An RTCP sender report without report blocks (RFC 3550 §6.4.1), 28 bytes.
fn rtcp_sr(ssrc: u32, count: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xe8, 0, 0, 0, 0, 0, 0, 1]); // NTP timestamp
    p.extend_from_slice(&(count * 160).to_be_bytes());
    p.extend_from_slice(&count.to_be_bytes());
    p.extend_from_slice(&(count * 160).to_be_bytes());
    p
}

/// An RTCP receiver report with one report block (RFC 3550 §6.4.2), 32 bytes. (Framed for the
/// traversal link, an 8-byte RR without blocks would be 12 bytes: a keepalive.)
fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&0x0c00_u32.to_be_bytes()); // the source reported on
    p.extend_from_slice(&[0, 0, 0, 0]); // fraction and cumulative number lost
    p.extend_from_slice(&1u32.to_be_bytes()); // extended highest sequence number
    p.extend_from_slice(&[0; 12]); // jitter, LSR, DLSR
    p
}

/// Two contexts on one fresh key: the sender's and the receiver's.
fn keyed(suite: Suite) -> (Context, Context) {
    let k = MasterKey::random(suite).unwrap();
    (
        Context::new(Policy::new(suite), &[(k.clone(), None)]).unwrap(),
        Context::new(Policy::new(suite), &[(k, None)]).unwrap(),
    )
}

/// An SRTP endpoint's two contexts and the relay leg's two, on fresh keys of `suite`:
/// `(endpoint_tx, endpoint_rx, leg_in, leg_out)`.
fn sdes(suite: Suite) -> (Context, Context, Context, Context) {
    let (tx, leg_in) = keyed(suite);
    let (leg_out, rx) = keyed(suite);
    (tx, rx, leg_in, leg_out)
}

fn protect(c: &mut Context, p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    b.resize(p.len() + 64, 0);
    let n = c.protect_rtp(&mut b, p.len()).unwrap();
    b.truncate(n);
    b
}

fn protect_rtcp(c: &mut Context, p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    b.resize(p.len() + 64, 0);
    let n = c.protect_rtcp(&mut b, p.len()).unwrap();
    b.truncate(n);
    b
}

fn unprotect(c: &mut Context, p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    let n = c.unprotect_rtp(&mut b).expect("SRTP the endpoint can read");
    b.truncate(n);
    b
}

fn unprotect_rtcp(c: &mut Context, p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    let n = c
        .unprotect_rtcp(&mut b)
        .expect("SRTCP the endpoint can read");
    b.truncate(n);
    b
}

/// A leg that receives SRTP with `leg_in`, sends SRTP with `leg_out`, and latches to whoever
/// authenticates.
fn srtp_leg(leg_in: Context, leg_out: Context) -> LegConfig {
    let mut l = LegConfig::plain(0, None);
    l.latch = LatchPolicy::Authenticated;
    l.srtp_in = Some(leg_in);
    l.srtp_out = Some(leg_out);
    l
}

/// A plain leg toward a host that signalled `to` (accepted only from its IP).
fn signalled(to: SocketAddr) -> LegConfig {
    LegConfig::plain(0, Some(to))
}

/// A plain leg that latches to the first packet from anywhere.
fn first_packet() -> LegConfig {
    LegConfig::plain(0, None)
}

/// A leg on an allocated pair of the media range.
fn pair(leg: LegConfig) -> LegRequest {
    LegRequest {
        ports: LegPorts::Allocate { rtcp_mux: false },
        leg,
    }
}

/// A call with an SRTP leg for a client outside (fresh AES-CM keys with 80-bit tags, latching
/// to whoever authenticates; see [`srtp_leg`]) and a plain leg toward `phone` (signalled,
/// inside), each on a pair of the media range, with RTCP on the RTP port when `rtcp_mux`
/// (RFC 5761). Returns the call and the client's contexts: `(call, tx, rx)`.
fn srtp_call_to(
    plane: &MediaPlane,
    phone: &UdpSocket,
    rtcp_mux: bool,
) -> (CallLegs, Context, Context) {
    let (tx, rx, leg_in, leg_out) = sdes(Suite::AesCm128HmacSha1_80);
    let ports = LegPorts::Allocate { rtcp_mux };
    let call = plane
        .allocate(
            LegRequest {
                ports,
                leg: srtp_leg(leg_in, leg_out),
            },
            LegRequest {
                ports,
                leg: signalled(addr(phone)),
            },
        )
        .unwrap();
    (call, tx, rx)
}

/// A call's outside leg and inside leg.
fn legs(call: &CallLegs) -> (LegRef, LegRef) {
    (call.legs[0].leg, call.legs[1].leg)
}

/// The RTP ports of a call's outside leg and inside leg.
fn rtp_ports(call: &CallLegs) -> (u16, u16) {
    (call.legs[0].rtp_port, call.legs[1].rtp_port)
}

fn range(first: u16, last: u16) -> PortRange {
    PortRange::new(first, last).unwrap()
}

/// Polls a leg's statistics until `done` holds or [`WAIT`] passes; returns the last ones (the
/// caller asserts on them, so a timeout shows the figures).
fn stats_until(plane: &MediaPlane, leg: LegRef, done: impl Fn(&LegStats) -> bool) -> LegStats {
    let until = Instant::now() + WAIT;
    loop {
        let s = plane.stats(leg).unwrap();
        if done(&s) || Instant::now() > until {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `leg`'s statistics until its drops add up to `expected`, asserts that they are those,
/// reason by reason, and returns the statistics.
fn assert_drops(
    plane: &MediaPlane,
    leg: LegRef,
    expected: &[(DropReason, u64)],
    backend: BackendChoice,
) -> LegStats {
    let expected = drops(expected);
    let s = stats_until(plane, leg, |s| s.received.drops.total() >= expected.total());
    assert_eq!(s.received.drops, expected, "{backend:?}");
    s
}

/// Asserts a leg's `(packets, bytes)` counts, received and sent.
fn assert_counts(s: &LegStats, received: (u64, u64), sent: (u64, u64), backend: BackendChoice) {
    assert_eq!(
        (s.received.packets, s.received.bytes),
        received,
        "{backend:?}"
    );
    assert_eq!((s.sent.packets, s.sent.bytes), sent, "{backend:?}");
}

/// The drop counters `list` describes.
fn drops(list: &[(DropReason, u64)]) -> DropCounters {
    let mut c = DropCounters::new();
    for &(reason, n) in list {
        for _ in 0..n {
            c.add(reason);
        }
    }
    c
}

/// The plane's events until one satisfies `want`, within [`WAIT`]; the others are passed over.
fn event(plane: &MediaPlane, want: impl Fn(&PlaneEvent) -> bool) -> PlaneEvent {
    let until = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < until {
        if let Some(e) = plane.next_event(Duration::from_millis(100)) {
            if want(&e) {
                return e;
            }
            seen.push(e);
        }
    }
    panic!("no such event within {WAIT:?}; saw {seen:?}");
}

/// Sends `pkt` from `from` to `to` and asserts that `at` receives exactly `expect` from `src`.
fn relay_one(from: &UdpSocket, to: SocketAddr, pkt: &[u8], at: &UdpSocket, src: SocketAddr) {
    from.send_to(pkt, to).unwrap();
    let (got, came_from) = recv(at);
    assert_eq!(came_from, src, "answers come from the leg's own port");
    assert_eq!(got, pkt, "relayed unchanged");
}

/// [`relay_one`] through a plain call: from `client` to the outside leg's RTP port, on to
/// `phone` from the inside leg's.
fn inward(call: &CallLegs, client: &UdpSocket, pkt: &[u8], phone: &UdpSocket) {
    let (o, i) = rtp_ports(call);
    relay_one(client, media(o), pkt, phone, media(i));
}

/// [`relay_one`] through a plain call the other way: from `phone` to the inside leg's RTP
/// port, on to `client` from the outside leg's.
fn outward(call: &CallLegs, phone: &UdpSocket, pkt: &[u8], client: &UdpSocket) {
    let (o, i) = rtp_ports(call);
    relay_one(phone, media(i), pkt, client, media(o));
}

/// Sends RTP `pkt` from `from` to `to`, protected with `tx`, and asserts that `at` receives it
/// as it was: the relay took the protection off. `what` names the check.
fn srtp_to_rtp(
    tx: &mut Context,
    from: &UdpSocket,
    to: SocketAddr,
    pkt: &[u8],
    at: &UdpSocket,
    what: &str,
) {
    from.send_to(&protect(tx, pkt), to).unwrap();
    assert_eq!(recv(at).0, pkt, "{what}");
}

/// Sends RTP `pkt` from `from` to `to` and asserts that `at` receives it protected: `rx`
/// takes the protection off. `what` names the check.
fn rtp_to_srtp(
    from: &UdpSocket,
    to: SocketAddr,
    pkt: &[u8],
    rx: &mut Context,
    at: &UdpSocket,
    what: &str,
) {
    from.send_to(pkt, to).unwrap();
    assert_eq!(unprotect(rx, &recv(at).0), pkt, "{what}");
}

#[test]
fn transforms_across_the_namespaces() {
    // Two workers: the calls are spread over both.
    let two_workers = |c: &mut PlaneConfig| c.cores = vec![None, None];
    each_backend_with((40000, 40019), &[], two_workers, |backend, net, plane| {
        // SRTP outside ↔ RTP inside.
        let (client_a, phone_a, call_a, mut a_tx, mut a_rx) = net.srtp_call(plane);
        // Plain both sides (the E role).
        let (client_b, phone_b, call_b) = net.plain_call(plane);
        // SRTP both sides, other keys and another suite inside.
        let (client_c, phone_c) = net.client_and_phone();
        let (mut c_tx, mut c_rx, c_in, c_out) = sdes(Suite::AesCm128HmacSha1_80);
        let (mut p_tx, mut p_rx, p_in, p_out) = sdes(Suite::AeadAes128Gcm);
        let mut phone_leg = signalled(addr(&phone_c));
        phone_leg.srtp_in = Some(p_in);
        phone_leg.srtp_out = Some(p_out);
        let call_c = plane
            .allocate(pair(srtp_leg(c_in, c_out)), pair(phone_leg))
            .unwrap();
        let workers: std::collections::HashSet<usize> =
            [call_a.worker, call_b.worker, call_c.worker].into();
        assert_eq!(workers.len(), 2, "{backend:?}: calls on both workers");

        let port = |c: &CallLegs, i: usize| c.legs[i].rtp_port;
        for seq in 0..20u16 {
            // A: the phone gets plain RTP; the client reads the SRTP answer.
            let plain = rtp(0xa0a0_0001, seq, 160);
            client_a
                .send_to(&protect(&mut a_tx, &plain), media(port(&call_a, 0)))
                .unwrap();
            let (got, from) = recv(&phone_a);
            assert_eq!(got, plain, "{backend:?}: SRTP → RTP");
            assert_eq!(from, media(port(&call_a, 1)));
            let answer = rtp(0xa0a0_0002, seq, 160);
            phone_a.send_to(&answer, media(port(&call_a, 1))).unwrap();
            let (wire, from) = recv(&client_a);
            assert_eq!(from, media(port(&call_a, 0)));
            assert_eq!(wire.len(), answer.len() + 10, "an 80-bit tag");
            assert_eq!(
                unprotect(&mut a_rx, &wire),
                answer,
                "{backend:?}: RTP → SRTP"
            );

            // B: bytes unchanged both ways.
            inward(&call_b, &client_b, &rtp(0xb0b0_0001, seq, 100), &phone_b);
            outward(&call_b, &phone_b, &rtp(0xb0b0_0002, seq, 100), &client_b);

            // C: re-protected with the other side's keys, both ways.
            let plain = rtp(0xc0c0_0001, seq, 120);
            let wire_out = protect(&mut c_tx, &plain);
            client_c
                .send_to(&wire_out, media(port(&call_c, 0)))
                .unwrap();
            let (wire_in, from) = recv(&phone_c);
            assert_eq!(from, media(port(&call_c, 1)));
            assert_ne!(wire_in, wire_out, "re-encrypted");
            assert_eq!(wire_in.len(), plain.len() + 16, "a GCM tag");
            assert_eq!(
                unprotect(&mut p_rx, &wire_in),
                plain,
                "{backend:?}: SRTP → SRTP"
            );
            let answer = rtp(0xc0c0_0002, seq, 120);
            phone_c
                .send_to(&protect(&mut p_tx, &answer), media(port(&call_c, 1)))
                .unwrap();
            let (wire, from) = recv(&client_c);
            assert_eq!(from, media(port(&call_c, 0)));
            assert_eq!(unprotect(&mut c_rx, &wire), answer, "{backend:?}: back");
        }
        for call in [&call_a, &call_b, &call_c] {
            for leg in [call.legs[0].leg, call.legs[1].leg] {
                let s = plane.stats(leg).unwrap();
                assert_eq!(s.received.packets, 20, "{backend:?} {leg:?}");
                assert_eq!(s.sent.packets, 20, "{backend:?} {leg:?}");
                assert_eq!(s.received.drops.total(), 0, "{backend:?} {leg:?}");
            }
        }
    });
}

#[test]
fn rekey_mid_call() {
    each_backend((40100, 40119), |backend, net, plane| {
        let (client, phone, call, mut tx, mut rx) = net.srtp_call(plane);
        let (o, i) = rtp_ports(&call);
        let ssrc = 0x1234_5678;
        for seq in 0..10u16 {
            let (p, answer) = (rtp(ssrc, seq, 160), rtp(7, seq, 160));
            srtp_to_rtp(&mut tx, &client, media(o), &p, &phone, "first key");
            rtp_to_srtp(&phone, media(i), &answer, &mut rx, &client, "first key");
        }

        // A re-INVITE brings new keys for both directions of the outside leg.
        let (out, _) = legs(&call);
        let (mut tx2, mut rx2, leg_in2, leg_out2) = sdes(Suite::AesCm128HmacSha1_80);
        plane
            .update_keys(out, Some(leg_in2), Some(leg_out2))
            .unwrap();

        // The old key no longer gets through: counted as an authentication failure.
        client
            .send_to(&protect(&mut tx, &rtp(ssrc, 10, 160)), media(o))
            .unwrap();
        assert_drops(plane, out, &[(DropReason::AuthFail, 1)], backend);
        nothing(&phone, "a packet under the old key");
        // The new key does; the answers are under the new key, which the old one cannot read.
        for seq in 11..16u16 {
            let p = rtp(ssrc, seq, 160);
            let new_key = format!("{backend:?}: new key");
            srtp_to_rtp(&mut tx2, &client, media(o), &p, &phone, &new_key);
            phone.send_to(&rtp(7, seq, 160), media(i)).unwrap();
            let (wire, _) = recv(&client);
            let mut stale = wire.clone();
            assert!(
                rx.unprotect_rtp(&mut stale).is_err(),
                "{backend:?}: old key"
            );
            assert_eq!(unprotect(&mut rx2, &wire), rtp(7, seq, 160), "{backend:?}");
        }
        let s = plane.stats(out).unwrap();
        assert_eq!(s.received.packets, 15);
        assert_eq!(s.received.drops.total(), 1);
        assert_eq!(s.relatched, 0, "same client, same address");
    });
}

#[test]
fn latching_and_nat_rebinding() {
    each_backend((40200, 40219), |backend, net, plane| {
        let (client, phone, call, mut tx, mut rx) = net.srtp_call(plane);
        let (out, inn) = legs(&call);
        let (o, i) = rtp_ports(&call);

        // Inside, the leg takes packets only from the signalled IP: another host is refused
        // before the phone ever spoke.
        let stranger = net.inside(PHONE_IP_2, 0);
        stranger.send_to(&rtp(9, 0, 160), media(i)).unwrap();
        assert_drops(plane, inn, &[(DropReason::UnexpectedSource, 1)], backend);

        // The client's first authenticated packet latches the outside leg to it.
        let ssrc = 0x5555_0001;
        let p = rtp(ssrc, 0, 160);
        srtp_to_rtp(&mut tx, &client, media(o), &p, &phone, "latches");
        let e = event(plane, |e| e.leg == out);
        assert!(
            matches!(e.event, Event::Latched { component: Component::Rtp, addr: a, .. }
                if a == addr(&client)),
            "{backend:?}: {e:?}"
        );
        let answer = rtp(7, 0, 160);
        rtp_to_srtp(&phone, media(i), &answer, &mut rx, &client, "answer");
        // The phone latched its leg; from now on only its exact address is accepted, not even
        // another port of its IP.
        let e = event(plane, |e| e.leg == inn);
        assert!(
            matches!(e.event, Event::Latched { addr: a, .. } if a == addr(&phone)),
            "{backend:?}: {e:?}"
        );
        let same_ip = net.inside(PHONE_IP, 0);
        same_ip.send_to(&rtp(7, 1, 160), media(i)).unwrap();
        assert_drops(plane, inn, &[(DropReason::UnexpectedSource, 2)], backend);
        nothing(&client, "a packet from an unsignalled source");

        // The client moves: a new IP and a new port. A forged packet (bad tag) and a plain one
        // from there do not move the leg: answers keep going to the old address.
        let moved = net.outside(CLIENT_IP_2);
        let mut forged = protect(&mut tx, &rtp(ssrc, 1, 160));
        let last = forged.len() - 1;
        forged[last] ^= 1;
        moved.send_to(&forged, media(o)).unwrap();
        moved.send_to(&rtp(ssrc, 2, 160), media(o)).unwrap();
        let s = assert_drops(plane, out, &[(DropReason::AuthFail, 2)], backend);
        assert_eq!(s.relatched, 0);
        assert_eq!(s.rtp_remote, Some(addr(&client)));
        let stay = format!("{backend:?}: answers stay with the old address");
        rtp_to_srtp(&phone, media(i), &rtp(7, 2, 160), &mut rx, &client, &stay);
        nothing(&moved, "an answer after a forged packet");

        // An authenticated packet from the new address moves the leg; answers follow.
        let p = rtp(ssrc, 3, 160);
        srtp_to_rtp(&mut tx, &moved, media(o), &p, &phone, "moves");
        let e = event(plane, |e| e.leg == out);
        assert!(
            matches!(e.event, Event::Relatched { component: Component::Rtp, from, to, .. }
                if from == addr(&client) && to == addr(&moved)),
            "{backend:?}: {e:?}"
        );
        let follow = format!("{backend:?}: answers follow");
        rtp_to_srtp(&phone, media(i), &rtp(7, 3, 160), &mut rx, &moved, &follow);
        nothing(&client, "an answer to the old address");
        let s = plane.stats(out).unwrap();
        assert_eq!(s.relatched, 1, "{backend:?}");
        assert_eq!(s.rtp_remote, Some(addr(&moved)));
        assert_eq!(s.received.packets, 2);
    });
}

#[test]
fn multiplexed_traversal() {
    let mux = 36000;
    let open = [(mux, mux + 1)];
    let tweak = |c: &mut PlaneConfig| c.mux_pairs = vec![mux];
    each_backend_with((40300, 40319), &open, tweak, |backend, net, plane| {
        // The C host: RTP on one port, RTCP on the next, as signalled.
        let c_rtp = net.inside(PHONE_IP, 5000);
        let c_rtcp = net.inside(PHONE_IP, 5001);
        let clients: Vec<UdpSocket> = (0..3).map(|_| net.outside(CLIENT_IP)).collect();
        let mut calls = Vec::new();
        for k in 0..3 {
            let id = (k == 2).then_some(7777);
            let traversal = LegRequest {
                ports: LegPorts::Mux { pair: None, id },
                leg: signalled(addr(&c_rtp)),
            };
            let call = plane.allocate(pair(first_packet()), traversal).unwrap();
            assert_eq!(call.legs[1].rtp_port, mux);
            assert_eq!(call.legs[1].rtcp_port, Some(mux + 1));
            calls.push(call);
        }
        let ids: Vec<u32> = calls.iter().map(|c| c.legs[1].mux_id.unwrap()).collect();
        assert_eq!(ids[2], 7777);
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "{ids:?}"
        );
        // An id in use is refused.
        let again = plane.allocate(
            pair(first_packet()),
            LegRequest {
                ports: LegPorts::Mux {
                    pair: Some(mux),
                    id: Some(7777),
                },
                leg: signalled(addr(&c_rtp)),
            },
        );
        assert!(
            matches!(again, Err(PlaneError::MuxIdInUse { pair, id: 7777 }) if pair == mux),
            "{again:?}"
        );

        // Each client's media reaches C framed with its call's id, from the traversal port.
        for (k, client) in clients.iter().enumerate() {
            let pkt = rtp(0x0c00 + k as u32, 0, 100);
            client
                .send_to(&pkt, media(calls[k].legs[0].rtp_port))
                .unwrap();
            let (framed, from) = recv(&c_rtp);
            assert_eq!(from, media(mux), "{backend:?}");
            assert_eq!(&framed[..4], &ids[k].to_be_bytes(), "{backend:?}");
            assert_eq!(&framed[4..], &pkt[..]);
        }
        // Media from C for call 1 reaches call 1's client only.
        let frame = |id: u32, pkt: &[u8]| {
            let mut f = id.to_be_bytes().to_vec();
            f.extend_from_slice(pkt);
            f
        };
        let pkt = rtp(0x0c11, 0, 100);
        c_rtp.send_to(&frame(ids[1], &pkt), media(mux)).unwrap();
        let (got, from) = recv(&clients[1]);
        assert_eq!(
            (got, from),
            (pkt, media(calls[1].legs[0].rtp_port)),
            "{backend:?}"
        );

        // Keepalives (under 16 bytes) and an unknown id are swallowed.
        let before: Vec<LegStats> = calls
            .iter()
            .map(|c| plane.stats(c.legs[1].leg).unwrap())
            .collect();
        c_rtp.send_to(&ids[0].to_be_bytes(), media(mux)).unwrap();
        c_rtp
            .send_to(&frame(ids[0], &[0x80; 11]), media(mux))
            .unwrap();
        c_rtp
            .send_to(&frame(424_242, &rtp(0x0bad, 0, 100)), media(mux))
            .unwrap();
        for client in &clients {
            nothing(client, "a keepalive or an unknown multiplex id");
        }
        // Then media for call 0 still flows, and the traversal legs counted nothing new.
        let pkt = rtp(0x0c10, 1, 100);
        c_rtp.send_to(&frame(ids[0], &pkt), media(mux)).unwrap();
        assert_eq!(recv(&clients[0]).0, pkt, "{backend:?}");
        for (k, call) in calls.iter().enumerate() {
            let s = plane.stats(call.legs[1].leg).unwrap();
            let extra = u64::from(k == 0);
            assert_eq!(
                s.received.packets,
                before[k].received.packets + extra,
                "{backend:?}"
            );
            assert_eq!(s.received.drops, before[k].received.drops, "{backend:?}");
        }

        // RTCP over the traversal RTCP port, both ways.
        let client_rtcp = net.outside(CLIENT_IP);
        let sr = rtcp_sr(0x0c00, 1);
        client_rtcp
            .send_to(&sr, media(calls[0].legs[0].rtcp_port.unwrap()))
            .unwrap();
        let (framed, from) = recv(&c_rtcp);
        assert_eq!(from, media(mux + 1), "{backend:?}");
        assert_eq!(framed, frame(ids[0], &sr));
        let rr = rtcp_rr(0x0c10);
        c_rtcp.send_to(&frame(ids[0], &rr), media(mux + 1)).unwrap();
        let (got, from) = recv(&client_rtcp);
        assert_eq!(
            (got, from),
            (rr, media(calls[0].legs[0].rtcp_port.unwrap()))
        );
    });
}

#[test]
fn rtcp_on_its_own_port_and_multiplexed() {
    each_backend((40400, 40419), |backend, net, plane| {
        // A: RTCP on the odd port of each pair; SRTCP outside, RTCP inside.
        let client = net.outside(CLIENT_IP);
        let client_rtcp = net.outside(CLIENT_IP);
        let phone = net.inside(PHONE_IP, 6000);
        let phone_rtcp = net.inside(PHONE_IP, 6001);
        let (a, mut tx, mut rx) = srtp_call_to(plane, &phone, false);
        let [o, i] = a.legs;
        let (o_rtcp, i_rtcp) = (o.rtcp_port.unwrap(), i.rtcp_port.unwrap());
        assert_eq!((o_rtcp, i_rtcp), (o.rtp_port + 1, i.rtp_port + 1));
        let sr = rtcp_sr(0xaaaa, 1);
        client_rtcp
            .send_to(&protect_rtcp(&mut tx, &sr), media(o_rtcp))
            .unwrap();
        let (got, from) = recv(&phone_rtcp);
        assert_eq!(
            (got, from),
            (sr, media(i_rtcp)),
            "{backend:?}: SRTCP → RTCP"
        );
        let rr = rtcp_rr(0xbbbb);
        phone_rtcp.send_to(&rr, media(i_rtcp)).unwrap();
        let (wire, from) = recv(&client_rtcp);
        assert_eq!(from, media(o_rtcp));
        assert_eq!(
            unprotect_rtcp(&mut rx, &wire),
            rr,
            "{backend:?}: RTCP → SRTCP"
        );
        // RTP keeps to the RTP ports.
        client
            .send_to(&protect(&mut tx, &rtp(0xaaaa, 0, 160)), media(o.rtp_port))
            .unwrap();
        assert_eq!(recv(&phone), (rtp(0xaaaa, 0, 160), media(i.rtp_port)));
        phone
            .send_to(&rtp(0xbbbb, 0, 160), media(i.rtp_port))
            .unwrap();
        let (wire, from) = recv(&client);
        assert_eq!(from, media(o.rtp_port));
        assert_eq!(unprotect(&mut rx, &wire), rtp(0xbbbb, 0, 160));
        nothing(&phone_rtcp, "RTP on the RTCP port");
        assert_eq!(plane.stats(o.leg).unwrap().received.packets, 2);
        assert_eq!(plane.stats(i.leg).unwrap().received.packets, 2);

        // B: RTCP multiplexed on the RTP port (RFC 5761), SRTP outside, plain inside.
        let client = net.outside(CLIENT_IP);
        let phone = net.inside(PHONE_IP, 6100);
        let (b, mut tx, mut rx) = srtp_call_to(plane, &phone, true);
        let [o, i] = b.legs;
        assert_eq!((o.rtcp_port, i.rtcp_port), (None, None));
        client
            .send_to(&protect(&mut tx, &rtp(0xcccc, 0, 160)), media(o.rtp_port))
            .unwrap();
        assert_eq!(recv(&phone), (rtp(0xcccc, 0, 160), media(i.rtp_port)));
        let sr = rtcp_sr(0xcccc, 1);
        client
            .send_to(&protect_rtcp(&mut tx, &sr), media(o.rtp_port))
            .unwrap();
        assert_eq!(
            recv(&phone),
            (sr, media(i.rtp_port)),
            "{backend:?}: muxed RTCP in"
        );
        let rr = rtcp_rr(0xdddd);
        phone.send_to(&rr, media(i.rtp_port)).unwrap();
        let (wire, from) = recv(&client);
        assert_eq!(from, media(o.rtp_port));
        assert_eq!(
            unprotect_rtcp(&mut rx, &wire),
            rr,
            "{backend:?}: muxed RTCP out"
        );
        phone
            .send_to(&rtp(0xdddd, 0, 160), media(i.rtp_port))
            .unwrap();
        assert_eq!(unprotect(&mut rx, &recv(&client).0), rtp(0xdddd, 0, 160));
        // The odd port of a multiplexed pair is kept idle: nothing listens there.
        let before = net.edge_no_ports();
        client
            .send_to(&rtp(0xcccc, 1, 160), media(o.rtp_port + 1))
            .unwrap();
        let until = Instant::now() + WAIT;
        while net.edge_no_ports() == before && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(net.edge_no_ports(), before + 1, "{backend:?}");
        let s = plane.stats(o.leg).unwrap();
        assert_eq!((s.received.packets, s.sent.packets), (2, 2), "{backend:?}");
    });
}

#[test]
fn port_exhaustion_and_quarantine() {
    // Three pairs; the inside legs sit on fixed ports outside the range, so a call takes one
    // pair.
    let fixed = 41000;
    let open = [(fixed, fixed + 9)];
    each_backend_with((40500, 40505), &open, as_is, |backend, net, plane| {
        let phone = net.inside(PHONE_IP, 0);
        let inside = |k: u16| LegRequest {
            ports: LegPorts::Fixed {
                rtp: fixed + 2 * k,
                rtcp: Some(fixed + 2 * k + 1),
            },
            leg: signalled(addr(&phone)),
        };
        let clients: Vec<UdpSocket> = (0..3).map(|_| net.outside(CLIENT_IP)).collect();
        let mut calls: Vec<CallLegs> = (0..3)
            .map(|k| plane.allocate(pair(first_packet()), inside(k)).unwrap())
            .collect();
        let ps = plane.plane_stats();
        assert_eq!(
            (ps.ports_capacity, ps.ports_in_use, ps.ports_available),
            (3, 3, 0)
        );
        let refused = plane.allocate(pair(first_packet()), inside(3));
        assert!(
            matches!(
                refused,
                Err(PlaneError::Exhausted(AllocError::Exhausted {
                    in_quarantine: 0,
                    retry_after: None
                }))
            ),
            "{backend:?}: {refused:?}"
        );
        // The calls in place keep working.
        let check = |calls: &[CallLegs], seq: u16| {
            for (client, call) in clients.iter().zip(calls) {
                let pkt = rtp(0xe000 + u32::from(call.legs[0].rtp_port), seq, 80);
                inward(call, client, &pkt, &phone);
            }
        };
        check(&calls, 0);

        // A released pair waits out the quarantine; meanwhile the refusal says how long.
        let gone = calls.remove(1);
        let released_at = Instant::now();
        plane.release(gone.legs[0].leg).unwrap();
        let refused = plane.allocate(pair(first_packet()), inside(1));
        match refused {
            Err(PlaneError::Exhausted(AllocError::Exhausted {
                in_quarantine: 1,
                retry_after: Some(d),
            })) => assert!(d <= QUARANTINE, "{d:?}"),
            other => panic!("{backend:?}: {other:?}"),
        }
        assert_eq!(plane.plane_stats().ports_in_quarantine, 1);
        let until = Instant::now() + WAIT;
        // Fresh fixed ports for the new call: the point is the pair from the range.
        let again = loop {
            match plane.allocate(pair(first_packet()), inside(4)) {
                Ok(c) => break c,
                Err(PlaneError::Exhausted(_)) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("{backend:?}: {e}"),
            }
        };
        assert!(
            released_at.elapsed() >= QUARANTINE,
            "reused before the quarantine"
        );
        assert_eq!(
            again.legs[0].rtp_port, gone.legs[0].rtp_port,
            "the only free pair"
        );
        calls.insert(1, again);
        check(&calls, 1);
        let ps = plane.plane_stats();
        assert_eq!(
            (ps.ports_in_use, ps.ports_in_quarantine, ps.calls),
            (3, 0, 3)
        );
    });
}

#[test]
fn inactivity_is_reported() {
    let timeout = |c: &mut PlaneConfig| c.inactivity_timeout = Duration::from_millis(300);
    each_backend_with((40600, 40619), &[], timeout, |backend, net, plane| {
        let (client, phone, call) = net.plain_call(plane);
        let (a, b) = legs(&call);
        // Silence: both legs are reported.
        let mut quiet = Vec::new();
        let until = Instant::now() + WAIT;
        while quiet.len() < 2 && Instant::now() < until {
            if let Some(PlaneEvent {
                leg,
                event: Event::Inactive { .. },
            }) = plane.next_event(Duration::from_millis(100))
            {
                quiet.push(leg);
            }
        }
        assert!(
            quiet.contains(&a) && quiet.contains(&b),
            "{backend:?}: {quiet:?}"
        );
        // A leg that speaks again and falls silent is reported again.
        inward(&call, &client, &rtp(1, 0, 80), &phone);
        event(plane, |e| {
            e.leg == a && matches!(e.event, Event::Inactive { .. })
        });
    });
}

#[test]
fn statistics_match_what_was_sent() {
    each_backend((40700, 40719), |backend, net, plane| {
        let before = net.edge.udp_counters().unwrap();
        let (client, phone, call, mut tx, mut rx) = net.srtp_call(plane);
        let (out, inn) = legs(&call);
        let (o, i) = rtp_ports(&call);
        let (mut plain_in, mut plain_out, mut wire_out) = (0u64, 0u64, 0u64);
        let mut first_wire = Vec::new();
        for seq in 0..50u16 {
            let p = rtp(0x5747_0001, 1000 + seq, 80 + 20 * usize::from(seq % 7));
            plain_in += p.len() as u64;
            let w = protect(&mut tx, &p);
            if seq == 0 {
                first_wire = w.clone();
            }
            client.send_to(&w, media(o)).unwrap();
            assert_eq!(recv(&phone).0, p);
            if seq < 30 {
                let a = rtp(0x5747_0002, 7000 + seq, 160 - usize::from(seq % 3));
                plain_out += a.len() as u64;
                phone.send_to(&a, media(i)).unwrap();
                let (w, _) = recv(&client);
                wire_out += w.len() as u64;
                assert_eq!(unprotect(&mut rx, &w), a);
            }
        }
        let s = plane.stats(out).unwrap();
        assert_counts(&s, (50, plain_in), (30, wire_out), backend);
        assert_eq!(wire_out, plain_out + 30 * 10, "an 80-bit tag on each");
        assert_eq!(s.received.drops.total(), 0);
        assert!(s.rtp.valid, "{:?}", s.rtp);
        assert_eq!(s.rtp.lost, 0, "{backend:?}: {:?}", s.rtp);
        assert_eq!(s.rtp.extended_max_seq % 65536, 1049);
        assert_eq!((s.rtp.duplicates, s.rtp.misordered), (0, 0));
        let t = plane.stats(inn).unwrap();
        assert_counts(&t, (30, plain_out), (50, plain_in), backend);
        assert_eq!(t.rtp.lost, 0, "{backend:?}: {:?}", t.rtp);
        assert_eq!(t.received.drops.total(), 0);

        // Drops by reason: two replays, one bad tag, one datagram that is no RTP.
        client.send_to(&first_wire, media(o)).unwrap();
        client.send_to(&first_wire, media(o)).unwrap();
        let mut bad = protect(&mut tx, &rtp(0x5747_0001, 1050, 80));
        bad[20] ^= 0x40;
        client.send_to(&bad, media(o)).unwrap();
        client.send_to(&[0xff; 64], media(o)).unwrap();
        let s = assert_drops(
            plane,
            out,
            &[
                (DropReason::Replay, 2),
                (DropReason::AuthFail, 1),
                (DropReason::NotRtp, 1),
            ],
            backend,
        );
        assert_eq!(
            s.received.packets, 50,
            "dropped packets are not counted as received"
        );
        let ps = plane.plane_stats();
        assert_eq!(ps.calls, 1);
        let io = ps.workers[0].io.unwrap();
        assert!(io.received >= 84 && io.sent >= 80, "{backend:?}: {io:?}");
        assert_eq!((io.send_errors, io.receive_errors), (0, 0), "{backend:?}");
        // The kernel dropped nothing on the way.
        let after = net.edge.udp_counters().unwrap();
        assert_eq!(after.rcvbuf_errors, before.rcvbuf_errors, "{backend:?}");
        assert_eq!(after.in_errors, before.in_errors, "{backend:?}");
    });
}

#[test]
fn bad_input_is_counted_and_disturbs_no_other_call() {
    each_backend((40800, 40819), |backend, net, plane| {
        // The call under attack: SRTP outside, plain inside.
        let (client, phone, x, mut tx, _rx) = net.srtp_call(plane);
        let (xo, xi) = rtp_ports(&x);
        // A bystander on the same worker, kept flowing between every bad datagram.
        let (client_y, phone_y, y) = net.plain_call(plane);
        assert_eq!(x.worker, y.worker);
        let mut y_seq = 0u16;
        let mut bystander = || {
            inward(&y, &client_y, &rtp(0xb1, y_seq, 160), &phone_y);
            outward(&y, &phone_y, &rtp(0xb2, y_seq, 160), &client_y);
            y_seq += 1;
        };
        bystander();

        let ssrc = 0xa77a_c4ed;
        let valid = protect(&mut tx, &rtp(ssrc, 0, 160));
        client.send_to(&valid, media(xo)).unwrap();
        assert_eq!(recv(&phone).0, rtp(ssrc, 0, 160));
        let mut ssrc_altered = protect(&mut tx, &rtp(ssrc, 1, 160));
        ssrc_altered[11] ^= 0x01;
        let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[0x5a; 12]);
        let mut dtls = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x01];
        dtls.resize(62, 0);
        let mut csrc_past_end = rtp(ssrc, 2, 16);
        csrc_past_end[0] = 0x8f; // 15 CSRCs announced, none there
        let attacker = net.outside(CLIENT_IP_2);
        let abuse: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("one byte", vec![0x80]),
            ("short of an RTP header", vec![0x80; 11]),
            ("garbage", vec![0xff; 100]),
            ("unknown first byte", vec![0x55; 40]),
            ("STUN-looking", stun),
            ("DTLS-looking", dtls),
            ("SSRC altered", ssrc_altered),
            ("replay", valid.clone()),
            ("replay again", valid),
            ("CSRCs past the end", csrc_past_end),
            // Longer than the relay's 2048-byte buffers: cut off by the kernel (MSG_TRUNC),
            // counted on the leg as too long.
            ("over-long", vec![0x80; 3000]),
        ];
        for (what, bytes) in &abuse {
            attacker
                .send_to(bytes, media(xo))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            bystander();
        }
        // Inside: junk from the phone's own address, RTP from a host that was not signalled.
        phone.send_to(&[0xff; 100], media(xi)).unwrap();
        bystander();
        let stranger = net.inside(PHONE_IP_2, 0);
        stranger.send_to(&rtp(9, 0, 160), media(xi)).unwrap();
        bystander();

        let expected = [
            (DropReason::TooShort, 3),
            (DropReason::TooLong, 1),
            (DropReason::NotRtp, 4),
            (DropReason::AuthFail, 1),
            (DropReason::Replay, 2),
            (DropReason::BadHeader, 1),
        ];
        let (xo_leg, xi_leg) = legs(&x);
        let s = assert_drops(plane, xo_leg, &expected, backend);
        assert_eq!(s.received.packets, 1);
        let t = assert_drops(
            plane,
            xi_leg,
            &[(DropReason::NotRtp, 1), (DropReason::UnexpectedSource, 1)],
            backend,
        );
        assert_eq!(t.received.packets, 0);
        nothing(&client, "junk relayed");
        // The call under attack still works, and the bystander lost nothing.
        client
            .send_to(&protect(&mut tx, &rtp(ssrc, 3, 160)), media(xo))
            .unwrap();
        assert_eq!(recv(&phone).0, rtp(ssrc, 3, 160), "{backend:?}");
        bystander();
        for leg in [y.legs[0].leg, y.legs[1].leg] {
            let s = plane.stats(leg).unwrap();
            assert_eq!(s.received.packets, u64::from(y_seq), "{backend:?}");
            assert_eq!(s.received.drops.total(), 0, "{backend:?}");
            assert_eq!(s.rtp.lost, 0, "{backend:?}");
        }
    });
}

/// The relay's buffers hold 2048 bytes; a longer datagram is cut off by the kernel. It is
/// counted under the leg whose port it reached, as `TooLong`, never relayed, and the call goes
/// on.
#[test]
fn over_long_datagram_is_counted_on_its_leg() {
    each_backend((40900, 40919), |backend, net, plane| {
        let (client, phone, call) = net.plain_call(plane);
        inward(&call, &client, &rtp(1, 0, 160), &phone);
        let io_before = plane.plane_stats().workers[0].io.unwrap();
        client
            .send_to(&[0x80; 3000], media(call.legs[0].rtp_port))
            .unwrap();
        inward(&call, &client, &rtp(1, 1, 160), &phone);
        let leg = plane.stats(call.legs[0].leg).unwrap();
        let io = plane.plane_stats().workers[0].io.unwrap();
        assert_eq!(
            leg.received.drops.get(DropReason::TooLong),
            1,
            "{backend:?}: {:?}",
            leg.received.drops
        );
        assert_eq!(leg.received.drops.total(), 1, "{backend:?}");
        assert_eq!(
            leg.received.packets, 2,
            "{backend:?}: both good packets relayed"
        );
        assert_eq!(io.receive_errors, io_before.receive_errors, "{backend:?}");
        assert_eq!(io.received, io_before.received + 2, "{backend:?}");
    });
}

#[test]
fn released_call_ports_are_closed_in_the_kernel() {
    each_backend((41100, 41119), |backend, net, plane| {
        let (client, phone, keep) = net.plain_call(plane);
        let (client_z, phone_z, z) = net.plain_call(plane);
        let [zo, zi] = z.legs;
        inward(&z, &client_z, &rtp(2, 0, 80), &phone_z);
        inward(&keep, &client, &rtp(1, 0, 80), &phone);

        plane.release(zo.leg).unwrap();
        assert!(matches!(plane.stats(zo.leg), Err(PlaneError::UnknownLeg)));
        // The worker closes the sockets before `release` returns, but a process that another
        // test thread spawns at that moment (the lab runs `ip`) holds a copy of every
        // descriptor until it execs, keeping a socket alive for a moment. So datagrams go in
        // rounds, one to each port of the released call, until a round is counted whole.
        let until = Instant::now() + WAIT;
        let counted = loop {
            let before = net.edge_no_ports();
            for port in [zo.rtp_port, zo.rtcp_port.unwrap()] {
                client_z.send_to(&rtp(2, 1, 80), media(port)).unwrap();
            }
            for port in [zi.rtp_port, zi.rtcp_port.unwrap()] {
                phone_z.send_to(&rtp(3, 0, 80), media(port)).unwrap();
            }
            let round = Instant::now() + Duration::from_millis(500);
            while net.edge_no_ports() < before + 4 && Instant::now() < round {
                std::thread::sleep(Duration::from_millis(20));
            }
            let counted = net.edge_no_ports() - before;
            if counted == 4 || Instant::now() > until {
                break counted;
            }
        };
        assert_eq!(counted, 4, "{backend:?}: the kernel finds no socket");
        nothing(&phone_z, "media of a released call");
        // The other call is unaffected.
        for seq in 1..10 {
            inward(&keep, &client, &rtp(1, seq, 80), &phone);
            outward(&keep, &phone, &rtp(4, seq, 80), &client);
        }
        let s = plane.stats(keep.legs[0].leg).unwrap();
        assert_eq!((s.received.packets, s.received.drops.total()), (10, 0));
    });
}

/// The lab's edge firewall (no plane involved, so one run): UDP to a port outside the media
/// range is dropped before any socket sees it, from either side; inside the range it passes.
#[test]
fn edge_firewall_drops_udp_outside_the_media_range() {
    let (first, last) = (41200, 41219);
    let Some(net) = Net::new((first, last), &[]) else {
        return;
    };
    let listener = bind_in(&net.edge, media(5060));
    let in_range = bind_in(&net.edge, media(first));
    let (client, phone) = net.client_and_phone();
    let no_ports = net.edge_no_ports();
    for _ in 0..2 {
        client.send_to(b"INVITE", media(5060)).unwrap();
        phone.send_to(b"INVITE", media(5060)).unwrap();
    }
    client.send_to(b"media", media(first)).unwrap();
    assert_eq!(recv(&in_range), (b"media".to_vec(), addr(&client)));
    phone.send_to(b"media", media(first)).unwrap();
    assert_eq!(recv(&in_range), (b"media".to_vec(), addr(&phone)));
    nothing(&listener, "UDP outside the media range");
    assert_eq!(net.edge.nft_counter(FW_TABLE, FW_DROPPED).unwrap(), 4);
    assert_eq!(
        net.edge_no_ports(),
        no_ports,
        "dropped before the UDP layer"
    );
}
