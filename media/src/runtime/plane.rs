//! The media plane of a node: its media workers, the media port range they share, and the
//! multiplexed traversal pairs they split between them.
//!
//! Signaling (and `edge relay`) drives media through a [`MediaPlane`]: it asks for a call of two
//! legs, each leg either on a pair of ports from the media range ([`LegPorts::Allocate`]), on a
//! multiplexed traversal pair with a multiplex id ([`LegPorts::Mux`]), or on ports it names
//! itself outside the range ([`LegPorts::Fixed`]). The plane
//!
//! - picks the worker: the one owning the traversal pair when a leg is multiplexed (each pair
//!   belongs to one worker, pairs are dealt out round robin), else the worker with the fewest
//!   calls;
//! - takes port pairs from the [`PortAllocator`] (the traversal pairs are reserved in it), and
//!   gives them back on release, where they wait out the quarantine before reuse;
//! - answers [`PlaneError::Exhausted`] when the range has no free pair, with the time until the
//!   first quarantined pair comes free, which signaling turns into `503` with `Retry-After`;
//! - names each leg with a [`LegRef`], one number that stays unique for the plane's life, and
//!   reports the workers' events (latched, relatched, inactive) under those names.
//!
//! The plane's bookkeeping sits behind one mutex, taken only on the control path (allocate,
//! release, update, stats, events), never by a worker: the packet path stays lock-free. The
//! lock is not held while a worker binds sockets.
//!
//! A [`PortObserver`] (the XDP program's port table, say) hears which ports have a socket and
//! on which worker's CPU, and which were released into quarantine, in the order it happens.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{
    AllocFailure, BackendChoice, ControlError, IoCounters, Worker, WorkerConfig, WorkerInfo,
};
use crate::relay::engine::{Event, LegConfig, LegId, LegStats, RelayConfig};
use crate::relay::port_alloc::{
    AllocError, ConfigError, PortAllocator, PortAllocatorConfig, PortPair, PortRange, PortStats,
};
use crate::srtp::Context;

/// How a plane is set up.
#[derive(Clone, Debug)]
pub struct PlaneConfig {
    /// The address media sockets bind to.
    pub bind_ip: IpAddr,
    /// One worker per entry, pinned to that CPU (`None`: not pinned).
    pub cores: Vec<Option<usize>>,
    /// The I/O backend of every worker.
    pub backend: BackendChoice,
    /// Datagrams per receive batch.
    pub batch: usize,
    /// The media range, ports kept out of it, and the quarantine of released pairs. The
    /// traversal pairs are added to the reserved ports by the plane.
    pub ports: PortAllocatorConfig,
    /// The multiplexed traversal pairs, each named by its RTP port (even; RTCP is the next
    /// port). Dealt out to the workers round robin.
    pub mux_pairs: Vec<u16>,
    /// A leg that receives nothing for this long is reported inactive.
    pub inactivity_timeout: Duration,
}

impl Default for PlaneConfig {
    fn default() -> Self {
        PlaneConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            cores: vec![None],
            backend: BackendChoice::Auto,
            batch: 32,
            ports: PortAllocatorConfig {
                range: crate::relay::port_alloc::DEFAULT_MEDIA_RANGE,
                reserved: Vec::new(),
                quarantine: Duration::from_secs(2),
            },
            mux_pairs: Vec::new(),
            inactivity_timeout: RelayConfig::default().inactivity_timeout,
        }
    }
}

/// Where a leg's ports come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegPorts {
    /// A pair from the media range: RTP on the even port, RTCP on the odd one, or, with
    /// `rtcp_mux`, RTCP on the RTP port too (RFC 5761; the odd port is kept idle).
    Allocate {
        /// RTCP shares the RTP port.
        rtcp_mux: bool,
    },
    /// A multiplexed traversal pair (RTP on its even port, RTCP on the odd one), told apart
    /// from the other legs on it by a multiplex id.
    Mux {
        /// The pair (its RTP port); `None`: the plane picks one.
        pair: Option<u16>,
        /// The multiplex id (given by the peer that demultiplexes); `None`: the plane picks an
        /// unused one.
        id: Option<u32>,
    },
    /// Ports the caller names, outside the media range (tests, fixed set-ups).
    Fixed {
        /// The RTP port.
        rtp: u16,
        /// The RTCP port; `None`: RTCP shares the RTP port.
        rtcp: Option<u16>,
    },
}

