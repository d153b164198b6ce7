//! The XDP program against a table of frames, through `BPF_PROG_TEST_RUN` (the shape of
//! katran's `lib/testing/fixtures`): each row is a frame built here, the XDP action expected,
//! and the reason whose counter must go up by exactly one (one packet, the frame's bytes) while
//! every other counter stays still.
//!
//! Every row runs on a freshly loaded program set up the same way ([`standard`]), plus the
//! row's own configuration and preparation, so rows cannot leak state into each other.
//!
//! Loading BPF needs root (`CAP_BPF`); without it these tests say so loudly and return.

#![expect(
    clippy::unwrap_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ebpf::{PortState, Reason, TestVerdict, Verdict, XdpConfig, XdpError, XdpSteering};

// ---- The packet builder ----------------------------------------------------------------------

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86DD;
const ETH_ARP: u16 = 0x0806;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88A8;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const NH_HOP: u8 = 0;
const NH_ROUTING: u8 = 43;
const NH_FRAGMENT: u8 = 44;
const NH_AH: u8 = 51;
const NH_NONE: u8 = 59;
const NH_DEST: u8 = 60;

/// An Ethernet frame: MACs, then `tags` (each a TPID and a VLAN id), then `ethertype`, `body`.
fn ether(tags: &[u16], ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    for (i, tpid) in tags.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes()); // PCP 0, VLAN 100, 101, …
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 header and payload (RFC 791) with correct lengths and checksum unless overridden.
#[derive(Clone)]
struct Ipv4 {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    /// Options (padded to 4 bytes by the caller).
    options: Vec<u8>,
    /// Flags and fragment offset (host order).
    frag: u16,
    /// Overrides: IHL, total length, version.
    ihl: Option<u8>,
    tot_len: Option<u16>,
    version: u8,
}

impl Ipv4 {
    fn new(src: Ipv4Addr, proto: u8) -> Ipv4 {
        Ipv4 {
            src,
            dst: Ipv4Addr::new(192, 0, 2, 1),
            proto,
            options: vec![],
            frag: 0,
            ihl: None,
            tot_len: None,
            version: 4,
        }
    }

    fn build(&self, payload: &[u8]) -> Vec<u8> {
        let hlen = 20 + self.options.len();
        let ihl = self.ihl.unwrap_or((hlen / 4) as u8);
        let tot = self.tot_len.unwrap_or((hlen + payload.len()) as u16);
        let mut h = vec![(self.version << 4) | (ihl & 0xf), 0];
        h.extend_from_slice(&tot.to_be_bytes());
        h.extend_from_slice(&[0x12, 0x34]); // id
        h.extend_from_slice(&self.frag.to_be_bytes());
        h.extend_from_slice(&[64, self.proto, 0, 0]);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        h.extend_from_slice(&self.options);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

/// An IPv6 header (RFC 8200) with extension headers and payload.
#[derive(Clone)]
struct Ipv6 {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// Extension headers in order: (type, whole header bytes; byte 0 is filled with the next).
    ext: Vec<(u8, Vec<u8>)>,
    /// The transport protocol after them.
    next: u8,
    payload_len: Option<u16>,
    version: u8,
}

impl Ipv6 {
    fn new(src: Ipv6Addr, next: u8) -> Ipv6 {
        Ipv6 {
            src,
            dst: "2001:db8:2::1".parse().unwrap(),
            ext: vec![],
            next,
            payload_len: None,
            version: 6,
        }
    }

    /// Adds an extension header: options-style (hop-by-hop, routing, destination) of
    /// `8 * units` bytes, or a fragment header (8 bytes: first fragment, more to come).
    fn ext(mut self, kind: u8, units: u8) -> Ipv6 {
        let units = if kind == NH_FRAGMENT { 1 } else { units.max(1) };
        let len = 8 * usize::from(units);
        let mut h = vec![0u8; len];
        match kind {
            NH_FRAGMENT => h[2..8].copy_from_slice(&[0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]),
            NH_ROUTING => {
                h[1] = units - 1;
                h[2] = 4; // segment routing header, segments left 0
            }
            _ => {
                h[1] = units - 1; // hdr ext len: 8-octet units beyond the first
                h[2] = 1; // PadN (RFC 8200 §4.2) over the rest
                h[3] = (len - 4) as u8;
            }
        }
        self.ext.push((kind, h));
        self
    }

    fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for (i, (_, h)) in self.ext.iter().enumerate() {
            let mut h = h.clone();
            h[0] = self.ext.get(i + 1).map(|(k, _)| *k).unwrap_or(self.next);
            body.extend_from_slice(&h);
        }
        body.extend_from_slice(payload);
        let first = self.ext.first().map(|(k, _)| *k).unwrap_or(self.next);
        let plen = self.payload_len.unwrap_or(body.len() as u16);
        let mut h = vec![self.version << 4, 0, 0, 0];
        h.extend_from_slice(&plen.to_be_bytes());
        h.extend_from_slice(&[first, 64]);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        h.extend_from_slice(&body);
        h
    }
}

/// A UDP header and payload (RFC 768), checksum 0 (the program does not read it).
fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_len(dport, payload, (8 + payload.len()) as u16)
}

/// A UDP datagram whose length field says `len`.
fn udp_len(dport: u16, payload: &[u8], len: u16) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&50_000u16.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An RTP packet (RFC 3550 §5.1) of `len` bytes: version 2, PT 0.
fn rtp(len: usize) -> Vec<u8> {
    let mut p = vec![
        0x80, 0x00, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xca, 0xfe, 0xba, 0xbe,
    ];
    p.resize(len, 0xd5);
    p.truncate(len);
    p
}

