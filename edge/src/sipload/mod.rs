//! `edge sipload`: REGISTER load over TLS, the project's own SIP load generator for
//! `cargo xtask bench register` and for operators sizing an edge.
//!
//! Each user is one phone as MRA sees it: its own TLS connection (its RFC 5626 flow), its own
//! AOR (`userNNNNNN@DOMAIN`), Call-ID, From tag and `+sip.instance`, a Contact with `;ob` and
//! `reg-id=1`. The run has two phases:
//!
//! 1. **Ramp.** Phone `j` opens its connection at `j / --rate` seconds after the start (TLS
//!    handshake, the server's certificate checked against `--ca` for `--server-name`, or not
//!    at all with `--insecure`) and registers: the *initial* registrations. The ramp ends when
//!    every phone's initial registration has a final outcome.
//! 2. **Hold** for `--seconds`. Each binding is refreshed on its flow before it expires, at a
//!    uniformly random 50–80 % of the Expires granted (a failed registration is retried after
//!    a back-off); or, with `--refresh-rate R`, on a fixed schedule: phone `j` at
//!    `j/R + k·users/R` seconds into the hold, so that exactly R REGISTER/s are offered (a slot
//!    that comes while the phone's previous REGISTER is still in flight is skipped and counted
//!    as a `busy` failure: RFC 3261 §10.2 allows one at a time). These are the *refresh*
//!    registrations.
//!
//! At the end it prints one JSON object: per kind (initial, refresh), the registrations
//! attempted, succeeded and failed by reason (status code, `timeout`, `connect`, `tls`,
//! `closed`, `busy`), the rate achieved, latency percentiles (from each registration's
//! *scheduled* time to its 2xx, so the generator's own lateness is not hidden); the bindings
//! held at the end; connection errors; keepalives. Progress goes to stderr once a second
//! (`sipload: … held=N …`), with a `ramp done` line when the hold starts and a `hold done`
//! line once every registration offered in the hold has its outcome (the phones finish what
//! is in flight before they close), which a bench can time itself on.
//!
//! Challenges (401/407) are answered with RFC 2617 MD5 Digest (`qop=auth` or none) when
//! `--password` is given, and the credentials are sent again on later REGISTERs with a growing
//! nonce count; a 423 is followed once. CRLF keepalives (`--keepalive S`) go out as `CRLF CRLF`;
//! an edge's ping is answered. Requests that come down a flow are answered (200 to OPTIONS, 486
//! to the rest). TLS session resumption is off: every phone is a different device.
//!
//! `edge sipload calls …` is the calls mode ([`call`]): remote callers over TLS through the
//! edge (SRTP) call inside callees registered at call control (RTP), with media both ways.
//!
//! Two helpers for the bench: `edge sipload gen-cert --dir DIR [--fqdn NAME] [--domain D]`
//! makes the lab CA and an E certificate in DIR (`ca.pem`, `e.pem`, `e.key`; the same files
//! `[tls] generate = true` of an `edge` configuration makes and reuses), so that every edge
//! under test presents the same certificate; `edge sipload check-config PATH` validates an
//! `edge` configuration file (the bench's generated all-in-one) and prints every problem.
//!
//! The protocol parts are sans-IO ([`register`], [`digest`], [`stats`]); this file is the
//! driver: a current-thread tokio runtime, one task per phone.

