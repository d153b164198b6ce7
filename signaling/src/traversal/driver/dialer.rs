//! C's end: dials its E peers (C opens every traversal connection), keeps one live link, fails
//! over and backs off as [`PeerSelector`] decides, and publishes one [`LinkStatus`].

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio_rustls::TlsConnector;

use rustls_pki_types::{CertificateDer, ServerName};

use crate::traversal::frame::{GoawayCode, StreamKind};
use crate::traversal::link::{Link, LinkConfig};
use crate::traversal::peers::{Action, PeerPolicy, PeerSelector, Phase};
use crate::traversal::status::{Failure, FailureKind, LinkCounters, LinkPhase, LinkStatus};

use super::conn::{self, Cmd, LinkOutcome, LinkRun, OpenStreamError, Stream};
use super::tls::{self, TlsIdentity};
use super::{DriverError, DEFAULT_PORT};

/// One E peer as C dials it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EPeer {
    /// The name E's certificate must carry (DNS name or IP address); also resolved to dial
    /// unless `addr` is set.
    pub name: String,
    /// The traversal port (7001 by default).
    pub port: u16,
    /// Dial this address instead of resolving `name` (the certificate is still checked against
    /// `name`).
    pub addr: Option<SocketAddr>,
}

impl EPeer {
    /// A peer dialed by name on the default port.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            port: DEFAULT_PORT,
            addr: None,
        }
    }

    /// The same peer, dialed at `addr`.
    pub fn at(mut self, addr: SocketAddr) -> Self {
        self.port = addr.port();
        self.addr = Some(addr);
        self
    }
}

impl fmt::Display for EPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.port)
    }
}

/// C's dialer configuration.
pub struct DialerConfig {
    /// E peers in order of preference, at most six.
    pub peers: Vec<EPeer>,
    /// C's certificate chain and key (the certificate needs the client-auth usage).
    pub identity: TlsIdentity,
    /// The CA certificates E's certificate must chain to.
    pub server_ca: Vec<CertificateDer<'static>>,
    /// The user name in E's credential store.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Link limits and timers.
    pub link: LinkConfig,
    /// Failover, backoff, return to the preferred peer.
    pub policy: PeerPolicy,
    /// Time allowed for TCP connect and the TLS handshake together.
    pub handshake_timeout: Duration,
}

impl fmt::Debug for DialerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialerConfig")
            .field("peers", &self.peers)
            .field("user", &self.user)
            .field("link", &self.link)
            .field("policy", &self.policy)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// A handle to the live link's command channel.
type LiveLink = Option<mpsc::UnboundedSender<Cmd>>;

/// C's traversal link to its E peers. Dropping it cuts the link; [`shutdown`](Self::shutdown)
/// closes it with GOAWAY(SHUTDOWN).
#[derive(Debug)]
pub struct Dialer {
    status: watch::Receiver<LinkStatus>,
    live: watch::Receiver<LiveLink>,
    incoming: mpsc::UnboundedReceiver<Stream>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Dialer {
    /// Checks the configuration and starts dialing (inside a tokio runtime).
    pub fn start(config: DialerConfig) -> Result<Self, DriverError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DriverError::NoRuntime)?;
        config.link.validate().map_err(DriverError::Link)?;
        let mut names = Vec::with_capacity(config.peers.len());
        for peer in &config.peers {
            let name = ServerName::try_from(peer.name.clone())
                .map_err(|_| DriverError::BadPeerName(peer.name.clone()))?;
            names.push(name);
        }
        // Checks the user name and password lengths once, here.
        Link::client(Instant::now(), config.link, &config.user, &config.password)
            .map_err(DriverError::Link)?;
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let selector = PeerSelector::new(config.peers.len(), config.policy, Instant::now(), seed)
            .map_err(DriverError::Peers)?;
        let tls =
            tls::client_config(&config.identity, &config.server_ca).map_err(DriverError::Tls)?;
        let (status_tx, status) = watch::channel(LinkStatus::new(LinkPhase::Connecting, None));
        let (live_tx, live) = watch::channel(None);
        let (incoming_tx, incoming) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let shared = Arc::new(Shared {
            peers: config.peers,
            names,
            connector: TlsConnector::from(tls),
            user: config.user,
            password: config.password,
            link: config.link,
            handshake_timeout: config.handshake_timeout,
            incoming: incoming_tx,
        });
        let supervisor = Supervisor {
            shared,
            selector,
            status: status_tx,
            live: live_tx,
            conns: HashMap::new(),
            tasks: JoinSet::new(),
            next_id: 0,
            current: None,
            dialing: None,
            preferred: None,
            base: LinkCounters::default(),
            ever_up: false,
        };
        let task = runtime.spawn(supervisor.run(stop_rx));
        Ok(Self {
            status,
            live,
            incoming,
            stop: Some(stop_tx),
            task,
        })
    }

    /// The link's status, updated as it changes.
    pub fn status(&self) -> watch::Receiver<LinkStatus> {
        self.status.clone()
    }

    /// Opens a stream toward E on the live link.
    pub async fn open_stream(&self, kind: StreamKind) -> Result<Stream, OpenStreamError> {
        let cmds = self
            .live
            .borrow()
            .clone()
            .ok_or(OpenStreamError::NotConnected)?;
        conn::open_on(&cmds, kind).await
    }

    /// The next stream E opened (on whichever link was live).
    pub async fn accept_stream(&mut self) -> Option<Stream> {
        self.incoming.recv().await
    }

    /// Closes the live link with GOAWAY(SHUTDOWN) and stops dialing.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), &mut self.task).await;
    }
}

