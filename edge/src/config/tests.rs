use std::path::{Path, PathBuf};

use ebpf::AttachMode;
use media::relay::port_alloc::{DEFAULT_MEDIA_RANGE, LARGE_MEDIA_RANGE};

use super::*;

/// "ex4mpl3.c0m" (the guide's example password), salt 07×16, 100,000 iterations (the fewest
/// accepted: cheap to verify in tests).
const HASH: &str = "pbkdf2-sha256$100000$07070707070707070707070707070707$\
                    98aba250742ded121f217a2eafcf6b875c3d0b2fe5457c7b6e0fd379a1241f77";

fn e_base() -> String {
    format!(
        r#"role = "e"
domains = ["example.test"]

[e]
fqdn = "expe.example.test"
c_subject_names = ["expc.example.test"]

[[e.credentials]]
username = "exampleauth"
password_hash = "{HASH}"

[tls]
generate = true
directory = "tls"
"#
    )
}

fn c_base() -> String {
    r#"role = "c"
domains = ["example.test"]

[c]
fqdn = "expc.example.test"
peers = ["expe.example.test:7001"]
username = "exampleauth"
password = "ex4mpl3.c0m"
call_control = [{ address = "198.18.2.10:5060", transport = "tcp" }]

[tls]
generate = true
directory = "tls"
"#
    .to_string()
}

fn aio_base() -> String {
    format!(
        r#"role = "all-in-one"
domains = ["example.test"]

[e]
fqdn = "expe.example.test"

[[e.credentials]]
username = "exampleauth"
password_hash = "{HASH}"

[c]
fqdn = "expc.example.test"
username = "exampleauth"
password = "ex4mpl3.c0m"
call_control = [{{ address = "127.0.0.1:15060", transport = "udp" }}]

[tls]
generate = true
directory = "tls"
"#
    )
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/portico"))
}

/// `base` with `line` added after the line `after` (which must be there).
fn add(base: &str, after: &str, line: &str) -> String {
    assert!(base.contains(after), "{after:?} not in the base");
    base.replacen(after, &format!("{after}\n{line}"), 1)
}

/// `base` with `from` replaced by `to` (which must be there).
fn swap(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "{from:?} not in the base");
    base.replacen(from, to, 1)
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

#[test]
fn examples_parse_and_validate() {
    let e = Config::load(&example("e.toml")).unwrap_or_else(|err| panic!("e.toml: {err}"));
    assert_eq!(e.role(), Role::E);
    let ec = e.e().unwrap();
    assert_eq!(ec.fqdn, "expe.example.test");
    assert_eq!(ec.listen.https.port(), 8443);
    assert!(e.c().is_none());
    let c = Config::load(&example("c.toml")).unwrap_or_else(|err| panic!("c.toml: {err}"));
    assert_eq!(c.role(), Role::C);
    let cc = c.c().unwrap();
    assert_eq!(cc.peers.len(), 2);
    assert_eq!(cc.call_control[1].port, 5061);
    // The example pair works together: E's hash is of C's password.
    assert!(ec.check_login(&cc.username, cc.password.expose()));
    let a = Config::load(&example("all-in-one.toml"))
        .unwrap_or_else(|err| panic!("all-in-one.toml: {err}"));
    assert_eq!(a.role(), Role::AllInOne);
    let dir = example("tls");
    assert_eq!(a.tls().generate.as_deref(), Some(dir.as_path()));
    assert_eq!(a.tls().ca, dir.join("ca.pem"));
    assert_eq!(a.tls().identity(Side::C).unwrap().key, dir.join("c.key"));
    let (ae, ac) = (a.e().unwrap(), a.c().unwrap());
    assert!(ae.check_login("lab", "lab-only-password"));
    assert_eq!(ac.peers[0].host, Host::Ip("127.0.0.1".parse().unwrap()));
    assert_eq!(
        a.plane_config().ports.range,
        PortRange::new(40000, 47999).unwrap()
    );
}