mod call;
mod digest;
mod register;
mod stats;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::{json, Value};
use signaling::sip::{Frame, Framer, Limits, Message, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::time::{sleep_until, timeout};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use register::{Outcome, Profile, UserAgent};
use stats::{Bucket, Keepalive};

/// Files kept open besides the phones' connections (stdio, the runtime's epoll and eventfd,
/// sockets being set up).
const SPARE_FILES: u64 = 64;

/// Options of `edge sipload`.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    target: SocketAddr,
    server_name: Option<String>,
    ca: Option<PathBuf>,
    insecure: bool,
    users: u32,
    first_user: u32,
    domain: String,
    expires: u32,
    rate: f64,
    refresh_rate: f64,
    seconds: f64,
    password: Option<String>,
    route: Option<String>,
    bind: Option<IpAddr>,
    timeout: Duration,
    keepalive: Option<Duration>,
    core: Option<usize>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            target: SocketAddr::from(([127, 0, 0, 1], 5061)),
            server_name: None,
            ca: None,
            insecure: false,
            users: 100,
            first_user: 0,
            domain: "example.test".into(),
            expires: 3600,
            rate: 100.0,
            refresh_rate: 0.0,
            seconds: 0.0,
            password: None,
            route: None,
            bind: None,
            timeout: Duration::from_secs(32),
            keepalive: None,
            core: None,
        };
        let mut target = false;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--insecure" {
                o.insecure = true;
                continue;
            }
            let v = it
                .next()
                .ok_or_else(|| format!("sipload: {flag} needs a value"))?;
            let bad = |what: &str| format!("sipload: {flag} {v:?}: {what}");
            let seconds = |lo: f64, hi: f64| {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= lo && *s <= hi)
                    .ok_or_else(|| bad(&format!("expected {lo} to {hi}")))
            };
            match flag.as_str() {
                "--target" => {
                    o.target = v.parse().map_err(|_| bad("expected IP:PORT"))?;
                    target = true;
                }
                "--server-name" => o.server_name = Some(v.clone()),
                "--ca" => o.ca = Some(PathBuf::from(v)),
                "--users" => {
                    o.users = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=1_000_000).contains(n))
                        .ok_or_else(|| bad("expected 1 to 1000000"))?
                }
                "--first-user" => {
                    o.first_user = v
                        .parse()
                        .ok()
                        .filter(|n| *n <= 99_000_000)
                        .ok_or_else(|| bad("expected 0 to 99000000"))?
                }
                "--domain" => {
                    if v.is_empty()
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                    {
                        return Err(bad("expected a host name"));
                    }
                    o.domain = v.clone();
                }
                "--expires" => {
                    o.expires = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=604_800).contains(n))
                        .ok_or_else(|| bad("expected 1 to 604800 seconds"))?
                }
                "--rate" => o.rate = seconds(0.001, 1_000_000.0)?,
                "--refresh-rate" => o.refresh_rate = seconds(0.0, 1_000_000.0)?,
                "--seconds" => o.seconds = seconds(0.0, 86_400.0)?,
                "--password" => o.password = Some(v.clone()),
                "--route" => {
                    if v.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                        return Err(bad("expected a SIP URI"));
                    }
                    o.route = Some(v.clone());
                }
                "--bind" => o.bind = Some(v.parse().map_err(|_| bad("not an IP address"))?),
                "--timeout" => o.timeout = Duration::from_secs_f64(seconds(0.1, 300.0)?),
                "--keepalive" => {
                    let s = seconds(0.0, 3600.0)?;
                    o.keepalive = (s > 0.0).then(|| Duration::from_secs_f64(s));
                }
                "--core" => o.core = Some(v.parse().map_err(|_| bad("not a CPU number"))?),
                "--connections" => {
                    if v != "per-user" {
                        return Err(bad(
                            "only per-user is supported: each phone has its own TLS flow",
                        ));
                    }
                }
                other => return Err(format!("sipload: unknown option {other:?}")),
            }
        }
        if !target {
            return Err("sipload: --target IP:PORT is required".into());
        }
        if o.ca.is_none() && !o.insecure {
            return Err(
                "sipload: give --ca PEM (the CA that signed the edge's certificate) or --insecure"
                    .into(),
            );
        }
        Ok(o)
    }
}

/// `edge sipload …`, `edge sipload calls …` and `edge sipload gen-cert …`.
pub(crate) fn main(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("calls") => return call::main(&args[1..]),
        Some("gen-cert") => {
            let v = gen_cert(&args[1..])?;
            println!("{v:#}");
            return Ok(());
        }
        Some("check-config") => {
            let [_, path] = args else {
                return Err("sipload check-config: expected one PATH".into());
            };
            let c = crate::config::Config::load(std::path::Path::new(path))
                .map_err(|e| format!("sipload check-config: {e}"))?;
            println!("{path}: valid, role {}", c.role());
            return Ok(());
        }
        _ => {}
    }
    let o = Options::parse(args)?;
    let summary = run(&o)?;
    println!("{summary:#}");
    Ok(())
}

