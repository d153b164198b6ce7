//! The lab's address plan: zones (one network namespace each), the veth links between them, the
//! hosts (addresses with a role and a DNS name), routes, and the ports each firewall opens, after
//! the "Mobile and remote access port reference" of the MRA deployment guide X8.2
//! (`shared/spec/mra-deployment-guide-x8.2.txt`).
//!
//! Everything lies in the benchmarking block 198.18.0.0/15 (RFC 2544), so the lab can never
//! collide with a real network:
//!
//! ```text
//!  portico-internet              portico-dmz                    portico-inside
//!  198.18.1.10 client-a          198.18.1.1  E outside          198.18.2.10  C (expc)
//!  198.18.1.11 client-b          198.18.2.1  E inside           198.18.2.20  Kamailio (cucm)
//!  198.18.1.53 public DNS                                       198.18.2.21  UDS stand-in
//!       to-dmz ── 198.18.1.0/24 ── to-internet                  198.18.2.30  IM&P stand-in
//!                                  to-inside ── 198.18.2.0/24 ── to-dmz
//!                                                               198.18.2.53  inside DNS
//!                                                               198.18.2.100 phone inside
//! ```
//!
//! The DMZ forwards nothing. The internet and the inside each route the rest of the lab block
//! through the E's address on their side, so a stray packet meets the DMZ's firewall (and its
//! counters) instead of failing locally with "network unreachable", which would prove nothing.

use std::fmt;
use std::net::Ipv4Addr;

/// The lab's SIP and DNS domain.
pub(crate) const DOMAIN: &str = "example.test";

/// The only block the lab uses (RFC 2544 benchmarking).
pub(crate) const BLOCK: Net = Net::new(Ipv4Addr::new(198, 18, 0, 0), 15);

/// Longest interface name Linux accepts (`IFNAMSIZ` less the terminating zero).
pub(crate) const IFNAME_MAX: usize = 15;

/// An IPv4 network, `addr/len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Net {
    pub(crate) addr: Ipv4Addr,
    pub(crate) len: u8,
}

impl Net {
    pub(crate) const fn new(addr: Ipv4Addr, len: u8) -> Net {
        Net { addr, len }
    }

    fn mask(self) -> u32 {
        match self.len {
            0 => 0,
            l => u32::MAX << (32 - u32::from(l.min(32))),
        }
    }

    /// Whether `self.addr` is the network address (no host bits set).
    pub(crate) fn is_aligned(self) -> bool {
        u32::from(self.addr) & !self.mask() == 0
    }

    pub(crate) fn contains(self, a: Ipv4Addr) -> bool {
        u32::from(a) & self.mask() == u32::from(self.addr) & self.mask()
    }

    /// Whether all of `other` lies inside `self`.
    pub(crate) fn covers(self, other: Net) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }

    pub(crate) fn overlaps(self, other: Net) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// The broadcast address of the network.
    pub(crate) fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// A zone of the lab: one network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Zone {
    /// The public internet: remote clients and the public DNS.
    Internet,
    /// The DMZ: the Expressway-E stand-in, with an outside and an inside-facing address.
    Dmz,
    /// The enterprise network: the Expressway-C stand-in and the inside servers.
    Inside,
}

