//! `edge loadgen`: N concurrent RTP streams through a relay, measured.
//!
//! Each call has two ends in this process: the **client** (outside: SRTP, or plain with
//! `--suite plain`) and the **phone** (inside: plain RTP). The calls are set up on an
//! `edge relay` through its control socket: the outside leg unprotects/protects with the call's
//! keys and latches on authenticated packets, the inside leg sends to the phone. Every 1/pps
//! seconds each end of each call sends one packet (calls are spread evenly over the interval),
//! so the relay sees `2 × calls × pps` packets per second; with `--direction up` only the
//! client sends (the relay does SRTP→RTP), with `--direction down` only the phone (RTP→SRTP).
//!
//! With `--mux` the outside legs are multiplexed on the relay's traversal pair, as a C relays
//! to its E: the client end plays the E, one socket sending every call's SRTP to the relay's
//! traversal port framed with the call's multiplex id, in UDP GSO sends, and receiving with UDP
//! GRO.
//!
//! Client packets are protected before the run starts (one per sequence number); phone packets
//! are a per-call template whose sequence number and timestamp are written at send time. Sends
//! go out in `sendmmsg` batches, receives come in `recvmmsg` batches. The generator records when
//! each packet left; the receiving end computes one-way added latency (receive time minus send
//! time, both on this host's monotonic clock), loss, reordering and RFC 3550 interarrival
//! jitter. The summary is one JSON object on stdout.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use media::rtp_stats::RtpReceiveStats;
use media::runtime::{pin_to_core, UdpBatch};
use media::sdes::CryptoAttribute;
use media::srtp::{Context, MasterKey, Policy, Suite};
use serde_json::{json, Value};

/// Options of `edge loadgen`.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) control: PathBuf,
    /// Set the calls up on rtpengine (its ng address) instead of an `edge relay`.
    pub(crate) rtpengine: Option<SocketAddr>,
    pub(crate) calls: usize,
    pub(crate) seconds: f64,
    pub(crate) pps: u32,
    pub(crate) size: usize,
    /// `None`: plain RTP on both sides (the relay passes through).
    pub(crate) suite: Option<Suite>,
    pub(crate) core: Option<usize>,
    pub(crate) relay_ip: std::net::IpAddr,
    /// The address the client and phone sockets bind to (default: the relay's, for loopback).
    pub(crate) bind: Option<std::net::IpAddr>,
    pub(crate) verify: bool,
    /// Sample this process's CPU time (the relay's) at the start and end of the traffic.
    pub(crate) relay_pid: Option<u32>,
    /// Which ends send.
    pub(crate) direction: Direction,
    /// Outside legs multiplexed on the relay's traversal pair (the client end plays an E).
    pub(crate) mux: bool,
    /// With `mux`: this traversal pair (its RTP port) for every call, as one E's pair would
    /// carry them; `None`: the relay picks.
    pub(crate) mux_pair: Option<u16>,
    /// Start the traffic at this wall-clock time (ms since the Unix epoch), so that several
    /// generators send together; set-up must be done by then.
    pub(crate) start_at_ms: Option<u64>,
}

/// Which ends of the calls send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Both.
    Both,
    /// The client only (outside → inside: the relay unprotects).
    Up,
    /// The phone only (inside → outside: the relay protects).
    Down,
}

impl Direction {
    fn up(self) -> bool {
        self != Direction::Down
    }