/// Makes sure DIR holds the lab CA and an E certificate for FQDN (with `collab-edge.DOMAIN`),
/// the way `[tls] generate = true` does.
fn gen_cert(args: &[String]) -> Result<Value, String> {
    let (mut dir, mut fqdn, mut domain) = (None, "expe.example.test".to_owned(), None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| format!("sipload gen-cert: {flag} needs a value"))?;
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(v)),
            "--fqdn" => fqdn = v.clone(),
            "--domain" => domain = Some(v.clone()),
            other => return Err(format!("sipload gen-cert: unknown option {other:?}")),
        }
    }
    let dir = dir.ok_or("sipload gen-cert: --dir DIR is required")?;
    let domains = vec![domain.unwrap_or_else(|| "example.test".into())];
    let wanted = [crate::certs::Requirements::e(&fqdn, &domains, &[], &[])];
    crate::certs::ensure_lab_pki(&dir, &wanted, SystemTime::now())
        .map_err(|e| format!("sipload gen-cert: {e}"))?;
    let (cert, key) = crate::certs::lab_identity_paths(&dir, crate::certs::Side::E);
    Ok(json!({
        "ca": crate::certs::lab_ca_path(&dir),
        "certificate": cert,
        "key": key,
        "fqdn": fqdn,
    }))
}

/// Runs the load and returns the summary.
pub(crate) fn run(o: &Options) -> Result<Value, String> {
    if let Some(c) = o.core {
        media::runtime::pin_to_core(c).map_err(|e| format!("sipload: pin to core {c}: {e}"))?;
    }
    let (soft, _) = media::runtime::raise_open_files_limit()
        .map_err(|e| format!("sipload: open files limit: {e}"))?;
    if u64::from(o.users) + SPARE_FILES > soft {
        return Err(format!(
            "sipload: {} users need {} open files (one TLS connection each), the limit is {soft}",
            o.users,
            u64::from(o.users) + SPARE_FILES
        ));
    }
    let server_name = o
        .server_name
        .clone()
        .unwrap_or_else(|| o.target.ip().to_string());
    let server_name = ServerName::try_from(server_name.clone())
        .map_err(|_| format!("sipload: {server_name:?} is not a DNS name or IP address"))?;
    let tls = TlsConnector::from(client_config(o)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("sipload: tokio runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let cpu0 = crate::loadgen::process_cpu();
    let summary = local.block_on(&runtime, async {
        let (phase, _) = watch::channel(Phase::Ramp);
        let ctx = Rc::new(Ctx {
            profile: Profile {
                domain: o.domain.clone(),
                expires: o.expires,
                route: o.route.clone(),
                password: o.password.clone(),
                run: run_token(),
            },
            o: o.clone(),
            tls,
            server_name,
            t0: Instant::now() + Duration::from_millis(100),
            shared: RefCell::new(Shared::default()),
            phase,
            ramp_done: Notify::new(),
        });
        drive(ctx).await
    });
    let mut summary = summary;
    summary["cpu_s"] = json!(crate::loadgen::process_cpu()
        .zip(cpu0)
        .map(|(a, b)| a.saturating_sub(b).as_secs_f64()));
    summary["open_files_limit"] = json!(soft);
    Ok(summary)
}

/// 64 bits from the OS, to tell this run's Call-IDs and instance ids from any other's.
fn run_token() -> u64 {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // No OS randomness: the clock still separates runs.
        let t = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return t ^ u64::from(std::process::id()).rotate_left(40);
    }
    u64::from_le_bytes(b)
}

fn client_config(o: &Options) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("sipload: TLS: {e}"))?;
    let mut config = match (&o.ca, o.insecure) {
        (_, true) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth(),
        (Some(ca), false) => {
            let mut roots = RootCertStore::empty();
            for c in crate::certs::load_certificates(ca).map_err(|e| format!("sipload: {e}"))? {
                roots
                    .add(c)
                    .map_err(|e| format!("sipload: {}: not a usable CA: {e}", ca.display()))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        (None, false) => return Err("sipload: --ca or --insecure is required".into()),
    };
    // Every phone is a different device: no session shared between them.
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// `--insecure`: any certificate is accepted; handshake signatures are still checked, so the
/// TLS work is what a verifying client does minus the chain.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------------
// The driver

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Ramp,
    /// Since this instant.
    Hold(Instant),
    Stop,
}

/// Which registration is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Initial,
    Refresh,
}

/// What the phones of a run count together (one thread: a `RefCell`).
#[derive(Debug, Default)]
struct Shared {
    initial: Bucket,
    refresh: Bucket,
    connect_us: Vec<u64>,
    initial_done: u32,
    held: u32,
    opened: u64,
    connection_errors: BTreeMap<&'static str, u64>,
    parse_errors: u64,
    requests_sent: u64,
    responses: u64,
    retries: u64,
    requests_answered: u64,
    refresh_slots: u64,
    in_flight_at_end: u64,
    keepalive: Keepalive,
}

