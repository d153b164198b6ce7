//! The transaction timers (RFC 3261 §17 and the table of Appendix A, RFC 6026 §7.1 and §7.2 for
//! Timers L and M) and how long each one runs.
//!
//! | timer | machine | duration | what it does |
//! |---|---|---|---|
//! | A | INVITE client | T1, doubling; unreliable only | retransmit the INVITE |
//! | B | INVITE client | 64·T1 | give up waiting for a response |
//! | D | INVITE client | max(32 s, 64·T1); 0 reliable | absorb final response retransmissions |
//! | E | non-INVITE client | T1, doubling to T2; unreliable only | retransmit the request |
//! | F | non-INVITE client | 64·T1 | give up waiting for a final response |
//! | K | non-INVITE client | T4; 0 reliable | absorb response retransmissions |
//! | M | INVITE client | 64·T1 | pass further 2xx to the TU (RFC 6026) |
//! | G | INVITE server | T1, doubling to T2; unreliable only | retransmit the non-2xx final |
//! | H | INVITE server | 64·T1 | give up waiting for the ACK |
//! | I | INVITE server | T4; 0 reliable | absorb ACK retransmissions |
//! | J | non-INVITE server | 64·T1; 0 reliable | absorb request retransmissions |
//! | L | INVITE server | 64·T1 | absorb INVITE retransmissions after a 2xx (RFC 6026) |
//! | Trying | INVITE server | 200 ms by default, optional | send 100 Trying for a slow TU (§17.2.1) |
//!
//! A timer whose duration is zero is not armed: the transaction moves on at once (RFC 3261
//! §17.1.1.2: "Timer D … zero seconds for reliable transports").

use std::time::{Duration, Instant};

/// T1, T2 and T4 (RFC 3261 §17.1.1.1, §17.1.2.2, Appendix A); every other timer follows from
/// them. A timer that would be armed for zero (T1 or T2 set to zero) runs for 1 ms instead, so
/// that a retransmission timer cannot fire forever at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// The round-trip time estimate: the first retransmission interval. RFC default 500 ms.
    pub t1: Duration,
    /// The longest retransmission interval of non-INVITE requests and INVITE final responses.
    /// RFC default 4 s.
    pub t2: Duration,
    /// The longest time a message stays in the network. RFC default 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// The shortest interval a timer is armed for.
pub(super) const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Timer D's floor for unreliable transports (RFC 3261 §17.1.1.2: "at least 32 seconds").
const TIMER_D_MIN: Duration = Duration::from_secs(32);

impl TimerConfig {
    /// 64·T1: Timers B, F, H, L and M, and J on unreliable transports.
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: max(32 s, 64·T1) on unreliable transports (long enough to see every
    /// retransmission the server sends before its Timer H fires), zero on reliable ones.
    pub fn timer_d(&self, reliability: Reliability) -> Duration {
        match reliability {
            Reliability::Unreliable => self.timeout().max(TIMER_D_MIN),
            Reliability::Reliable => Duration::ZERO,
        }
    }

    /// Timers I and K: T4 on unreliable transports, zero on reliable ones.
    pub fn timer_i_k(&self, reliability: Reliability) -> Duration {
        match reliability {
            Reliability::Unreliable => self.t4,
            Reliability::Reliable => Duration::ZERO,
        }
    }

    /// Timer J: 64·T1 on unreliable transports, zero on reliable ones.
    pub fn timer_j(&self, reliability: Reliability) -> Duration {
        match reliability {
            Reliability::Unreliable => self.timeout(),
            Reliability::Reliable => Duration::ZERO,
        }
    }
}

/// Whether the transport a transaction sends on delivers reliably. Over an unreliable transport
/// the transaction retransmits (Timers A, E, G) and waits for stray retransmissions before it ends
/// (Timers D, I, J, K); over a reliable one it does neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// UDP.
    Unreliable,
    /// TCP, TLS, SCTP, WebSocket.
    Reliable,
}

impl Reliability {
    /// The reliability of a Via transport: UDP and unknown transports are unreliable (a needless
    /// retransmission does less harm than a missing one), every other known one is reliable.
    pub fn of(transport: &crate::sip::Transport) -> Self {
        use crate::sip::Transport;
        match transport {
            Transport::Udp | Transport::Other(_) => Reliability::Unreliable,
            Transport::Tcp
            | Transport::Tls
            | Transport::Sctp
            | Transport::TlsSctp
            | Transport::Ws
            | Transport::Wss => Reliability::Reliable,
        }
    }
}

