//! C's choice of E peer: failover order, reconnect backoff, return to the preferred peer.
//!
//! Sans-IO: [`PeerSelector`] is told what happened (`dial_succeeded`, `dial_failed`, `link_lost`,
//! …) with the time, and says what to do next ([`PeerSelector::poll_action`]) and when to ask
//! again ([`PeerSelector::poll_timeout`]). The driver owns sockets and timers.
//!
//! # Policy
//!
//! - Up to [`MAX_PEERS`] E peers, in configured order; the first is the most preferred. C keeps
//!   one live link.
//! - Without a link, C tries the peers in order, starting from the first. A peer that fails
//!   (refused, timed out, TLS or authentication refused) is followed at once by the next one; when
//!   every peer of the round has failed, C waits a backoff before the next round, which starts
//!   again from the first peer.
//! - Backoff after the n-th failed round in a row: `min · 2^(n-1)`, capped at `max`. With jitter
//!   on, the wait is drawn uniformly from `[d/2, d]` ("equal jitter"): C nodes that lost the same
//!   E do not come back in lockstep, and no wait is shorter than half the nominal one.
//! - A link that was lost after staying up for at least `stable_after` resets the backoff and the
//!   next round starts at once; a link lost sooner counts as a failed round (so a link that
//!   authenticates and then dies straight away cannot make C spin).
//! - Return to the preferred peer (our choice, documented here): when the live link is not to the
//!   first peer, C waits `return_to_preferred` and then tries the peers ahead of the live one, in
//!   order, one at a time, while the live link keeps working. If one of them authenticates, it
//!   becomes the live link and the driver drains the old one (GOAWAY(NO_ERROR): streams already
//!   open finish, new ones go to the new link) — make before break, so no call or request is cut
//!   to go back. If none does, C tries again after another `return_to_preferred`. `None` keeps
//!   the live link until it is lost. We do not fall back the moment the preferred peer answers a
//!   TCP connect: a peer is "back" only when it completes TLS and authentication, and the wait
//!   keeps a flapping preferred peer from pulling the link back and forth.

use std::time::{Duration, Instant};

/// The most E peers a C can be configured with.
pub const MAX_PEERS: usize = 6;

/// Reconnect backoff between failed rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed round.
    pub min: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Draw each wait from `[d/2, d]` rather than waiting exactly `d`.
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: true,
        }
    }
}

/// How C chooses among its E peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Backoff between failed rounds.
    pub backoff: Backoff,
    /// While live on a peer that is not the first, how long to wait before trying the peers
    /// ahead of it again; `None` stays on the live peer until its link is lost.
    pub return_to_preferred: Option<Duration>,
    /// A link up at least this long counts as healthy: losing it resets the backoff.
    pub stable_after: Duration,
}

impl Default for PeerPolicy {
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            return_to_preferred: Some(Duration::from_secs(60)),
            stable_after: Duration::from_secs(30),
        }
    }
}

/// A configuration the selector cannot work with (API misuse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerConfigError {
    /// No peers.
    NoPeers,
    /// More than [`MAX_PEERS`] peers.
    TooManyPeers(usize),
    /// `backoff.min` is zero or above `backoff.max`.
    BadBackoff,
}

impl core::fmt::Display for PeerConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoPeers => f.write_str("no E peer configured"),
            Self::TooManyPeers(n) => write!(f, "{n} E peers configured, at most {MAX_PEERS}"),
            Self::BadBackoff => f.write_str("backoff min must be non-zero and not above max"),
        }
    }
}

impl std::error::Error for PeerConfigError {}

/// What the driver should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Dial this peer (index into the configured list); no link is live.
    Dial {
        /// The peer's index.
        peer: usize,
    },
    /// Dial this more-preferred peer while the live link stays up; report with
    /// `preferred_succeeded` / `preferred_failed`.
    TryPreferred {
        /// The peer's index.
        peer: usize,
    },
}

/// Where the selector stands, for status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting to dial `peer` at `until` (backing off when `until` is in the future).
    Waiting {
        /// The next peer to dial.
        peer: usize,
        /// When.
        until: Instant,
    },
    /// Dialing `peer`.
    Dialing {
        /// The peer.
        peer: usize,
    },
    /// A link to `peer` is up.
    Live {
        /// The peer.
        peer: usize,
        /// Since when.
        since: Instant,
    },
}

#[derive(Clone, Copy, Debug)]
struct Preferred {
    due: Instant,
    next: usize,
    in_flight: Option<usize>,
}