impl Shared {
    fn bucket(&mut self, kind: Kind) -> &mut Bucket {
        match kind {
            Kind::Initial => &mut self.initial,
            Kind::Refresh => &mut self.refresh,
        }
    }

    fn conn_error(&mut self, what: &'static str) {
        *self.connection_errors.entry(what).or_default() += 1;
    }
}

struct Ctx {
    o: Options,
    profile: Profile,
    tls: TlsConnector,
    server_name: ServerName<'static>,
    t0: Instant,
    shared: RefCell<Shared>,
    phase: watch::Sender<Phase>,
    ramp_done: Notify,
}

impl Ctx {
    /// One more phone's initial registration has its outcome.
    fn initial_done(&self) {
        let mut s = self.shared.borrow_mut();
        s.initial_done += 1;
        if s.initial_done == self.o.users {
            self.ramp_done.notify_one();
        }
    }

    fn progress(&self, what: &str) {
        let s = self.shared.borrow();
        eprintln!(
            "sipload: t={:.1} {what} held={} initial_done={} initial_ok={} refresh_ok={} \
             refresh_failed={}",
            self.t0.elapsed().as_secs_f64(),
            s.held,
            s.initial_done,
            s.initial.succeeded,
            s.refresh.succeeded,
            s.refresh.failures()
        );
    }
}

async fn drive(ctx: Rc<Ctx>) -> Value {
    let handles: Vec<_> = (0..ctx.o.users)
        .map(|j| tokio::task::spawn_local(phone(ctx.clone(), j)))
        .collect();
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::from_std(ctx.t0 + Duration::from_secs(1)),
        Duration::from_secs(1),
    );
    loop {
        tokio::select! {
            _ = ctx.ramp_done.notified() => break,
            _ = tick.tick() => ctx.progress("ramp"),
        }
    }
    let hold_start = Instant::now();
    let ramp_s = hold_start.saturating_duration_since(ctx.t0).as_secs_f64();
    ctx.progress("ramp done");
    ctx.phase.send_replace(Phase::Hold(hold_start));
    let hold_end = hold_start + Duration::from_secs_f64(ctx.o.seconds);
    loop {
        tokio::select! {
            _ = sleep_until(hold_end.into()) => break,
            _ = tick.tick() => ctx.progress("hold"),
        }
    }
    ctx.phase.send_replace(Phase::Stop);
    // Nothing else runs between the send and this read (one thread): the exact count.
    let held_at_end = ctx.shared.borrow().held;
    // The phones finish what the hold offered (see `Flow::stop`), then close.
    for h in handles {
        let _ = h.await;
    }
    ctx.progress("hold done");
    let hold_s = ctx.o.seconds;
    let s = ctx.shared.borrow();
    let mut connect = s.connect_us.clone();
    connect.sort_unstable();
    let ms = |q: f64| stats::percentile(&connect, q).map(|us| us as f64 / 1000.0);
    let offered = (ctx.o.refresh_rate > 0.0)
        .then(|| stats::refresh_offered(ctx.o.users, ctx.o.refresh_rate, hold_s));
    json!({
        "target": ctx.o.target.to_string(),
        "users": ctx.o.users,
        "first_user": ctx.o.first_user,
        "rate": ctx.o.rate,
        "refresh_rate": ctx.o.refresh_rate,
        "seconds": ctx.o.seconds,
        "expires": ctx.o.expires,
        "initial": s.initial.summary(ramp_s, None),
        "refresh": s.refresh.summary(hold_s, offered),
        "connect_ms": {"p50": ms(0.5), "p99": ms(0.99), "max": connect.last().map(|u| *u as f64 / 1000.0)},
        "held_at_end": held_at_end,
        "in_flight_at_end": s.in_flight_at_end,
        "refresh_slots": s.refresh_slots,
        "register_requests_sent": s.requests_sent,
        "responses": s.responses,
        "challenges_and_retries": s.retries,
        "requests_answered": s.requests_answered,
        "connections": {
            "opened": s.opened,
            "errors": s.connection_errors,
        },
        "parse_errors": s.parse_errors,
        "keepalive": {
            "pings_sent": s.keepalive.pings_sent,
            "pongs": s.keepalive.pongs,
            "pings_answered": s.keepalive.pings_answered,
        },
        "elapsed_s": ctx.t0.elapsed().as_secs_f64(),
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The source ports `--bind` hands out: the kernel's default ephemeral range.
const BIND_PORTS: (u16, u16) = (32768, 60999);

/// The source port phone `j` tries on its `attempt`th bind.
fn bind_port(j: u32, attempt: u32) -> u16 {
    let span = u32::from(BIND_PORTS.1 - BIND_PORTS.0) + 1;
    let offset = (j.wrapping_add(attempt.wrapping_mul(7919))) % span;
    // offset < span <= 28232: the sum stays within u16
    BIND_PORTS.0 + offset as u16
}

/// Opens phone `j`'s flow: TCP (from `--bind`), then TLS.
///
/// With `--bind`, the source port is chosen here, one per phone, not by the kernel: `bind()`
/// to port 0 takes ports from one half of the ephemeral range only (the other half is left to
/// `connect()`), and once that half is used up (about 14,000 flows from one address) every
/// further `bind()` scans the range in the kernel, which stalls the generator for seconds.
async fn connect(ctx: &Ctx, j: u32) -> Result<TlsStream<TcpStream>, &'static str> {
    connect_tls(ctx.o.target, ctx.o.bind, j, &ctx.tls, &ctx.server_name).await
}

/// TCP to `target` (from `bind` with a port of flow `index`'s own, see [`connect`]), then TLS
/// checked for `server_name`; the error names the step that failed.
pub(super) async fn connect_tls(
    target: SocketAddr,
    bind: Option<IpAddr>,
    index: u32,
    tls: &TlsConnector,
    server_name: &ServerName<'static>,
) -> Result<TlsStream<TcpStream>, &'static str> {
    let new_socket = || {
        if target.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
    };
    let mut socket = new_socket().map_err(|_| "socket")?;
    if let Some(ip) = bind {
        let mut bound = false;
        for attempt in 0..16 {
            let _ = socket.set_reuseaddr(true);
            if socket
                .bind(SocketAddr::new(ip, bind_port(index, attempt)))
                .is_ok()
            {
                bound = true;
                break;
            }
            socket = new_socket().map_err(|_| "socket")?;
        }
        if !bound {
            return Err("bind");
        }
    }
    let tcp = socket.connect(target).await.map_err(|_| "connect")?;
    let _ = tcp.set_nodelay(true);
    tls.connect(server_name.clone(), tcp)
        .await
        .map_err(|_| "tls")
}

