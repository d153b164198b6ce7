//! Verdicts, the reasons the program counts them under, and the counters as user space reads
//! them.
//!
//! [`Reason`] mirrors `enum portico_reason` of `bpf/constants.h` number for number (the counters
//! map is indexed by it); the layout test checks there are as many of each, and the fixture
//! test checks each number moves on the packet meant for it.

use core::fmt;
use core::fmt::Write as _;

/// What the program did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Sent through the CPUMAP to the CPU of the worker that owns the port (`XDP_REDIRECT`).
    Redirect,
    /// Left to the kernel's stack on the CPU that received it (`XDP_PASS`).
    Pass,
    /// Dropped in the driver (`XDP_DROP`).
    Drop,
}

impl Verdict {
    /// The Prometheus label value: `redirect`, `pass` or `drop`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Redirect => "redirect",
            Verdict::Pass => "pass",
            Verdict::Drop => "drop",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why the program gave a frame its verdict: one counter each (`enum portico_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
#[non_exhaustive]
pub enum Reason {
    /// Redirect: allocated port, RTP/RTCP/STUN, to the owner's CPU.
    RedirectMedia = 0,
    /// Redirect: traversal port, multiplexed media or a keepalive, to the owner's CPU.
    RedirectTraversal = 1,
    /// Pass: would have been redirected, but steering is off.
    SteeringOff = 2,
    /// Pass: the owner's CPU has no CPUMAP entry (the kernel's fallback action).
    NoCpuEntry = 3,
    /// Pass: UDP to a port outside the media range that is neither allocated nor traversal.
    NotMediaPort = 4,
    /// Pass: IP but not UDP (TCP, ICMP, ICMPv6, AH, ESP, …).
    NotUdp = 5,
    /// Pass: neither IPv4 nor IPv6 (ARP, LLDP, …).
    NotIp = 6,
    /// Pass: an IP fragment, first or later (IPv4 MF/offset, IPv6 fragment header).
    Fragment = 7,
    /// Pass: more IPv6 extension headers than the program walks.
    Ipv6ExtLimit = 8,
    /// Pass: more VLAN tags than the program looks through.
    VlanTooDeep = 9,
    /// Drop: the source is banned and the ban has not expired.
    Banned = 10,
    /// Drop: a free port inside the media range.
    UnallocatedPort = 11,
    /// Drop: a quarantined port inside the media range.
    QuarantinedPort = 12,
    /// Drop: an allocated port, and the payload is not RTP, RTCP or STUN.
    NotRtp = 13,
    /// Drop: a traversal port, and the datagram is neither multiplexed media nor a keepalive.
    BadMux = 14,
    /// Drop: the source is over its rate to the media range.
    RateLimited = 15,
    /// Drop: the Ethernet or a VLAN header is cut off.
    MalformedL2 = 16,
    /// Drop: the IPv4 header is cut off or inconsistent (version, IHL < 5, total length).
    MalformedIpv4 = 17,
    /// Drop: the IPv6 header or an extension header is cut off or inconsistent.
    MalformedIpv6 = 18,
    /// Drop: the UDP header is cut off, or its length is under 8 or past the IP payload.
    MalformedUdp = 19,
}

impl Reason {
    /// Every reason, in counter-index order.
    pub const ALL: [Reason; 20] = [
        Reason::RedirectMedia,
        Reason::RedirectTraversal,
        Reason::SteeringOff,
        Reason::NoCpuEntry,
        Reason::NotMediaPort,
        Reason::NotUdp,
        Reason::NotIp,
        Reason::Fragment,
        Reason::Ipv6ExtLimit,
        Reason::VlanTooDeep,
        Reason::Banned,
        Reason::UnallocatedPort,
        Reason::QuarantinedPort,
        Reason::NotRtp,
        Reason::BadMux,
        Reason::RateLimited,
        Reason::MalformedL2,
        Reason::MalformedIpv4,
        Reason::MalformedIpv6,
        Reason::MalformedUdp,
    ];

    /// The index of its counter (the C enum value).
    pub fn index(self) -> u32 {
        self as u32
    }

    /// The reason with counter index `index`, if there is one.
    pub fn from_index(index: u32) -> Option<Reason> {
        Reason::ALL.get(index as usize).copied()
    }

    /// The verdict given for this reason.
    pub fn verdict(self) -> Verdict {
        match self {
            Reason::RedirectMedia | Reason::RedirectTraversal => Verdict::Redirect,
            Reason::SteeringOff
            | Reason::NoCpuEntry
            | Reason::NotMediaPort
            | Reason::NotUdp
            | Reason::NotIp
            | Reason::Fragment
            | Reason::Ipv6ExtLimit
            | Reason::VlanTooDeep => Verdict::Pass,
            Reason::Banned
            | Reason::UnallocatedPort
            | Reason::QuarantinedPort
            | Reason::NotRtp
            | Reason::BadMux
            | Reason::RateLimited
            | Reason::MalformedL2
            | Reason::MalformedIpv4
            | Reason::MalformedIpv6
            | Reason::MalformedUdp => Verdict::Drop,
        }
    }

    /// The Prometheus label value, e.g. `unallocated_port`.
    pub fn label(self) -> &'static str {
        match self {
            Reason::RedirectMedia => "media",
            Reason::RedirectTraversal => "traversal",
            Reason::SteeringOff => "steering_off",
            Reason::NoCpuEntry => "no_cpu_entry",
            Reason::NotMediaPort => "not_media_port",
            Reason::NotUdp => "not_udp",
            Reason::NotIp => "not_ip",
            Reason::Fragment => "fragment",
            Reason::Ipv6ExtLimit => "ipv6_ext_limit",
            Reason::VlanTooDeep => "vlan_too_deep",
            Reason::Banned => "banned",
            Reason::UnallocatedPort => "unallocated_port",
            Reason::QuarantinedPort => "quarantined_port",
            Reason::NotRtp => "not_rtp",
            Reason::BadMux => "bad_mux",
            Reason::RateLimited => "rate_limited",
            Reason::MalformedL2 => "malformed_l2",
            Reason::MalformedIpv4 => "malformed_ipv4",
            Reason::MalformedIpv6 => "malformed_ipv6",
            Reason::MalformedUdp => "malformed_udp",
        }
    }

    /// Both labels in Prometheus form: `verdict="drop",reason="unallocated_port"`.
    pub fn labels(self) -> String {
        format!(
            "verdict=\"{}\",reason=\"{}\"",
            self.verdict().label(),
            self.label()
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.verdict().label(), self.label())
    }
}

/// Frames and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    /// Frames.
    pub packets: u64,
    /// Bytes of those frames, Ethernet header included.
    pub bytes: u64,
}

/// One reason's counts: over all CPUs and per CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReasonCounts {
    /// The reason.
    pub reason: Reason,
    /// The sum over the CPUs.
    pub total: Count,
    /// Per possible CPU, indexed by CPU number.
    pub per_cpu: Vec<Count>,
}

/// A snapshot of every reason's counters ([`crate::XdpSteering::counters`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// One entry per reason, in [`Reason::ALL`] order.
    pub(crate) reasons: Vec<ReasonCounts>,
}

impl Counters {
    /// The counts of `reason`.
    pub fn get(&self, reason: Reason) -> Option<&ReasonCounts> {
        self.reasons.get(reason.index() as usize)
    }

    /// The total (over CPUs) of `reason`; zero if absent.
    pub fn total(&self, reason: Reason) -> Count {
        self.get(reason).map(|r| r.total).unwrap_or_default()
    }

    /// Every reason's counts, in [`Reason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = &ReasonCounts> {
        self.reasons.iter()
    }

    /// The sum over the reasons of one verdict.
    pub fn verdict_total(&self, verdict: Verdict) -> Count {
        self.reasons
            .iter()
            .filter(|r| r.reason.verdict() == verdict)
            .fold(Count::default(), |acc, r| Count {
                packets: acc.packets + r.total.packets,
                bytes: acc.bytes + r.total.bytes,
            })
    }

    /// The counters in the Prometheus text format: `xdp_packets_total` and `xdp_bytes_total`,
    /// labelled by `verdict` and `reason`, totals over the CPUs.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        for (metric, help, pick) in [
            (
                "xdp_packets_total",
                "Frames the XDP program judged, by verdict and reason.",
                (|c: Count| c.packets) as fn(Count) -> u64,
            ),
            (
                "xdp_bytes_total",
                "Bytes of the frames the XDP program judged, by verdict and reason.",
                |c: Count| c.bytes,
            ),
        ] {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "# HELP {metric} {help}");
            let _ = writeln!(out, "# TYPE {metric} counter");
            for r in &self.reasons {
                let _ = writeln!(out, "{metric}{{{}}} {}", r.reason.labels(), pick(r.total));
            }
        }
        out
    }
}