    fn down(self) -> bool {
        self != Direction::Up
    }
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            control: PathBuf::from("/run/portico-relay.sock"),
            rtpengine: None,
            calls: 100,
            seconds: 10.0,
            pps: 50,
            size: 172,
            suite: Some(Suite::AesCm128HmacSha1_80),
            core: None,
            relay_ip: std::net::IpAddr::from([127, 0, 0, 1]),
            bind: None,
            verify: true,
            relay_pid: None,
            direction: Direction::Both,
            mux: false,
            mux_pair: None,
            start_at_ms: None,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--no-verify" {
                o.verify = false;
                continue;
            }
            if flag == "--mux" {
                o.mux = true;
                continue;
            }
            let v = it
                .next()
                .ok_or_else(|| format!("loadgen: {flag} needs a value"))?;
            let bad = |what: &str| format!("loadgen: {flag} {v:?}: {what}");
            match flag.as_str() {
                "--control" => o.control = PathBuf::from(v),
                "--rtpengine" => o.rtpengine = Some(v.parse().map_err(|_| bad("not IP:PORT"))?),
                "--calls" => o.calls = v.parse().map_err(|_| bad("not a count"))?,
                "--seconds" => o.seconds = v.parse().map_err(|_| bad("not seconds"))?,
                "--pps" => o.pps = v.parse().map_err(|_| bad("not packets per second"))?,
                "--size" => o.size = v.parse().map_err(|_| bad("not a byte count"))?,
                "--suite" => {
                    o.suite = if v == "plain" {
                        None
                    } else {
                        Some(
                            Suite::from_sdes_name(v)
                                .ok_or_else(|| bad("not an SRTP suite or plain"))?,
                        )
                    }
                }
                "--core" => o.core = Some(v.parse().map_err(|_| bad("not a CPU number"))?),
                "--relay-ip" => o.relay_ip = v.parse().map_err(|_| bad("not an IP address"))?,
                "--bind" => o.bind = Some(v.parse().map_err(|_| bad("not an IP address"))?),
                "--direction" => {
                    o.direction = match v.as_str() {
                        "both" => Direction::Both,
                        "up" => Direction::Up,
                        "down" => Direction::Down,
                        _ => return Err(bad("expected both, up or down")),
                    }
                }
                "--mux-pair" => {
                    o.mux = true;
                    o.mux_pair = Some(v.parse().map_err(|_| bad("not a port"))?)
                }
                "--start-at" => {
                    o.start_at_ms = Some(v.parse().map_err(|_| bad("not ms since the epoch"))?)
                }
                "--relay-pid" => {
                    o.relay_pid = Some(v.parse().map_err(|_| bad("not a process id"))?)
                }
                other => return Err(format!("loadgen: unknown option {other:?}")),
            }
        }
        if o.mux && o.rtpengine.is_some() {
            return Err(
                "loadgen: --mux needs an edge relay (rtpengine has no multiplexed ports)".into(),
            );
        }
        if o.calls == 0 || o.pps == 0 || o.seconds.is_nan() || o.seconds <= 0.0 {
            return Err("loadgen: --calls, --pps and --seconds must be positive".into());
        }
        if !(12..=1400).contains(&o.size) {
            return Err(format!(
                "loadgen: --size must be 12 to 1400 bytes, got {}",
                o.size
            ));
        }
        let per_call = (o.seconds * f64::from(o.pps)).ceil();
        if per_call > 65_000.0 {
            return Err("loadgen: --seconds × --pps must stay under 65000 packets per call".into());
        }
        Ok(o)
    }

    fn packets_per_call(&self) -> usize {
        (self.seconds * f64::from(self.pps)).ceil() as usize
    }
}

/// Receive calls per socket in one turn of the generator's loop, at most.
const RECV_ROUNDS: usize = 32;

/// A control-socket client.
struct Control {
    out: UnixStream,
    lines: std::io::Lines<BufReader<UnixStream>>,
}

impl Control {
    fn connect(path: &PathBuf) -> Result<Control, String> {
        let s = UnixStream::connect(path)
            .map_err(|e| format!("loadgen: control {}: {e}", path.display()))?;
        let r = s.try_clone().map_err(|e| e.to_string())?;
        Ok(Control {
            out: s,
            lines: BufReader::new(r).lines(),
        })
    }

    fn ask(&mut self, req: &Value) -> Result<Value, String> {
        writeln!(self.out, "{req}").map_err(|e| format!("loadgen: control write: {e}"))?;
        let line = self
            .lines
            .next()
            .ok_or("loadgen: control socket closed")?
            .map_err(|e| format!("loadgen: control read: {e}"))?;
        let v: Value =
            serde_json::from_str(&line).map_err(|e| format!("loadgen: control reply: {e}"))?;
        if v["ok"] == true {
            Ok(v)
        } else {
            Err(format!(
                "loadgen: relay refused {}: {}",
                req["op"], v["error"]
            ))
        }
    }
}

/// One end's receive-side measurements, per call.
struct Receiver {
    stats: Vec<RtpReceiveStats>,
    received: Vec<u64>,
    highest: Vec<Option<u16>>,
    reordered: u64,
    auth_failures: u64,
    unknown: u64,
    latencies_us: Vec<u32>,
}

