//! `cargo xtask bench relay`: calls through our relay and through rtpengine, side by side.
//!
//! Each relay runs alone, pinned to CPU 0; the load generator (`edge loadgen`) runs pinned to
//! CPU 1. Both relays bridge SRTP (outside) to plain RTP (inside), set up the way their
//! signaling would: ours through `edge relay`'s control socket, rtpengine through its ng port
//! (offer RTP/SAVP with `transport-protocol=RTP/AVP`, answer RTP/AVP). All traffic is on
//! loopback. For each relay:
//!
//! 1. CPU per relayed packet at a fixed load: relay process CPU time (user + system, all
//!    threads, from `/proc/PID/stat`) over packets delivered, at 172 and 1200 bytes (and plain
//!    passthrough for ours).
//! 2. A sweep of offered calls (50 pps each way, G.711-sized): loss against load; the knee is
//!    the largest load with < 0.1 % loss in both directions.
//! 3. Latency at half the knee: p50/p99 one-way added latency.
//!
//! Results go to `benches/RESULTS.md` (between `<!-- relay:begin -->` and `<!-- relay:end -->`)
//! and the plot to `benches/relay-loss.png`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{cargo, run_checked, target_dir, workspace_root};

const BEGIN: &str = "<!-- relay:begin -->";
const END: &str = "<!-- relay:end -->";
const NG: &str = "127.0.0.1:2223";
/// Loss ratio under which a load counts as carried.
const KNEE_LOSS: f64 = 0.001;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Relay {
    /// Ours with the io_uring backend.
    Ours,
    /// Ours with the socket fallback forced.
    OursSockets,
    Rtpengine,
}

impl Relay {
    fn name(self) -> &'static str {
        match self {
            Relay::Ours => "portico-uring",
            Relay::OursSockets => "portico-sockets",
            Relay::Rtpengine => "rtpengine",
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
    fn cpu_per_packet_ns(&self) -> Option<f64> {
        (self.delivered > 0).then(|| self.relay_cpu_s * 1e9 / self.delivered as f64)
    }
}

struct Running {
    child: Child,
    control: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.control);
    }
}

