//! `cargo xtask lab up | down | status`: a mobile-and-remote-access network on one machine, in
//! three network namespaces, for the demo and the end-to-end tests.
//!
//! | zone       | namespace          | holds                                                  |
//! |------------|--------------------|--------------------------------------------------------|
//! | `internet` | `portico-internet` | remote clients, the public DNS (outside view)          |
//! | `dmz`      | `portico-dmz`      | the Expressway-E: an outside and an inside-facing address |
//! | `inside`   | `portico-inside`   | the Expressway-C, Kamailio (call control), UDS and IM&P stand-ins, the inside DNS |
//!
//! The DMZ is between: veths join internet ↔ dmz (198.18.1.0/24) and dmz ↔ inside
//! (198.18.2.0/24); the address plan is in [`plan`] (everything in 198.18.0.0/15). Each zone has
//! an nftables ruleset after the guide's port reference (`lab/nftables/`), its own resolver
//! (`/etc/netns/<namespace>/resolv.conf`, mounted over `/etc/resolv.conf` by `ip netns exec`), and
//! the split-horizon DNS runs as two dnsmasq (`lab/dnsmasq/`). Kamailio 5.6 runs inside as the
//! call control (`lab/kamailio/`: registrar, digest auth on db_text, users in `db/subscriber`).
//!
//! - `lab up` checks the repository's configuration files against the plan, cleans up whatever a
//!   crashed lab left, makes the namespaces, links, addresses, routes and rulesets, starts the
//!   DNS servers and Kamailio (each waited for until it answers), builds the edge (`cargo build
//!   -p edge`) and starts its E in `portico-dmz` and its C in `portico-inside` from
//!   `lab/edge/{e,c}.toml` (E first: it makes the lab CA in `target/lab/tls`; C is waited for
//!   until its traversal link to E is up), and writes `<workspace>/target/lab/lab.json`. A
//!   failure half-way tears down what was made.
//! - `lab down` always cleans up: each peer by its pid file (and the workers of its process
//!   group), any process still inside a lab namespace, the namespaces by name, the resolver
//!   files. Logs stay in `target/lab/logs/`.
//! - `lab stop e|c` stops one role of the edge (a crash, for the recovery tests);
//!   `lab start e|c [--config FILE]` starts it again, from its lab configuration or FILE (C in
//!   Path mode, say), and waits until it is ready.
//! - `lab status` checks namespaces, rulesets, that each peer runs in its namespace, that
//!   Kamailio answers an OPTIONS over UDP from the inside and `kamcmd`, that the E answers its
//!   admin API and the C's traversal link is up, and that each DNS view
//!   answers what it must and not what it must not; non-zero exit when anything is down.
//!
//! From Rust: [`up`]`(&LabOptions) -> Result<LabInfo, LabError>`, [`down`], [`status`], and
//! [`counter`] to read a named nftables counter. They need root.
//!
//! # `lab.json` (schema 1)
//!
//! Addresses are strings (`"198.18.2.20"`, interfaces' as `"198.18.2.20/24"`), paths absolute.
//!
//! ```text
//! schema      1
//! domain      "example.test"
//! block       "198.18.0.0/15"
//! zones       {internet|dmz|inside: {namespace, role, dns (its resolver's address), resolv_conf,
//!               interfaces: [{name, network, addresses: ["a.b.c.d/len"…] (first is primary),
//!                             peer: {zone, namespace, interface}}],
//!               routes: [{to, via}],
//!               nftables: {ruleset (file), table ("inet portico"), counters: [name…]}}}
//! hosts       {KEY: {zone, namespace, interface, address, name (DNS name or null), role}}
//!               KEY ∈ client_a client_b dns_outside expe_outside expe_inside expc cucm uds imp
//!               dns_inside phone
//! ports       {internet_to_dmz | inside_to_dmz | dmz_to_inside:
//!               {from (source address or null: any), to (address or null: nothing opens),
//!                tcp: [port…], udp: [[first, last]…]}}
//! dns         {outside|inside: {zone, namespace, address, port, serves: [zone…],
//!               srv: [{name, target, port}], absent: [name…] (must not resolve there),
//!               config, pid, pid_file, log}}
//! kamailio    {zone, namespace, address, name, udp, tcp, tls: {port, enabled}, config,
//!               db (db_text directory it runs on), ctl ("unix:…", for kamcmd -s), pid,
//!               pid_file, log}
//! users       [{username, password, domain, aor}]
//! counters    {dmz_to_inside_new: {namespace, table, counter, expect: 0}}
//! ca          {certificate, key, note} (the lab CA the edge makes in target/lab/tls)
//! edge        {binary, e|c: {zone, namespace, config, admin, pid, pid_file, log, command
//!               (argv to start it again), fqdn, certificate; e: sip_tls, traversal_sip,
//!               tls_keylog (E's client TLS session keys, for tshark); c: sip_listen,
//!               call_control, registration}}
//! paths       {config_dir, state_dir, run_dir, log_dir, lab_json}
//! ```

