//! `cargo xtask bench relay-engine`: the relay engine's own CPU cost per datagram, per transform.
//!
//! 1. Runs the criterion bench `benches/benches/relay_engine.rs` (`Relay::handle_datagram` with no
//!    socket around it) and reads each result back from
//!    `target/criterion/relay_engine/<transform>_<size>/new/{benchmark,estimates}.json`: the id
//!    from `full_id` (`relay_engine/<transform>/<size>`), ns per datagram from
//!    `mean.point_estimate` and `median.point_estimate`. Only results written by this run count.
//! 2. Counts instructions per datagram with callgrind, for every row criterion measured: the bench
//!    binary's instruction-count mode (`RELAY_ENGINE_COUNT=<transform>/<size>`) runs
//!    [`count_n`] datagrams of that row under `valgrind --tool=callgrind --collect-atstart=no
//!    --toggle-collect=*relay_engine_measured*`, so only the timed loop is collected (set-up,
//!    packet preparation, priming and checks are not). The figure is the inclusive cost of
//!    `Relay::handle_datagram` in that loop over the datagram count, split by where it goes
//!    ([`Category`]). The output files stay in `target/relay-engine-callgrind/` for
//!    `callgrind_annotate`. Without valgrind the column is left empty, and the section says so.
//! 3. Writes the section between `<!-- relay-engine:begin -->` and `<!-- relay-engine:end -->` of
//!    `benches/RESULTS.md` (appended with its markers when missing; the rest of the file is kept).
//!
//! `RELAY_ENGINE_BENCH_QUICK=1` makes it a short smoke run (criterion and callgrind both).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::bench_srtp::write_section;
use crate::criterion_results::{
    self, bench_command, results_of_run, run_started, write_partial_item, write_run_items,
    xtask_command, Estimate,
};
use crate::{cargo, command_output, run_checked, target_dir, workspace_root};

const BEGIN_MARKER: &str = "<!-- relay-engine:begin -->";
const END_MARKER: &str = "<!-- relay-engine:end -->";
/// The criterion group, and the bench target.
const GROUP: &str = "relay_engine";
const QUICK_ENV: &str = "RELAY_ENGINE_BENCH_QUICK";
/// The bench binary's instruction-count mode: `<transform>/<size>`, and how many datagrams.
const COUNT_ENV: &str = "RELAY_ENGINE_COUNT";
const COUNT_N_ENV: &str = "RELAY_ENGINE_COUNT_N";
/// The bench's timed loop, the only function that hands datagrams to a primed relay.
const TOGGLE: &str = "*relay_engine_measured*";
/// The function whose inclusive instruction count is reported.
const MEASURED_FN: &str = "Relay::handle_datagram";
/// The per-packet target of the relay issue, all in (ns).
const TARGET_NS: f64 = 1000.0;

/// Transforms in display order, as the bench names them.
const TRANSFORM_ORDER: [&str; 9] = [
    "passthrough",
    "srtp_to_rtp",
    "rtp_to_srtp",
    "srtp_to_srtp",
    "mux_to_rtp",
    "rtp_to_mux",
    "drop_unknown_port",
    "drop_not_rtp",
    "drop_auth_failure",
];
/// Rows of a full run: six forwarding transforms at two sizes, three drops at one.
const FULL_ROWS: usize = 6 * 2 + 3;
/// Rows that run SRTP (their callgrind counts use software SHA-1, see [`render_section`]).
const SRTP_TRANSFORMS: [&str; 4] = [
    "srtp_to_rtp",
    "rtp_to_srtp",
    "srtp_to_srtp",
    "drop_auth_failure",
];
/// The SRTP↔RTP rows compared with the per-packet target.
const TARGET_TRANSFORMS: [&str; 2] = ["srtp_to_rtp", "rtp_to_srtp"];

/// Datagrams per callgrind run.
fn count_n(quick: bool) -> u64 {
    if quick {
        2_000
    } else {
        20_000
    }
}

// ---------------------------------------------------------------------------------------------

/// Where an instruction inside `Relay::handle_datagram` goes, by the function it calls or the
/// source file of the code inlined into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
    /// The port table and the multiplex-id map (`relay/flow_table.rs`, hashbrown's probing).
    Lookup,
    /// `classify`, the multiplex header, the RTP header view.
    Parse,
    /// `media::srtp` and the cipher and MAC crates.
    Srtp,
    /// RFC 3550 receive statistics and the flow counters (`rtp_stats`).
    Stats,
    /// The engine itself (source check, latching, verdict) and the rest.
    Engine,
}

