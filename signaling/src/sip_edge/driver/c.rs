//! C's driver: the traversal dialer, call control over UDP/TCP, around one [`CProxy`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};

use super::flow::{self, FlowSetup};
use super::pump;
use super::{StartError, TransportCounters};
use crate::sip::transaction::{self as txn, Incoming, Output, Transactions};
use crate::sip::{Limits, Message, Method};
use crate::sip_edge::c_proxy::{Binding, CAction, CProxy, CProxyConfig, CStats, InsideHop};
use crate::sip_edge::calls::{
    CallAction, CallRecord, CallStats, OpenedMedia, OpenedStream, StreamOpen, StreamUpdate,
};
use crate::sip_edge::envelope::OwnedEnvelope;
use crate::traversal::control;
use crate::traversal::control::{MediaUsage, StreamAllocation};
use crate::traversal::driver::{Dialer, DialerConfig, Stream};
use crate::traversal::frame::StreamKind;
use crate::traversal::status::{LinkPhase, LinkStatus};

/// How C reaches call control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallControlTransport {
    /// UDP from C's `sip_listen` address.
    Udp,
    /// One TCP connection, made from C's `sip_listen` address where the system allows it.
    Tcp,
}

/// Call control, as C's driver uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallControlPeer {
    /// Its address.
    pub addr: SocketAddr,
    /// Its transport.
    pub transport: CallControlTransport,
}

/// C's SIP driver set-up.
pub struct CDriverConfig {
    /// The traversal dialer (E peers, certificates, account).
    pub dialer: DialerConfig,
    /// The proxy.
    pub proxy: CProxyConfig,
    /// Where call control reaches C (UDP and TCP).
    pub listen: SocketAddr,
    /// Call control, in order of preference (at least one): requests go to the first that
    /// answers; over TCP, one that cannot be connected to is skipped for the next; over UDP, one
    /// whose transaction times out is left for the next. A lost TCP connection starts again
    /// from the first.
    pub call_control: Vec<CallControlPeer>,
    /// SIP size limits per message.
    pub limits: Limits,
    /// C's relay, for the media of calls (`None`: calls that need media get 503).
    pub media: Option<Arc<dyn CallMedia>>,
}

/// C's side of the media of calls, as the driver uses it (the edge implements it on its media
/// plane). Calls may block briefly; the driver makes them off its event loop.
pub trait CallMedia: Send + Sync + 'static {
    /// Opens C's legs for the streams of `call`, E having allocated `e` (one per stream, its
    /// multiplexed traversal pair at `e_traversal`): per stream, C's inside RTP port and our
    /// outside key (`<suite> <key-params>`, `None` on a plain outside leg).
    fn open(
        &self,
        call: u64,
        e_traversal: IpAddr,
        e: &[StreamAllocation],
        streams: &[StreamOpen],
    ) -> Result<Vec<(u16, Option<String>)>, String>;
    /// Changes a stream's legs (the outside party's key, the inside party's address).
    fn update(&self, call: u64, update: &StreamUpdate) -> Result<(), String>;
    /// Releases C's legs of `call` (nothing when it has none).
    fn close(&self, call: u64);
    /// Calls whose media has been quiet for the relay's inactivity timeout (each reported
    /// once).
    fn inactive_calls(&self) -> Vec<u64>;
    /// What C's media plane holds now.
    fn usage(&self) -> MediaUsage;
    /// Per stream of each call, its legs' packet counters (status pages, tests).
    fn stream_counters(&self) -> Vec<StreamCounters> {
        Vec::new()
    }
}

/// One stream's packet counters at C: the outside leg (SRTP with E) and the inside leg (RTP).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// The call.
    pub call: u64,
    /// The stream.
    pub stream: usize,
    /// Packets from E accepted (authenticated and decrypted).
    pub outside_received: u64,
    /// Packets to E.
    pub outside_sent: u64,
    /// Packets from E dropped (bad authentication, replay, not RTP, …), by reason.
    pub outside_dropped: Vec<(String, u64)>,
    /// Packets from inside accepted.
    pub inside_received: u64,
    /// Packets to inside.
    pub inside_sent: u64,
    /// Packets from inside dropped, by reason.
    pub inside_dropped: Vec<(String, u64)>,
}