/// An RTCP receiver report (RFC 3550 §6.4.2) header of `len` bytes.
fn rtcp(len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe];
    p.resize(len, 0);
    p.truncate(len);
    p
}

/// A STUN Binding request (RFC 5389 §6), header only: 20 bytes.
fn stun() -> Vec<u8> {
    let mut p = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    p.extend_from_slice(&[7; 12]);
    p
}

/// A datagram with the version bits of byte 0 set to `v` (else RTP-sized).
fn version(v: u8) -> Vec<u8> {
    let mut p = rtp(40);
    p[0] = (v << 6) | (p[0] & 0x3f);
    p[4..8].copy_from_slice(&[0, 0, 0, 0]); // no STUN cookie by accident
    p
}

/// A multiplexed datagram: the 4-byte id then `inner`.
fn mux(id: u32, inner: &[u8]) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(inner);
    p
}

/// A whole IPv4/UDP frame from `src` to `dport`.
fn udp4(src: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    ether(
        &[],
        ETH_IPV4,
        &Ipv4::new(src, PROTO_UDP).build(&udp(dport, payload)),
    )
}

/// A whole IPv6/UDP frame from `src` to `dport`.
fn udp6(src: Ipv6Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    ether(
        &[],
        ETH_IPV6,
        &Ipv6::new(src, PROTO_UDP).build(&udp(dport, payload)),
    )
}

/// An ARP request (RFC 826) for 192.0.2.1.
fn arp() -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 203, 0, 113, 10];
    a.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 0, 2, 1]);
    ether(&[], ETH_ARP, &a)
}

// ---- The standard setup ----------------------------------------------------------------------

const SRC4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const SRC4_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 11);
const BANNED4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);
const EXPIRED4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 77);
const MAPPED_BANNED4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 88);

fn src6() -> Ipv6Addr {
    "2001:db8:1::10".parse().unwrap()
}
fn banned6() -> Ipv6Addr {
    "2001:db8:bad::1".parse().unwrap()
}

/// Allocated RTP and RTCP ports of a flow (in the media range 36002–59999).
const MEDIA_RTP: u16 = 40_000;
const MEDIA_RTCP: u16 = 40_001;
/// A quarantined port of the range.
const QUARANTINED: u16 = 40_002;
/// A free port of the range.
const FREE: u16 = 40_004;
/// The traversal pair (outside the range, as the media plane's default).
const TRAV_RTP: u16 = 36_000;
const TRAV_RTCP: u16 = 36_001;
/// A traversal port placed inside the range.
const TRAV_IN_RANGE: u16 = 40_010;
/// An allocated port outside the range.
const ALLOC_OUTSIDE: u16 = 30_000;
/// A port whose CPU has no CPUMAP entry (set by that row).
const NO_CPU: u16 = 40_020;

/// The configuration every row starts from: the media plane's defaults, CPU 0 in the CPUMAP.
fn standard_config() -> XdpConfig {
    XdpConfig {
        cpus: vec![0],
        ..XdpConfig::default()
    }
}

/// The maps every row starts from.
fn standard(xdp: &mut XdpSteering) -> Result<(), XdpError> {
    xdp.set_port(MEDIA_RTP, PortState::Allocated { cpu: 0 })?;
    xdp.set_port(MEDIA_RTCP, PortState::Allocated { cpu: 0 })?;
    xdp.set_port(QUARANTINED, PortState::Quarantined)?;
    xdp.set_port(TRAV_RTP, PortState::Traversal { cpu: 0 })?;
    xdp.set_port(TRAV_RTCP, PortState::Traversal { cpu: 0 })?;
    xdp.set_port(TRAV_IN_RANGE, PortState::Traversal { cpu: 0 })?;
    xdp.set_port(ALLOC_OUTSIDE, PortState::Allocated { cpu: 0 })?;
    let hour = Duration::from_secs(3600);
    xdp.ban(IpAddr::V4(BANNED4), hour)?;
    xdp.ban(IpAddr::V6(banned6()), hour)?;
    xdp.ban(IpAddr::V4(EXPIRED4), Duration::ZERO)?;
    xdp.ban(IpAddr::V6(MAPPED_BANNED4.to_ipv6_mapped()), hour)?;
    Ok(())
}

/// Loads the program with `cfg`; `None` (said loudly) when this process cannot load BPF.
fn load_or_skip(cfg: &XdpConfig) -> Option<XdpSteering> {
    match XdpSteering::load(cfg) {
        Ok(x) => Some(x),
        Err(e) if e.is_unavailable() => {
            eprintln!(
                "\n*** SKIPPED: cannot load the XDP program here: {e}\n*** (run the ebpf tests \
                 as root on a kernel with BPF to check the program)\n"
            );
            None
        }
        Err(e) => panic!("loading the XDP program: {e}"),
    }
}

// ---- The table -------------------------------------------------------------------------------

/// One row: a frame, what must happen to it, and what may be set up first.
struct Fixture {
    name: &'static str,
    frame: Vec<u8>,
    action: TestVerdict,
    reason: Reason,
    config: Option<fn(&mut XdpConfig)>,
    prepare: Option<fn(&mut XdpSteering)>,
}

fn row(name: &'static str, frame: Vec<u8>, action: TestVerdict, reason: Reason) -> Fixture {
    Fixture {
        name,
        frame,
        action,
        reason,
        config: None,
        prepare: None,
    }
}

impl Fixture {
    fn config(mut self, f: fn(&mut XdpConfig)) -> Fixture {
        self.config = Some(f);
        self
    }
    fn prepare(mut self, f: fn(&mut XdpSteering)) -> Fixture {
        self.prepare = Some(f);
        self
    }
}

/// Runs `frame` and insists on `want` (for preparations).
fn send(xdp: &XdpSteering, frame: &[u8], want: TestVerdict) {
    assert_eq!(xdp.test_run(frame).unwrap(), want, "preparation frame");
}

