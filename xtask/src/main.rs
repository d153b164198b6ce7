//! Project tasks, run as `cargo xtask <command>` (an alias of `cargo run -p xtask --quiet --`).
//!
//! - `cargo xtask demo`: the main job of the README — installs the Debian packages it needs when
//!   missing, then runs `edge demo` (release build): the media plane on an embedded default,
//!   with calls through it.
//! - `cargo xtask test`: every test — installs the Debian packages the tests need when missing,
//!   then `cargo test --workspace`. `.ci/run` calls this.
//! - `cargo xtask bench srtp [-- <criterion args>]`: runs the SRTP benches (`benches/benches/
//!   srtp.rs`) and writes their results, ours against libsrtp2, into `benches/RESULTS.md` between
//!   `<!-- srtp:begin -->` and `<!-- srtp:end -->`.
//! - `cargo xtask bench relay`: our media relay against rtpengine-daemon, SRTP↔RTP on one core
//!   each (see `bench_relay.rs`); writes `benches/RESULTS.md` and `benches/relay-loss.png`.
//! - `cargo xtask bench relay-engine [-- <criterion args>]`: the relay engine's own cost per
//!   datagram (`benches/benches/relay_engine.rs`, criterion and callgrind); writes its section of
//!   `benches/RESULTS.md`.
//! - `cargo xtask bench register [--quick] [--results PATH]`: REGISTER load over TLS through the
//!   Kamailio 5.6 TLS edge and portico's E+C side by side (see `bench_register.rs`); writes its
//!   section of `benches/RESULTS.md`.
//! - `cargo xtask bench calls [--quick] [--results PATH]`: calls with SRTP media through
//!   Kamailio + rtpengine and portico's E+C side by side (see `bench_calls.rs`); writes its
//!   section of `benches/RESULTS.md` and `benches/calls.svg`.
//! - `cargo xtask fuzz [--seconds N] [target...] [-- <libFuzzer args>]`: runs each fuzz target (all
//!   by default) for N seconds (default 60) with `cargo +nightly fuzz run`, and fails on a crash.
//!
//! Criterion layout read by `bench srtp`: each benchmark leaves
//! `target/criterion/srtp/<SUITE>_<op>_<size>_<impl>/new/{benchmark,estimates}.json` (criterion
//! turns the `/` inside a function id into `_`). The id is taken from `full_id` in
//! `benchmark.json` (`srtp/<SUITE>/<op>/<size>/<impl>`), the times (ns per packet, one iteration
//! is one packet) from `mean.point_estimate` and `median.point_estimate` in `estimates.json`.
//! Only results written by this run are used, so a filtered run never mixes in stale numbers.

#![forbid(unsafe_code)]

