//! `edge run`: the E and C roles (or both in one process) from the configuration file.
//!
//! What starts, per role:
//!
//! - **E**: SIP over TLS for clients (`e.sip_tls`, 5061) and the traversal listener C dials
//!   (`e.traversal_sip`, 7001: mutual TLS, E checks C's certificate for one of
//!   `e.c_subject_names`, then C's username and password against `e.credentials`).
//! - **C**: the traversal dialer (`c.peers`, failover in order, keepalive probes every
//!   `c.keepalive_seconds`, reconnect backoff), SIP on `c.sip_listen` (UDP and TCP) for call
//!   control, and the connection to `c.call_control[0]`.
//! - **all-in-one**: both; C dials its own E over loopback, still real mutual TLS.
//! - Every role: the admin API on `admin.address` (see [`crate::admin`]).
//!
//! - **E's media plane** (`[media]`: workers, range, traversal pairs, XDP), behind C's control
//!   stream: each stream C asks for gets a client-facing port pair and a leg on a traversal
//!   pair, in passthrough.
//!
//! Lab certificates (`tls.generate = true`) are made or reused first. C's media plane (with the
//! B2BUA) and the HTTP and XMPP edges join with the issues that build them. The process runs
//! until it is killed.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use signaling::sip::{Host as SipHost, Limits, Transport as SipTransport};
use signaling::sip_edge::calls::CallsConfig;
use signaling::sip_edge::driver::{
    self as sipd, CDriverConfig, CallControlPeer, CallControlTransport, EDriverConfig,
};
use signaling::sip_edge::{CProxyConfig, EProxyConfig, OwnNames, RegistrationMode};
use signaling::traversal::driver::{DialerConfig, EPeer, ListenerConfig, TlsIdentity};
use signaling::traversal::link::LinkConfig;
use signaling::traversal::peers::{Backoff, PeerPolicy};
use signaling::traversal::Credentials;

use media::runtime::MediaPlane;
use signaling::traversal::control::MediaAllocator;

use crate::admin::{self, Roles};
use crate::c_media::CMedia;
use crate::certs::{self, Side};
use crate::config::{self, CConfig, Config, EConfig, Host, Role};
use crate::e_media::EMedia;

/// `edge run` options.
#[derive(Debug)]
pub(crate) struct Options {
    config: std::path::PathBuf,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut config = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--config" | "-c" => {
                    config = Some(it.next().ok_or("--config needs a file")?.into());
                }
                other if !other.starts_with('-') && config.is_none() => {
                    config = Some(other.into());
                }
                other => return Err(format!("run: unknown option {other:?}")),
            }
        }
        Ok(Options {
            config: config.ok_or("run: which configuration? edge run --config FILE")?,
        })
    }
}

/// E's credential store for the traversal link: the configured accounts.
struct ECredentials(EConfig);

impl Credentials for ECredentials {
    fn check(&self, user: &str, password: &str) -> bool {
        self.0.check_login(user, password)
    }
}

pub(crate) fn run(opts: &Options) -> Result<(), String> {
    let cfg = Config::load(&opts.config).map_err(|e| format!("{}: {e}", opts.config.display()))?;
    let now = SystemTime::now();
    if let Some(report) = cfg
        .ensure_lab_certificates(now)
        .map_err(|e| format!("lab certificates: {e}"))?
    {
        eprintln!(
            "edge: lab certificates: CA {:?}, {:?}",
            report.ca, report.leaves
        );
    }
    match cfg.certificate_findings(now) {
        Ok(sides) => {
            for (side, findings) in sides {
                match findings {
                    Ok(list) => {
                        // Printed, not fatal: an operator may run with a finding while a
                        // certificate is reissued (clients that check it will refuse).
                        for f in list {
                            let level = match f.severity() {
                                certs::Severity::Error => "ERROR",
                                certs::Severity::Warning => "warning",
                            };
                            eprintln!("edge: certificate of {side}: {level}: {f}");
                        }
                    }
                    Err(e) => return Err(format!("certificate of {side}: {e}")),
                }
            }
        }
        Err(e) => return Err(format!("certificates: {e}")),
    }
    let (soft, _) = media::runtime::raise_open_files_limit()
        .map_err(|e| format!("raising the open-files limit: {e}"))?;
    // One signaling thread per CPU the process may run on (tokio's default: the affinity mask,
    // so `taskset -c 0` gives one thread and no cross-thread wake-ups).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("edge-signaling")
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(serve(cfg, soft))
}

