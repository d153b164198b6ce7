//! E's end: listens (E never dials C), accepts mutual TLS, checks C's subject name, runs one
//! [`Link::server`] per connection and hands authenticated links to the application as
//! [`Connection`]s.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use rustls_pki_types::CertificateDer;

use crate::traversal::certname;
use crate::traversal::frame::{Frame, GoawayCode, StreamKind};
use crate::traversal::link::{Link, LinkConfig};
use crate::traversal::status::{Failure, FailureKind, LinkPhase, LinkStatus, ListenerStatus};
use crate::traversal::Credentials;

use super::conn::{self, Cmd, LinkRun, OpenStreamError, Stream};
use super::tls::{self, TlsIdentity};
use super::{DriverError, DEFAULT_PORT};

/// E's listener configuration.
pub struct ListenerConfig {
    /// Where to listen (port 7001 by default).
    pub bind: SocketAddr,
    /// E's certificate chain and key.
    pub identity: TlsIdentity,
    /// The CA certificates that C's certificate must chain to.
    pub client_ca: Vec<CertificateDer<'static>>,
    /// "TLS verify subject name": C's certificate must carry one of these as its subject CN or
    /// as a SAN (ASCII case-insensitive). At least one.
    pub expected_client_names: Vec<String>,
    /// E's local credential store.
    pub credentials: Arc<dyn Credentials + Send + Sync>,
    /// Link limits and timers.
    pub link: LinkConfig,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
}

impl ListenerConfig {
    /// A configuration on `0.0.0.0:7001` with the default link settings.
    pub fn new(
        identity: TlsIdentity,
        client_ca: Vec<CertificateDer<'static>>,
        expected_client_names: Vec<String>,
        credentials: Arc<dyn Credentials + Send + Sync>,
    ) -> Self {
        Self {
            bind: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            identity,
            client_ca,
            expected_client_names,
            credentials,
            link: LinkConfig::default(),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for ListenerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerConfig")
            .field("bind", &self.bind)
            .field("expected_client_names", &self.expected_client_names)
            .field("link", &self.link)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

struct Shared {
    acceptor: TlsAcceptor,
    expected: Vec<String>,
    credentials: Arc<dyn Credentials + Send + Sync>,
    link: LinkConfig,
    handshake_timeout: Duration,
    status: watch::Sender<ListenerStatus>,
    connections: mpsc::UnboundedSender<Connection>,
}

/// E's traversal listener. Dropping it stops listening and cuts every link it accepted.
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    status: watch::Receiver<ListenerStatus>,
    connections: mpsc::UnboundedReceiver<Connection>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Binds and starts accepting (inside a tokio runtime).
    pub async fn bind(config: ListenerConfig) -> Result<Self, DriverError> {
        config.link.validate().map_err(DriverError::Link)?;
        if config.expected_client_names.is_empty() {
            return Err(DriverError::NoExpectedSubjectName);
        }
        let tls =
            tls::server_config(&config.identity, &config.client_ca).map_err(DriverError::Tls)?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(DriverError::Bind)?;
        let local_addr = listener.local_addr().map_err(DriverError::Bind)?;
        let (status_tx, status) = watch::channel(ListenerStatus {
            local_addr,
            accepted: 0,
            refused: 0,
            auth_failures: 0,
            active_links: 0,
            last_error: None,
        });
        let (conn_tx, connections) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            acceptor: TlsAcceptor::from(tls),
            expected: config.expected_client_names,
            credentials: config.credentials,
            link: config.link,
            handshake_timeout: config.handshake_timeout,
            status: status_tx,
            connections: conn_tx,
        });
        let task = tokio::spawn(accept_loop(listener, shared));
        Ok(Self {
            local_addr,
            status,
            connections,
            task,
        })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The listener's status, updated as connections come and go.
    pub fn status(&self) -> watch::Receiver<ListenerStatus> {
        self.status.clone()
    }

    /// The next authenticated link from a C.
    pub async fn accept(&mut self) -> Option<Connection> {
        self.connections.recv().await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The accept task owns the connection tasks (a JoinSet): aborting it aborts them all.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, addr)) => {
                    shared.status.send_modify(|s| s.accepted += 1);
                    tasks.spawn(serve(sock, addr, shared.clone()));
                }
                // Out of descriptors and the like: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}

fn refuse(shared: &Shared, failure: Failure) {
    shared.status.send_modify(|s| {
        s.refused += 1;
        if failure.kind == FailureKind::AuthFailed {
            s.auth_failures += 1;
        }
        s.last_error = Some(failure);
    });
}

async fn serve(sock: TcpStream, addr: SocketAddr, shared: Arc<Shared>) {
    let peer = addr.to_string();
    let _ = sock.set_nodelay(true);
    let tls =
        match tokio::time::timeout(shared.handshake_timeout, shared.acceptor.accept(sock)).await {
            Err(_) => {
                let detail = format!(
                    "TLS handshake not completed within {:?}",
                    shared.handshake_timeout
                );
                return refuse(&shared, Failure::new(FailureKind::Timeout, detail, &peer));
            }
            Ok(Err(e)) => {
                let (kind, detail) = tls::classify(&e);
                return refuse(&shared, Failure::new(kind, detail, &peer));
            }
            Ok(Ok(tls)) => tls,
        };

    // TLS verify subject name.
    let names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| certname::cert_names(leaf.as_ref()));
    let refusal = match names {
        Some(Ok(names)) if shared.expected.iter().any(|e| names.matches(e)) => None,
        Some(Ok(names)) => Some(Failure::new(
            FailureKind::SubjectName,
            format!(
                "client certificate names {names}, none of the expected {:?}",
                shared.expected
            ),
            &peer,
        )),
        Some(Err(e)) => Some(Failure::new(
            FailureKind::SubjectName,
            format!("client certificate names unreadable: {e}"),
            &peer,
        )),
        None => Some(Failure::new(
            FailureKind::NoClientCertificate,
            "TLS: the client presented no certificate",
            &peer,
        )),
    };
    if let Some(failure) = refusal {
        refuse_after_handshake(tls, GoawayCode::SUBJECT_NAME).await;
        return refuse(&shared, failure);
    }