#[test]
fn e_defaults() {
    let cfg = parse(&e_base()).unwrap();
    let e = cfg.e().unwrap();
    let any = |p: u16| SocketAddr::from(([0, 0, 0, 0], p));
    assert_eq!(
        e.listen,
        EListen {
            sip_tls: any(5061),
            https: any(8443),
            xmpp: any(5222),
            traversal_sip: any(7001),
            traversal_http: any(2222),
            traversal_xmpp: any(7400),
        }
    );
    assert_eq!(e.registration_limit, 100_000);
    assert_eq!(e.registration_retry_after, Duration::from_secs(60));
    assert!(e.check_login("exampleauth", "ex4mpl3.c0m"));
    assert!(!e.check_login("exampleauth", "wrong"));
    assert!(!e.check_login("nobody", "ex4mpl3.c0m"));
    assert_eq!(cfg.admin().address, DEFAULT_ADMIN);
    assert_eq!(cfg.domains(), ["example.test"]);
    assert!(cfg.chat_node_aliases().is_empty());
    assert!(!cfg.media().large);
    let tls = cfg.tls();
    assert_eq!(tls.ca, Path::new("/etc/portico/tls/ca.pem"));
    assert_eq!(
        tls.identities,
        [TlsIdentity {
            side: Side::E,
            certificate: "/etc/portico/tls/e.pem".into(),
            key: "/etc/portico/tls/e.key".into(),
        }]
    );
    // The media plane: defaults of an E.
    let plane = cfg.plane_config();
    assert_eq!(plane.ports.range, DEFAULT_MEDIA_RANGE);
    assert_eq!(plane.mux_pairs, [36000]);
    assert_eq!(plane.cores, [None]);
    assert_eq!(plane.bind_ip, IpAddr::from([0, 0, 0, 0]));
    assert_eq!(plane.ports.quarantine, Duration::from_secs(2));
    assert!(cfg.media().xdp_options().interfaces.is_empty());
    // The certificate E needs.
    let reqs = cfg.cert_requirements();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].san_list(),
        ["expe.example.test", "collab-edge.example.test"]
    );
}

#[test]
fn plaintext_password_is_hashed_at_load() {
    let text = swap(
        &e_base(),
        &format!("password_hash = \"{HASH}\""),
        "insecure_plaintext_password = \"lab-pass\"",
    );
    let cfg = parse(&text).unwrap();
    let e = cfg.e().unwrap();
    assert!(e.check_login("exampleauth", "lab-pass"));
    let stored = e.credentials[0].hash.to_string();
    assert!(stored.starts_with("pbkdf2-sha256$600000$"), "{stored}");
    assert!(!format!("{cfg:?}").contains("lab-pass"));
}

#[test]
fn media_and_xdp() {
    let text = format!(
        "{}\n[media]\nbind = \"198.18.1.10\"\nlarge = true\ncores = [2, 3]\nbackend = \"sockets\"\n\
         quarantine_seconds = 0.5\ninactivity_seconds = 30\n\
         xdp = {{ interfaces = [\"eth1\", \"eth2\"], mode = \"native\", rate = 5000 }}\n",
        e_base()
    );
    let cfg = parse(&text).unwrap();
    assert!(cfg.media().large);
    let plane = cfg.plane_config();
    assert_eq!(plane.mux_pairs, [36000, 36002, 36004, 36006, 36008, 36010]);
    assert_eq!(plane.ports.range, LARGE_MEDIA_RANGE);
    assert_eq!(plane.cores, [Some(2), Some(3)]);
    assert_eq!(plane.backend, BackendChoice::Sockets);
    assert_eq!(plane.ports.quarantine, Duration::from_millis(500));
    assert_eq!(plane.inactivity_timeout, Duration::from_secs(30));
    assert_eq!(plane.bind_ip, IpAddr::from([198, 18, 1, 10]));
    let xdp = cfg.media().xdp_options();
    assert_eq!(xdp.interfaces, ["eth1", "eth2"]);
    assert!(matches!(xdp.mode, AttachMode::Native));
    assert_eq!(xdp.rate, (5000, 5000));
    assert!(xdp.steering, "steering defaults on with pinned workers");
}

