//! What `lab up` made, and `lab.json`, its description for other tools (schema in the docs of
//! [`super`]).

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::config::User;
use super::plan::{self, Zone, DOMAIN, KAMAILIO};

/// Where the lab keeps its files.
#[derive(Clone, Debug)]
pub(crate) struct Paths {
    /// The repository's configuration files (`<workspace>/lab`).
    pub(crate) config_dir: PathBuf,
    /// `<workspace>/target/lab`: everything the lab writes.
    pub(crate) state_dir: PathBuf,
    /// Pid files and Kamailio's runtime files (`state_dir/run`).
    pub(crate) run_dir: PathBuf,
    /// One log per peer (`state_dir/logs`); kept after `lab down`.
    pub(crate) log_dir: PathBuf,
    /// The copy of Kamailio's db_text tables it runs on (`state_dir/kamailio/db`).
    pub(crate) db_dir: PathBuf,
    /// `state_dir/lab.json`.
    pub(crate) lab_json: PathBuf,
}

/// The longest path a unix socket may have (`sun_path` less the terminating zero).
const SUN_PATH_MAX: usize = 107;

impl Paths {
    /// The lab's paths for the workspace at `root`. The state lives under the workspace's own
    /// `target/` whatever `CARGO_TARGET_DIR` says: the lab is one per machine (its namespaces
    /// have fixed names), so every build must find the same pid files.
    pub(crate) fn new(root: &Path) -> Paths {
        let state_dir = root.join("target").join("lab");
        Paths {
            config_dir: root.join("lab"),
            run_dir: state_dir.join("run"),
            log_dir: state_dir.join("logs"),
            db_dir: state_dir.join("kamailio").join("db"),
            lab_json: state_dir.join("lab.json"),
            state_dir,
        }
    }

    pub(crate) fn pid_file(&self, peer: &str) -> PathBuf {
        self.run_dir.join(format!("{peer}.pid"))
    }

    /// Where the lab's E writes the TLS session keys of client connections (`SSLKEYLOGFILE`).
    pub(crate) fn e_tls_keylog(&self) -> PathBuf {
        self.run_dir.join("e-tls-keys.log")
    }

    pub(crate) fn log(&self, peer: &str) -> PathBuf {
        self.log_dir.join(format!("{peer}.log"))
    }

    /// Kamailio's ctl socket, as `kamcmd -s` takes it.
    pub(crate) fn kamailio_ctl(&self) -> String {
        format!("unix:{}", self.run_dir.join("kamailio_ctl").display())
    }

    /// `Err` when the ctl socket's path is too long for a unix socket.
    pub(crate) fn check(&self) -> Result<(), String> {
        let ctl = self.run_dir.join("kamailio_ctl");
        let len = ctl.as_os_str().len();
        if len > SUN_PATH_MAX {
            return Err(format!(
                "{} is {len} bytes, longer than a unix socket path may be ({SUN_PATH_MAX}); \
                 move the workspace to a shorter path",
                ctl.display()
            ));
        }
        Ok(())
    }
}

/// A peer the lab runs.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// `kamailio`, `dns-outside`, `dns-inside`: also the stem of its pid file and log.
    pub(crate) name: &'static str,
    /// The process name (`/proc/PID/comm`) its pid must have.
    pub(crate) comm: &'static str,
    pub(crate) zone: Zone,
    pub(crate) pid: Option<u32>,
}

/// The peers, in the order `lab up` starts them (DNS first: Kamailio's namespace resolves
/// through it).
pub(crate) fn peers() -> Vec<Peer> {
    let mut v: Vec<Peer> = plan::DNS
        .iter()
        .map(|d| Peer {
            name: dns_peer(d.view),
            comm: "dnsmasq",
            zone: d.zone,
            pid: None,
        })
        .collect();
    v.push(Peer {
        name: "kamailio",
        comm: "kamailio",
        zone: KAMAILIO.zone,
        pid: None,
    });
    // The edge's two roles, after call control: the C registers clients with it.
    v.push(Peer {
        name: "edge-e",
        comm: "edge",
        zone: Zone::Dmz,
        pid: None,
    });
    v.push(Peer {
        name: "edge-c",
        comm: "edge",
        zone: Zone::Inside,
        pid: None,
    });
    v
}

