//! Validation: the raw configuration (every key optional) into a [`Config`], or every problem
//! found, each naming its field.

use std::net::Ipv6Addr;

use ebpf::AttachMode;
use media::relay::port_alloc::{DEFAULT_MEDIA_RANGE, LARGE_MEDIA_RANGE};

use super::raw::{RawC, RawConfig, RawE, RawMedia, RawPeer, RawTls};
use super::*;

/// Validates `raw`; relative paths are taken from `base`.
pub(super) fn validate(raw: RawConfig, base: &Path) -> Result<Config, ConfigError> {
    let mut v = Validator {
        errors: Vec::new(),
        base: base.to_path_buf(),
    };
    match v.config(raw) {
        Some(c) if v.errors.is_empty() => Ok(c),
        _ => Err(ConfigError::Invalid(v.errors)),
    }
}

/// A TOML or serde error, with the field read back from where in the text it lies.
pub(super) fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let (field, line, column) = match e.span() {
        Some(span) => super::locate::locate(text, span.start),
        None => ("(top level)".to_string(), 1, 1),
    };
    let message = e.message().trim().to_string();
    ConfigError::Syntax {
        field,
        line,
        column,
        message,
    }
}

/// Walks the raw configuration, collecting every problem.
struct Validator {
    errors: Vec<FieldError>,
    base: PathBuf,
}

impl Validator {
    fn err(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// `value`, or an error "missing; {hint}".
    fn required<T>(&mut self, value: Option<T>, field: &str, hint: &str) -> Option<T> {
        if value.is_none() {
            self.err(field, format!("missing; {hint}"));
        }
        value
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// A list of DNS names (`fqdn_only`: with a domain), each checked, duplicates refused.
    fn names(&mut self, field: &str, list: Option<Vec<String>>, fqdn_only: bool) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, s) in list.unwrap_or_default().iter().enumerate() {
            let checked = if fqdn_only {
                names::fqdn(s)
            } else {
                names::dns_name(s)
            };
            match checked {
                Ok(n) => {
                    if let Some(j) = out.iter().position(|o| *o == n) {
                        self.err(
                            format!("{field}[{i}]"),
                            format!("{n:?} is listed twice (also {field}[{j}]); list it once"),
                        );
                    }
                    out.push(n);
                }
                Err(e) => self.err(format!("{field}[{i}]"), e),
            }
        }
        out
    }

    fn listen(&mut self, field: &str, value: Option<String>, default: SocketAddr) -> SocketAddr {
        match value {
            None => default,
            Some(s) => names::listen_addr(&s, default.port()).unwrap_or_else(|e| {
                self.err(field, e);
                default
            }),
        }
    }

