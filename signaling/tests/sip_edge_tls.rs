//! SIP through E and C over real sockets on 127.0.0.1: a TLS client registers through E's
//! listener, the traversal link and C to a registrar stand-in on TCP, gets a MESSAGE back on
//! its flow; CRLF and STUN keepalives; bad input over TLS (garbage, oversized, malformed) is
//! answered or counted and costs no one else anything; 503 while the link is down. The same
//! path against the real Kamailio and real clients runs in the netns lab (tests crate).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unwrap failing is the test failing"
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::Ca;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use signaling::sip::{Frame, Framer, Host, Limits, Message, Role, Transport};
use signaling::sip_edge::driver::{
    sip_tls_server_config, start_c, start_e, CDriverConfig, CHandle, CallControlPeer,
    CallControlTransport, EDriverConfig, EHandle,
};
use signaling::sip_edge::{CProxyConfig, EProxyConfig, OwnNames, RegistrationMode};
use signaling::traversal::control::{
    MediaAllocator, Message as Control, RefusalCode, StreamAllocation,
};
use signaling::traversal::driver::{DialerConfig, EPeer, ListenerConfig};
use signaling::traversal::frame::StreamKind;
use signaling::traversal::link::LinkConfig;
use signaling::traversal::peers::{Backoff, PeerPolicy};
use signaling::traversal::Credentials;

const WAIT: Duration = Duration::from_secs(10);

struct Store;

impl Credentials for Store {
    fn check(&self, user: &str, password: &str) -> bool {
        user == "expc" && password == "traversal secret"
    }
}

/// Reads one framed SIP message (CRLF pings skipped) from a stream, with a deadline.
async fn read_message<S: AsyncReadExt + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<Message> {
    let mut framer = Framer::new(Limits::default(), Role::Client);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        loop {
            match framer.next(buf).ok()? {
                Frame::Incomplete => break,
                Frame::Message { len } => {
                    let m = Message::parse(&buf[..len]).ok();
                    buf.drain(..len);
                    return m;
                }
                f => {
                    buf.drain(..f.len());
                }
            }
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The registrar stand-in: answers REGISTER with 200 echoing each Contact with `expires`, and
/// hands every other message and a sender on its connection to the test.
async fn registrar(
    listener: TcpListener,
    seen: mpsc::UnboundedSender<(Message, mpsc::UnboundedSender<Vec<u8>>)>,
) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
            let mut buf = Vec::new();
            loop {
                tokio::select! {
                    m = read_message(&mut s, &mut buf) => {
                        let Some(m) = m else { return };
                        if m.method() == Some(&signaling::sip::Method::Register) {
                            let mut r = m.response(200, "OK", Some("reg")).unwrap();
                            for c in m.contacts() {
                                let mut c = c.clone();
                                let e = m.expires().unwrap_or(3600).to_string();
                                c.set_param("expires", Some(&e));
                                r.append_header("Contact", c.to_string().as_bytes()).unwrap();
                            }
                            s.write_all(&r.to_bytes()).await.unwrap();
                        }
                        let _ = seen.send((m, tx.clone()));
                    }
                    Some(out) = rx.recv() => s.write_all(&out).await.unwrap(),
                }
            }
        });
    }
}

struct Edge {
    e: EHandle,
    c: Option<CHandle>,
    ca: Ca,
    seen: mpsc::UnboundedReceiver<(Message, mpsc::UnboundedSender<Vec<u8>>)>,
    c_config: Box<dyn Fn() -> CDriverConfig + Send>,
    media: Arc<FakeMedia>,
}

/// E's media plane stand-in for the control stream: up to four streams in all, ports handed out
/// in order, every call and release recorded.
#[derive(Debug, Default)]
struct FakeMedia {
    state: std::sync::Mutex<FakeMediaState>,
}

#[derive(Debug, Default)]
struct FakeMediaState {
    calls: std::collections::HashMap<u64, u8>,
    next_port: u16,
    released: Vec<u64>,
}

impl MediaAllocator for FakeMedia {
    fn allocate(
        &self,
        call: u64,
        streams: u8,
    ) -> Result<(std::net::IpAddr, Vec<StreamAllocation>), (RefusalCode, u32)> {
        let mut st = self.state.lock().unwrap();
        let used: u8 = st.calls.values().sum();
        if used + streams > 4 {
            return Err((RefusalCode::Exhausted, 2000));
        }
        st.calls.insert(call, streams);
        let mut out = Vec::new();
        for _ in 0..streams {
            st.next_port += 2;
            out.push(StreamAllocation {
                client_port: 36000 + st.next_port,
                mux_pair: 36000,
                mux_id: u32::from(st.next_port),
            });
        }
        Ok(("198.18.1.1".parse().unwrap(), out))
    }

    fn release(&self, call: u64) -> Result<(), RefusalCode> {
        let mut st = self.state.lock().unwrap();
        st.calls.remove(&call).ok_or(RefusalCode::UnknownCall)?;
        st.released.push(call);
        Ok(())
    }
}