#[test]
fn c_defaults_and_peers() {
    let text = swap(
        &c_base(),
        "peers = [\"expe.example.test:7001\"]",
        "peers = [\"expe1.example.test\", { address = \"[2001:db8::7]:7101\", http_port = 2223 }]",
    );
    let cfg = parse(&text).unwrap();
    let c = cfg.c().unwrap();
    assert_eq!(
        c.peers,
        [
            Peer {
                host: Host::Name("expe1.example.test".into()),
                sip_port: 7001,
                http_port: 2222,
                xmpp_port: 7400,
            },
            Peer {
                host: Host::Ip("2001:db8::7".parse().unwrap()),
                sip_port: 7101,
                http_port: 2223,
                xmpp_port: 7400,
            }
        ]
    );
    assert_eq!(c.keepalive, Duration::from_secs(30));
    assert_eq!(c.reconnect_min, Duration::from_secs(1));
    assert_eq!(c.reconnect_max, Duration::from_secs(60));
    assert_eq!(c.registration, RegistrationMode::ContactRewrite);
    assert_eq!(c.max_calls, super::DEFAULT_MAX_CALLS);
    assert!(!c.best_effort, "SRTP outside unless configured");
    assert_eq!(c.sip_listen, SocketAddr::from(([0, 0, 0, 0], 5060)));
    assert_eq!(c.e_server_name(&c.peers[1]), c.peers[1].host);
    assert_eq!(
        c.call_control,
        [CallControl {
            host: Host::Ip("198.18.2.10".parse().unwrap()),
            port: 5060,
            transport: Transport::Tcp,
        }]
    );
    assert!(
        !format!("{cfg:?}").contains("ex4mpl3"),
        "the password is not in Debug"
    );
    let text = add(
        &c_base(),
        "[c]",
        "expected_e_subject = \"expe.example.test\"",
    );
    let c = parse(&text).unwrap();
    let c = c.c().unwrap();
    assert_eq!(
        c.e_server_name(&c.peers[0]),
        Host::Name("expe.example.test".into())
    );
    let reqs = parse(&c_base()).unwrap().cert_requirements();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].side, Side::C);
    assert!(reqs[0].subject_names.is_empty());
}