impl Drop for Dialer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    peers: Vec<EPeer>,
    names: Vec<ServerName<'static>>,
    connector: TlsConnector,
    user: String,
    password: String,
    link: LinkConfig,
    handshake_timeout: Duration,
    incoming: mpsc::UnboundedSender<Stream>,
}

#[derive(Debug)]
enum ConnEvent {
    Up {
        id: u64,
        cmds: mpsc::UnboundedSender<Cmd>,
    },
    /// E started a graceful drain of this link: its streams finish there, new ones need a new
    /// link.
    Draining {
        id: u64,
    },
    Ended {
        id: u64,
        outcome: LinkOutcome,
    },
}

struct Conn {
    peer: usize,
    status: watch::Receiver<LinkStatus>,
    cmds: Option<mpsc::UnboundedSender<Cmd>>,
    abort: AbortHandle,
}

struct Supervisor {
    shared: Arc<Shared>,
    selector: PeerSelector,
    status: watch::Sender<LinkStatus>,
    live: watch::Sender<LiveLink>,
    conns: HashMap<u64, Conn>,
    tasks: JoinSet<()>,
    next_id: u64,
    /// The live link.
    current: Option<u64>,
    /// The dial toward a live link, when there is none.
    dialing: Option<u64>,
    /// A dial of a more-preferred peer while `current` is live.
    preferred: Option<u64>,
    /// Counters of connections that ended, and dial counts.
    base: LinkCounters,
    ever_up: bool,
}

impl Supervisor {
    async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        loop {
            let now = Instant::now();
            while let Some(action) = self.selector.poll_action(now) {
                let (peer, preferred) = match action {
                    Action::Dial { peer } => (peer, false),
                    Action::TryPreferred { peer } => (peer, true),
                };
                let id = self.spawn(peer, events_tx.clone());
                if preferred {
                    self.preferred = Some(id);
                } else {
                    self.dialing = Some(id);
                }
            }
            self.publish(now);

            let wake = self.selector.poll_timeout();
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(
                wake.unwrap_or_else(|| now + Duration::from_secs(3600)),
            ));
            let watched = self
                .current
                .or(self.dialing)
                .and_then(|id| self.conns.get(&id))
                .map(|c| c.status.clone());
            let status_changed = async move {
                match watched {
                    Some(mut rx) => {
                        let _ = rx.changed().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(event) = events.recv() => self.on_event(event),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
                () = status_changed => {}
                () = sleep, if wake.is_some() => {}
                _ = &mut stop => break,
            }
        }
        // Shutdown: GOAWAY(SHUTDOWN) on every link, then wait for them to close.
        for conn in self.conns.values() {
            match &conn.cmds {
                Some(cmds) => {
                    let _ = cmds.send(Cmd::Goaway {
                        code: GoawayCode::SHUTDOWN,
                    });
                }
                None => conn.abort.abort(),
            }
        }
        let _ = self.live.send(None);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.status.send_modify(|s| s.set_state(LinkPhase::Closed));
    }

    fn spawn(&mut self, peer: usize, events: mpsc::UnboundedSender<ConnEvent>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.base.connect_attempts += 1;
        let label = self
            .shared
            .peers
            .get(peer)
            .map(ToString::to_string)
            .unwrap_or_default();
        let (status_tx, status) =
            watch::channel(LinkStatus::new(LinkPhase::Connecting, Some(label)));
        let abort = self
            .tasks
            .spawn(dial(id, peer, self.shared.clone(), status_tx, events));
        self.conns.insert(
            id,
            Conn {
                peer,
                status,
                cmds: None,
                abort,
            },
        );
        id
    }