async fn serve(cfg: Config, open_files: u64) -> Result<(), String> {
    let ca = certs::load_certificates(&cfg.tls().ca).map_err(|e| e.to_string())?;
    let identity = |side: Side| -> Result<TlsIdentity, String> {
        let id = cfg
            .tls()
            .identity(side)
            .ok_or_else(|| format!("tls: no certificate configured for {side}"))?;
        let loaded = certs::load_identity(&id.certificate, &id.key, SystemTime::now())
            .map_err(|e| e.to_string())?;
        Ok(TlsIdentity::new(loaded.chain, loaded.key))
    };
    let mut roles = Roles::default();
    if let Some(e) = cfg.e() {
        let id = identity(Side::E)?;
        let mut config = e_driver_config(&cfg, e, id, ca.clone(), open_files)?;
        config.media = Some(e_media(&cfg, e)?);
        let handle = sipd::start_e(config).await.map_err(|e| format!("E: {e}"))?;
        eprintln!(
            "edge: E up: SIP TLS on {}, traversal on {}",
            handle.sip_tls_addr(),
            handle.traversal_addr()
        );
        roles.e = Some(handle);
    }
    if let Some(c) = cfg.c() {
        let id = identity(Side::C)?;
        let mut config = c_driver_config(&cfg, c, id, ca.clone())?;
        config.media = Some(c_media(&cfg, c)?);
        let handle = sipd::start_c(config).await.map_err(|e| format!("C: {e}"))?;
        eprintln!(
            "edge: C up: SIP for call control on {} (UDP and TCP), dialing E",
            handle.listen_addr()
        );
        roles.c = Some(handle);
    }
    roles.role = cfg.role().to_string();
    let admin_addr = cfg.admin().address;
    admin::serve(admin_addr, Arc::new(roles)).await
}

fn e_driver_config(
    cfg: &Config,
    e: &EConfig,
    identity: TlsIdentity,
    ca: Vec<rustls_pki_types::CertificateDer<'static>>,
    open_files: u64,
) -> Result<EDriverConfig, String> {
    let tls = sipd::sip_tls_server_config(&identity)?;
    let mut traversal = ListenerConfig::new(
        identity,
        ca,
        e.c_subject_names.clone(),
        Arc::new(ECredentials(e.clone())),
    );
    traversal.bind = e.listen.traversal_sip;
    let mut own = vec![SipHost::Name(e.fqdn.clone())];
    for d in cfg.domains() {
        own.push(SipHost::Name(format!("collab-edge.{d}")));
    }
    if !e.listen.sip_tls.ip().is_unspecified() {
        own.push(ip_host(e.listen.sip_tls.ip()));
    }
    let first_flow = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() << 24);
    Ok(EDriverConfig {
        sip_tls: e.listen.sip_tls,
        tls,
        traversal,
        proxy: EProxyConfig {
            via_host: SipHost::Name(e.fqdn.clone()),
            via_port: e.listen.sip_tls.port(),
            own: OwnNames::new(own).on_ports([e.listen.sip_tls.port()]),
            registration_limit: e.registration_limit,
            retry_after: e.registration_retry_after,
            first_flow,
        },
        limits: Limits::default(),
        // Keep descriptors for the listeners, the traversal and the admin API.
        max_flows: usize::try_from(open_files.saturating_sub(128)).unwrap_or(usize::MAX),
        handshake_timeout: Duration::from_secs(10),
        incomplete_timeout: Duration::from_secs(30),
        media: None,
    })
}

