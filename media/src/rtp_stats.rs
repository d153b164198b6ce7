//! Per-flow receive statistics for the relay's packet path.
//!
//! - [`RtpReceiveStats`]: the RFC 3550 receiver state of one RTP source: sequence number
//!   validation and the extended highest sequence number (Appendix A.1), expected and lost
//!   packets, cumulative and per interval (Appendix A.3, §6.4.1), and the interarrival jitter
//!   (Appendix A.8, §6.4.1).
//! - [`FlowCounters`]: packets, bytes, last packet time, and drops by [`DropReason`].
//!
//! Both are called once per relayed packet: every update is O(1), allocates nothing and divides
//! by no run-time value (the only divisions on the packet path are by compile-time constants,
//! which the compiler turns into a multiply and a shift). Nothing here reads a clock: arrival
//! times are arguments.

use core::fmt;
use std::time::{Duration, Instant};

use crate::srtp;

/// RFC 3550 A.1: sequential packets needed before a new source is declared valid.
pub const MIN_SEQUENTIAL: u16 = 2;
/// RFC 3550 A.1: the largest forward step of the sequence number still taken as in order (a
/// gap of lost packets); larger steps are a "very large jump".
pub const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: a packet fewer than this many sequence numbers behind the highest is a
/// duplicate or misordered packet; further behind, it is a "very large jump".
pub const MAX_MISORDER: u16 = 100;

/// RFC 3550 A.1 `RTP_SEQ_MOD`.
const RTP_SEQ_MOD: u32 = 1 << 16;
/// `bad_seq` value that no 16-bit sequence number equals (RFC 3550 A.1 `init_seq`).
const NO_BAD_SEQ: u32 = RTP_SEQ_MOD + 1;
const NANOS_PER_SEC: u64 = 1_000_000_000;
/// RFC 3550 §6.4.1: the cumulative number of packets lost is a signed 24-bit field.
const RR_LOST_MAX: i64 = 0x7f_ffff;
const RR_LOST_MIN: i64 = -0x80_0000;

// The duplicate bitmap below covers MAX_MISORDER sequence numbers behind the highest.
const _: () = assert!(MAX_MISORDER < 128 && MIN_SEQUENTIAL >= 1 && MIN_SEQUENTIAL < 128);

/// What RFC 3550 A.1 `update_seq` made of a packet's sequence number, and whether the packet
/// counts as received (see [`SeqVerdict::counted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeqVerdict {
    /// In order, possibly after a gap of fewer than [`MAX_DROPOUT`] lost packets; the highest
    /// sequence number advanced. Also returned by the packet that ends the probation of a new
    /// source. Counted.
    Valid,
    /// Fewer than [`MAX_MISORDER`] behind the highest, and not seen before. Counted (A.1).
    Misordered,
    /// Equal to the highest sequence number, or to one of the [`MAX_MISORDER`] before it that
    /// was already received. A.1 counts duplicates as received, which is why the cumulative
    /// loss can be negative (§6.4.1). Counted.
    Duplicate,
    /// The source is still on probation (A.1: [`MIN_SEQUENTIAL`] sequential packets make it
    /// valid). Not counted.
    Probation,
    /// A very large jump (at least [`MAX_DROPOUT`] ahead or [`MAX_MISORDER`] behind). Not
    /// counted; if the next packet follows this one, the source is taken as restarted.
    BadSequence,
    /// The packet right after a [`SeqVerdict::BadSequence`] one: A.1 assumes the sender
    /// restarted and re-synchronises (`init_seq`), so the counters start again from this packet.
    /// Counted.
    Restarted,
}

impl SeqVerdict {
    /// Whether RFC 3550 A.1 counts the packet as received (`update_seq` returns 1).
    pub const fn counted(self) -> bool {
        !matches!(self, SeqVerdict::Probation | SeqVerdict::BadSequence)
    }
}

/// RFC 3550 receive statistics of one RTP source (one SSRC): Appendix A.1 sequence number
/// validation, A.3 loss, A.8 interarrival jitter.
///
/// Feed every RTP packet of the source to [`RtpReceiveStats::on_packet`]; read the cumulative
/// values with [`RtpReceiveStats::snapshot`], and once per RTCP report interval call
/// [`RtpReceiveStats::interval_report`] for the fraction lost.
///
/// Choices where the RFC leaves room:
///
/// - The jitter is updated by the packets that A.1 counts, except duplicates (a duplicate is
///   not a new packet of the sender; the pair (P, P) says nothing about the sender's spacing).
/// - A restart (A.1 re-synchronisation) resets the counters as `init_seq` does, and the transit
///   reference of A.8 (the new sender may use a new random timestamp base), but keeps the
///   jitter estimate, which describes the network path.
/// - The cycle count is 64-bit, so the extended highest sequence number does not wrap in any
///   realistic uptime; the RR field is its low 32 bits.
#[derive(Clone, Debug)]
pub struct RtpReceiveStats {
    clock_rate: u32,
    /// Arrival time of the first packet: the zero of the arrival clock in timestamp units.
    epoch: Option<Instant>,
    // RFC 3550 A.1 `source`.
    max_seq: u16,
    /// Number of sequence number wraps (A.1 keeps them shifted by 16: `cycles`).
    cycles: u64,
    base_seq: u16,
    bad_seq: u32,
    probation: u16,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Bit `i` set: sequence number `max_seq - i` was received (i < 128).
    recent: u128,
    // RFC 3550 A.8.
    /// Relative transit time of the previous packet, in timestamp units.
    transit: Option<u32>,
    /// The jitter scaled by 16, as in the integer form of A.8.
    jitter_q4: u64,
    // Lifetime counters, not reset by a restart.
    duplicates: u64,
    misordered: u64,
    not_counted: u64,
    restarts: u64,
}