/// C's peer selection and backoff state machine.
#[derive(Debug)]
pub struct PeerSelector {
    peers: usize,
    policy: PeerPolicy,
    rng: Rng,
    phase: Phase,
    failed_rounds: u32,
    preferred: Option<Preferred>,
}

impl PeerSelector {
    /// A selector over `peers` peers that will dial the first at `now`. `seed` feeds the jitter.
    pub fn new(
        peers: usize,
        policy: PeerPolicy,
        now: Instant,
        seed: u64,
    ) -> Result<Self, PeerConfigError> {
        if peers == 0 {
            return Err(PeerConfigError::NoPeers);
        }
        if peers > MAX_PEERS {
            return Err(PeerConfigError::TooManyPeers(peers));
        }
        if policy.backoff.min.is_zero() || policy.backoff.min > policy.backoff.max {
            return Err(PeerConfigError::BadBackoff);
        }
        Ok(Self {
            peers,
            policy,
            rng: Rng::new(seed),
            phase: Phase::Waiting {
                peer: 0,
                until: now,
            },
            failed_rounds: 0,
            preferred: None,
        })
    }

    /// Where the selector stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Failed rounds in a row (0 after a healthy link).
    pub fn failed_rounds(&self) -> u32 {
        self.failed_rounds
    }

    /// The peer a preferred-peer attempt is dialing, if any.
    pub fn preferred_in_flight(&self) -> Option<usize> {
        self.preferred.and_then(|p| p.in_flight)
    }

    /// What to do now, if anything. Call until it returns `None`, then wait for
    /// [`poll_timeout`](Self::poll_timeout) or a report.
    #[must_use]
    pub fn poll_action(&mut self, now: Instant) -> Option<Action> {
        match self.phase {
            Phase::Waiting { peer, until } if now >= until => {
                self.phase = Phase::Dialing { peer };
                Some(Action::Dial { peer })
            }
            Phase::Live { .. } => {
                let p = self.preferred.as_mut()?;
                if p.in_flight.is_none() && now >= p.due {
                    p.in_flight = Some(p.next);
                    Some(Action::TryPreferred { peer: p.next })
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// When [`poll_action`](Self::poll_action) may next have something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { until, .. } => Some(until),
            Phase::Live { .. } => self
                .preferred
                .filter(|p| p.in_flight.is_none())
                .map(|p| p.due),
            Phase::Dialing { .. } => None,
        }
    }

    /// The dial of `peer` ended in an authenticated link.
    pub fn dial_succeeded(&mut self, peer: usize, now: Instant) {
        if self.phase == (Phase::Dialing { peer }) {
            self.go_live(peer, now);
        }
    }

    /// The dial of `peer` failed (connect, TLS, authentication or timeout).
    pub fn dial_failed(&mut self, peer: usize, now: Instant) {
        if self.phase != (Phase::Dialing { peer }) {
            return;
        }
        if peer + 1 < self.peers {
            self.phase = Phase::Waiting {
                peer: peer + 1,
                until: now,
            };
        } else {
            self.failed_rounds = self.failed_rounds.saturating_add(1);
            let wait = self.next_wait();
            self.phase = Phase::Waiting {
                peer: 0,
                until: now + wait,
            };
        }
    }

    /// The live link to `peer` was lost. Any preferred-peer attempt in flight is forgotten: the
    /// driver cancels it.
    pub fn link_lost(&mut self, peer: usize, now: Instant) {
        let Phase::Live { peer: live, since } = self.phase else {
            return;
        };
        if live != peer {
            return;
        }
        self.preferred = None;
        let wait = if now.saturating_duration_since(since) >= self.policy.stable_after {
            self.failed_rounds = 0;
            Duration::ZERO
        } else {
            self.failed_rounds = self.failed_rounds.saturating_add(1);
            self.next_wait()
        };
        self.phase = Phase::Waiting {
            peer: 0,
            until: now + wait,
        };
    }

    /// The attempt on the more-preferred `peer` authenticated: it is now the live link. Returns
    /// the peer whose link the driver should drain.
    pub fn preferred_succeeded(&mut self, peer: usize, now: Instant) -> Option<usize> {
        let Phase::Live { peer: old, .. } = self.phase else {
            return None;
        };
        if self.preferred_in_flight() != Some(peer) {
            return None;
        }
        self.go_live(peer, now);
        Some(old)
    }

    /// The attempt on the more-preferred `peer` failed.
    pub fn preferred_failed(&mut self, peer: usize, now: Instant) {
        let Phase::Live { peer: live, .. } = self.phase else {
            return;
        };
        let Some(p) = self.preferred.as_mut() else {
            return;
        };
        if p.in_flight != Some(peer) {
            return;
        }
        p.in_flight = None;
        if peer + 1 < live {
            p.next = peer + 1;
            p.due = now;
        } else if let Some(every) = self.policy.return_to_preferred {
            p.next = 0;
            p.due = now + every;
        }
    }

    fn go_live(&mut self, peer: usize, now: Instant) {
        self.phase = Phase::Live { peer, since: now };
        self.preferred = match self.policy.return_to_preferred {
            Some(every) if peer > 0 => Some(Preferred {
                due: now + every,
                next: 0,
                in_flight: None,
            }),
            _ => None,
        };
    }

    /// The wait after `failed_rounds` failed rounds.
    fn next_wait(&mut self) -> Duration {
        let b = self.policy.backoff;
        let doublings = self.failed_rounds.saturating_sub(1).min(32);
        let nominal = b
            .min
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(b.max)
            .min(b.max);
        if b.jitter {
            let half = nominal / 2;
            let span = (nominal - half).as_nanos() as u64;
            half + Duration::from_nanos(self.rng.next_u64() % span.saturating_add(1))
        } else {
            nominal
        }
    }
}

/// xorshift64*: jitter and the tests' random input; not for anything secret.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: bool) -> PeerPolicy {
        PeerPolicy {
            backoff: Backoff {
                min: Duration::from_secs(1),
                max: Duration::from_secs(16),
                jitter,
            },
            return_to_preferred: Some(Duration::from_secs(60)),
            stable_after: Duration::from_secs(30),
        }
    }