fn rate_1_per_s_burst_3(xdp: &mut XdpSteering) {
    xdp.set_rate(1, 3).unwrap();
}

fn fixtures() -> Vec<Fixture> {
    use Reason::*;
    use TestVerdict::{Drop as D, Pass as P, Redirect as R};
    let rtp_frame = udp4(SRC4, MEDIA_RTP, &rtp(172));
    let mux_frame = udp4(SRC4, TRAV_RTP, &mux(7, &rtp(172)));

    // IPv4 with options: 8 bytes of NOP NOP NOP NOP, then a router alert (RFC 2113).
    let opts = Ipv4 {
        options: vec![1, 1, 1, 1, 148, 4, 0, 0],
        ..Ipv4::new(SRC4, PROTO_UDP)
    };
    // IHL 15: 40 bytes of options (NOPs then end of list).
    let mut opts40 = Ipv4::new(SRC4, PROTO_UDP);
    opts40.options = vec![1; 39];
    opts40.options.push(0);

    let v6 = |h: Ipv6| ether(&[], ETH_IPV6, &h.build(&udp(MEDIA_RTP, &rtp(172))));
    let mut truncated_v4 = Ipv4::new(SRC4, PROTO_UDP).build(&udp(MEDIA_RTP, &rtp(172)));
    truncated_v4.truncate(10);
    let mut truncated_v6 = Ipv6::new(src6(), PROTO_UDP).build(&udp(MEDIA_RTP, &rtp(172)));
    truncated_v6.truncate(30);

    vec![
        // Steered: allocated ports (RTP, RTCP, STUN), IPv4 and IPv6.
        row(
            "rtp v4 to allocated port",
            rtp_frame.clone(),
            R,
            RedirectMedia,
        ),
        row(
            "rtp of 12 bytes (fixed header only)",
            udp4(SRC4, MEDIA_RTP, &rtp(12)),
            R,
            RedirectMedia,
        ),
        row(
            "rtcp v4 to allocated rtcp port",
            udp4(SRC4, MEDIA_RTCP, &rtcp(32)),
            R,
            RedirectMedia,
        ),
        row(
            "rtcp of 8 bytes",
            udp4(SRC4, MEDIA_RTCP, &rtcp(8)),
            R,
            RedirectMedia,
        ),
        row(
            "rtcp muxed on the rtp port",
            udp4(SRC4, MEDIA_RTP, &rtcp(8)),
            R,
            RedirectMedia,
        ),
        row(
            "stun binding request to allocated port",
            udp4(SRC4, MEDIA_RTP, &stun()),
            R,
            RedirectMedia,
        ),
        row(
            "rtp v6 to allocated port",
            udp6(src6(), MEDIA_RTP, &rtp(172)),
            R,
            RedirectMedia,
        ),
        row(
            "allocated port outside the range",
            udp4(SRC4, ALLOC_OUTSIDE, &rtp(172)),
            R,
            RedirectMedia,
        ),
        // Steered: traversal ports.
        row(
            "mux rtp on traversal port",
            mux_frame.clone(),
            R,
            RedirectTraversal,
        ),
        row(
            "mux rtcp on traversal rtcp port",
            udp4(SRC4, TRAV_RTCP, &mux(7, &rtcp(12))),
            R,
            RedirectTraversal,
        ),
        row(
            "mux rtp v6 on traversal port",
            udp6(src6(), TRAV_RTP, &mux(9, &rtp(100))),
            R,
            RedirectTraversal,
        ),
        row(
            "mux keepalive (4-byte id)",
            udp4(SRC4, TRAV_RTP, &mux(7, &[])),
            R,
            RedirectTraversal,
        ),
        row(
            "mux keepalive (empty)",
            udp4(SRC4, TRAV_RTP, &[]),
            R,
            RedirectTraversal,
        ),
        row(
            "mux keepalive (15 bytes of anything)",
            udp4(SRC4, TRAV_RTP, &[0xff; 15]),
            R,
            RedirectTraversal,
        ),
        row(
            "mux of 16 bytes (id + 12-byte rtp)",
            udp4(SRC4, TRAV_RTP, &mux(7, &rtp(12))),
            R,
            RedirectTraversal,
        ),
        row(
            "traversal port inside the range",
            udp4(SRC4, TRAV_IN_RANGE, &mux(7, &rtp(50))),
            R,
            RedirectTraversal,
        ),
        // Steering off, and a CPU without a CPUMAP entry.
        row(
            "steering off: rtp to allocated port",
            rtp_frame.clone(),
            P,
            SteeringOff,
        )
        .prepare(|x| x.set_steering(false).unwrap()),
        row(
            "steering off: mux on traversal port",
            mux_frame.clone(),
            P,
            SteeringOff,
        )
        .prepare(|x| x.set_steering(false).unwrap()),
        row(
            "steering off: garbage still dropped",
            udp4(SRC4, MEDIA_RTP, &version(0)),
            D,
            NotRtp,
        )
        .prepare(|x| x.set_steering(false).unwrap()),
        row(
            "owner cpu without cpumap entry",
            udp4(SRC4, NO_CPU, &rtp(172)),
            P,
            NoCpuEntry,
        )
        .config(|c| c.cpus.clear())
        .prepare(|x| x.set_port(NO_CPU, PortState::Allocated { cpu: 0 }).unwrap()),
        // Ports of the range that are no flow's.
        row(
            "unallocated port in the range",
            udp4(SRC4, FREE, &rtp(172)),
            D,
            UnallocatedPort,
        ),
        row(
            "first port of the range, free",
            udp4(SRC4, 36_002, &rtp(172)),
            D,
            UnallocatedPort,
        ),
        row(
            "last port of the range, free",
            udp4(SRC4, 59_999, &rtp(172)),
            D,
            UnallocatedPort,
        ),
        row(
            "unallocated port, v6",
            udp6(src6(), FREE, &rtp(172)),
            D,
            UnallocatedPort,
        ),
        row(
            "quarantined port",
            udp4(SRC4, QUARANTINED, &rtp(172)),
            D,
            QuarantinedPort,
        ),
        row(
            "port released to free again",
            udp4(SRC4, MEDIA_RTP, &rtp(172)),
            D,
            UnallocatedPort,
        )
        .prepare(|x| x.set_port(MEDIA_RTP, PortState::Free).unwrap()),
        // Outside the range: not ours.
        row(
            "udp below the range",
            udp4(SRC4, 35_999, &rtp(172)),
            P,
            NotMediaPort,
        ),
        row(
            "udp above the range",
            udp4(SRC4, 60_000, &rtp(172)),
            P,
            NotMediaPort,
        ),
        row(
            "dns",
            udp4(SRC4, 53, &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            P,
            NotMediaPort,
        ),
        row(
            "quarantined outside the range",
            udp4(SRC4, 5_000, &rtp(172)),
            P,
            NotMediaPort,
        )
        .prepare(|x| x.set_port(5_000, PortState::Quarantined).unwrap()),
        // Payloads that are not media on an allocated port.
        row(
            "version 0, no stun cookie",
            udp4(SRC4, MEDIA_RTP, &version(0)),
            D,
            NotRtp,
        ),
        row("version 1", udp4(SRC4, MEDIA_RTP, &version(1)), D, NotRtp),
        row("version 3", udp4(SRC4, MEDIA_RTP, &version(3)), D, NotRtp),
        row(
            "rtp of 11 bytes",
            udp4(SRC4, MEDIA_RTP, &rtp(11)),
            D,
            NotRtp,
        ),
        row(
            "rtcp of 7 bytes",
            udp4(SRC4, MEDIA_RTCP, &rtcp(7)),
            D,
            NotRtp,
        ),
        row(
            "empty datagram to allocated port",
            udp4(SRC4, MEDIA_RTP, &[]),
            D,
            NotRtp,
        ),
        row(
            "stun with a wrong cookie",
            udp4(SRC4, MEDIA_RTP, &{
                let mut s = stun();
                s[7] = 0x43;
                s
            }),
            D,
            NotRtp,
        ),
        row(
            "stun of 19 bytes",
            udp4(SRC4, MEDIA_RTP, &stun()[..19]),
            D,
            NotRtp,
        ),
        row(
            "garbage (dtls-like first byte)",
            udp4(SRC4, MEDIA_RTP, &[0x16; 60]),
            D,
            NotRtp,
        ),
        row(
            "garbage v6",
            udp6(src6(), MEDIA_RTP, &[0x55; 60]),
            D,
            NotRtp,
        ),
        // Traversal ports: framing.
        row(
            "mux with a version-0 packet",
            udp4(SRC4, TRAV_RTP, &mux(7, &version(0))),
            D,
            BadMux,
        ),
        row(
            "mux with a version-3 packet",
            udp4(SRC4, TRAV_RTP, &mux(7, &version(3))),
            D,
            BadMux,
        ),
        row(
            "unframed rtp on traversal port",
            udp4(SRC4, TRAV_RTP, &{
                let mut r = rtp(172);
                r[4] = 0; // the timestamp's first byte where the framed packet's byte 0 would be
                r
            }),
            D,
            BadMux,
        ),
        row(
            "unframed stun on traversal port",
            udp4(SRC4, TRAV_RTP, &stun()),
            D,
            BadMux,
        ),
        // Bans: every port and protocol.
        row(
            "banned v4 to allocated port",
            udp4(BANNED4, MEDIA_RTP, &rtp(172)),
            D,
            Banned,
        ),
        row(
            "banned v4 to a non-media port",
            udp4(BANNED4, 53, &[0; 12]),
            D,
            Banned,
        ),
        row(
            "banned v4, tcp",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4::new(BANNED4, PROTO_TCP).build(&[0; 20]),
            ),
            D,
            Banned,
        ),
        row(
            "banned v4 fragment",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    frag: 0x2000,
                    ..Ipv4::new(BANNED4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            Banned,
        ),
        row(
            "banned v6 to allocated port",
            udp6(banned6(), MEDIA_RTP, &rtp(172)),
            D,
            Banned,
        ),
        row(
            "banned v6 to a non-media port",
            udp6(banned6(), 443, &[0; 12]),
            D,
            Banned,
        ),
        row(
            "banned as ipv4-mapped ipv6",
            udp4(MAPPED_BANNED4, MEDIA_RTP, &rtp(172)),
            D,
            Banned,
        ),
        row(
            "expired ban not applied",
            udp4(EXPIRED4, MEDIA_RTP, &rtp(172)),
            R,
            RedirectMedia,
        ),
        row(
            "unbanned source",
            udp4(BANNED4, MEDIA_RTP, &rtp(172)),
            R,
            RedirectMedia,
        )
        .prepare(|x| x.unban(IpAddr::V4(BANNED4)).unwrap()),
        // Rate: 1 packet/s, bursts of 3, per source, allocated ports of the range only.
        row(
            "rate: third packet of the burst",
            rtp_frame.clone(),
            R,
            RedirectMedia,
        )
        .prepare(|x| {
            rate_1_per_s_burst_3(x);
            let f = udp4(SRC4, MEDIA_RTP, &rtp(172));
            send(x, &f, TestVerdict::Redirect);
            send(x, &f, TestVerdict::Redirect);
        }),
        row(
            "rate: fourth packet, over the burst",
            rtp_frame.clone(),
            D,
            RateLimited,
        )
        .prepare(|x| {
            rate_1_per_s_burst_3(x);
            let f = udp4(SRC4, MEDIA_RTP, &rtp(172));
            for _ in 0..3 {
                send(x, &f, TestVerdict::Redirect);
            }
        }),
        row(
            "rate: v6 source over the burst",
            udp6(src6(), MEDIA_RTP, &rtp(172)),
            D,
            RateLimited,
        )
        .prepare(|x| {
            rate_1_per_s_burst_3(x);
            let f = udp6(src6(), MEDIA_RTP, &rtp(172));
            for _ in 0..3 {
                send(x, &f, TestVerdict::Redirect);
            }
        }),
        row(
            "rate: another source keeps its own bucket",
            udp4(SRC4_B, MEDIA_RTP, &rtp(172)),
            R,
            RedirectMedia,
        )
        .prepare(|x| {
            rate_1_per_s_burst_3(x);
            let f = udp4(SRC4, MEDIA_RTP, &rtp(172));
            for _ in 0..3 {
                send(x, &f, TestVerdict::Redirect);
            }
            send(x, &f, TestVerdict::Drop);
        }),
        row(
            "rate: traversal ports are not limited",
            udp4(SRC4, TRAV_IN_RANGE, &mux(7, &rtp(50))),
            R,
            RedirectTraversal,
        )
        .prepare(|x| {
            x.set_rate(1, 1).unwrap();
            let f = udp4(SRC4, TRAV_IN_RANGE, &mux(7, &rtp(50)));
            for _ in 0..3 {
                send(x, &f, TestVerdict::Redirect);
            }
        }),
        row(
            "rate: allocated port outside the range not limited",
            udp4(SRC4, ALLOC_OUTSIDE, &rtp(172)),
            R,
            RedirectMedia,
        )
        .prepare(|x| {
            x.set_rate(1, 1).unwrap();
            let f = udp4(SRC4, ALLOC_OUTSIDE, &rtp(172));
            for _ in 0..3 {
                send(x, &f, TestVerdict::Redirect);
            }
        }),
        row(
            "rate: garbage spends no tokens",
            rtp_frame.clone(),
            R,
            RedirectMedia,
        )
        .prepare(|x| {
            x.set_rate(1, 1).unwrap();
            for _ in 0..3 {
                send(x, &udp4(SRC4, MEDIA_RTP, &version(0)), TestVerdict::Drop);
            }
        }),
        row(
            "rate: a raised limit applies at once",
            rtp_frame.clone(),
            R,
            RedirectMedia,
        )
        .prepare(|x| {
            rate_1_per_s_burst_3(x);
            let f = udp4(SRC4, MEDIA_RTP, &rtp(172));
            for _ in 0..3 {
                send(x, &f, TestVerdict::Redirect);
            }
            send(x, &f, TestVerdict::Drop);
            x.set_rate(100_000, 3).unwrap();
        }),
        row("rate: limit lifted", rtp_frame.clone(), R, RedirectMedia).prepare(|x| {
            x.set_rate(1, 1).unwrap();
            send(x, &udp4(SRC4, MEDIA_RTP, &rtp(172)), TestVerdict::Redirect);
            x.set_rate(0, 0).unwrap();
        }),
        // Not UDP, not IP.
        row(
            "tcp v4",
            ether(&[], ETH_IPV4, &Ipv4::new(SRC4, PROTO_TCP).build(&[0; 20])),
            P,
            NotUdp,
        ),
        row(
            "icmp v4 echo",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_ICMP).build(&[8, 0, 0, 0, 0, 1, 0, 1]),
            ),
            P,
            NotUdp,
        ),
        row(
            "icmpv6 echo",
            ether(
                &[],
                ETH_IPV6,
                &Ipv6::new(src6(), PROTO_ICMPV6).build(&[128, 0, 0, 0, 0, 1, 0, 1]),
            ),
            P,
            NotUdp,
        ),
        row(
            "tcp v6",
            ether(&[], ETH_IPV6, &Ipv6::new(src6(), PROTO_TCP).build(&[0; 20])),
            P,
            NotUdp,
        ),
        row(
            "ipv6 ah (not walked)",
            ether(&[], ETH_IPV6, &Ipv6::new(src6(), NH_AH).build(&[0; 24])),
            P,
            NotUdp,
        ),
        row(
            "ipv6 no next header",
            ether(&[], ETH_IPV6, &Ipv6::new(src6(), NH_NONE).build(&[])),
            P,
            NotUdp,
        ),
        row("arp", arp(), P, NotIp),
        row(
            "802.3 length field (llc)",
            ether(&[], 0x0026, &[0x42; 38]),
            P,
            NotIp,
        ),
        // Malformed Ethernet and VLAN.
        row(
            "vlan ethertype with no tag (14 bytes)",
            ether(&[], TPID_8021Q, &[]),
            D,
            MalformedL2,
        ),
        row(
            "vlan tag cut off",
            ether(&[], TPID_8021Q, &[0, 100]),
            D,
            MalformedL2,
        ),
        row(
            "qinq inner tag cut off",
            ether(&[], TPID_8021AD, &[0, 100, 0x81, 0x00, 0]),
            D,
            MalformedL2,
        ),
        // Malformed IPv4.
        row(
            "ethernet header only, ipv4 ethertype",
            ether(&[], ETH_IPV4, &[]),
            D,
            MalformedIpv4,
        ),
        row(
            "ipv4 header cut off",
            ether(&[], ETH_IPV4, &truncated_v4),
            D,
            MalformedIpv4,
        ),
        row(
            "ipv4 ihl 4",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    ihl: Some(4),
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            MalformedIpv4,
        ),
        row(
            "ipv4 ihl 0",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    ihl: Some(0),
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            MalformedIpv4,
        ),
        row(
            "ipv4 version 6",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    version: 6,
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            MalformedIpv4,
        ),
        row(
            "ipv4 total length past the frame",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    tot_len: Some(1500),
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            MalformedIpv4,
        ),
        row(
            "ipv4 total length under the header",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    tot_len: Some(16),
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            MalformedIpv4,
        ),
        row(
            "ipv4 ihl 15 past the frame",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    ihl: Some(15),
                    tot_len: Some(30),
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&[0; 10]),
            ),
            D,
            MalformedIpv4,
        ),
        // IPv4 options, padding, DF, fragments.
        row(
            "ipv4 options (ihl 7) steered right",
            ether(&[], ETH_IPV4, &opts.build(&udp(MEDIA_RTP, &rtp(172)))),
            R,
            RedirectMedia,
        ),
        row(
            "ipv4 options (ihl 15) steered right",
            ether(&[], ETH_IPV4, &opts40.build(&udp(MEDIA_RTP, &rtp(172)))),
            R,
            RedirectMedia,
        ),
        row(
            "ipv4 options, unallocated port",
            ether(&[], ETH_IPV4, &opts.build(&udp(FREE, &rtp(172)))),
            D,
            UnallocatedPort,
        ),
        row(
            "ipv4 options, garbage payload",
            ether(&[], ETH_IPV4, &opts40.build(&udp(MEDIA_RTP, &version(1)))),
            D,
            NotRtp,
        ),
        row(
            "ethernet padding after the datagram",
            {
                let mut f = udp4(SRC4, MEDIA_RTP, &rtp(12));
                f.extend_from_slice(&[0; 20]);
                f
            },
            R,
            RedirectMedia,
        ),
        row(
            "udp length shorter than the ip payload",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_UDP).build(&{
                    let mut u = udp_len(MEDIA_RTP, &rtp(12), 20);
                    u.extend_from_slice(&[0xee; 30]);
                    u
                }),
            ),
            R,
            RedirectMedia,
        ),
        row(
            "ipv4 dont-fragment is no fragment",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    frag: 0x4000,
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            R,
            RedirectMedia,
        ),
        row(
            "ipv4 first fragment (mf)",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    frag: 0x2000,
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            P,
            Fragment,
        ),
        row(
            "ipv4 later fragment (offset)",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    frag: 185,
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&rtp(172)),
            ),
            P,
            Fragment,
        ),
        row(
            "ipv4 middle fragment (mf and offset), free port",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    frag: 0x2000 | 3,
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(FREE, &rtp(172))),
            ),
            P,
            Fragment,
        ),
        // Malformed UDP.
        row(
            "udp length past the ip payload",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_UDP).build(&udp_len(MEDIA_RTP, &rtp(172), 400)),
            ),
            D,
            MalformedUdp,
        ),
        row(
            "udp length under 8",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_UDP).build(&udp_len(MEDIA_RTP, &rtp(172), 7)),
            ),
            D,
            MalformedUdp,
        ),
        row(
            "udp header cut off",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_UDP).build(&udp(MEDIA_RTP, &[])[..4]),
            ),
            D,
            MalformedUdp,
        ),
        row(
            "udp header past the ip total length",
            ether(
                &[],
                ETH_IPV4,
                &Ipv4 {
                    tot_len: Some(24),
                    ..Ipv4::new(SRC4, PROTO_UDP)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            MalformedUdp,
        ),
        row(
            "udp v6 header cut off",
            ether(
                &[],
                ETH_IPV6,
                &Ipv6::new(src6(), PROTO_UDP).build(&[0xab; 4]),
            ),
            D,
            MalformedUdp,
        ),
        // IPv6 headers.
        row(
            "ipv6 header cut off",
            ether(&[], ETH_IPV6, &truncated_v6),
            D,
            MalformedIpv6,
        ),
        row(
            "ipv6 version 4",
            v6(Ipv6 {
                version: 4,
                ..Ipv6::new(src6(), PROTO_UDP)
            }),
            D,
            MalformedIpv6,
        ),
        row(
            "ipv6 payload length past the frame",
            v6(Ipv6 {
                payload_len: Some(1400),
                ..Ipv6::new(src6(), PROTO_UDP)
            }),
            D,
            MalformedIpv6,
        ),
        row(
            "ipv6 hop-by-hop then udp, parsed",
            v6(Ipv6::new(src6(), PROTO_UDP).ext(NH_HOP, 1)),
            R,
            RedirectMedia,
        ),
        row(
            "ipv6 hop-by-hop, routing, dest opts then udp",
            v6(Ipv6::new(src6(), PROTO_UDP)
                .ext(NH_HOP, 1)
                .ext(NH_ROUTING, 3)
                .ext(NH_DEST, 2)),
            R,
            RedirectMedia,
        ),
        row(
            "ipv6 four ext headers then udp",
            v6(Ipv6::new(src6(), PROTO_UDP)
                .ext(NH_HOP, 1)
                .ext(NH_DEST, 1)
                .ext(NH_ROUTING, 1)
                .ext(NH_DEST, 1)),
            R,
            RedirectMedia,
        ),
        row(
            "ipv6 ext headers, unallocated port",
            ether(
                &[],
                ETH_IPV6,
                &Ipv6::new(src6(), PROTO_UDP)
                    .ext(NH_HOP, 1)
                    .build(&udp(FREE, &rtp(172))),
            ),
            D,
            UnallocatedPort,
        ),
        row(
            "ipv6 five ext headers",
            v6(Ipv6::new(src6(), PROTO_UDP)
                .ext(NH_HOP, 1)
                .ext(NH_DEST, 1)
                .ext(NH_ROUTING, 1)
                .ext(NH_DEST, 1)
                .ext(NH_DEST, 1)),
            P,
            Ipv6ExtLimit,
        ),
        row(
            "ipv6 ext header past the payload",
            ether(
                &[],
                ETH_IPV6,
                &Ipv6 {
                    payload_len: Some(16),
                    ..Ipv6::new(src6(), PROTO_UDP).ext(NH_HOP, 4)
                }
                .build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            D,
            MalformedIpv6,
        ),
        row(
            "ipv6 ext header cut off",
            ether(
                &[],
                ETH_IPV6,
                &Ipv6 {
                    payload_len: Some(0),
                    ..Ipv6::new(src6(), PROTO_UDP).ext(NH_HOP, 1)
                }
                .build(&[])[..40 + 1],
            ),
            D,
            MalformedIpv6,
        ),
        row(
            "ipv6 fragment header",
            v6(Ipv6::new(src6(), PROTO_UDP).ext(NH_FRAGMENT, 1)),
            P,
            Fragment,
        ),
        row(
            "ipv6 hop-by-hop then fragment",
            v6(Ipv6::new(src6(), PROTO_UDP)
                .ext(NH_HOP, 1)
                .ext(NH_FRAGMENT, 1)),
            P,
            Fragment,
        ),
        row(
            "ipv6 four options headers then fragment",
            v6(Ipv6::new(src6(), PROTO_UDP)
                .ext(NH_HOP, 1)
                .ext(NH_DEST, 1)
                .ext(NH_ROUTING, 1)
                .ext(NH_DEST, 1)
                .ext(NH_FRAGMENT, 1)),
            P,
            Fragment,
        ),
        // VLAN tags.
        row(
            "802.1q tagged rtp",
            ether(
                &[TPID_8021Q],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_UDP).build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            R,
            RedirectMedia,
        ),
        row(
            "qinq (802.1ad, 802.1q) tagged rtp",
            ether(
                &[TPID_8021AD, TPID_8021Q],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_UDP).build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            R,
            RedirectMedia,
        ),
        row(
            "double 802.1q tagged mux v6",
            ether(
                &[TPID_8021Q, TPID_8021Q],
                ETH_IPV6,
                &Ipv6::new(src6(), PROTO_UDP).build(&udp(TRAV_RTP, &mux(1, &rtp(40)))),
            ),
            R,
            RedirectTraversal,
        ),
        row(
            "802.1q tagged v6, unallocated",
            ether(
                &[TPID_8021Q],
                ETH_IPV6,
                &Ipv6::new(src6(), PROTO_UDP).build(&udp(FREE, &rtp(172))),
            ),
            D,
            UnallocatedPort,
        ),
        row(
            "qinq tagged, banned",
            ether(
                &[TPID_8021AD, TPID_8021Q],
                ETH_IPV4,
                &Ipv4::new(BANNED4, PROTO_UDP).build(&udp(53, &[0; 12])),
            ),
            D,
            Banned,
        ),
        row(
            "802.1q tagged arp",
            ether(&[TPID_8021Q], ETH_ARP, &arp()[14..]),
            P,
            NotIp,
        ),
        row(
            "three vlan tags",
            ether(
                &[TPID_8021AD, TPID_8021Q, TPID_8021Q],
                ETH_IPV4,
                &Ipv4::new(SRC4, PROTO_UDP).build(&udp(MEDIA_RTP, &rtp(172))),
            ),
            P,
            VlanTooDeep,
        ),
    ]
}

// ---- The tests -------------------------------------------------------------------------------

#[test]
fn fixture_table() {
    let Some(probe) = load_or_skip(&standard_config()) else {
        return;
    };
    drop(probe);

    let table = fixtures();
    let mut failures = Vec::new();
    let mut failed_rows = 0;
    for f in &table {
        let failures_before = failures.len();
        let mut cfg = standard_config();
        if let Some(c) = f.config {
            c(&mut cfg);
        }
        let mut xdp = XdpSteering::load(&cfg).unwrap_or_else(|e| panic!("{}: load: {e}", f.name));
        standard(&mut xdp).unwrap_or_else(|e| panic!("{}: setup: {e}", f.name));
        if let Some(p) = f.prepare {
            p(&mut xdp);
        }
        let before = xdp.counters().unwrap();
        let got = xdp
            .test_run(&f.frame)
            .unwrap_or_else(|e| panic!("{}: test run: {e}", f.name));
        let after = xdp.counters().unwrap();

        if got != f.action {
            failures.push(format!("{}: action {got:?}, want {:?}", f.name, f.action));
        }
        for r in Reason::ALL {
            let (b, a) = (before.total(r), after.total(r));
            let (dp, db) = (a.packets - b.packets, a.bytes - b.bytes);
            let (wp, wb) = if r == f.reason {
                (1, f.frame.len() as u64)
            } else {
                (0, 0)
            };
            if (dp, db) != (wp, wb) {
                failures.push(format!(
                    "{}: counter {} moved by {dp} packets / {db} bytes, want {wp} / {wb}",
                    f.name,
                    r.labels()
                ));
            }
        }
        assert_eq!(
            f.reason.verdict(),
            f.action.verdict().unwrap_or(Verdict::Pass),
            "row {} pairs an action with a reason of another verdict",
            f.name
        );
        if failures.len() > failures_before {
            failed_rows += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n  {}",
        failed_rows,
        table.len(),
        failures.join("\n  ")
    );
    eprintln!("fixture table: {} rows passed", table.len());
}

#[test]
fn the_table_covers_every_reason() {
    let table = fixtures();
    for r in Reason::ALL {
        assert!(
            table.iter().any(|f| f.reason == r),
            "no fixture row for {}",
            r.labels()
        );
    }
    let mut names = std::collections::HashSet::new();
    for f in &table {
        assert!(names.insert(f.name), "duplicate row name {}", f.name);
        assert!(
            f.frame.len() >= ebpf::TEST_RUN_MIN_FRAME,
            "{}: frame under 14 bytes",
            f.name
        );
    }
}

#[test]
fn frames_under_an_ethernet_header_are_refused_by_name() {
    let Some(xdp) = load_or_skip(&standard_config()) else {
        return;
    };
    let e = xdp.test_run(&[0u8; 13]).expect_err("13 bytes");
    assert!(matches!(e, XdpError::TestRun { .. }), "{e}");
    assert!(e.to_string().contains("14 bytes"), "{e}");
}

#[test]
fn counters_total_the_cpus_and_render() {
    let Some(mut xdp) = load_or_skip(&standard_config()) else {
        return;
    };
    standard(&mut xdp).unwrap();
    let frame = udp4(SRC4, FREE, &rtp(172));
    for _ in 0..5 {
        assert_eq!(xdp.test_run(&frame).unwrap(), TestVerdict::Drop);
    }
    let c = xdp.counters().unwrap();
    let r = c.get(Reason::UnallocatedPort).unwrap();
    assert_eq!(r.total.packets, 5);
    assert_eq!(r.total.bytes, 5 * frame.len() as u64);
    assert_eq!(r.per_cpu.len(), xdp.possible_cpus() as usize);
    assert_eq!(r.per_cpu.iter().map(|c| c.packets).sum::<u64>(), 5);
    assert_eq!(c.verdict_total(Verdict::Drop).packets, 5);
    assert!(c
        .prometheus()
        .contains("xdp_packets_total{verdict=\"drop\",reason=\"unallocated_port\"} 5\n"));
}

#[test]
fn ports_bans_and_config_read_back() {
    let Some(mut xdp) = load_or_skip(&standard_config()) else {
        return;
    };
    standard(&mut xdp).unwrap();
    assert_eq!(
        xdp.port(MEDIA_RTP).unwrap(),
        PortState::Allocated { cpu: 0 }
    );
    assert_eq!(xdp.port(TRAV_RTP).unwrap(), PortState::Traversal { cpu: 0 });
    assert_eq!(xdp.port(QUARANTINED).unwrap(), PortState::Quarantined);
    assert_eq!(xdp.port(FREE).unwrap(), PortState::Free);

    // A CPU that cannot exist is refused by name, not written.
    let too_big = xdp.possible_cpus();
    let e = xdp
        .set_port(FREE, PortState::Allocated { cpu: too_big })
        .expect_err("impossible CPU");
    assert!(matches!(e, XdpError::CpuOutOfRange { .. }), "{e}");
    assert_eq!(xdp.port(FREE).unwrap(), PortState::Free);

    // Bans in force: the three live ones, not the expired one; purge removes only that one.
    let bans = xdp.bans().unwrap();
    assert_eq!(bans.len(), 3, "{bans:?}");
    assert!(bans
        .iter()
        .all(|(ip, left)| *ip != IpAddr::V4(EXPIRED4) && *left > Duration::from_secs(3000)));
    assert_eq!(xdp.purge_expired_bans().unwrap(), 1);
    assert_eq!(xdp.purge_expired_bans().unwrap(), 0);
    xdp.unban(IpAddr::V4(BANNED4)).unwrap();
    xdp.unban(IpAddr::V4(BANNED4)).unwrap(); // not banned: still fine
    assert_eq!(xdp.bans().unwrap().len(), 2);

    // Rate and steering go to the config map; a bad rate is refused by field.
    xdp.set_rate(100, 20).unwrap();
    xdp.set_steering(false).unwrap();
    let c = xdp.config();
    assert_eq!((c.rate_pps, c.rate_burst, c.steering), (100, 20, 0));
    let e = xdp.set_rate(100, 0).expect_err("burst 0");
    assert!(
        matches!(
            e,
            XdpError::Config {
                field: "rate_burst",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn bad_config_and_interfaces_are_refused_by_name() {
    // No BPF needed: validation comes first.
    let e = XdpSteering::load(&XdpConfig {
        media_range: (50_000, 40_000),
        ..XdpConfig::default()
    })
    .expect_err("first > last");
    assert!(
        matches!(
            e,
            XdpError::Config {
                field: "media_range",
                ..
            }
        ),
        "{e}"
    );

    let Some(mut xdp) = load_or_skip(&standard_config()) else {
        return;
    };
    let e = xdp
        .attach("portico-none0", ebpf::AttachMode::Auto)
        .expect_err("no such interface");
    assert!(matches!(e, XdpError::NoSuchInterface { .. }), "{e}");
    let e = xdp.detach("lo").expect_err("never attached");
    assert!(matches!(e, XdpError::NotAttached { .. }), "{e}");
    assert!(xdp.attached().is_empty());
}

#[test]
fn cpus_beyond_the_machine_are_refused_at_load() {
    let cfg = XdpConfig {
        cpus: vec![0, 100_000],
        ..XdpConfig::default()
    };
    match XdpSteering::load(&cfg) {
        Err(XdpError::CpuOutOfRange { cpu: 100_000, .. }) => {}
        Err(e) if e.is_unavailable() => eprintln!("*** SKIPPED: {e}"),
        other => panic!("want CpuOutOfRange, got {other:?}"),
    }
}

#[test]
fn unavailable_reason_is_none_where_bpf_loads() {
    match ebpf::unavailable_reason() {
        None => {}
        Some(why) => eprintln!("\n*** XDP unavailable here: {why}\n"),
    }
}