#[test]
fn c_password_file() {
    let dir = std::env::temp_dir().join(format!("portico-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), "s3cret\n").unwrap();
    let text = swap(
        &c_base(),
        "password = \"ex4mpl3.c0m\"",
        "password_file = \"secret\"",
    );
    let cfg = Config::parse(&text, &dir).unwrap();
    assert_eq!(cfg.c().unwrap().password.expose(), "s3cret");
    std::fs::write(dir.join("secret"), "").unwrap();
    let err = Config::parse(&text, &dir).unwrap_err();
    assert_eq!(err.fields(), ["c.password_file"]);
    assert!(err.to_string().contains("is empty"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let err = Config::parse(&text, &dir).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn all_in_one_joins_the_roles() {
    let cfg = parse(&aio_base()).unwrap();
    let (e, c) = (cfg.e().unwrap(), cfg.c().unwrap());
    assert_eq!(
        c.peers,
        [Peer {
            host: Host::Ip("127.0.0.1".parse().unwrap()),
            sip_port: 7001,
            http_port: 2222,
            xmpp_port: 7400,
        }]
    );
    assert_eq!(
        c.e_server_name(&c.peers[0]),
        Host::Name("expe.example.test".into())
    );
    assert_eq!(e.c_subject_names, ["expc.example.test"]);
    assert!(e.check_login(&c.username, c.password.expose()));
    let sides: Vec<Side> = cfg.tls().identities.iter().map(|i| i.side).collect();
    assert_eq!(sides, [Side::E, Side::C]);
    let reqs = cfg.cert_requirements();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].subject_names, ["expc.example.test"]);

    // Without an E account for C: added from [c], hashed.
    let text = aio_base().replace(
        &format!("[[e.credentials]]\nusername = \"exampleauth\"\npassword_hash = \"{HASH}\"\n"),
        "",
    );
    let cfg = parse(&text).unwrap();
    let e = cfg.e().unwrap();
    assert_eq!(e.credentials.len(), 1);
    assert!(e.check_login("exampleauth", "ex4mpl3.c0m"));

    // E listening on [::]: C dials ::1.
    let text = add(&aio_base(), "[e]", "traversal_sip = \"[::]:7101\"");
    let cfg = parse(&text).unwrap();
    let p = &cfg.c().unwrap().peers[0];
    assert_eq!(
        (p.host.clone(), p.sip_port),
        (Host::Ip("::1".parse().unwrap()), 7101)
    );

    // Files: C's own certificate, or E's for both.
    let files = "[tls]\nca = \"ca.pem\"\ncertificate = \"e.pem\"\nkey = \"e.key\"\n";
    let text = swap(
        &aio_base(),
        "[tls]\ngenerate = true\ndirectory = \"tls\"\n",
        files,
    );
    let cfg = parse(&text).unwrap();
    assert_eq!(
        cfg.tls().identity(Side::C).unwrap().certificate,
        Path::new("/etc/portico/e.pem")
    );
    let text = swap(
        &aio_base(),
        "[tls]\ngenerate = true\ndirectory = \"tls\"\n",
        &format!("{files}c_certificate = \"/x/c.pem\"\nc_key = \"/x/c.key\"\n"),
    );
    let cfg = parse(&text).unwrap();
    assert_eq!(
        cfg.tls().identity(Side::C).unwrap().key,
        Path::new("/x/c.key")
    );
}

/// Each bad input is refused, and the message names the field and says what is wrong.
#[test]
fn errors_name_the_field() {
    let e = e_base();
    let c = c_base();
    let aio = aio_base();
    let no_tls = |s: &str| swap(s, "[tls]\ngenerate = true\ndirectory = \"tls\"\n", "");
    let media = |s: &str, m: &str| format!("{s}\n[media]\n{m}\n");
    let seven_peers = (1..=7)
        .map(|i| format!("\"e{i}.example.test\""))
        .collect::<Vec<_>>()
        .join(", ");
    let cases: Vec<(String, &str, &str)> = vec![
        // The role and domains.
        (swap(&e, "role = \"e\"\n", ""), "role", "missing"),
        (swap(&e, "role = \"e\"", "role = \"expressway\""), "role", "\"all-in-one\""),
        (swap(&e, "domains = [\"example.test\"]\n", ""), "domains", "missing"),
        (swap(&e, "[\"example.test\"]", "[]"), "domains", "at least one"),
        (swap(&e, "[\"example.test\"]", "[\"my_domain.test\"]"), "domains[0]", "underscore"),
        (
            swap(&e, "[\"example.test\"]", "[\"example.test\", \"Example.test\"]"),
            "domains[1]",
            "listed twice",
        ),
        (add(&e, "domains = [\"example.test\"]", "chat_node_aliases = [\"chat\"]"), "chat_node_aliases[0]", "fully qualified"),
        // Sections that do not fit the role.
        (format!("{e}\n[c]\nfqdn = \"expc.example.test\"\n"), "c", "remove [c]"),
        (format!("{c}\n[e]\nfqdn = \"expe.example.test\"\n"), "e", "remove [e]"),
        // E.
        (swap(&e, "fqdn = \"expe.example.test\"\n", ""), "e.fqdn", "missing"),
        (swap(&e, "\"expe.example.test\"", "\"expe\""), "e.fqdn", "not fully qualified"),
        (swap(&e, "c_subject_names = [\"expc.example.test\"]\n", ""), "e.c_subject_names", "TLS verify subject name"),
        (add(&e, "[e]", "sip_tls = \"5061\""), "e.sip_tls", "IP:PORT"),
        (add(&e, "[e]", "sip_tls = \"0.0.0.0:8443\""), "e.https", "e.sip_tls"),
        (add(&e, "[e]", "traversal_xmpp = \"0.0.0.0:0\""), "e.traversal_xmpp", "port 0"),
        (format!("{e}\n[admin]\naddress = \"127.0.0.1:7001\"\n"), "admin.address", "e.traversal_sip"),
        (add(&e, "[e]", "registration_limit = 0"), "e.registration_limit", "1 to 10000000"),
        (add(&e, "[e]", "registration_retry_after_seconds = 0"), "e.registration_retry_after_seconds", "1 to 3600"),
        (
            swap(&e, &format!("[[e.credentials]]\nusername = \"exampleauth\"\npassword_hash = \"{HASH}\"\n"), ""),
            "e.credentials",
            "traversal account",
        ),
        (swap(&e, "username = \"exampleauth\"\n", ""), "e.credentials[0].username", "missing"),
        (swap(&e, "\"exampleauth\"", "\"example auth\""), "e.credentials[0].username", "without spaces"),
        (swap(&e, &format!("password_hash = \"{HASH}\""), "password_hash = \"ex4mpl3.c0m\""), "e.credentials[0].password_hash", "pbkdf2-sha256$ITERATIONS"),
        (swap(&e, &format!("password_hash = \"{HASH}\"\n"), ""), "e.credentials[0].password_hash", "insecure_plaintext_password"),
        (
            add(&e, &format!("password_hash = \"{HASH}\""), "insecure_plaintext_password = \"x\""),
            "e.credentials[0].insecure_plaintext_password",
            "not both",
        ),
        (
            format!("{e}\n[[e.credentials]]\nusername = \"exampleauth\"\npassword_hash = \"{HASH}\"\n"),
            "e.credentials[1].username",
            "listed twice",
        ),
        // C.
        (swap(&c, "peers = [\"expe.example.test:7001\"]\n", ""), "c.peers", "1 to 6"),
        (swap(&c, "[\"expe.example.test:7001\"]", "[]"), "c.peers", "1 to 6"),
        (swap(&c, "[\"expe.example.test:7001\"]", &format!("[{seven_peers}]")), "c.peers", "Peer 6"),
        (
            swap(&c, "[\"expe.example.test:7001\"]", "[\"a.example.test\", \"b.example.test\", \"bad host:7001\"]"),
            "c.peers[2]",
            "DNS name",
        ),
        (
            swap(&c, "[\"expe.example.test:7001\"]", "[\"a.example.test\", { address = \"b.example.test:99999\" }]"),
            "c.peers[1].address",
            "not a port",
        ),
        (
            swap(&c, "[\"expe.example.test:7001\"]", "[{ http_port = 2222 }]"),
            "c.peers[0].address",
            "missing",
        ),
        (
            swap(&c, "[\"expe.example.test:7001\"]", "[{ address = \"a.example.test\", xmpp_port = 0 }]"),
            "c.peers[0].xmpp_port",
            "port 0",
        ),
        (
            swap(&c, "[\"expe.example.test:7001\"]", "[\"a.example.test\", \"A.example.test:7001\"]"),
            "c.peers[1]",
            "listed twice",
        ),
        (swap(&c, "username = \"exampleauth\"\n", ""), "c.username", "missing"),
        (swap(&c, "password = \"ex4mpl3.c0m\"\n", ""), "c.password", "password_file"),
        (swap(&c, "\"ex4mpl3.c0m\"", "\"\""), "c.password", "empty"),
        (add(&c, "password = \"ex4mpl3.c0m\"", "password_file = \"p\""), "c.password_file", "not both"),
        (add(&c, "[c]", "expected_e_subject = \"bad name\""), "c.expected_e_subject", "' '"),
        (add(&c, "[c]", "keepalive_seconds = 0"), "c.keepalive_seconds", "1 to 600"),
        (add(&c, "[c]", "keepalive_seconds = 601"), "c.keepalive_seconds", "1 to 600"),
        (add(&c, "[c]", "reconnect_min_seconds = 0"), "c.reconnect_min_seconds", "0.1 to 60"),
        (
            add(&c, "[c]", "reconnect_min_seconds = 10\nreconnect_max_seconds = 5"),
            "c.reconnect_max_seconds",
            "below c.reconnect_min_seconds",
        ),
        (swap(&c, "call_control = [{ address = \"198.18.2.10:5060\", transport = \"tcp\" }]\n", ""), "c.call_control", "missing"),
        (swap(&c, "transport = \"tcp\"", "transport = \"udb\""), "c.call_control[0].transport", "\"udp\", \"tcp\" or \"tls\""),
        (swap(&c, "address = \"198.18.2.10:5060\", ", ""), "c.call_control[0].address", "missing"),
        (add(&c, "[c]", "registration = \"rewrite\""), "c.registration", "\"path\""),
        (add(&c, "[c]", "max_calls = 0"), "c.max_calls", "1 to 1000000"),
        (add(&c, "[c]", "outside_media = \"clear\""), "c.outside_media", "\"best-effort\""),
        (add(&c, "[c]", "phone_security_profiles = [\"jabber-secure\"]"), "c.phone_security_profiles[0]", "fully qualified"),
        (add(&c, "[c]", "phone_security_profiles = [\"jabber.secure.other.test\"]"), "c.phone_security_profiles[0]", "enterprise domain"),
        (add(&c, "[c]", "sip_listen = \"0.0.0.0:40000\""), "c.sip_listen", "media ports"),
        (add(&c, "[c]", "sip_listen = \"0.0.0.0:8080\""), "admin.address", "c.sip_listen"),
        // All-in-one.
        (add(&aio, "[c]", "peers = [\"expe.example.test\"]"), "c.peers", "loopback"),
        (add(&aio, "[c]", "expected_e_subject = \"expe.example.test\""), "c.expected_e_subject", "e.fqdn"),
        (swap(&aio, "password = \"ex4mpl3.c0m\"", "password = \"other\""), "e.credentials[0]", "not c.password"),
        (swap(&aio, "[c]\nfqdn = \"expc.example.test\"\n", "[c]\n"), "c.fqdn", "missing"),
        (add(&aio, "[c]", "sip_tls_listen = \"0.0.0.0:5061\""), "c.sip_tls_listen", "e.sip_tls"),
        // TLS.
        (no_tls(&e), "tls", "generate = true"),
        (swap(&e, "directory = \"tls\"\n", ""), "tls.directory", "missing"),
        (add(&e, "generate = true", "ca = \"ca.pem\""), "tls.ca", "not used with generate"),
        (format!("{}\n[tls]\nca = \"ca.pem\"\ncertificate = \"e.pem\"\n", no_tls(&e)), "tls.key", "private key"),
        (format!("{}\n[tls]\ncertificate = \"e.pem\"\nkey = \"e.key\"\n", no_tls(&e)), "tls.ca", "CA"),
        (
            format!("{}\n[tls]\nca = \"a\"\ncertificate = \"b\"\nkey = \"c\"\ndirectory = \"d\"\n", no_tls(&e)),
            "tls.directory",
            "only with generate = true",
        ),
        (
            format!("{}\n[tls]\nca = \"a\"\ncertificate = \"b\"\nkey = \"c\"\nc_certificate = \"d\"\nc_key = \"e\"\n", no_tls(&e)),
            "tls.c_certificate",
            "all-in-one",
        ),
        // Media.
        (media(&e, "range = \"40000-30000\""), "media.range", "FIRST-LAST"),
        (media(&e, "range = \"100-2000\""), "media.range", "below 1024"),
        (media(&e, "range = \"36000-36001\""), "media.range", "leaves no"),
        (media(&e, "bind = \"eth0\""), "media.bind", "not an IP address"),
        (media(&e, "traversal_pairs = [36001]"), "media.traversal_pairs[0]", "even"),
        (media(&e, "traversal_pairs = [36000, 36000]"), "media.traversal_pairs[1]", "twice"),
        (media(&e, "traversal_pairs = []"), "media.traversal_pairs", "at least one"),
        (media(&e, "large = true\ntraversal_pairs = [36000]"), "media.traversal_pairs", "Large"),
        (media(&e, "cores = []"), "media.cores", "is empty"),
        (media(&e, "cores = [1, 1]"), "media.cores[1]", "twice"),
        (media(&e, "backend = \"epoll\""), "media.backend", "\"uring\""),
        (media(&e, "quarantine_seconds = -1"), "media.quarantine_seconds", "0 to 3600"),
        (media(&e, "inactivity_seconds = 0"), "media.inactivity_seconds", "1 to 86400"),
        (media(&e, "xdp = { mode = \"auto\" }"), "media.xdp.interfaces", "missing"),
        (media(&e, "xdp = { interfaces = [\"a/b\"] }"), "media.xdp.interfaces[0]", "interface name"),
        (media(&e, "xdp = { interfaces = [\"eth1\"], mode = \"fast\" }"), "media.xdp.mode", "\"generic\""),
        (media(&e, "xdp = { interfaces = [\"eth1\"], steering = true }"), "media.xdp.steering", "media.cores"),
        (media(&e, "xdp = { interfaces = [\"eth1\"], burst = 10 }"), "media.xdp.burst", "needs a rate"),
        // Admin.
        (format!("{e}\n[admin]\naddress = \"localhost:8080\"\n"), "admin.address", "IP:PORT"),
    ];
    for (text, field, says) in &cases {
        let err = match parse(text) {
            Ok(_) => panic!("accepted, expected an error on {field}:\n{text}"),
            Err(e) => e,
        };
        assert!(
            err.fields().contains(field),
            "expected {field}, got {:?}: {err}\n{text}",
            err.fields()
        );
        let line = match &err {
            ConfigError::Invalid(list) => list
                .iter()
                .find(|f| f.field == *field)
                .map(ToString::to_string)
                .unwrap_or_default(),
            other => other.to_string(),
        };
        assert!(line.contains(says), "{field}: {line:?} should say {says:?}");
    }
}

/// Type errors and unknown keys come from serde; they name the field too.
#[test]
fn syntax_errors_name_the_field() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            add(&e_base(), "[e]", "sip_tl = \"0.0.0.0:5061\""),
            "e.sip_tl",
            "unknown field",
        ),
        (
            add(&e_base(), "[e]", "registration_limit = \"many\""),
            "e.registration_limit",
            "invalid type",
        ),
        (
            add(&e_base(), "[e]", "registration_limit = -1"),
            "e.registration_limit",
            "",
        ),
        (
            swap(
                &c_base(),
                "[\"expe.example.test:7001\"]",
                "[\"a.example.test\", 5]",
            ),
            "c.peers[1]",
            "HOST:PORT",
        ),
        (
            swap(&c_base(), "transport = \"tcp\"", "transport = 6"),
            "c.call_control[0].transport",
            "invalid type",
        ),
        (
            format!("{}\n[media]\ntraversal_pairs = [36000, 70000]\n", e_base()),
            "media.traversal_pairs[1]",
            "",
        ),
        (
            format!(
                "{}\n[[e.credentials]]\nusername = \"x\"\npasword = \"y\"\n",
                e_base()
            ),
            "e.credentials[1].pasword",
            "unknown field",
        ),
        (
            "role = \"e\"\nrole = \"c\"\n".to_string(),
            "role",
            "duplicate",
        ),
        ("[e\n".to_string(), "e", ""),
    ];
    for (text, field, says) in &cases {
        match parse(text) {
            Err(err @ ConfigError::Syntax { .. }) => {
                assert_eq!(err.fields(), [*field], "{err}\n{text}");
                let s = err.to_string();
                assert!(s.contains(says), "{s:?} should say {says:?}");
                assert!(s.contains("line "), "{s}");
            }
            other => panic!("{field}: expected a syntax error, got {other:?}\n{text}"),
        }
    }
}

