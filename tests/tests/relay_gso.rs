//! UDP GSO and GRO on a multiplexed traversal pair, between two network namespaces joined by a
//! veth, on each backend: the C-side relay sends every call's media to its E in GSO runs and
//! receives the E's GSO batches coalesced (GRO); when the path refuses GSO (here: an MTU below
//! the segment size, which the kernel answers with `EMSGSIZE`, while single datagrams are still
//! sent, fragmented), the relay sends the same datagrams one by one, counts the fallback once
//! and stops trying GSO on that socket — no datagram is lost.
//!
//! The namespaces need root: without it each test says so loudly and returns.

#![expect(
    clippy::unwrap_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media::relay::engine::{LatchPolicy, LegConfig};
use media::relay::port_alloc::PortRange;
use media::runtime::{IoCounters, LegPorts, LegRequest, MediaPlane, PlaneConfig, UdpBatch};
use tests::netns::{report_skip, Lab, Netns};

/// Generous: CI has two cores.
const WAIT: Duration = Duration::from_secs(10);
const RELAY_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 20, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 20, 2);
const MUX_PAIR: u16 = 36000;
const CALLS: usize = 30;
const ROUNDS: usize = 60;

/// The relay namespace (veth `r0`, 198.18.20.1) and the peer namespace (`p0`, 198.18.20.2).
fn lab() -> Option<(Lab, Netns, Netns)> {
    let mut lab = Lab::new();
    let relay = match lab.namespace("relay") {
        Ok(n) => n,
        Err(e) if e.is_not_permitted() => {
            report_skip(&e);
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    let peer = lab.namespace("peer").unwrap();
    lab.veth(&relay, "r0", &peer, "p0").unwrap();
    lab.address(&relay, "r0", &format!("{RELAY_IP}/24"))
        .unwrap();
    lab.address(&peer, "p0", &format!("{PEER_IP}/24")).unwrap();
    Some((lab, relay, peer))
}

fn io(plane: &MediaPlane) -> IoCounters {
    plane.plane_stats().workers[0].io.unwrap()
}

/// Calls whose outside leg is multiplexed on the traversal pair toward the E peer and whose
/// inside leg sends to `phone`; returns (mux id, inside port) per call.
fn calls(plane: &MediaPlane, e_peer: SocketAddr, phone: SocketAddr) -> Vec<(u32, u16)> {
    (0..CALLS)
        .map(|_| {
            let mut outside = LegConfig::plain(0, Some(e_peer));
            outside.latch = LatchPolicy::Fixed;
            let mut inside = LegConfig::plain(0, Some(phone));
            inside.latch = LatchPolicy::Fixed;
            let c = plane
                .allocate(
                    LegRequest {
                        ports: LegPorts::Mux {
                            pair: None,
                            id: None,
                        },
                        leg: outside,
                    },
                    LegRequest {
                        ports: LegPorts::Allocate { rtcp_mux: true },
                        leg: inside,
                    },
                )
                .unwrap();
            (c.legs[0].mux_id.unwrap(), c.legs[1].rtp_port)
        })
        .collect()
}

fn rtp(call: usize, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&(0x5000_0000 | call as u32).to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (call as u8)));
    p
}

/// One round: the phone sends one packet per call (one `sendmmsg`, so they reach the relay
/// together); the E peer must get each, framed with its call's multiplex id.
fn round_up(
    phone: &mut UdpBatch,
    e_peer: &mut UdpBatch,
    ids: &[(u32, u16)],
    seq: u16,
) -> Result<(), String> {
    let packets: Vec<Vec<u8>> = (0..ids.len()).map(|c| rtp(c, seq)).collect();
    let to: Vec<(SocketAddr, &[u8])> = ids
        .iter()
        .zip(&packets)
        .map(|(&(_, port), p)| (SocketAddr::new(IpAddr::V4(RELAY_IP), port), &p[..]))
        .collect();
    let mut off = 0;
    while off < to.len() {
        off += phone.send(&to[off..]).map_err(|e| e.to_string())?;
    }
    let by_id: HashMap<u32, usize> = ids
        .iter()
        .enumerate()
        .map(|(c, &(id, _))| (id, c))
        .collect();
    receive_each(
        e_peer,
        ids.len(),
        &format!("round {seq}: the E"),
        |from, d| {
            let id = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            by_id
                .get(&id)
                .copied()
                .filter(|&c| from.port() == MUX_PAIR && d[4..] == packets[c][..])
        },
    )
}

