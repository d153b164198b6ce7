//! The machine's one lab from a test: `cargo xtask lab up|status|down` (run with the cargo that
//! runs the tests), serialised by a file lock, and `lab.json` read back.

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::kamailio::ul_dump;
use super::process::{poll, tail};
use super::{ClientConfig, Transport};

/// The lab's namespaces: one of them existing means a lab is up or on its way.
const NAMESPACES: [&str; 3] = ["portico-internet", "portico-dmz", "portico-inside"];

/// Kamailio as lab.json describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KamailioInfo {
    /// The namespace it runs in.
    pub namespace: String,
    /// Its address (198.18.2.20).
    pub address: Ipv4Addr,
    /// Its UDP port.
    pub udp: u16,
    /// Its TCP port.
    pub tcp: u16,
    /// Its TLS port (listening only when `tls_enabled`).
    pub tls: u16,
    /// Whether it listens for TLS.
    pub tls_enabled: bool,
    /// Its ctl socket for `kamcmd -s` (`unix:/…/kamailio_ctl`).
    pub ctl: String,
    /// Its configuration file.
    pub config: PathBuf,
    /// The db_text directory it runs on.
    pub db: PathBuf,
    /// Its log.
    pub log: PathBuf,
}

/// A user of the lab (lab.json `users`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabUser {
    /// `alice`.
    pub username: String,
    /// Its digest password.
    pub password: String,
    /// `example.test`.
    pub domain: String,
    /// `sip:alice@example.test`.
    pub aor: String,
}

/// A host of the lab (lab.json `hosts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabHost {
    /// Its key: `client_a`, `client_b`, `phone`, `cucm`, …
    pub key: String,
    /// The namespace it lives in.
    pub namespace: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// Its DNS name, if it has one.
    pub name: Option<String>,
}

/// What the tests need of `lab.json` (schema 1, documented in `xtask/src/lab.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabInfo {
    /// The file it was read from.
    pub path: PathBuf,
    /// `example.test`.
    pub domain: String,
    /// The lab's configuration directory (`<workspace>/lab`).
    pub config_dir: PathBuf,
    /// Kamailio.
    pub kamailio: KamailioInfo,
    /// The SIP users.
    pub users: Vec<LabUser>,
    /// The hosts.
    pub hosts: Vec<LabHost>,
    /// The lab CA's certificate, once the lab has one (`ca.certificate`).
    pub ca_certificate: Option<PathBuf>,
}

fn field<'a>(v: &'a Value, path: &str) -> Result<&'a Value, String> {
    path.split('.')
        .try_fold(v, |v, key| v.get(key))
        .ok_or_else(|| format!("lab.json: no {path}"))
}

fn string(v: &Value, path: &str) -> Result<String, String> {
    field(v, path)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("lab.json: {path} is not a string"))
}

fn port(v: &Value, path: &str) -> Result<u16, String> {
    field(v, path)?
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("lab.json: {path} is not a port"))
}

fn address(v: &Value, path: &str) -> Result<Ipv4Addr, String> {
    let s = string(v, path)?;
    s.parse()
        .map_err(|_| format!("lab.json: {path} {s:?} is not an IPv4 address"))
}