impl Category {
    const ALL: [Category; 5] = [
        Category::Lookup,
        Category::Parse,
        Category::Srtp,
        Category::Stats,
        Category::Engine,
    ];

    fn label(self) -> &'static str {
        match self {
            Category::Lookup => "flow lookup",
            Category::Parse => "classify/headers",
            Category::Srtp => "SRTP",
            Category::Stats => "statistics",
            Category::Engine => "engine, rest",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The category of a function `handle_datagram` calls (its inclusive cost).
    fn of_callee(name: &str) -> Category {
        let n = name.to_ascii_lowercase();
        if n.contains("srtp") || n.contains("aes::") || n.contains("sha1::") {
            Category::Srtp
        } else if n.contains("rtp_stats") {
            Category::Stats
        } else if n.contains("hash") || n.contains("flow_table") {
            Category::Lookup
        } else if n.contains("classify") || n.contains("mux::") || n.contains("rtp::rtp") {
            Category::Parse
        } else {
            Category::Engine
        }
    }

    /// The category of code inlined into `handle_datagram` from source file `path`.
    fn of_file(path: &str) -> Category {
        if ["/srtp/", "/aes-", "/sha1-", "/cipher-", "/ctr-"]
            .iter()
            .any(|p| path.contains(p))
        {
            Category::Srtp
        } else if path.ends_with("rtp_stats.rs") {
            Category::Stats
        } else if path.contains("hashbrown")
            || path.contains("/src/hash/")
            || path.ends_with("relay/flow_table.rs")
        {
            Category::Lookup
        } else if path.ends_with("relay/classify.rs")
            || path.ends_with("relay/mux.rs")
            || path.ends_with("media/src/rtp.rs")
        {
            Category::Parse
        } else {
            Category::Engine
        }
    }
}

/// What one callgrind run of the timed loop collected.
#[derive(Clone, Debug, Default, PartialEq)]
struct Profile {
    /// Everything collected: the timed loop, `handle_datagram` included.
    total: u64,
    /// `handle_datagram`'s inclusive cost, split by [`Category`].
    by_category: [u64; 5],
}

impl Profile {
    fn measured(&self) -> u64 {
        self.by_category.iter().sum()
    }
}

/// Instructions per datagram of one row.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Count {
    /// Inclusive in `handle_datagram`.
    per_datagram: f64,
    /// The bench loop around it.
    loop_overhead: f64,
    by_category: [f64; 5],
}

impl Count {
    fn from_profile(p: &Profile, n: u64) -> Count {
        let n = n.max(1) as f64;
        let measured = p.measured();
        Count {
            per_datagram: measured as f64 / n,
            loop_overhead: p.total.saturating_sub(measured) as f64 / n,
            by_category: p.by_category.map(|c| c as f64 / n),
        }
    }
}

/// Table key, in display order: transform rank, transform, size.
type Key = (usize, String, usize);

#[derive(Clone, Copy, Debug, PartialEq)]
struct Row {
    /// ns per datagram.
    est: Estimate,
    count: Option<Count>,
}

type Table = BTreeMap<Key, Row>;

fn rank(x: &str) -> usize {
    TRANSFORM_ORDER
        .iter()
        .position(|s| *s == x)
        .unwrap_or(TRANSFORM_ORDER.len())
}