/// E's media plane from `[media]`, behind C's control stream. Its client-facing address is
/// `media.bind`, or E's SIP address when that is a wildcard.
fn e_media(cfg: &Config, e: &EConfig) -> Result<Arc<dyn MediaAllocator>, String> {
    let mut pc = cfg.plane_config();
    pc.ports.range = split_range(cfg, false);
    let plane = MediaPlane::spawn(pc).map_err(|err| format!("media: {err}"))?;
    // XDP at the media range where `media.xdp` names interfaces (else it says why not).
    let options = cfg.media().xdp_options();
    let xdp = crate::xdp::start(&options, &cfg.plane_config());
    if options.interfaces.is_empty() {
        eprintln!("edge: running without XDP: media.xdp names no interface");
    } else {
        eprintln!("edge: {}", crate::xdp::describe(&xdp));
    }
    if let crate::xdp::Xdp::On(table) = &xdp {
        plane.set_port_observer(table.clone());
    }
    let stats = plane.plane_stats();
    let media = cfg.media();
    let address = if media.bind.is_unspecified() {
        e.listen.sip_tls.ip()
    } else {
        media.bind
    };
    if address.is_unspecified() {
        return Err(
            "media.bind: E's client-facing media address is needed (e.sip_tls is a wildcard \
             too); set media.bind to E's public address"
                .into(),
        );
    }
    eprintln!(
        "edge: media plane up: {} worker(s), {} client port pairs at {address}, traversal pairs \
         {:?}",
        stats.workers.len(),
        stats.ports_capacity,
        media.traversal_pairs
    );
    Ok(Arc::new(EMedia::new(plane, address, xdp)))
}

/// C's media address inside: `c.sip_listen`'s, else `media.bind`.
fn c_media_address(cfg: &Config, c: &CConfig) -> Result<IpAddr, String> {
    let ip = c.sip_listen.ip();
    if !ip.is_unspecified() {
        return Ok(ip);
    }
    let bind = cfg.media().bind;
    if !bind.is_unspecified() {
        return Ok(bind);
    }
    Err("media.bind: C's media address is needed (c.sip_listen is a wildcard too); set          media.bind to C's address"
        .to_owned())
}

/// The part of `media.range` C's plane takes: all of it, or in all-in-one (one host, one
/// range) the upper two thirds, E keeping the first.
fn split_range(cfg: &Config, c_side: bool) -> media::relay::port_alloc::PortRange {
    let r = cfg.media().range;
    if cfg.role() != Role::AllInOne {
        return r;
    }
    // C takes two pairs per stream (toward E and inside), E one: E the first third, C the
    // rest. An even split point keeps pairs whole.
    let span = u32::from(r.last - r.first);
    let third = u16::try_from(span / 3).unwrap_or(0);
    let mid = r.first.saturating_add(third) & !1;
    let (first, last) = if c_side {
        (mid, r.last)
    } else {
        (r.first, mid.saturating_sub(1))
    };
    media::relay::port_alloc::PortRange::new(first, last).unwrap_or(r)
}

/// C's media plane (the SRTP ↔ RTP legs of calls), on C's inside address.
fn c_media(cfg: &Config, c: &CConfig) -> Result<Arc<dyn sipd::CallMedia>, String> {
    let address = c_media_address(cfg, c)?;
    let mut pc = cfg.plane_config();
    pc.bind_ip = address;
    pc.mux_pairs = Vec::new();
    pc.ports.range = split_range(cfg, true);
    let plane = MediaPlane::spawn(pc).map_err(|err| format!("C's media: {err}"))?;
    let stats = plane.plane_stats();
    eprintln!(
        "edge: C's media plane up: {} worker(s), {} port pairs at {address}",
        stats.workers.len(),
        stats.ports_available,
    );
    Ok(Arc::new(CMedia::new(plane, cfg.media().inactivity)))
}

fn ip_host(ip: IpAddr) -> SipHost {
    match ip {
        IpAddr::V4(v4) => SipHost::Ipv4(v4),
        IpAddr::V6(v6) => SipHost::Ipv6(v6),
    }
}

fn resolve(host: &Host, port: u16, what: &str) -> Result<SocketAddr, String> {
    match host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        Host::Name(n) => (n.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("{what} {n}: {e}"))?
            .next()
            .ok_or_else(|| format!("{what} {n}: no address")),
    }
}

