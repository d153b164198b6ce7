//! The lab's network: namespaces, veths, addresses, routes, sysctls and rulesets, made with
//! `ip` (iproute2), `sysctl` (procps) and `nft` (nftables) after the plan, and removed by name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::plan::{self, Zone};
use super::LabError;

/// Where iproute2 keeps named network namespaces.
pub(crate) const NETNS_DIR: &str = "/run/netns";

/// Runs `program args…` (feeding it `stdin` if given); its standard output, or the command,
/// status and standard error when it fails.
pub(crate) fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, LabError> {
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
        .map_err(|source| LabError::Io {
            what: format!("starting `{line}`"),
            source,
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| LabError::Io {
                what: format!("writing to `{line}`"),
                source,
            })?;
    }
    let out = child.wait_with_output().map_err(|source| LabError::Io {
        what: format!("waiting for `{line}`"),
        source,
    })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: line,
            status: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip(args: &[&str]) -> Result<String, LabError> {
    run("ip", args, None)
}

/// `ip netns exec NS program args…`.
pub(crate) fn exec(ns: &str, program: &str, args: &[&str]) -> Result<String, LabError> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    ip(&all)
}

/// Whether the named namespace exists.
pub(crate) fn exists(ns: &str) -> bool {
    Path::new(NETNS_DIR).join(ns).exists()
}

/// Makes the zone's namespace: loopback up, IPv6 off (the guide supports IPv4 only for MRA, and
/// no address may leak outside the plan), forwarding off (no zone routes for another).
pub(crate) fn create_zone(zone: Zone) -> Result<(), LabError> {
    let ns = zone.namespace();
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    exec(
        ns,
        "sysctl",
        &[
            "-q",
            "-w",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
            "net.ipv6.conf.lo.disable_ipv6=1",
            "net.ipv4.ip_forward=0",
        ],
    )?;
    Ok(())
}

/// Makes the veth links, their addresses (in plan order: the first is the primary one) and the
/// routes.
pub(crate) fn wire() -> Result<(), LabError> {
    for l in &plan::LINKS {
        ip(&[
            "-n",
            l.a.zone.namespace(),
            "link",
            "add",
            l.a.ifname,
            "type",
            "veth",
            "peer",
            "name",
            l.b.ifname,
            "netns",
            l.b.zone.namespace(),
        ])?;
        for end in [l.a, l.b] {
            let ns = end.zone.namespace();
            for a in plan::addresses(end.zone, end.ifname) {
                let cidr = format!("{a}/{}", l.network.len);
                ip(&["-n", ns, "addr", "add", &cidr, "dev", end.ifname])?;
            }
            ip(&["-n", ns, "link", "set", end.ifname, "up"])?;
        }
    }
    for r in &plan::ROUTES {
        let to = r.to.to_string();
        let via = r.via.to_string();
        ip(&["-n", r.zone.namespace(), "route", "add", &to, "via", &via])?;
    }
    Ok(())
}

/// Loads the zone's ruleset (`nft -f`; the file flushes the namespace's ruleset first).
pub(crate) fn load_ruleset(zone: Zone, config_dir: &Path) -> Result<(), LabError> {
    let file = config_dir.join("nftables").join(zone.ruleset());
    let file = file.to_string_lossy();
    exec(zone.namespace(), "nft", &["-f", &file]).map(drop)
}

/// Whether the zone's table is loaded.
pub(crate) fn ruleset_loaded(zone: Zone) -> bool {
    let (family, table) = plan::NFT_TABLE;
    exec(zone.namespace(), "nft", &["list", "table", family, table]).is_ok()
}

/// The packet count of a named counter of the zone's table.
pub(crate) fn counter(zone: Zone, name: &str) -> Result<u64, LabError> {
    let (family, table) = plan::NFT_TABLE;
    let out = exec(
        zone.namespace(),
        "nft",
        &["list", "counter", family, table, name],
    )?;
    parse_packets(&out).ok_or_else(|| LabError::Config(format!("no packet count in {out:?}")))
}

/// `packets N` out of an `nft list counter` listing.
pub(crate) fn parse_packets(listing: &str) -> Option<u64> {
    let mut words = listing.split_whitespace();
    while let Some(w) = words.next() {
        if w == "packets" {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// `/etc/netns/<namespace>/resolv.conf`: `ip netns exec` mounts it over `/etc/resolv.conf`, so
/// every program run in the zone asks the zone's DNS.
pub(crate) fn resolv_conf(zone: Zone) -> PathBuf {
    Path::new("/etc/netns")
        .join(zone.namespace())
        .join("resolv.conf")
}

pub(crate) fn write_resolv_conf(zone: Zone) -> Result<(), LabError> {
    let file = resolv_conf(zone);
    let io = |what: String| move |source| LabError::Io { what, source };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let text = format!(
        "# portico lab, zone {}: written by `cargo xtask lab up`, removed by `lab down`\n\
         nameserver {}\nsearch {}\noptions timeout:1 attempts:2\n",
        zone.name(),
        zone.dns().addr(),
        plan::DOMAIN
    );
    std::fs::write(&file, text).map_err(io(format!("writing {}", file.display())))
}

/// Removes the zone's `/etc/netns/<namespace>/` (only the lab's file in it, then the directory
/// when empty).
pub(crate) fn remove_resolv_conf(zone: Zone) -> Result<bool, LabError> {
    let file = resolv_conf(zone);
    let removed = match std::fs::remove_file(&file) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(source) => {
            return Err(LabError::Io {
                what: format!("removing {}", file.display()),
                source,
            })
        }
    };
    if let Some(dir) = file.parent() {
        // Only when empty: another tool's files there are not ours.
        let _ = std::fs::remove_dir(dir);
    }
    Ok(removed)
}

/// The pids of the processes in the namespace (`ip netns pids`).
pub(crate) fn pids_in(ns: &str) -> Result<Vec<u32>, LabError> {
    let out = ip(&["netns", "pids", ns])?;
    Ok(out
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect())
}

/// Deletes the namespace by name (its veths go with it).
pub(crate) fn delete(ns: &str) -> Result<(), LabError> {
    ip(&["netns", "delete", ns]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_listings_parse() {
        let listing = "table inet portico {\n\tcounter dmz_new_dropped {\n\t\tcomment \"x\"\n\t\tpackets 3 bytes 180\n\t}\n}\n";
        assert_eq!(parse_packets(listing), Some(3));
        assert_eq!(parse_packets("packets"), None);
        assert_eq!(parse_packets("packets x"), None);
    }

    #[test]
    fn resolv_conf_is_per_namespace() {
        assert_eq!(
            resolv_conf(Zone::Inside),
            Path::new("/etc/netns/portico-inside/resolv.conf")
        );
    }
}
