//! `edge relay`: the media plane alone (one worker per core), driven through a local control
//! socket.
//!
//! For tests, the load generator and operators. The control socket is a Unix stream socket that
//! takes one JSON request per line and answers one JSON object per line:
//!
//! ```text
//! {"op":"allocate","a":LEG,"b":LEG}     -> {"ok":true,"legs":[ID_A,ID_B],"worker":N,
//!                                            "ports":[PORTS_A,PORTS_B]}
//! {"op":"release","leg":ID}             -> {"ok":true}          (the whole call)
//! {"op":"update","leg":ID,"remote":"IP:PORT","remote_rtcp":"IP:PORT"} -> {"ok":true}
//! {"op":"rekey","leg":ID,"srtp_in":KEY|null,"srtp_out":KEY|null}        -> {"ok":true}
//! {"op":"stats","leg":ID}               -> {"ok":true,"stats":{...}}
//! {"op":"info"}                          -> {"ok":true,"backend":…,"workers":[…],"ports":{…}}
//! LEG = {"rtp_port":N|absent, "rtcp_port":N|null, "rtcp_mux":BOOL,
//!        "mux":{"pair":N|null,"id":N|null}|absent,
//!        "remote":"IP:PORT"|null, "remote_rtcp":"IP:PORT"|null,
//!        "latch":"authenticated"|"signalled_ip"|"first_packet"|"fixed",
//!        "srtp_in":KEY|null, "srtp_out":KEY|null}
//! KEY = the value of an SDP a=crypto attribute ("1 AES_CM_128_HMAC_SHA1_80 inline:…")
//! PORTS = {"rtp":N,"rtcp":N|null,"mux_id":N|null}
//! ```
//!
//! A leg without `rtp_port` gets a pair from the media range (`--range`), RTCP on the odd port
//! unless `rtcp_mux`; a leg with `mux` is multiplexed on a traversal pair (`--mux-pairs`); a leg
//! with `rtp_port` uses the ports it names, which must lie outside the range.
//!
//! Errors come back as `{"ok":false,"error":"…","code":"…"}` naming what was wrong; `code` is
//! `exhausted` (no free pair: with `retry_after_ms` when a pair is in quarantine; signaling
//! answers 503), `bad_request`, `unknown_leg`, `mux_id_in_use` or `worker`. A bad request never
//! affects the calls in place. Events (latched, relatched, inactive) are written to stderr.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use media::relay::engine::{Event, LatchPolicy, LegConfig, LegStats};
use media::relay::port_alloc::{AllocError, PortRange};
use media::runtime::{
    Backend, BackendChoice, LegPorts, LegRef, LegRequest, MediaPlane, PlaneConfig, PlaneError,
    PlaneEvent,
};
use media::sdes::CryptoAttribute;
use media::srtp::{Context, Policy, Suite};
use serde_json::{json, Value};

use crate::xdp::{Xdp, XdpOptions};

/// Options of `edge relay`.
#[derive(Debug)]
pub(crate) struct Options {
    control: PathBuf,
    plane: PlaneConfig,
    xdp: XdpOptions,
}

/// What the control socket drives: the media plane and, when it runs, its XDP program.
pub(crate) struct Node {
    pub(crate) plane: MediaPlane,
    pub(crate) xdp: Xdp,
}

