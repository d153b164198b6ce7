//! `cargo xtask bench xdp`: a flood at the media range while calls run, with the XDP program
//! on and off, and the relay's capacity with CPUMAP steering on and off.
//!
//! Two network namespaces joined by a veth: `gen` (198.18.60.2: `edge loadgen` on CPU 1, and
//! `edge flood` beside it, or on CPUs of its own where the machine has 4 or more) and `edge`
//! (198.18.60.1: `edge relay`, one worker on CPU 0, with or without `--xdp`). The edge's veth
//! runs its receive path in NAPI threads pinned to CPU 0 at real-time priority (GRO on,
//! threaded NAPI, four queues), as NIC queues whose interrupts go to the relay's core would: so
//! everything the edge spends on a datagram, XDP or the kernel's UDP path, lands on CPU 0, the
//! relay's core. The sending veth has checksum offload off (CPUMAP redirects rebuild packets,
//! and veth would leave their checksums to be filled in).
//!
//! 1. **Flood**: 500 SRTP↔RTP calls (per-port legs; about half of what one core carries here,
//!    all in) for [`SECONDS`] s, alone and with a flood from one hot source at the unallocated
//!    ports of the media range (garbage payloads, as fast as the flood's CPUs send them), XDP
//!    off and on: loss on the calls, CPU 0 busy time, the extra CPU 0 time per dropped flood
//!    datagram (by the program, or by the kernel as `NoPorts`), and the program's own time per
//!    packet (`kernel.bpf_stats_enabled`, on for the bench and put back after).
//! 2. **Capacity**: calls against loss with XDP off, XDP with steering, XDP without steering.
//!
//! Writes `benches/RESULTS.md` between `<!-- xdp:begin -->` and `<!-- xdp:end -->` (or the
//! file `--results` names); `--edge PATH` runs a prebuilt `edge` where there is no toolchain.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use serde_json::{json, Value};

use crate::relay_process::{self, now_ms, sleep_until, RelayProcess};

const BEGIN: &str = "<!-- xdp:begin -->";
const END: &str = "<!-- xdp:end -->";
const SECONDS: f64 = 5.0;
const EDGE_IP: &str = "198.18.60.1";
const GEN_IP: &str = "198.18.60.2";
const EDGE_IF: &str = "bxe0";
const GEN_IF: &str = "bxg0";
const RANGE: &str = "40000-59999";
/// Queues of the veth pair.
const QUEUES: &str = "4";
/// Calls in the flood runs.
const FLOOD_CALLS: usize = 500;
/// Loss ratio under which a load counts as carried.
const KNEE_LOSS: f64 = 0.001;

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The two namespaces, deleted (by name) when dropped.
struct Lab {
    gen: String,
    edge: String,
}

impl Lab {
    fn new() -> Result<Lab, String> {
        let id = std::process::id();
        let lab = Lab {
            gen: format!("portico-bx-{id}-gen"),
            edge: format!("portico-bx-{id}-edge"),
        };
        ip(&["netns", "add", &lab.gen])?;
        ip(&["netns", "add", &lab.edge])?;
        for ns in [&lab.gen, &lab.edge] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        // Four queues each way: four receive rings of 256 on the edge side (a NIC has rings of
        // thousands), all served on CPU 0.
        ip(&[
            "-n",
            &lab.gen,
            "link",
            "add",
            GEN_IF,
            "numtxqueues",
            QUEUES,
            "numrxqueues",
            QUEUES,
            "type",
            "veth",
            "peer",
            "name",
            EDGE_IF,
            "numtxqueues",
            QUEUES,
            "numrxqueues",
            QUEUES,
            "netns",
            &lab.edge,
        ])?;
        ip(&[
            "-n",
            &lab.gen,
            "addr",
            "add",
            &format!("{GEN_IP}/24"),
            "dev",
            GEN_IF,
        ])?;
        ip(&[
            "-n",
            &lab.edge,
            "addr",
            "add",
            &format!("{EDGE_IP}/24"),
            "dev",
            EDGE_IF,
        ])?;
        ip(&["-n", &lab.gen, "link", "set", GEN_IF, "up"])?;
        ip(&["-n", &lab.edge, "link", "set", EDGE_IF, "up"])?;
        lab.exec(&lab.gen, "ethtool", &["-K", GEN_IF, "tx", "off"])?;
        // The edge's receive path in a NAPI thread (GRO gives veth NAPI; threaded runs it in a
        // kthread), pinned to CPU 0 after each relay start.
        lab.exec(&lab.edge, "ethtool", &["-K", EDGE_IF, "gro", "on"])?;
        lab.exec(
            &lab.edge,
            "sh",
            &["-c", &format!("echo 1 > /sys/class/net/{EDGE_IF}/threaded")],
        )?;
        Ok(lab)
    }

