//! The per-core worker runtime: where media sockets meet the sans-IO relay engine.
//!
//! One [`Worker`] is one thread, optionally pinned to a core, that owns a [`Relay`] and the
//! UDP sockets of every port its legs use. Nothing is shared with other threads: control
//! requests (allocate, release, update, stats) arrive through a channel and are answered through
//! a channel; relay events (latched, relatched, inactive) leave through a channel.
//!
//! Two backends move the datagrams:
//! - [`Backend::Uring`]: io_uring (multishot receive into a provided-buffer ring, sends batched
//!   per submission);
//! - [`Backend::Sockets`]: the fallback, epoll with `recvmmsg`/`sendmmsg` batches, chosen
//!   automatically when io_uring is unavailable (a seccomp profile that blocks it, an old
//!   kernel). The choice is logged by the caller and visible in [`WorkerInfo`].
//!
//! Neither backend allocates or locks per datagram: receive buffers are allocated once, per
//! worker, and reused.

mod batch;
mod plane;
#[allow(unsafe_code)]
mod sockets;
#[allow(unsafe_code)]
mod uring;

pub use plane::{
    CallLegs, LegPorts, LegRef, LegRequest, MediaPlane, PlaneConfig, PlaneError, PlaneEvent,
    PlaneStats, PortEvent, PortObserver, Side,
};
pub use sockets::{incoming_cpu, pin_to_core, raise_open_files_limit, UdpBatch, BATCH_DATAGRAM};

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::relay::engine::{
    Event, LegConfig, LegId, LegStats, Relay, RelayConfig, RelayError, Transmit, Verdict,
};
use crate::srtp::Context;

/// Which I/O backend a worker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// io_uring.
    Uring,
    /// epoll with `recvmmsg`/`sendmmsg`.
    Sockets,
}

/// Which backend to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring where the kernel allows it, else the socket fallback.
    #[default]
    Auto,
    /// io_uring or fail.
    Uring,
    /// The socket fallback.
    Sockets,
}

/// How a worker is set up.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The address media sockets bind to.
    pub bind_ip: IpAddr,
    /// The relay's settings (shared multiplexed ports are bound at start).
    pub relay: RelayConfig,
    /// Pin the thread to this CPU.
    pub core: Option<usize>,
    /// The backend.
    pub backend: BackendChoice,
    /// Datagrams received per batch (and receive buffers per socket batch).
    pub batch: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            relay: RelayConfig::default(),
            core: None,
            backend: BackendChoice::Auto,
            batch: 32,
        }
    }
}

/// What a worker reports about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerInfo {
    /// The backend in use.
    pub backend: Backend,
    /// Why the socket fallback was chosen under [`BackendChoice::Auto`], if it was.
    pub fallback_reason: Option<io::ErrorKind>,
    /// The core the thread is pinned to.
    pub core: Option<usize>,
}

/// Datagram counts of a worker's I/O loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Sends the kernel refused (counted, never retried).
    pub send_errors: u64,
    /// Receive errors other than "nothing to read".
    pub receive_errors: u64,
    /// Times the io_uring buffer ring ran dry and receives had to be armed again.
    pub buffers_exhausted: u64,
    /// Sends that carried several datagrams of one flow (UDP GSO).
    pub gso_sends: u64,
    /// GSO sends the path refused (the datagrams then went one by one, and that socket gets no
    /// more GSO sends).
    pub gso_fallbacks: u64,
    /// Receives that brought several datagrams coalesced (UDP GRO, multiplexed ports).
    pub gro_receives: u64,
}

/// Why a control request failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ControlError {
    /// The relay refused it.
    Relay(RelayError),
    /// A socket could not be bound or registered (port, error).
    Socket(u16, io::Error),
    /// The worker has stopped.
    WorkerGone,
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ControlError::Relay(e) => write!(f, "{e}"),
            ControlError::Socket(port, e) => write!(f, "port {port}: {e}"),
            ControlError::WorkerGone => f.write_str("the media worker has stopped"),
        }
    }
}

impl std::error::Error for ControlError {}

impl From<RelayError> for ControlError {
    fn from(e: RelayError) -> Self {
        ControlError::Relay(e)
    }
}

