//! `edge srtp-demo`: an SDES-keyed SRTP round trip through every suite, checked packet by packet.

use media::sdes::{parse_line, CryptoAttribute};
use media::srtp::{MasterKey, Policy, Suite};
use std::time::Instant;

/// Options of `edge srtp-demo`.
#[derive(Debug)]
pub(crate) struct Options {
    packets: u32,
    size: usize,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            packets: 100_000,
            size: 172,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| format!("srtp-demo: {flag} needs a value"))?;
            match flag.as_str() {
                "--packets" => {
                    o.packets = value
                        .parse()
                        .map_err(|_| format!("srtp-demo: --packets {value:?} is not a count"))?;
                }
                "--size" => {
                    o.size = value
                        .parse()
                        .map_err(|_| format!("srtp-demo: --size {value:?} is not a byte count"))?;
                }
                other => return Err(format!("srtp-demo: unknown option {other:?}")),
            }
        }
        if !(12..=1500).contains(&o.size) {
            return Err(format!(
                "srtp-demo: --size must be 12 (an RTP header) to 1500 bytes, got {}",
                o.size
            ));
        }
        Ok(o)
    }
}

/// The RTP packet with sequence number `seq`: version 2, PT 0 (PCMU), SSRC 0x5eed, a payload that
/// depends on `seq` so a mix-up between packets shows.
fn rtp_packet(buf: &mut [u8], size: usize, seq: u16) {
    buf[..12].copy_from_slice(&[0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x5e, 0xed]);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    for (i, b) in buf[12..size].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8);
    }
}

pub(crate) fn run(o: &Options) -> Result<(), String> {
    println!(
        "SRTP round trip, {} packets of {} bytes per suite (sender and receiver keyed from the a=crypto line)",
        o.packets, o.size
    );
    println!(
        "{:<24} {:>12} {:>14}  a=crypto offer (key elided)",
        "suite", "verified", "ns/packet"
    );
    for suite in Suite::ALL {
        let key = MasterKey::random(suite).map_err(|e| format!("{suite}: {e}"))?;
        let line = format!("a=crypto:{}", CryptoAttribute::new(1, key, None));
        let offer = parse_line(&line).map_err(|e| format!("{suite}: {e}"))?;
        let mut tx = offer
            .context(Policy::new(suite))
            .map_err(|e| format!("{suite}: {e}"))?;
        let mut rx = offer
            .context(Policy::new(suite))
            .map_err(|e| format!("{suite}: {e}"))?;
        let mut buf = vec![0u8; o.size + tx.rtp_overhead()];
        let mut expect = vec![0u8; o.size];
        let started = Instant::now();
        for i in 0..o.packets {
            let seq = i as u16;
            rtp_packet(&mut buf, o.size, seq);
            let n = tx
                .protect_rtp(&mut buf, o.size)
                .map_err(|e| format!("{suite}: protect packet {i}: {e}"))?;
            let m = rx
                .unprotect_rtp(&mut buf[..n])
                .map_err(|e| format!("{suite}: unprotect packet {i}: {e}"))?;
            rtp_packet(&mut expect, o.size, seq);
            if buf[..m] != expect[..] {
                return Err(format!("{suite}: packet {i} came back changed"));
            }
        }
        let ns = started.elapsed().as_nanos() as f64 / f64::from(o.packets.max(1));
        let shown = line.split("inline:").next().unwrap_or(&line);
        println!(
            "{:<24} {:>12} {:>14.0}  {shown}inline:…",
            suite.sdes_name(),
            o.packets,
            ns
        );
    }
    println!("All suites verified. Per-packet cost against libsrtp2: `cargo xtask bench srtp` (benches/RESULTS.md).");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = Options::parse(&args(&["--packets", "10", "--size", "1200"])).unwrap();
        assert_eq!((o.packets, o.size), (10, 1200));
        assert!(Options::parse(&args(&["--packets"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(Options::parse(&args(&["--size", "5"]))
            .unwrap_err()
            .contains("--size"));
        assert!(Options::parse(&args(&["--bogus", "1"]))
            .unwrap_err()
            .contains("--bogus"));
        assert!(Options::parse(&args(&["--packets", "x"]))
            .unwrap_err()
            .contains("not a count"));
    }

    #[test]
    fn demo_runs_every_suite() {
        run(&Options {
            packets: 300,
            size: 200,
        })
        .unwrap();
    }
}