impl Zone {
    pub(crate) const ALL: [Zone; 3] = [Zone::Internet, Zone::Dmz, Zone::Inside];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Zone::Internet => "internet",
            Zone::Dmz => "dmz",
            Zone::Inside => "inside",
        }
    }

    /// The network namespace (`ip netns list`).
    pub(crate) fn namespace(self) -> &'static str {
        match self {
            Zone::Internet => "portico-internet",
            Zone::Dmz => "portico-dmz",
            Zone::Inside => "portico-inside",
        }
    }

    pub(crate) fn role(self) -> &'static str {
        match self {
            Zone::Internet => "the public internet: remote clients and the public DNS",
            Zone::Dmz => "the DMZ: the Expressway-E (outside and inside-facing addresses)",
            Zone::Inside => {
                "the enterprise network: the Expressway-C, call control, UDS, IM&P, DNS"
            }
        }
    }

    /// The zone's nftables ruleset, in `lab/nftables/`.
    pub(crate) fn ruleset(self) -> &'static str {
        match self {
            Zone::Internet => "internet.nft",
            Zone::Dmz => "dmz.nft",
            Zone::Inside => "inside.nft",
        }
    }

    /// The named counters of the zone's ruleset (table `inet portico`).
    pub(crate) fn counters(self) -> &'static [&'static str] {
        match self {
            Zone::Internet => &["from_dmz_new"],
            Zone::Dmz => &[
                "internet_new_refused",
                "inside_new_refused",
                "internet_to_elsewhere",
                "inside_to_elsewhere",
                "forward_dropped",
            ],
            Zone::Inside => &[
                "dmz_new_dropped",
                "dmz_invalid_dropped",
                "inside_new_refused",
            ],
        }
    }

    /// The DNS server the zone uses (its `/etc/netns/<namespace>/resolv.conf`): the DMZ sees
    /// the outside view, like the internet.
    pub(crate) fn dns(self) -> &'static Dns {
        match self {
            Zone::Internet | Zone::Dmz => &DNS[0],
            Zone::Inside => &DNS[1],
        }
    }
}

/// The nftables table every zone's ruleset defines.
pub(crate) const NFT_TABLE: (&str, &str) = ("inet", "portico");

/// One end of a veth link.
#[derive(Clone, Copy, Debug)]
pub(crate) struct End {
    pub(crate) zone: Zone,
    pub(crate) ifname: &'static str,
}

/// A veth pair between two zones, and the network on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    pub(crate) a: End,
    pub(crate) b: End,
    pub(crate) network: Net,
}

/// internet ↔ dmz and dmz ↔ inside; the DMZ is between.
pub(crate) const LINKS: [Link; 2] = [
    Link {
        a: End {
            zone: Zone::Internet,
            ifname: "to-dmz",
        },
        b: End {
            zone: Zone::Dmz,
            ifname: "to-internet",
        },
        network: Net::new(Ipv4Addr::new(198, 18, 1, 0), 24),
    },
    Link {
        a: End {
            zone: Zone::Dmz,
            ifname: "to-inside",
        },
        b: End {
            zone: Zone::Inside,
            ifname: "to-dmz",
        },
        network: Net::new(Ipv4Addr::new(198, 18, 2, 0), 24),
    },
];

/// An address of the lab with its role.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Host {
    /// Its key in `lab.json` (`hosts.<key>`).
    pub(crate) key: &'static str,
    pub(crate) zone: Zone,
    pub(crate) ifname: &'static str,
    pub(crate) addr: Ipv4Addr,
    /// Its name in the DNS of the zone that sees it (`None`: not in the DNS).
    pub(crate) name: Option<&'static str>,
    pub(crate) role: &'static str,
}