mod config;
mod info;
mod net;
mod plan;
mod probe;
mod proc;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::deps;
pub(crate) use info::{LabInfo, Paths};
use plan::{Zone, KAMAILIO};

/// Why a lab operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum LabError {
    /// The lab needs root: namespaces, nftables, port 53.
    NotRoot,
    /// Packages are missing and could not be installed.
    Deps(String),
    /// The repository's configuration (`lab/`) disagrees with the plan or does not read.
    Config(String),
    /// A command ran and failed.
    Command {
        /// The command line.
        command: String,
        /// Its exit status (`None`: killed by a signal).
        status: Option<i32>,
        /// What it wrote to standard error.
        stderr: String,
    },
    /// A file operation or a process start failed.
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A peer (Kamailio, dnsmasq) did not come up.
    Peer {
        /// Its name.
        name: String,
        /// What was seen.
        why: String,
        /// Where its log is.
        log: PathBuf,
        /// The end of its log.
        log_tail: String,
    },
    /// Parts of the lab could not be removed.
    Cleanup(Vec<String>),
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::NotRoot => write!(
                f,
                "the lab needs root (network namespaces, nftables, port 53)"
            ),
            LabError::Deps(e) => write!(f, "installing the lab's packages: {e}"),
            LabError::Config(e) => write!(f, "lab configuration: {e}"),
            LabError::Command {
                command,
                status,
                stderr,
            } => {
                let status = status.map_or("a signal".to_string(), |s| format!("status {s}"));
                write!(f, "`{command}` failed with {status}: {stderr}")
            }
            LabError::Io { what, source } => write!(f, "{what}: {source}"),
            LabError::Peer {
                name,
                why,
                log,
                log_tail,
            } => write!(
                f,
                "{name} did not come up: {why}\n--- end of {} ---\n{log_tail}",
                log.display()
            ),
            LabError::Cleanup(what) => write!(f, "lab down left: {}", what.join("; ")),
        }
    }
}

impl std::error::Error for LabError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LabError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

/// How to bring the lab up.
#[derive(Clone, Debug)]
pub(crate) struct LabOptions {
    /// The workspace root: configuration from `<root>/lab`, state into `<root>/target/lab`.
    pub(crate) root: PathBuf,
    /// Install missing Debian packages first (`deps::LAB`).
    pub(crate) install: bool,
    /// How long each peer may take to answer.
    pub(crate) start_timeout: Duration,
}

impl LabOptions {
    /// For this workspace, installing what is missing.
    pub(crate) fn for_workspace() -> Result<LabOptions, LabError> {
        Ok(LabOptions {
            root: crate::workspace_root().map_err(LabError::Config)?,
            install: true,
            start_timeout: Duration::from_secs(20),
        })
    }
}

fn workspace_paths() -> Result<Paths, LabError> {
    Ok(Paths::new(
        &crate::workspace_root().map_err(LabError::Config)?,
    ))
}

/// Whether the effective user is root (`Uid:` of `/proc/self/status`: real, effective, …).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
            .unwrap_or(false)
    })
}

fn require_root() -> Result<(), LabError> {
    if is_root() {
        Ok(())
    } else {
        Err(LabError::NotRoot)
    }
}

/// The zone's resolver file (see [`net::resolv_conf`]).
fn resolv_conf(zone: Zone) -> PathBuf {
    net::resolv_conf(zone)
}

