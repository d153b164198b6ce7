//! `edge demo`: the media plane on an embedded default, on loopback, with calls through it.
//!
//! What an operator would see of the C role's media today: a media plane (one worker per CPU,
//! io_uring where the kernel allows it, the socket fallback otherwise, said which) with the
//! default traversal pair 36000/36001 and a media range of its own on 127.0.0.1, driven through
//! its control socket like `edge relay`; then `edge loadgen` plays the E (every call's SRTP
//! multiplexed on the traversal pair, in GSO batches) and the inside phones (plain RTP), for
//! a few seconds both ways, every packet checked (authenticated on the way out, sequence and
//! latency on the way in). The demo fails unless every packet arrives.

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;

use media::relay::port_alloc::PortRange;
use media::runtime::{Backend, MediaPlane, PlaneConfig};
use serde_json::Value;

use crate::loadgen;

/// Options of `edge demo`.
#[derive(Debug)]
pub(crate) struct Options {
    calls: usize,
    seconds: f64,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            calls: 200,
            seconds: 5.0,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let v = it
                .next()
                .ok_or_else(|| format!("demo: {flag} needs a value"))?;
            match flag.as_str() {
                "--calls" => {
                    o.calls = v
                        .parse()
                        .ok()
                        .filter(|&n| (1..=5000).contains(&n))
                        .ok_or_else(|| format!("demo: --calls {v:?}: expected 1 to 5000"))?
                }
                "--seconds" => {
                    o.seconds = v
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && (0.5..=600.0).contains(s))
                        .ok_or_else(|| format!("demo: --seconds {v:?}: expected 0.5 to 600"))?
                }
                other => return Err(format!("demo: unknown option {other:?}")),
            }
        }
        Ok(o)
    }
}

/// The embedded default: every CPU a worker, traversal pair 36000/36001, media range
/// 40000–47999 on loopback, quarantine 2 s.
fn plane_config() -> PlaneConfig {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cfg = PlaneConfig {
        cores: (0..cpus).map(Some).collect(),
        mux_pairs: vec![36000],
        ..PlaneConfig::default()
    };
    cfg.ports.range = PortRange {
        first: 40000,
        last: 47999,
    };
    cfg
}

pub(crate) fn run(o: &Options) -> Result<(), String> {
    let cfg = plane_config();
    // Every leg holds a socket: 200 calls need more files than some default limits allow.
    let _ = media::runtime::raise_open_files_limit();
    let plane = MediaPlane::spawn(cfg.clone()).map_err(|e| format!("demo: {e}"))?;
    for (i, w) in plane.workers().iter().enumerate() {
        let how = match (w.backend, w.fallback_reason) {
            (Backend::Uring, _) => "io_uring".to_string(),
            (Backend::Sockets, Some(why)) => {
                format!("socket fallback (io_uring unavailable: {why})")
            }
            (Backend::Sockets, None) => "socket backend".to_string(),
        };
        println!(
            "demo: media worker {i} on CPU {}: {how}",
            w.core.map_or("any".to_string(), |c| c.to_string())
        );
    }
    println!(
        "demo: media range {} on {}, traversal pair 36000/36001",
        cfg.ports.range, cfg.bind_ip
    );
    let dir = std::env::temp_dir().join(format!("portico-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("demo: {}: {e}", dir.display()))?;
    let control: PathBuf = dir.join("relay.sock");
    let listener = UnixListener::bind(&control)
        .map_err(|e| format!("demo: control socket {}: {e}", control.display()))?;
    let node = Arc::new(crate::relay_cmd::Node::new(plane));
    let serving = Arc::clone(&node);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            crate::relay_cmd::serve(&serving, stream);
        }
    });
    println!(
        "demo: {} calls for {} s: the E multiplexes SRTP (AES_CM_128_HMAC_SHA1_80) on the \
         traversal pair, the phones send plain RTP, 50 packets/s each way",
        o.calls, o.seconds
    );
    let mut lo = loadgen::Options::parse(&[]).map_err(|e| format!("demo: {e}"))?;
    lo.control = control;
    lo.calls = o.calls;
    lo.seconds = o.seconds;
    lo.mux = true;
    let result = loadgen::run(&lo);
    let _ = std::fs::remove_dir_all(&dir);
    let r = result?;
    let mut ok = true;
    for (dir, what) in [
        ("client_to_phone", "E → C → phones (SRTP→RTP)"),
        ("phone_to_client", "phones → C → E (RTP→SRTP)"),
    ] {
        let d = &r[dir];
        let (sent, got) = (count(&d["sent"]), count(&d["received"]));
        let auth = count(&d["auth_failures"]);
        println!(
            "demo: {what}: {got} of {sent} packets, {auth} failed authentication, latency \
             p50 {} µs p99 {} µs",
            d["latency_us"]["p50"], d["latency_us"]["p99"]
        );
        ok &= sent > 0 && got == sent && auth == 0;
    }
    let relay = &r["relay"];
    println!(
        "demo: relay: {} datagrams in, {} out, {} GSO sends, {} GRO receives, {} send errors",
        relay["received"],
        relay["sent"],
        relay["gso_sends"],
        relay["gro_receives"],
        relay["send_errors"]
    );
    if ok {
        println!("demo: every packet arrived, every SRTP packet authenticated");
        Ok(())
    } else {
        Err(format!(
            "demo: packets were lost or failed to authenticate: {r:#}"
        ))
    }
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Options::parse(&args(&["--calls", "10", "--seconds", "1"])).unwrap();
        assert_eq!((o.calls, o.seconds), (10, 1.0));
        for (bad, says) in [
            (&["--calls", "0"][..], "1 to 5000"),
            (&["--seconds", "nan"][..], "0.5 to 600"),
            (&["--calls"][..], "needs a value"),
            (&["--fly", "1"][..], "unknown option"),
        ] {
            let e = Options::parse(&args(bad)).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_default_reserves_the_traversal_pair_outside_the_range() {
        let c = plane_config();
        assert_eq!(c.mux_pairs, [36000]);
        assert!(!c.ports.range.contains(36000) && !c.ports.range.contains(36001));
        assert!(!c.cores.is_empty());
    }
}