/// Every address of the lab, in the order they are added: the first address of an interface is
/// its primary one, the source of sockets that do not bind (client-a outside, the C inside).
pub(crate) const HOSTS: [Host; 11] = [
    Host {
        key: "client_a",
        zone: Zone::Internet,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 1, 10),
        name: None,
        role: "remote client A (the internet zone's default source address)",
    },
    Host {
        key: "client_b",
        zone: Zone::Internet,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 1, 11),
        name: None,
        role: "remote client B",
    },
    Host {
        key: "dns_outside",
        zone: Zone::Internet,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 1, 53),
        name: None,
        role: "the public DNS (outside view of the split horizon)",
    },
    Host {
        key: "expe_outside",
        zone: Zone::Dmz,
        ifname: "to-internet",
        addr: Ipv4Addr::new(198, 18, 1, 1),
        name: Some("expe.example.test"),
        role: "the Expressway-E, outside address (the _collab-edge._tls target)",
    },
    Host {
        key: "expe_inside",
        zone: Zone::Dmz,
        ifname: "to-inside",
        addr: Ipv4Addr::new(198, 18, 2, 1),
        name: Some("expe.example.test"),
        role: "the Expressway-E, inside-facing address (the C's traversal peer)",
    },
    Host {
        key: "expc",
        zone: Zone::Inside,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 2, 10),
        name: Some("expc.example.test"),
        role: "the Expressway-C (the inside zone's default source address)",
    },
    Host {
        key: "cucm",
        zone: Zone::Inside,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 2, 20),
        name: Some("cucm.example.test"),
        role: "call control: Kamailio (the Unified CM stand-in)",
    },
    Host {
        key: "uds",
        zone: Zone::Inside,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 2, 21),
        name: Some("uds.example.test"),
        role: "UDS and configuration files over HTTPS (the nginx stand-in, later)",
    },
    Host {
        key: "imp",
        zone: Zone::Inside,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 2, 30),
        name: Some("imp.example.test"),
        role: "IM and Presence (the Prosody stand-in, later)",
    },
    Host {
        key: "dns_inside",
        zone: Zone::Inside,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 2, 53),
        name: Some("ns.example.test"),
        role: "the enterprise DNS (inside view of the split horizon)",
    },
    Host {
        key: "phone",
        zone: Zone::Inside,
        ifname: "to-dmz",
        addr: Ipv4Addr::new(198, 18, 2, 100),
        name: Some("phone.example.test"),
        role: "a client inside (a desk phone; the source of the lab's own SIP checks)",
    },
];

/// The host with this key.
pub(crate) fn host(key: &str) -> Option<&'static Host> {
    HOSTS.iter().find(|h| h.key == key)
}

/// A static route of a zone.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    pub(crate) zone: Zone,
    pub(crate) to: Net,
    pub(crate) via: Ipv4Addr,
}

/// The rest of the lab block is behind the E, from either side (where the DMZ drops it).
pub(crate) const ROUTES: [Route; 2] = [
    Route {
        zone: Zone::Internet,
        to: BLOCK,
        via: Ipv4Addr::new(198, 18, 1, 1),
    },
    Route {
        zone: Zone::Inside,
        to: BLOCK,
        via: Ipv4Addr::new(198, 18, 2, 1),
    },
];

/// What a firewall lets open between two zones: TCP ports and UDP port ranges (inclusive).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    /// What these are, after the guide.
    pub(crate) key: &'static str,
    /// Only from this source address (`None`: any).
    pub(crate) from: Option<Ipv4Addr>,
    /// Only to this address (`None`: nothing may open at all).
    pub(crate) to: Option<Ipv4Addr>,
    pub(crate) tcp: &'static [u16],
    pub(crate) udp: &'static [(u16, u16)],
}

/// Inbound from the public internet to the E (the guide's table of the same name): SIP over TLS,
/// the HTTP proxy (UDS), XMPP, and media. The media range starts at 36002: 36000-36001 are the
/// traversal demultiplexing pair, which only the C uses. The guide's TCP 443 (administrative
/// access) stays closed.
pub(crate) const INTERNET_TO_DMZ: Ports = Ports {
    key: "internet_to_dmz",
    from: None,
    to: Some(Ipv4Addr::new(198, 18, 1, 1)),
    tcp: &[5061, 8443, 5222],
    udp: &[(36002, 59999)],
};

/// Outbound from the C to the E (the guide's table of the same name): the traversal zone's SIP,
/// the SSH tunnels, XMPP, and traversal media.
pub(crate) const INSIDE_TO_DMZ: Ports = Ports {
    key: "inside_to_dmz",
    from: Some(Ipv4Addr::new(198, 18, 2, 10)),
    to: Some(Ipv4Addr::new(198, 18, 2, 1)),
    tcp: &[7001, 2222, 7400],
    udp: &[(36000, 59999)],
};

