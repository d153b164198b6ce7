//! `cargo xtask bench relay`: calls through our relay and through rtpengine, side by side.
//!
//! Each relay runs alone, pinned to CPU 0; the load generator (`edge loadgen`) runs pinned to
//! CPU 1. All traffic is on loopback. Relays are set up the way their signaling would: ours
//! through `edge relay`'s control socket, rtpengine through its ng port (offer RTP/SAVP with
//! `transport-protocol=RTP/AVP`, answer RTP/AVP; plain offer and answer for passthrough).
//!
//! The relays measured:
//! - `portico-uring`, `portico-sockets`: our relay on its io_uring backend and on the socket
//!   fallback, every leg on a port of its own (as rtpengine has them);
//! - `portico-uring-mux`, `portico-sockets-mux`: the C role as portico deploys it: the outside
//!   (SRTP) legs multiplexed on the traversal pair toward the E, which the generator plays
//!   (one socket, GSO sends, GRO receives), the inside legs on ports of their own;
//! - `rtpengine`: rtpengine-daemon, userspace forwarding.
//!
//! For each:
//! 1. CPU per relayed packet for each transform (passthrough, SRTP→RTP, RTP→SRTP; one direction
//!    at a time) at 172 and 1200 bytes, at a fixed load ([`CPU_CALLS`] calls, 50 pps): relay
//!    process CPU time (user + system, all threads, `/proc/PID/stat`) over the traffic window,
//!    divided by the packets delivered;
//! 2. a sweep of offered calls (50 pps each way, 172 B, SRTP↔RTP): loss against load; the knee
//!    is the last load before the first with ≥ 0.1 % loss in either direction;
//! 3. latency at half the knee: p50/p99 one-way added latency.
//!
//! Results go to `benches/RESULTS.md` (between `<!-- relay:begin -->` and `<!-- relay:end -->`)
//! and the plot to `benches/relay-loss.png`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::relay_process::{self, RelayProcess as Running};
use crate::{cargo, run_checked, target_dir, workspace_root};

const BEGIN: &str = "<!-- relay:begin -->";
const END: &str = "<!-- relay:end -->";
const NG: &str = "127.0.0.1:2223";
/// Loss ratio under which a load counts as carried.
const KNEE_LOSS: f64 = 0.001;
/// Calls of the CPU-per-packet rows (one direction: 50,000 packets/s).
const CPU_CALLS: usize = 1000;
/// The traversal pair of our relay in the multiplexed set-ups.
const MUX_PAIR: u16 = 36000;
const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Relay {
    Uring,
    Sockets,
    UringMux,
    SocketsMux,
    Rtpengine,
}

impl Relay {
    const ALL: [Relay; 5] = [
        Relay::Uring,
        Relay::Sockets,
        Relay::UringMux,
        Relay::SocketsMux,
        Relay::Rtpengine,
    ];

    fn name(self) -> &'static str {
        match self {
            Relay::Uring => "portico-uring",
            Relay::Sockets => "portico-sockets",
            Relay::UringMux => "portico-uring-mux",
            Relay::SocketsMux => "portico-sockets-mux",
            Relay::Rtpengine => "rtpengine",
        }
    }

    fn ours(self) -> bool {
        self != Relay::Rtpengine
    }

    fn mux(self) -> bool {
        matches!(self, Relay::UringMux | Relay::SocketsMux)
    }

    fn backend(self) -> &'static str {
        match self {
            Relay::Uring | Relay::UringMux => "uring",
            _ => "sockets",
        }
    }
}

/// A relay transform, as the generator drives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transform {
    Passthrough,
    SrtpToRtp,
    RtpToSrtp,
}

impl Transform {
    const ALL: [Transform; 3] = [
        Transform::Passthrough,
        Transform::SrtpToRtp,
        Transform::RtpToSrtp,
    ];

