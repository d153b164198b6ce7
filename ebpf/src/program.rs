//! The XDP program as built by `build.rs`: the object embedded in this crate.

/// The BPF ELF object (`bpf/portico_xdp.c` compiled by clang), 8-byte aligned as aya needs.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/portico_xdp.o"));

/// The program's name in the object: its C function.
pub const PROGRAM: &str = "portico_xdp";