/// The XDP action a program run returned ([`crate::XdpSteering::test_run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestVerdict {
    /// `XDP_ABORTED` (0).
    Aborted,
    /// `XDP_DROP` (1).
    Drop,
    /// `XDP_PASS` (2).
    Pass,
    /// `XDP_TX` (3).
    Tx,
    /// `XDP_REDIRECT` (4).
    Redirect,
    /// Any other return value.
    Other(u32),
}

impl TestVerdict {
    /// The action for an XDP program's return value.
    pub fn from_action(action: u32) -> TestVerdict {
        match action {
            0 => TestVerdict::Aborted,
            1 => TestVerdict::Drop,
            2 => TestVerdict::Pass,
            3 => TestVerdict::Tx,
            4 => TestVerdict::Redirect,
            n => TestVerdict::Other(n),
        }
    }

    /// The [`Verdict`] this action is, for the three the program returns.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            TestVerdict::Redirect => Some(Verdict::Redirect),
            TestVerdict::Pass => Some(Verdict::Pass),
            TestVerdict::Drop => Some(Verdict::Drop),
            _ => None,
        }
    }
}

impl From<Verdict> for TestVerdict {
    fn from(v: Verdict) -> TestVerdict {
        match v {
            Verdict::Redirect => TestVerdict::Redirect,
            Verdict::Pass => TestVerdict::Pass,
            Verdict::Drop => TestVerdict::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_the_enum_order() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index() as usize, i, "{r:?}");
            assert_eq!(Reason::from_index(i as u32), Some(*r));
        }
        assert_eq!(Reason::from_index(Reason::ALL.len() as u32), None);
    }

    #[test]
    fn reasons_are_grouped_by_verdict() {
        // constants.h: redirects, then passes from REASON_FIRST_PASS (2), then drops from
        // REASON_FIRST_DROP (10): the program's reason_action() relies on that order.
        let order: Vec<Verdict> = Reason::ALL.iter().map(|r| r.verdict()).collect();
        assert!(order[..2].iter().all(|v| *v == Verdict::Redirect));
        assert!(order[2..10].iter().all(|v| *v == Verdict::Pass));
        assert!(order[10..].iter().all(|v| *v == Verdict::Drop));
    }

    #[test]
    fn labels_are_unique_and_prometheus_safe() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            let l = r.label();
            assert!(seen.insert(l), "duplicate label {l}");
            assert!(l
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
        }
        assert_eq!(
            Reason::UnallocatedPort.labels(),
            "verdict=\"drop\",reason=\"unallocated_port\""
        );
        assert_eq!(Verdict::Redirect.label(), "redirect");
        assert_eq!(Reason::NotIp.to_string(), "pass/not_ip");
    }

    #[test]
    fn prometheus_text() {
        let mut reasons: Vec<ReasonCounts> = Reason::ALL
            .iter()
            .map(|&reason| ReasonCounts {
                reason,
                total: Count::default(),
                per_cpu: vec![Count::default(); 2],
            })
            .collect();
        reasons[Reason::Banned.index() as usize].total = Count {
            packets: 3,
            bytes: 180,
        };
        let c = Counters { reasons };
        let text = c.prometheus();
        assert!(text.contains("xdp_packets_total{verdict=\"drop\",reason=\"banned\"} 3\n"));
        assert!(text.contains("xdp_bytes_total{verdict=\"drop\",reason=\"banned\"} 180\n"));
        assert!(text.contains("# TYPE xdp_packets_total counter\n"));
        assert_eq!(c.verdict_total(Verdict::Drop).packets, 3);
        assert_eq!(c.verdict_total(Verdict::Pass).packets, 0);
    }

    #[test]
    fn actions() {
        assert_eq!(TestVerdict::from_action(4), TestVerdict::Redirect);
        assert_eq!(TestVerdict::from_action(9), TestVerdict::Other(9));
        for v in [Verdict::Redirect, Verdict::Pass, Verdict::Drop] {
            assert_eq!(TestVerdict::from(v).verdict(), Some(v));
        }
        assert_eq!(TestVerdict::Aborted.verdict(), None);
    }
}
