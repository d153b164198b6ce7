//! End-to-end and interop tests of portico. The tests live in `tests/tests/`:
//!
//! - `srtp_libsrtp2.rs`: our SRTP/SRTCP against libsrtp2, both directions, every suite.
//! - `packet_path_no_alloc.rs`: the SRTP and relay packet paths make no heap allocation
//!   (counting allocator).
//! - `relay_loopback.rs`: the media worker over loopback UDP.
//! - `relay_netns.rs`: the media plane between network namespaces joined by veths (remote
//!   clients outside, the edge, phones and the traversal peer inside), with nftables in the edge.
//!
//! The library holds what those tests share: [`netns`], the network-namespace lab.
#![forbid(unsafe_code)]

pub mod netns;