#[test]
fn many_problems_reported_at_once() {
    let err = parse("role = \"c\"\ndomains = []\n").unwrap_err();
    let fields = err.fields();
    for f in [
        "domains",
        "c.fqdn",
        "c.peers",
        "c.username",
        "c.password",
        "c.call_control",
        "tls",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let text = err.to_string();
    assert!(
        text.starts_with("the configuration has 7 problems:"),
        "{text}"
    );
    let err = Config::load(Path::new("/nonexistent/portico.toml")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/portico.toml"),
        "{err}"
    );
}

#[test]
fn lab_certificates_for_the_configuration() {
    let dir = std::env::temp_dir().join(format!("portico-config-lab-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let now = SystemTime::now();
    let text = add(
        &aio_base(),
        "[c]",
        "phone_security_profiles = [\"jabber.secure.example.test\"]",
    );
    let aio = Config::parse(&text, &dir).unwrap();
    let report = aio.ensure_lab_certificates(now).unwrap().unwrap();
    assert_eq!(report.leaves.len(), 2);
    let findings = aio.certificate_findings(now).unwrap();
    assert_eq!(findings.len(), 2);
    for (side, f) in &findings {
        assert_eq!(f.as_ref().unwrap(), &Vec::<Finding>::new(), "{side}");
    }

    // A C that names a profile its (lab) certificate lacks, with the files given.
    let files = "[tls]\nca = \"tls/ca.pem\"\ncertificate = \"tls/c.pem\"\nkey = \"tls/c.key\"\n";
    let text = swap(
        &c_base(),
        "[tls]\ngenerate = true\ndirectory = \"tls\"\n",
        files,
    );
    let text = add(
        &text,
        "[c]",
        "phone_security_profiles = [\"jabber.secure.example.test\", \"tls.example.test\"]",
    );
    let c = Config::parse(&text, &dir).unwrap();
    assert!(c.ensure_lab_certificates(now).unwrap().is_none());
    let findings = c.certificate_findings(now).unwrap();
    let (side, f) = &findings[0];
    assert_eq!(*side, Side::C);
    let f = f.as_ref().unwrap();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].to_string().contains("DNS:tls.example.test"),
        "{}",
        f[0]
    );

    // The wrong key.
    let text = swap(&text, "tls/c.key", "tls/e.key");
    let c = Config::parse(&text, &dir).unwrap();
    let findings = c.certificate_findings(now).unwrap();
    assert!(matches!(findings[0].1, Err(CertError::KeyMismatch { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}