/// Flow-control windows of a few messages, so that tests fill them (defaults: 256 KiB).
fn small_windows() -> LinkConfig {
    LinkConfig {
        max_payload: 1024,
        stream_window: 8 * 1024,
        send_buffer: 8 * 1024,
        ..LinkConfig::default()
    }
}

async fn edge(limit: u32) -> Edge {
    edge_with(limit, None, Vec::new()).await
}

/// E and C; call control is the TCP registrar stand-in (after the `dead_first` ones, which
/// refuse connections), or `udp` when given.
async fn edge_with(limit: u32, udp: Option<SocketAddr>, dead_first: Vec<SocketAddr>) -> Edge {
    let media = Arc::new(FakeMedia::default());
    let ca = Ca::new("SIP edge test CA");
    let e_id = ca.leaf("expe.example.test", &["expe.example.test"], false);
    let c_id = ca.leaf("expc.example.test", &["expc.example.test"], false);
    let mut traversal = ListenerConfig::new(
        e_id.clone(),
        vec![ca.der()],
        vec!["expc.example.test".into()],
        Arc::new(Store),
    );
    traversal.bind = "127.0.0.1:0".parse().unwrap();
    traversal.link = small_windows();
    let e = start_e(EDriverConfig {
        sip_tls: "127.0.0.1:0".parse().unwrap(),
        tls: sip_tls_server_config(&e_id).unwrap(),
        traversal,
        proxy: EProxyConfig {
            via_host: Host::Name("expe.example.test".into()),
            via_port: 5061,
            own: OwnNames::new([Host::Name("expe.example.test".into())]),
            registration_limit: limit,
            retry_after: Duration::from_secs(20),
            first_flow: 1,
        },
        limits: Limits::default(),
        max_flows: 1000,
        handshake_timeout: Duration::from_secs(5),
        incomplete_timeout: Duration::from_secs(1),
        media: Some(media.clone()),
    })
    .await
    .unwrap();
    let registrar_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cc = registrar_listener.local_addr().unwrap();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(registrar(registrar_listener, seen_tx));
    let (traversal_addr, ca_der) = (e.traversal_addr(), ca.der());
    let c_config = Box::new(move || CDriverConfig {
        dialer: DialerConfig {
            peers: vec![EPeer::new("expe.example.test").at(traversal_addr)],
            identity: c_id.clone(),
            server_ca: vec![ca_der.clone()],
            user: "expc".into(),
            password: "traversal secret".into(),
            link: LinkConfig {
                probe_interval: Duration::from_millis(200),
                ..small_windows()
            },
            policy: PeerPolicy {
                backoff: Backoff {
                    min: Duration::from_millis(100),
                    max: Duration::from_millis(300),
                    jitter: false,
                },
                ..PeerPolicy::default()
            },
            handshake_timeout: Duration::from_secs(5),
        },
        proxy: CProxyConfig {
            mode: RegistrationMode::ContactRewrite,
            host: Host::parse("127.0.0.1").unwrap(),
            port: 0,
            transport: if udp.is_some() {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            own: OwnNames::new([Host::parse("127.0.0.1").unwrap()]),
            max_bindings: 100,
            max_pending: 10_000,
            calls: None,
        },
        media: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        call_control: match udp {
            Some(addr) => vec![CallControlPeer {
                addr,
                transport: CallControlTransport::Udp,
            }],
            None => {
                // A call control that refuses connections first: C must go on to the next.
                let mut peers: Vec<CallControlPeer> = dead_first
                    .iter()
                    .map(|&addr| CallControlPeer {
                        addr,
                        transport: CallControlTransport::Tcp,
                    })
                    .collect();
                peers.push(CallControlPeer {
                    addr: cc,
                    transport: CallControlTransport::Tcp,
                });
                peers
            }
        },
        limits: Limits::default(),
    });
    let c = start_c(c_config()).await.unwrap();
    let mut edge = Edge {
        e,
        c: Some(c),
        ca,
        seen,
        c_config,
        media,
    };
    edge.wait_linked(true).await;
    edge
}

impl Edge {
    async fn wait_linked(&mut self, up: bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = self.e.snapshot().await.unwrap();
            if s.link.is_some() == up {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "link up = {up} never seen"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn client(&self) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect(self.e.sip_tls_addr()).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("expe.example.test").unwrap(), tcp)
            .await
            .unwrap();
        Client {
            tls,
            buf: Vec::new(),
            local,
        }
    }

    async fn next_seen(&mut self) -> (Message, mpsc::UnboundedSender<Vec<u8>>) {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .expect("call control got nothing")
            .unwrap()
    }
}

struct Client {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
    local: SocketAddr,
}

impl Client {
    async fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    async fn recv(&mut self) -> Option<Message> {
        read_message(&mut self.tls, &mut self.buf).await
    }

    fn register(&self, cseq: u32, expires: u32) -> Vec<u8> {
        let l = self.local;
        format!(
            "REGISTER sip:example.test SIP/2.0\r\n\
             Via: SIP/2.0/TLS {l};branch=z9hG4bK-{cseq}-{port};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.test>;tag=f{port}\r\n\
             To: <sip:alice@example.test>\r\n\
             Call-ID: reg-{port}@test\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:alice@{l};transport=tls;ob>;+sip.instance=\"<urn:uuid:{port}>\";reg-id=1\r\n\
             Expires: {expires}\r\n\
             Content-Length: 0\r\n\r\n",
            port = l.port()
        )
        .into_bytes()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_message_through_e_and_c() {
    let mut edge = edge(100).await;
    let mut client = edge.client().await;
    client.send(&client.register(1, 300)).await;
    let (at_registrar, conn) = edge.next_seen().await;
    let contact = at_registrar.contacts().next().unwrap().clone();
    assert!(
        contact.uri.to_string().contains("x-portico-reg="),
        "{contact}"
    );
    assert_eq!(at_registrar.vias().count(), 3);
    let ok = client.recv().await.expect("200 to REGISTER");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        ok.contacts().next().unwrap().uri.to_string(),
        format!("sip:alice@{};transport=tls;ob", client.local)
    );

    // A MESSAGE from call control on the same connection, to the registered contact.
    let message = format!(
        "MESSAGE {} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-m1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=b\r\nTo: <sip:alice@example.test>\r\n\
         Call-ID: m1@test\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        contact.uri
    );
    conn.send(message.into_bytes()).unwrap();
    let got = client.recv().await.expect("MESSAGE on the flow");
    assert_eq!(got.body(), b"hi");
    client
        .send(&got.response(200, "OK", Some("a")).unwrap().to_bytes())
        .await;
    let (answer, _) = edge.next_seen().await;
    assert_eq!(answer.status(), Some(200));
    assert_eq!(answer.vias().count(), 1);

    // Status: one flow, registered; one binding at C.
    let s = edge.e.snapshot().await.unwrap();
    assert_eq!((s.flows, s.registered), (1, 1));
    let c = edge.c.as_ref().unwrap().snapshot().await.unwrap();
    assert_eq!(c.binding_count, 1);
    assert!(c.call_control_connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_crlf_and_stun_are_answered() {
    let edge = edge(100).await;
    let mut client = edge.client().await;
    client.send(b"\r\n\r\n").await;
    let mut pong = [0u8; 2];
    tokio::time::timeout(WAIT, client.tls.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7u8; 12]);
    client.send(&stun).await;
    let mut answer = [0u8; 32];
    tokio::time::timeout(WAIT, client.tls.read_exact(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&answer[..2], &[0x01, 0x01]);
    assert_eq!(&answer[8..20], &[7u8; 12]);
    let port = u16::from_be_bytes([answer[26], answer[27]]) ^ 0x2112;
    assert_eq!(
        port,
        client.local.port(),
        "XOR-MAPPED-ADDRESS is the client's address"
    );
    let c = edge.e.counters();
    assert_eq!(
        c.pings_answered.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        c.stun_answered.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_over_tls_is_answered_or_counted_and_hurts_no_one_else() {
    let mut edge = edge(100).await;
    let mut bystander = edge.client().await;
    bystander.send(&bystander.register(1, 300)).await;
    let _ = edge.next_seen().await;
    assert_eq!(bystander.recv().await.unwrap().status(), Some(200));

    // Malformed but framed (RFC 4475 §3.1.2.x style: a CSeq that is not a number): 400, the
    // flow stays usable.
    let mut c1 = edge.client().await;
    c1.send(
        b"OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.1;branch=z9hG4bK-x\r\n\
          From: <sip:a@example.test>;tag=1\r\nTo: <sip:b@example.test>\r\nCall-ID: x\r\n\
          CSeq: eight OPTIONS\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let mut head = vec![0u8; 12];
    tokio::time::timeout(WAIT, c1.tls.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&head, b"SIP/2.0 400 ");
    c1.send(&c1.register(1, 300)).await;
    let _ = edge.next_seen().await;

    // Oversized: a Content-Length over the limit gets 513 and the flow closes.
    let mut c2 = edge.client().await;
    c2.send(
        b"MESSAGE sip:b@example.test SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.2;branch=z9hG4bK-y\r\n\
          From: <sip:a@example.test>;tag=1\r\nTo: <sip:b@example.test>\r\nCall-ID: y\r\n\
          CSeq: 1 MESSAGE\r\nContent-Length: 9999999\r\n\r\n",
    )
    .await;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(WAIT, c2.tls.read_to_end(&mut all)).await;
    assert!(
        all.starts_with(b"SIP/2.0 513 "),
        "{}",
        String::from_utf8_lossy(&all)
    );

    // Garbage that is neither SIP nor STUN: a header section that never ends closes the flow.
    let mut c3 = edge.client().await;
    let junk: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    c3.send(&junk).await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, c3.tls.read_to_end(&mut rest)).await;
    let framing = edge
        .e
        .counters()
        .framing_errors
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(framing, 2, "oversized and garbage flows closed and counted");

    // The bystander's registration and flow are untouched: a MESSAGE still reaches it.
    let c = edge.c.as_ref().unwrap().snapshot().await.unwrap();
    let (token, b) = c
        .bindings
        .iter()
        .find(|(_, b)| b.client.map(|a| a.port()) == Some(bystander.local.port()))
        .unwrap()
        .clone();
    assert!(b.flow.is_some());
    let s = edge.e.snapshot().await.unwrap();
    assert!(s.stats.rejected_malformed >= 1);
    let uri = format!(
        "sip:alice@127.0.0.1:{};x-portico-reg={token}",
        c.listen.port()
    );
    let message = format!(
        "MESSAGE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-m2\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=b\r\nTo: <sip:alice@example.test>\r\n\
         Call-ID: m2@test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    );
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(message.as_bytes(), c.listen).await.unwrap();
    let got = loop {
        let m = bystander
            .recv()
            .await
            .expect("MESSAGE reaches the bystander");
        if m.is_request() {
            break m;
        }
    };
    assert_eq!(got.call_id(), "m2@test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_c_the_client_gets_503_and_c_comes_back() {
    let mut edge = edge(100).await;
    drop(edge.c.take());
    edge.wait_linked(false).await;
    let mut client = edge.client().await;
    client.send(&client.register(1, 300)).await;
    let r = client.recv().await.unwrap();
    assert_eq!(r.status(), Some(503));
    assert!(r.header("Retry-After").is_some());
    // C again: the link comes back and the client registers.
    edge.c = Some(start_c((edge.c_config)()).await.unwrap());
    edge.wait_linked(true).await;
    client.send(&client.register(2, 300)).await;
    let _ = edge.next_seen().await;
    assert_eq!(client.recv().await.unwrap().status(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_limit_answers_503_with_retry_after() {
    let mut edge = edge(1).await;
    let mut first = edge.client().await;
    first.send(&first.register(1, 300)).await;
    let _ = edge.next_seen().await;
    assert_eq!(first.recv().await.unwrap().status(), Some(200));
    let mut second = edge.client().await;
    second.send(&second.register(1, 300)).await;
    let r = second.recv().await.unwrap();
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.header("Retry-After"), Some(&b"20"[..]));
    // Unregistering the first frees the place.
    first.send(&first.register(2, 0)).await;
    let _ = edge.next_seen().await;
    assert_eq!(first.recv().await.unwrap().status(), Some(200));
    second.send(&second.register(2, 300)).await;
    let _ = edge.next_seen().await;
    assert_eq!(second.recv().await.unwrap().status(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_call_control_is_retransmitted_to_and_deduplicated_from() {
    let registrar = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let edge = edge_with(100, Some(registrar.local_addr().unwrap()), Vec::new()).await;
    let mut client = edge.client().await;
    client.send(&client.register(1, 300)).await;
    let mut buf = vec![0u8; 65_536];
    // The first REGISTER is "lost": C sends it again after T1 (500 ms).
    let (n, c_addr) = tokio::time::timeout(WAIT, registrar.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let first = Message::parse(&buf[..n]).unwrap();
    let t0 = tokio::time::Instant::now();
    let (n, _) = tokio::time::timeout(WAIT, registrar.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let again = Message::parse(&buf[..n]).unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "retransmitted after T1"
    );
    assert_eq!(
        again.top_via().unwrap().branch(),
        first.top_via().unwrap().branch()
    );
    let mut ok = again.response(200, "OK", Some("r")).unwrap();
    let contact = again.contacts().next().unwrap().clone();
    let mut echoed = contact.clone();
    echoed.set_param("expires", Some("300"));
    ok.append_header("Contact", echoed.to_string().as_bytes())
        .unwrap();
    registrar.send_to(&ok.to_bytes(), c_addr).await.unwrap();
    assert_eq!(client.recv().await.unwrap().status(), Some(200));

    // A MESSAGE from call control, sent twice (a retransmission): the client sees it once,
    // and call control gets the client's 200 for each copy.
    let message = format!(
        "MESSAGE {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-u1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=b\r\nTo: <sip:alice@example.test>\r\n\
         Call-ID: u1@test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
        contact.uri,
        registrar.local_addr().unwrap()
    );
    registrar.send_to(message.as_bytes(), c_addr).await.unwrap();
    let got = client.recv().await.unwrap();
    assert_eq!(got.call_id(), "u1@test");
    client
        .send(&got.response(200, "OK", Some("a")).unwrap().to_bytes())
        .await;
    let (n, _) = tokio::time::timeout(WAIT, registrar.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Message::parse(&buf[..n]).unwrap().status(), Some(200));
    registrar.send_to(message.as_bytes(), c_addr).await.unwrap();
    let (n, _) = tokio::time::timeout(WAIT, registrar.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Message::parse(&buf[..n]).unwrap().status(),
        Some(200),
        "answered again by C"
    );
    client.send(b"\r\n\r\n").await;
    let mut pong = [0u8; 2];
    tokio::time::timeout(WAIT, client.tls.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n", "no second MESSAGE came before the pong");
}

/// Everything E counts for what clients send: each message ends up in exactly one of these.
fn e_handled(edge: &Edge, s: &signaling::sip_edge::driver::ESnapshot) -> u64 {
    let st = &s.stats;
    let framing = edge
        .e
        .counters()
        .framing_errors
        .load(std::sync::atomic::Ordering::Relaxed);
    st.requests_to_c
        + st.responses_to_c
        + st.rejected_malformed
        + st.rejected_too_many_hops
        + st.rejected_registration_limit
        + st.rejected_no_link
        + st.rejected_edit
        + st.dropped_responses
        + framing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4475_torture_messages_over_tls_are_forwarded_answered_or_counted() {
    use signaling::sip::rfc4475_vectors::ALL;
    let mut edge = edge(100).await;
    let mut forwarded = 0;
    for (section, name, parts) in ALL {
        let bytes = parts.concat();
        let before = e_handled(&edge, &edge.e.snapshot().await.unwrap());
        let mut client = edge.client().await;
        client.send(&bytes).await;
        // Whatever E does, it does it within a moment: forward, answer, count a drop.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = edge.e.snapshot().await.expect("E is still running");
            if e_handled(&edge, &s) > before {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "RFC 4475 §{section} {name}: E neither forwarded, answered nor counted it"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A message that does not parse is never forwarded.
        let s = edge.e.snapshot().await.unwrap();
        if let Err(e) = Message::parse(&bytes) {
            assert_eq!(
                s.stats.requests_to_c + s.stats.responses_to_c,
                forwarded,
                "§{section} {name} ({e}) was forwarded"
            );
        }
        forwarded = s.stats.requests_to_c + s.stats.responses_to_c;
        while edge.seen.try_recv().is_ok() {}
    }
    // E and C still serve a client as before.
    let mut client = edge.client().await;
    client.send(&client.register(1, 300)).await;
    let _ = edge.next_seen().await;
    assert_eq!(client.recv().await.unwrap().status(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_traffic_both_ways_never_stalls_the_traversal_stream() {
    // Thousands of REGISTERs in flight at once fill the traversal stream's flow-control window
    // towards C while the answers fill it towards E: each end must keep reading while it waits
    // to send, or both wait forever.
    const N: u32 = 4000;
    let edge = edge(100).await;
    let client = edge.client().await;
    let local = client.local;
    let (mut rd, mut wr) = tokio::io::split(client.tls);
    let template = Client {
        tls: edge.client().await.tls,
        buf: Vec::new(),
        local,
    };
    let writer = tokio::spawn(async move {
        for cseq in 1..=N {
            wr.write_all(&template.register(cseq, 300)).await.unwrap();
        }
        // rustls holds what it could not write yet until a flush.
        wr.flush().await.unwrap();
        wr
    });
    let mut buf = Vec::new();
    let mut ok = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ok < N {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let m = tokio::time::timeout(left, read_message(&mut rd, &mut buf)).await;
        let Ok(Some(m)) = m else {
            let e = edge.e.snapshot().await.unwrap();
            let c = edge.c.as_ref().unwrap().snapshot().await.unwrap();
            panic!(
                "stalled after {ok} of {N} answers: E {:?} link {:?}; C {:?} link {:?}",
                e.stats, e.link, c.stats, c.link
            );
        };
        assert_eq!(m.status(), Some(200));
        ok += 1;
    }
    let _ = writer.await.unwrap();
    let s = edge.e.snapshot().await.unwrap();
    assert_eq!(s.stats.requests_to_c, u64::from(N));
    assert_eq!(s.stats.responses_to_clients, u64::from(N));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_control_that_refuses_connections_is_skipped_for_the_next() {
    // A port nobody listens on: bound, then closed.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let mut edge = edge_with(100, None, vec![dead_addr]).await;
    let mut client = edge.client().await;
    client.send(&client.register(1, 300)).await;
    let _ = edge.next_seen().await;
    assert_eq!(client.recv().await.unwrap().status(), Some(200));
    let c = edge.c.as_ref().unwrap().snapshot().await.unwrap();
    assert_eq!(c.call_control_peers.len(), 2);
    assert_ne!(
        c.call_control.addr, dead_addr,
        "the second call control is in use"
    );
    assert!(c.call_control_connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_allocates_and_releases_client_facing_media_on_the_control_stream() {
    let edge = edge(100).await;
    // A second link from C, as C's B2BUA will use it.
    let dialer = signaling::traversal::driver::Dialer::start((edge.c_config)().dialer).unwrap();
    let mut status = dialer.status();
    tokio::time::timeout(WAIT, async {
        while status.borrow().state != signaling::traversal::status::LinkPhase::Up {
            status.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    let mut control = dialer.open_stream(StreamKind::CONTROL).await.unwrap();
    let mut buf = Vec::new();
    let mut ask = async |m: Control| -> Control {
        control.send(&m.to_bytes()).await.unwrap();
        loop {
            if let Some((answer, used)) = Control::parse(&buf).unwrap() {
                buf.drain(..used);
                return answer;
            }
            let chunk = tokio::time::timeout(WAIT, control.recv())
                .await
                .unwrap()
                .unwrap();
            buf.extend_from_slice(&chunk.expect("E ended the control stream"));
        }
    };
    let Control::Allocated {
        id,
        call,
        address,
        streams,
    } = ask(Control::Allocate {
        id: 1,
        call: 10,
        streams: 2,
    })
    .await
    else {
        panic!("not allocated");
    };
    assert_eq!(
        (id, call, address.to_string().as_str()),
        (1, 10, "198.18.1.1")
    );
    assert_eq!(streams.len(), 2);
    assert_ne!(streams[0].client_port, streams[1].client_port);
    assert_eq!(
        ask(Control::Allocate {
            id: 2,
            call: 11,
            streams: 0
        })
        .await,
        Control::Refused {
            id: 2,
            call: 11,
            code: RefusalCode::BadRequest,
            retry_after_ms: 0
        }
    );
    assert_eq!(
        ask(Control::Allocate {
            id: 3,
            call: 12,
            streams: 3
        })
        .await,
        Control::Refused {
            id: 3,
            call: 12,
            code: RefusalCode::Exhausted,
            retry_after_ms: 2000
        }
    );
    assert!(matches!(
        ask(Control::Allocate {
            id: 4,
            call: 13,
            streams: 2
        })
        .await,
        Control::Allocated {
            id: 4,
            call: 13,
            ..
        }
    ));
    assert_eq!(
        ask(Control::Release { id: 5, call: 10 }).await,
        Control::Released { id: 5, call: 10 }
    );
    assert_eq!(
        ask(Control::Release { id: 6, call: 99 }).await,
        Control::Refused {
            id: 6,
            call: 99,
            code: RefusalCode::UnknownCall,
            retry_after_ms: 0
        }
    );
    // C goes away: E releases what C still held.
    drop(dialer);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let released = edge.media.state.lock().unwrap().released.clone();
        if released.contains(&13) {
            assert_eq!(released, [10, 13]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "call 13 never released: {released:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_asks_e_for_a_calls_media_through_its_handle() {
    let mut edge = edge(100).await;
    let c = edge.c.as_ref().unwrap();
    let Control::Allocated { call, streams, .. } = c.allocate_media(42, 1).await.unwrap() else {
        panic!("not allocated");
    };
    assert_eq!((call, streams.len()), (42, 1));
    assert!(matches!(
        c.allocate_media(43, 9).await.unwrap(),
        Control::Refused {
            code: RefusalCode::Exhausted,
            retry_after_ms: 2000,
            ..
        }
    ));
    assert!(matches!(
        c.release_media(42).await.unwrap(),
        Control::Released { call: 42, .. }
    ));
    // Without C's link, a request fails at once instead of waiting.
    drop(edge.c.take());
    let c = start_c((edge.c_config)()).await.unwrap();
    let early = c.allocate_media(44, 1).await;
    edge.wait_linked(true).await;
    let again = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(m) = c.allocate_media(45, 1).await {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap();
    assert!(
        matches!(again, Control::Allocated { call: 45, .. }),
        "{again:?}"
    );
    assert!(early.is_err() || matches!(early, Ok(Control::Allocated { .. })));
}

/// C's relay stand-in for calls: every open, update and close recorded; inside ports from
/// 50000, our key fixed.
#[derive(Debug, Default)]
struct FakeCallMedia {
    log: std::sync::Mutex<Vec<String>>,
}

impl signaling::sip_edge::driver::CallMedia for FakeCallMedia {
    fn open(
        &self,
        call: u64,
        e_traversal: std::net::IpAddr,
        e: &[StreamAllocation],
        streams: &[signaling::sip_edge::calls::StreamOpen],
    ) -> Result<Vec<(u16, Option<String>)>, String> {
        self.log.lock().unwrap().push(format!(
            "open {call} via {e_traversal} mux {:?} peer {:?}",
            e.iter().map(|s| s.mux_id).collect::<Vec<_>>(),
            streams
                .iter()
                .map(|s| s.peer_crypto.is_some())
                .collect::<Vec<_>>()
        ));
        Ok((0..streams.len())
            .map(|k| {
                (
                    50000 + 2 * k as u16,
                    Some(
                        "AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"
                            .into(),
                    ),
                )
            })
            .collect())
    }

    fn update(
        &self,
        call: u64,
        update: &signaling::sip_edge::calls::StreamUpdate,
    ) -> Result<(), String> {
        self.log
            .lock()
            .unwrap()
            .push(format!("update {call} remote {:?}", update.inside_remote));
        Ok(())
    }

    fn close(&self, call: u64) {
        self.log.lock().unwrap().push(format!("close {call}"));
    }

    fn inactive_calls(&self) -> Vec<u64> {
        Vec::new()
    }

    fn usage(&self) -> signaling::traversal::control::MediaUsage {
        signaling::traversal::control::MediaUsage::default()
    }
}

/// The same edge with C started again carrying calls, its relay a [`FakeCallMedia`].
async fn with_calls(mut edge: Edge) -> (Edge, Arc<FakeCallMedia>) {
    drop(edge.c.take());
    edge.wait_linked(false).await;
    let media = Arc::new(FakeCallMedia::default());
    let mut cfg = (edge.c_config)();
    cfg.proxy.calls = Some(signaling::sip_edge::calls::CallsConfig::new(
        "127.0.0.1".parse().unwrap(),
        |v| v.contains("AES_CM_128_HMAC_SHA1_80"),
    ));
    cfg.media = Some(media.clone());
    edge.c = Some(start_c(cfg).await.unwrap());
    edge.wait_linked(true).await;
    (edge, media)
}

/// A call through the drivers over real TLS and the real traversal link: C holds the INVITE
/// while E allocates the client-facing media on the control stream and C's relay opens its
/// legs, call control gets plain RTP at C, the client gets SRTP at E with our key; BYE closes
/// the media at C and releases it at E.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_the_drivers_opens_rewrites_and_closes_its_media() {
    let (mut edge, media) = with_calls(edge(100).await).await;

    let mut client = edge.client().await;
    client.send(&client.register(1, 300)).await;
    let _ = edge.next_seen().await;
    assert_eq!(client.recv().await.unwrap().status(), Some(200));

    let l = client.local;
    let sdp = "v=0\r\no=- 1 1 IN IP4 198.18.1.10\r\ns=-\r\nc=IN IP4 198.18.1.10\r\nt=0 0\r\n\
               m=audio 30000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
               a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    let invite = format!(
        "INVITE sip:bob@example.test SIP/2.0\r\n\
         Via: SIP/2.0/TLS {l};branch=z9hG4bK-inv;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n\
         Call-ID: call@test\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{l};transport=tls>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    client.send(invite.as_bytes()).await;
    let (at_cc, conn) = edge.next_seen().await;
    let body = String::from_utf8_lossy(at_cc.body()).into_owned();
    assert!(
        body.contains("m=audio 50000 RTP/AVP 0") && body.contains("c=IN IP4 127.0.0.1"),
        "{body}"
    );
    assert!(!body.contains("crypto"), "{body}");
    assert_eq!(at_cc.record_routes().count(), 2, "E and C record-route");
    // E allocated one stream for the call over the control stream.
    assert_eq!(edge.media.state.lock().unwrap().calls.len(), 1);

    let answer_sdp = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                      m=audio 31000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let mut ok = at_cc.response(200, "OK", Some("b1")).unwrap();
    for rr in at_cc.record_routes() {
        ok.append_header("Record-Route", rr.to_string().as_bytes())
            .unwrap();
    }
    ok.append_header("Contact", b"<sip:bob@127.0.0.1:5099>")
        .unwrap();
    ok.append_header("Content-Type", b"application/sdp")
        .unwrap();
    ok.set_body(answer_sdp.as_bytes().to_vec()).unwrap();
    conn.send(ok.to_bytes()).unwrap();
    let got = client.recv().await.expect("200 to the INVITE");
    assert_eq!(got.status(), Some(200));
    let body = String::from_utf8_lossy(got.body()).into_owned();
    assert!(
        body.contains("c=IN IP4 198.18.1.1") && body.contains("RTP/SAVP"),
        "{body}"
    );
    assert!(
        body.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0Rm"),
        "{body}"
    );

    // BYE from the client: C closes its legs and releases E's.
    let bye = format!(
        "BYE sip:bob@127.0.0.1:5099 SIP/2.0\r\n\
         Via: SIP/2.0/TLS {l};branch=z9hG4bK-bye;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=b1\r\n\
         Call-ID: call@test\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    client.send(bye.as_bytes()).await;
    let (at_cc, _) = edge.next_seen().await;
    assert_eq!(at_cc.method(), Some(&signaling::sip::Method::Bye));
    let deadline = tokio::time::Instant::now() + WAIT;
    let closed = || media.log.lock().unwrap().iter().any(|l| l == "close 1");
    while !edge.media.state.lock().unwrap().calls.is_empty() || !closed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "E never released, or C never closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = media.log.lock().unwrap().clone();
    assert!(log[0].starts_with("open 1 via 127.0.0.1"), "{log:?}");
    assert!(
        log.iter().any(|l| l.starts_with("update 1 remote Some")),
        "{log:?}"
    );
    assert_eq!(log.last().map(String::as_str), Some("close 1"), "{log:?}");
    let c = edge.c.as_ref().unwrap().snapshot().await.unwrap();
    assert_eq!(c.active_calls, 0);
    assert_eq!(c.call_history[0].ended.as_deref(), Some("BYE from outside"));
}

/// A call with call control over UDP: C's INVITE client transaction stops retransmitting at the
/// 100, the 200's description is rewritten for the client, the client's ACK and BYE reach call
/// control, and the media is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_call_control_over_udp() {
    let registrar = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (edge, media) =
        with_calls(edge_with(100, Some(registrar.local_addr().unwrap()), Vec::new()).await).await;

    let mut buf = vec![0u8; 65_536];
    let mut client = edge.client().await;
    client.send(&client.register(1, 300)).await;
    let (reg, c_addr) = recv_datagram(&registrar, &mut buf).await;
    let mut ok = reg.response(200, "OK", Some("r")).unwrap();
    let mut contact = reg.contacts().next().unwrap().clone();
    contact.set_param("expires", Some("300"));
    ok.append_header("Contact", contact.to_string().as_bytes())
        .unwrap();
    registrar.send_to(&ok.to_bytes(), c_addr).await.unwrap();
    assert_eq!(client.recv().await.unwrap().status(), Some(200));

    let l = client.local;
    let sdp = "v=0\r\no=- 1 1 IN IP4 198.18.1.10\r\ns=-\r\nc=IN IP4 198.18.1.10\r\nt=0 0\r\n\
               m=audio 30000 RTP/SAVP 0\r\n\
               a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    let invite = format!(
        "INVITE sip:bob@example.test SIP/2.0\r\n\
         Via: SIP/2.0/TLS {l};branch=z9hG4bK-uinv;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n\
         Call-ID: ucall@test\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{l};transport=tls>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    client.send(invite.as_bytes()).await;
    let (inv, _) = recv_datagram(&registrar, &mut buf).await;
    assert_eq!(inv.method(), Some(&signaling::sip::Method::Invite));
    assert!(String::from_utf8_lossy(inv.body()).contains("RTP/AVP"));
    registrar
        .send_to(
            &inv.response(100, "Trying", None).unwrap().to_bytes(),
            c_addr,
        )
        .await
        .unwrap();
    // Past T1 with a provisional in: no retransmission of the INVITE.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut ok = inv.response(200, "OK", Some("b1")).unwrap();
    for rr in inv.record_routes() {
        ok.append_header("Record-Route", rr.to_string().as_bytes())
            .unwrap();
    }
    ok.append_header("Contact", b"<sip:bob@127.0.0.1:5099>")
        .unwrap();
    ok.append_header("Content-Type", b"application/sdp")
        .unwrap();
    ok.set_body(
        b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 31000 RTP/AVP 0\r\n"
            .to_vec(),
    )
    .unwrap();
    registrar.send_to(&ok.to_bytes(), c_addr).await.unwrap();
    let got = client.recv().await.unwrap();
    assert_eq!(got.status(), Some(200));
    assert!(String::from_utf8_lossy(got.body()).contains("RTP/SAVP"));
    let ack = format!(
        "ACK sip:bob@127.0.0.1:5099 SIP/2.0\r\n\
         Via: SIP/2.0/TLS {l};branch=z9hG4bK-uack;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=b1\r\n\
         Call-ID: ucall@test\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    client.send(ack.as_bytes()).await;
    let (next, _) = recv_datagram(&registrar, &mut buf).await;
    assert_eq!(
        next.method(),
        Some(&signaling::sip::Method::Ack),
        "the ACK, not an INVITE retransmission: {next:?}"
    );
    let bye = format!(
        "BYE sip:bob@127.0.0.1:5099 SIP/2.0\r\n\
         Via: SIP/2.0/TLS {l};branch=z9hG4bK-ubye;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=b1\r\n\
         Call-ID: ucall@test\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    client.send(bye.as_bytes()).await;
    let (bye_in, _) = recv_datagram(&registrar, &mut buf).await;
    assert_eq!(bye_in.method(), Some(&signaling::sip::Method::Bye));
    registrar
        .send_to(
            &bye_in.response(200, "OK", None).unwrap().to_bytes(),
            c_addr,
        )
        .await
        .unwrap();
    assert_eq!(client.recv().await.unwrap().status(), Some(200));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !media.log.lock().unwrap().iter().any(|l| l == "close 1") {
        assert!(tokio::time::Instant::now() < deadline, "media never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next datagram on `socket`, parsed, and where it came from.
async fn recv_datagram(socket: &tokio::net::UdpSocket, buf: &mut [u8]) -> (Message, SocketAddr) {
    let (n, from) = tokio::time::timeout(WAIT, socket.recv_from(buf))
        .await
        .unwrap()
        .unwrap();
    (Message::parse(&buf[..n]).unwrap(), from)
}