    fn dial(sel: &mut PeerSelector, now: Instant) -> usize {
        match sel.poll_action(now) {
            Some(Action::Dial { peer }) => peer,
            other => panic!("expected a dial at {now:?}, got {other:?}"),
        }
    }

    #[test]
    fn config_is_checked() {
        let now = Instant::now();
        assert_eq!(
            PeerSelector::new(0, policy(false), now, 1).err(),
            Some(PeerConfigError::NoPeers)
        );
        assert_eq!(
            PeerSelector::new(7, policy(false), now, 1).err(),
            Some(PeerConfigError::TooManyPeers(7))
        );
        let mut p = policy(false);
        p.backoff.min = Duration::ZERO;
        assert_eq!(
            PeerSelector::new(1, p, now, 1).err(),
            Some(PeerConfigError::BadBackoff)
        );
        assert!(PeerSelector::new(MAX_PEERS, policy(false), now, 1).is_ok());
    }

    #[test]
    fn fails_over_in_order_then_backs_off_from_the_first() {
        let t0 = Instant::now();
        let mut sel = PeerSelector::new(3, policy(false), t0, 1).unwrap();
        assert_eq!(dial(&mut sel, t0), 0);
        assert_eq!(sel.poll_action(t0), None, "one dial at a time");
        sel.dial_failed(0, t0);
        assert_eq!(dial(&mut sel, t0), 1, "next peer at once");
        sel.dial_failed(1, t0);
        assert_eq!(dial(&mut sel, t0), 2);
        sel.dial_failed(2, t0);
        // Round over: wait min, then start from the first peer.
        assert_eq!(sel.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(sel.poll_action(t0 + Duration::from_millis(999)), None);
        assert_eq!(dial(&mut sel, t0 + Duration::from_secs(1)), 0);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut now = Instant::now();
        let mut sel = PeerSelector::new(2, policy(false), now, 1).unwrap();
        let mut waits = Vec::new();
        for _ in 0..8 {
            let p = dial(&mut sel, now);
            sel.dial_failed(p, now);
            let p = dial(&mut sel, now);
            sel.dial_failed(p, now);
            let until = sel.poll_timeout().unwrap();
            waits.push((until - now).as_secs());
            now = until;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 16, 16, 16]);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let mut now = Instant::now();
        let mut sel = PeerSelector::new(1, policy(true), now, 99).unwrap();
        let mut seen = std::collections::HashSet::new();
        for round in 1..=40u32 {
            let p = dial(&mut sel, now);
            sel.dial_failed(p, now);
            let until = sel.poll_timeout().unwrap();
            let wait = until - now;
            let nominal = Duration::from_secs(1u64 << (round - 1).min(4));
            assert!(
                wait >= nominal / 2 && wait <= nominal,
                "{wait:?} vs {nominal:?}"
            );
            seen.insert(wait);
            now = until;
        }
        assert!(seen.len() > 30, "waits are spread");
    }

