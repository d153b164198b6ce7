//! SRTP/SRTCP per-packet cost: `media::srtp::Context` against libsrtp2 (`libsrtp2_ref::Session`).
//!
//! For every suite in [`Suite::ALL`], RTP protect and unprotect at 172 bytes (12-byte header and
//! a 160-byte G.711 20 ms payload) and 1200 bytes, and SRTCP protect and unprotect of an 80-byte
//! compound RTCP packet (SR with one report block, SDES with a CNAME). Default policy (replay
//! window 128), one master key, no MKI, encrypted SRTCP.
//!
//! Benchmark ids: group `srtp`, function `<SUITE>/<op>/<size>/<impl>`, e.g.
//! `srtp/AEAD_AES_128_GCM/rtp_unprotect/1200/libsrtp2`, where `<SUITE>` is the SDES name, `<op>`
//! one of `rtp_protect`, `rtp_unprotect`, `rtcp_protect`, `rtcp_unprotect`, `<size>` the plaintext
//! packet length in bytes and `<impl>` `ours` or `libsrtp2`. Criterion replaces the `/` inside a
//! function id with `_`, so the results land in
//! `target/criterion/srtp/<SUITE>_<op>_<size>_<impl>/new/{estimates,benchmark}.json`; the
//! `full_id` field of `benchmark.json` keeps the slashes (`cargo xtask bench srtp` reads it).
//! One criterion iteration is one packet, so the estimates are nanoseconds per packet.
//!
//! Method: `iter_custom`, in chunks of [`CHUNK`] packets. Untimed, each chunk builds its plaintext
//! packets with increasing sequence numbers (they continue across chunks, so the index keeps
//! advancing and the sequence number wraps as in a real stream) in buffers with
//! [`MAX_TRAILER`] bytes of room; for unprotect the persistent sender of the same implementation
//! then protects them, also untimed. Only the loop that protects (or unprotects) the chunk in place
//! is timed. Senders and receivers persist for the whole benchmark, so no packet is ever a replay.
//! Every result is checked after the timed loop: a benchmark never measures an error path. Both
//! implementations get exactly the same treatment.
//!
//! `SRTP_BENCH_QUICK=1` shortens warm-up, measurement and sample count for smoke runs; the numbers
//! it gives are not fit to be reported.

use std::fmt::Debug;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use libsrtp2_ref::{Config, Direction, Session, MAX_TRAILER};
use media::srtp::{Context, MasterKey, Policy, Suite};

mod common;

/// Packets per untimed-setup / timed-loop round.
const CHUNK: usize = 256;
/// RTP packet lengths (header included): G.711 20 ms, and a typical video packet.
const RTP_SIZES: [usize; 2] = [172, 1200];
/// Compound RTCP length: SR with one report block (52) + SDES with a 16-byte CNAME (28).
const RTCP_SIZE: usize = 80;
const RTP_HEADER_LEN: usize = 12;
const SSRC: u32 = 0x5eed_ca11;

/// The operations, as they appear in benchmark ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    RtpProtect,
    RtpUnprotect,
    RtcpProtect,
    RtcpUnprotect,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::RtpProtect => "rtp_protect",
            Op::RtpUnprotect => "rtp_unprotect",
            Op::RtcpProtect => "rtcp_protect",
            Op::RtcpUnprotect => "rtcp_unprotect",
        }
    }

    fn is_rtcp(self) -> bool {
        matches!(self, Op::RtcpProtect | Op::RtcpUnprotect)
    }

    fn is_protect(self) -> bool {
        matches!(self, Op::RtpProtect | Op::RtcpProtect)
    }
}

/// One side of one implementation: what the benchmark loop calls.
trait Endpoint: Sized {
    /// Name in benchmark ids.
    const NAME: &'static str;
    type Err: Debug + Copy;

    fn sender(suite: Suite, key_salt: &[u8]) -> Self;
    fn receiver(suite: Suite, key_salt: &[u8]) -> Self;
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Self::Err>;
    fn unprotect_rtp(&mut self, pkt: &mut [u8]) -> Result<usize, Self::Err>;
    fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Self::Err>;
    fn unprotect_rtcp(&mut self, pkt: &mut [u8]) -> Result<usize, Self::Err>;
}

