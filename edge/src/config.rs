//! Configuration: the TOML file of one `edge` process, parsed and validated.
//!
//! The file names the role — `e` (DMZ), `c` (inside) or `all-in-one` (both in one process, the
//! traversal between them real TLS over loopback) — and the sections that role needs. It is read
//! in two steps: serde turns the text into loosely typed structs (every key optional, unknown
//! keys refused), then validation turns those into a [`Config`] that cannot hold nonsense, or
//! into a list of every problem found, each naming its field by dotted path
//! (`c.peers[2].address`), saying what is wrong and what would be right.
//!
//! ```toml
//! role = "e"                       # "e" | "c" | "all-in-one"
//! domains = ["example.test"]       # the SIP (Unified CM registration) domains
//! chat_node_aliases = []           # IM&P chat node aliases (both certificates carry them)
//!
//! [e]
//! fqdn = "expe.example.test"       # E's own name: clients and C dial it; its certificate has it
//! sip_tls = "0.0.0.0:5061"         # client-facing listeners (defaults shown)
//! https = "0.0.0.0:8443"
//! xmpp = "0.0.0.0:5222"
//! traversal_sip = "0.0.0.0:7001"   # traversal listeners C dials
//! traversal_http = "0.0.0.0:2222"
//! traversal_xmpp = "0.0.0.0:7400"
//! c_subject_names = ["expc.example.test"]  # one must be in C's certificate (CN or SAN)
//! registration_limit = 100000      # beyond it: 503 with Retry-After
//! registration_retry_after_seconds = 60
//! xmpp_federation_domains = []
//! [[e.credentials]]                # the traversal accounts C logs in with
//! username = "exampleauth"
//! password_hash = "pbkdf2-sha256$600000$…$…"   # or, labs only: insecure_plaintext_password
//!
//! [c]
//! fqdn = "expc.example.test"
//! peers = [                      # 1 to 6 E peers, in failover order
//!   "expe1.example.test:7001",
//!   { address = "expe2.example.test:7001", http_port = 2222, xmpp_port = 7400 },
//! ]
//! username = "exampleauth"
//! password_file = "traversal.secret"   # or password = "…"
//! expected_e_subject = "expe.example.test"  # default: each peer's host
//! keepalive_seconds = 30
//! reconnect_min_seconds = 1
//! reconnect_max_seconds = 60
//! call_control = [{ address = "198.18.2.10:5060", transport = "tcp" }]
//! registration = "contact-rewrite"  # or "path"
//! phone_security_profiles = ["jabber.secure.example.test"]
//! sip_listen = "0.0.0.0:5060"      # where call control sends requests to C (TCP and UDP)
//! max_calls = 10000                # concurrent calls; beyond: 503 with Retry-After
//! outside_media = "srtp"           # or "best-effort": plain RTP outside when a client offers it
//! # sip_tls_listen = "0.0.0.0:5061"
//!
//! [tls]
//! ca = "ca.pem"                    # PEM paths, relative to the file's directory
//! certificate = "e.pem"
//! key = "e.key"
//! # or, labs: generate = true, directory = "tls"
//!
//! [media]
//! bind = "0.0.0.0"
//! range = "36002-59999"
//! traversal_pairs = [36000]        # or large = true: the six pairs 36000-36010
//! cores = [2, 3]
//! backend = "auto"                 # "uring" | "sockets"
//! quarantine_seconds = 2
//! xdp = { interfaces = ["eth1"], mode = "auto", rate = 5000, burst = 10000, steering = true }
//!
//! [admin]
//! address = "127.0.0.1:8080"
//! ```
//!
//! Relative paths (`tls.*`, `c.password_file`) are taken from the configuration file's
//! directory. Validation reads `c.password_file`, and nothing else from disk: the TLS files are
//! read when the process starts (see [`crate::certs`]), which names the file that is wrong.
//!
//! Ports and names follow the guide (`shared/spec/mra-deployment-guide-x8.2.txt`, "Mobile and
//! remote access port reference" and the traversal zone table): 5061/8443/5222 towards
//! clients, 7001/2222/7400 for the traversal C dials, up to six E peers, media 36002-59999 with
//! the traversal pair 36000/36001 (Large: 36012-59999 and six pairs 36000-36011).

