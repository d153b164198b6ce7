//! The types of the XDP program's map keys and values, as user space sees them.
//!
//! Each type mirrors a struct of `bpf/structs.h` field for field: `#[repr(C)]`, `Copy`, fixed-
//! width integers only (no `bool`: its padding and values are not the C side's). The sizes are
//! asserted at compile time here and in the C headers, and the `layout` test reads the program's
//! BTF and fails when a size or a field offset of the two sides differs.
//!
//! Map names are the C symbols of `bpf/maps.h`.

use aya::Pod;

/// `port_table`: UDP destination port → [`PortEntry`] (ARRAY of [`PORT_TABLE_SIZE`]).
pub const MAP_PORT_TABLE: &str = "port_table";
/// `cpu_map`: CPU → queue size (CPUMAP, sized to the possible CPUs at load).
pub const MAP_CPU_MAP: &str = "cpu_map";
/// `counters`: reason → [`VerdictCounter`] per CPU (PERCPU_ARRAY).
pub const MAP_COUNTERS: &str = "counters";
/// `ban_v4`: IPv4 source (network order, as a `u32` of its octets) → [`BanEntry`] (HASH).
pub const MAP_BAN_V4: &str = "ban_v4";
/// `ban_v6`: IPv6 source ([`SrcAddr`]) → [`BanEntry`] (HASH).
pub const MAP_BAN_V6: &str = "ban_v6";
/// `rate_buckets`: source ([`SrcAddr`], IPv4 mapped) → [`RateState`] (LRU_HASH).
pub const MAP_RATE_BUCKETS: &str = "rate_buckets";
/// `config`: 0 → [`Config`] (ARRAY of 1).
pub const MAP_CONFIG: &str = "config";

/// Entries of `port_table`: one per UDP port (`PORTICO_PORT_TABLE_SIZE`).
pub const PORT_TABLE_SIZE: u32 = 65_536;

/// [`PortEntry::state`]: the port is free (dropped inside the media range, passed outside).
pub const PORT_FREE: u32 = 0;
/// [`PortEntry::state`]: a flow's port; RTP, RTCP and STUN to it are steered to its CPU.
pub const PORT_ALLOCATED: u32 = 1;
/// [`PortEntry::state`]: a multiplexed traversal port; framed media and keepalives are steered.
pub const PORT_TRAVERSAL: u32 = 2;
/// [`PortEntry::state`]: released and waiting out its quarantine (dropped inside the range).
pub const PORT_QUARANTINED: u32 = 3;

/// [`Config::steering`]: redirect steered packets to their CPU.
pub const STEERING_ON: u32 = 1;
/// [`Config::steering`]: pass steered packets to the stack on the CPU that received them.
pub const STEERING_OFF: u32 = 0;

/// `struct port_entry`: the owner and state of one UDP port.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortEntry {
    /// The owning worker's CPU (the CPUMAP index); meaningful when allocated or traversal.
    pub cpu: u32,
    /// [`PORT_FREE`], [`PORT_ALLOCATED`], [`PORT_TRAVERSAL`] or [`PORT_QUARANTINED`].
    pub state: u32,
}

/// `struct portico_config`: the one entry of `config`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// First port of the media range.
    pub media_first: u16,
    /// Last port of the media range (inclusive).
    pub media_last: u16,
    /// [`STEERING_ON`] or [`STEERING_OFF`].
    pub steering: u32,
    /// Packets per second per source to the media range; 0 = no limit.
    pub rate_pps: u32,
    /// Packets a source may send at once above its rate (at least 1 when limited).
    pub rate_burst: u32,
}

/// `struct verdict_counter`: one reason's count on one CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerdictCounter {
    /// Frames.
    pub packets: u64,
    /// Bytes of those frames, Ethernet header included.
    pub bytes: u64,
}

/// `struct src_addr`: an IP source, IPv6 as is, IPv4 as `::ffff:a.b.c.d`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SrcAddr {
    /// The address in network order.
    pub addr: [u8; 16],
}

/// `struct ban_entry`: when a ban ends.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BanEntry {
    /// `CLOCK_MONOTONIC` time (what `bpf_ktime_get_ns` returns), in ns, at which the ban ends.
    pub expires_ns: u64,
}

/// `struct rate_state`: a source's rate-limit state (GCRA).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateState {
    /// Theoretical arrival time of the source's next conforming packet (`CLOCK_MONOTONIC` ns).
    pub tat_ns: u64,
}

// SAFETY: `#[repr(C)]`, two `u32`: no padding, every bit pattern is a valid value.
unsafe impl Pod for PortEntry {}
// SAFETY: `#[repr(C)]`, two `u16` then three `u32` (16 bytes, asserted): no padding, every bit
// pattern is a valid value.
unsafe impl Pod for Config {}
// SAFETY: `#[repr(C)]`, two `u64`: no padding, every bit pattern is a valid value.
unsafe impl Pod for VerdictCounter {}
// SAFETY: `#[repr(C)]`, a `[u8; 16]`: no padding, every bit pattern is a valid value.
unsafe impl Pod for SrcAddr {}
// SAFETY: `#[repr(C)]`, one `u64`: no padding, every bit pattern is a valid value.
unsafe impl Pod for BanEntry {}
// SAFETY: `#[repr(C)]`, one `u64`: no padding, every bit pattern is a valid value.
unsafe impl Pod for RateState {}

// The same sizes `bpf/structs.h` asserts; the `layout` test compares offsets against the BTF.
const _: () = assert!(core::mem::size_of::<PortEntry>() == 8);
const _: () = assert!(core::mem::size_of::<Config>() == 16);
const _: () = assert!(core::mem::size_of::<VerdictCounter>() == 16);
const _: () = assert!(core::mem::size_of::<SrcAddr>() == 16);
const _: () = assert!(core::mem::size_of::<BanEntry>() == 8);
const _: () = assert!(core::mem::size_of::<RateState>() == 8);

impl SrcAddr {
    /// The key of `ip`: IPv6 as is, IPv4 mapped into IPv6 (`::ffff:a.b.c.d`).
    pub fn new(ip: std::net::IpAddr) -> SrcAddr {
        let v6 = match ip {
            std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            std::net::IpAddr::V6(v6) => v6,
        };
        SrcAddr { addr: v6.octets() }
    }
}

/// The `ban_v4` key of `ip`: its octets in network order, read as a native `u32` (the C side
/// compares the `__be32` of the header bytes).
pub fn ban_v4_key(ip: std::net::Ipv4Addr) -> u32 {
    u32::from_ne_bytes(ip.octets())
}

#[cfg(test)]
#[path = "layout.rs"]
mod layout;
