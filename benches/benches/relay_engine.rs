//! The relay engine's own CPU cost per datagram: `media::relay::engine::Relay::handle_datagram`
//! with no socket around it, for each transform and for the datagrams it drops.
//!
//! `cargo xtask bench relay` measures the whole relay (engine, sockets, kernel) from outside; this
//! bench isolates the engine, so that the two together say how much of the per-packet cost is
//! ours and how much the kernel's.
//!
//! Transforms (leg A receives, leg B sends; see `media::relay::engine`):
//!
//! | id | leg A | leg B |
//! |---|---|---|
//! | `passthrough` | plain RTP | plain RTP (the E role) |
//! | `srtp_to_rtp` | `srtp_in` | plain (C role, outside → inside) |
//! | `rtp_to_srtp` | plain | `srtp_out` (C role, inside → outside) |
//! | `srtp_to_srtp` | `srtp_in` | `srtp_out`, another key |
//! | `mux_to_rtp` | traversal port, multiplex id (header stripped) | plain (E role, C → client) |
//! | `rtp_to_mux` | plain | traversal port, multiplex id (header added) (E role, client → C) |
//! | `drop_unknown_port` | – | – (RTP to a port no leg owns) |
//! | `drop_not_rtp` | garbage on a passthrough leg's port | – |
//! | `drop_auth_failure` | a forged SRTP packet on an `srtp_in` leg | – |
//!
//! SRTP is AES_CM_128_HMAC_SHA1_80 with a key of its own per leg and direction. RTP packets are
//! 172 bytes (12-byte header + 160-byte G.711 20 ms payload) and 1200 bytes; the drops are at 172
//! bytes. Benchmark ids: group `relay_engine`, function `<transform>/<size>`, so the results land
//! in `target/criterion/relay_engine/<transform>_<size>/new/{benchmark,estimates}.json`, with
//! `full_id` `relay_engine/<transform>/<size>` (read back by `cargo xtask bench relay-engine`).
//! One criterion iteration is one datagram: the estimates are nanoseconds per datagram.
//!
//! Flow table: the relay holds [`CALLS`] calls (two legs each) on RTP/RTCP pairs scattered over
//! an E's media range (36002–59999, shuffled with a fixed seed), plus the multiplexed traversal
//! ports 36000/36001; datagrams go to the calls in turn, so each lookup hits another entry. Every
//! call has its own SSRC, random first sequence number, SRTP keys, multiplex id and source address
//! (the C host's, shared, for the legs on the traversal port).
//!
//! Method: `iter_custom`, in chunks of [`CHUNK`] datagrams. Untimed, each chunk's datagrams are
//! written into buffers with [`HEADROOM`] before and [`TAILROOM`] after them: plain RTP with each
//! call's next sequence number, protected by the call's own sender context where leg A has
//! `srtp_in` (never a replay), with the multiplex header where leg A is on a traversal port. Only
//! the loop that hands the chunk to `handle_datagram` is timed. Time is an argument: one
//! `Instant`, advanced per chunk by the chunk's share of 50 packets/s per call. Before the first
//! chunk every call is primed untimed (three packets: latching, and RFC 3550 probation of the
//! receive statistics), so the timed loop measures the steady state. After each chunk, untimed,
//! every verdict is checked (forward: port, destination, length; drop: the reason), no event may
//! have been raised, and the output bytes are checked: equal to the plaintext (or its multiplex
//! framing), or, for SRTP output, unprotected by the receiving side's context back to the
//! plaintext for every [`SAMPLE_EVERY`]-th call (every packet of those calls, so that context sees
//! its stream in order).
//!
//! Instruction counts: with `RELAY_ENGINE_COUNT=<transform>/<size>` the binary runs
//! `RELAY_ENGINE_COUNT_N` datagrams (default 10,000) through the same set-up, priming, chunks
//! and checks, without criterion. Only [`relay_engine_measured`] hands datagrams to the relay
//! after priming, so `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='*relay_engine_measured*'` counts exactly the timed loops' instructions.
//!
//! `RELAY_ENGINE_BENCH_QUICK=1` shortens warm-up, measurement and sample count for smoke runs;
//! the numbers it gives are not fit to be reported.