mod locate;
mod names;
mod raw;
mod secret;
mod validate;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use media::relay::port_alloc::{PortAllocatorConfig, PortRange};
use media::runtime::{BackendChoice, PlaneConfig};

use crate::certs::{self, CertError, Finding, LabReport, Requirements, Side};
use crate::xdp::XdpOptions;

pub(crate) use names::Host;
pub(crate) use secret::{PasswordHash, Secret};

use raw::RawConfig;

/// Default client-facing SIP TLS listener of E.
pub(crate) const DEFAULT_SIP_TLS: u16 = 5061;
/// Default HTTPS listener of E (`_collab-edge._tls` points here).
pub(crate) const DEFAULT_HTTPS: u16 = 8443;
/// Default XMPP listener of E.
pub(crate) const DEFAULT_XMPP: u16 = 5222;
/// Default traversal SIP port (the guide's Unified Communications traversal zone).
pub(crate) const DEFAULT_TRAVERSAL_SIP: u16 = 7001;
/// Default traversal HTTP port (the guide's SSH tunnel port; ours is mutual TLS).
pub(crate) const DEFAULT_TRAVERSAL_HTTP: u16 = 2222;
/// Default traversal XMPP port.
pub(crate) const DEFAULT_TRAVERSAL_XMPP: u16 = 7400;
/// Default management address.
pub(crate) const DEFAULT_ADMIN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
/// Default registration limit of E.
pub(crate) const DEFAULT_REGISTRATION_LIMIT: u32 = 100_000;
/// The most E peers C may list (the guide: "Peer 1 address" to "Peer 6 address").
pub(crate) const MAX_PEERS: usize = 6;
/// The traversal pair of a Small/Medium system.
pub(crate) const DEFAULT_TRAVERSAL_PAIR: u16 = 36000;
/// The traversal pairs of a Large system (the guide: "36000 to 36011 (6 pairs …)").
pub(crate) const LARGE_TRAVERSAL_PAIRS: [u16; 6] = [36000, 36002, 36004, 36006, 36008, 36010];

/// The role of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Expressway-E: in the DMZ, faces the clients, waits for C's traversal connections.
    E,
    /// Expressway-C: inside, dials E, talks to call control.
    C,
    /// Both in one process; C dials its own E over loopback.
    AllInOne,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::E => "e",
            Role::C => "c",
            Role::AllInOne => "all-in-one",
        })
    }
}

/// A validated configuration. Built only by [`Config::load`] and [`Config::parse`]: the role's
/// sections are present and the others absent, listeners do not share ports, and so on.
#[derive(Debug)]
pub(crate) struct Config {
    role: Role,
    domains: Vec<String>,
    chat_node_aliases: Vec<String>,
    e: Option<EConfig>,
    c: Option<CConfig>,
    tls: TlsConfig,
    media: MediaConfig,
    admin: AdminConfig,
}

/// E's part.
#[derive(Debug, Clone)]
pub(crate) struct EConfig {
    /// E's own FQDN (the SRV target clients dial, the peer address C dials).
    pub(crate) fqdn: String,
    /// Where E listens.
    pub(crate) listen: EListen,
    /// E accepts a C whose certificate carries one of these in its subject CN or a SAN (the
    /// guide's "TLS verify subject name").
    pub(crate) c_subject_names: Vec<String>,
    /// The traversal accounts, username to salted hash.
    pub(crate) credentials: Vec<Credential>,
    /// Registrations E holds at most; beyond it a REGISTER gets 503 with `Retry-After`.
    pub(crate) registration_limit: u32,
    /// The `Retry-After` of that 503.
    pub(crate) registration_retry_after: Duration,
    /// XMPP federation domains (E's certificate carries them).
    pub(crate) xmpp_federation_domains: Vec<String>,
}

