//! A network-namespace lab: namespaces joined by veth pairs, for end-to-end tests that need
//! several hosts on one machine (remote clients, the edge, the phones inside).
//!
//! A [`Lab`] creates named network namespaces (`portico-t-<pid>-<n>-<role>`, so a namespace
//! left behind by a killed run is traced to its process by name), veth pairs between them,
//! addresses and routes from the benchmarking block 198.18.0.0/15 (RFC 2544; nothing else is
//! accepted, so a lab can never collide with a real network), and optional nftables rules per
//! namespace. It drives the `ip` (iproute2) and `nft` (nftables) commands and needs root. When it
//! is dropped it deletes exactly the namespaces it created, by name; deleting a namespace
//! removes its veths.
//!
//! A thread works inside a namespace with [`Netns::enter`] (a guard that restores the thread's
//! namespace when dropped) or [`Netns::run`] (a fresh thread that enters, runs a closure and
//! returns its result). Sockets belong to the namespace of the thread that created them, and
//! threads inherit the namespace of the thread that spawned them: a media plane spawned inside
//! [`Netns::run`] binds its sockets in that namespace.
//!
//! Creating a namespace without the right (not root) fails with [`LabError::NotPermitted`], which
//! tests report loudly and treat as "cannot run here" ([`Lab::namespace_or_skip`] does both);
//! every other error is a failure.
//!
//! ```no_run
//! use tests::netns::Lab;
//!
//! let mut lab = Lab::new();
//! let a = lab.namespace("a")?;
//! let b = lab.namespace("b")?;
//! lab.veth(&a, "to-b", &b, "to-a")?;
//! lab.address(&a, "to-b", "198.18.100.1/30")?;
//! lab.address(&b, "to-a", "198.18.100.2/30")?;
//! let sock = b.run(|| std::net::UdpSocket::bind("198.18.100.2:9000"))??;
//! # let _ = sock;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::Write;
use std::marker::PhantomData;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use nix::sched::{setns, CloneFlags};

/// Every namespace a lab creates is named with this prefix, then the process id and a counter.
pub const PREFIX: &str = "portico-t-";

/// Where iproute2 keeps named network namespaces.
const NETNS_DIR: &str = "/run/netns";

/// The calling thread's own network namespace (`/proc/self` would name the main thread's).
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// The calling thread's SNMP counters, in its own network namespace.
const THREAD_SNMP: &str = "/proc/thread-self/net/snmp";

/// Longest interface name Linux accepts (`IFNAMSIZ` less the terminating zero).
const IFNAME_MAX: usize = 15;

/// Labs made by this process so far: the counter in namespace names.
static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// Held while `ip netns add` runs. The first one on a machine turns `/run/netns` into a shared
/// bind mount of itself; two at once can both do it, stacking mounts so that a namespace
/// mounted under the lower one is hidden. Tests run in parallel threads, so they take turns.
static NETNS_ADD: Mutex<()> = Mutex::new(());

/// Why a lab operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum LabError {
    /// Namespaces cannot be created here: the process is not root (or lacks `CAP_SYS_ADMIN`).
    /// Carries the command and what it said.
    NotPermitted(String),
    /// An address or network outside 198.18.0.0/15, or one that does not parse (named).
    Address(String),
    /// An unusable namespace role or interface name, or a namespace not made by this lab (named).
    Name(String),
    /// A command ran and failed.
    Command {
        /// The command line.
        command: String,
        /// Its exit status (`None`: killed by a signal).
        status: Option<i32>,
        /// What it wrote to standard error.
        stderr: String,
    },
    /// A system call or file operation failed.
    Os {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file did not read as expected (named).
    Parse(String),
}

impl LabError {
    /// Whether this is [`LabError::NotPermitted`]: the tests cannot run here, which is not a
    /// failure of the code under test.
    pub fn is_not_permitted(&self) -> bool {
        matches!(self, LabError::NotPermitted(_))
    }
}