mod bench_calls;
mod bench_proc;
mod bench_register;
mod bench_relay;
mod bench_relay_engine;
mod bench_relay_scaling;
mod bench_srtp;
mod bench_xdp;
mod criterion_results;
mod demo_lab;
mod deps;
mod fuzz;
mod lab;
mod relay_process;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo                                   the main job: install what it needs, then run
                                         `edge demo` (the media plane on loopback, calls
                                         through it, every packet checked)
  test                                   install what the tests need, then
                                         cargo test --workspace
  bench srtp [-- <criterion args>]       run the SRTP benches (ours vs libsrtp2) and write the
                                         results into benches/RESULTS.md
                                         (SRTP_BENCH_QUICK=1: short smoke run)
  bench relay                            calls through our relay and rtpengine on one core each,
                                         loss against load, CPU per packet, latency; writes
                                         benches/RESULTS.md and benches/relay-loss.png
                                         (RELAY_BENCH_QUICK=1: short smoke run)
  bench relay-engine [-- <criterion args>]
                                         the relay engine alone, ns and instructions per
                                         datagram per transform (criterion, callgrind); writes
                                         benches/RESULTS.md (RELAY_ENGINE_BENCH_QUICK=1: short)
  bench relay-scaling [--edge PATH] [--results PATH]
                                         our relay with generators to spare (4+ CPUs): one
                                         worker's knee, then W workers on W cores
  bench xdp [--edge PATH] [--results PATH]
                                         a flood at the media range while calls run, XDP off
                                         and on (network namespaces); capacity with CPUMAP
                                         steering on and off (XDP_BENCH_QUICK=1: smoke run)
  bench register [--quick] [--results PATH] [--edge PATH] [--targets kamailio,portico]
                                         REGISTER load over TLS (edge sipload) through the
                                         Kamailio 5.6 TLS edge and portico's E+C, edge on
                                         CPU 0: knee of new registrations and of refreshes,
                                         CPU per REGISTER, memory per held registration
  bench calls [--quick] [--results PATH] [--edge PATH] [--targets kamailio,portico]
                                         calls over TLS with SRTP media (edge sipload calls)
                                         through Kamailio + rtpengine and portico's E+C, edge
                                         on CPU 0: concurrent calls with < 0.1 % loss, set-up
                                         rate at the knee, CPU per media packet and per call
  fuzz [--seconds N] [target...] [-- <libFuzzer args>]
                                         run fuzz targets (default: all, 60 s each) with
                                         cargo +nightly fuzz; fails on a crash
  lab up|down|status                     the network-namespace lab: internet, DMZ and inside
                                         zones, nftables after the MRA port reference,
                                         split-horizon DNS, Kamailio inside, the edge's E (DMZ)
                                         and C (inside) (target/lab/lab.json)
  lab stop e|c, lab start e|c [--config FILE]
                                         stop one edge role of the running lab, start it again
                                         (from its lab configuration or FILE)
  help                                   this text";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let args = std::env::args_os()
        .skip(1)
        .map(OsString::into_string)
        .collect::<Result<Vec<String>, OsString>>()
        .map_err(|a| format!("argument is not UTF-8: {a:?}"))?;
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::FAILURE);
    };
    match cmd.as_str() {
        "demo" | "test" if !rest.is_empty() => {
            usage_error(&format!("`{cmd}` takes no arguments, got {rest:?}"))
        }
        "demo" => cmd_demo(),
        "test" => cmd_test(),
        "bench" => match rest.split_first() {
            Some((what, extra)) if what == "srtp" => {
                let extra = match extra.split_first() {
                    None => &[][..],
                    Some((dd, extra)) if dd == "--" => extra,
                    Some(_) => {
                        return usage_error("`bench srtp` passes arguments on only after `--`")
                    }
                };
                deps::ensure(deps::TEST)?;
                bench_srtp::run(extra)
            }
            Some((what, extra)) if what == "relay-engine" => {
                let extra = match extra.split_first() {
                    None => &[][..],
                    Some((dd, extra)) if dd == "--" => extra,
                    Some(_) => {
                        return usage_error(
                            "`bench relay-engine` passes arguments on only after `--`",
                        )
                    }
                };
                deps::ensure(deps::TEST)?;
                bench_relay_engine::run(extra)
            }
            Some((what, extra)) if what == "relay" && extra.is_empty() => {
                deps::ensure(deps::BENCH_RELAY)?;
                bench_relay::run()
            }
            Some((what, extra)) if what == "relay-scaling" => bench_relay_scaling::run(extra),
            Some((what, extra)) if what == "xdp" => bench_xdp::run(extra),
            Some((what, extra)) if what == "register" => bench_register::run(extra),
            Some((what, extra)) if what == "calls" => bench_calls::run(extra),
            Some((what, _)) => usage_error(&format!(
                "unknown bench `{what}` (known: srtp, relay, relay-engine, relay-scaling, xdp, register, calls)"
            )),
            None => usage_error(
                "`bench` needs a bench name (known: srtp, relay, relay-engine, relay-scaling, xdp, register, calls)",
            ),
        },
        "fuzz" => fuzz::run(rest),
        "lab" => lab::cli(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => usage_error(&format!("unknown command `{other}`")),
    }
}

/// The main job: the media plane demo of the `edge` binary (`edge demo`, built in release
/// mode), then the lab with E and C and a real client registered through them
/// ([`demo_lab`]).
fn cmd_demo() -> Result<ExitCode, String> {
    deps::ensure(deps::DEMO)?;
    let root = workspace_root()?;
    run_checked(
        Command::new(cargo())
            .args(["run", "--release", "-p", "edge", "--", "demo"])
            .current_dir(&root),
        "`cargo run --release -p edge -- demo`",
    )?;
    demo_lab::run(&root)?;
    Ok(ExitCode::SUCCESS)
}

/// Every test of the workspace.
fn cmd_test() -> Result<ExitCode, String> {
    deps::ensure(deps::TEST)?;
    let root = workspace_root()?;
    run_checked(
        Command::new(cargo())
            .args(["test", "--workspace"])
            .current_dir(&root),
        "`cargo test --workspace`",
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn usage_error(msg: &str) -> Result<ExitCode, String> {
    eprintln!("xtask: {msg}\n\n{USAGE}");
    Ok(ExitCode::FAILURE)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The workspace root: the parent of this crate's directory, or what
/// `cargo locate-project --workspace` says.
pub(crate) fn workspace_root() -> Result<PathBuf, String> {
    if let Some(root) = Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        let manifest = root.join("Cargo.toml");
        if let Ok(text) = fs::read_to_string(&manifest) {
            if text.contains("[workspace]") {
                return Ok(root.to_path_buf());
            }
        }
    }
    let out = Command::new(cargo())
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .map_err(|e| format!("running `cargo locate-project --workspace`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo locate-project --workspace` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    manifest
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("workspace manifest {} has no parent", manifest.display()))
}

/// The cargo that runs us (`cargo run` sets `CARGO`), else `cargo` from `PATH`.
pub(crate) fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

pub(crate) fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
}

/// Runs `cmd` with inherited stdio; `Err` when it cannot start or exits unsuccessfully.
pub(crate) fn run_checked(cmd: &mut Command, what: &str) -> Result<(), String> {
    eprintln!("xtask: running {what}");
    let status = cmd.status().map_err(|e| format!("starting {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Output of a small informational command, trimmed; `None` if it cannot run or fails.
pub(crate) fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