/// The edge's configuration file of a role (`e` or `c`) in the lab's configuration directory.
pub(crate) fn edge_config(paths: &Paths, role: &str) -> PathBuf {
    paths.config_dir.join("edge").join(format!("{role}.toml"))
}

/// The lab CA the edge makes on its first start (`tls.directory` of `lab/edge/*.toml`).
pub(crate) fn tls_dir(paths: &Paths) -> PathBuf {
    paths.state_dir.join("tls")
}

/// The edge's admin API inside each role's namespace.
pub(crate) const EDGE_ADMIN: &str = "127.0.0.1:8080";

/// The peer name of a DNS view.
pub(crate) fn dns_peer(view: &str) -> &'static str {
    match view {
        "outside" => "dns-outside",
        _ => "dns-inside",
    }
}

/// What a running lab is: the plan (in [`plan`]), the users, the peers' pids and the paths.
#[derive(Clone, Debug)]
pub(crate) struct LabInfo {
    pub(crate) paths: Paths,
    pub(crate) users: Vec<User>,
    pub(crate) peers: Vec<Peer>,
    /// The edge binary the lab runs.
    pub(crate) edge: Option<PathBuf>,
}

fn path(p: &Path) -> Value {
    Value::String(p.display().to_string())
}

fn ports_json(p: &plan::Ports) -> Value {
    json!({
        "from": p.from.map(|a| a.to_string()),
        "to": p.to.map(|a| a.to_string()),
        "tcp": p.tcp,
        "udp": p.udp.iter().map(|&(lo, hi)| json!([lo, hi])).collect::<Vec<_>>(),
    })
}