impl core::fmt::Display for LabError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LabError::NotPermitted(what) => write!(
                f,
                "not permitted to create network namespaces (run as root): {what}"
            ),
            LabError::Address(what) => write!(f, "lab address: {what}"),
            LabError::Name(what) => write!(f, "lab name: {what}"),
            LabError::Command {
                command,
                status,
                stderr,
            } => {
                let status = status.map_or("a signal".to_string(), |s| format!("status {s}"));
                write!(f, "`{command}` failed with {status}: {}", stderr.trim())
            }
            LabError::Os { what, source } => write!(f, "{what}: {source}"),
            LabError::Parse(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for LabError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LabError::Os { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn os(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Os { what, source }
}

/// Runs `program args…`, feeding it `stdin` if given; returns its standard output.
fn command(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, LabError> {
    let line = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(os(format!(
            "starting `{line}` (are iproute2 and nftables installed?)"
        )))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(os(format!("writing to `{line}`")))?;
        // Dropping the pipe closes it: the command sees the end of its input.
    }
    let out = child
        .wait_with_output()
        .map_err(os(format!("waiting for `{line}`")))?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: line,
            status: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip args…`.
fn ip(args: &[&str]) -> Result<String, LabError> {
    command("ip", args, None)
}

/// Whether `addr` lies in the lab block 198.18.0.0/15.
pub fn in_lab_block(addr: Ipv4Addr) -> bool {
    let [a, b, _, _] = addr.octets();
    a == 198 && (b == 18 || b == 19)
}

/// Parses `a.b.c.d/len` (or a bare address, taken as /32) and checks that the whole network it
/// names lies in 198.18.0.0/15.
pub fn lab_cidr(cidr: &str) -> Result<(Ipv4Addr, u8), LabError> {
    let (addr, len) = match cidr.split_once('/') {
        Some((a, l)) => (
            a,
            l.parse::<u8>()
                .map_err(|_| LabError::Address(format!("{cidr}: bad prefix length")))?,
        ),
        None => (cidr, 32),
    };
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| LabError::Address(format!("{cidr}: not an IPv4 address")))?;
    if !(15..=32).contains(&len) || !in_lab_block(addr) {
        return Err(LabError::Address(format!(
            "{cidr} is not inside 198.18.0.0/15, the only block a lab may use"
        )));
    }
    Ok((addr, len))
}

fn check_ifname(name: &str) -> Result<(), LabError> {
    let ok = !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(LabError::Name(format!(
            "interface name {name:?}: 1 to {IFNAME_MAX} of [A-Za-z0-9-_.]"
        )))
    }
}

/// A set of network namespaces and the links between them, deleted when dropped. See the
/// [module docs](self).
#[derive(Debug)]
pub struct Lab {
    /// `portico-t-<pid>-<n>-`: every namespace name of this lab starts with it.
    stem: String,
    /// The namespaces created, in order.
    namespaces: Vec<Netns>,
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

impl Lab {
    /// An empty lab with a name stem unique in this process (nothing is created yet).
    pub fn new() -> Lab {
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        Lab {
            stem: format!("{PREFIX}{}-{n}-", std::process::id()),
            namespaces: Vec::new(),
        }
    }

    /// The namespaces created so far.
    pub fn namespaces(&self) -> &[Netns] {
        &self.namespaces
    }

    /// Creates a namespace named after `role` (lowercase letters, digits and `-`, at most 16)
    /// with its loopback up. [`LabError::NotPermitted`] when the process may not create one.
    pub fn namespace(&mut self, role: &str) -> Result<Netns, LabError> {
        let ok = !role.is_empty()
            && role.len() <= 16
            && role
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(LabError::Name(format!(
                "namespace role {role:?}: 1 to 16 of [a-z0-9-]"
            )));
        }
        let name = format!("{}{role}", self.stem);
        if self.namespaces.iter().any(|n| n.name == name) {
            return Err(LabError::Name(format!("{name} exists already in this lab")));
        }
        let added = {
            // A panic elsewhere while holding the lock leaves nothing half done: go on.
            let _turn = NETNS_ADD.lock().unwrap_or_else(|p| p.into_inner());
            ip(&["netns", "add", &name])
        };
        match added {
            Ok(_) => {}
            Err(LabError::Command {
                command, stderr, ..
            }) if stderr.contains("Operation not permitted")
                || stderr.contains("Permission denied") =>
            {
                return Err(LabError::NotPermitted(format!(
                    "`{command}`: {}",
                    stderr.trim()
                )))
            }
            Err(e) => return Err(e),
        }
        let ns = Netns { name };
        // Recorded before anything else can fail, so that drop deletes it.
        self.namespaces.push(ns.clone());
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A test's first namespace, made as [`Lab::namespace`] makes one; `Ok(None)` where this
    /// process may not create namespaces, after saying so with [`report_skip`]: the calling test
    /// cannot run here and returns. Any other failure is an error.
    pub fn namespace_or_skip(&mut self, role: &str) -> Result<Option<Netns>, LabError> {
        match self.namespace(role) {
            Ok(ns) => Ok(Some(ns)),
            Err(e) if e.is_not_permitted() => {
                report_skip(&e);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn owned(&self, ns: &Netns) -> Result<(), LabError> {
        if self.namespaces.contains(ns) {
            Ok(())
        } else {
            Err(LabError::Name(format!(
                "{} was not made by this lab",
                ns.name
            )))
        }
    }

    /// A veth pair: `a_if` in `a`, `b_if` in `b`, both up. Created from inside `a`, so the names
    /// never meet in the initial namespace (parallel labs may use the same names).
    pub fn veth(&self, a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<(), LabError> {
        self.owned(a)?;
        self.owned(b)?;
        check_ifname(a_if)?;
        check_ifname(b_if)?;
        ip(&[
            "-n", &a.name, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns",
            &b.name,
        ])?;
        ip(&["-n", &a.name, "link", "set", a_if, "up"])?;
        ip(&["-n", &b.name, "link", "set", b_if, "up"])?;
        Ok(())
    }

    /// Adds the address `cidr` (e.g. `198.18.1.1/24`; inside 198.18.0.0/15 only) to interface
    /// `ifname` of `ns`.
    pub fn address(&self, ns: &Netns, ifname: &str, cidr: &str) -> Result<(), LabError> {
        self.owned(ns)?;
        check_ifname(ifname)?;
        lab_cidr(cidr)?;
        ip(&["-n", &ns.name, "addr", "add", cidr, "dev", ifname])?;
        Ok(())
    }

    /// Routes the network `dest` (inside 198.18.0.0/15) through the gateway `via` (likewise)
    /// in `ns`.
    pub fn route(&self, ns: &Netns, dest: &str, via: Ipv4Addr) -> Result<(), LabError> {
        self.owned(ns)?;
        lab_cidr(dest)?;
        if !in_lab_block(via) {
            return Err(LabError::Address(format!(
                "gateway {via} is not inside 198.18.0.0/15"
            )));
        }
        ip(&[
            "-n",
            &ns.name,
            "route",
            "add",
            dest,
            "via",
            &via.to_string(),
        ])?;
        Ok(())
    }

    /// Loads an nftables ruleset (the text `nft -f` reads) into `ns`.
    pub fn nft(&self, ns: &Netns, ruleset: &str) -> Result<(), LabError> {
        self.owned(ns)?;
        command(
            "ip",
            &["netns", "exec", &ns.name, "nft", "-f", "-"],
            Some(ruleset),
        )?;
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = ip(&["netns", "delete", &ns.name]) {
                eprintln!("lab: could not delete network namespace {}: {e}", ns.name);
            }
        }
    }
}

/// Says on the process's standard error, past the test harness's output capture (which takes
/// only what `eprintln!` writes), that the calling test (named after its thread, as the
/// harness names them) cannot run here and why: a skipped test must not pass unnoticed.
pub fn report_skip(why: &LabError) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The names of the network namespaces of this process's labs that exist now (to check that
/// nothing was left behind).
pub fn live_namespaces() -> Result<Vec<String>, LabError> {
    let stem = format!("{PREFIX}{}-", std::process::id());
    let dir = match std::fs::read_dir(NETNS_DIR) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(os(format!("listing {NETNS_DIR}"))(e)),
    };
    let mut names = Vec::new();
    for entry in dir {
        let entry = entry.map_err(os(format!("listing {NETNS_DIR}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&stem) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// A named network namespace of a [`Lab`]. Cloning it does not copy the namespace; the lab
/// that made it deletes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Its name (as `ip netns list` shows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its file under `/run/netns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_DIR).join(&self.name)
    }

    /// Moves the calling thread into this namespace until the guard is dropped (or
    /// [`NsGuard::leave`] is called). Sockets the thread creates meanwhile, and threads it
    /// spawns, belong to this namespace.
    pub fn enter(&self) -> Result<NsGuard, LabError> {
        let original = File::open(THREAD_NETNS).map_err(os(format!("opening {THREAD_NETNS}")))?;
        let path = self.path();
        let target =
            File::open(&path).map_err(os(format!("opening {} (deleted?)", path.display())))?;
        setns(&target, CloneFlags::CLONE_NEWNET).map_err(|e| LabError::Os {
            what: format!("entering network namespace {}", self.name),
            source: e.into(),
        })?;
        Ok(NsGuard {
            original: Some(original),
            name: self.name.clone(),
            _per_thread: PhantomData,
        })
    }

    /// Runs `f` on a fresh thread inside this namespace and returns what it returns; a panic in
    /// `f` is passed on to the caller.
    pub fn run<T, F>(&self, f: F) -> Result<T, LabError>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        std::thread::scope(|s| {
            let worker = s.spawn(|| -> Result<T, LabError> {
                let guard = self.enter()?;
                let out = f();
                guard.leave()?;
                Ok(out)
            });
            match worker.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// The namespace's kernel UDP counters (`Udp:` of `/proc/net/snmp`, read from inside).
    pub fn udp_counters(&self) -> Result<UdpCounters, LabError> {
        let text = self
            .run(|| std::fs::read_to_string(THREAD_SNMP))?
            .map_err(os(format!("reading {THREAD_SNMP} in {}", self.name)))?;
        UdpCounters::parse(&text)
    }

    /// Runs `program args…` inside the namespace (`ip netns exec`); returns its output.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String, LabError> {
        let mut all = vec!["netns", "exec", &self.name, program];
        all.extend_from_slice(args);
        command("ip", &all, None)
    }

    /// The packet count of the named nftables counter `name` in `table` (family `inet`).
    pub fn nft_counter(&self, table: &str, name: &str) -> Result<u64, LabError> {
        let out = self.exec("nft", &["list", "counter", "inet", table, name])?;
        // `packets N bytes M`, somewhere in the listing.
        let mut words = out.split_whitespace();
        while let Some(w) = words.next() {
            if w == "packets" {
                if let Some(n) = words.next().and_then(|n| n.parse().ok()) {
                    return Ok(n);
                }
            }
        }
        Err(LabError::Parse(format!(
            "no packet count in the listing of counter {table}/{name}: {out}"
        )))
    }
}

/// The calling thread is inside a namespace until this is dropped, which moves it back where it
/// was. Not `Send`: a namespace belongs to a thread, and only that thread can leave it.
#[derive(Debug)]
pub struct NsGuard {
    /// The namespace the thread came from (`None` once restored).
    original: Option<File>,
    name: String,
    _per_thread: PhantomData<*const ()>,
}

impl NsGuard {
    fn restore(&mut self) -> Result<(), LabError> {
        match self.original.take() {
            Some(fd) => setns(&fd, CloneFlags::CLONE_NEWNET).map_err(|e| LabError::Os {
                what: format!("leaving network namespace {}", self.name),
                source: e.into(),
            }),
            None => Ok(()),
        }
    }

    /// Moves the thread back to the namespace it came from, saying whether that worked.
    pub fn leave(mut self) -> Result<(), LabError> {
        self.restore()
    }
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            // The thread is stuck in the wrong namespace: everything it does next would be
            // wrong, so this must not pass quietly (unless a panic is unwinding already).
            if std::thread::panicking() {
                eprintln!("lab: {e}");
            } else {
                panic!("lab: {e}");
            }
        }
    }
}