/// What the admin API shows of C's SIP side.
#[derive(Clone, Debug)]
pub struct CSnapshot {
    /// The traversal link.
    pub link: LinkStatus,
    /// Whether the SIP stream over it is open.
    pub sip_stream: bool,
    /// The proxy's counters.
    pub stats: CStats,
    /// Bindings held.
    pub binding_count: usize,
    /// The first bindings (token, binding).
    pub bindings: Vec<(String, Binding)>,
    /// Where C listens for call control.
    pub listen: SocketAddr,
    /// The call control in use now.
    pub call_control: CallControlPeer,
    /// Every configured call control, in order of preference.
    pub call_control_peers: Vec<CallControlPeer>,
    /// Whether the TCP connection to call control is up (UDP: always `true`).
    pub call_control_connected: bool,
    /// The calls' counters (`None`: C carries no calls).
    pub call_stats: Option<CallStats>,
    /// Calls going on (the first 500).
    pub calls: Vec<CallRecord>,
    /// Calls going on, all of them.
    pub active_calls: usize,
    /// Ended calls, newest first.
    pub call_history: Vec<CallRecord>,
}

enum Event {
    FromE(u64, OwnedEnvelope),
    SipStreamGone {
        generation: u64,
        why: String,
    },
    FromInside(InsideHop, Vec<u8>),
    Conn {
        id: u64,
        tx: mpsc::UnboundedSender<Vec<u8>>,
    },
    ConnGone(u64),
    CallControlConnected {
        id: u64,
        tx: mpsc::UnboundedSender<Vec<u8>>,
        index: usize,
    },
    CallControlFailed(String),
    Snapshot(oneshot::Sender<CSnapshot>),
    Control(
        ControlKind,
        oneshot::Sender<Result<control::Message, String>>,
    ),
    ControlAnswer {
        generation: u64,
        msg: control::Message,
    },
    ControlGone(u64),
    MediaOpened {
        call: u64,
        result: Result<OpenedMedia, String>,
    },
    /// E allocated a call C could not open: release it at E.
    ReleaseAtE(u64),
}

/// A request C sends on the control stream.
#[derive(Clone, Copy, Debug)]
enum ControlKind {
    Allocate { call: u64, streams: u8 },
    Release { call: u64 },
}

/// A running C driver. Dropping it stops it.
pub struct CHandle {
    events: mpsc::UnboundedSender<Event>,
    counters: Arc<TransportCounters>,
    listen: SocketAddr,
    media: Option<Arc<dyn CallMedia>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for CDriverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CDriverConfig")
            .field("dialer", &self.dialer)
            .field("proxy", &self.proxy)
            .field("listen", &self.listen)
            .field("call_control", &self.call_control)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CHandle")
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl CHandle {
    /// Asks E for `streams` client-facing streams of `call` on the control stream: E's
    /// `Allocated` or `Refused` answer; `Err` when no traversal link is up or it went down
    /// before the answer.
    pub async fn allocate_media(&self, call: u64, streams: u8) -> Result<control::Message, String> {
        self.control(ControlKind::Allocate { call, streams }).await
    }

    /// Tells E that `call` ended: E's `Released` or `Refused` answer.
    pub async fn release_media(&self, call: u64) -> Result<control::Message, String> {
        self.control(ControlKind::Release { call }).await
    }

    async fn control(&self, kind: ControlKind) -> Result<control::Message, String> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Control(kind, tx))
            .map_err(|_| "C's driver stopped".to_owned())?;
        rx.await
            .unwrap_or_else(|_| Err("C's driver stopped".to_owned()))
    }

    /// A snapshot for the admin API (`None` once the driver stopped).
    pub async fn snapshot(&self) -> Option<CSnapshot> {
        let (tx, rx) = oneshot::channel();
        self.events.send(Event::Snapshot(tx)).ok()?;
        rx.await.ok()
    }

    /// The connection counters of the inside listener.
    pub fn counters(&self) -> &TransportCounters {
        &self.counters
    }

    /// What C's media plane holds now (`None`: C has none).
    pub fn media_usage(&self) -> Option<MediaUsage> {
        self.media.as_ref().map(|m| m.usage())
    }

    /// The packet counters of every stream C carries now.
    pub fn stream_counters(&self) -> Vec<StreamCounters> {
        self.media
            .as_ref()
            .map(|m| m.stream_counters())
            .unwrap_or_default()
    }

    /// Where call control reaches C.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }
}

impl Drop for CHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn reuse_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    s.set_reuseaddr(true)?;
    s.set_reuseport(true)?;
    s.bind(addr)?;
    s.listen(1024)
}