/// The timers, named as in RFC 3261 (and RFC 6026 for L and M).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE client: retransmit the INVITE.
    A,
    /// INVITE client: no response in time; the TU gets [`Event::Timeout`](super::Event::Timeout).
    B,
    /// INVITE client: stop absorbing non-2xx final responses.
    D,
    /// Non-INVITE client: retransmit the request.
    E,
    /// Non-INVITE client: no final response in time; the TU gets a timeout.
    F,
    /// INVITE server: retransmit the non-2xx final response.
    G,
    /// INVITE server: no ACK in time; the TU gets a timeout.
    H,
    /// INVITE server: stop absorbing ACKs.
    I,
    /// Non-INVITE server: stop absorbing request retransmissions.
    J,
    /// Non-INVITE client: stop absorbing responses.
    K,
    /// INVITE server: stop absorbing INVITE retransmissions after a 2xx (RFC 6026).
    L,
    /// INVITE client: stop passing 2xx responses to the TU (RFC 6026).
    M,
    /// INVITE server: the TU has not answered; send 100 Trying (RFC 3261 §17.2.1).
    Trying,
}

impl Timer {
    /// Whether firing this timer ends the transaction or gives up on it; at a tie those fire
    /// before a retransmission (a retransmission at the moment of giving up helps nobody).
    fn ends(self) -> bool {
        !matches!(self, Timer::A | Timer::E | Timer::G | Timer::Trying)
    }
}

/// The armed timers of one transaction (at most three at a time).
#[derive(Clone, Debug, Default)]
pub(super) struct Timers {
    armed: Vec<(Timer, Instant)>,
}

impl Timers {
    /// Arms `timer` to fire `after` from `now`, replacing an earlier setting. A deadline beyond
    /// what `Instant` can hold never comes, so the timer stays unarmed; a zero `after` (a T1 or
    /// T2 configured as zero) is taken as [`MIN_INTERVAL`], so that a retransmission timer cannot
    /// fire forever at one instant.
    pub(super) fn arm(&mut self, timer: Timer, now: Instant, after: Duration) {
        self.cancel(timer);
        if let Some(at) = now.checked_add(after.max(MIN_INTERVAL)) {
            self.armed.push((timer, at));
        }
    }

    pub(super) fn cancel(&mut self, timer: Timer) {
        self.armed.retain(|(t, _)| *t != timer);
    }

    pub(super) fn clear(&mut self) {
        self.armed.clear();
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.armed.iter().map(|(_, at)| *at).min()
    }

    /// Disarms and returns the earliest timer due at `now`.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let (i, _) = self
            .armed
            .iter()
            .enumerate()
            .filter(|(_, (_, at))| *at <= now)
            .min_by_key(|(_, (t, at))| (*at, !t.ends()))?;
        Some(self.armed.swap_remove(i).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_rfc3261_appendix_a() {
        let c = TimerConfig::default();
        assert_eq!(c.timeout(), Duration::from_secs(32));
        assert_eq!(c.timer_d(Reliability::Unreliable), Duration::from_secs(32));
        assert_eq!(c.timer_d(Reliability::Reliable), Duration::ZERO);
        assert_eq!(c.timer_i_k(Reliability::Unreliable), Duration::from_secs(5));
        assert_eq!(c.timer_j(Reliability::Reliable), Duration::ZERO);
        let slow = TimerConfig {
            t1: Duration::from_secs(1),
            ..c
        };
        assert_eq!(
            slow.timer_d(Reliability::Unreliable),
            Duration::from_secs(64)
        );
        let huge = TimerConfig {
            t1: Duration::MAX,
            ..c
        };
        assert_eq!(huge.timeout(), Duration::MAX);
        let mut t = Timers::default();
        t.arm(Timer::B, Instant::now(), huge.timeout());
        assert_eq!(t.next(), None);
    }

    #[test]
    fn due_timers_pop_earliest_first_and_endings_win_ties() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.arm(Timer::E, t0, Duration::from_secs(2));
        t.arm(Timer::F, t0, Duration::from_secs(2));
        t.arm(Timer::K, t0, Duration::from_secs(1));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        let later = t0 + Duration::from_secs(3);
        assert_eq!(t.pop_due(later), Some(Timer::K));
        assert_eq!(t.pop_due(later), Some(Timer::F));
        assert_eq!(t.pop_due(later), Some(Timer::E));
        assert_eq!(t.pop_due(later), None);
        t.arm(Timer::A, t0, Duration::from_secs(1));
        t.arm(Timer::A, t0, Duration::from_secs(4));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(4)));
        t.clear();
        assert_eq!(t.next(), None);
    }
}