impl Node {
    /// A plane without XDP.
    pub(crate) fn new(plane: MediaPlane) -> Node {
        Node {
            plane,
            xdp: Xdp::Off("not asked for (--xdp IFACE)".into()),
        }
    }
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a String, String> {
    it.next()
        .ok_or_else(|| format!("relay: {flag} needs a value"))
}

/// `A,B,C` as numbers.
fn list<T: std::str::FromStr>(v: &str, flag: &str, what: &str) -> Result<Vec<T>, String> {
    v.split(',')
        .map(|p| p.trim().parse::<T>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("relay: {flag} {v:?}: expected {what}"))
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            control: PathBuf::from("/run/portico-relay.sock"),
            plane: PlaneConfig::default(),
            xdp: XdpOptions::default(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if o.xdp.take(flag, &mut it)? {
                continue;
            }
            match flag.as_str() {
                "--control" => o.control = PathBuf::from(value(&mut it, flag)?),
                "--bind" => {
                    let v = value(&mut it, flag)?;
                    o.plane.bind_ip = v
                        .parse::<IpAddr>()
                        .map_err(|_| format!("relay: --bind {v:?} is not an IP address"))?;
                }
                "--core" | "--cores" => {
                    let v = value(&mut it, flag)?;
                    let cores: Vec<usize> = list(v, flag, "CPU numbers, as N or N,N…")?;
                    o.plane.cores = cores.into_iter().map(Some).collect();
                }
                "--workers" => {
                    let v = value(&mut it, flag)?;
                    let n: usize = v
                        .parse()
                        .ok()
                        .filter(|&n| (1..=1024).contains(&n))
                        .ok_or_else(|| format!("relay: --workers {v:?}: expected 1 to 1024"))?;
                    o.plane.cores = vec![None; n];
                }
                "--backend" => {
                    o.plane.backend = match value(&mut it, flag)?.as_str() {
                        "auto" => BackendChoice::Auto,
                        "uring" => BackendChoice::Uring,
                        "sockets" => BackendChoice::Sockets,
                        v => {
                            return Err(format!(
                                "relay: --backend {v:?}: expected auto, uring or sockets"
                            ))
                        }
                    }
                }
                "--range" => {
                    let v = value(&mut it, flag)?;
                    let bad =
                        || format!("relay: --range {v:?}: expected FIRST-LAST, e.g. 36002-59999");
                    let (a, b) = v.split_once('-').ok_or_else(bad)?;
                    let (a, b) = (
                        a.trim().parse().map_err(|_| bad())?,
                        b.trim().parse().map_err(|_| bad())?,
                    );
                    o.plane.ports.range =
                        PortRange::new(a, b).map_err(|e| format!("relay: --range: {e}"))?;
                }
                "--quarantine" => {
                    let v = value(&mut it, flag)?;
                    let secs: f64 = v
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= 3600.0)
                        .ok_or_else(|| {
                            format!("relay: --quarantine {v:?}: expected 0 to 3600 seconds")
                        })?;
                    o.plane.ports.quarantine = Duration::from_secs_f64(secs);
                }
                "--mux-pairs" => {
                    let v = value(&mut it, flag)?;
                    o.plane.mux_pairs = list(v, flag, "the RTP ports of the pairs, as P or P,P…")?;
                }
                "--inactivity" => {
                    let v = value(&mut it, flag)?;
                    let secs: u64 = v
                        .parse()
                        .map_err(|_| format!("relay: --inactivity {v:?} is not seconds"))?;
                    o.plane.inactivity_timeout = Duration::from_secs(secs.max(1));
                }
                other => return Err(format!("relay: unknown option {other:?}")),
            }
        }
        Ok(o)
    }
}

pub(crate) fn run(o: Options) -> Result<(), String> {
    match media::runtime::raise_open_files_limit() {
        Ok((soft, _)) => eprintln!("relay: open files limit {soft} (a leg holds one or two)"),
        Err(e) => eprintln!("relay: open files limit unchanged: {e}"),
    }
    let plane = MediaPlane::spawn(o.plane.clone()).map_err(|e| format!("relay: {e}"))?;
    let xdp = crate::xdp::start(&o.xdp, &o.plane);
    eprintln!("relay: {}", crate::xdp::describe(&xdp));
    if let Xdp::On(table) = &xdp {
        plane.set_port_observer(table.clone());
    }
    for (i, info) in plane.workers().iter().enumerate() {
        let core = info
            .core
            .map_or("any CPU".to_string(), |c| format!("CPU {c}"));
        match (info.backend, info.fallback_reason) {
            (Backend::Uring, _) => eprintln!("relay: worker {i} on {core}: io_uring backend"),
            (Backend::Sockets, Some(why)) => eprintln!(
                "relay: worker {i} on {core}: io_uring unavailable ({why}); socket fallback \
                 (epoll, recvmmsg/sendmmsg)"
            ),
            (Backend::Sockets, None) => {
                eprintln!("relay: worker {i} on {core}: socket backend (epoll, recvmmsg/sendmmsg)")
            }
        }
    }
    eprintln!(
        "relay: media range {} on {}, quarantine {:?}, traversal pairs {:?}",
        o.plane.ports.range, o.plane.bind_ip, o.plane.ports.quarantine, o.plane.mux_pairs
    );
    let _ = std::fs::remove_file(&o.control);
    let listener = UnixListener::bind(&o.control)
        .map_err(|e| format!("relay: control socket {}: {e}", o.control.display()))?;
    eprintln!("relay: control on {}", o.control.display());
    let node = Arc::new(Node { plane, xdp });
    let events = Arc::clone(&node);
    std::thread::spawn(move || loop {
        if let Some(e) = events.plane.next_event(Duration::from_secs(1)) {
            eprintln!("relay: {}", event_json(&e));
        }
    });
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                let n = Arc::clone(&node);
                std::thread::spawn(move || serve(&n, s));
            }
            Err(e) => eprintln!("relay: control accept: {e}"),
        }
    }
    Ok(())
}