/// UDP and TCP on the same address and port; with port 0, a port free for both.
async fn bind_pair(want: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), StartError> {
    let mut tries = if want.port() == 0 { 32 } else { 1 };
    loop {
        tries -= 1;
        let tcp =
            reuse_listener(want).map_err(|e| StartError::Bind(format!("SIP TCP {want}"), e))?;
        let at = tcp.local_addr().unwrap_or(want);
        match UdpSocket::bind(at).await {
            Ok(udp) => return Ok((udp, tcp, at)),
            Err(e) if tries == 0 => return Err(StartError::Bind(format!("SIP UDP {at}"), e)),
            Err(_) => continue,
        }
    }
}

/// Binds C's listeners, starts dialing E and starts the driver (inside a tokio runtime).
pub async fn start_c(config: CDriverConfig) -> Result<CHandle, StartError> {
    tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
    if config.call_control.is_empty() {
        return Err(StartError::NoCallControl);
    }
    let (udp, tcp, listen) = bind_pair(config.listen).await?;
    let udp = Arc::new(udp);
    let dialer = Dialer::start(config.dialer).map_err(StartError::Traversal)?;
    let (events_tx, events) = mpsc::unbounded_channel();
    let counters = Arc::new(TransportCounters::default());

    let udp_task = tokio::spawn(recv_udp(udp.clone(), events_tx.clone()));
    let conn_ids = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let tcp_task = tokio::spawn(accept_tcp(
        tcp,
        config.limits,
        counters.clone(),
        conn_ids.clone(),
        events_tx.clone(),
    ));
    let media = config.media.clone();
    let core = Core {
        proxy: CProxy::new(config.proxy),
        link: dialer.status(),
        dialer,
        udp,
        listen,
        limits: config.limits,
        counters: counters.clone(),
        conn_ids,
        call_control: config.call_control,
        cc_index: 0,
        conns: HashMap::new(),
        sip_stream: None,
        generation: 0,
        cc_conn: None,
        cc_connecting: false,
        cc_queue: Vec::new(),
        events_tx: events_tx.clone(),
        udp_leg: UdpLeg::new(),
        control: None,
        control_pending: HashMap::new(),
        control_next: 1,
        media: config.media,
    };
    let core_task = tokio::spawn(core.run(events));
    Ok(CHandle {
        events: events_tx,
        counters,
        listen,
        media,
        tasks: vec![udp_task, tcp_task, core_task],
    })
}

