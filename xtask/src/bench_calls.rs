//! `cargo xtask bench calls`: calls with media through an edge, Kamailio + rtpengine and
//! portico E+C side by side, on loopback.
//!
//! The load is `edge sipload calls`: remote **callers**, each its own TLS connection to the
//! edge, registered through it (Digest), offer `RTP/SAVP` with an SDES key of their own; inside
//! **callees**, registered directly at call control over UDP, answer `RTP/AVP`. Both ends send
//! 50 packets per second of PCMU (160 bytes, 20 ms), so the edge terminates SRTP outside and
//! carries plain RTP inside: the media job of an MRA edge.
//!
//! Call control is Kamailio 5.6 (`lab/kamailio/kamailio-bench-calls-registrar.cfg`, UDP+TCP
//! 127.0.0.2:25160: registrar with Digest, INVITE Record-Routed and relayed to the callee's
//! contact). It has an address of its own, not the edges' 127.0.0.1 (see [`REGISTRAR`]). The
//! edges under test, one after the other, each on a fresh call control:
//!
//! - **kamailio**: Kamailio 5.6 as the TLS edge (`lab/kamailio/kamailio-bench-calls-edge.cfg`,
//!   TLS on 127.0.0.1:25161, Record-Route, stateful relay to call control over TCP) driving
//!   rtpengine-daemon (userspace forwarding, `--table=-1`, ng on 127.0.0.1:25190): offer with
//!   `RTP/AVP` toward the inside, the answer back in the caller's `RTP/SAVP` with rtpengine's
//!   own SDES key; deleted on BYE;
//! - **portico**: `edge run` all-in-one (E's SIP TLS on 127.0.0.1:25162, C on 127.0.0.3:25165
//!   to call control over TCP, `registration = "path"`, the traversal between them over
//!   loopback mutual TLS, E's media on 127.0.0.1 and C's on 127.0.0.3, both from 3000-24999
//!   split in two, traversal pair 2998).
//!
//! **Pinning** (2 CPUs): the edge alone on CPU 0 (Kamailio's processes and rtpengine, or the
//! one `edge run` process); the generator and call control on CPU 1.
//!
//! Per target, on a freshly started edge and call control:
//!
//! 1. **Concurrent calls.** For each level N: N calls placed at [`Plan::ramp_rate`] per second,
//!    each held until all N have been up together for [`Plan::steady_s`] seconds. In the
//!    window where all N are up (from the generator's per-second progress lines), the edge's
//!    CPU over the packets delivered end to end = **CPU per media packet**; the edge's busy
//!    fraction gives **calls per core** (N / busy, an extrapolation). A level passes with no
//!    set-up failure and < 0.1 % loss in each direction over the whole run.
//! 2. **Call set-up rate.** Steps of offered rate R, [`Plan::step_s`] seconds of calls each,
//!    held [`Plan::step_hold_s`] s (media on). A step passes with < 1 % failed set-ups and a
//!    p99 set-up time (INVITE scheduled → 200) under [`KNEE_P99_MS`]; the knee is the last
//!    passing rate before the first failing one. Edge CPU over the step, less the media packets
//!    of the step at the per-packet cost of part 1, per call = **CPU per call set-up**
//!    (INVITE, 200, ACK, BYE, 200 through the edge, media allocated and released).
//!
//! Edge CPU is user + system time from `/proc`: the Kamailio tree plus rtpengine, or the
//! `edge run` process, split by thread into E's media worker, C's media worker (both named
//! `media-0`; E's plane starts first, so the lower thread id is E's) and the rest (signaling of
//! E and C, one tokio runtime). Load CPU = generator + call control (CPU 1).
//!
//! Writes `benches/RESULTS.md` between `<!-- calls:begin -->` and `<!-- calls:end -->` (or the
//! file `--results` names), and `benches/calls.svg` with gnuplot when it is installed.
//! `--quick` is a smoke run (about two minutes; its figures are not fit to be reported);
//! `--edge PATH` runs a prebuilt `edge`; `--targets kamailio,portico` chooses the targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bench_proc::{process_tree, Proc};
use crate::deps::Package;
use crate::relay_process::{self, PrebuiltOptions};

const BEGIN: &str = "<!-- calls:begin -->";
const END: &str = "<!-- calls:end -->";

/// Call control. Not on 127.0.0.1: portico's C takes any Route naming its own host for itself,
/// whatever the port (`OwnNames::is_ours`), so with call control on C's address C dropped call
/// control's Record-Route from ACK and BYE and call control answered 404.
const REGISTRAR: &str = "127.0.0.2:25160";
const KAMAILIO_TLS: &str = "127.0.0.1:25161";
const PORTICO_TLS: &str = "127.0.0.1:25162";
const RTPENGINE_NG: &str = "127.0.0.1:25190";
/// Where the callees are (SIP over UDP and RTP).
const INSIDE: &str = "127.0.0.4";
const FQDN: &str = "expe.example.test";
const DOMAIN: &str = "example.test";
const PASSWORD: &str = "bench-password";
const EDGE_CPU: &str = "0";
const LOAD_CPU: &str = "1";
/// The media range of both edges (rtpengine's ports; portico's E and C halves), below the
/// kernel's ephemeral ports, which the generator's sockets take, and below the SIP ports. C
/// takes two pairs per call (its leg toward E's traversal pair and its inside leg) and keeps a
/// released pair 2 s in quarantine: at 640 calls/s held 1 s that is some 5,000 of its 5,500.
const MEDIA_RANGE: (u16, u16) = (3000, 24999);

/// Failed set-ups under which a rate step passes.
const KNEE_FAILURES: f64 = 0.01;
/// p99 set-up time under which a rate step passes, ms.
const KNEE_P99_MS: f64 = 100.0;
/// Loss (each direction) under which a concurrency level passes.
const MAX_LOSS: f64 = 0.001;
/// No final answer after this long is a failed set-up.
const TIMEOUT_S: f64 = 5.0;
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
        why: "Kamailio 5.6: call control behind the edges, and the edge anchor",
    },
    Package {
        name: "kamailio-tls-modules",
        why: "TLS for the Kamailio edge anchor",
    },
    Package {
        name: "rtpengine-daemon",
        why: "the media relay of the Kamailio edge anchor",
    },
];

/// What a run does.
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    quick: bool,
    levels: Vec<u32>,
    ramp_rate: f64,
    steady_s: f64,
    rates: Vec<f64>,
    step_s: f64,
    step_hold_s: f64,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                levels: vec![50, 150],
                ramp_rate: 50.0,
                steady_s: 3.0,
                rates: vec![20.0, 80.0],
                step_s: 3.0,
                step_hold_s: 1.0,
            }
        } else {
            Plan {
                quick,
                levels: vec![100, 200, 400, 800],
                ramp_rate: 40.0,
                steady_s: 8.0,
                rates: vec![20.0, 40.0, 80.0, 160.0, 240.0, 320.0, 480.0, 640.0],
                step_s: 6.0,
                step_hold_s: 1.0,
            }
        }
    }

    /// Calls in a rate step.
    fn step_calls(&self, rate: f64) -> u32 {
        ((rate * self.step_s).ceil() as u32).max(1)
    }

    /// Phones in a rate step: enough that a phone has one call at a time.
    fn step_phones(&self, rate: f64) -> u32 {
        let busy = (rate * (self.step_hold_s + 2.0)).ceil() as u32 + 10;
        busy.min(self.step_calls(rate)).clamp(1, 2000)
    }

    /// How long each call of level `n` is held: all `n` up together for `steady_s`.
    fn level_hold(&self, n: u32) -> f64 {
        f64::from(n) / self.ramp_rate + self.steady_s + 1.0
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
            TargetKind::Kamailio => "kamailio+rtpengine",
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
                .ok_or_else(|| format!("bench calls: {flag} needs a value"))?;
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
                                "bench calls: unknown target {other:?} (kamailio, portico)"
                            )),
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(format!("bench calls: unknown option {other:?}")),
            }
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// (thread id, name, user + system CPU seconds) of every thread of `pid`.
fn threads(pid: u32) -> Vec<(u32, String, f64)> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in dir.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        if let Some((name, cpu)) = thread_cpu(&stat) {
            out.push((tid, name, cpu));
        }
    }
    out.sort_by_key(|t| t.0);
    out
}

