//! `edge flood`: UDP as fast as one core sends it, at a range of ports, for the XDP flood bench
//! and for operators checking what their edge drops.
//!
//! One socket (one hot source), `sendmmsg` batches of 64 precomputed datagrams cycling over the
//! ports of the range; payloads are garbage (first byte 0xff: neither RTP, RTCP nor STUN) or,
//! with `--rtp`, shaped like RTP (version 2) so that only the port decides their fate. Prints
//! one JSON object: packets sent, the rate reached, the CPU time spent.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media::runtime::{pin_to_core, UdpBatch};
use serde_json::{json, Value};

/// Options of `edge flood`.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    target: IpAddr,
    bind: Option<IpAddr>,
    first: u16,
    last: u16,
    seconds: f64,
    size: usize,
    core: Option<usize>,
    rtp: bool,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            target: IpAddr::from([127, 0, 0, 1]),
            bind: None,
            first: 36002,
            last: 59999,
            seconds: 5.0,
            size: 172,
            core: None,
            rtp: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--rtp" {
                o.rtp = true;
                continue;
            }
            let v = it
                .next()
                .ok_or_else(|| format!("flood: {flag} needs a value"))?;
            let bad = |what: &str| format!("flood: {flag} {v:?}: {what}");
            match flag.as_str() {
                "--target" => o.target = v.parse().map_err(|_| bad("not an IP address"))?,
                "--bind" => o.bind = Some(v.parse().map_err(|_| bad("not an IP address"))?),
                "--range" => {
                    let (a, b) = v
                        .split_once('-')
                        .ok_or_else(|| bad("expected FIRST-LAST"))?;
                    o.first = a.trim().parse().map_err(|_| bad("expected FIRST-LAST"))?;
                    o.last = b.trim().parse().map_err(|_| bad("expected FIRST-LAST"))?;
                    if o.first == 0 || o.first > o.last {
                        return Err(bad("expected 1 <= FIRST <= LAST"));
                    }
                }
                "--seconds" => {
                    o.seconds = v
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                        .ok_or_else(|| bad("expected 0 to 3600 seconds"))?
                }
                "--size" => {
                    o.size = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=1400).contains(n))
                        .ok_or_else(|| bad("expected 1 to 1400 bytes"))?
                }
                "--core" => o.core = Some(v.parse().map_err(|_| bad("not a CPU number"))?),
                other => return Err(format!("flood: unknown option {other:?}")),
            }
        }
        Ok(o)
    }
}

/// How many distinct datagrams are prepared (they cycle over the ports).
const PREPARED: usize = 4096;
const BATCH: usize = 64;

pub(crate) fn run(o: &Options) -> Result<Value, String> {
    if let Some(c) = o.core {
        pin_to_core(c).map_err(|e| format!("flood: pin to core {c}: {e}"))?;
    }
    let bind = o.bind.unwrap_or(if o.target.is_ipv4() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        IpAddr::from([0u16; 8])
    });
    let socket = UdpSocket::bind(SocketAddr::new(bind, 0))
        .map_err(|e| format!("flood: bind {bind}: {e}"))?;
    let mut out = UdpBatch::new(socket, BATCH).map_err(|e| format!("flood: {e}"))?;
    let span = u32::from(o.last - o.first) + 1;
    let datagrams: Vec<(SocketAddr, Vec<u8>)> = (0..PREPARED)
        .map(|i| {
            let port = o.first + ((i as u32 * 7919) % span) as u16;
            let mut d: Vec<u8> = (0..o.size)
                .map(|j| (i.wrapping_mul(31) ^ j.wrapping_mul(17)) as u8)
                .collect();
            if let Some(b) = d.first_mut() {
                *b = if o.rtp { 0x80 } else { 0xff };
            }
            (SocketAddr::new(o.target, port), d)
        })
        .collect();
    let refs: Vec<(SocketAddr, &[u8])> = datagrams.iter().map(|(a, d)| (*a, &d[..])).collect();
    let cpu0 = crate::loadgen::process_cpu();
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(o.seconds);
    let (mut sent, mut refused, mut next) = (0u64, 0u64, 0usize);
    while Instant::now() < until {
        let end = (next + BATCH).min(refs.len());
        match out.send(&refs[next..end]) {
            Ok(0) => refused += 1,
            Ok(n) => sent += n as u64,
            // Unreachable ports answered with ICMP surface as errors on the next send: the
            // flood goes on regardless.
            Err(_) => refused += 1,
        }
        next = if end == refs.len() { 0 } else { end };
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = crate::loadgen::process_cpu()
        .zip(cpu0)
        .map(|(a, b)| a.saturating_sub(b).as_secs_f64());
    Ok(json!({
        "target": o.target.to_string(),
        "ports": format!("{}-{}", o.first, o.last),
        "size": o.size,
        "payload": if o.rtp { "rtp" } else { "garbage" },
        "sent": sent,
        "refused_batches": refused,
        "seconds": elapsed,
        "pps": sent as f64 / elapsed.max(1e-9),
        "cpu_seconds": cpu,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn floods_a_port_range_and_says_how_much() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sink.local_addr().unwrap().port();
        let o = Options::parse(&args(&[
            "--range",
            &format!("{port}-{port}"),
            "--seconds",
            "0.2",
            "--size",
            "40",
        ]))
        .unwrap();
        let r = run(&o).unwrap();
        assert!(r["sent"].as_u64().unwrap() > 0, "{r}");
        let mut b = [0u8; 64];
        let (n, _) = sink.recv_from(&mut b).unwrap();
        assert_eq!((n, b[0]), (40, 0xff), "garbage: not RTP");
    }

    #[test]
    fn options() {
        for (bad, says) in [
            (&["--range", "9-3"][..], "FIRST <= LAST"),
            (&["--range", "x"][..], "FIRST-LAST"),
            (&["--size", "0"][..], "1 to 1400"),
            (&["--seconds", "-1"][..], "0 to 3600"),
            (&["--target", "nowhere"][..], "not an IP"),
            (&["--fly", "1"][..], "unknown option"),
        ] {
            let e = Options::parse(&args(bad)).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
