//! The relay engine: a flow table of legs, and the verdict for each datagram.
//!
//! A call through a relay is a pair of **legs**, one per side. A leg owns a local RTP port (and an
//! RTCP port, unless RTCP is multiplexed on the RTP port, RFC 5761), optionally a multiplex id
//! (traversal framing, [`super::mux`]), the remote addresses it sends to, and an SRTP context
//! for each direction: `srtp_in` unprotects what arrives on the leg, `srtp_out` protects what
//! leaves through it. A datagram arriving on leg A goes through A's `srtp_in`, then the peer
//! B's `srtp_out`, and leaves from B's local port to B's remote. So the four transforms are:
//!
//! | A `srtp_in` | B `srtp_out` | transform |
//! |---|---|---|
//! | – | – | passthrough (the E role) |
//! | yes | – | SRTP → RTP (C role, outside to inside) |
//! | – | yes | RTP → SRTP (C role, inside to outside) |
//! | yes | yes | SRTP → SRTP with other keys |
//!
//! # Driving it (sans-IO)
//!
//! The driver owns the sockets. For each datagram received on local port `p` from `src` it calls
//! [`Relay::handle_datagram`] with the current time and the buffer, whose datagram starts at
//! `start` with at least [`HEADROOM`] bytes before it and [`TAILROOM`] bytes after it. The verdict
//! says whether to send `buf[start..start + len]` from local port `src_port` to `dst`, or why the
//! datagram was dropped (already counted). The driver calls [`Relay::handle_timeout`] when
//! [`Relay::poll_timeout`] says, and drains [`Relay::poll_event`] after each call: latching and
//! inactivity events for signaling.
//!
//! Nothing here allocates per datagram: the flow table is looked up by port (and multiplex id),
//! transforms work in place.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::classify::{classify, Kind};
use super::flow_table::{MuxTable, PortTable, PortUse};
use super::mux::{self, MuxDatagram, MUX_HEADER_LEN};
use crate::rtp::RtpHeader;
use crate::rtp_stats::{DropReason, FlowCounters, RtpReceiveStats};
use crate::srtp::Context;

/// Bytes the driver leaves free before each received datagram (room for a multiplex header).
pub const HEADROOM: usize = MUX_HEADER_LEN;
/// Bytes the driver leaves free after each received datagram (room for SRTP/SRTCP trailers: a
/// 16-byte tag, the 4-byte SRTCP index and an MKI of up to 16 bytes, rounded up).
pub const TAILROOM: usize = 64;

/// Which of a leg's two media streams a packet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    /// RTP.
    Rtp,
    /// RTCP.
    Rtcp,
}

/// How a leg learns and keeps the address it sends to (symmetric RTP, "latching").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatchPolicy {
    /// Latch to the source of the first packet that authenticates, and move to the source of
    /// any later authenticated packet from a new address (NAT rebinding, network change). Needs
    /// `srtp_in`. A packet that does not authenticate never moves the leg.
    Authenticated,
    /// Accept packets only from the signalled IP address; latch to the first one's address and
    /// port, then accept only that. Never moves.
    SignalledIp,
    /// Latch to the first packet from anywhere, then accept only that address. Never moves.
    FirstPacket,
    /// Never latch: send to the signalled address, accept packets only from it.
    Fixed,
}

/// What a leg is made of.
#[derive(Debug)]
pub struct LegConfig {
    /// Local port RTP arrives on and leaves from.
    pub rtp_port: u16,
    /// Local port for RTCP; `None` when RTCP shares the RTP port (RFC 5761).
    pub rtcp_port: Option<u16>,
    /// Multiplex id: datagrams arriving carry it, datagrams leaving get it. On a port listed in
    /// [`RelayConfig::mux_ports`] the id tells the legs apart.
    pub mux_id: Option<u32>,
    /// The RTP address signalling gave (SDP `c=`/`m=`), if any.
    pub signalled_rtp: Option<SocketAddr>,
    /// The RTCP address signalling gave; `None` means RTP port + 1 (or the RTP address with
    /// RTCP multiplexing).
    pub signalled_rtcp: Option<SocketAddr>,
    /// How the remote address is learnt.
    pub latch: LatchPolicy,
    /// Unprotects what arrives on this leg.
    pub srtp_in: Option<Context>,
    /// Protects what leaves through this leg.
    pub srtp_out: Option<Context>,
    /// RTP clock rate for jitter statistics (8000 for G.711).
    pub clock_rate: u32,
}

