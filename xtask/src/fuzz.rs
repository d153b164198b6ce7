//! `cargo xtask fuzz`: runs the cargo-fuzz targets and reports executions and crashes.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use crate::{usage_error, workspace_root};

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, PartialEq)]
struct FuzzSummary {
    /// Executions: from `Done N runs`, else the last `#N` status line.
    execs: Option<u64>,
    /// libFuzzer reported a crash, leak, timeout or out-of-memory.
    crash_reported: bool,
    /// Where libFuzzer saved the crashing input.
    artifact: Option<String>,
    /// libFuzzer started at all (else the build or cargo-fuzz failed).
    started: bool,
}

impl FuzzSummary {
    fn feed(&mut self, line: &str) {
        let line = line.trim_end();
        if let Some(n) = status_line_execs(line) {
            self.started = true;
            self.execs = Some(n);
        } else if let Some(rest) = line.strip_prefix("Done ") {
            self.started = true;
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
                self.execs = Some(n);
            }
        } else if line.starts_with("INFO: Seed:") || line.starts_with("INFO: Running with") {
            self.started = true;
        }
        if line.contains("==ERROR: libFuzzer")
            || line.contains("ERROR: AddressSanitizer")
            || line.contains("ERROR: LeakSanitizer")
            || line.starts_with("SUMMARY: libFuzzer")
            || line.starts_with("SUMMARY: AddressSanitizer")
            || line.contains("panicked at")
        {
            self.crash_reported = true;
        }
        if let Some(i) = line.find("Test unit written to ") {
            self.artifact = Some(line[i + "Test unit written to ".len()..].trim().to_string());
            self.crash_reported = true;
        }
    }
}

/// libFuzzer status lines: `#12345\tpulse  cov: …`, `#2\tINITED …`.
fn status_line_execs(line: &str) -> Option<u64> {
    let rest = line.strip_prefix('#')?;
    let digits: &str = &rest[..rest.find(|c: char| !c.is_ascii_digit())?];
    let after = &rest[digits.len()..];
    if digits.is_empty() || !after.starts_with(['\t', ' ']) {
        return None;
    }
    digits.parse().ok()
}

/// `cargo +nightly …` must go through rustup's `cargo` proxy, not the toolchain cargo that runs
/// us, and must not inherit our toolchain choice.
fn nightly_cargo(fuzz_dir: &Path) -> Command {
    let mut c = Command::new("cargo");
    c.arg("+nightly")
        .current_dir(fuzz_dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    c
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut seconds: u64 = 60;
    let mut wanted: Vec<String> = Vec::new();
    let mut passthrough: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            passthrough.extend(it.by_ref().cloned());
        } else if a == "--seconds" {
            let v = it.next().ok_or("--seconds needs a value")?;
            seconds = parse_seconds(v)?;
        } else if let Some(v) = a.strip_prefix("--seconds=") {
            seconds = parse_seconds(v)?;
        } else if a.starts_with('-') {
            return usage_error(&format!("unknown fuzz option `{a}`"));
        } else {
            wanted.push(a.clone());
        }
    }
    let root = workspace_root()?;
    let fuzz_dir = root.join("fuzz");
    if !fuzz_dir.join("Cargo.toml").is_file() {
        return Err(format!("{} has no Cargo.toml", fuzz_dir.display()));
    }
    let out = nightly_cargo(&fuzz_dir)
        .args(["fuzz", "list"])
        .output()
        .map_err(|e| format!("running `cargo +nightly fuzz list`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo +nightly fuzz list` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let all: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if all.is_empty() {
        return Err("`cargo +nightly fuzz list` lists no targets".into());
    }
    let targets = if wanted.is_empty() {
        all
    } else {
        if let Some(bad) = wanted.iter().find(|w| !all.contains(w)) {
            return Err(format!(
                "no fuzz target `{bad}` (known: {})",
                all.join(", ")
            ));
        }
        wanted
    };

    let mut results = Vec::new();
    for t in &targets {
        eprintln!("xtask: fuzzing `{t}` for {seconds} s");
        let mut cmd = nightly_cargo(&fuzz_dir);
        cmd.args([
            "fuzz",
            "run",
            t,
            "--",
            &format!("-max_total_time={seconds}"),
        ])
        .args(&passthrough);
        let (status, summary) = run_fuzz_target(&mut cmd)
            .map_err(|e| format!("running `cargo +nightly fuzz run {t}`: {e}"))?;
        let verdict = if status.success() && !summary.crash_reported {
            "ok".to_string()
        } else if !summary.started {
            format!("FAILED before fuzzing started ({status}; build error?)")
        } else {
            match &summary.artifact {
                Some(a) => format!("CRASHED ({status}); input saved to {a}"),
                None => format!("CRASHED ({status})"),
            }
        };
        let execs = summary
            .execs
            .map_or_else(|| "?".to_string(), |n| n.to_string());
        println!("{t}: {execs} executions, {verdict}");
        results.push((t.clone(), execs, verdict));
    }
    println!("\nfuzz summary ({seconds} s per target):");
    let mut failed = 0;
    for (t, execs, verdict) in &results {
        println!("  {t:<32} {execs:>14} execs  {verdict}");
        if verdict != "ok" {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("xtask: {failed} of {} fuzz target(s) failed", results.len());
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn parse_seconds(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "--seconds wants a positive whole number, got `{v}`"
        )),
    }
}