use std::fmt::Debug;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use media::relay::engine::{
    LatchPolicy, LegConfig, Relay, RelayConfig, Verdict, HEADROOM, TAILROOM,
};
use media::relay::mux::{self, MUX_HEADER_LEN};
use media::relay::port_alloc::{DEFAULT_MEDIA_RANGE, DEFAULT_TRAVERSAL_PORTS};
use media::rtp_stats::DropReason;
use media::srtp::{Context, MasterKey, Policy, Suite};

mod common;

/// Datagrams per untimed-setup / timed-loop round.
const CHUNK: usize = 256;
/// Calls in the flow table (two legs each).
const CALLS: usize = 1000;
/// RTP packet lengths (12-byte header + payload): G.711 20 ms, and a typical video packet.
const RTP_SIZES: [usize; 2] = [172, 1200];
/// Length of the datagrams of the drop benchmarks.
const DROP_SIZE: usize = 172;
const RTP_HEADER_LEN: usize = 12;
const SUITE: Suite = Suite::AesCm128HmacSha1_80;
/// Packets per call sent untimed before measuring (latching, then RFC 3550 probation).
const PRIME_PACKETS: usize = 3;
/// SRTP output is unprotected and compared for every call whose index is a multiple of this.
const SAMPLE_EVERY: usize = 8;
/// Each call sends 50 packets/s: the relay sees one every 20 ms / [`CALLS`].
const PACKET_SPACING: Duration = Duration::from_micros(20_000 / CALLS as u64);
/// Where the C side of the traversal link sends from (E role).
const C_HOST: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 36000);

/// Environment variable of the instruction-count mode: `<transform>/<size>`.
const COUNT_ENV: &str = "RELAY_ENGINE_COUNT";
/// Datagrams the instruction-count mode runs.
const COUNT_N_ENV: &str = "RELAY_ENGINE_COUNT_N";
const COUNT_N_DEFAULT: u64 = 10_000;

/// What the benchmark sends through the relay, as it appears in benchmark ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transform {
    Passthrough,
    SrtpToRtp,
    RtpToSrtp,
    SrtpToSrtp,
    MuxToRtp,
    RtpToMux,
    DropUnknownPort,
    DropNotRtp,
    DropAuthFailure,
}

impl Transform {
    const ALL: [Transform; 9] = [
        Transform::Passthrough,
        Transform::SrtpToRtp,
        Transform::RtpToSrtp,
        Transform::SrtpToSrtp,
        Transform::MuxToRtp,
        Transform::RtpToMux,
        Transform::DropUnknownPort,
        Transform::DropNotRtp,
        Transform::DropAuthFailure,
    ];

    fn name(self) -> &'static str {
        match self {
            Transform::Passthrough => "passthrough",
            Transform::SrtpToRtp => "srtp_to_rtp",
            Transform::RtpToSrtp => "rtp_to_srtp",
            Transform::SrtpToSrtp => "srtp_to_srtp",
            Transform::MuxToRtp => "mux_to_rtp",
            Transform::RtpToMux => "rtp_to_mux",
            Transform::DropUnknownPort => "drop_unknown_port",
            Transform::DropNotRtp => "drop_not_rtp",
            Transform::DropAuthFailure => "drop_auth_failure",
        }
    }

    fn from_name(name: &str) -> Option<Transform> {
        Transform::ALL.into_iter().find(|t| t.name() == name)
    }

    fn sizes(self) -> &'static [usize] {
        if self.expected_drop().is_some() {
            &[DROP_SIZE]
        } else {
            &RTP_SIZES
        }
    }

    /// The drop reason every datagram must get, for the drop benchmarks.
    fn expected_drop(self) -> Option<DropReason> {
        match self {
            Transform::DropUnknownPort => Some(DropReason::UnknownFlow),
            Transform::DropNotRtp => Some(DropReason::NotRtp),
            Transform::DropAuthFailure => Some(DropReason::AuthFail),
            _ => None,
        }
    }

    /// The forwarding transform whose flow table (and priming traffic) a benchmark uses.
    fn base(self) -> Transform {
        match self {
            Transform::DropUnknownPort | Transform::DropNotRtp => Transform::Passthrough,
            Transform::DropAuthFailure => Transform::SrtpToRtp,
            t => t,
        }
    }

    /// Leg A unprotects what arrives.
    fn srtp_in(self) -> bool {
        matches!(self.base(), Transform::SrtpToRtp | Transform::SrtpToSrtp)
    }

    /// Leg B protects what leaves.
    fn srtp_out(self) -> bool {
        matches!(self.base(), Transform::RtpToSrtp | Transform::SrtpToSrtp)
    }

    /// Leg A is on the traversal port with a multiplex id.
    fn mux_in(self) -> bool {
        self.base() == Transform::MuxToRtp
    }

    /// Leg B is on the traversal port with a multiplex id.
    fn mux_out(self) -> bool {
        self.base() == Transform::RtpToMux
    }
}

