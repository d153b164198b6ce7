//! `edge sipload calls`: calls through an edge, with media, for `cargo xtask bench calls` and
//! for operators sizing an edge.
//!
//! Two kinds of phones, as MRA has them:
//!
//! - **callers**, remote: each its own TLS connection to the edge under test (`--target`),
//!   registered through it first (its REGISTERs carry the RFC 5626 outbound Contact of
//!   `edge sipload`; a 401/407 is answered with MD5 Digest, `--password`). A caller's offer is
//!   `RTP/SAVP` PCMU with an `a=crypto` AES_CM_128_HMAC_SHA1_80 key of its own, fresh per call.
//! - **callees**, inside: registered directly at call control (`--registrar`, SIP over UDP from
//!   one socket on `--inside`, Digest answered the same way); they answer `RTP/AVP` PCMU. So the
//!   media is SRTP outside and plain RTP inside, and the edge decrypts and encrypts it, which is
//!   the edge's job in MRA (portico's C, or rtpengine behind a Kamailio edge).
//!
//! Call `j` (0 ≤ j < `--calls`) is placed by caller `j mod --phones` to callee `j mod --phones`
//! at `j / --rate` seconds after the calls start; the callee answers 200 at once; the caller
//! ACKs. Then both ends send one RTP packet every 1/`--pps` s (160 bytes of PCMU, 20 ms) to
//! the address and port of the description they received, the caller protected with its key,
//! and each unprotects what arrives with the key of the description it received (the edge's),
//! counting packets by RTP sequence number. `--hold` seconds after the 200 the caller stops
//! its media, waits `--tail-ms` (what is in flight arrives) and sends BYE.
//!
//! Counted: calls attempted, established and failed by reason (status code, `timeout` for no
//! final answer within `--timeout`, `bad_answer` for a 200 whose description cannot be used,
//! `no_flow` when the caller's connection or registration failed, `closed`); set-up latency
//! from each INVITE's *scheduled* time to its 200 (the generator's own lateness counts);
//! BYEs answered and failed; the most calls up at once; per direction, packets sent, received,
//! lost, duplicated and failing authentication. Loss **outside → inside** is exact (the caller
//! stops before its BYE: what it sent and the callee did not receive is lost); **inside →
//! outside** counts the packets missing below the highest sequence number received (the callee
//! sends until the BYE reaches it, so the packets in flight when the edge closes the call's
//! media are not counted as lost; a call that received nothing counts all the callee sent).
//!
//! Progress goes to stderr once a second (`sipload: t=… calls placed=… active=… media_rx=…`),
//! with `registered` when every phone has its registration outcome, `calls start` when the
//! first INVITE is due and `calls done` when every call has its outcome; a bench reads CPU
//! time at those lines. At the end one JSON object goes to stdout.
//!
//! Threads: the SIP side runs on a current-thread tokio runtime (a task per caller, one for all
//! callees); the media on one thread of its own, two UDP sockets (all callers' media from one,
//! all callees' from the other, `sendmmsg`/`recvmmsg` batches), calls told apart by the
//! edge's source address.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use media::runtime::UdpBatch;
use media::sdes::CryptoAttribute;
use media::srtp::{Context, MasterKey, Policy, Suite};
use rustls_pki_types::ServerName;
use serde_json::{json, Value};
use signaling::sdp::Sdp;
use signaling::sip::{Frame, Framer, Limits, Message, Method, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc as tmpsc, watch, Notify};
use tokio::time::{sleep_until, timeout};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::digest::{self, Challenge, Credentials};
use super::register::{self, Outcome, Profile, UserAgent};
use super::stats::Bucket;

/// The SRTP suite of every caller's offer.
const SUITE: Suite = Suite::AesCm128HmacSha1_80;
/// RTP payload: 20 ms of PCMU.
const PAYLOAD: usize = 160;
/// RTP header without CSRCs or extensions.
const RTP_HEADER: usize = 12;
/// A dialog whose INVITE timed out is kept this long to answer a late 200 (ACK and BYE).
const ABANDONED_KEEP: Duration = Duration::from_secs(32);
/// RFC 3261 T1 and T2: the callee's 200 is sent again until the ACK comes.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

/// Options of `edge sipload calls`.
#[derive(Clone, Debug)]
pub(crate) struct CallOptions {
    target: SocketAddr,
    server_name: Option<String>,
    ca: Option<PathBuf>,
    insecure: bool,
    registrar: SocketAddr,
    domain: String,
    password: Option<String>,
    phones: u32,
    first_user: u32,
    calls: u32,
    rate: f64,
    hold: f64,
    pps: u32,
    register_rate: f64,
    timeout: Duration,
    tail: Duration,
    bind: Option<IpAddr>,
    inside: IpAddr,
    core: Option<usize>,
}

pub(crate) const CALLS_USAGE: &str = "\
usage: edge sipload calls --target IP:PORT (--ca PEM [--server-name NAME] | --insecure)
         --registrar IP:PORT [--domain D] [--password P] [--phones N] [--first-user K]
         [--calls N] [--rate R] [--hold S] [--pps N] [--register-rate R] [--timeout S]
         [--tail-ms MS] [--bind IP] [--inside IP] [--core N]
  N callers over TLS through the edge at --target (SRTP, their own keys) call N callees
  registered at --registrar over UDP from --inside (plain RTP): --calls calls at --rate per
  second, each held --hold s with --pps packets per second each way; JSON on stdout.
  Defaults: 100 phones, 100 calls at 10/s, hold 5 s, 50 pps, register at 200/s, timeout 10 s,
  tail 200 ms, --inside 127.0.0.1, domain example.test.";

impl CallOptions {
    pub(crate) fn parse(args: &[String]) -> Result<CallOptions, String> {
        let mut o = CallOptions {
            target: SocketAddr::from(([127, 0, 0, 1], 5061)),
            server_name: None,
            ca: None,
            insecure: false,
            registrar: SocketAddr::from(([127, 0, 0, 1], 5060)),
            domain: "example.test".into(),
            password: None,
            phones: 100,
            first_user: 0,
            calls: 100,
            rate: 10.0,
            hold: 5.0,
            pps: 50,
            register_rate: 200.0,
            timeout: Duration::from_secs(10),
            tail: Duration::from_millis(200),
            bind: None,
            inside: IpAddr::from([127, 0, 0, 1]),
            core: None,
        };
        let (mut target, mut registrar) = (false, false);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--insecure" {
                o.insecure = true;
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(CALLS_USAGE.into());
            }
            let v = it
                .next()
                .ok_or_else(|| format!("sipload calls: {flag} needs a value"))?;
            let bad = |what: &str| format!("sipload calls: {flag} {v:?}: {what}");
            let number = |lo: f64, hi: f64| {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= lo && *s <= hi)
                    .ok_or_else(|| bad(&format!("expected {lo} to {hi}")))
            };
            let count = |lo: u32, hi: u32| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| bad(&format!("expected {lo} to {hi}")))
            };
            match flag.as_str() {
                "--target" => {
                    o.target = v.parse().map_err(|_| bad("expected IP:PORT"))?;
                    target = true;
                }
                "--registrar" => {
                    o.registrar = v.parse().map_err(|_| bad("expected IP:PORT"))?;
                    registrar = true;
                }
                "--server-name" => o.server_name = Some(v.clone()),
                "--ca" => o.ca = Some(PathBuf::from(v)),
                "--domain" => {
                    if v.is_empty()
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                    {
                        return Err(bad("expected a host name"));
                    }
                    o.domain = v.clone();
                }
                "--password" => o.password = Some(v.clone()),
                "--phones" => o.phones = count(1, 20_000)?,
                "--first-user" => o.first_user = count(0, 90_000_000)?,
                "--calls" => o.calls = count(1, 1_000_000)?,
                "--rate" => o.rate = number(0.01, 100_000.0)?,
                "--hold" => o.hold = number(0.0, 86_400.0)?,
                "--pps" => o.pps = count(1, 1000)?,
                "--register-rate" => o.register_rate = number(0.1, 100_000.0)?,
                "--timeout" => o.timeout = Duration::from_secs_f64(number(0.1, 300.0)?),
                "--tail-ms" => o.tail = Duration::from_millis(u64::from(count(0, 10_000)?)),
                "--bind" => o.bind = Some(v.parse().map_err(|_| bad("not an IP address"))?),
                "--inside" => o.inside = v.parse().map_err(|_| bad("not an IP address"))?,
                "--core" => o.core = Some(v.parse().map_err(|_| bad("not a CPU number"))?),
                other => return Err(format!("sipload calls: unknown option {other:?}")),
            }
        }
        if !target || !registrar {
            return Err(
                "sipload calls: --target IP:PORT and --registrar IP:PORT are required".into(),
            );
        }
        if o.ca.is_none() && !o.insecure {
            return Err("sipload calls: give --ca PEM or --insecure".into());
        }
        Ok(o)
    }

    /// The options of the REGISTER generator that share the TLS settings.
    fn tls_options(&self) -> super::Options {
        super::Options {
            target: self.target,
            server_name: self.server_name.clone(),
            ca: self.ca.clone(),
            insecure: self.insecure,
            users: self.phones,
            first_user: self.first_user,
            domain: self.domain.clone(),
            expires: 3600,
            rate: self.register_rate,
            refresh_rate: 0.0,
            seconds: 0.0,
            password: self.password.clone(),
            route: None,
            bind: self.bind,
            timeout: self.timeout,
            keepalive: None,
            core: self.core,
        }
    }

    /// User index of callee `k` (after the callers' block).
    fn callee_index(&self, k: u32) -> u32 {
        self.first_user + self.phones + k
    }
}

