//! `cargo xtask bench srtp`: runs the SRTP criterion benches and writes `benches/RESULTS.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

const BEGIN_MARKER: &str = "<!-- srtp:begin -->";
const END_MARKER: &str = "<!-- srtp:end -->";
/// Set (not `0`): a quick smoke run, here and in the bench.
const QUICK_ENV: &str = "SRTP_BENCH_QUICK";
/// Target: ours at most this fraction of libsrtp2's time per packet.
const TARGET_RATIO: f64 = 0.70;
const LIBSRTP2_SO: &str = "/usr/lib/x86_64-linux-gnu/libsrtp2.so.1";
/// Markers of the section measured against another libsrtp2 build (`LIBSRTP2_LIB_DIR`).
const ALT_BEGIN_MARKER: &str = "<!-- srtp-other-libsrtp2:begin -->";
const ALT_END_MARKER: &str = "<!-- srtp-other-libsrtp2:end -->";

/// The libsrtp2 the bench runs against: Debian's (the default), or the build in
/// `LIBSRTP2_LIB_DIR` (a directory holding another `libsrtp2.so.1` of the same ABI, loaded through
/// `LD_LIBRARY_PATH`), whose results go to a section of their own.
struct Reference {
    lib_dir: Option<std::path::PathBuf>,
}

impl Reference {
    fn from_env() -> Reference {
        Reference {
            lib_dir: std::env::var_os("LIBSRTP2_LIB_DIR")
                .filter(|d| !d.is_empty())
                .map(Into::into),
        }
    }

    fn markers(&self) -> (&'static str, &'static str) {
        if self.lib_dir.is_some() {
            (ALT_BEGIN_MARKER, ALT_END_MARKER)
        } else {
            (BEGIN_MARKER, END_MARKER)
        }
    }

    fn so_path(&self) -> String {
        match &self.lib_dir {
            Some(d) => d.join("libsrtp2.so.1").display().to_string(),
            None => LIBSRTP2_SO.to_string(),
        }
    }
}

use crate::criterion_results::{
    self, bench_command, results_of_run, run_started, write_partial_item, write_run_items,
    xtask_command, Estimate,
};
use crate::{command_output, run_checked, workspace_root};

// ---------------------------------------------------------------------------------------------

/// Table key, in display order: suite rank, suite, operation rank, operation, size.
type Key = (usize, String, usize, String, usize);
/// Both implementations' estimates (ns per packet) of each suite, operation and size.
type Table = BTreeMap<Key, Row>;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Row {
    ours: Option<Estimate>,
    reference: Option<Estimate>,
}

const SUITE_ORDER: [&str; 6] = [
    "AES_CM_128_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
];
/// Rows of a full run: every suite × (RTP protect/unprotect × 2 sizes + SRTCP protect/unprotect).
const FULL_ROWS: usize = SUITE_ORDER.len() * (2 * 2 + 2);
const OP_ORDER: [&str; 4] = [
    "rtp_protect",
    "rtp_unprotect",
    "rtcp_protect",
    "rtcp_unprotect",
];

fn rank(list: &[&str], x: &str) -> usize {
    list.iter().position(|s| *s == x).unwrap_or(list.len())
}

pub(crate) fn run(extra: &[String]) -> Result<ExitCode, String> {
    let root = workspace_root()?;
    let started = run_started();
    let quick = criterion_results::quick(QUICK_ENV);
    let reference = Reference::from_env();
    let (mut bench, what) = bench_command(&root, "srtp", extra);
    if let Some(dir) = &reference.lib_dir {
        if !dir.join("libsrtp2.so.1").is_file() {
            return Err(format!(
                "LIBSRTP2_LIB_DIR={}: no libsrtp2.so.1 there",
                dir.display()
            ));
        }
        bench.env("LD_LIBRARY_PATH", dir);
    }
    run_checked(&mut bench, &what)?;
    let table = table(results_of_run(&root, started, "srtp", srtp_key)?);

    let mut vars = Vec::new();
    if let Some(dir) = &reference.lib_dir {
        vars.push(format!("LIBSRTP2_LIB_DIR={}", dir.display()));
    }
    if quick {
        vars.push(format!("{QUICK_ENV}=1"));
    }
    let command = xtask_command(&vars, "srtp", extra);
    let env = Environment::probe(&root, &reference);
    let section = render_section(
        &table,
        &command,
        quick,
        &env,
        utc_date(SystemTime::now()),
        reference.markers(),
    );
    write_section(&root, &section, reference.markers())?;
    Ok(ExitCode::SUCCESS)
}

/// A result's place: `srtp/<SUITE>/<op>/<size>/<impl>` → its table key and implementation.
fn srtp_key(id: &str) -> Option<(Key, String)> {
    let (suite, op, size, imp) = parse_id(id)?;
    let key = (
        rank(&SUITE_ORDER, suite),
        suite.to_string(),
        rank(&OP_ORDER, op),
        op.to_string(),
        size,
    );
    Some((key, imp.to_string()))
}