fn ok<T, E: Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// xorshift64*: a fixed-seed generator, so every run builds the same flow table.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 32) as u8).collect()
    }
}

/// A context for `SUITE` keyed with `key_salt`.
fn context(key_salt: &[u8]) -> Context {
    let key = ok(MasterKey::from_key_salt(SUITE, key_salt), "master key");
    ok(
        Context::new(Policy::new(SUITE), &[(key, None)]),
        "Context::new",
    )
}

/// A matching pair of contexts on a fresh random key: (protecting side, unprotecting side).
fn context_pair(rng: &mut Rng) -> (Context, Context) {
    let ks = rng.bytes(SUITE.key_salt_len());
    (context(&ks), context(&ks))
}

/// Writes the RTP packet `seq` of a call (`RTP_HEADER_LEN` + `payload.len()` bytes) into `out`.
fn write_rtp(out: &mut [u8], ssrc: u32, seq: u16, payload: &[u8]) {
    let pt = if payload.len() + RTP_HEADER_LEN <= 172 {
        0 // PCMU
    } else {
        96 // a dynamic video type
    };
    out[0] = 0x80;
    out[1] = pt;
    out[2..4].copy_from_slice(&seq.to_be_bytes());
    out[4..8].copy_from_slice(&u32::from(seq).wrapping_mul(160).to_be_bytes());
    out[8..12].copy_from_slice(&ssrc.to_be_bytes());
    out[RTP_HEADER_LEN..RTP_HEADER_LEN + payload.len()].copy_from_slice(payload);
}

/// One call as the bench sees it: where its datagrams arrive and leave, and its endpoints' state.
struct Call {
    /// The local port datagrams for leg A arrive on (its RTP port, or the traversal port).
    in_port: u16,
    /// The multiplex id prefixed to what arrives (leg A on the traversal port).
    in_mux: Option<u32>,
    /// Where they come from.
    src: SocketAddr,
    /// The local port the relay must send from (leg B's RTP port, or the traversal port).
    out_port: u16,
    /// Where the relay must send to.
    dst: SocketAddr,
    /// The multiplex id the relay must prefix to what leaves (leg B on the traversal port).
    out_mux: Option<u32>,
    /// A port no leg owns (`drop_unknown_port` sends there).
    unknown_port: u16,
    ssrc: u32,
    /// The next sequence number the call sends.
    seq: u16,
    /// The remote sender's context for what it sends to leg A (`srtp_in` legs).
    tx: Option<Context>,
    /// The remote receiver's context for what leaves through leg B (`srtp_out` legs).
    rx: Option<Context>,
    /// The datagram of a drop benchmark that is the same every time (garbage, a forgery).
    canned: Vec<u8>,
}

/// What the timed loop hands to the relay, per datagram.
#[derive(Clone, Copy, Debug)]
struct Datagram {
    port: u16,
    src: SocketAddr,
    len: usize,
    call: usize,
    /// The RTP sequence number inside (forwarding benchmarks).
    seq: u16,
}

/// One benchmark's relay, calls and chunk buffers.
struct Bench {
    transform: Transform,
    size: usize,
    id: String,
    relay: Relay,
    calls: Vec<Call>,
    next_call: usize,
    now: Instant,
    payload: Vec<u8>,
    bufs: Vec<Vec<u8>>,
    items: Vec<Datagram>,
    verdicts: Vec<Verdict>,
    /// Where the expected plaintext is rebuilt for the checks.
    scratch: Vec<u8>,
}