impl Receiver {
    fn new(calls: usize, expected: usize) -> Receiver {
        Receiver {
            stats: (0..calls).map(|_| RtpReceiveStats::new(8000)).collect(),
            received: vec![0; calls],
            highest: vec![None; calls],
            reordered: 0,
            auth_failures: 0,
            unknown: 0,
            latencies_us: Vec::with_capacity(expected),
        }
    }

    fn on_packet(
        &mut self,
        call: usize,
        seq: u16,
        ts: u32,
        sent_at: Option<Instant>,
        now: Instant,
    ) {
        self.received[call] += 1;
        match self.highest[call] {
            Some(h) if seq.wrapping_sub(h) as i16 <= 0 => self.reordered += 1,
            _ => self.highest[call] = Some(seq),
        }
        let _ = self.stats[call].on_packet(seq, ts, now);
        if let Some(t) = sent_at {
            let us = now.saturating_duration_since(t).as_micros();
            self.latencies_us.push(us.min(u128::from(u32::MAX)) as u32);
        }
    }

    fn summary(&mut self, sent: u64) -> Value {
        let received: u64 = self.received.iter().sum();
        self.latencies_us.sort_unstable();
        let pct = |p: f64| -> Option<u32> {
            let n = self.latencies_us.len();
            (n > 0).then(|| self.latencies_us[((n as f64 - 1.0) * p).round() as usize])
        };
        let mut jitters: Vec<u64> = self.stats.iter().map(|s| s.snapshot().jitter_us).collect();
        jitters.sort_unstable();
        let jp = |p: f64| {
            jitters
                .get(((jitters.len().saturating_sub(1)) as f64 * p).round() as usize)
                .copied()
        };
        json!({
            "sent": sent,
            "received": received,
            "loss_ratio": if sent > 0 { 1.0 - received as f64 / sent as f64 } else { 0.0 },
            "reordered": self.reordered,
            "auth_failures": self.auth_failures,
            "unknown_source": self.unknown,
            "latency_us": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
            "jitter_us_per_call": {"p50": jp(0.5), "p99": jp(0.99), "max": jp(1.0)},
        })
    }
}

/// Where one call's packets go, and the client's SRTP contexts.
struct CallPlan {
    /// Where the client sends (the relay's outside port); the client's packets come from there.
    client_dst: SocketAddr,
    /// Where the phone sends (the relay's inside port); the phone's packets come from there.
    phone_dst: SocketAddr,
    client_tx: Option<Context>,
    client_rx: Option<Context>,
    /// The multiplex id of the outside leg (`--mux`).
    mux_id: Option<u32>,
    /// What to release afterwards: a leg id, or an rtpengine call id.
    handle: String,
}

/// The relay under test and how calls are set up on it.
enum Target {
    Portico(Control),
    Rtpengine(crate::ng::NgClient),
}

/// A minimal SDP body with one PCMU audio stream.
fn sdp(session: usize, addr: SocketAddr, proto: &str, crypto: Option<String>) -> String {
    let ip = addr.ip();
    let mut s = format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n",
        addr.port()
    );
    if let Some(c) = crypto {
        s.push_str(&format!("a=crypto:{c}\r\n"));
    }
    s.push_str("a=sendrecv\r\n");
    s
}