/// The E peer sends one GSO batch (one framed packet per call); the phone must get each call's
/// packet on that call's inside port.
fn round_down(
    phone: &mut UdpBatch,
    e_peer: &mut UdpBatch,
    ids: &[(u32, u16)],
    seq: u16,
) -> Result<(), String> {
    let framed: Vec<Vec<u8>> = ids
        .iter()
        .enumerate()
        .map(|(c, &(id, _))| {
            let mut f = id.to_be_bytes().to_vec();
            f.extend_from_slice(&rtp(c, seq));
            f
        })
        .collect();
    let segs: Vec<&[u8]> = framed.iter().map(Vec::as_slice).collect();
    let mux = SocketAddr::new(IpAddr::V4(RELAY_IP), MUX_PAIR);
    let mut off = 0;
    while off < segs.len() {
        off += e_peer
            .send_segments(mux, &segs[off..])
            .map_err(|e| e.to_string())?;
    }
    let by_port: HashMap<u16, usize> = ids.iter().enumerate().map(|(c, &(_, p))| (p, c)).collect();
    receive_each(
        phone,
        ids.len(),
        &format!("round {seq}: the phone"),
        |from, d| {
            by_port
                .get(&from.port())
                .copied()
                .filter(|&c| *d == framed[c][4..])
        },
    )
}

/// Reads `socket` until each of `n` calls' datagrams has come, as `which` says (the call a
/// datagram is, or `None` for one that must not come).
fn receive_each(
    socket: &mut UdpBatch,
    n: usize,
    who: &str,
    which: impl Fn(SocketAddr, &[u8]) -> Option<usize>,
) -> Result<(), String> {
    let mut seen = vec![false; n];
    let until = Instant::now() + WAIT;
    while seen.iter().any(|s| !s) {
        if Instant::now() > until {
            return Err(format!("{who} got {seen:?}"));
        }
        let mut bad = None;
        let got = socket
            .recv(|from, d| match which(from, d) {
                Some(c) => seen[c] = true,
                None => bad = Some(format!("{who}: unexpected datagram from {from}")),
            })
            .map_err(|e| e.to_string())?;
        if let Some(b) = bad {
            return Err(b);
        }
        if got == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(())
}

#[test]
fn multiplexed_traversal_uses_gso_and_gro_and_falls_back_when_refused() {
    for &backend in tests::backends() {
        let Some((_lab, relay_ns, peer_ns)) = lab() else {
            return;
        };
        let mut cfg = PlaneConfig {
            bind_ip: IpAddr::V4(RELAY_IP),
            backend,
            mux_pairs: vec![MUX_PAIR],
            ..PlaneConfig::default()
        };
        cfg.ports.range = PortRange::new(36000, 36199).unwrap();
        let plane = relay_ns.run(|| MediaPlane::spawn(cfg)).unwrap().unwrap();
        let (mut phone, mut e_peer) = peer_ns
            .run(|| {
                let bind = || {
                    let s = UdpSocket::bind((PEER_IP, 0)).unwrap();
                    let b = UdpBatch::new(s, 64).unwrap();
                    b.set_buffers(4 << 20).unwrap();
                    b
                };
                let phone = bind();
                let mut e = bind();
                e.set_gro().unwrap();
                (phone, e)
            })
            .unwrap();
        let ids = calls(
            &plane,
            e_peer.local_addr().unwrap(),
            phone.local_addr().unwrap(),
        );

        // Checksum offload on (veth's default): GSO out, GRO in.
        for seq in 0..ROUNDS as u16 {
            round_up(&mut phone, &mut e_peer, &ids, seq).unwrap();
            round_down(&mut phone, &mut e_peer, &ids, seq).unwrap();
        }
        let on = io(&plane);
        assert!(
            on.gso_sends >= 1,
            "{backend:?}: one destination, many calls: {on:?}"
        );
        assert!(on.gro_receives >= 1, "{backend:?}: {on:?}");
        assert_eq!(on.gso_fallbacks, 0, "{backend:?}: {on:?}");
        assert_eq!(on.send_errors, 0, "{backend:?}: {on:?}");

        // A path MTU below the segment size: the kernel refuses UDP GSO (EMSGSIZE) but sends
        // single datagrams (fragmented). The datagrams still go, one by one, and the socket is
        // not offered GSO again.
        relay_ns
            .exec("ip", &["link", "set", "r0", "mtu", "200"])
            .unwrap();
        for seq in ROUNDS as u16..2 * ROUNDS as u16 {
            round_up(&mut phone, &mut e_peer, &ids, seq).unwrap();
        }
        let off = io(&plane);
        assert_eq!(off.gso_fallbacks, 1, "{backend:?}: {off:?}");
        assert!(
            off.gso_sends == on.gso_sends,
            "{backend:?}: no GSO once refused: {on:?} -> {off:?}"
        );
        assert_eq!(off.send_errors, 0, "{backend:?}: nothing lost: {off:?}");
        drop(plane);
    }
}