pub(crate) fn serve(node: &Node, stream: UnixStream) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match handle(node, &line) {
            Ok(mut v) => {
                v["ok"] = json!(true);
                v
            }
            Err(e) => e.to_json(),
        };
        if writeln!(out, "{reply}").is_err() {
            return;
        }
    }
}

/// A refused request: what was wrong, and a code a program can act on.
#[derive(Debug)]
pub(crate) struct Refusal {
    code: &'static str,
    error: String,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn bad(error: impl Into<String>) -> Refusal {
        Refusal {
            code: "bad_request",
            error: error.into(),
            retry_after: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"ok": false, "error": self.error, "code": self.code});
        if let Some(d) = self.retry_after {
            v["retry_after_ms"] = json!(d.as_millis() as u64);
        }
        v
    }
}

impl From<String> for Refusal {
    fn from(e: String) -> Refusal {
        Refusal::bad(e)
    }
}

impl From<&str> for Refusal {
    fn from(e: &str) -> Refusal {
        Refusal::bad(e)
    }
}

impl From<PlaneError> for Refusal {
    fn from(e: PlaneError) -> Refusal {
        let (code, retry_after) = match &e {
            PlaneError::Exhausted(AllocError::Exhausted { retry_after, .. }) => {
                ("exhausted", *retry_after)
            }
            PlaneError::UnknownLeg => ("unknown_leg", None),
            PlaneError::MuxIdInUse { .. } => ("mux_id_in_use", None),
            PlaneError::BadRequest(_) | PlaneError::Config(_) => ("bad_request", None),
            _ => ("worker", None),
        };
        Refusal {
            code,
            error: e.to_string(),
            retry_after,
        }
    }
}

