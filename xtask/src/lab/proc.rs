//! The lab's peer processes (Kamailio, dnsmasq): started in the foreground inside a namespace,
//! detached from the terminal (their own process group), with a pid file and a log; stopped by
//! their pid file, never by name.
//!
//! `ip netns exec NS PROGRAM …` switches namespace and then execs PROGRAM in the same process, so
//! the pid of the spawned `ip` is the peer's pid. The peer leads its own process group, so its
//! workers (Kamailio forks several) are found again by that group id even when the leader died.
//! A pid is trusted only while the process has the expected name and lives in a network
//! namespace other than ours: a recycled pid is never signalled.

use std::fs::{self, File};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::LabError;

/// A peer started by the lab.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) child: Child,
}

/// What `/proc/PID/stat` says about a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) pid: u32,
    pub(crate) comm: String,
    pub(crate) state: char,
    pub(crate) pgrp: u32,
}

/// Parses a `/proc/PID/stat` line: `pid (comm) state ppid pgrp …`; the name may hold spaces and
/// parentheses, so it ends at the last `)`.
pub(crate) fn parse_stat(line: &str) -> Option<Stat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let pid = line.get(..open)?.trim().parse().ok()?;
    let comm = line.get(open + 1..close)?.to_string();
    let mut rest = line.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let _ppid = rest.next()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some(Stat {
        pid,
        comm,
        state,
        pgrp,
    })
}