/// One phone, from its ramp slot to the stop.
async fn phone(ctx: Rc<Ctx>, j: u32) {
    let mut phase = ctx.phase.subscribe();
    let due = ctx.t0 + Duration::from_secs_f64(f64::from(j) / ctx.o.rate);
    tokio::select! {
        _ = sleep_until(due.into()) => {}
        _ = phase.wait_for(|p| *p == Phase::Stop) => return,
    }
    ctx.shared.borrow_mut().initial.attempted += 1;
    let stream = match timeout(ctx.o.timeout, connect(&ctx, j)).await {
        Ok(Ok(s)) => s,
        Ok(Err(why)) => {
            let mut s = ctx.shared.borrow_mut();
            s.initial.fail(why);
            s.conn_error(why);
            drop(s);
            ctx.initial_done();
            return;
        }
        Err(_) => {
            let mut s = ctx.shared.borrow_mut();
            s.initial.fail("connect_timeout");
            s.conn_error("connect_timeout");
            drop(s);
            ctx.initial_done();
            return;
        }
    };
    {
        let mut s = ctx.shared.borrow_mut();
        s.opened += 1;
        s.connect_us.push(micros(due.elapsed()));
    }
    let local = match stream.get_ref().0.local_addr() {
        Ok(a) => a,
        Err(_) => {
            let mut s = ctx.shared.borrow_mut();
            s.initial.fail("socket");
            s.conn_error("socket");
            drop(s);
            ctx.initial_done();
            return;
        }
    };
    let index = ctx.o.first_user + j;
    let mut flow = Flow {
        ua: UserAgent::new(&ctx.profile, index, local),
        stream,
        buf: Vec::with_capacity(2048),
        out: Vec::with_capacity(1024),
        framer: Framer::new(Limits::default(), Role::Client),
        keepalive: Keepalive::default(),
        current: None,
        initial_pending: true,
        held: false,
        deadline: None,
        next_refresh: None,
        hold: None,
        stopping: None,
        refresh_k: 0,
        next_keepalive: None,
        rng: Rng::new(ctx.profile.run ^ u64::from(index).wrapping_mul(0x2545_f491_4f6c_dd1d)),
        j,
        to_tag: format!("ua{index:x}"),
    };
    flow.run(&ctx, &mut phase, due).await;
}

