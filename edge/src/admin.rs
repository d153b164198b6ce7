//! The admin API: JSON status and Prometheus metrics over plain HTTP/1.1 on the management
//! address (`admin.address`, default 127.0.0.1:8080), and `edge status`, which reads it.
//!
//! - `GET /status`: the role; E's client flows, registrations and traversal listener (each link
//!   with its state, peer, last failure and reason, probe round trip); C's traversal link, SIP
//!   stream, bindings and call control; every counter.
//! - `GET /metrics`: the counters in Prometheus text format (`portico_e_sip_…`,
//!   `portico_c_sip_…`, `portico_traversal_…`).
//! - `GET /health`: `200 ok` while the process serves.
//!
//! One request per connection (`Connection: close`); requests over 8 KiB or without a
//! request line in 5 s are dropped. Keep the address on a management network.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use signaling::sip_edge::calls::CallRecord;
use signaling::sip_edge::driver::{CHandle, CSnapshot, EHandle, ESnapshot};
use signaling::traversal::control::{MediaCall, MediaUsage};
use signaling::traversal::status::{Failure, LinkCounters, LinkStatus, ListenerStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the process runs.
#[derive(Debug, Default)]
pub(crate) struct Roles {
    pub(crate) role: String,
    pub(crate) e: Option<EHandle>,
    pub(crate) c: Option<CHandle>,
}

/// Serves the admin API until the process ends.
pub(crate) async fn serve(addr: SocketAddr, roles: Arc<Roles>) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("admin API on {addr}: {e}"))?;
    eprintln!("edge: admin API on http://{addr}/status and /metrics");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let roles = roles.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &roles)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, roles: &Roles) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 8192 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path) {
        ("GET", "/status") => (
            "200 OK",
            "application/json",
            serde_json::to_string_pretty(&status_json(roles).await).unwrap_or_default() + "\n",
        ),
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4",
            metrics_text(roles).await,
        ),
        ("GET", "/health") => ("200 OK", "text/plain", "ok\n".to_owned()),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_owned()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_owned(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn failure_json(f: &Option<Failure>) -> Value {
    match f {
        None => Value::Null,
        Some(f) => json!({
            "kind": f.kind.to_string(),
            "detail": f.detail,
            "peer": f.peer,
            "at": unix(f.at),
        }),
    }
}

fn counters_json(c: &LinkCounters) -> Value {
    json!({
        "frames_in": c.frames_in, "frames_out": c.frames_out,
        "bytes_in": c.bytes_in, "bytes_out": c.bytes_out,
        "connect_attempts": c.connect_attempts, "reconnects": c.reconnects,
        "auth_failures": c.auth_failures, "streams_opened": c.streams_opened,
        "streams_refused": c.streams_refused, "flow_control_resets": c.flow_control_resets,
    })
}

fn link_json(l: &LinkStatus) -> Value {
    json!({
        "peer": l.peer,
        "state": l.state.to_string(),
        "since": unix(l.since),
        "last_error": failure_json(&l.last_error),
        "rtt_ms": l.rtt.map(|d| d.as_secs_f64() * 1000.0),
        "counters": counters_json(&l.counters),
    })
}

fn listener_json(l: &ListenerStatus) -> Value {
    json!({
        "address": l.local_addr.to_string(),
        "accepted": l.accepted,
        "refused": l.refused,
        "auth_failures": l.auth_failures,
        "active_links": l.active_links,
        "last_error": failure_json(&l.last_error),
    })
}

fn e_json(s: &ESnapshot) -> Value {
    let mut counters = String::new();
    s.stats.metrics(&mut counters);
    json!({
        "sip_tls": s.sip_tls.to_string(),
        "flows": s.flows,
        "registered_flows": s.registered,
        "traversal": {
            "listener": listener_json(&s.listener),
            "sip_link": s.link.as_ref().map(link_json),
            "links": s.links.iter().map(link_json).collect::<Vec<_>>(),
        },
        "flow_list": s.flow_list.iter().map(|f| json!({
            "flow": f.flow, "client": f.client.to_string(), "registered_for_s": f.registered_for,
        })).collect::<Vec<_>>(),
        "counters": metrics_map(&counters),
    })
}

fn c_json(s: &CSnapshot) -> Value {
    let mut counters = String::new();
    s.stats.metrics(&mut counters);
    let now = std::time::Instant::now();
    json!({
        "traversal": link_json(&s.link),
        "sip_stream": s.sip_stream,
        "listen": s.listen.to_string(),
        "call_control": {
            "address": s.call_control.addr.to_string(),
            "transport": format!("{:?}", s.call_control.transport).to_lowercase(),
            "connected": s.call_control_connected,
            "configured": s.call_control_peers.iter().map(|p| p.addr.to_string()).collect::<Vec<_>>(),
        },
        "bindings": s.binding_count,
        "binding_list": s.bindings.iter().map(|(token, b)| json!({
            "token": token,
            "aor": b.aor,
            "contact": b.contact.to_string(),
            "flow": b.flow,
            "client": b.client.map(|c| c.to_string()),
            "expires_in_s": b.expires_at.saturating_duration_since(now).as_secs(),
        })).collect::<Vec<_>>(),
        "counters": metrics_map(&counters),
        "calls": {
            "active": s.active_calls,
            "current": s.calls.iter().map(call_json).collect::<Vec<_>>(),
            "history": s.call_history.iter().map(call_json).collect::<Vec<_>>(),
            "counters": s.call_stats.as_ref().map(|c| {
                let mut t = String::new();
                c.metrics(s.active_calls, &mut t);
                metrics_map(&t)
            }),
        },
    })
}

/// Prometheus lines as a JSON object (`name{labels}` → value).
fn metrics_map(text: &str) -> Value {
    let mut m = serde_json::Map::new();
    for line in text.lines() {
        if let Some((k, v)) = line.rsplit_once(' ') {
            m.insert(k.to_owned(), json!(v.parse::<u64>().unwrap_or(0)));
        }
    }
    Value::Object(m)
}

async fn status_json(roles: &Roles) -> Value {
    let mut v = json!({ "role": roles.role, "version": env!("CARGO_PKG_VERSION") });
    if let Some(e) = &roles.e {
        v["e"] = match e.snapshot().await {
            Some(s) => e_json(&s),
            None => json!({"error": "E's SIP driver stopped"}),
        };
        v["e"]["media"] = usage_json(e.media_usage());
        if let Some((current, history)) = e.media_calls() {
            let row = |c: &MediaCall| {
                json!({
                    "call": c.call,
                    "streams": c.streams,
                    "started": unix(c.started),
                    "duration_s": c.duration.as_secs_f64(),
                    // As Expressway counts them: E's one component of the call (the traversal
                    // relay); C has the other three.
                    "components": 1,
                })
            };
            v["e"]["calls"] = json!({
                "active": current.len(),
                "current": current.iter().map(row).collect::<Vec<_>>(),
                "history": history.iter().map(row).collect::<Vec<_>>(),
            });
        }
    }
    if let Some(c) = &roles.c {
        v["c"] = match c.snapshot().await {
            Some(s) => c_json(&s),
            None => json!({"error": "C's SIP driver stopped"}),
        };
        v["c"]["media"] = usage_json(c.media_usage());
        v["c"]["media"]["streams"] = c
            .stream_counters()
            .iter()
            .map(|s| {
                json!({
                    "call": s.call,
                    "stream": s.stream,
                    "outside": {"received": s.outside_received, "sent": s.outside_sent,
                        "dropped": s.outside_dropped.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>()},
                    "inside": {"received": s.inside_received, "sent": s.inside_sent,
                        "dropped": s.inside_dropped.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>()},
                })
            })
            .collect::<Vec<_>>()
            .into();
    }
    v
}

fn usage_json(u: Option<MediaUsage>) -> Value {
    match u {
        Some(u) => json!({"calls": u.calls, "legs": u.legs, "ports_in_use": u.ports_in_use}),
        None => Value::Null,
    }
}

fn call_json(r: &CallRecord) -> Value {
    json!({
        "id": r.id,
        "call_id": r.call_id,
        "from": r.from,
        "to": r.to,
        "caller": r.origin.as_str(),
        "state": r.state.as_str(),
        "duration_s": r.duration.as_secs_f64(),
        "talk_s": r.talk_time.map(|t| t.as_secs_f64()),
        "media": if r.video { "audio+video" } else { "audio" },
        "streams": r.streams,
        // As Expressway counts them: C's B2BUA has its two legs and the traversal leg.
        "components": 3,
        "ended": r.ended,
    })
}

async fn metrics_text(roles: &Roles) -> String {
    let mut out = String::new();
    if let Some(e) = &roles.e {
        if let Some(s) = e.snapshot().await {
            s.stats.metrics(&mut out);
            out.push_str(&format!("portico_e_sip_flows {}\n", s.flows));
            out.push_str(&format!(
                "portico_e_sip_registered_flows {}\n",
                s.registered
            ));
            let l = &s.listener;
            out.push_str(&format!(
                "portico_traversal_listener_accepted_total {}\n\
                 portico_traversal_listener_refused_total {}\n\
                 portico_traversal_listener_auth_failures_total {}\n\
                 portico_traversal_listener_active_links {}\n",
                l.accepted, l.refused, l.auth_failures, l.active_links
            ));
        }
        e.counters().metrics("portico_e_sip_tls", &mut out);
    }
    if let Some(c) = &roles.c {
        if let Some(s) = c.snapshot().await {
            s.stats.metrics(&mut out);
            out.push_str(&format!("portico_c_sip_bindings {}\n", s.binding_count));
            if let Some(c) = &s.call_stats {
                c.metrics(s.active_calls, &mut out);
            }
            out.push_str(&format!(
                "portico_traversal_link_up {}\n",
                u8::from(s.link.state == signaling::traversal::status::LinkPhase::Up)
            ));
            out.push_str(&format!(
                "portico_traversal_reconnects_total {}\n",
                s.link.counters.reconnects
            ));
        }
        c.counters().metrics("portico_c_sip_inside", &mut out);
    }
    out
}

/// `edge status [--admin ADDR | --config FILE]`: prints `GET /status` of a running edge.
pub(crate) fn status_command(args: &[String]) -> Result<(), String> {
    let mut addr: Option<SocketAddr> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--admin" => {
                let v = it.next().ok_or("--admin needs ADDRESS:PORT")?;
                addr = Some(v.parse().map_err(|e| format!("--admin {v}: {e}"))?);
            }
            "--config" | "-c" => {
                let v = it.next().ok_or("--config needs a file")?;
                let cfg = crate::config::Config::load(std::path::Path::new(v))
                    .map_err(|e| format!("{v}: {e}"))?;
                addr = Some(cfg.admin().address);
            }
            other => return Err(format!("status: unknown option {other:?}")),
        }
    }
    let addr = addr.unwrap_or(crate::config::DEFAULT_ADMIN);
    let body = http_get(addr, "/status")?;
    println!("{body}");
    Ok(())
}

/// A blocking `GET` of the admin API (the CLI has no runtime).
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("admin API at {addr}: {e} (is `edge run` up?)"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("admin API at {addr}: {e}"))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| format!("admin API at {addr}: {e}"))?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("admin API at {addr}: no HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "admin API at {addr}: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(body.to_owned())
}