fn c_driver_config(
    cfg: &Config,
    c: &CConfig,
    identity: TlsIdentity,
    ca: Vec<rustls_pki_types::CertificateDer<'static>>,
) -> Result<CDriverConfig, String> {
    // all-in-one: C dials its own E's traversal listener over loopback.
    let mut peers = Vec::new();
    if cfg.role() == Role::AllInOne {
        let e = cfg.e().ok_or("all-in-one without [e]")?;
        let mut at = e.listen.traversal_sip;
        if at.ip().is_unspecified() {
            at.set_ip(IpAddr::from([127, 0, 0, 1]));
        }
        peers.push(EPeer::new(e.fqdn.clone()).at(at));
    }
    for p in &c.peers {
        let name = c.e_server_name(p).to_string();
        let peer = match &p.host {
            Host::Ip(ip) => EPeer::new(name).at(SocketAddr::new(*ip, p.sip_port)),
            Host::Name(_) => {
                let mut e = EPeer::new(name);
                e.port = p.sip_port;
                e
            }
        };
        peers.push(peer);
    }
    let dialer = DialerConfig {
        peers,
        identity,
        server_ca: ca,
        user: c.username.clone(),
        password: c.password.expose().to_owned(),
        link: LinkConfig {
            probe_interval: c.keepalive,
            ..LinkConfig::default()
        },
        policy: PeerPolicy {
            backoff: Backoff {
                min: c.reconnect_min,
                max: c.reconnect_max,
                jitter: true,
            },
            ..PeerPolicy::default()
        },
        handshake_timeout: Duration::from_secs(10),
    };
    // Every call control, in order; one transport for all (C's Contact, Path and Via name it).
    let mut call_control = Vec::new();
    let mut sip_transport = None;
    for (i, cc) in c.call_control.iter().enumerate() {
        let field = format!("c.call_control[{i}]");
        let addr = resolve(&cc.host, cc.port, &field)?;
        let (transport, sip) = match cc.transport {
            config::Transport::Udp => (CallControlTransport::Udp, SipTransport::Udp),
            config::Transport::Tcp => (CallControlTransport::Tcp, SipTransport::Tcp),
            config::Transport::Tls => {
                return Err(format!(
                "{field}.transport: TLS to call control is not built yet; use \"tcp\" or \"udp\""
            ))
            }
        };
        match &sip_transport {
            None => sip_transport = Some(sip),
            Some(first) if *first != sip => {
                return Err(format!(
                    "{field}.transport: every call control must use the same transport as the \
                     first ({first})"
                ))
            }
            Some(_) => {}
        }
        call_control.push(CallControlPeer { addr, transport });
    }
    let sip_transport = sip_transport.ok_or("c.call_control: no call control configured")?;
    let listen = c.sip_listen;
    // The address call control reaches C at: the listening address, else C's name.
    let host = if listen.ip().is_unspecified() {
        SipHost::Name(c.fqdn.clone())
    } else {
        ip_host(listen.ip())
    };
    let mut own = vec![SipHost::Name(c.fqdn.clone()), host.clone()];
    own.dedup();
    Ok(CDriverConfig {
        dialer,
        proxy: CProxyConfig {
            mode: match c.registration {
                config::RegistrationMode::ContactRewrite => RegistrationMode::ContactRewrite,
                config::RegistrationMode::Path => RegistrationMode::Path,
            },
            host,
            port: listen.port(),
            transport: sip_transport,
            // C's ports: where call control reaches it, and the SIP TLS port clients preload in
            // their Route to C (its own, else 5061). Call control may share C's address.
            own: OwnNames::new(own)
                .on_ports([listen.port(), c.sip_tls_listen.map_or(5061, |a| a.port())]),
            max_bindings: 1_000_000,
            max_pending: 200_000,
            calls: Some(CallsConfig {
                max_calls: usize::try_from(c.max_calls).unwrap_or(usize::MAX),
                best_effort: c.best_effort,
                ..CallsConfig::new(c_media_address(cfg, c)?, crate::c_media::accept_crypto)
            }),
        },
        listen,
        call_control,
        limits: Limits::default(),
        media: None,
    })
}