    fn name(self) -> &'static str {
        match self {
            Transform::Passthrough => "passthrough (plain)",
            Transform::SrtpToRtp => "SRTP→RTP",
            Transform::RtpToSrtp => "RTP→SRTP",
        }
    }

    /// (suite, direction) for `edge loadgen`.
    fn load(self) -> (&'static str, &'static str) {
        match self {
            Transform::Passthrough => ("plain", "up"),
            Transform::SrtpToRtp => (SUITE, "up"),
            Transform::RtpToSrtp => (SUITE, "down"),
        }
    }
}

/// One load point.
#[derive(Clone, Debug)]
struct Point {
    calls: usize,
    offered_pps: f64,
    loss: f64,
    p50_us: Option<u64>,
    p99_us: Option<u64>,
    delivered: u64,
    relay_cpu_s: f64,
}

impl Point {
    fn cpu_per_packet_us(&self) -> Option<f64> {
        (self.delivered > 0).then(|| self.relay_cpu_s * 1e6 / self.delivered as f64)
    }
}

fn spawn(relay: Relay, edge: &Path, scratch: &Path, control: &Path) -> Result<Child, String> {
    let log = fs::File::create(scratch.join(format!("{}.log", relay.name())))
        .map_err(|e| format!("relay log: {e}"))?;
    // The whole process on CPU 0 (kernel helper threads it starts included), like rtpengine.
    if relay.ours() {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"])
            .arg(edge)
            .args(["relay", "--cores", "0", "--backend", relay.backend()])
            .args(["--range", "30000-59999", "--quarantine", "0"])
            .arg("--control")
            .arg(control);
        if relay.mux() {
            c.args(["--mux-pairs", &MUX_PAIR.to_string()]);
        }
        c.stdout(Stdio::null()).stderr(log).spawn()
    } else {
        Command::new("taskset")
            .args([
                "-c",
                "0",
                "rtpengine",
                "--config-file=none",
                "--table=-1",
                "--interface=127.0.0.1",
                &format!("--listen-ng={NG}"),
                "--port-min=30000",
                "--port-max=59999",
                "--delete-delay=0",
                "--foreground",
                "--log-stderr",
                "--log-level=3",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
    }
    .map_err(|e| format!("starting {}: {e}", relay.name()))
}

/// Starts `relay` and waits until it answers (see [`relay_process::start`]).
fn start(relay: Relay, edge: &Path, scratch: &Path) -> Result<Running, String> {
    let control = scratch.join("relay.sock");
    let log = scratch.join(format!("{}.log", relay.name()));
    relay_process::start(
        relay.name(),
        control.clone(),
        &log,
        relay_process::START_WAIT,
        || spawn(relay, edge, scratch, &control),
        |r| {
            if relay.ours() {
                r.control.exists()
            } else {
                ng_ping()
            }
        },
    )
}

fn ng_ping() -> bool {
    let Ok(s) = std::net::UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    if s.send_to(b"1 d7:command4:pinge", NG).is_err() {
        return false;
    }
    let mut b = [0u8; 256];
    s.recv(&mut b)
        .is_ok_and(|n| b[..n].windows(4).any(|w| w == b"pong"))
}

/// What one `edge loadgen` run is asked for.
#[derive(Clone, Copy, Debug)]
struct Load {
    calls: usize,
    seconds: f64,
    suite: &'static str,
    direction: &'static str,
    size: usize,
}

fn load(relay: Relay, running: &Running, edge: &Path, l: Load) -> Result<Point, String> {
    let pid = running.child.id();
    let mut cmd = Command::new(edge);
    cmd.args(["loadgen", "--core", "1", "--no-verify"])
        .args(["--relay-pid", &pid.to_string()])
        .args(["--calls", &l.calls.to_string()])
        .args(["--seconds", &l.seconds.to_string()])
        .args(["--suite", l.suite, "--size", &l.size.to_string()])
        .args(["--direction", l.direction]);
    if relay.ours() {
        cmd.arg("--control").arg(&running.control);
    } else {
        cmd.args(["--rtpengine", NG]);
    }
    if relay.mux() {
        cmd.arg("--mux");
    }
    let out = cmd.output().map_err(|e| format!("running loadgen: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "loadgen against {} with {} calls failed: {}",
            relay.name(),
            l.calls,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("loadgen output: {e}"))?;
    let dirs: Vec<&Value> = [&v["client_to_phone"], &v["phone_to_client"]]
        .into_iter()
        .filter(|d| d["sent"].as_u64().unwrap_or(0) > 0)
        .collect();
    let loss = dirs
        .iter()
        .map(|d| d["loss_ratio"].as_f64().unwrap_or(1.0))
        .fold(0.0, f64::max);
    let delivered = dirs
        .iter()
        .map(|d| d["received"].as_u64().unwrap_or(0))
        .sum();
    let worst = |field: &str| {
        dirs.iter()
            .filter_map(|d| d["latency_us"][field].as_u64())
            .max()
    };
    let p = Point {
        calls: l.calls,
        offered_pps: v["offered_pps"].as_f64().unwrap_or(0.0),
        loss,
        p50_us: worst("p50"),
        p99_us: worst("p99"),
        delivered,
        relay_cpu_s: v["relay_cpu_seconds"]
            .as_f64()
            .ok_or("loadgen could not read the relay's CPU time")?,
    };
    eprintln!(
        "xtask: {:<19} {} {} {} B {:>5} calls: loss {:.4} %, relay CPU {:.2} s ({} µs/packet), p99 {:?} µs",
        relay.name(),
        l.suite,
        l.direction,
        l.size,
        l.calls,
        p.loss * 100.0,
        p.relay_cpu_s,
        p.cpu_per_packet_us()
            .map_or("–".into(), |u| format!("{u:.2}")),
        p.p99_us
    );
    Ok(p)
}

struct Outcome {
    relay: Relay,
    backend: String,
    cpu_rows: Vec<(Transform, usize, Point)>,
    sweep: Vec<Point>,
    knee: Option<usize>,
    half: Option<Point>,
    /// Why the sweep ended early, if it did.
    failure: Option<String>,
}

impl Outcome {
    /// Whether every point of the sweep carried its load.
    fn never_lost(&self) -> bool {
        self.sweep.iter().all(|p| p.loss < KNEE_LOSS)
    }
}

/// The knee: the last load before the first one that lost ≥ [`KNEE_LOSS`].
fn knee(sweep: &[Point]) -> Option<usize> {
    sweep
        .iter()
        .take_while(|p| p.loss < KNEE_LOSS)
        .map(|p| p.calls)
        .last()
}

fn measure(
    relay: Relay,
    edge: &Path,
    scratch: &Path,
    seconds: f64,
    sweep: &[usize],
) -> Result<Outcome, String> {
    let running = start(relay, edge, scratch)?;
    let backend = if relay.ours() {
        relay_process::backend_line(&scratch.join(format!("{}.log", relay.name())))
            .unwrap_or_default()
    } else {
        "rtpengine-daemon, userspace forwarding (--table=-1)".to_string()
    };
    let mut cpu_rows = Vec::new();
    for t in Transform::ALL {
        // The multiplexed set-up exists for the SRTP legs of the C role.
        if relay.mux() && t == Transform::Passthrough {
            continue;
        }
        for size in [172usize, 1200] {
            let (suite, direction) = t.load();
            let l = Load {
                calls: CPU_CALLS,
                seconds,
                suite,
                direction,
                size,
            };
            cpu_rows.push((t, size, load(relay, &running, edge, l)?));
        }
    }
    let mut points = Vec::new();
    let mut failure = None;
    for &calls in sweep {
        let l = Load {
            calls,
            seconds,
            suite: SUITE,
            direction: "both",
            size: 172,
        };
        let p = match load(relay, &running, edge, l) {
            Ok(p) => p,
            Err(e) => {
                // A relay that cannot even set the calls up has passed its limit too.
                eprintln!("xtask: {e}");
                failure = Some(format!("{calls} calls: {e}"));
                break;
            }
        };
        let over = p.loss >= KNEE_LOSS;
        let far_over = p.loss >= 0.05;
        points.push(p);
        // Two lossy points in a row, or one far over, end the sweep.
        let last_two_lossy = points.len() >= 2
            && points[points.len() - 2..]
                .iter()
                .all(|p| p.loss >= KNEE_LOSS);
        if over && (far_over || last_two_lossy) {
            break;
        }
    }
    let knee = knee(&points);
    let half = match knee {
        Some(k) => {
            let l = Load {
                calls: (k / 2).max(1),
                seconds,
                suite: SUITE,
                direction: "both",
                size: 172,
            };
            Some(load(relay, &running, edge, l)?)
        }
        None => None,
    };
    Ok(Outcome {
        relay,
        backend,
        cpu_rows,
        sweep: points,
        knee,
        half,
        failure,
    })
}

pub(crate) fn run() -> Result<ExitCode, String> {
    let root = workspace_root()?;
    run_checked(
        Command::new(cargo())
            .args(["build", "--release", "-p", "edge"])
            .current_dir(&root),
        "`cargo build --release -p edge`",
    )?;
    let edge = target_dir(&root).join("release").join("edge");
    let scratch = target_dir(&root).join("bench-relay");
    fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let quick = std::env::var("RELAY_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let seconds = if quick { 2.0 } else { 5.0 };
    let sweep: Vec<usize> = if quick {
        vec![200, 800, 1600]
    } else {
        vec![500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000]
    };
    let mut outcomes = Vec::new();
    for relay in Relay::ALL {
        outcomes.push(measure(relay, &edge, &scratch, seconds, &sweep)?);
    }
    let plot = plot(&root, &outcomes);
    let section = render(&outcomes, quick, seconds, plot.as_deref());
    let results = root.join("benches").join("RESULTS.md");
    let old = fs::read_to_string(&results).ok();
    let new = crate::bench_srtp::replace_section(old.as_deref(), &section, (BEGIN, END))?;
    fs::write(&results, new).map_err(|e| format!("writing {}: {e}", results.display()))?;
    println!("{section}");
    Ok(ExitCode::SUCCESS)
}

fn plot(root: &Path, outcomes: &[Outcome]) -> Option<String> {
    let dir = root.join("benches");
    let mut script = String::from(
        "set terminal pngcairo size 900,540\nset output 'relay-loss.png'\n\
         set title 'SRTP<->RTP relay on one core: loss against offered calls (50 pps each way, 172 B)'\n\
         set xlabel 'concurrent calls'\nset ylabel 'packet loss (%)'\nset logscale y\n\
         set yrange [0.001:100]\nset grid\nset key top left\nplot ",
    );
    let mut first = true;
    for o in outcomes {
        let dat = format!("relay-loss-{}.dat", o.relay.name());
        let mut body = String::from("# calls loss_percent (0 shown as 0.001)\n");
        for p in &o.sweep {
            let _ = writeln!(body, "{} {}", p.calls, (p.loss * 100.0).max(0.001));
        }
        fs::write(dir.join(&dat), body).ok()?;
        if !first {
            script.push_str(", ");
        }
        first = false;
        let _ = write!(
            script,
            "'{dat}' using 1:2 with linespoints lw 2 title '{}'",
            o.relay.name()
        );
    }
    script.push('\n');
    fs::write(dir.join("relay-loss.gnuplot"), &script).ok()?;
    let ok = Command::new("gnuplot")
        .arg("relay-loss.gnuplot")
        .current_dir(&dir)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| "relay-loss.png".to_string())
}

fn fmt_us(v: Option<f64>) -> String {
    v.map_or("–".into(), |u| format!("{u:.2}"))
}

fn render(outcomes: &[Outcome], quick: bool, seconds: f64, plot: Option<&str>) -> String {
    let mut s = String::new();
    let date = relay_process::utc_date();
    let cpu = crate::criterion_results::cpu_model();
    let _ = writeln!(
        s,
        "{BEGIN}\n## Media relay: portico vs rtpengine, one core each\n"
    );
    let _ = writeln!(s, "- Date (UTC): {date}");
    let _ = writeln!(
        s,
        "- Command: `{}cargo xtask bench relay`",
        if quick { "RELAY_BENCH_QUICK=1 " } else { "" }
    );
    if quick {
        let _ = writeln!(s, "- **Quick smoke run**: do not quote these numbers.");
    }
    let _ = writeln!(s, "- CPU: {cpu}");
    let _ = writeln!(
        s,
        "- Set-up: loopback. Each relay alone on CPU 0 (`taskset -c 0 edge relay --cores 0 \
         --backend uring|sockets`; `taskset -c 0 rtpengine`), `edge loadgen --core 1` on CPU 1, \
         {seconds} s of traffic per point, 50 pps per call and direction. SRTP is \
         {SUITE} on the outside leg, plain RTP inside. Relay CPU = user + system time of the relay \
         process (all threads) from the first packet sent to the end of the drain, set-up and \
         teardown excluded (`edge loadgen --relay-pid`). On loopback the kernel's delivery of a \
         sent datagram runs in the sender's context, so every relay pays for the receive path \
         of what it sends."
    );
    let _ = writeln!(
        s,
        "- `-mux`: the C role as portico deploys it: the outside legs multiplexed on the \
         traversal pair {MUX_PAIR}/{} toward the E, which the generator plays with one socket \
         (framed SRTP in UDP GSO sends, GRO receives); the relay's traversal socket sends in GSO \
         runs and receives with GRO. rtpengine has no such mode: its rows are per-port.",
        MUX_PAIR + 1
    );
    for o in outcomes {
        let _ = writeln!(s, "- {}: {}", o.relay.name(), o.backend.trim());
    }
    let _ = writeln!(
        s,
        "\n### (a) CPU per relayed packet, one direction at a time ({CPU_CALLS} calls = {} packets/s)\n",
        CPU_CALLS * 50
    );
    let _ = writeln!(
        s,
        "| relay | transform | size | relay CPU s | packets | CPU µs/packet | loss % |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|");
    for t in Transform::ALL {
        for size in [172usize, 1200] {
            for o in outcomes {
                for (_, _, p) in o
                    .cpu_rows
                    .iter()
                    .filter(|(tt, ss, _)| *tt == t && *ss == size)
                {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {size} | {:.2} | {} | {} | {:.3} |",
                        o.relay.name(),
                        t.name(),
                        p.relay_cpu_s,
                        p.delivered,
                        fmt_us(p.cpu_per_packet_us()),
                        p.loss * 100.0
                    );
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "\n### (b) Loss against offered calls (SRTP↔RTP, both directions, 172 B)\n"
    );
    let _ = writeln!(
        s,
        "| relay | calls | offered pps | loss % | relay CPU s | CPU µs/packet | p50 µs | p99 µs |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        for p in &o.sweep {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.3} | {:.2} | {} | {} | {} |",
                o.relay.name(),
                p.calls,
                p.offered_pps,
                p.loss * 100.0,
                p.relay_cpu_s,
                fmt_us(p.cpu_per_packet_us()),
                p.p50_us.map_or("–".into(), |v| v.to_string()),
                p.p99_us.map_or("–".into(), |v| v.to_string())
            );
        }
    }
    let _ = writeln!(s, "\n### Summary\n");
    let _ = writeln!(
        s,
        "| relay | calls per core at < 0.1 % loss | p50 / p99 latency at half that (µs) |"
    );
    let _ = writeln!(s, "|---|---:|---|");
    for o in outcomes {
        let knee = o.knee.map_or("below the first point".into(), |k| {
            let tested_max = o.sweep.last().map_or(0, |p| p.calls);
            if o.never_lost() {
                format!("≥ {k} (no loss up to the last point, {tested_max})")
            } else {
                k.to_string()
            }
        });
        let lat = o.half.as_ref().map_or("–".into(), |p| {
            format!("{} / {}", p.p50_us.unwrap_or(0), p.p99_us.unwrap_or(0))
        });
        let _ = writeln!(s, "| {} | {knee} | {lat} |", o.relay.name());
    }
    for o in outcomes {
        if let Some(f) = &o.failure {
            let _ = writeln!(s, "\n{}: the sweep ended at {f}", o.relay.name());
        }
    }
    if let Some(theirs) = outcomes
        .iter()
        .find(|o| o.relay == Relay::Rtpengine)
        .and_then(|o| o.knee)
    {
        let _ = writeln!(s);
        for o in outcomes.iter().filter(|o| o.relay.ours()) {
            if let Some(ours) = o.knee {
                let _ = writeln!(
                    s,
                    "- Calls per core at < 0.1 % loss, {} / rtpengine: **{:.2}×** (target ≥ 5×){}.",
                    o.relay.name(),
                    ours as f64 / theirs as f64,
                    if o.never_lost() {
                        "; a lower bound: it lost nothing up to the last point"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if let Some(p) = plot {
        let _ = writeln!(s, "\n![loss against offered calls]({p})");
    }
    let _ = write!(s, "{END}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(calls: usize, loss: f64) -> Point {
        Point {
            calls,
            offered_pps: calls as f64 * 100.0,
            loss,
            p50_us: Some(200),
            p99_us: Some(900),
            delivered: 1000,
            relay_cpu_s: 0.005,
        }
    }

    #[test]
    fn the_knee_is_the_last_load_before_the_first_loss() {
        assert_eq!(
            knee(&[pt(500, 0.0), pt(1000, 0.0), pt(1500, 0.01)]),
            Some(1000)
        );
        // A lucky point after a lossy one does not count.
        assert_eq!(
            knee(&[pt(500, 0.0), pt(1000, 0.002), pt(1500, 0.0)]),
            Some(500)
        );
        assert_eq!(knee(&[pt(500, 0.5)]), None);
        assert_eq!(knee(&[pt(500, 0.0009)]), Some(500), "just under 0.1 %");
        assert_eq!(knee(&[]), None);
    }

    #[test]
    fn the_section_states_ratios_and_lower_bounds() {
        let ours = Outcome {
            relay: Relay::UringMux,
            backend: "worker 0 on CPU 0: io_uring backend".into(),
            cpu_rows: vec![(Transform::SrtpToRtp, 172, pt(1000, 0.0))],
            sweep: vec![pt(1000, 0.0), pt(2000, 0.0)],
            knee: Some(2000),
            half: Some(pt(1000, 0.0)),
            failure: None,
        };
        let theirs = Outcome {
            relay: Relay::Rtpengine,
            backend: "rtpengine".into(),
            cpu_rows: vec![(Transform::SrtpToRtp, 172, pt(1000, 0.0))],
            sweep: vec![pt(1000, 0.0), pt(2000, 0.3)],
            knee: Some(1000),
            half: Some(pt(500, 0.0)),
            failure: None,
        };
        let s = render(&[ours, theirs], false, 5.0, None);
        assert!(s.starts_with(BEGIN) && s.ends_with(END));
        assert!(
            s.contains("portico-uring-mux / rtpengine: **2.00×**"),
            "{s}"
        );
        assert!(s.contains("a lower bound"), "{s}");
        assert!(
            s.contains("| portico-uring-mux | SRTP→RTP | 172 | 0.01 | 1000 | 5.00 | 0.000 |"),
            "{s}"
        );
        assert!(s.contains("| rtpengine | 1000 |"), "{s}");
    }
}
