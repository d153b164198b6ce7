//! XDP steering for the portico media plane.
//!
//! The media relay runs one worker thread per core, each owning its flows' UDP sockets. This
//! crate owns the XDP program that keeps that promise at the driver: **packets for a media flow
//! reach the core that owns it, and what is not media for a live flow dies at the driver.**
//!
//! It holds:
//! - the program, in C (`bpf/`, laid out like katran's `lib/bpf`: `constants.h` with every
//!   limit overridable by `-D`, `structs.h`, `maps.h`, `helpers.h`, `parse.h`, one entry point
//!   `portico_xdp.c`), built by `build.rs` with `clang -O2 -g -target bpf` and embedded;
//! - the map key and value types shared with it ([`maps`]), checked against the program's BTF;
//! - [`XdpSteering`], the safe API over aya that loads it, attaches it, and writes its maps;
//! - [`XdpPortTable`], which keeps the port table in step with a `media::runtime::MediaPlane`
//!   (its `PortObserver`).
//!
//! # Driving it
//!
//! Load once with the media range and the workers' CPUs, attach to the interfaces that carry
//! media, then keep the port table in step with the media plane's allocator: a port is
//! [`PortState::Allocated`] while a flow holds it, [`PortState::Quarantined`] while it waits out
//! its quarantine, [`PortState::Free`] after; the traversal ports are [`PortState::Traversal`].
//! Read [`XdpSteering::counters`] for metrics. Dropping the value detaches everything.
//!
//! ```no_run
//! use ebpf::{AttachMode, PortState, XdpConfig, XdpSteering};
//!
//! let cfg = XdpConfig { cpus: vec![0, 1], ..XdpConfig::default() };
//! let mut xdp = match XdpSteering::load(&cfg) {
//!     Ok(x) => x,
//!     Err(e) => {
//!         eprintln!("running without XDP: {e}");
//!         return Ok(());
//!     }
//! };
//! let mode = xdp.attach("eth0", AttachMode::Auto)?;
//! xdp.set_port(36000, PortState::Traversal { cpu: 0 })?;
//! xdp.set_port(40000, PortState::Allocated { cpu: 1 })?;
//! xdp.set_port(40001, PortState::Allocated { cpu: 1 })?;
//! // … the call ends:
//! xdp.set_port(40000, PortState::Quarantined)?;
//! print!("{}", xdp.counters()?.prometheus());
//! # let _ = mode;
//! # Ok::<(), ebpf::XdpError>(())
//! ```
//!
//! Loading needs `CAP_BPF` (or root), attaching `CAP_NET_ADMIN`; [`unavailable_reason`] and
//! [`XdpError::is_unavailable`] tell "XDP cannot run here" from a bug.
//!
//! # Verdicts
//!
//! In the order the program decides (the reason is the counter's `reason` label):
//!
//! | frame | verdict | reason |
//! |---|---|---|
//! | Ethernet or VLAN header cut off | drop | `malformed_l2` |
//! | more than 2 VLAN tags | pass | `vlan_too_deep` |
//! | neither IPv4 nor IPv6 (ARP, LLDP, …) | pass | `not_ip` |
//! | IPv4 cut off, version ≠ 4, IHL < 5, total length < header or > frame | drop | `malformed_ipv4` |
//! | IPv6 cut off, version ≠ 6, payload length > frame | drop | `malformed_ipv6` |
//! | source banned (not expired): any protocol, any port | drop | `banned` |
//! | IPv6 extension header cut off or past the payload | drop | `malformed_ipv6` |
//! | more than 4 IPv6 extension headers | pass | `ipv6_ext_limit` |
//! | a fragment (IPv4 MF or offset ≠ 0; IPv6 fragment header) | pass | `fragment` |
//! | not UDP (TCP, ICMP, ICMPv6, AH, ESP, …) | pass | `not_udp` |
//! | UDP header cut off, UDP length < 8 or past the IP payload | drop | `malformed_udp` |
//! | allocated port, payload not RTP/RTCP/STUN | drop | `not_rtp` |
//! | allocated port in the media range, source over its rate | drop | `rate_limited` |
//! | allocated port | redirect | `media` |
//! | traversal port, neither framed RTP/RTCP nor a keepalive | drop | `bad_mux` |
//! | traversal port | redirect | `traversal` |
//! | … a redirect with steering off | pass | `steering_off` |
//! | … a redirect to a CPU without a CPUMAP entry | pass | `no_cpu_entry` |
//! | free port in the media range | drop | `unallocated_port` |
//! | quarantined port in the media range | drop | `quarantined_port` |
//! | any other UDP port | pass | `not_media_port` |
//!
//! Payload shapes: RTP/RTCP is version 2 in the top bits of byte 0, at least 12 bytes (RTP) or
//! 8 (RTCP, told apart by a second byte in 192–223, RFC 5761 §4); STUN is a first byte 0–3
//! (RFC 7983 §7), the magic cookie `0x2112A442` at bytes 4–7 and the 20-byte header (RFC 5389
//! §6). On a traversal port a datagram under 16 bytes is a keepalive, and a longer one must be a
//! 4-byte multiplex id then an RTP/RTCP-shaped packet. These are the relay's own rules
//! (`media::relay::classify`, `media::relay::mux`), less what the relay would drop anyway (ZRTP,
//! DTLS, TURN channel data on a plain media port; unframed STUN on a traversal port).
//!
//! Steering off turns redirects into passes and changes nothing else. The rate limit (a token
//! bucket per source, GCRA form, state in an LRU map) applies to allocated ports inside the
//! media range only: a traversal port carries every call of one peer edge. Bans are timed in
//! `CLOCK_MONOTONIC` (the clock of `bpf_ktime_get_ns`); the program ignores an expired ban,
//! and [`XdpSteering::purge_expired_bans`] deletes them.
//!
//! # Fragments, options, extension headers, VLANs
//!
//! - **IPv4 options** (IHL > 5) are skipped: the UDP header is found at IHL × 4 and the packet
//!   is judged like any other.
//! - **Fragments** (IPv4 with MF set or a non-zero offset, IPv6 with a fragment header) are
//!   passed: a later fragment carries no UDP header to judge, and the stack reassembles them
//!   under its own limits. Media is not fragmented in practice. A banned source's fragments are
//!   dropped (the ban check comes first).
//! - **IPv6 extension headers**: hop-by-hop, routing and destination options are walked, up
//!   to 4 (`PORTICO_MAX_IPV6_EXT`), each checked to lie inside the payload; a fragment header
//!   ends the walk (a fragment: passed). More than 4: passed for the stack to judge.
//! - **VLAN tags**: up to 2 (`PORTICO_MAX_VLAN_DEPTH`) 802.1Q (0x8100) or 802.1ad (0x88A8)
//!   tags are looked through, not removed: a redirected frame keeps its tags and the stack on
//!   the target CPU hands it to the VLAN device as it would without XDP. More tags: passed.
//!   (With VLAN offload on, the driver has usually removed the outer tag before XDP runs.)
//! - **Malformed** headers are dropped: they are ones the kernel's receive path would drop
//!   too (cut off, IHL < 5, lengths that contradict the frame), so only the cost changes.
//!   Bytes after the IP datagram (Ethernet padding) are allowed.
//!
//! # Counters
//!
//! Per CPU, per reason, packets and bytes ([`Counters`]); [`Counters::prometheus`] writes
//! `xdp_packets_total{verdict="drop",reason="unallocated_port"}` and `xdp_bytes_total`.

mod config;
mod error;
pub mod maps;
mod plane;
mod program;
mod steering;
mod verdict;

pub use config::{AttachMode, AttachedMode, PortState, XdpConfig, MAX_CPUMAP_QSIZE};
pub use error::XdpError;
pub use plane::{port_state, XdpPortTable};
pub use program::{OBJECT, PROGRAM};
pub use steering::{monotonic_now_ns, unavailable_reason, XdpSteering, TEST_RUN_MIN_FRAME};
pub use verdict::{Count, Counters, Reason, ReasonCounts, TestVerdict, Verdict};
