//! The traversal link over real TLS on 127.0.0.1, with rcgen certificates: mutual TLS, every
//! refusal and its reported reason, credentials, reconnect after E restarts, failover and return
//! to the preferred E.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unwrap failing is the test failing"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::Ca;
use rcgen::ExtendedKeyUsagePurpose;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use signaling::traversal::driver::{
    Connection, Dialer, DialerConfig, EPeer, Listener, ListenerConfig, TlsIdentity,
};
use signaling::traversal::frame::{ResetCode, StreamKind};
use signaling::traversal::link::LinkConfig;
use signaling::traversal::peers::{Backoff, PeerPolicy};
use signaling::traversal::status::{FailureKind, LinkPhase, LinkStatus, ListenerStatus};
use signaling::traversal::Credentials;

const WAIT: Duration = Duration::from_secs(10);

struct Store;

impl Credentials for Store {
    fn check(&self, user: &str, password: &str) -> bool {
        user == "expc-traversal" && password == "correct horse"
    }
}

fn link_config() -> LinkConfig {
    LinkConfig {
        probe_interval: Duration::from_millis(100),
        max_missed_acks: 3,
        auth_timeout: Duration::from_secs(3),
        drain_timeout: Duration::from_secs(2),
        ..LinkConfig::default()
    }
}

fn policy(return_to_preferred: Option<Duration>) -> PeerPolicy {
    PeerPolicy {
        backoff: Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(400),
            jitter: false,
        },
        return_to_preferred,
        stable_after: Duration::from_secs(30),
    }
}

struct Pki {
    ca: Ca,
}

impl Pki {
    fn new() -> Self {
        Self {
            ca: Ca::new("Example Traversal CA"),
        }
    }

    fn c_identity(&self) -> TlsIdentity {
        self.ca
            .leaf("expc.example.test", &["expc.example.test"], false)
    }

    async fn listen(&self, e_name: &str, bind: SocketAddr) -> Listener {
        self.listen_with(e_name, bind, Duration::from_secs(3)).await
    }

    async fn listen_with(
        &self,
        e_name: &str,
        bind: SocketAddr,
        handshake_timeout: Duration,
    ) -> Listener {
        let identity = self.ca.leaf(e_name, &[e_name], false);
        let mut config = ListenerConfig::new(
            identity,
            vec![self.ca.der()],
            vec!["expc.example.test".into()],
            Arc::new(Store),
        );
        config.bind = bind;
        config.link = link_config();
        config.handshake_timeout = handshake_timeout;
        Listener::bind(config).await.unwrap()
    }

    fn dial(&self, peers: Vec<EPeer>, identity: TlsIdentity, password: &str) -> Dialer {
        self.dial_with(peers, identity, password, policy(None))
    }

    fn dial_with(
        &self,
        peers: Vec<EPeer>,
        identity: TlsIdentity,
        password: &str,
        policy: PeerPolicy,
    ) -> Dialer {
        Dialer::start(self.dialer_config(peers, identity, password, policy)).unwrap()
    }

