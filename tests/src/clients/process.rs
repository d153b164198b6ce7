//! Child processes in a lab namespace with their output captured, scratch directories, and
//! waiting with a deadline.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

/// Where iproute2 keeps named network namespaces.
const NETNS_DIR: &str = "/run/netns";

/// Locks `m`, going on after a panic elsewhere (the data is text and counters: still usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on a fresh thread inside the named network namespace and returns what it returns.
/// Sockets `f` creates belong to that namespace and keep working from any thread afterwards.
pub(crate) fn in_namespace<T: Send>(
    namespace: &str,
    f: impl FnOnce() -> T + Send,
) -> Result<T, String> {
    std::thread::scope(|s| {
        let worker = s.spawn(|| -> Result<T, String> {
            let path = Path::new(NETNS_DIR).join(namespace);
            let file = File::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
            setns(&file, CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("entering network namespace {namespace}: {e}"))?;
            // The thread ends here, still inside: nothing else runs on it.
            Ok(f())
        });
        match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A TCP port free on `addr` in `namespace` right now (the kernel's pick; another process may
/// take it before the caller binds it, which the caller then reports).
pub(crate) fn free_tcp_port(namespace: &str, addr: Ipv4Addr) -> Result<u16, String> {
    in_namespace(namespace, || {
        TcpListener::bind((addr, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("finding a free TCP port on {addr} in {namespace}: {e}"))
    })?
}

/// Calls `check` every `every` until it returns `Some` or `timeout` has passed.
pub(crate) fn poll<T>(
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Scratch directories made by this process so far (the counter in their names).
static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// Set (to anything) to keep every [`ScratchDir`], passing tests' too.
pub const KEEP_ENV: &str = "PORTICO_KEEP_CLIENT_DIRS";

/// A directory under `$TMPDIR/portico-clients/` for one client's configuration and logs. Removed
/// when dropped, except while a panic unwinds (a failing test) or with [`KEEP_ENV`] set: then it
/// is kept and its path said on stderr, for a look at the logs.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Makes `<tmp>/portico-clients/<pid>-<n>-<name>`.
    pub fn new(name: &str) -> Result<ScratchDir, String> {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join("portico-clients")
            .join(format!("{}-{n}-{name}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .map_err(|e| format!("removing {}: {e}", path.display()))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to the file `name` in the directory; its path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let path = self.path.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("clients: kept {} (a test failed)", self.path.display());
        } else if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("clients: kept {} ({KEEP_ENV} is set)", self.path.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("clients: could not remove {}: {e}", self.path.display());
        }
    }
}

/// Text a process wrote, as it arrives.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    text: Mutex<String>,
}

impl Captured {
    fn push(&self, chunk: &str) {
        lock(&self.text).push_str(chunk);
    }

    /// Everything so far.
    pub(crate) fn text(&self) -> String {
        lock(&self.text).clone()
    }
}

/// Copies `from` into `captured` and `log` line by line until it closes.
fn pump(mut from: impl Read, captured: Arc<Captured>, log: Arc<Mutex<File>>) {
    let mut reader = BufReader::new(&mut from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                // A failed log write loses only the file copy; the captured text is complete.
                let _ = lock(&log).write_all(&line);
                captured.push(&String::from_utf8_lossy(&line));
            }
        }
    }
}

/// A program run inside a network namespace (`ip netns exec`, which execs it: the child's pid
/// is the program's), in a process group of its own, stdout and stderr captured (and copied to a
/// log file), stdin a pipe held open. Stopped (the whole group) when dropped.
#[derive(Debug)]
pub(crate) struct Proc {
    name: String,
    pid: u32,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    output: Arc<Captured>,
    log: PathBuf,
    stopped: bool,
}

impl Proc {
    /// Starts `program args…` in `namespace` with the extra environment `env`; its output goes to
    /// `log` as well.
    pub(crate) fn spawn(
        name: &str,
        namespace: &str,
        program: &str,
        args: &[String],
        env: &[(&str, &Path)],
        log: &Path,
    ) -> Result<Proc, String> {
        let file = File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let file = Arc::new(Mutex::new(file));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", namespace, program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let line = format!("ip netns exec {namespace} {program} {}", args.join(" "));
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{name}: starting `{line}`: {e}"))?;
        let output = Arc::new(Captured::default());
        if let Some(out) = child.stdout.take() {
            let (c, f) = (output.clone(), file.clone());
            std::thread::spawn(move || pump(out, c, f));
        }
        if let Some(err) = child.stderr.take() {
            let (c, f) = (output.clone(), file.clone());
            std::thread::spawn(move || pump(err, c, f));
        }
        let stdin = child.stdin.take();
        Ok(Proc {
            name: name.to_string(),
            pid: child.id(),
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            output,
            log: log.to_path_buf(),
            stopped: false,
        })
    }

    /// The program's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// What it wrote so far (stdout and stderr, interleaved as they came).
    pub(crate) fn output(&self) -> &Captured {
        &self.output
    }

    /// Its exit status once it has exited.
    pub(crate) fn exited(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    /// `Err` (with the end of its output) once it has exited.
    pub(crate) fn check_running(&self) -> Result<(), String> {
        match self.exited() {
            None => Ok(()),
            Some(status) => Err(format!(
                "{} (pid {}) exited ({status}); its output ({}) ends:\n{}",
                self.name,
                self.pid,
                self.log.display(),
                tail(&self.output.text(), 40)
            )),
        }
    }

    /// Writes `line` and a newline to its stdin.
    pub(crate) fn write_line(&self, line: &str) -> Result<(), String> {
        let mut stdin = lock(&self.stdin);
        let pipe = stdin
            .as_mut()
            .ok_or_else(|| format!("{}: stdin is closed", self.name))?;
        pipe.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| pipe.flush())
            .map_err(|e| format!("{}: writing to stdin: {e}", self.name))
    }

    fn wait_exit(&self, limit: Duration) -> bool {
        poll(limit, Duration::from_millis(50), || self.exited()).is_some()
    }

    /// Stops it: `quit` written to stdin first if given, then SIGTERM, each with `grace` to
    /// exit, then SIGKILL to its whole process group. Idempotent.
    pub(crate) fn stop(&mut self, quit: Option<&str>, grace: Duration) -> Result<(), String> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let pgid = format!("-{}", self.pid);
        if self.exited().is_none() {
            let asked = quit.is_some_and(|q| self.write_line(q).is_ok());
            if !(asked && self.wait_exit(grace)) {
                let _ = Command::new("kill")
                    .args(["-TERM", &self.pid.to_string()])
                    .status();
                if !self.wait_exit(grace) {
                    // The leader is alive (not reaped), so the group id is still ours: this
                    // reaches its children too (Kamailio's workers) and nothing else.
                    let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
                    if !self.wait_exit(Duration::from_secs(5)) {
                        return Err(format!("{} (pid {}) survived SIGKILL", self.name, self.pid));
                    }
                }
            }
        }
        *lock(&self.stdin) = None;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Err(e) = self.stop(None, Duration::from_secs(2)) {
            eprintln!("clients: {e}");
        }
    }
}