/// Answers one control request.
pub(crate) fn handle(node: &Node, line: &str) -> Result<Value, Refusal> {
    let plane = &node.plane;
    let req: Value = serde_json::from_str(line).map_err(|e| format!("request is not JSON: {e}"))?;
    let op = req["op"].as_str().ok_or("request has no \"op\"")?;
    match op {
        "allocate" => {
            let a = leg_request(&req["a"]).map_err(|e| format!("leg a: {e}"))?;
            let b = leg_request(&req["b"]).map_err(|e| format!("leg b: {e}"))?;
            let call = plane.allocate(a, b)?;
            let ports: Vec<Value> = call
                .legs
                .iter()
                .map(|l| json!({"rtp": l.rtp_port, "rtcp": l.rtcp_port, "mux_id": l.mux_id}))
                .collect();
            Ok(json!({
                "legs": [call.legs[0].leg.to_u64(), call.legs[1].leg.to_u64()],
                "worker": call.worker,
                "ports": ports,
            }))
        }
        "release" => {
            plane.release(leg_ref(&req)?)?;
            Ok(json!({}))
        }
        "update" => {
            let rtp = opt_addr(&req["remote"]).map_err(|e| format!("remote: {e}"))?;
            let rtcp = opt_addr(&req["remote_rtcp"]).map_err(|e| format!("remote_rtcp: {e}"))?;
            plane.update_remote(leg_ref(&req)?, rtp, rtcp)?;
            Ok(json!({}))
        }
        "rekey" => {
            let srtp_in = srtp(&req["srtp_in"], "srtp_in")?;
            let srtp_out = srtp(&req["srtp_out"], "srtp_out")?;
            plane.update_keys(leg_ref(&req)?, srtp_in, srtp_out)?;
            Ok(json!({}))
        }
        "stats" => {
            let s = plane.stats(leg_ref(&req)?)?;
            Ok(json!({"stats": stats_json(&s)}))
        }
        "info" => {
            let st = plane.plane_stats();
            let backend = |b: Backend| match b {
                Backend::Uring => "uring",
                Backend::Sockets => "sockets",
            };
            let workers: Vec<Value> = st
                .workers
                .iter()
                .map(|w| {
                    let io = w.io.unwrap_or_default();
                    json!({
                        "backend": backend(w.info.backend),
                        "fallback_reason": w.info.fallback_reason.map(|k| k.to_string()),
                        "core": w.info.core,
                        "calls": w.calls,
                        "received": io.received, "sent": io.sent,
                        "send_errors": io.send_errors, "receive_errors": io.receive_errors,
                        "buffers_exhausted": io.buffers_exhausted,
                        "gso_sends": io.gso_sends, "gso_fallbacks": io.gso_fallbacks,
                        "gro_receives": io.gro_receives,
                    })
                })
                .collect();
            let sum = |f: fn(&media::runtime::IoCounters) -> u64| -> u64 {
                st.workers.iter().filter_map(|w| w.io.as_ref()).map(f).sum()
            };
            Ok(json!({
                "xdp": crate::xdp::info(&node.xdp),
                "backend": st.workers.first().map(|w| backend(w.info.backend)),
                "calls": st.calls,
                "received": sum(|c| c.received),
                "sent": sum(|c| c.sent),
                "send_errors": sum(|c| c.send_errors),
                "receive_errors": sum(|c| c.receive_errors),
                "buffers_exhausted": sum(|c| c.buffers_exhausted),
                "gso_sends": sum(|c| c.gso_sends),
                "gso_fallbacks": sum(|c| c.gso_fallbacks),
                "gro_receives": sum(|c| c.gro_receives),
                "workers": workers,
                "ports": {
                    "capacity": st.ports_capacity,
                    "in_use": st.ports_in_use,
                    "in_quarantine": st.ports_in_quarantine,
                    "available": st.ports_available,
                    "allocated_total": st.ports.allocated_total,
                    "released_total": st.ports.released_total,
                    "exhausted_total": st.ports.exhausted_total,
                    "peak_in_use": st.ports.peak_in_use,
                    "bind_conflicts": st.bind_conflicts,
                },
            }))
        }
        "ban" => Ok(crate::xdp::ban(&node.xdp, &req, true)?),
        "unban" => Ok(crate::xdp::ban(&node.xdp, &req, false)?),
        other => Err(format!("unknown op {other:?}").into()),
    }
}

fn leg_ref(req: &Value) -> Result<LegRef, String> {
    req["leg"]
        .as_u64()
        .map(LegRef::from_u64)
        .ok_or_else(|| "\"leg\" must be a leg id number".to_string())
}

fn opt_addr(v: &Value) -> Result<Option<SocketAddr>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{s:?} is not IP:PORT")),
        _ => Err("must be \"IP:PORT\" or null".into()),
    }
}

fn opt_port(v: &Value, what: &str) -> Result<Option<u16>, String> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&n| n != 0)
            .map(Some)
            .ok_or_else(|| format!("{what} must be a port 1–65535 or null")),
    }
}

fn opt_u32(v: &Value, what: &str) -> Result<Option<u32>, String> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{what} must be a 32-bit number or null")),
    }
}