impl Target {
    fn setup(
        &mut self,
        o: &Options,
        i: usize,
        client: SocketAddr,
        phone: SocketAddr,
    ) -> Result<CallPlan, String> {
        let keys = match o.suite {
            Some(suite) => Some((
                suite,
                MasterKey::random(suite).map_err(|e| e.to_string())?,
                MasterKey::random(suite).map_err(|e| e.to_string())?,
            )),
            None => None,
        };
        let ctx = |suite: Suite, k: &MasterKey| {
            Context::new(Policy::new(suite), &[(k.clone(), None)]).map_err(|e| e.to_string())
        };
        let sdes = |k: &MasterKey| CryptoAttribute::new(1, k.clone(), None).to_string();
        match self {
            Target::Portico(control) => {
                // Both legs get a pair from the relay's media range; RTCP would share the RTP
                // port (the generator sends none).
                // The outside leg knows the client's address from signalling (so the phone's
                // packets have somewhere to go before the client sends anything).
                let (mut a, tx, rx) = match &keys {
                    Some((suite, up, down)) => (
                        json!({"rtcp_mux": true, "latch": "authenticated",
                               "remote": client.to_string(),
                               "srtp_in": sdes(up), "srtp_out": sdes(down)}),
                        Some(ctx(*suite, up)?),
                        Some(ctx(*suite, down)?),
                    ),
                    None => (
                        json!({"rtcp_mux": true, "remote": client.to_string(), "latch": "fixed"}),
                        None,
                        None,
                    ),
                };
                if o.mux {
                    a["mux"] = match o.mux_pair {
                        Some(p) => json!({"pair": p}),
                        None => json!(true),
                    };
                    if let Some(m) = a.as_object_mut() {
                        m.remove("rtcp_mux");
                    }
                }
                let b = json!({"rtcp_mux": true, "remote": phone.to_string(), "latch": "fixed"});
                let r = control.ask(&json!({"op": "allocate", "a": a, "b": b}))?;
                let leg = r["legs"][0].as_u64().ok_or("loadgen: no leg id in reply")?;
                let port = |i: usize| {
                    r["ports"][i]["rtp"]
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or("loadgen: no port in the relay's reply")
                };
                let mux_id = match o.mux {
                    true => Some(
                        r["ports"][0]["mux_id"]
                            .as_u64()
                            .and_then(|m| u32::try_from(m).ok())
                            .ok_or("loadgen: no multiplex id in the relay's reply")?,
                    ),
                    false => None,
                };
                Ok(CallPlan {
                    client_dst: SocketAddr::new(o.relay_ip, port(0)?),
                    phone_dst: SocketAddr::new(o.relay_ip, port(1)?),
                    client_tx: tx,
                    client_rx: rx,
                    mux_id,
                    handle: leg.to_string(),
                })
            }
            Target::Rtpengine(ng) => {
                use crate::ng::{sdp_port_and_crypto, Bencode};
                let call_id = format!("loadgen-{}-{i}", std::process::id());
                // Offer from the client: SRTP with our key bridged to plain RTP toward the phone,
                // or plain RTP passed through (--suite plain).
                let offer_sdp = match &keys {
                    Some((_, up, _)) => sdp(i, client, "RTP/SAVP", Some(sdes(up))),
                    None => sdp(i, client, "RTP/AVP", None),
                };
                let mut offer = vec![
                    ("command", Bencode::str("offer")),
                    ("call-id", Bencode::str(&call_id)),
                    ("from-tag", Bencode::str("client")),
                    ("sdp", Bencode::str(&offer_sdp)),
                    ("ICE", Bencode::str("remove")),
                    (
                        "replace",
                        Bencode::List(vec![
                            Bencode::str("origin"),
                            Bencode::str("session-connection"),
                        ]),
                    ),
                ];
                if keys.is_some() {
                    offer.push(("transport-protocol", Bencode::str("RTP/AVP")));
                }
                let r = ng.ask(&Bencode::dict(&offer))?;
                let to_phone = r
                    .get("sdp")
                    .and_then(Bencode::as_str)
                    .ok_or("rtpengine: offer reply has no SDP")?;
                let (phone_port, _) =
                    sdp_port_and_crypto(to_phone).ok_or("rtpengine: offer SDP has no m=audio")?;
                let answer = Bencode::dict(&[
                    ("command", Bencode::str("answer")),
                    ("call-id", Bencode::str(&call_id)),
                    ("from-tag", Bencode::str("client")),
                    ("to-tag", Bencode::str("phone")),
                    ("sdp", Bencode::str(&sdp(i, phone, "RTP/AVP", None))),
                ]);
                let r = ng.ask(&answer)?;
                let to_client = r
                    .get("sdp")
                    .and_then(Bencode::as_str)
                    .ok_or("rtpengine: answer reply has no SDP")?;
                let (client_port, crypto) =
                    sdp_port_and_crypto(to_client).ok_or("rtpengine: answer SDP has no m=audio")?;
                let (tx, rx) = match &keys {
                    Some((suite, up, _)) => {
                        let crypto = crypto.ok_or("rtpengine: answer SDP has no a=crypto")?;
                        let rx = crypto
                            .parse::<CryptoAttribute>()
                            .and_then(|a| a.context(Policy::new(*suite)))
                            .map_err(|e| format!("rtpengine's a=crypto: {e}"))?;
                        (Some(ctx(*suite, up)?), Some(rx))
                    }
                    None => (None, None),
                };
                Ok(CallPlan {
                    client_dst: SocketAddr::new(o.relay_ip, client_port),
                    phone_dst: SocketAddr::new(o.relay_ip, phone_port),
                    client_tx: tx,
                    client_rx: rx,
                    mux_id: None,
                    handle: call_id,
                })
            }
        }
    }