fn start(relay: Relay, edge: &Path, scratch: &Path) -> Result<Running, String> {
    let control = scratch.join("relay.sock");
    let _ = fs::remove_file(&control);
    let log = fs::File::create(scratch.join(format!("{}.log", relay.name())))
        .map_err(|e| format!("relay log: {e}"))?;
    // The whole process on CPU 0 (kernel helper threads it starts included), like rtpengine.
    let child = match relay {
        Relay::Ours | Relay::OursSockets => Command::new("taskset")
            .args(["-c", "0"])
            .arg(edge)
            .args(["relay", "--core", "0", "--backend"])
            .arg(if relay == Relay::Ours {
                "uring"
            } else {
                "sockets"
            })
            .arg("--control")
            .arg(&control)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn(),
        Relay::Rtpengine => Command::new("taskset")
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
            .spawn(),
    }
    .map_err(|e| format!("starting {}: {e}", relay.name()))?;
    let running = Running { child, control };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = match relay {
            Relay::Ours | Relay::OursSockets => running.control.exists(),
            Relay::Rtpengine => ng_ping(),
        };
        if ready {
            return Ok(running);
        }
        if Instant::now() > deadline {
            return Err(format!("{} did not come up in 10 s", relay.name()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
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

#[allow(clippy::too_many_arguments)]
fn load(
    relay: Relay,
    running: &Running,
    edge: &Path,
    calls: usize,
    seconds: f64,
    suite: &str,
    size: usize,
) -> Result<Point, String> {
    let pid = running.child.id();
    let mut cmd = Command::new(edge);
    cmd.args(["loadgen", "--core", "1", "--no-verify"])
        .args(["--relay-pid", &pid.to_string()])
        .args(["--calls", &calls.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .args(["--suite", suite, "--size", &size.to_string()]);
    match relay {
        Relay::Ours | Relay::OursSockets => cmd.arg("--control").arg(&running.control),
        Relay::Rtpengine => cmd.args(["--rtpengine", NG]),
    };
    let out = cmd.output().map_err(|e| format!("running loadgen: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "loadgen against {} with {calls} calls failed: {}",
            relay.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("loadgen output: {e}"))?;
    let dirs = [&v["client_to_phone"], &v["phone_to_client"]];
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
        calls,
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
        "xtask: {:<9} {suite} {size} B {calls:>5} calls: loss {:.4} %, relay CPU {:.2} s, p99 {:?} µs",
        relay.name(),
        p.loss * 100.0,
        p.relay_cpu_s,
        p.p99_us
    );
    Ok(p)
}

struct Outcome {
    relay: Relay,
    backend: String,
    cpu_rows: Vec<(String, usize, Point)>,
    sweep: Vec<Point>,
    knee: Option<usize>,
    half: Option<Point>,
    /// Why the sweep ended early, if it did.
    failure: Option<String>,
}

fn measure(
    relay: Relay,
    edge: &Path,
    scratch: &Path,
    seconds: f64,
    sweep: &[usize],
) -> Result<Outcome, String> {
    let running = start(relay, edge, scratch)?;
    let backend = match relay {
        Relay::Ours | Relay::OursSockets => {
            fs::read_to_string(scratch.join(format!("{}.log", relay.name())))
                .ok()
                .and_then(|l| {
                    l.lines()
                        .find(|x| x.contains("backend") || x.contains("fallback"))
                        .map(str::to_string)
                })
                .unwrap_or_default()
        }
        Relay::Rtpengine => "rtpengine-daemon, userspace forwarding (--table=-1)".to_string(),
    };
    let suite = "AES_CM_128_HMAC_SHA1_80";
    let mut cpu_rows = Vec::new();
    let fixed = 200;
    if relay != Relay::Rtpengine {
        cpu_rows.push((
            "passthrough (plain)".to_string(),
            172,
            load(relay, &running, edge, fixed, seconds, "plain", 172)?,
        ));
    }
    for size in [172usize, 1200] {
        cpu_rows.push((
            format!("SRTP↔RTP ({suite})"),
            size,
            load(relay, &running, edge, fixed, seconds, suite, size)?,
        ));
    }
    let mut points = Vec::new();
    let mut over = 0;
    let mut failure = None;
    for &calls in sweep {
        let p = match load(relay, &running, edge, calls, seconds, suite, 172) {
            Ok(p) => p,
            Err(e) => {
                // A relay that cannot even set the calls up has passed its limit too.
                eprintln!("xtask: {e}");
                failure = Some(format!("{calls} calls: {e}"));
                break;
            }
        };
        let bad = p.loss >= KNEE_LOSS;
        points.push(p);
        if bad {
            over += 1;
            if over >= 2 {
                break;
            }
        }
    }
    let knee = points
        .iter()
        .filter(|p| p.loss < KNEE_LOSS)
        .map(|p| p.calls)
        .max();
    let half = match knee {
        Some(k) => Some(load(
            relay,
            &running,
            edge,
            (k / 2).max(1),
            seconds,
            suite,
            172,
        )?),
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
        vec![
            250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 6000,
        ]
    };
    let mut outcomes = Vec::new();
    for relay in [Relay::Ours, Relay::OursSockets, Relay::Rtpengine] {
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

fn render(outcomes: &[Outcome], quick: bool, seconds: f64, plot: Option<&str>) -> String {
    let mut s = String::new();
    let date = Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "{BEGIN}\n## Media relay: portico vs rtpengine, SRTP↔RTP on one core\n"
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
    let _ = writeln!(
        s,
        "- Set-up: each relay alone on CPU 0 (`taskset -c 0 edge relay --core 0 --backend uring|sockets`; `taskset -c 0 rtpengine`), \
         `edge loadgen --core 1` on CPU 1, loopback, {seconds} s per point, 50 pps each way per \
         call. The outside leg is SRTP (AES_CM_128_HMAC_SHA1_80), the inside leg plain RTP, so \
         every packet is decrypted or encrypted once. Relay CPU = user + system time of the relay \
         process (all threads) from the first packet sent to the end of the drain, set-up and \
         teardown excluded (`edge loadgen --relay-pid`); on loopback the kernel's delivery of a sent \
         datagram is charged to the sender, so both relays pay for their sends' receive path."
    );
    for o in outcomes {
        let _ = writeln!(s, "- {}: {}", o.relay.name(), o.backend.trim());
    }
    let _ = writeln!(
        s,
        "\n### CPU per relayed packet at a light load (200 calls = 20,000 packets/s)\n\n\
         At this load nearly every packet wakes the relay up on its own, so this is mostly the \
         cost of a wake-up and its system calls; the sweep below gives the cost per packet as \
         load rises and batches fill.\n"
    );
    let _ = writeln!(
        s,
        "| relay | transform | size | relay CPU s | packets | CPU µs/packet |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|");
    for o in outcomes {
        for (what, size, p) in &o.cpu_rows {
            let _ = writeln!(
                s,
                "| {} | {what} | {size} | {:.2} | {} | {} |",
                o.relay.name(),
                p.relay_cpu_s,
                p.delivered,
                p.cpu_per_packet_ns()
                    .map_or("–".into(), |n| format!("{:.2}", n / 1000.0))
            );
        }
    }
    let _ = writeln!(s, "\n### Loss against offered calls (172 B)\n");
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
                p.cpu_per_packet_ns()
                    .map_or("–".into(), |n| format!("{:.2}", n / 1000.0)),
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
            if o.sweep.iter().all(|p| p.loss < KNEE_LOSS) {
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
        for o in outcomes.iter().filter(|o| o.relay != Relay::Rtpengine) {
            if let Some(ours) = o.knee {
                let _ = writeln!(
                    s,
                    "\nCalls per core at < 0.1 % loss, {} / rtpengine: **{:.2}×** (target ≥ 5×).",
                    o.relay.name(),
                    ours as f64 / theirs as f64
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