/// The cumulative receive statistics of a source, from [`RtpReceiveStats::snapshot`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtpReceiveSnapshot {
    /// The RTP clock rate of the payload, in Hz.
    pub clock_rate_hz: u32,
    /// Whether the source passed probation (RFC 3550 A.1). Until then the loss figures are 0.
    pub valid: bool,
    /// Packets counted by RFC 3550 A.1 since the source became valid or last restarted,
    /// duplicates included.
    pub received: u64,
    /// RFC 3550 A.3 `expected`: extended highest sequence number minus the base plus one.
    pub expected: u64,
    /// RFC 3550 A.3 cumulative number of packets lost, `expected - received`. Negative when
    /// duplicates outnumber the losses (§6.4.1).
    pub lost: i64,
    /// [`RtpReceiveSnapshot::lost`] clamped to the signed 24-bit range of the RR field
    /// (0x7fffff for positive loss, -0x800000 for negative loss; RFC 3550 A.3).
    pub lost_rr: i32,
    /// The first sequence number counted (A.1 `base_seq`).
    pub base_seq: u16,
    /// Extended highest sequence number received: wraps (cycles) times 2^16 plus the highest
    /// sequence number (RFC 3550 A.1). The RR field (§6.4.1) is its low 32 bits.
    pub extended_max_seq: u64,
    /// Times the sequence number wrapped since the source became valid or last restarted.
    pub cycles: u64,
    /// Interarrival jitter in RTP timestamp units, as the RR reports it (RFC 3550 §6.4.1, A.8).
    pub jitter_ts: u32,
    /// Interarrival jitter in sixteenths of a timestamp unit (the scaled estimator of A.8).
    pub jitter_ts_q4: u64,
    /// [`RtpReceiveSnapshot::jitter_ts`] in microseconds: `jitter_ts * 10^6 / clock_rate_hz`,
    /// rounded down.
    pub jitter_us: u64,
    /// Packets classified [`SeqVerdict::Duplicate`], over the lifetime of the source.
    pub duplicates: u64,
    /// Packets classified [`SeqVerdict::Misordered`], over the lifetime of the source.
    pub misordered: u64,
    /// Packets not counted (probation or bad sequence), over the lifetime of the source.
    pub not_counted: u64,
    /// Times A.1 re-synchronised on a restarted source.
    pub restarts: u64,
}

/// Loss over one report interval (RFC 3550 A.3), from [`RtpReceiveStats::interval_report`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntervalReport {
    /// Fraction of the packets expected in the interval that were lost, as a fixed-point number
    /// with the binary point at the left edge (the RR "fraction lost" field, RFC 3550 §6.4.1);
    /// 0 when nothing was expected or duplicates outnumber the losses.
    pub fraction_lost_q8: u8,
    /// Packets expected in the interval minus packets received in it; negative when duplicates
    /// outnumber the losses.
    pub lost_in_interval: i64,
    /// Packets expected in the interval (growth of the extended highest sequence number).
    pub expected_in_interval: u64,
    /// Packets counted in the interval.
    pub received_in_interval: u64,
}

impl RtpReceiveStats {
    /// Statistics for a source whose payload has an RTP clock of `clock_rate_hz` (RFC 3550 §5.1;
    /// 8000 for G.711, 90000 for video). 0 is no clock rate; it is taken as 1 Hz so that
    /// nothing divides by zero.
    pub fn new(clock_rate_hz: u32) -> RtpReceiveStats {
        RtpReceiveStats {
            clock_rate: clock_rate_hz.max(1),
            epoch: None,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: NO_BAD_SEQ,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            recent: 0,
            transit: None,
            jitter_q4: 0,
            duplicates: 0,
            misordered: 0,
            not_counted: 0,
            restarts: 0,
        }
    }

    /// The RTP clock rate in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Whether the source passed probation (RFC 3550 A.1).
    pub fn is_valid(&self) -> bool {
        self.epoch.is_some() && self.probation == 0
    }

    /// Accounts one RTP packet of the source: its sequence number, RTP timestamp and arrival
    /// time. The first packet's arrival time is the reference of the arrival clock.
    ///
    /// Arrival times need not be monotonic: one before the reference counts as the reference.
    pub fn on_packet(&mut self, seq: u16, rtp_timestamp: u32, arrival: Instant) -> SeqVerdict {
        let epoch = match self.epoch {
            Some(e) => e,
            None => {
                // RFC 3550 A.1: "When a new source is heard for the first time ... init_seq(s,
                // seq); s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL;".
                self.epoch = Some(arrival);
                self.init_seq(seq);
                self.max_seq = seq.wrapping_sub(1);
                self.probation = MIN_SEQUENTIAL;
                arrival
            }
        };
        let verdict = self.update_seq(seq);
        if matches!(
            verdict,
            SeqVerdict::Valid | SeqVerdict::Misordered | SeqVerdict::Restarted
        ) {
            // RFC 3550 A.8: transit = arrival - r->ts, both in timestamp units; unsigned
            // wrapping arithmetic, as the timestamps themselves wrap.
            let arrival_ts =
                duration_to_ts(arrival.saturating_duration_since(epoch), self.clock_rate);
            self.update_jitter(arrival_ts.wrapping_sub(rtp_timestamp));
        }
        verdict
    }

    /// The cumulative statistics (RFC 3550 A.3, A.8).
    pub fn snapshot(&self) -> RtpReceiveSnapshot {
        let valid = self.is_valid();
        let expected = self.expected();
        let lost = to_i64(expected) - to_i64(self.received);
        let jitter_ts = u32::try_from(self.jitter_q4 >> 4).unwrap_or(u32::MAX);
        RtpReceiveSnapshot {
            clock_rate_hz: self.clock_rate,
            valid,
            received: self.received,
            expected,
            lost,
            lost_rr: clamp_rr_lost(lost),
            base_seq: if valid { self.base_seq } else { 0 },
            extended_max_seq: if valid { self.extended_max() } else { 0 },
            cycles: if valid { self.cycles } else { 0 },
            jitter_ts,
            jitter_ts_q4: self.jitter_q4,
            jitter_us: u64::from(jitter_ts) * 1_000_000 / u64::from(self.clock_rate),
            duplicates: self.duplicates,
            misordered: self.misordered,
            not_counted: self.not_counted,
            restarts: self.restarts,
        }
    }

