//! A relay under test as a child process (ours or rtpengine), for the relay benches: started
//! until it answers, killed and its control socket removed when dropped, its CPU time read from
//! `/proc`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a relay may take to answer after it is started.
pub(crate) const START_WAIT: Duration = Duration::from_secs(30);

/// A running relay.
pub(crate) struct RelayProcess {
    pub(crate) child: Child,
    /// `edge relay`'s control socket (none for rtpengine, which is asked through ng).
    pub(crate) control: PathBuf,
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.control);
    }
}

/// Starts a relay with `spawn` and waits until `ready` says it answers. A relay that exits at
/// once is started again for a while: the previous relay's ports can outlive it briefly (the
/// kernel finishes tearing down an io_uring instance, and the sockets it holds, after the
/// process is gone). `log` is where the relay writes, quoted if it does not answer within
/// `wait` (normally [`START_WAIT`]).
pub(crate) fn start(
    what: &str,
    control: PathBuf,
    log: &Path,
    wait: Duration,
    mut spawn: impl FnMut() -> Result<Child, String>,
    ready: impl Fn(&RelayProcess) -> bool,
) -> Result<RelayProcess, String> {
    let _ = fs::remove_file(&control);
    let deadline = Instant::now() + wait;
    let mut relay = RelayProcess {
        child: spawn()?,
        control,
    };
    loop {
        if ready(&relay) {
            return Ok(relay);
        }
        if Instant::now() > deadline {
            let said = fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "{what} did not come up in {:.1} s: {}",
                wait.as_secs_f64(),
                said.trim()
            ));
        }
        if let Ok(Some(_)) = relay.child.try_wait() {
            std::thread::sleep(Duration::from_millis(500));
            let _ = fs::remove_file(&relay.control);
            relay.child = spawn()?;
            continue;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The line of `edge relay`'s log that names its backend (without the `relay: ` prefix).
pub(crate) fn backend_line(log: &Path) -> Option<String> {
    fs::read_to_string(log).ok().and_then(|l| {
        l.lines()
            .find(|x| x.contains("backend") || x.contains("fallback"))
            .map(|x| x.trim_start_matches("relay: ").to_string())
    })
}

/// User + system CPU seconds of process `pid`, all threads, from `/proc/PID/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// `--edge PATH` and `--results PATH`, the options of the benches that can run from a prebuilt
/// `edge` on a machine without the toolchain.
#[derive(Debug, Default)]
pub(crate) struct PrebuiltOptions {
    /// A prebuilt `edge` (none: build it).
    pub(crate) edge: Option<PathBuf>,
    /// Where the section goes (none: `benches/RESULTS.md`).
    pub(crate) results: Option<PathBuf>,
}

impl PrebuiltOptions {
    /// Parses the arguments of `bench <name>`.
    pub(crate) fn parse(name: &str, args: &[String]) -> Result<PrebuiltOptions, String> {
        let mut o = PrebuiltOptions::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let v = it
                .next()
                .ok_or_else(|| format!("bench {name}: {flag} needs a value"))?;
            match flag.as_str() {
                "--edge" => o.edge = Some(PathBuf::from(v)),
                "--results" => o.results = Some(PathBuf::from(v)),
                other => return Err(format!("bench {name}: unknown option {other:?}")),
            }
        }
        Ok(o)
    }

    /// The `edge` to run: the one given, or a release build made now (after installing the
    /// packages `needs`).
    pub(crate) fn edge(&self, needs: &[crate::deps::Package]) -> Result<PathBuf, String> {
        if let Some(e) = &self.edge {
            return Ok(e.clone());
        }
        crate::deps::ensure(needs)?;
        let root = crate::workspace_root()?;
        crate::run_checked(
            Command::new(crate::cargo())
                .args(["build", "--release", "-p", "edge"])
                .current_dir(&root),
            "`cargo build --release -p edge`",
        )?;
        Ok(crate::target_dir(&root).join("release").join("edge"))
    }

    /// The results file.
    pub(crate) fn results(&self) -> Result<PathBuf, String> {
        match &self.results {
            Some(r) => Ok(r.clone()),
            None => Ok(crate::workspace_root()?.join("benches").join("RESULTS.md")),
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch (what `edge loadgen --start-at` takes).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Sleeps until the wall-clock time `ms` (see [`now_ms`]); returns at once if it has passed.
pub(crate) fn sleep_until(ms: u64) {
    let now = now_ms();
    if ms > now {
        std::thread::sleep(Duration::from_millis(ms - now));
    }
}

/// Today's date in UTC, as `date -u +%F` prints it.
pub(crate) fn utc_date() -> String {
    Command::new("date")
        .args(["-u", "+%F"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_a_relay_log_names_its_backend() {
        assert!(cpu_seconds(std::process::id()).is_some());
        assert_eq!(cpu_seconds(u32::MAX), None);
        let log = std::env::temp_dir().join(format!("relay-process-{}.log", std::process::id()));
        fs::write(
            &log,
            "relay: open files limit 20000\nrelay: worker 0 on CPU 0: io_uring backend\n",
        )
        .unwrap();
        assert_eq!(
            backend_line(&log).as_deref(),
            Some("worker 0 on CPU 0: io_uring backend")
        );
        let _ = fs::remove_file(&log);
        assert_eq!(utc_date().len(), 10);
    }

    #[test]
    fn prebuilt_options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = PrebuiltOptions::parse("x", &args(&["--edge", "/e", "--results", "/r"])).unwrap();
        assert_eq!(o.edge, Some(PathBuf::from("/e")));
        assert_eq!(o.results().unwrap(), PathBuf::from("/r"));
        assert_eq!(o.edge(&[]).unwrap(), PathBuf::from("/e"));
        assert!(PrebuiltOptions::parse("x", &args(&["--edge"])).is_err());
        let e = PrebuiltOptions::parse("xdp", &args(&["--bogus", "1"])).unwrap_err();
        assert!(e.contains("bench xdp: unknown option"), "{e}");
    }

    #[test]
    fn a_relay_that_never_answers_is_reported_with_its_log() {
        let dir = std::env::temp_dir().join(format!("relay-process-t-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("r.log");
        fs::write(&log, "Address already in use").unwrap();
        let mut starts = 0;
        let r = start(
            "test relay",
            dir.join("c.sock"),
            &log,
            Duration::from_secs(2),
            || {
                starts += 1;
                Command::new("true").spawn().map_err(|e| e.to_string())
            },
            |_| false,
        );
        let e = r.err().unwrap();
        assert!(
            e.contains("did not come up") && e.contains("Address already in use"),
            "{e}"
        );
        assert!(starts > 1, "started again after it exited");
        let _ = fs::remove_dir_all(&dir);
    }
}