    /// Reads the relay's counters and releases every call.
    fn finish(&mut self, plans: &[CallPlan]) -> (Option<Value>, serde_json::Map<String, Value>) {
        let mut drops = serde_json::Map::new();
        match self {
            Target::Portico(control) => {
                let info = control.ask(&json!({"op": "info"})).ok();
                for p in plans {
                    let leg: u64 = p.handle.parse().unwrap_or(u64::MAX);
                    if let Ok(v) = control.ask(&json!({"op": "stats", "leg": leg})) {
                        if let Some(d) = v["stats"]["dropped"].as_object() {
                            for (reason, count) in d {
                                let c = drops.get(reason).and_then(Value::as_u64).unwrap_or(0);
                                drops
                                    .insert(reason.clone(), json!(c + count.as_u64().unwrap_or(0)));
                            }
                        }
                    }
                    let _ = control.ask(&json!({"op": "release", "leg": leg}));
                }
                (info, drops)
            }
            Target::Rtpengine(ng) => {
                use crate::ng::Bencode;
                for p in plans {
                    let _ = ng.ask(&Bencode::dict(&[
                        ("command", Bencode::str("delete")),
                        ("call-id", Bencode::str(&p.handle)),
                        ("from-tag", Bencode::str("client")),
                        ("delete-delay", Bencode::Int(0)),
                    ]));
                }
                (None, drops)
            }
        }
    }
}

fn rtp_header(buf: &mut [u8], seq: u16, ssrc: u32) {
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq).wrapping_mul(160)).to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

/// CPU time (user + system) this process has used, from /proc/self/stat.
pub(crate) fn process_cpu() -> Option<Duration> {
    cpu_of("/proc/self/stat")
}

