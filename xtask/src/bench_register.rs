//! `cargo xtask bench register`: REGISTER load over TLS through an edge, Kamailio and portico
//! side by side, on loopback.
//!
//! Every target is an edge that phones reach over TLS and that relays their REGISTERs to one
//! shared registrar (Kamailio 5.6, `lab/kamailio/kamailio-bench-registrar.cfg`, UDP+TCP
//! 127.0.0.1:25060, no auth, in-memory usrloc, Path kept):
//!
//! - **kamailio**: Kamailio 5.6 as a TLS edge (`lab/kamailio/kamailio-tls-edge.cfg`), TLS on
//!   127.0.0.1:25061, stateful relay over TCP with a Path to the phone's flow;
//! - **portico**: `edge run --config <generated all-in-one TOML>`, E's SIP TLS on
//!   127.0.0.1:25062, C forwarding to the registrar over TCP with `registration = "path"`, the
//!   traversal between them over loopback (mutual TLS), admin on 127.0.0.1:25080. When `edge
//!   help` lists no `run` command, the row says so and the bench goes on.
//!
//! Both present the same certificate: `edge sipload gen-cert` makes the lab CA and E's
//! certificate in the scratch directory; Kamailio gets `e.pem`/`e.key` through `-A` defines and a
//! tls module file written here, portico reuses them through `[tls] generate = true` (it adds C's
//! certificate). Phones (`edge sipload`) verify the certificate against the CA for
//! `expe.example.test`.
//!
//! **Pinning** (2 CPUs): the edge under test alone on CPU 0 (`taskset -c 0`: Kamailio and all
//! its children, or the one `edge run` process and its threads); the load generator and the
//! registrar share CPU 1. The "load CPU" column says how busy CPU 1 was: near 100 % the figure
//! is the load side's, not the edge's.
//!
//! For each target, on a freshly started edge and registrar:
//!
//! 1. **Memory per held registration.** The edge's PSS (`/proc/PID/smaps_rollup`, summed over
//!    the edge's processes: Kamailio's shared memory counted once) idle, then while phones
//!    connect and register at a steady rate, sampled at every progress line of the generator
//!    (`held=N`), and held for a few seconds: (PSS held − PSS idle) / N, and the slope of a
//!    least-squares fit over the samples. N is 15,000 (the 20,000 open-files limit per process
//!    holds one connection per phone on both sides); 100,000 is extrapolated from the
//!    per-registration figure, not measured. Kernel socket memory is not in PSS.
//! 2. **Knee of new registrations.** Steps of offered rate; each step is a fresh set of phones
//!    (new AORs, a new source address), `rate × 3 s` of them (at most 12,000), each opening its
//!    TLS connection and registering at its slot: the storm after an edge restart. A step
//!    passes with < 1 % failures (timeouts at 5 s count) and a p99 under 1 s, latency taken from
//!    each phone's scheduled slot. The knee is the last passing rate before the first failing
//!    one. Edge CPU over the ramp / registrations = CPU per new registration, TLS handshake
//!    included.
//! 3. **Knee of refreshes.** Steps of offered refresh rate over [`REFRESH_USERS`] phones that
//!    register first (not measured) and then re-REGISTER on their held flows on a fixed
//!    schedule (`edge sipload --refresh-rate`) for [`REFRESH_SECONDS`] s: the steady state of a
//!    busy edge. Edge CPU over the hold / refreshes = CPU per REGISTER, without TLS set-up.
//!
//! Between steps the bench waits for the edge's CPU to go quiet (the previous phones'
//! connections closing). Edge CPU is user + system time from `/proc/PID/stat` over the edge's
//! process tree (Kamailio: the main process and its children).
//!
//! Writes `benches/RESULTS.md` between `<!-- register:begin -->` and `<!-- register:end -->`
//! (or the file `--results` names). `--quick` is a smoke run with small numbers (its figures
//! are not fit to be reported); `--edge PATH` runs a prebuilt `edge`; `--targets
//! kamailio,portico` chooses the targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bench_proc::Proc;
use crate::deps::Package;
use crate::relay_process::{self, PrebuiltOptions};

const BEGIN: &str = "<!-- register:begin -->";
const END: &str = "<!-- register:end -->";

const REGISTRAR: &str = "127.0.0.1:25060";
const KAMAILIO_TLS: &str = "127.0.0.1:25061";
const PORTICO_TLS: &str = "127.0.0.1:25062";
const FQDN: &str = "expe.example.test";
const DOMAIN: &str = "example.test";
const EDGE_CPU: &str = "0";
const LOAD_CPU: &str = "1";

/// Failures under which a step passes.
const KNEE_FAILURES: f64 = 0.01;
/// p99 under which a step passes, ms.
const KNEE_P99_MS: f64 = 1000.0;
/// A registration without a final response after this long is a failure.
const TIMEOUT_S: f64 = 5.0;
/// Phones held during the refresh steps: enough that each refreshes at most every 0.3 s at the
/// highest rate (a slot that comes while the phone's previous REGISTER is in flight is lost),
/// few enough for the open-files limit.
const REFRESH_USERS: u32 = 10_000;
/// Seconds of refreshes per step.
const REFRESH_SECONDS: f64 = 5.0;

/// Kamailio's memory manager for shared and private memory. With its default (q_malloc), half
/// of the edge's CPU went into `qm_malloc` at a few thousand TLS connections and it carried a
/// third of the rate: not a fair anchor.
const KAMAILIO_MALLOC: [&str; 4] = ["-x", "tlsf", "-X", "tlsf"];

const PACKAGES: &[Package] = &[
    Package {
        name: "gcc",
        why: "the ring crate compiles C and assembly (building edge)",
    },
    Package {
        name: "clang",
        why: "compiles the XDP program of the ebpf crate (building edge)",
    },
    Package {
        name: "libbpf-dev",
        why: "bpf_helpers.h for the XDP program (building edge)",
    },
    Package {
        name: "linux-libc-dev",
        why: "linux/bpf.h for the XDP program (building edge)",
    },
    Package {
        name: "kamailio",
        why: "Kamailio 5.6: the registrar behind the edges and the TLS edge anchor",
    },
    Package {
        name: "kamailio-tls-modules",
        why: "TLS for the Kamailio edge anchor",
    },
];