    fn username(&mut self, field: &str, value: Option<String>) -> Option<String> {
        let u = self.required(
            value,
            field,
            "expected the traversal account name, e.g. username = \"exampleauth\"",
        )?;
        if u.is_empty() || u.len() > 128 || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.err(
                field,
                format!(
                    "{u:?} is not a usable account name; expected 1 to 128 characters without \
                     spaces or control characters"
                ),
            );
            return None;
        }
        Some(u)
    }

    fn config(&mut self, raw: RawConfig) -> Option<Config> {
        let role = match raw.role.as_deref() {
            None => {
                self.err(
                    "role",
                    "missing; expected role = \"e\" (DMZ), \"c\" (inside) or \"all-in-one\"",
                );
                None
            }
            Some("e") => Some(Role::E),
            Some("c") => Some(Role::C),
            Some("all-in-one") => Some(Role::AllInOne),
            Some(other) => {
                self.err(
                    "role",
                    format!("{other:?} is not a role; expected \"e\", \"c\" or \"all-in-one\""),
                );
                None
            }
        };
        let domains = match raw.domains {
            None => {
                self.err(
                    "domains",
                    "missing; expected the SIP domains the edge serves, e.g. domains = \
                     [\"example.test\"]",
                );
                Vec::new()
            }
            Some(d) if d.is_empty() => {
                self.err(
                    "domains",
                    "is empty; list at least one SIP domain, e.g. domains = [\"example.test\"]",
                );
                Vec::new()
            }
            Some(d) => self.names("domains", Some(d), false),
        };
        let chat_node_aliases = self.names("chat_node_aliases", raw.chat_node_aliases, true);

        let wants_e = matches!(role, Some(Role::E | Role::AllInOne));
        let wants_c = matches!(role, Some(Role::C | Role::AllInOne));
        if let Some(r) = role {
            if !wants_e && raw.e.is_some() {
                self.err(
                    "e",
                    format!(
                        "this section is for role \"e\" or \"all-in-one\", and role = \"{r}\"; \
                         remove [e] or change the role"
                    ),
                );
            }
            if !wants_c && raw.c.is_some() {
                self.err(
                    "c",
                    format!(
                        "this section is for role \"c\" or \"all-in-one\", and role = \"{r}\"; \
                         remove [c] or change the role"
                    ),
                );
            }
        }
        let all_in_one = role == Some(Role::AllInOne);
        // A missing section is checked as an empty one: every required key is then named.
        let e = (wants_e || (role.is_none() && raw.e.is_some()))
            .then(|| self.e(raw.e.unwrap_or_default()));
        let c = (wants_c || (role.is_none() && raw.c.is_some()))
            .then(|| self.c(raw.c.unwrap_or_default(), all_in_one, &domains));
        let tls = self.tls(raw.tls, role);
        let media = self.media(raw.media.unwrap_or_default(), role);
        let admin = AdminConfig {
            address: self.listen(
                "admin.address",
                raw.admin.and_then(|a| a.address),
                DEFAULT_ADMIN,
            ),
        };

        let (mut e, mut c) = (e.flatten(), c.flatten());
        if all_in_one {
            if let (Some(e), Some(c)) = (&mut e, &mut c) {
                self.join_all_in_one(e, c);
            }
        }
        // (All-in-one takes both from [c]: when [c] is wrong, that is the error to report.)
        let e_alone = e.as_ref().filter(|_| !(all_in_one && c.is_none()));
        if let Some(e) = e_alone {
            if e.c_subject_names.is_empty() {
                self.err(
                    "e.c_subject_names",
                    "missing; E checks that C's certificate carries one of these names in its \
                     subject CN or a SAN (the guide's \"TLS verify subject name\"), e.g. \
                     c_subject_names = [\"expc.example.test\"]",
                );
            }
            if e.credentials.is_empty() {
                self.err(
                    "e.credentials",
                    "missing; E needs the traversal account C logs in with, e.g. \
                     [[e.credentials]] username = \"exampleauth\" password_hash = \
                     \"pbkdf2-sha256$…\"",
                );
            }
        }
        self.ports(e.as_ref(), c.as_ref(), &media, &admin);

        let role = role?;
        let tls = tls?;
        let media = media?;
        if !self.errors.is_empty() {
            return None;
        }
        let sections_fit = match role {
            Role::E => e.is_some() && c.is_none(),
            Role::C => e.is_none() && c.is_some(),
            Role::AllInOne => e.is_some() && c.is_some(),
        };
        if !sections_fit {
            // Each way a section goes missing above records an error; this is a backstop.
            self.err(
                "role",
                format!("role = \"{role}\" is missing a section it needs"),
            );
            return None;
        }
        Some(Config {
            role,
            domains,
            chat_node_aliases,
            e,
            c,
            tls,
            media,
            admin,
        })
    }

    fn e(&mut self, raw: RawE) -> Option<EConfig> {
        let unspecified = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        let listen = EListen {
            sip_tls: self.listen("e.sip_tls", raw.sip_tls, unspecified(DEFAULT_SIP_TLS)),
            https: self.listen("e.https", raw.https, unspecified(DEFAULT_HTTPS)),
            xmpp: self.listen("e.xmpp", raw.xmpp, unspecified(DEFAULT_XMPP)),
            traversal_sip: self.listen(
                "e.traversal_sip",
                raw.traversal_sip,
                unspecified(DEFAULT_TRAVERSAL_SIP),
            ),
            traversal_http: self.listen(
                "e.traversal_http",
                raw.traversal_http,
                unspecified(DEFAULT_TRAVERSAL_HTTP),
            ),
            traversal_xmpp: self.listen(
                "e.traversal_xmpp",
                raw.traversal_xmpp,
                unspecified(DEFAULT_TRAVERSAL_XMPP),
            ),
        };
        let fqdn = self
            .required(
                raw.fqdn,
                "e.fqdn",
                "expected E's own name (clients and C dial it, its certificate carries it), \
                 e.g. fqdn = \"expe.example.test\"",
            )
            .and_then(|f| names::fqdn(&f).map_err(|m| self.err("e.fqdn", m)).ok());
        let c_subject_names = self.names("e.c_subject_names", raw.c_subject_names, false);
        let xmpp_federation_domains = self.names(
            "e.xmpp_federation_domains",
            raw.xmpp_federation_domains,
            false,
        );

        let mut credentials: Vec<Credential> = Vec::new();
        for (i, cred) in raw.credentials.unwrap_or_default().into_iter().enumerate() {
            let at = format!("e.credentials[{i}]");
            let username = self.username(&format!("{at}.username"), cred.username);
            let hash = match (cred.password_hash, cred.insecure_plaintext_password) {
                (Some(_), Some(_)) => {
                    self.err(
                        format!("{at}.insecure_plaintext_password"),
                        "give password_hash or (labs only) insecure_plaintext_password, not both",
                    );
                    None
                }
                (None, None) => {
                    self.err(
                        format!("{at}.password_hash"),
                        "missing; expected password_hash = \"pbkdf2-sha256$ITERATIONS$SALT_HEX$\
                         HASH_HEX\" (or, in a lab, insecure_plaintext_password = \"…\", hashed \
                         at load)",
                    );
                    None
                }
                (Some(h), None) => PasswordHash::parse(&h)
                    .map_err(|m| self.err(format!("{at}.password_hash"), m))
                    .ok(),
                (None, Some(p)) if p.is_empty() => {
                    self.err(
                        format!("{at}.insecure_plaintext_password"),
                        "is empty; an account needs a password",
                    );
                    None
                }
                (None, Some(p)) => PasswordHash::new(&p)
                    .map_err(|m| self.err(format!("{at}.insecure_plaintext_password"), m))
                    .ok(),
            };
            if let Some(username) = username {
                if let Some(j) = credentials.iter().position(|c| c.username == username) {
                    self.err(
                        format!("{at}.username"),
                        format!(
                            "{username:?} is listed twice (also e.credentials[{j}]); one entry \
                             per account"
                        ),
                    );
                }
                if let Some(hash) = hash {
                    credentials.push(Credential { username, hash });
                }
            }
        }
        let registration_limit = match raw.registration_limit {
            None => DEFAULT_REGISTRATION_LIMIT,
            Some(n @ 1..=10_000_000) => n,
            Some(n) => {
                self.err(
                    "e.registration_limit",
                    format!(
                        "{n} is out of range; expected 1 to 10000000 (default \
                         {DEFAULT_REGISTRATION_LIMIT})"
                    ),
                );
                DEFAULT_REGISTRATION_LIMIT
            }
        };
        let retry_after = match raw.registration_retry_after_seconds {
            None => 60,
            Some(n @ 1..=3600) => n,
            Some(n) => {
                self.err(
                    "e.registration_retry_after_seconds",
                    format!("{n} is out of range; expected 1 to 3600 seconds (default 60)"),
                );
                60
            }
        };
        Some(EConfig {
            fqdn: fqdn?,
            listen,
            c_subject_names,
            credentials,
            registration_limit,
            registration_retry_after: Duration::from_secs(u64::from(retry_after)),
            xmpp_federation_domains,
        })
    }

    fn c(&mut self, raw: RawC, all_in_one: bool, domains: &[String]) -> Option<CConfig> {
        let fqdn = self
            .required(
                raw.fqdn,
                "c.fqdn",
                "expected C's own name (its certificate carries it), e.g. fqdn = \
                 \"expc.example.test\"",
            )
            .and_then(|f| names::fqdn(&f).map_err(|m| self.err("c.fqdn", m)).ok());

        let mut peers: Vec<Peer> = Vec::new();
        match (raw.peers, all_in_one) {
            (Some(_), true) => self.err(
                "c.peers",
                "all-in-one dials its own E over loopback (E's traversal listeners); remove \
                 c.peers",
            ),
            (None, true) => {}
            (None, false) => self.err(
                "c.peers",
                format!(
                    "missing; C dials E: list 1 to {MAX_PEERS} E addresses in failover order, \
                     e.g. peers = [\"expe.example.test:{DEFAULT_TRAVERSAL_SIP}\"]"
                ),
            ),
            (Some(list), false) => {
                if list.is_empty() || list.len() > MAX_PEERS {
                    self.err(
                        "c.peers",
                        format!(
                            "lists {} peers; expected 1 to {MAX_PEERS} E addresses (the guide's \
                             Peer 1 to Peer 6), in failover order",
                            list.len()
                        ),
                    );
                }
                for (i, p) in list.into_iter().enumerate() {
                    let (field, address, http, xmpp) = match p {
                        RawPeer::Address(a) => (format!("c.peers[{i}]"), Some(a), None, None),
                        RawPeer::Table(t) => (
                            format!("c.peers[{i}].address"),
                            t.address,
                            t.http_port,
                            t.xmpp_port,
                        ),
                    };
                    let Some(address) = self.required(
                        address,
                        &field,
                        "expected E's address, e.g. address = \"expe.example.test:7001\"",
                    ) else {
                        continue;
                    };
                    let mut port = |name: &str, v: Option<u16>, default: u16| match v {
                        Some(0) => {
                            self.err(
                                format!("c.peers[{i}].{name}"),
                                format!(
                                    "port 0 cannot be dialed; expected 1 to 65535 (default \
                                     {default})"
                                ),
                            );
                            default
                        }
                        Some(p) => p,
                        None => default,
                    };
                    let http_port = port("http_port", http, DEFAULT_TRAVERSAL_HTTP);
                    let xmpp_port = port("xmpp_port", xmpp, DEFAULT_TRAVERSAL_XMPP);
                    match names::host_port(&address, Some(DEFAULT_TRAVERSAL_SIP)) {
                        Ok((host, sip_port)) => {
                            let peer = Peer {
                                host,
                                sip_port,
                                http_port,
                                xmpp_port,
                            };
                            if let Some(j) = peers.iter().position(|q| *q == peer) {
                                self.err(
                                    field,
                                    format!(
                                        "{address:?} is listed twice (also c.peers[{j}]); list \
                                         each E once"
                                    ),
                                );
                            } else {
                                peers.push(peer);
                            }
                        }
                        Err(m) => self.err(field, m),
                    }
                }
            }
        }

        let username = self.username("c.username", raw.username);
        let password = match (raw.password, raw.password_file) {
            (Some(_), Some(_)) => {
                self.err(
                    "c.password_file",
                    "give password or password_file, not both",
                );
                None
            }
            (None, None) => {
                self.err(
                    "c.password",
                    "missing; C logs in to E with username and password (or password_file = \
                     \"PATH\", a file holding only the password)",
                );
                None
            }
            (Some(p), None) if p.is_empty() => {
                self.err(
                    "c.password",
                    "is empty; give the traversal account's password",
                );
                None
            }
            (Some(p), None) => Some(Secret::new(p)),
            (None, Some(f)) => {
                let path = self.path(&f);
                match std::fs::read_to_string(&path) {
                    Ok(s) => {
                        let p = s.strip_suffix('\n').unwrap_or(&s);
                        let p = p.strip_suffix('\r').unwrap_or(p);
                        if p.is_empty() {
                            self.err(
                                "c.password_file",
                                format!(
                                    "{} is empty; it must hold the traversal password",
                                    path.display()
                                ),
                            );
                            None
                        } else {
                            Some(Secret::new(p.to_string()))
                        }
                    }
                    Err(e) => {
                        self.err(
                            "c.password_file",
                            format!(
                                "cannot read {}: {e}; expected a file holding only the \
                                 traversal password",
                                path.display()
                            ),
                        );
                        None
                    }
                }
            }
        };

        let expected_e_subject = match (raw.expected_e_subject, all_in_one) {
            (Some(_), true) => {
                self.err(
                    "c.expected_e_subject",
                    "all-in-one checks its own E's certificate for e.fqdn; remove this key",
                );
                None
            }
            (None, _) => None,
            (Some(s), false) => match s.parse::<IpAddr>() {
                Ok(ip) => Some(Host::Ip(ip)),
                Err(_) => names::dns_name(&s)
                    .map(Host::Name)
                    .map_err(|m| self.err("c.expected_e_subject", m))
                    .ok(),
            },
        };

        let keepalive = match raw.keepalive_seconds {
            None => 30,
            Some(n @ 1..=600) => n,
            Some(n) => {
                self.err(
                    "c.keepalive_seconds",
                    format!("{n} is out of range; expected 1 to 600 seconds (default 30)"),
                );
                30
            }
        };
        let seconds =
            |v: &mut Validator, field: &str, s: Option<f64>, default: f64, max: f64| match s {
                None => default,
                Some(s) if s.is_finite() && (0.1..=max).contains(&s) => s,
                Some(s) => {
                    v.err(
                        field,
                        format!(
                            "{s} is out of range; expected 0.1 to {max} seconds (default \
                             {default})"
                        ),
                    );
                    default
                }
            };
        let min = seconds(
            self,
            "c.reconnect_min_seconds",
            raw.reconnect_min_seconds,
            1.0,
            60.0,
        );
        let max = seconds(
            self,
            "c.reconnect_max_seconds",
            raw.reconnect_max_seconds,
            60.0_f64.max(min),
            3600.0,
        );
        if max < min {
            self.err(
                "c.reconnect_max_seconds",
                format!(
                    "{max} is below c.reconnect_min_seconds ({min}); the backoff grows from the \
                     minimum to the maximum"
                ),
            );
        }

        let mut call_control = Vec::new();
        match raw.call_control {
            None => self.err(
                "c.call_control",
                "missing; C sends registrations and calls to call control, e.g. call_control = \
                 [{ address = \"198.18.2.10:5060\", transport = \"tcp\" }]",
            ),
            Some(list) if list.is_empty() => self.err(
                "c.call_control",
                "is empty; list at least one call control server",
            ),
            Some(list) => {
                for (i, cc) in list.into_iter().enumerate() {
                    let at = format!("c.call_control[{i}]");
                    let transport = match cc.transport.as_deref() {
                        None | Some("tcp") => Some(Transport::Tcp),
                        Some("udp") => Some(Transport::Udp),
                        Some("tls") => Some(Transport::Tls),
                        Some(t) => {
                            self.err(
                                format!("{at}.transport"),
                                format!(
                                    "{t:?} is not a transport; expected \"udp\", \"tcp\" or \
                                     \"tls\" (default tcp)"
                                ),
                            );
                            None
                        }
                    };
                    let default_port = if transport == Some(Transport::Tls) {
                        5061
                    } else {
                        5060
                    };
                    let Some(address) = self.required(
                        cc.address,
                        &format!("{at}.address"),
                        "expected the server's address, e.g. address = \"198.18.2.10:5060\"",
                    ) else {
                        continue;
                    };
                    match names::host_port(&address, Some(default_port)) {
                        Ok((host, port)) => {
                            if let Some(transport) = transport {
                                call_control.push(CallControl {
                                    host,
                                    port,
                                    transport,
                                });
                            }
                        }
                        Err(m) => self.err(format!("{at}.address"), m),
                    }
                }
            }
        }

        let registration = match raw.registration.as_deref() {
            None | Some("contact-rewrite") => RegistrationMode::ContactRewrite,
            Some("path") => RegistrationMode::Path,
            Some(other) => {
                self.err(
                    "c.registration",
                    format!(
                        "{other:?} is not a registration mode; expected \"contact-rewrite\" \
                         (the default: C rewrites the Contact) or \"path\" (C adds a Path header, \
                         RFC 3327)"
                    ),
                );
                RegistrationMode::ContactRewrite
            }
        };

        let phone_security_profiles = self.names(
            "c.phone_security_profiles",
            raw.phone_security_profiles,
            true,
        );
        for (i, p) in phone_security_profiles.iter().enumerate() {
            let under = |d: &String| p.ends_with(&format!(".{d}"));
            if !domains.is_empty() && !domains.iter().any(under) {
                self.err(
                    format!("c.phone_security_profiles[{i}]"),
                    format!(
                        "{p:?} does not include one of the domains ({}); the guide wants the \
                         profile name \"in the form of an FQDN that includes the enterprise \
                         domain\", e.g. jabber.secure.{}",
                        domains.join(", "),
                        domains[0]
                    ),
                );
            }
        }

        let max_calls = match raw.max_calls {
            None => DEFAULT_MAX_CALLS,
            Some(n @ 1..=1_000_000) => n,
            Some(n) => {
                self.err(
                    "c.max_calls",
                    format!("{n} is out of range; expected 1 to 1000000 concurrent calls"),
                );
                DEFAULT_MAX_CALLS
            }
        };
        let best_effort = match raw.outside_media.as_deref() {
            None | Some("srtp") => false,
            Some("best-effort") => true,
            Some(other) => {
                self.err(
                    "c.outside_media",
                    format!(
                        "{other:?} is not a media policy; expected \"srtp\" (the default: a \
                         plain RTP offer from outside is refused with 488) or \"best-effort\" \
                         (carried unencrypted outside when the client offers no SRTP)"
                    ),
                );
                false
            }
        };

        let any = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        let sip_listen = self.listen("c.sip_listen", raw.sip_listen, any(5060));
        let sip_tls_listen = raw
            .sip_tls_listen
            .map(|s| self.listen("c.sip_tls_listen", Some(s), any(5061)));

        Some(CConfig {
            fqdn: fqdn?,
            peers,
            username: username?,
            password: password?,
            expected_e_subject,
            keepalive: Duration::from_secs(u64::from(keepalive)),
            reconnect_min: Duration::from_secs_f64(min),
            reconnect_max: Duration::from_secs_f64(max),
            call_control,
            registration,
            phone_security_profiles,
            sip_listen,
            sip_tls_listen,
            max_calls,
            best_effort,
        })
    }

    /// All-in-one: C dials its own E over loopback, checks E's certificate for `e.fqdn`, and
    /// logs in with an account E holds (added if E lists none by that name).
    fn join_all_in_one(&mut self, e: &mut EConfig, c: &mut CConfig) {
        let dial = |a: SocketAddr| match a.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        c.peers = vec![Peer {
            host: Host::Ip(dial(e.listen.traversal_sip)),
            sip_port: e.listen.traversal_sip.port(),
            http_port: e.listen.traversal_http.port(),
            xmpp_port: e.listen.traversal_xmpp.port(),
        }];
        c.expected_e_subject = Some(Host::Name(e.fqdn.clone()));
        if e.c_subject_names.is_empty() {
            e.c_subject_names = vec![c.fqdn.clone()];
        }
        match e.credentials.iter().position(|k| k.username == c.username) {
            Some(i) => {
                if !e.credentials[i].hash.verify(c.password.expose()) {
                    self.err(
                        format!("e.credentials[{i}]"),
                        format!(
                            "the password of {:?} is not c.password; all-in-one's C logs in to \
                             its own E with it (or leave the account out of e.credentials: it \
                             is then added from [c])",
                            c.username
                        ),
                    );
                }
            }
            None => match PasswordHash::new(c.password.expose()) {
                Ok(hash) => e.credentials.push(Credential {
                    username: c.username.clone(),
                    hash,
                }),
                Err(m) => self.err("c.password", m),
            },
        }
    }

    fn tls(&mut self, raw: Option<RawTls>, role: Option<Role>) -> Option<TlsConfig> {
        let Some(raw) = raw else {
            self.err(
                "tls",
                "missing; give [tls] ca, certificate and key (PEM files), or, in a lab, \
                 generate = true with directory = \"…\"",
            );
            return None;
        };
        let sides: &[Side] = match role {
            Some(Role::E) => &[Side::E],
            Some(Role::C) => &[Side::C],
            Some(Role::AllInOne) => &[Side::E, Side::C],
            None => &[],
        };
        if raw.generate == Some(true) {
            for (key, given) in [
                ("ca", raw.ca.is_some()),
                ("certificate", raw.certificate.is_some()),
                ("key", raw.key.is_some()),
                ("c_certificate", raw.c_certificate.is_some()),
                ("c_key", raw.c_key.is_some()),
            ] {
                if given {
                    self.err(
                        format!("tls.{key}"),
                        "is not used with generate = true (the lab files live in \
                         tls.directory); remove it, or set generate = false",
                    );
                }
            }
            let dir = self.required(
                raw.directory,
                "tls.directory",
                "generate = true needs the directory to keep the lab CA and certificates in, \
                 e.g. directory = \"tls\"",
            )?;
            let dir = self.path(&dir);
            let identities = sides
                .iter()
                .map(|&side| {
                    let (certificate, key) = certs::lab_identity_paths(&dir, side);
                    TlsIdentity {
                        side,
                        certificate,
                        key,
                    }
                })
                .collect();
            return Some(TlsConfig {
                ca: certs::lab_ca_path(&dir),
                generate: Some(dir),
                identities,
            });
        }
        if raw.directory.is_some() {
            self.err(
                "tls.directory",
                "is used only with generate = true (labs); remove it, or set generate = true",
            );
        }
        let ca = self.required(
            raw.ca,
            "tls.ca",
            "expected the PEM file of the CA certificates both E and C trust, e.g. ca = \"ca.pem\" \
             (or, in a lab, generate = true)",
        );
        let certificate = self.required(
            raw.certificate,
            "tls.certificate",
            "expected the PEM file of this node's certificate chain, e.g. certificate = \"e.pem\"",
        );
        let key = self.required(
            raw.key,
            "tls.key",
            "expected the PEM file of this node's private key, e.g. key = \"e.key\"",
        );
        let c_pair = match (raw.c_certificate, raw.c_key) {
            (Some(_), _) | (_, Some(_)) if role.is_some() && role != Some(Role::AllInOne) => {
                self.err(
                    "tls.c_certificate",
                    "c_certificate and c_key are for all-in-one (C's own certificate); with one \
                     role, certificate and key are that role's",
                );
                None
            }
            (Some(c), Some(k)) => Some((self.path(&c), self.path(&k))),
            (Some(_), None) => {
                self.err("tls.c_key", "missing; c_certificate needs its key");
                None
            }
            (None, Some(_)) => {
                self.err("tls.c_certificate", "missing; c_key needs its certificate");
                None
            }
            (None, None) => None,
        };
        let (ca, certificate, key) = (self.path(&ca?), self.path(&certificate?), self.path(&key?));
        let identities = sides
            .iter()
            .map(|&side| {
                let (certificate, key) = match (side, &c_pair) {
                    (Side::C, Some((c, k))) if role == Some(Role::AllInOne) => {
                        (c.clone(), k.clone())
                    }
                    _ => (certificate.clone(), key.clone()),
                };
                TlsIdentity {
                    side,
                    certificate,
                    key,
                }
            })
            .collect();
        Some(TlsConfig {
            generate: None,
            ca,
            identities,
        })
    }

    fn media(&mut self, raw: RawMedia, role: Option<Role>) -> Option<MediaConfig> {
        let defaults = PlaneConfig::default();
        let bind = match raw.bind {
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Some(s) => s.parse().unwrap_or_else(|_| {
                self.err(
                    "media.bind",
                    format!(
                        "{s:?} is not an IP address; expected e.g. \"0.0.0.0\" or \"198.18.1.10\""
                    ),
                );
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }),
        };
        let large = raw.large.unwrap_or(false);
        let default_range = if large {
            LARGE_MEDIA_RANGE
        } else {
            DEFAULT_MEDIA_RANGE
        };
        let range = match raw.range {
            None => Some(default_range),
            Some(s) => {
                let parsed = s.split_once('-').and_then(|(a, b)| {
                    let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
                    PortRange::new(a, b).ok()
                });
                match parsed {
                    Some(r) if r.first < 1024 => {
                        self.err(
                            "media.range",
                            format!(
                                "{s:?} starts below 1024 (privileged ports); expected e.g. \
                                 \"{default_range}\""
                            ),
                        );
                        None
                    }
                    Some(r) => Some(r),
                    None => {
                        self.err(
                            "media.range",
                            format!(
                                "{s:?} is not a port range; expected \"FIRST-LAST\" with FIRST <= \
                                 LAST, e.g. \"{default_range}\""
                            ),
                        );
                        None
                    }
                }
            }
        };
        let traversal_pairs = match (raw.traversal_pairs, large) {
            (Some(_), true) => {
                self.err(
                    "media.traversal_pairs",
                    "a Large system always uses the six pairs 36000-36011 (the guide: \"You \
                     cannot configure a distinct range of demultiplex listening ports on Large \
                     systems\"); remove traversal_pairs, or set large = false",
                );
                LARGE_TRAVERSAL_PAIRS.to_vec()
            }
            (None, true) => LARGE_TRAVERSAL_PAIRS.to_vec(),
            (None, false) => vec![DEFAULT_TRAVERSAL_PAIR],
            (Some(list), false) => {
                let mut out: Vec<u16> = Vec::new();
                for (i, &p) in list.iter().enumerate() {
                    let at = format!("media.traversal_pairs[{i}]");
                    if p % 2 != 0 || p < 1024 || p == u16::MAX - 1 {
                        self.err(
                            at,
                            format!(
                                "{p} cannot be a pair's RTP port; expected an even port from 1024 \
                                 to 65532 (RTCP takes the next one), e.g. {DEFAULT_TRAVERSAL_PAIR}"
                            ),
                        );
                    } else if out.contains(&p) {
                        self.err(at, format!("{p} is listed twice; list each pair once"));
                    } else {
                        out.push(p);
                    }
                }
                if list.is_empty() && matches!(role, Some(Role::E | Role::AllInOne)) {
                    self.err(
                        "media.traversal_pairs",
                        format!(
                            "is empty; E receives C's media on at least one multiplexed pair, \
                             e.g. [{DEFAULT_TRAVERSAL_PAIR}]"
                        ),
                    );
                }
                out
            }
        };
        if let Some(r) = range {
            // The plane keeps the pairs out of the range; at least one pair must be left.
            let free = (u32::from(r.first)..u32::from(r.last))
                .filter(|p| p % 2 == 0)
                .filter(|&p| {
                    !traversal_pairs.iter().any(|&t| {
                        (u32::from(t)..=u32::from(t) + 1).contains(&p)
                            || (u32::from(t)..=u32::from(t) + 1).contains(&(p + 1))
                    })
                })
                .count();
            if free == 0 {
                self.err(
                    "media.range",
                    format!(
                        "{r} leaves no RTP/RTCP pair once the traversal pairs {traversal_pairs:?} \
                         are kept out; widen it, e.g. \"{default_range}\""
                    ),
                );
            }
        }
        let cores: Vec<Option<usize>> = match raw.cores {
            None => defaults.cores.clone(),
            Some(list) if list.is_empty() => {
                self.err(
                    "media.cores",
                    "is empty; list the CPUs to pin one media worker each to, e.g. cores = [2, 3], \
                     or remove the key for one unpinned worker",
                );
                defaults.cores.clone()
            }
            Some(list) => {
                let mut out: Vec<Option<usize>> = Vec::new();
                for (i, &c) in list.iter().enumerate() {
                    if c >= 4096 {
                        self.err(
                            format!("media.cores[{i}]"),
                            format!("{c} is not a CPU number; expected 0 to 4095"),
                        );
                    } else if out.contains(&Some(c)) {
                        self.err(
                            format!("media.cores[{i}]"),
                            format!("CPU {c} is listed twice; one worker per CPU"),
                        );
                    } else {
                        out.push(Some(c));
                    }
                }
                out
            }
        };
        let pinned = cores.iter().all(Option::is_some);
        let backend = match raw.backend.as_deref() {
            None | Some("auto") => BackendChoice::Auto,
            Some("uring") => BackendChoice::Uring,
            Some("sockets") => BackendChoice::Sockets,
            Some(b) => {
                self.err(
                    "media.backend",
                    format!(
                        "{b:?} is not a backend; expected \"auto\" (io_uring where the kernel \
                         allows, else sockets), \"uring\" or \"sockets\""
                    ),
                );
                BackendChoice::Auto
            }
        };
        let quarantine = match raw.quarantine_seconds {
            None => defaults.ports.quarantine,
            Some(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => Duration::from_secs_f64(s),
            Some(s) => {
                self.err(
                    "media.quarantine_seconds",
                    format!("{s} is out of range; expected 0 to 3600 seconds (default 2)"),
                );
                defaults.ports.quarantine
            }
        };
        let inactivity = match raw.inactivity_seconds {
            None => defaults.inactivity_timeout,
            Some(s @ 1..=86_400) => Duration::from_secs(s),
            Some(s) => {
                self.err(
                    "media.inactivity_seconds",
                    format!(
                        "{s} is out of range; expected 1 to 86400 seconds (default {})",
                        defaults.inactivity_timeout.as_secs()
                    ),
                );
                defaults.inactivity_timeout
            }
        };
        let mut xdp = XdpOptions::default();
        if let Some(x) = raw.xdp {
            match x.interfaces {
                None => self.err(
                    "media.xdp.interfaces",
                    "missing; name the interfaces to attach to, e.g. interfaces = [\"eth1\"], or \
                     remove media.xdp",
                ),
                Some(list) if list.is_empty() => self.err(
                    "media.xdp.interfaces",
                    "is empty; name the interfaces to attach to, or remove media.xdp",
                ),
                Some(list) => {
                    for (i, name) in list.into_iter().enumerate() {
                        if name.is_empty()
                            || name.len() > 15
                            || name
                                .chars()
                                .any(|c| c == '/' || c.is_whitespace() || c.is_control())
                        {
                            self.err(
                                format!("media.xdp.interfaces[{i}]"),
                                format!(
                                    "{name:?} is not an interface name; expected 1 to 15 \
                                     characters without '/' or spaces, e.g. \"eth1\""
                                ),
                            );
                        } else if xdp.interfaces.contains(&name) {
                            self.err(
                                format!("media.xdp.interfaces[{i}]"),
                                format!("{name:?} is listed twice"),
                            );
                        } else {
                            xdp.interfaces.push(name);
                        }
                    }
                }
            }
            xdp.mode = match x.mode.as_deref() {
                None | Some("auto") => AttachMode::Auto,
                Some("native") => AttachMode::Native,
                Some("generic") => AttachMode::Generic,
                Some(m) => {
                    self.err(
                        "media.xdp.mode",
                        format!(
                            "{m:?} is not an attach mode; expected \"auto\" (native, else \
                             generic), \"native\" or \"generic\""
                        ),
                    );
                    AttachMode::Auto
                }
            };
            xdp.rate = match (x.rate, x.burst) {
                (None, None) => (0, 0),
                (Some(r), None) => (r, r),
                (Some(r), Some(b)) => {
                    if r > 0 && b == 0 {
                        self.err(
                            "media.xdp.burst",
                            "0 would drop every packet; expected at least 1 (default: the rate)",
                        );
                    }
                    (r, b)
                }
                (None, Some(_)) => {
                    self.err(
                        "media.xdp.burst",
                        "a burst needs a rate: set media.xdp.rate (packets per second per \
                         source; 0: no limit)",
                    );
                    (0, 0)
                }
            };
            xdp.steering = match x.steering {
                Some(true) if !pinned => {
                    self.err(
                        "media.xdp.steering",
                        "steering sends each flow to its worker's CPU and needs every worker \
                         pinned: list media.cores, or set steering = false",
                    );
                    false
                }
                Some(s) => s,
                None => pinned,
            };
        }
        Some(MediaConfig {
            bind,
            range: range?,
            traversal_pairs,
            large,
            cores,
            backend,
            quarantine,
            inactivity,
            xdp,
        })
    }

    /// Listeners must not share ports: the TCP listeners of E, C and the admin interface, and
    /// C's UDP SIP port against the media ports.
    fn ports(
        &mut self,
        e: Option<&EConfig>,
        c: Option<&CConfig>,
        media: &Option<MediaConfig>,
        admin: &AdminConfig,
    ) {
        let mut tcp: Vec<(&str, SocketAddr)> = Vec::new();
        if let Some(e) = e {
            let l = &e.listen;
            tcp.extend([
                ("e.sip_tls", l.sip_tls),
                ("e.https", l.https),
                ("e.xmpp", l.xmpp),
                ("e.traversal_sip", l.traversal_sip),
                ("e.traversal_http", l.traversal_http),
                ("e.traversal_xmpp", l.traversal_xmpp),
            ]);
        }
        if let Some(c) = c {
            tcp.push(("c.sip_listen", c.sip_listen));
            if let Some(a) = c.sip_tls_listen {
                tcp.push(("c.sip_tls_listen", a));
            }
        }
        tcp.push(("admin.address", admin.address));
        for (i, &(field, addr)) in tcp.iter().enumerate() {
            if let Some(&(other, at)) = tcp[..i]
                .iter()
                .find(|&&(_, a)| names::listeners_clash(a, addr))
            {
                self.err(
                    field,
                    format!(
                        "{addr} takes port {} that {other} ({at}) already listens on; give each \
                         listener its own port",
                        addr.port()
                    ),
                );
            }
        }
        if let (Some(c), Some(m)) = (c, media) {
            let p = c.sip_listen.port();
            let in_pair = m.traversal_pairs.iter().any(|&t| p == t || p == t + 1);
            if m.range.contains(p) || in_pair {
                self.err(
                    "c.sip_listen",
                    format!(
                        "UDP port {p} lies among the media ports (media.range {}, traversal pairs \
                         {:?}); choose a port outside them, e.g. 5060",
                        m.range, m.traversal_pairs
                    ),
                );
            }
        }
    }
}
