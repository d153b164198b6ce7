//! E's driver: client TLS flows and the traversal listener around one [`EProxy`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;

use super::flow::{self, FlowSetup};
use super::pump;
use super::{StartError, TransportCounters};
use crate::sip::Limits;
use crate::sip_edge::e_proxy::{EAction, EProxy, EProxyConfig, EStats, FlowInfo};
use crate::sip_edge::envelope::OwnedEnvelope;
use crate::traversal::control::{self, MediaAllocator};
use crate::traversal::driver::{Listener, ListenerConfig, Stream};
use crate::traversal::frame::StreamKind;
use crate::traversal::status::{LinkStatus, ListenerStatus};

/// E's SIP driver set-up.
pub struct EDriverConfig {
    /// Where clients connect (SIP over TLS, 5061).
    pub sip_tls: SocketAddr,
    /// The TLS configuration clients see ([`super::sip_tls_server_config`]).
    pub tls: Arc<ServerConfig>,
    /// The traversal listener C dials (7001).
    pub traversal: ListenerConfig,
    /// The proxy.
    pub proxy: EProxyConfig,
    /// SIP size limits per message.
    pub limits: Limits,
    /// Client connections held at most (each is a file descriptor).
    pub max_flows: usize,
    /// Time allowed for a client's TLS handshake.
    pub handshake_timeout: Duration,
    /// How long the start of a message may wait for the rest before the flow is closed.
    pub incomplete_timeout: Duration,
    /// E's media plane, for C's control streams (client-facing media of calls); `None`: E
    /// carries no media and resets control streams.
    pub media: Option<Arc<dyn MediaAllocator>>,
}

/// What the admin API shows of E's SIP side.
#[derive(Clone, Debug)]
pub struct ESnapshot {
    /// The client-facing listener.
    pub sip_tls: SocketAddr,
    /// The proxy's counters.
    pub stats: EStats,
    /// Flows open.
    pub flows: usize,
    /// Flows holding a registration.
    pub registered: u32,
    /// The first flows (by id).
    pub flow_list: Vec<FlowInfo>,
    /// The traversal listener.
    pub listener: ListenerStatus,
    /// The link whose SIP stream is in use, if any.
    pub link: Option<LinkStatus>,
    /// Links authenticated (some may not have opened their SIP stream yet).
    pub links: Vec<LinkStatus>,
}

enum Event {
    FlowOpened {
        client: SocketAddr,
        tx: mpsc::UnboundedSender<Vec<u8>>,
        reply: oneshot::Sender<u64>,
    },
    FromClient(u64, Vec<u8>),
    FlowClosed(u64),
    Link {
        id: u64,
        status: watch::Receiver<LinkStatus>,
    },
    LinkGone(u64),
    SipStream {
        link: u64,
        tx: mpsc::UnboundedSender<Vec<u8>>,
    },
    SipStreamGone {
        link: u64,
        why: String,
    },
    FromC(OwnedEnvelope),
    Snapshot(oneshot::Sender<ESnapshot>),
}

/// A running E driver. Dropping it stops it.
pub struct EHandle {
    events: mpsc::UnboundedSender<Event>,
    counters: Arc<TransportCounters>,
    sip_tls: SocketAddr,
    traversal: SocketAddr,
    media: Option<Arc<dyn MediaAllocator>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for EDriverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EDriverConfig")
            .field("sip_tls", &self.sip_tls)
            .field("traversal", &self.traversal)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EHandle")
            .field("sip_tls", &self.sip_tls)
            .field("traversal", &self.traversal)
            .finish_non_exhaustive()
    }
}

impl EHandle {
    /// What E's media plane holds now (`None`: E carries no media).
    pub fn media_usage(&self) -> Option<crate::traversal::control::MediaUsage> {
        self.media.as_ref().map(|m| m.usage())
    }

