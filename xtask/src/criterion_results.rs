//! What the criterion benches' tasks (`bench srtp`, `bench relay-engine`) share: running the
//! bench, reading its results back, and the items of their `benches/RESULTS.md` sections that
//! say how and where it ran.
//!
//! Each benchmark leaves `target/criterion/<group>/<id>/new/{benchmark,estimates}.json`
//! (criterion turns a `/` inside a function id into `_`): the id is `full_id` in
//! `benchmark.json`, the times (ns per iteration) `mean.point_estimate` and
//! `median.point_estimate` in `estimates.json`. Only results written by the current run count
//! (see [`run_started`]): a filtered run leaves older ones behind, which must not be mixed in.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{cargo, target_dir};

/// Criterion's estimates of one benchmark, in ns per iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) mean: f64,
    pub(crate) median: f64,
}

/// When this run started, less a second: results written before it are stale.
pub(crate) fn run_started() -> SystemTime {
    SystemTime::now()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(UNIX_EPOCH)
}

/// Whether the environment variable `name` asks for a quick smoke run: set, not empty, not `0`.
pub(crate) fn quick(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| is_quick_value(&v))
}

fn is_quick_value(v: &str) -> bool {
    !v.is_empty() && v != "0"
}

/// The arguments of `cargo bench -p benches --bench <bench>`, with `-- <extra>` when there are
/// any.
fn bench_args(bench: &str, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["bench", "-p", "benches", "--bench", bench]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !extra.is_empty() {
        args.push("--".into());
        args.extend(extra.iter().cloned());
    }
    args
}

/// `cargo bench -p benches --bench <bench> [-- <extra>]` in `root` (the caller may add to its
/// environment before running it), and how messages name it.
pub(crate) fn bench_command(root: &Path, bench: &str, extra: &[String]) -> (Command, String) {
    let args = bench_args(bench, extra);
    let what = format!("`cargo {}`", args.join(" "));
    let mut command = Command::new(cargo());
    command.args(&args).current_dir(root);
    (command, what)
}

/// The command line a section quotes: `<vars> cargo xtask bench <bench>`, then `-- <extra>`
/// when there are extra arguments; `vars` are environment assignments (`NAME=value`).
pub(crate) fn xtask_command(vars: &[String], bench: &str, extra: &[String]) -> String {
    let mut command: String = vars.iter().map(|v| format!("{v} ")).collect();
    command.push_str("cargo xtask bench ");
    command.push_str(bench);
    if !extra.is_empty() {
        command.push_str(" -- ");
        command.push_str(&extra.join(" "));
    }
    command
}

/// The results this run wrote under `<target>/criterion` whose ids `parse` takes (see
/// [`collect`]); an error when there are none. Says how many older ones were passed over;
/// `what` names the benchmarks in messages.
pub(crate) fn results_of_run<K>(
    root: &Path,
    since: SystemTime,
    what: &str,
    parse: impl Fn(&str) -> Option<K>,
) -> Result<Vec<(K, Estimate)>, String> {
    let criterion = target_dir(root).join("criterion");
    let (found, stale) = collect(&criterion, since, parse)?;
    if found.is_empty() {
        return Err(format!(
            "no {what} results written by this run under {} ({stale} older ones ignored)",
            criterion.display()
        ));
    }
    if stale > 0 {
        eprintln!("xtask: ignored {stale} {what} result(s) not written by this run");
    }
    Ok(found)
}