impl EConfig {
    /// Whether `username` with `password` is a traversal account (a PBKDF2 run: call off the
    /// signaling thread).
    #[must_use]
    pub(crate) fn check_login(&self, username: &str, password: &str) -> bool {
        self.credentials
            .iter()
            .find(|c| c.username == username)
            .is_some_and(|c| c.hash.verify(password))
    }
}

/// E's listeners (TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EListen {
    /// SIP over TLS from clients.
    pub(crate) sip_tls: SocketAddr,
    /// HTTPS from clients (edge config, proxied UDS/TFTP/voicemail).
    pub(crate) https: SocketAddr,
    /// XMPP from clients.
    pub(crate) xmpp: SocketAddr,
    /// The traversal SIP link from C.
    pub(crate) traversal_sip: SocketAddr,
    /// The traversal HTTP link from C.
    pub(crate) traversal_http: SocketAddr,
    /// The traversal XMPP link from C.
    pub(crate) traversal_xmpp: SocketAddr,
}

/// One traversal account on E.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    pub(crate) username: String,
    pub(crate) hash: PasswordHash,
}

/// C's part.
#[derive(Debug, Clone)]
pub(crate) struct CConfig {
    /// C's own FQDN.
    pub(crate) fqdn: String,
    /// The E peers, in failover order (1 to 6). All-in-one: E's own traversal listeners.
    pub(crate) peers: Vec<Peer>,
    /// The traversal account.
    pub(crate) username: String,
    pub(crate) password: Secret,
    /// The name E's certificate must carry; `None`: each peer's host.
    pub(crate) expected_e_subject: Option<Host>,
    /// How often C probes each traversal connection.
    pub(crate) keepalive: Duration,
    /// Reconnect backoff: the first wait, doubled up to the last.
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
    /// Call control servers (Unified CM), in order.
    pub(crate) call_control: Vec<CallControl>,
    /// How REGISTERs pass C.
    pub(crate) registration: RegistrationMode,
    /// Unified CM phone security profile names (FQDN form; C's certificate carries them).
    pub(crate) phone_security_profiles: Vec<String>,
    /// Where call control reaches C (TCP and UDP).
    pub(crate) sip_listen: SocketAddr,
    /// Where call control reaches C over TLS, if it does.
    pub(crate) sip_tls_listen: Option<SocketAddr>,
    /// Concurrent calls C carries; a new one beyond gets 503.
    pub(crate) max_calls: u32,
    /// A plain RTP offer from outside is carried (not refused with 488).
    pub(crate) best_effort: bool,
}

/// Default concurrent call limit of C.
pub(crate) const DEFAULT_MAX_CALLS: u32 = 10_000;

impl CConfig {
    /// The name C checks E's certificate for when it dials `peer`.
    #[must_use]
    pub(crate) fn e_server_name(&self, peer: &Peer) -> Host {
        self.expected_e_subject
            .clone()
            .unwrap_or_else(|| peer.host.clone())
    }
}

/// One E peer C dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) host: Host,
    /// E's traversal SIP port.
    pub(crate) sip_port: u16,
    /// E's traversal HTTP port.
    pub(crate) http_port: u16,
    /// E's traversal XMPP port.
    pub(crate) xmpp_port: u16,
}

/// One call control server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallControl {
    pub(crate) host: Host,
    pub(crate) port: u16,
    pub(crate) transport: Transport,
}

/// A SIP transport towards call control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// How C passes REGISTERs to call control (MRA-NOTES, "SIP through the edge").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum RegistrationMode {
    /// C rewrites the Contact to its own address (`orig-hostport`); the default.
    #[default]
    ContactRewrite,
    /// C leaves the Contact and adds a Path header (RFC 3327).
    Path,
}

/// Where the certificates are.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfig {
    /// Labs: the directory the CA and role certificates are generated into at start if missing
    /// (see [`certs::ensure_lab_pki`]); `None`: the files are given. Each process that
    /// generates makes its own CA: for E and C on two hosts, generate on one and copy the
    /// directory (`ca.pem`, and the other side's pair) to the other, or they will not trust
    /// each other.
    pub(crate) generate: Option<PathBuf>,
    /// The CA certificates (PEM) both ends trust.
    pub(crate) ca: PathBuf,
    /// One identity per side this process serves (all-in-one: E's, then C's).
    pub(crate) identities: Vec<TlsIdentity>,
}