    fn dialer_config(
        &self,
        peers: Vec<EPeer>,
        identity: TlsIdentity,
        password: &str,
        policy: PeerPolicy,
    ) -> DialerConfig {
        DialerConfig {
            peers,
            identity,
            server_ca: vec![self.ca.der()],
            user: "expc-traversal".into(),
            password: password.into(),
            link: link_config(),
            policy,
            handshake_timeout: Duration::from_secs(3),
        }
    }
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn wait_status(
    rx: &mut watch::Receiver<LinkStatus>,
    what: &str,
    pred: impl FnMut(&LinkStatus) -> bool,
) -> LinkStatus {
    let found = match tokio::time::timeout(WAIT, rx.wait_for(pred)).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    found.unwrap_or_else(|| panic!("timed out waiting for {what}; status: {:#?}", *rx.borrow()))
}

async fn wait_listener(
    rx: &mut watch::Receiver<ListenerStatus>,
    what: &str,
    pred: impl FnMut(&ListenerStatus) -> bool,
) -> ListenerStatus {
    let found = match tokio::time::timeout(WAIT, rx.wait_for(pred)).await {
        Ok(Ok(s)) => Some(s.clone()),
        _ => None,
    };
    found.unwrap_or_else(|| panic!("timed out waiting for {what}; status: {:#?}", *rx.borrow()))
}

async fn accept(listener: &mut Listener) -> Connection {
    tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("a link within the wait")
        .expect("listener open")
}

/// A port nothing listens on (bound, then released).
fn dead_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_link_carries_streams_both_ways() {
    let pki = Pki::new();
    let mut e = pki.listen("e1.example.test", localhost()).await;
    let peer = EPeer::new("e1.example.test").at(e.local_addr());
    let mut c = pki.dial(vec![peer], pki.c_identity(), "correct horse");
    let mut status = c.status();
    let up = wait_status(&mut status, "C up", |s| s.state == LinkPhase::Up).await;
    assert_eq!(
        up.peer.as_deref(),
        Some(&*format!("e1.example.test:{}", e.local_addr().port()))
    );
    let mut conn = accept(&mut e).await;
    assert_eq!(conn.user(), "expc-traversal");

    // C opens (a registration), E answers.
    let mut reg = c.open_stream(StreamKind::SIP).await.unwrap();
    reg.send(b"REGISTER sip:example.com SIP/2.0\r\n\r\n")
        .await
        .unwrap();
    reg.close().unwrap();
    let mut at_e = tokio::time::timeout(WAIT, conn.accept_stream())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_e.kind(), StreamKind::SIP);
    assert_eq!(
        at_e.read_to_end().await.unwrap(),
        b"REGISTER sip:example.com SIP/2.0\r\n\r\n"
    );
    at_e.send(b"SIP/2.0 200 OK\r\n\r\n").await.unwrap();
    at_e.close().unwrap();
    assert_eq!(reg.read_to_end().await.unwrap(), b"SIP/2.0 200 OK\r\n\r\n");

    // E opens toward C (a request for a registered phone), with more data than one window.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut invite = conn.open_stream(StreamKind::SIP).await.unwrap();
    let sender = {
        let big = big.clone();
        tokio::spawn(async move {
            for chunk in big.chunks(50_000) {
                invite.send(chunk).await.unwrap();
            }
            invite.close().unwrap();
            invite
        })
    };
    let mut at_c = tokio::time::timeout(WAIT, c.accept_stream())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_c.read_to_end().await.unwrap(), big);
    let mut invite = sender.await.unwrap();
    at_c.close().unwrap();
    assert_eq!(invite.recv().await.unwrap(), None);

    // A stream reset by one end is seen by the other.
    let doomed = c.open_stream(StreamKind::HTTP).await.unwrap();
    let mut doomed_e = tokio::time::timeout(WAIT, conn.accept_stream())
        .await
        .unwrap()
        .unwrap();
    doomed.reset(ResetCode::CANCEL);
    assert_eq!(
        doomed_e.recv().await,
        Err(signaling::traversal::driver::StreamIoError::Reset(
            ResetCode::CANCEL
        ))
    );

    // Probes give an RTT; counters move.
    let s = wait_status(&mut status, "an RTT", |s| s.rtt.is_some()).await;
    assert!(s.counters.frames_in > 0 && s.counters.frames_out > 0);
    assert!(s.counters.bytes_in > 1_000_000);
    assert!(s.last_error.is_none(), "{:?}", s.last_error);
    let mut e_link = conn.status();
    let es = wait_status(&mut e_link, "E's RTT", |s| s.rtt.is_some()).await;
    assert_eq!(es.state, LinkPhase::Up);
    assert_eq!(e.status().borrow().active_links, 1);
    c.shutdown().await;
    // E hears the shutdown.
    let es = wait_status(&mut e_link, "E closed", |s| s.state == LinkPhase::Closed).await;
    let failure = es.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::ConnectionLost, "{failure}");
    assert!(failure.detail.contains("SHUTDOWN"), "{failure}");
}