impl LegConfig {
    /// A plain leg on `rtp_port`/`rtp_port + 1` that sends to `signalled` and latches to the
    /// first packet from its IP.
    pub fn plain(rtp_port: u16, signalled: Option<SocketAddr>) -> LegConfig {
        LegConfig {
            rtp_port,
            rtcp_port: rtp_port.checked_add(1),
            mux_id: None,
            signalled_rtp: signalled,
            signalled_rtcp: None,
            latch: if signalled.is_some() {
                LatchPolicy::SignalledIp
            } else {
                LatchPolicy::FirstPacket
            },
            srtp_in: None,
            srtp_out: None,
            clock_rate: 8000,
        }
    }
}

/// Relay-wide settings.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Ports shared by many legs, told apart by multiplex id (E's traversal ports).
    pub mux_ports: Vec<u16>,
    /// A leg that receives nothing for this long raises [`Event::Inactive`].
    pub inactivity_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            mux_ports: Vec::new(),
            inactivity_timeout: Duration::from_secs(30),
        }
    }
}

/// Names a leg; stays unique for the relay's life (a released leg's id is never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LegId {
    index: u32,
    generation: u32,
}

impl LegId {
    /// The id as one number, for control protocols and logs.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The id a [`LegId::to_u64`] number names (the relay checks it names a live leg).
    pub fn from_u64(v: u64) -> LegId {
        LegId {
            index: v as u32,
            generation: (v >> 32) as u32,
        }
    }
}

/// Why a control request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayError {
    /// The port already belongs to another leg (or is a multiplexed port used without an id).
    PortInUse(u16),
    /// The multiplex id is already used on that port.
    MuxIdInUse(u16, u32),
    /// No such leg (never allocated, or released).
    UnknownLeg,
    /// The leg configuration does not hold together (named).
    BadConfig(&'static str),
}

impl core::fmt::Display for RelayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RelayError::PortInUse(p) => write!(f, "port {p} is already in use"),
            RelayError::MuxIdInUse(p, id) => {
                write!(f, "multiplex id {id} is already in use on port {p}")
            }
            RelayError::UnknownLeg => f.write_str("no such leg"),
            RelayError::BadConfig(what) => write!(f, "bad leg configuration: {what}"),
        }
    }
}

impl std::error::Error for RelayError {}

/// What signaling hears from the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A leg learnt its remote address for a component.
    Latched {
        /// The leg.
        leg: LegId,
        /// RTP or RTCP.
        component: Component,
        /// The address it now sends to.
        addr: SocketAddr,
    },
    /// An authenticated packet moved a leg to a new remote address.
    Relatched {
        /// The leg.
        leg: LegId,
        /// RTP or RTCP.
        component: Component,
        /// The address it sent to before.
        from: SocketAddr,
        /// The address it sends to now.
        to: SocketAddr,
    },
    /// A leg received nothing for the inactivity timeout (raised once until packets resume).
    Inactive {
        /// The leg.
        leg: LegId,
    },
}

/// Where to send a relayed datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The local port to send from.
    pub src_port: u16,
    /// The destination.
    pub dst: SocketAddr,
    /// Where the datagram to send starts in the buffer.
    pub start: usize,
    /// Its length.
    pub len: usize,
}

/// What to do with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Send `buf[start..start + len]` as the [`Transmit`] says.
    Forward(Transmit),
    /// A keepalive: nothing to send.
    Keepalive,
    /// Dropped, and counted under this reason.
    Drop(DropReason),
}

/// Per-leg statistics, as [`Relay::stats`] returns them.
#[derive(Clone, Debug)]
pub struct LegStats {
    /// What arrived on the leg (after its `srtp_in`), and what was dropped there.
    pub received: FlowCounters,
    /// What left through the leg.
    pub sent: FlowCounters,
    /// RFC 3550 receive statistics of the RTP that arrived.
    pub rtp: crate::rtp_stats::RtpReceiveSnapshot,
    /// The address RTP is sent to, latched or signalled.
    pub rtp_remote: Option<SocketAddr>,
    /// The address RTCP is sent to, latched or signalled.
    pub rtcp_remote: Option<SocketAddr>,
    /// Times an authenticated packet moved the leg.
    pub relatched: u64,
}