async fn recv_udp(udp: Arc<UdpSocket>, events: mpsc::UnboundedSender<Event>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match udp.recv_from(&mut buf).await {
            Ok((n, from)) => {
                // CRLF keepalives and stray bytes shorter than a request line are ignored.
                if n < 8 {
                    continue;
                }
                let msg = buf[..n].to_vec();
                if events
                    .send(Event::FromInside(InsideHop::Datagram(from), msg))
                    .is_err()
                {
                    return;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn accept_tcp(
    tcp: TcpListener,
    limits: Limits,
    counters: Arc<TransportCounters>,
    ids: Arc<std::sync::atomic::AtomicU64>,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        TransportCounters::bump(&counters.accepted);
        let id = ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        if events.send(Event::Conn { id, tx }).is_err() {
            return;
        }
        tokio::spawn(serve_conn(
            stream,
            peer,
            id,
            limits,
            counters.clone(),
            rx,
            events.clone(),
        ));
    }
}

async fn serve_conn(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    limits: Limits,
    counters: Arc<TransportCounters>,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::UnboundedSender<Event>,
) {
    let _ = stream.set_nodelay(true);
    let setup = FlowSetup {
        peer,
        stun: false,
        limits,
        // Call control is trusted more than clients, but a stalled connection still ends.
        incomplete_timeout: Duration::from_secs(30),
    };
    let ev = events.clone();
    let _ = flow::run(stream, setup, counters, rx, move |msg| {
        ev.send(Event::FromInside(InsideHop::Stream(id), msg))
            .is_ok()
    })
    .await;
    let _ = events.send(Event::ConnGone(id));
}

struct Core {
    proxy: CProxy,
    dialer: Dialer,
    link: watch::Receiver<LinkStatus>,
    udp: Arc<UdpSocket>,
    listen: SocketAddr,
    limits: Limits,
    counters: Arc<TransportCounters>,
    conn_ids: Arc<std::sync::atomic::AtomicU64>,
    call_control: Vec<CallControlPeer>,
    /// The call control in use (index into `call_control`).
    cc_index: usize,
    conns: HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>,
    sip_stream: Option<(u64, mpsc::UnboundedSender<Vec<u8>>)>,
    generation: u64,
    cc_conn: Option<u64>,
    cc_connecting: bool,
    cc_queue: Vec<Vec<u8>>,
    events_tx: mpsc::UnboundedSender<Event>,
    udp_leg: UdpLeg,
    /// The control stream to E (its generation is the SIP stream's).
    control: Option<(u64, mpsc::UnboundedSender<Vec<u8>>)>,
    control_pending: HashMap<u32, oneshot::Sender<Result<control::Message, String>>>,
    control_next: u32,
    media: Option<Arc<dyn CallMedia>>,
}

/// The RFC 3261 transactions of the UDP leg with call control: requests C sends are
/// retransmitted until answered (the client's TLS flow never retransmits, so C must), and a
/// timeout answers the client 408; requests call control sends are absorbed when retransmitted
/// and C's answer is sent again. TCP legs need none of it (the transport is reliable and call
/// control's own transactions see every answer).
struct UdpLeg {
    table: Transactions<SocketAddr>,
    /// Client transactions: the request, for the 408 of a timeout.
    requests: HashMap<txn::TransactionId, Message>,
    /// Server transactions by (branch in lower case, CSeq method), for C's answer.
    servers: HashMap<(String, Method), txn::TransactionId>,
    server_keys: HashMap<txn::TransactionId, (String, Method)>,
}

impl UdpLeg {
    fn new() -> Self {
        Self {
            // An INVITE from call control gets C's 100 Trying after 200 ms (RFC 3261 §17.2.1),
            // which stops its retransmissions; 100s are hop by hop and never forwarded.
            table: Transactions::new(txn::Config::default()),
            requests: HashMap::new(),
            servers: HashMap::new(),
            server_keys: HashMap::new(),
        }
    }
}

fn answer_key(m: &Message) -> Option<(String, Method)> {
    let branch = m.top_via()?.branch()?.to_ascii_lowercase();
    Some((branch, m.cseq().method.clone()))
}

/// Requests held while the TCP connection to call control is being made.
const CC_QUEUE_MAX: usize = 4096;

impl Core {
    async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut out = Vec::new();
        let mut last_error = None;
        loop {
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else { return };
                    self.handle(ev, &mut out);
                    self.act(&mut out);
                }
                changed = self.link.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.link_changed(&mut last_error).await;
                }
                () = sleep_until(self.udp_leg.table.poll_timeout()) => {
                    self.udp_leg.table.handle_timeout(Instant::now());
                    self.drain_udp_leg(&mut out);
                    self.act(&mut out);
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.proxy.expire(now);
                    if let Some(media) = self.media.clone() {
                        for call in media.inactive_calls() {
                            self.proxy.media_inactive(call, now, &mut out);
                        }
                    }
                    self.proxy.drain_calls(&mut out);
                    self.act(&mut out);
                    // A link that is up without a SIP stream (the stream failed): open again.
                    if self.sip_stream.is_none() && self.link.borrow().state == LinkPhase::Up {
                        self.open_sip_stream().await;
                    }
                }
            }
        }
    }

    async fn link_changed(&mut self, last_error: &mut Option<String>) {
        let st = self.link.borrow_and_update().clone();
        if let Some(f) = &st.last_error {
            let line = f.to_string();
            if last_error.as_ref() != Some(&line) {
                eprintln!("c: traversal: {line}");
                *last_error = Some(line);
            }
        }
        if st.state == LinkPhase::Up {
            if self.sip_stream.is_none() {
                eprintln!(
                    "c: traversal link up to {}",
                    st.peer.as_deref().unwrap_or("?")
                );
                self.open_sip_stream().await;
            }
        } else if self.sip_stream.take().is_some() {
            eprintln!(
                "c: traversal link {}: SIP flows through E are gone",
                st.state
            );
            self.proxy.link_down();
            self.control_down("the traversal link went down");
        }
    }

    async fn open_sip_stream(&mut self) {
        match self.dialer.open_stream(StreamKind::SIP).await {
            Ok(stream) => {
                self.generation += 1;
                let generation = self.generation;
                let (tx, rx) = mpsc::unbounded_channel();
                self.sip_stream = Some((generation, tx));
                let ev = self.events_tx.clone();
                let events = self.events_tx.clone();
                tokio::spawn(async move {
                    let end = pump::run(stream, rx, move |env| {
                        ev.send(Event::FromE(generation, env)).is_ok()
                    })
                    .await;
                    let _ = events.send(Event::SipStreamGone {
                        generation,
                        why: end.to_string(),
                    });
                });
            }
            Err(e) => eprintln!("c: cannot open the SIP stream to E: {e}"),
        }
        match self.dialer.open_stream(StreamKind::CONTROL).await {
            Ok(stream) => {
                let generation = self.generation;
                let (tx, rx) = mpsc::unbounded_channel();
                self.control = Some((generation, tx));
                tokio::spawn(control_pump(stream, rx, self.events_tx.clone(), generation));
            }
            Err(e) => eprintln!("c: cannot open the control stream to E: {e}"),
        }
    }

    /// The control stream is gone: every request waiting for E's answer fails.
    fn control_down(&mut self, why: &str) {
        self.control = None;
        for (_, reply) in self.control_pending.drain() {
            let _ = reply.send(Err(why.to_owned()));
        }
    }

    fn handle(&mut self, ev: Event, out: &mut Vec<CAction>) {
        let now = Instant::now();
        match ev {
            Event::FromE(generation, env) => {
                if self
                    .sip_stream
                    .as_ref()
                    .is_some_and(|(g, _)| *g == generation)
                {
                    self.proxy.from_e(env.as_envelope(), now, out);
                }
            }
            Event::SipStreamGone { generation, why } => {
                if self
                    .sip_stream
                    .as_ref()
                    .is_some_and(|(g, _)| *g == generation)
                {
                    eprintln!("c: SIP stream to E ended: {why}");
                    self.sip_stream = None;
                    self.proxy.link_down();
                    self.control_down("the SIP stream to E ended");
                }
            }
            Event::FromInside(InsideHop::Datagram(from), bytes) => {
                self.datagram_from_inside(from, bytes, out);
            }
            Event::FromInside(hop, bytes) => self.proxy.from_inside(hop, &bytes, now, out),
            Event::Conn { id, tx } => {
                self.conns.insert(id, tx);
            }
            Event::ConnGone(id) => {
                self.conns.remove(&id);
                if self.cc_conn == Some(id) {
                    self.cc_conn = None;
                    // The next connection tries the preferred call control first again.
                    self.cc_index = 0;
                }
            }
            Event::CallControlConnected { id, tx, index } => {
                self.cc_connecting = false;
                if index != self.cc_index {
                    eprintln!(
                        "c: call control {} in use (earlier ones refused the connection)",
                        self.call_control[index].addr
                    );
                }
                self.cc_index = index;
                for m in self.cc_queue.drain(..) {
                    let _ = tx.send(m);
                }
                self.conns.insert(id, tx);
                self.cc_conn = Some(id);
            }
            Event::CallControlFailed(why) => {
                self.cc_connecting = false;
                eprintln!(
                    "c: cannot connect to any call control: {why} ({} requests dropped)",
                    self.cc_queue.len()
                );
                self.cc_queue.clear();
            }
            Event::Control(kind, reply) => self.send_control(kind, reply),
            Event::MediaOpened { call, result } => {
                if let Err(why) = &result {
                    eprintln!("c: call {call}: media not opened: {why}");
                }
                self.proxy.media_opened(call, result, now, out);
            }
            Event::ReleaseAtE(call) => {
                let (tx, _) = oneshot::channel();
                self.send_control(ControlKind::Release { call }, tx);
            }
            Event::ControlAnswer { generation, msg } => {
                if self.control.as_ref().is_some_and(|(g, _)| *g == generation) {
                    let id = match &msg {
                        control::Message::Allocated { id, .. }
                        | control::Message::Released { id, .. }
                        | control::Message::Refused { id, .. } => *id,
                        // A request from E: not part of the protocol.
                        _ => return,
                    };
                    if let Some(reply) = self.control_pending.remove(&id) {
                        let _ = reply.send(Ok(msg));
                    }
                }
            }
            Event::ControlGone(generation) => {
                if self.control.as_ref().is_some_and(|(g, _)| *g == generation) {
                    self.control_down("the control stream to E ended");
                }
            }
            Event::Snapshot(reply) => {
                let _ = reply.send(CSnapshot {
                    link: self.link.borrow().clone(),
                    sip_stream: self.sip_stream.is_some(),
                    stats: self.proxy.stats().clone(),
                    binding_count: self.proxy.binding_count(),
                    bindings: self.proxy.bindings(100),
                    listen: self.listen,
                    call_control: self.call_control[self.cc_index],
                    call_control_peers: self.call_control.clone(),
                    call_control_connected: self.call_control[self.cc_index].transport
                        == CallControlTransport::Udp
                        || self.cc_conn.is_some(),
                    call_stats: self.proxy.calls().map(|c| c.stats().clone()),
                    calls: self
                        .proxy
                        .calls()
                        .map(|c| c.current(now).into_iter().take(500).collect())
                        .unwrap_or_default(),
                    active_calls: self.proxy.calls().map_or(0, |c| c.active()),
                    call_history: self
                        .proxy
                        .calls()
                        .map(|c| c.history().cloned().collect())
                        .unwrap_or_default(),
                });
            }
        }
    }

    fn act(&mut self, out: &mut Vec<CAction>) {
        for a in out.drain(..) {
            match a {
                CAction::ToE(bytes) => {
                    if let Some((_, tx)) = &self.sip_stream {
                        let _ = tx.send(bytes);
                    }
                }
                CAction::ToCallControl(bytes) => self.send_to_call_control(bytes),
                CAction::Call(a) => self.call_action(a),
                CAction::ToInside { hop, bytes } => match hop {
                    InsideHop::Stream(id) => {
                        if let Some(tx) = self.conns.get(&id) {
                            let _ = tx.send(bytes);
                        }
                    }
                    InsideHop::Datagram(to) => self.answer_datagram(to, bytes),
                },
            }
        }
    }

    /// Sends a control request to E; `reply` gets E's answer.
    fn send_control(
        &mut self,
        kind: ControlKind,
        reply: oneshot::Sender<Result<control::Message, String>>,
    ) {
        let Some((_, tx)) = &self.control else {
            let _ = reply.send(Err("no traversal link to E".to_owned()));
            return;
        };
        let id = self.control_next;
        self.control_next = self.control_next.wrapping_add(1).max(1);
        let msg = match kind {
            ControlKind::Allocate { call, streams } => {
                control::Message::Allocate { id, call, streams }
            }
            ControlKind::Release { call } => control::Message::Release { id, call },
        };
        if tx.send(msg.to_bytes()).is_err() {
            let _ = reply.send(Err("the control stream to E is closed".to_owned()));
            return;
        }
        self.control_pending.insert(id, reply);
    }

    /// Media work for a call: E over the control stream, C's relay off the event loop.
    fn call_action(&mut self, action: CallAction) {
        let events = self.events_tx.clone();
        match action {
            CallAction::Open { call, streams } => {
                let fail = |why: &str| {
                    let _ = events.send(Event::MediaOpened {
                        call,
                        result: Err(why.to_owned()),
                    });
                };
                let Some(media) = self.media.clone() else {
                    fail("C has no media plane");
                    return;
                };
                let e_ip = self.link.borrow().peer_addr.map(|a| a.ip());
                let Some(e_ip) = e_ip else {
                    fail("no traversal link to E");
                    return;
                };
                let Ok(n) = u8::try_from(streams.len()) else {
                    fail("too many streams");
                    return;
                };
                let (tx, rx) = oneshot::channel();
                self.send_control(ControlKind::Allocate { call, streams: n }, tx);
                tokio::spawn(async move {
                    let result = open_call(media, call, e_ip, streams, rx, &events).await;
                    let _ = events.send(Event::MediaOpened { call, result });
                });
            }
            CallAction::Update { call, update } => {
                // In line, before the message that carried the change goes on: the party that
                // receives it may send media at once (a relay round trip of microseconds).
                if let Some(media) = &self.media {
                    if let Err(e) = media.update(call, &update) {
                        eprintln!("c: call {call}: media update: {e}");
                    }
                }
            }
            CallAction::Close { call } => {
                if let Some(media) = self.media.clone() {
                    tokio::task::spawn_blocking(move || media.close(call));
                }
                let (tx, _) = oneshot::channel();
                self.send_control(ControlKind::Release { call }, tx);
            }
        }
    }

    fn send_to_call_control(&mut self, bytes: Vec<u8>) {
        let cc = self.call_control[self.cc_index];
        if cc.transport == CallControlTransport::Udp {
            self.request_over_udp(cc.addr, bytes);
            return;
        }
        if let Some(tx) = self.cc_conn.and_then(|id| self.conns.get(&id)) {
            let _ = tx.send(bytes);
            return;
        }
        if self.cc_queue.len() < CC_QUEUE_MAX {
            self.cc_queue.push(bytes);
        }
        if self.cc_connecting {
            return;
        }
        self.cc_connecting = true;
        let id = self
            .conn_ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (events, listen, limits, counters) = (
            self.events_tx.clone(),
            self.listen,
            self.limits,
            self.counters.clone(),
        );
        // From the one in use, in order, round to the ones before it.
        let n = self.call_control.len();
        let order: Vec<(usize, CallControlPeer)> = (0..n)
            .map(|k| (self.cc_index + k) % n)
            .map(|i| (i, self.call_control[i]))
            .filter(|(_, p)| p.transport == CallControlTransport::Tcp)
            .collect();
        tokio::spawn(async move {
            let mut errors = Vec::new();
            for (index, peer) in order {
                match connect_from(listen, peer.addr).await {
                    Ok(stream) => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        let connected = Event::CallControlConnected { id, tx, index };
                        if events.send(connected).is_err() {
                            return;
                        }
                        serve_conn(stream, peer.addr, id, limits, counters, rx, events).await;
                        return;
                    }
                    Err(e) => errors.push(format!("{}: {e}", peer.addr)),
                }
            }
            let _ = events.send(Event::CallControlFailed(errors.join("; ")));
        });
    }
}