/// A namespace's kernel UDP counters (the `Udp:` lines of `/proc/net/snmp`, RFC 4113 names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpCounters {
    /// Datagrams delivered to sockets.
    pub in_datagrams: u64,
    /// Datagrams to a port with no socket.
    pub no_ports: u64,
    /// Datagrams that could not be delivered for other reasons (buffer full, bad checksum).
    pub in_errors: u64,
    /// Datagrams sent.
    pub out_datagrams: u64,
    /// Datagrams dropped because a socket's receive buffer was full.
    pub rcvbuf_errors: u64,
    /// Datagrams not sent because a socket's send buffer was full.
    pub sndbuf_errors: u64,
    /// Datagrams with a bad checksum.
    pub in_csum_errors: u64,
}

impl UdpCounters {
    /// Reads the `Udp:` header and value lines of `/proc/net/snmp` text.
    pub fn parse(snmp: &str) -> Result<UdpCounters, LabError> {
        let mut udp = snmp
            .lines()
            .filter_map(|l| l.strip_prefix("Udp:"))
            .map(str::split_whitespace);
        let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
            return Err(LabError::Parse("no Udp: lines in /proc/net/snmp".into()));
        };
        let mut c = UdpCounters::default();
        let mut seen = 0;
        for (name, value) in names.zip(values) {
            let field = match name {
                "InDatagrams" => &mut c.in_datagrams,
                "NoPorts" => &mut c.no_ports,
                "InErrors" => &mut c.in_errors,
                "OutDatagrams" => &mut c.out_datagrams,
                "RcvbufErrors" => &mut c.rcvbuf_errors,
                "SndbufErrors" => &mut c.sndbuf_errors,
                "InCsumErrors" => &mut c.in_csum_errors,
                _ => continue,
            };
            *field = value
                .parse()
                .map_err(|_| LabError::Parse(format!("Udp {name}: {value:?} is not a count")))?;
            seen += 1;
        }
        if seen < 7 {
            return Err(LabError::Parse(format!(
                "only {seen} of the 7 UDP counters in /proc/net/snmp"
            )));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    /// A lab with two namespaces joined by a veth, 198.18.100.1/30 — 198.18.100.2/30; `None`
    /// (said loudly) when this process may not create namespaces.
    fn two() -> Option<(Lab, Netns, Netns)> {
        let mut lab = Lab::new();
        let a = lab
            .namespace_or_skip("a")
            .unwrap_or_else(|e| panic!("{e}"))?;
        let b = lab.namespace("b").unwrap();
        lab.veth(&a, "to-b", &b, "to-a").unwrap();
        lab.address(&a, "to-b", "198.18.100.1/30").unwrap();
        lab.address(&b, "to-a", "198.18.100.2/30").unwrap();
        Some((lab, a, b))
    }

    #[test]
    fn only_the_lab_block_is_accepted() {
        for good in [
            "198.18.0.1/32",
            "198.19.255.254/24",
            "198.18.0.0/15",
            "198.18.7.7",
        ] {
            assert!(lab_cidr(good).is_ok(), "{good}");
        }
        for bad in [
            "10.0.0.1/24",
            "127.0.0.1",
            "198.17.255.255/32",
            "198.20.0.1/24",
            "198.18.0.0/14",
            "0.0.0.0/0",
            "198.18.0.1/33",
            "198.18.0.1/x",
            "default",
        ] {
            assert!(matches!(lab_cidr(bad), Err(LabError::Address(_))), "{bad}");
        }
        assert!(check_ifname("edge-out").is_ok());
        assert!(check_ifname("sixteen-chars-xx").is_err());
        assert!(check_ifname("a b").is_err());
    }

    #[test]
    fn snmp_udp_lines_parse() {
        let text = "Ip: Forwarding DefaultTTL\nIp: 2 64\n\
            Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors \
            InCsumErrors IgnoredMulti MemErrors\n\
            Udp: 10 3 2 9 1 0 0 0 0\n\
            UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors \
            InCsumErrors IgnoredMulti MemErrors\nUdpLite: 0 0 0 0 0 0 0 0 0\n";
        let c = UdpCounters::parse(text).unwrap();
        assert_eq!(
            c,
            UdpCounters {
                in_datagrams: 10,
                no_ports: 3,
                in_errors: 2,
                out_datagrams: 9,
                rcvbuf_errors: 1,
                sndbuf_errors: 0,
                in_csum_errors: 0,
            }
        );
        assert!(UdpCounters::parse("Ip: 1\n").is_err());
        assert!(UdpCounters::parse("Udp: NoPorts\nUdp: x\n").is_err());
    }

    #[test]
    fn udp_crosses_the_veth_and_counters_are_per_namespace() {
        let Some((_lab, a, b)) = two() else { return };
        let server = b
            .run(|| UdpSocket::bind("198.18.100.2:9000"))
            .unwrap()
            .unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let client = a
            .run(|| UdpSocket::bind("198.18.100.1:0"))
            .unwrap()
            .unwrap();
        let before = b.udp_counters().unwrap();
        client.send_to(b"hello", "198.18.100.2:9000").unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, client.local_addr().unwrap());
        // A port nobody listens on: counted in b, not in a.
        let a_before = a.udp_counters().unwrap();
        for _ in 0..3 {
            client.send_to(b"nobody", "198.18.100.2:9001").unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let after = loop {
            let c = b.udp_counters().unwrap();
            if c.no_ports >= before.no_ports + 3 || std::time::Instant::now() > deadline {
                break c;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(after.no_ports, before.no_ports + 3);
        assert_eq!(after.in_datagrams, before.in_datagrams + 1);
        assert_eq!(a.udp_counters().unwrap().no_ports, a_before.no_ports);
    }

    #[test]
    fn a_thread_enters_and_comes_back() {
        let Some((_lab, a, _b)) = two() else { return };
        let home = std::fs::read_link(THREAD_NETNS).unwrap();
        {
            let _inside = a.enter().unwrap();
            assert_ne!(std::fs::read_link(THREAD_NETNS).unwrap(), home);
            // The lab's address is local here, so it can be bound.
            assert!(UdpSocket::bind("198.18.100.1:0").is_ok());
        }
        assert_eq!(std::fs::read_link(THREAD_NETNS).unwrap(), home);
        let inside = a.run(|| std::fs::read_link(THREAD_NETNS).unwrap()).unwrap();
        assert_ne!(inside, home);
        assert_eq!(std::fs::read_link(THREAD_NETNS).unwrap(), home);
    }

    #[test]
    fn configuration_outside_the_lab_is_refused() {
        let Some((lab, a, b)) = two() else { return };
        assert!(matches!(
            lab.address(&a, "to-b", "10.1.2.3/24"),
            Err(LabError::Address(_))
        ));
        assert!(matches!(
            lab.route(&a, "198.18.5.0/24", Ipv4Addr::new(192, 168, 1, 1)),
            Err(LabError::Address(_))
        ));
        let stranger = Netns {
            name: format!("{PREFIX}not-ours"),
        };
        assert!(matches!(
            lab.address(&stranger, "eth0", "198.18.9.9/32"),
            Err(LabError::Name(_))
        ));
        // A failing command names itself and what it said.
        let e = lab.address(&b, "no-such-if", "198.18.9.9/32").unwrap_err();
        assert!(
            matches!(&e, LabError::Command { command, stderr, .. }
                if command.contains("no-such-if") && !stderr.is_empty()),
            "{e}"
        );
    }

    #[test]
    fn drop_deletes_exactly_the_lab_namespaces() {
        let Some((lab, a, b)) = two() else { return };
        let mut other = Lab::new();
        let c = other.namespace("c").unwrap();
        let live = live_namespaces().unwrap();
        for ns in [&a, &b, &c] {
            assert!(live.iter().any(|n| n == ns.name()), "{live:?}");
            assert!(ns.path().exists());
        }
        drop(lab);
        for ns in [&a, &b] {
            assert!(!ns.path().exists(), "{} left behind", ns.name());
        }
        assert!(c.path().exists(), "another lab's namespace was deleted");
        assert!(a.enter().is_err(), "a deleted namespace cannot be entered");
        drop(other);
        assert!(!c.path().exists());
    }
}