    fn on_event(&mut self, event: ConnEvent) {
        let now = Instant::now();
        match event {
            ConnEvent::Up { id, cmds } => {
                let Some(conn) = self.conns.get_mut(&id) else {
                    return;
                };
                conn.cmds = Some(cmds.clone());
                let peer = conn.peer;
                if self.dialing == Some(id) {
                    self.dialing = None;
                    self.selector.dial_succeeded(peer, now);
                } else if self.preferred == Some(id) {
                    self.preferred = None;
                    if self.selector.preferred_succeeded(peer, now).is_none() {
                        let _ = cmds.send(Cmd::Goaway {
                            code: GoawayCode::NO_ERROR,
                        });
                        return;
                    }
                    // Make before break: the old link drains, new streams use the new one.
                    if let Some(old) = self.current.and_then(|old| self.conns.get(&old)) {
                        if let Some(old_cmds) = &old.cmds {
                            let _ = old_cmds.send(Cmd::Goaway {
                                code: GoawayCode::NO_ERROR,
                            });
                        }
                    }
                } else {
                    let _ = cmds.send(Cmd::Goaway {
                        code: GoawayCode::NO_ERROR,
                    });
                    return;
                }
                if self.ever_up {
                    self.base.reconnects += 1;
                }
                self.ever_up = true;
                self.current = Some(id);
                let _ = self.live.send(Some(cmds));
            }
            ConnEvent::Draining { id } => {
                if self.current == Some(id) {
                    if let Some(conn) = self.conns.get(&id) {
                        let peer = conn.peer;
                        let label = conn.status.borrow().peer.clone().unwrap_or_default();
                        let failure = Failure::new(
                            FailureKind::ConnectionLost,
                            "E is draining the link (GOAWAY NO_ERROR); open streams finish there",
                            &label,
                        );
                        self.status.send_modify(|s| s.last_error = Some(failure));
                        self.lose_current(peer, now);
                    }
                }
            }
            ConnEvent::Ended { id, outcome } => {
                let Some(conn) = self.conns.remove(&id) else {
                    return;
                };
                self.base.add_link(&outcome.stats);
                if let Some(failure) = outcome.failure {
                    if failure.kind == FailureKind::AuthFailed {
                        self.base.auth_failures += 1;
                    }
                    self.status
                        .send_modify(|s| s.last_error = Some(failure.clone()));
                }
                if self.current == Some(id) {
                    self.lose_current(conn.peer, now);
                } else if self.dialing == Some(id) {
                    self.dialing = None;
                    self.selector.dial_failed(conn.peer, now);
                } else if self.preferred == Some(id) {
                    self.preferred = None;
                    self.selector.preferred_failed(conn.peer, now);
                }
            }
        }
    }

    /// The live link is gone (or going): no live link until the selector finds one; a
    /// preferred-peer attempt in flight is cancelled.
    fn lose_current(&mut self, peer: usize, now: Instant) {
        self.current = None;
        let _ = self.live.send(None);
        if let Some(p) = self.preferred.take() {
            if let Some(attempt) = self.conns.remove(&p) {
                attempt.abort.abort();
            }
        }
        self.selector.link_lost(peer, now);
    }

    /// Composes the C-level status from the selector and the connection that matters.
    fn publish(&mut self, now: Instant) {
        let mut counters = self.base;
        for conn in self.conns.values_mut() {
            // Marks the version seen, so that `changed()` in the loop waits for the next one.
            counters = counters.plus(&conn.status.borrow_and_update().counters);
        }
        let shown = self
            .current
            .or(self.dialing)
            .and_then(|id| self.conns.get(&id));
        let (state, peer, rtt, peer_addr) = match (self.selector.phase(), shown) {
            (Phase::Waiting { peer, until }, _) => {
                let state = if until > now {
                    LinkPhase::BackingOff
                } else {
                    LinkPhase::Connecting
                };
                (
                    state,
                    self.shared.peers.get(peer).map(ToString::to_string),
                    None,
                    None,
                )
            }
            (phase, Some(conn)) => {
                let s = conn.status.borrow();
                match s.state {
                    // The connection ended but its end is not processed yet: keep showing what
                    // was shown until the failure is recorded with it.
                    LinkPhase::Closed => {
                        let shown = self.status.borrow();
                        (shown.state, shown.peer.clone(), shown.rtt, shown.peer_addr)
                    }
                    // Authenticated, but not yet the live link (`open_stream` would not find
                    // it): "up" only once it is.
                    LinkPhase::Up if matches!(phase, Phase::Dialing { .. }) => (
                        LinkPhase::Authenticating,
                        s.peer.clone(),
                        s.rtt,
                        s.peer_addr,
                    ),
                    other => (other, s.peer.clone(), s.rtt, s.peer_addr),
                }
            }
            (_, None) => (LinkPhase::Connecting, None, None, None),
        };
        self.status.send_if_modified(|s| {
            let before = (s.state, s.peer.clone(), s.rtt, s.counters, s.peer_addr);
            if s.peer != peer {
                s.since = SystemTime::now();
            }
            s.set_state(state);
            s.peer = peer;
            s.rtt = rtt;
            s.counters = counters;
            s.peer_addr = peer_addr;
            before != (s.state, s.peer.clone(), s.rtt, s.counters, s.peer_addr)
        });
    }
}