/// E refuses C; both ends say why.
async fn refused_by_e(identity: TlsIdentity, expect: FailureKind, detail: &str) -> LinkStatus {
    let pki = Pki::new();
    let e = pki.listen("e1.example.test", localhost()).await;
    let mut e_status = e.status();
    let peer = EPeer::new("e1.example.test").at(e.local_addr());
    let c = pki.dial(vec![peer], identity, "correct horse");
    let es = wait_listener(&mut e_status, "E refusal", |s| s.last_error.is_some()).await;
    let failure = es.last_error.unwrap();
    assert_eq!(failure.kind, expect, "{failure}");
    assert!(
        failure
            .detail
            .to_lowercase()
            .contains(&detail.to_lowercase()),
        "{failure}"
    );
    assert!(es.refused >= 1);
    assert_eq!(es.active_links, 0);
    let mut status = c.status();
    let s = wait_status(&mut status, "C sees the refusal", |s| {
        s.last_error.is_some()
    })
    .await;
    assert_ne!(s.state, LinkPhase::Up);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_refuses_the_wrong_subject_name() {
    let pki = Pki::new();
    let wrong = pki
        .ca
        .leaf("intruder.example.test", &["intruder.example.test"], false);
    // Same CA as E trusts, so TLS succeeds and the subject check refuses.
    let e = pki.listen("e1.example.test", localhost()).await;
    let mut e_status = e.status();
    let c = pki.dial(
        vec![EPeer::new("e1.example.test").at(e.local_addr())],
        wrong,
        "correct horse",
    );
    let es = wait_listener(&mut e_status, "E refusal", |s| s.last_error.is_some()).await;
    let failure = es.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::SubjectName);
    assert!(
        failure.detail.contains("intruder.example.test"),
        "{failure}"
    );
    assert!(failure.detail.contains("expc.example.test"), "{failure}");
    let mut status = c.status();
    let s = wait_status(&mut status, "C refusal", |s| s.last_error.is_some()).await;
    let failure = s.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::RefusedByPeer, "{failure}");
    assert!(failure.detail.contains("SUBJECT_NAME"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_refuses_an_untrusted_ca() {
    let other = Ca::new("Some Other CA");
    let identity = other.leaf("expc.example.test", &["expc.example.test"], false);
    let s = refused_by_e(identity, FailureKind::CertificateRejected, "UnknownIssuer").await;
    let failure = s.last_error.unwrap();
    eprintln!("C saw: {failure}");
    // C hears E's TLS alert (or, at worst, the connection closing under it).
    assert!(
        matches!(
            failure.kind,
            FailureKind::RefusedByPeer | FailureKind::ConnectionLost
        ),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_refuses_a_certificate_without_client_auth_usage() {
    // The classic MRA mistake: C's certificate lists only the server-authentication usage.
    let pki = Pki::new();
    let identity = pki.ca.leaf_with_usage(
        "expc.example.test",
        &["expc.example.test"],
        false,
        &[ExtendedKeyUsagePurpose::ServerAuth],
    );
    let e = pki.listen("e1.example.test", localhost()).await;
    let mut e_status = e.status();
    let c = pki.dial(
        vec![EPeer::new("e1.example.test").at(e.local_addr())],
        identity,
        "correct horse",
    );
    let es = wait_listener(&mut e_status, "E refusal", |s| s.last_error.is_some()).await;
    let failure = es.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::CertificateRejected, "{failure}");
    assert!(
        failure.detail.contains("client authentication"),
        "{failure}"
    );
    let mut status = c.status();
    let s = wait_status(&mut status, "C refusal", |s| s.last_error.is_some()).await;
    assert_ne!(s.state, LinkPhase::Up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_refuses_an_expired_certificate() {
    let pki_ca = Ca::new("Expired Test CA");
    // Signed by the CA E trusts: the listener below is built from the same CA.
    let pki = Pki { ca: pki_ca };
    let identity = pki
        .ca
        .leaf("expc.example.test", &["expc.example.test"], true);
    let e = pki.listen("e1.example.test", localhost()).await;
    let mut e_status = e.status();
    let c = pki.dial(
        vec![EPeer::new("e1.example.test").at(e.local_addr())],
        identity,
        "correct horse",
    );
    let es = wait_listener(&mut e_status, "E refusal", |s| s.last_error.is_some()).await;
    let failure = es.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::CertificateRejected, "{failure}");
    assert!(
        failure.detail.to_lowercase().contains("expired"),
        "{failure}"
    );
    let mut status = c.status();
    let s = wait_status(&mut status, "C refusal", |s| s.last_error.is_some()).await;
    let failure = s.last_error.unwrap();
    eprintln!("C saw: {failure}");
    assert!(
        matches!(
            failure.kind,
            FailureKind::RefusedByPeer | FailureKind::ConnectionLost
        ),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_refuses_a_client_without_a_certificate() {
    let pki = Pki::new();
    let e = pki.listen("e1.example.test", localhost()).await;
    let mut e_status = e.status();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(e.local_addr())
        .await
        .unwrap();
    let name = ServerName::try_from("e1.example.test").unwrap();
    // TLS 1.3: the client finishes its side; E's refusal arrives as an alert on the first read.
    if let Ok(mut tls) = connector.connect(name, tcp).await {
        let _ = tls.write_all(b"hello").await;
        let mut buf = [0u8; 64];
        let read = tls.read(&mut buf).await;
        assert!(
            !matches!(read, Ok(n) if n > 0),
            "E sent nothing to a client without a certificate"
        );
    }
    let es = wait_listener(&mut e_status, "E refusal", |s| s.last_error.is_some()).await;
    let failure = es.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::NoClientCertificate, "{failure}");
    assert_eq!(es.refused, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_refuses_an_e_certificate_for_another_host() {
    let pki = Pki::new();
    // E presents a certificate for e1; C dialed e2.
    let e = pki.listen("e1.example.test", localhost()).await;
    let mut e_status = e.status();
    let c = pki.dial(
        vec![EPeer::new("e2.example.test").at(e.local_addr())],
        pki.c_identity(),
        "correct horse",
    );
    let mut status = c.status();
    let s = wait_status(&mut status, "C refusal", |s| s.last_error.is_some()).await;
    let failure = s.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::CertificateRejected, "{failure}");
    assert!(
        failure.detail.contains("NotValidForName") || failure.detail.contains("not valid for name"),
        "{failure}"
    );
    assert!(failure.peer.starts_with("e2.example.test:"), "{failure}");
    // E sees C's alert.
    let es = wait_listener(&mut e_status, "E sees the alert", |s| {
        s.last_error.is_some()
    })
    .await;
    assert_eq!(es.last_error.unwrap().kind, FailureKind::RefusedByPeer);
    assert_eq!(es.active_links, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_with_the_reason_in_status() {
    let pki = Pki::new();
    let e = pki.listen("e1.example.test", localhost()).await;
    let mut e_status = e.status();
    let c = pki.dial(
        vec![EPeer::new("e1.example.test").at(e.local_addr())],
        pki.c_identity(),
        "battery staple",
    );
    let mut status = c.status();
    let s = wait_status(&mut status, "C auth failure", |s| {
        s.counters.auth_failures >= 1
    })
    .await;
    let failure = s.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::AuthFailed, "{failure}");
    assert!(failure.detail.contains("AUTH_FAILED"), "{failure}");
    assert_ne!(s.state, LinkPhase::Up);
    let es = wait_listener(&mut e_status, "E auth failure", |s| s.auth_failures >= 1).await;
    assert_eq!(es.last_error.unwrap().kind, FailureKind::AuthFailed);
    assert_eq!(es.active_links, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_reconnects_when_e_comes_back() {
    let pki = Pki::new();
    let e = pki.listen("e1.example.test", localhost()).await;
    let addr = e.local_addr();
    let c = pki.dial(
        vec![EPeer::new("e1.example.test").at(addr)],
        pki.c_identity(),
        "correct horse",
    );
    let mut status = c.status();
    wait_status(&mut status, "C up", |s| s.state == LinkPhase::Up).await;

    // Kill E: the listener and every link it accepted.
    drop(e);
    let s = wait_status(&mut status, "C notices", |s| s.state != LinkPhase::Up).await;
    assert!(s.last_error.is_some(), "{s:#?}");
    // C keeps trying while E is away (backoff 100-400 ms).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let s = status.borrow().clone();
    assert_ne!(s.state, LinkPhase::Up);
    assert_eq!(
        s.last_error.as_ref().unwrap().kind,
        FailureKind::Connect,
        "{s:?}"
    );
    let attempts = s.counters.connect_attempts;
    assert!(attempts >= 3, "{s:?}");

    let started = std::time::Instant::now();
    let mut e = pki.listen("e1.example.test", addr).await;
    let s = wait_status(&mut status, "C back up", |s| s.state == LinkPhase::Up).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "within the backoff cap"
    );
    assert_eq!(s.counters.reconnects, 1);
    let conn = accept(&mut e).await;
    // The new link works.
    let mut stream = conn.open_stream(StreamKind::HTTP).await.unwrap();
    stream.send(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    stream.close().unwrap();
    let mut c = c;
    let mut at_c = tokio::time::timeout(WAIT, c.accept_stream())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_c.read_to_end().await.unwrap(), b"GET / HTTP/1.1\r\n\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_the_second_e_and_returns_to_the_first() {
    let pki = Pki::new();
    let e1_addr = dead_port();
    let mut e2 = pki.listen("e2.example.test", localhost()).await;
    let peers = vec![
        EPeer::new("e1.example.test").at(e1_addr),
        EPeer::new("e2.example.test").at(e2.local_addr()),
    ];
    let c = pki.dial_with(
        peers,
        pki.c_identity(),
        "correct horse",
        policy(Some(Duration::from_millis(300))),
    );
    let mut status = c.status();
    let s = wait_status(&mut status, "C up on e2", |s| s.state == LinkPhase::Up).await;
    assert!(
        s.peer.as_deref().unwrap().starts_with("e2.example.test:"),
        "{s:?}"
    );
    let failure = s.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::Connect);
    assert!(failure.peer.starts_with("e1.example.test:"), "{failure}");
    let conn2 = accept(&mut e2).await;

    // A stream open on e2 while C goes back to e1 finishes on e2 (make before break).
    let mut on_e2 = c.open_stream(StreamKind::SIP).await.unwrap();
    let mut conn2 = conn2;
    let mut on_e2_at_e = tokio::time::timeout(WAIT, conn2.accept_stream())
        .await
        .unwrap()
        .unwrap();

    // e1 comes up: C returns to it within return_to_preferred.
    let mut e1 = pki.listen("e1.example.test", e1_addr).await;
    let s = wait_status(&mut status, "C back on e1", |s| {
        s.state == LinkPhase::Up && s.peer.as_deref().is_some_and(|p| p.starts_with("e1."))
    })
    .await;
    assert!(s.counters.reconnects >= 1);
    let _conn1 = accept(&mut e1).await;
    // New streams go to e1.
    let mut fresh = c.open_stream(StreamKind::SIP).await.unwrap();
    let mut conn1 = _conn1;
    fresh.send(b"to e1").await.unwrap();
    fresh.close().unwrap();
    let mut at_e1 = tokio::time::timeout(WAIT, conn1.accept_stream())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_e1.read_to_end().await.unwrap(), b"to e1");
    // The old stream still works on e2, then e2's link drains away.
    on_e2.send(b"still on e2").await.unwrap();
    on_e2.close().unwrap();
    assert_eq!(on_e2_at_e.read_to_end().await.unwrap(), b"still on e2");
    on_e2_at_e.close().unwrap();
    assert_eq!(on_e2.recv().await.unwrap(), None);
    let mut e2_link = conn2.status();
    wait_status(&mut e2_link, "e2 drained", |s| s.state == LinkPhase::Closed).await;
    assert!(tokio::time::timeout(WAIT, conn2.accept_stream())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_draining_a_link_moves_c_to_a_new_one() {
    let pki = Pki::new();
    let mut e = pki.listen("e1.example.test", localhost()).await;
    let mut c = pki.dial(
        vec![EPeer::new("e1.example.test").at(e.local_addr())],
        pki.c_identity(),
        "correct horse",
    );
    let mut status = c.status();
    wait_status(&mut status, "C up", |s| s.state == LinkPhase::Up).await;
    let mut first = accept(&mut e).await;
    let mut old_stream = c.open_stream(StreamKind::XMPP).await.unwrap();
    let mut old_at_e = tokio::time::timeout(WAIT, first.accept_stream())
        .await
        .unwrap()
        .unwrap();
    let mut first_status = first.status();

    // E's application lets go of the link: GOAWAY(NO_ERROR), C makes a new link at once.
    drop(first);
    let s = wait_status(&mut status, "C on a new link", |s| {
        s.state == LinkPhase::Up && s.counters.reconnects == 1
    })
    .await;
    assert_eq!(s.counters.connect_attempts, 2);
    let mut second = accept(&mut e).await;
    let mut fresh = c.open_stream(StreamKind::SIP).await.unwrap();
    fresh.send(b"new link").await.unwrap();
    fresh.close().unwrap();
    let mut fresh_at_e = tokio::time::timeout(WAIT, second.accept_stream())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh_at_e.read_to_end().await.unwrap(), b"new link");

    // The stream on the draining link still completes, then that link closes.
    old_stream.send(b"<presence/>").await.unwrap();
    old_stream.close().unwrap();
    assert_eq!(old_at_e.read_to_end().await.unwrap(), b"<presence/>");
    old_at_e.close().unwrap();
    assert_eq!(old_stream.recv().await.unwrap(), None);
    wait_status(&mut first_status, "old link closed", |s| {
        s.state == LinkPhase::Closed
    })
    .await;
    // C says why its previous link went away.
    let s = wait_status(&mut status, "C records the drain", |s| {
        s.last_error.is_some()
    })
    .await;
    let failure = s.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::ConnectionLost, "{failure}");
    assert!(failure.detail.contains("drain"), "{failure}");
    assert_eq!(s.state, LinkPhase::Up);
    let es = wait_listener(&mut e.status(), "E back to one link", |s| {
        s.active_links == 1
    })
    .await;
    assert_eq!(es.accepted, 2);
    assert!(c.accept_stream().now_or_never_is_pending());
}

trait NowOrNever {
    fn now_or_never_is_pending(self) -> bool;
}

impl<F: std::future::Future> NowOrNever for F {
    fn now_or_never_is_pending(self) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(self);
        fut.as_mut().poll(&mut cx).is_pending()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_time_out_at_both_ends() {
    let pki = Pki::new();
    // An "E" that accepts TCP and never speaks TLS.
    let silent = tokio::net::TcpListener::bind(localhost()).await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let mut config = pki.dialer_config(
        vec![EPeer::new("e1.example.test").at(silent_addr)],
        pki.c_identity(),
        "correct horse",
        policy(None),
    );
    config.handshake_timeout = Duration::from_millis(300);
    let c = Dialer::start(config).unwrap();
    let mut status = c.status();
    let s = wait_status(&mut status, "C timeout", |s| s.last_error.is_some()).await;
    let failure = s.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::Timeout, "{failure}");
    hold.abort();

    // A "C" that connects and never speaks TLS.
    let e = pki
        .listen_with("e1.example.test", localhost(), Duration::from_millis(300))
        .await;
    let mut e_status = e.status();
    let _mute = tokio::net::TcpStream::connect(e.local_addr())
        .await
        .unwrap();
    let es = wait_listener(&mut e_status, "E timeout", |s| s.last_error.is_some()).await;
    let failure = es.last_error.unwrap();
    assert_eq!(failure.kind, FailureKind::Timeout, "{failure}");
    assert_eq!(es.refused, 1);
}