type Reply<T> = Sender<Result<T, ControlError>>;

/// Why an allocation failed, and the legs back when a socket could not be bound (so the caller
/// can try other ports with the same configuration).
pub(crate) struct AllocFailure {
    pub(crate) error: ControlError,
    pub(crate) legs: Option<Box<(LegConfig, LegConfig)>>,
}

/// A request to a worker.
enum Control {
    Allocate(
        Box<(LegConfig, LegConfig)>,
        Sender<Result<(LegId, LegId), AllocFailure>>,
    ),
    Release(LegId, Reply<()>),
    UpdateRemote(LegId, Option<SocketAddr>, Option<SocketAddr>, Reply<()>),
    UpdateKeys(LegId, Box<(Option<Context>, Option<Context>)>, Reply<()>),
    Stats(LegId, Reply<LegStats>),
    Io(Reply<IoCounters>),
    Stop,
}

/// A handle to a running worker: send it requests, read its events.
#[derive(Debug)]
pub struct Worker {
    control: Sender<Control>,
    /// Wakes the worker when a request is sent.
    waker: std::sync::Arc<sockets::Waker>,
    /// Behind a mutex so a `Worker` can be shared by control threads (never on the packet path).
    /// `None` for a worker of a [`MediaPlane`], whose events go to the plane.
    events: Option<std::sync::Mutex<Receiver<(usize, Event)>>>,
    info: WorkerInfo,
    thread: Option<JoinHandle<()>>,
}

/// The backends' common interface, driven by the worker loop.
pub(crate) trait Io {
    /// Starts receiving on `socket` (bound to local port `port`); `gro`: a multiplexed port,
    /// whose datagrams may arrive coalesced (UDP GRO).
    fn add(&mut self, port: u16, socket: UdpSocket, gro: bool) -> io::Result<()>;
    /// Stops receiving on `port` and closes its socket.
    fn remove(&mut self, port: u16);
    /// Ends a wait in [`Io::poll`] whenever `fd` (the worker's waker) becomes readable.
    fn set_waker(&mut self, fd: std::os::fd::RawFd) -> io::Result<()>;
    /// Waits up to `timeout` for datagrams; hands each to `handle` (the relay), sends what it
    /// returns. Returns when at least one batch was handled or the timeout passed.
    fn poll(
        &mut self,
        timeout: Duration,
        handle: &mut dyn FnMut(Datagram<'_>) -> Option<Transmit>,
    ) -> io::Result<()>;
    /// The loop's counters.
    fn counters(&self) -> IoCounters;
}

/// One received datagram, in a buffer with the relay's headroom and tailroom.
pub(crate) struct Datagram<'a> {
    pub(crate) port: u16,
    pub(crate) src: SocketAddr,
    pub(crate) buf: &'a mut [u8],
    pub(crate) start: usize,
    pub(crate) len: usize,
    /// Longer than [`MAX_DATAGRAM`]: the kernel cut it off, `len` bytes are what was kept. It
    /// is counted, never relayed.
    pub(crate) truncated: bool,
}

/// Longest datagram a worker receives (anything longer is truncated by the kernel and dropped).
pub(crate) const MAX_DATAGRAM: usize = 2048;
/// Buffer size per datagram: headroom, datagram, tailroom.
pub(crate) const BUF_SIZE: usize =
    crate::relay::engine::HEADROOM + MAX_DATAGRAM + crate::relay::engine::TAILROOM;

fn bind(ip: IpAddr, port: u16) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn open_backend(choice: BackendChoice, batch: usize) -> io::Result<(Box<dyn Io>, WorkerInfo)> {
    let sockets = |reason| -> io::Result<(Box<dyn Io>, WorkerInfo)> {
        Ok((
            Box::new(sockets::SocketIo::new(batch)?),
            WorkerInfo {
                backend: Backend::Sockets,
                fallback_reason: reason,
                core: None,
            },
        ))
    };
    match choice {
        BackendChoice::Sockets => sockets(None),
        BackendChoice::Uring => Ok((
            Box::new(uring::UringIo::new(batch)?),
            WorkerInfo {
                backend: Backend::Uring,
                fallback_reason: None,
                core: None,
            },
        )),
        BackendChoice::Auto => match uring::UringIo::new(batch) {
            Ok(u) => Ok((
                Box::new(u),
                WorkerInfo {
                    backend: Backend::Uring,
                    fallback_reason: None,
                    core: None,
                },
            )),
            Err(e) => sockets(Some(e.kind())),
        },
    }
}