    let Ok(link) = Link::server(Instant::now(), shared.link, shared.credentials.clone()) else {
        // The configuration was validated in `bind`.
        return;
    };
    let (cmd_tx, cmds) = mpsc::unbounded_channel();
    let (incoming_tx, incoming) = mpsc::unbounded_channel();
    let (status_tx, status) = watch::channel(LinkStatus::new(
        LinkPhase::Authenticating,
        Some(peer.clone()),
    ));
    let up_shared = shared.clone();
    let up_cmds = cmd_tx.clone();
    let on_up: conn::OnUp = Box::new(move |user| {
        up_shared.status.send_modify(|s| s.active_links += 1);
        let _ = up_shared.connections.send(Connection {
            peer_addr: addr,
            user: user.unwrap_or_default(),
            cmds: up_cmds,
            incoming,
            status,
        });
    });
    let outcome = conn::run_link(LinkRun {
        io: tls,
        link,
        peer: peer.clone(),
        cmds,
        cmd_tx,
        incoming: incoming_tx,
        status: status_tx,
        on_up: Some(on_up),
        on_drain: None,
    })
    .await;
    shared.status.send_modify(|s| {
        if outcome.was_up {
            s.active_links = s.active_links.saturating_sub(1);
        } else {
            s.refused += 1;
        }
        s.auth_failures += outcome.stats.auth_failures;
        if let Some(failure) = outcome.failure {
            s.last_error = Some(failure);
        }
    });
}

/// Tells C why (a GOAWAY frame, before any AUTH is read), closes TLS, and lingers until C closes.
async fn refuse_after_handshake(
    mut tls: tokio_rustls::server::TlsStream<TcpStream>,
    code: GoawayCode,
) {
    let mut frame = Vec::new();
    if (Frame::Goaway { code }).emit_to_vec(&mut frame).is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            tls.write_all(&frame).await?;
            tls.shutdown().await?;
            let mut sink = [0u8; 1024];
            while tls.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    }
}

/// An authenticated link from a C, on E. E opens streams toward C with
/// [`open_stream`](Self::open_stream) (requests for registered phones, HTTP, XMPP) and gets C's
/// streams from [`accept_stream`](Self::accept_stream). Dropping it drains the link (C
/// reconnects).
#[derive(Debug)]
pub struct Connection {
    peer_addr: SocketAddr,
    user: String,
    cmds: mpsc::UnboundedSender<Cmd>,
    incoming: mpsc::UnboundedReceiver<Stream>,
    status: watch::Receiver<LinkStatus>,
}

impl Connection {
    /// C's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// The user C authenticated as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// This link's status.
    pub fn status(&self) -> watch::Receiver<LinkStatus> {
        self.status.clone()
    }

    /// Opens a stream toward C.
    pub async fn open_stream(&self, kind: StreamKind) -> Result<Stream, OpenStreamError> {
        conn::open_on(&self.cmds, kind).await
    }

    /// The next stream C opened; `None` once the link is closed.
    pub async fn accept_stream(&mut self) -> Option<Stream> {
        self.incoming.recv().await
    }

    /// Closes the link: `NO_ERROR` drains, any other code cuts at once.
    pub fn goaway(&self, code: GoawayCode) {
        let _ = self.cmds.send(Cmd::Goaway { code });
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.cmds.send(Cmd::ConnectionDropped);
    }
}