    /// The calls E carries media for now, and the last ones ended (newest first).
    pub fn media_calls(
        &self,
    ) -> Option<(
        Vec<crate::traversal::control::MediaCall>,
        Vec<crate::traversal::control::MediaCall>,
    )> {
        self.media.as_ref().map(|m| m.calls())
    }

    /// A snapshot for the admin API (`None` once the driver stopped).
    pub async fn snapshot(&self) -> Option<ESnapshot> {
        let (tx, rx) = oneshot::channel();
        self.events.send(Event::Snapshot(tx)).ok()?;
        rx.await.ok()
    }

    /// The connection counters of the client-facing listener.
    pub fn counters(&self) -> &TransportCounters {
        &self.counters
    }

    /// Where clients connect.
    pub fn sip_tls_addr(&self) -> SocketAddr {
        self.sip_tls
    }

    /// Where C dials.
    pub fn traversal_addr(&self) -> SocketAddr {
        self.traversal
    }
}

impl Drop for EHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds E's listeners and starts the driver (inside a tokio runtime).
pub async fn start_e(config: EDriverConfig) -> Result<EHandle, StartError> {
    tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
    let sip = TcpListener::bind(config.sip_tls)
        .await
        .map_err(|e| StartError::Bind(format!("SIP TLS {}", config.sip_tls), e))?;
    let sip_tls = sip.local_addr().unwrap_or(config.sip_tls);
    let listener = Listener::bind(config.traversal)
        .await
        .map_err(StartError::Traversal)?;
    let traversal = listener.local_addr();
    let listener_status = listener.status();
    let (events_tx, events) = mpsc::unbounded_channel();
    let counters = Arc::new(TransportCounters::default());
    let flows_open = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let accept_clients = tokio::spawn(accept_clients(
        sip,
        TlsAcceptor::from(config.tls),
        FlowParams {
            limits: config.limits,
            max_flows: config.max_flows,
            handshake_timeout: config.handshake_timeout,
            incomplete_timeout: config.incomplete_timeout,
        },
        counters.clone(),
        flows_open,
        events_tx.clone(),
    ));
    let media = config.media.clone();
    let accept_links = tokio::spawn(accept_links(listener, events_tx.clone(), config.media));
    let core = Core {
        proxy: EProxy::new(config.proxy),
        flows: HashMap::new(),
        links: HashMap::new(),
        sip_stream: None,
        listener: listener_status,
        sip_tls,
    };
    let core_task = tokio::spawn(core.run(events));
    Ok(EHandle {
        events: events_tx,
        counters,
        sip_tls,
        traversal,
        media,
        tasks: vec![accept_clients, accept_links, core_task],
    })
}

#[derive(Clone, Copy)]
struct FlowParams {
    limits: Limits,
    max_flows: usize,
    handshake_timeout: Duration,
    incomplete_timeout: Duration,
}

