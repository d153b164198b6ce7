//! The XDP program against a table of frames, through `BPF_PROG_TEST_RUN` (the shape of
//! katran's `lib/testing/fixtures`): each row is a frame built here, the XDP action expected,
//! and the reason whose counter must go up by exactly one (one packet, the frame's bytes) while
//! every other counter stays still.
//!
//! Every row runs on a freshly loaded program set up the same way ([`standard`]), plus the
//! row's own configuration and preparation (and, for the rate rows, runs of its own frame
//! first), so rows cannot leak state into each other.
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
/// VLAN tag TPIDs: 802.1Q, and 802.1ad (the outer tag of QinQ).
const DOT1Q: u16 = 0x8100;
const DOT1AD: u16 = 0x88A8;

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

/// An untagged Ethernet frame: MACs, `ethertype`, `body`.
fn ether(ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// `frame` with VLAN `tags` (each a TPID) inserted after the MACs: VLAN 100, 101, … (PCP 0).
fn vlan(tags: &[u16], frame: Vec<u8>) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    for (i, tpid) in tags.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    f.extend_from_slice(&frame[12..]);
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

    fn options(mut self, options: &[u8]) -> Ipv4 {
        self.options = options.to_vec();
        self
    }
    fn frag(mut self, frag: u16) -> Ipv4 {
        self.frag = frag;
        self
    }
    fn ihl(mut self, ihl: u8) -> Ipv4 {
        self.ihl = Some(ihl);
        self
    }
    fn tot_len(mut self, tot_len: u16) -> Ipv4 {
        self.tot_len = Some(tot_len);
        self
    }
    fn version(mut self, version: u8) -> Ipv4 {
        self.version = version;
        self
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

    fn payload_len(mut self, payload_len: u16) -> Ipv6 {
        self.payload_len = Some(payload_len);
        self
    }
    fn version(mut self, version: u8) -> Ipv6 {
        self.version = version;
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

/// `p` with byte `i` set to `b`.
fn poke(mut p: Vec<u8>, i: usize, b: u8) -> Vec<u8> {
    p[i] = b;
    p
}

/// A whole untagged IPv4 frame: `h` carrying `l4`.
fn ip4(h: Ipv4, l4: &[u8]) -> Vec<u8> {
    ether(ETH_IPV4, &h.build(l4))
}

/// A whole untagged IPv6 frame: `h` carrying `l4`.
fn ip6(h: Ipv6, l4: &[u8]) -> Vec<u8> {
    ether(ETH_IPV6, &h.build(l4))
}

/// A whole IPv4/UDP frame from `src` to `dport`.
fn udp4(src: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    ip4(Ipv4::new(src, PROTO_UDP), &udp(dport, payload))
}

/// A whole IPv6/UDP frame from `src` to `dport`.
fn udp6(src: Ipv6Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    ip6(Ipv6::new(src, PROTO_UDP), &udp(dport, payload))
}

/// An ARP request (RFC 826) for 192.0.2.1.
fn arp() -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 203, 0, 113, 10];
    a.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 0, 2, 1]);
    ether(ETH_ARP, &a)
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

// The shapes most rows share: UDP from the standard sources, and 172 bytes of RTP.

/// An IPv4/UDP header from [`SRC4`].
fn h4() -> Ipv4 {
    Ipv4::new(SRC4, PROTO_UDP)
}

/// An IPv6/UDP header from [`src6`].
fn h6() -> Ipv6 {
    Ipv6::new(src6(), PROTO_UDP)
}

/// An IPv6/UDP header with the most options headers the program walks
/// (`PORTICO_MAX_IPV6_EXT`, 4): hop-by-hop, destination, routing, destination.
fn h6_four_opts() -> Ipv6 {
    h6().ext(NH_HOP, 1)
        .ext(NH_DEST, 1)
        .ext(NH_ROUTING, 1)
        .ext(NH_DEST, 1)
}

/// A whole IPv4/UDP frame from [`SRC4`] to `dport`.
fn v4(dport: u16, payload: &[u8]) -> Vec<u8> {
    udp4(SRC4, dport, payload)
}