/// From the DMZ into the inside: nothing new, ever (only what belongs to connections the inside
/// opened).
pub(crate) const DMZ_TO_INSIDE: Ports = Ports {
    key: "dmz_to_inside",
    from: None,
    to: None,
    tcp: &[],
    udp: &[],
};

pub(crate) const PORTS: [Ports; 3] = [INTERNET_TO_DMZ, INSIDE_TO_DMZ, DMZ_TO_INSIDE];

/// A DNS server of the split horizon.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dns {
    /// `outside` or `inside`; also the name of its process and files.
    pub(crate) view: &'static str,
    pub(crate) zone: Zone,
    /// The key of its host.
    pub(crate) host: &'static str,
    pub(crate) port: u16,
    /// Its configuration, in `lab/dnsmasq/`.
    pub(crate) config: &'static str,
    /// What the view must answer (name, SRV target, port) …
    pub(crate) srv: &'static [(&'static str, &'static str, u16)],
    /// … and SRV names it must not know.
    pub(crate) absent: &'static [&'static str],
}

pub(crate) const DNS: [Dns; 2] = [
    Dns {
        view: "outside",
        zone: Zone::Internet,
        host: "dns_outside",
        port: 53,
        config: "outside.conf",
        srv: &[
            ("_collab-edge._tls.example.test", "expe.example.test", 8443),
            ("_sips._tcp.example.test", "expe.example.test", 5061),
        ],
        absent: &[
            "_cisco-uds._tcp.example.test",
            "_cuplogin._tcp.example.test",
        ],
    },
    Dns {
        view: "inside",
        zone: Zone::Inside,
        host: "dns_inside",
        port: 53,
        config: "inside.conf",
        srv: &[
            ("_cisco-uds._tcp.example.test", "uds.example.test", 8443),
            ("_cuplogin._tcp.example.test", "imp.example.test", 8443),
            ("_sip._udp.example.test", "cucm.example.test", 5060),
            ("_sip._tcp.example.test", "cucm.example.test", 5060),
            ("_sips._tcp.example.test", "cucm.example.test", 5061),
        ],
        absent: &["_collab-edge._tls.example.test"],
    },
];

impl Dns {
    pub(crate) fn addr(&self) -> Ipv4Addr {
        host_addr(self.host)
    }
}

/// Kamailio, the call control inside.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kamailio {
    pub(crate) zone: Zone,
    pub(crate) host: &'static str,
    pub(crate) udp: u16,
    pub(crate) tcp: u16,
    /// Planned, off until the lab has certificates.
    pub(crate) tls: u16,
}

pub(crate) const KAMAILIO: Kamailio = Kamailio {
    zone: Zone::Inside,
    host: "cucm",
    udp: 5060,
    tcp: 5060,
    tls: 5061,
};

impl Kamailio {
    pub(crate) fn addr(&self) -> Ipv4Addr {
        host_addr(self.host)
    }
}

/// The address of the host `key`; the keys used in this file are checked by a unit test, and an
/// unknown one reads as 0.0.0.0 (outside the lab block, so every check of the plan fails).
fn host_addr(key: &str) -> Ipv4Addr {
    host(key).map_or(Ipv4Addr::UNSPECIFIED, |h| h.addr)
}

/// The addresses of one interface, in the order they are added.
pub(crate) fn addresses(zone: Zone, ifname: &str) -> Vec<Ipv4Addr> {
    HOSTS
        .iter()
        .filter(|h| h.zone == zone && h.ifname == ifname)
        .map(|h| h.addr)
        .collect()
}

/// The link `zone`'s interface `ifname` is on.
pub(crate) fn link_of(zone: Zone, ifname: &str) -> Option<&'static Link> {
    LINKS.iter().find(|l| {
        (l.a.zone == zone && l.a.ifname == ifname) || (l.b.zone == zone && l.b.ifname == ifname)
    })
}