fn ok<T, E: Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

fn ours(suite: Suite, key_salt: &[u8]) -> Context {
    let key = ok(MasterKey::from_key_salt(suite, key_salt), "master key");
    ok(
        Context::new(Policy::new(suite), &[(key, None)]),
        "Context::new",
    )
}

impl Endpoint for Context {
    const NAME: &'static str = "ours";
    type Err = media::srtp::Error;

    fn sender(suite: Suite, key_salt: &[u8]) -> Self {
        ours(suite, key_salt)
    }
    fn receiver(suite: Suite, key_salt: &[u8]) -> Self {
        ours(suite, key_salt)
    }
    #[inline]
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Self::Err> {
        Context::protect_rtp(self, buf, len)
    }
    #[inline]
    fn unprotect_rtp(&mut self, pkt: &mut [u8]) -> Result<usize, Self::Err> {
        Context::unprotect_rtp(self, pkt)
    }
    #[inline]
    fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Self::Err> {
        Context::protect_rtcp(self, buf, len)
    }
    #[inline]
    fn unprotect_rtcp(&mut self, pkt: &mut [u8]) -> Result<usize, Self::Err> {
        Context::unprotect_rtcp(self, pkt)
    }
}

fn reference(suite: Suite, key_salt: &[u8], direction: Direction) -> Session {
    // Config::new: one key, no MKI, window 128, encrypted SRTCP, no repeated transmit.
    let keys = [key_salt];
    ok(
        Session::new(&Config::new(suite.sdes_name(), direction, &keys)),
        "libsrtp2 Session::new",
    )
}

impl Endpoint for Session {
    const NAME: &'static str = "libsrtp2";
    type Err = i32;

    fn sender(suite: Suite, key_salt: &[u8]) -> Self {
        reference(suite, key_salt, Direction::Outbound)
    }
    fn receiver(suite: Suite, key_salt: &[u8]) -> Self {
        reference(suite, key_salt, Direction::Inbound)
    }
    #[inline]
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Self::Err> {
        Session::protect(self, buf, len)
    }
    #[inline]
    fn unprotect_rtp(&mut self, pkt: &mut [u8]) -> Result<usize, Self::Err> {
        Session::unprotect(self, pkt)
    }
    #[inline]
    fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Self::Err> {
        Session::protect_rtcp(self, buf, len)
    }
    #[inline]
    fn unprotect_rtcp(&mut self, pkt: &mut [u8]) -> Result<usize, Self::Err> {
        Session::unprotect_rtcp(self, pkt)
    }
}

/// Fixed master key || salt for `suite` (the same bytes for both implementations).
fn key_salt(suite: Suite) -> Vec<u8> {
    (0..suite.key_salt_len())
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
        .collect()
}

/// An RTP packet of `len` bytes (12-byte header, no CSRC, no extension); sequence number and
/// timestamp are set per packet by [`set_rtp_seq`].
fn rtp_template(len: usize) -> Vec<u8> {
    let pt = if len <= 172 { 0 } else { 96 }; // PCMU, or a dynamic video type
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0];
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..len - RTP_HEADER_LEN).map(|i| (i as u8).wrapping_mul(13) ^ 0x5a));
    p
}

fn set_rtp_seq(pkt: &mut [u8], seq: u16) {
    pkt[2..4].copy_from_slice(&seq.to_be_bytes());
    let ts = u32::from(seq).wrapping_mul(160);
    pkt[4..8].copy_from_slice(&ts.to_be_bytes());
}

