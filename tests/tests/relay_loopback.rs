//! The media worker end to end over loopback UDP, on each backend (io_uring where the kernel
//! allows it, and the socket fallback forced): SRTP↔RTP both ways, latching and NAT rebinding,
//! multiplexed traversal framing and keepalives, inactivity, statistics matching what was sent,
//! release closing the ports, and junk that disturbs no call.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media::relay::engine::{Event, LatchPolicy, LegConfig, RelayConfig};
use media::rtp_stats::DropReason;
use media::runtime::{Backend, BackendChoice, Worker, WorkerConfig};
use media::srtp::{Context, MasterKey, Policy, Suite};

/// Generous: CI has two cores and other tests run beside these.
const WAIT: Duration = Duration::from_secs(5);

/// Two free adjacent ports p (even), p + 1.
fn free_pair() -> u16 {
    for _ in 0..200 {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = s.local_addr().unwrap().port();
        if p.is_multiple_of(2) && p < 65534 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair on loopback");
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut b = [0u8; 2048];
    let (n, from) = s.recv_from(&mut b).expect("a datagram in time");
    (b[..n].to_vec(), from)
}

fn rtp(seq: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0xabcd_0001u32.to_be_bytes());
    p.extend((0..payload).map(|i| (i as u8) ^ (seq as u8)));
    p
}

fn pair(suite: Suite) -> (Context, Context) {
    let k = MasterKey::random(suite).unwrap();
    (
        Context::new(Policy::new(suite), &[(k.clone(), None)]).unwrap(),
        Context::new(Policy::new(suite), &[(k, None)]).unwrap(),
    )
}

