//! The XDP program attached (native mode) to the edge's veth in a network namespace, in front
//! of a media plane with two workers pinned to CPUs 0 and 1, on each backend: datagrams for a
//! flow reach the CPU of the worker that owns it (proved with `SO_INCOMING_CPU`), calls relay
//! through the CPUMAP, unallocated and quarantined ports and banned sources die at the driver
//! (the XDP counters rise, the kernel's UDP counters do not), and the relay keeps working when
//! the program is detached at run time.
//!
//! Topology: namespace `gen` (clients, phones, 198.18.50.2 on `g0`) and namespace `edge` (the
//! plane and the program, 198.18.50.1 on `e0`). The sending veth has checksum offload off:
//! redirected frames are rebuilt as new packets on the target CPU, and veth would otherwise hand
//! them over with checksums still to be filled in.
//!
//! Needs root (namespaces, BPF): without it each test says so loudly and returns.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ebpf::{AttachMode, PortState, Reason, XdpConfig, XdpPortTable, XdpSteering};
use media::relay::engine::{LatchPolicy, LegConfig};
use media::relay::port_alloc::PortRange;
use media::runtime::{
    incoming_cpu, pin_to_core, BackendChoice, CallLegs, LegPorts, LegRequest, MediaPlane,
    PlaneConfig,
};
use tests::netns::{Lab, Netns};

/// Generous: CI has two cores.
const WAIT: Duration = Duration::from_secs(5);
const EDGE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 50, 1);
const GEN_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 50, 2);
const RANGE: (u16, u16) = (41000, 41099);
/// A port of the range the plane never hands out in these tests (the probe's).
const PROBE_PORT: u16 = 41098;

struct Setup {
    _lab: Lab,
    gen: Netns,
    edge: Netns,
    plane: MediaPlane,
    table: Arc<XdpPortTable>,
}

/// The namespaces, the plane (two workers on CPUs 0 and 1), the program attached to `e0` and
/// following the plane's ports. `None` when this process may not do it (said loudly).
fn setup(backend: BackendChoice) -> Option<Setup> {
    if let Some(why) = ebpf::unavailable_reason() {
        eprintln!("SKIPPED xdp_netns: {why}");
        return None;
    }
    let mut lab = Lab::new();
    let gen = lab.namespace_or_skip("gen").unwrap()?;
    let edge = lab.namespace("edge").unwrap();
    lab.veth(&gen, "g0", &edge, "e0").unwrap();
    lab.address(&gen, "g0", &format!("{GEN_IP}/24")).unwrap();
    lab.address(&edge, "e0", &format!("{EDGE_IP}/24")).unwrap();
    gen.exec("ethtool", &["-K", "g0", "tx", "off"]).unwrap();
    let mut cfg = PlaneConfig {
        bind_ip: IpAddr::V4(EDGE_IP),
        cores: vec![Some(0), Some(1)],
        backend,
        ..PlaneConfig::default()
    };
    cfg.ports.range = PortRange::new(RANGE.0, RANGE.1).unwrap();
    cfg.ports.quarantine = Duration::from_secs(60);
    let plane = edge.run(|| MediaPlane::spawn(cfg)).unwrap().unwrap();
    let xdp = edge
        .run(|| {
            let mut x = XdpSteering::load(&XdpConfig {
                media_range: RANGE,
                cpus: vec![0, 1],
                ..XdpConfig::default()
            })?;
            x.attach("e0", AttachMode::Native)?;
            Ok::<_, ebpf::XdpError>(x)
        })
        .unwrap()
        .unwrap();
    let table = Arc::new(XdpPortTable::new(xdp));
    plane.set_port_observer(table.clone());
    Some(Setup {
        _lab: lab,
        gen,
        edge,
        plane,
        table,
    })
}

fn bind(ns: &Netns, addr: SocketAddr) -> UdpSocket {
    let s = ns.run(|| UdpSocket::bind(addr)).unwrap().unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn gen_socket(s: &Setup) -> UdpSocket {
    bind(&s.gen, SocketAddr::new(IpAddr::V4(GEN_IP), 0))
}

fn edge_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(EDGE_IP), port)
}

/// A passthrough call whose outside leg sends to `client` and inside leg to `phone`.
fn call(plane: &MediaPlane, client: &UdpSocket, phone: &UdpSocket) -> CallLegs {
    let leg = |to: &UdpSocket| {
        let mut l = LegConfig::plain(0, Some(to.local_addr().unwrap()));
        l.latch = LatchPolicy::Fixed;
        LegRequest {
            ports: LegPorts::Allocate { rtcp_mux: true },
            leg: l,
        }
    };
    plane.allocate(leg(client), leg(phone)).unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x7777_0001u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0x55, 160));
    p
}

/// Client → relay → phone, one packet; the phone must get it.
fn relayed(client: &UdpSocket, phone: &UdpSocket, port: u16, seq: u16) {
    client.send_to(&rtp(seq), edge_addr(port)).unwrap();
    let mut b = [0u8; 2048];
    let (n, _) = phone.recv_from(&mut b).expect("relayed in time");
    assert_eq!(&b[..n], &rtp(seq)[..]);
}

/// Nothing arrives on `s` for a while (each use is followed by a check that would fail had it
/// gone where it must not).
fn nothing(s: &UdpSocket) {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(s.recv_from(&mut [0u8; 2048]).is_err(), "nothing expected");
    s.set_read_timeout(Some(WAIT)).unwrap();
}

fn count(t: &XdpPortTable, r: Reason) -> u64 {
    t.steering().counters().unwrap().total(r).packets
}

/// Waits until the counter of `r` reaches `want` (counters are read from per-CPU maps after the
/// frame went through; generous).
fn count_reaches(t: &XdpPortTable, r: Reason, want: u64) {
    let until = Instant::now() + WAIT;
    while count(t, r) < want && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count(t, r), want, "{}", r.label());
}