pub(crate) fn run(extra: &[String]) -> Result<ExitCode, String> {
    let root = workspace_root()?;
    let started = run_started();
    let quick = criterion_results::quick(QUICK_ENV);
    let load = load_average();
    let (mut bench, what) = bench_command(&root, GROUP, extra);
    run_checked(&mut bench, &what)?;
    let mut table = table(results_of_run(&root, started, GROUP, engine_key)?);

    let n = count_n(quick);
    let valgrind = command_output("valgrind", &["--version"]).filter(|v| !v.is_empty());
    match &valgrind {
        Some(_) => {
            let exe = bench_executable(&root)?;
            let out_dir = target_dir(&root).join("relay-engine-callgrind");
            fs::create_dir_all(&out_dir)
                .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
            for ((_, transform, size), row) in table.iter_mut() {
                row.count = Some(count_instructions(&exe, &out_dir, transform, *size, n)?);
            }
        }
        None => eprintln!("xtask: no valgrind here: instruction counts left out"),
    }

    let quick_var: Vec<String> = quick
        .then(|| format!("{QUICK_ENV}=1"))
        .into_iter()
        .collect();
    let command = xtask_command(&quick_var, "relay-engine", extra);
    let env = Environment::probe(&root, valgrind, load);
    let date = command_output("date", &["-u", "+%F"]).unwrap_or_else(|| "unknown".into());
    let section = render_section(&table, &command, quick, &env, &date, n);
    write_section(&root, &section, (BEGIN_MARKER, END_MARKER))?;
    Ok(ExitCode::SUCCESS)
}

/// A result's table key: `relay_engine/<transform>/<size>` → `(rank, transform, size)`.
fn engine_key(id: &str) -> Option<Key> {
    let (transform, size) = parse_id(id)?;
    Some((rank(transform), transform.to_string(), size))
}

/// The table of the results found (see [`engine_key`]), not counted yet.
fn table(found: Vec<(Key, Estimate)>) -> Table {
    found
        .into_iter()
        .map(|(key, est)| (key, Row { est, count: None }))
        .collect()
}

/// `relay_engine/<transform>/<size>` → its parts.
fn parse_id(id: &str) -> Option<(&str, usize)> {
    let mut parts = id.split('/');
    let (group, transform, size) = (parts.next()?, parts.next()?, parts.next()?);
    if group != GROUP || transform.is_empty() || parts.next().is_some() {
        return None;
    }
    Some((transform, size.parse().ok()?))
}

/// The bench binary, as `cargo bench --no-run --message-format=json` names it.
fn bench_executable(root: &Path) -> Result<PathBuf, String> {
    let args = [
        "bench",
        "-p",
        "benches",
        "--bench",
        GROUP,
        "--no-run",
        "--message-format=json",
    ];
    let what = format!("`cargo {}`", args.join(" "));
    let out = Command::new(cargo())
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| format!("starting {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    parse_executable(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| format!("{what} named no executable for the `{GROUP}` bench"))
}

/// The `executable` of the `relay_engine` bench artifact in cargo's JSON messages.
fn parse_executable(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m.get("reason").and_then(|r| r.as_str()) == Some("compiler-artifact"))
        .filter(|m| {
            let target = m.get("target");
            let name = target.and_then(|t| t.get("name")).and_then(|n| n.as_str());
            let bench = target
                .and_then(|t| t.get("kind"))
                .and_then(|k| k.as_array())
                .is_some_and(|k| k.iter().any(|x| x.as_str() == Some("bench")));
            name == Some(GROUP) && bench
        })
        .find_map(|m| {
            m.get("executable")
                .and_then(|e| e.as_str())
                .map(PathBuf::from)
        })
}