impl Bench {
    fn new(transform: Transform, size: usize) -> Bench {
        let id = format!("{}/{size}", transform.name());
        let mut rng = Rng(0x0df0_ad8b_ee5c_a11e ^ size as u64);
        let traversal = DEFAULT_TRAVERSAL_PORTS;
        let mut relay = Relay::new(RelayConfig {
            mux_ports: vec![traversal.first, traversal.last],
            ..RelayConfig::default()
        });
        // The media range's RTP/RTCP pairs, shuffled: two per call, then the unknown ports.
        let range = DEFAULT_MEDIA_RANGE;
        let first = range.first + range.first % 2;
        let mut pairs: Vec<u16> = (first..range.last).step_by(2).collect();
        for i in (1..pairs.len()).rev() {
            let j = rng.below(i + 1);
            pairs.swap(i, j);
        }
        assert!(pairs.len() >= 3 * CALLS, "media range too small");
        let now = Instant::now();
        let mut calls = Vec::with_capacity(CALLS);
        let mut mux_ids: Vec<u32> = Vec::with_capacity(CALLS);
        for i in 0..CALLS {
            let (a_port, b_port) = (pairs[2 * i], pairs[2 * i + 1]);
            let octets = [(i / 250) as u8, (i % 250) as u8 + 1];
            let client = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(198, 18, 10 + octets[0], octets[1])),
                20_000 + 2 * (rng.below(20_000) as u16),
            );
            let inside = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(198, 19, octets[0], octets[1])),
                16_384 + 2 * (rng.below(8_000) as u16),
            );
            let mux_id = loop {
                let id = rng.next() as u32;
                if id != 0 && !mux_ids.contains(&id) {
                    break id;
                }
            };
            mux_ids.push(mux_id);

            let mut a = LegConfig::plain(a_port, Some(client));
            let mut b = LegConfig::plain(b_port, Some(inside));
            let (mut src, mut dst, mut in_port, mut out_port) = (client, inside, a_port, b_port);
            let (mut in_mux, mut out_mux) = (None, None);
            if transform.mux_in() {
                // E role, C → client: leg A is the call's flow on the traversal link.
                a = LegConfig::plain(traversal.first, Some(C_HOST));
                a.rtcp_port = Some(traversal.last);
                a.mux_id = Some(mux_id);
                b = LegConfig::plain(b_port, Some(client));
                (src, dst, in_port, in_mux) = (C_HOST, client, traversal.first, Some(mux_id));
            }
            if transform.mux_out() {
                // E role, client → C.
                b = LegConfig::plain(traversal.first, Some(C_HOST));
                b.rtcp_port = Some(traversal.last);
                b.mux_id = Some(mux_id);
                (dst, out_port, out_mux) = (C_HOST, traversal.first, Some(mux_id));
            }
            let mut tx = None;
            if transform.srtp_in() {
                let (sender, relay_in) = context_pair(&mut rng);
                a.latch = LatchPolicy::Authenticated;
                a.srtp_in = Some(relay_in);
                tx = Some(sender);
            }
            let mut rx = None;
            if transform.srtp_out() {
                let (relay_out, receiver) = context_pair(&mut rng);
                b.srtp_out = Some(relay_out);
                rx = Some(receiver);
            }
            ok(relay.allocate(now, a, b), "allocate");
            calls.push(Call {
                in_port,
                in_mux,
                src,
                out_port,
                dst,
                out_mux,
                unknown_port: pairs[2 * CALLS + i],
                ssrc: rng.next() as u32,
                seq: rng.next() as u16,
                tx,
                rx,
                canned: Vec::new(),
            });
        }
        let room = HEADROOM + MUX_HEADER_LEN + size + SUITE.rtp_tag_len() + TAILROOM;
        let mut bench = Bench {
            transform,
            size,
            id,
            relay,
            calls,
            next_call: 0,
            now,
            payload: (0..size - RTP_HEADER_LEN)
                .map(|i| (i as u8).wrapping_mul(13) ^ 0x5a)
                .collect(),
            bufs: (0..CHUNK).map(|_| vec![0u8; room]).collect(),
            items: Vec::with_capacity(CHUNK),
            verdicts: vec![Verdict::Keepalive; CHUNK],
            scratch: vec![0u8; room],
        };
        bench.prime();
        bench.make_canned(&mut rng);
        bench
    }

    /// Untimed: every call sends [`PRIME_PACKETS`] valid packets, which latch leg A (one event
    /// per leg) and take its receive statistics through probation.
    fn prime(&mut self) {
        for _ in 0..PRIME_PACKETS {
            for start in (0..CALLS).step_by(CHUNK) {
                let n = CHUNK.min(CALLS - start);
                self.fill(n, true);
                for ((d, buf), v) in self
                    .items
                    .iter()
                    .zip(&mut self.bufs)
                    .zip(&mut self.verdicts)
                {
                    *v = self
                        .relay
                        .handle_datagram(self.now, d.port, d.src, buf, HEADROOM, d.len);
                }
                self.check(n, true);
                while self.relay.poll_event().is_some() {}
                self.now += PACKET_SPACING * n as u32;
            }
        }
    }

    /// The datagrams of the drop benchmarks that do not change: garbage for `drop_not_rtp`, and
    /// for `drop_auth_failure` the call's next packet protected with a key the relay does not
    /// have (a fresh index, so the relay's replay check passes it on to authentication).
    fn make_canned(&mut self, rng: &mut Rng) {
        let len = self.size;
        for c in 0..CALLS {
            let canned = match self.transform {
                Transform::DropNotRtp => {
                    let mut g = rng.bytes(len);
                    g[0] = 0xff; // no protocol that may share a media port starts so
                    g
                }
                Transform::DropAuthFailure => {
                    let (mut forger, _) = context_pair(rng);
                    let call = &self.calls[c];
                    let mut p = vec![0u8; len + SUITE.rtp_tag_len()];
                    write_rtp(&mut p, call.ssrc, call.seq, &self.payload);
                    let n = ok(forger.protect_rtp(&mut p, len), "forging");
                    p.truncate(n);
                    p
                }
                _ => continue,
            };
            self.calls[c].canned = canned;
        }
    }

    /// Untimed: writes the next `n` datagrams into the chunk's buffers, one per call in turn.
    /// `valid` gives the forwarding traffic of the benchmark's flow table whatever it measures.
    fn fill(&mut self, n: usize, valid: bool) {
        self.items.clear();
        let what = if valid {
            self.transform.base()
        } else {
            self.transform
        };
        for buf in &mut self.bufs[..n] {
            let c = self.next_call;
            self.next_call = (self.next_call + 1) % CALLS;
            let call = &mut self.calls[c];
            let mut d = Datagram {
                port: call.in_port,
                src: call.src,
                len: 0,
                call: c,
                seq: call.seq,
            };
            match what {
                Transform::DropNotRtp | Transform::DropAuthFailure => {
                    let g = &call.canned;
                    buf[HEADROOM..HEADROOM + g.len()].copy_from_slice(g);
                    d.len = g.len();
                }
                _ => {
                    if what == Transform::DropUnknownPort {
                        d.port = call.unknown_port;
                    }
                    let mut at = HEADROOM;
                    if let Some(id) = call.in_mux {
                        buf[at..at + MUX_HEADER_LEN].copy_from_slice(&mux::header(id));
                        at += MUX_HEADER_LEN;
                    }
                    write_rtp(&mut buf[at..], call.ssrc, call.seq, &self.payload);
                    let mut len = self.size;
                    if let Some(tx) = call.tx.as_mut() {
                        len = ok(tx.protect_rtp(&mut buf[at..], len), "sender's protect");
                    }
                    d.len = at - HEADROOM + len;
                    call.seq = call.seq.wrapping_add(1);
                }
            }
            self.items.push(d);
        }
    }

    /// Untimed: checks the verdicts and output of the chunk's first `n` datagrams.
    fn check(&mut self, n: usize, valid: bool) {
        let id = &self.id;
        let expected_drop = if valid {
            None
        } else {
            self.transform.expected_drop()
        };
        let what = self.transform.base();
        let out_len = self.size
            + if what.srtp_out() {
                SUITE.rtp_tag_len()
            } else {
                0
            }
            + if what.mux_out() { MUX_HEADER_LEN } else { 0 };
        for (i, (d, v)) in self.items[..n].iter().zip(&self.verdicts[..n]).enumerate() {
            let call = &mut self.calls[d.call];
            let t = match (expected_drop, *v) {
                (Some(r), Verdict::Drop(got)) if got == r => continue,
                (None, Verdict::Forward(t)) => t,
                (_, other) => panic!(
                    "{id}: datagram {i} of the chunk (call {}) gave {other:?}, expected {}",
                    d.call,
                    expected_drop.map_or("a forward".to_string(), |r| format!("a drop ({r})"))
                ),
            };
            assert!(
                t.src_port == call.out_port && t.dst == call.dst && t.len == out_len,
                "{id}: datagram {i} of the chunk (call {}): {t:?}, expected {} → {}, {out_len} bytes",
                d.call,
                call.out_port,
                call.dst
            );
            let mut out = &self.bufs[i][t.start..t.start + t.len];
            if let Some(mux_id) = call.out_mux {
                assert_eq!(
                    out[..MUX_HEADER_LEN],
                    mux::header(mux_id),
                    "{id}: multiplex header"
                );
                out = &out[MUX_HEADER_LEN..];
            }
            let plain = &mut self.scratch[..self.size];
            write_rtp(plain, call.ssrc, d.seq, &self.payload);
            match call.rx.as_mut() {
                None => assert!(out == &plain[..], "{id}: call {} got other bytes", d.call),
                Some(rx) if d.call % SAMPLE_EVERY == 0 => {
                    let mut copy = out.to_vec();
                    let len = ok(rx.unprotect_rtp(&mut copy), "receiver's unprotect");
                    assert!(
                        copy[..len] == plain[..],
                        "{id}: call {} unprotects to other bytes",
                        d.call
                    );
                }
                // Not sampled: the header, which SRTP leaves in the clear.
                Some(_) => assert!(
                    out[..RTP_HEADER_LEN] == plain[..RTP_HEADER_LEN],
                    "{id}: call {} got another header",
                    d.call
                ),
            }
        }
    }

    /// Runs `iters` datagrams and returns the time spent in the timed loops only.
    fn run(&mut self, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
            left -= n as u64;
            self.fill(n, false);
            let start = Instant::now();
            relay_engine_measured(
                &mut self.relay,
                self.now,
                &self.items,
                &mut self.bufs[..n],
                &mut self.verdicts[..n],
            );
            total += start.elapsed();
            self.check(n, false);
            if let Some(e) = self.relay.poll_event() {
                panic!("{}: event in the steady state: {e:?}", self.id);
            }
            self.now += PACKET_SPACING * n as u32;
        }
        total
    }
}