impl LabInfo {
    pub(crate) fn peer(&self, name: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.name == name)
    }

    fn edge_role(&self, role: &str, peer: &str, zone: Zone, extra: Value) -> Value {
        let paths = &self.paths;
        let mut v = json!({
            "zone": zone.name(),
            "namespace": zone.namespace(),
            "config": path(&edge_config(paths, role)),
            "admin": EDGE_ADMIN,
            "pid": self.peer(peer).and_then(|p| p.pid),
            "pid_file": path(&paths.pid_file(peer)),
            "log": path(&paths.log(peer)),
            "command": self.edge.as_ref().map(|e| json!([
                "ip", "netns", "exec", zone.namespace(), e.display().to_string(),
                "run", "--config", edge_config(paths, role).display().to_string(),
            ])),
        });
        if let (Value::Object(m), Value::Object(more)) = (&mut v, extra) {
            m.extend(more);
        }
        v
    }

    /// `lab.json` (schema in the docs of [`super`]).
    pub(crate) fn to_json(&self) -> Value {
        let paths = &self.paths;
        let mut zones = Map::new();
        for zone in Zone::ALL {
            let interfaces: Vec<Value> = plan::LINKS
                .iter()
                .flat_map(|l| [(l.a, l.b, l.network), (l.b, l.a, l.network)])
                .filter(|(end, _, _)| end.zone == zone)
                .map(|(end, peer, network)| {
                    json!({
                        "name": end.ifname,
                        "network": network.to_string(),
                        "addresses": plan::addresses(zone, end.ifname)
                            .iter()
                            .map(|a| format!("{a}/{}", network.len))
                            .collect::<Vec<_>>(),
                        "peer": {"zone": peer.zone.name(), "namespace": peer.zone.namespace(),
                                 "interface": peer.ifname},
                    })
                })
                .collect();
            let routes: Vec<Value> = plan::ROUTES
                .iter()
                .filter(|r| r.zone == zone)
                .map(|r| json!({"to": r.to.to_string(), "via": r.via.to_string()}))
                .collect();
            let (family, table) = plan::NFT_TABLE;
            zones.insert(
                zone.name().into(),
                json!({
                    "namespace": zone.namespace(),
                    "role": zone.role(),
                    "dns": zone.dns().addr().to_string(),
                    "resolv_conf": path(&super::resolv_conf(zone)),
                    "interfaces": interfaces,
                    "routes": routes,
                    "nftables": {
                        "ruleset": path(&paths.config_dir.join("nftables").join(zone.ruleset())),
                        "table": format!("{family} {table}"),
                        "counters": zone.counters(),
                    },
                }),
            );
        }
        let hosts: Map<String, Value> = plan::HOSTS
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    json!({
                        "zone": h.zone.name(),
                        "namespace": h.zone.namespace(),
                        "interface": h.ifname,
                        "address": h.addr.to_string(),
                        "name": h.name,
                        "role": h.role,
                    }),
                )
            })
            .collect();
        let ports: Map<String, Value> = plan::PORTS
            .iter()
            .map(|p| (p.key.to_string(), ports_json(p)))
            .collect();
        let dns: Map<String, Value> = plan::DNS
            .iter()
            .map(|d| {
                let peer = dns_peer(d.view);
                let serves: Vec<&str> = Zone::ALL
                    .iter()
                    .filter(|z| z.dns().view == d.view)
                    .map(|z| z.name())
                    .collect();
                (
                    d.view.to_string(),
                    json!({
                        "zone": d.zone.name(),
                        "namespace": d.zone.namespace(),
                        "address": d.addr().to_string(),
                        "port": d.port,
                        "serves": serves,
                        "srv": d.srv.iter().map(|(n, t, p)| json!({"name": n, "target": t, "port": p}))
                            .collect::<Vec<_>>(),
                        "absent": d.absent,
                        "config": path(&paths.config_dir.join("dnsmasq").join(d.config)),
                        "pid": self.peer(peer).and_then(|p| p.pid),
                        "pid_file": path(&paths.pid_file(peer)),
                        "log": path(&paths.log(peer)),
                    }),
                )
            })
            .collect();
        let kamailio_name = plan::host(KAMAILIO.host).and_then(|h| h.name);
        let (family, table) = plan::NFT_TABLE;
        json!({
            "schema": 1,
            "domain": DOMAIN,
            "block": plan::BLOCK.to_string(),
            "zones": zones,
            "hosts": hosts,
            "ports": ports,
            "dns": dns,
            "kamailio": {
                "zone": KAMAILIO.zone.name(),
                "namespace": KAMAILIO.zone.namespace(),
                "address": KAMAILIO.addr().to_string(),
                "name": kamailio_name,
                "udp": KAMAILIO.udp,
                "tcp": KAMAILIO.tcp,
                "tls": {"port": KAMAILIO.tls, "enabled": false},
                "config": path(&paths.config_dir.join(super::config::KAMAILIO_CFG)),
                "db": path(&paths.db_dir),
                "ctl": paths.kamailio_ctl(),
                "pid": self.peer("kamailio").and_then(|p| p.pid),
                "pid_file": path(&paths.pid_file("kamailio")),
                "log": path(&paths.log("kamailio")),
            },
            "users": self.users.iter().map(|u| json!({
                "username": u.username,
                "password": u.password,
                "domain": u.domain,
                "aor": format!("sip:{}@{}", u.username, u.domain),
            })).collect::<Vec<_>>(),
            "counters": {
                "dmz_to_inside_new": {
                    "namespace": Zone::Inside.namespace(),
                    "table": format!("{family} {table}"),
                    "counter": "dmz_new_dropped",
                    "expect": 0,
                },
            },
            "ca": {
                "certificate": path(&tls_dir(paths).join("ca.pem")),
                "key": path(&tls_dir(paths).join("ca.key")),
                "note": "the lab CA the edge made; clients trust it for expe.example.test",
            },
            "edge": {
                "binary": self.edge.as_ref().map(|p| path(p)),
                "e": self.edge_role("e", "edge-e", Zone::Dmz, json!({
                    "fqdn": "expe.example.test",
                    "sip_tls": "198.18.1.1:5061",
                    "traversal_sip": "198.18.2.1:7001",
                    "certificate": path(&tls_dir(paths).join("e.pem")),
                    "tls_keylog": path(&paths.e_tls_keylog()),
                })),
                "c": self.edge_role("c", "edge-c", Zone::Inside, json!({
                    "fqdn": "expc.example.test",
                    "sip_listen": "198.18.2.10:5060",
                    "call_control": format!("{}:{}", KAMAILIO.addr(), KAMAILIO.tcp),
                    "registration": "contact-rewrite",
                    "certificate": path(&tls_dir(paths).join("c.pem")),
                })),
            },
            "paths": {
                "config_dir": path(&paths.config_dir),
                "state_dir": path(&paths.state_dir),
                "run_dir": path(&paths.run_dir),
                "log_dir": path(&paths.log_dir),
                "lab_json": path(&paths.lab_json),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> LabInfo {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let paths = Paths::new(&root);
        let users = super::super::config::users(&paths.config_dir).unwrap();
        let mut peers = peers();
        for (i, p) in peers.iter_mut().enumerate() {
            p.pid = Some(100 + i as u32);
        }
        LabInfo {
            paths,
            users,
            peers,
            edge: Some(PathBuf::from("/w/target/debug/edge")),
        }
    }

    #[test]
    fn lab_json_holds_the_documented_keys() {
        let j = info().to_json();
        for key in [
            "schema", "domain", "block", "zones", "hosts", "ports", "dns", "kamailio", "users",
            "counters", "ca", "edge", "paths",
        ] {
            assert!(j.get(key).is_some(), "no {key}");
        }
        assert_eq!(j["domain"], "example.test");
        assert_eq!(j["zones"]["dmz"]["namespace"], "portico-dmz");
        assert_eq!(j["zones"]["inside"]["dns"], "198.18.2.53");
        assert_eq!(j["zones"]["dmz"]["dns"], "198.18.1.53");
        let dmz_ifs = j["zones"]["dmz"]["interfaces"].as_array().unwrap();
        assert_eq!(dmz_ifs.len(), 2);
        assert_eq!(dmz_ifs[0]["name"], "to-internet");
        assert_eq!(dmz_ifs[0]["addresses"][0], "198.18.1.1/24");
        assert_eq!(dmz_ifs[0]["peer"]["namespace"], "portico-internet");
        assert_eq!(j["zones"]["internet"]["routes"][0]["via"], "198.18.1.1");
        assert_eq!(j["kamailio"]["address"], "198.18.2.20");
        assert_eq!(j["kamailio"]["udp"], 5060);
        assert_eq!(j["kamailio"]["pid"], 102);
        assert_eq!(j["dns"]["outside"]["pid"], 100);
        assert_eq!(j["dns"]["inside"]["serves"], json!(["inside"]));
        assert_eq!(j["dns"]["outside"]["serves"], json!(["internet", "dmz"]));
        assert_eq!(j["users"][0]["username"], "alice");
        assert_eq!(j["users"][0]["aor"], "sip:alice@example.test");
        assert_eq!(
            j["ports"]["internet_to_dmz"]["tcp"],
            json!([5061, 8443, 5222])
        );
        assert_eq!(j["ports"]["inside_to_dmz"]["udp"], json!([[36000, 59999]]));
        assert_eq!(j["ports"]["dmz_to_inside"]["tcp"], json!([]));
        assert_eq!(j["hosts"]["expc"]["address"], "198.18.2.10");
        assert!(j["ca"]["certificate"]
            .as_str()
            .unwrap()
            .ends_with("target/lab/tls/ca.pem"));
        assert_eq!(j["edge"]["e"]["namespace"], "portico-dmz");
        assert_eq!(j["edge"]["e"]["sip_tls"], "198.18.1.1:5061");
        assert_eq!(j["edge"]["e"]["pid"], 103);
        assert_eq!(j["edge"]["c"]["namespace"], "portico-inside");
        assert_eq!(j["edge"]["c"]["pid"], 104);
        assert_eq!(j["edge"]["c"]["admin"], "127.0.0.1:8080");
        assert_eq!(j["edge"]["c"]["command"][3], "portico-inside");
        assert!(j["edge"]["c"]["config"]
            .as_str()
            .unwrap()
            .ends_with("lab/edge/c.toml"));
        assert!(j["kamailio"]["ctl"].as_str().unwrap().starts_with("unix:/"));
    }

    #[test]
    fn paths_stay_under_the_workspace() {
        let p = Paths::new(Path::new("/w"));
        assert_eq!(p.lab_json, Path::new("/w/target/lab/lab.json"));
        assert_eq!(
            p.pid_file("kamailio"),
            Path::new("/w/target/lab/run/kamailio.pid")
        );
        assert_eq!(p.kamailio_ctl(), "unix:/w/target/lab/run/kamailio_ctl");
        assert!(p.check().is_ok());
        assert!(Paths::new(&Path::new("/").join("x".repeat(120)))
            .check()
            .is_err());
    }
}
