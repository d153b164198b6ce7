//! Packet index estimation (RFC 3711 §3.3.1, Appendix A) and the replay list (§3.3.2).
//!
//! The replay list is a circular bitmap indexed by `index mod 2^k`: checking and accepting a
//! packet costs the same whatever the window size.

use super::Error;

/// Smallest and largest replay window, in packets.
pub const MIN_REPLAY_WINDOW: usize = 64;
/// Largest replay window, in packets.
pub const MAX_REPLAY_WINDOW: usize = 32768;

/// A replay window over 48-bit (SRTP) or 31-bit (SRTCP) packet indices.
#[derive(Clone, Debug)]
pub(crate) struct ReplayWindow {
    /// Bit `i mod (64 * bits.len())` is set when index `i` (within the window) was accepted.
    bits: Box<[u64]>,
    /// Storage bits minus one (storage is a power of two).
    mask: u64,
    /// The configured window: indices `highest - size < i <= highest` are tracked.
    size: u64,
    /// Highest accepted index; meaningless until `started`.
    highest: u64,
    started: bool,
}

impl ReplayWindow {
    /// A window of `size` packets (callers check 64..=32768).
    pub(crate) fn new(size: usize) -> ReplayWindow {
        let size = size.clamp(MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW);
        let storage = size.next_power_of_two();
        ReplayWindow {
            bits: vec![0u64; storage / 64].into_boxed_slice(),
            mask: (storage - 1) as u64,
            size: size as u64,
            highest: 0,
            started: false,
        }
    }

    /// The highest accepted index, if any packet was accepted.
    pub(crate) fn highest(&self) -> Option<u64> {
        self.started.then_some(self.highest)
    }

    /// Whether `index` may be accepted: not seen before and not older than the window.
    #[inline]
    pub(crate) fn check(&self, index: u64) -> Result<(), Error> {
        if !self.started || index > self.highest {
            return Ok(());
        }
        if self.highest - index >= self.size {
            return Err(Error::Replay);
        }
        let pos = index & self.mask;
        let word = self.bits[(pos / 64) as usize];
        if word & (1u64 << (pos % 64)) != 0 {
            Err(Error::Replay)
        } else {
            Ok(())
        }
    }

    /// Records `index` as received. Call only after [`Self::check`] passed and the packet
    /// authenticated.
    #[inline]
    pub(crate) fn accept(&mut self, index: u64) {
        if !self.started {
            self.started = true;
            self.bits.fill(0);
            self.highest = index;
        } else if index > self.highest {
            let advance = index - self.highest;
            if advance > self.mask {
                self.bits.fill(0);
            } else {
                self.clear(self.highest.wrapping_add(1) & self.mask, advance);
            }
            self.highest = index;
        }
        let pos = index & self.mask;
        self.bits[(pos / 64) as usize] |= 1u64 << (pos % 64);
    }

    /// Clears `count` bit positions starting at `pos`, wrapping around the storage.
    fn clear(&mut self, mut pos: u64, mut count: u64) {
        while count > 0 {
            let bit = pos % 64;
            let n = (64 - bit).min(count);
            let m = if n == 64 {
                u64::MAX
            } else {
                ((1u64 << n) - 1) << bit
            };
            self.bits[(pos / 64) as usize] &= !m;
            count -= n;
            pos = (pos + n) & self.mask;
        }
    }
}

/// Estimates the 48-bit SRTP index of a packet with sequence number `seq`, given the highest index
/// accepted so far (RFC 3711 §3.3.1). `None` when the packet would lie before index 0 (a packet
/// from before the first one received, with the rollover counter still at 0).
#[inline]
pub(crate) fn estimate_index(highest: Option<u64>, seq: u16) -> Option<u64> {
    let Some(highest) = highest else {
        return Some(u64::from(seq));
    };
    let roc = highest >> 16;
    let s_l = (highest & 0xffff) as i64;
    let s = i64::from(seq);
    let v = if s_l < 32768 {
        if s - s_l > 32768 {
            roc.checked_sub(1)?
        } else {
            roc
        }
    } else if s_l - 32768 > s {
        roc + 1
    } else {
        roc
    };
    Some((v << 16) | u64::from(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_follows_rfc3711_appendix_a() {
        assert_eq!(estimate_index(None, 5), Some(5));
        // No wrap.
        assert_eq!(estimate_index(Some(100), 101), Some(101));
        assert_eq!(estimate_index(Some(100), 90), Some(90));
        // Forward across the wrap: s_l high, seq low -> ROC + 1.
        assert_eq!(estimate_index(Some(65535), 0), Some(1 << 16));
        assert_eq!(estimate_index(Some(65530), 3), Some((1 << 16) | 3));
        // Late packet from before the wrap: s_l low, seq high -> ROC - 1.
        assert_eq!(estimate_index(Some((1 << 16) | 2), 65534), Some(65534));
        // ... but never before index 0.
        assert_eq!(estimate_index(Some(2), 65534), None);
        // Large ROC.
        let h = (0xffff_fffe_u64 << 16) | 65535;
        assert_eq!(
            estimate_index(Some(h), 1),
            Some((0xffff_ffff_u64 << 16) | 1)
        );
    }

    #[test]
    fn window_rejects_repeats_and_old() {
        let mut w = ReplayWindow::new(128);
        w.check(1000).unwrap();
        w.accept(1000);
        assert_eq!(w.check(1000), Err(Error::Replay));
        w.check(999).unwrap();
        w.accept(999);
        assert_eq!(w.check(999), Err(Error::Replay));
        w.check(1000 - 127).unwrap();
        assert_eq!(
            w.check(1000 - 128),
            Err(Error::Replay),
            "outside the window"
        );
        w.check(1001).unwrap();
        w.accept(1005);
        w.check(1001).unwrap();
        w.check(1004).unwrap();
        assert_eq!(w.check(999), Err(Error::Replay));
        assert_eq!(w.highest(), Some(1005));
    }

    #[test]
    fn window_bits_are_cleared_when_sliding() {
        // After sliding by almost the whole storage, old positions must not read as seen.
        for size in [64usize, 100, 128, 1024, 4096] {
            let mut w = ReplayWindow::new(size);
            for i in 0..(size as u64) {
                w.accept(i);
            }
            let storage = size.next_power_of_two() as u64;
            for step in [1u64, 3, 63, 64, 65, storage - 1, storage, storage + 1] {
                let top = w.highest().unwrap() + step;
                w.accept(top);
                for back in 1..(size as u64).min(step) {
                    assert!(
                        w.check(top - back).is_ok(),
                        "size {size} step {step}: {back} back should be unseen"
                    );
                }
            }
        }
    }

    #[test]
    fn window_matches_a_set_model() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for size in [64usize, 128, 200, 1024] {
            let mut w = ReplayWindow::new(size);
            let mut seen = std::collections::BTreeSet::new();
            let mut highest: Option<u64> = None;
            let mut base = 1_000_000u64;
            for _ in 0..20_000 {
                if rng.gen_ratio(1, 50) {
                    base += rng.gen_range(0..3000);
                }
                let i = base + rng.gen_range(0..(size as u64 * 2)) - size as u64;
                let expected_ok = match highest {
                    None => true,
                    Some(h) => i > h || (h - i < size as u64 && !seen.contains(&i)),
                };
                assert_eq!(w.check(i).is_ok(), expected_ok, "size {size} index {i}");
                if expected_ok {
                    w.accept(i);
                    seen.insert(i);
                    highest = Some(highest.map_or(i, |h| h.max(i)));
                }
            }
        }
    }
}