    /// The loss since the previous call (or since the source became valid or restarted), and
    /// the start of a new interval (RFC 3550 A.3: `expected_prior`, `received_prior`). Call it
    /// once per RTCP report interval.
    pub fn interval_report(&mut self) -> IntervalReport {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        // Both operands are in 0..=i64::MAX: the difference cannot overflow.
        let lost_interval = to_i64(expected_interval) - to_i64(received_interval);
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            // RFC 3550 A.3: (lost_interval << 8) / expected_interval. The loss cannot reach the
            // expected count (whatever advances the highest sequence number is counted), but
            // clamp anyway: 256 does not fit the 8-bit field.
            let q8 =
                (u128::from(lost_interval.unsigned_abs()) << 8) / u128::from(expected_interval);
            u8::try_from(q8).unwrap_or(u8::MAX)
        };
        IntervalReport {
            fraction_lost_q8: fraction,
            lost_in_interval: lost_interval,
            expected_in_interval: expected_interval,
            received_in_interval: received_interval,
        }
    }

    /// RFC 3550 A.1 `init_seq`, plus the "other initialization": the duplicate bitmap and the
    /// A.8 transit reference. The jitter estimate is kept.
    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq;
        self.max_seq = seq;
        self.bad_seq = NO_BAD_SEQ;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.recent = 1;
        self.transit = None;
    }

    /// RFC 3550 A.1 `update_seq`, telling apart what it lumps together (duplicates, misordered
    /// packets) with a bitmap of the last 128 sequence numbers.
    fn update_seq(&mut self, seq: u16) -> SeqVerdict {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            // The RFC's `seq == s->max_seq + 1` is computed in `int` and misses the wrap from
            // 65535 to 0; compare modulo 2^16.
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    // The MIN_SEQUENTIAL packets of the probation all arrived.
                    self.recent = (1u128 << MIN_SEQUENTIAL) - 1;
                    self.received += 1;
                    return SeqVerdict::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            self.not_counted += 1;
            return SeqVerdict::Probation;
        }
        let verdict = if udelta < MAX_DROPOUT {
            // In order, with permissible gap.
            if udelta == 0 {
                self.duplicates += 1;
                SeqVerdict::Duplicate
            } else {
                if seq < self.max_seq {
                    // Sequence number wrapped: count another 64K cycle.
                    self.cycles += 1;
                }
                self.max_seq = seq;
                self.recent = if udelta < 128 {
                    (self.recent << udelta) | 1
                } else {
                    1
                };
                SeqVerdict::Valid
            }
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            // The sequence number made a very large jump.
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: assume the other side restarted without telling us,
                // and re-sync (pretend this was the first packet).
                self.init_seq(seq);
                // The packet before this one (the first after the jump) arrived too.
                self.recent = 0b11;
                self.restarts += 1;
                SeqVerdict::Restarted
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                self.not_counted += 1;
                return SeqVerdict::BadSequence;
            }
        } else {
            // Duplicate or reordered packet: 1..MAX_MISORDER behind the highest.
            let bit = 1u128 << self.max_seq.wrapping_sub(seq);
            if self.recent & bit != 0 {
                self.duplicates += 1;
                SeqVerdict::Duplicate
            } else {
                self.recent |= bit;
                self.misordered += 1;
                SeqVerdict::Misordered
            }
        };
        self.received += 1;
        verdict
    }

    /// RFC 3550 A.8, integer form: `d = |transit - s->transit|; s->jitter += d - ((s->jitter +
    /// 8) >> 4)`, the jitter kept scaled by 16 (J += (|D| - J) / 16 with rounding). 64-bit so that
    /// even |D| near 2^31 cannot overflow the scaled value (at most 16 |D|).
    fn update_jitter(&mut self, transit: u32) {
        if let Some(prev) = self.transit {
            // The difference is a signed 32-bit value (`int d` in the RFC).
            let d = u64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            // (j + 8) >> 4 <= j for every j >= 0: no underflow.
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    fn extended_max(&self) -> u64 {
        (self.cycles << 16) | u64::from(self.max_seq)
    }

    /// RFC 3550 A.3 `expected`; 0 before the source is valid.
    fn expected(&self) -> u64 {
        if !self.is_valid() {
            return 0;
        }
        // Never negative: after init_seq the extended maximum equals the base and only grows.
        (self.extended_max() + 1).saturating_sub(u64::from(self.base_seq))
    }
}

/// Converts a time since the arrival reference into RTP timestamp units, modulo 2^32 as RTP
/// timestamps wrap: `floor(elapsed * clock_rate / 10^9)`, exactly, for any duration.
///
/// Whole seconds are multiplied modulo 2^64 (only the low 32 bits matter), the sub-second part
/// is below 2^30 ns so `nanos * clock_rate` fits 64 bits; the division is by a constant.
fn duration_to_ts(elapsed: Duration, clock_rate: u32) -> u32 {
    let clock = u64::from(clock_rate);
    let whole = elapsed.as_secs().wrapping_mul(clock);
    let frac = u64::from(elapsed.subsec_nanos()) * clock / NANOS_PER_SEC;
    // Truncation is the intent: timestamps are modulo 2^32.
    whole.wrapping_add(frac) as u32
}

/// RFC 3550 A.3: the cumulative loss in the RR is clamped to 0x7fffff for positive loss or
/// 0x800000 (-2^23 in the signed 24-bit field) for negative loss.
fn clamp_rr_lost(lost: i64) -> i32 {
    // In -2^23..2^23 after the clamp: the conversion cannot fail.
    i32::try_from(lost.clamp(RR_LOST_MIN, RR_LOST_MAX)).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Why the relay dropped a datagram: the label of a drop counter.
///
/// Values are small and `Copy`; [`DropReason::label`] is the Prometheus label value, as in
/// `relay_dropped_total{reason="auth_fail"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than the header the datagram claims to carry (or than an SRTP trailer).
    TooShort,
    /// Longer than the largest datagram the relay takes (cut off by the kernel on receive).
    TooLong,
    /// Neither RTP, RTCP nor STUN (RFC 7983 demultiplexing): garbage.
    NotRtp,
    /// The SRTP/SRTCP authentication tag did not match (RFC 3711 §3.4).
    AuthFail,
    /// The SRTP/SRTCP index was already received or is older than the replay window
    /// (RFC 3711 §3.3.2).
    Replay,
    /// The MKI names no master key (RFC 3711 §3.1).
    UnknownMki,
    /// A malformed RTP/RTCP header (RFC 3550 §5.1, §6.4): version not 2, or the CSRC list or
    /// extension runs past the datagram.
    BadHeader,
    /// From an address that is not the latched or signalled one of the flow.
    UnexpectedSource,
    /// No flow on that port or multiplex id.
    UnknownFlow,
    /// A bad multiplex header.
    MuxFraming,
    /// The peer leg has no address to send to yet.
    NoRemote,
    /// The send itself failed.
    SendFailed,
    /// A new SSRC would exceed the stream limit of the SRTP context.
    TooManyStreams,
    /// The packet index space of the SRTP master key is used up (2^48 SRTP packets, 2^31 SRTCP
    /// packets; RFC 3711 §9.2): the leg needs a rekey. A reason of its own, not
    /// [`DropReason::Other`], because an operator must act on it.
    KeyExhausted,
    /// Anything else, among them a local buffer too small for the SRTP trailer
    /// ([`srtp::Error::BufferTooSmall`]), which is a bug in the caller, not in the traffic.
    Other,
}

impl DropReason {
    /// Number of reasons: the size of [`DropReason::ALL`] and of [`DropCounters`].
    pub const COUNT: usize = 15;

    /// Every reason, in declaration order (the order of [`DropCounters::iter`]).
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::TooShort,
        DropReason::TooLong,
        DropReason::NotRtp,
        DropReason::AuthFail,
        DropReason::Replay,
        DropReason::UnknownMki,
        DropReason::BadHeader,
        DropReason::UnexpectedSource,
        DropReason::UnknownFlow,
        DropReason::MuxFraming,
        DropReason::NoRemote,
        DropReason::SendFailed,
        DropReason::TooManyStreams,
        DropReason::KeyExhausted,
        DropReason::Other,
    ];

    /// The snake_case label value, e.g. `relay_dropped_total{reason="auth_fail"}`. The reasons
    /// that SRTP reports carry the same labels as [`srtp::Error::reason`].
    pub const fn label(self) -> &'static str {
        match self {
            DropReason::TooShort => "too_short",
            DropReason::TooLong => "too_long",
            DropReason::NotRtp => "not_rtp",
            DropReason::AuthFail => "auth_fail",
            DropReason::Replay => "replay",
            DropReason::UnknownMki => "unknown_mki",
            DropReason::BadHeader => "bad_header",
            DropReason::UnexpectedSource => "unexpected_source",
            DropReason::UnknownFlow => "unknown_flow",
            DropReason::MuxFraming => "mux_framing",
            DropReason::NoRemote => "no_remote",
            DropReason::SendFailed => "send_failed",
            DropReason::TooManyStreams => "too_many_streams",
            DropReason::KeyExhausted => "key_exhausted",
            DropReason::Other => "other",
        }
    }

    /// The index of the reason in [`DropReason::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl From<srtp::Error> for DropReason {
    /// Every SRTP error has the reason of the same name, except
    /// [`srtp::Error::BufferTooSmall`], a local bug counted as [`DropReason::Other`].
    ///
    /// The match names every variant and has no wildcard: `#[non_exhaustive]` binds only other
    /// crates, so a new SRTP error fails to compile here until it is given a reason.
    fn from(e: srtp::Error) -> DropReason {
        match e {
            srtp::Error::TooShort => DropReason::TooShort,
            srtp::Error::BadHeader => DropReason::BadHeader,
            srtp::Error::AuthFail => DropReason::AuthFail,
            srtp::Error::Replay => DropReason::Replay,
            srtp::Error::UnknownMki => DropReason::UnknownMki,
            srtp::Error::TooManyStreams => DropReason::TooManyStreams,
            srtp::Error::KeyExhausted => DropReason::KeyExhausted,
            srtp::Error::BufferTooSmall => DropReason::Other,
        }
    }
}