    #[test]
    fn healthy_link_lost_reconnects_at_once_from_the_first_peer() {
        let t0 = Instant::now();
        let mut sel = PeerSelector::new(2, policy(false), t0, 1).unwrap();
        let p = dial(&mut sel, t0);
        sel.dial_failed(p, t0);
        let p = dial(&mut sel, t0);
        assert_eq!(p, 1);
        sel.dial_succeeded(1, t0);
        assert_eq!(sel.phase(), Phase::Live { peer: 1, since: t0 });
        let later = t0 + Duration::from_secs(45);
        sel.link_lost(1, later);
        assert_eq!(sel.failed_rounds(), 0);
        assert_eq!(dial(&mut sel, later), 0);
    }

    #[test]
    fn flapping_link_backs_off() {
        let mut now = Instant::now();
        let mut sel = PeerSelector::new(1, policy(false), now, 1).unwrap();
        let mut waits = Vec::new();
        for _ in 0..4 {
            let p = dial(&mut sel, now);
            sel.dial_succeeded(p, now);
            now += Duration::from_millis(10);
            sel.link_lost(p, now);
            let until = sel.poll_timeout().unwrap();
            waits.push((until - now).as_secs());
            now = until;
        }
        assert_eq!(waits, [1, 2, 4, 8]);
    }

    #[test]
    fn returns_to_the_preferred_peer_make_before_break() {
        let t0 = Instant::now();
        let mut sel = PeerSelector::new(3, policy(false), t0, 1).unwrap();
        for _ in 0..2 {
            let p = dial(&mut sel, t0);
            sel.dial_failed(p, t0);
        }
        assert_eq!(dial(&mut sel, t0), 2);
        sel.dial_succeeded(2, t0);
        // Nothing until return_to_preferred has passed.
        assert_eq!(sel.poll_timeout(), Some(t0 + Duration::from_secs(60)));
        assert_eq!(sel.poll_action(t0 + Duration::from_secs(59)), None);
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(sel.poll_action(t1), Some(Action::TryPreferred { peer: 0 }));
        assert_eq!(sel.poll_action(t1), None, "one attempt at a time");
        sel.preferred_failed(0, t1);
        assert_eq!(sel.poll_action(t1), Some(Action::TryPreferred { peer: 1 }));
        sel.preferred_failed(1, t1);
        // Every peer ahead failed: try again a period later, still live on 2.
        assert!(matches!(sel.phase(), Phase::Live { peer: 2, .. }));
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(sel.poll_timeout(), Some(t2));
        assert_eq!(sel.poll_action(t2), Some(Action::TryPreferred { peer: 0 }));
        assert_eq!(
            sel.preferred_succeeded(0, t2),
            Some(2),
            "drain the old link"
        );
        assert_eq!(sel.phase(), Phase::Live { peer: 0, since: t2 });
        assert_eq!(
            sel.poll_timeout(),
            None,
            "on the first peer: nothing to return to"
        );
    }

    #[test]
    fn no_return_when_disabled_and_lost_link_cancels_the_attempt() {
        let t0 = Instant::now();
        let mut p = policy(false);
        p.return_to_preferred = None;
        let mut sel = PeerSelector::new(2, p, t0, 1).unwrap();
        let d = dial(&mut sel, t0);
        sel.dial_failed(d, t0);
        let d = dial(&mut sel, t0);
        sel.dial_succeeded(d, t0);
        assert_eq!(sel.poll_timeout(), None);
        assert_eq!(sel.poll_action(t0 + Duration::from_secs(3600)), None);

        let mut sel = PeerSelector::new(2, policy(false), t0, 1).unwrap();
        let d = dial(&mut sel, t0);
        sel.dial_failed(d, t0);
        let d = dial(&mut sel, t0);
        sel.dial_succeeded(d, t0);
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(sel.poll_action(t1), Some(Action::TryPreferred { peer: 0 }));
        sel.link_lost(1, t1 + Duration::from_secs(1));
        assert_eq!(sel.preferred_in_flight(), None);
        // A late report of the cancelled attempt changes nothing.
        assert_eq!(sel.preferred_succeeded(0, t1), None);
        assert_eq!(dial(&mut sel, t1 + Duration::from_secs(1)), 0);
    }

    #[test]
    fn stale_reports_are_ignored() {
        let t0 = Instant::now();
        let mut sel = PeerSelector::new(2, policy(false), t0, 1).unwrap();
        sel.dial_failed(1, t0);
        sel.dial_succeeded(1, t0);
        sel.link_lost(0, t0);
        assert_eq!(sel.phase(), Phase::Waiting { peer: 0, until: t0 });
    }
}