async fn connect(
    shared: &Shared,
    peer: usize,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    let (Some(target), Some(name)) = (shared.peers.get(peer), shared.names.get(peer)) else {
        return Err(Failure::new(FailureKind::Connect, "no such peer", ""));
    };
    let label = target.to_string();
    let addrs: Vec<SocketAddr> = match target.addr {
        Some(addr) => vec![addr],
        None => tokio::net::lookup_host((target.name.as_str(), target.port))
            .await
            .map_err(|e| {
                Failure::new(
                    FailureKind::Connect,
                    format!("cannot resolve {}: {e}", target.name),
                    &label,
                )
            })?
            .collect(),
    };
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return shared
                    .connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| {
                        let (kind, detail) = tls::classify(&e);
                        Failure::new(kind, detail, &label)
                    });
            }
            Err(e) => last = Some(format!("connect to {addr}: {e}")),
        }
    }
    Err(Failure::new(
        FailureKind::Connect,
        last.unwrap_or_else(|| format!("{} resolved to no address", target.name)),
        &label,
    ))
}

async fn dial(
    id: u64,
    peer: usize,
    shared: Arc<Shared>,
    status: watch::Sender<LinkStatus>,
    events: mpsc::UnboundedSender<ConnEvent>,
) {
    let label = shared
        .peers
        .get(peer)
        .map(ToString::to_string)
        .unwrap_or_default();
    let failed = |failure: Failure| LinkOutcome {
        failure: Some(failure),
        was_up: false,
        stats: Default::default(),
    };
    let tls = match tokio::time::timeout(shared.handshake_timeout, connect(&shared, peer)).await {
        Err(_) => {
            let detail = format!(
                "connect and TLS handshake not completed within {:?}",
                shared.handshake_timeout
            );
            let outcome = failed(Failure::new(FailureKind::Timeout, detail, &label));
            let _ = events.send(ConnEvent::Ended { id, outcome });
            return;
        }
        Ok(Err(failure)) => {
            let _ = events.send(ConnEvent::Ended {
                id,
                outcome: failed(failure),
            });
            return;
        }
        Ok(Ok(tls)) => tls,
    };
    let addr = tls.get_ref().0.peer_addr().ok();
    status.send_modify(|s| {
        s.peer_addr = addr;
        s.set_state(LinkPhase::Authenticating);
    });
    let link = match Link::client(Instant::now(), shared.link, &shared.user, &shared.password) {
        Ok(link) => link,
        Err(e) => {
            let outcome = failed(Failure::new(FailureKind::Protocol, e.to_string(), &label));
            let _ = events.send(ConnEvent::Ended { id, outcome });
            return;
        }
    };
    let (cmd_tx, cmds) = mpsc::unbounded_channel();
    let up_events = events.clone();
    let up_cmds = cmd_tx.clone();
    let on_up: conn::OnUp = Box::new(move |_| {
        let _ = up_events.send(ConnEvent::Up { id, cmds: up_cmds });
    });
    let drain_events = events.clone();
    let on_drain = Box::new(move || {
        let _ = drain_events.send(ConnEvent::Draining { id });
    });
    let outcome = conn::run_link(LinkRun {
        io: tls,
        link,
        peer: label,
        cmds,
        cmd_tx,
        incoming: shared.incoming.clone(),
        status,
        on_up: Some(on_up),
        on_drain: Some(on_drain),
    })
    .await;
    let _ = events.send(ConnEvent::Ended { id, outcome });
}