async fn accept_clients(
    sip: TcpListener,
    acceptor: TlsAcceptor,
    params: FlowParams,
    counters: Arc<TransportCounters>,
    open: Arc<std::sync::atomic::AtomicUsize>,
    events: mpsc::UnboundedSender<Event>,
) {
    use std::sync::atomic::Ordering;
    loop {
        let (tcp, peer) = match sip.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: wait a moment rather than spin.
                eprintln!("e: SIP TLS accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        TransportCounters::bump(&counters.accepted);
        if open.load(Ordering::Relaxed) >= params.max_flows {
            TransportCounters::bump(&counters.refused_limit);
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        let (acceptor, counters, events, open) = (
            acceptor.clone(),
            counters.clone(),
            events.clone(),
            open.clone(),
        );
        tokio::spawn(async move {
            let tls = tokio::time::timeout(params.handshake_timeout, acceptor.accept(tcp)).await;
            let tls = match tls {
                Ok(Ok(s)) => s,
                Ok(Err(_)) | Err(_) => {
                    TransportCounters::bump(&counters.handshake_failures);
                    open.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let (reply, flow) = oneshot::channel();
            if events
                .send(Event::FlowOpened {
                    client: peer,
                    tx,
                    reply,
                })
                .is_err()
            {
                open.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            let Ok(flow_id) = flow.await else {
                open.fetch_sub(1, Ordering::Relaxed);
                return;
            };
            let setup = FlowSetup {
                peer,
                stun: true,
                limits: params.limits,
                incomplete_timeout: params.incomplete_timeout,
            };
            let ev = events.clone();
            let end = flow::run(tls, setup, counters, rx, move |msg| {
                ev.send(Event::FromClient(flow_id, msg)).is_ok()
            })
            .await;
            if matches!(end, flow::FlowEnd::Framing(_)) {
                eprintln!("e: flow {flow_id} from {peer} closed: {end}");
            }
            let _ = events.send(Event::FlowClosed(flow_id));
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn accept_links(
    mut listener: Listener,
    events: mpsc::UnboundedSender<Event>,
    media: Option<Arc<dyn MediaAllocator>>,
) {
    let mut next = 1u64;
    while let Some(mut conn) = listener.accept().await {
        let id = next;
        next += 1;
        eprintln!(
            "e: traversal link {id} up from {} (user {})",
            conn.peer_addr(),
            conn.user()
        );
        if events
            .send(Event::Link {
                id,
                status: conn.status(),
            })
            .is_err()
        {
            return;
        }
        let events = events.clone();
        let media = media.clone();
        tokio::spawn(async move {
            // The connection lives as long as this task; C opens the SIP stream on it.
            while let Some(stream) = conn.accept_stream().await {
                if stream.kind() == StreamKind::CONTROL {
                    if let Some(m) = &media {
                        tokio::spawn(serve_control(stream, m.clone(), id));
                        continue;
                    }
                }
                if stream.kind() != StreamKind::SIP {
                    // Other kinds (HTTP, XMPP) belong to other services: refused for now.
                    drop(stream);
                    continue;
                }
                let (tx, rx) = mpsc::unbounded_channel();
                if events.send(Event::SipStream { link: id, tx }).is_err() {
                    return;
                }
                // The pump runs apart, so that this loop goes on accepting C's other streams
                // (the control stream) on the same link.
                let ev = events.clone();
                let gone = events.clone();
                tokio::spawn(async move {
                    let end =
                        pump::run(stream, rx, move |env| ev.send(Event::FromC(env)).is_ok()).await;
                    let _ = gone.send(Event::SipStreamGone {
                        link: id,
                        why: end.to_string(),
                    });
                });
            }
            let _ = events.send(Event::LinkGone(id));
        });
    }
}

/// Serves one control stream from C: each request answered in order (allocations run off the
/// signaling thread); the calls still allocated when the stream ends (C gone, link down) are
/// released.
async fn serve_control(stream: Stream, media: Arc<dyn MediaAllocator>, link: u64) {
    let (mut writer, mut reader) = stream.split();
    let mut buf = Vec::new();
    let mut calls = std::collections::HashSet::new();
    'stream: while let Ok(Some(chunk)) = reader.recv().await {
        buf.extend_from_slice(&chunk);
        loop {
            let (msg, used) = match control::Message::parse(&buf) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("e: control stream on traversal link {link}: {e}");
                    break 'stream;
                }
            };
            buf.drain(..used);
            let m = media.clone();
            let answer = tokio::task::spawn_blocking(move || control::serve(&msg, &*m))
                .await
                .ok()
                .flatten();
            let Some(answer) = answer else {
                eprintln!("e: control stream on traversal link {link}: a response from C");
                break 'stream;
            };
            match &answer {
                control::Message::Allocated { call, .. } => {
                    calls.insert(*call);
                }
                control::Message::Released { call, .. } => {
                    calls.remove(call);
                }
                _ => {}
            }
            if writer.send(&answer.to_bytes()).await.is_err() {
                break 'stream;
            }
        }
    }
    if !calls.is_empty() {
        eprintln!(
            "e: control stream on traversal link {link} ended: releasing {} calls",
            calls.len()
        );
        let _ = tokio::task::spawn_blocking(move || {
            for call in calls {
                let _ = media.release(call);
            }
        })
        .await;
    }
}

struct Core {
    proxy: EProxy,
    flows: HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>,
    links: HashMap<u64, watch::Receiver<LinkStatus>>,
    /// The SIP stream in use: the latest a C opened.
    sip_stream: Option<(u64, mpsc::UnboundedSender<Vec<u8>>)>,
    listener: watch::Receiver<ListenerStatus>,
    sip_tls: SocketAddr,
}

impl Core {
    async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_refusal = None;
        let mut out = Vec::new();
        loop {
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else { return };
                    self.handle(ev, &mut out);
                    self.act(&mut out);
                }
                _ = tick.tick() => {
                    self.proxy.expire(Instant::now());
                    // Traversal refusals (certificate, subject name, credentials) go to the log
                    // with their reason, once each.
                    let st = self.listener.borrow().clone();
                    if let Some(f) = st.last_error {
                        let key = (f.at, f.detail.clone());
                        if last_refusal.as_ref() != Some(&key) {
                            eprintln!("e: traversal refused or failed: {f}");
                            last_refusal = Some(key);
                        }
                    }
                }
            }
        }
    }

    fn handle(&mut self, ev: Event, out: &mut Vec<EAction>) {
        let now = Instant::now();
        match ev {
            Event::FlowOpened { client, tx, reply } => {
                let flow = self.proxy.open_flow(client);
                self.flows.insert(flow, tx);
                let _ = reply.send(flow);
            }
            Event::FromClient(flow, bytes) => {
                let linked = self.sip_stream.is_some();
                self.proxy.from_client(flow, &bytes, linked, now, out);
            }
            Event::FlowClosed(flow) => {
                self.flows.remove(&flow);
                let linked = self.sip_stream.is_some();
                self.proxy.close_flow(flow, linked, out);
            }
            Event::Link { id, status } => {
                self.links.insert(id, status);
            }
            Event::LinkGone(id) => {
                self.links.remove(&id);
                eprintln!("e: traversal link {id} closed");
                if self.sip_stream.as_ref().is_some_and(|(l, _)| *l == id) {
                    self.sip_stream = None;
                }
            }
            Event::SipStream { link, tx } => {
                eprintln!("e: SIP stream open on traversal link {link}");
                self.sip_stream = Some((link, tx));
            }
            Event::SipStreamGone { link, why } => {
                if self.sip_stream.as_ref().is_some_and(|(l, _)| *l == link) {
                    eprintln!("e: SIP stream on traversal link {link} ended: {why}");
                    self.sip_stream = None;
                }
            }
            Event::FromC(env) => self.proxy.from_c(env.as_envelope(), now, out),
            Event::Snapshot(reply) => {
                let link = self
                    .sip_stream
                    .as_ref()
                    .and_then(|(l, _)| self.links.get(l))
                    .map(|s| s.borrow().clone());
                let _ = reply.send(ESnapshot {
                    sip_tls: self.sip_tls,
                    stats: self.proxy.stats().clone(),
                    flows: self.proxy.flow_count(),
                    registered: self.proxy.registered_count(),
                    flow_list: self.proxy.flows(now, 100),
                    listener: self.listener.borrow().clone(),
                    link,
                    links: self.links.values().map(|s| s.borrow().clone()).collect(),
                });
            }
        }
    }

    fn act(&mut self, out: &mut Vec<EAction>) {
        for a in out.drain(..) {
            match a {
                EAction::ToClient { flow, bytes } => {
                    if let Some(tx) = self.flows.get(&flow) {
                        let _ = tx.send(bytes);
                    }
                }
                EAction::ToC(bytes) => {
                    if let Some((_, tx)) = &self.sip_stream {
                        let _ = tx.send(bytes);
                    }
                }
            }
        }
    }
}