/// One leg of a call to set up: where its ports come from, and the rest of its configuration
/// (the plane fills in `rtp_port`, `rtcp_port` and `mux_id`).
#[derive(Debug)]
pub struct LegRequest {
    /// Where the ports come from.
    pub ports: LegPorts,
    /// Addresses, latching, SRTP contexts, clock rate.
    pub leg: LegConfig,
}

/// Which leg of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first leg given to [`MediaPlane::allocate`].
    A,
    /// The second.
    B,
}

/// A leg of a call, named for control protocols and logs: one number, unique for the plane's
/// life (`call << 1 | side`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LegRef(u64);

impl LegRef {
    fn new(call: u64, side: Side) -> LegRef {
        LegRef(call << 1 | u64::from(side == Side::B))
    }

    /// The call this leg belongs to.
    pub fn call(self) -> u64 {
        self.0 >> 1
    }

    /// Which leg of its call.
    pub fn side(self) -> Side {
        if self.0 & 1 == 1 {
            Side::B
        } else {
            Side::A
        }
    }

    /// The other leg of the same call.
    pub fn peer(self) -> LegRef {
        LegRef(self.0 ^ 1)
    }

    /// As one number.
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// The leg a [`LegRef::to_u64`] number names (the plane checks it is live).
    pub fn from_u64(v: u64) -> LegRef {
        LegRef(v)
    }
}

/// What one leg got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegPlacement {
    /// Its name.
    pub leg: LegRef,
    /// The local RTP port.
    pub rtp_port: u16,
    /// The local RTCP port (`None`: RTCP on the RTP port).
    pub rtcp_port: Option<u16>,
    /// The multiplex id, on a multiplexed leg.
    pub mux_id: Option<u32>,
}

/// A call set up by [`MediaPlane::allocate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLegs {
    /// The worker (index into the plane's workers) that carries the call.
    pub worker: usize,
    /// Leg A and leg B.
    pub legs: [LegPlacement; 2],
}

/// Why the plane refused a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlaneError {
    /// The configuration does not hold together (named).
    Config(String),
    /// No free pair in the media range (signaling answers 503, with `Retry-After` when a pair
    /// is in quarantine).
    Exhausted(AllocError),
    /// The request does not hold together (named): API misuse, not a load problem.
    BadRequest(String),
    /// The multiplex id is already used on that traversal pair.
    MuxIdInUse {
        /// The pair's RTP port.
        pair: u16,
        /// The id.
        id: u32,
    },
    /// No such leg (never allocated, or released).
    UnknownLeg,
    /// A worker refused or failed the request.
    Worker(ControlError),
}

impl core::fmt::Display for PlaneError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlaneError::Config(what) => write!(f, "media plane configuration: {what}"),
            PlaneError::Exhausted(e) => write!(f, "{e}"),
            PlaneError::BadRequest(what) => write!(f, "{what}"),
            PlaneError::MuxIdInUse { pair, id } => {
                write!(
                    f,
                    "multiplex id {id} is already in use on traversal pair {pair}"
                )
            }
            PlaneError::UnknownLeg => f.write_str("no such leg"),
            PlaneError::Worker(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PlaneError {}

impl From<ControlError> for PlaneError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::Relay(crate::relay::engine::RelayError::UnknownLeg) => {
                PlaneError::UnknownLeg
            }
            e => PlaneError::Worker(e),
        }
    }
}

/// A worker's event, under the plane's name for the leg (`event`'s own leg field is the
/// worker's internal id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneEvent {
    /// The leg.
    pub leg: LegRef,
    /// What happened.
    pub event: Event,
}

/// One worker's figures.
#[derive(Clone, Copy, Debug)]
pub struct WorkerStats {
    /// Backend and core.
    pub info: WorkerInfo,
    /// Its I/O loop's counters (`None` if it did not answer).
    pub io: Option<IoCounters>,
    /// Calls it carries.
    pub calls: usize,
}