impl Core {
    /// A request (or ACK, or response) for call control over UDP: requests get a client
    /// transaction; the rest goes out as it is.
    fn request_over_udp(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let now = Instant::now();
        let msg = match Message::parse(&bytes) {
            Ok(m) if m.is_request() && m.method() != Some(&Method::Ack) => m,
            _ => {
                let _ = self.udp.try_send_to(&bytes, to);
                return;
            }
        };
        let leg = &mut self.udp_leg;
        match leg.table.send_request(now, msg.clone(), to) {
            Ok(id) => {
                leg.requests.insert(id, msg);
            }
            // Full, or a branch already in flight: send it as it is, untracked.
            Err(_) => {
                let _ = self.udp.try_send_to(&bytes, to);
            }
        }
        let mut out = Vec::new();
        self.drain_udp_leg(&mut out);
        self.act(&mut out);
    }

    /// A datagram from inside: through the transaction table, then to the proxy.
    fn datagram_from_inside(&mut self, from: SocketAddr, bytes: Vec<u8>, out: &mut Vec<CAction>) {
        let now = Instant::now();
        let Ok(msg) = Message::parse(&bytes) else {
            // The proxy answers 400 where it can, and counts it.
            self.proxy
                .from_inside(InsideHop::Datagram(from), &bytes, now, out);
            return;
        };
        match self.udp_leg.table.handle_message(now, msg, from) {
            Ok(Incoming::Unmatched(mut m)) => {
                self.proxy
                    .message_from_inside(InsideHop::Datagram(from), &mut m, now, out);
            }
            Ok(Incoming::Matched { .. } | Incoming::Created(_)) => {}
            Err(full) => {
                if let Ok(r) = full
                    .request
                    .response(503, "Service Unavailable", Some("c-full"))
                {
                    let _ = self.udp.try_send_to(&r.to_bytes(), from);
                }
            }
        }
        self.drain_udp_leg(out);
    }