/// A phone's connection and timers.
struct Flow {
    ua: UserAgent,
    stream: TlsStream<TcpStream>,
    buf: Vec<u8>,
    out: Vec<u8>,
    framer: Framer,
    keepalive: Keepalive,
    /// The registration in flight: its scheduled start and kind.
    current: Option<(Instant, Kind)>,
    initial_pending: bool,
    held: bool,
    /// Transaction timeout of the REGISTER in flight.
    deadline: Option<Instant>,
    next_refresh: Option<Instant>,
    /// When the hold began.
    hold: Option<Instant>,
    /// Stopping: the latest the flow waits for what it has in flight.
    stopping: Option<Instant>,
    /// The next slot number (`--refresh-rate`).
    refresh_k: u64,
    next_keepalive: Option<Instant>,
    rng: Rng,
    j: u32,
    to_tag: String,
}

/// Why a flow ends.
enum End {
    Stop,
    Closed(&'static str),
}

impl Flow {
    async fn run(&mut self, ctx: &Ctx, phase: &mut watch::Receiver<Phase>, due: Instant) {
        self.start(ctx, due, Kind::Initial);
        let mut end = self.flush(ctx).await.err();
        if let Some(k) = ctx.o.keepalive {
            self.next_keepalive = Some(Instant::now() + self.rng.jitter(k, 0.8, 1.0));
        }
        if let Phase::Hold(t) = *phase.borrow_and_update() {
            self.hold_started(ctx, t);
        }
        while end.is_none() {
            let wake = [
                self.deadline,
                self.next_refresh,
                self.next_keepalive,
                self.stopping,
            ]
            .into_iter()
            .flatten()
            .min();
            let timer = async {
                match wake {
                    Some(t) => sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            end = tokio::select! {
                r = self.stream.read_buf(&mut self.buf) => match r {
                    Ok(0) => Some(End::Closed("closed_by_peer")),
                    Err(_) => Some(End::Closed("read_error")),
                    Ok(_) => match self.on_bytes(ctx) {
                        Ok(()) => self.flush(ctx).await.err(),
                        Err(e) => Some(e),
                    },
                },
                _ = timer => {
                    self.on_timers(ctx);
                    self.flush(ctx).await.err()
                }
                r = phase.changed(), if self.stopping.is_none() => {
                    match r.map(|()| *phase.borrow_and_update()) {
                        Ok(Phase::Hold(t)) => self.hold_started(ctx, t),
                        Ok(Phase::Ramp) => {}
                        Ok(Phase::Stop) | Err(_) => self.stop(ctx),
                    }
                    None
                },
            };
            if end.is_none() && self.drained() {
                end = Some(End::Stop);
            }
        }
        let mut s = ctx.shared.borrow_mut();
        s.keepalive.pings_sent += self.keepalive.pings_sent;
        s.keepalive.pongs += self.keepalive.pongs;
        s.keepalive.pings_answered += self.keepalive.pings_answered;
        match end {
            Some(End::Closed(why)) => {
                s.conn_error(why);
                if self.held {
                    s.held = s.held.saturating_sub(1);
                }
                if let Some((_, kind)) = self.current.take() {
                    s.bucket(kind).fail("closed");
                    drop(s);
                    if kind == Kind::Initial {
                        ctx.initial_done();
                    }
                }
            }
            Some(End::Stop) | None => {
                if self.current.is_some() {
                    s.in_flight_at_end += 1;
                }
            }
        }
    }

    /// The run is stopping: no more keepalives or expiry-driven refreshes; the registration in
    /// flight and (`--refresh-rate`) the slots left before the end of the hold still go out
    /// and are waited for, up to a transaction timeout, so that every registration offered in
    /// the hold has its outcome counted.
    fn stop(&mut self, ctx: &Ctx) {
        self.stopping = Some(Instant::now() + ctx.o.timeout + Duration::from_secs(1));
        self.next_keepalive = None;
        if ctx.o.refresh_rate <= 0.0 {
            self.next_refresh = None;
        }
    }

    /// Stopping, and nothing left to wait for (or waited long enough).
    fn drained(&self) -> bool {
        self.stopping.is_some_and(|limit| {
            (self.current.is_none() && self.next_refresh.is_none()) || Instant::now() >= limit
        })
    }

    /// The hold began at `t`: with `--refresh-rate`, this phone's first slot.
    fn hold_started(&mut self, ctx: &Ctx, t: Instant) {
        self.hold = Some(t);
        if ctx.o.refresh_rate > 0.0 {
            self.refresh_k = 0;
            self.next_refresh = self.next_slot(ctx);
        }
    }

    /// Slot `refresh_k` of this phone, if it falls inside the hold (slots at or past its end
    /// are not offered).
    fn next_slot(&self, ctx: &Ctx) -> Option<Instant> {
        let offset = stats::refresh_slot(self.j, ctx.o.users, ctx.o.refresh_rate, self.refresh_k);
        (offset < ctx.o.seconds)
            .then(|| self.hold.map(|h| h + Duration::from_secs_f64(offset)))
            .flatten()
    }

    /// Starts a registration scheduled at `at`.
    fn start(&mut self, ctx: &Ctx, at: Instant, kind: Kind) {
        if self.ua.register(&ctx.profile, &mut self.out) {
            let mut s = ctx.shared.borrow_mut();
            s.requests_sent += 1;
            if kind == Kind::Refresh {
                s.refresh.attempted += 1;
            }
            self.current = Some((at, kind));
            self.deadline = Some(Instant::now() + ctx.o.timeout);
        }
    }

    /// Writes what is pending.
    async fn flush(&mut self, ctx: &Ctx) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let write = async {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await
        };
        let r = timeout(ctx.o.timeout, write).await;
        self.out.clear();
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(End::Closed("write_error")),
        }
    }