/// `edge sipload calls …`.
pub(crate) fn main(args: &[String]) -> Result<(), String> {
    let o = CallOptions::parse(args)?;
    let summary = run(&o)?;
    println!("{summary:#}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Media

/// What the SIP side tells the media thread. Leg `2j` is call `j`'s caller, `2j + 1` its callee.
enum MediaCmd {
    /// Expect the call's media from `peer` (unprotected with `rx`), and send there (protected
    /// with `tx`) once told to.
    Open {
        leg: u32,
        peer: SocketAddr,
        tx: Option<Box<Context>>,
        rx: Option<Box<Context>>,
    },
    /// Start sending.
    Send { leg: u32 },
    /// Stop sending (still receiving).
    Stop { leg: u32 },
    /// The call is over for this leg.
    Close { leg: u32 },
    /// Report and end.
    Finish,
}

/// Counters the SIP side prints every second.
#[derive(Debug, Default)]
struct MediaCounters {
    sent: AtomicU64,
    received: AtomicU64,
    /// Packets sent more than 10 ms after their time (the generator fell behind).
    late: AtomicU64,
}

/// What one leg received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Received {
    /// Distinct packets.
    packets: u64,
    duplicates: u64,
    auth_failures: u64,
    /// Highest extended sequence number seen.
    highest: Option<u32>,
    /// Lowest sequence number seen (of the first 2^15 packets).
    lowest: Option<u16>,
    /// Bit `i`: packet `highest - i` seen (i < 64).
    window: u64,
}

impl Received {
    /// A packet with sequence number `seq` arrived (the sender starts at 0).
    fn on_seq(&mut self, seq: u16) {
        if self.highest.is_none_or(|h| h < 0x8000) && self.lowest.is_none_or(|l| seq < l) {
            self.lowest = Some(seq);
        }
        let Some(h) = self.highest else {
            self.highest = Some(u32::from(seq));
            self.window = 1;
            self.packets += 1;
            return;
        };
        // The extended sequence number nearest to the highest seen.
        let mut ext = (h & !0xffff) | u32::from(seq);
        if ext + 0x8000 < h {
            ext += 0x1_0000;
        } else if ext > h + 0x8000 && ext >= 0x1_0000 {
            ext -= 0x1_0000;
        }
        if ext > h {
            let shift = ext - h;
            self.window = if shift >= 64 { 0 } else { self.window << shift } | 1;
            self.highest = Some(ext);
            self.packets += 1;
        } else {
            let back = h - ext;
            if back >= 64 {
                // Too old to tell: counted as new (reordering this deep does not happen here).
                self.packets += 1;
            } else if self.window & (1 << back) != 0 {
                self.duplicates += 1;
            } else {
                self.window |= 1 << back;
                self.packets += 1;
            }
        }
    }

    /// Packets missing below the highest received (sequence numbers start at 0).
    fn missing(&self) -> u64 {
        self.highest
            .map_or(0, |h| (u64::from(h) + 1).saturating_sub(self.packets))
    }
}

struct MediaLeg {
    outside: bool,
    peer: SocketAddr,
    tx: Option<Box<Context>>,
    rx: Option<Box<Context>>,
    ssrc: u32,
    next_seq: u16,
    sending: bool,
    /// Bumped at each start: stale timer entries are skipped.
    epoch: u32,
    sent: u64,
    received: Received,
    open: bool,
}

/// Per-direction totals of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Direction {
    sent: u64,
    received: u64,
    lost: u64,
    /// Of those lost, before the first packet received (the stream's start).
    lost_at_start: u64,
    /// Of those lost, after the highest received (outside → inside only: the stream's end).
    lost_at_end: u64,
    duplicates: u64,
    auth_failures: u64,
}

impl Direction {
    fn loss_ratio(&self) -> f64 {
        let n = self.received + self.lost;
        if n == 0 {
            0.0
        } else {
            self.lost as f64 / n as f64
        }
    }

    fn json(&self) -> Value {
        json!({
            "sent": self.sent,
            "received": self.received,
            "lost": self.lost,
            "lost_at_start": self.lost_at_start,
            "lost_at_end": self.lost_at_end,
            "loss_ratio": (self.loss_ratio() * 1e7).round() / 1e7,
            "duplicates": self.duplicates,
            "auth_failures": self.auth_failures,
        })
    }
}

/// Loss per direction over the calls: leg `2j` is call `j`'s caller (outside), `2j + 1` its
/// callee (inside). Outside → inside: what the caller sent that the callee did not receive;
/// inside → outside: what is missing below the highest sequence number the caller received
/// (all the callee sent if the caller received nothing). Also the calls that lost any packet.
fn directions(
    pairs: impl Iterator<Item = (Option<(u64, Received)>, Option<(u64, Received)>)>,
) -> (Direction, Direction, u64) {
    let (mut up, mut down, mut lossy) = (Direction::default(), Direction::default(), 0);
    for (caller, callee) in pairs {
        let (c_sent, c_recv) = caller.unwrap_or_default();
        let (e_sent, e_recv) = callee.unwrap_or_default();
        let up_lost = c_sent.saturating_sub(e_recv.packets);
        let down_lost = match c_recv.highest {
            Some(_) => c_recv.missing(),
            None => e_sent,
        };
        up.sent += c_sent;
        up.received += e_recv.packets;
        up.lost += up_lost;
        if c_sent > 0 {
            let start = e_recv.lowest.map_or(c_sent, u64::from);
            let end = e_recv
                .highest
                .map_or(0, |h| c_sent.saturating_sub(u64::from(h) + 1));
            up.lost_at_start += start.min(up_lost);
            up.lost_at_end += end.min(up_lost.saturating_sub(start));
        }
        down.lost_at_start += c_recv.lowest.map_or(0, u64::from);
        up.duplicates += e_recv.duplicates;
        up.auth_failures += e_recv.auth_failures;
        down.sent += e_sent;
        down.received += c_recv.packets;
        down.lost += down_lost;
        down.duplicates += c_recv.duplicates;
        down.auth_failures += c_recv.auth_failures;
        if up_lost + down_lost > 0 {
            lossy += 1;
        }
    }
    (up, down, lossy)
}

/// The media thread: both sockets, every leg, the send schedule.
struct MediaEngine {
    outside: UdpBatch,
    inside: UdpBatch,
    legs: Vec<Option<MediaLeg>>,
    by_outside_src: HashMap<SocketAddr, u32>,
    by_inside_src: HashMap<SocketAddr, u32>,
    schedule: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    interval: Duration,
    counters: Arc<MediaCounters>,
    unknown_source: u64,
    not_rtp: u64,
    send_errors: u64,
    late_10ms: u64,
    max_late: Duration,
    scratch: Vec<u8>,
}

impl MediaEngine {
    fn on_cmd(&mut self, cmd: MediaCmd, now: Instant) {
        match cmd {
            MediaCmd::Open { leg, peer, tx, rx } => {
                let outside = leg % 2 == 0;
                let Some(slot) = self.legs.get_mut(leg as usize) else {
                    return;
                };
                *slot = Some(MediaLeg {
                    outside,
                    peer,
                    tx,
                    rx,
                    ssrc: 0x5100_0000 ^ leg,
                    next_seq: 0,
                    sending: false,
                    epoch: 0,
                    sent: 0,
                    received: Received::default(),
                    open: true,
                });
                let map = if outside {
                    &mut self.by_outside_src
                } else {
                    &mut self.by_inside_src
                };
                map.insert(peer, leg);
            }
            MediaCmd::Send { leg } => {
                if let Some(Some(l)) = self.legs.get_mut(leg as usize) {
                    if l.open && !l.sending {
                        l.sending = true;
                        l.epoch = l.epoch.wrapping_add(1);
                        self.schedule.push(Reverse((now, leg, l.epoch)));
                    }
                }
            }
            MediaCmd::Stop { leg } => {
                if let Some(Some(l)) = self.legs.get_mut(leg as usize) {
                    l.sending = false;
                }
            }
            MediaCmd::Close { leg } => {
                if let Some(Some(l)) = self.legs.get_mut(leg as usize) {
                    l.sending = false;
                    l.open = false;
                    l.tx = None;
                    l.rx = None;
                    let map = if l.outside {
                        &mut self.by_outside_src
                    } else {
                        &mut self.by_inside_src
                    };
                    if map.get(&l.peer) == Some(&leg) {
                        map.remove(&l.peer);
                    }
                }
            }
            MediaCmd::Finish => {}
        }
    }