    /// C's answer to a request call control sent over UDP: through its server transaction
    /// (kept for retransmissions), else as it is.
    fn answer_datagram(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let now = Instant::now();
        let leg = &mut self.udp_leg;
        let id = Message::parse(&bytes)
            .ok()
            .and_then(|m| answer_key(&m).map(|k| (m, k)))
            .and_then(|(m, k)| leg.servers.get(&k).map(|&id| (m, id)));
        let sent = id.is_some_and(|(m, id)| leg.table.send_response(now, id, m).is_ok());
        if sent {
            let mut out = Vec::new();
            self.drain_udp_leg(&mut out);
            self.act(&mut out);
        } else {
            let _ = self.udp.try_send_to(&bytes, to);
        }
    }

    /// Acts on what the UDP leg's transactions want done.
    fn drain_udp_leg(&mut self, out: &mut Vec<CAction>) {
        let now = Instant::now();
        while let Some(o) = self.udp_leg.table.poll_output() {
            match o.output {
                Output::Transmit(bytes) => {
                    let _ = self.udp.try_send_to(&bytes, o.peer);
                }
                Output::Event(txn::Event::Request(mut req)) => {
                    if let Some(k) = answer_key(&req) {
                        self.udp_leg.servers.insert(k.clone(), o.id);
                        self.udp_leg.server_keys.insert(o.id, k);
                    }
                    self.proxy
                        .message_from_inside(InsideHop::Datagram(o.peer), &mut req, now, out);
                }
                Output::Event(txn::Event::Response(mut resp)) => {
                    self.proxy.message_from_inside(
                        InsideHop::Datagram(o.peer),
                        &mut resp,
                        now,
                        out,
                    );
                }
                Output::Event(txn::Event::Timeout(_)) => {
                    // This call control stopped answering: later requests go to the next.
                    let n = self.call_control.len();
                    if n > 1 && self.call_control[self.cc_index].addr == o.peer {
                        self.cc_index = (self.cc_index + 1) % n;
                        eprintln!(
                            "c: call control {} did not answer; now using {}",
                            o.peer, self.call_control[self.cc_index].addr
                        );
                    }
                    // Call control never answered: the client hears 408 (RFC 3261 §16.7).
                    let timeout =
                        self.udp_leg.requests.get(&o.id).and_then(|r| {
                            r.response(408, "Request Timeout", Some("c-timeout")).ok()
                        });
                    if let Some(mut r) = timeout {
                        self.proxy.message_from_inside(
                            InsideHop::Datagram(o.peer),
                            &mut r,
                            now,
                            out,
                        );
                    }
                }
                Output::Event(_) => {}
                Output::Terminated => {
                    self.udp_leg.requests.remove(&o.id);
                    if let Some(k) = self.udp_leg.server_keys.remove(&o.id) {
                        self.udp_leg.servers.remove(&k);
                    }
                }
            }
        }
    }
}