    /// Frames and handles what arrived.
    fn on_bytes(&mut self, ctx: &Ctx) -> Result<(), End> {
        loop {
            let frame = match self.framer.next(&self.buf) {
                Ok(f) => f,
                Err(_) => return Err(End::Closed("framing_error")),
            };
            match frame {
                Frame::Incomplete => return Ok(()),
                Frame::Ping => self.out.extend_from_slice(b"\r\n"),
                Frame::Pong => {
                    if self.keepalive.on_crlf() {
                        self.out.extend_from_slice(b"\r\n");
                    }
                }
                Frame::Message { len } => {
                    self.keepalive.on_message();
                    let parsed = Message::parse(self.buf.get(..len).unwrap_or_default());
                    match parsed {
                        Ok(m) if m.is_request() => {
                            if register::answer_request(&m, &self.to_tag, &mut self.out) {
                                ctx.shared.borrow_mut().requests_answered += 1;
                            }
                        }
                        Ok(m) => self.on_response(ctx, &m),
                        Err(_) => ctx.shared.borrow_mut().parse_errors += 1,
                    }
                }
            }
            self.buf.drain(..frame.len().min(self.buf.len()));
        }
    }

    fn on_response(&mut self, ctx: &Ctx, m: &Message) {
        ctx.shared.borrow_mut().responses += 1;
        let outcome = self.ua.on_response(&ctx.profile, m, &mut self.out);
        let now = Instant::now();
        match outcome {
            Outcome::Ignored => {}
            Outcome::Retried => {
                let mut s = ctx.shared.borrow_mut();
                s.requests_sent += 1;
                s.retries += 1;
                self.deadline = Some(now + ctx.o.timeout);
            }
            Outcome::Registered { expires } => {
                let (at, kind) = self.current.take().unwrap_or((now, Kind::Refresh));
                self.deadline = None;
                let mut s = ctx.shared.borrow_mut();
                let b = s.bucket(kind);
                b.succeeded += 1;
                b.latencies_us
                    .push(micros(now.saturating_duration_since(at)));
                self.set_held(&mut s, expires > 0);
                drop(s);
                if ctx.o.refresh_rate <= 0.0 {
                    self.next_refresh = Some(if expires > 0 {
                        now + self
                            .rng
                            .jitter(Duration::from_secs(u64::from(expires)), 0.5, 0.8)
                    } else {
                        now + self.backoff()
                    });
                }
                if kind == Kind::Initial {
                    self.initial_pending = false;
                    ctx.initial_done();
                }
            }
            Outcome::Failed { status } => self.failed(ctx, &status.to_string()),
        }
    }

