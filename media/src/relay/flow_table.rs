//! The relay's lookup tables, on the path of every datagram: which leg a local port belongs to,
//! and which leg a multiplex id names on a multiplexed port.
//!
//! - [`PortTable`]: one entry per UDP port (65,536 × 4 bytes = 256 KiB per relay), so finding
//!   a port's owner is one indexed load, with no hashing.
//! - [`MuxTable`]: a hash map keyed by (port, multiplex id) with [`IdHasher`], a multiply-based
//!   hasher instead of SipHash. Keyed hashing guards a table against keys an attacker chooses;
//!   here the keys are the multiplex ids this node handed out (or its peer edge did, over the
//!   authenticated traversal link), so a datagram with a made-up id is one probe that finds
//!   nothing, and cannot make chains longer.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// How a local port is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortUse {
    /// The port belongs to one leg (RTP, RTCP, or both with RTCP multiplexing).
    Leg(u32),
    /// A multiplexed port: the multiplex id names the leg.
    Mux,
}

/// No use.
const EMPTY: u32 = 0;
/// A multiplexed port.
const MUX: u32 = u32::MAX;

/// Local port → [`PortUse`], one slot per port. A leg index `i` is stored as `i + 1`.
pub(crate) struct PortTable {
    slots: Box<[u32]>,
    used: usize,
}

impl PortTable {
    pub(crate) fn new() -> PortTable {
        PortTable {
            slots: vec![EMPTY; 1 << 16].into_boxed_slice(),
            used: 0,
        }
    }

    pub(crate) fn get(&self, port: u16) -> Option<PortUse> {
        match self.slots.get(usize::from(port)).copied() {
            None | Some(EMPTY) => None,
            Some(MUX) => Some(PortUse::Mux),
            Some(v) => Some(PortUse::Leg(v - 1)),
        }
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        self.get(port).is_some()
    }

    /// Sets the use of `port`. A leg index must be below `u32::MAX - 1` (a relay holds at most
    /// a few hundred thousand legs).
    pub(crate) fn insert(&mut self, port: u16, u: PortUse) {
        let v = match u {
            PortUse::Mux => MUX,
            PortUse::Leg(i) => i.saturating_add(1).min(MUX - 1),
        };
        if let Some(s) = self.slots.get_mut(usize::from(port)) {
            if *s == EMPTY {
                self.used += 1;
            }
            *s = v;
        }
    }

    pub(crate) fn remove(&mut self, port: u16) {
        if let Some(s) = self.slots.get_mut(usize::from(port)) {
            if *s != EMPTY {
                self.used -= 1;
            }
            *s = EMPTY;
        }
    }

    /// Ports in use.
    pub(crate) fn len(&self) -> usize {
        self.used
    }
}

/// (multiplexed port, multiplex id) → leg index.
pub(crate) type MuxTable = HashMap<(u16, u32), u32, BuildHasherDefault<IdHasher>>;

/// A fast, unkeyed hasher for small integer keys (see the module docs for why unkeyed is
/// safe here): each word is mixed in with a rotate, xor and multiply by an odd constant.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    fn mix(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }

    fn write_u16(&mut self, v: u16) {
        self.mix(u64::from(v));
    }

    fn write_u32(&mut self, v: u32) {
        self.mix(u64::from(v));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn ports_map_to_their_use() {
        let mut t = PortTable::new();
        assert_eq!(t.get(36000), None);
        t.insert(36000, PortUse::Mux);
        t.insert(36002, PortUse::Leg(0));
        t.insert(65535, PortUse::Leg(7));
        t.insert(0, PortUse::Leg(3));
        assert_eq!(t.get(36000), Some(PortUse::Mux));
        assert_eq!(t.get(36002), Some(PortUse::Leg(0)));
        assert_eq!(t.get(65535), Some(PortUse::Leg(7)));
        assert_eq!(t.get(0), Some(PortUse::Leg(3)));
        assert_eq!(t.len(), 4);
        t.insert(36002, PortUse::Leg(9));
        assert_eq!((t.get(36002), t.len()), (Some(PortUse::Leg(9)), 4));
        t.remove(36002);
        t.remove(36002);
        t.remove(1);
        assert_eq!((t.get(36002), t.len()), (None, 3));
        assert!(t.contains(36000) && !t.contains(36001));
    }

    #[test]
    fn sequential_ids_spread_over_buckets() {
        // Ids handed out one after another on one port must not pile up in a few buckets:
        // look at the low bits (bucket index) and the top 7 bits (hashbrown's tag).
        let b = BuildHasherDefault::<IdHasher>::default();
        let mut low = std::collections::HashSet::new();
        let mut top = std::collections::HashSet::new();
        for id in 1..=1024u32 {
            let h = b.hash_one((36000u16, id));
            low.insert(h & 1023);
            top.insert(h >> 57);
        }
        assert!(low.len() > 600, "{} distinct low-bit buckets", low.len());
        assert_eq!(top.len(), 128, "every tag value used");
        let mut m: MuxTable = MuxTable::default();
        for id in 1..=1000u32 {
            m.insert((36000, id), id * 2);
        }
        assert_eq!(m.get(&(36000, 500)), Some(&1000));
        assert_eq!(m.get(&(36001, 500)), None);
    }
}