/// An 80-byte compound RTCP packet: SR (V=2, RC=1, PT=200, length 12) with sender info and one
/// report block, then SDES (V=2, SC=1, PT=202, length 6) with one CNAME chunk.
fn rtcp_template() -> Vec<u8> {
    let mut p = Vec::with_capacity(RTCP_SIZE);
    // SR header: 52 bytes = 13 words, length field 12.
    p.extend_from_slice(&[0x81, 200, 0, 12]);
    p.extend_from_slice(&SSRC.to_be_bytes());
    // Sender info: NTP timestamp (8), RTP timestamp (4), packet count (4), octet count (4).
    p.extend_from_slice(&0xe9a1_b2c3_4d5e_6f70u64.to_be_bytes());
    p.extend_from_slice(&0x0001_e240u32.to_be_bytes());
    p.extend_from_slice(&1234u32.to_be_bytes());
    p.extend_from_slice(&(1234u32 * 160).to_be_bytes());
    // Report block: SSRC, fraction lost + cumulative lost, highest seq, jitter, LSR, DLSR.
    p.extend_from_slice(&0x0bad_f00du32.to_be_bytes());
    p.extend_from_slice(&[0x02, 0x00, 0x00, 0x05]);
    p.extend_from_slice(&0x0001_0400u32.to_be_bytes());
    p.extend_from_slice(&17u32.to_be_bytes());
    p.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
    p.extend_from_slice(&0x0000_8000u32.to_be_bytes());
    // SDES header: 28 bytes = 7 words, length field 6.
    p.extend_from_slice(&[0x81, 202, 0, 6]);
    p.extend_from_slice(&SSRC.to_be_bytes());
    let cname = b"bench@portico.ex";
    p.extend_from_slice(&[1, cname.len() as u8]);
    p.extend_from_slice(cname);
    p.extend_from_slice(&[0, 0]); // end of items, padding to a word
    assert_eq!(p.len(), RTCP_SIZE);
    p
}

/// Packets sent so far and the buffers of one chunk.
struct Stream {
    template: Vec<u8>,
    rtcp: bool,
    seq: u16,
    bufs: Vec<Vec<u8>>,
    /// Length of each packet of the chunk, ready for the timed loop.
    lens: Vec<usize>,
}

impl Stream {
    fn new(op: Op, size: usize) -> Stream {
        let template = if op.is_rtcp() {
            rtcp_template()
        } else {
            rtp_template(size)
        };
        assert_eq!(template.len(), size);
        Stream {
            template,
            rtcp: op.is_rtcp(),
            // Start near the wrap so that even a short run crosses it.
            seq: 65_000,
            bufs: (0..CHUNK).map(|_| vec![0u8; size + MAX_TRAILER]).collect(),
            lens: vec![size; CHUNK],
        }
    }

    /// Writes the next `n` plaintext packets into the chunk's buffers.
    fn fill(&mut self, n: usize) {
        let len = self.template.len();
        for (buf, l) in self.bufs[..n].iter_mut().zip(&mut self.lens[..n]) {
            buf[..len].copy_from_slice(&self.template);
            if !self.rtcp {
                set_rtp_seq(buf, self.seq);
                self.seq = self.seq.wrapping_add(1);
            }
            *l = len;
        }
    }
}

fn check<E: Debug>(results: &[Result<usize, E>], expect: impl Fn(usize) -> usize, what: &str) {
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(l) if *l == expect(i) => {}
            other => panic!(
                "{what}: packet {i} of the chunk gave {other:?}, expected Ok({})",
                expect(i)
            ),
        }
    }
}