/// What a run does.
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    quick: bool,
    memory_users: u32,
    memory_rate: f64,
    initial_rates: Vec<f64>,
    /// Seconds of phones per initial step.
    initial_seconds: f64,
    initial_cap: u32,
    refresh_users: u32,
    refresh_ramp: f64,
    refresh_rates: Vec<f64>,
    refresh_seconds: f64,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                memory_users: 300,
                memory_rate: 300.0,
                initial_rates: vec![100.0, 200.0],
                initial_seconds: 1.0,
                initial_cap: 1000,
                refresh_users: 200,
                refresh_ramp: 400.0,
                refresh_rates: vec![200.0, 400.0],
                refresh_seconds: 2.0,
            }
        } else {
            Plan {
                quick,
                memory_users: 15_000,
                memory_rate: 1000.0,
                initial_rates: vec![250.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0],
                initial_seconds: 3.0,
                initial_cap: 12_000,
                refresh_users: REFRESH_USERS,
                refresh_ramp: 2000.0,
                refresh_rates: vec![
                    1000.0, 2000.0, 4000.0, 8000.0, 12_000.0, 16_000.0, 20_000.0, 24_000.0,
                    32_000.0,
                ],
                refresh_seconds: REFRESH_SECONDS,
            }
        }
    }

    /// Phones in an initial step at `rate`.
    fn initial_users(&self, rate: f64) -> u32 {
        ((rate * self.initial_seconds).ceil() as u32).clamp(1, self.initial_cap)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TargetKind {
    Kamailio,
    Portico,
}

impl TargetKind {
    fn name(self) -> &'static str {
        match self {
            TargetKind::Kamailio => "kamailio",
            TargetKind::Portico => "portico",
        }
    }

    fn tls(self) -> &'static str {
        match self {
            TargetKind::Kamailio => KAMAILIO_TLS,
            TargetKind::Portico => PORTICO_TLS,
        }
    }
}