/// The timed loop: each datagram of the chunk through the relay. Nothing else hands datagrams to
/// the relay once it is primed, so callgrind can count this function's instructions alone.
#[inline(never)]
fn relay_engine_measured(
    relay: &mut Relay,
    now: Instant,
    items: &[Datagram],
    bufs: &mut [Vec<u8>],
    verdicts: &mut [Verdict],
) {
    for ((d, buf), v) in items.iter().zip(bufs.iter_mut()).zip(verdicts.iter_mut()) {
        *v = relay.handle_datagram(
            now,
            d.port,
            d.src,
            black_box(buf.as_mut_slice()),
            HEADROOM,
            d.len,
        );
    }
}

fn bench_one(c: &mut Criterion, transform: Transform, size: usize) {
    let mut bench = Bench::new(transform, size);
    let id = bench.id.clone();
    let mut group = c.benchmark_group("relay_engine");
    group.bench_function(id.as_str(), |b| b.iter_custom(|iters| bench.run(iters)));
    group.finish();
}

fn relay_engine(c: &mut Criterion) {
    for transform in Transform::ALL {
        for &size in transform.sizes() {
            bench_one(c, transform, size);
        }
    }
}

/// The instruction-count mode: `RELAY_ENGINE_COUNT_N` datagrams of one benchmark, no criterion.
fn count(spec: &str) {
    let parsed = spec.split_once('/').and_then(|(t, s)| {
        let t = Transform::from_name(t)?;
        let s: usize = s.parse().ok()?;
        t.sizes().contains(&s).then_some((t, s))
    });
    let Some((transform, size)) = parsed else {
        let known: Vec<String> = Transform::ALL
            .iter()
            .flat_map(|t| t.sizes().iter().map(move |s| format!("{}/{s}", t.name())))
            .collect();
        panic!("{COUNT_ENV}={spec}: not one of {}", known.join(", "));
    };
    let n = match std::env::var(COUNT_N_ENV) {
        Ok(v) => ok(v.parse::<u64>(), COUNT_N_ENV),
        Err(_) => COUNT_N_DEFAULT,
    };
    let mut bench = Bench::new(transform, size);
    let _ = bench.run(n);
    println!("relay_engine/{}: {n} datagrams", bench.id);
}

criterion_group! {
    name = benches;
    config = common::config("RELAY_ENGINE_BENCH_QUICK");
    targets = relay_engine
}

// `criterion_main!`, with the instruction-count mode in front.
fn main() {
    if let Ok(spec) = std::env::var(COUNT_ENV) {
        count(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