/// Runs `iters` packets of `op` and returns the time spent in the timed loops only.
fn run<E: Endpoint>(
    op: Op,
    iters: u64,
    stream: &mut Stream,
    tx: &mut E,
    rx: &mut E,
    results: &mut [Result<usize, E::Err>],
    id: &str,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        left -= n as u64;
        stream.fill(n);
        let plain = stream.template.len();
        if !op.is_protect() {
            // Untimed: the same implementation's sender protects the chunk.
            for (buf, l) in stream.bufs[..n].iter_mut().zip(&mut stream.lens[..n]) {
                let r = if op.is_rtcp() {
                    tx.protect_rtcp(buf, *l)
                } else {
                    tx.protect_rtp(buf, *l)
                };
                *l = ok(r, "untimed protect before unprotect");
            }
        }
        let bufs = &mut stream.bufs[..n];
        let lens = &stream.lens[..n];
        let out = &mut results[..n];
        let start = Instant::now();
        match op {
            Op::RtpProtect => {
                for ((buf, &l), r) in bufs.iter_mut().zip(lens).zip(out.iter_mut()) {
                    *r = black_box(tx.protect_rtp(black_box(buf.as_mut_slice()), l));
                }
            }
            Op::RtcpProtect => {
                for ((buf, &l), r) in bufs.iter_mut().zip(lens).zip(out.iter_mut()) {
                    *r = black_box(tx.protect_rtcp(black_box(buf.as_mut_slice()), l));
                }
            }
            Op::RtpUnprotect => {
                for ((buf, &l), r) in bufs.iter_mut().zip(lens).zip(out.iter_mut()) {
                    *r = black_box(rx.unprotect_rtp(black_box(&mut buf[..l])));
                }
            }
            Op::RtcpUnprotect => {
                for ((buf, &l), r) in bufs.iter_mut().zip(lens).zip(out.iter_mut()) {
                    *r = black_box(rx.unprotect_rtcp(black_box(&mut buf[..l])));
                }
            }
        }
        total += start.elapsed();
        // Untimed: every call succeeded (protect: a packet longer than the plaintext; unprotect:
        // exactly the plaintext back).
        if op.is_protect() {
            for (i, r) in out.iter().enumerate() {
                match r {
                    Ok(l) if *l > plain => {}
                    other => panic!("{id}: packet {i} of the chunk gave {other:?}"),
                }
            }
        } else {
            check(out, |_| plain, id);
            let ok_bytes = bufs
                .iter()
                .all(|b| b[RTP_HEADER_LEN..plain] == stream.template[RTP_HEADER_LEN..]);
            assert!(
                ok_bytes,
                "{id}: unprotected payload differs from the plaintext"
            );
        }
    }
    total
}

fn bench_one<E: Endpoint>(c: &mut Criterion, suite: Suite, op: Op, size: usize) {
    let ks = key_salt(suite);
    let id = format!("{}/{}/{}/{}", suite.sdes_name(), op.name(), size, E::NAME);
    let mut tx = E::sender(suite, &ks);
    let mut rx = E::receiver(suite, &ks);
    let mut stream = Stream::new(op, size);
    let mut results: Vec<Result<usize, E::Err>> = vec![Ok(0); CHUNK];
    let mut group = c.benchmark_group("srtp");
    group.bench_function(id.as_str(), |b| {
        b.iter_custom(|iters| run(op, iters, &mut stream, &mut tx, &mut rx, &mut results, &id));
    });
    group.finish();
}

/// Once per suite, untimed: both implementations are set up alike, so they produce the same
/// bytes for the same packet (SRTP is deterministic for a given key and index).
fn same_output(suite: Suite) {
    let ks = key_salt(suite);
    let mut a = Context::sender(suite, &ks);
    let mut b = Session::sender(suite, &ks);
    let mut p = rtp_template(172);
    set_rtp_seq(&mut p, 1);
    let mut x = p.clone();
    x.resize(p.len() + MAX_TRAILER, 0);
    let mut y = x.clone();
    let lx = ok(Endpoint::protect_rtp(&mut a, &mut x, p.len()), "ours");
    let ly = ok(Endpoint::protect_rtp(&mut b, &mut y, p.len()), "libsrtp2");
    assert_eq!(
        &x[..lx],
        &y[..ly],
        "{suite}: ours and libsrtp2 disagree on the first packet"
    );
}

fn srtp(c: &mut Criterion) {
    for suite in Suite::ALL {
        same_output(suite);
        for size in RTP_SIZES {
            for op in [Op::RtpProtect, Op::RtpUnprotect] {
                bench_one::<Context>(c, suite, op, size);
                bench_one::<Session>(c, suite, op, size);
            }
        }
        for op in [Op::RtcpProtect, Op::RtcpUnprotect] {
            bench_one::<Context>(c, suite, op, RTCP_SIZE);
            bench_one::<Session>(c, suite, op, RTCP_SIZE);
        }
    }
}

criterion_group! {
    name = benches;
    config = common::config("SRTP_BENCH_QUICK");
    targets = srtp
}
criterion_main!(benches);