struct Leg {
    id: LegId,
    peer: Option<u32>,
    cfg: LegConfig,
    latched_rtp: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    received: FlowCounters,
    sent: FlowCounters,
    rtp_stats: RtpReceiveStats,
    relatched: u64,
    last_activity: Instant,
    inactive: bool,
}

impl Leg {
    fn signalled(&self, c: Component) -> Option<SocketAddr> {
        match c {
            Component::Rtp => self.cfg.signalled_rtp,
            Component::Rtcp => self.cfg.signalled_rtcp.or_else(|| {
                let rtp = self.cfg.signalled_rtp?;
                if self.cfg.rtcp_port.is_none() {
                    Some(rtp)
                } else {
                    Some(SocketAddr::new(rtp.ip(), rtp.port().checked_add(1)?))
                }
            }),
        }
    }

    fn latched(&self, c: Component) -> Option<SocketAddr> {
        match c {
            Component::Rtp => self.latched_rtp,
            Component::Rtcp => self.latched_rtcp,
        }
    }

    /// Where packets of `c` leaving through this leg go.
    fn remote(&self, c: Component) -> Option<SocketAddr> {
        if self.cfg.latch == LatchPolicy::Fixed {
            return self.signalled(c);
        }
        self.latched(c).or_else(|| self.signalled(c))
    }

    fn local_port(&self, c: Component) -> u16 {
        match c {
            Component::Rtp => self.cfg.rtp_port,
            Component::Rtcp => self.cfg.rtcp_port.unwrap_or(self.cfg.rtp_port),
        }
    }

    /// Whether a packet of `c` from `src` may be processed at all (before authentication).
    fn source_allowed(&self, c: Component, src: SocketAddr) -> bool {
        match self.cfg.latch {
            LatchPolicy::Authenticated => true,
            LatchPolicy::Fixed => self.signalled(c) == Some(src),
            LatchPolicy::FirstPacket => self.latched(c).is_none_or(|l| l == src),
            LatchPolicy::SignalledIp => match self.latched(c) {
                Some(l) => l == src,
                None => self.cfg.signalled_rtp.map(|s| s.ip()) == Some(src.ip()),
            },
        }
    }
}

/// The flow table and the per-datagram logic of one relay worker.
pub struct Relay {
    cfg: RelayConfig,
    legs: Vec<Option<Leg>>,
    free: Vec<u32>,
    generations: Vec<u32>,
    ports: PortTable,
    mux: MuxTable,
    events: VecDeque<Event>,
    /// No leg can turn inactive before this.
    next_timeout: Option<Instant>,
    unknown_flow: FlowCounters,
}