/// (name, utime + stime seconds) from a `/proc/PID/task/TID/stat` line.
fn thread_cpu(stat: &str) -> Option<(String, f64)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((name, ticks as f64 / 100.0))
}

/// portico's CPU by part: the first `media-*` thread is E's media worker (E's plane starts
/// first), the others C's; the rest is signaling (E and C) and the process's other threads.
fn portico_parts(threads: &[(u32, String, f64)]) -> BTreeMap<&'static str, f64> {
    let mut parts = BTreeMap::from([("E media", 0.0), ("C media", 0.0), ("signaling", 0.0)]);
    let mut media_seen = false;
    for (_, name, cpu) in threads {
        let part = if name.starts_with("media-") {
            let p = if media_seen { "C media" } else { "E media" };
            media_seen = true;
            p
        } else {
            "signaling"
        };
        *parts.entry(part).or_default() += cpu;
    }
    parts
}

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

fn wait_tcp(addr: &str, p: &mut Proc, limit: Duration) -> Result<(), String> {
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

fn ng_ping() -> bool {
    let Ok(s) = std::net::UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    if s.send_to(b"1 d7:command4:pinge", RTPENGINE_NG).is_err() {
        return false;
    }
    let mut b = [0u8; 256];
    s.recv(&mut b)
        .is_ok_and(|n| b[..n].windows(4).any(|w| w == b"pong"))
}

struct Scratch {
    dir: PathBuf,
    edge: PathBuf,
    root: PathBuf,
    ca: PathBuf,
    runs: u32,
    users: u32,
}

impl Scratch {
    /// A fresh loopback source address for the callers and a block of AORs (callers, then as
    /// many callees) for one generator run.
    fn next(&mut self, phones: u32) -> (String, u32) {
        self.runs += 1;
        let n = self.runs;
        let first = self.users;
        self.users += 2 * phones;
        (format!("127.0.{}.{}", 1 + n / 250, 1 + n % 250), first)
    }
}

fn start_registrar(s: &Scratch) -> Result<Proc, String> {
    let run = s.dir.join("run-registrar");
    fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
    let cfg = s
        .root
        .join("lab/kamailio/kamailio-bench-calls-registrar.cfg");
    let mut args: Vec<String> = vec!["-DD".into(), "-E".into()];
    args.extend(KAMAILIO_MALLOC.iter().map(|x| x.to_string()));
    args.extend(["-m".into(), "1024".into(), "-f".into()]);
    args.push(cfg.display().to_string());
    args.extend(["-Y".into(), run.display().to_string()]);
    for (k, v) in [
        (
            "BENCH_CTL",
            format!("unix:{}", s.dir.join("registrar_ctl").display()),
        ),
        ("BENCH_PASSWORD", PASSWORD.to_owned()),
    ] {
        args.push("-A".into());
        args.push(format!("{k}=\"{v}\""));
    }
    let mut p = Proc::spawn(
        "call control (Kamailio)",
        &mut pinned(LOAD_CPU, Path::new("kamailio"), &args),
        s.dir.join("registrar.log"),
    )?;
    wait_tcp(REGISTRAR, &mut p, Duration::from_secs(20))?;
    Ok(p)
}

/// The tls module's file for the Kamailio edge (no client certificates either way).
fn kamailio_tls_cfg(cert: &Path, key: &Path) -> String {
    format!(
        "# written by cargo xtask bench calls\n\
         [server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
         certificate = {}\nprivate_key = {}\n\n\
         [client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n",
        cert.display(),
        key.display()
    )
}

/// The edge under test: its processes (two for the anchor: Kamailio and rtpengine).
struct Edge {
    kind: TargetKind,
    procs: Vec<Proc>,
}

impl Edge {
    fn alive(&mut self) -> bool {
        self.procs.iter_mut().all(Proc::alive)
    }

    fn cpu_s(&self) -> f64 {
        self.procs.iter().map(Proc::cpu_s).sum()
    }

    /// CPU seconds by part: Kamailio / rtpengine, or portico's threads.
    fn parts(&self) -> BTreeMap<&'static str, f64> {
        match self.kind {
            TargetKind::Kamailio => {
                let mut m = BTreeMap::new();
                for (p, name) in self.procs.iter().zip(["kamailio", "rtpengine"]) {
                    m.insert(name, p.cpu_s());
                }
                m
            }
            TargetKind::Portico => self
                .procs
                .first()
                .map(|p| portico_parts(&threads(p.child.id())))
                .unwrap_or_default(),
        }
    }

    fn log_tail(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("{}: {}", p.name, p.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn start_kamailio(s: &Scratch) -> Result<Edge, String> {
    let (lo, hi) = MEDIA_RANGE;
    let rtpengine_args: Vec<String> = [
        "--config-file=none".to_owned(),
        "--table=-1".into(),
        "--interface=127.0.0.1".into(),
        format!("--listen-ng={RTPENGINE_NG}"),
        format!("--port-min={lo}"),
        format!("--port-max={hi}"),
        "--delete-delay=0".into(),
        "--foreground".into(),
        "--log-stderr".into(),
        "--log-level=3".into(),
    ]
    .into();
    let rtpengine = Proc::spawn(
        "rtpengine",
        &mut pinned(EDGE_CPU, Path::new("rtpengine"), &rtpengine_args),
        s.dir.join("rtpengine.log"),
    )?;
    let until = Instant::now() + Duration::from_secs(20);
    while !ng_ping() {
        if Instant::now() > until {
            return Err(format!(
                "rtpengine did not answer on {RTPENGINE_NG}: {}",
                rtpengine.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = s.dir.join("run-edge");
    fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
    let (cert, key) = (s.dir.join("tls/e.pem"), s.dir.join("tls/e.key"));
    let tls_cfg = s.dir.join("kamailio-tls.cfg");
    fs::write(&tls_cfg, kamailio_tls_cfg(&cert, &key))
        .map_err(|e| format!("{}: {e}", tls_cfg.display()))?;
    let cfg = s.root.join("lab/kamailio/kamailio-bench-calls-edge.cfg");
    let mut args: Vec<String> = vec!["-DD".into(), "-E".into()];
    args.extend(KAMAILIO_MALLOC.iter().map(|x| x.to_string()));
    args.extend(["-m".into(), "1024".into(), "-f".into()]);
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
        ("BENCH_REGISTRAR", format!("sip:{REGISTRAR};transport=tcp")),
        ("RTPENGINE_SOCK", format!("udp:{RTPENGINE_NG}")),
    ] {
        args.push("-A".into());
        args.push(format!("{k}=\"{v}\""));
    }
    let mut kamailio = Proc::spawn(
        "call edge (Kamailio)",
        &mut pinned(EDGE_CPU, Path::new("kamailio"), &args),
        s.dir.join("kamailio-edge.log"),
    )?;
    wait_tcp(KAMAILIO_TLS, &mut kamailio, Duration::from_secs(20))?;
    Ok(Edge {
        kind: TargetKind::Kamailio,
        procs: vec![kamailio, rtpengine],
    })
}

/// The all-in-one configuration of the portico target (schema: edge/src/config.rs).
fn portico_config(tls_dir: &Path) -> String {
    let (lo, hi) = MEDIA_RANGE;
    format!(
        "# written by cargo xtask bench calls: E and C in one process on CPU 0\n\
         role = \"all-in-one\"\n\
         domains = [\"{DOMAIN}\"]\n\n\
         [e]\n\
         fqdn = \"{FQDN}\"\n\
         sip_tls = \"{PORTICO_TLS}\"\n\
         https = \"127.0.0.1:25443\"\n\
         xmpp = \"127.0.0.1:25222\"\n\
         traversal_sip = \"127.0.0.1:25171\"\n\
         traversal_http = \"127.0.0.1:25172\"\n\
         traversal_xmpp = \"127.0.0.1:25174\"\n\n\
         [c]\n\
         fqdn = \"expc.example.test\"\n\
         username = \"bench\"\n\
         password = \"bench-only-password\"\n\
         call_control = [{{ address = \"{REGISTRAR}\", transport = \"tcp\" }}]\n\
         registration = \"path\"\n\
         phone_security_profiles = [\"jabber.secure.example.test\"]\n\
         sip_listen = \"127.0.0.3:25165\"\n\n\
         [tls]\n\
         generate = true\n\
         directory = \"{}\"\n\n\
         [media]\n\
         bind = \"127.0.0.1\"\n\
         range = \"{lo}-{hi}\"\n\
         traversal_pairs = [{}]\n\
         cores = [{EDGE_CPU}]\n\
         backend = \"auto\"\n\n\
         [admin]\n\
         address = \"127.0.0.1:25180\"\n",
        tls_dir.display(),
        lo - 2,
    )
}

fn start_portico(s: &Scratch) -> Result<Edge, String> {
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
    wait_tcp(PORTICO_TLS, &mut p, Duration::from_secs(30))?;
    Ok(Edge {
        kind: TargetKind::Portico,
        procs: vec![p],
    })
}

fn start_edge(s: &Scratch, kind: TargetKind) -> Result<Edge, String> {
    match kind {
        TargetKind::Kamailio => start_kamailio(s),
        TargetKind::Portico => start_portico(s),
    }
}

// ---------------------------------------------------------------------------------------------
// The generator

/// One `edge sipload calls` run.
#[derive(Clone, Copy, Debug)]
struct Load {
    target: &'static str,
    phones: u32,
    calls: u32,
    rate: f64,
    hold: f64,
}

/// CPU and the generator's counters at one of its progress lines.
#[derive(Clone, Debug, Default)]
struct Mark {
    at: Option<Instant>,
    what: String,
    edge_cpu: f64,
    parts: BTreeMap<&'static str, f64>,
    load_cpu: f64,
    active: u64,
    media_rx: u64,
}

/// `key=value` of a progress line.
fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
}

/// What a progress line says it is (`calls start`, `calls`, `calls done`, …).
fn line_kind(line: &str) -> String {
    line.split_whitespace()
        .skip(2)
        .take_while(|w| !w.contains('='))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Default)]
struct LoadRun {
    summary: Value,
    marks: Vec<Mark>,
}

impl LoadRun {
    fn mark(&self, what: &str) -> Option<&Mark> {
        self.marks.iter().find(|m| m.what == what)
    }
}

fn run_load(s: &mut Scratch, l: &Load, edge: &Edge, registrar: &Proc) -> Result<LoadRun, String> {
    let (bind, first) = s.next(l.phones);
    let args: Vec<String> = [
        "sipload",
        "calls",
        "--target",
        l.target,
        "--registrar",
        REGISTRAR,
    ]
    .iter()
    .map(|x| x.to_string())
    .chain([
        "--ca".into(),
        s.ca.display().to_string(),
        "--server-name".into(),
        FQDN.into(),
        "--domain".into(),
        DOMAIN.into(),
        "--password".into(),
        PASSWORD.into(),
        "--phones".into(),
        l.phones.to_string(),
        "--first-user".into(),
        first.to_string(),
        "--calls".into(),
        l.calls.to_string(),
        "--rate".into(),
        l.rate.to_string(),
        "--hold".into(),
        l.hold.to_string(),
        "--register-rate".into(),
        "500".into(),
        "--timeout".into(),
        TIMEOUT_S.to_string(),
        "--bind".into(),
        bind,
        "--inside".into(),
        INSIDE.into(),
    ])
    .collect();
    let mut child = pinned(LOAD_CPU, &s.edge, &args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting edge sipload calls: {e}"))?;
    let pid = child.id();
    let mut run = LoadRun::default();
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.starts_with("sipload: t=") {
                run.marks.push(Mark {
                    at: Some(Instant::now()),
                    what: line_kind(&line),
                    edge_cpu: edge.cpu_s(),
                    parts: edge.parts(),
                    load_cpu: registrar.cpu_s()
                        + process_tree(pid)
                            .into_iter()
                            .filter_map(relay_process::cpu_seconds)
                            .sum::<f64>(),
                    active: field(&line, "active").unwrap_or(0),
                    media_rx: field(&line, "media_rx").unwrap_or(0),
                });
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
        .map_err(|e| format!("waiting for edge sipload calls: {e}"))?;
    if !status.success() {
        return Err(format!(
            "edge sipload calls failed ({status}): {}",
            tail.join("\n")
        ));
    }
    run.summary =
        serde_json::from_str(&out).map_err(|e| format!("edge sipload calls output: {e}"))?;
    Ok(run)
}

/// One call through the edge, held briefly: the edge, call control and the generator work.
fn probe(s: &mut Scratch, edge: &mut Edge, registrar: &Proc) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let l = Load {
            target: edge.kind.tls(),
            phones: 1,
            calls: 1,
            rate: 1.0,
            hold: 0.5,
        };
        let r = run_load(s, &l, edge, registrar)?;
        let down = &r.summary["media"]["inside_to_outside"]["received"];
        if r.summary["setup"]["succeeded"].as_u64() == Some(1)
            && r.summary["teardown"]["bye_ok"].as_u64() == Some(1)
            && down.as_u64().unwrap_or(0) > 0
        {
            return Ok(());
        }
        if !edge.alive() || Instant::now() > until {
            return Err(format!(
                "{}: a probe call did not go through: set-up {}, teardown {}, media {}; logs: {}",
                edge.kind.name(),
                r.summary["setup"]["failed_by_reason"],
                r.summary["teardown"],
                r.summary["media"],
                edge.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until the edge's CPU time stops moving (at most `limit`).
fn settle(edge: &Edge, limit: Duration) {
    let until = Instant::now() + limit;
    let mut last = edge.cpu_s();
    std::thread::sleep(Duration::from_millis(500));
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(500));
        let now = edge.cpu_s();
        if now - last < 0.02 {
            return;
        }
        last = now;
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// Loss of one direction from the generator's summary.
fn loss(v: &Value) -> (u64, u64, f64) {
    (
        v["lost"].as_u64().unwrap_or(0),
        v["received"].as_u64().unwrap_or(0),
        v["loss_ratio"].as_f64().unwrap_or(1.0),
    )
}

/// What both kinds of step read from a run.
#[derive(Clone, Debug, Default, PartialEq)]
struct Common {
    calls: u32,
    established: u64,
    failures: BTreeMap<String, u64>,
    failure_ratio: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    up_loss: f64,
    down_loss: f64,
    up_lost_at_start: u64,
    bye_failed: u64,
    late_sends: u64,
    /// Media packets the generator sent, both ways.
    sent: u64,
    edge_alive: bool,
}

impl Common {
    fn from_summary(v: &Value) -> Common {
        let setup = &v["setup"];
        let failures = setup["failed_by_reason"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        Common {
            calls: v["calls"].as_u64().unwrap_or(0) as u32,
            established: setup["succeeded"].as_u64().unwrap_or(0),
            failures,
            failure_ratio: setup["failure_ratio"].as_f64().unwrap_or(1.0),
            p50_ms: setup["latency_ms"]["p50"].as_f64(),
            p99_ms: setup["latency_ms"]["p99"].as_f64(),
            up_loss: loss(&v["media"]["outside_to_inside"]).2,
            down_loss: loss(&v["media"]["inside_to_outside"]).2,
            up_lost_at_start: v["media"]["outside_to_inside"]["lost_at_start"]
                .as_u64()
                .unwrap_or(0),
            bye_failed: v["teardown"]["bye_failed_by_reason"]
                .as_object()
                .map_or(0, |m| m.values().filter_map(Value::as_u64).sum()),
            late_sends: v["media"]["sends_late_over_10ms"].as_u64().unwrap_or(0),
            sent: ["outside_to_inside", "inside_to_outside"]
                .iter()
                .filter_map(|d| v["media"][d]["sent"].as_u64())
                .sum(),
            edge_alive: true,
        }
    }

    /// More than 1 % of the generator's packets went out over 10 ms late: it fell behind (its
    /// core was short), and what it measured is not the edge's.
    fn generator_bound(&self) -> bool {
        self.late_sends * 100 > self.sent.max(1)
    }

    fn failures_text(&self) -> String {
        let mut s: Vec<String> = self
            .failures
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if self.bye_failed > 0 {
            s.push(format!("BYE failed: {}", self.bye_failed));
        }
        if self.up_lost_at_start > 0 {
            s.push(format!(
                "first packet lost outside → inside: {}",
                self.up_lost_at_start
            ));
        }
        if self.generator_bound() {
            s.push(format!(
                "**generator-bound** (its packets late > 10 ms: {} of {}): not the edge's figure",
                self.late_sends, self.sent
            ));
        } else if self.late_sends > 0 {
            s.push(format!(
                "generator late > 10 ms: {} packets",
                self.late_sends
            ));
        }
        if !self.edge_alive {
            s.push("**edge died**".into());
        }
        s.join(", ")
    }
}

/// A concurrency level.
#[derive(Clone, Debug, Default, PartialEq)]
struct Level {
    n: u32,
    c: Common,
    /// The steady window (all N up): seconds, edge CPU, by part, load CPU, packets delivered.
    window_s: f64,
    edge_cpu_s: f64,
    parts: BTreeMap<&'static str, f64>,
    load_cpu_s: f64,
    packets: u64,
}

impl Level {
    fn passes(&self) -> bool {
        self.c.edge_alive
            && !self.c.generator_bound()
            && self.c.failures.is_empty()
            && self.c.established == u64::from(self.n)
            && self.c.up_loss < MAX_LOSS
            && self.c.down_loss < MAX_LOSS
    }

    fn us_per_packet(&self) -> Option<f64> {
        (self.packets > 0).then(|| self.edge_cpu_s * 1e6 / self.packets as f64)
    }

    fn part_us_per_packet(&self, part: &str) -> Option<f64> {
        (self.packets > 0)
            .then(|| self.parts.get(part).map(|c| c * 1e6 / self.packets as f64))
            .flatten()
    }

    fn edge_busy(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.edge_cpu_s / self.window_s)
    }

    fn load_busy(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.load_cpu_s / self.window_s)
    }

    /// Calls one core carries at this cost (N / busy): an extrapolation.
    fn calls_per_core(&self) -> Option<f64> {
        self.edge_busy()
            .filter(|b| *b > 0.0)
            .map(|b| f64::from(self.n) / b)
    }

    fn part_calls_per_core(&self, part: &str) -> Option<f64> {
        let busy = self.parts.get(part)? / self.window_s;
        (self.window_s > 0.0 && busy > 0.0).then(|| f64::from(self.n) / busy)
    }

    /// From a run's marks: the window where all N calls were up.
    fn from_run(n: u32, run: &LoadRun) -> Level {
        let full: Vec<&Mark> = run
            .marks
            .iter()
            .filter(|m| m.what == "calls" && m.active == u64::from(n))
            .collect();
        let mut l = Level {
            n,
            c: Common::from_summary(&run.summary),
            ..Level::default()
        };
        if let (Some(a), Some(z)) = (full.first(), full.last()) {
            if let (Some(ta), Some(tz)) = (a.at, z.at) {
                l.window_s = tz.saturating_duration_since(ta).as_secs_f64();
                l.edge_cpu_s = (z.edge_cpu - a.edge_cpu).max(0.0);
                l.load_cpu_s = (z.load_cpu - a.load_cpu).max(0.0);
                l.packets = z.media_rx.saturating_sub(a.media_rx);
                l.parts = z
                    .parts
                    .iter()
                    .map(|(k, v)| (*k, (v - a.parts.get(k).copied().unwrap_or(0.0)).max(0.0)))
                    .collect();
            }
        }
        l
    }
}

/// A rate step.
#[derive(Clone, Debug, Default, PartialEq)]
struct RateStep {
    rate: f64,
    c: Common,
    window_s: f64,
    edge_cpu_s: f64,
    load_cpu_s: f64,
    packets: u64,
    max_concurrent: u64,
}

impl RateStep {
    fn passes(&self) -> bool {
        self.c.edge_alive
            && self.c.failure_ratio < KNEE_FAILURES
            && self.c.p99_ms.is_some_and(|p| p < KNEE_P99_MS)
            && self.c.established > 0
    }

    fn edge_busy(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.edge_cpu_s / self.window_s)
    }

    fn load_busy(&self) -> Option<f64> {
        (self.window_s > 0.0).then(|| self.load_cpu_s / self.window_s)
    }

    /// Edge CPU per established call, media included.
    fn us_per_call(&self) -> Option<f64> {
        (self.c.established > 0).then(|| self.edge_cpu_s * 1e6 / self.c.established as f64)
    }

    /// Edge CPU per call with the step's media taken off at `us_per_packet`.
    fn us_per_setup(&self, us_per_packet: Option<f64>) -> Option<f64> {
        let p = us_per_packet?;
        (self.c.established > 0).then(|| {
            (self.edge_cpu_s * 1e6 - self.packets as f64 * p).max(0.0) / self.c.established as f64
        })
    }

    fn from_run(rate: f64, run: &LoadRun) -> RateStep {
        let mut st = RateStep {
            rate,
            c: Common::from_summary(&run.summary),
            max_concurrent: run.summary["max_concurrent"].as_u64().unwrap_or(0),
            ..RateStep::default()
        };
        if let (Some(a), Some(z)) = (run.mark("calls start"), run.mark("calls done")) {
            if let (Some(ta), Some(tz)) = (a.at, z.at) {
                st.window_s = tz.saturating_duration_since(ta).as_secs_f64();
                st.edge_cpu_s = (z.edge_cpu - a.edge_cpu).max(0.0);
                st.load_cpu_s = (z.load_cpu - a.load_cpu).max(0.0);
                st.packets = z.media_rx.saturating_sub(a.media_rx);
            }
        }
        st
    }
}

/// The knee: the last passing rate before the first failing step.
fn knee(steps: &[RateStep]) -> Option<f64> {
    steps
        .iter()
        .take_while(|s| s.passes())
        .map(|s| s.rate)
        .last()
}

/// Stop a sweep after: the edge died, 10 % failed, or two failing steps in a row.
fn rate_sweep_over(steps: &[RateStep]) -> bool {
    match steps {
        [.., last] if !last.c.edge_alive || last.c.failure_ratio >= 0.10 => true,
        [.., a, b] => !a.passes() && !b.passes(),
        _ => false,
    }
}

#[derive(Debug, Default)]
struct TargetResult {
    kind: Option<TargetKind>,
    what: String,
    problem: Option<String>,
    levels: Vec<Level>,
    rates: Vec<RateStep>,
    restarts: u32,
}

impl TargetResult {
    /// CPU per packet at the highest passing level (else the highest measured).
    fn reference_level(&self) -> Option<&Level> {
        self.levels
            .iter()
            .rev()
            .find(|l| l.passes() && l.packets > 0)
            .or_else(|| self.levels.iter().rev().find(|l| l.packets > 0))
    }

    fn us_per_packet(&self) -> Option<f64> {
        self.reference_level().and_then(Level::us_per_packet)
    }

    fn largest_clean(&self) -> Option<u32> {
        self.levels
            .iter()
            .take_while(|l| l.passes())
            .map(|l| l.n)
            .last()
    }

    fn largest_clean_text(&self) -> String {
        let largest = self
            .largest_clean()
            .map_or("none".into(), |n| n.to_string());
        match self.levels.iter().find(|l| !l.passes()) {
            None if !self.levels.is_empty() => format!("≥ {largest} (every level passed)"),
            Some(l) if l.c.generator_bound() => {
                format!("≥ {largest} ({} was bound by the generator)", l.n)
            }
            _ => largest,
        }
    }
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.decimals$}"))
}

fn measure_target(s: &mut Scratch, plan: &Plan, kind: TargetKind) -> TargetResult {
    let mut r = TargetResult {
        kind: Some(kind),
        what: match kind {
            TargetKind::Kamailio => format!(
                "{} (`lab/kamailio/kamailio-bench-calls-edge.cfg`, one TCP/TLS worker, \
                 `-x tlsf -X tlsf`) with rtpengine-daemon {} (userspace forwarding, \
                 `--table=-1`)",
                crate::command_output("kamailio", &["-v"])
                    .and_then(|v| v.lines().next().map(kamailio_version))
                    .unwrap_or_else(|| "Kamailio".into()),
                crate::command_output(
                    "dpkg-query",
                    &["-W", "-f", "${Version}", "rtpengine-daemon"]
                )
                .unwrap_or_else(|| "?".into()),
            ),
            TargetKind::Portico => format!(
                "portico `edge run` all-in-one (E and C in one process, traversal over \
                 loopback mutual TLS, one media worker each for E and C), {}",
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

/// `kamailio 5.6.3` from the first line of `kamailio -v`.
fn kamailio_version(line: &str) -> String {
    let l = line.trim().trim_start_matches("version:").trim();
    l.split(" (").next().unwrap_or(l).to_owned()
}

fn measure_into(
    s: &mut Scratch,
    plan: &Plan,
    kind: TargetKind,
    r: &mut TargetResult,
) -> Result<(), String> {
    let registrar = start_registrar(s)?;
    let mut edge = start_edge(s, kind)?;
    probe(s, &mut edge, &registrar)?;
    for &n in &plan.levels {
        settle(&edge, Duration::from_secs(10));
        let l = Load {
            target: kind.tls(),
            phones: n,
            calls: n,
            rate: plan.ramp_rate,
            hold: plan.level_hold(n),
        };
        let run = run_load(s, &l, &edge, &registrar)?;
        let mut level = Level::from_run(n, &run);
        level.c.edge_alive = edge.alive();
        eprintln!(
            "xtask: {} {n} calls: {} established, loss {:.4} % / {:.4} %, edge CPU {} % ({} µs \
             per packet), load CPU {} %{}",
            kind.name(),
            level.c.established,
            level.c.up_loss * 100.0,
            level.c.down_loss * 100.0,
            fmt_opt(level.edge_busy().map(|b| b * 100.0), 0),
            fmt_opt(level.us_per_packet(), 2),
            fmt_opt(level.load_busy().map(|b| b * 100.0), 0),
            if level.passes() { "" } else { " — fails" }
        );
        let stop = !level.c.edge_alive || level.c.failure_ratio >= 0.10;
        r.levels.push(level);
        if stop {
            break;
        }
    }
    if !edge.alive() {
        drop(edge);
        r.restarts += 1;
        edge = start_edge(s, kind)?;
        probe(s, &mut edge, &registrar)?;
    }
    for &rate in &plan.rates {
        settle(&edge, Duration::from_secs(10));
        let l = Load {
            target: kind.tls(),
            phones: plan.step_phones(rate),
            calls: plan.step_calls(rate),
            rate,
            hold: plan.step_hold_s,
        };
        let run = run_load(s, &l, &edge, &registrar)?;
        let mut st = RateStep::from_run(rate, &run);
        st.c.edge_alive = edge.alive();
        eprintln!(
            "xtask: {} {rate} calls/s: {}/{} established, p99 {} ms, edge CPU {} % ({} µs per \
             call), load CPU {} %{}",
            kind.name(),
            st.c.established,
            st.c.calls,
            fmt_opt(st.c.p99_ms, 1),
            fmt_opt(st.edge_busy().map(|b| b * 100.0), 0),
            fmt_opt(st.us_per_call(), 0),
            fmt_opt(st.load_busy().map(|b| b * 100.0), 0),
            if st.passes() { "" } else { " — fails" }
        );
        r.rates.push(st);
        if rate_sweep_over(&r.rates) {
            break;
        }
    }
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
        return Err("bench calls needs 2 CPUs: the edge on CPU 0, the load on CPU 1".into());
    }
    crate::deps::ensure(PACKAGES)?;
    let edge_bin = o.prebuilt.edge(PACKAGES)?;
    let root = crate::workspace_root()?;
    let dir = std::env::temp_dir().join(format!("portico-bench-calls-{}", std::process::id()));
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
    let started = Instant::now();
    let results: Vec<TargetResult> = o
        .targets
        .iter()
        .map(|&k| measure_target(&mut scratch, &plan, k))
        .collect();
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let path = o.prebuilt.results()?;
    let svg = path.with_file_name("calls.svg");
    let plotted = gnuplot(&results, &svg);
    let section = render(
        &plan,
        cpus,
        minutes,
        &results,
        plotted.then_some("calls.svg"),
    );
    let old = fs::read_to_string(&path).ok();
    let new = crate::bench_srtp::replace_section(old.as_deref(), &section, (BEGIN, END))?;
    fs::write(&path, new).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("{section}");
    let _ = fs::remove_dir_all(&dir);
    if results.iter().any(|r| r.problem.is_some()) {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// The section

/// An ASCII chart of edge CPU (% of one core) against concurrent calls, one row per measured
/// level and target.
fn ascii_chart(results: &[TargetResult]) -> String {
    const WIDTH: f64 = 50.0;
    let max = results
        .iter()
        .flat_map(|r| r.levels.iter().filter_map(Level::edge_busy))
        .fold(0.0f64, f64::max)
        .max(0.01);
    let mut s =
        String::from("```text\nedge CPU, % of one core, with N calls up (50 pps each way)\n");
    let mut levels: Vec<u32> = results
        .iter()
        .flat_map(|r| r.levels.iter().map(|l| l.n))
        .collect();
    levels.sort_unstable();
    levels.dedup();
    for n in levels {
        for r in results {
            let Some(l) = r.levels.iter().find(|l| l.n == n) else {
                continue;
            };
            let Some(b) = l.edge_busy() else {
                continue;
            };
            let bar = "#".repeat(((b / max) * WIDTH).round() as usize);
            let name = r.kind.map_or("?", TargetKind::name);
            let _ = writeln!(s, "{n:>5} {name:<18} |{bar} {:.0} %", b * 100.0);
        }
    }
    s.push_str("```\n");
    s
}

/// `benches/calls.svg`: edge CPU against concurrent calls, and set-up p99 against offered rate.
fn gnuplot(results: &[TargetResult], out: &Path) -> bool {
    if Command::new("gnuplot")
        .arg("--version")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        return false;
    }
    let mut script = format!(
        "set terminal svg size 900,380 dynamic font 'sans,11'\nset output '{}'\n\
         set multiplot layout 1,2\nset key top left\nset grid\n",
        out.display()
    );
    let measured: Vec<&TargetResult> = results.iter().filter(|r| !r.levels.is_empty()).collect();
    if measured.is_empty() {
        return false;
    }
    for (i, r) in measured.iter().enumerate() {
        let _ = writeln!(script, "$cpu{i} << EOD");
        for l in &r.levels {
            if let Some(b) = l.edge_busy() {
                let _ = writeln!(script, "{} {:.2}", l.n, b * 100.0);
            }
        }
        let _ = writeln!(script, "EOD\n$p99{i} << EOD");
        for st in &r.rates {
            if let Some(p) = st.c.p99_ms {
                let _ = writeln!(script, "{} {:.2}", st.rate, p);
            }
        }
        let _ = writeln!(script, "EOD");
    }
    let plot = |data: &str| {
        measured
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "${data}{i} using 1:2 with linespoints title '{}'",
                    r.kind.map_or("?", TargetKind::name)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        script,
        "set title 'Edge CPU with N calls up (one core)'\nset xlabel 'concurrent calls'\n\
         set ylabel '% of one core'\nset yrange [0:*]\nplot {}\n\
         set title 'Call set-up time, p99'\nset xlabel 'offered calls/s'\n\
         set ylabel 'ms'\nset logscale y\nset yrange [*:*]\nplot {}\nunset multiplot",
        plot("cpu"),
        plot("p99")
    );
    let child = Command::new("gnuplot")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    child.wait().is_ok_and(|s| s.success()) && out.exists()
}

fn render(
    plan: &Plan,
    cpus: usize,
    minutes: f64,
    results: &[TargetResult],
    svg: Option<&str>,
) -> String {
    let mut s = String::new();
    let date = relay_process::utc_date();
    let cpu = crate::criterion_results::cpu_model();
    let kernel = crate::command_output("uname", &["-r"]).unwrap_or_default();
    let name = |r: &TargetResult| r.kind.map_or("?", TargetKind::name);
    let _ = writeln!(
        s,
        "{BEGIN}\n## calls: calls with SRTP media through an edge, Kamailio + rtpengine and \
         portico E+C\n"
    );
    let _ = writeln!(s, "- Date (UTC): {date}");
    let _ = writeln!(
        s,
        "- Command: `cargo xtask bench calls{}` ({minutes:.1} min)",
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
            name(r),
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
        "- Set-up: loopback; the edge alone on CPU 0; call control (Kamailio 5.6, \
         `lab/kamailio/kamailio-bench-calls-registrar.cfg`, Digest, Record-Route) and the \
         generator (`edge sipload calls`) on CPU 1. Callers: one verified TLS connection each \
         through the edge, registered (Digest), offering RTP/SAVP with their own SDES key \
         (AES_CM_128_HMAC_SHA1_80); callees: registered at call control over UDP, answering \
         RTP/AVP. 50 packets/s each way per call (PCMU, 160 bytes). Edge CPU = user + system \
         time from `/proc` (Kamailio's processes + rtpengine, or the `edge run` process); \
         load CPU = generator + call control, CPU 1."
    );

    // Summary.
    let ref_n = |r: &TargetResult| r.reference_level().map(|l| l.n);
    let _ = writeln!(
        s,
        "\n### Summary\n\n| | {} |\n|---|{}",
        results.iter().map(name).collect::<Vec<_>>().join(" | "),
        "---:|".repeat(results.len())
    );
    let row = |s: &mut String, label: &str, f: &dyn Fn(&TargetResult) -> String| {
        let cells: Vec<String> = results
            .iter()
            .map(|r| {
                if r.problem.is_some() && r.levels.is_empty() && r.rates.is_empty() {
                    "not measured".into()
                } else {
                    f(r)
                }
            })
            .collect();
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    };
    row(&mut s, "call set-up rate at the knee (calls/s)", &|r| {
        knee_text(&r.rates)
    });
    row(
        &mut s,
        "edge CPU per media packet delivered (µs, all N calls up)",
        &|r| {
            format!(
                "{} (N = {})",
                fmt_opt(r.us_per_packet(), 2),
                ref_n(r).map_or("–".into(), |n| n.to_string())
            )
        },
    );
    row(
        &mut s,
        "edge CPU per call set-up + teardown, media taken off (µs, median over the passing \
         rate steps)",
        &|r| fmt_opt(median_setup(r), 0),
    );
    row(
        &mut s,
        "largest level measured with < 0.1 % loss each way (concurrent calls)",
        &|r| r.largest_clean_text(),
    );
    row(
        &mut s,
        "concurrent calls per core, extrapolated (N / edge busy fraction)",
        &|r| fmt_opt(r.reference_level().and_then(Level::calls_per_core), 0),
    );
    let per_part = |r: &TargetResult| -> String {
        let Some(l) = r.reference_level() else {
            return "–".into();
        };
        l.parts
            .keys()
            .map(|p| {
                format!(
                    "{p} {} µs/pkt, {} calls/core",
                    fmt_opt(l.part_us_per_packet(p), 2),
                    fmt_opt(l.part_calls_per_core(p), 0)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    row(&mut s, "by part (at the same N)", &per_part);
    if let [a, b] = results {
        if let (Some(pa), Some(pb)) = (a.us_per_packet(), b.us_per_packet()) {
            let _ = writeln!(
                s,
                "\nCPU per media packet, {} / {}: **{:.2}×**.",
                name(b),
                name(a),
                pb / pa
            );
        }
        if let (Some(sa), Some(sb)) = (median_setup(a), median_setup(b)) {
            if sa > 0.0 {
                let _ = writeln!(
                    s,
                    "CPU per call set-up, {} / {}: **{:.2}×**.",
                    name(b),
                    name(a),
                    sb / sa
                );
            }
        }
    }

    // Plot.
    let _ = writeln!(s, "\n{}", ascii_chart(results));
    if let Some(f) = svg {
        let _ = writeln!(
            s,
            "![edge CPU against concurrent calls; set-up p99 against offered rate]({f})\n"
        );
    }

    // Levels.
    let _ = writeln!(
        s,
        "### Concurrent calls: N placed at {:.0}/s, each held until all N have been up \
         together for {:.0} s\n\n\
         | edge | N | established | loss out→in % | loss in→out % | steady window s | packets \
         delivered | edge CPU % | edge µs per packet | by part (µs per packet) | calls per core \
         (extrapolated) | load CPU % | passes | notes |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|:-:|---|",
        plan.ramp_rate, plan.steady_s
    );
    for r in results {
        for l in &r.levels {
            let parts = l
                .parts
                .keys()
                .map(|p| format!("{p} {}", fmt_opt(l.part_us_per_packet(p), 2)))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.4} | {:.4} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
                name(r),
                l.n,
                l.c.established,
                l.c.up_loss * 100.0,
                l.c.down_loss * 100.0,
                l.window_s,
                l.packets,
                fmt_opt(l.edge_busy().map(|b| b * 100.0), 0),
                fmt_opt(l.us_per_packet(), 2),
                parts,
                fmt_opt(l.calls_per_core(), 0),
                fmt_opt(l.load_busy().map(|b| b * 100.0), 0),
                match (l.passes(), l.c.generator_bound()) {
                    (true, _) => "yes",
                    (false, true) => "n/a",
                    (false, false) => "no",
                },
                l.c.failures_text()
            );
        }
        if r.levels.is_empty() {
            let _ = writeln!(
                s,
                "| {} | – | – | – | – | – | – | – | – | – | – | – | – | {} |",
                name(r),
                r.problem
                    .as_deref()
                    .unwrap_or("not measured")
                    .replace('|', "/")
            );
        }
    }

    // Rates.
    let _ = writeln!(
        s,
        "\n### Call set-up rate: {:.0} s of calls per step, each held {:.0} s (media on)\n\n\
         | edge | offered calls/s | established / placed | failed % | p50 ms | p99 ms | most up \
         at once | edge CPU % | edge µs per call (media in) | edge µs per set-up (media off) | \
         load CPU % | passes | notes |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---|",
        plan.step_s, plan.step_hold_s
    );
    for r in results {
        let ppk = r.us_per_packet();
        for st in &r.rates {
            let _ = writeln!(
                s,
                "| {} | {:.0} | {} / {} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                name(r),
                st.rate,
                st.c.established,
                st.c.calls,
                st.c.failure_ratio * 100.0,
                fmt_opt(st.c.p50_ms, 1),
                fmt_opt(st.c.p99_ms, 1),
                st.max_concurrent,
                fmt_opt(st.edge_busy().map(|b| b * 100.0), 0),
                fmt_opt(st.us_per_call(), 0),
                fmt_opt(st.us_per_setup(ppk), 0),
                fmt_opt(st.load_busy().map(|b| b * 100.0), 0),
                if st.passes() { "yes" } else { "no" },
                st.c.failures_text()
            );
        }
        if r.rates.is_empty() {
            let _ = writeln!(
                s,
                "| {} | – | – | – | – | – | – | – | – | – | – | – | {} |",
                name(r),
                r.problem
                    .as_deref()
                    .unwrap_or("not measured")
                    .replace('|', "/")
            );
        }
    }
    let _ = writeln!(
        s,
        "\nA rate step passes with < {:.0} % failed set-ups and p99 < {KNEE_P99_MS:.0} ms \
         (from each INVITE's scheduled time to its 200; no answer in {TIMEOUT_S:.0} s is a \
         failure); a level passes with every call set up and < {:.1} % loss each way. Loss \
         out→in is exact (the caller stops {} ms before its BYE); in→out counts what is missing \
         below the highest sequence number received. \"µs per set-up (media off)\" is the \
         step's edge CPU less its packets at the per-packet cost of the summary, per call. \
         Calls per core divide N by the edge's busy fraction: an extrapolation, not a \
         measurement; what this 2-core machine can offer is bounded by the generator on \
         CPU 1 (see load CPU).",
        KNEE_FAILURES * 100.0,
        MAX_LOSS * 100.0,
        200
    );
    let _ = write!(s, "{END}");
    s
}

/// The median CPU per set-up (media taken off) over the passing rate steps.
fn median_setup(r: &TargetResult) -> Option<f64> {
    let ppk = r.us_per_packet();
    let mut v: Vec<f64> = r
        .rates
        .iter()
        .filter(|s| s.passes())
        .filter_map(|s| s.us_per_setup(ppk))
        .collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn knee_text(steps: &[RateStep]) -> String {
    if steps.is_empty() {
        return "–".into();
    }
    match knee(steps) {
        None => format!("< {:.0}", steps[0].rate),
        Some(k) if steps.iter().all(RateStep::passes) => {
            let load = steps
                .last()
                .and_then(RateStep::load_busy)
                .map_or(String::new(), |b| format!(", load CPU {:.0} %", b * 100.0));
            format!("≥ {k:.0} (no failing step{load})")
        }
        Some(k) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn common(failure_ratio: f64, p99: f64, loss: f64) -> Common {
        Common {
            calls: 100,
            established: ((1.0 - failure_ratio) * 100.0) as u64,
            failure_ratio,
            p50_ms: Some(p99 / 4.0),
            p99_ms: Some(p99),
            up_loss: loss,
            down_loss: loss,
            edge_alive: true,
            ..Common::default()
        }
    }

    fn step(rate: f64, failure_ratio: f64, p99: f64) -> RateStep {
        RateStep {
            rate,
            c: common(failure_ratio, p99, 0.0),
            window_s: 10.0,
            edge_cpu_s: 1.0,
            load_cpu_s: 2.0,
            packets: 10_000,
            max_concurrent: 20,
        }
    }

    #[test]
    fn knee_and_sweep() {
        let steps = vec![
            step(10.0, 0.0, 5.0),
            step(20.0, 0.005, 90.0),
            step(40.0, 0.0, 150.0),
            step(80.0, 0.0, 5.0),
        ];
        assert_eq!(knee(&steps), Some(20.0));
        assert_eq!(knee_text(&steps), "20");
        assert!(!rate_sweep_over(&steps[..3]));
        assert!(rate_sweep_over(&[step(1.0, 0.2, 1.0)]));
        assert!(rate_sweep_over(&[
            step(1.0, 0.02, 1.0),
            step(2.0, 0.0, 600.0)
        ]));
        assert_eq!(knee_text(&[step(5.0, 0.5, 1.0)]), "< 5");
        assert!(knee_text(&steps[..2]).starts_with("≥ 20 (no failing step"));
        // Media off: 1 s of CPU less 10,000 packets at 50 µs, over 99 calls... 100 here.
        let s = step(10.0, 0.0, 5.0);
        assert_eq!(s.us_per_call(), Some(10_000.0));
        assert_eq!(s.us_per_setup(Some(50.0)), Some(5_000.0));
        assert_eq!(s.us_per_setup(None), None);
    }

    #[test]
    fn levels_from_progress_lines() {
        let t0 = Instant::now();
        let mark = |what: &str, s: u64, active: u64, cpu: f64, rx: u64| Mark {
            at: Some(t0 + Duration::from_secs(s)),
            what: what.into(),
            edge_cpu: cpu,
            parts: BTreeMap::from([("E media", cpu / 2.0), ("C media", cpu / 4.0)]),
            load_cpu: cpu * 2.0,
            active,
            media_rx: rx,
        };
        let summary = serde_json::json!({
            "calls": 100,
            "setup": {"succeeded": 100, "failed_by_reason": {}, "failure_ratio": 0.0,
                      "latency_ms": {"p50": 2.0, "p99": 9.0}},
            "media": {"outside_to_inside": {"lost": 1, "received": 9999, "loss_ratio": 0.0001,
                                            "lost_at_start": 1},
                      "inside_to_outside": {"lost": 0, "received": 10000, "loss_ratio": 0.0},
                      "sends_late_over_10ms": 0},
            "teardown": {"bye_ok": 100, "bye_failed_by_reason": {}},
            "max_concurrent": 100,
        });
        let run = LoadRun {
            summary,
            marks: vec![
                mark("calls start", 0, 0, 0.0, 0),
                mark("calls", 1, 50, 0.5, 1000),
                mark("calls", 3, 100, 1.0, 5000),
                mark("calls", 5, 100, 2.0, 25_000),
                mark("calls", 6, 60, 2.4, 30_000),
                mark("calls done", 8, 0, 3.0, 40_000),
            ],
        };
        let l = Level::from_run(100, &run);
        assert!((l.window_s - 2.0).abs() < 1e-9);
        assert!((l.edge_cpu_s - 1.0).abs() < 1e-9);
        assert_eq!(l.packets, 20_000);
        assert_eq!(l.us_per_packet(), Some(50.0));
        assert_eq!(l.edge_busy(), Some(0.5));
        assert_eq!(l.calls_per_core(), Some(200.0));
        assert_eq!(l.part_us_per_packet("E media"), Some(25.0));
        assert_eq!(l.part_calls_per_core("C media"), Some(800.0));
        assert!(l.passes());
        assert!(l.c.failures_text().contains("first packet lost"));
        let st = RateStep::from_run(40.0, &run);
        assert!((st.window_s - 8.0).abs() < 1e-9);
        assert_eq!(st.packets, 40_000);
        assert_eq!(st.max_concurrent, 100);
        let mut lossy = l.clone();
        lossy.c.down_loss = 0.002;
        assert!(!lossy.passes());
        let mut late = l.clone();
        late.c.sent = 20_000;
        late.c.late_sends = 201;
        assert!(late.c.generator_bound() && !late.passes());
        assert!(late.c.failures_text().contains("generator-bound"));
        let r = TargetResult {
            levels: vec![l.clone(), Level { n: 200, ..late }],
            ..TargetResult::default()
        };
        assert_eq!(
            r.largest_clean_text(),
            "≥ 100 (200 was bound by the generator)"
        );
    }

    #[test]
    fn progress_lines_and_threads() {
        let line = "sipload: t=3.0 calls done callers_ok=5 callees_ok=5 placed=5 \
                    established=5 failed=0 finished=5 active=0 media_tx=10 media_rx=9 \
                    media_late=0";
        assert_eq!(line_kind(line), "calls done");
        assert_eq!(field(line, "media_rx"), Some(9));
        assert_eq!(field(line, "established"), Some(5));
        assert_eq!(field(line, "nothing"), None);
        let stat = "1886 (media-0) S 1 2 3 4 5 6 7 8 9 10 700 30 0 0";
        assert_eq!(thread_cpu(stat), Some(("media-0".into(), 7.3)));
        let parts = portico_parts(&[
            (10, "edge".into(), 0.1),
            (11, "edge-signaling".into(), 2.0),
            (12, "media-0".into(), 3.0),
            (13, "media-0".into(), 4.0),
        ]);
        assert_eq!(parts["E media"], 3.0);
        assert_eq!(parts["C media"], 4.0);
        assert!((parts["signaling"] - 2.1).abs() < 1e-9);
        assert!(!threads(std::process::id()).is_empty());
    }

    #[test]
    fn plan_options_and_files() {
        let full = Plan::new(false);
        assert_eq!(full.step_calls(40.0), 240);
        assert_eq!(full.step_phones(40.0), 130);
        assert_eq!(full.step_phones(10.0), 40);
        assert!((full.level_hold(400) - 19.0).abs() < 1e-9);
        assert!(Plan::new(true).quick);
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Options::parse(&args(&["--quick", "--targets", "portico"])).unwrap();
        assert!(o.quick);
        assert_eq!(o.targets, vec![TargetKind::Portico]);
        assert!(Options::parse(&args(&["--targets", "asterisk"])).is_err());
        assert!(Options::parse(&args(&["--bogus"])).is_err());
        let c = portico_config(Path::new("/tmp/x/tls"));
        assert!(c.contains("role = \"all-in-one\""));
        assert!(c.contains("address = \"127.0.0.2:25160\""));
        assert!(c.contains("range = \"3000-24999\"") && c.contains("traversal_pairs = [2998]"));
        assert!(kamailio_tls_cfg(Path::new("/c.pem"), Path::new("/c.key"))
            .contains("certificate = /c.pem"));
        assert_eq!(
            kamailio_version("version: kamailio 5.6.3 (x86_64/linux) "),
            "kamailio 5.6.3"
        );
    }

    #[test]
    fn section() {
        let level = |n: u32, busy: f64| Level {
            n,
            c: Common {
                established: u64::from(n),
                ..common(0.0, 5.0, 0.0)
            },
            window_s: 10.0,
            edge_cpu_s: busy * 10.0,
            parts: BTreeMap::from([("rtpengine", busy * 8.0)]),
            load_cpu_s: 3.0,
            packets: u64::from(n) * 1000,
        };
        let a = TargetResult {
            kind: Some(TargetKind::Kamailio),
            what: "Kamailio".into(),
            levels: vec![level(100, 0.1), level(200, 0.2)],
            rates: vec![step(10.0, 0.0, 5.0), step(20.0, 0.5, 5.0)],
            ..TargetResult::default()
        };
        let b = TargetResult {
            kind: Some(TargetKind::Portico),
            what: "portico".into(),
            problem: Some("did not start".into()),
            ..TargetResult::default()
        };
        let s = render(&Plan::new(true), 2, 1.5, &[a, b], Some("calls.svg"));
        assert!(s.starts_with(BEGIN) && s.ends_with(END));
        assert!(s.contains("## calls"), "{s}");
        assert!(
            s.contains("| call set-up rate at the knee (calls/s) | 10 | not measured |"),
            "{s}"
        );
        assert!(
            s.contains(
                "| largest level measured with < 0.1 % loss each way (concurrent calls) | ≥ 200 (every level passed) |"
            ),
            "{s}"
        );
        assert!(s.contains("**Not measured: did not start**"), "{s}");
        assert!(s.contains("![edge CPU"), "{s}");
        assert!(s.contains("  200 kamailio+rtpengine"), "{s}");
    }
}