/// Checks the plan's invariants: everything inside 198.18.0.0/15, no overlapping links, every
/// host on a link of its zone and inside that link's network (not its network or broadcast
/// address), no address used twice, interface names Linux accepts, routes through an address on
/// a link of the zone. Returns every problem found.
pub(crate) fn check() -> Vec<String> {
    let mut problems = Vec::new();
    for (i, l) in LINKS.iter().enumerate() {
        if !BLOCK.covers(l.network) || !l.network.is_aligned() {
            problems.push(format!(
                "link network {} is not an aligned network in {BLOCK}",
                l.network
            ));
        }
        for other in &LINKS[i + 1..] {
            if l.network.overlaps(other.network) {
                problems.push(format!("links {} and {} overlap", l.network, other.network));
            }
        }
        for end in [l.a, l.b] {
            let ok = !end.ifname.is_empty()
                && end.ifname.len() <= IFNAME_MAX
                && end
                    .ifname
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                problems.push(format!("interface name {:?} is not usable", end.ifname));
            }
        }
        if l.a.zone == l.b.zone {
            problems.push(format!("link {} joins a zone to itself", l.network));
        }
    }
    for (i, h) in HOSTS.iter().enumerate() {
        match link_of(h.zone, h.ifname) {
            None => problems.push(format!(
                "host {} is on {}/{}, which no link has",
                h.key,
                h.zone.name(),
                h.ifname
            )),
            Some(l) => {
                if !l.network.contains(h.addr)
                    || h.addr == l.network.addr
                    || h.addr == l.network.broadcast()
                {
                    problems.push(format!(
                        "host {} {} is not a host address of {}",
                        h.key, h.addr, l.network
                    ));
                }
            }
        }
        if !BLOCK.contains(h.addr) {
            problems.push(format!("host {} {} is outside {BLOCK}", h.key, h.addr));
        }
        for other in &HOSTS[i + 1..] {
            if other.addr == h.addr {
                problems.push(format!("{} and {} share {}", h.key, other.key, h.addr));
            }
            if other.key == h.key {
                problems.push(format!("host key {} used twice", h.key));
            }
        }
        if let Some(name) = h.name {
            if !name.ends_with(&format!(".{DOMAIN}")) {
                problems.push(format!("host {} name {name} is not in {DOMAIN}", h.key));
            }
        }
    }
    for r in &ROUTES {
        if !BLOCK.covers(r.to) || !BLOCK.contains(r.via) {
            problems.push(format!("route {} via {} leaves {BLOCK}", r.to, r.via));
        }
        let on_link = LINKS.iter().any(|l| {
            l.network.contains(r.via)
                && [l.a, l.b].iter().any(|e| e.zone == r.zone)
                && !HOSTS.iter().any(|h| h.zone == r.zone && h.addr == r.via)
        });
        if !on_link {
            problems.push(format!(
                "route of {} via {} is not through a neighbour",
                r.zone.name(),
                r.via
            ));
        }
    }
    for p in &PORTS {
        for a in p.from.iter().chain(p.to.iter()) {
            if !HOSTS.iter().any(|h| h.addr == *a) {
                problems.push(format!("{}: {a} is no host of the plan", p.key));
            }
        }
        for &(lo, hi) in p.udp {
            if lo > hi {
                problems.push(format!("{}: UDP range {lo}-{hi} is empty", p.key));
            }
        }
    }
    for key in
        DNS.iter()
            .map(|d| d.host)
            .chain([KAMAILIO.host, "expe_outside", "expe_inside", "expc"])
    {
        if host(key).is_none() {
            problems.push(format!("host key {key} is not in the plan"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_holds() {
        assert_eq!(check(), Vec::<String>::new());
    }

    #[test]
    fn every_address_is_in_the_benchmarking_block() {
        assert_eq!(BLOCK.to_string(), "198.18.0.0/15");
        let all = HOSTS
            .iter()
            .map(|h| h.addr)
            .chain(LINKS.iter().map(|l| l.network.addr))
            .chain(ROUTES.iter().map(|r| r.via))
            .chain(PORTS.iter().flat_map(|p| p.from.into_iter().chain(p.to)));
        for a in all {
            let [x, y, _, _] = a.octets();
            assert!(x == 198 && (y == 18 || y == 19), "{a}");
        }
    }

    #[test]
    fn networks_and_overlaps() {
        let n = |a, b, c, d, l| Net::new(Ipv4Addr::new(a, b, c, d), l);
        assert!(n(198, 18, 0, 0, 15).covers(n(198, 19, 255, 0, 24)));
        assert!(!n(198, 18, 0, 0, 15).contains(Ipv4Addr::new(198, 20, 0, 1)));
        assert!(!n(198, 18, 0, 0, 15).contains(Ipv4Addr::new(198, 17, 255, 255)));
        assert!(n(198, 18, 1, 0, 24).overlaps(n(198, 18, 1, 128, 25)));
        assert!(!n(198, 18, 1, 0, 24).overlaps(n(198, 18, 2, 0, 24)));
        assert!(!n(198, 18, 1, 1, 24).is_aligned());
        assert_eq!(
            n(198, 18, 2, 0, 24).broadcast(),
            Ipv4Addr::new(198, 18, 2, 255)
        );
        assert!(n(0, 0, 0, 0, 0).contains(Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn the_dmz_is_between_and_the_default_sources_are_the_c_and_client_a() {
        // internet ↔ dmz ↔ inside: the internet and the inside share no link.
        for l in &LINKS {
            let zones = [l.a.zone, l.b.zone];
            assert!(zones.contains(&Zone::Dmz), "{zones:?}");
        }
        assert_eq!(addresses(Zone::Inside, "to-dmz")[0], host_addr("expc"));
        assert_eq!(
            addresses(Zone::Internet, "to-dmz")[0],
            host_addr("client_a")
        );
        assert_eq!(
            addresses(Zone::Dmz, "to-internet"),
            [host_addr("expe_outside")]
        );
        assert_eq!(
            addresses(Zone::Dmz, "to-inside"),
            [host_addr("expe_inside")]
        );
        assert_eq!(INSIDE_TO_DMZ.from, Some(host_addr("expc")));
        assert_eq!(INSIDE_TO_DMZ.to, Some(host_addr("expe_inside")));
        assert_eq!(INTERNET_TO_DMZ.to, Some(host_addr("expe_outside")));
    }

    #[test]
    fn the_ports_are_the_guides() {
        // Inbound from the public internet to Expressway-E.
        assert_eq!(INTERNET_TO_DMZ.tcp, [5061, 8443, 5222]);
        assert_eq!(INTERNET_TO_DMZ.udp, [(36002, 59999)]);
        // Outbound from Expressway-C to Expressway-E.
        assert_eq!(INSIDE_TO_DMZ.tcp, [7001, 2222, 7400]);
        assert_eq!(INSIDE_TO_DMZ.udp, [(36000, 59999)]);
        assert!(DMZ_TO_INSIDE.tcp.is_empty() && DMZ_TO_INSIDE.udp.is_empty());
    }

    #[test]
    fn split_horizon() {
        let [outside, inside] = DNS;
        assert_eq!(outside.zone, Zone::Internet);
        assert_eq!(inside.zone, Zone::Inside);
        assert!(outside
            .srv
            .iter()
            .any(|s| s.0 == "_collab-edge._tls.example.test"));
        assert!(outside.absent.contains(&"_cisco-uds._tcp.example.test"));
        assert!(inside
            .srv
            .iter()
            .any(|s| s.0 == "_cisco-uds._tcp.example.test"));
        assert!(inside.absent.contains(&"_collab-edge._tls.example.test"));
        assert_eq!(Zone::Dmz.dns().view, "outside");
        for d in &DNS {
            assert_eq!(
                host(d.host).map(|h| h.zone),
                Some(d.zone),
                "{} DNS not in its zone",
                d.view
            );
        }
        assert_eq!(host(KAMAILIO.host).map(|h| h.zone), Some(KAMAILIO.zone));
    }
}