/// Drop counts, one per [`DropReason`], in a fixed array.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; DropReason::COUNT],
}

impl DropCounters {
    /// All counts zero.
    pub const fn new() -> DropCounters {
        DropCounters {
            counts: [0; DropReason::COUNT],
        }
    }

    /// Counts one drop for `reason`.
    pub fn add(&mut self, reason: DropReason) {
        let c = &mut self.counts[reason.index()];
        *c = c.saturating_add(1);
    }

    /// The drops counted for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason.index()]
    }

    /// The drops counted for all reasons.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// Every reason with its count, zeros included, in the order of [`DropReason::ALL`].
    pub fn iter(&self) -> DropCountersIter<'_> {
        DropCountersIter {
            counters: self,
            next: 0,
        }
    }
}

impl<'a> IntoIterator for &'a DropCounters {
    type Item = (DropReason, u64);
    type IntoIter = DropCountersIter<'a>;

    fn into_iter(self) -> DropCountersIter<'a> {
        self.iter()
    }
}

/// Iterator over `(reason, count)` pairs, from [`DropCounters::iter`].
#[derive(Clone, Debug)]
pub struct DropCountersIter<'a> {
    counters: &'a DropCounters,
    next: usize,
}

impl Iterator for DropCountersIter<'_> {
    type Item = (DropReason, u64);

    fn next(&mut self) -> Option<(DropReason, u64)> {
        let reason = *DropReason::ALL.get(self.next)?;
        self.next += 1;
        Some((reason, self.counters.get(reason)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = DropReason::COUNT.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for DropCountersIter<'_> {}

/// Packet, byte and drop counters of one flow (one direction of one leg).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Packets accepted.
    pub packets: u64,
    /// Bytes of the accepted packets.
    pub bytes: u64,
    /// When the last accepted packet arrived.
    pub last_packet: Option<Instant>,
    /// When the last dropped packet arrived. Kept apart from `last_packet` so that dropped
    /// traffic (spoofed, say) cannot make a flow look alive.
    pub last_drop: Option<Instant>,
    /// Dropped packets by reason.
    pub drops: DropCounters,
}

impl FlowCounters {
    /// All zero, no packet seen.
    pub const fn new() -> FlowCounters {
        FlowCounters {
            packets: 0,
            bytes: 0,
            last_packet: None,
            last_drop: None,
            drops: DropCounters::new(),
        }
    }

    /// Counts an accepted packet of `len` bytes that arrived at `now`.
    pub fn on_packet(&mut self, len: usize, now: Instant) {
        self.packets = self.packets.saturating_add(1);
        self.bytes = self
            .bytes
            .saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        self.last_packet = Some(now);
    }

    /// Counts a packet dropped for `reason` at `now`.
    pub fn on_drop(&mut self, reason: DropReason, now: Instant) {
        self.drops.add(reason);
        self.last_drop = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const G711_CLOCK: u32 = 8000;
    const PTIME: Duration = Duration::from_millis(20);
    const TS_STEP: u32 = 160;

    /// Feeds `(seq, ts, arrival offset)` and returns the verdicts.
    fn feed(
        s: &mut RtpReceiveStats,
        t0: Instant,
        pkts: impl IntoIterator<Item = (u16, u32, Duration)>,
    ) -> Vec<SeqVerdict> {
        pkts.into_iter()
            .map(|(seq, ts, at)| s.on_packet(seq, ts, t0 + at))
            .collect()
    }

    /// Packet `k` of a clean 20 ms G.711 stream starting at `seq0`, `ts0`.
    fn clean(seq0: u16, ts0: u32, k: u32) -> (u16, u32, Duration) {
        (
            seq0.wrapping_add(k as u16),
            ts0.wrapping_add(k * TS_STEP),
            PTIME * k,
        )
    }

    #[test]
    fn clean_sequence_has_no_loss_and_no_jitter() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        let v = feed(&mut s, t0, (0..1000).map(|k| clean(1000, 0x1234_5678, k)));
        // A.1: the first packet is on probation, the second (sequential) makes the source
        // valid and is the first counted (init_seq then received++).
        assert_eq!(v[0], SeqVerdict::Probation);
        assert!(v[1..].iter().all(|&v| v == SeqVerdict::Valid));
        let snap = s.snapshot();
        assert!(snap.valid);
        assert_eq!(snap.base_seq, 1001);
        assert_eq!((snap.received, snap.expected, snap.lost), (999, 999, 0));
        assert_eq!(snap.extended_max_seq, 1999);
        assert_eq!(
            (snap.jitter_ts, snap.jitter_ts_q4, snap.jitter_us),
            (0, 0, 0)
        );
        assert_eq!(
            (snap.duplicates, snap.misordered, snap.not_counted),
            (0, 0, 1)
        );
        let r = s.interval_report();
        assert_eq!(
            r,
            IntervalReport {
                fraction_lost_q8: 0,
                lost_in_interval: 0,
                expected_in_interval: 999,
                received_in_interval: 999,
            }
        );
    }

    #[test]
    fn every_tenth_packet_lost_is_ten_percent() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        feed(
            &mut s,
            t0,
            (0..1000).filter(|k| k % 10 != 9).map(|k| clean(0, 0, k)),
        );
        let snap = s.snapshot();
        // Base 1 (seq 0 was probation), highest 998 (999 is lost): 998 expected; 1..=998 holds
        // 99 lost (9, 19, ..., 989).
        assert_eq!(snap.base_seq, 1);
        assert_eq!(snap.extended_max_seq, 998);
        assert_eq!(snap.expected, 998);
        assert_eq!(snap.lost, 99);
        assert_eq!(snap.received, 998 - 99);
        assert_eq!(snap.jitter_ts, 0, "losses alone are no jitter");
        let r = s.interval_report();
        // A.3: (99 << 8) / 998 = 25 (0.0992 * 256 = 25.4).
        assert_eq!(r.fraction_lost_q8, 25);
        assert_eq!(r.lost_in_interval, 99);
        assert_eq!(r.expected_in_interval, 998);
        let exact = 99.0 / 998.0 * 256.0;
        assert!((f64::from(r.fraction_lost_q8) - exact).abs() < 1.0);
    }

    #[test]
    fn reordering_within_max_misorder_is_no_loss() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        feed(&mut s, t0, [clean(0, 0, 0), clean(0, 0, 1)]);
        // Then blocks of 50 in reverse order: up to 49 behind the highest.
        let mut verdicts = Vec::new();
        for block in 0..20u32 {
            let start = 2 + block * 50;
            verdicts.extend(feed(
                &mut s,
                t0,
                (start..start + 50).rev().map(|k| clean(0, 0, k)),
            ));
        }
        assert_eq!(
            verdicts.iter().filter(|&&v| v == SeqVerdict::Valid).count(),
            20
        );
        assert_eq!(
            verdicts
                .iter()
                .filter(|&&v| v == SeqVerdict::Misordered)
                .count(),
            980
        );
        let snap = s.snapshot();
        assert_eq!((snap.received, snap.expected, snap.lost), (1001, 1001, 0));
        assert_eq!(snap.misordered, 980);
        assert_eq!(s.interval_report().fraction_lost_q8, 0);
        // A.8 on misordered packets: each carries its own timestamp and arrival, so a reversed
        // block gives transit differences of two packet times of drift; only check that the
        // value is finite and bounded by the largest |D|.
        assert!(snap.jitter_ts <= 100 * TS_STEP);
    }

    #[test]
    fn misorder_and_dropout_limits_follow_a1() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        feed(&mut s, t0, (0..200).map(|k| clean(0, 0, k)));
        // 99 behind: still in the misorder window (A.1: udelta > RTP_SEQ_MOD - MAX_MISORDER);
        // already received, so a duplicate.
        assert_eq!(s.on_packet(199 - 99, 0, t0), SeqVerdict::Duplicate);
        // 100 behind: a very large jump, not counted.
        assert_eq!(s.on_packet(199 - 100, 0, t0), SeqVerdict::BadSequence);
        // 2999 ahead: in order with a gap; 3000 ahead: a very large jump.
        let before = s.snapshot();
        assert_eq!(s.on_packet(199 + 3000, 0, t0), SeqVerdict::BadSequence);
        assert_eq!(s.on_packet(199 + 2999, 0, t0), SeqVerdict::Valid);
        let after = s.snapshot();
        assert_eq!(after.extended_max_seq, 199 + 2999);
        assert_eq!(after.lost - before.lost, 2998);
    }

    #[test]
    fn wrap_at_65535_keeps_the_extended_sequence_growing() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        let v = feed(
            &mut s,
            t0,
            (0..2000).map(|k| clean(65000, u32::MAX - 1000, k)),
        );
        assert!(v[1..].iter().all(|&v| v == SeqVerdict::Valid));
        let snap = s.snapshot();
        assert_eq!(snap.cycles, 1);
        assert_eq!(snap.extended_max_seq, 65000 + 1999);
        assert_eq!(
            snap.extended_max_seq,
            (1 << 16) | u64::from(65000u16.wrapping_add(1999))
        );
        assert_eq!((snap.received, snap.expected, snap.lost), (1999, 1999, 0));
        assert_eq!(snap.jitter_ts, 0, "the RTP timestamp wrapped too");

        // Several cycles.
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        feed(&mut s, t0, (0..200_000).map(|k| clean(7, 0, k)));
        let snap = s.snapshot();
        assert_eq!(snap.cycles, 3);
        assert_eq!(snap.extended_max_seq, 7 + 199_999);
        assert_eq!(snap.expected, 199_999);
        assert_eq!(snap.lost, 0);
    }

    #[test]
    fn probation_across_the_wrap_and_after_a_break() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        // The RFC's int arithmetic (`seq == max_seq + 1`) would miss 65535 -> 0.
        assert_eq!(s.on_packet(65535, 0, t0), SeqVerdict::Probation);
        assert_eq!(s.on_packet(0, 160, t0 + PTIME), SeqVerdict::Valid);
        assert_eq!(s.snapshot().extended_max_seq, 0);

        // A non-sequential packet during probation restarts it at MIN_SEQUENTIAL - 1.
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        assert_eq!(s.on_packet(10, 0, t0), SeqVerdict::Probation);
        assert_eq!(s.on_packet(20, 0, t0), SeqVerdict::Probation);
        assert_eq!(s.on_packet(30, 0, t0), SeqVerdict::Probation);
        assert!(!s.is_valid());
        assert_eq!(s.snapshot().expected, 0);
        assert_eq!(s.interval_report(), IntervalReport::default());
        assert_eq!(s.on_packet(31, 0, t0), SeqVerdict::Valid);
        assert!(s.is_valid());
        let snap = s.snapshot();
        assert_eq!((snap.base_seq, snap.received, snap.expected), (31, 1, 1));
        assert_eq!(snap.not_counted, 3);
    }

    #[test]
    fn duplicates_are_counted_and_make_the_loss_negative() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        feed(&mut s, t0, (0..100).map(|k| clean(0, 0, k)));
        assert_eq!(s.interval_report().expected_in_interval, 99);
        assert_eq!(
            s.on_packet(99, 99 * TS_STEP, t0 + PTIME * 100),
            SeqVerdict::Duplicate
        );
        assert_eq!(
            s.on_packet(50, 50 * TS_STEP, t0 + PTIME * 100),
            SeqVerdict::Duplicate
        );
        // The probation packet (seq 0) is known to have arrived too.
        assert_eq!(s.on_packet(0, 0, t0 + PTIME * 100), SeqVerdict::Duplicate);
        let snap = s.snapshot();
        assert_eq!((snap.received, snap.expected), (102, 99));
        assert_eq!((snap.lost, snap.lost_rr), (-3, -3));
        assert_eq!(snap.duplicates, 3);
        // Duplicates do not feed the jitter.
        assert_eq!(snap.jitter_ts, 0);
        let r = s.interval_report();
        assert_eq!(r.lost_in_interval, -3);
        assert_eq!(
            r.fraction_lost_q8, 0,
            "A.3: negative interval loss reports 0"
        );
    }

    #[test]
    fn cumulative_loss_is_clamped_to_24_bits_for_the_report() {
        assert_eq!(clamp_rr_lost(0), 0);
        assert_eq!(clamp_rr_lost(0x7f_ffff), 0x7f_ffff);
        assert_eq!(clamp_rr_lost(0x80_0000), 0x7f_ffff);
        assert_eq!(clamp_rr_lost(i64::MAX), 0x7f_ffff);
        assert_eq!(clamp_rr_lost(-0x80_0000), -0x80_0000);
        assert_eq!(clamp_rr_lost(-0x80_0001), -0x80_0000);
        assert_eq!(clamp_rr_lost(i64::MIN), -0x80_0000);

        // And end to end: steps of 2999 lose 2998 packets each.
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        feed(&mut s, t0, [clean(0, 0, 0), clean(0, 0, 1)]);
        let mut seq = 1u16;
        for _ in 0..3000 {
            seq = seq.wrapping_add(2999);
            assert_eq!(s.on_packet(seq, 0, t0), SeqVerdict::Valid);
        }
        let snap = s.snapshot();
        assert_eq!(snap.lost, 3000 * 2998);
        assert_eq!(snap.lost_rr, 0x7f_ffff);
    }

    #[test]
    fn a_restarted_source_resyncs_after_two_sequential_packets() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        feed(&mut s, t0, (0..100).map(|k| clean(0, 0, k)));
        // A lone stray packet far away is not counted and changes nothing.
        let before = s.snapshot();
        assert_eq!(
            s.on_packet(40_000, 7, t0 + PTIME * 100),
            SeqVerdict::BadSequence
        );
        assert_eq!(
            s.on_packet(100, 100 * TS_STEP, t0 + PTIME * 100),
            SeqVerdict::Valid
        );
        let mid = s.snapshot();
        assert_eq!(mid.received, before.received + 1);
        assert_eq!(mid.extended_max_seq, 100);
        // Two jumps that do not follow each other: both bad.
        assert_eq!(
            s.on_packet(30_000, 0, t0 + PTIME * 101),
            SeqVerdict::BadSequence
        );
        assert_eq!(
            s.on_packet(50_000, 0, t0 + PTIME * 101),
            SeqVerdict::BadSequence
        );
        // The sender restarted at 50_000 with a new timestamp base: the packet after the last
        // bad one re-syncs (init_seq), and counting starts again from it.
        let ts0 = 0xdead_beef_u32;
        let at = PTIME * 102;
        assert_eq!(s.on_packet(50_001, ts0, t0 + at), SeqVerdict::Restarted);
        let snap = s.snapshot();
        assert_eq!((snap.base_seq, snap.extended_max_seq), (50_001, 50_001));
        assert_eq!((snap.received, snap.expected, snap.lost), (1, 1, 0));
        assert_eq!((snap.restarts, snap.not_counted), (1, 1 + 3));
        // Interval counters restart too (A.1 init_seq).
        assert_eq!(s.interval_report().expected_in_interval, 1);
        let v = feed(
            &mut s,
            t0,
            (1..50).map(|k| {
                (
                    50_001 + k as u16,
                    ts0.wrapping_add(k * TS_STEP),
                    at + PTIME * k,
                )
            }),
        );
        assert!(v.iter().all(|&v| v == SeqVerdict::Valid));
        let snap = s.snapshot();
        assert_eq!((snap.received, snap.expected, snap.lost), (50, 50, 0));
        // The new timestamp base is no jitter: the transit reference was reset.
        assert_eq!(snap.jitter_ts, 0);
        // The packet that preceded the resync (50_000) is known.
        assert_eq!(
            s.on_packet(50_000, ts0.wrapping_sub(TS_STEP), t0 + at),
            SeqVerdict::Duplicate
        );
    }

    /// Iterates RFC 3550 A.8 `J += (|D| - J) / 16` in f64 and returns J after each packet.
    ///
    /// `pkts` are (RTP timestamp relative to the first packet, unwrapped; arrival). The arrival
    /// clock is anchored at `pkts[0]`, as in the receiver, but packet 0 is on probation: the
    /// first transit sample is packet 1's, the first update packet 2's.
    fn reference_jitter(clock: u32, pkts: &[(u64, Duration)]) -> Vec<f64> {
        let epoch = pkts[0].1;
        let mut prev: Option<f64> = None;
        let mut j = 0.0f64;
        let mut out = vec![0.0];
        for &(ts, at) in &pkts[1..] {
            let arrival = ((at - epoch).as_nanos() as f64 * f64::from(clock) / 1e9).floor();
            let transit = arrival - ts as f64;
            if let Some(p) = prev {
                j += ((transit - p).abs() - j) / 16.0;
            }
            prev = Some(transit);
            out.push(j);
        }
        out
    }

    #[test]
    fn jitter_follows_the_a8_recurrence() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        // Arrival deviates by +5 ms and -5 ms alternately from the 20 ms grid: |D| = 10 ms = 80
        // timestamp units at 8 kHz, so J tends to 80.
        let pkts: Vec<(u16, u32, Duration)> = (0..1000u32)
            .map(|k| {
                let at = Duration::from_millis(100) + PTIME * k;
                let at = if k % 2 == 0 {
                    at + Duration::from_millis(5)
                } else {
                    at - Duration::from_millis(5)
                };
                (k as u16, 7 + k * TS_STEP, at)
            })
            .collect();
        let rel: Vec<(u64, Duration)> = pkts
            .iter()
            .map(|&(_, ts, at)| (u64::from(ts - 7), at))
            .collect();
        let reference = reference_jitter(G711_CLOCK, &rel);

        for (i, &(seq, ts, at)) in pkts.iter().enumerate() {
            s.on_packet(seq, ts, t0 + at);
            let snap = s.snapshot();
            let expected = reference[i];
            // Each integer step rounds (j + 8) >> 4 by at most half a sixteenth of J's scale;
            // the error e' = (15/16) e + r, |r| <= 1/2 (in 16ths), stays within 8/16 = 0.5
            // timestamp units of the f64 recurrence.
            let q4 = snap.jitter_ts_q4 as f64 / 16.0;
            assert!(
                (q4 - expected).abs() <= 0.5 + 1e-9,
                "packet {i}: {q4} vs {expected}"
            );
            assert!(
                (f64::from(snap.jitter_ts) - expected).abs() < 1.5,
                "packet {i}: {} vs {expected}",
                snap.jitter_ts
            );
            // Microseconds from timestamp units and the clock rate.
            assert_eq!(
                snap.jitter_us,
                u64::from(snap.jitter_ts) * 1_000_000 / u64::from(G711_CLOCK)
            );
        }
        let snap = s.snapshot();
        let j = reference[reference.len() - 1];
        assert!(
            (j - 80.0).abs() < 1e-6,
            "the recurrence converges to |D| = 80: {j}"
        );
        // The integer estimator settles where (j + 8) >> 4 == 80, i.e. 79.5..80.5 units; the
        // RR value is its integer part.
        assert!(
            (1272..=1287).contains(&snap.jitter_ts_q4),
            "{}",
            snap.jitter_ts_q4
        );
        assert_eq!(snap.jitter_ts, 79);
        assert_eq!(snap.jitter_us, 79 * 125, "one unit is 125 us at 8 kHz");
        assert_eq!((snap.lost, snap.received), (0, 999));
    }

    #[test]
    fn jitter_at_90khz_with_random_delay_tracks_the_recurrence() {
        let t0 = Instant::now();
        let clock = 90_000;
        let mut rng = StdRng::seed_from_u64(0x5eed_0a08);
        let mut s = RtpReceiveStats::new(clock);
        let ts0 = 0xffff_0000_u32; // wraps during the test
        let mut rel = Vec::new();
        for k in 0..3000u32 {
            // 30 fps, 3000 ticks per frame, with 0..40 ms of random network delay.
            let at =
                Duration::from_micros(33_333) * k + Duration::from_micros(rng.gen_range(0..40_000));
            s.on_packet(k as u16, ts0.wrapping_add(k * 3000), t0 + at);
            rel.push((u64::from(k) * 3000, at));
        }
        let reference = reference_jitter(clock, &rel);
        let j = reference[reference.len() - 1];
        let snap = s.snapshot();
        let q4 = snap.jitter_ts_q4 as f64 / 16.0;
        assert!((q4 - j).abs() <= 0.5 + 1e-9, "{q4} vs {j}");
        // Uniform 0..40 ms delay: E|D| = 40/3 ms = 1200 units at 90 kHz; the estimate is near.
        assert!((800.0..1600.0).contains(&j), "{j}");
        assert_eq!(
            snap.jitter_us,
            u64::from(snap.jitter_ts) * 1_000_000 / 90_000
        );
    }

    #[test]
    fn arrival_converts_to_timestamp_units_exactly() {
        assert_eq!(duration_to_ts(PTIME, 8000), 160);
        assert_eq!(duration_to_ts(Duration::from_nanos(124_999), 8000), 0);
        assert_eq!(duration_to_ts(Duration::from_nanos(125_000), 8000), 1);
        assert_eq!(duration_to_ts(Duration::from_secs(1), 90_000), 90_000);
        // A day at 90 kHz wraps the 32-bit timestamp: 7_776_000_000 mod 2^32.
        assert_eq!(
            duration_to_ts(Duration::from_secs(86_400), 90_000),
            3_481_032_704
        );
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..10_000 {
            let d = Duration::from_nanos(rng.gen_range(0..400 * 86_400 * NANOS_PER_SEC));
            let clock = match rng.gen_range(0..3) {
                0 => 8000,
                1 => 90_000,
                _ => rng.gen_range(1..=u32::MAX),
            };
            let exact = d.as_nanos() * u128::from(clock) / u128::from(NANOS_PER_SEC);
            assert_eq!(
                duration_to_ts(d, clock),
                exact as u32,
                "{d:?} at {clock} Hz"
            );
        }
        assert_eq!(duration_to_ts(Duration::MAX, u32::MAX), {
            let exact = Duration::MAX.as_nanos() * u128::from(u32::MAX) / 1_000_000_000;
            exact as u32
        });
    }

    #[test]
    fn interval_reports_advance_the_priors() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(G711_CLOCK);
        // Interval 1: seq 0..=100 without 10, 20, ..., 90.
        feed(
            &mut s,
            t0,
            (0..=100)
                .filter(|k| *k == 0 || k % 10 != 0 || *k == 100)
                .map(|k| clean(0, 0, k)),
        );
        let r1 = s.interval_report();
        // Base 1, highest 100: 100 expected; 10, 20, ..., 90 lost.
        assert_eq!(
            (
                r1.expected_in_interval,
                r1.received_in_interval,
                r1.lost_in_interval
            ),
            (100, 91, 9)
        );
        assert_eq!(r1.fraction_lost_q8, 23, "(9 << 8) / 100");
        // Interval 2: 100 clean packets.
        feed(&mut s, t0, (101..=200).map(|k| clean(0, 0, k)));
        let r2 = s.interval_report();
        assert_eq!(
            r2,
            IntervalReport {
                fraction_lost_q8: 0,
                lost_in_interval: 0,
                expected_in_interval: 100,
                received_in_interval: 100,
            }
        );
        // Interval 3: nothing arrived.
        assert_eq!(s.interval_report(), IntervalReport::default());
        // Interval 4: half of 200 lost (every other packet).
        feed(
            &mut s,
            t0,
            (201..=400).filter(|k| k % 2 == 0).map(|k| clean(0, 0, k)),
        );
        let r4 = s.interval_report();
        assert_eq!((r4.expected_in_interval, r4.lost_in_interval), (200, 100));
        assert_eq!(r4.fraction_lost_q8, 128);
        // The cumulative figures are the sum of the intervals.
        let snap = s.snapshot();
        assert_eq!(snap.expected, 400);
        assert_eq!(snap.lost, 9 + 100);
        // Only late packets in an interval: negative loss, fraction 0.
        assert_eq!(s.on_packet(399, 0, t0), SeqVerdict::Misordered);
        let r5 = s.interval_report();
        assert_eq!(
            (
                r5.expected_in_interval,
                r5.lost_in_interval,
                r5.fraction_lost_q8
            ),
            (0, -1, 0)
        );
    }

    #[test]
    fn random_streams_never_panic_and_count_at_most_what_was_fed() {
        for seed in 0..32u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let t0 = Instant::now() + Duration::from_secs(3600);
            let clock = match seed % 4 {
                0 => 8000,
                1 => 48_000,
                2 => 90_000,
                _ => rng.gen(),
            };
            let mut s = RtpReceiveStats::new(clock);
            let mut seq: u16 = rng.gen();
            let mut ts: u32 = rng.gen();
            let mut at = Duration::ZERO;
            let mut fed = 0u64;
            let mut counted = 0u64;
            let n = rng.gen_range(1..5000);
            for _ in 0..n {
                match rng.gen_range(0..10) {
                    0 => seq = rng.gen(),
                    1 => seq = seq.wrapping_sub(rng.gen_range(0..200)),
                    2 => seq = seq.wrapping_add(rng.gen_range(0..4000)),
                    _ => seq = seq.wrapping_add(1),
                }
                ts = match rng.gen_range(0..8) {
                    0 => rng.gen(),
                    _ => ts.wrapping_add(rng.gen_range(0..10_000)),
                };
                at += Duration::from_micros(rng.gen_range(0..100_000));
                // Sometimes far in the past (before the first packet) or far in the future.
                let arrival = match rng.gen_range(0..50) {
                    0 => t0 - Duration::from_secs(rng.gen_range(0..3600)),
                    1 => t0 + Duration::from_secs(rng.gen_range(0..100 * 86_400)),
                    _ => t0 + at,
                };
                let v = s.on_packet(seq, ts, arrival);
                fed += 1;
                counted += u64::from(v.counted());
                let snap = s.snapshot();
                assert!(snap.received <= fed);
                assert!(snap.received <= counted);
                assert!(snap.lost_rr >= -0x80_0000 && snap.lost_rr <= 0x7f_ffff);
                assert_eq!(snap.valid, s.is_valid());
                if rng.gen_range(0..50) == 0 {
                    let r = s.interval_report();
                    assert!(r.received_in_interval <= fed);
                    if r.lost_in_interval <= 0 {
                        assert_eq!(r.fraction_lost_q8, 0);
                    }
                }
            }
            let snap = s.snapshot();
            assert!(snap.received <= fed, "seed {seed}");
            assert_eq!(
                snap.not_counted + counted,
                fed,
                "seed {seed}: every packet is counted or not"
            );
        }
    }

    #[test]
    fn seq_verdicts_say_whether_they_count() {
        assert!(SeqVerdict::Valid.counted());
        assert!(SeqVerdict::Misordered.counted());
        assert!(SeqVerdict::Duplicate.counted());
        assert!(SeqVerdict::Restarted.counted());
        assert!(!SeqVerdict::Probation.counted());
        assert!(!SeqVerdict::BadSequence.counted());
    }

    #[test]
    fn zero_clock_rate_does_not_divide_by_zero() {
        let t0 = Instant::now();
        let mut s = RtpReceiveStats::new(0);
        assert_eq!(s.clock_rate(), 1);
        feed(&mut s, t0, (0..10).map(|k| clean(0, 0, k)));
        let _ = s.snapshot();
    }

    #[test]
    fn drop_reasons_have_unique_snake_case_labels() {
        assert_eq!(DropReason::ALL.len(), DropReason::COUNT);
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}");
            let l = r.label();
            assert!(!l.is_empty());
            assert!(
                l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{l}"
            );
            assert!(!l.starts_with('_') && !l.ends_with('_'), "{l}");
            assert_eq!(r.to_string(), l);
            for other in &DropReason::ALL[i + 1..] {
                assert_ne!(l, other.label());
            }
        }
        assert_eq!(DropReason::AuthFail.label(), "auth_fail");
        assert_eq!(DropReason::UnexpectedSource.label(), "unexpected_source");
    }

    #[test]
    fn srtp_errors_map_to_drop_reasons() {
        use srtp::Error as E;
        let all = [
            E::TooShort,
            E::BadHeader,
            E::AuthFail,
            E::Replay,
            E::UnknownMki,
            E::BufferTooSmall,
            E::TooManyStreams,
            E::KeyExhausted,
        ];
        for e in all {
            let r = DropReason::from(e);
            if e == E::BufferTooSmall {
                assert_eq!(r, DropReason::Other);
            } else {
                // Same label as the SRTP counter.
                assert_eq!(r.label(), e.reason(), "{e:?}");
            }
        }
        assert_eq!(DropReason::from(E::KeyExhausted), DropReason::KeyExhausted);
        assert_eq!(DropReason::from(E::AuthFail), DropReason::AuthFail);
    }

    #[test]
    fn flow_counters_count_packets_bytes_and_drops() {
        let t0 = Instant::now();
        let mut c = FlowCounters::default();
        assert_eq!(c, FlowCounters::new());
        assert_eq!(
            (c.packets, c.bytes, c.last_packet, c.drops.total()),
            (0, 0, None, 0)
        );
        for k in 0..10u32 {
            c.on_packet(172, t0 + PTIME * k);
        }
        c.on_drop(DropReason::AuthFail, t0 + PTIME * 10);
        c.on_drop(DropReason::AuthFail, t0 + PTIME * 11);
        c.on_drop(DropReason::Replay, t0 + PTIME * 12);
        assert_eq!((c.packets, c.bytes), (10, 1720));
        assert_eq!(
            c.last_packet,
            Some(t0 + PTIME * 9),
            "drops do not refresh the flow"
        );
        assert_eq!(c.last_drop, Some(t0 + PTIME * 12));
        assert_eq!(c.drops.get(DropReason::AuthFail), 2);
        assert_eq!(c.drops.get(DropReason::Replay), 1);
        assert_eq!(c.drops.get(DropReason::TooShort), 0);
        assert_eq!(c.drops.total(), 3);
        let listed: Vec<(DropReason, u64)> = c.drops.iter().collect();
        assert_eq!(listed.len(), DropReason::COUNT);
        assert_eq!(c.drops.iter().len(), DropReason::COUNT);
        assert!(listed.iter().map(|&(r, _)| r).eq(DropReason::ALL));
        let nonzero: Vec<(&str, u64)> = (&c.drops)
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|(r, n)| (r.label(), n))
            .collect();
        assert_eq!(nonzero, [("auth_fail", 2), ("replay", 1)]);
        assert_eq!(listed.iter().map(|&(_, n)| n).sum::<u64>(), c.drops.total());
    }
}