/// Sends one datagram to the probe from a thread pinned to `from_cpu`; returns the CPU the
/// probe's receive path ran on.
fn probe(s: &Setup, probe: &UdpSocket, sender: SocketAddr, from_cpu: usize) -> u32 {
    let gen = s.gen.clone();
    std::thread::spawn(move || {
        let _in = gen.enter().unwrap();
        pin_to_core(from_cpu).unwrap();
        let tx = UdpSocket::bind(sender).unwrap();
        tx.send_to(&rtp(1), edge_addr(PROBE_PORT)).unwrap();
    })
    .join()
    .unwrap();
    let mut b = [0u8; 2048];
    probe.recv_from(&mut b).expect("the probe's datagram");
    incoming_cpu(probe).unwrap()
}

#[test]
fn each_flow_reaches_its_workers_cpu_and_the_rest_dies_at_the_driver() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("SKIPPED xdp_netns: steering between CPUs needs two of them");
        return;
    }
    for &backend in tests::backends() {
        let Some(s) = setup(backend) else { return };
        let t = &s.table;

        // Steering, proved at a socket: a connected probe on a range port marked for CPU 1
        // gets a datagram sent from CPU 0 processed on CPU 1, and the other way round; with
        // steering off, on the sender's CPU (where veth runs the receive path).
        let sender = SocketAddr::new(IpAddr::V4(GEN_IP), 45000);
        let probe_sock = bind(&s.edge, edge_addr(PROBE_PORT));
        probe_sock.connect(sender).unwrap();
        t.steering()
            .set_port(PROBE_PORT, PortState::Allocated { cpu: 1 })
            .unwrap();
        assert_eq!(
            probe(&s, &probe_sock, sender, 0),
            1,
            "{backend:?}: steered to CPU 1"
        );
        t.steering()
            .set_port(PROBE_PORT, PortState::Allocated { cpu: 0 })
            .unwrap();
        assert_eq!(
            probe(&s, &probe_sock, sender, 1),
            0,
            "{backend:?}: steered to CPU 0"
        );
        t.steering().set_steering(false).unwrap();
        assert_eq!(
            probe(&s, &probe_sock, sender, 1),
            1,
            "{backend:?}: not steered: where it was received"
        );
        t.steering().set_steering(true).unwrap();
        t.steering().set_port(PROBE_PORT, PortState::Free).unwrap();

        // Two calls, one per worker: each relays through the program.
        let (c1, p1, c2, p2) = (
            gen_socket(&s),
            gen_socket(&s),
            gen_socket(&s),
            gen_socket(&s),
        );
        let one = call(&s.plane, &c1, &p1);
        let two = call(&s.plane, &c2, &p2);
        assert_ne!(one.worker, two.worker, "spread over the workers");
        let media0 = count(t, Reason::RedirectMedia);
        for seq in 0..10 {
            relayed(&c1, &p1, one.legs[0].rtp_port, seq);
            relayed(&c2, &p2, two.legs[0].rtp_port, seq);
            relayed(&p1, &c1, one.legs[1].rtp_port, seq);
        }
        count_reaches(t, Reason::RedirectMedia, media0 + 30);

        // An unallocated port of the range: dropped at the driver, never seen by the kernel's
        // UDP layer (no NoPorts).
        let udp0 = s.edge.udp_counters().unwrap();
        let unalloc0 = count(t, Reason::UnallocatedPort);
        c1.send_to(&rtp(1), edge_addr(41050)).unwrap();
        count_reaches(t, Reason::UnallocatedPort, unalloc0 + 1);
        assert_eq!(
            s.edge.udp_counters().unwrap().no_ports,
            udp0.no_ports,
            "{backend:?}"
        );

        // A released call's ports are quarantined: dropped at the driver too.
        let q0 = count(t, Reason::QuarantinedPort);
        s.plane.release(two.legs[0].leg).unwrap();
        c2.send_to(&rtp(11), edge_addr(two.legs[0].rtp_port))
            .unwrap();
        count_reaches(t, Reason::QuarantinedPort, q0 + 1);
        assert_eq!(
            s.edge.udp_counters().unwrap().no_ports,
            udp0.no_ports,
            "{backend:?}"
        );

        // A banned source: its datagrams die, the relay sees none; unbanned, the call goes on.
        let before = s.plane.stats(one.legs[0].leg).unwrap().received.packets;
        let b0 = count(t, Reason::Banned);
        t.steering()
            .ban(IpAddr::V4(GEN_IP), Duration::from_secs(60))
            .unwrap();
        c1.send_to(&rtp(20), edge_addr(one.legs[0].rtp_port))
            .unwrap();
        count_reaches(t, Reason::Banned, b0 + 1);
        nothing(&p1);
        assert_eq!(
            s.plane.stats(one.legs[0].leg).unwrap().received.packets,
            before,
            "{backend:?}: the relay saw nothing of it"
        );
        t.steering().unban(IpAddr::V4(GEN_IP)).unwrap();
        relayed(&c1, &p1, one.legs[0].rtp_port, 21);

        // Detached at run time: the relay keeps working, through the kernel's own path.
        s.edge.run(|| t.steering().detach("e0")).unwrap().unwrap();
        let media1 = count(t, Reason::RedirectMedia);
        for seq in 22..27 {
            relayed(&c1, &p1, one.legs[0].rtp_port, seq);
            relayed(&p1, &c1, one.legs[1].rtp_port, seq);
        }
        assert_eq!(
            count(t, Reason::RedirectMedia),
            media1,
            "{backend:?}: no program, no counts"
        );
        assert_eq!(t.write_errors(), 0, "{backend:?}");
    }
}