    /// The registration in flight failed for `why`.
    fn failed(&mut self, ctx: &Ctx, why: &str) {
        let Some((_, kind)) = self.current.take() else {
            return;
        };
        self.deadline = None;
        let mut s = ctx.shared.borrow_mut();
        s.bucket(kind).fail(why);
        self.set_held(&mut s, false);
        drop(s);
        if ctx.o.refresh_rate <= 0.0 {
            self.next_refresh = Some(Instant::now() + self.backoff());
        }
        if kind == Kind::Initial && self.initial_pending {
            self.initial_pending = false;
            ctx.initial_done();
        }
    }

    fn set_held(&mut self, s: &mut Shared, held: bool) {
        match (self.held, held) {
            (false, true) => s.held += 1,
            (true, false) => s.held = s.held.saturating_sub(1),
            _ => {}
        }
        self.held = held;
    }

    /// After a failure: half the Expires asked for, 5 s to 60 s, jittered (RFC 5626 §4.5 in
    /// spirit).
    fn backoff(&mut self) -> Duration {
        let base = (f64::from(self.ua.expires()) / 2.0).clamp(5.0, 60.0);
        self.rng.jitter(Duration::from_secs_f64(base), 0.5, 1.0)
    }

    fn on_timers(&mut self, ctx: &Ctx) {
        let now = Instant::now();
        if self.deadline.is_some_and(|d| d <= now) {
            self.ua.on_timeout();
            self.failed(ctx, "timeout");
        }
        if let Some(due) = self.next_refresh.filter(|t| *t <= now) {
            if ctx.o.refresh_rate > 0.0 {
                ctx.shared.borrow_mut().refresh_slots += 1;
                self.refresh_k += 1;
                self.next_refresh = self.next_slot(ctx);
                if self.ua.busy() {
                    ctx.shared.borrow_mut().refresh.fail("busy");
                } else {
                    self.start(ctx, due, Kind::Refresh);
                }
            } else {
                self.next_refresh = None;
                if !self.ua.busy() {
                    self.start(ctx, due, Kind::Refresh);
                }
            }
        }
        if let (Some(t), Some(k)) = (self.next_keepalive, ctx.o.keepalive) {
            if t <= now {
                self.out.extend_from_slice(b"\r\n\r\n");
                self.keepalive.sent_ping();
                self.next_keepalive = Some(now + self.rng.jitter(k, 0.8, 1.0));
            }
        }
    }
}

/// xorshift64*: jitter only, nothing secret.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `d` times a uniform factor in [lo, hi).
    fn jitter(&mut self, d: Duration, lo: f64, hi: f64) -> Duration {
        d.mul_f64(lo + (hi - lo) * self.unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = Options::parse(&args(&[
            "--target",
            "127.0.0.1:25061",
            "--ca",
            "/x/ca.pem",
            "--users",
            "15000",
            "--rate",
            "500",
            "--refresh-rate",
            "2000",
            "--seconds",
            "5",
            "--expires",
            "60",
            "--keepalive",
            "0",
            "--connections",
            "per-user",
        ]))
        .unwrap();
        assert_eq!(o.users, 15000);
        assert_eq!(o.refresh_rate, 2000.0);
        assert_eq!(o.keepalive, None);
        assert!(
            Options::parse(&args(&["--target", "127.0.0.1:1"])).is_err(),
            "no CA"
        );
        assert!(Options::parse(&args(&["--insecure"])).is_err(), "no target");
        for bad in [
            &["--users", "0"][..],
            &["--rate", "-1"],
            &["--rate", "NaN"],
            &["--expires", "0"],
            &["--domain", "a b"],
            &["--route", "sip:x\r\nVia: y"],
            &["--connections", "shared"],
            &["--bogus", "1"],
            &["--users"],
        ] {
            let mut a = args(&["--target", "127.0.0.1:1", "--insecure"]);
            a.extend(args(bad));
            assert!(Options::parse(&a).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bind_ports_are_distinct_and_in_range() {
        let mut seen = std::collections::HashSet::new();
        for j in 0..28_232 {
            let p = bind_port(j, 0);
            assert!((BIND_PORTS.0..=BIND_PORTS.1).contains(&p));
            assert!(seen.insert(p), "port {p} twice");
        }
        assert_ne!(bind_port(5, 0), bind_port(5, 1));
        assert!((BIND_PORTS.0..=BIND_PORTS.1).contains(&bind_port(u32::MAX, u32::MAX)));
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut r = Rng::new(42);
        for _ in 0..10_000 {
            let d = r.jitter(Duration::from_secs(100), 0.5, 0.8);
            assert!(
                d >= Duration::from_secs(50) && d < Duration::from_secs(80),
                "{d:?}"
            );
        }
    }
}