#[derive(Debug)]
struct Options {
    prebuilt: PrebuiltOptions,
    quick: bool,
    targets: Vec<TargetKind>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            prebuilt: PrebuiltOptions::default(),
            quick: false,
            targets: vec![TargetKind::Kamailio, TargetKind::Portico],
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--quick" {
                o.quick = true;
                continue;
            }
            let v = it
                .next()
                .ok_or_else(|| format!("bench register: {flag} needs a value"))?;
            match flag.as_str() {
                "--edge" => o.prebuilt.edge = Some(PathBuf::from(v)),
                "--results" => o.prebuilt.results = Some(PathBuf::from(v)),
                "--targets" => {
                    o.targets = v
                        .split(',')
                        .map(|t| match t.trim() {
                            "kamailio" => Ok(TargetKind::Kamailio),
                            "portico" => Ok(TargetKind::Portico),
                            other => Err(format!(
                                "bench register: unknown target {other:?} (kamailio, portico)"
                            )),
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(format!("bench register: unknown option {other:?}")),
            }
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A command with the open-files soft limit raised to the hard limit, pinned to `cpu`.
fn pinned(cpu: &str, program: &Path, args: &[String]) -> Command {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        "ulimit -n \"$(ulimit -Hn)\" && exec taskset -c \"$0\" \"$@\"",
        cpu,
    ])
    .arg(program)
    .args(args);
    c
}

fn wait_port(addr: &str, p: &mut Proc, limit: Duration) -> Result<(), String> {
    let a: SocketAddr = addr.parse().map_err(|_| format!("bad address {addr}"))?;
    let until = Instant::now() + limit;
    loop {
        if TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if !p.alive() || Instant::now() > until {
            return Err(format!(
                "{} did not listen on {addr}: {}",
                p.name,
                p.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Scratch {
    dir: PathBuf,
    edge: PathBuf,
    root: PathBuf,
    ca: PathBuf,
    /// Source addresses handed out so far (one per generator run).
    runs: u32,
    /// AORs handed out so far.
    users: u32,
}

impl Scratch {
    /// A fresh loopback source address and block of AORs for one generator run.
    fn next(&mut self, users: u32) -> (String, u32) {
        self.runs += 1;
        let n = self.runs;
        let first = self.users;
        self.users += users;
        (format!("127.0.{}.{}", 1 + n / 250, 1 + n % 250), first)
    }
}

fn start_registrar(s: &Scratch) -> Result<Proc, String> {
    let run = s.dir.join("run-registrar");
    fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
    let cfg = s.root.join("lab/kamailio/kamailio-bench-registrar.cfg");
    let mut args: Vec<String> = ["-DD", "-E"].iter().map(|x| x.to_string()).collect();
    args.extend(KAMAILIO_MALLOC.iter().map(|x| x.to_string()));
    args.extend(["-m".into(), "1024".into(), "-f".into()]);
    args.push(cfg.display().to_string());
    args.extend(["-Y".into(), run.display().to_string(), "-A".into()]);
    args.push(format!(
        "BENCH_CTL=\"unix:{}\"",
        s.dir.join("registrar_ctl").display()
    ));
    let mut p = Proc::spawn(
        "registrar (Kamailio)",
        &mut pinned(LOAD_CPU, Path::new("kamailio"), &args),
        s.dir.join("registrar.log"),
    )?;
    wait_port(REGISTRAR, &mut p, Duration::from_secs(20))?;
    Ok(p)
}

fn start_kamailio_edge(s: &Scratch) -> Result<Proc, String> {
    let run = s.dir.join("run-edge");
    fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
    let (cert, key) = (s.dir.join("tls/e.pem"), s.dir.join("tls/e.key"));
    let tls_cfg = s.dir.join("kamailio-tls.cfg");
    fs::write(&tls_cfg, kamailio_tls_cfg(&cert, &key))
        .map_err(|e| format!("{}: {e}", tls_cfg.display()))?;
    let cfg = s.root.join("lab/kamailio/kamailio-tls-edge.cfg");
    let mut args: Vec<String> = ["-DD", "-E"].iter().map(|x| x.to_string()).collect();
    args.extend(KAMAILIO_MALLOC.iter().map(|x| x.to_string()));
    args.extend(["-m".into(), "4096".into(), "-f".into()]);
    args.push(cfg.display().to_string());
    args.extend(["-Y".into(), run.display().to_string()]);
    for (k, v) in [
        ("EDGE_TLS_CERT", cert.display().to_string()),
        ("EDGE_TLS_KEY", key.display().to_string()),
        ("EDGE_TLS_CFG", tls_cfg.display().to_string()),
        (
            "EDGE_CTL",
            format!("unix:{}", s.dir.join("edge_ctl").display()),
        ),
    ] {
        args.push("-A".into());
        args.push(format!("{k}=\"{v}\""));
    }
    let mut p = Proc::spawn(
        "TLS edge (Kamailio)",
        &mut pinned(EDGE_CPU, Path::new("kamailio"), &args),
        s.dir.join("kamailio-edge.log"),
    )?;
    wait_port(KAMAILIO_TLS, &mut p, Duration::from_secs(20))?;
    Ok(p)
}

/// The tls module's file for the Kamailio edge: the server domain with the E certificate, and
/// no client certificates asked or checked either way.
fn kamailio_tls_cfg(cert: &Path, key: &Path) -> String {
    format!(
        "# written by cargo xtask bench register\n\
         [server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
         certificate = {}\nprivate_key = {}\n\n\
         [client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n",
        cert.display(),
        key.display()
    )
}

/// The all-in-one configuration of the portico target (schema: edge/src/config.rs).
fn portico_config(tls_dir: &Path) -> String {
    format!(
        "# written by cargo xtask bench register: E and C in one process on CPU 0\n\
         role = \"all-in-one\"\n\
         domains = [\"{DOMAIN}\"]\n\n\
         [e]\n\
         fqdn = \"{FQDN}\"\n\
         sip_tls = \"{PORTICO_TLS}\"\n\
         https = \"127.0.0.1:25443\"\n\
         xmpp = \"127.0.0.1:25222\"\n\
         traversal_sip = \"127.0.0.1:25071\"\n\
         traversal_http = \"127.0.0.1:25072\"\n\
         traversal_xmpp = \"127.0.0.1:25074\"\n\n\
         [c]\n\
         fqdn = \"expc.example.test\"\n\
         username = \"bench\"\n\
         password = \"bench-only-password\"\n\
         call_control = [{{ address = \"{REGISTRAR}\", transport = \"tcp\" }}]\n\
         registration = \"path\"\n\
         phone_security_profiles = [\"jabber.secure.example.test\"]\n\
         sip_listen = \"127.0.0.1:25065\"\n\n\
         [tls]\n\
         generate = true\n\
         directory = \"{}\"\n\n\
         [media]\n\
         bind = \"127.0.0.1\"\n\
         range = \"49002-49999\"\n\
         traversal_pairs = [49000]\n\
         cores = [{EDGE_CPU}]\n\
         backend = \"auto\"\n\n\
         [admin]\n\
         address = \"127.0.0.1:25080\"\n",
        tls_dir.display()
    )
}

/// `kamailio 5.6.3` from the first line of `kamailio -v`
/// (`version: kamailio 5.6.3 (x86_64/linux) `).
fn kamailio_version(line: &str) -> String {
    let l = line.trim().trim_start_matches("version:").trim();
    l.split(" (").next().unwrap_or(l).to_owned()
}

/// Whether this `edge` has the `run` command (its help lists it).
fn edge_has_run(edge: &Path) -> bool {
    Command::new(edge)
        .arg("help")
        .output()
        .map(|o| has_run_command(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or(false)
}

/// A `run` line among the commands of `edge help`.
fn has_run_command(help: &str) -> bool {
    help.lines()
        .any(|l| l.starts_with("  run ") || l.trim_end() == "  run")
}

fn start_portico(s: &Scratch) -> Result<Proc, String> {
    if !edge_has_run(&s.edge) {
        return Err(format!(
            "pending `edge run`: `{} help` lists no `run` command yet",
            s.edge.display()
        ));
    }
    let config = s.dir.join("portico-all-in-one.toml");
    fs::write(&config, portico_config(&s.dir.join("tls")))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let check = Command::new(&s.edge)
        .args(["sipload", "check-config"])
        .arg(&config)
        .output()
        .map_err(|e| format!("running edge sipload check-config: {e}"))?;
    if !check.status.success() {
        return Err(format!(
            "the generated configuration does not validate: {}",
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    let args = vec![
        "run".to_owned(),
        "--config".into(),
        config.display().to_string(),
    ];
    let mut p = Proc::spawn(
        "portico E+C (edge run)",
        &mut pinned(EDGE_CPU, &s.edge, &args),
        s.dir.join("portico.log"),
    )?;
    wait_port(PORTICO_TLS, &mut p, Duration::from_secs(30))?;
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// The load generator

/// One `edge sipload` run.
#[derive(Clone, Debug)]
struct Load {
    target: &'static str,
    users: u32,
    rate: f64,
    refresh_rate: f64,
    seconds: f64,
}

/// CPU samples taken when the generator says `ramp done` and `hold done`.
#[derive(Clone, Debug, Default)]
struct Mark {
    at: Option<Instant>,
    edge_cpu: f64,
    registrar_cpu: f64,
    gen_cpu: f64,
    /// CPU seconds of every other user process, by pid (see [`other_processes`]).
    others: BTreeMap<u32, f64>,
}

/// CPU seconds (its own and its reaped children's) of every user-space process but those of
/// `exclude`, by pid: what else ran on the machine while the bench did (other people's builds
/// and tests on a shared machine). Kernel threads (children of kthreadd) are left out.
fn other_processes(exclude: &[u32]) -> BTreeMap<u32, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if exclude.contains(&pid) || pid == 2 {
            continue;
        }
        if let Some((ppid, cpu)) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| stat_cpu_with_children(&s))
        {
            if ppid != 2 {
                out.insert(pid, cpu);
            }
        }
    }
    out
}

/// (ppid, utime + stime + cutime + cstime in seconds) from a `/proc/PID/stat` line.
fn stat_cpu_with_children(stat: &str) -> Option<(u32, f64)> {
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let ticks: u64 = (11..15)
        .map(|i| f.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum::<Option<u64>>()?;
    Some((ppid, ticks as f64 / 100.0))
}

/// CPU the processes present at both marks spent between them.
fn others_delta(a: &BTreeMap<u32, f64>, b: &BTreeMap<u32, f64>) -> f64 {
    b.iter()
        .filter_map(|(pid, after)| a.get(pid).map(|before| (after - before).max(0.0)))
        .sum()
}

#[derive(Debug, Default)]
struct LoadRun {
    summary: Value,
    start: Mark,
    ramp_done: Mark,
    hold_done: Mark,
    /// (held, edge PSS KiB) at each progress line.
    pss: Vec<(u32, u64, bool)>,
}

/// `held=N` in a progress line.
fn held_of(line: &str) -> Option<u32> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("held="))
        .and_then(|v| v.parse().ok())
}

fn run_load(
    s: &mut Scratch,
    l: &Load,
    edge: &Proc,
    registrar: &Proc,
    sample_pss: bool,
) -> Result<LoadRun, String> {
    let (bind, first) = s.next(l.users);
    let args: Vec<String> = vec![
        "sipload".into(),
        "--target".into(),
        l.target.into(),
        "--ca".into(),
        s.ca.display().to_string(),
        "--server-name".into(),
        FQDN.into(),
        "--domain".into(),
        DOMAIN.into(),
        "--users".into(),
        l.users.to_string(),
        "--first-user".into(),
        first.to_string(),
        "--rate".into(),
        l.rate.to_string(),
        "--refresh-rate".into(),
        l.refresh_rate.to_string(),
        "--seconds".into(),
        l.seconds.to_string(),
        "--timeout".into(),
        TIMEOUT_S.to_string(),
        "--bind".into(),
        bind,
    ];
    let mark = |gen_pid: Option<u32>| Mark {
        at: Some(Instant::now()),
        edge_cpu: edge.cpu_s(),
        registrar_cpu: registrar.cpu_s(),
        gen_cpu: gen_pid.and_then(relay_process::cpu_seconds).unwrap_or(0.0),
        others: {
            let mut ours = edge.tree();
            ours.extend(registrar.tree());
            ours.extend(gen_pid);
            ours.push(std::process::id());
            other_processes(&ours)
        },
    };
    let mut run = LoadRun {
        start: mark(None),
        ..LoadRun::default()
    };
    let mut child = pinned(LOAD_CPU, &s.edge, &args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting edge sipload: {e}"))?;
    let pid = child.id();
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("ramp done") {
                run.ramp_done = mark(Some(pid));
            } else if line.contains("hold done") {
                run.hold_done = mark(Some(pid));
            }
            if sample_pss {
                if let (Some(h), Some(p)) = (held_of(&line), edge.pss_kib()) {
                    let holding = line.contains(" hold ") || line.contains("hold done");
                    run.pss.push((h, p, holding));
                }
            }
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
    }
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for edge sipload: {e}"))?;
    if !status.success() {
        return Err(format!(
            "edge sipload failed ({status}): {}",
            tail.join("\n")
        ));
    }
    run.summary = serde_json::from_str(&out).map_err(|e| format!("edge sipload output: {e}"))?;
    Ok(run)
}

/// One phone registers: the edge and what is behind it work.
fn probe(
    s: &mut Scratch,
    target: &'static str,
    edge: &mut Proc,
    registrar: &Proc,
) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let l = Load {
            target,
            users: 1,
            rate: 1.0,
            refresh_rate: 0.0,
            seconds: 0.0,
        };
        let r = run_load(s, &l, edge, registrar, false)?;
        if r.summary["initial"]["succeeded"].as_u64() == Some(1) {
            return Ok(());
        }
        if !edge.alive() || Instant::now() > until {
            return Err(format!(
                "{}: a probe registration did not succeed: {}; log: {}",
                edge.name,
                r.summary["initial"]["failed_by_reason"],
                edge.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// One step of a knee sweep.
#[derive(Clone, Debug, Default, PartialEq)]
struct Step {
    offered: f64,
    /// Phones in the step (initial) or held (refresh).
    phones: u32,
    /// Registrations offered (initial: phones; refresh: the schedule's slots).
    attempted: u64,
    succeeded: u64,
    failures: BTreeMap<String, u64>,
    failure_ratio: f64,
    achieved: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    window_s: f64,
    edge_cpu_s: f64,
    /// Generator plus registrar, CPU 1.
    load_cpu_s: f64,
    /// Other processes on the machine (either CPU), approximately.
    others_cpu_s: f64,
    /// The edge was still running after the step.
    edge_alive: bool,
}

impl Step {
    fn passes(&self) -> bool {
        self.edge_alive
            && self.failure_ratio < KNEE_FAILURES
            && self.p99_ms.is_some_and(|p| p < KNEE_P99_MS)
            && self.succeeded > 0
    }

    fn cpu_per_register_us(&self) -> Option<f64> {
        (self.succeeded > 0).then(|| self.edge_cpu_s * 1e6 / self.succeeded as f64)
    }

    fn edge_busy(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.edge_cpu_s / self.window_s)
    }

    fn load_busy(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.load_cpu_s / self.window_s)
    }

    fn others_busy(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.others_cpu_s / self.window_s)
    }

    /// From the generator's bucket (`initial` or `refresh`) and the CPU between two marks.
    fn from_bucket(offered: f64, phones: u32, b: &Value, from: &Mark, to: &Mark) -> Step {
        let failures: BTreeMap<String, u64> = b["failed_by_reason"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        let window = match (from.at, to.at) {
            (Some(a), Some(z)) if z > a => (z - a).as_secs_f64(),
            _ => b["window_s"].as_f64().unwrap_or(0.0),
        };
        Step {
            offered,
            phones,
            attempted: b["offered"]
                .as_u64()
                .or_else(|| b["attempted"].as_u64())
                .unwrap_or(0),
            succeeded: b["succeeded"].as_u64().unwrap_or(0),
            failures,
            failure_ratio: b["failure_ratio"].as_f64().unwrap_or(1.0),
            achieved: b["per_second"].as_f64().unwrap_or(0.0),
            p50_ms: b["latency_ms"]["p50"].as_f64(),
            p99_ms: b["latency_ms"]["p99"].as_f64(),
            window_s: window,
            edge_cpu_s: (to.edge_cpu - from.edge_cpu).max(0.0),
            load_cpu_s: (to.registrar_cpu - from.registrar_cpu + to.gen_cpu - from.gen_cpu)
                .max(0.0),
            others_cpu_s: others_delta(&from.others, &to.others),
            edge_alive: true,
        }
    }
}

/// The knee: the last passing offered rate before the first failing step.
fn knee(steps: &[Step]) -> Option<f64> {
    steps
        .iter()
        .take_while(|s| s.passes())
        .map(|s| s.offered)
        .last()
}

/// Whether a sweep should stop after its last step: the edge died, failures reached 10 %, or
/// two steps in a row failed.
fn sweep_over(steps: &[Step]) -> bool {
    match steps {
        [.., last] if !last.edge_alive || last.failure_ratio >= 0.10 => true,
        [.., a, b] => !a.passes() && !b.passes(),
        _ => false,
    }
}

/// Memory per held registration.
#[derive(Clone, Debug, Default, PartialEq)]
struct Memory {
    idle_kib: u64,
    held: u32,
    held_kib: u64,
    /// Least-squares slope over the samples, bytes per registration.
    slope_bytes: Option<f64>,
    samples: usize,
}

impl Memory {
    fn per_registration_bytes(&self) -> Option<f64> {
        (self.held > 0)
            .then(|| (self.held_kib as f64 - self.idle_kib as f64) * 1024.0 / f64::from(self.held))
    }

    /// MiB at `n` held registrations, from the idle figure and the per-registration one.
    fn extrapolated_mib(&self, n: u32) -> Option<f64> {
        self.per_registration_bytes()
            .map(|b| (self.idle_kib as f64 * 1024.0 + b * f64::from(n)) / 1_048_576.0)
    }
}

/// Slope of the least-squares line through (x, y), or `None` with fewer than two distinct x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

fn measure_memory(
    s: &mut Scratch,
    plan: &Plan,
    target: TargetKind,
    edge: &Proc,
    registrar: &Proc,
) -> Result<Memory, String> {
    std::thread::sleep(Duration::from_secs(2));
    let mut idle: Vec<u64> = (0..3)
        .filter_map(|_| {
            std::thread::sleep(Duration::from_millis(200));
            edge.pss_kib()
        })
        .collect();
    idle.sort_unstable();
    let idle_kib = idle
        .get(idle.len() / 2)
        .copied()
        .ok_or("cannot read the edge's PSS")?;
    let l = Load {
        target: target.tls(),
        users: plan.memory_users,
        rate: plan.memory_rate,
        refresh_rate: 0.0,
        seconds: 3.0,
    };
    let run = run_load(s, &l, edge, registrar, true)?;
    let last_hold = run
        .pss
        .iter()
        .rev()
        .find(|(_, _, holding)| *holding)
        .or(run.pss.last())
        .copied();
    let (held, held_kib) = last_hold
        .map(|(h, k, _)| (h, k))
        .ok_or("the generator printed no progress")?;
    let mut points: Vec<(f64, f64)> = vec![(0.0, idle_kib as f64 * 1024.0)];
    points.extend(
        run.pss
            .iter()
            .filter(|(_, _, holding)| !holding)
            .map(|(h, k, _)| (f64::from(*h), *k as f64 * 1024.0)),
    );
    points.push((f64::from(held), held_kib as f64 * 1024.0));
    Ok(Memory {
        idle_kib,
        held,
        held_kib,
        slope_bytes: slope(&points),
        samples: points.len(),
    })
}

fn initial_sweep(
    s: &mut Scratch,
    plan: &Plan,
    target: TargetKind,
    edge: &mut Proc,
    registrar: &Proc,
) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for &rate in &plan.initial_rates {
        edge.settle(Duration::from_secs(15));
        let users = plan.initial_users(rate);
        let l = Load {
            target: target.tls(),
            users,
            rate,
            refresh_rate: 0.0,
            seconds: 0.0,
        };
        let run = run_load(s, &l, edge, registrar, false)?;
        let mut step = Step::from_bucket(
            rate,
            users,
            &run.summary["initial"],
            &run.start,
            &run.ramp_done,
        );
        step.edge_alive = edge.alive();
        report("new registrations", target, &step);
        steps.push(step);
        if sweep_over(&steps) {
            break;
        }
    }
    Ok(steps)
}

fn refresh_sweep(
    s: &mut Scratch,
    plan: &Plan,
    target: TargetKind,
    edge: &mut Proc,
    registrar: &Proc,
) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for &rate in &plan.refresh_rates {
        edge.settle(Duration::from_secs(15));
        let l = Load {
            target: target.tls(),
            users: plan.refresh_users,
            rate: plan.refresh_ramp,
            refresh_rate: rate,
            seconds: plan.refresh_seconds,
        };
        let run = run_load(s, &l, edge, registrar, false)?;
        let mut step = Step::from_bucket(
            rate,
            plan.refresh_users,
            &run.summary["refresh"],
            &run.ramp_done,
            &run.hold_done,
        );
        step.edge_alive = edge.alive();
        let ramp_failed = run.summary["initial"]["failed"].as_u64().unwrap_or(0);
        if ramp_failed > 0 {
            *step.failures.entry("ramp".into()).or_default() += ramp_failed;
        }
        report("refreshes", target, &step);
        steps.push(step);
        if sweep_over(&steps) {
            break;
        }
    }
    Ok(steps)
}

fn report(what: &str, target: TargetKind, s: &Step) {
    eprintln!(
        "xtask: {} {what} at {}/s: {}/{} ok ({:.2} % failed), p99 {} ms, edge CPU {} % ({} µs \
         per REGISTER), load CPU {} %{}",
        target.name(),
        s.offered,
        s.succeeded,
        s.attempted,
        s.failure_ratio * 100.0,
        fmt_opt(s.p99_ms, 1),
        fmt_opt(s.edge_busy().map(|b| b * 100.0), 0),
        fmt_opt(s.cpu_per_register_us(), 0),
        fmt_opt(s.load_busy().map(|b| b * 100.0), 0),
        if s.edge_alive {
            ""
        } else {
            " — the edge died"
        }
    );
}

/// Everything measured of one target.
#[derive(Debug, Default)]
struct TargetResult {
    kind: Option<TargetKind>,
    /// What ran (versions, processes).
    what: String,
    /// Why it did not run, or stopped.
    problem: Option<String>,
    memory: Option<Memory>,
    initial: Vec<Step>,
    refresh: Vec<Step>,
    /// The edge had to be restarted after dying in a sweep.
    restarts: u32,
}

fn measure_target(s: &mut Scratch, plan: &Plan, kind: TargetKind) -> TargetResult {
    let mut r = TargetResult {
        kind: Some(kind),
        what: match kind {
            TargetKind::Kamailio => format!(
                "{}, OpenSSL {}: `lab/kamailio/kamailio-tls-edge.cfg`, one TCP/TLS worker \
                 (tcp_children=1), `-x tlsf -X tlsf -m 4096`",
                crate::command_output("kamailio", &["-v"])
                    .and_then(|v| v.lines().next().map(kamailio_version))
                    .unwrap_or_else(|| "Kamailio".into()),
                crate::command_output("openssl", &["version"])
                    .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
                    .unwrap_or_else(|| "?".into())
            ),
            TargetKind::Portico => format!(
                "portico `edge run` (all-in-one: E and C in one process, traversal over \
                 loopback mutual TLS, `registration = \"path\"`), {}",
                crate::command_output(&s.edge.display().to_string(), &["version"])
                    .unwrap_or_default()
            ),
        },
        ..TargetResult::default()
    };
    if let Err(e) = measure_into(s, plan, kind, &mut r) {
        eprintln!("xtask: {}: {e}", kind.name());
        r.problem = Some(e);
    }
    r
}

fn start_edge(s: &Scratch, kind: TargetKind) -> Result<Proc, String> {
    match kind {
        TargetKind::Kamailio => start_kamailio_edge(s),
        TargetKind::Portico => start_portico(s),
    }
}

fn measure_into(
    s: &mut Scratch,
    plan: &Plan,
    kind: TargetKind,
    r: &mut TargetResult,
) -> Result<(), String> {
    let registrar = start_registrar(s)?;
    let mut edge = start_edge(s, kind)?;
    probe(s, kind.tls(), &mut edge, &registrar)?;
    eprintln!(
        "xtask: {}: memory with {} held",
        kind.name(),
        plan.memory_users
    );
    r.memory = Some(measure_memory(s, plan, kind, &edge, &registrar)?);
    r.initial = initial_sweep(s, plan, kind, &mut edge, &registrar)?;
    if !edge.alive() {
        drop(edge);
        r.restarts += 1;
        edge = start_edge(s, kind)?;
        probe(s, kind.tls(), &mut edge, &registrar)?;
    }
    r.refresh = refresh_sweep(s, plan, kind, &mut edge, &registrar)?;
    if !edge.alive() {
        r.restarts += 1;
    }
    Ok(())
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode, String> {
    let o = Options::parse(args)?;
    let plan = Plan::new(o.quick);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        return Err("bench register needs 2 CPUs: the edge on CPU 0, the load on CPU 1".into());
    }
    crate::deps::ensure(PACKAGES)?;
    let edge_bin = o.prebuilt.edge(PACKAGES)?;
    let root = crate::workspace_root()?;
    let dir = std::env::temp_dir().join(format!("portico-bench-register-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tls = dir.join("tls");
    let made = Command::new(&edge_bin)
        .args(["sipload", "gen-cert", "--dir"])
        .arg(&tls)
        .args(["--fqdn", FQDN, "--domain", DOMAIN])
        .output()
        .map_err(|e| format!("running edge sipload gen-cert: {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "edge sipload gen-cert: {}",
            String::from_utf8_lossy(&made.stderr).trim()
        ));
    }
    let mut scratch = Scratch {
        ca: tls.join("ca.pem"),
        dir: dir.clone(),
        edge: edge_bin,
        root,
        runs: 0,
        users: 0,
    };
    let results: Vec<TargetResult> = o
        .targets
        .iter()
        .map(|&k| measure_target(&mut scratch, &plan, k))
        .collect();
    let section = render(&plan, cpus, &results);
    let path = o.prebuilt.results()?;
    let old = fs::read_to_string(&path).ok();
    let new = crate::bench_srtp::replace_section(old.as_deref(), &section, (BEGIN, END))?;
    fs::write(&path, new).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("{section}");
    let _ = fs::remove_dir_all(&dir);
    if results
        .iter()
        .any(|r| r.kind == Some(TargetKind::Kamailio) && r.problem.is_some())
    {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// The section

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.decimals$}"))
}

fn failures_text(s: &Step) -> String {
    if s.failures.is_empty() {
        return String::new();
    }
    s.failures
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn steps_table(
    s: &mut String,
    results: &[TargetResult],
    pick: fn(&TargetResult) -> &[Step],
    phones: &str,
) {
    let _ = writeln!(
        s,
        "| edge | offered /s | {phones} | succeeded / offered | failed % | achieved /s | p50 ms | \
         p99 ms | edge CPU % | edge CPU µs per REGISTER | load CPU % | others CPU % | passes | \
         failures |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---|"
    );
    for r in results {
        let name = r.kind.map_or("?", TargetKind::name);
        for st in pick(r) {
            let _ = writeln!(
                s,
                "| {name} | {:.0} | {} | {} / {} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {}{} |",
                st.offered,
                st.phones,
                st.succeeded,
                st.attempted,
                st.failure_ratio * 100.0,
                st.achieved,
                fmt_opt(st.p50_ms, 1),
                fmt_opt(st.p99_ms, 1),
                fmt_opt(st.edge_busy().map(|b| b * 100.0), 0),
                fmt_opt(st.cpu_per_register_us(), 0),
                fmt_opt(st.load_busy().map(|b| b * 100.0), 0),
                fmt_opt(st.others_busy().map(|b| b * 100.0), 0),
                if st.passes() { "yes" } else { "no" },
                failures_text(st),
                if st.edge_alive { "" } else { " **edge died**" }
            );
        }
        if pick(r).is_empty() {
            let _ = writeln!(
                s,
                "| {name} | – | – | – | – | – | – | – | – | – | – | – | – | {} |",
                r.problem
                    .as_deref()
                    .unwrap_or("not measured")
                    .replace('|', "/")
            );
        }
    }
}

fn initial(r: &TargetResult) -> &[Step] {
    &r.initial
}

fn refresh(r: &TargetResult) -> &[Step] {
    &r.refresh
}

/// The highest offered rate every measured target passed (a common point to compare CPU per
/// REGISTER at).
fn common_rate(results: &[TargetResult], pick: fn(&TargetResult) -> &[Step]) -> Option<f64> {
    let measured: Vec<&[Step]> = results.iter().map(pick).filter(|s| !s.is_empty()).collect();
    let first = measured.first()?;
    first
        .iter()
        .filter(|st| st.passes())
        .map(|st| st.offered)
        .filter(|&rate| {
            measured
                .iter()
                .all(|m| m.iter().any(|st| st.offered == rate && st.passes()))
        })
        .fold(None, |acc: Option<f64>, r| {
            Some(acc.map_or(r, |a| a.max(r)))
        })
}

fn knee_text(steps: &[Step]) -> String {
    if steps.is_empty() {
        return "–".into();
    }
    match knee(steps) {
        None => format!("< {:.0}", steps[0].offered),
        Some(k) if steps.iter().all(Step::passes) => {
            let load = steps
                .last()
                .and_then(Step::load_busy)
                .map_or(String::new(), |b| format!(", load CPU {:.0} %", b * 100.0));
            format!("≥ {k:.0} (no failing step{load})")
        }
        Some(k) => {
            // The first failing step: was it the edge, or the load side, that ran out?
            let fail = steps.iter().find(|s| !s.passes());
            match fail.map(|f| (f.edge_busy(), f.load_busy())) {
                Some((Some(e), Some(l))) if l >= 0.9 && e < 0.9 => format!(
                    "{k:.0} (the next step was bound by the load side: load CPU {:.0} %, edge \
                     CPU {:.0} %)",
                    l * 100.0,
                    e * 100.0
                ),
                _ => format!("{k:.0}"),
            }
        }
    }
}

fn render(plan: &Plan, cpus: usize, results: &[TargetResult]) -> String {
    let mut s = String::new();
    let date = relay_process::utc_date();
    let cpu = crate::criterion_results::cpu_model();
    let kernel = crate::command_output("uname", &["-r"]).unwrap_or_default();
    let _ = writeln!(
        s,
        "{BEGIN}\n## register: REGISTER over TLS through an edge, Kamailio 5.6 and portico E+C\n"
    );
    let _ = writeln!(s, "- Date (UTC): {date}");
    let _ = writeln!(
        s,
        "- Command: `cargo xtask bench register{}`",
        if plan.quick { " --quick" } else { "" }
    );
    if plan.quick {
        let _ = writeln!(s, "- **Quick (smoke) run**: do not quote these numbers.");
    }
    let _ = writeln!(s, "- Machine: {cpu}, {cpus} CPUs, kernel {kernel}");
    for r in results {
        let _ = writeln!(
            s,
            "- {}: {}{}{}",
            r.kind.map_or("?", TargetKind::name),
            r.what,
            r.problem
                .as_ref()
                .map_or(String::new(), |p| format!(". **Not measured: {p}**")),
            if r.restarts > 0 {
                format!(" (restarted {} time(s) after dying under load)", r.restarts)
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        s,
        "- Set-up: loopback; the edge alone on CPU 0 (`taskset -c 0`, all its processes and \
         threads); the registrar (Kamailio 5.6, `lab/kamailio/kamailio-bench-registrar.cfg`, \
         no auth, in-memory usrloc, Path kept) and the generator (`edge sipload`, one TLS \
         connection per phone, certificate verified, TLS session resumption off) on CPU 1. Edge \
         CPU = user + system time of the edge's process tree from `/proc`; load CPU = generator \
         + registrar. A step passes with < {:.0} % failures (no final response within {TIMEOUT_S} s \
         counts as one) and p99 < {KNEE_P99_MS:.0} ms, latency from each registration's \
         scheduled time.",
        KNEE_FAILURES * 100.0
    );

    let _ = writeln!(
        s,
        "\n### Summary\n\n| | {} |\n|---|{}",
        results
            .iter()
            .map(|r| r.kind.map_or("?", TargetKind::name))
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(results.len())
    );
    let row = |s: &mut String, label: &str, f: &dyn Fn(&TargetResult) -> String| {
        let cells: Vec<String> = results
            .iter()
            .map(|r| {
                if r.problem.is_some() && r.memory.is_none() {
                    "pending".into()
                } else {
                    f(r)
                }
            })
            .collect();
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    };
    row(&mut s, "new registrations /s (knee)", &|r| {
        knee_text(&r.initial)
    });
    row(&mut s, "refresh REGISTERs /s (knee)", &|r| {
        knee_text(&r.refresh)
    });
    let ci = common_rate(results, initial);
    let cr = common_rate(results, refresh);
    let at = |steps: &[Step], rate: Option<f64>| {
        rate.and_then(|x| steps.iter().find(|st| st.offered == x))
            .and_then(Step::cpu_per_register_us)
    };
    row(
        &mut s,
        &format!(
            "edge CPU per new registration, TLS set-up included (µs, at {} /s)",
            fmt_opt(ci, 0)
        ),
        &|r| fmt_opt(at(&r.initial, ci), 0),
    );
    row(
        &mut s,
        &format!(
            "edge CPU per refresh REGISTER (µs, at {} /s)",
            fmt_opt(cr, 0)
        ),
        &|r| fmt_opt(at(&r.refresh, cr), 0),
    );
    row(
        &mut s,
        "memory per held registration (KiB, PSS Δ/N)",
        &|r| {
            fmt_opt(
                r.memory
                    .as_ref()
                    .and_then(Memory::per_registration_bytes)
                    .map(|b| b / 1024.0),
                1,
            )
        },
    );
    row(
        &mut s,
        "100,000 held (MiB, extrapolated from the line above)",
        &|r| {
            fmt_opt(
                r.memory.as_ref().and_then(|m| m.extrapolated_mib(100_000)),
                0,
            )
        },
    );

    let _ = writeln!(
        s,
        "\n### New registrations: a fresh set of phones per step, each opening its TLS \
         connection and registering at its slot ({:.0} s of phones, at most {})\n",
        plan.initial_seconds, plan.initial_cap
    );
    steps_table(&mut s, results, initial, "phones");
    let _ = writeln!(
        s,
        "\n### Refreshes: {} phones registered, then re-REGISTERing on their held connections \
         at the offered rate for {:.0} s\n",
        plan.refresh_users, plan.refresh_seconds
    );
    steps_table(&mut s, results, refresh, "held");
    let _ = writeln!(
        s,
        "\n### Memory per held registration (PSS of the edge's processes, {} phones ramped at \
         {:.0}/s, then held)\n\n\
         | edge | held | PSS idle MiB | PSS held MiB | KiB per registration (Δ/N) | KiB per \
         registration (fit) | 100,000 held, MiB (extrapolated) |\n\
         |---|---:|---:|---:|---:|---:|---:|",
        plan.memory_users, plan.memory_rate
    );
    for r in results {
        let name = r.kind.map_or("?", TargetKind::name);
        match &r.memory {
            Some(m) => {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {:.1} | {:.1} | {} | {} | {} |",
                    m.held,
                    m.idle_kib as f64 / 1024.0,
                    m.held_kib as f64 / 1024.0,
                    fmt_opt(m.per_registration_bytes().map(|b| b / 1024.0), 1),
                    fmt_opt(m.slope_bytes.map(|b| b / 1024.0), 1),
                    fmt_opt(m.extrapolated_mib(100_000), 0)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "| {name} | – | – | – | – | – | {} |",
                    r.problem
                        .as_deref()
                        .unwrap_or("not measured")
                        .replace('|', "/")
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "\n100,000 held registrations cannot be measured here: each side of a phone's TLS \
         connection is a file descriptor and one process may hold 20,000; the figure is the \
         idle PSS plus 100,000 times the measured per-registration memory. Kernel socket \
         buffers are not in PSS."
    );
    let _ = write!(s, "{END}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_proc::pss_of;

    fn step(offered: f64, failure_ratio: f64, p99: f64) -> Step {
        Step {
            offered,
            phones: 100,
            attempted: 1000,
            succeeded: ((1.0 - failure_ratio) * 1000.0) as u64,
            failure_ratio,
            achieved: offered,
            p50_ms: Some(p99 / 4.0),
            p99_ms: Some(p99),
            window_s: 2.0,
            edge_cpu_s: 1.0,
            load_cpu_s: 0.5,
            edge_alive: true,
            ..Step::default()
        }
    }

    #[test]
    fn knee_and_stop_rules() {
        let steps = vec![
            step(500.0, 0.0, 10.0),
            step(1000.0, 0.005, 300.0),
            step(2000.0, 0.02, 300.0),
            step(4000.0, 0.0, 200.0),
        ];
        assert_eq!(
            knee(&steps),
            Some(1000.0),
            "the last pass before the first failure"
        );
        assert!(!step(1.0, 0.0, 1000.0).passes(), "p99 of a second fails");
        assert!(!step(1.0, 0.01, 10.0).passes(), "1 % failures fails");
        let mut dead = step(1.0, 0.0, 10.0);
        dead.edge_alive = false;
        assert!(!dead.passes());
        assert!(sweep_over(&[dead]));
        assert!(!sweep_over(&[step(1.0, 0.02, 10.0)]));
        assert!(sweep_over(&[step(1.0, 0.2, 10.0)]));
        assert!(sweep_over(&[step(1.0, 0.02, 10.0), step(2.0, 0.0, 2000.0)]));
        assert!(!sweep_over(&[step(1.0, 0.02, 10.0), step(2.0, 0.0, 20.0)]));
        assert_eq!(knee(&[step(1.0, 0.5, 10.0)]), None);
        assert_eq!(knee_text(&[step(1.0, 0.5, 10.0)]), "< 1");
        assert!(knee_text(&[step(1.0, 0.0, 10.0)]).starts_with("≥ 1 (no failing step"));
        let mut load_bound = step(2.0, 0.5, 10.0);
        load_bound.load_cpu_s = 1.9;
        let t = knee_text(&[step(1.0, 0.0, 10.0), load_bound]);
        assert!(
            t.starts_with("1 (the next step was bound by the load side"),
            "{t}"
        );
        assert_eq!(
            knee_text(&[step(1.0, 0.0, 10.0), step(2.0, 0.5, 10.0)]),
            "1"
        );
    }

    #[test]
    fn per_register_and_busy() {
        let s = step(500.0, 0.0, 10.0);
        assert_eq!(s.cpu_per_register_us(), Some(1000.0));
        assert_eq!(s.edge_busy(), Some(0.5));
        assert_eq!(s.load_busy(), Some(0.25));
        assert_eq!(Step::default().cpu_per_register_us(), None);
    }

    #[test]
    fn step_from_generator_output() {
        let b = serde_json::json!({
            "attempted": 3000, "succeeded": 2990, "failed": 10,
            "failed_by_reason": {"timeout": 7, "503": 3},
            "failure_ratio": 0.003333, "per_second": 995.0, "window_s": 3.0,
            "latency_ms": {"p50": 2.5, "p90": 4.0, "p99": 12.0, "max": 40.0}
        });
        let t0 = Instant::now();
        let from = Mark {
            at: Some(t0),
            edge_cpu: 1.0,
            registrar_cpu: 2.0,
            gen_cpu: 0.0,
            others: BTreeMap::from([(7, 1.0)]),
        };
        let to = Mark {
            at: Some(t0 + Duration::from_secs(3)),
            edge_cpu: 2.5,
            registrar_cpu: 2.6,
            gen_cpu: 0.9,
            others: BTreeMap::from([(7, 1.3)]),
        };
        let st = Step::from_bucket(1000.0, 3000, &b, &from, &to);
        assert_eq!(st.attempted, 3000);
        assert_eq!(st.failures["timeout"], 7);
        assert!((st.edge_cpu_s - 1.5).abs() < 1e-9);
        assert!((st.load_cpu_s - 1.5).abs() < 1e-9);
        assert!((st.window_s - 3.0).abs() < 1e-9);
        assert!((st.others_busy().unwrap() - 0.1).abs() < 1e-9);
        assert!(st.passes());
        // The refresh bucket's `offered` wins over `attempted`.
        let mut r = b.clone();
        r["offered"] = serde_json::json!(5000);
        assert_eq!(Step::from_bucket(1.0, 1, &r, &from, &to).attempted, 5000);
    }

    #[test]
    fn memory_math() {
        let m = Memory {
            idle_kib: 10_240,
            held: 10_000,
            held_kib: 10_240 + 500_000,
            slope_bytes: slope(&[(0.0, 0.0), (1000.0, 51_200_000.0), (2000.0, 102_400_000.0)]),
            samples: 3,
        };
        assert_eq!(m.per_registration_bytes(), Some(51_200.0));
        assert_eq!(m.slope_bytes, Some(51_200.0));
        // 10 MiB idle + 100,000 × 50 KiB.
        let mib = m.extrapolated_mib(100_000).unwrap();
        assert!(
            (mib - (10.0 + 100_000.0 * 50.0 / 1024.0)).abs() < 1e-6,
            "{mib}"
        );
        assert_eq!(slope(&[(1.0, 1.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0)]), None);
        assert_eq!(
            pss_of("Rss: 10 kB\nPss:                1234 kB\n"),
            Some(1234)
        );
        assert_eq!(pss_of("Rss: 10 kB\n"), None);
        let stat = "123 (a (b) c) S 45 123 123 0 -1 4194304 10 0 0 0 150 50 30 20 20 0 1 0 9";
        assert_eq!(stat_cpu_with_children(stat), Some((45, 2.5)));
        assert_eq!(stat_cpu_with_children("1 (x) S"), None);
        let a = BTreeMap::from([(1, 1.0), (2, 5.0), (3, 1.0)]);
        let b = BTreeMap::from([(1, 1.5), (2, 4.0), (4, 9.0)]);
        assert_eq!(
            others_delta(&a, &b),
            0.5,
            "only pids at both marks, never negative"
        );
        assert!(!other_processes(&[]).is_empty());
        assert_eq!(
            held_of("sipload: t=3.0 ramp held=2999 initial_done=3000"),
            Some(2999)
        );
        assert_eq!(held_of("sipload: nothing"), None);
    }

    #[test]
    fn plan_and_options() {
        let full = Plan::new(false);
        assert_eq!(full.initial_users(4000.0), 12_000);
        assert_eq!(full.initial_users(250.0), 750);
        assert!(
            full.memory_users + 64 < 20_000,
            "one process holds every phone's fd"
        );
        let quick = Plan::new(true);
        assert!(quick.quick && quick.memory_users < 1000);
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Options::parse(&args(&[
            "--quick",
            "--results",
            "/r",
            "--targets",
            "kamailio",
        ]))
        .unwrap();
        assert!(o.quick);
        assert_eq!(o.targets, vec![TargetKind::Kamailio]);
        assert_eq!(o.prebuilt.results, Some(PathBuf::from("/r")));
        assert!(Options::parse(&args(&["--targets", "asterisk"])).is_err());
        assert!(Options::parse(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn generated_files() {
        let c = portico_config(Path::new("/tmp/x/tls"));
        assert!(c.contains("role = \"all-in-one\""));
        assert!(c.contains(&format!("sip_tls = \"{PORTICO_TLS}\"")));
        assert!(
            c.contains("call_control = [{ address = \"127.0.0.1:25060\", transport = \"tcp\" }]")
        );
        assert!(c.contains("directory = \"/tmp/x/tls\""));
        for port in ["5060\"", "5061\"", "7001\"", "8080\""] {
            assert!(
                !c.contains(&format!("127.0.0.1:{port}")),
                "{port} is the lab's"
            );
        }
        let t = kamailio_tls_cfg(Path::new("/c.pem"), Path::new("/c.key"));
        assert!(t.contains("[server:default]") && t.contains("certificate = /c.pem"));
        assert_eq!(
            kamailio_version("version: kamailio 5.6.3 (x86_64/linux) "),
            "kamailio 5.6.3"
        );
        assert!(has_run_command(
            "commands:\n  demo\n  run --config PATH\n      Runs"
        ));
        assert!(!has_run_command("commands:\n  demo\n  relay [--run]\n"));
        assert!(!has_run_command(
            "The E and C roles (`edge run`) are not built yet."
        ));
    }

    #[test]
    fn common_rate_and_section() {
        let a = TargetResult {
            kind: Some(TargetKind::Kamailio),
            what: "Kamailio".into(),
            memory: Some(Memory {
                idle_kib: 1024,
                held: 100,
                held_kib: 1024 + 100,
                slope_bytes: Some(1024.0),
                samples: 2,
            }),
            initial: vec![
                step(500.0, 0.0, 10.0),
                step(1000.0, 0.0, 10.0),
                step(2000.0, 0.5, 10.0),
            ],
            refresh: vec![step(1000.0, 0.0, 5.0)],
            ..TargetResult::default()
        };
        let b = TargetResult {
            kind: Some(TargetKind::Portico),
            what: "portico".into(),
            problem: Some("pending `edge run`".into()),
            ..TargetResult::default()
        };
        let results = vec![a, b];
        assert_eq!(common_rate(&results, initial), Some(1000.0));
        let s = render(&Plan::new(true), 2, &results);
        assert!(s.starts_with(BEGIN) && s.ends_with(END));
        assert!(
            s.contains("| new registrations /s (knee) | 1000 | pending |"),
            "{s}"
        );
        assert!(s.contains("| kamailio | 1000 | 100 | 1000 / 1000 |"), "{s}");
        assert!(s.contains("**Not measured: pending `edge run`**"), "{s}");
        assert!(
            s.contains("| memory per held registration (KiB, PSS Δ/N) | 1.0 | pending |"),
            "{s}"
        );
    }
}