    fn exec(&self, ns: &str, program: &str, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["netns", "exec", ns, program];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// `ip netns exec NS` then `program args…`, for a child process.
    fn command(ns: &str, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// Datagrams the generator's veth dropped because the edge's receive ring was full (its
    /// `tx_dropped`).
    fn ring_drops(&self) -> Result<u64, String> {
        let v = self.exec(
            &self.gen,
            "cat",
            &[&format!("/sys/class/net/{GEN_IF}/statistics/tx_dropped")],
        )?;
        v.trim()
            .parse()
            .map_err(|_| format!("tx_dropped of {GEN_IF}: {v:?}"))
    }

    /// The edge namespace's UDP `NoPorts` counter.
    fn no_ports(&self) -> Result<u64, String> {
        let snmp = self.exec(&self.edge, "cat", &["/proc/net/snmp"])?;
        let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
        let (names, values) = (udp.next(), udp.next());
        let (Some(names), Some(values)) = (names, values) else {
            return Err("no Udp: lines in /proc/net/snmp".into());
        };
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(n, _)| *n == "NoPorts")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| "no NoPorts in /proc/net/snmp".into())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.gen, &self.edge] {
            let _ = ip(&["netns", "delete", ns]);
        }
    }
}

/// Pins the edge veth's NAPI threads to CPU 0 and gives them a real-time priority, as the
/// interrupt and softirq work of a NIC queue has over the relay's thread: without it the relay
/// could keep the receive path off the CPU for a whole time slice, and the veth's 256-entry
/// ring would overflow under the flood whatever the program does.
fn pin_napi() -> Result<usize, String> {
    let mut pinned = 0;
    for entry in fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))? {
        let Ok(entry) = entry else { continue };
        let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim().starts_with(&format!("napi/{EDGE_IF}-")) {
            let pid = entry.file_name().to_string_lossy().to_string();
            let ok = Command::new("taskset")
                .args(["-pc", "0", &pid])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
                && Command::new("chrt")
                    .args(["-f", "-p", "50", &pid])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if ok {
                pinned += 1;
            }
        }
    }
    Ok(pinned)
}

/// CPU 0's busy time in seconds (all but idle and iowait), from `/proc/stat`.
fn cpu0_busy() -> Option<f64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu0 "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle) as f64 / 100.0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Xdp {
    Off,
    Steering,
    NoSteering,
}

impl Xdp {
    fn name(self) -> &'static str {
        match self {
            Xdp::Off => "off",
            Xdp::Steering => "on, CPUMAP steering",
            Xdp::NoSteering => "on, no steering",
        }
    }
}