impl LabInfo {
    /// Reads `lab.json`.
    pub fn load(path: &Path) -> Result<LabInfo, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
        let kamailio = KamailioInfo {
            namespace: string(&v, "kamailio.namespace")?,
            address: address(&v, "kamailio.address")?,
            udp: port(&v, "kamailio.udp")?,
            tcp: port(&v, "kamailio.tcp")?,
            tls: port(&v, "kamailio.tls.port")?,
            tls_enabled: field(&v, "kamailio.tls.enabled")?.as_bool() == Some(true),
            ctl: string(&v, "kamailio.ctl")?,
            config: string(&v, "kamailio.config")?.into(),
            db: string(&v, "kamailio.db")?.into(),
            log: string(&v, "kamailio.log")?.into(),
        };
        let users = field(&v, "users")?
            .as_array()
            .ok_or("lab.json: users is not a list")?
            .iter()
            .map(|u| {
                Ok(LabUser {
                    username: string(u, "username")?,
                    password: string(u, "password")?,
                    domain: string(u, "domain")?,
                    aor: string(u, "aor")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let hosts = field(&v, "hosts")?
            .as_object()
            .ok_or("lab.json: hosts is not an object")?
            .iter()
            .map(|(key, h)| {
                Ok(LabHost {
                    key: key.clone(),
                    namespace: string(h, "namespace")?,
                    address: address(h, "address")?,
                    name: h.get("name").and_then(Value::as_str).map(str::to_string),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(LabInfo {
            path: path.to_path_buf(),
            domain: string(&v, "domain")?,
            config_dir: string(&v, "paths.config_dir")?.into(),
            kamailio,
            users,
            hosts,
            ca_certificate: field(&v, "ca.certificate")
                .ok()
                .and_then(Value::as_str)
                .map(PathBuf::from),
        })
    }

    /// The host with lab.json key `key` (`phone`, `client_a`, …).
    pub fn host(&self, key: &str) -> Result<&LabHost, String> {
        self.hosts.iter().find(|h| h.key == key).ok_or_else(|| {
            let keys: Vec<&str> = self.hosts.iter().map(|h| h.key.as_str()).collect();
            format!("lab.json has no host {key:?} (has {keys:?})")
        })
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Result<&LabUser, String> {
        self.users
            .iter()
            .find(|u| u.username == name)
            .ok_or_else(|| format!("lab.json has no user {name:?}"))
    }

    /// `lab.json` as it is now (read again: `lab start` rewrites it).
    pub fn json(&self) -> Result<Value, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("reading {}: {e}", self.path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", self.path.display()))
    }

    /// The lab's `edge` binary.
    pub fn edge_binary(&self) -> Result<PathBuf, String> {
        self.json()?["edge"]["binary"]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| "lab.json: no edge.binary".to_string())
    }

    /// `edge status` of the lab's E or C (`role` `e` or `c`), run in its namespace: its JSON.
    pub fn edge_status(&self, role: &str) -> Result<Value, String> {
        let j = self.json()?;
        let text = |k: &str| {
            j["edge"][role][k]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("lab.json: no edge.{role}.{k}"))
        };
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &text("namespace")?])
            .arg(self.edge_binary()?)
            .args(["status", "--admin", &text("admin")?])
            .output()
            .map_err(|e| format!("edge status ({role}): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "edge status ({role}): {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("edge status ({role}): {e}"))
    }

    /// Kamailio's address for `transport` (TLS: its TLS port, listening or not).
    pub fn kamailio_addr(&self, transport: Transport) -> SocketAddrV4 {
        let k = &self.kamailio;
        let port = match transport {
            Transport::Udp => k.udp,
            Transport::Tcp => k.tcp,
            Transport::Tls => k.tls,
        };
        SocketAddrV4::new(k.address, port)
    }

    /// A client on lab host `host` as lab user `user`, registering directly with Kamailio over
    /// `transport` (for TLS, add the trust with [`ClientConfig::tls`]).
    pub fn client(
        &self,
        host: &str,
        user: &str,
        transport: Transport,
    ) -> Result<ClientConfig, String> {
        let h = self.host(host)?;
        let u = self.user(user)?;
        Ok(ClientConfig::new(
            &h.namespace,
            h.address,
            &u.username,
            &u.password,
            self.kamailio_addr(transport),
            transport,
        )
        .domain(&u.domain))
    }
}

/// The workspace root (this crate is `<root>/tests`).
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Whether the effective user is root (`Uid:` of `/proc/self/status`: real, effective, …).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
            .unwrap_or(false)
    })
}

/// `cargo run -q -p xtask -- lab ARG` from the workspace root: success and what it printed.
fn xtask_lab(root: &Path, arg: &str) -> Result<(bool, String), String> {
    // The cargo running the tests (it sets CARGO), with the same CARGO_TARGET_DIR.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(&cargo)
        .args(["run", "-q", "-p", "xtask", "--", "lab", arg])
        .current_dir(root)
        .output()
        .map_err(|e| format!("running {cargo} run -p xtask -- lab {arg}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// The lab, held by one test at a time. See the [module docs](super).
///
/// [`Lab::up`] takes an exclusive lock on `<workspace>/target/lab/clients.lock` (tests of every
/// binary and thread take turns), then uses the lab if it is up — `lab status` says so, or
/// lab.json is there and its Kamailio answers `kamcmd` — leaving it up afterwards (it may be
/// someone else's); a lab whose namespaces exist but is not up yet gets 20 s to come up. Else it
/// runs `lab up` (which cleans up leftovers first) and `lab down` when dropped.
#[derive(Debug)]
pub struct Lab {
    info: LabInfo,
    root: PathBuf,
    owned: bool,
    _lock: File,
}

impl Lab {
    /// The lab, up (see the type's docs). Needs root.
    pub fn up() -> Result<Lab, String> {
        if !is_root() {
            return Err("the lab needs root (network namespaces)".to_string());
        }
        let root = workspace_root();
        let state = root.join("target").join("lab");
        std::fs::create_dir_all(&state)
            .map_err(|e| format!("creating {}: {e}", state.display()))?;
        let lock_path = state.join("clients.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("opening {}: {e}", lock_path.display()))?;
        lock.lock()
            .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
        let lab_json = state.join("lab.json");
        // Up: `lab status` says so, or (a lab whose newer parts are unwell) lab.json is there and
        // its Kamailio answers on ctl: all that the clients need.
        let usable = || {
            (xtask_lab(&root, "status").is_ok_and(|(ok, _)| ok) && lab_json.exists())
                || LabInfo::load(&lab_json).is_ok_and(|i| ul_dump(&i.kamailio.ctl).is_ok())
        };
        let mut up = usable();
        if !up
            && NAMESPACES
                .iter()
                .any(|n| Path::new("/run/netns").join(n).exists())
        {
            // Someone may be bringing it up (or down): give them time before `lab up`, which
            // cleans up whatever it finds.
            up = poll(Duration::from_secs(20), Duration::from_secs(1), || {
                usable().then_some(())
            })
            .is_some();
        }
        let owned = !up;
        if owned {
            let (ok, text) = xtask_lab(&root, "up")?;
            if !ok {
                return Err(format!("cargo xtask lab up failed:\n{}", tail(&text, 40)));
            }
        } else {
            eprintln!("clients: using the lab that is up already (leaving it up)");
        }
        let info = LabInfo::load(&lab_json)?;
        Ok(Lab {
            info,
            root,
            owned,
            _lock: lock,
        })
    }

    /// [`Lab::up`], or `Ok(None)` without root after saying `SKIPPED <test>: …` on stderr (the
    /// calling test cannot run here and returns).
    pub fn up_or_skip() -> Result<Option<Lab>, String> {
        if !is_root() {
            // Straight to stderr, past the harness's capture (it takes only `eprintln!`): a
            // skipped test must not pass unnoticed.
            let thread = std::thread::current();
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {}: the lab needs root (network namespaces); run the tests as root",
                thread.name().unwrap_or("a test")
            );
            return Ok(None);
        }
        Lab::up().map(Some)
    }

    /// What lab.json says.
    pub fn info(&self) -> &LabInfo {
        &self.info
    }

    /// Whether this brought the lab up (and takes it down when dropped).
    pub fn owned(&self) -> bool {
        self.owned
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned {
            match xtask_lab(&self.root, "down") {
                Ok((true, _)) => {}
                Ok((false, text)) => eprintln!("clients: lab down failed:\n{text}"),
                Err(e) => eprintln!("clients: {e}"),
            }
        }
    }
}