/// A whole IPv6/UDP frame from [`src6`] to `dport`.
fn v6(dport: u16, payload: &[u8]) -> Vec<u8> {
    udp6(src6(), dport, payload)
}

/// The datagram most rows carry: 172 bytes of RTP to the allocated RTP port.
fn media() -> Vec<u8> {
    udp(MEDIA_RTP, &rtp(172))
}

/// The frame most rows send: [`media`] from [`SRC4`].
fn rtp_frame() -> Vec<u8> {
    ip4(h4(), &media())
}

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

/// [`load_or_skip`] with the standard configuration and maps.
fn load_standard_or_skip() -> Option<XdpSteering> {
    let mut xdp = load_or_skip(&standard_config())?;
    standard(&mut xdp).unwrap();
    Some(xdp)
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
    /// The row's own frame run this many times first (after `prepare`), each wanting this action.
    after: Option<(usize, TestVerdict)>,
}

/// A row named `name`: `frame` must get `action` and count under `reason`.
fn row(name: &'static str, action: TestVerdict, reason: Reason, frame: Vec<u8>) -> Fixture {
    Fixture {
        name,
        frame,
        action,
        reason,
        config: None,
        prepare: None,
        after: None,
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
    /// Runs the row's own frame `n` times first, insisting on `want` each time.
    fn after(mut self, n: usize, want: TestVerdict) -> Fixture {
        self.after = Some((n, want));
        self
    }
}

/// The fewest rows the table may have: a floor against rows lost in an edit.
const MIN_ROWS: usize = 116;

// Preparations shared by rows.

/// Runs `frame` `n` times and insists on `want` each time (for preparations).
fn send(xdp: &XdpSteering, frame: &[u8], n: usize, want: TestVerdict) {
    for _ in 0..n {
        assert_eq!(xdp.test_run(frame).unwrap(), want, "preparation frame");
    }
}

fn steering_off(xdp: &mut XdpSteering) {
    xdp.set_steering(false).unwrap();
}

fn rate_1_per_s_burst_1(xdp: &mut XdpSteering) {
    xdp.set_rate(1, 1).unwrap();
}

fn rate_1_per_s_burst_3(xdp: &mut XdpSteering) {
    xdp.set_rate(1, 3).unwrap();
}

/// Rate 1 packet a second in bursts of 3, and [`SRC4`]'s burst spent: three [`rtp_frame`]s
/// steered, the fourth dropped.
fn burst_spent(xdp: &mut XdpSteering) {
    rate_1_per_s_burst_3(xdp);
    send(xdp, &rtp_frame(), 3, TestVerdict::Redirect);
    send(xdp, &rtp_frame(), 1, TestVerdict::Drop);
}

/// The table: one row a line, `row(name, action, reason, frame)`, then any configuration or
/// preparation of its own. Laid out by hand (rustfmt would give most rows six lines).
#[rustfmt::skip]
fn fixtures() -> Vec<Fixture> {
    use Reason::*;
    use TestVerdict::{Drop as D, Pass as P, Redirect as R};
    // IPv4 with options: 8 bytes of NOP NOP NOP NOP, then a router alert (RFC 2113).
    let opts = || h4().options(&[1, 1, 1, 1, 148, 4, 0, 0]);
    // IHL 15: 40 bytes of options (NOPs then end of list).
    let opts40 = || h4().options(&[[1; 39].as_slice(), &[0]].concat());
    let mux_frame = || v4(TRAV_RTP, &mux(7, &rtp(172)));

    vec![
        // Steered: allocated ports (RTP, RTCP, STUN), IPv4 and IPv6.
        row("rtp v4 to allocated port", R, RedirectMedia, rtp_frame()),
        row("rtp of 12 bytes (fixed header only)", R, RedirectMedia, v4(MEDIA_RTP, &rtp(12))),
        row("rtcp v4 to allocated rtcp port", R, RedirectMedia, v4(MEDIA_RTCP, &rtcp(32))),
        row("rtcp of 8 bytes", R, RedirectMedia, v4(MEDIA_RTCP, &rtcp(8))),
        row("rtcp muxed on the rtp port", R, RedirectMedia, v4(MEDIA_RTP, &rtcp(8))),
        row("stun binding request to allocated port", R, RedirectMedia, v4(MEDIA_RTP, &stun())),
        row("rtp v6 to allocated port", R, RedirectMedia, v6(MEDIA_RTP, &rtp(172))),
        row("allocated port outside the range", R, RedirectMedia, v4(ALLOC_OUTSIDE, &rtp(172))),
        // Steered: traversal ports.
        row("mux rtp on traversal port", R, RedirectTraversal, mux_frame()),
        row("mux rtcp on traversal rtcp port", R, RedirectTraversal,
            v4(TRAV_RTCP, &mux(7, &rtcp(12)))),
        row("mux rtp v6 on traversal port", R, RedirectTraversal, v6(TRAV_RTP, &mux(9, &rtp(100)))),
        row("mux keepalive (4-byte id)", R, RedirectTraversal, v4(TRAV_RTP, &mux(7, &[]))),
        row("mux keepalive (empty)", R, RedirectTraversal, v4(TRAV_RTP, &[])),
        row("mux keepalive (15 bytes of anything)", R, RedirectTraversal,
            v4(TRAV_RTP, &[0xff; 15])),
        row("mux of 16 bytes (id + 12-byte rtp)", R, RedirectTraversal,
            v4(TRAV_RTP, &mux(7, &rtp(12)))),
        row("traversal port inside the range", R, RedirectTraversal,
            v4(TRAV_IN_RANGE, &mux(7, &rtp(50)))),
        // Steering off, and a CPU without a CPUMAP entry.
        row("steering off: rtp to allocated port", P, SteeringOff, rtp_frame())
            .prepare(steering_off),
        row("steering off: mux on traversal port", P, SteeringOff, mux_frame())
            .prepare(steering_off),
        row("steering off: garbage still dropped", D, NotRtp, v4(MEDIA_RTP, &version(0)))
            .prepare(steering_off),
        row("owner cpu without cpumap entry", P, NoCpuEntry, v4(NO_CPU, &rtp(172)))
            .config(|c| c.cpus.clear())
            .prepare(|x| x.set_port(NO_CPU, PortState::Allocated { cpu: 0 }).unwrap()),
        // Ports of the range that are no flow's.
        row("unallocated port in the range", D, UnallocatedPort, v4(FREE, &rtp(172))),
        row("first port of the range, free", D, UnallocatedPort, v4(36_002, &rtp(172))),
        row("last port of the range, free", D, UnallocatedPort, v4(59_999, &rtp(172))),
        row("unallocated port, v6", D, UnallocatedPort, v6(FREE, &rtp(172))),
        row("quarantined port", D, QuarantinedPort, v4(QUARANTINED, &rtp(172))),
        row("port released to free again", D, UnallocatedPort, rtp_frame())
            .prepare(|x| x.set_port(MEDIA_RTP, PortState::Free).unwrap()),
        // Outside the range: not ours.
        row("udp below the range", P, NotMediaPort, v4(35_999, &rtp(172))),
        row("udp above the range", P, NotMediaPort, v4(60_000, &rtp(172))),
        row("dns", P, NotMediaPort, v4(53, &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])),
        row("quarantined outside the range", P, NotMediaPort, v4(5_000, &rtp(172)))
            .prepare(|x| x.set_port(5_000, PortState::Quarantined).unwrap()),
        // Payloads that are not media on an allocated port.
        row("version 0, no stun cookie", D, NotRtp, v4(MEDIA_RTP, &version(0))),
        row("version 1", D, NotRtp, v4(MEDIA_RTP, &version(1))),
        row("version 3", D, NotRtp, v4(MEDIA_RTP, &version(3))),
        row("rtp of 11 bytes", D, NotRtp, v4(MEDIA_RTP, &rtp(11))),
        row("rtcp of 7 bytes", D, NotRtp, v4(MEDIA_RTCP, &rtcp(7))),
        row("empty datagram to allocated port", D, NotRtp, v4(MEDIA_RTP, &[])),
        row("stun with a wrong cookie", D, NotRtp, v4(MEDIA_RTP, &poke(stun(), 7, 0x43))),
        row("stun of 19 bytes", D, NotRtp, v4(MEDIA_RTP, &stun()[..19])),
        row("garbage (dtls-like first byte)", D, NotRtp, v4(MEDIA_RTP, &[0x16; 60])),
        row("garbage v6", D, NotRtp, v6(MEDIA_RTP, &[0x55; 60])),
        // Traversal ports: framing.
        row("mux with a version-0 packet", D, BadMux, v4(TRAV_RTP, &mux(7, &version(0)))),
        row("mux with a version-3 packet", D, BadMux, v4(TRAV_RTP, &mux(7, &version(3)))),
        // (The timestamp's first byte zeroed: where a framed packet's byte 0 would be.)
        row("unframed rtp on traversal port", D, BadMux, v4(TRAV_RTP, &poke(rtp(172), 4, 0))),
        row("unframed stun on traversal port", D, BadMux, v4(TRAV_RTP, &stun())),
        // Bans: every port and protocol.
        row("banned v4 to allocated port", D, Banned, udp4(BANNED4, MEDIA_RTP, &rtp(172))),
        row("banned v4 to a non-media port", D, Banned, udp4(BANNED4, 53, &[0; 12])),
        row("banned v4, tcp", D, Banned, ip4(Ipv4::new(BANNED4, PROTO_TCP), &[0; 20])),
        row("banned v4 fragment", D, Banned,
            ip4(Ipv4::new(BANNED4, PROTO_UDP).frag(0x2000), &media())),
        row("banned v6 to allocated port", D, Banned, udp6(banned6(), MEDIA_RTP, &rtp(172))),
        row("banned v6 to a non-media port", D, Banned, udp6(banned6(), 443, &[0; 12])),
        row("banned as ipv4-mapped ipv6", D, Banned, udp4(MAPPED_BANNED4, MEDIA_RTP, &rtp(172))),
        row("expired ban not applied", R, RedirectMedia, udp4(EXPIRED4, MEDIA_RTP, &rtp(172))),
        row("unbanned source", R, RedirectMedia, udp4(BANNED4, MEDIA_RTP, &rtp(172)))
            .prepare(|x| x.unban(IpAddr::V4(BANNED4)).unwrap()),
        // Rate: 1 packet/s, bursts of 3, per source, allocated ports of the range only.
        row("rate: third packet of the burst", R, RedirectMedia, rtp_frame())
            .prepare(rate_1_per_s_burst_3).after(2, R),
        row("rate: fourth packet, over the burst", D, RateLimited, rtp_frame())
            .prepare(rate_1_per_s_burst_3).after(3, R),
        row("rate: v6 source over the burst", D, RateLimited, v6(MEDIA_RTP, &rtp(172)))
            .prepare(rate_1_per_s_burst_3).after(3, R),
        row("rate: another source keeps its own bucket", R, RedirectMedia,
            udp4(SRC4_B, MEDIA_RTP, &rtp(172))).prepare(burst_spent),
        row("rate: traversal ports are not limited", R, RedirectTraversal,
            v4(TRAV_IN_RANGE, &mux(7, &rtp(50)))).prepare(rate_1_per_s_burst_1).after(3, R),
        row("rate: allocated port outside the range not limited", R, RedirectMedia,
            v4(ALLOC_OUTSIDE, &rtp(172))).prepare(rate_1_per_s_burst_1).after(3, R),
        row("rate: garbage spends no tokens", R, RedirectMedia, rtp_frame()).prepare(|x| {
            rate_1_per_s_burst_1(x);
            send(x, &v4(MEDIA_RTP, &version(0)), 3, D);
        }),
        row("rate: a raised limit applies at once", R, RedirectMedia, rtp_frame()).prepare(|x| {
            burst_spent(x);
            x.set_rate(100_000, 3).unwrap();
        }),
        row("rate: limit lifted", R, RedirectMedia, rtp_frame()).prepare(|x| {
            rate_1_per_s_burst_1(x);
            send(x, &rtp_frame(), 1, R);
            x.set_rate(0, 0).unwrap();
        }),
        // Not UDP, not IP.
        row("tcp v4", P, NotUdp, ip4(Ipv4::new(SRC4, PROTO_TCP), &[0; 20])),
        row("icmp v4 echo", P, NotUdp, ip4(Ipv4::new(SRC4, PROTO_ICMP), &[8, 0, 0, 0, 0, 1, 0, 1])),
        row("icmpv6 echo", P, NotUdp,
            ip6(Ipv6::new(src6(), PROTO_ICMPV6), &[128, 0, 0, 0, 0, 1, 0, 1])),
        row("tcp v6", P, NotUdp, ip6(Ipv6::new(src6(), PROTO_TCP), &[0; 20])),
        row("ipv6 ah (not walked)", P, NotUdp, ip6(Ipv6::new(src6(), NH_AH), &[0; 24])),
        row("ipv6 no next header", P, NotUdp, ip6(Ipv6::new(src6(), NH_NONE), &[])),
        row("arp", P, NotIp, arp()),
        row("802.3 length field (llc)", P, NotIp, ether(0x0026, &[0x42; 38])),
        // Malformed Ethernet and VLAN.
        row("vlan ethertype with no tag (14 bytes)", D, MalformedL2, ether(DOT1Q, &[])),
        row("vlan tag cut off", D, MalformedL2, ether(DOT1Q, &[0, 100])),
        row("qinq inner tag cut off", D, MalformedL2, ether(DOT1AD, &[0, 100, 0x81, 0x00, 0])),
        // Malformed IPv4.
        row("ethernet header only, ipv4 ethertype", D, MalformedIpv4, ether(ETH_IPV4, &[])),
        row("ipv4 header cut off", D, MalformedIpv4, ether(ETH_IPV4, &h4().build(&media())[..10])),
        row("ipv4 ihl 4", D, MalformedIpv4, ip4(h4().ihl(4), &media())),
        row("ipv4 ihl 0", D, MalformedIpv4, ip4(h4().ihl(0), &media())),
        row("ipv4 version 6", D, MalformedIpv4, ip4(h4().version(6), &media())),
        row("ipv4 total length past the frame", D, MalformedIpv4,
            ip4(h4().tot_len(1500), &media())),
        row("ipv4 total length under the header", D, MalformedIpv4,
            ip4(h4().tot_len(16), &media())),
        row("ipv4 ihl 15 past the frame", D, MalformedIpv4,
            ip4(h4().ihl(15).tot_len(30), &[0; 10])),
        // IPv4 options, padding, DF, fragments.
        row("ipv4 options (ihl 7) steered right", R, RedirectMedia, ip4(opts(), &media())),
        row("ipv4 options (ihl 15) steered right", R, RedirectMedia, ip4(opts40(), &media())),
        row("ipv4 options, unallocated port", D, UnallocatedPort,
            ip4(opts(), &udp(FREE, &rtp(172)))),
        row("ipv4 options, garbage payload", D, NotRtp,
            ip4(opts40(), &udp(MEDIA_RTP, &version(1)))),
        row("ethernet padding after the datagram", R, RedirectMedia,
            [v4(MEDIA_RTP, &rtp(12)), vec![0; 20]].concat()),
        row("udp length shorter than the ip payload", R, RedirectMedia,
            ip4(h4(), &[udp_len(MEDIA_RTP, &rtp(12), 20), vec![0xee; 30]].concat())),
        row("ipv4 dont-fragment is no fragment", R, RedirectMedia,
            ip4(h4().frag(0x4000), &media())),
        row("ipv4 first fragment (mf)", P, Fragment, ip4(h4().frag(0x2000), &media())),
        row("ipv4 later fragment (offset)", P, Fragment, ip4(h4().frag(185), &rtp(172))),
        row("ipv4 middle fragment (mf and offset), free port", P, Fragment,
            ip4(h4().frag(0x2000 | 3), &udp(FREE, &rtp(172)))),
        // Malformed UDP.
        row("udp length past the ip payload", D, MalformedUdp,
            ip4(h4(), &udp_len(MEDIA_RTP, &rtp(172), 400))),
        row("udp length under 8", D, MalformedUdp, ip4(h4(), &udp_len(MEDIA_RTP, &rtp(172), 7))),
        row("udp header cut off", D, MalformedUdp, ip4(h4(), &udp(MEDIA_RTP, &[])[..4])),
        row("udp header past the ip total length", D, MalformedUdp,
            ip4(h4().tot_len(24), &media())),
        row("udp v6 header cut off", D, MalformedUdp, ip6(h6(), &[0xab; 4])),
        // IPv6 headers.
        row("ipv6 header cut off", D, MalformedIpv6, ether(ETH_IPV6, &h6().build(&media())[..30])),
        row("ipv6 version 4", D, MalformedIpv6, ip6(h6().version(4), &media())),
        row("ipv6 payload length past the frame", D, MalformedIpv6,
            ip6(h6().payload_len(1400), &media())),
        row("ipv6 hop-by-hop then udp, parsed", R, RedirectMedia,
            ip6(h6().ext(NH_HOP, 1), &media())),
        row("ipv6 hop-by-hop, routing, dest opts then udp", R, RedirectMedia,
            ip6(h6().ext(NH_HOP, 1).ext(NH_ROUTING, 3).ext(NH_DEST, 2), &media())),
        row("ipv6 four ext headers then udp", R, RedirectMedia, ip6(h6_four_opts(), &media())),
        row("ipv6 ext headers, unallocated port", D, UnallocatedPort,
            ip6(h6().ext(NH_HOP, 1), &udp(FREE, &rtp(172)))),
        row("ipv6 five ext headers", P, Ipv6ExtLimit,
            ip6(h6_four_opts().ext(NH_DEST, 1), &media())),
        row("ipv6 ext header past the payload", D, MalformedIpv6,
            ip6(h6().ext(NH_HOP, 4).payload_len(16), &media())),
        row("ipv6 ext header cut off", D, MalformedIpv6,
            ether(ETH_IPV6, &h6().ext(NH_HOP, 1).payload_len(0).build(&[])[..40 + 1])),
        row("ipv6 fragment header", P, Fragment, ip6(h6().ext(NH_FRAGMENT, 1), &media())),
        row("ipv6 hop-by-hop then fragment", P, Fragment,
            ip6(h6().ext(NH_HOP, 1).ext(NH_FRAGMENT, 1), &media())),
        row("ipv6 four options headers then fragment", P, Fragment,
            ip6(h6_four_opts().ext(NH_FRAGMENT, 1), &media())),
        // VLAN tags.
        row("802.1q tagged rtp", R, RedirectMedia, vlan(&[DOT1Q], rtp_frame())),
        row("qinq (802.1ad, 802.1q) tagged rtp", R, RedirectMedia,
            vlan(&[DOT1AD, DOT1Q], rtp_frame())),
        row("double 802.1q tagged mux v6", R, RedirectTraversal,
            vlan(&[DOT1Q, DOT1Q], v6(TRAV_RTP, &mux(1, &rtp(40))))),
        row("802.1q tagged v6, unallocated", D, UnallocatedPort,
            vlan(&[DOT1Q], v6(FREE, &rtp(172)))),
        row("qinq tagged, banned", D, Banned, vlan(&[DOT1AD, DOT1Q], udp4(BANNED4, 53, &[0; 12]))),
        row("802.1q tagged arp", P, NotIp, vlan(&[DOT1Q], arp())),
        row("three vlan tags", P, VlanTooDeep, vlan(&[DOT1AD, DOT1Q, DOT1Q], rtp_frame())),
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
        if let Some((n, want)) = f.after {
            send(&xdp, &f.frame, n, want);
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
    assert!(
        table.len() >= MIN_ROWS,
        "{} rows, want {MIN_ROWS} or more",
        table.len()
    );
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
    let Some(xdp) = load_standard_or_skip() else {
        return;
    };
    let frame = v4(FREE, &rtp(172));
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
    let Some(mut xdp) = load_standard_or_skip() else {
        return;
    };
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