/// The address the lab's own SIP checks come from.
fn probe_source() -> std::net::Ipv4Addr {
    plan::host("phone").map_or(KAMAILIO.addr(), |h| h.addr)
}

/// Brings the lab up (after cleaning up a leftover one) and writes `lab.json`.
pub(crate) fn up(opts: &LabOptions) -> Result<LabInfo, LabError> {
    if opts.install {
        deps::ensure(deps::LAB).map_err(LabError::Deps)?;
    }
    require_root()?;
    let paths = Paths::new(&opts.root);
    paths.check().map_err(LabError::Config)?;
    let problems = config::check_all(&paths.config_dir);
    if !problems.is_empty() {
        return Err(LabError::Config(format!(
            "the files in {} disagree with the plan:\n  {}",
            paths.config_dir.display(),
            problems.join("\n  ")
        )));
    }
    let users = config::users(&paths.config_dir).map_err(LabError::Config)?;
    for line in down_at(&paths)? {
        eprintln!("lab: cleaned up a leftover: {line}");
    }
    let edge = build_edge(&opts.root)?;
    match start(&paths, users, &edge, opts.start_timeout) {
        Ok(info) => Ok(info),
        Err(e) => {
            if let Err(more) = down_at(&paths) {
                eprintln!("lab: cleaning up after a failed start: {more}");
            }
            Err(e)
        }
    }
}