fn protect(c: &mut Context, p: &[u8]) -> Vec<u8> {
    let mut b = p.to_vec();
    b.resize(p.len() + 64, 0);
    let n = c.protect_rtp(&mut b, p.len()).unwrap();
    b.truncate(n);
    b
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn srtp_to_rtp_both_ways_with_rebinding_and_stats() {
    for &backend in tests::backends() {
        let worker = Worker::spawn(WorkerConfig {
            backend,
            relay: RelayConfig {
                inactivity_timeout: Duration::from_millis(300),
                ..RelayConfig::default()
            },
            ..WorkerConfig::default()
        })
        .unwrap();
        if backend == BackendChoice::Uring {
            assert_eq!(worker.info().backend, Backend::Uring);
        }
        let (out_port, in_port) = (free_pair(), free_pair());
        let client = peer();
        let phone = peer();
        let (mut client_tx, relay_in) = pair(Suite::AesCm128HmacSha1_80);
        let (relay_out, mut client_rx) = pair(Suite::AesCm128HmacSha1_80);
        let mut outside = LegConfig::plain(out_port, None);
        outside.latch = LatchPolicy::Authenticated;
        outside.srtp_in = Some(relay_in);
        outside.srtp_out = Some(relay_out);
        let inside = LegConfig::plain(in_port, Some(phone.local_addr().unwrap()));
        let (o, i) = worker.allocate(outside, inside).unwrap();

        let mut bytes_in = 0;
        for seq in 0..40u16 {
            let plain = rtp(seq, 160);
            bytes_in += plain.len() as u64;
            client
                .send_to(&protect(&mut client_tx, &plain), local(out_port))
                .unwrap();
            let (got, from) = recv(&phone);
            assert_eq!(got, plain, "{backend:?}: the phone gets plain RTP");
            assert_eq!(from, local(in_port));
            let answer = rtp(500 + seq, 160);
            phone.send_to(&answer, local(in_port)).unwrap();
            let (mut back, from) = recv(&client);
            assert_eq!(from, local(out_port));
            let n = client_rx.unprotect_rtp(&mut back).unwrap();
            assert_eq!(
                &back[..n],
                &answer[..],
                "{backend:?}: the client gets SRTP it can read"
            );
        }
        assert!(matches!(
            worker.next_event(WAIT),
            Some(Event::Latched { leg, .. }) if leg == o
        ));

        // The client's NAT rebinds: a new source port. Only authenticated packets move the leg.
        let moved = peer();
        let mut forged = protect(&mut client_tx, &rtp(40, 160));
        let last = forged.len() - 1;
        forged[last] ^= 1;
        moved.send_to(&forged, local(out_port)).unwrap();
        moved
            .send_to(&protect(&mut client_tx, &rtp(41, 160)), local(out_port))
            .unwrap();
        assert_eq!(recv(&phone).0, rtp(41, 160));
        phone.send_to(&rtp(900, 160), local(in_port)).unwrap();
        let (mut back, _) = recv(&moved);
        assert!(
            client_rx.unprotect_rtp(&mut back).is_ok(),
            "{backend:?}: answers follow"
        );

        let s = worker.stats(o).unwrap();
        assert_eq!(s.received.packets, 41);
        assert_eq!(s.received.bytes, bytes_in + 172);
        assert_eq!(s.relatched, 1);
        assert_eq!(s.received.drops.total(), 1, "the forged packet");
        assert_eq!(worker.stats(i).unwrap().received.packets, 41);
        let io = worker.io_counters().unwrap();
        assert!(io.received >= 83 && io.sent >= 82, "{io:?}");

        // Silence: both legs are reported inactive.
        let mut inactive = Vec::new();
        let until = Instant::now() + WAIT;
        while inactive.len() < 2 && Instant::now() < until {
            if let Some(Event::Inactive { leg }) = worker.next_event(WAIT) {
                inactive.push(leg);
            }
        }
        inactive.sort_by_key(|l| format!("{l:?}"));
        assert!(
            inactive.contains(&o) && inactive.contains(&i),
            "{backend:?}: {inactive:?}"
        );

        // Release closes the ports: they can be bound again.
        worker.release(o).unwrap();
        assert!(
            UdpSocket::bind(local(out_port)).is_ok(),
            "{backend:?}: port closed"
        );
        assert!(UdpSocket::bind(local(in_port + 1)).is_ok());
    }
}

#[test]
fn multiplexed_traversal_and_keepalives() {
    for &backend in tests::backends() {
        let mux = free_pair();
        let worker = Worker::spawn(WorkerConfig {
            backend,
            relay: RelayConfig {
                mux_ports: vec![mux, mux + 1],
                ..RelayConfig::default()
            },
            ..WorkerConfig::default()
        })
        .unwrap();
        let c_host = peer();
        let clients: Vec<UdpSocket> = (0..3).map(|_| peer()).collect();
        let mut ports = Vec::new();
        for id in 0..3u32 {
            let p = free_pair();
            let client = LegConfig::plain(p, None);
            let mut traversal = LegConfig::plain(mux, Some(c_host.local_addr().unwrap()));
            traversal.rtcp_port = Some(mux + 1);
            traversal.mux_id = Some(100 + id);
            worker.allocate(client, traversal).unwrap();
            ports.push(p);
        }
        for (k, (client, &p)) in clients.iter().zip(&ports).enumerate() {
            let pkt = rtp(k as u16, 100);
            client.send_to(&pkt, local(p)).unwrap();
            let (framed, from) = recv(&c_host);
            assert_eq!(from, local(mux), "{backend:?}");
            assert_eq!(&framed[..4], &(100 + k as u32).to_be_bytes());
            assert_eq!(&framed[4..], &pkt[..]);
        }
        // Keepalives from C are swallowed; media for call 2 reaches call 2's client only.
        c_host.send_to(&101u32.to_be_bytes(), local(mux)).unwrap();
        let mut framed = 101u32.to_be_bytes().to_vec();
        framed.extend_from_slice(&rtp(7, 50));
        c_host.send_to(&framed, local(mux)).unwrap();
        let (got, from) = recv(&clients[1]);
        assert_eq!((got, from), (rtp(7, 50), local(ports[1])), "{backend:?}");
        clients[0]
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(
            clients[0].recv_from(&mut [0u8; 64]).is_err(),
            "nothing for call 1"
        );
    }
}

#[test]
fn junk_is_dropped_and_calls_go_on() {
    for &backend in tests::backends() {
        let worker = Worker::spawn(WorkerConfig {
            backend,
            ..WorkerConfig::default()
        })
        .unwrap();
        let (a_port, b_port) = (free_pair(), free_pair());
        let a = peer();
        let b = peer();
        // On loopback every peer shares one IP: pin the legs to exact addresses.
        let fixed = |port, to: &UdpSocket| {
            let mut l = LegConfig::plain(port, Some(to.local_addr().unwrap()));
            l.latch = LatchPolicy::Fixed;
            l
        };
        let (x, _) = worker
            .allocate(fixed(a_port, &a), fixed(b_port, &b))
            .unwrap();
        let attacker = peer();
        for n in [0usize, 1, 3, 11, 12, 200, 1400] {
            attacker.send_to(&vec![0x80; n], local(a_port)).unwrap();
            a.send_to(&vec![0xff; n], local(a_port)).unwrap();
        }
        a.send_to(&[0x80; 3000], local(a_port)).unwrap();
        a.send_to(&rtp(1, 160), local(a_port)).unwrap();
        let (got, _) = recv(&b);
        assert_eq!(got, rtp(1, 160), "{backend:?}: the call still works");
        let s = worker.stats(x).unwrap();
        assert_eq!(s.received.packets, 1);
        // 7 junk datagrams from the attacker, 7 from the phone, and the oversized one, cut off
        // by the kernel and counted as too long.
        assert_eq!(
            s.received.drops.total(),
            15,
            "{backend:?}: {:?}",
            s.received.drops
        );
        assert_eq!(s.received.drops.get(DropReason::TooLong), 1, "{backend:?}");
    }
}