/// Opens a call's media: E's answer to the Allocate, then C's legs.
async fn open_call(
    media: Arc<dyn CallMedia>,
    call: u64,
    e_ip: IpAddr,
    streams: Vec<StreamOpen>,
    answer: oneshot::Receiver<Result<control::Message, String>>,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<OpenedMedia, String> {
    let (address, alloc) = match answer.await {
        Ok(Ok(control::Message::Allocated {
            address, streams, ..
        })) => (address, streams),
        Ok(Ok(control::Message::Refused { code, .. })) => {
            return Err(format!("E refused the media: {code:?}"))
        }
        Ok(Ok(other)) => return Err(format!("E answered {other:?}")),
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("C's driver stopped".to_owned()),
    };
    if alloc.len() != streams.len() {
        let _ = events.send(Event::ReleaseAtE(call));
        return Err("E allocated a different number of streams".to_owned());
    }
    let e = alloc.clone();
    let opened = tokio::task::spawn_blocking(move || media.open(call, e_ip, &e, &streams))
        .await
        .map_err(|e| format!("media open: {e}"))
        .and_then(|r| r);
    match opened {
        Ok(local) => Ok(OpenedMedia {
            outside_address: address,
            streams: alloc
                .iter()
                .zip(local)
                .map(|(a, (inside_port, our_crypto))| OpenedStream {
                    outside_port: a.client_port,
                    inside_port,
                    our_crypto,
                })
                .collect(),
        }),
        Err(e) => {
            let _ = events.send(Event::ReleaseAtE(call));
            Err(e)
        }
    }
}

/// C's side of the control stream: requests out of `outgoing`, E's answers to the core.
async fn control_pump(
    stream: Stream,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::UnboundedSender<Event>,
    generation: u64,
) {
    let (mut writer, mut reader) = stream.split();
    let sender = tokio::spawn(async move {
        while let Some(bytes) = outgoing.recv().await {
            if writer.send(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut buf = Vec::new();
    'stream: while let Ok(Some(chunk)) = reader.recv().await {
        buf.extend_from_slice(&chunk);
        loop {
            match control::Message::parse(&buf) {
                Ok(Some((msg, used))) => {
                    buf.drain(..used);
                    if events
                        .send(Event::ControlAnswer { generation, msg })
                        .is_err()
                    {
                        break 'stream;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("c: control stream from E: {e}");
                    break 'stream;
                }
            }
        }
    }
    sender.abort();
    let _ = events.send(Event::ControlGone(generation));
}

/// Sleeps until `at`, or forever without a deadline.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// A TCP connection to `to`, from C's listening address and port where the system lets two
/// sockets share it (so that call control, which answers and sends requests to the source
/// address of the connection, reaches C's listener if this connection drops), else from any
/// port.
async fn connect_from(listen: SocketAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = || {
        if to.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
    };
    let timeout = Duration::from_secs(5);
    let shared = socket()?;
    let bound = shared.set_reuseaddr(true).is_ok()
        && shared.set_reuseport(true).is_ok()
        && !listen.ip().is_unspecified()
        && shared.bind(listen).is_ok();
    if bound {
        if let Ok(Ok(s)) = tokio::time::timeout(timeout, shared.connect(to)).await {
            return Ok(s);
        }
    }
    match tokio::time::timeout(timeout, socket()?.connect(to)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        )),
    }
}
