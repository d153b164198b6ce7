//! `cargo xtask bench relay-scaling`: our relay with generators enough to load it, on a machine
//! with cores to spare (at least 4; a 16-core machine runs every part).
//!
//! On a 2-core machine the generator gets one core, as the relay does, and spends about as much
//! per packet as the relay: past some load the figure measured is the generator's. Here:
//!
//! 1. **One worker, [`GENERATORS`] generators.** The relay on CPU 0, generators on the next
//!    CPUs, each carrying its share of the calls, all sending from the same instant
//!    (`edge loadgen --start-at`); per-port legs and the multiplexed C role (outside legs on the
//!    traversal pair). Loss against offered calls, relay CPU per packet, latency; the knee is the
//!    last load before the first with ≥ 0.1 % loss.
//! 2. **Scaling.** W workers on CPUs 0..W, W traversal pairs (one per worker), W generators on
//!    the next W CPUs, generator g playing the E of pair g (as one E's pair carries its calls),
//!    [`CALLS_PER_WORKER`] multiplexed calls per worker: whether calls per core hold as cores
//!    are added.
//!
//! Relay CPU is read from `/proc/PID/stat` by this task at the shared start instant and at the
//! end of the traffic (plus a 0.5 s drain), so set-up and teardown are outside it.
//!
//! `--edge PATH` runs a prebuilt `edge` (on a machine without the toolchain), `--results PATH`
//! chooses the file the section goes into (default `benches/RESULTS.md`).
//! `RELAY_SCALING_SMOKE=1` is a smoke run of the whole flow with tiny loads, on any machine
//! (its figures are not fit to be reported).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::relay_process::{self, now_ms, sleep_until, RelayProcess as Relay};

const BEGIN: &str = "<!-- relay-scaling:begin -->";
const END: &str = "<!-- relay-scaling:end -->";
/// Generators beside the one worker of part 1.
const GENERATORS: usize = 3;
/// Multiplexed calls per worker in part 2.
const CALLS_PER_WORKER: usize = 1500;
/// Loss ratio under which a load counts as carried.
const KNEE_LOSS: f64 = 0.001;
const SECONDS: f64 = 5.0;
const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// One run: W workers, G generators, N calls in total.
#[derive(Clone, Debug, Default)]
struct Run {
    workers: usize,
    generators: usize,
    calls: usize,
    offered_pps: f64,
    sent: u64,
    received: u64,
    /// The worse direction.
    loss: f64,
    p50_us: Option<u64>,
    p99_us: Option<u64>,
    relay_cpu_s: f64,
}

impl Run {
    fn cpu_per_packet_us(&self) -> Option<f64> {
        (self.received > 0).then(|| self.relay_cpu_s * 1e6 / self.received as f64)
    }
}

fn cpu_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts `edge relay` with `workers` workers on CPUs 0..workers and `pairs` traversal pairs.
fn start_relay(edge: &Path, scratch: &Path, workers: usize, pairs: usize) -> Result<Relay, String> {
    let control = scratch.join("scaling.sock");
    let log = scratch.join("scaling-relay.log");
    let cores = cpu_list(0, workers);
    let mux: Vec<String> = (0..pairs).map(|i| (36000 + 2 * i).to_string()).collect();
    let spawn = || -> Result<Child, String> {
        let out = fs::File::create(&log).map_err(|e| format!("relay log: {e}"))?;
        Command::new(edge)
            .args(["relay", "--cores", &cores, "--backend", "auto"])
            .args(["--range", "20000-59999", "--quarantine", "0"])
            .args(["--mux-pairs", &mux.join(",")])
            .arg("--control")
            .arg(&control)
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .map_err(|e| format!("starting edge relay: {e}"))
    };
    relay_process::start(
        "edge relay",
        control.clone(),
        &log,
        relay_process::START_WAIT,
        spawn,
        |r| r.control.exists(),
    )
}