/// Walks `dir` for `new/benchmark.json` + `new/estimates.json` pairs. `parse` turns a
/// benchmark's id into the caller's key, or `None` for a benchmark it does not want. Returns
/// the wanted results written at or after `since`, in the order found, and how many wanted ones
/// were older.
pub(crate) fn collect<K>(
    dir: &Path,
    since: SystemTime,
    parse: impl Fn(&str) -> Option<K>,
) -> Result<(Vec<(K, Estimate)>, usize), String> {
    let mut found = Vec::new();
    let mut stale = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && d == dir => {
                return Err(format!("{} does not exist", dir.display()))
            }
            Err(e) => return Err(format!("listing {}: {e}", d.display())),
        };
        for entry in entries {
            let entry = entry.map_err(|e| format!("listing {}: {e}", d.display()))?;
            let path = entry.path();
            let ft = entry
                .file_type()
                .map_err(|e| format!("stat {}: {e}", path.display()))?;
            if !ft.is_dir() {
                continue;
            }
            if entry.file_name() != "new" {
                pending.push(path);
                continue;
            }
            let bench = path.join("benchmark.json");
            let estimates = path.join("estimates.json");
            if !bench.is_file() || !estimates.is_file() {
                continue;
            }
            let Some(id) = read_full_id(&bench)? else {
                continue;
            };
            let Some(key) = parse(&id) else {
                continue;
            };
            let modified = fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .map_err(|e| format!("stat {}: {e}", estimates.display()))?;
            if modified < since {
                stale += 1;
                continue;
            }
            found.push((key, read_estimate(&estimates)?));
        }
    }
    Ok((found, stale))
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

fn read_full_id(path: &Path) -> Result<Option<String>, String> {
    Ok(read_json(path)?
        .get("full_id")
        .and_then(|v| v.as_str())
        .map(str::to_string))
}

fn read_estimate(path: &Path) -> Result<Estimate, String> {
    let v = read_json(path)?;
    let get = |name: &str| {
        v.get(name)
            .and_then(|e| e.get("point_estimate"))
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| format!("{}: no {name}.point_estimate", path.display()))
    };
    Ok(Estimate {
        mean: get("mean")?,
        median: get("median")?,
    })
}

/// The CPU's model name from `/proc/cpuinfo`, or `unknown`.
pub(crate) fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| model_name(&s))
        .unwrap_or_else(|| "unknown".into())
}

fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// How many logical CPUs this process may use, or 0 when that is not known.
pub(crate) fn logical_cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// `rustc -V` as run in `root` (so a toolchain file there counts), or `unknown`.
pub(crate) fn rustc_version(root: &Path) -> String {
    Command::new("rustc")
        .arg("-V")
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes the items that open a bench's section: the date, the command, and whether this was a
/// quick smoke run or a full one, with the criterion settings of each (as
/// `benches/benches/common/mod.rs` sets them). `quick`: the smoke run's environment variable
/// and what else it shortens (text put after the criterion settings, such as `; 2000 datagrams
/// per callgrind run`).
pub(crate) fn write_run_items(
    s: &mut String,
    date: &str,
    command: &str,
    quick: Option<(&str, &str)>,
) {
    let _ = writeln!(s, "- Date (UTC): {date}");
    let _ = writeln!(s, "- Command: `{command}`");
    match quick {
        Some((env, more)) => {
            let _ = writeln!(
                s,
                "- **Quick smoke run** (`{env}=1`: 0.1 s warm-up, 0.3 s measurement, 10 \
                 samples{more}): checks that the benches run; do not quote these numbers."
            );
        }
        None => {
            let _ = writeln!(
                s,
                "- Full run: 0.5 s warm-up, 2 s measurement, 30 samples per benchmark."
            );
        }
    }
}

/// Writes the item that says a run measured only `rows` of a full run's `full` rows, if so;
/// `what` says what a row is (`transform/size`).
pub(crate) fn write_partial_item(s: &mut String, rows: usize, full: usize, what: &str) {
    if rows < full {
        let _ = writeln!(
            s,
            "- **Partial run**: {rows} of the {full} {what} rows (filtered or interrupted); rows \
             not measured by this run are left out."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_values() {
        assert!(is_quick_value("1") && is_quick_value("yes"));
        assert!(!is_quick_value("") && !is_quick_value("0"));
    }

    #[test]
    fn bench_arguments() {
        assert_eq!(
            bench_args("srtp", &[]),
            ["bench", "-p", "benches", "--bench", "srtp"]
        );
        let extra = ["AEAD".to_string(), "--quick".to_string()];
        assert_eq!(
            bench_args("relay_engine", &extra),
            [
                "bench",
                "-p",
                "benches",
                "--bench",
                "relay_engine",
                "--",
                "AEAD",
                "--quick"
            ]
        );
        let (command, what) = bench_command(Path::new("/w"), "srtp", &extra);
        assert_eq!(
            what,
            "`cargo bench -p benches --bench srtp -- AEAD --quick`"
        );
        assert_eq!(command.get_current_dir(), Some(Path::new("/w")));
        assert_eq!(command.get_args().count(), 8);
    }

    #[test]
    fn quoted_command_lines() {
        assert_eq!(xtask_command(&[], "srtp", &[]), "cargo xtask bench srtp");
        let vars = ["A=/x y".to_string(), "Q=1".to_string()];
        let extra = ["AEAD".to_string(), "--quick".to_string()];
        assert_eq!(
            xtask_command(&vars, "relay-engine", &extra),
            "A=/x y Q=1 cargo xtask bench relay-engine -- AEAD --quick"
        );
    }

    /// A scratch directory of its own under the system's temporary directory, removed on drop.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("xtask-criterion-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        /// A result as criterion leaves it: `<rel>/new/{benchmark,estimates}.json`.
        fn result(&self, rel: &str, id: &str, mean: f64, median: f64) {
            let new = self.0.join(rel).join("new");
            fs::create_dir_all(&new).unwrap();
            fs::write(
                new.join("benchmark.json"),
                format!(r#"{{"group_id":"g","full_id":"{id}"}}"#),
            )
            .unwrap();
            fs::write(
                new.join("estimates.json"),
                format!(
                    r#"{{"mean":{{"point_estimate":{mean}}},"median":{{"point_estimate":{median}}}}}"#
                ),
            )
            .unwrap();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn results_are_collected_by_id_and_age() {
        let dir = Scratch::new("collect");
        dir.result("g/a_1", "g/a/1", 10.0, 9.0);
        dir.result("g/b_2", "g/b/2", 20.0, 19.5);
        dir.result("other/c", "other/c", 1.0, 1.0);
        fs::create_dir_all(dir.0.join("g/half/new")).unwrap(); // no JSON files: passed over
        let wanted = |id: &str| id.strip_prefix("g/").map(str::to_string);

        let (mut found, stale) = collect(&dir.0, UNIX_EPOCH, wanted).unwrap();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(stale, 0);
        assert_eq!(
            found,
            [
                (
                    "a/1".to_string(),
                    Estimate {
                        mean: 10.0,
                        median: 9.0
                    }
                ),
                (
                    "b/2".to_string(),
                    Estimate {
                        mean: 20.0,
                        median: 19.5
                    }
                ),
            ]
        );

        // Written before `since`: counted as stale, and only the wanted ones.
        let later = SystemTime::now() + Duration::from_secs(3600);
        let (found, stale) = collect(&dir.0, later, wanted).unwrap();
        assert!(found.is_empty());
        assert_eq!(stale, 2);

        assert!(collect(&dir.0.join("missing"), UNIX_EPOCH, wanted)
            .unwrap_err()
            .ends_with("does not exist"));
        dir.result("g/bad", "g/bad", f64::NAN, 1.0); // `NaN` is no JSON number
        assert!(collect(&dir.0, UNIX_EPOCH, wanted).is_err());
    }

    #[test]
    fn cpu_model_from_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) \
                    CPU @ 2.20GHz\nflags\t\t: fpu\n";
        assert_eq!(
            model_name(text).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(model_name("processor\t: 0\n"), None);
    }

    #[test]
    fn run_and_partial_items() {
        let mut s = String::new();
        write_run_items(&mut s, "2026-01-02", "cargo xtask bench x", None);
        write_partial_item(&mut s, 15, 15, "transform/size");
        assert_eq!(
            s,
            "- Date (UTC): 2026-01-02\n- Command: `cargo xtask bench x`\n- Full run: 0.5 s \
             warm-up, 2 s measurement, 30 samples per benchmark.\n"
        );
        let mut s = String::new();
        write_run_items(&mut s, "d", "c", Some(("X_QUICK", "; 5 more")));
        write_partial_item(&mut s, 3, 36, "suite/operation/size");
        assert!(s.contains(
            "- **Quick smoke run** (`X_QUICK=1`: 0.1 s warm-up, 0.3 s measurement, 10 samples; 5 \
             more): checks that the benches run; do not quote these numbers.\n"
        ));
        assert!(s.ends_with(
            "- **Partial run**: 3 of the 36 suite/operation/size rows (filtered or interrupted); \
             rows not measured by this run are left out.\n"
        ));
    }
}