/// The plane's figures, for the admin API and `/metrics`.
#[derive(Clone, Debug)]
pub struct PlaneStats {
    /// Per worker.
    pub workers: Vec<WorkerStats>,
    /// The port allocator's counters.
    pub ports: PortStats,
    /// Pairs in use now.
    pub ports_in_use: usize,
    /// Pairs in quarantine now.
    pub ports_in_quarantine: usize,
    /// Pairs that could be handed out now.
    pub ports_available: usize,
    /// Every pair of the range.
    pub ports_capacity: usize,
    /// Allocated pairs that could not be bound (another program holds the port): set aside in
    /// quarantine and another pair taken.
    pub bind_conflicts: u64,
    /// Calls now.
    pub calls: usize,
}

/// A traversal pair and the multiplex ids in use on it.
#[derive(Debug)]
struct MuxPair {
    rtp: u16,
    worker: usize,
    ids: HashSet<u32>,
    next_id: u32,
}

#[derive(Debug)]
struct CallRecord {
    worker: usize,
    legs: [LegId; 2],
    pairs: Vec<PortPair>,
    mux: Vec<(usize, u32)>,
    /// The call's own ports that have a socket (not the traversal ports it shares).
    open: Vec<u16>,
}

/// What happened to a media port, for whoever filters and steers datagrams before they reach
/// the workers (the XDP program's port table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortEvent {
    /// A leg's socket is bound on `port`, owned by the worker on `cpu` (`None`: not pinned).
    Open {
        /// The port.
        port: u16,
        /// The owning worker's CPU.
        cpu: Option<usize>,
    },
    /// A multiplexed traversal port, owned by the worker on `cpu`.
    Traversal {
        /// The port.
        port: u16,
        /// The owning worker's CPU.
        cpu: Option<usize>,
    },
    /// Released: no socket any more; in quarantine until the allocator hands it out again.
    Quarantined {
        /// The port.
        port: u16,
    },
}

/// Hears [`PortEvent`]s. Called on the control path, under the plane's lock (so events arrive
/// in the order they happen): it must not call back into the plane.
pub trait PortObserver: Send + Sync {
    /// One event.
    fn port_event(&self, event: PortEvent);
}

/// What a call took before its worker set it up.
#[derive(Debug, Default)]
struct Taken {
    pairs: Vec<PortPair>,
    mux: Vec<(usize, u32)>,
}