pub(crate) fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid` runs (a zombie does not: it waits only for its parent to read its status).
pub(crate) fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

/// The network namespace of a process (`net:[inode]`).
pub(crate) fn netns_of(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/ns/net")).ok()
}

fn our_netns() -> Option<PathBuf> {
    fs::read_link("/proc/self/ns/net").ok()
}

/// Whether `pid` is a live `comm` outside our network namespace: one of the lab's peers.
pub(crate) fn is_peer(pid: u32, comm: &str) -> bool {
    match stat(pid) {
        Some(s) if s.comm == comm && s.state != 'Z' && s.state != 'X' => {
            let theirs = netns_of(pid);
            theirs.is_some() && theirs != our_netns()
        }
        _ => false,
    }
}

/// The live processes of process group `pgrp` named `comm`, outside our namespace.
pub(crate) fn group(pgrp: u32, comm: &str) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| stat(pid).is_some_and(|s| s.pgrp == pgrp) && is_peer(pid, comm))
        .collect();
    pids.sort_unstable();
    pids
}

/// Reads a pid file (one decimal number).
pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Starts `program args…` in network namespace `namespace` with `env` added to its
/// environment, output to `log`, pid to `pid_file`.
pub(crate) fn spawn(
    name: &str,
    namespace: &str,
    program: &str,
    args: &[String],
    env: &[(&str, String)],
    pid_file: &Path,
    log: &Path,
) -> Result<Spawned, LabError> {
    let io = |what: String| move |source: io::Error| LabError::Io { what, source };
    let out = File::create(log).map_err(io(format!("creating {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io(format!("opening {}", log.display())))?;
    let child = Command::new("ip")
        .args(["netns", "exec", namespace, program])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own group: a Ctrl-C at the terminal that ran `lab up` does not reach it, and its
        // workers can be found by the group id.
        .process_group(0)
        .spawn()
        .map_err(io(format!("starting {program} in {namespace}")))?;
    let pid = child.id();
    fs::write(pid_file, format!("{pid}\n"))
        .map_err(io(format!("writing {}", pid_file.display())))?;
    Ok(Spawned {
        name: name.to_string(),
        pid,
        child,
    })
}

/// Sends `signal` to `pids` with kill(1); a process that is gone already is no error.
fn kill(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-s")
        .arg(signal)
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits until none of `pids` runs, for at most `limit`; returns those still running.
fn wait_gone(pids: &[u32], limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops `pids` (SIGTERM, then SIGKILL after `grace`); returns those that would not die.
pub(crate) fn terminate(pids: &[u32], grace: Duration) -> Vec<u32> {
    kill("TERM", pids);
    let left = wait_gone(pids, grace);
    kill("KILL", &left);
    wait_gone(&left, Duration::from_secs(2))
}

/// What stopping a peer by its pid file did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StopOutcome {
    /// No pid file.
    NoPidFile,
    /// A pid file whose process is gone (or is not ours): removed.
    Stale(u32),
    /// Stopped: the leader and its workers.
    Stopped(Vec<u32>),
}

/// Stops the peer of `pid_file` (named `comm`) and the workers of its process group, then removes
/// the pid file. `Err` names the processes that would not die.
pub(crate) fn stop(pid_file: &Path, comm: &str) -> Result<StopOutcome, LabError> {
    let Some(pid) = read_pid(pid_file) else {
        if pid_file.exists() {
            remove(pid_file)?;
            return Ok(StopOutcome::Stale(0));
        }
        return Ok(StopOutcome::NoPidFile);
    };
    let leader = is_peer(pid, comm);
    // The leader's group holds the leader itself and its workers.
    let members = group(pid, comm);
    if !leader && members.is_empty() {
        remove(pid_file)?;
        return Ok(StopOutcome::Stale(pid));
    }
    if leader {
        // The leader first: Kamailio's main process stops its own workers.
        kill("TERM", &[pid]);
        wait_gone(&[pid], Duration::from_secs(5));
    }
    let left = terminate(&group(pid, comm), Duration::from_secs(3));
    if !left.is_empty() {
        return Err(LabError::Cleanup(vec![format!(
            "{comm} processes {left:?} (pid file {}) would not die",
            pid_file.display()
        )]));
    }
    remove(pid_file)?;
    Ok(StopOutcome::Stopped(members))
}

fn remove(path: &Path) -> Result<(), LabError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LabError::Io {
            what: format!("removing {}", path.display()),
            source,
        }),
    }
}

/// The last `lines` lines of a log, for an error message.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse() {
        let s = parse_stat("4242 (kamailio) S 1 4242 4242 0 -1 4194560 …").unwrap();
        assert_eq!(
            s,
            Stat {
                pid: 4242,
                comm: "kamailio".into(),
                state: 'S',
                pgrp: 4242
            }
        );
        let odd = parse_stat("7 (a (b) c) Z 1 6 6 0").unwrap();
        assert_eq!(
            (odd.comm.as_str(), odd.state, odd.pgrp),
            ("a (b) c", 'Z', 6)
        );
        assert!(parse_stat("").is_none());
        assert!(parse_stat("x (y) S 1 z").is_none());
        assert!(parse_stat("1 (y)").is_none());
    }

    #[test]
    fn our_own_process_is_alive_but_no_peer() {
        let me = std::process::id();
        assert!(alive(me));
        let comm = stat(me).unwrap().comm;
        // Same namespace as ours: never taken for a lab peer.
        assert!(!is_peer(me, &comm));
        assert!(!alive(u32::MAX));
    }

    #[test]
    fn a_pid_file_of_a_gone_process_is_stale() {
        let dir = std::env::temp_dir().join(format!("portico-lab-proc-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("x.pid");
        assert_eq!(stop(&pid_file, "dnsmasq").unwrap(), StopOutcome::NoPidFile);
        // Our own pid, named "dnsmasq": not ours to kill (wrong name, our namespace).
        fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
        assert_eq!(
            stop(&pid_file, "dnsmasq").unwrap(),
            StopOutcome::Stale(std::process::id())
        );
        assert!(!pid_file.exists());
        fs::write(&pid_file, "garbage").unwrap();
        assert_eq!(stop(&pid_file, "dnsmasq").unwrap(), StopOutcome::Stale(0));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_tails() {
        let dir = std::env::temp_dir().join(format!("portico-lab-log-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("x.log");
        fs::write(&log, "1\n2\n3\n").unwrap();
        assert_eq!(log_tail(&log, 2), "2\n3");
        assert_eq!(log_tail(&dir.join("none"), 2), "");
        fs::remove_dir_all(&dir).unwrap();
    }
}