fn srtp(v: &Value, what: &str) -> Result<Option<Context>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            let attr: CryptoAttribute = s.parse().map_err(|e| format!("{what}: {e}"))?;
            attr.context(Policy::new(Suite::AesCm128HmacSha1_80))
                .map(Some)
                .map_err(|e| format!("{what}: {e}"))
        }
        _ => Err(format!("{what} must be an a=crypto value or null")),
    }
}

/// A leg request from its JSON form (see the module docs).
pub(crate) fn leg_request(v: &Value) -> Result<LegRequest, String> {
    if !v.is_object() {
        return Err("must be an object".into());
    }
    let remote = opt_addr(&v["remote"]).map_err(|e| format!("remote: {e}"))?;
    let rtcp_mux = match &v["rtcp_mux"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err("rtcp_mux must be true or false".into()),
    };
    let ports = match (opt_port(&v["rtp_port"], "rtp_port")?, &v["mux"]) {
        (Some(_), m) if !m.is_null() => {
            return Err("give either rtp_port or mux, not both".into());
        }
        (Some(rtp), _) => LegPorts::Fixed {
            rtp,
            rtcp: opt_port(&v["rtcp_port"], "rtcp_port")?,
        },
        (None, Value::Null) => {
            if !v["rtcp_port"].is_null() {
                return Err("rtcp_port needs rtp_port (allocated legs get a pair)".into());
            }
            LegPorts::Allocate { rtcp_mux }
        }
        (None, Value::Bool(true)) => LegPorts::Mux {
            pair: None,
            id: None,
        },
        (None, m @ Value::Object(_)) => LegPorts::Mux {
            pair: opt_port(&m["pair"], "mux.pair")?,
            id: opt_u32(&m["id"], "mux.id")?,
        },
        (None, _) => return Err("mux must be true or {\"pair\":N|null,\"id\":N|null}".into()),
    };
    let mut leg = LegConfig::plain(0, remote);
    leg.signalled_rtcp = opt_addr(&v["remote_rtcp"]).map_err(|e| format!("remote_rtcp: {e}"))?;
    if let Some(l) = v["latch"].as_str() {
        leg.latch = match l {
            "authenticated" => LatchPolicy::Authenticated,
            "signalled_ip" => LatchPolicy::SignalledIp,
            "first_packet" => LatchPolicy::FirstPacket,
            "fixed" => LatchPolicy::Fixed,
            other => {
                return Err(format!(
                    "latch {other:?}: expected authenticated, signalled_ip, first_packet or fixed"
                ))
            }
        };
    }
    leg.srtp_in = srtp(&v["srtp_in"], "srtp_in")?;
    leg.srtp_out = srtp(&v["srtp_out"], "srtp_out")?;
    Ok(LegRequest { ports, leg })
}

fn stats_json(s: &LegStats) -> Value {
    let drops: serde_json::Map<String, Value> = s
        .received
        .drops
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| (r.label().to_string(), json!(n)))
        .collect();
    json!({
        "received_packets": s.received.packets,
        "received_bytes": s.received.bytes,
        "sent_packets": s.sent.packets,
        "sent_bytes": s.sent.bytes,
        "dropped": drops,
        "rtp_received": s.rtp.received,
        "rtp_lost": s.rtp.lost,
        "jitter_us": s.rtp.jitter_us,
        "remote": s.rtp_remote.map(|a| a.to_string()),
        "remote_rtcp": s.rtcp_remote.map(|a| a.to_string()),
        "relatched": s.relatched,
    })
}

