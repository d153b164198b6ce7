//! XDP for `edge relay`: the options, loading and attaching the program, and its part of the
//! control protocol (`ban`, `unban`, the `xdp` object of `info`).
//!
//! When XDP cannot run (no `CAP_BPF`, a driver without it, an old kernel) the relay runs
//! without it and says why, in its log and in `info`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ebpf::{AttachMode, Verdict, XdpConfig, XdpPortTable, XdpSteering};
use media::runtime::PlaneConfig;
use serde_json::{json, Value};

/// The XDP options of `edge relay`.
#[derive(Debug, Clone)]
pub(crate) struct XdpOptions {
    /// Interfaces to attach to (none: no XDP).
    pub(crate) interfaces: Vec<String>,
    pub(crate) mode: AttachMode,
    /// Per-source packets per second to the media range, and the burst; 0: no limit.
    pub(crate) rate: (u32, u32),
    pub(crate) steering: bool,
}

impl Default for XdpOptions {
    fn default() -> Self {
        XdpOptions {
            interfaces: Vec::new(),
            mode: AttachMode::Auto,
            rate: (0, 0),
            steering: true,
        }
    }
}

impl XdpOptions {
    /// Takes the option `flag` (with its value) if it is an XDP option; `Ok(false)` if not.
    pub(crate) fn take<'a>(
        &mut self,
        flag: &str,
        value: &mut impl Iterator<Item = &'a String>,
    ) -> Result<bool, String> {
        let mut v = || {
            value
                .next()
                .ok_or_else(|| format!("relay: {flag} needs a value"))
        };
        match flag {
            "--xdp" => {
                let v = v()?;
                self.interfaces = v
                    .split(',')
                    .map(|i| i.trim().to_string())
                    .filter(|i| !i.is_empty())
                    .collect();
                if self.interfaces.is_empty() {
                    return Err(format!("relay: --xdp {v:?}: expected IFACE[,IFACE…]"));
                }
            }
            "--xdp-mode" => {
                self.mode = match v()?.as_str() {
                    "auto" => AttachMode::Auto,
                    "native" => AttachMode::Native,
                    "generic" => AttachMode::Generic,
                    other => {
                        return Err(format!(
                            "relay: --xdp-mode {other:?}: expected auto, native or generic"
                        ))
                    }
                }
            }
            "--xdp-rate" => {
                let v = v()?;
                let bad = || format!("relay: --xdp-rate {v:?}: expected PPS or PPS:BURST");
                let (pps, burst) = match v.split_once(':') {
                    Some((p, b)) => (p.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
                    None => {
                        let p: u32 = v.parse().map_err(|_| bad())?;
                        (p, p)
                    }
                };
                self.rate = (pps, burst);
            }
            "--no-steering" => self.steering = false,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The program loaded, attached and following the plane's ports; or why not.
pub(crate) enum Xdp {
    On(Arc<XdpPortTable>),
    Off(String),
}

/// Loads the program for the plane `plane` will be, and attaches it. Steering needs every
/// worker pinned to a CPU: otherwise the program filters but does not steer.
pub(crate) fn start(o: &XdpOptions, plane: &PlaneConfig) -> Xdp {
    if o.interfaces.is_empty() {
        return Xdp::Off("not asked for (--xdp IFACE)".into());
    }
    let cpus: Option<Vec<u32>> = plane
        .cores
        .iter()
        .map(|c| c.and_then(|c| u32::try_from(c).ok()))
        .collect();
    let steering = o.steering && cpus.is_some();
    let cfg = XdpConfig {
        media_range: (plane.ports.range.first, plane.ports.range.last),
        steering,
        rate_pps: o.rate.0,
        rate_burst: o.rate.1,
        cpus: cpus.unwrap_or_default(),
        ..XdpConfig::default()
    };
    let mut xdp = match XdpSteering::load(&cfg) {
        Ok(x) => x,
        Err(e) => return Xdp::Off(e.to_string()),
    };
    for iface in &o.interfaces {
        if let Err(e) = xdp.attach(iface, o.mode) {
            return Xdp::Off(format!("attaching to {iface}: {e}"));
        }
    }
    Xdp::On(Arc::new(XdpPortTable::new(xdp)))
}

/// One line for the log.
pub(crate) fn describe(x: &Xdp) -> String {
    match x {
        Xdp::Off(why) => format!("running without XDP: {why}"),
        Xdp::On(t) => {
            let s = t.steering();
            let on: Vec<String> = s
                .attached()
                .iter()
                .map(|(i, m)| format!("{i} ({})", m.label()))
                .collect();
            let c = s.config();
            format!(
                "XDP on {}: media range {}-{}, steering {}, rate limit {}",
                on.join(", "),
                c.media_first,
                c.media_last,
                if c.steering != 0 { "on" } else { "off" },
                if c.rate_pps == 0 {
                    "off".to_string()
                } else {
                    format!("{} pps (burst {})", c.rate_pps, c.rate_burst)
                }
            )
        }
    }
}

/// The `xdp` object of `info`.
pub(crate) fn info(x: &Xdp) -> Value {
    match x {
        Xdp::Off(why) => json!({"on": false, "why": why}),
        Xdp::On(t) => {
            let s = t.steering();
            let attached: Vec<Value> = s
                .attached()
                .iter()
                .map(|(i, m)| json!({"interface": i, "mode": m.label()}))
                .collect();
            let mut packets = serde_json::Map::new();
            let mut verdicts = serde_json::Map::new();
            if let Ok(c) = s.counters() {
                for r in c.iter().filter(|r| r.total.packets > 0) {
                    packets.insert(r.reason.label().to_string(), json!(r.total.packets));
                }
                for v in [Verdict::Redirect, Verdict::Pass, Verdict::Drop] {
                    verdicts.insert(v.label().to_string(), json!(c.verdict_total(v).packets));
                }
            }
            let (runs, run_time) = s.run_stats().unwrap_or_default();
            json!({
                "on": true,
                "program_runs": runs,
                "program_run_ns": run_time.as_nanos() as u64,
                "attached": attached,
                "steering": s.config().steering != 0,
                "packets": packets,
                "verdicts": verdicts,
                "port_write_errors": t.write_errors(),
            })
        }
    }
}

/// `ban` and `unban`: `{"op":"ban","ip":"198.18.0.9","seconds":600}`, `{"op":"unban","ip":…}`.
pub(crate) fn ban(x: &Xdp, req: &Value, on: bool) -> Result<Value, String> {
    let Xdp::On(t) = x else {
        return Err("XDP is off: nothing can be banned at the driver".into());
    };
    let ip: IpAddr = req["ip"]
        .as_str()
        .ok_or("\"ip\" must be an IP address")?
        .parse()
        .map_err(|_| "\"ip\" is not an IP address".to_string())?;
    let mut s = t.steering();
    if on {
        let secs = req["seconds"]
            .as_u64()
            .filter(|&n| n > 0)
            .ok_or("\"seconds\" must be a positive number")?;
        s.ban(ip, Duration::from_secs(secs))
            .map_err(|e| e.to_string())?;
    } else {
        s.unban(ip).map_err(|e| e.to_string())?;
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let mut o = XdpOptions::default();
        let args: Vec<String> = ["veth0,eth1", "native", "50:100"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut it = args.iter();
        assert!(o.take("--xdp", &mut it).unwrap());
        assert!(o.take("--xdp-mode", &mut it).unwrap());
        assert!(o.take("--xdp-rate", &mut it).unwrap());
        assert!(o.take("--no-steering", &mut it).unwrap());
        assert!(!o.take("--cores", &mut it).unwrap());
        assert_eq!(o.interfaces, ["veth0", "eth1"]);
        assert!(matches!(o.mode, AttachMode::Native));
        assert_eq!(o.rate, (50, 100));
        assert!(!o.steering);
        for (flag, v, says) in [
            ("--xdp-mode", "fast", "auto, native or generic"),
            ("--xdp-rate", "x", "PPS or PPS:BURST"),
            ("--xdp", ",", "IFACE"),
        ] {
            let a = [v.to_string()];
            let e = XdpOptions::default().take(flag, &mut a.iter()).unwrap_err();
            assert!(e.contains(says), "{flag} {v}: {e}");
        }
        let plane = PlaneConfig::default();
        // An interface that does not exist: the relay runs without XDP and says why (the
        // interface, or the missing privilege where BPF is not allowed).
        let nowhere = XdpOptions {
            interfaces: vec!["portico-none0".into()],
            ..XdpOptions::default()
        };
        match start(&nowhere, &plane) {
            Xdp::Off(why) => assert!(
                why.contains("portico-none0") || ebpf::unavailable_reason().is_some(),
                "{why}"
            ),
            Xdp::On(_) => panic!("attached to an interface that does not exist"),
        }
        let off = start(&XdpOptions::default(), &plane);
        assert!(matches!(&off, Xdp::Off(why) if why.contains("not asked")));
        assert!(describe(&off).starts_with("running without XDP"));
        assert_eq!(info(&off)["on"], false);
        assert!(ban(&off, &json!({"ip": "198.18.0.9", "seconds": 5}), true).is_err());
    }
}
