//! `edge relay`: the media relay alone, driven through a local control socket.
//!
//! For tests, the load generator and operators. The control socket is a Unix stream socket that
//! takes one JSON request per line and answers one JSON object per line:
//!
//! ```text
//! {"op":"allocate","a":LEG,"b":LEG}     -> {"ok":true,"legs":[ID_A,ID_B]}
//! {"op":"release","leg":ID}             -> {"ok":true}
//! {"op":"update","leg":ID,"remote":"IP:PORT","remote_rtcp":"IP:PORT"} -> {"ok":true}
//! {"op":"stats","leg":ID}               -> {"ok":true,"stats":{...}}
//! {"op":"info"}                          -> {"ok":true,"backend":"uring"|"sockets",...}
//! LEG = {"rtp_port":N, "rtcp_port":N|null, "mux_id":N|null, "remote":"IP:PORT"|null,
//!        "remote_rtcp":"IP:PORT"|null,
//!        "latch":"authenticated"|"signalled_ip"|"first_packet"|"fixed",
//!        "srtp_in":"<a=crypto value>"|null, "srtp_out":"<a=crypto value>"|null}
//! ```
//!
//! Errors come back as `{"ok":false,"error":"…"}` naming what was wrong; a bad request never
//! affects the calls in place. Events (latched, relatched, inactive) are written to stderr.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use media::relay::engine::{Event, LatchPolicy, LegConfig, LegId, LegStats};
use media::runtime::{Backend, BackendChoice, Worker, WorkerConfig};
use media::sdes::CryptoAttribute;
use media::srtp::{Context, Policy, Suite};
use serde_json::{json, Value};

/// Options of `edge relay`.
#[derive(Debug)]
pub(crate) struct Options {
    control: PathBuf,
    worker: WorkerConfig,
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a String, String> {
    it.next()
        .ok_or_else(|| format!("relay: {flag} needs a value"))
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            control: PathBuf::from("/run/portico-relay.sock"),
            worker: WorkerConfig::default(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--control" => o.control = PathBuf::from(value(&mut it, flag)?),
                "--bind" => {
                    let v = value(&mut it, flag)?;
                    o.worker.bind_ip = v
                        .parse::<IpAddr>()
                        .map_err(|_| format!("relay: --bind {v:?} is not an IP address"))?;
                }
                "--core" => {
                    let v = value(&mut it, flag)?;
                    o.worker.core = Some(
                        v.parse()
                            .map_err(|_| format!("relay: --core {v:?} is not a CPU number"))?,
                    );
                }
                "--backend" => {
                    o.worker.backend = match value(&mut it, flag)?.as_str() {
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
                "--mux-ports" => {
                    let v = value(&mut it, flag)?;
                    o.worker.relay.mux_ports = v
                        .split(',')
                        .map(|p| p.trim().parse::<u16>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| format!("relay: --mux-ports {v:?}: expected PORT,PORT…"))?;
                }
                "--inactivity" => {
                    let v = value(&mut it, flag)?;
                    let secs: u64 = v
                        .parse()
                        .map_err(|_| format!("relay: --inactivity {v:?} is not seconds"))?;
                    o.worker.relay.inactivity_timeout = Duration::from_secs(secs.max(1));
                }
                other => return Err(format!("relay: unknown option {other:?}")),
            }
        }
        Ok(o)
    }
}

pub(crate) fn run(o: Options) -> Result<(), String> {
    let worker = Worker::spawn(o.worker.clone()).map_err(|e| format!("relay: worker: {e}"))?;
    let info = worker.info();
    match (info.backend, info.fallback_reason) {
        (Backend::Uring, _) => eprintln!("relay: io_uring backend"),
        (Backend::Sockets, Some(why)) => {
            eprintln!(
                "relay: io_uring unavailable ({why}); socket fallback (epoll, recvmmsg/sendmmsg)"
            )
        }
        (Backend::Sockets, None) => eprintln!("relay: socket backend (epoll, recvmmsg/sendmmsg)"),
    }
    let _ = std::fs::remove_file(&o.control);
    let listener = UnixListener::bind(&o.control)
        .map_err(|e| format!("relay: control socket {}: {e}", o.control.display()))?;
    eprintln!("relay: control on {}", o.control.display());
    let worker = Arc::new(worker);
    let events = Arc::clone(&worker);
    std::thread::spawn(move || loop {
        if let Some(e) = events.next_event(Duration::from_secs(1)) {
            eprintln!("relay: {}", event_json(&e));
        }
    });
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                let w = Arc::clone(&worker);
                std::thread::spawn(move || serve(&w, s));
            }
            Err(e) => eprintln!("relay: control accept: {e}"),
        }
    }
    Ok(())
}