/// Runs a fuzz command, echoing its output while scanning it for libFuzzer's status lines.
fn run_fuzz_target(
    cmd: &mut Command,
) -> Result<(std::process::ExitStatus, FuzzSummary), std::io::Error> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || scan(stdout, false));
    let err_summary = scan(stderr, true);
    let out_summary = out_thread
        .join()
        .map_err(|_| std::io::Error::other("output reader thread panicked"))?;
    let status = child.wait()?;
    let mut s = err_summary;
    s.started |= out_summary.started;
    s.crash_reported |= out_summary.crash_reported;
    if s.execs.is_none() {
        s.execs = out_summary.execs;
    }
    if s.artifact.is_none() {
        s.artifact = out_summary.artifact;
    }
    Ok((status, s))
}

/// Echoes a child's stream line by line (to our stderr or stdout) and summarises it.
fn scan(stream: Option<impl Read>, to_stderr: bool) -> FuzzSummary {
    let mut summary = FuzzSummary::default();
    let Some(stream) = stream else {
        return summary;
    };
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                if to_stderr {
                    eprint!("{line}");
                } else {
                    print!("{line}");
                }
                summary.feed(&line);
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_lines() {
        let mut s = FuzzSummary::default();
        for l in [
            "INFO: Running with entropic power schedule (0xFF, 100).",
            "INFO: Seed: 1234",
            "#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#65536\tpulse  cov: 100 ft: 200 corp: 20/400b lim: 4 exec/s: 32768 rss: 40Mb",
            "#70001\tNEW    cov: 101 ft: 201",
        ] {
            s.feed(l);
        }
        assert_eq!(s.execs, Some(70_001));
        assert!(s.started && !s.crash_reported);
        s.feed("Done 123456 runs in 61 second(s)");
        assert_eq!(s.execs, Some(123_456));
        assert_eq!(status_line_execs("#abc"), None);
        assert_eq!(status_line_execs("# 12"), None);

        let mut c = FuzzSummary::default();
        c.feed("#1024\tpulse  cov: 5");
        c.feed("thread '<unnamed>' panicked at fuzz_targets/x.rs:3:5:");
        c.feed("==1234== ERROR: libFuzzer: deadly signal");
        c.feed("artifact_prefix='/f/artifacts/x/'; Test unit written to /f/artifacts/x/crash-abc");
        assert!(c.crash_reported);
        assert_eq!(c.artifact.as_deref(), Some("/f/artifacts/x/crash-abc"));
        assert_eq!(c.execs, Some(1024));
    }
}