struct State {
    alloc: PortAllocator,
    observer: Option<std::sync::Arc<dyn PortObserver>>,
    /// The CPU of each worker (`None`: not pinned).
    cores: Vec<Option<usize>>,
    calls: HashMap<u64, CallRecord>,
    by_worker_leg: HashMap<(usize, LegId), LegRef>,
    load: Vec<usize>,
    mux: Vec<MuxPair>,
    next_call: u64,
    bind_conflicts: u64,
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("State")
            .field("alloc", &self.alloc)
            .field("calls", &self.calls.len())
            .field("observer", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl State {
    fn tell(&self, event: PortEvent) {
        if let Some(o) = &self.observer {
            o.port_event(event);
        }
    }

    /// Gives back what a released call took: its pairs go into quarantine.
    fn give_back(&mut self, taken: &Taken, now: Instant) {
        for &p in &taken.pairs {
            if self.alloc.release(p, now).is_ok() {
                self.tell(PortEvent::Quarantined { port: p.rtp });
                self.tell(PortEvent::Quarantined { port: p.rtcp });
            }
        }
        self.free_mux_ids(taken);
    }

    /// Gives back what a call that was never set up took: no peer learnt its ports, so they
    /// skip the quarantine.
    fn cancel(&mut self, taken: &Taken) {
        for &p in &taken.pairs {
            let _ = self.alloc.cancel(p);
        }
        self.free_mux_ids(taken);
    }

    fn free_mux_ids(&mut self, taken: &Taken) {
        for &(m, id) in &taken.mux {
            if let Some(pair) = self.mux.get_mut(m) {
                pair.ids.remove(&id);
            }
        }
    }

    /// The worker for a call whose legs ask for `ports`.
    fn pick_worker(&self, ports: [LegPorts; 2]) -> Result<usize, PlaneError> {
        let mut named = None;
        let mut wants_mux = false;
        for p in ports {
            if let LegPorts::Mux { pair, .. } = p {
                wants_mux = true;
                if let Some(rtp) = pair {
                    let w = self
                        .mux
                        .iter()
                        .find(|m| m.rtp == rtp)
                        .map(|m| m.worker)
                        .ok_or_else(|| {
                            PlaneError::BadRequest(format!("{rtp} is not a traversal pair"))
                        })?;
                    if named.is_some_and(|n| n != w) {
                        return Err(PlaneError::BadRequest(
                            "the two traversal pairs belong to different workers".into(),
                        ));
                    }
                    named = Some(w);
                }
            }
        }
        if let Some(w) = named {
            return Ok(w);
        }
        let candidates: Vec<usize> = if wants_mux {
            let mut ws: Vec<usize> = self.mux.iter().map(|m| m.worker).collect();
            ws.sort_unstable();
            ws.dedup();
            ws
        } else {
            (0..self.load.len()).collect()
        };
        candidates
            .into_iter()
            .min_by_key(|&w| (self.load.get(w).copied().unwrap_or(usize::MAX), w))
            .ok_or_else(|| {
                PlaneError::BadRequest("no traversal pairs are configured on this node".into())
            })
    }

    /// The ports (rtp, rtcp, mux id) of one leg on `worker`, recording what was taken.
    fn place(
        &mut self,
        worker: usize,
        ports: LegPorts,
        now: Instant,
        taken: &mut Taken,
    ) -> Result<(u16, Option<u16>, Option<u32>), PlaneError> {
        match ports {
            LegPorts::Allocate { rtcp_mux } => {
                let pair = self.alloc.allocate(now).map_err(PlaneError::Exhausted)?;
                taken.pairs.push(pair);
                Ok((pair.rtp, (!rtcp_mux).then_some(pair.rtcp), None))
            }
            LegPorts::Fixed { rtp, rtcp } => {
                let range = self.alloc.range();
                for p in [Some(rtp), rtcp].into_iter().flatten() {
                    if p == 0 {
                        return Err(PlaneError::BadRequest("port 0 is not a port".into()));
                    }
                    if range.contains(p) {
                        return Err(PlaneError::BadRequest(format!(
                            "port {p} is in the managed media range {range}: ask for an \
                             allocated pair instead"
                        )));
                    }
                    if self.mux.iter().any(|m| p == m.rtp || p == m.rtp + 1) {
                        return Err(PlaneError::BadRequest(format!(
                            "port {p} is a traversal port: ask for a multiplexed leg"
                        )));
                    }
                }
                Ok((rtp, rtcp, None))
            }
            LegPorts::Mux { pair, id } => {
                let m = match pair {
                    Some(rtp) => self.mux.iter().position(|m| m.rtp == rtp),
                    // The worker's pair with the fewest legs.
                    None => self
                        .mux
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.worker == worker)
                        .min_by_key(|(i, m)| (m.ids.len(), *i))
                        .map(|(i, _)| i),
                }
                .ok_or_else(|| {
                    PlaneError::BadRequest("no such traversal pair on this node".into())
                })?;
                let pair = &mut self.mux[m];
                let id = match id {
                    Some(id) => {
                        if pair.ids.contains(&id) {
                            return Err(PlaneError::MuxIdInUse { pair: pair.rtp, id });
                        }
                        id
                    }
                    None => {
                        // The next id not in use; ids are never 0 (easier to spot in captures).
                        let mut id = pair.next_id.max(1);
                        while pair.ids.contains(&id) {
                            id = id.wrapping_add(1).max(1);
                        }
                        pair.next_id = id.wrapping_add(1);
                        id
                    }
                };
                pair.ids.insert(id);
                taken.mux.push((m, id));
                Ok((pair.rtp, Some(pair.rtp + 1), Some(id)))
            }
        }
    }
}

/// The node's media workers and the ports they share. See the [module docs](self).
#[derive(Debug)]
pub struct MediaPlane {
    workers: Vec<Worker>,
    state: Mutex<State>,
    events: Mutex<Receiver<(usize, Event)>>,
}

/// How many times an allocation takes another pair when the one it got is held by another
/// program.
const BIND_RETRIES: usize = 4;

fn check_config(cfg: &PlaneConfig) -> Result<(), PlaneError> {
    if cfg.cores.is_empty() {
        return Err(PlaneError::Config(
            "no worker: give at least one core".into(),
        ));
    }
    let mut seen = HashSet::new();
    for &p in &cfg.mux_pairs {
        if p % 2 != 0 || p == 0 || p == u16::MAX {
            return Err(PlaneError::Config(format!(
                "traversal pair {p}: the RTP port must be even and below 65535"
            )));
        }
        if !seen.insert(p) {
            return Err(PlaneError::Config(format!(
                "traversal pair {p} is listed twice"
            )));
        }
    }
    Ok(())
}

impl MediaPlane {
    /// Starts one worker per configured core. Fails (naming the cause) when the configuration
    /// does not hold together, a worker cannot start, or a traversal port cannot be bound.
    pub fn spawn(cfg: PlaneConfig) -> Result<MediaPlane, PlaneError> {
        check_config(&cfg)?;
        let mut ports = cfg.ports.clone();
        for &p in &cfg.mux_pairs {
            ports.reserved.push(PortRange {
                first: p,
                last: p + 1,
            });
        }
        let alloc = PortAllocator::new(ports).map_err(|e: ConfigError| {
            PlaneError::Config(format!("media range {}: {e}", cfg.ports.range))
        })?;
        let n = cfg.cores.len();
        let mux: Vec<MuxPair> = cfg
            .mux_pairs
            .iter()
            .enumerate()
            .map(|(i, &rtp)| MuxPair {
                rtp,
                worker: i % n,
                ids: HashSet::new(),
                next_id: 1,
            })
            .collect();
        let (tx, rx) = mpsc::channel();
        let mut workers = Vec::with_capacity(n);
        for (w, &core) in cfg.cores.iter().enumerate() {
            let mux_ports = mux
                .iter()
                .filter(|m| m.worker == w)
                .flat_map(|m| [m.rtp, m.rtp + 1])
                .collect();
            let wc = WorkerConfig {
                bind_ip: cfg.bind_ip,
                relay: RelayConfig {
                    mux_ports,
                    inactivity_timeout: cfg.inactivity_timeout,
                },
                core,
                backend: cfg.backend,
                batch: cfg.batch,
            };
            let worker = Worker::spawn_reporting(wc, w, tx.clone()).map_err(|e| {
                PlaneError::Config(format!(
                    "media worker {w} (core {}): {e}",
                    core.map_or("any".to_string(), |c| c.to_string())
                ))
            })?;
            workers.push(worker);
        }
        Ok(MediaPlane {
            workers,
            state: Mutex::new(State {
                alloc,
                observer: None,
                cores: cfg.cores.clone(),
                calls: HashMap::new(),
                by_worker_leg: HashMap::new(),
                load: vec![0; n],
                mux,
                next_call: 1,
                bind_conflicts: 0,
            }),
            events: Mutex::new(rx),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent bookkeeping (every change is made
        // whole before the next one starts), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells `observer` about every port as it opens, serves traversal or is released, starting
    /// with the traversal ports and the ports of the calls in place. Replaces any observer set
    /// before.
    pub fn set_port_observer(&self, observer: std::sync::Arc<dyn PortObserver>) {
        let mut st = self.state();
        for m in &st.mux {
            let cpu = st.cores.get(m.worker).copied().flatten();
            for port in [m.rtp, m.rtp + 1] {
                observer.port_event(PortEvent::Traversal { port, cpu });
            }
        }
        for c in st.calls.values() {
            let cpu = st.cores.get(c.worker).copied().flatten();
            for &port in &c.open {
                observer.port_event(PortEvent::Open { port, cpu });
            }
        }
        st.observer = Some(observer);
    }

    /// The workers (backend, core).
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.workers.iter().map(Worker::info).collect()
    }

    /// Sets up a call of two legs: places their ports (see [`LegPorts`]), picks the worker,
    /// binds the sockets there and connects the legs. Both legs or neither are set up; on any
    /// error everything taken is given back.
    pub fn allocate(&self, a: LegRequest, b: LegRequest) -> Result<CallLegs, PlaneError> {
        let (mut a, mut b) = (a, b);
        for attempt in 0..=BIND_RETRIES {
            let now = Instant::now();
            let mut taken = Taken::default();
            let (worker, call) = {
                let mut st = self.state();
                let worker = st.pick_worker([a.ports, b.ports])?;
                let placed = [a.ports, b.ports].map(|p| st.place(worker, p, now, &mut taken));
                let [pa, pb] = placed;
                let (pa, pb) = match (pa, pb) {
                    (Ok(x), Ok(y)) => (x, y),
                    (Err(e), _) | (_, Err(e)) => {
                        st.cancel(&taken);
                        return Err(e);
                    }
                };
                for (leg, (rtp, rtcp, id)) in [(&mut a.leg, pa), (&mut b.leg, pb)] {
                    leg.rtp_port = rtp;
                    leg.rtcp_port = rtcp;
                    leg.mux_id = id.or(leg.mux_id);
                }
                let call = st.next_call;
                st.next_call += 1;
                (worker, call)
            };
            let Some(w) = self.workers.get(worker) else {
                self.state().cancel(&taken);
                return Err(PlaneError::Worker(ControlError::WorkerGone));
            };
            let placement = |side: Side, l: &LegConfig| LegPlacement {
                leg: LegRef::new(call, side),
                rtp_port: l.rtp_port,
                rtcp_port: l.rtcp_port,
                mux_id: l.mux_id,
            };
            let legs = [placement(Side::A, &a.leg), placement(Side::B, &b.leg)];
            match w.try_allocate(a.leg, b.leg) {
                Ok((la, lb)) => {
                    let mut st = self.state();
                    let mux_ports: Vec<u16> =
                        st.mux.iter().flat_map(|m| [m.rtp, m.rtp + 1]).collect();
                    let open: Vec<u16> = legs
                        .iter()
                        .flat_map(|l| [Some(l.rtp_port), l.rtcp_port])
                        .flatten()
                        .filter(|p| !mux_ports.contains(p))
                        .collect();
                    let cpu = st.cores.get(worker).copied().flatten();
                    for &port in &open {
                        st.tell(PortEvent::Open { port, cpu });
                    }
                    st.calls.insert(
                        call,
                        CallRecord {
                            worker,
                            legs: [la, lb],
                            pairs: taken.pairs,
                            mux: taken.mux,
                            open,
                        },
                    );
                    st.by_worker_leg.insert((worker, la), legs[0].leg);
                    st.by_worker_leg.insert((worker, lb), legs[1].leg);
                    if let Some(l) = st.load.get_mut(worker) {
                        *l += 1;
                    }
                    return Ok(CallLegs { worker, legs });
                }
                Err(AllocFailure {
                    error: ControlError::Socket(port, e),
                    legs: Some(back),
                }) if e.kind() == std::io::ErrorKind::AddrInUse
                    && taken.pairs.iter().any(|p| p.rtp == port || p.rtcp == port)
                    && attempt < BIND_RETRIES =>
                {
                    // Another program holds a port of the range: leave that pair in quarantine
                    // and take another, with the same legs.
                    let mut st = self.state();
                    st.bind_conflicts += 1;
                    let (held, fine): (Vec<PortPair>, Vec<PortPair>) = taken
                        .pairs
                        .iter()
                        .partition(|p| p.rtp == port || p.rtcp == port);
                    for p in held {
                        let _ = st.alloc.release(p, now);
                    }
                    st.cancel(&Taken {
                        pairs: fine,
                        mux: taken.mux,
                    });
                    let (la, lb) = *back;
                    a.leg = la;
                    b.leg = lb;
                }
                Err(f) => {
                    self.state().cancel(&taken);
                    return Err(f.error.into());
                }
            }
        }
        Err(PlaneError::BadRequest(
            "every media pair tried is held by another program".into(),
        ))
    }

    fn record(&self, leg: LegRef) -> Result<(usize, LegId), PlaneError> {
        let st = self.state();
        let c = st.calls.get(&leg.call()).ok_or(PlaneError::UnknownLeg)?;
        let i = usize::from(leg.side() == Side::B);
        Ok((c.worker, c.legs[i]))
    }

    fn worker(&self, w: usize) -> Result<&Worker, PlaneError> {
        self.workers
            .get(w)
            .ok_or(PlaneError::Worker(ControlError::WorkerGone))
    }

    /// Releases the call `leg` belongs to: closes its sockets, puts its pairs in quarantine,
    /// frees its multiplex ids.
    pub fn release(&self, leg: LegRef) -> Result<(), PlaneError> {
        let rec = {
            let mut st = self.state();
            let rec = st.calls.remove(&leg.call()).ok_or(PlaneError::UnknownLeg)?;
            for l in rec.legs {
                st.by_worker_leg.remove(&(rec.worker, l));
            }
            if let Some(n) = st.load.get_mut(rec.worker) {
                *n = n.saturating_sub(1);
            }
            rec
        };
        let result = self.worker(rec.worker)?.release(rec.legs[0]);
        // The ports go back whatever the worker said: a worker that is gone holds no socket.
        let taken = Taken {
            pairs: rec.pairs,
            mux: rec.mux,
        };
        self.state().give_back(&taken, Instant::now());
        result.map_err(PlaneError::from)
    }

    /// New signalled addresses for a leg (a re-INVITE); it latches again.
    pub fn update_remote(
        &self,
        leg: LegRef,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), PlaneError> {
        let (w, id) = self.record(leg)?;
        Ok(self.worker(w)?.update_remote(id, rtp, rtcp)?)
    }

    /// New SRTP contexts for a leg (new keys after a re-INVITE).
    pub fn update_keys(
        &self,
        leg: LegRef,
        srtp_in: Option<Context>,
        srtp_out: Option<Context>,
    ) -> Result<(), PlaneError> {
        let (w, id) = self.record(leg)?;
        Ok(self.worker(w)?.update_keys(id, srtp_in, srtp_out)?)
    }

    /// A leg's statistics.
    pub fn stats(&self, leg: LegRef) -> Result<LegStats, PlaneError> {
        let (w, id) = self.record(leg)?;
        Ok(self.worker(w)?.stats(id)?)
    }

    /// The plane's figures: per worker, and the port range.
    pub fn plane_stats(&self) -> PlaneStats {
        let (load, ports, in_use, quarantine, available, capacity, conflicts, calls) = {
            let st = self.state();
            let now = Instant::now();
            (
                st.load.clone(),
                st.alloc.stats(),
                st.alloc.in_use(),
                st.alloc.in_quarantine(now),
                st.alloc.available(now),
                st.alloc.capacity(),
                st.bind_conflicts,
                st.calls.len(),
            )
        };
        PlaneStats {
            workers: self
                .workers
                .iter()
                .enumerate()
                .map(|(i, w)| WorkerStats {
                    info: w.info(),
                    io: w.io_counters().ok(),
                    calls: load.get(i).copied().unwrap_or(0),
                })
                .collect(),
            ports,
            ports_in_use: in_use,
            ports_in_quarantine: quarantine,
            ports_available: available,
            ports_capacity: capacity,
            bind_conflicts: conflicts,
            calls,
        }
    }

    /// The next event of any worker, waiting up to `timeout`. Events of legs released since
    /// are skipped.
    pub fn next_event(&self, timeout: Duration) -> Option<PlaneEvent> {
        let deadline = Instant::now() + timeout;
        let rx = self.events.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (w, event) = rx.recv_timeout(left).ok()?;
            let id = match event {
                Event::Latched { leg, .. }
                | Event::Relatched { leg, .. }
                | Event::Inactive { leg } => leg,
            };
            if let Some(&leg) = self.state().by_worker_leg.get(&(w, id)) {
                return Some(PlaneEvent { leg, event });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Default)]
    struct Record(Mutex<Vec<PortEvent>>);

    impl PortObserver for Record {
        fn port_event(&self, event: PortEvent) {
            self.0.lock().unwrap().push(event);
        }
    }

    /// C's leg toward E's multiplexed pair: an allocated pair of C's, the multiplex id E gave
    /// kept (not replaced by the plane), and a keepalive with that id from each of its ports to
    /// E's RTP and RTCP ports as it opens.
    #[test]
    fn a_framed_leg_keeps_its_mux_id_and_announces_itself_as_it_opens() {
        let e_rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let e_rtcp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&e_rtp, &e_rtcp] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let mut cfg = PlaneConfig {
            backend: BackendChoice::Sockets,
            cores: vec![None],
            ..PlaneConfig::default()
        };
        cfg.ports.range = PortRange::new(23200, 23299).unwrap();
        let plane = MediaPlane::spawn(cfg).unwrap();
        let mut toward_e = LegConfig::plain(0, Some(e_rtp.local_addr().unwrap()));
        toward_e.signalled_rtcp = Some(e_rtcp.local_addr().unwrap());
        toward_e.mux_id = Some(0x0102_0304);
        let call = plane
            .allocate(
                LegRequest {
                    ports: LegPorts::Allocate { rtcp_mux: false },
                    leg: toward_e,
                },
                LegRequest {
                    ports: LegPorts::Allocate { rtcp_mux: false },
                    leg: LegConfig::plain(0, None),
                },
            )
            .unwrap();
        let [leg, _] = call.legs;
        assert_eq!(leg.mux_id, Some(0x0102_0304));
        let mut buf = [0u8; 64];
        for (sock, port) in [(&e_rtp, leg.rtp_port), (&e_rtcp, leg.rtcp_port.unwrap())] {
            let (n, from) = sock.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[1, 2, 3, 4], "a keepalive: the id alone");
            assert_eq!(from.port(), port, "from the leg's own port");
        }
    }

    #[test]
    fn the_port_observer_hears_opens_traversal_and_quarantine_in_order() {
        let mut cfg = PlaneConfig {
            backend: BackendChoice::Sockets,
            cores: vec![None],
            mux_pairs: vec![23000],
            ..PlaneConfig::default()
        };
        cfg.ports.range = PortRange::new(23000, 23099).unwrap();
        let plane = MediaPlane::spawn(cfg).unwrap();
        let first = plane
            .allocate(
                LegRequest {
                    ports: LegPorts::Allocate { rtcp_mux: false },
                    leg: LegConfig::plain(0, Some("127.0.0.1:9".parse().unwrap())),
                },
                LegRequest {
                    ports: LegPorts::Allocate { rtcp_mux: true },
                    leg: LegConfig::plain(0, Some("127.0.0.1:9".parse().unwrap())),
                },
            )
            .unwrap();
        let rec = Arc::new(Record::default());
        plane.set_port_observer(rec.clone());
        let [a, b] = first.legs;
        let replay = rec.0.lock().unwrap().clone();
        assert_eq!(
            replay,
            [
                PortEvent::Traversal {
                    port: 23000,
                    cpu: None
                },
                PortEvent::Traversal {
                    port: 23001,
                    cpu: None
                },
                PortEvent::Open {
                    port: a.rtp_port,
                    cpu: None
                },
                PortEvent::Open {
                    port: a.rtcp_port.unwrap(),
                    cpu: None
                },
                PortEvent::Open {
                    port: b.rtp_port,
                    cpu: None
                },
            ],
            "traversal ports, then the call in place (its idle RTCP port has no socket)"
        );
        // A multiplexed call: only its own port opens; its release quarantines its pair.
        let second = plane
            .allocate(
                LegRequest {
                    ports: LegPorts::Mux {
                        pair: None,
                        id: None,
                    },
                    leg: LegConfig::plain(0, Some("127.0.0.1:9".parse().unwrap())),
                },
                LegRequest {
                    ports: LegPorts::Allocate { rtcp_mux: true },
                    leg: LegConfig::plain(0, Some("127.0.0.1:9".parse().unwrap())),
                },
            )
            .unwrap();
        let c = second.legs[1].rtp_port;
        plane.release(second.legs[0].leg).unwrap();
        let events = rec.0.lock().unwrap()[replay.len()..].to_vec();
        assert_eq!(
            events,
            [
                PortEvent::Open { port: c, cpu: None },
                PortEvent::Quarantined { port: c },
                PortEvent::Quarantined { port: c + 1 },
            ]
        );
    }
}