impl Worker {
    /// Starts a worker thread. Fails when the backend cannot start, a shared multiplexed port
    /// cannot be bound, or the thread cannot be pinned.
    pub fn spawn(cfg: WorkerConfig) -> io::Result<Worker> {
        let (event_tx, event_rx) = mpsc::channel();
        let mut w = Worker::spawn_reporting(cfg, 0, event_tx)?;
        w.events = Some(std::sync::Mutex::new(event_rx));
        Ok(w)
    }

    /// Starts a worker whose events go, tagged with `index`, to `events` (a plane's channel).
    pub(crate) fn spawn_reporting(
        cfg: WorkerConfig,
        index: usize,
        events: Sender<(usize, Event)>,
    ) -> io::Result<Worker> {
        let (control_tx, control_rx) = mpsc::channel();
        let waker = std::sync::Arc::new(sockets::Waker::new()?);
        let worker_waker = std::sync::Arc::clone(&waker);
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<WorkerInfo>>();
        let name = format!(
            "media-{}",
            cfg.core.map_or("any".to_string(), |c| c.to_string())
        );
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let started = (|| -> io::Result<(Box<dyn Io>, WorkerInfo)> {
                if let Some(core) = cfg.core {
                    sockets::pin_to_core(core)?;
                }
                let (mut io, mut info) = open_backend(cfg.backend, cfg.batch.max(1))?;
                info.core = cfg.core;
                for &p in &cfg.relay.mux_ports {
                    let s = bind(cfg.bind_ip, p)?;
                    // Every call's media to and from the peer edge crosses this one socket:
                    // give it room for bursts (a failure leaves the system default).
                    let _ = sockets::set_buffer_sizes(s.as_raw_fd(), MUX_SOCKET_BUFFER);
                    io.add(p, s, true)?;
                }
                io.set_waker(worker_waker.fd())?;
                Ok((io, info))
            })();
            match started {
                Ok((io, info)) => {
                    if ready_tx.send(Ok(info)).is_ok() {
                        run(cfg, io, &worker_waker, control_rx, index, events);
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
        let info = ready_rx
            .recv()
            .map_err(|_| io::Error::other("media worker died while starting"))??;
        Ok(Worker {
            control: control_tx,
            waker,
            events: None,
            info,
            thread: Some(thread),
        })
    }

    /// The backend and core in use.
    pub fn info(&self) -> WorkerInfo {
        self.info
    }

    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Control) -> Result<T, ControlError> {
        let (tx, rx) = mpsc::channel();
        self.control
            .send(make(tx))
            .map_err(|_| ControlError::WorkerGone)?;
        self.waker.wake();
        rx.recv().map_err(|_| ControlError::WorkerGone)?
    }

    /// Binds the legs' ports and creates the call (see [`Relay::allocate`]).
    pub fn allocate(&self, a: LegConfig, b: LegConfig) -> Result<(LegId, LegId), ControlError> {
        self.try_allocate(a, b).map_err(|f| f.error)
    }

    /// [`Worker::allocate`], giving the legs back when a socket could not be bound.
    pub(crate) fn try_allocate(
        &self,
        a: LegConfig,
        b: LegConfig,
    ) -> Result<(LegId, LegId), AllocFailure> {
        let gone = || AllocFailure {
            error: ControlError::WorkerGone,
            legs: None,
        };
        let (tx, rx) = mpsc::channel();
        self.control
            .send(Control::Allocate(Box::new((a, b)), tx))
            .map_err(|_| gone())?;
        self.waker.wake();
        rx.recv().map_err(|_| gone())?
    }

    /// Releases a call and closes its sockets.
    pub fn release(&self, leg: LegId) -> Result<(), ControlError> {
        self.ask(|r| Control::Release(leg, r))
    }

    /// New signalled addresses for a leg.
    pub fn update_remote(
        &self,
        leg: LegId,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), ControlError> {
        self.ask(|r| Control::UpdateRemote(leg, rtp, rtcp, r))
    }

    /// New SRTP contexts for a leg (new keys after a re-INVITE): `srtp_in` unprotects what
    /// arrives on the leg, `srtp_out` protects what leaves through it. Both are replaced.
    pub fn update_keys(
        &self,
        leg: LegId,
        srtp_in: Option<Context>,
        srtp_out: Option<Context>,
    ) -> Result<(), ControlError> {
        self.ask(|r| Control::UpdateKeys(leg, Box::new((srtp_in, srtp_out)), r))
    }

    /// A leg's statistics.
    pub fn stats(&self, leg: LegId) -> Result<LegStats, ControlError> {
        self.ask(|r| Control::Stats(leg, r))
    }

    /// The I/O loop's counters.
    pub fn io_counters(&self) -> Result<IoCounters, ControlError> {
        self.ask(Control::Io)
    }

    /// The next relay event, waiting up to `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<Event> {
        let rx = self.events.as_ref()?.lock().ok()?;
        rx.recv_timeout(timeout).ok().map(|(_, e)| e)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Kernel buffer asked for each multiplexed traversal socket (receive and send).
const MUX_SOCKET_BUFFER: usize = 16 << 20;

/// How long the loop waits for datagrams before it looks at control requests and timers.
const TICK: Duration = Duration::from_millis(5);

fn ports_of(l: &LegConfig) -> impl Iterator<Item = u16> {
    [Some(l.rtp_port), l.rtcp_port].into_iter().flatten()
}

fn run(
    cfg: WorkerConfig,
    mut io: Box<dyn Io>,
    waker: &sockets::Waker,
    control: Receiver<Control>,
    index: usize,
    events: Sender<(usize, Event)>,
) {
    let mut relay = Relay::new(cfg.relay.clone());
    let mux_ports = cfg.relay.mux_ports.clone();
    // Each leg -> its peer and the ports the call holds, to close them on release.
    let mut calls: std::collections::HashMap<LegId, (LegId, Vec<u16>)> =
        std::collections::HashMap::new();
    loop {
        // Control requests first: they are rare and must not wait behind traffic. The waker is
        // read empty before the channel, so a request sent after this look wakes the next wait.
        waker.drain();
        loop {
            let req = match control.try_recv() {
                Ok(r) => r,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            };
            let now = Instant::now();
            match req {
                Control::Stop => return,
                Control::Allocate(legs, reply) => {
                    let (a, b) = *legs;
                    let own: Vec<u16> = ports_of(&a)
                        .chain(ports_of(&b))
                        .filter(|p| !mux_ports.contains(p))
                        .collect();
                    let r = allocate(&mut relay, io.as_mut(), cfg.bind_ip, now, a, b, &own);
                    if let Ok((x, y)) = r {
                        calls.insert(x, (y, own.clone()));
                        calls.insert(y, (x, own));
                    }
                    let _ = reply.send(r);
                }
                Control::Release(leg, reply) => {
                    let r = relay.release(leg);
                    if r.is_ok() {
                        if let Some((peer, ports)) = calls.remove(&leg) {
                            calls.remove(&peer);
                            for p in ports {
                                io.remove(p);
                            }
                        }
                    }
                    let _ = reply.send(r.map_err(ControlError::from));
                }
                Control::UpdateRemote(leg, rtp, rtcp, reply) => {
                    let _ = reply.send(
                        relay
                            .update_remote(leg, rtp, rtcp)
                            .map_err(ControlError::from),
                    );
                }
                Control::UpdateKeys(leg, keys, reply) => {
                    let (srtp_in, srtp_out) = *keys;
                    let _ = reply.send(
                        relay
                            .update_keys(leg, srtp_in, srtp_out)
                            .map_err(ControlError::from),
                    );
                }
                Control::Stats(leg, reply) => {
                    let _ = reply.send(relay.stats(leg).map_err(ControlError::from));
                }
                Control::Io(reply) => {
                    let _ = reply.send(Ok(io.counters()));
                }
            }
        }
        let timeout = relay.poll_timeout().map_or(TICK, |t| {
            t.saturating_duration_since(Instant::now()).min(TICK)
        });
        let mut handle = |d: Datagram<'_>| -> Option<Transmit> {
            if d.truncated {
                let head = d.buf.get(d.start..d.start + d.len).unwrap_or_default();
                let _ = relay.drop_oversized(Instant::now(), d.port, head);
                return None;
            }
            match relay.handle_datagram(Instant::now(), d.port, d.src, d.buf, d.start, d.len) {
                Verdict::Forward(t) => Some(t),
                Verdict::Keepalive | Verdict::Drop(_) => None,
            }
        };
        if io.poll(timeout, &mut handle).is_err() {
            // The loop keeps going: one socket's error must not stop every call.
        }
        let now = Instant::now();
        if relay.poll_timeout().is_some_and(|t| t <= now) {
            relay.handle_timeout(now);
        }
        while let Some(e) = relay.poll_event() {
            if events.send((index, e)).is_err() {
                // Nobody listens for events; keep relaying.
            }
        }
    }
}

fn allocate(
    relay: &mut Relay,
    io: &mut dyn Io,
    ip: IpAddr,
    now: Instant,
    a: LegConfig,
    b: LegConfig,
    own: &[u16],
) -> Result<(LegId, LegId), AllocFailure> {
    let mut bound = Vec::new();
    for &p in own {
        let opened = bind(ip, p).inspect(|s| {
            for l in [&a, &b] {
                if let Some((dst, keepalive)) = opening_keepalive(l, p) {
                    // Twice: one datagram may be lost, and nothing else would open the way.
                    let _ = s.send_to(&keepalive, dst);
                    let _ = s.send_to(&keepalive, dst);
                }
            }
        });
        match opened.and_then(|s| io.add(p, s, false)) {
            Ok(()) => bound.push(p),
            Err(e) => {
                for q in bound {
                    io.remove(q);
                }
                return Err(AllocFailure {
                    error: ControlError::Socket(p, e),
                    legs: Some(Box::new((a, b))),
                });
            }
        }
    }
    relay.allocate(now, a, b).map_err(|e| {
        for &q in &bound {
            io.remove(q);
        }
        AllocFailure {
            error: ControlError::Relay(e),
            legs: None,
        }
    })
}

/// The keepalive a leg sends from local port `port` as it opens: a leg that frames its
/// datagrams with a multiplex id toward a signalled address (C's leg toward E's multiplexed
/// traversal pair) announces itself, so that E latches to it and the firewall between them
/// lets E's datagrams back before any media flowed.
fn opening_keepalive(l: &LegConfig, port: u16) -> Option<(SocketAddr, [u8; 4])> {
    let id = l.mux_id?;
    let dst = if port == l.rtp_port {
        l.signalled_rtp?
    } else if Some(port) == l.rtcp_port {
        l.signalled_rtcp?
    } else {
        return None;
    };
    Some((dst, crate::relay::mux::keepalive(id)))
}

/// Checks both backends share: UDP GSO out of and GRO into a multiplexed port.
#[cfg(test)]
pub(crate) mod backend_checks {
    use super::{Datagram, Io, UdpBatch};
    use crate::relay::engine::Transmit;
    use std::net::{SocketAddr, UdpSocket};
    use std::time::{Duration, Instant};

    /// Generous: CI has two cores and other tests run beside these.
    const WAIT: Duration = Duration::from_secs(10);
    const CALLS: usize = 20;

    fn local(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn bound() -> (UdpSocket, u16) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        let p = s.local_addr().unwrap().port();
        (s, p)
    }

    fn pump(
        io: &mut dyn Io,
        handle: &mut dyn FnMut(Datagram<'_>) -> Option<Transmit>,
        done: impl Fn(&dyn Io) -> bool,
    ) {
        let until = Instant::now() + WAIT;
        while !done(io) && Instant::now() < until {
            io.poll(Duration::from_millis(10), handle).unwrap();
        }
    }

    /// Datagrams longer than [`super::MAX_DATAGRAM`] reach the handler cut to that length and
    /// marked truncated (the relay counts them against their leg); the others whole and
    /// unmarked; every one is counted as received, none as a receive error.
    pub(crate) fn oversized_datagrams_are_marked(io: &mut dyn Io) {
        use super::MAX_DATAGRAM;
        let (s, port) = bound();
        io.add(port, s, false).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut seen = Vec::new();
        let mut record = |d: Datagram<'_>| -> Option<Transmit> {
            seen.push((d.len, d.truncated));
            None
        };
        for n in [MAX_DATAGRAM + 100, MAX_DATAGRAM + 1, MAX_DATAGRAM, 0, 5] {
            client.send_to(&vec![7u8; n], local(port)).unwrap();
        }
        pump(io, &mut record, |io| io.counters().received >= 5);
        assert_eq!(
            seen,
            [
                (MAX_DATAGRAM, true),
                (MAX_DATAGRAM, true),
                (MAX_DATAGRAM, false),
                (0, false),
                (5, false)
            ]
        );
        let c = io.counters();
        assert_eq!((c.received, c.receive_errors), (5, 0), "{c:?}");
    }

    /// Datagrams from `CALLS` sockets, forwarded from the multiplexed port to one peer, leave
    /// in GSO sends and arrive whole and in order; `CALLS` datagrams the peer sends in one GSO
    /// send to the multiplexed port arrive coalesced (GRO) and reach the relay one by one.
    pub(crate) fn gso_out_and_gro_in(io: &mut dyn Io) {
        let (mux, m) = bound();
        io.add(m, mux, true).unwrap();
        let mut ports = Vec::new();
        let mut peers = Vec::new();
        for _ in 0..CALLS {
            let (s, p) = bound();
            io.add(p, s, false).unwrap();
            ports.push(p);
            peers.push(UdpSocket::bind("127.0.0.1:0").unwrap());
        }
        let mut c = UdpBatch::new(UdpSocket::bind("127.0.0.1:0").unwrap(), 64).unwrap();
        c.set_gro().unwrap();
        let c_addr = c.local_addr().unwrap();

        // Out: every call's datagram waits in its socket before the relay polls, so one poll
        // forwards them all and can group them.
        for (i, (peer, &p)) in peers.iter().zip(&ports).enumerate() {
            peer.send_to(&[i as u8; 100], local(p)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut forward = |d: Datagram<'_>| -> Option<Transmit> {
            Some(Transmit {
                src_port: m,
                dst: c_addr,
                start: d.start,
                len: d.len,
            })
        };
        pump(io, &mut forward, |io| io.counters().sent >= CALLS as u64);
        let out = io.counters();
        assert_eq!(out.sent, CALLS as u64, "{out:?}");
        assert!(
            out.gso_sends >= 1,
            "forwards to one peer share sends: {out:?}"
        );
        assert_eq!(out.gso_fallbacks, 0, "{out:?}");
        let mut got: Vec<Vec<u8>> = Vec::new();
        let until = Instant::now() + WAIT;
        while got.len() < CALLS && Instant::now() < until {
            let n = c
                .recv(|from, d| {
                    assert_eq!(from, local(m));
                    got.push(d.to_vec());
                })
                .unwrap();
            if n == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        got.sort();
        let want: Vec<Vec<u8>> = (0..CALLS).map(|i| vec![i as u8; 100]).collect();
        assert_eq!(got, want, "every datagram, whole");

        // In: one GSO send of CALLS datagrams from the peer.
        let segs: Vec<Vec<u8>> = (0..CALLS).map(|i| vec![100 + i as u8; 100]).collect();
        let refs: Vec<&[u8]> = segs.iter().map(Vec::as_slice).collect();
        assert_eq!(c.send_segments(local(m), &refs).unwrap(), CALLS);
        let before = io.counters().received;
        let mut seen: Vec<(u16, Vec<u8>)> = Vec::new();
        let mut record = |d: Datagram<'_>| -> Option<Transmit> {
            seen.push((d.port, d.buf[d.start..d.start + d.len].to_vec()));
            None
        };
        pump(io, &mut record, |io| {
            io.counters().received >= before + CALLS as u64
        });
        let inn = io.counters();
        assert!(inn.gro_receives >= 1, "coalesced on the way in: {inn:?}");
        let want: Vec<(u16, Vec<u8>)> = segs.iter().map(|s| (m, s.clone())).collect();
        assert_eq!(seen, want, "one by one, in order, on the multiplexed port");
    }
}