    /// Sends every packet due by `now`; returns how many.
    fn send_due(&mut self, now: Instant) -> usize {
        const BATCH: usize = 64;
        let mut out: Vec<(SocketAddr, [u8; 256], usize)> = Vec::with_capacity(BATCH);
        let mut ins: Vec<(SocketAddr, [u8; 256], usize)> = Vec::with_capacity(BATCH);
        let mut total = 0;
        while let Some(Reverse((due, leg, epoch))) = self.schedule.peek().copied() {
            if due > now {
                break;
            }
            self.schedule.pop();
            let Some(Some(l)) = self.legs.get_mut(leg as usize) else {
                continue;
            };
            if !l.sending || l.epoch != epoch {
                continue;
            }
            let late = now.saturating_duration_since(due);
            if late > Duration::from_millis(10) {
                self.late_10ms += 1;
                self.counters.late.fetch_add(1, Ordering::Relaxed);
            }
            self.max_late = self.max_late.max(late);
            let mut buf = [0u8; 256];
            let seq = l.next_seq;
            buf[0] = 0x80;
            buf[1] = 0; // PCMU
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[4..8].copy_from_slice(&u32::from(seq).wrapping_mul(160).to_be_bytes());
            buf[8..12].copy_from_slice(&l.ssrc.to_be_bytes());
            buf[RTP_HEADER..RTP_HEADER + PAYLOAD].fill(0xff);
            let len = match l.tx.as_mut() {
                Some(ctx) => match ctx.protect_rtp(&mut buf, RTP_HEADER + PAYLOAD) {
                    Ok(n) => n,
                    Err(_) => {
                        self.send_errors += 1;
                        continue;
                    }
                },
                None => RTP_HEADER + PAYLOAD,
            };
            l.next_seq = seq.wrapping_add(1);
            l.sent += 1;
            self.schedule
                .push(Reverse((due + self.interval, leg, epoch)));
            let batch = if l.outside { &mut out } else { &mut ins };
            batch.push((l.peer, buf, len));
            total += 1;
            if out.len() == BATCH {
                self.send_errors += flush(&mut self.outside, &mut out);
            }
            if ins.len() == BATCH {
                self.send_errors += flush(&mut self.inside, &mut ins);
            }
        }
        self.send_errors += flush(&mut self.outside, &mut out);
        self.send_errors += flush(&mut self.inside, &mut ins);
        self.counters
            .sent
            .fetch_add(total as u64, Ordering::Relaxed);
        total
    }

    /// Receives what is waiting on both sockets; returns how many datagrams.
    fn receive(&mut self) -> usize {
        let mut total = 0;
        for outside in [true, false] {
            for _ in 0..16 {
                let (sock, map) = if outside {
                    (&mut self.outside, &self.by_outside_src)
                } else {
                    (&mut self.inside, &self.by_inside_src)
                };
                let legs = &mut self.legs;
                let scratch = &mut self.scratch;
                let (unknown, not_rtp) = (&mut self.unknown_source, &mut self.not_rtp);
                let got = sock
                    .recv(|src, d| {
                        let Some(l) = map
                            .get(&src)
                            .and_then(|&leg| legs.get_mut(leg as usize))
                            .and_then(Option::as_mut)
                        else {
                            *unknown += 1;
                            return;
                        };
                        if d.len() < RTP_HEADER || d[0] >> 6 != 2 {
                            *not_rtp += 1;
                            return;
                        }
                        let seq = match l.rx.as_mut() {
                            Some(ctx) => {
                                scratch.clear();
                                scratch.extend_from_slice(d);
                                if ctx.unprotect_rtp(scratch).is_err() {
                                    l.received.auth_failures += 1;
                                    return;
                                }
                                u16::from_be_bytes([scratch[2], scratch[3]])
                            }
                            None => u16::from_be_bytes([d[2], d[3]]),
                        };
                        l.received.on_seq(seq);
                    })
                    .unwrap_or(0);
                total += got;
                if got == 0 {
                    break;
                }
            }
        }
        self.counters
            .received
            .fetch_add(total as u64, Ordering::Relaxed);
        total
    }

    fn summary(&self) -> Value {
        let pairs = self.legs.chunks(2).map(|pair| {
            let get = |i: usize| {
                pair.get(i)
                    .and_then(Option::as_ref)
                    .map(|l| (l.sent, l.received))
            };
            (get(0), get(1))
        });
        let (up, down, lossy) = directions(pairs);
        json!({
            "outside_to_inside": up.json(),
            "inside_to_outside": down.json(),
            "calls_with_loss": lossy,
            "unknown_source": self.unknown_source,
            "not_rtp": self.not_rtp,
            "send_errors": self.send_errors,
            "sends_late_over_10ms": self.late_10ms,
            "max_send_lateness_ms": self.max_late.as_secs_f64() * 1000.0,
        })
    }