impl TlsConfig {
    /// The identity of `side`, if this process serves it.
    #[must_use]
    pub(crate) fn identity(&self, side: Side) -> Option<&TlsIdentity> {
        self.identities.iter().find(|i| i.side == side)
    }
}

/// A certificate chain and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsIdentity {
    pub(crate) side: Side,
    pub(crate) certificate: PathBuf,
    pub(crate) key: PathBuf,
}

/// The media plane.
#[derive(Debug, Clone)]
pub(crate) struct MediaConfig {
    pub(crate) bind: IpAddr,
    /// The client-facing media range.
    pub(crate) range: PortRange,
    /// The multiplexed traversal pairs (RTP port of each), kept out of the range.
    pub(crate) traversal_pairs: Vec<u16>,
    /// A Large system (six traversal pairs).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "traversal_pairs already holds its six pairs")
    )]
    pub(crate) large: bool,
    /// One worker per entry, pinned to that CPU (`None`: not pinned).
    pub(crate) cores: Vec<Option<usize>>,
    pub(crate) backend: BackendChoice,
    pub(crate) quarantine: Duration,
    pub(crate) inactivity: Duration,
    /// XDP (no interfaces: off).
    pub(crate) xdp: XdpOptions,
}

impl MediaConfig {
    /// The media plane this configuration asks for. The traversal pairs are kept out of the
    /// media range by the plane itself (it reserves each pair).
    #[must_use]
    pub(crate) fn plane_config(&self) -> PlaneConfig {
        let defaults = PlaneConfig::default();
        PlaneConfig {
            bind_ip: self.bind,
            cores: self.cores.clone(),
            backend: self.backend,
            ports: PortAllocatorConfig {
                range: self.range,
                reserved: Vec::new(),
                quarantine: self.quarantine,
            },
            mux_pairs: self.traversal_pairs.clone(),
            inactivity_timeout: self.inactivity,
            ..defaults
        }
    }

    /// The XDP options of the plane (no interfaces: XDP is not asked for).
    #[must_use]
    pub(crate) fn xdp_options(&self) -> XdpOptions {
        self.xdp.clone()
    }
}

/// The management interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AdminConfig {
    pub(crate) address: SocketAddr,
}