/// Runs `n` datagrams of one row under callgrind and reads the counts back.
fn count_instructions(
    exe: &Path,
    out_dir: &Path,
    transform: &str,
    size: usize,
    n: u64,
) -> Result<Count, String> {
    let out = out_dir.join(format!("{transform}_{size}.callgrind"));
    let spec = format!("{transform}/{size}");
    let what = format!("callgrind on {GROUP}/{spec} ({n} datagrams)");
    eprintln!("xtask: running {what}");
    let run = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--collect-atstart=no",
            &format!("--toggle-collect={TOGGLE}"),
            &format!("--callgrind-out-file={}", out.display()),
        ])
        .arg(exe)
        .env(COUNT_ENV, &spec)
        .env(COUNT_N_ENV, n.to_string())
        .output()
        .map_err(|e| format!("starting {what}: {e}"))?;
    if !run.status.success() {
        let err = String::from_utf8_lossy(&run.stderr);
        let tail: Vec<&str> = err.lines().rev().take(20).collect();
        return Err(format!(
            "{what} failed ({}):\n{}",
            run.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let text = fs::read_to_string(&out).map_err(|e| format!("reading {}: {e}", out.display()))?;
    let profile = parse_callgrind(&text).map_err(|e| format!("{}: {e}", out.display()))?;
    if profile.measured() == 0 {
        return Err(format!(
            "{}: nothing collected inside {MEASURED_FN} (does `{TOGGLE}` still name the bench's \
             timed loop?)",
            out.display()
        ));
    }
    Ok(Count::from_profile(&profile, n))
}

/// `(id) name` (defines id), `(id)` (refers to it) or a plain name: the name.
fn compressed_name(table: &mut HashMap<String, String>, v: &str) -> String {
    let v = v.trim();
    if let Some((id, name)) = v.strip_prefix('(').and_then(|r| r.split_once(')')) {
        let name = name.trim();
        if name.is_empty() {
            return table.get(id).cloned().unwrap_or_default();
        }
        table.insert(id.to_string(), name.to_string());
        return name.to_string();
    }
    v.to_string()
}

/// Reads a callgrind output file (format 1, first event `Ir`): the collected total, and the
/// inclusive cost of every function named like [`MEASURED_FN`], by [`Category`] — the calls it
/// makes by the callee's name, its own (and inlined) instructions by source file.
fn parse_callgrind(text: &str) -> Result<Profile, String> {
    let mut files = HashMap::new();
    let mut fns = HashMap::new();
    let mut positions = 1usize;
    let mut profile = Profile::default();
    let mut total = None;
    let (mut file, mut inlined, mut func, mut callee) =
        (String::new(), None::<String>, String::new(), String::new());
    let mut call_cost_next = false;
    for line in text.lines() {
        let first = line.bytes().next();
        if matches!(first, Some(b'0'..=b'9' | b'+' | b'-' | b'*')) {
            let mut tokens = line.split_whitespace().skip(positions);
            let ir = match tokens.next() {
                Some(t) => t
                    .parse::<u64>()
                    .map_err(|e| format!("cost line `{line}`: {e}"))?,
                None => 0, // no cost given: zero
            };
            if func.contains(MEASURED_FN) {
                let c = if call_cost_next {
                    Category::of_callee(&callee)
                } else {
                    Category::of_file(inlined.as_deref().unwrap_or(&file))
                };
                profile.by_category[c.index()] += ir;
            }
            call_cost_next = false;
            continue;
        }
        let Some((key, value)) = line.split_once([':', '=']) else {
            continue;
        };
        match key {
            "positions" => positions = value.split_whitespace().count().max(1),
            "events" if value.split_whitespace().next() != Some("Ir") => {
                return Err(format!("first event is not Ir: `{line}`"));
            }
            "summary" | "totals" => {
                let v = value.split_whitespace().next().unwrap_or("0");
                total = Some(v.parse().map_err(|e| format!("`{line}`: {e}"))?);
            }
            "fl" => {
                file = compressed_name(&mut files, value);
                inlined = None;
            }
            "fi" | "fe" => inlined = Some(compressed_name(&mut files, value)),
            "cfi" | "cfl" => {
                compressed_name(&mut files, value);
            }
            "fn" => {
                func = compressed_name(&mut fns, value);
                inlined = None;
            }
            "cfn" => callee = compressed_name(&mut fns, value),
            "calls" => call_cost_next = true,
            _ => {}
        }
    }
    profile.total = total.ok_or("no summary or totals line")?;
    Ok(profile)
}

/// What the machine and tools are.
#[derive(Debug)]
struct Environment {
    cpu: String,
    cpus: usize,
    rustc: String,
    /// `valgrind --version`, if there is one.
    valgrind: Option<String>,
    /// The 1, 5 and 15 minute load averages when the run started (the machine may be shared).
    load: Option<String>,
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> Option<String> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

impl Environment {
    fn probe(root: &Path, valgrind: Option<String>, load: Option<String>) -> Environment {
        Environment {
            cpu: criterion_results::cpu_model(),
            cpus: criterion_results::logical_cpus(),
            rustc: criterion_results::rustc_version(root),
            valgrind,
            load,
        }
    }
}

fn is_srtp(transform: &str) -> bool {
    SRTP_TRANSFORMS.contains(&transform)
}

fn render_section(
    table: &Table,
    command: &str,
    quick: bool,
    env: &Environment,
    date: &str,
    n: u64,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN_MARKER}");
    let _ = writeln!(
        s,
        "## Relay engine: CPU per datagram inside `Relay::handle_datagram` (no sockets)\n"
    );
    let callgrind = format!("; {n} datagrams per callgrind run");
    write_run_items(
        &mut s,
        date,
        command,
        quick.then_some((QUICK_ENV, &callgrind)),
    );
    write_partial_item(&mut s, table.len(), FULL_ROWS, "transform/size");
    let _ = writeln!(s, "- CPU: {} ({} logical CPUs)", env.cpu, env.cpus);
    if let Some(load) = &env.load {
        let _ = writeln!(
            s,
            "- Load average (1, 5, 15 min) when the run started: {load}; the times move with \
             what else runs on the machine, the instruction counts do not."
        );
    }
    let _ = writeln!(s, "- Compiler: {}", env.rustc);
    let _ = writeln!(
        s,
        "- Method: `benches/benches/relay_engine.rs`; criterion `iter_custom`, one iteration = \
         one datagram through `media::relay::engine::Relay::handle_datagram`, no socket. The \
         relay holds 1,000 calls (2,000 legs) on RTP/RTCP pairs scattered over the media range \
         36002–59999, plus the traversal ports 36000/36001 for the multiplexed legs; datagrams \
         go to the calls in turn. Per chunk of 256 datagrams the packets are written (and, for \
         SRTP input, protected by each call's own sender context, fresh sequence numbers) \
         untimed, and only the loop over `handle_datagram` is timed; time is an argument (one \
         `Instant` advanced per chunk). Every call is primed with 3 packets first (latching, RFC \
         3550 probation), so the rows are the steady state. After each chunk every verdict is \
         checked (forward: port, destination, length; drop: the reason), no event may be raised, \
         and the output is compared with the plaintext (SRTP output: unprotected by the \
         receiving side for every 8th call). SRTP: AES_CM_128_HMAC_SHA1_80, a key per leg and \
         direction. Size = RTP packet (12-byte header + payload) before SRTP and multiplex \
         framing."
    );
    let _ = writeln!(
        s,
        "- Transforms: `passthrough` plain both legs (E role); `srtp_to_rtp` / `rtp_to_srtp` \
         the C role outside→inside / inside→outside; `srtp_to_srtp` new keys; `mux_to_rtp` / \
         `rtp_to_mux` the E role's traversal leg (4-byte multiplex header stripped / added); \
         `drop_unknown_port` RTP to a port no leg owns, `drop_not_rtp` garbage on a leg's port, \
         `drop_auth_failure` a forged SRTP packet (another key) on an SRTP leg."
    );
    match &env.valgrind {
        Some(v) => {
            let _ = writeln!(
                s,
                "- Instructions/datagram: {v} callgrind, {n} datagrams per row through the same \
                 set-up and checks (`RELAY_ENGINE_COUNT=<transform>/<size>`), only the timed \
                 loop collected (`--collect-atstart=no --toggle-collect={TOGGLE}`); the figure \
                 is the inclusive count of `{MEASURED_FN}` (the bench loop around it adds {} \
                 more). Deterministic, unlike the times on this shared machine. Output files: \
                 `target/relay-engine-callgrind/` (`callgrind_annotate`).",
                loop_overhead(table)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "- Instructions/datagram: not counted (no valgrind on this machine)."
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| transform | size | ns/datagram (mean) | ns/datagram (median) | instructions/datagram |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let mut dagger = false;
    for ((_, transform, size), row) in table {
        let ir = match row.count {
            Some(c) if is_srtp(transform) => {
                dagger = true;
                format!("{:.0} †", c.per_datagram)
            }
            Some(c) => format!("{:.0}", c.per_datagram),
            None => "—".into(),
        };
        let _ = writeln!(
            s,
            "| {transform} | {size} | {:.1} | {:.1} | {ir} |",
            row.est.mean, row.est.median
        );
    }
    let _ = writeln!(s);
    if dagger {
        let _ = writeln!(
            s,
            "† valgrind 3.19 does not emulate SHA-NI, so under callgrind the `sha1` crate takes \
             its software path: these counts are for software HMAC-SHA1 and overstate what the \
             timed runs execute (SHA-NI); AES-NI is emulated and counted as in the timed runs. \
             The passthrough, multiplex and non-SRTP drop rows are unaffected.\n"
        );
    }
    let _ = writeln!(s, "{}\n", target_sentence(table));
    if table.values().any(|r| r.count.is_some()) {
        let _ = writeln!(
            s,
            "### Where the instructions go (callgrind, per datagram, inside `{MEASURED_FN}`)\n"
        );
        let _ = writeln!(
            s,
            "Calls out of `handle_datagram` are counted with their callees under the callee's \
             category, code inlined into it by its source file: flow lookup = the port table and \
             the multiplex-id map (`relay/flow_table.rs`, hashbrown); classify/headers = `classify`, the \
             multiplex header, the RTP header view; SRTP = `media::srtp` and the AES/SHA-1 \
             crates; statistics = `rtp_stats` (RFC 3550 receive statistics, flow counters); \
             engine, rest = source check, latching, verdict and everything else.\n"
        );
        let mut head = String::from("| transform | size |");
        let mut rule = String::from("|---|---:|");
        for c in Category::ALL {
            let _ = write!(head, " {} |", c.label());
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{head} total |\n{rule}---:|");
        for ((_, transform, size), row) in table {
            let Some(c) = row.count else { continue };
            let mark = if is_srtp(transform) { " †" } else { "" };
            let _ = write!(s, "| {transform} | {size} |");
            for cat in Category::ALL {
                let _ = write!(s, " {:.0} |", c.by_category[cat.index()]);
            }
            let _ = writeln!(s, " {:.0}{mark} |", c.per_datagram);
        }
        let _ = writeln!(s);
    }
    let _ = write!(s, "{END_MARKER}");
    s
}

/// The bench loop's own instructions per datagram, as a range over the rows.
fn loop_overhead(table: &Table) -> String {
    let v: Vec<f64> = table
        .values()
        .filter_map(|r| r.count.map(|c| c.loop_overhead))
        .collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        "—".into()
    } else if (hi - lo).abs() < 0.5 {
        format!("{lo:.0}")
    } else {
        format!("{lo:.0}–{hi:.0}")
    }
}

/// The SRTP↔RTP rows against the relay issue's < 1 µs per-packet target, size by size.
fn target_sentence(table: &Table) -> String {
    // Size → (lowest, highest) mean of the SRTP↔RTP rows.
    let mut by_size: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for ((_, t, size), r) in table {
        if TARGET_TRANSFORMS.contains(&t.as_str()) {
            let m = r.est.mean;
            let e = by_size.entry(*size).or_insert((m, m));
            *e = (e.0.min(m), e.1.max(m));
        }
    }
    if by_size.is_empty() {
        return "Against the < 1 µs per-packet target of the relay issue: no SRTP↔RTP row was \
                measured by this run."
            .into();
    }
    let parts: Vec<String> = by_size
        .iter()
        .map(|(size, &(lo, hi))| {
            let range = if hi - lo < 0.5 {
                format!("{lo:.0} ns")
            } else {
                format!("{lo:.0}–{hi:.0} ns")
            };
            let over = if hi >= TARGET_NS {
                ", over it on its own"
            } else {
                ""
            };
            format!(
                "{range} at {size} B ({:.0} % of the budget{over})",
                hi / TARGET_NS * 100.0
            )
        })
        .collect();
    format!(
        "Against the < 1 µs per-packet target of the relay issue: SRTP↔RTP (`srtp_to_rtp`, \
         `rtp_to_srtp`, means) costs the engine {} per datagram. This is the engine's share \
         only: the kernel's socket path (receive and send system calls, UDP, wake-ups) comes on \
         top, and is what `cargo xtask bench relay` measures (CPU per relayed packet, in the \
         media relay section).",
        parts.join(" and ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_srtp::replace_section;

    #[test]
    fn ids() {
        assert_eq!(
            parse_id("relay_engine/srtp_to_rtp/1200"),
            Some(("srtp_to_rtp", 1200))
        );
        assert_eq!(
            parse_id("relay_engine/drop_auth_failure/172"),
            Some(("drop_auth_failure", 172))
        );
        assert_eq!(parse_id("relay_engine/passthrough/abc"), None);
        assert_eq!(parse_id("relay_engine/passthrough"), None);
        assert_eq!(parse_id("relay_engine//172"), None);
        assert_eq!(parse_id("relay_engine/passthrough/172/x"), None);
        assert_eq!(parse_id("srtp/passthrough/172"), None);
        assert_eq!(rank("passthrough"), 0);
        assert_eq!(rank("drop_auth_failure"), 8);
        assert_eq!(rank("new_transform"), TRANSFORM_ORDER.len());
    }

    #[test]
    fn executable_from_cargo_messages() {
        let msgs = r#"{"reason":"compiler-artifact","target":{"name":"media","kind":["lib"]},"executable":null}
not json
{"reason":"compiler-artifact","target":{"name":"srtp","kind":["bench"]},"executable":"/t/release/deps/srtp-1"}
{"reason":"compiler-artifact","target":{"name":"relay_engine","kind":["bench"]},"executable":"/t/release/deps/relay_engine-2"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            parse_executable(msgs),
            Some(PathBuf::from("/t/release/deps/relay_engine-2"))
        );
        assert_eq!(parse_executable(msgs.lines().next().unwrap_or("")), None);
    }

    /// A callgrind file in the shape valgrind 3.19 writes (name compression, inlined files, a
    /// call from the timed loop into `handle_datagram` and calls out of it).
    const CALLGRIND: &str = "\
# callgrind format
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1000

ob=(1) /bench
fl=(1) /work/benches/benches/relay_engine.rs
fn=(1) relay_engine::relay_engine_measured
10 60
cfi=(2) /work/media/src/relay/engine.rs
cfn=(2) media::relay::engine::Relay::handle_datagram
calls=10 +4
* 940

fl=(2)
fn=(2)
600 200
fi=(3) /rust/deps/hashbrown-0.16.1/src/raw/mod.rs
2492 50
cfi=(4) /rustc/x/library/core/src/hash/mod.rs
cfn=(3) core::hash::BuildHasher::hash_one
calls=10 694
* 100
fi=(5) /work/media/src/relay/classify.rs
50 40
fe=(2)
+3 10
cfl=(6) /work/media/src/rtp_stats.rs
cfn=(4) media::rtp_stats::RtpReceiveStats::on_packet
calls=7 216
-1 300
cfn=(5) media::srtp::context::Context::unprotect_rtp
calls=10 419
* 200
fi=(6)
654 30
cfn=(6) media::relay::engine::Leg::remote
calls=10 1
* 10

fl=(4)
fn=(3)
1 100

totals: 1000
";

    #[test]
    fn callgrind_file() {
        let p = parse_callgrind(CALLGRIND).unwrap();
        assert_eq!(p.total, 1000);
        let by = |c: Category| p.by_category[c.index()];
        assert_eq!(by(Category::Lookup), 150);
        assert_eq!(by(Category::Parse), 40);
        assert_eq!(by(Category::Srtp), 200);
        assert_eq!(by(Category::Stats), 330);
        assert_eq!(by(Category::Engine), 220);
        assert_eq!(p.measured(), 940, "the caller's inclusive cost");
        let c = Count::from_profile(&p, 10);
        assert_eq!(c.per_datagram, 94.0);
        assert_eq!(c.loop_overhead, 6.0);
        assert!(parse_callgrind("events: Ir\n").is_err(), "no total");
        assert!(parse_callgrind("events: Dr Ir\nsummary: 1\n").is_err());
    }

    #[test]
    fn categories() {
        let callees = [
            (
                "<std::hash::random::DefaultHasher as core::hash::Hasher>::write",
                Category::Lookup,
            ),
            ("media::srtp::context::Context::protect_rtp", Category::Srtp),
            ("media::rtp::RtpHeader::new_checked", Category::Parse),
            (
                "<core::net::socket_addr::SocketAddr as PartialEq>::eq",
                Category::Engine,
            ),
            ("media::relay::flow_table::PortTable::get", Category::Lookup),
        ];
        for (callee, category) in callees {
            assert_eq!(Category::of_callee(callee), category, "{callee}");
        }
        let files = [
            ("/work/main/media/src/rtp_stats.rs", Category::Stats),
            ("/rustc/x/library/core/src/option.rs", Category::Engine),
            ("/work/main/media/src/relay/flow_table.rs", Category::Lookup),
        ];
        for (file, category) in files {
            assert_eq!(Category::of_file(file), category, "{file}");
        }
    }

    fn row(mean: f64, ir: Option<f64>) -> Row {
        Row {
            est: Estimate {
                mean,
                median: mean - 1.0,
            },
            count: ir.map(|per_datagram| Count {
                per_datagram,
                loop_overhead: 23.0,
                by_category: [per_datagram - 4.0, 1.0, 1.0, 1.0, 1.0],
            }),
        }
    }

    fn key(t: &str, size: usize) -> Key {
        (rank(t), t.to_string(), size)
    }

    #[test]
    fn section() {
        let env = Environment {
            cpu: "cpu".into(),
            cpus: 2,
            rustc: "rustc".into(),
            valgrind: Some("valgrind-3.19.0".into()),
            load: Some("0.10 0.20 0.30".into()),
        };
        let mut t = Table::new();
        t.insert(key("rtp_to_srtp", 172), row(300.0, Some(7000.0)));
        t.insert(key("passthrough", 1200), row(60.0, Some(650.0)));
        t.insert(key("passthrough", 172), row(55.0, Some(643.0)));
        t.insert(key("srtp_to_rtp", 1200), row(450.0, None));
        let s = render_section(&t, "cmd", false, &env, "2026-01-02", 20_000);
        assert!(
            s.starts_with(BEGIN_MARKER) && s.ends_with(END_MARKER),
            "{s}"
        );
        let p172 = s.find("| passthrough | 172 | 55.0 | 54.0 | 643 |");
        let p1200 = s.find("| passthrough | 1200 | 60.0 | 59.0 | 650 |");
        let srtp = s.find("| rtp_to_srtp | 172 | 300.0 | 299.0 | 7000 † |");
        assert!(p172.is_some() && p1200.is_some() && srtp.is_some(), "{s}");
        assert!(p172 < p1200 && p1200 < srtp, "display order");
        assert!(s.contains("| srtp_to_rtp | 1200 | 450.0 | 449.0 | — |"));
        assert!(s.contains("does not emulate SHA-NI"));
        assert!(s.contains("**Partial run**: 4 of the 15"));
        assert!(s.contains("adds 23 more"));
        assert!(
            s.contains("costs the engine 300 ns at 172 B (30 % of the budget) and 450 ns at 1200 B (45 % of the budget) per datagram"),
            "{s}"
        );
        assert!(s.contains("| passthrough | 172 | 639 | 1 | 1 | 1 | 1 | 643 |"));
        assert!(s.contains("| rtp_to_srtp | 172 | 6996 | 1 | 1 | 1 | 1 | 7000 † |"));
        assert!(!s.contains("Quick smoke run"));
        assert!(s.contains("when the run started: 0.10 0.20 0.30;"));

        let none = Environment {
            valgrind: None,
            ..env
        };
        let mut t = Table::new();
        t.insert(key("passthrough", 172), row(55.0, None));
        let s = render_section(&t, "cmd", true, &none, "2026-01-02", 2_000);
        assert!(s.contains("Quick smoke run"));
        assert!(s.contains("not counted (no valgrind"));
        assert!(s.contains("no SRTP↔RTP row was measured"));
        assert!(!s.contains("SHA-NI") && !s.contains("Where the instructions go"));
    }

    #[test]
    fn target_over_budget() {
        let mut t = Table::new();
        t.insert(key("srtp_to_rtp", 172), row(240.0, None));
        t.insert(key("rtp_to_srtp", 172), row(260.0, None));
        t.insert(key("srtp_to_srtp", 172), row(600.0, None));
        t.insert(key("rtp_to_srtp", 1200), row(1010.0, None));
        let s = target_sentence(&t);
        assert!(
            s.contains("240–260 ns at 172 B (26 % of the budget) and 1010 ns at 1200 B (101 % of the budget, over it on its own)"),
            "{s}"
        );
    }

    #[test]
    fn section_in_results_file() {
        let m = (BEGIN_MARKER, END_MARKER);
        let sec = format!("{BEGIN_MARKER}\nnew\n{END_MARKER}");
        let old = "# R\n\n<!-- srtp:begin -->\nsrtp\n<!-- srtp:end -->\n";
        let added = replace_section(Some(old), &sec, m).unwrap();
        assert_eq!(added, format!("{old}\n{sec}\n"));
        let again = replace_section(Some(&added), &sec, m).unwrap();
        assert_eq!(again, added, "rewritten in place, other sections kept");
    }
}