    fn run(mut self, cmds: mpsc::Receiver<MediaCmd>) -> Value {
        loop {
            let now = Instant::now();
            let mut finish = false;
            loop {
                match cmds.try_recv() {
                    Ok(cmd) => {
                        finish |= matches!(cmd, MediaCmd::Finish);
                        self.on_cmd(cmd, now);
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        finish = true;
                        break;
                    }
                }
            }
            if finish {
                // What is still in flight.
                let until = Instant::now() + Duration::from_millis(100);
                while Instant::now() < until {
                    if self.receive() == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                return self.summary();
            }
            let sent = self.send_due(now);
            let got = self.receive();
            if sent == 0 && got == 0 {
                let next = self
                    .schedule
                    .peek()
                    .map(|Reverse((t, _, _))| t.saturating_duration_since(Instant::now()));
                let nap = next.unwrap_or(Duration::from_millis(1));
                if nap > Duration::from_micros(100) {
                    std::thread::sleep(nap.min(Duration::from_millis(1)));
                }
            }
        }
    }
}

/// Sends a batch (what the kernel does not take at once is retried a few times); returns the
/// datagrams that could not be sent.
fn flush(sock: &mut UdpBatch, batch: &mut Vec<(SocketAddr, [u8; 256], usize)>) -> u64 {
    let datagrams: Vec<(SocketAddr, &[u8])> = batch
        .iter()
        .map(|(dst, buf, len)| (*dst, &buf[..*len]))
        .collect();
    let mut off = 0;
    let mut stalls = 0;
    while off < datagrams.len() {
        match sock.send(&datagrams[off..]) {
            Ok(0) | Err(_) => {
                stalls += 1;
                if stalls > 100 {
                    break;
                }
                std::thread::yield_now();
            }
            Ok(m) => off += m,
        }
    }
    let failed = (datagrams.len() - off) as u64;
    batch.clear();
    failed
}

fn media_socket(ip: IpAddr) -> Result<UdpBatch, String> {
    StdUdpSocket::bind(SocketAddr::new(ip, 0))
        .and_then(|s| UdpBatch::new(s, 64))
        .inspect(|b| {
            // Room for bursts: one socket carries every call's packets of its side (the
            // kernel's limits may give less: a bench shows it as loss).
            let _ = b.set_buffers(16 << 20);
        })
        .map_err(|e| format!("sipload calls: media socket on {ip}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// What the run counts

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Register,
    Calls,
    Stop,
}

#[derive(Debug, Default)]
struct Tally {
    callers: Bucket,
    callees: Bucket,
    setup: Bucket,
    /// Calls with their final outcome (failed, or established and BYE answered or given up).
    finished: u32,
    active: u32,
    max_active: u32,
    bye_ok: u64,
    bye_failed: BTreeMap<String, u64>,
    late_answers: u64,
    callee_invites: u64,
    callee_retransmissions: u64,
    callee_no_ack: u64,
    callee_refused: u64,
    callee_stray: u64,
    parse_errors: u64,
    connection_errors: BTreeMap<&'static str, u64>,
    requests_answered: u64,
}

struct Ctx {
    o: CallOptions,
    profile: Profile,
    tls: TlsConnector,
    server_name: ServerName<'static>,
    t0: Instant,
    tally: RefCell<Tally>,
    phase: watch::Sender<Phase>,
    /// Set when the calls start.
    calls_t0: RefCell<Option<Instant>>,
    changed: Notify,
    media: mpsc::Sender<MediaCmd>,
    counters: Arc<MediaCounters>,
    /// Where callers' media comes from, and callees'.
    outside_media: SocketAddr,
    inside_media: SocketAddr,
}

impl Ctx {
    fn media(&self, cmd: MediaCmd) {
        // The media thread lives until Finish: a send error means it is gone, and the run's
        // summary says so (no packets).
        let _ = self.media.send(cmd);
    }

    fn progress(&self, what: &str) {
        let t = self.tally.borrow();
        eprintln!(
            "sipload: t={:.1} {what} callers_ok={} callees_ok={} placed={} established={} \
             failed={} finished={} active={} media_tx={} media_rx={} media_late={}",
            self.t0.elapsed().as_secs_f64(),
            t.callers.succeeded,
            t.callees.succeeded,
            t.setup.attempted,
            t.setup.succeeded,
            t.setup.failures(),
            t.finished,
            t.active,
            self.counters.sent.load(Ordering::Relaxed),
            self.counters.received.load(Ordering::Relaxed),
            self.counters.late.load(Ordering::Relaxed),
        );
    }

    /// A call has its final outcome.
    fn finished(&self) {
        self.tally.borrow_mut().finished += 1;
        self.changed.notify_one();
    }

    fn setup_failed(&self, why: &str) {
        let mut t = self.tally.borrow_mut();
        t.setup.fail(why);
        drop(t);
        self.finished();
    }

    fn call_id(&self, j: u32) -> String {
        format!("{:016x}-c{j}@sipload.invalid", self.profile.run)
    }

    /// The call index in one of our Call-IDs.
    fn call_of(&self, call_id: &str) -> Option<u32> {
        let prefix = format!("{:016x}-c", self.profile.run);
        call_id
            .strip_prefix(&prefix)?
            .strip_suffix("@sipload.invalid")?
            .parse()
            .ok()
    }
}

/// Runs the calls and returns the summary.
pub(crate) fn run(o: &CallOptions) -> Result<Value, String> {
    if let Some(c) = o.core {
        media::runtime::pin_to_core(c)
            .map_err(|e| format!("sipload calls: pin to core {c}: {e}"))?;
    }
    let (soft, _) = media::runtime::raise_open_files_limit()
        .map_err(|e| format!("sipload calls: open files limit: {e}"))?;
    if u64::from(o.phones) + super::SPARE_FILES > soft {
        return Err(format!(
            "sipload calls: {} phones need {} open files, the limit is {soft}",
            o.phones,
            u64::from(o.phones) + super::SPARE_FILES
        ));
    }
    let server_name = o
        .server_name
        .clone()
        .unwrap_or_else(|| o.target.ip().to_string());
    let server_name = ServerName::try_from(server_name.clone())
        .map_err(|_| format!("sipload calls: {server_name:?} is not a DNS name or IP address"))?;
    let tls = TlsConnector::from(super::client_config(&o.tls_options())?);
    let outside_ip = o.bind.unwrap_or_else(|| IpAddr::from([127, 0, 0, 1]));
    let engine_out = media_socket(outside_ip)?;
    let engine_in = media_socket(o.inside)?;
    let outside_media = engine_out.local_addr().map_err(|e| e.to_string())?;
    let inside_media = engine_in.local_addr().map_err(|e| e.to_string())?;
    let counters = Arc::new(MediaCounters::default());
    let legs = usize::try_from(o.calls)
        .unwrap_or(usize::MAX)
        .saturating_mul(2);
    let engine = MediaEngine {
        outside: engine_out,
        inside: engine_in,
        legs: (0..legs).map(|_| None).collect(),
        by_outside_src: HashMap::new(),
        by_inside_src: HashMap::new(),
        schedule: BinaryHeap::new(),
        interval: Duration::from_secs_f64(1.0 / f64::from(o.pps)),
        counters: counters.clone(),
        unknown_source: 0,
        not_rtp: 0,
        send_errors: 0,
        late_10ms: 0,
        max_late: Duration::ZERO,
        scratch: Vec::with_capacity(2048),
    };
    let (media_tx, media_rx) = mpsc::channel();
    let media_thread = std::thread::Builder::new()
        .name("sipload-media".into())
        .spawn(move || engine.run(media_rx))
        .map_err(|e| format!("sipload calls: media thread: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("sipload calls: tokio runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let cpu0 = crate::loadgen::process_cpu();
    let (phase, _) = watch::channel(Phase::Register);
    let ctx = Rc::new(Ctx {
        profile: Profile {
            domain: o.domain.clone(),
            expires: 3600,
            route: None,
            password: o.password.clone(),
            run: super::run_token(),
        },
        o: o.clone(),
        tls,
        server_name,
        t0: Instant::now() + Duration::from_millis(100),
        tally: RefCell::new(Tally::default()),
        phase,
        calls_t0: RefCell::new(None),
        changed: Notify::new(),
        media: media_tx,
        counters,
        outside_media,
        inside_media,
    });
    let mut summary = local.block_on(&runtime, drive(ctx.clone()))?;
    ctx.media(MediaCmd::Finish);
    let media = media_thread
        .join()
        .unwrap_or_else(|_| json!({"error": "the media thread panicked"}));
    summary["media"] = media;
    summary["cpu_s"] = json!(crate::loadgen::process_cpu()
        .zip(cpu0)
        .map(|(a, b)| a.saturating_sub(b).as_secs_f64()));
    Ok(summary)
}

async fn drive(ctx: Rc<Ctx>) -> Result<Value, String> {
    let o = &ctx.o;
    let sip = UdpSocket::bind(SocketAddr::new(o.inside, 0))
        .await
        .map_err(|e| format!("sipload calls: callees' SIP socket on {}: {e}", o.inside))?;
    let callees = tokio::task::spawn_local(callees(ctx.clone(), sip));
    let mut orders = Vec::with_capacity(o.phones as usize);
    let mut callers = Vec::with_capacity(o.phones as usize);
    for p in 0..o.phones {
        let (tx, rx) = tmpsc::unbounded_channel();
        orders.push(tx);
        callers.push(tokio::task::spawn_local(caller(ctx.clone(), p, rx)));
    }
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::from_std(ctx.t0 + Duration::from_secs(1)),
        Duration::from_secs(1),
    );
    // Registration: every phone has its outcome (callers over TLS, callees over UDP).
    let registered = |ctx: &Ctx| {
        let t = ctx.tally.borrow();
        let done = |b: &Bucket| b.succeeded + b.failures();
        done(&t.callers) >= u64::from(ctx.o.phones) && done(&t.callees) >= u64::from(ctx.o.phones)
    };
    while !registered(&ctx) {
        tokio::select! {
            _ = ctx.changed.notified() => {}
            _ = tick.tick() => ctx.progress("register"),
        }
    }
    ctx.progress("registered");
    // The calls.
    let start = Instant::now() + Duration::from_millis(200);
    *ctx.calls_t0.borrow_mut() = Some(start);
    ctx.phase.send_replace(Phase::Calls);
    sleep_until(start.into()).await;
    ctx.progress("calls start");
    let last_due = start + Duration::from_secs_f64(f64::from(o.calls - 1) / o.rate);
    let limit = last_due
        + Duration::from_secs_f64(o.hold)
        + o.tail
        + o.timeout * 2
        + Duration::from_secs(5);
    let mut next = 0u32;
    loop {
        if ctx.tally.borrow().finished >= o.calls {
            break;
        }
        let due =
            (next < o.calls).then(|| start + Duration::from_secs_f64(f64::from(next) / o.rate));
        let wake = due.unwrap_or(limit);
        tokio::select! {
            _ = sleep_until(wake.into()) => {
                if due.is_none() {
                    break;
                }
                // Every call due by now (the generator may be late: they go at once).
                let now = Instant::now();
                while next < o.calls
                    && start + Duration::from_secs_f64(f64::from(next) / o.rate) <= now
                {
                    let p = (next % o.phones) as usize;
                    ctx.tally.borrow_mut().setup.attempted += 1;
                    if orders.get(p).is_none_or(|tx| tx.send(next).is_err()) {
                        ctx.setup_failed("no_flow");
                    }
                    next += 1;
                }
            }
            _ = ctx.changed.notified() => {}
            _ = tick.tick() => ctx.progress("calls"),
        }
    }
    let calls_end = Instant::now();
    ctx.progress("calls done");
    ctx.phase.send_replace(Phase::Stop);
    drop(orders);
    for c in callers {
        let _ = c.await;
    }
    let _ = callees.await;
    let t = ctx.tally.borrow();
    let window = calls_end.saturating_duration_since(start).as_secs_f64();
    Ok(json!({
        "target": o.target.to_string(),
        "registrar": o.registrar.to_string(),
        "phones": o.phones,
        "first_user": o.first_user,
        "calls": o.calls,
        "rate": o.rate,
        "hold_s": o.hold,
        "pps": o.pps,
        "registration": {
            "callers": t.callers.summary(0.0, None),
            "callees": t.callees.summary(0.0, None),
        },
        "setup": t.setup.summary(f64::from(o.calls) / o.rate, None),
        "unfinished": o.calls.saturating_sub(t.finished),
        "calls_window_s": window,
        "teardown": {
            "bye_ok": t.bye_ok,
            "bye_failed_by_reason": t.bye_failed,
            "late_answers": t.late_answers,
        },
        "max_concurrent": t.max_active,
        "callees": {
            "invites": t.callee_invites,
            "retransmissions": t.callee_retransmissions,
            "no_ack": t.callee_no_ack,
            "refused": t.callee_refused,
            "stray": t.callee_stray,
        },
        "parse_errors": t.parse_errors,
        "connection_errors": t.connection_errors,
        "requests_answered": t.requests_answered,
        "elapsed_s": ctx.t0.elapsed().as_secs_f64(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Callers: remote phones over TLS through the edge

/// Opens caller `p`'s flow: TCP from `--bind` (a port of its own), then TLS.
async fn connect(ctx: &Ctx, p: u32) -> Result<TlsStream<TcpStream>, &'static str> {
    super::connect_tls(ctx.o.target, ctx.o.bind, p, &ctx.tls, &ctx.server_name).await
}

/// Where a caller's call is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CallerState {
    /// INVITE sent, no final answer; failed at the deadline.
    Inviting { deadline: Instant },
    /// Answered; media until then.
    Talking { until: Instant },
    /// Media stopped; BYE at that time.
    Tail { bye_at: Instant },
    /// BYE sent; given up at the deadline.
    Closing { deadline: Instant },
    /// Failed or given up: kept until then to answer a late 200 (ACK and BYE).
    Abandoned { until: Instant },
}

struct CallerDialog {
    call: u32,
    scheduled: Instant,
    state: CallerState,
    from_tag: String,
    callee: String,
    invite_branch: String,
    key: CryptoAttribute,
    to_tag: Option<String>,
    route: Vec<String>,
    target: String,
    /// The ACK for the 200, sent again if the 200 is.
    ack: Vec<u8>,
}

struct Caller {
    index: u32,
    user: String,
    local: SocketAddr,
    ua: UserAgent,
    stream: TlsStream<TcpStream>,
    buf: Vec<u8>,
    out: Vec<u8>,
    framer: Framer,
    reg_deadline: Option<Instant>,
    registered: bool,
    dialogs: HashMap<String, CallerDialog>,
    branches: u64,
}

async fn caller(ctx: Rc<Ctx>, p: u32, mut orders: tmpsc::UnboundedReceiver<u32>) {
    let mut phase = ctx.phase.subscribe();
    let due = ctx.t0 + Duration::from_secs_f64(f64::from(p) / ctx.o.register_rate);
    sleep_until(due.into()).await;
    ctx.tally.borrow_mut().callers.attempted += 1;
    let flow = match timeout(ctx.o.timeout, connect(&ctx, p)).await {
        Ok(Ok(stream)) => stream
            .get_ref()
            .0
            .local_addr()
            .map(|local| (stream, local))
            .map_err(|_| "socket"),
        Ok(Err(why)) => Err(why),
        Err(_) => Err("connect_timeout"),
    };
    let (stream, local) = match flow {
        Ok(f) => f,
        Err(why) => {
            ctx.tally.borrow_mut().callers.fail(why);
            ctx.changed.notify_one();
            // No flow: every call of this phone fails.
            while let Some(_j) = orders.recv().await {
                ctx.setup_failed("no_flow");
            }
            return;
        }
    };
    let index = ctx.o.first_user + p;
    let mut c = Caller {
        index,
        user: register::user_name(index),
        local,
        ua: UserAgent::new(&ctx.profile, index, local),
        stream,
        buf: Vec::with_capacity(4096),
        out: Vec::with_capacity(2048),
        framer: Framer::new(Limits::default(), Role::Client),
        reg_deadline: None,
        registered: false,
        dialogs: HashMap::new(),
        branches: 0,
    };
    if c.ua.register(&ctx.profile, &mut c.out) {
        c.reg_deadline = Some(Instant::now() + ctx.o.timeout);
    }
    let mut end = c.flush(&ctx).await.err();
    let mut stopping = false;
    while end.is_none() {
        let wake = c
            .dialogs
            .values()
            .map(|d| d.state.wake())
            .chain(c.reg_deadline)
            .min();
        let timer = async {
            match wake {
                Some(t) => sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        end = tokio::select! {
            r = c.stream.read_buf(&mut c.buf) => match r {
                Ok(0) => Some("closed_by_peer"),
                Err(_) => Some("read_error"),
                Ok(_) => match c.on_bytes(&ctx) {
                    Ok(()) => c.flush(&ctx).await.err(),
                    Err(e) => Some(e),
                },
            },
            j = orders.recv(), if !stopping => match j {
                Some(j) => {
                    c.place(&ctx, j);
                    c.flush(&ctx).await.err()
                }
                None => {
                    stopping = true;
                    None
                }
            },
            _ = timer => {
                c.on_timers(&ctx);
                c.flush(&ctx).await.err()
            }
            r = phase.changed() => match r.map(|()| *phase.borrow_and_update()) {
                Ok(Phase::Stop) | Err(_) => Some(""),
                Ok(_) => None,
            },
        };
    }
    let why = end.unwrap_or("");
    if !why.is_empty() {
        *ctx.tally
            .borrow_mut()
            .connection_errors
            .entry(why)
            .or_default() += 1;
    }
    if c.reg_deadline.take().is_some() {
        ctx.tally.borrow_mut().callers.fail("closed");
        ctx.changed.notify_one();
    }
    // Calls still going on the flow fail with it.
    for (_, d) in c.dialogs.drain() {
        match d.state {
            CallerState::Inviting { .. } => ctx.setup_failed("closed"),
            CallerState::Talking { .. }
            | CallerState::Tail { .. }
            | CallerState::Closing { .. } => {
                ctx.media(MediaCmd::Close { leg: 2 * d.call });
                let mut t = ctx.tally.borrow_mut();
                *t.bye_failed.entry("closed".into()).or_default() += 1;
                t.active = t.active.saturating_sub(1);
                drop(t);
                ctx.finished();
            }
            CallerState::Abandoned { .. } => {}
        }
    }
    if !why.is_empty() {
        while let Ok(_j) = orders.try_recv() {
            ctx.setup_failed("no_flow");
        }
    }
}

impl CallerState {
    fn wake(&self) -> Instant {
        match *self {
            CallerState::Inviting { deadline } | CallerState::Closing { deadline } => deadline,
            CallerState::Talking { until } | CallerState::Abandoned { until } => until,
            CallerState::Tail { bye_at } => bye_at,
        }
    }
}

impl Caller {
    async fn flush(&mut self, ctx: &Ctx) -> Result<(), &'static str> {
        if self.out.is_empty() {
            return Ok(());
        }
        let write = async {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await
        };
        let r = timeout(ctx.o.timeout, write).await;
        self.out.clear();
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err("write_error"),
        }
    }

    fn branch(&mut self, ctx: &Ctx) -> String {
        self.branches += 1;
        format!(
            "z9hG4bKc{:x}.{:x}.{:x}",
            ctx.profile.run & 0xffff_ffff,
            self.index,
            self.branches
        )
    }

    /// Places call `j`: an INVITE with a fresh SDES key.
    fn place(&mut self, ctx: &Ctx, j: u32) {
        if !self.registered {
            ctx.setup_failed("no_flow");
            return;
        }
        let key = match MasterKey::random(SUITE) {
            Ok(k) => CryptoAttribute::new(1, k, None),
            Err(_) => {
                ctx.setup_failed("no_key");
                return;
            }
        };
        let callee = register::user_name(ctx.o.callee_index(j % ctx.o.phones));
        let from_tag = format!("f{:x}{j:x}", ctx.profile.run & 0xffff);
        let branch = self.branch(ctx);
        let call_id = ctx.call_id(j);
        let m = ctx.outside_media;
        let ip = m.ip();
        let sdp = format!(
            "v=0\r\no=- {j} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n\
             a=crypto:{key}\r\na=sendrecv\r\n",
            port = m.port(),
        );
        let (u, d, l) = (&self.user, &ctx.o.domain, self.local);
        let mut s = String::with_capacity(1200);
        let _ = write!(
            s,
            "INVITE sip:{callee}@{d} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {l};rport;branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{u}@{d}>;tag={from_tag}\r\n\
             To: <sip:{callee}@{d}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:{u}@{l};transport=tls;ob>\r\n\
             Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n\
             User-Agent: portico-sipload/{version}\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\r\n{sdp}",
            version = env!("CARGO_PKG_VERSION"),
            len = sdp.len(),
        );
        self.out.extend_from_slice(s.as_bytes());
        self.dialogs.insert(
            call_id,
            CallerDialog {
                call: j,
                scheduled: ctx.calls_t0.borrow().map_or_else(Instant::now, |t0| {
                    t0 + Duration::from_secs_f64(f64::from(j) / ctx.o.rate)
                }),
                state: CallerState::Inviting {
                    deadline: Instant::now() + ctx.o.timeout,
                },
                from_tag,
                callee,
                invite_branch: branch,
                key,
                to_tag: None,
                route: Vec::new(),
                target: String::new(),
                ack: Vec::new(),
            },
        );
    }

    /// An in-dialog request (ACK or BYE) of `d`, appended to `out`.
    fn in_dialog(
        &self,
        ctx: &Ctx,
        d: &CallerDialog,
        method: &str,
        cseq: u32,
        branch: &str,
    ) -> Vec<u8> {
        let (u, dom, l) = (&self.user, &ctx.o.domain, self.local);
        let mut s = String::with_capacity(800);
        let _ = write!(
            s,
            "{method} {target} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {l};rport;branch={branch}\r\n\
             Max-Forwards: 70\r\n",
            target = d.target,
        );
        for r in &d.route {
            let _ = write!(s, "Route: {r}\r\n");
        }
        let _ = write!(
            s,
            "From: <sip:{u}@{dom}>;tag={from_tag}\r\n\
             To: <sip:{callee}@{dom}>;tag={to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            from_tag = d.from_tag,
            callee = d.callee,
            to_tag = d.to_tag.as_deref().unwrap_or(""),
            call_id = ctx.call_id(d.call),
        );
        s.into_bytes()
    }

    /// The ACK of a non-2xx final answer (RFC 3261 §17.1.1.3: the INVITE's branch, no route).
    fn ack_failure(&self, ctx: &Ctx, d: &CallerDialog, to: &str) -> Vec<u8> {
        let (u, dom, l) = (&self.user, &ctx.o.domain, self.local);
        format!(
            "ACK sip:{callee}@{dom} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {l};rport;branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{u}@{dom}>;tag={from_tag}\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n",
            callee = d.callee,
            branch = d.invite_branch,
            from_tag = d.from_tag,
            call_id = ctx.call_id(d.call),
        )
        .into_bytes()
    }

    fn on_bytes(&mut self, ctx: &Ctx) -> Result<(), &'static str> {
        loop {
            let frame = self.framer.next(&self.buf).map_err(|_| "framing_error")?;
            match frame {
                Frame::Incomplete => return Ok(()),
                Frame::Ping => self.out.extend_from_slice(b"\r\n"),
                Frame::Pong => {}
                Frame::Message { len } => {
                    match Message::parse(self.buf.get(..len).unwrap_or_default()) {
                        Ok(m) if m.is_request() => {
                            if register::answer_request(&m, "callerua", &mut self.out) {
                                ctx.tally.borrow_mut().requests_answered += 1;
                            }
                        }
                        Ok(m) => self.on_response(ctx, &m),
                        Err(_) => ctx.tally.borrow_mut().parse_errors += 1,
                    }
                }
            }
            self.buf.drain(..frame.len().min(self.buf.len()));
        }
    }

    fn on_response(&mut self, ctx: &Ctx, m: &Message) {
        let Some(status) = m.status() else {
            return;
        };
        match m.cseq().method {
            Method::Register => self.on_register_response(ctx, m),
            Method::Invite => self.on_invite_response(ctx, m, status),
            Method::Bye => {
                if status < 200 {
                    return;
                }
                let Some(d) = self.dialogs.get(m.call_id()) else {
                    return;
                };
                if !matches!(d.state, CallerState::Closing { .. }) {
                    return;
                }
                let call = d.call;
                self.dialogs.remove(m.call_id());
                ctx.media(MediaCmd::Close { leg: 2 * call });
                let mut t = ctx.tally.borrow_mut();
                if (200..300).contains(&status) {
                    t.bye_ok += 1;
                } else {
                    *t.bye_failed.entry(status.to_string()).or_default() += 1;
                }
                t.active = t.active.saturating_sub(1);
                drop(t);
                ctx.finished();
            }
            _ => {}
        }
    }

    fn on_register_response(&mut self, ctx: &Ctx, m: &Message) {
        match self.ua.on_response(&ctx.profile, m, &mut self.out) {
            Outcome::Ignored => {}
            Outcome::Retried => self.reg_deadline = Some(Instant::now() + ctx.o.timeout),
            Outcome::Registered { .. } => {
                if self.reg_deadline.take().is_some() {
                    self.registered = true;
                    ctx.tally.borrow_mut().callers.succeeded += 1;
                    ctx.changed.notify_one();
                }
            }
            Outcome::Failed { status } => {
                if self.reg_deadline.take().is_some() {
                    ctx.tally.borrow_mut().callers.fail(&status.to_string());
                    ctx.changed.notify_one();
                }
            }
        }
    }

    fn on_invite_response(&mut self, ctx: &Ctx, m: &Message, status: u16) {
        if status < 200 {
            return;
        }
        let call_id = m.call_id().to_owned();
        let Some(d) = self.dialogs.get(&call_id) else {
            return;
        };
        let now = Instant::now();
        match (d.state, status) {
            (CallerState::Inviting { .. }, 200..=299) => self.answered(ctx, &call_id, m, now),
            (CallerState::Inviting { .. }, _) => {
                let to = String::from_utf8_lossy(m.header("To").unwrap_or_default()).into_owned();
                let ack = self.ack_failure(ctx, d, &to);
                self.out.extend_from_slice(&ack);
                self.dialogs.remove(&call_id);
                ctx.setup_failed(&status.to_string());
            }
            // A 200 again: our ACK was not seen yet.
            (
                CallerState::Talking { .. }
                | CallerState::Tail { .. }
                | CallerState::Closing { .. },
                200..=299,
            ) => {
                let ack = d.ack.clone();
                self.out.extend_from_slice(&ack);
            }
            // Too late: the call counted as failed; end it at once so nothing stays held.
            (CallerState::Abandoned { .. }, 200..=299) if d.to_tag.is_none() => {
                let call = d.call;
                ctx.tally.borrow_mut().late_answers += 1;
                if self.learn_dialog(&call_id, m).is_ok() {
                    if let Some(d) = self.dialogs.get(&call_id) {
                        let ack_branch = format!("z9hG4bKlate{call}a");
                        let bye_branch = format!("z9hG4bKlate{call}b");
                        let ack = self.in_dialog(ctx, d, "ACK", 1, &ack_branch);
                        let bye = self.in_dialog(ctx, d, "BYE", 2, &bye_branch);
                        self.out.extend_from_slice(&ack);
                        self.out.extend_from_slice(&bye);
                    }
                }
            }
            _ => {}
        }
    }

    /// To tag, route set and remote target from a 2xx to the INVITE.
    fn learn_dialog(&mut self, call_id: &str, m: &Message) -> Result<(), ()> {
        let d = self.dialogs.get_mut(call_id).ok_or(())?;
        d.to_tag = Some(m.to().tag().ok_or(())?.to_owned());
        d.route = m.record_routes().map(ToString::to_string).collect();
        d.route.reverse();
        d.target = m.contacts().next().ok_or(())?.uri.to_string();
        Ok(())
    }

    /// The callee answered: ACK, media.
    fn answered(&mut self, ctx: &Ctx, call_id: &str, m: &Message, now: Instant) {
        let Some((call, scheduled)) = self.dialogs.get(call_id).map(|d| (d.call, d.scheduled))
        else {
            return;
        };
        let abandon = |c: &mut Caller| {
            if let Some(d) = c.dialogs.get_mut(call_id) {
                d.state = CallerState::Abandoned {
                    until: now + ABANDONED_KEEP,
                };
            }
        };
        if self.learn_dialog(call_id, m).is_err() {
            // No To tag or Contact: no dialog to ACK or end.
            abandon(self);
            ctx.setup_failed("bad_answer_dialog");
            return;
        }
        let media = answer_media(m.body());
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        let run = ctx.profile.run & 0xffff_ffff;
        let ack = self.in_dialog(ctx, d, "ACK", 1, &format!("z9hG4bKa{run:x}.{call:x}"));
        let (peer, rx) = match media {
            Ok(x) => x,
            Err(why) => {
                // The call is up at the far end: ACK and end it.
                let bye = self.in_dialog(ctx, d, "BYE", 2, &format!("z9hG4bKb{run:x}.{call:x}"));
                self.out.extend_from_slice(&ack);
                self.out.extend_from_slice(&bye);
                abandon(self);
                ctx.setup_failed(why);
                return;
            }
        };
        let tx = d.key.context(Policy::new(SUITE)).ok().map(Box::new);
        self.out.extend_from_slice(&ack);
        ctx.media(MediaCmd::Open {
            leg: 2 * call,
            peer,
            tx,
            rx: Some(Box::new(rx)),
        });
        ctx.media(MediaCmd::Send { leg: 2 * call });
        if let Some(d) = self.dialogs.get_mut(call_id) {
            d.ack = ack;
            d.state = CallerState::Talking {
                until: now + Duration::from_secs_f64(ctx.o.hold),
            };
        }
        let mut t = ctx.tally.borrow_mut();
        t.setup.succeeded += 1;
        t.setup
            .latencies_us
            .push(super::micros(now.saturating_duration_since(scheduled)));
        t.active += 1;
        t.max_active = t.max_active.max(t.active);
    }

    fn on_timers(&mut self, ctx: &Ctx) {
        let now = Instant::now();
        if self.reg_deadline.is_some_and(|t| t <= now) {
            self.reg_deadline = None;
            self.ua.on_timeout();
            ctx.tally.borrow_mut().callers.fail("timeout");
            ctx.changed.notify_one();
        }
        let due: Vec<String> = self
            .dialogs
            .iter()
            .filter(|(_, d)| d.state.wake() <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for call_id in due {
            let Some((call, state)) = self.dialogs.get(&call_id).map(|d| (d.call, d.state)) else {
                continue;
            };
            match state {
                CallerState::Inviting { .. } => {
                    if let Some(d) = self.dialogs.get_mut(&call_id) {
                        d.state = CallerState::Abandoned {
                            until: now + ABANDONED_KEEP,
                        };
                    }
                    ctx.setup_failed("timeout");
                }
                CallerState::Talking { .. } => {
                    ctx.media(MediaCmd::Stop { leg: 2 * call });
                    if let Some(d) = self.dialogs.get_mut(&call_id) {
                        d.state = CallerState::Tail {
                            bye_at: now + ctx.o.tail,
                        };
                    }
                }
                CallerState::Tail { .. } => {
                    let branch = self.branch(ctx);
                    if let Some(d) = self.dialogs.get(&call_id) {
                        let bye = self.in_dialog(ctx, d, "BYE", 2, &branch);
                        self.out.extend_from_slice(&bye);
                    }
                    if let Some(d) = self.dialogs.get_mut(&call_id) {
                        d.state = CallerState::Closing {
                            deadline: now + ctx.o.timeout,
                        };
                    }
                }
                CallerState::Closing { .. } => {
                    self.dialogs.remove(&call_id);
                    ctx.media(MediaCmd::Close { leg: 2 * call });
                    let mut t = ctx.tally.borrow_mut();
                    *t.bye_failed.entry("timeout".into()).or_default() += 1;
                    t.active = t.active.saturating_sub(1);
                    drop(t);
                    ctx.finished();
                }
                CallerState::Abandoned { .. } => {
                    self.dialogs.remove(&call_id);
                }
            }
        }
    }
}

/// The edge's media address and SRTP context from the description in a 200: the first
/// `m=audio`, `RTP/SAVP`, with an `a=crypto` of our suite. `Err`: why it cannot be used.
fn answer_media(body: &[u8]) -> Result<(SocketAddr, Context), &'static str> {
    let sdp = Sdp::parse(body).map_err(|_| "bad_answer_sdp")?;
    let i = (0..sdp.sections().len())
        .find(|&i| {
            sdp.media(i)
                .is_some_and(|m| m.media == "audio" && m.port != 0)
        })
        .ok_or("bad_answer_no_audio")?;
    let media = sdp.media(i).ok_or("bad_answer_no_audio")?;
    if !media.is_srtp() {
        return Err("bad_answer_not_srtp");
    }
    let ip = sdp
        .connection_of(i)
        .and_then(|c| c.ip())
        .ok_or("bad_answer_no_address")?;
    let section = sdp.sections().get(i).ok_or("bad_answer_no_audio")?;
    let ctx = section
        .crypto()
        .filter_map(|v| v.parse::<CryptoAttribute>().ok())
        .find(|a| a.suite == SUITE)
        .and_then(|a| a.context(Policy::new(SUITE)).ok())
        .ok_or("bad_answer_no_crypto")?;
    Ok((SocketAddr::new(ip, media.port), ctx))
}

/// The inside party's RTP address from the offer in an INVITE: the first `m=audio`, `RTP/AVP`.
fn offer_media(body: &[u8]) -> Option<SocketAddr> {
    let sdp = Sdp::parse(body).ok()?;
    let i = (0..sdp.sections().len()).find(|&i| {
        sdp.media(i)
            .is_some_and(|m| m.media == "audio" && m.port != 0)
    })?;
    let media = sdp.media(i)?;
    if !media.is_rtp() {
        return None;
    }
    let ip = sdp.connection_of(i)?.ip()?;
    Some(SocketAddr::new(ip, media.port))
}

// ---------------------------------------------------------------------------------------------
// Callees: inside phones over UDP, registered at call control

struct CalleeReg {
    k: u32,
    cseq: u32,
    sent_at: Instant,
    tries: u32,
    auth: Option<(Challenge, u32)>,
    answered_challenge: bool,
}

struct CalleeDialog {
    leg: u32,
    response: Vec<u8>,
    dest: SocketAddr,
    acked: bool,
    next_retx: Instant,
    interval: Duration,
    give_up: Instant,
}

struct Callees {
    sock: UdpSocket,
    local: SocketAddr,
    regs: HashMap<String, CalleeReg>,
    dialogs: HashMap<String, CalleeDialog>,
    ended: HashMap<String, Instant>,
    branches: u64,
}

async fn callees(ctx: Rc<Ctx>, sock: UdpSocket) {
    let Ok(local) = sock.local_addr() else {
        let mut t = ctx.tally.borrow_mut();
        t.callees.attempted = u64::from(ctx.o.phones);
        for _ in 0..ctx.o.phones {
            t.callees.fail("socket");
        }
        return;
    };
    let mut c = Callees {
        sock,
        local,
        regs: HashMap::new(),
        dialogs: HashMap::new(),
        ended: HashMap::new(),
        branches: 0,
    };
    let mut phase = ctx.phase.subscribe();
    let mut next_reg = 0u32;
    let reg_t0 = ctx.t0;
    let mut buf = vec![0u8; 65_536];
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        let reg_due = (next_reg < ctx.o.phones)
            .then(|| reg_t0 + Duration::from_secs_f64(f64::from(next_reg) / ctx.o.register_rate));
        let reg_timer = async {
            match reg_due {
                Some(t) => sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = c.sock.recv_from(&mut buf) => {
                if let Ok((n, src)) = r {
                    c.on_datagram(&ctx, buf.get(..n).unwrap_or_default(), src).await;
                }
            }
            _ = reg_timer => {
                let now = Instant::now();
                while next_reg < ctx.o.phones
                    && reg_t0 + Duration::from_secs_f64(f64::from(next_reg) / ctx.o.register_rate) <= now
                {
                    ctx.tally.borrow_mut().callees.attempted += 1;
                    c.register(&ctx, next_reg, 1, None).await;
                    next_reg += 1;
                }
            }
            _ = tick.tick() => c.on_tick(&ctx).await,
            r = phase.changed() => {
                if matches!(r.map(|()| *phase.borrow_and_update()), Ok(Phase::Stop) | Err(_)) {
                    break;
                }
            }
        }
    }
    for (_, d) in c.dialogs.drain() {
        ctx.media(MediaCmd::Close { leg: d.leg });
    }
}

impl Callees {
    async fn send(&self, data: &[u8], to: SocketAddr) {
        // UDP: a lost datagram is retransmitted by the timers, like any other.
        let _ = self.sock.send_to(data, to).await;
    }

    /// Sends callee `k`'s REGISTER (CSeq `cseq`), with credentials when challenged.
    async fn register(&mut self, ctx: &Ctx, k: u32, cseq: u32, auth: Option<(Challenge, u32)>) {
        let index = ctx.o.callee_index(k);
        let user = register::user_name(index);
        let d = &ctx.o.domain;
        let l = self.local;
        self.branches += 1;
        let branch = format!(
            "z9hG4bKr{:x}.{k:x}.{:x}",
            ctx.profile.run & 0xffff_ffff,
            self.branches
        );
        let call_id = format!("{:016x}-r{index}@sipload.invalid", ctx.profile.run);
        let request_uri = format!("sip:{d}");
        let mut s = String::with_capacity(700);
        let _ = write!(
            s,
            "REGISTER {request_uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {l};rport;branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{d}>;tag=r{k:x}\r\n\
             To: <sip:{user}@{d}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{l}>\r\n\
             Expires: 3600\r\n\
             User-Agent: portico-sipload/{version}\r\n",
            version = env!("CARGO_PKG_VERSION"),
        );
        let mut answered = false;
        if let (Some((ch, nc)), Some(password)) = (&auth, &ctx.o.password) {
            let cnonce = format!("{:x}{k:x}{nc:x}", ctx.profile.run & 0xffff_ffff);
            let cred = Credentials {
                username: &user,
                password,
                method: "REGISTER",
                uri: &request_uri,
            };
            let _ = write!(
                s,
                "Authorization: {}\r\n",
                digest::authorization(ch, &cred, *nc, &cnonce)
            );
            answered = true;
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        let tries = self.regs.get(&call_id).map_or(0, |r| r.tries);
        self.regs.insert(
            call_id,
            CalleeReg {
                k,
                cseq,
                sent_at: Instant::now(),
                tries: tries + 1,
                auth,
                answered_challenge: answered,
            },
        );
        self.send(s.as_bytes(), ctx.o.registrar).await;
    }

    async fn on_tick(&mut self, ctx: &Ctx) {
        let now = Instant::now();
        // REGISTERs without an answer: again after a second, three times.
        let late: Vec<String> = self
            .regs
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.sent_at) >= Duration::from_secs(1))
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            let Some((k, cseq, auth, tries)) = self
                .regs
                .get(&id)
                .map(|r| (r.k, r.cseq, r.auth.clone(), r.tries))
            else {
                continue;
            };
            if tries >= 4 {
                self.regs.remove(&id);
                ctx.tally.borrow_mut().callees.fail("timeout");
                ctx.changed.notify_one();
            } else {
                self.register(ctx, k, cseq + 1, auth).await;
            }
        }
        // 200s without an ACK: again, doubling up to T2 (RFC 3261 §13.3.1.4).
        let mut resend = Vec::new();
        let mut dead = Vec::new();
        for (id, d) in self.dialogs.iter_mut() {
            if d.acked || d.next_retx > now {
                continue;
            }
            if now >= d.give_up {
                dead.push(id.clone());
                continue;
            }
            resend.push((d.response.clone(), d.dest));
            d.interval = (d.interval * 2).min(T2);
            d.next_retx = now + d.interval;
        }
        for (r, dest) in resend {
            ctx.tally.borrow_mut().callee_retransmissions += 1;
            self.send(&r, dest).await;
        }
        for id in dead {
            if let Some(d) = self.dialogs.remove(&id) {
                ctx.tally.borrow_mut().callee_no_ack += 1;
                ctx.media(MediaCmd::Close { leg: d.leg });
            }
        }
        self.ended
            .retain(|_, at| now.saturating_duration_since(*at) < Duration::from_secs(32));
    }

    async fn on_datagram(&mut self, ctx: &Ctx, data: &[u8], src: SocketAddr) {
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        let Ok(m) = Message::parse(data) else {
            ctx.tally.borrow_mut().parse_errors += 1;
            return;
        };
        if !m.is_request() {
            self.on_register_response(ctx, &m).await;
            return;
        }
        match m.method() {
            Some(Method::Invite) => self.on_invite(ctx, &m, src).await,
            Some(Method::Ack) => {
                if let Some(d) = self.dialogs.get_mut(m.call_id()) {
                    if !d.acked {
                        d.acked = true;
                        ctx.media(MediaCmd::Send { leg: d.leg });
                    }
                }
            }
            Some(Method::Bye) => {
                let known = if let Some(d) = self.dialogs.remove(m.call_id()) {
                    ctx.media(MediaCmd::Stop { leg: d.leg });
                    ctx.media(MediaCmd::Close { leg: d.leg });
                    self.ended.insert(m.call_id().to_owned(), Instant::now());
                    true
                } else {
                    self.ended.contains_key(m.call_id())
                };
                let (code, reason) = if known {
                    (200, "OK")
                } else {
                    (481, "Call/Transaction Does Not Exist")
                };
                self.respond(&m, code, reason, None, src).await;
            }
            Some(Method::Options) | Some(Method::Cancel) => {
                self.respond(&m, 200, "OK", None, src).await;
            }
            _ => {
                self.respond(&m, 405, "Method Not Allowed", Some("callee"), src)
                    .await;
            }
        }
    }

    async fn respond(
        &self,
        m: &Message,
        code: u16,
        reason: &str,
        tag: Option<&str>,
        to: SocketAddr,
    ) {
        if let Ok(r) = m.response(code, reason, tag) {
            let mut out = Vec::with_capacity(512);
            r.write(&mut out);
            self.send(&out, to).await;
        }
    }

    async fn on_register_response(&mut self, ctx: &Ctx, m: &Message) {
        let Some(status) = m.status() else {
            return;
        };
        if status < 200 || m.cseq().method != Method::Register {
            return;
        }
        let Some(r) = self.regs.get(m.call_id()) else {
            return;
        };
        if m.cseq().seq != r.cseq {
            return;
        }
        let (k, cseq, answered) = (r.k, r.cseq, r.answered_challenge);
        match status {
            200..=299 => {
                self.regs.remove(m.call_id());
                ctx.tally.borrow_mut().callees.succeeded += 1;
                ctx.changed.notify_one();
            }
            401 | 407 if !answered && ctx.o.password.is_some() => {
                let field = if status == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                let challenge = m
                    .headers_named(field)
                    .find_map(|h| Challenge::parse(h.raw_value()).ok());
                match challenge {
                    Some(c) => {
                        if let Some(r) = self.regs.get_mut(m.call_id()) {
                            r.tries = 0;
                        }
                        self.register(ctx, k, cseq + 1, Some((c, 1))).await;
                    }
                    None => {
                        self.regs.remove(m.call_id());
                        ctx.tally.borrow_mut().callees.fail(&status.to_string());
                        ctx.changed.notify_one();
                    }
                }
            }
            _ => {
                self.regs.remove(m.call_id());
                ctx.tally.borrow_mut().callees.fail(&status.to_string());
                ctx.changed.notify_one();
            }
        }
    }

    async fn on_invite(&mut self, ctx: &Ctx, m: &Message, src: SocketAddr) {
        if m.to().tag().is_some() {
            // A re-INVITE: not part of the bench's calls.
            self.respond(m, 488, "Not Acceptable Here", None, src).await;
            return;
        }
        if let Some(d) = self.dialogs.get(m.call_id()) {
            // The INVITE again: its 200 again.
            let (r, dest) = (d.response.clone(), d.dest);
            ctx.tally.borrow_mut().callee_retransmissions += 1;
            self.send(&r, dest).await;
            return;
        }
        ctx.tally.borrow_mut().callee_invites += 1;
        let Some(j) = ctx.call_of(m.call_id()).filter(|j| *j < ctx.o.calls) else {
            ctx.tally.borrow_mut().callee_stray += 1;
            self.respond(m, 404, "Not Found", Some("callee"), src).await;
            return;
        };
        let Some(peer) = offer_media(m.body()) else {
            ctx.tally.borrow_mut().callee_refused += 1;
            self.respond(m, 488, "Not Acceptable Here", Some("callee"), src)
                .await;
            return;
        };
        let leg = 2 * j + 1;
        let ip = ctx.inside_media.ip();
        let sdp = format!(
            "v=0\r\no=- {j} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
            port = ctx.inside_media.port(),
        );
        let user = m
            .request_uri()
            .and_then(|u| u.as_sip())
            .and_then(|u| u.user.clone())
            .unwrap_or_else(|| "callee".into());
        let tag = format!("t{:x}{j:x}", ctx.profile.run & 0xffff);
        let Ok(mut r) = m.response(200, "OK", Some(&tag)) else {
            return;
        };
        let mut ok = true;
        for h in m.headers_named("Record-Route") {
            ok &= r.append_header("Record-Route", h.raw_value()).is_ok();
        }
        let contact = format!("<sip:{user}@{}>", self.local);
        ok &= r.append_header("Contact", contact.as_bytes()).is_ok();
        ok &= r.append_header("Content-Type", b"application/sdp").is_ok();
        ok &= r.set_body(sdp.into_bytes()).is_ok();
        if !ok {
            ctx.tally.borrow_mut().callee_refused += 1;
            self.respond(m, 500, "Server Internal Error", Some("callee"), src)
                .await;
            return;
        }
        let mut out = Vec::with_capacity(1200);
        r.write(&mut out);
        ctx.media(MediaCmd::Open {
            leg,
            peer,
            tx: None,
            rx: None,
        });
        let now = Instant::now();
        self.send(&out, src).await;
        self.dialogs.insert(
            m.call_id().to_owned(),
            CalleeDialog {
                leg,
                response: out,
                dest: src,
                acked: false,
                next_retx: now + T1,
                interval: T1,
                give_up: now + T1 * 64,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = CallOptions::parse(&args(&[
            "--target",
            "127.0.0.1:25162",
            "--registrar",
            "127.0.0.1:25160",
            "--ca",
            "/x/ca.pem",
            "--phones",
            "400",
            "--calls",
            "800",
            "--rate",
            "40",
            "--hold",
            "2.5",
            "--tail-ms",
            "100",
        ]))
        .unwrap();
        assert_eq!((o.phones, o.calls, o.rate, o.hold), (400, 800, 40.0, 2.5));
        assert_eq!(o.tail, Duration::from_millis(100));
        assert_eq!(o.callee_index(0), 400);
        for bad in [
            &["--phones", "0"][..],
            &["--rate", "0"],
            &["--pps", "NaN"],
            &["--domain", "a b"],
            &["--bogus", "1"],
            &["--calls"],
        ] {
            let mut a = args(&[
                "--target",
                "127.0.0.1:1",
                "--registrar",
                "127.0.0.1:2",
                "--insecure",
            ]);
            a.extend(args(bad));
            assert!(CallOptions::parse(&a).is_err(), "{bad:?}");
        }
        assert!(CallOptions::parse(&args(&["--target", "127.0.0.1:1", "--insecure"])).is_err());
    }

    #[test]
    fn sequence_numbers_count_loss_and_duplicates() {
        let mut r = Received::default();
        for s in [0u16, 1, 2, 4, 5, 5, 3, 9] {
            r.on_seq(s);
        }
        assert_eq!(r.packets, 7);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.highest, Some(9));
        assert_eq!(r.missing(), 3, "6, 7, 8");
        // Across the 16-bit wrap.
        let mut r = Received::default();
        for s in 0..70_000u32 {
            r.on_seq(s as u16);
        }
        assert_eq!(r.packets, 70_000);
        assert_eq!(r.missing(), 0);
        assert_eq!(r.highest, Some(69_999));
    }

    #[test]
    fn loss_per_direction() {
        let got = |n: u16| {
            let mut r = Received::default();
            for s in 0..n {
                r.on_seq(s);
            }
            r
        };
        let mut gap = got(100);
        gap.on_seq(150); // 100..149 missing below the highest
        let pairs = vec![
            // Everything arrived.
            (Some((100, got(100))), Some((100, got(100)))),
            // Outside → inside lost 2; inside → outside: the tail is not counted, the gap is.
            (Some((100, gap)), Some((160, got(98)))),
            // Nothing came back: all the callee sent is lost.
            (Some((50, Received::default())), Some((40, got(50)))),
            // A failed call.
            (None, None),
        ];
        let (up, down, lossy) = directions(pairs.into_iter());
        assert_eq!(up.sent, 250);
        assert_eq!(up.received, 248);
        assert_eq!(up.lost, 2);
        assert_eq!(down.sent, 300);
        assert_eq!(down.received, 201);
        assert_eq!(down.lost, 50 + 40);
        assert_eq!(lossy, 2);
        assert!((up.loss_ratio() - 2.0 / 250.0).abs() < 1e-12);
        assert_eq!(Direction::default().loss_ratio(), 0.0);
    }

    #[test]
    fn media_descriptions() {
        let key = CryptoAttribute::new(1, MasterKey::random(SUITE).unwrap(), None);
        let answer = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n\
             m=audio 20000 RTP/SAVP 0\r\na=crypto:{key}\r\n"
        );
        let (addr, _) = answer_media(answer.as_bytes()).unwrap();
        assert_eq!(addr, "127.0.0.9:20000".parse().unwrap());
        let plain = answer.replace("RTP/SAVP", "RTP/AVP");
        assert_eq!(
            answer_media(plain.as_bytes()).err(),
            Some("bad_answer_not_srtp")
        );
        let nokey = answer.replace("a=crypto", "a=x-crypto");
        assert_eq!(
            answer_media(nokey.as_bytes()).err(),
            Some("bad_answer_no_crypto")
        );
        assert_eq!(answer_media(b"junk").err(), Some("bad_answer_sdp"));
        assert_eq!(offer_media(plain.as_bytes()), Some(addr));
        assert_eq!(
            offer_media(answer.as_bytes()),
            None,
            "SRTP inside is not expected"
        );
    }
}