fn event_json(e: &PlaneEvent) -> Value {
    let leg = e.leg.to_u64();
    match e.event {
        Event::Latched {
            component, addr, ..
        } => {
            json!({"event": "latched", "leg": leg, "component": format!("{component:?}"), "addr": addr.to_string()})
        }
        Event::Relatched {
            component,
            from,
            to,
            ..
        } => json!({
            "event": "relatched", "leg": leg, "component": format!("{component:?}"),
            "from": from.to_string(), "to": to.to_string()
        }),
        Event::Inactive { .. } => json!({"event": "inactive", "leg": leg}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    /// A plane with a small range of its own (below the ephemeral ports), the socket backend,
    /// one traversal pair.
    fn plane(first: u16, pairs: u16, quarantine: Duration) -> MediaPlane {
        let mut cfg = PlaneConfig {
            backend: BackendChoice::Sockets,
            mux_pairs: vec![first],
            ..PlaneConfig::default()
        };
        cfg.ports.range = PortRange::new(first, first + 2 * pairs + 1).unwrap();
        cfg.ports.quarantine = quarantine;
        MediaPlane::spawn(cfg).unwrap()
    }

    fn ask(p: &Node, v: Value) -> Result<Value, Value> {
        handle(p, &v.to_string()).map_err(|e| e.to_json())
    }

    #[test]
    fn requests_and_errors() {
        let p = Node::new(plane(21000, 4, Duration::from_secs(60)));
        let key = media::srtp::MasterKey::random(Suite::AesCm128HmacSha1_80).unwrap();
        let sdes = CryptoAttribute::new(1, key, None).to_string();
        let req = json!({"op": "allocate",
            "a": {"latch": "authenticated", "srtp_in": sdes, "srtp_out": sdes},
            "b": {"remote": "127.0.0.1:9", "latch": "fixed", "rtcp_mux": true}});
        let r = ask(&p, req.clone()).unwrap();
        let a = r["legs"][0].as_u64().unwrap();
        // Pairs from the range (the traversal pair 21000/21001 is reserved).
        assert_eq!(
            r["ports"][0],
            json!({"rtp": 21002, "rtcp": 21003, "mux_id": null})
        );
        assert_eq!(
            r["ports"][1],
            json!({"rtp": 21004, "rtcp": null, "mux_id": null})
        );
        let s = ask(&p, json!({"op": "stats", "leg": a})).unwrap();
        assert_eq!(s["stats"]["received_packets"], 0);
        let info = ask(&p, json!({"op": "info"})).unwrap();
        assert_eq!(info["backend"], "sockets");
        assert_eq!(info["ports"]["in_use"], 2);
        assert_eq!(info["ports"]["capacity"], 4);
        // New keys for leg a; a leg must keep srtp_in to latch on authenticated packets.
        ask(
            &p,
            json!({"op": "rekey", "leg": a, "srtp_in": sdes, "srtp_out": null}),
        )
        .unwrap();
        let e = ask(&p, json!({"op": "rekey", "leg": a, "srtp_in": null})).unwrap_err();
        assert!(e["error"].as_str().unwrap().contains("srtp_in"), "{e}");
        // A multiplexed leg on the traversal pair, with an id of the plane's choosing, then the
        // same id asked for by name: refused.
        let m = ask(
            &p,
            json!({"op": "allocate", "a": {"mux": true}, "b": {"rtcp_mux": true}}),
        )
        .unwrap();
        assert_eq!(m["ports"][0]["rtp"], 21000);
        let id = m["ports"][0]["mux_id"].as_u64().unwrap();
        let e = ask(
            &p,
            json!({"op": "allocate", "a": {"mux": {"pair": 21000, "id": id}}, "b": {}}),
        )
        .unwrap_err();
        assert_eq!(e["code"], "mux_id_in_use", "{e}");
        // The range holds 4 pairs: 3 are in use, one more call of two pairs does not fit.
        let e = ask(&p, json!({"op": "allocate", "a": {}, "b": {}})).unwrap_err();
        assert_eq!(e["code"], "exhausted", "{e}");
        assert!(
            e.get("retry_after_ms").is_none(),
            "nothing in quarantine: {e}"
        );
        // Releasing a call puts its pair in quarantine: still exhausted, now with a retry-after.
        ask(&p, json!({"op": "release", "leg": m["legs"][1]})).unwrap();
        let e = ask(&p, json!({"op": "allocate", "a": {}, "b": {}})).unwrap_err();
        assert_eq!(e["code"], "exhausted", "{e}");
        let ms = e["retry_after_ms"].as_u64().unwrap();
        assert!(ms > 50_000 && ms <= 60_000, "{e}");
        for (bad, says) in [
            ("not json", "not JSON"),
            (r#"{"x":1}"#, "no \"op\""),
            (r#"{"op":"fly"}"#, "unknown op"),
            (r#"{"op":"release"}"#, "leg id"),
            (r#"{"op":"release","leg":12345}"#, "no such leg"),
            (r#"{"op":"stats","leg":999}"#, "no such leg"),
            (
                r#"{"op":"allocate","a":5,"b":{}}"#,
                "leg a: must be an object",
            ),
            (
                r#"{"op":"allocate","a":{"rtp_port":70000},"b":{}}"#,
                "port 1",
            ),
            (
                r#"{"op":"allocate","a":{"rtp_port":21006},"b":{}}"#,
                "managed media range",
            ),
            (
                r#"{"op":"allocate","a":{"rtp_port":4000,"mux":true},"b":{}}"#,
                "not both",
            ),
            (
                r#"{"op":"allocate","a":{"rtcp_port":4001},"b":{}}"#,
                "rtcp_port needs",
            ),
            (r#"{"op":"allocate","a":{"mux":7},"b":{}}"#, "mux must be"),
            (
                r#"{"op":"allocate","a":{"mux":{"pair":4000}},"b":{}}"#,
                "not a traversal pair",
            ),
            (
                r#"{"op":"allocate","a":{"remote":"nowhere"},"b":{}}"#,
                "not IP:PORT",
            ),
            (r#"{"op":"allocate","a":{"latch":"maybe"},"b":{}}"#, "latch"),
            (
                r#"{"op":"allocate","a":{"srtp_in":"1 AES_CM_128_HMAC_SHA1_80 inline:xx"},"b":{}}"#,
                "srtp_in: a=crypto",
            ),
        ] {
            let e = handle(&p, bad).unwrap_err();
            assert!(e.error.contains(says), "{bad}: {}", e.error);
        }
        // None of that disturbed the call in place, or leaked a pair.
        assert!(ask(&p, json!({"op": "stats", "leg": a})).is_ok());
        let info = ask(&p, json!({"op": "info"})).unwrap();
        assert_eq!(info["ports"]["in_use"], 2, "{info}");
        assert_eq!(info["ports"]["in_quarantine"], 1, "{info}");
        ask(&p, json!({"op": "release", "leg": a})).unwrap();
        assert!(ask(&p, json!({"op": "stats", "leg": a})).is_err());
        assert!(UdpSocket::bind("127.0.0.1:21002").is_ok(), "socket closed");
    }

    #[test]
    fn control_socket_round_trip() {
        let p = Node::new(plane(21100, 4, Duration::ZERO));
        let dir = std::env::temp_dir().join(format!("portico-relay-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("control.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            serve(&p, s);
        });
        let mut c = UnixStream::connect(&path).unwrap();
        writeln!(c, r#"{{"op":"info"}}"#).unwrap();
        writeln!(c, "garbage").unwrap();
        let mut lines = BufReader::new(c.try_clone().unwrap()).lines();
        let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(first["ok"], true);
        let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(second["ok"], false);
        assert_eq!(second["code"], "bad_request");
        drop(c);
        drop(lines);
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Options::parse(&args(&[
            "--cores",
            "0,1",
            "--range",
            "40000-40999",
            "--quarantine",
            "0.5",
            "--mux-pairs",
            "36000,36002",
        ]))
        .unwrap();
        assert_eq!(o.plane.cores, vec![Some(0), Some(1)]);
        assert_eq!(o.plane.ports.range, PortRange::new(40000, 40999).unwrap());
        assert_eq!(o.plane.ports.quarantine, Duration::from_millis(500));
        assert_eq!(o.plane.mux_pairs, vec![36000, 36002]);
        for (bad, says) in [
            (&["--range", "5-"][..], "FIRST-LAST"),
            (&["--range", "500-400"][..], "first port after its last"),
            (&["--quarantine", "-1"][..], "0 to 3600"),
            (&["--workers", "0"][..], "1 to 1024"),
            (&["--cores", "a"][..], "CPU numbers"),
            (&["--bogus"][..], "unknown option"),
        ] {
            let e = Options::parse(&args(bad)).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