/// The table of the results found (see [`srtp_key`]).
fn table(found: Vec<((Key, String), Estimate)>) -> Table {
    let mut table = Table::new();
    for ((key, imp), est) in found {
        let row = table.entry(key).or_default();
        match imp.as_str() {
            "ours" => row.ours = Some(est),
            "libsrtp2" => row.reference = Some(est),
            _ => {}
        }
    }
    table
}

/// `srtp/<SUITE>/<op>/<size>/<impl>` → its parts.
fn parse_id(id: &str) -> Option<(&str, &str, usize, &str)> {
    let mut parts = id.split('/');
    let (group, suite, op, size, imp) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if group != "srtp" || parts.next().is_some() {
        return None;
    }
    Some((suite, op, size.parse().ok()?, imp))
}

/// What the machine and the reference library are.
#[derive(Debug)]
struct Environment {
    cpu: String,
    cpus: usize,
    rustc: String,
    libsrtp2: String,
    backend: String,
}

impl Environment {
    fn probe(root: &Path, reference: &Reference) -> Environment {
        let so = reference.so_path();
        let libsrtp2 = match &reference.lib_dir {
            Some(dir) => {
                let pc = fs::read_to_string(dir.join("pkgconfig").join("libsrtp2.pc")).ok();
                let version = pc
                    .as_deref()
                    .and_then(|t| t.lines().find_map(|l| l.strip_prefix("Version:")))
                    .map_or("unknown version", str::trim)
                    .to_string();
                format!(
                    "{version}, the build in {} (LIBSRTP2_LIB_DIR; built outside this \
                     repository, loaded through LD_LIBRARY_PATH by the same bench binary)",
                    dir.display()
                )
            }
            None => command_output("dpkg-query", &["-W", "-f=${Version}", "libsrtp2-1"])
                .filter(|v| !v.is_empty())
                .map(|v| format!("{v} (Debian package libsrtp2-1)"))
                .unwrap_or_else(|| "unknown (dpkg-query found no libsrtp2-1)".into()),
        };
        let so = so.as_str();
        let backend = match command_output("ldd", &[so]) {
            Some(l) if l.contains("libnss3") => format!(
                "NSS (`ldd {so}` shows libnss3: Debian builds libsrtp2 with \
                 --enable-nss; that backend creates an NSS PK11 context for every packet's \
                 AES counter/IV, so it is slower than libsrtp2's built-in or OpenSSL crypto)"
            ),
            Some(l) if l.contains("libcrypto") => {
                format!("OpenSSL (`ldd {so}` shows libcrypto)")
            }
            Some(_) => format!("libsrtp2's built-in crypto (`ldd {so}`: no NSS/OpenSSL)"),
            None => format!("unknown (`ldd {so}` failed)"),
        };
        Environment {
            cpu: criterion_results::cpu_model(),
            cpus: criterion_results::logical_cpus(),
            rustc: criterion_results::rustc_version(root),
            libsrtp2,
            backend,
        }
    }
}

fn fmt_ns(e: Option<Estimate>, f: impl Fn(Estimate) -> f64) -> String {
    e.map_or_else(|| "—".into(), |e| format!("{:.1}", f(e)))
}