impl core::fmt::Debug for Relay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Relay")
            .field("legs", &self.leg_count())
            .field("ports", &self.ports.len())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// An empty relay.
    pub fn new(cfg: RelayConfig) -> Relay {
        let mut ports = PortTable::new();
        for &p in &cfg.mux_ports {
            ports.insert(p, PortUse::Mux);
        }
        Relay {
            cfg,
            legs: Vec::new(),
            free: Vec::new(),
            generations: Vec::new(),
            ports,
            mux: MuxTable::default(),
            events: VecDeque::new(),
            next_timeout: None,
            unknown_flow: FlowCounters::default(),
        }
    }

    /// Number of live legs.
    pub fn leg_count(&self) -> usize {
        self.legs.iter().filter(|l| l.is_some()).count()
    }

    /// Datagrams that arrived for no leg (unknown port or multiplex id, bad framing).
    pub fn unknown_flow_counters(&self) -> &FlowCounters {
        &self.unknown_flow
    }

    fn is_mux_port(&self, p: u16) -> bool {
        self.cfg.mux_ports.contains(&p)
    }

    fn check_leg(&self, c: &LegConfig, other: Option<&LegConfig>) -> Result<(), RelayError> {
        if c.latch == LatchPolicy::Authenticated && c.srtp_in.is_none() {
            return Err(RelayError::BadConfig(
                "Authenticated latching needs srtp_in",
            ));
        }
        if c.latch == LatchPolicy::Fixed && c.signalled_rtp.is_none() {
            return Err(RelayError::BadConfig(
                "Fixed latching needs a signalled address",
            ));
        }
        if c.latch == LatchPolicy::SignalledIp && c.signalled_rtp.is_none() {
            return Err(RelayError::BadConfig(
                "SignalledIp latching needs a signalled address",
            ));
        }
        if c.rtcp_port == Some(c.rtp_port) {
            return Err(RelayError::BadConfig(
                "RTCP port equals RTP port: use rtcp_port None",
            ));
        }
        let mut ports = vec![c.rtp_port];
        ports.extend(c.rtcp_port);
        for p in ports {
            if self.is_mux_port(p) {
                let Some(id) = c.mux_id else {
                    return Err(RelayError::PortInUse(p));
                };
                if self.mux.contains_key(&(p, id)) {
                    return Err(RelayError::MuxIdInUse(p, id));
                }
            } else if self.ports.contains(p) {
                return Err(RelayError::PortInUse(p));
            }
            if let Some(o) = other {
                let theirs = [Some(o.rtp_port), o.rtcp_port];
                if theirs.contains(&Some(p)) && !(self.is_mux_port(p) && o.mux_id != c.mux_id) {
                    return Err(RelayError::PortInUse(p));
                }
            }
        }
        Ok(())
    }

    fn insert_leg(&mut self, cfg: LegConfig, now: Instant) -> u32 {
        let index = self.free.pop().unwrap_or_else(|| {
            self.legs.push(None);
            self.generations.push(0);
            (self.legs.len() - 1) as u32
        });
        let generation = self.generations[index as usize];
        let id = LegId { index, generation };
        for p in [Some(cfg.rtp_port), cfg.rtcp_port].into_iter().flatten() {
            if self.is_mux_port(p) {
                if let Some(mux_id) = cfg.mux_id {
                    self.mux.insert((p, mux_id), index);
                }
            } else {
                self.ports.insert(p, PortUse::Leg(index));
            }
        }
        let rtp_stats = RtpReceiveStats::new(cfg.clock_rate.max(1));
        self.legs[index as usize] = Some(Leg {
            id,
            peer: None,
            cfg,
            latched_rtp: None,
            latched_rtcp: None,
            received: FlowCounters::default(),
            sent: FlowCounters::default(),
            rtp_stats,
            relatched: 0,
            last_activity: now,
            inactive: false,
        });
        let deadline = now + self.cfg.inactivity_timeout;
        self.next_timeout = Some(self.next_timeout.map_or(deadline, |t| t.min(deadline)));
        index
    }

    /// Creates the two legs of a call and connects them. Both or neither are created.
    pub fn allocate(
        &mut self,
        now: Instant,
        a: LegConfig,
        b: LegConfig,
    ) -> Result<(LegId, LegId), RelayError> {
        self.check_leg(&a, None)?;
        self.check_leg(&b, Some(&a))?;
        let ia = self.insert_leg(a, now);
        let ib = self.insert_leg(b, now);
        let (ida, idb) = {
            let la = self.legs[ia as usize].as_mut().map(|l| {
                l.peer = Some(ib);
                l.id
            });
            let lb = self.legs[ib as usize].as_mut().map(|l| {
                l.peer = Some(ia);
                l.id
            });
            (la, lb)
        };
        match (ida, idb) {
            (Some(x), Some(y)) => Ok((x, y)),
            _ => Err(RelayError::UnknownLeg),
        }
    }

    fn index_of(&self, id: LegId) -> Result<usize, RelayError> {
        let i = id.index as usize;
        match self.legs.get(i) {
            Some(Some(l)) if l.id == id => Ok(i),
            _ => Err(RelayError::UnknownLeg),
        }
    }

    /// Releases a call: the leg and its peer, their ports and multiplex ids.
    pub fn release(&mut self, id: LegId) -> Result<(), RelayError> {
        let i = self.index_of(id)?;
        let peer = self.legs[i].as_ref().and_then(|l| l.peer);
        for index in [Some(i as u32), peer].into_iter().flatten() {
            let Some(leg) = self.legs[index as usize].take() else {
                continue;
            };
            let mut ports = vec![leg.cfg.rtp_port];
            ports.extend(leg.cfg.rtcp_port);
            for p in ports {
                if self.is_mux_port(p) {
                    if let Some(mux_id) = leg.cfg.mux_id {
                        self.mux.remove(&(p, mux_id));
                    }
                } else {
                    self.ports.remove(p);
                }
            }
            self.generations[index as usize] = self.generations[index as usize].wrapping_add(1);
            self.free.push(index);
        }
        Ok(())
    }

    /// Replaces a leg's signalled addresses (a re-INVITE); latched addresses are forgotten so
    /// the leg latches again.
    pub fn update_remote(
        &mut self,
        id: LegId,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), RelayError> {
        let i = self.index_of(id)?;
        if let Some(leg) = self.legs[i].as_mut() {
            leg.cfg.signalled_rtp = rtp;
            leg.cfg.signalled_rtcp = rtcp;
            leg.latched_rtp = None;
            leg.latched_rtcp = None;
        }
        Ok(())
    }

    /// Replaces a leg's SRTP contexts (new keys after a re-INVITE).
    pub fn update_keys(
        &mut self,
        id: LegId,
        srtp_in: Option<Context>,
        srtp_out: Option<Context>,
    ) -> Result<(), RelayError> {
        let i = self.index_of(id)?;
        if let Some(leg) = self.legs[i].as_mut() {
            if leg.cfg.latch == LatchPolicy::Authenticated && srtp_in.is_none() {
                return Err(RelayError::BadConfig(
                    "Authenticated latching needs srtp_in",
                ));
            }
            leg.cfg.srtp_in = srtp_in;
            leg.cfg.srtp_out = srtp_out;
        }
        Ok(())
    }

    /// A snapshot of a leg's statistics.
    pub fn stats(&self, id: LegId) -> Result<LegStats, RelayError> {
        let leg = self.legs[self.index_of(id)?]
            .as_ref()
            .ok_or(RelayError::UnknownLeg)?;
        Ok(LegStats {
            received: leg.received,
            sent: leg.sent,
            rtp: leg.rtp_stats.snapshot(),
            rtp_remote: leg.remote(Component::Rtp),
            rtcp_remote: leg.remote(Component::Rtcp),
            relatched: leg.relatched,
        })
    }

    /// The next event for signaling, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Relay::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    /// Raises [`Event::Inactive`] for legs silent for the inactivity timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.cfg.inactivity_timeout;
        let mut next: Option<Instant> = None;
        for leg in self.legs.iter_mut().flatten() {
            if leg.inactive {
                continue;
            }
            let deadline = leg.last_activity + timeout;
            if deadline <= now {
                leg.inactive = true;
                self.events.push_back(Event::Inactive { leg: leg.id });
            } else {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        self.next_timeout = next;
    }

    /// Decides what happens to the datagram `buf[start..start + len]` that arrived on local
    /// port `port` from `src`: transforms it in place and says where to send it, or drops and
    /// counts it. `buf` must hold [`HEADROOM`] bytes before `start` and [`TAILROOM`] after the
    /// datagram; without them a datagram that needs the room is dropped (counted as
    /// [`DropReason::Other`]).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        port: u16,
        src: SocketAddr,
        buf: &mut [u8],
        start: usize,
        len: usize,
    ) -> Verdict {
        let Some(datagram) = start.checked_add(len).and_then(|end| buf.get(start..end)) else {
            return self.drop_unknown(now, DropReason::Other);
        };
        let (mut start, mut len) = (start, len);
        // 1. Which leg: by port, then by multiplex id.
        let index = match self.ports.get(port) {
            None => return self.drop_unknown(now, DropReason::UnknownFlow),
            Some(PortUse::Mux) => match mux::parse(datagram) {
                MuxDatagram::Keepalive => return self.mux_keepalive(port, src, datagram),
                MuxDatagram::Media { id, .. } => match self.mux.get(&(port, id)) {
                    Some(&i) => {
                        start += MUX_HEADER_LEN;
                        len -= MUX_HEADER_LEN;
                        i
                    }
                    None => return self.drop_unknown(now, DropReason::UnknownFlow),
                },
            },
            Some(PortUse::Leg(i)) => {
                let framed = self.legs[i as usize].as_ref().and_then(|l| l.cfg.mux_id);
                if let Some(expected) = framed {
                    match mux::parse(datagram) {
                        MuxDatagram::Keepalive => return Verdict::Keepalive,
                        MuxDatagram::Media { id, .. } if id == expected => {
                            start += MUX_HEADER_LEN;
                            len -= MUX_HEADER_LEN;
                        }
                        MuxDatagram::Media { .. } => {
                            return self.drop_on(i, now, DropReason::MuxFraming)
                        }
                    }
                }
                i
            }
        };
        // 2. What it is: RTP or RTCP, nothing else is relayed. The packet says which, not the
        // port: some endpoints multiplex RTCP without saying so.
        let component = match classify(&buf[start..start + len]) {
            Ok(Kind::Rtp) => Component::Rtp,
            Ok(Kind::Rtcp) => Component::Rtcp,
            Ok(_) => return self.drop_on(index, now, DropReason::NotRtp),
            Err(super::classify::ClassifyError::TooShort) => {
                return self.drop_on(index, now, DropReason::TooShort)
            }
            Err(_) => return self.drop_on(index, now, DropReason::NotRtp),
        };
        let Some(leg) = self.legs[index as usize].as_mut() else {
            return self.drop_unknown(now, DropReason::UnknownFlow);
        };
        // 3. Source check, before any crypto.
        if !leg.source_allowed(component, src) {
            leg.received.on_drop(DropReason::UnexpectedSource, now);
            return Verdict::Drop(DropReason::UnexpectedSource);
        }
        // 4. Inbound transform.
        if let Some(ctx) = leg.cfg.srtp_in.as_mut() {
            let pkt = &mut buf[start..start + len];
            let r = match component {
                Component::Rtp => ctx.unprotect_rtp(pkt),
                Component::Rtcp => ctx.unprotect_rtcp(pkt),
            };
            match r {
                Ok(n) => len = n,
                Err(e) => {
                    let reason = DropReason::from(e);
                    leg.received.on_drop(reason, now);
                    return Verdict::Drop(reason);
                }
            }
        }
        // 5. Latching: the packet is accepted (authenticated where the leg can tell).
        let leg_id = leg.id;
        match leg.latched(component) {
            None if leg.cfg.latch != LatchPolicy::Fixed => {
                set_latch(leg, component, src);
                self.events.push_back(Event::Latched {
                    leg: leg_id,
                    component,
                    addr: src,
                });
            }
            Some(old) if old != src && leg.cfg.latch == LatchPolicy::Authenticated => {
                set_latch(leg, component, src);
                leg.relatched += 1;
                self.events.push_back(Event::Relatched {
                    leg: leg_id,
                    component,
                    from: old,
                    to: src,
                });
            }
            _ => {}
        }
        // 6. Receive statistics on the plaintext.
        leg.received.on_packet(len, now);
        leg.last_activity = now;
        if std::mem::replace(&mut leg.inactive, false) {
            // The leg spoke again: it can go quiet again, so the timer must cover it.
            let deadline = now + self.cfg.inactivity_timeout;
            self.next_timeout = Some(self.next_timeout.map_or(deadline, |t| t.min(deadline)));
        }
        if component == Component::Rtp {
            if let Ok(h) = RtpHeader::new_checked(&buf[start..start + len]) {
                let _ = leg.rtp_stats.on_packet(h.sequence(), h.timestamp(), now);
            }
        }
        let Some(peer_index) = leg.peer else {
            leg.received.on_drop(DropReason::UnknownFlow, now);
            return Verdict::Drop(DropReason::UnknownFlow);
        };
        // 7. Outbound transform through the peer.
        let Some(peer) = self.legs[peer_index as usize].as_mut() else {
            return Verdict::Drop(DropReason::UnknownFlow);
        };
        let Some(dst) = peer.remote(component) else {
            peer.sent.on_drop(DropReason::NoRemote, now);
            return Verdict::Drop(DropReason::NoRemote);
        };
        if let Some(ctx) = peer.cfg.srtp_out.as_mut() {
            let room = &mut buf[start..];
            let r = match component {
                Component::Rtp => ctx.protect_rtp(room, len),
                Component::Rtcp => ctx.protect_rtcp(room, len),
            };
            match r {
                Ok(n) => len = n,
                Err(e) => {
                    let reason = DropReason::from(e);
                    peer.sent.on_drop(reason, now);
                    return Verdict::Drop(reason);
                }
            }
        }
        if let Some(id) = peer.cfg.mux_id {
            if start < MUX_HEADER_LEN {
                peer.sent.on_drop(DropReason::Other, now);
                return Verdict::Drop(DropReason::Other);
            }
            start -= MUX_HEADER_LEN;
            len += MUX_HEADER_LEN;
            buf[start..start + MUX_HEADER_LEN].copy_from_slice(&mux::header(id));
        }
        peer.sent.on_packet(len, now);
        Verdict::Forward(Transmit {
            src_port: peer.local_port(component),
            dst,
            start,
            len,
        })
    }

    /// A keepalive on a multiplexed port: when it carries a known multiplex id (its first four
    /// bytes), the leg latches to its source if it has not latched yet, as it would to media.
    /// C sends one from each of its ports when a call's traversal leg opens, so that E can send
    /// toward C before any media came from there (the inner firewall lets E's datagrams in as
    /// replies to it).
    fn mux_keepalive(&mut self, port: u16, src: SocketAddr, datagram: &[u8]) -> Verdict {
        let Some(&[a, b, c, d]) = datagram.get(..MUX_HEADER_LEN) else {
            return Verdict::Keepalive;
        };
        let id = u32::from_be_bytes([a, b, c, d]);
        let Some(&i) = self.mux.get(&(port, id)) else {
            return Verdict::Keepalive;
        };
        let Some(leg) = self.legs.get_mut(i as usize).and_then(Option::as_mut) else {
            return Verdict::Keepalive;
        };
        let component = if port == leg.cfg.rtp_port {
            Component::Rtp
        } else {
            Component::Rtcp
        };
        let may_latch = matches!(
            leg.cfg.latch,
            LatchPolicy::FirstPacket | LatchPolicy::SignalledIp
        );
        if may_latch && leg.latched(component).is_none() && leg.source_allowed(component, src) {
            set_latch(leg, component, src);
            let leg_id = leg.id;
            self.events.push_back(Event::Latched {
                leg: leg_id,
                component,
                addr: src,
            });
        }
        Verdict::Keepalive
    }

    /// Counts a datagram that arrived on local port `port` too long for the driver's buffer
    /// (the kernel cut it off; `head` is what was kept) against the leg it was for, as
    /// [`DropReason::TooLong`]. Nothing of it is relayed.
    pub fn drop_oversized(&mut self, now: Instant, port: u16, head: &[u8]) -> Verdict {
        let index = match self.ports.get(port) {
            Some(PortUse::Leg(i)) => Some(i),
            Some(PortUse::Mux) => match mux::parse(head) {
                MuxDatagram::Media { id, .. } => self.mux.get(&(port, id)).copied(),
                MuxDatagram::Keepalive => None,
            },
            None => None,
        };
        match index {
            Some(i) => self.drop_on(i, now, DropReason::TooLong),
            None => self.drop_unknown(now, DropReason::TooLong),
        }
    }

    fn drop_unknown(&mut self, now: Instant, reason: DropReason) -> Verdict {
        self.unknown_flow.on_drop(reason, now);
        Verdict::Drop(reason)
    }

    fn drop_on(&mut self, index: u32, now: Instant, reason: DropReason) -> Verdict {
        match self.legs[index as usize].as_mut() {
            Some(l) => l.received.on_drop(reason, now),
            None => self.unknown_flow.on_drop(reason, now),
        }
        Verdict::Drop(reason)
    }
}

fn set_latch(leg: &mut Leg, c: Component, addr: SocketAddr) {
    match c {
        Component::Rtp => {
            leg.latched_rtp = Some(addr);
            if leg.cfg.rtcp_port.is_none() && leg.latched_rtcp.is_none() {
                leg.latched_rtcp = Some(addr);
            }
        }
        Component::Rtcp => leg.latched_rtcp = Some(addr),
    }
}