fn start_relay(lab: &Lab, edge: &Path, scratch: &Path, xdp: Xdp) -> Result<RelayProcess, String> {
    let control = scratch.join("xdp-relay.sock");
    let log = scratch.join("xdp-relay.log");
    let spawn = || -> Result<Child, String> {
        let out = fs::File::create(&log).map_err(|e| format!("relay log: {e}"))?;
        let mut c = Lab::command(&lab.edge, Path::new("taskset"));
        c.args(["-c", "0"])
            .arg(edge)
            .args(["relay", "--bind", EDGE_IP, "--cores", "0", "--range", RANGE])
            .args(["--quarantine", "0", "--control"])
            .arg(&control);
        match xdp {
            Xdp::Off => {}
            Xdp::Steering => {
                c.args(["--xdp", EDGE_IF, "--xdp-mode", "native"]);
            }
            Xdp::NoSteering => {
                c.args(["--xdp", EDGE_IF, "--xdp-mode", "native", "--no-steering"]);
            }
        }
        c.stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .map_err(|e| format!("starting edge relay: {e}"))
    };
    let relay = relay_process::start(
        "edge relay",
        control.clone(),
        &log,
        relay_process::START_WAIT,
        spawn,
        |r| r.control.exists(),
    )?;
    let said = fs::read_to_string(&log).unwrap_or_default();
    if xdp != Xdp::Off && !said.contains("XDP on") {
        return Err(format!("the relay did not attach XDP: {}", said.trim()));
    }
    pin_napi()?;
    Ok(relay)
}

/// One request on the relay's control socket.
fn ask(control: &Path, req: &Value) -> Result<Value, String> {
    let mut s = UnixStream::connect(control).map_err(|e| format!("control: {e}"))?;
    writeln!(s, "{req}").map_err(|e| format!("control: {e}"))?;
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .map_err(|e| format!("control: {e}"))?;
    serde_json::from_str(&line).map_err(|e| format!("control reply: {e}"))
}

/// The program's figures from the relay: (packets dropped, runs, nanoseconds run).
fn xdp_figures(control: &Path) -> (u64, u64, u64) {
    let v = ask(control, &json!({"op": "info"})).unwrap_or(Value::Null);
    let x = &v["xdp"];
    (
        x["verdicts"]["drop"].as_u64().unwrap_or(0),
        x["program_runs"].as_u64().unwrap_or(0),
        x["program_run_ns"].as_u64().unwrap_or(0),
    )
}