fn render_section(
    table: &Table,
    command: &str,
    quick: bool,
    env: &Environment,
    date: String,
    (begin, end): (&str, &str),
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{begin}");
    if begin == BEGIN_MARKER {
        let _ = writeln!(
            s,
            "## SRTP/SRTCP: `media::srtp` vs libsrtp2 (Debian package)\n"
        );
    } else {
        let _ = writeln!(
            s,
            "## SRTP/SRTCP: `media::srtp` vs another libsrtp2 build\n"
        );
    }
    write_run_items(&mut s, &date, command, quick.then_some((QUICK_ENV, "")));
    write_partial_item(&mut s, table.len(), FULL_ROWS, "suite/operation/size");
    let _ = writeln!(s, "- CPU: {} ({} logical CPUs)", env.cpu, env.cpus);
    let _ = writeln!(s, "- Compiler: {}", env.rustc);
    let _ = writeln!(s, "- libsrtp2: {}", env.libsrtp2);
    let _ = writeln!(s, "- libsrtp2 crypto backend: {}", env.backend);
    let _ = writeln!(
        s,
        "- Method: `benches/benches/srtp.rs`; criterion `iter_custom`, one iteration = one \
         packet; per chunk of 256 packets the plaintext (and, for unprotect, the protecting) is \
         prepared untimed and only the in-place protect/unprotect loop is timed; sequence numbers \
         and SRTCP indexes keep advancing (no replays); every result is checked. One master key, \
         no MKI, replay window 128, encrypted SRTCP. Sizes are plaintext bytes (RTP: 12-byte \
         header + payload; RTCP: SR with one report block + SDES)."
    );
    let _ = writeln!(
        s,
        "- ns/pkt = criterion mean (point estimate); medians in the last two columns; ratio = \
         ours mean / libsrtp2 mean; target: ratio ≤ {TARGET_RATIO:.2}.\n"
    );
    let _ = writeln!(
        s,
        "| suite | operation | size | ours ns/pkt | libsrtp2 ns/pkt | ratio ours/libsrtp2 | \
         target ≤ {TARGET_RATIO:.2} met? | ours median | libsrtp2 median |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---|---:|---:|");
    let mut worst: Option<(f64, String)> = None;
    let mut worst_median: Option<(f64, String)> = None;
    let (mut met, mut complete) = (0usize, 0usize);
    for ((_, suite, _, op, size), row) in table {
        let ratio = match (row.ours, row.reference) {
            (Some(o), Some(r)) if r.mean > 0.0 && r.median > 0.0 => {
                Some((o.mean / r.mean, o.median / r.median))
            }
            _ => None,
        };
        let (ratio_s, met_s) = match ratio {
            Some((q, qm)) => {
                complete += 1;
                let what = format!("{suite} {op} {size}");
                if worst.as_ref().is_none_or(|(w, _)| q > *w) {
                    worst = Some((q, what.clone()));
                }
                if worst_median.as_ref().is_none_or(|(w, _)| qm > *w) {
                    worst_median = Some((qm, what));
                }
                if q <= TARGET_RATIO {
                    met += 1;
                    (format!("{q:.3}"), "yes")
                } else {
                    (format!("{q:.3}"), "**no**")
                }
            }
            None => ("—".into(), "—"),
        };
        let _ = writeln!(
            s,
            "| {suite} | {op} | {size} | {} | {} | {ratio_s} | {met_s} | {} | {} |",
            fmt_ns(row.ours, |e| e.mean),
            fmt_ns(row.reference, |e| e.mean),
            fmt_ns(row.ours, |e| e.median),
            fmt_ns(row.reference, |e| e.median),
        );
    }
    let _ = writeln!(s);
    match (worst, worst_median) {
        (Some((w, what)), Some((wm, what_m))) => {
            let _ = writeln!(
                s,
                "Worst ratio (means): **{w:.3}** ({what}); worst ratio of medians: {wm:.3} \
                 ({what_m}). Target ≤ {TARGET_RATIO:.2} met in {met} of {complete} rows."
            );
        }
        _ => {
            let _ = writeln!(s, "Worst ratio: — (no row has both implementations).");
        }
    }
    let _ = write!(s, "{end}");
    s
}

/// Writes `section` (which includes both markers) into `benches/RESULTS.md` (see
/// [`replace_section`]) and prints it.
pub(crate) fn write_section(
    root: &Path,
    section: &str,
    markers: (&str, &str),
) -> Result<(), String> {
    let results = root.join("benches").join("RESULTS.md");
    let old = match fs::read_to_string(&results) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("reading {}: {e}", results.display())),
    };
    let new = replace_section(old.as_deref(), section, markers)?;
    fs::write(&results, new).map_err(|e| format!("writing {}: {e}", results.display()))?;
    println!("{section}");
    eprintln!("xtask: wrote {}", results.display());
    Ok(())
}

/// Puts `section` (which includes both markers) in place of the old marked section, or appends
/// it; creates the file's text with a short header when there is none.
pub(crate) fn replace_section(
    old: Option<&str>,
    section: &str,
    (begin, end): (&str, &str),
) -> Result<String, String> {
    let Some(old) = old else {
        return Ok(format!(
            "# Benchmark results\n\nRecorded by `cargo xtask bench …`; each section between its \
             `<!-- …:begin -->` and `<!-- …:end -->` markers is rewritten by the next run, the \
             rest of this file is kept.\n\n{section}\n"
        ));
    };
    match (old.find(begin), old.find(end)) {
        (Some(b), Some(e)) if b < e => {
            let end = e + end.len();
            Ok(format!("{}{section}{}", &old[..b], &old[end..]))
        }
        (None, None) => {
            let sep = if old.is_empty() || old.ends_with("\n\n") {
                ""
            } else if old.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            Ok(format!("{old}{sep}{section}\n"))
        }
        _ => Err(format!(
            "benches/RESULTS.md has unmatched or misordered `{begin}` / `{end}` \
             markers; fix them by hand"
        )),
    }
}