pub(crate) fn serve(worker: &Worker, stream: UnixStream) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match handle(worker, &line) {
            Ok(mut v) => {
                v["ok"] = json!(true);
                v
            }
            Err(e) => json!({"ok": false, "error": e}),
        };
        if writeln!(out, "{reply}").is_err() {
            return;
        }
    }
}

/// Answers one control request.
pub(crate) fn handle(worker: &Worker, line: &str) -> Result<Value, String> {
    let req: Value = serde_json::from_str(line).map_err(|e| format!("request is not JSON: {e}"))?;
    let op = req["op"].as_str().ok_or("request has no \"op\"")?;
    match op {
        "allocate" => {
            let a = leg_config(&req["a"]).map_err(|e| format!("leg a: {e}"))?;
            let b = leg_config(&req["b"]).map_err(|e| format!("leg b: {e}"))?;
            let (x, y) = worker.allocate(a, b).map_err(|e| e.to_string())?;
            Ok(json!({"legs": [x.to_u64(), y.to_u64()]}))
        }
        "release" => {
            worker.release(leg_id(&req)?).map_err(|e| e.to_string())?;
            Ok(json!({}))
        }
        "update" => {
            let rtp = opt_addr(&req["remote"]).map_err(|e| format!("remote: {e}"))?;
            let rtcp = opt_addr(&req["remote_rtcp"]).map_err(|e| format!("remote_rtcp: {e}"))?;
            worker
                .update_remote(leg_id(&req)?, rtp, rtcp)
                .map_err(|e| e.to_string())?;
            Ok(json!({}))
        }
        "stats" => {
            let s = worker.stats(leg_id(&req)?).map_err(|e| e.to_string())?;
            Ok(json!({"stats": stats_json(&s)}))
        }
        "info" => {
            let info = worker.info();
            let io = worker.io_counters().map_err(|e| e.to_string())?;
            Ok(json!({
                "backend": match info.backend { Backend::Uring => "uring", Backend::Sockets => "sockets" },
                "fallback_reason": info.fallback_reason.map(|k| k.to_string()),
                "core": info.core,
                "received": io.received, "sent": io.sent,
                "send_errors": io.send_errors, "receive_errors": io.receive_errors,
                "buffers_exhausted": io.buffers_exhausted,
            }))
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

fn leg_id(req: &Value) -> Result<LegId, String> {
    req["leg"]
        .as_u64()
        .map(LegId::from_u64)
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

/// A leg from its JSON form (see the module docs).
pub(crate) fn leg_config(v: &Value) -> Result<LegConfig, String> {
    if !v.is_object() {
        return Err("must be an object".into());
    }
    let rtp_port = opt_port(&v["rtp_port"], "rtp_port")?.ok_or("rtp_port is required")?;
    let remote = opt_addr(&v["remote"]).map_err(|e| format!("remote: {e}"))?;
    let mut leg = LegConfig::plain(rtp_port, remote);
    leg.rtcp_port = opt_port(&v["rtcp_port"], "rtcp_port")?;
    leg.signalled_rtcp = opt_addr(&v["remote_rtcp"]).map_err(|e| format!("remote_rtcp: {e}"))?;
    leg.mux_id = match &v["mux_id"] {
        Value::Null => None,
        m => Some(
            m.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("mux_id must be a 32-bit number or null")?,
        ),
    };
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
    Ok(leg)
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

fn event_json(e: &Event) -> Value {
    match e {
        Event::Latched {
            leg,
            component,
            addr,
        } => {
            json!({"event": "latched", "leg": leg.to_u64(), "component": format!("{component:?}"), "addr": addr.to_string()})
        }
        Event::Relatched {
            leg,
            component,
            from,
            to,
        } => json!({
            "event": "relatched", "leg": leg.to_u64(), "component": format!("{component:?}"),
            "from": from.to_string(), "to": to.to_string()
        }),
        Event::Inactive { leg } => json!({"event": "inactive", "leg": leg.to_u64()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn worker() -> Worker {
        Worker::spawn(WorkerConfig {
            backend: BackendChoice::Sockets,
            ..WorkerConfig::default()
        })
        .unwrap()
    }

    fn free_port() -> u16 {
        loop {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let p = s.local_addr().unwrap().port();
            if p.is_multiple_of(2) && p < 65534 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
                return p;
            }
        }
    }

    #[test]
    fn requests_and_errors() {
        let w = worker();
        let (pa, pb) = (free_port(), free_port());
        let key = media::srtp::MasterKey::random(Suite::AesCm128HmacSha1_80).unwrap();
        let sdes = CryptoAttribute::new(1, key, None).to_string();
        let req = json!({"op": "allocate",
            "a": {"rtp_port": pa, "rtcp_port": pa + 1, "latch": "authenticated", "srtp_in": sdes, "srtp_out": sdes},
            "b": {"rtp_port": pb, "rtcp_port": pb + 1, "remote": "127.0.0.1:9", "latch": "fixed"}});
        let r = handle(&w, &req.to_string()).unwrap();
        let a = r["legs"][0].as_u64().unwrap();
        let s = handle(&w, &json!({"op": "stats", "leg": a}).to_string()).unwrap();
        assert_eq!(s["stats"]["received_packets"], 0);
        let info = handle(&w, r#"{"op":"info"}"#).unwrap();
        assert_eq!(info["backend"], "sockets");
        // The same ports again: refused, naming the port.
        let e = handle(&w, &req.to_string()).unwrap_err();
        assert!(e.contains(&pa.to_string()), "{e}");
        for (bad, says) in [
            ("not json", "not JSON"),
            (r#"{"x":1}"#, "no \"op\""),
            (r#"{"op":"fly"}"#, "unknown op"),
            (r#"{"op":"release"}"#, "leg id"),
            (r#"{"op":"release","leg":12345}"#, "no such leg"),
            (
                r#"{"op":"allocate","a":{},"b":{}}"#,
                "leg a: rtp_port is required",
            ),
            (
                r#"{"op":"allocate","a":{"rtp_port":70000},"b":{}}"#,
                "port 1",
            ),
            (
                r#"{"op":"allocate","a":{"rtp_port":4000,"remote":"nowhere"},"b":{}}"#,
                "not IP:PORT",
            ),
            (
                r#"{"op":"allocate","a":{"rtp_port":4000,"latch":"maybe"},"b":{}}"#,
                "latch",
            ),
            (
                r#"{"op":"allocate","a":{"rtp_port":4000,"srtp_in":"1 AES_CM_128_HMAC_SHA1_80 inline:xx"},"b":{}}"#,
                "srtp_in: a=crypto",
            ),
        ] {
            let e = handle(&w, bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        handle(&w, &json!({"op": "release", "leg": a}).to_string()).unwrap();
        assert!(handle(&w, &json!({"op": "stats", "leg": a}).to_string()).is_err());
    }

    #[test]
    fn control_socket_round_trip() {
        let w = worker();
        let dir = std::env::temp_dir().join(format!("portico-relay-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("control.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            serve(&w, s);
        });
        let mut c = UnixStream::connect(&path).unwrap();
        writeln!(c, r#"{{"op":"info"}}"#).unwrap();
        writeln!(c, "garbage").unwrap();
        let mut lines = BufReader::new(c.try_clone().unwrap()).lines();
        let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(first["ok"], true);
        let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(second["ok"], false);
        drop(c);
        drop(lines);
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