/// Runs `calls` calls through `relay`, shared by `generators` generators on the CPUs from
/// `first_core` on, all starting at one instant. With `pairs`, generator g puts its calls on
/// traversal pair g (of `pairs`).
#[allow(clippy::too_many_arguments)]
fn run_load(
    edge: &Path,
    relay: &Relay,
    workers: usize,
    generators: usize,
    first_core: usize,
    calls: usize,
    mux: bool,
    pairs: Option<usize>,
) -> Result<Run, String> {
    let share = calls.div_ceil(generators);
    let setup = Duration::from_secs(2) + Duration::from_millis(calls as u64);
    let start_at = now_ms() + setup.as_millis() as u64;
    let mut gens = Vec::new();
    for g in 0..generators {
        let n = share.min(calls - (share * g).min(calls));
        if n == 0 {
            continue;
        }
        let mut cmd = Command::new(edge);
        cmd.args(["loadgen", "--no-verify", "--suite", SUITE])
            .args(["--core", &(first_core + g).to_string()])
            .args(["--calls", &n.to_string()])
            .args(["--seconds", &SECONDS.to_string()])
            .args(["--start-at", &start_at.to_string()])
            .arg("--control")
            .arg(&relay.control)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match pairs {
            // Generator g plays the E of traversal pair g: all its calls on that pair, as one
            // E's pair carries them (and so on the worker that owns the pair).
            Some(n) if n > 0 => {
                cmd.args(["--mux-pair", &(36000 + 2 * (g % n)).to_string()]);
            }
            _ if mux => {
                cmd.arg("--mux");
            }
            _ => {}
        }
        gens.push(cmd.spawn().map_err(|e| format!("starting loadgen: {e}"))?);
    }
    let pid = relay.child.id();
    sleep_until(start_at);
    let cpu0 = relay_process::cpu_seconds(pid).ok_or("cannot read the relay's CPU time")?;
    sleep_until(start_at + (SECONDS * 1000.0) as u64 + 500);
    let cpu1 = relay_process::cpu_seconds(pid).ok_or("cannot read the relay's CPU time")?;
    let mut run = Run {
        workers,
        generators: gens.len(),
        calls,
        relay_cpu_s: cpu1 - cpu0,
        ..Run::default()
    };
    let (mut sent, mut received) = ([0u64; 2], [0u64; 2]);
    for g in gens {
        let out = g
            .wait_with_output()
            .map_err(|e| format!("waiting for loadgen: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "loadgen failed ({calls} calls, {workers} workers): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let v: Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("loadgen output: {e}"))?;
        run.offered_pps += v["offered_pps"].as_f64().unwrap_or(0.0);
        for (i, d) in ["client_to_phone", "phone_to_client"].iter().enumerate() {
            sent[i] += v[d]["sent"].as_u64().unwrap_or(0);
            received[i] += v[d]["received"].as_u64().unwrap_or(0);
            for (field, slot) in [("p50", &mut run.p50_us), ("p99", &mut run.p99_us)] {
                if let Some(x) = v[d]["latency_us"][field].as_u64() {
                    *slot = Some(slot.map_or(x, |y| y.max(x)));
                }
            }
        }
    }
    run.sent = sent.iter().sum();
    run.received = received.iter().sum();
    run.loss = (0..2)
        .map(|i| {
            if sent[i] == 0 {
                0.0
            } else {
                1.0 - received[i] as f64 / sent[i] as f64
            }
        })
        .fold(0.0, f64::max);
    eprintln!(
        "xtask: {} worker(s), {} generator(s), {} {} calls: loss {:.4} %, relay CPU {:.2} s ({} µs/packet), p99 {:?} µs",
        run.workers,
        run.generators,
        calls,
        if mux { "multiplexed" } else { "per-port" },
        run.loss * 100.0,
        run.relay_cpu_s,
        run.cpu_per_packet_us().map_or("–".into(), |u| format!("{u:.2}")),
        run.p99_us
    );
    Ok(run)
}

/// The knee: the last load before the first one that lost ≥ [`KNEE_LOSS`].
fn knee(runs: &[Run]) -> Option<usize> {
    runs.iter()
        .take_while(|r| r.loss < KNEE_LOSS)
        .map(|r| r.calls)
        .last()
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode, String> {
    let o = relay_process::PrebuiltOptions::parse("relay-scaling", args)?;
    let smoke = std::env::var("RELAY_SCALING_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 4 && !smoke {
        return Err(format!(
            "bench relay-scaling needs at least 4 CPUs (this machine has {cpus}): the relay and \
             its generators each need cores of their own; `cargo xtask bench relay` is the \
             2-core bench"
        ));
    }
    let edge = o.edge(crate::deps::DEMO)?;
    let scratch = std::env::temp_dir().join(format!("portico-scaling-{}", std::process::id()));
    fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let generators = GENERATORS.min(cpus.saturating_sub(1)).max(1);
    let sweep: &[usize] = if smoke {
        &[100, 200]
    } else {
        &[1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000]
    };
    let per_worker = if smoke { 100 } else { CALLS_PER_WORKER };

    // 1. One worker, several generators.
    let mut one = Vec::new();
    for mux in [false, true] {
        let relay = start_relay(&edge, &scratch, 1, 1)?;
        let mut runs = Vec::new();
        for &calls in sweep {
            let r = run_load(&edge, &relay, 1, generators, 1, calls, mux, None)?;
            let lossy = r.loss >= KNEE_LOSS;
            let far = r.loss >= 0.05;
            runs.push(r);
            let two = runs.len() >= 2 && runs[runs.len() - 2..].iter().all(|r| r.loss >= KNEE_LOSS);
            if lossy && (far || two) {
                break;
            }
        }
        one.push((mux, runs));
    }

    // 2. Scaling: W workers, W generators, `per_worker` multiplexed calls per worker.
    let mut scaling = Vec::new();
    let mut w = 1;
    while 2 * w <= cpus.max(2) {
        let relay = start_relay(&edge, &scratch, w, w)?;
        let first_gen = w.min(cpus - 1);
        scaling.push(run_load(
            &edge,
            &relay,
            w,
            w,
            first_gen,
            per_worker * w,
            true,
            Some(w),
        )?);
        drop(relay);
        w *= 2;
    }

    let backend = relay_process::backend_line(&scratch.join("scaling-relay.log"))
        .unwrap_or_else(|| "unknown".into());
    let _ = fs::remove_dir_all(&scratch);
    let section = render(
        cpus, generators, per_worker, smoke, &backend, &one, &scaling,
    );
    let results = o.results()?;
    let old = fs::read_to_string(&results).ok();
    let new = crate::bench_srtp::replace_section(old.as_deref(), &section, (BEGIN, END))?;
    fs::write(&results, new).map_err(|e| format!("writing {}: {e}", results.display()))?;
    println!("{section}");
    Ok(ExitCode::SUCCESS)
}

fn render(
    cpus: usize,
    generators: usize,
    per_worker: usize,
    smoke: bool,
    backend: &str,
    one: &[(bool, Vec<Run>)],
    scaling: &[Run],
) -> String {
    let mut s = String::new();
    let date = relay_process::utc_date();
    let cpu = crate::criterion_results::cpu_model();
    let kernel = crate::command_output("uname", &["-r"]).unwrap_or_default();
    let _ = writeln!(
        s,
        "{BEGIN}\n## Media relay with generators to spare: one core, then several\n"
    );
    let _ = writeln!(s, "- Date (UTC): {date}");
    let _ = writeln!(
        s,
        "- Command: `{}cargo xtask bench relay-scaling`",
        if smoke { "RELAY_SCALING_SMOKE=1 " } else { "" }
    );
    if smoke {
        let _ = writeln!(s, "- **Smoke run**: do not quote these numbers.");
    }
    let _ = writeln!(s, "- Machine: {cpu}, {cpus} CPUs, kernel {kernel}");
    let _ = writeln!(s, "- Relay (last run): {backend}");
    let _ = writeln!(
        s,
        "- Set-up: loopback, {SECONDS} s of traffic per point, 50 pps per call each way, SRTP \
         ({SUITE}) outside, plain RTP inside, 172 B. The relay's workers pinned to CPUs 0…W−1 \
         (`edge relay --cores`), generators (`edge loadgen --core N --start-at T`) on the next \
         CPUs, each with its share of the calls, all starting at T. Relay CPU = the relay \
         process's user + system time from T to the end of the traffic plus 0.5 s (read here \
         from `/proc`). Multiplexed = the C role as deployed: outside legs on the traversal \
         pair(s), GSO/GRO; in the scaling runs generator g plays the E of traversal pair g (worker \
         g), as one E's pair carries its calls."
    );
    let _ = writeln!(
        s,
        "\n### One worker on one core, {generators} generators\n\n\
         | legs | calls | offered pps | loss % | relay CPU s | CPU µs/packet | p50 µs | p99 µs |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (mux, runs) in one {
        for r in runs {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.3} | {:.2} | {} | {} | {} |",
                if *mux { "multiplexed" } else { "per-port" },
                r.calls,
                r.offered_pps,
                r.loss * 100.0,
                r.relay_cpu_s,
                r.cpu_per_packet_us()
                    .map_or("–".into(), |u| format!("{u:.2}")),
                r.p50_us.map_or("–".into(), |v| v.to_string()),
                r.p99_us.map_or("–".into(), |v| v.to_string())
            );
        }
    }
    let _ = writeln!(s);
    for (mux, runs) in one {
        let never = runs.iter().all(|r| r.loss < KNEE_LOSS);
        let _ = writeln!(
            s,
            "- {}: **{}** calls per core at < 0.1 % loss{}.",
            if *mux { "Multiplexed" } else { "Per-port" },
            knee(runs).map_or("fewer than the first point's".into(), |k| k.to_string()),
            if never {
                " (no loss up to the last point: a lower bound)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        s,
        "\n### Scaling: W workers on W cores, {per_worker} multiplexed calls per worker\n\n\
         | workers | generators | calls | offered pps | loss % | relay CPU s | CPU µs/packet | p99 µs |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in scaling {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.3} | {:.2} | {} | {} |",
            r.workers,
            r.generators,
            r.calls,
            r.offered_pps,
            r.loss * 100.0,
            r.relay_cpu_s,
            r.cpu_per_packet_us()
                .map_or("–".into(), |u| format!("{u:.2}")),
            r.p99_us.map_or("–".into(), |v| v.to_string())
        );
    }
    let _ = write!(s, "{END}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(calls: usize, loss: f64) -> Run {
        Run {
            workers: 1,
            generators: 3,
            calls,
            offered_pps: calls as f64 * 100.0,
            sent: 1000,
            received: 1000,
            loss,
            p50_us: Some(100),
            p99_us: Some(500),
            relay_cpu_s: 0.004,
        }
    }

    #[test]
    fn knee_and_section() {
        let runs = vec![run(1000, 0.0), run(1500, 0.0), run(2000, 0.01)];
        assert_eq!(knee(&runs), Some(1500));
        let s = render(
            16,
            3,
            1500,
            false,
            "worker 0 on CPU 0: io_uring backend",
            &[(true, runs)],
            &[run(3000, 0.0)],
        );
        assert!(s.starts_with(BEGIN) && s.ends_with(END));
        assert!(s.contains("Multiplexed: **1500** calls per core"), "{s}");
        assert!(
            s.contains("| multiplexed | 1500 | 150000 | 0.000 | 0.00 | 4.00 |"),
            "{s}"
        );
        assert!(s.contains("| 1 | 3 | 3000 |"), "{s}");
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(cpu_list(2, 3), "2,3,4");
        assert_eq!(cpu_list(0, 1), "0");
    }
}