/// `kernel.bpf_stats_enabled` on for the bench (the kernel then times every program run),
/// put back as it was when dropped.
struct BpfStats {
    before: String,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl BpfStats {
    fn on() -> BpfStats {
        let before = fs::read_to_string(BPF_STATS).unwrap_or_else(|_| "0".into());
        let _ = fs::write(BPF_STATS, "1");
        BpfStats { before }
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = fs::write(BPF_STATS, self.before.trim());
    }
}

/// One run's figures.
#[derive(Clone, Debug, Default)]
struct Run {
    xdp: Option<&'static str>,
    calls: usize,
    flood: bool,
    loss: f64,
    relayed: u64,
    cpu0_s: f64,
    flood_sent: u64,
    dropped: u64,
    /// Datagrams lost at the edge's receive ring (flood and calls alike).
    ring_drops: u64,
    /// The program's runs and run time over the traffic (XDP on).
    program_runs: u64,
    program_ns: u64,
    p99_us: Option<u64>,
}

/// Runs `calls` calls for [`SECONDS`] s, with a flood from `flood_cores` (one `edge flood`
/// each) when `flood`.
#[allow(clippy::too_many_arguments)]
fn run_once(
    lab: &Lab,
    edge: &Path,
    relay: &RelayProcess,
    xdp: Xdp,
    calls: usize,
    flood: bool,
    flood_cores: &[usize],
) -> Result<Run, String> {
    let start_at = now_ms() + 2000 + calls as u64;
    let mut gen = Lab::command(&lab.gen, edge);
    gen.args(["loadgen", "--no-verify", "--core", "1"])
        .args(["--bind", GEN_IP, "--relay-ip", EDGE_IP])
        .args(["--calls", &calls.to_string()])
        .args(["--seconds", &SECONDS.to_string()])
        .args(["--start-at", &start_at.to_string()])
        .arg("--control")
        .arg(&relay.control)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let gen = gen.spawn().map_err(|e| format!("starting loadgen: {e}"))?;
    sleep_until(start_at);
    let no_ports0 = lab.no_ports()?;
    let ring0 = lab.ring_drops()?;
    let (drops0, runs0, ns0) = xdp_figures(&relay.control);
    let cpu0 = cpu0_busy().ok_or("cannot read /proc/stat")?;
    let mut flooders = Vec::new();
    if flood {
        for &core in flood_cores {
            let mut f = Lab::command(&lab.gen, edge);
            f.args(["flood", "--core", &core.to_string()])
                .args(["--bind", GEN_IP, "--target", EDGE_IP])
                .args(["--range", RANGE, "--seconds", &SECONDS.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            flooders.push(f.spawn().map_err(|e| format!("starting flood: {e}"))?);
        }
    }
    sleep_until(start_at + (SECONDS * 1000.0) as u64 + 500);
    let cpu1 = cpu0_busy().ok_or("cannot read /proc/stat")?;
    let (drops1, runs1, ns1) = xdp_figures(&relay.control);
    let out = gen
        .wait_with_output()
        .map_err(|e| format!("loadgen: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "loadgen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("loadgen: {e}"))?;
    let mut flood_sent = 0;
    for f in flooders {
        let fo = f.wait_with_output().map_err(|e| format!("flood: {e}"))?;
        let fv: Value = serde_json::from_slice(&fo.stdout).unwrap_or(Value::Null);
        flood_sent += fv["sent"].as_u64().unwrap_or(0);
    }
    let dirs = [&v["client_to_phone"], &v["phone_to_client"]];
    let run = Run {
        xdp: Some(xdp.name()),
        calls,
        flood,
        loss: dirs
            .iter()
            .map(|d| d["loss_ratio"].as_f64().unwrap_or(1.0))
            .fold(0.0, f64::max),
        relayed: dirs
            .iter()
            .map(|d| d["received"].as_u64().unwrap_or(0))
            .sum(),
        cpu0_s: cpu1 - cpu0,
        flood_sent,
        dropped: match xdp {
            Xdp::Off => lab.no_ports()?.saturating_sub(no_ports0),
            _ => drops1.saturating_sub(drops0),
        },
        program_runs: runs1.saturating_sub(runs0),
        program_ns: ns1.saturating_sub(ns0),
        ring_drops: lab.ring_drops()?.saturating_sub(ring0),
        p99_us: dirs
            .iter()
            .filter_map(|d| d["latency_us"]["p99"].as_u64())
            .max(),
    };
    eprintln!(
        "xtask: XDP {:<20} {:>5} calls{}: loss {:.4} %, CPU 0 {:.2} s, flood sent {}, dropped {}, ring drops {}",
        xdp.name(),
        calls,
        if flood { " + flood" } else { "" },
        run.loss * 100.0,
        run.cpu0_s,
        run.flood_sent,
        run.dropped,
        run.ring_drops
    );
    Ok(run)
}

/// The CPUs the flood is sent from: CPU 1 (beside the generator of the calls) on a machine of
/// fewer than 4 CPUs, else up to 4 CPUs of their own from CPU 2 on.
fn flood_cores(cpus: usize) -> Vec<usize> {
    if cpus < 4 {
        vec![1]
    } else {
        (2..cpus.min(6)).collect()
    }
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode, String> {
    let o = relay_process::PrebuiltOptions::parse("xdp", args)?;
    let edge = o.edge(crate::deps::BENCH_XDP)?;
    let scratch: PathBuf =
        std::env::temp_dir().join(format!("portico-bench-xdp-{}", std::process::id()));
    fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let quick = std::env::var("XDP_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let cpus = crate::criterion_results::logical_cpus().max(2);
    let flood_cores = flood_cores(cpus);
    let lab = Lab::new()?;
    let _stats = BpfStats::on();

    // 1. Flood, XDP off and on.
    let mut flood = Vec::new();
    for xdp in [Xdp::Off, Xdp::Steering] {
        let relay = start_relay(&lab, &edge, &scratch, xdp)?;
        let calls = if quick { 200 } else { FLOOD_CALLS };
        let quiet = run_once(&lab, &edge, &relay, xdp, calls, false, &flood_cores)?;
        let flooded = run_once(&lab, &edge, &relay, xdp, calls, true, &flood_cores)?;
        flood.push((quiet, flooded));
    }

    // 2. Capacity.
    let sweep: &[usize] = if quick {
        &[200, 400]
    } else {
        &[1000, 1500, 2000, 2500, 3000]
    };
    let mut capacity = Vec::new();
    for xdp in [Xdp::Off, Xdp::Steering, Xdp::NoSteering] {
        let relay = start_relay(&lab, &edge, &scratch, xdp)?;
        let mut runs: Vec<Run> = Vec::new();
        for &calls in sweep {
            let r = run_once(&lab, &edge, &relay, xdp, calls, false, &flood_cores)?;
            let lossy = r.loss >= KNEE_LOSS;
            runs.push(r);
            if lossy {
                break;
            }
        }
        capacity.push((xdp, runs));
    }
    drop(lab);
    let _ = fs::remove_dir_all(&scratch);

    let section = render(quick, cpus, &flood_cores, &flood, &capacity);
    let results = o.results()?;
    let old = fs::read_to_string(&results).ok();
    let new = crate::bench_srtp::replace_section(old.as_deref(), &section, (BEGIN, END))?;
    fs::write(&results, new).map_err(|e| format!("writing {}: {e}", results.display()))?;
    println!("{section}");
    Ok(ExitCode::SUCCESS)
}

fn per_packet_us(cpu_s: f64, packets: u64) -> String {
    if packets == 0 {
        "–".into()
    } else {
        format!("{:.2}", cpu_s * 1e6 / packets as f64)
    }
}

fn render(
    quick: bool,
    cpus: usize,
    flood_cores: &[usize],
    flood: &[(Run, Run)],
    capacity: &[(Xdp, Vec<Run>)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{BEGIN}\n## XDP: a flood at the media range while calls run; capacity with steering\n"
    );
    let _ = writeln!(s, "- Date (UTC): {}", relay_process::utc_date());
    let _ = writeln!(
        s,
        "- Command: `{}cargo xtask bench xdp`",
        if quick { "XDP_BENCH_QUICK=1 " } else { "" }
    );
    if quick {
        let _ = writeln!(s, "- **Quick smoke run**: do not quote these numbers.");
    }
    let _ = writeln!(
        s,
        "- Machine: {}, {cpus} CPUs, kernel {}; the flood from CPU(s) {:?}",
        crate::criterion_results::cpu_model(),
        crate::command_output("uname", &["-r"]).unwrap_or_default(),
        flood_cores
    );
    let _ = writeln!(
        s,
        "- Set-up: two network namespaces joined by a veth. `edge relay` (one worker) on CPU 0 \
         in `edge`, with its veth's receive path in a NAPI thread pinned to CPU 0 (GRO on, \
         threaded NAPI), as a NIC queue whose interrupts go to the relay's core; `edge loadgen` \
         in `gen` on CPU 1, the flood (`edge flood`, one process per CPU) beside it or on CPUs \
         of its own where the machine has them. SRTP↔RTP calls (AES_CM_128_HMAC_SHA1_80, per-port \
         legs, 50 pps each way), {SECONDS} s per run. The flood: one source, garbage \
         datagrams of 172 bytes at the unallocated ports of the media range, as fast as its \
         CPUs send them. The NAPI thread runs at real-time priority (SCHED_FIFO \
         50), as a NIC's interrupt work preempts user threads. CPU 0 = its busy time from `/proc/stat` over the traffic \
         (+0.5 s): the relay, the program and the kernel's receive path together. Dropped = by \
         the program (its drop counters) with XDP, by the kernel (`Udp: NoPorts` of the edge \
         namespace) without. \"CPU 0 µs more per flood datagram\" = the flooded run's CPU 0 \
         time over the quiet run's, per datagram dropped: on veth that includes the receive \
         path's per-packet work before the program (veth hands XDP an skb the sender already \
         built), which a NIC's driver does not have. \"Program ns\" = the kernel's own timing of \
         the program (`kernel.bpf_stats_enabled`, on for the bench), per packet it saw."
    );
    let _ = writeln!(
        s,
        "\n### Flood\n\n| XDP | calls | flood | loss on the calls % | relayed | flood sent | dropped | lost at the ring | CPU 0 s | CPU 0 µs per relayed packet | CPU 0 µs more per flood datagram | program ns per packet | p99 µs |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (quiet, flooded) in flood {
        for r in [quiet, flooded] {
            let per_drop = if r.flood && r.dropped > 0 {
                format!(
                    "{:.2}",
                    (r.cpu0_s - quiet.cpu0_s).max(0.0) * 1e6 / r.dropped as f64
                )
            } else {
                "–".into()
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {} | {} | {} | {} | {:.2} | {} | {per_drop} | {} | {} |",
                r.xdp.unwrap_or("?"),
                r.calls,
                if r.flood { "yes" } else { "no" },
                r.loss * 100.0,
                r.relayed,
                r.flood_sent,
                r.dropped,
                r.ring_drops,
                r.cpu0_s,
                per_packet_us(r.cpu0_s, r.relayed),
                if r.program_runs > 0 {
                    format!("{:.0}", r.program_ns as f64 / r.program_runs as f64)
                } else {
                    "–".into()
                },
                r.p99_us.map_or("–".into(), |v| v.to_string())
            );
        }
    }
    let _ = writeln!(
        s,
        "\n### Capacity (no flood): calls against loss\n\n| XDP | calls | loss % | CPU 0 s | CPU 0 µs per relayed packet | p99 µs |\n|---|---:|---:|---:|---:|---:|"
    );
    for (xdp, runs) in capacity {
        for r in runs {
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.2} | {} | {} |",
                xdp.name(),
                r.calls,
                r.loss * 100.0,
                r.cpu0_s,
                per_packet_us(r.cpu0_s, r.relayed),
                r.p99_us.map_or("–".into(), |v| v.to_string())
            );
        }
    }
    let _ = writeln!(s);
    for (xdp, runs) in capacity {
        let knee = runs
            .iter()
            .take_while(|r| r.loss < KNEE_LOSS)
            .map(|r| r.calls)
            .last();
        let never = runs.iter().all(|r| r.loss < KNEE_LOSS);
        let _ = writeln!(
            s,
            "- XDP {}: {} calls at < 0.1 % loss{}.",
            xdp.name(),
            knee.map_or("fewer than the first point's".into(), |k| k.to_string()),
            if never {
                " (no loss up to the last point)"
            } else {
                ""
            }
        );
    }
    let _ = write!(s, "{END}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section() {
        let quiet = Run {
            xdp: Some("off"),
            calls: 1000,
            flood: false,
            loss: 0.0,
            relayed: 1_000_000,
            cpu0_s: 4.0,
            ..Run::default()
        };
        let flooded = Run {
            flood: true,
            loss: 0.02,
            cpu0_s: 5.0,
            flood_sent: 600_000,
            dropped: 500_000,
            ..quiet.clone()
        };
        let s = render(
            false,
            2,
            &[1],
            &[(quiet.clone(), flooded)],
            &[(Xdp::Steering, vec![quiet])],
        );
        assert!(s.starts_with(BEGIN) && s.ends_with(END));
        assert!(
            s.contains(
                "| off | 1000 | yes | 2.000 | 1000000 | 600000 | 500000 | 0 | 5.00 | 5.00 | 2.00 | – |"
            ),
            "{s}"
        );
        assert!(s.contains("- XDP on, CPUMAP steering: 1000 calls at < 0.1 % loss (no loss up to the last point)."), "{s}");
    }
}
