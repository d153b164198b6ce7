//! End-to-end and interop tests of portico. The tests live in `tests/tests/`:
//!
//! - `srtp_libsrtp2.rs`: our SRTP/SRTCP against libsrtp2, both directions, every suite.
//! - `packet_path_no_alloc.rs`: the SRTP and relay packet paths make no heap allocation
//!   (counting allocator).
//! - `relay_loopback.rs`: the media worker over loopback UDP.
//! - `relay_netns.rs`: the media plane between network namespaces joined by veths (remote
//!   clients outside, the edge, phones and the traversal peer inside), with nftables in the edge.
//! - `relay_gso.rs`: UDP GSO/GRO on a multiplexed traversal pair over veth, and the fallback.
//! - `xdp_netns.rs`: the XDP program attached in front of a two-worker plane: steering to the
//!   owning worker's CPU, drops at the driver, detaching at run time.
//! - `clients_kamailio.rs`, `clients_calls.rs`, `mra_register.rs`: real SIP clients (baresip,
//!   linphonec) in the lab, registering, messaging and calling with audio checked end to end.
//!
//! The library holds what those tests share: [`netns`], the network-namespace lab; [`clients`],
//! the real clients, the lab's Kamailio and packet captures; [`audio`], tones as WAV files and
//! their detection; and [`backends`].
#![forbid(unsafe_code)]

pub mod audio;
pub mod clients;
pub mod netns;

use media::runtime::{BackendChoice, Worker, WorkerConfig};

/// The media backends to run a test on: the socket fallback always, io_uring where the kernel
/// allows it (said on stderr when it does not). Decided once per test binary.
pub fn backends() -> &'static [BackendChoice] {
    static CHOICES: std::sync::OnceLock<Vec<BackendChoice>> = std::sync::OnceLock::new();
    CHOICES.get_or_init(|| {
        let mut v = vec![BackendChoice::Sockets];
        match Worker::spawn(WorkerConfig {
            backend: BackendChoice::Uring,
            ..WorkerConfig::default()
        }) {
            Ok(_) => v.push(BackendChoice::Uring),
            Err(e) => {
                eprintln!("io_uring unavailable here ({e}); testing the socket fallback only")
            }
        }
        v
    })
}