impl Config {
    /// Reads and validates the file at `path`; relative paths in it are taken from its
    /// directory.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base)
    }

    /// Parses and validates `text`; relative paths are taken from `base_dir`.
    pub(crate) fn parse(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| validate::syntax_error(text, &e))?;
        validate::validate(raw, base_dir)
    }

    #[must_use]
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// The SIP domains, lower case.
    #[must_use]
    pub(crate) fn domains(&self) -> &[String] {
        &self.domains
    }

    #[must_use]
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the XMPP edge reads it (its issue); the certificates use the field"
        )
    )]
    pub(crate) fn chat_node_aliases(&self) -> &[String] {
        &self.chat_node_aliases
    }

    /// E's part (roles `e` and `all-in-one`).
    #[must_use]
    pub(crate) fn e(&self) -> Option<&EConfig> {
        self.e.as_ref()
    }

    /// C's part (roles `c` and `all-in-one`).
    #[must_use]
    pub(crate) fn c(&self) -> Option<&CConfig> {
        self.c.as_ref()
    }

    #[must_use]
    pub(crate) fn tls(&self) -> &TlsConfig {
        &self.tls
    }

    #[must_use]
    pub(crate) fn media(&self) -> &MediaConfig {
        &self.media
    }

    #[must_use]
    pub(crate) fn admin(&self) -> &AdminConfig {
        &self.admin
    }

    /// The media plane of this process (all-in-one: one plane serves both roles).
    #[must_use]
    pub(crate) fn plane_config(&self) -> PlaneConfig {
        self.media.plane_config()
    }

    /// What the certificate of each side this process serves must carry (the guide's "Server
    /// certificate requirements for Unified Communications"): for lab generation and for
    /// `edge doctor`.
    #[must_use]
    pub(crate) fn cert_requirements(&self) -> Vec<Requirements> {
        let mut out = Vec::new();
        if let Some(e) = &self.e {
            out.push(Requirements::e(
                &e.fqdn,
                &self.domains,
                &e.xmpp_federation_domains,
                &self.chat_node_aliases,
            ));
        }
        if let Some(c) = &self.c {
            // Where this process also is the E, C's certificate must carry a name E checks.
            let subject_names = self.e.as_ref().map_or(&[][..], |e| &e.c_subject_names[..]);
            out.push(Requirements::c(
                &c.fqdn,
                &c.phone_security_profiles,
                &self.chat_node_aliases,
                subject_names,
            ));
        }
        out
    }

    /// Labs (`tls.generate = true`): makes sure the lab CA and this process's certificates are
    /// in the directory and meet [`Config::cert_requirements`], making what is missing or
    /// unusable (see [`certs::ensure_lab_pki`]). `Ok(None)` when the files are given. Call
    /// once at start, before loading the identities.
    pub(crate) fn ensure_lab_certificates(
        &self,
        now: SystemTime,
    ) -> Result<Option<LabReport>, CertError> {
        match &self.tls.generate {
            None => Ok(None),
            Some(dir) => certs::ensure_lab_pki(dir, &self.cert_requirements(), now).map(Some),
        }
    }

    /// For `edge doctor`: each side's certificate checked against the guide's requirements
    /// and the configured CA. The outer error: the CA file cannot be loaded; per side, the
    /// certificate or key file cannot be loaded, or the key is not the certificate's.
    pub(crate) fn certificate_findings(
        &self,
        now: SystemTime,
    ) -> Result<Vec<SideFindings>, CertError> {
        let ca = certs::load_certificates(&self.tls.ca)?;
        Ok(self
            .cert_requirements()
            .iter()
            .filter_map(|req| {
                let id = self.tls.identity(req.side)?;
                let findings = certs::load_certificates(&id.certificate).and_then(|chain| {
                    let key = certs::load_private_key(&id.key)?;
                    if certs::key_matches(&chain[0], &key) == Some(false) {
                        return Err(CertError::KeyMismatch {
                            certificate: id.certificate.clone(),
                            key: id.key.clone(),
                        });
                    }
                    Ok(certs::check(&chain, &ca, req, now))
                });
                Some((req.side, findings))
            })
            .collect())
    }
}

/// One side's certificate checked: what to fix, or why it could not be checked.
pub(crate) type SideFindings = (Side, Result<Vec<Finding>, CertError>);

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The dotted path of the field (`c.peers[2].address`).
    pub(crate) field: String,
    /// What is wrong, and what would be right.
    pub(crate) problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Why a configuration was refused.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum ConfigError {
    /// The file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, a value of the wrong type, or an unknown key.
    Syntax {
        /// The field, as well as the text tells it.
        field: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but the values do not hold together: every problem found.
    Invalid(Vec<FieldError>),
}

impl ConfigError {
    /// The fields named, in order.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn fields(&self) -> Vec<&str> {
        match self {
            ConfigError::Read { .. } => Vec::new(),
            ConfigError::Syntax { field, .. } => vec![field.as_str()],
            ConfigError::Invalid(errors) => errors.iter().map(|e| e.field.as_str()).collect(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(
                    f,
                    "cannot read the configuration {}: {source}",
                    path.display()
                )
            }
            ConfigError::Syntax {
                field,
                line,
                column,
                message,
            } => write!(f, "{field} (line {line}, column {column}): {message}"),
            ConfigError::Invalid(errors) => {
                let n = errors.len();
                write!(
                    f,
                    "the configuration has {n} problem{}:",
                    if n == 1 { "" } else { "s" }
                )?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