/// `YYYY-MM-DD` (UTC) of `t`.
fn utc_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const M: (&str, &str) = (BEGIN_MARKER, END_MARKER);

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(
            utc_date(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14"
        );
    }

    #[test]
    fn ids() {
        assert_eq!(
            parse_id("srtp/AEAD_AES_128_GCM/rtp_unprotect/1200/libsrtp2"),
            Some(("AEAD_AES_128_GCM", "rtp_unprotect", 1200, "libsrtp2"))
        );
        assert_eq!(parse_id("srtp/X/rtp_protect/abc/ours"), None);
        assert_eq!(parse_id("other/X/rtp_protect/172/ours"), None);
        assert_eq!(parse_id("srtp/X/rtp_protect/172/ours/extra"), None);
        assert_eq!(parse_id("srtp/X/rtp_protect/172"), None);
    }

    #[test]
    fn sections() {
        let sec = format!("{BEGIN_MARKER}\nnew\n{END_MARKER}");
        let created = replace_section(None, &sec, M).unwrap();
        assert!(created.starts_with("# Benchmark results"));
        assert!(created.ends_with(&format!("{sec}\n")));
        let old = format!("# R\n\nintro\n\n{BEGIN_MARKER}\nold\n{END_MARKER}\n\n## other\nkeep\n");
        let replaced = replace_section(Some(&old), &sec, M).unwrap();
        assert_eq!(
            replaced,
            format!("# R\n\nintro\n\n{sec}\n\n## other\nkeep\n")
        );
        // Idempotent.
        assert_eq!(replace_section(Some(&replaced), &sec, M).unwrap(), replaced);
        assert_eq!(
            replace_section(Some("# R\nx\n"), &sec, M).unwrap(),
            format!("# R\nx\n\n{sec}\n")
        );
        assert!(replace_section(Some(&format!("{END_MARKER}{BEGIN_MARKER}")), &sec, M).is_err());
        assert!(replace_section(Some(BEGIN_MARKER), &sec, M).is_err());
    }

    #[test]
    fn section_written_into_the_results_file() {
        let root = std::env::temp_dir().join(format!("xtask-results-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let results = root.join("benches").join("RESULTS.md");
        let sec = format!("{BEGIN_MARKER}\nnew\n{END_MARKER}");
        assert!(
            write_section(&root, &sec, M).is_err(),
            "no benches directory"
        );
        fs::create_dir_all(root.join("benches")).unwrap();
        write_section(&root, &sec, M).unwrap();
        let created = fs::read_to_string(&results).unwrap();
        assert_eq!(Some(created.clone()), replace_section(None, &sec, M).ok());
        let newer = format!("{BEGIN_MARKER}\nnewer\n{END_MARKER}");
        write_section(&root, &newer, M).unwrap();
        assert_eq!(
            fs::read_to_string(&results).unwrap(),
            replace_section(Some(&created), &newer, M).unwrap()
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn table() {
        let mut t = Table::new();
        let e = |mean, median| Some(Estimate { mean, median });
        t.insert(
            (
                0,
                "AES_CM_128_HMAC_SHA1_80".into(),
                1,
                "rtp_unprotect".into(),
                172,
            ),
            Row {
                ours: e(50.0, 49.0),
                reference: e(100.0, 100.0),
            },
        );
        t.insert(
            (
                0,
                "AES_CM_128_HMAC_SHA1_80".into(),
                0,
                "rtp_protect".into(),
                172,
            ),
            Row {
                ours: e(80.0, 80.0),
                reference: e(100.0, 100.0),
            },
        );
        t.insert(
            (4, "AEAD_AES_128_GCM".into(), 2, "rtcp_protect".into(), 80),
            Row {
                ours: e(10.0, 10.0),
                reference: None,
            },
        );
        let env = Environment {
            cpu: "cpu".into(),
            cpus: 2,
            rustc: "rustc".into(),
            libsrtp2: "v".into(),
            backend: "b".into(),
        };
        let s = render_section(&t, "cmd", true, &env, "2024-01-02".into(), M);
        assert!(s.starts_with(BEGIN_MARKER) && s.ends_with(END_MARKER));
        let protect = s.find("| rtp_protect | 172 | 80.0 | 100.0 | 0.800 | **no** |");
        let unprotect = s.find("| rtp_unprotect | 172 | 50.0 | 100.0 | 0.500 | yes |");
        assert!(protect.is_some() && unprotect.is_some(), "{s}");
        assert!(protect < unprotect, "operations in protect/unprotect order");
        assert!(s.contains("| AEAD_AES_128_GCM | rtcp_protect | 80 | 10.0 | — | — | — |"));
        assert!(
            s.contains("Worst ratio (means): **0.800** (AES_CM_128_HMAC_SHA1_80 rtp_protect 172)")
        );
        assert!(s.contains("met in 1 of 2 rows"));
        assert!(s.contains("**Partial run**: 3 of the 36"));
    }
}