/// CPU time (user + system, all threads) of the process whose `stat` file is at `path`.
fn cpu_of(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

pub(crate) fn run(o: &Options) -> Result<Value, String> {
    if let Some(c) = o.core {
        pin_to_core(c).map_err(|e| format!("loadgen: pin to core {c}: {e}"))?;
    }
    let bind = |what: &str| {
        UdpSocket::bind(SocketAddr::new(o.bind.unwrap_or(o.relay_ip), 0))
            .and_then(|s| UdpBatch::new(s, 64))
            .and_then(|b| {
                // Room for bursts: two sockets carry every call's packets.
                b.set_buffers(32 << 20)?;
                Ok(b)
            })
            .map_err(|e| format!("loadgen: {what} socket: {e}"))
    };
    let mut client = bind("client")?;
    let mut phone = bind("phone")?;
    if o.mux {
        client
            .set_gro()
            .map_err(|e| format!("loadgen: client socket: UDP_GRO: {e}"))?;
    }
    let client_addr = client.local_addr().map_err(|e| e.to_string())?;
    let phone_addr = phone.local_addr().map_err(|e| e.to_string())?;
    let mut target = match o.rtpengine {
        Some(ng) => Target::Rtpengine(crate::ng::NgClient::new(ng)?),
        None => Target::Portico(Control::connect(&o.control)?),
    };
    let k = o.packets_per_call();
    let n = o.calls;

    // Set up the calls and the client packets (framed with the multiplex id under --mux).
    let mut plans = Vec::with_capacity(n);
    let mut client_packets: Vec<Vec<u8>> = Vec::with_capacity(n * k);
    let mut by_client_src = std::collections::HashMap::new();
    let mut by_mux_id = std::collections::HashMap::new();
    let mut by_phone_src = std::collections::HashMap::new();
    for i in 0..n {
        let mut plan = target.setup(o, i, client_addr, phone_addr)?;
        by_client_src.insert(plan.client_dst, i);
        by_phone_src.insert(plan.phone_dst, i);
        if let Some(id) = plan.mux_id {
            // Ids are unique per traversal pair, not across pairs.
            by_mux_id.insert((plan.client_dst, id), i);
        }
        let ssrc = 0x1000_0000 | i as u32;
        for j in 0..k {
            let mut p = vec![0u8; o.size + 16];
            rtp_header(&mut p, j as u16, ssrc);
            let len = match plan.client_tx.as_mut() {
                Some(c) => c
                    .protect_rtp(&mut p, o.size)
                    .map_err(|e| format!("loadgen: protect: {e}"))?,
                None => o.size,
            };
            p.truncate(len);
            if let Some(id) = plan.mux_id {
                p.splice(0..0, id.to_be_bytes());
            }
            client_packets.push(p);
        }
        plans.push(plan);
    }
    let mut client_rx: Vec<Option<Context>> =
        plans.iter_mut().map(|p| p.client_rx.take()).collect();
    let framing = if o.mux { 4 } else { 0 };

    // Send and receive.
    let interval = Duration::from_secs_f64(1.0 / f64::from(o.pps));
    let mut phone_packets: Vec<[u8; 1400]> = vec![[0u8; 1400]; n];
    let mut sent_client: Vec<Option<Instant>> = vec![None; n * k];
    let mut sent_phone: Vec<Option<Instant>> = vec![None; n * k];
    let mut at_phone = Receiver::new(n, n * k);
    let mut at_client = Receiver::new(n, n * k);
    let (mut sent_up, mut sent_down) = (0u64, 0u64);
    let cpu0 = process_cpu();
    let relay_stat = o.relay_pid.map(|p| format!("/proc/{p}/stat"));
    let relay_cpu0 = relay_stat.as_deref().and_then(cpu_of);
    let start = match o.start_at_ms {
        None => Instant::now() + Duration::from_millis(50),
        Some(ms) => {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(ms);
            let wait = at
                .duration_since(std::time::SystemTime::now())
                .map_err(|_| {
                    "loadgen: the calls were not set up by --start-at: give it more time"
                        .to_string()
                })?;
            Instant::now() + wait
        }
    };
    let total = n * k;
    let mut next = 0usize; // index over (tick j, call i): j * n + i
    let mut batch: Vec<usize> = Vec::with_capacity(64);
    let drain_until =
        |now: Instant| now > start + interval * (k as u32) + Duration::from_millis(500);
    loop {
        let now = Instant::now();
        while next < total && batch.len() < 64 {
            let (j, i) = (next / n, next % n);
            let due = start + interval * (j as u32) + interval.mul_f64(i as f64 / n as f64);
            if due > now {
                break;
            }
            batch.push(next);
            next += 1;
        }
        if !batch.is_empty() && o.direction.up() {
            // Sends are numbered tick-major (j * n + i); packets are stored per call.
            let packet = |idx: usize| &client_packets[(idx % n) * k + idx / n][..];
            let t = Instant::now();
            if o.mux {
                // Every call's packet goes to its traversal pair: one GSO send per pair (and
                // length; the last of a send may be shorter).
                let mut by_dst: Vec<(SocketAddr, &[u8])> = batch
                    .iter()
                    .map(|&idx| (plans[idx % n].client_dst, packet(idx)))
                    .collect();
                by_dst.sort_by_key(|&(dst, _)| dst);
                let mut off = 0;
                while off < by_dst.len() {
                    let (dst, first) = by_dst[off];
                    let mut end = off + 1;
                    while end < by_dst.len()
                        && by_dst[end].0 == dst
                        && by_dst[end].1.len() == first.len()
                    {
                        end += 1;
                    }
                    let segments: Vec<&[u8]> = by_dst[off..end].iter().map(|&(_, p)| p).collect();
                    let mut done = 0;
                    while done < segments.len() {
                        match client.send_segments(dst, &segments[done..]) {
                            Ok(0) => std::thread::yield_now(),
                            Ok(m) => done += m,
                            Err(e) => return Err(format!("loadgen: send: {e}")),
                        }
                    }
                    off = end;
                }
            } else {
                let datagrams: Vec<(SocketAddr, &[u8])> = batch
                    .iter()
                    .map(|&idx| (plans[idx % n].client_dst, packet(idx)))
                    .collect();
                let mut off = 0;
                while off < datagrams.len() {
                    match client.send(&datagrams[off..]) {
                        Ok(0) => std::thread::yield_now(),
                        Ok(m) => off += m,
                        Err(e) => return Err(format!("loadgen: send: {e}")),
                    }
                }
            }
            for &idx in &batch {
                sent_client[idx] = Some(t);
            }
            sent_up += batch.len() as u64;
        }
        if !batch.is_empty() && o.direction.down() {
            for &idx in &batch {
                let (j, i) = (idx / n, idx % n);
                rtp_header(&mut phone_packets[i], j as u16, 0x2000_0000 | i as u32);
            }
            let t = Instant::now();
            let datagrams: Vec<(SocketAddr, &[u8])> = batch
                .iter()
                .map(|&idx| (plans[idx % n].phone_dst, &phone_packets[idx % n][..o.size]))
                .collect();
            let mut off = 0;
            while off < datagrams.len() {
                match phone.send(&datagrams[off..]) {
                    Ok(0) => std::thread::yield_now(),
                    Ok(m) => off += m,
                    Err(e) => return Err(format!("loadgen: send: {e}")),
                }
            }
            for &idx in &batch {
                sent_phone[idx] = Some(t);
            }
            sent_down += batch.len() as u64;
        }
        let sent_any = !batch.is_empty();
        batch.clear();
        // Receive at the phone (client -> relay -> phone) and at the client (phone -> relay ->
        // client): everything waiting (up to a bound), so that reading never falls behind
        // arrivals and the latency measured is the relay's, not a backlog of our own.
        let mut got = 0;
        let mut now = Instant::now();
        for _ in 0..RECV_ROUNDS {
            now = Instant::now();
            let before = got;
            got += phone
                .recv(|src, d| {
                    let (Some(&call), true) = (by_phone_src.get(&src), d.len() >= 12) else {
                        at_phone.unknown += 1;
                        return;
                    };
                    let seq = u16::from_be_bytes([d[2], d[3]]);
                    let ts = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
                    let idx = usize::from(seq) * n + call;
                    at_phone.on_packet(call, seq, ts, sent_client.get(idx).copied().flatten(), now);
                })
                .map_err(|e| format!("loadgen: receive: {e}"))?;
            got += client
                .recv(|src, d| {
                    let call = match o.mux {
                        true => d.get(..4).and_then(|h| {
                            by_mux_id.get(&(src, u32::from_be_bytes([h[0], h[1], h[2], h[3]])))
                        }),
                        false => by_client_src.get(&src),
                    };
                    let (Some(&call), true) = (call, d.len() >= framing + 12) else {
                        at_client.unknown += 1;
                        return;
                    };
                    let d = &d[framing..];
                    if o.verify {
                        if let Some(ctx) = client_rx[call].as_mut() {
                            let mut b = [0u8; 1500];
                            let l = d.len().min(1500);
                            b[..l].copy_from_slice(&d[..l]);
                            if ctx.unprotect_rtp(&mut b[..l]).is_err() {
                                at_client.auth_failures += 1;
                                return;
                            }
                        }
                    }
                    let seq = u16::from_be_bytes([d[2], d[3]]);
                    let ts = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
                    let idx = usize::from(seq) * n + call;
                    at_client.on_packet(call, seq, ts, sent_phone.get(idx).copied().flatten(), now);
                })
                .map_err(|e| format!("loadgen: receive: {e}"))?;
            if got == before {
                break;
            }
        }
        if next >= total && drain_until(now) {
            break;
        }
        if got == 0 && !sent_any {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let cpu = process_cpu().zip(cpu0).map(|(a, b)| a.saturating_sub(b));
    let traffic = Instant::now().saturating_duration_since(start);
    let relay_cpu = relay_stat
        .as_deref()
        .and_then(cpu_of)
        .zip(relay_cpu0)
        .map(|(a, b)| a.saturating_sub(b));
    let (relay_info, relay_drops) = target.finish(&plans);
    Ok(json!({
        "calls": n,
        "pps_per_direction": o.pps,
        "seconds": o.seconds,
        "size": o.size,
        "suite": o.suite.map_or("plain".to_string(), |s| s.sdes_name().to_string()),
        "target": if o.rtpengine.is_some() { "rtpengine" } else { "portico" },
        "direction": match o.direction {
            Direction::Both => "both",
            Direction::Up => "up",
            Direction::Down => "down",
        },
        "mux": o.mux,
        "offered_pps": f64::from(u8::from(o.direction.up()) + u8::from(o.direction.down()))
            * n as f64
            * f64::from(o.pps),
        "client_to_phone": at_phone.summary(sent_up),
        "phone_to_client": at_client.summary(sent_down),
        "loadgen_cpu_seconds": cpu.map(|c| c.as_secs_f64()),
        "traffic_seconds": traffic.as_secs_f64(),
        "relay_cpu_seconds": relay_cpu.map(|c| c.as_secs_f64()),
        "relay": relay_info,
        "relay_outside_drops": relay_drops,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    /// A media plane in this process behind a control socket, and the generator through it,
    /// in each mode: both directions (SRTP and plain), one direction at a time, and the outside
    /// legs multiplexed on a traversal pair. Every packet arrives where it should, each way,
    /// and the numbers hold together.
    #[test]
    fn calls_through_a_relay() {
        use media::relay::port_alloc::PortRange;
        use media::runtime::{BackendChoice, MediaPlane, PlaneConfig};
        use std::os::unix::net::UnixListener;
        let srtp = Some(Suite::AesCm128HmacSha1_80);
        let cases = [
            (srtp, Direction::Both, false),
            (None, Direction::Both, false),
            (srtp, Direction::Up, false),
            (srtp, Direction::Down, false),
            (srtp, Direction::Both, true),
        ];
        for (case, &(suite, direction, mux)) in cases.iter().enumerate() {
            // A range of its own, below the ephemeral ports (a pair another program holds is
            // skipped by the plane); the traversal pair is its first pair.
            let first = 22000 + 100 * case as u16;
            // Two traversal pairs: multiplexed calls are spread over both (ids are per pair).
            let mut cfg = PlaneConfig {
                backend: BackendChoice::Sockets,
                mux_pairs: vec![first, first + 2],
                ..PlaneConfig::default()
            };
            cfg.ports.range = PortRange::new(first, first + 99).unwrap();
            let plane = MediaPlane::spawn(cfg).unwrap();
            let dir =
                std::env::temp_dir().join(format!("portico-loadgen-{}-{case}", std::process::id()));
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join("control.sock");
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path).unwrap();
            let server = std::thread::spawn(move || {
                let (s, _) = listener.accept().unwrap();
                crate::relay_cmd::serve(&crate::relay_cmd::Node::new(plane), s);
            });
            let o = Options {
                control: path.clone(),
                calls: 10,
                seconds: 1.0,
                suite,
                direction,
                mux,
                ..Options::parse(&[]).unwrap()
            };
            let r = run(&o).unwrap();
            let what = format!("{suite:?} {direction:?} mux {mux}");
            for (dir, sends) in [
                ("client_to_phone", direction.up()),
                ("phone_to_client", direction.down()),
            ] {
                let d = &r[dir];
                if !sends {
                    assert_eq!(d["sent"], 0, "{what} {dir}: {r:#}");
                    assert_eq!(d["received"], 0, "{what} {dir}: {r:#}");
                    continue;
                }
                assert_eq!(d["sent"], 500, "{what} {dir}: {r:#}");
                // Loopback on a loaded 2-core CI box: allow a datagram or two to be late.
                assert!(
                    d["received"].as_u64().unwrap() >= 495,
                    "{what} {dir}: {r:#}"
                );
                assert_eq!(d["auth_failures"], 0, "{what}");
                assert_eq!(d["unknown_source"], 0, "{what}");
                assert!(d["latency_us"]["p50"].as_u64().is_some());
            }
            assert_eq!(r["relay"]["receive_errors"], 0, "{what}: {r:#}");
            server.join().unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn options() {
        let o = Options::parse(&args(&[
            "--calls",
            "5",
            "--suite",
            "AEAD_AES_128_GCM",
            "--seconds",
            "2",
        ]))
        .unwrap();
        assert_eq!((o.calls, o.packets_per_call()), (5, 100));
        assert_eq!(o.suite, Some(Suite::AeadAes128Gcm));
        assert_eq!(
            Options::parse(&args(&["--suite", "plain"])).unwrap().suite,
            None
        );
        for (bad, says) in [
            (&["--calls", "0"][..], "positive"),
            (&["--suite", "ROT13"][..], "not an SRTP suite"),
            (&["--size", "5"][..], "--size"),
            (&["--seconds", "2000"][..], "65000"),
            (&["--calls"][..], "needs a value"),
            (&["--direction", "sideways"][..], "both, up or down"),
            (
                &["--mux", "--rtpengine", "127.0.0.1:2223"][..],
                "rtpengine has no",
            ),
        ] {
            let e = Options::parse(&args(bad)).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