fn prepare_dirs(paths: &Paths) -> Result<(), LabError> {
    for dir in [
        &paths.run_dir,
        &paths.log_dir,
        &paths.run_dir.join("kamailio"),
    ] {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    // Kamailio runs on a fresh copy of the repository's tables.
    if paths.db_dir.exists() {
        std::fs::remove_dir_all(&paths.db_dir)
            .map_err(io(format!("removing {}", paths.db_dir.display())))?;
    }
    std::fs::create_dir_all(&paths.db_dir)
        .map_err(io(format!("creating {}", paths.db_dir.display())))?;
    let src = paths.config_dir.join(config::KAMAILIO_DB);
    for entry in std::fs::read_dir(&src).map_err(io(format!("reading {}", src.display())))? {
        let entry = entry.map_err(io(format!("reading {}", src.display())))?;
        let to = paths.db_dir.join(entry.file_name());
        std::fs::copy(entry.path(), &to).map_err(io(format!(
            "copying {} to {}",
            entry.path().display(),
            to.display()
        )))?;
    }
    Ok(())
}

/// Waits until `check` succeeds, as long as the peer runs; its last answer.
fn wait_ready(
    spawned: &mut proc::Spawned,
    log: &Path,
    limit: Duration,
    check: impl Fn() -> Result<String, String>,
) -> Result<String, LabError> {
    let deadline = Instant::now() + limit;
    let peer_error = |why: String| LabError::Peer {
        name: spawned.name.clone(),
        why,
        log: log.to_path_buf(),
        log_tail: proc::log_tail(log, 30),
    };
    loop {
        if let Ok(Some(status)) = spawned.child.try_wait() {
            return Err(peer_error(format!("it exited ({status})")));
        }
        match check() {
            Ok(answer) => return Ok(answer),
            Err(e) if Instant::now() >= deadline => {
                return Err(peer_error(format!("no answer in {limit:?}: {e}")))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A DNS view answers its first SRV record, asked from its own zone.
fn dns_ready(dns: &plan::Dns) -> Result<String, String> {
    let (name, target, port) = dns.srv.first().copied().unwrap_or_default();
    let server = format!("{}:{}", dns.addr(), dns.port);
    let answer = probe::in_namespace(dns.zone.namespace(), &["dns", &server, name, "srv"])
        .map_err(|e| e.to_string())?;
    if answer.starts_with("NOERROR") && answer.contains(&format!("{target}:{port}")) {
        Ok(answer)
    } else {
        Err(format!("{name}: {answer}"))
    }
}

/// Kamailio answers an OPTIONS over UDP from the inside with 200.
fn kamailio_ready() -> Result<String, String> {
    let to = format!("{}:{}", KAMAILIO.addr(), KAMAILIO.udp);
    let from = probe_source().to_string();
    let answer = probe::in_namespace(KAMAILIO.zone.namespace(), &["sip-options", &from, &to])
        .map_err(|e| e.to_string())?;
    if answer.starts_with("SIP/2.0 200") {
        Ok(answer)
    } else {
        Err(answer)
    }
}

/// Builds the edge binary (debug profile, as the tests build it) and returns its path.
fn build_edge(root: &Path) -> Result<PathBuf, LabError> {
    eprintln!("lab: building the edge (cargo build -p edge)");
    let status = std::process::Command::new(crate::cargo())
        .args(["build", "--quiet", "-p", "edge"])
        .current_dir(root)
        .status()
        .map_err(io("running cargo build -p edge".to_string()))?;
    if !status.success() {
        return Err(LabError::Config(format!(
            "cargo build -p edge failed ({status})"
        )));
    }
    Ok(crate::target_dir(root).join("debug").join("edge"))
}

/// The JSON of `edge status` run inside `zone`'s namespace.
pub(crate) fn edge_status(edge: &Path, zone: Zone) -> Result<serde_json::Value, String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", zone.namespace()])
        .arg(edge)
        .args(["status", "--admin", info::EDGE_ADMIN])
        .output()
        .map_err(|e| format!("running edge status: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("edge status: {e}"))
}

/// E answers its admin API.
fn edge_e_ready(edge: &Path) -> Result<String, String> {
    let st = edge_status(edge, Zone::Dmz)?;
    st["e"]["sip_tls"]
        .as_str()
        .map(|a| format!("E listening on {a}"))
        .ok_or_else(|| "no E in the status".to_owned())
}

/// C's traversal link to E is up and its SIP stream open.
fn edge_c_ready(edge: &Path) -> Result<String, String> {
    let st = edge_status(edge, Zone::Inside)?;
    let link = &st["c"]["traversal"];
    if link["state"] == "up" && st["c"]["sip_stream"] == true {
        Ok(format!("traversal up to {}", link["peer"]))
    } else {
        Err(format!(
            "traversal {} (last error {})",
            link["state"], link["last_error"]
        ))
    }
}

type EdgeRole = (&'static str, Zone, fn(&Path) -> Result<String, String>);

/// Starts one edge role from `config` in its namespace and waits until it is ready; its pid.
fn start_edge(
    paths: &Paths,
    edge: &Path,
    (name, zone, ready): EdgeRole,
    config: &Path,
    limit: Duration,
) -> Result<u32, LabError> {
    let args = vec![
        "run".to_string(),
        "--config".to_string(),
        config.display().to_string(),
    ];
    let log = paths.log(name);
    // E writes its client TLS session keys where tests read them, so that captures of the
    // internet side can be decrypted (the SDP clients see is in TLS).
    let env = if zone == Zone::Dmz {
        vec![("SSLKEYLOGFILE", paths.e_tls_keylog().display().to_string())]
    } else {
        Vec::new()
    };
    let mut spawned = proc::spawn(
        name,
        zone.namespace(),
        &edge.display().to_string(),
        &args,
        &env,
        &paths.pid_file(name),
        &log,
    )?;
    wait_ready(&mut spawned, &log, limit, || ready(edge))?;
    Ok(spawned.pid)
}

fn edge_role(role: &str) -> Result<EdgeRole, LabError> {
    match role {
        "e" => Ok(("edge-e", Zone::Dmz, edge_e_ready)),
        "c" => Ok(("edge-c", Zone::Inside, edge_c_ready)),
        other => Err(LabError::Config(format!(
            "no edge role {other:?}: expected e or c"
        ))),
    }
}

/// `lab stop e|c`: stops one edge role of the running lab (the others keep running: a crash of
/// E or C, for the recovery tests).
pub(crate) fn stop_edge(role: &str) -> Result<String, LabError> {
    require_root()?;
    let paths = workspace_paths()?;
    let (name, _, _) = edge_role(role)?;
    match proc::stop(&paths.pid_file(name), "edge")? {
        proc::StopOutcome::Stopped(pids) => Ok(format!("stopped {name} (pids {pids:?})")),
        proc::StopOutcome::Stale(pid) => Ok(format!("{name} was not running (pid {pid})")),
        proc::StopOutcome::NoPidFile => Ok(format!("{name} was not running")),
    }
}

/// `lab start e|c [--config FILE]`: starts one edge role again (after `lab stop`), from its
/// lab configuration or from FILE (say, C in Path mode), and waits until it is ready.
pub(crate) fn start_edge_role(role: &str, config: Option<&Path>) -> Result<String, LabError> {
    require_root()?;
    let root = crate::workspace_root().map_err(LabError::Config)?;
    let paths = Paths::new(&root);
    let which = edge_role(role)?;
    let name = which.0;
    if proc::read_pid(&paths.pid_file(name)).is_some_and(|p| proc::is_peer(p, "edge")) {
        return Err(LabError::Config(format!(
            "{name} is running; `cargo xtask lab stop {role}` first"
        )));
    }
    let edge = crate::target_dir(&root).join("debug").join("edge");
    let config = config.map_or_else(|| info::edge_config(&paths, role), Path::to_path_buf);
    let pid = start_edge(&paths, &edge, which, &config, Duration::from_secs(30))?;
    Ok(format!(
        "started {name} (pid {pid}) from {}",
        config.display()
    ))
}

fn start(
    paths: &Paths,
    users: Vec<config::User>,
    edge: &Path,
    limit: Duration,
) -> Result<LabInfo, LabError> {
    prepare_dirs(paths)?;
    for zone in Zone::ALL {
        net::create_zone(zone)?;
    }
    net::wire()?;
    for zone in Zone::ALL {
        net::load_ruleset(zone, &paths.config_dir)?;
        net::write_resolv_conf(zone)?;
    }
    let mut peers = info::peers();
    for dns in &plan::DNS {
        let name = info::dns_peer(dns.view);
        let conf = paths.config_dir.join("dnsmasq").join(dns.config);
        let args = vec![
            format!("--conf-file={}", conf.display()),
            "--keep-in-foreground".into(),
            // No pid file of its own: the lab writes one.
            "--pid-file=".into(),
            "--log-facility=-".into(),
        ];
        let log = paths.log(name);
        let mut spawned = proc::spawn(
            name,
            dns.zone.namespace(),
            "dnsmasq",
            &args,
            &[],
            &paths.pid_file(name),
            &log,
        )?;
        wait_ready(&mut spawned, &log, limit, || dns_ready(dns))?;
        if let Some(p) = peers.iter_mut().find(|p| p.name == name) {
            p.pid = Some(spawned.pid);
        }
    }
    let cfg = paths.config_dir.join(config::KAMAILIO_CFG);
    let args = vec![
        "-DD".into(),
        "-E".into(),
        "-f".into(),
        cfg.display().to_string(),
        "-Y".into(),
        paths.run_dir.join("kamailio").display().to_string(),
        "-A".into(),
        format!("LAB_DB_URL=\"text://{}\"", paths.db_dir.display()),
        "-A".into(),
        format!("LAB_CTL=\"{}\"", paths.kamailio_ctl()),
    ];
    let log = paths.log("kamailio");
    let mut spawned = proc::spawn(
        "kamailio",
        KAMAILIO.zone.namespace(),
        "kamailio",
        &args,
        &[],
        &paths.pid_file("kamailio"),
        &log,
    )?;
    wait_ready(&mut spawned, &log, limit, kamailio_ready)?;
    if let Some(p) = peers.iter_mut().find(|p| p.name == "kamailio") {
        p.pid = Some(spawned.pid);
    }
    // E first (it makes the lab CA on its first start), then C, which dials it.
    for role in ["e", "c"] {
        let which = edge_role(role)?;
        let name = which.0;
        let config = info::edge_config(paths, role);
        let pid = start_edge(paths, edge, which, &config, limit)?;
        if let Some(p) = peers.iter_mut().find(|p| p.name == name) {
            p.pid = Some(pid);
        }
    }
    let info = LabInfo {
        paths: paths.clone(),
        users,
        peers,
        edge: Some(edge.to_path_buf()),
    };
    let text = serde_json::to_string_pretty(&info.to_json())
        .map_err(|e| LabError::Config(format!("lab.json: {e}")))?;
    let tmp = paths.lab_json.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").map_err(io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, &paths.lab_json)
        .map_err(io(format!("writing {}", paths.lab_json.display())))?;
    Ok(info)
}

/// Takes the lab down (see the module docs); what it did, one line each (empty: nothing was up).
pub(crate) fn down() -> Result<Vec<String>, LabError> {
    require_root()?;
    down_at(&workspace_paths()?)
}

fn down_at(paths: &Paths) -> Result<Vec<String>, LabError> {
    let mut done = Vec::new();
    let mut left = Vec::new();
    for peer in info::peers().iter().rev() {
        let pid_file = paths.pid_file(peer.name);
        match proc::stop(&pid_file, peer.comm) {
            Ok(proc::StopOutcome::NoPidFile) => {}
            Ok(proc::StopOutcome::Stale(pid)) => done.push(format!(
                "removed the pid file of {} ({pid} was not running)",
                peer.name
            )),
            Ok(proc::StopOutcome::Stopped(pids)) => {
                done.push(format!("stopped {} (pids {pids:?})", peer.name));
            }
            Err(e) => left.push(e.to_string()),
        }
    }
    for zone in Zone::ALL.iter().rev() {
        let ns = zone.namespace();
        if net::exists(ns) {
            // Whatever still runs inside (a peer whose pid file was lost, a shell someone
            // opened there) would keep the namespace alive after its name is gone.
            match net::pids_in(ns) {
                Ok(pids) if !pids.is_empty() => {
                    let named: Vec<String> = pids
                        .iter()
                        .map(|&p| {
                            let comm = proc::stat(p).map_or_else(|| "?".into(), |s| s.comm);
                            format!("{p} ({comm})")
                        })
                        .collect();
                    let survivors = proc::terminate(&pids, Duration::from_secs(3));
                    if survivors.is_empty() {
                        done.push(format!(
                            "stopped processes left in {ns}: {}",
                            named.join(", ")
                        ));
                    } else {
                        left.push(format!("processes {survivors:?} in {ns} would not die"));
                    }
                }
                Ok(_) => {}
                Err(e) => left.push(e.to_string()),
            }
            match net::delete(ns) {
                Ok(()) => done.push(format!("deleted namespace {ns}")),
                Err(e) => left.push(e.to_string()),
            }
        }
        match net::remove_resolv_conf(*zone) {
            Ok(true) => done.push(format!("removed {}", resolv_conf(*zone).display())),
            Ok(false) => {}
            Err(e) => left.push(e.to_string()),
        }
    }
    if paths.lab_json.exists() {
        match std::fs::remove_file(&paths.lab_json) {
            Ok(()) => done.push(format!("removed {}", paths.lab_json.display())),
            Err(e) => left.push(format!("removing {}: {e}", paths.lab_json.display())),
        }
    }
    if left.is_empty() {
        Ok(done)
    } else {
        Err(LabError::Cleanup(left))
    }
}

/// One check of `lab status`.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub(crate) what: String,
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

/// What `lab status` found.
#[derive(Clone, Debug, Default)]
pub(crate) struct LabStatus {
    pub(crate) checks: Vec<Check>,
    /// Facts that are not up or down (counters).
    pub(crate) notes: Vec<String>,
}

impl LabStatus {
    fn check(&mut self, what: impl Into<String>, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(Check {
            what: what.into(),
            ok,
            detail,
        });
    }

    /// Whether everything is up.
    pub(crate) fn is_up(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }
}

/// Whether `pid` lives in the named namespace (same nsfs inode).
fn in_namespace(pid: u32, ns: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(Path::new(net::NETNS_DIR).join(ns)) else {
        return false;
    };
    proc::netns_of(pid)
        .is_some_and(|link| link.to_string_lossy() == format!("net:[{}]", meta.ino()))
}

/// Checks the running lab (see the module docs).
pub(crate) fn status() -> Result<LabStatus, LabError> {
    require_root()?;
    let paths = workspace_paths()?;
    let mut st = LabStatus::default();
    for zone in Zone::ALL {
        let ns = zone.namespace();
        let exists = net::exists(ns);
        st.check(
            format!("namespace {ns}"),
            if exists {
                Ok("present".into())
            } else {
                Err("missing".into())
            },
        );
        if exists {
            st.check(
                format!("nftables in {ns}"),
                if net::ruleset_loaded(zone) {
                    Ok(format!("table inet portico ({})", zone.ruleset()))
                } else {
                    Err("table inet portico not loaded".into())
                },
            );
        }
    }
    let all_ns = Zone::ALL.iter().all(|z| net::exists(z.namespace()));
    for peer in info::peers() {
        let pid_file = paths.pid_file(peer.name);
        let ns = peer.zone.namespace();
        let result = match proc::read_pid(&pid_file) {
            None => Err(format!("no pid file {}", pid_file.display())),
            Some(pid) if !proc::is_peer(pid, peer.comm) => {
                Err(format!("pid {pid} is not a running {}", peer.comm))
            }
            Some(pid) if !in_namespace(pid, ns) => Err(format!("pid {pid} is not in {ns}")),
            Some(pid) => Ok(format!(
                "pid {pid} in {ns}, log {}",
                paths.log(peer.name).display()
            )),
        };
        st.check(format!("process {}", peer.name), result);
    }
    if !all_ns {
        return Ok(st);
    }
    st.check(
        format!(
            "kamailio SIP: OPTIONS udp {}:{} from {}",
            KAMAILIO.addr(),
            KAMAILIO.udp,
            probe_source()
        ),
        kamailio_ready(),
    );
    let ctl = paths.kamailio_ctl();
    st.check(
        "kamailio ctl: kamcmd core.uptime",
        net::run("kamcmd", &["-s", &ctl, "core.uptime"], None)
            .map(|out| {
                out.lines()
                    .find(|l| l.trim_start().starts_with("uptime"))
                    .map_or_else(|| "answers".into(), |l| l.trim().to_string())
            })
            .map_err(|e| e.to_string()),
    );
    // The edge: E answers its admin API; C's traversal link to E is up with its SIP stream.
    let edge = crate::target_dir(&paths.state_dir.join("..").join(".."))
        .join("debug")
        .join("edge");
    st.check("edge E: admin API in portico-dmz", edge_e_ready(&edge));
    st.check("edge C: traversal link to E", edge_c_ready(&edge));
    // Each view from each zone that uses it: what must resolve, and what must not.
    for zone in Zone::ALL {
        let dns = zone.dns();
        let server = format!("{}:{}", dns.addr(), dns.port);
        for (name, target, port) in dns.srv.iter().take(1) {
            let r = probe::in_namespace(zone.namespace(), &["dns", &server, name, "srv"])
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    if a.starts_with("NOERROR") && a.contains(&format!("{target}:{port}")) {
                        Ok(a)
                    } else {
                        Err(a)
                    }
                });
            st.check(format!("dns from {}: SRV {name}", zone.name()), r);
        }
        for name in dns.absent.iter().take(1) {
            let r = probe::in_namespace(zone.namespace(), &["dns", &server, name, "srv"])
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    if a.starts_with("NXDOMAIN") {
                        Ok(format!("{a} (as it must)"))
                    } else {
                        Err(format!("{a} (must not resolve here)"))
                    }
                });
            st.check(format!("dns from {}: SRV {name} absent", zone.name()), r);
        }
    }
    match counter("inside", "dmz_new_dropped") {
        Ok(n) => st.notes.push(format!(
            "new connections from the DMZ into the inside dropped so far: {n}"
        )),
        Err(e) => st.notes.push(format!("counter dmz_new_dropped: {e}")),
    }
    Ok(st)
}

/// The packet count of the named counter of a zone's ruleset (`nft list counter inet portico
/// NAME` in its namespace); `zone` is `internet`, `dmz` or `inside`.
pub(crate) fn counter(zone: &str, name: &str) -> Result<u64, LabError> {
    let zone = Zone::ALL
        .into_iter()
        .find(|z| z.name() == zone)
        .ok_or_else(|| LabError::Config(format!("no zone {zone}")))?;
    net::counter(zone, name)
}

pub(crate) fn print_up(info: &LabInfo) {
    let j = info.to_json();
    println!(
        "lab: up, domain {}; lab.json in {}",
        plan::DOMAIN,
        info.paths.lab_json.display()
    );
    for zone in Zone::ALL {
        let z = &j["zones"][zone.name()];
        let ifs: Vec<String> = z["interfaces"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| {
                        let addrs: Vec<&str> = i["addresses"]
                            .as_array()
                            .map(|v| v.iter().filter_map(|a| a.as_str()).collect())
                            .unwrap_or_default();
                        format!("{} {}", i["name"].as_str().unwrap_or("?"), addrs.join(" "))
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "  {:<9} {:<17} {}; dns {}",
            zone.name(),
            zone.namespace(),
            ifs.join(", "),
            zone.dns().addr()
        );
    }
    for p in &info.peers {
        println!(
            "  {:<12} pid {:<8} log {}",
            p.name,
            p.pid.map_or_else(|| "?".into(), |p| p.to_string()),
            info.paths.log(p.name).display()
        );
    }
    let users: Vec<String> = info
        .users
        .iter()
        .map(|u| format!("{}/{}", u.username, u.password))
        .collect();
    println!(
        "  kamailio     sip:{}:{} (udp, tcp); users {}; kamcmd -s {} ul.dump",
        KAMAILIO.addr(),
        KAMAILIO.udp,
        users.join(" "),
        info.paths.kamailio_ctl()
    );
    let edge = info
        .edge
        .as_ref()
        .map_or_else(|| "edge".into(), |p| p.display().to_string());
    let ca = info::tls_dir(&info.paths).join("ca.pem");
    println!(
        "  edge E       sip:198.18.1.1:5061;transport=tls (expe.example.test), traversal \
         198.18.2.1:7001; ip netns exec {} {edge} status",
        Zone::Dmz.namespace()
    );
    println!(
        "  edge C       198.18.2.10:5060 -> Kamailio over TCP (contact rewrite); ip netns exec {} \
         {edge} status",
        Zone::Inside.namespace()
    );
    println!();
    println!("Point a SIP client at it from the internet namespace, e.g. baresip:");
    println!(
        "  account: <sip:alice@example.test;transport=tls>;auth_pass=alice-lab-pw;\
         outbound=\"sip:198.18.1.1:5061;transport=tls\";regint=60"
    );
    println!(
        "  trust the lab CA {} (certificate name expe.example.test)",
        ca.display()
    );
    println!(
        "  run it as: ip netns exec {} baresip -f DIR   (address 198.18.1.10 or .11)",
        Zone::Internet.namespace()
    );
    println!("  then: kamcmd -s {} ul.dump", info.paths.kamailio_ctl());
}

/// `cargo xtask lab …`.
pub(crate) fn cli(args: &[String]) -> Result<ExitCode, String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["up"] => {
            let opts = LabOptions::for_workspace().map_err(|e| e.to_string())?;
            let info = up(&opts).map_err(|e| e.to_string())?;
            print_up(&info);
            Ok(ExitCode::SUCCESS)
        }
        ["down"] => {
            let done = down().map_err(|e| e.to_string())?;
            if done.is_empty() {
                println!("lab: nothing was up");
            }
            for line in done {
                println!("lab: {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        ["status"] => {
            let st = status().map_err(|e| e.to_string())?;
            for c in &st.checks {
                let mark = if c.ok { "up  " } else { "DOWN" };
                println!("{mark} {}: {}", c.what, c.detail);
            }
            for n in &st.notes {
                println!("     {n}");
            }
            if st.is_up() {
                println!("lab: up");
                Ok(ExitCode::SUCCESS)
            } else {
                let failed = st.checks.iter().filter(|c| !c.ok).count();
                println!("lab: not up ({failed} checks failed)");
                Ok(ExitCode::FAILURE)
            }
        }
        ["stop", role] => {
            println!("lab: {}", stop_edge(role).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        ["start", role] => {
            println!(
                "lab: {}",
                start_edge_role(role, None).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
        ["start", role, "--config", file] => {
            let file = Path::new(file);
            println!(
                "lab: {}",
                start_edge_role(role, Some(file)).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
        ["probe", ..] => probe::cli(args.get(1..).unwrap_or_default()),
        _ => crate::usage_error(
            "`lab` takes one of: up, down, status, stop e|c, start e|c [--config FILE]",
        ),
    }
}
