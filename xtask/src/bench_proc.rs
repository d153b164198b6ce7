//! Processes the benches start and measure: spawned with their output to a log, their CPU
//! time and memory read from `/proc` over the whole process tree, and stopped when dropped
//! (SIGTERM, then SIGKILL to whatever of the tree is left, by pid only).

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::relay_process;

/// A process under test (Kamailio with its children, or `edge run`), stopped when dropped:
/// SIGTERM to it, then SIGKILL to whatever of its tree is left.
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
    log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Result<Proc, String> {
        let out = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// This process and its descendants.
    pub(crate) fn tree(&self) -> Vec<u32> {
        process_tree(self.child.id())
    }

    /// User + system CPU seconds of the tree.
    pub(crate) fn cpu_s(&self) -> f64 {
        self.tree()
            .into_iter()
            .filter_map(relay_process::cpu_seconds)
            .sum()
    }

    /// PSS of the tree, KiB.
    pub(crate) fn pss_kib(&self) -> Option<u64> {
        let mut total = 0;
        let mut any = false;
        for pid in self.tree() {
            if let Some(k) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|s| pss_of(&s))
            {
                total += k;
                any = true;
            }
        }
        any.then_some(total)
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(12).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Waits until the tree's CPU time stops moving (at most `limit`).
    pub(crate) fn settle(&self, limit: Duration) {
        let until = Instant::now() + limit;
        let mut last = self.cpu_s();
        std::thread::sleep(Duration::from_millis(500));
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(500));
            let now = self.cpu_s();
            if now - last < 0.02 {
                return;
            }
            last = now;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let tree = self.tree();
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && self.alive() {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Children that outlived their parent (killed by pid, only those of this tree).
        for p in tree.into_iter().filter(|p| *p != self.child.id()) {
            if fs::metadata(format!("/proc/{p}")).is_ok() {
                let _ = Command::new("kill")
                    .args(["-KILL", &p.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        eprintln!("xtask: stopped {}", self.name);
    }
}

/// `pid` and its descendants, from `/proc/PID/task/*/children`.
pub(crate) fn process_tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while let Some(&p) = out.get(i) {
        if let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(c) = fs::read_to_string(t.path().join("children")) {
                    out.extend(c.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
                }
            }
        }
        i += 1;
        if out.len() > 10_000 {
            break;
        }
    }
    out
}

/// The `Pss:` line of `smaps_rollup`, KiB.
pub(crate) fn pss_of(smaps_rollup: &str) -> Option<u64> {
    smaps_rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
